"""`crowdlearn fit` and `predict`: what is refused before any input is read, Ctrl-C, and the
partial outputs that a killed run leaves behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn.cli import app
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.methods import make_learner
from crowdlearn.outputs import _host, atomic_write, remove_leftovers, temporary_beside
from tests.conftest import make_crowd

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def files(tmp_path):
    ann, y, _ = make_crowd(n_tasks=60, n_workers=8, k=3, r=3, seed=1)
    ann.to_frame().to_csv(tmp_path / "answers.csv", index=False)
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (len(y), 4))
    X[np.arange(len(y)), y] += 3
    table = pd.DataFrame(X, columns=[f"f{j}" for j in range(4)])
    table.insert(0, "id", np.arange(len(y)).astype(str))
    table.to_csv(tmp_path / "features.csv", index=False)
    pd.DataFrame({"task": np.arange(len(y)), "label": y}).to_csv(tmp_path / "labels.csv",
                                                                 index=False)
    return tmp_path


# ---------------------------------------------------------------- refused before reading
# The features file does not exist: a refusal that names something else came before reading.
BAD_MODEL_PARAMS = [
    ('{"hidden": -3}', "hidden must be a list of integers ≥ 1"),
    ('{"hidden": [-3]}', "hidden must be a list of integers ≥ 1"),
    ('{"hidden": [0]}', r"got \[0\]"),
    ('{"dropout": 2}', r"dropout must be a number in \[0, 1\), got 2"),
]


@pytest.mark.parametrize(("params", "message"), BAD_MODEL_PARAMS)
def test_model_params_are_checked_before_reading(tmp_path, params, message):
    result = run("fit", "--answers", tmp_path / "none.csv", "--features", tmp_path / "no.csv",
                 "--method", "mv", "--param", f"model_params={params}", "-o", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert "model 'mlp'" in result.output and len(result.output.strip().splitlines()) == 1
    assert re.search(message, result.output)
    assert not (tmp_path / "m").exists()


def test_model_params_are_checked_by_the_learner_in_python():
    with pytest.raises(InputError, match="model 'head': hidden must be an integer ≥ 1"):
        make_learner("maxmig", model="head", model_params={"hidden": 0}).check_params()
    with pytest.raises(InputError, match=r"dropout must be a number in \[0, 1\)"):
        make_learner("ce", model_params={"dropout": 1.0}).check_params()
    make_learner("ce", model_params={"hidden": [8, 4], "dropout": 0.5}).check_params()
    make_learner("ce", model_params={"hidden": []}).check_params()  # a linear model


@pytest.mark.parametrize("options", [["--method", "ds"], ["--method", "aggregate"],
                                     ["--method", "aggregate", "--param", "aggregator=glad"]])
def test_aggregators_that_only_accept_gold_train(files, options):
    # DawidSkene's and GLAD's fit take an optional gold: only gold-mv needs it
    result = run("fit", "--answers", files / "answers.csv", "--features",
                 files / "features.csv", *options, "--epochs", "1", "--threads", "1",
                 "-o", files / "m")
    assert result.exit_code == 0, result.output
    assert (files / "m" / "labels.csv").exists()


def test_gold_mv_is_refused_before_reading_in_command_line_words(tmp_path):
    result = run("fit", "--answers", tmp_path / "none.csv", "--features", tmp_path / "no.csv",
                 "--method", "aggregate", "--param", "aggregator=gold-mv", "-o", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert "aggregator=gold-mv needs gold answers" in result.output
    assert "crowdlearn aggregate --method gold-mv --gold" in result.output
    assert "fit(answers" not in result.output


@pytest.mark.parametrize(("given", "method", "message"), [
    ("--labels", "mbem", "--method mbem learns from crowd answers: give --answers, not "
                         "--labels (methods for --labels: ce, coteaching"),
    ("--answers", "ce", "--method ce learns from one label per item: give --labels, not "
                        "--answers (methods for --answers: mv, soft-mv")])
def test_answers_or_labels_of_the_wrong_kind_are_refused_before_reading(tmp_path, given,
                                                                         method, message):
    result = run("fit", given, tmp_path / "none.csv", "--features", tmp_path / "no.csv",
                 "--method", method, "-o", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert message in result.output


@pytest.mark.parametrize("option", [["--missing", "eel"], ["--worker-col", "annotator"],
                                    ["--format", "wide"], ["--keep", "first"]])
def test_options_of_crowd_answers_are_refused_with_labels(tmp_path, option):
    # they were ignored: --missing eel trained on 'eel' as a class
    result = run("fit", "--labels", tmp_path / "none.csv", "--features", tmp_path / "no.csv",
                 "--method", "ce", *option, "-o", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert f"{option[0]} applies to crowd answers (--answers), not to --labels" in result.output
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------- id columns
def test_an_id_column_given_must_exist(files):
    result = run("fit", "--answers", files / "answers.csv", "--features",
                 files / "features.csv", "--id-col", "item", "--method", "mv", "--epochs", 1,
                 "-o", files / "m")
    assert result.exit_code == 2, result.output
    assert "no id column 'item' (columns: 'id', 'f0', 'f1'" in result.output
    assert not (files / "m").exists()


def test_an_empty_id_cell_is_refused_naming_its_line(files):
    table = pd.read_csv(files / "features.csv", dtype=str)
    table.loc[4, "id"] = ""
    table.to_csv(files / "features.csv", index=False)
    for extra in ([], ["--allow-missing"]):
        result = run("fit", "--answers", files / "answers.csv", "--features",
                     files / "features.csv", "--method", "mv", "--epochs", 1, *extra,
                     "-o", files / "m")
        assert result.exit_code == 2, result.output
        assert "features.csv: line 6: empty id (column 'id')" in result.output


# ---------------------------------------------------------------- Ctrl-C
def test_ctrl_c_says_interrupted_and_exits_130(files, monkeypatch):
    import crowdlearn.features

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(crowdlearn.features, "read_features", interrupted)
    result = run("fit", "--answers", files / "answers.csv", "--features",
                 files / "features.csv", "--method", "mv", "--epochs", 1, "-o", files / "m")
    assert result.exit_code == 130
    assert result.output.strip() == "interrupted"


def test_running_out_of_memory_is_one_line_and_exit_1(files, monkeypatch):
    import crowdlearn.features

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 74.5 GiB for an array with shape (10, 10)")

    monkeypatch.setattr(crowdlearn.features, "read_features", too_big)
    result = run("fit", "--answers", files / "answers.csv", "--features",
                 files / "features.csv", "--method", "mv", "--epochs", 1, "-o", files / "m")
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: out of memory (Unable to allocate 74.5 GiB")
    assert len(result.output.strip().splitlines()) == 1 and not (files / "m").exists()


def test_ctrl_c_while_the_model_folder_is_written_leaves_nothing(files, monkeypatch):
    import crowdlearn.model_folder

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(crowdlearn.model_folder, "training_labels", interrupted)
    result = run("fit", "--answers", files / "answers.csv", "--features",
                 files / "features.csv", "--method", "mv", "--epochs", 1, "--threads", 1,
                 "-o", files / "m")
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not [p for p in os.listdir(files) if p == "m" or ".crowdlearn-" in p]


# ---------------------------------------------------------------- leftovers of killed runs
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _leftovers(folder: Path, name: str, dead: int) -> dict[str, bool]:
    """Temporary names beside ``folder/name``: name → whether it must be removed."""
    host = _host()
    names = {
        f".{name}.crowdlearn-{host}-{dead}-ab1_cd2e": True,  # a dead writer's
        f"..{name}.crowdlearn-{host}-{dead}-ab1_cd2e.crowdlearn-{host}-{dead}-x9y8z7w6": True,
        f".{name}.crowdlearn-{host}-{os.getpid()}-a1b2c3d4": False,  # a running writer's
        f".{name}.crowdlearn-elsewhere-{dead}-a1b2c3d4": False,  # another machine's
        f".{name}.k3j4h5g6": False,  # not ours for sure
        f".{name}x.crowdlearn-{host}-{dead}-a1b2c3d4": False,  # another output's
        f".{name}.crowdlearn-{host}-{dead}-a1b2c3d4.bak": False,
    }
    for i, entry in enumerate(names):
        if i % 2:
            (folder / entry).mkdir()
            (folder / entry / "learner.json").write_text("{}")
        else:
            (folder / entry).write_text("partial")
    return names


def test_leftovers_of_dead_writers_are_removed_and_nothing_else(tmp_path):
    names = _leftovers(tmp_path, "model", _dead_pid())
    link = tmp_path / f".model.crowdlearn-{_host()}-{_dead_pid()}-l1n2k3l4"
    link.symlink_to(tmp_path / ".model.k3j4h5g6")
    with pytest.warns(CrowdlearnWarning, match="removed 2 partial copies of .*model left by"):
        removed = remove_leftovers(tmp_path / "model")
    assert sorted(p.name for p in removed) == sorted(n for n, gone in names.items() if gone)
    assert {p.name for p in tmp_path.iterdir()} == {n for n, g in names.items() if not g} | {
        link.name}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert remove_leftovers(tmp_path / "model") == []


def test_temporary_names_carry_the_writer_and_atomic_writes_clean_up(tmp_path):
    tmp = temporary_beside(tmp_path / "out.csv")
    assert tmp.name.startswith(f".out.csv.crowdlearn-{_host()}-{os.getpid()}-")
    assert tmp.suffix == ".csv" and remove_leftovers(tmp_path / "out.csv") == []  # running
    tmp.unlink()
    dead = tmp_path / f".out.csv.crowdlearn-{_host()}-{_dead_pid()}-q1w2e3r4.csv"
    dead.write_text("partial")
    with pytest.warns(CrowdlearnWarning, match="removed 1 partial copy"):
        atomic_write(tmp_path / "out.csv", lambda p: p.write_text("done"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_fit_removes_a_killed_runs_partial_model_folder_and_says_so(files):
    names = _leftovers(files, "m", _dead_pid())
    result = run("fit", "--answers", files / "answers.csv", "--features",
                 files / "features.csv", "--method", "mv", "--epochs", 1, "--threads", 1,
                 "-o", files / "m")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "partial" in x)
    assert line.startswith("warning: removed 2 partial copies of") and "interrupted run" in line
    left = {p.name for p in files.iterdir()} & set(names)
    assert left == {n for n, gone in names.items() if not gone}
    stale = files / f".p.csv.crowdlearn-{_host()}-{_dead_pid()}-a1b2c3d4.csv"
    stale.write_text("partial")
    result = run("predict", files / "m", "--features", files / "features.csv", "-o",
                 files / "p.csv")
    assert result.exit_code == 0, result.output
    assert "warning: removed 1 partial copy of" in result.output and not stale.exists()


def test_long_output_names_still_fit_their_temporary_names(tmp_path):
    # a temporary name adds ~40 characters and the host's: long names are cut, not refused
    path = tmp_path / ("x" * 230 + ".csv")
    atomic_write(path, lambda p: Path(p).write_text("a\n1\n"))
    assert path.read_text() == "a\n1\n" and os.listdir(tmp_path) == [path.name]
