"""Answers whose tasks are scattered over the input, regrouped on scratch disk.

The streamed engine needs each task's answers in one chunk. Exports are often in the order
the answers came in (by time, by assignment), so a task's answers lie far apart. Rather than
ask for a sort of the whole input, the chunks the first pass wrote are redistributed into
``B`` buckets by a hash of the task id (``B`` = answers / chunk size: a bucket fits in memory
as a chunk does), and each bucket is then grouped in memory into one chunk: its tasks in the
order of their first answer in the input, a task's answers in their input order (so that
``keep="first"``/``"last"`` mean what they mean in memory). One extra read and write of the
chunks, sorted by bucket in one file set each (a bucket's part of it read through a memory
map); while it runs, the scratch disk holds the chunks twice; memory stays about one chunk.
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
from crowdlearn.scale.chunks import load_npy, task_keys


def bucket_count(n_answers: int, chunk_answers: int) -> int:
    """How many buckets hold ``n_answers`` at about ``chunk_answers`` each."""
    return max(1, math.ceil(n_answers / chunk_answers))


def bucket_of(keys: np.ndarray, n_buckets: int) -> np.ndarray:
    """Each task key's bucket (keys: :func:`~crowdlearn.scale.chunks.task_keys`), by a hash
    of the key (integer ids are hashed too, so that ids in steps of ``n_buckets`` still
    spread)."""
    mixed = pd.util.hash_array(keys.view(np.uint64))
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


ARRAYS = ("lengths", "workers", "labels")  # a chunk's numpy files, beside its task ids
FILES = ("tasks.arrow", *(f"{a}.npy" for a in ARRAYS))  # every file of a chunk


def by_bucket(bucket: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """A stable order of ``bucket`` (each run's bucket) and where each bucket starts in it
    (``n_buckets + 1`` edges); 16-bit buckets are sorted by radix."""
    order = np.argsort(bucket.astype(np.uint16) if n_buckets < 2**16 else bucket,
                       kind="stable")
    return order, np.searchsorted(bucket[order], np.arange(n_buckets + 1))


def scatter(folder: Path, n_chunks: int, n_buckets: int) -> np.ndarray:
    """Sort every chunk ``i`` written by the first pass by bucket, into ``s{i}.*`` files
    (the chunk's own files removed as it goes), and return the bucket edges: ``edges[i, 0,
    b]`` is where bucket ``b``'s runs start in ``s{i}``, ``edges[i, 1, b]`` its answers.
    One file set a chunk, however many buckets; a single bucket is the chunk as it is."""
    edges = np.zeros((n_chunks, 2, n_buckets + 1), dtype=np.int64)
    for i in range(n_chunks):
        lengths = load_npy(folder / f"{i}.lengths.npy")
        if n_buckets == 1:
            for suffix in FILES:
                (folder / f"{i}.{suffix}").rename(folder / f"s{i}.{suffix}")
            edges[i, :, 1] = len(lengths), int(lengths.sum())
            continue
        ids = feather.read_table(folder / f"{i}.tasks.arrow").column(0).combine_chunks()
        offsets = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        bucket = bucket_of(task_keys(ids), n_buckets)
        order, edges[i, 0] = by_bucket(bucket, n_buckets)
        answers = gather_order(offsets[order], lengths[order])
        edges[i, 1, 1:] = np.cumsum(np.bincount(bucket, weights=lengths, minlength=n_buckets))
        feather.write_feather(pa.table({"task": ids.take(pa.array(order))}),
                              folder / f"s{i}.tasks.arrow", compression="uncompressed")
        np.save(folder / f"s{i}.lengths.npy", lengths[order])
        for name in ARRAYS[1:]:
            np.save(folder / f"s{i}.{name}.npy", load_npy(folder / f"{i}.{name}.npy")[answers])
        for suffix in FILES:
            (folder / f"{i}.{suffix}").unlink()
    return edges


def group(folder: Path, b: int, edges: np.ndarray) -> tuple[int, int]:
    """Bucket ``b``'s slices of every sorted chunk (memory-mapped, see :func:`scatter`)
    joined into chunk ``b`` of whole tasks (files as the first pass writes them). Returns
    the bucket's number of tasks and its largest task's answers (0, 0 for a bucket no task
    fell in: it writes nothing)."""
    ids, parts = [], {name: [] for name in ARRAYS}
    for i, ((r0, a0), (r1, a1)) in enumerate(zip(edges[:, :, b], edges[:, :, b + 1],
                                                  strict=True)):
        if r1 == r0:
            continue
        ids.append(feather.read_table(folder / f"s{i}.tasks.arrow", memory_map=True)
                   .column(0).combine_chunks().slice(r0, r1 - r0))
        for name, (start, stop) in zip(ARRAYS, ((r0, r1), (a0, a1), (a0, a1)), strict=True):
            parts[name].append(load_npy(folder / f"s{i}.{name}.npy", mmap_mode="r")[start:stop])
    if not ids:
        return 0, 0
    run_ids = pa.concat_arrays(ids)
    run_lengths = np.concatenate(parts["lengths"])
    order, starts = grouped_order(run_ids)  # slices in chunk order: runs in input order
    offsets = np.zeros(len(run_lengths), dtype=np.int64)
    np.cumsum(run_lengths[:-1], out=offsets[1:])
    answers = gather_order(offsets[order], run_lengths[order])
    task_lengths = np.add.reduceat(run_lengths[order].astype(np.int64), starts)
    feather.write_feather(pa.table({"task": run_ids.take(pa.array(order[starts]))}),
                          folder / f"{b}.tasks.arrow", compression="uncompressed")
    np.save(folder / f"{b}.lengths.npy", task_lengths.astype(np.int32))
    for name in ARRAYS[1:]:
        np.save(folder / f"{b}.{name}.npy", np.concatenate(parts[name])[answers])
    return len(starts), int(task_lengths.max())


def remove_sorted(folder: Path, n_chunks: int) -> None:
    """Remove the sorted chunks :func:`scatter` wrote, once every bucket is grouped."""
    for i in range(n_chunks):
        for suffix in FILES:
            (folder / f"s{i}.{suffix}").unlink()


def grouped_order(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``ids`` reordered so that equal ids are together (tasks in the order
    of their first occurrence, each task's positions increasing), and where each task's
    group starts in that order. Arrow's dictionary codes are given in order of first
    occurrence, and grouping positions by them is a counting sort."""
    codes = pc.dictionary_encode(ids).indices.to_numpy()
    order, starts = grouped_positions(codes, int(codes.max()) + 1 if len(codes) else 0)
    return order.astype(np.int64), starts[:-1].astype(np.int64)
