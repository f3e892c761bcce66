"""EBCC: enhanced Bayesian classifier combination, which models correlated workers through
latent subtypes of every class; fitted by mean-field variational Bayes.

Li, Y., Rubinstein, B. I. P. and Cohn, T. (2019). Exploiting worker correlation for label
aggregation in crowdsourcing. ICML, PMLR 97, 3886–3895.

IBCC (:mod:`crowdlearn.aggregation.ibcc`) assumes workers independent given a task's class.
EBCC splits every class k into M subtypes and assumes workers independent given the pair
(class, subtype) only: workers who err alike on one kind of item share a subtype whose
confusion rows say so, and their agreement there is explained instead of counted as
independent evidence (a mixture of such rank-one terms can represent correlated answers).
The model:

    τ ~ Dirichlet(α)                             class proportions
    π_k ~ Dirichlet(a_π / M · 1_M)               subtype proportions within class k
    V[w, k, m, ·] ~ Dirichlet(β[k, ·])            worker w's answers on subtype m of class k
    y_t ~ Categorical(τ),   g_t | y_t = k ~ Categorical(π_k)
    x_tw | y_t = k, g_t = m ~ Categorical(V[w, k, m, ·])

Mean-field posterior ``q(y, g) q(τ) q(π) q(V)``, the pair (y_t, g_t) one categorical of K·M
states per task (``r_tkm``); coordinate ascent alternates the paper's variational updates
(numbered here; ``E[log θ_i] = ψ(c_i) − ψ(Σ_j c_j)`` under Dir(c)):

    (1) q(τ) = Dir(ν),          ν_k = α_k + Σ_t Σ_m r_tkm                          VB-M
    (2) q(π_k) = Dir(η_k),      η_km = a_π/M + Σ_t r_tkm                           VB-M
    (3) q(V[w, k, m]) = Dir(μ), μ_wkml = β_kl + Σ_{answers (t, w, l)} r_tkm          VB-M
    (4) log r_tkm = E[log τ_k] + E[log π_km] + Σ_{answers (t, w, l)} E[log V_wkml] + const   VB-E
    (5) q(y_t = k) = Σ_m r_tkm

This is the IBCC kernel with K·M "classes" while the answers keep K labels: the same sparse
products (:class:`~crowdlearn.aggregation.em.EStep`), an incidence matrix T × W·K against
expected log confusions W·K × K·M. The ELBO is the normaliser of (4) summed over tasks minus
the KL divergences of the Dirichlet posteriors (1)–(3) from their priors; it is
non-decreasing over iterations.

The posterior is multimodal in how classes split into subtypes, so the fit starts from
several random splits and keeps the one of highest ELBO, as the authors' experiments do.

The model, its priors' roles and the inference are the authors' (github.com/yuan-li/truth-
inference-at-scale, ``code/ebcc.py`` and ``code/test_ebcc.ipynb``), as are these defaults:

* M = 10 subtypes per class; ``a_π = 0.1`` in all per class (0.01 per subtype: sparse
  subtype weights, so unused subtypes empty out);
* empirical-Bayes class prior (their ``empirical_prior=True``, used for every reported
  result): ``α_k`` = the soft majority vote's total of class k (``Σ_t`` vote share of k);
* start: class posteriors from the soft majority vote, each split over the M subtypes by
  a Dirichlet(1_M) draw; stop when no task's class posterior (5) moves by more than 10⁻³;
  keep the start of highest ELBO.

Two defaults differ; ``EBCC(**AUTHORS)`` (``confusion_prior="fixed", n_seeds=40,
max_iter=500``) restores the authors' settings exactly.

*Confusion prior* (``confusion_prior``). The authors fix ``β_kk = 4``, ``β_kl = 1`` (k ≠ l)
for every (worker, class, subtype) row: every worker is presumed right 4 times in K + 3,
with errors spread evenly. Each subtype row sees only a share of its worker's answers, so on
sparse crowds this prior decides most rows, and under the variational expectation
``ψ(μ_l) − ψ(Σ μ)`` a worker with few answers of an unexpected kind is read as a
diagonal-heavy worker. The default ``"pooled"`` keeps the authors' mass per row
(``4 + (K − 1)``) but shapes it like the crowd's average confusion: ``β[k, ·] =
(β_kk + (K − 1) β_kl) · m[k, ·]``, ``m`` measured once on the soft majority vote with every
worker's row counted as at most 3 answers (so prolific workers do not define everyone's
prior). This is an empirical-Bayes reading of the hyperpriors on the confusion
concentrations of Kim & Ghahramani (2012) and of the partially pooled models of Paun et al.
(2018, "Comparing Bayesian models of annotation", TACL 6), the population mean set by
moments as in :class:`~crowdlearn.aggregation.DawidSkene`'s pooled prior. It is
fixed before the first VB step, so the ELBO is one function and starts compare by it.

*Starts and iterations* (``n_seeds``, ``max_iter``: ``"auto"``). Each start is a full fit.
One iteration costs ``answers × K·M`` multiply-adds in each of its two sparse products (M
times an IBCC iteration) and, in the VB-M step, a digamma and a log-gamma on each of the
``W × K × K·M`` confusion cells; one such cell takes about ``DENSE_COST = 20`` answer·pair
updates' time (measured with one thread: 110–165 ns a cell, 3–7 ns an answer·pair), and with
many classes or many workers the cells dominate (900 answers from 30 workers at K = 200:
240M against 1.8M). ``"auto"`` runs the authors' 40 starts of at most 500 iterations while
a pool of ``WORK_BUDGET = 10¹⁰`` such updates (``10¹⁰ / (answers × K·M + 20 W·K·K·M)``
iterations) lasts, the starts drawing on it in turn: a start gets 500 iterations or what is
left (at least ``MIN_ITER = 10``), and no further start begins once fewer than 10 are left.
On the ten public crowds of ``docs/benchmarks.md`` (at most 28k answers) the pool is never
the limit (web, the largest per iteration, spends 5,370 of its 6,012), so their fits are the
authors'. At 10M answers from 2,000 workers (M = 10) it is one start of 49 iterations at
K = 2 and 19 at K = 5 (on the simulated crowds of ``benchmarks/aggregator_speed.py``: 27.7 s
and 34.6 s with one thread on an idle 2-core machine); at K = 200
with 900 answers one start of 41 iterations; with a million one-answer workers at K = 2,
one start of 12. Such a start stops before the 10⁻³ criterion (a warning says so). Pass
integers for other budgets.

*Point estimates* (``point_estimates``; default ``"none"``, the paper's mean-field VB). Under
(4) a confusion row counts an answer as ``E[log V_wkml] = ψ(μ_l) − ψ(Σ μ)``, well below the
log of the smoothed frequency ``log(μ_l / Σ μ)`` that Dawid–Skene's MAP M-step uses when the
row has few answers. ``"confusion"`` replaces q(V) by the point estimate ``V̂ = μ / Σ μ`` (the
posterior mean, which is the posterior mode under the prior ``Dir(β + 1)``) and keeps q(y, g),
q(τ) and q(π); ``"all"`` also point-estimates τ and π (priors ``Dir(α + 1)``,
``Dir(a_π/M + 1)``). This is variational EM as Neal & Hinton (1998, "A view of the EM
algorithm that justifies incremental, sparse, and other variants", in *Learning in Graphical
Models*, Kluwer, 355–368) describe it: the objective, (4)'s normaliser plus ``log p(V̂)``
minus the remaining KL divergences, bounds ``log p(x, V̂)`` from below and is non-decreasing
(``elbo_`` records it). On the ten public crowds neither helps (means 0.8484 and 0.8465
against the default's 0.8516; ``docs/benchmarks.md``): the option is there for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import gammaln

from crowdlearn.aggregation.base import Aggregator, as_annotations, check_gold, check_task_prior
from crowdlearn.aggregation.dawid_skene import capped_weight
from crowdlearn.aggregation.em import EStep, Params, Stats, stats_from_posteriors
from crowdlearn.aggregation.ibcc import (
    BCC_PARAMETERS,
    CONFUSION_DIAG,
    CONFUSION_OFF,
    MAX_ITER,
    TOL,
    VBRun,
    class_concentration,
    confusion_prior,
    dirichlet_posterior,
    run_vb,
    soft_majority,
    warn_unconverged,
)
from crowdlearn.annotations import Annotations
from crowdlearn.params import POSITIVE_REAL, SEED, Choice, Integers

N_SUBTYPES = 10
N_SEEDS = 40
SUBTYPE_CONCENTRATION = 0.1
WORK_BUDGET = 1e10  # answer·pair updates, all starts together (module docstring)
DENSE_COST = 20.0  # answer·pair updates that one confusion cell of the VB-M step costs
MIN_ITER = 10
# the settings of Li et al.'s experiments, whatever the crowd's size
AUTHORS = {"confusion_prior": "fixed", "n_seeds": N_SEEDS, "max_iter": MAX_ITER}


class EBCC(Aggregator):
    """Enhanced Bayesian classifier combination (Li, Rubinstein & Cohn 2019): IBCC whose
    classes each mix ``n_subtypes`` latent subtypes with their own worker confusions, so that
    workers who make the same mistakes on the same kind of items are modelled as such.

    Parameters
    ----------
    n_subtypes:
        ``M``, latent subtypes per class (default 10, the authors'). ``n_subtypes=1`` is IBCC.
    n_seeds:
        Random starts (splits of the majority vote over the subtypes); the fit of highest ELBO
        is kept; each start costs one full fit. ``"auto"`` (default): the authors' 40, or
        fewer when the iteration pool (see above) runs out first (at least 1).
    seed:
        Seed of the starts (restart i draws from ``SeedSequence(seed).spawn``'s i-th child, so
        it does not depend on ``n_seeds``); None: fresh entropy.
    max_iter, tol:
        Most VB iterations of each start, and its stopping rule: no task's class posterior
        changes by more than ``tol`` (10⁻³) between iterations. ``max_iter="auto"``
        (default): the authors' 500, or what is left of the pool of ``WORK_BUDGET``
        answer·pair updates that all starts share (at least 10).
    class_concentration:
        ``α``: ``"empirical"`` (default: the soft majority vote's class totals, the authors'
        ``empirical_prior=True``) or a positive number for every class.
    confusion_prior:
        ``"pooled"`` (default): every confusion row's Dirichlet has the mass
        ``confusion_diag + (K − 1)·confusion_off`` spread like the crowd's average confusion
        (empirical Bayes, see above); ``"fixed"``: ``confusion_diag`` on the diagonal and
        ``confusion_off`` off it, as the authors.
    subtype_concentration:
        ``a_π``: total Dirichlet concentration of each class's subtype proportions, spread
        evenly over the subtypes (default 0.1, the authors').
    confusion_diag, confusion_off:
        ``β``: Dirichlet concentrations of every (worker, class, subtype) confusion row on its
        diagonal (default 4) and off it (default 1), the authors' ``a_v`` and ``b_v``.
    point_estimates:
        ``"none"`` (default): variational posteriors for every parameter, as the paper;
        ``"confusion"``: the worker confusion rows point-estimated (posterior mean) while the
        rest stays variational; ``"all"``: the class and subtype proportions too (see above).
    n_threads:
        Threads for the E-step over chunks of tasks (default: the machine's cores, at most 8).

    Attributes
    ----------
    posteriors_ : T×K class posterior ``Σ_m q(y_t = k, g_t = m)`` of the kept start.
    class_prior_ : K, ``E[τ]``.
    subtype_prior_ : K×M, ``E[π_k]``: each class's subtype proportions.
    subtype_confusion_ : W×K×M×K, ``E[V[w, k, m, l]]``.
    confusion_ : W×K×K, ``Σ_m E[π_km] E[V[w, k, m, l]]`` = P(w answers l | true class k).
    skill_ : W, ``Σ_k E[τ_k] confusion_[w, k, k]``.
    elbo_ : the kept start's ELBO per answer after each iteration (non-decreasing; with
        ``point_estimates``, the variational-EM objective that replaces it).
    seed_elbos_ : final ELBO per answer of every start; ``best_seed_``: the index kept.
    confusion_prior_ : K×K, the Dirichlet concentrations ``β[k, l]`` of every confusion row.
    n_seeds_ : the starts run; ``max_iter_``: the kept start's iteration budget.
    n_iter_, converged_ : iterations and convergence of the kept start.
    """

    _parameter_constraints = {
        **BCC_PARAMETERS, "n_subtypes": [Integers(1)], "n_seeds": [Integers(1), Choice("auto")],
        "seed": SEED, "max_iter": [Integers(1), Choice("auto")],
        "confusion_prior": [Choice("pooled", "fixed")],
        "subtype_concentration": [POSITIVE_REAL],
        "point_estimates": [Choice("none", "confusion", "all")]}

    def __init__(self, n_subtypes: int = N_SUBTYPES, *, n_seeds: int | str = "auto",
                 seed: int | None = 0, max_iter: int | str = "auto", tol: float = TOL,
                 class_concentration: float | str = "empirical",
                 confusion_prior: Literal["pooled", "fixed"] = "pooled",
                 subtype_concentration: float = SUBTYPE_CONCENTRATION,
                 confusion_diag: float = CONFUSION_DIAG, confusion_off: float = CONFUSION_OFF,
                 point_estimates: Literal["none", "confusion", "all"] = "none",
                 n_threads: int | None = None):
        self.confusion_prior = confusion_prior
        self.point_estimates = point_estimates
        self.n_subtypes = n_subtypes
        self.n_seeds = n_seeds
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol
        self.class_concentration = class_concentration
        self.subtype_concentration = subtype_concentration
        self.confusion_diag = confusion_diag
        self.confusion_off = confusion_off
        self.n_threads = n_threads

    def fit(self, answers, task_prior: np.ndarray | pd.DataFrame | None = None,
            gold: Mapping | pd.Series | None = None, **frame_options) -> EBCC:
        """Fit on ``answers`` (:class:`~crowdlearn.Annotations`, or a long DataFrame with
        ``frame_options`` as in :class:`~crowdlearn.aggregation.Aggregator`) from
        ``n_seeds`` random subtype splits (fewer with ``"auto"`` on a large crowd), keeping
        the fit of highest ELBO.

        ``task_prior`` (T×K probabilities) multiplies into every VB-E step; ``gold`` (task id
        → label) restricts those tasks to their known class (their subtype stays latent)."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        w, k, m = ann.n_workers, ann.n_classes, int(self.n_subtypes)
        km = k * m
        log_task_prior = check_task_prior(ann, task_prior)
        codes = check_gold(ann, gold)
        left = iteration_pool(len(ann), w, k, m)
        start = soft_majority(ann)
        alpha = class_concentration(self.class_concentration, start)
        if codes is not None:
            start[codes[0]] = np.eye(k)[codes[1]]
        log_pair_prior = _pair_log_prior(log_task_prior, codes, ann.n_tasks, k, m)
        beta = confusion_prior(k, self.confusion_diag, self.confusion_off)  # [k, l]
        if self.confusion_prior == "pooled":  # the same mass per row, shaped like the crowd
            beta = beta.sum(axis=1, keepdims=True) * pooled_confusion(ann, start)
        beta_lc = np.repeat(beta.T, m, axis=1)  # [answered l, pair c = k·M + m]
        eta0 = float(self.subtype_concentration) / m
        to_class = np.kron(np.eye(k), np.ones((m, 1)))  # K·M × K: sums the subtypes

        # each factor: E[log θ] and its KL (variational) or log θ̂ and −log p(θ̂) (point)
        proportions = dirichlet_map if self.point_estimates == "all" else dirichlet_posterior
        confusions = dirichlet_posterior if self.point_estimates == "none" else dirichlet_map

        def m_step(stats: Stats) -> Params:
            totals = stats.class_totals.reshape(k, m)
            log_tau, kl_tau = proportions(alpha + totals.sum(axis=1), alpha)
            log_pi, kl_pi = proportions(eta0 + totals, np.full((1, m), eta0))
            # [worker, answered l, pair c = k·M + m]
            log_v, kl_v = confusions(stats.counts.reshape(w, k, km) + beta_lc, beta_lc[None],
                                     axis=1)
            return Params((log_tau[:, None] + log_pi).reshape(km), log_v.reshape(w * k, km),
                          -(kl_tau + kl_pi + kl_v))

        def marginal(pair_post: np.ndarray) -> np.ndarray:
            return pair_post @ to_class

        seeds = np.random.SeedSequence(self.seed).spawn(
            N_SEEDS if self.n_seeds == "auto" else int(self.n_seeds))
        best: VBRun | None = None
        elbos, caps = [], []
        with EStep(ann.incidence, km, log_pair_prior, n_threads=self.n_threads) as estep:
            for i, seq in enumerate(seeds):
                max_iter = start_budget(i, self.n_seeds, self.max_iter, left)
                if not max_iter:
                    break
                split = _random_split(start, m, np.random.default_rng(seq))
                run = run_vb(estep, stats_from_posteriors(ann.incidence, split), m_step,
                             start, marginal, n_answers=len(ann), max_iter=max_iter,
                             tol=self.tol)
                del split
                left -= run.n_iter
                caps.append(max_iter)
                elbos.append(run.elbo[-1])
                if best is None or run.elbo[-1] > best.elbo[-1]:
                    best, self.best_seed_ = run, i
        # summed over subtypes: rounding may put a sure class a hair above 1
        post = np.minimum(best.class_post, 1.0, order="C")
        self._record(ann, post, np.argmax(post, axis=1))
        # q(τ), q(π) and q(V) of the kept posteriors (one more VB-M step)
        eta = eta0 + best.stats.class_totals.reshape(k, m)
        nu = alpha + best.stats.class_totals.reshape(k, m).sum(axis=1)
        mu = (best.stats.counts.reshape(w, k, k, m) + beta.T[None, :, :, None]).transpose(
            0, 2, 3, 1)  # [worker, true k, subtype, answered l]
        self.class_prior_ = nu / nu.sum()
        self.subtype_prior_ = eta / eta.sum(axis=1, keepdims=True)
        self.subtype_confusion_ = mu / mu.sum(axis=3, keepdims=True)
        self.confusion_ = np.einsum("km,wkml->wkl", self.subtype_prior_,
                                    self.subtype_confusion_)
        self.skill_ = np.einsum("k,wkk->w", self.class_prior_, self.confusion_)
        self.elbo_ = best.elbo
        self.seed_elbos_ = np.asarray(elbos)
        self.confusion_prior_ = beta
        self.n_seeds_, self.max_iter_ = len(elbos), caps[self.best_seed_]
        self.n_iter_ = best.n_iter
        self.converged_ = best.converged
        warn_unconverged(self, best, self.max_iter_)
        self._warn_about_fit(ann, answers_only=task_prior is None)
        return self


def iteration_cost(n_answers: int, n_workers: int, k: int, m: int) -> float:
    """One VB iteration in answer·pair updates: ``answers × K·M`` in each of the two sparse
    products, plus the VB-M step's ``W × K × K·M`` confusion cells (a digamma and a log-gamma
    each), each worth ``DENSE_COST`` updates (module docstring)."""
    return float(n_answers) * k * m + DENSE_COST * float(n_workers) * k * k * m


def iteration_pool(n_answers: int, n_workers: int, k: int, m: int) -> float:
    """VB iterations that ``WORK_BUDGET`` buys on this crowd."""
    return WORK_BUDGET / max(iteration_cost(n_answers, n_workers, k, m), 1.0)


def start_budget(i: int, n_seeds: int | str, max_iter: int | str, left: float) -> int:
    """Iterations start ``i`` may run (0: no more starts), ``left`` iterations of the pool
    being unspent. Given numbers are obeyed; ``n_seeds="auto"`` runs up to ``N_SEEDS``
    starts while at least ``MIN_ITER`` iterations are left (the first always);
    ``max_iter="auto"`` gives a start ``MAX_ITER`` or what is left, at least ``MIN_ITER``."""
    if n_seeds == "auto":
        if i >= N_SEEDS or (i > 0 and left < MIN_ITER):
            return 0
    elif i >= n_seeds:
        return 0
    if max_iter != "auto":
        return int(max_iter)
    return int(np.clip(left, MIN_ITER, MAX_ITER))


def pooled_confusion(ann: Annotations, post: np.ndarray) -> np.ndarray:
    """K×K ``m[k, l]``: the crowd's average confusion under the posteriors ``post``, each
    worker's row of true class k counted as at most ``CENTRE_CAP`` answers (as Dawid–Skene's
    pooled prior, :func:`~crowdlearn.aggregation.dawid_skene.capped_weight`), so that a few
    prolific workers do not define everyone's prior."""
    w, k = ann.n_workers, ann.n_classes
    counts = np.asarray(ann.incidence.T @ post).reshape(w, k, k)  # [worker, answered l, k]
    weighted = counts * capped_weight(counts.sum(axis=1, keepdims=True))
    pooled = weighted.sum(axis=0) + 1e-3  # [l, k]; + 1e-3: a class nobody saw is uniform
    return (pooled / pooled.sum(axis=0, keepdims=True)).T


def dirichlet_map(post: np.ndarray, prior: np.ndarray,
                  axis: int = -1) -> tuple[np.ndarray, float]:
    """Point estimates in place of :func:`~crowdlearn.aggregation.ibcc.dirichlet_posterior`:
    ``log θ̂`` with ``θ̂ = post / Σ post`` along ``axis`` (the posterior mean of ``Dir(post)``,
    which is the mode of the posterior under the prior ``Dir(prior + 1)``, so θ̂ maximises
    ``counts · log θ + log Dir(θ; prior + 1)`` as Dawid–Skene's MAP M-step does), and
    ``−Σ log Dir(θ̂; prior + 1)``, the penalty that takes the KL's place in the objective.
    ``prior`` broadcasts against ``post`` as there."""
    log_theta = np.log(post) - np.log(post.sum(axis=axis, keepdims=True))
    shifted = prior + 1.0
    log_norm = gammaln(shifted.sum(axis=axis)).sum() - gammaln(shifted).sum()
    log_density = log_norm * (post.size / prior.size) + (prior * log_theta).sum()
    return log_theta, -float(log_density)


def _random_split(class_post: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """T × K·M starting posteriors: each task's class probabilities split over the M subtypes
    by a Dirichlet(1_M) draw (normalised unit exponentials), as in the authors' code."""
    t, k = class_post.shape
    draw = rng.standard_exponential((t, k, m))
    draw *= (class_post / draw.sum(axis=2))[:, :, None]
    return draw.reshape(t, k * m)


def _pair_log_prior(log_task_prior: np.ndarray | None, codes, n_tasks: int, k: int,
                    m: int) -> np.ndarray | None:
    """T × K·M log prior of the (class, subtype) pairs: the task prior of each pair's class,
    and −∞ outside a gold task's known class (its subtype is left free)."""
    if log_task_prior is None and codes is None:
        return None
    out = np.zeros((n_tasks, k)) if log_task_prior is None else log_task_prior.copy()
    if codes is not None:
        out[codes[0]] = np.where(np.eye(k, dtype=bool)[codes[1]], out[codes[0]], -np.inf)
    return np.repeat(out, m, axis=1)
