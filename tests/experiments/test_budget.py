from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn import InputError
from crowdlearn.cli import app
from crowdlearn.experiments import BudgetSettings, finding, run_budget

TINY = dict(budget=200, redundancy=(1, 2), methods=("mv", "mbem"), seeds=1, epochs=2)


def test_writes_results_and_plot_and_resumes(tmp_path, learners_built):
    results = run_budget(BudgetSettings(**TINY), tmp_path, log=lambda _: None)
    assert len(results) == 4
    table = pd.read_csv(tmp_path / "results.csv")
    assert {"method", "redundancy", "seed", "accuracy", "n_items", "train_epochs", "dataset",
            "workers", "gamma", "budget", "model"} <= set(table.columns)
    assert sorted(table["n_items"].unique()) == [100, 200]
    assert table.loc[table["redundancy"] == 2, "train_epochs"].iloc[0] == 4  # same SGD steps
    assert (tmp_path / "budget.png").read_bytes()[:4] == b"\x89PNG"
    assert table["accuracy"].between(0, 1).all()

    calls = learners_built("make_crowd_learner")
    again = run_budget(BudgetSettings(**{**TINY, "methods": ("mv", "mbem", "soft-mv")}),
                       tmp_path, log=lambda _: None)
    assert calls == ["soft-mv", "soft-mv"]  # finished cells are not rerun
    assert len(again) == 6
    pd.testing.assert_frame_equal(again.iloc[:4].drop(columns="seconds"),
                                  table.drop(columns="seconds"), check_dtype=False)


def test_same_seed_same_results(tmp_path):
    a = run_budget(BudgetSettings(**TINY), tmp_path / "a", log=lambda _: None)
    b = run_budget(BudgetSettings(**TINY), tmp_path / "b", log=lambda _: None)
    pd.testing.assert_series_equal(a["accuracy"], b["accuracy"])


def test_other_settings_in_same_folder_refused(tmp_path):
    run_budget(BudgetSettings(**TINY), tmp_path, log=lambda _: None)
    with pytest.raises(InputError, match="made with gamma=0.35, not 0.2"):
        run_budget(BudgetSettings(**{**TINY, "gamma": 0.2}), tmp_path, log=lambda _: None)


def test_restart_replaces_and_results_hold_only_this_sweep(tmp_path):
    run_budget(BudgetSettings(**TINY), tmp_path, log=lambda _: None)
    fewer = run_budget(BudgetSettings(**{**TINY, "methods": ("mv",)}), tmp_path,
                       log=lambda _: None)
    assert list(fewer["method"]) == ["mv", "mv"]  # the file still holds mbem's rows
    assert len(pd.read_csv(tmp_path / "results.csv")) == 4
    other = {**TINY, "gamma": 0.2, "methods": ("mv",), "redundancy": (2,)}
    run_budget(BudgetSettings(**other), tmp_path, log=lambda _: None, restart=True)
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == 1 and table["gamma"].iloc[0] == 0.2


def test_bad_settings(tmp_path):
    with pytest.raises(InputError, match="redundancy 30 needs at least as many workers"):
        run_budget(BudgetSettings(**{**TINY, "redundancy": (1, 30)}), tmp_path)
    with pytest.raises(InputError, match="unknown dataset"):
        run_budget(BudgetSettings(**{**TINY, "dataset": "imagenet"}), tmp_path)
    with pytest.raises(InputError, match="unknown method 'crowdlayer'; choose from mv"):
        run_budget(BudgetSettings(**{**TINY, "methods": ("mv", "crowdlayer")}), tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        run_budget(BudgetSettings(**TINY), tmp_path / "file")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "results.csv").write_text("")
    with pytest.raises(InputError, match="not a readable results table"):
        run_budget(BudgetSettings(**TINY), tmp_path / "junk")


