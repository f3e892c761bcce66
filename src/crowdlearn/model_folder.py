"""Training on a user's files and the folder a trained model lives in: what
``crowdlearn fit``, ``predict`` and ``label-issues`` do, callable from Python as well.

A model folder holds the saved learner (``learner.json`` and its networks, loadable by
:func:`crowdlearn.load`), ``labels.csv`` (each training item's inferred label, its confidence
and, on request, class probabilities), ``history.csv`` and ``history.png`` (the training
record), for crowd methods ``workers.csv`` and ``workers.png`` (each annotator's answers,
agreement with the inferred labels and, where the method estimates one, accuracy), and
``summary.json`` (command, versions, settings, sizes, timings) and, when asked for,
``oof.csv`` (out-of-fold class probabilities, see :func:`out_of_fold`). It is written to a
temporary sibling and renamed into place: it appears complete or not at all.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.features import Features
from crowdlearn.labels import plain, positions
from crowdlearn.methods import method_spec
from crowdlearn.outputs import atomic_folder, atomic_write

SUMMARY = "summary.json"


@dataclass
class TrainedModel:
    """A learner fitted on a user's items, with what :func:`write_model_folder` records."""

    learner: object
    method: str
    ids: np.ndarray  # training items, in the rows of X
    X: np.ndarray
    answers: Annotations | None  # crowd methods
    labels: np.ndarray | None  # noisy-label methods: the given labels, in the rows of X
    settings: dict
    seconds: float
    dropped: dict = field(default_factory=dict)  # what --allow-missing left out, by kind
    feature_columns: list | None = None  # a features table's column names, in order
    id_column: str | None = None  # a features table's id column (predict's default)
    image_size: tuple | None = None  # (height, width) images were resized to (predict's too)
    out_of_fold: pd.DataFrame | None = None  # see :func:`out_of_fold`
    folds: int = 0  # the parts out_of_fold was computed with


def check_model_folder(out: Path | str, force: bool = False) -> Path:
    """Refuse, before any work, a model folder that exists (unless ``force``) or whose parent
    does not."""
    out = Path(out)
    if out.exists() and not force:
        raise InputError(f"{out}: already exists; pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file, not a model folder")
    if out.exists() and any(out.iterdir()) and not is_model_folder(out):
        raise InputError(f"{out}: is not empty and holds no model (no learner.json); --force "
                         "replaces only a model folder, never other files")
    foreign = _foreign_files(out) if out.is_dir() else []
    if foreign:
        raise InputError(f"{out}: also holds {len(foreign)} file(s) that fit did not write "
                         f"({', '.join(foreign[:4])}{', …' if len(foreign) > 4 else ''}); "
                         "--force replaces the model folder whole: move them out first")
    if out.resolve() == Path.cwd().resolve() or out.resolve() in Path.cwd().resolve().parents:
        raise InputError(f"{out}: is the current folder (or holds it); give a new folder name")
    if not out.resolve().parent.is_dir():
        raise InputError(f"{out}: folder {out.parent} does not exist")
    return out


# what write_model_folder writes beside the learner's own files (learner.json, arrays.npz
# and one .pt file a module)
FOLDER_FILES = {SUMMARY, "labels.csv", "oof.csv", "history.csv", "history.png", "workers.csv",
                "workers.png"}


