"""Doctor Net (Guan, Gulshan, Dai & Hinton, "Who Said What", AAAI 2018; docs/methods.md §2.3).

A shared trunk with one softmax head per annotator, each trained on that annotator's answers
only; the prediction averages the heads' class distributions (the plain average of the
Max-MIG code; the original also learns averaging weights).
"""

from __future__ import annotations

import torch
from torch import nn

from crowdlearn.annotations import Annotations
from crowdlearn.learners.base import Learner, ModelSpec, Seeds, align_items
from crowdlearn.learners.crowd_answers import fit_to_answers
from crowdlearn.nn import split_classifier


class AveragedHeads(nn.Module):
    """Trunk + W heads; called on ``x`` it returns the log of the heads' mean distribution
    (so that a softmax of the output is that mean)."""

    def __init__(self, trunk: nn.Module, n_features: int, n_heads: int, n_classes: int):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.Linear(n_features, n_heads * n_classes)
        self.n_heads, self.n_classes = n_heads, n_classes

    def head_logits(self, x: torch.Tensor) -> torch.Tensor:
        """B × W × K logits of every head."""
        return self.heads(self.trunk(x)).float().view(len(x), self.n_heads, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(self.head_logits(x), dim=2)
        return torch.logsumexp(log_p, dim=1) - torch.log(torch.tensor(float(self.n_heads)))


class DoctorNet(Learner):
    """Doctor Net: one head per annotator on a shared trunk, predictions averaged.

    The trunk is the chosen network without its last linear layer
    (:func:`~crowdlearn.nn.split_classifier`). Attributes: ``model_`` (trunk and heads; its
    output is the averaged prediction), ``history_``.
    """

    _defaults = {"epochs": 60}

    def __init__(self, model: ModelSpec = "mlp", **training):
        self.model = model
        self._set_training(training)

    def fit(self, X, annotations: Annotations) -> DoctorNet:
        X = align_items(X, annotations)
        k, w = annotations.n_classes, annotations.n_workers
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed(Seeds.SECOND_NETWORK))
            trunk, n_features = split_classifier(self._fresh_model(X, k, salt=Seeds.NETWORK))
            net = AveragedHeads(trunk, n_features, w, k)
        trainer = fit_to_answers(self, net, X, annotations, AveragedHeads.head_logits)
        self.model_ = net
        self.classes_ = annotations.classes
        self.history_ = trainer.history_
        return self

    def _saved_extra(self) -> dict:
        return {"n_workers": int(self.model_.n_heads)}

    def _modules_for_loading(self, input_shape: tuple, n_classes: int,
                             extra: dict) -> dict[str, nn.Module]:
        trunk, n_features = split_classifier(self._network(input_shape, n_classes))
        return {"model_": AveragedHeads(trunk, n_features, int(extra["n_workers"]),
                                        n_classes)}
