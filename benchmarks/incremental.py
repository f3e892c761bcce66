"""Incremental Dawid–Skene: folding 1% new answers into a fitted model against refitting.

    python -m benchmarks.incremental                 # 10M answers (1M binary tasks × 10)
    python -m benchmarks.incremental --tasks 100000  # quick
    python -m benchmarks.incremental --threads 1     # both sides on one thread

The synthetic crowd of ``benchmarks/aggregation.py`` (2,000 workers of mixed quality). A random
1% of the answers is held back; the model is fitted on the other 99%; then the held-back
answers are folded in with ``partial_fit`` and, for comparison, a model is refitted on all
answers. Both sides are timed from their input frames (building ``Annotations`` included), in
wall-clock seconds and in CPU seconds of this process (less sensitive to other processes on
a shared machine). Reported: seconds of each, their ratio, how many tasks get the same label,
and how long the first fit took (``partial_fit``'s index and margins are built there).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from benchmarks.synthetic import binary_crowd
from crowdlearn import Annotations, DawidSkene


def _timed(run) -> tuple[object, float, float]:
    """``run()``'s result, wall-clock seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--refresh", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None,
                        help="E-step threads of both sides (default: the model's)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    task, worker, label, y = binary_crowd(args.tasks, 10, 2000, seed=0)
    frame = pd.DataFrame({"task": task, "worker": worker, "label": label})
    late = np.random.default_rng(1).random(len(frame)) < args.share
    early, new = frame[~late], frame[late]
    model, fit_wall, fit_cpu = _timed(
        lambda: DawidSkene(n_threads=args.threads).fit(Annotations.from_frame(early)))
    _, partial, partial_cpu = _timed(
        lambda: model.partial_fit(Annotations.from_frame(new), refresh=args.refresh))
    full, refit, refit_cpu = _timed(
        lambda: DawidSkene(n_threads=args.threads).fit(Annotations.from_frame(frame)))
    ours, theirs = model.predict(), full.predict()
    agree = float((ours.reindex(theirs.index) == theirs).mean())
    truth = pd.Series(y, index=np.arange(args.tasks))
    print(f"{len(frame):,} answers, {len(new):,} new ({args.share:.0%}), threads "
          f"{args.threads or 'default'}: partial_fit {partial:.3f} s ({partial_cpu:.3f} s CPU, "
          f"refresh={args.refresh}), full refit {refit:.2f} s ({refit_cpu:.2f} s CPU, "
          f"{full.n_iter_} iterations), ratio {partial / refit:.3f} ({partial_cpu / refit_cpu:.3f}"
          f" CPU); labels agree on {agree:.4%} of tasks; accuracy "
          f"{float((ours.reindex(truth.index) == truth).mean()):.4f} vs "
          f"{float((theirs.reindex(truth.index) == truth).mean()):.4f}; first fit (99%) "
          f"{fit_wall:.2f} s ({fit_cpu:.2f} s CPU)")


if __name__ == "__main__":
    main()
