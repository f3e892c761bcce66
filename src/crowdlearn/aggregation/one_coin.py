"""One-coin Dawid–Skene: one skill per worker (the hammer–spammer model).

Worker w answers correctly with probability ``s_w`` and otherwise picks one of the other K−1
labels uniformly: ``π[w, k, l] = s_w`` if ``l = k`` else ``(1 − s_w)/(K − 1)``. Fitted by the same
EM kernel as :class:`DawidSkene`; the M-step is ``s_w = (c_w + 2α·s̄)/(n_w + 2α)`` with ``c_w``
the posterior mass of w's answers being right, ``n_w`` its number of answers and ``s̄`` the
crowd's average accuracy on the initial posteriors (a Beta(1 + 2α·s̄, 1 + 2α·(1 − s̄)) prior on
every skill, empirical Bayes as in :class:`DawidSkene`; ``prior="uniform"``: ``s̄ = 1/2``).

The class prior is kept uniform by default. One-coin cannot represent a class-biased worker
(one who answers its favourite class whatever the truth), so a learned class prior absorbs such
workers' bias: it drifts onto their favourite class and the model then predicts little else
(measured on Bluebirds and on simulated sparse crowds: docs/benchmarks.md).
``class_prior="estimate"`` restores the learned prior (guarded by ``class_smoothing``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from crowdlearn.aggregation.dawid_skene import CLASS_SMOOTHING, DawidSkene, capped_weight
from crowdlearn.aggregation.em import Params, Stats
from crowdlearn.annotations import Annotations

_EDGE = 1e-9


class OneCoinDawidSkene(DawidSkene):
    """Dawid–Skene with a single accuracy per worker (fewer parameters: better with few
    answers per worker). Same parameters and attributes as :class:`DawidSkene`;
    ``confusion_`` is the implied W×K×K matrix and ``skill_`` the fitted accuracies. The
    defaults differ in one place: ``class_prior="uniform"`` (see the module docstring).
    ``OneCoinDawidSkene(smoothing=0.01, prior="uniform", class_prior="estimate",
    class_smoothing=0)`` is the former default."""

    def __init__(self, max_iter: int = 100, *, tol: float = 1e-5, smoothing: float = 1.0,
                 prior: Literal["pooled", "uniform"] = "pooled",
                 init: Literal["majority", "task_prior"] = "majority",
                 class_prior: Literal["estimate", "uniform"] = "uniform",
                 class_smoothing: float = CLASS_SMOOTHING,
                 initial_error_strategy: Literal["addition", "assign"] = "addition",
                 n_threads: int | None = None):
        super().__init__(max_iter=max_iter, tol=tol, smoothing=smoothing, prior=prior,
                         init=init, class_prior=class_prior, class_smoothing=class_smoothing,
                         initial_error_strategy=initial_error_strategy, n_threads=n_threads)

    def _m_step(self, w: int, k: int, fixed: dict):
        off = np.ones((k, k), dtype=bool)
        np.fill_diagonal(off, False)

        def m_step(stats: Stats) -> Params:
            c = stats.counts.reshape(w, k, k)  # [worker, answered l, true k]
            right = np.einsum("wkk->w", c)
            n = c.sum(axis=(1, 2))
            # Beta pseudo-counts (right, wrong) and the class prior's, fixed after the first
            # M-step
            if "beta" not in fixed:
                fixed["beta"] = self._skill_pseudo_counts(right, n)
                fixed["class_pseudo"] = self._class_pseudo_counts(stats.class_totals)
            beta, class_pseudo = fixed["beta"], fixed["class_pseudo"]
            skill = np.clip((right + beta[0]) / (n + (beta[0] + beta[1])), _EDGE, 1 - _EDGE)
            log_s, log_wrong = np.log(skill), np.log((1 - skill) / max(k - 1, 1))
            log_pi = np.where(off[None], log_wrong[:, None, None], log_s[:, None, None])
            log_q = self._log_prior(stats, class_pseudo)
            if beta[0] == beta[1]:  # the symmetric prior, summed as it always was
                penalty = beta[0] * float(np.sum(log_s + np.log1p(-skill)))
            else:
                penalty = float(beta[0] * log_s.sum() + beta[1] * np.log1p(-skill).sum())
            penalty += float(class_pseudo @ log_q)
            return Params(log_q, log_pi.reshape(w * k, k), penalty)

        return m_step

    def _skill_pseudo_counts(self, right: np.ndarray, n: np.ndarray) -> tuple[float, float]:
        """Beta pseudo-counts (right, wrong) of every skill: ``2·smoothing`` in all, split
        evenly (``prior="uniform"``) or like the crowd's average accuracy on the initial
        posteriors (``prior="pooled"``; each worker weighs as many answers as it gave, at most
        ``CENTRE_CAP``)."""
        alpha = float(self.smoothing)
        if self.prior == "uniform" or alpha == 0.0:
            return alpha, alpha
        weight = capped_weight(n)
        share = (float(right @ weight) + 1e-3) / (float(n @ weight) + 2e-3)
        return 2 * alpha * share, 2 * alpha * (1 - share)

    def _set_worker_params(self, ann: Annotations, params: Params) -> None:
        super()._set_worker_params(ann, params)
        self.skill_ = self.confusion_[:, 0, 0].copy()  # every diagonal cell is s_w
