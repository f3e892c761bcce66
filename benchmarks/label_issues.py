"""Finding wrong labels: crowdlearn's ``find_label_issues`` (TwoEM, Me-Momentum) against
cleanlab's ``find_label_issues`` given out-of-fold probabilities of the same network.

    python -m benchmarks.label_issues --seeds 5
    python -m benchmarks.label_issues --seeds 5 --proba-only     # skip TwoEM, Me-Momentum
    python -m benchmarks.label_issues --speed 1000000           # scoring time at N, K = 10

Digits (1,300 training images) with 20% symmetric noise; k = the number of flipped labels;
reported: precision of each method's top-k (the share of its k most suspect labels that are
really wrong), mean ± sd over seeds, measured in one run on the same noisy labels.
cleanlab (a benchmark-only extra: ``pip install -e ".[bench]"``) ranks by self-confidence
from 5-fold out-of-fold probabilities of the same MLP trained with cross-entropy, and
``crowdlearn.label_issues_from_proba`` ranks the same probabilities. ``--speed N`` times
both scoring functions alone on N random items with K = 10 classes (best of 3).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold

from crowdlearn.datasets import load
from crowdlearn.label_issues import label_issues_from_proba
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


def speed(n: int, k: int = 10, repeats: int = 3) -> None:
    """Seconds to rank N items with K classes: ours against cleanlab, best of ``repeats``."""
    from cleanlab.filter import find_label_issues as cleanlab_find

    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 2.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    given = np.where(rng.random(n) < 0.2, (y + 1) % k, y)
    runs = {"crowdlearn label_issues_from_proba (ranked table)":
            lambda: label_issues_from_proba(given, proba),
            "cleanlab find_label_issues, defaults (mask only)":
            lambda: cleanlab_find(given, proba),
            "cleanlab find_label_issues, ranked as in the top-k benchmark":
            lambda: cleanlab_find(given, proba, return_indices_ranked_by="self_confidence",
                                  filter_by="both")}
    best = {}
    for name, call in runs.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        best[name] = min(times)
    ours = best[next(iter(runs))]
    print(f"N={n:,}, K={k}, best of {repeats}:")
    for name, seconds in best.items():
        print(f"  {name}: {seconds:.2f} s (ours / this {ours / seconds:.2f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--cv-epochs", type=int, default=30,
                        help="epochs of each cross-validation network for cleanlab")
    parser.add_argument("--proba-only", action="store_true",
                        help="only the rankings from out-of-fold probabilities")
    parser.add_argument("--speed", type=int, default=0, metavar="N",
                        help="time the scoring functions on N random items, then stop")
    args = parser.parse_args(argv)
    if args.speed:
        speed(args.speed)
        return
    from cleanlab.filter import find_label_issues as cleanlab_find

    train = load("digits", "train")
    trained = () if args.proba_only else ("two-em", "me-momentum")
    scores: dict[str, list[float]] = {m: [] for m in (*trained, "cleanlab", "from-proba")}
    seconds: dict[str, float] = dict.fromkeys(scores, 0.0)
    for seed in range(args.seeds):
        noisy = symmetric(train.y, args.rate, 10, seed).labels
        wrong = noisy != train.y
        k = int(wrong.sum())
        for method in trained:
            start = time.perf_counter()
            options = {"noise_rate": args.rate} if method == "two-em" else {}
            ranked = find_label_issues(train.X, noisy, method, seed=seed, **options)
            seconds[method] += time.perf_counter() - start
            scores[method].append(float(wrong[ranked["row"].to_numpy()[:k]].mean()))
        start = time.perf_counter()
        proba = out_of_fold_proba(train.X, noisy, args.cv_epochs, seed)
        cv_seconds = time.perf_counter() - start
        start = time.perf_counter()
        order = cleanlab_find(noisy, proba, return_indices_ranked_by="self_confidence",
                              filter_by="both")
        seconds["cleanlab"] += cv_seconds + time.perf_counter() - start
        # cleanlab returns only the issues it flags; rank the rest by self-confidence after
        rest = np.setdiff1d(np.argsort(proba[np.arange(len(noisy)), noisy]), order,
                            assume_unique=True)
        scores["cleanlab"].append(float(wrong[np.r_[order, rest][:k]].mean()))
        start = time.perf_counter()
        ours = label_issues_from_proba(noisy, proba)
        seconds["from-proba"] += cv_seconds + time.perf_counter() - start
        scores["from-proba"].append(float(wrong[ours["id"].to_numpy()[:k]].mean()))
        flags = ours.sort_values("id")["is_label_issue"].to_numpy()
        flagged = np.zeros(len(noisy), bool)
        flagged[order] = True
        print(f"seed {seed}: k={k} " + ", ".join(f"{m} {v[-1]:.3f}" for m, v in scores.items())
              + f"; flags precision/recall: ours {wrong[flags].mean():.3f}/"
              f"{flags[wrong].mean():.3f}, cleanlab {wrong[flagged].mean():.3f}/"
              f"{flagged[wrong].mean():.3f}", flush=True)
    print(f"\ndigits, {args.rate:.0%} symmetric noise, precision of the top-k "
          f"(mean ± sd over {args.seeds} seeds):")
    for method, values in scores.items():
        print(f"  {method:12s} {np.mean(values):.3f} ± {np.std(values):.3f}   "
              f"({seconds[method] / args.seeds:.1f} s per seed)")


if __name__ == "__main__":
    main()
