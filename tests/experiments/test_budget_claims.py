"""The MBEM fixed-budget claims on digits (issue 4), with the demo's default settings:
m=20 hammer-spammer workers (γ=0.35), budget 1,200, r ∈ {1, 3, 5}, 5 seeds, MLP.
Slow (about 5 minutes): run with ``pytest -m slow``.

The claims hold for MBEM with one accuracy per worker (``mbem-onecoin``). The official
code's variant (a K × K matrix per worker, ``mbem``) reaches the fixed-budget claim and beats
the baselines at r = 1 and 3 but not the +10 points nor EM at r = 5 (docs/results.md): with
60 labels per worker its matrices are estimated from a handful of answers per row."""

from __future__ import annotations

import pytest

from crowdlearn.experiments import BudgetSettings, run_budget


@pytest.mark.slow
def test_mbem_budget_claims_on_digits(tmp_path):
    results = run_budget(BudgetSettings(), tmp_path, log=lambda _: None)
    mean = results.groupby(["method", "redundancy"])["accuracy"].mean()
    for mbem in ("mbem-onecoin",):
        # MBEM at r=1 at least 10 points above MV at r=1
        assert mean[mbem][1] >= mean["mv"][1] + 0.10
        # MBEM at or above MV, soft MV and EM at every r
        for r in (1, 3, 5):
            for other in ("mv", "soft-mv", "ds"):
                assert mean[mbem][r] >= mean[other][r], (mbem, other, r)
        # a fixed budget is best spent on one label per item
        assert mean[mbem].idxmax() == 1
    # the official variant: the fixed-budget claim and the baselines at r = 1, 3
    assert mean["mbem"].idxmax() == 1
    for r in (1, 3):
        assert all(mean["mbem"][r] >= mean[o][r] for o in ("mv", "soft-mv", "ds"))
