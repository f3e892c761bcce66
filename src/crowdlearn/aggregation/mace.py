"""MACE: Multi-Annotator Competence Estimation — every worker either knows or spams.

Hovy, D., Berg-Kirkpatrick, T., Vaswani, A. and Hovy, E. (2013). Learning whom to trust with
MACE. Proceedings of NAACL-HLT 2013, 1120–1130. https://aclanthology.org/N13-1132

Model. Task t has a true label ``y_t`` uniform over the K classes. On each answer worker w
spams with probability ``1 − θ_w``; knowing, it gives the true label, spamming, it draws a
label from its own strategy ``ξ_w`` (a distribution over the K labels):

    P(answer l | y_t = k, w) = (1 − θ_w)·ξ_w[l] + θ_w·[l = k]
    P(y_t = k | answers)     ∝ q_k · Π_{(t, w, l)} ((1 − θ_w)·ξ_w[l] + θ_w·[l = k])   (E-step)

with ``q`` learned (``class_prior="estimate"``, the default, an extension: ``q ~ Dirichlet(1)``
under VB, MAP with the ``smoothing`` pseudo-count under EM) or uniform (the paper's model and
crowd-kit's, ``class_prior="uniform"``). The learned prior is the default because it is what
comes within 0.005 of crowd-kit's published accuracy on all ten public crowds of
``benchmarks.real_crowds``
(on product, where one class dominates, 0.931 against 0.830 with the uniform prior; crowd-kit's
own 0.929 there comes from a bug that hands workers each other's strategies); the uniform
prior is better on crowds where prolific workers favour one class (0.749 against 0.708 on a
simulated one).

The expected counts of the E-step are, per worker, the answers it knew
(``Σ P(y_t = l)·θ_w / ((1 − θ_w)·ξ_w[l] + θ_w)`` over its answers l) and, per worker and label,
the answers it spammed (its answers minus those it knew). The M-step turns them into
parameters in one of two ways (``method``):

* ``"em"``: MAP estimates under symmetric Dirichlet(1 + s) priors, ``s = smoothing / K``:
  ``θ_w = (knew_w + s) / (n_w + 2s)``, ``ξ_w[l] = (spammed_wl + s) / (spammed_w + K·s)``.
  The objective is the log-likelihood plus ``s·Σ(log θ + log(1 − θ) + Σ_l log ξ)``.
* ``"vb"`` (default): mean-field variational Bayes with ``θ_w ~ Beta(beta, alpha)`` (alpha
  pseudo-counts spammed answers, beta known ones) and ``ξ_w ~ Dirichlet(strategy_prior)``;
  the E-step uses ``exp E[log θ_w] = exp(ψ(knew_w + beta) − ψ(n_w + alpha + beta))`` and the
  like for ``1 − θ_w`` and ``ξ_w``. The objective is the evidence lower bound: the E-step's
  log normaliser minus ``KL(q(θ, ξ) ‖ prior)``.

Either objective is non-decreasing over the iterations. ``n_restarts`` fits start from random
parameters (``U(1, 2 + default_noise)`` draws, normalised) and the one with the best final
objective is kept. The restarts run together: the parameters carry a restart axis (W × R,
W × K × R), and an iteration is one sparse product over the answers for the E-step (each
answer adds its worker-label's log-gain ``log(1 + θ_w / ((1 − θ_w)·ξ_w[l]))`` to its task
and label, R columns at once) and one, transposed, for the M-step's counts, over chunks of
tasks; the factors that do not depend on the class enter only the log-likelihood, through
the worker-label counts. With two classes the product gives the log-odds directly.

Differences from crowd-kit 1.4.2 (``crowdkit.aggregation.MACE``), whose defaults these are
(``method="vb"``, 10 restarts, alpha = beta = 0.5, Dirichlet(10) on ξ, ``default_noise=0.5``,
EM pseudo-count 0.01/K, seed 0) except for the number of iterations:

* crowd-kit seeds every restart with the same ``random_state``, so its restarts are identical
  and its result is its first restart's. Here restart 0 is that same initialisation (drawn in
  the order workers and labels first appear in the answers) and restarts 1… are new draws
  from ``seed``; ``n_restarts=1`` is crowd-kit's start.
* crowd-kit's M-step reads its strategy counts in sorted worker and label order but its E-step
  indexes them in order of first appearance, so unless the answers come sorted by worker
  and label it pairs workers with other workers' strategies. Here the pairing is right; both
  agree on answers that are sorted (tested). The mispairing can help or hurt: on the
  "product" crowd of Zheng et al. (2017; 88 % of the tasks in one class, 3 answers each)
  crowd-kit scores 0.929 against gold, but 0.828 on the same answers sorted by worker; this
  class with crowd-kit's uniform class prior scores 0.820 with ``n_restarts=1`` and 0.830
  with 10 restarts, and 0.931 with its default, learned, prior.
* crowd-kit always runs ``n_iter=50`` iterations and selects by the log-likelihood of the last
  E-step (with 1e-8 added to every task's likelihood); here an iteration limit of 100 with a
  ``tol`` stop (``max_iter=50, tol=0`` is crowd-kit's schedule), VB selects by the evidence
  lower bound, EM by the MAP objective, and every product is in log space (no underflow on
  tasks with many answers).
* crowd-kit's ``smoothing`` argument is not read by its code (it uses 0.01/K); here
  ``smoothing`` is that total pseudo-count (0.01 unless given), spread over the K labels,
  and applies to ``method="em"`` only.
* Labels that no worker gave but that are declared in ``classes`` stay possible true labels
  (crowd-kit knows only the labels it sees). Ties go to the first class in ``classes``.

Where no task has two answers the parameters are not identifiable: an answer l of worker w
has the marginal likelihood ``Σ_k q_k P(l | k, w) = (1 − θ_w)·ξ_w[l] + θ_w·q_l``, which a
range of θ_w fits equally well with a matching ξ_w (every θ_w when ``q`` equals the worker's
label shares; θ_w = 0 with ξ_w those shares always), so the fit would only report where its
random start drifted: that ran the posterior to the learned class prior and labelled 18–51 %
of the tasks against their one answer (simulated crowds of 60–300 tasks). ``fit`` then runs no
iteration and keeps the model's prior means: θ_w = ``beta / (alpha + beta)`` under VB (½
under EM, the mode of its symmetric prior), ξ_w uniform, the paper's uniform class prior.
Each task's posterior is then ``θ + (1 − θ)/K`` on its answer and ``(1 − θ)/K`` on every
other class ((K + 1)/(2K) against 1/(2K) with the defaults): the answer, from a worker nobody
could check. ``restart_objectives_`` are NaN. For the same reason, in a crowd where other
tasks have several answers, a worker who shares no task with anyone keeps those prior means
(its counts are left out of the M-step): its answers would otherwise only agree with
themselves, and its θ_w, free to drift, let the learned class prior overrule them (on a
simulated crowd of 100 tasks with 3 answers and 40 tasks answered by 4 lone workers, 30 % of
the lone workers' tasks were labelled against their answer; none now).

A crowd with a single class has nothing to learn: every task gets that class with posterior 1,
``competence_`` is the prior mean ``beta / (alpha + beta)``, no iteration runs, and ``fit``
warns (:class:`~crowdlearn.errors.CrowdlearnWarning`) as every aggregator does.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, expit, gammaln

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.aggregation.em import TINY, default_threads, row_block, thread_pool
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.params import N_THREADS, NON_NEGATIVE_REAL, POSITIVE_REAL, Choice, Integers

CHUNK_CELLS = 1 << 15  # tasks × classes × restarts per chunk: 256 kB per dense array
BINARY_PATH = True  # two classes: the log-odds form of the E-step (tests compare both forms)


class MACE(Aggregator):
    """MACE (Hovy et al. 2013): each worker knows the answer with probability θ_w and
    otherwise answers from its own strategy ξ_w; fitted by VB or EM with random restarts.

    Parameters
    ----------
    method:
        ``"vb"`` (variational Bayes with Beta and Dirichlet priors) or ``"em"`` (MAP EM with
        a small ``smoothing``).
    n_restarts:
        Fits from different random starts, run together; the best objective wins.
    max_iter:
        Most iterations (an M-step and an E-step each) per restart (crowd-kit's ``n_iter``,
        50 there; 100 here, where ``tol`` usually stops the fit first).
    tol:
        Stop when no restart's objective per answer gained ``tol`` or more in an iteration
        (0: always run ``max_iter`` iterations, as crowd-kit does). The default stopped
        within 8–65 iterations on ten real crowds.
    smoothing:
        EM only: total Dirichlet pseudo-count of each worker's strategy, ``smoothing / K``
        per label and also per side of θ (None: 0.01, crowd-kit's 0.01/K). Given with
        ``method="vb"``, whose priors are ``alpha``, ``beta`` and ``strategy_prior``, it is
        refused rather than ignored.
    default_noise:
        Initial parameters are ``U(1, 2 + default_noise)`` draws, normalised.
    alpha, beta:
        VB only: Beta pseudo-counts of spammed (alpha) and known (beta) answers.
    strategy_prior:
        VB only: symmetric Dirichlet pseudo-count of every strategy ξ_w (crowd-kit: 10).
    class_prior:
        ``"estimate"`` the class frequencies (default; better on crowds where one class
        dominates, worse where prolific workers favour one class) or keep them ``"uniform"``
        (the paper's model and crowd-kit's).
    seed:
        Seed of the initial parameters (an int in [0, 2³²): restart 0 is crowd-kit's start
        for that ``random_state``; ``None``: every start random).
    n_threads:
        Threads over chunks of tasks (default: the machine's cores, at most 8).

    Attributes
    ----------
    posteriors_ : T×K posterior class probabilities of the best restart.
    competence_ : W, θ_w: the probability that the worker knows (does not spam); the
        posterior mean under VB, the MAP estimate under EM.
    strategy_ : W×K, ξ_w: the worker's spamming strategy, the label distribution of its spam
        (posterior mean under VB). crowd-kit calls this ``thetas_``; its ``spamming_`` is
        W×2, (1 − θ_w, θ_w), whose second column is ``competence_``.
    class_prior_ : K, the mean posterior (whether or not the model learns the prior).
    skill_ : W, the probability of a right answer,
        ``θ_w + (1 − θ_w)·Σ_k ξ_w[k]·class_prior_[k]``.
    log_likelihood_ : the best restart's objective per answer after each iteration (VB: the
        evidence lower bound, EM: the log-likelihood plus the log smoothing prior).
    restart_objectives_ : R, every restart's final objective per answer.
    best_restart_ : the index of the restart kept.
    n_iter_ : iterations run.
    converged_ : whether the last gain of every restart was below ``tol`` (if not, ``fit``
        warns); always false with ``tol=0``.

    Examples
    --------
    >>> MACE().fit(Annotations.from_csv("answers.csv")).predict()   # doctest: +SKIP
    """

    _parameter_constraints = {
        "method": [Choice("vb", "em")], "n_restarts": [Integers(1)],
        "max_iter": [Integers(1)], "tol": [NON_NEGATIVE_REAL],
        "smoothing": [NON_NEGATIVE_REAL, None], "default_noise": [NON_NEGATIVE_REAL],
        "alpha": [POSITIVE_REAL], "beta": [POSITIVE_REAL], "strategy_prior": [POSITIVE_REAL],
        "class_prior": [Choice("estimate", "uniform")],
        "seed": [Integers(0, 2**32 - 1), None],  # np.random.RandomState's range
        "n_threads": N_THREADS}

    def __init__(self, method: Literal["vb", "em"] = "vb", *, n_restarts: int = 10,
                 max_iter: int = 100, tol: float = 1e-5, smoothing: float | None = None,
                 default_noise: float = 0.5, alpha: float = 0.5, beta: float = 0.5,
                 strategy_prior: float = 10.0,
                 class_prior: Literal["uniform", "estimate"] = "estimate",
                 seed: int | None = 0, n_threads: int | None = None):
        self.method = method
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.default_noise = default_noise
        self.alpha = alpha
        self.beta = beta
        self.strategy_prior = strategy_prior
        self.class_prior = class_prior
        self.seed = seed
        self.n_threads = n_threads

    # --------------------------------------------------------------------------------
    def _check_more(self) -> None:
        if self.smoothing is not None and self.method == "vb":
            raise InputError("MACE: smoothing is the pseudo-count of method='em'; "
                             "method='vb' (the default, and the command line's) has the "
                             "priors alpha, beta and strategy_prior instead")

    @property
    def _smoothing(self) -> float:
        return 0.01 if self.smoothing is None else float(self.smoothing)

    def fit(self, answers, **frame_options) -> MACE:
        """Fit on ``answers`` (:class:`~crowdlearn.Annotations`, or a long DataFrame with
        ``frame_options`` as in :class:`~crowdlearn.aggregation.Aggregator`)."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        if ann.n_classes == 1:
            return self._fit_one_class(ann)
        if ann.task_counts.max(initial=0) < 2:
            return self._fit_unpaired(ann)
        kernel = _Kernel(ann, self.n_restarts, self.n_threads,
                         class_totals=self.class_prior == "estimate")
        params = self._initial_params(ann)
        stats = kernel.e_step(*params)
        alone = ann.lone_workers  # their parameters stay at the prior (module notes)
        n_wl = np.where(alone[:, None], 0.0, kernel.n_wl) if alone.any() else kernel.n_wl
        history = []
        for _ in range(self.max_iter):
            used = stats if not alone.any() else _Stats(  # the counts behind the next E-step
                None, np.where(alone[:, None, None], 0.0, stats.knew_wl), stats.class_totals)
            params, penalty = self._m_step(used, n_wl)
            stats = kernel.e_step(*params)
            history.append((stats.log_lik + penalty) / len(ann))
            if len(history) > 1 and np.all(history[-1] - history[-2] < self.tol):
                break
        history = np.array(history)  # iterations × R
        final = history[-1]
        best = int(np.argmax(np.where(np.isnan(final), -np.inf, final)))
        one = tuple(p[..., best:best + 1] for p in params)
        post = kernel.e_step(*one, keep_posteriors=True).posteriors[:, :, 0]
        self._record(ann, post, np.argmax(post, axis=1))
        self.class_prior_ = post.mean(axis=0)
        theta, xi = self._point_estimates(used, n_wl, best)
        self.competence_ = theta
        self.strategy_ = xi
        self.skill_ = theta + (1.0 - theta) * (xi @ self.class_prior_)
        self.log_likelihood_ = history[:, best]
        self.restart_objectives_ = final
        self.best_restart_ = best
        self.n_iter_ = len(history)
        gains = history[-1] - history[-2] if len(history) > 1 else np.full(len(final), np.inf)
        self.converged_ = bool(self.tol > 0 and np.all(gains < self.tol))
        if not self.converged_ and self.tol > 0 and self.max_iter > 1:
            warnings.warn(f"MACE: stopped at max_iter={self.max_iter} before every restart "
                          f"converged (largest last gain {np.nanmax(gains):.2g} per answer, tol "
                          f"{self.tol:g}); raise max_iter", CrowdlearnWarning, stacklevel=2)
        self._warn_about_fit(ann)
        return self

    # --------------------------------------------------------------------------------
    def _initial_params(self, ann: Annotations):
        """(spam weight W×R, know weight W×R, strategy W×K×R) of every restart: restart 0
        as crowd-kit draws it for ``random_state=seed`` (rows in order of first appearance
        of the workers, columns of the labels), the others from ``default_rng(seed)``."""
        w, k, r = ann.n_workers, ann.n_classes, self.n_restarts
        high = 2.0 + float(self.default_noise)
        spam = np.empty((r, w, 2))
        strat = np.empty((r, w, k))
        rest = 0
        if self.seed is not None:
            workers = _appearance(ann.worker, w)
            state = np.random.RandomState(int(self.seed))
            spam[0] = 1.0 + (high - 1.0) * state.uniform(size=(w, 2))[workers]
            state = np.random.RandomState(int(self.seed))  # crowd-kit reseeds for ξ
            draws = 1.0 + (high - 1.0) * state.uniform(size=(w, k))
            strat[0] = draws[workers][:, _appearance(ann.label, k)]
            rest = 1
        rng = np.random.default_rng(self.seed)
        spam[rest:] = rng.uniform(1.0, high, size=(r - rest, w, 2))
        strat[rest:] = rng.uniform(1.0, high, size=(r - rest, w, k))
        spam /= spam.sum(axis=2, keepdims=True)
        strat /= strat.sum(axis=2, keepdims=True)
        # restart axis last: the R columns of the sparse products
        return (np.ascontiguousarray(spam[:, :, 0].T), np.ascontiguousarray(spam[:, :, 1].T),
                np.ascontiguousarray(strat.transpose(1, 2, 0)), np.full((k, r), -np.log(k)))

    def _m_step(self, stats: _Stats, n_wl: np.ndarray):
        """Parameters (as the E-step uses them) from the expected counts, and the log prior
        density term of the objective (R)."""
        k = n_wl.shape[1]
        knew = stats.knew                                   # W × R
        spammed_wl = n_wl[:, :, None] - stats.knew_wl       # W × K × R
        spammed = spammed_wl.sum(axis=1)                    # W × R
        r = knew.shape[1]
        log_q = np.full((k, r), -np.log(k))
        q_penalty = 0.0
        if self.class_prior == "estimate":
            if self.method == "em":
                s = self._smoothing / k
                d = stats.class_totals + s
                log_q = _log(d / d.sum(axis=0))
                q_penalty = s * log_q.sum(axis=0)
            else:
                d = stats.class_totals + 1.0
                log_q = digamma(d) - digamma(d.sum(axis=0))
                q_penalty = -self._kl_dirichlet(d[None], d.sum(axis=0)[None], 1.0)
        if self.method == "em":
            s = self._smoothing / k
            total = knew + spammed + 2 * s
            theta = np.divide(knew + s, total, out=np.full_like(total, 0.5), where=total > 0)
            row = spammed + k * s
            xi = np.divide(spammed_wl + s, row[:, None], out=np.full_like(spammed_wl, 1 / k),
                           where=row[:, None] > 0)
            know, spam = theta, 1.0 - theta
            penalty = 0.0
            if s > 0:
                penalty = s * (_log(know) + _log(spam) + _log(xi).sum(axis=1)).sum(axis=0)
            return (spam, know, xi, log_q), penalty + q_penalty
        a_know, a_spam = knew + float(self.beta), spammed + float(self.alpha)
        c = spammed_wl + float(self.strategy_prior)
        psi_total = digamma(a_know + a_spam)
        know = np.exp(digamma(a_know) - psi_total)
        spam = np.exp(digamma(a_spam) - psi_total)
        c_total = c.sum(axis=1)
        xi = np.exp(digamma(c) - digamma(c_total)[:, None])
        penalty = -(self._kl_beta(a_know, a_spam)
                    + self._kl_dirichlet(c, c_total, float(self.strategy_prior)))
        return (spam, know, xi, log_q), penalty + q_penalty

    def _kl_beta(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Σ_w KL(Beta(a_w, b_w) ‖ Beta(beta, alpha)), one per restart."""
        a0, b0 = float(self.beta), float(self.alpha)
        ab = a + b
        kl = (gammaln(ab) - gammaln(a) - gammaln(b) - gammaln(a0 + b0) + gammaln(a0)
              + gammaln(b0) + (a - a0) * digamma(a) + (b - b0) * digamma(b)
              - (ab - a0 - b0) * digamma(ab))
        return kl.sum(axis=0)

    @staticmethod
    def _kl_dirichlet(c: np.ndarray, c_total: np.ndarray, g: float) -> np.ndarray:
        """Σ_w KL(Dirichlet(c_w) ‖ Dirichlet(g, …, g)), one per restart (c: W × K × R)."""
        k = c.shape[1]
        psi_total = digamma(c_total)
        kl = (gammaln(c_total) - gammaln(c).sum(axis=1) - gammaln(k * g) + k * gammaln(g)
              + ((c - g) * (digamma(c) - psi_total[:, None])).sum(axis=1))
        return kl.sum(axis=0)

    def _point_estimates(self, stats: _Stats, n_wl: np.ndarray, r: int):
        """θ (W) and ξ (W×K) of restart ``r`` from the counts of its last M-step: posterior
        means under VB, MAP estimates (the parameters of its last E-step) under EM."""
        one = _Stats(None, stats.knew_wl[:, :, r:r + 1], stats.class_totals[:, r:r + 1])
        if self.method == "em":
            (_, know, xi, _), _ = self._m_step(one, n_wl)
            return know[:, 0], xi[:, :, 0]
        knew, spammed_wl = one.knew[:, 0], n_wl - one.knew_wl[:, :, 0]
        a_know, a_spam = knew + float(self.beta), spammed_wl.sum(axis=1) + float(self.alpha)
        c = spammed_wl + float(self.strategy_prior)
        return a_know / (a_know + a_spam), c / c.sum(axis=1, keepdims=True)

    def _fit_unpaired(self, ann: Annotations) -> MACE:
        """No task has two answers (module notes): the prior-mean worker, no iteration."""
        k = ann.n_classes
        theta = float(self.beta) / (self.alpha + self.beta) if self.method == "vb" else 0.5
        post = np.full((ann.n_tasks, k), (1.0 - theta) / k)
        post[ann.task, ann.label] += theta
        self._record(ann, post, np.argmax(post, axis=1))
        self.class_prior_ = post.mean(axis=0)
        self.competence_ = np.full(ann.n_workers, theta)
        self.strategy_ = np.full((ann.n_workers, k), 1.0 / k)
        self.skill_ = theta + (1.0 - theta) * (self.strategy_ @ self.class_prior_)
        self.log_likelihood_ = np.zeros(0)
        self.restart_objectives_ = np.full(self.n_restarts, np.nan)
        self.best_restart_ = 0
        self.n_iter_ = 0
        self.converged_ = True
        self._warn_about_fit(ann)
        return self

    def _fit_one_class(self, ann: Annotations) -> MACE:
        post = np.ones((ann.n_tasks, 1))
        self._record(ann, post, np.zeros(ann.n_tasks, dtype=np.int64))
        self.class_prior_ = np.ones(1)
        self.competence_ = np.full(ann.n_workers, float(self.beta) / (self.alpha + self.beta))
        self.strategy_ = np.ones((ann.n_workers, 1))
        self.skill_ = np.ones(ann.n_workers)
        self.log_likelihood_ = np.zeros(0)
        self.restart_objectives_ = np.zeros(self.n_restarts)
        self.best_restart_ = 0
        self.n_iter_ = 0
        self.converged_ = True
        self._warn_about_fit(ann)
        return self


def _log(x: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(x, TINY))


def _appearance(codes: np.ndarray, n: int) -> np.ndarray:
    """For each code 0..n−1, its rank in order of first appearance in ``codes`` (codes that
    never appear come last, in code order): the order ``pandas.factorize`` gives them."""
    first = np.full(n, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(n)
    return rank


class _Stats:
    """What one E-step gives every restart: the log-likelihood (R), the expected number of
    known answers per worker (W × R) and per worker and label (W × K × R)."""

    def __init__(self, log_lik, knew_wl, class_totals, posteriors=None):
        self.log_lik = log_lik
        self.class_totals = class_totals
        self.knew_wl = knew_wl
        self.knew = knew_wl.sum(axis=1)
        self.posteriors = posteriors


class _Kernel:
    """The answers as a sparse matrix cut into chunks of tasks; runs the E-step of all
    restarts at once over the chunks, in float64.

    K classes: columns are (worker·K + label) and a chunk of tasks a..b holds rows a·K to b·K,
    class-major (row a·K + label·(b − a) + task − a), so that ``rows @ gain`` sums, per class
    and task, the gains of the answers of that class, and every per-class slice of the result
    is contiguous. Two classes (when ``BINARY_PATH``): rows are tasks and an answer counts +1
    for label 1, −1 for label 0, so that the product is the log-odds directly: half the dense
    work and two transcendental functions per task and restart instead of three."""

    def __init__(self, ann: Annotations, n_restarts: int, n_threads: int | None,
                 class_totals: bool):
        t, w, k = ann.n_tasks, ann.n_workers, ann.n_classes
        self.t, self.w, self.k = t, w, k
        self.binary = k == 2 and BINARY_PATH
        self.width = 1 if self.binary else k  # rows of the matrix per task
        self.step = max(256, CHUNK_CELLS // (k * n_restarts))  # tasks per chunk
        cols = ann.worker_label.astype(np.int64)
        rows = ann.task.astype(np.int64)
        data = np.ones(len(rows))
        if self.binary:
            data = np.where(ann.label == 1, 1.0, -1.0)
        else:
            first = rows // self.step * self.step  # the first task of the answer's chunk
            rows = first * k + ann.label * np.minimum(self.step, t - first) + (rows - first)
        index = np.int32 if max(t, w) * k < 2**31 and len(rows) < 2**31 else np.int64
        self.matrix = sp.csr_matrix((data, (rows.astype(index), cols.astype(index))),
                                    shape=(t * self.width, w * k))
        self.n_wl = np.bincount(cols, minlength=w * k).reshape(w, k).astype(np.float64)
        self.class_totals = class_totals
        self.threads = default_threads(n_threads)
        self.blocks = []  # (first task, last task + 1, rows of the matrix, their transpose)
        for a in range(0, t, self.step):  # a loop over chunks of tasks, not over tasks
            b = min(a + self.step, t)
            block = row_block(self.matrix, a * self.width, b * self.width)
            self.blocks.append((a, b, block, block.T))

    def e_step(self, spam, know, xi, log_q, keep_posteriors: bool = False) -> _Stats:
        """E-step of R restarts: ``spam``, ``know`` (W × R) and ``xi`` (W × K × R) are the
        weights of spamming, knowing and of each spammed label, ``log_q`` (K × R) the log
        class prior. ``keep_posteriors``: return the posteriors too (T × K × R)."""
        r = spam.shape[1]
        w_spam = np.maximum(spam[:, None, :] * xi, TINY)        # W × K × R
        w_know = np.broadcast_to(know[:, None, :], w_spam.shape)
        # P(answer l | y_t = k) = w_spam[l]·(1 + gain[l]·[l = k]): the first factor does not
        # depend on k, so it enters the log-likelihood once, through the answer counts, and
        # only the gains of the answered labels are summed per task and class
        log_spam = np.log(w_spam)
        gain = np.log1p(w_know / w_spam)
        know_share = (w_know / (w_spam + w_know)).reshape(self.w * self.k, r)
        post = np.empty((self.t, self.k, r)) if keep_posteriors else None
        blocks = self.blocks
        gain_rows = gain.reshape(self.w * self.k, r)
        chunk = self._binary_chunk if self.binary else self._chunk

        def run(block):
            return chunk(block, gain_rows, log_q, post)

        if self.threads > 1 and len(blocks) > 1:
            parts = thread_pool(self.threads).map(run, blocks)
        else:
            parts = map(run, blocks)
        # summed in chunk order whatever the threads: the same seed gives the same result
        log_lik = np.tensordot(self.n_wl, log_spam, axes=([0, 1], [0, 1]))
        totals = np.zeros((self.k, r))
        mass = np.zeros((self.w * self.k, r))                    # Σ P(y_t = l) per (w, l)
        for part_ll, part_totals, part_mass in parts:
            log_lik += part_ll
            totals += part_totals
            mass += part_mass
        if self.binary:
            # the chunks summed log(q_0·e^{D_0} + q_1·e^{D_1}) − D_0 − log q_0, P(y_t = 1),
            # and per worker-label ±Σ P(y_t = 1): restore the rest from the counts
            log_lik += np.tensordot(self.n_wl[:, 0], gain[:, 0], axes=(0, 0))
            log_lik += self.t * log_q[0]
            totals = np.stack([self.t - totals[1], totals[1]])
            mass = mass.reshape(self.w, 2, r)
            mass[:, 0] += self.n_wl[:, 0, None]
            mass = mass.reshape(self.w * 2, r)
        knew_wl = (mass * know_share).reshape(self.w, self.k, r)
        return _Stats(log_lik, knew_wl, totals, post)

    def _chunk(self, block: tuple, gain: np.ndarray, log_q: np.ndarray, post_out):
        """Posteriors of tasks a..b (K × chunk × R), the chunk's share of the log-likelihood
        (less the spam factors), class totals (K × R) and Σ P(y_t = l) per worker-label."""
        a, b, m, m_t = block
        k, r = self.k, gain.shape[1]
        log_joint = (m @ gain).reshape(k, b - a, r)             # class-major
        log_joint += log_q[:, None, :]
        # reductions over the few classes: K − 1 in-place operations on (tasks × R) slices
        top = log_joint[0].copy()
        for j in range(1, k):
            np.maximum(top, log_joint[j], out=top)
        log_joint -= top
        post = np.exp(log_joint, out=log_joint)
        norm = post[0].copy()
        for j in range(1, k):
            norm += post[j]
        post *= np.reciprocal(norm)
        log_norm = np.log(norm, out=norm)
        log_norm += top
        if post_out is not None:
            post_out[a:b] = post.transpose(1, 0, 2)
        mass = m_t @ post.reshape(k * (b - a), r)
        totals = post.sum(axis=1) if self.class_totals else 0.0
        return log_norm.sum(axis=0), totals, mass

    def _binary_chunk(self, block: tuple, gain: np.ndarray, log_q: np.ndarray, post_out):
        """Two classes: the log-odds x_t = D_1 − D_0 + log q_1 − log q_0 of tasks a..b give
        P(y_t = 1) = expit(x_t) and the log normaliser less D_0 + log q_0, log(1 + e^x_t)."""
        a, b, m, m_t = block
        x = m @ gain                                             # chunk × R: D_1 − D_0
        x += log_q[1] - log_q[0]
        p1 = expit(x)
        if post_out is not None:
            post_out[a:b, 1] = p1
            post_out[a:b, 0] = expit(-x)
        log_norm = np.logaddexp(0.0, x, out=x)
        totals = np.stack([np.zeros(x.shape[1]), p1.sum(axis=0)])
        return log_norm.sum(axis=0), totals, m_t @ p1
