"""What every learner (a method that trains a model) shares: building the network, training it
with the one :class:`~crowdlearn.nn.Trainer`, and predicting in the user's class ids."""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from enum import IntEnum
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning, InputError, InputTypeError, named_few
from crowdlearn.features import as_float
from crowdlearn.inputs import first_line
from crowdlearn.learners.folder_lock import folder_lock
from crowdlearn.nn import Trainer, make_model
from crowdlearn.nn.models import check_model_params
from crowdlearn.nn.threads import cpu_threads
from crowdlearn.nn.trainer import CheckpointMismatch, data_digest, differing
from crowdlearn.params import FRACTION as FRACTION  # the learners import them from here
from crowdlearn.params import (
    NON_NEGATIVE_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    DeclaredParameters,
    Integers,
)


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
    "lr": (1e-3, [POSITIVE_REAL]),
    "optimizer": ("adam", [StrOptions({"adam", "sgd"})]),
    "weight_decay": (0.0, [NON_NEGATIVE_REAL]),
    "standardize": (False, ["boolean"]),
    "device": ("auto", [str]),
    "seed": (0, [Integers(0, 2**32 - 1)]),  # scikit-learn's range; torch seeds are 64-bit
    "verbose": (False, ["boolean"]),
    "n_threads": (None, [POSITIVE_INT, None]),
    "checkpoint": (None, [str, os.PathLike, None]),
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
    setting) and ``checkpoint`` (a folder, created if needed, where every training run of
    the fit keeps its checkpoint, ``run-00.pt``, ``run-01.pt``, … in the fit's order, with
    ``fit.json`` recording the parameters and a digest of the data: a fit started again
    with the same folder, parameters and data loads the finished runs, continues the
    interrupted one and ends as an uninterrupted fit; other parameters or data are refused,
    naming what differs). A subclass declares only its own parameters
    and their constraints (``_parameter_constraints``, scikit-learn's pattern); every
    parameter is checked when ``fit`` starts, before any work, numpy scalars accepted.

    Fitted attributes shared by all: ``model_`` (the trained torch module), ``classes_``,
    ``history_``, ``input_shape_`` (the shape of one item) and, when ``X`` was a DataFrame
    with text column names, ``feature_names_in_`` (a DataFrame given to predict is then
    matched by column name, as in scikit-learn).

    Rows of ``X``: for the crowd learners (``fit(X, annotations)``), a DataFrame is matched
    to the tasks by its index (ids compared as text); an array's row i is task
    ``annotations.tasks[i]`` (the sorted task ids) when it has one row per task, else
    integer task ids are row numbers (see :func:`align_items`). For the learners from one
    label per item (``fit(X, y)``), labels are matched to rows by position, as in
    scikit-learn, except when ``X`` is a DataFrame indexed by id (not the default 0..n−1)
    and ``y`` a Series whose index holds the same ids in another order: ``y`` is then put
    in ``X``'s order by id; indexes with different ids are refused (pass ``y.to_numpy()``
    to match by position; see :func:`align_labels`).

    Two fits never share a ``checkpoint`` folder: a fit holds the folder's lock (the
    system's lock on the file ``fit.lock``, released when the fit's process ends, however it
    ends) while it runs, and one started meanwhile with the same folder is refused, naming
    the process and host (see :mod:`crowdlearn.learners.folder_lock`).

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

    def _check_params(self) -> None:
        """The declared constraints, then ``model_params`` against the model's options."""
        super()._check_params()
        check_model_params(self.model, self.model_params)

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
        arr = _as_array(X)
        arr = arr if arr.dtype == np.float64 else arr.astype(np.float32)
        kind = arr.dtype  # float64 only where float32 merges values (features.as_float)
        self.feature_mean_ = arr.mean(axis=0, dtype=np.float64).astype(kind)
        scale = arr.std(axis=0, dtype=np.float64)
        self.feature_scale_ = np.where(scale > 1e-12, scale, 1.0).astype(kind)
        return self._scaled(arr)

    def _scaled(self, arr: np.ndarray) -> np.ndarray:
        if getattr(self, "feature_mean_", None) is None:
            return arr
        if self.feature_mean_.dtype == np.float64:  # offsets beyond float32's 7 digits
            return ((arr.astype(np.float64) - self.feature_mean_)
                    / self.feature_scale_).astype(np.float32)
        return (arr.astype(np.float32) - self.feature_mean_) / self.feature_scale_

    def _items(self, X) -> np.ndarray:
        """``X`` to predict on: checked like training input (a DataFrame's columns put in
        the training order), items of the trained shape, standardised as the training items
        were."""
        mean = getattr(self, "feature_mean_", None)
        arr = self._as_trained_kind(_as_array(self._in_feature_order(X), precise=(
            mean is not None and mean.dtype == np.float64)))
        trained = getattr(self, "input_shape_", None)
        if trained is not None:
            arr = _as_trained_channels(arr, tuple(trained))
        if trained is not None and tuple(arr.shape[1:]) != tuple(trained):
            if arr.ndim == 2 and len(trained) == 1:
                raise InputError(f"X has {arr.shape[1]} features, but {type(self).__name__} "
                                 f"is expecting {trained[0]} features as input")
            raise InputError(f"X has items of shape {tuple(arr.shape[1:])} but "
                             f"{type(self).__name__} was trained on items of shape "
                             f"{tuple(trained)}")
        return self._scaled(arr)

    def _as_trained_kind(self, arr: np.ndarray) -> np.ndarray:
        """Items of the kind the network was trained on: 8-bit pixels (uint8, which the
        trainer scales by 1/255) or numbers as they are. A float copy of 8-bit pixels (a CSV
        of 0..255, a float .npy) is cast back to uint8, and uint8 given to a model of floats
        is read as the numbers it holds, so that the same values give the same predictions
        in any file format; floats that are not 0..255 integers, for a model of pixels, are
        an :class:`InputError`. Standardised models take any kind (they were never scaled)."""
        pixels = getattr(self, "input_uint8_", None)
        if pixels is None or getattr(self, "feature_mean_", None) is not None:
            return arr
        if not pixels:
            return arr.astype(np.float32) if arr.dtype == np.uint8 else arr
        if arr.dtype == np.uint8:
            return arr
        if arr.size and ((arr < 0) | (arr > 255) | (arr != np.round(arr))).any():
            raise InputError("the model was trained on 8-bit pixel values (uint8, 0..255, "
                             "scaled by 1/255 in the network), but these features are not "
                             "0..255 integers: give them as the model was trained on them")
        return arr.astype(np.uint8)

    def _record_feature_names(self, X) -> None:
        """``feature_names_in_``: the column names of a DataFrame ``X`` when all are text
        (scikit-learn's rule); removed otherwise."""
        names = _column_names(X)
        if names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = np.asarray(names, dtype=object)

    def _in_feature_order(self, X):
        """A DataFrame ``X`` with its columns in the order the learner was fit on; a
        missing or unknown column is an InputError naming it. Anything else as it is."""
        trained = getattr(self, "feature_names_in_", None)
        names = _column_names(X)
        if trained is None or names is None:
            return X
        trained = [str(c) for c in trained]
        if names == trained:
            return X
        given, known = set(names), set(trained)
        missing = [c for c in trained if c not in given]
        if missing:
            raise InputError(f"X lacks {len(missing)} feature column(s) the model was fit on: "
                             f"{named_few(missing)}")
        unseen = [c for c in names if c not in known]
        if unseen:
            raise InputError(f"X has {len(unseen)} feature column(s) the model was not fit "
                             f"on: {named_few(unseen)}")
        return X[trained]

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
        function, parameter groups, …) are passed on or override them. During a fit with a
        ``checkpoint`` folder, each Trainer that trains keeps its checkpoint there."""
        settings = {"epochs": int(epochs or self.epochs), "batch_size": int(self.batch_size),
                    "lr": float(self.lr), "optimizer": self.optimizer,
                    "weight_decay": float(self.weight_decay), "device": self.device,
                    "seed": int(seed), "progress": "auto" if self.verbose else False}
        runs = getattr(self, "_fit_runs", None)
        if runs is not None:
            return _NumberedTrainer(Path(self.checkpoint), runs, **(settings | options))
        return Trainer(**(settings | options))

    @contextlib.contextmanager
    def _checkpoints(self, X: np.ndarray, target) -> Iterator[None]:
        """With a ``checkpoint`` folder, for the fit's lifetime: create the folder, hold its
        lock (:mod:`~crowdlearn.learners.folder_lock`: a folder in use by a live fit is
        refused), check that its ``fit.json`` records this fit (parameters and data) or
        write it, and number the fit's training runs from 0. The lock is released however
        the fit ends."""
        self._fit_runs = None
        if self.checkpoint is None:
            yield
            return
        folder = Path(self.checkpoint)
        if not folder.parent.is_dir():
            raise InputError(f"checkpoint folder {folder}: folder {folder.parent} does not "
                             "exist")
        if folder.exists() and not folder.is_dir():
            raise InputError(f"checkpoint folder {folder}: is a file")
        record = self._fit_record(X, target)
        folder.mkdir(exist_ok=True)
        with folder_lock(folder):
            path = folder / FIT_RECORD
            if path.exists():
                _check_fit_record(path, record, _target_name(target))
            else:
                from crowdlearn.outputs import atomic_write

                atomic_write(path, lambda p: Path(p).write_text(json.dumps(record, indent=1)))
            self._fit_runs = itertools.count()
            try:
                yield
            finally:
                self._fit_runs = None

    def _fit_record(self, X: np.ndarray, target) -> dict:
        """What defines a fit: the learner, its parameters (those that change the result)
        and digests of ``X`` and of the labels or answers."""
        from crowdlearn.learners.saved import _json_ready

        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k not in ("checkpoint", "verbose", "n_threads", "device")}
        if callable(params.get("model")):
            params["model"] = getattr(params["model"], "__qualname__", "callable")
        return {"learner": type(self).__name__,
                "params": json.loads(json.dumps(_json_ready(params, "a hyper-parameter"))),
                "data": {"X": data_digest(X), "labels": _target_digest(target)}}

    def _fresh_model(self, X: np.ndarray, n_classes: int, salt: int) -> nn.Module:
        self.input_shape_ = tuple(int(d) for d in X.shape[1:])
        self.input_uint8_ = bool(X.dtype == np.uint8)  # pixels the trainer scales by 1/255
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
    """``fit`` preceded by the parameter check, the alignment of ``X`` to the annotated
    tasks (crowd learners) or of the labels to ``X`` (:func:`align_labels`), the feature
    names and scaling, and the checkpoint folder (locked while the fit runs); run with the
    learner's threads. A fit that raises (or is interrupted) leaves the learner's attributes
    as they were: an earlier fit stays usable, its scaling with it. A ``fit`` called from
    within another (a subclass's ``fit`` calling ``super().fit``) runs as it is: the outer
    call has done all this."""
    signature = inspect.signature(fit)
    labelled = [n for n in ("y", "y_clean") if n in signature.parameters]

    @functools.wraps(fit)
    def checked(self, X, *args, **kwargs):
        if self.__dict__.get("_in_fit"):
            return fit(self, X, *args, **kwargs)
        self._check_params()
        if labelled:
            args, kwargs = _aligned_labels(signature, labelled, self, X, args, kwargs)
        target = args[0] if args else kwargs.get("annotations", kwargs.get("y"))
        before = dict(self.__dict__)  # a fit that fails or is interrupted changes nothing
        try:
            self._record_feature_names(X)
            if isinstance(target, Annotations):
                X = align_items(X, target)  # scaled with the training items' statistics
            X = self._fit_scaling(X)
            self._in_fit = True
            with self._checkpoints(X, target), self._threads(), rows_in_task_order():
                return fit(self, X, *args, **kwargs)  # X's rows are the tasks' from here
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        finally:
            self.__dict__.pop("_in_fit", None)

    return checked


def _aligned_labels(signature: inspect.Signature, names: list[str], learner, X, args: tuple,
                    kwargs: dict) -> tuple[tuple, dict]:
    """``fit``'s arguments with the labels named ``names`` (``y``, ``y_clean``) put in the
    order of ``X``'s rows by :func:`align_labels`; the arguments as given when they do not
    bind (``fit`` then raises Python's own TypeError)."""
    try:
        bound = signature.bind(learner, X, *args, **kwargs)
    except TypeError:
        return args, kwargs
    for name in names:
        if bound.arguments.get(name) is not None:
            bound.arguments[name] = align_labels(X, bound.arguments[name], name)
    return bound.args[2:], bound.kwargs


def align_labels(X, y, name: str = "y", stacklevel: int = 4):
    """``y`` in the order of ``X``'s rows. When both are pandas objects (a DataFrame ``X``
    whose index names its rows, not the default 0..n−1, and a Series or one-column
    DataFrame ``y``) whose indexes hold the same ids, ``y`` is reordered by index (ids
    matched as :func:`crowdlearn.labels.positions` matches them); when they hold different
    ids it is an :class:`InputError` naming a few; anything else is matched by position, as
    scikit-learn does (``pd.DataFrame(scaler.fit_transform(df))`` gets a fresh 0..n−1 index
    that says nothing about ``df``'s rows)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame) and not _indexed_by_id(X) and _ids_not_rows(y):
        warnings.warn(f"X has the default index 0…n−1 and {name}'s index holds ids "
                      f"({named_few(list(y.index))}): matched by position; give X those "
                      f"ids as its index to match by id ({name}.to_numpy() says position "
                      "is meant)", CrowdlearnWarning, stacklevel=stacklevel)
    if not (_indexed_by_id(X) and isinstance(y, (pd.Series, pd.DataFrame))):
        return y
    if X.index.equals(y.index):
        return y
    from crowdlearn.labels import positions

    for index, what in ((X.index, "X"), (y.index, name)):
        if index.has_duplicates:
            raise InputError(f"{what}'s index repeats the id "
                             f"{index[index.duplicated()][0]!r}, so the rows of X and {name} "
                             f"cannot be matched by id; give {name} in X's row order as an "
                             "array (matched by position) or with X's index")
    where = positions(y.index, X.index)
    unlabelled = [X.index[i] for i in np.flatnonzero(where < 0)]
    extra = np.ones(len(y), dtype=bool)
    extra[where[where >= 0]] = False
    if unlabelled or extra.any():
        found = [f"{len(unlabelled)} row(s) of X have no label in {name} "
                 f"({named_few(unlabelled)})"] if unlabelled else []
        found += [f"{int(extra.sum())} label(s) of {name} have no row in X "
                  f"({named_few(list(y.index[extra]))})"] if extra.any() else []
        raise InputError(f"X's index and {name}'s index hold different ids: "
                         f"{' and '.join(found)}; give {name} with the ids of X's index, or "
                         f"{name}.to_numpy() to match rows by position")
    return y.iloc[where]


FIT_RECORD = "fit.json"


class Carried:
    """What a method's training step or ``on_epoch_end`` carries from epoch to epoch, by
    name: dicts and dataclass instances (whose fields hold tensors, numpy arrays, numbers,
    …) and numpy random generators. Given to a Trainer as ``extra_state``, it is saved with
    each checkpoint and restored on resume: a dict's items and an instance's fields are
    replaced (closures must read them through their holder), a generator's state is set."""

    def __init__(self, **holders):
        self.holders = holders

    def state_dict(self) -> dict:
        return {name: _saved_value(holder) for name, holder in self.holders.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, holder in self.holders.items():
            _restore_into(holder, state[name])


def _fields(holder) -> dict:
    return holder if isinstance(holder, dict) else vars(holder)


def _saved_value(value):
    if isinstance(value, np.random.Generator):
        return {"generator": value.bit_generator.state}
    if isinstance(value, np.ndarray):
        return {"ndarray": torch.from_numpy(np.ascontiguousarray(value))}
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict) or hasattr(value, "__dataclass_fields__"):
        return {"fields": {k: _saved_value(v) for k, v in _fields(value).items()}}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _loaded_value(saved):
    if isinstance(saved, dict) and "ndarray" in saved:
        return saved["ndarray"].numpy()
    if isinstance(saved, dict) and "fields" in saved:
        return {k: _loaded_value(v) for k, v in saved["fields"].items()}
    return saved


def _restore_into(holder, saved: dict) -> None:
    """Put ``saved`` (a :func:`_saved_value` of a dict or dataclass) back into ``holder``."""
    if isinstance(holder, np.random.Generator):
        holder.bit_generator.state = saved["generator"]
        return
    fields = _fields(holder)
    for key, value in saved["fields"].items():
        current = fields.get(key)
        if isinstance(current, np.random.Generator):
            current.bit_generator.state = value["generator"]
        elif isinstance(holder, dict):
            holder[key] = _loaded_value(value)
        else:
            setattr(holder, key, _loaded_value(value))


class _NumberedTrainer(Trainer):
    """A :class:`Trainer` whose checkpoint, in a learner's checkpoint folder, is named when
    its training starts by the run's order in the learner's fit (``run-00.pt``, …), and
    resumed when it exists."""

    def __init__(self, folder: Path, runs: Iterator[int], **settings):
        super().__init__(**settings)
        self._folder, self._runs = folder, runs

    def fit(self, *args, **kwargs) -> Trainer:
        self.checkpoint, self.resume = self._folder / f"run-{next(self._runs):02d}.pt", True
        return super().fit(*args, **kwargs)


def _check_fit_record(path: Path, record: dict, labels: str = "the labels (y)") -> None:
    """Refuse a checkpoint folder made by another fit, naming what differs in words and
    Python values (``lr=0.001 in the checkpoint, 0.01 in this fit``); ``labels`` names the
    fit's labels or answers. The remedy follows the last "; ": the command line replaces
    it with its own."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: damaged ({exc}); remove the folder to start over") from None
    remedy = "rerun with the same parameters and data, or remove the folder to start over"
    if saved.get("learner") != record["learner"]:
        raise CheckpointMismatch(f"{path.parent}: holds the checkpoints of a "
                                 f"{saved.get('learner')} fit, not {record['learner']}; "
                                 f"{remedy}")
    for name, value in record["params"].items():
        differs = differing(name, saved.get("params", {}), value, "fit")
        if differs:
            raise CheckpointMismatch(f"{path.parent}: {differs}; {remedy}")
    named = {"X": "the features (X)", "labels": labels}
    for name, digest in record["data"].items():
        if saved.get("data", {}).get(name) != digest:
            raise CheckpointMismatch(f"{path.parent}: {named.get(name, name)} differ from "
                                     f"the checkpoint's; {remedy}")


def _target_name(target) -> str:
    """How a mismatch message names the labels or answers a fit was given."""
    if isinstance(target, Annotations):
        return "the crowd's answers (annotations)"
    return "the labels (y)"


def _target_digest(target) -> str | None:
    """A digest of the labels (an array) or of the answers (ids, codes and classes)."""
    if isinstance(target, Annotations):  # data_digest takes ids as text
        ids = [np.asarray(i, dtype=object) for i in (target.tasks, target.workers,
                                                     target.classes)]
        return "/".join(data_digest(a) for a in (*ids, target.task, target.worker,
                                                 target.label))
    return data_digest(target)


def _column_names(X) -> list[str] | None:
    """A DataFrame's column names when every one is text (scikit-learn's rule), else
    ``None``."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = list(columns)
    return names if names and all(isinstance(c, str) for c in names) else None


def align_items(X, annotations: Annotations) -> np.ndarray:
    """The rows of ``X`` for the annotated tasks, in ``annotations.tasks`` order: a
    DataFrame by its index (task ids compared as text, as the command line compares them;
    rows of other ids are ignored, a task without a row is an error naming a few), an array
    by position (see :func:`task_rows`). A DataFrame with the default index 0..n−1 is taken
    as an array."""
    if not isinstance(annotations, Annotations):
        raise InputError(f"expected crowdlearn.Annotations, got {type(annotations).__name__}")
    if annotations.n_classes < 2:  # as for single labels: no classifier to train
        raise InputError(f"need at least 2 classes, the answers hold 1 class "
                         f"({annotations.classes[0]!r})")
    if _indexed_by_id(X):  # rows of other ids are never read, nor checked
        return _as_array(X.iloc[rows_of_tasks(X, annotations)])
    X = _as_array(X)
    rows = rows_of_tasks(X, annotations)
    if not _ROWS_IN_TASK_ORDER.get() and not np.issubdtype(
            np.asarray(annotations.tasks).dtype, np.integer):
        warnings.warn(f"X has no task ids: its row i is taken for annotations.tasks[i] "
                      f"({named_few(annotations.tasks)}); give X as a DataFrame indexed "
                      "by task id to match its rows by id, or fit within crowdlearn.learners."
                      "rows_in_task_order() when its rows already follow annotations.tasks",
                      CrowdlearnWarning, stacklevel=3)
    return X if np.array_equal(rows, np.arange(len(X))) else X[rows]


_ROWS_IN_TASK_ORDER: ContextVar[bool] = ContextVar("rows_in_task_order", default=False)


@contextlib.contextmanager
def rows_in_task_order() -> Iterator[None]:
    """Within the block, an array ``X`` with text task ids is known to be in
    ``annotations.tasks`` order (a caller matched its rows by id, as the command line does),
    so :func:`align_items` does not warn that it matches them by position."""
    token = _ROWS_IN_TASK_ORDER.set(True)
    try:
        yield
    finally:
        _ROWS_IN_TASK_ORDER.reset(token)


def rows_of_tasks(X, annotations: Annotations) -> np.ndarray:
    """The row of ``X`` each annotated task (in task-code order) belongs to, found as
    :func:`align_items` finds it: a DataFrame indexed by id by its index (every task needs a
    row; rows of other ids are left out), anything else by position (:func:`task_rows`)."""
    if not isinstance(annotations, Annotations):
        raise InputError(f"expected crowdlearn.Annotations, got {type(annotations).__name__}")
    if _indexed_by_id(X):
        return _rows_by_id(X.index, annotations)
    return task_rows(annotations, len(X))


def _ids_not_rows(y) -> bool:
    """Whether ``y`` is a pandas object whose index holds ids, not row numbers: text such
    as ``"0010"`` that is not the numbers 0..n−1. An index of integers is taken for row
    numbers (a split of a frame with the default index: ``train_test_split`` keeps them),
    where matching by position is scikit-learn's rule and nothing to warn about."""
    import pandas as pd

    if not isinstance(y, (pd.Series, pd.DataFrame)) or pd.api.types.infer_dtype(
            y.index, skipna=True) in ("integer", "empty"):
        return False
    return sorted(map(str, y.index)) != sorted(map(str, range(len(y))))


def _indexed_by_id(X) -> bool:
    """Whether ``X`` is a DataFrame whose index names its items (not the default
    0..n−1)."""
    import pandas as pd

    return isinstance(X, pd.DataFrame) and not (isinstance(X.index, pd.RangeIndex)
                                                and X.index.start == 0 and X.index.step == 1)


def _rows_by_id(index, annotations: Annotations) -> np.ndarray:
    """Positions in ``index`` of the annotated tasks, ids matched as the library matches
    them (:func:`crowdlearn.labels.positions`: as given, then as text)."""
    import pandas as pd

    from crowdlearn.labels import positions

    ids = pd.Index(index).map(str)
    if ids.has_duplicates:
        raise InputError(f"X's index repeats the id {ids[ids.duplicated()][0]!r}: each task "
                         "needs one row")
    position = positions(index, annotations.tasks)
    if (position < 0).any():
        wanted = [str(t) for t in annotations.tasks]
        missing = [t for t, p in zip(wanted, position, strict=True) if p < 0]
        raise InputError(f"X has no row for {len(missing)} of the {len(wanted)} annotated "
                         f"tasks: {named_few(missing)} (its index must hold the task ids, "
                         f"e.g. {named_few(wanted, 2)}; it holds "
                         f"{named_few(list(ids), 2)})")
    return position


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


def _as_trained_channels(arr: np.ndarray, trained: tuple) -> np.ndarray:
    """Images with the channels the network was trained on: grey ones repeated for a colour
    model, colour ones as their luminance (ITU-R 601-2, Pillow's ``convert("L")``) for a grey
    one, so that a folder's images predict whatever their colours; a model trained on
    N × H × W arrays (before they got their channel axis) takes N × 1 × H × W."""
    if arr.ndim == 4 and len(trained) == 3 and arr.shape[2:] == trained[1:]:
        have, want = arr.shape[1], trained[0]
        if have == 1 and want == 3:
            return np.repeat(arr, 3, axis=1)
        if have == 3 and want == 1:
            grey = np.tensordot(np.array([0.299, 0.587, 0.114]), arr, axes=([0], [1]))
            grey = grey[:, None]
            return np.round(grey).astype(np.uint8) if arr.dtype == np.uint8 else (
                grey.astype(arr.dtype))
    if arr.ndim == 4 and arr.shape[1] == 1 and arr.shape[2:] == trained:
        return arr[:, 0]
    return arr


def _as_array(X, precise: bool = False) -> np.ndarray:
    """``X`` checked once for every learner: a dense, non-empty array of items (N × features,
    or N × C × H × W images) with at least one feature and only finite values; numbers become
    float32 (uint8 images stay uint8: the Trainer scales them; float64 stays where float32
    would merge values, :func:`crowdlearn.features.as_float`, or always when ``precise``: a
    model standardised in float64), anything else is an InputError naming the problem."""
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise InputError("X is a sparse matrix; the networks need dense input: pass "
                         "X.toarray() (or reduce its dimension first)")
    try:
        arr = np.asarray(X)
    except ValueError as exc:  # rows of different lengths
        raise InputError(f"X is not a rectangular array of items: {first_line(exc)}") from None
    if arr.ndim < 2 or len(arr) == 0:
        raise InputError(f"X must be a non-empty array of items (N × features or images), "
                         f"got shape {arr.shape}" + (". Reshape your data with "
                                                     "X.reshape(-1, 1) if it holds one "
                                                     "feature, or X.reshape(1, -1) if it "
                                                     "is one item"
                                                     if arr.ndim == 1 else ""))
    if arr.shape[1] == 0 or arr.size == 0:
        raise InputError(f"X has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                         "required.")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "c":
        raise InputError("Complex data not supported: the networks need real numbers")
    if arr.dtype.kind not in "biuf":
        import pandas as pd

        missing = pd.isna(arr) if arr.dtype == object else np.zeros(arr.shape, bool)
        if missing.any():  # None, pd.NA: the float cast would only say 'NAType'
            row, *col = np.argwhere(missing)[0]
            raise InputError(f"X holds {int(missing.sum())} missing value(s) (None, NA), the "
                             f"first in row {row}" + (f", column {col[0]}" if col else ""))
        try:
            arr = arr.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"X must hold numbers, got dtype {arr.dtype}: "
                                 f"{first_line(exc)}") from None
    _check_finite(arr, "NaN or infinite value(s)")
    if arr.dtype != np.float64 or not precise:
        with np.errstate(over="ignore"):  # beyond float32: refused just below, by name
            arr = as_float(arr) if arr.dtype == np.float64 else arr.astype(np.float32,
                                                                           copy=False)
        _check_finite(arr, "value(s) beyond float32's range (±3.4e38)")
    return arr


def _check_finite(arr: np.ndarray, what: str) -> None:
    """An InputError counting the values that are not finite (``what`` they are) and naming
    the first one's row."""
    if arr.dtype.kind != "f":
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1))[0])
        raise InputError(f"X holds {int(bad.sum())} {what}, the first in row {row}")


ModelSpec = str | Callable[..., nn.Module]
