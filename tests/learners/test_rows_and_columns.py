"""Rows of X matched to tasks by a DataFrame's index, feature columns matched by name at
predict (scikit-learn's ``feature_names_in_``), and array hyper-parameters saved."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import Annotations, InputError
from crowdlearn import load as load_learner
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.learners import MBEM, MaxMIG, StandardCE
from crowdlearn.learners.base import align_items, rows_in_task_order


@pytest.fixture(scope="module")
def items():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    rows = []
    for i in range(60):
        for w in range(3):
            label = y[i] if rng.random() < 0.8 else 1 - y[i]
            rows.append((f"item{i}", f"w{w}", label))
    return X, y, Annotations.from_frame(pd.DataFrame(rows, columns=["task", "worker", "label"]))


def test_dataframe_rows_follow_the_index(items):
    X, _, ann = items
    assert list(ann.tasks[:3]) == ["item0", "item1", "item10"]  # sorted as text
    frame = pd.DataFrame(X, index=[f"item{i}" for i in range(60)])
    order = [int(t[4:]) for t in ann.tasks]
    np.testing.assert_array_equal(align_items(frame, ann), X[order])
    shuffled = frame.sample(frac=1.0, random_state=1)
    np.testing.assert_array_equal(align_items(shuffled, ann), X[order])
    extra = pd.concat([frame, pd.DataFrame(np.ones((2, 4)), index=["other1", "other2"])])
    np.testing.assert_array_equal(align_items(extra, ann), X[order])  # rows of no task: unused
    with pytest.raises(InputError, match="X has no row for 2 of the 60 annotated tasks: "
                                         "'item5', 'item7'"):
        align_items(frame.drop(["item5", "item7"]), ann)
    with pytest.raises(InputError, match="repeats the id 'item3'"):
        align_items(pd.concat([frame, frame.loc[["item3"]]]), ann)
    # the default index 0..n-1 names no task: positional, as an array, and said so
    with pytest.warns(CrowdlearnWarning, match=r"X has no task ids: its row i is taken for "
                                               r"annotations.tasks\[i\] .'item0', 'item1', "
                                               "'item10'"):
        np.testing.assert_array_equal(align_items(frame.reset_index(drop=True), ann), X)
    with rows_in_task_order():  # a caller that matched the rows by id: nothing to say
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            align_items(X, ann)


def by_id(X: np.ndarray, ann: Annotations) -> pd.DataFrame:
    """X's rows as ``ann.tasks`` orders them, indexed by those ids."""
    return pd.DataFrame(X, index=list(ann.tasks))


def numbered(ann: Annotations) -> Annotations:
    """The same answers with integer task ids (item7 -> 7)."""
    return Annotations.from_frame(pd.DataFrame(
        {"task": np.array([int(t[4:]) for t in ann.tasks])[ann.task],
         "worker": np.asarray(ann.workers)[ann.worker], "label": ann.label}))


def test_integer_ids_match_text_index(items):
    X, _, ann = items
    frame = pd.DataFrame(X[::-1], index=[str(i) for i in range(59, -1, -1)])  # id i: X[i]
    np.testing.assert_array_equal(align_items(frame, numbered(ann)), X)


