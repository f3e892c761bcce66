from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn import InputError
from crowdlearn.cli import app
from crowdlearn.experiments import CrowdsSettings, run_crowds
from crowdlearn.experiments.crowds import case_crowd

TINY = dict(cases=("2",), expertise=("low",), methods=("mv", "maxmig"), seeds=1, epochs=2)


def test_writes_results_and_plot_and_resumes(tmp_path, learners_built):
    results = run_crowds(CrowdsSettings(**TINY), tmp_path, log=lambda _: None)
    assert list(results["method"]) == ["mv", "maxmig", "maxmig-forecaster"]
    table = pd.read_csv(tmp_path / "results.csv")
    assert {"method", "case", "expertise", "seed", "accuracy", "dataset", "model",
            "epochs"} <= set(table.columns)
    assert table["accuracy"].between(0, 1).all()
    assert (tmp_path / "crowds.png").read_bytes()[:4] == b"\x89PNG"

    calls = learners_built("make_crowd_learner")
    again = run_crowds(CrowdsSettings(**{**TINY, "methods": ("mv", "maxmig", "ds")}),
                       tmp_path, log=lambda _: None)
    assert calls == ["ds"]  # finished cells (maxmig and its forecaster) are not rerun
    assert set(again["method"]) == {"mv", "maxmig", "maxmig-forecaster", "ds"}
    with pytest.raises(InputError, match="epochs=2, not 3"):
        run_crowds(CrowdsSettings(**{**TINY, "epochs": 3}), tmp_path, log=lambda _: None)


def test_case_crowds():
    case2 = case_crowd("2", "low", 10, "digits")
    assert case2.n_workers == 25
    assert (case2.confusion[10:, :, 0] == 1).all()  # the juniors always answer class 0
    assert case_crowd("3", "high", 10, "digits").n_workers == 10
    harsh = case_crowd("harsh", "low", 10, "digits")
    assert harsh.n_workers == 15 and (harsh.copies[5:] == 0).all()


@pytest.mark.parametrize("field,value,message", [
    ("cases", ("4",), "unknown case '4'; choose from 1, 2, 3, harsh"),
    ("cases", ("1", "1"), "case '1' is given twice"),
    ("cases", (), "no case given"),
    ("expertise", ("medium",), "unknown expertise 'medium'; choose from low, high"),
    ("expertise", ("low", "low"), "expertise 'low' is given twice"),
    ("methods", ("oracle",), "unknown method 'oracle'"),
])
def test_bad_settings(tmp_path, field, value, message):
    with pytest.raises(InputError, match=message):
        run_crowds(CrowdsSettings(**{**TINY, field: value}), tmp_path, log=lambda _: None)
    assert not (tmp_path / "results.csv").exists()


def test_cli(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["experiment", "crowds", "--case", "2", "--expertise", "low",
                                   "--methods", "mv,clean", "--seeds", "1", "--epochs", "2",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "case 2, low" in res.output and "clean" in res.output
    assert (out / "results.csv").exists()
    res = CliRunner().invoke(app, ["experiment", "crowds", "--case", "7", "-o", str(out)])
    assert res.exit_code == 2 and "unknown case '7'" in res.output
