"""Active relabelling: after one answer per task, where should the next answers go?

Every task starts with one answer; then ``rounds`` rounds buy extra answers worth
``extra_labels`` × the number of tasks in all, at most one per task a round, chosen by a
strategy:

- ``ours``: :func:`crowdlearn.active.next_to_label` (the consensus's label model with a
  model's out-of-fold probabilities as prior, scored by the information one more answer
  brings, a tenth of each batch as checks on settled tasks);
- ``activelab``: cleanlab's ActiveLab scores (Goh & Mueller 2023), lowest first, given the
  same model probabilities (``cleanlab`` is a benchmark extra: without it this strategy is
  skipped, with a message);
- ``random``: tasks drawn uniformly;
- ``uniform``: plain redundancy, the tasks with the fewest answers first;
- ``oracle`` (replay only, and only on request): a *reference*, not a method — it reads the
  truth and spends each round on the tasks whose current consensus is wrong, then on the
  least confident correct ones. It shows how much a choice can gain from a crowd's answers,
  but it is greedy and its picks bias the label model's view of the workers (it pairs
  wrong answers with others, so pairs disagree more often), so it is not an upper bound.

After each round it records the consensus accuracy (``aggregator``: one-coin Dawid–Skene by
default, on the answers bought, against the truth, ``consensus_accuracy``), the plain vote's
(``vote_accuracy``, ties to the first class) and, with features, the test accuracy of networks
trained on those answers by the ``methods`` (``<method>_accuracy``: MBEM,
Dawid–Skene-then-train; one training each, without the self-training step, to stay cheap).
The model that feeds ``ours`` and ``activelab`` is cheap on purpose too: a logistic regression
on 50 principal components, out-of-fold over 5 folds, trained on the current consensus.

Answers come from a pool that fixes, per seed, the order in which each task's answers are
revealed, so every strategy draws from the same answers (common random numbers):

- simulated (``dataset``): a crowd of ``workers`` (hammer–spammer or class-wise, MBEM's
  worker models) answers each of ``n_items`` shuffled training items with ``rounds + 1``
  distinct workers (balanced loads), in a random order;
- replay (``replay`` and ``truth`` files): a real crowd's answers, each task's in a random
  order; a task whose answers are used up is no longer offered. No features: no model. The
  answers are read as :meth:`Annotations.from_file` reads a long file, with ``keep`` (a
  worker's repeated answers to a task), ``sep`` and ``encoding``; the truth with the same
  encoding, its separator sniffed (runs of blanks too). When some tasks have no gold label,
  :func:`run_active` says once on how many tasks the accuracies are.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from crowdlearn.active import consensus_model
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.experiments.options import (
    check_crowd_learners,
    check_crowd_options,
    check_methods,
    check_settings,
)
from crowdlearn.experiments.sweep import Experiment, dataset_splits, run_sweep
from crowdlearn.labels import positions
from crowdlearn.outputs import atomic_write

STRATEGIES = ("ours", "activelab", "random", "uniform", "oracle")
REFERENCES = ("oracle",)  # read the truth: replay only, never run unless asked
SIM_METHODS = ("mbem", "ds")
DEFAULT_ITEMS = 2000


@dataclass
class ActiveSettings:
    """Settings of one sweep (all but ``seeds`` and ``strategies`` recorded in every row)."""

    dataset: str = "digits"
    replay: str | None = None  # answers file of a real crowd (long: task, worker, label)
    truth: str | None = None  # its gold labels (task, label)
    columns: tuple[str, str, str] = ("task", "worker", "label")  # the replay file's columns
    keep: str = "error"  # the replay's repeated answers (Annotations.from_file's keep)
    sep: str | None = None  # the replay's column separator (None: sniffed)
    encoding: str | None = None  # the replay's and the truth's text encoding (None: UTF-8)
    workers: int = 20
    gamma: float = 0.35
    worker_model: str = "hammer-spammer"
    n_items: int | None = None  # simulated: training items used (default up to 2,000)
    extra_labels: float = 1.5  # extra answers bought, as a multiple of the number of tasks
    aggregator: str = "onecoin"  # the consensus: onecoin or ds
    rounds: int = 3
    strategies: tuple[str, ...] = tuple(s for s in STRATEGIES if s not in REFERENCES)
    methods: tuple[str, ...] = SIM_METHODS
    seeds: int = 3
    model: str | None = None
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    device: str = "cpu"
    extra: dict = field(default_factory=dict)  # method → its own learner options

    def replay_pool(self, seed: int) -> AnswerPool:
        """The replayed crowd's answers read with these settings, each task's in an order
        drawn from ``seed``."""
        return replay_pool(self.replay, self.truth, seed, self.columns, keep=self.keep,
                           sep=self.sep, encoding=self.encoding)

    def check(self) -> None:
        from crowdlearn.experiments.budget import WORKER_MODELS
        from crowdlearn.methods import CROWD_METHODS

        check_settings(self)
        check_methods(self.strategies, STRATEGIES, "strategy")
        consensus_model(self.aggregator)  # a known name
        if self.methods:
            check_methods(self.methods, CROWD_METHODS)
        check_crowd_options(self.extra)
        check_crowd_learners(self.methods or (), self)
        if (self.replay is None) != (self.truth is None):
            raise InputError("a replay needs both the answers (--replay) and the truth "
                             "(--truth)")
        if self.replay is None and (self.keep, self.sep, self.encoding) != (
                "error", None, None):
            raise InputError("--keep, --sep and --encoding say how to read a replay's files: "
                             "give --replay and --truth, or leave them out")
        if self.replay is not None:
            if self.methods:
                raise InputError("a replayed crowd has no features: no model can be trained "
                                 "(give no --methods)")
            pool = self.replay_pool(0)
            spare = int((pool.available - 1).sum())
            if spare < self.extra_budget(pool.n_tasks):
                raise InputError(f"{self.replay}: its tasks hold {spare:,} answers beyond "
                                 f"the first, fewer than the {self.extra_budget(pool.n_tasks):,} "
                                 f"extra answers asked ({self.extra_labels}× {pool.n_tasks:,} "
                                 "tasks)")
            return
        if "oracle" in self.strategies:
            raise InputError("the oracle strategy is a reference for replays only (it reads "
                             "--truth): give --replay and --truth")
        if self.worker_model not in WORKER_MODELS:
            raise InputError(f"unknown worker model {self.worker_model!r}; choose "
                             f"{', '.join(WORKER_MODELS)}")
        if self.rounds + 1 > self.workers:
            raise InputError(f"{self.rounds} rounds need {self.rounds + 1} distinct workers "
                             f"per task, got {self.workers} workers")
        if self.extra_labels > self.rounds:
            raise InputError(f"at most one extra answer per task a round: {self.rounds} "
                             f"rounds buy at most {self.rounds}× the tasks, not "
                             f"{self.extra_labels}×")
        n_train = len(dataset_splits(self.dataset)[0])
        if self.n_items is not None and not 2 <= self.n_items <= n_train:
            raise InputError(f"n_items must be between 2 and the {n_train} training items "
                             f"of {self.dataset}, got {self.n_items}")

    def extra_budget(self, n_tasks: int) -> int:
        return int(round(self.extra_labels * n_tasks))

    @property
    def model_name(self) -> str:
        return self.model or "mlp"


class AnswerPool:
    """Every answer a task can get, in the order they are revealed: arrays sorted by task,
    ``start[t]`` the first answer of task t and ``available[t]`` how many it holds."""

    def __init__(self, task: np.ndarray, worker: np.ndarray, label: np.ndarray, tasks: list,
                 workers: list, classes: list, truth: np.ndarray,
                 unanswered_truth: tuple[str, ...] = ()):
        order = np.argsort(task, kind="stable")
        self.task, self.worker, self.label = task[order], worker[order], label[order]
        self.tasks, self.workers, self.classes = tasks, workers, classes
        self.truth = truth  # class code per task, -1 where unknown
        self.unanswered_truth = unanswered_truth  # tasks of a truth file without answers
        self.available = np.bincount(self.task, minlength=len(tasks))
        self.start = np.concatenate([[0], np.cumsum(self.available)[:-1]])
        self.position = np.arange(len(self.task)) - self.start[self.task]

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    def revealed(self, shown: np.ndarray) -> Annotations:
        """The answers of the first ``shown[t]`` of each task."""
        keep = self.position < shown[self.task]
        return Annotations._trusted(self.task[keep], self.worker[keep], self.label[keep],
                                    self.tasks, self.workers, self.classes)

    def digest(self) -> str:
        """A fingerprint of the answers and the truth, whatever order each task's answers
        are in: a replay's results are resumed only on the data they were made from."""
        import hashlib

        order = np.lexsort((self.label, self.worker, self.task))
        h = hashlib.sha1()
        for codes in (self.task[order], self.worker[order], self.label[order], self.truth):
            h.update(np.ascontiguousarray(codes, dtype=np.int64).tobytes())
        for ids in (self.tasks, self.workers, self.classes):
            h.update("\x1f".join(map(str, ids)).encode() + b"\x1e")
        return h.hexdigest()[:12]

    def shuffled(self, seed: int) -> AnswerPool:
        """The same answers, each task's in a random order."""
        rng = np.random.default_rng(seed)
        key = self.task * 1.0 + rng.random(len(self.task)) * 0.5
        order = np.argsort(key, kind="stable")
        return AnswerPool(self.task[order], self.worker[order], self.label[order], self.tasks,
                          self.workers, self.classes, self.truth, self.unanswered_truth)


