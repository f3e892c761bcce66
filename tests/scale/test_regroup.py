"""Answers whose tasks are scattered over the input: the streamed engine regroups them on
its scratch disk and gives the in-memory fit's labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crowdlearn import Annotations, DawidSkene
from crowdlearn.aggregation import MajorityVote
from crowdlearn.errors import InputError
from crowdlearn.scale import aggregate_parquet
from crowdlearn.scale.regroup import bucket_of, gather_order
from tests.scale.conftest import crowd_frame
from tests.scale.test_streamed import assert_same, read_result


def scattered(n_tasks: int, seed: int, text: bool = False) -> pd.DataFrame:
    """A crowd's answers in a random order (as an export sorted by time)."""
    frame = crowd_frame(n_tasks, k=3, seed=seed)[["task", "worker", "label"]]
    if text:
        frame["task"] = "t" + frame["task"].astype(str)
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)


def write_files(frame: pd.DataFrame, folder, cuts: list[int]) -> None:
    """``frame`` in files cut at the rows ``cuts`` (tasks cross files)."""
    folder.mkdir()
    bounds = [0, *cuts, len(frame)]
    for i in range(len(bounds) - 1):
        frame.iloc[bounds[i]:bounds[i + 1]].to_parquet(folder / f"part-{i}.parquet",
                                                       index=False)


@pytest.mark.parametrize("chunk_answers", [700, 6000, 1 << 23])
@pytest.mark.parametrize("text", [False, True], ids=["int-ids", "text-ids"])
def test_scattered_answers_equal_in_memory(tmp_path, chunk_answers, text):
    frame = scattered(2000, seed=3, text=text)
    write_files(frame, tmp_path / "answers", [3000, 7100])
    result = aggregate_parquet(tmp_path / "answers", tmp_path / "out", proba=True,
                               chunk_answers=chunk_answers)
    reference = DawidSkene().fit(Annotations.from_frame(frame))
    assert result.regrouped
    assert result.n_tasks == 2000 and result.n_answers == len(frame)
    table = pq.read_table(tmp_path / "out").to_pandas()
    assert table["task"].is_unique and len(table) == 2000
    assert_same(read_result(tmp_path / "out"), reference)
    assert result.model.n_iter_ == reference.n_iter_


def test_one_part_keeps_the_order_of_first_answers(tmp_path):
    frame = scattered(500, seed=4)
    frame.to_parquet(tmp_path / "answers.parquet", index=False)
    result = aggregate_parquet(tmp_path / "answers.parquet", tmp_path / "out")
    assert result.regrouped
    tasks = pq.read_table(tmp_path / "out").column("task").to_pylist()
    assert tasks == list(dict.fromkeys(frame["task"]))


