"""EBCC's default work budget counts the dense VB-M step (W × K × K·M confusion cells) as well
as the answers, so crowds with many classes or many workers get a bounded number of
iterations instead of hours of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crowdlearn.aggregation.ebcc as ebcc
from crowdlearn.aggregation.ebcc import (
    DENSE_COST,
    EBCC,
    MIN_ITER,
    WORK_BUDGET,
    iteration_cost,
    iteration_pool,
)

pytestmark = pytest.mark.filterwarnings("ignore::crowdlearn.errors.CrowdlearnWarning")


def test_cost_counts_the_confusion_cells():
    # 900 answers from 30 workers over 200 classes: the M-step's 12M cells dwarf the answers
    assert iteration_cost(900, 30, 200, 10) == 900 * 2_000 + DENSE_COST * 30 * 200 * 2_000
    assert iteration_pool(900, 30, 200, 10) * iteration_cost(900, 30, 200, 10) == WORK_BUDGET


@pytest.mark.parametrize(("answers", "workers", "k", "most"), [
    (900, 30, 200, 100),          # K = 200, 3 answers a task: ~1 s an iteration
    (1_000_000, 1_000_000, 2, 15),  # a million workers with one answer each
    (300, 20, 20, 10_000),        # K = 20, 300 answers
])
def test_dense_crowds_get_a_bounded_pool(answers, workers, k, most):
    # counting answers only, these were 3,333, 300 and 100,000 iterations (hours, tens of
    # minutes and minutes at the measured cost of the VB-M step)
    assert MIN_ITER <= iteration_pool(answers, workers, k, 10) <= most


def test_the_public_crowds_keep_the_authors_settings():
    """Per-iteration cost and the iterations their 40 starts use (recorded with an unlimited
    pool); the pool must cover them so that their fits do not change."""
    used = {"web": (15_567, 177, 5, 5_370), "music": (2_945, 44, 10, 3_302),
            "labelme": (2_547, 59, 8, 3_604), "sentiment": (27_746, 203, 2, 4_599)}
    for answers, workers, k, spent in used.values():
        assert iteration_pool(answers, workers, k, 10) > spent + MIN_ITER


def test_fit_stops_starting_when_the_dense_step_spends_the_pool(monkeypatch):
    """One-answer workers and K = 6: an iteration's M-step costs 120 times its answer·pair
    updates; a pool of 30 iterations allows one start of 30 (counting the answers only, the
    same budget bought 3,630 iterations: eight starts)."""
    rng = np.random.default_rng(7)
    n_tasks, k = 60, 6
    truth = rng.integers(0, k, n_tasks)
    task = np.repeat(np.arange(n_tasks), 4)
    label = np.where(rng.random(task.size) < 0.8, truth[task], rng.integers(0, k, task.size))
    frame = pd.DataFrame({"task": task, "worker": np.arange(task.size), "label": label})
    cost = iteration_cost(task.size, task.size, k, 10)
    assert cost == 121 * task.size * k * 10
    monkeypatch.setattr(ebcc, "WORK_BUDGET", 30.0 * cost)
    model = EBCC(seed=0, tol=0.0, n_threads=1).fit(frame)  # tol 0: every start runs its cap
    assert model.n_seeds_ == 1 and model.n_iter_ == 30
