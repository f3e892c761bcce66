"""Ids decide which row a label or an answer belongs to when both sides carry them: a label
Series is matched to a DataFrame X by index, and Max-MIG's forecaster finds each task's row
of a DataFrame X by id, as fit does."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.learners import CoTeaching, MaxMIG, MeMomentum, StandardCE, TwoEM
from crowdlearn.learners.base import align_labels
from crowdlearn.learners.label_issues import find_label_issues
from crowdlearn.simulate import assign, hammer_spammer

FAST = dict(n_threads=1, device="cpu", seed=3)


@pytest.fixture(scope="module")
def labelled():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=80) > 0, "yes", "no")
    ids = [f"item{i}" for i in rng.permutation(80)]
    return pd.DataFrame(X, index=ids, columns=list("abcde")), pd.Series(y, index=ids)


@pytest.mark.parametrize("make", [
    lambda: StandardCE(epochs=2, batch_size=16, **FAST),
    lambda: CoTeaching(epochs=2, forget_rate=0.2, ramp_epochs=1, batch_size=16, **FAST),
    lambda: MeMomentum(epochs=2, n_outer=1, n_inner=1, batch_size=16, **FAST),
    lambda: TwoEM(epochs=2, warmup_epochs=1, cr_ramp=1, noise_rate=0.2, batch_size=16,
                  **FAST),
], ids=["ce", "coteaching", "me-momentum", "two-em"])
def test_a_shuffled_label_series_is_matched_by_index(labelled, make):
    X, y = labelled
    shuffled = y.sample(frac=1, random_state=1)
    assert not np.array_equal(shuffled.to_numpy(), y.to_numpy())
    aligned = make().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(make().fit(X, shuffled).predict_proba(X), aligned)
    # by position (an array) the shuffled labels are other labels: another model
    assert not np.array_equal(make().fit(X, shuffled.to_numpy()).predict_proba(X), aligned)


def test_ids_are_matched_as_the_library_matches_them(labelled):
    X, y = labelled
    numbered = X.set_axis(range(100, 180))
    by_text = pd.Series(y.to_numpy(), index=[str(i) for i in range(100, 180)])[::-1]
    np.testing.assert_array_equal(align_labels(numbered, by_text).to_numpy(), y.to_numpy())
    arrays = [(X.to_numpy(), y[::-1]), (X, y[::-1].to_numpy()), (X, list(y[::-1]))]
    for X_, y_ in arrays:  # not both pandas: by position, as given
        assert align_labels(X_, y_) is y_


def test_different_ids_are_refused(labelled):
    X, y = labelled
    renamed = y.set_axis([f"other{i}" for i in range(len(y))])
    with pytest.raises(InputError, match=r"X's index and y's index hold different ids: 80 "
                                         r"row\(s\) of X have no label in y \('item.*', …\) "
                                         r"and 80 label\(s\) of y have no row in X "
                                         r"\('other0', 'other1', 'other2', …\); give y with "
                                         r"the ids of X's index, or y.to_numpy\(\)"):
        StandardCE(epochs=1, **FAST).fit(X, renamed)
    with pytest.raises(InputError, match=r"1 label\(s\) of y have no row in X \('extra'\)"):
        StandardCE(epochs=1, **FAST).fit(X, pd.concat([y, pd.Series(["no"], ["extra"])]))
    with pytest.raises(InputError, match=r"y's index repeats the id 'item"):
        StandardCE(epochs=1, **FAST).fit(X, y.set_axis([y.index[0]] * 2 + list(y.index[2:])))
    with pytest.raises(InputError, match="and y_noisy's index hold different ids"):
        find_label_issues(X, renamed, epochs=1, **FAST)


def test_find_label_issues_and_y_clean_are_matched_by_index(labelled):
    X, y = labelled
    shuffled = y.sample(frac=1, random_state=1)
    settings = dict(epochs=2, warmup_epochs=1, cr_ramp=1, batch_size=16, **FAST)
    table = find_label_issues(X, y, "two-em", noise_rate=0.2, **settings)
    pd.testing.assert_frame_equal(find_label_issues(X, shuffled, "two-em", noise_rate=0.2,
                                                    **settings),
                                  table)
    # the true labels given for diagnostics are matched alike
    truth = y.where(np.arange(len(y)) >= 10, y.map({"yes": "no", "no": "yes"}))
    aligned = TwoEM(noise_rate=0.2, **settings).fit(X, y, y_clean=truth).history_
    mixed = TwoEM(noise_rate=0.2, **settings).fit(
        X, shuffled, y_clean=truth.sample(frac=1, random_state=5)).history_
    assert np.isfinite(aligned[-1]["clean_auroc"])
    pd.testing.assert_frame_equal(pd.DataFrame(mixed).drop(columns="seconds"),
                                  pd.DataFrame(aligned).drop(columns="seconds"))


@pytest.fixture(scope="module")
def crowd():
    rng = np.random.default_rng(1)
    n = 120
    truth = rng.integers(0, 3, n)
    X = (rng.normal(size=(n, 4)) + np.eye(3, 4)[truth] * 2).astype(np.float32)
    ids = [f"t{i:03d}" for i in range(n)]
    ann = hammer_spammer(8, 3, 0.5, seed=1).annotate(truth, assign(n, 8, 3, seed=1), seed=1,
                                                     tasks=ids)
    return pd.DataFrame(X, index=ids), ann


def test_maxmig_forecaster_finds_rows_by_id(crowd):
    X, ann = crowd
    mig = MaxMIG(epochs=2, batch_size=32, **FAST).fit(X, ann)
    some = ann.subset(list(ann.tasks[:40]))
    in_order = mig.predict_proba(X, some)  # X's rows are in task order here
    np.testing.assert_allclose(mig.predict_proba(X.to_numpy()[:40], some), in_order[:40],
                               rtol=1e-6)
    assert not np.allclose(in_order[:40], mig.predict_proba(X)[:40])
    order = np.random.default_rng(2).permutation(len(X))
    shuffled = mig.predict_proba(X.iloc[order], some)
    np.testing.assert_allclose(shuffled, in_order[order], rtol=1e-6)
    # an array is still matched by position: reversed rows get the wrong answers
    flipped = X.to_numpy()[:40][::-1]
    assert not np.allclose(mig.predict_proba(flipped, some), in_order[:40][::-1])
    with pytest.raises(InputError, match=r"X has no row for 40 of the 40 annotated tasks"):
        mig.predict_proba(X.iloc[40:], some)
    with pytest.raises(InputError, match="expected crowdlearn.Annotations"):
        mig.predict_proba(X, some.to_frame())


def test_a_frame_with_the_default_index_is_matched_by_position_as_in_scikit_learn():
    from crowdlearn.learners.base import align_labels

    X = pd.DataFrame(np.arange(8.0).reshape(4, 2))  # e.g. scaler.fit_transform(df) wrapped
    y = pd.Series(["a", "b", "c", "d"], index=[2, 0, 3, 1])  # df's shuffled index
    assert align_labels(X, y) is y  # by position: no reordering by the unrelated index
    named = X.set_axis(pd.Index([10, 11, 12, 13]))  # an index that names the rows
    with pytest.raises(InputError, match="different ids"):
        align_labels(named, y)


def test_a_frame_without_ids_and_labels_with_ids_warn_that_position_is_used():
    from crowdlearn.errors import CrowdlearnWarning

    X = pd.DataFrame({"f": [0.0, 1.0, 2.0]})  # the default index: the rows are unnamed
    y = pd.Series(["a", "b", "a"], index=["0010", "0002", "0007"])
    with pytest.warns(CrowdlearnWarning, match=r"X has the default index 0…n−1 and y's index "
                      r"holds ids \('0010', '0002', '0007'\): matched by position"):
        assert align_labels(X, y) is y
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrowdlearnWarning)
        align_labels(X, y.reset_index(drop=True))  # row numbers: nothing to say
        align_labels(X, y.set_axis(["2", "0", "1"]))  # numbers 0..n-1 as text, likewise
        align_labels(X.to_numpy(), y)  # an array has no index that could have held ids
        # integers: row numbers of a split (train_test_split keeps them), scikit-learn's case
        align_labels(X, y.set_axis([7, 3, 12]))
