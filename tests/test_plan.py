"""`crowdlearn.plan` / `crowdlearn plan`: the pool a pilot reveals, the planner's sweep, its
recommendation and the refused inputs (issue 17)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import crowdlearn
from crowdlearn.annotations import Annotations
from crowdlearn.cli import app
from crowdlearn.errors import InputError
from crowdlearn.experiments.plan import PlanExperiment, PlanSettings
from crowdlearn.plan import Plan, WorkerPool, estimate_pool, paired_gaps, recommend, summarise
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
    best = recommend(table, "one-se")  # mv and ds tie at r=1 (0.82): the first in order
    assert best["redundancy"] == 1 and best["accuracy"] == pytest.approx(0.82)
    assert recommend(table[table["redundancy"] == 3], "one-se")["items"] == 400


def test_one_standard_error_rule_prefers_fewer_labels_per_item():
    results = pd.DataFrame({"method": ["mbem"] * 6, "redundancy": [1, 1, 1, 2, 2, 2],
                            "accuracy": [.70, .66, .68, .72, .64, .71]})  # r=2 mean .69
    table = summarise(results, budget=600)
    assert recommend(table, "best")["redundancy"] == 2
    assert recommend(table, "one-se")["redundancy"] == 1  # .68 within one se (.025) of .69
    assert recommend(table, "one-se")["rule"] == "one-se"
    far = results.assign(accuracy=[.60, .61, .62, .72, .71, .73])
    assert recommend(summarise(far, budget=600), "one-se")["redundancy"] == 2
    with pytest.raises(InputError, match="rule"):
        recommend(table, "mean")


def crowds(r1: list[float], r2: list[float]) -> pd.DataFrame:
    n = len(r1)
    return pd.DataFrame({"method": ["mbem"] * 2 * n, "redundancy": [1] * n + [2] * n,
                         "seed": list(range(n)) * 2, "accuracy": r1 + r2})


def test_paired_rule_removes_the_between_crowd_noise():
    # each simulated crowd shifts both redundancies alike: r=2 is better by 2 points on
    # every seed, which the sd of the means (10 points) hides and the paired sd does not
    results = crowds([.60, .70, .80], [.62, .72, .82])
    table = summarise(results, budget=600)
    assert recommend(table, "one-se")["redundancy"] == 1
    best = recommend(table, "paired", results)
    assert best["redundancy"] == 2 and best["rule"] == "paired"
    assert best["gap"] == pytest.approx(0) and best["accuracy"] == pytest.approx(.72)
    # a paired difference within its standard error: the fewer labels per item
    noisy = crowds([.60, .70, .80], [.63, .70, .79])  # differences .03, 0, -.01
    best = recommend(summarise(noisy, budget=600), "paired", noisy)
    assert best["redundancy"] == 1
    assert best["gap"] == pytest.approx(.02 / 3)
    assert best["gap_se"] == pytest.approx(np.std([.03, 0, -.01], ddof=1) / np.sqrt(3))
    assert best["best_redundancy"] == 2
    said = str(Plan(noisy, summarise(noisy, budget=600), best, None, []))
    assert "0.7 ± 1.2 points below r=2 crowd by crowd" in said
    with pytest.raises(InputError, match="per-seed results"):
        recommend(table, "paired")
    # without the per-seed results the default rule is one-se, and the one-se rule's
    # recommendation says nothing of paired gaps
    one_se = recommend(summarise(noisy, budget=600))
    assert one_se["rule"] == "one-se" and np.isnan(one_se["gap"])
    assert recommend(summarise(noisy, budget=600), results=noisy)["rule"] == "paired"
    assert "nan" not in str(Plan(noisy, summarise(noisy, budget=600), one_se, None, []))


def test_paired_gaps_use_only_the_seeds_both_redundancies_have():
    results = crowds([.60, .70, .80], [.62, .72, .82]).iloc[:-1]  # r=2 lacks seed 2
    gaps = paired_gaps(results, "mbem", 2).set_index("redundancy")
    assert gaps.loc[1, "pairs"] == 2 and gaps.loc[1, "gap"] == pytest.approx(.02)
    assert gaps.loc[1, "se"] == pytest.approx(0, abs=1e-12)
    assert gaps.loc[2, "gap"] == 0 and gaps.loc[2, "pairs"] == 2
    # a redundancy paired with the best on fewer seeds than the best has is no candidate
    short = crowds([.70, .70, .80], [.65, .72, .82]).drop(index=[1, 2])  # r=1: seed 0 only
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no numpy warning leaks
        best = recommend(summarise(short, budget=600), "paired", short)
    assert best["redundancy"] == 2


def test_pool_answers_follow_the_confusions_and_depend_on_item_worker_seed():
    confusion = np.array([[[.8, .2], [.2, .8]], [[.3, .7], [.7, .3]]])
    pool = WorkerPool(confusion, np.array([.5, .5]), np.ones(2, int), 2)
    y = np.random.default_rng(0).integers(0, 2, 20_000)
    both = np.tile([0, 1], (len(y), 1))
    ann = pool.annotate(y, both, seed=5)
    frame = ann.to_frame()
    correct = frame["label"].to_numpy() == y[frame["task"].to_numpy()]
    worker = frame["worker"].to_numpy()
    assert correct[worker == 0].mean() == pytest.approx(.8, abs=.01)
    assert correct[worker == 1].mean() == pytest.approx(.3, abs=.01)
    # worker 1 alone on the same items and seed gives the very same answers
    alone = pool.annotate(y, np.ones((len(y), 1), int), seed=5).to_frame()
    assert np.array_equal(alone["label"].to_numpy(), frame["label"].to_numpy()[worker == 1])
    other = pool.annotate(y, both, seed=6).to_frame()["label"].to_numpy()
    assert (other != frame["label"].to_numpy()).mean() > 0.2


def test_paired_draws_share_items_workers_and_answers_across_redundancies():
    ann, _, _ = pilot_of(n_tasks=60, redundancy=3, workers=10)
    pool = estimate_pool(ann)
    experiment = PlanExperiment(PlanSettings(budget=600, redundancy=(1, 2, 3, 5),
                                             methods=("mv",), pool=pool))
    y_all = np.random.default_rng(1).integers(0, 10, 1000)
    drawn = {r: experiment.crowd_labels(y_all, 0, r) for r in (1, 2, 3, 5)}
    for small, large in [(1, 2), (2, 3), (3, 5), (1, 5)]:
        items_s, ann_s = drawn[small]
        items_l, ann_l = drawn[large]
        assert np.array_equal(items_l, items_s[:len(items_l)])  # nested items
        a = ann_s.to_frame()
        a = a[a["task"].astype(int) < len(items_l)]
        both = a.merge(ann_l.to_frame(), on=["task", "worker"], suffixes=("_s", "_l"))
        assert len(both) == len(a)  # every worker at the smaller r also answers at the larger
        assert (both["label_s"] == both["label_l"]).all()  # ... and gives the same answer
    for r, (items, answers) in drawn.items():
        assert len(items) == 600 // r and len(answers) == 600
        assert (answers.to_frame().groupby("task")["worker"].nunique() == r).all()
    other, _ = experiment.crowd_labels(y_all, 1, 1)
    assert not np.array_equal(other, drawn[1][0])  # another seed, another crowd


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
    assert sorted(p.name for p in out.iterdir()) == ["plan.png", "recommendation.json",
                                                     "results.csv", "workers.csv"]
    saved = json.loads((out / "recommendation.json").read_text())
    assert saved["recommendation"]["redundancy"] == best["redundancy"]
    assert len(pd.read_csv(out / "workers.csv")) == result.pool.n_workers
    assert any("digits" in note for note in result.caveats)
    assert any("2 simulated crowd(s): the interval" in note for note in result.caveats)
    from crowdlearn import learners

    built = learners.make_crowd_learner

    def no_training(*args, **kwargs):  # built to check its settings, never trained
        learner = built(*args, **kwargs)

        def refused(*_, **__):
            raise AssertionError("a resumed plan retrained a cell")

        learner.fit = refused
        return learner

    monkeypatch.setattr(learners, "make_crowd_learner", no_training)
    again = crowdlearn.plan(ann, 300, out_dir=out, **{**TINY, "seeds": 2})  # resumed
    assert again.results["accuracy"].tolist() == result.results["accuracy"].tolist()
    other, _, _ = pilot_of(seed=5)
    with pytest.raises(InputError, match="made with another pilot's workers: pool="):
        crowdlearn.plan(other, 300, out_dir=out, **{**TINY, "seeds": 2})


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


def test_a_pilot_whose_tasks_each_have_one_worker_is_refused():
    # the same worker twice on every task (kept with keep="all") checks no worker
    task = np.repeat(np.arange(50), 2)
    ann = Annotations(task, task % 10, (task + np.arange(100) % 2) % 3, keep="all")
    with pytest.raises(InputError, match=r"every task has one answer \(or several from one "
                                         r"worker\); worker quality cannot be estimated"):
        estimate_pool(ann)


def test_plan_items_fingerprint_the_feature_values():
    from crowdlearn.experiments.plan import PlanItems

    X = np.zeros((20, 3), np.float32)
    y = np.arange(20) % 2
    assert PlanItems(X, y, 2).digest() != PlanItems(X + 1, y, 2).digest()


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
    text = (out / "recommendation.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    record = json.loads(text)
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


@pytest.mark.parametrize("name", ["workers.csv", "results.csv", "plan.png"])
def test_cli_plan_never_writes_over_its_pilot(tmp_path, pilot_csv, name):
    folder = tmp_path / "study"
    folder.mkdir()
    pilot = folder / name
    pilot.write_bytes(pilot_csv.read_bytes())
    result = runner.invoke(app, ["plan", "--pilot", str(pilot), "--budget", "300", "--methods",
                                 "mv", "--redundancy", "1,2", "--epochs", "1", "--force",
                                 "-o", str(folder)])
    assert result.exit_code == 2, result.output
    assert f"{name}: is a file this command writes in" in result.output
    assert pilot.read_bytes() == pilot_csv.read_bytes()


def test_budget_beyond_the_embedded_items_is_scaled_down_and_said():
    ann, _, _ = pilot_of()
    result = crowdlearn.plan(ann, 5000, **{**TINY, "epochs": 1})
    assert set(result.results["n_items"]) == {1300, 650}  # digits has 1,300 training items
    assert any("simulated at 1300 labels" in note for note in result.caveats)
    assert result.recommendation["items"] in (5000, 2500)  # your budget's items
