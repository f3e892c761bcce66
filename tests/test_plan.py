"""`crowdlearn.plan` / `crowdlearn plan`: the pool a pilot reveals, the planner's sweep, its
recommendation and the refused inputs (issue 17)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import crowdlearn
from crowdlearn.annotations import Annotations
from crowdlearn.cli import app
from crowdlearn.errors import InputError
from crowdlearn.plan import WorkerPool, estimate_pool, recommend, summarise
from crowdlearn.simulate import assign, hammer_spammer

runner = CliRunner()
TINY = dict(methods=("mv",), redundancies=(1, 2), seeds=1, epochs=30)


def pilot_of(n_tasks: int = 60, redundancy: int = 3, workers: int = 10, gamma: float = 0.4,
             seed: int = 0):
    crowd = hammer_spammer(workers, 10, gamma, seed=seed)
    y = np.random.default_rng(seed).integers(0, 10, n_tasks)
    ann = crowd.annotate(y, assign(n_tasks, workers, redundancy, seed=seed), seed=seed)
    return ann, crowd, y


def test_pool_separates_hammers_from_spammers():
    ann, crowd, _ = pilot_of(n_tasks=400, redundancy=5, workers=10, gamma=0.4)
    pool = estimate_pool(ann)
    hammer = np.einsum("wkk->w", crowd.confusion) > 9.5
    assert 0 < hammer.sum() < 10
    acc = pool.to_frame()["accuracy"].to_numpy()
    assert acc[hammer].min() > 0.8 and acc[~hammer].max() < 0.35
    assert np.allclose(pool.confusion.sum(axis=2), 1)
    assert pool.volume.sum() == pytest.approx(1) and pool.answers.sum() == len(ann)
    assert pool.max_per_task == 5 and pool.n_workers == 10


def test_pool_keeps_each_worker_accuracy_with_few_answers():
    # 6 answers a worker: a plain Dawid-Skene MAP would give everyone the crowd's average
    ann, crowd, _ = pilot_of(n_tasks=12, redundancy=10, workers=20, gamma=0.35, seed=3)
    acc = estimate_pool(ann).to_frame()["accuracy"].to_numpy()
    hammer = np.einsum("wkk->w", crowd.confusion) > 9.5
    assert acc[hammer].mean() - acc[~hammer].mean() > 0.3


def test_assignment_distinct_workers_in_proportion_to_volume():
    w = 6
    volume = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    pool = WorkerPool(np.tile(np.eye(3), (w, 1, 1)), volume, np.ones(w, int), 2)
    a = pool.assign(5000, 2, 4000, seed=0)
    assert (a[4000:] == -1).all() and (a[:4000] >= 0).all()
    assert (a[:4000, 0] != a[:4000, 1]).all()
    loads = np.bincount(a[:4000].ravel(), minlength=w)
    assert loads[0] > 2.5 * loads[1:].mean()
    assert np.array_equal(a, pool.assign(5000, 2, 4000, seed=0))


def test_summary_interval_and_recommendation():
    results = pd.DataFrame({"method": ["mv"] * 6 + ["ds"] * 3,
                            "redundancy": [1, 1, 1, 3, 3, 3, 1, 1, 1],
                            "accuracy": [.80, .82, .84, .70, .71, .72, .82, .82, .82]})
    table = summarise(results, budget=1200)
    row = table[(table["method"] == "mv") & (table["redundancy"] == 1)].iloc[0]
    half = 2.919986 * 0.02 * np.sqrt(1 + 1 / 3)  # t(0.95, 2 df)
    assert row["low"] == pytest.approx(0.82 - half, abs=1e-5)
    assert row["high"] == pytest.approx(0.82 + half, abs=1e-5)
    assert row["items"] == 1200
    best = recommend(table)  # mv and ds tie at r=1 (0.82): the first in table order
    assert best["redundancy"] == 1 and best["accuracy"] == pytest.approx(0.82)
    assert recommend(table[table["redundancy"] == 3])["items"] == 400


def test_one_standard_error_rule_prefers_fewer_labels_per_item():
    results = pd.DataFrame({"method": ["mbem"] * 6, "redundancy": [1, 1, 1, 2, 2, 2],
                            "accuracy": [.70, .66, .68, .72, .64, .71]})  # r=2 mean .69
    table = summarise(results, budget=600)
    assert recommend(table, "best")["redundancy"] == 2
    assert recommend(table)["redundancy"] == 1  # .68 is within one se (.025) of .69
    assert recommend(table)["rule"] == "one-se"
    far = results.assign(accuracy=[.60, .61, .62, .72, .71, .73])
    assert recommend(summarise(far, budget=600))["redundancy"] == 2
    with pytest.raises(InputError, match="rule"):
        recommend(table, "mean")


def test_plan_end_to_end(tmp_path, monkeypatch):
    ann, _, _ = pilot_of()
    out = tmp_path / "plan"
    result = crowdlearn.plan(ann, 300, out_dir=out, **{**TINY, "seeds": 2})
    assert len(result.results) == 4 and set(result.results["redundancy"]) == {1, 2}
    best = result.recommendation
    assert best["redundancy"] in (1, 2) and best["method"] == "mv"
    assert best["low"] <= best["accuracy"] <= best["high"]
    assert result.results["accuracy"].min() > 0.3  # trained: well above chance (0.1)
    assert (out / "results.csv").exists() and (out / "plan.png").exists()
    assert any("digits" in note for note in result.caveats)
    from crowdlearn import learners

    def no_training(*args, **kwargs):
        raise AssertionError("a resumed plan retrained a cell")

    monkeypatch.setattr(learners, "make_crowd_learner", no_training)
    again = crowdlearn.plan(ann, 300, out_dir=out, **{**TINY, "seeds": 2})  # resumed
    assert again.results["accuracy"].tolist() == result.results["accuracy"].tolist()


def test_plan_on_features_uses_stand_in_truth():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (10, 8))
    y = rng.integers(0, 10, 600)
    X = (centres[y] + rng.normal(0, 1, (600, 8))).astype(np.float32)
    crowd = hammer_spammer(10, 10, 0.5, seed=1)
    ann = crowd.annotate(y[:100], assign(100, 10, 3, seed=1), seed=1)
    result = crowdlearn.plan(ann, 300, features=X, **TINY)
    assert any("stand" in note or "Dawid-Skene labels" in note for note in result.caveats)
    assert result.results["accuracy"].between(0, 1).all()


@pytest.mark.parametrize("case, message", [
    ("one answer", "one answer"),
    ("budget", "smaller than the pilot's"),
    ("redundancy", "larger than the pool"),
    ("features", "no feature row"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, case, message):
    ann, _, _ = pilot_of(workers=10)
    kwargs = dict(TINY, out_dir=tmp_path / "out")
    budget = 300
    if case == "one answer":
        ann = Annotations(np.arange(50), np.arange(50) % 10, np.arange(50) % 10)
    elif case == "budget":
        budget = 40
    elif case == "redundancy":
        kwargs["redundancies"] = (1, 11)
    else:
        kwargs["features"] = np.zeros((30, 4), dtype=np.float32)  # ids 0..29, tasks up to 59
    with pytest.raises(InputError, match=message):
        crowdlearn.plan(ann, budget, **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def pilot_csv(tmp_path):
    ann, _, _ = pilot_of()
    path = tmp_path / "pilot.csv"
    ann.to_frame().to_csv(path, index=False)
    return path


def test_cli_plan_writes_recommendation(tmp_path, pilot_csv):
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", "--pilot", str(pilot_csv), "--budget", "300",
                                 "--redundancy", "1,2", "--methods", "mv", "--seeds", "2",
                                 "--epochs", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "recommended:" in result.output
    record = json.loads((out / "recommendation.json").read_text())
    assert record["recommendation"]["redundancy"] in (1, 2)
    assert record["pool"]["workers"] == 10
    workers = pd.read_csv(out / "workers.csv")
    assert len(workers) == 10 and workers["answers"].sum() == 180
    assert {"results.csv", "plan.png"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize("case, message", [
    ("one answer", "one answer"),
    ("budget", "smaller than the pilot's"),
    ("redundancy", "larger than the pool"),
    ("features", "no feature row"),
])
def test_cli_plan_bad_input_exit_2_nothing_written(tmp_path, pilot_csv, case, message):
    args = ["plan", "--pilot", str(pilot_csv), "--budget", "300", "--methods", "mv",
            "--redundancy", "1,2", "--epochs", "1", "-o", str(tmp_path / "out")]
    if case == "one answer":
        pd.DataFrame({"task": range(50), "worker": [i % 10 for i in range(50)],
                      "label": [i % 3 for i in range(50)]}).to_csv(pilot_csv, index=False)
    elif case == "budget":
        args[args.index("300")] = "40"
    elif case == "redundancy":
        args[args.index("1,2")] = "1,11"
    else:
        features = tmp_path / "X.npy"
        np.save(features, np.zeros((30, 4), dtype=np.float32))
        args += ["--features", str(features)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_budget_beyond_the_embedded_items_is_scaled_down_and_said():
    ann, _, _ = pilot_of()
    result = crowdlearn.plan(ann, 5000, **{**TINY, "epochs": 1})
    assert set(result.results["n_items"]) == {1300, 650}  # digits has 1,300 training items
    assert any("simulated at 1300 labels" in note for note in result.caveats)
    assert result.recommendation["items"] in (5000, 2500)  # your budget's items
