"""Co-teaching (Han et al., NeurIPS 2018, Algorithm 1; docs/methods.md §3.3).

Two networks learn side by side; in every minibatch each one picks the examples it finds
easiest (smallest loss) and hands them to the other, which updates on them. Small-loss
examples are mostly correctly labelled, and the two networks' different errors keep either
from confirming its own mistakes. The share of examples kept falls from all to ``1 − τ``
over the first ``ramp_epochs`` epochs (τ = ``forget_rate``, the assumed noise rate).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin

from crowdlearn.learners.base import FRACTION, Learner, ModelSpec, Seeds
from crowdlearn.learners.single_labels import encode_labels
from crowdlearn.nn import Batch
from crowdlearn.nn.pair import NetworkPair
from crowdlearn.params import Integers


def small_loss_share(epoch: int, forget_rate: float, ramp_epochs: int) -> float:
    """``R(t) = 1 − min(t·τ/T_k, τ)``: the share of each minibatch a network keeps."""
    return 1.0 - min(epoch * forget_rate / max(ramp_epochs, 1), forget_rate)


class CoTeaching(ClassifierMixin, Learner):
    """Co-teaching: two networks exchanging their small-loss examples.

    Parameters
    ----------
    forget_rate:
        τ, the share of each minibatch finally dropped — the noise rate, assumed known.
    ramp_epochs:
        T_k, epochs over which the dropped share grows from 0 to τ (10 in the paper).
    decay_from:
        Epoch from which the learning rate decays linearly to 0 at the last epoch (80 of 200
        in the paper; ``None``: constant). The paper also lowers Adam's β1 then; we do not.
    model, model_params, epochs, batch_size, lr, optimizer, weight_decay, device, seed:
        The networks and their training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes: ``model_`` (the first network, which predicts), ``peer_`` (the second),
    ``history_``.
    """

    _defaults = {"epochs": 200}
    _parameter_constraints = {"forget_rate": [FRACTION],
                              "ramp_epochs": [Integers(0)],
                              "decay_from": [Integers(0), None]}

    def __init__(self, model: ModelSpec = "mlp", *, forget_rate: float = 0.2,
                 ramp_epochs: int = 10, decay_from: int | None = 80, **training):
        self.model = model
        self.forget_rate = forget_rate
        self.ramp_epochs = ramp_epochs
        self.decay_from = decay_from
        self._set_training(training)

    def fit(self, X, y) -> CoTeaching:
        X, y, classes = encode_labels(X, y)
        k = len(classes)
        pair = NetworkPair(self._fresh_model(X, k, salt=Seeds.NETWORK),
                           self._fresh_model(X, k, salt=Seeds.SECOND_NETWORK))
        tau, ramp = float(self.forget_rate), int(self.ramp_epochs)

        def step(net: NetworkPair, batch: Batch) -> torch.Tensor:
            loss1 = F.cross_entropy(net.first(batch.x).float(), batch.target, reduction="none")
            loss2 = F.cross_entropy(net.second(batch.x).float(), batch.target, reduction="none")
            keep = max(1, int(round(small_loss_share(batch.epoch, tau, ramp) * len(loss1))))
            easy1 = torch.argsort(loss1.detach())[:keep]  # what the first network hands over
            easy2 = torch.argsort(loss2.detach())[:keep]
            return loss1[easy2].mean() + loss2[easy1].mean()

        trainer = self._trainer(self._seed(Seeds.NETWORK), step=step, schedule=self._schedule())
        trainer.fit(pair, X, y)
        self.model_, self.peer_ = pair.first, pair.second
        self.classes_ = classes
        self.history_ = trainer.history_
        return self

    def _schedule(self):
        if self.decay_from is None or self.decay_from >= self.epochs:
            return None
        start, total = int(self.decay_from), int(self.epochs)
        return lambda epoch: 1.0 if epoch < start else max(0.0, (total - epoch) / (total - start))
