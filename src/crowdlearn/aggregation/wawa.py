"""Wawa (worker agreement with aggregate): majority vote, then each worker's agreement with it
as the weight of a second, weighted majority vote.

The heuristic behind Appen's (Figure Eight's) "trust" scores, as crowd-kit implements it:
``skill_w = share of w's answers equal to the majority label``; ``label_t = argmax_k Σ_{answers
(t, w, k)} skill_w``.
"""

from __future__ import annotations

import warnings
from typing import Literal

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.aggregation.majority_vote import (
    TIE_BREAK,
    MajorityVote,
    agreement,
    vote_shares,
    weighted_vote,
)
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.params import SEED_OR_GENERATOR


class Wawa(Aggregator):
    """Majority vote re-weighted by each worker's agreement with it.

    Parameters
    ----------
    tie_break, seed:
        Ties of both votes: ``"random"`` with ``seed`` (each task's drawn on its own, see
        :class:`~crowdlearn.aggregation.MajorityVote`) or ``"first"`` class in ``classes``
        order (crowd-kit's choice).

    Attributes
    ----------
    skill_ : per worker, agreement with the (unweighted) majority vote: its vote weight.
    posteriors_ : T×K weighted vote shares (scores, not calibrated probabilities).
    """

    _parameter_constraints = {"tie_break": [TIE_BREAK], "seed": SEED_OR_GENERATOR}

    def __init__(self, tie_break: Literal["random", "first"] = "random", *, seed: int | None = 0):
        self.tie_break = tie_break
        self.seed = seed

    def fit(self, answers, **frame_options) -> Wawa:
        """Fit on ``answers`` (:class:`~crowdlearn.Annotations` or a long frame)."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        first = MajorityVote(tie_break=self.tie_break, seed=self.seed)
        with warnings.catch_warnings():  # said once, by this fit, below
            warnings.simplefilter("ignore", CrowdlearnWarning)
            first.fit(ann)
        self.skill_ = first.skill_
        scores, labels = weighted_vote(ann, self.skill_, self.tie_break, self.seed)
        shares = vote_shares(scores)
        self._record(ann, shares, labels)
        self.class_prior_ = shares.mean(axis=0)
        self.agreement_ = agreement(ann, labels)  # with the final, weighted labels
        self._warn_about_fit(ann)
        return self
