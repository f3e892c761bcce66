from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from crowdlearn import InputError
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.nn import Trainer, balanced_accuracy, make_model


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return X[:1300], y[:1300], X[1300:], y[1300:]


def model(seed=0, dropout=0.2):
    return make_model("mlp", (1, 8, 8), 10, seed=seed, hidden=(64,), dropout=dropout)


def weights(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def test_learns_digits_with_validation(digits):
    X, y, Xv, yv = digits
    m = model()
    trainer = Trainer(epochs=15, batch_size=64, lr=3e-3, progress=False).fit(m, X, y, X_val=Xv,
                                                                            y_val=yv)
    assert len(trainer.history_) == 15
    assert trainer.history_[-1]["loss"] < trainer.history_[0]["loss"]
    acc = (trainer.predict_proba(m, Xv).argmax(1) == yv).mean()
    assert acc > 0.9
    best = max(r["val_score"] for r in trainer.history_)
    assert trainer.best_score_ == best and acc == pytest.approx(best)  # best epoch restored


def test_same_seed_same_weights(digits):
    X, y, _, _ = digits
    runs = [weights(Trainer(epochs=2, seed=s, progress=False).fit(m := model(), X, y) and m)
            for s in (1, 1, 2)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_soft_targets_and_weights(digits):
    X, y, Xv, yv = digits
    soft = np.full((len(y), 10), 0.02, dtype=np.float32)
    soft[np.arange(len(y)), y] = 0.82
    m = model()
    Trainer(epochs=10, lr=3e-3, progress=False).fit(m, X, soft)
    assert (Trainer().predict_proba(m, Xv).argmax(1) == yv).mean() > 0.85
    # zero weight on every example of class 3: the model never learns to predict it
    w = (y != 3).astype(np.float32)
    m2 = model()
    Trainer(epochs=10, lr=3e-3, progress=False).fit(m2, X, y, weights=w)
    pred = Trainer().predict_proba(m2, Xv).argmax(1)
    assert (pred == 3).mean() < 0.02


def test_resume_after_interruption_matches_uninterrupted(digits, tmp_path):
    X, y, Xv, yv = digits
    settings = dict(epochs=6, batch_size=100, optimizer="sgd", lr=0.05, schedule="step",
                    milestones=(2, 4), seed=3, progress=False)
    full = model(seed=7)
    Trainer(**settings).fit(full, X, y, X_val=Xv, y_val=yv)

    ckpt = tmp_path / "run.pt"

    class Interrupt(Exception):
        pass

    def stop_after_epoch_2(epoch, record):
        if epoch == 2:
            raise Interrupt

    first = model(seed=7)
    with pytest.raises(Interrupt):
        Trainer(**settings, checkpoint=ckpt, on_epoch_end=stop_after_epoch_2).fit(
            first, X, y, X_val=Xv, y_val=yv)
    assert ckpt.exists()
    resumed = model(seed=99)  # whatever the start: the checkpoint's weights are loaded
    trainer = Trainer(**settings, checkpoint=ckpt, resume=True).fit(resumed, X, y, X_val=Xv,
                                                                    y_val=yv)
    assert torch.equal(weights(resumed), weights(full))
    assert [r["epoch"] for r in trainer.history_] == list(range(6))


def test_existing_checkpoint_is_not_overwritten(digits, tmp_path):
    X, y, _, _ = digits
    ckpt = tmp_path / "run.pt"
    Trainer(epochs=1, checkpoint=ckpt, progress=False).fit(model(), X, y)
    before = ckpt.read_bytes()
    with pytest.raises(InputError, match="already exists; pass resume=True"):
        Trainer(epochs=1, checkpoint=ckpt, progress=False).fit(model(), X, y)
    assert ckpt.read_bytes() == before
    with pytest.raises(InputError, match="training examples"):
        Trainer(epochs=2, checkpoint=ckpt, resume=True, progress=False).fit(model(), X[:10],
                                                                           y[:10])


def test_early_stopping(digits):
    X, y, Xv, yv = digits
    noise = np.random.default_rng(0).integers(0, 10, len(y))  # random labels: no progress
    trainer = Trainer(epochs=50, patience=3, progress=False).fit(model(), X, noise, X_val=Xv,
                                                                y_val=yv)
    assert len(trainer.history_) < 50
    assert len(trainer.history_) - 1 - trainer.best_epoch_ == 3


def test_cosine_schedule_and_custom_step(digits):
    X, y, _, _ = digits
    calls = []

    def step(m, batch):
        calls.append(len(batch.index))
        return torch.nn.functional.cross_entropy(m(batch.x), batch.target)

    trainer = Trainer(epochs=4, batch_size=500, schedule="cosine", lr=0.1, optimizer="sgd",
                      step=step, drop_last=True, progress=False).fit(model(), X, y)
    assert calls == [500, 500] * 4
    lrs = [r["lr"] for r in trainer.history_]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.1 * 0.5


def test_uint8_images_are_scaled():
    X = np.full((8, 1, 28, 28), 255, dtype=np.uint8)
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 2))
    with torch.no_grad():
        m[1].weight.fill_(1.0 / 784)
        m[1].bias.zero_()
    logits = Trainer().predict_logits(m, X)
    np.testing.assert_allclose(logits, 1.0, rtol=1e-5)


