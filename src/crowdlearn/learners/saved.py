"""Saving a trained learner to a folder and loading it back, without pickle.

A saved learner is a folder holding

* ``learner.json`` — the format, the learner's class and hyper-parameters, its classes, the
  shape of one input item and the library versions;
* one ``<attribute>.pt`` per network needed to predict — a torch state dict (tensors only),
  read back with ``torch.load(..., weights_only=True)``, which cannot run code;
* ``arrays.npz`` — the other fitted arrays needed to predict, if any (read without pickle).

A loaded learner predicts exactly what the saved one did. A missing, truncated or altered file
is an :class:`~crowdlearn.errors.InputError` naming it.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from crowdlearn.errors import InputError
from crowdlearn.labels import plain
from crowdlearn.outputs import atomic_folder

FORMAT = "crowdlearn-learner/1"
MANIFEST = "learner.json"
ARRAYS = "arrays.npz"
ESTIMATOR = "crowdlearn_estimator"
TUPLE = "crowdlearn_tuple"


def save(learner, folder: str | Path, *, force: bool = False) -> Path:
    """Write a fitted learner to ``folder`` (created; an existing non-empty folder is refused
    unless ``force``). The folder appears complete or not at all."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(learner, "model_")
    folder = Path(folder)
    params = learner.get_params(deep=False) | {"checkpoint": None}  # a fit-time folder
    if not isinstance(params.get("model"), str):
        raise InputError("a learner whose model is a callable cannot be saved by name: save "
                         "model_.state_dict() yourself, or use one of the named models")
    manifest = {
        "format": FORMAT,
        "class": type(learner).__name__,
        "params": _json_ready(params, "a hyper-parameter"),
        "classes": _json_ready(plain(learner.classes_), "a class id"),
        "input_shape": list(learner.input_shape_),
        "input_uint8": getattr(learner, "input_uint8_", None),
        "modules": list(learner._saved_modules),
        "arrays": list(_arrays(learner)),
        "extra": _json_ready(learner._saved_extra(), "a saved setting"),
        "feature_names": _feature_names(learner),
        "versions": {name: _version(name) for name in ("crowdlearn", "torch", "numpy")},
    }
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not force:
        raise InputError(f"{folder}: already exists and is not an empty folder; pass "
                         "force=True (--force) to replace it")
    if not folder.parent.exists():
        raise InputError(f"{folder}: folder {folder.parent} does not exist")
    with atomic_folder(folder) as tmp:
        for name in learner._saved_modules:
            state = {k: v.detach().cpu() for k, v in getattr(learner, name).state_dict().items()}
            torch.save(state, tmp / f"{name}.pt")
        if _arrays(learner):
            np.savez(tmp / ARRAYS, **{n: np.asarray(getattr(learner, n))
                                      for n in _arrays(learner)})
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return folder


def load(folder: str | Path):
    """The learner saved in ``folder`` by :func:`save`, ready to predict."""
    from crowdlearn import learners

    folder = Path(folder)
    manifest = _read_manifest(folder)
    cls = getattr(learners, str(manifest["class"]), None)
    if not (isinstance(cls, type) and issubclass(cls, learners.Learner)):
        raise InputError(f"{folder / MANIFEST}: unknown learner class {manifest['class']!r}")
    try:
        learner = cls(**_from_json(manifest["params"]))
        shape, classes = tuple(int(d) for d in manifest["input_shape"]), manifest["classes"]
        modules = learner._modules_for_loading(shape, len(classes), manifest.get("extra", {}))
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"{folder / MANIFEST}: does not describe a {manifest['class']}: "
                         f"{exc}") from None
    if sorted(modules) != sorted(manifest["modules"]):
        raise InputError(f"{folder / MANIFEST}: lists networks {manifest['modules']}, a "
                         f"{manifest['class']} has {sorted(modules)}")
    for name, module in modules.items():
        path = folder / f"{name}.pt"
        state = _read(path, lambda p: torch.load(p, map_location="cpu", weights_only=True))
        try:
            module.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}: does not fit the {manifest['class']} network: "
                             f"{str(exc).splitlines()[0]}") from None
        module.eval()
        setattr(learner, name, module)
    learner.feature_mean_ = learner.feature_scale_ = None  # unless saved below
    if manifest["arrays"]:
        path = folder / ARRAYS
        arrays = _read(path, lambda p: dict(np.load(p, allow_pickle=False)))
        missing = [n for n in manifest["arrays"] if n not in arrays]
        if missing:
            raise InputError(f"{path}: lacks {', '.join(missing)}")
        for name in manifest["arrays"]:
            setattr(learner, name, arrays[name])
    learner.classes_ = classes
    learner.input_shape_ = shape
    if manifest.get("input_uint8") is not None:  # recorded since 2026-12
        learner.input_uint8_ = bool(manifest["input_uint8"])
    learner.n_features_in_ = int(np.prod(shape))
    learner._restore_extra(manifest.get("extra", {}))
    if manifest.get("feature_names"):
        learner.feature_names_in_ = np.asarray(manifest["feature_names"], dtype=object)
    return learner


