"""Shared fixtures: small synthetic crowds with known truth."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import Annotations
from crowdlearn.datasets import DATA_ENV


def real_data(folder: str) -> Path:
    """``$CROWDLEARN_DATA/<folder>`` (the real datasets, set by the Makefile and CI), or skip
    the test when the variable is unset or the folder absent."""
    root = os.environ.get(DATA_ENV)
    if not root:
        pytest.skip(f"{DATA_ENV} is not set: the real datasets are not available")
    path = Path(root) / folder
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def real_crowd(name: str):
    """A registered real crowd of ``benchmarks.real_crowds`` (annotations, gold), or skip the
    test when its folder is absent."""
    from benchmarks.real_crowds import FOLDERS, load

    return load(name, real_data(FOLDERS[name]).parent)


def make_crowd(n_tasks=600, n_workers=25, k=3, r=5, seed=0, hammers=0.4):
    """Tasks answered by r distinct workers; a fraction of hammers (accuracy ~0.95), the
    rest uniform spammers. Returns (Annotations, truth codes, per-worker hammer flags)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n_tasks)
    is_hammer = rng.random(n_workers) < hammers
    acc = np.where(is_hammer, 0.95, 1.0 / k)
    sets = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :r]
    task = np.repeat(np.arange(n_tasks), r)
    worker = sets.reshape(-1)
    right = rng.random(len(task)) < acc[worker]
    wrong = (y[task] + rng.integers(1, k, len(task))) % k
    label = np.where(right, y[task], wrong)
    return Annotations(task, worker, label), y, is_hammer


@pytest.fixture
def crowd():
    return make_crowd()
