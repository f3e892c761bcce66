"""A module's trainable parameters packed into one tensor while it trains.

Small networks on a CPU spend most of a training step in per-tensor overhead, not in
arithmetic: torch's Adam runs seven element-wise kernels per parameter tensor, so an MLP's
four tensors cost four times the kernel launches of one. With every parameter a view into one
contiguous buffer (and every gradient a view into another, into which autograd accumulates in
place), the optimiser updates one tensor per step. Adam and SGD are element-wise, so the
weights are bit-identical to the per-tensor update; a training step of the digits MLP takes
about a fifth less time.

Only valid when every trainable parameter receives a gradient at every step (a parameter
without one is skipped by the per-tensor optimiser but would get a zero gradient here):
:func:`packable` checks that on one batch before training starts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class FlatParameters:
    """Repoint ``params`` (and their gradients) at slices of one buffer; :attr:`flat` is the
    single parameter to give the optimiser. :meth:`release` gives each parameter its own
    storage again, as it was before."""

    def __init__(self, params: list[nn.Parameter]):
        self.params = params
        with torch.no_grad():
            self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
        self.flat.grad = torch.zeros_like(self.flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.flat.data[offset:offset + n].view_as(p)
            p.grad = self.flat.grad[offset:offset + n].view_as(p)
            offset += n

    def zero_grad(self) -> None:
        self.flat.grad.zero_()

    def release(self) -> None:
        for p in self.params:
            p.data = p.data.clone()
            p.grad = None


def packable(model: nn.Module, loss: Callable[[], torch.Tensor]) -> list[nn.Parameter] | None:
    """The model's trainable parameters if they can be packed: one device and dtype, and each
    gets a gradient from ``loss()`` (one batch's loss, computed here in evaluation mode with
    the random state restored, so that the probe changes nothing); else ``None``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params or len({(p.device, p.dtype) for p in params}) > 1:
        return None
    if any(p.grad is not None for p in params):
        return None  # the caller's gradients are not ours to drop
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            loss().backward()
        used = all(p.grad is not None for p in params)
    finally:
        for p in params:
            p.grad = None
        model.train(was_training)
    return params if used else None
