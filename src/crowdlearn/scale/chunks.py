"""A chunk of answers coded for EM: whole tasks, each task's answers in consecutive places.

Every engine (streamed from disk, on Dask workers) holds its answers as :class:`CodedChunk`
objects and runs the same per-chunk functions on them: the initial (majority-vote)
statistics, the E-step (:func:`crowdlearn.aggregation.em.block_estep`, the kernel of the
in-memory fit) and the result table. Because a task never straddles two chunks, the E-step
of a chunk is local and only the M-step statistics (:class:`~crowdlearn.aggregation.em.Stats`,
additive) are reduced over chunks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from crowdlearn.aggregation.base import favoured_classes
from crowdlearn.aggregation.em import Params, Stats, block_estep
from crowdlearn.aggregation.majority_vote import break_ties, vote_shares
from crowdlearn.annotations import Keep, _kept_answers, has_repeated_pairs
from crowdlearn.errors import InputError

# np.load parses a .npy header with ast.literal_eval, which CPython 3.11 (3.11.7 here) does
# not make thread-safe ("SystemError: AST constructor recursion depth mismatch" when the engine's
# threads load chunks at once): loads are taken one at a time (a copy from the page cache,
# short beside the E-step that follows)
_NPY_LOAD = threading.Lock()


def load_npy(path, mmap_mode: str | None = None) -> np.ndarray:
    """:func:`numpy.load` of a .npy file of the engine's scratch folder, safe to call from
    several threads."""
    with _NPY_LOAD:
        return np.load(path, mmap_mode=mmap_mode)


@dataclass(frozen=True)
class CodedChunk:
    """``codes[i] = worker · K + label`` of every answer (int32), grouped by task;
    ``lengths[j]`` the number of answers of the chunk's j-th task; ``tasks`` their ids
    (an Arrow array, or None when not needed)."""

    codes: np.ndarray
    lengths: np.ndarray
    tasks: pa.Array | None = None

    @property
    def n_tasks(self) -> int:
        return len(self.lengths)

    def block(self, n_columns: int) -> sp.csr_matrix:
        """The chunk's incidence rows (tasks × W·K, ones where an answer is), built once
        per chunk object (a chunk persisted on a Dask worker keeps it between iterations:
        12 bytes an answer instead of rebuilding 8 of them every E-step)."""
        cached = self.__dict__.get("_block")
        if cached is None or cached.shape[1] != n_columns:
            cached = self._build_block(n_columns)
            object.__setattr__(self, "_block", cached)
        return cached

    def _build_block(self, n_columns: int) -> sp.csr_matrix:
        indptr = np.zeros(self.n_tasks + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=indptr[1:])
        index_type = np.int32 if len(self.codes) < 2**31 else np.int64
        return sp.csr_matrix((np.ones(len(self.codes)), self.codes, indptr.astype(index_type)),
                             shape=(self.n_tasks, n_columns))

    def vote_counts(self, n_classes: int) -> np.ndarray:
        """T × K votes of every task."""
        row = np.repeat(np.arange(self.n_tasks, dtype=np.int64), self.lengths)
        return np.bincount(row * n_classes + self.codes % n_classes,
                           minlength=self.n_tasks * n_classes).reshape(-1, n_classes)


def check_code_range(n_workers: int, n_classes: int) -> None:
    """Refuse crowds whose codes ``worker · K + label`` would not fit the int32 chunks."""
    if n_workers * n_classes >= 2**31:
        raise InputError(f"{n_workers:,} workers × {n_classes} classes is too many for the "
                         "out-of-core engines (at most 2^31 worker-label pairs)")


def task_keys(ids: pa.Array) -> np.ndarray:
    """int64 keys of task ids for the split-task check: integer ids themselves (unsigned ones
    reinterpreted), otherwise a 64-bit hash of the text, computed once per distinct id (a
    chunk of scattered answers repeats each id: Python strings only for the distinct
    ones)."""
    if pa.types.is_integer(ids.type):
        return ids.to_numpy().view(np.int64) if pa.types.is_uint64(ids.type) else \
            ids.to_numpy().astype(np.int64, copy=False)
    coded = pc.dictionary_encode(ids)
    distinct = pd.util.hash_array(coded.dictionary.to_numpy(zero_copy_only=False))
    return distinct.view(np.int64)[coded.indices.to_numpy()]


def first_repeat(keys: np.ndarray) -> int | None:
    """The first value of the sorted ``keys`` that occurs twice, or None."""
    twice = np.flatnonzero(keys[1:] == keys[:-1])
    return int(keys[twice[0]]) if len(twice) else None


def kept_answers(workers: np.ndarray, lengths: np.ndarray, n_workers: int, keep: Keep,
                 describe: Callable[[int, int], str]) -> np.ndarray | None:
    """The in-memory ``keep`` policy on repeated (task, worker) pairs, applied to one chunk
    (``workers``: its answers' worker codes, ``lengths``: its tasks' answer counts; a task
    lies in one chunk, so a repeat never spans two): None when every answer stays, the
    sorted positions kept for ``"first"``/``"last"``, and for ``"error"`` a
    :class:`~crowdlearn.errors.RepeatedAnswersError` of ``describe(i, j)``, the positions in
    the chunk of the first repeat's two answers. A counting pass over the (task, worker)
    pairs, once per fit, tells that no pair repeats (the usual case); only when one does
    are positions sought."""
    if keep == "all":
        return None
    task = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    if not has_repeated_pairs(task, workers, n_workers):
        return None
    return _kept_answers(task, workers, n_workers, keep, describe)


def kept_lengths(lengths: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Each task's answer count after only the answers at positions ``kept`` stay."""
    task = np.searchsorted(np.cumsum(lengths), kept, side="right")
    return np.bincount(task, minlength=len(lengths)).astype(np.int32)


