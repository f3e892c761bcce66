from __future__ import annotations

import pytest
import torch

from crowdlearn import InputError
from crowdlearn.nn import make_model


@pytest.mark.parametrize("name,shape", [
    ("mlp", (1, 8, 8)), ("head", (512,)), ("lenet", (1, 28, 28)), ("resnet20", (3, 32, 32)),
    ("resnet18", (3, 32, 32)), ("resnet34", (3, 32, 32)), ("resnet20", (1, 28, 28)),
])
def test_models_map_batches_to_logits(name, shape):
    model = make_model(name, shape, 7, seed=0)
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


def test_seed_gives_same_weights_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = make_model("lenet", (1, 28, 28), 10, seed=4)
    b = make_model("lenet", (1, 28, 28), 10, seed=4)
    c = make_model("lenet", (1, 28, 28), 10, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters(),
                                                     strict=True))


def test_resnet18_size_is_the_cifar_variant():
    n = sum(p.numel() for p in make_model("resnet18", (3, 32, 32), 10).parameters())
    assert 11.0e6 < n < 11.3e6  # the CIFAR ResNet-18 has about 11.17M parameters


def test_bad_model_arguments():
    with pytest.raises(InputError, match="unknown model 'vgg'"):
        make_model("vgg", (3, 32, 32), 10)
    with pytest.raises(InputError, match="lenet expects 28×28"):
        make_model("lenet", (1, 8, 8), 10)
    with pytest.raises(InputError, match="expects images"):
        make_model("resnet20", (64,), 10)
    custom = make_model(lambda shape, k: torch.nn.Linear(shape[0], k), (5,), 3)
    assert custom(torch.zeros(1, 5)).shape == (1, 3)


def test_make_model_refuses_a_class_count_and_a_callable_that_make_no_classifier():
    with pytest.raises(InputError, match="n_classes must be an integer ≥ 2, got 0"):
        make_model("mlp", (4,), 0)
    with pytest.raises(InputError, match="n_classes must be an integer ≥ 2, got '10'"):
        make_model("mlp", (4,), "10")
    with pytest.raises(InputError, match="returned str, not a torch nn.Module"):
        make_model(lambda shape, k: "x", (4,), 3)
