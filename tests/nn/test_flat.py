"""Packed parameters train to exactly the weights of the per-tensor optimiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from crowdlearn.nn import Trainer, make_model
from crowdlearn.nn.flat import FlatParameters, packable
from crowdlearn.nn.trainer import default_step


def _data(soft: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((150, 8)).astype(np.float32)
    y = rng.integers(0, 3, 150)
    targets = np.eye(3, dtype=np.float32)[y] * 0.8 + 0.2 / 3 if soft else y
    return X, targets, rng.uniform(0.5, 1.5, 150)


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize(("optimizer", "soft", "weighted"), [
    ("adam", False, False), ("adam", True, True), ("sgd", False, True)])
def test_packed_training_is_bit_identical(optimizer, soft, weighted):
    X, targets, w = _data(soft)
    settings = dict(epochs=4, batch_size=32, optimizer=optimizer, weight_decay=1e-3,
                    nesterov=optimizer == "sgd", seed=3, progress=False)
    runs = []
    for step in (None, default_step):  # an explicit step function is never packed
        torch.manual_seed(0)
        model = make_model("mlp", (8,), 3, hidden=(16, 16))
        Trainer(step=step, **settings).fit(model, X, targets, w if weighted else None)
        runs.append(_weights(model))
    for packed, plain in zip(*runs, strict=True):
        assert torch.equal(packed, plain)


def test_parameters_get_their_own_storage_back():
    X, y, _ = _data(False)
    model = make_model("mlp", (8,), 3)
    Trainer(epochs=1, progress=False).fit(model, X, y)
    storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    assert len(storages) == len(list(model.parameters()))
    assert all(p.grad is None for p in model.parameters())


class _Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.spare = nn.Linear(8, 3), nn.Linear(8, 3)

    def forward(self, x):
        return self.used(x)


def test_a_parameter_without_gradient_is_not_packed():
    model = _Unused()
    x, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    assert packable(model, lambda: nn.functional.cross_entropy(model(x), y)) is None
    assert all(p.grad is None for p in model.parameters())  # the probe leaves no trace
    spare = model.spare.weight.detach().clone()
    X, targets, _ = _data(False)
    Trainer(epochs=2, progress=False).fit(model, X, targets)
    assert torch.equal(model.spare.weight, spare)  # Adam skipped it, as it must


def test_probe_leaves_mode_and_random_state_alone():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 3)).train()
    x, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    state = torch.get_rng_state()
    params = packable(model, lambda: nn.functional.cross_entropy(model(x), y))
    assert params is not None and len(params) == 4
    assert model.training and torch.equal(torch.get_rng_state(), state)
    flat = FlatParameters(params)
    assert flat.flat.numel() == sum(p.numel() for p in params)
    flat.flat.data.fill_(1.0)  # the parameters are views of the buffer while packed
    assert all(bool((p == 1).all()) for p in params)
    flat.release()
    flat.flat.data.fill_(2.0)
    assert all(bool((p == 1).all()) for p in params)
