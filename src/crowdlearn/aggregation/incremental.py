"""Incremental Dawid–Skene: new answers folded into a fitted model without a refit.

Neal, R. M. and Hinton, G. E. (1998). A view of the EM algorithm that justifies incremental,
sparse, and other variants. In Learning in Graphical Models, 355–368. Only the tasks that
receive answers are re-estimated by EM; the other tasks keep their posteriors, and a bound
on how far the parameters may move before each one's most probable class can change says
which of them need an exact E-step (see :class:`_Margins`). :func:`fold_in` is
:meth:`DawidSkene.partial_fit <crowdlearn.aggregation.DawidSkene.partial_fit>`;
:class:`FitState` is what a fit leaves for it.
"""

from __future__ import annotations

import array
import re
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crowdlearn.aggregation.base import as_annotations
from crowdlearn.aggregation.em import (
    TINY,
    EStep,
    Params,
    Stats,
    default_threads,
    row_block,
    run_em,
    stats_from_posteriors,
    thread_pool,
)
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.labels import positions

REFIT_BELOW = 100_000  # answers: partial_fit refits smaller crowds (see its docstring)
_SLACK = 1e-9  # for rounding in partial_fit's label bounds (sums taken in other orders)


def fold_in(model, answers, *, max_iter: int | None = None, refresh: int = 2,
            refit_below: int = REFIT_BELOW, **frame_options):
    """:meth:`DawidSkene.partial_fit <crowdlearn.aggregation.DawidSkene.partial_fit>` of
    ``model``: its docstring says what this does and what it costs."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "_state_")
    model._check_params()  # set_params may have changed them since the fit
    if not (isinstance(refresh, (int, np.integer)) and refresh >= 0):
        raise InputError(f"refresh must be an integer >= 0, got {refresh!r}")
    if max_iter is not None and not (isinstance(max_iter, (int, np.integer))
                                     and max_iter >= 1):
        raise InputError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (isinstance(refit_below, (int, np.integer)) and refit_below >= 0):
        raise InputError(f"refit_below must be an integer >= 0, got {refit_below!r}")
    state = model._state_
    if not state.plain:
        raise InputError("partial_fit continues a fit made without task_prior or gold "
                         "labels; refit with fit() on all answers")
    new = as_annotations(answers, **frame_options)
    batch = state.recode(new)
    k, n_old = state.n_classes, state.n_tasks
    w, n = len(batch.workers), len(batch.task_ids.ids)
    m_step = model._m_step(w, k, state.fixed)
    # the new answers by task; the tasks that receive them (ascending, the known first)
    order = np.argsort(batch.task)
    task, worker, label = batch.task[order], batch.worker[order], batch.label[order]
    first = np.ones(len(task), dtype=bool)
    first[1:] = task[1:] != task[:-1]
    touched = task[first]
    row = np.cumsum(first) - 1
    n_seen = int(np.searchsorted(touched, n_old))
    column = worker * k + label
    # all their answers, the earlier ones first
    threads = default_threads(model.n_threads)
    rows = state.rows(touched, w * k, row, column, n_threads=threads)
    repeats = np.concatenate(_by_parts(len(touched), threads, lambda a, b, i, j: _repeats(
        row_block(rows, a, b), k, row[i:j] - a, worker[i:j]) + i, row))
    if len(repeats):
        i = int(order[repeats].min())  # the first in the order given
        raise InputError(f"worker {batch.workers[batch.worker[i]]!r} already answered "
                         f"task {batch.task_ids.ids[batch.task[i]]!r}; partial_fit "
                         "adds answers, it does not replace them (refit to change an "
                         "answer)")
    if state.restartable and len(state.answers) + len(task) < refit_below:
        grown = state.grown(batch, task, column, state.stats, state.params)
        return model.fit(grown.answers)  # in the coding grown so far
    # where EM starts: the touched tasks' posteriors so far (a new task: its vote shares)
    start = np.empty((len(touched), k))
    start[:n_seen] = _take_rows(model.posteriors_, touched[:n_seen])
    votes = np.bincount(row * k + label, minlength=len(touched) * k).reshape(-1, k)
    start[n_seen:] = votes[n_seen:] / votes[n_seen:].sum(axis=1, keepdims=True)
    shares = _by_parts(len(touched), threads, lambda a, b, i, j: stats_from_posteriors(
        row_block(rows, a, b), start[a:b]))
    sub_start = sum(shares[1:], shares[0])
    fresh = np.stack([np.bincount(column, start[row, c], minlength=w * k)
                      for c in range(k)], axis=1)
    earlier = sub_start.counts - fresh  # the touched tasks' earlier answers' share
    # the other tasks' statistics: the totals less the touched tasks' earlier share
    counts = np.zeros((w * k, k))
    counts[:len(state.stats.counts)] = state.stats.counts
    rest = Stats(counts - earlier, state.stats.class_totals - start[:n_seen].sum(axis=0),
                 0.0)
    posteriors = np.empty((n, k), order="F")
    posteriors[:n_old] = model.posteriors_
    labels = np.empty(n, dtype=model.labels_.dtype)
    labels[:n_old] = model.labels_
    margins = state.margins
    margins.grow(n, column, w * k)
    # a column whose answers all lie in the touched tasks cannot move another task
    # (each task's posteriors sum to one: the statistics' rows sum to answer counts)
    watched = rest.counts.sum(axis=1) > 0.5
    current = [state.params]

    def step(sub_stats: Stats) -> Params:
        params = m_step(sub_stats + rest)
        margins.moved(current[0], params, watched)
        current[0] = params
        return params

    skip = np.zeros(n, dtype=bool)
    skip[touched] = True
    rounds = [0]
    with EStep(rows, k, n_threads=model.n_threads) as sub_step:

        def e_step(params: Params) -> Stats:
            sub_stats = sub_step(params)
            if rounds[0] < refresh - 1:  # the first rounds, before M-steps
                state.refresh(posteriors, labels, params, rest, skip, threads)
                rounds[0] += 1
            # the objective: the other tasks' share is their expected complete-data
            # log-likelihood under their posteriors so far (Neal and Hinton's free
            # energy less their posteriors' fixed entropy), so EM increases it
            held = float(np.einsum("ck,ck->", rest.counts, params.log_pi)
                         + rest.class_totals @ params.log_prior)
            return Stats(sub_stats.counts, sub_stats.class_totals,
                         sub_stats.log_likelihood + held)

        params, history, n_iter, sub_stats = run_em(
            e_step, sub_start, step, n_answers=len(state.answers) + len(task),
            max_iter=max_iter or model.max_iter, tol=model.tol)
        if refresh and n_iter >= refresh:  # the last round, with the final parameters
            state.refresh(posteriors, labels, params, rest, skip, threads)
        post = sub_step.posteriors
    _put_rows(posteriors, touched, post)
    labels[touched] = np.concatenate(_by_parts(
        len(touched), threads, lambda a, b, i, j: margins.settle(
            touched[a:b], post[a:b], row_block(rows, a, b), (row[i:j] - a, column[i:j])),
        row))
    model._state_ = state.grown(batch, task, column, sub_stats + rest, params)
    # only re-estimated tasks' labels can have changed: no argmax over every task
    model._record(model._state_.answers, posteriors, labels)
    model._record_em(model._state_.answers, params, history, n_iter,
                     max_iter or model.max_iter, ".partial_fit", stacklevel=4)
    return model


@dataclass
class FitState:
    """What :meth:`DawidSkene.partial_fit` continues from: the priors fixed by the first fit,
    every answer so far, the statistics of the current posteriors and the parameters that
    produced them; and, so that a batch costs in proportion to its size, the answers grouped
    by task (an incidence matrix built once, ``grouped``, plus the answers appended since:
    their task codes and incidence columns), the task ids' index and each task's margin."""

    fixed: dict  # the priors' pseudo-counts, fixed by the first fit
    answers: Annotations  # every answer (after partial_fit joined only when read)
    stats: Stats  # sufficient statistics of the current posteriors
    plain: bool  # fitted without a task prior or gold labels
    params: Params  # the parameters last estimated
    grouped: sp.csr_matrix  # incidence rows of the first tasks: the answers merged so far
    extra_task: np.ndarray  # answers appended since: task codes
    extra_column: np.ndarray  # ... and incidence columns (worker·K + label)
    task_ids: _TaskIds
    worker_index: pd.Index
    margins: _Margins
    restartable: bool = False  # fitted from fit's own start: a refit reproduces it

    @classmethod
    def start(cls, fixed: dict, ann: Annotations, stats: Stats, plain: bool,
              post: np.ndarray, params: Params) -> FitState:
        """The state after :meth:`DawidSkene.fit`: its incidence matrix, an index of the
        task ids (int64 keys when they are integers) and the posteriors' margins."""
        incidence = ann.incidence
        return cls(fixed, ann, stats, plain, params, incidence, np.zeros(0, np.int64),
                   np.zeros(0, np.int64), _TaskIds.of(ann.tasks, ann.__dict__.get("task_index")),
                   ann.worker_index,
                   _Margins.start(post, incidence, stats.counts))

    @property
    def n_tasks(self) -> int:
        return len(self.task_ids.ids)

    @property
    def n_classes(self) -> int:
        return len(self.answers.classes)

    @property
    def worker_counts(self) -> np.ndarray:
        return self.answers.worker_counts

    def recode(self, new: Annotations) -> _Batch:
        """``new`` in this coding, its unseen tasks and workers appended. A class the model
        does not know is an :class:`InputError`. Costs O(new answers and ids)."""
        classes = self.answers.classes
        class_map = positions(classes, new.classes)
        if (class_map < 0).any():
            extra = new.classes[int(np.flatnonzero(class_map < 0)[0])]
            raise InputError(f"partial_fit cannot add a class: {extra!r} is not one of "
                             f"{list(classes)}; refit with fit() on all answers")
        code = self.task_ids.find(new.tasks)
        unseen = np.flatnonzero(code < 0)
        code[unseen] = self.n_tasks + np.arange(len(unseen))
        task_ids = self.task_ids.extended(_in_kind([new.tasks[i] for i in unseen],
                                                   self.task_ids.ids))
        workers, worker_map, worker_index = _extend(self.answers.workers, new.workers,
                                                    self.worker_index)
        return _Batch(code[new.task], worker_map[new.worker].astype(np.int64),
                      class_map[new.label].astype(np.int64), task_ids, workers, worker_index)

    def rows(self, tasks: np.ndarray, n_columns: int, row: np.ndarray | None = None,
             column: np.ndarray | None = None, n_threads: int = 1) -> sp.csr_matrix:
        """The answers so far of the task codes ``tasks`` (ascending), as incidence rows with
        ``n_columns`` columns, each row followed by the entries (``row``: position in
        ``tasks``, ascending; ``column``) given. Costs O(those answers + the answers
        appended since the last merge), shared by ``n_threads`` threads."""
        groups = []
        if len(self.extra_task) and len(tasks):
            wanted = np.zeros(max(self.n_tasks, int(tasks[-1]) + 1), dtype=bool)
            wanted[tasks] = True
            mine = np.flatnonzero(wanted[self.extra_task])
            at = np.searchsorted(tasks, self.extra_task[mine])
            order = np.argsort(at)
            groups.append((at[order], self.extra_column[mine[order]]))
        if row is not None:
            groups.append((row, column))
        return _csr(*_gathered_in_parts(self.grouped, tasks, tuple(groups), n_threads),
                    (len(tasks), n_columns))

    def weigh(self, column_weights: np.ndarray) -> np.ndarray:
        """Per task, the sum of ``column_weights`` over its answers (one pass over all)."""
        total = np.zeros(self.n_tasks)
        m = self.grouped
        total[:m.shape[0]] = m @ column_weights[:m.shape[1]]
        if len(self.extra_task):
            total += np.bincount(self.extra_task, column_weights[self.extra_column],
                                 minlength=self.n_tasks)
        return total

    def refresh(self, posteriors: np.ndarray, labels: np.ndarray, params: Params,
                rest: Stats, skip: np.ndarray, n_threads: int = 1) -> int:
        """One refresh round of :meth:`DawidSkene.partial_fit`: the tasks (other than
        ``skip``) whose label the parameters' drift may have changed get their posteriors
        under ``params`` (written into ``posteriors`` and ``labels``), and ``rest`` the
        change of their statistics. Returns how many tasks that was."""
        margins = self.margins
        n_columns = len(params.log_pi)
        near = margins.suspects(skip, n_threads)
        if not len(near):
            return 0
        if 4 * len(near) > len(skip):  # most tasks: one product beats gathering their rows
            at = margins.exceeded(near, self.weigh(margins.steps)[near])
            moved = near[at]
            block = self.rows(moved, n_columns, n_threads=n_threads)
        else:
            rows = self.rows(near, n_columns, n_threads=n_threads)
            at = margins.exceeded(near, rows @ margins.steps)
            moved, block = near[at], rows[at]
        if not len(moved):
            return 0
        after = _posteriors(block, params)
        change = after - _take_rows(posteriors, moved)
        rest.counts += np.asarray(block.T @ change)
        rest.class_totals += change.sum(axis=0)
        _put_rows(posteriors, moved, after)
        labels[moved] = margins.settle(moved, after, block)
        return len(moved)

    def grown(self, batch: _Batch, task: np.ndarray, column: np.ndarray, stats: Stats,
              params: Params) -> FitState:
        """The state once ``batch`` (its answers' task codes and incidence columns: ``task``,
        ``column``) is folded in, with the statistics and parameters it led to. The
        appended answers are merged into ``grouped`` once they reach a quarter of it (O(all
        answers), so O(1) per answer amortised)."""
        counts = np.zeros(len(batch.workers), dtype=np.int64)
        counts[:len(self.worker_counts)] = self.worker_counts
        counts += np.bincount(batch.worker, minlength=len(batch.workers))
        parts = _parts(self.answers)
        parts.append((batch.task.astype(np.int32), batch.worker.astype(np.int32),
                      batch.label.astype(parts[0][2].dtype)))
        answers = _Appended(parts, batch.task_ids.ids, batch.workers, self.answers.classes,
                            counts)
        grouped = self.grouped
        extra_task = np.concatenate([self.extra_task, task])
        extra_column = np.concatenate([self.extra_column, column])
        if 4 * len(extra_task) > grouped.nnz:
            order = np.argsort(extra_task)
            grouped = _csr(*_gathered(grouped, np.arange(len(batch.task_ids.ids)),
                                      ((extra_task[order], extra_column[order]),)),
                           (len(batch.task_ids.ids), len(batch.workers) * self.n_classes))
            extra_task, extra_column = extra_task[:0], extra_column[:0]
        return FitState(self.fixed, answers, stats, True, params, grouped, extra_task,
                         extra_column, batch.task_ids, batch.worker_index, self.margins,
                         self.restartable)


