"""Speed and scale of Dawid–Skene: crowdlearn against crowd-kit on the same synthetic crowds.

Binary tasks, 10 answers each from workers of mixed quality (60% good, 25% near-random, 15%
biased towards one answer), truth known. Both implementations start from the soft majority
vote and stop when the objective per answer gains less than ``tol`` (1e-5), at most 100
iterations. After a small warm-up run of each, crowd-kit is timed from its input DataFrame
and crowdlearn from the same DataFrame, building :class:`Annotations` included. The largest
size (100M answers by default) is streamed to .npy files and fitted in a fresh process whose
wall time and peak memory are measured.

    python -m benchmarks.aggregation                       # 1M and 10M vs crowd-kit, then 100M
    python -m benchmarks.aggregation --compare 100000 --big 0   # quick
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.real_crowds import crowdkit_available
from benchmarks.synthetic import binary_crowd, write_binary_crowd_npy
from crowdlearn import Annotations, DawidSkene

R, N_WORKERS, TOL, MAX_ITER = 10, 2000, 1e-5, 100


def compare(n_tasks: int, with_crowdkit: bool = True) -> dict:
    """Fit both on one crowd of ``n_tasks`` × 10 answers; accuracy, seconds, iterations."""
    task, worker, label, y = binary_crowd(n_tasks, R, N_WORKERS, seed=0)
    df = pd.DataFrame({"task": task, "worker": worker, "label": label})
    truth = pd.Series(y, index=np.arange(n_tasks))
    row = {"answers": len(df), "tasks": n_tasks}
    start = time.perf_counter()
    ours = DawidSkene(max_iter=MAX_ITER, tol=TOL).fit(Annotations.from_frame(df))
    row["ours_s"] = time.perf_counter() - start
    row["ours_iter"] = ours.n_iter_
    row["ours_acc"] = float((ours.predict().reindex(truth.index) == truth).mean())
    if with_crowdkit:
        from crowdkit.aggregation import DawidSkene as CrowdKitDawidSkene

        start = time.perf_counter()
        theirs = CrowdKitDawidSkene(n_iter=MAX_ITER, tol=TOL).fit(df)
        row["crowdkit_s"] = time.perf_counter() - start
        row["crowdkit_iter"] = len(theirs.loss_history_)
        row["crowdkit_acc"] = float((theirs.labels_.reindex(truth.index) == truth).mean())
        row["speedup"] = row["crowdkit_s"] / row["ours_s"]
        row["acc_diff"] = row["ours_acc"] - row["crowdkit_acc"]
    return row


def fit_npy(folder: Path) -> dict:
    """Load a streamed crowd, validate it into Annotations and fit; run in a fresh process."""
    start = time.perf_counter()
    arrays = {n: np.load(folder / f"{n}.npy") for n in ("task", "worker", "label", "truth")}
    loaded = time.perf_counter()
    ann = Annotations(arrays["task"], arrays["worker"], arrays["label"])
    built = time.perf_counter()
    ds = DawidSkene(max_iter=MAX_ITER, tol=TOL).fit(ann)
    done = time.perf_counter()
    return {"answers": len(ann), "tasks": ann.n_tasks, "load_s": loaded - start,
            "validate_s": built - loaded, "fit_s": done - built, "total_s": done - start,
            "iter": ds.n_iter_, "acc": float((ds.labels_ == arrays["truth"]).mean())}


def big(n_tasks: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="crowdlearn-bench-") as tmp:
        start = time.perf_counter()
        write_binary_crowd_npy(Path(tmp), n_tasks, R, N_WORKERS, seed=0)
        generated = time.perf_counter() - start
        proc = subprocess.run([sys.executable, "-m", "benchmarks.aggregation", "--fit-npy", tmp],
                              capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["generate_s"] = generated
    row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", default="100000,1000000",
                        help="task counts to run against crowd-kit (10 answers each)")
    parser.add_argument("--big", type=int, default=10_000_000,
                        help="task count of the scale run (0 to skip)")
    parser.add_argument("--no-crowdkit", action="store_true")
    parser.add_argument("--fit-npy", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fit_npy:
        print(json.dumps(fit_npy(args.fit_npy)))
        return
    sizes = [int(s) for s in args.compare.split(",") if s]
    with_crowdkit = not args.no_crowdkit and crowdkit_available()
    if not args.no_crowdkit and not with_crowdkit:
        print("crowd-kit is not installed: its columns are left out "
              "(pip install 'crowdlearn[bench]')")
    if sizes:
        compare(2000, with_crowdkit)  # warm-up: imports, first-call allocations
        rows = pd.DataFrame([compare(n, with_crowdkit) for n in sizes])
        print("Dawid–Skene, crowdlearn" + (" vs crowd-kit (same data, same tol):"
                                            if with_crowdkit else ":"))
        print(rows.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.big:
        row = big(args.big)
        print(f"\nScale: {row['answers']:,} answers ({row['tasks']:,} tasks)")
        print(pd.DataFrame([row]).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
