"""The public-dataset readers on tiny files written in each release's exact layout."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from crowdlearn import InputError
from crowdlearn.datasets import (
    read_answer_truth,
    read_music_mturk,
    read_snow2008,
    read_wide_answers,
    read_zhou_mat,
)


def write(path, text: str, newline: str = "\n"):
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def truncate(path, keep: float = 0.5):
    """Cut a file to a fraction of its bytes, as an interrupted download would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# ---------------------------------------------------------------------- answer.csv + truth.csv
ANSWER = """question,worker,answer
q1,w1,0
q1,w2,1
q2,w1,1
q3,w2,1
q3,w3,1
"""
TRUTH = """question,truth
q1,0
q2,
q3,1
q9,0
"""


@pytest.fixture
def zheng(tmp_path):
    return write(tmp_path / "answer.csv", ANSWER), write(tmp_path / "truth.csv", TRUTH)


def test_answer_truth(zheng):
    ann, gold = read_answer_truth(*zheng)
    assert (len(ann), ann.n_tasks, ann.n_workers) == (5, 3, 3)
    assert ann.classes == [0, 1]
    # q2 has no gold, q9 has no answers: both left out
    assert gold.to_dict() == {"q1": 0, "q3": 1}
    assert gold.dtype == np.int64


def test_answer_truth_ids_match_across_files_as_text(tmp_path):
    answers = write(tmp_path / "a.csv", "question,worker,answer\n01,7,2\n2,7,3\n")
    truth = write(tmp_path / "t.csv", "question,truth\n01,2\n2,3\n")
    ann, gold = read_answer_truth(answers, truth)
    assert ann.tasks == ["01", "2"] and ann.workers == ["7"]
    assert gold.to_dict() == {"01": 2, "2": 3}


def test_answer_truth_refuses_a_question_with_two_truths(tmp_path):
    answers = write(tmp_path / "a.csv", "question,worker,answer\nq1,7,0\n")
    truth = write(tmp_path / "t.csv", "question,truth\nq1,0\nq1,1\n")
    with pytest.raises(InputError, match="t.csv .csv.: item 'q1' has 2 different values in "
                                         "column 'truth'"):
        read_answer_truth(answers, truth)


def test_answer_truth_missing_file(zheng, tmp_path):
    with pytest.raises(InputError, match="nope.csv: no such file"):
        read_answer_truth(tmp_path / "nope.csv", zheng[1])
    with pytest.raises(InputError, match="nope.csv: no such file"):
        read_answer_truth(zheng[0], tmp_path / "nope.csv")


def test_answer_truth_missing_column(zheng, tmp_path):
    bad = write(tmp_path / "truth_bad.csv", "question,label\nq1,0\n")
    with pytest.raises(InputError, match=r"truth_bad.csv: missing column 'truth'"):
        read_answer_truth(zheng[0], bad)
    bad = write(tmp_path / "answer_bad.csv", "question,worker\nq1,w1\n")
    with pytest.raises(InputError, match=r"answer_bad.csv: missing column 'answer'"):
        read_answer_truth(bad, zheng[1])


def test_answer_truth_truncated_and_corrupt(zheng, tmp_path):
    cut = write(tmp_path / "cut.csv", ANSWER.rstrip("\n")[:-2])  # last row loses its answer
    with pytest.raises(InputError, match=r"cut.csv.*line 6: empty value in column 'answer'"):
        read_answer_truth(cut, zheng[1])
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"question,worker,answer\n\xff\xfe\x00\x81,w,1\n")
    with pytest.raises(InputError, match="garbage.csv"):
        read_answer_truth(garbage, zheng[1])
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(InputError, match="empty.csv: the file is empty"):
        read_answer_truth(empty, zheng[1])


# ---------------------------------------------------------------------- Snow et al. 2008 tgz
RTE = """!amt_annotation_ids\t!amt_worker_ids\torig_id\tresponse\tgold
a1\tW1\t10\t1\t1
a2\tW2\t10\t0\t1
a3\tW1\t11\t0\t0
a4\tW3\t11\t0\t0
a5\tW2\t12\t1\t1
"""


def make_tgz(path, members: dict[str, str]):
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def snow(tmp_path):
    return make_tgz(tmp_path / "all_collected_data.tgz",
                    {"rte.standardized.tsv": RTE, "temp.standardized.tsv": RTE})


def test_snow2008(snow, tmp_path):
    ann, gold = read_snow2008(snow, "rte")
    assert (len(ann), ann.n_tasks, ann.n_workers) == (5, 3, 3)
    assert ann.tasks == [10, 11, 12] and ann.workers == ["W1", "W2", "W3"]
    assert gold.to_dict() == {10: 1, 11: 0, 12: 1}
    assert not list(tmp_path.glob("*.tsv"))  # read in place, nothing extracted


