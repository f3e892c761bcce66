"""Human-readable views of a fitted aggregator: the per-worker table and the worker plot."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator, identifiability_problems
from crowdlearn.aggregation.one_coin import OneCoinDawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError


def task_table(model: Aggregator, proba: bool = False) -> pd.DataFrame:
    """One row per task: task id, most probable label and its posterior probability; with
    ``proba``, one column ``proba_<class>`` per class."""
    table = pd.DataFrame({
        "task": model.tasks_,
        "label": model.predict().to_numpy(),
        "confidence": model.posteriors_[np.arange(len(model.labels_)), model.labels_],
    })
    if proba:
        for j, cls in enumerate(model.classes_):
            table[f"proba_{cls}"] = model.posteriors_[:, j]
    return table


def score(model: Aggregator, truth: pd.Series) -> dict:
    """Accuracy of a fitted model's labels against ``truth`` (task id → label), overall and
    per true class, on the tasks both name. Ids and labels are compared as text (a file's
    ``7`` and a frame's ``7`` are one task). Truth tasks without answers are counted, not
    scored."""
    # ids and labels as object text (pandas' arrow-backed strings are far slower to match)
    predicted = pd.Series(model.predict().to_numpy(),
                          index=pd.Index([str(t) for t in model.tasks_], dtype=object))
    given = pd.Series([str(v) for v in truth.to_numpy()],
                      index=pd.Index([str(t) for t in truth.index], dtype=object), dtype=object)
    common = given.index.intersection(predicted.index)
    if not len(common):
        raise InputError("no task of the truth file has an answer: are the task ids the same?")
    given = given.loc[common]
    right = predicted.loc[common].map(str).to_numpy() == given.to_numpy()
    strangers = sorted(set(given) - {str(c) for c in model.classes_})
    if strangers:
        warnings.warn(f"the truth holds label{'s' if len(strangers) > 1 else ''} "
                      f"{', '.join(map(repr, strangers[:5]))} that no answer gave: those tasks "
                      "count as wrong", CrowdlearnWarning, stacklevel=2)
    per_class = {}
    for cls in dict.fromkeys([*map(str, model.classes_), *given.unique()]):
        mask = given.to_numpy() == cls
        if mask.any():
            per_class[cls] = {"tasks": int(mask.sum()), "accuracy": float(right[mask].mean())}
    return {"accuracy": float(right.mean()), "tasks_scored": int(len(common)),
            "truth_tasks_without_answers": int(len(truth) - len(common)),
            "per_class": per_class}


def aggregation_summary(ann: Annotations, model: Aggregator, tasks: pd.DataFrame,
                        warnings: list[str], outputs: list[str], seconds: float) -> dict:
    """What ``crowdlearn aggregate`` reports: the data, the fit, the labels' shares and
    confidence, the warnings raised and the files written (JSON-ready)."""
    fit = {"method": type(model).__name__, "params": model.get_params()}
    if hasattr(model, "n_iter_"):
        fit["iterations"] = int(model.n_iter_)
    if hasattr(model, "converged_"):  # methods of a fixed number of rounds have none
        fit["converged"] = bool(model.converged_)
    return {
        "data": {"answers": len(ann), "tasks": ann.n_tasks, "workers": ann.n_workers,
                 "classes": [str(c) for c in ann.classes]},
        "model": fit,
        "engine": "memory",
        "labels": labels_summary(tasks["label"].value_counts(),
                                 float(tasks["confidence"].sum()),
                                 int((tasks["confidence"] < 0.9).sum())),
        "worker_quality_identifiable": not identifiability_problems(ann),
        "warnings": list(warnings),
        "outputs": list(outputs),
        "seconds": round(seconds, 3),
    }


def labels_summary(counts: Mapping, confidence_sum: float, below: int) -> dict:
    """The ``labels`` part of ``aggregate``'s summary from additive tallies (tasks per label,
    the sum of the labels' probabilities, how many are below 0.9), so that an out-of-core
    run can add them up part by part: each label's share of the tasks, most frequent first,
    the mean confidence and the count below 0.9."""
    counts = pd.Series(counts, dtype="int64").sort_values(ascending=False, kind="stable")
    counts = counts[counts > 0]  # a class no task ends up with has no share, on every engine
    n = int(counts.sum())
    return {"shares": {str(k): float(v) / n for k, v in counts.items()},
            "mean_confidence": confidence_sum / n if n else float("nan"),
            "below_0.9": int(below)}


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
    """Save a figure (format from the extension): each worker's estimated accuracy against
    the number of answers it gave and, for Dawid–Skene, the confusion matrices of the most
    active workers, with class names on the axes and a colour bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    show_mats = _has_confusion_matrices(model)
    n_mats = min(max_matrices, len(model.workers_)) if show_mats else 0
    cols = (n_mats + 1) // 2
    fig = plt.figure(figsize=(5.5 + 2.4 * cols, 5), layout="constrained")
    grid = fig.add_gridspec(2, 2 + cols + (1 if n_mats else 0),
                            width_ratios=[1.4, 1.4] + [1] * cols + ([0.08] if n_mats else []))
    ax = fig.add_subplot(grid[:, :2])
    skill = model.worker_skill()
    counts = np.maximum(model.worker_counts_, 1)
    majority = type(model).__name__ == "MajorityVote"
    ax.scatter(counts, skill, s=14, alpha=0.7,
               label="a worker" + (" (agreement with the majority label)" if majority
                                  else " (estimated accuracy)"))
    if counts.max() > 10 * counts.min():
        ax.set_xscale("log")
    ax.axhline(1 / len(model.classes_), color="grey", lw=0.8, ls="--",
               label=f"random guessing (1/{len(model.classes_)})")
    ax.set(xlabel="answers given by the worker",
           ylabel="agreement with the majority label" if majority else "estimated accuracy",
           ylim=(-0.02, 1.02), title=f"{type(model).__name__}: {len(skill)} workers")
    ax.legend(loc="lower right", fontsize=8)
    busiest = np.argsort(-model.worker_counts_, kind="stable")[:n_mats]
    names = [str(c) for c in model.classes_]
    image = None
    for i, w in enumerate(busiest):
        sub = fig.add_subplot(grid[i % 2, 2 + i // 2])
        image = sub.imshow(model.confusion_[w], vmin=0, vmax=1, cmap="viridis")
        sub.set_title(f"worker {model.workers_[w]}\n{model.worker_counts_[w]} answers",
                      fontsize=8)
        few = len(names) <= 12
        sub.set_xticks(range(len(names)) if few else [])
        sub.set_yticks(range(len(names)) if few else [])
        if few:
            sub.set_xticklabels(names, fontsize=7, rotation=90 if len(names) > 4 else 0)
            sub.set_yticklabels(names, fontsize=7)
        sub.set_xlabel("answer", fontsize=7)
        sub.set_ylabel("true class", fontsize=7)
    if image is not None:
        bar = fig.colorbar(image, cax=fig.add_subplot(grid[:, -1]))
        bar.set_label("P(answer | true class)", fontsize=8)
    # no creation date, fixed SVG ids: the same model gives the same file, byte for byte
    fmt = Path(path).suffix.lower().lstrip(".")
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt)
    with plt.rc_context({"svg.hashsalt": "crowdlearn"}):
        fig.savefig(path, dpi=110, metadata=metadata)
    plt.close(fig)


def _has_confusion_matrices(model: Aggregator) -> bool:
    """A full K×K matrix per worker was fitted (Dawid–Skene, IBCC, EBCC; not one-coin,
    whose matrix is one number per worker)."""
    return (np.ndim(getattr(model, "confusion_", None)) == 3
            and not isinstance(model, OneCoinDawidSkene))
