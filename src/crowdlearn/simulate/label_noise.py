"""Label-noise generators: one noisy label per item, drawn from a class transition.

``T[k, l] = P(noisy label l | true label k)``; rows sum to one. Every generator returns the noisy
labels and the *realised* transition (the empirical one, counted on the labels it drew), so that
an experiment reports the noise it actually ran with. The generators follow the code of
Me-Momentum (Bai & Liu, ICCV 2021), the instance-dependent one after Xia et al., "Part-dependent
label noise", NeurIPS 2020 (docs/methods.md §4.4).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from crowdlearn.errors import InputError, check_integer

SeedLike = int | np.random.Generator | None


def generator(seed: SeedLike) -> np.random.Generator:
    """numpy's Generator for ``seed`` (an integer ≥ 0, a Generator, or None for fresh
    entropy); anything else is an :class:`InputError` naming it."""
    if isinstance(seed, bool) or not (seed is None or isinstance(
            seed, (int, np.integer, np.random.Generator))) or (
            isinstance(seed, (int, np.integer)) and seed < 0):
        raise InputError(f"seed must be an integer >= 0, a numpy Generator or None, got "
                         f"{seed!r}")
    return np.random.default_rng(seed)

__all__ = ["NoisyLabels", "draw_from_rows", "from_transition", "instance_dependent", "pairflip",
           "pairflip_matrix", "realised_transition", "symmetric", "symmetric_matrix"]


class NoisyLabels(NamedTuple):
    """What a noise generator returns: unpack as ``y_noisy, T = symmetric(...)``."""

    labels: np.ndarray
    """The noisy labels (int64 class codes, same length as the true labels)."""
    transition: np.ndarray
    """Realised K×K transition: ``T[k, l]`` = share of items of true class k labelled l
    (a class absent from the true labels gets the identity row, so every row sums to 1)."""


# ---------------------------------------------------------------------- transition matrices
def symmetric_matrix(rate: float, n_classes: int) -> np.ndarray:
    """``1 − rate`` on the diagonal, ``rate / (K − 1)`` elsewhere: a flipped label is always
    another class (as in the Me-Momentum code), so the flip rate is exactly ``rate``."""
    _check_rate(rate)
    k = check_integer(n_classes, "n_classes", minimum=2)
    t = np.full((k, k), rate / (k - 1))
    np.fill_diagonal(t, 1.0 - rate)
    return t


def pairflip_matrix(rate: float, n_classes: int) -> np.ndarray:
    """``y → (y + 1) mod K`` with probability ``rate`` (docs/methods.md §4.4)."""
    _check_rate(rate)
    k = check_integer(n_classes, "n_classes", minimum=2)
    t = np.eye(k) * (1.0 - rate)
    t[np.arange(k), (np.arange(k) + 1) % k] += rate
    return t


# ---------------------------------------------------------------------- generators
def symmetric(y: np.ndarray, rate: float, n_classes: int, seed: SeedLike = None) -> NoisyLabels:
    """Symmetric noise: with probability ``rate`` replace the label by one of the *other*
    ``K − 1`` classes, uniformly (never by itself)."""
    return from_transition(y, symmetric_matrix(rate, n_classes), seed)


def pairflip(y: np.ndarray, rate: float, n_classes: int, seed: SeedLike = None) -> NoisyLabels:
    """Pair-flip noise: with probability ``rate`` the label becomes ``(y + 1) mod K``."""
    return from_transition(y, pairflip_matrix(rate, n_classes), seed)


def from_transition(y: np.ndarray, transition: np.ndarray, seed: SeedLike = None) -> NoisyLabels:
    """Class-conditional noise: draw each noisy label from row ``T[y_i]`` of a K×K
    row-stochastic matrix (one uniform number per item, vectorised inverse CDF)."""
    t = check_stochastic(transition, "transition")
    if t.shape[0] != t.shape[1]:
        raise InputError(f"transition must be square (K×K), got shape {t.shape}")
    k = t.shape[0]
    if k < 2:
        raise InputError(f"transition must be K×K with at least 2 classes, got shape {t.shape}")
    y = check_labels(y, k)
    noisy = draw_from_rows(t, y, generator(seed))
    return NoisyLabels(noisy, realised_transition(y, noisy, k))


def instance_dependent(X: np.ndarray, y: np.ndarray, rate: float, n_classes: int,
                       seed: SeedLike = None, *, sd: float = 0.1) -> NoisyLabels:
    """Instance-dependent noise of Xia et al. (NeurIPS 2020), as in Me-Momentum's code
    (docs/methods.md §4.4).

    1. per-item flip rate ``q_i ~ TruncatedNormal(rate, sd, [0, 1])``;
    2. ``W ~ N(0, 1)`` of shape (K, D, K), D the flattened feature size;
    3. ``a = x_i W[y_i]``, ``a[y_i] = −∞``, ``p = q_i softmax(a)``, ``p[y_i] += 1 − q_i``;
    4. ``ỹ_i ~ p``.

    ``X`` is used as given (the reference feeds raw 0–255 pixels, not normalised: the softmax is
    then nearly one-hot, so each item flips to one specific class). The flip rate of item i is
    exactly ``q_i``; the realised rate is the mean of the truncated normal, which equals ``rate``
    except within ~2 sd of 0 or 1 (e.g. +0.5 points at rate 0.2, +2.9 points at rate 0.1).
    """
    _check_rate(rate)
    k = check_integer(n_classes, "n_classes", minimum=2)
    y = check_labels(y, k)
    x = np.asarray(X)
    if x.ndim < 1 or x.shape[0] != len(y):
        raise InputError(f"X must have one row per label ({len(y)}), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise InputError(f"X must be numeric, got dtype {x.dtype}")
    if isinstance(sd, bool) or not isinstance(sd, (int, float, np.integer, np.floating)) \
            or not np.isfinite(sd) or not sd > 0:
        raise InputError(f"sd must be a finite positive number, got {sd!r}")
    x = x.reshape(len(y), -1)
    if not np.isfinite(x).all():
        raise InputError("X contains NaN or infinite values")
    from scipy.stats import truncnorm

    rng = generator(seed)
    q = truncnorm.rvs((0.0 - rate) / sd, (1.0 - rate) / sd, loc=rate, scale=sd, size=len(y),
                      random_state=rng)
    u = rng.random(len(y))
    noisy = np.empty(len(y), dtype=np.int64)
    for c in range(k):  # one matrix product per class: a = X_c W[c]
        w = rng.standard_normal((x.shape[1], k))
        idx = np.flatnonzero(y == c)
        if len(idx) == 0:
            continue
        a = x[idx].astype(np.float64) @ w
        a[:, c] = -np.inf
        a -= a.max(axis=1, keepdims=True)
        p = np.exp(a)
        p *= (q[idx] / p.sum(axis=1))[:, None]
        p[:, c] += 1.0 - q[idx]
        noisy[idx] = _inverse_cdf(p, u[idx])
    return NoisyLabels(noisy, realised_transition(y, noisy, k))


# ---------------------------------------------------------------------- shared pieces
def realised_transition(y: np.ndarray, y_noisy: np.ndarray, n_classes: int) -> np.ndarray:
    """Empirical K×K transition between true and noisy labels (rows sum to 1; a class absent
    from ``y`` gets the identity row)."""
    k = check_integer(n_classes, "n_classes", minimum=2)
    y, y_noisy = check_labels(y, k), check_labels(y_noisy, k, "y_noisy")
    if len(y) != len(y_noisy):
        raise InputError(f"y and y_noisy differ in length: {len(y)} and {len(y_noisy)}")
    counts = np.bincount(y * k + y_noisy, minlength=k * k).reshape(k, k).astype(np.float64)
    totals = counts.sum(axis=1)
    absent = np.flatnonzero(totals == 0)
    counts[absent, absent] = 1.0
    totals[absent] = 1.0
    return counts / totals[:, None]


def draw_from_rows(probabilities: np.ndarray, rows: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Draw one category from row ``rows[i]`` of the row-stochastic matrix ``probabilities``
    for every i, vectorised: one binary search in the concatenated cumulative rows (row r's CDF
    shifted by r), so memory is O(rows + matrix), never O(len(rows) × K). A zero-probability
    category is never drawn."""
    n_rows, k = probabilities.shape
    cdf = np.cumsum(probabilities, axis=1)
    cdf /= cdf[:, -1:]  # last non-zero entry and all after it become exactly 1.0
    offsets = np.arange(n_rows, dtype=np.float64)
    flat = (cdf + offsets[:, None]).ravel()
    r = np.asarray(rows, dtype=np.int64)
    target = r + rng.random(len(r))
    target = np.minimum(target, np.nextafter(r + 1.0, -np.inf))  # rounding must not reach r+1
    return np.searchsorted(flat, target, side="right") - r * k


