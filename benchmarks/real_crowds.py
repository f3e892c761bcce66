"""Accuracy of the aggregators on ten public crowdsourcing datasets, against their gold labels.

The data are read from the folder ``$CROWDLEARN_DATA`` (``make bench`` sets it to the
project's data folder) or ``--root``, holding the layout its README describes.
Accuracy is measured on the tasks that have gold. crowd-kit's ``DawidSkene(n_iter=100)`` is
run on the same answers when it is installed. The "(old)" columns are crowdlearn's former
defaults (``OLD_DS``, ``OLD_ONE_COIN``: a uniform Dirichlet(1.01) prior on every confusion row,
a learned class prior).

    python -m benchmarks.real_crowds                 # a table in the terminal
    python -m benchmarks.real_crowds --markdown      # a markdown table for the docs
    python -m benchmarks.real_crowds dog face --no-crowdkit
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from crowdlearn import Annotations, DawidSkene, MajorityVote, OneCoinDawidSkene
from crowdlearn.datasets import (
    DATA_ENV,
    read_answer_truth,
    read_music_mturk,
    read_snow2008,
    read_wide_answers,
    read_zhou_mat,
)

Loader = Callable[[Path], tuple[Annotations, pd.Series]]

CROWDKIT_N_ITER = 100
# crowdlearn's defaults before the empirical-Bayes priors (docs/benchmarks.md)
OLD_DS = {"smoothing": 0.01, "prior": "uniform", "class_smoothing": 0.0}
OLD_ONE_COIN = {**OLD_DS, "class_prior": "estimate"}


def data_root() -> Path:
    """The folder holding the datasets: ``$CROWDLEARN_DATA`` (a folder that does not exist
    when it is unset, so that every dataset reads as absent)."""
    root = os.environ.get(DATA_ENV)
    if not root:
        return Path(f"${DATA_ENV}-is-not-set")
    return Path(root)


def _zheng(folder: str) -> Loader:
    return lambda root: read_answer_truth(root / folder / "answer.csv",
                                          root / folder / "truth.csv")


def _snow(task: str) -> Loader:
    return lambda root: read_snow2008(root / "snow2008" / "all_collected_data.tgz", task)


def _wide(folder: str, gold_file: str) -> Loader:
    return lambda root: read_wide_answers(root / folder / "answers.txt", root / folder / gold_file)


# the sub-folder of the data root that each dataset lives in
FOLDERS: dict[str, str] = {
    "product": "zheng2017_product",
    "bluebirds": "zheng2017_bluebirds",
    "dog": "zheng2017_dog",
    "face": "zheng2017_face",
    "rte": "snow2008",
    "temp": "snow2008",
    "web": "web_zhou2012",
    "labelme": "labelme_rodrigues2018",
    "sentiment": "sentiment_polarity_rodrigues2013",
    "music": "music_genre_rodrigues2013",
}

DATASETS: dict[str, Loader] = {
    "product": _zheng(FOLDERS["product"]),
    "bluebirds": _zheng(FOLDERS["bluebirds"]),
    "dog": _zheng(FOLDERS["dog"]),
    "face": _zheng(FOLDERS["face"]),
    "rte": _snow("rte"),
    "temp": _snow("temp"),
    "web": lambda root: read_zhou_mat(root / FOLDERS["web"] / "web_processed_data.mat"),
    "labelme": _wide(FOLDERS["labelme"], "LabelMe_Z_train.txt"),
    "sentiment": _wide(FOLDERS["sentiment"], "Sentiment_Z_train.txt"),
    "music": lambda root: read_music_mturk(root / FOLDERS["music"] / "mturk_answers.csv"),
}


def load(name: str, root: Path | None = None) -> tuple[Annotations, pd.Series]:
    """Annotations and gold of one registered dataset."""
    return DATASETS[name](data_root() if root is None else root)


def accuracy(predicted: pd.Series, gold: pd.Series) -> float:
    """Share of gold tasks whose predicted label equals the gold label (a missing
    prediction counts as wrong)."""
    return float((predicted.reindex(gold.index) == gold).mean())


def crowdkit_available() -> bool:
    try:
        import crowdkit.aggregation  # noqa: F401
    except ImportError:
        return False
    return True


def evaluate(name: str, root: Path | None = None, with_crowdkit: bool = True) -> dict:
    """One table row: sizes, accuracies of every method and seconds of the two DS fits."""
    ann, gold = load(name, root)
    row: dict = {"dataset": name, "answers": len(ann), "items": ann.n_tasks,
                 "workers": ann.n_workers, "gold": len(gold)}
    row["mv"] = accuracy(MajorityVote().fit(ann).predict(), gold)
    row["one_coin_old"] = accuracy(OneCoinDawidSkene(**OLD_ONE_COIN).fit(ann).predict(), gold)
    row["one_coin"] = accuracy(OneCoinDawidSkene().fit(ann).predict(), gold)
    row["ds_old"] = accuracy(DawidSkene(**OLD_DS).fit(ann).predict(), gold)
    start = time.perf_counter()
    ds = DawidSkene().fit(ann)
    row["ds_s"] = time.perf_counter() - start
    row["ds"] = accuracy(ds.predict(), gold)
    if with_crowdkit:
        from crowdkit.aggregation import DawidSkene as CrowdKitDawidSkene

        frame = ann.to_frame()
        start = time.perf_counter()
        theirs = CrowdKitDawidSkene(n_iter=CROWDKIT_N_ITER).fit(frame)
        row["crowdkit_ds_s"] = time.perf_counter() - start
        row["crowdkit_ds"] = accuracy(theirs.labels_, gold)
    return row


def accuracy_table(names: Iterable[str] | None = None, with_crowdkit: bool = True,
                   root: Path | None = None) -> pd.DataFrame:
    """Accuracy against gold of MV (random ties, seed 0), one-coin DS, DS and, if installed
    and asked for, crowd-kit's DS, one row per dataset."""
    names = list(DATASETS) if names is None else list(names)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
    with_crowdkit = with_crowdkit and crowdkit_available()
    rows = [evaluate(n, root, with_crowdkit) for n in names]
    return pd.DataFrame(rows).set_index("dataset")


