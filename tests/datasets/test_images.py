"""Image folders (one subfolder per class) and feature matrices (.npy, CSV, Parquet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.datasets import load_features, load_image_folder
from crowdlearn.errors import CrowdlearnWarning

Image = pytest.importorskip("PIL.Image")


def save(path: Path, array: np.ndarray, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


def grey(value: int, shape=(4, 6)) -> np.ndarray:
    return np.full(shape, value, dtype=np.uint8) + np.arange(shape[1], dtype=np.uint8)


def test_grey_folder(tmp_path):
    save(tmp_path / "cat" / "b.png", grey(10))
    save(tmp_path / "cat" / "a.png", grey(20))
    save(tmp_path / "ant" / "deep" / "x.png", grey(30))  # any depth below the class folder
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()
    ds = load_image_folder(tmp_path)
    assert ds.classes == ["ant", "cat"] and ds.y.tolist() == [0, 1, 1]
    assert ds.X.shape == (3, 1, 4, 6) and ds.X.dtype == np.uint8
    np.testing.assert_array_equal(ds.X[1, 0], grey(20))  # files sorted: a.png first
    np.testing.assert_array_equal(ds.X[2, 0], grey(10))
    assert ds.name == tmp_path.name


def test_colour_and_mixed_folders_become_rgb(tmp_path):
    rgb = np.stack([grey(1), grey(50), grey(100)], axis=-1)
    save(tmp_path / "a" / "c.png", rgb)
    save(tmp_path / "b" / "g.png", grey(7))
    ds = load_image_folder(tmp_path, name="mixed")
    assert ds.X.shape == (2, 3, 4, 6) and ds.name == "mixed"
    np.testing.assert_array_equal(ds.X[0], np.moveaxis(rgb, -1, 0))
    np.testing.assert_array_equal(ds.X[1, 2], grey(7))  # grey copied to every channel
    assert load_image_folder(tmp_path, mode="L").X.shape == (2, 1, 4, 6)
    with pytest.raises(InputError, match="mode must be 'L', 'RGB' or None"):
        load_image_folder(tmp_path, mode="CMYK")


def test_jpeg_and_resize(tmp_path):
    save(tmp_path / "a" / "x.jpg", np.zeros((10, 12, 3), np.uint8), "JPEG")
    save(tmp_path / "b" / "y.png", grey(5, (7, 7)))
    with pytest.raises(InputError, match=r"y.png: image is 7×7 \(width × height\) but "
                                         r".*x.jpg is 12×10; pass size="):
        load_image_folder(tmp_path, mode="L")  # the first image sets the size
    assert load_image_folder(tmp_path, size=8).X.shape == (2, 3, 8, 8)
    assert load_image_folder(tmp_path, size=(5, 9)).X.shape == (2, 3, 5, 9)
    for bad in (0, "ab", (5, -1)):
        with pytest.raises(InputError, match="image size must be .height, width., two positive"):
            load_image_folder(tmp_path, size=bad)
    save(tmp_path / "loose.png", grey(5, (7, 7)))
    with pytest.warns(CrowdlearnWarning, match="skipped 1 image outside the class folders "
                                               r"\('loose.png'\)"):
        assert len(load_image_folder(tmp_path, size=8).y) == 2


def test_damaged_images_are_named(tmp_path):
    path = save(tmp_path / "a" / "x.png", np.random.default_rng(0).integers(
        0, 256, (64, 64), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="x.png"):
        load_image_folder(tmp_path)
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError, match="x.png: not a readable image"):
        load_image_folder(tmp_path)


def test_bad_folders(tmp_path):
    with pytest.raises(InputError, match="nope: no such folder"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "loose.png").write_bytes(b"")
    with pytest.raises(InputError, match="no class subfolders"):
        load_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(InputError, match="empty_class: no images .* for class 'empty_class'"):
        load_image_folder(tmp_path)


# ---------------------------------------------------------------------- feature matrices
def test_npy_with_and_without_labels(tmp_path):
    values = np.array([[0.5, 1.0, 2.0], [1.5, 0.0, 1.0], [2.5, 2.0, 0.0]])
    np.save(tmp_path / "f.npy", values)
    ds = load_features(tmp_path / "f.npy")
    assert ds.X.dtype == np.float32 and ds.X.shape == (3, 3) and ds.y is None
    assert ds.name == "f"
    labelled = load_features(tmp_path / "f.npy", label_column=2)
    assert labelled.X.shape == (3, 2) and labelled.classes == [0, 1, 2]
    assert labelled.y.tolist() == [2, 1, 0]


def test_csv_with_text_labels_and_ids(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,x1,x2,kind\nq7,1.0,2,dog\nq8,3.5,4,cat\nq9,0,1,dog\n")
    ds = load_features(path, label_column="kind", drop=["id"])
    assert ds.classes == ["cat", "dog"] and ds.y.tolist() == [1, 0, 1]
    np.testing.assert_array_equal(ds.X, np.array([[1, 2], [3.5, 4], [0, 1]], np.float32))
    with pytest.raises(InputError, match=r"f.csv: line 2: column 'id' is not numeric "
                                         r"\('q7'\); pass it as label_column= or in drop="):
        load_features(path, label_column="kind")
    with pytest.raises(InputError, match="f.csv: no label column 'label'; columns found: "
                                         "'id', 'x1'"):
        load_features(path, label_column="label")
    with pytest.raises(InputError, match="cannot drop missing column 'name'"):
        load_features(path, label_column="kind", drop=["id", "name"])


def test_csv_text_and_other_separators_are_named(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("f1,f2,label\n1,2,x\n3,abc,y\n")
    with pytest.raises(InputError, match=r"f.csv: line 3: column 'f2' is not numeric \('abc'\)"):
        load_features(path, label_column="label")
    path.write_text("id;f1;label\na;1;x\n")
    with pytest.raises(InputError, match="no label column 'label'.*seems separated by ';'"):
        load_features(path, label_column="label")


def test_csv_missing_values_name_the_line(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("x1,x2,y\n1,2,a\n3,,b\n")
    with pytest.raises(InputError, match="gaps.csv: line 3: missing value in column 'x2'"):
        load_features(path, label_column="y")
    path.write_text("x1,x2,y\n1,2,a\n3,4,\n")
    with pytest.raises(InputError, match="gaps.csv: line 3: missing value in column 'y'"):
        load_features(path, label_column="y")
    path.write_text("x1,x2,y\n1,2,a\n3,inf,b\n")
    with pytest.raises(InputError, match="gaps.csv: line 3: an infinite value .* column 'x2'"):
        load_features(path, label_column="y")
    path.write_text("x1,x2,y\n1e300,2,a\n")  # beyond float32: infinite once read
    with pytest.raises(InputError, match="line 2: an infinite value .or one beyond float32"):
        load_features(path, label_column="y")


def test_parquet(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [True, False], "label": [3, 5]})
    frame.to_parquet(tmp_path / "f.parquet")
    ds = load_features(tmp_path / "f.parquet", label_column="label", name="pq")
    assert ds.X.tolist() == [[1.0, 1.0], [2.0, 0.0]] and ds.classes == [3, 5]
    assert ds.name == "pq"


def test_damaged_feature_files_are_named(tmp_path):
    np.save(tmp_path / "f.npy", np.ones((50, 4)))
    data = (tmp_path / "f.npy").read_bytes()
    (tmp_path / "f.npy").write_bytes(data[:300])
    with pytest.raises(InputError, match="f.npy: cannot be read"):
        load_features(tmp_path / "f.npy")
    pd.DataFrame({"a": np.arange(100.0)}).to_parquet(tmp_path / "f.parquet")
    data = (tmp_path / "f.parquet").read_bytes()
    (tmp_path / "f.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="f.parquet: cannot be read"):
        load_features(tmp_path / "f.parquet")
    np.save(tmp_path / "v.npy", np.ones(3))
    with pytest.raises(InputError, match="v.npy: expected a 2-D items × features array"):
        load_features(tmp_path / "v.npy")
    (tmp_path / "f.xlsx").write_bytes(b"x")
    with pytest.raises(InputError, match="unsupported feature file type '.xlsx'"):
        load_features(tmp_path / "f.xlsx")
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="h.csv: no feature values \\(0 rows"):
        load_features(tmp_path / "h.csv")


def test_numbered_class_folders_follow_the_library_class_order(tmp_path):
    from crowdlearn import Annotations

    for value, folder in ((10, "1"), (20, "2"), (30, "10")):
        save(tmp_path / folder / "a.png", grey(value))
    ds = load_image_folder(tmp_path)
    assert ds.classes == ["1", "2", "10"] and ds.y.tolist() == [0, 1, 2]
    # recoding the names gives back the same codes, as every other part of the library does
    names = np.asarray(ds.classes, dtype=object)[ds.y]
    again = Annotations.from_labels(names)
    assert again.classes == ds.classes and again.label.tolist() == ds.y.tolist()
