from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdlearn import Annotations, InputError
from crowdlearn.errors import CrowdlearnWarning


def frame():
    return pd.DataFrame({
        "task": ["a", "a", "b", "b", "c"],
        "worker": ["w1", "w2", "w1", "w3", "w2"],
        "label": ["cat", "dog", "dog", "dog", "cat"],
    })


def test_from_frame_codes_and_ids():
    ann = Annotations.from_frame(frame())
    assert ann.tasks == ["a", "b", "c"]
    assert ann.workers == ["w1", "w2", "w3"]
    assert ann.classes == ["cat", "dog"]
    assert ann.task.dtype == np.int32 and ann.worker.dtype == np.int32
    assert ann.label.dtype == np.int16
    assert (len(ann), ann.n_tasks, ann.n_workers, ann.n_classes) == (5, 3, 3, 2)
    np.testing.assert_array_equal(ann.vote_counts, [[1, 1], [0, 2], [1, 0]])
    assert "5 answers" in repr(ann)


def test_declared_classes_keep_order_and_unused_classes():
    ann = Annotations.from_frame(frame(), classes=["dog", "cat", "bird"])
    assert ann.classes == ["dog", "cat", "bird"]
    np.testing.assert_array_equal(ann.vote_counts[1], [2, 0, 0])


def test_custom_column_names_and_to_frame_round_trip():
    df = frame().rename(columns={"task": "item", "worker": "annotator", "label": "answer"})
    ann = Annotations.from_frame(df, task="item", worker="annotator", label="answer")
    back = ann.to_frame()
    assert list(back.columns) == ["task", "worker", "label"]
    pd.testing.assert_frame_equal(back, frame(), check_dtype=False)


def test_incidence_matches_answers():
    ann = Annotations.from_frame(frame())
    inc = ann.incidence.toarray()
    assert inc.shape == (3, 3 * 2)
    assert inc.sum() == 5
    # task b: worker w1 said dog (col 0*2+1), worker w3 said dog (col 2*2+1)
    np.testing.assert_array_equal(np.flatnonzero(inc[1]), [1, 5])
    np.testing.assert_array_equal(ann.worker_counts, [2, 2, 1])


def test_incidence_groups_unsorted_answers():
    rng = np.random.default_rng(1)
    df = frame().sample(frac=1, random_state=3)
    ann = Annotations.from_frame(df)
    dense = np.zeros((ann.n_tasks, ann.n_workers * ann.n_classes))
    np.add.at(dense, (ann.task, ann.worker * 2 + ann.label), 1)
    np.testing.assert_array_equal(ann.incidence.toarray(), dense)
    assert rng is not None


def test_subset_keeps_workers_and_classes():
    ann = Annotations.from_frame(frame())
    sub = ann.subset(["c", "a"])
    assert sub.tasks == ["c", "a"]
    assert sub.workers == ann.workers and sub.classes == ann.classes
    assert len(sub) == 3
    np.testing.assert_array_equal(sub.vote_counts, [[1, 0], [1, 1]])
    with pytest.raises(InputError, match="task 'zz' is not a known task"):
        ann.subset(["zz"])


def test_from_wide_and_missing_cells():
    m = np.array([[0, -1, 1], [-1, 2, 2], [1, 1, -1]])
    ann = Annotations.from_wide(m)
    assert (ann.n_tasks, ann.n_workers, len(ann)) == (3, 3, 6)
    assert ann.classes == [0, 1, 2]
    np.testing.assert_array_equal(ann.vote_counts, [[1, 1, 0], [0, 0, 2], [0, 2, 0]])
    df = pd.DataFrame([[1.0, np.nan], [np.nan, 0.0]], index=["x", "y"], columns=["u", "v"])
    ann2 = Annotations.from_wide(df, missing=-1)
    assert ann2.tasks == ["x", "y"] and ann2.workers == ["u", "v"]


def test_from_labels():
    ann = Annotations.from_labels(["b", "a", "b"])
    assert ann.n_workers == 1 and ann.n_tasks == 3
    assert ann.classes == ["a", "b"]
    np.testing.assert_array_equal(ann.label, [1, 0, 1])


def test_csv_and_parquet_round_trip(tmp_path):
    frame().to_csv(tmp_path / "a.csv", index=False)
    frame().to_parquet(tmp_path / "a.parquet")
    a = Annotations.from_csv(tmp_path / "a.csv")
    b = Annotations.from_parquet(tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_dtype=False)


