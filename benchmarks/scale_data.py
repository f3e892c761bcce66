"""Generate a large binary crowd as a folder of Parquet files, with its ground truth.

    python -m benchmarks.scale_data /tmp/crowd1b --tasks 100000000      # 1,000,000,000 answers
    python -m benchmarks.scale_data /tmp/crowd10m --tasks 1000000        # 10M answers

Writes ``DIR/answers/part-NNNNN.parquet`` (columns task int64, worker int32, label int8; every
task's 10 answers in consecutive rows of one file, tasks in increasing order) and
``DIR/truth/part-NNNNN.parquet`` (task, label). The workers (2,000 by default) are those of
``benchmarks/synthetic.py``: 60% good (class-dependent accuracy 0.7–0.95), 25% near random,
15% biased towards one answer; each task gets ``r`` distinct workers with balanced loads.
Files are generated one block of tasks at a time (memory bounded by ``--tasks-per-file``), each
block from its own seed, so any prefix of files is itself a valid crowd.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.synthetic import answer, mixed_binary_workers, strided_worker_sets


def write_crowd(folder: Path, n_tasks: int, *, r: int = 10, n_workers: int = 2000,
                tasks_per_file: int = 1_000_000, seed: int = 0) -> int:
    """Write the crowd under ``folder``; returns the number of answers written."""
    (folder / "answers").mkdir(parents=True, exist_ok=True)
    (folder / "truth").mkdir(parents=True, exist_ok=True)
    confusion = mixed_binary_workers(n_workers, np.random.default_rng(seed))
    written = 0
    for part, first in enumerate(range(0, n_tasks, tasks_per_file)):
        n = min(tasks_per_file, n_tasks - first)
        rng = np.random.default_rng([seed, part])
        y = (rng.random(n) < 0.4).astype(np.int8)
        task, worker, label = answer(y, strided_worker_sets(n, n_workers, r, rng), confusion,
                                     rng)
        answers = pa.table({"task": task.astype(np.int64) + first,
                            "worker": worker.astype(np.int32),
                            "label": label.astype(np.int8)})
        pq.write_table(answers, folder / "answers" / f"part-{part:05d}.parquet",
                       row_group_size=1 << 21)
        truth = pa.table({"task": np.arange(first, first + n, dtype=np.int64), "label": y})
        pq.write_table(truth, folder / "truth" / f"part-{part:05d}.parquet")
        written += len(task)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--tasks", type=int, default=100_000_000)
    parser.add_argument("--answers-per-task", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2000)
    parser.add_argument("--tasks-per-file", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    n = write_crowd(args.folder, args.tasks, r=args.answers_per_task, n_workers=args.workers,
                    tasks_per_file=args.tasks_per_file, seed=args.seed)
    print(f"wrote {n:,} answers to {args.folder / 'answers'} in "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
