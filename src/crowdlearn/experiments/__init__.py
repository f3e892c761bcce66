"""Reproducible sweeps with resumable result tables and plots."""

from crowdlearn.experiments.budget import BudgetSettings, finding, run_budget, summary
from crowdlearn.experiments.crowds import CrowdsSettings, crowds_summary, run_crowds
from crowdlearn.experiments.noise import NoiseSettings, noise_summary, run_noise
from crowdlearn.experiments.results import ResultsTable

__all__ = ["BudgetSettings", "CrowdsSettings", "NoiseSettings", "ResultsTable",
           "crowds_summary", "finding", "noise_summary", "run_budget", "run_crowds", "run_noise",
           "summary"]
