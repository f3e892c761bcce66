"""Validate `crowdlearn plan` where the truth is known (issue 17).

For each setting (dataset × worker pool) and each of ``--crowds`` crowds drawn from it:

1. the full experiment: the fixed-budget sweep with that true crowd and the true labels (the
   planner's own sweep, :class:`~crowdlearn.experiments.plan.PlanExperiment`, given the true
   confusions and equal volumes: every method at every redundancy, ``--seeds`` training seeds,
   each redundancy's answers drawn independently, as the first version of this script did, so
   its cached cells resume);
2. a pilot of ``--pilot-share`` of the budget from the same crowd (``--pilot-redundancy``
   workers per pilot task, on other shuffled items), and :func:`crowdlearn.plan` on it with
   ``--plan-seeds`` simulated crowds shared by all redundancies (common random numbers);
3. the regret of the recommendation in the full experiment: the best redundancy's accuracy
   for the recommended method minus the recommended redundancy's, in accuracy points, for the
   planner's rule (the paired one-standard-error rule, ``regret_r``) and, from the same
   simulated cells, the one-standard-error rule on the best mean's standard error
   (``regret_onese``) and the plain highest simulated mean (``regret_argmax``); ``regret_all``
   is against the best method and redundancy overall.

    CROWDLEARN_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/plan_validation.py \
        --datasets digits,fashion-mnist --methods mbem -o /tmp/plan-validation

Prints one row per crowd and a summary per setting; everything resumes from ``-o``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.experiments.plan import PlanExperiment, PlanSettings
from crowdlearn.experiments.sweep import dataset_splits, run_sweep
from crowdlearn.plan import WorkerPool, plan, recommend, summarise
from crowdlearn.simulate import assign, classwise_hammer_spammer, diagonal, hammer_spammer


def weak_crowd(n_workers: int, n_classes: int, high: float, seed: int):
    """Workers correct with probability U(0.2, ``high``) each, errors uniform: a crowd with no
    hammer to find, where redundancy can pay (an extra setting, not the issue's)."""
    accuracy = np.random.default_rng(seed).uniform(0.2, high, n_workers)
    return diagonal(n_workers, n_classes, accuracy)


POOLS = {"hs-0.2": (hammer_spammer, 0.2), "hs-0.35": (hammer_spammer, 0.35),
         "classwise-0.35": (classwise_hammer_spammer, 0.35), "weak-0.5": (weak_crowd, 0.5)}


def true_pool(crowd) -> WorkerPool:
    w = crowd.n_workers
    return WorkerPool(confusion=crowd.confusion.copy(), volume=np.full(w, 1 / w),
                      answers=np.zeros(w, dtype=np.int64), max_per_task=w)


def pilot_answers(crowd, dataset: str, labels: int, redundancy: int, seed: int):
    train = dataset_splits(dataset)[0]
    order = np.random.default_rng(10_000 + seed).permutation(len(train))
    y = train.y[order]
    a = assign(len(y), crowd.n_workers, redundancy, labels, seed=10_000 + seed)
    return crowd.annotate(y, a, seed=10_000 + seed)


def validate(args, dataset: str, pool_name: str, crowd_seed: int, out: Path) -> dict:
    model, gamma = POOLS[pool_name]
    k = dataset_splits(dataset)[0].n_classes
    crowd = model(args.workers, k, gamma, seed=crowd_seed)
    common = dict(budget=args.budget, redundancy=args.redundancy, methods=args.methods,
                  seeds=args.seeds, dataset=dataset, epochs=args.epochs, model="mlp")
    settings = PlanSettings(**common, pool=true_pool(crowd), paired=False)
    full = run_sweep(PlanExperiment(settings), out / "full", log=lambda line: None, threads=1)
    truth = summarise(full, args.budget).set_index(["method", "redundancy"])["mean"]
    pilot = pilot_answers(crowd, dataset, round(args.pilot_share * args.budget),
                          args.pilot_redundancy, crowd_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        planned = plan(pilot, args.budget, redundancies=args.redundancy, methods=args.methods,
                       seeds=args.plan_seeds, dataset=dataset, epochs=args.epochs,
                       model="mlp", out_dir=out / "plan-paired", threads=1)
    best = planned.recommendation  # the paired one-standard-error rule
    m, r = best["method"], best["redundancy"]
    r_se = recommend(planned.summary, "one-se")["redundancy"]  # the unpaired rule
    r_max = recommend(planned.summary, "best")["redundancy"]  # the highest simulated mean
    own = truth[m]
    sim = planned.summary.set_index(["method", "redundancy"])["mean"][m]
    best_all = summarise(full, args.budget)["mean"].max()

    def regret(v: int) -> float:
        return round(100 * float(own.max() - own[v]), 1)

    return {"dataset": dataset, "pool": pool_name, "crowd": crowd_seed,
            "hammers": int((np.einsum("wkk->w", crowd.confusion) > k - 0.5).sum()),
            "method": m, "planned_r": r, "planned_acc": round(best["accuracy"], 3),
            "gap": round(100 * best["gap"], 1), "gap_se": round(100 * best["gap_se"], 1),
            "plan": " / ".join(f"{sim[v]:.3f}" for v in sorted(sim.index)),
            "true": " / ".join(f"{own[v]:.3f}" for v in sorted(own.index)),
            "best_r": int(own.idxmax()), "regret_r": regret(r),
            "onese_r": r_se, "regret_onese": regret(r_se),
            "argmax_r": r_max, "regret_argmax": regret(r_max),
            "regret_all": round(100 * float(best_all - own[r]), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="digits")
    parser.add_argument("--pools", default="hs-0.2,hs-0.35,classwise-0.35")
    parser.add_argument("--crowds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3, help="training seeds of the full "
                        "experiment")
    parser.add_argument("--plan-seeds", type=int, default=8, help="simulated crowds of the "
                        "plan (its default)")
    parser.add_argument("--budget", type=int, default=1200)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--redundancy", default="1,2,3,5")
    parser.add_argument("--methods", default="mv,ds,mbem")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--pilot-share", type=float, default=0.1)
    parser.add_argument("--pilot-redundancy", type=int, default=5)
    parser.add_argument("-o", "--out", type=Path, default=Path("/tmp/plan-validation"))
    args = parser.parse_args()
    args.redundancy = tuple(int(v) for v in args.redundancy.split(","))
    args.methods = tuple(args.methods.split(","))
    rows = []
    for dataset in args.datasets.split(","):
        for c in range(args.crowds):  # every pool's first crowd first: a cut run covers all
            for pool_name in args.pools.split(","):
                start = time.perf_counter()
                row = validate(args, dataset, pool_name, c,
                               args.out / dataset / pool_name / f"crowd{c}")
                row["seconds"] = round(time.perf_counter() - start)
                rows.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "regret.csv", index=False)
    print(table.to_string(index=False))
    print(table.groupby(["dataset", "pool"])[["regret_r", "regret_onese", "regret_argmax",
                                              "regret_all"]]
          .agg(["mean", "max"]).round(1).to_string())


if __name__ == "__main__":
    main()
