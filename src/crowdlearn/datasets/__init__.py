"""Readers for public crowdsourcing datasets' file layouts (nothing is downloaded)."""

from crowdlearn.datasets.crowds import (
    read_answer_truth,
    read_music_mturk,
    read_snow2008,
    read_wide_answers,
    read_zhou_mat,
)

__all__ = ["read_answer_truth", "read_music_mturk", "read_snow2008", "read_wide_answers",
           "read_zhou_mat"]
