"""Label-noise generators (docs/methods.md §4.4). Statistical checks use 50k labels and a fixed
seed; the tolerance (1 percentage point) is ≥ 4 binomial standard deviations at these rates."""

from __future__ import annotations

import numpy as np
import pytest

from crowdlearn.errors import InputError
from crowdlearn.simulate import (
    from_transition,
    instance_dependent,
    pairflip,
    pairflip_matrix,
    realised_transition,
    symmetric,
    symmetric_matrix,
)

N, K = 50_000, 10


@pytest.fixture(scope="module")
def y():
    return np.random.default_rng(0).integers(0, K, N)


@pytest.fixture(scope="module")
def X():
    # raw 0-255 "pixels", as the reference generator uses them
    return np.random.default_rng(1).integers(0, 256, (N, 64)).astype(np.uint8)


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.8])
def test_symmetric_rate_and_never_keeps_label(y, rate):
    noisy, t = symmetric(y, rate, K, seed=0)
    assert abs((noisy != y).mean() - rate) < 0.01
    # a flip that could keep the label would give rate·(K−1)/K (0.72 at 0.8): the diagonal is
    # 1 − rate, and the flipped labels spread evenly over the other K − 1 classes
    np.testing.assert_allclose(np.diag(t), 1 - rate, atol=0.03)
    off = t[~np.eye(K, dtype=bool)]
    np.testing.assert_allclose(off, rate / (K - 1), atol=0.02)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)


def test_symmetric_two_classes_always_flips_to_the_other():
    y2 = np.random.default_rng(2).integers(0, 2, 1000)
    noisy, _ = symmetric(y2, 0.5, 2, seed=3)
    flipped = noisy != y2
    np.testing.assert_array_equal(noisy[flipped], 1 - y2[flipped])


def test_symmetric_matrix_exact():
    t = symmetric_matrix(0.3, 4)
    np.testing.assert_allclose(np.diag(t), 0.7)
    np.testing.assert_allclose(t[0, 1:], 0.1)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)


@pytest.mark.parametrize("rate", [0.2, 0.45])
def test_pairflip_rate_and_only_next_class(y, rate):
    noisy, t = pairflip(y, rate, K, seed=0)
    flipped = noisy != y
    assert abs(flipped.mean() - rate) < 0.01
    np.testing.assert_array_equal(noisy[flipped], (y[flipped] + 1) % K)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    np.testing.assert_allclose(pairflip_matrix(rate, K)[K - 1, 0], rate)


def test_from_transition_matches_matrix_and_never_draws_zeros():
    t = np.array([[0.5, 0.5, 0.0], [0.0, 0.9, 0.1], [0.2, 0.0, 0.8]])
    y3 = np.random.default_rng(4).integers(0, 3, N)
    noisy, real = from_transition(y3, t, seed=5)
    np.testing.assert_allclose(real, t, atol=0.015)
    assert (real[t == 0] == 0).all()
    np.testing.assert_allclose(real.sum(axis=1), 1.0)


def test_identity_and_zero_rate_keep_labels(y):
    np.testing.assert_array_equal(from_transition(y, np.eye(K), seed=0).labels, y)
    np.testing.assert_array_equal(symmetric(y, 0.0, K, seed=0).labels, y)


@pytest.mark.parametrize("rate", [0.2, 0.4])
def test_instance_dependent_rate(X, y, rate):
    noisy, t = instance_dependent(X, y, rate, K, seed=0)
    # realised rate = mean of TruncNormal(rate, 0.1, [0, 1]): ≈ rate + 0.005 at 0.2
    assert abs((noisy != y).mean() - rate) < 0.01
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(t), 1 - rate, atol=0.03)


