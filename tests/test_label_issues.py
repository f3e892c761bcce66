"""Ranking label issues from any model's probabilities."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.label_issues import class_thresholds, label_issues_from_proba


def _noisy_proba(n=400, k=4, flip=0.2, seed=0):
    """A model that is right with probability ~0.8 on the true class; labels flipped at
    random for a fraction of items."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 3
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    wrong = rng.random(n) < flip
    given = np.where(wrong, (y + rng.integers(1, k, n)) % k, y)
    return given, P, wrong


@pytest.mark.parametrize("score", ["self_confidence", "normalized_margin"])
def test_flipped_labels_rank_first(score):
    given, P, wrong = _noisy_proba()
    table = label_issues_from_proba(given, P, score=score)
    k = int(wrong.sum())
    assert wrong[table["id"].to_numpy()[:k]].mean() > 0.85
    assert list(table.columns) == ["id", "given_label", "suggested_label", "label_quality",
                                   "is_label_issue"]
    assert table["label_quality"].is_monotonic_increasing
    flagged = table.sort_values("id")["is_label_issue"].to_numpy()
    assert wrong[flagged].mean() > 0.85 and flagged[wrong].mean() > 0.6


def test_confident_joint_rule_by_hand():
    # class thresholds: t0 = mean(0.9, 0.3) = 0.6, t1 = 0.8
    P = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    given = np.array(["a", "a", "b"])
    np.testing.assert_allclose(class_thresholds(np.array([0, 0, 1]), P), [0.6, 0.8])
    table = label_issues_from_proba(given, P, classes=["a", "b"], ids=["x", "y", "z"])
    issues = dict(zip(table["id"], table["is_label_issue"], strict=True))
    assert issues == {"x": False, "y": False, "z": False}  # 0.7 < t1: not confident
    P[1] = [0.1, 0.9]  # now above t1 = 0.85: item y is confidently b
    table = label_issues_from_proba(given, P, classes=["a", "b"], ids=["x", "y", "z"])
    row = table.set_index("id").loc["y"]
    assert row["is_label_issue"] and row["suggested_label"] == "b"
    assert table["id"].iloc[0] == "y"  # the lowest self-confidence


@pytest.mark.parametrize(("labels", "proba", "message"), [
    ([0, 1], [[0.5, 0.6], [0.5, 0.5]], "row 0 sums to 1.1"),
    ([0, 1], [[0.5, 0.5]], "one label per row of proba"),
    ([0, 2], [[0.5, 0.5], [0.5, 0.5]], "2"),
    ([0, 1], [[np.nan, 1.0], [0.5, 0.5]], "row 0 holds NaN"),
    ([0, 1], [[-0.5, 1.5], [0.5, 0.5]], "negative"),
    ([0], [[1.0]], "at least 2 classes")])
def test_bad_input(labels, proba, message):
    with pytest.raises(InputError, match=message):
        label_issues_from_proba(np.array(labels), np.array(proba))


def test_unknown_score_and_class_count():
    with pytest.raises(InputError, match="score must be one of"):
        label_issues_from_proba([0], [[0.5, 0.5]], score="entropy")
    with pytest.raises(InputError, match="proba has 2 columns but 3 classes"):
        label_issues_from_proba([0], [[0.5, 0.5]], classes=["a", "b", "c"])


def _frames(n=300, seed=1):
    """The same items as arrays and as pandas objects: ids ``img0…``, classes 'a'…'d'."""
    given, P, _ = _noisy_proba(n=n, seed=seed)
    names = np.array(list("abcd"))
    ids = [f"img{i}" for i in range(n)]
    return given, P, pd.Series(names[given], index=ids), pd.DataFrame(P, index=ids,
                                                                     columns=list(names))


