"""Out-of-core and Dask Dawid–Skene against the in-memory fit, from 10M to 1B answers.

    python -m benchmarks.scale_data /tmp/crowd1b --tasks 100000000   # once: 1B answers
    python -m benchmarks.scale --data /tmp/crowd1b --sizes 10M,100M --engines memory,stream,dask
    python -m benchmarks.scale --data /tmp/crowd1b --sizes 1B --engines stream
    python -m benchmarks.scale --data /tmp/crowd1b --sizes 10M,100M --engines memory,stream \
        --scattered

A size is a prefix of the generated files (10M answers a file); ``--scattered`` uses the same
answers in a random order across as many files (written once under DATA/scattered-N/), as an
export listing answers by time would give them: the streamed engine then regroups them.

Each run is a separate process
whose peak memory is sampled (resident set of the process and its children: the Dask
LocalCluster's worker processes included) every 0.1 s; its wall time covers reading the
Parquet files, the fit and writing the labels (the in-memory engine: reading into a frame,
coding it, the fit and writing one Parquet file). Accuracy is scored against the generated
truth afterwards, outside the timing. The same run prints the ratios against the in-memory
engine, the per-iteration seconds, and (``--markdown``) a table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq

SIZES = {"10M": 1, "100M": 10, "300M": 30, "1B": 100}


def run_engine(engine: str, files: list[Path], out: Path, workers: int) -> dict:
    """One fit (in this process): seconds and what the engine reports."""
    from crowdlearn import Annotations, DawidSkene
    from crowdlearn.scale import aggregate_dask, aggregate_parquet

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    if engine == "memory":
        frame = pq.read_table(files).to_pandas()
        model = DawidSkene().fit(Annotations.from_frame(frame))
        del frame
        table = model.predict_proba()
        out.mkdir()
        pq.write_table(
            __import__("pyarrow").table({"task": np.asarray(model.tasks_),
                                         "label": model.labels_,
                                         "confidence": table.max(axis=1).to_numpy()}),
            out / "part-00000.parquet")
        report = {"iterations": model.n_iter_}
    elif engine == "stream":
        result = aggregate_parquet(files, out, DawidSkene(), n_threads=workers)
        report = {"iterations": result.model.n_iter_, "phases": result.seconds,
                  "per_iteration": result.iteration_seconds}
    else:
        result = aggregate_dask(files, out, DawidSkene(), n_workers=workers)
        report = {"iterations": result.model.n_iter_, "phases": result.seconds,
                  "per_iteration": result.iteration_seconds}
    report["seconds"] = time.perf_counter() - start
    return report


def scattered_copy(data: Path, n_files: int) -> Path:
    """The first ``n_files`` files' answers in a random order (seed 0) over as many files;
    made once (the folder's ``done`` marks it complete). Shuffled in memory: ~30 bytes an
    answer, so up to a few hundred million answers on a 24 GB machine."""
    folder = data / f"scattered-{n_files}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    table = pq.read_table(sorted((data / "answers").glob("*.parquet"))[:n_files])
    table = table.take(np.random.default_rng(0).permutation(table.num_rows))
    bounds = np.linspace(0, table.num_rows, n_files + 1).astype(np.int64)
    for i in range(n_files):
        pq.write_table(table.slice(bounds[i], bounds[i + 1] - bounds[i]),
                       folder / f"part-{i:05d}.parquet")
    (folder / "done").touch()
    return folder


def measured(engine: str, n_files: int, data: Path, out: Path, workers: int,
             source: Path | None = None) -> dict:
    """Run one engine in a child process, sampling the peak memory of its process tree."""
    command = [sys.executable, "-m", "benchmarks.scale", "--child", engine, "--data",
               str(data), "--files", str(n_files), "--out", str(out), "--workers",
               str(workers), "--source", str(source or data / "answers")]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    parent = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            procs = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    output = child.stdout.read()
    if child.returncode:
        raise SystemExit(f"{engine} failed with code {child.returncode}")
    report = json.loads(output.strip().splitlines()[-1])
    report["peak_gb"] = peak / 1e9
    return report


def accuracy(out: Path, data: Path, n_files: int) -> float:
    """Share of tasks whose label equals the truth (both in increasing task order)."""
    truth = np.concatenate([pq.read_table(data / "truth" / f"part-{i:05d}.parquet",
                                          columns=["label"]).column(0).to_numpy()
                            for i in range(n_files)])
    right = 0
    seen = 0
    for part in sorted(out.glob("*.parquet")):
        table = pq.read_table(part, columns=["task", "label"])
        task = table.column(0).to_numpy()
        right += int((table.column(1).to_numpy() == truth[task]).sum())
        seen += len(task)
    assert seen == len(truth), (seen, len(truth))
    return right / seen


def _count(n: int) -> str:
    """An answer count as the tables write it: 10M, 1B, 500k."""
    for unit, scale in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sizes", default="10M,100M")
    parser.add_argument("--engines", default="memory,stream,dask")
    parser.add_argument("--workers", type=int, default=2, help="threads (stream) or "
                        "processes (dask)")
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--scattered", action="store_true", help="the answers in a random "
                        "order across the files")
    parser.add_argument("--source", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--files", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        files = sorted(args.source.glob("*.parquet"))[:args.files]
        print(json.dumps(run_engine(args.child, files, args.out, args.workers)))
        return
    rows = []
    files = sorted((args.data / "answers").glob("*.parquet"))
    for size in args.sizes.split(","):
        n_files = SIZES[size]
        if n_files > len(files):  # before any run, not after the first engine's
            parser.error(f"--sizes {size} needs {n_files} answer files, {args.data} has "
                         f"{len(files)} (python -m benchmarks.scale_data makes them)")
    for size in args.sizes.split(","):
        n_files = SIZES[size]
        # the label says what was measured: the files' answers, not the size's name
        size = _count(sum(pq.ParquetFile(f).metadata.num_rows for f in files[:n_files]))
        source = scattered_copy(args.data, n_files) if args.scattered else None
        base = None
        for engine in args.engines.split(","):
            folder = Path(tempfile.mkdtemp(dir=args.scratch))
            try:
                report = measured(engine, n_files, args.data, folder / "labels", args.workers,
                                  source)
                report["accuracy"] = accuracy(folder / "labels", args.data, n_files)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            if engine == "memory":
                base = report["seconds"]
            per = report.get("per_iteration") or []
            report.update(size=size, engine=engine + (", scattered" if source else ""),
                          ratio=report["seconds"] / base if base else None,
                          mean_iteration=float(np.mean(per)) if per else None)
            rows.append(report)
            print(f"{size} {report['engine']}: {report['seconds']:.1f} s, "
                  f"peak {report['peak_gb']:.2f} GB, "
                  f"{report['iterations']} iterations"
                  + (f" ({report['mean_iteration']:.2f} s each)" if per else "")
                  + (f", {report['ratio']:.2f}x in-memory" if report["ratio"] else "")
                  + f", accuracy {report['accuracy']:.4f}; phases "
                  f"{ {k: round(v, 1) for k, v in report.get('phases', {}).items()} }",
                  flush=True)
    if args.markdown:
        print("\n| answers | engine | seconds | vs in-memory | peak memory | iterations | "
              "s / iteration | accuracy |\n|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "—"
            each = f"{r['mean_iteration']:.2f}" if r["mean_iteration"] else "—"
            print(f"| {r['size']} | {r['engine']} | {r['seconds']:.1f} | {ratio} | "
                  f"{r['peak_gb']:.2f} GB | {r['iterations']} | {each} | {r['accuracy']:.4f} |")


if __name__ == "__main__":
    main()