@dataclass
class _Batch:
    """New answers in a fitted model's coding (their unseen tasks and workers appended)."""

    task: np.ndarray  # task code of each answer
    worker: np.ndarray  # worker code of each answer
    label: np.ndarray  # class code of each answer
    task_ids: _TaskIds  # every task id, the new ones appended
    workers: list  # every worker id, the new ones appended
    worker_index: pd.Index


class _TaskIds:
    """Finds the codes of task ids in time proportional to the ids looked up. When every id
    is an integer (checked once, when the model is fitted: one pass over the ids), a code is
    the id less the first id if the ids are consecutive (the usual 0…T−1), else found by
    binary search over the ids sorted; otherwise through a pandas Index (hashed at the
    first look-up). Either way an id matches as :func:`crowdlearn.labels.positions` matches
    it."""

    def __init__(self, ids: list, keys: np.ndarray | None = None,
                 order: np.ndarray | None = None, first: int | None = None,
                 index: pd.Index | None = None):
        self.ids = ids  # the task ids, in code order
        self.first = first  # the ids are first, first + 1, … (None: they are not)
        self.keys = keys  # else the ids as sorted int64 (None: not all integers)
        self.order = order  # code of each key (None: the keys are in code order)
        self.index = index

    @classmethod
    def of(cls, ids: list, index: pd.Index | None = None) -> _TaskIds:
        keys = _integers(ids)
        if keys is None:
            return cls(ids, index=index)
        if len(keys) < 2 or bool((keys[1:] > keys[:-1]).all()):
            if int(keys[-1]) - int(keys[0]) == len(keys) - 1:
                return cls(ids, first=int(keys[0]), index=index)
            return cls(ids, keys, index=index)
        order = np.argsort(keys, kind="stable")
        return cls(ids, keys[order], order, index=index)

    def find(self, wanted: list) -> np.ndarray:
        """The code of each of ``wanted`` (−1: not a known task)."""
        integer = self.first is not None or self.keys is not None
        probe = _integers(wanted) if integer else None
        if probe is None:
            if self.index is None:
                self.index = pd.Index(self.ids)
            return positions(self.ids, wanted, self.index)
        if self.first is not None:
            code = probe - self.first
            return np.where((code >= 0) & (code < len(self.ids)), code, -1)
        at = np.minimum(np.searchsorted(self.keys, probe), len(self.keys) - 1)
        code = at if self.order is None else self.order[at]
        return np.where(self.keys[at] == probe, code, -1)

    def extended(self, added: list) -> _TaskIds:
        """These ids with ``added`` (ids not among them) appended."""
        if not added:
            return self
        ids = self.ids + added
        integer = self.first is not None or self.keys is not None
        more = _integers(added) if integer else None
        if more is None:
            index = None if self.index is None else self.index.append(pd.Index(added))
            return _TaskIds(ids, index=index)
        n = len(self.ids)
        if self.first is not None and bool(
                (more == self.first + n + np.arange(len(more))).all()):
            return _TaskIds(ids, first=self.first)
        keys = self.keys if self.first is None else self.first + np.arange(n)
        codes = np.arange(n, len(ids))
        rank = np.argsort(more, kind="stable")
        if self.order is None and bool((rank == np.arange(len(rank))).all()) and (
                more[0] > keys[-1]):
            return _TaskIds(ids, np.concatenate([keys, more]))
        at = np.searchsorted(keys, more[rank])
        order = np.arange(n) if self.order is None else self.order
        return _TaskIds(ids, np.insert(keys, at, more[rank]), np.insert(order, at, codes[rank]))


