"""`crowdlearn fit`, `predict` and `label-issues` on small files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import crowdlearn
from crowdlearn.cli import app
from tests.conftest import make_crowd

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _features(y: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (len(y), 6))
    X[np.arange(len(y)), y] += 3  # classes separable in the first columns
    return X


@pytest.fixture
def crowd_files(tmp_path):
    ann, y, _ = make_crowd(n_tasks=240, n_workers=12, k=3, r=3, seed=3)
    frame = ann.to_frame()
    frame["task"] = "item" + frame["task"].astype(str)
    frame.to_csv(tmp_path / "answers.csv", index=False)
    X = _features(y)
    table = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    table.insert(0, "id", [f"item{i}" for i in range(len(y))])
    table.to_csv(tmp_path / "features.csv", index=False)
    return tmp_path, y


def test_fit_then_predict_a_crowd_method(crowd_files):
    folder, y = crowd_files
    result = run("fit", "--answers", folder / "answers.csv", "--features",
                 folder / "features.csv", "--method", "mbem", "--epochs", "3", "--proba",
                 "--param", "n_rounds=1", "-o", folder / "model")
    assert result.exit_code == 0, result.output
    assert "mbem: 240 items (720 answers from 12 workers), 3 classes" in result.output
    model = folder / "model"
    names = {p.name for p in model.iterdir()}
    assert {"learner.json", "labels.csv", "workers.csv", "workers.png", "history.csv",
            "history.png", "summary.json"} <= names
    labels = pd.read_csv(model / "labels.csv")
    assert list(labels.columns[:3]) == ["id", "label", "confidence"]
    assert {"proba_0", "proba_1", "proba_2"} <= set(labels.columns)
    truth = y[labels["id"].str.removeprefix("item").astype(int)]
    assert (labels["label"].to_numpy() == truth).mean() > 0.8  # the crowd's labels recovered
    workers = pd.read_csv(model / "workers.csv")
    assert len(workers) == 12 and workers["answers"].sum() == 720
    assert workers["accuracy"].between(0, 1).all()
    summary = json.loads((model / "summary.json").read_text())
    assert summary["method"] == "mbem" and summary["answers"] == 720
    assert summary["parameters"]["epochs"] == 3 and "fit" in summary["seconds"]
    assert isinstance(crowdlearn.load(model), crowdlearn.MBEM)

    out = folder / "pred.csv"
    result = run("predict", model, "--features", folder / "features.csv", "-o", out)
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out)
    assert len(pred) == 240 and list(pred["id"][:2]) == ["item0", "item1"]
    assert (pred["label"].to_numpy() == y).mean() > 0.8
    again = run("predict", model, "--features", folder / "features.csv", "-o", out)
    assert again.exit_code == 2 and "already exists" in again.output


def test_existing_folder_is_refused_before_any_work(crowd_files):
    folder, _ = crowd_files
    (folder / "model").mkdir()
    (folder / "model" / "mine.txt").write_text("keep me")
    args = ["fit", "--answers", folder / "answers.csv", "--features", folder / "features.csv",
            "--method", "mv", "--epochs", "1", "-o", folder / "model"]
    result = run(*args)
    assert result.exit_code == 2 and "already exists; pass --force" in result.output
    assert (folder / "model" / "mine.txt").read_text() == "keep me"
    assert run(*args, "--force").exit_code == 2  # not a model folder: never replaced
    (folder / "model" / "mine.txt").unlink()
    assert run(*args).exit_code == 2  # an empty folder still exists
    assert run(*args, "--force").exit_code == 0
    assert (folder / "model" / "learner.json").exists()
    assert run(*args, "--force").exit_code == 0  # a model folder is replaced on request


def test_noisy_labels_fit_and_label_issues(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    noisy = np.where(rng.random(300) < 0.2, (y + 1) % 3, y)
    X = _features(y)
    np.save(tmp_path / "X.npy", X)
    pd.DataFrame({"id": range(300), "label": noisy}).to_csv(tmp_path / "labels.csv",
                                                             index=False)
    result = run("fit", "--labels", tmp_path / "labels.csv", "--task-col", "id", "--features",
                 tmp_path / "X.npy", "--method", "ce", "--epochs", "5", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "m" / "workers.csv").exists()  # no annotators to describe
    trained = pd.read_csv(tmp_path / "m" / "labels.csv")
    assert (trained["label"].to_numpy() == y).mean() > 0.85

    proba = np.eye(3)[y] * 0.7 + 0.1  # a model that knows the truth, fairly sure of it
    table = pd.DataFrame(proba, columns=["proba_0", "proba_1", "proba_2"])
    table.insert(0, "id", range(300))
    table.to_csv(tmp_path / "proba.csv", index=False)
    result = run("label-issues", "--labels", tmp_path / "labels.csv", "--proba",
                 tmp_path / "proba.csv", "-o", tmp_path / "issues.csv")
    assert result.exit_code == 0, result.output
    issues = pd.read_csv(tmp_path / "issues.csv")
    wrong = set(np.flatnonzero(noisy != y))
    assert set(issues["id"][:len(wrong)]) == wrong
    assert set(issues.loc[issues["is_label_issue"], "id"]) == wrong
    assert "flagged as issues" in result.output
    result = run("label-issues", "--labels", tmp_path / "labels.csv", "--proba",
                 tmp_path / "proba.csv", "--filter-by", "prune_by_noise_rate", "-o",
                 tmp_path / "pruned.csv")
    assert result.exit_code == 0, result.output
    pruned = pd.read_csv(tmp_path / "pruned.csv")
    assert set(pruned.loc[pruned["is_label_issue"], "id"]) == wrong

    result = run("label-issues", "--labels", tmp_path / "labels.csv", "--features",
                 tmp_path / "X.npy", "--method", "me-momentum", "--param", "epochs=3",
                 "--param", "n_outer=1", "--param", "n_inner=1", "-o", tmp_path / "mm.csv")
    assert result.exit_code == 0, result.output
    ranked = pd.read_csv(tmp_path / "mm.csv")
    assert len(ranked) == 300 and set(ranked.columns) >= {"id", "label_quality"}


def _one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_bad_input_is_one_line_and_leaves_no_folder(crowd_files):
    folder, y = crowd_files
    base = ["--answers", folder / "answers.csv", "--method", "mv", "--epochs", "1"]
    np.save(folder / "other.npy", _features(y))  # ids 0..239: none is an 'item…' task
    _one_line_error(run("fit", *base, "--features", folder / "other.npy", "-o",
                        folder / "m1"), "no feature row has the id of any")
    bad = pd.read_csv(folder / "features.csv")
    bad.loc[5, "f2"] = np.nan
    bad.to_csv(folder / "nan.csv", index=False)
    _one_line_error(run("fit", *base, "--features", folder / "nan.csv", "-o", folder / "m2"),
                    "(id 'item5'), column 'f2' is empty")
    _one_line_error(run("fit", *base, "--features", folder / "features.csv", "--param",
                        "smoothing=1", "-o", folder / "m3"),
                    "method 'mv' has no parameter 'smoothing'")
    _one_line_error(run("fit", "--answers", folder / "answers.csv", "--method", "mbem",
                        "--features", folder / "features.csv", "--param", "n_rounds=0",
                        "-o", folder / "m4"), "n_rounds")
    pd.DataFrame({"task": [f"item{i}" for i in range(240)], "label": "cat"}).to_csv(
        folder / "one.csv", index=False)
    _one_line_error(run("fit", "--labels", folder / "one.csv", "--features",
                        folder / "features.csv", "--method", "ce", "--epochs", "1", "-o",
                        folder / "m5"), "class")
    _one_line_error(run("fit", *base[:2], "--method", "ce", "--features",
                        folder / "features.csv", "-o", folder / "m6"), "give --labels")
    half = pd.read_csv(folder / "features.csv").iloc[:200]
    half.to_csv(folder / "half.csv", index=False)
    _one_line_error(run("fit", *base, "--features", folder / "half.csv", "-o", folder / "m7"),
                    "40 of the answered tasks have no feature row", "--allow-missing")
    assert not any((folder / f"m{i}").exists() for i in range(1, 8))
    kept = run("fit", *base, "--features", folder / "half.csv", "--allow-missing", "-o",
               folder / "m8")
    assert kept.exit_code == 0 and "dropped 40 tasks without features" in kept.output


def test_predict_errors(crowd_files, tmp_path):
    folder, y = crowd_files
    assert run("fit", "--answers", folder / "answers.csv", "--features",
               folder / "features.csv", "--method", "mv", "--epochs", "1", "-o",
               folder / "model").exit_code == 0
    np.save(folder / "narrow.npy", _features(y)[:, :4])
    _one_line_error(run("predict", folder / "model", "--features", folder / "narrow.npy",
                        "-o", folder / "p.csv"), "narrow.npy: X has 4 features",
                    "expecting 6")
    (tmp_path / "not-a-model").mkdir()
    _one_line_error(run("predict", tmp_path / "not-a-model", "--features",
                        folder / "features.csv", "-o", folder / "p.csv"), "learner.json")
    assert not (folder / "p.csv").exists()


def test_force_replaces_only_a_model_folder(crowd_files):
    folder, _ = crowd_files
    mine = folder / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = run("fit", "--answers", folder / "answers.csv", "--features",
                 folder / "features.csv", "--method", "mv", "--epochs", "1", "-o", mine,
                 "--force")
    _one_line_error(result, "holds no model")
    assert (mine / "notes.txt").read_text() == "keep me"


def test_predict_matches_columns_by_name_and_checks_truth(crowd_files):
    folder, y = crowd_files
    assert run("fit", "--answers", folder / "answers.csv", "--features",
               folder / "features.csv", "--method", "mv", "--epochs", "3", "-o",
               folder / "model").exit_code == 0
    table = pd.read_csv(folder / "features.csv")
    shuffled = table[["id", *reversed(table.columns[1:].tolist())]]
    shuffled.to_csv(folder / "shuffled.csv", index=False)
    a = run("predict", folder / "model", "--features", folder / "features.csv", "-o",
            folder / "a.csv")
    b = run("predict", folder / "model", "--features", folder / "shuffled.csv", "-o",
            folder / "b.csv")
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    pd.testing.assert_frame_equal(pd.read_csv(folder / "a.csv"), pd.read_csv(folder / "b.csv"))
    table.drop(columns="f3").to_csv(folder / "fewer.csv", index=False)
    _one_line_error(run("predict", folder / "model", "--features", folder / "fewer.csv", "-o",
                        folder / "c.csv"), "no column 'f3'")
    pd.DataFrame({"id": table["id"], "label": "cat"}).to_csv(folder / "truth.csv",
                                                              index=False)
    _one_line_error(run("predict", folder / "model", "--features", folder / "features.csv",
                        "-o", folder / "d.csv", "--truth", folder / "truth.csv"),
                    "label 'cat' is not one of the model's classes")
    assert not (folder / "d.csv").exists()
    _one_line_error(run("predict", folder / "model", "--features", folder / "features.csv",
                        "-o", folder / "truth.csv", "--truth", folder / "truth.csv", "--force"),
                    "over an input file")
    # a truth file with its own column names: --task-col and --label-col
    pd.DataFrame({"item": table["id"], "y": y, "note": "x"}).to_csv(folder / "named.csv",
                                                                   index=False)
    args = ["predict", folder / "model", "--features", folder / "features.csv", "--truth",
            folder / "named.csv"]
    _one_line_error(run(*args, "-o", folder / "e.csv"), "expected columns 'task' and 'label'")
    scored = run(*args, "--task-col", "item", "--label-col", "y", "-o", folder / "e.csv")
    assert scored.exit_code == 0 and "accuracy against" in scored.output, scored.output


def test_a_setting_given_twice_is_refused(crowd_files):
    folder, _ = crowd_files
    _one_line_error(run("fit", "--answers", folder / "answers.csv", "--features",
                        folder / "features.csv", "--method", "mv", "--epochs", "1",
                        "--param", "epochs=3", "-o", folder / "m"), "epochs is given twice")
    _one_line_error(run("fit", "--answers", folder / "answers.csv", "--features",
                        folder / "features.csv", "--method", "mv", "--device", "cuda",
                        "-o", folder / "m"), "no CUDA device")


def test_label_issues_reads_task_or_id_columns_and_names_bad_rows(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    pd.DataFrame({"task": range(60), "label": y, "confidence": 1.0}).to_csv(
        tmp_path / "mv.csv", index=False)  # as `aggregate` writes it
    proba = np.eye(2)[y] * 0.8 + 0.1
    table = pd.DataFrame(proba, columns=["proba_0", "proba_1"])
    table.insert(0, "id", range(60))
    table.loc[7, "proba_0"] = 0.5  # sums to 1.4
    table.to_csv(tmp_path / "proba.csv", index=False)
    _one_line_error(run("label-issues", "--labels", tmp_path / "mv.csv", "--proba",
                        tmp_path / "proba.csv", "-o", tmp_path / "issues.csv"),
                    "proba.csv: the probabilities of id '7' (line 9)")
    table.loc[7, "proba_0"] = 0.1
    table.to_csv(tmp_path / "proba.csv", index=False)
    assert run("label-issues", "--labels", tmp_path / "mv.csv", "--proba",
               tmp_path / "proba.csv", "-o", tmp_path / "issues.csv").exit_code == 0
    _one_line_error(run("label-issues", "--labels", tmp_path / "mv.csv", "--features",
                        tmp_path / "proba.csv", "--score", "normalized_margin", "-o",
                        tmp_path / "other.csv"), "--score and --filter-by apply to --proba")


def test_a_methods_own_option_is_named_with_its_flag(tmp_path):
    y = np.arange(40) % 2
    np.save(tmp_path / "X.npy", _features(y))
    pd.DataFrame({"id": range(40), "label": y}).to_csv(tmp_path / "l.csv", index=False)
    result = run("fit", "--labels", tmp_path / "l.csv", "--features", tmp_path / "X.npy",
                 "--method", "two-em", "--epochs", 3, "-o", tmp_path / "m")
    assert result.exit_code == 2
    assert ("warmup_epochs must be below epochs (3), got 10; set it with --param "
            "warmup_epochs=VALUE") in result.output


def test_predict_with_a_ce_models_best_epoch(tmp_path):
    y = np.arange(60) % 2
    np.save(tmp_path / "X.npy", _features(y))
    pd.DataFrame({"id": range(60), "label": y}).to_csv(tmp_path / "l.csv", index=False)
    assert run("fit", "--labels", tmp_path / "l.csv", "--features", tmp_path / "X.npy",
               "--method", "ce", "--epochs", 4, "--threads", 1, "-o",
               tmp_path / "ce").exit_code == 0
    model = crowdlearn.load(tmp_path / "ce")
    X = _features(y)
    for epoch in ("final", "best"):
        result = run("predict", tmp_path / "ce", "--features", tmp_path / "X.npy", "--proba",
                     "--epoch", epoch, "-o", tmp_path / f"{epoch}.csv")
        assert result.exit_code == 0, result.output
        written = pd.read_csv(tmp_path / f"{epoch}.csv")[["proba_0", "proba_1"]].to_numpy()
        np.testing.assert_allclose(written, model.predict_proba(X, model=epoch), atol=1e-6)
    assert run("fit", "--labels", tmp_path / "l.csv", "--features", tmp_path / "X.npy",
               "--method", "coteaching", "--epochs", 2, "--threads", 1, "-o",
               tmp_path / "co").exit_code == 0
    result = run("predict", tmp_path / "co", "--features", tmp_path / "X.npy", "--epoch",
                 "best", "-o", tmp_path / "co.csv")
    assert result.exit_code == 2 and "--epoch best applies to ce models" in result.output
    assert not (tmp_path / "co.csv").exists()


def test_best_epoch_of_a_ce_model_without_a_validation_split_is_said(tmp_path):
    y = np.arange(40) % 2
    np.save(tmp_path / "X.npy", _features(y))
    pd.DataFrame({"id": range(40), "label": y}).to_csv(tmp_path / "l.csv", index=False)
    assert run("fit", "--labels", tmp_path / "l.csv", "--features", tmp_path / "X.npy",
               "--method", "ce", "--epochs", 2, "--param", "val_fraction=0", "--threads", 1,
               "-o", tmp_path / "ce").exit_code == 0
    result = run("predict", tmp_path / "ce", "--features", tmp_path / "X.npy", "--epoch",
                 "best", "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert "warning: trained without a validation split (val_fraction=0)" in result.output
    with pytest.warns(UserWarning, match="its best network is its final one"):
        crowdlearn.load(tmp_path / "ce").predict_proba(_features(y), model="best")


def test_predict_reads_the_id_column_fit_was_given(crowd_files):
    folder, y = crowd_files
    table = pd.read_csv(folder / "features.csv").rename(columns={"id": "item"})
    table.to_csv(folder / "items.csv", index=False)
    assert run("fit", "--answers", folder / "answers.csv", "--features", folder / "items.csv",
               "--id-col", "item", "--method", "mv", "--epochs", "1", "-o",
               folder / "model").exit_code == 0
    assert json.loads((folder / "model" / "summary.json").read_text())["id_column"] == "item"
    done = run("predict", folder / "model", "--features", folder / "items.csv", "-o",
               folder / "a.csv")
    assert done.exit_code == 0, done.output
    assert pd.read_csv(folder / "a.csv")["id"].tolist() == table["item"].tolist()
    plain = run("predict", folder / "model", "--features", folder / "features.csv", "-o",
                folder / "b.csv")  # the usual name still works
    assert plain.exit_code == 0, plain.output
    table.rename(columns={"item": "key"}).to_csv(folder / "keys.csv", index=False)
    _one_line_error(run("predict", folder / "model", "--features", folder / "keys.csv", "-o",
                        folder / "c.csv"), "no id column 'item' nor 'id'")


def test_images_of_several_sizes_are_resized_by_fit_and_predict(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "new").mkdir()
    rows = []
    for i in range(40):
        cls = i % 2
        size = (12 + i % 3, 10 + i % 4)  # width, height vary
        pixels = rng.integers(0, 60, (size[1], size[0]), dtype=np.uint8) + 150 * cls
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "imgs" / f"im{i}.png")
        Image.fromarray(pixels.astype(np.uint8)).resize((30, 20)).save(
            tmp_path / "new" / f"im{i}.png")
        rows += [(f"im{i}", w, cls) for w in range(3)]
    pd.DataFrame(rows, columns=["task", "worker", "label"]).to_csv(tmp_path / "answers.csv",
                                                                  index=False)
    base = ["fit", "--answers", tmp_path / "answers.csv", "--features", tmp_path / "imgs",
            "--method", "mv", "--epochs", "20", "--lr", "0.01", "-o"]
    _one_line_error(run(*base, tmp_path / "m0"), "resize them to one size", "--image-size")
    _one_line_error(run(*base, tmp_path / "m0", "--image-size", "0x4"),
                    "--image-size: expected WIDTHxHEIGHT")
    done = run(*base, tmp_path / "model", "--image-size", "8x6")
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "model" / "summary.json").read_text())
    assert summary["image_size"] == [6, 8]
    assert crowdlearn.load(tmp_path / "model").input_shape_ == (1, 6, 8)
    predicted = run("predict", tmp_path / "model", "--features", tmp_path / "new", "-o",
                    tmp_path / "p.csv")  # 30×20 images, resized like the training ones
    assert predicted.exit_code == 0, predicted.output
    labels = pd.read_csv(tmp_path / "p.csv").set_index("id")["label"]
    assert (labels[[f"im{i}" for i in range(40)]].to_numpy() == np.arange(40) % 2).mean() > 0.9
