"""Parquet answers recoded once into chunks on local disk, then streamed by every EM pass.

One pass over the Parquet files codes workers and labels (small dictionaries, in order of
first appearance), finds each task's run of consecutive rows and cuts the answers into chunks
of whole tasks (about ``chunk_answers`` answers each). It checks whether some task's answers
are split into two runs (tasks given in increasing order pass at once; otherwise the run-start
ids, or 64-bit hashes of text ids, are sorted once: 8 bytes a task) and, if so, regroups the
chunks by task (:mod:`crowdlearn.scale.regroup`). A second, cheap pass over
the chunks turns the codes into ``worker · K + label`` with workers and classes in sorted
order, as the in-memory :class:`~crowdlearn.Annotations` codes them. Each EM iteration then
reads 4 bytes an answer and 4 a task from the chunk files (from the operating system's
file cache when they fit in memory) instead of decoding Parquet again.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather

from crowdlearn.annotations import Keep
from crowdlearn.errors import InputError
from crowdlearn.labels import sort_order
from crowdlearn.scale import regroup
from crowdlearn.scale.chunks import (
    CodedChunk,
    check_code_range,
    first_repeat,
    kept_answers,
    kept_lengths,
    load_npy,
    task_keys,
    task_of,
)
from crowdlearn.scale.parquet import ParquetAnswers, has_blank

CHUNK_ANSWERS = 1 << 23  # ~8M answers a chunk: ~100 MB of working memory per thread
BATCH_ROWS = 1 << 20
TABLE_IDS = 1 << 24  # integer ids below this are coded through a lookup table


class Dictionary:
    """The distinct values met so far, coded in order of first appearance."""

    def __init__(self, dtype: pa.DataType):
        self.values = pa.array([], type=dtype)
        self.blank = False  # some text value is empty or only blanks: a missing cell
        # small non-negative integer ids (the usual worker and label numbers): coded by a
        # lookup table instead of hashing
        self.table: np.ndarray | None = np.zeros(0, np.int32) if pa.types.is_integer(
            dtype) else None

    def codes(self, values: pa.Array) -> np.ndarray:
        """int32 codes of ``values``, adding the unseen ones."""
        if self.table is not None:
            ints = values.to_numpy()
            if len(ints) and 0 <= ints.min() and ints.max() < TABLE_IDS:
                return self._looked_up(ints)
            self.table = None  # ids too wide or negative: hash from now on
        distinct = pc.unique(values)
        if len(self.values):
            distinct = distinct.filter(pc.invert(pc.is_in(distinct, value_set=self.values)))
        if len(distinct):
            self.values = pa.concat_arrays([self.values, distinct])
            self.blank = self.blank or has_blank(distinct)
        return pc.index_in(values, value_set=self.values).to_numpy().astype(np.int32)

    def _looked_up(self, ints: np.ndarray) -> np.ndarray:
        top = int(ints.max())
        if top >= len(self.table):
            grown = np.full(max(top + 1, 2 * len(self.table)), -1, np.int32)
            grown[:len(self.table)] = self.table
            self.table = grown
        codes = self.table[ints]
        unseen = codes < 0
        if unseen.any():
            new = np.unique(ints[unseen])
            self.table[new] = len(self.values) + np.arange(len(new), dtype=np.int32)
            self.values = pa.concat_arrays([self.values, pa.array(new).cast(self.values.type)])
            codes = self.table[ints]
        return codes

    def sorted(self) -> tuple[list, np.ndarray]:
        """The values in sorted order and, per first-appearance code, its sorted rank."""
        order = library_order(self.values)
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        return self.values.take(pa.array(order)).to_pylist(), rank


def library_order(values: pa.Array) -> np.ndarray:
    """Positions of distinct ``values`` in the order the in-memory engine codes them
    (:func:`crowdlearn.labels.sort_order`: text that reads as numbers by value), so that
    classes, their ties and worker tables come out alike on every engine."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return sort_order(np.asarray(values.to_pylist(), dtype=object))
    return pc.sort_indices(values).to_numpy()


def run_starts(tasks: pa.Array) -> np.ndarray:
    """Positions where a new run of equal task ids begins (0 included)."""
    if len(tasks) == 0:
        return np.zeros(0, dtype=np.int64)
    if pa.types.is_integer(tasks.type):
        t = tasks.to_numpy()
        change = t[1:] != t[:-1]
    else:
        change = pc.not_equal(tasks.slice(1), tasks.slice(0, len(tasks) - 1)).to_numpy(
            zero_copy_only=False)
    return np.concatenate([[0], np.flatnonzero(change) + 1])


