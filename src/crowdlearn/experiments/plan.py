"""The planner's sweep (:func:`crowdlearn.plan`): MBEM's fixed-budget experiment (Khetan,
Lipton & Anandkumar, ICLR 2018, §5; :mod:`crowdlearn.experiments.budget`) with the crowd drawn
from a pool estimated from the user's pilot instead of a textbook worker model.

Per seed: shuffle the training items, and for each redundancy r give the first ``budget // r``
of them r distinct workers of the pool each (drawn in proportion to their pilot volume), draw
the answers from the workers' estimated confusions, train every method on them and score it
on held-out items. Epochs are scaled with r to keep the number of SGD steps fixed, as in the
budget experiment.

The redundancies of one seed are drawn with common random numbers (``paired``, the default):
the items at r are the first ``budget // r`` of one shuffle, the workers of an item at r are
its top r of one set of random keys (so those at a smaller r are among them), the answer of a
worker to an item is the same at every r (:meth:`~crowdlearn.plan.WorkerPool.annotate`), and
the network starts from the same seed. The differences between redundancies then carry little
of the seed's own luck, and :func:`crowdlearn.plan.recommend` compares them seed by seed.
``paired=False`` draws each redundancy's answers independently, as earlier versions did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.experiments.budget import RedundancySweep
from crowdlearn.experiments.options import (
    check_crowd_learners,
    check_crowd_options,
    check_methods,
    check_settings,
)
from crowdlearn.experiments.sweep import dataset_splits

if TYPE_CHECKING:
    from crowdlearn.plan import WorkerPool

TEST_FRACTION = 0.2  # of the user's items, held out to score the methods


@dataclass
class PlanItems:
    """The user's items with stand-in labels (codes 0..K-1); a fixed fifth is held out."""

    X: np.ndarray
    y: np.ndarray
    n_classes: int
    source: str = "features"

    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``X_train, y_train, X_test, y_test``: the test items are a fixed random fifth."""
        order = np.random.default_rng(0).permutation(len(self.y))
        n_test = max(1, round(TEST_FRACTION * len(self.y)))
        test, train = order[:n_test], np.sort(order[n_test:])
        return self.X[train], self.y[train], self.X[test], self.y[test]

    def digest(self) -> str:
        import hashlib

        h = hashlib.sha1(np.ascontiguousarray(self.y).tobytes())
        h.update(str(self.X.shape).encode())
        h.update(np.ascontiguousarray(self.X).tobytes())  # other features of the same shape
        return h.hexdigest()[:12]


@dataclass
class PlanSettings:
    """Settings of one plan. ``pool`` and ``items`` are recorded by their fingerprints."""

    budget: int = 1200
    redundancy: tuple[int, ...] = (1, 2, 3, 5)
    methods: tuple[str, ...] = ("mv", "ds", "mbem")
    seeds: int = 3
    dataset: str = "digits"
    model: str | None = None
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    device: str = "auto"
    # the library's own methods, as ``crowdlearn fit --method ds`` would then train them
    # (the budget experiment reproduces the papers with their near-flat DS instead)
    extra: dict = field(default_factory=dict)
    pool: WorkerPool | None = None
    items: PlanItems | None = None
    paired: bool = True  # common random numbers across redundancies (see the module)
    rule: str = "paired"  # how the plot marks the recommendation; chooses no cells

    def check_basic(self) -> None:
        """What needs neither the pool nor the data."""
        check_settings(self)
        r = self.redundancy
        if not r or any(not isinstance(v, (int, np.integer)) or v < 1 for v in r):
            raise InputError(f"redundancies must be positive integers, got {r}")
        if len(set(r)) != len(r):
            raise InputError(f"redundancies must be distinct, got {r}")
        if not isinstance(self.budget, (int, np.integer)) or self.budget < max(r):
            raise InputError(f"budget {self.budget} must be an integer of at least the "
                             f"largest redundancy {max(r)}")
        from crowdlearn.methods import CROWD_METHODS

        check_methods(self.methods, CROWD_METHODS)
        check_crowd_options(self.extra)
        check_crowd_learners(self.methods, self)
        from crowdlearn.plan import RULES

        if self.rule not in RULES:
            raise InputError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")

    def check(self) -> None:
        self.check_basic()
        if self.pool is None:
            raise InputError("a plan needs the worker pool estimated from the pilot")
        n_train, k = self.train_size()
        if self.pool.n_classes > k:
            raise InputError(f"the pilot has {self.pool.n_classes} classes but {self.dataset} "
                             f"only {k}; give the items' features")
        n = self.budget // min(self.redundancy)
        if n > n_train:
            what = self.items.source if self.items is not None else self.dataset
            raise InputError(f"budget {self.budget} at redundancy {min(self.redundancy)} buys "
                             f"{n} items, but {what} has only {n_train} training items")

    def train_size(self) -> tuple[int, int]:
        """Training items available, and the classes of the items."""
        if self.items is not None:
            return len(self.items.y) - max(1, round(TEST_FRACTION * len(self.items.y))), \
                self.items.n_classes
        train = dataset_splits(self.dataset)[0]
        k = self.pool.n_classes
        return int((train.y < k).sum()), train.n_classes

    @property
    def model_name(self) -> str:
        return self.model or "mlp"


class PlanExperiment(RedundancySweep):
    """Cells (seed, redundancy, method) on crowds drawn from the estimated pool."""

    name = "plan"

    added_settings: ClassVar[dict] = {"draws": "independent"}  # tables of earlier versions

    def recorded(self) -> dict:
        """Settings of every row, the draws (paired or independent) included."""
        s = self.settings
        record = {"budget": s.budget, "dataset": s.dataset if s.items is None else "features",
                  "features": "none" if s.items is None else s.items.digest(),
                  "pool": s.pool.digest(), "model": s.model_name, "epochs": s.epochs,
                  "batch_size": s.batch_size, "lr": s.lr, "device": s.device,
                  "extra": json.dumps(s.extra, sort_keys=True)}
        record["draws"] = "paired" if s.paired else "independent"
        return record

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Training and test items with their (true or stand-in) labels."""
        s = self.settings
        if s.items is not None:
            return s.items.split()
        train, test = dataset_splits(s.dataset)
        k = s.pool.n_classes
        if k == train.n_classes:  # no copy of a large training set
            return train.X, train.y, test.X, test.y
        keep, keep_test = train.y < k, test.y < k
        return train.X[keep], train.y[keep], test.X[keep_test], test.y[keep_test]

    def run(self, cell) -> list[dict]:
        s, seed, r = self.settings, cell["seed"], cell["redundancy"]
        X_all, y_all, X_test, y_test = self.data()
        if s.paired:
            items, ann = self.crowd_labels(y_all, seed, r)
            X = X_all[items]
        else:  # independent answers at every r (earlier versions' draws)
            order = np.random.default_rng(seed).permutation(len(y_all))
            n = s.budget // r
            X, y = X_all[order[:n]], y_all[order[:n]]
            assignment = s.pool.assign(n, r, n, seed)
            ann = s.pool.crowd().annotate(y, assignment, seed, tasks=list(range(n)),
                                          classes=list(range(s.pool.n_classes)))
        return self.train_and_score(cell, X, ann, len(y_all), X_test, y_test)

    def crowd_labels(self, y_all: np.ndarray, seed: int, r: int):
        """Seed ``seed``'s crowd at redundancy r, with common random numbers: the indices
        into ``y_all`` of the ``budget // r`` items labelled (the first of one shuffle) and
        their answers (task i is ``items[i]``)."""
        s = self.settings
        shuffle, keys, answers = (int(c.generate_state(1)[0])
                                  for c in np.random.SeedSequence([seed, 17]).spawn(3))
        n = s.budget // r
        items = np.random.default_rng(shuffle).permutation(len(y_all))[:n]
        assignment = s.pool.assign(n, r, n, keys)
        return items, s.pool.annotate(y_all[items], assignment, answers)

    def plot(self, results: pd.DataFrame, path: Path) -> None:
        from crowdlearn.plan import recommend, summarise

        summary = summarise(results, self.settings.budget)
        plot_plan(summary, recommend(summary, self.settings.rule, results), path,
                  self.settings.budget)


