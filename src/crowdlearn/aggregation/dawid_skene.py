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
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator, as_annotations, check_gold, check_task_prior
from crowdlearn.aggregation.em import EStep, Params, Stats, run_em, stats_from_posteriors
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.labels import positions

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

    def __init__(self, max_iter: int = 100, tol: float = 1e-5, smoothing: float = 1.0,
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
        step). ``initial_error`` starts from known worker confusions, e.g. another model's
        :meth:`confusions` (see ``initial_error_strategy``). Warns when EM stops at
        ``max_iter`` (> 1) without converging."""
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
        # what partial_fit continues from (the fixed priors, the answers, their statistics)
        self._state_ = _FitState(fixed, ann, stats, log_task_prior is None)
        # a model's posteriors or priors identify worker quality where answers alone cannot;
        # a single step (MBEM's, AggNet's) is not a fit run to its end
        self._warn_about_fit(ann, answers_only=task_prior is None and init_posteriors is None,
                             final=self.max_iter > 1)
        return self

    def _finish(self, ann: Annotations, post: np.ndarray, params: Params,
                history: list[float], n_iter: int) -> None:
        """Record a fit's results (and warn when EM did not converge)."""
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
                          stacklevel=3)

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
                    **frame_options) -> DawidSkene:
        """Fold new ``answers`` (for new or already seen tasks and workers) into the fitted
        model without refitting from scratch (incremental EM, Neal & Hinton 1998).

        First only the tasks that receive answers are re-estimated: their old contribution to
        the sufficient statistics is replaced by EM iterations over them alone (all their
        answers, old and new; at most ``max_iter``, default the model's), the other tasks'
        statistics held fixed; worker confusions and the class prior come from the updated
        totals, with the priors of the first fit. Then ``refresh`` rounds bring the other
        tasks up to date: the confusions' change bounds how far each task's log-odds can have
        moved (a sparse product over the answers), the tasks whose margin between their two
        most probable classes is within that bound get an exact E-step, the statistics are
        corrected and the confusions re-estimated. Every other task's label is then provably
        the one the final confusions give; its probabilities are those of the previous
        confusions. ``refresh=0`` skips this (cheapest; labels may lag a refit's).

        New classes cannot be added (an :class:`InputError`: refit with ``fit``); a worker
        answering a task it already answered is refused (``partial_fit`` adds answers, it
        does not replace them). A model fitted with a ``task_prior`` cannot be continued.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "_state_")
        if not (isinstance(refresh, (int, np.integer)) and refresh >= 0):
            raise InputError(f"refresh must be an integer >= 0, got {refresh!r}")
        state = self._state_
        if not state.plain:
            raise InputError("partial_fit continues a fit made without task_prior; refit")
        old = state.answers
        new = as_annotations(answers, **frame_options)
        merged, touched, added = _merge_answers(old, new)
        w, k, w_old = merged.n_workers, merged.n_classes, old.n_workers
        m_step = self._m_step(w, k, state.fixed)
        is_touched = np.zeros(old.n_tasks, dtype=bool)
        is_touched[touched[touched < old.n_tasks]] = True
        posteriors = np.zeros((merged.n_tasks, k))
        posteriors[:old.n_tasks] = self.posteriors_
        old_params = Params(np.log(np.maximum(self.class_prior_, _TINY)),
                            _log_pi(self.confusion_), 0.0)
        # statistics of the untouched old tasks: the totals less the touched tasks' share
        seen_old = touched[touched < old.n_tasks]
        touched_rows = old.incidence[seen_old]
        rest = _padded(Stats(state.stats.counts
                             - np.asarray(touched_rows.T @ self.posteriors_[seen_old]),
                             state.stats.class_totals - self.posteriors_[seen_old].sum(axis=0),
                             0.0), w, k)
        sub = _task_subset(old, merged, touched, added)
        post = np.zeros((len(touched), k))
        seen = touched < old.n_tasks
        post[seen] = self.posteriors_[touched[seen]]
        votes = sub.vote_counts[~seen]
        post[~seen] = votes / votes.sum(axis=1, keepdims=True)
        with EStep(sub.incidence, k, n_threads=1) as sub_step:
            params, history, n_iter, sub_stats = run_em(
                sub_step, stats_from_posteriors(sub.incidence, post),
                lambda touched_stats: m_step(touched_stats + rest),
                n_answers=len(sub), max_iter=max_iter or self.max_iter, tol=self.tol)
            posteriors[touched] = sub_step.posteriors
            for _ in range(refresh):
                moved = _moved(old.incidence, posteriors[:old.n_tasks], old_params, params,
                               w_old, k)
                ids = moved[~is_touched[moved]]
                if len(ids):
                    block = old.incidence[ids]
                    before = posteriors[ids]
                    after = _posteriors(block, params, w_old, k)
                    posteriors[ids] = after
                    change = np.asarray(block.T @ (after - before))
                    rest.counts[:w_old * k] += change
                    rest.class_totals += (after - before).sum(axis=0)
                old_params = params
                sub_stats = sub_step(params)
                posteriors[touched] = sub_step.posteriors
                params = m_step(sub_stats + rest)
            if refresh:  # the touched tasks' posteriors under the final confusions
                sub_stats = sub_step(params)
                posteriors[touched] = sub_step.posteriors
        # the objective history is that of the re-estimated tasks' EM
        self._finish(merged, posteriors, params, history, n_iter)
        self._state_ = _FitState(state.fixed, merged, sub_stats + rest, True)
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
        if self.initial_error_strategy not in ("addition", "assign"):
            raise InputError(f"initial_error_strategy must be 'addition' or 'assign', got "
                             f"{self.initial_error_strategy!r}")

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


@dataclass
class _FitState:
    """What :meth:`DawidSkene.partial_fit` continues from."""

    fixed: dict  # the priors' pseudo-counts, fixed by the first fit
    answers: Annotations
    stats: Stats  # sufficient statistics of the current posteriors
    plain: bool  # fitted without a task prior


def _confusion_counts(ann: Annotations, initial_error) -> tuple[np.ndarray, np.ndarray]:
    """``initial_error`` as W×K×K ``[worker, true, answered]`` for the workers of ``ann``
    (zeros where absent) and a mask of the workers it covers. Accepts an array of that
    shape or a frame laid out like :meth:`Aggregator.confusions` (rows (worker, true label),
    one column per answered label; crowd-kit's ``errors_`` is its transpose per worker)."""
    w, k = ann.n_workers, ann.n_classes
    if isinstance(initial_error, pd.DataFrame):
        frame = initial_error
        if frame.index.nlevels != 2:
            raise InputError("initial_error must be indexed by (worker, true label) with one "
                             "column per answered label, as confusions() returns")
        classes = pd.Index(ann.classes).map(str)
        columns = frame.columns.map(str)
        if set(columns) != set(classes):
            raise InputError(f"initial_error's columns {list(frame.columns)} are not the "
                             f"classes {list(ann.classes)}")
        values = frame.to_numpy(dtype=np.float64)[:, columns.get_indexer(classes)]
        worker = pd.Index(ann.workers).map(str).get_indexer(
            frame.index.get_level_values(0).map(str))
        true = classes.get_indexer(frame.index.get_level_values(1).map(str))
        if (true < 0).any():
            bad = frame.index.get_level_values(1)[int(np.flatnonzero(true < 0)[0])]
            raise InputError(f"initial_error names true label {bad!r}, not one of the classes")
        keep = worker >= 0  # workers not in these answers are ignored
        given = np.zeros((w, k, k))
        given[worker[keep], true[keep]] = values[keep]
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


def _merge_answers(old: Annotations, new: Annotations,
                   ) -> tuple[Annotations, np.ndarray, Annotations]:
    """``old`` followed by ``new`` in ``old``'s coding (new tasks and workers appended), the
    task codes that ``new`` answers, and ``new`` recoded likewise. New classes and repeated
    (task, worker) pairs are an :class:`InputError`. Costs O(new answers + tasks), plus
    copying the code arrays."""
    class_map = positions(old.classes, new.classes)
    if (class_map < 0).any():
        extra = new.classes[int(np.flatnonzero(class_map < 0)[0])]
        raise InputError(f"partial_fit cannot add a class: {extra!r} is not one of "
                         f"{list(old.classes)}; refit with fit() on all answers")
    task_ids, task_map, task_index = _extend(old.tasks, new.tasks, old.task_index)
    worker_ids, worker_map, worker_index = _extend(old.workers, new.workers, old.worker_index)
    task = task_map[new.task].astype(np.int32)
    worker = worker_map[new.worker].astype(np.int32)
    label = class_map[new.label].astype(old.label.dtype)
    touched = np.flatnonzero(np.bincount(task, minlength=len(task_ids)))
    seen = touched[touched < old.n_tasks]
    if len(seen):
        rows = old.incidence[seen]
        old_pairs = np.repeat(seen.astype(np.int64), np.diff(rows.indptr)) * len(worker_ids) + (
            rows.indices // old.n_classes)
        clash = _member(task.astype(np.int64) * len(worker_ids) + worker, old_pairs)
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise InputError(f"worker {worker_ids[worker[i]]!r} already answered task "
                             f"{task_ids[task[i]]!r}; partial_fit adds answers, it does not "
                             "replace them (refit to change an answer)")
    merged = Annotations._trusted(np.concatenate([old.task, task]),
                                  np.concatenate([old.worker, worker]),
                                  np.concatenate([old.label, label]),
                                  task_ids, worker_ids, list(old.classes))
    # what is already known about the merged answers, not recomputed over all of them
    counts = np.zeros(len(worker_ids), dtype=np.int64)
    counts[:old.n_workers] = old.worker_counts
    counts += np.bincount(worker, minlength=len(worker_ids))
    merged.__dict__.update(task_index=task_index, worker_index=worker_index,
                           worker_counts=counts)
    recoded = Annotations._trusted(task, worker, label, task_ids, worker_ids,
                                   list(old.classes))
    return merged, touched, recoded


def _member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` by sorting (numpy's hash-based unique is slow on wide int64
    keys)."""
    pool = np.sort(pool)
    at = np.minimum(np.searchsorted(pool, values), max(len(pool) - 1, 0))
    return (len(pool) > 0) & (pool[at] == values) if len(pool) else np.zeros(len(values), bool)


def _extend(ids: list, more: list, index: pd.Index) -> tuple[list, np.ndarray, pd.Index]:
    """``ids`` (``index`` as pd.Index) with the unseen ids of ``more`` appended, each of
    ``more``'s position, and the extended pd.Index."""
    position = positions(ids, more, index)
    unseen = position < 0
    position[unseen] = len(ids) + np.arange(int(unseen.sum()))
    added = np.asarray(more, dtype=object)[unseen].tolist()
    extended = index.append(pd.Index(added)) if added else index
    return list(ids) + added, position, extended


def _log_pi(confusion: np.ndarray) -> np.ndarray:
    """``confusion_`` (W×K×K, [worker, true, answered]) as the E-step's log π rows."""
    w, k, _ = confusion.shape
    return np.log(np.maximum(confusion, _TINY)).transpose(0, 2, 1).reshape(w * k, k)


def _padded(stats: Stats, w: int, k: int) -> Stats:
    """Statistics with zero rows appended for workers added since."""
    counts = np.zeros((w * k, k))
    counts[:len(stats.counts)] = stats.counts
    return Stats(counts, stats.class_totals.copy(), stats.log_likelihood)


def _posteriors(rows, params: Params, w: int, k: int) -> np.ndarray:
    """Exact posteriors of the tasks whose answers are ``rows`` (incidence rows over the
    first ``w`` workers)."""
    log_joint = np.asarray(rows @ params.log_pi[:w * k]) + params.log_prior
    log_joint -= log_joint.max(axis=1, keepdims=True)
    post = np.exp(log_joint)
    return post / post.sum(axis=1, keepdims=True)


def _moved(rows, post: np.ndarray, before: Params, after: Params, w: int,
           k: int) -> np.ndarray:
    """Positions (in ``rows``) of the tasks whose most probable class may differ under
    ``after``: the log-odds of two classes move by at most twice the largest change of the
    log prior plus, per answer, twice the largest change of its worker's log confusions for
    the answered label; tasks whose current margin between their two most probable classes
    is no larger are returned."""
    step = np.abs(after.log_pi[:w * k] - before.log_pi[:w * k]).max(axis=1)
    bound = 2 * (np.asarray(rows @ step).ravel()
                 + np.abs(after.log_prior - before.log_prior).max())
    rows_ = np.arange(len(post))
    best = post.argmax(axis=1)
    top = post[rows_, best]
    others = post.copy()
    others[rows_, best] = -1.0
    margin = np.log(np.maximum(top, _TINY)) - np.log(np.maximum(others.max(axis=1), _TINY))
    return np.flatnonzero(margin <= bound)


def _task_subset(old: Annotations, merged: Annotations, tasks: np.ndarray,
                 new: Annotations) -> Annotations:
    """The answers of the task codes ``tasks`` (renumbered 0…), all workers and classes:
    the old answers of the tasks among them read from ``old``'s incidence rows, then
    ``new`` (in the merged coding). Costs O(those answers), not O(all answers)."""
    code = np.full(merged.n_tasks, -1, dtype=np.int64)
    code[tasks] = np.arange(len(tasks))
    seen = tasks[tasks < old.n_tasks]
    rows = old.incidence[seen]
    k = old.n_classes
    task = np.concatenate([np.repeat(code[seen], np.diff(rows.indptr)), code[new.task]])
    worker = np.concatenate([rows.indices // k, new.worker])
    label = np.concatenate([rows.indices % k, new.label])
    return Annotations._trusted(task, worker, label, merged.task_index.take(tasks).tolist(),
                                merged.workers, merged.classes)
