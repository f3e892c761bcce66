"""Simulated crowds (docs/methods.md §4.1, §4.2): worker models, copiers, class groups, annotate."""

from __future__ import annotations

import numpy as np
import pytest

from crowdlearn import Annotations
from crowdlearn.errors import InputError
from crowdlearn.simulate import (
    Crowd,
    annotate,
    assign,
    classwise_hammer_spammer,
    diagonal,
    from_matrices,
    grouped,
    hammer_spammer,
    maxmig_case,
)


def is_identity(conf: np.ndarray) -> np.ndarray:
    return (conf == np.eye(conf.shape[-1])).all(axis=(-2, -1))


def answers_of(ann: Annotations, n_items: int) -> np.ndarray:
    """Items × workers matrix of answers, -1 where missing (task ids are item indices)."""
    out = np.full((n_items, ann.n_workers), -1)
    out[np.asarray(ann.tasks)[ann.task], ann.worker] = ann.label
    return out


# ---------------------------------------------------------------------- hammer-spammer
def test_hammer_fraction_matches_gamma():
    crowd = hammer_spammer(5000, 4, gamma=0.3, seed=0)
    share = is_identity(crowd.confusion).mean()
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 5000)  # 4 binomial sd


def test_spammer_matrix_is_uniform_plus_bump():
    crowd = hammer_spammer(50, 10, gamma=0.0, seed=0)
    np.testing.assert_allclose(crowd.confusion[:, 0, 0], 0.11 / 1.01)  # ≈ 0.1089
    np.testing.assert_allclose(crowd.confusion[:, 0, 1], 0.10 / 1.01)  # ≈ 0.0990
    assert is_identity(hammer_spammer(5, 3, gamma=1.0, seed=0).confusion).all()


def test_classwise_rows():
    crowd = classwise_hammer_spammer(2000, 5, gamma=0.25, seed=1)
    conf = crowd.confusion
    onehot = (conf == np.eye(5)).all(axis=2)
    assert abs(onehot.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 10_000)
    diag = np.diagonal(conf, axis1=1, axis2=2)[~onehot]
    assert (diag >= 1.10 / 5.10 - 1e-12).all() and (diag <= 1.11 / 5.11 + 1e-12).all()
    np.testing.assert_allclose(conf.sum(axis=2), 1.0)


@pytest.mark.parametrize("gamma", [-0.1, 1.1, float("nan"), "a", None, True])
def test_bad_gamma(gamma):
    with pytest.raises(InputError, match="gamma"):
        hammer_spammer(10, 3, gamma)
    with pytest.raises(InputError, match="gamma"):
        classwise_hammer_spammer(10, 3, gamma)


# ---------------------------------------------------------------------- annotate
def test_annotate_follows_confusion_and_hammers_are_right():
    y = np.random.default_rng(0).integers(0, 4, 3000)
    crowd = hammer_spammer(30, 4, gamma=0.5, seed=2)
    ann = crowd.annotate(y, assign(len(y), 30, 5, seed=3), seed=4)
    assert isinstance(ann, Annotations) and len(ann) == 15_000
    hammer = is_identity(crowd.confusion)
    right = ann.label == y[ann.task]
    assert right[hammer[ann.worker]].all()
    spam = ~hammer[ann.worker]
    assert abs(right[spam].mean() - (1 / 4 + 0.01) / 1.04) < 0.02


def test_annotate_accuracy_of_diagonal_crowd():
    y = np.random.default_rng(1).integers(0, 3, 20_000)
    ann = diagonal(1, 3, 0.7).annotate(y, seed=0)
    assert abs((ann.label == y).mean() - 0.7) < 0.015


def test_annotate_ragged_assignment_and_ids():
    y = np.array([0, 1, 2, 1])
    a = np.array([[0, 1], [-1, -1], [2, -1], [1, 0]])
    ann = hammer_spammer(3, 3, 1.0, seed=0).annotate(y, a, seed=0, tasks=list("abcd"),
                                                      classes=["x", "y", "z"])
    assert ann.tasks == ["a", "c", "d"] and ann.workers == [0, 1, 2]
    df = ann.to_frame()
    assert df.values.tolist() == [["a", 0, "x"], ["a", 1, "x"], ["c", 2, "z"],
                                  ["d", 1, "y"], ["d", 0, "y"]]


def test_annotate_same_seed_same_output():
    y = np.random.default_rng(0).integers(0, 5, 500)
    crowd = maxmig_case(3, "low", 5)
    a = assign(500, crowd.n_workers, 4, seed=0)
    f1 = crowd.annotate(y, a, seed=9).to_frame()
    f2 = annotate(crowd, y, a, seed=9).to_frame()
    assert f1.equals(f2)
    assert not f1.equals(crowd.annotate(y, a, seed=10).to_frame())


