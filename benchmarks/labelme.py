"""Learning from a real crowd: LabelMe (Rodrigues & Pereira 2018; 1,000 training images with
2.5 labels each from 59 workers, 512-d VGG features, 1,188 test images).

    python -m benchmarks.labelme --seeds 5

Trains the feature head (512→128→8, dropout 0.5) with each method and reports test accuracy
(final epoch, mean ± sd over seeds). Features are standardised with the training mean/sd.
MV, soft MV, DS and MBEM use MBEM's self-training step; Crowd Layer (identity init), Doctor
Net, AggNet and Max-MIG (aggregator lr 1e-4) train once.
"""

from __future__ import annotations

import argparse

import numpy as np

from crowdlearn.datasets import load_labelme
from crowdlearn.experiments.options import PAPERS_DS
from crowdlearn.learners import make_crowd_learner

# Max-MIG's LabelMe code starts the aggregator from log(confusion + 1e-2) (the authors' code);
# Dawid-Skene-then-train is the papers' EM baseline
METHOD_OPTIONS = {"maxmig": {"init_epsilon": 1e-2}, "ds": PAPERS_DS}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--methods",
                        default="mv,soft-mv,ds,mbem,crowd-layer,doctor-net,aggnet,maxmig")
    args = parser.parse_args(argv)
    data = load_labelme()
    mu, sd = data.train.X.mean(axis=0), data.train.X.std(axis=0) + 1e-6
    X, X_test = (data.train.X - mu) / sd, (data.test.X - mu) / sd
    y_test = np.asarray(data.test.classes)[data.test.y]
    print(f"LabelMe: {data.annotations!r}; test {len(X_test)} images")
    for method in args.methods.split(","):
        options = METHOD_OPTIONS.get(method, {})
        accs = [make_crowd_learner(method, model="head", epochs=args.epochs, seed=s, **options)
                .fit(X, data.annotations).score(X_test, y_test) for s in range(args.seeds)]
        print(f"{method:11s} test accuracy {np.mean(accs):.4f} ± {np.std(accs):.4f} "
              f"over {args.seeds} seeds")


if __name__ == "__main__":
    main()
