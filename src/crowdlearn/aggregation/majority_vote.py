"""Majority vote: the label most workers gave, or most weight when workers carry skills."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.labels import positions
from crowdlearn.params import SEED_OR_GENERATOR, Choice, Instances, Reals

TIE_BREAK = Choice("random", "first")
"""How the vote family breaks ties: at random with its seed, or to the first class."""


class MajorityVote(Aggregator):
    """Each task gets the label most of its workers gave.

    Parameters
    ----------
    tie_break:
        ``"random"`` (default) picks uniformly among the tied labels with ``seed``, the same
        pick for every task with the same votes (so two tasks answered alike get the same
        label); ``"first"`` picks the tied label that comes first in ``classes``.
    seed:
        Seed of the random tie-break: an integer ≥ 0, or None for fresh entropy.
    weights:
        Optional weight of each worker's vote (a mapping or Series worker id → weight, e.g.
        skills such as accuracies or log-odds, crowd-kit's ``skills``): the weighted majority
        vote. A worker without a weight is an error unless ``default_weight`` is given. (Not
        called ``skills``: that is the method every aggregator has for its workers' quality.)
    default_weight:
        The weight (a finite number) of workers missing from ``weights``.

    Attributes
    ----------
    posteriors_ : T×K vote shares (the "soft majority vote").
    labels_ : class codes of the winners after tie-breaking.
    class_prior_ : mean of the vote shares.
    skill_ : per worker, the fraction of answers that agree with the majority label (an
        agreement rate, not an accuracy measured against truth).
    """

    _parameter_constraints = {
        "tie_break": [TIE_BREAK], "seed": SEED_OR_GENERATOR,
        "weights": [Instances((Mapping, pd.Series),
                              "a mapping or Series of worker id → weight"), None],
        "default_weight": [Reals(), None]}

    def __init__(self, tie_break: Literal["random", "first"] = "random", *, seed: int | None = 0,
                 weights: Mapping | pd.Series | None = None,
                 default_weight: float | None = None):
        self.tie_break = tie_break
        self.seed = seed
        self.weights = weights
        self.default_weight = default_weight

    def fit(self, answers, **frame_options) -> MajorityVote:
        """Count the votes of ``answers`` (:class:`~crowdlearn.Annotations` or a long frame,
        see :class:`~crowdlearn.aggregation.Aggregator`)."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        if self.weights is None:
            counts = ann.vote_counts
            labels = np.argmax(counts, axis=1)
            if self.tie_break == "random":
                labels = _break_ties(counts, labels, np.random.default_rng(self.seed))
        else:
            weight = worker_weights(ann, self.weights, self.default_weight)
            counts, labels = weighted_vote(ann, weight, self.tie_break, self.seed)
        shares = vote_shares(counts)
        self._record(ann, shares, labels)
        self.class_prior_ = shares.mean(axis=0)
        self.skill_ = agreement(ann, labels)
        self._warn_about_fit(ann)
        return self


def agreement(ann: Annotations, labels: np.ndarray) -> np.ndarray:
    """Per worker, the share of its answers equal to ``labels`` (task codes → class codes)."""
    agree = labels[ann.task] == ann.label
    return np.bincount(ann.worker, weights=agree, minlength=ann.n_workers) / np.maximum(
        ann.worker_counts, 1)


def vote_shares(counts: np.ndarray) -> np.ndarray:
    """Rows of (weighted) votes as shares summing to 1; a row of no positive weight (every
    vote weighted 0, or negative weights) gets uniform shares."""
    positive = np.maximum(counts, 0.0)
    total = positive.sum(axis=1, keepdims=True)
    k = counts.shape[1]
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), 1.0 / k)


def worker_weights(ann: Annotations, weights: Mapping | pd.Series,
                   default: float | None = None) -> np.ndarray:
    """One vote weight per worker of ``ann`` from ``weights`` (worker id → weight); ids are
    compared as given and then as text. A worker without a weight is an :class:`InputError`
    naming it unless ``default`` is given."""
    given = pd.Series(weights, dtype=np.float64) if not isinstance(weights, pd.Series) else (
        weights.astype(np.float64))
    if not given.index.is_unique:
        raise InputError(f"weights name worker {given.index[given.index.duplicated()][0]!r} "
                         "twice")
    if not np.isfinite(given.to_numpy()).all():
        raise InputError("weights must be finite numbers")
    found = positions(given.index, ann.workers)
    missing = found < 0
    weight = np.full(len(found), np.nan)
    weight[~missing] = given.to_numpy()[found[~missing]]
    if missing.any():
        if default is None:
            raise InputError(f"weights has no weight for {int(missing.sum())} workers, e.g. "
                             f"{ann.workers[int(np.flatnonzero(missing)[0])]!r}; give them one "
                             "or set default_weight")
        weight[missing] = float(default)
    return weight


def weighted_vote(ann: Annotations, weight: np.ndarray, tie_break: str = "random",
                  seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each task's votes weighted by its workers' ``weight`` (W) and the winning class codes,
    ties broken at random (one draw per distinct row of scores) or to the first class."""
    scores = ann.count_votes(weight[ann.worker])
    labels = np.argmax(scores, axis=1)
    if tie_break == "random":
        labels = _break_score_ties(scores, labels, np.random.default_rng(seed))
    return scores, labels


def _break_score_ties(scores: np.ndarray, labels: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Like :func:`_break_ties` for real-valued scores: a uniform pick among the exactly
    tied maxima, the same for tasks with the same scores."""
    top = scores.max(axis=1, keepdims=True)
    tied = np.flatnonzero((scores == top).sum(axis=1) > 1)
    if not len(tied):
        return labels
    patterns, which = np.unique(scores[tied], axis=0, return_inverse=True)
    labels = labels.copy()
    labels[tied] = tie_picks(patterns, rng, integer=False)[which.ravel()]
    return labels


def _break_ties(counts: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Labels of tied tasks drawn uniformly among their tied maxima, one draw per distinct
    row of votes (tasks with identical votes get the same label)."""
    top = counts.max(axis=1, keepdims=True)
    tied = np.flatnonzero((counts == top).sum(axis=1) > 1)
    if not len(tied):
        return labels
    patterns, which = np.unique(counts[tied], axis=0, return_inverse=True)
    labels = labels.copy()
    labels[tied] = tie_picks(patterns, rng, integer=True)[which.ravel()]
    return labels


def tie_picks(patterns: np.ndarray, rng: np.random.Generator, integer: bool) -> np.ndarray:
    """The class each distinct row of tied votes (``patterns``, sorted as ``np.unique``
    gives them) goes to: uniform among its tied maxima, one draw per row. The out-of-core
    engines call it on the rows of all chunks, so that they break ties as a fit in memory."""
    if integer:  # votes are integers: noise below 1 only reorders tied maxima, uniformly
        return np.argmax(patterns + rng.random(patterns.shape) * 0.5, axis=1)
    draws = np.where(patterns == patterns.max(axis=1, keepdims=True),
                     rng.random(patterns.shape), -1.0)
    return np.argmax(draws, axis=1)
