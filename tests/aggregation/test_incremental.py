"""Dawid–Skene started from known confusions, and folding new answers into a fitted model."""

from __future__ import annotations

import multiprocessing
import os
import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, InputError
from crowdlearn.aggregation import DawidSkene, OneCoinDawidSkene
from crowdlearn.aggregation.incremental import REFIT_BELOW
from tests.conftest import make_crowd


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(autouse=True)
def _incremental(monkeypatch):
    """These tests check the incremental update itself, on crowds small enough that
    partial_fit would refit them by default: refit_below=0 unless a test says otherwise."""
    original = DawidSkene.partial_fit

    def partial_fit(self, answers, **options):
        options.setdefault("refit_below", 0)
        return original(self, answers, **options)

    monkeypatch.setattr(DawidSkene, "partial_fit", partial_fit)


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
    with pytest.raises(InputError, match="'initial_error_strategy' parameter of DawidSkene "
                                         "must be a str among"):
        DawidSkene(initial_error_strategy="replace").fit(ann, initial_error=array)


def _exact_labels(model) -> np.ndarray:
    """Every task's most probable class under the model's final parameters, recomputed from
    all its answers."""
    from crowdlearn.aggregation.incremental import _posteriors

    answers = model._state_.answers
    ann = Annotations._trusted(answers.task, answers.worker, answers.label, answers.tasks,
                               answers.workers, answers.classes)
    return _posteriors(ann.incidence, model._state_.params).argmax(axis=1)


def _batches(frame: pd.DataFrame, shares: list[float], seed: int):
    """``frame`` split at random into an initial part and batches of the given shares."""
    cut = np.random.default_rng(seed).random(len(frame))
    edges = np.cumsum([1 - sum(shares)] + shares)
    parts = [frame[(cut >= lo) & (cut < hi)] for lo, hi in zip(np.r_[0, edges[:-1]], edges,
                                                                strict=True)]
    return parts[0], parts[1:]


