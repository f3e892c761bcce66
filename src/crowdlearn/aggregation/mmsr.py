"""M-MSR: worker accuracies by robust rank-one completion of the workers' covariance matrix,
then a weighted majority vote.

Ma, Q. and Olshevsky, A. (2020). Adversarial crowdsourcing through robust rank-one matrix
completion. NeurIPS 33 (https://arxiv.org/abs/2010.12181). The algorithm as crowd-kit 1.4.2's
``MMSR`` runs it, with some of its choices changed by default (below).

Model: worker w answers correctly with probability ``p_w`` and otherwise picks one of the K − 1
wrong labels uniformly. With ``s_w = (K p_w − 1)/(K − 1)`` (1 for a perfect worker, 0 for one
who guesses, negative for one who answers wrong on purpose), two workers' agreement rate on
their common tasks estimates ``s_i s_j`` without bias:

    C_ij = K/(K−1) · agree_ij / common_ij − 1/(K−1),      E[C_ij] = s_i s_j   (i ≠ j),

so ``C`` is the rank-one matrix ``s sᵀ`` seen on the pairs of workers that share tasks, and
corrupted on some of them (workers who collude or copy). The steps:

1. ``C`` on the observed pairs (workers with common tasks), 0 elsewhere and on the diagonal.
   ``common`` and ``agree`` are ``BᵀB`` and ``Σ_k A_kᵀA_k`` (B the task × worker incidence,
   A_k its label-k part), counted by one ``bincount`` over each task's pairs of answers.
2. ``F = ⌊sparsity/2⌋ − 1``, with sparsity the fewest co-workers of any worker who has one.
   A worker without co-workers takes no part in steps 3–4 and is left at chance (s = 0).
3. Robust rank-one completion ``|C| ≈ u vᵀ`` (M-MSR): from ``u = v`` uniform at random
   (``seed``), set every ``v_j`` to the mean of ``|C_ij|/u_i`` over the observed ``i`` with up
   to F values below and F above the current ``v_j`` dropped (all of those below, or above,
   when there are fewer than F; with F < 0 only the largest value is kept; an empty selection
   keeps ``v_j``; a kept single 0 becomes ``1/√T``), then every ``u_i`` likewise from
   ``|C_ij|/v_j``; stop when ``‖u vᵀ − u' v'ᵀ‖_F`` (the change over one iteration) is below
   ``tol``, or after ``max_iter`` iterations, or (a warning) once an estimate leaves
   [1e−50, 1e50]: far from rank one (tiny crowds, pairs at exactly chance agreement) the
   means can double every iteration, and the last finite estimates are kept; or (a
   warning) once the change has not halved in ``patience`` iterations, below.
   One iteration sorts, for every worker at once, the values of its co-workers only (a
   W × m matrix, m the most co-workers of any worker: W × W on a dense crowd, W × 9 on
   2,000 workers in groups of 10); counts of values below and above the current estimate
   give each row's kept positions.

   Why the completion can stall. Both half-steps are positively homogeneous (``u → c u``
   gives ``v → v / c``), so only ``u vᵀ`` matters, and a fixed point is a positive rank-one
   ``u vᵀ`` whose trimmed ratios reproduce it. Where the kept values admit none, the
   estimates do not settle but drift to the boundary, some towards 0 and others towards ∞:
   the pattern of Sinkhorn's matrix scaling on a matrix without total support, and what
   a pair of workers at exactly chance agreement (``C_ij = 0``, kept when F = 0) does
   between two workers who both agree with a third: ``s₀s₁ = s₀s₂ = 1, s₁s₂ = 0`` has no
   positive solution. The drift can be geometric (the 1e50 stop above) or polynomial:
   on such crowds of 3–5 tasks, estimates grow and shrink as √t, some products
   ``u_i v_j`` grow linearly and ``‖u vᵀ − u' v'ᵀ‖_F`` stays near a constant (or grows),
   neither below ``tol`` nor beyond 1e50 in 10,000 iterations. Ma & Olshevsky (2020)
   prove recovery for a matrix that is rank one on its uncorrupted entries, under
   conditions (sufficient and necessary) on the graph of observed pairs; nothing promises
   convergence elsewhere, so the fit stops once the smallest change so far has not halved
   in ``patience`` iterations: on the ten public crowds and on 443 random converging ones
   the longest such wait was 6 iterations, and a run that halves less often than every
   200 iterations would need over 6,600 of them to fall from 1 to ``tol``.
4. ``|s| = u / √(‖u‖/‖v‖)``. Signs (:func:`resolve_signs`): ``sign(C_ij) = sign(s_i)
   sign(s_j)`` links two workers where ``C_ij ≠ 0``; on each connected group of those links,
   the signed graph of ``sign(C)`` with each positive edge replaced by a path through a new
   node, whose random-walk eigenvector for the eigenvalue nearest −1 gives each worker's
   sign (exactly −1 where every sign agrees, as with always-right and always-wrong workers);
   the group's majority sign is taken as positive (the paper's honest majority; an even split
   is left at chance, with a warning), and workers without a nonzero ``C_ij`` get 0. The
   eigenvector comes from an equivalent 2k × 2k eigenproblem (:func:`_eigenvector_signs`),
   not crowd-kit's dense graph with one node per positively correlated pair (two million at
   2,000 workers).
5. ``s`` clipped to ``[−1/(K−1) + 1/√T, 1 − 1/√T]``; ``p_w = s_w (K−1)/K + 1/K``; vote weight
   ``log(p_w (K−1)/(1 − p_w)) = log((1 + (K−1) s_w)/(1 − s_w))``, negative for a worker worse
   than chance, exactly 0 at chance.
6. Each task's label: the class with the largest sum of vote weights; among classes tied
   there, the one with the most answers (then the first class). A tie is where the weights say
   nothing: on a task answered only by workers at weight 0 (sharing no task with anyone, as
   when every task has one answer; or at chance) every sum is 0, and the answers decide as
   majority vote does, where crowd-kit's argmax gave the first class. Those tasks keep
   uniform ``posteriors_``: no estimated accuracy backs their label.

What the default changes from crowd-kit (``crowdkit_compat=True`` restores each; the tests
check that it then gives crowd-kit's labels, skills and iteration count to 1e-6):

- crowd-kit's C holds ``−1/(K−1)`` on the diagonal and for every pair without common tasks,
  which the sign step reads as negative correlations; on sparse crowds that makes many honest
  workers "adversaries" (61 of 164 on rte, against 12 here).
- crowd-kit labels a task with the argmax of its votes divided by their sum, which picks the
  least supported label where the sum is negative (adversaries' votes dominate).
- A trimmed mean of several zeros (workers at exactly chance agreement) becomes ``1/√T``
  like crowd-kit's single zero; crowd-kit keeps the 0 and divides by it in the next
  half-step, which can make every estimate NaN (on the product dataset; crowd-kit then
  raises, and so does ``crowdkit_compat=True``).
- crowd-kit signs the workers whose row of C does not sum to 0, all at once. A row sums to
  0 when a worker's positive and negative correlations cancel: with 3 always-right and 2
  always-wrong workers the honest rows sum to 0, only the adversaries were signed, as the
  majority, and every label came out wrong (with 2 and 1, the lone adversary had no link
  left and its weight turned NaN). And on a crowd split into groups without common tasks,
  one eigenvector of the whole graph lives on one group (the others' entries ~0); each group
  now gets its own eigenvector and majority.
- crowd-kit's F, scale and stopping rule count workers without co-workers (one such worker
  sets F = −1: no trimming for anyone; its random start enters the norms); it also has no
  divergence stop, so its estimates can overflow to NaN.
- crowd-kit hands its random start to the workers in order of first answer, so the same
  answers in another row order can end with other labels (8–29 of 2,508 tasks on a
  3,000-answer part of product); here in order of first answer among the answers sorted by
  task and worker, so the row order does not matter (for rows already in that order, the
  start is crowd-kit's; the ten public crowds' labels are unchanged).

Also: K is the number of classes of the annotations (crowd-kit and the compatible mode: of
the labels that occur); a repeated (task, worker) answer (``keep="all"``) counts in every pair
(crowd-kit keeps the last one); where the sign eigenvector is not unique or a worker's entry
in it is 0 (symmetric toy graphs), crowd-kit's signs depend on rounding, and these may
differ.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import scipy.sparse.linalg as sla

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.aggregation.majority_vote import vote_shares
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnError, CrowdlearnWarning, InputError
from crowdlearn.params import NON_NEGATIVE_REAL, Integers

# most valid workers for which the sign eigenvector is found by a dense eigendecomposition
DENSE_SIGNS_MAX = 200
# pairs of answers per bincount in the covariance (bounds its temporary memory)
_PAIRS_PER_BLOCK = 1 << 23
# bytes per worker pair at the peak of a fit (a few dense W × W arrays; 57–64 measured at 2,000
# workers), and the most a fit may need before it is refused up front
BYTES_PER_PAIR = 80
MEMORY_LIMIT = 16 * 2**30  # at least; more on a machine with more memory (_memory_limit)
# the completion has diverged once an estimate leaves [1/_DIVERGED, _DIVERGED]
_DIVERGED = 1e50  # (squared norms of such estimates stay far from overflow)


class MMSR(Aggregator):
    """Matrix Mean-Subsequence-Reduced (M-MSR): worker accuracies robust to adversarial
    workers, then a weighted majority vote.

    Parameters
    ----------
    max_iter:
        Most iterations of the rank-one completion (crowd-kit's ``n_iter``).
    tol:
        Stop when the Frobenius norm of the change of ``u vᵀ`` over one iteration is below it.
    patience:
        Stop, with a warning, once the smallest change of ``u vᵀ`` so far has not halved in
        this many iterations: the completion is then not converging (module notes, step 3).
        At ``max_iter`` or more, the fit runs to ``tol`` or ``max_iter`` (crowd-kit's rule,
        always followed with ``crowdkit_compat=True``).
    seed:
        Seed of the uniform initial ``u = v`` (``numpy.random.RandomState``, as crowd-kit's
        ``random_state``); ``None`` draws fresh ones.
    crowdkit_compat:
        Reproduce crowd-kit 1.4.2's ``MMSR`` exactly, including the choices the default
        makes differently (see the module notes): in the sign step, workers without common
        tasks (and each worker with itself) count as correlated ``−1/(K−1)``, and the
        workers whose row of C does not sum to 0 are signed together by one majority; a
        trimmed mean of several zeros stays 0 (the estimates can then turn NaN: an error, as
        in crowd-kit); workers without co-workers count in F and in the completion; a
        task's label is the argmax of its votes divided by their sum; K counts only the
        labels that occur.

    Attributes
    ----------
    skill_ : per worker, the estimated accuracy ``p_w`` (below ``1/K`` for a worker estimated
        worse than chance, e.g. one who answers wrong on purpose).
    weight_ : per worker, the vote weight ``log(p_w (K−1)/(1 − p_w))`` (crowd-kit's
        ``skills_``): negative for a worker worse than chance, whose votes then count against
        the label they give.
    posteriors_ : T×K weighted vote shares: scores, not calibrated probabilities. Each class's
        summed vote weights, negative sums set to 0, divided by the row's total (uniform
        where no class has a positive sum, e.g. a task answered only by workers at weight 0,
        whose label then follows its answers: module notes, step 6). Where every weight is
        positive these are crowd-kit's ``probas_``.
    scores_ : T×K summed vote weights (negative where adversaries' votes dominate).
    class_prior_ : mean of ``posteriors_``.
    loss_history_ : ``‖u vᵀ − u' v'ᵀ‖_F`` after each iteration.
    n_iter_ : iterations run.
    converged_ : whether the loss fell below ``tol`` (else a warning says why the fit stopped:
        ``max_iter``, divergence or ``patience``).

    Examples
    --------
    >>> MMSR().fit(Annotations.from_csv("answers.csv")).predict()     # doctest: +SKIP
    """

    _parameter_constraints = {
        "max_iter": [Integers(1)], "tol": [NON_NEGATIVE_REAL], "patience": [Integers(1)],
        "seed": [Integers(0, 2**32 - 1), None],  # np.random.RandomState's range
        "crowdkit_compat": ["boolean"]}

    def __init__(self, max_iter: int = 10000, *, tol: float = 1e-10, patience: int = 200,
                 seed: int | None = 0, crowdkit_compat: bool = False):
        self.max_iter = max_iter
        self.tol = tol
        self.patience = patience
        self.seed = seed
        self.crowdkit_compat = crowdkit_compat

    def fit(self, answers, **frame_options) -> MMSR:
        """Fit on ``answers`` (:class:`~crowdlearn.Annotations` or a long frame, see
        :class:`~crowdlearn.aggregation.Aggregator`). Memory grows as W² (a few dense
        W × W matrices): about 0.3 GB at 2,000 workers; a crowd that would need more than
        ``MEMORY_LIMIT`` (16 GiB, about 14,600 workers; or 80% of a larger machine's memory)
        is refused with an
        :class:`~crowdlearn.errors.InputError` before any work."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        _check_memory(ann.n_workers)
        compat = self.crowdkit_compat
        present = np.bincount(ann.label, minlength=ann.n_classes) > 0
        k = int(present.sum()) if compat else ann.n_classes
        if k < 2:  # one label: nothing to weigh (identifiability warning below)
            p, weight = np.ones(ann.n_workers), np.zeros(ann.n_workers)
            self.loss_history_, self.n_iter_, self.converged_ = [], 0, True
        else:
            s = self._signed_skills(ann, k, compat)
            p = s * (k - 1) / k + 1 / k
            if compat:  # crowd-kit's floats
                with np.errstate(invalid="ignore"):  # NaN only from its zero means
                    weight = np.log(p * (k - 1) / (1 - p))
            else:  # the same, = log((1 + (K−1)s)/(1 − s)): exactly 0 for a worker at chance
                weight = np.log1p(s * (k - 1)) - np.log1p(-s)
            if compat and not np.isfinite(weight).all():
                raise CrowdlearnError(
                    "MMSR(crowdkit_compat=True): a trimmed mean of zeros became a divisor and "
                    f"{int((~np.isfinite(weight)).sum())} workers' estimates turned NaN, as "
                    "crowd-kit's do on these answers; use crowdkit_compat=False")
        self.skill_, self.weight_ = p, weight
        scores = ann.count_votes(weight[ann.worker])
        labels = (_crowdkit_labels(scores, present) if compat
                  else _weighted_labels(scores, ann.count_votes()))
        shares = vote_shares(scores)
        self._record(ann, shares, labels)
        self.scores_ = scores
        self.class_prior_ = shares.mean(axis=0)
        self._warn_about_fit(ann)
        return self

    def _signed_skills(self, ann: Annotations, k: int, compat: bool) -> np.ndarray:
        """Steps 1–5 of the module notes: each worker's clipped ``s_w``."""
        t = ann.n_tasks
        cov, observed = covariance(ann, k)
        n_observed = observed.sum(axis=0)
        linked = n_observed > 0
        if not compat and not linked.all():
            _warn_workers(ann, ~linked, "share no task with any other worker: their accuracy "
                          "cannot be estimated and is set to chance (vote weight 0)")
        # crowd-kit completes (and sizes F, norms and loss) with workers without co-workers
        # too: F = −1 (no trimming for anyone), and their random starts in the loss and scale
        on = np.ones(ann.n_workers, dtype=bool) if compat else linked
        if not on.any():  # no two workers share a task: nothing to complete, all at chance
            self.loss_history_, self.n_iter_, self.converged_ = [], 0, True
            return np.zeros(ann.n_workers)
        f = int(n_observed[on].min()) // 2 - 1 if on.any() else -1
        u, v = self._start(ann)
        u[on], v[on], self.loss_history_ = complete_rank_one(
            np.abs(cov[np.ix_(on, on)]), observed[np.ix_(on, on)], n_observed[on], f, u[on],
            v[on], 1 / np.sqrt(t), self.max_iter, self.tol, zero_means=compat,
            patience=None if compat else self.patience)
        self.n_iter_ = len(self.loss_history_)
        last = self.loss_history_[-1]
        self.converged_ = bool(last < self.tol)
        if not self.converged_ and not np.isfinite(last):
            warnings.warn(f"MMSR: the rank-one completion diverged at iteration {self.n_iter_} "
                          f"(estimates beyond {_DIVERGED:g}: the workers' agreement rates are far "
                          "from rank one, as in tiny crowds); the accuracies come from the last "
                          "finite estimates and are unreliable", CrowdlearnWarning, stacklevel=3)
        elif not self.converged_ and self.n_iter_ < self.max_iter:
            warnings.warn(f"MMSR: the rank-one completion stopped at iteration {self.n_iter_}: "
                          f"its change has not halved in patience={self.patience} iterations "
                          f"(smallest {min(self.loss_history_):.2g}, last {last:.2g}, tol "
                          f"{self.tol:g}); the workers' agreement rates most likely admit "
                          "no rank-one fit (as in tiny crowds where two workers agree at "
                          "exactly chance) and the estimates drift, so the accuracies come "
                          "from the last ones and are unreliable (a completion converging "
                          "that slowly stops too: raise patience to let it run)",
                          CrowdlearnWarning,
                          stacklevel=3)
        elif not self.converged_:
            warnings.warn(f"MMSR: stopped at max_iter={self.max_iter} without converging "
                          f"(last change {self.loss_history_[-1]:.2g}, tol {self.tol:g}); "
                          "raise max_iter", CrowdlearnWarning, stacklevel=3)
        with np.errstate(invalid="ignore"):
            s_abs = u / np.sqrt(np.linalg.norm(u[on]) / np.linalg.norm(v[on]))
        if compat:
            s = determine_signs(np.where(observed, cov, -1 / (k - 1)), s_abs)
        else:
            s, undecided = resolve_signs(cov, s_abs)
            if undecided.any():
                _warn_workers(ann, undecided, "form groups that split into two equally large "
                              "camps disagreeing with each other: which camp is honest cannot "
                              "be told (M-MSR takes the majority as honest), so their accuracy "
                              "is set to chance (vote weight 0)")
        return np.maximum(np.minimum(s, 1 - 1 / np.sqrt(t)), -1 / (k - 1) + 1 / np.sqrt(t))

    def _start(self, ann: Annotations) -> tuple[np.ndarray, np.ndarray]:
        """crowd-kit's uniform start ``u = v`` (independent draws when ``seed`` is None),
        its i-th value going to the i-th worker in order of first answer: of the rows with
        ``crowdkit_compat`` (crowd-kit's worker order for a frame), else of the answers
        sorted by task and worker, lone workers (who share no task: their values never
        enter the completion) left out."""
        rng = np.random.RandomState(self.seed)
        u = rng.random_sample(ann.n_workers)
        v = u.copy() if self.seed is not None else rng.random_sample(ann.n_workers)
        # crowd-kit's order of first answers; by default of the answers sorted by task and
        # worker, and among the workers who share a task with someone, so that the same
        # answers in another row order, or with a lone worker more, start alike
        if self.crowdkit_compat:
            order = pd.unique(ann.worker)
        else:
            worker = ann.worker[np.lexsort((ann.worker, ann.task))]
            order = pd.unique(worker[~ann.lone_workers[worker]])
        u[order], v[order] = u[:len(order)].copy(), v[:len(order)].copy()
        return u, v


def _check_memory(n_workers: int) -> None:
    """Refuse a crowd whose dense W × W matrices would not fit in :func:`_memory_limit`."""
    need, limit = BYTES_PER_PAIR * float(n_workers) ** 2, _memory_limit()
    if need > limit:
        raise InputError(
            f"MMSR: {n_workers:,} workers would need about {need / 2**30:,.1f} GiB (it holds "
            f"dense workers × workers matrices; the limit is {limit / 2**30:,.0f} GiB, "
            f"about {int(np.sqrt(limit / BYTES_PER_PAIR)):,} workers): use another "
            "method (e.g. OneCoinDawidSkene, GLAD, MACE) or fewer workers")


def _memory_limit() -> float:
    """``MEMORY_LIMIT``, or 80% of this machine's memory where that is more."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        physical = 0
    return max(float(MEMORY_LIMIT), 0.8 * physical)


def _weighted_labels(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each task's class with the largest summed vote weight (``scores``); ties go to the
    tied class with the most answers (``counts``), then to the first (step 6)."""
    top = scores == scores.max(axis=1, keepdims=True)
    return np.argmax(np.where(top, counts, -1.0), axis=1)


def _crowdkit_labels(scores: np.ndarray, present: np.ndarray) -> np.ndarray:
    """crowd-kit's choice: among the labels that occur, the argmax of each task's votes
    divided by their sum (the order reverses where the sum is negative; NaN never wins)."""
    sub = scores[:, present]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = sub / sub.sum(axis=1, keepdims=True)
    return np.flatnonzero(present)[np.argmax(np.where(np.isnan(shares), -np.inf, shares),
                                             axis=1)]


def covariance(ann: Annotations, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The W × W worker covariance ``K/(K−1)·agree/common − 1/(K−1)`` (``k`` = K) between
    workers with common tasks, 0 elsewhere and on the diagonal, and the mask of worker pairs
    with common tasks (``observed``, diagonal excluded)."""
    common, agree = pair_counts(ann)
    observed = common > 0
    rate = np.divide(agree, common, out=np.zeros_like(agree), where=observed)
    # crowd-kit's operations in its order (the same floats), then 0 where unobserved
    return np.where(observed, rate * (k / (k - 1)) - 1 / (k - 1), 0.0), observed


def pair_counts(ann: Annotations) -> tuple[np.ndarray, np.ndarray]:
    """W × W counts of the tasks two workers both answered (``common``) and of those they
    answered alike (``agree``), diagonal 0: ``BᵀB`` and ``Σ_k A_kᵀA_k`` for the task × worker
    incidence B and its label-k part A_k, computed as one ``bincount`` over the pairs of
    answers of each task (Σ_t n_t(n_t − 1)/2 pairs; faster than sparse products whose result
    is dense). Tasks are taken in blocks of equal answer count: a loop over the distinct
    counts, not over tasks."""
    inc = ann.incidence  # T × W·K, rows = tasks, one entry per answer at worker·K + label
    k, w = ann.n_classes, ann.n_workers
    per_task = np.diff(inc.indptr)
    size = 2 * w * w  # bins [worker a, worker b, same label]
    dtype = np.int32 if size < 2**31 else np.int64  # half the memory traffic when it fits
    tally = np.zeros(size, dtype=np.int64)
    for c in np.unique(per_task[per_task >= 2]):
        tasks = np.flatnonzero(per_task == c)
        first, second = np.triu_indices(c, 1)
        step = max(1, _PAIRS_PER_BLOCK // len(first))
        for lo in range(0, len(tasks), step):
            # answer slot × task (each slot's row contiguous, so the gathers copy rows)
            where = inc.indptr[tasks[lo:lo + step]][None, :] + np.arange(c)[:, None]
            worker, label = np.divmod(inc.indices[where].astype(dtype, copy=False), k)
            pair = (worker * (2 * w))[first]
            pair += (worker * 2)[second]
            pair += label[first] == label[second]
            tally += np.bincount(pair.ravel(), minlength=size)
    tally = tally.reshape(w, w, 2).astype(np.float64)
    agree = tally[:, :, 1] + tally[:, :, 1].T
    common = tally.sum(axis=2)
    common += common.T
    np.fill_diagonal(common, 0.0)  # a repeated answer (keep="all") pairs a worker with itself
    np.fill_diagonal(agree, 0.0)
    return common, agree


def complete_rank_one(x: np.ndarray, observed: np.ndarray, n_observed: np.ndarray, f: int,
                      u: np.ndarray, v: np.ndarray, zero_fill: float, max_iter: int,
                      tol: float, zero_means: bool = False, patience: int | None = None,
                      ) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """M-MSR on a symmetric ``x`` observed where ``observed``: alternating trimmed means
    (see the module's step 3) until ``‖u vᵀ − u' v'ᵀ‖_F < tol``. A mean of several zeros
    becomes ``zero_fill`` unless ``zero_means`` (crowd-kit keeps it); unless ``zero_means``
    (crowd-kit's behaviour), an iteration whose estimates leave [1/_DIVERGED, _DIVERGED] is
    discarded and ends the run with an infinite loss. With ``patience``, the run also ends
    once the smallest loss so far has not halved in that many iterations (a stalled run:
    its last loss is finite and not below ``tol``, before ``max_iter``). Returns u, v and
    the loss after each iteration."""
    history: list[float] = []
    x, columns = _pack_rows(x, observed)
    best, best_at = float("inf"), 0
    for it in range(max_iter):
        v_new = _trimmed_means(x, n_observed, u[columns], v, f, zero_fill, zero_means)
        u_new = _trimmed_means(x, n_observed, v_new[columns], u, f, zero_fill, zero_means)
        if not zero_means and not _bounded(u_new, v_new):  # diverged: keep the last finite
            history.append(float("inf"))
            break
        du, dv = u_new - u, v_new - v  # u'v'ᵀ − u vᵀ = du v'ᵀ + u dvᵀ: a rank-two norm
        sq = (du @ du) * (v_new @ v_new) + (u @ u) * (dv @ dv) + 2 * (du @ u) * (v_new @ dv)
        loss = float(np.sqrt(max(sq, 0.0))) if np.isfinite(sq) else float("nan")
        u, v = u_new, v_new
        history.append(loss)
        if loss < tol:
            break
        if loss <= best / 2:
            best, best_at = loss, it
        elif patience is not None and it - best_at >= patience:
            break
    return u, v, history


def _pack_rows(x: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's observed values of ``x`` moved to its front, NaN after them (NaN sorts
    after every value: out of every selection), in a W × m matrix (m the most observed
    values of any row, at least 1), with the column each came from (0 for padding). The
    trimmed means then sort W × m values rather than W × W: the same values in each row,
    so the same sorted rows and sums."""
    rows, cols = np.nonzero(observed)  # row-major: each row's columns in order
    per_row = observed.sum(axis=1)
    width = max(int(per_row.max(initial=0)), 1)
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    packed = np.full((len(x), width), np.nan)
    packed[rows, slot] = x[rows, cols]
    columns = np.zeros((len(x), width), dtype=np.intp)
    columns[rows, slot] = cols
    return packed, columns


def _bounded(u: np.ndarray, v: np.ndarray) -> bool:
    """Whether every estimate lies in [1/_DIVERGED, _DIVERGED] (NaN does not): where the
    agreements are far from rank one (tiny crowds), the trimmed means can grow (or shrink)
    by a constant factor every iteration until they overflow."""
    both = np.concatenate([u, v])
    return bool(np.all((both <= _DIVERGED) & (both >= 1 / _DIVERGED)))


def _trimmed_means(x: np.ndarray, n_observed: np.ndarray, divisor: np.ndarray,
                   current: np.ndarray, f: int, zero_fill: float,
                   zero_means: bool = False) -> np.ndarray:
    """For every row j at once: the mean of ``x[j, i] / divisor[j, i]`` over the observed i
    (``x`` NaN elsewhere; ``divisor`` broadcast against ``x``: a vector holds one value per
    column) with values around ``current[j]`` trimmed as crowd-kit's
    ``_remove_largest_and_smallest_F_value`` does (NaN and inf included): counts of the
    values below and above ``current[j]`` give the first and last sorted position kept."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = x / divisor  # an observed 0/0 is NaN in crowd-kit too: same positions
    a = current[:, None]
    n_lt = np.count_nonzero(r < a, axis=1)
    n_gt = np.count_nonzero(r > a, axis=1)
    r.sort(axis=1)
    n = n_observed
    if f < 0:  # crowd-kit's y[F:] with F = −1: only the largest value
        start, end = np.maximum(n - 1, 0), n
    else:  # positions sorted: [below a | equal to a | above a | NaN]
        few_low, few_high = n_lt < f, n_gt < f
        start = np.where(few_low, n_lt, f)  # drop every value below a, or the f smallest
        end = n - f  # drop the f largest (NaN first) ...
        rows = np.flatnonzero(few_low | few_high)
        if len(rows):  # ... unless every value below a went (NaN too) or few are above it
            n_eq = np.count_nonzero(r[rows] == a[rows], axis=1)
            n_nan = n[rows] - n_lt[rows] - n_eq - n_gt[rows]  # an observed 0/0
            last = np.where(few_low[rows], n[rows] - n_nan, n[rows])
            end[rows] = np.where(few_high[rows], n_lt[rows] + n_eq, last - f)
    count = end - start
    total = _row_segment_sums(r, start, end)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
    # crowd-kit replaces a single kept 0 by 1/√T (zero_fill) and keeps a mean of several,
    # by which the next half-step divides; the default replaces those too
    mean = np.where((mean == 0) & ((count == 1) | ~zero_means), zero_fill, mean)
    return np.where(count > 0, mean, current)


def _row_segment_sums(r: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``r[j, start[j]:end[j]].sum()`` for every row j (0 where empty), touching only those
    entries: one ``np.add.reduceat`` over the flattened rows."""
    h, w = r.shape
    flat = r.reshape(-1)
    offset = np.arange(h, dtype=np.int64) * w
    bounds = np.empty(2 * h, dtype=np.int64)
    bounds[0::2] = offset + start
    bounds[1::2] = offset + end
    sums = np.empty(h)
    # reduceat sums from each bound to the next; the last row's end may be len(flat)
    with np.errstate(invalid="ignore"):
        sums[:-1] = np.add.reduceat(flat, bounds[:-2])[0::2] if h > 1 else 0.0
        sums[-1] = r[-1, start[-1]:end[-1]].sum()
    return np.where(end > start, sums, 0.0)  # reduceat gives r[j, start] for an empty one


def resolve_signs(cov: np.ndarray, s_abs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The default sign step: ``s_abs`` with each worker's sign, and the mask of workers left
    undecided (0).

    ``sign(C_ij) = sign(s_i) sign(s_j)`` ties two workers' signs only where ``C_ij ≠ 0``, so
    the signs are found separately on each connected group of the graph of nonzero ``C``:
    crowd-kit's eigenvector (:func:`determine_signs`) on the group, then the group's majority
    taken as positive (Ma & Olshevsky's assumption that most workers are honest). A worker
    with no nonzero ``C_ij`` has no sign (0: at chance, or sharing no task); so do the workers
    of a group that splits evenly (undecided). Unlike crowd-kit's rule (a worker is signed
    when its row of C does not sum to 0), a worker whose positive and negative correlations
    cancel keeps its sign: 3 honest workers and 2 always-wrong ones have rows summing to
    0 and −2, which left only the adversaries signed, and positive."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    out = np.zeros_like(s_abs)
    undecided = np.zeros(len(s_abs), dtype=bool)
    signed = np.flatnonzero((cov != 0).any(axis=1))
    if len(signed) == 0:
        return out, undecided
    sub = cov[np.ix_(signed, signed)]
    n_groups, group = connected_components(csr_matrix(sub != 0), directed=False)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # one eigenproblem per group
        members = order[lo:hi]
        sign = _eigenvector_signs(sub[np.ix_(members, members)])
        majority = np.sign(sign.sum())
        workers = signed[members]
        out[workers] = majority * sign * s_abs[workers]
        undecided[workers] = majority == 0
    return out, undecided


def determine_signs(cov: np.ndarray, s_abs: np.ndarray) -> np.ndarray:
    """crowd-kit's sign step: ``s_abs`` with each worker's sign from the signed-graph
    eigenvector (:func:`_eigenvector_signs`) of the workers whose row of ``cov`` does not sum
    to 0, the majority sign taken as positive; 0 for the other workers. Each of those must
    have a nonzero entry among them (crowd-kit's C, with −1/(K−1) on its diagonal, does)."""
    out = np.zeros_like(s_abs)
    valid = np.flatnonzero(cov.sum(axis=1) != 0)
    if len(valid) == 0:
        return out
    sign = _eigenvector_signs(cov[np.ix_(valid, valid)])
    out[valid] = np.sign(sign.sum()) * s_abs[valid] * sign
    return out


def _eigenvector_signs(cv: np.ndarray) -> np.ndarray:
    """The signs of crowd-kit's signed-graph eigenvector on the k workers of ``cv`` (each
    with a nonzero entry in its row).

    crowd-kit's graph: the workers, ``|sign C|`` between those negatively correlated
    (a self-loop where ``C_ii < 0``, as in crowd-kit's C; the default's C has a 0 diagonal),
    and one new node per positively correlated pair, linked to both.
    With ``N = D^-1/2 A D^-1/2`` its normalised adjacency, the wanted eigenvector is N's for
    the smallest eigenvalue λ (eigenvalue λ of the random walk ``D^-1 A``, the one nearest −1;
    the eigenvectors differ by the positive factor ``D^-1/2``). Eliminating the new nodes
    (``b = N21 a / λ``) leaves ``λ a = N11 a + G a / λ`` with ``G = N12 N21 = D^-1/2 (P +
    A₊) D^-1/2 / 2`` (A₊ the positive edges, P their count per worker), whose nonzero
    eigenvalues and worker parts are those of ``[[N11, G^½], [G^½, 0]]`` (2k × 2k,
    symmetric) and of ``[[N11, G], [I, 0]]`` (2k × 2k, for ARPACK without G^½)."""
    k = len(cv)
    neg = (cv < 0).astype(np.float64)
    pos = (cv > 0).astype(np.float64)
    n_pos = pos.sum(axis=1)
    scale = 1 / np.sqrt(neg.sum(axis=1) + n_pos)  # degree ≥ 1: a nonzero entry per row
    n11 = neg * scale[:, None] * scale[None, :]
    pos[np.diag_indices(k)] += n_pos
    g = pos * (scale[:, None] * scale[None, :] / 2)
    if k <= DENSE_SIGNS_MAX:
        ev, vec = np.linalg.eigh(g)
        root = (vec * np.sqrt(np.maximum(ev, 0.0))) @ vec.T
        _, vec = np.linalg.eigh(np.block([[n11, root], [root, np.zeros((k, k))]]))
        a = vec[:k, 0]
    else:
        def matvec(z):
            z = np.asarray(z).ravel()
            return np.concatenate([n11 @ z[:k] + g @ z[k:], z[:k]])

        op = sla.LinearOperator((2 * k, 2 * k), matvec=matvec, dtype=np.float64)
        v0 = np.random.RandomState(0).random_sample(2 * k)
        _, vec = sla.eigs(op, k=1, which="SR", v0=v0, tol=1e-12)
        a = vec[:k, 0].real
    return np.sign(a)


def _warn_workers(ann: Annotations, which: np.ndarray, what: str) -> None:
    """One warning naming how many workers (and the first few) ``what`` says about."""
    ids = [repr(ann.workers[i]) for i in np.flatnonzero(which)[:3]]
    more = ", ..." if which.sum() > 3 else ""
    warnings.warn(f"MMSR: {int(which.sum())} of {ann.n_workers} workers ({', '.join(ids)}"
                  f"{more}) {what}", CrowdlearnWarning, stacklevel=4)
