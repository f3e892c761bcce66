"""CPU threads for a block of work: torch's and the numerical libraries' (BLAS, OpenMP).

On a small machine shared with other jobs, one thread per core in every process makes them
fight over cores (a fit that takes 15 s with one thread took 240 s with two while another job
ran); learners and sweeps therefore let the caller set the count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` threads in torch and in the BLAS/OpenMP pools numpy and
    scipy use (``None``: leave every setting as it is); the previous counts are restored
    after."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        with threadpool_limits(limits=int(n)):
            yield
    finally:
        torch.set_num_threads(before)