# ---------------------------------------------------------------------- helpers
def _arrays(learner) -> tuple[str, ...]:
    """The fitted arrays to save: the learner's own and the feature scaling, if any."""
    scaling = (("feature_mean_", "feature_scale_")
               if getattr(learner, "feature_mean_", None) is not None else ())
    return (*learner._saved_arrays, *scaling)


def _feature_names(learner) -> list[str] | None:
    """The column names the learner was fit on (``feature_names_in_``), if any."""
    names = getattr(learner, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (a saved learner is a folder)")
    text = _read(path, lambda p: p.read_text())
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: damaged ({exc.msg} at line {exc.lineno})") from None
    needed = ("format", "class", "params", "classes", "input_shape", "modules", "arrays")
    if not isinstance(manifest, dict) or any(k not in manifest for k in needed):
        raise InputError(f"{path}: not a saved crowdlearn learner (it needs {', '.join(needed)})")
    if manifest["format"] != FORMAT:
        raise InputError(f"{path}: format {manifest['format']!r}, this version reads {FORMAT}")
    return manifest


def _read(path: Path, read):
    if not path.is_file():
        raise InputError(f"{path}: missing from the saved learner")
    try:
        return read(path)
    except Exception as exc:  # noqa: BLE001 - torch, zipfile, numpy: truncated or altered
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: damaged or not written by crowdlearn ({first})") from None


def _json_ready(value, what: str):
    """``value`` as JSON (numpy scalars unwrapped; a crowdlearn aggregator as its class name
    and parameters); anything else is refused, naming it."""
    from crowdlearn import aggregation

    if isinstance(value, aggregation.Aggregator) and \
            getattr(aggregation, type(value).__name__, None) is type(value):
        return {ESTIMATOR: type(value).__name__,
                "params": _json_ready(value.get_params(deep=False), what)}
    if isinstance(value, dict):
        return {str(k): _json_ready(v, what) for k, v in value.items()}
    if isinstance(value, tuple):
        return {TUPLE: [_json_ready(v, what) for v in value]}
    if isinstance(value, list):
        return [_json_ready(v, what) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":  # e.g. MaxMIG's prior
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    shown = " ".join(repr(value).split())
    raise InputError(f"{what} of type {type(value).__name__} "
                     f"({shown if len(shown) <= 60 else shown[:57] + '...'}) cannot be saved "
                     "as JSON")


def _from_json(value):
    """Inverse of :func:`_json_ready` for the hyper-parameters."""
    from crowdlearn import aggregation

    if isinstance(value, dict) and ESTIMATOR in value:
        cls = getattr(aggregation, str(value[ESTIMATOR]), None)
        if not (isinstance(cls, type) and issubclass(cls, aggregation.Aggregator)):
            raise ValueError(f"unknown aggregator {value[ESTIMATOR]!r}")
        return cls(**_from_json(value.get("params", {})))
    if isinstance(value, dict) and TUPLE in value:
        return tuple(_from_json(v) for v in value[TUPLE])
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"

