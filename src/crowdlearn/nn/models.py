"""The few networks the methods need, written here (no torchvision): an MLP, LeNet-5 for
28-pixel images, pre-activation ResNets for 32-pixel images (ResNet-20 as in the MBEM code,
ResNet-18/34 as in Me-Momentum) and a head for pre-extracted features.

Every model maps a float batch ``N × C × H × W`` (or ``N × D``) to logits ``N × K``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import isfinite, prod
from numbers import Integral, Real

import numpy as np
import torch
from torch import nn

from crowdlearn.errors import InputError

__all__ = ["MODELS", "check_model_params", "feature_head", "lenet", "make_model", "mlp",
           "resnet18", "resnet20", "resnet34", "split_classifier"]


def mlp(input_shape: Sequence[int], n_classes: int, hidden: Sequence[int] = (256,),
        dropout: float = 0.0) -> nn.Module:
    """Fully connected ReLU network on the flattened input."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def feature_head(input_shape: Sequence[int], n_classes: int, hidden: int = 128,
                 dropout: float = 0.5) -> nn.Module:
    """A classifier on pre-extracted features (e.g. LabelMe's 512-d VGG features):
    Linear–ReLU–Dropout–Linear, as in the Max-MIG and Crowd Layer LabelMe experiments."""
    return mlp(input_shape, n_classes, hidden=(hidden,), dropout=dropout)


def lenet(input_shape: Sequence[int], n_classes: int) -> nn.Module:
    """LeNet-5 as in the Me-Momentum MNIST code: conv6 5×5 (pad 2), max-pool, conv16 5×5,
    max-pool, FC120, FC84, FC K. Expects 28×28 images (any channel count)."""
    c, h, w = _image_shape(input_shape, "lenet")
    if (h, w) != (28, 28):
        raise InputError(f"lenet expects 28×28 images, got {h}×{w}")
    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
        nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Linear(84, n_classes),
    )


class PreActBlock(nn.Module):
    """Pre-activation basic block (He et al. 2016): BN–ReLU–conv3×3, twice, plus shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + skip


class PreActResNet(nn.Module):
    """Pre-activation ResNet for small images: an input BatchNorm (the MBEM code normalises
    inputs this way), a 3×3 stem, stages of basic blocks, global average pooling, FC to K."""

    def __init__(self, in_channels: int, n_classes: int, blocks: Sequence[int],
                 widths: Sequence[int]):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(in_channels)
        self.stem = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        stages, planes = [], widths[0]
        for i, (n, width) in enumerate(zip(blocks, widths, strict=True)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                stages.append(PreActBlock(planes, width, stride))
                planes = width
        self.stages = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(planes)
        self.fc = nn.Linear(planes, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(self.stem(self.input_bn(x)))
        out = torch.relu(self.bn(out))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


def resnet20(input_shape: Sequence[int], n_classes: int) -> nn.Module:
    """ResNet-20 of the MBEM CIFAR-10 code: 3 stages × 3 blocks, 16/32/64 filters."""
    c, _, _ = _image_shape(input_shape, "resnet20")
    return PreActResNet(c, n_classes, (3, 3, 3), (16, 32, 64))


def resnet18(input_shape: Sequence[int], n_classes: int) -> nn.Module:
    """Pre-activation ResNet-18 for 32-pixel input (Me-Momentum's CIFAR-10 network)."""
    c, _, _ = _image_shape(input_shape, "resnet18")
    return PreActResNet(c, n_classes, (2, 2, 2, 2), (64, 128, 256, 512))


def resnet34(input_shape: Sequence[int], n_classes: int) -> nn.Module:
    """Pre-activation ResNet-34 for 32-pixel input (Me-Momentum's CIFAR-100 network)."""
    c, _, _ = _image_shape(input_shape, "resnet34")
    return PreActResNet(c, n_classes, (3, 4, 6, 3), (64, 128, 256, 512))


MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp, "head": feature_head, "lenet": lenet, "resnet20": resnet20,
    "resnet18": resnet18, "resnet34": resnet34,
}


def make_model(name: str | Callable[..., nn.Module], input_shape: Sequence[int], n_classes: int,
               seed: int | None = None, **kwargs) -> nn.Module:
    """Build a model by name (``"mlp"``, ``"head"``, ``"lenet"``, ``"resnet20"``,
    ``"resnet18"``, ``"resnet34"``) or with a callable ``f(input_shape, n_classes, **kw)``.
    With ``seed`` the initial weights are reproducible and the global RNG is left as it was."""
    if callable(name):
        build = name
    elif name in MODELS:
        build = MODELS[name]
    else:
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(MODELS)} "
                         "or pass a callable returning an nn.Module")
    if not callable(name):
        check_model_params(name, kwargs)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 2:
        raise InputError(f"n_classes must be an integer ≥ 2, got {n_classes!r}")
    if seed is None:
        return _module(build(tuple(input_shape), int(n_classes), **kwargs), name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _module(build(tuple(input_shape), int(n_classes), **kwargs), name)


def _module(model, name) -> nn.Module:
    """What a model callable returned, if it is a torch module."""
    if not isinstance(model, nn.Module):
        raise InputError(f"the model callable {getattr(name, '__name__', name)!r} returned "
                         f"{type(model).__name__}, not a torch nn.Module")
    return model


def check_model_params(name: str | Callable[..., nn.Module], params: dict | None) -> None:
    """Refuse, before any work, ``model_params`` that a built-in model ``name`` does not take:
    an unknown option, a layer width that is not an integer ≥ 1, a dropout outside [0, 1).
    A callable model's options are its own business."""
    if callable(name) or name not in MODELS:
        return
    import inspect

    accepted = list(inspect.signature(MODELS[name]).parameters)[2:]
    for option, value in (params or {}).items():
        if option not in accepted:
            raise InputError(f"model {name!r} has no option {option!r} (model_params); its "
                             f"options are {', '.join(accepted) or 'none'}")
        if option == "dropout" and not (_is_number(value) and 0 <= value < 1):
            raise InputError(f"model {name!r}: dropout must be a number in [0, 1), got "
                             f"{value!r}")
        widths = [value] if name == "head" else value
        if option == "hidden" and not (isinstance(widths, (list, tuple))
                                       and all(_is_width(w) for w in widths)):
            wanted = ("an integer ≥ 1 (the hidden layer's width)" if name == "head" else
                      "a list of integers ≥ 1 (one width per hidden layer, e.g. [256, 128])")
            raise InputError(f"model {name!r}: hidden must be {wanted}, got {value!r}")


def _is_width(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and isfinite(value)


def split_classifier(model: nn.Module) -> tuple[nn.Module, int]:
    """Cut off a network's last linear layer: returns the trunk (input → features) and the
    number of features, for methods that put their own heads on a shared trunk (Doctor Net).
    Works for networks ending in an ``nn.Linear`` (``nn.Sequential``) or with an ``fc``
    layer (the ResNets); the model passed in is modified only in the second case."""
    if isinstance(model, nn.Sequential) and isinstance(model[-1], nn.Linear):
        return nn.Sequential(*list(model)[:-1]), model[-1].in_features
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear):
        model.fc = nn.Identity()
        return model, fc.in_features
    raise InputError(f"cannot find the last linear layer of {type(model).__name__}: the "
                     "network must be an nn.Sequential ending in nn.Linear or have an `fc` "
                     "nn.Linear layer")


def _image_shape(input_shape: Sequence[int], name: str) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise InputError(f"{name} expects images C×H×W, got input shape {tuple(input_shape)}")
    c, h, w = (int(v) for v in input_shape)
    return c, h, w
