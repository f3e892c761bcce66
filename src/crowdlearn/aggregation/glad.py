"""GLAD: worker abilities and task difficulties, fitted by EM.

Whitehill, J., Ruvolo, P., Wu, T., Bergsma, J. and Movellan, J. (2009). Whose vote should count
more: optimal integration of labels from labelers of unknown expertise. Advances in Neural
Information Processing Systems 22 (NIPS 2009), 2035–2043.

Model (multi-class, as in crowd-kit 1.4.2): worker w has an ability ``α_w`` (any real; negative
is adversarial) and task t a parameter ``β_t`` whose exponential ``exp(β_t) > 0`` is the task's
inverse difficulty (large ``β_t``: easy task). Worker w answers task t correctly with probability

    a_wt = σ(α_w · exp(β_t)),        σ(z) = 1 / (1 + exp(−z)),

and otherwise picks one of the K − 1 other classes uniformly. The true class is ``y_t ~ q``
(times an optional per-task prior τ_t), and the parameters have Gaussian priors
``α_w ~ N(μ_α, v_α)``, ``β_t ~ N(μ_β, v_β)``. EM maximises the log posterior density

    J = Σ_t log Σ_k q_k τ_tk Π_{(t, w, l)} P(l | y_t = k) + Σ_w log N(α_w) + Σ_t log N(β_t):

* E-step: ``P(y_t = k | answers) ∝ q_k τ_tk Π_{(t, w, l)} [a_wt if l = k else (1 − a_wt)/(K − 1)]``;
* M-step: with ``p_i = P(y_t = l_i)`` the posterior that answer i is right, maximise

      Q(α, β) = Σ_i [p_i log a_i + (1 − p_i) (log(1 − a_i) − log(K − 1))]
                − Σ_w (α_w − μ_α)² / 2v_α − Σ_t (β_t − μ_β)² / 2v_β

  by L-BFGS-B on the concatenated (α, β), with the analytic gradient (``z_i = α_w exp(β_t)``)

      ∂Q/∂α_w = Σ_{i ∈ w} (p_i − σ(z_i)) exp(β_t) − (α_w − μ_α)/v_α,
      ∂Q/∂β_t = Σ_{i ∈ t} (p_i − σ(z_i)) z_i − (β_t − μ_β)/v_β,

  and, with ``class_prior="estimate"``, ``q = mean_t P(y_t)``. Every step that does not lower Q
  is kept (generalised EM), so J never decreases.

Everything is a segment sum over the answers (``np.bincount`` by task and by worker) and a few
dense T×K operations; the answers are sorted by task once so that the task sums and gathers
stream through memory, and per-answer work arrays are allocated once per fit. The E-step reuses
the per-answer logits of the M-step's best point, so an EM iteration costs one pass over the
answers per optimiser evaluation plus one.

Differences from crowd-kit's ``GLAD`` (same defaults otherwise: ``n_iter=100``, ``tol=1e-5``,
standard-normal priors centred on 1, α = β = 1 at the start, a uniform class prior, at most 25
optimiser iterations per M-step, gradient tolerance 1e-2):

* the M-step runs L-BFGS-B (crowd-kit: unpreconditioned conjugate gradients) on variables
  scaled by the square root of the diagonal of Q's Gauss–Newton Hessian, sized so that its
  first step is the diagonal Newton step; it also stops once an iteration gains less than
  ``m_step_rtol`` (1%) of the M-step's gain so far (``m_step_rtol=0``: crowd-kit's budget);
* the stopping rule compares the marginal objective J per answer between iterations (crowd-kit
  compares the M-step's Q divided by answers × classes); both stop on a gain below ``tol``;
* the posteriors returned are those of the final parameters (crowd-kit's come from the E-step
  before its last M-step);
* K is the number of classes of the annotations (declared or seen; crowd-kit counts only
  labels that occur), priors are scalars (crowd-kit also takes per-worker/per-task means), and
  ``class_prior="estimate"``, ``task_prior`` and ``gold`` are additions.

On the ten public crowds of ``benchmarks.real_crowds`` the accuracy against gold is crowd-kit
GLAD's to within −0.002 (face) and +0.007 (music); equal on seven of them.

A crowd whose annotations hold a single class is refused (:class:`InputError`): the
wrong-answer distribution over the K − 1 = 0 other classes is undefined. Declare the other
class(es) (``Annotations(..., classes=[...])``) to fit it anyway.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.utils.validation import check_is_fitted

from crowdlearn.aggregation.base import Aggregator, as_annotations, check_gold, check_task_prior
from crowdlearn.aggregation.em import TINY
from crowdlearn.annotations import Annotations, grouped_positions
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.params import NON_NEGATIVE_REAL, POSITIVE_REAL, Choice, Integers, Reals

INIT = 1.0  # α and β at the start (crowd-kit's)


@dataclass
class _Answers:
    """Per-answer codes sorted by task (int64, so that ``bincount`` need not convert them)
    and reusable per-answer work space."""

    task: np.ndarray
    worker: np.ndarray
    cell: np.ndarray  # task·K + label: the answer's entry of a flattened T×K array
    cell_counts: np.ndarray  # T×K: answers of each label on each task
    task_counts: np.ndarray
    worker_counts: np.ndarray
    n_tasks: int
    n_workers: int
    n_classes: int

    @classmethod
    def of(cls, ann: Annotations) -> _Answers:
        task, worker, label = ann.task, ann.worker, ann.label
        if len(task) > 1 and (np.diff(task) < 0).any():
            order = grouped_positions(task, ann.n_tasks)[0]
            task, worker, label = task[order], worker[order], label[order]
        task = task.astype(np.intp)
        k = ann.n_classes
        cell = task * k + label
        cell_counts = np.bincount(cell, minlength=ann.n_tasks * k).reshape(-1, k)
        return cls(task, worker.astype(np.intp), cell, cell_counts, ann.task_counts,
                   np.bincount(worker, minlength=ann.n_workers), ann.n_tasks,
                   ann.n_workers, k)

    def __len__(self) -> int:
        return len(self.task)

    def scratch(self) -> tuple[np.ndarray, np.ndarray]:
        """Two per-answer work arrays, allocated once (a fresh 8·N-byte array costs as much
        as a pass over it in page faults)."""
        if not hasattr(self, "_scratch"):
            self._scratch = (np.empty(len(self)), np.empty(len(self)))
        return self._scratch


@dataclass
class _Point:
    """Per-answer quantities at one (α, β): ``easiness = exp(β_t)``, ``z = α_w exp(β_t)``,
    ``sigma = σ(z)`` (the probability of a right answer) and ``log_sigma = log σ(z)``."""

    easiness: np.ndarray
    z: np.ndarray
    sigma: np.ndarray
    log_sigma: np.ndarray


def point(data: _Answers, alpha: np.ndarray, beta: np.ndarray,
          out: _Point | None = None) -> _Point:
    """The per-answer quantities at (α, β), written into ``out``'s arrays when given."""
    n = len(data)
    z, sigma, log_sigma = (out.z, out.sigma, out.log_sigma) if out is not None else (
        np.empty(n), np.empty(n), np.empty(n))
    easiness = np.repeat(np.exp(beta), data.task_counts)
    np.take(alpha, data.worker, out=z, mode="clip")  # (mode="raise" buffers out)
    z *= easiness
    # σ = 1/d and log σ = −log d with d = 1 + exp(−z): one exp and one log, twice as fast as
    # scipy's log_expit and as accurate where it matters (for z ≫ 0, d rounds to 1 and
    # log σ to 0, an absolute error below 1e-16; log σ(−z) is always log σ(z) − z, never
    # log(1 − σ)); where exp(−z) overflows (z < −709), σ = 0 and log σ(z) = z
    d = sigma  # σ's buffer holds d until the last line
    np.negative(z, out=d)
    with np.errstate(over="ignore"):
        np.exp(d, out=d)
    d += 1.0
    np.log(d, out=log_sigma)
    np.negative(log_sigma, out=log_sigma)
    np.divide(1.0, d, out=sigma)
    if np.isinf(log_sigma[np.argmin(z)]):  # the smallest z is the first to overflow
        np.copyto(log_sigma, z, where=np.isinf(log_sigma))
    return _Point(easiness, z, sigma, log_sigma)