@functools.lru_cache(maxsize=4)
def _replay_base(answers: str, truth: str, columns: tuple[str, str, str], keep: str,
                 sep: str | None, encoding: str | None, stamp: tuple = ()) -> AnswerPool:
    """The replay's pool read once per sweep (``stamp``: the files' versions, so that a
    file rewritten since is read again)."""
    from crowdlearn.inputs import read_table, source_name, task_labels_from_table

    ann = Annotations.from_file(answers, "long", *columns, keep=keep, sep=sep,
                                encoding=encoding)
    # the truth's separator is sniffed, runs of blanks included (``7 cat``): it often comes
    # from another tool than the answers
    gold = task_labels_from_table(read_table(truth, encoding=encoding, blank_separated=True),
                                  source_name(truth), known_tasks=ann.tasks)
    # tasks and classes matched as text (a file's "7" is a frame's 7)
    where = positions(ann.tasks, gold.index)
    answered = where >= 0
    labels = gold.astype(str).to_numpy()
    classes = [str(c) for c in ann.classes]
    code = pd.Index(classes).get_indexer(labels)
    unknown = np.flatnonzero(answered & (code < 0))
    if len(unknown):
        raise InputError(f"{truth}: task {str(gold.index[unknown[0]])!r} has label "
                         f"{labels[unknown[0]]!r}, which no answer gives (classes: "
                         f"{', '.join(classes)})")
    if not answered.any():
        raise InputError(f"{truth}: none of its tasks are answered in {answers}")
    codes = np.full(ann.n_tasks, -1, dtype=np.int64)
    codes[where[answered]] = code[answered]
    return AnswerPool(ann.task.astype(np.int64), ann.worker.astype(np.int64),
                      ann.label.astype(np.int64), list(ann.tasks), list(ann.workers),
                      list(ann.classes), codes,
                      tuple(pd.Index(gold.index.astype(str))[~answered]))


