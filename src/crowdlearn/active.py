"""Active relabelling: which tasks should get one more answer next?

:func:`next_to_label` ranks answered tasks by the information one more answer would bring
about their true label. Three sources meet in one Bayesian posterior before anything is
scored:

- the crowd's answers, weighed by each answering worker's estimated quality: one accuracy
  per worker by default (the one-coin model), or a confusion matrix (Dawid & Skene, JRSS C
  1979): an answer from a worker who agrees with the others counts for much, a spammer's for
  almost nothing;
- when given, a model's class probabilities ``proba`` as a prior on each task's label,
  tempered by ``model_weight`` (``proba ** model_weight``, renormalised) and used as EM's
  starting point, so that worker quality is estimated from agreement with the model. That is
  how MBEM makes workers identifiable from one answer per task (Khetan, Lipton & Anandkumar,
  ICLR 2018, §3), which is where relabelling starts;
- the next answer's worker, unknown in advance: a *typical* worker, whose confusion matrix is
  the crowd's answer-weighted mean ``π̄``.

The score of task t is the mutual information between its true label ``Y`` and that next
answer ``L``: ``I(Y; L) = H(p_t π̄) − Σ_k p_tk H(π̄_k)`` (nats), with ``p_t`` the posterior.
It is zero for a task already settled and largest for one whose posterior is spread over
classes that a typical worker tells apart — the expected information gain of Lindley (Ann.
Math. Stat. 1956) applied to repeated labelling (Sheng, Provost & Ipeirotis, KDD 2008).

ActiveLab (Goh & Mueller, 2023, "ActiveLab: Active learning with re-labeling by multiple
annotators") mixes the same ingredients differently: a weighted average of a model's
probability and annotator agreement, weights set by their estimated accuracies, the lowest
quality scored first. Here the model enters the posterior itself, workers are weighed by
their full confusion matrices, and the score measures what one more answer can still change
rather than how unsure the current label is, so tasks whose answers already settle them are
skipped however few answers they have. A small share of each batch (``checks``) goes to
settled tasks instead, as gold questions do, so that the next answers also measure the
workers.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd

from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.proba import checked_rows

__all__ = ["information_gain", "next_to_label", "typical_confusion", "unchecked_confusion"]


CONSENSUS = ("onecoin", "ds")
"""The label models relabelling can use, by name: one-coin (the default) or Dawid–Skene."""


def consensus_model(name: str):
    """The label model ``name`` (one of :data:`CONSENSUS`), unfitted, with one thread."""
    from crowdlearn.aggregation import DawidSkene, OneCoinDawidSkene

    if name not in CONSENSUS:
        raise InputError(f"unknown consensus {name!r}; choose {' or '.join(CONSENSUS)}")
    return (OneCoinDawidSkene if name == "onecoin" else DawidSkene)(n_threads=1)


def next_to_label(annotations, proba: np.ndarray | pd.DataFrame | None = None,
                  k: int | None = 10, *, model_weight: float = 0.5, checks: float = 0.1,
                  candidates: Iterable[Hashable] | None = None, aggregator=None,
                  seed: int = 0, **frame_options) -> pd.DataFrame:
    """The ``k`` tasks to give one more answer next, best first.

    Parameters
    ----------
    annotations:
        The answers so far: :class:`~crowdlearn.Annotations`, or a long DataFrame read with
        ``frame_options`` as :meth:`Annotations.from_frame` does.
    proba:
        A model's out-of-sample class probabilities for the answered tasks: a T×K array in
        ``annotations.tasks`` order, or a DataFrame indexed by task id with one column per
        class. Every answered task needs a row; rows for tasks without answers (e.g. a
        model's predictions for every item) are ignored with a warning that counts them.
    k:
        How many tasks to return (``None``: all candidates, ranked).
    model_weight:
        Exponent of ``proba`` in the prior (0 ignores the model; 1 takes it at its word).
        The default 0.5 discounts the overconfidence of a model trained on noisy labels; it
        was chosen on the simulated digits crowds of ``docs/results.md``.
    checks:
        Share of the ``k`` tasks given instead to settled tasks (the fewest answers, the most
        confident consensus): their next answers check the answering workers, as gold
        questions do, so that worker quality stays estimable from the answers alone. Without
        them, answers pile onto the tasks that unreliable workers answered, and a label model
        that sees only answers can mistake the reliable workers for the unreliable ones.
    candidates:
        Task ids that may be chosen (default: every answered task), e.g. those whose answers a
        replayed crowd has not yet exhausted.
    aggregator:
        The label model, unfitted: a :class:`~crowdlearn.DawidSkene` or (default, one
        thread) a :class:`~crowdlearn.OneCoinDawidSkene`, whose one accuracy per worker is
        estimable from the few answers per worker that relabelling starts with.
    seed:
        Breaks ties between equal scores (fewest answers first, then at random).

    Returns
    -------
    DataFrame with columns ``task``, ``score`` (nats of information one more answer is
    expected to bring), ``label`` (the current consensus), ``confidence`` (its posterior
    probability), ``n_answers`` and ``reason`` (``information`` or ``check``), one row per
    chosen task: the informative ones best first, then the checks.
    """
    from sklearn.base import clone

    from crowdlearn.aggregation import DawidSkene, OneCoinDawidSkene
    from crowdlearn.aggregation.base import as_annotations

    check_selection(k, model_weight, checks, seed)
    ann = as_annotations(annotations, **frame_options)
    if ann.n_tasks and ann.task_counts.max() < 2 and (proba is None or model_weight == 0):
        warnings.warn("no task has two answers yet: no worker can be checked against "
                      "another, so every task scores alike and the choice is at random "
                      f"(seed {seed}); the next answers will start measuring the workers",
                      CrowdlearnWarning, stacklevel=2)
    allowed = _candidate_mask(ann, candidates)
    if aggregator is not None and not isinstance(aggregator, DawidSkene):
        raise InputError(f"aggregator must be a DawidSkene or OneCoinDawidSkene, got "
                         f"{type(aggregator).__name__}")
    model = clone(aggregator) if aggregator is not None else OneCoinDawidSkene(n_threads=1)
    prior = None if proba is None else _tempered(_proba_rows(ann, proba), model_weight)
    if prior is None or model_weight == 0:
        post, typical = _checked_posteriors(ann, model)
    else:
        model = _best_start(ann, model, prior)
        post = model.posteriors_
        typical = typical_confusion(model.confusion_, ann.worker_counts)
    score = information_gain(post, typical)
    counts = ann.task_counts
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(score)), counts, -np.round(score, 12)))
    order = order[allowed[order]]
    n_checks = 0
    if k is not None and len(order) > k:  # else every candidate is chosen anyway
        n_checks = int(np.floor(checks * k + 0.5))  # halves up: k = 5 gives 1 check, not 0
        best, rest = order[:k - n_checks], order[k - n_checks:]
        # stable; rounded as the scores, so that equal posteriors up to rounding tie
        settled = rest[np.lexsort((-np.round(post[rest].max(axis=1), 12), counts[rest]))]
        order = np.concatenate([best, settled[:n_checks]])
    elif k is not None:
        order = order[:k]
    reason = np.where(np.arange(len(order)) < len(order) - n_checks, "information", "check")
    classes = pd.Index(ann.classes)
    return pd.DataFrame({
        "task": pd.Index(ann.tasks).take(order),
        "score": score[order],
        "label": classes.take(post[order].argmax(axis=1)),
        "confidence": post[order].max(axis=1),
        "n_answers": counts[order],
        "reason": reason,
    })


def _checked_posteriors(ann: Annotations, model) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors with each worker's quality measured only on the tasks someone else
    answered too, and the typical worker's confusion.

    Without a model, a worker's answer on a task nobody else answered agrees with itself:
    counting it would make prolific workers look reliable before anyone has checked them.
    Workers never checked get the typical worker's confusion. With no task answered twice
    nobody is checked and the typical worker is :func:`unchecked_confusion`: each answer
    then makes its label the consensus at confidence (K + 1)/(2K), and tasks with the same
    answers score the same (round 1 of relabelling ranks at random)."""
    k = ann.n_classes
    shared = np.flatnonzero(ann.task_counts >= 2)
    if len(shared) == 0:
        typical = unchecked_confusion(k)
        confusion = np.broadcast_to(typical, (ann.n_workers, k, k))
        log_prior = np.full(k, -np.log(k))
    else:
        part = ann.subset([ann.tasks[i] for i in shared])
        model.fit(part)
        checked = part.worker_counts > 0
        typical = typical_confusion(model.confusion_, part.worker_counts)
        confusion = np.where(checked[:, None, None], model.confusion_, typical)
        log_prior = np.log(np.clip(model.class_prior_, 1e-12, None))
    log_pi = np.log(np.clip(confusion, 1e-12, None))  # W×K(true)×K(answer)
    rows = log_pi.transpose(0, 2, 1).reshape(-1, k)  # row w·K + answer: log π_w[:, answer]
    logpost = ann.incidence @ rows + log_prior
    logpost -= logpost.max(axis=1, keepdims=True)
    post = np.exp(logpost)
    return post / post.sum(axis=1, keepdims=True), typical


def unchecked_confusion(k: int) -> np.ndarray:
    """The K×K confusion of a worker nobody has checked: a one-coin worker whose accuracy is
    uniform on [1/K, 1] (no worse than guessing, nothing more known), marginalised: the mean
    accuracy (K + 1)/(2K) on the diagonal, 1/(2K) elsewhere (half knowing, half guessing,
    as MACE's prior-mean worker). Uniform rows instead would make every answer worthless:
    the consensus would be the first class and every score 0."""
    return np.full((k, k), 0.5 / k) + 0.5 * np.eye(k)


def typical_confusion(confusion: np.ndarray, n_answers: np.ndarray) -> np.ndarray:
    """The K×K confusion of a worker drawn like the next answer: each worker's matrix
    weighted by its share of the answers (a worker who answered nothing counts for nothing)."""
    weight = np.asarray(n_answers, dtype=np.float64)
    if weight.sum() <= 0:
        weight = np.ones(len(confusion))
    return np.tensordot(weight / weight.sum(), confusion, axes=1)


def information_gain(posteriors: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Per task, ``I(Y; L)`` in nats between the true label (distributed as the task's
    posterior row) and one more answer from a worker with ``confusion`` (K×K, rows the true
    class)."""
    answer = posteriors @ confusion  # T×K: the next answer's distribution
    noise = -np.sum(_xlogx(confusion), axis=1)  # H(L | Y = k)
    gain = -np.sum(_xlogx(answer), axis=1) - posteriors @ noise
    return np.maximum(gain, 0.0)


def _xlogx(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)


def _best_start(ann: Annotations, model, prior: np.ndarray):
    """``model`` fitted with the model's probabilities as task prior, started from them;
    refitted from each task's vote shares times the prior where that fit finds the typical
    worker no better than chance. From a near-uniform prior EM has nothing to tell the
    classes apart and stays at its uninformative fixed point (every worker at chance, the
    consensus the argmax of the prior's noise: 0.22-0.34 right where majority vote is
    0.72-0.91). The answers are the fallback, not the start: from them a spammer's lone
    answer weighs as much as a hammer's, where a good model knows better."""
    from sklearn.base import clone

    from crowdlearn.aggregation.majority_vote import vote_shares

    fit = clone(model).set_params(init="task_prior").fit(ann, task_prior=prior)
    if np.average(fit.skill_, weights=ann.worker_counts) > 1 / ann.n_classes + 1e-3:
        return fit
    start = vote_shares(ann.vote_counts) * prior
    total = start.sum(axis=1, keepdims=True)
    start = np.where(total > 0, start / np.where(total > 0, total, 1), prior)
    return clone(model).fit(ann, task_prior=prior, init_posteriors=start)


# the least probability a model's class keeps: a hard 0 (a tree's, a nearest neighbour's)
# would rule the class out whatever the workers answer, and leave its task unranked
PROBA_FLOOR = 1e-6


def check_selection(k, model_weight, checks, seed) -> None:
    """:func:`next_to_label`'s own parameters, checked before any file is read or model fit:
    an :class:`InputError` names the first bad one."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer))
                          or k < 1):
        raise InputError(f"k must be a positive integer (or None for all), got {k!r}")
    if isinstance(checks, bool) or not isinstance(checks, numbers.Real) \
            or not 0 <= checks < 1:
        raise InputError(f"checks must be a share in [0, 1), got {checks!r}")
    if isinstance(model_weight, bool) or not isinstance(model_weight, numbers.Real) \
            or not np.isfinite(model_weight) or model_weight < 0:
        raise InputError(f"model_weight must be a number >= 0, got {model_weight!r}")
    if not (seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)) or (
            isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0)):
        raise InputError(f"seed must be an integer >= 0 or None, got {seed!r}")


def _tempered(prior: np.ndarray, weight: float) -> np.ndarray:
    """``max(prior, PROBA_FLOOR) ** weight``, rows renormalised."""
    logp = weight * np.log(np.maximum(prior, PROBA_FLOOR)) if weight else np.zeros_like(prior)
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=1, keepdims=True)


def _proba_rows(ann: Annotations, proba) -> np.ndarray:
    """``proba`` as a T×K array in task-code order, checked to be distributions over the
    annotations' classes for exactly the answered tasks."""
    t, k = ann.n_tasks, ann.n_classes
    if isinstance(proba, pd.DataFrame):
        columns = [str(c).removeprefix("proba_") for c in proba.columns]
        wanted = [str(c) for c in ann.classes]
        if sorted(columns) != sorted(wanted) or len(set(columns)) != len(columns):
            raise InputError(f"proba's columns ({', '.join(columns)}) must be the classes "
                             f"({', '.join(wanted)})")
        frame = proba.set_axis(columns, axis=1)[wanted]
        index = pd.Index([str(i) for i in frame.index])
        if not index.is_unique:
            raise InputError(f"proba names task {index[index.duplicated()][0]!r} twice")
        tasks = pd.Index([str(i) for i in ann.tasks])
        position = index.get_indexer(tasks)
        if (position < 0).any():
            missing = tasks[position < 0]
            raise InputError(f"proba has no row for {len(missing)} answered tasks, e.g. "
                             f"{missing[0]!r}")
        if len(index) > t:
            extra = index[~index.isin(tasks)]
            warnings.warn(f"proba: ignored the rows of {len(extra):,} tasks without answers "
                          f"(e.g. {extra[0]!r}): only answered tasks can be relabelled",
                          CrowdlearnWarning, stacklevel=3)
        values = checked_rows(frame.to_numpy()[position], "proba", tasks, rows="tasks")
    else:
        values = checked_rows(proba, "proba", ann.tasks, rows="tasks", shape=(t, k))
    return values / values.sum(axis=1, keepdims=True)


def _candidate_mask(ann: Annotations, candidates) -> np.ndarray:
    if candidates is None:
        return np.ones(ann.n_tasks, dtype=bool)
    if isinstance(candidates, (str, bytes)):  # iterated, it would be its letters
        raise InputError(f"candidates must be a list of task ids, got the text {candidates!r} "
                         f"(one task: candidates=[{candidates!r}])")
    mask = np.zeros(ann.n_tasks, dtype=bool)
    mask[ann.task_codes(list(candidates), "candidate task")] = True
    return mask
