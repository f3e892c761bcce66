"""The default priors of Dawid–Skene and one-coin on sparse, long-tailed crowds (issue item 5).

The crowds come from ``benchmarks.sparse_crowds`` (4 classes, ~800 workers with long-tailed
answer counts, 1–30 answers per item). The former defaults (``OLD_DS``, ``OLD_ONE_COIN``) fail
the accuracy checks here: DS fell 0.03–0.09 below majority vote on these seeds and one-coin's
class prior drifted onto one class (accuracy below always answering the commonest class).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.real_crowds import OLD_DS, OLD_ONE_COIN
from benchmarks.sparse_crowds import SCENARIOS, simulate
from crowdlearn import DawidSkene, MajorityVote, OneCoinDawidSkene
from tests.aggregation.reference import reference_dawid_skene
from tests.conftest import make_crowd

pytestmark = pytest.mark.filterwarnings("ignore::crowdlearn.errors.CrowdlearnWarning")

SEEDS = [0, 1, 2]


def _crowd(name: str, seed: int):
    return simulate(SCENARIOS[name], seed)


def _accuracy(model, ann, y) -> float:
    return float((model.fit(ann).labels_ == y).mean())


def ds_not_below_majority_vote(params: dict, name: str, seed: int) -> tuple[float, float]:
    ann, y = _crowd(name, seed)
    return _accuracy(DawidSkene(**params), ann, y), _accuracy(MajorityVote(), ann, y)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["item5", "sparse"])
def test_ds_default_not_below_majority_vote(name, seed):
    ds, mv = ds_not_below_majority_vote({}, name, seed)
    assert ds >= mv - 0.005, f"{name} seed {seed}: DS {ds:.3f} < MV {mv:.3f} - 0.005"


def test_old_ds_defaults_fell_below_majority_vote():
    """The check above has teeth: the former defaults fail it on item 5's shape."""
    gaps = [np.subtract(*ds_not_below_majority_vote(OLD_DS, "item5", s)) for s in SEEDS]
    assert max(gaps) < -0.005


def one_coin_collapse(params: dict, seed: int) -> tuple[float, float, float, float]:
    """(accuracy, commonest-class baseline, largest share of one predicted class, largest
    learned class frequency) of one-coin on the crowd biased towards a rare class."""
    ann, y = _crowd("biased", seed)
    oc = OneCoinDawidSkene(**params).fit(ann)
    share = np.bincount(oc.labels_, minlength=ann.n_classes) / len(y)
    return (float((oc.labels_ == y).mean()), float(np.bincount(y).max() / len(y)),
            float(share.max()), float(oc.class_prior_.max()))


@pytest.mark.parametrize("seed", SEEDS)
def test_one_coin_default_does_not_collapse(seed):
    acc, commonest, top_share, top_prior = one_coin_collapse({}, seed)
    assert acc > commonest + 0.1
    assert top_share < 0.75
    assert top_prior < 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_old_one_coin_defaults_collapsed(seed):
    acc, commonest, top_share, top_prior = one_coin_collapse(OLD_ONE_COIN, seed)
    assert acc < commonest and top_prior > 0.8


@pytest.mark.parametrize("model", [
    DawidSkene(), OneCoinDawidSkene(), DawidSkene(class_prior="uniform"),
    OneCoinDawidSkene(class_prior="estimate"), DawidSkene(smoothing=3.0, class_smoothing=1.0)],
    ids=["ds", "one-coin", "ds-uniform-q", "one-coin-estimated-q", "ds-strong"])
@pytest.mark.parametrize("name", ["item5", "biased"])
def test_objective_non_decreasing_with_the_priors(model, name):
    ann, y = _crowd(name, 3)
    gold = {ann.tasks[t]: int(y[t]) for t in range(0, 40, 4)}
    for fitted in (model.fit(ann), model.fit(ann, gold=gold)):
        ll = np.asarray(fitted.log_likelihood_)
        assert len(ll) > 2 and np.isfinite(ll).all()
        assert np.all(np.diff(ll) >= -1e-10)


@pytest.mark.parametrize("params", [
    {"smoothing": 1.0},
    {"smoothing": 0.3, "class_smoothing": 0.5},
    {"smoothing": 0.01, "prior": "uniform", "class_smoothing": 0.0},  # the former default
])
def test_priors_match_loop_reference(params):
    ann, _, _ = make_crowd(n_tasks=150, n_workers=30, r=3, seed=11)
    ds = DawidSkene(max_iter=5, tol=0, **params).fit(ann)
    post, pi, q = reference_dawid_skene(ann.task, ann.worker, ann.label, ann.n_tasks,
                                        ann.n_workers, ann.n_classes, n_iter=5, **params)
    np.testing.assert_allclose(ds.posteriors_, post, atol=1e-10)
    np.testing.assert_allclose(ds.confusion_, pi, atol=1e-10)
    np.testing.assert_allclose(ds.class_prior_, q, atol=1e-12)


def test_pooled_prior_gives_sparse_workers_the_crowds_confusion():
    """A worker with one answer gets about the crowd's confusion, not a uniform one."""
    ann, _ = _crowd("item5", 0)
    ds = DawidSkene().fit(ann)
    once = np.flatnonzero(ann.worker_counts == 1)
    busy = np.flatnonzero(ann.worker_counts >= 50)
    diag = np.einsum("wkk->wk", ds.confusion_)
    assert len(once) > 100 and len(busy) > 0
    assert diag[once].mean() > 0.4  # the crowd's average diagonal is about 0.45
    old = DawidSkene(**OLD_DS).fit(ann)
    assert np.einsum("wkk->wk", old.confusion_)[once].mean() < 0.33  # mostly uniform rows


def test_bad_prior_parameters():
    from crowdlearn import InputError

    ann, _, _ = make_crowd(n_tasks=30, n_workers=5, r=2, seed=1)
    with pytest.raises(InputError, match="'prior' parameter of DawidSkene must be a str among "
                                         r"\{'pooled', 'uniform'\}"):
        DawidSkene(prior="crowd").fit(ann)
    with pytest.raises(InputError, match=r"'class_smoothing' parameter of OneCoinDawidSkene "
                                         r"must be a float in the range \[0.0, inf\)"):
        OneCoinDawidSkene(class_smoothing=-1).fit(ann)
