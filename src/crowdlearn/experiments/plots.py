"""Figures of the experiments (matplotlib, Agg backend, written atomically)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crowdlearn.outputs import atomic_write


def plot_budget(results: pd.DataFrame, path: Path | str, title: str = "") -> None:
    """Test error against redundancy, one line per method: mean over seeds with ±1 sd."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    for method, group in results.groupby("method", sort=False):
        stats = (1 - group["accuracy"]).groupby(group["redundancy"]).agg(["mean", "std"])
        stats["std"] = stats["std"].fillna(0.0)
        ax.plot(stats.index, stats["mean"], marker="o", label=method)
        ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                        alpha=0.15)
    ax.set(xlabel="labels per item (redundancy r) at a fixed budget", ylabel="test error",
           title=title, xticks=sorted(results["redundancy"].unique()))
    ax.grid(alpha=0.3)
    ax.legend()
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)
