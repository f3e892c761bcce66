"""MBEM: Model-Bootstrapped EM (Khetan, Lipton & Anandkumar, "Learning From Noisy Singly-labeled
Data", ICLR 2018, Algorithm 1; docs/methods.md §2.1).

Learning from crowds, even with one label per item: the model, not the other workers, provides
the reference labels from which each worker's confusion matrix is estimated.

1. train a model on the soft majority vote;
2. take its hard predictions ``t`` on the training items and estimate every worker's confusion
   ``π̂[w, k, l] ∝ #{i : t_i = k, worker w answered l on i}`` (and, optionally, the class prior)
   — one M-step of Dawid–Skene started from the one-hot ``t``;
3. E-step: ``P(y_i = k | labels) ∝ q_k Π_w π̂[w, k, L_iw]`` (the paper's label posterior);
4. retrain from scratch with the posterior-weighted loss (soft targets), repeat 2–4
   ``n_rounds`` times.

Steps 2–3 are literally ``DawidSkene(max_iter=1).fit(annotations, init_posteriors=onehot(t))``:
no second copy of EM. The default is the variant of the authors' code
(github.com/khetan2/MBEM): one round, a uniform class prior, and self-training (each training is
followed by a refit on the model's own hard predictions). The paper's variant is
``n_rounds > 1, use_class_prior=True``; on small data it can collapse, the estimated prior
drifting to a few classes (docs/methods.md §2.1).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import StrOptions

from crowdlearn.aggregation import DawidSkene, OneCoinDawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.learners.base import (
    POSITIVE_INT,
    Learner,
    ModelSpec,
    Seeds,
    align_items,
)
from crowdlearn.learners.crowd_answers import soft_majority
from crowdlearn.params import NON_NEGATIVE_REAL

WORKER_MODELS = {"confusion": DawidSkene, "one-coin": OneCoinDawidSkene}


class MBEM(Learner):
    """Model-bootstrapped EM.

    Parameters
    ----------
    n_rounds:
        Bootstrapping rounds (confusion estimate + retraining) after the soft-MV model.
    use_class_prior:
        Estimate the class prior ``q`` from the model's predictions (paper) instead of a
        uniform prior (official code).
    model_prior:
        Multiply the model's class probabilities into the E-step as a per-item prior
        (``DawidSkene.fit(task_prior=...)``), as AggNet does; off in the paper and the
        official code, whose posterior uses the crowd labels alone.
    self_training:
        After each training, refit from scratch on the model's own hard predictions.
    smoothing:
        Dirichlet pseudo-count of the confusion estimate (an unseen true class → uniform row).
        The authors' code instead floors empty cells of an observed row at 1e-10; on digits
        (r = 3, γ = 0.35, two seeds) ``smoothing=1e-10`` gave the same test accuracy.
    worker_model:
        ``"confusion"`` (a K × K matrix per worker, the paper and official code) or
        ``"one-coin"`` (one accuracy per worker, errors uniform over the other classes).
        With few labels per worker (tens), a full matrix is estimated from a handful of
        answers per row and its chance zeros make the posterior of multiply-labelled items
        noisy; one accuracy per worker is estimated from all of them (numbers in
        docs/results.md).
    model, model_params, epochs, batch_size, lr, optimizer, weight_decay, device, seed:
        The network and its training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes
    ----------
    model_ : the final trained network.
    posteriors_ : T×K label posteriors of the last round (the last training targets).
    confusion_ : W×K×K estimated worker confusion matrices (rows: true class).
    class_prior_ : the prior used in the last E-step.
    history_ : one record per round: targets, the share of items whose posterior label differs
        from the majority vote, and the agreement of the model's predictions with the targets.
    """

    _parameter_constraints = {"n_rounds": [POSITIVE_INT], "use_class_prior": ["boolean"],
                              "model_prior": ["boolean"], "self_training": ["boolean"],
                              "smoothing": [NON_NEGATIVE_REAL],
                              "worker_model": [StrOptions(set(WORKER_MODELS))]}

    def __init__(self, model: ModelSpec = "mlp", *, n_rounds: int = 1,
                 use_class_prior: bool = False, model_prior: bool = False,
                 self_training: bool = True, smoothing: float = 0.01,
                 worker_model: str = "confusion", **training):
        self.model = model
        self.n_rounds = n_rounds
        self.use_class_prior = use_class_prior
        self.model_prior = model_prior
        self.self_training = self_training
        self.smoothing = smoothing
        self.worker_model = worker_model
        self._set_training(training)

    def fit(self, X, annotations: Annotations) -> MBEM:
        X = align_items(X, annotations)
        k = annotations.n_classes
        votes = annotations.vote_counts
        targets = soft_majority(annotations)
        model, proba = self._fit_self_trained(X, targets, k, salt=Seeds.NETWORK)
        history = [{"round": 0, "targets": "soft majority vote",
                    "model_agrees_with_targets": _agreement(proba, targets)}]
        label_model = WORKER_MODELS[self.worker_model](
            max_iter=1, smoothing=self.smoothing, prior="uniform", class_smoothing=0.0,
            class_prior="estimate" if self.use_class_prior else "uniform")
        for r in range(1, self.n_rounds + 1):
            label_model.fit(annotations, init_posteriors=np.eye(k)[proba.argmax(axis=1)],
                            task_prior=proba if self.model_prior else None)
            targets = label_model.posteriors_
            model, proba = self._fit_self_trained(X, targets, k, salt=Seeds.ROUND * r)
            history.append({
                "round": r, "targets": "posterior",
                "changed_from_majority": float((targets.argmax(1) != votes.argmax(1)).mean()),
                "model_agrees_with_targets": _agreement(proba, targets)})
        self.model_ = model
        self.posteriors_ = targets
        self.confusion_ = label_model.confusion_
        self.class_prior_ = label_model.class_prior_
        self.classes_ = annotations.classes
        self.history_ = history
        return self


def _agreement(proba: np.ndarray, targets: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == targets.argmax(axis=1)).mean())
