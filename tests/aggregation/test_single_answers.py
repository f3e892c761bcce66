"""Tasks whose answers no estimated quality can weigh (one answer each, a single worker,
workers sharing no task) follow their answers in MMSR, KOS and MACE; MMSR refuses up front a
crowd too large for its dense worker × worker matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.aggregation import KOS, MACE, MMSR
from crowdlearn.aggregation import mmsr as mmsr_module

pytestmark = pytest.mark.filterwarnings("ignore::crowdlearn.errors.CrowdlearnWarning")


def single_answers(k: int, n_tasks: int = 120, n_workers: int = 7, seed: int = 0):
    """Every task answered once, the workers in turn, labels uniform over k classes."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"task": np.arange(n_tasks), "worker": np.arange(n_tasks) % n_workers,
                         "label": rng.integers(0, k, n_tasks)})


def labelled_with_answer(model, frame: pd.DataFrame) -> np.ndarray:
    given = frame.set_index("task")["label"]
    return (model.predict().loc[given.index].to_numpy() == given.to_numpy())


@pytest.mark.parametrize("k", [2, 3, 50])
def test_mmsr_single_answers_follow_the_answer_at_uniform_posterior(k):
    frame = single_answers(k)
    model = MMSR().fit(frame)
    assert labelled_with_answer(model, frame).all()
    assert np.allclose(model.weight_, 0.0)  # nobody shares a task: no weight, no confidence
    assert np.allclose(model.posteriors_, 1.0 / model.posteriors_.shape[1])


def test_mmsr_one_worker_follows_its_answers():
    frame = pd.DataFrame({"task": range(10), "worker": "w", "label": [t % 2 for t in range(10)]})
    assert labelled_with_answer(MMSR().fit(frame), frame).all()


def test_mmsr_unlinked_workers_tasks_follow_their_answers_while_weighted_ones_are_kept():
    # a, b, c share tasks 0–29 (c answers against a and b); "solo" alone answers 100–104
    rows = [(t, w, t % 2) for t in range(30) for w in ("a", "b")]
    rows += [(t, "c", 1 - t % 2) for t in range(30)]
    rows += [(t, "solo", 1) for t in range(100, 105)]
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    model = MMSR().fit(frame)
    labels = model.predict()
    assert (labels.loc[range(30)].to_numpy() == np.arange(30) % 2).all()
    assert (labels.loc[range(100, 105)] == 1).all()
    assert np.allclose(model.predict_proba().loc[100], 0.5)  # no weight behind the label


