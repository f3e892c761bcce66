"""crowdlearn: accurate models from noisy and crowdsourced labels.

The public names are loaded on first use (PEP 562), so that ``import crowdlearn`` costs
nothing: the command line starts without pandas, scikit-learn or torch, the aggregation
layer stays torch-free, and ``crowdlearn.aggregation`` and the other submodules are reached
as attributes as before.
"""

import importlib
import sys
import types

# public name -> the module that defines it
_LAZY = {name: "crowdlearn.learners" for name in
         ("MBEM", "AggregateThenTrain", "MaxMIG", "CrowdLayer", "DoctorNet", "AggNet",
          "StandardCE", "CoTeaching", "MeMomentum", "TwoEM", "find_label_issues", "load")}
_LAZY |= {"train": "crowdlearn.model_folder", "write_model_folder": "crowdlearn.model_folder",
          "CrowdlearnError": "crowdlearn.errors", "InputError": "crowdlearn.errors",
          "DawidSkene": "crowdlearn.aggregation", "MajorityVote": "crowdlearn.aggregation",
          "OneCoinDawidSkene": "crowdlearn.aggregation",
          "Annotations": "crowdlearn.annotations", "next_to_label": "crowdlearn.active",
          "read_features": "crowdlearn.features",
          "label_issues_from_proba": "crowdlearn.label_issues",
          "make_learner": "crowdlearn.methods", "plan": "crowdlearn.plan"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "__version__":
        globals()[name] = _version()  # read once
        return globals()[name]
    if not name.startswith("__"):  # a submodule, as when the package imported it eagerly
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'crowdlearn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crowdlearn")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


class _Package(types.ModuleType):
    """Keeps ``crowdlearn.plan`` the function: importing the submodule of the same name
    (``from crowdlearn.plan import WorkerPool``) binds the module to the package's
    attribute, which the function replaces here, as the former eager import did."""

    def __setattr__(self, name: str, value) -> None:
        if (isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__
                and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["MBEM", "AggNet", "AggregateThenTrain", "Annotations", "CoTeaching", "CrowdLayer",
           "CrowdlearnError", "DawidSkene", "DoctorNet", "InputError", "MajorityVote", "MaxMIG",
           "MeMomentum", "OneCoinDawidSkene", "StandardCE", "TwoEM", "__version__",
           "find_label_issues", "label_issues_from_proba", "load", "make_learner",
           "next_to_label", "plan", "read_features", "train", "write_model_folder"]