def test_labels_match_the_class_spelling_the_same_number():
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9]])
    as_text = label_issues_from_proba(np.array(["1", "2", "1"]),
                                      pd.DataFrame(P, columns=["1", "2"]))
    # a float column (1.0, 2.0) against the proba_1, proba_2 columns of a file
    floats = label_issues_from_proba(np.array([1.0, 2.0, 1.0]),
                                     pd.DataFrame(P, columns=["1", "2"]))
    np.testing.assert_allclose(floats["label_quality"], as_text["label_quality"])
    assert floats["is_label_issue"].tolist() == as_text["is_label_issue"].tolist()
    assert floats.loc[floats["id"] == 2, "is_label_issue"].item()  # 1.0 where 2 is likely
    # the spelling only: a label of no class is still refused
    with pytest.raises(InputError, match="label 3.0 is not one of the classes of proba"):
        label_issues_from_proba(np.array([1.0, 3.0, 1.0]), pd.DataFrame(P, columns=["1", "2"]))


def test_pandas_inputs_are_matched_by_id_and_report_ids():
    given, P, labels, proba = _frames()
    expected = label_issues_from_proba(given, P)
    table = label_issues_from_proba(labels, proba)  # classes: the frame's columns
    assert table["id"].tolist() == [f"img{i}" for i in expected["id"]]
    assert table["given_label"].tolist() == list(np.array(list("abcd"))[expected["given_label"]])
    np.testing.assert_allclose(table["label_quality"], expected["label_quality"])
    # labels in another order than proba's rows are put in its order, not read by position
    shuffled = labels.sample(frac=1.0, random_state=0)
    again = label_issues_from_proba(shuffled, proba)
    pd.testing.assert_frame_equal(again, table)
    # proba's columns in another order: reordered to the declared classes
    columns = ["d", "b", "a", "c"]
    swapped = label_issues_from_proba(labels, proba[columns], classes=list("abcd"))
    pd.testing.assert_frame_equal(swapped, table)
    # ids spelled as numbers on one side and as text on the other match, as in positions()
    numbered = pd.DataFrame(P, columns=list("abcd"), index=pd.Index(np.arange(len(P))))
    text = pd.Series(labels.to_numpy(), index=[str(i) for i in range(len(P))])
    assert label_issues_from_proba(text.iloc[::-1], numbered)["id"].tolist() == \
        expected["id"].tolist()
    # a frame with the default 0..n-1 index is matched by position; ids from the labels
    assert label_issues_from_proba(text, pd.DataFrame(P, columns=list("abcd")))[
        "id"].tolist() == [str(i) for i in expected["id"]]


def test_pandas_ids_must_be_the_same_set():
    _, _, labels, proba = _frames(n=20)
    with pytest.raises(InputError, match=r"1 row\(s\) of proba have no label \('img0'\) and "
                                         r"1 label\(s\) have no row in proba \('x'\)"):
        label_issues_from_proba(labels.rename({"img0": "x"}), proba)
    with pytest.raises(InputError, match="labels' index repeats the id 'img1'"):
        label_issues_from_proba(labels.rename({"img0": "img1"}), proba)
    with pytest.raises(InputError, match="no column 'e'"):
        label_issues_from_proba(labels, proba, classes=list("abce"))
    with pytest.raises(InputError, match="leave ids out"):
        label_issues_from_proba(labels, proba, ids=list(range(20)))


def test_arrays_keep_matching_by_position():
    given, P, labels, _ = _frames(n=50)
    # a Series with an array: by position; its index names the items
    table = label_issues_from_proba(labels, P, classes=list("abcd"))
    plain = label_issues_from_proba(given, P)
    assert table["id"].tolist() == [f"img{i}" for i in plain["id"]]
    assert plain["id"].dtype.kind == "i"  # arrays alone: positions, classes 0..K-1
    with pytest.raises(InputError, match="label '[a-d]' is not one of the classes of proba"):
        label_issues_from_proba(labels.to_numpy(), P)


