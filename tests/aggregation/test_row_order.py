"""Seeded methods give the same labels whatever the order of the answer rows."""

from __future__ import annotations

import pytest

from crowdlearn.aggregation import KOS, MMSR
from tests.conftest import make_crowd


@pytest.mark.parametrize("model", [KOS(seed=1), MMSR(seed=1)], ids=["kos", "mmsr"])
def test_labels_do_not_depend_on_the_row_order(model):
    ann, _, _ = make_crowd(n_tasks=400, n_workers=30, k=2, r=4, seed=11, hammers=0.5)
    frame = ann.to_frame()
    reference = type(model)(**model.get_params()).fit(frame).predict()
    for seed in range(3):
        shuffled = frame.sample(frac=1, random_state=seed)
        labels = type(model)(**model.get_params()).fit(shuffled).predict()
        assert (labels.reindex(reference.index) == reference).all()
