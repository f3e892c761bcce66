"""Incremental Dawid–Skene: folding 1% new answers into a fitted model against refitting.

    python -m benchmarks.incremental                 # 10M answers (1M binary tasks × 10)
    python -m benchmarks.incremental --tasks 100000  # quick

The synthetic crowd of ``benchmarks/aggregation.py`` (2,000 workers of mixed quality). A random
1% of the answers is held back; the model is fitted on the other 99%; then the held-back
answers are folded in with ``partial_fit`` and, for comparison, a model is refitted on all
answers. Both sides are timed from their input frames (building ``Annotations`` included).
Reported: seconds of each, their ratio, and how many tasks get the same label.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from benchmarks.synthetic import binary_crowd
from crowdlearn import Annotations, DawidSkene


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--refresh", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    task, worker, label, y = binary_crowd(args.tasks, 10, 2000, seed=0)
    frame = pd.DataFrame({"task": task, "worker": worker, "label": label})
    late = np.random.default_rng(1).random(len(frame)) < args.share
    early, new = frame[~late], frame[late]
    model = DawidSkene().fit(Annotations.from_frame(early))
    start = time.perf_counter()
    model.partial_fit(Annotations.from_frame(new), refresh=args.refresh)
    partial = time.perf_counter() - start
    start = time.perf_counter()
    full = DawidSkene().fit(Annotations.from_frame(frame))
    refit = time.perf_counter() - start
    ours, theirs = model.predict(), full.predict()
    agree = float((ours.reindex(theirs.index) == theirs).mean())
    truth = pd.Series(y, index=np.arange(args.tasks))
    print(f"{len(frame):,} answers, {len(new):,} new ({args.share:.0%}): partial_fit "
          f"{partial:.2f} s (refresh={args.refresh}), full refit {refit:.2f} s "
          f"({full.n_iter_} iterations), ratio {partial / refit:.3f}; labels agree on "
          f"{agree:.4%} of tasks; accuracy {float((ours.reindex(truth.index) == truth).mean()):.4f}"
          f" vs {float((theirs.reindex(truth.index) == truth).mean()):.4f}")


if __name__ == "__main__":
    main()
