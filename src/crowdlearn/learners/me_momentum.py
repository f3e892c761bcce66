"""Me-Momentum, "momentum of memorization" (Bai & Liu, ICCV 2021; docs/methods.md §3.1).

A network trained on noisy labels learns the clean, easy examples first. Me-Momentum stops
it early (on a noisy validation split), keeps the training examples whose noisy label the
network predicts — the confident set — and retrains on them; the refined network extracts a
larger, harder confident set, and so on while the validation score improves (inner loops).
Outer loops restart from fresh weights on the last confident set, shedding what the previous
network memorised. The checkpoint with the best validation score (mean per-class accuracy
on the noisy split) is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from crowdlearn.errors import InputError
from crowdlearn.learners.base import (
    FRACTION,
    POSITIVE_INT,
    Carried,
    Learner,
    ModelSpec,
    Seeds,
)
from crowdlearn.learners.single_labels import (
    check_clean_labels,
    encode_labels,
    restored,
    validation_split,
)
from crowdlearn.nn import balanced_accuracy
from crowdlearn.nn.trainer import cpu_state
from crowdlearn.params import NON_NEGATIVE, Reals


@dataclass
class Checkpoint:
    """The best validation score seen in a stage, its weights, and the slack rule's state."""

    best: float
    state: dict | None = None  # the best epoch's weights (on the CPU)
    slack: float = 0.0  # percentage points the score must beat ``best`` by to count
    epochs: int = 0  # epochs run


