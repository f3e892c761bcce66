"""`Annotations`: the one data model for labels.

Crowd labels are a sparse table of (task, worker, label) answers. They are stored coded, once:
three equal-length integer arrays plus the original identifiers, so that every method works on
dense integer codes and every result maps back to the user's ids. Validation happens here and
only here.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from crowdlearn import label_studio
from crowdlearn import labels as coding
from crowdlearn.errors import (
    CrowdlearnWarning,
    EmptyLabelsError,
    InputError,
    MissingColumnsError,
    RepeatedAnswersError,
    check_fraction,
    check_integer,
)
from crowdlearn.inputs import (
    JSON,
    PARQUET,
    SEPARATORS,
    TYPED,
    first_line,
    read_file,
    read_parquet,
    read_table,
    source_name,
    table_format,
)

Keep = Literal["error", "first", "last", "all"]
KEEP_CHOICES = ("error", "first", "last", "all")

__all__ = ["Annotations"]


class Annotations:
    """Answers of workers to tasks, coded as integers.

    Parameters
    ----------
    task, worker, label:
        Equal-length integer codes, one entry per answer: ``task[i]`` indexes ``tasks``,
        ``worker[i]`` indexes ``workers`` and ``label[i]`` indexes ``classes``.
    tasks, workers, classes:
        The original identifiers (any hashable). Default: ``range(max code + 1)``.
    keep:
        What to do with a (task, worker) pair answered more than once (real exports often
        hold some): ``"error"`` (default: refuse, naming the first repeat), keep the
        ``"first"`` or the ``"last"`` answer, or keep ``"all"`` of them as separate answers
        (what crowd-kit does; each repeat then counts as evidence).

    Every task must have at least one answer. Ids and labels are kept exactly as given (see
    :mod:`crowdlearn.labels`). Most users build this with :meth:`from_frame`,
    :meth:`from_csv`, :meth:`from_parquet`, :meth:`from_wide` or :meth:`from_labels`.
    """

    def __init__(
        self,
        task: Sequence[int] | np.ndarray,
        worker: Sequence[int] | np.ndarray,
        label: Sequence[int] | np.ndarray,
        *,
        tasks: Sequence[Hashable] | None = None,
        workers: Sequence[Hashable] | None = None,
        classes: Sequence[Hashable] | None = None,
        keep: Keep = "error",
    ) -> None:
        _check_keep(keep)
        task, worker, label = (_as_codes(a, name) for a, name in
                               ((task, "task"), (worker, "worker"), (label, "label")))
        if not (len(task) == len(worker) == len(label)):
            raise InputError(
                f"task, worker and label must have equal lengths, got {len(task)}, "
                f"{len(worker)} and {len(label)}"
            )
        if len(task) == 0:
            raise InputError("no answers: the annotations are empty")
        self._set(task, worker, label, _ids(tasks, task, "tasks"), _ids(workers, worker, "workers"),
                  _ids(classes, label, "classes"))
        self._check_codes()
        chosen = _kept_answers(self.task, self.worker, self.n_workers, keep,
                               self._describe_pair)
        if chosen is not None:
            self._set(self.task[chosen], self.worker[chosen], self.label[chosen], self.tasks,
                      self.workers, self.classes)

    @classmethod
    def _trusted(cls, task, worker, label, tasks: list, workers: list, classes: list,
                 ) -> Annotations:
        """Build from codes that a constructor of this class has already validated."""
        self = cls.__new__(cls)
        self._set(np.asarray(task), np.asarray(worker), np.asarray(label), tasks, workers,
                  classes)
        return self

    def _set(self, task, worker, label, tasks: list, workers: list, classes: list) -> None:
        self.tasks, self.workers, self.classes = tasks, workers, classes
        self.task = task.astype(np.int32, copy=False)
        self.worker = worker.astype(np.int32, copy=False)
        self.label = label.astype(np.int16 if len(classes) < 2**15 else np.int32, copy=False)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        task: str = "task",
        worker: str = "worker",
        label: str = "label",
        classes: Sequence[Hashable] | None = None,
        *,
        keep: Keep = "error",
        source: str | None = None,
    ) -> Annotations:
        """Build from a long table with one row per answer.

        ``classes`` declares the label set up front (a label outside it is an error naming the
        row); otherwise it is the categories of a ``Categorical`` column, or the sorted set of
        labels seen. ``keep`` decides what happens to a (task, worker) pair answered more than
        once (see :class:`Annotations`). ``source`` names the file in error messages.
        """
        where = _RowNamer(source, df.index)
        roles = {"task": task, "worker": worker, "label": label}
        shared = [r for r in roles if list(roles.values()).count(roles[r]) > 1]
        if shared:
            raise InputError(f"{where.origin}the {' and '.join(shared)} columns are both "
                             f"{roles[shared[0]]!r}: each role needs its own column")
        missing = [c for c in (task, worker, label) if c not in df.columns]
        if missing:
            raise MissingColumnsError(
                f"{where.origin}missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}; "
                f"columns found: {', '.join(map(repr, df.columns))}{_separator_hint(df)}"
                f"{_header_hint(df, missing)}{label_studio.flat_export_hint(df)}"
            )
        if len(df) == 0:
            raise InputError(f"{where.origin}no answers: the table has a header but no rows")
        _check_keep(keep)
        for col in (task, worker):
            _check_present(df[col], col, where)
        _check_present(df[label], label, where, error=EmptyLabelsError)
        t_codes, t_ids = coding.code(df[task], name=task, origin=where.origin, row=where.row,
                                     categories=False)
        w_codes, w_ids = coding.code(df[worker], name=worker, origin=where.origin,
                                     row=where.row, categories=False)
        l_codes, l_ids = coding.code(df[label], classes, name=label, origin=where.origin,
                                     row=where.row, warn_near=True)
        for ids, name in ((t_ids, task), (w_ids, worker)):
            _warn_blank_ids(ids, name, where.origin)

        def describe(i: int, j: int) -> str:
            return (f"{where.origin}task {t_ids[t_codes[i]]!r} was answered twice by worker "
                    f"{w_ids[w_codes[i]]!r} ({where.row(i)} and {where.row(j, bare=True)})")

        chosen = _kept_answers(t_codes, w_codes, len(w_ids), keep, describe)
        if chosen is not None:
            warn_dropped_repeats(where.origin, len(t_codes) - len(chosen), len(t_codes), keep,
                                 stacklevel=3)
            t_codes, w_codes, l_codes = t_codes[chosen], w_codes[chosen], l_codes[chosen]
        return cls._trusted(t_codes, w_codes, l_codes, t_ids, w_ids, l_ids)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        task: str = "task",
        worker: str = "worker",
        label: str = "label",
        classes: Sequence[Hashable] | None = None,
        *,
        keep: Keep = "error",
        **read_csv_kwargs,
    ) -> Annotations:
        """Read a long CSV (one answer a row; ``-`` reads standard input).

        Every cell is read as text, so ids and labels come back exactly as written (``00042``
        stays ``00042``; ``NA`` is a value, only an empty cell is missing). The separator is
        sniffed (comma, tab or semicolon) unless ``sep`` is given; other keywords go to
        :func:`pandas.read_csv`."""
        df = read_table(path, **read_csv_kwargs)
        return cls.from_frame(df, task, worker, label, classes, keep=keep,
                              source=f"{source_name(path)} (csv)")

    @classmethod
    def from_parquet(
        cls,
        path: str | Path,
        task: str = "task",
        worker: str = "worker",
        label: str = "label",
        classes: Sequence[Hashable] | None = None,
        *,
        keep: Keep = "error",
    ) -> Annotations:
        """Read a long Parquet file (one answer a row)."""
        path = Path(path)
        df = read_file(path, lambda p: _read_long_parquet(p, task, worker, label))
        return cls.from_frame(df, task, worker, label, classes, keep=keep, source=str(path))

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        layout: Literal["long", "wide"] = "long",
        task: str = "task",
        worker: str = "worker",
        label: str = "label",
        classes: Sequence[Hashable] | None = None,
        *,
        keep: Keep = "error",
        missing: Hashable | None = None,
        sep: str | None = None,
        encoding: str | None = None,
    ) -> Annotations:
        """Read answers from a file, as the command line does (``-``: standard input).

        ``layout="long"``: one answer a row, from CSV/TSV/text (cells read as text, the
        separator sniffed unless ``sep`` is given), Parquet or JSON (also a Label Studio
        export, whose question ``label`` names: :mod:`crowdlearn.label_studio`); answers
        whose label is ``missing`` (if given) are "no answer" rows, dropped with a warning
        that counts them.
        ``layout="wide"``: a tasks × workers matrix of labels, ``missing`` marking no answer
        (default ``-1``): a ``.npy`` array, delimited text (comma, tab, semicolon or blanks;
        blanks around a cell and an empty last column, left by a trailing separator, are
        dropped), or a Parquet / JSON table whose columns are the workers (and whose index,
        if stored, or else its column ``task``, the tasks). Text may start with a header row
        of the workers' ids (distinct names that no cell below holds) and then have the
        tasks' ids in its first column, headed by an empty cell, ``task``, ``id`` or
        ``item``: what ``DataFrame.to_csv()`` writes (cleanlab's ``labels_multiannotator``
        layout); without a header, the tasks are the rows 0, 1, ...
        """
        if layout not in ("long", "wide"):
            raise InputError(f"layout must be 'long' or 'wide', got {layout!r}")
        name = source_name(path)
        suffix = table_format(path)
        if layout == "long" and suffix == ".npy":
            raise InputError(f"{name}: a .npy file holds a matrix, not a table of answers; "
                             "read it as a tasks × workers matrix with --format wide "
                             "(layout='wide')")
        if layout == "long":
            if suffix in PARQUET:
                df = read_file(Path(path), lambda p: _read_long_parquet(p, task, worker, label))
            elif suffix in JSON:
                df = read_table(path, encoding=encoding)
                if label_studio.is_export(df):
                    df = label_studio.answers(df, name, label)
                    task, worker, label = "task", "worker", "label"
            else:
                df, name = read_table(path, sep=sep, encoding=encoding), f"{name} (csv)"
            df = _without_empty_rows(df, source_name(path))
            _warn_rejected(df, source_name(path))
            if missing is not None:
                df = _drop_unanswered(df, label, missing, source_name(path))
            return cls.from_frame(df, task, worker, label, classes, keep=keep, source=name)
        if suffix == ".npy":
            matrix = read_file(path, lambda p: np.load(p, allow_pickle=False))
        elif suffix in TYPED:
            matrix = read_table(path, encoding=encoding).convert_dtypes()
            named = [c for c in (task, worker, label) if c in matrix.columns]
            if len(named) >= 2:
                raise InputError(f"{name}: has columns {', '.join(map(repr, named))}: a long "
                                 "table (one answer a row), not a tasks × workers matrix; "
                                 "drop --format wide")
            if named == [task] and isinstance(matrix.index, pd.RangeIndex):
                matrix = matrix.set_index(task)  # the tasks' ids, not a worker
        else:
            matrix = _with_header(_wide_text(read_table(path, sep=sep, encoding=encoding,
                                                        header=None, blank_separated=True)),
                                  (task, worker, label), "-1" if missing is None else missing,
                                  name)
        return cls.from_wide(matrix, missing="-1" if missing is None else missing,
                             classes=classes, source=name)

    @classmethod
    def from_wide(
        cls,
        matrix: np.ndarray | pd.DataFrame,
        missing: Hashable = -1,
        classes: Sequence[Hashable] | None = None,
        *,
        source: str | None = None,
        keep: Keep = "error",
    ) -> Annotations:
        """Build from a tasks × workers matrix whose cells equal ``missing`` (or NaN) where
        the worker did not answer: the layout of LabelMe, sentiment and similar releases.
        The marker matches as written, as text, or as the same number (``-1.0`` and ``"-1"``
        for ``-1``); NaN and empty or ``nan`` text cells are always no answer. Labels that
        are whole numbers stored as floats (``1.0``, text ``"1.0"``) read as integers (``1``,
        ``"1"``), as in an integer matrix, so that a truth file written ``0``/``1`` matches.

        A DataFrame's index and columns become the task and worker ids. ``keep`` is accepted
        for a uniform signature: a matrix cannot hold a repeated answer. Without ``classes``,
        a matrix whose cells look like ids (many distinct values, a column of its own
        values: a long file read as wide) is refused; declared ``classes`` say the cells are
        labels (a crowd of hundreds of classes), and a cell outside them is the error.

        A wrong ``missing`` reads the real marker as a label (LabelMe's ``-1`` with
        ``missing=0``, where 0 is also a class), so a
        :class:`~crowdlearn.errors.CrowdlearnWarning` names the likely marker when one value
        read as an answer, not the only one, fills more than half of all cells and more than
        half of the cells of at least 9 rows in 10. A sparse crowd's marker does both; a
        label does only where over half of the workers answered nearly every task and most
        of them gave it that label, so a complete matrix of real labels (bluebirds: one class
        in 62% of its cells, over half of the cells of 70% of its rows) passes silently.
        """
        _check_keep(keep)
        origin = f"{source}: " if source else ""
        if isinstance(matrix, pd.DataFrame):
            task_ids, worker_ids = list(matrix.index), list(matrix.columns)
            values = matrix.to_numpy()
        else:
            values = np.asarray(matrix)
            task_ids = worker_ids = None
        if values.ndim != 2 or values.size == 0:
            raise InputError(f"{origin}a wide answer matrix must be 2-D and non-empty, "
                             f"got shape {values.shape}")
        # no answer: NaN, an empty or "nan" cell (np.savetxt writes NaN so), or the marker,
        # as written or as the same number (-1.0 in a float matrix, "-1" in a text one)
        if values.dtype.kind in "OUS":  # judged on the distinct cells, not on every cell
            try:
                codes, distinct = pd.factorize(values.ravel())  # NaN, None, NA: code -1
            except TypeError:
                raise InputError(f"{origin}some cells hold lists or other containers, not "
                                 "labels") from None
            cell = pd.Series(distinct, dtype=object).astype(str).str.strip()
            no_answer = (((cell == "") | (cell.str.lower() == "nan")).to_numpy(dtype=bool)
                         | _is_marker(np.asarray(distinct, dtype=object), missing))
            observed = np.where(codes >= 0, ~no_answer[np.maximum(codes, 0)], False)
            observed = observed.reshape(values.shape)
        else:
            observed = ~pd.isna(values) & ~_is_marker(values, missing)
        if classes is None:  # declared classes say what the labels are: no guessing
            _check_wide_values(values, observed, origin)
        if observed.sum() > observed.size / 2:  # else no answer fills half of the cells
            _warn_unmarked(values.astype(str), observed, missing, origin)
        empty = np.flatnonzero(~observed.any(axis=1))
        if len(empty):
            raise InputError(
                f"{origin}row {empty[0]} has no answer (its cells hold only "
                f"{_describe_cells(values[empty[0]])}; the missing marker is {missing!r}); "
                f"{len(empty)} such row{'s' if len(empty) > 1 else ''} in all"
            )
        t, w = np.nonzero(observed)
        labels = pd.Series(_whole_numbers(values[t, w]))
        where = _RowNamer(source, labels.index, rows=t)
        l_codes, l_ids = coding.code(labels, classes, origin=where.origin, row=where.row,
                                     warn_near=True)
        return cls._trusted(t, w, l_codes, _plain(task_ids or range(values.shape[0])),
                            _plain(worker_ids or range(values.shape[1])), l_ids)

    @classmethod
    def from_labels(
        cls, y: Sequence[Hashable] | np.ndarray, classes: Sequence[Hashable] | None = None
    ) -> Annotations:
        """One label per item from one anonymous source (the noisy-label setting)."""
        arr = np.asarray(y)
        if arr.ndim != 1 or len(arr) == 0:
            raise InputError(f"labels must be a non-empty 1-D sequence, got shape {arr.shape}")
        y = pd.Series(arr)
        where = _RowNamer(None, y.index)
        _check_present(y, "label", where)
        codes, ids = coding.code(y, classes, origin=where.origin, row=where.row)
        n = len(y)
        return cls._trusted(np.arange(n), np.zeros(n, dtype=np.int32), codes, list(range(n)),
                            ["source"], ids)

    # ------------------------------------------------------------------ views
    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.task)

    def __repr__(self) -> str:
        return (f"Annotations({len(self):,} answers, {self.n_tasks:,} tasks, "
                f"{self.n_workers:,} workers, {self.n_classes} classes)")

    @cached_property
    def vote_counts(self) -> np.ndarray:
        """T×K matrix: how many workers gave each task each label."""
        k, w = self.n_classes, self.n_workers
        if w * k * k <= 1 << 22:  # sum each label's incidence columns: one sparse product
            return self.incidence @ np.tile(np.eye(k), (w, 1))
        return self.count_votes()

    def count_votes(self, weight: np.ndarray | None = None) -> np.ndarray:
        """T×K matrix: each task's answers of each label, each counted with its ``weight``
        (one per answer; default 1)."""
        if weight is not None:
            weight = np.asarray(weight, dtype=np.float64)
            if weight.shape != (len(self),) or not np.isfinite(weight).all():
                raise InputError(f"weight must hold one finite number per answer "
                                 f"({len(self)}), got shape {weight.shape}")
        k = self.n_classes
        flat = np.bincount(self.task.astype(np.int64) * k + self.label, weights=weight,
                           minlength=self.n_tasks * k)
        return flat.reshape(self.n_tasks, k).astype(np.float64)

    @cached_property
    def worker_label(self) -> np.ndarray:
        """Per answer, the column ``worker * K + label`` of the incidence matrix."""
        return self.worker.astype(np.int32) * np.int32(self.n_classes) + self.label

    @cached_property
    def incidence(self) -> sp.csr_matrix:
        """Sparse T × (W·K) matrix with a 1 at (task, worker·K + label) for every answer.

        Products with it are the E-step (``incidence @ log_confusion``) and, through its
        transpose, the M-step of every Dawid–Skene-type model.
        """
        order = _task_order(self.task)
        wl = self.worker_label if order is None else self.worker_label[order]
        dtype = np.int32 if len(wl) < 2**31 else np.int64
        indptr = np.empty(self.n_tasks + 1, dtype=dtype)
        indptr[-1] = len(wl)
        task = self.task if order is None else self.task[order]
        # every task has an answer, so the tasks' first answers are where the code changes
        indptr[0] = 0
        indptr[1:-1] = np.flatnonzero(task[1:] != task[:-1]) + 1
        data = np.ones(len(wl), dtype=np.float64)
        shape = (self.n_tasks, self.n_workers * self.n_classes)
        return sp.csr_matrix((data, wl, indptr), shape=shape)

    def padded_answers(self) -> tuple[np.ndarray, np.ndarray]:
        """Each task's answers as two T × R arrays (R = most answers on one task): worker
        codes and label codes, ``-1`` where a task has fewer answers. The form a network's
        training step reads its minibatch's crowd labels from."""
        order, starts = grouped_positions(self.task, self.n_tasks)
        task = self.task[order]
        counts = self.task_counts
        slot = np.arange(len(task)) - starts[task]
        width = int(counts.max()) if len(counts) else 0
        workers = np.full((self.n_tasks, width), -1, dtype=np.int32)
        labels = np.full((self.n_tasks, width), -1, dtype=np.int32)
        workers[task, slot] = self.worker[order]
        labels[task, slot] = self.label[order]
        return workers, labels

    def copy_groups(self, min_agreement: float = 1.0, min_shared: int = 50) -> np.ndarray:
        """W-vector of group codes for workers who copy each other.

        Two workers are linked when they answered at least ``min_shared`` tasks in common and
        gave the same label on at least ``min_agreement`` of the tasks *either* of them
        answered (a task only one of them answered counts against them); linked workers
        share a code (connected components). With the default, a group is workers with
        identical answers on identical tasks — one worker repeating another's answers, or one
        person under several ids — and every other worker is a group of its own: independent
        workers who answered different tasks are never linked, however accurate.

        Copies carry the evidence of one worker; an aggregator that counts them as
        independent follows their head count (see the copied crowds in docs/results.md).
        Cost: two sparse W × W products, which grow with the square of the answers per task.
        """
        min_agreement = check_fraction(min_agreement, "min_agreement")
        min_shared = check_integer(min_shared, "min_shared")
        k, w = self.n_classes, self.n_workers
        ones = np.ones(len(self))
        agreed = sp.csr_matrix((ones, (self.task.astype(np.int64) * k + self.label,
                                       self.worker)), shape=(self.n_tasks * k, w))
        same = (agreed.T @ agreed).tocoo()
        answered = sp.csr_matrix((ones, (self.task, self.worker)), shape=(self.n_tasks, w))
        shared = np.asarray((answered.T @ answered)[same.row, same.col]).ravel()
        union = self.worker_counts[same.row] + self.worker_counts[same.col] - shared
        linked = (shared >= min_shared) & (same.data >= min_agreement * union - 1e-9)
        graph = sp.coo_matrix((np.ones(linked.sum()), (same.row[linked], same.col[linked])),
                              shape=(w, w))
        return connected_components(graph, directed=False)[1].astype(np.int64)

    @cached_property
    def task_index(self) -> pd.Index:
        """The task ids as a pandas Index (for fast lookups; built once)."""
        return pd.Index(self.tasks)

    @cached_property
    def worker_index(self) -> pd.Index:
        """The worker ids as a pandas Index (built once)."""
        return pd.Index(self.workers)

    @cached_property
    def worker_counts(self) -> np.ndarray:
        """Number of answers each worker gave."""
        return np.bincount(self.worker, minlength=self.n_workers).astype(np.int64)

    @cached_property
    def task_counts(self) -> np.ndarray:
        """Number of answers each task received."""
        return np.bincount(self.task, minlength=self.n_tasks)

    @cached_property
    def lone_workers(self) -> np.ndarray:
        """Per worker, whether it shares no task with another worker (its answers can be
        compared with nobody's; a worker's repeated answers to a task do not count)."""
        cells = _pair_cells(self.task, self.worker, self.n_tasks, self.n_workers)
        workers_of_task = np.diff(cells.indptr)
        on_shared = np.repeat(workers_of_task >= 2, workers_of_task)
        return np.bincount(cells.indices[on_shared], minlength=self.n_workers) == 0

    def to_frame(self) -> pd.DataFrame:
        """Long table with columns task, worker, label in the original ids."""
        return pd.DataFrame({
            "task": _take(self.tasks, self.task),
            "worker": _take(self.workers, self.worker),
            "label": _take(self.classes, self.label),
        })

    def subset(self, tasks: Iterable[Hashable]) -> Annotations:
        """The answers of the given tasks (original ids, in that order); workers and classes
        are kept whole so that worker and class codes stay comparable."""
        wanted = list(tasks)
        codes = coding.lookup(wanted, self.tasks, "task", "a known task")
        new_code = np.full(self.n_tasks, -1, dtype=np.int64)
        new_code[codes] = np.arange(len(codes))
        keep = new_code[self.task] >= 0
        return Annotations._trusted(new_code[self.task[keep]], self.worker[keep],
                                    self.label[keep], _ids(wanted, self.task, "tasks"),
                                    self.workers, self.classes)

    def task_codes(self, ids: Iterable[Hashable], what: str = "task") -> np.ndarray:
        """Codes of original task ids; an unknown id is an :class:`InputError`."""
        return coding.lookup(ids, self.tasks, what, "a known task (no answer names it)")

    def class_codes(self, ids: Iterable[Hashable], what: str = "label") -> np.ndarray:
        """Codes of original class ids; an unknown class is an :class:`InputError`."""
        return coding.lookup(ids, self.classes, what, f"one of the classes {self.classes}")

    # ------------------------------------------------------------------ validation
    def _check_codes(self) -> None:
        for codes, ids, name in ((self.task, self.tasks, "task"),
                                 (self.worker, self.workers, "worker"),
                                 (self.label, self.classes, "label")):
            if codes.min() < 0 or codes.max() >= len(ids):
                bad = int(np.flatnonzero((codes < 0) | (codes >= len(ids)))[0])
                raise InputError(f"answer {bad}: {name} code {codes[bad]} is outside "
                                 f"0..{len(ids) - 1}")
        unanswered = np.flatnonzero(self.task_counts == 0)
        if len(unanswered):
            raise InputError(f"task {self.tasks[unanswered[0]]!r} has no answer "
                             f"({len(unanswered)} unanswered task(s))")

    def _describe_pair(self, i: int, j: int) -> str:
        return (f"task {self.tasks[self.task[i]]!r} was answered twice by worker "
                f"{self.workers[self.worker[i]]!r} (answers {i} and {j})")

    @property
    def has_repeats(self) -> bool:
        """Some (task, worker) pair holds more than one answer (built with ``keep="all"``)."""
        return _first_duplicate(self.task, self.worker, self.n_workers) is not None


