"""M-MSR: robust to adversaries, equal to crowd-kit's MMSR with ``crowdkit_compat=True``, and
each vectorised step equal to crowd-kit's own function or to a plain definition."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from benchmarks.real_crowds import accuracy
from crowdlearn import Annotations, InputError, MajorityVote
from crowdlearn.aggregation import mmsr
from crowdlearn.aggregation.mmsr import MMSR
from crowdlearn.errors import CrowdlearnError, CrowdlearnWarning
from tests.conftest import real_crowd

pytestmark = pytest.mark.filterwarnings("ignore::crowdlearn.errors.CrowdlearnWarning")


def crowdkit_mmsr():
    return pytest.importorskip("crowdkit.aggregation.classification.m_msr").MMSR


def adversarial_crowd(seed: int, k: int, n_tasks=1500, n_workers=40, r=7, n_adversaries=10):
    """Every task answered by r of the workers; the first ``n_adversaries`` answer right with
    probability 0.05 (wrong on purpose), the others 0.6–0.9; wrong answers uniform."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n_tasks)
    acc = np.concatenate([np.full(n_adversaries, 0.05),
                          rng.uniform(0.6, 0.9, n_workers - n_adversaries)])
    sets = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :r]
    task, worker = np.repeat(np.arange(n_tasks), r), sets.ravel()
    right = rng.random(len(task)) < acc[worker]
    wrong = (y[task] + rng.integers(1, k, len(task))) % k
    ann = Annotations(task, worker, np.where(right, y[task], wrong))
    return ann, y, np.arange(n_workers) < n_adversaries


