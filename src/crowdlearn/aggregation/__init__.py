"""Label aggregation: infer each task's true label and each worker's quality from crowd answers.

Imports no deep-learning stack.
"""

from crowdlearn.aggregation.base import Aggregator
from crowdlearn.aggregation.dawid_skene import DawidSkene
from crowdlearn.aggregation.majority_vote import MajorityVote
from crowdlearn.aggregation.one_coin import OneCoinDawidSkene

__all__ = ["Aggregator", "DawidSkene", "MajorityVote", "OneCoinDawidSkene"]
