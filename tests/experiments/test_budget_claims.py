"""The MBEM fixed-budget claims on digits (issue 4), with the demo's default settings:
m=20 hammer-spammer workers (γ=0.35), budget 1,200, r ∈ {1, 3, 5}, 5 seeds, MLP.
Slow (a few minutes): run with ``pytest -m slow``."""

from __future__ import annotations

import pytest

from crowdlearn.experiments import BudgetSettings, run_budget


@pytest.mark.slow
def test_mbem_budget_claims_on_digits(tmp_path):
    results = run_budget(BudgetSettings(), tmp_path, log=lambda _: None)
    mean = results.groupby(["method", "redundancy"])["accuracy"].mean()
    # MBEM at r=1 at least 10 points above MV at r=1
    assert mean["mbem"][1] >= mean["mv"][1] + 0.10
    # MBEM at or above MV, soft MV and EM at every r
    for r in (1, 3, 5):
        for other in ("mv", "soft-mv", "em"):
            assert mean["mbem"][r] >= mean[other][r], (other, r)
    # a fixed budget is best spent on one label per item
    assert mean["mbem"].idxmax() == 1
