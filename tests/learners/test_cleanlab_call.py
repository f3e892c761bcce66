"""cleanlab's call shape ``find_label_issues(labels, pred_probs)`` is pointed to
``label_issues_from_proba`` instead of failing on the shape of X."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crowdlearn
from crowdlearn import InputError


def _labels_and_proba(n=60, k=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    return labels, proba


@pytest.mark.parametrize("shape", [
    lambda y: y, lambda y: y.reshape(-1, 1), lambda y: y.astype(float), lambda y: y.tolist(),
    lambda y: pd.Series(np.array(list("abc"))[y])], ids=["1-d", "column", "float", "list",
                                                         "text"])
def test_cleanlab_call_shape_points_to_label_issues_from_proba(shape):
    labels, proba = _labels_and_proba()
    with pytest.raises(InputError, match=r"crowdlearn\.label_issues_from_proba\(labels, "
                                         r"proba\)") as caught:
        crowdlearn.find_label_issues(shape(labels), proba)
    assert "Reshape" not in str(caught.value)
    # and the pointed-to call works on the same inputs
    table = crowdlearn.label_issues_from_proba(labels, proba)
    assert len(table) == len(labels)


def test_features_and_2d_targets_that_are_not_probabilities_are_left_alone():
    labels, proba = _labels_and_proba()
    # a 1-D X with 2-D targets whose rows do not sum to 1: the features message as before
    with pytest.raises(InputError, match="Reshape your data"):
        crowdlearn.find_label_issues(labels.astype(float), proba * 2)
    # real features (several columns) with proba as y: not taken for cleanlab's call
    X = np.random.default_rng(1).normal(size=(len(labels), 4))
    with pytest.raises(InputError, match="labels must be 1-D"):
        crowdlearn.find_label_issues(X, proba, "two-em", noise_rate=0.2, epochs=2,
                                     warmup_epochs=1,
                                     cr_ramp=1, n_threads=1)
