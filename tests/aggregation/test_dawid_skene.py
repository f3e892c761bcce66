from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from crowdlearn import Annotations, DawidSkene, InputError, MajorityVote, OneCoinDawidSkene
from tests.aggregation.reference import reference_dawid_skene
from tests.conftest import make_crowd


def test_matches_loop_reference(crowd):
    ann, _, _ = crowd
    ds = DawidSkene(max_iter=7, tol=0, smoothing=0.01).fit(ann)
    # our n_iter E-steps follow n_iter M-steps of the reference
    post, pi, q = reference_dawid_skene(ann.task, ann.worker, ann.label, ann.n_tasks,
                                        ann.n_workers, ann.n_classes, n_iter=7, smoothing=0.01)
    assert ds.n_iter_ == 7
    np.testing.assert_allclose(ds.posteriors_, post, atol=1e-10)
    np.testing.assert_allclose(ds.confusion_, pi, atol=1e-10)
    np.testing.assert_allclose(ds.class_prior_, q, atol=1e-12)


def test_task_prior_and_gold_match_reference(crowd):
    ann, y, _ = crowd
    rng = np.random.default_rng(5)
    prior = rng.dirichlet(np.ones(ann.n_classes), size=ann.n_tasks)
    gold = {int(t): int(y[t]) for t in range(0, 60, 3)}
    ds = DawidSkene(max_iter=4, tol=0).fit(ann, task_prior=prior, gold=gold)
    post, _, _ = reference_dawid_skene(ann.task, ann.worker, ann.label, ann.n_tasks,
                                       ann.n_workers, ann.n_classes, n_iter=4, smoothing=1.0,
                                       task_prior=prior, gold=gold)
    np.testing.assert_allclose(ds.posteriors_, post, atol=1e-10)
    assert all(ds.labels_[t] == c for t, c in gold.items())


def test_chunked_threaded_equals_single_chunk(crowd, monkeypatch):
    ann, _, _ = crowd
    whole = DawidSkene(n_threads=1).fit(ann)
    import crowdlearn.aggregation.em as em

    monkeypatch.setattr(em, "CHUNK_TASKS", 37)
    chunked = DawidSkene(n_threads=2).fit(ann)
    np.testing.assert_allclose(chunked.posteriors_, whole.posteriors_, atol=1e-12)
    assert chunked.n_iter_ == whole.n_iter_


def test_log_likelihood_non_decreasing_and_converges(crowd):
    ann, _, _ = crowd
    ds = DawidSkene(max_iter=200, tol=1e-7).fit(ann)
    ll = np.asarray(ds.log_likelihood_)
    assert np.all(np.diff(ll) >= -1e-12)
    assert ds.n_iter_ < 200
    assert ll[-1] - ll[-2] < 1e-7


def test_posteriors_are_distributions(crowd):
    ann, _, _ = crowd
    for model in (DawidSkene(), OneCoinDawidSkene(), MajorityVote()):
        proba = model.fit(ann).predict_proba()
        assert proba.shape == (ann.n_tasks, ann.n_classes)
        np.testing.assert_allclose(proba.to_numpy().sum(axis=1), 1.0)
        assert (proba.to_numpy() >= 0).all()


