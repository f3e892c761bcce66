"""Out-of-core aggregation on one machine: answers streamed from Parquet, one pass per EM
iteration over chunk files on local disk.

Memory is bounded by ``n_threads`` chunks in flight (about 40 bytes an answer of a chunk:
its codes, the sparse block and the products; ~300 MB each at the default 8M answers), the
per-worker statistics (W·K² numbers), the worker and class dictionaries, and, only when the
input's tasks are not in increasing order, 8 bytes a run of a task's rows, at most a chunk's
worth at a time, for the split-task check.
Nothing grows with the number of tasks or answers otherwise. The chunk files take 4 bytes an
answer and 4 to 12 a task of local disk (``scratch``). Answers whose tasks are scattered over
the input are regrouped by task on that disk first (the chunk files twice while it runs;
:mod:`crowdlearn.scale.regroup`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crowdlearn.aggregation import DawidSkene
from crowdlearn.aggregation.base import Aggregator
from crowdlearn.aggregation.em import default_threads
from crowdlearn.annotations import Keep, _check_keep, warn_dropped_repeats
from crowdlearn.errors import InputError
from crowdlearn.labels import warn_near_duplicates
from crowdlearn.scale.engine import StreamRunner, check_scalable, fit_chunks
from crowdlearn.scale.output import check_dataset, dataset_output
from crowdlearn.scale.parquet import ParquetAnswers
from crowdlearn.scale.store import CHUNK_ANSWERS, encode


@dataclass
class ScaleResult:
    """An out-of-core fit: the model (worker-level attributes only: the task labels are in
    ``out``), the sizes, and where the time went."""

    model: Aggregator
    out: Path
    engine: str
    n_answers: int
    n_tasks: int
    n_workers: int
    seconds: dict[str, float] = field(default_factory=dict)
    iteration_seconds: list[float] = field(default_factory=list)
    regrouped: bool = False  # the tasks' answers were scattered and were regrouped first
    labels: dict = field(default_factory=dict)  # shares, mean confidence, count below 0.9

    def worker_table(self) -> pd.DataFrame:
        """One row per worker: answers, estimated accuracy and per-class recall."""
        from crowdlearn.aggregation.report import worker_table

        return worker_table(self.model)


def aggregate_parquet(source, out: Path | str, model: Aggregator | None = None, *,
                      task: str = "task", worker: str = "worker", label: str = "label",
                      proba: bool = False, chunk_answers: int = CHUNK_ANSWERS,
                      scratch: Path | str | None = None, n_threads: int | None = None,
                      force: bool = False, keep: Keep = "error",
                      progress: Callable[[int], None] | None = None) -> ScaleResult:
    """Fit ``model`` (default :class:`DawidSkene`; also one-coin and the votes mv, wawa, zbs) on the
    answers in ``source`` (a Parquet file, a folder of them or a glob) without holding them
    in memory, and write one row per task (task, label, confidence, with ``proba`` one
    ``proba_<class>`` column per class) as a Parquet dataset folder ``out``.

    Answers in any order are accepted. When each task's answers are consecutive rows (files
    sorted or grouped by task) the tasks come out in input order; otherwise the chunks are
    first regrouped by task on the scratch disk (one more pass, see
    :mod:`crowdlearn.scale.regroup`; ``regrouped`` in the result) and the tasks come out in
    parts of about ``chunk_answers`` answers, grouped by a hash of the task id, each part in
    the order of the tasks' first answers.
    ``keep`` deals with a worker's repeated answers to one task as in memory (see
    :class:`~crowdlearn.Annotations`): the default refuses them, naming the file and rows of
    the first (after a regrouping: of the first found).
    ``scratch`` is the folder for the temporary chunk files (default: the system's
    temporary folder); ``progress`` is called with the number of rows of each batch read (its sum
    reaches ``ParquetAnswers.open(source).n_rows``).
    The labels and posteriors equal an in-memory fit's up to floating-point summation order,
    and it warns (:class:`~crowdlearn.errors.CrowdlearnWarning`) as the in-memory fit does
    about the data: near-duplicate labels, worker quality that the answers cannot tell,
    classes no task ends up with.
    """
    model = DawidSkene() if model is None else model
    check_scalable(model)
    _check_keep(keep)
    answers = ParquetAnswers.open(source, task, worker, label)
    check_dataset(out, answers.all_files, force=force)
    if scratch is not None and not Path(scratch).is_dir():
        raise InputError(f"{scratch}: the scratch folder does not exist (or is not a folder)")
    start = time.perf_counter()
    with encode(answers, None if scratch is None else Path(scratch),
                chunk_answers=chunk_answers, keep=keep, progress=progress) as store:
        read = time.perf_counter() - start
        warn_near_duplicates(store.classes, label, answers.origin(source))
        warn_dropped_repeats(answers.origin(source), store.n_dropped,
                             store.n_answers + store.n_dropped, keep)
        with dataset_output(out) as folder:
            runner = StreamRunner(store, default_threads(n_threads))
            try:
                fitted = fit_chunks(model, runner, folder, proba)
            finally:  # before the folder is removed, on an error or an interrupt
                runner.close()
    fitted.seconds["read"] = read - store.regroup_seconds
    if store.regrouped:
        fitted.seconds["regroup"] = store.regroup_seconds
    fitted.seconds["total"] = time.perf_counter() - start
    return ScaleResult(model, Path(out), "stream", store.n_answers, store.n_tasks,
                       store.n_workers, fitted.seconds, fitted.iteration_seconds,
                       store.regrouped, fitted.labels)
