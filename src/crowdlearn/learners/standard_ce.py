"""Standard training on noisy labels ("Standard" / CE, docs/methods.md §3.3): the baseline
every noisy-label method is measured against. A network trained long enough memorises the
wrong labels, so the final epoch is worse than the epoch a (noisy) validation split picks;
both are kept."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.learners.base import FRACTION, Carried, Learner, ModelSpec, Seeds
from crowdlearn.learners.single_labels import (
    encode_labels,
    restored,
    validation_split,
)
from crowdlearn.nn.trainer import cpu_state


class StandardCE(ClassifierMixin, Learner):
    """Cross-entropy on the noisy labels, with a noisy validation split for model selection.

    Parameters
    ----------
    val_fraction:
        Share of the items held out (with their noisy labels) to score epochs by mean
        per-class accuracy; 0 trains on everything and ``best_model_`` is the final one.
    model, model_params, epochs, batch_size, lr, optimizer, weight_decay, device, seed:
        The network and its training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes
    ----------
    model_ : the network after the last epoch.  best_model_ : the epoch with the best noisy
    validation score.  best_epoch_, history_ (per epoch: loss, val_score), val_mask_.
    """

    _saved_modules = ("model_", "best_model_")

    _defaults = {"epochs": 200}
    _parameter_constraints = {"val_fraction": [FRACTION]}

    def __init__(self, model: ModelSpec = "mlp", *, val_fraction: float = 0.1, **training):
        self.model = model
        self.val_fraction = val_fraction
        self._set_training(training)

    def fit(self, X, y) -> StandardCE:
        X, y, classes = encode_labels(X, y)
        train, val = validation_split(len(X), self.val_fraction, self._seed(Seeds.VALIDATION))
        model = self._fresh_model(X, len(classes), salt=Seeds.NETWORK)
        final: dict = {}

        def keep_final(epoch: int, record: dict) -> None:
            if epoch + 1 == self.epochs:
                final["state"] = cpu_state(model)

        trainer = self._trainer(self._seed(Seeds.NETWORK), metric="balanced_accuracy",
                                on_epoch_end=keep_final, extra_state=Carried(final=final))
        has_val = len(val) > 0
        trainer.fit(model, X[train], y[train], X_val=X[val] if has_val else None,
                    y_val=y[val] if has_val else None)
        self.best_model_ = model
        self.model_ = restored(model, final["state"]) if has_val else model
        self.best_epoch_ = trainer.best_epoch_ if has_val else self.epochs - 1
        self.val_mask_ = np.isin(np.arange(len(X)), val)
        self.classes_ = classes
        self.history_ = trainer.history_
        return self

    def predict_proba(self, X, model: Literal["final", "best"] = "final") -> np.ndarray:
        """Class probabilities of the final-epoch network, or of the best-validation one
        (warned to be the final one when the fit kept no validation split)."""
        check_is_fitted(self, "model_")
        if model not in ("final", "best"):
            raise InputError(f"model must be 'final' or 'best', got {model!r}")
        if model == "best" and self.val_fraction == 0:
            warnings.warn("trained without a validation split (val_fraction=0): its best "
                          "network is its final one", CrowdlearnWarning, stacklevel=2)
        net = self.best_model_ if model == "best" else self.model_
        with self._threads():
            return self._trainer().predict_proba(net, self._items(X))

    def predict(self, X, model: Literal["final", "best"] = "final") -> np.ndarray:
        return self._to_classes(self.predict_proba(X, model).argmax(axis=1))
