"""Reproducible sweeps with resumable result tables and plots."""

from crowdlearn.experiments.budget import BudgetSettings, finding, run_budget, summary
from crowdlearn.experiments.results import ResultsTable

__all__ = ["BudgetSettings", "ResultsTable", "finding", "run_budget", "summary"]
