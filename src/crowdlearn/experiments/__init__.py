"""Reproducible sweeps with resumable result tables and plots."""

from crowdlearn.experiments.active import ActiveSettings, active_finding, active_summary, run_active
from crowdlearn.experiments.budget import BudgetSettings, finding, run_budget, summary
from crowdlearn.experiments.crowds import CrowdsSettings, crowds_summary, run_crowds
from crowdlearn.experiments.noise import NoiseSettings, noise_summary, run_noise
from crowdlearn.experiments.results import ResultsTable
from crowdlearn.experiments.sweep import Experiment, run_sweep

__all__ = ["ActiveSettings", "BudgetSettings", "CrowdsSettings", "Experiment", "NoiseSettings",
           "ResultsTable", "active_finding", "active_summary", "crowds_summary", "finding",
           "noise_summary", "run_active", "run_budget", "run_crowds", "run_noise", "run_sweep",
           "summary"]
