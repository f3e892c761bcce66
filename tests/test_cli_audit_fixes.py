"""What an audit of the commands' inputs found: each test fails without its fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn.cli import app
from tests.conftest import make_crowd

runner = CliRunner()


def run(*args, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def said(result) -> str:
    """The output with rich's line breaks undone."""
    return " ".join(result.output.split())


def refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in said(result), result.output


@pytest.fixture
def issue_files(tmp_path):
    """40 items with zero-padded ids, 3 classes, labels and probabilities that mostly agree."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 40)
    ids = [f"{i:03d}" for i in range(40)]
    proba = np.eye(3)[y] * 0.6 + rng.dirichlet(np.ones(3), 40) * 0.4
    table = pd.DataFrame(proba, columns=["proba_0", "proba_1", "proba_2"])
    table.insert(0, "id", ids)
    table.to_csv(tmp_path / "proba.csv", index=False)
    labels = pd.DataFrame({"id": ids, "label": y})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    labels.to_csv(tmp_path / "nohdr.csv", index=False, header=False)
    return tmp_path, table, labels


# ---------------------------------------------------------------------- 1. label-issues
def test_label_issues_keeps_the_first_line_of_labels_without_header(issue_files):
    folder, _, _ = issue_files
    result = run("label-issues", "--labels", folder / "nohdr.csv", "--proba",
                 folder / "proba.csv", "-o", folder / "i.csv")
    assert result.exit_code == 0, result.output
    assert "40 labels ranked" in said(result)
    with_header = run("label-issues", "--labels", folder / "labels.csv", "--proba",
                      folder / "proba.csv", "-o", folder / "j.csv")
    assert with_header.exit_code == 0, with_header.output
    pd.testing.assert_frame_equal(pd.read_csv(folder / "i.csv", dtype=str),
                                  pd.read_csv(folder / "j.csv", dtype=str))


def test_label_issues_without_header_and_features_keeps_the_first_line(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30)
    X = rng.normal(size=(30, 4))
    X[np.arange(30), y] += 3
    features = pd.DataFrame(X, columns=list("abcd"))
    features.insert(0, "id", [f"x{i}" for i in range(30)])
    features.to_csv(tmp_path / "X.csv", index=False)
    pd.DataFrame({"id": features["id"], "label": y}).to_csv(tmp_path / "l.csv", index=False,
                                                            header=False)
    result = run("label-issues", "--labels", tmp_path / "l.csv", "--features",
                 tmp_path / "X.csv", "--method", "two-em", "--param", "epochs=3",
                 "--param", "warmup_epochs=1",
                 "--threads", 1, "-o", tmp_path / "i.csv")
    assert result.exit_code == 0, result.output
    assert "30 labels ranked" in said(result)


def test_label_issues_says_when_a_first_line_like_data_is_taken_as_header(issue_files):
    folder, _, labels = issue_files
    (folder / "odd.csv").write_text("zz9,1\n" + labels.to_csv(index=False, header=False))
    result = run("label-issues", "--labels", folder / "odd.csv", "--proba",
                 folder / "proba.csv", "-o", folder / "i.csv")
    assert result.exit_code == 0, result.output
    assert "first line (zz9, 1) is taken as a header" in said(result)


def test_label_issues_matches_ids_in_any_order_and_keeps_its_messages(issue_files):
    folder, table, labels = issue_files
    shuffled = table.sample(frac=1, random_state=0)
    extra = pd.DataFrame({"id": ["999"], "proba_0": [1.0], "proba_1": [0.0],
                          "proba_2": [0.0]})
    pd.concat([shuffled, extra]).to_csv(folder / "shuffled.csv", index=False)
    result = run("label-issues", "--labels", folder / "labels.csv", "--proba",
                 folder / "shuffled.csv", "-o", folder / "s.csv")
    assert result.exit_code == 0, result.output
    assert run("label-issues", "--labels", folder / "labels.csv", "--proba",
               folder / "proba.csv", "-o", folder / "p.csv").exit_code == 0
    by_id = pd.read_csv(folder / "s.csv", dtype=str).set_index("id").sort_index()
    pd.testing.assert_frame_equal(by_id, pd.read_csv(folder / "p.csv", dtype=str)
                                  .set_index("id").sort_index())
    labels.iloc[:-1].assign(label=lambda t: t["label"].where(t.index != 3, 7)).to_csv(
        folder / "strange.csv", index=False)
    refused(run("label-issues", "--labels", folder / "strange.csv", "--proba",
                folder / "proba.csv", "-o", folder / "x.csv"),
            "label '7' is not one of the probability columns")
    pd.concat([labels, pd.DataFrame({"id": ["777"], "label": [0]})]).to_csv(
        folder / "more.csv", index=False)
    refused(run("label-issues", "--labels", folder / "more.csv", "--proba",
                folder / "proba.csv", "-o", folder / "x.csv"),
            "proba.csv: 1 labelled items have no probabilities, e.g. '777'")


# ---------------------------------------------------------------------- 5. rounded proba
def test_rounded_probabilities_are_renormalised_with_one_warning(issue_files):
    folder, table, _ = issue_files
    rounded = table.copy()
    rounded.loc[4, ["proba_0", "proba_1", "proba_2"]] = [0.33, 0.33, 0.335]  # 0.995
    rounded.loc[5, ["proba_0", "proba_1", "proba_2"]] = [0.33, 0.33, 0.33]  # sums to 0.99
    rounded.to_csv(folder / "rounded.csv", index=False)
    result = run("label-issues", "--labels", folder / "labels.csv", "--proba",
                 folder / "rounded.csv", "-o", folder / "i.csv")
    assert result.exit_code == 0, result.output
    assert said(result).count("renormalised") == 1
    assert "rounded.csv: 2 rows of probabilities sum to between 0.98 and 1.02" in said(result)
    assert "worst: id '005', sum 0.99" in said(result)
    quality = pd.read_csv(folder / "i.csv", dtype={"id": str}).set_index("id")["label_quality"]
    assert quality["005"] == pytest.approx(1 / 3)  # 0.33 / 0.99
    rounded.loc[5, "proba_0"] = 0.25  # sums to 0.91: no rounding does that
    rounded.to_csv(folder / "rounded.csv", index=False)
    refused(run("label-issues", "--labels", folder / "labels.csv", "--proba",
                folder / "rounded.csv", "-o", folder / "k.csv"),
            "id '005' (line 7) are not a distribution (sum 0.91",
            "rounded? re-save with more decimals")


def test_relabel_takes_rounded_probabilities(tmp_path):
    ann, _, _ = make_crowd(n_tasks=30, n_workers=6, k=3, r=2, seed=1)
    ann.to_frame().to_csv(tmp_path / "a.csv", index=False)
    proba = pd.DataFrame(np.full((30, 3), 0.33), columns=["proba_0", "proba_1", "proba_2"])
    proba.insert(0, "id", ann.tasks)
    proba.to_csv(tmp_path / "p.csv", index=False)
    result = run("relabel", tmp_path / "a.csv", "--proba", tmp_path / "p.csv", "-k", 5, "-o",
                 tmp_path / "n.csv")
    assert result.exit_code == 0, result.output
    assert "30 rows of probabilities sum to between 0.98 and 1.02" in said(result)
    assert len(pd.read_csv(tmp_path / "n.csv")) == 5
    proba.loc[2, "proba_0"] = 0.5
    proba.to_csv(tmp_path / "p.csv", index=False)
    refused(run("relabel", tmp_path / "a.csv", "--proba", tmp_path / "p.csv", "-k", 5, "-o",
                tmp_path / "m.csv"), "p.csv: the probabilities of id", "rounded?")
    assert not (tmp_path / "m.csv").exists()


# ---------------------------------------------------------------------- predict --truth
@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model of 2 classes (neg, pos) trained on 60 items with ids 000..059, and their
    features."""
    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 60)
    X = rng.normal(size=(60, 3))
    X[:, 0] += 4 * y
    ids = [f"{i:03d}" for i in range(60)]
    table = pd.DataFrame(X, columns=["a", "b", "c"])
    table.insert(0, "id", ids)
    table.to_csv(folder / "X.csv", index=False)
    truth = pd.DataFrame({"id": ids, "label": np.array(["neg", "pos"])[y]})
    truth.to_csv(folder / "labels.csv", index=False)
    result = run("fit", "--labels", folder / "labels.csv", "--task-col", "id", "--features",
                 folder / "X.csv", "--method", "ce", "--epochs", 30, "--threads", 1, "-o",
                 folder / "m")
    assert result.exit_code == 0, result.output
    return folder, truth


