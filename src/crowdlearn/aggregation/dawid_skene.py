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

import array
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import wait
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crowdlearn.aggregation.base import Aggregator, as_annotations, check_gold, check_task_prior
from crowdlearn.aggregation.em import (
    EStep,
    Params,
    Stats,
    default_threads,
    row_block,
    run_em,
    stats_from_posteriors,
    thread_pool,
)
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.labels import positions
from crowdlearn.params import N_THREADS, NON_NEGATIVE_REAL, Choice, Integers
from crowdlearn.proba import checked_rows

_TINY = 1e-300
REFIT_BELOW = 100_000  # answers: partial_fit refits smaller crowds (see its docstring)
_SLACK = 1e-9  # for rounding in partial_fit's label bounds (sums taken in other orders)
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
    initial_error_strategy:
        How ``fit(initial_error=...)`` starts EM from known worker confusions (crowd-kit's two
        strategies): ``"addition"`` adds them, as counts of past answers, to the first
        M-step's statistics (workers may be missing); ``"assign"`` takes them, each row
        normalised, as the first confusions (every worker needs one).
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

    _parameter_constraints = {
        "max_iter": [Integers(1)], "tol": [NON_NEGATIVE_REAL],
        "smoothing": [NON_NEGATIVE_REAL], "prior": [Choice("pooled", "uniform")],
        "init": [Choice("majority", "task_prior")],
        "class_prior": [Choice("estimate", "uniform")],
        "class_smoothing": [NON_NEGATIVE_REAL],
        "initial_error_strategy": [Choice("addition", "assign")], "n_threads": N_THREADS}

    def __init__(self, max_iter: int = 100, *, tol: float = 1e-5, smoothing: float = 1.0,
                 prior: Literal["pooled", "uniform"] = "pooled",
                 init: Literal["majority", "task_prior"] = "majority",
                 class_prior: Literal["estimate", "uniform"] = "estimate",
                 class_smoothing: float = CLASS_SMOOTHING,
                 initial_error_strategy: Literal["addition", "assign"] = "addition",
                 n_threads: int | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.prior = prior
        self.class_smoothing = class_smoothing
        self.init = init
        self.class_prior = class_prior
        self.initial_error_strategy = initial_error_strategy
        self.n_threads = n_threads

    def fit(self, answers, task_prior: np.ndarray | pd.DataFrame | None = None,
            gold: Mapping | pd.Series | None = None,
            init_posteriors: np.ndarray | None = None,
            initial_error: np.ndarray | pd.DataFrame | None = None,
            **frame_options) -> DawidSkene:
        """Fit by EM on ``answers`` (:class:`~crowdlearn.Annotations`, or a long DataFrame
        with ``frame_options`` as in :class:`~crowdlearn.aggregation.Aggregator`).

        ``task_prior`` (T×K probabilities, rows in ``annotations.tasks`` order or a DataFrame
        indexed by task id) multiplies into every E-step; ``gold`` (task id → label) clamps
        those tasks' posteriors to their known label (each task once, every task answered);
        ``init_posteriors`` (T×K) are the posteriors the first M-step starts from (e.g. a
        model's one-hot predictions: with ``max_iter=1`` that is exactly MBEM's bootstrapping
        step). ``initial_error`` starts from known worker confusions (see
        ``initial_error_strategy``): a W×K×K array ``[worker, true, answered]``, another
        model's :meth:`confusions` (index levels ``(worker, true_label)``, columns the answered
        label) or crowd-kit's ``errors_`` (levels ``(worker, label)``, the answered label;
        columns the true label); a frame with other index names is refused. Warns when EM
        stops at ``max_iter`` (> 1) without converging."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        log_task_prior = check_task_prior(ann, task_prior)
        gold_codes = check_gold(ann, gold)
        init = self._initial_posteriors(ann, log_task_prior, gold_codes, init_posteriors)
        fixed: dict = {}
        m_step = self._m_step(ann.n_workers, ann.n_classes, fixed)
        if initial_error is not None:
            m_step = self._started_from(ann, initial_error, m_step)
        with EStep(ann.incidence, ann.n_classes, log_task_prior, gold_codes,
                   n_threads=self.n_threads) as estep:
            params, history, n_iter, stats = run_em(
                estep, stats_from_posteriors(ann.incidence, init), m_step,
                n_answers=len(ann), max_iter=self.max_iter, tol=self.tol)
        post = estep.posteriors
        self._finish(ann, post, params, history, n_iter)
        # what partial_fit continues from (the fixed priors, the answers, their statistics,
        # an index of the task ids and the posteriors' margins)
        self._state_ = _FitState.start(fixed, ann, stats,
                                       log_task_prior is None and gold_codes is None, post,
                                       params)
        self._state_.restartable = init_posteriors is None and initial_error is None
        # a model's posteriors or priors identify worker quality where answers alone cannot;
        # a single step (MBEM's, AggNet's) is not a fit run to its end
        self._warn_about_fit(ann, answers_only=task_prior is None and init_posteriors is None,
                             final=self.max_iter > 1)
        return self

    def _finish(self, ann: Annotations, post: np.ndarray, params: Params,
                history: list[float], n_iter: int) -> None:
        """Record a fit's results (and warn when EM did not converge)."""
        self._record(ann, post, np.argmax(post, axis=1))
        self._record_em(ann, params, history, n_iter)

    def _record_em(self, shape, params: Params, history: list[float], n_iter: int,
                   max_iter: int | None = None, caller: str = "",
                   stacklevel: int = 4) -> None:
        """Record the class prior, the worker parameters and EM's history (``shape``: the
        answers, or anything with their ``n_workers`` and ``n_classes``), and warn when EM
        stopped at ``max_iter`` (default the model's) without converging. Shared by
        :meth:`fit`, :meth:`partial_fit` and the out-of-core engines."""
        max_iter = self.max_iter if max_iter is None else max_iter
        self.class_prior_ = np.exp(params.log_prior)
        self._set_worker_params(shape, params)
        self.log_likelihood_ = history
        self.n_iter_ = n_iter
        self.converged_ = n_iter < max_iter or (
            n_iter > 1 and history[-1] - history[-2] <= self.tol)
        if not self.converged_ and max_iter > 1:
            warnings.warn(f"{type(self).__name__}{caller}: EM stopped at max_iter={max_iter} "
                          f"without converging (last gain {history[-1] - history[-2]:.2g} per "
                          f"answer, tol {self.tol:g}); raise max_iter", CrowdlearnWarning,
                          stacklevel=stacklevel)

    def _started_from(self, ann: Annotations, initial_error, m_step):
        """The M-step whose first call starts from ``initial_error``: with
        ``initial_error_strategy="addition"`` its counts are added to the first M-step's
        statistics (history counts, as extra answers); with ``"assign"`` its rows,
        normalised, are the first confusions (every worker needs one)."""
        given, known = _confusion_counts(ann, initial_error)
        strategy = self.initial_error_strategy
        if strategy == "assign" and not known.all():
            missing = ann.workers[int(np.flatnonzero(~known)[0])]
            raise InputError(f"initial_error_strategy='assign' needs a confusion matrix for "
                             f"every worker; {int((~known).sum())} have none, e.g. "
                             f"{missing!r} (or use 'addition')")
        w, k = ann.n_workers, ann.n_classes
        first = [True]

        def started(stats: Stats) -> Params:
            if not first[0]:
                return m_step(stats)
            first[0] = False
            extra = given.transpose(0, 2, 1).reshape(w * k, k)  # [w·l, true k]
            if strategy == "addition":
                return m_step(Stats(stats.counts + extra, stats.class_totals,
                                    stats.log_likelihood))
            params = m_step(stats)  # fixes the priors; its confusions are replaced
            pi = answer_frequencies(extra.reshape(w, k, k))
            return Params(params.log_prior, np.log(np.maximum(pi, _TINY)).reshape(w * k, k),
                          params.log_penalty)

        return started

    def partial_fit(self, answers, *, max_iter: int | None = None, refresh: int = 2,
                    refit_below: int = REFIT_BELOW, **frame_options) -> DawidSkene:
        """Fold new ``answers`` (for new or already seen tasks and workers) into the fitted
        model without refitting from scratch (incremental EM: Neal and Hinton 1998, "A view
        of the EM algorithm that justifies incremental, sparse, and other variants").

        Only the tasks that receive answers are re-estimated by EM: their old share of the
        sufficient statistics is replaced by iterations over them alone (all their answers,
        old and new; at most ``max_iter``, default the model's, with the fit's stopping
        rule on the whole objective, the other tasks' posteriors held fixed); worker
        confusions and the class prior come from the updated totals, with the priors of the
        first fit. ``refresh`` rounds bring the other tasks up to date, after each of the
        first ``refresh - 1`` iterations and after the last: every task carries a bound on
        how far the parameters may move before its most probable class can change (half its
        log-ratio of its two most probable classes, against the accumulated change of the
        log confusions of its answers and of the log class prior), and a round gives the
        tasks whose bound is used up an exact E-step and corrects the statistics. After the
        last round every other task's label is provably the one the final parameters give;
        its probabilities are those of the parameters it was last computed with.
        ``refresh=0`` skips this (cheapest; labels may lag a refit's, and later calls still
        account for the drift). ``log_likelihood_`` and ``n_iter_`` then describe this EM
        (the objective per answer, less the fixed entropy of the other tasks' posteriors).

        Below ``refit_below`` answers in all (old and new; default 100,000), the model is
        refitted on all of them instead, from :meth:`fit`'s starting point, with the priors
        re-estimated: that costs milliseconds there, and a small crowd's EM has several
        optima, between which the incremental update, started from the earlier fit, can
        settle elsewhere than a refit (a 400-task, 10-class crowd of 1,200 answers: 5% new
        answers gave 0.658 accuracy against a refit's 0.668, 20% new 0.637 against 0.668).
        A fit started from ``init_posteriors`` or ``initial_error`` is always continued
        incrementally (a refit would not know that start). A refit runs as :meth:`fit` does
        (the model's ``max_iter``; ``max_iter`` and ``refresh`` given here are not used).
        ``refit_below=0``: always incremental.

        Cost: in proportion to the new answers and the earlier answers of the tasks they
        touch, plus a few passes over one number per task; the steps over the touched tasks
        share the model's ``n_threads`` as the E-step does. The answers are kept grouped by
        task, with the later ones appended and merged in once they reach a quarter of the
        rest.

        New classes cannot be added (an :class:`InputError`: refit with ``fit``); a worker
        answering a task it already answered is refused (``partial_fit`` adds answers, it
        does not replace them). A model fitted with a ``task_prior`` cannot be continued.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "_state_")
        self._check_params()  # set_params may have changed them since the fit
        if not (isinstance(refresh, (int, np.integer)) and refresh >= 0):
            raise InputError(f"refresh must be an integer >= 0, got {refresh!r}")
        if max_iter is not None and not (isinstance(max_iter, (int, np.integer))
                                         and max_iter >= 1):
            raise InputError(f"max_iter must be a positive integer, got {max_iter!r}")
        if not (isinstance(refit_below, (int, np.integer)) and refit_below >= 0):
            raise InputError(f"refit_below must be an integer >= 0, got {refit_below!r}")
        state = self._state_
        if not state.plain:
            raise InputError("partial_fit continues a fit made without task_prior or gold "
                             "labels; refit with fit() on all answers")
        new = as_annotations(answers, **frame_options)
        batch = state.recode(new)
        k, n_old = state.n_classes, state.n_tasks
        w, n = len(batch.workers), len(batch.task_ids.ids)
        m_step = self._m_step(w, k, state.fixed)
        # the new answers by task; the tasks that receive them (ascending, the known first)
        order = np.argsort(batch.task)
        task, worker, label = batch.task[order], batch.worker[order], batch.label[order]
        first = np.ones(len(task), dtype=bool)
        first[1:] = task[1:] != task[:-1]
        touched = task[first]
        row = np.cumsum(first) - 1
        n_seen = int(np.searchsorted(touched, n_old))
        column = worker * k + label
        # all their answers, the earlier ones first
        threads = default_threads(self.n_threads)
        rows = state.rows(touched, w * k, row, column, n_threads=threads)
        repeats = np.concatenate(_by_parts(len(touched), threads, lambda a, b, i, j: _repeats(
            row_block(rows, a, b), k, row[i:j] - a, worker[i:j]) + i, row))
        if len(repeats):
            i = int(order[repeats].min())  # the first in the order given
            raise InputError(f"worker {batch.workers[batch.worker[i]]!r} already answered "
                             f"task {batch.task_ids.ids[batch.task[i]]!r}; partial_fit "
                             "adds answers, it does not replace them (refit to change an "
                             "answer)")
        if state.restartable and len(state.answers) + len(task) < refit_below:
            grown = state.grown(batch, task, column, state.stats, state.params)
            return self.fit(grown.answers)  # in the coding grown so far
        # where EM starts: the touched tasks' posteriors so far (a new task: its vote shares)
        start = np.empty((len(touched), k))
        start[:n_seen] = _take_rows(self.posteriors_, touched[:n_seen])
        votes = np.bincount(row * k + label, minlength=len(touched) * k).reshape(-1, k)
        start[n_seen:] = votes[n_seen:] / votes[n_seen:].sum(axis=1, keepdims=True)
        shares = _by_parts(len(touched), threads, lambda a, b, i, j: stats_from_posteriors(
            row_block(rows, a, b), start[a:b]))
        sub_start = sum(shares[1:], shares[0])
        fresh = np.stack([np.bincount(column, start[row, c], minlength=w * k)
                          for c in range(k)], axis=1)
        earlier = sub_start.counts - fresh  # the touched tasks' earlier answers' share
        # the other tasks' statistics: the totals less the touched tasks' earlier share
        counts = np.zeros((w * k, k))
        counts[:len(state.stats.counts)] = state.stats.counts
        rest = Stats(counts - earlier, state.stats.class_totals - start[:n_seen].sum(axis=0),
                     0.0)
        posteriors = np.empty((n, k), order="F")
        posteriors[:n_old] = self.posteriors_
        labels = np.empty(n, dtype=self.labels_.dtype)
        labels[:n_old] = self.labels_
        margins = state.margins
        margins.grow(n, column, w * k)
        # a column whose answers all lie in the touched tasks cannot move another task
        # (each task's posteriors sum to one: the statistics' rows sum to answer counts)
        watched = rest.counts.sum(axis=1) > 0.5
        current = [state.params]

        def step(sub_stats: Stats) -> Params:
            params = m_step(sub_stats + rest)
            margins.moved(current[0], params, watched)
            current[0] = params
            return params

        skip = np.zeros(n, dtype=bool)
        skip[touched] = True
        rounds = [0]
        with EStep(rows, k, n_threads=self.n_threads) as sub_step:

            def e_step(params: Params) -> Stats:
                sub_stats = sub_step(params)
                if rounds[0] < refresh - 1:  # the first rounds, before M-steps
                    state.refresh(posteriors, labels, params, rest, skip, threads)
                    rounds[0] += 1
                # the objective: the other tasks' share is their expected complete-data
                # log-likelihood under their posteriors so far (Neal and Hinton's free
                # energy less their posteriors' fixed entropy), so EM increases it
                held = float(np.einsum("ck,ck->", rest.counts, params.log_pi)
                             + rest.class_totals @ params.log_prior)
                return Stats(sub_stats.counts, sub_stats.class_totals,
                             sub_stats.log_likelihood + held)

            params, history, n_iter, sub_stats = run_em(
                e_step, sub_start, step, n_answers=len(state.answers) + len(task),
                max_iter=max_iter or self.max_iter, tol=self.tol)
            if refresh and n_iter >= refresh:  # the last round, with the final parameters
                state.refresh(posteriors, labels, params, rest, skip, threads)
            post = sub_step.posteriors
        _put_rows(posteriors, touched, post)
        labels[touched] = np.concatenate(_by_parts(
            len(touched), threads, lambda a, b, i, j: margins.settle(
                touched[a:b], post[a:b], row_block(rows, a, b), (row[i:j] - a, column[i:j])),
            row))
        self._state_ = state.grown(batch, task, column, sub_stats + rest, params)
        # only re-estimated tasks' labels can have changed: no argmax over every task
        self._record(self._state_.answers, posteriors, labels)
        self._record_em(self._state_.answers, params, history, n_iter,
                        max_iter or self.max_iter, ".partial_fit", stacklevel=3)
        return self

    # the parts a relative overrides ------------------------------------------------
    def _m_step(self, w: int, k: int, fixed: dict):
        """The M-step for ``w`` workers and ``k`` classes. The priors' pseudo-counts are set
        from the first M-step's statistics (those of the initial posteriors) into ``fixed``
        and then kept, so that the MAP objective is one function (and ``partial_fit``
        reuses them)."""

        def m_step(stats: Stats) -> Params:
            counts = stats.counts.reshape(w, k, k)
            if "pseudo" not in fixed:
                fixed["pseudo"] = self._pseudo_counts(counts)  # K×K [answered l, true k]
                fixed["class_pseudo"] = self._class_pseudo_counts(stats.class_totals)
            pseudo, class_pseudo = fixed["pseudo"], fixed["class_pseudo"]
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
    def _initial_posteriors(self, ann: Annotations, log_task_prior, gold_codes,
                            given: np.ndarray | None = None) -> np.ndarray:
        if given is not None:
            post = checked_rows(given, "init_posteriors", ann.tasks, rows="tasks",
                                shape=(ann.n_tasks, ann.n_classes), normalised=False)
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


def _confusion_counts(ann: Annotations, initial_error) -> tuple[np.ndarray, np.ndarray]:
    """``initial_error`` as W×K×K ``[worker, true, answered]`` for the workers of ``ann``
    (zeros where absent) and a mask of the workers it covers. Accepts an array of that
    shape or a frame in one of two layouts, told apart by the names of its index levels:
    ours, as :meth:`Aggregator.confusions` returns it (levels ``(worker, true_label)``, one
    column per answered label), or crowd-kit's ``errors_``, as crowd-kit's ``initial_error``
    documents it (levels ``(worker, label)``, the answered label, one column per true label).
    Other names are refused: the two layouts are each other's transpose per worker, and a
    frame read in the wrong one would start EM from the wrong confusions without a word."""
    w, k = ann.n_workers, ann.n_classes
    if isinstance(initial_error, pd.DataFrame):
        frame = initial_error
        names = list(frame.index.names)
        if names not in (["worker", "true_label"], ["worker", "label"]):
            raise InputError(f"initial_error's index levels are {names}; name them "
                             "['worker', 'true_label'] with one column per answered label "
                             "(as confusions() returns), or ['worker', 'label'] with one "
                             "column per true label (crowd-kit's errors_)")
        crowd_kit = names[1] == "label"  # rows: answered label, columns: true label
        classes = pd.Index(ann.classes).map(str)
        columns = frame.columns.map(str)
        if set(columns) != set(classes):
            raise InputError(f"initial_error's columns {list(frame.columns)} are not the "
                             f"classes {list(ann.classes)}")
        values = frame.to_numpy(dtype=np.float64)[:, columns.get_indexer(classes)]
        worker = pd.Index(ann.workers).map(str).get_indexer(
            frame.index.get_level_values(0).map(str))
        label = classes.get_indexer(frame.index.get_level_values(1).map(str))
        if (label < 0).any():
            bad = frame.index.get_level_values(1)[int(np.flatnonzero(label < 0)[0])]
            raise InputError(f"initial_error names {names[1].replace('_', ' ')} {bad!r}, not "
                             "one of the classes")
        keep = worker >= 0  # workers not in these answers are ignored
        given = np.zeros((w, k, k))
        if crowd_kit:
            given[worker[keep], :, label[keep]] = values[keep]
        else:
            given[worker[keep], label[keep]] = values[keep]
        known = np.zeros(w, dtype=bool)
        known[worker[keep]] = True
    else:
        given = np.asarray(initial_error, dtype=np.float64)
        if given.shape != (w, k, k):
            raise InputError(f"initial_error must have shape (workers, classes, classes) = "
                             f"{(w, k, k)}, got {given.shape}")
        known = given.sum(axis=(1, 2)) > 0
    if not np.isfinite(given).all() or (given < 0).any():
        raise InputError("initial_error must hold finite, non-negative counts or "
                         "probabilities")
    return given, known


@dataclass
class _FitState:
    """What :meth:`DawidSkene.partial_fit` continues from: the priors fixed by the first fit,
    every answer so far, the statistics of the current posteriors and the parameters that
    produced them; and, so that a batch costs in proportion to its size, the answers grouped
    by task (an incidence matrix built once, ``grouped``, plus the answers appended since:
    their task codes and incidence columns), the task ids' index and each task's margin."""

    fixed: dict  # the priors' pseudo-counts, fixed by the first fit
    answers: Annotations  # every answer (after partial_fit joined only when read)
    stats: Stats  # sufficient statistics of the current posteriors
    plain: bool  # fitted without a task prior or gold labels
    params: Params  # the parameters last estimated
    grouped: sp.csr_matrix  # incidence rows of the first tasks: the answers merged so far
    extra_task: np.ndarray  # answers appended since: task codes
    extra_column: np.ndarray  # ... and incidence columns (worker·K + label)
    task_ids: _TaskIds
    worker_index: pd.Index
    margins: _Margins
    restartable: bool = False  # fitted from fit's own start: a refit reproduces it

    @classmethod
    def start(cls, fixed: dict, ann: Annotations, stats: Stats, plain: bool,
              post: np.ndarray, params: Params) -> _FitState:
        """The state after :meth:`DawidSkene.fit`: its incidence matrix, an index of the
        task ids (int64 keys when they are integers) and the posteriors' margins."""
        incidence = ann.incidence
        return cls(fixed, ann, stats, plain, params, incidence, np.zeros(0, np.int64),
                   np.zeros(0, np.int64), _TaskIds.of(ann.tasks, ann.__dict__.get("task_index")),
                   ann.worker_index,
                   _Margins.start(post, incidence, stats.counts))

    @property
    def n_tasks(self) -> int:
        return len(self.task_ids.ids)

    @property
    def n_classes(self) -> int:
        return len(self.answers.classes)

    @property
    def worker_counts(self) -> np.ndarray:
        return self.answers.worker_counts

    def recode(self, new: Annotations) -> _Batch:
        """``new`` in this coding, its unseen tasks and workers appended. A class the model
        does not know is an :class:`InputError`. Costs O(new answers and ids)."""
        classes = self.answers.classes
        class_map = positions(classes, new.classes)
        if (class_map < 0).any():
            extra = new.classes[int(np.flatnonzero(class_map < 0)[0])]
            raise InputError(f"partial_fit cannot add a class: {extra!r} is not one of "
                             f"{list(classes)}; refit with fit() on all answers")
        code = self.task_ids.find(new.tasks)
        unseen = np.flatnonzero(code < 0)
        code[unseen] = self.n_tasks + np.arange(len(unseen))
        task_ids = self.task_ids.extended([new.tasks[i] for i in unseen])
        workers, worker_map, worker_index = _extend(self.answers.workers, new.workers,
                                                    self.worker_index)
        return _Batch(code[new.task], worker_map[new.worker].astype(np.int64),
                      class_map[new.label].astype(np.int64), task_ids, workers, worker_index)

    def rows(self, tasks: np.ndarray, n_columns: int, row: np.ndarray | None = None,
             column: np.ndarray | None = None, n_threads: int = 1) -> sp.csr_matrix:
        """The answers so far of the task codes ``tasks`` (ascending), as incidence rows with
        ``n_columns`` columns, each row followed by the entries (``row``: position in
        ``tasks``, ascending; ``column``) given. Costs O(those answers + the answers
        appended since the last merge), shared by ``n_threads`` threads."""
        groups = []
        if len(self.extra_task) and len(tasks):
            wanted = np.zeros(max(self.n_tasks, int(tasks[-1]) + 1), dtype=bool)
            wanted[tasks] = True
            mine = np.flatnonzero(wanted[self.extra_task])
            at = np.searchsorted(tasks, self.extra_task[mine])
            order = np.argsort(at)
            groups.append((at[order], self.extra_column[mine[order]]))
        if row is not None:
            groups.append((row, column))
        return _csr(*_gathered_in_parts(self.grouped, tasks, tuple(groups), n_threads),
                    (len(tasks), n_columns))

    def weigh(self, column_weights: np.ndarray) -> np.ndarray:
        """Per task, the sum of ``column_weights`` over its answers (one pass over all)."""
        total = np.zeros(self.n_tasks)
        m = self.grouped
        total[:m.shape[0]] = m @ column_weights[:m.shape[1]]
        if len(self.extra_task):
            total += np.bincount(self.extra_task, column_weights[self.extra_column],
                                 minlength=self.n_tasks)
        return total

    def refresh(self, posteriors: np.ndarray, labels: np.ndarray, params: Params,
                rest: Stats, skip: np.ndarray, n_threads: int = 1) -> int:
        """One refresh round of :meth:`DawidSkene.partial_fit`: the tasks (other than
        ``skip``) whose label the parameters' drift may have changed get their posteriors
        under ``params`` (written into ``posteriors`` and ``labels``), and ``rest`` the
        change of their statistics. Returns how many tasks that was."""
        margins = self.margins
        n_columns = len(params.log_pi)
        near = margins.suspects(skip, n_threads)
        if not len(near):
            return 0
        if 4 * len(near) > len(skip):  # most tasks: one product beats gathering their rows
            at = margins.exceeded(near, self.weigh(margins.steps)[near])
            moved = near[at]
            block = self.rows(moved, n_columns, n_threads=n_threads)
        else:
            rows = self.rows(near, n_columns, n_threads=n_threads)
            at = margins.exceeded(near, rows @ margins.steps)
            moved, block = near[at], rows[at]
        if not len(moved):
            return 0
        after = _posteriors(block, params)
        change = after - _take_rows(posteriors, moved)
        rest.counts += np.asarray(block.T @ change)
        rest.class_totals += change.sum(axis=0)
        _put_rows(posteriors, moved, after)
        labels[moved] = margins.settle(moved, after, block)
        return len(moved)

    def grown(self, batch: _Batch, task: np.ndarray, column: np.ndarray, stats: Stats,
              params: Params) -> _FitState:
        """The state once ``batch`` (its answers' task codes and incidence columns: ``task``,
        ``column``) is folded in, with the statistics and parameters it led to. The
        appended answers are merged into ``grouped`` once they reach a quarter of it (O(all
        answers), so O(1) per answer amortised)."""
        counts = np.zeros(len(batch.workers), dtype=np.int64)
        counts[:len(self.worker_counts)] = self.worker_counts
        counts += np.bincount(batch.worker, minlength=len(batch.workers))
        parts = _parts(self.answers)
        parts.append((batch.task.astype(np.int32), batch.worker.astype(np.int32),
                      batch.label.astype(parts[0][2].dtype)))
        answers = _Appended(parts, batch.task_ids.ids, batch.workers, self.answers.classes,
                            counts)
        grouped = self.grouped
        extra_task = np.concatenate([self.extra_task, task])
        extra_column = np.concatenate([self.extra_column, column])
        if 4 * len(extra_task) > grouped.nnz:
            order = np.argsort(extra_task)
            grouped = _csr(*_gathered(grouped, np.arange(len(batch.task_ids.ids)),
                                      ((extra_task[order], extra_column[order]),)),
                           (len(batch.task_ids.ids), len(batch.workers) * self.n_classes))
            extra_task, extra_column = extra_task[:0], extra_column[:0]
        return _FitState(self.fixed, answers, stats, True, params, grouped, extra_task,
                         extra_column, batch.task_ids, batch.worker_index, self.margins,
                         self.restartable)


@dataclass
class _Batch:
    """New answers in a fitted model's coding (their unseen tasks and workers appended)."""

    task: np.ndarray  # task code of each answer
    worker: np.ndarray  # worker code of each answer
    label: np.ndarray  # class code of each answer
    task_ids: _TaskIds  # every task id, the new ones appended
    workers: list  # every worker id, the new ones appended
    worker_index: pd.Index


class _TaskIds:
    """Finds the codes of task ids in time proportional to the ids looked up. When every id
    is an integer (checked once, when the model is fitted: one pass over the ids), a code is
    the id less the first id if the ids are consecutive (the usual 0…T−1), else found by
    binary search over the ids sorted; otherwise through a pandas Index (hashed at the
    first look-up). Either way an id matches as :func:`crowdlearn.labels.positions` matches
    it."""

    def __init__(self, ids: list, keys: np.ndarray | None = None,
                 order: np.ndarray | None = None, first: int | None = None,
                 index: pd.Index | None = None):
        self.ids = ids  # the task ids, in code order
        self.first = first  # the ids are first, first + 1, … (None: they are not)
        self.keys = keys  # else the ids as sorted int64 (None: not all integers)
        self.order = order  # code of each key (None: the keys are in code order)
        self.index = index

    @classmethod
    def of(cls, ids: list, index: pd.Index | None = None) -> _TaskIds:
        keys = _integers(ids)
        if keys is None:
            return cls(ids, index=index)
        if len(keys) < 2 or bool((keys[1:] > keys[:-1]).all()):
            if int(keys[-1]) - int(keys[0]) == len(keys) - 1:
                return cls(ids, first=int(keys[0]), index=index)
            return cls(ids, keys, index=index)
        order = np.argsort(keys, kind="stable")
        return cls(ids, keys[order], order, index=index)

    def find(self, wanted: list) -> np.ndarray:
        """The code of each of ``wanted`` (−1: not a known task)."""
        integer = self.first is not None or self.keys is not None
        probe = _integers(wanted) if integer else None
        if probe is None:
            if self.index is None:
                self.index = pd.Index(self.ids)
            return positions(self.ids, wanted, self.index)
        if self.first is not None:
            code = probe - self.first
            return np.where((code >= 0) & (code < len(self.ids)), code, -1)
        at = np.minimum(np.searchsorted(self.keys, probe), len(self.keys) - 1)
        code = at if self.order is None else self.order[at]
        return np.where(self.keys[at] == probe, code, -1)

    def extended(self, added: list) -> _TaskIds:
        """These ids with ``added`` (ids not among them) appended."""
        if not added:
            return self
        ids = self.ids + added
        integer = self.first is not None or self.keys is not None
        more = _integers(added) if integer else None
        if more is None:
            index = None if self.index is None else self.index.append(pd.Index(added))
            return _TaskIds(ids, index=index)
        n = len(self.ids)
        if self.first is not None and bool(
                (more == self.first + n + np.arange(len(more))).all()):
            return _TaskIds(ids, first=self.first)
        keys = self.keys if self.first is None else self.first + np.arange(n)
        codes = np.arange(n, len(ids))
        rank = np.argsort(more, kind="stable")
        if self.order is None and bool((rank == np.arange(len(rank))).all()) and (
                more[0] > keys[-1]):
            return _TaskIds(ids, np.concatenate([keys, more]))
        at = np.searchsorted(keys, more[rank])
        order = np.arange(n) if self.order is None else self.order
        return _TaskIds(ids, np.insert(keys, at, more[rank]), np.insert(order, at, codes[rank]))


def _integers(ids: list) -> np.ndarray | None:
    """``ids`` as int64 when every one is an integer (else None; text is rejected at its
    first element without a pass over the rest)."""
    if not len(ids) or not isinstance(ids[0], int) or isinstance(ids[0], bool):
        return None
    try:  # a C loop that refuses anything but integers (floats and text included)
        return np.frombuffer(array.array("q", ids), dtype=np.int64)
    except (TypeError, OverflowError):
        return None


class _Margins:
    """How far each task's most probable class is from changing, kept up to date by
    :meth:`DawidSkene.partial_fit`.

    When the parameters change, the log-odds of two classes of a task move by at most twice
    the sum, over its answers, of the largest change of its worker's log confusions for the
    answered label, plus twice the largest change of the log class prior; the most probable
    class stays so while that is less than the task's margin ``m`` (log-ratio of its two
    most probable classes). :meth:`moved` accumulates those changes over every M-step since
    the fit: per incidence column (``steps``, S), the largest of their ratios to a fixed
    per-column ``scale`` s (``total``, E) and the prior's (``prior``, Q). A task computed
    when they read S₀, E₀, Q₀ keeps ``reach = m/2 + row·S₀ + Q₀``, tested exactly against
    ``row·S + Q`` (O(its answers)), and ``loose = m/2 + σ·E₀ + Q₀`` (σ = row·s, its
    ``weight``), tested in O(1) against ``σ·E + Q``, which bounds the exact test: no column's
    step exceeds its scale times E's (E only counts columns with answers outside the tasks
    being re-estimated, the only columns of the tasks tested). Any fixed positive scale is
    correct; one over a column's smallest expected count (its answers of its least likely
    true class), a step's usual size, keeps the loose test nearly as tight as the exact
    one."""

    def __init__(self, weights: np.ndarray, loose: np.ndarray, reach: np.ndarray,
                 steps: np.ndarray, scale: np.ndarray):
        self.weights, self.loose, self.reach = weights, loose, reach
        self.steps, self.scale = steps, scale
        self.total = 0.0
        self.prior = 0.0

    @classmethod
    def start(cls, post: np.ndarray, incidence: sp.csr_matrix, counts: np.ndarray,
              ) -> _Margins:
        """The margins of a fit's posteriors ``post`` (its ``incidence`` and statistics'
        ``counts``): one pass over the answers."""
        scale = 1.0 / (1.0 + counts.min(axis=1))
        half = _log_margins(post) / 2
        return cls(incidence @ scale, half, half.copy(), np.zeros(len(scale)), scale)

    def grow(self, n_tasks: int, column: np.ndarray, n_columns: int) -> None:
        """Room for new tasks (to be settled) and new columns (a new worker's scale: one
        over its answers in that column, ``column`` being the new answers')."""
        more = n_tasks - len(self.weights)
        if more > 0:
            self.weights = np.concatenate([self.weights, np.zeros(more)])
            self.loose = np.concatenate([self.loose, np.full(more, np.inf)])
            self.reach = np.concatenate([self.reach, np.full(more, np.inf)])
        if n_columns > len(self.steps):
            count = np.bincount(column, minlength=n_columns)[len(self.steps):]
            self.steps = np.concatenate([self.steps, np.zeros(len(count))])
            self.scale = np.concatenate([self.scale, 1.0 / (1.0 + count)])

    def moved(self, before: Params, after: Params, watched: np.ndarray) -> None:
        """Account for the change from ``before`` to ``after`` (columns beyond ``before``'s
        are new workers', whose answers are all being re-estimated); ``watched``: the
        columns with answers in tasks not being re-estimated."""
        n = len(before.log_pi)
        step = np.abs(after.log_pi[:n] - before.log_pi).max(axis=1)
        self.steps[:n] += step
        self.total += float((step / self.scale[:n])[watched[:n]].max(initial=0.0))
        self.prior += float(np.abs(after.log_prior - before.log_prior).max())

    def suspects(self, skip: np.ndarray, n_threads: int = 1) -> np.ndarray:
        """The tasks (ascending, none of ``skip``) that the loose test cannot clear."""

        def part(a: int, b: int, *_) -> np.ndarray:
            bound = np.multiply(self.weights[a:b], self.total)
            bound += self.prior + _SLACK
            near = np.flatnonzero(bound >= self.loose[a:b]) + a
            return near[~skip[near]]

        return np.concatenate(_by_parts(len(self.weights), n_threads, part))

    def exceeded(self, tasks: np.ndarray, weighed: np.ndarray) -> np.ndarray:
        """Positions in ``tasks`` that the exact test cannot clear (``weighed``: their
        rows·S)."""
        return np.flatnonzero(weighed + (self.prior + _SLACK) >= self.reach[tasks])

    def settle(self, tasks: np.ndarray, post: np.ndarray, rows: sp.csr_matrix,
               added: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``tasks`` now have posteriors ``post`` (their answers: ``rows``) under the latest
        parameters; ``added`` (row in ``tasks``, column) are the answers they received since
        their weights were last set. Returns their most probable classes."""
        best, top, second = _top_two(post)
        half = np.log(np.maximum(top, _TINY) / np.maximum(second, _TINY)) / 2
        if added is not None:
            row, column = added
            self.weights[tasks] += np.bincount(row, self.scale[column], minlength=len(tasks))
        weights = self.weights[tasks]
        self.loose[tasks] = half + weights * self.total + self.prior
        self.reach[tasks] = half + rows @ self.steps + self.prior
        return best


def _log_margins(post: np.ndarray) -> np.ndarray:
    """Per row, the log-ratio of its two largest probabilities (never more than the exact
    one when the smaller underflows; about 690 with one class)."""
    if post.shape[1] == 2:  # the usual case, in fewer passes
        return np.abs(np.log(np.maximum(post[:, 0], _TINY) / np.maximum(post[:, 1], _TINY)))
    _, top, second = _top_two(post)
    return np.log(np.maximum(top, _TINY) / np.maximum(second, _TINY))


def _top_two(post: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the first most probable class, its probability and the second largest
    probability (zero with one class). A pass per class: row-wise reductions over a few
    classes are slow in numpy."""
    if post.shape[1] == 2:
        first, other = post[:, 0], post[:, 1]
        return (other > first).astype(np.int64), np.maximum(first, other), np.minimum(
            first, other)
    best = np.zeros(len(post), dtype=np.int64)
    top = post[:, 0].copy()
    second = np.zeros(len(post))
    for c in range(1, post.shape[1]):
        p = post[:, c]
        better = p > top
        second = np.where(better, top, np.maximum(second, p))
        best[better] = c
        top = np.where(better, p, top)
    return best, top, second


def _take_rows(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]``, column by column (faster for the column-major posteriors)."""
    return np.stack([a[:, c][rows] for c in range(a.shape[1])], axis=1)


def _put_rows(a: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``a[rows] = values``, column by column."""
    for c in range(a.shape[1]):
        a[:, c][rows] = values[:, c]


class _Appended(Annotations):
    """Annotations held as segments (the fitted answers, then each batch of
    :meth:`DawidSkene.partial_fit`, in the final coding), joined only when read:
    ``partial_fit`` itself reads the grouped form it keeps in :class:`_FitState`."""

    def __init__(self, parts: list, tasks: list, workers: list, classes: list,
                 worker_counts: np.ndarray):
        self.parts = parts  # [(task, worker, label) codes]
        self.tasks, self.workers, self.classes = tasks, workers, classes
        self.worker_counts = worker_counts

    def __len__(self) -> int:
        return sum(len(part[0]) for part in self.parts)

    @cached_property
    def task(self) -> np.ndarray:
        return np.concatenate([part[0] for part in self.parts])

    @cached_property
    def worker(self) -> np.ndarray:
        return np.concatenate([part[1] for part in self.parts])

    @cached_property
    def label(self) -> np.ndarray:
        return np.concatenate([part[2] for part in self.parts])


def _parts(ann: Annotations) -> list:
    return list(ann.parts) if isinstance(ann, _Appended) else [(ann.task, ann.worker,
                                                                 ann.label)]


def _extend(ids: list, more: list, index: pd.Index) -> tuple[list, np.ndarray, pd.Index]:
    """``ids`` (``index`` as pd.Index) with the unseen ids of ``more`` appended, each of
    ``more``'s position, and the extended pd.Index."""
    position = positions(ids, more, index)
    unseen = position < 0
    position[unseen] = len(ids) + np.arange(int(unseen.sum()))
    added = np.asarray(more, dtype=object)[unseen].tolist()
    extended = index.append(pd.Index(added)) if added else index
    return list(ids) + added, position, extended


MIN_PART = 1 << 13  # tasks: below this a thread costs more than it saves


def _by_parts(n: int, n_threads: int, run: Callable, row: np.ndarray | None = None) -> list:
    """``run(a, b, i, j)`` on consecutive parts [a, b) of ``n`` tasks, one part a thread (at
    least ``MIN_PART`` tasks each), in order; [i, j) are the part's entries of ``row`` (task
    positions, ascending; 0, 0 without it). numpy's passes over large arrays release the GIL,
    so ``partial_fit``'s steps over the touched tasks use the cores the E-step uses."""
    parts = max(1, min(n_threads, n // MIN_PART))
    cuts = np.linspace(0, n, parts + 1).astype(np.int64)
    ends = np.zeros(parts + 1, np.int64) if row is None else np.searchsorted(row, cuts)
    spans = [(int(cuts[p]), int(cuts[p + 1]), int(ends[p]), int(ends[p + 1]))
             for p in range(parts)]
    if parts == 1:
        return [run(*spans[0])]
    pool = thread_pool(n_threads)
    rest = [pool.submit(run, *span) for span in spans[1:]]
    try:
        first = run(*spans[0])
    finally:  # no part outlives the call, even when one fails
        wait(rest)
    return [first] + [future.result() for future in rest]


def _gathered_in_parts(m: sp.csr_matrix, rows: np.ndarray, groups: tuple,
                       n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_gathered`, its rows shared by ``n_threads`` threads and the parts joined."""

    def part(a: int, b: int, *_) -> tuple[np.ndarray, np.ndarray]:
        mine = []
        for row, column in groups:
            i, j = np.searchsorted(row, (a, b))
            mine.append((row[i:j] - a, column[i:j]))
        return _gathered(m, rows[a:b], tuple(mine))

    parts = _by_parts(len(rows), n_threads, part)
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [int(indptr[-1]) for indptr, _ in parts[:-1]])
    indptr = np.concatenate([parts[0][0][:1]] + [part_indptr[1:] + offset for (
        part_indptr, _), offset in zip(parts, offsets, strict=True)])
    return indptr, np.concatenate([indices for _, indices in parts])


def _gathered(m: sp.csr_matrix, rows: np.ndarray, groups: tuple = ()
              ) -> tuple[np.ndarray, np.ndarray]:
    """``indptr`` and ``indices`` of the ``rows`` (ascending) of ``m`` (a row past its last
    is empty), each followed by the entries of ``groups``, each group a pair (row: position
    in ``rows``, ascending; column) appended after the previous groups'. O(those entries),
    with no sort."""
    n = len(rows)
    inside = rows[:int(np.searchsorted(rows, m.shape[0]))]
    start = m.indptr[inside].astype(np.int64)
    own = np.zeros(n, dtype=np.int64)
    own[:len(inside)] = m.indptr[inside + 1] - start
    more = [np.bincount(row, minlength=n) for row, _ in groups]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sum(more, own), out=indptr[1:])
    out = np.empty(indptr[-1], dtype=m.indices.dtype)
    length = own[:len(inside)]
    before = np.cumsum(length) - length  # where each row's own entries start among them
    source = np.repeat(start - before, length) + np.arange(int(length.sum()))
    if not groups:
        out[:] = m.indices[source]
        return indptr, out
    theirs = np.ones(len(out), dtype=bool)  # the rows' own entries, then the groups'
    end = indptr[:-1] + own
    placed = []
    for (row, column), count in zip(groups, more, strict=True):
        at = np.repeat(end - (np.cumsum(count) - count), count) + np.arange(len(row))
        theirs[at] = False
        placed.append((at, column))
        end = end + count
    out[theirs] = m.indices[source]
    for at, column in placed:
        out[at] = column
    return indptr, out


def _csr(indptr: np.ndarray, indices: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """The 0/1 CSR matrix of these arrays, attached without scipy's copies and checks."""
    index = np.int32 if max(len(indices), shape[1]) < 2**31 else np.int64
    m = sp.csr_matrix(shape, dtype=np.float64)
    m.indptr = indptr.astype(index, copy=False)
    m.indices = indices.astype(index, copy=False)
    m.data = np.ones(len(indices))
    return m


def _repeats(rows: sp.csr_matrix, k: int, row: np.ndarray, worker: np.ndarray,
             ) -> np.ndarray:
    """The new answers (``row``: their task's row of ``rows``, ascending; ``worker``) whose
    worker already answered that task (``rows`` holds each task's earlier answers followed
    by the new ones). A 64-bit filter per task (bit ``worker mod 64`` of every earlier
    answer) clears most new answers in a few passes over the answers; the rest are compared
    with their task's earlier answers one position at a time, or, where a task holds very
    many, matched by sorting (task, worker) keys."""
    indptr = rows.indptr.astype(np.int64)
    fresh = np.bincount(row, minlength=rows.shape[0])
    own = np.diff(indptr) - fresh
    earlier = own[row]
    # per task, the OR of its earlier answers' worker bits (segments alternate between a
    # task's earlier answers and its new ones; every task has a new one)
    bits = _BITS[_bucket(rows.indices // k)]
    cuts = np.empty(2 * rows.shape[0], dtype=np.int64)
    cuts[0::2], cuts[1::2] = indptr[:-1], indptr[:-1] + own
    seen = np.where(own > 0, np.bitwise_or.reduceat(bits, cuts)[0::2], 0) if len(row) else (
        bits[:0])
    maybe = np.flatnonzero(seen[row] & _BITS[_bucket(worker)])
    start, earlier, worker_ = indptr[row[maybe]], earlier[maybe], worker[maybe]
    found = []
    many = earlier > 64
    if many.any():
        big = np.unique(row[maybe[many]])
        length = (np.diff(indptr) - fresh)[big]
        at = np.repeat(indptr[big] - (np.cumsum(length) - length), length) + np.arange(
            int(length.sum()))
        width = int(max(worker.max(), rows.indices.max() // k)) + 1
        known = np.repeat(big, length) * width + rows.indices[at] // k
        mine = maybe[many]
        found.append(mine[_member(row[mine] * width + worker[mine], known)])
        earlier = np.where(many, 0, earlier)
    active = np.flatnonzero(earlier > 0)
    j = 0
    while len(active):
        hit = rows.indices[start[active] + j] // k == worker_[active]
        if hit.any():
            found.append(maybe[active[hit]])
        j += 1
        active = active[earlier[active] > j]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


_BITS = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))


def _bucket(codes: np.ndarray) -> np.ndarray:
    """A hash of non-negative codes into 0…63 (Fibonacci hashing: ids that differ by a
    stride still spread)."""
    return (codes.astype(np.uint32, copy=False) * np.uint32(2654435761)) >> np.uint32(26)


def _member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` by sorting (numpy's hash-based unique is slow on wide int64
    keys)."""
    pool = np.sort(pool)
    at = np.minimum(np.searchsorted(pool, values), max(len(pool) - 1, 0))
    return (len(pool) > 0) & (pool[at] == values) if len(pool) else np.zeros(len(values), bool)


def _posteriors(rows: sp.csr_matrix, params: Params) -> np.ndarray:
    """Exact posteriors of the tasks whose answers are ``rows`` under ``params``."""
    log_joint = np.asarray(rows @ params.log_pi) + params.log_prior
    log_joint -= log_joint.max(axis=1, keepdims=True)
    post = np.exp(log_joint)
    return post / post.sum(axis=1, keepdims=True)
