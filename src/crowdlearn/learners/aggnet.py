"""AggNet (Albarqouni, Baur, Achilles, Belagiannis, Demirci & Navab, IEEE TMI 2016;
docs/methods.md §2.3).

EM with the network inside: every epoch the network is trained one epoch on the current
soft targets, then each annotator's confusion is re-estimated from them (M-step) and the
targets become ``μ_i(c) ∝ h(x_i)_c Π_m π^m[c, y_i^m]`` (E-step with the network's output as
each item's prior). Both steps are ``DawidSkene(max_iter=1).fit(..., task_prior=h(X))``.
The E-step multiplies the annotators' likelihoods, so it assumes they err independently.
"""

from __future__ import annotations

import numpy as np
import torch

from crowdlearn.aggregation import DawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.learners.base import Carried, Learner, ModelSpec, Seeds, align_items
from crowdlearn.learners.crowd_answers import soft_majority
from crowdlearn.nn import Batch, soft_cross_entropy
from crowdlearn.params import NON_NEGATIVE_REAL


class AggNet(Learner):
    """AggNet: alternate one training epoch with one EM step that uses the network's output.

    Parameters: ``smoothing`` (Dirichlet pseudo-count of the confusion estimates) and the
    network's training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes: ``model_``, ``posteriors_`` (the last targets μ), ``confusion_`` (W × K × K),
    ``history_`` (the Trainer's per-epoch records).
    """

    _defaults = {"epochs": 60}
    _parameter_constraints = {"smoothing": [NON_NEGATIVE_REAL]}

    def __init__(self, model: ModelSpec = "mlp", *, smoothing: float = 0.01, **training):
        self.model = model
        self.smoothing = smoothing
        self._set_training(training)

    def fit(self, X, annotations: Annotations) -> AggNet:
        X = align_items(X, annotations)
        k = annotations.n_classes
        # what the epochs carry: the targets μ and the confusions (restored on resume)
        carried = {"targets": torch.as_tensor(soft_majority(annotations), dtype=torch.float32),
                   "confusion": None}
        on_device: dict[torch.device, torch.Tensor] = {}
        label_model = DawidSkene(max_iter=1, smoothing=self.smoothing, prior="uniform",
                                 class_prior="uniform")
        model = self._fresh_model(X, k, salt=Seeds.NETWORK)

        def step(net: torch.nn.Module, batch: Batch) -> torch.Tensor:
            device = batch.x.device
            if device not in on_device:
                on_device[device] = carried["targets"].to(device)
            return soft_cross_entropy(net(batch.x).float(), on_device[device][batch.index]).mean()

        def em_step(epoch: int, record: dict) -> None:
            proba = trainer.predict_proba(model, X)
            label_model.fit(annotations,
                            init_posteriors=carried["targets"].numpy().astype(np.float64),
                            task_prior=proba)
            carried["targets"] = torch.as_tensor(label_model.posteriors_, dtype=torch.float32)
            carried["confusion"] = label_model.confusion_
            on_device.clear()

        trainer = self._trainer(self._seed(Seeds.NETWORK), step=step, on_epoch_end=em_step,
                                extra_state=Carried(em=carried))
        trainer.fit(model, X, carried["targets"].numpy())
        on_device.clear()
        self.model_ = model
        self.posteriors_ = carried["targets"].numpy().astype(np.float64)
        self.confusion_ = carried["confusion"]
        self.classes_ = annotations.classes
        self.history_ = trainer.history_
        return self
