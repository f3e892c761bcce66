from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn import InputError
from crowdlearn.cli import app
from crowdlearn.experiments import NoiseSettings, run_noise
from crowdlearn.experiments.noise import corrupt

TINY = dict(rates=(0.4,), methods=("ce", "me-momentum"), seeds=1, epochs=2, stage_epochs=2)


def test_writes_results_and_plot_and_resumes(tmp_path, learners_built):
    results = run_noise(NoiseSettings(**TINY), tmp_path, log=lambda _: None)
    assert list(results["method"]) == ["ce", "ce-best", "me-momentum"]
    table = pd.read_csv(tmp_path / "results.csv")
    assert {"method", "rate", "seed", "accuracy", "actual_rate", "noise", "dataset",
            "selected_precision"} <= set(table.columns)
    assert table["actual_rate"].iloc[0] == pytest.approx(0.4, abs=0.04)
    assert (tmp_path / "noise.png").read_bytes()[:4] == b"\x89PNG"

    calls = learners_built("make_noise_learner")
    again = run_noise(NoiseSettings(**{**TINY, "methods": ("ce", "coteaching")}), tmp_path,
                      log=lambda _: None)
    assert calls == ["coteaching"]
    assert set(again["method"]) == {"ce", "ce-best", "coteaching"}


def test_noise_kinds():
    from crowdlearn.datasets import load

    train = load("digits", "train")
    for kind in ("symmetric", "pairflip", "instance"):
        noisy = corrupt(kind, train.X, train.y, 0.3, 10, seed=0, raw_scale=16.0)
        assert abs((noisy != train.y).mean() - 0.3) < 0.05
    pair = corrupt("pairflip", train.X, train.y, 0.3, 10, seed=0)
    flipped = pair != train.y
    assert ((train.y[flipped] + 1) % 10 == pair[flipped]).all()


@pytest.mark.parametrize("field,value,message", [
    ("noise", "gaussian", "noise must be one of"),
    ("rates", (1.2,), r"'rates' setting of NoiseSettings must be a non-empty sequence, each a "
                      r"float in the range \[0.0, 1.0\), got \(1.2,\)"),
    ("rates", (), "'rates' setting of NoiseSettings must be a non-empty"),
    ("rates", (0.2, 0.20), "'rates' setting of NoiseSettings gives 0.2 twice"),
    ("epochs", True, r"'epochs' parameter of NoiseSettings must be an int in the range \[1,"),
    ("stage_epochs", 0, r"'stage_epochs' parameter of NoiseSettings must be an int"),
    ("methods", ("mixup",), "unknown method 'mixup'"),
    ("extra", {"two-em": {"noise_rate": 0.1}}, "'noise_rate' of 'two-em' is set by the sweep"),
    ("extra", {"mixup": {"alpha": 1}}, "options given for unknown method 'mixup'"),
    ("extra", {"ce": 3}, "options of 'ce' must be a mapping"),
])
def test_bad_settings(tmp_path, field, value, message):
    with pytest.raises(InputError, match=message):
        run_noise(NoiseSettings(**{**TINY, field: value}), tmp_path, log=lambda _: None)


def test_cli(tmp_path):
    out = tmp_path / "out"
    args = ["experiment", "noise", "--rate", "0.2", "--methods", "ce", "--seeds", "1",
            "--epochs", "2", "-o", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "ce-best" in res.output and (out / "results.csv").exists()
    res = CliRunner().invoke(app, ["experiment", "noise", "--rate", "0.2,x", "-o", str(out)])
    assert res.exit_code == 2 and "comma-separated numbers" in res.output
