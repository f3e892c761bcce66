"""`crowdlearn simulate`: writes answers (+ gold) for a dataset and a worker model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn.cli import app
from crowdlearn.datasets import load

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["simulate", *(str(a) for a in args)])


def test_digits_hammer_spammer(tmp_path):
    out, gold = tmp_path / "answers.csv", tmp_path / "gold.csv"
    args = ("--dataset", "digits", "--worker-model", "hammer-spammer", "--workers", 20,
            "--gamma", 0.35, "--redundancy", 1, "--budget", 1200, "--seed", 0, "--out", out,
            "--gold", gold)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    answers, truth = pd.read_csv(out), pd.read_csv(gold)
    assert list(answers.columns) == ["task", "worker", "label"]
    assert list(truth.columns) == ["task", "label"]
    assert len(answers) == 1200 and answers["task"].is_unique
    assert truth["task"].tolist() == list(range(1200))  # the first budget // r items
    np.testing.assert_array_equal(truth["label"], load("digits", "train").y[:1200])
    assert answers["worker"].between(0, 19).all()
    loads = answers["worker"].value_counts()
    assert loads.max() - loads.min() <= 1
    acc = (answers.sort_values("task")["label"].to_numpy() == truth["label"].to_numpy()).mean()
    assert 0.2 < acc < 0.7  # γ = 0.35 hammers plus ~0.109-accurate spammers: ≈ 0.42

    # same seed, same file; refuses to overwrite without --force
    first = out.read_bytes()
    again = run(*args)
    assert again.exit_code == 2 and "already exists" in again.output
    assert run(*args, "--force").exit_code == 0
    assert out.read_bytes() == first


def test_maxmig_case2_juniors(tmp_path):
    out = tmp_path / "a.csv"
    result = run("--worker-model", "maxmig", "--case", 2, "--budget", 1500, "-o", out)
    assert result.exit_code == 0, result.output
    answers = pd.read_csv(out)
    # the digits crowd of `experiment crowds`: 10 seniors, then 15 juniors who answer 0
    assert answers["worker"].nunique() == 25 and answers["task"].nunique() == 60
    assert (answers.loc[answers["worker"] >= 10, "label"] == 0).all()
    assert (answers.loc[answers["worker"] < 10, "label"] != 0).any()


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_labels_file(tmp_path, suffix):
    y = np.random.default_rng(0).choice(["cat", "dog", "owl", "yak"], 60)
    path = tmp_path / f"labels{suffix}"
    if suffix == ".npy":
        np.save(path, y)
    else:
        pd.DataFrame({"task": [f"t{i}" for i in range(60)], "label": y}).to_csv(path,
                                                                                index=False)
    out, gold = tmp_path / "a.csv", tmp_path / "g.csv"
    result = run("--labels", path, "--worker-model", "grouped", "--group-size", 2,
                 "--workers", 6, "--redundancy", 3, "-o", out, "--gold", gold)
    assert result.exit_code == 0, result.output
    answers, truth = pd.read_csv(out), pd.read_csv(gold)
    assert len(answers) == 180 and set(answers["label"]) <= {"cat", "dog", "owl", "yak"}
    assert truth["label"].tolist() == y.tolist()
    if suffix == ".csv":
        assert truth["task"].tolist() == [f"t{i}" for i in range(60)]


def test_matrices_file(tmp_path):
    conf = np.tile(np.eye(10), (4, 1, 1))
    np.save(tmp_path / "m.npy", conf)
    out, gold = tmp_path / "a.csv", tmp_path / "g.csv"
    result = run("--worker-model", "matrices", "--matrices", tmp_path / "m.npy",
                 "--redundancy", 2, "--budget", 200, "-o", out, "--gold", gold)
    assert result.exit_code == 0, result.output
    merged = pd.read_csv(out).merge(pd.read_csv(gold), on="task", suffixes=("", "_true"))
    assert (merged["label"] == merged["label_true"]).all()


@pytest.mark.parametrize("args, match", [
    (("--redundancy", 30), "cannot exceed"),
    (("--worker-model", "grouped", "--group-size", 3), "multiple"),
    (("--gamma", 1.5), "gamma"),
    (("--labels", "missing.csv"), "no such file"),
    (("--dataset", "digits", "--labels", "x.csv"), "not both"),
    (("--worker-model", "maxmig", "--workers", 7), "10 workers"),
    (("--worker-model", "maxmig", "--expertise", "high", "--case", 4), "case"),
    (("--budget", 100_000), "only 1300"),
    (("--case", 2), "--case does not apply to --worker-model hammer-spammer (it takes "
                    "--gamma)"),
    (("--worker-model", "maxmig", "--gamma", 0.9), "--gamma does not apply to --worker-model "
                                                   "maxmig (it takes --case, --expertise)"),
    (("--worker-model", "classwise", "--group-size", 5), "--group-size does not apply"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, match):
    result = run(*args, "-o", tmp_path / "a.csv")
    assert result.exit_code == 2, result.output
    assert match in result.output
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error:")
    assert not (tmp_path / "a.csv").exists()