def replay_pool(answers: str, truth: str, seed: int,
                columns: tuple[str, str, str] = ("task", "worker", "label"), *,
                keep: str = "error", sep: str | None = None,
                encoding: str | None = None) -> AnswerPool:
    """A real crowd's answers (``columns``: their task, worker and label columns; ``keep``,
    ``sep``, ``encoding`` as :meth:`Annotations.from_file` takes them, ``encoding`` also for
    the truth), each task's in an order drawn from ``seed``."""
    return _replay_base(str(answers), str(truth), tuple(columns), keep, sep, encoding,
                        _stamp(answers, truth)).shuffled(seed)


def _stamp(*paths) -> tuple:
    """Each file's modification time and size (nothing where one cannot be read: the
    reader names the problem)."""
    try:
        return tuple((f.st_mtime_ns, f.st_size) for f in map(os.stat, paths))
    except OSError:
        return ()


def simulated_pool(settings: ActiveSettings, seed: int):
    """``(pool, X, test)``: ``n_items`` shuffled training items answered by ``rounds + 1``
    distinct simulated workers each, revealed in a random order."""
    from crowdlearn.experiments.budget import WORKER_MODELS
    from crowdlearn.simulate import assign

    s = settings
    train, test = dataset_splits(s.dataset)
    n = s.n_items or min(len(train), DEFAULT_ITEMS)
    order = np.random.default_rng(seed).permutation(len(train))[:n]
    X, y = train.X[order], train.y[order]
    crowd = WORKER_MODELS[s.worker_model](s.workers, train.n_classes, s.gamma, seed)
    r = s.rounds + 1
    sets = assign(n, s.workers, r, seed=seed)
    ann = crowd.annotate(y, sets, seed, tasks=list(range(n)), classes=list(train.classes))
    pool = AnswerPool(ann.task.astype(np.int64), ann.worker.astype(np.int64),
                      ann.label.astype(np.int64), list(range(n)), list(range(s.workers)),
                      list(train.classes), y.astype(np.int64))
    return pool.shuffled(seed), X, test


