from __future__ import annotations

import numpy as np
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
    np.testing.assert_array_equal(labels[0::2], labels[1::2])  # identical votes, same label
    assert abs((labels[0::2] == 0).mean() - 0.5) < 0.06  # 820 fair coin flips: sd 0.017
    again = MajorityVote(seed=1).fit(tie_patterns()).labels_
    other = MajorityVote(seed=2).fit(tie_patterns()).labels_
    np.testing.assert_array_equal(labels, again)
    assert (labels != other).any()


def test_tasks_with_identical_votes_get_the_same_label():
    labels = MajorityVote(seed=0).fit(tied(500)).labels_
    assert len(set(labels)) == 1  # crowd-kit's test case: one tie pattern, one answer


def test_first_tie_break_picks_first_class():
    labels = MajorityVote(tie_break="first").fit(tied(10)).predict()
    assert (labels == "a").all()


def test_bad_tie_break():
    with pytest.raises(InputError, match="tie_break"):
        MajorityVote(tie_break="last").fit(tied(3))
