"""One fitting procedure for answers held in chunks, whatever holds the chunks.

An engine (:class:`StreamRunner` here: chunk files on local disk; the Dask engine in
:mod:`crowdlearn.scale.distributed`: chunks persisted on cluster workers) only has to apply a
per-chunk function to every chunk and add up the small results. :func:`fit_chunks` runs the
model on top of that — the M-steps of the in-memory classes (:class:`DawidSkene`,
:class:`OneCoinDawidSkene`) on statistics reduced over chunks, with the in-memory fit's
starting point, stopping rule and E-step kernel — so the three engines give the same labels
and posteriors up to floating-point summation order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crowdlearn.aggregation import (
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    ZeroBasedSkill,
)
from crowdlearn.aggregation.base import Aggregator, answer_problems
from crowdlearn.aggregation.em import Params, Stats, run_em
from crowdlearn.aggregation.majority_vote import seed_word
from crowdlearn.errors import InputError
from crowdlearn.scale.chunks import (
    CodedChunk,
    agreement_counts,
    estep_stats,
    favoured_counts,
    initial_stats,
    posteriors,
    result_table,
    vote_agreement,
    vote_labels,
)
from crowdlearn.scale.store import ChunkStore

VOTES = (MajorityVote, Wawa, ZeroBasedSkill)
SCALABLE = (*VOTES, DawidSkene, OneCoinDawidSkene)


class Runner(Protocol):
    """What :func:`fit_chunks` needs from an engine."""

    workers: list
    classes: list
    worker_counts: np.ndarray
    n_tasks: int
    n_answers: int
    max_task_answers: int  # the most answers any one task has

    def reduce(self, fn: Callable[..., Any], *args, tasks: bool = False) -> Any:
        """The sum over chunks of ``fn(chunk, *args)`` (Stats, arrays or tuples of them);
        ``tasks``: ``fn`` reads the chunks' task ids."""

    def collect(self, fn: Callable[..., Any], *args, tasks: bool = False) -> list:
        """``fn(chunk, *args)`` of every chunk, in chunk order (``tasks`` as for reduce)."""

    def write(self, folder: Path, fn: Callable[..., tuple[pa.Table, Any]], *args) -> Any:
        """Write the table of ``fn(chunk_with_task_ids, *args)`` of every chunk to
        ``folder/part-NNNNN.parquet``; return the sum of the second elements."""


def warn_about_fit(model: Aggregator, runner: Runner, counts: tuple[np.ndarray, np.ndarray],
                   final: bool = True) -> None:
    """Warn as the in-memory fit does (the same method, the same words) about what the
    answers cannot tell and the classes no task ends up with (``counts``: tasks per fitted
    class and tasks whose answers favour each class, summed over chunks)."""
    label_counts, favoured = counts
    model._warn_about_answers(
        answer_problems(runner.workers, runner.classes, runner.max_task_answers),
        runner.classes, label_counts > 0, final, favoured > 0)


@dataclass
class Fitted:
    """What a chunked fit did: per-iteration seconds and phase timings."""

    iteration_seconds: list[float] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    labels: dict = field(default_factory=dict)  # report.labels_summary of the written labels


def check_scalable(model: Aggregator) -> None:
    """Refuse (before any work) models the out-of-core engines do not run."""
    if type(model) not in SCALABLE:
        raise InputError(f"{type(model).__name__} runs in memory only; the out-of-core "
                         "engines run majority vote (mv), wawa, zero-based skill (zbs), "
                         "Dawid–Skene (ds) and one-coin (onecoin)")
    model._check_params()
    if isinstance(model, MajorityVote) and model.weights is not None:
        raise InputError("a weighted majority vote (weights=) runs in memory only")


def add(a, b):
    """Sum of two per-chunk results (Stats, arrays, tuples of them, or None)."""
    if a is None:
        return b
    if isinstance(a, tuple):
        return tuple(x + y for x, y in zip(a, b, strict=True))
    return a + b


def total(parts: Sequence) -> Any:
    result = None
    for part in parts:
        result = add(result, part)
    return result


def fit_chunks(model: Aggregator, runner: Runner, out: Path, proba: bool = False) -> Fitted:
    """Fit ``model`` on the runner's chunks and write one row per task to ``out`` (a folder
    of Parquet parts); the model gets its worker-level attributes (``workers_``,
    ``classes_``, ``worker_counts_``, ``class_prior_``, ``skill_``, and for EM models
    ``confusion_``, ``log_likelihood_``, ``n_iter_``, ``converged_``). The callers check
    the model with :func:`check_scalable` before any work."""
    w, k = len(runner.workers), len(runner.classes)
    for stale in ("posteriors_", "labels_", "tasks_", "_state_"):  # of an earlier fit in memory
        model.__dict__.pop(stale, None)
    model.workers_, model.classes_ = runner.workers, runner.classes
    model.worker_counts_ = runner.worker_counts
    fitted = Fitted()
    start = time.perf_counter()
    if isinstance(model, VOTES):
        fitted.labels = _fit_votes(model, runner, out, proba)
        fitted.seconds["votes"] = time.perf_counter() - start
        return fitted
    m_step = model._m_step(w, k, {})
    stats = runner.reduce(initial_stats, w, k)

    def estep(params: Params) -> Stats:
        began = time.perf_counter()
        result = runner.reduce(estep_stats, params, w, k)
        fitted.iteration_seconds.append(time.perf_counter() - began)
        return result

    params, history, n_iter, _ = run_em(estep, stats, m_step, n_answers=runner.n_answers,
                                        max_iter=model.max_iter, tol=model.tol)
    fitted.seconds["em"] = time.perf_counter() - start
    model._record_em(SimpleNamespace(n_workers=w, n_classes=k), params, history, n_iter)
    began = time.perf_counter()
    label_counts, favoured, confidence = runner.write(out, em_part, params, w, k,
                                                      runner.classes, proba)
    fitted.seconds["write"] = time.perf_counter() - began
    fitted.labels = _labels_summary(runner.classes, label_counts, confidence)
    # as in memory: a single step (MBEM's) is not a fit run to its end
    warn_about_fit(model, runner, (label_counts, favoured), final=model.max_iter > 1)
    return fitted


