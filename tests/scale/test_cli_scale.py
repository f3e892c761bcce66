"""`crowdlearn aggregate --engine stream|dask`: the same labels as in memory, one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from crowdlearn.cli import app
from tests.scale.conftest import crowd_frame

runner = CliRunner()


def test_stream_engine_matches_memory_engine(small_crowd, tmp_path):
    frame, folder = small_crowd
    memory = tmp_path / "memory.parquet"
    frame.to_parquet(tmp_path / "all.parquet", index=False)
    done = runner.invoke(app, ["aggregate", str(tmp_path / "all.parquet"), "-o", str(memory),
                               "--proba", "--json"])
    assert done.exit_code == 0, done.output
    in_memory = json.loads(done.output)
    done = runner.invoke(app, ["aggregate", str(folder / "*.parquet"), "--engine", "stream",
                               "-o", str(tmp_path / "labels"), "--proba", "--workers",
                               str(tmp_path / "workers.csv"), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["engine"] == "stream" and summary["data"]["answers"] == len(frame)
    # one shape for scripts: the memory engine's keys (less what needs every answer in memory)
    assert set(in_memory) - {"worker_quality_identifiable"} <= set(summary)
    assert in_memory["engine"] == "memory" and isinstance(summary["seconds"], float)
    assert summary["labels"]["shares"] == pytest.approx(in_memory["labels"]["shares"])
    assert summary["labels"]["below_0.9"] == in_memory["labels"]["below_0.9"]
    assert summary["labels"]["mean_confidence"] == pytest.approx(
        in_memory["labels"]["mean_confidence"])
    ours = pq.read_table(tmp_path / "labels").to_pandas().set_index("task").sort_index()
    theirs = pd.read_parquet(memory).set_index("task").sort_index()
    assert (ours["label"] == theirs["label"]).all()
    assert (ours["confidence"] - theirs["confidence"]).abs().max() < 1e-6
    workers = pd.read_csv(tmp_path / "workers.csv")
    assert workers["n_answers"].sum() == len(frame)


@pytest.mark.parametrize("extra, message", [
    (["--gold", "g.csv"], "--gold works with --engine memory only"),
    (["--missing", "NO_ANSWER"], "--missing works with --engine memory only; the out-of-core "
                                 "engines refuse empty cells"),
    (["--method", "glad"], "GLAD runs in memory only"),
    (["--scheduler", "tcp://x:1"], "--scheduler is for --engine dask"),
])
def test_refused_options(small_crowd, tmp_path, extra, message):
    done = runner.invoke(app, ["aggregate", str(small_crowd[1]), "--engine", "stream", "-o",
                               str(tmp_path / "out"), *extra])
    assert done.exit_code == 2
    assert message in done.output and "Traceback" not in done.output
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_exits_2(small_crowd, tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    from crowdlearn.scale import distributed

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", "1s")
    done = runner.invoke(app, ["aggregate", str(small_crowd[1]), "--engine", "dask",
                               "--scheduler", "tcp://127.0.0.1:9", "-o", str(tmp_path / "out")])
    assert done.exit_code == 2
    assert "tcp://127.0.0.1:9: cannot reach the Dask scheduler" in done.output
    assert len(done.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("address", ["10.0.0.5", "http://127.0.0.1:8786"])
def test_malformed_scheduler_address_exits_2(small_crowd, tmp_path, address):
    pytest.importorskip("dask.distributed")
    done = runner.invoke(app, ["aggregate", str(small_crowd[1]), "--engine", "dask",
                               "--scheduler", address, "-o", str(tmp_path / "out")])
    assert done.exit_code == 2, done.output
    assert f"{address}: not a Dask scheduler address" in done.output
    assert len(done.output.strip().splitlines()) == 1


def test_glob_matching_nothing_exits_2(tmp_path):
    done = runner.invoke(app, ["aggregate", str(tmp_path / "x-*.parquet"), "--engine",
                               "stream", "-o", str(tmp_path / "out")])
    assert done.exit_code == 2 and "matches no file" in done.output


@pytest.mark.parametrize("keep", ["error", "last"])
def test_keep_reaches_the_stream_engine(tmp_path, keep):
    frame = crowd_frame(60, seed=47)[["task", "worker", "label"]]
    frame.loc[12, "worker"] = frame.loc[11, "worker"]
    path = tmp_path / "answers.parquet"
    frame.to_parquet(path, index=False)
    memory = runner.invoke(app, ["aggregate", str(path), "--keep", keep, "-q", "-o",
                                 str(tmp_path / "memory.csv")])
    stream = runner.invoke(app, ["aggregate", str(path), "--engine", "stream", "--keep", keep,
                                 "-q", "-o", str(tmp_path / "labels")])
    assert stream.exit_code == memory.exit_code == (2 if keep == "error" else 0)
    if keep == "error":  # the same words, and the command line's remedy
        assert stream.output == memory.output
        assert "(row 11 and 12); choose what to keep with --keep first" in stream.output
    else:
        ours = pq.read_table(tmp_path / "labels").to_pandas().set_index("task").sort_index()
        theirs = pd.read_csv(tmp_path / "memory.csv").set_index("task").sort_index()
        assert (ours["label"] == theirs["label"]).all()


def test_outputs_never_land_on_the_inputs_or_in_the_labels_folder(small_crowd, tmp_path):
    frame, folder = small_crowd
    victim = tmp_path / "answers.parquet"
    frame.to_parquet(victim, index=False)
    before = victim.read_bytes()
    cases = [
        ([str(victim), "-o", str(tmp_path / "a"), "--workers", str(victim), "--force"],
         "refusing to write the output over an input file"),  # it replaced the answers
        ([str(victim), "-o", str(tmp_path / "b.parquet"), "--workers",
          str(tmp_path / "b.parquet")], "is the labels folder (-o) or inside it"),
        ([str(folder), "-o", str(folder / "labels")], "is inside the answers' folder"),
        ([str(folder / "**" / "*.parquet"), "-o", str(folder / "labels")],
         "is inside the answers' folder"),  # a recursive glob would read them back
        ([str(folder), "-o", str(tmp_path / "c"), "--workers", str(folder / "w.parquet")],
         "is inside the answers' folder"),
    ]
    for args, message in cases:
        done = runner.invoke(app, ["aggregate", *args, "--engine", "stream"])
        assert done.exit_code == 2 and message in done.output, done.output
    assert victim.read_bytes() == before
    assert not (tmp_path / "a").exists() and not (folder / "labels").exists()


@pytest.mark.parametrize("extra, message", [
    (["--scratch", "/nonexistent"], "--scratch is for --engine stream"),
    (["--scheduler", "tcp://x:1"], "--scheduler is for --engine dask"),
])
def test_the_memory_engine_refuses_the_out_of_core_options(small_crowd, tmp_path, extra,
                                                           message):
    frame, _ = small_crowd
    frame.to_parquet(tmp_path / "all.parquet", index=False)
    done = runner.invoke(app, ["aggregate", str(tmp_path / "all.parquet"), "-o",
                               str(tmp_path / "x.csv"), *extra])
    assert done.exit_code == 2 and message in done.output, done.output
    assert not (tmp_path / "x.csv").exists()