def test_mmsr_weighted_tie_goes_to_the_most_answered_class():
    scores = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.5], [0.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    counts = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    assert mmsr_module._weighted_labels(scores, counts).tolist() == [1, 1, 1, 0]


def test_mmsr_refuses_a_crowd_too_large_before_any_work(monkeypatch):
    monkeypatch.setattr(mmsr_module, "_memory_limit", lambda: 80 * 50**2)  # 50 workers at most
    frame = pd.DataFrame({"task": np.arange(60) // 2, "worker": np.arange(60),
                          "label": np.arange(60) % 2})
    with pytest.raises(InputError, match=r"60 workers would need about .* GiB"):
        MMSR().fit(frame)
    MMSR().fit(frame.iloc[:50])  # 50 workers fit


def test_mmsr_refuses_a_million_workers_at_the_default_limit():
    frame = pd.DataFrame({"task": np.arange(10**6) // 2, "worker": np.arange(10**6),
                          "label": np.arange(10**6) % 2})
    with pytest.raises(InputError, match=r"1,000,000 workers would need about 74,505.8 GiB"):
        MMSR().fit(frame)


def test_kos_single_answers_and_one_worker_follow_the_answers():
    frame = single_answers(2, n_tasks=200)
    model = KOS().fit(frame)
    assert labelled_with_answer(model, frame).all()
    assert np.allclose(model.posteriors_, 0.5)  # a zero score: no weight behind the label
    one = pd.DataFrame({"task": range(10), "worker": "w", "label": [t % 2 for t in range(10)]})
    assert labelled_with_answer(KOS().fit(one), one).all()


def test_kos_zero_score_task_takes_its_answer_not_the_first_class():
    # q and r share tasks 1–4; p alone answers task 0, with the second class
    rows = [(0, "p", "yes")] + [(t, w, "no" if t % 2 else "yes") for t in range(1, 5)
                                for w in ("q", "r")]
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    model = KOS().fit(frame)
    labels = model.predict()
    assert model.score_[list(model.tasks_).index(0)] == 0
    assert labels.loc[0] == "yes"
    assert (labels.loc[[1, 3]] == "no").all() and (labels.loc[[2, 4]] == "yes").all()


@pytest.mark.parametrize("method", ["vb", "em"])
@pytest.mark.parametrize("k", [2, 3, 50])
def test_mace_without_two_answers_on_a_task_keeps_the_prior_mean_worker(method, k):
    frame = single_answers(k)
    model = MACE(method=method, n_threads=1).fit(frame)
    assert labelled_with_answer(model, frame).all()
    theta = 0.5
    kk = model.posteriors_.shape[1]
    assert np.allclose(model.posteriors_.max(axis=1), theta + (1 - theta) / kk)
    assert np.allclose(model.posteriors_.sum(axis=1), 1.0)
    assert np.allclose(model.competence_, theta) and model.n_iter_ == 0
    assert np.allclose(model.strategy_, 1.0 / kk)


def test_mace_competence_follows_the_beta_prior_without_pairs():
    frame = single_answers(2)
    model = MACE(alpha=1.0, beta=3.0, n_threads=1).fit(frame)
    assert np.allclose(model.competence_, 0.75)
    assert np.allclose(model.posteriors_.max(axis=1), 0.75 + 0.25 / 2)


def test_mace_still_fits_when_one_task_has_two_answers():
    frame = single_answers(2)
    frame = pd.concat([frame, pd.DataFrame({"task": [0], "worker": [1], "label": [0]})])
    assert MACE(n_threads=1).fit(frame).n_iter_ > 0


def crowd_with_lone_workers(seed: int = 0):
    """100 tasks answered by 3 of 10 workers (80 % right), and 40 tasks each answered by one
    of 4 workers who answer nothing else; returns the frame and the lone workers' answers."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 100)
    rows = [(t, f"w{w}", int(truth[t]) if rng.random() < 0.8 else 1 - int(truth[t]))
            for t in range(100) for w in rng.choice(10, 3, replace=False)]
    lone = rng.integers(0, 2, 40)
    rows += [(1000 + i, f"solo{i % 4}", int(lone[i])) for i in range(40)]
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), lone


@pytest.mark.parametrize("method", ["vb", "em"])
def test_mace_lone_workers_keep_the_prior_and_their_tasks_follow_them(method):
    frame, lone = crowd_with_lone_workers()
    model = MACE(method=method, n_threads=1).fit(frame)
    assert (model.predict().loc[1000:].to_numpy() == lone).all()
    quality = pd.Series(model.competence_, index=model.workers_)
    prior = 0.5
    assert np.allclose(quality[[f"solo{i}" for i in range(4)]], prior)
    assert not np.allclose(quality[[f"w{i}" for i in range(10)]], prior)


def test_lone_workers_share_no_task():
    from crowdlearn import Annotations

    frame = pd.DataFrame({"task": [0, 0, 1, 2, 2], "worker": ["a", "b", "c", "c", "c"],
                          "label": [0, 1, 0, 1, 1]})
    ann = Annotations.from_frame(frame, keep="all")
    alone = dict(zip(ann.workers, ann.lone_workers, strict=True))
    assert alone == {"a": False, "b": False, "c": True}


def test_mmsr_memory_limit_grows_with_the_machine(monkeypatch):
    monkeypatch.setattr(mmsr_module.os, "sysconf", lambda name: {
        "SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 128 * 2**30 // 4096}[name])
    assert mmsr_module._memory_limit() == pytest.approx(0.8 * 128 * 2**30)
    monkeypatch.setattr(mmsr_module.os, "sysconf", lambda name: {
        "SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 2**30 // 4096}[name])
    assert mmsr_module._memory_limit() == mmsr_module.MEMORY_LIMIT
