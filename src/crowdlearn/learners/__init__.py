"""Methods that train a model from crowd or noisy labels (these import torch)."""

from __future__ import annotations

from crowdlearn.aggregation import DawidSkene, MajorityVote
from crowdlearn.errors import InputError
from crowdlearn.learners.aggregate_then_train import AggregateThenTrain
from crowdlearn.learners.base import Learner
from crowdlearn.learners.mbem import MBEM

CROWD_METHODS = ("mv", "soft-mv", "em", "mbem")


def make_crowd_learner(name: str, *, self_training: bool = True, **settings) -> Learner:
    """A learning-from-crowds method by its short name: ``"mv"`` (hard majority labels),
    ``"soft-mv"`` (vote shares), ``"em"`` (Dawid–Skene posteriors) — each then trained — or
    ``"mbem"``. ``settings`` are the learner's training parameters (model, epochs, lr, seed, …).
    All use the same training routine, self-training included, as in MBEM's official code."""
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
    raise InputError(f"unknown method {name!r}; choose from {', '.join(CROWD_METHODS)}")


__all__ = ["CROWD_METHODS", "MBEM", "AggregateThenTrain", "Learner", "make_crowd_learner"]
