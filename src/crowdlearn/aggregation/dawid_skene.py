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
from crowdlearn.aggregation.em import (
    TINY,
    EStep,
    Params,
    Stats,
    run_em,
    stats_from_posteriors,
)
from crowdlearn.aggregation.incremental import REFIT_BELOW, FitState, fold_in
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError, named_few
from crowdlearn.inputs import first_line
from crowdlearn.labels import plain
from crowdlearn.params import N_THREADS, NON_NEGATIVE_REAL, Choice, Integers
from crowdlearn.proba import checked_rows

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
        self._state_ = FitState.start(fixed, ann, stats,
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
            return Params(params.log_prior, np.log(np.maximum(pi, TINY)).reshape(w * k, k),
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
        answering a task it already answered in an earlier call is refused (``partial_fit``
        adds answers, it does not replace them); repeats within ``answers`` follow ``keep``
        as in :meth:`fit` (refused by default). A model fitted with a ``task_prior`` cannot
        be continued.
        """
        return fold_in(self, answers, max_iter=max_iter, refresh=refresh,
                       refit_below=refit_below, **frame_options)

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
            log_pi = np.log(np.maximum(pi, TINY))
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
        return np.log(np.maximum(totals / totals.sum(), TINY))

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


def _numbers(values, name: str) -> np.ndarray:
    """``values`` as a float array; what is not a rectangle of numbers is an InputError."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must hold numbers: {first_line(exc)}") from None


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
        values = _numbers(frame, "initial_error")[:, columns.get_indexer(classes)]
        if frame.index.has_duplicates:  # which row would count depends on their order
            who, row = (plain([v])[0] for v in frame.index[frame.index.duplicated()][0])
            raise InputError(f"initial_error names worker {who!r}, "
                             f"{names[1].replace('_', ' ')} {row!r} twice")
        worker = pd.Index(ann.workers).map(str).get_indexer(
            frame.index.get_level_values(0).map(str))
        label = classes.get_indexer(frame.index.get_level_values(1).map(str))
        if (label < 0).any():
            bad = frame.index.get_level_values(1)[int(np.flatnonzero(label < 0)[0])]
            raise InputError(f"initial_error names {names[1].replace('_', ' ')} {bad!r}, not "
                             "one of the classes")
        keep = worker >= 0  # workers not in these answers are ignored
        if not keep.any():
            shown = named_few(pd.unique(frame.index.get_level_values(0)))
            warnings.warn(f"initial_error names none of the answers' workers ({shown}): EM "
                          "starts as without it", CrowdlearnWarning, stacklevel=4)
        given = np.zeros((w, k, k))
        if crowd_kit:
            given[worker[keep], :, label[keep]] = values[keep]
        else:
            given[worker[keep], label[keep]] = values[keep]
        known = np.zeros(w, dtype=bool)
        known[worker[keep]] = True
    else:
        given = _numbers(initial_error, "initial_error")
        if given.shape != (w, k, k):
            raise InputError(f"initial_error must have shape (workers, classes, classes) = "
                             f"{(w, k, k)}, got {given.shape}")
        known = given.sum(axis=(1, 2)) > 0
    if not np.isfinite(given).all() or (given < 0).any():
        raise InputError("initial_error must hold finite, non-negative counts or "
                         "probabilities")
    return given, known