# ---------------------------------------------------------------------- helpers
class _RowNamer:
    """Names a row of the user's input in error messages: a CSV line, or a frame row."""

    def __init__(self, source: str | None, index: pd.Index, rows: np.ndarray | None = None):
        self.source, self.index, self.rows = source, index, rows
        self.origin = f"{source}: " if source else ""
        self.is_csv = bool(source) and source.endswith("(csv)")

    def row(self, i: int, bare: bool = False) -> str:
        if self.rows is not None:
            return f"row {int(self.rows[i])}"
        if self.is_csv:
            return f"{'' if bare else 'line '}{int(self.index[i]) + 2}"
        if not self.index.is_unique:  # its labels would name several rows: the position
            return f"{'' if bare else 'position '}{i}"
        return f"{'' if bare else 'row '}{coding.plain([self.index[i]])[0]!r}"


def _as_codes(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise InputError(f"{name} codes must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} codes must be integers, got dtype {arr.dtype}")
    return arr


def _ids(given, codes: np.ndarray, name: str) -> list:
    """The ids of ``codes`` (their positions in ``given``; without it, 0..max). Checked
    before a long list of 0..max is built: every task and worker needs an answer, so a code
    beyond the answers' count leaves some without (a code of 10**8 would take gigabytes)."""
    if given is None:
        if not len(codes):
            return []
        top = int(codes.max())
        if name == "classes" and top >= 2**20:
            raise InputError(f"label code {top}: without classes=, codes are 0..K−1 and this "
                             "would make over a million classes; give the class ids as "
                             "classes= and codes into them")
        if name != "classes" and top >= max(len(codes), 2**20):  # small: named unanswered
            what = name.removesuffix("s")
            raise InputError(f"{what} code {top} with {len(codes):,} answers: without "
                             f"{name}=, codes are 0..n−1 and each needs an answer; give the "
                             f"ids themselves as {name}= and codes into them")
        return list(range(top + 1))
    try:
        return coding.distinct(given, name)
    except TypeError as exc:  # unhashable: a list as an id
        raise InputError(f"{name} must be hashable ids (text, numbers): {first_line(exc)}") \
            from None


_plain = coding.plain


def _take(ids: list, codes: np.ndarray) -> np.ndarray:
    arr = np.empty(len(ids), dtype=object)
    arr[:] = ids
    out = arr[codes]
    try:
        return out.astype(np.asarray(ids).dtype) if len(ids) else out
    except (TypeError, ValueError):
        return out


def _check_present(col: pd.Series, name: str, where: _RowNamer,
                   error: type[InputError] = InputError) -> None:
    bad = coding.missing_mask(col)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise error(f"{where.origin}{where.row(i)}: empty value in column {name!r} "
                    f"({int(bad.sum())} empty value(s) in that column)")


def _separator_hint(df: pd.DataFrame) -> str:
    """A hint when one column's name holds what looks like the real separator."""
    if len(df.columns) != 1:
        return ""
    name = str(df.columns[0])
    for sep, word in SEPARATORS.items():
        if sep in name:
            return (f" (one column: is the separator a {word}? pass sep={sep!r}, or --sep "
                    f"{word if word != 'bar' else repr(sep)} on the command line)")
    return ""


def _header_hint(df: pd.DataFrame, missing: list) -> str:
    """A hint when the three columns found may be the first answer, not a header."""
    if len(missing) < 3 or len(df.columns) != 3:
        return ""
    return (" (if the file has no header line, its first answer was read as one: add the "
            f"line {','.join(map(str, missing))})")


WIDE_MAX_CLASSES = 20


def _check_wide_values(values: np.ndarray, observed: np.ndarray, origin: str) -> None:
    """Refuse what is clearly not a tasks × workers matrix of labels (a header row of
    distinct names; ids as cells, as when a long file is read as wide); warn about a first
    row that may be a header and about many distinct labels."""
    cells = values[observed]
    if len(cells) == 0:
        return
    header = _header_evidence(values, observed)
    shown = ", ".join(str(v) for v in values[0, observed[0]][:4])
    if header == "clear":
        raise InputError(f"{origin}the first row ({shown}) looks like a header, but a wide "
                         "file is a bare matrix of labels (one row a task, one column a "
                         "worker): remove the header row, or read a long file (one answer a "
                         "row) with --format long")
    if header == "likely":
        warnings.warn(f"{origin}the first row ({shown}) may be a header: its values appear in "
                      "no other row; a wide file has no header row", CrowdlearnWarning,
                      stacklevel=4)
    distinct = len(pd.unique(pd.Series(cells, dtype=object)))
    ids = _id_column(values, observed)
    if ids:
        message = (f"{origin}column 0 holds a different value on every row ({ids}): it looks "
                   "like the tasks' ids, but a wide file is a bare matrix of labels (one row "
                   "a task, one column a worker); remove that column (pandas writes none "
                   "with to_csv(..., index=False))")
        raise InputError(f"{message}, or give the file a header row (an empty cell, then the "
                         "workers' ids: what to_csv() writes) to read it as the tasks' ids; "
                         "if it is a worker's answers, declare the classes (--classes, or "
                         "classes=)")
    if distinct <= WIDE_MAX_CLASSES:
        return
    if distinct > len(values) / 4:
        raise InputError(f"{origin}{distinct:,} distinct labels for {len(values):,} tasks: the "
                         "cells look like ids, not labels; is this a long file (one answer a "
                         "row)? Then use --format long; if they are labels, declare the "
                         "classes (--classes, or classes=)")
    # in a matrix of labels every column draws on one vocabulary; ids of a long file
    # read as wide fill a column with values no other column holds
    pairs = pd.DataFrame({"value": pd.Series(cells, dtype=object),
                          "column": np.nonzero(observed)[1]}).drop_duplicates()
    columns_holding = pairs.groupby("value", sort=False)["column"].transform("size")
    stats = pairs.assign(own=columns_holding.to_numpy() == 1).groupby("column")["own"].agg(
        ["size", "sum"])
    odd = stats[(stats["size"] > WIDE_MAX_CLASSES) & (stats["sum"] > stats["size"] / 2)]
    if len(odd):
        j = int(odd.index[0])
        raise InputError(
            f"{origin}column {j} holds {int(odd.loc[j, 'size']):,} different values that no "
            "other column holds: the cells look like ids, not labels; is this a long file "
            "(one answer a row)? Then use --format long")
    warnings.warn(f"{origin}{distinct} distinct labels in a wide matrix; check that its "
                  "cells are labels and that --missing names the empty-cell marker",
                  CrowdlearnWarning, stacklevel=4)


def _warn_blank_ids(ids: list, name: str, origin: str) -> None:
    """Warn when text ids differ only by surrounding blanks (``' w1'`` and ``'w1'``: one
    worker, or two written by programs that pad differently); they stay distinct, as ids
    that differ by case do (ids may be case-sensitive on purpose)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not ids or not isinstance(ids[0], str):
        return
    try:
        text = pa.array(ids, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return  # not all text
    trimmed = pc.utf8_trim_whitespace(text)
    if not pc.any(pc.not_equal(trimmed, text)).as_py():
        return
    stripped = pd.Series(trimmed.to_numpy(zero_copy_only=False), dtype=object)
    clash = stripped.duplicated(keep=False).to_numpy()
    if not clash.any():
        return
    i = int(np.flatnonzero(clash)[0])
    j = int(np.flatnonzero(clash & (stripped == stripped.iloc[i]).to_numpy())[1])
    warnings.warn(f"{origin}{int(clash.sum()):,} {name} ids differ from another only by "
                  f"surrounding blanks (e.g. {ids[i]!r} and {ids[j]!r}); they are kept as "
                  f"different {name}s", CrowdlearnWarning, stacklevel=3)


def _id_column(values: np.ndarray, observed: np.ndarray) -> str:
    """How the first column of a wide matrix looks like task ids (``"" ``: it does not): an
    answer on every row (at least 5), all different, more than twice as many values as all
    other columns hold together: a frame's index written with it (``to_csv(header=False)``)."""
    rows = values.shape[0]
    if values.shape[1] < 2 or rows < 5 or not observed[:, 0].all():
        return ""
    first = pd.Series(values[:, 0], dtype=object)
    if not first.is_unique:
        return ""
    others = len(pd.unique(pd.Series(values[:, 1:][observed[:, 1:]], dtype=object)))
    if rows <= 2 * others:
        return ""
    return f"{rows:,} values; the other columns hold {others:,}"


def _warn_unmarked(text: np.ndarray, observed: np.ndarray, missing: Hashable,
                   origin: str) -> None:
    """Warn when a value read as an answer looks like the empty-cell marker of a wide matrix
    (``text``: its cells as text; ``observed``: those read as answers): not the only answer
    value, it fills more than half of all cells and more than half of the cells of at
    least 9 rows in 10 (the rule of :meth:`Annotations.from_wide`)."""
    counts = pd.Series(text[observed]).value_counts(sort=True)
    if len(counts) < 2 or counts.iloc[0] <= text.size / 2:
        return
    top = str(counts.index[0])
    rows = float(((text == top).mean(axis=1) > 0.5).mean())
    if rows < 0.9:
        return
    marked = int((~observed).sum())
    marks = f"only {marked:,} cell{'s' if marked > 1 else ''}" if marked else "no cell"
    warnings.warn(f"{origin}{top!r} fills {counts.iloc[0] / text.size:.0%} of the cells (over "
                  f"half of {rows:.0%} of the rows) and is read as a label, while --missing "
                  f"{str(missing)!r} marks {marks}: if {top!r} marks no answer, pass "
                  f"--missing {top} (in Python missing={top!r})", CrowdlearnWarning,
                  stacklevel=4)


def _header_evidence(values: np.ndarray, observed: np.ndarray) -> str:
    """``"clear"``: the first row holds distinct names that appear nowhere below it;
    ``"likely"``: each first-row cell that can be judged is a value its
    column never takes again although the column's other cells take few values; else
    ``""``. A matrix of numbers (a .npy file, a typed Parquet table) has no header row:
    its first row is answers, however distinct (many classes, few workers)."""
    if len(values) < 3 or np.issubdtype(values.dtype, np.number) or pd.api.types.infer_dtype(
            values[observed], skipna=True) in ("integer", "floating", "mixed-integer-float",
                                               "decimal"):
        return ""
    first = values[0, observed[0]]
    rest = values[1:][observed[1:]]
    if len(first) >= 2 and len(set(first.tolist())) == len(first):
        below = set(pd.unique(pd.Series(rest, dtype=object)).tolist())
        if not any(v in below for v in first.tolist()):
            return "clear"
    judged = 0
    for j in np.flatnonzero(observed[0]):
        column = pd.unique(pd.Series(values[1:, j][observed[1:, j]], dtype=object))
        if len(column) < 2 or len(column) > WIDE_MAX_CLASSES:
            continue  # too few or too many values below to tell
        if values[0, j] in set(column.tolist()):
            return ""
        judged += 1
    return "likely" if judged else ""


def warn_dropped_repeats(origin: str, dropped: int, given: int, keep: Keep,
                         stacklevel: int = 2) -> None:
    """Say how many of the ``given`` answers ``keep`` dropped as repeats (none: silent)."""
    if dropped:
        warnings.warn(f"{origin}dropped {dropped:,} of {given:,} answers that repeat a "
                      f"worker's answer to a task (keep={keep!r} kept one of each)",
                      CrowdlearnWarning, stacklevel=stacklevel + 1)


def _check_keep(keep) -> None:
    if keep not in KEEP_CHOICES:
        raise InputError(f"keep must be one of {', '.join(map(repr, KEEP_CHOICES))}, "
                         f"got {keep!r}")


def _kept_answers(task: np.ndarray, worker: np.ndarray, n_workers: int, keep: str,
                  describe) -> np.ndarray | None:
    """The ``keep`` policy on repeated (task, worker) pairs: None when every answer stays
    (no repeat, or ``"all"``), a :class:`RepeatedAnswersError` with ``describe(i, j)`` of the
    first repeat for ``"error"``, else the sorted positions of the answers kept (each pair's
    ``"first"`` or ``"last"``)."""
    if keep == "all":
        return None
    dup = _first_duplicate(task, worker, n_workers)
    if dup is None:
        return None
    if keep == "error":
        raise RepeatedAnswersError(describe(*dup))
    key = task.astype(np.int64) * max(n_workers, 1) + worker
    if keep == "last":
        _, pos = np.unique(key[::-1], return_index=True)
        return np.sort(len(key) - 1 - pos)
    _, pos = np.unique(key, return_index=True)
    return np.sort(pos)


def _first_duplicate(task: np.ndarray, worker: np.ndarray, n_workers: int):
    """Positions (i, j) of the first repeated (task, worker) pair, or None. Linear time when
    answers come grouped by task with workers in increasing order (the common layout)."""
    if len(task) < 2:
        return None
    t0, t1, w0, w1 = task[:-1], task[1:], worker[:-1], worker[1:]
    if bool(np.all((t1 > t0) | ((t1 == t0) & (w1 > w0)))):
        return None
    if not has_repeated_pairs(task, worker, n_workers):
        return None  # the answers are sorted only to find a repeat that exists
    key = task.astype(np.int64) * max(n_workers, 1) + worker
    order = np.argsort(key, kind="stable")
    sk = key[order]
    rep = np.flatnonzero(sk[1:] == sk[:-1])
    if not len(rep):
        return None
    pos = order[rep + 1]
    first = int(rep[np.argmin(pos)])
    a, b = sorted((int(order[first]), int(order[first + 1])))
    return a, b


def has_repeated_pairs(task: np.ndarray, worker: np.ndarray, n_workers: int) -> bool:
    """Whether some (task, worker) pair occurs twice. The pairs as the cells of a sparse
    matrix: its conversion to CSR (a counting sort, linear time) sums repeated cells, so
    fewer cells than answers means a repeat."""
    if len(task) < 2:
        return False
    return _pair_cells(task, worker, int(task.max()) + 1,
                       max(n_workers, int(worker.max()) + 1)).nnz < len(task)


def _pair_cells(task: np.ndarray, worker: np.ndarray, n_tasks: int,
                n_workers: int) -> sp.csr_matrix:
    """The distinct (task, worker) pairs as the cells of a T × W sparse matrix (a repeated
    pair is one cell: the conversion to CSR sums them)."""
    return sp.csr_matrix((np.ones(len(task), dtype=np.int8), (task, worker)),
                         shape=(n_tasks, n_workers))


def _task_order(task: np.ndarray) -> np.ndarray | None:
    """A stable order grouping answers by task, or None when they already are."""
    if len(task) < 2 or bool(np.all(task[1:] >= task[:-1])):
        return None
    return grouped_positions(task, int(task.max()) + 1)[0]  # codes 0 … T−1: T = max + 1


def grouped_positions(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``codes`` (integers in [0, ``n_groups``)) group by group, increasing
    within a group (the stable argsort of ``codes``), and where each group starts
    (``n_groups + 1`` offsets). A counting sort — scipy's conversion of the positions, as
    the columns of a sparse matrix whose rows are the codes, to CSR — takes linear time
    where an argsort of millions of answers takes several times longer."""
    n = len(codes)
    index = np.int32 if max(n, n_groups) < 2**31 else np.int64
    grouped = sp.csr_matrix((np.ones(n, dtype=np.int8), (codes, np.arange(n, dtype=index))),
                            shape=(n_groups, n))
    return grouped.indices, grouped.indptr  # canonical: each row's columns increase


def _read_long_parquet(path: Path, task: str, worker: str, label: str) -> pd.DataFrame:
    """A long Parquet table, only its three columns when it holds them (a named index
    stored by pandas counts: it comes back as a column)."""
    return read_parquet(path, [task, worker, label] if _has_columns(path, (task, worker, label))
                        else None)


# the columns where crowdsourcing platforms' exports mark an answer as rejected (Amazon
# Mechanical Turk's batch results, Toloka's TSV), and the value they write there
REJECTED = {"AssignmentStatus": "rejected", "ASSIGNMENT:status": "rejected"}


def _warn_rejected(df: pd.DataFrame, name: str) -> None:
    """Warn when a platform's status column marks answers as rejected: they count like any
    other (the export holds them; whether they should is the buyer's decision)."""
    for column, value in REJECTED.items():
        if column in df.columns and pd.api.types.is_string_dtype(df[column]):
            rejected = int((df[column].str.strip().str.lower() == value).sum())
            if rejected:
                warnings.warn(f"{name}: {rejected:,} of {len(df):,} answers are marked rejected "
                              f"in column {column!r}; they are kept and count like the others "
                              "(leave them out of the file to ignore them)", CrowdlearnWarning,
                              stacklevel=3)


def _without_empty_rows(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """A text table without its rows of empty cells only (a spreadsheet's ``;;`` filler
    lines), with a warning that counts them."""
    if df.empty or not all(pd.api.types.is_string_dtype(df[c]) for c in df.columns):
        return df
    empty = (df.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    if not empty.any() or empty.all():
        return df
    warnings.warn(f"{name}: dropped {int(empty.sum()):,} rows whose cells are all empty (e.g. "
                  f"line {int(np.flatnonzero(empty)[0]) + 2})", CrowdlearnWarning, stacklevel=3)
    return df[~empty]


def _drop_unanswered(df: pd.DataFrame, label: str, missing: Hashable, name: str
                     ) -> pd.DataFrame:
    """A long table without its "no answer" rows (label ``missing``, as written or as the
    same number; ``""`` also matches a null label, which is how JSON and Parquet write an
    empty one), with a warning that counts them; all of them is an error."""
    if label not in df.columns or len(df) == 0:
        return df  # from_frame names what is wrong
    column = df[label]
    try:
        distinct = pd.unique(column)  # the test runs on the few labels, not on every answer
    except TypeError:
        return df  # unhashable cells (lists from JSON): from_frame names them
    marks = np.asarray(distinct, dtype=object)[_is_marker(np.asarray(distinct, dtype=object),
                                                           missing)]
    null = column.isna().to_numpy() if missing == "" else np.zeros(len(df), dtype=bool)
    if not len(marks) and not null.any():
        return df
    blank = column.isin(marks.tolist()).to_numpy() | null
    if not blank.any():
        return df
    if blank.all():
        raise InputError(f"{name}: every answer's label is the missing marker {missing!r}: "
                         "no answer left")
    warnings.warn(f"{name}: dropped {int(blank.sum()):,} of {len(df):,} answers whose label is "
                  f"the missing marker {missing!r} (no answer)", CrowdlearnWarning, stacklevel=3)
    return df[~blank]


def _is_marker(values: np.ndarray, missing: Hashable) -> np.ndarray:
    """Cells equal to the marker ``missing``: as written, as text (a text matrix holds
    ``"-1"`` where the marker is the number -1), or as the same number when both are
    numbers (``-1.0`` and ``-1``)."""
    flat = values.ravel()
    number = _number(missing)
    if number is not None and flat.dtype.kind in "iuf":
        return (flat == number).reshape(values.shape)
    if flat.dtype.kind not in "OUS":
        return (np.asarray(flat == missing, dtype=bool).reshape(flat.shape)
                | (flat.astype(str) == str(missing))).reshape(values.shape)
    codes, distinct = pd.factorize(pd.Series(flat, dtype=object))  # test the few values
    distinct = pd.Series(distinct, dtype=object)
    hit = distinct.eq(missing).to_numpy(dtype=bool) | (distinct.astype(str) == str(missing)
                                                        ).to_numpy(dtype=bool)
    if number is not None:
        try:
            as_number = pd.to_numeric(distinct, errors="coerce")
        except (TypeError, ValueError):  # cells no number can be (lists from JSON)
            as_number = pd.Series(np.nan, index=distinct.index)
        hit |= as_number.to_numpy(dtype=np.float64, na_value=np.nan) == number
    return np.where(codes >= 0, hit[np.maximum(codes, 0)], False).reshape(values.shape)


def _whole_numbers(cells: np.ndarray) -> np.ndarray:
    """The labels of a wide matrix, with numbers that are whole written as integers: float
    cells (``0.0``, ``1.0``) as ints, text ones (``"1.0"``) as ``"1"``, so that they match
    the classes of a truth file written ``0``/``1``. Anything else is kept as it is."""
    if cells.dtype.kind == "f":
        whole = np.isfinite(cells).all() and (cells == np.round(cells)).all()
        return cells.astype(np.int64) if whole and np.abs(cells).max() < 2**53 else cells
    if cells.dtype.kind not in "OUS" or not len(cells):
        return cells
    is_text = cells.dtype.kind in "US" or pd.api.types.infer_dtype(cells) == "string"
    series = pd.Series(cells, dtype=object)
    number = pd.to_numeric(series.astype(str) if is_text else series, errors="coerce")
    number = number.to_numpy(dtype=np.float64, na_value=np.nan)
    if not (np.isfinite(number).all() and (number == np.round(number)).all()
            and np.abs(number).max() < 2**53):
        return cells
    if not is_text:
        return number.astype(np.int64) if series.map(type).ne(int).any() else cells
    written = pd.Series(cells, dtype=object).astype(str)
    floats = written.str.contains(r"[.eE]", regex=True).to_numpy()
    if not floats.any():
        return cells  # already integers
    out = np.asarray(cells, dtype=object).copy()  # only "1.0" is rewritten: "01" stays
    out[floats] = number[floats].astype(np.int64).astype(str)
    return out


def _describe_cells(row: np.ndarray) -> str:
    """What a row of a wide matrix holds, for a message: its distinct cells (NaN, empty)."""
    shown = []
    for cell in pd.unique(pd.Series(row, dtype=object)):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
            what = "NaN"
        elif isinstance(cell, str) and not cell.strip():
            what = "empty cells"
        else:
            what = repr(coding.plain([cell])[0])
        if what not in shown:
            shown.append(what)
    return ", ".join(shown[:4]) + (", ..." if len(shown) > 4 else "")


def _number(value) -> float | None:
    """The finite number ``value`` is or spells (text ``"-1"``), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _wide_text(table: pd.DataFrame) -> np.ndarray:
    """The cells of a wide text matrix: blanks around each cell stripped (``1, -1`` written
    with ", ") and an empty last column, left by a separator that ends every line, dropped."""
    cells = table.to_numpy(dtype=object)
    codes, distinct = pd.factorize(cells.ravel())  # strip the few distinct cells: fast
    stripped = np.array([str(v).strip() for v in distinct] + [""], dtype=object)
    text = stripped[codes].reshape(cells.shape)  # code -1 (an empty cell): ""
    if text.shape[1] > 1 and (text[:, -1] == "").all():
        text = text[:, :-1]
    return text


ID_HEADERS = ("", "task", "id", "item")  # the first header cell above a column of task ids


def _with_header(text: np.ndarray, long_columns: tuple[str, str, str], missing: Hashable,
                 name: str) -> np.ndarray | pd.DataFrame:
    """A wide text matrix whose first row is a header of worker ids (distinct names no cell
    below holds, or the numbers 0..W−1 above a first column of distinct task ids) as a frame
    of those columns, its tasks' ids taken from the first column when the header's first
    cell is empty or names it (``task``, ``id``, ``item``, or the task column's name): the
    layout ``DataFrame.to_csv()`` writes. Any other matrix as it
    is; a header naming two of ``long_columns`` (task, worker, label) is a long file's."""
    if text.shape[0] < 3 or text.shape[1] < 2:
        return text
    named = [c for c in long_columns if c in text[0].tolist()]
    if len(named) >= 2:
        raise InputError(f"{name}: has columns {', '.join(map(repr, named))}: a long table "
                         "(one answer a row), not a tasks × workers matrix; drop --format wide")
    lead = str(text[0, 0]).strip().lower()
    first = 1 if lead in (*ID_HEADERS, long_columns[0].lower()) else 0
    cells = text[:, first:]
    observed = (cells != "") & ~_is_marker(cells, missing)
    # to_csv() of a frame with the default column names: workers 0..W-1 over distinct ids
    # (numbers that a label can equal, so the header cannot be told by its values alone)
    numbered = bool(first) and cells[0].tolist() == [str(i) for i in range(cells.shape[1])] \
        and len(set(text[1:, 0].tolist())) == len(text) - 1 \
        and len(text) - 1 > len(set(cells[1:][observed[1:]].tolist()))  # more ids than labels
    if not numbered and (_header_evidence(cells, observed) != "clear"
                         or not observed[0].all()):
        return text
    frame = pd.DataFrame(cells[1:], columns=cells[0].tolist())
    if first:
        ids = pd.Series(text[1:, 0], dtype=object)
        empty = np.flatnonzero((ids == "").to_numpy())
        if len(empty):
            raise InputError(f"{name}: line {int(empty[0]) + 2}: no task id in column 0 (a "
                             f"header whose first cell is {text[0, 0]!r} says it holds them)")
        twice = ids[ids.duplicated()]
        if len(twice):
            raise InputError(f"{name}: task {twice.iloc[0]!r} has two rows (lines "
                             f"{int(np.flatnonzero((ids == twice.iloc[0]).to_numpy())[0]) + 2} "
                             f"and {int(twice.index[0]) + 2})")
        frame.index = pd.Index(ids.tolist(), dtype=object)
    return frame


def _has_columns(path: Path, columns: Iterable[str]) -> bool:
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - a corrupt file is reported by the full read below
        return False
    return set(columns) <= names


def gold_codes(ann: Annotations, gold: Mapping | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Task and class codes of a task → label mapping, validated against ``ann``. A task
    named twice is an error (which label wins would depend on row order), and so is a task
    with no answer (its label cannot inform the model: drop it or add its answers)."""
    gold = pd.Series(gold) if not isinstance(gold, pd.Series) else gold
    if gold.index.has_duplicates:
        twice = gold.index[gold.index.duplicated()][0]
        raise InputError(f"gold names task {twice!r} more than once")
    t = ann.task_codes(gold.index, what="gold task")
    k = ann.class_codes(gold.to_numpy(), what="gold label")
    return t, k