def e_step(data: _Answers, at: _Point, log_q: np.ndarray,
           log_task_prior: np.ndarray | None = None, gold=None) -> tuple[np.ndarray, float]:
    """Task posteriors (T×K) and the marginal log-likelihood at the point ``at``. Under
    class k, answer (t, w, l) has log-probability ``log σ(−z) − log(K − 1) = log σ(z) − z −
    log(K − 1)``, plus ``z + log(K − 1)`` when ``k = l``."""
    t, k = data.n_tasks, data.n_classes
    log_other = np.log(k - 1)
    tmp, _ = data.scratch()
    np.subtract(at.log_sigma, at.z, out=tmp)
    wrong = np.bincount(data.task, weights=tmp, minlength=t)
    wrong -= log_other * data.task_counts
    log_joint = np.bincount(data.cell, weights=at.z, minlength=t * k).reshape(t, k)
    log_joint += log_other * data.cell_counts
    log_joint += wrong[:, None]
    log_joint += log_q
    if log_task_prior is not None:
        log_joint += log_task_prior
    top = log_joint.max(axis=1, keepdims=True)
    post = np.exp(log_joint - top)
    total = post.sum(axis=1, keepdims=True)
    post /= total
    per_task = top[:, 0] + np.log(total[:, 0])
    if gold is not None:
        rows, cls = gold
        per_task[rows] = log_joint[rows, cls]
        post[rows] = 0.0
        post[rows, cls] = 1.0
    return post, float(per_task.sum())


