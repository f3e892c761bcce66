"""Probabilities handed in by the user (predictions, priors, EM starts) are checked in one
place: one message for each problem, naming the row (and its task) and how many rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, DawidSkene, next_to_label
from crowdlearn.errors import InputError
from crowdlearn.label_issues import label_issues_from_proba
from crowdlearn.proba import checked_rows


@pytest.mark.parametrize("values, message", [
    ([[0.5, "abc"]], r"p must hold numbers \(could not convert string to float: 'abc'\)"),
    ([0.5, 0.5], r"p must be a table of rows × classes, got shape \(2,\)"),
    ([[0.5, np.nan], [np.inf, 0.0], [0.5, 0.5]], r"p row 0 holds NaN or an infinite value "
                                                   r"\(2 such rows\)"),
    ([[0.5, 0.5], [1.5, -0.5]], r"p row 1 holds a negative probability$"),
    ([[0.5, 0.5], [0.6, 0.6]], r"p row 1 sums to 1.2, not 1$"),
])
def test_each_problem_has_its_message(values, message):
    with pytest.raises(InputError, match=message):
        checked_rows(values, "p")


def test_weights_need_only_a_positive_sum_and_rows_are_named():
    assert checked_rows([[2.0, 6.0]], "w", normalised=False).tolist() == [[2.0, 6.0]]
    with pytest.raises(InputError, match=r"w row 1 \(task 'b'\) sums to 0: no class"):
        checked_rows([[1.0, 0.0], [0.0, 0.0]], "w", ["a", "b"], rows="tasks",
                     normalised=False)
    with pytest.raises(InputError, match=r"w must have shape \(3, 2\) \(tasks × classes\), "
                                         r"got shape \(2, 2\)"):
        checked_rows([[1.0, 0.0], [0.0, 1.0]], "w", shape=(3, 2), rows="tasks")


def test_every_entry_point_uses_it():
    frame = pd.DataFrame({"task": ["a", "a", "b", "b"], "worker": [1, 2, 1, 2],
                          "label": [0, 0, 1, 0]})
    ann = Annotations.from_frame(frame)
    text = [["0.5", "abc"], ["0.5", "0.5"]]
    with pytest.raises(InputError, match="task_prior must hold numbers"):
        DawidSkene().fit(ann, task_prior=text)
    with pytest.raises(InputError, match=r"task_prior has no row for 1 task\(s\), e.g. 'b'"):
        DawidSkene().fit(ann, task_prior=pd.DataFrame({0: [0.5], 1: [0.5]}, index=["a"]))
    with pytest.raises(InputError, match=r"init_posteriors row 1 \(task 'b'\) holds a "):
        DawidSkene().fit(ann, init_posteriors=[[0.5, 0.5], [-1.0, 2.0]])
    with pytest.raises(InputError, match=r"proba row 0 \(task 'a'\) sums to 0.9, not 1"):
        next_to_label(ann, proba=np.array([[0.5, 0.4], [0.5, 0.5]]), k=1)
    with pytest.raises(InputError, match="proba must hold numbers"):
        label_issues_from_proba([0, 1], text)
