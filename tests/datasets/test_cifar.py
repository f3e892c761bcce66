"""CIFAR-10/100 python batches, written as pickles of dicts with byte-string keys."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from crowdlearn import InputError
from crowdlearn.datasets import DATA_ENV, load_cifar10, load_cifar100

CIFAR10_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                 b"horse", b"ship", b"truck"]


def batch_images(n: int, seed: int) -> np.ndarray:
    """``n`` rows of 3,072 bytes: 1,024 red, 1,024 green, 1,024 blue values, row-major."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def dump(path: Path, content: dict) -> Path:
    # protocol 2 with bytes keys: what the Python 2 originals decode to with encoding="bytes"
    path.write_bytes(pickle.dumps(content, protocol=2))
    return path


def cifar10_folder(root: Path, n: int = 2, meta: bool = True) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
        dump(folder / name, {b"batch_label": f"batch {i}".encode(),
                             b"labels": [(i + j) % 10 for j in range(n)],
                             b"data": batch_images(n, i),
                             b"filenames": [f"img_{i}_{j}.png".encode() for j in range(n)]})
    if meta:
        dump(folder / "batches.meta", {b"num_cases_per_batch": n, b"label_names": CIFAR10_NAMES,
                                       b"num_vis": 3072})
    return folder


def test_cifar10_train_and_test(tmp_path):
    folder = cifar10_folder(tmp_path)
    train = load_cifar10(folder)
    assert train.X.shape == (10, 3, 32, 32) and train.X.dtype == np.uint8
    assert train.y.tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert train.classes[:2] == ["airplane", "automobile"] and train.name == "cifar10-train"
    first = batch_images(2, 0)[1]
    np.testing.assert_array_equal(train.X[1, 0, 0, :], first[:32])  # red, first row
    np.testing.assert_array_equal(train.X[1, 1, 2, 5], first[1024 + 2 * 32 + 5])  # green
    np.testing.assert_array_equal(train.X[1, 2, 31, 31], first[3071])  # blue, last pixel
    test = load_cifar10(folder, split="test")
    assert len(test) == 2 and test.y.tolist() == [5, 6]


def test_cifar10_parent_folder_env_and_no_meta(tmp_path, monkeypatch):
    cifar10_folder(tmp_path / "data", meta=False)
    assert len(load_cifar10(tmp_path / "data")) == 10  # the folder holding the archive's one
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    ds = load_cifar10(split="test")
    assert ds.classes == list(range(10))


def test_cifar10_missing_batch(tmp_path):
    folder = cifar10_folder(tmp_path)
    os.remove(folder / "data_batch_4")
    with pytest.raises(InputError, match="CIFAR-10 not found \\(it needs data_batch_1, .*"
                                         "data_batch_5\\)"):
        load_cifar10(folder)


def test_cifar10_truncated_batch(tmp_path):
    folder = cifar10_folder(tmp_path)
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(InputError, match="data_batch_3: not a readable pickle"):
        load_cifar10(folder)


def test_cifar10_malformed_batches(tmp_path):
    folder = cifar10_folder(tmp_path)
    dump(folder / "test_batch", {b"labels": [0], b"data": np.zeros((1, 100), np.uint8)})
    with pytest.raises(InputError, match="test_batch: 'data' should be an N×3072 array"):
        load_cifar10(folder, split="test")
    dump(folder / "test_batch", {b"labels": [0, 1], b"data": batch_images(1, 0)})
    with pytest.raises(InputError, match="test_batch: 2 labels for 1 images"):
        load_cifar10(folder, split="test")
    dump(folder / "test_batch", {b"data": batch_images(1, 0)})
    with pytest.raises(InputError, match="test_batch: no 'labels' entry"):
        load_cifar10(folder, split="test")
    dump(folder / "test_batch", {b"labels": [10], b"data": batch_images(1, 0)})
    with pytest.raises(InputError, match="test_batch: label 10 is outside 0..9"):
        load_cifar10(folder, split="test")
    dump(folder / "test_batch", {b"labels": [0.5], b"data": batch_images(1, 0)})
    with pytest.raises(InputError, match="'labels' should hold integer labels, found 0.5"):
        load_cifar10(folder, split="test")
    dump(folder / "test_batch", [1, 2])
    with pytest.raises(InputError, match="test_batch: expected a pickled dict, got list"):
        load_cifar10(folder, split="test")


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickles_cannot_run_code(tmp_path):
    folder = cifar10_folder(tmp_path)
    dump(folder / "test_batch", {b"labels": [0], b"data": Exploit()})
    with pytest.raises(InputError, match="test_batch: refusing to unpickle .*system"):
        load_cifar10(folder, split="test")


