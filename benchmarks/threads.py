"""Torch threads on a small machine: the LabelMe MBEM fit (``MBEM(model="mlp", epochs=100)``,
1,000 images, 512-d features) with ``n_threads`` 1 and 2, on an idle machine and beside
another training process (itself using 2 threads), which is how experiments and users often
run on a 2-core box.

    CROWDLEARN_DATA=... python -m benchmarks.threads
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

LOAD = """
import numpy as np, torch
from crowdlearn.learners import StandardCE
X = np.random.default_rng(0).normal(size=(4000, 256)).astype(np.float32)
y = np.arange(4000) % 10
while True:
    StandardCE(model="mlp", epochs=5, val_fraction=0.0, n_threads=2).fit(X, y)
"""


def fit_seconds(threads: int, epochs: int) -> float:
    from crowdlearn.datasets import load_labelme
    from crowdlearn.learners import MBEM

    data = load_labelme()
    mu, sd = data.train.X.mean(axis=0), data.train.X.std(axis=0) + 1e-6
    X = (data.train.X - mu) / sd
    start = time.perf_counter()
    MBEM(model="mlp", epochs=epochs, seed=0, n_threads=threads).fit(X, data.annotations)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args(argv)
    rows = []
    fit_seconds(1, 1)  # untimed: torch's one-off start-up would count against the first fit
    for loaded in (False, True):
        load = subprocess.Popen([sys.executable, "-c", LOAD]) if loaded else None
        try:
            if load is not None:
                time.sleep(5)  # let the other training start
            for threads in (1, 2):
                rows.append((loaded, threads, fit_seconds(threads, args.epochs)))
                print(f"{'loaded' if loaded else 'idle':6s} n_threads={threads}: "
                      f"{rows[-1][2]:.1f} s", flush=True)
        finally:
            if load is not None:
                load.kill()
    idle = {t: s for loaded, t, s in rows if not loaded}
    busy = {t: s for loaded, t, s in rows if loaded}
    print(f"two threads / one thread: idle {idle[2] / idle[1]:.2f}x, "
          f"loaded {busy[2] / busy[1]:.2f}x; loaded / idle with one thread "
          f"{busy[1] / idle[1]:.2f}x")


if __name__ == "__main__":
    main()