# ---------------------------------------------------------------------- strategies
Strategy = Callable[..., np.ndarray]


def _choose_ours(ann, eligible, size, proba, rng, aggregator) -> np.ndarray:
    from crowdlearn.active import next_to_label

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = next_to_label(ann, proba, k=size, candidates=[ann.tasks[i] for i in eligible],
                               aggregator=consensus_model(aggregator),
                               seed=int(rng.integers(2**31)))
    return ann.task_codes(ranked["task"].tolist())


def _choose_activelab(ann, eligible, size, proba, rng, aggregator) -> np.ndarray:
    scores = activelab_scores(ann, proba)
    ties = rng.random(len(eligible))
    return eligible[np.lexsort((ties, scores[eligible]))[:size]]


def _choose_random(ann, eligible, size, proba, rng, aggregator) -> np.ndarray:
    return rng.choice(eligible, size=size, replace=False)


def _choose_uniform(ann, eligible, size, proba, rng, aggregator) -> np.ndarray:
    ties = rng.random(len(eligible))
    return eligible[np.lexsort((ties, ann.task_counts[eligible]))[:size]]


def _choose_oracle(ann, eligible, size, proba, rng, aggregator, *, truth) -> np.ndarray:
    """The reference that reads the truth: first the tasks whose consensus is wrong, then
    the correct ones; each group least confident first (the easiest to change)."""
    post = consensus(ann, aggregator)[eligible]
    known = truth[eligible]
    right = (post.argmax(1) == known) | (known < 0)  # a task without gold counts as right
    ties = rng.random(len(eligible))
    return eligible[np.lexsort((ties, post.max(1), right))[:size]]


CHOOSERS: dict[str, Strategy] = {"ours": _choose_ours, "activelab": _choose_activelab,
                                 "random": _choose_random, "uniform": _choose_uniform,
                                 "oracle": _choose_oracle}


def activelab_scores(ann: Annotations, proba: np.ndarray) -> np.ndarray:
    """cleanlab's ActiveLab quality score of every task (lower: relabel first), from the
    answers as a tasks × workers matrix and the model's probabilities."""
    from cleanlab.multiannotator import get_active_learning_scores

    matrix = np.full((ann.n_tasks, ann.n_workers), np.nan)
    matrix[ann.task, ann.worker] = ann.label
    matrix = matrix[:, ann.worker_counts > 0]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # and cleanlab's printed notes on lone annotators
        scores, _ = get_active_learning_scores(pd.DataFrame(matrix), proba)
    return np.asarray(scores, dtype=np.float64)