@pytest.mark.parametrize("assignment, match", [
    (np.array([[0, 0], [1, 2]]), "twice"),
    (np.array([[0, 3], [1, 2]]), "not a worker"),
    (np.array([[0, 1]]), "2 rows"),
    (np.array([[0.0, 1.0], [1.0, 2.0]]), "integer"),
    (np.full((2, 2), -1), "no item"),
])
def test_bad_assignment(assignment, match):
    with pytest.raises(InputError, match=match):
        hammer_spammer(3, 2, 0.5, seed=0).annotate(np.array([0, 1]), assignment)


def test_annotate_bad_labels():
    with pytest.raises(InputError, match="class code"):
        hammer_spammer(3, 2, 0.5).annotate(np.array([0, 2]))


# ---------------------------------------------------------- Max-MIG (docs/methods.md §4.2)
@pytest.mark.parametrize("dataset, expertise, sizes", [
    (None, "low", (10, 15, 12)), (None, "high", (5, 10, 10)),
    ("dogs-vs-cats", "low", (10, 25, 12)), ("dogs-vs-cats", "high", (5, 10, 10)),
    ("luna16", "low", (10, 25, 12)), ("luna16", "high", (5, 10, 10)),
])
def test_maxmig_table_sizes(dataset, expertise, sizes):
    for case, size in zip((1, 2, 3), sizes, strict=True):
        crowd = maxmig_case(case, expertise, dataset=dataset)
        assert crowd.n_workers == size
        np.testing.assert_allclose(crowd.dense_confusion().sum(axis=2), 1.0)


@pytest.mark.parametrize("dataset, expertise", [(None, "low"), (None, "high"),
                                                ("dogs-vs-cats", "low"), ("luna16", "high")])
def test_maxmig_case2_juniors_always_answer_zero(dataset, expertise):
    crowd = maxmig_case(2, expertise, dataset=dataset)
    n_seniors = 10 if expertise == "low" else 5
    y = np.random.default_rng(0).integers(0, crowd.n_classes, 2000)
    ans = answers_of(crowd.annotate(y, seed=1), len(y))
    assert (ans[:, n_seniors:] == 0).all()
    assert (ans[:, :n_seniors] != 0).any()


@pytest.mark.parametrize("dataset, expertise, targets", [
    (None, "low", [0, 2]), (None, "high", [0, 0, 2, 2, 2]),
    ("dogs-vs-cats", "high", [0, 0, 0, 1, 1]), ("luna16", "low", [0, 1]),
])
def test_maxmig_case3_copiers_equal_their_senior(dataset, expertise, targets):
    crowd = maxmig_case(3, expertise, dataset=dataset)
    n_seniors = crowd.n_workers - len(targets)
    np.testing.assert_array_equal(crowd.copies[n_seniors:], targets)
    y = np.random.default_rng(0).integers(0, crowd.n_classes, 3000)
    # full assignment, and a partial one where copier and senior share only some items
    for a in (None, assign(len(y), crowd.n_workers, 4, seed=2)):
        ans = answers_of(crowd.annotate(y, a, seed=3), len(y))
        for j, t in enumerate(targets, start=n_seniors):
            both = (ans[:, j] >= 0) & (ans[:, t] >= 0)
            assert both.any()
            np.testing.assert_array_equal(ans[both, j], ans[both, t])
    # a copier is not an independent draw from its senior's matrix: copies agree exactly
    # while two independent 0.2-accuracy seniors would agree far less often
    ans = answers_of(crowd.annotate(y, seed=4), len(y))
    assert (ans[:, n_seniors] == ans[:, targets[0]]).all()


def test_maxmig_copier_without_its_senior_follows_senior_matrix():
    crowd = maxmig_case(3, "low", 4)
    y = np.random.default_rng(1).integers(0, 4, 20_000)
    a = np.full((len(y), 1), crowd.n_workers - 2)  # only the copier of expert 0 answers
    ann = crowd.annotate(y, a, seed=0)
    assert abs((ann.label == y).mean() - 0.2) < 0.015


def test_maxmig_cifar_high_experts_stay_in_pairs():
    crowd = maxmig_case(1, "high")
    pair = {0: 2, 2: 0, 1: 9, 9: 1, 3: 5, 5: 3, 4: 7, 7: 4, 6: 8, 8: 6}
    dense = crowd.dense_confusion()
    for k, partner in pair.items():
        outside = np.setdiff1d(np.arange(10), [k, partner])
        assert (dense[:, k, outside] == 0).all()
    assert (dense[0, [0, 2], 0] == 1).all()  # expert 0: the pair's first class
    np.testing.assert_allclose(dense[1, 3, [3, 5]], 0.5)
    assert dense[2, 5, 5] == 1 and dense[2, 0, 2] == 0.5
    assert dense[3, 7, 4] == 1 and dense[3, 9, 9] == 1
    np.testing.assert_allclose(dense[4, 6, [6, 8]], [0.6, 0.4])


