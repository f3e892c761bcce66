from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from crowdlearn import InputError, MajorityVote
from crowdlearn.datasets import load
from crowdlearn.learners import MBEM, AggregateThenTrain, make_crowd_learner
from crowdlearn.simulate import assign, hammer_spammer


@pytest.fixture(scope="module")
def crowd_digits():
    train, test = load("digits", "train"), load("digits", "test")
    crowd = hammer_spammer(20, 10, 0.4, seed=1)
    n = 600
    ann = crowd.annotate(train.y[:n], assign(n, 20, 1, seed=1), seed=1,
                         tasks=list(range(n)), classes=list(train.classes))
    hammers = np.einsum("wkk->w", crowd.dense_confusion()) / 10 > 0.9
    return train.X[:n], train.y[:n], ann, test, hammers


def test_mbem_learns_worker_quality_at_one_label_per_item(crowd_digits):
    X, y, ann, test, hammers = crowd_digits
    mbem = MBEM(epochs=15, seed=0).fit(X, ann)
    diag = np.einsum("wkk->w", mbem.confusion_) / 10
    assert diag[hammers].min() > 0.7 and diag[~hammers].max() < 0.4
    assert mbem.posteriors_.shape == (600, 10)
    np.testing.assert_allclose(mbem.posteriors_.sum(axis=1), 1.0)
    assert [h["round"] for h in mbem.history_] == [0, 1]
    # items labelled by hammers get confident posteriors, spammers' items much flatter ones
    by_hammer = hammers[ann.worker[np.argsort(ann.task)]]
    top = mbem.posteriors_.max(axis=1)
    assert top[by_hammer].mean() > top[~by_hammer].mean() + 0.3
    acc = mbem.score(test.X, test.y)
    mv_acc = make_crowd_learner("mv", epochs=15, seed=0).fit(X, ann).score(test.X, test.y)
    assert acc > mv_acc


def test_same_seed_same_model(crowd_digits):
    X, _, ann, test, _ = crowd_digits
    a = MBEM(epochs=3, seed=5).fit(X, ann).predict_proba(test.X)
    b = MBEM(epochs=3, seed=5).fit(X, ann).predict_proba(test.X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["mv", "soft-mv", "ds", "mbem"])
def test_factory_and_contract(name, crowd_digits):
    X, _, ann, test, _ = crowd_digits
    est = make_crowd_learner(name, epochs=2, seed=0)
    with pytest.raises(NotFittedError):
        est.predict(test.X)
    twin = clone(est)
    assert repr(twin) == repr(est) and twin.get_params().keys() == est.get_params().keys()
    pred = est.fit(X, ann).predict(test.X)
    assert pred.shape == (len(test.X),) and set(pred) <= set(ann.classes)
    assert est.predict_proba(test.X).shape == (len(test.X), 10)


def test_aggregate_then_train_targets(crowd_digits):
    X, _, ann, _, _ = crowd_digits
    hard = AggregateThenTrain(MajorityVote(), targets="hard", epochs=1).fit(X, ann)
    assert hard.posteriors_.shape == (600, 10)
    with pytest.raises(InputError, match="The .targets. parameter of AggregateThenTrain"):
        AggregateThenTrain(targets="both", epochs=1).fit(X, ann)


def test_rows_are_found_by_task_id(crowd_digits):
    X, _, ann, _, _ = crowd_digits
    sub = ann.subset(list(range(100, 200)))
    full = MBEM(epochs=2, seed=0).fit(np.concatenate([X, X]), sub)  # ids are row numbers
    direct = MBEM(epochs=2, seed=0).fit(X[100:200], sub)
    np.testing.assert_array_equal(full.posteriors_, direct.posteriors_)
    with pytest.raises(InputError, match="X has 5 rows"):
        MBEM(epochs=1).fit(X[:5], sub)


def test_bad_arguments(crowd_digits):
    X, _, ann, _, _ = crowd_digits
    with pytest.raises(InputError, match="unknown method"):
        make_crowd_learner("oracle")
    with pytest.raises(InputError, match="n_rounds"):
        MBEM(n_rounds=0).fit(X, ann)
    with pytest.raises(InputError, match="expected crowdlearn.Annotations"):
        MBEM().fit(X, np.zeros(600))


def test_mbem_one_coin_worker_model(crowd_digits):
    X, _, ann, _, hammers = crowd_digits
    mbem = MBEM(worker_model="one-coin", epochs=5, seed=0).fit(X, ann)
    diag = np.einsum("wkk->w", mbem.confusion_) / 10
    assert diag[hammers].min() > diag[~hammers].max()
    off = mbem.confusion_[0][~np.eye(10, dtype=bool)]
    np.testing.assert_allclose(off, off[0])  # errors uniform over the other classes
    with pytest.raises(InputError, match="worker_model"):
        MBEM(worker_model="two-coin", epochs=1).fit(X, ann)


def test_shuffled_integer_task_ids_are_refused(crowd_digits):
    X, _, ann, _, _ = crowd_digits
    order = np.random.default_rng(0).permutation(ann.n_tasks)
    shuffled = ann.subset(list(order))
    if list(shuffled.tasks) != list(order):
        pytest.skip("subset sorts tasks")
    with pytest.raises(InputError, match="ambiguous"):
        make_crowd_learner("mv", epochs=1).fit(X, shuffled)
