"""Gold majority vote: each worker's accuracy on tasks whose true label is known (gold tasks)
weighs its votes everywhere."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator, as_annotations, check_gold
from crowdlearn.aggregation.majority_vote import TIE_BREAK, vote_shares, weighted_vote
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.params import SEED_OR_GENERATOR, Choice, Reals


class GoldMajorityVote(Aggregator):
    """Weighted majority vote with weights measured on gold tasks.

    ``fit(answers, gold=...)``: ``skill_w`` = the share of w's answers on gold tasks that equal
    the gold label. A worker who answered no gold task gets ``default_skill`` (default
    ``"mean"``: the answer-weighted mean accuracy of those who did; crowd-kit refuses such
    workers). Gold tasks keep their known label.

    Parameters
    ----------
    default_skill:
        ``"mean"`` or an accuracy in [0, 1]: the weight of workers without gold answers.
    tie_break, seed:
        Ties of the weighted vote (see :class:`~crowdlearn.aggregation.MajorityVote`).

    Attributes
    ----------
    skill_ : per worker, accuracy on gold tasks (``default_skill`` for workers with none).
    gold_answers_ : per worker, how many gold tasks it answered.
    """

    requires_gold = True
    _parameter_constraints = {"default_skill": [Choice("mean"), Reals(0, 1, closed="both")],
                              "tie_break": [TIE_BREAK], "seed": SEED_OR_GENERATOR}

    def __init__(self, default_skill: float | Literal["mean"] = "mean", *,
                 tie_break: Literal["random", "first"] = "random", seed: int | None = 0):
        self.default_skill = default_skill
        self.tie_break = tie_break
        self.seed = seed

    def fit(self, answers, gold: Mapping | pd.Series | None = None,
            **frame_options) -> GoldMajorityVote:
        """Fit on ``answers`` with ``gold`` (task id → known label; every gold task must have
        answers)."""
        self._check_params()
        if gold is None or len(gold) == 0:
            raise InputError("GoldMajorityVote needs gold: fit(answers, gold={task: label})")
        ann = as_annotations(answers, **frame_options)
        tasks, classes = check_gold(ann, gold)
        truth = np.full(ann.n_tasks, -1, dtype=np.int64)
        truth[tasks] = classes
        on_gold = truth[ann.task] >= 0
        right = on_gold & (truth[ann.task] == ann.label)
        n_gold = np.bincount(ann.worker, weights=on_gold, minlength=ann.n_workers)
        n_right = np.bincount(ann.worker, weights=right, minlength=ann.n_workers)
        default = (n_right.sum() / n_gold.sum() if self.default_skill == "mean"
                   else float(self.default_skill))
        self.skill_ = np.where(n_gold > 0, n_right / np.maximum(n_gold, 1), default)
        self.gold_answers_ = n_gold.astype(np.int64)
        scores, labels = weighted_vote(ann, self.skill_, self.tie_break, self.seed)
        unweighed = scores.sum(axis=1) == 0
        unweighed[tasks] = False
        if unweighed.any():
            warnings.warn(f"GoldMajorityVote: {int(unweighed.sum()):,} tasks were answered only "
                          "by workers of skill 0 (every gold answer wrong, or no gold answer "
                          "and default_skill 0): their votes weigh nothing and the label is a "
                          f"tie-break ({self.tie_break!r})",
                          CrowdlearnWarning, stacklevel=2)
        shares = vote_shares(scores)
        labels[tasks] = classes
        shares[tasks] = np.eye(ann.n_classes)[classes]
        self._record(ann, shares, labels)
        self.class_prior_ = shares.mean(axis=0)
        self._warn_about_fit(ann)
        return self
