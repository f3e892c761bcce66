"""Learning with noisy labels: each method trained on a dataset whose training labels were
corrupted by a simulated noise process, scored on the clean test split.

Noise (docs/methods.md §4.4): ``symmetric`` (a flipped label is any other class), ``pairflip``
(y → y+1) and ``instance`` (Xia et al.'s instance-dependent generator on raw pixel values).
``ce`` adds two rows, its final epoch (``ce``) and its best noisy-validation epoch
(``ce-best``); ``me-momentum`` records its final confident set's label precision, ``two-em``
(and its ablation ``two-em-no-cr``) the AUROC of its clean probabilities against the true
clean mask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.experiments.options import (
    check_learner_options,
    check_learners,
    check_methods,
    check_settings,
)
from crowdlearn.experiments.plots import plot_lines
from crowdlearn.experiments.sweep import Experiment, dataset_splits, run_sweep
from crowdlearn.simulate import label_noise

NOISE_KINDS = ("symmetric", "pairflip", "instance")
DEFAULT_MODELS = {"digits": "mlp", "mnist": "lenet", "fashion-mnist": "lenet",
                  "cifar10": "resnet18", "cifar100": "resnet34"}
# raw pixel scale the instance-dependent generator is defined on (0–255 in Me-Momentum's code)
_RAW_SCALE = {"digits": 16.0}


@dataclass
class NoiseSettings:
    """Settings of one sweep (all recorded in every results row)."""

    dataset: str = "digits"
    noise: str = "symmetric"
    rates: tuple[float, ...] = (0.2, 0.4)
    methods: tuple[str, ...] = ("ce", "coteaching", "me-momentum", "two-em")
    seeds: int = 5
    model: str | None = None
    epochs: int = 200
    stage_epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    device: str = "auto"
    extra: dict = field(default_factory=dict)  # method → its own learner options

    def check(self) -> None:
        from crowdlearn.methods import NOISE_METHODS

        check_settings(self)
        if not isinstance(self.noise, str) or self.noise not in NOISE_KINDS:
            raise InputError(f"noise must be one of {', '.join(NOISE_KINDS)}, got "
                             f"{self.noise!r}")
        check_methods(self.methods, NOISE_METHODS)
        check_learner_options(self.extra, NOISE_METHODS, reserved=("noise_rate", "forget_rate"))
        from crowdlearn.learners import make_noise_learner

        check_learners(self.methods, lambda m: make_noise_learner(
            m, noise_rate=self.rates[0], **self.learner_settings(m, 0)))

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODELS.get(self.dataset, "mlp")

    def learner_settings(self, method: str, seed: int) -> dict:
        epochs = self.stage_epochs if method == "me-momentum" else self.epochs
        base = {"model": self.model_name, "epochs": epochs, "batch_size": self.batch_size,
                "lr": self.lr, "device": self.device, "seed": seed}
        return base | self.extra.get(method, {})


def corrupt(kind: str, X: np.ndarray, y: np.ndarray, rate: float, n_classes: int, seed: int,
            raw_scale: float = 1.0) -> np.ndarray:
    """Noisy training labels (codes) of one kind at one rate."""
    if kind == "symmetric":
        return label_noise.symmetric(y, rate, n_classes, seed).labels
    if kind == "pairflip":
        return label_noise.pairflip(y, rate, n_classes, seed).labels
    raw = X.reshape(len(X), -1).astype(np.float64) * raw_scale
    return label_noise.instance_dependent(raw, y, rate, n_classes, seed).labels


class NoiseExperiment(Experiment):
    """Cells (rate, seed, method): one method trained on one seed's corrupted labels."""

    name = "noise"
    keys = ("method", "rate", "seed")
    cell_fields = ("seeds", "rates", "methods")

    def cells(self) -> list[dict]:
        s = self.settings
        return [{"method": m, "rate": rate, "seed": seed}
                for rate in s.rates for seed in range(s.seeds) for m in s.methods]

    def run(self, cell) -> list[dict]:
        from crowdlearn.learners import make_noise_learner

        s, method, rate, seed = self.settings, cell["method"], cell["rate"], cell["seed"]
        train, test = dataset_splits(s.dataset)
        scale = _RAW_SCALE.get(s.dataset, 255.0 if train.X.max() <= 1.0 else 1.0)
        noisy = corrupt(s.noise, train.X, train.y, rate, train.n_classes, seed, scale)
        learner = make_noise_learner(method, noise_rate=rate,
                                     **s.learner_settings(method, seed))
        if method == "me-momentum":  # its history then tracks the selected set's precision
            learner.fit(train.X, noisy, y_clean=train.y)
        else:
            learner.fit(train.X, noisy)
        rows = [{"method": method, "accuracy": float((learner.predict(test.X) == test.y)
                                                     .mean()),
                 **learner.diagnostics(noisy, train.y)}]
        if method == "ce":
            best = learner.predict(test.X, model="best")
            rows.append({"method": "ce-best", "accuracy": float((best == test.y).mean())})
        actual = float((noisy != train.y).mean())
        return [{**row, "rate": rate, "seed": seed, "actual_rate": actual} for row in rows]

    def describe(self, cell, rows) -> str:
        return (f"{self.settings.noise} {cell['rate']:g} seed {cell['seed']} {cell['method']}: "
                + ", ".join(f"{r['method']} {r['accuracy']:.3f}" for r in rows))

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        s = self.settings
        wanted = set(s.methods) | ({"ce-best"} if "ce" in s.methods else set())
        rates = {str(float(r)) for r in s.rates}
        return frame[frame["method"].isin(wanted)
                     & frame["rate"].astype(float).astype(str).isin(rates)
                     & (frame["seed"] < s.seeds)]

    def plot(self, results: pd.DataFrame, path: Path) -> None:
        s = self.settings
        plot_lines(results, path, x="rate", xlabel=f"{s.noise} noise rate",
                   ylabel="test accuracy", title=f"{s.dataset}: {s.noise} label noise")


def run_noise(settings: NoiseSettings, out_dir: Path | str,
              log: Callable[[str], None] = print, *, restart: bool = False, jobs: int = 1,
              threads: int | None = None, progress=None) -> pd.DataFrame:
    """Run (or resume) the sweep into ``out_dir/results.csv`` and ``out_dir/noise.png``;
    returns this sweep's rows. ``jobs`` and ``threads``: see
    :func:`~crowdlearn.experiments.sweep.run_sweep`."""
    return run_sweep(NoiseExperiment(settings), out_dir, log, restart=restart, jobs=jobs,
                     threads=threads, progress=progress)


def noise_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of test accuracy, methods × rates."""
    grouped = results.groupby(["method", "rate"], sort=False)["accuracy"]
    return grouped.agg(["mean", "std", "count"]).reset_index()
