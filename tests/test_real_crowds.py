"""Dawid–Skene on ten public crowdsourcing datasets matches crowd-kit's published accuracy.

The thresholds are crowd-kit 1.4.2 ``DawidSkene(n_iter=100)`` accuracies against gold, as
measured by the peer who reported them (not our own results), less a 0.005 tolerance. Each
dataset is skipped when its folder is absent (see ``benchmarks.real_crowds.data_root``).
"""

from __future__ import annotations

import pytest

from benchmarks.real_crowds import DATASETS, FOLDERS, accuracy
from crowdlearn import DawidSkene, MajorityVote, OneCoinDawidSkene
from tests.conftest import real_crowd

CROWDKIT_ACCURACY = {
    "product": 0.9397,
    "bluebirds": 0.8889,
    "dog": 0.8426,
    "face": 0.6404,
    "rte": 0.9275,
    "temp": 0.9416,
    "web": 0.8292,
    "labelme": 0.7920,
    "sentiment": 0.9152,
    "music": 0.7686,
}
TOLERANCE = 0.005


def test_every_registered_dataset_has_a_reference():
    assert set(CROWDKIT_ACCURACY) == set(DATASETS) == set(FOLDERS)


@pytest.mark.parametrize("name", list(CROWDKIT_ACCURACY))
def test_dawid_skene_reaches_crowdkit_accuracy(name):
    ann, gold = real_crowd(name)
    assert len(gold) > 0
    acc = accuracy(DawidSkene().fit(ann).predict(), gold)
    assert acc >= CROWDKIT_ACCURACY[name] - TOLERANCE, (
        f"{name}: DawidSkene accuracy {acc:.4f} < crowd-kit's {CROWDKIT_ACCURACY[name]:.4f} "
        f"- {TOLERANCE}")


@pytest.mark.parametrize("name", list(CROWDKIT_ACCURACY))
def test_defaults_never_fall_below_majority_vote_nor_collapse(name):
    """The default Dawid–Skene stays within 0.005 of majority vote or above it; one-coin
    predicts every class the gold holds (no collapse onto one class)."""
    ann, gold = real_crowd(name)
    mv = accuracy(MajorityVote(tie_break="first").fit(ann).predict(), gold)
    ds = accuracy(DawidSkene().fit(ann).predict(), gold)
    assert ds >= mv - TOLERANCE, f"{name}: DS {ds:.4f} < MV {mv:.4f} - {TOLERANCE}"
    predicted = set(OneCoinDawidSkene().fit(ann).predict().reindex(gold.index))
    assert set(gold) <= predicted, f"{name}: one-coin never predicts {set(gold) - predicted}"
