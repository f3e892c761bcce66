"""Dawid–Skene: one confusion matrix per worker, fitted by EM.

Dawid, A. P. and Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
using the EM algorithm. Applied Statistics 28(1), 20–28.

Model: the true class of task t is ``y_t ~ q`` (times an optional per-task prior), and worker w
answers ``l`` with probability ``π[w, y_t, l]``, independently given ``y_t``:

    P(y_t = k | answers) ∝ q_k · τ_tk · Π_{(t, w, l)} π[w, k, l]            (E-step)
    π[w, k, l] ∝ Σ_{(t, w, l)} P(y_t = k | answers) + α,  q_k ∝ Σ_t P(y_t = k)   (M-step)

``α`` (``smoothing``) is a symmetric Dirichlet(1 + α) prior on every confusion row, which keeps
rows of rarely seen classes finite; EM then increases the MAP objective monotonically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator, check_annotations, check_gold, check_task_prior
from crowdlearn.aggregation.em import EStep, Params, Stats, run_em, stats_from_posteriors
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError

_TINY = 1e-300


def answer_frequencies(counts: np.ndarray) -> np.ndarray:
    """Confusions from (weighted) answer counts ``[worker, answered l, true k]``: each true
    class's answers normalised over l (the M-step); a true class a worker was never seen on
    (possible only without smoothing) gets uniform answers."""
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.where(total > 0, total, 1.0), 1.0 / counts.shape[1])


class DawidSkene(Aggregator):
    """Dawid–Skene EM with one K×K confusion matrix per worker.

    Parameters
    ----------
    max_iter:
        Most EM iterations (one E-step and one M-step each).
    tol:
        Stop when the objective per answer (log-likelihood plus the smoothing prior) gains
        less than this between iterations (the same criterion as crowd-kit's ``tol``).
    smoothing:
        Dirichlet pseudo-count ``α`` added to every confusion cell in the M-step.
    init:
        ``"majority"``: start from the soft majority vote; ``"task_prior"``: start from the
        ``task_prior`` passed to :meth:`fit`. ``fit(init_posteriors=...)`` overrides both.
    class_prior:
        ``"estimate"`` the class frequencies ``q`` in every M-step, or keep them ``"uniform"``
        (MBEM's official code computes its posterior without a class prior).
    n_threads:
        Threads for the E-step over chunks of tasks (default: the machine's cores, at most 8).

    Attributes
    ----------
    posteriors_ : T×K posterior class probabilities.
    class_prior_ : K estimated class frequencies ``q``.
    confusion_ : W×K×K, ``confusion_[w, k, l] = P(worker w answers l | true class k)``.
    skill_ : per worker, the prior-weighted probability of a correct answer.
    log_likelihood_ : objective per answer after each E-step (non-decreasing).
    n_iter_ : EM iterations run.

    Examples
    --------
    >>> ann = Annotations.from_csv("answers.csv")            # doctest: +SKIP
    >>> DawidSkene().fit(ann).predict()                      # doctest: +SKIP
    """

    def __init__(self, max_iter: int = 100, tol: float = 1e-5, smoothing: float = 0.01,
                 init: Literal["majority", "task_prior"] = "majority",
                 class_prior: Literal["estimate", "uniform"] = "estimate",
                 n_threads: int | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.init = init
        self.class_prior = class_prior
        self.n_threads = n_threads

    def fit(self, annotations: Annotations, task_prior: np.ndarray | pd.DataFrame | None = None,
            gold: Mapping | pd.Series | None = None,
            init_posteriors: np.ndarray | None = None) -> DawidSkene:
        """Fit by EM. ``task_prior`` (T×K probabilities, rows in ``annotations.tasks`` order or
        a DataFrame indexed by task id) multiplies into every E-step; ``gold`` (task id → label)
        clamps those tasks' posteriors to their known label; ``init_posteriors`` (T×K) are the
        posteriors the first M-step starts from (e.g. a model's one-hot predictions: with
        ``max_iter=1`` that is exactly MBEM's bootstrapping step)."""
        ann = check_annotations(annotations)
        self._check_params()
        log_task_prior = check_task_prior(ann, task_prior)
        gold_codes = check_gold(ann, gold)
        init = self._initial_posteriors(ann, log_task_prior, gold_codes, init_posteriors)
        with EStep(ann.incidence, ann.n_classes, log_task_prior, gold_codes,
                   n_threads=self.n_threads) as estep:
            params, history, n_iter = run_em(
                estep, stats_from_posteriors(ann.incidence, init), self._m_step(ann),
                n_answers=len(ann), max_iter=self.max_iter, tol=self.tol)
        post = estep.posteriors
        self._record(ann, post, np.argmax(post, axis=1))
        self.class_prior_ = np.exp(params.log_prior)
        self._set_worker_params(ann, params)
        self.log_likelihood_ = history
        self.n_iter_ = n_iter
        return self

    # the parts a relative overrides ------------------------------------------------
    def _m_step(self, ann: Annotations):
        w, k, alpha = ann.n_workers, ann.n_classes, float(self.smoothing)

        def m_step(stats: Stats) -> Params:
            pi = answer_frequencies(stats.counts.reshape(w, k, k) + alpha)
            log_pi = np.log(np.maximum(pi, _TINY))
            return Params(self._log_prior(stats), log_pi.reshape(w * k, k),
                          alpha * float(log_pi.sum()))

        return m_step

    def _log_prior(self, stats: Stats) -> np.ndarray:
        """log q: the posterior class frequencies, or uniform with ``class_prior="uniform"``."""
        k = len(stats.class_totals)
        if self.class_prior == "uniform":
            return np.full(k, -np.log(k))
        return np.log(np.maximum(stats.class_totals / stats.class_totals.sum(), _TINY))

    def _set_worker_params(self, ann: Annotations, params: Params) -> None:
        w, k = ann.n_workers, ann.n_classes
        self.confusion_ = np.exp(params.log_pi.reshape(w, k, k)).transpose(0, 2, 1).copy()
        self.skill_ = np.einsum("k,wkk->w", self.class_prior_, self.confusion_)

    # ---------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise InputError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not self.tol >= 0:
            raise InputError(f"tol must be >= 0, got {self.tol!r}")
        if not self.smoothing >= 0:
            raise InputError(f"smoothing must be >= 0, got {self.smoothing!r}")
        if self.init not in ("majority", "task_prior"):
            raise InputError(f"init must be 'majority' or 'task_prior', got {self.init!r}")
        if self.class_prior not in ("estimate", "uniform"):
            raise InputError(f"class_prior must be 'estimate' or 'uniform', "
                             f"got {self.class_prior!r}")

    def _initial_posteriors(self, ann: Annotations, log_task_prior, gold_codes,
                            given: np.ndarray | None = None) -> np.ndarray:
        if given is not None:
            post = np.array(given, dtype=np.float64)
            if post.shape != (ann.n_tasks, ann.n_classes) or not np.isfinite(post).all() or (
                    post < 0).any() or (post.sum(axis=1) <= 0).any():
                raise InputError(f"init_posteriors must be non-negative, finite, with a "
                                 f"positive sum in every row and shape ({ann.n_tasks}, "
                                 f"{ann.n_classes}); got shape {post.shape}")
            post /= post.sum(axis=1, keepdims=True)
        elif self.init == "task_prior":
            if log_task_prior is None:
                raise InputError("init='task_prior' needs a task_prior in fit()")
            post = np.exp(log_task_prior)
        else:
            counts = ann.vote_counts
            post = counts / counts.sum(axis=1, keepdims=True)
        if gold_codes is not None:
            post[gold_codes[0]] = 0.0
            post[gold_codes[0], gold_codes[1]] = 1.0
        return post
