"""The one sweep engine: every experiment is a list of independent cells (a method at one
setting and seed) run into a resumable results table, serially or in parallel processes.

An experiment (:class:`Experiment`) says what its cells are and how one runs; the engine
(:func:`run_sweep`) owns everything else: skipping cells already in ``results.csv``,
recording rows as cells finish, running cells in ``jobs`` processes, timing, logging, the
final table order and the plot. A cell depends only on its own key (its seed included), so
the same cell gives the same rows whether it runs alone, in a serial sweep or in a worker
process with the same number of torch threads.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import ClassVar

import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.experiments.results import ResultsTable, open_results, recorded_settings

Cell = Mapping[str, object]
Rows = list[dict]


class Experiment:
    """What one kind of sweep runs. Subclasses set the class attributes and implement
    :meth:`cells`, :meth:`run`, :meth:`describe`, :meth:`select` and :meth:`plot`.

    Instances hold only their settings (a dataclass with ``check()`` and ``model_name``), so
    they travel to worker processes; data are loaded in each process through
    :func:`dataset_splits`.
    """

    name: ClassVar[str]  # the plot is ``<name>.png``
    keys: ClassVar[tuple[str, ...]]  # columns that identify a cell in results.csv
    cell_fields: ClassVar[tuple[str, ...]]  # settings that only choose cells (not recorded)
    # settings added after tables were first written: the value a table without them had
    added_settings: ClassVar[dict] = {}

    def __init__(self, settings) -> None:
        self.settings = settings

    def recorded(self) -> dict:
        """The settings written in every results row (a table made with others is refused)."""
        return recorded_settings(self.settings, self.cell_fields)

    def cells(self) -> list[dict]:
        """Every cell of the sweep, as key-column values, in the order of the table."""
        raise NotImplementedError

    def run(self, cell: Cell) -> Rows:
        """Train and score one cell: its results rows (key columns and measurements; a cell
        may add rows of derived methods, e.g. CE's best epoch)."""
        raise NotImplementedError

    def describe(self, cell: Cell, rows: Rows) -> str:
        """One log line for a finished cell."""
        raise NotImplementedError

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """This sweep's rows of a results table that may hold more (other methods or seeds
        run before with the same settings)."""
        raise NotImplementedError

    def plot(self, results: pd.DataFrame, path: Path) -> None:
        raise NotImplementedError


@functools.lru_cache(maxsize=2)
def dataset_splits(name: str):
    """The train and test splits of a dataset, loaded once per process."""
    from crowdlearn.datasets import load

    return load(name, "train"), load(name, "test")


def run_sweep(experiment: Experiment, out_dir: Path | str,
              log: Callable[[str], None] = print, *, restart: bool = False, jobs: int = 1,
              threads: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Run (or resume) ``experiment`` into ``out_dir/results.csv`` and its plot; return this
    sweep's rows.

    Cells already in the table are not rerun; a table made with other settings is an
    :class:`InputError` unless ``restart``. ``jobs`` > 1 runs cells in that many worker
    processes, each with ``threads`` torch threads (default 1); a serial run uses ``threads``
    (default: torch's own setting). Rows are written as cells finish, so an interrupted sweep
    loses only the cells in progress, and put back in cell order at the end. ``progress(done,
    total)`` is called before the first cell and after each one.
    """
    experiment.settings.check()
    _check_workers(jobs, threads)
    made = not Path(out_dir).exists()
    out, table = open_results(out_dir, experiment.keys, experiment.recorded(), restart=restart,
                              added=experiment.added_settings)
    try:
        return _run_cells(experiment, out, table, log, jobs, threads, progress)
    except BaseException:  # a cell that fails at once (a network for other images...)
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()  # only if this run made it and nothing is in it
        raise


def _run_cells(experiment: Experiment, out: Path, table: ResultsTable, log, jobs: int,
               threads: int | None, progress) -> pd.DataFrame:
    """Run the cells not in ``table`` yet, record them and plot (see :func:`run_sweep`)."""
    cells = experiment.cells()
    todo = [i for i, cell in enumerate(cells) if not table.done(**cell)]
    report = progress or (lambda done, total: None)
    report(0, len(todo))
    placed: dict[int, int] = {}  # table row → index of the cell that made it
    for done, (i, rows) in enumerate(_finished(experiment, cells, todo, jobs, threads), 1):
        for row in table.add_rows(rows):
            placed[row] = i
        log(experiment.describe(cells[i], rows))
        report(done, len(todo))
    if jobs > 1 and placed:
        table.reorder([placed.get(row, -1) for row in range(len(table.frame))])
    results = experiment.select(table.frame).reset_index(drop=True)
    experiment.plot(results, out / f"{experiment.name}.png")
    return results


def _check_workers(jobs: int, threads: int | None) -> None:
    if not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be a positive integer, got {jobs!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a positive integer, got {threads!r}")


def _finished(experiment: Experiment, cells: list[dict], todo: list[int], jobs: int,
              threads: int | None):
    """``(cell index, rows)`` of each cell in ``todo`` as it finishes."""
    if jobs == 1 or len(todo) <= 1:
        for i in todo:
            yield i, _run_cell(experiment, cells[i], threads)
        return
    context = get_context("spawn")  # a fork of a process that started torch's threads can hang
    with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context) as pool:
        pending: dict[Future, int] = {
            pool.submit(_run_cell, experiment, cells[i], threads or 1): i for i in todo}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=pending.get):
                    yield pending.pop(future), future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _run_cell(experiment: Experiment, cell: Cell, threads: int | None) -> Rows:
    """Run one cell with ``threads`` torch threads and add its wall time to its rows."""
    from crowdlearn.nn.threads import cpu_threads

    start = time.perf_counter()
    with cpu_threads(threads):
        rows = experiment.run(cell)
    seconds = round(time.perf_counter() - start, 2)
    return [{**row, "seconds": seconds} for row in rows]


__all__ = ["Experiment", "ResultsTable", "dataset_splits", "run_sweep"]