class MeMomentum(ClassifierMixin, Learner):
    """Me-Momentum: early stopping, confident-set extraction, inner refinement, outer restarts.

    Parameters
    ----------
    n_outer:
        Outer loops (fresh weights each, trained on the previous loop's last confident set).
    n_inner:
        Most stages per outer loop: the early-stopping stage plus ``n_inner − 1`` refinement
        stages (each stops the loop unless it improved the validation score).
    val_fraction:
        Share of the items held out with their noisy labels for model selection.
    slack_step, slack_stop:
        The early-stopping trick of the first stage (percentage points): a checkpoint needs
        to beat the best score by the current slack, which grows by ``slack_step`` after each
        epoch without that gain; the stage ends once the slack exceeds ``slack_stop``.
    milestones, gamma:
        Step learning-rate schedule of the refinement stages (×``gamma`` at these epochs;
        the official code uses SGD with (40, 80)); the first stage has none.
    model, model_params, epochs (per stage), batch_size, lr, optimizer, weight_decay, device,
    seed: the network and its training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes
    ----------
    model_ : the best checkpoint over all loops.  best_score_ : its validation score.
    confident_mask_ : over the rows of ``X``, the final confident set (validation rows never
        belong to it).  val_mask_ : the validation rows.
    history_ : one record per stage: outer, inner (0 = early-stopping stage), train_size
        (the set it trained on), epochs, val_score (best of the loop so far) and, after
        inner stages, the confident set it was trained on with its ``precision`` when
        ``fit(..., y_clean=...)`` was given true labels (diagnostics only).
    """

    _defaults = {"epochs": 60}
    _parameter_constraints = {"n_outer": [POSITIVE_INT], "n_inner": [POSITIVE_INT],
                              "val_fraction": [FRACTION],
                              "slack_step": [Reals(0)],
                              "slack_stop": [NON_NEGATIVE], "milestones": ["array-like"],
                              "gamma": [Reals(0)]}

    def __init__(self, model: ModelSpec = "mlp", *, n_outer: int = 3, n_inner: int = 20,
                 val_fraction: float = 0.1, slack_step: float = 0.1, slack_stop: float = 2.0,
                 milestones: tuple[int, ...] = (), gamma: float = 0.1, **training):
        self.model = model
        self.n_outer = n_outer
        self.n_inner = n_inner
        self.val_fraction = val_fraction
        self.slack_step = slack_step
        self.slack_stop = slack_stop
        self.milestones = milestones
        self.gamma = gamma
        self._set_training(training)

    def fit(self, X, y, y_clean=None) -> MeMomentum:
        """Train on ``(X, y)``, ``y`` the noisy labels. ``y_clean`` (true labels, if known,
        e.g. in a simulation) only adds the confident sets' label precision to ``history_``."""
        X, y, classes = encode_labels(X, y)
        truth = check_clean_labels(y_clean, classes, len(X))
        if self.val_fraction <= 0:
            raise InputError("Me-Momentum selects models on a noisy validation split: "
                             "val_fraction must be positive")
        train, val = validation_split(len(X), self.val_fraction, self._seed(Seeds.VALIDATION))
        k = len(classes)
        history: list[dict] = []
        global_best, global_state, net = -np.inf, None, None
        subset = train  # S: the full noisy training part at first
        for outer in range(self.n_outer):
            net = self._fresh_model(X, k, salt=Seeds.STAGE * outer)
            best, state, n_epochs = self._early_stopped(net, X, y, subset, val, outer)
            history.append({"outer": outer, "inner": 0, "train_size": len(subset),
                            "epochs": n_epochs, "val_score": best})
            last = 0.0  # as in the official code: the first refinement stage always runs
            for inner in range(1, self.n_inner):
                net.load_state_dict(state)
                predicted = self._trainer().predict_proba(net, X[train]).argmax(axis=1)
                selected = train[predicted == y[train]]  # keeps its (noisy = predicted) label
                if len(selected) < 2:
                    break
                subset = selected
                best, state = self._refine(net, X, y, subset, val, best, state,
                                           salt=Seeds.STAGE * outer + inner)
                record = {"outer": outer, "inner": inner, "train_size": len(subset),
                          "epochs": self.epochs, "val_score": best}
                if truth is not None:
                    record["precision"] = float((truth[subset] == y[subset]).mean())
                history.append(record)
                if best > last:
                    last = best
                else:
                    break
            if best > global_best:
                global_best, global_state = best, state
        self.model_ = restored(net, global_state)
        self.best_score_ = float(global_best)
        self.confident_mask_ = np.isin(np.arange(len(X)), subset)
        self.val_mask_ = np.isin(np.arange(len(X)), val)
        self.classes_ = classes
        self.history_ = history
        return self

    def diagnostics(self, y, y_true) -> dict[str, float]:
        """``selected_precision``: fraction of the final confident set whose given label is
        the true one; ``selected_size``: the set's size."""
        check_is_fitted(self, "confident_mask_")
        mask = self.confident_mask_
        return {"selected_precision": float((np.asarray(y)[mask] == np.asarray(y_true)[mask])
                                            .mean()),
                "selected_size": int(mask.sum())}

    def _early_stopped(self, net: nn.Module, X, y, subset, val, outer: int):
        """Stage 0: train on ``subset`` until the slack rule stops it; the best checkpoint."""
        track = Checkpoint(best=-np.inf)

        def on_epoch(epoch: int, record: dict) -> bool:
            score = self._val_score(net, X, y, val)
            track.epochs = epoch + 1
            if score > track.best + track.slack / 100:
                track.best, track.slack, track.state = score, 0.0, cpu_state(net)
            else:
                track.slack += self.slack_step
            # the official test (accumulated 0.1 steps > 2) stops after 20 such epochs
            return track.slack > self.slack_stop

        self._trainer(self._seed(Seeds.STAGE * outer), on_epoch_end=on_epoch,
                      extra_state=Carried(track=track)).fit(net, X[subset], y[subset])
        return track.best, track.state, track.epochs

    def _refine(self, net: nn.Module, X, y, subset, val, best: float, state: dict, salt: int):
        """An inner stage: train on the confident set, keep any checkpoint that beats
        ``best``."""
        track = Checkpoint(best=best, state=state)

        def on_epoch(epoch: int, record: dict) -> None:
            score = self._val_score(net, X, y, val)
            if score > track.best:
                track.best, track.state = score, cpu_state(net)

        schedule = "step" if self.milestones else None
        self._trainer(self._seed(salt), on_epoch_end=on_epoch, schedule=schedule,
                      milestones=tuple(self.milestones), gamma=self.gamma,
                      extra_state=Carried(track=track)).fit(net, X[subset], y[subset])
        return track.best, track.state

    def _val_score(self, net: nn.Module, X, y, val) -> float:
        return balanced_accuracy(y[val], self._trainer().predict_proba(net, X[val]))

    def _check_more(self) -> None:
        if not (isinstance(self.milestones, (tuple, list))
                and all(isinstance(m, (int, np.integer)) and m > 0 for m in self.milestones)):
            raise InputError(f"milestones must be a tuple of positive epochs, got "
                             f"{self.milestones!r}")
