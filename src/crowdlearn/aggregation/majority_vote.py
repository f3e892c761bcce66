"""Majority vote: the label most workers gave."""

from __future__ import annotations

from typing import Literal

import numpy as np

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.errors import InputError


class MajorityVote(Aggregator):
    """Each task gets the label most of its workers gave.

    Parameters
    ----------
    tie_break:
        ``"random"`` (default) picks uniformly among the tied labels with ``seed``, the same
        pick for every task with the same votes (so two tasks answered alike get the same
        label); ``"first"`` picks the tied label that comes first in ``classes``.
    seed:
        Seed of the random tie-break.

    Attributes
    ----------
    posteriors_ : T×K vote shares (the "soft majority vote").
    labels_ : class codes of the winners after tie-breaking.
    class_prior_ : mean of the vote shares.
    skill_ : per worker, the fraction of answers that agree with the majority label (an
        agreement rate, not an accuracy measured against truth).
    """

    def __init__(self, tie_break: Literal["random", "first"] = "random", seed: int | None = 0):
        self.tie_break = tie_break
        self.seed = seed

    def fit(self, answers, **frame_options) -> MajorityVote:
        """Count the votes of ``answers`` (:class:`~crowdlearn.Annotations` or a long frame,
        see :class:`~crowdlearn.aggregation.Aggregator`)."""
        if self.tie_break not in ("random", "first"):
            raise InputError(f"tie_break must be 'random' or 'first', got {self.tie_break!r}")
        ann = as_annotations(answers, **frame_options)
        counts = ann.vote_counts
        labels = np.argmax(counts, axis=1)
        if self.tie_break == "random":
            labels = _break_ties(counts, labels, np.random.default_rng(self.seed))
        shares = counts / counts.sum(axis=1, keepdims=True)
        self._record(ann, shares, labels)
        self.class_prior_ = shares.mean(axis=0)
        agree = labels[ann.task] == ann.label
        self.skill_ = np.bincount(ann.worker, weights=agree, minlength=ann.n_workers) / np.maximum(
            ann.worker_counts, 1)
        self._warn_about_fit(ann)
        return self


def _break_ties(counts: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Labels of tied tasks drawn uniformly among their tied maxima, one draw per distinct
    row of votes (tasks with identical votes get the same label)."""
    top = counts.max(axis=1, keepdims=True)
    tied = np.flatnonzero((counts == top).sum(axis=1) > 1)
    if not len(tied):
        return labels
    patterns, which = np.unique(counts[tied], axis=0, return_inverse=True)
    # votes are integers: noise below 1 only reorders tied maxima, uniformly
    pick = np.argmax(patterns + rng.random(patterns.shape) * 0.5, axis=1)
    labels = labels.copy()
    labels[tied] = pick[which.ravel()]
    return labels