def log_gauss(x: np.ndarray, mean: float, var: float) -> float:
    """Σ log N(x; mean, var)."""
    d = x - mean
    return float(-0.5 * (d @ d) / var - 0.5 * len(x) * np.log(2 * np.pi * var))


def q_and_gradient(data: _Answers, alpha: np.ndarray, beta: np.ndarray, right: np.ndarray,
                   priors: tuple[float, float, float, float], at: _Point | None = None):
    """The M-step objective Q (without its constant ``−log(K − 1) Σ (1 − p_i)``) and its
    gradient in α and β, at the point ``at`` (computed from α, β when not given).
    ``right`` holds each answer's posterior probability of being correct."""
    mu_a, var_a, mu_b, var_b = priors
    if at is None:
        at = point(data, alpha, beta)
    # Σ p log σ(z) + (1 − p) log σ(−z), with log σ(−z) = log σ(z) − z
    q = float(at.log_sigma.sum() - at.z.sum() + right @ at.z)
    q += log_gauss(alpha, mu_a, var_a) + log_gauss(beta, mu_b, var_b)
    resid, tmp = data.scratch()
    np.subtract(right, at.sigma, out=resid)  # ∂/∂z of each answer's term
    np.multiply(resid, at.easiness, out=tmp)  # ∂z/∂α = exp(β)
    g_alpha = np.bincount(data.worker, weights=tmp, minlength=data.n_workers)
    g_alpha -= (alpha - mu_a) / var_a
    np.multiply(resid, at.z, out=tmp)  # ∂z/∂β = z
    g_beta = np.bincount(data.task, weights=tmp, minlength=data.n_tasks)
    g_beta -= (beta - mu_b) / var_b
    return q, g_alpha, g_beta


