"""A Trainer checkpoint records what defines its run: a resume with other settings or data
is refused with one line naming what differs; the same run resumes bit-identically."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crowdlearn.errors import InputError
from crowdlearn.nn import Trainer, make_model
from crowdlearn.nn.trainer import CheckpointMismatch, data_digest, differing


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    return X, y


def interrupted(path, X, y, **settings) -> None:
    def stop(epoch, record):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        Trainer(**BASE, **settings, checkpoint=path, on_epoch_end=stop).fit(
            make_model("mlp", (6,), 3, seed=0), X, y)


BASE = dict(epochs=4, batch_size=32, lr=1e-3, seed=0, progress=False, device="cpu")


@pytest.mark.parametrize("changed, message", [
    ({"lr": 0.01}, r"run\.pt: lr=0\.001 in the checkpoint, 0\.01 in this run; resume with "
                   "the checkpoint's settings, or remove it to start over$"),
    ({"seed": 5}, "seed=0 in the checkpoint, 5 in this run;"),
    ({"batch_size": 16}, "batch_size=32 in the checkpoint, 16 in this run;"),
    ({"epochs": 8}, "epochs=4 in the checkpoint, 8 in this run;"),
    ({"optimizer": "sgd"}, "optimizer='adam' in the checkpoint, 'sgd' in this run;"),
    ({"schedule": "cosine"}, "schedule=None in the checkpoint, 'cosine' in this run;"),
    ({"nesterov": True}, "nesterov=False in the checkpoint, True in this run;"),
])
def test_other_settings_are_refused_by_name(data, tmp_path, changed, message):
    X, y = data
    path = tmp_path / "run.pt"
    interrupted(path, X, y)
    with pytest.raises(CheckpointMismatch, match=message) as caught:
        Trainer(**(BASE | changed), checkpoint=path, resume=True).fit(
            make_model("mlp", (6,), 3, seed=0), X, y)
    assert "\n" not in str(caught.value)


def test_other_data_of_the_same_size_is_refused(data, tmp_path):
    X, y = data
    path = tmp_path / "run.pt"
    interrupted(path, X, y)
    for args, name in (((X[::-1].copy(), y), r"the features \(X\)"),
                       ((X, np.roll(y, 3)), r"the training targets \(labels or soft labels\)"),
                       ((X, y, np.ones(len(y))), r"the example weights \(weights\)")):
        with pytest.raises(CheckpointMismatch, match=f"run.pt: {name} differ from the "
                                                     r"checkpoint's \(same sizes"):
            Trainer(**BASE, checkpoint=path, resume=True).fit(
                make_model("mlp", (6,), 3, seed=0), *args)
    # the same run still resumes, and ends as an uninterrupted one
    resumed = make_model("mlp", (6,), 3, seed=0)
    Trainer(**BASE, checkpoint=path, resume=True).fit(resumed, X, y)
    full = make_model("mlp", (6,), 3, seed=0)
    Trainer(**BASE).fit(full, X, y)
    for a, b in zip(resumed.state_dict().values(), full.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_without_a_run_record_is_refused(data, tmp_path):
    X, y = data
    path = tmp_path / "run.pt"
    interrupted(path, X, y)
    payload = torch.load(path, weights_only=True)
    del payload["run"]  # as written by an earlier crowdlearn
    torch.save(payload, path)
    with pytest.raises(CheckpointMismatch, match="older crowdlearn .* remove it to start over"):
        Trainer(**BASE, checkpoint=path, resume=True).fit(make_model("mlp", (6,), 3, seed=0),
                                                          X, y)
    assert issubclass(CheckpointMismatch, InputError)


def test_extra_state_is_saved_and_restored(data, tmp_path):
    X, y = data

    class Counter:
        def __init__(self):
            self.seen = 0

        def state_dict(self):
            return {"seen": self.seen}

        def load_state_dict(self, state):
            self.seen = state["seen"]

    path = tmp_path / "run.pt"
    counter = Counter()

    def count_then_stop(epoch, record):
        counter.seen += 1
        if epoch == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        Trainer(**BASE, checkpoint=path, extra_state=counter,
                on_epoch_end=count_then_stop).fit(make_model("mlp", (6,), 3, seed=0), X, y)
    fresh = Counter()
    Trainer(**BASE, checkpoint=path, resume=True, extra_state=fresh,
            on_epoch_end=lambda e, r: setattr(fresh, "seen", fresh.seen + 1)).fit(
        make_model("mlp", (6,), 3, seed=0), X, y)
    assert fresh.seen == 4  # 2 epochs before the saved checkpoint + 2 after the resume


def test_data_digest():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert data_digest(a) == data_digest(a.copy()) == data_digest(torch.from_numpy(a))
    assert data_digest(a) != data_digest(a.reshape(4, 3))  # the shape counts
    assert data_digest(a) != data_digest(a.astype(np.float64))  # and the dtype
    assert data_digest(None) is None


def test_differing_settings_are_shown_as_python_values():
    assert differing("lr", {"lr": 0.1}, 0.1) is None
    assert differing("lr", {}, 0.1) == ("lr is not recorded in the checkpoint, lr=0.1 in this "
                                        "run")
    assert differing("model", {"model": "mlp"}, "lenet", "fit") == \
        "model='mlp' in the checkpoint, 'lenet' in this fit"
    assert differing("schedule", {"schedule": None}, "<function warm>") == \
        "schedule=None in the checkpoint, <function warm> in this run"  # as recorded
    long = differing("milestones", {"milestones": list(range(40))}, [])
    assert long.startswith("milestones=[0, 1, 2") and "..., in the checkpoint" not in long
    assert len(long) < 120 and long.endswith("in the checkpoint, [] in this run")