def _predict(folder, truth, out):
    return run("predict", folder / "m", "--features", folder / "X.csv", "-o", out,
               "--truth", truth)


def test_predict_says_which_truth_ids_were_not_scored(model, tmp_path):
    folder, truth = model
    half = truth.copy()
    half.loc[half.index % 2 == 1, "id"] = half["id"].str.lstrip("0")  # 001 -> 1
    half.to_csv(tmp_path / "half.csv", index=False)
    result = _predict(folder, tmp_path / "half.csv", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "of 30)" in text  # 30 scored, not 60
    assert "(30 ids of the truth file have no feature row and were not scored; 30 of them " \
           "differ from an id only in leading zeros or blanks (e.g. '1' and '001')" in text
    full = _predict(folder, folder / "labels.csv", tmp_path / "q.csv")
    assert full.exit_code == 0 and "not scored" not in full.output
    (tmp_path / "odd.csv").write_text("zzz,pos\n000,pos\n001,neg\n")  # no header
    odd = _predict(folder, tmp_path / "odd.csv", tmp_path / "r.csv")
    assert odd.exit_code == 0 and "of 2)" in said(odd)
    assert "its first line (zzz, pos) is taken as a header" in said(odd)


def test_aggregate_says_it_in_the_same_words(tmp_path):
    ann, y, _ = make_crowd(n_tasks=20, n_workers=5, k=2, r=3, seed=0)
    frame = ann.to_frame()
    frame["task"] = frame["task"].map(lambda t: f"{t:03d}")
    frame.to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"task": [f"{t:03d}" if t < 15 else f" {t}" for t in range(20)],
                  "label": y}).to_csv(tmp_path / "t.csv", index=False)
    result = run("aggregate", tmp_path / "a.csv", "--method", "mv", "-o", tmp_path / "o.csv",
                 "--truth", tmp_path / "t.csv")
    assert result.exit_code == 0, result.output
    assert "(5 tasks of the truth file have no answer and were not scored; 5 of them differ " \
           "from an id only in leading zeros or blanks (e.g. ' 15' and '015')" in said(result)
    pd.DataFrame({"task": range(20), "label": y}).to_csv(tmp_path / "none.csv", index=False)
    refused(run("aggregate", tmp_path / "a.csv", "--method", "mv", "-o", tmp_path / "x.csv",
                "--truth", tmp_path / "none.csv"),
            "none.csv: no task of the truth file has an answer", "leading zeros")


