"""Reading a user's features and matching rows to ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.features import read_features


def test_npy_rows_are_their_positions(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "X.npy", X)
    features = read_features(tmp_path / "X.npy")
    assert features.X.dtype == np.float32 and list(features.ids) == ["0", "1", "2", "3"]
    rows, found = features.rows_for([3, 1], "tasks")
    np.testing.assert_array_equal(rows, X[[3, 1]]) and found.all()


def test_table_with_id_column_matches_text_ids(tmp_path):
    pd.DataFrame({"item": ["b", "a", "c"], "f1": [1.0, 2, 3], "f2": [4, 5, 6]}).to_csv(
        tmp_path / "X.csv", index=False)
    features = read_features(tmp_path / "X.csv", id_col="item")
    rows, _ = features.rows_for(["a", "c"], "tasks")
    np.testing.assert_array_equal(rows, [[2, 5], [3, 6]])
    with pytest.raises(InputError, match="no id column 'id'.*--id-col"):
        read_features(tmp_path / "X.csv")
    with pytest.raises(InputError, match="1 of the tasks have no feature row: 'z'"):
        features.rows_for(["a", "z"], "tasks")
    rows, found = features.rows_for(["a", "z"], "tasks", allow_missing=True)
    assert len(rows) == 1 and list(found) == [True, False]
    with pytest.raises(InputError, match="no feature row has the id of any"):
        features.rows_for(["x", "y"], "tasks")


@pytest.mark.parametrize(("rows", "message"), [
    ({"id": ["a", "b"], "f": ["1", "x"]}, "line 3, column 'f': 'x' is not a number"),
    ({"id": ["a", "", "c", " "], "f": ["1", "2", "3", "4"]},
     r"X.csv: line 3: empty id \(column 'id'\); every feature row needs one \(2 such rows\)"),
    ({"id": ["a", "b"], "f": ["1", "inf"]}, "id 'b' holds NaN or an infinite value"),
    ({"id": ["a", "a"], "f": ["1", "2"]}, "id 'a' appears more than once"),
    ({"id": ["a", "b"]}, "no feature columns")])
def test_bad_tables(tmp_path, rows, message):
    pd.DataFrame(rows).to_csv(tmp_path / "X.csv", index=False)
    with pytest.raises(InputError, match=message):
        read_features(tmp_path / "X.csv")


def test_an_id_column_given_is_never_swapped_for_another(tmp_path):
    pd.DataFrame({"id": ["a", "b"], "f": [1.0, 2.0]}).to_csv(tmp_path / "X.csv", index=False)
    with pytest.raises(InputError, match=r"no id column 'item' \(columns: 'id', 'f'\)$"):
        read_features(tmp_path / "X.csv", id_col="item")
    assert list(read_features(tmp_path / "X.csv", id_col=("item", "id")).ids) == ["a", "b"]
    with pytest.raises(InputError, match="no id column 'item' nor 'key'"):
        read_features(tmp_path / "X.csv", id_col=("item", "key"))


def test_empty_ids_of_binary_tables_are_counted_from_row_1(tmp_path):
    pd.DataFrame({"id": ["a", None], "f": [1.0, 2.0]}).to_parquet(tmp_path / "X.parquet")
    with pytest.raises(InputError, match="X.parquet: row 2: empty id"):
        read_features(tmp_path / "X.parquet")


def test_npy_with_inf_and_wrong_shape(tmp_path):
    np.save(tmp_path / "bad.npy", np.array([[1.0, np.inf], [0, 0]]))
    with pytest.raises(InputError, match="row 0 holds NaN or an infinite value"):
        read_features(tmp_path / "bad.npy")
    np.save(tmp_path / "flat.npy", np.zeros(3))
    with pytest.raises(InputError, match="one row per item"):
        read_features(tmp_path / "flat.npy")


def test_image_folder(tmp_path):
    from PIL import Image

    (tmp_path / "imgs" / "cats").mkdir(parents=True)
    grey = np.zeros((6, 5), np.uint8)
    Image.fromarray(grey).save(tmp_path / "imgs" / "a.png")
    Image.fromarray(grey + 200).save(tmp_path / "imgs" / "cats" / "b.png")
    features = read_features(tmp_path / "imgs")
    assert features.X.shape == (2, 1, 6, 5) and features.X.dtype == np.uint8
    assert list(features.ids) == ["a", "b"] and features.X[1].max() == 200
    red = np.zeros((6, 5, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(tmp_path / "imgs" / "c.png")
    assert read_features(tmp_path / "imgs").X.shape == (3, 3, 6, 5)  # colour kept
    Image.fromarray(np.zeros((7, 5), np.uint8)).save(tmp_path / "imgs" / "cats" / "d.png")
    with pytest.raises(InputError, match="d.png is 5×7, the others 5×6"):
        read_features(tmp_path / "imgs")
    (tmp_path / "imgs" / "cats" / "d.png").unlink()
    Image.fromarray(grey).save(tmp_path / "imgs" / "cats" / "a.png")
    with pytest.raises(InputError, match="id 'a' appears more than once"):
        read_features(tmp_path / "imgs")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        read_features(tmp_path / "empty")


def test_idx_images(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + np.array([2, 3, 4], ">u4").tobytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    features = read_features(tmp_path / "train-images-idx3-ubyte")
    assert features.X.dtype == np.uint8 and features.X.shape == (2, 3, 4)
    np.testing.assert_array_equal(features.X, images)
    assert list(features.ids) == ["0", "1"]
