"""Finding wrong labels: crowdlearn's ``find_label_issues`` (TwoEM, Me-Momentum) against
cleanlab's ``find_label_issues`` given out-of-fold probabilities of the same network.

    python -m benchmarks.label_issues --seeds 5

Digits (1,300 training images) with 20% symmetric noise; k = the number of flipped labels;
reported: precision of each method's top-k (the share of its k most suspect labels that are
really wrong), mean ± sd over seeds, measured in one run on the same noisy labels.
cleanlab (a benchmark-only extra: ``pip install -e ".[bench]"``) ranks by self-confidence
from 5-fold out-of-fold probabilities of the same MLP trained with cross-entropy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold

from crowdlearn.datasets import load
from crowdlearn.learners import StandardCE, find_label_issues
from crowdlearn.simulate import symmetric


def out_of_fold_proba(X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> np.ndarray:
    """Probabilities for every item from a network that did not train on it (5 folds)."""
    proba = np.zeros((len(y), int(y.max()) + 1))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for fold, (fit, held) in enumerate(folds.split(X, y)):
        model = StandardCE(val_fraction=0.0, epochs=epochs, seed=seed * 10 + fold)
        proba[held] = model.fit(X[fit], y[fit]).predict_proba(X[held])
    return proba


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--cv-epochs", type=int, default=30,
                        help="epochs of each cross-validation network for cleanlab")
    args = parser.parse_args(argv)
    from cleanlab.filter import find_label_issues as cleanlab_find

    train = load("digits", "train")
    scores: dict[str, list[float]] = {"two-em": [], "me-momentum": [], "cleanlab": []}
    seconds: dict[str, float] = dict.fromkeys(scores, 0.0)
    for seed in range(args.seeds):
        noisy = symmetric(train.y, args.rate, 10, seed).labels
        wrong = noisy != train.y
        k = int(wrong.sum())
        for method in ("two-em", "me-momentum"):
            start = time.perf_counter()
            options = {"noise_rate": args.rate} if method == "two-em" else {}
            ranked = find_label_issues(train.X, noisy, method, seed=seed, **options)
            seconds[method] += time.perf_counter() - start
            scores[method].append(float(wrong[ranked["row"].to_numpy()[:k]].mean()))
        start = time.perf_counter()
        proba = out_of_fold_proba(train.X, noisy, args.cv_epochs, seed)
        order = cleanlab_find(noisy, proba, return_indices_ranked_by="self_confidence",
                              filter_by="both")
        seconds["cleanlab"] += time.perf_counter() - start
        # cleanlab returns only the issues it flags; rank the rest by self-confidence after
        rest = np.setdiff1d(np.argsort(proba[np.arange(len(noisy)), noisy]), order,
                            assume_unique=True)
        scores["cleanlab"].append(float(wrong[np.r_[order, rest][:k]].mean()))
        print(f"seed {seed}: k={k} " + ", ".join(f"{m} {v[-1]:.3f}" for m, v in scores.items()),
              flush=True)
    print(f"\ndigits, {args.rate:.0%} symmetric noise, precision of the top-k "
          f"(mean ± sd over {args.seeds} seeds):")
    for method, values in scores.items():
        print(f"  {method:12s} {np.mean(values):.3f} ± {np.std(values):.3f}   "
              f"({seconds[method] / args.seeds:.1f} s per seed)")


if __name__ == "__main__":
    main()
