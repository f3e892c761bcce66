"""scikit-learn's own estimator checks on the single-noisy-label learners, at small settings
(2–3 epochs): cloning, parameters, input validation, fitted attributes, predict shapes."""

from __future__ import annotations

import warnings

import pytest
from sklearn.utils.estimator_checks import check_estimator

from crowdlearn.learners import CoTeaching, MeMomentum, StandardCE, TwoEM

SMALL = {
    "StandardCE": lambda: StandardCE(epochs=2, val_fraction=0.0),
    "CoTeaching": lambda: CoTeaching(epochs=2, ramp_epochs=1, decay_from=None),
    "MeMomentum": lambda: MeMomentum(epochs=2, n_outer=1, n_inner=1, val_fraction=0.2),
    "TwoEM": lambda: TwoEM(epochs=3, warmup_epochs=1, noise_rate=0.2),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_check_estimator_passes(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SMALL[name](), on_fail=None)
    failed = {r["check_name"]: str(r["exception"])[:200] for r in results
              if r["status"] == "failed"}
    assert len(results) > 40
    assert failed == {}
