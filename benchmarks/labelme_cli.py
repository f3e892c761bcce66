"""LabelMe through the command line only: ``crowdlearn fit`` (Max-MIG) on the answer matrix
and the 512-d training features, then ``crowdlearn predict`` on the test features, against
the Python API with the same settings, in one run.

    python -m benchmarks.labelme_cli --seeds 5        # needs CROWDLEARN_DATA (LabelMe)

Settings of ``benchmarks/labelme.py``: feature head 512→128→8, 50 epochs, standardised
features, Max-MIG's aggregator started from log(confusion + 1e-2); one thread. Reported:
test accuracy per seed and mean ± sd for both routes, and the wall time of each ``fit``
command (a fresh process: imports, reading, training, writing the model folder).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crowdlearn.datasets import load_labelme
from crowdlearn.datasets.crowd_sets import _locate

FIT = ["--method", "maxmig", "--model", "head", "--epochs", "50", "--standardize",
       "--param", "init_epsilon=0.01", "--threads", "1", "--format", "wide"]


def cli_run(root: Path, out: Path, seed: int) -> tuple[float, float]:
    """(test accuracy, seconds of the fit command) of one seed through the CLI."""
    cli = [sys.executable, "-m", "crowdlearn"]
    start = time.perf_counter()
    subprocess.run([*cli, "fit", "--answers", str(root / "answers.txt"), "--features",
                    str(root / "LabelMe_VGG_avg_train.npy"), *FIT, "--seed", str(seed),
                    "-o", str(out)], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    done = subprocess.run([*cli, "predict", str(out), "--features",
                           str(root / "LabelMe_VGG_avg_test.npy"), "-o", str(out / "test.csv"),
                           "--truth", str(root / "LabelMe_Z_test.txt")],
                          check=True, capture_output=True, text=True)
    accuracy = float(re.search(r"accuracy against .*?: ([0-9.]+)", done.stdout.replace("\n",
                                                                                         " "))[1])
    return accuracy, seconds


def api_run(seed: int) -> float:
    """The same fit from Python."""
    from crowdlearn.methods import make_learner

    data = load_labelme()
    learner = make_learner("maxmig", model="head", epochs=50, init_epsilon=1e-2, seed=seed,
                           standardize=True, n_threads=1)
    learner.fit(data.train.X, data.annotations)
    return learner.score(data.test.X, np.asarray(data.test.classes)[data.test.y])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    root = _locate("LabelMe", None, "labelme_rodrigues2018", ("answers.txt",))
    cli, api, seconds = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            accuracy, took = cli_run(root, Path(tmp) / f"model-{seed}", seed)
            cli.append(accuracy)
            seconds.append(took)
            api.append(api_run(seed))
            print(f"seed {seed}: CLI {cli[-1]:.4f} (fit {took:.1f} s), API {api[-1]:.4f}",
                  flush=True)
    print(f"\nLabelMe, Max-MIG, {args.seeds} seeds: CLI {np.mean(cli):.4f} ± {np.std(cli):.4f}, "
          f"API {np.mean(api):.4f} ± {np.std(api):.4f}; fit command {np.mean(seconds):.1f} s "
          f"(max {np.max(seconds):.1f} s)")


if __name__ == "__main__":
    main()
