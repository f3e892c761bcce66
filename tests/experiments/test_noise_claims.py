"""The Me-Momentum (issue 6) and TwoEM (issue 7) claims on digits with the default
experiment settings (MLP 64-256-10, Adam 1e-3, batch 64, 200 epochs; Me-Momentum stages of
60 epochs; 5 seeds). Slow (about 20 minutes on 2 cores): run with ``pytest -m slow``."""

from __future__ import annotations

import pytest

from crowdlearn.experiments import NoiseSettings, run_noise

METHODS = ("ce", "coteaching", "me-momentum", "two-em", "two-em-no-cr")


def _run(tmp_path, noise):
    return run_noise(NoiseSettings(noise=noise, rates=(0.4,), methods=METHODS), tmp_path,
                     log=lambda _: None)


@pytest.mark.slow
def test_symmetric_40(tmp_path):
    results = _run(tmp_path, "symmetric")
    mean = results.groupby("method")["accuracy"].mean()
    assert mean["me-momentum"] >= mean["ce"] + 0.15
    assert mean["me-momentum"] >= mean["ce-best"]
    me = results[results["method"] == "me-momentum"]
    assert me["selected_precision"].mean() > 0.9
    assert mean["two-em"] >= mean["ce"] + 0.15
    assert mean["two-em"] >= mean["coteaching"]
    two = results[results["method"] == "two-em"]
    assert two["clean_auroc"].mean() > 0.9
    assert abs(mean["two-em"] - mean["two-em-no-cr"]) > 0.005  # the CR matters


@pytest.mark.slow
def test_instance_40(tmp_path):
    results = _run(tmp_path, "instance")
    mean = results.groupby("method")["accuracy"].mean()
    assert mean["me-momentum"] > mean["ce-best"]
    assert mean["me-momentum"] > mean["coteaching"]
    assert mean["two-em"] >= mean["coteaching"]
    two = results[results["method"] == "two-em"]
    assert two["clean_auroc"].mean() > 0.9


@pytest.mark.slow
def test_find_label_issues_top_k_precision():
    import numpy as np

    from crowdlearn import find_label_issues
    from crowdlearn.datasets import load
    from crowdlearn.simulate import symmetric

    train = load("digits", "train")
    precisions = []
    for seed in range(3):
        noisy = symmetric(train.y, 0.2, 10, seed).labels
        wrong = noisy != train.y
        ranked = find_label_issues(train.X, noisy, "two-em", noise_rate=0.2, seed=seed)
        precisions.append(wrong[ranked["row"].to_numpy()[: wrong.sum()]].mean())
    assert np.mean(precisions) > 0.8