@dataclass
class ChunkStore:
    """Coded answers in chunk files under ``folder`` (removed by :meth:`close`)."""

    folder: Path
    n_chunks: int
    workers: list
    classes: list
    worker_counts: np.ndarray
    n_tasks: int
    n_answers: int
    max_task_answers: int
    regrouped: bool = False  # the input's tasks were scattered: chunks rewritten by task
    regroup_seconds: float = 0.0
    n_dropped: int = 0  # repeated answers that ``keep`` dropped

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def chunk(self, i: int, tasks: bool = False) -> CodedChunk:
        """Chunk ``i`` (with its task ids when ``tasks``)."""
        ids = feather.read_table(self.folder / f"{i}.tasks.arrow").column(0).combine_chunks() \
            if tasks else None
        return CodedChunk(load_npy(self.folder / f"{i}.codes.npy"),
                          load_npy(self.folder / f"{i}.lengths.npy"), ids)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ChunkStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Encoder:
    """Cuts batches of answers into chunks of whole tasks and writes their raw codes."""

    def __init__(self, source: ParquetAnswers, folder: Path, chunk_answers: int):
        self.source, self.folder, self.chunk_answers = source, folder, chunk_answers
        self.workers = Dictionary(source.types[1])
        self.labels = Dictionary(source.types[2])
        self.pending: list[tuple[pa.Array, np.ndarray, np.ndarray]] = []
        self.n_pending = 0
        # where rows are, to name one without reading again: each file's first row and
        # each chunk's first answer, counted over all the files' rows
        self.file_starts: list[tuple[Path, int]] = []
        self.chunk_starts: list[int] = []
        self.n_read = 0
        self.n_chunks = self.n_tasks = self.n_answers = self.max_task_answers = 0
        self.integer_ids = pa.types.is_integer(source.types[0])
        self.increasing = self.integer_ids
        self.last_key: int | None = None
        self.regrouped = False  # chunks rewritten by task (see :mod:`.regroup`)
        self.regroup_seconds = 0.0

    def add(self, path: Path, offset: int, tasks: pa.Array, workers: pa.Array,
            labels: pa.Array) -> None:
        """The batch of rows from ``offset`` on in ``path``."""
        if offset == 0:
            self.file_starts.append((path, self.n_read))
        self.n_read += len(tasks)
        self.pending.append((tasks, self.workers.codes(workers), self.labels.codes(labels)))
        if self.workers.blank or self.labels.blank:
            self.source.raise_blank()
        self.n_pending += len(tasks)
        if self.n_pending >= self.chunk_answers:
            self.flush(final=False)

    def flush(self, final: bool) -> None:
        if not self.pending:
            return
        tasks = pa.concat_arrays([p[0] for p in self.pending])
        workers = np.concatenate([p[1] for p in self.pending])
        labels = np.concatenate([p[2] for p in self.pending])
        starts = run_starts(tasks)
        # the last task may go on in the next batch: keep it back unless this is the end
        cut = len(tasks) if final else int(starts[-1])
        if cut == 0:  # one task larger than a chunk: keep accumulating
            return
        runs = starts[starts < cut]
        self._write(tasks.slice(0, cut).take(pa.array(runs)),
                    np.diff(np.append(runs, cut)).astype(np.int32),
                    workers[:cut], labels[:cut])
        rest = len(tasks) - cut
        self.pending = [(tasks.slice(cut), workers[cut:], labels[cut:])] if rest else []
        self.n_pending = rest

    def _write(self, ids: pa.Array, lengths: np.ndarray, workers: np.ndarray,
               labels: np.ndarray) -> None:
        if has_blank(ids):  # one id a task: a blank one is a blank run of cells
            self.source.raise_blank()
        i = self.n_chunks
        self.chunk_starts.append(self.n_answers)
        feather.write_feather(pa.table({"task": ids}), self.folder / f"{i}.tasks.arrow",
                              compression="uncompressed")
        np.save(self.folder / f"{i}.lengths.npy", lengths)
        np.save(self.folder / f"{i}.workers.npy", _narrow(workers))
        np.save(self.folder / f"{i}.labels.npy", _narrow(labels))
        if self.increasing:
            keys = task_keys(ids)
            first = int(keys[0])
            self.increasing = bool((np.diff(keys) > 0).all()) and (
                self.last_key is None or first > self.last_key)
            self.last_key = int(keys[-1])
        self.n_chunks += 1
        self.n_tasks += len(lengths)
        self.n_answers += len(workers)
        self.max_task_answers = max(self.max_task_answers, int(lengths.max()))


