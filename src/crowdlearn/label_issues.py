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
the model gives class j on the items labelled j, the item's likely true class is the most
probable class j with p_j ≥ t_j; the label is an issue when that class exists and is not the
given one. The suggested label is that class (else the most probable one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.labels import lookup

SCORES = ("self_confidence", "normalized_margin")


def label_issues_from_proba(labels, proba, classes: Sequence | None = None, *,
                            ids: Sequence | None = None, score: str = "self_confidence",
                            id_name: str = "id") -> pd.DataFrame:
    """Rank items by how likely their given label is wrong, most likely first.

    Parameters
    ----------
    labels:
        The given label of each item (N), values of ``classes``.
    proba:
        N × K out-of-sample class probabilities (rows sum to 1), columns in ``classes`` order.
    classes:
        The K class labels (default: ``0 … K−1``).
    ids, id_name:
        Item ids for the first column, and its name (default: row positions in ``id``).
    score:
        ``"self_confidence"`` or ``"normalized_margin"`` (see the module docstring).

    Returns
    -------
    One row per item sorted by ``label_quality`` (ascending): ``id``, ``given_label``,
    ``suggested_label`` (the likely true class, see the module docstring),
    ``label_quality`` in [0, 1] and ``is_label_issue``.
    """
    if score not in SCORES:
        raise InputError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
    P = _checked_proba(proba)
    n, k = P.shape
    classes = list(range(k)) if classes is None else list(classes)
    if len(classes) != k:
        raise InputError(f"proba has {k} columns but {len(classes)} classes were given")
    given = np.asarray(labels)
    if given.shape != (n,):
        raise InputError(f"labels must hold one label per row of proba ({n}), got shape "
                         f"{given.shape}")
    codes = lookup(given, classes, "label", "one of the classes of proba")
    rows = np.arange(n)
    thresholds = class_thresholds(codes, P)
    confident = np.where(P >= thresholds, P, -1.0)  # classes the item confidently belongs to
    likely = np.where(confident.max(axis=1) >= 0, confident.argmax(axis=1), P.argmax(axis=1))
    # an issue: confidently another class, and the model's top class is not the given one
    flagged = (confident.max(axis=1) >= 0) & (likely != codes) & (P.argmax(axis=1) != codes)
    if score == "self_confidence":
        quality = P[rows, codes]
    else:
        quality = (P[rows, codes] - _best_other(P, codes) + 1) / 2
    suggested = np.asarray(classes)[likely]
    return issue_table(given, quality, suggested, flagged, ids, id_name=id_name)


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
                id_name: str = "id") -> pd.DataFrame:
    """The ranked table every label-issue finder returns (see
    :func:`label_issues_from_proba`); the first column is ``id_name``."""
    n = len(given)
    if ids is not None and len(ids) != n:
        raise InputError(f"ids must hold one id per item ({n}), got {len(ids)}")
    quality = np.clip(quality, 0.0, 1.0)
    order = np.argsort(quality, kind="stable")
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


def _checked_proba(proba) -> np.ndarray:
    P = np.array(proba, dtype=np.float64)  # a copy: the adjustments write into it
    if P.ndim != 2 or P.shape[1] < 2 or len(P) == 0:
        raise InputError(f"proba must be N × K with K ≥ 2 classes, got shape {P.shape}")
    if not np.isfinite(P).all():
        row = int(np.flatnonzero(~np.isfinite(P).all(axis=1))[0])
        raise InputError(f"proba row {row} holds NaN or an infinite value")
    if (P < 0).any():
        row = int(np.flatnonzero((P < 0).any(axis=1))[0])
        raise InputError(f"proba row {row} holds a negative probability")
    sums = P.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1) > 1e-3)
    if len(off):
        raise InputError(f"proba rows must sum to 1: row {int(off[0])} sums to "
                         f"{sums[off[0]]:.4g} ({len(off)} such rows)")
    return P
