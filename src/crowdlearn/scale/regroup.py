"""Answers whose tasks are scattered over the input, regrouped on scratch disk.

The streamed engine needs each task's answers in one chunk. Exports are often in the order
the answers came in (by time, by assignment), so a task's answers lie far apart. Rather than
ask for a sort of the whole input, the chunks the first pass wrote are redistributed into
``B`` buckets by a hash of the task id (``B`` = answers / chunk size: a bucket fits in memory
as a chunk does), and each bucket is then grouped in memory into one chunk: its tasks in the
order of their first answer in the input, a task's answers in their input order (so that
``keep="first"``/``"last"`` mean what they mean in memory). One extra read and write of the
chunks; while it runs, the scratch disk holds the chunks twice; memory stays one chunk.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather

from crowdlearn.annotations import grouped_positions
from crowdlearn.scale.chunks import task_keys


def bucket_count(n_answers: int, chunk_answers: int) -> int:
    """How many buckets hold ``n_answers`` at about ``chunk_answers`` each."""
    return max(1, math.ceil(n_answers / chunk_answers))


def bucket_of(ids: pa.Array, n_buckets: int) -> np.ndarray:
    """Each task id's bucket: a hash of the id (integer ids are hashed too, so that ids in
    steps of ``n_buckets`` still spread)."""
    mixed = pd.util.hash_array(task_keys(ids).view(np.uint64))
    return (mixed % np.uint64(n_buckets)).astype(np.int64)


def gather_order(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions of the answers of the runs that begin at ``starts`` with ``lengths``,
    run after run (a vectorised concatenation of ranges)."""
    if (lengths == 1).all():  # scattered answers: every run one answer
        return starts.astype(np.int64)
    lengths = lengths.astype(np.int64)
    total = int(lengths.sum())
    before = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=before[1:])
    return np.repeat(starts.astype(np.int64) - before, lengths) + np.arange(total,
                                                                             dtype=np.int64)


def scatter(folder: Path, n_chunks: int, n_buckets: int) -> None:
    """Split every chunk ``i`` written by the first pass into its buckets' pieces
    (``b.i.*`` files), removing the chunk's own files as it goes."""
    for i in range(n_chunks):
        ids = feather.read_table(folder / f"{i}.tasks.arrow").column(0).combine_chunks()
        lengths = np.load(folder / f"{i}.lengths.npy")
        workers = np.load(folder / f"{i}.workers.npy")
        labels = np.load(folder / f"{i}.labels.npy")
        offsets = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        bucket = bucket_of(ids, n_buckets)
        order = np.argsort(bucket.astype(np.uint16) if n_buckets < 2**16 else bucket,
                           kind="stable")  # 16-bit: a radix sort
        answers = gather_order(offsets[order], lengths[order])
        run_edges = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
        answer_edges = np.concatenate([[0], np.cumsum(lengths[order], dtype=np.int64)])
        for b in np.flatnonzero(np.diff(run_edges)):
            runs = order[run_edges[b]:run_edges[b + 1]]
            picked = answers[answer_edges[run_edges[b]]:answer_edges[run_edges[b + 1]]]
            feather.write_feather(pa.table({"task": ids.take(pa.array(runs))}),
                                  folder / f"{b}.{i}.tasks.arrow", compression="uncompressed")
            np.savez(folder / f"{b}.{i}.npz", lengths=lengths[runs], workers=workers[picked],
                     labels=labels[picked])
        for suffix in ("tasks.arrow", "lengths.npy", "workers.npy", "labels.npy"):
            (folder / f"{i}.{suffix}").unlink()


def group(folder: Path, b: int, n_chunks: int) -> tuple[int, int]:
    """Bucket ``b``'s pieces joined into chunk ``b`` of whole tasks (files as the first
    pass writes them).
    Returns the bucket's number of tasks and its largest task's answers (0, 0 for a bucket
    no task fell in: it writes nothing)."""
    ids, lengths, workers, labels = [], [], [], []
    for i in range(n_chunks):
        if not (folder / f"{b}.{i}.npz").exists():
            continue
        ids.append(feather.read_table(folder / f"{b}.{i}.tasks.arrow").column(0)
                   .combine_chunks())
        with np.load(folder / f"{b}.{i}.npz") as piece:
            lengths.append(piece["lengths"])
            workers.append(piece["workers"])
            labels.append(piece["labels"])
        (folder / f"{b}.{i}.tasks.arrow").unlink()
        (folder / f"{b}.{i}.npz").unlink()
    if not ids:
        return 0, 0
    run_ids = pa.concat_arrays(ids)
    run_lengths = np.concatenate(lengths)
    order, starts = grouped_order(run_ids)  # pieces in chunk order: runs in input order
    offsets = np.zeros(len(run_lengths), dtype=np.int64)
    np.cumsum(run_lengths[:-1], out=offsets[1:])
    answers = gather_order(offsets[order], run_lengths[order])
    task_lengths = np.add.reduceat(run_lengths[order].astype(np.int64), starts)
    feather.write_feather(pa.table({"task": run_ids.take(pa.array(order[starts]))}),
                          folder / f"{b}.tasks.arrow", compression="uncompressed")
    np.save(folder / f"{b}.lengths.npy", task_lengths.astype(np.int32))
    np.save(folder / f"{b}.workers.npy", np.concatenate(workers)[answers])
    np.save(folder / f"{b}.labels.npy", np.concatenate(labels)[answers])
    return len(starts), int(task_lengths.max())


def grouped_order(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``ids`` reordered so that equal ids are together (tasks in the order
    of their first occurrence, each task's positions increasing), and where each task's
    group starts in that order. Arrow's dictionary codes are given in order of first
    occurrence, and grouping positions by them is a counting sort."""
    codes = pc.dictionary_encode(ids).indices.to_numpy()
    order, starts = grouped_positions(codes, int(codes.max()) + 1 if len(codes) else 0)
    return order.astype(np.int64), starts[:-1].astype(np.int64)
