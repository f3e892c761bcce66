"""``DawidSkene.fit(initial_error=...)`` reads crowd-kit's ``errors_`` layout as crowd-kit
documents it (rows (worker, answered label), columns the true label) as well as ours
(``confusions()``: rows (worker, true label), columns the answered label), told apart by the
index level names; a frame that names neither is refused rather than guessed."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.aggregation import DawidSkene
from crowdlearn.errors import CrowdlearnWarning

CLASSES = ["neg", "neu", "pos"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _crowd(n_tasks=90, seed=0):
    """Two honest workers and four who answer the next class ((true + 1) mod 3) 85% of the
    time: a confusion far from its transpose. Returns the answers, the truth and the known
    confusions ``C[worker, true, answered]``."""
    rng = np.random.default_rng(seed)
    k, workers = len(CLASSES), [f"w{i}" for i in range(6)]
    C = np.empty((len(workers), k, k))
    for w in range(len(workers)):
        shift = 0 if w < 2 else 1
        C[w] = 0.15 / (k - 1)
        C[w, np.arange(k), (np.arange(k) + shift) % k] = 0.85
    y = rng.integers(0, k, n_tasks)
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(len(workers), 3, replace=False):
            rows.append((f"t{t}", workers[w], CLASSES[rng.choice(k, p=C[w, y[t]])]))
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), y, workers, C


def _crowd_kit_frame(C, workers):
    """``C`` laid out as crowd-kit's ``errors_``: index (worker, label) with ``label`` the
    observed answer, one column per true label, ``frame.loc[(w, observed), true]``."""
    index = pd.MultiIndex.from_product([workers, CLASSES], names=["worker", "label"])
    values = C.transpose(0, 2, 1).reshape(-1, len(CLASSES))  # [worker·answered, true]
    return pd.DataFrame(values, index=index, columns=CLASSES)


@pytest.mark.parametrize("strategy", ["assign", "addition"])
def test_crowd_kit_errors_frame_is_read_as_crowd_kit_documents_it(strategy):
    df, y, workers, C = _crowd()
    frame = _crowd_kit_frame(C, workers) * (1 if strategy == "assign" else 30)
    from_frame = DawidSkene(initial_error_strategy=strategy, max_iter=1).fit(
        df, initial_error=frame)
    from_array = DawidSkene(initial_error_strategy=strategy, max_iter=1).fit(
        df, initial_error=C * (1 if strategy == "assign" else 30))
    np.testing.assert_allclose(from_frame.posteriors_, from_array.posteriors_, atol=1e-12)
    np.testing.assert_allclose(from_frame.confusion_, from_array.confusion_, atol=1e-12)
    # read the other way round (rows as true labels) the shifted workers would look like
    # answering the previous class, and the start would differ
    mislabelled = frame.rename_axis(["worker", "true_label"])
    transposed = DawidSkene(initial_error_strategy=strategy, max_iter=1).fit(
        df, initial_error=mislabelled)
    assert np.abs(transposed.posteriors_ - from_frame.posteriors_).max() > 0.5


def test_assigned_crowd_kit_errors_give_crowd_kit_e_step():
    """With ``assign`` crowd-kit's first E-step is p(k | answers) ∝ prior_k ·
    Π errors_.loc[(w, answer), k]; so is ours, and it recovers the truth."""
    df, y, workers, C = _crowd()
    frame = _crowd_kit_frame(C, workers)
    ds = DawidSkene(initial_error_strategy="assign", max_iter=1).fit(df, initial_error=frame)
    log_p = np.tile(np.log(ds.class_prior_), (len(ds.tasks_), 1))
    task = pd.Index(ds.tasks_).get_indexer(df["task"])
    cell = frame.loc[list(zip(df["worker"], df["label"], strict=True)), CLASSES].to_numpy()
    np.add.at(log_p, task, np.log(cell))
    expected = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ds.posteriors_, expected, atol=1e-9)
    truth = pd.Series(np.array(CLASSES)[y], index=[f"t{t}" for t in range(len(y))])
    assert (ds.predict() == truth.reindex(ds.tasks_)).mean() > 0.9


def test_confusions_frame_round_trips_and_unnamed_levels_are_refused():
    df, _, workers, C = _crowd()
    fitted = DawidSkene().fit(df)
    ours = DawidSkene(initial_error_strategy="assign", max_iter=1).fit(
        df, initial_error=fitted.confusions())
    array = DawidSkene(initial_error_strategy="assign", max_iter=1).fit(
        df, initial_error=fitted.confusion_)
    np.testing.assert_allclose(ours.posteriors_, array.posteriors_, atol=1e-12)
    unnamed = _crowd_kit_frame(C, workers).rename_axis([None, None])
    with pytest.raises(InputError, match=r"index levels are \[None, None\]; name them "
                                         r"\['worker', 'true_label'\]"):
        DawidSkene().fit(df, initial_error=unnamed)
    with pytest.raises(InputError, match="names label 'maybe', not one of the classes"):
        DawidSkene().fit(df, initial_error=_crowd_kit_frame(C, workers).rename(
            index={"neu": "maybe"}))


def test_an_initial_error_that_cannot_be_read_or_matches_no_worker_is_said():
    df, _, workers, C = _crowd()
    confusions = DawidSkene().fit(df).confusions()
    with pytest.raises(InputError, match=r"initial_error names worker '\w+', true label "
                                         r"'\w+' twice"):
        DawidSkene().fit(df, initial_error=pd.concat([confusions, confusions.iloc[:1]]))
    with pytest.raises(InputError, match="initial_error must hold numbers: could not convert"):
        DawidSkene().fit(df, initial_error="abc")
    with pytest.raises(InputError, match="initial_error must hold numbers"):
        DawidSkene().fit(df, initial_error=confusions.astype(object).where(confusions > 0.5,
                                                                           "x"))
    strangers = confusions.rename(index=lambda w: f"other-{w}", level=0)
    with pytest.warns(CrowdlearnWarning, match="initial_error names none of the answers' "
                                               "workers .'other-"):
        started = DawidSkene().fit(df, initial_error=strangers * 100)
    np.testing.assert_allclose(started.posteriors_, DawidSkene().fit(df).posteriors_)