def test_mbem_on_a_dataframe_equals_mbem_on_aligned_rows(items):
    X, _, ann = items
    frame = pd.DataFrame(X, index=[f"item{i}" for i in range(60)]).sample(frac=1.0,
                                                                          random_state=2)
    order = [int(t[4:]) for t in ann.tasks]
    kw = dict(epochs=2, n_threads=1, device="cpu", seed=0)
    a = MBEM(**kw).fit(frame, ann).predict_proba(X)
    with rows_in_task_order():  # X[order] is in ann.tasks order
        b = MBEM(**kw).fit(X[order], ann).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_standardize_uses_the_training_rows_only(items):
    X, _, ann = items
    padded = np.vstack([X, np.full((40, 4), 100.0, np.float32)])  # rows of no task
    model = MBEM(epochs=1, n_threads=1, device="cpu", standardize=True).fit(padded,
                                                                             numbered(ann))
    np.testing.assert_allclose(model.feature_mean_, X.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_feature_names_at_predict(items, tmp_path):
    X, y, _ = items
    cols = ["a", "b", "c", "d"]
    train = pd.DataFrame(X, columns=cols)
    model = StandardCE(epochs=2, n_threads=1, device="cpu", val_fraction=0.0).fit(train, y)
    assert list(model.feature_names_in_) == cols
    expected = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict_proba(train[cols[::-1]]), expected)
    with pytest.raises(InputError, match="lacks 1 feature column.*'c'"):
        model.predict(train[["a", "b", "d"]])
    with pytest.raises(InputError, match="not fit on: 'e'"):
        model.predict(train.assign(e=1.0))
    model.save(tmp_path / "m")
    loaded = load_learner(tmp_path / "m")
    assert list(loaded.feature_names_in_) == cols
    np.testing.assert_array_equal(loaded.predict_proba(train[cols[::-1]]), expected)
    # an array or unnamed columns: no names recorded
    plain = StandardCE(epochs=1, n_threads=1, device="cpu", val_fraction=0.0).fit(X, y)
    assert not hasattr(plain, "feature_names_in_")


def test_maxmig_with_an_array_prior_saves_and_loads(items, tmp_path):
    X, _, ann = items
    prior = np.array([0.3, 0.7])
    model = MaxMIG(epochs=2, n_threads=1, device="cpu", prior=prior,
                   batch_size=16).fit(by_id(X, ann), ann)
    model.save(tmp_path / "m")
    loaded = load_learner(tmp_path / "m")
    assert loaded.prior == [0.3, 0.7]
    np.testing.assert_array_equal(loaded.predict_proba(X, ann), model.predict_proba(X, ann))


def test_an_unsavable_hyper_parameter_is_named_in_one_line(items, tmp_path):
    X, _, ann = items
    model = MaxMIG(epochs=1, n_threads=1, device="cpu", batch_size=16,
                   prior=pd.Series([0.3, 0.7], index=["a", "b"])).fit(by_id(X, ann), ann)
    with pytest.raises(InputError, match="a hyper-parameter of type Series") as caught:
        model.save(tmp_path / "m")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------- the kind of the numbers
def _pixels():
    rng = np.random.default_rng(1)
    y = np.arange(90) % 3
    X = np.clip(rng.normal(128, 20, (90, 5)) + 40 * np.eye(5)[y], 0, 255).astype(np.uint8)
    return X, y


@pytest.mark.parametrize("trained_on", ["uint8", "float32"])
def test_predictions_do_not_depend_on_the_numbers_type(trained_on, tmp_path):
    # a model of 8-bit pixels (scaled by 1/255 in the network) fed a float copy of the same
    # pixels (a CSV, a float .npy) saw values 255 times too large, and the reverse too
    X, y = _pixels()
    model = StandardCE(epochs=30, val_fraction=0.0, n_threads=1, device="cpu", seed=0)
    model.fit(X.astype(trained_on), y)
    expected = model.predict_proba(X.astype(trained_on))
    for kind in ("uint8", "float32", "float64", "int16"):
        np.testing.assert_allclose(model.predict_proba(X.astype(kind)), expected, atol=1e-6)
    model.save(tmp_path / "m")
    loaded = load_learner(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(X.astype(np.float64)), expected, atol=1e-6)
    if trained_on == "uint8":
        with pytest.raises(InputError, match="trained on 8-bit pixel values"):
            model.predict_proba(X / 255.0)


def test_standardising_keeps_features_with_a_large_offset_apart():
    # cast to float32 first, 1e8 + 0.1 noise kept 7 digits: two values a column
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    X = 1e8 + 2.0 * np.eye(3)[y] + rng.normal(0, 0.1, (90, 3))
    model = StandardCE(epochs=60, val_fraction=0.0, n_threads=1, device="cpu", seed=0,
                       standardize=True).fit(X, y)
    assert model.feature_mean_.dtype == np.float64
    assert (model.predict(X) == y).mean() > 0.95
    assert (model.predict(X[:1]) == y[:1]).all()  # one row: no spread of its own
