"""`Annotations`: the one data model for labels.

Crowd labels are a sparse table of (task, worker, label) answers. They are stored coded, once:
three equal-length integer arrays plus the original identifiers, so that every method works on
dense integer codes and every result maps back to the user's ids. Validation happens here and
only here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from crowdlearn.errors import InputError, check_fraction, check_integer
from crowdlearn.inputs import read_file

Keep = Literal["error", "first", "last"]

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

    Every task must have at least one answer and a (task, worker) pair may occur only once.
    Most users build this with :meth:`from_frame`, :meth:`from_csv`, :meth:`from_parquet`,
    :meth:`from_wide` or :meth:`from_labels`.
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
    ) -> None:
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
        _check_no_duplicates(self.task, self.worker, len(self.workers), self._describe_pair)

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
        row); otherwise it is the sorted set of labels seen. ``keep`` decides what happens to a
        (task, worker) pair answered twice: ``"error"`` (default), or keep the ``"first"`` or
        ``"last"`` answer. ``source`` names the file in error messages.
        """
        where = _RowNamer(source, df.index)
        missing = [c for c in (task, worker, label) if c not in df.columns]
        if missing:
            raise InputError(
                f"{where.origin}missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}; "
                f"columns found: {', '.join(map(repr, df.columns))}"
            )
        if len(df) == 0:
            raise InputError(f"{where.origin}no answers: the table has a header but no rows")
        for col in (task, worker, label):
            _check_present(df[col], col, where)
        if keep not in ("error", "first", "last"):
            raise InputError(f"keep must be 'error', 'first' or 'last', got {keep!r}")
        if keep != "error":
            df = df.drop_duplicates(subset=[task, worker], keep=keep)
            where = _RowNamer(source, df.index)  # rows keep their original numbers
        t_codes, t_ids = _factorize(df[task])
        w_codes, w_ids = _factorize(df[worker])
        l_codes, l_ids = _code_labels(df[label], classes, where)
        t_ids, w_ids = _plain(t_ids), _plain(w_ids)
        pairs_dup = _first_duplicate(t_codes, w_codes, len(w_ids))
        if pairs_dup is not None:
            i, j = pairs_dup
            raise InputError(
                f"{where.origin}task {t_ids[t_codes[i]]!r} was answered twice by worker "
                f"{w_ids[w_codes[i]]!r} ({where.row(i)} and {where.row(j, bare=True)}); "
                "pass keep='first' or keep='last' to keep one"
            )
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
        """Read a long CSV (one answer a row) with :func:`pandas.read_csv`."""
        path = Path(path)
        df = read_file(path, lambda p: pd.read_csv(p, **read_csv_kwargs))
        return cls.from_frame(df, task, worker, label, classes, keep=keep, source=f"{path} (csv)")

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
        df = read_file(path, lambda p: pd.read_parquet(p, columns=[task, worker, label])
                       if _has_columns(p, (task, worker, label)) else pd.read_parquet(p))
        return cls.from_frame(df, task, worker, label, classes, keep=keep, source=str(path))

    @classmethod
    def from_wide(
        cls,
        matrix: np.ndarray | pd.DataFrame,
        missing: Hashable = -1,
        classes: Sequence[Hashable] | None = None,
        *,
        source: str | None = None,
    ) -> Annotations:
        """Build from a tasks × workers matrix whose cells equal ``missing`` (or NaN) where
        the worker did not answer: the layout of LabelMe, sentiment and similar releases.

        A DataFrame's index and columns become the task and worker ids.
        """
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
        # compare as text too: a text matrix holds "-1" where the marker is the number -1
        observed = ~pd.isna(values) & (values != missing) & (values.astype(str) != str(missing))
        empty = np.flatnonzero(~observed.any(axis=1))
        if len(empty):
            raise InputError(
                f"{origin}row {empty[0]} has no answer (every cell is missing={missing!r}); "
                f"{len(empty)} such row{'s' if len(empty) > 1 else ''} in all"
            )
        t, w = np.nonzero(observed)
        labels = pd.Series(values[t, w])
        where = _RowNamer(source, labels.index, rows=t)
        l_codes, l_ids = _code_labels(labels, classes, where)
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
        codes, ids = _code_labels(y, classes, where)
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
        order = np.argsort(self.task, kind="stable")
        task = self.task[order]
        counts = self.task_counts
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
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
        independent follows their head count (methods.md 7/C4). Cost: two sparse W × W
        products, which grow with the square of the answers per task.
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
    def worker_counts(self) -> np.ndarray:
        """Number of answers each worker gave."""
        per_column = self.incidence.T @ np.ones(self.n_tasks)
        return per_column.reshape(self.n_workers, self.n_classes).sum(axis=1).round().astype(
            np.int64)

    @cached_property
    def task_counts(self) -> np.ndarray:
        """Number of answers each task received."""
        return np.bincount(self.task, minlength=self.n_tasks)

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
        index = pd.Index(self.tasks)
        codes = index.get_indexer(wanted)
        if (codes < 0).any():
            bad = wanted[int(np.flatnonzero(codes < 0)[0])]
            raise InputError(f"unknown task {bad!r}")
        new_code = np.full(self.n_tasks, -1, dtype=np.int64)
        new_code[codes] = np.arange(len(codes))
        keep = new_code[self.task] >= 0
        return Annotations._trusted(new_code[self.task[keep]], self.worker[keep],
                                    self.label[keep], _ids(wanted, self.task, "tasks"),
                                    self.workers, self.classes)

    def task_codes(self, ids: Iterable[Hashable], what: str = "task") -> np.ndarray:
        """Codes of original task ids; an unknown id is an :class:`InputError`."""
        ids = _plain(ids)
        codes = pd.Index(self.tasks).get_indexer(ids)
        if (codes < 0).any():
            bad = ids[int(np.flatnonzero(codes < 0)[0])]
            raise InputError(f"{what} {bad!r} is not a known task")
        return codes

    def class_codes(self, ids: Iterable[Hashable], what: str = "label") -> np.ndarray:
        """Codes of original class ids; an unknown class is an :class:`InputError`."""
        ids = _plain(ids)
        codes = pd.Index(self.classes).get_indexer(ids)
        if (codes < 0).any():
            bad = ids[int(np.flatnonzero(codes < 0)[0])]
            raise InputError(f"{what} {bad!r} is not one of the classes {self.classes}")
        return codes

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


