"""What an audit of the readers found: each file here was once read wrongly or with an
unhelpful message (a stray quote losing rows, made-up first rows, float matrices, pipes,
binary files under text names, ...)."""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import threading
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, InputError
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.inputs import read_table, read_task_labels


def _no_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrowdlearnWarning)
        return call()


# ---------------------------------------------------------------- 1. a stray quote
def test_stray_quote_in_last_column_is_an_error_naming_its_line(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text('task,worker,label\n1,a,"x\n1,b,x\n2,a,y\n')
    with pytest.raises(InputError, match=r"answers.csv: line 2: a quoted field starts here"):
        read_table(path)


@pytest.mark.parametrize("line", ['9,a,"x', '9,"a,x'])
def test_stray_quote_in_a_large_file_loses_no_rows_silently(tmp_path, line):
    # Arrow's reader splits a large file into blocks at line ends: a stray quote took the
    # rest of its block as one cell, and ~100,000 rows vanished without a word
    rows = ["task,worker,label"] + [f"{i},w{i % 7},{i % 3}" for i in range(300_000)]
    rows[11] = line
    path = tmp_path / "answers.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="line 12: a quoted field starts here"):
        read_table(path)


def test_quoted_line_breaks_are_still_read(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text('task,worker,label\n1,a,"two\nlines"\n1,b,x\n')
    table = read_table(path)
    assert table["label"].tolist() == ["two\nlines", "x"]


# ---------------------------------------------------------------- 2. headerless first line
@pytest.mark.parametrize("text, expected", [("0,0\n1,1\n", {"0": "0", "1": "1"}),
                                            ("0,1\n1,1\n", {"0": "1", "1": "1"}),
                                            ("7,a\n8,a\n", {"7": "a", "8": "a"})])
def test_headerless_labels_keep_their_first_line_as_written(tmp_path, text, expected):
    path = tmp_path / "truth.csv"
    path.write_text(text)
    labels = read_task_labels(path, known_tasks=["0", "1", "7", "8"])
    assert labels.to_dict() == expected


def test_headerless_labels_with_an_empty_first_cell_name_line_1(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("0,\n1,1\n")
    with pytest.raises(InputError, match="truth.csv: line 1: empty cell"):
        read_task_labels(path, known_tasks=["0", "1"])


def test_an_id_column_names_the_tasks_of_fits_and_predicts_tables(tmp_path):
    # `crowdlearn fit`'s labels.csv and `predict`'s output: id, label, confidence
    path = tmp_path / "labels.csv"
    path.write_text("id,label,confidence\n007,cat,0.9\n8,dog,0.6\n")
    assert read_task_labels(path).to_dict() == {"007": "cat", "8": "dog"}
    path.write_text("id,item,label\n1,a,cat\n")  # with --task-col, the named column
    assert read_task_labels(path, task="item").to_dict() == {"a": "cat"}


# ---------------------------------------------------------------- 3. --missing, long files
def test_missing_marker_drops_the_no_answer_rows_of_a_long_file(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\n1,a,0\n1,b,-1\n2,a,1\n2,b,-1.0\n3,a,-1\n3,b,1\n")
    with pytest.warns(CrowdlearnWarning, match=r"dropped 3 of 6 answers whose label is the "
                                               r"missing marker '-1'"):
        ann = Annotations.from_file(path, missing="-1")
    assert ann.classes == ["0", "1"] and len(ann) == 3
    with pytest.warns(CrowdlearnWarning, match="one number written two ways"):
        kept = Annotations.from_file(path)  # no marker given: -1 is a label
    assert kept.classes == ["-1", "-1.0", "0", "1"] and len(kept) == 6


def test_missing_marker_on_every_long_answer_is_an_error(tmp_path):
    path = tmp_path / "answers.parquet"
    pd.DataFrame({"task": [1, 2], "worker": ["a", "a"], "label": [-1, -1]}).to_parquet(path)
    with pytest.raises(InputError, match="every answer's label is the missing marker"):
        Annotations.from_file(path, missing=-1)


# ---------------------------------------------------------------- 4. float wide matrices
def test_float_wide_text_reads_like_its_integer_twin(tmp_path):
    rows = np.array([[1, 1, -1], [-1, 0, 1], [2, -1, 2], [0, 0, 1]])
    floats, ints = tmp_path / "floats.txt", tmp_path / "ints.txt"
    np.savetxt(floats, rows.astype(float), delimiter=",", fmt="%.1f")
    np.savetxt(ints, rows, delimiter=",", fmt="%d")
    a, b = (Annotations.from_file(p, "wide", missing="-1") for p in (floats, ints))
    assert a.classes == b.classes == ["0", "1", "2"]
    assert a.to_frame().equals(b.to_frame())


def test_nan_cells_of_a_wide_matrix_are_no_answer(tmp_path):
    rows = np.array([[1, 1, np.nan], [np.nan, 0, 1], [2, np.nan, 2]])
    path = tmp_path / "nan.txt"
    np.savetxt(path, rows, delimiter=",")  # writes "nan" and "1.000000000000000000e+00"
    ann = Annotations.from_file(path, "wide")
    assert ann.classes == ["0", "1", "2"] and len(ann) == 6
    assert Annotations.from_wide(rows).classes == [0, 1, 2]  # ints, as an int matrix's


def test_a_row_of_nan_says_what_it_holds():
    with pytest.raises(InputError, match=r"row 1 has no answer \(its cells hold only NaN; "):
        Annotations.from_wide(np.array([[1.0, 0.0], [np.nan, np.nan]]))


# ---------------------------------------------------------------- 5. and 7. wide text layout
def test_blanks_around_wide_cells_are_not_part_of_the_label(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_text("1, 1, -1\n-1, 0, 1\n2, -1, 2\n")
    ann = _no_warning(lambda: Annotations.from_file(path, "wide"))
    assert ann.classes == ["0", "1", "2"] and len(ann) == 6


def test_long_text_written_with_comma_blank_separators_finds_its_columns(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task, worker, label\n1, a, x\n1, b, y\n")
    frame = Annotations.from_file(path).to_frame()
    assert frame.to_dict("list") == {"task": ["1", "1"], "worker": ["a", "b"],
                                     "label": ["x", "y"]}


def test_trailing_separator_adds_no_phantom_worker(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_text("1,1,-1,\n-1,0,1,\n2,-1,2,\n")
    ann = Annotations.from_file(path, "wide")
    assert ann.n_workers == 3 and ann.worker_counts.min() > 0


# ---------------------------------------------------------------- 6. task ids as column 0
def test_task_ids_written_as_the_first_column_without_a_header_are_refused(tmp_path):
    # read as a worker's answers, the ids became labels (an export audit: img001 as a class)
    matrix = pd.DataFrame(np.random.default_rng(0).integers(0, 3, (12, 4)))
    path = tmp_path / "wide.csv"
    matrix.to_csv(path, header=False)  # the index (0..11) comes first
    with pytest.raises(InputError, match=r"column 0 holds a different value on every "
                                         r"row \(12 values; the other columns hold 3\).*"
                                         "header row"):
        Annotations.from_file(path, "wide")
    assert Annotations.from_file(path, "wide", classes=range(12)).n_workers == 5
    matrix.to_csv(path, header=False, index=False)
    _no_warning(lambda: Annotations.from_file(path, "wide"))


def test_task_ids_as_first_column_of_a_large_matrix_are_named_in_the_error(tmp_path):
    matrix = pd.DataFrame(np.random.default_rng(0).integers(0, 3, (200, 4)))
    path = tmp_path / "wide.csv"
    matrix.to_csv(path, header=False)
    with pytest.raises(InputError, match="column 0 holds a different value on every row"):
        Annotations.from_file(path, "wide")


def test_wide_parquet_with_a_task_column_uses_it_as_the_task_ids(tmp_path):
    path = tmp_path / "wide.parquet"
    pd.DataFrame({"task": ["i1", "i2"], "w1": [0, 1], "w2": [1, -1]}).to_parquet(path)
    ann = Annotations.from_file(path, "wide")
    assert ann.tasks == ["i1", "i2"] and ann.workers == ["w1", "w2"]


# ---------------------------------------------------------------- 8. and 9. what a file is
@pytest.mark.skipif(importlib.util.find_spec("zstandard") is not None,
                    reason="zstandard is installed")
def test_zst_without_zstandard_says_what_to_install(tmp_path):
    path = tmp_path / "answers.csv.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd not really")
    with pytest.raises(InputError, match="needs the Python module zstandard"):
        read_table(path)


def _parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"task": [1]}).to_parquet(buffer)
    return buffer.getvalue()


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


def _xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize("content, said", [
    (lambda: gzip.compress(b"task,worker,label\n"), "looks like a gzip file, not text: name "
                                                    "it answers.csv.gz"),
    (_parquet_bytes, "looks like a Parquet file"),
    (_npy_bytes, "looks like a NumPy array"),
    (_xlsx_bytes, "looks like an Excel workbook, not text: save it as CSV"),
    (lambda: "task,worker,label\n".encode("utf-16"), "UTF-16 text .*pass --encoding utf-16"),
])
def test_a_binary_file_under_a_text_name_is_named_for_what_it_is(tmp_path, content, said):
    path = tmp_path / "answers.csv"
    path.write_bytes(content())
    with pytest.raises(InputError, match=said):
        read_table(path)


def test_utf16_text_reads_with_its_encoding(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes("task,worker,label\n1,a,x\n".encode("utf-16"))
    assert read_table(path, encoding="utf-16")["label"].tolist() == ["x"]


# ---------------------------------------------------------------- 10. pipes
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("text", ["task,label\nt1,a\nt2,b\n", ""])
def test_a_pipe_is_read_once_and_judged_empty_by_its_content(tmp_path, text):
    fifo = tmp_path / "truth"  # what --truth <(cat truth.csv) passes
    os.mkfifo(fifo)
    result: list = []

    def read():
        try:
            result.append(read_task_labels(fifo).to_dict())
        except InputError as exc:
            result.append(str(exc))

    threads = [threading.Thread(target=f, daemon=True)
               for f in (lambda: fifo.write_text(text), read)]
    for thread in threads:
        thread.start()
    threads[1].join(timeout=20)  # a second open of the pipe would wait for ever
    assert result == [{"t1": "a", "t2": "b"} if text else f"{fifo}: the file is empty"]


# ---------------------------------------------------------------- 11. and 12. containers
@pytest.mark.parametrize("index", [["task"], ["task", "worker"]])
def test_parquet_ids_stored_as_the_pandas_index_are_columns(tmp_path, index):
    frame = pd.DataFrame({"task": [1, 1, 2], "worker": ["a", "b", "a"], "label": [0, 1, 1]})
    path = tmp_path / "answers.parquet"
    frame.set_index(index).to_parquet(path)
    assert len(Annotations.from_file(path)) == 3
    assert set(read_table(path).columns) == {"task", "worker", "label"}


def test_zip_folders_and_macos_companions_are_not_files(tmp_path):
    path = tmp_path / "answers.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("export/", "")
        archive.writestr("export/answers.csv", "task,worker,label\n1,a,x\n")
        archive.writestr("__MACOSX/export/._answers.csv", b"\x00\x05\x16\x07")
    assert read_table(path)["label"].tolist() == ["x"]


# ---------------------------------------------------------------- 13. and 14. messages
def test_ids_that_differ_only_by_blanks_are_warned_about():
    frame = pd.DataFrame({"task": ["7", " 7", "8", "8"], "worker": [" w1", "w1", "w1", "W1"],
                          "label": ["a", "b", "a", "a"]})
    with pytest.warns(CrowdlearnWarning) as caught:
        Annotations.from_frame(frame)
    said = [str(w.message) for w in caught]
    assert any("2 task ids differ from another only by surrounding blanks (e.g. ' 7' and "
               "'7')" in m for m in said), said
    assert any("2 worker ids differ" in m and "' w1' and 'w1'" in m for m in said), said
    _no_warning(lambda: Annotations.from_frame(frame.assign(worker=["w1", "w2", "w1", "W1"],
                                                            task=["7", "6", "8", "8"])))


def test_repeated_answer_message_names_positions_in_plain_numbers():
    frame = pd.DataFrame({"task": [1, 1, 2], "worker": [5, 5, 5], "label": [0, 1, 1]},
                         index=[0, 0, 0])
    with pytest.raises(InputError) as error:
        Annotations.from_frame(frame)
    assert "task 1 was answered twice by worker 5 (position 0 and 1)" in str(error.value)
    frame.index = np.array([4, 9, 2])
    with pytest.raises(InputError, match=r"\(row 4 and 9\)"):
        Annotations.from_frame(frame)


def test_every_near_duplicate_label_pair_is_named_up_to_three():
    from crowdlearn.errors import CrowdlearnWarning
    from crowdlearn.labels import warn_near_duplicates

    with pytest.warns(CrowdlearnWarning) as caught:
        warn_near_duplicates(["True", "true", "Yes", "yes ", "3", "3.0", "a", "A", "b", "B"])
    message = str(caught[0].message)
    assert len(caught) == 1
    assert "'True' and 'true'" in message and "'Yes' and 'yes '" in message
    assert "'3' and '3.0' are one number written two ways" in message
    assert message.count(" and ") >= 3 and "and 2 more such pairs" in message


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_excels_sep_line_declares_the_separator(tmp_path, suffix):
    from crowdlearn.inputs import read_table

    text = "\ufeffsep=;\r\ntask;worker;label\r\n1;a;x,y\r\n2;b;z\r\n".encode()
    path = tmp_path / f"excel{suffix}"
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    table = read_table(path)
    assert list(table.columns) == ["task", "worker", "label"]
    assert table["label"].tolist() == ["x,y", "z"]  # the comma is no separator here


# ------------------------------------------------------- a row with a field too many
def test_rows_one_field_longer_than_the_header_are_refused_not_shifted(tmp_path):
    # pandas reads such a file with the first field as a row name: every column shifted by one
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\nt1,w1,a,x\nt2,w1,b,y\n")
    with pytest.raises(InputError, match=r"answers.csv: the data lines hold 4 fields, one more"):
        Annotations.from_file(path)


def test_row_numbers_without_a_header_name_and_trailing_separators_are_read_right(tmp_path):
    # R's write.table: a header one field short, each data line starting with its number
    r_table = tmp_path / "r.txt"
    r_table.write_text('"task" "worker" "label"\n"1" "t1" "w1" "a"\n"2" "t1" "w2" "b"\n'
                       '"3" "t2" "w1" "b"\n')
    with pytest.warns(CrowdlearnWarning, match="row numbers 1 to 3 that the header does not "
                      "name"):
        ann = Annotations.from_file(r_table, sep=r"\s+")
    assert list(ann.tasks) == ["t1", "t2"] and list(ann.workers) == ["w1", "w2"]
    trailing = tmp_path / "trailing.csv"  # a separator ending every data line
    trailing.write_text("task,worker,label\nt1,w1,a,\nt1,w2,b,\nt2,w1,b,\n")
    ann = _no_warning(lambda: Annotations.from_file(trailing))
    assert list(ann.tasks) == ["t1", "t2"] and list(ann.classes) == ["a", "b"]


def test_one_ragged_row_names_its_line(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\nt1,w1,a\nt2,w1,b,y\nt1,w2,a\n")
    with pytest.raises(InputError, match=r"answers.csv: line 3: 4 fields where the lines above"):
        read_table(path)
    path.write_text("sep=;\ntask;worker;label\nt1;w1;a\nt2;w1;b;y\n")  # Excel's first line
    with pytest.raises(InputError, match=r"answers.csv: line 4: 4 fields where the lines above"):
        read_table(path)


def test_a_parquet_list_column_is_named_not_a_type_error(tmp_path):
    path = tmp_path / "answers.parquet"
    pd.DataFrame({"task": [1, 2], "worker": ["a", "b"], "label": [["x", "y"], ["x"]]}).to_parquet(
        path)
    with pytest.raises(InputError, match=r"answers.parquet: row 0: column 'label' holds a list "
                       r"\['x', 'y'\], not an id or a label"):
        Annotations.from_file(path)


def test_a_numeric_wide_npy_with_a_distinct_first_row_is_answers_not_a_header(tmp_path):
    # many classes, few workers: the first task's answers can be distinct and never seen again
    matrix = np.array([[50, 51, 52], [1, 2, 1], [3, 3, 4], [5, 6, 5], [7, 7, 8]])
    np.save(tmp_path / "wide.npy", matrix)
    pd.DataFrame(matrix, columns=["u", "v", "w"]).to_parquet(tmp_path / "wide.parquet")
    for name in ("wide.npy", "wide.parquet"):
        ann = Annotations.from_file(tmp_path / name, "wide")
        assert len(ann) == 15 and {50, 51, 52} <= {int(c) for c in ann.classes}, name
