"""Standard CE, Co-teaching and Me-Momentum on digits with simulated label noise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from crowdlearn import InputError
from crowdlearn.datasets import load
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.learners import (
    CoTeaching,
    MeMomentum,
    StandardCE,
    make_noise_learner,
)
from crowdlearn.learners.coteaching import small_loss_share
from crowdlearn.learners.single_labels import encode_labels, validation_split
from crowdlearn.simulate import symmetric


@pytest.fixture(scope="module")
def noisy_digits():
    train, test = load("digits", "train"), load("digits", "test")
    noisy = symmetric(train.y, 0.4, 10, seed=0).labels
    names = np.array([f"digit-{c}" for c in range(10)])  # labels need not be codes
    return train.X, names[noisy], names[train.y], test.X, names[test.y]


def test_encode_labels_errors():
    X = np.zeros((3, 2))
    assert encode_labels(X, ["b", "a", "b"])[2] == ["a", "b"]
    with pytest.raises(InputError, match="3 rows but there are 2 labels"):
        encode_labels(X, ["a", "b"])
    with pytest.raises(InputError, match="row 1 is missing"):
        encode_labels(X, np.array(["a", None, "b"], dtype=object))
    with pytest.raises(InputError, match="at least 2 classes"):
        encode_labels(X, ["a", "a", "a"])


def test_validation_split():
    train, val = validation_split(100, 0.1, seed=3)
    assert len(val) == 10 and len(train) == 90 and not set(train) & set(val)
    np.testing.assert_array_equal(val, validation_split(100, 0.1, seed=3)[1])
    assert len(validation_split(100, 0.0, seed=3)[1]) == 0
    with pytest.raises(InputError, match="val_fraction"):
        validation_split(100, 1.0, seed=3)


def test_standard_ce_keeps_final_and_best(noisy_digits):
    X, noisy, _, X_test, y_test = noisy_digits
    ce = StandardCE(epochs=150, seed=0).fit(X, noisy)
    scores = [h["val_score"] for h in ce.history_]
    assert len(scores) == 150 and ce.best_epoch_ == int(np.argmax(scores)) < 149
    assert ce.val_mask_.sum() == 130
    final, best = ce.predict(X_test), ce.predict(X_test, model="best")
    assert set(final) <= set(noisy)
    # memorising 40% wrong labels: the final epoch is worse than the best validated one
    assert (best == y_test).mean() > (final == y_test).mean()


def test_me_momentum_confident_set(noisy_digits):
    X, noisy, clean, X_test, y_test = noisy_digits
    mm = MeMomentum(n_outer=2, n_inner=3, epochs=15, seed=0).fit(X, noisy, y_clean=clean)
    assert mm.confident_mask_.shape == (len(X),)
    assert not (mm.confident_mask_ & mm.val_mask_).any()
    kept = mm.confident_mask_
    assert (noisy[kept] == clean[kept]).mean() > 0.9  # against 0.6 in the whole set
    assert kept.sum() > 300
    stages = [(h["outer"], h["inner"]) for h in mm.history_]
    assert stages[0] == (0, 0) and (1, 0) in stages
    assert all("precision" in h for h in mm.history_ if h["inner"] > 0)
    assert mm.score(X_test, y_test) > 0.8
    with pytest.raises(InputError, match="val_fraction must be positive"):
        MeMomentum(val_fraction=0.0, epochs=1).fit(X, noisy)
    with pytest.raises(InputError, match="n_outer"):
        MeMomentum(n_outer=0, epochs=1).fit(X, noisy)
    with pytest.raises(InputError, match="y_clean label 'seven' is not among"):
        MeMomentum(epochs=1).fit(X, noisy, y_clean=np.r_[clean[:-1], ["seven"]])


def test_coteaching_schedule_and_fit(noisy_digits):
    assert small_loss_share(0, 0.4, 10) == 1.0
    assert small_loss_share(5, 0.4, 10) == pytest.approx(0.8)
    assert small_loss_share(50, 0.4, 10) == pytest.approx(0.6)
    X, noisy, _, X_test, y_test = noisy_digits
    co = CoTeaching(forget_rate=0.4, epochs=30, decay_from=20, seed=0).fit(X, noisy)
    assert co.history_[-1]["lr"] < co.history_[0]["lr"]
    assert co.score(X_test, y_test) > 0.75
    with pytest.raises(InputError, match="forget_rate"):
        CoTeaching(forget_rate=1.5, epochs=1).fit(X, noisy)


@pytest.mark.parametrize("name", ["ce", "coteaching", "me-momentum"])
def test_factory_contract_and_seed(name, noisy_digits):
    X, noisy, _, X_test, _ = noisy_digits
    est = make_noise_learner(name, noise_rate=0.4, epochs=2, seed=1)
    twin = clone(est)
    a = est.fit(X, noisy).predict_proba(X_test)
    b = twin.fit(X, noisy).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (len(X_test), 10)


def test_factory_errors():
    with pytest.raises(InputError, match="noise rate"):
        make_noise_learner("coteaching")
    with pytest.raises(InputError, match="unknown method 'mixup'"):
        make_noise_learner("mixup")


def test_more_input_errors(noisy_digits):
    X, noisy, _, X_test, _ = noisy_digits
    with pytest.raises(InputError, match="mixes text and numbers"):
        encode_labels(np.zeros((3, 2)), np.array(["a", 1, "b"], dtype=object))
    ce = StandardCE(epochs=1, seed=0).fit(X, noisy)
    with pytest.raises(InputError, match="'final' or 'best'"):
        ce.predict(X_test, model="bset")
    with pytest.raises(InputError, match="milestones"):
        MeMomentum(milestones=40, epochs=1).fit(X, noisy)
    with pytest.raises(InputError, match="ramp_epochs"):
        CoTeaching(ramp_epochs=-1, epochs=1).fit(X, noisy)


def test_clean_labels_are_coded_by_lookup_not_by_sorting():
    from crowdlearn.learners.single_labels import check_clean_labels

    # text labels that read as numbers are ordered by value, not lexicographically
    _, codes, classes = encode_labels(np.zeros((3, 1)), ["10", "2", "1"])
    assert classes == ["1", "2", "10"] and codes.tolist() == [2, 1, 0]
    assert check_clean_labels(["10", "2"], classes, 2).tolist() == [2, 1]


def test_labels_spelled_two_ways_are_warned_about():
    # "3" and "3.0", "Cat" and "cat": two classes each, as given, but hardly meant so
    with pytest.warns(CrowdlearnWarning, match="'3' and '3.0' are one number written two ways"):
        _, _, classes = encode_labels(np.zeros((3, 1)), ["3", "3.0", "1"])
    assert len(classes) == 3
    with pytest.warns(CrowdlearnWarning, match="differ only by case"):
        encode_labels(np.zeros((2, 1)), ["Cat", "cat"])


def test_continuous_labels_named_as_plain_numbers():
    with pytest.raises(InputError, match=r"continuous numbers \(e\.g\. 1\.5\)"):
        encode_labels(np.zeros((3, 2)), np.array([0.0, 1.5, 1.0]))
