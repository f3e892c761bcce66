"""Figures of the experiments (matplotlib, Agg backend, written atomically)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crowdlearn.outputs import atomic_write


def plot_budget(results: pd.DataFrame, path: Path | str, title: str = "") -> None:
    """Test error against redundancy, one line per method: mean over seeds with ±1 sd."""
    plot_lines(results.assign(error=1 - results["accuracy"]), path, x="redundancy",
               xlabel="labels per item (redundancy r) at a fixed budget", ylabel="test error",
               title=title, y="error")


def plot_grouped_bars(results: pd.DataFrame, path: Path | str, group: str,
                      title: str = "") -> None:
    """Test accuracy as grouped bars: one group per value of ``group`` (e.g. a crowd
    setting), one bar per method, mean over seeds with ±1 sd error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = list(dict.fromkeys(results[group]))
    methods = list(dict.fromkeys(results["method"]))
    stats = results.groupby([group, "method"])["accuracy"].agg(["mean", "std"])
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(groups) + 2), 4.2),
                           layout="constrained")
    x = np.arange(len(groups))
    for i, method in enumerate(methods):
        cells = [stats.loc[(g, method)] if (g, method) in stats.index else None for g in groups]
        means = [np.nan if c is None else c["mean"] for c in cells]
        sds = [0.0 if c is None or np.isnan(c["std"]) else c["std"] for c in cells]
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, means, width, yerr=sds,
               label=method, capsize=2)
    ax.set(xticks=x, xticklabels=groups, ylabel="test accuracy", ylim=(0, 1), title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", ncol=min(len(methods), 4), loc="lower left")
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)


def plot_lines(results: pd.DataFrame, path: Path | str, x: str, xlabel: str, ylabel: str,
               title: str = "", y: str = "accuracy") -> None:
    """Column ``y`` against ``x``, one line per method: mean over seeds with ±1 sd."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    for method, group in results.groupby("method", sort=False):
        stats = group[y].groupby(group[x].astype(float)).agg(["mean", "std"])
        stats["std"] = stats["std"].fillna(0.0)
        ax.plot(stats.index, stats["mean"], marker="o", label=method)
        ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                        alpha=0.15)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title,
           xticks=sorted(results[x].astype(float).unique()))
    ax.grid(alpha=0.3)
    ax.legend()
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)
