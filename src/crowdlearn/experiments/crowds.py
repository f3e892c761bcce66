"""Learning from crowds when experts err together: the synthetic cases of Max-MIG (Cao et al.,
ICLR 2019; docs/methods.md §4.2).

Every training item (and every test item, for the data-crowds forecaster) is labelled by
every expert of a simulated crowd: case 1 seniors only (independent mistakes), case 2 plus
juniors who always answer class 0 (a naive majority), case 3 plus juniors who copy a senior
(correlated mistakes), and ``harsh``: 5 seniors of accuracy 0.4 and 10 juniors all copying
senior 0 (ours, docs/methods.md §4.2). Each method trains the same network; the reference
``clean`` trains it on the true labels. Test accuracy is that of the last epoch (no test-set
model selection).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.experiments.options import (
    PAPERS_DS,
    check_crowd_options,
    check_learners,
    check_methods,
    check_settings,
)
from crowdlearn.experiments.plots import plot_grouped_bars
from crowdlearn.experiments.sweep import Experiment, dataset_splits, run_sweep
from crowdlearn.simulate import Crowd, diagonal, maxmig_case

CASES = ("1", "2", "3", "harsh")
EXPERTISE = ("low", "high")
REFERENCE = "clean"
FORECASTER = "maxmig-forecaster"
DEFAULT_MODELS = {"digits": ("mlp", {"hidden": [128]}), "labelme": ("head", {})}


@dataclass
class CrowdsSettings:
    """Settings of one sweep (all recorded in every results row)."""

    dataset: str = "digits"
    cases: tuple[str, ...] = ("1", "2", "3")
    expertise: tuple[str, ...] = ("low", "high")
    methods: tuple[str, ...] = ("mv", "ds", "crowd-layer", "doctor-net", "aggnet", "mbem",
                                "maxmig")
    seeds: int = 3
    model: str | None = None
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    device: str = "auto"
    # method → its own learner options. Crowd Layer starts from the soft-MV confusions, as the
    # Max-MIG code (Cao et al., ICLR 2019) runs it on simulated crowds (identity on LabelMe);
    # Dawid-Skene as the papers ran it.
    extra: dict = field(default_factory=lambda: {"crowd-layer": {"init": "soft-mv"},
                                                 "ds": dict(PAPERS_DS)})

    def check(self) -> None:
        from crowdlearn.methods import CROWD_METHODS

        check_settings(self)
        check_methods(self.cases, CASES, "case")
        check_methods(self.expertise, EXPERTISE, "expertise")
        check_methods(self.methods, (*CROWD_METHODS, REFERENCE))
        check_crowd_options(self.extra)
        from crowdlearn.learners import make_crowd_learner

        check_learners([m for m in self.methods if m != REFERENCE], lambda m: make_crowd_learner(
            m, self_training=m == "mbem", **self.learner_settings(m, 0)))

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODELS.get(self.dataset, ("mlp", {}))[0]

    def learner_settings(self, method: str, seed: int) -> dict:
        params = {} if self.model else DEFAULT_MODELS.get(self.dataset, ("mlp", {}))[1]
        settings = {"model": self.model_name, "epochs": self.epochs,
                    "batch_size": self.batch_size, "lr": self.lr, "device": self.device,
                    "seed": seed}
        if params:
            settings["model_params"] = {k: tuple(v) if isinstance(v, list) else v
                                        for k, v in params.items()}
        return settings | self.extra.get(method, {})


def case_crowd(case: str, expertise: str, n_classes: int, dataset: str) -> Crowd:
    """The simulated crowd of a case (seniors first, then juniors)."""
    if case == "harsh":
        return diagonal(5, n_classes, 0.4).with_copiers([0] * 10)
    table = "digits" if dataset == "digits" else None
    return maxmig_case(int(case), expertise, None if table else n_classes, dataset=table)


class CrowdsExperiment(Experiment):
    """Cells (case, expertise, seed, method): one method trained on one seed's answers of
    one simulated crowd."""

    name = "crowds"
    keys = ("method", "case", "expertise", "seed")
    cell_fields = ("seeds", "cases", "expertise", "methods")

    def settings_run(self) -> list[tuple[str, str]]:
        """(case, expertise) pairs of the sweep; the harsh case has one expertise."""
        s = self.settings
        return [(case, e) for case in s.cases
                for e in (("low",) if case == "harsh" else s.expertise)]

    def cells(self) -> list[dict]:
        return [{"method": m, "case": case, "expertise": e, "seed": seed}
                for case, e in self.settings_run() for seed in range(self.settings.seeds)
                for m in self.settings.methods]

    def run(self, cell) -> list[dict]:
        s, seed = self.settings, cell["seed"]
        train, test = dataset_splits(s.dataset)
        classes = list(train.classes)
        crowd = case_crowd(cell["case"], cell["expertise"], train.n_classes, s.dataset)
        ann = _annotate_all(crowd, train.y, seed, classes)
        test_ann = _annotate_all(crowd, test.y, seed + 100_003, classes)
        scores = _run_method(cell["method"], s.learner_settings(cell["method"], seed), train,
                             ann, test, test_ann)
        return [{**cell, "method": name, "accuracy": acc} for name, acc in scores.items()]

    def describe(self, cell, rows) -> str:
        return (f"case {cell['case']} {cell['expertise']} seed {cell['seed']} "
                f"{cell['method']}: "
                + ", ".join(f"{r['method']} {r['accuracy']:.3f}" for r in rows))

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        s = self.settings
        frame = frame.astype({"case": str})
        wanted = set(s.methods) | ({FORECASTER} if "maxmig" in s.methods else set())
        run = self.settings_run()
        mine = (frame["method"].isin(wanted) & (frame["seed"] < s.seeds)
                & pd.Series([(c, e) in run for c, e in zip(frame["case"], frame["expertise"],
                                                           strict=True)], index=frame.index))
        results = frame[mine].copy()
        results["setting"] = "case " + results["case"] + ", " + results["expertise"]
        return results

    def plot(self, results: pd.DataFrame, path: Path) -> None:
        plot_grouped_bars(results, path, group="setting",
                          title=f"{self.settings.dataset}: test accuracy, mean ± sd over "
                                f"{self.settings.seeds} seeds")


def run_crowds(settings: CrowdsSettings, out_dir: Path | str,
               log: Callable[[str], None] = print, *, restart: bool = False, jobs: int = 1,
               threads: int | None = None, progress=None) -> pd.DataFrame:
    """Run (or resume) the sweep into ``out_dir/results.csv`` and ``out_dir/crowds.png``;
    returns this sweep's rows. ``maxmig`` adds a ``maxmig-forecaster`` row (the same fit,
    predicting with the test items' crowd labels too). ``jobs`` and ``threads``: see
    :func:`~crowdlearn.experiments.sweep.run_sweep`."""
    return run_sweep(CrowdsExperiment(settings), out_dir, log, restart=restart, jobs=jobs,
                     threads=threads, progress=progress)


def _annotate_all(crowd: Crowd, y: np.ndarray, seed: int, classes: list) -> Annotations:
    n, w = len(y), crowd.n_workers
    return crowd.annotate(y, np.tile(np.arange(w), (n, 1)), seed, tasks=list(range(n)),
                          classes=classes)


def _run_method(method: str, learner_settings: dict, train, ann: Annotations, test,
                test_ann: Annotations) -> dict[str, float]:
    from crowdlearn.learners import make_crowd_learner

    if method == REFERENCE:
        truth = Annotations.from_labels(np.asarray(train.classes)[train.y],
                                        classes=list(train.classes))
        learner = make_crowd_learner("mv", self_training=False, **learner_settings)
        with warnings.catch_warnings():  # one "worker" (the truth) is the point here
            warnings.simplefilter("ignore", CrowdlearnWarning)
            learner.fit(train.X, truth)
    else:  # MBEM keeps its official self-training step; the other baselines train once
        learner = make_crowd_learner(method, self_training=method == "mbem",
                                     **learner_settings)
        learner.fit(train.X, ann)
    scores = {method: float((learner.predict_proba(test.X).argmax(1) == test.y).mean())}
    if method == "maxmig":
        zeta = learner.predict_proba(test.X, test_ann)
        scores[FORECASTER] = float((zeta.argmax(1) == test.y).mean())
    return scores


def crowds_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of test accuracy, methods × settings."""
    grouped = results.groupby(["method", "setting"], sort=False)["accuracy"]
    return grouped.agg(["mean", "std", "count"]).reset_index()
