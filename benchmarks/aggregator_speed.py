"""Fit time of every registered aggregator at scale, and against crowd-kit at 100k answers.

    python -m benchmarks.aggregator_speed                      # 10M answers, K = 2 and 5
    python -m benchmarks.aggregator_speed --tasks 10000 --crowdkit --methods glad,mace,kos,mmsr

Simulated crowds: each task answered by 10 of 2,000 workers with balanced loads; workers of
mixed quality (K = 2: ``benchmarks.synthetic.mixed_binary_workers``; K > 2: 60% accurate
(0.6–0.95), 25% near random, 15% answering one favourite class half the time). The
``Annotations`` are built from codes once and every method is timed on them alone (its fit,
with its defaults); ``--crowdkit`` also times crowd-kit's same method on the same answers as
a DataFrame, with the stopping rule and iteration budget of its defaults, in this
interpreter. Methods that need gold (``gold-mv``) get the first 5% of tasks' truth.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from benchmarks.real_crowds import crowdkit_available
from benchmarks.synthetic import answer, mixed_binary_workers, strided_worker_sets
from crowdlearn import Annotations
from crowdlearn.methods import available_aggregators, make_aggregator

CROWDKIT = {"mv": "MajorityVote", "ds": "DawidSkene", "onecoin": "OneCoinDawidSkene",
            "wawa": "Wawa", "zbs": "ZeroBasedSkill", "glad": "GLAD", "mace": "MACE",
            "kos": "KOS", "mmsr": "MMSR"}


def workers(n_workers: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """W×K×K confusion matrices of mixed quality."""
    if k == 2:
        return mixed_binary_workers(n_workers, rng)
    kind = rng.choice(3, size=n_workers, p=[0.6, 0.25, 0.15])
    acc = np.where(kind == 0, rng.uniform(0.6, 0.95, n_workers),
                   rng.uniform(1 / k, 1.5 / k, n_workers))
    conf = np.repeat(((1 - acc) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
    conf[:, np.arange(k), np.arange(k)] = acc[:, None]
    favourite = rng.integers(0, k, n_workers)
    biased = np.flatnonzero(kind == 2)
    conf[biased] *= 0.5
    conf[biased, :, favourite[biased]] += 0.5
    return conf


def crowd(n_tasks: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    confusion = workers(2000, k, rng)
    y = rng.integers(0, k, n_tasks).astype(np.int16)
    task, worker, label = answer(y, strided_worker_sets(n_tasks, 2000, 10, rng), confusion,
                                 rng)
    return Annotations(task, worker, label, classes=list(range(k))), y


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--classes", default="2,5")
    parser.add_argument("--methods", default=",".join(available_aggregators()))
    parser.add_argument("--crowdkit", action="store_true")
    args = parser.parse_args(argv)
    if args.crowdkit and not crowdkit_available():  # before the fits, not after the first
        parser.error("--crowdkit needs crowd-kit: pip install 'crowdlearn[bench]' (in an "
                     "environment with scikit-learn < 1.6 and pandas < 3)")
    warnings.simplefilter("ignore")
    for k in map(int, args.classes.split(",")):
        ann, y = crowd(args.tasks, k)
        gold = pd.Series(y[: args.tasks // 20], index=list(range(args.tasks // 20)))
        for method in args.methods.split(","):
            if method == "kos" and k != 2:
                continue
            model = make_aggregator(method)
            start = time.perf_counter()
            model.fit(ann, gold=gold) if method == "gold-mv" else model.fit(ann)
            ours = time.perf_counter() - start
            line = (f"K={k} {len(ann):,} answers {method:8s} {ours:7.2f} s  accuracy "
                    f"{float((model.labels_ == y).mean()):.4f}")
            if method == "ebcc":  # its budget depends on the crowd's size
                line += (f" ({model.n_seeds_} start(s), {model.n_iter_} iterations, "
                         f"converged: {model.converged_})")
            if args.crowdkit and method in CROWDKIT:
                import crowdkit.aggregation as ck

                frame = ann.to_frame()
                start = time.perf_counter()
                theirs = getattr(ck, CROWDKIT[method])().fit_predict(frame)
                seconds = time.perf_counter() - start
                acc = float((theirs.reindex(range(args.tasks)).to_numpy() == y).mean())
                line += f" | crowd-kit {seconds:8.2f} s accuracy {acc:.4f} ({seconds / ours:.0f}x)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