def test_keep_first_and_last():
    df = pd.concat([frame(), pd.DataFrame({"task": ["a"], "worker": ["w1"], "label": ["dog"]})])
    first = Annotations.from_frame(df.reset_index(drop=True), keep="first")
    last = Annotations.from_frame(df.reset_index(drop=True), keep="last")
    assert len(first) == len(last) == 5
    assert first.vote_counts[0].tolist() == [1, 1]
    assert last.vote_counts[0].tolist() == [0, 2]


# ---------------------------------------------------------------------- bad input
def test_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "answers.csv"
    frame().drop(columns="worker").to_csv(path, index=False)
    with pytest.raises(InputError, match=r"answers\.csv.*missing column 'worker'"):
        Annotations.from_csv(path)
    path.write_text("t1,w1,cat\nt1,w2,dog\n")  # no header line
    with pytest.raises(InputError, match="if the file has no header line, its first answer "
                                         "was read as one: add the line item,who,label"):
        Annotations.from_csv(path, task="item", worker="who")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        Annotations.from_csv(path)
    path.write_text("task,worker,label\n")
    with pytest.raises(InputError, match="no answers"):
        Annotations.from_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        Annotations.from_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize("column", ["task", "worker", "label"])
@pytest.mark.parametrize("value", [np.nan, "", "  "])
def test_nan_or_empty_values_name_the_line(tmp_path, column, value):
    df = frame().astype(object)
    df.loc[3, column] = value
    path = tmp_path / "answers.csv"
    df.to_csv(path, index=False)
    expected = rf"answers\.csv.*line 5: empty value in column '{column}'"
    with pytest.raises(InputError, match=expected):
        Annotations.from_csv(path)


def test_duplicate_pair_names_task_worker_and_lines(tmp_path):
    df = pd.concat([frame(), frame().iloc[[2]]]).reset_index(drop=True)
    path = tmp_path / "dup.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"task 'b' was answered twice by worker 'w1' "
                                          r"\(line 4 and 7\)"):
        Annotations.from_csv(path)


def test_duplicate_pair_in_codes():
    with pytest.raises(InputError, match="answered twice"):
        Annotations([0, 1, 0], [0, 0, 0], [0, 1, 1])


def test_label_outside_declared_classes():
    with pytest.raises(InputError, match=r"row 1: label 'dog' is not one of the declared classes"):
        Annotations.from_frame(frame(), classes=["cat", "bird"])


def test_wide_all_missing_row():
    m = np.array([[0, 1], [-1, -1], [1, -1]])
    with pytest.raises(InputError, match="row 1 has no answer"):
        Annotations.from_wide(m, source="answers.txt")


def test_bad_codes():
    with pytest.raises(InputError, match="equal lengths"):
        Annotations([0, 1], [0], [0, 1])
    with pytest.raises(InputError, match="empty"):
        Annotations([], [], [])
    with pytest.raises(InputError, match="integers"):
        Annotations([0.5], [0], [0])
    with pytest.raises(InputError, match="task 1 has no answer"):
        Annotations([0, 2], [0, 0], [0, 1])
    with pytest.raises(InputError, match="outside"):
        Annotations([0], [0], [3], classes=["a", "b"])
    # codes far beyond the answers are refused before 0..max is built (gigabytes)
    with pytest.raises(InputError, match="task code 100000000 with 2 answers: without tasks="):
        Annotations([0, 10**8], [0, 1], [0, 1])
    with pytest.raises(InputError, match="label code 1099511627776: .*over a million classes"):
        Annotations([0, 1], [0, 1], [0, 2**40])
    with pytest.raises(InputError, match="tasks must be hashable ids .text, numbers.: "
                                         "unhashable type: 'list'"):
        Annotations([0, 1], [0, 1], [0, 1], tasks=[[1], [2]])


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match=r"bad\.parquet: cannot be read"):
        Annotations.from_parquet(path)


# ---------------------------------------------------------------------- properties
answers = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["w1", "w2", "w3", "w4"]),
              st.sampled_from([3, 7, 11])),
    min_size=1, max_size=60, unique_by=lambda a: (a[0], a[1]),
)


@settings(max_examples=60, deadline=None)
@given(answers)
def test_frame_round_trip_property(rows):
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    ann = Annotations.from_frame(df)
    back = ann.to_frame()
    pd.testing.assert_frame_equal(back, df.reset_index(drop=True), check_dtype=False)
    assert ann.vote_counts.sum() == len(df)
    assert ann.incidence.sum() == len(df)
    np.testing.assert_array_equal(ann.vote_counts.sum(axis=1), ann.task_counts)


def test_review_regressions_on_bad_input():
    # a text wide matrix whose missing marker is "-1" does not turn "-1" into a class
    m = np.array([["cat", "-1", "dog"], ["dog", "cat", "-1"], ["-1", "dog", "dog"]])
    ann = Annotations.from_wide(m, missing=-1)
    assert ann.classes == ["cat", "dog"] and len(ann) == 6
    with pytest.raises(InputError, match="1-D"):
        Annotations.from_labels([[0, 1], [1, 0]])


