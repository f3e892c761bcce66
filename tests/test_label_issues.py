"""Ranking label issues from any model's probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from crowdlearn import InputError
from crowdlearn.label_issues import class_thresholds, label_issues_from_proba


def _noisy_proba(n=400, k=4, flip=0.2, seed=0):
    """A model that is right with probability ~0.8 on the true class; labels flipped at
    random for a fraction of items."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 3
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    wrong = rng.random(n) < flip
    given = np.where(wrong, (y + rng.integers(1, k, n)) % k, y)
    return given, P, wrong


@pytest.mark.parametrize("score", ["self_confidence", "normalized_margin"])
def test_flipped_labels_rank_first(score):
    given, P, wrong = _noisy_proba()
    table = label_issues_from_proba(given, P, score=score)
    k = int(wrong.sum())
    assert wrong[table["id"].to_numpy()[:k]].mean() > 0.85
    assert list(table.columns) == ["id", "given_label", "suggested_label", "label_quality",
                                   "is_label_issue"]
    assert table["label_quality"].is_monotonic_increasing
    flagged = table.sort_values("id")["is_label_issue"].to_numpy()
    assert wrong[flagged].mean() > 0.85 and flagged[wrong].mean() > 0.6


def test_confident_joint_rule_by_hand():
    # class thresholds: t0 = mean(0.9, 0.3) = 0.6, t1 = 0.8
    P = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    given = np.array(["a", "a", "b"])
    np.testing.assert_allclose(class_thresholds(np.array([0, 0, 1]), P), [0.6, 0.8])
    table = label_issues_from_proba(given, P, classes=["a", "b"], ids=["x", "y", "z"])
    issues = dict(zip(table["id"], table["is_label_issue"], strict=True))
    assert issues == {"x": False, "y": False, "z": False}  # 0.7 < t1: not confident
    P[1] = [0.1, 0.9]  # now above t1 = 0.85: item y is confidently b
    table = label_issues_from_proba(given, P, classes=["a", "b"], ids=["x", "y", "z"])
    row = table.set_index("id").loc["y"]
    assert row["is_label_issue"] and row["suggested_label"] == "b"
    assert table["id"].iloc[0] == "y"  # the lowest self-confidence


@pytest.mark.parametrize(("labels", "proba", "message"), [
    ([0, 1], [[0.5, 0.6], [0.5, 0.5]], "row 0 sums to 1.1"),
    ([0, 1], [[0.5, 0.5]], "one label per row of proba"),
    ([0, 2], [[0.5, 0.5], [0.5, 0.5]], "2"),
    ([0, 1], [[np.nan, 1.0], [0.5, 0.5]], "row 0 holds NaN"),
    ([0, 1], [[-0.5, 1.5], [0.5, 0.5]], "negative"),
    ([0], [[1.0]], "K ≥ 2")])
def test_bad_input(labels, proba, message):
    with pytest.raises(InputError, match=message):
        label_issues_from_proba(np.array(labels), np.array(proba))


def test_unknown_score_and_class_count():
    with pytest.raises(InputError, match="score must be one of"):
        label_issues_from_proba([0], [[0.5, 0.5]], score="entropy")
    with pytest.raises(InputError, match="proba has 2 columns but 3 classes"):
        label_issues_from_proba([0], [[0.5, 0.5]], classes=["a", "b", "c"])
