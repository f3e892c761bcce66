"""Methods that train a model from crowd or noisy labels (these import torch)."""

from __future__ import annotations

from crowdlearn.errors import InputError
from crowdlearn.learners.aggnet import AggNet
from crowdlearn.learners.aggregate_then_train import AggregateThenTrain
from crowdlearn.learners.base import Learner, rows_in_task_order
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
from crowdlearn.methods import (
    CROWD_METHODS,
    NOISE_METHODS,
    make_learner,
    method_parameters,
)


def make_crowd_learner(name: str, *, self_training: bool = True, **settings) -> Learner:
    """A learning-from-crowds method by its registered name (:data:`CROWD_METHODS`, see
    :mod:`crowdlearn.methods`) as the experiments run it: ``self_training`` (MBEM's official
    trick: refit on the model's own predictions) on for MBEM and the aggregate-then-train
    baselines; the joint methods have none. ``settings`` are the method's own and the
    training parameters (model, epochs, lr, seed, …)."""
    if "self_training" in method_parameters(name):
        settings["self_training"] = self_training
    return make_learner(name, "crowd", **settings)


def make_noise_learner(name: str, *, noise_rate: float | None = None, **settings) -> Learner:
    """A learning-with-noisy-labels method by its registered name (:data:`NOISE_METHODS`)
    given the noise rate, as the experiments run it: Co-teaching's forget rate is
    ``noise_rate`` (assumed known, required), TwoEM's τ is ``noise_rate`` (``None``:
    estimated)."""
    own = method_parameters(name)
    if "forget_rate" in own:
        if noise_rate is None:
            raise InputError(f"{name} needs the noise rate (its forget rate)")
        settings["forget_rate"] = noise_rate
    if "noise_rate" in own:
        settings["noise_rate"] = noise_rate
    return make_learner(name, "noise", **settings)


__all__ = ["CROWD_METHODS", "MBEM", "NOISE_METHODS", "AggNet", "AggregateThenTrain",
           "CoTeaching", "CrowdLayer", "DoctorNet", "Learner", "MaxMIG", "MeMomentum",
           "StandardCE", "TwoEM", "find_label_issues", "load", "make_crowd_learner",
           "make_noise_learner", "rows_in_task_order"]
