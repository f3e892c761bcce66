"""Majority vote: the label most workers gave."""

from __future__ import annotations

from typing import Literal

import numpy as np

from crowdlearn.aggregation.base import Aggregator, check_annotations
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError


class MajorityVote(Aggregator):
    """Each task gets the label most of its workers gave.

    Parameters
    ----------
    tie_break:
        ``"random"`` (default) picks uniformly among the tied labels with ``seed``;
        ``"first"`` picks the tied label that comes first in ``classes``.
    seed:
        Seed of the random tie-break.

    Attributes
    ----------
    posteriors_ : T×K vote shares (the "soft majority vote").
    labels_ : class codes of the winners after tie-breaking.
    class_prior_ : mean of the vote shares.
    skill_ : per worker, the fraction of answers that agree with the majority label.
    """

    def __init__(self, tie_break: Literal["random", "first"] = "random", seed: int | None = 0):
        self.tie_break = tie_break
        self.seed = seed

    def fit(self, annotations: Annotations) -> MajorityVote:
        ann = check_annotations(annotations)
        if self.tie_break not in ("random", "first"):
            raise InputError(f"tie_break must be 'random' or 'first', got {self.tie_break!r}")
        counts = ann.vote_counts
        if self.tie_break == "random":
            # votes are integers: noise below 1 only reorders tied maxima, uniformly
            noise = np.random.default_rng(self.seed).random(counts.shape) * 0.5
            labels = np.argmax(counts + noise, axis=1)
        else:
            labels = np.argmax(counts, axis=1)
        shares = counts / counts.sum(axis=1, keepdims=True)
        self._record(ann, shares, labels)
        self.class_prior_ = shares.mean(axis=0)
        agree = labels[ann.task] == ann.label
        self.skill_ = np.bincount(ann.worker, weights=agree, minlength=ann.n_workers) / np.maximum(
            ann.worker_counts, 1)
        return self
