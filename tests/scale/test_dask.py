"""The Dask engine (LocalCluster of 2 processes) gives the in-memory and streamed fits'
labels and posteriors, and refuses what it cannot run."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from crowdlearn import Annotations, DawidSkene
from crowdlearn.aggregation import MajorityVote, OneCoinDawidSkene, Wawa
from crowdlearn.errors import InputError, RepeatedAnswersError
from crowdlearn.scale import aggregate_dask, aggregate_parquet
from tests.scale.conftest import crowd_frame, write_parts
from tests.scale.test_streamed import assert_same, read_result

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")


def test_three_engines_agree_on_a_million_answers(client, tmp_path):
    frame = crowd_frame(200_000, r=5, n_workers=500, seed=11)[["task", "worker", "label"]]
    folder = write_parts(frame, tmp_path / "answers", 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = DawidSkene().fit(Annotations.from_frame(frame))
        streamed = aggregate_parquet(folder, tmp_path / "stream", proba=True)
        on_dask = aggregate_dask(folder, tmp_path / "dask", client=client, proba=True)
    assert on_dask.n_answers == 1_000_000 and on_dask.n_tasks == 200_000
    assert on_dask.model.n_iter_ == streamed.model.n_iter_ == reference.n_iter_
    assert_same(read_result(tmp_path / "dask"), reference)
    assert_same(read_result(tmp_path / "stream"), reference)
    np.testing.assert_allclose(on_dask.model.confusion_, reference.confusion_, atol=1e-9)
    assert len(on_dask.iteration_seconds) == reference.n_iter_


@pytest.mark.parametrize("model", [OneCoinDawidSkene(), MajorityVote(seed=5), Wawa(seed=2)],
                         ids=["onecoin", "mv", "wawa"])
def test_dask_dataframe_input(client, small_crowd, tmp_path, model):
    frame, _ = small_crowd
    # partitions cut between tasks: sorted on an index equal to the task id
    ddf = dd.from_pandas(frame.set_index(pd.Index(frame["task"].to_numpy(), name="t")),
                         npartitions=3, sort=True)
    assert ddf.npartitions == 3
    result = aggregate_dask(ddf, tmp_path / "out", model, client=client, proba=True)
    reference = type(model)(**model.get_params()).fit(Annotations.from_frame(frame))
    assert_same(read_result(tmp_path / "out"), reference)
    np.testing.assert_allclose(result.model.skill_, reference.skill_, atol=1e-9)


def test_task_split_between_partitions_is_shuffled_into_one(client, tmp_path):
    frame = crowd_frame(100, seed=12)[["task", "worker", "label"]]
    moved = pd.concat([frame.iloc[:3], frame.iloc[5:], frame.iloc[3:5]]).reset_index(drop=True)
    ddf = dd.from_pandas(moved, npartitions=2, sort=False)
    result = aggregate_dask(ddf, tmp_path / "out", client=client, proba=True)
    assert result.regrouped and result.n_tasks == 100 and result.n_answers == len(frame)
    assert_same(read_result(tmp_path / "out"), DawidSkene().fit(Annotations.from_frame(moved)))


def test_answers_in_arrival_order_across_files(client, tmp_path):
    # an export cut by day: every task's answers spread over the files, text ids
    frame = crowd_frame(400, k=3, seed=21)[["task", "worker", "label"]]
    frame["task"] = "t" + frame["task"].astype(str).str.zfill(4)
    scattered = frame.sample(frac=1, random_state=1).reset_index(drop=True)
    folder = tmp_path / "answers"
    folder.mkdir()
    for i in range(4):
        scattered.iloc[i * 500:(i + 1) * 500].to_parquet(folder / f"day{i}.parquet",
                                                         index=False)
    result = aggregate_dask(folder, tmp_path / "out", client=client, proba=True)
    assert result.regrouped and result.n_tasks == 400
    assert_same(read_result(tmp_path / "out"), DawidSkene().fit(
        Annotations.from_frame(scattered)))
    # a worker's second answer to a task, in another file and with another label: named by
    # file and row, or dropped as in memory (the answers keep their input order)
    repeat = scattered.iloc[[7]].assign(label=(scattered["label"].iloc[7] + 1) % 3)
    (folder / "day3.parquet").unlink()
    pd.concat([scattered.iloc[1500:], repeat]).to_parquet(folder / "day3.parquet",
                                                          index=False)
    task, worker = scattered["task"].iloc[7], scattered["worker"].iloc[7]
    with pytest.raises(RepeatedAnswersError, match=(
            rf"task '{task}' was answered twice by worker {worker} \({folder / 'day0.parquet'}"
            rf" row 7 and {folder / 'day3.parquet'} row 500\)")):
        aggregate_dask(folder, tmp_path / "refused", client=client)
    assert not (tmp_path / "refused").exists()
    given = pd.concat([scattered, repeat])
    for keep in ("first", "last"):
        out = tmp_path / keep
        aggregate_dask(folder, out, client=client, proba=True, keep=keep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = DawidSkene().fit(Annotations.from_frame(given, keep=keep))
        assert_same(read_result(out), reference)


def test_unreachable_scheduler(tmp_path, monkeypatch, small_crowd):
    from crowdlearn.scale import distributed as engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match=r"tcp://127.0.0.1:9: cannot reach the Dask scheduler"):
        aggregate_dask(small_crowd[1], tmp_path / "out", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "out").exists()


def test_parquet_written_by_the_workers(client, small_crowd, tmp_path):
    aggregate_dask(small_crowd[1], tmp_path / "out", client=client)
    parts = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert len(pq.read_table(tmp_path / "out")) == 4000


def test_numbers_written_as_text_are_ordered_by_value_on_every_engine(client, tmp_path):
    # "9" before "10": the in-memory coding's rule; pyarrow's own sort put "10" first and
    # changed majority vote's random tie-breaks between engines
    frame = crowd_frame(600, r=4, n_workers=40, k=3, seed=4)[["task", "worker", "label"]]
    frame = frame.assign(label=frame["label"].map({0: "9", 1: "10", 2: "200"}),
                         worker=frame["worker"].map(lambda w: str(w * 7)))
    folder = write_parts(frame, tmp_path / "answers", 2)
    model = MajorityVote(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = MajorityVote(seed=1).fit(Annotations.from_frame(frame))
        streamed = aggregate_parquet(folder, tmp_path / "stream", model, proba=True)
        on_dask = aggregate_dask(folder, tmp_path / "dask", model, client=client, proba=True)
    assert list(reference.classes_) == ["9", "10", "200"]
    for result, out in ((streamed, "stream"), (on_dask, "dask")):
        assert list(result.model.classes_) == list(reference.classes_)
        assert list(result.model.workers_) == list(reference.workers_)
        assert_same(read_result(tmp_path / out), reference)


def test_shuffled_dataframe_partitions_are_grouped(client, tmp_path):
    from dask import delayed

    frame = crowd_frame(300, k=3, seed=13)[["task", "worker", "label"]]
    scattered = frame.sample(frac=1, random_state=0).reset_index(drop=True)
    # what `ddf.shuffle("task")` gives: each task in one partition, its rows apart
    part = scattered["task"] % 3
    pieces = [scattered[part == i] for i in range(3)]
    ddf = dd.from_delayed([delayed(p.reset_index(drop=True)) for p in pieces],
                          meta=frame.iloc[:0])
    result = aggregate_dask(ddf, tmp_path / "out", client=client, proba=True)
    reference = DawidSkene().fit(Annotations.from_frame(scattered))
    assert result.n_tasks == 300
    assert_same(read_result(tmp_path / "out"), reference)