def test_a_probability_frame_with_the_default_index_is_matched_by_position():
    from crowdlearn import label_issues_from_proba

    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.9]])
    labels = pd.Series([0, 1, 1, 1], index=["d", "a", "c", "b"])  # ids, proba's rows unnamed
    with pytest.warns(CrowdlearnWarning, match="proba has the default index 0…n−1 and the "
                      r"labels' index holds ids \('d', 'a', 'c', …\): matched by position"):
        by_frame = label_issues_from_proba(labels, pd.DataFrame(P)).sort_values("id")
    by_array = label_issues_from_proba(labels.to_numpy(), P, ids=labels.index).sort_values("id")
    pd.testing.assert_frame_equal(by_frame.reset_index(drop=True),
                                  by_array.reset_index(drop=True))
    named = pd.DataFrame(P, index=["a", "b", "c", "d"])  # ids: matched by id
    by_id = label_issues_from_proba(labels, named).sort_values("id")
    assert by_id["label_quality"].tolist() != by_frame["label_quality"].tolist()


def test_crowdlearns_own_proba_columns_name_the_classes():
    from crowdlearn import label_issues_from_proba

    P = pd.DataFrame({"proba_0": [0.9, 0.2], "proba_1": [0.1, 0.8]}, index=["a", "b"])
    table = label_issues_from_proba(pd.Series([0, 0], index=["a", "b"]), P)
    assert set(table["id"]) == {"a", "b"}
    assert table.loc[table["id"] == "b", "suggested_label"].item() in ("1", 1)


def test_tied_probabilities_flag_nothing_whatever_the_class_order():
    tied = np.array([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1], [0.1, 0.9]])
    labels = np.array(["a", "b", "a", "b"])
    ab = label_issues_from_proba(labels, tied, classes=["a", "b"]).sort_values("id")
    ba = label_issues_from_proba(labels, tied[:, ::-1], classes=["b", "a"]).sort_values("id")
    assert not ab["is_label_issue"].any() and not ba["is_label_issue"].any()
    # a label the model ranks first (tied) is suggested as given, in either order
    assert ab["suggested_label"].tolist() == ba["suggested_label"].tolist() == labels.tolist()
    uniform = label_issues_from_proba(np.arange(5), np.full((5, 5), 0.2))
    assert not uniform["is_label_issue"].any()
    assert sorted(uniform["suggested_label"]) == list(range(5))


def test_suggested_labels_keep_the_given_labels_type():
    proba = pd.DataFrame([[0.9, 0.1], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9]],
                         index=list("abcd"), columns=["proba_0", "proba_1"])
    table = label_issues_from_proba(pd.Series([0, 1, 1, 1], index=list("abcd")), proba)
    assert table["suggested_label"].dtype == table["given_label"].dtype == np.int64
    row = table.set_index("id").loc["c"]
    assert row["is_label_issue"] and row["suggested_label"] == 0


def test_ragged_proba_is_an_input_error():
    with pytest.raises(InputError, match=r"proba must hold numbers \("):
        label_issues_from_proba([0, 1], [[0.5, 0.5], [1.0]])


