"""Out-of-fold probabilities (``fit --folds``, ``model_folder.out_of_fold``): each item's
probabilities from a model trained without it, for finding label issues and relabelling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crowdlearn.errors import InputError
from crowdlearn.features import Features
from crowdlearn.model_folder import out_of_fold, train
from tests.test_cli_models import (
    _features,
    crowd_files,  # noqa: F401 (a fixture)
    run,
)

FAST = dict(epochs=4, batch_size=32, n_threads=1)


def _noisy(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    noisy = np.where(rng.random(n) < 0.2, (y + 1) % 3, y)
    ids = np.array([f"x{i:03d}" for i in range(n)], dtype=object)
    return Features(_features(y, seed), ids, "X"), pd.Series(noisy, index=ids), y


def test_each_part_is_predicted_by_a_model_trained_without_it(monkeypatch):
    features, labels, _ = _noisy()
    model = train("ce", features, labels=labels, **FAST)
    seen = []
    original = type(model.learner).fit

    def recorded(self, X, y):  # the items each fold's learner is trained on
        seen.append({tuple(row) for row in np.round(X, 9)})
        return original(self, X, y)

    monkeypatch.setattr(type(model.learner), "fit", recorded)
    table = out_of_fold(model, 4, seed=1)
    assert len(seen) == 4 and sum(len(s) for s in seen) == 3 * len(labels)
    assert list(table.columns) == ["id", "label", "confidence", "proba_0", "proba_1",
                                   "proba_2"]
    assert table["id"].tolist() == list(model.ids)
    np.testing.assert_allclose(table.filter(like="proba_").sum(axis=1), 1.0, atol=1e-6)
    # every item lies in exactly one part, and that part's model never saw it
    rows = {tuple(row) for row in np.round(model.X, 9)}
    assert all(len(rows - s) == len(rows) // 4 or len(rows - s) == -(-len(rows) // 4)
               for s in seen)
    monkeypatch.undo()
    again = out_of_fold(model, 4, seed=1)
    pd.testing.assert_frame_equal(again, table)  # seeded: the same parts, the same fits


def test_a_class_missing_from_a_part_gets_zero():
    features, labels, _ = _noisy(60)
    labels.iloc[0] = 7  # a class given once: absent from the training items of one part
    model = train("ce", features, labels=labels, **FAST)
    table = out_of_fold(model, 3)
    assert "proba_7" in table.columns
    row = table.set_index("id").loc[labels.index[0]]
    assert row["proba_7"] == 0.0  # its own part trained without the only 7


@pytest.mark.parametrize("folds", [1, 0, 2.5, True, 10_000])
def test_bad_folds(folds):
    features, labels, _ = _noisy(40)
    model = train("ce", features, labels=labels, epochs=1, n_threads=1)
    with pytest.raises(InputError, match="folds must be an integer from 2 to the 40"):
        out_of_fold(model, folds)


def test_fit_folds_writes_oof_for_label_issues(crowd_files):  # noqa: F811
    folder, y = crowd_files
    result = run("fit", "--answers", folder / "answers.csv", "--features",
                 folder / "features.csv", "--method", "mv", "--epochs", "3", "--folds", "3",
                 "--threads", "1", "-o", folder / "model")
    assert result.exit_code == 0, result.output
    assert "fold 3 of 3" in result.output
    oof = pd.read_csv(folder / "model" / "oof.csv")
    assert len(oof) == 240 and {"proba_0", "proba_1", "proba_2"} <= set(oof.columns)
    summary = json.loads((folder / "model" / "summary.json").read_text())
    assert summary["out_of_fold"] == {"folds": 3, "file": "oof.csv"}
    truth = y[oof["id"].str.removeprefix("item").astype(int)]
    assert (oof["label"].to_numpy() == truth).mean() > 0.6  # chance: 1/3
    labels = pd.read_csv(folder / "model" / "labels.csv")[["id", "label"]]
    result = run("label-issues", "--labels", folder / "model" / "labels.csv", "--proba",
                 folder / "model" / "oof.csv", "-o", folder / "issues.csv")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(folder / "issues.csv")) == len(labels)
    assert run("fit", "--answers", folder / "answers.csv", "--features",
               folder / "features.csv", "--method", "mv", "--folds", "1", "-o",
               folder / "m1").exit_code == 2
    too_many = run("fit", "--answers", folder / "answers.csv", "--features",
                   folder / "features.csv", "--method", "mv", "--folds", "241", "-o",
                   folder / "m241")
    assert too_many.exit_code == 2
    assert "folds must be an integer from 2 to the 240 training items" in too_many.output
    assert "trained" not in too_many.output and not (folder / "m241").exists()
