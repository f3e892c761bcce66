from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn.cli import app
from tests.conftest import make_crowd

runner = CliRunner()


@pytest.fixture
def answers(tmp_path):
    ann, y, _ = make_crowd(n_tasks=300, seed=1)
    path = tmp_path / "answers.csv"
    ann.to_frame().to_csv(path, index=False)
    return path, y


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("method", ["mv", "ds", "onecoin"])
def test_aggregate_writes_labels_workers_and_plot(tmp_path, answers, method):
    path, y = answers
    out, workers, plot = tmp_path / "labels.csv", tmp_path / "workers.csv", tmp_path / "w.png"
    result = run("aggregate", path, "--method", method, "--out", out, "--workers", workers,
                 "--plot", plot)
    assert result.exit_code == 0, result.output
    labels = pd.read_csv(out)
    assert list(labels.columns) == ["task", "label", "confidence"]
    assert len(labels) == 300
    assert labels["confidence"].between(0, 1).all()
    acc = (labels.sort_values("task")["label"].to_numpy() == y).mean()
    assert acc > (0.6 if method == "mv" else 0.9)
    quality = pd.read_csv(workers)
    assert {"worker", "n_answers", "skill"} <= set(quality.columns)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in result.output


def test_aggregate_wide_and_parquet(tmp_path, answers):
    path, _ = answers
    df = pd.read_csv(path)
    wide = df.pivot(index="task", columns="worker", values="label").fillna(-1).astype(int)
    np.savetxt(tmp_path / "wide.txt", wide.to_numpy(), fmt="%d")
    r1 = run("aggregate", tmp_path / "wide.txt", "--format", "wide", "-o", tmp_path / "a.csv")
    assert r1.exit_code == 0, r1.output
    df.rename(columns={"task": "item"}).to_parquet(tmp_path / "a.parquet")
    r2 = run("aggregate", tmp_path / "a.parquet", "--task-col", "item", "-o", tmp_path / "b.csv")
    assert r2.exit_code == 0, r2.output
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    np.testing.assert_array_equal(a["label"], b.sort_values("task")["label"])


def test_existing_output_needs_force(tmp_path, answers):
    path, _ = answers
    out = tmp_path / "labels.csv"
    out.write_text("precious")
    result = run("aggregate", path, "-o", out)
    assert result.exit_code == 2
    assert "already exists; pass --force" in result.output
    assert out.read_text() == "precious"
    assert run("aggregate", path, "-o", out, "--force").exit_code == 0
    assert out.read_text().startswith("task,label,confidence")
    result = run("aggregate", path, "-o", path, "--force")
    assert result.exit_code == 2 and "over an input file" in result.output


