"""Label Studio's JSON export read as answers: one answer per (task, annotator) of a
classification question.

Label Studio (HumanSignal) exports a project as a list of tasks, each with the item's
``data`` and its ``annotations``; an annotation names its annotator (``completed_by``: an id,
or an object with one) and holds a ``result`` list, one region per control of the labelling
interface (``from_name``), whose ``value`` carries the answer: ``{"choices": ["Cat"]}`` for a
choice, ``{"rating": 4}`` for a rating. Only one question is read: the one ``question``
names (the command line's ``--label-col``), or the project's only classification control.
Cancelled (skipped) annotations, and annotations that leave the question unanswered, are
counted in a warning; the model's pre-annotations (``predictions``) are not answers. Exports
of Label Studio before 1.0 call the annotations ``completions``; they are read alike. The
flat exports (JSON-MIN, CSV) are ordinary tables, read with the column names given:
:func:`flat_export_hint` says which.
"""

from __future__ import annotations

import warnings

import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError

# the answer a result's value carries, by the control's type
VALUE_KEYS = {"choices": "choices", "rating": "rating", "taxonomy": "taxonomy",
              "labels": "labels"}


# the columns a flat export (JSON-MIN, CSV) adds to the task's own data and the answers
FLAT_COLUMNS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time")


def is_export(table: pd.DataFrame) -> bool:
    """Whether a JSON table is a Label Studio export: tasks with ``data`` and
    ``annotations`` (``completions`` before 1.0), a list on every row."""
    key = _annotations_key(table)
    return ("data" in table.columns and key is not None
            and table[key].map(lambda a: isinstance(a, list)).all())


def _annotations_key(table: pd.DataFrame) -> str | None:
    return next((k for k in ("annotations", "completions") if k in table.columns), None)


def flat_export_hint(table: pd.DataFrame) -> str:
    """For a table that lacks the answer columns asked for: how to read it when it is Label
    Studio's JSON-MIN or CSV export (columns ``id``, ``annotator``, ``annotation_id`` and one
    per question), else ''."""
    if not {"id", "annotator", "annotation_id"} <= set(table.columns):
        return ""
    questions = [str(c) for c in table.columns if c not in FLAT_COLUMNS]
    return ("; this looks like Label Studio's JSON-MIN or CSV export: its tasks are 'id', "
            "its annotators 'annotator' and each question a column named after it "
            f"({', '.join(map(repr, questions[:6])) or 'none found'})")


def answers(table: pd.DataFrame, name: str, question: str | None = None) -> pd.DataFrame:
    """The ``task, worker, label`` rows of an export (:func:`is_export`): the task's ``id``,
    the annotator's id and the answer to ``question`` (a control's ``from_name``; None, or
    the default column name ``"label"`` when no control has that name: the only
    classification control the export answers)."""
    if "id" not in table.columns:
        raise InputError(f"{name}: a Label Studio export without task ids ('id')")
    rows, cancelled, unanswered = [], 0, 0
    _check_shapes(table, name)
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
    for task, done in zip(table["id"], table[_annotations_key(table)], strict=True):
        for annotation in done:
            if annotation.get("was_cancelled") or annotation.get("skipped"):
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
    for done in table[_annotations_key(table)]:
        for annotation in done:
            for region in annotation.get("result") or []:
                kind = region.get("type")
                if kind in VALUE_KEYS and "from_name" in region:
                    found.setdefault(region["from_name"], kind)
    return found


def _answer(annotation: dict, question: str, task, name: str):
    """The annotation's answer to ``question`` (None: not answered); one choice, in one
    region, only (choices or labels given per region of an image or a text span are not
    one label a task)."""
    regions = [r for r in annotation.get("result") or [] if r.get("from_name") == question]
    if len(regions) > 1:
        raise InputError(f"{name}: task {task!r}: annotation {annotation.get('id')!r} answers "
                         f"{question!r} {len(regions)} times (one per region: labels of "
                         "spans or boxes): one label a task is read, not one a region")
    for region in regions:
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


def _check_shapes(table: pd.DataFrame, name: str) -> None:
    """Refuse, naming the task, an annotation that is not an object, a ``result`` that is
    not a list of objects or a region whose ``value`` is not an object."""
    for task, done in zip(table["id"], table[_annotations_key(table)], strict=True):
        for annotation in done:
            if not isinstance(annotation, dict):
                raise InputError(f"{name}: task {task!r}: an annotation is {annotation!r}, "
                                 "not an object (is this a Label Studio JSON export?)")
            result = annotation.get("result") or []
            bad = (f"its result is {result!r}" if not isinstance(result, list) else
                   next((f"a region of its result is {r!r}" for r in result
                         if not isinstance(r, dict)), None) or
                   next((f"a region's value is {r['value']!r}" for r in result
                         if r.get("value") is not None and not isinstance(r["value"], dict)),
                        None))
            if bad:
                raise InputError(f"{name}: task {task!r}: annotation {annotation.get('id')!r}: "
                                 f"{bad[:120]}, not an object as Label Studio writes")


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
