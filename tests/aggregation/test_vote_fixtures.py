"""The vote family against crowd-kit's own expected results on its toy fixture (crowd-kit
1.4.2, tests/aggregation/data_wawa.py, data_zbs.py, data_gold_mv.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crowdlearn.aggregation import GoldMajorityVote, Wawa, ZeroBasedSkill
from tests.aggregation.test_glad import TOY, TOY_TRUTH

SKILLS = {"wawa": [0.6, 0.8, 1.0, 0.4, 0.8], "zbs": [0.6, 0.8, 1.0, 0.4, 0.8],
          "gold": [0.5, 1.0, 1.0, 0.5, 0.0]}
# P(yes) per task t1..t5
YES = {"wawa": [0.461538, 0.666667, 0.277778, 1.0, 0.166667],
       "gold": [0.75, 0.833333, 0.333333, 1.0, 0.166667]}


def _frame() -> pd.DataFrame:
    return TOY  # columns worker, task, label: the names are what counts


def test_wawa_and_zero_based_skill_match_crowdkit():
    frame = _frame()
    for name, model in (("wawa", Wawa(tie_break="first")),
                        ("zbs", ZeroBasedSkill(tie_break="first"))):
        model.fit(frame)
        assert list(model.predict()) == ["no", "yes", "no", "yes", "no"]
        skills = model.skills().reindex(["w1", "w2", "w3", "w4", "w5"])
        np.testing.assert_allclose(skills, SKILLS[name], atol=1e-5 if name == "wawa" else 2e-3)
    np.testing.assert_allclose(Wawa(tie_break="first").fit(frame).predict_proba()["yes"],
                               YES["wawa"], atol=1e-6)


def test_gold_majority_vote_matches_crowdkit():
    model = GoldMajorityVote(tie_break="first").fit(_frame(), gold={"t1": "yes", "t2": "yes"})
    np.testing.assert_allclose(model.skills().reindex(["w1", "w2", "w3", "w4", "w5"]),
                               SKILLS["gold"])
    assert dict(model.predict()) == TOY_TRUTH
    # crowd-kit leaves gold tasks to the vote; ours holds them at their known label
    np.testing.assert_allclose(model.predict_proba()["yes"].iloc[2:], YES["gold"][2:],
                               atol=1e-6)
