"""Repeated answers on every engine (named by file and rows; ``keep`` as in memory), and the
Dask engine cancelling its own work on a user's cluster after an error or an interrupt."""

from __future__ import annotations

import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, DawidSkene
from crowdlearn.aggregation import MajorityVote
from crowdlearn.errors import InputError, RepeatedAnswersError
from crowdlearn.scale import aggregate_dask, aggregate_parquet
from tests.scale.conftest import crowd_frame, write_parts
from tests.scale.test_engine_gaps import _cli, _engine_errors
from tests.scale.test_streamed import assert_same, read_result


def _with_repeats(seed: int = 40) -> pd.DataFrame:
    """Task 2 (rows 10-14): the worker of row 10 again at row 14, the worker of row 11
    again at row 12. The first repeat is the one whose second answer comes first: 11, 12
    (as memory names it), though rows 10 and 14's pair starts earlier."""
    frame = crowd_frame(50, seed=seed)[["task", "worker", "label"]]
    frame.loc[14, "worker"] = frame.loc[10, "worker"]
    frame.loc[12, "worker"] = frame.loc[11, "worker"]
    return frame


# ------------------------------------------------------------ 1. the repeat's file and rows
def test_repeated_answer_named_alike_on_every_engine(client, tmp_path):
    frame = _with_repeats()
    path = tmp_path / "answers.parquet"
    frame.to_parquet(path, index=False)
    worker = frame.loc[11, "worker"]
    expected = f"{path}: task 2 was answered twice by worker {worker} (row 11 and 12)"
    assert _engine_errors(path, tmp_path, client) == [expected] * 3  # what and where
    with pytest.raises(RepeatedAnswersError, match="; pass keep='first', 'last' or 'all'$"):
        aggregate_dask(path, tmp_path / "d", client=client)  # the command line words it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.parquet"]


def test_stream_names_the_file_and_row_in_a_later_chunk(tmp_path):
    # three files, chunks of ~16 answers: the repeat is in the second file's rows 6 and 8
    frame = crowd_frame(60, seed=41)[["task", "worker", "label"]]
    folder = write_parts(frame, tmp_path / "answers", 3)
    second = folder / "part-001.parquet"
    part = pd.read_parquet(second)
    part.loc[8, "worker"] = part.loc[6, "worker"]
    assert part.loc[6, "task"] == part.loc[8, "task"]
    part.to_parquet(second, index=False)
    with pytest.raises(RepeatedAnswersError) as streamed:
        aggregate_parquet(folder, tmp_path / "out", chunk_answers=16)
    assert streamed.value.detail == (f"{second}: task {part.loc[6, 'task']} was answered "
                                     f"twice by worker {part.loc[6, 'worker']} (row 6 and 8)")
    assert streamed.value.detail == _memory_detail(part, second)  # memory on that file


def _memory_detail(frame: pd.DataFrame, path: Path) -> str:
    """The in-memory engine's words for the first repeat of ``frame`` read from ``path``."""
    with pytest.raises(RepeatedAnswersError) as caught:
        Annotations.from_frame(frame, source=str(path))
    return caught.value.detail


def test_stream_names_both_files_of_a_repeat_across_them(tmp_path):
    # task 2's five answers (rows 10-14): three at the end of a.parquet, two at the start
    # of b.parquet (one run of rows for the stream engine)
    frame = crowd_frame(8, seed=42)[["task", "worker", "label"]]
    frame.loc[14, "worker"] = frame.loc[11, "worker"]
    folder = tmp_path / "answers"
    folder.mkdir()
    frame.iloc[:13].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[13:].to_parquet(folder / "b.parquet", index=False)
    with pytest.raises(RepeatedAnswersError, match=(
            rf"^task 2 was answered twice by worker {frame.loc[11, 'worker']} "
            rf"\({folder / 'a.parquet'} row 11 and {folder / 'b.parquet'} row 1\); pass keep")):
        aggregate_parquet(folder, tmp_path / "out")


def test_dask_dataframe_repeat_names_the_partition(client, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    frame = crowd_frame(50, seed=43)[["task", "worker", "label"]]
    frame.loc[133, "worker"] = frame.loc[131, "worker"]  # task 26: partition 1's rows 6, 8
    ddf = dd.from_pandas(frame, npartitions=2, sort=False)
    assert ddf.divisions[1] == 125
    with pytest.raises(RepeatedAnswersError, match=(
            rf"^partition 1: task 26 was answered twice by worker {frame.loc[131, 'worker']} "
            r"\(row 6 and 8\); pass keep")):
        aggregate_dask(ddf, tmp_path / "out", client=client)


# ------------------------------------------------------------ 3. keep first, last or all
def _conflicting_repeats() -> pd.DataFrame:
    """One answer in ten repeated by its worker just after, with the opposite label (each
    task's answers stay together)."""
    frame = crowd_frame(400, r=5, n_workers=30, seed=44)[["task", "worker", "label"]]
    again = frame.iloc[::10].assign(label=lambda f: 1 - f["label"])
    both = pd.concat([frame, again]).sort_index(kind="stable")
    return both.reset_index(drop=True)


@pytest.mark.parametrize("keep", ["first", "last", "all"])
@pytest.mark.parametrize("model", [DawidSkene(), MajorityVote(seed=2)], ids=["ds", "mv"])
def test_keep_gives_the_in_memory_labels_on_every_engine(client, tmp_path, keep, model):
    frame = _conflicting_repeats()
    path = tmp_path / "answers.parquet"
    frame.to_parquet(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answers = Annotations.from_file(path, keep=keep)
        reference = type(model)(**model.get_params()).fit(answers)
        streamed = aggregate_parquet(path, tmp_path / "s", model, keep=keep, proba=True,
                                     chunk_answers=500)
        on_dask = aggregate_dask(path, tmp_path / "d", model, keep=keep, proba=True,
                                 client=client)
    for result, out in ((streamed, "s"), (on_dask, "d")):
        assert result.n_answers == len(answers)
        np.testing.assert_array_equal(result.model.worker_counts_, reference.worker_counts_)
        assert_same(read_result(tmp_path / out), reference)


def test_keep_first_and_last_differ():
    # the comparison above could not tell the policies apart otherwise
    frame = _conflicting_repeats()
    first, last = (MajorityVote(tie_break="first").fit(
        Annotations.from_frame(frame, keep=keep)).predict() for keep in ("first", "last"))
    assert (first != last).sum() > 5


def test_unknown_keep_is_refused_before_any_work(tmp_path):
    with pytest.raises(InputError, match=r"keep must be one of 'error', 'first', 'last', "
                                         r"'all', got 'newest'"):
        aggregate_parquet(tmp_path / "nothing.parquet", tmp_path / "out", keep="newest")
    with pytest.raises(InputError, match=r"keep must be one of"):
        aggregate_dask(tmp_path / "nothing.parquet", tmp_path / "out", keep="newest")


# ------------------------------------------------------------ 2. cancelled on the user's cluster
def _scheduler_keys(client) -> set:
    return set(client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks)))