def _integers(ids: list) -> np.ndarray | None:
    """``ids`` as int64 when every one is an integer (else None; text is rejected at its
    first element without a pass over the rest)."""
    if not len(ids) or not isinstance(ids[0], int) or isinstance(ids[0], bool):
        return None
    try:  # a C loop that refuses anything but integers (floats and text included)
        return np.frombuffer(array.array("q", ids), dtype=np.int64)
    except (TypeError, OverflowError):
        return None


class _Margins:
    """How far each task's most probable class is from changing, kept up to date by
    :meth:`DawidSkene.partial_fit`.

    When the parameters change, the log-odds of two classes of a task move by at most twice
    the sum, over its answers, of the largest change of its worker's log confusions for the
    answered label, plus twice the largest change of the log class prior; the most probable
    class stays so while that is less than the task's margin ``m`` (log-ratio of its two
    most probable classes). :meth:`moved` accumulates those changes over every M-step since
    the fit: per incidence column (``steps``, S), the largest of their ratios to a fixed
    per-column ``scale`` s (``total``, E) and the prior's (``prior``, Q). A task computed
    when they read S₀, E₀, Q₀ keeps ``reach = m/2 + row·S₀ + Q₀``, tested exactly against
    ``row·S + Q`` (O(its answers)), and ``loose = m/2 + σ·E₀ + Q₀`` (σ = row·s, its
    ``weight``), tested in O(1) against ``σ·E + Q``, which bounds the exact test: no column's
    step exceeds its scale times E's (E only counts columns with answers outside the tasks
    being re-estimated, the only columns of the tasks tested). Any fixed positive scale is
    correct; one over a column's smallest expected count (its answers of its least likely
    true class), a step's usual size, keeps the loose test nearly as tight as the exact
    one."""

    def __init__(self, weights: np.ndarray, loose: np.ndarray, reach: np.ndarray,
                 steps: np.ndarray, scale: np.ndarray):
        self.weights, self.loose, self.reach = weights, loose, reach
        self.steps, self.scale = steps, scale
        self.total = 0.0
        self.prior = 0.0

    @classmethod
    def start(cls, post: np.ndarray, incidence: sp.csr_matrix, counts: np.ndarray,
              ) -> _Margins:
        """The margins of a fit's posteriors ``post`` (its ``incidence`` and statistics'
        ``counts``): one pass over the answers."""
        scale = 1.0 / (1.0 + counts.min(axis=1))
        half = _log_margins(post) / 2
        return cls(incidence @ scale, half, half.copy(), np.zeros(len(scale)), scale)

    def grow(self, n_tasks: int, column: np.ndarray, n_columns: int) -> None:
        """Room for new tasks (to be settled) and new columns (a new worker's scale: one
        over its answers in that column, ``column`` being the new answers')."""
        more = n_tasks - len(self.weights)
        if more > 0:
            self.weights = np.concatenate([self.weights, np.zeros(more)])
            self.loose = np.concatenate([self.loose, np.full(more, np.inf)])
            self.reach = np.concatenate([self.reach, np.full(more, np.inf)])
        if n_columns > len(self.steps):
            count = np.bincount(column, minlength=n_columns)[len(self.steps):]
            self.steps = np.concatenate([self.steps, np.zeros(len(count))])
            self.scale = np.concatenate([self.scale, 1.0 / (1.0 + count)])

    def moved(self, before: Params, after: Params, watched: np.ndarray) -> None:
        """Account for the change from ``before`` to ``after`` (columns beyond ``before``'s
        are new workers', whose answers are all being re-estimated); ``watched``: the
        columns with answers in tasks not being re-estimated."""
        n = len(before.log_pi)
        step = np.abs(after.log_pi[:n] - before.log_pi).max(axis=1)
        self.steps[:n] += step
        self.total += float((step / self.scale[:n])[watched[:n]].max(initial=0.0))
        self.prior += float(np.abs(after.log_prior - before.log_prior).max())

    def suspects(self, skip: np.ndarray, n_threads: int = 1) -> np.ndarray:
        """The tasks (ascending, none of ``skip``) that the loose test cannot clear."""

        def part(a: int, b: int, *_) -> np.ndarray:
            bound = np.multiply(self.weights[a:b], self.total)
            bound += self.prior + _SLACK
            near = np.flatnonzero(bound >= self.loose[a:b]) + a
            return near[~skip[near]]

        return np.concatenate(_by_parts(len(self.weights), n_threads, part))

    def exceeded(self, tasks: np.ndarray, weighed: np.ndarray) -> np.ndarray:
        """Positions in ``tasks`` that the exact test cannot clear (``weighed``: their
        rows·S)."""
        return np.flatnonzero(weighed + (self.prior + _SLACK) >= self.reach[tasks])

    def settle(self, tasks: np.ndarray, post: np.ndarray, rows: sp.csr_matrix,
               added: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``tasks`` now have posteriors ``post`` (their answers: ``rows``) under the latest
        parameters; ``added`` (row in ``tasks``, column) are the answers they received since
        their weights were last set. Returns their most probable classes."""
        best, top, second = _top_two(post)
        half = np.log(np.maximum(top, TINY) / np.maximum(second, TINY)) / 2
        if added is not None:
            row, column = added
            self.weights[tasks] += np.bincount(row, self.scale[column], minlength=len(tasks))
        weights = self.weights[tasks]
        self.loose[tasks] = half + weights * self.total + self.prior
        self.reach[tasks] = half + rows @ self.steps + self.prior
        return best


def _log_margins(post: np.ndarray) -> np.ndarray:
    """Per row, the log-ratio of its two largest probabilities (never more than the exact
    one when the smaller underflows; about 690 with one class)."""
    if post.shape[1] == 2:  # the usual case, in fewer passes
        return np.abs(np.log(np.maximum(post[:, 0], TINY) / np.maximum(post[:, 1], TINY)))
    _, top, second = _top_two(post)
    return np.log(np.maximum(top, TINY) / np.maximum(second, TINY))


def _top_two(post: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the first most probable class, its probability and the second largest
    probability (zero with one class). A pass per class: row-wise reductions over a few
    classes are slow in numpy."""
    if post.shape[1] == 2:
        first, other = post[:, 0], post[:, 1]
        return (other > first).astype(np.int64), np.maximum(first, other), np.minimum(
            first, other)
    best = np.zeros(len(post), dtype=np.int64)
    top = post[:, 0].copy()
    second = np.zeros(len(post))
    for c in range(1, post.shape[1]):
        p = post[:, c]
        better = p > top
        second = np.where(better, top, np.maximum(second, p))
        best[better] = c
        top = np.where(better, p, top)
    return best, top, second


def _take_rows(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]``, column by column (faster for the column-major posteriors)."""
    return np.stack([a[:, c][rows] for c in range(a.shape[1])], axis=1)


def _put_rows(a: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``a[rows] = values``, column by column."""
    for c in range(a.shape[1]):
        a[:, c][rows] = values[:, c]


class _Appended(Annotations):
    """Annotations held as segments (the fitted answers, then each batch of
    :meth:`DawidSkene.partial_fit`, in the final coding), joined only when read:
    ``partial_fit`` itself reads the grouped form it keeps in :class:`FitState`."""

    def __init__(self, parts: list, tasks: list, workers: list, classes: list,
                 worker_counts: np.ndarray):
        self.parts = parts  # [(task, worker, label) codes]
        self.tasks, self.workers, self.classes = tasks, workers, classes
        self.worker_counts = worker_counts

    def __len__(self) -> int:
        return sum(len(part[0]) for part in self.parts)

    @cached_property
    def task(self) -> np.ndarray:
        return np.concatenate([part[0] for part in self.parts])

    @cached_property
    def worker(self) -> np.ndarray:
        return np.concatenate([part[1] for part in self.parts])

    @cached_property
    def label(self) -> np.ndarray:
        return np.concatenate([part[2] for part in self.parts])


def _parts(ann: Annotations) -> list:
    return list(ann.parts) if isinstance(ann, _Appended) else [(ann.task, ann.worker,
                                                                 ann.label)]


def _in_kind(added: list, known) -> list:
    """New ids written as the known ones are: ids are matched as text, so ``"7"`` from a
    file is the fitted model's ``7``; a new ``"8"`` is then ``8`` (and a new ``8`` among text
    ids ``"8"``, a new ``8.0`` among integer ids ``8``), not one id of another type among
    them, which outputs would mix."""
    if not added or not len(known):
        return added
    first = known[0]
    if isinstance(first, str) and all(isinstance(v, (int, np.integer)) for v in added):
        return [str(v) for v in added]
    if isinstance(first, (int, np.integer)) and not isinstance(first, bool) and (
            all(_int64_text(v) for v in added) or all(_whole_float(v) for v in added)):
        return [int(v) for v in added]
    return added


def _int64_text(v) -> bool:
    """Text that an int64 writes exactly so (not "007", not "²")."""
    return isinstance(v, str) and bool(_INT64_TEXT.fullmatch(v)) and str(int(v)) == v \
        and -2**63 <= int(v) < 2**63


def _whole_float(v) -> bool:
    """A float of an int64's value (a float column's 300.0 is task 300)."""
    return isinstance(v, (float, np.floating)) and float(v).is_integer() \
        and -2**63 <= v < 2**63


_INT64_TEXT = re.compile(r"-?[0-9]{1,19}")  # ASCII digits only: "²".isdigit() is True


def _extend(ids: list, more: list, index: pd.Index) -> tuple[list, np.ndarray, pd.Index]:
    """``ids`` (``index`` as pd.Index) with the unseen ids of ``more`` appended, each of
    ``more``'s position, and the extended pd.Index."""
    position = positions(ids, more, index)
    unseen = position < 0
    position[unseen] = len(ids) + np.arange(int(unseen.sum()))
    added = _in_kind(np.asarray(more, dtype=object)[unseen].tolist(), ids)
    extended = index.append(pd.Index(added)) if added else index
    return list(ids) + added, position, extended


MIN_PART = 1 << 13  # tasks: below this a thread costs more than it saves


def _by_parts(n: int, n_threads: int, run: Callable, row: np.ndarray | None = None) -> list:
    """``run(a, b, i, j)`` on consecutive parts [a, b) of ``n`` tasks, one part a thread (at
    least ``MIN_PART`` tasks each), in order; [i, j) are the part's entries of ``row`` (task
    positions, ascending; 0, 0 without it). numpy's passes over large arrays release the GIL,
    so ``partial_fit``'s steps over the touched tasks use the cores the E-step uses."""
    parts = max(1, min(n_threads, n // MIN_PART))
    cuts = np.linspace(0, n, parts + 1).astype(np.int64)
    ends = np.zeros(parts + 1, np.int64) if row is None else np.searchsorted(row, cuts)
    spans = [(int(cuts[p]), int(cuts[p + 1]), int(ends[p]), int(ends[p + 1]))
             for p in range(parts)]
    if parts == 1:
        return [run(*spans[0])]
    pool = thread_pool(n_threads)
    rest = [pool.submit(run, *span) for span in spans[1:]]
    try:
        first = run(*spans[0])
    finally:  # no part outlives the call, even when one fails
        wait(rest)
    return [first] + [future.result() for future in rest]


def _gathered_in_parts(m: sp.csr_matrix, rows: np.ndarray, groups: tuple,
                       n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_gathered`, its rows shared by ``n_threads`` threads and the parts joined."""

    def part(a: int, b: int, *_) -> tuple[np.ndarray, np.ndarray]:
        mine = []
        for row, column in groups:
            i, j = np.searchsorted(row, (a, b))
            mine.append((row[i:j] - a, column[i:j]))
        return _gathered(m, rows[a:b], tuple(mine))

    parts = _by_parts(len(rows), n_threads, part)
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [int(indptr[-1]) for indptr, _ in parts[:-1]])
    indptr = np.concatenate([parts[0][0][:1]] + [part_indptr[1:] + offset for (
        part_indptr, _), offset in zip(parts, offsets, strict=True)])
    return indptr, np.concatenate([indices for _, indices in parts])


def _gathered(m: sp.csr_matrix, rows: np.ndarray, groups: tuple = ()
              ) -> tuple[np.ndarray, np.ndarray]:
    """``indptr`` and ``indices`` of the ``rows`` (ascending) of ``m`` (a row past its last
    is empty), each followed by the entries of ``groups``, each group a pair (row: position
    in ``rows``, ascending; column) appended after the previous groups'. O(those entries),
    with no sort."""
    n = len(rows)
    inside = rows[:int(np.searchsorted(rows, m.shape[0]))]
    start = m.indptr[inside].astype(np.int64)
    own = np.zeros(n, dtype=np.int64)
    own[:len(inside)] = m.indptr[inside + 1] - start
    more = [np.bincount(row, minlength=n) for row, _ in groups]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sum(more, own), out=indptr[1:])
    out = np.empty(indptr[-1], dtype=m.indices.dtype)
    length = own[:len(inside)]
    before = np.cumsum(length) - length  # where each row's own entries start among them
    source = np.repeat(start - before, length) + np.arange(int(length.sum()))
    if not groups:
        out[:] = m.indices[source]
        return indptr, out
    theirs = np.ones(len(out), dtype=bool)  # the rows' own entries, then the groups'
    end = indptr[:-1] + own
    placed = []
    for (row, column), count in zip(groups, more, strict=True):
        at = np.repeat(end - (np.cumsum(count) - count), count) + np.arange(len(row))
        theirs[at] = False
        placed.append((at, column))
        end = end + count
    out[theirs] = m.indices[source]
    for at, column in placed:
        out[at] = column
    return indptr, out


def _csr(indptr: np.ndarray, indices: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """The 0/1 CSR matrix of these arrays, attached without scipy's copies and checks."""
    index = np.int32 if max(len(indices), shape[1]) < 2**31 else np.int64
    m = sp.csr_matrix(shape, dtype=np.float64)
    m.indptr = indptr.astype(index, copy=False)
    m.indices = indices.astype(index, copy=False)
    m.data = np.ones(len(indices))
    return m


def _repeats(rows: sp.csr_matrix, k: int, row: np.ndarray, worker: np.ndarray,
             ) -> np.ndarray:
    """The new answers (``row``: their task's row of ``rows``, ascending; ``worker``) whose
    worker already answered that task (``rows`` holds each task's earlier answers followed
    by the new ones). A 64-bit filter per task (bit ``worker mod 64`` of every earlier
    answer) clears most new answers in a few passes over the answers; the rest are compared
    with their task's earlier answers one position at a time, or, where a task holds very
    many, matched by sorting (task, worker) keys."""
    indptr = rows.indptr.astype(np.int64)
    fresh = np.bincount(row, minlength=rows.shape[0])
    own = np.diff(indptr) - fresh
    earlier = own[row]
    # per task, the OR of its earlier answers' worker bits (segments alternate between a
    # task's earlier answers and its new ones; every task has a new one)
    bits = _BITS[_bucket(rows.indices // k)]
    cuts = np.empty(2 * rows.shape[0], dtype=np.int64)
    cuts[0::2], cuts[1::2] = indptr[:-1], indptr[:-1] + own
    seen = np.where(own > 0, np.bitwise_or.reduceat(bits, cuts)[0::2], 0) if len(row) else (
        bits[:0])
    maybe = np.flatnonzero(seen[row] & _BITS[_bucket(worker)])
    start, earlier, worker_ = indptr[row[maybe]], earlier[maybe], worker[maybe]
    found = []
    many = earlier > 64
    if many.any():
        big = np.unique(row[maybe[many]])
        length = (np.diff(indptr) - fresh)[big]
        at = np.repeat(indptr[big] - (np.cumsum(length) - length), length) + np.arange(
            int(length.sum()))
        width = int(max(worker.max(), rows.indices.max() // k)) + 1
        known = np.repeat(big, length) * width + rows.indices[at] // k
        mine = maybe[many]
        found.append(mine[_member(row[mine] * width + worker[mine], known)])
        earlier = np.where(many, 0, earlier)
    active = np.flatnonzero(earlier > 0)
    j = 0
    while len(active):
        hit = rows.indices[start[active] + j] // k == worker_[active]
        if hit.any():
            found.append(maybe[active[hit]])
        j += 1
        active = active[earlier[active] > j]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


_BITS = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))


def _bucket(codes: np.ndarray) -> np.ndarray:
    """A hash of non-negative codes into 0…63 (Fibonacci hashing: ids that differ by a
    stride still spread)."""
    return (codes.astype(np.uint32, copy=False) * np.uint32(2654435761)) >> np.uint32(26)


def _member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` by sorting (numpy's hash-based unique is slow on wide int64
    keys)."""
    pool = np.sort(pool)
    at = np.minimum(np.searchsorted(pool, values), max(len(pool) - 1, 0))
    return (len(pool) > 0) & (pool[at] == values) if len(pool) else np.zeros(len(values), bool)


def _posteriors(rows: sp.csr_matrix, params: Params) -> np.ndarray:
    """Exact posteriors of the tasks whose answers are ``rows`` under ``params``."""
    log_joint = np.asarray(rows @ params.log_pi) + params.log_prior
    log_joint -= log_joint.max(axis=1, keepdims=True)
    post = np.exp(log_joint)
    return post / post.sum(axis=1, keepdims=True)
