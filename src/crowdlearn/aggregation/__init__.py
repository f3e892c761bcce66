"""Label aggregation: infer each task's true label and each worker's quality from crowd answers.

Imports no deep-learning stack.
"""

from crowdlearn.aggregation.base import Aggregator
from crowdlearn.aggregation.dawid_skene import DawidSkene
from crowdlearn.aggregation.ebcc import EBCC
from crowdlearn.aggregation.glad import GLAD
from crowdlearn.aggregation.gold_majority_vote import GoldMajorityVote
from crowdlearn.aggregation.ibcc import IBCC
from crowdlearn.aggregation.kos import KOS
from crowdlearn.aggregation.mace import MACE
from crowdlearn.aggregation.majority_vote import MajorityVote
from crowdlearn.aggregation.mmsr import MMSR
from crowdlearn.aggregation.one_coin import OneCoinDawidSkene
from crowdlearn.aggregation.wawa import Wawa
from crowdlearn.aggregation.zero_based_skill import ZeroBasedSkill

__all__ = ["EBCC", "GLAD", "IBCC", "KOS", "MACE", "MMSR", "Aggregator", "DawidSkene",
           "GoldMajorityVote", "MajorityVote", "OneCoinDawidSkene", "Wawa", "ZeroBasedSkill"]
