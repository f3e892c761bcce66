"""next_to_label with no task answered twice (where relabelling starts): the consensus is
each task's answer from an unchecked worker, not the first class at 1/K."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import next_to_label
from crowdlearn.active import information_gain


def one_answer_each(k: int, n_tasks: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"task": np.arange(n_tasks), "worker": rng.integers(0, 5, n_tasks),
                         "label": rng.integers(0, k, n_tasks)})


@pytest.mark.parametrize("k", [2, 3, 7])
def test_consensus_is_the_answer_at_an_unchecked_workers_confidence(k):
    frame = one_answer_each(k)
    out = next_to_label(frame, k=None).set_index("task").sort_index()
    assert (out["label"] == frame.set_index("task")["label"]).all()
    assert np.allclose(out["confidence"], (k + 1) / (2 * k))
    assert (out["score"] > 0).all()
    assert np.round(out["score"], 12).nunique() == 1  # nothing yet tells the tasks apart


def test_one_worker_task_answered_one_is_reported_one():
    frame = pd.DataFrame({"task": range(6), "worker": "w", "label": [t % 2 for t in range(6)]})
    out = next_to_label(frame, k=3).set_index("task")
    for task, row in out.iterrows():
        assert row["label"] == task % 2 and row["confidence"] == pytest.approx(0.75)


def test_round_one_order_is_the_seeded_random_one():
    # equal scores and answer counts: the ranking is the seed's random order, checks included
    frame = one_answer_each(3, n_tasks=200)
    first = next_to_label(frame, k=20, seed=4)
    again = next_to_label(frame, k=20, seed=4)
    other = next_to_label(frame, k=20, seed=5)
    assert first["task"].tolist() == again["task"].tolist()
    assert first["task"].tolist() != other["task"].tolist()
    assert (first["reason"] == "check").sum() == 2
    # the checks are the next tasks of the same random order, as with tied posteriors
    ranked = next_to_label(frame, k=None, seed=4)["task"].tolist()
    assert first["task"].tolist() == ranked[:20]


def test_unchecked_confusion_is_the_mean_of_a_uniform_accuracy_on_chance_to_one():
    from crowdlearn.active import unchecked_confusion

    k = 4
    pi = unchecked_confusion(k)
    assert np.allclose(pi.sum(axis=1), 1.0)
    assert np.allclose(np.diag(pi), np.mean(np.linspace(1 / k, 1, 100001)), atol=1e-6)
    # a disagreement is worth more to settle than an agreement
    post = np.array([[0.5, 0.5, 0, 0], [0.9, 0.1 / 3, 0.1 / 3, 0.1 / 3]])
    gain = information_gain(post, pi)
    assert gain[0] > gain[1] > 0
