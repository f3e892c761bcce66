"""Label Studio's JSON export read as answers: one answer per (task, annotator) of a
classification question.

Label Studio (HumanSignal) exports a project as a list of tasks, each with the item's
``data`` and its ``annotations``; an annotation names its annotator (``completed_by``: an id,
or an object with one) and holds a ``result`` list, one region per control of the labelling
interface (``from_name``), whose ``value`` carries the answer: ``{"choices": ["Cat"]}`` for a
choice, ``{"rating": 4}`` for a rating. Only one question is read: the one ``question``
names (the command line's ``--label-col``), or the project's only classification control.
Cancelled (skipped) annotations, and annotations that leave the question unanswered, are
counted in a warning; the model's pre-annotations (``predictions``) are not answers.
"""

from __future__ import annotations

import warnings

import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError

# the answer a result's value carries, by the control's type
VALUE_KEYS = {"choices": "choices", "rating": "rating", "taxonomy": "taxonomy",
              "labels": "labels"}


def is_export(table: pd.DataFrame) -> bool:
    """Whether a JSON table is a Label Studio export: tasks with ``data`` and
    ``annotations`` (a list on every row)."""
    return ({"data", "annotations"} <= set(table.columns)
            and table["annotations"].map(lambda a: isinstance(a, list)).all())


def answers(table: pd.DataFrame, name: str, question: str | None = None) -> pd.DataFrame:
    """The ``task, worker, label`` rows of an export (:func:`is_export`): the task's ``id``,
    the annotator's id and the answer to ``question`` (a control's ``from_name``; None, or
    the default column name ``"label"`` when no control has that name: the only
    classification control the export answers)."""
    if "id" not in table.columns:
        raise InputError(f"{name}: a Label Studio export without task ids ('id')")
    rows, cancelled, unanswered = [], 0, 0
    controls = _controls(table)
    if question == "label" and question not in controls:
        question = None
    if question is None:
        if len(controls) != 1:
            raise InputError(f"{name}: the Label Studio export answers "
                             f"{_listed(controls) or 'no classification question'}: choose "
                             "one with --label-col NAME (in Python label=NAME)")
        question = next(iter(controls))
    elif question not in controls:
        raise InputError(f"{name}: no classification question {question!r} in the Label "
                         f"Studio export (it has {_listed(controls) or 'none'})")
    for task, done in zip(table["id"], table["annotations"], strict=True):
        for annotation in done:
            if annotation.get("was_cancelled"):
                cancelled += 1
                continue
            label = _answer(annotation, question, task, name)
            if label is None:
                unanswered += 1
                continue
            rows.append((task, _annotator(annotation, task, name), label))
    _warn_left_out(name, cancelled, unanswered, question)
    if not rows:
        raise InputError(f"{name}: no annotation of the Label Studio export answers "
                         f"{question!r}")
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def _controls(table: pd.DataFrame) -> dict[str, str]:
    """The classification controls the annotations answer: ``from_name`` → type."""
    found: dict[str, str] = {}
    for done in table["annotations"]:
        for annotation in done:
            for region in annotation.get("result") or []:
                kind = region.get("type")
                if kind in VALUE_KEYS and "from_name" in region:
                    found.setdefault(region["from_name"], kind)
    return found


def _answer(annotation: dict, question: str, task, name: str):
    """The annotation's answer to ``question`` (None: not answered); one choice only."""
    for region in annotation.get("result") or []:
        if region.get("from_name") != question:
            continue
        value = (region.get("value") or {}).get(VALUE_KEYS.get(region.get("type"), ""))
        if isinstance(value, list):
            flat = [v if not isinstance(v, list) else "/".join(map(str, v)) for v in value]
            if len(flat) != 1:
                raise InputError(f"{name}: task {task!r}: annotation {annotation.get('id')!r} "
                                 f"gives {len(flat)} answers to {question!r} "
                                 f"({', '.join(map(repr, flat[:4]))}): one label a task is "
                                 "read, not several")
            return flat[0]
        return value
    return None


def _annotator(annotation: dict, task, name: str):
    """The annotator's id: ``completed_by``, or its ``id`` / ``email`` when an object."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id", who.get("email"))
    if who is None:
        raise InputError(f"{name}: task {task!r}: annotation {annotation.get('id')!r} names "
                         "no annotator (completed_by)")
    return who


def _listed(controls: dict[str, str]) -> str:
    return ", ".join(f"{c!r} ({kind})" for c, kind in controls.items())


def _warn_left_out(name: str, cancelled: int, unanswered: int, question: str) -> None:
    parts = [f"{cancelled:,} cancelled (skipped) annotation{'s' * (cancelled > 1)}"
             if cancelled else "",
             f"{unanswered:,} annotation{'s' * (unanswered > 1)} that leave {question!r} "
             "unanswered" if unanswered else ""]
    parts = [p for p in parts if p]
    if parts:
        warnings.warn(f"{name}: left out {' and '.join(parts)} (Label Studio export)",
                      CrowdlearnWarning, stacklevel=3)
