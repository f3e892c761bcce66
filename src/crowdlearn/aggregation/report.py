"""Human-readable views of a fitted aggregator: the per-worker table and the worker plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator
from crowdlearn.aggregation.dawid_skene import DawidSkene
from crowdlearn.aggregation.one_coin import OneCoinDawidSkene


def task_table(model: Aggregator) -> pd.DataFrame:
    """One row per task: task id, most probable label and its posterior probability."""
    return pd.DataFrame({
        "task": model.tasks_,
        "label": model.predict().to_numpy(),
        "confidence": model.posteriors_[np.arange(len(model.labels_)), model.labels_],
    })


def worker_table(model: Aggregator) -> pd.DataFrame:
    """One row per worker: answers, estimated accuracy and, where a confusion matrix was
    fitted, the per-class recall ``P(answer k | true k)``."""
    table = model.worker_quality()
    if _has_confusion_matrices(model):
        diag = np.einsum("wkk->wk", model.confusion_)
        for j, cls in enumerate(model.classes_):
            table[f"recall_{cls}"] = diag[:, j]
    return table.reset_index()


def plot_workers(model: Aggregator, path: Path | str, max_matrices: int = 8) -> None:
    """Save a figure: skill against number of answers for every worker, and for Dawid–Skene
    the confusion matrices of the most active workers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = getattr(model, "confusion_", None)
    show_mats = _has_confusion_matrices(model)
    n_mats = min(max_matrices, len(model.workers_)) if show_mats else 0
    fig = plt.figure(figsize=(5 + 2.2 * ((n_mats + 1) // 2), 4.5), layout="constrained")
    grid = fig.add_gridspec(2, 2 + (n_mats + 1) // 2)
    ax = fig.add_subplot(grid[:, :2])
    skill = model.worker_skill()
    counts = np.maximum(model.worker_counts_, 1)
    ax.scatter(counts, skill, s=14, alpha=0.7)
    if counts.max() > 10 * counts.min():
        ax.set_xscale("log")
    ax.axhline(1 / len(model.classes_), color="grey", lw=0.8, ls="--", label="random guess")
    ax.set(xlabel="answers given", ylabel="estimated accuracy", ylim=(-0.02, 1.02),
           title=f"{type(model).__name__}: {len(skill)} workers")
    ax.legend(loc="lower right")
    busiest = np.argsort(-model.worker_counts_, kind="stable")[:n_mats]
    for i, w in enumerate(busiest):
        sub = fig.add_subplot(grid[i % 2, 2 + i // 2])
        sub.imshow(confusion[w], vmin=0, vmax=1, cmap="viridis")
        sub.set_title(f"{model.workers_[w]} ({model.worker_counts_[w]})", fontsize=8)
        sub.set_xticks([])
        sub.set_yticks([])
    if n_mats:
        fig.text(0.99, 0.01, "rows: true class, columns: answer", ha="right", fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _has_confusion_matrices(model: Aggregator) -> bool:
    """A full K×K matrix per worker was fitted (Dawid–Skene, not its one-coin relative)."""
    return isinstance(model, DawidSkene) and not isinstance(model, OneCoinDawidSkene)