def test_snow2008_member_in_a_folder(tmp_path):
    tgz = make_tgz(tmp_path / "x.tgz", {"data/rte.standardized.tsv": RTE})
    assert read_snow2008(tgz, "rte")[0].n_tasks == 3


def test_snow2008_unknown_task_lists_tasks(snow):
    with pytest.raises(InputError, match=r"no member 'wsd.standardized.tsv'.*rte, temp"):
        read_snow2008(snow, "wsd")


def test_snow2008_missing_truncated_corrupt(snow, tmp_path):
    with pytest.raises(InputError, match="gone.tgz: no such file"):
        read_snow2008(tmp_path / "gone.tgz", "rte")
    big = make_tgz(tmp_path / "big.tgz", {"rte.standardized.tsv": RTE * 300})
    with pytest.raises(InputError, match="big.tgz: cannot be read"):
        read_snow2008(truncate(big), "rte")
    garbage = write(tmp_path / "garbage.tgz", "not an archive at all")
    with pytest.raises(InputError, match="garbage.tgz: cannot be read"):
        read_snow2008(garbage, "rte")


def test_snow2008_missing_column_and_conflicting_gold(tmp_path):
    no_gold = make_tgz(tmp_path / "a.tgz", {"rte.standardized.tsv": RTE.replace("\tgold", "\tg")})
    with pytest.raises(InputError, match=r"a.tgz\[rte.standardized.tsv\]: missing column 'gold'"):
        read_snow2008(no_gold, "rte")
    flipped = RTE.replace("a2\tW2\t10\t0\t1", "a2\tW2\t10\t0\t0")
    conflict = make_tgz(tmp_path / "b.tgz", {"rte.standardized.tsv": flipped})
    with pytest.raises(InputError, match="item 10 has 2 different values in column 'gold'"):
        read_snow2008(conflict, "rte")


# ---------------------------------------------------------------------- Zhou et al. .mat
def save_model(path, **fields):
    scipy.io.savemat(path, {"Model": fields})
    return path


@pytest.fixture
def web(tmp_path):
    labels = np.array([[1, 0, 3], [0, 2, 0], [5, 5, 0], [0, 0, 0]], dtype=float)
    truth = np.array([[1.0], [np.nan], [5.0], [2.0]])
    return save_model(tmp_path / "web_processed_data.mat", L=sp.csc_matrix(labels),
                      true_labels=truth, Ntask=4.0)


def test_zhou_mat(web):
    ann, gold = read_zhou_mat(web)
    # row 3 has no label: not a task; its gold goes with it
    assert (len(ann), ann.n_tasks, ann.n_workers) == (5, 3, 3)
    assert ann.tasks == [0, 1, 2] and ann.classes == [1, 2, 3, 5]
    assert gold.to_dict() == {0: 1, 2: 5}
    assert gold.dtype == np.int64


def test_zhou_mat_dense_matrix(tmp_path):
    path = save_model(tmp_path / "d.mat", L=np.array([[1, 2], [2, 0]]),
                      true_labels=np.array([1, 2]))
    ann, gold = read_zhou_mat(path)
    assert len(ann) == 3 and gold.to_dict() == {0: 1, 1: 2}


def test_zhou_mat_bad_files(web, tmp_path):
    with pytest.raises(InputError, match="none.mat: no such file"):
        read_zhou_mat(tmp_path / "none.mat")
    with pytest.raises(InputError, match="web_processed_data.mat: cannot be read"):
        read_zhou_mat(truncate(web, 0.3))
    garbage = write(tmp_path / "garbage.mat", "MATLAB? no.")
    with pytest.raises(InputError, match="garbage.mat: cannot be read"):
        read_zhou_mat(garbage)
    other = tmp_path / "other.mat"
    scipy.io.savemat(other, {"X": np.eye(2)})
    with pytest.raises(InputError, match=r"other.mat: no variable 'Model'; variables found: 'X'"):
        read_zhou_mat(other)
    no_truth = save_model(tmp_path / "no_truth.mat", L=np.eye(2))
    with pytest.raises(InputError, match="no_truth.mat: the 'Model' struct has no field "
                                         "'true_labels'"):
        read_zhou_mat(no_truth)
    short = save_model(tmp_path / "short.mat", L=np.eye(3), true_labels=np.array([1.0]))
    with pytest.raises(InputError, match="short.mat: true_labels has 1 entries but L has 3"):
        read_zhou_mat(short)


# ---------------------------------------------------------------------- wide answers.txt
ANSWERS = """-1 1 -1 0
0 -1 -1 -1
-1 1 1 -1
"""


@pytest.fixture
def wide(tmp_path):
    return write(tmp_path / "answers.txt", ANSWERS), write(tmp_path / "Z_train.txt", "1\n0\n1\n")


