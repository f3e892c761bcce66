"""The command line's checks before any work: output locations, the reading options every
command shares, and messages that name the file and only options the command has."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from crowdlearn.annotations import Annotations
from crowdlearn.cli import _aggregators_with, _cli_words, app
from crowdlearn.errors import CrowdlearnError, InputError
from crowdlearn.methods import available_aggregators
from crowdlearn.methods import make_aggregator as build
from crowdlearn.outputs import check_location
from tests.conftest import make_crowd

runner = CliRunner()


def run(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


@pytest.fixture
def answers(tmp_path):
    ann, _, _ = make_crowd(n_tasks=60, n_workers=8, r=3, seed=2)
    path = tmp_path / "answers.csv"
    ann.to_frame().to_csv(path, index=False)
    return path


def refused(result, *words: str) -> None:
    """Exit 2 with a one-line message holding ``words``, no traceback."""
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


# ---------------------------------------------------------------------- output locations
COMMANDS = {
    "aggregate": lambda a, o: ["aggregate", a, "-q", "-o", o],
    "relabel": lambda a, o: ["relabel", a, "-o", o],
    "label-issues": lambda a, o: ["label-issues", "--labels", a, "--proba", a, "-o", o],
    "predict": lambda a, o: ["predict", a.parent / "model", "--features", a, "-o", o],
    "simulate": lambda a, o: ["simulate", "-o", o],
    "plan": lambda a, o: ["plan", "--pilot", a, "--budget", 50, "-o", o],
    "experiment active": lambda a, o: ["experiment", "active", "-o", o],
    "experiment budget": lambda a, o: ["experiment", "budget", "-o", o],
    "fit": lambda a, o: ["fit", "--features", a, "--method", "ce", "--labels", a, "-o", o],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_output_under_a_file_is_refused_before_any_work(tmp_path, answers, command):
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "out.csv"
    refused(run(*COMMANDS[command](answers, out)), "afile is a file, not a folder")
    assert (tmp_path / "afile").read_text() == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "answers.csv"]


@pytest.fixture
def unwritable(tmp_path, monkeypatch):
    """A folder that cannot be written (as root, chmod does not stop writes: creating a file
    in it is made to fail as a read-only or immutable folder makes it fail)."""
    folder = tmp_path / "imm"
    folder.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and os.path.realpath(dir) == os.path.realpath(folder):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return folder


def test_unwritable_folder_refused_and_nothing_written(tmp_path, answers, unwritable):
    part = tmp_path / "part.csv"
    result = run("aggregate", answers, "-q", "-o", part, "--workers", unwritable / "w.csv")
    refused(result, "w.csv: cannot write in folder", "Permission denied")
    assert not part.exists()  # before the fix: written, then a traceback on --workers
    result = run("plan", "--pilot", answers, "--budget", 50, "-o", unwritable / "plan")
    refused(result, "cannot write in folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder")
def test_read_only_folder_refused(tmp_path, answers):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        refused(run("aggregate", answers, "-q", "-o", folder / "l.csv"), "cannot write")
    finally:
        folder.chmod(0o755)


def test_check_location(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(InputError, match="afile is a file, not a folder"):
        check_location(tmp_path / "afile" / "deeper" / "x.csv")
    with pytest.raises(InputError, match="afile: is a file; --out names a folder"):
        check_location(tmp_path / "afile", folder=True)
    with pytest.raises(InputError, match="does not exist"):
        check_location(tmp_path / "new" / "x.csv")
    check_location(tmp_path / "new" / "deeper", folder=True)  # created with its parents
    check_location(tmp_path / "x.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # the probe is removed
    # a symbolic link is followed, as the writers follow it
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "nowhere" / "x.csv")
    (tmp_path / "plan").symlink_to(tmp_path / "nowhere" / "plan")
    with pytest.raises(InputError, match="dangling.csv: folder .*nowhere does not exist"):
        check_location(tmp_path / "dangling.csv")
    with pytest.raises(InputError, match="plan: a symbolic link to .*nowhere.*, which does "
                                         "not exist"):
        check_location(tmp_path / "plan", folder=True)
    (tmp_path / "there").mkdir()
    (tmp_path / "linked.csv").symlink_to(tmp_path / "there" / "x.csv")
    check_location(tmp_path / "linked.csv")  # a link to a file yet to be written is fine


def test_fit_output_under_a_file_says_so(tmp_path, answers):
    (tmp_path / "afile").write_text("")
    result = run("fit", "--features", answers, "--method", "ce", "--labels", answers, "-o",
                 tmp_path / "afile" / "model")
    refused(result, "afile is a file")
    assert "does not exist" not in result.output


# ---------------------------------------------------------------------- reading options
def test_label_issues_reads_labels_from_standard_input_once(tmp_path):
    labels = "task,label\n" + "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(20))
    pd.DataFrame({"task": [f"t{i}" for i in range(20)],
                  "proba_a": [0.9 if i % 2 == 0 else 0.2 for i in range(20)],
                  "proba_b": [0.1 if i % 2 == 0 else 0.8 for i in range(20)]}
                 ).to_csv(tmp_path / "p.csv", index=False)
    result = run("label-issues", "--labels", "-", "--id-col", "task", "--proba",
                 tmp_path / "p.csv", "-o", tmp_path / "i.csv", input=labels)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "i.csv")) == 20


def test_label_issues_header_only_labels_names_the_file(tmp_path):
    (tmp_path / "header.csv").write_text("task,label\n")
    (tmp_path / "p.csv").write_text("task,proba_a,proba_b\nt1,0.5,0.5\n")
    result = run("label-issues", "--labels", tmp_path / "header.csv", "--proba",
                 tmp_path / "p.csv", "-o", tmp_path / "i.csv")
    refused(result, "header.csv: no labels")
    assert "shape" not in result.output


def test_relabel_keep_is_a_checked_choice(tmp_path, answers):
    result = run("relabel", answers, "-o", tmp_path / "r.csv", "--keep", "bogus")
    assert result.exit_code == 2 and "Invalid value for '--keep'" in result.output
    assert not (tmp_path / "r.csv").exists()


def test_relabel_and_plan_take_the_reading_options_of_aggregate(tmp_path, answers):
    frame = pd.read_csv(answers).astype(str)
    frame["label"] = frame["label"].map({"0": "né", "1": "oui", "2": "peut-être"})
    latin = tmp_path / "latin.txt"
    frame.to_csv(latin, sep=";", index=False, encoding="latin-1")
    result = run("relabel", latin, "-k", 5, "-o", tmp_path / "r.csv")
    refused(result, "--encoding latin-1")
    result = run("relabel", latin, "-k", 5, "-o", tmp_path / "r.csv", "--encoding", "latin-1",
                 "--sep", "semicolon")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "r.csv")) == 5
    wide = frame.pivot(index="task", columns="worker", values="label").fillna("-")
    wide.to_csv(tmp_path / "wide.csv", index=False, header=False)
    result = run("relabel", tmp_path / "wide.csv", "--format", "wide", "--missing", "-", "-k",
                 3, "-o", tmp_path / "w.csv")
    assert result.exit_code == 0, result.output
    for command in ("plan", "fit"):
        options = {p.name for p in typer.main.get_command(app).commands[command].params}
        assert {"sep", "encoding", "layout", "missing", "keep"} <= options


def test_messages_name_only_options_the_command_has(tmp_path, answers, monkeypatch):
    frame = pd.read_csv(answers)
    pd.concat([frame, frame.iloc[:1]]).to_csv(tmp_path / "dup.csv", index=False)
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"task": frame["task"].unique(), "label": 0}).to_csv(truth, index=False)
    result = run("experiment", "active", "--replay", tmp_path / "dup.csv", "--truth", truth,
                 "-o", tmp_path / "act")
    refused(result, "answered twice", "--keep")  # every command reading answers has --keep
    with pytest.raises(CrowdlearnError) as caught:
        Annotations.from_frame(pd.read_csv(tmp_path / "dup.csv"))
    words = _cli_words(caught.value, {"answers"})
    assert "remove the repeats" in words and "keep" not in words
    pd.DataFrame({"id": [0, 1], "label": ["é", "b"]}).to_csv(
        tmp_path / "latin.csv", index=False, encoding="latin-1")
    pd.DataFrame({"id": [0, 1], "é": [0.9, 0.2], "b": [0.1, 0.8]}).to_csv(
        tmp_path / "p.csv", index=False)
    result = run("label-issues", "--labels", tmp_path / "latin.csv", "--proba",
                 tmp_path / "p.csv", "-o", tmp_path / "issues.csv")
    refused(result, "save the file as UTF-8")
    assert "--encoding" not in result.output
    monkeypatch.setenv("CROWDLEARN_DATA", str(tmp_path / "nothing"))
    result = run("simulate", "--dataset", "mnist", "-o", tmp_path / "s.csv")
    refused(result, "not found")
    assert "as an argument" not in result.output
    np.save(tmp_path / "X.npy", np.random.default_rng(0).normal(size=(20, 3)))
    pd.DataFrame({"id": range(20), "label": ["a", "b"] * 10}).to_csv(tmp_path / "l.csv",
                                                                    index=False)
    result = run("fit", "--features", tmp_path / "X.npy", "--method", "ce", "--labels",
                 tmp_path / "l.csv", "--model", "nope", "-o", tmp_path / "m")
    refused(result, "unknown model 'nope'")
    assert "callable" not in result.output


def test_sep_refuses_unknown_names(tmp_path, answers):
    for word in ("xx", "pipe"):
        refused(run("aggregate", answers, "-o", tmp_path / "l.csv", "--sep", word),
                f"--sep {word!r}")
    assert not (tmp_path / "l.csv").exists()
    answers.write_text(answers.read_text().replace(",", "|"))
    assert run("aggregate", answers, "-q", "-o", tmp_path / "l.csv", "--sep",
               "bar").exit_code == 0


def test_simulate_keeps_the_ids_of_an_id_column(tmp_path):
    pd.DataFrame({"id": [f"song{i}.mp3" for i in range(30)],
                  "label": ["rock", "jazz", "pop"] * 10}).to_csv(tmp_path / "t.csv",
                                                                 index=False)
    result = run("simulate", "--labels", tmp_path / "t.csv", "--redundancy", 2, "--budget",
                 40, "-o", tmp_path / "s.csv", "--gold", tmp_path / "g.csv")
    assert result.exit_code == 0, result.output
    sim, gold = pd.read_csv(tmp_path / "s.csv"), pd.read_csv(tmp_path / "g.csv")
    assert set(sim["task"]) == {f"song{i}.mp3" for i in range(20)}
    assert set(gold["task"]) == set(sim["task"])
    # from standard input too, which can be read only once
    piped = runner.invoke(app, ["simulate", "--labels", "-", "--redundancy", "2", "--budget",
                                "40", "-o", str(tmp_path / "p.csv")],
                          input=(tmp_path / "t.csv").read_text())
    assert piped.exit_code == 0, piped.output
    assert set(pd.read_csv(tmp_path / "p.csv")["task"]) == set(sim["task"])


# ---------------------------------------------------------------------- help text
def _help(command: str, option: str) -> str:
    params = typer.main.get_command(app).commands[command].params
    return next(p.help for p in params if p.name == option)


def test_help_lists_the_methods_of_each_option_from_the_registry():
    for option in ("max_iter", "tol", "smoothing"):
        users = [n for n in available_aggregators() if option in build(n).get_params()]
        assert _aggregators_with(option) == ", ".join(users)
        assert f"({', '.join(users)})" in _help("aggregate", option)
    assert {"glad", "gold-mv"} <= set(_aggregators_with("gold").split(", "))
    assert _aggregators_with("gold") in _help("aggregate", "gold")
    assert "torch's own" not in _help("plan", "threads")
    assert "space" in _help("aggregate", "sep") and "bar" in _help("aggregate", "sep")


# ---------------------------------------------------------------------- file names
def test_gold_truth_and_proba_messages_name_their_file(tmp_path, answers):
    gold = tmp_path / "gold.csv"
    gold.write_text("task,label\nnobody,0\n")
    refused(run("aggregate", answers, "-q", "-o", tmp_path / "l.csv", "--method", "glad",
                "--gold", gold), "gold.csv: gold task 'nobody'")
    gold.write_text("task,label\n0,wolf\n")
    refused(run("aggregate", answers, "-q", "-o", tmp_path / "l.csv", "--method", "glad",
                "--gold", gold), "gold.csv: gold label 'wolf'")
    truth = tmp_path / "truth.csv"
    truth.write_text("task,label\n")
    refused(run("aggregate", answers, "-q", "-o", tmp_path / "l.csv", "--truth", truth),
            "truth.csv: no task of the truth file has an answer")
    proba = tmp_path / "p.csv"
    pd.DataFrame({"id": [0, 1], "proba_0": [0.5, 0.2], "proba_1": [0.3, 0.4],
                  "proba_2": [0.2, 0.4]}).to_csv(proba, index=False)
    refused(run("relabel", answers, "-o", tmp_path / "r.csv", "--proba", proba),
            "p.csv: proba has no row for 58 answered tasks")
    assert not any(p.name in ("l.csv", "r.csv") for p in tmp_path.iterdir())