@pytest.mark.parametrize("model", [DawidSkene, OneCoinDawidSkene])
def test_labels_are_those_of_the_final_parameters(model):
    # after each call, every task's label (re-estimated or kept) is the one the final
    # parameters give, and the statistics are those of the posteriors kept; batches add
    # answers, tasks and workers, and grow past the point where they are merged in
    ann, _, _ = make_crowd(n_tasks=3000, n_workers=40, k=3, r=5, seed=5)
    frame = ann.to_frame()
    frame.loc[frame.index % 7 == 0, "worker"] += 100  # workers seen only in later batches
    early, batches = _batches(frame, [0.02, 0.05, 0.1, 0.15], seed=5)
    early = early[early["worker"] < 100]
    fitted = model().fit(early)
    for batch in batches:
        fitted.partial_fit(batch)
        np.testing.assert_array_equal(fitted.labels_, _exact_labels(fitted))
        state = fitted._state_
        answers = state.answers
        ann = Annotations._trusted(answers.task, answers.worker, answers.label, answers.tasks,
                                   answers.workers, answers.classes)
        np.testing.assert_allclose(state.stats.counts, ann.incidence.T @ fitted.posteriors_,
                                   atol=1e-8)
        # each task's O(1) bound weighs its answers with the columns' fixed scales
        np.testing.assert_allclose(state.margins.weights, ann.incidence @ state.margins.scale)
    assert len(state.extra_task) < len(frame) - len(early)  # merged at least once
    seen = answers.to_frame().sort_values(["task", "worker"]).reset_index(drop=True)
    given = pd.concat([early, *batches]).sort_values(["task", "worker"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(seen, given, check_dtype=False)


def test_refresh_moves_labels_a_refit_moves():
    # a strong batch flips workers' apparent quality: tasks the batch never touches change
    # label through the refresh rounds, as in a refit, and stay put without them
    rng = np.random.default_rng(6)
    n = 400
    y = rng.integers(0, 2, n)
    rows = []
    for t in range(n):  # two workers that agree with the truth, one that always says 1
        rows += [(t, 0, y[t]), (t, 1, y[t] if rng.random() < 0.6 else 1 - y[t]), (t, 2, 1)]
    early = pd.DataFrame(rows, columns=["task", "worker", "label"])
    late = pd.DataFrame({"task": np.arange(n, 3 * n), "worker": 2,
                         "label": rng.integers(0, 2, 2 * n)})  # worker 2 turns out random
    late = pd.concat([late, late.assign(worker=0, label=1 - late["label"])])
    refit = DawidSkene().fit(pd.concat([early, late]))
    kept = DawidSkene().fit(early).partial_fit(late, refresh=0)
    moved = DawidSkene().fit(early).partial_fit(late)
    old = np.arange(n)
    want = refit.predict().reindex(old)
    assert (moved.predict().reindex(old) == want).mean() > (
        kept.predict().reindex(old) == want).mean()
    np.testing.assert_array_equal(moved.labels_, _exact_labels(moved))


@pytest.mark.parametrize("ids", ["text", "gaps", "interleaved", "offset"])
def test_task_ids_of_every_kind(ids):
    ann, _, _ = make_crowd(n_tasks=800, n_workers=20, k=2, r=4, seed=7)
    frame = ann.to_frame()
    code = frame["task"].to_numpy()
    frame["task"] = {"text": [f"t{c:04d}" for c in code], "gaps": code * 3 + 5,
                     "interleaved": np.where(code % 2 == 0, code // 2, 10_000 - code),
                     "offset": code + 10**12}[ids]
    early, (late,) = _batches(frame, [0.2], seed=7)
    fresh = late[~late["task"].isin(early["task"])]
    assert len(fresh) and len(fresh) < len(late)  # new tasks and known ones
    model = DawidSkene().fit(early).partial_fit(late)
    seen = model._state_.answers.to_frame().sort_values(["task", "worker"])
    given = frame.sort_values(["task", "worker"])
    np.testing.assert_array_equal(seen.to_numpy(), given.to_numpy())
    assert set(model.predict().index) == set(frame["task"])
    np.testing.assert_array_equal(model.labels_, _exact_labels(model))
    # a second batch looks the new tasks up too
    again = pd.DataFrame({"task": [fresh["task"].iloc[0]], "worker": [fresh["worker"].iloc[0]],
                          "label": [0]})
    with pytest.raises(InputError, match="already answered task"):
        model.partial_fit(again)


def test_repeats_across_batches_and_crowded_tasks():
    # one task answered by 200 workers (compared by sorting), the others by few
    task = np.r_[np.zeros(200, int), np.repeat(np.arange(1, 301), 3)]
    worker = np.r_[np.arange(200), np.tile([0, 1, 2], 300)]
    label = np.random.default_rng(8).integers(0, 2, len(task))
    model = DawidSkene().fit(pd.DataFrame({"task": task, "worker": worker, "label": label}))
    more = pd.DataFrame({"task": [0, 0, 5], "worker": [200, 201, 7], "label": [1, 0, 1]})
    model.partial_fit(more)  # new workers on the crowded task: accepted
    for repeat, who in (((0, 150), 150), ((0, 201), 201), ((5, 7), 7), ((5, 1), 1)):
        bad = pd.DataFrame({"task": [9, repeat[0]], "worker": [50, repeat[1]], "label": [1, 0]})
        with pytest.raises(InputError, match=f"worker {who} already answered task "
                                             f"{repeat[0]};"):
            model.partial_fit(bad)
    assert len(model.tasks_) == 301  # the refused batches changed nothing
    with pytest.raises(InputError, match="max_iter must be a positive integer"):
        model.partial_fit(more.iloc[:1].assign(task=1000), max_iter=0)


def test_fit_with_gold_is_not_continued():
    frame = pd.DataFrame({"task": [0, 0, 1, 1, 2, 2], "worker": [0, 1, 0, 1, 0, 1],
                          "label": [0, 0, 1, 1, 0, 1]})
    model = DawidSkene().fit(frame, gold={2: 1})
    with pytest.raises(InputError, match="without task_prior or gold labels"):
        model.partial_fit(pd.DataFrame({"task": [3], "worker": [0], "label": [1]}))


def test_threads_share_the_touched_tasks_without_changing_the_result():
    # enough touched tasks (> 2 × MIN_PART) for partial_fit's steps to run in parts on threads
    ann, _, _ = make_crowd(n_tasks=40000, n_workers=200, k=2, r=4, seed=4)
    early, late, _ = _split(ann, 0.3, seed=4)
    assert late["task"].nunique() > 20000
    fits = [DawidSkene(n_threads=t).fit(early).partial_fit(late).partial_fit(
        late.assign(task=late["task"] + 10**6)) for t in (1, 3)]
    np.testing.assert_allclose(fits[0].posteriors_, fits[1].posteriors_, atol=1e-10)
    assert (fits[0].labels_ == fits[1].labels_).all()
    np.testing.assert_allclose(fits[0].confusion_, fits[1].confusion_, atol=1e-10)
    # a repeated answer in the last part of a large batch is found and named
    last = late.sort_values("task").iloc[[-1]]
    with pytest.raises(InputError, match=f"worker {last['worker'].iloc[0]} already answered "
                                         f"task {last['task'].iloc[0]};"):
        fits[1].partial_fit(pd.concat([pd.DataFrame(
            {"task": fits[1].tasks_, "worker": 10**6, "label": 0}), last]))
    assert len(fits[1].tasks_) == len(fits[0].tasks_)  # the refused batch changed nothing


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_threads_are_kept_across_fits_and_a_forked_child_starts_its_own():
    from crowdlearn.aggregation.em import thread_pool

    assert thread_pool(3) is thread_pool(3) and thread_pool(2) is not thread_pool(3)
    ann, _, _ = make_crowd(n_tasks=40000, n_workers=200, k=2, r=4, seed=5)
    parent = DawidSkene(n_threads=3, max_iter=3).fit(ann)  # the pool's threads now run
    # a child inherits the pool but not its threads: it must start its own, not hang
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        labels = pool.apply_async(_fitted_labels, (ann,)).get(timeout=60)
    assert (labels == parent.labels_).all()


def _fitted_labels(ann):
    return DawidSkene(n_threads=3, max_iter=3).fit(ann).labels_


@pytest.mark.parametrize("model", [DawidSkene, OneCoinDawidSkene])
def test_small_crowds_are_refitted_exactly(model):
    # a 10-class crowd of 1,200 answers: EM has several optima, and the incremental update
    # (started from the earlier fit) settles on another than a refit on 10% of the tasks
    ann, _, _ = make_crowd(n_tasks=400, n_workers=20, k=10, r=3, seed=3)
    early, late, frame = _split(ann, 0.2, seed=1)
    refit = model().fit(Annotations.from_frame(frame))
    grown = model().fit(early).partial_fit(late, refit_below=REFIT_BELOW)
    assert len(frame) < REFIT_BELOW
    order = refit.predict().index
    assert (grown.predict().reindex(order) == refit.predict()).all()
    np.testing.assert_allclose(
        pd.DataFrame(grown.posteriors_, index=grown.tasks_).reindex(order).to_numpy(),
        refit.posteriors_, atol=1e-8)
    incremental = model().fit(early).partial_fit(late, refit_below=0)
    assert (incremental.predict().reindex(order) != refit.predict()).any()


def test_a_fit_from_given_confusions_is_continued_incrementally():
    ann, _, _ = make_crowd(n_tasks=400, n_workers=20, k=10, r=3, seed=3)
    early, late, _ = _split(ann, 0.2, seed=1)
    start = DawidSkene().fit(early).confusion_
    started = DawidSkene(initial_error_strategy="assign").fit(early, initial_error=start)
    a = started.partial_fit(late, refit_below=REFIT_BELOW)
    b = DawidSkene(initial_error_strategy="assign").fit(early, initial_error=start)
    b.partial_fit(late, refit_below=0)
    np.testing.assert_array_equal(a.posteriors_, b.posteriors_)
    with pytest.raises(InputError, match="refit_below"):
        a.partial_fit(late.iloc[:0], refit_below=-1)


def test_new_ids_read_as_text_take_the_fitted_ids_type():
    # ids match as text: a file's "1" is the fitted task 1, and its new "4" becomes 4
    first = pd.DataFrame({"task": [1, 1, 2, 2, 3, 3], "worker": [10, 11] * 3,
                          "label": ["x", "x", "y", "y", "x", "x"]})
    model = DawidSkene().fit(first)
    model.partial_fit(pd.DataFrame({"task": ["1", "4"], "worker": ["12", "10"],
                                    "label": ["x", "y"]}))
    assert list(model.tasks_) == [1, 2, 3, 4] and list(model.workers_) == [10, 11, 12]
    texts = DawidSkene().fit(first.astype({"task": str}))
    texts.partial_fit(pd.DataFrame({"task": [4, 5], "worker": [10, 11], "label": ["x", "y"]}))
    assert list(texts.tasks_) == ["1", "2", "3", "4", "5"]
    kept = DawidSkene().fit(first)
    kept.partial_fit(pd.DataFrame({"task": ["007"], "worker": [10], "label": ["x"]}))
    assert kept.tasks_[-1] == "007"  # not the text of an integer as written: kept as text
    floats = DawidSkene().fit(first)  # a float column (NaN-padded) of the same ids
    floats.partial_fit(pd.DataFrame({"task": [1.0, 4.0], "worker": [12, 10],
                                     "label": ["x", "y"]}))
    assert list(floats.tasks_) == [1, 2, 3, 4] and floats.predict().index.dtype.kind == "i"
    for odd in ("--5", "\u00b2", "1" * 30):  # not int64 in ASCII digits: kept as text
        kept.partial_fit(pd.DataFrame({"task": [odd], "worker": [10], "label": ["x"]}))
        assert kept.tasks_[-1] == odd
