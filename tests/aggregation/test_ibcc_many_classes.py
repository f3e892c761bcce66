"""IBCC with many classes: the default confusion prior never holds a worker likelier wrong
than right (``confusion_off="auto"``), so few answers over many (or declared but unused)
classes no longer put every task in one class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError, MajorityVote
from crowdlearn.aggregation.ibcc import IBCC, confusion_prior

pytestmark = pytest.mark.filterwarnings("ignore::crowdlearn.errors.CrowdlearnWarning")


def binary_crowd(n_declared: int, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """40 tasks, 5 workers right 80% of the time on 2 classes, labels declared as a
    Categorical with ``n_declared`` categories (all but two unused)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 40)
    task, worker = np.repeat(np.arange(40), 5), np.tile(np.arange(5), 40)
    label = np.where(rng.random(200) < 0.8, truth[task], 1 - truth[task])
    frame = pd.DataFrame({"task": task, "worker": worker,
                          "label": pd.Categorical(label, categories=range(n_declared))})
    return frame, truth


def test_default_prior_is_the_authors_up_to_five_classes_and_capped_beyond():
    for k in (2, 3, 5):
        np.testing.assert_array_equal(confusion_prior(k, 4.0, "auto"), confusion_prior(k, 4.0, 1.0))
    beta = confusion_prior(50, 4.0, "auto")
    np.testing.assert_allclose(beta.sum(axis=1), 8.0)
    np.testing.assert_allclose(np.diag(beta) / beta.sum(axis=1), 0.5)
    np.testing.assert_allclose(confusion_prior(50, 4.0, 1.0).sum(axis=1), 53.0)  # as given


def test_two_classes_unchanged_by_the_rule():
    frame, _ = binary_crowd(2)
    auto, fixed = IBCC(n_threads=1).fit(frame), IBCC(confusion_off=1.0, n_threads=1).fit(frame)
    np.testing.assert_array_equal(auto.posteriors_, fixed.posteriors_)
    np.testing.assert_array_equal(auto.confusion_prior_, [[4, 1], [1, 4]])


@pytest.mark.parametrize("n_declared", [50, 200])
def test_declared_unused_classes_do_not_collapse_the_labels(n_declared):
    frame, truth = binary_crowd(n_declared)
    vote = MajorityVote().fit_predict(frame).to_numpy()
    labels = IBCC(n_threads=1).fit_predict(frame).to_numpy()
    assert (vote == truth).mean() == pytest.approx(0.925)
    # the old prior (1 on every off-diagonal cell) labelled every task 0: accuracy 0.525
    assert (labels == truth).mean() >= 0.9
    assert set(labels) == {0, 1}
    old = IBCC(confusion_off=1.0, n_threads=1).fit_predict(frame).to_numpy()
    assert set(old) == {0}  # the collapse the default avoids, still reachable on request


def test_one_answer_a_task_over_a_hundred_classes_keeps_the_answers():
    rng = np.random.default_rng(101)
    n_tasks, k = 500, 100
    truth = rng.integers(0, k, n_tasks)
    label = np.where(rng.random(n_tasks) < 0.7, truth, rng.integers(0, k, n_tasks))
    frame = pd.DataFrame({"task": np.arange(n_tasks), "worker": rng.integers(0, 20, n_tasks),
                          "label": label})
    model = IBCC(n_threads=1).fit(frame)
    # nothing but the one answer speaks for a task: its label is that answer (the old prior
    # put nearly every task in one class, accuracy 0.03 where the answers have 0.7)
    np.testing.assert_array_equal(model.predict().to_numpy(), label)
    assert (model.predict().to_numpy() == truth).mean() > 0.65


@pytest.mark.parametrize("value", ["flat", -1.0, 0.0])
def test_bad_confusion_off_is_named(value):
    frame, _ = binary_crowd(2)
    with pytest.raises(InputError, match="confusion_off"):
        IBCC(confusion_off=value).fit(frame)
