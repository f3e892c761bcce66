"""Every crowdlearn name the README's "Coming from crowd-kit or cleanlab" section gives exists
and does what the section says."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crowdlearn
from crowdlearn import Annotations, label_issues_from_proba, next_to_label
from crowdlearn.aggregation import (
    GLAD,
    KOS,
    MACE,
    DawidSkene,
    GoldMajorityVote,
    MajorityVote,
    ZeroBasedSkill,
)
from tests.conftest import make_crowd

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def frame():
    ann, y, _ = make_crowd(n_tasks=120, n_workers=12, k=3, r=4, seed=2)
    names = np.array(["cat", "dog", "fox"])
    df = pd.DataFrame({"task": [f"t{t}" for t in np.asarray(ann.tasks)[ann.task]],
                       "worker": [f"w{w}" for w in np.asarray(ann.workers)[ann.worker]],
                       "label": names[np.asarray(ann.classes)[ann.label]]})
    return df, pd.Series(names[y], index=[f"t{t}" for t in ann.tasks])


def test_the_section_is_in_the_readme():
    text = README.read_text()
    assert "## Coming from crowd-kit or cleanlab" in text
    for name in ("strategy_", "class_prior_", "label_issues_from_proba", "next_to_label",
                 "worker_quality()", "confusions()", "filter_by=\"prune_by_noise_rate\"",
                 "\"confident_learning\""):
        assert name in text.split("## Coming from crowd-kit or cleanlab")[1]


def test_crowd_kit_names(frame):
    df, truth = frame
    ds = DawidSkene(max_iter=50)
    labels = ds.fit_predict(df)
    assert labels.index.name == "task" and (labels == truth.reindex(labels.index)).mean() > 0.8
    assert ds.labels_.dtype.kind == "i"  # codes, not labels
    assert (pd.Index(ds.classes_).take(ds.labels_) == labels.to_numpy()).all()
    proba = ds.fit_predict_proba(df)
    assert list(proba.columns) == sorted(proba.columns)  # sorted class order
    assert ds.skills().index.equals(pd.Index(ds.workers_))
    confusions = ds.confusions()
    assert list(confusions.index.names) == ["worker", "true_label"]
    np.testing.assert_allclose(confusions.sum(axis=1), 1.0)  # rows: true label
    assert ds.class_prior_.shape == (len(ds.classes_),)
    for model in (MajorityVote, DawidSkene, GLAD, MACE):
        if "max_iter" in inspect.signature(model).parameters:
            model(max_iter=5)
    assert "n_iter" in inspect.signature(KOS).parameters
    assert "n_iter" in inspect.signature(ZeroBasedSkill).parameters
    for model in (MajorityVote, MACE, KOS, ZeroBasedSkill):
        assert "seed" in inspect.signature(model).parameters
    glad = GLAD(max_iter=20).fit(df)
    assert glad.alpha_.shape == (len(glad.workers_),) and glad.beta_.shape == (len(glad.tasks_),)
    gold = truth.iloc[:20]
    gold_mv = GoldMajorityVote().fit(df, gold=gold).predict()
    assert (gold_mv.reindex(truth.index) == truth).mean() > 0.6
    weights = pd.Series(1.0, index=df["worker"].unique())
    assert MajorityVote(weights=weights).fit(df).predict().index.equals(labels.index)
    mace = MACE(n_restarts=2, max_iter=20).fit(df)
    assert mace.strategy_.shape == (len(mace.workers_), len(mace.classes_))
    assert mace.competence_.shape == (len(mace.workers_),)
    assert not hasattr(mace, "spamming_")
    repeated = pd.concat([df, df.iloc[:1]])
    with pytest.raises(crowdlearn.InputError):
        DawidSkene().fit(repeated)
    DawidSkene(max_iter=5).fit(repeated, keep="all")
    DawidSkene(smoothing=0, prior="uniform", class_smoothing=0, max_iter=5).fit(df)


def test_cleanlab_names(frame):
    df, truth = frame
    ann = Annotations.from_frame(df)
    wide = df.pivot(index="task", columns="worker", values="label")
    from_wide = Annotations.from_wide(wide)
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), ann.n_tasks)
    ds = DawidSkene(max_iter=20).fit(from_wide, task_prior=proba)
    assert len(ds.predict()) == ann.n_tasks
    assert {"skill"} <= set(ds.worker_quality().columns)
    assert len(next_to_label(ann, proba, k=5)) == 5
    given = rng.integers(0, 3, 200)
    pred = rng.dirichlet(np.ones(3) * 0.5, 200)
    table = label_issues_from_proba(given, pred).set_index("id").sort_index()
    cleanlab = pytest.importorskip("cleanlab")
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    assert cleanlab.__version__
    flagged = find_label_issues(given, pred, filter_by="confident_learning")
    np.testing.assert_array_equal(table["is_label_issue"].to_numpy(), flagged)
    pruned = label_issues_from_proba(given, pred, filter_by="prune_by_noise_rate")
    np.testing.assert_array_equal(pruned.set_index("id").sort_index()["is_label_issue"],
                                  find_label_issues(given, pred, n_jobs=1))  # its default
    for score in ("self_confidence", "normalized_margin"):
        quality = label_issues_from_proba(given, pred, score=score).sort_values("id")
        np.testing.assert_allclose(quality["label_quality"],
                                   get_label_quality_scores(given, pred, method=score),
                                   atol=1e-9)
