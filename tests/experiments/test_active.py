"""The active relabelling experiment and the `relabel` / `experiment active` commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import crowdlearn.experiments.active as active
from crowdlearn.cli import app
from crowdlearn.errors import InputError
from crowdlearn.experiments.active import ActiveSettings, AnswerPool, run_active
from tests.conftest import make_crowd

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def replay_files(tmp_path):
    """A crowd of 300 tasks with 4 answers each (40% reliable workers) and its truth."""
    ann, y, _ = make_crowd(n_tasks=300, n_workers=20, k=3, r=4, seed=0)
    answers, truth = tmp_path / "answers.csv", tmp_path / "truth.csv"
    ann.to_frame().to_csv(answers, index=False)
    pd.DataFrame({"task": ann.tasks, "label": y}).to_csv(truth, index=False)
    return answers, truth


def test_pool_reveals_each_tasks_answers_in_a_seeded_order():
    task = np.array([0, 0, 0, 1, 1])
    pool = AnswerPool(task, np.arange(5), np.array([0, 1, 2, 0, 1]), [0, 1],
                      list(range(5)), [0, 1, 2], np.array([0, 1]))
    first = pool.revealed(np.array([1, 2]))
    assert first.task_counts.tolist() == [1, 2]
    a, b = pool.shuffled(1), pool.shuffled(1)
    assert a.worker.tolist() == b.worker.tolist()
    assert sorted(a.worker.tolist()) == list(range(5)) and a.task.tolist() == task.tolist()


def test_simulated_sweep_rows_rounds_and_resume(tmp_path):
    s = ActiveSettings(dataset="digits", n_items=150, rounds=2, methods=(), seeds=1)
    lines: list[str] = []
    results = run_active(s, tmp_path, log=lines.append)
    strategies = ["ours", "activelab", "random", "uniform"] if active.has_cleanlab() \
        else ["ours", "random", "uniform"]
    assert len(results) == 3 * len(strategies)
    assert list(dict.fromkeys(results["strategy"])) == strategies
    start = results[results["round"] == 0]
    assert start["consensus_accuracy"].nunique() == 1  # the same first answers for all
    end = results[results["round"] == 2]
    assert end["extra_per_task"].tolist() == [1.5] * len(strategies)  # 225 of 150 tasks
    assert (results["consensus_accuracy"].between(0, 1)).all()
    assert (tmp_path / "active.png").stat().st_size > 0
    again: list[str] = []
    run_active(s, tmp_path, log=again.append)
    assert not [line for line in again if line.startswith("seed")]  # nothing rerun


def test_replay_ours_beats_random_and_uniform(replay_files):
    answers, truth = replay_files
    s = ActiveSettings(replay=str(answers), truth=str(truth), methods=(), seeds=2,
                       strategies=("ours", "random", "uniform"))
    experiment = active.ActiveExperiment(s)
    final = {st: np.mean([experiment.run({"strategy": st, "seed": seed})[-1]
                          ["consensus_accuracy"] for seed in range(2)])
             for st in s.strategies}
    # 1.5 extra answers per task, each task holding 3 more: where they go matters
    assert final["ours"] > final["random"] + 0.03
    assert final["ours"] > final["uniform"] + 0.03


def test_oracle_spends_on_wrong_consensus_first():
    ann, y, _ = make_crowd(n_tasks=300, n_workers=20, k=3, r=2, seed=5)
    post = active.consensus(ann)
    wrong = np.flatnonzero(post.argmax(1) != y)
    eligible = np.arange(300)
    size = len(wrong) + 10
    chosen = active._choose_oracle(ann, eligible, size, None, np.random.default_rng(0),
                                   "onecoin", truth=y)
    assert len(wrong) > 10 and len(chosen) == size
    assert set(chosen[:len(wrong)]) == set(wrong)  # every wrong task first
    extra = chosen[len(wrong):]  # then the least confident right ones
    right = np.setdiff1d(eligible, wrong)
    cut = np.sort(post[right].max(1))[9]
    assert (post[extra].max(1) <= cut + 1e-12).all()
    # tasks without gold (truth -1) count as right: never ahead of a wrong gold task
    partial = y.copy()
    partial[:100] = -1
    wrong_gold = wrong[wrong >= 100]
    chosen = active._choose_oracle(ann, eligible, len(wrong_gold), None,
                                   np.random.default_rng(0), "onecoin", truth=partial)
    assert set(chosen) == set(wrong_gold)


def test_oracle_is_a_replay_reference(replay_files):
    answers, truth = replay_files
    s = ActiveSettings(replay=str(answers), truth=str(truth), methods=(), seeds=1,
                       strategies=("oracle", "random"))
    assert "oracle" not in ActiveSettings().strategies  # never run unless asked
    experiment = active.ActiveExperiment(s)
    rows = {st: experiment.run({"strategy": st, "seed": 0}) for st in s.strategies}
    # the round's answers go where the consensus is wrong: majority vote gains at once
    assert rows["oracle"][1]["vote_accuracy"] > rows["random"][1]["vote_accuracy"] + 0.05
    assert rows["oracle"][-1]["consensus_accuracy"] > rows["random"][-1]["consensus_accuracy"]


def test_models_are_trained_after_each_round(tmp_path, learners_built):
    built = learners_built("make_crowd_learner")
    s = ActiveSettings(dataset="digits", n_items=120, rounds=1, extra_labels=1.0,
                       methods=("ds", "mbem"), epochs=1, seeds=1, strategies=("random",))
    results = run_active(s, tmp_path, log=lambda line: None)
    assert results["round"].tolist() == [0, 1]
    assert built == ["ds", "mbem"] * 2
    assert results[["ds_accuracy", "mbem_accuracy"]].stack().between(0, 1).all()


def test_activelab_alone_without_cleanlab_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(active, "has_cleanlab", lambda: False)
    s = ActiveSettings(dataset="digits", n_items=80, rounds=1, extra_labels=1.0, methods=(),
                       seeds=1, strategies=("activelab",))
    with pytest.raises(InputError, match="the activelab strategy needs cleanlab"):
        run_active(s, tmp_path / "out", log=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_activelab_is_skipped_without_cleanlab(tmp_path, monkeypatch):
    monkeypatch.setattr(active, "has_cleanlab", lambda: False)
    s = ActiveSettings(dataset="digits", n_items=80, rounds=1, extra_labels=1.0, methods=(),
                       seeds=1, strategies=("activelab", "random"))
    lines: list[str] = []
    results = run_active(s, tmp_path, log=lines.append)
    assert set(results["strategy"]) == {"random"}
    assert any("cleanlab is not installed" in line for line in lines)


@pytest.mark.parametrize("change, message", [
    ({"truth": None}, "needs both the answers"),
    ({"methods": ("mbem",)}, "no features"),
    ({"extra_labels": 3.5}, "fewer than the 1,050 extra answers"),
    ({"strategies": ("best",)}, "unknown strategy 'best'"),
    ({"strategies": ("ours", "random", "ours")}, "strategy 'ours' is given twice"),
    ({"aggregator": "glad"}, "unknown consensus"),
    ({"rounds": 0}, r"'rounds' parameter of ActiveSettings must be an int in the range \[1,"),
    ({"extra_labels": float("nan")}, r"'extra_labels' parameter of ActiveSettings must be a "),
])
def test_bad_replay_settings(replay_files, tmp_path, change, message):
    answers, truth = replay_files
    s = ActiveSettings(**{"replay": str(answers), "truth": str(truth), "methods": (),
                          **change})
    with pytest.raises(InputError, match=message):
        run_active(s, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, message", [
    ({"extra_labels": 2.5, "rounds": 2}, "at most 2× the tasks"),
    ({"workers": 3, "rounds": 3}, "need 4 distinct workers"),
    ({"worker_model": "lazy"}, "unknown worker model"),
    ({"n_items": 1}, "n_items must be between 2"),
    ({"strategies": ("ours", "oracle")}, "oracle strategy is a reference for replays only"),
])
def test_bad_simulation_settings(tmp_path, change, message):
    with pytest.raises(InputError, match=message):
        run_active(ActiveSettings(**{"methods": (), **change}), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_experiment_active_replay(replay_files, tmp_path):
    answers, truth = replay_files
    out = tmp_path / "out"
    result = cli("experiment", "active", "--replay", answers, "--truth", truth, "--seeds", 1,
                 "--strategies", "ours,random,oracle", "--rounds", 2, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Consensus accuracy after the last round: ours" in result.output
    assert "the oracle (a reference that reads the truth)" in " ".join(result.output.split())
    assert len(pd.read_csv(out / "results.csv")) == 9


def test_cli_replay_resumes_under_another_path_and_names_options(replay_files, tmp_path,
                                                                  monkeypatch):
    answers, truth = replay_files
    out = tmp_path / "out"
    args = ["--seeds", 1, "--strategies", "random", "--rounds", 2, "-o", out]
    assert cli("experiment", "active", "--replay", answers, "--truth", truth,
               *args).exit_code == 0
    monkeypatch.chdir(tmp_path)  # the same files, named relative to another folder
    again = cli("experiment", "active", "--replay", "answers.csv", "--truth", "./truth.csv",
                *args)
    assert again.exit_code == 0, again.output
    other = cli("experiment", "active", "--replay", answers, "--truth", truth,
                "--consensus", "ds", *args)
    assert other.exit_code == 2
    assert "made with --consensus onecoin, not ds" in " ".join(other.output.split())


def test_cli_replay_never_writes_over_its_answers(replay_files, tmp_path):
    answers, truth = replay_files
    out = tmp_path / "out"
    out.mkdir()
    inside = out / "results.csv"
    inside.write_bytes(answers.read_bytes())
    result = cli("experiment", "active", "--replay", inside, "--truth", truth, "--force",
                 "-o", out)
    assert result.exit_code == 2 and "results.csv: is a file this command writes" in \
        result.output
    assert inside.read_bytes() == answers.read_bytes()


def test_cli_replay_of_an_export_with_its_own_column_names(replay_files, tmp_path):
    answers, truth = replay_files
    export = tmp_path / "answer.csv"  # as Zheng et al.'s exports name them
    pd.read_csv(answers).rename(columns={"task": "question", "label": "answer"}).to_csv(
        export, index=False)
    out = tmp_path / "out"
    refused = cli("experiment", "active", "--replay", export, "--truth", truth, "-o", out)
    assert refused.exit_code == 2 and not out.exists()
    assert "missing columns 'task', 'label'" in refused.output
    assert "--task-col, --worker-col, --label-col" in refused.output
    result = cli("experiment", "active", "--replay", export, "--truth", truth, "--task-col",
                 "question", "--label-col", "answer", "--seeds", 1, "--strategies",
                 "ours,random", "--rounds", 2, "-o", out)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 6 and set(rows["columns"]) == {"question,worker,answer"}


@pytest.mark.parametrize("args, message", [
    (["--truth", "TRUTH"], "needs both the answers"),
    (["--methods", "mbem"], "no features"),
    (["--strategies", "ours,best"], "unknown strategy 'best'"),
    (["--strategies", "random,random"], "strategy 'random' is given twice"),
])
def test_cli_experiment_active_bad_input(replay_files, tmp_path, args, message):
    answers, truth = replay_files
    args = [str(truth) if a == "TRUTH" else a for a in args]
    given = [] if "--truth" in args else ["--replay", answers, "--truth", truth]
    out = tmp_path / "out"
    result = cli("experiment", "active", *given, *args, "-o", out)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_relabel_writes_k_tasks(replay_files, tmp_path):
    answers, _ = replay_files
    out = tmp_path / "next.csv"
    result = cli("relabel", answers, "-k", 30, "-o", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 30 and (table["reason"] == "check").sum() == 3
    assert list(table.columns) == ["task", "score", "label", "confidence", "n_answers",
                                   "reason"]


def test_cli_relabel_with_proba(tmp_path):
    ann, y, _ = make_crowd(n_tasks=100, n_workers=10, k=3, r=1, seed=1)
    answers, proba = tmp_path / "answers.csv", tmp_path / "proba.csv"
    ann.to_frame().to_csv(answers, index=False)
    p = np.full((100, 3), 0.1)
    p[np.arange(100), y] = 0.8
    pd.DataFrame({"id": ann.tasks, **{f"proba_{c}": p[:, c] for c in range(3)}}).to_csv(
        proba, index=False)
    out = tmp_path / "next.csv"
    result = cli("relabel", answers, "--proba", proba, "-k", 10, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 10


@pytest.mark.parametrize("make_proba, args, message", [
    (None, ["-k", 0], "-k must be a positive integer"),
    (None, ["--consensus", "glad"], "unknown consensus 'glad'; choose onecoin or ds"),
    (lambda p: p.iloc[1:], [], "no row for 1 answered tasks"),
    (lambda p: p.assign(proba_0=0.9), [], "are not a distribution"),
    (lambda p: p.rename(columns={"id": "item"}), [], "no id column"),
])
def test_cli_relabel_bad_input(tmp_path, make_proba, args, message):
    ann, y, _ = make_crowd(n_tasks=50, n_workers=10, k=3, r=2, seed=1)
    answers, proba = tmp_path / "answers.csv", tmp_path / "proba.csv"
    ann.to_frame().to_csv(answers, index=False)
    table = pd.DataFrame({"id": ann.tasks, **{f"proba_{c}": 1 / 3 for c in range(3)}})
    extra = []
    if make_proba is not None:
        make_proba(table).to_csv(proba, index=False)
        extra = ["--proba", proba]
    out = tmp_path / "next.csv"
    result = cli("relabel", answers, *extra, *args, "-o", out)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_relabel_keeps_an_existing_output(replay_files, tmp_path):
    answers, _ = replay_files
    out = tmp_path / "next.csv"
    out.write_text("mine\n")
    result = cli("relabel", answers, "-o", out)
    assert result.exit_code == 2 and out.read_text() == "mine\n"


# ----------------------------------------------------------------- reading a replay's files
def test_cli_replay_reads_latin1_with_its_own_separator(replay_files, tmp_path):
    answers, truth = replay_files
    names = {0: "é", 1: "b", 2: "c"}  # a label outside ASCII, as latin-1 writes it
    latin_answers, latin_truth = tmp_path / "latin.csv", tmp_path / "latin_truth.csv"
    pd.read_csv(answers).assign(label=lambda f: f["label"].map(names)).to_csv(
        latin_answers, index=False, sep=";", encoding="latin-1")
    pd.read_csv(truth).assign(label=lambda f: f["label"].map(names)).to_csv(
        latin_truth, index=False, encoding="latin-1")
    out = tmp_path / "out"
    args = ["experiment", "active", "--replay", latin_answers, "--truth", latin_truth,
            "--seeds", 1, "--strategies", "random", "--rounds", 1, "-o", out]
    refused = cli(*args)
    assert refused.exit_code == 2 and not out.exists()
    assert "--encoding latin-1" in refused.output  # the command has the option now
    result = cli(*args, "--encoding", "latin-1", "--sep", "semicolon")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert rows["encoding"].tolist() == ["latin-1"] * 2 and set(rows["sep"]) == {";"}
    # the é tasks were read as such: the truth's labels matched the answers' classes
    assert rows["consensus_accuracy"].iloc[0] > 0.5
    again = cli(*args, "--encoding", "latin-1", "--sep", "semicolon")  # resumed: same settings
    assert again.exit_code == 0 and len(pd.read_csv(out / "results.csv")) == 2


def test_replay_of_an_edited_truth_is_not_resumed(replay_files, tmp_path):
    answers, truth = replay_files
    out = tmp_path / "out"
    args = ["experiment", "active", "--replay", answers, "--truth", truth, "--seeds", 1,
            "--strategies", "random", "--rounds", 1, "-o", out]
    assert cli(*args).exit_code == 0
    first = pd.read_csv(out / "results.csv")
    assert cli(*args).exit_code == 0  # the same files: resumed, nothing run again
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), first)
    gold = pd.read_csv(truth)
    gold.assign(label=(gold["label"] + 1) % 3).to_csv(truth, index=False)  # corrected
    refused = cli(*args)
    assert refused.exit_code == 2 and "replay_data" in refused.output, refused.output
    assert cli(*args, "--force").exit_code == 0
    redone = pd.read_csv(out / "results.csv")
    assert redone["consensus_accuracy"].iloc[0] < first["consensus_accuracy"].iloc[0] - 0.3


def test_replay_keeps_the_first_of_repeated_answers(replay_files, tmp_path):
    answers, truth = replay_files
    frame = pd.read_csv(answers)
    repeats = frame.iloc[::7].assign(label=lambda f: (f["label"] + 1) % 3)  # changed minds
    doubled = tmp_path / "doubled.csv"
    pd.concat([frame, repeats], ignore_index=True).to_csv(doubled, index=False)
    out = tmp_path / "out"
    args = ["experiment", "active", "--replay", doubled, "--truth", truth, "--seeds", 1,
            "--strategies", "uniform", "--rounds", 1, "-o", out]
    refused = cli(*args)
    assert refused.exit_code == 2 and "answered twice" in refused.output
    assert "--keep first" in refused.output and not out.exists()
    result = cli(*args, "--keep", "first")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "results.csv")["keep"].tolist() == ["first"] * 2

    def answered(keep):
        pool = ActiveSettings(replay=str(doubled), truth=str(truth), methods=(),
                              keep=keep).replay_pool(0)
        ids = (np.asarray(pool.tasks)[pool.task], np.asarray(pool.workers)[pool.worker],
               np.asarray(pool.classes)[pool.label])  # read as text
        return sorted(zip(*(a.astype(int) for a in ids), strict=True))

    original = sorted(zip(frame["task"], frame["worker"], frame["label"], strict=True))
    assert answered("first") == original
    assert len(answered("all")) == len(frame) + len(repeats)


def test_reading_options_need_a_replay(tmp_path):
    s = ActiveSettings(dataset="digits", n_items=80, methods=(), keep="first")
    with pytest.raises(InputError, match="--keep, --sep and --encoding .* give --replay"):
        run_active(s, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_replay_truth_matched_as_text(tmp_path):
    answers, truth = tmp_path / "answers.csv", tmp_path / "truth.csv"
    pd.DataFrame({"task": ["7", "7", "x", "x"], "worker": [1, 2, 1, 2],
                  "label": ["cat", "dog", "dog", "dog"]}).to_csv(answers, index=False)
    truth.write_text("task,label\n7,cat\nx,dog\n99,cat\n")
    pool = active.replay_pool(str(answers), str(truth), seed=0)
    assert [pool.classes[c] for c in pool.truth] == ["cat", "dog"]
    assert pool.unanswered_truth == ("99",)
    truth.write_text("task,label\n7,bird\n")
    with pytest.raises(InputError, match=r"task '7' has label 'bird', which no answer gives "
                                         r"\(classes: cat, dog\)"):
        active.replay_pool(str(answers), str(truth), seed=0)
    truth.write_text("task,label\n98,cat\n")
    with pytest.raises(InputError, match="none of its tasks are answered in"):
        active.replay_pool(str(answers), str(truth), seed=0)