def test_wide_answers(wide):
    ann, gold = read_wide_answers(*wide)
    assert (len(ann), ann.n_tasks, ann.n_workers) == (5, 3, 4)
    assert ann.classes == [0, 1]
    np.testing.assert_array_equal(ann.vote_counts, [[1, 1], [1, 0], [0, 2]])
    assert gold.to_dict() == {0: 1, 1: 0, 2: 1} and gold.dtype == np.int64


def test_wide_answers_other_missing_code_and_nan_gold(tmp_path):
    answers = write(tmp_path / "a.txt", "9 2\n3 9\n")
    gold = write(tmp_path / "g.txt", "2\nnan\n")
    ann, g = read_wide_answers(answers, gold, missing=9)
    assert len(ann) == 2 and ann.classes == [2, 3]
    assert g.to_dict() == {0: 2}


def test_wide_answers_bad_files(wide, tmp_path):
    with pytest.raises(InputError, match="nothing.txt: no such file"):
        read_wide_answers(tmp_path / "nothing.txt", wide[1])
    with pytest.raises(InputError, match="nothing.txt: no such file"):
        read_wide_answers(wide[0], tmp_path / "nothing.txt")
    ragged = write(tmp_path / "ragged.txt", ANSWERS + "1 0\n")  # a truncated last row
    with pytest.raises(InputError, match="ragged.txt: cannot be read"):
        read_wide_answers(ragged, wide[1])
    words = write(tmp_path / "words.txt", "-1 cat\n0 1\n")
    with pytest.raises(InputError, match="words.txt: cannot be read"):
        read_wide_answers(words, wide[1])
    blank = write(tmp_path / "blank.txt", "\n\n")
    with pytest.raises(InputError, match="blank.txt"):
        read_wide_answers(blank, wide[1])
    short = write(tmp_path / "short.txt", "1\n0\n")
    with pytest.raises(InputError, match="short.txt: 2 gold labels but .*answers.txt has 3 rows"):
        read_wide_answers(wide[0], short)
    two_cols = write(tmp_path / "two.txt", "1 0\n0 1\n1 1\n")
    with pytest.raises(InputError, match="two.txt: expected one gold label per line"):
        read_wide_answers(wide[0], two_cols)
    unanswered = write(tmp_path / "unanswered.txt", ANSWERS + "-1 -1 -1 -1\n")
    with pytest.raises(InputError, match="unanswered.txt: row 3 has no answer"):
        read_wide_answers(unanswered, write(tmp_path / "g4.txt", "1\n0\n1\n0\n"))


# ---------------------------------------------------------------------- music mturk_answers.csv
MUSIC = """WorkerID,Input.song,Input.true_label,Answer.pred_label
A1,country.00072.mp3,country,country
A1,disco.00041.mp3,disco,pop
A2,disco.00041.mp3,disco,disco
A2,jazz.00059.mp3,jazz,jazz
"""


@pytest.fixture
def music(tmp_path):
    return write(tmp_path / "mturk_answers.csv", MUSIC, newline="\r")


def test_music_mac_line_endings(music):
    assert b"\n" not in music.read_bytes()
    ann, gold = read_music_mturk(music)
    assert (len(ann), ann.n_tasks, ann.n_workers) == (4, 3, 2)
    assert ann.classes == ["country", "disco", "jazz", "pop"]
    assert gold.to_dict() == {"country.00072.mp3": "country", "disco.00041.mp3": "disco",
                              "jazz.00059.mp3": "jazz"}


def test_music_bad_files(music, tmp_path):
    with pytest.raises(InputError, match="absent.csv: no such file"):
        read_music_mturk(tmp_path / "absent.csv")
    no_gold = write(tmp_path / "no_gold.csv", MUSIC.replace("Input.true_label", "truth"), "\r")
    with pytest.raises(InputError, match="no_gold.csv: missing column 'Input.true_label'"):
        read_music_mturk(no_gold)
    cut = write(tmp_path / "cut.csv", MUSIC.rstrip("\n").rsplit(",", 1)[0], "\r")
    with pytest.raises(InputError, match="cut.csv.*empty value in column 'Answer.pred_label'"):
        read_music_mturk(cut)
    conflict = write(tmp_path / "conflict.csv", MUSIC.replace("A2,disco.00041.mp3,disco",
                                                              "A2,disco.00041.mp3,pop"), "\r")
    with pytest.raises(InputError, match="item 'disco.00041.mp3' has 2 different values"):
        read_music_mturk(conflict)


# ---------------------------------------------------------------------- package
def test_readers_agree_with_aggregators(zheng):
    from crowdlearn import DawidSkene

    ann, gold = read_answer_truth(*zheng)
    predicted = DawidSkene().fit(ann, gold=gold).predict()
    assert (predicted.reindex(gold.index) == gold).all()


def test_datasets_package_imports_no_torch():
    code = ("import sys, crowdlearn.datasets; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gold_is_a_series_named_by_task(zheng):
    _, gold = read_answer_truth(*zheng)
    assert isinstance(gold, pd.Series) and gold.index.name == "task"