def plot_plan(summary: pd.DataFrame, best: dict, path: Path, budget: int) -> None:
    """Accuracy against redundancy, one line per method (mean ± sd over seeds), with the
    recommendation and its interval marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crowdlearn.outputs import atomic_write
    from crowdlearn.plan import INTERVAL

    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    for method, group in summary.groupby("method", sort=False):
        group = group.sort_values("redundancy")
        ax.errorbar(group["redundancy"], group["mean"], yerr=group["std"].fillna(0),
                    marker="o", capsize=3, label=method)
    low, high = best["low"], best["high"]
    if np.isfinite(low):
        ax.errorbar([best["redundancy"]], [best["accuracy"]],
                    yerr=[[best["accuracy"] - low], [high - best["accuracy"]]],
                    fmt="*", color="black", markersize=14, capsize=6, zorder=5,
                    label=f"recommended ({INTERVAL:.0%} interval)")
    else:
        ax.plot([best["redundancy"]], [best["accuracy"]], "*", color="black", markersize=14,
                label="recommended")
    ax.set(xlabel=f"labels per item (redundancy r) at a budget of {budget}",
           ylabel="expected test accuracy", xticks=sorted(summary["redundancy"].unique()),
           title=f"plan: {best['redundancy']} per item with {best['method']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)
