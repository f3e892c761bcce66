"""What every label model (aggregator) shares: the estimator contract and result views."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crowdlearn.annotations import Annotations, gold_codes
from crowdlearn.errors import InputError


class Aggregator(BaseEstimator):
    """Base of all aggregators: ``fit(annotations)`` then ``predict()`` / ``predict_proba()``.

    Fitted attributes shared by all: ``posteriors_`` (T×K), ``labels_`` (T class codes),
    ``tasks_``, ``workers_``, ``classes_`` (original ids), ``class_prior_`` (K).
    """

    def fit_predict(self, annotations: Annotations, **fit_params) -> pd.Series:
        return self.fit(annotations, **fit_params).predict()

    def fit_predict_proba(self, annotations: Annotations, **fit_params) -> pd.DataFrame:
        return self.fit(annotations, **fit_params).predict_proba()

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
        check_is_fitted(self, "posteriors_")
        return pd.DataFrame({"n_answers": self.worker_counts_, "skill": self.worker_skill()},
                            index=pd.Index(self.workers_, name="worker"))

    def worker_skill(self) -> np.ndarray:
        """Estimated probability that each worker answers correctly."""
        return self.skill_

    def _record(self, ann: Annotations, posteriors: np.ndarray, labels: np.ndarray) -> None:
        self.posteriors_ = posteriors
        self.labels_ = labels
        self.tasks_, self.workers_, self.classes_ = ann.tasks, ann.workers, ann.classes
        self.worker_counts_ = ann.worker_counts


def check_annotations(annotations) -> Annotations:
    if not isinstance(annotations, Annotations):
        raise InputError(
            f"expected crowdlearn.Annotations, got {type(annotations).__name__}; build one with "
            "Annotations.from_frame / from_csv / from_wide / from_labels"
        )
    return annotations


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
        task_prior = task_prior.reindex(index=pd.Index(ann.tasks),
                                        columns=pd.Index(ann.classes)).to_numpy(dtype=float)
    prior = np.asarray(task_prior, dtype=np.float64)
    if prior.shape != (ann.n_tasks, ann.n_classes):
        raise InputError(f"task_prior must have shape (n_tasks, n_classes) = "
                         f"({ann.n_tasks}, {ann.n_classes}), got {prior.shape}")
    bad = ~np.isfinite(prior) | (prior < 0)
    if bad.any():
        t = int(np.flatnonzero(bad.any(axis=1))[0])
        raise InputError(f"task_prior row {t} (task {ann.tasks[t]!r}) has a negative, NaN or "
                         "missing probability")
    zero = prior.sum(axis=1) <= 0
    if zero.any():
        t = int(np.flatnonzero(zero)[0])
        raise InputError(f"task_prior row {t} (task {ann.tasks[t]!r}) is all zeros")
    return np.log(np.maximum(prior / prior.sum(axis=1, keepdims=True), 1e-300))


def check_gold(ann: Annotations, gold: Mapping | pd.Series | None):
    return None if gold is None or len(gold) == 0 else gold_codes(ann, gold)
