"""Per-item class probabilities that a user hands in (a model's predictions, a prior over each
task's class, posteriors to start EM from), checked in one place with one set of words:
numbers, finite, non-negative, and each row summing to one (or, for weights normalised
afterwards, to something positive).

Probability files read from disk are checked by
:func:`crowdlearn.label_files.checked_distributions`, which also names the line and
renormalises rows rounded when saved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crowdlearn.errors import InputError
from crowdlearn.inputs import first_line

SUM_TOLERANCE = 1e-3  # how far from 1 a row of probabilities may sum


def checked_rows(values, what: str, names: Sequence | None = None, *,
                 shape: tuple[int, int] | None = None, rows: str = "rows",
                 normalised: bool = True) -> np.ndarray:
    """``values`` as a float64 2-D array (a copy) of ``shape`` when given (``rows``: what its
    rows are, for the message), every row finite and non-negative and summing to 1 within
    :data:`SUM_TOLERANCE` (``normalised=False``: to anything positive, for weights the
    caller normalises). A violation is an :class:`InputError` naming ``what``, the first bad
    row (and ``names[row]``, e.g. its task, when given) and how many rows are bad."""
    try:
        P = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must hold numbers ({first_line(exc)})") from None
    if shape is not None and P.shape != shape:
        raise InputError(f"{what} must have shape {shape} ({rows} × classes), got shape "
                         f"{P.shape}")
    if P.ndim != 2 or P.shape[1] == 0:
        raise InputError(f"{what} must be a table of {rows} × classes, got shape {P.shape}")
    sums = P.sum(axis=1)
    problems = (
        (~np.isfinite(P).all(axis=1), "holds NaN or an infinite value"),
        ((P < 0).any(axis=1), "holds a negative probability"),
        (~(np.abs(sums - 1) <= SUM_TOLERANCE) if normalised else ~(sums > 0),
         "sums to {sum:.4g}, not 1" if normalised else "sums to {sum:.4g}: no class is possible"),
    )
    for bad, words in problems:
        found = np.flatnonzero(bad)
        if len(found):
            row = int(found[0])
            named = f" ({rows.removesuffix('s')} {names[row]!r})" if names is not None else ""
            more = f" ({len(found):,} such rows)" if len(found) > 1 else ""
            raise InputError(f"{what} row {row}{named} " + words.format(sum=sums[row]) + more)
    return P
