"""TwoEM (the two interconnected EMs) and find_label_issues."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from crowdlearn import InputError, TwoEM, find_label_issues
from crowdlearn.datasets import load
from crowdlearn.learners.two_em import (
    auroc,
    clean_posterior,
    confidence_regulariser,
    refurbish,
)
from crowdlearn.simulate import symmetric


@pytest.fixture(scope="module")
def noisy_digits():
    train, test = load("digits", "train"), load("digits", "test")
    noisy = symmetric(train.y, 0.4, 10, seed=0).labels
    return train.X, noisy, train.y, test.X, test.y


def test_clean_posterior_is_bayes_rule():
    proba = np.array([[0.9, 0.1], [0.5, 0.5]])
    w = clean_posterior(proba, np.array([0, 1]), gamma=0.6)
    np.testing.assert_allclose(w, [0.6 * 0.9 / (0.6 * 0.9 + 0.4 / 2),
                                   0.6 * 0.5 / (0.6 * 0.5 + 0.4 / 2)])
    # flat outputs cannot separate: every w equals γ
    np.testing.assert_allclose(clean_posterior(np.full((3, 4), 0.25), np.arange(3), 0.7), 0.7)


def test_refurbish_sharpens_the_product():
    r = refurbish(np.array([[0.6, 0.4]]), np.array([[0.6, 0.4]]), temperature=0.5)
    assert r[0, 0] == pytest.approx(0.6**4 / (0.6**4 + 0.4**4))


def test_confidence_regulariser_prefers_confident_outputs():
    prior = torch.full((3,), 1 / 3)
    flat = confidence_regulariser(torch.zeros(1, 3), prior)
    sharp = confidence_regulariser(torch.tensor([[8.0, 0.0, 0.0]]), prior)
    huge = confidence_regulariser(torch.tensor([[1e4, 0.0, 0.0]]), prior)
    assert sharp < flat and huge > -20  # bounded below


def test_two_em_separates_clean_from_corrupted(noisy_digits):
    X, noisy, clean, X_test, y_test = noisy_digits
    model = TwoEM(noise_rate=0.4, epochs=40, cr_ramp=10, seed=0).fit(X, noisy, y_clean=clean)
    assert auroc(model.clean_proba_, noisy == clean) > 0.95
    assert model.score(X_test, y_test) > 0.85
    fixed = model.refurbished_
    assert len(fixed) > 100 and (fixed.to_numpy() == clean[fixed.index]).mean() > 0.8
    late = model.history_[-1]
    assert {"gamma", "mean_clean_proba", "refurbished", "cr_weight", "clean_auroc"} <= set(late)
    assert late["cr_weight"] == 1.0 and model.history_[0].get("cr_weight") is None
    assert model.gamma_ == pytest.approx(0.6)
    held = TwoEM(noise_rate=0.4, epochs=12, val_fraction=0.1, seed=0).fit(X, noisy)
    assert held.val_mask_.sum() == 130 and 0 <= held.best_epoch_ < 12
    assert held.clean_proba_.shape == (len(X),)
    assert not held.val_mask_[held.refurbished_.index].any()


def test_two_em_learns_gamma_without_a_noise_rate(noisy_digits):
    X, noisy, _, _, _ = noisy_digits
    model = TwoEM(epochs=25, seed=0).fit(X, noisy)
    assert 0.4 < model.gamma_ < 0.8  # started at 0.5, moved towards the clean share 0.6


def test_two_em_contract_and_errors(noisy_digits):
    X, noisy, _, X_test, _ = noisy_digits
    est = TwoEM(noise_rate=0.4, epochs=12, warmup_epochs=2, seed=2)
    a = est.fit(X, noisy).predict_proba(X_test)
    np.testing.assert_array_equal(a, clone(est).fit(X, noisy).predict_proba(X_test))
    with pytest.raises(InputError, match="noise_rate"):
        TwoEM(noise_rate=1.2, epochs=2).fit(X, noisy)
    with pytest.raises(InputError, match="warmup_epochs"):
        TwoEM(warmup_epochs=5, epochs=5).fit(X, noisy)


def test_find_label_issues_ranks_flipped_labels_first(noisy_digits):
    X, _, clean, _, _ = noisy_digits
    noisy = symmetric(clean, 0.2, 10, seed=1).labels
    names = np.array([f"d{c}" for c in range(10)], dtype=object)
    wrong = noisy != clean
    k = int(wrong.sum())
    for method, options in (("two-em", {"noise_rate": 0.2, "epochs": 40}),
                            ("me-momentum", {"n_outer": 1, "n_inner": 2, "epochs": 20})):
        table = find_label_issues(X, names[noisy], method, seed=0, **options)
        assert list(table.columns) == ["row", "given_label", "suggested_label",
                                       "label_quality", "is_label_issue"]
        assert table["label_quality"].is_monotonic_increasing
        top = table["row"].to_numpy()[:k]
        assert wrong[top].mean() > 0.8, method
        suggested = table.set_index("row")["suggested_label"]
        assert (suggested[top[wrong[top]]] == names[clean[top[wrong[top]]]]).mean() > 0.7
    with pytest.raises(InputError, match="method must be"):
        find_label_issues(X, noisy, "confident-learning")


def test_find_label_issues_refuses_options_its_method_does_not_take():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.arange(30) % 2
    with pytest.raises(InputError, match="noise_rate is TwoEM's"):
        find_label_issues(X, y, noise_rate=0.2)  # the default method is Me-Momentum
    with pytest.raises(InputError, match="method 'me-momentum' has no parameter 'foo'; its "
                                         "own are "):
        find_label_issues(X, y, foo=1)
    with pytest.raises(InputError, match="method 'two-em' has no parameter 'n_outer'"):
        find_label_issues(X, y, "two-em", n_outer=2)
