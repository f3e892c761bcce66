"""`Dataset`: the items (images, feature vectors or texts) and their labels, one container for
every loader; ``load_digits()``, the embedded default; and where loaders look for data files.

Label convention: ``y`` holds integer codes ``0..n_classes-1`` into ``classes``, the original
class names or ids (the same convention as :class:`~crowdlearn.Annotations`), so a model's
output maps back to the user's labels with ``classes[code]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crowdlearn.errors import InputError
from crowdlearn.labels import code

__all__ = ["DATA_ENV", "Dataset", "find_data_folder", "load_digits", "search_locations"]

DATA_ENV = "CROWDLEARN_DATA"
"""Environment variable naming a folder that holds datasets in subfolders (``fashion_mnist/``,
``labelme_rodrigues2018/``, ...): the first place the loaders look when given no path."""


@dataclass(eq=False, repr=False)
class Dataset:
    """Items and, when known, their labels.

    Parameters
    ----------
    X:
        One row per item: images as ``N×C×H×W`` (``uint8`` as stored, or ``float32``),
        feature vectors as ``N×D`` ``float32``, or texts as a 1-D object array.
    y:
        Integer codes (``int64``) into ``classes``, one per item, or ``None`` when unknown.
    classes:
        The original class names or ids; default ``range(max(y) + 1)``.
    name:
        A short name for reports and plots.
    """

    X: np.ndarray
    y: np.ndarray | None = None
    classes: list = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X)
        if self.X.ndim == 0:
            raise InputError(f"{self._who}X must have one row per item, got a scalar")
        if self.y is not None:
            y = np.asarray(self.y)
            if y.ndim != 1 or len(y) != len(self.X):
                raise InputError(f"{self._who}y has shape {y.shape} but X has {len(self.X)} "
                                 "rows: expected one label per item")
            if y.size and not np.issubdtype(y.dtype, np.integer):
                raise InputError(f"{self._who}y must hold integer class codes, got dtype "
                                 f"{y.dtype}")
            self.y = y.astype(np.int64, copy=False)
        self.classes = list(self.classes)
        if self.y is not None and len(self.y):
            if not self.classes:
                self.classes = list(range(int(self.y.max()) + 1))
            low, high = int(self.y.min()), int(self.y.max())
            if low < 0 or high >= len(self.classes):
                raise InputError(f"{self._who}label code {low if low < 0 else high} is outside "
                                 f"0..{len(self.classes) - 1} (the {len(self.classes)} classes)")

    @property
    def _who(self) -> str:
        return f"dataset {self.name!r}: " if self.name else ""

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one item: ``(C, H, W)`` for images, ``(D,)`` for features."""
        return tuple(self.X.shape[1:])

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        labels = "unlabelled" if self.y is None else f"{self.n_classes} classes"
        return (f"Dataset({self.name or 'unnamed'!r}: {len(self):,} items of shape "
                f"{self.input_shape}, {self.X.dtype}, {labels})")

    def subset(self, idx: Sequence[int] | np.ndarray) -> Dataset:
        """The items at positions (or a boolean mask) ``idx``; classes are kept whole."""
        idx = np.asarray(idx)
        return Dataset(self.X[idx], None if self.y is None else self.y[idx], self.classes,
                       self.name)

    def train_test_split(self, test_size: float | int = 0.2, seed: int | None = 0,
                         stratify: bool = True) -> tuple[Dataset, Dataset]:
        """Two disjoint subsets (train, test), stratified by ``y`` when it is known and
        ``stratify`` is true (scikit-learn's ``train_test_split``)."""
        from sklearn.model_selection import train_test_split

        positions = np.arange(len(self))
        by = self.y if stratify and self.y is not None else None
        try:
            train, test = train_test_split(positions, test_size=test_size, random_state=seed,
                                           stratify=by)
        except ValueError as exc:  # e.g. a class with a single item, or test_size too large
            raise InputError(f"{self._who}cannot split: {exc}") from None
        return self.subset(np.sort(train)), self.subset(np.sort(test))


def load_digits() -> Dataset:
    """scikit-learn's handwritten digits (1,797 images, 10 classes), shipped inside
    scikit-learn, so every command works on a fresh machine with no data files.

    ``X`` is ``N×1×8×8`` ``float32`` in ``[0, 1]`` (the 0..16 grey levels divided by 16): an
    MLP flattens it, a small CNN takes it as is. ``classes`` are the digits 0..9.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    X = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    return Dataset(X, bunch.target.astype(np.int64), list(range(10)), "digits")


# ---------------------------------------------------------------------- where data lives
def search_locations(subfolder: str, system: Sequence[str | Path] = ()) -> list[Path]:
    """Where a loader given no path looks for the dataset ``subfolder``, in order:

    1. ``$CROWDLEARN_DATA/<subfolder>`` when the variable is set;
    2. the ``system`` folders (e.g. ``/usr/share/datasets/fashion-mnist``, where Debian's
       ``dataset-fashion-mnist`` package installs it).

    Nothing else: an installed library knows no folder layout of its own.
    """
    places: list[Path] = []
    env = os.environ.get(DATA_ENV)
    if env:
        places.append(Path(env).expanduser() / subfolder)
    places += [Path(p) for p in system]
    unique: list[Path] = []
    for place in places:
        if place.absolute() not in [p.absolute() for p in unique]:
            unique.append(place)
    return unique


def find_data_folder(what: str, path: str | Path | None, subfolder: str,
                     has: Callable[[Path], bool], system: Sequence[str | Path] = (),
                     needs: str = "") -> Path:
    """The folder to read ``what`` from: ``path`` itself when given (no fallback: a path the
    user names is never silently replaced), else the first of :func:`search_locations` for
    which ``has(folder)`` is true. The error lists every location tried and what a folder
    must hold (``needs``)."""
    places = [Path(path)] if path is not None else search_locations(subfolder, system)
    for place in places:
        if place.is_dir() and has(place):
            return place
    hint = "" if path is not None else (f"\nPass the folder as an argument or set {DATA_ENV} "
                                        f"to a folder holding {subfolder}/.")
    needed = f" (it needs {needs})" if needs else ""
    if not places:
        raise InputError(f"{what} not found{needed}: no folder given and {DATA_ENV} is not "
                         f"set.{hint}")
    tried = "\n".join(f"  {p}{_state(p)}" for p in places)
    raise InputError(f"{what} not found{needed}; looked in:\n{tried}{hint}")


def _state(place: Path) -> str:
    if place.is_dir():
        return ""
    return " (not a folder)" if place.exists() else " (absent)"


def codes_of(labels: Sequence[Hashable] | np.ndarray,
             classes: Sequence[Hashable] | None = None) -> tuple[np.ndarray, list]:
    """Integer codes of labels and the class list (sorted labels seen, unless given), by the
    library's one coding routine (:func:`crowdlearn.labels.code`)."""
    codes, ids = code(np.asarray(labels), classes)
    return codes.astype(np.int64, copy=False), ids