@pytest.mark.parametrize("decimals", [None, 2])
def test_flags_equal_cleanlabs_confident_learning(decimals):
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    rng = np.random.default_rng(7)
    for k in (3, 4, 5):
        P = rng.dirichlet(np.ones(k), 2000)
        if decimals is not None:  # as a probability file rounds them; ties kept out
            P = np.round(P, decimals)
            P = P[(P.sum(axis=1) > 0) & ((P == P.max(axis=1, keepdims=True)).sum(axis=1) == 1)]
            P = P / P.sum(axis=1, keepdims=True)
        labels = np.where(rng.random(len(P)) < 0.8, P.argmax(axis=1),
                          rng.integers(0, k, len(P)))
        theirs = cleanlab_filter.find_label_issues(labels, P, filter_by="confident_learning")
        ours = label_issues_from_proba(labels, P).sort_values("id")["is_label_issue"]
        assert (ours.to_numpy() == theirs).all()


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_prune_by_noise_rate_equals_cleanlabs_default(k):
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    rng = np.random.default_rng(k)
    truth = rng.integers(0, k, 3000)
    logits = rng.normal(size=(3000, k)) * 2
    logits[np.arange(3000), truth] += 2.5
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # 30% of the labels flipped to the next class: noise that prune-by-noise-rate expects
    labels = np.where(rng.random(3000) < 0.3, (truth + 1) % k, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cleanlab_filter.find_label_issues(labels, P, n_jobs=1)  # its default
    table = label_issues_from_proba(labels, P, filter_by="prune_by_noise_rate")
    ours = table.sort_values("id")["is_label_issue"].to_numpy()
    assert (ours == theirs).all()
    assert table["id"].tolist() == label_issues_from_proba(labels, P)["id"].tolist()


def test_prune_by_noise_rate_keeps_a_class_of_one_item_and_the_models_top():
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    labels = np.array([0, 0, 0, 0, 1])  # class 1 given once: never pruned
    table = label_issues_from_proba(labels, P, filter_by="prune_by_noise_rate")
    flagged = set(table.loc[table["is_label_issue"], "id"])
    assert 4 not in flagged and flagged <= {3}
    with pytest.raises(InputError, match="filter_by must be one of confident_learning, "
                                         "prune_by_noise_rate, got 'both'"):
        label_issues_from_proba(labels, P, filter_by="both")


def test_several_passing_classes_guess_the_most_probable_overall_as_cleanlab():
    # class 3's items are confident (threshold ~0.9), classes 0 and 2's are not (~0.3):
    # the last row passes the thresholds of 0 and 2 but not of 3, its most probable class
    rows = ([[0.05, 0.05, 0.0, 0.9]] * 20 + [[0.3, 0.2, 0.2, 0.3]] * 20
            + [[0.2, 0.2, 0.3, 0.3]] * 20 + [[0.1, 0.7, 0.1, 0.1]] * 20
            + [[0.31, 0.04, 0.30, 0.35]])
    labels = [3] * 20 + [0] * 20 + [2] * 20 + [1] * 20 + [0]
    table = label_issues_from_proba(labels, np.array(rows)).set_index("id")
    assert table.loc[80, "is_label_issue"] and table.loc[80, "suggested_label"] == 3
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    theirs = cleanlab_filter.find_label_issues(np.array(labels), np.array(rows),
                                               filter_by="confident_learning")
    assert (table.sort_index()["is_label_issue"].to_numpy() == theirs).all()


def test_equal_qualities_are_ranked_by_the_tiebreak():
    from crowdlearn.label_issues import issue_table

    given = np.array(["a", "b", "c", "d"])
    quality = np.array([0.0, 0.0, 0.5, 0.0])
    table = issue_table(given, quality, given, quality < 0.1, tiebreak=np.array([0.3, 0.1,
                                                                                 0.0, 0.2]))
    assert table["id"].tolist() == [1, 3, 0, 2]
    assert issue_table(given, quality, given, quality < 0.1)["id"].tolist() == [0, 1, 3, 2]


def test_row_numbers_against_reordered_labels_are_refused_as_ambiguous():
    # ids 0..n-1: `read_csv(...).set_index("id")` gives proba the same index as a frame
    # built from an array, and a shuffled Series of labels could mean either
    rng = np.random.default_rng(3)
    proba = pd.DataFrame(rng.dirichlet(np.ones(3), 300), columns=["a", "b", "c"])
    labels = pd.Series(np.array(["a", "b", "c"])[rng.integers(0, 3, 300)])
    ranked = label_issues_from_proba(labels, proba).sort_values("id").reset_index(drop=True)
    shuffled = labels.sample(frac=1, random_state=1)
    with pytest.raises(InputError, match=r"pass labels.to_numpy\(\) to match by position, or "
                                         r"labels.sort_index\(\) to match by id"):
        label_issues_from_proba(shuffled, proba)
    by_id = label_issues_from_proba(shuffled.sort_index(), proba)
    pd.testing.assert_frame_equal(by_id.sort_values("id").reset_index(drop=True), ranked)

