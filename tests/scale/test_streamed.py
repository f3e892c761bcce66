"""The streamed engine gives the in-memory fit's labels and posteriors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crowdlearn import Annotations, DawidSkene
from crowdlearn.aggregation import MajorityVote, OneCoinDawidSkene, Wawa, ZeroBasedSkill
from crowdlearn.errors import InputError
from crowdlearn.scale import aggregate_parquet
from tests.scale.conftest import crowd_frame, write_parts


def read_result(folder) -> pd.DataFrame:
    return pq.read_table(folder).to_pandas().set_index("task").sort_index()


def assert_same(result: pd.DataFrame, model, atol: float = 1e-6) -> None:
    proba = model.predict_proba().reindex(result.index)
    assert (result["label"].to_numpy() == model.predict().reindex(result.index).to_numpy()).all()
    ours = result[[f"proba_{c}" for c in model.classes_]].to_numpy()
    np.testing.assert_allclose(ours, proba.to_numpy(), atol=atol, rtol=0)


@pytest.mark.parametrize("model", [DawidSkene(), OneCoinDawidSkene(),
                                   MajorityVote(seed=3), MajorityVote(tie_break="first"),
                                   Wawa(seed=1), Wawa(tie_break="first"),
                                   ZeroBasedSkill(n_iter=12, lr_steps_to_reduce=5)],
                         ids=["ds", "onecoin", "mv-random", "mv-first", "wawa-random",
                              "wawa-first", "zbs"])
def test_streamed_equals_in_memory(small_crowd, tmp_path, model):
    frame, folder = small_crowd
    # chunks far smaller than a file: tasks cross batch, chunk and file boundaries
    result = aggregate_parquet(folder, tmp_path / "out", model, proba=True,
                               chunk_answers=1000, n_threads=2)
    reference = type(model)(**model.get_params()).fit(Annotations.from_frame(frame))
    assert result.n_answers == len(frame) and result.n_tasks == frame["task"].nunique()
    assert_same(read_result(tmp_path / "out"), reference)
    np.testing.assert_allclose(result.model.skill_, reference.skill_, atol=1e-6)
    assert list(result.model.workers_) == list(reference.workers_)
    np.testing.assert_array_equal(result.model.worker_counts_, reference.worker_counts_)
    if isinstance(reference, Wawa):
        np.testing.assert_allclose(result.model.agreement_, reference.agreement_, atol=1e-12)
    if hasattr(reference, "log_likelihood_"):
        assert result.model.n_iter_ == reference.n_iter_
        np.testing.assert_allclose(result.model.log_likelihood_, reference.log_likelihood_,
                                   rtol=1e-9)


def test_million_answers_three_chunks(tmp_path):
    frame = crowd_frame(200_000, r=5, n_workers=500, seed=2)
    folder = write_parts(frame[["task", "worker", "label"]], tmp_path / "answers", 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = aggregate_parquet(folder, tmp_path / "out", proba=True,
                                   chunk_answers=400_000)
        reference = DawidSkene().fit(Annotations.from_frame(frame[["task", "worker",
                                                                   "label"]]))
    assert result.n_answers == 1_000_000
    table = read_result(tmp_path / "out")
    assert_same(table, reference)
    truth = frame.groupby("task")["truth"].first()
    assert (table["label"] == truth.reindex(table.index)).mean() > 0.85


def test_text_ids_grouped_in_any_order(tmp_path):
    frame = crowd_frame(3000, seed=4)[["task", "worker", "label"]]
    frame["task"] = "t" + frame["task"].astype(str)
    frame["worker"] = "w" + frame["worker"].astype(str)
    frame["label"] = np.array(["no", "yes"])[frame["label"]]
    order = np.random.default_rng(0).permutation(3000)  # tasks shuffled, answers together
    shuffled = frame.set_index("task").loc[[f"t{i}" for i in order]].reset_index()
    write_parts(shuffled, tmp_path / "answers", 1)
    result = aggregate_parquet(tmp_path / "answers", tmp_path / "out", proba=True,
                               chunk_answers=777)
    reference = DawidSkene().fit(Annotations.from_frame(frame))
    assert result.model.classes_ == ["no", "yes"]
    assert_same(read_result(tmp_path / "out"), reference)


def test_output_columns_and_worker_table(small_crowd, tmp_path):
    _, folder = small_crowd
    result = aggregate_parquet(folder, tmp_path / "out", chunk_answers=5000)
    table = pq.read_table(tmp_path / "out")
    assert table.column_names == ["task", "label", "confidence"]
    workers = result.worker_table()
    assert list(workers.columns[:3]) == ["worker", "n_answers", "skill"]
    assert workers["n_answers"].sum() == result.n_answers


# bad input ---------------------------------------------------------------------------
def test_repeated_answer_is_named(tmp_path):
    frame = crowd_frame(50, seed=6)[["task", "worker", "label"]]
    frame.loc[1, "worker"] = frame.loc[0, "worker"]
    write_parts(frame, tmp_path / "a", 1)
    with pytest.raises(InputError, match=r"part-000.parquet: task 0 was answered twice by "
                                         r"worker \d+ \(row 0 and 1\)"):
        aggregate_parquet(tmp_path / "a", tmp_path / "out")


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(InputError, match=r"nothing-\*\.parquet: the pattern matches no file"):
        aggregate_parquet(str(tmp_path / "nothing-*.parquet"), tmp_path / "out")


def test_mismatched_schema_names_the_file(tmp_path):
    frame = crowd_frame(50, seed=7)[["task", "worker", "label"]]
    write_parts(frame, tmp_path / "a", 2)
    odd = pd.read_parquet(tmp_path / "a" / "part-001.parquet")
    odd["worker"] = "w" + odd["worker"].astype(str)
    odd.to_parquet(tmp_path / "a" / "part-001.parquet", index=False)
    with pytest.raises(InputError, match=r"part-001.parquet: column 'worker' holds \w*string, "
                                         r"but .*part-000.parquet holds integer"):
        aggregate_parquet(tmp_path / "a", tmp_path / "out")


def test_missing_column_names_the_file(tmp_path):
    frame = crowd_frame(50, seed=8)[["task", "worker", "label"]]
    write_parts(frame, tmp_path / "a", 2)
    pd.read_parquet(tmp_path / "a" / "part-001.parquet").drop(columns="label").to_parquet(
        tmp_path / "a" / "part-001.parquet", index=False)
    with pytest.raises(InputError, match=r"part-001.parquet: no column 'label'"):
        aggregate_parquet(tmp_path / "a", tmp_path / "out")


def test_empty_cell_names_file_row_and_column(tmp_path):
    frame = crowd_frame(50, seed=9)[["task", "worker", "label"]].astype({"label": float})
    frame.loc[7, "label"] = np.nan
    write_parts(frame, tmp_path / "a", 1)
    with pytest.raises(InputError,
                       match=r"part-000.parquet: row 7: empty value in column 'label'"):
        aggregate_parquet(tmp_path / "a", tmp_path / "out")


def test_existing_output_kept_unless_forced(small_crowd, tmp_path):
    _, folder = small_crowd
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists; pass --force"):
        aggregate_parquet(folder, out)
    with pytest.raises(InputError, match="holds 'notes.txt', which crowdlearn did not write"):
        aggregate_parquet(folder, out, force=True)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    aggregate_parquet(folder, out, force=True)
    aggregate_parquet(folder, out, MajorityVote(), force=True)  # replaces its own dataset
    assert len(pq.read_table(out)) == 4000


def test_in_memory_only_methods_are_refused(small_crowd, tmp_path):
    from crowdlearn.aggregation import GLAD

    with pytest.raises(InputError, match="GLAD runs in memory only"):
        aggregate_parquet(small_crowd[1], tmp_path / "out", GLAD())


def test_a_float_nan_is_an_empty_cell_as_in_memory(tmp_path):
    # written as a real NaN, not a null (as Spark and polars may): not a class of its own
    frame = crowd_frame(50, seed=9)[["task", "worker", "label"]].astype({"label": float})
    frame.loc[7, "label"] = np.nan
    (tmp_path / "a").mkdir()
    table = pa.table({name: pa.array(frame[name].to_numpy(), from_pandas=False)
                      for name in frame.columns})
    pq.write_table(table, tmp_path / "a" / "nan.parquet")
    assert pq.read_table(tmp_path / "a" / "nan.parquet").column("label").null_count == 0
    with pytest.raises(InputError, match=r"nan.parquet: row 7: empty value in column 'label'"):
        aggregate_parquet(tmp_path / "a", tmp_path / "out")


def test_a_table_name_for_the_output_folder_is_refused(small_crowd, tmp_path):
    with pytest.raises(InputError, match=r"labels.csv: the labels of the out-of-core engines "
                                         r"are a folder of Parquet parts"):
        aggregate_parquet(small_crowd[1], tmp_path / "labels.csv")
    assert not (tmp_path / "labels.csv").exists()
    (tmp_path / "m").write_text("")
    with pytest.raises(InputError, match="m: is a file, not a dataset folder"):
        aggregate_parquet(small_crowd[1], tmp_path / "m")  # not 'pass --force'