COLUMNS = {"answers": "answers", "items": "items", "workers": "workers", "gold": "gold items",
           "mv": "MV", "one_coin_old": "one-coin (old)", "one_coin": "one-coin DS",
           "ds_old": "DS (old)", "ds": "DS", "crowdkit_ds": "crowd-kit DS",
           "ds_s": "DS s", "crowdkit_ds_s": "crowd-kit DS s"}


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Counts with thousands separators, accuracies to 4 places, seconds to 3."""
    out = pd.DataFrame(index=table.index)
    for col, title in COLUMNS.items():
        if col not in table:
            continue
        fmt = "{:,}" if col in ("answers", "items", "workers", "gold") else (
            "{:.3f}" if col.endswith("_s") else "{:.4f}")
        out[title] = table[col].map(fmt.format)
    return out


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    shown = _formatted(table)
    header = ["dataset", *shown.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|---|" + "---:|" * len(shown.columns)]
    lines += ["| " + " | ".join([str(name), *row]) + " |"
              for name, row in zip(shown.index, shown.to_numpy().tolist(), strict=True)]
    return "\n".join(lines)


def _print_rich(table: pd.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = _formatted(table)
    out = Table(title="accuracy against gold on public crowdsourcing datasets")
    out.add_column("dataset")
    for col in shown.columns:
        out.add_column(col, justify="right")
    for name, row in zip(shown.index, shown.to_numpy().tolist(), strict=True):
        out.add_row(str(name), *row)
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console.width = 160
    console.print(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"datasets (default all: {', '.join(DATASETS)})")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--no-crowdkit", action="store_true", help="skip crowd-kit")
    parser.add_argument("--root", type=Path, default=None,
                        help="data folder (default: $CROWDLEARN_DATA)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    if args.root is None and not os.environ.get(DATA_ENV):
        parser.error(f"set {DATA_ENV} to the data folder or pass --root")
    if not args.no_crowdkit and not crowdkit_available():
        print("crowd-kit is not installed: its column is left out")
    table = accuracy_table(args.names or None, with_crowdkit=not args.no_crowdkit,
                           root=args.root)
    if args.markdown:
        print(to_markdown(table))
    else:
        _print_rich(table)


if __name__ == "__main__":
    main()