def test_balanced_accuracy():
    y = np.array([0, 0, 0, 1])
    proba = np.eye(2)[[0, 0, 0, 0]]
    assert balanced_accuracy(y, proba) == 0.5


def test_bad_inputs(digits):
    X, y, _, _ = digits
    with pytest.raises(InputError, match="targets has"):
        Trainer(progress=False).fit(model(), X, y[:5])
    with pytest.raises(InputError, match="optimizer"):
        Trainer(optimizer="rmsprop").fit(model(), X, y)
    with pytest.raises(InputError, match="integer class codes"):
        Trainer(progress=False).fit(model(), X, y.astype(float))
    fit = Trainer(epochs=1, progress=False).fit
    with pytest.raises(InputError, match=r"got \(\d+, 1\) of int64: give class codes as a 1-D"):
        fit(model(), X, y[:, None])
    for bad in (10, -1, -100):  # torch skips -100 silently and fails deep on the others
        with pytest.raises(InputError, match=f"target {bad} .example 3. is not a class code"):
            fit(model(), X, np.where(np.arange(len(y)) == 3, bad, y))
    soft = np.eye(10, dtype=np.float32)[y]
    with pytest.raises(InputError, match="soft targets have 7 columns, the model scores 10"):
        fit(model(), X, soft[:, :7])
    with pytest.raises(InputError, match="example 0 sums to 2"):
        fit(model(), X, soft * 2)
    fit(model(), X, soft.astype(int))  # one-hot integers or booleans are soft targets too
    fit(model(), X, soft.astype(bool))
    fit(model(), X, soft * 0.99)  # rounded when saved: within 0.02 of 1
    with pytest.raises(InputError, match="finite and non-negative"):
        fit(model(), X, np.where(np.arange(len(y))[:, None] == 1, np.nan, soft))
    with pytest.raises(InputError, match="weights must be finite and non-negative"):
        fit(model(), X, y, weights=np.full(len(y), -1.0))
    with pytest.raises(InputError, match="no training examples"):
        fit(model(), X[:0], y[:0])
    with pytest.raises(InputError, match="drop_last with batch_size 128 and 10 examples"):
        Trainer(epochs=1, drop_last=True, progress=False).fit(model(), X[:10], y[:10])
    with pytest.raises(InputError, match="X_val has 5 examples but y_val has 4"):
        fit(model(), X, y, X_val=X[:5], y_val=y[:4])
    with pytest.raises(InputError, match="lr must be a positive number, got -1"):
        Trainer(lr=-1, progress=False).fit(model(), X, y)
    assert Trainer(epochs=np.int64(1), progress=False).fit(model(), X, y) is not None
    with pytest.raises(InputError, match="patience must be a positive integer or None"):
        Trainer(patience=0, progress=False).fit(model(), X, y)
    with pytest.warns(CrowdlearnWarning, match="patience=3 stops on the validation score"):
        Trainer(epochs=1, patience=3, progress=False).fit(model(), X, y)
    ints = fit(model(), (X * 16).astype(np.int64), y)  # integer features become floats
    assert ints.predict_proba(model(), (X[:2] * 16).astype(np.int64)).shape == (2, 10)


def test_a_last_batch_of_one_example_that_batch_norm_cannot_train_on_is_skipped():
    rng = np.random.default_rng(0)
    X = rng.random((129, 3, 8, 8)).astype(np.float32)  # 8×8 pooled to 1×1: 1 value a channel
    y = rng.integers(0, 10, 129)
    net = make_model("resnet18", (3, 8, 8), 10, seed=0)
    trainer = Trainer(epochs=1, batch_size=128, progress=False).fit(net, X, y)
    assert trainer.predict_proba(net, X[:3]).shape == (3, 10)
    with pytest.raises(InputError, match="batch_size 1: this model's batch norm"):
        Trainer(epochs=1, batch_size=1, progress=False).fit(net, X[:4], y[:4])


def test_a_checkpoint_folder_is_made_before_training(digits, tmp_path):
    X, y, _, _ = digits
    path = tmp_path / "not" / "yet" / "run.pt"
    Trainer(epochs=1, progress=False, checkpoint=path).fit(model(), X[:100], y[:100])
    assert path.is_file()