def test_keep_first_error_names_the_original_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("task,worker,label\nt1,w1,a\nt1,w1,b\nt2,w1,zzz\n")
    with pytest.raises(InputError, match="line 4: label 'zzz'"):
        Annotations.from_csv(path, classes=["a", "b"], keep="first")


def test_copy_groups_find_copies_and_leave_independent_workers_alone():
    rng = np.random.default_rng(0)
    n, k = 200, 4
    truth = rng.integers(0, k, n)
    answers = {f"w{m}": np.where(rng.random(n) < 0.7, truth, rng.integers(0, k, n))
               for m in range(4)}
    answers["copy of w0"] = answers["w0"].copy()
    answers["copy of the copy"] = answers["w0"].copy()
    near = answers["w1"].copy()
    near[:10] = (near[:10] + 1) % k  # agrees with w1 on 95% of the items
    answers["near copy of w1"] = near
    answers["copy of w2 on 30 items"] = answers["w2"][:30]  # most of w2's items missing
    rows = [(t, w, int(a)) for w, col in answers.items() for t, a in enumerate(col)]
    # two perfect workers on random halves of the items: they agree wherever they meet
    rows += [(t, f"perfect {m}", int(truth[t])) for m in range(2)
             for t in rng.choice(n, n // 2, replace=False)]
    ann = Annotations.from_frame(pd.DataFrame(rows, columns=["task", "worker", "label"]))
    group = dict(zip(ann.workers, ann.copy_groups(), strict=True))
    assert group["w0"] == group["copy of w0"] == group["copy of the copy"]
    others = [group[w] for w in ("w0", "w1", "w2", "w3", "near copy of w1",
                                 "copy of w2 on 30 items", "perfect 0", "perfect 1")]
    assert len(set(others)) == len(others)
    loose = dict(zip(ann.workers, ann.copy_groups(min_agreement=0.9), strict=True))
    assert loose["near copy of w1"] == loose["w1"] != loose["w2"]
    assert loose["perfect 0"] != loose["perfect 1"]
    few = ann.subset(ann.tasks[:40])
    assert len(set(few.copy_groups())) == few.n_workers  # 40 shared items: below 50
    assert len(set(few.copy_groups(min_shared=40))) < few.n_workers
    for bad in (0, 1.5, "0.9", None):
        with pytest.raises(InputError, match="min_agreement"):
            ann.copy_groups(min_agreement=bad)
    for bad in (0, 2.5, None):
        with pytest.raises(InputError, match="min_shared"):
            ann.copy_groups(min_shared=bad)


def test_count_votes_weighs_each_answer():
    ann = Annotations.from_frame(frame())
    np.testing.assert_array_equal(ann.count_votes(), ann.vote_counts)
    np.testing.assert_allclose(ann.count_votes([1, 2, 3, 4, 5]), [[1, 2], [0, 7], [5, 0]])
    with pytest.raises(InputError, match="one finite number per answer"):
        ann.count_votes([1, 2])
    with pytest.raises(InputError, match="one finite number per answer"):
        ann.count_votes([1, 2, np.nan, 4, 5])


@pytest.mark.parametrize("bad", [(1, 2), [1, 2]])
def test_composite_ids_are_refused_by_row(bad):
    # tuples would come back as a MultiIndex from predict(); lists are unhashable
    frame = pd.DataFrame({"task": ["a", bad, "b"], "worker": ["u", "v", "u"],
                          "label": ["x", "x", "y"]})
    with pytest.raises(InputError, match=rf"row 1: column 'task' holds "
                                         rf"a {type(bad).__name__} .*not an id"):
        Annotations.from_frame(frame)
    with pytest.raises(InputError, match="row 1: column 'task' holds"):  # among integers
        Annotations.from_frame(frame.assign(task=pd.Series([1, bad, 2], dtype=object)))


def test_one_number_written_two_ways_is_warned_about():
    frame = pd.DataFrame({"task": [0, 0, 1, 1], "worker": ["u", "v", "u", "v"],
                          "label": ["3", "3.0", "4", "1e1"]})
    with pytest.warns(CrowdlearnWarning, match="'3' and '3.0' are one number written two ways"):
        ann = Annotations.from_frame(frame)
    assert ann.n_classes == 4  # kept apart, as labels differing by case are
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Annotations.from_frame(frame.assign(label=["3", "03x", "4", "x"]))
        # integers too large for one float to tell apart are different numbers
        Annotations.from_frame(frame.assign(label=["1000000000000000001",
                                                   "1000000000000000000", "4", "x"]))


def test_one_column_cannot_hold_two_roles():
    frame = pd.DataFrame({"task": [0, 1], "worker": ["u", "v"], "label": ["x", "y"]})
    with pytest.raises(InputError, match="the task and label columns are both 'task'"):
        Annotations.from_frame(frame, label="task")


# ------------------------------------------------- wide matrices read with the wrong marker
def labelme_like(seed: int = 0, n_tasks: int = 300, n_workers: int = 40) -> np.ndarray:
    """A tasks × workers matrix as LabelMe's answers.txt: 1–3 answers per task, classes
    0..7, ``-1`` in every other cell."""
    rng = np.random.default_rng(seed)
    matrix = np.full((n_tasks, n_workers), -1)
    for t in range(n_tasks):
        who = rng.choice(n_workers, rng.integers(1, 4), replace=False)
        matrix[t, who] = rng.integers(0, 8, len(who))
    return matrix


@pytest.mark.parametrize("missing", [0, "0", 9])  # 0: a class too, as in LabelMe
def test_a_wrong_missing_marker_is_warned_about(missing):
    matrix = labelme_like()
    with pytest.warns(CrowdlearnWarning, match=r"answers.txt: '-1' fills 9\d% of the cells .*"
                      rf"--missing '{missing}' marks (only \d+ cells|no cell): if '-1' marks "
                      r"no answer, pass --missing -1") as caught:
        ann = Annotations.from_wide(matrix, missing=missing, source="answers.txt")
    assert len([w for w in caught if "fills" in str(w.message)]) == 1
    assert "\n" not in str(caught[0].message)
    assert -1 in ann.classes  # still read as asked: a warning, not a refusal


def test_a_right_marker_and_a_complete_matrix_of_labels_pass_silently():
    matrix = labelme_like()
    rng = np.random.default_rng(1)
    # every worker answered every task, one class in ~62% of the cells (as bluebirds),
    # but the majority of only the tasks of that class
    truth = rng.random(200) < 0.6
    right = rng.random((200, 30)) < 0.8
    complete = np.where(right == truth[:, None], 1, 0)
    assert (complete == 1).mean() > 0.5 and ((complete == 1).mean(axis=1) > 0.5).mean() < 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ann = Annotations.from_wide(matrix, missing=-1)
        assert len(ann) == (matrix != -1).sum() and ann.n_classes == 8
        assert len(Annotations.from_wide(matrix.astype(str), missing="-1")) == len(ann)
        assert len(Annotations.from_wide(complete, missing=-1)) == complete.size
        # one value in every cell: no other to tell the marker from (and nothing to read)
        assert Annotations.from_wide(np.full((4, 3), 2), missing=0).classes == [2]


def test_labelme_read_with_the_wrong_marker_is_warned_about():
    from tests.conftest import real_data

    path = real_data("labelme_rodrigues2018") / "answers.txt"
    with pytest.warns(CrowdlearnWarning, match="'-1' fills 96% of the cells .* only 177 cells"):
        Annotations.from_file(path, "wide", missing="0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(Annotations.from_file(path, "wide")) == 2547  # its README's count


def test_wide_matrix_of_many_classes_read_when_they_are_declared():
    rng = np.random.default_rng(300)
    truth = rng.integers(0, 200, 300)
    matrix = np.full((300, 10), -1)
    for t in range(300):
        for w in rng.choice(10, 3, replace=False):
            matrix[t, w] = truth[t] if rng.random() < 0.8 else rng.integers(0, 200)
    with pytest.raises(InputError, match=r"look like ids.*declare the classes"):
        Annotations.from_wide(matrix)
    ann = Annotations.from_wide(matrix, classes=list(range(200)))
    assert (ann.n_tasks, ann.n_classes, len(ann)) == (300, 200, 900)


def test_empty_label_names_the_remedy(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("task,worker,label\nt1,w1,cat\nt1,w2,\nt2,w1,dog\n")
    with pytest.raises(InputError, match=r"line 3: empty value in column 'label'.*missing=''"):
        Annotations.from_file(path)
    assert len(Annotations.from_file(path, missing="")) == 2  # the remedy works


def test_repeats_dropped_by_keep_are_counted():
    frame = pd.DataFrame({"task": [1, 1, 1, 2, 2], "worker": ["a", "a", "b", "a", "a"],
                          "label": ["x", "y", "x", "y", "y"]})
    with pytest.warns(CrowdlearnWarning, match=r"dropped 2 of 5 answers that repeat a "
                                               r"worker's answer to a task \(keep='last'"):
        ann = Annotations.from_frame(frame, keep="last")
    assert len(ann) == 3
