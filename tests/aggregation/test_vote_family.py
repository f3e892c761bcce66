"""Weighted majority vote, Wawa, zero-based skill, gold majority vote and KOS."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, InputError
from crowdlearn.aggregation import (
    KOS,
    GoldMajorityVote,
    MajorityVote,
    Wawa,
    ZeroBasedSkill,
)
from crowdlearn.errors import CrowdlearnWarning
from tests.conftest import make_crowd


def _accuracy(model, y) -> float:
    return float((model.labels_ == y).mean())


def test_weighted_vote_follows_the_weights():
    # task 0: workers a, b say x; c says y. With c weighing 3, y wins.
    frame = pd.DataFrame({"task": [0, 0, 0], "worker": ["a", "b", "c"],
                          "label": ["x", "x", "y"]})
    assert MajorityVote().fit(frame).predict()[0] == "x"
    weighted = MajorityVote(weights={"a": 1, "b": 1, "c": 3}).fit(frame)
    assert weighted.predict()[0] == "y"
    np.testing.assert_allclose(weighted.posteriors_[0], [0.4, 0.6])
    with pytest.raises(InputError, match="no weight for 1 workers, e.g. 'c'"):
        MajorityVote(weights={"a": 1, "b": 1}).fit(frame)
    assert MajorityVote(weights={"a": 1, "b": 1}, default_weight=5).fit(frame).predict()[0] == "y"
    text_ids = pd.Series({"a": 1.0, "b": 1.0, "c": 3.0})
    assert MajorityVote(weights=text_ids).fit(frame).predict()[0] == "y"
    # the parameter does not hide the skills() every aggregator has
    pd.testing.assert_series_equal(weighted.skills(), pd.Series(
        [0.0, 0.0, 1.0], index=pd.Index(["a", "b", "c"], name="worker"), name="skill"))
    assert list(MajorityVote().fit(frame).skills()) == [1.0, 1.0, 0.0]
    with pytest.raises(InputError, match="'weights' parameter of MajorityVote must be a "
                                         "mapping or Series of worker id → weight or None"):
        MajorityVote(weights=0.5).fit(frame)
    with pytest.raises(InputError, match=r"'default_weight' parameter of MajorityVote must be a "
                                         r"float in the range \(-inf, inf\) or None\. Got 'abc'"):
        MajorityVote(weights={"a": 1.0}, default_weight="abc").fit(frame)
    with pytest.raises(InputError, match="weights must be numbers: could not convert"):
        MajorityVote(weights={"a": "heavy", "b": 1, "c": 1}).fit(frame)
    with pytest.warns(CrowdlearnWarning, match="the weights name none of the answers' "
                                               r"workers \('zz'\): every vote has the default "
                                               "weight 1"):
        MajorityVote(weights={"zz": 5}, default_weight=1).fit(frame)


def test_weighted_ties_are_drawn_per_task():
    frame = pd.DataFrame({"task": [0, 0, 1, 1], "worker": ["a", "b", "a", "b"],
                          "label": ["x", "y", "x", "y"]})
    first = MajorityVote(weights={"a": 2, "b": 2}, tie_break="first").fit(frame)
    assert list(first.predict()) == ["x", "x"]
    drawn = {tuple(MajorityVote(weights={"a": 2, "b": 2}, seed=s).fit(frame).predict())
             for s in range(40)}  # each task's tie drawn on its own
    assert drawn == {("x", "x"), ("x", "y"), ("y", "x"), ("y", "y")}


def test_wawa_and_zbs_beat_majority_vote_on_a_mixed_crowd():
    ann, y, _ = make_crowd(n_tasks=800, n_workers=30, k=3, r=5, seed=1, hammers=0.3)
    mv = _accuracy(MajorityVote().fit(ann), y)
    wawa = Wawa().fit(ann)
    zbs = ZeroBasedSkill().fit(ann)
    assert _accuracy(wawa, y) > mv + 0.03 and _accuracy(zbs, y) > mv + 0.03
    # skills separate hammers (first ~30%) from spammers
    _, _, hammer = make_crowd(n_tasks=800, n_workers=30, k=3, r=5, seed=1, hammers=0.3)
    for skill in (wawa.skill_, zbs.skill_):
        assert skill[hammer].min() > skill[~hammer].max()


def test_zero_based_skill_parameters():
    ann, _, _ = make_crowd(n_tasks=50, seed=2)
    with pytest.raises(InputError, match=r"'n_iter' parameter of ZeroBasedSkill must be an "
                                         r"int in the range \[1, inf\)\. Got 0"):
        ZeroBasedSkill(n_iter=0).fit(ann)
    with pytest.raises(InputError, match=r"'lr_init' parameter of ZeroBasedSkill must be a "
                                         r"float in the range \[0\.0, inf\)"):
        ZeroBasedSkill(lr_init=-1.0).fit(ann)
    one = ZeroBasedSkill(n_iter=1, lr_init=0.0).fit(ann)  # no step: skills stay at 1/K + eps
    np.testing.assert_allclose(one.skill_, 1 / 3 + 1e-5)


def test_gold_majority_vote():
    ann, y, hammer = make_crowd(n_tasks=600, n_workers=25, k=3, r=5, seed=4)
    gold = pd.Series(y[:150], index=list(ann.tasks[:150]))
    model = GoldMajorityVote().fit(ann, gold=gold)
    assert (model.labels_[:150] == y[:150]).all()  # gold tasks keep their label
    assert _accuracy(model, y) > _accuracy(MajorityVote().fit(ann), y) + 0.03
    assert model.skill_[hammer].min() > model.skill_[~hammer].max()
    with pytest.raises(InputError, match="needs gold"):
        GoldMajorityVote().fit(ann)
    with pytest.raises(InputError):
        GoldMajorityVote().fit(ann, gold={"no such task": 0})


def test_gold_majority_vote_says_when_every_vote_weighs_nothing():
    frame = pd.DataFrame({"task": [0, 0, 1, 1, 2, 2], "worker": ["a", "b"] * 3,
                          "label": ["x", "x", "y", "x", "x", "y"]})
    with pytest.warns(CrowdlearnWarning, match="2 tasks were answered only by workers of "
                      r"skill 0 \(every gold answer wrong"):
        model = GoldMajorityVote().fit(frame, gold={0: "y"})
    assert model.skill_.tolist() == [0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrowdlearnWarning)
        GoldMajorityVote().fit(frame, gold={0: "x"})  # skilled workers: nothing to say


def test_gold_majority_vote_default_skill():
    frame = pd.DataFrame({"task": [0, 0, 1, 1], "worker": ["a", "b", "a", "c"],
                          "label": ["x", "y", "x", "y"]})
    model = GoldMajorityVote(default_skill=0.25).fit(frame, gold={0: "x"})
    np.testing.assert_allclose(model.skill_, [1.0, 0.0, 0.25])  # c answered no gold task
    assert list(model.gold_answers_) == [1, 1, 0]
    assert model.predict()[1] == "x"  # a (1.0) outweighs c (0.25)
    mean = GoldMajorityVote().fit(frame, gold={0: "x"})
    assert mean.skill_[2] == pytest.approx(0.5)  # one right of two gold answers
    for outside in (-1.0, 1.5):  # an accuracy: the skills it gives would not be
        with pytest.raises(InputError, match=r"'default_skill' parameter .* range \[0.0, 1.0\]"):
            GoldMajorityVote(default_skill=outside).fit(frame, gold={0: "x"})


def test_kos_on_binary_crowds():
    ann, y, _ = make_crowd(n_tasks=1000, n_workers=40, k=2, r=7, seed=5, hammers=0.4)
    kos = KOS().fit(ann)
    assert _accuracy(kos, y) > _accuracy(MajorityVote().fit(ann), y)
    assert np.abs(kos.score_).max() == pytest.approx(1.0)
    assert kos.n_iter_ == 10 and KOS(n_iter=3).fit(ann).n_iter_ == 3
    assert set(np.unique(kos.posteriors_)) <= {0.0, 0.5, 1.0}
    np.testing.assert_array_equal(KOS(seed=3).fit(ann).labels_, KOS(seed=3).fit(ann).labels_)


def test_kos_orients_each_part_of_the_crowd_by_its_answers():
    # a small crowd apart from the main one: its labels' sign comes from its own random start,
    # which some seeds drew negative (every label flipped, unanimous tasks included)
    ann, _, _ = make_crowd(n_tasks=20, n_workers=5, k=2, r=5, seed=0)
    main = pd.DataFrame({"task": ann.task.astype(str), "worker": ann.worker.astype(str),
                         "label": np.array(["a", "b"])[ann.label]})
    apart = pd.DataFrame({"task": ["u1", "u1", "u2", "u2", "u3", "u3"],
                          "worker": ["v1", "v2"] * 3, "label": ["b", "b", "a", "a", "b", "b"]})
    frame = pd.concat([main, apart])
    for seed in (198, 207, 0):
        labels = KOS(seed=seed).fit(frame).predict()
        assert labels[["u1", "u2", "u3"]].tolist() == ["b", "a", "b"], seed


def test_kos_refuses_more_than_two_classes():
    ann, _, _ = make_crowd(n_tasks=50, k=3, seed=6)
    with pytest.raises(InputError, match="KOS is for two classes; these answers have 3.*"
                                         "use DawidSkene"):
        KOS().fit(ann)
    declared = Annotations([0, 0, 1], [0, 1, 0], [0, 1, 1], classes=list(range(200)))
    with pytest.raises(InputError, match=r"200 \(0, 1, 2, 3, 4, …\) are declared, 2 of them "
                                         "answered: declare only the answered ones"):
        KOS().fit(declared)
    with pytest.raises(InputError, match="n_iter"):
        KOS(n_iter=0).fit(Annotations([0, 0], [0, 1], [0, 1]))


def test_wawa_warns_once():
    frame = pd.DataFrame({"task": [0, 1, 2], "worker": ["u"] * 3, "label": ["x", "y", "x"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Wawa().fit(frame)
    messages = [str(w.message) for w in caught]
    assert any("single worker" in m for m in messages)
    assert len(messages) == len(set(messages))  # the inner majority vote says nothing


def test_kos_fit_warns_at_the_callers_line_when_it_contradicts_the_vote(monkeypatch):
    import crowdlearn.aggregation.kos as kos

    ann, _, _ = make_crowd(n_tasks=60, n_workers=8, k=2, r=3, seed=1)
    monkeypatch.setattr(kos, "_oriented", lambda ann, sign, score: -score)  # a flipped fit
    with pytest.warns(CrowdlearnWarning, match="KOS: the labels agree with the majority vote "
                                               r"on only \d+\.\d% of the") as caught:
        KOS().fit(ann)
    assert caught[0].filename == __file__


def test_kos_warns_when_its_labels_contradict_the_vote_on_most_tasks():
    from crowdlearn.aggregation.kos import _warn_against_the_vote

    votes = np.array([3.0] * 30 + [-1.0] * 10 + [0.0] * 5)  # 40 tasks with a majority
    against = np.ones(45, dtype=int)  # class 1 where 30 of them vote class 0
    with pytest.warns(CrowdlearnWarning, match="agree with the majority vote on only 25.0% of "
                                               "the 40 tasks that have one"):
        _warn_against_the_vote(against, votes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_against_the_vote(np.where(votes >= 0, 0, 1), votes)  # the vote's labels
        _warn_against_the_vote(against[:10], votes[:10])  # too few tasks to tell
