"""Where the out-of-core engines used to differ from memory: the fit's warnings about the
data, empty Parquet files, how rows are named in errors, Dask's input errors (file and row,
one line, no worker log) and a SIGTERM's clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from crowdlearn import Annotations, DawidSkene
from crowdlearn.aggregation import MajorityVote
from crowdlearn.cli import app
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.scale import aggregate_dask, aggregate_parquet
from crowdlearn.scale.parquet import ParquetAnswers
from tests.scale.conftest import crowd_frame, write_parts
from tests.scale.test_streamed import assert_same, read_result

runner = CliRunner()


def caught(run) -> tuple[list[str], object]:
    """The messages of the CrowdlearnWarnings ``run()`` raises, in order, and its result."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = run()
    return [str(w.message) for w in seen if issubclass(w.category, CrowdlearnWarning)], result


# ---------------------------------------------------------------- 1. warnings about the data
def _near_duplicates() -> pd.DataFrame:
    """Labels "yes"/"no", and one worker who sometimes writes "Yes ": a near-duplicate of
    "yes" that no task ends up with."""
    frame = crowd_frame(300, r=3, n_workers=12, seed=31)[["task", "worker", "label"]]
    frame["label"] = frame["label"].map({0: "no", 1: "yes"})
    odd = (frame["worker"] == 3).to_numpy() & (np.arange(len(frame)) % 2 == 0)
    # only where the task's two other answers agree: "Yes " never ties, so never wins
    others = frame.groupby("task")["label"].transform(lambda s: s.nunique())
    frame.loc[odd & (frame["label"] == "yes").to_numpy() & (others == 1).to_numpy(),
              "label"] = "Yes "
    return frame


def _single_worker() -> pd.DataFrame:
    return pd.DataFrame({"task": np.arange(40), "worker": "solo",
                         "label": np.arange(40) % 2})


