"""Small crowds written to Parquet for the out-of-core engines' tests, and a Dask client."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def crowd_frame(n_tasks: int, r: int = 5, n_workers: int = 60, k: int = 2,
                seed: int = 0) -> pd.DataFrame:
    """``n_tasks`` × ``r`` answers of workers of mixed accuracy, grouped by task in
    increasing order; ``truth`` kept as a column."""
    rng = np.random.default_rng(seed)
    acc = rng.uniform(0.45, 0.95, n_workers)
    y = rng.integers(0, k, n_tasks)
    start = rng.integers(0, n_workers, n_tasks)
    workers = (start[:, None] + np.arange(r) * (n_workers // r)) % n_workers
    right = rng.random((n_tasks, r)) < acc[workers]
    wrong = (y[:, None] + rng.integers(1, k, (n_tasks, r))) % k
    labels = np.where(right, y[:, None], wrong)
    return pd.DataFrame({"task": np.repeat(np.arange(n_tasks), r),
                         "worker": workers.ravel(), "label": labels.ravel(),
                         "truth": np.repeat(y, r)})


def write_parts(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    """``frame`` cut into ``parts`` files at task boundaries."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = frame["task"].to_numpy()
    starts = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1]])
    bounds = np.append(starts[np.linspace(0, len(starts), parts, endpoint=False).astype(int)],
                       len(frame))
    for i in range(parts):
        frame.iloc[bounds[i]:bounds[i + 1]].to_parquet(folder / f"part-{i:03d}.parquet",
                                                       index=False)
    return folder


@pytest.fixture(scope="session")
def small_crowd(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    frame = crowd_frame(4000, k=3, seed=1)[["task", "worker", "label"]]
    return frame, write_parts(frame, tmp_path_factory.mktemp("small") / "answers", 3)


@pytest.fixture(scope="module")
def client():
    """A client of a local cluster of two one-thread processes (skipped without Dask)."""
    distributed = pytest.importorskip("dask.distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as c:
            yield c