def _narrow(codes: np.ndarray) -> np.ndarray:
    """Codes in the smallest integer type that holds them (scratch disk and page cache)."""
    top = int(codes.max()) if len(codes) else 0
    return codes.astype(np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int32)


def encode(source: ParquetAnswers, folder: Path | None = None, *,
           chunk_answers: int = CHUNK_ANSWERS, batch_rows: int = BATCH_ROWS,
           keep: Keep = "error",
           progress: Callable[[int], None] | None = None) -> ChunkStore:
    """Read ``source`` once into a :class:`ChunkStore` in a new temporary folder (under
    ``folder``, default the system's temporary folder), a worker's repeated answers to one
    task dealt with as ``keep`` says (as in memory: see :class:`crowdlearn.Annotations`).
    Tasks whose answers are not in consecutive rows are regrouped on the scratch disk; for
    ``keep="error"`` an :class:`InputError` names the file and rows of a repeated answer
    (the first in input order unless the tasks were regrouped)."""
    # named before it is made, so that an interrupt at any point removes it
    scratch = Path(tempfile.gettempdir() if folder is None else folder) / \
        f"crowdlearn-chunks-{uuid.uuid4().hex}"
    try:
        scratch.mkdir(mode=0o700)
        encoder = _Encoder(source, scratch, chunk_answers)
        for path, offset, (tasks, workers, labels) in source.batches(batch_rows):
            encoder.add(path, offset, tasks, workers, labels)
            if progress is not None:
                progress(len(tasks))
        encoder.flush(final=True)
        if encoder.n_answers == 0:
            raise InputError(f"{source.files[0]}: no answers in "
                             f"{len(source.files)} file(s)")
        if not encoder.increasing and _split(scratch, encoder.n_chunks, chunk_answers):
            start = time.perf_counter()
            _regroup(encoder, scratch)
            encoder.regroup_seconds = time.perf_counter() - start
        return _recode(encoder, scratch, keep)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _split(folder: Path, n_chunks: int, chunk_answers: int) -> bool:
    """Whether some task's rows form two separate runs. A chunk whose own runs repeat a task
    answers at once (scattered answers do, in their first chunk); otherwise the runs' keys
    (8 bytes a run) are checked together, or, when there are more than a chunk's worth,
    bucket by bucket through key files on the scratch disk, so that memory stays bounded.
    A collision of two text ids' hashes only costs an unneeded regrouping."""
    chunk_keys = []
    for i in range(n_chunks):
        keys = np.sort(task_keys(feather.read_table(folder / f"{i}.tasks.arrow").column(0)
                                 .combine_chunks()))
        if first_repeat(keys) is not None:
            return True
        chunk_keys.append(keys)
        if sum(map(len, chunk_keys)) > chunk_answers:
            break
    else:
        keys = np.concatenate(chunk_keys)
        keys.sort()
        return first_repeat(keys) is not None
    return _split_by_bucket(folder, n_chunks, chunk_answers)


def _split_by_bucket(folder: Path, n_chunks: int, chunk_answers: int) -> bool:
    """:func:`_split` for more runs than a chunk: each chunk's run keys appended to key
    files by bucket, then each bucket's keys checked alone."""
    runs = sum(len(load_npy(folder / f"{i}.lengths.npy", mmap_mode="r"))
               for i in range(n_chunks))
    n_buckets = regroup.bucket_count(runs, chunk_answers)
    files = [folder / f"keys-{b}.bin" for b in range(n_buckets)]
    try:
        for i in range(n_chunks):
            keys = task_keys(feather.read_table(folder / f"{i}.tasks.arrow").column(0)
                             .combine_chunks())
            bucket = regroup.bucket_of(keys, n_buckets)
            order, edges = regroup.by_bucket(bucket, n_buckets)
            for b in np.flatnonzero(np.diff(edges)):
                with open(files[b], "ab") as out:
                    keys[order[edges[b]:edges[b + 1]]].tofile(out)
        for path in files:
            if path.exists():
                keys = np.fromfile(path, dtype=np.int64)
                keys.sort()
                if first_repeat(keys) is not None:
                    return True
        return False
    finally:
        for path in files:
            path.unlink(missing_ok=True)


