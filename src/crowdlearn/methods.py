"""Every learning method by one name: the registry from which the Python factory
(:func:`make_learner`), the experiments and the command line's choices all come.

Importing this module does not import torch: the command line builds its help from it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from crowdlearn.errors import InputError

Kind = Literal["crowd", "noise"]


@dataclass(frozen=True)
class MethodSpec:
    """One method: its kind (``crowd``: learns from annotators' answers; ``noise``: from one
    possibly wrong label per item), a one-line summary, the learner class that implements
    it, the parameters its name fixes, and for aggregate-then-train methods the aggregator."""

    name: str
    kind: Kind
    summary: str
    learner: str  # class name in crowdlearn.learners
    fixed: Mapping = field(default_factory=dict)
    aggregator: str | None = None  # class name in crowdlearn.aggregation


_SPECS = (
    MethodSpec("mv", "crowd", "majority-vote labels, then train", "AggregateThenTrain",
               {"targets": "hard"}, "MajorityVote"),
    MethodSpec("soft-mv", "crowd", "vote shares as soft targets, then train",
               "AggregateThenTrain", {"targets": "soft"}, "MajorityVote"),
    MethodSpec("ds", "crowd", "Dawid-Skene posteriors as soft targets, then train",
               "AggregateThenTrain", {"targets": "soft"}, "DawidSkene"),
    MethodSpec("aggregate", "crowd", "any registered aggregator's posteriors (--param "
               "aggregator=NAME, default ds), then train", "AggregateThenTrain",
               {"targets": "soft"}),
    MethodSpec("mbem", "crowd", "model-bootstrapped EM, a confusion matrix per worker "
               "(Khetan et al. 2018)", "MBEM"),
    MethodSpec("mbem-onecoin", "crowd", "model-bootstrapped EM, one accuracy per worker",
               "MBEM", {"worker_model": "one-coin"}),
    MethodSpec("maxmig", "crowd", "classifier and crowd aggregator trained jointly "
               "(Max-MIG, Cao et al. 2019)", "MaxMIG"),
    MethodSpec("crowd-layer", "crowd", "a per-worker layer on the network (Rodrigues & "
               "Pereira 2018)", "CrowdLayer"),
    MethodSpec("doctor-net", "crowd", "one head per worker, predictions averaged (Guan et "
               "al. 2018)", "DoctorNet"),
    MethodSpec("aggnet", "crowd", "EM between the network and worker confusions "
               "(Albarqouni et al. 2016)", "AggNet"),
    MethodSpec("ce", "noise", "standard cross-entropy training", "StandardCE"),
    MethodSpec("coteaching", "noise", "two networks teach each other on small-loss items "
               "(Han et al. 2018; --param forget_rate=your noise rate, default 0.2)",
               "CoTeaching"),
    MethodSpec("me-momentum", "noise", "extract hard confident examples (Bai & Liu 2021)",
               "MeMomentum"),
    MethodSpec("two-em", "noise", "detect and refurbish corrupted labels with two EM cycles",
               "TwoEM"),
    MethodSpec("two-em-no-cr", "noise", "two-em without its confidence regulariser",
               "TwoEM", {"cr_weight": 0.0}),
)
METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in _SPECS}
CROWD_METHODS = tuple(name for name, spec in METHODS.items() if spec.kind == "crowd")
NOISE_METHODS = tuple(name for name, spec in METHODS.items() if spec.kind == "noise")
RENAMED = {"em": "ds"}  # former names, named in the error a user gets

# label aggregators (crowdlearn.aggregation) by name: `crowdlearn aggregate --method NAME`
AGGREGATORS: dict[str, tuple[str, str]] = {
    "mv": ("MajorityVote", "majority vote"),
    "ds": ("DawidSkene", "Dawid-Skene: a confusion matrix per worker"),
    "onecoin": ("OneCoinDawidSkene", "one skill per worker"),
    "wawa": ("Wawa", "majority vote weighted by agreement with it"),
    "zbs": ("ZeroBasedSkill", "weighted vote, skills learned from agreement"),
    "gold-mv": ("GoldMajorityVote", "weighted vote, skills measured on gold (--gold)"),
    "glad": ("GLAD", "worker ability and task difficulty (Whitehill et al. 2009)"),
    "mace": ("MACE", "spammers and their strategies (Hovy et al. 2013)"),
    "kos": ("KOS", "message passing, two classes (Karger, Oh & Shah 2011)"),
    "mmsr": ("MMSR", "robust rank-one completion (Ma & Olshevsky 2020)"),
    "ibcc": ("IBCC", "Bayesian classifier combination (Kim & Ghahramani 2012)"),
    "ebcc": ("EBCC", "correlated workers through class subtypes (Li et al. 2019)"),
}


def available_aggregators() -> dict[str, str]:
    """The registered aggregators this installation has, name → summary."""
    from crowdlearn import aggregation

    return {name: summary for name, (cls, summary) in AGGREGATORS.items()
            if hasattr(aggregation, cls)}


def make_aggregator(name: str, **params):
    """A fresh aggregator by its registered name, with ``params`` set; an unknown name or a
    parameter the aggregator does not have is an :class:`InputError` naming it."""
    from crowdlearn import aggregation

    known = available_aggregators()
    if name not in known:
        raise InputError(f"unknown aggregator {name!r}; choose from {', '.join(known)}")
    model = getattr(aggregation, AGGREGATORS[name][0])()
    own = model.get_params()
    unknown = [k for k in params if k not in own]
    if unknown:
        raise InputError(f"aggregator {name!r} has no parameter {unknown[0]!r}; its "
                         f"parameters are {', '.join(own) or 'none'}")
    return model.set_params(**params)


def method_spec(name: str, kind: Kind | None = None) -> MethodSpec:
    """The method called ``name`` (of ``kind`` when given); unknown names are an
    :class:`InputError` listing the choices."""
    choices = [n for n, s in METHODS.items() if kind is None or s.kind == kind]
    if name not in choices:
        hint = f" (now called {RENAMED[name]!r})" if name in RENAMED else ""
        raise InputError(f"unknown method {name!r}{hint}; choose from {', '.join(choices)}")
    return METHODS[name]


def method_parameters(name: str) -> dict[str, object]:
    """The parameters a user may set on a method beyond the shared training ones, with
    their defaults: the learner's own and, for aggregate-then-train methods, the
    aggregator's."""
    from crowdlearn import aggregation, learners
    from crowdlearn.learners.base import TRAINING_PARAMETERS

    spec = method_spec(name)
    own = {k: v.default for k, v in _signature(getattr(learners, spec.learner)).items()
           if k not in TRAINING_PARAMETERS and k not in ("model", "aggregator")
           and k not in spec.fixed}
    if spec.learner == "AggregateThenTrain" and spec.aggregator is None:
        own["aggregator"] = "ds"  # the name of a registered aggregator
    if spec.aggregator:
        own |= {k: v.default for k, v in
                _signature(getattr(aggregation, spec.aggregator)).items()
                if k not in ("seed", "n_threads")}
    return own


