"""Regression tests for what real crowd exports did to `crowdlearn aggregate` and the
aggregation API: repeated answers, ids and labels rewritten, silent garbage from the wide
format, broken output promises, missing warnings, friction for crowd-kit users."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn import Annotations, DawidSkene, InputError, MajorityVote, OneCoinDawidSkene
from crowdlearn.cli import app
from crowdlearn.errors import CrowdlearnWarning
from tests.conftest import make_crowd

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def crowd_csv(tmp_path):
    """300 tasks whose ids are zero-padded text, answered by 25 workers, with the truth."""
    ann, y, _ = make_crowd(n_tasks=300, seed=1)
    frame = ann.to_frame()
    frame["task"] = frame["task"].map(lambda t: f"{t:05d}")
    frame["worker"] = frame["worker"].map(lambda w: f"w{w}")
    path = tmp_path / "answers.csv"
    frame.to_csv(path, index=False)
    truth = pd.DataFrame({"task": [f"{t:05d}" for t in range(300)], "label": y})
    truth.to_csv(tmp_path / "truth.csv", index=False)
    return path, frame, y


# ---------------------------------------------------------------- 1. repeated answers
REPEATS = "task,worker,label\na,w1,x\na,w2,y\na,w1,y\nb,w1,x\nb,w2,x\n"


def test_repeats_error_names_the_flag_on_the_cli_and_the_keyword_in_python(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(REPEATS)
    result = run("aggregate", path, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "--keep first" in result.output and "keep='first'" not in result.output
    assert "line 2 and 4" in result.output
    with pytest.raises(InputError, match="pass keep='first', 'last' or 'all'"):
        Annotations.from_csv(path)


@pytest.mark.parametrize("keep, answers, label_of_a_by_w1", [
    ("first", 4, "x"), ("last", 4, "y"), ("all", 5, None)])
def test_keep_policies(tmp_path, keep, answers, label_of_a_by_w1):
    path = tmp_path / "answers.csv"
    path.write_text(REPEATS)
    ann = Annotations.from_csv(path, keep=keep)
    assert len(ann) == answers
    frame = ann.to_frame()
    a_w1 = frame[(frame.task == "a") & (frame.worker == "w1")]["label"].tolist()
    assert a_w1 == ([label_of_a_by_w1] if label_of_a_by_w1 else ["x", "y"])
    out = tmp_path / "o.csv"
    assert run("aggregate", path, "--keep", keep, "-o", out).exit_code == 0
    # the code constructor takes the same policy
    codes = Annotations([0, 0, 0], [0, 1, 0], [0, 1, 1], keep=keep)
    assert len(codes) == (3 if keep == "all" else 2)


def test_keep_all_counts_every_repeat_as_an_answer():
    ann = Annotations.from_frame(pd.read_csv(pd.io.common.StringIO(REPEATS)), keep="all")
    votes = pd.DataFrame(ann.vote_counts, index=ann.tasks, columns=ann.classes)
    assert votes.loc["a"].tolist() == [1, 2]  # w1's x and y, w2's y
    assert ann.has_repeats and ann.worker_counts.tolist() == [3, 2]


def test_keep_all_matches_crowdkit_on_a_file_with_repeats():
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    ann, _, _ = make_crowd(n_tasks=400, seed=3)
    frame = ann.to_frame()
    extra = frame.sample(300, random_state=0).assign(
        label=lambda f: (f["label"] + 1) % ann.n_classes)  # a changed mind, kept as well
    both = pd.concat([frame, extra], ignore_index=True)
    ours = MajorityVote(tie_break="first").fit(both, keep="all")
    theirs = crowdkit.MajorityVote().fit(both)
    # crowd-kit's MV counts every row: the same vote shares
    np.testing.assert_allclose(
        ours.predict_proba().sort_index().to_numpy(),
        theirs.probas_.sort_index()[ours.classes_].to_numpy())


# ---------------------------------------------------------------- 2. ids and labels
def test_zero_padded_ids_round_trip(tmp_path, crowd_csv):
    path, frame, y = crowd_csv
    out = tmp_path / "labels.csv"
    result = run("aggregate", path, "-o", out, "--workers", tmp_path / "w.csv")
    assert result.exit_code == 0, result.output
    labels = pd.read_csv(out, dtype=str)
    assert labels["task"].tolist() == sorted(frame["task"].unique())
    assert labels["task"].iloc[42] == "00042"
    joined = labels.merge(frame.astype(str), on="task")  # results join back to the input
    assert len(joined) == len(frame)
    assert (pd.read_csv(tmp_path / "w.csv", dtype=str)["worker"].str.startswith("w")).all()


def test_01_and_1_are_two_tasks_and_huge_numeric_ids_work(tmp_path):
    big = 2**64 - 5
    path = tmp_path / "answers.csv"
    path.write_text(f"task,worker,label\n01,{big},a\n1,{big},b\n1,{big - 1},b\n")
    out = tmp_path / "o.csv"
    result = run("aggregate", path, "-o", out, "--workers", tmp_path / "w.csv")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out, dtype=str)["task"].tolist() == ["01", "1"]
    assert str(big) in pd.read_csv(tmp_path / "w.csv", dtype=str)["worker"].tolist()
    # numeric ids beyond int64 from Python
    ann = Annotations.from_frame(pd.DataFrame({
        "task": np.array([1, 2], dtype=np.uint64), "worker": np.array([big, big], np.uint64),
        "label": [0, 1]}))
    assert ann.workers == [big]


def test_na_none_null_are_values_and_only_empty_cells_are_missing(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\nNA,None,null\nt2,None,NA\n")
    ann = Annotations.from_csv(path)
    assert ann.tasks == ["NA", "t2"] and ann.workers == ["None"]
    assert ann.classes == ["NA", "null"]
    path.write_text("task,worker,label\nt1,w,\n")
    with pytest.raises(InputError, match="line 2: empty value in column 'label'"):
        Annotations.from_csv(path)


def test_labels_differing_by_blanks_or_case_warn_and_stay_apart(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\nt1,w1,positive\nt1,w2,positive \nt2,w1,Positive\n")
    with pytest.warns(CrowdlearnWarning, match="differ only by case or surrounding blanks"):
        ann = Annotations.from_csv(path)
    assert ann.classes == ["Positive", "positive", "positive "]
    result = run("aggregate", path, "--method", "mv", "-o", tmp_path / "o.csv")
    assert result.exit_code == 0
    assert "warning:" in result.output and "'positive '" in result.output


def test_number_and_text_spelling_of_one_id_is_refused():
    frame = pd.DataFrame({"task": pd.Series([5, "5", 6], dtype=object),
                          "worker": ["a", "b", "a"], "label": [0, 1, 0]})
    with pytest.raises(InputError, match=r"column 'task' holds both 5 and '5'"):
        Annotations.from_frame(frame)
    with pytest.raises(InputError, match="mixes text and numbers"):
        Annotations.from_frame(frame.assign(task=pd.Series([5, "x", 6], dtype=object)))


def test_text_labels_that_read_as_numbers_sort_by_value():
    ann = Annotations.from_frame(pd.DataFrame({"task": ["a", "b", "c"], "worker": "w",
                                               "label": ["10", "2", "1"]}))
    assert ann.classes == ["1", "2", "10"]


def test_unused_categories_become_declared_classes():
    frame = pd.DataFrame({"task": ["a", "b"], "worker": ["w", "w"],
                          "label": pd.Categorical(["yes", "no"],
                                                  categories=["no", "maybe", "yes"])})
    ann = Annotations.from_frame(frame)
    assert ann.classes == ["no", "maybe", "yes"]


# ---------------------------------------------------------------- 3. wide format garbage
def test_long_file_read_as_wide_is_refused(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    result = run("aggregate", path, "--format", "wide", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "a long table (one answer a row)" in result.output.replace("\n", " ")
    headerless = tmp_path / "long.csv"
    pd.read_csv(path, dtype=str).to_csv(headerless, index=False, header=False)
    result = run("aggregate", headerless, "--format", "wide", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "look like ids" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_wide_csv_with_a_header_of_workers_reads_it_as_their_ids(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("w1,w2,w3\n0,1,-1\n1,1,0\n")
    ann = Annotations.from_file(path, "wide")
    assert ann.worker_index.tolist() == ["w1", "w2", "w3"] and ann.task_index.tolist() == [0, 1]
    path.write_text("0,1,-1\n1,1,0\n")
    assert run("aggregate", path, "--format", "wide", "-o", tmp_path / "o.csv").exit_code == 0


# ---------------------------------------------------------------- 4. outputs
@pytest.mark.parametrize("plot", ["p.xyz", "workers"])
def test_bad_plot_name_is_refused_before_any_work(tmp_path, crowd_csv, plot):
    path, _, _ = crowd_csv
    before = set(tmp_path.iterdir())
    result = run("aggregate", path, "-o", tmp_path / "labels.csv", "--workers",
                 tmp_path / "w.csv", "--plot", tmp_path / plot)
    assert result.exit_code == 2
    assert ".png, .pdf, .svg" in result.output and "Traceback" not in result.output
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".json"])
def test_output_format_follows_the_extension(tmp_path, crowd_csv, suffix):
    path, _, _ = crowd_csv
    out = tmp_path / f"labels{suffix}"
    assert run("aggregate", path, "-o", out).exit_code == 0
    read = {".csv": pd.read_csv, ".tsv": lambda p: pd.read_csv(p, sep="\t"),
            ".parquet": pd.read_parquet, ".json": pd.read_json}[suffix]
    table = read(out)
    assert list(table.columns) == ["task", "label", "confidence"] and len(table) == 300


def test_unknown_output_extension_is_refused(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    result = run("aggregate", path, "-o", tmp_path / "labels.xlsx")
    assert result.exit_code == 2 and ".csv, .tsv, .parquet, .json" in result.output
    assert not (tmp_path / "labels.xlsx").exists()


def test_stdin_and_stdout(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    proc = subprocess.run([sys.executable, "-m", "crowdlearn", "aggregate", "-", "-o", "-"],
                          input=path.read_text(), capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "task,label,confidence" and len(lines) == 301
    assert lines[1].startswith("00000,")
    assert "wrote -" in proc.stderr  # the summary goes to stderr when stdout is the data
    assert not (tmp_path / "-").exists()


def test_files_get_the_users_umask(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    old = os.umask(0o022)
    try:
        assert run("aggregate", path, "-o", tmp_path / "o.csv", "--plot",
                   tmp_path / "p.png").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "p.png").stat().st_mode) == 0o644


def test_writing_to_a_symlink_writes_its_target(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert run("aggregate", path, "-o", link, "--force").exit_code == 0
    assert link.is_symlink()
    assert target.read_text().startswith("task,label,confidence")


# ---------------------------------------------------------------- 5/6. warnings
def _warnings_of(fit) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return [str(w.message) for w in caught if issubclass(w.category, CrowdlearnWarning)]


def test_single_worker_single_class_and_no_overlap_warn():
    one_worker = Annotations([0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 1, 0])
    assert any("a single worker" in m for m in _warnings_of(lambda: DawidSkene().fit(
        one_worker)))
    one_class = Annotations([0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0], classes=["only"])
    assert any("same label ('only')" in m for m in _warnings_of(
        lambda: MajorityVote().fit(one_class)))
    no_overlap = Annotations([0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 1, 0])
    assert any("no task has two answers" in m for m in _warnings_of(
        lambda: OneCoinDawidSkene().fit(no_overlap)))
    ann, _, _ = make_crowd(seed=2)
    assert _warnings_of(lambda: DawidSkene().fit(ann)) == []


def test_unconverged_em_and_vanished_class_warn():
    ann, _, _ = make_crowd(seed=2)
    messages = _warnings_of(lambda: DawidSkene(max_iter=2, tol=0).fit(ann))
    assert any("stopped at max_iter=2 without converging" in m for m in messages)
    assert not DawidSkene(max_iter=2, tol=0).fit(ann).converged_
    declared = Annotations(ann.task, ann.worker, ann.label, classes=[0, 1, 2, "unused"])
    assert any("no task ends up with class 'unused'" in m for m in _warnings_of(
        lambda: MajorityVote().fit(declared)))


def test_cli_prints_warnings_and_no_skills_when_quality_is_not_identifiable(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\nt1,w1,a\nt2,w1,b\nt3,w1,a\nt4,w1,a\nt5,w1,b\n")
    result = run("aggregate", path, "-o", tmp_path / "o.csv")
    assert result.exit_code == 0
    assert "warning:" in result.output and "a single worker ('w1')" in result.output
    assert "least reliable workers" not in result.output


# ---------------------------------------------------------------- 7. options and API
def test_fit_takes_a_frame_and_gives_worker_quality_by_id(crowd_csv):
    _, frame, _ = crowd_csv
    renamed = frame.rename(columns={"task": "item", "worker": "annotator"})
    ds = DawidSkene().fit(renamed, task="item", worker="annotator")
    assert ds.predict().index[0] == "00000"
    skills = ds.skills()
    assert skills.index.name == "worker" and skills.index[0] == "w0"
    conf = ds.confusions()
    assert conf.shape == (25 * 3, 3)
    np.testing.assert_allclose(conf.loc["w3"].sum(axis=1), 1.0)
    assert MajorityVote().fit_predict(frame).shape == (300,)
    assert DawidSkene().fit_predict_proba(frame).shape == (300, 3)
    with pytest.raises(InputError, match="fits no confusion matrices"):
        MajorityVote().fit(frame).confusions()


def test_proba_gold_truth_json(tmp_path, crowd_csv):
    path, _, y = crowd_csv
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"task": [f"{t:05d}" for t in range(50)], "label": y[:50]}).to_csv(
        gold, index=False)
    out = tmp_path / "o.csv"
    result = run("aggregate", path, "-o", out, "--proba", "--gold", gold, "--truth",
                 tmp_path / "truth.csv", "--json", "--max-iter", "50", "--tol", "1e-6",
                 "--smoothing", "0.5")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    labels = pd.read_csv(out, dtype={"task": str, "label": str})
    assert [c for c in labels.columns if c.startswith("proba_")] == \
        ["proba_0", "proba_1", "proba_2"]
    np.testing.assert_allclose(labels.filter(like="proba_").sum(axis=1), 1.0, atol=1e-9)
    assert (labels["label"].iloc[:50].astype(int) == y[:50]).all()  # clamped to gold
    truth_acc = (labels["label"].astype(int).to_numpy() == y).mean()
    assert summary["truth"]["accuracy"] == pytest.approx(truth_acc)
    assert set(summary["truth"]["per_class"]) == {"0", "1", "2"}
    assert summary["model"]["params"]["smoothing"] == 0.5
    assert summary["model"]["params"]["max_iter"] == 50
    assert summary["data"]["tasks"] == 300 and summary["warnings"] == []


def test_em_options_are_refused_for_majority_vote(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    result = run("aggregate", path, "--method", "mv", "--max-iter", "5", "-o",
                 tmp_path / "o.csv")
    assert result.exit_code == 2 and "--max-iter: not an option of --method mv" in result.output


def test_gold_task_twice_or_unanswered_is_an_error(crowd_csv):
    _, frame, _ = crowd_csv
    ann = Annotations.from_frame(frame)
    twice = pd.Series([0, 1], index=["00001", "00001"])
    with pytest.raises(InputError, match="gold names task '00001' more than once"):
        DawidSkene().fit(ann, gold=twice)
    with pytest.raises(InputError, match="gold task 'nope' is not a known task"):
        DawidSkene().fit(ann, gold={"nope": 0})


@pytest.mark.parametrize("sep, name", [("\t", "answers.tsv"), (";", "answers.csv"),
                                       ("|", "answers.txt")])
def test_separator_is_sniffed(tmp_path, crowd_csv, sep, name):
    _, frame, _ = crowd_csv
    path = tmp_path / name
    frame.to_csv(path, sep=sep, index=False)
    assert run("aggregate", path, "-o", tmp_path / "o.csv").exit_code == 0
    assert len(pd.read_csv(tmp_path / "o.csv")) == 300


def test_explicit_separator_and_encoding(tmp_path):
    path = tmp_path / "answers.txt"
    path.write_bytes("task;worker;label\nt1;w1;caf\xe9\nt1;w2;th\xe9\n".encode("latin-1"))
    result = run("aggregate", path, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "--encoding" in result.output
    result = run("aggregate", path, "--encoding", "latin-1", "--sep", "semicolon", "-o",
                 tmp_path / "o.csv")
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "o.csv")["label"]) <= {"café", "thé"}


def test_a_wrong_separator_gets_a_hint(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task;worker;label\nt1;w1;a\n")
    result = run("aggregate", path, "--sep", ",", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "is the separator a semicolon?" in result.output.replace("\n", "")


def test_version_and_short_help():
    from crowdlearn import __version__

    version = run("--version")
    assert version.exit_code == 0 and __version__ in version.output
    helped = run("aggregate", "-h")
    assert helped.exit_code == 0 and "--keep" in helped.output and "--truth" in helped.output


def test_worker_plot_has_class_names_and_a_colour_bar(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    plot = tmp_path / "w.svg"
    assert run("aggregate", path, "-o", tmp_path / "o.csv", "--plot", plot).exit_code == 0
    svg = plot.read_text()
    for text in ("P(answer | true class)", "true class", "random guessing", "answers given"):
        assert text in svg, text


# ---------------------------------------------------------------- found in review
def test_unused_categories_of_task_and_worker_columns_are_not_tasks():
    df = pd.DataFrame({"task": ["t1", "t1", "t2", "t2", "t3", "t3"],
                       "worker": ["a", "b", "a", "b", "a", "c"],
                       "label": ["x", "x", "y", "y", "x", "y"]}).astype("category")
    sub = df[df.task != "t3"]  # the categories still hold t3 and worker c
    mv = MajorityVote().fit(sub)
    assert mv.predict().to_dict() == {"t1": "x", "t2": "y"}
    assert mv.workers_ == ["a", "b"]


def test_python_numbers_match_a_csv_read_as_text(tmp_path):
    path = tmp_path / "answers.csv"
    pd.DataFrame({"task": [1, 1, 2, 2], "worker": [10, 11, 10, 11],
                  "label": [0, 1, 1, 1]}).to_csv(path, index=False)
    assert Annotations.from_csv(path).classes == ["0", "1"]
    declared = Annotations.from_csv(path, classes=[0, 1])
    assert declared.classes == [0, 1]  # the declared values are the ids
    ds = DawidSkene().fit(Annotations.from_csv(path), gold={1: "0"})
    assert ds.predict()["1"] == "0"
    typed = Annotations.from_csv(path, dtype={"task": int, "worker": int, "label": int})
    assert typed.classes == [0, 1] and typed.tasks == [1, 2]


def test_plot_to_stdout_and_unknown_encoding_are_one_line_errors(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    result = run("aggregate", path, "-o", tmp_path / "o.csv", "--plot", "-")
    assert result.exit_code == 2 and "cannot go to standard output" in result.output
    result = run("aggregate", path, "-o", tmp_path / "o.csv", "--encoding", "foo")
    assert result.exit_code == 2 and "unknown text encoding 'foo'" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_headerless_numeric_long_file_read_as_wide_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    long = pd.DataFrame({"task": np.repeat(np.arange(300), 3),
                         "worker": rng.integers(0, 200, 900), "label": rng.integers(0, 2, 900)})
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False, header=False)
    result = run("aggregate", path, "--format", "wide", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "look like ids" in result.output


@pytest.mark.parametrize("text", ["2 2 -1\n0 1 0\n1 1 1\n0 0 -1\n1 0 1\n",
                                  "c c c\na b a\nb b a\na a b\n"])
def test_a_first_row_with_a_rare_class_is_a_warning_not_an_error(tmp_path, text):
    path = tmp_path / "m.txt"
    path.write_text(text)
    result = run("aggregate", path, "--format", "wide", "--method", "mv", "-o",
                 tmp_path / "o.csv")
    assert result.exit_code == 0, result.output
    assert "may be a header" in result.output


def test_label_file_header_names_are_trimmed(tmp_path):
    from crowdlearn.datasets import read_labels

    path = tmp_path / "labels.csv"
    path.write_text("task, label \na, 3\nb, 1\nc, 10\n")
    codes, classes, tasks = read_labels(path)
    assert classes == ["1", "3", "10"] and tasks == ["a", "b", "c"]
    assert codes.tolist() == [1, 0, 2]


@pytest.mark.parametrize("text, message", [
    ("task,label\na,1\na,2\n", "line 3: task 'a' is listed twice"),
    ("task,label\na,1\n,2\n", "line 3: empty 'task'"),
])
def test_label_file_ids_must_be_given_once(tmp_path, text, message):
    from crowdlearn.datasets import read_labels

    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_labels(path)
    np.save(tmp_path / "labels.npy", np.array([1.0, np.nan]))
    with pytest.raises(InputError, match="labels.npy: label missing .NaN. at index 1"):
        read_labels(tmp_path / "labels.npy")


def test_workers_table_to_stdout_keeps_stdout_clean(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    result = run("aggregate", path, "-o", tmp_path / "o.csv", "--workers", "-", "--json")
    assert result.exit_code == 2 and "standard output" in result.output
    proc = subprocess.run([sys.executable, "-m", "crowdlearn", "aggregate", str(path), "-o",
                           str(tmp_path / "o.csv"), "--workers", "-"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(pd.io.common.StringIO(proc.stdout))
    assert len(table) == 25 and "wrote" in proc.stderr


def test_majority_vote_plot_says_agreement_not_accuracy(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    plot = tmp_path / "mv.svg"
    assert run("aggregate", path, "--method", "mv", "-o", tmp_path / "o.csv", "--plot",
               plot).exit_code == 0
    svg = plot.read_text()
    assert "agreement with the majority label" in svg and "estimated accuracy" not in svg


# ---------------------------------------------------------------- found in the second review
def test_long_parquet_or_json_read_as_wide_is_refused_and_wide_parquet_keeps_its_index(
        tmp_path, crowd_csv):
    _, frame, _ = crowd_csv
    frame.to_parquet(tmp_path / "long.parquet")
    frame.to_json(tmp_path / "long.json", orient="records")
    for name in ("long.parquet", "long.json"):
        result = run("aggregate", tmp_path / name, "--format", "wide", "-o", tmp_path / "o.csv")
        assert result.exit_code == 2 and "drop --format wide" in result.output, name
    wide = frame.pivot(index="task", columns="worker", values="label")
    wide.to_parquet(tmp_path / "wide.parquet")  # NaN where no answer; the index: task ids
    result = run("aggregate", tmp_path / "wide.parquet", "--format", "wide", "-o",
                 tmp_path / "o.csv")
    assert result.exit_code == 0, result.output
    labels = pd.read_csv(tmp_path / "o.csv", dtype=str)
    assert labels["task"].iloc[0] == "00000" and set(labels["label"]) <= {"0", "1", "2"}


def test_unhashable_json_cells_and_odd_files_are_one_line_errors(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text('[{"task": 1, "worker": "a", "label": ["x"]}]')
    result = run("aggregate", path, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "column 'label' holds a list" in result.output
    path.write_text('{"task": 1, "worker": "a", "label": "x"}\n{"task": 2, "worker": "a", '
                    '"label": "y"}\n')
    result = run("aggregate", path, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and ".jsonl" in result.output
    np.save(tmp_path / "m.npy", np.zeros((3, 3), dtype=int))
    result = run("aggregate", tmp_path / "m.npy", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "--format wide" in result.output


def test_classes_keep_and_truth_oddities(tmp_path, crowd_csv):
    path, _, _ = crowd_csv
    result = run("aggregate", path, "--classes", ",", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "names no class" in result.output
    wide = tmp_path / "wide.txt"
    wide.write_text("0 1 -1\n1 1 0\n")
    result = run("aggregate", wide, "--format", "wide", "--keep", "first", "-o",
                 tmp_path / "o.csv")
    assert result.exit_code == 2 and "--keep applies to long files" in result.output
    truth = tmp_path / "t.csv"
    truth.write_text("00000,q\n00001,0\n00002,1\n")  # no header, and a label nobody gave
    result = run("aggregate", path, "--truth", truth, "--json", "-o", tmp_path / "o2.csv")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["truth"]["tasks_scored"] == 3  # the first line is data, not a header
    assert any("no answer gave" in w for w in summary["warnings"])


def test_missing_columns_name_the_remedy_in_the_callers_words(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("question,worker,answer\nq1,w1,a\nq1,w2,b\n")
    result = run("aggregate", path, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "--task-col, --worker-col, --label-col" in result.output.replace("\n", "")
    with pytest.raises(InputError, match="name the columns with task=, worker=, label="):
        Annotations.from_csv(path)
    assert Annotations.from_csv(path, task="question", label="answer").n_tasks == 1
