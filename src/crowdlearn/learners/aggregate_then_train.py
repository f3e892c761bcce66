"""The classic two-stage baselines: aggregate the crowd's labels, then train on them.

With ``MajorityVote`` and hard targets this is "MV"; with the vote shares as soft targets
"soft MV" (MBEM's "weighted MV"); with ``DawidSkene`` posteriors "EM" — the posterior-weighted
loss of Khetan, Lipton & Anandkumar (ICLR 2018), ``Σ_k P(y = k | labels) · CE(f(x), k)``.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import StrOptions

from crowdlearn.aggregation import Aggregator, DawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.learners.base import Learner, ModelSpec, Seeds, align_items


class AggregateThenTrain(Learner):
    """Fit ``aggregator`` on the annotations, then train ``model`` on its labels.

    Parameters
    ----------
    aggregator:
        Any crowdlearn aggregator (default ``DawidSkene()``); it is cloned, never modified.
    targets:
        ``"soft"``: the aggregator's posteriors as soft targets; ``"hard"``: its labels.
    self_training:
        Refit once on the first model's own hard predictions (the trick of MBEM's official
        code, applied to its baselines too).
    model, model_params, epochs, batch_size, lr, optimizer, weight_decay, device, seed:
        The network and its training (see :class:`~crowdlearn.learners.base.Learner`).

    Attributes: ``model_``, ``aggregator_`` (fitted), ``posteriors_`` (its posteriors: the
    soft targets), ``labels_`` (its labels, ties broken as it breaks them: the hard
    targets), ``classes_``, ``history_``.
    """

    _parameter_constraints = {"aggregator": [Aggregator, None],
                              "targets": [StrOptions({"soft", "hard"})],
                              "self_training": ["boolean"]}

    def __init__(self, aggregator: Aggregator | None = None, *,
                 targets: Literal["soft", "hard"] = "soft", self_training: bool = False,
                 model: ModelSpec = "mlp", **training):
        self.aggregator = aggregator
        self.targets = targets
        self.self_training = self_training
        self.model = model
        self._set_training(training)

    def fit(self, X, annotations: Annotations) -> AggregateThenTrain:
        X = align_items(X, annotations)
        agg = clone(self.aggregator if self.aggregator is not None else DawidSkene())
        # one label per item is a design here, not a mistake; and the learner trains on the
        # posteriors the aggregator's own max_iter reached (see aggregator_.converged_)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="no task has two answers",
                                    category=CrowdlearnWarning)
            warnings.filterwarnings("ignore", message=".*EM stopped at max_iter",
                                    category=CrowdlearnWarning)
            agg.fit(annotations)
        targets = agg.posteriors_ if self.targets == "soft" else agg.labels_
        k = annotations.n_classes
        self.model_, _ = self._fit_self_trained(X, targets, k, salt=Seeds.NETWORK)
        self.aggregator_ = agg
        self.posteriors_ = np.asarray(agg.posteriors_)
        self.labels_ = np.asarray(agg.labels_)
        self.classes_ = annotations.classes
        self.history_ = [{"stage": "aggregate", "method": type(agg).__name__},
                         {"stage": "train", "targets": self.targets,
                          "self_training": self.self_training}]
        return self