def has_cleanlab() -> bool:
    try:
        import cleanlab.multiannotator  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------- measurements
def consensus(ann: Annotations, name: str = "onecoin") -> np.ndarray:
    """Posteriors of the label model ``name`` (``onecoin`` or ``ds``, library defaults)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return consensus_model(name).fit(ann).posteriors_


def model_proba(Z: np.ndarray, labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Out-of-fold class probabilities of a logistic regression trained on ``labels``
    (5 folds), smoothed towards uniform by 2% so that no class is ruled out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    proba = np.full((len(labels), k), 1.0 / k)
    for fit, held in KFold(5, shuffle=True, random_state=seed).split(Z):
        present = np.unique(labels[fit])
        if len(present) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = LogisticRegression(max_iter=200).fit(Z[fit], labels[fit])
        proba[held] = 0.0
        proba[np.ix_(held, clf.classes_)] = clf.predict_proba(Z[held])
    return 0.98 * proba + 0.02 / k


def _embedding(X: np.ndarray, seed: int) -> np.ndarray:
    """Standardised principal components (at most 50) of the flattened items."""
    from sklearn.decomposition import PCA

    flat = X.reshape(len(X), -1).astype(np.float64)
    flat = (flat - flat.mean(0)) / (flat.std(0) + 1e-6)
    n = min(50, flat.shape[1], len(flat) - 1)
    return PCA(n, random_state=seed).fit_transform(flat)


class ActiveExperiment(Experiment):
    """Cells (strategy, seed): one strategy's rounds on one seed's pool; one row per round
    (round 0: one answer per task)."""

    name = "active"
    keys = ("strategy", "seed")
    cell_fields = ("seeds", "strategies")
    added_settings: ClassVar[dict] = {  # the values of tables written before these settings
        "columns": ("task", "worker", "label"), "keep": "error", "sep": "none",
        "encoding": "none", "replay_data": "none"}

    def recorded(self) -> dict:
        # None would come back from results.csv as NaN, and the sweep would not resume
        record = {k: "none" if v is None or v in ((), "") else v
                  for k, v in super().recorded().items()}
        # the files' paths do not say what they held: results of an edited file are not kept,
        # and the same file named another way (./a.csv, its absolute path) resumes
        s = self.settings
        record["replay_data"] = "none" if s.replay is None else s.replay_pool(0).digest()
        for name in ("replay", "truth"):
            if record[name] != "none":
                record[name] = Path(record[name]).name
        return record

    def cells(self) -> list[dict]:
        s = self.settings
        return [{"strategy": st, "seed": seed} for seed in range(s.seeds)
                for st in s.strategies if st != "activelab" or has_cleanlab()]

    def run(self, cell) -> list[dict]:
        s, seed, strategy = self.settings, cell["seed"], cell["strategy"]
        if s.replay is not None:
            pool, X, test = s.replay_pool(seed), None, None
        else:
            pool, X, test = simulated_pool(s, seed)
        Z = None if X is None else _embedding(X, seed)
        rng = np.random.default_rng([seed, STRATEGIES.index(strategy)])
        shown = np.ones(pool.n_tasks, dtype=np.int64)
        total = s.extra_budget(pool.n_tasks)
        sizes = np.diff(np.linspace(0, total, s.rounds + 1).round().astype(int))
        rows = [self._measure(cell, 0, pool, shown, X, test, seed)]
        choose = CHOOSERS[strategy]
        if strategy == "oracle":
            choose = functools.partial(choose, truth=pool.truth)
        for rnd, size in enumerate(sizes, 1):
            ann = pool.revealed(shown)
            eligible = np.flatnonzero(shown < pool.available)
            size = min(int(size), len(eligible))
            proba = self._proba(ann, Z, pool, seed, strategy)
            chosen = choose(ann, eligible, size, proba, rng, s.aggregator)
            shown[chosen] += 1
            rows.append(self._measure(cell, rnd, pool, shown, X, test, seed))
        return rows

    def _proba(self, ann, Z, pool, seed, strategy) -> np.ndarray | None:
        """The model probabilities a strategy sees: out-of-fold ones with features; without,
        none for ours and the class shares of the votes for ActiveLab (which needs some)."""
        if strategy not in ("ours", "activelab"):
            return None
        k = len(pool.classes)
        if Z is None:
            if strategy == "ours":
                return None
            shares = ann.vote_counts.sum(0) / len(ann)
            return np.tile(0.98 * shares + 0.02 / k, (ann.n_tasks, 1))
        return model_proba(Z, consensus(ann, self.settings.aggregator).argmax(1), k, seed)

    def _measure(self, cell, rnd, pool, shown, X, test, seed) -> dict:
        s = self.settings
        ann = pool.revealed(shown)
        gold = pool.truth >= 0
        post = consensus(ann, s.aggregator)
        row = {**cell, "round": rnd, "extra_per_task": round((len(ann) - pool.n_tasks)
                                                             / pool.n_tasks, 4),
               "consensus_accuracy": float((post.argmax(1) == pool.truth)[gold].mean())}
        votes = ann.vote_counts
        # the plain vote's labels (a method "mv" adds its trained network's mv_accuracy)
        row["vote_accuracy"] = float((votes.argmax(1) == pool.truth)[gold].mean())
        for method in s.methods:
            row[f"{method}_accuracy"] = self._train(method, X, ann, test, seed)
        return row

    def _train(self, method, X, ann, test, seed) -> float:
        from crowdlearn.learners import make_crowd_learner

        s = self.settings
        learner = make_crowd_learner(method, self_training=False, model=s.model_name,
                                     epochs=s.epochs,
                                     batch_size=s.batch_size, lr=s.lr, device=s.device,
                                     seed=seed, **s.extra.get(method, {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learner.fit(X, ann)
        return float((learner.predict_proba(test.X).argmax(1) == test.y).mean())

    def describe(self, cell, rows) -> str:
        last = rows[-1]
        models = "".join(f", {m} {last[f'{m}_accuracy']:.3f}" for m in self.settings.methods)
        return (f"seed {cell['seed']} {cell['strategy']}: consensus "
                f"{rows[0]['consensus_accuracy']:.3f} -> {last['consensus_accuracy']:.3f}"
                f"{models}")

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        s = self.settings
        return frame[frame["strategy"].isin(s.strategies) & (frame["seed"] < s.seeds)]

    def plot(self, results: pd.DataFrame, path: Path) -> None:
        s = self.settings
        where = (Path(s.replay).name if s.replay else
                 f"{s.dataset}, {s.workers} workers, {s.worker_model} γ={s.gamma}")
        plot_active(results, path, measures=["consensus"] + list(s.methods), title=where)


def plot_active(results: pd.DataFrame, path: Path | str, measures: list[str],
                title: str = "") -> None:
    """Accuracy against extra answers per task, one panel per measure (consensus, then each
    trained method), one line per strategy (a reference dashed): mean over seeds with ±1 sd."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(measures), figsize=(4.6 * len(measures), 4),
                             layout="constrained", squeeze=False)
    for ax, measure in zip(axes[0], measures, strict=True):
        column = f"{measure}_accuracy"
        for strategy, group in results.groupby("strategy", sort=False):
            stats = group.groupby("round").agg(x=("extra_per_task", "mean"),
                                               mean=(column, "mean"), sd=(column, "std"))
            stats["sd"] = stats["sd"].fillna(0.0)
            reference = strategy in REFERENCES  # dashed: not a method, it reads the truth
            ax.plot(stats["x"], stats["mean"], marker="o", linestyle="--" if reference else "-",
                    label=f"{strategy} (reference)" if reference else strategy)
            ax.fill_between(stats["x"], stats["mean"] - stats["sd"],
                            stats["mean"] + stats["sd"], alpha=0.15)
        ax.set(xlabel="extra answers per task", title=measure if measure == "consensus"
               else f"test accuracy, {measure}",
               ylabel="consensus accuracy" if measure == "consensus" else "test accuracy")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.suptitle(title)
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)


