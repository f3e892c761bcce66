"""The worker plot is the same file, byte for byte, for the same model."""

from __future__ import annotations

import pytest

from crowdlearn import DawidSkene
from crowdlearn.aggregation.report import plot_workers
from tests.conftest import make_crowd


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_same_model_same_bytes(tmp_path, suffix):
    ann, _, _ = make_crowd(n_tasks=100, n_workers=8, k=3, seed=4)
    model = DawidSkene().fit(ann)
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    plot_workers(model, first)
    plot_workers(model, second)
    assert first.read_bytes() == second.read_bytes()  # no date, no random ids


@pytest.mark.parametrize("name", ["DawidSkene", "IBCC", "EBCC", "OneCoinDawidSkene"])
def test_worker_table_gives_per_class_recall_where_there_are_matrices(name, tmp_path):
    import warnings

    import numpy as np

    from crowdlearn import aggregation
    from crowdlearn.aggregation.report import worker_table

    ann, _, _ = make_crowd(n_tasks=150, seed=2)
    options = {"n_seeds": 1} if name == "EBCC" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(aggregation, name)(**options).fit(ann)
    table = worker_table(model)
    recall = [c for c in table.columns if c.startswith("recall_")]
    if name == "OneCoinDawidSkene":  # one accuracy a worker: no matrix to read recall from
        assert recall == []
        return
    assert recall == [f"recall_{c}" for c in model.classes_]
    np.testing.assert_allclose(table[recall].to_numpy(),
                               np.einsum("wkk->wk", model.confusion_))
    plot_workers(model, tmp_path / "w.png")  # with the matrices of the busiest workers
    assert (tmp_path / "w.png").stat().st_size > 0
