"""Run crowd-kit 1.4.2 aggregators on one answers file; print labels and seconds as JSON.

Imports only pandas and crowd-kit, so that it can run in a separate environment (crowd-kit's
Wawa, ZeroBasedSkill and GoldMajorityVote need scikit-learn < 1.6 and, for majority vote's
tie-breaking as published, pandas < 3):

    python benchmarks/crowdkit_runner.py answers.csv [--gold gold.csv] METHOD [METHOD ...]

``answers.csv`` has columns task, worker, label (read as text); ``gold.csv`` task, label.
Output: {"METHOD": {"labels": {task: label}, "seconds": s} or {"error": message}}.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd

SETTINGS = {  # crowd-kit's defaults unless stated
    "mv": ("MajorityVote", {}),
    "ds": ("DawidSkene", {"n_iter": 100}),
    "onecoin": ("OneCoinDawidSkene", {"n_iter": 100}),
    "wawa": ("Wawa", {}),
    "zbs": ("ZeroBasedSkill", {}),
    "gold-mv": ("GoldMajorityVote", {}),
    "glad": ("GLAD", {}),
    "mace": ("MACE", {}),
    "kos": ("KOS", {}),
    "mmsr": ("MMSR", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("answers")
    parser.add_argument("methods", nargs="+")
    parser.add_argument("--gold")
    parser.add_argument("--timeout-tasks", type=int, default=0,
                        help="skip a method on data with more tasks than this (0: never)")
    args = parser.parse_args()
    import crowdkit.aggregation as ck

    data = pd.read_csv(args.answers, dtype=str, keep_default_na=False)
    gold = (pd.read_csv(args.gold, dtype=str, keep_default_na=False).set_index("task")["label"]
            if args.gold else None)
    out = {}
    n_tasks = data["task"].nunique()
    for method in args.methods:
        name, params = SETTINGS[method]
        if args.timeout_tasks and n_tasks > args.timeout_tasks:
            out[method] = {"error": f"skipped: {n_tasks:,} tasks > --timeout-tasks "
                                    f"{args.timeout_tasks:,}"}
            continue
        try:
            model = getattr(ck, name)(**params)
            start = time.perf_counter()
            labels = (model.fit_predict(data, gold) if method == "gold-mv"
                      else model.fit_predict(data))
            out[method] = {"seconds": time.perf_counter() - start,
                           "labels": {str(k): str(v) for k, v in labels.items()}}
        except Exception as exc:  # noqa: BLE001 - report any failure of the peer
            out[method] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
