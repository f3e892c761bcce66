"""The sweep engine: parallel cells give the serial run's table, row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn import InputError
from crowdlearn.cli import app
from crowdlearn.experiments import BudgetSettings, NoiseSettings, run_budget, run_noise
from crowdlearn.experiments.budget import BudgetExperiment
from crowdlearn.experiments.results import ResultsTable

TINY = dict(budget=200, redundancy=(1, 2), methods=("mv", "mbem"), seeds=2, epochs=2)


def _table(folder) -> pd.DataFrame:
    return pd.read_csv(folder / "results.csv").drop(columns="seconds")


def test_parallel_cells_match_a_serial_one_thread_run(tmp_path):
    serial = run_budget(BudgetSettings(**TINY), tmp_path / "serial", log=lambda _: None,
                        threads=1)
    lines = []
    parallel = run_budget(BudgetSettings(**TINY), tmp_path / "parallel", log=lines.append,
                          jobs=2)
    assert len(lines) == 8  # one line per cell, in the order cells finished
    pd.testing.assert_frame_equal(_table(tmp_path / "serial"), _table(tmp_path / "parallel"))
    pd.testing.assert_frame_equal(serial.drop(columns="seconds"),
                                  parallel.drop(columns="seconds"))


def test_parallel_resume_keeps_earlier_rows_first(tmp_path):
    run_noise(NoiseSettings(rates=(0.4,), methods=("ce",), seeds=1, epochs=2), tmp_path,
              log=lambda _: None)
    more = dict(rates=(0.2, 0.4), methods=("ce",), seeds=2, epochs=2)
    run_noise(NoiseSettings(**more), tmp_path, log=lambda _: None, jobs=2)
    table = pd.read_csv(tmp_path / "results.csv")
    # the first run's rows, then the new cells in cell order (rate, seed), CE's best epoch
    # right after its cell's final epoch
    assert list(zip(table["rate"], table["seed"], table["method"], strict=True)) == [
        (0.4, 0, "ce"), (0.4, 0, "ce-best"), (0.2, 0, "ce"), (0.2, 0, "ce-best"),
        (0.2, 1, "ce"), (0.2, 1, "ce-best"), (0.4, 1, "ce"), (0.4, 1, "ce-best")]


def test_progress_reports_each_cell(tmp_path):
    seen = []
    run_budget(BudgetSettings(**{**TINY, "seeds": 1, "methods": ("mv",)}), tmp_path,
               log=lambda _: None, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 2), (1, 2), (2, 2)]
    seen.clear()  # a resumed sweep with nothing left to do
    run_budget(BudgetSettings(**{**TINY, "seeds": 1, "methods": ("mv",)}), tmp_path,
               log=lambda _: None, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 0)]


@pytest.mark.parametrize(("jobs", "threads", "message"), [
    (0, None, "jobs must be a positive integer, got 0"),
    (2, 0, "threads must be a positive integer, got 0"),
    (1.5, None, "jobs must be a positive integer, got 1.5")])
def test_bad_workers_fail_before_any_work(tmp_path, jobs, threads, message):
    with pytest.raises(InputError, match=message):
        run_budget(BudgetSettings(**TINY), tmp_path / "out", jobs=jobs, threads=threads)
    assert not (tmp_path / "out").exists()


def test_cells_follow_the_serial_order():
    cells = BudgetExperiment(BudgetSettings(**TINY)).cells()
    assert cells[:3] == [{"method": "mv", "redundancy": 1, "seed": 0},
                         {"method": "mbem", "redundancy": 1, "seed": 0},
                         {"method": "mv", "redundancy": 2, "seed": 0}]
    assert len(cells) == 8 and cells[-1] == {"method": "mbem", "redundancy": 2, "seed": 1}


def test_reorder_is_stable_and_rewrites_the_file(tmp_path):
    table = ResultsTable(tmp_path / "results.csv", ["method"], {"dataset": "digits"})
    table.add_rows([{"method": "b", "accuracy": 0.5}, {"method": "b2", "accuracy": 0.6}])
    table.add_rows([{"method": "a", "accuracy": 0.7}])
    table.reorder([1, 1, 0])
    assert list(pd.read_csv(tmp_path / "results.csv")["method"]) == ["a", "b", "b2"]


def test_a_table_with_unset_settings_resumes(tmp_path):
    # an unset setting is written as an empty cell and read back as NaN
    settings = {"dataset": "digits", "replay": None, "items": 100}
    table = ResultsTable(tmp_path / "results.csv", ["seed"], settings)
    table.add_rows([{"seed": 0, "accuracy": 0.5}])
    again = ResultsTable(tmp_path / "results.csv", ["seed"], settings)
    assert again.done(seed=0) and not again.done(seed=1)
    with pytest.raises(InputError, match=r"made with replay=\(unset\), not a.csv"):
        ResultsTable(tmp_path / "results.csv", ["seed"], {**settings, "replay": "a.csv"})


def test_cli_jobs(tmp_path):
    result = CliRunner().invoke(app, ["experiment", "budget", "-o", str(tmp_path), "--budget",
                                      "200", "--redundancy", "1,2", "--methods", "mv",
                                      "--seeds", "1", "--epochs", "1", "--jobs", "2",
                                      "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "r=2" in result.output and len(pd.read_csv(tmp_path / "results.csv")) == 2
    bad = CliRunner().invoke(app, ["experiment", "noise", "-o", str(tmp_path / "n"),
                                   "--jobs", "0"])
    assert bad.exit_code == 2 and "--jobs" in bad.output


def test_a_setting_added_later_resumes_older_tables_under_its_former_value(tmp_path):
    path = tmp_path / "results.csv"
    ResultsTable(path, ["seed"], {"dataset": "digits"}).add_rows([{"seed": 0, "acc": 0.5}])
    added = {"draws": "independent"}  # the table was made before "draws" existed
    older = ResultsTable(path, ["seed"], {"dataset": "digits", "draws": "independent"},
                         added=added)
    assert older.done(seed=0)
    older.add_rows([{"seed": 1, "acc": 0.6}])
    assert set(pd.read_csv(path)["draws"]) == {"independent"}
    with pytest.raises(InputError, match="made with draws=independent, not paired"):
        ResultsTable(path, ["seed"], {"dataset": "digits", "draws": "paired"}, added=added)


def test_columns_in_one_order_however_cells_finish(tmp_path):
    rows = [[{"method": "ce", "seed": 0, "accuracy": 0.8}],
            [{"method": "two-em", "seed": 0, "accuracy": 0.9, "clean_auroc": 0.95}]]
    written = {}
    for name, order in (("serial", rows), ("parallel", rows[::-1])):
        table = ResultsTable(tmp_path / f"{name}.csv", ["method", "seed"], {"epochs": 3})
        for cell in order:
            table.add_rows(cell)
        if name == "parallel":
            table.reorder([1, 0])  # back in cell order, as run_sweep does
        written[name] = (tmp_path / f"{name}.csv").read_text()
    assert written["serial"] == written["parallel"]
    assert written["serial"].splitlines()[0] == "method,seed,accuracy,clean_auroc,epochs"


def test_learner_settings_checked_together_before_any_cell(tmp_path):
    # TwoEM's warm-up (10 epochs by default) cannot fit in 3 epochs: refused before the
    # ce cells run, not after
    settings = NoiseSettings(dataset="digits", methods=("ce", "two-em"), rates=(0.2,),
                             seeds=1, epochs=3)
    with pytest.raises(InputError, match="method 'two-em' with these settings: warmup_epochs"):
        run_noise(settings, tmp_path / "out", log=lambda line: None)
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="noise must be one of"):  # a matrix is not a kind
        run_noise(NoiseSettings(noise=np.eye(10)), tmp_path / "out", log=lambda line: None)


def test_a_sweep_that_fails_at_once_leaves_no_folder(tmp_path):
    # every setting passes its checks, then the first cell finds LeNet cannot read 8×8 digits
    with pytest.raises(InputError, match="lenet expects 28×28 images"):
        run_budget(BudgetSettings(budget=100, redundancy=(1,), methods=("mv",), seeds=1,
                                  epochs=1, model="lenet"), tmp_path / "new",
                   log=lambda line: None)
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()  # a folder of the user's stays
    with pytest.raises(InputError):
        run_budget(BudgetSettings(budget=100, redundancy=(1,), methods=("mv",), seeds=1,
                                  epochs=1, model="lenet"), tmp_path / "mine",
                   log=lambda line: None)
    assert (tmp_path / "mine").is_dir()