def test_maxmig_low_generalises_and_high_needs_ten_classes():
    crowd = maxmig_case(1, "low", 4)
    eye = np.eye(4, dtype=bool)
    np.testing.assert_allclose(crowd.confusion[:, eye], 0.2)
    np.testing.assert_allclose(crowd.confusion[:, ~eye], 0.8 / 3)
    with pytest.raises(InputError, match="n_classes=10"):
        maxmig_case(1, "high", 4)
    with pytest.raises(InputError, match="2 classes"):
        maxmig_case(1, "low", 10, dataset="luna16")
    with pytest.raises(InputError, match="case"):
        maxmig_case(4, "low")
    with pytest.raises(InputError, match="expertise"):
        maxmig_case(1, "medium")


def test_composed_naive_majority_crowd():
    crowd = diagonal(10, 10, 0.4).with_constant(15, 0)  # the harsh crowd, docs/methods.md §4.2
    assert crowd.n_workers == 25
    assert (crowd.confusion[10:, :, 0] == 1).all()
    np.testing.assert_allclose(crowd.confusion[0, 3, 3], 0.4)


# ---------------------------------------------------------------------- groups of classes
@pytest.mark.parametrize("partition", ["consecutive", "random"])
@pytest.mark.parametrize("class_wise", [False, True])
def test_grouped_answers_never_leave_the_group(partition, class_wise):
    crowd = grouped(40, 60, 6, gamma=0.2, class_wise=class_wise, partition=partition, seed=0)
    assert crowd.confusion.shape == (40, 6, 6) and crowd.groups.shape == (10, 6)
    group_of = np.empty(60, dtype=int)
    group_of[crowd.groups] = np.arange(10)[:, None]
    y = np.random.default_rng(1).integers(0, 60, 5000)
    ann = crowd.annotate(y, assign(len(y), 40, 3, seed=2), seed=3)
    assert (group_of[ann.label] == group_of[y[ann.task]]).all()
    assert (ann.label != y[ann.task]).any()
    dense = crowd.dense_confusion()
    np.testing.assert_allclose(dense.sum(axis=2), 1.0)
    assert (dense[:, group_of[:, None] != group_of[None, :]] == 0).all()


def test_grouped_bad_sizes():
    with pytest.raises(InputError, match="multiple"):
        grouped(5, 10, 3, 0.2)
    with pytest.raises(InputError, match="group"):
        grouped(5, 10, 5, 0.2).with_constant(2)


# ---------------------------------------------------------------------- user matrices
def test_from_matrices_and_validation():
    conf = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]])
    crowd = from_matrices(conf)
    assert crowd.n_workers == 2 and crowd.n_classes == 2
    np.testing.assert_allclose(crowd.confusion, conf)
    bad = conf.copy()
    bad[1, 0] = [0.5, 0.6]
    with pytest.raises(InputError, match=r"row \[1, 0\].*sums to 1.1"):
        from_matrices(bad)
    with pytest.raises(InputError, match="W×K×K"):
        from_matrices(conf[0])
    with pytest.raises(InputError, match="copies too"):
        Crowd(np.stack([conf[0]] * 3), copies=[-1, 0, 1])
    with pytest.raises(InputError, match="itself"):
        Crowd(np.stack([conf[0]] * 2), copies=[-1, 1])
    with pytest.raises(InputError, match="partition"):
        Crowd(conf, groups=np.array([[0, 0]]))


def test_with_copiers_resolves_copies_of_copies():
    crowd = diagonal(2, 3, 0.5).with_copiers([1]).with_copiers([2])
    np.testing.assert_array_equal(crowd.copies, [-1, -1, 1, 1])
    assert "2 copiers" in repr(crowd)


def test_simulate_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, crowdlearn.simulate as s; s.instance_dependent; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_degenerate_crowds_and_ids_are_refused_in_one_line():
    crowd = hammer_spammer(5, 3, 0.5, seed=0)
    assert crowd.with_copiers([]).n_workers == 5  # no copier: the same crowd
    y = np.zeros(4, dtype=int)
    with pytest.raises(InputError, match="tasks must hold one id per item .4., got 'abcd'"):
        crowd.annotate(y, None, tasks="abcd")
    with pytest.raises(InputError, match="classes must hold 3 ids, got 'abc'"):
        crowd.annotate(y, None, classes="abc")
    with pytest.raises(InputError, match="confusion has no worker"):
        Crowd(np.ones((0, 2, 2)) / 2)
    with pytest.raises(InputError, match="a crowd needs at least 2 classes"):
        Crowd(np.ones((2, 1, 1)))
