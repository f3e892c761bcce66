"""Aggregation on a Dask cluster: answers coded once into chunks persisted on the workers, the
E-step mapped over them, the M-step statistics summed by a tree reduction.

Per EM iteration the client sends the model's parameters (W·K² numbers, broadcast once) and
receives only their sum of statistics (another W·K² + K numbers): the answers never travel
after the first pass. Each partition becomes one chunk, which must hold all the answers of
its tasks. A task's rows apart within a partition are grouped there. Whether a task lies in two
partitions is checked: partitions whose tasks increase need only their first and last ids;
otherwise the tasks' 64-bit keys are merged pairwise on the workers, which holds 8 bytes a task
on one worker once. If one does (answers listed as they came in, files cut by day), the
partitions are read again and shuffled by task on the cluster (Dask's own shuffle), each
answer tagged with its partition and row so that a task's answers keep their input order.

Needs ``pip install crowdlearn[dask]`` (``dask[distributed]``).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crowdlearn.aggregation import DawidSkene
from crowdlearn.aggregation.base import Aggregator
from crowdlearn.aggregation.em import default_threads
from crowdlearn.annotations import Keep, _check_keep, warn_dropped_repeats
from crowdlearn.errors import InputError, RepeatedAnswersError
from crowdlearn.inputs import first_line
from crowdlearn.labels import warn_near_duplicates
from crowdlearn.scale.chunks import (
    CodedChunk,
    check_code_range,
    first_repeat,
    kept_answers,
    kept_lengths,
    task_keys,
    task_of,
)
from crowdlearn.scale.engine import add, check_scalable, fit_chunks
from crowdlearn.scale.output import check_dataset, dataset_output
from crowdlearn.scale.parquet import ParquetAnswers, blank_mask, empty_message, has_blank
from crowdlearn.scale.regroup import grouped_order
from crowdlearn.scale.store import (
    library_order,
    repeat_message,
    run_starts,
)
from crowdlearn.scale.streamed import ScaleResult

CONNECT_TIMEOUT = "10s"
Parts = Any  # Parquet answers (one partition a file) or a user's Dask DataFrame


def _dask():
    try:
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("the Dask engine needs dask[distributed]: pip install "
                         "'crowdlearn[dask]'") from None
    return dd, Client, LocalCluster


class _QuietAbandonedWaits(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for distributed's ``AllExit``:
    after an interrupt, the waits of the gather it abandoned end with it when their futures
    are cancelled, and their tracebacks (one a chunk) would bury "terminated"."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "AllExit"


def connect(scheduler: str | None, n_workers: int | None = None) -> tuple[Any, ExitStack]:
    """A client of the scheduler at ``scheduler``, or of a new ``LocalCluster`` (one
    single-threaded process per core by default, logging errors only: its shutdown
    warnings, e.g. a worker killed after 4 s on a busy machine, are not the user's concern)
    closed with the returned stack. The client is the command's own: the noise its
    interrupted gathers leave in asyncio's log is silenced (see :class:`_QuietAbandonedWaits`)."""
    _, Client, LocalCluster = _dask()
    stack = ExitStack()
    quiet = logging.getLogger("asyncio")
    if not any(isinstance(f, _QuietAbandonedWaits) for f in quiet.filters):
        quiet.addFilter(_QuietAbandonedWaits())
    if scheduler is None:
        cluster = stack.enter_context(LocalCluster(  # ours: only its errors are the user's
            n_workers=default_threads(n_workers), threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR))
        return stack.enter_context(Client(cluster)), stack
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except ValueError as exc:  # e.g. a missing port, an unknown scheme
        raise InputError(f"{scheduler}: not a Dask scheduler address ({first_line(exc)}); "
                         "e.g. tcp://10.0.0.5:8786") from None
    except (OSError, TimeoutError) as exc:
        raise InputError(f"{scheduler}: cannot reach the Dask scheduler "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                         ) from None
    return stack.enter_context(client), stack


def encode_file(answers: ParquetAnswers, keep: Keep = "error") -> tuple[dict | None, dict]:
    """One Parquet file (``answers`` of one file), one partition: :func:`encode_answers`
    of its rows, named by file and row as the streamed engine names them."""
    return _reported(lambda: encode_answers(answers.read(), f"{answers.files[0]}",
                                            answers.columns, keep))


def encode_partition(frame: pd.DataFrame, index: int, columns: tuple[str, str, str],
                     keep: Keep = "error", origins: list[str] | None = None,
                     ) -> tuple[dict | None, dict]:
    """One partition of a user's Dask DataFrame: :func:`encode_answers` of its rows, named
    "partition N" and the row's position in it (from 0). ``origins``: the partition was
    shuffled by task (see :func:`_shuffled`), and its answers are named by the place
    ``origins[part]`` and the row they came from."""
    def encoded():
        where = f"partition {index}"
        for name in columns:
            empty = frame[name].isna().to_numpy()
            if empty.any():
                raise InputError(f"{where}: " + empty_message(
                    int(np.flatnonzero(empty)[0]), name, int(empty.sum())))
        place = None
        if origins is not None:
            part, row = frame[_PART].to_numpy(), frame[_ROW].to_numpy()

            def place(i: int) -> tuple[str, int]:
                return origins[int(part[i])], int(row[i])

        return encode_answers([pa.array(frame[name].to_numpy()) for name in columns], where,
                              columns, keep, place)

    return _reported(encoded)


def _reported(encoded: Callable[[], tuple[dict, dict]]) -> tuple[dict | None, dict]:
    """``encoded()``, or the message of the :class:`InputError` it raised as a value: the
    client raises it (a repeated answer as a :class:`RepeatedAnswersError`, whose remedy
    the command line words), and the worker logs no "Compute Failed" block for a user's
    data."""
    try:
        return encoded()
    except RepeatedAnswersError as exc:
        return None, {"error": exc.detail, "repeat": True}
    except InputError as exc:
        return None, {"error": str(exc)}


def encode_answers(arrays: list[pa.Array], where: str, columns: tuple[str, str, str],
                   keep: Keep = "error", place: Callable[[int], tuple[str, int]] | None = None,
                   ) -> tuple[dict, dict]:
    """One partition (``where``: its file or "partition N") coded locally: its task runs,
    and workers and labels coded against the partition's own distinct values (which the
    client merges into the global coding). The second element is what the client gathers:
    the distinct values with their answer counts, the numbers of tasks and answers, the
    most answers of a task, the first and last task keys and whether the tasks increase.
    Refuses blank text cells; a task whose rows lie apart in the partition is grouped
    (its answers in their order, tasks in the order of their first answers); repeated
    answers are dealt with as ``keep`` says (the default refuses them naming ``where`` and
    rows, or the places ``place(row)`` gives)."""
    ids = arrays[0]
    starts = run_starts(ids)
    run_ids = ids.take(pa.array(starts))
    worker_codes, worker_values = _local_codes(arrays[1])
    label_codes, label_values = _local_codes(arrays[2])
    if any(map(has_blank, (run_ids, worker_values, label_values))):  # distinct values only
        _raise_blank(arrays, where, columns)
    keys = task_keys(run_ids)
    increasing = bool((np.diff(keys) > 0).all())
    row = None  # the partition's row of each answer, when regrouped
    if not increasing and first_repeat(np.sort(keys)) is not None:
        # a task's rows apart within the partition: grouped here, in the input's order
        row, _ = grouped_order(ids)
        ids, worker_codes, label_codes = ids.take(pa.array(row)), worker_codes[row], \
            label_codes[row]
        starts = run_starts(ids)
        run_ids = ids.take(pa.array(starts))
        keys = task_keys(run_ids)
    lengths = np.diff(np.append(starts, len(ids))).astype(np.int32)

    def describe(a: int, b: int) -> str:
        a_row, b_row = (a, b) if row is None else (int(row[a]), int(row[b]))
        named = place or (lambda i: (where, i))
        return repeat_message(run_ids[task_of(lengths, a)].as_py(),
                              worker_values[int(worker_codes[a])].as_py(), named(a_row),
                              named(b_row))

    kept = kept_answers(worker_codes, lengths, len(worker_values), keep, describe)
    given = len(worker_codes)
    if kept is not None:
        worker_codes, label_codes = worker_codes[kept], label_codes[kept]
        lengths = kept_lengths(lengths, kept)
    local = {"worker": worker_codes, "label": label_codes, "tasks": run_ids,
             "lengths": lengths,
             "worker_values": worker_values, "label_values": label_values}
    meta = {"tasks": len(starts), "answers": len(worker_codes), "increasing": increasing,
            "dropped": given - len(worker_codes),
            "most": int(lengths.max()) if len(lengths) else 0,
            "first": int(keys[0]) if len(keys) else None,
            "last": int(keys[-1]) if len(keys) else None,
            "worker_values": worker_values, "label_values": label_values,
            "worker_counts": np.bincount(worker_codes, minlength=len(worker_values))}
    return local, meta


_PART, _ROW = "__crowdlearn_part", "__crowdlearn_row"  # a shuffled answer's origin


def _raise_blank(arrays: list[pa.Array], where: str, columns: tuple[str, str, str]) -> None:
    """Name the partition's first text cell that is empty or only blanks."""
    for name, values in zip(columns, arrays, strict=True):
        blank = blank_mask(values)
        if blank is not None and blank.any():
            raise InputError(f"{where}: " + empty_message(int(np.flatnonzero(blank)[0]), name,
                                                          int(blank.sum())))


def _local_codes(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    distinct = pc.unique(array)
    return pc.index_in(array, value_set=distinct).to_numpy().astype(np.int32), distinct


def recode(local: dict, worker_ids: pa.Array, class_ids: pa.Array) -> CodedChunk:
    """A locally coded partition in the global coding: ``worker · K + label``."""
    worker_map = pc.index_in(local["worker_values"], value_set=worker_ids).to_numpy()
    label_map = pc.index_in(local["label_values"], value_set=class_ids).to_numpy()
    codes = worker_map[local["worker"]].astype(np.int64) * len(class_ids) + label_map[
        local["label"]]
    return CodedChunk(codes.astype(np.int32), local["lengths"], local["tasks"])


def _keys(chunk: CodedChunk) -> np.ndarray:
    return np.sort(task_keys(chunk.tasks))


@dataclass(frozen=True)
class _SplitTask:
    """The key of a task found in two partitions (a value, not an exception: a worker logs
    every task that raises)."""

    key: int


def _merge_keys(a: np.ndarray | _SplitTask, b: np.ndarray | _SplitTask,
                ) -> np.ndarray | _SplitTask:
    """Two sorted key arrays merged; a key in both is a task split between partitions."""
    if isinstance(a, _SplitTask):
        return a
    if isinstance(b, _SplitTask):
        return b
    both = np.concatenate([a, b])
    both.sort(kind="mergesort")
    twice = first_repeat(both)
    return both if twice is None else _SplitTask(twice)


def _apply(chunk: CodedChunk, fn: Callable, args: tuple):
    return fn(chunk, *args)


def _write(chunk: CodedChunk, index: int, folder: str, fn: Callable, args: tuple):
    table, extra = fn(chunk, *args)
    pq.write_table(table, Path(folder) / f"part-{index:05d}.parquet")
    return extra


class DaskRunner:
    """Chunks persisted on Dask workers (see :class:`crowdlearn.scale.engine.Runner`)."""

    def __init__(self, client, chunks: list, workers: list, classes: list,
                 worker_counts: np.ndarray, n_tasks: int, n_answers: int,
                 max_task_answers: int, n_dropped: int = 0):
        self.client, self.chunks = client, chunks
        self.workers, self.classes, self.worker_counts = workers, classes, worker_counts
        self.n_tasks, self.n_answers = n_tasks, n_answers
        self.max_task_answers = max_task_answers
        self.n_dropped = n_dropped  # repeated answers that ``keep`` dropped

    def _shared(self, args: tuple):
        """``args`` on every worker, under a key of their own: scattered by content hash,
        an iteration's copy of the same small values (W, K, the classes) could be asked for
        while the previous one was being released, and the run failed or hung (a race of
        distributed's, dask/distributed#8576)."""
        return self.client.scatter(args, broadcast=True, hash=False)

    def _map(self, fn, *args) -> list:
        shared = self._shared(args)
        return self.client.map(_apply, self.chunks, fn=fn, args=shared, pure=False)

    def reduce(self, fn, *args, tasks: bool = False):  # a chunk holds its task ids
        return _pairwise(self.client, self._map(fn, *args), add).result()

    def collect(self, fn, *args, tasks: bool = False) -> list:
        return self.client.gather(self._map(fn, *args))

    def write(self, folder: Path, fn, *args):
        shared = self._shared(args)
        parts = self.client.map(_write, self.chunks, range(len(self.chunks)),
                                folder=str(Path(folder).resolve()), fn=fn, args=shared,
                                pure=False)
        return _pairwise(self.client, parts, add).result()


def _pairwise(client, parts: list, combine: Callable):
    """``combine`` applied pairwise on the workers (a tree: log₂ rounds) until one future is
    left; only that future's result ever reaches the client."""
    while len(parts) > 1:
        paired = [client.submit(combine, parts[i], parts[i + 1], pure=False)
                  for i in range(0, len(parts) - 1, 2)]
        parts = paired + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def aggregate_dask(source, out: Path | str, model: Aggregator | None = None, *,
                   client=None, scheduler: str | None = None, n_workers: int | None = None,
                   task: str = "task", worker: str = "worker", label: str = "label",
                   proba: bool = False, force: bool = False,
                   keep: Keep = "error") -> ScaleResult:
    """Fit ``model`` (default :class:`DawidSkene`; also one-coin and the votes mv, wawa,
    zbs) on a Dask cluster and write one row per task to the Parquet dataset folder ``out``
    (each worker writes its own parts: on a real cluster ``out`` must be on storage every
    worker sees).

    ``source``: a ``dask.dataframe.DataFrame`` with the three columns, or Parquet files (a
    file, folder or glob; one partition per file, files without rows skipped), in any
    order: if a task's answers lie in two partitions, the input is read again and shuffled
    by task on the cluster, its answers kept in input order (``regrouped`` in the result).
    ``client``: a ``dask.distributed.Client`` to use; otherwise one is connected to
    ``scheduler`` (an address) or to a new ``LocalCluster`` of ``n_workers`` processes. The
    labels and posteriors equal the in-memory and streamed fits' up to floating-point
    summation order, and it warns as they do about the data (see
    :func:`~crowdlearn.scale.aggregate_parquet`; ``keep`` as there). An error in the input
    is an :class:`InputError` naming the file and row (for a DataFrame: the partition and
    the row's position in it). On an error or an interrupt (Ctrl-C, SIGTERM), the tasks
    this call submitted are cancelled, also on a ``client`` or ``scheduler`` of the user's
    (which stays open)."""
    dd, _, _ = _dask()
    model = DawidSkene() if model is None else model
    check_scalable(model)
    _check_keep(keep)
    columns = (task, worker, label)
    if isinstance(source, dd.DataFrame):
        missing = [c for c in columns if c not in source.columns]
        if missing:
            raise InputError(f"the Dask DataFrame has no column {missing[0]!r} (columns: "
                             f"{', '.join(map(str, source.columns))})")
        parts: Parts = source[list(columns)]
        inputs, origin = [], ""
    else:
        answers = ParquetAnswers.open(source, task, worker, label)
        parts = answers
        inputs, origin = list(answers.all_files), answers.origin(source)
    check_dataset(out, inputs, force=force)
    start = time.perf_counter()
    # the folder outlives the cluster: its workers stop writing before it is removed
    with dataset_output(out) as folder, ExitStack() as stack:
        if client is None:
            client, owned = connect(scheduler, n_workers)
            stack.enter_context(owned)
        tracked = Tracked(client)
        try:
            runner = _persist(tracked, parts, columns, keep)
            regrouped = runner is None
            if regrouped:  # a task in two partitions: shuffled by task, read again
                shuffled, origins = _shuffled(parts, columns)
                with _quiet_shuffle():
                    runner = _persist(tracked, shuffled, columns, keep, origins)
                if runner is None:  # not reached: the shuffle puts a task in one partition
                    raise InputError("a task's answers are in two partitions after a shuffle "
                                     "by task")
            read = time.perf_counter() - start
            warn_near_duplicates(runner.classes, label, origin)
            warn_dropped_repeats(origin, runner.n_dropped, runner.n_answers + runner.n_dropped,
                                 keep)
            fitted = fit_chunks(model, runner, folder, proba)
        except BaseException:  # before the client closes and the folder is removed
            tracked.cancel()
            raise
    fitted.seconds["read"] = read
    fitted.seconds["total"] = time.perf_counter() - start
    return ScaleResult(model, Path(out), "dask", runner.n_answers, runner.n_tasks,
                       len(runner.workers), fitted.seconds, fitted.iteration_seconds,
                       regrouped, fitted.labels)


class Tracked:
    """A client that remembers, weakly, every future submitted through it, so that one
    command's work can be cancelled on an error or an interrupt: on a cluster of the
    user's, its running tasks would otherwise go on (the client is the user's, or closes
    only after clean-up) and the persisted chunks stay in the workers' memory while the
    exception's frames hold them. Nothing else on the cluster is touched."""

    def __init__(self, client):
        self.client = client
        self.futures: weakref.WeakSet = weakref.WeakSet()

    def __getattr__(self, name: str):  # gather and the rest: the client's own
        return getattr(self.client, name)

    def _kept(self, submitted):
        for future in submitted if isinstance(submitted, (list, tuple)) else [submitted]:
            self.futures.add(future)
        return submitted

    def submit(self, *args, **kwargs):
        return self._kept(self.client.submit(*args, **kwargs))

    def map(self, *args, **kwargs):
        return self._kept(self.client.map(*args, **kwargs))

    def compute(self, *args, **kwargs):
        return self._kept(self.client.compute(*args, **kwargs))

    def scatter(self, *args, **kwargs):
        return self._kept(self.client.scatter(*args, **kwargs))

    def cancel(self) -> None:
        """Cancel the futures still referenced (what runs, and what is held, for this
        command: the chunks, the reductions in flight), and with them the graph they
        need; a failure to reach the scheduler must not hide the error being raised."""
        live = list(self.futures)
        if live:
            try:
                self.client.cancel(live)
            except Exception:  # noqa: BLE001 - the first error is the one to report
                logging.getLogger(__name__).debug("could not cancel", exc_info=True)


def _sorted_union(arrays: list[pa.Array]) -> pa.Array:
    distinct = pc.unique(pa.concat_arrays([a.cast(arrays[0].type) for a in arrays]))
    return distinct.take(pa.array(library_order(distinct)))


def _persist(client, parts: Parts, columns: tuple[str, str, str], keep: Keep = "error",
             origins: list[str] | None = None) -> DaskRunner | None:
    """Code every partition into a chunk held on the workers (one read of the data) and
    check the grouping: None, with nothing left on the workers, when a task's answers lie
    in two partitions. ``origins``: ``parts`` were shuffled by task, and answers are named
    as :func:`encode_partition` says."""
    if isinstance(parts, ParquetAnswers):
        here = Path.cwd()  # relative paths are the client's: a worker's folder differs
        pairs = [client.submit(encode_file, parts.one(path, here), keep, pure=False)
                 for path in parts.files]
    else:
        from dask import delayed

        pairs = client.compute([delayed(encode_partition)(part, i, columns, keep, origins)
                                for i, part in enumerate(parts.to_delayed())])
    metas = client.gather([client.submit(lambda pair: pair[1], p, pure=False)
                           for p in pairs])
    errors = [m for m in metas if "error" in m]
    if errors:  # the first partition's
        raise (RepeatedAnswersError if errors[0].get("repeat") else InputError)(
            errors[0]["error"])
    filled = [i for i, m in enumerate(metas) if m["answers"]]
    if not filled:
        raise InputError("no answers in the Dask DataFrame")
    metas = [metas[i] for i in filled]
    workers = _sorted_union([m["worker_values"] for m in metas])
    classes = _sorted_union([m["label_values"] for m in metas])
    check_code_range(len(workers), len(classes))
    shared = client.scatter((workers, classes), broadcast=True)
    locals_ = [client.submit(lambda pair: pair[0], pairs[i], pure=False) for i in filled]
    chunks = client.map(recode, locals_, worker_ids=shared[0], class_ids=shared[1],
                        pure=False)
    client.gather(client.map(lambda chunk: None, chunks, pure=False))  # coded and persisted
    del pairs, locals_
    ordered = all(m["increasing"] for m in metas) and all(
        a["last"] < b["first"] for a, b in zip(metas, metas[1:], strict=False))
    if not ordered and _split(client, chunks):
        return None  # the chunks' futures released with this frame
    counts = np.zeros(len(workers), dtype=np.int64)
    for m in metas:
        np.add.at(counts, pc.index_in(m["worker_values"], value_set=workers).to_numpy(),
                  m["worker_counts"])
    return DaskRunner(client, chunks, workers.to_pylist(), classes.to_pylist(), counts,
                      sum(m["tasks"] for m in metas), sum(m["answers"] for m in metas),
                      max(m["most"] for m in metas), sum(m["dropped"] for m in metas))


def _split(client, chunks: list) -> bool:
    """Whether a task's answers lie in two chunks (their keys merged on the workers)."""
    merged = _pairwise(client, client.map(_keys, chunks, pure=False), _merge_keys).result()
    return isinstance(merged, _SplitTask)


def _shuffled(parts: Parts, columns: tuple[str, str, str]) -> tuple[Any, list[str]]:
    """``parts`` (Parquet files or a Dask DataFrame) as a Dask DataFrame shuffled by task,
    each partition's rows in input order (sorted by their origin: partition, row), and the
    names of the partitions they came from (files, or "partition N")."""
    dd, _, _ = _dask()
    from dask import delayed

    if isinstance(parts, ParquetAnswers):
        here = Path.cwd()
        names = [str(path) for path in parts.files]
        meta = _tagged(pa.table([pa.array([], type=t) for t in parts.types],
                                names=list(columns)).to_pandas(), 0)
        frames = [delayed(_file_frame)(parts.one(path, here), i)
                  for i, path in enumerate(parts.files)]
    else:
        names = [f"partition {i}" for i in range(parts.npartitions)]
        meta = _tagged(parts._meta, 0)
        frames = [delayed(_tagged)(part, i) for i, part in enumerate(parts.to_delayed())]
    shuffled = dd.from_delayed(frames, meta=meta).shuffle(columns[0])
    return shuffled.map_partitions(lambda frame: frame.sort_values([_PART, _ROW]),
                                   meta=meta), names


@contextmanager
def _quiet_shuffle():
    """Distributed's shuffle logs each shuffle's start and end as warnings; where its
    scheduler runs in this process (a ``LocalCluster`` of the user's), they are not the
    user's concern while this shuffle runs."""
    chatty = logging.getLogger("distributed.shuffle._scheduler_plugin")
    level = chatty.level
    chatty.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        chatty.setLevel(level)


def _file_frame(answers: ParquetAnswers, index: int) -> pd.DataFrame:
    """The answers of one file (``answers`` of one file) as a frame tagged with their origin."""
    frame = pd.DataFrame({name: values.to_pandas() for name, values in
                          zip(answers.columns, answers.read(), strict=True)})
    return _tagged(frame, index)


def _tagged(frame: pd.DataFrame, index: int) -> pd.DataFrame:
    """``frame`` with its origin in two more columns: partition ``index`` and each row's
    position in it."""
    return frame.assign(**{_PART: np.full(len(frame), index, dtype=np.int32),
                           _ROW: np.arange(len(frame), dtype=np.int64)})
