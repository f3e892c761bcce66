"""Max-MIG and the learning-from-crowds baselines that train on the answers directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from crowdlearn import Annotations, InputError
from crowdlearn.datasets import load
from crowdlearn.learners import AggNet, CrowdLayer, DoctorNet, MaxMIG, make_crowd_learner
from crowdlearn.learners.crowd_answers import (
    CrowdAnswers,
    confusion_against,
    group_shares,
    soft_majority,
)
from crowdlearn.learners.max_mig import CrowdsAggregator, f_mig, forecast, initial_aggregator
from crowdlearn.nn import make_model, split_classifier
from crowdlearn.simulate import diagonal


@pytest.fixture(scope="module")
def naive_majority():
    """Case 2 of Max-MIG on 600 digits: 5 seniors with accuracy 0.5 and 8 juniors who
    always answer class 0 — the majority vote is almost always 0."""
    train, test = load("digits", "train"), load("digits", "test")
    n = 600
    crowd = diagonal(5, 10, 0.5).with_constant(8, 0)
    full = np.tile(np.arange(13), (n, 1))
    ann = crowd.annotate(train.y[:n], full, seed=0, tasks=list(range(n)),
                         classes=list(train.classes))
    test_ann = crowd.annotate(test.y, np.tile(np.arange(13), (len(test.y), 1)), seed=1,
                              tasks=list(range(len(test.y))), classes=list(train.classes))
    return train.X[:n], ann, test, test_ann


def test_padded_answers_round_trip():
    ann = Annotations.from_frame(pd.DataFrame({"task": ["b", "a", "b", "c"],
                                               "worker": ["u", "v", "v", "u"],
                                               "label": [1, 0, 0, 1]}))
    workers, labels = ann.padded_answers()
    assert workers.shape == labels.shape == (3, 2)
    got = {(ann.tasks[t], ann.workers[workers[t, s]], ann.classes[labels[t, s]])
           for t in range(3) for s in range(2) if workers[t, s] >= 0}
    frame = ann.to_frame()
    assert got == set(zip(frame.task, frame.worker, frame.label, strict=True))
    assert (workers >= 0).sum() == 4 and ((workers < 0) == (labels < 0)).all()


def test_f_mig_kl_is_log_k_for_perfect_agreement_and_zero_for_independence():
    rng = np.random.default_rng(0)
    k, b = 5, 4000
    y = torch.as_tensor(rng.integers(0, k, b))
    onehot = torch.eye(k)[y]
    prior = torch.full((k,), 1.0 / k)
    assert f_mig(onehot, onehot, prior).item() == pytest.approx(np.log(k), abs=0.02)
    h = torch.softmax(torch.as_tensor(rng.normal(size=(b, k))), 1).float()
    g = torch.softmax(torch.as_tensor(rng.normal(size=(b, k))), 1).float()
    # independent outputs share no information: ≈ 0 (below it by Jensen's gap of the log)
    assert -0.1 < f_mig(h, g, prior).item() < 0.01
    for div in ("pearson", "js"):
        assert f_mig(onehot, onehot, prior, div) > f_mig(h, g, prior, div) + 0.1
    with pytest.raises(InputError, match="divergence"):
        f_mig(h, g, prior, "hellinger")


def test_aggregator_is_the_bayes_posterior_of_its_confusions(crowd):
    ann, _, _ = crowd
    conf = confusion_against(ann, soft_majority(ann), smoothing=1.0)
    g = CrowdsAggregator(np.log(conf), np.full(3, 1 / 3), learn_prior=False)
    answers = CrowdAnswers.of(ann)
    logits = g(answers(torch.arange(ann.n_tasks), ann.n_workers, 3))
    log_post = ann.incidence @ np.log(conf).reshape(-1, 3)[:, :].reshape(ann.n_workers, 3, 3) \
        .transpose(0, 2, 1).reshape(-1, 3)
    expected = np.exp(log_post - log_post.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(torch.softmax(logits, 1).detach().numpy(), expected, atol=1e-5)


def test_maxmig_ignores_the_constant_juniors(naive_majority):
    X, ann, test, test_ann = naive_majority
    mv = make_crowd_learner("mv", self_training=False, epochs=20, seed=0).fit(X, ann)
    mig = MaxMIG(epochs=20, seed=0).fit(X, ann)
    assert mv.score(test.X, test.y) < 0.2
    assert mig.score(test.X, test.y) > 0.8
    forecaster = (mig.predict(test.X, test_ann) == test.y).mean()
    assert forecaster >= mig.score(test.X, test.y)
    # the juniors' learned matrices put most mass on answer 0 whatever the truth
    assert mig.confusion_.shape == (13, 10, 10)
    assert mig.confusion_[5:, :, 0].mean() > 0.5
    np.testing.assert_allclose(mig.confusion_.sum(axis=2), 1.0, rtol=1e-5)


def test_forecaster_rows_and_errors(naive_majority):
    X, ann, test, test_ann = naive_majority
    mig = MaxMIG(epochs=1, seed=0).fit(X, ann)
    some = test_ann.subset(list(range(10)))
    zeta = mig.predict_proba(test.X, some)
    h = mig.predict_proba(test.X)
    np.testing.assert_allclose(zeta[10:], h[10:], atol=1e-6)
    assert not np.allclose(zeta[:10], h[:10])
    np.testing.assert_allclose(zeta.sum(axis=1), 1.0, rtol=1e-6)
    stranger = Annotations.from_frame(pd.DataFrame(
        {"task": [0], "worker": ["someone new"], "label": [test_ann.classes[0]]}))
    with pytest.raises(InputError, match="someone new"):
        mig.predict_proba(test.X, stranger)
    with pytest.raises(InputError, match="prior"):
        MaxMIG(prior="sometimes", epochs=1).fit(X, ann)
    with pytest.raises(InputError, match="divergence"):
        MaxMIG(divergence="tv", epochs=1).fit(X, ann)
    with pytest.raises(InputError, match="init_scale"):
        MaxMIG(init_scale=0.0, epochs=1).fit(X, ann)


def test_forecast_formula():
    h = np.array([[0.5, 0.5]])
    z = forecast(h, np.log([[0.9, 0.1]]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(z, [[0.9, 0.1]])


def test_learned_prior_moves(naive_majority):
    X, ann, _, _ = naive_majority
    mig = MaxMIG(prior="learned", epochs=2, aggregator_lr=1e-2, seed=0).fit(X, ann)
    assert mig.class_prior_.sum() == pytest.approx(1.0)
    assert not np.allclose(mig.class_prior_, 0.1)


@pytest.mark.parametrize("cls", [CrowdLayer, DoctorNet, AggNet, MaxMIG])
def test_contract_and_seed(cls, naive_majority):
    X, ann, test, _ = naive_majority
    est = cls(epochs=2, seed=3)
    twin = clone(est)
    assert twin.get_params().keys() == est.get_params().keys()
    a = est.fit(X, ann).predict_proba(test.X)
    b = twin.fit(X, ann).predict_proba(test.X)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (len(test.X), 10)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-5)
    assert set(est.predict(test.X)) <= set(ann.classes)


def test_baselines_on_the_naive_majority(naive_majority):
    X, ann, test, _ = naive_majority
    # AggNet's EM weighs the juniors by their (terrible) confusions and recovers
    assert AggNet(epochs=20, seed=0).fit(X, ann).score(test.X, test.y) > 0.8
    # Crowd Layer with the soft-MV initialisation learns the juniors' matrices too
    layer = CrowdLayer(init="soft-mv", epochs=20, seed=0).fit(X, ann)
    assert layer.confusion_.shape == (13, 10, 10)
    assert layer.score(test.X, test.y) > 0.5
    with pytest.raises(InputError, match="init"):
        CrowdLayer(init="random", epochs=1).fit(X, ann)


def test_split_classifier():
    trunk, width = split_classifier(make_model("mlp", (64,), 10, hidden=(32,)))
    assert width == 32 and trunk(torch.zeros(2, 64)).shape == (2, 32)
    trunk, width = split_classifier(make_model("resnet20", (3, 32, 32), 10))
    assert width == 64 and trunk(torch.zeros(2, 3, 32, 32)).shape == (2, 64)
    with pytest.raises(InputError, match="last linear"):
        split_classifier(torch.nn.Sequential(torch.nn.ReLU()))


@pytest.fixture(scope="module")
def copied_crowd():
    """The harsh crowd (docs/methods.md §4.2) on 600 digits: 4 seniors of accuracy 0.4 and 8
    juniors copying senior 0 — the soft majority vote is senior 0's answer."""
    train, test = load("digits", "train"), load("digits", "test")
    n = 600
    crowd = diagonal(4, 10, 0.4).with_copiers([0] * 8)
    ann = crowd.annotate(train.y[:n], np.tile(np.arange(12), (n, 1)), seed=0,
                         tasks=list(range(n)), classes=list(train.classes))
    return train.X[:n], ann, test


