"""Dawid–Skene started from known confusions, and folding new answers into a fitted model."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, InputError
from crowdlearn.aggregation import DawidSkene, OneCoinDawidSkene
from tests.conftest import make_crowd


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _split(ann: Annotations, share: float, seed: int = 0):
    frame = ann.to_frame()
    late = np.random.default_rng(seed).random(len(frame)) < share
    return Annotations.from_frame(frame[~late]), frame[late], frame


@pytest.mark.parametrize("model", [DawidSkene, OneCoinDawidSkene])
def test_partial_fit_agrees_with_a_refit(model):
    ann, _, _ = make_crowd(n_tasks=6000, n_workers=80, k=3, r=5, seed=0)
    early, late, frame = _split(ann, 0.02)
    refit = model().fit(Annotations.from_frame(frame))
    grown = model().fit(early).partial_fit(late)
    labels = grown.predict().reindex(refit.predict().index)
    assert (labels == refit.predict()).mean() >= 0.998
    assert len(grown.tasks_) == ann.n_tasks and grown.posteriors_.shape == (6000, 3)
    np.testing.assert_allclose(grown.posteriors_.sum(axis=1), 1.0)
    assert np.abs(grown.confusion_ - refit.confusion_).max() < 0.05


def test_partial_fit_with_new_tasks_and_workers():
    ann, y, _ = make_crowd(n_tasks=3000, n_workers=40, k=3, r=5, seed=1)
    frame = ann.to_frame()
    early = frame[frame["task"] < 2500]
    late = frame[frame["task"] >= 2500].copy()
    first = late.drop_duplicates("task").index[:50]
    late.loc[first, "worker"] = 999  # a worker never seen before, one answer per task
    model = DawidSkene().fit(Annotations.from_frame(early)).partial_fit(late)
    assert len(model.tasks_) == 3000 and model.workers_[-1] == 999
    assert model.confusion_.shape == (41, 3, 3)
    truth = pd.Series(y, index=range(3000))
    assert (model.predict().reindex(truth.index) == truth).mean() > 0.85
    model.partial_fit(pd.DataFrame({"task": [5000], "worker": [0], "label": [1]}))
    assert model.predict().index[-1] == 5000 and len(model.tasks_) == 3001


def test_refresh_zero_changes_only_the_touched_tasks():
    ann, _, _ = make_crowd(n_tasks=2000, n_workers=30, k=3, r=5, seed=2)
    early, late, _ = _split(ann, 0.01)
    model = DawidSkene().fit(early)
    before = model.predict_proba()
    model.partial_fit(late, refresh=0)
    after = model.predict_proba().reindex(before.index)
    untouched = ~before.index.isin(late["task"].unique())
    np.testing.assert_array_equal(after[untouched].to_numpy(), before[untouched].to_numpy())


def test_partial_fit_refusals():
    ann, _, _ = make_crowd(n_tasks=200, n_workers=10, k=3, r=3, seed=3)
    model = DawidSkene().fit(ann)
    first = ann.to_frame().iloc[:1]
    with pytest.raises(InputError, match="already answered task"):
        model.partial_fit(first)
    with pytest.raises(InputError, match="cannot add a class: 7 is not one of"):
        model.partial_fit(pd.DataFrame({"task": [1000], "worker": [0], "label": [7]}))
    with pytest.raises(InputError, match="refresh must be an integer >= 0"):
        model.partial_fit(pd.DataFrame({"task": [1000], "worker": [0], "label": [1]}),
                          refresh=-1)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DawidSkene().partial_fit(first)


def test_initial_error_addition_and_assign():
    ann, y, _ = make_crowd(n_tasks=1500, n_workers=30, k=3, r=5, seed=4)
    previous = DawidSkene().fit(ann)
    history = previous.confusions() * 50  # as if 50 past answers per true class
    added = DawidSkene(initial_error_strategy="addition").fit(ann, initial_error=history)
    assigned = DawidSkene(initial_error_strategy="assign").fit(
        ann, initial_error=previous.confusions())
    for model in (added, assigned):
        assert (model.labels_ == previous.labels_).mean() > 0.99
    # a start from the converged confusions needs fewer iterations than majority vote's
    assert assigned.n_iter_ <= previous.n_iter_
    # assign with a missing worker is refused, addition accepts it
    partial = previous.confusions().drop(index=ann.workers[0], level=0)
    with pytest.raises(InputError, match="every worker; 1 have none, e.g. 0"):
        DawidSkene(initial_error_strategy="assign").fit(ann, initial_error=partial)
    DawidSkene().fit(ann, initial_error=partial)
    array = previous.confusion_
    DawidSkene(initial_error_strategy="assign").fit(ann, initial_error=array)
    with pytest.raises(InputError, match="must have shape"):
        DawidSkene().fit(ann, initial_error=array[:, :2])
    with pytest.raises(InputError, match="initial_error_strategy must be"):
        DawidSkene(initial_error_strategy="replace").fit(ann, initial_error=array)