def task_of(lengths: np.ndarray, position: int) -> int:
    """The task (its place in the chunk) of the answer at ``position``."""
    return int(np.searchsorted(np.cumsum(lengths), position, side="right"))


def initial_stats(chunk: CodedChunk, n_workers: int, n_classes: int) -> Stats:
    """M-step statistics of the soft majority vote (the in-memory fit's starting point)."""
    votes = chunk.vote_counts(n_classes)
    post = votes / votes.sum(axis=1, keepdims=True)
    block = chunk.block(n_workers * n_classes)
    return Stats(np.asarray(block.T @ post), post.sum(axis=0), 0.0)


def estep_stats(chunk: CodedChunk, params: Params, n_workers: int, n_classes: int) -> Stats:
    """The chunk's share of the next M-step's statistics under ``params``."""
    return block_estep(chunk.block(n_workers * n_classes), params)[1]


def posteriors(chunk: CodedChunk, params: Params, n_workers: int,
               n_classes: int) -> np.ndarray:
    """T × K posteriors of the chunk's tasks under ``params``."""
    return block_estep(chunk.block(n_workers * n_classes), params)[0].T


def vote_scores(chunk: CodedChunk, n_classes: int,
                weight: np.ndarray | None = None) -> np.ndarray:
    """T × K votes of every task, each answer counted with its worker's ``weight`` (W;
    default 1), added in answer order as the in-memory ``Annotations.count_votes`` does."""
    if weight is None:
        return chunk.vote_counts(n_classes)
    row = np.repeat(np.arange(chunk.n_tasks, dtype=np.int64), chunk.lengths)
    return np.bincount(row * n_classes + chunk.codes % n_classes,
                       weights=weight[chunk.codes // n_classes],
                       minlength=chunk.n_tasks * n_classes).reshape(-1, n_classes)


def vote_labels(chunk: CodedChunk, n_classes: int, weight: np.ndarray | None,
                word: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(Weighted) vote of the chunk's tasks: (vote shares T × K, winning class codes); tied
    tasks drawn by task id with ``word`` as in memory (the chunk must then hold its task
    ids), or given the first tied class (``word`` None)."""
    votes = vote_scores(chunk, n_classes, weight)
    labels = np.argmax(votes, axis=1)
    if word is not None:
        labels = break_ties(votes, labels, lambda rows: chunk.tasks.take(pa.array(rows)),
                            word)
    return vote_shares(votes), labels


def agreement_counts(chunk: CodedChunk, labels: np.ndarray, n_workers: int,
                     n_classes: int) -> np.ndarray:
    """Per worker, how many of its answers in the chunk equal the task's label."""
    answered = chunk.codes % n_classes
    agree = answered == np.repeat(labels, chunk.lengths)
    return np.bincount(chunk.codes[agree] // n_classes, minlength=n_workers)


def vote_agreement(chunk: CodedChunk, n_workers: int, n_classes: int,
                   weight: np.ndarray | None, word: int | None) -> np.ndarray:
    """Per worker, its answers in the chunk that equal the (weighted) vote's label."""
    _, labels = vote_labels(chunk, n_classes, weight, word)
    return agreement_counts(chunk, labels, n_workers, n_classes)


def favoured_counts(chunk: CodedChunk, n_classes: int) -> np.ndarray:
    """Per class, 1 when some task of the chunk has it as a most-answered class (see
    :func:`crowdlearn.aggregation.base.favoured_classes`), else 0."""
    task = np.repeat(np.arange(chunk.n_tasks, dtype=np.int64), chunk.lengths)
    return favoured_classes(task, chunk.codes % n_classes, chunk.n_tasks,
                            n_classes).astype(np.int64)


def result_table(chunk: CodedChunk, post: np.ndarray, labels: np.ndarray, classes: list,
                 proba: bool) -> pa.Table:
    """One row per task: task, label, confidence (its probability) and, with ``proba``, one
    column ``proba_<class>`` per class — the columns of ``crowdlearn aggregate``'s table."""
    columns = {"task": chunk.tasks,
               "label": pa.array(classes).take(pa.array(labels)),
               "confidence": post[np.arange(len(labels)), labels]}
    if proba:
        for j, cls in enumerate(classes):
            columns[f"proba_{cls}"] = np.ascontiguousarray(post[:, j])
    return pa.table(columns)
