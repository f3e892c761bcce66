"""Datasets by name (what the command line and the experiments ask for) and plain label files.

``digits`` is embedded and split once, stratified with seed 0, into 1,300 training and 497 test
images (the experiments' split); the others read standard files the user has (see each loader).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn.datasets.cifar import load_cifar10, load_cifar100
from crowdlearn.datasets.dataset import Dataset, load_digits
from crowdlearn.datasets.idx import load_fashion_mnist, load_mnist
from crowdlearn.errors import InputError
from crowdlearn.inputs import read_file, read_table
from crowdlearn.labels import code, missing_mask

Split = Literal["train", "test", "all"]
DIGITS_TEST_SIZE = 497


def _digits(split: Split) -> Dataset:
    full = load_digits()
    if split == "all":
        return full
    train, test = full.train_test_split(test_size=DIGITS_TEST_SIZE, seed=0)
    return train if split == "train" else test


def _files(loader: Callable[..., Dataset]) -> Callable[[Split], Dataset]:
    def load_split(split: Split) -> Dataset:
        if split == "all":
            raise InputError("split 'all' exists only for digits; ask for 'train' or 'test'")
        return loader(split=split)

    return load_split


DATASETS: dict[str, Callable[[Split], Dataset]] = {
    "digits": _digits,
    "fashion-mnist": _files(load_fashion_mnist),
    "mnist": _files(load_mnist),
    "cifar10": _files(load_cifar10),
    "cifar100": _files(load_cifar100),
}


def load(name: str, split: Split = "train") -> Dataset:
    """The ``split`` of a dataset known by name: one of :data:`DATASETS`."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if split not in ("train", "test", "all"):
        raise InputError(f"split must be 'train', 'test' or 'all', got {split!r}")
    return DATASETS[name](split)


def _task_ids(ids: pd.Series, path: Path) -> list:
    """The id column's values; an empty or repeated id is refused, naming its line."""
    blank = missing_mask(ids)
    if blank.any():
        raise InputError(f"{path}: line {int(np.flatnonzero(blank)[0]) + 2}: empty "
                         f"{ids.name!r}")
    repeated = ids.duplicated()
    if repeated.any():
        first = int(np.flatnonzero(repeated.to_numpy())[0])
        raise InputError(f"{path}: line {first + 2}: {ids.name} {ids.iloc[first]!r} is "
                         "listed twice")
    return ids.tolist()


def read_labels(path: str | Path) -> tuple[np.ndarray, list, list]:
    """True labels from a file: ``(class codes, class ids, task ids)``.

    A ``.npy`` vector, or a CSV with a ``label`` column (and optionally ``task``, e.g. a gold
    file written by ``crowdlearn simulate``, or ``id``, the other commands' default) or a
    single header-less column of labels. Text
    files are read as text, ids and labels kept exactly as written, and coded by the
    library's one routine (:func:`crowdlearn.labels.code`: numbers-as-text sort by value).
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        values = read_file(path, lambda p: np.load(p, allow_pickle=False))
        if values.ndim != 1:
            raise InputError(f"{path}: expected a 1-D array of labels, got shape {values.shape}")
        column, task_ids = pd.Series(values), list(range(len(values)))
        blank = missing_mask(column)
        if blank.any():
            raise InputError(f"{path}: label missing (NaN) at index "
                             f"{int(np.flatnonzero(blank)[0])}")
    else:
        table = read_table(path, header=None, skipinitialspace=True)
        header = [str(c).strip() for c in table.iloc[0]]
        if "label" in header:
            table = table.iloc[1:].set_axis(header, axis=1).reset_index(drop=True)
            column = table["label"]
            ids = next((c for c in ("task", "id") if c in header), None)  # id: other commands'
            task_ids = (_task_ids(table[ids], path) if ids is not None
                        else list(range(len(table))))
        elif table.shape[1] == 1:
            column, task_ids = table.iloc[:, 0], list(range(len(table)))
        else:
            raise InputError(f"{path}: expected a 'label' column or a single column of "
                             f"labels, found {table.shape[1]} columns without 'label'")
        blank = missing_mask(column)
        if blank.any():
            raise InputError(f"{path}: label missing on data row "
                             f"{int(np.flatnonzero(blank)[0]) + 1}")
    if len(column) == 0:
        raise InputError(f"{path}: no labels")
    codes, classes = code(column, origin=f"{path}: ")
    return codes.astype(np.int64, copy=False), classes, task_ids
