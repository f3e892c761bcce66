"""Label models on sparse, long-tailed crowds shaped like a real 4-class export.

The export behind this benchmark (a real one a user reported): 4 classes, a few hundred gold
items with 1–30 answers each, ~800 workers of whom most give a handful of answers and a few
give hundreds, of mixed quality. Such a crowd is drawn here from a seeded generator:

* item classes from ``class_freq`` (the commonest class about a third of the items);
* worker activity long-tailed (lognormal weights: the median worker answers a few items, the
  most active ones hundreds); each item gets 1–30 distinct workers drawn in proportion to
  activity (Gumbel top-r sampling, no Python loop over items);
* worker types: *good* (diagonal 0.55–0.9, errors spread by a Dirichlet), near-random
  *spammers*, and *class-biased* workers who answer their favourite class most of the time.

Scenarios: ``item5`` (the shape above), ``biased`` (imbalanced classes and prolific workers
biased towards a rare class: the crowd in which one-coin's learned class prior used to drift
onto one class) and ``sparse`` (fewer answers per item, more single-answer workers).
Each cell is the mean accuracy over ``--seeds`` crowds (± the standard deviation); sizes are
means; "top class share" is the largest share of the items that one-coin puts in one class
(the most over the seeds): a collapse shows as a share far above the commonest class's.

    python -m benchmarks.sparse_crowds                  # a table in the terminal
    python -m benchmarks.sparse_crowds --markdown --seeds 10
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.real_crowds import OLD_DS, OLD_ONE_COIN
from crowdlearn import Annotations, DawidSkene, MajorityVote, OneCoinDawidSkene
from crowdlearn.simulate import from_matrices


@dataclass(frozen=True)
class Scenario:
    """Parameters of one family of simulated crowds."""

    n_items: int = 1000
    n_workers: int = 800
    class_freq: tuple[float, ...] = (0.34, 0.27, 0.22, 0.17)
    activity_sigma: float = 1.6  # lognormal sd of worker activity: the long tail
    answers_mean: float = 6.0  # mean answers per item (clipped to 1..30)
    p_good: float = 0.55
    p_spam: float = 0.25  # the rest are class-biased
    biased_class: int | None = None  # None: each biased worker picks its own favourite
    bias: tuple[float, float] = (0.6, 0.9)  # share of a biased worker's answers on its favourite
    biased_activity: float = 1.0  # activity multiplier of biased workers


SCENARIOS: dict[str, Scenario] = {
    # a pool of 1,200 of whom about 780 answer: median 2–3 answers, the busiest 100–150
    "item5": Scenario(n_items=600, n_workers=1200, activity_sigma=1.4, answers_mean=7.0),
    "biased": Scenario(class_freq=(0.4, 0.25, 0.2, 0.15), p_good=0.5, p_spam=0.2,
                       biased_class=3, biased_activity=2.0, bias=(0.5, 0.8)),
    "sparse": Scenario(n_items=600, answers_mean=3.0, activity_sigma=2.0),
}


def simulate(scenario: Scenario, seed: int) -> tuple[Annotations, np.ndarray]:
    """One crowd of ``scenario`` drawn with ``seed``: (annotations, true class codes)."""
    s, rng = scenario, np.random.default_rng(seed)
    k, w, n = len(s.class_freq), s.n_workers, s.n_items
    freq = np.asarray(s.class_freq, dtype=float)
    y = rng.choice(k, size=n, p=freq / freq.sum())

    kind = rng.choice(3, size=w, p=[s.p_good, s.p_spam, 1 - s.p_good - s.p_spam])
    eye = np.eye(k)
    # good: the diagonal, errors spread over the other classes by a Dirichlet
    acc = rng.uniform(0.55, 0.9, size=(w, 1, 1))
    errors = rng.dirichlet(np.ones(k - 1), size=(w, k))
    off = np.zeros((w, k, k))
    off[:, ~eye.astype(bool)] = errors.reshape(w, -1)
    good = acc * eye + (1 - acc) * off
    # spammer: near-uniform rows
    spam = rng.dirichlet(np.full(k, 20.0), size=(w, k))
    # biased: the favourite class with probability b whatever the truth, else the truth
    fav = rng.integers(0, k, w) if s.biased_class is None else np.full(w, s.biased_class)
    b = rng.uniform(*s.bias, size=(w, 1, 1))
    biased = b * eye[fav][:, None, :] + (1 - b) * eye
    conf = np.where((kind == 0)[:, None, None], good,
                    np.where((kind == 1)[:, None, None], spam, biased))

    activity = rng.lognormal(0.0, s.activity_sigma, size=w)
    activity[kind == 2] *= s.biased_activity
    r = np.clip(np.rint(rng.exponential(s.answers_mean - 1, size=n)) + 1, 1, 30).astype(int)
    r = np.minimum(r, w)
    # r distinct workers per item with probability ∝ activity: top-r of log(activity) + Gumbel
    keys = np.log(activity) + rng.gumbel(size=(n, w))
    order = np.argsort(-keys, axis=1)[:, :30]
    assignment = np.where(np.arange(30) < r[:, None], order, -1)
    ann = from_matrices(conf).annotate(y, assignment, seed=rng)
    return ann, y


def _accuracy(labels: np.ndarray, y: np.ndarray) -> float:
    return float((labels == y).mean())


# name -> function(annotations) -> predicted class codes
METHODS: dict[str, Callable[[Annotations], np.ndarray]] = {
    "mv": lambda ann: MajorityVote().fit(ann).labels_,
    "ds_old": lambda ann: DawidSkene(**OLD_DS).fit(ann).labels_,
    "ds": lambda ann: DawidSkene().fit(ann).labels_,
    "one_coin_old": lambda ann: OneCoinDawidSkene(**OLD_ONE_COIN).fit(ann).labels_,
    "one_coin": lambda ann: OneCoinDawidSkene().fit(ann).labels_,
}

COLUMNS = {"commonest": "commonest class", "mv": "MV", "ds_old": "DS (old)", "ds": "DS",
           "one_coin_old": "one-coin (old)", "one_coin": "one-coin",
           "ds_old_gap": "DS (old) − MV, worst seed", "ds_gap": "DS − MV, worst seed",
           "one_coin_old_top": "one-coin (old) top class share",
           "one_coin_top": "one-coin top class share"}


def evaluate(name: str, seeds: list[int]) -> dict:
    """One table row: crowd sizes and mean ± sd accuracy of every method over ``seeds``."""
    scenario = SCENARIOS[name]
    acc: dict[str, list[float]] = {m: [] for m in ["commonest", *METHODS]}
    top: dict[str, list[float]] = {"one_coin_old": [], "one_coin": []}
    sizes = []
    for seed in seeds:
        ann, y = simulate(scenario, seed)
        y = y[np.asarray(ann.tasks)]  # items without an answer are left out (none here)
        active = ann.worker_counts[ann.worker_counts > 0]
        sizes.append((len(ann), ann.n_tasks, len(active), float(np.median(active)),
                      int(active.max())))
        acc["commonest"].append(float(np.bincount(y).max() / len(y)))
        for m, method in METHODS.items():
            labels = method(ann)
            acc[m].append(_accuracy(labels, y))
            if m in top:  # the largest share of the items given one class
                top[m].append(float(np.bincount(labels).max() / len(labels)))
    size = np.mean(sizes, axis=0)
    row: dict = {"scenario": name, "answers": size[0], "items": size[1], "workers": size[2],
                 "median answers per worker": size[3], "most answers per worker": size[4]}
    for m, values in acc.items():
        row[m] = (float(np.mean(values)), float(np.std(values)))
    for m in ("ds_old", "ds"):  # the worst seed's gap to majority vote
        row[m + "_gap"] = float(np.min(np.subtract(acc[m], acc["mv"])))
    for m, shares in top.items():
        row[m + "_top"] = max(shares)
    return row


def accuracy_table(names: list[str] | None = None, seeds: int = 5) -> pd.DataFrame:
    """Mean ± sd accuracy of each method on each scenario over seeds ``0..seeds-1``."""
    names = list(SCENARIOS) if names is None else names
    return pd.DataFrame([evaluate(n, list(range(seeds))) for n in names]).set_index("scenario")


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=table.index)
    out["items"] = table["items"].map("{:,.0f}".format)
    out["answers"] = table["answers"].map("{:,.0f}".format)
    out["active workers"] = table["workers"].map("{:,.0f}".format)
    out["answers per worker (median / max)"] = [
        f"{a:.0f} / {b:.0f}" for a, b in zip(table["median answers per worker"],
                                            table["most answers per worker"], strict=True)]
    for col, title in COLUMNS.items():
        if col.endswith("_gap"):
            out[title] = table[col].map("{:+.3f}".format)
        elif col.endswith("_top"):
            out[title + " (max)"] = table[col].map("{:.2f}".format)
        else:
            out[title] = table[col].map(lambda v: f"{v[0]:.3f} ± {v[1]:.3f}")
    return out


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table."""
    shown = _formatted(table)
    lines = ["| scenario | " + " | ".join(shown.columns) + " |",
             "|---|" + "---:|" * len(shown.columns)]
    lines += ["| " + " | ".join([str(name), *row]) + " |"
              for name, row in zip(shown.index, shown.to_numpy().tolist(), strict=True)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"scenarios (default all: {', '.join(SCENARIOS)})")
    parser.add_argument("--seeds", type=int, default=5, help="crowds per scenario (default 5)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(SCENARIOS)}")
    table = accuracy_table(args.names or None, seeds=args.seeds)
    if args.markdown:
        print(to_markdown(table))
    else:
        with pd.option_context("display.width", 200, "display.max_columns", None):
            print(_formatted(table).to_string())


if __name__ == "__main__":
    main()
