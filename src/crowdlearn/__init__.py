"""crowdlearn: accurate models from noisy and crowdsourced labels."""

from importlib.metadata import PackageNotFoundError, version

from crowdlearn.active import next_to_label
from crowdlearn.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnError, InputError
from crowdlearn.features import read_features
from crowdlearn.label_issues import label_issues_from_proba
from crowdlearn.methods import make_learner
from crowdlearn.plan import plan  # `from crowdlearn.plan import WorkerPool` still finds the module

try:
    __version__ = version("crowdlearn")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

# learners need torch: loaded on first use so that the aggregation layer stays torch-free
_LAZY = {name: "crowdlearn.learners" for name in
         ("MBEM", "AggregateThenTrain", "MaxMIG", "CrowdLayer", "DoctorNet", "AggNet",
          "StandardCE", "CoTeaching", "MeMomentum", "TwoEM", "find_label_issues", "load")}
_LAZY |= {"train": "crowdlearn.model_folder", "write_model_folder": "crowdlearn.model_folder"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crowdlearn' has no attribute {name!r}")


__all__ = ["MBEM", "AggNet", "AggregateThenTrain", "Annotations", "CoTeaching", "CrowdLayer",
           "CrowdlearnError", "DawidSkene", "DoctorNet", "InputError", "MajorityVote", "MaxMIG",
           "MeMomentum", "OneCoinDawidSkene", "StandardCE", "TwoEM", "__version__",
           "find_label_issues", "label_issues_from_proba", "load", "make_learner",
           "next_to_label", "plan", "read_features", "train", "write_model_folder"]
