"""IBCC: independent Bayesian classifier combination, fitted by mean-field variational Bayes.

Kim, H.-C. and Ghahramani, Z. (2012). Bayesian classifier combination. AISTATS, PMLR 22,
619–627 (the model, "IBCC"). Simpson, E., Roberts, S., Psorakis, I. and Smith, A. (2013).
Dynamic Bayesian combination of multiple imperfect classifiers. In *Decision Making and
Imperfection*, Springer, 1–35 (its variational-Bayes inference, "IBCC-VB").

Model (Dawid–Skene with priors on every parameter instead of point estimates):

    τ ~ Dirichlet(α)                          class proportions
    V[w, k, ·] ~ Dirichlet(β[k, ·])            worker w's confusion row of true class k
    y_t ~ Categorical(τ)                      true class of task t
    x_tw | y_t = k ~ Categorical(V[w, k, ·])   worker w's answer to task t

Mean-field posterior ``q(y) q(τ) q(V)``; coordinate ascent alternates the updates of
IBCC-VB (numbered here; ``r_tk = q(y_t = k)``):

    (1) q(τ) = Dir(ν),           ν_k = α_k + Σ_t r_tk                               VB-M
    (2) q(V[w, k]) = Dir(μ_wk),  μ_wkl = β_kl + Σ_{answers (t, w, l)} r_tk          VB-M
    (3) log r_tk = E[log τ_k] + Σ_{answers (t, w, l)} E[log V_wkl] + const            VB-E
    (4) E[log τ_k] = ψ(ν_k) − ψ(Σ_j ν_j),   E[log V_wkl] = ψ(μ_wkl) − ψ(Σ_j μ_wkj)

(1)–(2) are one sparse product of the incidence matrix's transpose with ``r``; (3) is the
Dawid–Skene E-step of :mod:`crowdlearn.aggregation.em` with the digamma-expected log
parameters (4) in place of log parameters. The evidence lower bound is that E-step's
normaliser minus the Kullback–Leibler divergences of the Dirichlet posteriors from their
priors:

    (5) ELBO = Σ_t log Σ_k exp(log r̃_tk) − KL(Dir(ν) ‖ Dir(α)) − Σ_{w,k} KL(Dir(μ_wk) ‖ Dir(β_k))

(``r̃`` the unnormalised weights of (3)). Evaluated after each VB-E step with the
``q(τ, V)`` that step used, it is non-decreasing (every step maximises it in one factor).

Defaults, from the code accompanying Li, Rubinstein and Cohn (ICML 2019;
github.com/yuan-li/truth-inference-at-scale, ``code/ibcc.py``), whose IBCC is the baseline
EBCC is compared with: ``β_kk = 4``, ``β_kl = 1`` (k ≠ l) up to K = 5 (see below beyond),
``α_k = 1``; start from the soft majority vote; at most 500 iterations; stop when no task's
class posterior moves by more than 10⁻³ between iterations.

*The confusion prior for many classes* (``confusion_off="auto"``, the default). Li et al.
evaluate on binary crowds, where ``β = (4, 1)`` presumes a worker right 4 times in 5 with the
weight of 5 answers. Kept at 1 per off-diagonal cell, the prior's mean accuracy falls as
4 / (K + 3) (0.08 at K = 50): a row then explains a task's answers better as noise around
one class than as accurate workers, and when answers are few every task is put in one class
(40 binary tasks declared with 50 classes: accuracy 0.525 against majority vote's 0.925;
K = 100 with one answer a task: 0.026 against the answers' 0.696). ``"auto"`` caps a row's
off-diagonal mass at its diagonal: ``β_kl = min(1, β_kk / (K − 1))``, so that the prior never
holds a worker likelier wrong than right (mean accuracy at least 1/2). Up to K = 5 that is
the authors' 1 exactly; beyond, the errors share the diagonal's weight. On the public crowds
it changes only labelme (K = 8, 0.764 → 0.784) and music (K = 10, 0.790 → 0.784)
(``docs/benchmarks.md``). A number gives every off-diagonal cell that value, as before.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from crowdlearn.aggregation.base import Aggregator, as_annotations, check_gold, check_task_prior
from crowdlearn.aggregation.em import EStep, Params, Stats, stats_from_posteriors
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.params import N_THREADS, NON_NEGATIVE_REAL, POSITIVE_REAL, Choice, Integers

MAX_ITER = 500
TOL = 1e-3
CONFUSION_DIAG = 4.0
CONFUSION_OFF = 1.0


# ---------------------------------------------------------------------- Dirichlet helpers
def dirichlet_posterior(post: np.ndarray, prior: np.ndarray,
                        axis: int = -1) -> tuple[np.ndarray, float]:
    """``E[log θ]`` under every ``Dir(post)`` along ``axis`` and ``Σ KL(Dir(post) ‖
    Dir(prior))``. ``prior`` has ``post``'s number of dimensions, its full length along
    ``axis`` and length 1 or full along the others (it broadcasts); the special functions
    are evaluated once per cell of ``post`` and once per cell of ``prior``:
    ``KL = ln Γ(Σ post) − Σ ln Γ(post) − ln Γ(Σ prior) + Σ ln Γ(prior)
    + Σ (post − prior) E[log θ]``."""
    total = post.sum(axis=axis, keepdims=True)
    elog = digamma(post) - digamma(total)
    prior_log_norm = gammaln(prior).sum() - gammaln(prior.sum(axis=axis)).sum()
    kl = (gammaln(total).sum() - gammaln(post).sum() + prior_log_norm * (post.size / prior.size)
          + ((post - prior) * elog).sum())
    return elog, float(kl)


def confusion_prior(k: int, diag: float, off: float | str) -> np.ndarray:
    """K×K Dirichlet concentrations ``β[k, l]``: ``diag`` on the diagonal, ``off`` elsewhere
    (``"auto"``: ``min(CONFUSION_OFF, diag / (K − 1))``, so that a row's off-diagonal mass
    never exceeds its diagonal; module docstring)."""
    if isinstance(off, str):
        off = min(CONFUSION_OFF, float(diag) / max(k - 1, 1))
    return np.full((k, k), float(off)) + np.eye(k) * (float(diag) - float(off))


def soft_majority(ann: Annotations) -> np.ndarray:
    """T×K vote shares: the starting class posteriors."""
    counts = ann.vote_counts
    return counts / counts.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------- the VB loop
@dataclass
class VBRun:
    """One run of coordinate ascent: the ELBO per answer after every VB-E step, the statistics
    of the final posteriors, the final class posteriors (T×K), iterations, convergence."""

    elbo: list[float]
    stats: Stats
    class_post: np.ndarray
    n_iter: int
    converged: bool
    last_change: float


def run_vb(estep: EStep, stats: Stats, m_step: Callable[[Stats], Params],
           class_post: np.ndarray, marginal: Callable[[np.ndarray], np.ndarray], *,
           n_answers: int, max_iter: int, tol: float) -> VBRun:
    """Alternate VB-M (``m_step``: statistics → expected log parameters and the KL penalty)
    and VB-E (``estep``) from the statistics of the starting posteriors, until no class
    posterior (``marginal`` of the E-step's posteriors, a new array: the E-step overwrites
    its posteriors in place) moves by more than ``tol``."""
    history: list[float] = []
    change = np.inf
    for _ in range(max_iter):
        params = m_step(stats)
        stats = estep(params)
        history.append((stats.log_likelihood + params.log_penalty) / n_answers)
        new = marginal(estep.posteriors)
        change = float(np.abs(new - class_post).max())
        class_post = new
        if change <= tol:
            break
    return VBRun(history, stats, class_post, len(history), change <= tol, change)


def warn_unconverged(model: Aggregator, run: VBRun, max_iter: int | None = None) -> None:
    """Warn when ``run`` stopped at its iteration budget (``max_iter``, default the model's)."""
    max_iter = model.max_iter if max_iter is None else max_iter
    if not run.converged and max_iter > 1:
        warnings.warn(f"{type(model).__name__}: variational inference stopped at max_iter="
                      f"{max_iter} without converging (last change of a class "
                      f"posterior {run.last_change:.2g}, tol {model.tol:g}); raise max_iter",
                      CrowdlearnWarning, stacklevel=3)


# ---------------------------------------------------------------------- validation
BCC_PARAMETERS = {
    "max_iter": [Integers(1)], "tol": [NON_NEGATIVE_REAL],
    "class_concentration": [POSITIVE_REAL, Choice("empirical")],
    "confusion_diag": [POSITIVE_REAL], "confusion_off": [POSITIVE_REAL], "n_threads": N_THREADS}
"""The constraints of the parameters IBCC and EBCC share."""


def class_concentration(value, start: np.ndarray) -> np.ndarray:
    """``α``: the number given for every class, or (``"empirical"``) the starting posteriors'
    class totals (the soft majority vote's, as in Li et al.'s ``empirical_prior``)."""
    if isinstance(value, str):
        return np.maximum(start.sum(axis=0), 1e-3)
    return np.full(start.shape[1], float(value))


# ---------------------------------------------------------------------- the estimator
class IBCC(Aggregator):
    """Independent Bayesian classifier combination (Kim & Ghahramani 2012) by variational
    Bayes (Simpson et al. 2013): Dawid–Skene with Dirichlet priors on the class proportions
    and on every worker's confusion rows, integrated over instead of point-estimated.

    Parameters
    ----------
    max_iter:
        Most VB iterations (one VB-M and one VB-E step each); 500 as in Li et al.'s code.
    tol:
        Stop when no task's class posterior changes by more than this between iterations
        (Li et al.'s criterion, 10⁻³).
    class_concentration:
        ``α``: Dirichlet concentration of the class proportions, the same for every class
        (default 1, Li et al.'s IBCC), or ``"empirical"``: the soft majority vote's class
        totals (as their EBCC's ``empirical_prior``).
    confusion_diag, confusion_off:
        ``β``: Dirichlet concentrations of every confusion row on its diagonal (a correct
        answer; default 4) and on each cell off it, Li et al.'s ``a_v`` and ``b_v``.
        ``confusion_off="auto"`` (default): ``min(1, confusion_diag / (K − 1))``, their 1 up to
        K = 5, beyond which a row's errors share the diagonal's weight (see above); a number:
        that value.
    n_threads:
        Threads for the E-step over chunks of tasks (default: the machine's cores, at most 8).

    Attributes
    ----------
    posteriors_ : T×K variational posterior ``q(y_t = k)``.
    confusion_prior_ : K×K, the Dirichlet concentrations ``β[k, l]`` of every confusion row.
    class_prior_ : K, the posterior mean of the class proportions ``E[τ]``.
    confusion_ : W×K×K posterior mean confusion, ``E[V[w, k, l]]`` = P(w answers l | true k).
    confusion_concentration_ : W×K×K, the Dirichlet posterior ``μ`` behind ``confusion_``.
    skill_ : W, ``Σ_k E[τ_k] E[V[w, k, k]]``: each worker's expected accuracy.
    elbo_ : the evidence lower bound per answer after each iteration (non-decreasing).
    n_iter_ : iterations run.
    converged_ : whether the class posteriors settled within ``tol`` (else a warning).
    """

    _parameter_constraints = {**BCC_PARAMETERS,
                              "confusion_off": [POSITIVE_REAL, Choice("auto")]}

    def __init__(self, max_iter: int = MAX_ITER, *, tol: float = TOL,
                 class_concentration: float | str = 1.0,
                 confusion_diag: float = CONFUSION_DIAG, confusion_off: float | str = "auto",
                 n_threads: int | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.class_concentration = class_concentration
        self.confusion_diag = confusion_diag
        self.confusion_off = confusion_off
        self.n_threads = n_threads

    def fit(self, answers, task_prior: np.ndarray | pd.DataFrame | None = None,
            gold: Mapping | pd.Series | None = None, **frame_options) -> IBCC:
        """Fit on ``answers`` (:class:`~crowdlearn.Annotations`, or a long DataFrame with
        ``frame_options`` as in :class:`~crowdlearn.aggregation.Aggregator`).

        ``task_prior`` (T×K probabilities) multiplies into every VB-E step; ``gold`` (task id
        → label) clamps those tasks' posteriors to their known label."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        log_task_prior = check_task_prior(ann, task_prior)
        codes = check_gold(ann, gold)
        w, k = ann.n_workers, ann.n_classes
        start = soft_majority(ann)
        alpha = class_concentration(self.class_concentration, start)
        if codes is not None:
            start[codes[0]] = np.eye(k)[codes[1]]
        beta = confusion_prior(k, self.confusion_diag, self.confusion_off)  # [k, l]
        beta_lk = beta.T  # [answered l, true k]

        def m_step(stats: Stats) -> Params:
            log_tau, kl_tau = dirichlet_posterior(alpha + stats.class_totals, alpha)
            # [worker, answered l, true k]
            log_v, kl_v = dirichlet_posterior(stats.counts.reshape(w, k, k) + beta_lk,
                                              beta_lk[None], axis=1)
            return Params(log_tau, log_v.reshape(w * k, k), -(kl_tau + kl_v))

        with EStep(ann.incidence, k, log_task_prior, codes, n_threads=self.n_threads) as estep:
            run = run_vb(estep, stats_from_posteriors(ann.incidence, start), m_step, start,
                         np.array, n_answers=len(ann), max_iter=self.max_iter, tol=self.tol)
            post = np.ascontiguousarray(estep.posteriors)
        self._record(ann, post, np.argmax(post, axis=1))
        # q(τ) and q(V) of the final posteriors (one more VB-M step)
        nu = alpha + run.stats.class_totals
        self.class_prior_ = nu / nu.sum()
        self.confusion_concentration_ = (run.stats.counts.reshape(w, k, k)
                                         + beta_lk).transpose(0, 2, 1).copy()
        self.confusion_ = self.confusion_concentration_ / self.confusion_concentration_.sum(
            axis=2, keepdims=True)
        self.skill_ = np.einsum("k,wkk->w", self.class_prior_, self.confusion_)
        self.confusion_prior_ = beta
        self.elbo_ = run.elbo
        self.n_iter_ = run.n_iter
        self.converged_ = run.converged
        warn_unconverged(self, run)
        self._warn_about_fit(ann, answers_only=task_prior is None)
        return self
