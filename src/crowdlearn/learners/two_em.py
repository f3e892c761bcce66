"""Two interconnected EMs for noisy labels ("LNL-flywheel"; Kim, Chang, Cho, Lee & Han,
"Learning with Noisy Labels: Interconnection of Two Expectation-Maximizations",
arXiv:2401.04390, 2024; docs/methods.md §3.2).

**What is from the paper** (abstract and second-hand summaries; its method section could not
be read): the noisy label is a mixture ``p(ỹ|x) = γ·g(x)[ỹ] + (1 − γ)·ε(ỹ|x)`` of the main
network's clean component and a corruption component (uniform in the basic model); a main EM
cycle whose E-step gives each example's probability that its label is clean and whose M-step
refits the main network on a resampled, posterior-weighted likelihood with a confidence
regulariser (CR) against collapse; an auxiliary network, in a second EM cycle, that
refurbishes the labels judged corrupted; a single (main) network at test time; the noise rate
is given.

**What is ours** (our reconstruction, docs/methods.md §3.2): ``γ = 1 − noise_rate`` (or
the EM update ``γ = mean w``); the resampling rule (each epoch example i is a clean draw with
probability ``w_i``, else a refurbished draw if it has a refurbished label, else skipped); the
CR of CORES² (Cheng et al., ICLR 2021: ``Σ_k p̃_k log g(x)_k`` with ``p̃`` the noisy class
frequencies, weight ramped over ``cr_ramp`` epochs after warm-up); the auxiliary E-step
``r_i ∝ (h(x_i)·g(x_i))^{1/T}`` for examples with ``w_i < 0.5``, kept when
``max r_i ≥ refurbish_threshold``; the warm-up on all noisy labels; all hyper-parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from crowdlearn.errors import InputError
from crowdlearn.learners.base import FRACTION, Carried, Learner, ModelSpec, Seeds
from crowdlearn.learners.single_labels import (
    check_clean_labels,
    encode_labels,
    validation_split,
)
from crowdlearn.nn import Batch, soft_cross_entropy
from crowdlearn.nn.pair import NetworkPair
from crowdlearn.params import NON_NEGATIVE_REAL, Integers, Reals


@dataclass
class EpochState:
    """What TwoEM's training step reads each epoch, set by the E-steps between epochs."""

    main: torch.Tensor  # the main network's targets (class codes)
    aux: torch.Tensor  # the auxiliary network's soft targets (N × K)
    active: torch.Tensor  # items drawn into this epoch's losses
    cr: float  # the confidence regulariser's current weight λ
    w: np.ndarray  # each item's posterior of being clean
    refurbished: np.ndarray  # each item's refurbished label (−1: none)
    gamma: float  # the share of clean labels γ


def clean_posterior(proba: np.ndarray, y: np.ndarray, gamma: float) -> np.ndarray:
    """Main E-step: ``w_i = γ g(x_i)[ỹ_i] / (γ g(x_i)[ỹ_i] + (1 − γ)/K)``: Bayes' rule on the
    mixture of Kim et al. (2024) with a uniform corruption component."""
    k = proba.shape[1]
    clean = gamma * proba[np.arange(len(y)), y]
    return clean / (clean + (1 - gamma) / k)


def refurbish(main_proba: np.ndarray, aux_proba: np.ndarray, temperature: float,
              ) -> np.ndarray:
    """Auxiliary E-step: ``r ∝ (h(x)·g(x))^{1/T}`` (rows of class distributions)."""
    log_r = (np.log(np.maximum(main_proba, 1e-30))
             + np.log(np.maximum(aux_proba, 1e-30))) / temperature
    log_r -= log_r.max(axis=1, keepdims=True)
    r = np.exp(log_r)
    return r / r.sum(axis=1, keepdims=True)


def confidence_regulariser(logits: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Per example ``Σ_k p̃_k log(g(x)_k + 1e-8)`` (CORES², Cheng et al. 2021): lowest for a
    one-hot prediction, so adding it rewards confidence; the ``1e-8`` (as in the CORES² code)
    keeps it bounded, without which the logits grow without limit."""
    return torch.log(torch.softmax(logits, dim=1) + 1e-8) @ prior


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the boolean labels ``positive``."""
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, scores))