def test_rounds_of_answers_regrouped_with_bounded_check(tmp_path):
    # every task answered once per round, rounds one after the other: no chunk repeats a
    # task, but every task comes back in later chunks (checked through key files by bucket)
    frame = crowd_frame(100, k=3, seed=11)[["task", "worker", "label"]]
    rounds = frame.assign(round=frame.groupby("task").cumcount()).sort_values(
        ["round", "task"], kind="stable").drop(columns="round").reset_index(drop=True)
    rounds.to_parquet(tmp_path / "answers.parquet", index=False)
    result = aggregate_parquet(tmp_path / "answers.parquet", tmp_path / "out", proba=True,
                               chunk_answers=40)
    assert result.regrouped and result.n_tasks == 100
    assert_same(read_result(tmp_path / "out"), DawidSkene().fit(Annotations.from_frame(rounds)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.parquet", "out"]


def test_grouped_text_ids_in_any_order_are_not_regrouped(tmp_path):
    frame = crowd_frame(600, seed=12)[["task", "worker", "label"]]
    frame["task"] = "t" + frame["task"].astype(str)
    order = np.random.default_rng(1).permutation(600)
    grouped = frame.set_index("task").loc[[f"t{i}" for i in order]].reset_index()
    grouped.to_parquet(tmp_path / "answers.parquet", index=False)
    for chunk in (100, 1 << 23):  # more runs than a chunk: checked bucket by bucket
        result = aggregate_parquet(tmp_path / "answers.parquet", tmp_path / f"out{chunk}",
                                   chunk_answers=chunk)
        assert not result.regrouped and result.n_tasks == 600


def test_unsigned_ids_above_2_63(tmp_path):
    frame = scattered(200, seed=13)
    frame["task"] = frame["task"].astype(np.uint64) + np.uint64(2**63)
    frame.to_parquet(tmp_path / "answers.parquet", index=False)
    result = aggregate_parquet(tmp_path / "answers.parquet", tmp_path / "out", proba=True,
                               chunk_answers=300)
    assert result.regrouped and result.n_tasks == 200
    table = pq.read_table(tmp_path / "out")
    assert table.schema.field("task").type == "uint64"
    assert_same(read_result(tmp_path / "out"), DawidSkene().fit(Annotations.from_frame(frame)))


def test_grouped_input_is_not_regrouped(tmp_path):
    frame = crowd_frame(300, seed=5)[["task", "worker", "label"]]
    frame.to_parquet(tmp_path / "answers.parquet", index=False)
    assert not aggregate_parquet(tmp_path / "answers.parquet", tmp_path / "out").regrouped


def test_more_buckets_than_tasks(tmp_path):
    # 3 tasks, 15 answers, a bucket for every 2 answers: most buckets stay empty
    frame = scattered(3, seed=6)
    frame.to_parquet(tmp_path / "answers.parquet", index=False)
    result = aggregate_parquet(tmp_path / "answers.parquet", tmp_path / "out",
                               MajorityVote(tie_break="first"), chunk_answers=2)
    reference = MajorityVote(tie_break="first").fit(Annotations.from_frame(frame))
    assert result.n_tasks == 3
    labels = read_result(tmp_path / "out")["label"]
    assert labels.to_dict() == reference.predict().to_dict()


@pytest.mark.parametrize("keep", ["first", "last", "all"])
def test_keep_follows_the_input_order_after_regrouping(tmp_path, keep):
    frame = scattered(400, seed=7)
    # every answer of task 0 given again with the other label, later in the input
    again = frame[frame["task"] == 0].assign(label=lambda f: (f["label"] + 1) % 3)
    frame = pd.concat([frame, again], ignore_index=True)
    write_files(frame, tmp_path / "answers", [900])
    result = aggregate_parquet(tmp_path / "answers", tmp_path / "out", MajorityVote(
        tie_break="first"), keep=keep, chunk_answers=300)
    reference = MajorityVote(tie_break="first").fit(Annotations.from_frame(frame, keep=keep))
    assert result.regrouped and result.n_answers == reference.worker_counts_.sum()
    labels = read_result(tmp_path / "out")["label"]
    assert labels.to_dict() == reference.predict().to_dict()


@pytest.mark.parametrize("text", [False, True], ids=["int-ids", "text-ids"])
def test_repeated_answer_named_by_its_rows_after_regrouping(tmp_path, text):
    frame = scattered(300, seed=8, text=text)
    task, worker = frame["task"].tolist()[5], frame["worker"].tolist()[5]
    extra = pd.DataFrame({"task": [task], "worker": [worker], "label": [0]})
    frame = pd.concat([frame, extra], ignore_index=True)  # the last row repeats row 5
    write_files(frame, tmp_path / "answers", [1000])
    folder = tmp_path / "answers"
    with pytest.raises(InputError, match=(
            rf"^task {task!r} was answered twice by worker {worker} "
            rf"\({folder / 'part-0.parquet'}"
            rf" row 5 and {folder / 'part-1.parquet'} row {len(frame) - 1 - 1000}\)")):
        aggregate_parquet(folder, tmp_path / "out", chunk_answers=250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers"]


def test_scratch_is_left_clean(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    scattered(200, seed=9).to_parquet(tmp_path / "answers.parquet", index=False)
    aggregate_parquet(tmp_path / "answers.parquet", tmp_path / "out", scratch=scratch,
                      chunk_answers=100)
    assert list(scratch.iterdir()) == []


def test_buckets_spread_ids_in_steps():
    keys = np.arange(0, 64_000, 64)  # every id a multiple of the bucket count
    counts = np.bincount(bucket_of(keys, 64), minlength=64)
    assert counts.min() > 0 and counts.max() < 3 * counts.mean()


def test_gather_order_concatenates_ranges():
    starts, lengths = np.array([5, 0, 9]), np.array([2, 3, 1])
    np.testing.assert_array_equal(gather_order(starts, lengths), [5, 6, 0, 1, 2, 9])


def test_command_line_says_it_regrouped(tmp_path):
    import json

    from typer.testing import CliRunner

    from crowdlearn.cli import app

    frame = scattered(300, seed=10)
    frame.to_parquet(tmp_path / "answers.parquet", index=False)
    runner = CliRunner()
    done = runner.invoke(app, ["aggregate", str(tmp_path / "answers.parquet"), "--engine",
                               "stream", "-o", str(tmp_path / "labels")])
    assert done.exit_code == 0, done.output
    assert "regrouped by task on the scratch disk" in done.output
    done = runner.invoke(app, ["aggregate", str(tmp_path / "answers.parquet"), "--engine",
                               "stream", "-o", str(tmp_path / "labels2"), "--json"])
    summary = json.loads(done.output)
    assert summary["regrouped"] is True and "regroup" in summary["seconds_by_step"]
