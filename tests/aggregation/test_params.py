"""Every exported aggregator declares its hyper-parameters' constraints and checks them when
``fit`` starts, before it reads the answers: a bad value is an InputError naming it."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdlearn import aggregation
from crowdlearn.cli import app
from crowdlearn.errors import CrowdlearnWarning, InputError
from tests.conftest import make_crowd

AGGREGATORS = [getattr(aggregation, name) for name in aggregation.__all__
               if name != "Aggregator"]
NAN, INF = float("nan"), float("inf")

# a few values that no parameter of the kind accepts, whatever its bounds
BY_KIND = {
    "integer": [-1, 1.5, "3", True, NAN, None],
    "real": ["1e-5", NAN, INF, -INF, True, None],
    "choice": ["nonsense", None, True],
    "flag": ["yes", 2],
}
BY_NAME = {
    "seed": [-1, 1.5, "abc", True, NAN],
    "n_threads": [0, -1, 2.5, "2", NAN, True],
    "weights": [0.5, "abc", [1.0, 2.0]],
    "default_weight": ["abc", NAN, INF, True],
    "smoothing": ["1e-5", NAN, INF, True],  # MACE's may be None (0.01 under EM)
}
# values just outside a parameter's bounds (added to its kind's)
BEYOND = {
    "max_iter": [0], "n_iter": [0], "n_restarts": [0], "m_step_max_iter": [0],
    "lr_steps_to_reduce": [0], "n_subtypes": [0], "n_seeds": [0],
    "tol": [-1e-3], "m_step_tol": [-1.0], "m_step_rtol": [-0.5], "smoothing": [-1.0],
    "class_smoothing": [-1.0], "lr_init": [-1.0], "lr_reduce_factor": [-0.5], "eps": [-1e-9],
    "default_noise": [-1.0], "alpha": [0.0], "beta": [-1.0], "strategy_prior": [0.0],
    "alpha_prior_var": [0.0], "beta_prior_var": [-1.0], "class_concentration": [0.0],
    "confusion_diag": [0.0], "confusion_off": [-1.0], "subtype_concentration": [0.0],
}
# accepted today, and still
GENERATOR_SEEDS = {"MajorityVote", "Wawa", "ZeroBasedSkill", "GoldMajorityVote", "KOS"}


def kind(default) -> str:
    """The kind of a parameter, from its default."""
    if isinstance(default, bool):
        return "flag"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "real"
    return "choice"


def invalid_cases():
    for cls in AGGREGATORS:
        for name, default in cls().get_params().items():
            values = BY_NAME.get(name, BY_KIND[kind(default)]) + BEYOND.get(name, [])
            for value in values:
                yield pytest.param(cls, name, value,
                                   id=f"{cls.__name__}-{name}-{value!r}")


class Untouchable:
    """Answers that no aggregator can read: a fit that gets as far as reading them fails with
    a message that names no parameter."""


def message(cls, name: str) -> str:
    """What the error about ``name`` of ``cls`` says (scikit-learn's wording, or MMSR's own
    until it is converted)."""
    return rf"(The '{name}' parameter of {cls.__name__} |^{name} )must be"


@pytest.mark.parametrize(("cls", "name", "value"), invalid_cases())
def test_invalid_value_is_refused_before_reading_the_answers(cls, name, value):
    model = cls(**{name: value})
    with pytest.raises(InputError, match=message(cls, name)) as raised:
        model.fit(Untouchable())
    assert "\n" not in str(raised.value)
    with pytest.raises(InputError, match=message(cls, name)):
        model.check_params()


@pytest.mark.parametrize("cls", AGGREGATORS, ids=lambda c: c.__name__)
def test_every_parameter_is_declared(cls):
    assert set(cls._parameter_constraints) == set(cls().get_params())


@pytest.mark.parametrize("cls", AGGREGATORS, ids=lambda c: c.__name__)
def test_defaults_pass_and_fit(cls):
    cls().check_params()
    ann, y, _ = make_crowd(n_tasks=60, n_workers=8, k=2, r=3, seed=0)
    gold = dict(zip(ann.tasks[:10], y[:10], strict=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CrowdlearnWarning)
        model = cls().fit(ann, **({"gold": gold} if "Gold" in cls.__name__ else {}))
    assert model.posteriors_.shape == (60, 2)


@pytest.mark.parametrize("cls", AGGREGATORS, ids=lambda c: c.__name__)
def test_accepted_values_pass(cls):
    params = cls().get_params()
    good = {"seed": [None, 0, np.int64(7), 2**32 - 1], "n_threads": [None, 1, np.int64(2)],
            "tol": [0, 0.0, np.float32(1e-3)], "max_iter": [1, np.int64(50)],
            "default_weight": [None, -1, np.float64(0.5)], "weights": [None, {}, pd.Series()]}
    if cls.__name__ in GENERATOR_SEEDS:
        good["seed"].append(np.random.default_rng(0))
    for name, values in good.items():
        for value in values if name in params else ():
            cls(**{name: value}).check_params()


def test_generator_seeds_still_work():
    frame = pd.DataFrame({"task": [0, 0, 1, 1], "worker": [0, 1, 0, 1], "label": [0, 1, 0, 1]})
    for name in sorted(GENERATOR_SEEDS - {"GoldMajorityVote"}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CrowdlearnWarning)
            labels = getattr(aggregation, name)(seed=np.random.default_rng(3)).fit(frame)
        assert labels.labels_.shape == (2,)


def test_the_audits_reproductions_are_input_errors():
    frame = pd.DataFrame({"task": ["a", "a", "b", "b"], "worker": ["u", "v", "u", "v"],
                          "label": ["x", "y", "x", "x"]})
    cases = [(aggregation.MajorityVote, "seed", -1), (aggregation.Wawa, "seed", -1),
             (aggregation.ZeroBasedSkill, "seed", -1), (aggregation.KOS, "seed", "abc"),
             (aggregation.DawidSkene, "tol", "1e-5"),
             (aggregation.DawidSkene, "smoothing", "1"),
             (aggregation.OneCoinDawidSkene, "class_smoothing", "0.1"),
             (aggregation.DawidSkene, "n_threads", "2"), (aggregation.DawidSkene, "n_threads", -1),
             (aggregation.DawidSkene, "n_threads", 2.5),
             (aggregation.MACE, "seed", 2**32)]  # beyond np.random.RandomState's seeds
    for cls, name, value in cases:
        with pytest.raises(InputError, match=f"'{name}' parameter of {cls.__name__} must be"):
            cls(**{name: value}).fit(frame)
    with pytest.raises(InputError, match="'seed' parameter of GoldMajorityVote must be"):
        aggregation.GoldMajorityVote(seed=-1).fit(frame, gold={"a": "x"})


def test_messages_list_the_choices_in_declared_order():
    for _ in range(3):  # a set's order would change with the hash seed, not within a run
        with pytest.raises(InputError) as raised:
            aggregation.EBCC(point_estimates="map").check_params()
    assert "a str among {'none', 'confusion', 'all'}. Got 'map' instead" in str(raised.value)


def test_partial_fit_checks_parameters_changed_since_the_fit():
    ann, _, _ = make_crowd(n_tasks=60, n_workers=8, k=2, r=3, seed=0)
    model = aggregation.DawidSkene().fit(ann)
    model.set_params(tol=-1.0)
    with pytest.raises(InputError, match="'tol' parameter of DawidSkene"):
        model.partial_fit(Untouchable())


def test_checks_of_several_parameters_run_after_the_constraints():
    class Picky(aggregation.MajorityVote):
        def _check_more(self):
            if self.weights is None and self.default_weight is not None:
                raise InputError("default_weight needs weights")

    with pytest.raises(InputError, match="'seed' parameter of Picky"):
        Picky(seed=-1, default_weight=1.0).fit(Untouchable())
    with pytest.raises(InputError, match="default_weight needs weights"):
        Picky(default_weight=1.0).fit(Untouchable())


def test_learners_share_the_declarations():
    from crowdlearn import params
    from crowdlearn.learners import base

    assert base.POSITIVE_INT is params.POSITIVE_INT
    assert base.NON_NEGATIVE_REAL is params.NON_NEGATIVE_REAL
    assert base.FRACTION is params.FRACTION
    assert base.Learner.check_params is aggregation.Aggregator.check_params


@pytest.mark.parametrize(("args", "expected"), [
    (["--method", "mv", "--seed", "-1"], "'seed' parameter of MajorityVote must be"),
    (["--method", "ds", "--tol", "-1"], "'tol' parameter of DawidSkene must be"),
    (["--method", "onecoin", "--max-iter", "0"],
     "'max_iter' parameter of OneCoinDawidSkene must be"),
])
def test_cli_reports_a_bad_option_value_as_one_line(tmp_path, args, expected):
    ann, _, _ = make_crowd(n_tasks=30, seed=1)
    path = tmp_path / "answers.csv"
    ann.to_frame().to_csv(path, index=False)
    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(app, ["aggregate", str(path), "-o", str(out), *args])
    assert result.exit_code == 2
    assert re.search(expected, " ".join(result.output.split()))
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one message, soft-wrapped at most
    assert not out.exists()


@pytest.mark.parametrize("cls", AGGREGATORS, ids=lambda c: c.__name__)
def test_hyper_parameters_keyword_only_after_the_first(cls):
    import inspect

    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert all(p.kind is p.KEYWORD_ONLY for p in params[1:]), cls
    with pytest.raises(TypeError):
        cls(*[p.default for p in params[:2]])


def test_unknown_fit_keywords_are_named():
    from crowdlearn import Annotations

    frame = pd.DataFrame({"task": [0, 0, 1, 1], "worker": [0, 1, 0, 1], "label": [0, 0, 1, 0]})
    answers = Annotations.from_frame(frame)
    for given in (answers, frame):  # gold= is GoldMajorityVote's, not MACE's
        with pytest.raises(InputError, match=r"unknown argument\(s\) gold: besides the "):
            aggregation.MACE().fit(given, gold={0: 0})
    with pytest.raises(InputError, match="task: these options build annotations from a "):
        aggregation.DawidSkene().fit(answers, task="item")
    assert aggregation.DawidSkene().fit(frame.rename(columns={"task": "item"}),
                                        task="item").posteriors_.shape == (2, 2)