@pytest.mark.parametrize("change, message", [
    ({"seeds": 1.5}, r"'seeds' parameter of BudgetSettings must be an int in the range \[1, "
                     r"inf\)\. Got 1\.5"),
    ({"redundancy": (1, 2.5)}, r"'redundancy' setting of BudgetSettings must be a non-empty "
                               r"sequence, each an int"),
    ({"redundancy": (1, 1)}, r"'redundancy' setting of BudgetSettings gives 1 twice"),
    ({"lr": "0.1"}, r"'lr' parameter of BudgetSettings must be a float"),
    ({"gamma": 1.5}, r"'gamma' parameter of BudgetSettings must be a float in the range "
                     r"\[0\.0, 1\.0\]"),
])
def test_mistyped_settings_fail_before_the_folder_is_made(tmp_path, change, message):
    with pytest.raises(InputError, match=message):
        run_budget(BudgetSettings(**{**TINY, **change}), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_finding_states_what_the_numbers_show():
    rows = [("mv", 1, 0.80), ("mv", 3, 0.70), ("mbem", 1, 0.92), ("mbem", 3, 0.85),
            ("ds", 3, 0.88)]
    frame = pd.DataFrame(rows, columns=["method", "redundancy", "accuracy"])
    text = finding(frame, 1200)
    assert "MBEM was most accurate at 1 label per item (92.0%)" in text
    assert "+12.0 points against majority vote" in text
    assert "beaten by ds at r=3" in text
    assert "at r=3 it reached 85.0%" in text
    frame.loc[frame["method"] == "mbem", "accuracy"] = [0.70, 0.75]  # claim fails: say so
    text = finding(frame, 1200)
    assert "most accurate at 3 labels per item (75.0%)" in text
    assert "-10.0 points against majority vote" in text and "at r=1 it reached 70.0%" in text
    assert "beaten by mv at r=1, ds at r=3" in text


def test_cli_budget(tmp_path):
    result = CliRunner().invoke(app, ["experiment", "budget", "-o", str(tmp_path), "--budget",
                                      "200", "--redundancy", "1,2", "--methods", "mv,mbem",
                                      "--seeds", "1", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "r=2" in result.output and "majority vote" in result.output
    bad = CliRunner().invoke(app, ["experiment", "budget", "-o", str(tmp_path), "--budget",
                                   "200", "--redundancy", "1,x"])
    assert bad.exit_code == 2 and "comma-separated integers" in bad.output
    clash = CliRunner().invoke(app, ["experiment", "budget", "-o", str(tmp_path), "--budget",
                                     "200", "--redundancy", "2", "--methods", "mv",
                                     "--seeds", "1", "--epochs", "1", "--gamma", "0.2"])
    assert clash.exit_code == 2 and "made with --gamma 0.35" in clash.output
    assert "--force" in clash.output and len(clash.output.strip().splitlines()) == 1
    forced = CliRunner().invoke(app, ["experiment", "budget", "-o", str(tmp_path), "--budget",
                                      "200", "--redundancy", "2", "--methods", "mv",
                                      "--seeds", "1", "--epochs", "1", "--gamma", "0.2",
                                      "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(pd.read_csv(tmp_path / "results.csv")) == 1


def test_learner_options_are_part_of_the_settings(tmp_path):
    run_budget(BudgetSettings(**{**TINY, "methods": ("mbem",), "redundancy": (1,)}), tmp_path,
               log=lambda _: None)
    with pytest.raises(InputError, match="made with extra="):
        run_budget(BudgetSettings(**{**TINY, "methods": ("mbem",), "redundancy": (1,),
                                     "extra": {"mbem": {"n_rounds": 2}}}), tmp_path,
                   log=lambda _: None)


def test_header_only_results_file_is_treated_as_empty(tmp_path):
    (tmp_path / "results.csv").write_text("method,redundancy,seed,accuracy\n")
    results = run_budget(BudgetSettings(**{**TINY, "methods": ("mv",), "redundancy": (1,)}),
                         tmp_path, log=lambda _: None)
    assert len(results) == 1


def test_cli_names_a_bad_setting_by_its_option(tmp_path):
    res = CliRunner().invoke(app, ["experiment", "budget", "--seeds", "0", "-o",
                                   str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "--seeds must be an int in the range [1, inf). Got 0 instead." in res.output
    assert not (tmp_path / "out").exists()


def test_a_folder_of_something_else_is_refused(tmp_path):
    model = tmp_path / "model"  # e.g. a `crowdlearn fit` model folder
    model.mkdir()
    (model / "workers.csv").write_text("worker,answers\n1,2\n")
    with pytest.raises(InputError, match=r"model: holds other files \(workers.csv\) and no "
                                         r"results.csv of a sweep; use a new or empty"):
        run_budget(BudgetSettings(**TINY), model)
    assert (model / "workers.csv").read_text() == "worker,answers\n1,2\n"
    assert sorted(p.name for p in model.iterdir()) == ["workers.csv"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "results.csv").write_text("a,b\n")  # another program's table, no rows
    with pytest.raises(InputError, match="made by another sweep or program"):
        run_budget(BudgetSettings(**TINY), other)
    (tmp_path / "stopped").mkdir()  # a run stopped before its first cell: temporary files
    (tmp_path / "stopped" / ".results.csv.crowdlearn-vm-12-ab12").write_bytes(b"")
    (tmp_path / "stopped" / ".DS_Store").write_bytes(b"")
    run_budget(BudgetSettings(**{**TINY, "methods": ("mv",), "redundancy": (1,)}),
               tmp_path / "stopped", log=lambda _: None)
    assert (tmp_path / "stopped" / "results.csv").exists()


def test_learner_options_list_only_what_a_sweep_can_set():
    with pytest.raises(InputError, match=r"method 'mv' has no option 'model_params' a sweep "
                                         r"can set; its options are tie_break, weights, "
                                         r"default_weight$"):
        BudgetSettings(extra={"mv": {"model_params": 1}}).check()