def _regroup(encoder: _Encoder, folder: Path) -> None:
    """Rewrite the chunks so that each holds whole tasks (see :mod:`.regroup`)."""
    n_buckets = regroup.bucket_count(encoder.n_answers, encoder.chunk_answers)
    edges = regroup.scatter(folder, encoder.n_chunks, n_buckets)
    sizes = [regroup.group(folder, b, edges) for b in range(n_buckets)]
    regroup.remove_sorted(folder, encoder.n_chunks)
    kept = [b for b, (n, _) in enumerate(sizes) if n]
    for new, b in enumerate(kept):  # empty buckets (few tasks) leave no gap in the numbering
        if new != b:
            for suffix in regroup.FILES:
                (folder / f"{b}.{suffix}").rename(folder / f"{new}.{suffix}")
    encoder.n_chunks = len(kept)
    encoder.n_tasks = sum(n for n, _ in sizes)
    encoder.max_task_answers = max(most for _, most in sizes)
    encoder.regrouped = True


def repeat_message(task, worker, first: tuple[str, int], then: tuple[str, int]) -> str:
    """A worker's two answers to one task (``first``, ``then``: the file or partition and
    the row, from 0, of each) in the in-memory engine's words, led by the place when both
    rows are in one."""
    head = f"task {task!r} was answered twice by worker {worker!r}"
    if first[0] == then[0]:
        return f"{first[0]}: {head} (row {first[1]} and {then[1]})"
    return f"{head} ({first[0]} row {first[1]} and {then[0]} row {then[1]})"


def _recode(encoder: _Encoder, folder: Path, keep: Keep) -> ChunkStore:
    """Turn every chunk's first-appearance codes into ``worker · K + label`` with sorted
    workers and classes, apply ``keep`` to repeated answers, and count each worker's
    answers."""
    workers, worker_rank = encoder.workers.sorted()
    classes, class_rank = encoder.labels.sorted()
    k = len(classes)
    check_code_range(len(workers), k)
    counts = np.zeros(len(workers), dtype=np.int64)
    n_answers = most = dropped = 0
    for i in range(encoder.n_chunks):
        w = worker_rank[load_npy(folder / f"{i}.workers.npy")]
        labels = load_npy(folder / f"{i}.labels.npy")
        lengths = load_npy(folder / f"{i}.lengths.npy")

        def describe(a: int, b: int, i=i, w=w, lengths=lengths) -> str:
            ids = feather.read_table(folder / f"{i}.tasks.arrow").column(0)
            task, worker = ids[task_of(lengths, a)].as_py(), workers[w[a]]
            if encoder.regrouped:  # positions are no longer rows: found again in the input
                return repeat_message(task, worker, *_rows_of(encoder.source, task, worker))
            start = encoder.chunk_starts[i]
            return repeat_message(task, worker, _place(encoder.file_starts, start + a),
                                  _place(encoder.file_starts, start + b))

        kept = kept_answers(w, lengths, len(workers), keep, describe)
        if kept is not None:
            dropped += len(w) - len(kept)
            w, labels, lengths = w[kept], labels[kept], kept_lengths(lengths, kept)
            np.save(folder / f"{i}.lengths.npy", lengths)
        codes = w.astype(np.int64) * k + class_rank[labels]
        np.save(folder / f"{i}.codes.npy", codes.astype(np.int32))
        (folder / f"{i}.workers.npy").unlink()
        (folder / f"{i}.labels.npy").unlink()
        counts += np.bincount(w, minlength=len(workers))
        n_answers += len(w)
        most = max(most, int(lengths.max()))
    return ChunkStore(folder, encoder.n_chunks, workers, classes, counts, encoder.n_tasks,
                      n_answers, most, encoder.regrouped, encoder.regroup_seconds, dropped)


def _rows_of(source: ParquetAnswers, task, worker) -> list[tuple[str, int]]:
    """(file, row) of the first two answers of ``worker`` to ``task`` (a second read of
    the input, on the way to an error only)."""
    found: list[tuple[str, int]] = []
    for path, offset, (tasks, workers, _) in source.batches():
        hit = pc.and_(pc.equal(tasks, pa.scalar(task, tasks.type)),
                      pc.equal(workers, pa.scalar(worker, workers.type)))
        found += [(str(path), offset + int(row))
                  for row in np.flatnonzero(hit.to_numpy(zero_copy_only=False))]
        if len(found) >= 2:
            return found[:2]
    raise AssertionError(f"task {task!r}: worker {worker!r}'s two answers not found")


def _place(file_starts: list[tuple[Path, int]], row: int) -> tuple[str, int]:
    """(file, row in it) of the ``row``-th row over all the files."""
    i = int(np.searchsorted([start for _, start in file_starts], row, side="right")) - 1
    return str(file_starts[i][0]), row - file_starts[i][1]
