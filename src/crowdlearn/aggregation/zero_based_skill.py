"""Zero-based skill: weighted majority vote whose weights are learned by moving each worker's
skill towards its agreement with the current labels, with a decaying step.

As crowd-kit implements it: skills start at ``1/K + eps``; each of ``n_iter`` rounds takes the
weighted majority vote and sets ``skill ← skill + lr · (agreement − skill)``, the step ``lr``
multiplied by ``lr_reduce_factor`` every ``lr_steps_to_reduce`` rounds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.aggregation.majority_vote import TIE_BREAK, agreement, vote_shares, weighted_vote
from crowdlearn.params import NON_NEGATIVE_REAL, SEED_OR_GENERATOR, Integers


class ZeroBasedSkill(Aggregator):
    """Weighted majority vote with skills learned from agreement, step by decaying step.

    Parameters
    ----------
    n_iter:
        Rounds of (weighted vote, skill update).
    lr_init, lr_steps_to_reduce, lr_reduce_factor:
        The step of the skill update, multiplied by ``lr_reduce_factor`` at every round
        that is a multiple of ``lr_steps_to_reduce``.
    eps:
        Added to the initial skill ``1/K``.
    tie_break, seed:
        Ties of the weighted votes (see :class:`~crowdlearn.aggregation.MajorityVote`);
        ``"first"`` is crowd-kit's choice.

    Attributes
    ----------
    skill_ : per worker, the learned skill (its vote weight).
    posteriors_ : T×K weighted vote shares (scores, not calibrated probabilities).
    n_iter_ : rounds run.
    """

    _parameter_constraints = {
        "n_iter": [Integers(1)], "lr_init": [NON_NEGATIVE_REAL],
        "lr_steps_to_reduce": [Integers(1)], "lr_reduce_factor": [NON_NEGATIVE_REAL],
        "eps": [NON_NEGATIVE_REAL], "tie_break": [TIE_BREAK], "seed": SEED_OR_GENERATOR}

    def __init__(self, n_iter: int = 100, *, lr_init: float = 1.0, lr_steps_to_reduce: int = 20,
                 lr_reduce_factor: float = 0.5, eps: float = 1e-5,
                 tie_break: Literal["random", "first"] = "random", seed: int | None = 0):
        self.n_iter = n_iter
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor
        self.eps = eps
        self.tie_break = tie_break
        self.seed = seed

    def fit(self, answers, **frame_options) -> ZeroBasedSkill:
        """Fit on ``answers`` (:class:`~crowdlearn.Annotations` or a long frame)."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        present = np.unique(ann.label).size  # classes answered (crowd-kit's 1/K)
        skill = np.full(ann.n_workers, 1.0 / present + self.eps)
        lr = float(self.lr_init)
        for round_ in range(1, self.n_iter + 1):
            if round_ % self.lr_steps_to_reduce == 0:
                lr *= self.lr_reduce_factor
            _, labels = weighted_vote(ann, skill, self.tie_break, self.seed)
            skill = skill + lr * (agreement(ann, labels) - skill)
        scores, labels = weighted_vote(ann, skill, self.tie_break, self.seed)
        shares = vote_shares(scores)
        self._record(ann, shares, labels)
        self.class_prior_ = shares.mean(axis=0)
        self.skill_ = skill
        self.n_iter_ = int(self.n_iter)
        self._warn_about_fit(ann)
        return self
