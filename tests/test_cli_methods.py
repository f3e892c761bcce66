"""``crowdlearn aggregate`` runs every registered method end to end (the summary included)."""

from __future__ import annotations

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
