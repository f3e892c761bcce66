"""The inferred labels a fit writes are the targets the network was trained on, ties
included."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crowdlearn import Annotations
from crowdlearn.aggregation import MajorityVote
from crowdlearn.features import Features
from crowdlearn.model_folder import train, training_labels


def test_majority_vote_labels_follow_the_seeds_tie_break():
    rng = np.random.default_rng(0)
    n = 200
    ids = np.array([f"i{j}" for j in range(n)])
    # two answers an item, different on most: every such item is a tie
    first, second = rng.integers(0, 3, n), rng.integers(0, 3, n)
    answers = Annotations.from_frame(pd.DataFrame({
        "task": np.repeat(ids, 2), "worker": np.tile(["a", "b"], n),
        "label": np.column_stack([first, second]).ravel()}))
    features = Features(rng.normal(size=(n, 4)).astype(np.float32), ids, "features")
    tied = first != second
    shown = {}
    for seed in (0, 1):
        model = train("mv", features, answers=answers, model="head", epochs=1, seed=seed,
                      n_threads=1)
        table = training_labels(model).set_index("id")
        votes = MajorityVote(seed=seed).fit(answers).predict()
        assert (table["label"] == votes.reindex(table.index)).all()  # the training targets
        shown[seed] = table["label"]
    assert (shown[0][tied] != shown[1][tied]).any()  # the tie-break follows the seed
