"""Spending a labelling budget: which workers label which items.

MBEM's fixed-budget protocol (Khetan, Lipton & Anandkumar, ICLR 2018; docs/methods.md §4.3): a
budget of B labels at redundancy r buys ``n = B // r`` items (the first n, as in the official
code), each labelled by r distinct workers. Unlike the official code (r workers drawn
independently per item, so loads vary), loads here are balanced: every worker labels ⌊n·r/W⌋
or ⌈n·r/W⌉ items, so no worker is starved of the answers its confusion matrix is estimated from.
"""

from __future__ import annotations

import math

import numpy as np

from crowdlearn.errors import InputError, check_integer
from crowdlearn.simulate.label_noise import SeedLike, generator

__all__ = ["assign"]


def assign(n_items: int, n_workers: int, redundancy: int, budget: int | None = None,
           seed: SeedLike = None) -> np.ndarray:
    """Assign ``redundancy`` distinct workers to each of the first ``n = budget // redundancy``
    items (all ``n_items`` without a budget), with worker loads balanced within one.

    Returns an ``n_items × redundancy`` int array of worker indices, each row sorted; rows of
    items beyond ``n`` are ``-1`` (no worker), so the array goes straight into
    :meth:`Crowd.annotate` with the full label vector. To label a random subset rather than
    the first ``n`` items, shuffle the items first.

    Construction: the slots are cut into blocks of ``lcm(W, r)`` (``W / gcd(W, r)`` items);
    within a block, item j gets the r consecutive entries ``j·r … j·r + r − 1`` (mod W) of a
    fresh random permutation of the workers. Consecutive entries mod W are distinct (r ≤ W), a
    whole block uses every worker equally often, and the last partial block covers the cycle
    once at most, so loads differ by at most one. Items are then shuffled across blocks, and
    each item's worker set is marginally a uniform random r-subset.
    """
    n_items = check_integer(n_items, "n_items")
    w = check_integer(n_workers, "n_workers")
    r = check_integer(redundancy, "redundancy")
    if r > w:
        raise InputError(f"redundancy ({r}) cannot exceed the number of workers ({w}): each "
                         "item needs r distinct workers")
    n = n_items
    if budget is not None:
        budget = check_integer(budget, "budget", minimum=0)
        if budget < r:
            raise InputError(f"budget ({budget}) is below the redundancy ({r}): it buys no item")
        n = budget // r
        if n > n_items:
            raise InputError(f"budget {budget} at redundancy {r} needs {n} items, but there are "
                             f"only {n_items}")
    rng = generator(seed)
    block = math.lcm(w, r)  # slots per block: a multiple of both W and r
    slot = np.arange(n * r, dtype=np.int64)
    n_blocks = -(-(n * r) // block)
    perms = np.argsort(rng.random((n_blocks, w)), axis=1)
    sets = perms[slot // block, slot % w].reshape(n, r)
    sets = sets[rng.permutation(n)]
    sets.sort(axis=1)
    out = np.full((n_items, r), -1, dtype=np.int64)
    out[:n] = sets
    return out