def _foreign_files(folder: Path) -> list[str]:
    """The names of the files and folders in a model folder that no fit wrote (a user's
    notes, predictions written into it); hidden ones (``.DS_Store``) are not counted."""
    from crowdlearn.learners.saved import ARRAYS, MANIFEST

    ours = FOLDER_FILES | {MANIFEST, ARRAYS}
    try:
        ours |= {f"{m}.pt" for m in json.loads((folder / MANIFEST).read_text())["modules"]}
    except (OSError, ValueError, KeyError, TypeError):
        ours |= {p.name for p in folder.glob("*.pt")}  # a damaged manifest: its .pt files
    return sorted(p.name for p in folder.iterdir()
                  if p.name not in ours and not p.name.startswith("."))


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a saved learner (what ``--force`` may replace)."""
    return (folder / "learner.json").is_file() or (folder / SUMMARY).is_file()


def train(method: str, features: Features, *, answers: Annotations | None = None,
          labels: pd.Series | None = None, allow_missing: bool = False,
          **settings) -> TrainedModel:
    """Fit ``method`` (a registered name) on ``features`` and either crowd ``answers`` or
    noisy ``labels`` (a Series: item id → label). Rows are matched to ids; an id on one side
    only is an :class:`InputError` unless ``allow_missing`` (then counted in ``dropped``).
    ``settings`` are the method's own and the training parameters, all checked before the
    inputs are matched."""
    from crowdlearn.learners.base import rows_in_task_order
    from crowdlearn.methods import make_learner

    spec = method_spec(method)
    if (answers is None) == (labels is None):
        raise InputError("give either answers (crowd methods) or labels (noisy-label methods)")
    if spec.kind == "crowd" and answers is None:
        raise InputError(f"method {method!r} learns from crowd answers: give --answers, not "
                         "--labels")
    if spec.kind == "noise" and labels is None:
        raise InputError(f"method {method!r} learns from one label per item: give --labels, "
                         "not --answers")
    learner = make_learner(method, **settings)
    learner.check_params()
    if answers is not None:
        X, answers, ids, dropped = _match_answers(features, answers, allow_missing)
        given = None
    else:
        X, given, ids, dropped = _match_labels(features, labels, allow_missing)
    start = time.perf_counter()
    with rows_in_task_order():  # X's rows were matched to the answers' tasks by id
        learner.fit(X, answers if answers is not None else given)
    if features.columns is not None:  # a table's: saved, a DataFrame is matched by name
        learner.feature_names_in_ = np.asarray(features.columns, dtype=object)
    return TrainedModel(learner, method, ids, X, answers, given, settings,
                        time.perf_counter() - start, dropped, features.columns,
                        features.id_column, features.image_size)


def out_of_fold(model: TrainedModel, folds: int, *, seed: int = 0,
                checkpoint: Path | str | None = None, log=None) -> pd.DataFrame:
    """Cross-validated class probabilities of ``model``'s training items: the items are split
    at random (``seed``) into ``folds`` parts, and for each part a learner with the model's
    settings, trained on the other parts, predicts it. No item's probabilities then come
    from a network that saw its label or its answers, which is what finding label issues
    and choosing what to relabel need (Northcutt et al., JAIR 2021, §2: "out-of-sample
    predicted probabilities"). Max-MIG predicts from its classifier alone. A class a part's
    training items lack gets probability 0 there. ``checkpoint``: a folder in which each
    part's fit keeps its checkpoints (``fold-1``, …), so that an interrupted run resumes;
    ``log(text)`` is told when each part starts. Returns ``labels.csv``'s columns with the
    probabilities: id, label, confidence, ``proba_<class>``."""
    from sklearn.base import clone

    from crowdlearn.learners.base import rows_in_task_order

    n = len(model.ids)
    check_folds(folds, n)
    part = np.random.default_rng(seed).permutation(n) % folds
    classes = list(model.learner.classes_)
    P = np.zeros((n, len(classes)))
    for f in range(folds):
        test, train = np.flatnonzero(part == f), np.flatnonzero(part != f)
        if log is not None:
            log(f"fold {f + 1} of {folds}: training on {len(train):,} items")
        learner = clone(model.learner)
        if checkpoint is not None and "checkpoint" in learner.get_params():
            learner.set_params(checkpoint=str(Path(checkpoint) / f"fold-{f + 1}"))
        if model.answers is not None:
            tasks = model.answers.tasks
            with rows_in_task_order():
                learner.fit(model.X[train], model.answers.subset([tasks[i] for i in train]))
        else:
            learner.fit(model.X[train], model.labels[train])
        columns = positions(plain(classes), plain(learner.classes_))
        P[np.ix_(test, columns)] = learner.predict_proba(model.X[test])
    return probability_table(model.ids, P, classes, proba=True)


def check_folds(folds, n_items: int) -> None:
    """``folds`` must be an integer from 2 to ``n_items`` (checked before any training)."""
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or not (
            2 <= folds <= n_items):
        raise InputError(f"folds must be an integer from 2 to the {n_items:,} training "
                         f"items, got {folds!r}")


def _match_answers(features: Features, answers: Annotations, allow_missing: bool):
    X, found = features.rows_for(answers.tasks, "answered tasks", allow_missing=allow_missing)
    dropped = {}
    if not found.all():
        kept = [t for t, ok in zip(answers.tasks, found, strict=True) if ok]
        dropped["tasks_without_features"] = int((~found).sum())
        answers = answers.subset(kept)
    ids = np.asarray([str(t) for t in answers.tasks])
    _unused_features(features, ids, "answered tasks", allow_missing, dropped)
    return X, answers, ids, dropped


def _match_labels(features: Features, labels: pd.Series, allow_missing: bool):
    X, found = features.rows_for(labels.index, "labelled items", allow_missing=allow_missing)
    dropped = {}
    if not found.all():
        dropped["labels_without_features"] = int((~found).sum())
    ids = np.asarray([str(t) for t in labels.index])[found]
    _unused_features(features, ids, "labelled items", allow_missing, dropped)
    return X, labels.to_numpy()[found], ids, dropped


def _unused_features(features: Features, ids: np.ndarray, what: str, allow_missing: bool,
                     dropped: dict) -> None:
    # as text on both sides: a set difference of object and fixed-width text arrays is
    # quadratic (60,000 ids took minutes)
    unused = np.setdiff1d(np.asarray(features.ids, dtype=str), np.asarray(ids, dtype=str))
    if len(unused) and not allow_missing:
        shown = ", ".join(repr(str(u)) for u in unused[:3])
        raise InputError(f"{features.source}: {len(unused)} feature rows are not among the "
                         f"{what}: {shown}{', …' if len(unused) > 3 else ''} "
                         "(--allow-missing ignores them)")
    if len(unused):
        dropped["features_without_" + what.split()[-1]] = int(len(unused))


# ---------------------------------------------------------------------- the folder
def write_model_folder(model: TrainedModel, out: Path | str, *, proba: bool = False,
                       force: bool = False, command: str | None = None) -> Path:
    """Write ``model`` to the folder ``out`` (see the module docstring); returns it."""
    out = check_model_folder(out, force)
    start = time.perf_counter()
    with atomic_folder(out) as tmp:  # leftovers of killed runs removed
        model.learner.save(tmp, force=True)
        inferred = training_labels(model, proba)
        inferred.to_csv(tmp / "labels.csv", index=False)
        history = pd.DataFrame(getattr(model.learner, "history_", []))
        history.to_csv(tmp / "history.csv", index=False)
        plot_history(history, tmp / "history.png", model.method)
        if model.answers is not None:
            workers = worker_table(model, inferred)
            workers.to_csv(tmp / "workers.csv", index=False)
            plot_worker_agreement(workers, tmp / "workers.png", model.method)
        if model.out_of_fold is not None:
            model.out_of_fold.to_csv(tmp / "oof.csv", index=False)
        summary = _summary(model, command, time.perf_counter() - start)
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return out


def training_labels(model: TrainedModel, proba: bool = False) -> pd.DataFrame:
    """Each training item's inferred label: the method's posterior where it has one (MBEM,
    AggNet, aggregate-then-train: with its own labels where it breaks ties, as majority
    vote does, so that the table shows what the network was trained on), Max-MIG's
    data-crowds forecaster, else the trained network's prediction."""
    learner = model.learner
    P = getattr(learner, "posteriors_", None)
    labels = getattr(learner, "labels_", None)
    if P is None or np.shape(P) != (len(model.ids), len(learner.classes_)):
        labels = None
        if model.method == "maxmig":
            P = learner.predict_proba(model.X, model.answers)
        else:
            P = learner.predict_proba(model.X)
    return probability_table(model.ids, np.asarray(P), learner.classes_, proba, labels)


def probability_table(ids, P: np.ndarray, classes, proba: bool = False,
                      labels: np.ndarray | None = None) -> pd.DataFrame:
    """id, label (``labels``' class codes, default the most probable class), confidence (its
    probability) and, with ``proba``, one ``proba_<class>`` column per class."""
    best = P.argmax(axis=1) if labels is None else np.asarray(labels, dtype=np.int64)
    table = pd.DataFrame({"id": np.asarray(ids),
                          "label": np.asarray(plain(classes), dtype=object)[best],
                          "confidence": P[np.arange(len(P)), best]})
    if proba:
        for j, cls in enumerate(plain(classes)):
            table[f"proba_{cls}"] = P[:, j]
    return table


def worker_table(model: TrainedModel, inferred: pd.DataFrame) -> pd.DataFrame:
    """One row per annotator: answers given, agreement with the inferred labels and, where
    the method estimates confusion matrices, the mean of its diagonal (accuracy)."""
    ann = model.answers
    inferred_codes = ann.class_codes(inferred["label"].to_numpy())
    agree = (ann.label == inferred_codes[ann.task]).astype(float)
    counts = np.bincount(ann.worker, minlength=ann.n_workers)
    table = pd.DataFrame({"worker": plain(ann.workers), "answers": counts,
                          "agreement": np.bincount(ann.worker, weights=agree,
                                                   minlength=ann.n_workers)
                          / np.maximum(counts, 1)})
    confusion = getattr(model.learner, "confusion_", None)
    if confusion is None:  # aggregate-then-train: the aggregator's confusions, if any
        confusion = getattr(getattr(model.learner, "aggregator_", None), "confusion_", None)
    if confusion is not None and np.shape(confusion)[0] == ann.n_workers:
        # the chance of a right answer on the classes the inferred labels hold
        shares = np.bincount(inferred_codes, minlength=ann.n_classes) / len(inferred_codes)
        table["accuracy"] = np.asarray(confusion).diagonal(axis1=1, axis2=2) @ shares
    return table[table["answers"] > 0].reset_index(drop=True)


def plot_history(history: pd.DataFrame, path: Path, title: str) -> None:
    """Training loss (and validation score, when recorded) per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    if "loss" in history:
        loss = history["loss"].dropna()
        ax.plot(np.arange(1, len(loss) + 1), loss.to_numpy(), label="training loss")
        ax.set(xlabel="epoch", ylabel="loss")
    if "val_score" in history and history["val_score"].notna().any():
        other = ax.twinx()
        score = history["val_score"].dropna()
        other.plot(np.arange(1, len(score) + 1), score.to_numpy(), color="C1",
                   label="validation score")
        other.set_ylabel("validation score")
    if "loss" not in history:
        ax.text(0.5, 0.5, "no per-epoch record", ha="center", va="center")
    ax.set_title(f"{title}: training")
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def plot_worker_agreement(workers: pd.DataFrame, path: Path, title: str) -> None:
    """Each annotator's agreement with the inferred labels against how many answers they
    gave (log scale), coloured by the estimated accuracy where there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    colour = workers["accuracy"] if "accuracy" in workers else None
    points = ax.scatter(workers["answers"], workers["agreement"], c=colour, cmap="viridis",
                        vmin=0, vmax=1, s=18)
    if colour is not None:
        fig.colorbar(points, ax=ax, label="estimated accuracy")
    ax.set(xscale="log", xlabel="answers given", ylabel="agreement with inferred labels",
           ylim=(-0.02, 1.02), title=f"{title}: {len(workers)} annotators")
    ax.grid(alpha=0.3)
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def _summary(model: TrainedModel, command: str | None, write_seconds: float) -> dict:
    learner = model.learner
    sizes = {"items": len(model.ids), "n_classes": len(learner.classes_)}
    if model.answers is not None:
        sizes |= {"answers": len(model.answers),
                  "workers": int((model.answers.worker_counts > 0).sum())}
    return {
        "command": command, "method": model.method,
        "learner": type(learner).__name__,
        "parameters": {k: v for k, v in learner.get_params(deep=False).items()
                       if not hasattr(v, "get_params")},
        "settings": model.settings, "classes": plain(learner.classes_), **sizes,
        "feature_columns": model.feature_columns, "id_column": model.id_column,
        "image_size": None if model.image_size is None else list(model.image_size),
        "dropped": model.dropped,
        **({"out_of_fold": {"folds": model.folds, "file": "oof.csv"}}
           if model.out_of_fold is not None else {}),
        "seconds": {"fit": round(model.seconds, 2), "write": round(write_seconds, 2)},
        "versions": {"python": platform.python_version(),
                     **{name: _version(name) for name in ("crowdlearn", "torch", "numpy")}},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def read_summary(folder: Path | str) -> dict:
    """The ``summary.json`` of a model folder written by ``crowdlearn fit`` (empty for a
    bare saved learner)."""
    path = Path(folder) / SUMMARY
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: damaged ({exc})") from None
