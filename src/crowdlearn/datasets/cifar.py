"""CIFAR-10 and CIFAR-100 in their "python version" layout (Krizhevsky 2009).

CIFAR-10: ``cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5``, ``test_batch``
and ``batches.meta``; CIFAR-100: ``cifar-100-python/`` with ``train``, ``test`` and ``meta``.
Each file is a (Python 2) pickle of a dict with byte-string keys: ``b"data"``, an ``N×3072``
``uint8`` array (1,024 red, then green, then blue values, rows in C order), and ``b"labels"``
(CIFAR-10) or ``b"fine_labels"``/``b"coarse_labels"`` (CIFAR-100).

Pickles can run arbitrary code, so they are read with an unpickler that only builds plain
containers and numpy arrays and refuses anything else.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crowdlearn.datasets.dataset import Dataset, find_data_folder
from crowdlearn.errors import InputError
from crowdlearn.inputs import first_line, read_file

__all__ = ["load_cifar10", "load_cifar100"]

Split = Literal["train", "test"]

_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
            ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("collections", "OrderedDict")}
_NUMPY_2 = int(np.__version__.split(".")[0]) >= 2


class SafeUnpickler(pickle.Unpickler):
    """Builds plain Python containers and numpy arrays only: a pickle naming any other
    global (a class or function it would call) is refused instead of run."""

    source: Path = Path("<pickle>")

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            if module.startswith("numpy.core.") and _NUMPY_2:  # its new name: no warning
                module = "numpy._core." + module.removeprefix("numpy.core.")
            return super().find_class(module, name)
        raise InputError(f"{self.source}: refusing to unpickle {module}.{name}: only plain "
                         "data and numpy arrays are read from pickle files")


def unpickle(path: Path, data: bytes, encoding: str = "ASCII",
             unpickler: type[SafeUnpickler] = SafeUnpickler, **kwargs: Any) -> Any:
    """Unpickle ``data`` (read from ``path``) safely; damage becomes an InputError naming it."""
    reader = unpickler(io.BytesIO(data), encoding=encoding, **kwargs)
    reader.source = path
    try:
        return reader.load()
    except InputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, ImportError, UnicodeDecodeError, MemoryError) as exc:
        raise InputError(f"{path}: not a readable pickle (truncated or damaged?): "
                         f"{first_line(exc)}") from None


def _text_keys(value: Any) -> Any:
    """A dict's byte-string keys as text (Python 2 pickles read with ``encoding="bytes"``)."""
    if isinstance(value, dict):
        return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in value.items()}
    return value


def _read_batch(path: Path) -> dict:
    def parse(p: Path) -> dict:
        content = _text_keys(unpickle(p, p.read_bytes(), encoding="bytes"))
        if not isinstance(content, dict):
            raise InputError(f"{p}: expected a pickled dict, got {type(content).__name__}")
        return content

    return read_file(path, parse)


def _names(values: Sequence, path: Path, key: str) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{path}: {key!r} should be a list of names")
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def _images_labels(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """``N×3×32×32`` uint8 images and int64 labels of one batch file, checked."""
    batch = _read_batch(path)
    for needed in ("data", key):
        if needed not in batch:
            raise InputError(f"{path}: no {needed!r} entry; entries found: "
                             f"{', '.join(map(repr, batch)) or 'none'}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        shape = getattr(data, "shape", type(data).__name__)
        raise InputError(f"{path}: 'data' should be an N×3072 array, got {shape}")
    if data.dtype != np.uint8:
        raise InputError(f"{path}: 'data' should be uint8, got {data.dtype}")
    try:
        given = np.asarray(batch[key]).reshape(-1)
        with np.errstate(invalid="ignore", over="ignore"):  # NaN, 1e300: refused below
            labels = given.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{path}: {key!r} should hold integer labels") from None
    if given.dtype.kind not in "iub" and not np.array_equal(labels, given):  # 1.2 is not 1
        raise InputError(f"{path}: {key!r} should hold integer labels, found "
                         f"{given[labels != given][0].item()!r}")
    if len(labels) != len(data):
        raise InputError(f"{path}: {len(labels)} labels for {len(data)} images")
    return data.reshape(-1, 3, 32, 32), labels


def _meta_names(path: Path, key: str, n: int) -> list:
    """Class names from a meta file, or ``range(n)`` when it is absent."""
    if not path.exists():
        return list(range(n))
    meta = _read_batch(path)
    if key not in meta:
        raise InputError(f"{path}: no {key!r} entry; entries found: "
                         f"{', '.join(map(repr, meta))}")
    return _names(meta[key], path, key)


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")


def _folder(what: str, path: str | Path | None, subfolder: str, files: Sequence[str]) -> Path:
    """``path`` or its ``subfolder`` (the archive's own folder name), else the search path."""
    if path is not None and (Path(path) / subfolder).is_dir():
        path = Path(path) / subfolder
    return find_data_folder(what, path, subfolder,
                            lambda f: all((f / name).is_file() for name in files),
                            needs=", ".join(files))


def _dataset(parts: list[tuple[np.ndarray, np.ndarray]], classes: list, name: str,
             last: Path) -> Dataset:
    X = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    y = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise InputError(f"{last}: label {int(y.min() if y.min() < 0 else y.max())} is outside "
                         f"0..{len(classes) - 1}")
    return Dataset(X, y, classes, name)


def load_cifar10(path: str | Path | None = None, split: Split = "train") -> Dataset:
    """CIFAR-10: 50,000 train / 10,000 test 32×32 colour images as ``N×3×32×32`` uint8, 10
    classes named from ``batches.meta`` (``range(10)`` if it is absent).

    ``path`` is the ``cifar-10-batches-py`` folder or the folder containing it; without it,
    ``$CROWDLEARN_DATA/cifar-10-batches-py``.
    """
    _check_split(split)
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    folder = _folder("CIFAR-10", path, "cifar-10-batches-py", files)
    parts = [_images_labels(folder / name, "labels") for name in files]
    classes = _meta_names(folder / "batches.meta", "label_names", 10)
    return _dataset(parts, classes, f"cifar10-{split}", folder / files[-1])


def load_cifar100(path: str | Path | None = None, split: Split = "train",
                  label: Literal["fine", "coarse"] = "fine") -> Dataset:
    """CIFAR-100: 50,000 train / 10,000 test 32×32 colour images as ``N×3×32×32`` uint8,
    with the 100 ``"fine"`` classes or the 20 ``"coarse"`` superclasses, named from ``meta``.

    ``path`` is the ``cifar-100-python`` folder or the folder containing it; without it,
    ``$CROWDLEARN_DATA/cifar-100-python``.
    """
    _check_split(split)
    if label not in ("fine", "coarse"):
        raise InputError(f"label must be 'fine' or 'coarse', got {label!r}")
    folder = _folder("CIFAR-100", path, "cifar-100-python", [split])
    part = _images_labels(folder / split, f"{label}_labels")
    classes = _meta_names(folder / "meta", f"{label}_label_names",
                          100 if label == "fine" else 20)
    return _dataset([part], classes, f"cifar100-{split}", folder / split)