def make_learner(name: str, kind: Kind | None = None, **params):
    """A fresh learner for the method ``name``: ``params`` are its own parameters
    (:func:`method_parameters`) and the shared training ones (model, epochs, lr, seed, …);
    an unknown one is an :class:`InputError` naming it."""
    from crowdlearn import aggregation, learners
    from crowdlearn.learners.base import TRAINING_PARAMETERS

    spec = method_spec(name, kind)
    known = method_parameters(name)
    unknown = [k for k in params if k not in known and k not in TRAINING_PARAMETERS
               and k != "model"]
    if unknown:
        raise InputError(f"method {name!r} has no parameter {unknown[0]!r}; its own are "
                         f"{', '.join(known) or 'none'}, the training ones "
                         f"{', '.join(['model', *TRAINING_PARAMETERS])}")
    cls = getattr(learners, spec.learner)
    if spec.learner == "AggregateThenTrain" and spec.aggregator is None:
        chosen = params.pop("aggregator", "ds")
        return cls(make_aggregator(chosen, **_seeded(chosen, params)), **params, **spec.fixed)
    if spec.aggregator is None:
        return cls(**params, **spec.fixed)
    agg_cls = getattr(aggregation, spec.aggregator)
    agg_names = set(_signature(agg_cls)) - {"seed", "n_threads"}
    agg_params = {k: params.pop(k) for k in list(params) if k in agg_names}
    if "seed" in _signature(agg_cls):  # majority vote's tie-break follows the training seed
        agg_params["seed"] = params.get("seed", 0)
    return cls(agg_cls(**agg_params), **params, **spec.fixed)


def _seeded(aggregator: str, params: dict) -> dict:
    """The training seed for an aggregator that has a seed of its own."""
    from crowdlearn import aggregation

    cls = getattr(aggregation, AGGREGATORS.get(aggregator, ("", ""))[0], None)
    return {"seed": params.get("seed", 0)} if cls and "seed" in _signature(cls) else {}


def _signature(cls) -> dict[str, inspect.Parameter]:
    return {k: v for k, v in inspect.signature(cls).parameters.items()
            if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)}