def em_part(chunk: CodedChunk, params: Params, w: int, k: int, classes: list,
            proba: bool) -> tuple[pa.Table, np.ndarray]:
    """The chunk's result table, its tasks per label and per favoured class, and the tally
    of its labels' probabilities (:func:`confidence_tally`)."""
    post = posteriors(chunk, params, w, k)
    labels = np.argmax(post, axis=1)
    return (result_table(chunk, post, labels, classes, proba),
            (np.bincount(labels, minlength=k), favoured_counts(chunk, k),
             confidence_tally(post, labels)))


def vote_part(chunk: CodedChunk, w: int, k: int, classes: list, weight, word: int | None,
              proba: bool) -> tuple[pa.Table, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The chunk's result table, and per worker its answers equal to the label, the vote
    shares summed over its tasks, its tasks per label and per favoured class."""
    shares, labels = vote_labels(chunk, k, weight, word)
    return (result_table(chunk, shares, labels, classes, proba),
            (agreement_counts(chunk, labels, w, k), shares.sum(axis=0),
             np.bincount(labels, minlength=k), favoured_counts(chunk, k),
             confidence_tally(shares, labels)))


def confidence_tally(post: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The sum of the labels' probabilities and how many are below 0.9: with the tasks per
    label, what ``aggregate``'s summary reports of the labels, added up over chunks."""
    confidence = post[np.arange(len(labels)), labels]
    return np.array([confidence.sum(), np.count_nonzero(confidence < 0.9)])


def _labels_summary(classes: list, label_counts: np.ndarray, tally: np.ndarray) -> dict:
    from crowdlearn.aggregation.report import labels_summary

    return labels_summary(dict(zip(map(str, classes), label_counts.tolist(), strict=True)),
                          float(tally[0]), int(tally[1]))


def _agreement(runner: Runner, k: int, weight: np.ndarray | None,
               word: int | None) -> np.ndarray:
    """Per worker, the share of its answers equal to the (weighted) vote's label."""
    agree = runner.reduce(vote_agreement, len(runner.workers), k, weight, word,
                          tasks=word is not None)
    return agree / np.maximum(runner.worker_counts, 1)


def _fit_votes(model: Aggregator, runner: Runner, out: Path, proba: bool) -> dict:
    """Majority vote, Wawa and zero-based skill: a few passes of (weighted) votes, the
    weights learned from agreement, exactly as their in-memory ``fit``; returns the summary
    of the labels written."""
    w, k = len(runner.workers), len(runner.classes)
    # one word for every vote of the fit (in memory each of Wawa's and ZBS's votes draws its
    # own from a None seed or a Generator, so those cannot be matched anyway; an integer
    # seed gives the same labels)
    word = seed_word(model.seed) if model.tie_break == "random" else None
    weight = None
    if isinstance(model, Wawa):
        weight = _agreement(runner, k, None, word)
    elif isinstance(model, ZeroBasedSkill):
        weight = np.full(w, 1.0 / k + model.eps)
        lr = float(model.lr_init)
        for round_ in range(1, model.n_iter + 1):
            if round_ % model.lr_steps_to_reduce == 0:
                lr *= model.lr_reduce_factor
            weight = weight + lr * (_agreement(runner, k, weight, word) - weight)
        model.n_iter_ = int(model.n_iter)
    agree, shares, label_counts, favoured, confidence = runner.write(
        out, vote_part, w, k, runner.classes, weight, word, proba)
    final = agree / np.maximum(runner.worker_counts, 1)
    if isinstance(model, Wawa):
        model.skill_, model.agreement_ = weight, final
    else:
        model.skill_ = final if weight is None else weight
    model.class_prior_ = shares / runner.n_tasks
    warn_about_fit(model, runner, (label_counts, favoured))
    return _labels_summary(runner.classes, label_counts, confidence)


class StreamRunner:
    """Chunks read from a :class:`ChunkStore` on local disk, ``n_threads`` at a time (the
    kernel's sparse products release the GIL)."""

    def __init__(self, store: ChunkStore, n_threads: int = 2):
        self.store = store
        self.workers, self.classes = store.workers, store.classes
        self.worker_counts = store.worker_counts
        self.n_tasks, self.n_answers = store.n_tasks, store.n_answers
        self.max_task_answers = store.max_task_answers
        self.pool = ThreadPoolExecutor(max(1, n_threads))

    def reduce(self, fn, *args, tasks: bool = False):
        return total(self.collect(fn, *args, tasks=tasks))

    def collect(self, fn, *args, tasks: bool = False) -> list:
        return list(self.pool.map(lambda i: fn(self.store.chunk(i, tasks=tasks), *args),
                                  range(self.store.n_chunks)))

    def write(self, folder: Path, fn, *args):
        def one(i: int):
            table, extra = fn(self.store.chunk(i, tasks=True), *args)
            pq.write_table(table, folder / f"part-{i:05d}.parquet")
            return extra

        return total(list(self.pool.map(one, range(self.store.n_chunks))))

    def close(self) -> None:
        """Stop: the chunks not started are dropped (after an interrupt), those running
        are waited for (before their output folder is removed)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
