"""Majority vote: the label most workers gave, or most weight when workers carry skills."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError, named_few
from crowdlearn.inputs import first_line
from crowdlearn.labels import positions
from crowdlearn.params import SEED_OR_GENERATOR, Choice, Instances, Reals

TIE_BREAK = Choice("random", "first")
"""How the vote family breaks ties: at random with its seed, or to the first class."""


class MajorityVote(Aggregator):
    """Each task gets the label most of its workers gave.

    Parameters
    ----------
    tie_break:
        ``"random"`` (default) picks uniformly among the tied labels, independently for each
        task: the draw is a function of the task's id, the class and ``seed`` only, so it is
        the same in whatever order the answers come and on every engine (see
        :func:`tie_draws`); ``"first"`` picks the tied label that comes first in
        ``classes``.
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
                labels = break_ties(counts, labels, _ids_of(ann), seed_word(self.seed))
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
    try:
        given = pd.Series(weights, dtype=np.float64) if not isinstance(weights, pd.Series) \
            else weights.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"weights must be numbers: {first_line(exc)}") from None
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
        if missing.all() and len(given):
            warnings.warn(f"the weights name none of the answers' workers "
                          f"({named_few(given.index)}): every "
                          f"vote has the default weight {default:g}", CrowdlearnWarning,
                          stacklevel=3)
    return weight


def weighted_vote(ann: Annotations, weight: np.ndarray, tie_break: str = "random",
                  seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each task's votes weighted by its workers' ``weight`` (W) and the winning class codes,
    exact ties broken at random, independently for each task (:func:`tie_draws`), or to the
    first class."""
    scores = ann.count_votes(weight[ann.worker])
    labels = np.argmax(scores, axis=1)
    if tie_break == "random":
        labels = break_ties(scores, labels, _ids_of(ann), seed_word(seed))
    return scores, labels


def _ids_of(ann: Annotations) -> Callable[[np.ndarray], list]:
    """The ids of the tasks at given positions of ``ann``."""
    return lambda rows: [ann.tasks[i] for i in rows.tolist()]


def break_ties(scores: np.ndarray, labels: np.ndarray, ids: Callable[[np.ndarray], Any],
               word: int) -> np.ndarray:
    """``labels`` (the argmax of each row of ``scores``) with every row whose maximum is
    tied given a uniform pick among its tied classes, drawn by :func:`tie_draws` from its
    task's id (``ids(rows)``: the ids of those rows) and ``word``."""
    at_top = scores == scores.max(axis=1, keepdims=True)
    tied = np.flatnonzero(at_top.sum(axis=1) > 1)
    if not len(tied):
        return labels
    draws = np.where(at_top[tied], tie_draws(ids(tied), scores.shape[1], word), -1.0)
    labels = labels.copy()
    labels[tied] = np.argmax(draws, axis=1)
    return labels


def seed_word(seed: int | np.random.Generator | None) -> int:
    """The 64-bit word that the random tie-break mixes with task ids: an integer seed as
    it is, else a draw from the Generator or from fresh entropy (None)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return int(np.random.default_rng(seed).integers(2**63))
    return int(seed) % 2**64  # a larger seed by its low 64 bits


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def tie_draws(ids, n_classes: int, word: int) -> np.ndarray:
    """``len(ids)`` × ``n_classes`` numbers uniform in [0, 1), each a function of the task id's
    text, the class's position and ``word`` only: a task's tie goes the same way in memory, streamed
    or on Dask, in any row order, and ties of tasks with the same votes are drawn apart (one
    draw for all of them would send, say, every two-answer tie between two classes to the
    same one, a bias that a model trained on the labels learns). The id's text is hashed
    by pandas' ``hash_array`` (SipHash), mixed with ``word`` and the class by splitmix64's
    finaliser (Steele, Lea and Flood, OOPSLA 2014)."""
    keys = pd.util.hash_array(id_text(ids), categorize=False)
    salt = _mix(np.full(n_classes, word, dtype=np.uint64)
                + np.arange(1, n_classes + 1, dtype=np.uint64) * _GOLDEN)
    bits = _mix(keys[:, None] ^ salt[None, :]) >> np.uint64(11)
    return bits.astype(np.float64) / 2.0**53


def id_text(ids) -> np.ndarray:
    """Ids (a sequence, an object array or an Arrow array) as an object array of their
    Python text, ``str(id)``; integers and text go through Arrow (~20x faster)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        array = ids if isinstance(ids, pa.Array) else pa.array(ids)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):  # mixed, tuples, ≥ 2⁶³
        array = None
    if array is not None and (pa.types.is_integer(array.type) or pa.types.is_string(
            array.type) or pa.types.is_large_string(array.type)):
        return pc.cast(array, pa.string()).to_numpy(zero_copy_only=False)
    values = array.to_pylist() if array is not None else ids
    text = np.empty(len(values), dtype=object)
    text[:] = [str(v) for v in values]
    return text


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of 64-bit words whose outputs look uniform."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