def test_instance_dependent_depends_on_the_instance(X, y):
    noisy, t = instance_dependent(X, y, 0.4, K, seed=0)
    off = t * (1 - np.eye(K))
    # raw pixels make the softmax nearly one-hot: flips concentrate on a few classes per class,
    # unlike symmetric noise (0.4 / 9 ≈ 0.044 each)
    assert off.max(axis=1).mean() > 0.1
    # the same image always has the same preferred flip target: duplicating the data and
    # noising at rate ~1 sends both copies to the same class
    x2 = np.concatenate([X[:500], X[:500]])
    y2 = np.concatenate([y[:500], y[:500]])
    n2, _ = instance_dependent(x2, y2, 0.99, K, seed=1, sd=1e-3)
    assert (n2[:500] == n2[500:]).mean() > 0.95


@pytest.mark.parametrize("make", [
    lambda y, s: symmetric(y, 0.3, K, seed=s),
    lambda y, s: pairflip(y, 0.3, K, seed=s),
    lambda y, s: from_transition(y, symmetric_matrix(0.3, K), seed=s),
])
def test_same_seed_same_output(y, make):
    a, b, c = make(y, 7), make(y, 7), make(y, 8)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.transition, b.transition)
    assert (a.labels != c.labels).any()


def test_instance_dependent_same_seed(X, y):
    a = instance_dependent(X[:2000], y[:2000], 0.3, K, seed=3).labels
    b = instance_dependent(X[:2000], y[:2000], 0.3, K, seed=3).labels
    np.testing.assert_array_equal(a, b)


def test_realised_transition_absent_class_gets_identity_row():
    t = realised_transition(np.array([0, 0, 2]), np.array([0, 1, 0]), 3)
    np.testing.assert_allclose(t, [[0.5, 0.5, 0], [0, 1, 0], [1, 0, 0]])


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_rate(y, rate):
    with pytest.raises(InputError, match="rate"):
        symmetric(y, rate, K)
    with pytest.raises(InputError, match="rate"):
        instance_dependent(np.zeros((len(y), 2)), y, rate, K)


def test_bad_inputs(y):
    with pytest.raises(InputError, match="class code"):
        symmetric(np.array([0, 1, 10]), 0.2, K)
    with pytest.raises(InputError, match="n_classes"):
        pairflip(np.array([0, 0]), 0.2, 1)
    with pytest.raises(InputError, match="1-D"):
        symmetric(np.zeros((3, 2), dtype=int), 0.2, K)
    with pytest.raises(InputError, match="sums to"):
        from_transition(np.array([0, 1]), np.array([[0.9, 0.2], [0.5, 0.5]]))
    with pytest.raises(InputError, match="negative"):
        from_transition(np.array([0, 1]), np.array([[1.2, -0.2], [0.5, 0.5]]))
    with pytest.raises(InputError, match="square"):
        from_transition(np.array([0, 1]), np.full((2, 3), 1 / 3))
    with pytest.raises(InputError, match="one row per label"):
        instance_dependent(np.zeros((5, 3)), np.array([0, 1]), 0.2, 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed must be an integer >= 0, a numpy Generator or None, got -1"),
    ({"seed": "1"}, "seed must be"),
    ({"rate": "0.2"}, r"noise rate must be a number in \[0, 1\), got '0.2'"),
    ({"rate": None}, "noise rate must be a number"),
])
def test_bad_seed_or_rate_is_an_input_error(kwargs, match):
    from crowdlearn.simulate.label_noise import symmetric

    with pytest.raises(InputError, match=match):
        symmetric(np.arange(30) % 3, kwargs.get("rate", 0.2), 3, seed=kwargs.get("seed", 0))


def test_one_class_transitions_and_unusable_spreads_are_named():
    with pytest.raises(InputError, match=r"transition must be K×K with at least 2 classes"):
        from_transition(np.zeros(3, dtype=int), np.ones((1, 1)))
    for sd in (float("inf"), "a", 0.0):
        with pytest.raises(InputError, match="sd must be a finite positive number"):
            instance_dependent(np.ones((3, 2)), np.zeros(3, dtype=int), 0.2, 3, sd=sd)
