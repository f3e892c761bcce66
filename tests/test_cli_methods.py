"""``crowdlearn aggregate`` runs every registered method end to end (the summary included)."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn.cli import app
from crowdlearn.methods import available_aggregators
from tests.conftest import make_crowd

runner = CliRunner()


@pytest.mark.parametrize("method", sorted(set(available_aggregators()) - {"gold-mv"}))
def test_every_method_labels_the_tasks_and_reports(tmp_path, method):
    # binary, so that KOS runs too; hammers answer right 95% of the time
    ann, y, _ = make_crowd(n_tasks=120, n_workers=12, k=2, r=5, seed=3, hammers=0.6)
    path = tmp_path / "answers.csv"
    ann.to_frame().to_csv(path, index=False)
    out = tmp_path / "labels.csv"
    result = runner.invoke(app, ["aggregate", str(path), "--method", method, "-o", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["data"]["tasks"] == 120 and summary["outputs"]
    labels = pd.read_csv(out).sort_values("task")
    assert len(labels) == 120 and labels["confidence"].between(0, 1).all()
    assert (labels["label"].to_numpy() == y).mean() > 0.7  # majority vote: 0.73


def test_wide_answers_are_scored_against_one_label_a_line(tmp_path):
    # a tasks × workers matrix (no ids: row i is task i) and its truth in row order
    ann, y, _ = make_crowd(n_tasks=60, n_workers=8, k=3, r=8, seed=1, hammers=0.7)
    wide = ann.to_frame().pivot(index="task", columns="worker", values="label")
    (tmp_path / "answers.txt").write_text(
        "\n".join(" ".join(map(str, row)) for row in wide.to_numpy()) + "\n")
    (tmp_path / "truth.txt").write_text("\n".join(map(str, y)) + "\n")
    out = tmp_path / "labels.csv"
    result = runner.invoke(app, ["aggregate", str(tmp_path / "answers.txt"), "--format", "wide",
                                 "-o", str(out), "--truth", str(tmp_path / "truth.txt"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    labels = pd.read_csv(out).sort_values("task")["label"].to_numpy()
    scored = json.loads(result.stdout)["truth"]
    assert scored["tasks_scored"] == 60
    assert scored["accuracy"] == pytest.approx((labels == y).mean())
    # read as every input is: compressed, or from standard input
    (tmp_path / "truth.txt.gz").write_bytes(gzip.compress((tmp_path / "truth.txt").read_bytes()))
    for truth, given in ((tmp_path / "truth.txt.gz", None), ("-", (tmp_path / "truth.txt")
                                                              .read_text())):
        again = runner.invoke(app, ["aggregate", str(tmp_path / "answers.txt"), "--format",
                                    "wide", "-o", "-", "--truth", str(truth)], input=given)
        assert again.exit_code == 0, again.output
        assert f"{scored['accuracy']:.4f}" in again.output
    (tmp_path / "short.txt").write_text("\n".join(map(str, y[:-1])) + "\n")
    short = runner.invoke(app, ["aggregate", str(tmp_path / "answers.txt"), "--format", "wide",
                                "-o", "-", "--truth", str(tmp_path / "short.txt")])
    assert short.exit_code == 2
    assert "59 labels, one per line, for 60 tasks (rows of the answers matrix)" in short.output
