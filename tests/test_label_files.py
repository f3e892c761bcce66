"""crowdlearn.label_files: truth, gold, given labels and probabilities read by id."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.label_files import (
    MissingIdColumnError,
    blank_pairs,
    checked_distributions,
    id_hint,
    labels_by_line,
    read_given_labels,
    read_known_labels,
    read_proba_table,
    read_truth_by_row,
    unscored_note,
)


def test_read_proba_table_indexes_by_id_and_takes_the_proba_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,proba_a,proba_b,note\n007,0.25,0.75,x\n8,1,0,y\n")
    table = read_proba_table(path)
    assert list(table.index) == ["007", "8"] and list(table.columns) == ["a", "b"]
    np.testing.assert_allclose(table.to_numpy(), [[0.25, 0.75], [1, 0]])
    path.write_text("item,a,b\nx,0.5,0.5\n")
    with pytest.raises(MissingIdColumnError, match=r"no id column 'id' \(nor 'id' or 'task'\); "
                       "name it with id_col="):
        read_proba_table(path)
    assert list(read_proba_table(path, "item").columns) == ["a", "b"]
    path.write_text("id,a,b\nx,0.5,0.5\nx,0.2,0.8\n")
    with pytest.raises(InputError, match="id 'x' appears twice"):
        read_proba_table(path)
    path.write_text("id,a,b\nx,0.5,0.5\n,0.2,0.8\n")
    with pytest.raises(InputError, match="p.csv: line 3: empty id in column 'id'"):
        read_proba_table(path)
    path.write_text("id,a,b\n")
    with pytest.raises(InputError, match="p.csv: no rows of probabilities"):
        read_proba_table(path)


def test_rows_far_off_on_most_ids_point_at_the_columns_not_the_decimals():
    # a 3-class file with one class column dropped: every row sums to about 0.6
    values = pd.DataFrame([[0.3, 0.3], [0.5, 0.2], [0.1, 0.4]], index=["a", "b", "c"],
                          columns=["cat", "dog"])
    with pytest.raises(InputError, match=r"its columns \(cat, dog\) may lack a class or hold "
                                         "one too many"):
        checked_distributions(values, "p.csv")


def test_checked_distributions_renormalises_rounded_rows_and_refuses_others():
    values = pd.DataFrame([[0.33, 0.33, 0.33], [0.2, 0.3, 0.5]], index=["a", "b"])
    with pytest.warns(CrowdlearnWarning, match="1 rows of probabilities.*worst: id 'a', sum "
                      "0.99.*renormalised"):
        fixed = checked_distributions(values, "p.csv")
    np.testing.assert_allclose(fixed.sum(axis=1), 1)
    np.testing.assert_allclose(fixed.loc["b"], [0.2, 0.3, 0.5])  # exact rows untouched
    assert values.iloc[0, 0] == 0.33  # the input is not changed
    bad = pd.DataFrame([[0.5, 0.5], [0.6, 0.5], [0.7, 0.4]], index=["a", "b", "c"])
    with pytest.raises(InputError, match=r"p.csv: the probabilities of id 'b' \(line 3\) are "
                       r"not a distribution \(sum 1.1; 2 such rows\)"):
        checked_distributions(bad, "p.csv")
    # what is wrong is said, not "rounded?": a negative value, an empty cell
    bad.loc["c"] = [-0.1, 1.1]
    with pytest.raises(InputError, match=r"id 'c' \(line 4\) have a negative value \(-0.1 for "
                       r"class 0\)$"):
        checked_distributions(bad, "p.csv")
    bad.loc["a"] = [np.nan, 1.0]
    with pytest.raises(InputError, match=r"id 'a' \(line 2\) have an empty cell \(for class "
                       r"0\)$"):
        checked_distributions(bad, "p.csv")


def test_a_probability_that_is_not_a_number_is_named_by_line_id_and_column(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("task,proba_x,proba_y\n1,0.5,0.5\n2,abc,0.5\n3,,\n")
    with pytest.raises(InputError, match=r"p.csv: line 3 \(id '2'\), column 'proba_x': 'abc' "
                       r"is not a number$"):
        read_proba_table(path)


def test_read_truth_by_row_from_pairs_and_from_one_label_a_line(tmp_path):
    ids = np.array(["a", "b", "c"])
    pairs = tmp_path / "t.csv"
    pairs.write_text("task,label\nc,pos\na,neg\nz,pos\n")
    labels, unmatched = read_truth_by_row(pairs, ids)
    assert labels.to_dict() == {2: "pos", 0: "neg"} and list(unmatched) == ["z"]
    spaced = tmp_path / "t.txt"
    spaced.write_text("b  pos\nc neg\n")  # no header: its first id is a row's
    labels, unmatched = read_truth_by_row(spaced, ids)
    assert labels.to_dict() == {1: "pos", 2: "neg"} and len(unmatched) == 0
    lines = tmp_path / "lines.txt"
    lines.write_text("label\nneg\npos\nneg\n")
    with pytest.warns(CrowdlearnWarning, match="'label' is taken as a header"):
        labels, _ = read_truth_by_row(lines, ids, "tasks")
    assert list(labels) == ["neg", "pos", "neg"]
    pairs.write_text("task,label\n007,pos\n")
    with pytest.raises(InputError, match="none of its ids are tasks; 1 of them differ"):
        read_truth_by_row(pairs, np.array(["7", "8"]), "tasks")


def test_labels_by_line_tells_a_header_from_a_label():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing header-like: no warning
        assert labels_by_line(["x", "y"], 2, "f") == ["x", "y"]
    with pytest.warns(CrowdlearnWarning, match="taken as a label, not a header"):
        assert labels_by_line(["y", "x"], 2, "f", classes=["x", "y"]) == ["y", "x"]
    with pytest.raises(InputError, match="f: 1 labels, one per line, for 2 rows; give"):
        labels_by_line(["x"], 2, "f")


def test_blank_pairs_only_when_ids_are_among_the_first_fields():
    table = blank_pairs(["task label", "7 cat", "8 dog"], ["7", "8"])
    assert list(table.columns) == ["task", "label"] and table["label"].tolist() == ["cat", "dog"]
    assert table.attrs["header"] == ["task", "label"]
    assert blank_pairs(["big cat", "small dog"], ["7"]) is None  # labels with blanks
    assert blank_pairs(["7 cat", "8"], ["7"]) is None


def test_read_known_labels_and_given_labels(tmp_path):
    gold = tmp_path / "gold.txt"
    gold.write_text("1 pos\n2 neg\n")  # blank-separated, first line data: task 1 is known
    assert read_known_labels(gold, known_tasks=[1, 2, 3]).to_dict() == {"1": "pos", "2": "neg"}
    given = tmp_path / "given.csv"
    given.write_text("zzz,pos\n1,pos\n2,neg\n")
    with pytest.warns(CrowdlearnWarning, match=r"first line \(zzz, pos\) is taken as a header"):
        labels = read_given_labels(given, known_ids=["1", "2"])
    assert labels.to_dict() == {"1": "pos", "2": "neg"}
    given.write_text("task,label\n")
    with pytest.raises(InputError, match="no labels"):
        read_given_labels(given)


def test_unscored_note_and_id_hint():
    assert unscored_note([], ["1"], "tasks", "have no answer") is None
    note = unscored_note(["01", "x"], ["1", "2"], "tasks", "have no answer")
    assert note.startswith("(2 tasks of the truth file have no answer and were not scored; "
                           "1 of them differ") and "(e.g. '01' and '1')" in note
    assert id_hint(["x"], ["1"]) == ""


def test_the_command_line_names_its_option_for_a_missing_id_column(tmp_path):
    from crowdlearn.cli import app

    (tmp_path / "p.csv").write_text("item,a,b\nx,0.5,0.5\n")
    (tmp_path / "l.csv").write_text("id,label\nx,a\n")
    result = CliRunner().invoke(app, ["label-issues", "--labels", str(tmp_path / "l.csv"),
                                      "--proba", str(tmp_path / "p.csv"), "-o",
                                      str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "no id column 'id' (nor 'id' or 'task'); name it with --id-col" in " ".join(
        result.output.split())


def test_replay_partial_truth_warning_hints_at_leading_zeros():
    from crowdlearn.experiments.active import AnswerPool, _warn_partial_truth

    zero = np.zeros(4, dtype=np.int64)
    pool = AnswerPool(np.arange(4), zero, zero, ["001", "002", "003", "004"], ["w"], ["a"],
                      np.array([0, 0, -1, -1]), ("3", "4"))
    with pytest.warns(CrowdlearnWarning, match=r"t.csv: scored on 2 of 4 tasks; 2 have no gold "
                      r"label \(2 tasks of the truth file have no answer, e.g. '3', '4'; 2 of "
                      r"them differ from an id only in leading zeros or blanks \(e.g. '3' and "
                      r"'003'\)"):
        _warn_partial_truth(pool, "dir/t.csv")
    pool.unanswered_truth = ("x",)
    with pytest.warns(CrowdlearnWarning, match=r"e.g. 'x'; ids are compared as written\)$"):
        _warn_partial_truth(pool, "t.csv")


def test_a_parquet_probability_file_names_records_not_lines(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"task": ["a", "b"], "proba_x": [0.5, np.nan],
                  "proba_y": [0.5, 1.0]}).to_parquet(path)
    with pytest.raises(InputError, match=r"p.parquet: the probabilities of id 'b' \(record 2\) "
                       "have an empty cell"):
        read_proba_table(path)


def test_two_columns_are_not_read_as_task_label_when_a_name_is_the_other_column(tmp_path):
    # --id-col item --label-col lbl (a typo) on "label,item": the ids are not the labels
    path = tmp_path / "l.csv"
    path.write_text("label,item\ncat,1\ndog,2\n")
    with pytest.raises(InputError, match="expected columns 'item' and 'lbl'"):
        read_given_labels(path, "item", "lbl")
    assert read_given_labels(path, "item", "label").to_dict() == {"1": "cat", "2": "dog"}
