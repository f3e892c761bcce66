"""Planning a labelling budget from a pilot: how many labels per item, and which method?

MBEM's fixed-budget finding (Khetan, Lipton & Anandkumar, ICLR 2018, §5) — one label each for
many items can beat several labels each for fewer — depends on the crowd. :func:`plan` answers
the question for the user's own crowd before the budget is spent:

1. estimate the worker pool from a pilot (:func:`estimate_pool`): each worker's confusion
   matrix, shrunk hierarchically (crowd → the worker's accuracy → its matrix) around the
   posteriors of a Dawid–Skene fit (Dawid & Skene, JRSS-C 1979) with its pooled prior, each
   worker's share of the answers, and the number of workers;
2. simulate crowds drawn from that pool — each item gets r distinct workers, drawn with
   probability proportional to their pilot volume — on the user's items (with features: the
   pilot's inferred labels as stand-in truth) or on the embedded digits, for every redundancy
   r within the budget (``budget // r`` items), train every method on each and score it on
   held-out items (:class:`~crowdlearn.experiments.plan.PlanExperiment`). The redundancies are
   compared with common random numbers: one simulated crowd (seed) gives every redundancy the
   same items (nested), workers (nested) and answers, and the same network initialisation;
3. recommend the method of highest mean accuracy and, for it, the fewest labels per item whose
   accuracy, paired seed by seed with its best redundancy's, is within one standard error of
   it (:func:`recommend`), with a prediction interval over the simulated seeds.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.aggregation.base import as_annotations
from crowdlearn.aggregation.dawid_skene import DawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError

__all__ = ["Plan", "WorkerPool", "estimate_pool", "paired_gaps", "plan", "recommend"]

FEW_ANSWERS = 10  # below this many pilot answers a worker's confusion is mostly the prior
INTERVAL = 0.9  # coverage of the accuracy interval of the recommendation


@dataclass(frozen=True)
class WorkerPool:
    """The crowd a pilot reveals: ``confusion[w, k, l] = P(worker w answers l | class k)``,
    ``volume[w]`` the worker's share of the pilot's answers (sums to 1), ``answers[w]`` their
    number, and ``max_per_task`` the most distinct workers that answered one pilot task."""

    confusion: np.ndarray
    volume: np.ndarray
    answers: np.ndarray
    max_per_task: int
    workers: list = field(default_factory=list)
    classes: list = field(default_factory=list)

    @property
    def n_workers(self) -> int:
        return self.confusion.shape[0]

    @property
    def n_classes(self) -> int:
        return self.confusion.shape[1]

    def digest(self) -> str:
        """A short fingerprint (results of another pool are never resumed as this one's)."""
        h = hashlib.sha1(np.ascontiguousarray(self.confusion, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(self.volume, dtype=np.float64).tobytes())
        return h.hexdigest()[:12]

    def crowd(self):
        """The pool as a simulated :class:`~crowdlearn.simulate.Crowd`."""
        from crowdlearn.simulate import Crowd

        return Crowd(self.confusion)

    def assign(self, n_items: int, redundancy: int, n_labelled: int,
               seed: int) -> np.ndarray:
        """Workers for the first ``n_labelled`` of ``n_items`` items: ``redundancy`` distinct
        workers each, drawn without replacement with probability proportional to ``volume``
        (the Gumbel-top-k form of weighted sampling without replacement, Efraimidis &
        Spirakis, IPL 2006). Rows of the other items are -1, as
        :func:`crowdlearn.simulate.assign` returns them."""
        rng = np.random.default_rng(seed)
        w, r = self.n_workers, redundancy
        log_w = np.log(np.maximum(self.volume, 1e-300))
        out = np.full((n_items, r), -1, dtype=np.int64)
        step = max(1, 2_000_000 // w)  # rows per chunk: bounded memory for large pools
        for start in range(0, n_labelled, step):
            rows = min(step, n_labelled - start)
            keys = log_w + rng.gumbel(size=(rows, w))
            top = np.argpartition(-keys, r - 1, axis=1)[:, :r] if r < w else \
                np.broadcast_to(np.arange(w), (rows, w))
            out[start:start + rows] = np.sort(top, axis=1)
        return out

    def annotate(self, y: np.ndarray, assignment: np.ndarray, seed: int) -> Annotations:
        """Answers of the assigned workers (``assignment`` rows as :meth:`assign` returns
        them) to items of true class codes ``y``, each drawn from the worker's confusion row.

        The answer of worker w to item i depends only on (``seed``, i, w): a uniform from a
        counter-based hash (splitmix64; Steele, Lea & Flood, OOPSLA 2014) inverted through
        the row's cumulative distribution. Crowds of different redundancy drawn with one seed
        therefore agree wherever they share an (item, worker) pair — the common random
        numbers that let :func:`recommend` compare redundancies seed by seed."""
        item, slot = np.nonzero(assignment >= 0)
        worker = assignment[item, slot].astype(np.int64)
        u = _uniform(seed, item.astype(np.uint64) * np.uint64(self.n_workers)
                     + worker.astype(np.uint64))
        cdf = np.cumsum(self.confusion[worker, y[item]], axis=1)
        label = np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=1), self.n_classes - 1)
        used = np.zeros(len(y), dtype=bool)
        used[item] = True
        return Annotations(np.cumsum(used)[item] - 1, worker, label,
                           tasks=list(np.flatnonzero(used)), workers=list(range(self.n_workers)),
                           classes=list(range(self.n_classes)))

    def to_frame(self) -> pd.DataFrame:
        """One row per worker: answers, share of the answers and estimated accuracy (the mean
        of the confusion's diagonal, i.e. under balanced classes)."""
        diag = np.einsum("wkk->wk", self.confusion).mean(axis=1)
        return pd.DataFrame({"worker": self.workers or range(self.n_workers),
                             "answers": self.answers, "share": self.volume,
                             "accuracy": diag})


def _uniform(seed: int, counter: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) that depend only on ``(seed, counter)``: splitmix64's finaliser
    (Steele, Lea & Flood, OOPSLA 2014) of the counter offset by the seed, top 53 bits."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (np.asarray(counter, dtype=np.uint64) + np.uint64(1)) * golden \
            + np.uint64(seed % 2**64) * np.uint64(0xD1B54A32D192ED03)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def estimate_pool(pilot: Annotations | pd.DataFrame, *, source: str = "pilot",
                  strength: float = 2.0) -> WorkerPool:
    """The worker pool of a pilot (answers of several workers per task): each worker's
    confusion, answer shares, pool size.

    A pilot gives each worker a handful of answers — too few for a K×K matrix, enough for one
    accuracy — so the confusions are estimated hierarchically (empirical Bayes, as in the
    pooled prior of Dawid–Skene): the true labels' posteriors come from a Dawid–Skene fit
    (Dawid & Skene, JRSS-C 1979) with its pooled prior; each worker's accuracy ``s_w`` is
    its soft agreement with them, shrunk towards the crowd's with ``strength`` answers; the
    worker's prior confusion is ``s_w·I + (1 − s_w)·E``, with ``E`` the crowd's pattern of
    errors; and every row of the worker's confusion is its own soft counts plus
    ``strength`` answers of that prior. A worker with many answers gets its own matrix, one
    with few keeps at least its own accuracy (a plain Dawid–Skene MAP would give it about the
    crowd's average confusion, and a pool of hammers and spammers would look uniform).

    A pilot in which no task has two answers is an :class:`InputError`: worker quality is
    not identifiable from one answer per task."""
    ann = as_annotations(pilot)
    pairs = np.unique(ann.task.astype(np.int64) * ann.n_workers + ann.worker)
    counts = np.bincount(pairs // ann.n_workers, minlength=ann.n_tasks)  # distinct workers
    if counts.max() < 2:
        raise InputError(f"{source}: every task has one answer"
                         + (" (or several from one worker)" if len(pairs) < len(ann) else "")
                         + "; worker quality cannot be estimated from it: a pilot needs "
                         "tasks answered by several workers")
    if ann.n_classes < 2:
        raise InputError(f"{source}: every answer is {ann.classes[0]!r}; a plan needs at "
                         "least two classes")
    import warnings

    with warnings.catch_warnings():  # a pilot's few answers often leave a class unseen
        warnings.simplefilter("ignore")
        post = DawidSkene().fit(ann).predict_proba().to_numpy()
    confusion = _hierarchical_confusion(ann, post, strength)
    answers = ann.worker_counts
    return WorkerPool(confusion=confusion, volume=answers / answers.sum(), answers=answers,
                      max_per_task=int(counts.max()), workers=list(ann.workers),
                      classes=list(ann.classes))


def _hierarchical_confusion(ann: Annotations, post: np.ndarray, strength: float) -> np.ndarray:
    """W×K×K confusions: soft counts plus ``strength`` answers per row of a one-accuracy
    prior centred on the worker's shrunk accuracy and the crowd's error pattern."""
    w, k = ann.n_workers, ann.n_classes
    soft = np.zeros((w, k, k))  # soft[w, k, l]: expected answers l of worker w on class k
    np.add.at(soft, (ann.worker, slice(None), ann.label), post[ann.task])
    n = soft.sum(axis=(1, 2))
    correct = np.einsum("wkk->w", soft)
    crowd_acc = correct.sum() / n.sum()
    acc = (correct + strength * crowd_acc) / (n + strength)
    errors = soft.sum(axis=0) * (1 - np.eye(k)) + 1e-3 * (1 - np.eye(k))
    errors /= errors.sum(axis=1, keepdims=True)  # E[k, l]: where the crowd's errors go
    prior = acc[:, None, None] * np.eye(k) + (1 - acc)[:, None, None] * errors
    mats = soft + strength * prior
    return mats / mats.sum(axis=2, keepdims=True)


@dataclass
class Plan:
    """What :func:`plan` returns: ``results`` (one row per method, redundancy and seed),
    ``summary`` (mean, sd, interval per method and redundancy), ``recommendation`` (a dict:
    redundancy, method, items, accuracy, low, high), the estimated ``pool`` and the
    ``caveats`` of the simulation."""

    results: pd.DataFrame
    summary: pd.DataFrame
    recommendation: dict
    pool: WorkerPool
    caveats: list[str]

    def save(self, out: Path | str) -> None:
        """Write ``workers.csv`` (the estimated pool) and ``recommendation.json`` (the
        recommendation, caveats, pool and summary) into the folder ``out``, atomically."""
        from crowdlearn.outputs import atomic_write, write_table

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_table(self.pool.to_frame(), out / "workers.csv")
        record = {"recommendation": self.recommendation, "caveats": self.caveats,
                  "pool": {"workers": self.pool.n_workers,
                           "pilot_answers": int(self.pool.answers.sum()),
                           "max_workers_per_task": self.pool.max_per_task},
                  "summary": self.summary.to_dict(orient="records")}
        atomic_write(out / "recommendation.json", lambda p: p.write_text(
            json.dumps(_plain_json(record), indent=1, allow_nan=False) + "\n"))

    def __str__(self) -> str:
        r = self.recommendation
        labels = "label" if r["redundancy"] == 1 else "labels"
        text = (f"recommended: {r['redundancy']} {labels} per item ({r['items']:,} items) "
                f"with {r['method']}: expected accuracy {r['accuracy']:.3f}")
        if np.isfinite(r["low"]):
            text += f" ({INTERVAL:.0%} interval {r['low']:.3f}-{r['high']:.3f})"
        if r.get("rule") == "paired" and np.isfinite(r.get("gap", np.nan)) and (
                r["best_redundancy"] != r["redundancy"]):
            text += (f"; {100 * r['gap']:.1f} ± {100 * r['gap_se']:.1f} points below "
                     f"r={r['best_redundancy']} crowd by crowd, within one standard error")
        return text


def summarise(results: pd.DataFrame, budget: int) -> pd.DataFrame:
    """Mean, sd and a 90% (``INTERVAL``) prediction interval of accuracy per method and
    redundancy: ``mean ± t·sd·sqrt(1 + 1/n)`` over the n seeds, the range in which one more
    run of the same plan would fall if runs were normal (NaN with one seed)."""
    from scipy.stats import t as student

    grouped = results.groupby(["method", "redundancy"], sort=False)["accuracy"]
    table = grouped.agg(["mean", "std", "count"]).reset_index()
    n = table["count"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = student.ppf(0.5 + INTERVAL / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, q * table["std"].fillna(0).to_numpy() * np.sqrt(1 + 1 / n),
                        np.nan)
    table["low"] = np.clip(table["mean"] - half, 0, 1)
    table["high"] = np.clip(table["mean"] + half, 0, 1)
    table["items"] = budget // table["redundancy"].astype(int)
    return table


RULES = ("paired", "one-se", "best")


def recommend(summary: pd.DataFrame, rule: str | None = None,
              results: pd.DataFrame | None = None) -> dict:
    """The recommended row of ``summary`` as a plain dict.

    The method is the one with the highest mean accuracy. ``rule="best"`` takes its
    redundancy of highest mean. The other two take its smallest redundancy whose accuracy is
    within one standard error of that best one — the one-standard-error rule (Breiman et al.,
    Classification and Regression Trees, 1984; Hastie, Tibshirani & Friedman, The Elements of
    Statistical Learning, 2009, §7.10), here for fewer labels per item (more items labelled)
    when the simulated crowds cannot tell the redundancies apart. ``"one-se"`` uses the
    standard error of the best mean; ``"paired"`` (the default when the per-seed
    ``results`` are given, ``"one-se"`` otherwise) the standard error of the per-seed
    differences from the best redundancy, which common random numbers make share each
    seed's crowd, items and initialisation (a paired comparison: the between-crowd noise
    cancels). ``gap`` and ``gap_se`` are the
    recommendation's mean paired shortfall from the best redundancy (``best_redundancy``)
    and its standard error (NaN under the other rules). Only redundancies paired with the
    best on every seed it has are candidates."""
    if rule is None:
        rule = "one-se" if results is None else "paired"
    if rule not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    if rule == "paired" and results is None:
        raise InputError("the paired rule needs the per-seed results")
    order = summary.sort_values(["mean", "redundancy"], ascending=[False, True],
                                kind="stable")
    best = order.iloc[0]
    own = summary[summary["method"] == best["method"]]
    gap = gap_se = np.nan
    top = int(best["redundancy"])
    if rule == "one-se" and best["count"] > 1:
        se = float(best["std"]) / np.sqrt(best["count"])
        best = own[own["mean"] >= best["mean"] - se].sort_values("redundancy",
                                                                 kind="stable").iloc[0]
    elif rule == "paired":
        gaps = paired_gaps(results, str(best["method"]), int(best["redundancy"]))
        complete = gaps["pairs"] == gaps["pairs"].max()
        within = gaps[complete & (gaps["gap"] <= gaps["se"].fillna(0))].sort_values(
            "redundancy")
        r = int(within["redundancy"].iloc[0])
        gap, gap_se = float(within["gap"].iloc[0]), float(within["se"].iloc[0])
        best = own[own["redundancy"] == r].iloc[0]
    return {"redundancy": int(best["redundancy"]), "method": str(best["method"]),
            "items": int(best["items"]), "accuracy": float(best["mean"]),
            "low": float(best["low"]), "high": float(best["high"]),
            "seeds": int(best["count"]), "rule": rule, "gap": gap, "gap_se": gap_se,
            "best_redundancy": top}


def paired_gaps(results: pd.DataFrame, method: str, reference: int) -> pd.DataFrame:
    """For each redundancy of ``method``: the mean over seeds of the accuracy at redundancy
    ``reference`` minus its own on the same seed (``gap``), the standard error of that mean
    (``se``; NaN with one common seed) and the number of common seeds (``pairs``)."""
    rows = results[results["method"] == method]
    table = rows.pivot_table(index="seed", columns="redundancy", values="accuracy",
                             aggfunc="mean")
    diff = table[[reference]].to_numpy() - table.to_numpy()  # NaN where a seed is missing
    pairs = np.isfinite(diff).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a redundancy with no common seed
        gap = np.nanmean(diff, axis=0)
        se = np.nanstd(diff, axis=0, ddof=1) / np.sqrt(pairs)
    se = np.where(pairs > 1, se, np.nan)
    return pd.DataFrame({"redundancy": table.columns.astype(int), "gap": gap, "se": se,
                         "pairs": pairs})


def plan(pilot: Annotations | pd.DataFrame, budget: int, *,
         redundancies: Sequence[int] = (1, 2, 3, 5),
         methods: Sequence[str] = ("mv", "ds", "mbem"), seeds: int = 8,
         features=None, dataset: str = "digits", model: str | None = None,
         epochs: int = 30, batch_size: int = 64, lr: float = 1e-3, device: str = "auto",
         rule: str = "paired", out_dir: Path | str | None = None, restart: bool = False,
         jobs: int = 1,
         threads: int | None = 1, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> Plan:
    """Recommend a redundancy and a method for spending ``budget`` labels on the crowd that
    answered ``pilot`` (Annotations or a frame with task, worker, label columns).

    ``features``: the user's items (a :class:`~crowdlearn.features.Features`, as
    :func:`crowdlearn.read_features` returns, or an array whose row i is task id ``str(i)``);
    they must cover the pilot's tasks. The pilot's Dawid–Skene labels are the stand-in truth:
    on its tasks directly, on the other items through a logistic regression fitted to them,
    with a fifth of the items held out for testing. Without features the simulation runs on
    ``dataset`` (the embedded digits; a pilot with K < 10 classes uses the first K).

    ``seeds``: simulated crowds per method and redundancy, each shared by all redundancies
    (common random numbers). ``rule``: how the redundancy is chosen (:func:`recommend`).
    Every input is checked before anything is written. Cells are run by the sweep engine
    (:func:`~crowdlearn.experiments.sweep.run_sweep`) into ``out_dir`` (a temporary folder
    when None), resumably, with ``plan.png``, ``workers.csv`` and ``recommendation.json``
    (:meth:`Plan.save`); ``jobs``, ``threads``, ``log`` and ``progress`` as there.
    Accuracy is test accuracy of the model each method trains (``epochs`` at r = 1, scaled to
    keep the number of SGD steps fixed, as in ``crowdlearn experiment budget``).
    """
    from crowdlearn.experiments.plan import PlanExperiment, PlanSettings
    from crowdlearn.experiments.sweep import run_sweep

    ann = as_annotations(pilot)
    if rule not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    settings = PlanSettings(budget=budget, redundancy=tuple(redundancies),
                            methods=tuple(methods), seeds=seeds, dataset=dataset, model=model,
                            epochs=epochs, batch_size=batch_size, lr=lr, device=device,
                            rule=rule)
    settings.check_basic()
    if budget < ann.n_tasks:
        raise InputError(f"budget {budget} is smaller than the pilot's {ann.n_tasks} tasks: "
                         "it cannot label each of them once; the plan is for a job larger "
                         "than its pilot")
    if max(settings.redundancy) > ann.n_workers:
        raise InputError(f"redundancy {max(settings.redundancy)} is larger than the pool of "
                         f"{ann.n_workers} workers in the pilot: an item needs that many "
                         "distinct workers")
    items = _user_items(ann, features) if features is not None else None
    pool = estimate_pool(ann)
    settings.pool, settings.items = pool, items
    caveats = _caveats(pool, items, settings)
    if items is None:  # the embedded items may be fewer than the budget buys: scale it down
        n_train, _ = settings.train_size()
        if budget // min(settings.redundancy) > n_train:
            settings.budget = n_train * min(settings.redundancy)
            caveats.append(f"{settings.dataset} has {n_train} training items: the budget is "
                           f"simulated at {settings.budget} labels ({settings.budget / budget:.0%}"
                           " of yours) with the same pool; give --features to simulate yours")
    settings.check()
    with tempfile.TemporaryDirectory(prefix="crowdlearn-plan-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        results = run_sweep(PlanExperiment(settings), out, log or (lambda line: None),
                            restart=restart, jobs=jobs, threads=threads, progress=progress)
    summary = summarise(results, budget)
    best = recommend(summary, rule, results)
    found = Plan(results, summary, best, pool, caveats)
    if out_dir is not None:
        found.save(out_dir)
    return found


def _plain_json(value):
    """``value`` ready for strict JSON: numpy scalars as Python numbers, a missing or
    infinite number (an interval from one simulated crowd) as null."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _user_items(ann: Annotations, features):
    """The user's items with stand-in labels: the pilot's Dawid–Skene labels on its tasks, a
    logistic regression's (fitted to those, weighted by their posterior) elsewhere."""
    from crowdlearn.experiments.plan import PlanItems
    from crowdlearn.features import Features

    if not isinstance(features, Features):
        X = np.asarray(features)
        if X.ndim < 2:
            raise InputError(f"features must have one row per item, got shape {X.shape}")
        features = Features(X, np.array([str(i) for i in range(len(X))], dtype=object),
                            "features")
    wanted = pd.Index([str(t) for t in ann.tasks])
    position = pd.Index(features.ids).get_indexer(wanted)
    missing = wanted[position < 0]
    if len(missing):
        shown = ", ".join(map(str, missing[:3])) + (", ..." if len(missing) > 3 else "")
        raise InputError(f"{features.source}: {len(missing)} of the pilot's {len(wanted)} "
                         f"tasks have no feature row ({shown}); the features must cover "
                         "the pilot's tasks")
    ds = DawidSkene().fit(ann)
    proba = ds.predict_proba().to_numpy()
    y_pilot = proba.argmax(axis=1)
    flat = features.X.reshape(len(features.X), -1).astype(np.float32)
    y = np.full(len(flat), -1, dtype=np.int64)
    y[position] = y_pilot
    rest = np.flatnonzero(y < 0)
    if len(rest):
        y[rest] = _extend_labels(flat, position, y_pilot, proba.max(axis=1), rest,
                                 ann.n_classes)
    return PlanItems(X=features.X, y=y, n_classes=ann.n_classes, source=features.source)


def _extend_labels(flat: np.ndarray, known: np.ndarray, y_known: np.ndarray,
                   weight: np.ndarray, rest: np.ndarray, k: int) -> np.ndarray:
    """Stand-in labels for items outside the pilot: a multinomial logistic regression on
    standardised features, fitted to the pilot's labels weighted by their confidence."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y_known)) < 2:
        return np.full(len(rest), y_known[0], dtype=np.int64)
    mean, sd = flat[known].mean(axis=0), flat[known].std(axis=0) + 1e-6
    model = LogisticRegression(C=1.0, max_iter=500)
    model.fit((flat[known] - mean) / sd, y_known, sample_weight=weight)
    predicted = model.predict((flat[rest] - mean) / sd)
    return predicted.astype(np.int64)


MIN_SEEDS = 3  # simulated crowds below which the spread of accuracies is not measured


def _caveats(pool: WorkerPool, items, settings) -> list[str]:
    notes = []
    if items is not None:
        notes.append("no true labels: accuracies are measured against the pilot's Dawid-Skene "
                     "labels, extended to the other items by a logistic regression; they are "
                     "optimistic (the stand-in truth is learnable by construction), the "
                     "ranking of redundancies is what transfers")
    else:
        notes.append(f"simulated on the {settings.dataset} items (no --features given): the "
                     "accuracies are theirs, not your items'; the ranking of redundancies and "
                     "methods is what transfers")
        if pool.n_classes < 10 and settings.dataset == "digits":
            notes.append(f"the pilot has {pool.n_classes} classes: the simulation uses the "
                         f"digits 0-{pool.n_classes - 1}")
    few = int((pool.answers < FEW_ANSWERS).sum())
    if few:
        notes.append(f"{few} of the {pool.n_workers} workers gave fewer than {FEW_ANSWERS} "
                     "pilot answers: only their overall accuracy is estimated (their errors "
                     "follow the crowd's pattern), and it is uncertain")
    if max(settings.redundancy) > pool.max_per_task:
        notes.append(f"redundancies above {pool.max_per_task} (the most workers on one pilot "
                     "task) assume more workers can answer one task than the pilot shows")
    if settings.seeds < MIN_SEEDS:
        notes.append(f"{settings.seeds} simulated crowd(s): the interval and the paired rule "
                     f"need at least {MIN_SEEDS} to mean much (the default is 8)")
    return notes