def run_active(settings: ActiveSettings, out_dir: Path | str,
               log: Callable[[str], None] = print, *, restart: bool = False, jobs: int = 1,
               threads: int | None = None, progress=None) -> pd.DataFrame:
    """Run (or resume) the sweep into ``out_dir/results.csv`` and ``out_dir/active.png``;
    return this sweep's rows (one per strategy, seed and round). Without cleanlab the
    ActiveLab strategy is skipped, and ``log`` says so."""
    settings.check()  # bad settings fail before any notice
    if settings.replay is not None:
        _warn_partial_truth(settings.replay_pool(0), settings.truth)
    if "activelab" in settings.strategies and not has_cleanlab():
        if set(settings.strategies) == {"activelab"}:
            raise InputError("the activelab strategy needs cleanlab (pip install "
                             "'crowdlearn[bench]'), and no other strategy is given")
        log("cleanlab is not installed (pip install 'crowdlearn[bench]'): the activelab "
            "strategy is skipped")
    return run_sweep(ActiveExperiment(settings), out_dir, log, restart=restart, jobs=jobs,
                     threads=threads, progress=progress)


def _warn_partial_truth(pool: AnswerPool, truth: str) -> None:
    """Say once, as a :class:`~crowdlearn.errors.CrowdlearnWarning`, that a replay's
    accuracies are on the tasks with a gold label only, when some have none; the truth's
    tasks without answers are counted, with a hint when their ids differ from answered ones
    only in leading zeros or blanks (:func:`crowdlearn.label_files.id_hint`)."""
    from crowdlearn.errors import CrowdlearnWarning
    from crowdlearn.label_files import id_hint

    scored = int((pool.truth >= 0).sum())
    if scored < pool.n_tasks:
        extra = pool.unanswered_truth
        hint = id_hint(extra, pool.tasks) or "; ids are compared as written"
        warnings.warn(f"{Path(truth).name}: scored on {scored:,} of {pool.n_tasks:,} tasks; "
                      f"{pool.n_tasks - scored:,} have no gold label" + (
                          f" ({len(extra):,} tasks of the truth file have no answer, e.g. "
                          f"{', '.join(map(repr, extra[:3]))}{hint})"
                          if extra else ""), CrowdlearnWarning, stacklevel=3)


