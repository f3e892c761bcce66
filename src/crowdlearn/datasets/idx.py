"""IDX files: MNIST and Fashion-MNIST (``train-images-idx3-ubyte.gz`` and friends).

The IDX format is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian ``uint32`` per dimension, then the values in C order. Every file is
checked against its header, so a truncated or padded download is an :class:`InputError` naming
it, not a silently wrong array.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Literal

import numpy as np

from crowdlearn.datasets.dataset import Dataset, find_data_folder
from crowdlearn.errors import InputError
from crowdlearn.inputs import read_file

__all__ = ["FASHION_MNIST_CLASSES", "load_fashion_mnist", "load_idx", "load_mnist", "read_idx"]

Split = Literal["train", "test"]

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]
"""Fashion-MNIST's class names; label ``i`` is ``FASHION_MNIST_CLASSES[i]``."""

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the four files."""

_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in one IDX file, gzip-compressed (``.gz``) or not, in native byte
    order."""
    return read_file(path, _parse_idx)


def _parse_idx(path: Path) -> np.ndarray:
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _TYPES or raw[3] == 0:
        raise InputError(f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'})")
    dtype, ndim = _TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} "
                         "dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise InputError(f"{path}: {problem}: the header announces shape {shape} of "
                         f"{dtype.name} ({expected:,} bytes) but the data is {len(raw):,} bytes")
    values = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=True)  # writable, native order


def _split_files(folder: Path, split: Split) -> tuple[Path, Path] | None:
    """The (images, labels) files of a split in ``folder``, ``.gz`` or not; None if absent."""
    prefix = _PREFIX[split]
    found = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        names = [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]
        paths = [folder / f"{n}{ext}" for n in names for ext in (".gz", "")]
        hit = next((p for p in paths if p.is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found[0], found[1]


def _check_split(split: str) -> None:
    if split not in _PREFIX:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")


def load_idx(folder: str | Path, split: Split = "train", name: str | None = None,
             classes: list | None = None) -> Dataset:
    """A split of an MNIST-style folder: ``train-images-idx3-ubyte(.gz)`` and
    ``train-labels-idx1-ubyte(.gz)``, or ``t10k-...`` for ``split="test"``.

    Returns ``X`` as ``N×1×H×W`` ``uint8`` and ``y`` as ``int64``; ``classes`` default to
    ``range(max label + 1)``.
    """
    _check_split(split)
    folder = Path(folder)
    files = _split_files(folder, split)
    if files is None:
        prefix = _PREFIX[split]
        raise InputError(f"{folder}: no {prefix}-images-idx3-ubyte(.gz) and "
                         f"{prefix}-labels-idx1-ubyte(.gz) for the {split!r} split")
    images_path, labels_path = files
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise InputError(f"{images_path}: expected N×H×W images, got shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise InputError(f"{labels_path}: {labels.shape} labels for {len(images)} images in "
                         f"{images_path.name}")
    if not len(images):
        raise InputError(f"{images_path}: holds no images (the header announces 0)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{labels_path}: labels must be integers, got {labels.dtype}")
    y = labels.astype(np.int64)
    if y.min() < 0:
        raise InputError(f"{labels_path}: negative label {int(y.min())}")
    if classes is not None and y.max() >= len(classes):
        raise InputError(f"{labels_path}: label {int(y.max())} but only {len(classes)} "
                         "classes")
    X = images if images.dtype == np.uint8 else images.astype(np.float32)
    return Dataset(X[:, None, :, :], y, classes or [], name or f"{folder.name}-{split}")


def _has_split(split: Split):
    return lambda folder: _split_files(folder, split) is not None


def load_fashion_mnist(path: str | Path | None = None, split: Split = "train") -> Dataset:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train / 10,000 test 28×28 grey images, 10
    classes named in :data:`FASHION_MNIST_CLASSES`.

    With ``path`` given, read that folder only. Otherwise the first folder holding the split
    among: ``$CROWDLEARN_DATA/fashion_mnist``, ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist``). Nothing is downloaded; the error lists every place tried.
    """
    _check_split(split)
    folder = find_data_folder("Fashion-MNIST", path, "fashion_mnist", _has_split(split),
                              system=[DEBIAN_FASHION_MNIST], needs=_needs(split))
    return load_idx(folder, split, f"fashion_mnist-{split}", FASHION_MNIST_CLASSES)


def load_mnist(path: str | Path | None = None, split: Split = "train") -> Dataset:
    """MNIST (LeCun et al. 1998): 28×28 grey digits, classes 0..9.

    With ``path`` given, read that folder only; otherwise ``$CROWDLEARN_DATA/mnist``.
    Nothing is downloaded.
    """
    _check_split(split)
    folder = find_data_folder("MNIST", path, "mnist", _has_split(split), needs=_needs(split))
    return load_idx(folder, split, f"mnist-{split}", list(range(10)))


def _needs(split: Split) -> str:
    prefix = _PREFIX[split]
    return f"{prefix}-images-idx3-ubyte(.gz) and {prefix}-labels-idx1-ubyte(.gz)"
