"""Saving a trained learner and loading it back (no pickle): the loaded learner predicts
exactly what the saved one did; damaged or missing files are InputErrors naming them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import crowdlearn
from crowdlearn import InputError
from crowdlearn.datasets import load as load_dataset
from crowdlearn.learners import make_crowd_learner, make_noise_learner
from crowdlearn.simulate import assign, hammer_spammer, symmetric


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", "train")
    X, y = data.X[:240], data.y[:240]
    rng = np.random.default_rng(0)
    crowd = hammer_spammer(8, 10, 0.5, rng)
    ann = crowd.annotate(y, assign(len(y), 8, 2, None, rng), rng,
                         classes=[f"d{c}" for c in range(10)])
    noisy, _ = symmetric(y, 0.2, 10, seed=0)
    return X, ann, np.array([f"d{c}" for c in noisy]), data.X[300:360]


CROWD = ["mv", "soft-mv", "ds", "mbem", "mbem-onecoin", "crowd-layer", "doctor-net", "aggnet",
         "maxmig"]
NOISE = ["ce", "coteaching", "me-momentum", "two-em"]


@pytest.mark.parametrize("method", CROWD + NOISE)
def test_a_loaded_learner_predicts_exactly_as_the_saved_one(tmp_path, digits, method):
    X, ann, noisy, X_test = digits
    settings = {"model": "mlp", "epochs": 2, "seed": 0}
    if method in CROWD:
        learner = make_crowd_learner(method, **settings).fit(X, ann)
    else:
        extra = {"me-momentum": {"n_outer": 1, "n_inner": 1},
                 "two-em": {"warmup_epochs": 1}}.get(method, {})
        learner = make_noise_learner(method, noise_rate=0.2, **settings, **extra).fit(X, noisy)
    folder = learner.save(tmp_path / "saved")
    assert not list(folder.glob("*.pkl"))
    loaded = crowdlearn.load(folder)
    assert type(loaded) is type(learner)
    assert repr(loaded.get_params(deep=True)) == repr(learner.get_params(deep=True))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), learner.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), learner.predict(X_test))
    assert loaded.classes_ == learner.classes_
    if method == "ce":
        np.testing.assert_array_equal(loaded.predict_proba(X_test, model="best"),
                                      learner.predict_proba(X_test, model="best"))
    if method == "maxmig":  # the data-crowds forecaster needs the aggregator too
        np.testing.assert_array_equal(loaded.predict_proba(X, ann), learner.predict_proba(X, ann))


def test_damaged_missing_or_foreign_files_are_input_errors(tmp_path, digits):
    X, ann, _, _ = digits
    learner = make_crowd_learner("mv", model="mlp", epochs=1, seed=0).fit(X, ann)
    folder = learner.save(tmp_path / "m")
    with pytest.raises(InputError, match="already exists"):
        learner.save(folder)
    learner.save(folder, force=True)
    weights = folder / "model_.pt"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.raises(InputError, match="model_.pt: damaged"):
        crowdlearn.load(folder)
    weights.unlink()
    with pytest.raises(InputError, match="model_.pt: missing"):
        crowdlearn.load(folder)
    learner.save(folder, force=True)
    manifest = json.loads((folder / "learner.json").read_text())
    manifest["class"] = "os.system"
    (folder / "learner.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="unknown learner class 'os.system'"):
        crowdlearn.load(folder)
    (folder / "learner.json").write_text("{not json")
    with pytest.raises(InputError, match="learner.json: damaged"):
        crowdlearn.load(folder)
    with pytest.raises(InputError, match="no such folder"):
        crowdlearn.load(tmp_path / "nowhere")


def test_a_callable_model_cannot_be_saved_by_name(tmp_path, digits):
    from crowdlearn.nn import make_model

    X, ann, _, _ = digits
    learner = make_crowd_learner("mv", model=lambda shape, k: make_model("mlp", shape, k),
                                 epochs=1, seed=0).fit(X, ann)
    with pytest.raises(InputError, match="callable cannot be saved"):
        learner.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
