"""The small example crowd shipped inside the package, so that every command works offline."""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

from crowdlearn.annotations import Annotations


def load_example_crowd() -> tuple[Annotations, pd.Series]:
    """600 product reviews × 5 sentiment answers from 20 simulated workers (8 careful,
    6 hasty, 4 random clickers, 2 who answer 'neutral' when unsure), and the true labels.

    Made by ``python -m benchmarks.synthetic --example`` (seed 7).
    """
    folder = files("crowdlearn") / "data"
    with (folder / "example_answers.csv").open() as fh:
        ann = Annotations.from_frame(pd.read_csv(fh), source="example_answers.csv")
    with (folder / "example_truth.csv").open() as fh:
        truth = pd.read_csv(fh).set_index("task")["label"]
    return ann, truth
