"""crowdlearn: accurate models from noisy and crowdsourced labels."""

from importlib.metadata import PackageNotFoundError, version

from crowdlearn.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.errors import CrowdlearnError, InputError

try:
    __version__ = version("crowdlearn")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = ["Annotations", "CrowdlearnError", "DawidSkene", "InputError", "MajorityVote",
           "OneCoinDawidSkene", "__version__"]
