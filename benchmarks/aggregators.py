"""Every registered aggregator against crowd-kit 1.4.2's same method on the ten real crowds:
accuracy against gold and fit time, in one run.

    python -m benchmarks.aggregators                                   # needs CROWDLEARN_DATA
    python -m benchmarks.aggregators --crowdkit-python /path/to/env/bin/python --markdown
    python -m benchmarks.aggregators --methods glad,mace --datasets dog,face

crowd-kit runs in a separate interpreter (``benchmarks/crowdkit_runner.py``, one process per
dataset and method, with a time limit): its Wawa, ZeroBasedSkill and GoldMajorityVote need
scikit-learn < 1.6 and its majority vote's published tie-breaking pandas < 3, so give
``--crowdkit-python`` an environment with ``crowd-kit==1.4.2 "pandas<3" "scikit-learn<1.6"``.
Both sides get the same answers; ties of the vote family go to the first class on our side
too (``tie_break="first"``, crowd-kit's rule). ``gold-mv`` learns from a random 20% of the
gold tasks (seed 0) and every ``gold-mv`` accuracy is measured on the other 80%.
``ebcc-authors`` is EBCC with Li et al.'s exact settings (``EBCC(**AUTHORS)``: fixed confusion
prior, 40 starts of at most 500 iterations), to compare with our default ``ebcc``;
``ebcc-point`` and ``ebcc-point-all`` are EBCC with point estimates of the worker confusions
(and of the class and subtype proportions), ``EBCC(point_estimates="confusion" | "all")``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.real_crowds import DATASETS, load
from crowdlearn.aggregation.ebcc import AUTHORS
from crowdlearn.methods import available_aggregators, make_aggregator

RUNNER = Path(__file__).with_name("crowdkit_runner.py")
FIRST = {"mv", "wawa", "zbs", "gold-mv"}  # vote family: crowd-kit breaks ties to the first class
GOLD_SHARE = 0.2
VARIANTS = {  # name -> (registered aggregator, settings)
    "ebcc-authors": ("ebcc", AUTHORS),
    "ebcc-point": ("ebcc", {"point_estimates": "confusion"}),
    "ebcc-point-all": ("ebcc", {"point_estimates": "all"}),
}


def ours(method: str, ann, gold_known: pd.Series | None):
    """(labels as a Series keyed by task, seconds)."""
    name, params = VARIANTS.get(method, (method, {}))
    model = make_aggregator(name, **params)
    if method in FIRST:
        model.set_params(tie_break="first")
    start = time.perf_counter()
    model.fit(ann, gold=gold_known) if method == "gold-mv" else model.fit(ann)
    return model.predict(), time.perf_counter() - start


def theirs(python: str, answers: Path, gold_file: Path | None, method: str,
           timeout: float) -> tuple[pd.Series | None, float | None, str]:
    """crowd-kit's (labels, seconds, note) in a separate process."""
    cmd = [python, str(RUNNER), str(answers), method]
    if gold_file is not None:
        cmd += ["--gold", str(gold_file)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None, f"> {timeout:.0f} s"
    if done.returncode != 0:
        return None, None, done.stderr.strip().splitlines()[-1][:80]
    result = json.loads(done.stdout)[method]
    if "error" in result:
        return None, None, result["error"][:80]
    return pd.Series(result["labels"]), result["seconds"], ""


def accuracy(labels: pd.Series, gold: pd.Series) -> float:
    predicted = pd.Series(labels.to_numpy(), index=labels.index.map(str)).map(str)
    truth = pd.Series(gold.to_numpy(), index=gold.index.map(str)).map(str)
    return float((predicted.reindex(truth.index) == truth).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(available_aggregators()))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--crowdkit-python", default=sys.executable)
    parser.add_argument("--no-crowdkit", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds allowed to each crowd-kit fit")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.markdown:  # checked before the fits, whose results would be lost after them
        try:
            import tabulate  # noqa: F401 - pandas' to_markdown needs it (the bench extra)
        except ImportError:
            parser.error("--markdown needs tabulate: pip install 'crowdlearn[bench]'")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            ann, gold = load(name)
            answers = Path(tmp) / f"{name}.csv"
            ann.to_frame().astype(str).to_csv(answers, index=False)
            rng = np.random.default_rng(0)
            known = rng.random(len(gold)) < GOLD_SHARE
            gold_known, gold_held = gold[known], gold[~known]
            gold_file = Path(tmp) / f"{name}-gold.csv"
            pd.DataFrame({"task": gold_known.index.map(str),
                          "label": gold_known.map(str).to_numpy()}).to_csv(gold_file,
                                                                           index=False)
            for method in args.methods.split(","):
                if method == "kos" and ann.n_classes != 2:
                    continue
                scored = gold_held if method == "gold-mv" else gold
                labels, seconds = ours(method, ann, gold_known)
                row = {"dataset": name, "method": method, "ours": accuracy(labels, scored),
                       "ours_s": seconds}
                if not args.no_crowdkit:
                    ck, ck_s, note = theirs(args.crowdkit_python, answers,
                                            gold_file if method == "gold-mv" else None,
                                            method, args.timeout)
                    row |= {"crowdkit": accuracy(ck, scored) if ck is not None else np.nan,
                            "crowdkit_s": ck_s, "note": note}
                rows.append(row)
                print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in row.items()), flush=True)
    table = pd.DataFrame(rows)
    if args.markdown:
        print(table.to_markdown(index=False, floatfmt=".4f"))
    else:
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
