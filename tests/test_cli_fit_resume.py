"""`crowdlearn fit` interrupted, then run again: it resumes from its checkpoints beside -o and
ends with the model of an uninterrupted run; other options are refused with a remedy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn.cli import app
from crowdlearn.nn.trainer import Trainer
from tests.conftest import make_crowd

runner = CliRunner()


class Interrupted(Exception):
    pass


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def files(tmp_path):
    ann, y, _ = make_crowd(n_tasks=200, n_workers=10, k=3, r=3, seed=4)
    frame = ann.to_frame()
    frame["task"] = "item" + frame["task"].astype(str)
    frame.to_csv(tmp_path / "answers.csv", index=False)
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (len(y), 5))
    X[np.arange(len(y)), y] += 3
    table = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    table.insert(0, "id", [f"item{i}" for i in range(len(y))])
    table.to_csv(tmp_path / "features.csv", index=False)
    return tmp_path


def interrupt_third_run(monkeypatch) -> None:
    """The third Trainer run of the process stops after its second epoch, as Ctrl-C would."""
    runs = {"n": 0}
    original = Trainer._run

    def run_then_stop(self, *args, **kwargs):
        runs["n"] += 1
        if runs["n"] == 3:
            self.on_epoch_end = lambda epoch, record: (_ for _ in ()).throw(Interrupted) \
                if epoch == 1 else None
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_run", run_then_stop)


def test_an_interrupted_fit_resumes_and_ends_as_an_uninterrupted_one(files, monkeypatch):
    base = ["fit", "--answers", files / "answers.csv", "--features", files / "features.csv",
            "--method", "mbem", "--epochs", "3", "--threads", "1", "--device", "cpu",
            "--param", "n_rounds=2", "--proba"]
    assert run(*base, "-o", files / "full").exit_code == 0
    scratch = files / ".model.fit-checkpoints"
    with monkeypatch.context() as m:
        interrupt_third_run(m)
        result = run(*base, "-o", files / "model")
    assert isinstance(result.exception, Interrupted)
    assert not (files / "model").exists()
    assert sorted(p.name for p in scratch.iterdir()) == ["fit.json", "fit.lock", "run-00.pt",
                                                         "run-01.pt", "run-02.pt"]
    # other options: refused, naming the difference and the remedy; nothing changes
    other = run(*base, "--lr", "0.01", "-o", files / "model")
    assert other.exit_code == 2
    assert "lr=0.001 in the checkpoint, 0.01 in this fit" in other.output
    assert "--force to start this one over" in other.output
    assert len(other.output.strip().splitlines()) == 2  # the "resuming" line and the error
    assert scratch.is_dir() and not (files / "model").exists()

    resumed = run(*base, "-o", files / "model")
    assert resumed.exit_code == 0, resumed.output
    assert f"{scratch}: checkpoints of an interrupted fit" in resumed.output
    assert not scratch.exists()
    pd.testing.assert_frame_equal(pd.read_csv(files / "model" / "labels.csv"),
                                  pd.read_csv(files / "full" / "labels.csv"))
    assert (files / "model" / "model_.pt").read_bytes() == \
        (files / "full" / "model_.pt").read_bytes()


def test_force_starts_an_interrupted_fit_of_other_options_over(files, monkeypatch):
    base = ["fit", "--answers", files / "answers.csv", "--features", files / "features.csv",
            "--method", "soft-mv", "--epochs", "3", "--threads", "1", "--device", "cpu",
            "--param", "self_training=true"]
    scratch = files / ".model.fit-checkpoints"
    with monkeypatch.context() as m:
        runs = {"n": 0}
        original = Trainer._run

        def stop_in_second(self, *args, **kwargs):
            runs["n"] += 1
            if runs["n"] == 2:
                raise Interrupted
            return original(self, *args, **kwargs)

        m.setattr(Trainer, "_run", stop_in_second)
        assert isinstance(run(*base, "-o", files / "model").exception, Interrupted)
    assert scratch.is_dir()
    result = run(*base, "--lr", "0.01", "--force", "-o", files / "model")
    assert result.exit_code == 0, result.output
    assert "lr=0.001 in the checkpoint, 0.01 in this fit: starting over (--force)" in \
        result.output.replace("\n", "") and not scratch.exists()
    # input refused inside the learner's fit leaves no checkpoint folder behind
    answers = pd.read_csv(files / "answers.csv").drop_duplicates("task")
    answers[["task", "label"]].to_csv(files / "labels.csv", index=False)
    bad = run("fit", "--labels", files / "labels.csv", "--features", files / "features.csv",
              "--method", "ce", "--epochs", "1", "--param", "val_fraction=0.999", "-o",
              files / "m2")
    assert bad.exit_code == 2 and "no usable split" in bad.output
    assert not (files / ".m2.fit-checkpoints").exists()


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_running_fits_checkpoints_are_neither_resumed_nor_removed(files, force):
    from crowdlearn.learners.folder_lock import folder_lock

    scratch = files / ".model.fit-checkpoints"
    scratch.mkdir()
    (scratch / "run-00.pt").write_bytes(b"a live fit's checkpoint")
    with folder_lock(scratch):  # as the fit running in another process holds it
        result = run("fit", "--answers", files / "answers.csv", "--features",
                     files / "features.csv", "--method", "mbem", "--epochs", "1",
                     "--threads", "1", "--device", "cpu", "-o", files / "model", *force)
    assert result.exit_code == 2
    assert f"{scratch} is in use by process" in result.output
    assert "resuming" not in result.output
    assert (scratch / "run-00.pt").read_bytes() == b"a live fit's checkpoint"
    assert not (files / "model").exists()


def test_the_checkpoints_stay_locked_until_the_model_folder_is_written(files, monkeypatch):
    import crowdlearn.model_folder as model_folder
    from crowdlearn.learners.folder_lock import CheckpointInUse, check_unlocked

    scratch = files / ".model.fit-checkpoints"
    seen = []
    original = model_folder.write_model_folder

    def write(*args, **kwargs):  # a second fit starting now must still be refused
        with pytest.raises(CheckpointInUse):
            check_unlocked(scratch)
        seen.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(model_folder, "write_model_folder", write)
    result = run("fit", "--answers", files / "answers.csv", "--features",
                 files / "features.csv", "--method", "mbem", "--epochs", "1", "--threads", "1",
                 "--device", "cpu", "-o", files / "model")
    assert result.exit_code == 0, result.output
    assert seen == [True] and not scratch.exists() and (files / "model").is_dir()


# ---------------------------------------------------------------- a life-cycle audit's finds
def test_a_forced_fit_interrupted_resumes_when_run_again(files, monkeypatch):
    # a job script with --force that hits its time limit used to start over every time
    base = ["fit", "--answers", files / "answers.csv", "--features", files / "features.csv",
            "--method", "mbem", "--epochs", "3", "--threads", "1", "--device", "cpu",
            "--param", "n_rounds=2", "--force", "-o", files / "model"]
    assert run(*base).exit_code == 0
    with monkeypatch.context() as m:
        interrupt_third_run(m)
        assert isinstance(run(*base).exception, Interrupted)
    assert (files / "model" / "learner.json").is_file()  # the earlier model, untouched
    result = run(*base)
    assert result.exit_code == 0, result.output
    assert "checkpoints of an interrupted fit" in result.output
    assert "starting over" not in result.output


def test_force_keeps_a_users_files_in_a_model_folder(files):
    base = ["fit", "--answers", files / "answers.csv", "--features", files / "features.csv",
            "--method", "mv", "--epochs", "1", "--threads", "1", "--device", "cpu",
            "-o", files / "model"]
    assert run(*base).exit_code == 0
    (files / "model" / "my_notes.txt").write_text("important")
    (files / "model" / ".DS_Store").write_text("")
    result = run(*base, "--force")
    assert result.exit_code == 2
    assert "also holds 1 file(s) that fit did not write (my_notes.txt)" in \
        result.output.replace("\n", "")
    assert (files / "model" / "my_notes.txt").read_text() == "important"
    (files / "model" / "my_notes.txt").unlink()
    assert run(*base, "--force").exit_code == 0


def test_a_file_in_place_of_the_checkpoint_folder_is_refused_and_kept(files):
    (files / ".model.fit-checkpoints").write_text("notes")
    for force in ([], ["--force"]):
        result = run("fit", "--answers", files / "answers.csv", "--features",
                     files / "features.csv", "--method", "mv", "--epochs", "1", "-o",
                     files / "model", *force)
        assert result.exit_code == 2 and "is in the way of fit's checkpoint folder" in \
            result.output.replace("\n", "")
        assert (files / ".model.fit-checkpoints").read_text() == "notes"


def test_resuming_with_other_folds_is_refused_in_the_command_lines_words(files, monkeypatch):
    base = ["fit", "--answers", files / "answers.csv", "--features", files / "features.csv",
            "--method", "mv", "--epochs", "2", "--threads", "1", "--device", "cpu",
            "-o", files / "model"]
    with monkeypatch.context() as m:
        interrupt_third_run(m)  # the main fit, fold 1, then fold 2 stops
        assert isinstance(run(*base, "--folds", "3").exception, Interrupted)
    other = run(*base, "--folds", "4")
    assert other.exit_code == 2
    assert "differ from the checkpoint's; the checkpoints of an interrupted fit" in \
        other.output.replace("\n", " ")
    assert "--force to start this one over" in other.output.replace("\n", " ")
    forced = run(*base, "--folds", "4", "--force")
    assert forced.exit_code == 0, forced.output
    assert "starting over (--force)" in forced.output.replace("\n", " ")
    assert len(pd.read_csv(files / "model" / "oof.csv")) == 200


def test_a_changed_seed_is_named_inside_the_aggregator(files, monkeypatch):
    base = ["fit", "--answers", files / "answers.csv", "--features", files / "features.csv",
            "--method", "mv", "--epochs", "3", "--threads", "1", "--device", "cpu",
            "--param", "self_training=true", "-o", files / "model"]
    with monkeypatch.context() as m:
        runs = {"n": 0}
        original = Trainer._run

        def stop_in_second(self, *args, **kwargs):
            runs["n"] += 1
            if runs["n"] == 2:
                raise Interrupted
            return original(self, *args, **kwargs)

        m.setattr(Trainer, "_run", stop_in_second)
        assert isinstance(run(*base).exception, Interrupted)
    result = run(*base, "--seed", "1")
    assert result.exit_code == 2
    assert "aggregator.params.seed=0 in the checkpoint, 1 in this fit" in \
        result.output.replace("\n", "")


def test_a_model_fit_on_named_columns_matches_them_by_name_after_loading(files):
    import crowdlearn

    assert run("fit", "--answers", files / "answers.csv", "--features",
               files / "features.csv", "--method", "ds", "--epochs", "5", "--threads", "1",
               "--device", "cpu", "-o", files / "model").exit_code == 0
    model = crowdlearn.load(files / "model")
    X = pd.read_csv(files / "features.csv").set_index("id")
    reordered = X[list(reversed(X.columns))]
    assert (model.predict(reordered) == model.predict(X)).all()
    X.assign(extra=1.0).reset_index().to_csv(files / "extra.csv", index=False)
    result = run("predict", files / "model", "--features", files / "extra.csv", "-o",
                 files / "p.csv")
    assert result.exit_code == 0 and "left out: 'extra'" in result.output.replace("\n", "")
