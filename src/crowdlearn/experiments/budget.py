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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.datasets import load
from crowdlearn.errors import InputError
from crowdlearn.experiments.options import check_learner_options, check_methods
from crowdlearn.experiments.plots import plot_budget
from crowdlearn.experiments.results import open_results, recorded_settings
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
    methods: tuple[str, ...] = ("mv", "soft-mv", "em", "mbem", "mbem-onecoin")
    seeds: int = 5
    model: str | None = None
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    device: str = "auto"
    extra: dict = field(default_factory=dict)  # method → its own learner options

    def check(self) -> None:
        if self.worker_model not in WORKER_MODELS:
            raise InputError(f"unknown worker model {self.worker_model!r}; choose "
                             f"{', '.join(WORKER_MODELS)}")
        if not self.redundancy or min(self.redundancy) < 1:
            raise InputError(f"redundancy must be positive integers, got {self.redundancy}")
        if max(self.redundancy) > self.workers:
            raise InputError(f"redundancy {max(self.redundancy)} needs at least as many "
                             f"workers, got {self.workers}")
        if self.budget < max(self.redundancy):
            raise InputError(f"budget {self.budget} is smaller than redundancy "
                             f"{max(self.redundancy)}")
        from crowdlearn.learners import CROWD_METHODS

        check_methods(self.methods, CROWD_METHODS)
        check_learner_options(self.extra, CROWD_METHODS, reserved=("self_training",))
        if self.seeds < 1 or self.epochs < 1:
            raise InputError("seeds and epochs must be at least 1")

    def recorded(self) -> dict:
        return recorded_settings(self, ("seeds", "redundancy", "methods"))

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODELS.get(self.dataset, "mlp")


def run_budget(settings: BudgetSettings, out_dir: Path | str,
               log: Callable[[str], None] = print, *, restart: bool = False) -> pd.DataFrame:
    """Run (or resume) the sweep into ``out_dir/results.csv`` and ``out_dir/budget.png``.

    Cells (method, redundancy, seed) already in ``results.csv`` are not rerun; a table made
    with other settings is an :class:`InputError` unless ``restart`` (start over). Returns the
    rows of this sweep's cells (the file may hold more: other methods, r or seeds run before
    with the same settings), which are also what ``budget.png`` shows.
    """
    from crowdlearn.learners import make_crowd_learner

    settings.check()
    out, table = open_results(out_dir, ("method", "redundancy", "seed"), settings.recorded(),
                              restart=restart)
    train, test = load(settings.dataset, "train"), load(settings.dataset, "test")
    n_budget_items = min(settings.budget, len(train))
    if settings.budget // min(settings.redundancy) > len(train):
        raise InputError(f"budget {settings.budget} at r={min(settings.redundancy)} needs "
                         f"more than the {len(train)} training items of {settings.dataset}")
    for seed in range(settings.seeds):
        order = np.random.default_rng(seed).permutation(len(train))
        X, y = train.X[order], train.y[order]
        crowd = WORKER_MODELS[settings.worker_model](settings.workers, train.n_classes,
                                                     settings.gamma, seed)
        for r in settings.redundancy:
            todo = [m for m in settings.methods if not table.done(method=m, redundancy=r,
                                                                   seed=seed)]
            if not todo:
                continue
            n = settings.budget // r
            ann = crowd.annotate(y, assign(len(y), settings.workers, r, settings.budget, seed),
                                 seed, tasks=list(range(len(y))), classes=list(train.classes))
            epochs = max(1, round(settings.epochs * n_budget_items / n))
            for method in todo:
                start = time.perf_counter()
                learner = make_crowd_learner(
                    method, model=settings.model_name, epochs=epochs,
                    batch_size=settings.batch_size, lr=settings.lr, device=settings.device,
                    seed=seed, **settings.extra.get(method, {}))
                learner.fit(X[:n], ann)
                acc = float((learner.predict_proba(test.X).argmax(1) == test.y).mean())
                table.add({"method": method, "redundancy": r, "seed": seed, "accuracy": acc,
                           "n_items": n, "train_epochs": epochs,
                           "seconds": round(time.perf_counter() - start, 2)})
                log(f"seed {seed} r={r} {method}: accuracy {acc:.3f}")
    frame = table.frame
    mine = (frame["method"].isin(settings.methods)
            & frame["redundancy"].isin(settings.redundancy)
            & (frame["seed"] < settings.seeds))
    results = frame[mine].reset_index(drop=True)
    plot_budget(results, out / "budget.png",
                title=f"{settings.dataset}: budget {settings.budget}, {settings.workers} "
                      f"workers, γ={settings.gamma}")
    return results


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