class TwoEM(ClassifierMixin, Learner):
    """Two interconnected EM cycles: detect corrupted labels, refurbish them, train on both.

    The class docstring of :mod:`crowdlearn.learners.two_em` says which parts follow the
    paper and which are our reconstruction.

    Parameters
    ----------
    noise_rate:
        τ; the clean fraction is ``γ = 1 − τ``. ``None`` estimates ``γ`` by EM (starting at
        0.5), as does ``update_gamma=True`` (starting at ``1 − τ``).
    cr_weight, cr_ramp:
        Final weight λ of the confidence regulariser and the epochs over which it ramps up
        after warm-up; ``cr_weight=0`` is the no-CR ablation. A slow ramp keeps the
        regulariser from locking in early, still unreliable refurbished labels; the default
        was chosen on digits (docs/results.md).
    warmup_epochs:
        Epochs of plain cross-entropy on all noisy labels (both networks) first.
    temperature, refurbish_threshold:
        Sharpening of the auxiliary E-step and the confidence a refurbished label needs.
    val_fraction:
        Share of the items held out with their noisy labels to pick the epoch (mean
        per-class accuracy, as for Standard CE and Me-Momentum); 0 (default) trains on all
        items and keeps the last epoch, the better choice on digits (docs/results.md).
    model, model_params, epochs, batch_size, lr, optimizer, weight_decay, device, seed:
        Both networks and their training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes
    ----------
    model_ : the main network (the only one used to predict).  auxiliary_ : the other.
    clean_proba_ : the final E-step, per row of ``X`` the probability that its label is
        clean (validation rows included).
    refurbished_ : a Series, row number → the label that replaced a label judged corrupted
        (the last epoch's auxiliary E-step).  val_mask_ : the validation rows.
    gamma_ : the clean fraction used last.
    history_ : per epoch: loss, lr, gamma, mean clean probability, refurbished count, CR
        weight, and with ``fit(..., y_clean=...)`` the AUROC of the clean probability against
        the true clean mask and the accuracy of the refurbished labels (diagnostics only).
    """

    _defaults = {"epochs": 100}
    _parameter_constraints = {"noise_rate": [FRACTION, None], "update_gamma": ["boolean"],
                              "cr_weight": [NON_NEGATIVE_REAL],
                              "cr_ramp": [Integers(0)],
                              "warmup_epochs": [Integers(0)],
                              "temperature": [Reals(0)],
                              "refurbish_threshold": [Reals(0, 1, closed="right")],
                              "val_fraction": [FRACTION]}

    def __init__(self, model: ModelSpec = "mlp", *, noise_rate: float | None = None,
                 update_gamma: bool = False, cr_weight: float = 1.0, cr_ramp: int = 40,
                 warmup_epochs: int = 10, temperature: float = 0.5,
                 refurbish_threshold: float = 0.9, val_fraction: float = 0.0, **training):
        self.model = model
        self.noise_rate = noise_rate
        self.update_gamma = update_gamma
        self.cr_weight = cr_weight
        self.cr_ramp = cr_ramp
        self.warmup_epochs = warmup_epochs
        self.temperature = temperature
        self.refurbish_threshold = refurbish_threshold
        self.val_fraction = val_fraction
        self._set_training(training)

    def fit(self, X, y, y_clean=None) -> TwoEM:
        """Train on ``(X, y)``, ``y`` the noisy labels; ``y_clean`` (true labels, if known)
        only adds diagnostics to ``history_``."""
        X_all, y_all, classes = encode_labels(X, y)
        truth_all = check_clean_labels(y_clean, classes, len(X_all))
        rows, val = validation_split(len(X_all), self.val_fraction, self._seed(Seeds.VALIDATION))
        X, y = X_all[rows], y_all[rows]
        truth = None if truth_all is None else truth_all[rows]
        n, k = len(X), len(classes)
        gamma = 0.5 if self.noise_rate is None else 1.0 - float(self.noise_rate)
        learn_gamma = self.update_gamma or self.noise_rate is None
        prior = torch.as_tensor(np.bincount(y, minlength=k) / n, dtype=torch.float32)
        nets = NetworkPair(self._fresh_model(X, k, salt=Seeds.NETWORK),
                                 self._fresh_model(X, k, salt=Seeds.SECOND_NETWORK))
        # per-epoch state the training step reads: targets of both nets, who is drawn, λ
        state = EpochState(main=torch.as_tensor(y), aux=torch.eye(k)[torch.as_tensor(y)],
                           active=torch.ones(n, dtype=torch.bool), cr=0.0, w=np.ones(n),
                           refurbished=np.full(n, -1), gamma=gamma)
        rng = np.random.default_rng(self._seed(Seeds.EM_DRAWS))
        history: list[dict] = []

        def step(model: NetworkPair, batch: Batch) -> torch.Tensor:
            idx = batch.index.cpu()
            active = state.active[idx].to(batch.x.device)
            logits = model.first(batch.x).float()
            aux_logits = model.second(batch.x).float()
            n_active = active.sum().clamp(min=1)
            main_loss = (F.cross_entropy(logits, state.main[idx].to(batch.x.device),
                                         reduction="none") * active).sum() / n_active
            aux_loss = (soft_cross_entropy(aux_logits, state.aux[idx].to(batch.x.device))
                        * active).sum() / n_active
            loss = main_loss + aux_loss
            if state.cr > 0:  # CORES² confidence regulariser on the drawn examples
                cr = confidence_regulariser(logits, prior.to(logits.device))
                loss = loss + state.cr * (cr * active).sum() / n_active
            return loss

        def between_epochs(epoch: int, record: dict) -> None:
            if epoch + 1 < self.warmup_epochs:
                return
            self._e_steps(nets, X, y, state, learn_gamma, rng)
            after = epoch + 2 - self.warmup_epochs  # post-warm-up epochs done by the next one
            state.cr = float(self.cr_weight) * min(1.0, after / max(self.cr_ramp, 1))
            record.update(gamma=state.gamma, mean_clean_proba=float(state.w.mean()),
                          refurbished=int((state.refurbished >= 0).sum()),
                          cr_weight=state.cr)
            if truth is not None:
                record["clean_auroc"] = auroc(state.w, truth == y)
                fixed = state.refurbished >= 0
                if fixed.any():
                    record["refurbished_accuracy"] = float(
                        (state.refurbished[fixed] == truth[fixed]).mean())

        trainer = self._trainer(self._seed(Seeds.NETWORK), step=step, on_epoch_end=between_epochs,
                                metric="balanced_accuracy",
                                extra_state=Carried(epoch=state, draws=rng))
        has_val = len(val) > 0
        trainer.fit(nets, X, y, X_val=X_all[val] if has_val else None,
                    y_val=y_all[val] if has_val else None)
        main_proba = trainer.predict_proba(nets.first, X_all)
        self.clean_proba_ = clean_posterior(main_proba, y_all, state.gamma)
        fixed = np.flatnonzero(state.refurbished >= 0)
        self.refurbished_ = pd.Series(np.asarray(classes, dtype=object)[state.refurbished[
            fixed]], index=rows[fixed], name="refurbished_label", dtype=object)
        self.val_mask_ = np.isin(np.arange(len(X_all)), val)
        self.best_epoch_ = trainer.best_epoch_ if has_val else self.epochs - 1
        self.gamma_ = float(state.gamma)
        self.model_, self.auxiliary_ = nets.first, nets.second
        self.classes_ = classes
        history.extend(trainer.history_)
        self.history_ = history
        return self

    def diagnostics(self, y, y_true) -> dict[str, float]:
        """``clean_auroc``: AUROC of :attr:`clean_proba_` against the items whose given label
        is the true one; ``refurbished``: how many labels were refurbished."""
        check_is_fitted(self, "clean_proba_")
        clean = np.asarray(y) == np.asarray(y_true)
        return {"clean_auroc": auroc(self.clean_proba_, clean),
                "refurbished": len(self.refurbished_)}

    def _e_steps(self, nets: NetworkPair, X, y, state: EpochState, learn_gamma: bool,
                 rng: np.random.Generator) -> None:
        """Both E-steps, then the next epoch's draws (docs/methods.md §3.2)."""
        predict = self._trainer().predict_proba
        main_proba, aux_proba = predict(nets.first, X), predict(nets.second, X)
        w = clean_posterior(main_proba, y, state.gamma)
        if learn_gamma:
            state.gamma = float(np.clip(w.mean(), 1e-3, 1 - 1e-3))
            w = clean_posterior(main_proba, y, state.gamma)
        r = refurbish(main_proba, aux_proba, self.temperature)
        has_new = (w < 0.5) & (r.max(axis=1) >= self.refurbish_threshold)
        new_label = np.where(has_new, r.argmax(axis=1), -1)
        clean_draw = rng.random(len(y)) < w
        state.w, state.refurbished = w, new_label
        state.active = torch.as_tensor(clean_draw | has_new)
        main_target = np.where(clean_draw, y, np.maximum(new_label, 0))
        aux_target = np.where(clean_draw[:, None], np.eye(r.shape[1])[y], r)
        state.main = torch.as_tensor(main_target)
        state.aux = torch.as_tensor(aux_target, dtype=torch.float32)

    def _check_more(self) -> None:
        if not self.warmup_epochs < self.epochs:
            raise InputError(f"warmup_epochs must be below epochs ({self.epochs}), got "
                             f"{self.warmup_epochs!r}")
