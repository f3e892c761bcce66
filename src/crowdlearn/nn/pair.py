"""Two networks trained together as one module (Co-teaching's peers, TwoEM's main and
auxiliary networks, Max-MIG's data classifier and crowds aggregator)."""

from __future__ import annotations

import torch
from torch import nn


class NetworkPair(nn.Module):
    """``first`` and ``second`` in one module, so that one optimiser (and the Trainer's
    checkpoints) covers both; calling the pair runs ``first``, so the Trainer's prediction
    and validation are the first network's."""

    def __init__(self, first: nn.Module, second: nn.Module):
        super().__init__()
        self.first, self.second = first, second

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.first(x)