def curvature(data: _Answers, at: _Point, priors) -> np.ndarray:
    """The diagonal of −Q's Gauss–Newton Hessian at ``at``: ``Σ σ(1 − σ) (∂z/∂θ)² + 1/v``,
    the M-step's preconditioner."""
    weight, tmp = data.scratch()
    np.subtract(1.0, at.sigma, out=weight)
    weight *= at.sigma
    np.multiply(at.easiness, at.easiness, out=tmp)
    tmp *= weight
    h_alpha = np.bincount(data.worker, weights=tmp, minlength=data.n_workers)
    np.multiply(at.z, at.z, out=tmp)
    tmp *= weight
    h_beta = np.bincount(data.task, weights=tmp, minlength=data.n_tasks)
    return np.concatenate([h_alpha + 1.0 / priors[1], h_beta + 1.0 / priors[3]])


class _MStep:
    """``−Q`` and its gradient for L-BFGS-B, in variables ``u = scale · (α, β)``.

    Starts from ``x`` whose point ``at`` is known (the last E-step's). Keeps the best point
    evaluated (the next E-step reuses it; EM stays monotone since the start is a candidate)
    and writes new points into whichever of two buffers the best does not hold. Remembers
    the last value and x-gradient (L-BFGS-B first evaluates the start, already done)."""

    def __init__(self, data: _Answers, right: np.ndarray, priors: tuple[float, ...],
                 x: np.ndarray, at: _Point, spare: _Point):
        self.data, self.right, self.priors = data, right, priors
        self.scale = np.ones(len(x))
        self.best: tuple[float, np.ndarray, _Point] | None = None
        self.last: tuple[np.ndarray, float, np.ndarray] | None = None
        self.buffers = (at, spare)
        self.start = self.evaluate(x, at)

    def evaluate(self, x: np.ndarray, at: _Point | None = None) -> tuple[float, np.ndarray]:
        """``−Q(x)`` and its gradient in x."""
        w = self.data.n_workers
        if at is None:
            free = self.buffers[self.buffers[0].z is self.best[2].z]
            at = point(self.data, x[:w], x[w:], out=free)
        q, g_alpha, g_beta = q_and_gradient(self.data, x[:w], x[w:], self.right, self.priors,
                                            at)
        if self.best is None or -q < self.best[0]:
            self.best = (-q, x, at)
        grad = -np.concatenate([g_alpha, g_beta])
        self.last = (x, -q, grad)
        return -q, grad

    def __call__(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        x = u / self.scale
        if self.last is None or not np.array_equal(x, self.last[0]):
            self.evaluate(x)
        _, value, grad = self.last
        return value, grad / self.scale


class GLAD(Aggregator):
    """GLAD (Whitehill et al. 2009): one ability per worker, one difficulty per task.

    See the module docstring for the model, the EM updates and how this differs from
    crowd-kit's GLAD.

    Parameters
    ----------
    max_iter:
        Most EM iterations (one M-step and one E-step each).
    tol:
        Stop when the objective per answer (log-likelihood plus the log prior densities of
        α and β) gains less than this between iterations.
    alpha_prior_mean, alpha_prior_var:
        Mean and variance of the Gaussian prior on every worker's ability α_w.
    beta_prior_mean, beta_prior_var:
        Mean and variance of the Gaussian prior on every task's log inverse difficulty β_t.
    m_step_max_iter:
        Most L-BFGS-B iterations per M-step.
    m_step_tol:
        An M-step ends when every entry of Q's gradient in (α, β) is below this in absolute
        value (crowd-kit's ``m_step_tol``; rarely reached on large crowds, whose gradient
        entries are sums over many answers).
    m_step_rtol:
        An M-step also ends when an optimiser iteration gains less than this fraction of
        what the M-step has gained so far (0: run to ``m_step_max_iter`` or ``m_step_tol``,
        as crowd-kit does). EM continues from where the M-step stopped, so this trades
        M-step precision for EM iterations, which cost about one optimiser evaluation each.
    class_prior:
        Keep the class frequencies ``q`` ``"uniform"`` (crowd-kit's choice) or
        ``"estimate"`` them in every M-step.

    Attributes
    ----------
    posteriors_ : T×K posterior class probabilities.
    class_prior_ : K class frequencies ``q`` (uniform unless estimated).
    alpha_ : W worker abilities α_w (0: guessing; negative: worse than guessing).
    beta_ : T task parameters β_t; ``exp(β_t)`` is the inverse difficulty (larger: easier).
    skill_ : W, each worker's mean probability of a correct answer ``σ(α_w exp(β_t))`` over
        the tasks it answered.
    log_likelihood_ : objective J per answer at the initial parameters and after every
        iteration (non-decreasing up to the optimiser's rounding).
    n_iter_ : EM iterations run.
    converged_ : whether the objective's gain fell below ``tol`` (else a warning is raised).

    Examples
    --------
    >>> GLAD().fit(ann).predict()                            # doctest: +SKIP
    >>> GLAD().fit(ann).difficulties().nlargest(10)          # doctest: +SKIP
    """

    _parameter_constraints = {
        "max_iter": [Integers(1)], "tol": [NON_NEGATIVE_REAL],
        "alpha_prior_mean": [Reals()], "alpha_prior_var": [POSITIVE_REAL],
        "beta_prior_mean": [Reals()], "beta_prior_var": [POSITIVE_REAL],
        "m_step_max_iter": [Integers(1)], "m_step_tol": [NON_NEGATIVE_REAL],
        "m_step_rtol": [NON_NEGATIVE_REAL], "class_prior": [Choice("uniform", "estimate")]}

    def __init__(self, max_iter: int = 100, *, tol: float = 1e-5, alpha_prior_mean: float = 1.0,
                 alpha_prior_var: float = 1.0, beta_prior_mean: float = 1.0,
                 beta_prior_var: float = 1.0, m_step_max_iter: int = 25,
                 m_step_tol: float = 1e-2, m_step_rtol: float = 0.01,
                 class_prior: Literal["uniform", "estimate"] = "uniform"):
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_prior_mean = alpha_prior_mean
        self.alpha_prior_var = alpha_prior_var
        self.beta_prior_mean = beta_prior_mean
        self.beta_prior_var = beta_prior_var
        self.m_step_max_iter = m_step_max_iter
        self.m_step_tol = m_step_tol
        self.m_step_rtol = m_step_rtol
        self.class_prior = class_prior

    def fit(self, answers, task_prior: np.ndarray | pd.DataFrame | None = None,
            gold: Mapping | pd.Series | None = None, **frame_options) -> GLAD:
        """Fit by EM on ``answers`` (:class:`~crowdlearn.Annotations`, or a long DataFrame
        with ``frame_options`` as in :class:`~crowdlearn.aggregation.Aggregator`).

        ``task_prior`` (T×K probabilities) multiplies into every E-step; ``gold`` (task id →
        label) clamps those tasks' posteriors to their known label. Raises
        :class:`~crowdlearn.errors.InputError` on a single-class crowd; warns when EM stops
        at ``max_iter`` (> 1) without converging."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        if ann.n_classes < 2:
            raise InputError(f"GLAD needs at least two classes, but every answer is "
                             f"{ann.classes[0]!r}: a wrong answer has no other class to go "
                             "to; declare the classes (Annotations(..., classes=[...])) or "
                             "use MajorityVote")
        log_task_prior = check_task_prior(ann, task_prior)
        gold_codes = check_gold(ann, gold)
        data = _Answers.of(ann)
        w, k = data.n_workers, data.n_classes
        priors = (float(self.alpha_prior_mean), float(self.alpha_prior_var),
                  float(self.beta_prior_mean), float(self.beta_prior_var))
        x = np.full(w + data.n_tasks, INIT)
        log_q = np.full(k, -np.log(k))

        def objective(log_lik: float, x: np.ndarray) -> float:  # J per answer
            return (log_lik + log_gauss(x[:w], *priors[:2])
                    + log_gauss(x[w:], *priors[2:])) / len(data)

        at = point(data, x[:w], x[w:])
        spare = _Point(None, np.empty(len(data)), np.empty(len(data)), np.empty(len(data)))
        post, ll = e_step(data, at, log_q, log_task_prior, gold_codes)
        history = [objective(ll, x)]
        while len(history) <= self.max_iter:  # history holds the start and every iteration
            if self.class_prior == "estimate":
                log_q = np.log(np.maximum(post.mean(axis=0), TINY))
            x, new = self._m_step(data, post, x, at, spare, priors)
            if new is not at:
                at, spare = new, at
            post, ll = e_step(data, at, log_q, log_task_prior, gold_codes)
            history.append(objective(ll, x))
            if history[-1] - history[-2] < self.tol:
                break
        self._record(ann, post, np.argmax(post, axis=1))
        self.class_prior_ = np.exp(log_q)
        self.alpha_, self.beta_ = x[:w].copy(), x[w:].copy()
        self.skill_ = np.bincount(data.worker, weights=at.sigma,
                                  minlength=w) / np.maximum(data.worker_counts, 1)
        self.log_likelihood_ = history
        self.n_iter_ = len(history) - 1
        gain = history[-1] - history[-2]
        self.converged_ = bool(gain < self.tol)
        if not self.converged_ and self.max_iter > 1:
            warnings.warn(f"GLAD: EM stopped at max_iter={self.max_iter} without converging "
                          f"(last gain {gain:.2g} per answer, tol {self.tol:g}); raise "
                          "max_iter", CrowdlearnWarning, stacklevel=2)
        self._warn_about_fit(ann, answers_only=task_prior is None)
        return self

    def _m_step(self, data: _Answers, post: np.ndarray, x: np.ndarray, at: _Point,
                spare: _Point, priors) -> tuple[np.ndarray, _Point]:
        """Maximise Q in (α, β) from ``x`` (whose per-answer point is ``at``; ``spare`` is a
        buffer for new points) by L-BFGS-B; returns the best parameters evaluated and
        their point (never worse than the start: EM stays monotone)."""
        fun = _MStep(data, post.reshape(-1)[data.cell], priors, x, at, spare)
        start, grad = fun.start
        # precondition by the Gauss–Newton diagonal h, and size the variables so that
        # L-BFGS-B's first step (of unit length) is the diagonal Newton step −g/h
        h = curvature(data, at, priors)
        newton = np.sqrt(float(grad @ (grad / h)))
        fun.scale = np.sqrt(h) / max(newton, 1e-12)
        last = start
        rtol, gtol = float(self.m_step_rtol), float(self.m_step_tol)

        def stop(intermediate_result) -> None:
            nonlocal last
            value = float(intermediate_result.fun)
            if (last - value <= rtol * (start - value)
                    or np.abs(fun.last[2]).max(initial=0.0) < gtol):
                raise StopIteration
            last = value

        if np.abs(grad).max(initial=0.0) >= gtol:
            minimize(fun, x * fun.scale, jac=True, method="L-BFGS-B", callback=stop,
                     options={"maxiter": int(self.m_step_max_iter), "gtol": 0.0})
        _, x, best = fun.best
        return x, best

    # ------------------------------------------------------------------ views
    def abilities(self) -> pd.Series:
        """Each worker's ability α_w, indexed by worker id."""
        check_is_fitted(self, "posteriors_")
        return pd.Series(self.alpha_, index=pd.Index(self.workers_, name="worker"),
                         name="alpha")

    def difficulties(self) -> pd.Series:
        """Each task's difficulty ``exp(−β_t)`` (Whitehill et al.'s ``1/β``; larger: harder),
        indexed by task id."""
        check_is_fitted(self, "posteriors_")
        return pd.Series(np.exp(-self.beta_), index=pd.Index(self.tasks_, name="task"),
                         name="difficulty")
