"""What every learner (a method that trains a model) shares: building the network, training it
with the one :class:`~crowdlearn.nn.Trainer`, and predicting in the user's class ids."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import IntEnum
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError, InputTypeError
from crowdlearn.inputs import first_line
from crowdlearn.nn import Trainer, make_model
from crowdlearn.nn.threads import cpu_threads
from crowdlearn.params import FRACTION as FRACTION  # the learners import them from here
from crowdlearn.params import NON_NEGATIVE, POSITIVE_INT, DeclaredParameters


class Seeds(IntEnum):
    """Named streams of a learner's ``seed``: stream ``s`` seeds with ``seed · 1009 + s``.
    The values are the ones the learners always used, so results are unchanged."""

    NETWORK = 0  # the (first) network's initial weights and its training
    SECOND_NETWORK = 1  # a second network: Co-teaching's peer, TwoEM's auxiliary, Doctor
    # Net's heads; MBEM's and the baselines' self-training refit (stream + 1)
    ROUND = 2  # MBEM's round r trains on stream ROUND · r
    EM_DRAWS = 3  # TwoEM's random draws
    VALIDATION = 7  # the noisy validation split carved from the training items
    STAGE = 100  # Me-Momentum's outer stage o uses STAGE · o, its inner stages + i


TRAINING_PARAMETERS: dict[str, tuple[object, list]] = {
    "model_params": (None, [dict, None]),
    "epochs": (30, [POSITIVE_INT]),
    "batch_size": (64, [POSITIVE_INT]),
    "lr": (1e-3, [Interval(Real, 0, None, closed="neither")]),
    "optimizer": ("adam", [StrOptions({"adam", "sgd"})]),
    "weight_decay": (0.0, [NON_NEGATIVE]),
    "standardize": (False, ["boolean"]),
    "device": ("auto", [str]),
    "seed": (0, [Interval(Integral, 0, None, closed="left")]),
    "verbose": (False, ["boolean"]),
    "n_threads": (None, [POSITIVE_INT, None]),
}
"""The training parameters every learner takes, keyword-only after its own: ``(default,
constraints)``. A learner changes a default through its ``_defaults`` (e.g. its epochs)."""


class Learner(DeclaredParameters, BaseEstimator):
    """Base of the learners: ``Learner(model, *, <own parameters>, <training parameters>)``.

    ``model`` is a name such as ``"mlp"``/``"lenet"``/``"resnet18"`` or a callable
    ``f(input_shape, n_classes)``. The training parameters are declared once, here
    (:data:`TRAINING_PARAMETERS`): ``model_params`` (keyword arguments for the model),
    ``epochs``, ``batch_size``, ``lr``, ``optimizer`` (``"adam"``/``"sgd"``),
    ``weight_decay``, ``standardize`` (scale each feature to mean 0 and sd 1 with the
    training items' statistics, kept for prediction), ``device``, ``seed``, ``verbose`` (a
    progress bar with epoch, loss and time left on a terminal) and ``n_threads`` (CPU
    threads of torch and BLAS during ``fit`` and prediction; ``None`` keeps torch's
    setting). A subclass declares only its own parameters
    and their constraints (``_parameter_constraints``, scikit-learn's pattern); every
    parameter is checked when ``fit`` starts, before any work, numpy scalars accepted.

    Fitted attributes shared by all: ``model_`` (the trained torch module), ``classes_``,
    ``history_``, ``input_shape_`` (the shape of one item).

    :meth:`save` writes a fitted learner to a folder and :func:`crowdlearn.load` reads it
    back (no pickle): the networks listed in ``_saved_modules`` as state dicts, the arrays in
    ``_saved_arrays``, and what :meth:`_saved_extra` returns as JSON.
    """

    _saved_modules: tuple[str, ...] = ("model_",)
    _saved_arrays: tuple[str, ...] = ()
    _defaults: dict = {}
    _parameter_constraints: dict = {}

    def __init_subclass__(cls, **kwargs) -> None:
        """Give every learner the training parameters (in its signature, so that
        scikit-learn's get_params/clone see them), its full constraints, and a ``fit`` that
        checks them and sets the threads first."""
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            own = cls.__dict__.get("_parameter_constraints", {})
            cls._parameter_constraints = {"model": [str, callable], **own,
                                          **{n: c for n, (_, c) in TRAINING_PARAMETERS.items()}}
            defaults = cls._training_defaults()
            signature = inspect.signature(cls.__init__)
            params = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
            params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=defaults[n])
                       for n in TRAINING_PARAMETERS]
            cls.__init__.__signature__ = signature.replace(parameters=params)
        if "fit" in cls.__dict__:
            cls.fit = _checked_fit(cls.__dict__["fit"])

    @classmethod
    def _training_defaults(cls) -> dict:
        defaults = {n: d for n, (d, _) in TRAINING_PARAMETERS.items()}
        for klass in reversed(cls.__mro__):
            defaults.update(klass.__dict__.get("_defaults", {}))
        return defaults

    def _set_training(self, training: dict) -> None:
        """Store the training parameters given to ``__init__`` (defaults for the others)."""
        unknown = sorted(set(training) - set(TRAINING_PARAMETERS))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument "
                            f"{unknown[0]!r}")
        for name, default in self._training_defaults().items():
            setattr(self, name, training.get(name, default))

    def _threads(self):
        """CPU threads (torch, BLAS) set to ``n_threads`` for the block, restored after."""
        return cpu_threads(getattr(self, "n_threads", None))

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the trained model, N × K (columns in ``classes_`` order)."""
        check_is_fitted(self, "model_")
        with self._threads():
            return self._trainer().predict_proba(self.model_, self._items(X))

    def _fit_scaling(self, X):
        """With ``standardize``, learn each feature's mean and standard deviation on the
        training items (``feature_mean_``, ``feature_scale_``; a constant feature keeps scale
        1) and return ``X`` standardised; otherwise ``X`` as given."""
        self.feature_mean_ = self.feature_scale_ = None
        if not self.standardize:
            return X
        arr = _as_array(X).astype(np.float32)
        self.feature_mean_ = arr.mean(axis=0, dtype=np.float64).astype(np.float32)
        scale = arr.std(axis=0, dtype=np.float64)
        self.feature_scale_ = np.where(scale > 1e-12, scale, 1.0).astype(np.float32)
        return self._scaled(arr)

    def _scaled(self, arr: np.ndarray) -> np.ndarray:
        if getattr(self, "feature_mean_", None) is None:
            return arr
        return (arr.astype(np.float32) - self.feature_mean_) / self.feature_scale_

    def _items(self, X) -> np.ndarray:
        """``X`` to predict on: checked like training input, items of the trained shape,
        standardised as the training items were."""
        arr = _as_array(X)
        trained = getattr(self, "input_shape_", None)
        if trained is not None and tuple(arr.shape[1:]) != tuple(trained):
            if arr.ndim == 2 and len(trained) == 1:
                raise InputError(f"X has {arr.shape[1]} features, but {type(self).__name__} "
                                 f"is expecting {trained[0]} features as input")
            raise InputError(f"X has items of shape {tuple(arr.shape[1:])} but "
                             f"{type(self).__name__} was trained on items of shape "
                             f"{tuple(trained)}")
        return self._scaled(arr)

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
    def diagnostics(self, y, y_true) -> dict[str, float]:
        """How the fit's by-products (e.g. which training labels it found clean) compare with
        the true labels ``y_true`` of the items it was fit on with labels ``y``: for
        simulations, where the truth is known. Empty for learners that have none."""
        return {}

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
        settings = {"epochs": int(epochs or self.epochs), "batch_size": int(self.batch_size),
                    "lr": float(self.lr), "optimizer": self.optimizer,
                    "weight_decay": float(self.weight_decay), "device": self.device,
                    "seed": int(seed), "progress": "auto" if self.verbose else False}
        return Trainer(**(settings | options))

    def _fresh_model(self, X: np.ndarray, n_classes: int, salt: int) -> nn.Module:
        self.input_shape_ = tuple(int(d) for d in X.shape[1:])
        self.n_features_in_ = int(np.prod(self.input_shape_))
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


def _checked_fit(fit):
    """``fit`` preceded by the parameter check and run with the learner's threads."""

    @functools.wraps(fit)
    def checked(self, X, *args, **kwargs):
        self._check_params()
        X = self._fit_scaling(X)
        with self._threads():
            return fit(self, X, *args, **kwargs)

    return checked


def align_items(X, annotations: Annotations) -> np.ndarray:
    """The rows of ``X`` for the annotated tasks, in ``annotations.tasks`` order (see
    :func:`task_rows`)."""
    X = _as_array(X)
    if not isinstance(annotations, Annotations):
        raise InputError(f"expected crowdlearn.Annotations, got {type(annotations).__name__}")
    if annotations.n_classes < 2:  # as for single labels: no classifier to train
        raise InputError(f"need at least 2 classes, the answers hold 1 class "
                         f"({annotations.classes[0]!r})")
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
    """``X`` checked once for every learner: a dense, non-empty array of items (N × features,
    or N × C × H × W images) with at least one feature and only finite values; numbers become
    float32 (uint8 images stay uint8: the Trainer scales them), anything else is an
    InputError naming the problem."""
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise InputError("X is a sparse matrix; the networks need dense input: pass "
                         "X.toarray() (or reduce its dimension first)")
    arr = np.asarray(X)
    if arr.ndim < 2 or len(arr) == 0:
        raise InputError(f"X must be a non-empty array of items (N × features or images), "
                         f"got shape {arr.shape}" + (": Reshape your data with "
                                                     "X.reshape(-1, 1) for one feature"
                                                     if arr.ndim == 1 else ""))
    if arr.shape[1] == 0 or arr.size == 0:
        raise InputError(f"X has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                         "required.")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "c":
        raise InputError("Complex data not supported: the networks need real numbers")
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"X must hold numbers, got dtype {arr.dtype}: "
                                 f"{first_line(exc)}") from None
    arr = arr.astype(np.float32, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1))[0])
        raise InputError(f"X holds {int(bad.sum())} NaN or infinite value(s), the first in "
                         f"row {row}")
    return arr


ModelSpec = str | Callable[..., nn.Module]
