"""The fixed-budget experiment of MBEM (Khetan, Lipton & Anandkumar, ICLR 2018;
docs/methods.md §4.3): for a total of ``budget`` labels, is it better to label many items once
or few items several times, and which method learns best from those labels?

Per seed: shuffle the training pool, draw a crowd of workers, and for each redundancy r
label the first ``budget // r`` items with r distinct workers each (balanced loads); train every
method on them and measure accuracy on the clean test split. The number of SGD steps is kept
the same for every r (``epochs × budget-items-at-r=1 / items-at-r``), as the official code does
by keeping unlabelled items in its iterator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.experiments.options import (
    PAPERS_DS,
    check_crowd_learners,
    check_crowd_options,
    check_methods,
    check_settings,
)
from crowdlearn.experiments.plots import plot_budget
from crowdlearn.experiments.sweep import Experiment, dataset_splits, run_sweep
from crowdlearn.simulate import assign, classwise_hammer_spammer, hammer_spammer

WORKER_MODELS = {"hammer-spammer": hammer_spammer, "classwise": classwise_hammer_spammer}
DEFAULT_MODELS = {"digits": "mlp", "mnist": "lenet", "fashion-mnist": "lenet",
                  "cifar10": "resnet20", "cifar100": "resnet20"}


@dataclass
class BudgetSettings:
    """Settings of one sweep (all recorded in every results row)."""

    dataset: str = "digits"
    workers: int = 20
    gamma: float = 0.35
    worker_model: str = "hammer-spammer"
    budget: int = 1200
    redundancy: tuple[int, ...] = (1, 3, 5)
    methods: tuple[str, ...] = ("mv", "soft-mv", "ds", "mbem", "mbem-onecoin")
    seeds: int = 5
    model: str | None = None
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    device: str = "auto"
    # method → its own learner options; Dawid-Skene as the papers ran it
    extra: dict = field(default_factory=lambda: {"ds": dict(PAPERS_DS)})

    def check(self) -> None:
        check_settings(self)
        if self.worker_model not in WORKER_MODELS:
            raise InputError(f"unknown worker model {self.worker_model!r}; choose "
                             f"{', '.join(WORKER_MODELS)}")
        if max(self.redundancy) > self.workers:
            raise InputError(f"redundancy {max(self.redundancy)} needs at least as many "
                             f"workers, got {self.workers}")
        if self.budget < max(self.redundancy):
            raise InputError(f"budget {self.budget} is smaller than redundancy "
                             f"{max(self.redundancy)}")
        from crowdlearn.methods import CROWD_METHODS

        check_methods(self.methods, CROWD_METHODS)
        check_crowd_options(self.extra)
        check_crowd_learners(self.methods, self)
        n_train = len(dataset_splits(self.dataset)[0])
        if self.budget // min(self.redundancy) > n_train:
            raise InputError(f"budget {self.budget} at r={min(self.redundancy)} needs more "
                             f"than the {n_train} training items of {self.dataset}")

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODELS.get(self.dataset, "mlp")


class RedundancySweep(Experiment):
    """Cells (seed, redundancy, method) of a fixed labelling budget: one method trained on
    one seed's crowd labels at one redundancy (the budget experiment and the planner's)."""

    keys = ("method", "redundancy", "seed")
    cell_fields = ("seeds", "redundancy", "methods")

    def cells(self) -> list[dict]:
        s = self.settings
        return [{"method": m, "redundancy": r, "seed": seed}
                for seed in range(s.seeds) for r in s.redundancy for m in s.methods]

    def describe(self, cell, rows) -> str:
        return (f"seed {cell['seed']} r={cell['redundancy']} {cell['method']}: "
                f"accuracy {rows[0]['accuracy']:.3f}")

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        s = self.settings
        return frame[frame["method"].isin(s.methods) & frame["redundancy"].isin(s.redundancy)
                     & (frame["seed"] < s.seeds)]

    def train_and_score(self, cell, X, ann, n_available: int, X_test, y_test) -> list[dict]:
        """Train the cell's method on the crowd labels ``ann`` of the items ``X`` and score
        it on the test items; epochs scale with the budget's share of the ``n_available``
        items so that every redundancy takes the same number of SGD steps."""
        from crowdlearn.learners import make_crowd_learner

        s, n = self.settings, len(X)
        epochs = max(1, round(s.epochs * min(s.budget, n_available) / n))
        learner = make_crowd_learner(cell["method"], model=s.model_name, epochs=epochs,
                                     batch_size=s.batch_size, lr=s.lr, device=s.device,
                                     seed=cell["seed"], **s.extra.get(cell["method"], {}))
        learner.fit(X, ann)
        acc = float((learner.predict_proba(X_test).argmax(1) == y_test).mean())
        return [{**cell, "accuracy": acc, "n_items": n, "train_epochs": epochs}]


class BudgetExperiment(RedundancySweep):
    """The fixed-budget sweep on a dataset with a simulated crowd (MBEM's experiment)."""

    name = "budget"

    def run(self, cell) -> list[dict]:
        s, seed, r = self.settings, cell["seed"], cell["redundancy"]
        train, test = dataset_splits(s.dataset)
        order = np.random.default_rng(seed).permutation(len(train))
        X, y = train.X[order], train.y[order]
        crowd = WORKER_MODELS[s.worker_model](s.workers, train.n_classes, s.gamma, seed)
        n = s.budget // r
        ann = crowd.annotate(y, assign(len(y), s.workers, r, s.budget, seed), seed,
                             tasks=list(range(len(y))), classes=list(train.classes))
        return self.train_and_score(cell, X[:n], ann, len(train), test.X, test.y)

    def plot(self, results: pd.DataFrame, path: Path) -> None:
        s = self.settings
        plot_budget(results, path, title=f"{s.dataset}: budget {s.budget}, {s.workers} "
                                         f"workers, γ={s.gamma}")


def run_budget(settings: BudgetSettings, out_dir: Path | str,
               log: Callable[[str], None] = print, *, restart: bool = False, jobs: int = 1,
               threads: int | None = None, progress=None) -> pd.DataFrame:
    """Run (or resume) the sweep into ``out_dir/results.csv`` and ``out_dir/budget.png``.

    Cells (method, redundancy, seed) already in ``results.csv`` are not rerun; a table made
    with other settings is an :class:`InputError` unless ``restart`` (start over). ``jobs``
    and ``threads``: see :func:`~crowdlearn.experiments.sweep.run_sweep`. Returns the rows of
    this sweep's cells (the file may hold more: other methods, r or seeds run before with the
    same settings), which are also what ``budget.png`` shows.
    """
    return run_sweep(BudgetExperiment(settings), out_dir, log, restart=restart, jobs=jobs,
                     threads=threads, progress=progress)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of test accuracy, methods × redundancy."""
    grouped = results.groupby(["method", "redundancy"], sort=False)["accuracy"]
    return grouped.agg(["mean", "std", "count"]).reset_index()


NAMES = {"mbem": "MBEM", "mbem-onecoin": "MBEM with one-coin workers"}


def finding(results: pd.DataFrame, budget: int) -> str:
    """What the sweep shows (computed, never assumed): one sentence per MBEM variant run
    (or about the first method when no MBEM ran)."""
    methods = list(dict.fromkeys(results["method"]))
    leads = [m for m in NAMES if m in methods] or methods[:1]
    return " ".join(_finding_for(results, budget, lead) for lead in leads)


def _finding_for(results: pd.DataFrame, budget: int, lead: str) -> str:
    mean = results.groupby(["method", "redundancy"])["accuracy"].mean()
    methods = list(dict.fromkeys(results["method"]))
    rs = sorted(mean[lead].index)
    best_r = int(mean[lead].idxmax())
    text = (f"With a fixed budget of {budget} labels, {NAMES.get(lead, lead.upper())} was most "
            f"accurate at {best_r} label{'s' if best_r > 1 else ''} per item "
            f"({mean[lead][best_r]:.1%})")
    if "mv" in methods and lead != "mv" and rs[0] in mean["mv"]:
        gap = (mean[lead][rs[0]] - mean["mv"][rs[0]]) * 100
        text += f"; at r={rs[0]} it was {gap:+.1f} points against majority vote"
    beaten = [f"{m} at r={r}" for r in rs for m in methods
              if m != lead and r in mean[m] and mean[m][r] > mean[lead][r]]
    if len(rs) > 1:  # the other end of the redundancy range, for contrast
        other = rs[-1] if best_r != rs[-1] else rs[0]
        text += f"; at r={other} it reached {mean[lead][other]:.1%}"
    text += ("; it matched or beat every other method at every r." if not beaten
             else "; it was beaten by " + ", ".join(beaten) + ".")
    return text
