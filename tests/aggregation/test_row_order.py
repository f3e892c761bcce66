"""Seeded methods give the same labels whatever the order of the answer rows."""

from __future__ import annotations

import pandas as pd
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


def test_kos_with_repeated_answers_kept_is_order_free_too():
    ann, _, _ = make_crowd(n_tasks=300, n_workers=20, k=2, r=4, seed=12, hammers=0.5)
    frame = ann.to_frame()
    again = frame.iloc[::8].assign(label=lambda f: f["label"].map({0: 1, 1: 0}))
    both = pd.concat([frame, again], ignore_index=True)
    reference = KOS(seed=2).fit(both, keep="all").predict()
    for seed in range(3):
        labels = KOS(seed=2).fit(both.sample(frac=1, random_state=seed), keep="all").predict()
        assert (labels.reindex(reference.index) == reference).all()
