"""What every label model (aggregator) shares: the estimator contract and result views."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crowdlearn.annotations import Annotations, gold_codes
from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.params import DeclaredParameters
from crowdlearn.proba import checked_rows


class Aggregator(DeclaredParameters, BaseEstimator):
    """Base of all aggregators: ``fit(answers)`` then ``predict()`` / ``predict_proba()``.

    ``answers`` is an :class:`~crowdlearn.Annotations` or a long DataFrame with one answer a
    row; for a frame, ``fit`` passes the keywords ``task``, ``worker``, ``label`` (column
    names), ``classes`` and ``keep`` to :meth:`Annotations.from_frame`.

    Fitted attributes shared by all: ``posteriors_`` (T×K), ``labels_`` (T class codes),
    ``tasks_``, ``workers_``, ``classes_`` (original ids), ``class_prior_`` (K),
    ``worker_counts_`` (W). :meth:`skills` and :meth:`confusions` give worker quality keyed
    by worker id. ``fit`` warns (:class:`~crowdlearn.errors.CrowdlearnWarning`) when worker
    quality cannot be estimated from the data or a class ends up with no task.

    A subclass declares its hyper-parameters' constraints in ``_parameter_constraints``
    (scikit-learn's pattern, :mod:`crowdlearn.params`) and its ``fit`` starts with
    :meth:`_check_params`, before reading the answers: a bad value is an
    :class:`~crowdlearn.errors.InputError` naming it. Checks that involve several
    parameters go in ``_check_more``; those that involve the data stay in ``fit``.
    ``requires_gold``: its ``fit`` needs ``gold`` (known labels), not only accepts it.
    """

    requires_gold: ClassVar[bool] = False

    def fit_predict(self, answers, **fit_params) -> pd.Series:
        """``fit(answers, ...)`` then :meth:`predict`."""
        return self.fit(answers, **fit_params).predict()

    def fit_predict_proba(self, answers, **fit_params) -> pd.DataFrame:
        """``fit(answers, ...)`` then :meth:`predict_proba`."""
        return self.fit(answers, **fit_params).predict_proba()

    def predict(self) -> pd.Series:
        """The most probable label of every task, in original ids, indexed by task id."""
        check_is_fitted(self, "posteriors_")
        labels = pd.Index(self.classes_).take(self.labels_)
        return pd.Series(labels, index=pd.Index(self.tasks_, name="task"), name="label")

    def predict_proba(self) -> pd.DataFrame:
        """T×K posterior probabilities, indexed by task id, one column per class."""
        check_is_fitted(self, "posteriors_")
        return pd.DataFrame(self.posteriors_, index=pd.Index(self.tasks_, name="task"),
                            columns=pd.Index(self.classes_, name="label"))

    def worker_quality(self) -> pd.DataFrame:
        """One row per worker: number of answers and estimated accuracy (``skill``)."""
        check_is_fitted(self, "workers_")
        return pd.DataFrame({"n_answers": self.worker_counts_, "skill": self.worker_skill()},
                            index=pd.Index(self.workers_, name="worker"))

    def worker_skill(self) -> np.ndarray:
        """Estimated probability that each worker answers correctly."""
        return self.skill_

    def skills(self) -> pd.Series:
        """Each worker's estimated accuracy, indexed by worker id."""
        check_is_fitted(self, "workers_")
        return pd.Series(self.worker_skill(), index=pd.Index(self.workers_, name="worker"),
                         name="skill")

    def confusions(self) -> pd.DataFrame:
        """Each worker's confusion matrix as one frame: rows (worker, true label), columns
        the answered label, cells ``P(answer | true label)``."""
        check_is_fitted(self, "workers_")
        if not hasattr(self, "confusion_"):
            raise InputError(f"{type(self).__name__} fits no confusion matrices; use skills()")
        k = len(self.classes_)
        rows = pd.MultiIndex.from_product([self.workers_, self.classes_],
                                          names=["worker", "true_label"])
        return pd.DataFrame(self.confusion_.reshape(-1, k), index=rows,
                            columns=pd.Index(self.classes_, name="answer"))

    def _record(self, ann: Annotations, posteriors: np.ndarray, labels: np.ndarray) -> None:
        self.posteriors_ = posteriors
        self.labels_ = labels
        self.tasks_, self.workers_, self.classes_ = ann.tasks, ann.workers, ann.classes
        self.worker_counts_ = ann.worker_counts

    def _warn_about_fit(self, ann: Annotations, answers_only: bool = True,
                        final: bool = True) -> None:
        """Warn about what the answers cannot tell (unless other evidence came with them:
        ``answers_only`` false) and, for a fit run to its end (``final``), about classes that
        vanished."""
        present = np.bincount(self.labels_, minlength=ann.n_classes) > 0
        favoured = None if present.all() else favoured_classes(
            ann.task, ann.label, ann.n_tasks, ann.n_classes)
        self._warn_about_answers(identifiability_problems(ann) if answers_only else [],
                                 ann.classes, present, final, favoured, stacklevel=4)

    def _warn_about_answers(self, problems: list[str], classes: list, present: np.ndarray,
                            final: bool = True, favoured: np.ndarray | None = None,
                            stacklevel: int = 3) -> None:
        """Warn each of ``problems`` and, when ``final``, the classes no task ends up with
        (``present``: whether some task does, per class; at most five named). Where some of
        them are a most-answered class of some task (``favoured``: see
        :func:`favoured_classes`), the model overruled every such vote: the warning adds
        that it may have collapsed (not for majority vote, whose labels are the votes). The
        out-of-core engines use the same words with what they gather while coding."""
        for message in problems:
            warnings.warn(message, CrowdlearnWarning, stacklevel=stacklevel)
        if not final or len(classes) < 2 or present.all():
            return
        gone = np.flatnonzero(~present)
        named = ", ".join(repr(classes[k]) for k in gone[:5]) + (
            f", … ({len(gone)} in all)" if len(gone) > 5 else "")
        overruled = 0 if favoured is None or type(self).__name__ == "MajorityVote" else int(
            favoured[gone].sum())
        advice = "" if not overruled else (
            "; " + ("it is" if len(gone) == 1 else "all are" if overruled == len(gone) else
                    f"{overruled} of them {'is' if overruled == 1 else 'are'}")
            + " the most answered class of some task: if real, the model may have collapsed; "
            "compare with majority vote")
        warnings.warn(f"{type(self).__name__}: no task ends up with class"
                      f"{'es' if len(gone) > 1 else ''} {named} (of {len(classes)}){advice}",
                      CrowdlearnWarning, stacklevel=stacklevel)


def favoured_classes(task: np.ndarray, label: np.ndarray, n_tasks: int,
                     n_classes: int) -> np.ndarray:
    """Per class, whether it has the most answers (ties included) of some task: the classes
    a majority vote could give. Sparse, linear in the answers."""
    votes = sp.csr_matrix((np.ones(len(task)), (task, label)), shape=(n_tasks, n_classes))
    top = votes.max(axis=1).toarray().ravel()
    rows = np.repeat(np.arange(n_tasks), np.diff(votes.indptr))
    return np.bincount(votes.indices[votes.data == top[rows]], minlength=n_classes) > 0


def identifiability_problems(ann: Annotations) -> list[str]:
    """Why worker quality cannot be estimated from these answers (empty when it can)."""
    return answer_problems(ann.workers, ann.classes, int(ann.task_counts.max()))


def answer_problems(workers: list, classes: list, most_answers: int) -> list[str]:
    """:func:`identifiability_problems` from the worker and class ids and the most answers
    any task received."""
    problems = []
    if len(workers) == 1:
        problems.append(f"a single worker ({workers[0]!r}) gave every answer: its quality "
                        "cannot be estimated (there is nobody to compare it with)")
    elif most_answers < 2:
        problems.append("no task has two answers: worker quality is not identifiable and "
                        "every label is its one worker's answer")
    if len(classes) == 1:
        problems.append(f"every answer is the same label ({classes[0]!r}): worker "
                        "quality is 1 by construction and tells nothing")
    return problems


def as_annotations(answers, **frame_options) -> Annotations:
    """``answers`` as :class:`Annotations`: given as such, or built from a long DataFrame
    with ``frame_options`` (``task``, ``worker``, ``label``, ``classes``, ``keep``)."""
    unknown = set(frame_options) - {"task", "worker", "label", "classes", "keep"}
    if unknown:  # e.g. a keyword another method's fit takes (gold=, task_prior=)
        raise InputError(f"unknown argument(s) {', '.join(sorted(unknown))}: besides the "
                         "answers this takes only the options that build them from a "
                         "DataFrame: task, worker, label, classes, keep")
    if isinstance(answers, Annotations):
        if frame_options:
            raise InputError(f"{', '.join(frame_options)}: these options build annotations "
                             "from a DataFrame; the answers given are already Annotations")
        return answers
    if isinstance(answers, pd.DataFrame):
        return Annotations.from_frame(answers, **frame_options)
    raise InputError(
        f"expected crowdlearn.Annotations or a pandas DataFrame (one answer a row), got "
        f"{type(answers).__name__}; build one with Annotations.from_frame / from_csv / "
        "from_wide / from_labels"
    )


def check_task_prior(ann: Annotations, task_prior) -> np.ndarray | None:
    """Validate a T×K matrix of probabilities (array or DataFrame indexed by task id) and
    return its log, rows aligned with ``ann.tasks``."""
    if task_prior is None:
        return None
    if isinstance(task_prior, pd.DataFrame):
        if task_prior.index.has_duplicates or task_prior.columns.has_duplicates:
            raise InputError("task_prior has a task (row) or class (column) given twice")
        missing = [c for c in ann.classes if c not in task_prior.columns]
        if missing:
            raise InputError(f"task_prior has no column for class {missing[0]!r}")
        missing = ~pd.Index(ann.tasks).isin(task_prior.index)
        if missing.any():
            raise InputError(f"task_prior has no row for {int(missing.sum()):,} task(s), e.g. "
                             f"{ann.tasks[int(np.flatnonzero(missing)[0])]!r}")
        task_prior = task_prior.reindex(index=pd.Index(ann.tasks),
                                        columns=pd.Index(ann.classes))
    prior = checked_rows(task_prior, "task_prior", ann.tasks, rows="tasks",
                         shape=(ann.n_tasks, ann.n_classes), normalised=False)
    return np.log(np.maximum(prior / prior.sum(axis=1, keepdims=True), 1e-300))


def check_gold(ann: Annotations, gold: Mapping | pd.Series | None):
    return None if gold is None or len(gold) == 0 else gold_codes(ann, gold)
