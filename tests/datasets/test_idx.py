"""IDX (MNIST, Fashion-MNIST) files written byte by byte in the format's layout."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import crowdlearn.datasets.idx as idx_module
from crowdlearn import InputError
from crowdlearn.datasets import (
    DATA_ENV,
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    load_idx,
    load_mnist,
    read_idx,
)
from tests.conftest import real_data

TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding: 0, 0, type code, ndim; big-endian uint32 dims; big-endian data."""
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, TYPE_CODES[big.dtype], array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def mnist_folder(folder: Path, n_train: int = 6, n_test: int = 4, gz: bool = True,
                 size: tuple[int, int] = (28, 28), seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, *size), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        ext = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels, gz)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_both_splits(tmp_path, gz):
    arrays = mnist_folder(tmp_path / "m", gz=gz)
    train = load_idx(tmp_path / "m")
    assert train.X.shape == (6, 1, 28, 28) and train.X.dtype == np.uint8
    np.testing.assert_array_equal(train.X[:, 0], arrays["train"][0])
    assert train.y.tolist() == [0, 1, 2, 3, 4, 5] and train.y.dtype == np.int64
    assert train.classes == [0, 1, 2, 3, 4, 5] and train.name == "m-train"
    test = load_idx(tmp_path / "m", split="test")
    np.testing.assert_array_equal(test.X[:, 0], arrays["t10k"][0])
    assert len(test) == 4


def test_read_idx_other_types_and_dotted_names(tmp_path):
    values = np.arange(6, dtype=np.int32).reshape(2, 3) - 2
    assert read_idx(write_idx(tmp_path / "a.idx", values.astype(">i4"))).tolist() == \
        values.tolist()
    floats = read_idx(write_idx(tmp_path / "f.idx", np.array([0.5, -1.5], ">f4"), gz=False))
    assert floats.dtype == np.float32 and floats.tolist() == [0.5, -1.5]
    folder = tmp_path / "dotted"
    folder.mkdir()  # some mirrors write train-images.idx3-ubyte
    write_idx(folder / "train-images.idx3-ubyte", np.zeros((2, 3, 3), np.uint8), gz=False)
    write_idx(folder / "train-labels.idx1-ubyte", np.array([1, 0], np.uint8), gz=False)
    assert load_idx(folder).X.shape == (2, 1, 3, 3)


def test_missing_split(tmp_path):
    (tmp_path / "m").mkdir()
    write_idx(tmp_path / "m" / "t10k-images-idx3-ubyte.gz", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(InputError, match="no train-images-idx3-ubyte\\(.gz\\) and "
                                         "train-labels-idx1-ubyte\\(.gz\\)"):
        load_idx(tmp_path / "m")
    with pytest.raises(InputError, match="split must be 'train' or 'test'"):
        load_idx(tmp_path / "m", split="valid")


def test_truncated_gzip_names_the_file(tmp_path):
    mnist_folder(tmp_path / "m")
    path = tmp_path / "m" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError, match="train-images-idx3-ubyte.gz: cannot be read"):
        load_idx(tmp_path / "m")


def test_truncated_and_padded_data(tmp_path):
    good = idx_bytes(np.zeros((3, 4, 4), np.uint8))
    cut = tmp_path / "cut"
    cut.write_bytes(good[:-5])
    with pytest.raises(InputError, match="cut: truncated: the header announces shape "
                                         "\\(3, 4, 4\\)"):
        read_idx(cut)
    padded = tmp_path / "padded.gz"
    padded.write_bytes(gzip.compress(good + b"\0"))
    with pytest.raises(InputError, match="padded.gz: has trailing bytes"):
        read_idx(padded)
    header = tmp_path / "header"
    header.write_bytes(good[:9])
    with pytest.raises(InputError, match="header: truncated IDX header"):
        read_idx(header)


def test_not_idx(tmp_path):
    text = tmp_path / "notes.gz"
    text.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(InputError, match="notes.gz: not an IDX file \\(magic number 68656c6c\\)"):
        read_idx(text)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty: the file is empty"):
        read_idx(empty)


def test_images_and_labels_must_match(tmp_path):
    folder = tmp_path / "m"
    mnist_folder(folder)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(InputError, match="train-labels-idx1-ubyte.gz: \\(5,\\) labels for 6 "
                                         "images"):
        load_idx(folder)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros(6, np.uint8))
    with pytest.raises(InputError, match="train-images-idx3-ubyte.gz: expected N×H×W images"):
        load_idx(folder)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((0, 2, 2), np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    with pytest.raises(InputError, match="train-images-idx3-ubyte.gz: holds no images"):
        load_idx(folder)


# ---------------------------------------------------------------------- named datasets
def test_fashion_mnist_from_a_given_path(tmp_path):
    mnist_folder(tmp_path / "fm")
    ds = load_fashion_mnist(tmp_path / "fm", split="test")
    assert ds.classes == FASHION_MNIST_CLASSES and ds.name == "fashion_mnist-test"
    assert ds.X.shape == (4, 1, 28, 28)


def test_fashion_mnist_searches_env_first(tmp_path, monkeypatch):
    mnist_folder(tmp_path / "data" / "fashion_mnist", n_train=3)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    assert len(load_fashion_mnist()) == 3


def test_not_found_lists_every_location(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.setattr(idx_module, "DEBIAN_FASHION_MNIST", str(tmp_path / "debian"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert message.startswith("Fashion-MNIST not found (it needs train-images-idx3-ubyte")
    for place in (tmp_path / "data" / "fashion_mnist", tmp_path / "debian"):
        assert f"{place} (absent)" in message
    assert "shared" not in message  # no folder layout of ours
    # a folder that exists but lacks the split is tried, and said so
    mnist_folder(tmp_path / "data" / "mnist")
    (tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError, match=f"MNIST not found .*\n  {tmp_path / 'data' / 'mnist'}\n"):
        load_mnist()
    assert load_mnist(split="test").classes == list(range(10))


def test_a_given_path_is_not_replaced(tmp_path, monkeypatch):
    mnist_folder(tmp_path / "data" / "fashion_mnist")
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    with pytest.raises(InputError, match="looked in:\n  .*elsewhere \\(absent\\)$"):
        load_fashion_mnist(tmp_path / "elsewhere")


# ---------------------------------------------------------------------- the real files
def test_real_fashion_mnist():
    folder = real_data("fashion_mnist")
    test = load_fashion_mnist(folder, split="test")
    assert test.X.shape == (10000, 1, 28, 28) and test.X.dtype == np.uint8
    assert np.bincount(test.y).tolist() == [1000] * 10
    train = load_fashion_mnist(folder)
    assert train.X.shape == (60000, 1, 28, 28) and np.bincount(train.y).tolist() == [6000] * 10


def test_real_mnist_test_split():
    test = load_mnist(real_data("mnist"), split="test")
    assert test.X.shape == (10000, 1, 28, 28)
    assert np.bincount(test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                            1009]
