"""One-coin Dawid–Skene: one skill per worker (the hammer–spammer model).

Worker w answers correctly with probability ``s_w`` and otherwise picks one of the other K−1
labels uniformly: ``π[w, k, l] = s_w`` if ``l = k`` else ``(1 − s_w)/(K − 1)``. Fitted by the same
EM kernel as :class:`DawidSkene`; the M-step is ``s_w = (c_w + α)/(n_w + 2α)`` with ``c_w`` the
posterior mass of w's answers being right and ``n_w`` its number of answers (a Beta(1+α, 1+α)
prior on every skill).
"""

from __future__ import annotations

import numpy as np

from crowdlearn.aggregation.dawid_skene import DawidSkene
from crowdlearn.aggregation.em import Params, Stats
from crowdlearn.annotations import Annotations

_EDGE = 1e-9


class OneCoinDawidSkene(DawidSkene):
    """Dawid–Skene with a single accuracy per worker (fewer parameters: better with few
    answers per worker). Same parameters and attributes as :class:`DawidSkene`;
    ``confusion_`` is the implied W×K×K matrix and ``skill_`` the fitted accuracies."""

    def _m_step(self, ann: Annotations):
        w, k, alpha = ann.n_workers, ann.n_classes, float(self.smoothing)
        off = np.ones((k, k), dtype=bool)
        np.fill_diagonal(off, False)

        def m_step(stats: Stats) -> Params:
            c = stats.counts.reshape(w, k, k)  # [worker, answered l, true k]
            right = np.einsum("wkk->w", c)
            skill = np.clip((right + alpha) / (c.sum(axis=(1, 2)) + 2 * alpha), _EDGE, 1 - _EDGE)
            log_s, log_wrong = np.log(skill), np.log((1 - skill) / max(k - 1, 1))
            log_pi = np.where(off[None], log_wrong[:, None, None], log_s[:, None, None])
            penalty = alpha * float(np.sum(log_s + np.log1p(-skill)))
            return Params(self._log_prior(stats), log_pi.reshape(w * k, k), penalty)

        return m_step

    def _set_worker_params(self, ann: Annotations, params: Params) -> None:
        super()._set_worker_params(ann, params)
        self.skill_ = self.confusion_[:, 0, 0].copy()  # every diagonal cell is s_w