def _slowly(chunk, seconds: float):
    time.sleep(seconds)
    return chunk.n_tasks


def test_interrupt_cancels_this_calls_tasks_on_a_users_cluster(client, small_crowd, tmp_path,
                                                             monkeypatch):
    from crowdlearn.scale import distributed as engine

    seen: dict = {}

    def interrupted_fit(model, runner, folder, proba):
        running = runner.client.map(_slowly, runner.chunks, seconds=1.0, pure=False)
        seen["keys"] = {f.key for f in [*runner.chunks, *running]}
        deadline = time.monotonic() + 20
        while not any(client.processing().values()):  # the slow tasks are running
            assert time.monotonic() < deadline
            time.sleep(0.02)
        seen["running"] = True
        raise KeyboardInterrupt  # as Ctrl-C, or SIGTERM in the command line

    monkeypatch.setattr(engine, "fit_chunks", interrupted_fit)
    with pytest.raises(KeyboardInterrupt) as caught:  # holds the frames, and their futures
        aggregate_dask(small_crowd[1], tmp_path / "out", client=client)
    interrupted = time.monotonic()
    assert seen["running"] and len(seen["keys"]) == 6
    while seen["keys"] & _scheduler_keys(client):
        assert time.monotonic() - interrupted < 2, "the tasks were not cancelled"
        time.sleep(0.02)
    assert caught.value is not None
    assert client.status == "running"  # the user's client and cluster stay
    assert client.submit(sum, [1, 2], pure=False).result() == 3
    assert list(tmp_path.iterdir()) == []


def test_input_error_leaves_nothing_on_a_users_cluster(client, tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    crowd_frame(40, seed=46)[["task", "worker", "label"]].to_parquet(
        folder / "part-000.parquet", index=False)
    _with_repeats(seed=45).assign(task=lambda f: f["task"] + 100).to_parquet(
        folder / "part-001.parquet", index=False)
    before = _scheduler_keys(client)
    with pytest.raises(RepeatedAnswersError, match=r"part-001.parquet: task 102 was "
                                                 r"answered") as caught:  # holds the frames
        aggregate_dask(folder, tmp_path / "out", client=client)  # the first file was coded
    raised = time.monotonic()
    while _scheduler_keys(client) - before:  # the cancel message is on its way
        assert time.monotonic() - raised < 2, _scheduler_keys(client) - before
        time.sleep(0.02)
    assert caught.value.detail.startswith(str(folder / "part-001.parquet"))


def test_relative_paths_on_a_users_cluster(client, small_crowd, tmp_path, monkeypatch):
    # the workers' working folder is not the caller's: files and output are made absolute
    frame, folder = small_crowd
    monkeypatch.chdir(tmp_path)
    (tmp_path / "answers").mkdir()
    for part in folder.iterdir():
        (tmp_path / "answers" / part.name).write_bytes(part.read_bytes())
    aggregate_dask("answers", "labels", client=client, proba=True)
    assert_same(read_result(tmp_path / "labels"), DawidSkene().fit(Annotations.from_frame(frame)))


@pytest.mark.slow
def test_sigterm_cancels_the_command_on_a_users_scheduler(client, tmp_path):
    # the command line with --scheduler: its tasks leave the cluster as the signal lands
    # (not when the process is gone), stderr says only that, and the cluster stays up
    frame = crowd_frame(40_000, r=5, n_workers=100, k=3, seed=21)[["task", "worker", "label"]]
    write_parts(frame, tmp_path / "answers", 4)  # relative paths, as typed
    run = _cli("answers", "--engine", "dask", "--scheduler", client.scheduler.address,
               "-o", "labels", "--tol", "0", "--max-iter", "100000", cwd=tmp_path)
    deadline = time.monotonic() + 180
    while len(_scheduler_keys(client)) < 8:  # 4 chunks persisted, and EM iterations
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.05)
    time.sleep(1.0)
    run.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    while _scheduler_keys(client):
        assert time.monotonic() - signalled < 3, "the tasks were not cancelled"
        time.sleep(0.02)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines() == ["terminated (SIGTERM)"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers"]
    assert client.submit(sum, [1, 2], pure=False).result() == 3