# ---------------------------------------------------------------------- helpers
class _RowNamer:
    """Names a row of the user's input in error messages: a CSV line, or a frame row."""

    def __init__(self, source: str | None, index: pd.Index, rows: np.ndarray | None = None):
        self.source, self.index, self.rows = source, index, rows
        self.origin = f"{source}: " if source else ""
        self.is_csv = bool(source) and source.endswith("(csv)")

    def row(self, i: int, bare: bool = False) -> str:
        if self.rows is not None:
            return f"row {self.rows[i]}"
        if self.is_csv:
            return f"{'' if bare else 'line '}{int(self.index[i]) + 2}"
        return f"{'' if bare else 'row '}{self.index[i]!r}"


def _as_codes(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise InputError(f"{name} codes must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} codes must be integers, got dtype {arr.dtype}")
    return arr


def _ids(given, codes: np.ndarray, name: str) -> list:
    if given is None:
        return list(range(int(codes.max()) + 1)) if len(codes) else []
    ids = _plain(given)
    if len(set(ids)) != len(ids):
        seen: set = set()
        dup = next(x for x in ids if x in seen or seen.add(x))
        raise InputError(f"{name} contains {dup!r} twice")
    return ids


def _plain(values) -> list:
    """Original ids as a plain list of Python scalars (numpy scalars unwrapped)."""
    if isinstance(values, (np.ndarray, pd.Index, pd.Series)):
        return values.tolist()  # converts numpy scalars in C
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _take(ids: list, codes: np.ndarray) -> np.ndarray:
    arr = np.empty(len(ids), dtype=object)
    arr[:] = ids
    out = arr[codes]
    try:
        return out.astype(np.asarray(ids).dtype) if len(ids) else out
    except (TypeError, ValueError):
        return out


def _check_present(col: pd.Series, name: str, where: _RowNamer) -> None:
    bad = col.isna().to_numpy()
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        bad = bad | col.astype(str).str.strip().eq("").to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where.origin}{where.row(i)}: empty value in column {name!r} "
                         f"({int(bad.sum())} empty value(s) in that column)")


