"""The ``crowdlearn`` command line: a thin layer over the Python API."""

from __future__ import annotations

import functools
import platform
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from crowdlearn.errors import CrowdlearnError, InputError

app = typer.Typer(
    help="Accurate labels and models from noisy, crowdsourced annotations.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


class Method(str, Enum):
    mv = "mv"
    ds = "ds"
    onecoin = "onecoin"


class Layout(str, Enum):
    long = "long"
    wide = "wide"


def _one_line_errors(command):
    """Report a :class:`CrowdlearnError` as one line on stderr and exit with code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CrowdlearnError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def make_aggregator(method: Method | str, seed: int = 0):
    from crowdlearn.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene

    return {"mv": lambda: MajorityVote(seed=seed), "ds": DawidSkene,
            "onecoin": OneCoinDawidSkene}[Method(method).value]()


def read_answers(path: Path, layout: Layout | str = "long", task_col: str = "task",
                 worker_col: str = "worker", label_col: str = "label", missing: str = "-1"):
    """Read an answers file: long CSV/Parquet, or a wide tasks × workers matrix (.npy, or
    text/CSV without header, comma- or whitespace-separated)."""
    from crowdlearn.annotations import Annotations
    from crowdlearn.inputs import read_file

    path = Path(path)
    if Layout(layout) is Layout.long:
        if path.suffix.lower() in (".parquet", ".pq"):
            return Annotations.from_parquet(path, task_col, worker_col, label_col)
        return Annotations.from_csv(path, task_col, worker_col, label_col)
    if path.suffix.lower() == ".npy":
        matrix = read_file(path, lambda p: np.load(p, allow_pickle=False))
    else:
        def read_matrix(p: Path) -> np.ndarray:
            with open(p) as fh:
                first = fh.readline()
            sep = "," if "," in first else r"\s+"
            return pd.read_csv(p, header=None, sep=sep).to_numpy()

        matrix = read_file(path, read_matrix)
    missing_value = _parse_scalar(missing)
    return Annotations.from_wide(matrix, missing=missing_value, source=str(path))


def _parse_scalar(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


@app.command()
@_one_line_errors
def aggregate(
    answers: Annotated[Path, typer.Argument(help="Answers file: CSV or Parquet (long), or a "
                                             "matrix (.npy/.txt/.csv) with --format wide.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write one row per task: "
                                      "task, label, confidence (CSV).")],
    method: Annotated[Method, typer.Option(help="mv: majority vote; ds: Dawid–Skene; "
                                           "onecoin: one skill per worker.")] = Method.ds,
    task_col: Annotated[str, typer.Option(help="Task id column (long format).")] = "task",
    worker_col: Annotated[str, typer.Option(help="Worker id column (long format).")] = "worker",
    label_col: Annotated[str, typer.Option(help="Label column (long format).")] = "label",
    layout: Annotated[Layout, typer.Option("--format", help="long: one answer a row; wide: a "
                                           "tasks × workers matrix.")] = Layout.long,
    missing: Annotated[str, typer.Option(help="Cell value meaning 'no answer' in the wide "
                                         "format.")] = "-1",
    workers: Annotated[Path | None, typer.Option(help="Also write a per-worker quality table "
                                                 "(CSV).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also save a plot of worker quality "
                                              "(PNG).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of majority vote's random tie-break.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite output files that exist.")] = False,
) -> None:
    """Infer every task's label and every worker's quality from crowd answers.

    Example: crowdlearn aggregate answers.csv --method ds -o labels.csv --workers workers.csv
    """
    from crowdlearn.aggregation.report import plot_workers, task_table, worker_table
    from crowdlearn.outputs import atomic_write, check_outputs

    outputs = [out, workers, plot]
    check_outputs(outputs, [answers], force=force)
    ann = read_answers(answers, layout, task_col, worker_col, label_col, missing)
    model = make_aggregator(method, seed).fit(ann)
    tasks = task_table(model)
    quality = worker_table(model)
    atomic_write(out, lambda p: tasks.to_csv(p, index=False))
    if workers is not None:
        atomic_write(workers, lambda p: quality.to_csv(p, index=False))
    if plot is not None:
        atomic_write(plot, lambda p: plot_workers(model, p))
    _print_summary(ann, model, tasks, quality, [p for p in outputs if p is not None])


def _print_summary(ann, model, tasks: pd.DataFrame, quality: pd.DataFrame, written) -> None:
    console.print(f"{ann!r} -> {type(model).__name__}"
                  + (f" ({model.n_iter_} EM iterations)" if hasattr(model, "n_iter_") else ""))
    shares = tasks["label"].value_counts(normalize=True)
    console.print("labels: " + ", ".join(f"{k}: {v:.1%}" for k, v in shares.items()))
    console.print(f"mean confidence {tasks['confidence'].mean():.3f}; "
                  f"{(tasks['confidence'] < 0.9).sum():,} tasks below 0.9")
    table = Table(title="least reliable workers (with at least 5 answers)")
    for col in ("worker", "n_answers", "skill"):
        table.add_column(col, justify="right")
    shown = quality[quality["n_answers"] >= 5].nsmallest(5, "skill")
    for row in shown.itertuples():
        table.add_row(str(row.worker), str(row.n_answers), f"{row.skill:.3f}")
    if len(shown):
        console.print(table)
    console.print("wrote " + ", ".join(str(p) for p in written))


experiment_app = typer.Typer(help="Reproducible sweeps: results.csv, a plot and a table.",
                             no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


def _csv_numbers(text: str, kind: type = int) -> tuple:
    """``"1,3,5"`` as numbers of ``kind`` (int or float)."""
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise InputError(f"expected comma-separated {what}, got {text!r}") from None


def _csv_words(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


@experiment_app.command("budget")
@_one_line_errors
def experiment_budget(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.csv and "
                                      "budget.png; an existing one with the same settings is "
                                      "resumed.")],
    dataset: Annotated[str, typer.Option(help="digits, fashion-mnist, mnist, cifar10, "
                                         "cifar100.")] = "digits",
    workers: Annotated[int, typer.Option(help="Number of simulated workers.")] = 20,
    gamma: Annotated[float, typer.Option(help="Fraction of hammers (perfect workers).")] = 0.35,
    worker_model: Annotated[str, typer.Option(help="hammer-spammer or classwise.")]
    = "hammer-spammer",
    budget: Annotated[int, typer.Option(help="Total number of labels bought.")] = 1200,
    redundancy: Annotated[str, typer.Option(help="Labels per item to compare.")] = "1,3,5",
    methods: Annotated[str, typer.Option(help="mv, soft-mv, em, mbem, mbem-onecoin (and the "
                                         "joint methods of `experiment crowds`).")]
    = "mv,soft-mv,em,mbem,mbem-onecoin",
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1 (crowd, assignment, training).")] = 5,
    model: Annotated[str | None, typer.Option(help="Network (default: mlp for digits, lenet "
                                              "for (fashion-)mnist, resnet20 for cifar).")]
    = None,
    epochs: Annotated[int, typer.Option(help="Epochs at r=1; scaled with r to keep the number "
                                        "of SGD steps fixed.")] = 100,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    mbem_rounds: Annotated[int, typer.Option(help="MBEM's bootstrapping rounds (1 = the "
                                             "official code's variant).")] = 1,
    force: Annotated[bool, typer.Option(help="Start over: discard the results already in "
                                        "--out instead of resuming them.")] = False,
) -> None:
    """Fixed labelling budget: many items labelled once, or few items several times?

    Example: crowdlearn experiment budget --dataset digits --redundancy 1,3,5 --seeds 5 -o out
    """
    from crowdlearn.experiments import BudgetSettings

    settings = BudgetSettings(dataset=dataset, workers=workers, gamma=gamma,
                              worker_model=worker_model, budget=budget,
                              redundancy=_csv_numbers(redundancy), methods=_csv_words(methods),
                              seeds=seeds, model=model, epochs=epochs, lr=lr,
                              batch_size=batch_size, device=device,
                              extra={"mbem": {"n_rounds": mbem_rounds}} if mbem_rounds != 1
                              else {})
    _run_budget(settings, out, force)


def _run_budget(settings, out: Path, force: bool = False) -> None:
    from crowdlearn.experiments import finding, run_budget

    start = time.perf_counter()
    results = run_budget(settings, out, log=lambda line: console.print(line, highlight=False),
                         restart=force)
    _print_accuracy(results, "redundancy", settings.redundancy, lambda r: f"r={r}",
                    f"test accuracy, mean ± sd over {settings.seeds} seeds "
                    f"({settings.dataset}, budget {settings.budget})", settings.methods)
    console.print(f"wrote {out / 'results.csv'} and {out / 'budget.png'} "
                  f"({time.perf_counter() - start:.0f} s)")
    console.print(finding(results, settings.budget))


@experiment_app.command("crowds")
@_one_line_errors
def experiment_crowds(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.csv and "
                                      "crowds.png; an existing one with the same settings is "
                                      "resumed.")],
    dataset: Annotated[str, typer.Option(help="digits, fashion-mnist, mnist, cifar10.")]
    = "digits",
    case: Annotated[str, typer.Option(help="Crowd cases: 1 (independent seniors), 2 (plus "
                                      "juniors always answering 0), 3 (plus juniors copying "
                                      "seniors), harsh (5 weak seniors, 10 copy one).")]
    = "1,2,3",
    expertise: Annotated[str, typer.Option(help="Seniors' expertise: low, high.")]
    = "low,high",
    methods: Annotated[str, typer.Option(help="mv, soft-mv, em, mbem, crowd-layer, doctor-net, "
                                         "aggnet, maxmig, clean (true labels).")]
    = "mv,em,crowd-layer,doctor-net,aggnet,mbem,maxmig",
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1 (crowd answers, training).")] = 3,
    model: Annotated[str | None, typer.Option(help="Network (default: MLP 64-128-10 on "
                                              "digits).")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 60,
    lr: Annotated[float, typer.Option(help="Adam learning rate of the network.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    force: Annotated[bool, typer.Option(help="Start over: discard the results already in "
                                        "--out instead of resuming them.")] = False,
) -> None:
    """Experts who err together: Max-MIG's synthetic crowd cases, every method on each.

    Example: crowdlearn experiment crowds --case 2 --expertise low --seeds 3 -o out
    """
    from crowdlearn.experiments import CrowdsSettings, run_crowds

    settings = CrowdsSettings(dataset=dataset, cases=_csv_words(case),
                              expertise=_csv_words(expertise), methods=_csv_words(methods),
                              seeds=seeds, model=model, epochs=epochs, lr=lr,
                              batch_size=batch_size, device=device)
    start = time.perf_counter()
    results = run_crowds(settings, out, log=lambda line: console.print(line, highlight=False),
                         restart=force)
    _print_accuracy(results, "setting", list(dict.fromkeys(results["setting"])), str,
                    f"test accuracy, mean ± sd over {settings.seeds} seeds "
                    f"({settings.dataset})")
    console.print(f"wrote {out / 'results.csv'} and {out / 'crowds.png'} "
                  f"({time.perf_counter() - start:.0f} s)")


def _print_accuracy(results: pd.DataFrame, column: str, values, label, title: str,
                    methods=None) -> None:
    """A table of test accuracy (mean ± sd over seeds): one row per method, one column per
    value of ``column``."""
    stats = results.groupby(["method", column], sort=False)["accuracy"].agg(["mean", "std"])
    table = Table(title=title)
    table.add_column("method")
    for value in values:
        table.add_column(label(value), justify="right")
    for method in methods or dict.fromkeys(results["method"]):
        cells = [f"{stats.loc[(method, v), 'mean']:.3f} ± "
                 f"{np.nan_to_num(stats.loc[(method, v), 'std']):.3f}"
                 if (method, v) in stats.index else "-" for v in values]
        table.add_row(method, *cells)
    console.print(table)


@experiment_app.command("noise")
@_one_line_errors
def experiment_noise(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.csv and "
                                      "noise.png; an existing one with the same settings is "
                                      "resumed.")],
    dataset: Annotated[str, typer.Option(help="digits, fashion-mnist, mnist, cifar10, "
                                         "cifar100.")] = "digits",
    noise: Annotated[str, typer.Option(help="symmetric, pairflip or instance.")]
    = "symmetric",
    rate: Annotated[str, typer.Option(help="Noise rates to compare.")] = "0.2,0.4",
    methods: Annotated[str, typer.Option(help="ce (final and best-validation epochs), "
                                         "coteaching, me-momentum, two-em.")]
    = "ce,coteaching,me-momentum,two-em",
    no_cr: Annotated[bool, typer.Option("--no-cr", help="Also run TwoEM without its "
                                        "confidence regulariser (rows two-em-no-cr).")]
    = False,
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1 (noise, split, training).")] = 5,
    model: Annotated[str | None, typer.Option(help="Network (default: mlp for digits, lenet "
                                              "for (fashion-)mnist, resnet18 for cifar10).")]
    = None,
    epochs: Annotated[int, typer.Option(help="Epochs of CE, Co-teaching and TwoEM.")] = 200,
    stage_epochs: Annotated[int, typer.Option(help="Epochs of each Me-Momentum stage.")] = 60,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    force: Annotated[bool, typer.Option(help="Start over: discard the results already in "
                                        "--out instead of resuming them.")] = False,
) -> None:
    """Noisy labels: standard training against Co-teaching, Me-Momentum and TwoEM.

    Example: crowdlearn experiment noise --noise symmetric --rate 0.2,0.4 --seeds 5 -o out
    """
    from crowdlearn.experiments import NoiseSettings, run_noise

    chosen = _csv_words(methods)
    if no_cr:
        chosen += ("two-em-no-cr",)
    settings = NoiseSettings(dataset=dataset, noise=noise, rates=_csv_numbers(rate, float),
                             methods=chosen, seeds=seeds, model=model,
                             epochs=epochs, stage_epochs=stage_epochs, lr=lr,
                             batch_size=batch_size, device=device)
    start = time.perf_counter()
    results = run_noise(settings, out, log=lambda line: console.print(line, highlight=False),
                        restart=force)
    _print_accuracy(results.assign(rate=results["rate"].astype(float)), "rate",
                    settings.rates, lambda r: f"{r:g}",
                    f"test accuracy, mean ± sd over {settings.seeds} seeds "
                    f"({settings.dataset}, {settings.noise} noise)")
    console.print(f"wrote {out / 'results.csv'} and {out / 'noise.png'} "
                  f"({time.perf_counter() - start:.0f} s)")


@app.command()
@_one_line_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results (resumed "
                                      "if it exists).")] = Path("crowdlearn-demo"),
    aggregate_only: Annotated[bool, typer.Option("--aggregate", help="Only compare the "
                                                 "aggregators on the bundled example crowd "
                                                 "(seconds).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of majority vote's random tie-break "
                                      "(--aggregate).")] = 0,
    force: Annotated[bool, typer.Option(help="Start over instead of resuming the results "
                                        "in --out.")] = False,
) -> None:
    """Run the fixed-budget experiment on the embedded digits (about 5 minutes).

    1,200 labels from 20 simulated workers (35% perfect, the rest random), spent at 1, 3 or 5
    labels per item; majority vote, soft majority vote, Dawid–Skene and MBEM (the official
    code's variant and one with one accuracy per worker); 5 seeds.
    Example: crowdlearn demo --out crowdlearn-demo
    """
    if aggregate_only:
        _demo_aggregate(seed)
        return
    from crowdlearn.experiments import BudgetSettings

    _run_budget(BudgetSettings(), out, force)


def _demo_aggregate(seed: int) -> None:
    from crowdlearn.datasets.example import load_example_crowd

    ann, truth = load_example_crowd()
    console.print(f"Example crowd: {ann!r} (simulated: 20 workers, some careless, "
                  "two biased, and the true labels)")
    table = Table(title="accuracy against the true labels")
    for col in ("method", "accuracy", "iterations"):
        table.add_column(col, justify="right")
    scores = {}
    for method in Method:
        model = make_aggregator(method, seed).fit(ann)
        pred = model.predict().reindex(truth.index)
        scores[method.value] = float((pred == truth).mean())
        table.add_row(method.value, f"{scores[method.value]:.3f}",
                      str(getattr(model, "n_iter_", "-")))
    console.print(table)
    gain = scores["ds"] - scores["mv"]
    console.print(f"Dawid–Skene recovers {scores['ds']:.1%} of the true labels against "
                  f"{scores['mv']:.1%} for majority vote ({gain * 100:+.1f} points): weighting "
                  "workers by their estimated confusion matrices beats counting heads.")


@app.command()
def info() -> None:
    """Print versions of crowdlearn and its main dependencies, and the torch device."""
    import importlib.metadata as md

    table = Table(show_header=False)
    table.add_row("python", platform.python_version())
    for name in ("crowdlearn", "numpy", "scipy", "pandas", "scikit-learn", "torch", "typer",
                 "rich", "matplotlib", "pyarrow"):
        try:
            table.add_row(name, md.version(name))
        except md.PackageNotFoundError:
            table.add_row(name, "not installed")
    table.add_row("torch device", _torch_device())
    table.add_row("platform", f"{platform.platform()} ({sys.platform})")
    console.print(table)


def _torch_device() -> str:
    try:
        import torch
    except ImportError:
        return "torch not importable"
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return f"cpu ({torch.get_num_threads()} threads)"


# ---------------------------------------------------------------------- simulate
class WorkerModel(str, Enum):
    hammer_spammer = "hammer-spammer"
    classwise = "classwise"
    grouped = "grouped"
    maxmig = "maxmig"
    matrices = "matrices"


class Expertise(str, Enum):
    low = "low"
    high = "high"


def simulation_labels(dataset: str | None = None, labels: Path | None = None,
                      ) -> tuple[np.ndarray, list, list]:
    """True labels to simulate on: (class codes, class ids, task ids), from a dataset's
    training split or a label file."""
    from crowdlearn.datasets import load, read_labels

    if labels is not None:
        codes, classes, task_ids = read_labels(labels)
    else:
        data = load(dataset or "digits", "train")
        codes, classes, task_ids = data.y, list(data.classes), list(range(len(data)))
    if len(classes) < 2:
        raise InputError(f"{labels or dataset}: need at least 2 classes, found {len(classes)}")
    return codes, classes, task_ids


def _simulation_crowd(model: WorkerModel, n_classes: int, workers: int | None, gamma: float,
                      group_size: int, case: int, expertise: Expertise,
                      matrices: Path | None, rng: np.random.Generator):
    from crowdlearn import simulate as sim
    from crowdlearn.inputs import read_file

    if (model is WorkerModel.matrices) != (matrices is not None):
        raise InputError("--matrices FILE goes with --worker-model matrices (and only with it)")
    if model is WorkerModel.maxmig:
        crowd = sim.maxmig_case(case, expertise.value, n_classes)
    elif model is WorkerModel.matrices:
        crowd = sim.from_matrices(read_file(matrices, lambda p: np.load(p, allow_pickle=False)))
        if crowd.n_classes != n_classes:
            raise InputError(f"{matrices}: matrices are {crowd.n_classes}×{crowd.n_classes} but "
                             f"the labels have {n_classes} classes")
    else:
        w = 20 if workers is None else workers
        if model is WorkerModel.hammer_spammer:
            crowd = sim.hammer_spammer(w, n_classes, gamma, rng)
        elif model is WorkerModel.classwise:
            crowd = sim.classwise_hammer_spammer(w, n_classes, gamma, rng)
        else:
            crowd = sim.grouped(w, n_classes, group_size, gamma, seed=rng)
    if workers is not None and workers != crowd.n_workers:
        raise InputError(f"--workers {workers}: the {model.value} crowd has "
                         f"{crowd.n_workers} workers")
    return crowd


@app.command()
@_one_line_errors
def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the answers: "
                                      "task, worker, label (CSV).")],
    dataset: Annotated[str | None, typer.Option(help="Dataset whose training labels the crowd "
                                                "answers: digits (default), fashion-mnist, "
                                                "mnist, cifar10, cifar100.")] = None,
    labels: Annotated[Path | None, typer.Option(help="True labels instead of a dataset: .npy, "
                                                "or CSV with a 'label' column (and optional "
                                                "'task') or one column.")] = None,
    worker_model: Annotated[WorkerModel, typer.Option(help="hammer-spammer, classwise "
                                                      "(class-wise hammer-spammer), grouped "
                                                      "(confusion within groups of classes), "
                                                      "maxmig (Max-MIG case), matrices (--matrices"
                                                      " W×K×K .npy).")]
    = WorkerModel.hammer_spammer,
    workers: Annotated[int | None, typer.Option(help="Number of workers (default: 20; fixed by "
                                                "maxmig and matrices).")] = None,
    gamma: Annotated[float, typer.Option(help="Probability that a worker (or a worker's "
                                         "class row, for classwise) is a hammer.")] = 0.2,
    group_size: Annotated[int, typer.Option(help="Classes per group (grouped).")] = 10,
    case: Annotated[int, typer.Option(help="Max-MIG case: 1 independent, 2 naive majority, "
                                      "3 correlated mistakes (maxmig).")] = 1,
    expertise: Annotated[Expertise, typer.Option(help="Max-MIG seniors' expertise "
                                                 "(maxmig).")] = Expertise.low,
    matrices: Annotated[Path | None, typer.Option(help="W×K×K confusion matrices (.npy) for "
                                                  "--worker-model matrices.")] = None,
    redundancy: Annotated[int | None, typer.Option(help="Distinct workers per item (default: "
                                                   "1; every worker for maxmig).")] = None,
    budget: Annotated[int | None, typer.Option(help="Total labels: the first budget // "
                                               "redundancy items are labelled (default: all "
                                               "items).")] = None,
    gold: Annotated[Path | None, typer.Option(help="Also write the true labels of the "
                                              "answered tasks: task, label (CSV).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite output files that exist.")] = False,
) -> None:
    """Simulate a crowd answering a dataset and write its answers (and the truth).

    Example: crowdlearn simulate --gamma 0.35 --budget 1200 -o answers.csv --gold gold.csv
    """
    from crowdlearn.outputs import atomic_write, check_outputs
    from crowdlearn.simulate import assign

    if dataset is not None and labels is not None:
        raise InputError("give --dataset or --labels, not both")
    check_outputs([out, gold], [p for p in (labels, matrices) if p is not None], force=force)
    y, class_ids, task_ids = simulation_labels(dataset, labels)
    rng = np.random.default_rng(seed)
    crowd = _simulation_crowd(worker_model, len(class_ids), workers, gamma, group_size, case,
                              expertise, matrices, rng)
    if redundancy is None:
        redundancy = crowd.n_workers if worker_model is WorkerModel.maxmig else 1
    assignment = assign(len(y), crowd.n_workers, redundancy, budget, rng)
    ann = crowd.annotate(y, assignment, rng, tasks=task_ids, classes=class_ids)
    answered = (assignment >= 0).any(axis=1)
    answers = ann.to_frame()
    atomic_write(out, lambda p: answers.to_csv(p, index=False))
    if gold is not None:
        truth = pd.DataFrame({"task": np.asarray(task_ids, dtype=object)[answered],
                              "label": np.asarray(class_ids, dtype=object)[y[answered]]})
        atomic_write(gold, lambda p: truth.to_csv(p, index=False))
    correct = float((ann.label == y[answered][ann.task]).mean())
    console.print(f"{crowd!r} -> {ann!r}; {correct:.1%} of the answers are correct")
    console.print("wrote " + ", ".join(str(p) for p in (out, gold) if p is not None))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