def random_frame(seed: int, n_tasks: int, n_workers: int, k: int, r: int) -> pd.DataFrame:
    """A small crowd as crowd-kit reads it (text ids), two workers answering wrong on
    purpose; with r small against n_workers some pairs of workers share no task."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n_tasks)
    acc = rng.uniform(0.5, 0.95, n_workers)
    acc[:2] = 0.05
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, r, replace=False):
            label = y[t] if rng.random() < acc[w] else (y[t] + rng.integers(1, k)) % k
            rows.append((f"t{t}", f"w{w}", int(label)))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


# (seed, tasks, workers, K, answers per task): dense, sparse (pairs without common tasks), K=4
CROWDS = [(0, 80, 10, 2, 4), (1, 100, 25, 3, 3), (2, 60, 12, 4, 5)]


# ----------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("k", [2, 3])
def test_beats_majority_vote_and_finds_the_adversaries(k):
    ann, y, adversary = adversarial_crowd(seed=0, k=k)
    model = MMSR().fit(ann)
    mv = MajorityVote(tie_break="first").fit(ann)
    acc, mv_acc = (model.labels_ == y).mean(), (mv.labels_ == y).mean()
    # measured on this seed: K=2 0.979 vs MV 0.678; K=3 0.966 vs 0.812
    assert acc >= 0.95 and acc >= mv_acc + 0.1, (acc, mv_acc)
    assert (model.weight_[adversary] < 0).all() and (model.weight_[~adversary] > 0).all()
    assert (model.skill_[adversary] < 1 / k).all()  # worse than chance: true accuracy 0.05
    np.testing.assert_allclose(model.weight_,
                               np.log(model.skill_ * (k - 1) / (1 - model.skill_)))
    assert model.converged_ and model.n_iter_ == len(model.loss_history_)
    np.testing.assert_allclose(model.posteriors_.sum(axis=1), 1.0)
    assert (model.posteriors_ >= 0).all()
    np.testing.assert_array_equal(model.labels_, np.argmax(model.scores_, axis=1))


def test_labels_are_the_largest_weighted_vote_and_crowdkits_rule_is_not():
    # one adversary (weight −2) says class 0, one honest worker (weight 1) says class 1:
    # votes (−2, 1) sum to −1, and dividing by it makes class 0 look best to crowd-kit
    scores = np.array([[-2.0, 1.0], [3.0, 1.0]])
    assert mmsr._crowdkit_labels(scores, np.array([True, True])).tolist() == [0, 0]
    assert np.argmax(scores, axis=1).tolist() == [1, 0]


def test_frame_and_annotations_give_the_same_fit_and_refit_is_identical():
    frame = random_frame(*CROWDS[0])
    a = MMSR().fit(frame)
    b = MMSR().fit(Annotations.from_frame(frame))
    c = MMSR().fit(frame)
    for x, y in ((a, b), (a, c)):
        np.testing.assert_array_equal(x.weight_, y.weight_)
        np.testing.assert_array_equal(x.labels_, y.labels_)
        assert x.loss_history_ == y.loss_history_
    fresh = MMSR(seed=None).fit(frame)  # random start: still a finite fit
    assert np.isfinite(fresh.weight_).all()


def test_renamed_columns_go_through_frame_options():
    frame = random_frame(*CROWDS[0]).rename(columns={"worker": "annotator"})
    labels = MMSR().fit(frame, worker="annotator").predict()
    assert labels.index.name == "task" and len(labels) == frame.task.nunique()


def test_sklearn_contract():
    model = MMSR(max_iter=50, tol=1e-8, seed=3, crowdkit_compat=True)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict()


@pytest.mark.parametrize(("param", "value"), [
    ("max_iter", 0), ("max_iter", 2.5), ("max_iter", True), ("tol", -1e-3), ("tol", "small"),
    ("tol", float("nan")), ("seed", -1), ("seed", 1.5), ("seed", "7"),
    ("crowdkit_compat", "yes"), ("patience", 0), ("patience", 2.5), ("patience", None),
])
def test_bad_parameters_are_named(param, value):
    with pytest.raises(InputError, match=param):
        MMSR(**{param: value}).fit(random_frame(*CROWDS[0]))


def test_one_label_only():
    ann = Annotations([0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0], classes=["a"])
    with pytest.warns(CrowdlearnWarning, match="same label"):
        model = MMSR().fit(ann)
    assert (model.predict() == "a").all() and (model.weight_ == 0).all()


def zero_agreement_crowd() -> Annotations:
    """Three workers, each pair sharing two tasks and agreeing on one: every covariance is
    0, F = 0, and the first trimmed means are means of zeros."""
    task = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    worker = [0, 1, 0, 1, 0, 2, 0, 2, 1, 2, 1, 2]
    label = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    return Annotations(task, worker, label)


def test_means_of_zeros_do_not_turn_nan():
    model = MMSR().fit(zero_agreement_crowd())
    assert model.converged_ and np.isfinite(model.weight_).all()
    assert (model.weight_ == 0).all()  # every row of C sums to 0: no sign, chance accuracy
    with pytest.raises(CrowdlearnError, match="NaN"):  # crowd-kit's skills are NaN here
        MMSR(max_iter=20, crowdkit_compat=True).fit(zero_agreement_crowd())


# ----------------------------------------------------------------------------- vs crowd-kit
@pytest.mark.parametrize("crowd", CROWDS)
@pytest.mark.parametrize("dense_signs_max", [mmsr.DENSE_SIGNS_MAX, 0])
def test_compat_equals_crowdkit(crowd, dense_signs_max, monkeypatch):
    """Same skills (crowd-kit's log-odds ``skills_``) to 1e-6, labels, iterations and losses;
    ``dense_signs_max=0`` takes the ARPACK path of the sign step."""
    frame = random_frame(*crowd)
    theirs = crowdkit_mmsr()().fit(frame)
    their_labels = theirs.predict(frame)
    monkeypatch.setattr(mmsr, "DENSE_SIGNS_MAX", dense_signs_max)
    ours = MMSR(crowdkit_compat=True).fit(frame)
    np.testing.assert_allclose(ours.weight_, theirs.skills_.reindex(ours.workers_), atol=1e-6)
    assert (ours.predict() == their_labels.reindex(ours.tasks_).to_numpy()).all()
    assert ours.n_iter_ == len(theirs.loss_history_)
    np.testing.assert_allclose(ours.loss_history_, theirs.loss_history_, rtol=1e-6,
                               atol=1e-12)
    if crowd is CROWDS[1]:  # the sparse crowd: the default's sign step tells workers apart
        assert not np.allclose(MMSR().fit(frame).weight_, ours.weight_, atol=1e-6)


@pytest.mark.parametrize("crowd", CROWDS)
def test_default_runs_crowdkits_completion(crowd):
    """Steps 1–3 are crowd-kit's in the default mode too (no mean of zeros here), given the
    rows in (task, worker) order: crowd-kit hands its random start out in the order of the
    rows' first answers, the default in that order of the answers whatever the rows'."""
    frame = random_frame(*crowd).sort_values(["task", "worker"], ignore_index=True)
    theirs = crowdkit_mmsr()().fit(frame)
    np.testing.assert_allclose(MMSR().fit(frame).loss_history_, theirs.loss_history_,
                               rtol=1e-6, atol=1e-12)


def random_covariances(seed: int, n: int, k: int, observed_share: float):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1 / (k - 1), 1, size=(n, n))
    c = (c + c.T) / 2
    observed = rng.random((n, n)) < observed_share
    observed = observed | observed.T
    np.fill_diagonal(observed, False)
    return c, observed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dense_signs_max", [mmsr.DENSE_SIGNS_MAX, 0])
def test_signs_equal_crowdkits_eigenvector(seed, dense_signs_max, monkeypatch):
    """On crowd-kit's C (−1/(K−1) unobserved and on the diagonal) and on the default's
    (0 there): the same signed |s| as crowd-kit's ``_sign_determination_valid``."""
    reference = crowdkit_mmsr()._sign_determination_valid
    monkeypatch.setattr(mmsr, "DENSE_SIGNS_MAX", dense_signs_max)
    k = 2 + seed % 3
    c, observed = random_covariances(seed, n=12 + 7 * seed, k=k, observed_share=0.6)
    s_abs = np.random.default_rng(seed).random(len(c))
    for matrix in (np.where(observed, c, -1 / (k - 1)), np.where(observed, c, 0.0)):
        expected = reference(matrix, s_abs[:, None]).ravel()
        np.testing.assert_allclose(mmsr.determine_signs(matrix, s_abs), expected, atol=1e-12)


@pytest.mark.parametrize("f", [-1, 0, 1, 2, 4])
def test_trimmed_means_equal_crowdkits_trimming(f):
    """Every row against crowd-kit's ``_remove_largest_and_smallest_F_value`` and mean:
    ties with the current value, zeros, 0/0 (NaN) and x/0 (inf), a single kept 0, rows with
    no observed value."""
    trim = crowdkit_mmsr()._remove_largest_and_smallest_F_value
    rng = np.random.default_rng(f + 10)
    n, n_tasks = 40, 100
    x = rng.choice([0.0, 0.25, 0.5, 1.0, 2.0], size=(n, n)) * rng.choice([1.0, 1.0, 0.5], (n, n))
    divisor = rng.choice([0.0, 0.5, 1.0, 2.0], size=n, p=[0.05, 0.35, 0.3, 0.3])
    current = rng.choice([0.0, 0.25, 0.5, 1.0], size=n)
    observed = rng.random((n, n)) < np.linspace(0, 1, n)[:, None]  # row 0: none observed
    observed[1] = False
    observed[1, 3] = True  # a single value
    x[1, 3], divisor[3] = 0.0, 1.0  # a single kept 0
    n_observed = observed.sum(axis=1)
    ours = mmsr._trimmed_means(np.where(observed, x, np.nan), n_observed, divisor, current, f,
                               1 / np.sqrt(n_tasks), zero_means=True)
    expected, empty = np.empty(n), np.zeros(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(n):
            values = (x[j, observed[j]] / divisor[observed[j]])[:, None]
            kept = trim(values, f, current[j], n_tasks)
            empty[j] = len(kept) == 0
            expected[j] = current[j] if empty[j] else kept.mean()
    np.testing.assert_allclose(ours, expected, rtol=1e-12, equal_nan=True)
    default = mmsr._trimmed_means(np.where(observed, x, np.nan), n_observed, divisor, current,
                                  f, 1 / np.sqrt(n_tasks))
    zero = (expected == 0) & ~empty  # the default's one change: a mean of zeros → 1/√T
    np.testing.assert_allclose(default[~zero], expected[~zero], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(default[zero], 1 / np.sqrt(n_tasks))


def test_pair_counts_equal_sparse_products():
    """common = BᵀB and agree = Σ_k A_kᵀA_k (diagonal 0), repeated answers included."""
    rng = np.random.default_rng(5)
    n = 3000
    task = np.unique(rng.integers(0, 400, n), return_inverse=True)[1]  # every task answered
    ann = Annotations(task, rng.integers(0, 30, n), rng.integers(0, 3, n), keep="all")
    common, agree = mmsr.pair_counts(ann)

    def gram(keep):
        m = sp.csr_matrix((np.ones(keep.sum()), (ann.task[keep], ann.worker[keep])),
                          shape=(ann.n_tasks, ann.n_workers))
        g = (m.T @ m).toarray()
        np.fill_diagonal(g, 0)
        return g

    every = np.ones(len(ann), dtype=bool)
    np.testing.assert_array_equal(common, gram(every))
    np.testing.assert_array_equal(agree, sum(gram(ann.label == c) for c in range(3)))


# ----------------------------------------------------------------------------- real crowds
# crowd-kit 1.4.2 MMSR accuracy against gold (crowd-kit cannot finish product)
CROWDKIT_ACCURACY = {"bluebirds": 0.7130, "dog": 0.8278, "face": 0.6301, "rte": 0.8575,
                     "temp": 0.9242, "web": 0.6834, "labelme": 0.7670, "sentiment": 0.9008,
                     "music": 0.7429}


@pytest.mark.parametrize("name", list(CROWDKIT_ACCURACY))
def test_real_crowds_reach_crowdkit(name):
    ann, gold = real_crowd(name)
    assert accuracy(MMSR().fit(ann).predict(), gold) >= CROWDKIT_ACCURACY[name] - 0.005
    compat = accuracy(MMSR(crowdkit_compat=True).fit(ann).predict(), gold)
    assert compat == pytest.approx(CROWDKIT_ACCURACY[name], abs=6e-5)


def test_product_where_crowdkit_turns_nan():
    ann, gold = real_crowd("product")
    assert accuracy(MMSR().fit(ann).predict(), gold) > 0.92  # measured 0.9240



# ----------------------------------------------------------------------------- degenerate crowds
def consistent_crowd(n_honest: int, n_adversaries: int, n_tasks: int = 200, seed: int = 0,
                     groups: int = 1):
    """Every worker answers every task of its group: the honest ones always right, the
    adversaries always wrong (K = 2), so every covariance is exactly +1 or −1. With
    ``groups`` > 1, copies of that crowd on disjoint tasks and workers (no common tasks)."""
    y = np.random.default_rng(seed).integers(2, size=n_tasks * groups)
    size = n_honest + n_adversaries
    rows = [(t, (t // n_tasks) * size + w, y[t] if w < n_honest else 1 - y[t])
            for t in range(n_tasks * groups) for w in range(size)]
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), y


@pytest.mark.parametrize(("n_honest", "n_adversaries"), [(2, 1), (3, 2), (5, 4)])
def test_consistent_crowd_with_an_honest_majority_is_not_inverted(n_honest, n_adversaries):
    # (2, 1) raised an InputError about NaN weights and (3, 2) labelled every task wrong:
    # crowd-kit's rule signed only workers whose row of C does not sum to 0 (the honest
    # ones' +1s and −1s cancel), leaving the adversaries signed alone, as the majority
    frame, y = consistent_crowd(n_honest, n_adversaries)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clear result: no warning either
        model = MMSR().fit(frame)
    np.testing.assert_array_equal(model.predict().sort_index().to_numpy(), y)
    adversary = np.asarray(model.workers_) >= n_honest
    assert (model.skill_[~adversary] > 0.9).all() and (model.skill_[adversary] < 0.1).all()
    assert model.converged_


def test_groups_without_common_tasks_are_signed_separately():
    # three copies of a 3-honest/2-adversary crowd on disjoint tasks: one eigenvector of the
    # whole graph lives on one group only (the others' entries ~0), so each group gets its own
    frame, y = consistent_crowd(3, 2, n_tasks=60, groups=3)
    model = MMSR().fit(frame)
    np.testing.assert_array_equal(model.predict().sort_index().to_numpy(), y)
    assert ((model.weight_ > 0) == (np.asarray(model.workers_) % 5 < 3)).all()


def test_an_even_split_is_left_at_chance_with_a_warning():
    # 2 honest against 2 always-wrong workers: the answers are symmetric in the truth, so
    # no method can tell which pair is honest
    frame, _ = consistent_crowd(2, 2, n_tasks=50)
    with pytest.warns(CrowdlearnWarning, match="4 of 4 workers .* cannot be told"):
        model = MMSR().fit(frame)
    assert (model.weight_ == 0).all() and np.isfinite(model.posteriors_).all()


def test_a_worker_without_co_workers_is_named_and_changes_nothing_else():
    frame = random_frame(*CROWDS[1])
    # tasks sorting before the others': the random start goes to the workers who share a
    # task, in order of first answer by (task, worker), so the loner moves nobody's start
    alone = pd.DataFrame({"task": ["asolo1", "asolo2"], "worker": "loner", "label": [0, 1]})
    base = MMSR().fit(frame)
    with pytest.warns(CrowdlearnWarning, match="1 of 26 workers \\('loner'\\) share no task"):
        model = MMSR().fit(pd.concat([frame, alone], ignore_index=True))
    # crowd-kit's F counts the loner's 0 co-workers (F = −1: no trimming for anyone)
    assert model.loss_history_ == base.loss_history_
    skill = dict(zip(model.workers_, model.skill_, strict=True))
    assert skill["loner"] == 1 / 3 and model.weight_[model.workers_.index("loner")] == 0
    # the same skills but where the clip of s to [−1/2 + 1/√T, 1 − 1/√T] (K = 3; T = 100
    # without the loner's two tasks, 102 with them) cuts them
    ours = np.array([skill[w] for w in base.workers_])
    s = (base.skill_ - 1 / 3) * 3 / 2
    inside = (s > -1 / 2 + 0.1) & (s < 1 - 0.1)
    assert inside.sum() >= 10
    np.testing.assert_allclose(ours[inside], base.skill_[inside], rtol=1e-12)


def tiny_crowd(seed: int) -> pd.DataFrame:
    """2–5 tasks, 2–4 workers, K of 2–3, random labels; every task answered at least once."""
    rng = np.random.default_rng(seed)
    n_tasks, n_workers, k = rng.integers(2, 6), rng.integers(2, 5), rng.integers(2, 4)
    answered = rng.random((n_tasks, n_workers)) < 0.7
    answered[np.arange(n_tasks), rng.integers(0, n_workers, n_tasks)] = True
    task, worker = np.nonzero(answered)
    return pd.DataFrame({"task": task, "worker": worker,
                         "label": rng.integers(0, k, len(task))})


def test_tiny_crowds_never_fail_or_turn_nan():
    # before: 10 of these 120 raised (an InputError blaming the answers for NaN weights, or
    # LinAlgError) and the completion's estimates overflowed on others
    for seed in range(120):
        frame = tiny_crowd(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CrowdlearnWarning)
            warnings.simplefilter("error", RuntimeWarning)  # no overflow, no 0/0
            try:
                model = MMSR(max_iter=200).fit(frame)  # diverging: ~165
            except InputError:
                continue
        assert np.isfinite(model.skill_).all() and np.isfinite(model.weight_).all(), seed
        assert np.isfinite(model.posteriors_).all(), seed
        assert ((model.skill_ >= 0) & (model.skill_ <= 1)).all(), seed


def test_a_diverging_completion_stops_with_a_warning():
    # three workers, one pair at exactly chance agreement (C = 0): the trimmed means double
    # one estimate every iteration
    frame = pd.DataFrame({"task": [0, 0, 0, 1, 2, 2, 3, 3, 3],
                          "worker": [0, 1, 2, 2, 0, 2, 0, 1, 2],
                          "label": [1, 1, 0, 1, 0, 1, 1, 0, 1]})
    with pytest.warns(CrowdlearnWarning, match="diverged"):
        model = MMSR().fit(frame)
    assert not model.converged_ and model.n_iter_ < 1000 and model.loss_history_[-1] == np.inf
    assert np.isfinite(model.weight_).all() and np.isfinite(model.posteriors_).all()


def test_signs_per_group_equal_the_signs_of_each_group_alone():
    """Block-diagonal C: each block gets :func:`determine_signs`'s signs on that block alone."""
    blocks = [np.where(observed, c, 0.0) for c, observed in (
        random_covariances(seed, n=9 + 2 * seed, k=2, observed_share=0.7) for seed in range(3))]
    s_abs = np.random.default_rng(7).random(sum(len(b) for b in blocks))
    ours, undecided = mmsr.resolve_signs(sp.block_diag(blocks).toarray(), s_abs)
    assert not undecided.any()
    start = 0
    for block in blocks:
        part = slice(start, start + len(block))
        np.testing.assert_array_equal(ours[part], mmsr.determine_signs(block, s_abs[part]))
        start += len(block)


# ----------------------------------------------------------------------------- stalled completion
def stalling_crowd() -> pd.DataFrame:
    """Four workers, K = 2, F = 0: workers 1 and 2 each agree with worker 0 on every common
    task but with each other on one of two (C_12 = 0), so no positive rank-one u vᵀ fits
    (s0 s1 = s0 s2 = 1, s1 s2 = 0): the estimates drift as √t, neither converging nor
    diverging (10,000 iterations, seconds, before the patience rule)."""
    return pd.DataFrame({"task": [0, 0, 0, 1, 2, 2, 2, 3, 3],
                         "worker": [0, 1, 2, 0, 0, 2, 3, 1, 2],
                         "label": [1, 1, 1, 1, 0, 0, 0, 0, 1]})


def test_a_stalled_completion_stops_with_a_warning():
    with pytest.warns(CrowdlearnWarning, match="stopped at iteration 201: its change has not "
                      "halved in patience=200 iterations"):
        model = MMSR().fit(stalling_crowd())
    assert not model.converged_ and np.isfinite(model.loss_history_).all()
    assert np.isfinite(model.weight_).all() and np.isfinite(model.posteriors_).all()
    # without the rule it runs to max_iter: the change never falls, the estimates drift
    with pytest.warns(CrowdlearnWarning, match="stopped at max_iter=1000"):
        free = MMSR(max_iter=1000, patience=1000).fit(stalling_crowd())
    assert free.n_iter_ == 1000 and min(free.loss_history_[100:]) > 1.9  # → 2, not 0
    assert free.loss_history_[:201] == model.loss_history_
    # crowd-kit has no such rule: the compatible mode runs to max_iter too
    assert MMSR(max_iter=300, crowdkit_compat=True).fit(stalling_crowd()).n_iter_ == 300


@pytest.mark.parametrize("crowd", CROWDS)
def test_patience_leaves_converging_fits_alone(crowd):
    frame = random_frame(*crowd)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrowdlearnWarning)
        ours = MMSR(patience=5).fit(frame)  # the longest wait for a halving seen: 6
    free = MMSR(patience=10000).fit(frame)
    assert ours.converged_ and ours.loss_history_ == free.loss_history_
    np.testing.assert_array_equal(ours.weight_, free.weight_)


def test_packed_rows_complete_as_the_full_matrix():
    """The completion on each row's observed values only (W × m) equals, bit for bit, the
    same iterations on the full W × W matrix (unobserved NaN)."""
    c, observed = random_covariances(3, n=60, k=3, observed_share=0.1)
    x, n_observed = np.abs(c), observed.sum(axis=1)
    assert n_observed.max() < 25  # sparse: the packed rows are much shorter than 60
    u = v = np.random.default_rng(0).random(60)
    f = int(n_observed.min()) // 2 - 1
    u_p, v_p, history = mmsr.complete_rank_one(x, observed, n_observed, f, u, v, 0.1, 40,
                                               0.0)
    full = np.where(observed, x, np.nan)
    u_f, v_f = u, v
    for _ in range(40):
        v_f = mmsr._trimmed_means(full, n_observed, u_f, v_f, f, 0.1)
        u_f = mmsr._trimmed_means(full, n_observed, v_f, u_f, f, 0.1)
    assert len(history) == 40
    np.testing.assert_array_equal(u_p, u_f)
    np.testing.assert_array_equal(v_p, v_f)


def test_no_two_workers_sharing_a_task():
    # every task answered once: no covariance at all (this raised an IndexError)
    with pytest.warns(CrowdlearnWarning, match="3 of 3 workers .* share no task"):
        model = MMSR().fit(Annotations([0, 1, 2], [0, 1, 2], [0, 1, 0]))
    assert (model.weight_ == 0).all() and model.n_iter_ == 0 and model.converged_