def active_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds of every accuracy column, strategy × round."""
    columns = [c for c in results.columns if c.endswith("_accuracy")]
    grouped = results.groupby(["strategy", "round"], sort=False)
    table = grouped[columns].agg(["mean", "std"])
    table.columns = [f"{c}_{stat}" for c, stat in table.columns]
    table.insert(0, "extra_per_task", grouped["extra_per_task"].mean())
    return table.reset_index()


def active_finding(results: pd.DataFrame) -> str:
    """What the sweep shows about consensus accuracy (computed, never assumed): ours against
    ActiveLab at every round, and against random choice at the end."""
    mean = results.groupby(["strategy", "round"])["consensus_accuracy"].mean()
    strategies = set(results["strategy"])
    if "ours" not in strategies:
        return ""
    last = int(results["round"].max())
    text = f"Consensus accuracy after the last round: ours {mean['ours'][last]:.1%}"
    if "activelab" in strategies:
        gaps = (mean["ours"] - mean["activelab"]) * 100
        worst = int(gaps.idxmin())
        text += (f"; against ActiveLab {gaps[last]:+.1f} points at the end, "
                 f"{'at least as good at every round' if (gaps >= 0).all() else 'behind'}"
                 f" (worst round {worst}: {gaps[worst]:+.1f})")
    for other in ("random", "uniform"):
        if other in strategies:
            text += f"; {(mean['ours'][last] - mean[other][last]) * 100:+.1f} points " \
                    f"against {other}"
    if "oracle" in strategies:
        text += f"; the oracle (a reference that reads the truth) {mean['oracle'][last]:.1%}"
    return text + "."
