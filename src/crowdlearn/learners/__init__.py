"""Methods that train a model from crowd or noisy labels (these import torch)."""

from __future__ import annotations

from crowdlearn.aggregation import DawidSkene, MajorityVote
from crowdlearn.errors import InputError
from crowdlearn.learners.aggnet import AggNet
from crowdlearn.learners.aggregate_then_train import AggregateThenTrain
from crowdlearn.learners.base import Learner
from crowdlearn.learners.crowd_layer import CrowdLayer
from crowdlearn.learners.doctor_net import DoctorNet
from crowdlearn.learners.max_mig import MaxMIG
from crowdlearn.learners.mbem import MBEM

CROWD_METHODS = ("mv", "soft-mv", "em", "mbem", "crowd-layer", "doctor-net", "aggnet", "maxmig")


def make_crowd_learner(name: str, *, self_training: bool = True, **settings) -> Learner:
    """A learning-from-crowds method by its short name: ``"mv"`` (hard majority labels),
    ``"soft-mv"`` (vote shares), ``"em"`` (Dawid–Skene posteriors) — each then trained —
    ``"mbem"``, ``"crowd-layer"``, ``"doctor-net"``, ``"aggnet"`` or ``"maxmig"``.
    ``settings`` are the learner's training parameters (model, epochs, lr, seed, …).
    ``self_training`` (MBEM's official trick) applies to MBEM and the aggregate-then-train
    baselines; the joint methods have none."""
    seed = settings.get("seed", 0)
    if name == "mv":
        return AggregateThenTrain(MajorityVote(seed=seed), targets="hard",
                                  self_training=self_training, **settings)
    if name == "soft-mv":
        return AggregateThenTrain(MajorityVote(seed=seed), targets="soft",
                                  self_training=self_training, **settings)
    if name == "em":
        return AggregateThenTrain(DawidSkene(), targets="soft", self_training=self_training,
                                  **settings)
    if name == "mbem":
        return MBEM(self_training=self_training, **settings)
    joint = {"crowd-layer": CrowdLayer, "doctor-net": DoctorNet, "aggnet": AggNet,
             "maxmig": MaxMIG}
    if name in joint:
        return joint[name](**settings)
    raise InputError(f"unknown method {name!r}; choose from {', '.join(CROWD_METHODS)}")


__all__ = ["CROWD_METHODS", "MBEM", "AggNet", "AggregateThenTrain", "CrowdLayer", "DoctorNet",
           "Learner", "MaxMIG", "make_crowd_learner"]
