"""Synthetic crowds with known truth, generated vectorised (used by the benchmarks and to make
the bundled example). Tasks come grouped, each answered by ``r`` distinct workers."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def mixed_binary_workers(n_workers: int, rng: np.random.Generator) -> np.ndarray:
    """W×2×2 confusion matrices of mixed quality: 60% good (accuracy 0.7–0.95, class
    dependent), 25% near-random (0.45–0.6), 15% biased towards one answer."""
    kind = rng.choice(3, size=n_workers, p=[0.6, 0.25, 0.15])
    lo = np.where(kind == 0, 0.7, 0.45)
    hi = np.where(kind == 0, 0.95, 0.6)
    acc = rng.uniform(lo[:, None], hi[:, None], size=(n_workers, 2))
    biased = kind == 2
    side = rng.integers(0, 2, size=n_workers)
    acc[biased, side[biased]] = 0.95
    acc[biased, 1 - side[biased]] = 0.35
    conf = np.empty((n_workers, 2, 2))
    conf[:, 0, 0], conf[:, 0, 1] = acc[:, 0], 1 - acc[:, 0]
    conf[:, 1, 1], conf[:, 1, 0] = acc[:, 1], 1 - acc[:, 1]
    return conf


def answer(y: np.ndarray, worker_sets: np.ndarray, confusion: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Answers of ``worker_sets[t]`` (T×r) to tasks with true labels ``y``: coded arrays
    (task, worker, label) grouped by task, drawn from each worker's confusion row."""
    n, r = worker_sets.shape
    task = np.repeat(np.arange(n, dtype=np.int32), r)
    worker = worker_sets.reshape(-1).astype(np.int32)
    cum = np.cumsum(confusion, axis=2)  # W×K×K
    u = rng.random(n * r, dtype=np.float32)
    rows = cum[worker, y[task]]  # (n·r)×K
    label = (u[:, None] > rows[:, :-1]).sum(axis=1).astype(np.int16)
    return task, worker, label


def strided_worker_sets(n_tasks: int, n_workers: int, r: int,
                        rng: np.random.Generator) -> np.ndarray:
    """T×r distinct workers per task with balanced loads, sorted within each task, in
    O(T·r) memory: a random start plus r evenly spaced offsets (mod W)."""
    start = rng.integers(0, n_workers, size=n_tasks, dtype=np.int64)
    sets = (start[:, None] + np.arange(r)[None, :] * (n_workers // r)) % n_workers
    sets.sort(axis=1)
    return sets.astype(np.int32)


def binary_crowd(n_tasks: int, r: int = 10, n_workers: int = 2000, seed: int = 0):
    """A binary crowd of ``n_tasks`` × ``r`` answers: (task, worker, label, truth)."""
    rng = np.random.default_rng(seed)
    confusion = mixed_binary_workers(n_workers, rng)
    y = (rng.random(n_tasks) < 0.4).astype(np.int16)
    task, worker, label = answer(y, strided_worker_sets(n_tasks, n_workers, r, rng),
                                 confusion, rng)
    return task, worker, label, y


def write_binary_crowd_npy(folder: Path, n_tasks: int, r: int = 10, n_workers: int = 2000,
                           seed: int = 0, chunk: int = 1_000_000) -> None:
    """The same crowd model as :func:`binary_crowd`, streamed in chunks of tasks into
    ``task.npy``, ``worker.npy``, ``label.npy`` and ``truth.npy`` (for crowds too large to
    generate in memory at once)."""
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    confusion = mixed_binary_workers(n_workers, rng)
    n = n_tasks * r
    out = {name: open_memmap(folder / f"{name}.npy", mode="w+", dtype=dtype, shape=(size,))
           for name, dtype, size in (("task", np.int32, n), ("worker", np.int32, n),
                                     ("label", np.int16, n), ("truth", np.int16, n_tasks))}
    for a in range(0, n_tasks, chunk):
        b = min(a + chunk, n_tasks)
        y = (rng.random(b - a) < 0.4).astype(np.int16)
        task, worker, label = answer(y, strided_worker_sets(b - a, n_workers, r, rng),
                                     confusion, rng)
        out["task"][a * r:b * r] = task + a
        out["worker"][a * r:b * r] = worker
        out["label"][a * r:b * r] = label
        out["truth"][a:b] = y
    for arr in out.values():
        arr.flush()


def write_example(folder: Path, seed: int = 7) -> None:
    """The bundled example: 600 product reviews × 5 sentiment answers from 20 workers —
    8 careful, 6 hasty, 4 random clickers and 2 who answer 'neutral' whenever unsure."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    classes = np.array(["negative", "neutral", "positive"])
    n, k, r = 600, 3, 5
    acc = np.concatenate([rng.uniform(0.8, 0.95, 8), rng.uniform(0.55, 0.7, 6),
                          np.full(4, 1 / 3), np.full(2, 0.45)])
    eye = np.eye(k)
    confusion = (1 - acc)[:, None, None] / (k - 1) * (1 - eye) + acc[:, None, None] * eye
    confusion[18:, :, :] = 0.1 / 2
    confusion[18:, :, 1] = 0.9
    confusion[18:, 1, :] = [0.05, 0.9, 0.05]
    y = rng.choice(k, size=n, p=[0.3, 0.3, 0.4])
    sets = np.argsort(rng.random((n, len(acc))), axis=1)[:, :r]
    task, worker, label = answer(y, np.sort(sets, axis=1), confusion, rng)
    folder.mkdir(parents=True, exist_ok=True)
    tasks = np.array([f"review{i:04d}" for i in range(n)])
    workers = np.array([f"w{j:02d}" for j in range(len(acc))])
    pd.DataFrame({"task": tasks[task], "worker": workers[worker], "label": classes[label]}) \
        .to_csv(folder / "example_answers.csv", index=False)
    pd.DataFrame({"task": tasks, "label": classes[y]}).to_csv(folder / "example_truth.csv",
                                                               index=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--example", type=Path, help="write the bundled example into this folder")
    args = parser.parse_args()
    if args.example:
        write_example(args.example)
    else:
        parser.print_help()
