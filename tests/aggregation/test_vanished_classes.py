"""The warning about classes no task ends up with: short, and it suspects a collapse only
where the model overruled a class that some task's answers favour."""

from __future__ import annotations

import warnings

import numpy as np

from crowdlearn import Annotations, DawidSkene, MajorityVote
from crowdlearn.aggregation.base import favoured_classes
from crowdlearn.errors import CrowdlearnWarning


def _messages(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CrowdlearnWarning)
        fn()
    return [str(w.message) for w in caught if issubclass(w.category, CrowdlearnWarning)]


def test_many_unused_classes_named_in_one_short_line():
    declared = [0, 1, *[f"unused{i}" for i in range(40)]]
    ann = Annotations([0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 1, 1], classes=declared)
    (message,) = [m for m in _messages(lambda: MajorityVote().fit(ann)) if "ends up" in m]
    assert message == ("MajorityVote: no task ends up with classes 'unused0', 'unused1', "
                       "'unused2', 'unused3', 'unused4', … (40 in all) (of 42)")


def test_collapse_suspected_only_for_overruled_votes():
    model = DawidSkene()
    classes = ["a", "b", "c"]
    present = np.array([True, False, False])
    for favoured, advice in ((np.array([True, False, False]), False),
                             (np.array([True, True, False]), True)):
        (message,) = _messages(lambda f=favoured: model._warn_about_answers(
            [], classes, present, True, f))
        assert message.startswith("DawidSkene: no task ends up with classes 'b', 'c' (of 3)")
        assert ("1 of them is the most answered class of some task" in message) == advice


def test_favoured_classes_counts_ties():
    # task 0: a twice, b once; task 1: b and c once each (a tie: both favoured); class d
    # is on top only in task 2, where it ties with a
    task = np.array([0, 0, 0, 1, 1, 2, 2])
    label = np.array([0, 0, 1, 1, 2, 0, 3])
    assert favoured_classes(task[:5], label[:5], 2, 4).tolist() == [True, True, True, False]
    assert favoured_classes(task, label, 3, 4).tolist() == [True, True, True, True]
