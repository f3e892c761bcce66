"""Crowd Layer (Rodrigues & Pereira, "Deep Learning from Crowds", AAAI 2018), "MW" variant
(docs/methods.md §2.3).

The base network's class distribution ``σ(x)`` passes through one K × K matrix per annotator,
whose softmax predicts that annotator's answer; the loss is the cross-entropy over the
observed (item, annotator) pairs. The matrices absorb each annotator's confusions, so the
base network can learn the true classes; it alone predicts.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from torch import nn

from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.learners.base import Learner, ModelSpec, Seeds, align_items
from crowdlearn.learners.crowd_answers import (
    confusion_against,
    fit_to_answers,
    full_precision,
    soft_majority,
)
from crowdlearn.params import Reals


class _NetworkWithCrowdLayer(nn.Module):
    def __init__(self, base: nn.Module, weight: np.ndarray):
        super().__init__()
        self.base = base
        self.weight = nn.Parameter(torch.as_tensor(weight, dtype=torch.float32))  # W × K × K

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x)

    def annotator_logits(self, x: torch.Tensor) -> torch.Tensor:
        """B × W × K logits of every annotator's answer: ``σ(x) · W[annotator]``."""
        logits = self.base(x)
        with full_precision(x.device):
            sigma = torch.softmax(logits.float(), dim=1)
            return torch.einsum("bc,wcj->bwj", sigma, self.weight)


class CrowdLayer(Learner):
    """Crowd Layer (MW): a per-annotator K × K layer on the network's softmax.

    Parameters
    ----------
    init:
        ``"identity"`` (the original; Max-MIG's LabelMe runs) or ``"soft-mv"``: the log of
        each annotator's confusion against the soft majority vote plus ``init_epsilon``
        (Max-MIG's synthetic runs).
    model, model_params, epochs, batch_size, lr, optimizer, weight_decay, device, seed:
        The network and its training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes: ``model_`` (the base network), ``confusion_`` (W × K × K, the softmax of each
    annotator's layer applied to a one-hot class: rows are true classes), ``history_``.
    """

    _defaults = {"epochs": 60}
    _parameter_constraints = {"init": [StrOptions({"identity", "soft-mv"})],
                              "init_epsilon": [Reals(0)]}

    def __init__(self, model: ModelSpec = "mlp", *,
                 init: Literal["identity", "soft-mv"] = "identity", init_epsilon: float = 1e-4,
                 **training):
        self.model = model
        self.init = init
        self.init_epsilon = init_epsilon
        self._set_training(training)

    def fit(self, X, annotations: Annotations) -> CrowdLayer:
        X = align_items(X, annotations)
        k, w = annotations.n_classes, annotations.n_workers
        if self.init == "identity":
            weight = np.broadcast_to(np.eye(k), (w, k, k)).copy()
        elif self.init == "soft-mv":
            weight = np.log(confusion_against(annotations, soft_majority(annotations))
                            + self.init_epsilon)
        else:
            raise InputError(f"init must be 'identity' or 'soft-mv', got {self.init!r}")
        net = _NetworkWithCrowdLayer(self._fresh_model(X, k, salt=Seeds.NETWORK), weight)
        trainer = fit_to_answers(self, net, X, annotations,
                                 _NetworkWithCrowdLayer.annotator_logits)
        self.model_ = net.base
        with torch.no_grad():  # the layer's output for a one-hot class c is row c of W
            self.confusion_ = torch.softmax(net.weight.cpu(), dim=2).numpy()
        self.classes_ = annotations.classes
        self.history_ = trainer.history_
        return self
