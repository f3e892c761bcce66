"""Which given labels are likely wrong: a ranked table from the by-products of TwoEM (its
E-step's clean probability) or Me-Momentum (its best network's probability of the given
label), the way cleanlab's ``find_label_issues`` is asked — but from a method that also
trains a better model, with no cross-validation."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.label_issues import issue_table, label_issues_from_proba
from crowdlearn.learners.base import _as_array, align_labels
from crowdlearn.methods import make_learner


def find_label_issues(X, y_noisy, method: Literal["two-em", "me-momentum"] = "me-momentum", *,
                      noise_rate: float | None = None, **params) -> pd.DataFrame:
    """Rank the items by how likely their given label is wrong, most likely first.

    Parameters
    ----------
    X, y_noisy:
        The items and their (possibly wrong) labels, matched by position, or by id when
        ``X`` is a DataFrame and ``y_noisy`` a Series (see
        :func:`~crowdlearn.learners.base.align_labels`).
    method:
        ``"me-momentum"`` (default): :func:`~crowdlearn.label_issues.label_issues_from_proba`
        on the selected network's probabilities, ranked by the probability of the given
        label. ``"two-em"``: quality = TwoEM's probability that the label is clean, suggested
        label = its refurbished label (else its prediction); flagged when the probability is
        below 0.5 and the suggested label differs from the given one. TwoEM's corruption
        model is uniform (a wrong label is any other class alike), so it misses noise that
        flips each class to one other: on Fashion-MNIST with 45% pair flips its clean
        probability separates right from wrong labels with AUROC 0.703, against 0.94–0.98
        under symmetric and instance noise (``docs/results.md``).
    noise_rate:
        TwoEM's τ (``None``: estimated); Me-Momentum takes none.
    params:
        Passed to the method (model, epochs, seed, …).

    Returns
    -------
    A DataFrame, one row per item sorted by ``label_quality`` (ascending): ``row`` (position
    in ``X``), ``given_label``, ``suggested_label``, ``label_quality`` in [0, 1] and
    ``is_label_issue``. The first k rows are the k most likely label errors.
    """
    if method not in ("two-em", "me-momentum"):
        raise InputError(f"method must be 'two-em' or 'me-momentum', got {method!r}")
    if method == "me-momentum" and noise_rate is not None:
        raise InputError("noise_rate is TwoEM's (method='two-em'); Me-Momentum needs none")
    own = {} if method == "me-momentum" else {"noise_rate": noise_rate}
    learner = make_learner(method, "noise", **own, **params)  # refuses unknown options
    _refuse_cleanlab_call(X, y_noisy)
    y_noisy = align_labels(X, y_noisy, "y_noisy", stacklevel=3)  # by id when both pandas
    X = _as_array(X)
    given = np.asarray(y_noisy)
    if method == "me-momentum":
        learner.fit(X, y_noisy)
        return label_issues_from_proba(given, learner.predict_proba(X), learner.classes_,
                                       score="self_confidence", id_name="row")
    learner.fit(X, y_noisy)
    names = np.asarray(learner.classes_, dtype=object)
    proba = learner.predict_proba(X)
    suggested = names[proba.argmax(axis=1)]
    suggested[learner.refurbished_.index.to_numpy()] = learner.refurbished_.to_numpy()
    quality = learner.clean_proba_
    flagged = (quality < 0.5) & (suggested.astype(str) != given.astype(str))
    # the clean probability saturates (many items at exactly 0 or 1): within a tie, the
    # network's probability of the given label ranks them
    own = proba[np.arange(len(given)), pd.Index(names.astype(str)).get_indexer(
        given.astype(str))]
    return issue_table(given, quality, suggested, flagged, id_name="row", tiebreak=own)


def _refuse_cleanlab_call(X, y_noisy) -> None:
    """cleanlab's ``find_label_issues(labels, pred_probs)`` shape: ``X`` one label per item
    (1-D, or one column of integers) and ``y_noisy`` N × K probabilities. That call belongs to
    :func:`~crowdlearn.label_issues_from_proba`; say so instead of asking for features."""
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        return
    try:
        x, y = np.asarray(X), np.asarray(y_noisy)
    except (TypeError, ValueError):  # ragged: the usual checks name the problem
        return
    if (x.ndim == 0 or y.ndim != 2 or y.shape[1] < 2 or len(y) != len(x)
            or y.dtype.kind not in "biuf"):
        return
    one_label = x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1 and _integer_like(x))
    if one_label and np.allclose(y.sum(axis=1), 1.0, atol=1e-3):
        raise InputError("find_label_issues(X, y_noisy) trains a model on features X; "
                         f"X looks like one label per item and y_noisy ({y.shape[0]} × "
                         f"{y.shape[1]}) like class probabilities: for cleanlab's "
                         "find_label_issues(labels, pred_probs) call "
                         "crowdlearn.label_issues_from_proba(labels, proba)")


def _integer_like(x: np.ndarray) -> bool:
    """Integers, or floats that all are whole numbers (labels read as floats)."""
    if x.dtype.kind in "biu":
        return True
    return x.dtype.kind == "f" and bool(np.isfinite(x).all() and (x == np.round(x)).all())