def test_id_hint_only_for_ids_that_differ_in_zeros_or_blanks():
    from crowdlearn.label_files import id_hint

    assert id_hint(["7", "x"], ["007", "y"]).startswith("; 1 of them differ")
    assert id_hint([" y "], ["007", "y"]).startswith("; 1 of them")
    assert id_hint(["70"], ["007", "7"]) == ""
    assert id_hint([], ["7"]) == ""


# ---------------------------------------------------------------------- 7. one-column truth
def test_predict_one_label_a_line_with_a_header(model, tmp_path):
    folder, truth = model
    (tmp_path / "hdr.csv").write_text("label\n" + "\n".join(truth["label"]) + "\n")
    result = _predict(folder, tmp_path / "hdr.csv", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert "of 60)" in said(result)
    assert "its first line 'label' is taken as a header" in said(result)
    (tmp_path / "plain.csv").write_text("\n".join(truth["label"]) + "\n")
    plain = _predict(folder, tmp_path / "plain.csv", tmp_path / "q.csv")
    assert plain.exit_code == 0 and "of 60)" in said(plain) and "header" not in plain.output
    (tmp_path / "short.csv").write_text("\n".join(truth["label"][:59]) + "\n")  # no header
    refused(_predict(folder, tmp_path / "short.csv", tmp_path / "r.csv"),
            "59 labels, one per line, for 60 feature rows")
    truth[["label"]].to_parquet(tmp_path / "one.parquet")  # a column name: always a header
    parquet = _predict(folder, tmp_path / "one.parquet", tmp_path / "s.csv")
    assert parquet.exit_code == 0 and "of 60)" in said(parquet), parquet.output


def test_aggregate_wide_one_label_a_line_with_a_header(tmp_path):
    matrix = np.array([[0, 0, 1], [1, 1, 1], [0, 1, 0], [1, -1, 1]])
    np.savetxt(tmp_path / "w.txt", matrix, fmt="%d")
    (tmp_path / "t.csv").write_text("truth\n0\n1\n0\n1\n")
    result = run("aggregate", tmp_path / "w.txt", "--format", "wide", "--method", "mv", "-o",
                 tmp_path / "o.csv", "--truth", tmp_path / "t.csv")
    assert result.exit_code == 0, result.output
    assert "1.0000 on 4 tasks" in said(result)
    assert "'truth' is taken as a header" in said(result)


# ---------------------------------------------------------------------- 6. blank-separated
def test_space_separated_truth_and_gold_files_are_read(tmp_path):
    ann, y, _ = make_crowd(n_tasks=20, n_workers=5, k=2, r=3, seed=0)
    ann.to_frame().to_csv(tmp_path / "a.csv", index=False)
    lines = "".join(f"{t}  {label}\n" for t, label in zip(ann.tasks, y, strict=True))
    (tmp_path / "t.txt").write_text("task label\n" + lines)
    (tmp_path / "nohdr.txt").write_text(lines)
    for truth in ("t.txt", "nohdr.txt"):
        result = run("aggregate", tmp_path / "a.csv", "--method", "ds", "-o",
                     tmp_path / f"{truth}.csv", "--truth", tmp_path / truth, "--gold",
                     tmp_path / truth)
        assert result.exit_code == 0, result.output
        assert "on 20 tasks" in said(result)


def test_predict_reads_a_space_separated_truth(model, tmp_path):
    folder, truth = model
    (tmp_path / "t.txt").write_text("".join(f"{i} {label}\n" for i, label
                                            in zip(truth["id"], truth["label"], strict=True)))
    result = _predict(folder, tmp_path / "t.txt", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert "of 60)" in said(result)


# ---------------------------------------------------------------------- 3. replay
def test_replay_with_a_partial_truth_says_what_it_scores(tmp_path):
    ann, y, _ = make_crowd(n_tasks=40, n_workers=8, k=2, r=3, seed=0)
    ann.to_frame().to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "half.txt").write_text("".join(f"{t} {label}\n" for t, label
                                               in zip(ann.tasks[:20], y[:20], strict=True)))
    result = run("experiment", "active", "--replay", tmp_path / "a.csv", "--truth",
                 tmp_path / "half.txt", "--seeds", 1, "--strategies", "random", "--rounds",
                 1, "--extra", 0.5, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert said(result).count("half.txt: scored on 20 of 40 tasks; 20 have no gold label") \
        == 1


# ---------------------------------------------------------------------- 4, 8. simulate
def test_simulate_writes_the_format_its_extension_names(tmp_path):
    result = run("simulate", "--budget", 100, "-o", tmp_path / "s.parquet", "--gold",
                 tmp_path / "g.json")
    assert result.exit_code == 0, result.output
    answers = pd.read_parquet(tmp_path / "s.parquet")
    assert list(answers.columns) == ["task", "worker", "label"] and len(answers) == 100
    gold = pd.read_json(tmp_path / "g.json")
    assert list(gold.columns) == ["task", "label"] and len(gold) == 100
    refused(run("simulate", "-o", tmp_path / "s.txt"), "must end in .csv")
    assert not (tmp_path / "s.txt").exists()


def test_a_bad_matrices_file_is_named(tmp_path):
    np.save(tmp_path / "mats.npy", np.full((3, 10, 10), 0.14))
    refused(run("simulate", "--worker-model", "matrices", "--matrices",
                tmp_path / "mats.npy", "-o", tmp_path / "s.csv"),
            "mats.npy: row [0, 0] of confusion sums to 1.4")


def test_relabel_names_the_proba_file_whose_columns_are_not_the_classes(tmp_path):
    answers, proba = tmp_path / "a.csv", tmp_path / "p.csv"
    answers.write_text("task,worker,label\n1,a,x\n1,b,x\n2,a,y\n2,b,y\n")
    proba.write_text("task,proba_x,proba_z\n1,0.5,0.5\n2,0.5,0.5\n")
    result = run("relabel", answers, "--proba", proba, "-k", 1, "-o", tmp_path / "n.csv")
    assert result.exit_code == 2
    assert "p.csv: proba's columns (x, z) must be the classes (x, y)" in result.output


@pytest.mark.parametrize("args, message", [
    (["aggregate", "A", "--classes", "x,,y"], "got 'x,,y': entry 2 is empty"),
    (["experiment", "budget", "--redundancy", "1,3,"], "got '1,3,': entry 3 is empty"),
])
def test_an_empty_entry_of_a_comma_separated_option_is_refused(tmp_path, args, message):
    answers = tmp_path / "a.csv"
    answers.write_text("task,worker,label\n1,a,x\n1,b,y\n")
    args = [answers if a == "A" else a for a in args]
    result = run(*args, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out.csv").exists()


def test_aggregate_reads_the_truth_before_the_fit(tmp_path, monkeypatch):
    from crowdlearn.aggregation import DawidSkene

    def no_fit(self, *args, **kwargs):
        raise AssertionError("fitted before the truth was read")

    monkeypatch.setattr(DawidSkene, "fit", no_fit)
    answers, truth = tmp_path / "a.csv", tmp_path / "t.csv"
    answers.write_text("task,worker,label\n1,a,x\n1,b,y\n")
    truth.write_text("task,label\n7,x\n")
    result = run("aggregate", answers, "--truth", truth, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2, result.output
    assert "t.csv: no task of the truth file has an answer" in result.output


@pytest.mark.parametrize("option", [["--method", "two-em"], ["--param", "epochs=2"],
                                    ["--seed", "5"], ["--image-size", "8"],
                                    ["--threads", "1"]])
def test_label_issues_with_proba_refuses_options_of_training(tmp_path, option):
    labels, proba = tmp_path / "l.csv", tmp_path / "p.csv"
    labels.write_text("id,label\n1,x\n2,y\n")
    proba.write_text("id,proba_x,proba_y\n1,0.9,0.1\n2,0.2,0.8\n")
    result = run("label-issues", "--labels", labels, "--proba", proba, *option,
                 "-o", tmp_path / "i.csv")
    assert result.exit_code == 2, result.output
    assert f"{option[0]} applies to --features" in result.output
    assert not (tmp_path / "i.csv").exists()


def test_label_issues_hints_at_leading_zeros(tmp_path):
    labels, proba = tmp_path / "l.csv", tmp_path / "p.csv"
    labels.write_text("id,label\n1,x\n2,y\n")
    proba.write_text("id,proba_x,proba_y\n001,0.9,0.1\n002,0.2,0.8\n")
    result = run("label-issues", "--labels", labels, "--proba", proba, "-o", tmp_path / "i.csv")
    assert result.exit_code == 2 and "differ from an id only in leading zeros" in result.output


def test_label_issues_allow_missing_leaves_out_labels_without_features(tmp_path):
    rng = np.random.default_rng(0)
    features, labels = tmp_path / "X.csv", tmp_path / "l.csv"
    pd.DataFrame({"id": range(60), "f": rng.normal(size=60)}).to_csv(features, index=False)
    pd.DataFrame({"id": range(62), "label": ["a", "b"] * 31}).to_csv(labels, index=False)
    args = ["label-issues", "--features", features, "--labels", labels, "--param", "epochs=1",
            "-o", tmp_path / "i.csv"]
    refused = run(*args)
    assert refused.exit_code == 2 and "--allow-missing drops them" in refused.output
    result = run(*args, "--allow-missing")
    assert result.exit_code == 0, result.output
    assert "left out 2 labelled items without features" in result.output
    assert len(pd.read_csv(tmp_path / "i.csv")) == 60


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers must be an integer ≥ 1, got 0"),
    (["--budget", "-3"], "--budget must be an integer ≥ 0, got -3"),
])
def test_simulate_names_its_options_not_python_arguments(tmp_path, args, message):
    result = run("simulate", *args, "-o", tmp_path / "a.csv")
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "a.csv").exists()


def test_predict_truth_matches_a_class_spelled_as_another_number(tmp_path):
    # a model fitted on a float label column (classes 1.0, 2.0), scored with a truth of 1, 2
    rng = np.random.default_rng(0)
    features, labels, truth = tmp_path / "X.csv", tmp_path / "l.parquet", tmp_path / "t.csv"
    pd.DataFrame({"id": range(40), "f": rng.normal(size=40)}).to_csv(features, index=False)
    pd.DataFrame({"id": range(40), "label": [1.0, 2.0] * 20}).to_parquet(labels)
    pd.DataFrame({"id": range(40), "label": [1, 2] * 20}).to_csv(truth, index=False)
    assert run("fit", "--labels", labels, "--features", features, "--method", "ce",
               "--epochs", 1, "-o", tmp_path / "m").exit_code == 0
    result = run("predict", tmp_path / "m", "--features", features, "--truth", truth,
                 "-o", tmp_path / "p.csv")
    assert result.exit_code == 0 and "accuracy against" in result.output, result.output
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"id": range(40), "label": [1, 3] * 20}).to_csv(bad, index=False)
    refused = run("predict", tmp_path / "m", "--features", features, "--truth", bad,
                  "-o", tmp_path / "q.csv")
    assert refused.exit_code == 2 and "label '3' is not one of the model's classes" in \
        refused.output
