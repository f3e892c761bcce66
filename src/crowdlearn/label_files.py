"""Reading files of labels keyed by id: truth, gold, given labels, class probabilities.

A truth or gold file is task → label (an ``(id, label)`` table, its separator sniffed, runs
of blanks such as ``7 cat`` too, or one label a line in the rows' order); given labels are
``label-issues``' input; a probability file is one row per id, one column per class. Every
reader keeps the ids as written (compared as text) and raises an
:class:`~crowdlearn.errors.InputError` naming the file, line, id or value at fault; what a
user should know but can go on with (a first line read as a header, rounded probabilities)
is a :class:`~crowdlearn.errors.CrowdlearnWarning`. The command line and the experiments
(:mod:`crowdlearn.experiments.active`) read such files through here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError, RemedyError
from crowdlearn.inputs import TYPED, read_table, source_name, table_format, task_labels_from_table
from crowdlearn.labels import missing_mask

# how far a row of a probability file may sum from 1 and still be renormalised: rounded to
# 2 decimals, 3 classes sum to 0.99 or 1.01 (round-off reaches 0.005 per class)
PROBA_ROUNDING = 0.02
PROBA_EXACT = 1e-3  # the library's tolerance: rows within it are used as they are

# the header a one-column label file is likely to have
LABEL_HEADERS = ("label", "labels", "truth", "true_label", "gold", "y", "class", "target")



class MissingIdColumnError(RemedyError):
    """A probability file without the id column asked for (nor ``id`` or ``task``)."""

    remedy = "name it with id_col="


def read_proba_table(path: str | Path, id_col: str = "id") -> pd.DataFrame:
    """A probability file (e.g. what ``crowdlearn fit --proba`` or ``predict --proba``
    writes) as a table indexed by id (as text, each once) with one column per class: its
    ``proba_<class>`` columns, else every column but the id. The id column is ``id_col``,
    else ``id`` or ``task``. Every row must be a distribution (see
    :func:`checked_distributions`)."""
    table = read_table(path)
    name = source_name(path)
    found = [c for c in (id_col, "id", "task") if c in table.columns]
    if not found:
        raise MissingIdColumnError(f"{name}: no id column {id_col!r} (nor 'id' or 'task')")
    if not len(table):
        raise InputError(f"{name}: no rows of probabilities (a header only)")
    blank = missing_mask(table[found[0]])
    if blank.any():
        raise InputError(f"{name}: {_row_word(path)(int(np.flatnonzero(blank)[0]))}: empty "
                         f"id in column {found[0]!r}")
    ids = table[found[0]].astype(str)
    if not ids.is_unique:
        raise InputError(f"{name}: id {ids[ids.duplicated()].iloc[0]!r} appears twice")
    columns = ([c for c in map(str, table.columns) if c.startswith("proba_")]
               or [c for c in map(str, table.columns) if c != found[0]])
    at = _row_word(path)
    values = table[columns].apply(pd.to_numeric, errors="coerce")
    text = table[columns].astype(str).apply(lambda c: c.str.strip())
    wrong = values.isna().to_numpy() & (text != "").to_numpy() & table[columns].notna().to_numpy()
    if wrong.any():
        row, col = map(int, np.argwhere(wrong)[0])
        raise InputError(f"{name}: {at(row)} (id {ids.iloc[row]!r}), column "
                         f"{columns[col]!r}: {table[columns].iat[row, col]!r} is not a number"
                         + (f" ({int(wrong.sum()):,} such cells)" if wrong.sum() > 1 else ""))
    values = values.set_axis([c.removeprefix("proba_") for c in columns], axis=1)
    values.index = pd.Index(ids.to_numpy(), name="task")
    return checked_distributions(values, name, at)


def _row_word(path: str | Path):
    """How messages place row ``i`` (0-based, after the header) of the table at ``path``:
    its line in a text file with a header line, its record in a typed one (Parquet, JSON,
    where lines mean nothing)."""
    if table_format(path) in TYPED:
        return lambda i: f"record {i + 1}"
    return lambda i: f"line {i + 2}"


def checked_distributions(values: pd.DataFrame, name: str, at=None) -> pd.DataFrame:
    """``values`` (one row per id; ``name``: how messages call its file) checked to be
    probability distributions: a row with a missing, infinite or negative value, or summing
    further than :data:`PROBA_ROUNDING` from 1, is an :class:`InputError` naming its id and
    line; rows off by more than :data:`PROBA_EXACT` (probabilities rounded when saved) are
    renormalised, with one warning that gives the worst sum."""
    at = at or (lambda i: f"line {i + 2}")  # ``at(row)``: where the row is, for messages
    P = np.array(values.to_numpy(dtype=float))  # a copy: rounded rows are rescaled in it
    sums = P.sum(axis=1)
    off = np.abs(sums - 1)
    for cells, words in ((np.isnan(P), "have an empty cell"),
                         (np.isinf(P), "have an infinite value"),
                         (P < 0, "have a negative value")):
        if cells.any():
            row, col = map(int, np.argwhere(cells)[0])
            value = "" if np.isnan(P[row, col]) else f"{P[row, col]:g} "
            n_rows = int(cells.any(axis=1).sum())
            raise InputError(f"{name}: the probabilities of id {values.index[row]!r} "
                             f"({at(row)}) {words} ({value}for class {values.columns[col]!r})"
                             + (f"; {n_rows:,} such rows" if n_rows > 1 else ""))
    far = ~(off <= PROBA_ROUNDING)
    bad = np.flatnonzero(far)
    if len(bad):
        row = int(bad[0])
        # a little off on every row: rounding when saved; far off on most: a class column
        # missing (sums below 1) or one too many (above): columns, not decimals
        columns = far.mean() > 0.5 and np.median(off) > PROBA_ROUNDING
        hint = (f"its columns ({', '.join(map(str, values.columns[:8]))}) may lack a class or "
                "hold one too many" if columns else "rounded? re-save with more decimals")
        raise InputError(f"{name}: the probabilities of id {values.index[row]!r} "
                         f"({at(row)}) are not a distribution (sum {sums[row]:.4g}; {len(bad)} "
                         f"such rows); {hint}")
    rounded = off > PROBA_EXACT
    if rounded.any():
        worst = int(np.argmax(off))
        warnings.warn(f"{name}: {int(rounded.sum()):,} rows of probabilities sum to between "
                      f"{1 - PROBA_ROUNDING:g} and {1 + PROBA_ROUNDING:g}, not 1 (rounded "
                      f"when saved?; worst: id {values.index[worst]!r}, sum "
                      f"{sums[worst]:.4g}): renormalised", CrowdlearnWarning, stacklevel=2)
        P[rounded] /= sums[rounded, None]
        values = pd.DataFrame(P, index=values.index, columns=values.columns)
    return values


def read_truth_by_row(path: str | Path, ids, rows: str = "rows", *, task_col: str = "task",
                      label_col: str = "label", encoding: str | None = None,
                      classes=None) -> tuple[pd.Series, pd.Index]:
    """True labels (as text) by row position (``ids``: the rows' ids, as text; ``rows``:
    what messages call them), and the ids of the truth that are none of the rows. From an
    (id, label) table, its separator sniffed (blank-separated too: ``7 cat``), or from one
    label a line in row order (a single column; see :func:`labels_by_line`, ``classes``:
    the labels expected). Read as every input is: ``-``, compressed, ``encoding``."""
    name = source_name(path)
    table = read_table(path, encoding=encoding)
    if table.shape[1] == 1:
        text = table_format(path) not in TYPED  # typed: a named column
        # a text file's first line is a column name here: a header or a label; a Parquet or
        # JSON column's name is a header
        lines = [str(v).strip() for v in [*([table.columns[0]] if text else []),
                                          *table.iloc[:, 0]]]
        lines = [line for line in lines if line]
        pairs = blank_pairs(lines, ids) if text else None
        if pairs is None:
            labels = labels_by_line(lines, len(ids), name, rows, classes, header_seen=not text)
            return pd.Series(labels, index=np.arange(len(ids))), pd.Index([])
        table = pairs
    given = task_labels(table, name, task_col, label_col, ids, rows)
    keys = pd.Index(given.index.astype(str))
    position = pd.Index(ids).get_indexer(keys)
    if (position < 0).all():
        raise InputError(f"{name}: none of its ids are {rows}{id_hint(keys, ids)}")
    keep = position >= 0
    return (pd.Series(given.astype(str).to_numpy()[keep], index=position[keep]),
            keys[~keep])


def read_known_labels(path: str | Path, task_col: str = "task", label_col: str = "label",
                      encoding: str | None = None, known_tasks=None) -> pd.Series:
    """A gold or truth file, task → label, as :func:`crowdlearn.inputs.read_task_labels`
    reads it but with its separator always sniffed, runs of blanks (``7 cat``) included: such
    a file often comes from another tool than the answers (their separator is not its).
    ``known_tasks``: the answered tasks (a first line naming one is data, not a header)."""
    table = read_table(path, encoding=encoding, blank_separated=True)
    return task_labels(table, source_name(path), task_col, label_col, known_tasks,
                       "the answered tasks")


def read_given_labels(path: str | Path, id_col: str = "id", label_col: str = "label",
                      known_ids=None) -> pd.Series:
    """Given labels to check (``crowdlearn label-issues --labels``): id → label, read once
    (it may be standard input). The id column is ``id_col`` if the table has it, else ``id``
    or ``task`` (what ``aggregate`` and ``fit`` write), else ``id_col`` (the reader then
    names the problem). A two-column file whose first line names one of ``known_ids`` (the
    probabilities' or features' ids) has no header (see :func:`task_labels`)."""
    table = read_table(path)
    name = source_name(path)
    columns = set(map(str, table.columns))
    id_col = next((c for c in (id_col, "id", "task") if c in columns), id_col)
    given = task_labels(table, name, id_col, label_col, known_ids,
                        "the probabilities or features")
    if len(given) == 0:
        raise InputError(f"{name}: no labels (a header only?)")
    return given


def task_labels(table: pd.DataFrame, name: str, task_col: str, label_col: str, known_ids,
                among: str) -> pd.Series:
    """:func:`crowdlearn.inputs.task_labels_from_table` (a first line naming one of
    ``known_ids``, the ids ``among`` names, is data, not a header), and a warning when a
    first line it takes as a header looks like data (its label cell is one of the labels
    below it, ``zzz,pos``): a row is never dropped silently."""
    named = {task_col, label_col} <= set(map(str, table.columns))
    header = [str(c) for c in table.attrs.get("header") or table.columns]  # renamed below
    rows = len(table)
    given = task_labels_from_table(table, name, task_col, label_col,
                                   known_tasks=None if known_ids is None else
                                   [str(i) for i in known_ids])
    if (not named and len(given) == rows and len(header) == 2
            and header[1] in set(given.astype(str))):
        warnings.warn(f"{name}: its first line ({', '.join(header)}) is taken as a header, "
                      f"not as the label of id {header[0]!r} (no such id among {among}); "
                      f"name the columns {task_col},{label_col} to be sure",
                      CrowdlearnWarning, stacklevel=3)
    return given


def labels_by_line(lines: list[str], n: int, name: str, rows: str = "rows", classes=None, *,
                   header_seen: bool = False) -> list[str]:
    """One label a line for ``n`` rows (``rows``: what messages call them). The first line
    is a header when the file has one line more than the rows and that line is no label (not
    one of ``classes``, else of the labels below it) or a usual header name
    (:data:`LABEL_HEADERS`); a warning says which way a header-like first line was read.
    ``header_seen``: the header is already off."""
    if lines and not header_seen:
        first = lines[0]
        known = {str(c) for c in classes} if classes is not None else set(lines[1:])
        named = first.lower() in LABEL_HEADERS
        if len(lines) == n + 1 and (named or first not in known):
            warnings.warn(f"{name}: one label a line; its first line {first!r} is taken as a "
                          f"header (it is no label, and the file has a line more than the "
                          f"{n:,} {rows})", CrowdlearnWarning, stacklevel=2)
            lines = lines[1:]
        elif len(lines) == n and named:
            warnings.warn(f"{name}: one label a line; its first line {first!r} is taken as a "
                          f"label, not a header (the file has one line for each of the {n:,} "
                          f"{rows})", CrowdlearnWarning, stacklevel=2)
    if len(lines) != n:
        raise InputError(f"{name}: {len(lines)} labels, one per line, for {n} {rows}; give "
                         "(id, label) columns otherwise")
    return lines


def blank_pairs(lines: list[str], ids) -> pd.DataFrame | None:
    """Lines of two blank-separated fields (``7 cat``) as the two-column table
    :func:`crowdlearn.inputs.read_table` makes of a delimited file (first line as the
    header): when every line has two fields and some first field is one of ``ids``; else
    None (one label a line, which may hold blanks)."""
    fields = [line.split() for line in lines]
    if not fields or any(len(f) != 2 for f in fields):
        return None
    if not {f[0] for f in fields} & {str(i) for i in ids}:
        return None
    head = fields[0]
    table = pd.DataFrame(fields[1:], columns=[head[0], head[1] + (".1" if head[1] == head[0]
                                                                  else "")])
    table.attrs["header"] = head
    return table


def _plain_ids(values) -> pd.Series:
    """Ids as text without surrounding blanks or leading zeros (``007``, `` 7`` → ``7``)."""
    text = pd.Series([str(v) for v in values], dtype=object).str.strip().str.lstrip("0")
    return text.where(text != "", "0")


def id_hint(unmatched, ids) -> str:
    """A hint for ids of a truth file (``unmatched``) that match none of ``ids`` (ids are
    compared as written) but would once leading zeros and surrounding blanks are set aside
    (``007``, `` 7`` and ``7``), to append to a message; empty when none would."""
    unmatched = list(unmatched)
    if not unmatched or not len(ids):
        return ""
    theirs, ours = _plain_ids(unmatched), _plain_ids(ids)
    close = theirs.isin(set(ours)).to_numpy()
    if not close.any():
        return ""
    first = int(close.argmax())
    match = str(list(ids)[int((ours == theirs[first]).to_numpy().argmax())])
    return (f"; {int(close.sum()):,} of them differ from an id only in leading zeros or "
            f"blanks (e.g. {unmatched[first]!r} and {match!r}): ids are compared as written, "
            "write them alike in both files")


def unscored_note(unmatched, ids, unit: str, lacking: str) -> str | None:
    """The line that says how many ids of a truth file (``unmatched``, of ``unit``) match
    none of ``ids`` (what they lack: ``lacking``) and were not scored, with
    :func:`id_hint`; None when all were scored."""
    if not len(unmatched):
        return None
    return (f"({len(unmatched):,} {unit} of the truth file {lacking} and were not scored"
            f"{id_hint(unmatched, ids)})")
