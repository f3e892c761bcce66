"""The one registry of methods: names, parameters and the factory."""

from __future__ import annotations

import pytest

from crowdlearn import InputError
from crowdlearn.learners import Learner
from crowdlearn.methods import (
    CROWD_METHODS,
    METHODS,
    NOISE_METHODS,
    make_learner,
    method_parameters,
)


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_builds_its_learner(name):
    learner = make_learner(name, epochs=30, seed=2)
    assert isinstance(learner, Learner)
    assert type(learner).__name__ == METHODS[name].learner
    assert learner.epochs == 30 and learner.seed == 2
    for key, value in METHODS[name].fixed.items():
        assert learner.get_params()[key] == value
    learner.check_params()


def test_kinds_split_the_registry():
    assert set(CROWD_METHODS) | set(NOISE_METHODS) == set(METHODS)
    assert "ds" in CROWD_METHODS and "two-em" in NOISE_METHODS and "em" not in METHODS


def test_aggregate_then_train_takes_the_aggregators_options():
    assert {"smoothing", "prior", "class_smoothing", "self_training"} <= set(
        method_parameters("ds"))
    assert "seed" not in method_parameters("mv") and "tie_break" in method_parameters("mv")
    learner = make_learner("ds", prior="uniform", smoothing=0.01, seed=4)
    assert learner.aggregator.prior == "uniform" and learner.aggregator.smoothing == 0.01
    assert make_learner("mv", seed=4).aggregator.seed == 4  # ties follow the training seed
    assert "worker_model" not in method_parameters("mbem-onecoin")  # fixed by the name


def test_unknown_names_and_options_are_named():
    with pytest.raises(InputError, match="unknown method 'em' \\(now called 'ds'\\); choose"):
        make_learner("em")
    with pytest.raises(InputError, match="method 'two-em' has no parameter 'noise'; its own "
                                         "are .*noise_rate"):
        make_learner("two-em", noise=0.2)
    with pytest.raises(InputError, match="unknown method 'ce'; choose from mv"):
        make_learner("ce", "crowd")


def test_bad_values_fail_before_any_data():
    with pytest.raises(InputError, match="noise_rate"):
        make_learner("two-em", noise_rate=2.0).check_params()


def test_command_line_choices_come_from_the_registry():
    from crowdlearn.cli import LearnMethod

    assert [m.value for m in LearnMethod] == list(METHODS)


def test_any_registered_aggregator_then_train():
    from crowdlearn.aggregation import GLAD, MACE

    learner = make_learner("aggregate", aggregator="glad", epochs=2)
    assert isinstance(learner.aggregator, GLAD) and learner.targets == "soft"
    assert make_learner("aggregate", aggregator="mace", seed=3).aggregator.seed == 3
    assert isinstance(make_learner("aggregate", aggregator="mace").aggregator, MACE)
    assert method_parameters("aggregate")["aggregator"] == "ds"
    with pytest.raises(InputError, match="unknown aggregator 'nope'; choose from mv"):
        make_learner("aggregate", aggregator="nope")
