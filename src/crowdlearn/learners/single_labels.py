"""What the learners from one possibly wrong label per item share (Standard CE, Co-teaching,
Me-Momentum, TwoEM): checking and coding the labels, and the noisy validation split carved
from the training data (10% by default, seeded, labels as noisy as the rest, as in the
Me-Momentum code of Bai & Liu, ICCV 2021)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import DataConversionWarning
from torch import nn

from crowdlearn.errors import InputError
from crowdlearn.labels import code, lookup
from crowdlearn.learners.base import _as_array


def encode_labels(X, y) -> tuple[np.ndarray, np.ndarray, list]:
    """``X`` as an array, the labels as codes 0..K−1 and the class ids (sorted; see
    :mod:`crowdlearn.labels`)."""
    X = _as_array(X)
    if y is None:
        raise InputError("this learner requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; it is "
                      "read as one label per row", DataConversionWarning, stacklevel=3)
        y = y.ravel()
    if y.ndim != 1:
        raise InputError(f"labels must be 1-D (one label per item), got shape {y.shape}")
    if len(y) != len(X):
        raise InputError(f"X has {len(X)} rows but there are {len(y)} labels")
    missing = np.flatnonzero(pd.isna(y))
    if len(missing):
        raise InputError(f"label of row {missing[0]} is missing ({len(missing)} rows in all)")
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        example = y[np.flatnonzero(y != np.round(y))[0]].item()
        raise InputError(f"the labels are continuous numbers (e.g. {example!r}): these "
                         "learners classify; give class labels")
    codes, classes = code(y, name="label", warn_near=True)  # "3" and "3.0": one class?
    if len(classes) < 2:
        raise InputError(f"need at least 2 classes, the labels hold {len(classes)} class")
    return X, codes.astype(np.int64, copy=False), classes


def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training part and of the noisy validation part (``fraction`` of ``n``,
    drawn without replacement with ``seed``); no validation part when ``fraction`` is 0."""
    if not 0 <= fraction < 1:
        raise InputError(f"val_fraction must be in [0, 1), got {fraction!r}")
    n_val = int(round(n * fraction))
    if fraction > 0 and (n_val < 1 or n - n_val < 2):
        raise InputError(f"val_fraction={fraction} of {n} items leaves no usable split")
    val = np.sort(np.random.default_rng(seed).choice(n, size=n_val, replace=False))
    train = np.setdiff1d(np.arange(n), val)
    return train, val


def check_clean_labels(y_clean, classes: list, n: int) -> np.ndarray | None:
    """Codes of optional true labels given for diagnostics only (never used in training)."""
    if y_clean is None:
        return None
    y_clean = np.asarray(y_clean)
    if y_clean.shape != (n,):
        raise InputError(f"y_clean must hold one label per row of X ({n}), got shape "
                         f"{y_clean.shape}")
    return lookup(y_clean, classes, "y_clean label",
                  "among the noisy labels' classes").astype(np.int64)


def restored(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of ``model`` with the weights ``state``."""
    twin = copy.deepcopy(model)
    twin.load_state_dict(state)
    return twin
