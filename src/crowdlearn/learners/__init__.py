"""Methods that train a model from crowd or noisy labels (these import torch)."""

from __future__ import annotations

from crowdlearn.aggregation import DawidSkene, MajorityVote
from crowdlearn.errors import InputError
from crowdlearn.learners.aggnet import AggNet
from crowdlearn.learners.aggregate_then_train import AggregateThenTrain
from crowdlearn.learners.base import Learner
from crowdlearn.learners.coteaching import CoTeaching
from crowdlearn.learners.crowd_layer import CrowdLayer
from crowdlearn.learners.doctor_net import DoctorNet
from crowdlearn.learners.label_issues import find_label_issues
from crowdlearn.learners.max_mig import MaxMIG
from crowdlearn.learners.mbem import MBEM
from crowdlearn.learners.me_momentum import MeMomentum
from crowdlearn.learners.saved import load
from crowdlearn.learners.standard_ce import StandardCE
from crowdlearn.learners.two_em import TwoEM

NOISE_METHODS = ("ce", "coteaching", "me-momentum", "two-em", "two-em-no-cr")
CROWD_METHODS = ("mv", "soft-mv", "em", "mbem", "mbem-onecoin", "crowd-layer", "doctor-net",
                 "aggnet", "maxmig")


def make_crowd_learner(name: str, *, self_training: bool = True, **settings) -> Learner:
    """A learning-from-crowds method by its short name: ``"mv"`` (hard majority labels),
    ``"soft-mv"`` (vote shares), ``"em"`` (Dawid–Skene posteriors) — each then trained —
    ``"mbem"``, ``"mbem-onecoin"`` (MBEM with one accuracy per worker), ``"crowd-layer"``,
    ``"doctor-net"``, ``"aggnet"`` or ``"maxmig"``. ``settings`` are the learner's training
    parameters (model, epochs, lr, seed, …). ``self_training`` (MBEM's official trick)
    applies to MBEM and the aggregate-then-train baselines; the joint methods have none."""
    seed = settings.get("seed", 0)
    if name == "mv":
        return AggregateThenTrain(MajorityVote(seed=seed), targets="hard",
                                  self_training=self_training, **settings)
    if name == "soft-mv":
        return AggregateThenTrain(MajorityVote(seed=seed), targets="soft",
                                  self_training=self_training, **settings)
    if name == "em":  # the papers' EM baseline: Dawid–Skene with a near-flat prior
        return AggregateThenTrain(DawidSkene(smoothing=0.01, prior="uniform",
                                             class_smoothing=0.0),
                                  targets="soft", self_training=self_training, **settings)
    if name == "mbem":
        return MBEM(self_training=self_training, **settings)
    if name == "mbem-onecoin":
        return MBEM(self_training=self_training, worker_model="one-coin", **settings)
    joint = {"crowd-layer": CrowdLayer, "doctor-net": DoctorNet, "aggnet": AggNet,
             "maxmig": MaxMIG}
    if name in joint:
        return joint[name](**settings)
    raise InputError(f"unknown method {name!r}; choose from {', '.join(CROWD_METHODS)}")


def make_noise_learner(name: str, *, noise_rate: float | None = None, **settings) -> Learner:
    """A learning-with-noisy-labels method by its short name: ``"ce"`` (standard training,
    final and best-validation models), ``"coteaching"`` (its forget rate is ``noise_rate``,
    assumed known), ``"me-momentum"``, ``"two-em"`` (given the noise rate) or
    ``"two-em-no-cr"`` (its ablation without the confidence regulariser). ``settings`` are
    the training parameters."""
    if name == "ce":
        return StandardCE(**settings)
    if name == "coteaching":
        if noise_rate is None:
            raise InputError("coteaching needs the noise rate (its forget rate)")
        return CoTeaching(forget_rate=noise_rate, **settings)
    if name == "me-momentum":
        return MeMomentum(**settings)
    if name in ("two-em", "two-em-no-cr"):
        if name == "two-em-no-cr":
            settings = settings | {"cr_weight": 0.0}
        return TwoEM(noise_rate=noise_rate, **settings)
    raise InputError(f"unknown method {name!r}; choose from {', '.join(NOISE_METHODS)}")


__all__ = ["CROWD_METHODS", "MBEM", "NOISE_METHODS", "AggNet", "AggregateThenTrain",
           "CoTeaching", "CrowdLayer", "DoctorNet", "Learner", "MaxMIG", "MeMomentum",
           "StandardCE", "TwoEM", "find_label_issues", "load", "make_crowd_learner",
           "make_noise_learner"]
