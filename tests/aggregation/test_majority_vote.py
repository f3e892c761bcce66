from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, InputError, MajorityVote


def tied(n=4000):
    # every task gets one vote for class 0 and one for class 2: a tie
    task = np.repeat(np.arange(n), 2)
    worker = np.tile([0, 1], n)
    label = np.tile([0, 2], n)
    return Annotations(task, worker, label, classes=["a", "b", "c"])


def test_clear_majority():
    ann = Annotations([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [1, 1, 0, 2, 2])
    mv = MajorityVote().fit(ann)
    assert mv.labels_.tolist() == [1, 2]
    np.testing.assert_allclose(mv.posteriors_[0], [1 / 3, 2 / 3, 0])
    np.testing.assert_allclose(mv.skill_, [1.0, 1.0, 0.0])


def tie_patterns():
    """Two tasks for each of 820 distinct tied vote rows: m votes for classes 0 and 2 and
    j < m for class 1 (m = 1..40)."""
    task, worker, label, t = [], [], [], 0
    for m in range(1, 41):
        for j in range(m):
            votes = [0] * m + [2] * m + [1] * j
            for _ in range(2):
                task += [t] * len(votes)
                worker += list(range(len(votes)))
                label += votes
                t += 1
    return Annotations(task, worker, label)


def test_random_ties_are_uniform_among_tied_and_seeded():
    labels = MajorityVote(seed=1).fit(tie_patterns()).labels_
    assert set(labels) == {0, 2}  # never a class outside the tie
    assert abs((labels == 0).mean() - 0.5) < 0.05  # 1,640 fair coin flips: sd 0.012
    # tasks with identical votes are drawn apart: about half of the pairs differ
    assert abs((labels[0::2] != labels[1::2]).mean() - 0.5) < 0.06
    again = MajorityVote(seed=1).fit(tie_patterns()).labels_
    other = MajorityVote(seed=2).fit(tie_patterns()).labels_
    np.testing.assert_array_equal(labels, again)
    assert (labels != other).any()


def test_one_tie_pattern_is_not_one_label():
    # a tie between two classes on every task: drawn per task, not once for all (which
    # would give every such task one class, a bias a model trained on them learns)
    labels = MajorityVote(seed=0).fit(tied(4000)).labels_
    assert abs((labels == 0).mean() - 0.5) < 0.03  # sd 0.008
    # crowd-kit's rule, the first tied class, is tie_break="first": one label for all
    assert set(MajorityVote(tie_break="first").fit(tied(500)).labels_) == {0}


def test_tie_draws_follow_the_task_not_its_row():
    ann = tied(300)
    labels = MajorityVote(seed=3).fit(ann).predict()
    order = np.random.default_rng(0).permutation(len(ann.task))
    shuffled = Annotations(ann.task[order], ann.worker[order], ann.label[order],
                           classes=["a", "b", "c"])
    assert MajorityVote(seed=3).fit(shuffled).predict().sort_index().equals(
        labels.sort_index())
    # a task's draw depends on its id only: dropping the other tasks changes nothing
    assert MajorityVote(seed=3).fit(ann.subset(range(0, 300, 3))).predict().equals(
        labels.iloc[::3])


def test_first_tie_break_picks_first_class():
    labels = MajorityVote(tie_break="first").fit(tied(10)).predict()
    assert (labels == "a").all()


def test_bad_tie_break():
    with pytest.raises(InputError, match="tie_break"):
        MajorityVote(tie_break="last").fit(tied(3))


def test_unsigned_ids_beyond_int64_and_huge_seeds():
    tasks = np.uint64(2**63) + np.arange(6, dtype=np.uint64)
    frame = pd.DataFrame({"task": np.repeat(tasks, 2), "worker": ["a", "b"] * 6,
                          "label": ["x", "y"] * 6})  # every task tied
    labels = MajorityVote(seed=0).fit(Annotations.from_frame(frame)).predict()
    assert len(labels) == 6 and set(labels) <= {"x", "y"}
    assert MajorityVote(seed=2**64 + 5).fit(Annotations.from_frame(frame)).predict().equals(
        MajorityVote(seed=5).fit(Annotations.from_frame(frame)).predict())