def _one_answer_a_task() -> pd.DataFrame:
    return pd.DataFrame({"task": np.arange(40), "worker": np.arange(40) % 3,
                         "label": (np.arange(40) // 3) % 2})


def _one_label() -> pd.DataFrame:
    frame = crowd_frame(60, r=3, n_workers=9, seed=32)[["task", "worker", "label"]]
    return frame.assign(label="x")


DATA = {"near-duplicates": (_near_duplicates, "labels 'Yes ' and 'yes' differ only by case"),
        "single-worker": (_single_worker, "a single worker ('solo') gave every answer"),
        "one-answer-a-task": (_one_answer_a_task, "no task has two answers"),
        "one-label": (_one_label, "every answer is the same label ('x')")}


@pytest.mark.parametrize("model", [MajorityVote(seed=3), DawidSkene()], ids=["mv", "ds"])
@pytest.mark.parametrize("data", list(DATA))
def test_stream_engine_warns_as_memory_does(tmp_path, data, model):
    build, expected = DATA[data]
    path = tmp_path / "answers.parquet"
    build().to_parquet(path, index=False)
    in_memory, fitted = caught(lambda: type(model)(**model.get_params()).fit(
        Annotations.from_file(path)))
    streamed, result = caught(lambda: aggregate_parquet(path, tmp_path / "out", model,
                                                        proba=True))
    assert any(expected in m for m in in_memory), in_memory
    assert streamed == in_memory
    assert_same(read_result(tmp_path / "out"), fitted)
    assert not hasattr(result.model, "labels_")  # only worker-level attributes out of core


def test_vanished_class_warned_on_every_engine(client, tmp_path):
    path = tmp_path / "answers.parquet"
    _near_duplicates().to_parquet(path, index=False)
    in_memory, _ = caught(lambda: MajorityVote(seed=3).fit(Annotations.from_file(path)))
    assert "MajorityVote: no task ends up with class 'Yes ' (of 3)" in in_memory
    streamed, _ = caught(lambda: aggregate_parquet(path, tmp_path / "s", MajorityVote(seed=3)))
    on_dask, _ = caught(lambda: aggregate_dask(path, tmp_path / "d", MajorityVote(seed=3),
                                               client=client))
    assert streamed == on_dask == in_memory


@pytest.mark.parametrize("scattered", [False, True], ids=["grouped", "scattered"])
@pytest.mark.parametrize("keep", ["first", "last"])
def test_dropped_repeats_counted_on_every_engine(client, tmp_path, keep, scattered):
    frame = crowd_frame(200, r=3, n_workers=12, seed=33)[["task", "worker", "label"]]
    repeats = frame.iloc[[4, 40, 41]].assign(label=lambda f: 1 - f["label"])
    frame = pd.concat([frame, repeats]).sort_values("task", kind="stable")
    if scattered:
        frame = frame.sample(frac=1, random_state=2)
    path = tmp_path / "answers.parquet"
    frame.to_parquet(path, index=False)
    expected = (f"{path}: dropped 3 of 603 answers that repeat a worker's answer to a task "
                f"(keep={keep!r} kept one of each)")
    in_memory, fitted = caught(lambda: DawidSkene().fit(Annotations.from_file(path, keep=keep)))
    streamed, _ = caught(lambda: aggregate_parquet(path, tmp_path / "s", proba=True, keep=keep))
    on_dask, _ = caught(lambda: aggregate_dask(path, tmp_path / "d", client=client, proba=True,
                                               keep=keep))
    assert expected in in_memory
    assert streamed == on_dask == in_memory
    assert_same(read_result(tmp_path / "s"), fitted)
    assert_same(read_result(tmp_path / "d"), fitted)


@pytest.mark.parametrize("data", ["single-worker", "one-label"])
def test_dask_engine_warns_as_memory_does(client, tmp_path, data):
    build, expected = DATA[data]
    frame = build()
    folder = write_parts(frame, tmp_path / "answers", 2)
    in_memory, _ = caught(lambda: DawidSkene().fit(Annotations.from_frame(frame)))
    on_dask, _ = caught(lambda: aggregate_dask(folder, tmp_path / "out", client=client))
    assert any(expected in m for m in in_memory)
    assert on_dask == in_memory  # no near-duplicates: the file names do not enter


def test_cli_prints_the_warnings_on_every_engine(client, tmp_path):
    path = tmp_path / "answers.parquet"
    _near_duplicates().to_parquet(path, index=False)
    shown = {}
    for engine, out, extra in (("memory", "labels.csv", []), ("stream", "s", []),
                               ("dask", "d", ["--scheduler", client.scheduler.address])):
        done = runner.invoke(app, ["aggregate", str(path), "--engine", engine, "--method",
                                   "mv", "-o", str(tmp_path / out), "-q", *extra])
        assert done.exit_code == 0, done.output
        shown[engine] = [line for line in done.stderr.splitlines()
                         if line.startswith("warning:")]
    assert "labels 'Yes ' and 'yes' differ only by case" in shown["memory"][0]
    assert shown["stream"] == shown["dask"] == shown["memory"]


# ---------------------------------------------------------------- 2. empty Parquet files
def _empty_file(path: Path, typed: bool) -> Path:
    """An empty answers file as pandas writes it: untyped (null columns) or float."""
    empty = (pd.DataFrame({"task": pd.Series([], dtype=object),
                           "worker": pd.Series([], dtype=object),
                           "label": pd.Series([], dtype=object)}) if not typed
             else pd.DataFrame({"task": [], "worker": [], "label": []}).astype(float))
    empty.to_parquet(path)
    return path


@pytest.mark.parametrize("typed", [False, True], ids=["null", "float"])
def test_empty_files_add_nothing(small_crowd, tmp_path, typed):
    frame, folder = small_crowd
    mixed = tmp_path / "answers"
    mixed.mkdir()
    for part in folder.iterdir():
        (mixed / part.name).write_bytes(part.read_bytes())
    _empty_file(mixed / "part-001b.parquet", typed)  # between two parts
    assert ParquetAnswers.open(mixed).empty == (mixed / "part-001b.parquet",)
    aggregate_parquet(mixed, tmp_path / "out", proba=True)
    assert_same(read_result(tmp_path / "out"), DawidSkene().fit(Annotations.from_frame(frame)))


def test_empty_file_alone_is_one_error(tmp_path):
    path = _empty_file(tmp_path / "none.parquet", typed=False)
    with pytest.raises(InputError, match=r"^.*none.parquet: no answers: the file has no rows$"):
        aggregate_parquet(path, tmp_path / "out")
    _empty_file(tmp_path / "none2.parquet", typed=True)
    with pytest.raises(InputError, match=r"no answers: its 2 Parquet files have no rows"):
        aggregate_parquet(str(tmp_path / "none*.parquet"), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none.parquet", "none2.parquet"]


def test_empty_files_on_dask(client, small_crowd, tmp_path):
    frame, folder = small_crowd
    mixed = tmp_path / "answers"
    mixed.mkdir()
    for part in folder.iterdir():
        (mixed / part.name).write_bytes(part.read_bytes())
    _empty_file(mixed / "part-000a.parquet", typed=False)
    result = aggregate_dask(mixed, tmp_path / "out", client=client, proba=True)
    assert result.n_answers == len(frame)
    assert_same(read_result(tmp_path / "out"), DawidSkene().fit(Annotations.from_frame(frame)))
    with pytest.raises(InputError, match=r"part-000a.parquet: no answers: the file has no rows"):
        aggregate_dask(mixed / "part-000a.parquet", tmp_path / "none", client=client)


# ---------------------------------------------------------------- 3. and 4. rows named alike
def _with_empty_label(path: Path, row: int) -> Path:
    frame = crowd_frame(50, seed=33)[["task", "worker", "label"]].astype({"label": float})
    frame.loc[row, "label"] = np.nan
    frame.loc[row + 3, "label"] = np.nan
    frame.to_parquet(path, index=False)
    return path


def _engine_errors(path: Path, tmp_path: Path, client) -> list[str]:
    """The error of each engine (memory, stream, Dask) on the answers in ``path``."""
    messages = []
    for run in (lambda: Annotations.from_file(path),
                lambda: aggregate_parquet(path, tmp_path / "s"),
                lambda: aggregate_dask(path, tmp_path / "d", client=client)):
        with pytest.raises(InputError) as caught:
            run()
        # what is wrong and where, worded alike; in memory an empty label also gets the
        # remedy only that engine has (missing='')
        messages.append(getattr(caught.value, "detail", str(caught.value)))
    return messages


def test_empty_cell_named_alike_on_every_engine(client, tmp_path):
    path = _with_empty_label(tmp_path / "answers.parquet", 7)
    expected = (f"{path}: row 7: empty value in column 'label' (2 empty value(s) in that "
                "column)")
    assert _engine_errors(path, tmp_path, client) == [expected] * 3
    # a later batch counts from the file's first row, not the batch's
    answers = ParquetAnswers.open(path)
    with pytest.raises(InputError, match=r"answers.parquet: row 7: empty value"):
        list(answers.batches(rows=3))


def test_blank_text_is_an_empty_cell_on_every_engine(client, tmp_path):
    # memory reads text that is empty or only blanks as a missing cell; so do the others
    frame = crowd_frame(50, seed=37)[["task", "worker", "label"]].astype(str)
    frame.loc[[4, 20], "worker"] = " "
    frame.loc[2, "label"] = ""  # an earlier row, but memory checks column by column
    path = tmp_path / "answers.parquet"
    frame.to_parquet(path, index=False)
    expected = (f"{path}: row 4: empty value in column 'worker' (2 empty value(s) in that "
                "column)")
    assert _engine_errors(path, tmp_path, client) == [expected] * 3
    frame.loc[[4, 20], "worker"] = "w"
    frame.loc[7, "task"] = "\t"  # a blank task id, inside task 1's run
    frame.to_parquet(path, index=False)
    with pytest.raises(InputError, match=r"row 7: empty value in column 'task'"):
        aggregate_parquet(path, tmp_path / "s")
    with pytest.raises(InputError, match=r"row 7: empty value in column 'task'"):
        aggregate_dask(path, tmp_path / "d", client=client)


def test_dask_dataframe_errors_name_the_partition(client, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    frame = crowd_frame(50, seed=34)[["task", "worker", "label"]].astype({"label": float})
    frame.loc[130, "label"] = np.nan  # the second partition's row 5
    ddf = dd.from_pandas(frame, npartitions=2, sort=False)
    assert ddf.divisions[1] == 125
    with pytest.raises(InputError, match=r"^partition 1: row 5: empty value in column "
                                         r"'label' \(1 empty value\(s\) in that column\)$"):
        aggregate_dask(ddf, tmp_path / "out", client=client)


def test_task_apart_in_one_file_grouped_alike_on_stream_and_dask(client, tmp_path):
    frame = crowd_frame(60, seed=35)[["task", "worker", "label"]]
    moved = pd.concat([frame.iloc[:3], frame.iloc[5:40], frame.iloc[3:5],
                       frame.iloc[40:]]).reset_index(drop=True)
    path = tmp_path / "answers.parquet"
    moved.to_parquet(path, index=False)
    streamed = aggregate_parquet(path, tmp_path / "s", proba=True)
    on_dask = aggregate_dask(path, tmp_path / "d", client=client, proba=True)
    assert streamed.regrouped and streamed.n_tasks == on_dask.n_tasks == 60
    reference = DawidSkene().fit(Annotations.from_frame(moved))
    for out in ("s", "d"):
        assert_same(read_result(tmp_path / out), reference)
    # each part in the order of the tasks' first answers, on both engines
    assert pq.read_table(tmp_path / "s").column("task").to_pylist() == \
        pq.read_table(tmp_path / "d").column("task").to_pylist() == list(range(60))


def test_repeat_in_a_regrouped_partition_names_its_rows(client, tmp_path):
    frame = crowd_frame(40, seed=39)[["task", "worker", "label"]]
    repeat = frame.iloc[[2]].assign(label=lambda f: 1 - f["label"])
    moved = pd.concat([frame, repeat]).reset_index(drop=True)  # task 0 again at the end
    path = tmp_path / "answers.parquet"
    moved.to_parquet(path, index=False)
    worker = frame.loc[2, "worker"]
    words = rf"^{path}: task 0 was answered twice by worker {worker} \(row 2 and 200\)"
    with pytest.raises(InputError, match=words):
        aggregate_dask(path, tmp_path / "d", client=client)
    with pytest.raises(InputError, match=words):
        aggregate_parquet(path, tmp_path / "s")
    reference = MajorityVote(tie_break="first").fit(Annotations.from_frame(moved, keep="last"))
    on_dask = aggregate_dask(path, tmp_path / "d2", MajorityVote(tie_break="first"),
                             client=client, keep="last")
    assert on_dask.n_answers == 200
    labels = read_result(tmp_path / "d2")["label"]
    assert labels.to_dict() == reference.predict().to_dict()


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "crowdlearn", "aggregate", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_dask_input_errors_leave_no_worker_log(client, tmp_path):
    path = _with_empty_label(tmp_path / "answers.parquet", 7)
    frame = crowd_frame(60, seed=38)[["task", "worker", "label"]]
    (tmp_path / "split").mkdir()  # task 0's first answer repeated in another file
    frame.iloc[:3].to_parquet(tmp_path / "split" / "a.parquet", index=False)
    pd.concat([frame.iloc[3:], frame.iloc[:1]]).to_parquet(tmp_path / "split" / "b.parquet",
                                                           index=False)
    before = {w: len(logs) for w, logs in client.get_worker_logs().items()}
    with pytest.raises(InputError, match="answers.parquet: row 7"):
        aggregate_dask(path, tmp_path / "out", client=client)
    with pytest.raises(InputError, match="task 0 was answered twice by worker"):
        aggregate_dask(tmp_path / "split", tmp_path / "out", client=client)
    for worker, logs in client.get_worker_logs().items():  # newest first
        new = [message for _, message in logs[:len(logs) - before.get(worker, 0)]]
        assert not [m for m in new if "Compute Failed" in m or "InputError" in m], new


@pytest.mark.slow
def test_dask_cli_input_error_is_one_line(tmp_path):
    pytest.importorskip("dask.distributed")
    _with_empty_label(tmp_path / "answers.parquet", 7)
    done = _cli("answers.parquet", "--engine", "dask", "-o", "labels", cwd=tmp_path)
    out, err = done.communicate(timeout=240)
    assert done.returncode == 2, err
    assert err.strip().splitlines()[-1] == (
        "error: answers.parquet: row 7: empty value in column 'label' (2 empty value(s) in "
        "that column)")
    assert "Compute Failed" not in err and "Traceback" not in err, err  # no worker's log
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.parquet"]


# ---------------------------------------------------------------- 5. SIGTERM cleans up
def test_sigterm_removes_partial_output_and_scratch(tmp_path):
    # ~200 EM iterations (tol 0) of 100k answers: seconds, a wide window for the signal
    frame = crowd_frame(20_000, r=5, n_workers=100, k=3, seed=21)[["task", "worker", "label"]]
    frame.to_parquet(tmp_path / "answers.parquet", index=False)
    (tmp_path / "scratch").mkdir()
    run = _cli("answers.parquet", "--engine", "stream", "-o", "labels", "--scratch", "scratch",
               "--tol", "0", "--max-iter", "100000", cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".labels.crowdlearn-*")) and run.poll() is None:
        assert time.monotonic() < deadline, "the fit never started"
        time.sleep(0.01)
    assert list((tmp_path / "scratch").iterdir())  # chunk files, and the fit running
    time.sleep(0.3)  # into the EM iterations
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGTERM, err  # stopped midway, by the signal
    assert "terminated" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.parquet", "scratch"]
    assert list((tmp_path / "scratch").iterdir()) == []


def test_missing_scratch_folder_is_one_error(small_crowd, tmp_path):
    with pytest.raises(InputError, match=r"nothing: the scratch folder does not exist"):
        aggregate_parquet(small_crowd[1], tmp_path / "out", scratch=tmp_path / "nothing")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("made", [".out.crowdlearn-", "crowdlearn-chunks-"])
def test_an_interrupt_just_after_a_folder_is_made_removes_it(small_crowd, tmp_path,
                                                             monkeypatch, made):
    (tmp_path / "scratch").mkdir()
    mkdir = Path.mkdir

    def then_interrupted(self, *args, **kwargs):
        mkdir(self, *args, **kwargs)
        if self.name.startswith(made):
            raise KeyboardInterrupt  # as SIGTERM's handler raises it, at any bytecode

    monkeypatch.setattr(Path, "mkdir", then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        aggregate_parquet(small_crowd[1], tmp_path / "out", scratch=tmp_path / "scratch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_killed_runs_partial_dataset_is_removed_by_the_next_run(small_crowd, tmp_path):
    from crowdlearn.scale.output import dataset_output

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer runs: the killed writer's
    out = tmp_path / (("z" * 230) + ".parquet")  # a long name, cut in temporary names
    with pytest.raises(KeyboardInterrupt), dataset_output(out) as tmp:
        left = tmp.with_name(tmp.name.replace(f"-{os.getpid()}-", f"-{child.pid}-"))
        raise KeyboardInterrupt
    left.mkdir()  # what that run left behind
    (left / "part-0.parquet").write_bytes(b"PAR1")
    messages, _ = caught(lambda: aggregate_parquet(small_crowd[1], out, model=MajorityVote()))
    assert any(m.startswith("removed 1 partial copy") for m in messages), messages
    assert os.listdir(tmp_path) == [out.name]
