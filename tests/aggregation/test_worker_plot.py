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