def test_hammer_confusions_recovered():
    """C2: with known hammers/spammers and many labels per worker, hammers' estimated
    diagonals exceed 0.9 and spammers' do not."""
    ann, y, hammer = make_crowd(n_tasks=2000, n_workers=20, r=5, seed=2)
    ds = DawidSkene().fit(ann)
    diag = np.einsum("wkk->wk", ds.confusion_).mean(axis=1)
    assert diag[hammer].min() > 0.9
    assert diag[~hammer].max() < 0.6
    assert ds.confusion_.shape == (20, 3, 3)
    np.testing.assert_allclose(ds.confusion_.sum(axis=2), 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ds_beats_majority_vote_with_redundancy(seed):
    """C2: at r >= 3 with independent workers, DS accuracy >= MV accuracy."""
    ann, y, _ = make_crowd(n_tasks=800, r=3, seed=seed, hammers=0.35)
    mv = (MajorityVote(seed=seed).fit(ann).labels_ == y).mean()
    ds = (DawidSkene().fit(ann).labels_ == y).mean()
    assert ds >= mv
    assert ds > mv + 0.05  # spammers are down-weighted: a clear gain, not a tie


def test_single_answer_per_task_reduces_to_majority_vote():
    """C2: at r = 1 every worker looks perfect to EM started from MV, so DS equals MV."""
    ann, _, _ = make_crowd(n_tasks=500, r=1, seed=3)
    ds = DawidSkene().fit(ann)
    np.testing.assert_array_equal(ds.labels_, ann.label)


def test_gold_clamps_and_helps():
    ann, y, _ = make_crowd(n_tasks=400, n_workers=30, r=3, seed=4, hammers=0.25)
    gold = pd.Series(y[:100], index=[ann.tasks[t] for t in range(100)])
    plain = DawidSkene().fit(ann)
    clamped = DawidSkene().fit(ann, gold=gold)
    np.testing.assert_array_equal(clamped.labels_[:100], y[:100])
    np.testing.assert_allclose(clamped.posteriors_[np.arange(100), y[:100]], 1.0)
    rest = slice(100, None)
    acc = [(m.labels_[rest] == y[rest]).mean() for m in (plain, clamped)]
    assert acc[1] >= acc[0] - 0.01


def test_task_prior_moves_posteriors(crowd):
    ann, _, _ = crowd
    prior = np.full((ann.n_tasks, ann.n_classes), 1e-3)
    prior[:, 0] = 1.0
    ds = DawidSkene().fit(ann, task_prior=prior)
    base = DawidSkene().fit(ann)
    assert (ds.labels_ == 0).mean() > (base.labels_ == 0).mean()
    frame_prior = pd.DataFrame(prior, index=ann.tasks).iloc[::-1]
    ds2 = DawidSkene().fit(ann, task_prior=frame_prior)
    np.testing.assert_allclose(ds2.posteriors_, ds.posteriors_)


def test_init_from_task_prior(crowd):
    ann, y, _ = crowd
    prior = np.eye(ann.n_classes)[y] * 0.9 + 0.1 / ann.n_classes
    ds = DawidSkene(init="task_prior").fit(ann, task_prior=prior)
    assert (ds.labels_ == y).mean() > 0.9
    with pytest.raises(InputError, match="needs a task_prior"):
        DawidSkene(init="task_prior").fit(ann)


def test_bad_arguments(crowd):
    ann, _, _ = crowd
    with pytest.raises(InputError, match="task_prior must have shape"):
        DawidSkene().fit(ann, task_prior=np.ones((3, 3)))
    bad = np.ones((ann.n_tasks, ann.n_classes))
    bad[7, 1] = np.nan
    with pytest.raises(InputError, match="task_prior row 7"):
        DawidSkene().fit(ann, task_prior=bad)
    with pytest.raises(InputError, match="gold task 'nope' is not a known task"):
        DawidSkene().fit(ann, gold={"nope": 0})
    with pytest.raises(InputError, match="gold label 9 is not one of the classes"):
        DawidSkene().fit(ann, gold={0: 9})
    with pytest.raises(InputError, match="max_iter"):
        DawidSkene(max_iter=0).fit(ann)
    with pytest.raises(InputError, match="expected crowdlearn.Annotations or a pandas"):
        DawidSkene().fit([[0, 1, 2]])


@pytest.mark.parametrize("cls", [DawidSkene, OneCoinDawidSkene, MajorityVote])
def test_sklearn_contract(cls, crowd):
    ann, _, _ = crowd
    model = cls()
    with pytest.raises(NotFittedError):
        model.predict()
    params = model.get_params()
    twin = clone(model)
    assert twin.get_params() == params
    assert model.fit(ann) is model
    assert not hasattr(twin, "posteriors_")
    pred = model.predict()
    assert pred.index.tolist() == ann.tasks
    assert set(pred.unique()) <= set(ann.classes)


def test_one_coin_recovers_skills():
    ann, y, hammer = make_crowd(n_tasks=2000, n_workers=20, r=5, seed=6)
    oc = OneCoinDawidSkene().fit(ann)
    np.testing.assert_allclose(oc.skill_[hammer], 0.95, atol=0.03)
    np.testing.assert_allclose(oc.skill_[~hammer], 1 / 3, atol=0.06)
    assert np.all(np.diff(oc.log_likelihood_) >= -1e-12)
    assert (oc.labels_ == y).mean() > 0.9


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_permuting_ids_and_answers_does_not_change_results(seed):
    ann, _, _ = make_crowd(n_tasks=60, n_workers=8, r=3, seed=seed % 50)
    rng = np.random.default_rng(seed)
    df = ann.to_frame()
    df["task"] = "t" + df["task"].astype(str)
    shuffled = df.sample(frac=1.0, random_state=seed % 2**31).reset_index(drop=True)
    a = DawidSkene().fit(Annotations.from_frame(df)).predict_proba()
    b = DawidSkene().fit(Annotations.from_frame(shuffled)).predict_proba()
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index(), atol=1e-9)
    assert rng is not None


