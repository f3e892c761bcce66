"""A learner's fit with a ``checkpoint`` folder: interrupted, then run again, it ends as an
uninterrupted fit with the same seed; a folder made by another fit is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crowdlearn import Annotations, InputError
from crowdlearn.datasets import load
from crowdlearn.learners import MBEM, AggNet, MeMomentum, StandardCE, TwoEM
from crowdlearn.nn.trainer import CheckpointMismatch, Trainer
from crowdlearn.simulate import assign, hammer_spammer, symmetric


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def digits():
    train, test = load("digits", "train"), load("digits", "test")
    return train.X[:400], train.y[:400], test.X[:200]


@pytest.fixture(scope="module")
def crowd(digits):
    X, y, _ = digits
    ann = hammer_spammer(12, 10, 0.5, seed=2).annotate(y, assign(len(y), 12, 2, seed=2),
                                                       seed=2, tasks=list(range(len(y))))
    return X, ann


def interrupt_at(monkeypatch, run: int, epoch: int) -> None:
    """Make the ``run``-th Trainer run (0-based, counting every run of the process) raise
    after its epoch ``epoch``, before that epoch's checkpoint is written."""
    calls = {"runs": -1}
    original_fit, original_run = Trainer.fit, Trainer._run

    def counting_fit(self, *args, **kwargs):
        calls["runs"] += 1
        return original_fit(self, *args, **kwargs)

    def run_with_interrupt(self, *args, **kwargs):
        if calls["runs"] == run:
            callback = self.on_epoch_end

            def stop(e, record):
                stopped = callback(e, record) if callback is not None else None
                if e == epoch:
                    raise Interrupt
                return stopped

            self.on_epoch_end = stop
        return original_run(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", counting_fit)
    monkeypatch.setattr(Trainer, "_run", run_with_interrupt)


def same_fit(make, X, target, tmp_path, monkeypatch, run: int, epoch: int, X_test):
    """Interrupt a checkpointed fit in run ``run``, fit again from the folder, and compare
    with an uninterrupted fit; returns the resumed learner."""
    full = make(checkpoint=None).fit(X, target)
    folder = tmp_path / "ck"
    with monkeypatch.context() as m:
        interrupt_at(m, run, epoch)
        with pytest.raises(Interrupt):
            make(checkpoint=folder).fit(X, target)
    saved = sorted(p.name for p in folder.glob("run-*.pt"))
    assert saved == [f"run-{i:02d}.pt" for i in range(run + (epoch > 0))]
    resumed = make(checkpoint=folder).fit(X, target)
    np.testing.assert_array_equal(resumed.predict_proba(X_test), full.predict_proba(X_test))
    for a, b in zip(resumed.model_.state_dict().values(), full.model_.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    return resumed, full


def test_standard_ce_interrupted_and_resumed(digits, tmp_path, monkeypatch):
    X, y, X_test = digits
    noisy = symmetric(y, 0.3, 10, seed=0).labels

    def make(**kw):
        return StandardCE(epochs=5, seed=1, n_threads=1, device="cpu", **kw)

    resumed, full = same_fit(make, X, noisy, tmp_path, monkeypatch, run=0, epoch=2,
                             X_test=X_test)
    np.testing.assert_array_equal(resumed.predict_proba(X_test, model="best"),
                                  full.predict_proba(X_test, model="best"))
    assert resumed.history_ == [{**r, "seconds": s["seconds"]}
                                for r, s in zip(full.history_, resumed.history_, strict=True)]
    # finished: the same fit again loads it (no training) and ends the same
    again = make(checkpoint=tmp_path / "ck").fit(X, noisy)
    np.testing.assert_array_equal(again.predict_proba(X_test), full.predict_proba(X_test))


def test_mbem_two_rounds_interrupted_in_the_third_run(crowd, digits, tmp_path, monkeypatch):
    X, ann = crowd

    def make(**kw):
        return MBEM(n_rounds=2, self_training=True, epochs=3, seed=0, n_threads=1,
                    device="cpu", **kw)

    # runs: soft-MV model and its refit, then two per round: interrupt round 1's first
    same_fit(make, X, ann, tmp_path, monkeypatch, run=2, epoch=1, X_test=digits[2])
    assert sorted(p.name for p in (tmp_path / "ck").glob("run-*.pt")) == \
        [f"run-{i:02d}.pt" for i in range(6)]


def test_me_momentum_interrupted_in_a_refinement_stage(digits, tmp_path, monkeypatch):
    X, y, X_test = digits
    noisy = symmetric(y, 0.3, 10, seed=0).labels

    def make(**kw):
        return MeMomentum(epochs=4, n_outer=2, n_inner=2, slack_stop=0.25, seed=0,
                          n_threads=1, device="cpu", **kw)

    resumed, full = same_fit(make, X, noisy, tmp_path, monkeypatch, run=1, epoch=2,
                             X_test=X_test)
    assert resumed.best_score_ == full.best_score_
    np.testing.assert_array_equal(resumed.confident_mask_, full.confident_mask_)


def test_methods_with_state_between_epochs_resume_exactly(crowd, digits, tmp_path,
                                                          monkeypatch):
    X, ann = crowd
    (tmp_path / "aggnet").mkdir()
    (tmp_path / "twoem").mkdir()
    resumed, full = same_fit(lambda **kw: AggNet(epochs=4, seed=0, n_threads=1, device="cpu",
                                                 **kw),
                             X, ann, tmp_path / "aggnet", monkeypatch, run=0, epoch=2,
                             X_test=digits[2])
    np.testing.assert_array_equal(resumed.confusion_, full.confusion_)
    noisy = symmetric(digits[1], 0.3, 10, seed=0).labels
    resumed, full = same_fit(lambda **kw: TwoEM(epochs=5, warmup_epochs=1, cr_ramp=2,
                                                noise_rate=0.3, seed=0, n_threads=1,
                                                device="cpu", **kw),
                             X, noisy, tmp_path / "twoem", monkeypatch, run=0, epoch=3,
                             X_test=digits[2])
    np.testing.assert_array_equal(resumed.clean_proba_, full.clean_proba_)


def test_another_fit_is_refused_by_name(digits, tmp_path):
    X, y, _ = digits
    folder = tmp_path / "ck"
    StandardCE(epochs=1, n_threads=1, device="cpu", checkpoint=folder).fit(X, y)
    with pytest.raises(CheckpointMismatch, match=r"ck: lr=0\.001 in the checkpoint, 0\.01 in "
                                                 r"this fit; rerun with the same .* remove the "
                                                 r"folder to start over$"):
        StandardCE(epochs=1, lr=0.01, n_threads=1, device="cpu", checkpoint=folder).fit(X, y)
    with pytest.raises(CheckpointMismatch, match="standardize=False in the checkpoint, True in "
                                                 "this fit;"):
        StandardCE(epochs=1, standardize=True, n_threads=1, device="cpu",
                   checkpoint=folder).fit(X, y)
    with pytest.raises(CheckpointMismatch, match="optimizer='adam' in the checkpoint, 'sgd' "):
        StandardCE(epochs=1, optimizer="sgd", n_threads=1, device="cpu",
                   checkpoint=folder).fit(X, y)
    with pytest.raises(CheckpointMismatch, match=r"ck: the labels \(y\) differ from the "
                                                 r"checkpoint's; rerun"):
        StandardCE(epochs=1, n_threads=1, device="cpu", checkpoint=folder).fit(X, y[::-1])
    with pytest.raises(CheckpointMismatch, match=r"the features \(X\) differ from "):
        StandardCE(epochs=1, n_threads=1, device="cpu", checkpoint=folder).fit(X[::-1], y)
    with pytest.raises(CheckpointMismatch, match="checkpoints of a StandardCE fit, not TwoEM"):
        TwoEM(epochs=2, warmup_epochs=1, n_threads=1, device="cpu",
              checkpoint=folder).fit(X, y)
    with pytest.raises(InputError, match="does not exist"):
        StandardCE(epochs=1, checkpoint=tmp_path / "no" / "ck").fit(X, y)
    # a learner fit with a checkpoint folder saves and loads like any other
    fitted = StandardCE(epochs=1, n_threads=1, device="cpu", checkpoint=folder).fit(X, y)
    fitted.save(tmp_path / "model")
    from crowdlearn import load as load_learner

    assert load_learner(tmp_path / "model").checkpoint is None


def test_other_answers_are_named_as_answers(crowd, tmp_path):
    from crowdlearn.learners import make_crowd_learner

    X, ann = crowd
    folder = tmp_path / "ck"

    def make():
        return make_crowd_learner("mv", self_training=False, epochs=1, n_threads=1,
                                  device="cpu", checkpoint=folder)

    make().fit(X, ann)
    answers = ann.to_frame()
    other = Annotations.from_frame(answers.assign(label=answers["label"].to_numpy()[::-1]))
    with pytest.raises(CheckpointMismatch, match=r"ck: the crowd's answers \(annotations\) "
                                                 r"differ from the checkpoint's; rerun"):
        make().fit(X, other)
