"""KOS: the message-passing estimator of Karger, Oh & Shah for binary labels.

Karger, D. R., Oh, S. and Shah, D. (2011). Iterative learning for reliable crowdsourcing
systems. NIPS 24 (and "Budget-optimal task allocation for reliable crowdsourcing systems",
Operations Research 62(1), 2014, Algorithm 1).

With answers A_tw ∈ {+1, −1} on the edges of the task–worker graph, messages along every edge
alternate (k = 1 … n_iter):

    x_{t→w} = Σ_{w' ∈ ∂t \\ w} A_{tw'} · y_{w'→t}          (tasks tell workers)
    y_{w→t} = Σ_{t' ∈ ∂w \\ t} A_{t'w} · x_{t'→w}          (workers tell tasks)

from ``y ~ N(1, 1)``; the estimate is ``sign(Σ_w A_tw · y_{w→t})``. Messages are per answer,
so each half-step is two segment sums over the answers. They grow geometrically: each
half-step divides them by their largest magnitude, which leaves every sign unchanged (crowd-kit
stops early instead when they pass 1e30).

A score of exactly 0 carries no information: a worker's messages are built from the tasks it
shares with others, so on a task whose workers share no task with anyone (every task answered
once, a single worker) every message is 0. Such a task is labelled by its answers, as majority
vote does (a tie of those to the first class), not by the sign convention; its posterior stays
(½, ½).

Messages fix the labels of each connected part of the task–worker graph only up to a common
flip, chosen by the random start; each part is oriented so that its answers agree with its
labels more often than not (workers better than chance, the model's premise).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from crowdlearn.aggregation.base import Aggregator, as_annotations
from crowdlearn.aggregation.majority_vote import agreement
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.params import SEED_OR_GENERATOR, Integers


class KOS(Aggregator):
    """Karger–Oh–Shah message passing (binary tasks only).

    Parameters
    ----------
    n_iter:
        Rounds of messages (crowd-kit's default, 10).
    seed:
        Seed of the initial worker messages ``N(1, 1)``.

    Attributes
    ----------
    score_ : per task, ``Σ_w A_tw · y_{w→t}`` (positive: the first class), scaled to [−1, 1].
    posteriors_ : one-hot of the sign of ``score_`` (½, ½ where it is 0): KOS gives a decision,
        not a probability. Where ``score_`` is 0 the label is the task's majority answer.
    skill_ : per worker, agreement with the final labels.
    n_iter_ : rounds of messages run (always ``n_iter``, as in the paper).
    """

    _parameter_constraints = {"n_iter": [Integers(1)], "seed": SEED_OR_GENERATOR}

    def __init__(self, n_iter: int = 10, *, seed: int | None = 0):
        self.n_iter = n_iter
        self.seed = seed

    def fit(self, answers, **frame_options) -> KOS:
        """Fit on ``answers`` (:class:`~crowdlearn.Annotations` or a long frame) whose labels
        take exactly two values."""
        self._check_params()
        ann = as_annotations(answers, **frame_options)
        if ann.n_classes != 2:
            answered = int((np.bincount(ann.label, minlength=ann.n_classes) > 0).sum())
            named = (f"{ann.n_classes} ({', '.join(map(repr, ann.classes[:5]))}"
                     f"{', …' if ann.n_classes > 5 else ''})")
            what = (f"these answers have {named}" if answered == ann.n_classes else
                    f"{named} are declared, {answered} of them answered")
            advice = ("use DawidSkene, GLAD or MMSR for more" if answered > 2 else
                      "declare only the answered ones")
            raise InputError(f"KOS is for two classes; {what}: {advice}")
        sign = np.where(ann.label == 0, 1.0, -1.0)  # +1: the first class
        t, w = ann.task, ann.worker
        # the random start, drawn in (task, worker, label) order: the same answers in another
        # row order get the same messages
        y = np.empty(len(ann))
        y[np.lexsort((ann.label, w, t))] = np.random.default_rng(self.seed).normal(
            1.0, 1.0, len(ann))
        for _ in range(self.n_iter):
            to_task = sign * y
            x = _scaled(np.bincount(t, weights=to_task, minlength=ann.n_tasks)[t] - to_task)
            to_worker = sign * x
            y = _scaled(np.bincount(w, weights=to_worker, minlength=ann.n_workers)[w]
                        - to_worker)
        score = _oriented(ann, sign, _scaled(np.bincount(t, weights=sign * y,
                                                          minlength=ann.n_tasks)))
        # a zero score weighs nothing: the answers decide (majority, ties to the first class)
        votes = np.bincount(t, weights=sign, minlength=ann.n_tasks)
        labels = np.where(score > 0, 0, np.where(score < 0, 1, np.where(votes >= 0, 0, 1)))
        post = np.stack([score > 0, score < 0], axis=1).astype(np.float64)
        post[score == 0] = 0.5
        self._record(ann, post, labels)
        self.score_ = score
        self.n_iter_ = self.n_iter  # a fixed number of rounds: no convergence test
        self.class_prior_ = post.mean(axis=0)
        self.skill_ = agreement(ann, labels)
        self._warn_about_fit(ann)
        _warn_against_the_vote(labels, votes)
        return self


def _warn_against_the_vote(labels: np.ndarray, votes: np.ndarray) -> None:
    """Warn when the labels disagree with the majority vote on most tasks that have a
    strict majority: on crowds whose workers all overlap, a few rounds of messages track
    the vote; many rounds can settle on another direction (a sign that, once oriented, still
    contradicts the answers on most tasks: temp in docs/benchmarks.md)."""
    decided = votes != 0
    if decided.sum() < 20:
        return
    share = float(np.mean(labels[decided] == np.where(votes[decided] > 0, 0, 1)))
    if share < 0.5:
        warnings.warn(f"KOS: the labels agree with the majority vote on only {share:.1%} of "
                      f"the {int(decided.sum()):,} tasks that have one: the messages may have "
                      "settled on an uninformative direction; fewer rounds (n_iter=2) or "
                      "DawidSkene may do better", CrowdlearnWarning, stacklevel=3)


def _oriented(ann, sign: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``score`` with its sign flipped on each connected part of the task–worker graph whose
    answers disagree with it more than they agree. Messages fix a part's labels only up to
    a common flip (the leading singular vector's sign is that of its random start); the
    model's premise, workers better than chance on average (q > 0 in Karger et al.), picks
    the orientation."""
    graph = sp.coo_matrix((np.ones(len(ann)), (ann.task, ann.n_tasks + ann.worker)),
                          shape=(ann.n_tasks + ann.n_workers,) * 2)
    part = connected_components(graph, directed=False)[1][:ann.n_tasks]
    agree = np.bincount(part[ann.task], weights=sign * np.sign(score)[ann.task],
                        minlength=part.max(initial=0) + 1)
    return np.where(agree[part] < 0, -score, score)


def _scaled(values: np.ndarray) -> np.ndarray:
    """``values`` divided by their largest magnitude (signs kept; all-zero stays zero)."""
    top = np.abs(values).max(initial=0.0)
    return values / top if top > 0 else values