def test_no_smoothing_stays_finite():
    """Without smoothing a worker never seen on some true class gets a uniform row, not NaN."""
    ann, y, _ = make_crowd(n_tasks=300, n_workers=40, r=3, seed=8)
    ds = DawidSkene(smoothing=0.0).fit(ann)
    assert np.isfinite(ds.posteriors_).all() and np.isfinite(ds.log_likelihood_).all()
    np.testing.assert_allclose(ds.confusion_.sum(axis=2), 1.0)
    assert (ds.labels_ == y).mean() > 0.8


def test_task_prior_frame_columns_are_matched_by_class():
    ann = Annotations([0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0], classes=["a", "b"])
    by_name = pd.DataFrame([[0.9, 0.1]] * 2, index=[0, 1], columns=["b", "a"])
    in_order = np.array([[0.1, 0.9]] * 2)
    a = DawidSkene(max_iter=3, tol=0).fit(ann, task_prior=by_name).posteriors_
    b = DawidSkene(max_iter=3, tol=0).fit(ann, task_prior=in_order).posteriors_
    np.testing.assert_allclose(a, b)
    with pytest.raises(InputError, match="given twice"):
        DawidSkene().fit(ann, task_prior=pd.DataFrame([[0.5, 0.5]] * 2, index=[0, 0],
                                                      columns=["a", "b"]))


def test_keep_all_repeats_match_the_loop_reference(crowd):
    """With keep="all", a repeated (task, worker) answer is one more answer in every sum: the
    vectorised EM (duplicate entries in the incidence matrix) matches the plain loop."""
    ann, _, _ = crowd
    rng = np.random.default_rng(3)
    again = rng.choice(len(ann), size=400, replace=False)
    task = np.r_[ann.task, ann.task[again]]
    worker = np.r_[ann.worker, ann.worker[again]]
    label = np.r_[ann.label, (ann.label[again] + 1) % ann.n_classes]  # a changed mind
    repeated = Annotations(task, worker, label, keep="all")
    assert len(repeated) == len(ann) + 400
    ds = DawidSkene(max_iter=5, tol=0).fit(repeated)
    post, pi, _ = reference_dawid_skene(task, worker, label, ann.n_tasks, ann.n_workers,
                                        ann.n_classes, n_iter=5, smoothing=1.0)
    np.testing.assert_allclose(ds.posteriors_, post, atol=1e-10)
    np.testing.assert_allclose(ds.confusion_, pi, atol=1e-10)
