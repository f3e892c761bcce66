"""Aggregation beyond one process's memory: answers streamed from Parquet on one machine
(:func:`aggregate_parquet`) or spread over a Dask cluster (:func:`aggregate_dask`, needs
``pip install crowdlearn[dask]``). Both run the in-memory EM's M-steps and E-step kernel on
chunks of whole tasks, so the three engines agree (see docs/scale.md)."""

from crowdlearn.scale.streamed import ScaleResult, aggregate_parquet


def aggregate_dask(*args, **kwargs):
    """See :func:`crowdlearn.scale.distributed.aggregate_dask` (imports Dask on call)."""
    from crowdlearn.scale.distributed import aggregate_dask as run

    return run(*args, **kwargs)


__all__ = ["ScaleResult", "aggregate_dask", "aggregate_parquet"]