def test_copies_start_as_one_expert(copied_crowd):
    _, ann, _ = copied_crowd
    groups = ann.copy_groups()
    assert (groups[4:] == groups[0]).all() and len(set(groups)) == 4
    soft, w = initial_aggregator(ann, groups)
    assert w.shape == (4, 10, 10)
    # the group counts as one expert: the soft vote is the seniors' vote without the copies
    frame = ann.to_frame()
    seniors = Annotations.from_frame(frame[frame.worker < 4], classes=ann.classes)
    np.testing.assert_allclose(soft, soft_majority(seniors))
    expected = np.log(confusion_against(seniors, soft) + 1e-4)
    np.testing.assert_allclose(w[groups[:4]], expected, rtol=1e-6, atol=1e-9)
    plain_soft, plain = initial_aggregator(ann, np.arange(ann.n_workers))
    assert plain.shape == (12, 10, 10)
    np.testing.assert_allclose(plain_soft, soft_majority(ann))
    np.testing.assert_allclose(plain, np.log(confusion_against(ann, plain_soft) + 1e-4),
                               rtol=1e-6, atol=1e-9)


def test_group_answers_pool_into_one():
    """A group's members who answered an item weigh as one expert, however many did."""
    w = np.log(np.array([[[0.8, 0.2], [0.3, 0.7]], [[0.6, 0.4], [0.4, 0.6]]]))
    g = CrowdsAggregator(w, np.array([0.5, 0.5]), learn_prior=False,
                         groups=np.array([0, 0, 0, 1]))
    single = CrowdsAggregator(w, np.array([0.5, 0.5]), learn_prior=False)
    e = torch.eye(2)
    answers = torch.zeros(3, 4, 2)
    answers[0, :3], answers[0, 3] = e[1], e[0]  # all three copies and the other expert
    answers[1, 1], answers[1, 3] = e[1], e[0]  # one copy and the other expert
    answers[2, 2] = e[1]  # one copy alone
    expected = torch.zeros(3, 2, 2)
    expected[:2, 0], expected[:2, 1], expected[2, 0] = e[1], e[0], e[1]
    torch.testing.assert_close(g(answers), single(expected))
    ann = Annotations.from_frame(pd.DataFrame({"task": [0, 0, 0, 1, 1],
                                               "worker": ["a", "b", "c", "a", "c"],
                                               "label": [1, 1, 0, 1, 0]}))
    np.testing.assert_allclose(group_shares(ann, np.array([0, 0, 1])), [0.5, 0.5, 1, 1, 1])
    np.testing.assert_allclose(soft_majority(ann, group_shares(ann, np.array([0, 0, 1]))),
                               [[0.5, 0.5], [0.5, 0.5]])


def test_maxmig_discounts_copies(copied_crowd):
    X, ann, test = copied_crowd
    merged = MaxMIG(epochs=30, aggregator_lr=1e-3, seed=0).fit(X, ann)
    paper = MaxMIG(epochs=30, aggregator_lr=1e-3, copy_agreement=None, seed=0).fit(X, ann)
    assert merged.score(test.X, test.y) > paper.score(test.X, test.y) + 0.1
    assert (merged.copy_groups_[4:] == merged.copy_groups_[0]).all()
    assert merged.aggregator_.weight.shape == (4, 10, 10)
    assert merged.confusion_.shape == (12, 10, 10)
    np.testing.assert_array_equal(merged.confusion_[4:], merged.confusion_[[0] * 8])
    with pytest.raises(InputError, match="copy_agreement"):
        MaxMIG(copy_agreement="all", epochs=1).fit(X, ann)
    with pytest.raises(InputError, match="copy_min_shared"):
        MaxMIG(copy_min_shared=0, epochs=1).fit(X, ann)
    # copies on fewer shared items than asked for are not grouped
    few = MaxMIG(copy_min_shared=len(X) + 1, epochs=1).fit(X, ann)
    assert len(set(few.copy_groups_)) == ann.n_workers
