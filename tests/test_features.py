"""Reading a user's features and matching rows to ids."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.features import read_features


def test_npy_rows_are_their_positions(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "X.npy", X)
    features = read_features(tmp_path / "X.npy")
    assert features.X.dtype.kind == "f" and list(features.ids) == ["0", "1", "2", "3"]
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


def test_pandas_index_written_by_to_csv_is_not_a_feature(tmp_path):
    table = pd.DataFrame({"id": ["b", "a", "c"], "f1": [0.5, 1.5, 2.5], "f2": [1, 2, 3]})
    table.to_csv(tmp_path / "X.csv")  # index=True: a nameless first column 0, 1, 2
    with pytest.warns(CrowdlearnWarning, match="ignored the first column, which has no name "
                                               "and holds the row numbers 0..2"):
        features = read_features(tmp_path / "X.csv")
    assert features.columns == ["f1", "f2"] and list(features.ids) == ["b", "a", "c"]
    np.testing.assert_array_equal(features.X, table[["f1", "f2"]].to_numpy())
    (tmp_path / "R.csv").write_text('"","id","f1"\n"1","b",0.5\n"2","a",1.5\n')  # write.csv
    with pytest.warns(CrowdlearnWarning, match="holds the row numbers 1..2"):
        assert read_features(tmp_path / "R.csv").columns == ["f1"]
    table.set_index(table["id"].rename(None)).to_csv(tmp_path / "ids.csv")
    with pytest.warns(CrowdlearnWarning, match="holds the ids"):
        assert read_features(tmp_path / "ids.csv").columns == ["f1", "f2"]
    table.iloc[[0, 2]].to_csv(tmp_path / "kept.csv")  # a filtered frame's index: 0, 2
    with pytest.raises(InputError, match="the first column has no name and holds neither row "
                                         r"numbers nor the ids .*index=False"):
        read_features(tmp_path / "kept.csv")
    table.drop(columns="id").to_csv(tmp_path / "noid.csv")
    with pytest.raises(InputError, match=r"no id column 'id' .*--id-col; the first column has "
                                         "no name and holds the row numbers 0..2"):
        read_features(tmp_path / "noid.csv")
    table.set_index("id").rename_axis(None).to_csv(tmp_path / "idx.csv")
    with pytest.raises(InputError, match="if it holds the ids, name it id in the header or pass "
                                         "--id-col 'Unnamed: 0'"):
        read_features(tmp_path / "idx.csv")
    assert list(read_features(tmp_path / "idx.csv", id_col="Unnamed: 0").ids) == ["b", "a", "c"]


def test_a_parquet_index_named_id_is_the_id_column(tmp_path):
    pd.DataFrame({"id": ["b", "a"], "f": [1.0, 2.0]}).set_index("id").to_parquet(
        tmp_path / "X.parquet")
    features = read_features(tmp_path / "X.parquet")
    assert list(features.ids) == ["b", "a"] and features.columns == ["f"]


@pytest.mark.parametrize(("column", "message"), [
    (pd.to_datetime(["2024-01-01", "2024-06-01"]), "column 'g' holds datetime64.* values"),
    (pd.to_timedelta([1, 2], unit="s"), "column 'g' holds timedelta64.* values"),
    (pd.Categorical(["1", "2"]), "column 'g' holds category values"),
    (pd.Series(["1", "2"], dtype=object), "column 'g' holds string values"),  # text by type
    (pd.Series(["1", "x"]), "column 'g' holds string values")])
def test_parquet_columns_must_be_numbers_by_their_type(tmp_path, column, message):
    pd.DataFrame({"id": ["a", "b"], "f": [0.5, 1.5], "g": column}).to_parquet(
        tmp_path / "X.parquet")
    with pytest.raises(InputError, match=f"X.parquet: {message}, not numbers"):
        read_features(tmp_path / "X.parquet")


def test_typed_numbers_and_json_text_are_read(tmp_path):
    from decimal import Decimal

    pd.DataFrame({"id": ["a", "b"], "n": [1, 2], "yes": [True, False],
                  "d": [Decimal("0.25"), Decimal("1.5")]}).to_parquet(tmp_path / "X.parquet")
    np.testing.assert_array_equal(read_features(tmp_path / "X.parquet").X,
                                  [[1, 1, 0.25], [2, 0, 1.5]])
    (tmp_path / "X.json").write_text('[{"id": "a", "f": "0.5"}, {"id": "b", "f": 2}]')
    np.testing.assert_array_equal(read_features(tmp_path / "X.json").X, [[0.5], [2]])


@pytest.mark.parametrize(("text", "message"), [
    ("id;f1;f2\n1;0,5;1,25\n2;1,5;2\n",
     r"line 2, column 'f1': '0,5' is not a number: the separator is ';' and the cell holds a "
     r"decimal comma; re-save the file with decimal points \(0.5\)$"),
    ('id,f1\n1,"1,000.5"\n', "'1,000.5' is not a number: commas group its thousands"),
    ("id,f1,f2\n1,0.5,1\n2,1.5,\n",
     r"line 3 \(id '2'\), column 'f2' is empty; every feature needs a value \(1 empty "
     r"cell\)$"),
    ("id,f1,f2,\n1,0.5,1,\n2,1.5,2,\n",
     "column 'Unnamed: 3' has no name and no values: a separator at the end of each line makes "
     "an empty last column"),
    ("id,f1,f2\na,0.5,1,7\nb,1.5,2,8\n", "the data lines hold 4 fields, one more than the "
     "header"),
    ("id,f1,f2\n1,0.5,inf\n", r"id '1' holds NaN or an infinite value \(column 'f2'")])
def test_cells_written_another_way_are_explained(tmp_path, text, message):
    (tmp_path / "X.csv").write_text(text)
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



def test_values_beyond_float32_and_other_array_files_are_named(tmp_path):
    np.save(tmp_path / "big.npy", np.array([[1.0, 2.0], [0, 1e39]]))
    with pytest.raises(InputError, match="big.npy: row 1 holds 1e\\+39, beyond the networks' "
                                         "float32 range"):
        read_features(tmp_path / "big.npy")
    np.savez(tmp_path / "X.npz", a=np.zeros((2, 2)))
    with pytest.raises(InputError, match="X.npz: a .npz archive holds several arrays"):
        read_features(tmp_path / "X.npz")
    (tmp_path / "X.npy.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(InputError, match="X.npy.gz: a compressed .npy is not read"):
        read_features(tmp_path / "X.npy.gz")


def test_ids_that_do_not_match_are_explained(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((4, 2)))
    rows = read_features(tmp_path / "X.npy")
    with pytest.raises(InputError, match="1 of the answered tasks have no feature row: '4'; "
                                         "the tasks look numbered from 1 and the rows from 0"):
        rows.rows_for([1, 2, 3, 4], "answered tasks")
    assert rows.rows_for([1, 3], "answered tasks")[1].all()  # all found: nothing to explain
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for name in ("a", "b"):
        Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "imgs" / f"{name}.png")
    images = read_features(tmp_path / "imgs")
    with pytest.raises(InputError, match="image ids are the file names without their "
                                         "extension \\('a.png' is 'a'\\)"):
        images.rows_for(["a.png", "b.png"], "answered tasks")


def test_a_table_without_header_is_named(tmp_path):
    (tmp_path / "X.csv").write_text("a,0.1,0.2\nb,0.3,0.4\n")
    with pytest.raises(InputError, match="X.csv: no id column 'id' \\(columns: 'a', '0.1', "
                                         "'0.2'\\); the header looks like a row of data"):
        read_features(tmp_path / "X.csv")
    (tmp_path / "Y.csv").write_text("item,f1,f2\na,0.1,0.2\n")  # a header: no such hint
    with pytest.raises(InputError, match="name it with --id-col$"):
        read_features(tmp_path / "Y.csv")


def test_image_size_resizes_a_folder_only(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((6, 5), np.uint8)).save(tmp_path / "imgs" / "a.png")
    Image.fromarray(np.full((9, 4), 200, np.uint8)).save(tmp_path / "imgs" / "b.png")
    features = read_features(tmp_path / "imgs", image_size=(3, 7))
    assert features.X.shape == (2, 1, 3, 7) and features.image_size == (3, 7)
    assert features.X[1].min() == 200  # a flat image stays flat
    np.save(tmp_path / "X.npy", np.zeros((2, 2)))
    with pytest.raises(InputError, match="X.npy: an image size applies to a folder"):
        read_features(tmp_path / "X.npy", image_size=(3, 3))
    for bad in [(0, 3), (3,), "3x3", (2.5, 3)]:
        with pytest.raises(InputError, match="image size must be \\(height, width\\)"):
            read_features(tmp_path / "imgs", image_size=bad)


def test_true_and_false_cells_are_one_and_zero(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b", "c"], "f": [0.5, 1.5, 2.5],
                          "flag": [True, False, True]})
    frame.to_csv(tmp_path / "X.csv", index=False)  # pandas writes True / False
    features = read_features(tmp_path / "X.csv")
    assert features.X[:, 1].tolist() == [1, 0, 1]
    frame.to_parquet(tmp_path / "X.parquet")
    assert (read_features(tmp_path / "X.parquet").X == features.X).all()
    (tmp_path / "Y.csv").write_text("id,flag\na,true\nb,\nc,FALSE\n")
    with pytest.raises(InputError, match="id 'b'.*column 'flag' is empty"):
        read_features(tmp_path / "Y.csv")
    (tmp_path / "Z.csv").write_text("id,flag\na,true\nb,maybe\n")
    with pytest.raises(InputError, match="line 2, column 'flag': 'true' is not a number"):
        read_features(tmp_path / "Z.csv")


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


def test_image_folder_skips_hidden_files(tmp_path):
    from PIL import Image

    (tmp_path / "imgs" / "cats").mkdir(parents=True)
    Image.fromarray(np.zeros((6, 5), np.uint8)).save(tmp_path / "imgs" / "cats" / "a.png")
    (tmp_path / "imgs" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (tmp_path / "imgs" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to say: no image was skipped
        assert list(read_features(tmp_path / "imgs").ids) == ["a"]
    (tmp_path / "imgs" / "cats" / "._a.png").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (tmp_path / "imgs" / ".cache").mkdir()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "imgs" / ".cache" / "t.png")
    with pytest.warns(CrowdlearnWarning, match=r"skipped 2 hidden files \('.cache/t.png', "
                                               r"'cats/._a.png'\): names starting with '.'"):
        features = read_features(tmp_path / "imgs")
    assert list(features.ids) == ["a"] and features.X.shape == (1, 1, 6, 5)


def test_idx_images(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + np.array([2, 3, 4], ">u4").tobytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    features = read_features(tmp_path / "train-images-idx3-ubyte")
    assert features.X.dtype == np.uint8 and features.X.shape == (2, 1, 3, 4)  # N × C × H × W
    np.testing.assert_array_equal(features.X[:, 0], images)
    assert list(features.ids) == ["0", "1"]


# ---------------------------------------------------------------- an audit of image inputs
def _png(path, array, mode=None):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    _png(folder / "a.png", np.zeros((16, 20, 3), np.uint8))
    rotated = Image.fromarray(np.zeros((20, 16, 3), np.uint8))  # stored 16 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": shown 20 wide, 16 high
    rotated.save(folder / "b.jpg", exif=exif)
    assert read_features(folder).X.shape == (2, 1, 16, 20)  # all grey: one channel


def test_images_of_more_than_8_bits_and_bombs_are_named(tmp_path, monkeypatch):
    from PIL import Image

    deep = tmp_path / "deep"
    _png(deep / "a.png", np.full((4, 4), 300, np.uint16))
    with pytest.raises(InputError, match="a.png: a I;16 image .more than 8 bits a pixel."):
        read_features(deep)
    big = tmp_path / "big"
    _png(big / "a.png", np.zeros((40, 40), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,600 pixels: twice the limit
    with pytest.raises(InputError, match="a.png: not a readable image: Image size"):
        read_features(big)


def test_predict_gives_images_the_trained_channels(tmp_path):
    from crowdlearn.learners import StandardCE

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (12, 1, 6, 6), dtype=np.uint8)
    model = StandardCE(epochs=1, val_fraction=0.0, n_threads=1, device="cpu").fit(
        grey, np.arange(12) % 2)
    colour = np.repeat(grey, 3, axis=1)  # the same pictures, saved in colour
    np.testing.assert_allclose(model.predict_proba(colour), model.predict_proba(grey),
                               atol=1e-6)


def test_channels_last_arrays_are_named(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((5, 32, 32, 3), np.uint8))
    with pytest.warns(CrowdlearnWarning, match=r"looks like images stored channels last"):
        read_features(tmp_path / "X.npy")
