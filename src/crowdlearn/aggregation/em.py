"""The vectorised EM kernel shared by every Dawid–Skene-type label model.

Every such model is segment sums over the answers plus tiny dense updates:

* E-step: ``log_post[t] = log q + log task_prior[t] + Σ_{answers (t, w, l)} log π[w, :, l]``,
  i.e. the sparse product ``incidence @ log_pi`` (incidence: T × W·K, ``log_pi``: W·K × K);
* M-step sufficient statistics: ``counts[w·K + l, k] = Σ_{answers (t, w, l)} post[t, k]``,
  i.e. ``incidence.T @ post``, plus the class totals ``Σ_t post[t]``.

Both are computed in one pass over row chunks of the incidence matrix, so the statistics are
additive over chunks (the same code serves in-memory and chunked data) and the chunks run on a
small thread pool (scipy's sparse products and numpy's ufuncs release the GIL).
The log-likelihood comes from the E-step normaliser, never from a separate pass.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

TINY = 1e-300  # the floor of a probability before its log
CHUNK_TASKS = 1 << 17
MIN_CHUNK_TASKS = 1 << 13


@dataclass
class Stats:
    """Sufficient statistics of one E-step: counts (W·K × K), class totals (K), log-likelihood."""

    counts: np.ndarray
    class_totals: np.ndarray
    log_likelihood: float

    def __add__(self, other: Stats) -> Stats:
        return Stats(self.counts + other.counts, self.class_totals + other.class_totals,
                     self.log_likelihood + other.log_likelihood)


@dataclass
class Params:
    """Model parameters as the E-step needs them: log class prior (K) and log π (W·K × K),
    where row ``w·K + l``, column ``k`` holds ``log P(worker w answers l | true class k)``."""

    log_prior: np.ndarray
    log_pi: np.ndarray
    log_penalty: float = 0.0  # log-density of the parameters' smoothing prior (MAP objective)


def stats_from_posteriors(incidence: sp.csr_matrix, post: np.ndarray) -> Stats:
    """M-step statistics of given posteriors (used for the initial M-step)."""
    return Stats(np.asarray(incidence.T @ post), post.sum(axis=0), 0.0)


class EStep:
    """Runs E-steps over row chunks of the incidence matrix on a small thread pool.

    ``log_task_prior`` (T × K, optional) enters every E-step; ``gold`` (task codes, class codes)
    clamps those tasks' posteriors to one-hot.
    """

    def __init__(self, incidence: sp.csr_matrix, n_classes: int,
                 log_task_prior: np.ndarray | None = None,
                 gold: tuple[np.ndarray, np.ndarray] | None = None,
                 chunk: int | None = None, n_threads: int | None = None) -> None:
        self.k, self.log_task_prior = n_classes, log_task_prior
        n = incidence.shape[0]
        threads = default_threads(n_threads)
        if chunk is None:  # enough chunks to keep every thread busy, none too large for cache
            chunk = int(min(CHUNK_TASKS, max(MIN_CHUNK_TASKS, -(-n // (2 * threads)))))
        self.blocks = [(a, min(a + chunk, n), row_block(incidence, a, min(a + chunk, n)))
                       for a in range(0, n, chunk)]
        self.n_threads = min(threads, len(self.blocks))
        self._pool = thread_pool(threads) if self.n_threads > 1 else None
        # column-major: row-wise argmax and sums over the few classes stay fast
        self.posteriors = np.empty((n, n_classes), dtype=np.float64, order="F")
        self.gold_class = None
        if gold is not None and len(gold[0]):
            self.gold_class = np.full(n, -1, dtype=np.int64)
            self.gold_class[gold[0]] = gold[1]

    def __call__(self, params: Params) -> Stats:
        """E-step with ``params``: fills :attr:`posteriors` and returns the next M-step's
        statistics together with the log-likelihood of ``params``."""
        if self._pool is not None:
            parts = list(self._pool.map(lambda b: self._chunk(params, *b), self.blocks))
        else:
            parts = [self._chunk(params, *b) for b in self.blocks]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def close(self) -> None:
        """Release the worker threads (they belong to :func:`thread_pool`, which keeps them)."""
        self._pool = None

    def __enter__(self) -> EStep:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _chunk(self, params: Params, a: int, b: int, block: sp.csr_matrix) -> Stats:
        prior = None if self.log_task_prior is None else self.log_task_prior[a:b]
        gold = None if self.gold_class is None else self.gold_class[a:b]
        post, stats = block_estep(block, params, prior, gold)
        self.posteriors[a:b] = post.T
        return stats


def block_estep(block: sp.csr_matrix, params: Params, log_task_prior: np.ndarray | None = None,
                gold_class: np.ndarray | None = None) -> tuple[np.ndarray, Stats]:
    """The E-step of one block of tasks (incidence rows): their posteriors, class-major
    (K × tasks), and their share of the next M-step's statistics. The one kernel every engine
    runs (in memory, streamed from disk, on Dask workers). ``gold_class`` (−1: unknown)
    clamps tasks to a known class."""
    # class-major (K × tasks) layout: reductions over the few classes become fast
    # element-wise operations across rows instead of short inner loops
    log_joint = np.ascontiguousarray((block @ params.log_pi).T)
    log_joint += params.log_prior[:, None]
    if log_task_prior is not None:
        log_joint += log_task_prior.T
    top = log_joint.max(axis=0)
    post = np.exp(log_joint - top)
    norm = post.sum(axis=0)
    post /= norm
    row_ll = np.log(norm) + top
    if gold_class is not None:
        rows = np.flatnonzero(gold_class >= 0)
        if len(rows):
            cls = gold_class[rows]
            post[:, rows] = 0.0
            post[cls, rows] = 1.0
            row_ll[rows] = log_joint[cls, rows]
    counts = np.asarray(block.T @ np.ascontiguousarray(post.T))
    return post, Stats(counts, post.sum(axis=1), float(row_ll.sum()))


def run_em(estep: EStep, stats: Stats, m_step: Callable[[Stats], Params], *,
           n_answers: int, max_iter: int, tol: float,
           ) -> tuple[Params, list[float], int, Stats]:
    """Alternate M- and E-steps from initial statistics until the objective per answer
    (log-likelihood plus the parameters' log smoothing prior) gains less than ``tol``.

    Returns the final parameters (those that produced ``estep.posteriors``), the objective
    history, the number of iterations and the statistics of the final posteriors.
    """
    history: list[float] = []
    params = m_step(stats)
    for it in range(max(max_iter, 1)):
        stats = estep(params)
        history.append((stats.log_likelihood + params.log_penalty) / n_answers)
        converged = len(history) > 1 and history[-1] - history[-2] < tol
        if converged or it + 1 >= max_iter:
            break
        params = m_step(stats)
    return params, history, len(history), stats


def default_threads(n_threads: int | None) -> int:
    """``n_threads``, or by default the machine's cores, at most 8 (beyond that the passes
    over memory stop getting faster)."""
    return n_threads or min(os.cpu_count() or 1, 8)


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def thread_pool(n_threads: int) -> ThreadPoolExecutor:
    """The process's pool of ``n_threads`` threads, started at its first use and kept:
    starting threads anew for every fit and every step of ``partial_fit`` cost more than
    some of those steps. Callers never wait inside a pool's task for another task, so
    sharing one pool cannot deadlock. A forked child starts its own (threads do not survive
    a fork)."""
    with _pools_lock:
        pool = _pools.get(n_threads)
        if pool is None:
            pool = _pools[n_threads] = ThreadPoolExecutor(
                n_threads, thread_name_prefix=f"crowdlearn-{n_threads}")
        return pool


def _forget_pools() -> None:
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def row_block(m: sp.csr_matrix, a: int, b: int) -> sp.csr_matrix:
    """Rows a..b of a CSR matrix sharing its index and data arrays. (The constructor would
    copy slices of a larger array, so the arrays are attached to an empty matrix.)"""
    s, e = m.indptr[a], m.indptr[b]
    block = sp.csr_matrix((b - a, m.shape[1]), dtype=m.dtype)
    block.indices, block.data = m.indices[s:e], m.data[s:e]
    block.indptr = (m.indptr[a:b + 1] - s).astype(m.indices.dtype, copy=False)
    return block
