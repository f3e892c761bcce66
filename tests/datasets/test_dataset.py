"""The Dataset container, the embedded digits, and where loaders look for data."""

from __future__ import annotations

import numpy as np
import pytest

import crowdlearn.datasets.dataset as dataset_module
from crowdlearn import InputError
from crowdlearn.datasets import DATA_ENV, Dataset, load_digits, search_locations
from crowdlearn.datasets.dataset import find_data_folder


def small(n_per_class: int = 10, k: int = 3) -> Dataset:
    y = np.repeat(np.arange(k), n_per_class)
    X = np.arange(len(y) * 4, dtype=np.float32).reshape(len(y), 4)
    return Dataset(X, y, ["a", "b", "c"][:k], "small")


def test_properties_and_repr():
    ds = small()
    assert len(ds) == 30 and ds.n_classes == 3 and ds.input_shape == (4,)
    assert ds.y.dtype == np.int64
    assert repr(ds) == "Dataset('small': 30 items of shape (4,), float32, 3 classes)"
    images = Dataset(np.zeros((2, 1, 5, 6), np.uint8))
    assert images.input_shape == (1, 5, 6) and images.y is None and images.classes == []
    assert "unlabelled" in repr(images)


def test_classes_default_to_the_codes_seen():
    assert Dataset(np.zeros((3, 2)), np.array([0, 4, 1])).classes == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("y, message", [
    (np.array([0, 1]), "y has shape \\(2,\\) but X has 3 rows"),
    (np.array([0.0, 1.0, 1.0]), "integer class codes"),
    (np.array([0, 1, 3]), "label code 3 is outside 0..2"),
    (np.array([0, -1, 1]), "label code -1 is outside"),
])
def test_bad_labels(y, message):
    with pytest.raises(InputError, match=message):
        Dataset(np.zeros((3, 2)), y, ["a", "b", "c"], "bad")


def test_subset_keeps_classes():
    ds = small()
    sub = ds.subset([0, 29, 5])
    assert sub.y.tolist() == [0, 2, 0] and sub.classes == ds.classes
    np.testing.assert_array_equal(sub.X[1], ds.X[29])
    masked = ds.subset(ds.y == 1)
    assert len(masked) == 10 and set(masked.y) == {1}
    assert Dataset(np.zeros((3, 2))).subset([2]).y is None


def test_train_test_split_is_stratified_disjoint_and_seeded():
    ds = small(n_per_class=20)
    train, test = ds.train_test_split(test_size=0.25, seed=3)
    assert (len(train), len(test)) == (45, 15)
    assert np.bincount(test.y).tolist() == [5, 5, 5]
    rows = {tuple(r) for r in train.X} | {tuple(r) for r in test.X}
    assert len(rows) == 60  # disjoint and complete
    again, _ = ds.train_test_split(test_size=0.25, seed=3)
    np.testing.assert_array_equal(again.X, train.X)
    other, _ = ds.train_test_split(test_size=0.25, seed=4)
    assert not np.array_equal(other.X, train.X)


def test_train_test_split_unlabelled_and_impossible():
    train, test = Dataset(np.zeros((10, 2))).train_test_split(0.3)
    assert (len(train), len(test)) == (7, 3)
    lonely = Dataset(np.zeros((5, 2)), np.array([0, 0, 0, 0, 1]))
    with pytest.raises(InputError, match="cannot split"):
        lonely.train_test_split(0.4)


def test_load_digits():
    ds = load_digits()
    assert ds.X.shape == (1797, 1, 8, 8) and ds.X.dtype == np.float32
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.classes == list(range(10)) and np.bincount(ds.y).min() >= 170
    assert ds.name == "digits"


# ---------------------------------------------------------------------- locations
def test_search_order_env_then_system_and_nothing_else(tmp_path, monkeypatch):
    env, cwd = tmp_path / "env", tmp_path / "work" / "here"
    cwd.mkdir(parents=True)
    (tmp_path / "work" / "shared" / "data" / "thing").mkdir(parents=True)  # a layout of ours
    monkeypatch.setenv(DATA_ENV, str(env))
    monkeypatch.chdir(cwd)
    places = search_locations("thing", system=["/usr/share/datasets/thing"])
    assert places == [env / "thing", dataset_module.Path("/usr/share/datasets/thing")]


def test_without_env_a_loader_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert search_locations("thing") == []
    with pytest.raises(InputError, match=f"no folder given and {DATA_ENV} is not set"):
        find_data_folder("Thing", None, "thing", lambda f: True)


def test_find_data_folder_lists_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as info:
        find_data_folder("Thing", None, "thing", lambda f: True, system=[tmp_path / "sys"],
                         needs="thing.bin")
    message = str(info.value)
    assert "Thing not found (it needs thing.bin)" in message
    for place in (tmp_path / "env" / "thing", tmp_path / "sys"):
        assert str(place) in message
    assert DATA_ENV in message


def test_find_data_folder_prefers_env_and_never_replaces_a_given_path(tmp_path, monkeypatch):
    (tmp_path / "env" / "thing").mkdir(parents=True)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert find_data_folder("Thing", None, "thing", lambda f: True) == tmp_path / "env" / "thing"
    with pytest.raises(InputError, match=f"looked in:\n  {tmp_path / 'given'} \\(absent\\)$"):
        find_data_folder("Thing", tmp_path / "given", "thing", lambda f: True)


def test_find_data_folder_says_when_a_path_is_a_file(tmp_path):
    (tmp_path / "file.gz").write_bytes(b"x")
    with pytest.raises(InputError, match="file.gz \\(not a folder\\)$"):
        find_data_folder("Thing", tmp_path / "file.gz", "thing", lambda f: True)
