"""next_to_label: which tasks get one more answer."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, DawidSkene
from crowdlearn.active import information_gain, next_to_label, typical_confusion
from crowdlearn.errors import CrowdlearnWarning, InputError
from tests.conftest import make_crowd


def test_information_gain_limits():
    post = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    perfect = np.eye(3)
    spammer = np.full((3, 3), 1 / 3)
    # a perfect worker reveals the label: the gain is the posterior's entropy
    assert information_gain(post, perfect) == pytest.approx([0.0, np.log(2), np.log(3)])
    # a spammer's answer tells nothing, a settled task has nothing left to learn
    assert information_gain(post, spammer) == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)


def test_typical_confusion_weights_by_answers():
    conf = np.stack([np.eye(2), np.full((2, 2), 0.5)])
    assert typical_confusion(conf, np.array([3, 1])) == pytest.approx(
        0.75 * np.eye(2) + 0.25 * np.full((2, 2), 0.5))


def test_chooses_the_tasks_the_consensus_gets_wrong():
    ann, y, _ = make_crowd(n_tasks=600, n_workers=25, k=3, r=2, seed=1)
    ranked = next_to_label(ann, k=None)
    codes = ann.task_codes(ranked["task"].tolist())
    wrong = DawidSkene(n_threads=1).fit(ann).labels_ != y
    top, rest = wrong[codes[:150]].mean(), wrong[codes[150:]].mean()
    assert top > 2 * rest and top > 0.3
    assert (np.diff(ranked["score"].to_numpy()) <= 1e-12).all()  # best first


def test_model_probabilities_find_spammers_with_one_answer_per_task():
    ann, y, is_hammer = make_crowd(n_tasks=600, n_workers=25, k=3, r=1, seed=2)
    spammed = ~is_hammer[ann.worker[np.argsort(ann.task)]]
    rng = np.random.default_rng(0)
    proba = np.full((600, 3), 0.15)
    proba[np.arange(600), np.where(rng.random(600) < 0.8, y, (y + 1) % 3)] = 0.7
    chosen = next_to_label(ann, proba, k=200, checks=0.0)
    picked = spammed[ann.task_codes(chosen["task"].tolist())].mean()
    # without a model, one answer per task says nothing about the workers
    blind = next_to_label(ann, k=200, checks=0.0)
    blind_picked = spammed[ann.task_codes(blind["task"].tolist())].mean()
    assert picked > spammed.mean() + 0.1  # 0.82 against 0.70 (seed 2)
    assert abs(blind_picked - spammed.mean()) < 0.08  # chance


def test_checks_go_to_settled_tasks_with_fewest_answers():
    ann, _, _ = make_crowd(n_tasks=300, n_workers=20, k=3, r=2, seed=3)
    more = ann.to_frame()
    more = pd.concat([more, more[more["task"] < 50].drop_duplicates("task").assign(worker=999)])
    table = next_to_label(more, k=40, checks=0.25)
    checks = table[table["reason"] == "check"]
    assert len(table) == 40 and len(checks) == 10
    assert (checks["n_answers"] == 2).all()
    assert checks["confidence"].min() > table.loc[table["reason"] == "information",
                                                  "confidence"].max()


def test_an_uninformative_model_leaves_the_consensus_of_the_answers():
    # started from a near-uniform model alone, EM settled on a relabelling of the classes:
    # a consensus 0.22-0.35 right where majority vote is 0.72-0.91 right
    ann, y, _ = make_crowd(n_tasks=300, n_workers=20, k=3, r=3, seed=0, hammers=0.6)
    rng = np.random.default_rng(0)
    proba = 1 / 3 + 0.001 * rng.random((ann.n_tasks, 3))
    proba /= proba.sum(axis=1, keepdims=True)
    out = next_to_label(ann, proba=proba, k=None).set_index("task").reindex(ann.tasks)
    majority = (ann.vote_counts.argmax(axis=1) == y).mean()
    assert (out["label"].to_numpy() == y).mean() > majority + 0.05


def test_candidates_seed_and_frame_input():
    ann, _, _ = make_crowd(n_tasks=200, n_workers=10, k=3, r=1, seed=4)
    allowed = list(range(0, 200, 2))
    table = next_to_label(ann, k=30, candidates=allowed, seed=5)
    assert set(table["task"]) <= set(allowed)
    same = next_to_label(ann.to_frame(), k=30, candidates=allowed, seed=5)
    assert table["task"].tolist() == same["task"].tolist()
    other = next_to_label(ann, k=30, candidates=allowed, seed=6)
    assert table["task"].tolist() != other["task"].tolist()  # ties broken by the seed


def test_a_model_certain_and_wrong_is_outvoted_by_the_workers():
    # a tree's or a nearest neighbour's 0/1 probabilities: a hard 0 must not rule out the
    # class three reliable workers agree on, nor keep the task from being ranked
    ann, truth, _ = make_crowd(n_tasks=60, n_workers=10, k=3, r=3, seed=0, hammers=1.0)
    proba = np.eye(3)[truth]
    proba[0] = np.eye(3)[(truth[0] + 1) % 3]
    row = next_to_label(ann, proba, k=None).set_index("task").loc[ann.tasks[0]]
    answers = ann.to_frame().query("task == @ann.tasks[0]")["label"].tolist()
    assert max(set(answers), key=answers.count) == truth[0]  # the workers are right
    assert row["label"] == truth[0] and row["score"] > 0


def test_proba_as_a_frame_by_task_id():
    ann = Annotations.from_frame(pd.DataFrame({"task": ["a", "a", "b", "c"],
                                               "worker": ["u", "v", "u", "v"],
                                               "label": ["x", "y", "x", "y"]}))
    frame = pd.DataFrame({"proba_y": [0.5, 0.9, 0.1], "proba_x": [0.5, 0.1, 0.9]},
                         index=["c", "a", "b"])
    table = next_to_label(ann, frame, k=3)
    assert sorted(table["task"]) == ["a", "b", "c"]


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be a positive integer"),
    ({"k": True}, "k must be a positive integer"),
    ({"model_weight": -1.0}, "model_weight must be"),
    ({"checks": 1.0}, "checks must be a share"),
    ({"proba": np.full((2, 2), 0.5)}, r"proba must have shape \(3, 2\) \(tasks × classes\)"),
    ({"proba": np.array([[0.5, 0.6], [0.5, 0.5], [1.0, 0.0]])}, r"proba row 0 \(task 'a'\) "
                                                                  "sums to 1.1, not 1"),
    ({"proba": pd.DataFrame({"x": [1.0, 0.0], "y": [0.0, 1.0]}, index=["a", "b"])},
     "no row for 1 answered tasks, e.g. 'c'"),
    ({"proba": pd.DataFrame({"x": [1.0] * 3, "z": [0.0] * 3}, index=list("abc"))},
     "must be the classes"),
    ({"candidates": ["zz"]}, "zz"),
    ({"candidates": "ab"}, r"candidates must be a list of task ids, got the text 'ab' \(one "
                           r"task: candidates=\['ab'\]\)"),
    ({"aggregator": object()}, "aggregator must be a DawidSkene"),
    ({"seed": -1}, "seed must be an integer >= 0 or None, got -1"),
    ({"checks": np.float32(0.2), "seed": "a"}, "seed must be an integer"),  # float32 checks ok
])
def test_bad_input_is_one_line(kwargs, message):
    ann = Annotations.from_frame(pd.DataFrame({"task": ["a", "a", "b", "c"],
                                               "worker": ["u", "v", "u", "v"],
                                               "label": ["x", "y", "x", "y"]}))
    with pytest.raises(InputError, match=message) as info:
        next_to_label(ann, **kwargs)
    assert "\n" not in str(info.value)


def test_rows_of_unanswered_tasks_are_ignored_and_counted():
    # a model's predictions for every item, e.g. `crowdlearn predict --proba` on all of them
    ann = Annotations.from_frame(pd.DataFrame({"task": ["a", "a", "b", "c"],
                                               "worker": ["u", "v", "u", "v"],
                                               "label": ["x", "y", "x", "y"]}))
    proba = pd.DataFrame({"x": [0.5, 0.9, 0.1, 1.0, 0.3], "y": [0.5, 0.1, 0.9, 0.0, 0.7]},
                         index=list("abcde"))
    with pytest.warns(CrowdlearnWarning, match=r"proba: ignored the rows of 2 tasks without "
                                               r"answers \(e.g. 'd'\)"):
        table = next_to_label(ann, proba, k=3)
    assert sorted(table["task"]) == ["a", "b", "c"]
    assert table.equals(next_to_label(ann, proba.iloc[:3], k=3))


def test_one_answer_a_task_is_said():
    frame = pd.DataFrame({"task": range(6), "worker": [1, 2] * 3, "label": [0, 1] * 3})
    with pytest.warns(CrowdlearnWarning, match="no task has two answers yet"):
        next_to_label(frame, k=2)


def test_without_a_model_unchecked_workers_count_as_typical():
    # one answer per task: a worker with 90 tasks is no more trusted than one with 10
    frame = pd.DataFrame({"task": range(100), "worker": ["busy"] * 90 + ["rare"] * 10,
                          "label": np.arange(100) % 2})
    table = next_to_label(frame, k=None)
    assert np.ptp(table["score"].to_numpy()) < 1e-12  # a tie, broken by the seed


def test_one_answer_a_task_with_a_model_is_not_a_random_choice():
    frame = pd.DataFrame({"task": range(6), "worker": [1, 2] * 3, "label": [0, 1] * 3})
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.2, 0.8], [0.7, 0.3], [0.1, 0.9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrowdlearnWarning)
        table = next_to_label(frame, proba, k=6)
    assert table["score"].nunique() > 1


def test_checks_round_halves_up():
    ann, _, _ = make_crowd(n_tasks=100, n_workers=10, k=3, r=2, seed=3)
    for k, expected in ((5, 1), (25, 3), (10, 1), (4, 0)):
        table = next_to_label(ann, k=k)
        assert (table["reason"] == "check").sum() == expected, k
