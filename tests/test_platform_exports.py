"""What crowdsourcing platforms' exports did to the readers (an audit with MTurk batch
results, Toloka TSV, JSON and pandas-written wide files): rows lost to a stray quote, ids read
as labels, numbers rewritten, rejected answers counted without a word."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn import Annotations, InputError
from crowdlearn.aggregation import MACE
from crowdlearn.cli import app
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.inputs import read_table

runner = CliRunner()

TOLOKA = ("INPUT:id\tINPUT:text\tOUTPUT:result\tASSIGNMENT:worker_id\tASSIGNMENT:status\n"
          '1\t"Meh, not great\tneg\tw1\tAPPROVED\n'
          '1\t"Meh, not great\tneg\tw2\tAPPROVED\n'
          '1\t"Meh, not great\tneg\tw3\tREJECTED\n'
          "2\tgood one\tpos\tw1\tAPPROVED\n"
          "2\tgood one\tpos\tw2\tAPPROVED\n"
          "2\tgood one\tneg\tw3\tAPPROVED\n"
          '3\t12" pizza\tpos\tw1\tAPPROVED\n'
          '3\t12" pizza\tpos\tw2\tAPPROVED\n')
TOLOKA_COLUMNS = ("INPUT:id", "ASSIGNMENT:worker_id", "OUTPUT:result")


def test_an_unquoted_tsv_whose_text_starts_with_a_quote_loses_no_row(tmp_path):
    # read with quotes, the '"' of line 2 ran on to line 8 and took five answers with it
    path = tmp_path / "toloka.tsv"
    path.write_text(TOLOKA)
    with pytest.warns(CrowdlearnWarning, match="read as plain text, not as a quote"):
        table = read_table(path)
    assert len(table) == 8 and table["INPUT:text"].iloc[0] == '"Meh, not great'
    with pytest.warns(CrowdlearnWarning):
        ann = Annotations.from_file(path, "long", *TOLOKA_COLUMNS)
    assert len(ann) == 8 and ann.n_tasks == 3


def test_a_quoted_multi_line_cell_is_still_one_cell(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text('task\tworker\tlabel\tcomment\n1\ta\tx\t"two\nlines"\n1\tb\tx\tok\n')
    table = read_table(path)
    assert table["comment"].tolist() == ["two\nlines", "ok"]


def test_rows_swallowed_by_a_quote_and_ragged_without_it_are_an_error(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text('task\tworker\tlabel\n1\t"a\tx\n2\tb\ty\tz\n3\t"c\tx\n')
    with pytest.raises(InputError, match="a.tsv: the cell of column 'worker' in data row 1 "
                                         "opens with '\"'"):
        read_table(path)


def test_rejected_answers_are_counted_in_a_warning(tmp_path):
    path = tmp_path / "toloka.tsv"
    path.write_text(TOLOKA.replace('"', ""))
    with pytest.warns(CrowdlearnWarning, match=r"1 of 8 answers are marked rejected in column "
                                               "'ASSIGNMENT:status'; they are kept"):
        ann = Annotations.from_file(path, "long", *TOLOKA_COLUMNS)
    assert len(ann) == 8


def test_rows_of_empty_cells_are_dropped_and_counted(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("task;worker;label\nt1;w1;cat\n;;\nt1;w2;dog\n;;\n")
    with pytest.warns(CrowdlearnWarning, match="dropped 2 rows whose cells are all empty "
                                               r"\(e.g. line 3\)"):
        ann = Annotations.from_file(path)
    assert len(ann) == 2


# ---------------------------------------------------------------- wide files from pandas
def test_a_wide_csv_as_to_csv_writes_it_reads_the_header_and_the_index(tmp_path):
    frame = pd.DataFrame({"a007": [None, 0.0, 0.0, 1.0], "b": [1.0, 0.0, None, 1.0],
                          "c": [1.0, 0.0, 1.0, None]},
                         index=pd.Index(["img000", "img001", "img002", "img003"]))
    path = tmp_path / "wide.csv"
    frame.to_csv(path)  # cleanlab's labels_multiannotator layout
    ann = Annotations.from_file(path, "wide")
    assert ann.task_index.tolist() == frame.index.tolist()
    assert ann.worker_index.tolist() == ["a007", "b", "c"]
    assert ann.classes == ["0", "1"] and len(ann) == 9
    frame.index.name = "task"
    frame.iloc[[0, 1, 2, 2]].to_csv(path)
    with pytest.raises(InputError, match="task 'img002' has two rows"):
        Annotations.from_file(path, "wide")


@pytest.mark.parametrize("index", [None, "task", "text"])
def test_a_wide_csv_of_numbered_workers_reads_its_header(tmp_path, index):
    # pd.DataFrame(matrix).to_csv(): workers 0..W-1, which are labels too
    matrix = np.array([[0, 1, -1], [1, 1, 2], [-1, 2, 2], [0, -1, 0], [2, 2, 1]])
    frame = pd.DataFrame(matrix)
    if index == "task":
        frame.index.name = "task"
    elif index == "text":
        frame.index = [f"t{i}" for i in range(len(frame))]
    path = tmp_path / "wide.csv"
    frame.to_csv(path)
    ann = Annotations.from_file(path, "wide")
    assert ann.worker_index.tolist() == ["0", "1", "2"] and len(ann) == 12
    assert ann.task_index.tolist() == [str(t) for t in frame.index]
    plain = Annotations.from_wide(matrix)
    assert sorted(map(tuple, ann.to_frame()[["label"]].astype(int).values.tolist())) == \
        sorted(map(tuple, plain.to_frame()[["label"]].astype(int).values.tolist()))


def test_a_wide_matrix_keeps_labels_as_written_beside_a_float_cell(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("01,01,02\n02,02,1.0\n01,02,02\n")
    with pytest.warns(CrowdlearnWarning):  # '1' and '01' differ only in spelling
        ann = Annotations.from_file(path, "wide")
    assert sorted(ann.classes) == ["01", "02", "1"]


# ---------------------------------------------------------------- JSON numbers
def test_json_ids_and_labels_keep_their_digits(tmp_path):
    rows = [{"task": 9007199254740993, "worker": "a", "label": 1},
            {"task": 9007199254740993, "worker": "b", "label": 1},
            {"task": 17.5, "worker": "a", "label": 2.5},
            {"task": 17.5, "worker": "b", "label": 2}]
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(rows))
    ann = Annotations.from_file(path)
    assert sorted(map(str, ann.task_index)) == ["17.5", "9007199254740993"]
    assert sorted(map(str, ann.classes)) == ["1", "2", "2.5"]


def test_json_lines_under_other_names_and_compressed(tmp_path):
    text = "\n".join(json.dumps({"task": t, "worker": w, "label": "x"})
                     for t in ("t1", "t2") for w in ("007", "7")) + "\n"
    (tmp_path / "a.ndjson").write_text(text)
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as fh:
        fh.write(text)
    for name in ("a.ndjson", "a.jsonl.gz"):
        ann = Annotations.from_file(tmp_path / name)
        assert ann.worker_index.tolist() == ["007", "7"] and len(ann) == 4
    (tmp_path / "a.csv").write_text(text)
    with pytest.raises(InputError, match="a.csv: looks like JSON, not delimited text"):
        Annotations.from_file(tmp_path / "a.csv")


def test_json_on_standard_input_is_read_as_json():
    rows = [{"task": 1, "worker": "a", "label": "x"}, {"task": 1, "worker": "b", "label": "y"}]
    result = runner.invoke(app, ["aggregate", "-", "-o", "-", "--method", "mv", "--quiet"],
                           input=json.dumps(rows))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("task,label")


def test_a_bad_json_line_is_named(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"task": 1, "worker": "a", "label": "x"}\n{"task": 2,\n')
    with pytest.raises(InputError, match="a.jsonl: line 2: not a JSON record"):
        read_table(path)


def test_null_labels_of_json_are_dropped_by_missing_empty(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"task": 1, "worker": "a", "label": "cat"}, {"task": 1, "worker": "b", "label": None},
        {"task": 2, "worker": "a", "label": "dog"}]))
    with pytest.raises(InputError, match="empty value in column 'label'"):
        Annotations.from_file(path)
    with pytest.warns(CrowdlearnWarning, match="dropped 1 of 3 answers"):
        ann = Annotations.from_file(path, missing="")
    assert len(ann) == 2


def test_a_byte_order_mark_read_with_another_encoding_says_it_is_utf8(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("task,worker,label\n1,a,x\n".encode("utf-8-sig"))
    with pytest.raises(InputError, match="UTF-8 byte-order mark.*not cp1252"):
        read_table(path, encoding="cp1252")


# ---------------------------------------------------------------- methods' options
def test_mace_refuses_smoothing_under_vb_instead_of_ignoring_it():
    with pytest.raises(InputError, match="smoothing is the pseudo-count of method='em'"):
        MACE(smoothing=50).fit(pd.DataFrame({"task": [1, 1], "worker": [1, 2],
                                             "label": [0, 1]}))
    assert MACE(method="em", smoothing=50).get_params()["smoothing"] == 50


def test_zbs_out_of_core_prints_its_summary(tmp_path):
    frame = pd.DataFrame({"task": [1, 1, 2, 2, 3, 3], "worker": ["a", "b"] * 3,
                          "label": ["x", "x", "y", "y", "x", "y"]})
    frame.to_parquet(tmp_path / "a.parquet")
    result = runner.invoke(app, ["aggregate", str(tmp_path / "a.parquet"), "--engine",
                                 "stream", "--method", "zbs", "--json", "-o",
                                 str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["model"]["iterations"] > 0 and "converged" not in summary["model"]


# ---------------------------------------------------------------- Label Studio
def _region(question, kind, value):
    return {"from_name": question, "to_name": "image", "type": kind, "value": value}


def _annotation(who, *regions, cancelled=False):
    return {"id": 1, "completed_by": who, "result": list(regions), "was_cancelled": cancelled}


LABEL_STUDIO = [
    {"id": 101, "data": {"image": "1.jpg"}, "annotations": [
        _annotation(3, _region("animal", "choices", {"choices": ["Cat"]}),
                    _region("quality", "rating", {"rating": 4})),
        _annotation({"id": 5, "email": "e@x"},
                    _region("animal", "choices", {"choices": ["Cat"]})),
        _annotation(7, cancelled=True)]},
    {"id": 102, "data": {"image": "2.jpg"}, "annotations": [
        _annotation(3, _region("animal", "choices", {"choices": ["Dog"]}))],
     "predictions": [{"result": [_region("animal", "choices", {"choices": ["Cat"]})]}]},
]


def test_a_label_studio_export_is_read_as_answers_to_one_question(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(LABEL_STUDIO))
    with pytest.raises(InputError, match=r"answers 'animal' \(choices\), 'quality' \(rating\): "
                                         "choose one with --label-col"):
        Annotations.from_file(path)
    with pytest.warns(CrowdlearnWarning, match="left out 1 cancelled"):
        ann = Annotations.from_file(path, label="animal")
    frame = ann.to_frame()
    assert sorted(zip(frame["task"], frame["worker"], frame["label"], strict=True)) == [
        (101, 3, "Cat"), (101, 5, "Cat"), (102, 3, "Dog")]  # predictions are not answers
    with pytest.warns(CrowdlearnWarning, match="1 cancelled .skipped. annotation and 2 "
                                               "annotations that leave 'quality' unanswered"):
        assert len(Annotations.from_file(path, label="quality")) == 1


def test_a_label_studio_annotation_with_several_choices_is_refused(tmp_path):
    rows = [{"id": 1, "data": {}, "annotations": [
        _annotation(3, _region("animal", "choices", {"choices": ["Cat", "Dog"]}))]}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(InputError, match="task 1: annotation 1 gives 2 answers to 'animal'"):
        Annotations.from_file(path)


@pytest.mark.parametrize("annotations, message", [
    (["oops"], "task 1: an annotation is 'oops', not an object"),
    ([{"id": 9, "completed_by": 3, "result": ["x"]}],
     "task 1: annotation 9: a region of its result is 'x', not an object"),
    ([{"id": 9, "completed_by": 3, "result": "x"}], "annotation 9: its result is 'x'"),
    ([{"id": 9, "completed_by": 3,
       "result": [{"from_name": "a", "type": "choices", "value": ["Cat"]}]}],
     r"annotation 9: a region's value is \['Cat'\], not an object"),
])
def test_a_malformed_label_studio_export_names_the_task(tmp_path, annotations, message):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": 1, "data": {}, "annotations": annotations}]))
    with pytest.raises(InputError, match=message):
        Annotations.from_file(path)


def test_label_studio_labels_given_per_region_are_refused(tmp_path):
    spans = _annotation(3, _region("ner", "labels", {"labels": ["PER"]}),
                        _region("ner", "labels", {"labels": ["LOC"]}))
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": 1, "data": {}, "annotations": [spans]}]))
    with pytest.raises(InputError, match="answers 'ner' 2 times .one per region"):
        Annotations.from_file(path)


def test_label_studio_exports_before_1_0_and_their_skipped_annotations(tmp_path):
    old = [{"id": 1, "data": {}, "completions": [
        _annotation(3, _region("animal", "choices", {"choices": ["Cat"]})),
        {"id": 2, "completed_by": 4, "result": [], "skipped": True}]}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(old))
    with pytest.warns(CrowdlearnWarning, match="left out 1 cancelled"):
        ann = Annotations.from_file(path)
    assert ann.to_frame()[["task", "worker", "label"]].values.tolist() == [[1, 3, "Cat"]]


def test_a_flat_label_studio_export_says_which_columns_to_name(tmp_path):
    path = tmp_path / "min.json"
    path.write_text(json.dumps([{"image": "1.jpg", "id": 1, "sentiment": "Positive",
                                 "annotator": 3, "annotation_id": 7, "lead_time": 2.5}]))
    with pytest.raises(InputError, match=r"Label Studio's JSON-MIN or CSV export.*'image', "
                                         r"'sentiment'.*name the columns with task="):
        Annotations.from_file(path)
    ann = Annotations.from_file(path, task="id", worker="annotator", label="sentiment")
    assert ann.classes == ["Positive"]