BAD_INPUTS = {
    "missing column": ("task,annotator,label\na,w,1\n", "missing column 'worker'"),
    "empty file": ("", "the file is empty"),
    "header only": ("task,worker,label\n", "no answers"),
    "NaN label": ("task,worker,label\na,w1,1\nb,w1,\n", "line 3: empty value in column 'label'"),
    "empty task id": ("task,worker,label\n,w1,1\n", "line 2: empty value in column 'task'"),
    "duplicate pair": ("task,worker,label\na,w1,1\na,w1,0\n", "answered twice by worker 'w1'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_no_output(tmp_path, case):
    text, message = BAD_INPUTS[case]
    path = tmp_path / "answers.csv"
    path.write_text(text)
    out = tmp_path / "labels.csv"
    result = run("aggregate", path, "-o", out, "--workers", tmp_path / "w.csv")
    assert result.exit_code == 2
    assert message in result.output
    assert str(path) in result.output.replace("\n", "")
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one message, soft-wrapped at most
    assert not out.exists() and not (tmp_path / "w.csv").exists()
    assert list(tmp_path.iterdir()) == [path]  # no temporary leftovers either


def test_bad_wide_row(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_text("0 1 -1\n-1 -1 -1\n1 1 0\n")
    result = run("aggregate", path, "--format", "wide", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "row 1 has no answer" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_process_exit_code_and_stderr(tmp_path):
    """Through a real process: exit status 2 and a single line on stderr, no traceback."""
    path = tmp_path / "answers.csv"
    path.write_text("task,worker\na,w\n")
    proc = subprocess.run([sys.executable, "-m", "crowdlearn", "aggregate", str(path), "-o",
                           str(tmp_path / "o.csv")], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "400", "PATH": ""})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "missing column 'label'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_info_and_demo():
    info = run("info")
    assert info.exit_code == 0 and "numpy" in info.output and "torch device" in info.output
    assert "threadpoolctl" in info.output and "crowd-kit" in info.output  # extras too
    demo = run("demo", "--aggregate")
    assert demo.exit_code == 0, demo.output
    assert "majority vote" in demo.output and "ds" in demo.output


def test_demo_runs_the_budget_sweep_in_parallel(tmp_path, monkeypatch):
    import crowdlearn.cli as cli

    calls = []
    monkeypatch.setattr(cli, "_run_budget", lambda *args: calls.append(args))
    assert run("demo", "-o", tmp_path).exit_code == 0
    settings, out, force, jobs, threads = calls[0]
    assert (settings.seeds, settings.budget, settings.redundancy) == (3, 1200, (1, 3, 5))
    assert jobs == cli._cpu_cores() and threads == 1 and out == tmp_path and not force
    assert run("demo", "-o", tmp_path, "--seeds", "5", "-j", "1").exit_code == 0
    assert calls[1][0].seeds == 5 and calls[1][3] == 1


def test_one_file_for_two_outputs_is_refused(tmp_path, answers):
    path, _ = answers
    out = tmp_path / "same.csv"
    result = run("aggregate", path, "-o", out, "--workers", out)
    assert result.exit_code == 2 and "given as two different outputs" in result.output
    assert not out.exists()
    sim = run("simulate", "-o", out, "--gold", out)
    assert sim.exit_code == 2 and "given as two different outputs" in sim.output


def test_aggregate_wide_warns_about_a_wrong_missing_marker(tmp_path):
    from tests.test_annotations import labelme_like

    matrix = tmp_path / "answers.txt"
    np.savetxt(matrix, labelme_like(), fmt="%d")  # blank-separated, -1 = no answer
    wrong = run("aggregate", matrix, "--format", "wide", "--missing", "0", "--method", "mv",
                "-o", tmp_path / "wrong.csv")
    assert wrong.exit_code == 0, wrong.output  # a warning: the labels are still written
    text = " ".join(wrong.output.split())
    assert "'-1' fills" in text and "pass --missing -1" in text
    right = run("aggregate", matrix, "--format", "wide", "--method", "mv", "-o",
                tmp_path / "right.csv")
    assert right.exit_code == 0 and "fills" not in right.output
    assert "-1" not in set(pd.read_csv(tmp_path / "right.csv")["label"].astype(str))


def test_simulate_maxmig_on_digits_is_the_crowds_experiment_crowd(tmp_path):
    from crowdlearn.experiments.crowds import case_crowd

    out = tmp_path / "s.csv"
    assert run("simulate", "--worker-model", "maxmig", "--case", "2", "-o", out).exit_code == 0
    answers = pd.read_csv(out)
    assert answers["worker"].nunique() == case_crowd("2", "low", 10, "digits").n_workers == 25
    assert run("simulate", "--worker-model", "maxmig", "--case", "harsh", "-o", out,
               "--force").exit_code == 0
    bad = run("simulate", "--worker-model", "maxmig", "--case", "4", "-o", tmp_path / "x.csv")
    assert bad.exit_code == 2 and "--case '4'" in bad.output


def test_empty_label_remedy_in_the_command_lines_words(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("task,worker,label\nt1,w1,cat\nt1,w2,\nt2,w1,dog\n")
    for command in ("aggregate", "relabel"):
        done = CliRunner().invoke(app, [command, str(path), "-o", str(tmp_path / "o.csv")])
        assert done.exit_code == 2
        assert "pass --missing '' to drop and count the answers without a label" in \
            done.output, done.output
    done = CliRunner().invoke(app, ["relabel", str(path), "--missing", "", "-k", "1", "-o",
                                    str(tmp_path / "o.csv")])
    assert done.exit_code == 0
    assert "warning: " in done.output and "dropped 1 of 3 answers" in done.output
