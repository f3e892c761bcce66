"""Which given labels are likely wrong, from any model's class probabilities.

:func:`label_issues_from_proba` is model-agnostic: give it each item's given label and
out-of-sample probabilities (e.g. out-of-fold, from any classifier) and it ranks the items by
how likely their label is wrong, as cleanlab's ``find_label_issues`` is used. The learners'
:func:`~crowdlearn.learners.find_label_issues` builds the same table from the by-products of
TwoEM or Me-Momentum, which need no cross-validation.

Scores (label quality in [0, 1], low = suspect), after Northcutt, Jiang & Chuang, "Confident
learning" (JAIR 2021) and Kuan & Mueller, "Model-agnostic label quality scoring" (2022):
``self_confidence`` (default), p(given label); ``normalized_margin``, (p(given) − the largest
other probability + 1) / 2, which also counts how strongly the model prefers one other class.

An item is flagged as in confident learning's confident joint: with t_j the mean probability
the model gives class j on the items labelled j, the item's likely true class is the class j
with p_j ≥ t_j (several: the most probable class, as cleanlab guesses it; see
:func:`likely_classes`); the label is an issue when such a class exists and is not the given
one (nor the model's most probable class). The suggested label is that class (else the most
probable one). The flagged items are those of cleanlab's
``find_label_issues(labels, pred_probs, filter_by="confident_learning")``, except on exact
ties: a given class that ties for the top is kept, so that rounded probabilities or a
uniform row flag nothing, whatever the order of the classes (cleanlab's choice there follows
the class order).

``filter_by="prune_by_noise_rate"`` (cleanlab's default) flags as the paper's "prune by
noise rate" (§3.2), often more items (an audit: recall 0.91 against 0.77 on Fashion-MNIST
with 20% symmetric noise): the confident joint, calibrated to the given labels' counts,
estimates how many items given class i truly belong to j, and that many of the items given i
with the largest margin p_j − p_i are flagged (never one whose given class is the model's
most probable, nor in a class of one item).

Items are matched as in scikit-learn, by position, except when ``labels`` is a Series and
``proba`` a DataFrame: then by id (their indexes), and the frame's columns are the classes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError, named_few
from crowdlearn.labels import lookup, positions, same_number
from crowdlearn.proba import checked_rows

SCORES = ("self_confidence", "normalized_margin")
FILTERS = ("confident_learning", "prune_by_noise_rate")
_CLOSE = 1e-6  # a given class within this of the top counts as the model's top (cleanlab's)


def label_issues_from_proba(labels, proba, classes: Sequence | None = None, *,
                            ids: Sequence | None = None, score: str = "self_confidence",
                            filter_by: str = "confident_learning",
                            id_name: str = "id") -> pd.DataFrame:
    """Rank items by how likely their given label is wrong, most likely first.

    Parameters
    ----------
    labels:
        The given label of each item (N), values of ``classes``: an array matched to the rows
        of ``proba`` by position, or a Series (with a DataFrame ``proba`` indexed by item id:
        matched by id, in any order; both must hold the same ids, compared as given and then
        as text; a DataFrame with the default index 0 … N−1 is matched by position, and
        refused against a Series holding those numbers in another order: ambiguous).
    proba:
        N × K out-of-sample class probabilities (rows sum to 1): an array with columns in
        ``classes`` order, or a DataFrame with one column per class (named by the class, or
        ``proba_<class>`` as crowdlearn writes them).
    classes:
        The K class labels (default: a DataFrame's columns, else ``0 … K−1``); with a
        DataFrame, its columns are reordered to them.
    ids, id_name:
        Item ids for the first column, and its name (default: the index of a DataFrame
        ``proba``, else of a Series ``labels``, else row positions).
    score:
        ``"self_confidence"`` or ``"normalized_margin"`` (see the module docstring).
    filter_by:
        Which items are flagged: ``"confident_learning"`` (default) or
        ``"prune_by_noise_rate"`` (cleanlab's default; see the module docstring), each
        equal to cleanlab's set but on exact ties. The ranking is the same.

    Returns
    -------
    One row per item sorted by ``label_quality`` (ascending): ``id``, ``given_label``,
    ``suggested_label`` (the likely true class, see the module docstring),
    ``label_quality`` in [0, 1] and ``is_label_issue`` (cleanlab's set for the same
    ``filter_by``).
    """
    if score not in SCORES:
        raise InputError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
    if filter_by not in FILTERS:
        raise InputError(f"filter_by must be one of {', '.join(FILTERS)}, got {filter_by!r}")
    proba_given = proba
    labels, proba, classes, ids = _matched(labels, proba, classes, ids)
    P = _checked_proba(proba)
    n, k = P.shape
    classes = list(range(k)) if classes is None else list(classes)
    if len(classes) != k:
        raise InputError(f"proba has {k} columns but {len(classes)} classes were given")
    given = np.asarray(labels)
    if given.shape != (n,):
        raise InputError(f"labels must hold one label per row of proba ({n}), got shape "
                         f"{given.shape}")
    # a float column's 1.0 is the class "1" of a file's proba_1 column, and the reverse
    codes = lookup(same_number(given, classes), classes, "label", "one of the classes of proba"
                   + (" (its columns)" if isinstance(proba_given, pd.DataFrame) else ""))
    rows = np.arange(n)
    own, top = P[rows, codes], P.max(axis=1)
    likely, confident = likely_classes(P, class_thresholds(codes, P))
    # where the given class ties for the top it stays the guess, so that neither the flags
    # nor the suggestions depend on the order of the classes
    likely = np.where(own == top, codes, likely)
    if filter_by == "confident_learning":
        # an issue: confidently another class, and the given one is not among the model's top
        flagged = confident & (likely != codes) & (own < top)
    else:
        flagged = _pruned_by_noise_rate(P, codes, likely, confident) & (own + _CLOSE < top)
    if score == "self_confidence":
        quality = own
    else:
        quality = (own - _best_other(P, codes) + 1) / 2
    suggested = _as_given(classes, given, codes)[likely]
    return issue_table(given, quality, suggested, flagged, ids, id_name=id_name)


def _pruned_by_noise_rate(P: np.ndarray, codes: np.ndarray, likely: np.ndarray,
                          confident: np.ndarray) -> np.ndarray:
    """Confident learning's "prune by noise rate" (Northcutt et al. 2021, §3.2): with
    ``counts[j, i]`` the estimated number of items given class i whose true class is j (the
    confident joint of the confident guesses ``likely``, its diagonal at least 1, calibrated
    so that row i sums to the items given i and the whole to N, Eq. 3, rounded keeping the
    row totals, then each given class left at least one item), flag among the items given i
    the ``counts[j, i]`` with the largest margin p_j − p_i, for every j ≠ i."""
    n, k = P.shape
    joint = np.bincount(codes[confident] * k + likely[confident], minlength=k * k)
    joint = joint.reshape(k, k).astype(float)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
    given = np.bincount(codes, minlength=k)
    joint = joint / joint.sum(axis=1, keepdims=True) * given[:, None]
    counts = _at_least_one_each(_round_rows(joint / joint.sum() * n).T)
    flagged = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(given > 1):  # a class of one item keeps it
        members = np.flatnonzero(codes == i)
        for j in np.flatnonzero(counts[:, i]):
            if j != i:
                margin = P[members, j] - P[members, i]
                flagged[members[np.argsort(-margin, kind="stable")[:counts[j, i]]]] = True
    return flagged


def _round_rows(counts: np.ndarray) -> np.ndarray:
    """Each row of ``counts`` rounded to integers that keep the row's rounded total: the
    cells rounded furthest from their value move by one until the total is reached."""
    out = np.round(counts)
    for row, values in zip(out, counts, strict=True):
        while (gap := int(np.round(values.sum()) - row.sum())) != 0:
            step = 1 if gap > 0 else -1
            moved = np.argsort(values - row)[::-step][:abs(gap)]
            row[moved] += step
    return out.astype(np.int64)


def _at_least_one_each(counts: np.ndarray) -> np.ndarray:
    """``counts[true j, given i]`` with every diagonal cell raised to at least 1, what that
    adds taken evenly from the column's non-zero off-diagonal cells (none below zero), then
    truncated to integers (as cleanlab does): every given class keeps an item."""
    diagonal = counts.diagonal().astype(float)
    raised = np.maximum(diagonal, 1)
    cells = np.maximum(np.count_nonzero(counts, axis=0) - 1.0, 1.0)
    out = np.maximum(counts - (raised - diagonal) / cells, 0.0)
    np.fill_diagonal(out, raised)
    return out.astype(np.int64)


def _as_given(classes: list, given: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The classes as the given labels write them: a class matched as text (``1`` to the
    column ``proba_1``) is suggested as the given ``1``, not ``"1"``; a class no item is
    given is converted to the labels' type when that writes it the same, else kept."""
    values = [*classes]
    for code, at in zip(*np.unique(codes, return_index=True), strict=True):
        values[code] = given[at]
    if given.dtype != object:
        try:
            typed = np.array([given.dtype.type(v) for v in values], dtype=given.dtype)
        except (TypeError, ValueError, OverflowError):
            typed = None
        if typed is not None and [str(v) for v in typed] == [str(v) for v in values]:
            return typed
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def likely_classes(P: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each item's likely true class and whether some class passes its threshold, as
    cleanlab's confident joint guesses it (``cleanlab.count.compute_confident_joint``): the
    one class at or above its threshold (less 10⁻⁶), or with several such classes, the most
    probable class overall; the most probable class where none passes. (Northcutt et al.
    take the most probable of the passing classes; the two differ only when the overall top
    class is below its threshold while two others pass theirs.)"""
    passing = P >= thresholds - 1e-6
    n_passing = passing.sum(axis=1)
    likely = np.where(n_passing == 1, passing.argmax(axis=1), P.argmax(axis=1))
    return likely, n_passing > 0


def class_thresholds(codes: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """t_j: the mean probability of class j over the items labelled j (confident learning's
    per-class threshold); 1/K for a class no item is labelled with."""
    k = proba.shape[1]
    totals = np.bincount(codes, weights=proba[np.arange(len(codes)), codes], minlength=k)
    counts = np.bincount(codes, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(counts > 0, totals / counts, 1.0 / k)
    return np.maximum(t, 1e-12)


def issue_table(given: np.ndarray, quality: np.ndarray, suggested: np.ndarray,
                flagged: np.ndarray, ids: Sequence | None = None, *,
                id_name: str = "id", tiebreak: np.ndarray | None = None) -> pd.DataFrame:
    """The ranked table every label-issue finder returns (see
    :func:`label_issues_from_proba`); the first column is ``id_name``. Items of equal
    quality are ranked by ``tiebreak`` (low first; e.g. a second score, where the first
    saturates), else kept in their order."""
    n = len(given)
    if ids is not None and len(ids) != n:
        raise InputError(f"ids must hold one id per item ({n}), got {len(ids)}")
    quality = np.clip(quality, 0.0, 1.0)
    order = (np.argsort(quality, kind="stable") if tiebreak is None
             else np.lexsort((tiebreak, quality)))
    return pd.DataFrame({id_name: order if ids is None else np.asarray(ids)[order],
                         "given_label": np.asarray(given)[order],
                         "suggested_label": np.asarray(suggested)[order],
                         "label_quality": quality[order],
                         "is_label_issue": np.asarray(flagged)[order]})


def _best_other(P: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """max over j ≠ given of P[i, j]."""
    rows = np.arange(len(codes))
    own = P[rows, codes].copy()
    P[rows, codes] = -np.inf
    best = P.max(axis=1)
    P[rows, codes] = own
    return best


def _matched(labels, proba, classes, ids):
    """``labels``, ``proba`` (its columns in ``classes`` order), the classes and the ids,
    with a Series of labels put in the order of a DataFrame's rows (see
    :func:`label_issues_from_proba`)."""
    if isinstance(proba, pd.DataFrame):
        columns = proba.columns
        if columns.has_duplicates:
            raise InputError(f"proba's columns repeat the class "
                             f"{columns[columns.duplicated()][0]!r}")
        if classes is not None:
            proba = proba.iloc[:, _class_columns(columns, classes)]
        classes = _column_classes(columns) if classes is None else classes
        if isinstance(labels, pd.Series) and _reordered(labels.index, proba.index):
            raise InputError("proba's index is 0…n−1, which may be row numbers (a frame "
                             "built from an array) or ids (pandas makes ids 0…n−1 such an "
                             "index), and the labels' index holds the same numbers in another "
                             "order; pass labels.to_numpy() to match by position, or "
                             "labels.sort_index() to match by id")
        if isinstance(labels, pd.Series) and _named_rows(proba.index):
            if ids is not None and not pd.Index(ids).equals(proba.index):
                raise InputError("ids: a Series of labels and a DataFrame of proba are "
                                 "matched by their indexes, which are the ids; leave ids out "
                                 "(or pass labels.to_numpy() to match by position)")
            labels = labels.iloc[_rows_by_id(proba.index, labels.index)]
        elif isinstance(labels, pd.Series) and ids is None:
            ids = labels.index  # matched by position: the labels' ids, if any, name the rows
            if pd.api.types.infer_dtype(ids, skipna=True) not in ("integer", "empty") \
                    and not _numbers_0_to_n(ids):  # text ids; integers: row numbers
                warnings.warn("proba has the default index 0…n−1 and the labels' index holds "
                              f"ids ({', '.join(map(repr, ids[:3]))}, …): matched by "
                              "position; give proba those ids as its index to match by id "
                              "(labels.to_numpy() says position is meant)", CrowdlearnWarning,
                              stacklevel=3)
        ids = proba.index if ids is None else ids
        proba = proba.to_numpy()
    elif isinstance(labels, pd.Series) and ids is None:
        ids = labels.index
    if isinstance(labels, pd.Series):
        labels = labels.to_numpy()
    return labels, proba, classes, None if ids is None else np.asarray(ids)


def _named_rows(index: pd.Index) -> bool:
    """Whether an index names its rows (ids), not the default 0..n−1 of a frame built from
    an array, which says nothing about the rows."""
    return not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1)


def _numbers_0_to_n(index: pd.Index) -> bool:
    """Whether ``index`` holds the numbers 0..n−1 in some order, as numbers or as text (row
    numbers, not ids)."""
    return sorted(map(str, index)) == sorted(map(str, range(len(index))))


def _reordered(keys: pd.Index, rows: pd.Index) -> bool:
    """Whether proba's index is 0..n−1 and the labels' index holds those numbers in another
    order: position and id disagree, and nothing tells which the user means."""
    return (not _named_rows(rows) and len(keys) == len(rows) and not keys.equals(rows)
            and bool(pd.Index(keys).sort_values().equals(pd.Index(rows))))


def _column_classes(columns: pd.Index) -> list:
    """The classes a probability frame's columns name: the columns, or what follows
    ``proba_`` when every column is named so (the probability files crowdlearn writes)."""
    names = [str(c) for c in columns]
    if all(n.startswith("proba_") and len(n) > 6 for n in names):
        return [n[len("proba_"):] for n in names]
    return list(columns)


def _class_columns(columns: pd.Index, classes: Sequence) -> np.ndarray:
    """Positions of ``classes`` among a DataFrame's columns (the same set, compared as given
    and then as text)."""
    where = positions(columns, list(classes))
    extra = sorted(set(range(len(columns))) - set(where[where >= 0].tolist()))
    if (where < 0).any() or extra or len(classes) != len(columns):
        missing = [c for c, i in zip(classes, where, strict=True) if i < 0]
        raise InputError(f"classes {list(classes)} are not proba's columns "
                         f"{list(columns)}"
                         + (f": no column {named_few(missing)}" if missing else "")
                         + (f": column {named_few(list(columns[extra]))} is no class" if extra
                            else ""))
    return where


def _rows_by_id(rows: pd.Index, keys: pd.Index) -> np.ndarray:
    """For each of ``rows`` (proba's index), the position of its label in ``keys`` (the
    labels' index); ids compared as :func:`crowdlearn.labels.positions` compares them. The
    two must hold the same ids, each once."""
    for index, what in ((rows, "proba's"), (keys, "labels'")):
        if index.has_duplicates:
            raise InputError(f"{what} index repeats the id {index[index.duplicated()][0]!r}, "
                             "so labels and proba cannot be matched by id; pass "
                             "labels.to_numpy() in proba's row order to match by position")
    if rows.equals(keys):
        return np.arange(len(rows))
    where = positions(keys, rows)
    unlabelled = list(rows[where < 0])
    extra = np.ones(len(keys), dtype=bool)
    extra[where[where >= 0]] = False
    if unlabelled or extra.any():
        found = ([f"{len(unlabelled)} row(s) of proba have no label ({named_few(unlabelled)})"]
                 if unlabelled else [])
        found += ([f"{int(extra.sum())} label(s) have no row in proba "
                   f"({named_few(list(keys[extra]))})"] if extra.any() else [])
        raise InputError(f"labels' index and proba's index hold different ids: "
                         f"{' and '.join(found)}; give labels for exactly proba's rows, or "
                         "labels.to_numpy() to match by position")
    return where




def _checked_proba(proba) -> np.ndarray:
    P = checked_rows(proba, "proba", rows="items")  # a copy: the adjustments write into it
    if P.shape[1] < 2 or len(P) == 0:
        raise InputError(f"proba must be items × classes with at least 2 classes, got shape "
                         f"{P.shape}")
    return P