def _code_labels(labels: pd.Series, classes, where: _RowNamer) -> tuple[np.ndarray, list]:
    if classes is None:
        codes, ids = _factorize(labels)
        return codes, _plain(ids)
    classes = _ids(classes, np.empty(0, dtype=np.int64), "classes")
    codes = pd.Index(classes).get_indexer(labels)
    if (codes < 0).any():
        # tolerate "1" vs 1 style mismatches between a file's labels and declared classes
        as_text = pd.Index([str(c) for c in classes]).get_indexer(labels.astype(str))
        codes = np.where(codes < 0, as_text, codes)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"{where.origin}{where.row(i)}: label {labels.iloc[i]!r} is not one of "
                         f"the declared classes {classes}")
    return codes, classes


def _factorize(col: pd.Series) -> tuple[np.ndarray, pd.Index | np.ndarray]:
    """Codes and sorted unique values of a column. Integer ids in a compact range (the usual
    case for task, worker and class numbers) are coded without a hash table."""
    values = col.to_numpy()
    if np.issubdtype(values.dtype, np.integer) and len(values):
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 64:  # a few classes: one comparison pass each
            present = np.array([bool((values == v).any()) for v in range(lo, hi + 1)])
        elif hi - lo <= 4 * len(values) + 1024:
            present = np.bincount(values - lo if lo else values, minlength=hi - lo + 1) > 0
        else:
            return pd.factorize(col, sort=True)
        if lo == 0 and present.all():  # already dense codes 0..n-1
            return values, np.arange(hi + 1)
        code_of = np.cumsum(present) - 1
        return code_of[values - lo], np.flatnonzero(present) + lo
    return pd.factorize(col, sort=True)


def _first_duplicate(task: np.ndarray, worker: np.ndarray, n_workers: int):
    """Positions (i, j) of the first repeated (task, worker) pair, or None. Linear time when
    answers come grouped by task with workers in increasing order (the common layout)."""
    if len(task) < 2:
        return None
    t0, t1, w0, w1 = task[:-1], task[1:], worker[:-1], worker[1:]
    if bool(np.all((t1 > t0) | ((t1 == t0) & (w1 > w0)))):
        return None
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


def _check_no_duplicates(task, worker, n_workers, describe) -> None:
    dup = _first_duplicate(task, worker, n_workers)
    if dup is not None:
        raise InputError(describe(*dup) + "; pass keep='first' or keep='last' to keep one")


def _task_order(task: np.ndarray) -> np.ndarray | None:
    """A stable order grouping answers by task, or None when they already are."""
    if len(task) < 2 or bool(np.all(task[1:] >= task[:-1])):
        return None
    return np.argsort(task, kind="stable")


def _has_columns(path: Path, columns: Iterable[str]) -> bool:
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - a corrupt file is reported by the full read below
        return False
    return set(columns) <= names


def gold_codes(ann: Annotations, gold: Mapping | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Task and class codes of a task → label mapping, validated against ``ann``."""
    gold = pd.Series(gold) if not isinstance(gold, pd.Series) else gold
    t = ann.task_codes(gold.index, what="gold task")
    k = ann.class_codes(gold.to_numpy(), what="gold label")
    return t, k
