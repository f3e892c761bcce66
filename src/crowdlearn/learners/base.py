"""What every learner (a method that trains a model) shares: building the network, training it
with the one :class:`~crowdlearn.nn.Trainer`, and predicting in the user's class ids."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.nn import Trainer, make_model


class Learner(BaseEstimator):
    """Base of the learners. Subclasses store, besides their own hyper-parameters:
    ``model`` (a name such as ``"mlp"``/``"lenet"``/``"resnet18"`` or a callable
    ``f(input_shape, n_classes)``), ``model_params`` (keyword arguments for it), ``epochs``,
    ``batch_size``, ``lr``, ``optimizer``, ``weight_decay``, ``device`` and ``seed``.

    Fitted attributes shared by all: ``model_`` (the trained torch module), ``classes_``,
    ``history_``, ``input_shape_`` (the shape of one item).

    :meth:`save` writes a fitted learner to a folder and :func:`crowdlearn.load` reads it
    back (no pickle): the networks listed in ``_saved_modules`` as state dicts, the arrays in
    ``_saved_arrays``, and what :meth:`_saved_extra` returns as JSON.
    """

    _saved_modules: tuple[str, ...] = ("model_",)
    _saved_arrays: tuple[str, ...] = ()

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the trained model, N × K (columns in ``classes_`` order)."""
        check_is_fitted(self, "model_")
        return self._trainer().predict_proba(self.model_, _as_array(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of every item, in the original class ids."""
        return self._to_classes(self.predict_proba(X).argmax(axis=1))

    def _to_classes(self, codes: np.ndarray) -> np.ndarray:
        """Class codes as the original class ids (with their dtype)."""
        return np.asarray(self.classes_, dtype=object)[codes].astype(
            np.asarray(self.classes_).dtype)

    def score(self, X, y) -> float:
        """Accuracy against true labels given in the original class ids."""
        return float((self.predict(X) == np.asarray(y)).mean())

    # ------------------------------------------------------------------ saving
    def save(self, folder, *, force: bool = False):
        """Write the fitted learner to ``folder`` (see :mod:`crowdlearn.learners.saved`);
        :func:`crowdlearn.load` reads it back and predicts exactly as this one does."""
        from crowdlearn.learners.saved import save

        return save(self, folder, force=force)

    def _saved_extra(self) -> dict:
        """JSON-ready settings, beyond the hyper-parameters, that rebuild the networks."""
        return {}

    def _restore_extra(self, extra: dict) -> None:
        """Set the fitted attributes that :meth:`_saved_extra` recorded."""

    def _modules_for_loading(self, input_shape: tuple, n_classes: int,
                             extra: dict) -> dict[str, nn.Module]:
        """Untrained networks of the saved shapes, one per name in ``_saved_modules``."""
        return {name: self._network(input_shape, n_classes) for name in self._saved_modules}

    def _network(self, input_shape: tuple, n_classes: int, seed: int | None = None,
                 ) -> nn.Module:
        return make_model(self.model, input_shape, n_classes, seed=seed,
                          **(self.model_params or {}))

    # ------------------------------------------------------------------ training
    def _trainer(self, seed: int = 0, epochs: int | None = None, **options) -> Trainer:
        """The learner's training settings as a :class:`Trainer`; ``options`` (a step
        function, parameter groups, …) are passed on or override them."""
        settings = {"epochs": epochs or self.epochs, "batch_size": self.batch_size,
                    "lr": self.lr, "optimizer": self.optimizer,
                    "weight_decay": self.weight_decay, "device": self.device, "seed": seed,
                    "progress": False}
        return Trainer(**(settings | options))

    def _fresh_model(self, X: np.ndarray, n_classes: int, salt: int) -> nn.Module:
        self.input_shape_ = tuple(int(d) for d in X.shape[1:])
        return self._network(X.shape[1:], n_classes, seed=self._seed(salt))

    def _fit_model(self, X: np.ndarray, targets: np.ndarray, n_classes: int, salt: int,
                   weights: np.ndarray | None = None) -> nn.Module:
        """Train a freshly initialised network on ``targets`` (codes or soft N×K)."""
        model = self._fresh_model(X, n_classes, salt)
        self._trainer(self._seed(salt)).fit(model, X, targets, weights)
        return model

    def _fit_self_trained(self, X: np.ndarray, targets: np.ndarray, n_classes: int,
                          salt: int) -> tuple[nn.Module, np.ndarray]:
        """MBEM's ``train``: fit on ``targets``, take the model's hard predictions on the
        training items, and (with ``self_training``) refit from scratch on them. Returns the
        final model and the first model's class probabilities on the training items."""
        model = self._fit_model(X, targets, n_classes, salt)
        proba = self._trainer().predict_proba(model, X)
        if getattr(self, "self_training", False):
            model = self._fit_model(X, proba.argmax(axis=1), n_classes, salt + 1)
        return model, proba

    def _seed(self, salt: int) -> int:
        return int(self.seed) * 1009 + salt


def align_items(X, annotations: Annotations) -> np.ndarray:
    """The rows of ``X`` for the annotated tasks, in ``annotations.tasks`` order (see
    :func:`task_rows`)."""
    X = _as_array(X)
    if not isinstance(annotations, Annotations):
        raise InputError(f"expected crowdlearn.Annotations, got {type(annotations).__name__}")
    rows = task_rows(annotations, len(X))
    return X if np.array_equal(rows, np.arange(len(X))) else X[rows]


def task_rows(annotations: Annotations, n_rows: int) -> np.ndarray:
    """The row of ``X`` each task (in task-code order) belongs to: with one row per task,
    row i is task i; otherwise task ids must be row numbers of ``X``. Integer ids that
    shuffle ``0..n-1`` over one row per task are ambiguous and refused."""
    tasks = np.asarray(annotations.tasks)
    ids_are_rows = (np.issubdtype(tasks.dtype, np.integer) and len(tasks) > 0
                    and tasks.min() >= 0 and tasks.max() < n_rows)
    if annotations.n_tasks == n_rows:
        if ids_are_rows and not np.array_equal(tasks, np.arange(n_rows)):
            raise InputError("the task ids are a reordering of the row numbers of X: it is "
                             "ambiguous whether row i is task i or task id i; give X in "
                             "annotations.tasks order with non-integer ids, or sort the tasks")
        return np.arange(n_rows)
    if ids_are_rows:
        return tasks.astype(np.int64)
    raise InputError(f"X has {n_rows} rows but the annotations cover {annotations.n_tasks} "
                     "tasks whose ids are not row numbers of X")


def _as_array(X) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim < 2 or len(arr) == 0:
        raise InputError(f"X must be a non-empty array of items (N × features or images), "
                         f"got shape {arr.shape}")
    return arr


ModelSpec = str | Callable[..., nn.Module]