def _inverse_cdf(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise inverse CDF of an n×K probability matrix at uniforms ``u`` (n,)."""
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    return (u[:, None] >= cdf).sum(axis=1)


def check_labels(y, n_classes: int, name: str = "y") -> np.ndarray:
    """A 1-D array of integer class codes in ``0..n_classes-1`` (as int64)."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of class codes, got shape {arr.shape}")
    if len(arr) == 0:
        raise InputError(f"{name} is empty")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() \
                and (arr == np.round(arr)).all():
            arr = arr.astype(np.int64)
        else:
            raise InputError(f"{name} must hold integer class codes, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= n_classes))
    if len(bad):
        raise InputError(f"{name}[{bad[0]}] = {arr[bad[0]]} is not a class code in "
                         f"0..{n_classes - 1}")
    return arr.astype(np.int64, copy=False)


def check_stochastic(matrix, name: str, atol: float = 1e-6) -> np.ndarray:
    """A float array whose last axis holds probability rows (non-negative, summing to 1 within
    ``atol``), renormalised exactly."""
    try:
        m = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a numeric array") from None
    if m.ndim < 2 or m.shape[-1] == 0:
        raise InputError(f"{name} must have probability rows, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InputError(f"{name} contains NaN or infinite values")
    if (m < 0).any():
        idx = tuple(int(i) for i in np.argwhere(m < 0)[0])
        raise InputError(f"{name}{list(idx)} = {m[idx]} is negative")
    sums = m.sum(axis=-1)
    off = np.argwhere(np.abs(sums - 1.0) > atol)
    if len(off):
        idx = tuple(int(i) for i in off[0])
        raise InputError(f"row {list(idx)} of {name} sums to {sums[idx]:.6g}, not 1")
    return m / sums[..., None]


def _check_rate(rate: float) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not 0.0 <= rate < 1.0:
        raise InputError(f"noise rate must be a number in [0, 1), got {rate!r}")


