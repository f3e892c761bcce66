"""Dawid–Skene: one confusion matrix per worker, fitted by EM.

Dawid, A. P. and Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
using the EM algorithm. Applied Statistics 28(1), 20–28.

Model: the true class of task t is ``y_t ~ q`` (times an optional per-task prior), and worker w
answers ``l`` with probability ``π[w, y_t, l]``, independently given ``y_t``:

    P(y_t = k | answers) ∝ q_k · τ_tk · Π_{(t, w, l)} π[w, k, l]                 (E-step)
    π[w, k, l] ∝ Σ_{(t, w, l)} P(y_t = k | answers) + a[k, l],
    q_k ∝ Σ_t P(y_t = k) + b_k                                                    (M-step)

``a`` is a Dirichlet(1 + a[k]) prior on every worker's confusion row k (MAP estimation). By
default (``prior="pooled"``) it is empirical Bayes: ``a[k] = K·α·m[k]``, with ``m`` the crowd's
average confusion measured once on the initial (majority-vote) posteriors. A worker with a
handful of answers then gets about the crowd's confusion, one with hundreds its own: the prior
vanishes with the worker's answer count instead of pulling every sparse worker towards uniform
(the hierarchical idea of Kim & Ghahramani 2012, "Bayesian classifier combination", and of Paun
et al. 2018, "Comparing Bayesian models of annotation", TACL 6, with the population mean fixed
by moments instead of sampled). ``prior="uniform"`` is the plain symmetric Dirichlet(1 + α)
(``smoothing=0.01, prior="uniform", class_smoothing=0`` is crowdlearn's former default and
close to crowd-kit's unsmoothed DS). ``b`` (``class_smoothing`` γ) is a Dirichlet prior on the
class frequencies centred on the initial posteriors' class shares, worth γ·T tasks: it keeps
the learned prior from drifting onto one class when class-biased workers abound. Both priors
are fixed before the first M-step, so EM increases the MAP objective (log-likelihood plus
``Σ a·log π + Σ b·log q``) monotonically.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator, as_annotations, check_gold, check_task_prior
from crowdlearn.aggregation.em import EStep, Params, Stats, run_em, stats_from_posteriors
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError

_TINY = 1e-300
CENTRE_CAP = 3.0  # most answers one worker's confusion row counts for in the crowd's average
CLASS_SMOOTHING = 0.1


def capped_weight(n: np.ndarray) -> np.ndarray:
    """Per-answer weight that makes a worker's ``n`` answers count as at most
    ``CENTRE_CAP`` in the crowd's average (zero answers: weight 0)."""
    return np.minimum(n, CENTRE_CAP) / np.where(n > 0, n, 1.0)


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
        ``α``: the mean Dirichlet pseudo-count per confusion cell (``K·α`` per confusion row).
        The default 1 with ``prior="pooled"`` was chosen on ten real crowds and on simulated
        sparse crowds (``docs/benchmarks.md``): it never falls below majority vote there.
    prior:
        Where the confusion prior's pseudo-counts go: ``"pooled"`` like the crowd's average
        confusion (each worker's row counted as at most a few answers, so that prolific
        workers do not define everyone's prior), or ``"uniform"`` over the answers.
    init:
        ``"majority"``: start from the soft majority vote; ``"task_prior"``: start from the
        ``task_prior`` passed to :meth:`fit`. ``fit(init_posteriors=...)`` overrides both.
    class_prior:
        ``"estimate"`` the class frequencies ``q`` in every M-step, or keep them ``"uniform"``
        (MBEM's official code computes its posterior without a class prior).
    class_smoothing:
        ``γ`` ≥ 0: strength, in units of the number of tasks, of a Dirichlet prior on the
        estimated class frequencies centred on the initial (majority-vote) class shares.
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
    converged_ : whether the objective's gain fell below ``tol`` (else a warning is raised).

    Examples
    --------
    >>> ann = Annotations.from_csv("answers.csv")            # doctest: +SKIP
    >>> DawidSkene().fit(ann).predict()                      # doctest: +SKIP
    """

    def __init__(self, max_iter: int = 100, tol: float = 1e-5, smoothing: float = 1.0,
                 prior: Literal["pooled", "uniform"] = "pooled",
                 init: Literal["majority", "task_prior"] = "majority",
                 class_prior: Literal["estimate", "uniform"] = "estimate",
                 class_smoothing: float = CLASS_SMOOTHING,
                 n_threads: int | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.prior = prior
        self.class_smoothing = class_smoothing
        self.init = init
        self.class_prior = class_prior
        self.n_threads = n_threads

    def fit(self, answers, task_prior: np.ndarray | pd.DataFrame | None = None,
            gold: Mapping | pd.Series | None = None,
            init_posteriors: np.ndarray | None = None, **frame_options) -> DawidSkene:
        """Fit by EM on ``answers`` (:class:`~crowdlearn.Annotations`, or a long DataFrame
        with ``frame_options`` as in :class:`~crowdlearn.aggregation.Aggregator`).

        ``task_prior`` (T×K probabilities, rows in ``annotations.tasks`` order or a DataFrame
        indexed by task id) multiplies into every E-step; ``gold`` (task id → label) clamps
        those tasks' posteriors to their known label (each task once, every task answered);
        ``init_posteriors`` (T×K) are the posteriors the first M-step starts from (e.g. a
        model's one-hot predictions: with ``max_iter=1`` that is exactly MBEM's bootstrapping
        step). Warns when EM stops at ``max_iter`` (> 1) without converging."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
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
        self.converged_ = n_iter < self.max_iter or (
            n_iter > 1 and history[-1] - history[-2] <= self.tol)
        if not self.converged_ and self.max_iter > 1:
            warnings.warn(f"{type(self).__name__}: EM stopped at max_iter={self.max_iter} "
                          f"without converging (last gain {history[-1] - history[-2]:.2g} per "
                          f"answer, tol {self.tol:g}); raise max_iter", CrowdlearnWarning,
                          stacklevel=2)
        # a model's posteriors or priors identify worker quality where answers alone cannot;
        # a single step (MBEM's, AggNet's) is not a fit run to its end
        self._warn_about_fit(ann, answers_only=task_prior is None and init_posteriors is None,
                             final=self.max_iter > 1)
        return self

    # the parts a relative overrides ------------------------------------------------
    def _m_step(self, ann: Annotations):
        w, k = ann.n_workers, ann.n_classes
        # the priors' pseudo-counts, set from the first M-step's statistics (those of the
        # initial posteriors) and then fixed, so that the MAP objective is one function
        pseudo: np.ndarray | None = None  # K×K [answered l, true k]
        class_pseudo: np.ndarray | None = None  # K

        def m_step(stats: Stats) -> Params:
            nonlocal pseudo, class_pseudo
            counts = stats.counts.reshape(w, k, k)
            if pseudo is None:
                pseudo = self._pseudo_counts(counts)
                class_pseudo = self._class_pseudo_counts(stats.class_totals)
            pi = answer_frequencies(counts + pseudo)
            log_pi = np.log(np.maximum(pi, _TINY))
            log_q = self._log_prior(stats, class_pseudo)
            penalty = float(np.einsum("lk,wlk->", pseudo, log_pi)) + float(class_pseudo @ log_q)
            return Params(log_q, log_pi.reshape(w * k, k), penalty)

        return m_step

    def _pseudo_counts(self, counts: np.ndarray) -> np.ndarray:
        """Dirichlet pseudo-counts ``a[l, k]`` of every worker's confusion row of true class k:
        ``smoothing`` per cell on average, spread uniformly (``prior="uniform"``) or like the
        crowd's average confusion (``prior="pooled"``). The average is taken over the initial
        posteriors' statistics ``counts`` (W × l × k), each worker's row weighing as many
        answers as it holds but at most ``CENTRE_CAP``."""
        k = counts.shape[1]
        alpha = float(self.smoothing)
        if self.prior == "uniform" or alpha == 0.0:
            return np.full((k, k), alpha)
        weight = capped_weight(counts.sum(axis=1, keepdims=True))  # per row, W × 1 × k
        pooled = np.einsum("wlk,wok->lk", counts, weight) + 1e-3
        return alpha * k * pooled / pooled.sum(axis=0, keepdims=True)

    def _class_pseudo_counts(self, class_totals: np.ndarray) -> np.ndarray:
        """Dirichlet pseudo-counts ``b`` of the class frequencies: ``class_smoothing`` times the
        initial posteriors' class totals (zero with ``class_prior="uniform"``)."""
        if self.class_prior == "uniform":
            return np.zeros_like(class_totals)
        return float(self.class_smoothing) * class_totals

    def _log_prior(self, stats: Stats, class_pseudo: np.ndarray) -> np.ndarray:
        """log q: the posterior class frequencies plus the pseudo-counts ``class_pseudo``, or
        uniform with ``class_prior="uniform"``."""
        k = len(stats.class_totals)
        if self.class_prior == "uniform":
            return np.full(k, -np.log(k))
        totals = stats.class_totals + class_pseudo
        return np.log(np.maximum(totals / totals.sum(), _TINY))

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
        if self.prior not in ("pooled", "uniform"):
            raise InputError(f"prior must be 'pooled' or 'uniform', got {self.prior!r}")
        if not self.class_smoothing >= 0:
            raise InputError(f"class_smoothing must be >= 0, got {self.class_smoothing!r}")
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
