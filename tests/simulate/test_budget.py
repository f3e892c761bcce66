"""Budget allocation (docs/methods.md §4.3): n = B // r items, r distinct workers each, balanced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdlearn.errors import InputError
from crowdlearn.simulate import assign


def check(a: np.ndarray, n_used: int, n_workers: int) -> None:
    used, rest = a[:n_used], a[n_used:]
    assert (rest == -1).all()
    assert ((used >= 0) & (used < n_workers)).all()
    # r distinct workers per item
    s = np.sort(used, axis=1)
    assert (s[:, 1:] != s[:, :-1]).all()
    # loads balanced within one
    loads = np.bincount(used.ravel(), minlength=n_workers)
    assert loads.max() - loads.min() <= 1


def test_budget_gives_first_items():
    a = assign(1797, 20, 3, budget=1200, seed=0)
    assert a.shape == (1797, 3)
    check(a, 400, 20)
    assert (np.bincount(a[:400].ravel()) == 60).all()


@pytest.mark.parametrize("n, w, r", [(100, 7, 3), (50, 12, 8), (33, 5, 5), (10, 100, 1),
                                     (1, 3, 2), (1000, 1000, 9)])
def test_balanced_and_distinct(n, w, r):
    check(assign(n, w, r, seed=1), n, w)


@settings(max_examples=60, deadline=None)
@given(w=st.integers(1, 30), data=st.data())
def test_balanced_and_distinct_property(w, data):
    r = data.draw(st.integers(1, w))
    n = data.draw(st.integers(1, 120))
    budget = data.draw(st.none() | st.integers(r, n * r))
    a = assign(n, w, r, budget=budget, seed=data.draw(st.integers(0, 2**32 - 1)))
    check(a, n if budget is None else budget // r, w)


def test_worker_sets_are_mixed():
    # not a fixed cyclic design: worker 0 meets most other workers somewhere
    a = assign(2000, 50, 3, seed=2)
    partners = np.unique(a[(a == 0).any(axis=1)])
    assert len(partners) > 40


def test_same_seed_same_output():
    np.testing.assert_array_equal(assign(300, 20, 3, seed=5), assign(300, 20, 3, seed=5))
    assert (assign(300, 20, 3, seed=5) != assign(300, 20, 3, seed=6)).any()


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_items=10, n_workers=3, redundancy=4), "cannot exceed"),
    (dict(n_items=10, n_workers=5, redundancy=3, budget=2), "below the redundancy"),
    (dict(n_items=10, n_workers=5, redundancy=2, budget=40), "only 10"),
    (dict(n_items=10, n_workers=5, redundancy=0), "redundancy"),
    (dict(n_items=0, n_workers=5, redundancy=1), "n_items"),
    (dict(n_items=10, n_workers=5, redundancy=1.5), "redundancy"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        assign(**kwargs)
