"""Reproducible sweeps with resumable result tables and plots."""

from crowdlearn.experiments.budget import BudgetSettings, finding, run_budget, summary
from crowdlearn.experiments.crowds import CrowdsSettings, crowds_summary, run_crowds
from crowdlearn.experiments.results import ResultsTable

__all__ = ["BudgetSettings", "CrowdsSettings", "ResultsTable", "crowds_summary", "finding",
           "run_budget", "run_crowds", "summary"]