def test_numpy_1_pickles_load(tmp_path):
    folder = cifar10_folder(tmp_path)
    raw = pickle.dumps({b"labels": [3], b"data": batch_images(1, 9)}, protocol=2)
    # numpy 1.x names the array rebuilder numpy.core.multiarray (the real CIFAR files do)
    (folder / "test_batch").write_bytes(raw.replace(b"numpy._core.multiarray",
                                                    b"numpy.core.multiarray"))
    np.testing.assert_array_equal(load_cifar10(folder, split="test").X[0].reshape(-1),
                                  batch_images(1, 9)[0])


def py2_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """A batch as Python 2's cPickle wrote the released files (protocol 2): ``str`` keys and
    the array's bytes as (SHORT_)BINSTRING, the array rebuilt by numpy.core.multiarray."""
    def J(i):  # BININT
        return b"J" + struct.pack("<i", i)

    def U(s):  # SHORT_BINSTRING: a Python 2 str
        return b"U" + bytes([len(s)]) + s

    dtype = (b"cnumpy\ndtype\n(" + U(b"u1") + b"K\x00K\x01tR"
             + b"(K\x03" + U(b"|") + b"NNN" + J(-1) + J(-1) + b"K\x00tb")
    raw = data.tobytes()
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + U(b"b")
             + b"\x87R(K\x01(" + b"".join(J(d) for d in data.shape) + b"t" + dtype + b"\x89"
             + b"T" + struct.pack("<I", len(raw)) + raw + b"tb")
    return (b"\x80\x02}(" + U(b"data") + array + U(b"labels") + b"]("
            + b"".join(J(label) for label in labels) + b"eu.")


def test_python2_pickles_as_released(tmp_path):
    folder = cifar10_folder(tmp_path)
    (folder / "test_batch").write_bytes(py2_batch(batch_images(3, 5), [7, 8, 9]))
    test = load_cifar10(folder, split="test")
    assert test.y.tolist() == [7, 8, 9]
    np.testing.assert_array_equal(test.X.reshape(3, -1), batch_images(3, 5))


def test_cifar100_fine_and_coarse(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for split, n in (("train", 5), ("test", 3)):
        dump(folder / split, {b"filenames": [b"x.png"] * n, b"batch_label": b"training",
                              b"fine_labels": [99 - j for j in range(n)],
                              b"coarse_labels": [j for j in range(n)],
                              b"data": batch_images(n, n)})
    dump(folder / "meta", {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                           b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})
    train = load_cifar100(tmp_path)
    assert train.X.shape == (5, 3, 32, 32) and train.y.tolist() == [99, 98, 97, 96, 95]
    assert train.n_classes == 100 and train.classes[99] == "fine99"
    coarse = load_cifar100(folder, split="test", label="coarse")
    assert coarse.y.tolist() == [0, 1, 2] and coarse.classes[:2] == ["coarse0", "coarse1"]
    with pytest.raises(InputError, match="label must be 'fine' or 'coarse'"):
        load_cifar100(folder, label="medium")
    with pytest.raises(InputError, match="split must be 'train' or 'test'"):
        load_cifar100(folder, split="valid")
