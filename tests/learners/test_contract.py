"""The learner contract: training parameters declared once with constraints, checked when fit
starts (numpy scalars accepted), keyword-only after the model, threads and progress."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from sklearn.base import clone

from crowdlearn import InputError
from crowdlearn.datasets import load
from crowdlearn.learners import (
    MBEM,
    AggNet,
    AggregateThenTrain,
    CoTeaching,
    CrowdLayer,
    DoctorNet,
    MaxMIG,
    MeMomentum,
    StandardCE,
    TwoEM,
)
from crowdlearn.learners.base import TRAINING_PARAMETERS
from crowdlearn.simulate import assign, hammer_spammer

LEARNERS = [AggNet, AggregateThenTrain, CoTeaching, CrowdLayer, DoctorNet, MaxMIG, MBEM,
            MeMomentum, StandardCE, TwoEM]


@pytest.fixture(scope="module")
def small():
    data = load("digits", "train")
    X, y = data.X[:120], data.y[:120]
    rng = np.random.default_rng(0)
    ann = hammer_spammer(6, 10, 0.5, rng).annotate(y, assign(len(y), 6, 2, None, rng), rng)
    return X, y, ann


@pytest.mark.parametrize("cls", LEARNERS)
def test_training_parameters_are_declared_once_and_keyword_only(cls):
    signature = inspect.signature(cls)
    params = signature.parameters
    assert set(TRAINING_PARAMETERS) <= set(params)
    first = next(iter(params))
    assert all(p.kind is p.KEYWORD_ONLY for name, p in params.items() if name != first)
    learner = cls()
    assert set(TRAINING_PARAMETERS) <= set(learner.get_params())
    assert clone(learner).get_params() == learner.get_params()
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        cls(epoch=3)


def test_each_learner_keeps_its_own_defaults():
    assert StandardCE().epochs == 200 and MBEM().epochs == 30 and TwoEM().epochs == 100
    assert MaxMIG().get_params()["epochs"] == 60
    with pytest.raises(TypeError):
        StandardCE("mlp", 0.2)  # keyword-only after the model


def test_numpy_scalars_are_accepted(small):
    X, y, _ = small
    ce = StandardCE(epochs=1, val_fraction=0.0, seed=0).set_params(
        epochs=np.int64(2), lr=np.float32(1e-3), batch_size=np.int32(32))
    ce.fit(X, y)
    assert len(ce.history_) == 2


@pytest.mark.parametrize("cls, params, message", [
    (MBEM, {"worker_model": "typo"}, "worker_model"),
    (StandardCE, {"batch_size": 0}, "batch_size"),
    (CoTeaching, {"lr": -1.0}, "lr"),
    (MaxMIG, {"divergence": "hellinger"}, "divergence"),
    (TwoEM, {"optimizer": "rmsprop", "warmup_epochs": 0}, "optimizer"),
    (AggNet, {"n_threads": 0}, "n_threads"),
    (MBEM, {"n_rounds": True}, "n_rounds"),  # a boolean is not the integer 1
    (StandardCE, {"val_fraction": False}, "val_fraction"),
    (StandardCE, {"lr": True}, "lr"),  # lr 1.0, silently
    (MBEM, {"seed": True}, "seed"),
    (StandardCE, {"seed": 2**63}, r"seed.*range \[0, 4294967295\]"),  # torch's seed overflowed
    (TwoEM, {"cr_weight": True, "warmup_epochs": 0}, "cr_weight"),
])
def test_bad_parameters_fail_before_any_training(small, monkeypatch, cls, params, message):
    X, y, ann = small
    import crowdlearn.nn.trainer as trainer

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the parameters were checked")

    monkeypatch.setattr(trainer.Trainer, "fit", no_training)
    learner = cls(epochs=1, **params)
    target = y if cls in (StandardCE, CoTeaching, TwoEM, MeMomentum) else ann
    with pytest.raises(InputError, match=message):
        learner.fit(X, target)


def test_n_threads_applies_during_fit_and_is_restored(small):
    X, y, _ = small
    before = torch.get_num_threads()
    seen = []
    ce = StandardCE(epochs=1, val_fraction=0.0, n_threads=1)
    original = ce._trainer

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    ce._trainer = spy
    ce.fit(X, y)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before
    assert StandardCE(verbose=True)._trainer().progress == "auto"
    assert StandardCE()._trainer().progress is False


def test_input_is_checked_in_one_place(small):
    import scipy.sparse as sp

    X, y, ann = small
    bad = X.reshape(len(X), -1).copy()
    bad[5, 3] = np.nan
    with pytest.raises(InputError, match="NaN or infinite value.*row 5"):
        StandardCE(epochs=1).fit(bad, y)
    with pytest.raises(InputError, match="NaN or infinite value"):
        AggregateThenTrain(epochs=1).fit(bad, ann)
    with pytest.raises(InputError, match=r"64 value\(s\) beyond float32's range .*row 2"):
        StandardCE(epochs=1).fit(np.where(np.arange(len(X))[:, None] == 2, 1e300,
                                          X.reshape(len(X), -1).astype(np.float64)), y)
    with pytest.raises(InputError, match=r"missing value\(s\) \(None, NA\), the first in "
                                         "row 0, column 1"):
        StandardCE(epochs=1).fit(np.array([[1.0, None]] * len(X), dtype=object), y)
    with pytest.raises(InputError, match="X is not a rectangular array of items"):
        StandardCE(epochs=1).fit([[1.0, 2.0], [3.0]] * (len(X) // 2), y)
    with pytest.raises(InputError, match=r"X.reshape\(1, -1\) if it is one item"):
        StandardCE(epochs=1).fit(X.reshape(len(X), -1)[0], y[:1])
    with pytest.raises(InputError, match="sparse"):
        StandardCE(epochs=1).fit(sp.csr_matrix(X.reshape(len(X), -1)), y)
    with pytest.raises(InputError, match="continuous"):
        StandardCE(epochs=1).fit(X, y + 0.5)
    ce = StandardCE(epochs=1, val_fraction=0.0).fit(X.reshape(len(X), -1), y)
    assert ce.n_features_in_ == 64
    with pytest.raises(InputError, match="X has 10 features, but StandardCE is expecting 64"):
        ce.predict(X.reshape(len(X), -1)[:, :10])
    as_ints = StandardCE(epochs=1, val_fraction=0.0).fit(
        (X.reshape(len(X), -1) * 16).astype(np.int64), y)  # integer X works
    assert as_ints.predict(X.reshape(len(X), -1)[:3] * 16).shape == (3,)


@pytest.mark.parametrize("cls", LEARNERS)
def test_refit_with_the_same_seed_is_deterministic(small, cls):
    X, y, ann = small
    options = {"epochs": 2, "seed": 3, "n_threads": 1}
    if cls is MeMomentum:
        options |= {"n_outer": 1, "n_inner": 1}
    if cls is TwoEM:
        options |= {"warmup_epochs": 1, "noise_rate": 0.2}
    if cls is CoTeaching:
        options |= {"ramp_epochs": 1}
    target = y if cls in (StandardCE, CoTeaching, TwoEM, MeMomentum) else ann
    learner = cls(**options)
    first = learner.fit(X, target).predict_proba(X[:20])
    again = learner.fit(X, target).predict_proba(X[:20])  # the same object, refitted
    other = clone(learner).set_params(seed=np.int64(4)).fit(X, target).predict_proba(X[:20])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_aggregate_then_train_keeps_its_aggregators_notes_to_itself(small):
    import warnings

    from crowdlearn.aggregation import DawidSkene
    from crowdlearn.errors import CrowdlearnWarning

    X, _, ann = small
    learner = AggregateThenTrain(DawidSkene(max_iter=2, tol=0), epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learner.fit(X, ann)
    assert not [w for w in caught if issubclass(w.category, CrowdlearnWarning)]
    assert learner.aggregator_.converged_ is False  # still there for whoever asks


@pytest.mark.parametrize("cls", [AggNet, AggregateThenTrain, CrowdLayer, DoctorNet, MaxMIG,
                                 MBEM])
def test_crowd_learners_refuse_one_class_as_single_label_learners_do(small, cls):
    from crowdlearn import Annotations

    X, _, ann = small
    one = Annotations.from_frame(ann.to_frame().assign(label="cat"))
    with pytest.raises(InputError, match=r"need at least 2 classes, the answers hold 1 class "
                                         r"\('cat'\)"):
        cls(epochs=1, n_threads=1).fit(X, one)
    with pytest.raises(InputError, match="need at least 2 classes"):
        StandardCE(epochs=1).fit(X, ["cat"] * len(X))


def test_a_failed_refit_leaves_the_fitted_learner_as_it_was(small):
    X, y, _ = small
    learner = StandardCE(epochs=1, standardize=True, n_threads=1).fit(X, y)
    before = learner.predict_proba(X)
    state = dict(learner.__dict__)
    with pytest.raises(InputError, match="need at least 2 classes"):
        learner.fit(X * 10.0 + 5.0, np.zeros(len(X), dtype=int))  # the scaling was replaced
    assert learner.__dict__.keys() == state.keys()
    np.testing.assert_array_equal(learner.feature_mean_, state["feature_mean_"])
    np.testing.assert_array_equal(learner.predict_proba(X), before)
