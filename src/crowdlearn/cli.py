"""The ``crowdlearn`` command line: a thin layer over the Python API.

Every command imports the library parts it needs in its body, so that ``--help`` and a
command that needs little start in a fraction of the seconds the whole library takes
(:mod:`crowdlearn._entry` is the console entry point).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import platform
import re
import signal
import sys
import time
import warnings
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from crowdlearn._entry import Terminated, terminate_as_interrupt
from crowdlearn.errors import CrowdlearnError, CrowdlearnWarning, InputError
from crowdlearn.methods import (
    AGGREGATORS,
    CROWD_METHODS,
    METHODS,
    NOISE_METHODS,
    available_aggregators,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

app = typer.Typer(
    help="Accurate labels and models from noisy, crowdsourced annotations.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)


# the choices of `aggregate --method` and their summaries, from the registry's table of
# aggregators (available_aggregators() would import every aggregator, and scikit-learn)
AGGREGATE_METHODS = {name: summary for name, (_, summary) in AGGREGATORS.items()}
Method = Enum("Method", {name: name for name in AGGREGATE_METHODS}, type=str)

# the methods that use each option of `aggregate`, for its help: written out because finding
# them (_aggregators_with) builds every aggregator, seconds of imports for any --help;
# tests/test_startup.py checks them against the aggregators
AGGREGATE_OPTION_USERS = {
    "gold": "ds, onecoin, gold-mv, glad, ibcc, ebcc",
    "max_iter": "ds, onecoin, glad, mace, mmsr, ibcc, ebcc",
    "tol": "ds, onecoin, glad, mace, mmsr, ibcc, ebcc",
    "smoothing": "ds, onecoin, mace",
}


class Layout(str, Enum):
    long = "long"
    wide = "wide"


class Engine(str, Enum):
    memory = "memory"
    stream = "stream"
    dask = "dask"


def _one_line_errors(command):
    """Report a :class:`CrowdlearnError` as one line on stderr and exit with code 2 (running
    out of memory: one line too, exit code 1); stop on
    SIGTERM as on Ctrl-C (see :func:`~crowdlearn._entry.terminate_as_interrupt`), exit code
    143; Ctrl-C says "interrupted", exit code 130 (its clean-up has run by then)."""

    options = set(inspect.signature(command).parameters)

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with terminate_as_interrupt():
                return command(*args, **kwargs)
        except CrowdlearnError as exc:
            err_console.print(f"[bold red]error:[/] {_cli_words(exc, options)}",
                              soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None
        except MemoryError as exc:  # numpy's says how much it asked for
            from crowdlearn.inputs import first_line

            detail = first_line(exc) if str(exc) else "an allocation failed"
            err_console.print(f"[bold red]error:[/] out of memory ({detail}): the data, or a "
                              "setting such as the seeds, workers or items, is too large for "
                              "this machine", soft_wrap=True, highlight=False)
            raise typer.Exit(1) from None
        except Terminated:
            err_console.print("[bold red]terminated[/] (SIGTERM)", highlight=False)
            raise typer.Exit(128 + signal.SIGTERM) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted[/]", highlight=False)
            raise typer.Exit(128 + signal.SIGINT) from None

    return wrapper


# what library messages suggest in Python, and what a command line user can do instead
_PYTHON_REMEDIES = {
    " or pass a callable returning an nn.Module": "",
    "Pass the folder as an argument or set": "Set",
    "no folder given and ": "",
}


# sweep settings whose command-line option has another name
_SETTING_OPTIONS = {"rates": "rate", "extra_labels": "extra", "n_items": "items",
                    "n_workers": "workers", "aggregator": "consensus"}


def _cli_words(exc: CrowdlearnError, options: set[str]) -> str:
    """``exc``'s message with its remedy in the command line's words, naming only options
    the command has (``options``: its parameter names)."""
    from crowdlearn.errors import (
        EmptyLabelsError,
        MissingColumnsError,
        RemedyError,
        RepeatedAnswersError,
    )
    from crowdlearn.inputs import EncodingError
    from crowdlearn.label_files import MissingIdColumnError

    if isinstance(exc, RemedyError):
        if isinstance(exc, RepeatedAnswersError):
            remedy = ("choose what to keep with --keep first, --keep last or --keep all "
                      "(every repeat counts as an answer)" if "keep" in options else
                      "this command takes one answer per task and worker: remove the repeats")
        elif isinstance(exc, MissingColumnsError) and "task_col" in options:
            remedy = "name the columns with --task-col, --worker-col, --label-col"
        elif isinstance(exc, EncodingError):
            remedy = ("pass the file's encoding, e.g. --encoding latin-1" if "encoding" in
                      options else "this command reads UTF-8: save the file as UTF-8")
        elif isinstance(exc, MissingIdColumnError) and "id_col" in options:
            remedy = "name it with --id-col"
        elif isinstance(exc, EmptyLabelsError):
            remedy = ("pass --missing '' to drop and count the answers without a label" if
                      "missing" in options else "drop the rows without an answer first")
        else:
            remedy = exc.remedy
        return f"{exc.detail}; {remedy}"
    message = str(exc)
    for python, words in _PYTHON_REMEDIES.items():
        message = message.replace(python, words)
    # a sweep's setting named as the command's option ("The 'seeds' parameter of
    # BudgetSettings must be ..." → "--seeds must be ...")
    def option(m: re.Match) -> str:
        name = _SETTING_OPTIONS.get(m[1], m[1])
        return f"--{name.replace('_', '-')}" if name in options else m[0]

    message = re.sub(r"[Tt]he '(\w+)' (?:parameter|setting) of \w+Settings", option, message)
    # a results table of other settings ("made with n_items=2000, not ..." → "--items 2000")
    def made_with(m: re.Match) -> str:
        name = _SETTING_OPTIONS.get(m[2], m[2])
        return f"{m[1]}--{name.replace('_', '-')} " if name in options else m[0]

    message = re.sub(r"(?<=made with )((?:[\w ]+: )?)(\w+)=", made_with, message)
    # a library argument the command sets by an option ("n_workers must be ..." → "--workers")
    lead = re.match(r"(\w+) must ", message)
    name = lead and _SETTING_OPTIONS.get(lead[1], lead[1])
    if name in options - {"param"}:
        message = f"--{name.replace('_', '-')}{message[len(lead[1]):]}"
    # a method's own option, which the command sets through --param name=value
    own = re.match(r"(?:The '(\w+)' parameter of \w+|(\w+)) must ", message)
    name = own and (own[1] or own[2])
    if name and "param" in options and name not in options:
        message += f"; set it with --param {name}=VALUE"
    return message


# the choices of --keep: Annotations' KEEP_CHOICES, written out as reading them imports
# pandas (tests/test_startup.py checks them)
Keep = Enum("Keep", {choice: choice for choice in ("error", "first", "last", "all")}, type=str)


# the simulated crowd of the budget and active sweeps, declared once
GammaOption = Annotated[float, typer.Option(help="Probability that each worker is a hammer "
                                            "(perfect; otherwise uniform): the share of "
                                            "hammers varies by seed.")]
WorkerModelOption = Annotated[str, typer.Option(help="hammer-spammer or classwise.")]

# the options of every command that reads an answers file, declared once
KeepOption = Annotated[Keep, typer.Option(help="A worker who answered a task more than once: "
                                          "error (refuse), keep the first or the last "
                                          "answer, or all (each counts).")]
LayoutOption = Annotated[Layout, typer.Option("--format", help="long: one answer a row; wide: "
                                              "a tasks × workers matrix (text: bare, or with "
                                              "a header row of worker ids and the task ids "
                                              "as its first column, as to_csv() writes).")]
MissingOption = Annotated[str | None, typer.Option(help="Value meaning 'no answer': a cell "
                                                   "of a wide matrix (default -1), or a long "
                                                   "file's label (default: none; those "
                                                   "answers are dropped and counted).")]
SepOption = Annotated[str | None, typer.Option(help="Column separator of text input: one "
                                               "character, or comma, tab, semicolon, bar "
                                               "(|) or space (runs of blanks); default: "
                                               "sniffed from the first line.")]
EncodingOption = Annotated[str | None, typer.Option(help="Text encoding of the input files "
                                                    "(default utf-8), e.g. latin-1.")]
# the option of every command that trains on features
ImageSizeOption = Annotated[str | None, typer.Option(help="Resize a folder's images to WxH "
                                                     "pixels (or N: N×N), for photos of "
                                                     "several sizes (a model fitted so "
                                                     "resizes at predict alike).")]


def _image_size(text: str | None) -> tuple[int, int] | None:
    """``--image-size``: ``WxH`` or ``N`` as (height, width)."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+)\s*(?:[x×X*]\s*(\d+)\s*)?", text)
    if not found or int(found[1]) == 0 or (found[2] is not None and int(found[2]) == 0):
        raise InputError(f"--image-size: expected WIDTHxHEIGHT in pixels (e.g. 64x48) or one "
                         f"number for a square, got {text!r}")
    width = int(found[1])
    return (width if found[2] is None else int(found[2])), width


def make_aggregator(method: Method | str, seed: int = 0, **params):
    """The aggregator a ``--method`` names, with ``params`` (those given on the command line)
    set on it; an option the method does not have is an :class:`InputError`."""
    from crowdlearn.methods import make_aggregator as build

    method = Method(method).value
    model = build(method)
    if "seed" in model.get_params():
        model.set_params(seed=seed)
    given = {k: v for k, v in params.items() if v is not None}
    unknown = [k for k in given if k not in model.get_params()]
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise InputError(f"{flags}: not an option of --method {method}")
    return model.set_params(**given)


def takes_gold(model) -> bool:
    """Whether an aggregator's ``fit`` accepts known labels (``gold``)."""
    return "gold" in inspect.signature(model.fit).parameters


def _aggregators_with(option: str) -> str:
    """The ``--method`` names, from the registry, that have ``option`` (a parameter, or
    ``gold``: known labels given to ``fit``), for the help."""
    from crowdlearn.methods import make_aggregator as build

    models = {name: build(name) for name in available_aggregators()}
    return ", ".join(name for name, model in models.items()
                     if (takes_gold(model) if option == "gold" else
                         option in model.get_params()))


def read_answers(path: Path, layout: Layout | str = "long", task_col: str = "task",
                 worker_col: str = "worker", label_col: str = "label", missing: str | None = None,
                 *, keep: Keep | str = "error", classes=None, sep: str | None = None,
                 encoding: str | None = None):
    """:meth:`Annotations.from_file` with the command line's option values (its remedies,
    e.g. for repeated answers, are put in the command's words by :func:`_cli_words`)."""
    from crowdlearn.annotations import Annotations

    return Annotations.from_file(path, Layout(layout).value, task_col, worker_col, label_col,
                                 classes, keep=Keep(keep).value, missing=missing,
                                 sep=_separator(sep), encoding=encoding)


@contextlib.contextmanager
def _naming(path: Path | None, *about: str):
    """Add the file's name to an :class:`InputError` about ``path`` that the library raised
    without it: one whose message starts with one of ``about`` (any, when none is given)."""
    from crowdlearn.inputs import source_name

    try:
        yield
    except InputError as exc:
        message = str(exc)
        if path is None or type(exc) is not InputError or (
                about and not message.startswith(about)):
            raise
        raise InputError(f"{source_name(path)}: {message}") from None


def _first_given(options: dict[str, bool]) -> str | None:
    """The first of ``options`` (option → whether the user gave it) that was given: the one
    a command names when it refuses options that do not apply to what else was given."""
    return next((name for name, given in options.items() if given), None)


def _separator(sep: str | None) -> str | None:
    """``--sep``: one character, or the words comma / tab / semicolon / bar / space; any
    other word is refused (it would be taken as a separator of several characters)."""
    from crowdlearn.inputs import SEPARATORS

    if sep is None:
        return None
    named = {word: char for char, word in SEPARATORS.items()}
    named |= {"\\t": "\t", "space": r"\s+", "whitespace": r"\s+"}
    if sep.lower() in named:
        return named[sep.lower()]
    if len(sep) != 1:
        raise InputError(f"--sep {sep!r}: give one character, or comma, tab, semicolon, bar "
                         "or space")
    return sep


@contextlib.contextmanager
def _reported_warnings():
    """Collect crowdlearn's warnings during a command and print each on stderr at the end
    (also when the command fails); the list is what the summary reports."""
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CrowdlearnWarning)
        try:
            yield seen
        finally:
            for w in caught:
                if issubclass(w.category, CrowdlearnWarning) and str(w.message) not in seen:
                    seen.append(str(w.message))
            for message in seen:
                err_console.print(f"[bold yellow]warning:[/] {message}", soft_wrap=True,
                                  highlight=False)


def _version(value: bool) -> None:
    if value:
        from crowdlearn import __version__

        console.print(f"crowdlearn {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Accurate labels and models from noisy, crowdsourced annotations."""


@app.command()
@_one_line_errors
def aggregate(
    answers: Annotated[Path, typer.Argument(help="Answers: CSV/TSV/text, Parquet or JSON, one "
                                            "answer a row (- reads standard input); or a "
                                            "matrix (.npy or text) with --format wide.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="One row per task: task, label, "
                                      "confidence; format from the extension (.csv, .tsv, "
                                      ".parquet, .json); - writes CSV to standard output.")],
    method: Annotated[Method, typer.Option(help="; ".join(
        f"{name}: {summary}" for name, summary in AGGREGATE_METHODS.items())
        + ".")] = Method.ds,
    task_col: Annotated[str, typer.Option(help="Task id column (long format).")] = "task",
    worker_col: Annotated[str, typer.Option(help="Worker id column (long format).")] = "worker",
    label_col: Annotated[str, typer.Option(help="Label column (long format).")] = "label",
    layout: LayoutOption = Layout.long,
    missing: MissingOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    keep: KeepOption = Keep("error"),
    classes: Annotated[str | None, typer.Option(help="The label set, in order, comma-"
                                                "separated (a label outside it is an error; "
                                                "classes nobody answered are kept).")] = None,
    gold: Annotated[Path | None, typer.Option(help="Known labels (task, label) that the "
                                              "method learns from ("
                                              + AGGREGATE_OPTION_USERS["gold"]
                                              + "); its separator is sniffed.")] = None,
    truth: Annotated[Path | None, typer.Option(help="True labels (task, label; with --format "
                                               "wide also one label a line, in row order) to "
                                               "score the result against; prints accuracy "
                                               "overall and per class.")] = None,
    proba: Annotated[bool, typer.Option("--proba", help="Add one column of posterior "
                                        "probability per class (proba_<class>).")] = False,
    max_iter: Annotated[int | None, typer.Option(help="Most iterations ("
                                                 + AGGREGATE_OPTION_USERS["max_iter"] + ").")]
    = None,
    tol: Annotated[float | None, typer.Option(help="Iterations stop when the objective "
                                              "gains less (" + AGGREGATE_OPTION_USERS["tol"]
                                              + ").")] = None,
    smoothing: Annotated[float | None, typer.Option(help="Prior strength on the "
                                                    "workers' parameters ("
                                                    + AGGREGATE_OPTION_USERS["smoothing"]
                                                    + ").")]
    = None,
    workers: Annotated[Path | None, typer.Option(help="Also write a per-worker quality table "
                                                 "(.csv, .tsv, .parquet, .json).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also save a plot of worker quality "
                                              "(.png, .pdf, .svg).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the method's randomness: vote "
                                      "tie-breaks (mv, wawa, zbs, gold-mv), random starts "
                                      "(kos, mmsr, mace, ebcc).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no summary (warnings "
                                        "and errors still go to stderr).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on "
                                          "standard output.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite output files that exist.")] = False,
    engine: Annotated[Engine, typer.Option(help="memory: read every answer into memory "
                                           "(any input, any method); stream: out-of-core "
                                           "from Parquet (a file, folder or 'glob'), one "
                                           "pass per EM iteration; dask: on a Dask cluster. "
                                           "stream and dask run mv, wawa, zbs, ds and "
                                           "onecoin, write "
                                           "-o as a folder of Parquet parts and take "
                                           "answers in any order (a task's answers spread "
                                           "over files are regrouped: stream on its "
                                           "scratch disk, dask by a shuffle).")
                      ] = Engine("memory"),
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (--engine "
                                                  "dask); default: a local cluster of one "
                                                  "process per core.")] = None,
    scratch: Annotated[Path | None, typer.Option(help="Folder for the temporary chunk "
                                                 "files of --engine stream (4 bytes an "
                                                 "answer; default: the system's temporary "
                                                 "folder).")] = None,
) -> None:
    """Infer every task's label and every worker's quality from crowd answers.

    Example: crowdlearn aggregate answers.csv --method ds -o labels.csv --workers workers.csv

    Beyond memory: crowdlearn aggregate 'answers/*.parquet' --engine stream -o labels/
    """
    _check_engine_options(Engine(engine), scratch=scratch, scheduler=scheduler)
    if Engine(engine) is not Engine.memory:
        refused = {"--format wide": layout is Layout.wide, "--gold": gold is not None,
                   "--truth": truth is not None,
                   "--classes": classes is not None, "--sep": sep is not None,
                   "--encoding": encoding is not None, "--missing": missing is not None,
                   "standard input or output ('-')": "-" in (str(answers), str(out))}
        given = _first_given(refused)
        if given:
            advice = ("; the out-of-core engines refuse empty cells (null, NaN, blank): "
                      "filter out the rows without an answer first" if given == "--missing"
                      else "")
            raise InputError(f"{given} works with --engine memory only{advice}")
        _aggregate_at_scale(Engine(engine), answers, out, method, seed, workers, plot, proba,
                            (task_col, worker_col, label_col), scheduler, scratch, force,
                            quiet, as_json,
                            dict(max_iter=max_iter, tol=tol, smoothing=smoothing),
                            keep=Keep(keep).value)
        return
    from crowdlearn.aggregation.report import (
        aggregation_summary,
        plot_workers,
        score,
        task_table,
        worker_table,
    )
    from crowdlearn.inputs import source_name
    from crowdlearn.label_files import (
        id_hint,
        read_known_labels,
        read_truth_by_row,
        unscored_note,
    )
    from crowdlearn.outputs import (
        PLOT_FORMATS,
        TABLE_FORMATS,
        atomic_write,
        check_format,
        check_outputs,
        write_table,
    )

    start = time.perf_counter()
    to_stdout = [p for p in (out, workers) if p is not None and str(p) == "-"]
    if as_json and to_stdout:
        raise InputError("--json and an output '-' would both write to standard output; give "
                         "the output a file name")
    model = make_aggregator(method, seed, max_iter=max_iter, tol=tol, smoothing=smoothing)
    model.check_params()  # every option, before reading the answers
    if gold is not None and not takes_gold(model):
        raise InputError(f"--gold is not used by --method {Method(method).value}; methods that "
                         f"take known labels: {_aggregators_with('gold')}")
    if gold is None and model.requires_gold:
        raise InputError(f"--method {Method(method).value} needs --gold (tasks with known "
                         "labels)")
    stdin_inputs = [p for p in (answers, gold, truth) if p is not None and str(p) == "-"]
    if len(stdin_inputs) > 1:
        raise InputError("'-' (standard input) can be only one of the inputs")
    check_format(out, TABLE_FORMATS, "the labels file (-o)")
    check_format(workers, TABLE_FORMATS, "the workers table (--workers)")
    check_format(plot, PLOT_FORMATS, "the plot (--plot)", stdout=False)
    outputs = [out, workers, plot]
    check_outputs(outputs, [p for p in (answers, gold, truth) if p is not None], force=force)
    declared = _csv_words(classes) if classes is not None else None
    if declared is not None and not declared:
        raise InputError(f"--classes {classes!r} names no class; give them comma-separated, "
                         "e.g. --classes neg,neu,pos")
    if layout is Layout.wide and Keep(keep).value != "error":
        raise InputError("--keep applies to long files (one answer a row): a wide matrix "
                         "holds one answer per task and worker")
    with _reported_warnings() as warned:
        ann = read_answers(answers, layout, task_col, worker_col, label_col, missing,
                           keep=keep, classes=declared, sep=sep, encoding=encoding)
        known = read_known_labels(gold, task_col, label_col, encoding, ann.tasks) \
            if gold is not None else None
        # the truth is read before the fit: a wrong file fails in seconds, not after it
        if truth is not None:
            import numpy as np
            import pandas as pd

            ids = [str(t) for t in ann.tasks]
            if Layout(layout) is Layout.wide:  # tasks are its rows: one label a line fits
                by_row, unmatched = read_truth_by_row(truth, np.asarray(ids),
                                                      "tasks (rows of the answers matrix)",
                                                      task_col=task_col, label_col=label_col,
                                                      encoding=encoding, classes=ann.classes)
                known_truth = pd.Series(by_row.to_numpy(),
                                        index=np.asarray(ann.tasks)[by_row.index])
            else:
                known_truth = read_known_labels(truth, task_col, label_col, encoding,
                                                ann.tasks)
                # object text: pandas' arrow-backed strings made this isin 10x slower
                given_ids = pd.Index(known_truth.index.astype(str), dtype=object)
                unmatched = given_ids[~given_ids.isin(ids)]
                if len(unmatched) == len(given_ids):
                    raise InputError(f"{source_name(truth)}: no task of the truth file has an "
                                     "answer: are the task ids the same?"
                                     + id_hint(unmatched, ids))
        with _naming(gold, "gold "):
            model.fit(ann, **({"gold": known} if known is not None else {}))
        tasks = task_table(model, proba=proba)
        quality = worker_table(model)
        scored = truth_note = None
        if truth is not None:
            with _naming(truth):
                scored = score(model, known_truth)
            scored["truth_tasks_without_answers"] = len(unmatched)
            truth_note = unscored_note(unmatched, ids, "tasks", "have no answer")
        if plot is not None:  # first: the most likely to fail, before any table is written
            atomic_write(plot, lambda p: plot_workers(model, p))
        write_table(tasks, out)
        if workers is not None:
            write_table(quality, workers)
    written = [str(p) for p in outputs if p is not None]
    summary = aggregation_summary(ann, model, tasks, warned, written,
                                  time.perf_counter() - start)
    if scored is not None:
        summary["truth"] = scored
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=1, default=str) + "\n")
    elif not quiet:
        target = err_console if to_stdout else console
        _print_summary(target, summary, quality, truth_note)


def _check_engine_options(engine: Engine, *, scratch: Path | None,
                          scheduler: str | None) -> None:
    """Refuse ``--scratch`` and ``--scheduler`` with an engine other than the one each
    serves (stream's scratch disk, dask's cluster) instead of ignoring them."""
    for option, value, home in (("--scratch", scratch, Engine.stream),
                                ("--scheduler", scheduler, Engine.dask)):
        if value is not None and engine is not home:
            raise InputError(f"{option} is for --engine {home.value}"
                             + ("; the default engine (memory) has no use for it"
                                if engine is Engine.memory else ""))


def _check_dataset_place(out: Path, answers: Path, *files: Path | None) -> None:
    """Refuse, before any work, a labels folder (``-o`` of the out-of-core engines) or a
    Parquet ``--workers`` table inside the answers' folder (a folder given, or the folder a
    ``**`` glob reads: the next read would take them for answers), and a file output
    (``--workers``, ``--plot``) that is the labels folder or inside it."""
    folder = out.resolve()
    parts = Path(answers).parts  # a recursive glob reads its folder before the first "**"
    deep = next((i for i, part in enumerate(parts) if part == "**"), None)
    source = (Path(*parts[:deep]) if deep else Path(".") if deep == 0
              else Path(answers)).resolve()
    if source.is_dir() and (folder == source or source in folder.parents):
        raise InputError(f"{out}: is inside the answers' folder {source}; write the labels "
                         "elsewhere (a later read of the folder would take them for answers)")
    for path in files:
        if path is None:
            continue
        if path.resolve() == folder or folder in path.resolve().parents:
            raise InputError(f"{path}: is the labels folder (-o) or inside it; give it its "
                             "own place")
        if path.suffix.lower() == ".parquet" and source.is_dir() and \
                source in path.resolve().parents:
            raise InputError(f"{path}: is inside the answers' folder {source}; a later read "
                             "of the folder would take it for answers")


def _aggregate_at_scale(engine: Engine, answers: Path, out: Path, method, seed: int,
                        workers: Path | None, plot: Path | None, proba: bool,
                        columns: tuple[str, str, str], scheduler: str | None,
                        scratch: Path | None, force: bool, quiet: bool, as_json: bool,
                        params: dict, keep: str = "error") -> None:
    """``aggregate --engine stream|dask``: the same fit out of core (crowdlearn.scale)."""
    import numpy as np

    from crowdlearn.aggregation.report import plot_workers
    from crowdlearn.outputs import (
        PLOT_FORMATS,
        TABLE_FORMATS,
        atomic_write,
        check_format,
        check_location,
        check_outputs,
        write_table,
    )
    from crowdlearn.scale import aggregate_dask, aggregate_parquet

    model = make_aggregator(method, seed, **params)  # checked by the engines before any work
    check_format(workers, TABLE_FORMATS, "the workers table (--workers)", stdout=False)
    check_format(plot, PLOT_FORMATS, "the plot (--plot)", stdout=False)
    from crowdlearn.scale.parquet import parquet_files

    check_outputs([workers, plot], parquet_files(answers), force=force)  # never over an input
    check_location(out)  # the dataset folder is created in its parent
    _check_dataset_place(out, answers, workers, plot)
    task, worker, label = columns
    with _reported_warnings() as warned:
        if engine is Engine.stream:
            result = aggregate_parquet(answers, out, model, task=task, worker=worker,
                                       label=label, proba=proba, scratch=scratch, force=force,
                                       keep=keep)
        else:
            result = aggregate_dask(str(answers), out, model, scheduler=scheduler, task=task,
                                    worker=worker, label=label, proba=proba, force=force,
                                    keep=keep)
        if plot is not None:
            atomic_write(plot, lambda p: plot_workers(model, p))
        quality = result.worker_table()
        if workers is not None:
            write_table(quality, workers)
    iterations = result.iteration_seconds
    summary = {
        "data": {"answers": result.n_answers, "tasks": result.n_tasks,
                 "workers": result.n_workers, "classes": [str(c) for c in model.classes_]},
        "model": {"method": type(model).__name__, "params": model.get_params(),
                  **({"iterations": int(model.n_iter_)} if hasattr(model, "n_iter_") else {}),
                  # methods of a fixed number of rounds (zbs) have no converged_
                  **({"converged": bool(model.converged_)}
                     if hasattr(model, "converged_") else {})},
        "engine": result.engine,
        "labels": result.labels,
        "regrouped": result.regrouped,
        "warnings": list(warned),
        "outputs": [str(p) for p in (out, workers, plot) if p is not None],
        "seconds": round(result.seconds["total"], 3),  # as the memory engine's
        "seconds_by_step": {name: round(value, 3) for name, value in result.seconds.items()},
        "seconds_per_iteration": round(float(np.mean(iterations)), 3) if iterations else None,
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=1, default=str) + "\n")
    elif not quiet:
        console.print(f"{result.n_answers:,} answers, {result.n_tasks:,} tasks, "
                      f"{result.n_workers:,} workers: {type(model).__name__} on the "
                      f"{result.engine} engine in {result.seconds['total']:.1f} s"
                      + (f" ({model.n_iter_} iterations, {summary['seconds_per_iteration']} s "
                         "each)" if hasattr(model, "n_iter_") else ""), soft_wrap=True)
        if result.regrouped:
            console.print("tasks' answers were not in consecutive rows: regrouped by task "
                          + ("on the scratch disk first" if result.engine == "stream" else
                             "by a shuffle on the cluster (the input read twice)")
                          + " (labels come in parts grouped by a hash of the task id)",
                          soft_wrap=True)
        console.print(f"labels written to {out}/" + "".join(
            f", {p}" for p in (workers, plot) if p is not None), soft_wrap=True)


def _print_summary(out: Console, summary: dict, quality: pd.DataFrame,
                   truth_note: str | None = None) -> None:
    data = summary["data"]
    fit = summary["model"]
    out.print(f"{data['answers']:,} answers, {data['tasks']:,} tasks, {data['workers']:,} "
              f"workers, {len(data['classes'])} classes -> {fit['method']}"
              + (f" ({fit['iterations']} iterations"  # EM, variational, message rounds
                 f"{'' if fit.get('converged', True) else ', not converged'})"
                 if "iterations" in fit else ""), highlight=False)
    out.print("labels: " + ", ".join(f"{k}: {v:.1%}" for k, v in
                                     summary["labels"]["shares"].items()), highlight=False)
    out.print(f"mean confidence {summary['labels']['mean_confidence']:.3f}; "
              f"{summary['labels']['below_0.9']:,} "
              f"task{'' if summary['labels']['below_0.9'] == 1 else 's'} below 0.9",
              highlight=False)
    if summary["worker_quality_identifiable"]:
        what = "agreement with the majority" if fit["method"] == "MajorityVote" else "skill"
        table = Table(title=f"least reliable workers (with at least 5 answers; {what})")
        for col in ("worker", "n_answers", "skill"):
            table.add_column(col, justify="right")
        shown = quality[quality["n_answers"] >= 5].nsmallest(5, "skill")
        for row in shown.itertuples():
            table.add_row(str(row.worker), str(row.n_answers), f"{row.skill:.3f}")
        if len(shown):
            out.print(table)
    if "truth" in summary:
        scored = summary["truth"]
        table = Table(title=f"accuracy against the truth file: {scored['accuracy']:.4f} on "
                            f"{scored['tasks_scored']:,} tasks")
        for col in ("true class", "tasks", "accuracy"):
            table.add_column(col, justify="right")
        for cls, row in scored["per_class"].items():
            table.add_row(cls, f"{row['tasks']:,}", f"{row['accuracy']:.4f}")
        out.print(table)
        if truth_note:  # see crowdlearn.label_files.unscored_note
            out.print(truth_note, highlight=False, soft_wrap=True)
    out.print(f"wrote {', '.join(summary['outputs'])} ({summary['seconds']:.1f} s)",
              highlight=False)


experiment_app = typer.Typer(help="Reproducible sweeps: results.csv, a plot and a table.",
                             no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


JobsOption = Annotated[int, typer.Option(
    "--jobs", "-j", min=1, help="Cells run at once, each in its own process (one thread each "
    "unless --threads); a cell's result does not depend on it.")]
ThreadsOption = Annotated[int | None, typer.Option(
    min=1, help="CPU threads per cell (default: 1 with --jobs, else torch's own). One thread "
    "is fastest on a machine shared with other jobs.")]


@contextlib.contextmanager
def _sweep_reporting(jobs: int):
    """``log`` and ``progress`` callbacks for a sweep: each finished cell's line, and on a
    terminal a bar of cells done with the time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    def log(line: str) -> None:
        console.print(line, highlight=False, markup=False)

    if not console.is_terminal:
        yield log, None
        return
    bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task(f"cells ({jobs} at once)" if jobs > 1 else "cells", total=None)
    with bar:
        yield log, lambda done, total: bar.update(task, completed=done, total=total)


# what a sweep writes in its folder, besides its plot (a .png): see _check_sweep_inputs
SWEEP_FILES = ("results.csv", "workers.csv", "recommendation.json")


def _check_sweep_inputs(out: Path, *inputs: Path | None) -> None:
    """Refuse an input that is a file a sweep writes in its folder ``out`` (its results,
    its plot, plan's tables): resumed, or started over with --force, it would be replaced."""
    folder = out.resolve()
    for path in inputs:
        if path is None or str(path) == "-":  # standard input
            continue
        where = Path(path).resolve()
        if where.parent == folder and (where.name in SWEEP_FILES
                                       or where.suffix.lower() == ".png"):
            raise InputError(f"{path}: is a file this command writes in {out}; give -o "
                             "another folder, or move the input out of it")


def _run_sweep(run, settings, out: Path, force: bool, jobs: int, threads: int | None,
               inputs: tuple[Path | None, ...] = ()):
    """Run a sweep function with the command line's reporting; returns its results."""
    from crowdlearn.outputs import check_location

    check_location(out, folder=True)
    _check_sweep_inputs(out, *inputs)
    # the cells' warnings (a method whose labels lose a class...) as `warning:` lines
    with _reported_warnings(), _sweep_reporting(jobs) as (log, progress):
        return run(settings, out, log=log, restart=force, jobs=jobs, threads=threads,
                   progress=progress)


DEMO_SEEDS = 3


def _csv_numbers(text: str, kind: type = int) -> tuple:
    """``"1,3,5"`` as numbers of ``kind`` (int or float)."""
    what = "integers" if kind is int else "numbers"
    entries = _csv_entries(text, what)
    try:
        return tuple(kind(v) for v in entries)
    except ValueError:
        raise InputError(f"expected comma-separated {what}, got {text!r}") from None


def _csv_words(text: str) -> tuple[str, ...]:
    return _csv_entries(text, "names")


def _csv_entries(text: str, what: str) -> tuple[str, ...]:
    """``"a, b,c"`` as ``("a", "b", "c")``; blank text gives none, and an empty entry
    (``"3,,7"``, a typo) is refused rather than skipped."""
    entries = tuple(v.strip() for v in text.split(","))
    if not any(entries):  # nothing given: the caller says what is needed
        return ()
    if "" in entries:
        raise InputError(f"expected comma-separated {what}, got {text!r}: entry "
                         f"{entries.index('') + 1} is empty")
    return entries


@experiment_app.command("budget")
@_one_line_errors
def experiment_budget(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.csv and "
                                      "budget.png; an existing one with the same settings is "
                                      "resumed.")],
    dataset: Annotated[str, typer.Option(help="digits, fashion-mnist, mnist, cifar10, "
                                         "cifar100.")] = "digits",
    workers: Annotated[int, typer.Option(help="Number of simulated workers.")] = 20,
    gamma: GammaOption = 0.35,
    worker_model: WorkerModelOption = "hammer-spammer",
    budget: Annotated[int, typer.Option(help="Total number of labels bought.")] = 1200,
    redundancy: Annotated[str, typer.Option(help="Labels per item to compare.")] = "1,3,5",
    methods: Annotated[str, typer.Option(help="mv, soft-mv, ds, mbem, mbem-onecoin (and the "
                                         "joint methods of `experiment crowds`).")]
    = "mv,soft-mv,ds,mbem,mbem-onecoin",
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
    jobs: JobsOption = 1,
    threads: ThreadsOption = None,
) -> None:
    """Fixed labelling budget: many items labelled once, or few items several times?

    Example: crowdlearn experiment budget --dataset digits --redundancy 1,3,5 --seeds 5 -o out
    """
    from crowdlearn.experiments import BudgetSettings

    settings = BudgetSettings(dataset=dataset, workers=workers, gamma=gamma,
                              worker_model=worker_model, budget=budget,
                              redundancy=_csv_numbers(redundancy), methods=_csv_words(methods),
                              seeds=seeds, model=model, epochs=epochs, lr=lr,
                              batch_size=batch_size, device=device)
    if mbem_rounds != 1:
        settings.extra["mbem"] = {"n_rounds": mbem_rounds}
    _run_budget(settings, out, force, jobs, threads)


def _run_budget(settings, out: Path, force: bool, jobs: int, threads: int | None) -> None:
    from crowdlearn.experiments import finding, run_budget

    start = time.perf_counter()
    results = _run_sweep(run_budget, settings, out, force, jobs, threads)
    _print_accuracy(results, "redundancy", settings.redundancy, lambda r: f"r={r}",
                    f"test accuracy, {_over(settings.seeds)} "
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
    methods: Annotated[str, typer.Option(help="mv, soft-mv, ds, mbem, crowd-layer, doctor-net, "
                                         "aggnet, maxmig, clean (true labels).")]
    = "mv,ds,crowd-layer,doctor-net,aggnet,mbem,maxmig",
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1 (crowd answers, training).")] = 3,
    model: Annotated[str | None, typer.Option(help="Network (default: MLP 64-128-10 on "
                                              "digits).")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 60,
    lr: Annotated[float, typer.Option(help="Adam learning rate of the network.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    force: Annotated[bool, typer.Option(help="Start over: discard the results already in "
                                        "--out instead of resuming them.")] = False,
    jobs: JobsOption = 1,
    threads: ThreadsOption = None,
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
    results = _run_sweep(run_crowds, settings, out, force, jobs, threads)
    _print_accuracy(results, "setting", list(dict.fromkeys(results["setting"])), str,
                    f"test accuracy, {_over(settings.seeds)} "
                    f"({settings.dataset})")
    console.print(f"wrote {out / 'results.csv'} and {out / 'crowds.png'} "
                  f"({time.perf_counter() - start:.0f} s)")


def _mean_sd(mean: float, sd: float) -> str:
    """``0.812 ± 0.013``, or the mean alone where one seed leaves no spread to show."""
    import numpy as np

    return f"{mean:.3f}" if np.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"


def _over(n: int, what: str = "seed") -> str:
    """How a table's title says what its cells average: over 1 seed, mean ± sd over 3."""
    return f"over 1 {what}" if n == 1 else f"mean ± sd over {n} {what}s"


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
        cells = [_mean_sd(stats.loc[(method, v), "mean"], stats.loc[(method, v), "std"])
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
                                              "for (fashion-)mnist, resnet18 for cifar10, "
                                              "resnet34 for cifar100).")]
    = None,
    epochs: Annotated[int, typer.Option(help="Epochs of CE, Co-teaching and TwoEM.")] = 200,
    stage_epochs: Annotated[int, typer.Option(help="Epochs of each Me-Momentum stage.")] = 60,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    force: Annotated[bool, typer.Option(help="Start over: discard the results already in "
                                        "--out instead of resuming them.")] = False,
    jobs: JobsOption = 1,
    threads: ThreadsOption = None,
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
    results = _run_sweep(run_noise, settings, out, force, jobs, threads)
    _print_accuracy(results.assign(rate=results["rate"].astype(float)), "rate",
                    settings.rates, lambda r: f"{r:g}",
                    f"test accuracy, {_over(settings.seeds)} "
                    f"({settings.dataset}, {settings.noise} noise)")
    console.print(f"wrote {out / 'results.csv'} and {out / 'noise.png'} "
                  f"({time.perf_counter() - start:.0f} s)")


# ---------------------------------------------------------------------- active relabelling
@experiment_app.command("active")
@_one_line_errors
def experiment_active(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.csv and "
                                      "active.png; an existing one with the same settings is "
                                      "resumed.")],
    dataset: Annotated[str, typer.Option(help="Simulated crowd on: digits, fashion-mnist, "
                                         "mnist, cifar10, cifar100.")] = "digits",
    replay: Annotated[Path | None, typer.Option(help="Replay a real crowd instead: its "
                                                "answers (task, worker, label), several per "
                                                "task, revealed one at a time; read with "
                                                "--sep, --encoding and --keep.")] = None,
    truth: Annotated[Path | None, typer.Option(help="With --replay: the gold labels "
                                               "(task, label).")] = None,
    task_col: Annotated[str, typer.Option(help="Task column of --replay's answers.")] = "task",
    worker_col: Annotated[str, typer.Option(help="Worker column of --replay's answers.")]
    = "worker",
    label_col: Annotated[str, typer.Option(help="Label column of --replay's answers.")]
    = "label",
    sep: SepOption = None,  # these three read --replay (and --encoding --truth too)
    encoding: EncodingOption = None,
    keep: KeepOption = Keep("error"),
    workers: Annotated[int, typer.Option(help="Number of simulated workers.")] = 20,
    gamma: GammaOption = 0.35,
    worker_model: WorkerModelOption = "hammer-spammer",
    items: Annotated[int | None, typer.Option(help="Simulated: training items answered "
                                              "(default: up to 2,000).")] = None,
    extra: Annotated[float, typer.Option(help="Extra answers bought after the first, as a "
                                         "multiple of the number of tasks.")] = 1.5,
    rounds: Annotated[int, typer.Option(help="Rounds the extra answers are bought in (at "
                                        "most one per task a round).")] = 3,
    strategies: Annotated[str, typer.Option(help="ours, activelab (needs cleanlab), random, "
                                            "uniform; with --replay also oracle (a "
                                            "reference that reads the truth).")]
    = "ours,activelab,random,uniform",
    consensus: Annotated[str, typer.Option(help="Label model of the consensus: onecoin or "
                                           "ds.")] = "onecoin",
    methods: Annotated[str | None, typer.Option(help="Networks trained after each round "
                                                "(default mbem,ds; none in a replay).")]
    = None,
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1 (crowd, answer order, "
                                       "training).")] = 3,
    model: Annotated[str | None, typer.Option(help="Network (default mlp).")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 20,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "cpu",
    force: Annotated[bool, typer.Option(help="Start over: discard the results already in "
                                        "--out instead of resuming them.")] = False,
    jobs: JobsOption = 1,
    threads: ThreadsOption = None,
) -> None:
    """Active relabelling: which tasks get the extra answers, round after round?

    Example: crowdlearn experiment active --dataset digits --seeds 3 -o out;
    crowdlearn experiment active --replay answers.csv --truth truth.csv -o out
    """

    from crowdlearn.experiments.active import (
        SIM_METHODS,
        ActiveSettings,
        active_finding,
        active_summary,
        run_active,
    )

    for path in (replay, truth):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file")
    chosen = (() if replay is not None else SIM_METHODS) if methods is None \
        else _csv_words(methods)
    settings = ActiveSettings(dataset=dataset, replay=None if replay is None else str(replay),
                              truth=None if truth is None else str(truth),
                              columns=(task_col, worker_col, label_col),
                              keep=Keep(keep).value, sep=_separator(sep), encoding=encoding,
                              workers=workers,
                              gamma=gamma, worker_model=worker_model, n_items=items,
                              extra_labels=extra, rounds=rounds, aggregator=consensus,
                              strategies=_csv_words(strategies), methods=chosen, seeds=seeds,
                              model=model, epochs=epochs, device=device)
    start = time.perf_counter()
    results = _run_sweep(run_active, settings, out, force, jobs, threads, (replay, truth))
    table = active_summary(results)
    view = Table(title=f"accuracy after each round, {_over(settings.seeds)}")
    measures = [c.removesuffix("_mean") for c in table.columns if c.endswith("_mean")]
    for name in ("strategy", "round", "extra/task", *measures):
        view.add_column(name.removesuffix("_accuracy"), justify="left" if name == "strategy"
                        else "right")
    for _, row in table.iterrows():
        view.add_row(row["strategy"], str(row["round"]), f"{row['extra_per_task']:.2f}",
                     *(_mean_sd(row[m + '_mean'], row[m + '_std'])
                       for m in measures))
    console.print(view)
    console.print(f"wrote {out / 'results.csv'} and {out / 'active.png'} "
                  f"({time.perf_counter() - start:.0f} s)")
    console.print(active_finding(results), highlight=False)


@app.command()
@_one_line_errors
def relabel(
    answers: Annotated[Path, typer.Argument(help="The answers so far (task, worker, label); "
                                            "- reads standard input.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The tasks to label next: .csv, "
                                      ".tsv, .parquet, .json; - for standard output.")],
    k: Annotated[int, typer.Option("-k", "--k", help="How many tasks to choose.")] = 100,
    proba: Annotated[Path | None, typer.Option(help="A model's out-of-sample class "
                                               "probabilities: an id column (--id-col, id or "
                                               "task) and proba_<class> columns (or one "
                                               "column per class).")] = None,
    consensus: Annotated[str, typer.Option(help="Label model: onecoin or ds.")] = "onecoin",
    model_weight: Annotated[float, typer.Option(help="Exponent of --proba in the prior (0 "
                                                "ignores it).")] = 0.5,
    checks: Annotated[float, typer.Option(help="Share of the k tasks given to settled tasks, "
                                          "to check the workers.")] = 0.1,
    task_col: Annotated[str, typer.Option(help="Task column of the answers.")] = "task",
    worker_col: Annotated[str, typer.Option(help="Worker column.")] = "worker",
    label_col: Annotated[str, typer.Option(help="Label column.")] = "label",
    id_col: Annotated[str, typer.Option(help="Id column of --proba.")] = "id",
    layout: LayoutOption = Layout.long,
    missing: MissingOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    keep: KeepOption = Keep("error"),
    seed: Annotated[int, typer.Option(help="Breaks ties between equal scores.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
) -> None:
    """Rank tasks for one more answer: the k whose next answer is expected to tell most.

    Example: crowdlearn relabel answers.csv --proba model_probs.csv -k 200 -o next.csv
    """
    from crowdlearn.active import check_selection, consensus_model, next_to_label
    from crowdlearn.label_files import read_proba_table
    from crowdlearn.outputs import TABLE_FORMATS, check_format, check_outputs, write_table

    model = consensus_model(consensus)
    if k < 1:
        raise InputError(f"-k must be a positive integer, got {k}")
    check_selection(k, model_weight, checks, seed)  # before the files are read
    if str(answers) == "-" and proba is not None and str(proba) == "-":
        raise InputError("'-' (standard input) can be only one of the inputs: the answers or "
                         "--proba")
    check_format(out, TABLE_FORMATS, "the ranked tasks (-o)")
    check_outputs([out], [p for p in (answers, proba) if p is not None], force=force)
    with _reported_warnings():  # the reader's too (e.g. answers dropped by --missing)
        ann = read_answers(answers, layout, task_col, worker_col, label_col, missing,
                           keep=keep, sep=sep, encoding=encoding)
    with _reported_warnings(), _naming(proba, "proba ", "proba's"):
        given = None if proba is None else read_proba_table(proba, id_col)
        table = next_to_label(ann, given, k, model_weight=model_weight, checks=checks,
                              aggregator=model, seed=seed)
    write_table(table, out)
    if str(out) != "-":
        console.print(f"{len(table):,} of {ann.n_tasks:,} tasks chosen for one more answer "
                      f"({int((table['reason'] == 'check').sum()):,} as checks) -> {out}",
                      highlight=False, soft_wrap=True)


@app.command()
@_one_line_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results (resumed "
                                      "if it exists).")] = Path("crowdlearn-demo"),
    aggregate_only: Annotated[bool, typer.Option("--aggregate", help="Only compare the "
                                                 "aggregators on the bundled example crowd "
                                                 "(seconds).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the aggregators' randomness "
                                      "(--aggregate: tie-breaks, random starts).")] = 0,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds 0..N-1 of the budget experiment "
                                       "(5 for the table in docs/results.md).")] = DEMO_SEEDS,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Cells run at once, one thread each (default: one per "
        "CPU core).")] = None,
    force: Annotated[bool, typer.Option(help="Start over instead of resuming the results "
                                        "in --out.")] = False,
) -> None:
    """Run the fixed-budget experiment on the embedded digits (about 3 minutes on 2 cores).

    1,200 labels from 20 simulated workers (each perfect with probability 0.35, otherwise
    random), spent at 1, 3 or 5 labels per item; majority vote, soft majority vote,
    Dawid–Skene and MBEM (the official code's variant and one with one accuracy per worker);
    3 seeds, cells run in parallel.
    Each cell is the same as in `crowdlearn experiment budget --seeds 5 --threads 1`.
    Example: crowdlearn demo --out crowdlearn-demo
    """
    if aggregate_only:
        _demo_aggregate(seed)
        return
    from crowdlearn.experiments import BudgetSettings

    _run_budget(BudgetSettings(seeds=seeds), out, force, jobs or _cpu_cores(), 1)


def _cpu_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
        model = make_aggregator(method, seed)
        if model.requires_gold:
            continue  # needs known labels, which a user would not have
        if method.value == "kos" and ann.n_classes != 2:
            continue
        model.fit(ann)
        pred = model.predict().reindex(truth.index)
        scores[method.value] = float((pred == truth).mean())
        table.add_row(method.value, f"{scores[method.value]:.3f}",
                      str(getattr(model, "n_iter_", "-")))
    console.print(table)
    gain = scores["ds"] - scores["mv"]
    console.print(f"Dawid–Skene recovers {scores['ds']:.1%} of the true labels against "
                  f"{scores['mv']:.1%} for majority vote ({gain * 100:+.1f} points): weighting "
                  "workers by their estimated confusion matrices beats counting heads.")


# the choices of --method, from the one registry of methods
LearnMethod = Enum("LearnMethod", {name: name for name in METHODS}, type=str)


def _param_value(text: str):
    """A ``--param`` value: JSON where it parses (numbers, true/false, null, lists,
    objects), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _params(pairs: list[str]) -> dict:
    """``["name=value", …]`` as a dict; a pair without ``=`` or a name given twice is an
    :class:`InputError`."""
    params: dict = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or not name:
            raise InputError(f"--param {pair!r}: expected name=value, e.g. --param "
                             "noise_rate=0.2")
        if name in params:
            raise InputError(f"--param {name} is given twice")
        params[name] = _param_value(value.strip())
    return params


def _training(**given) -> dict:
    """The training options given on the command line (unset ones keep the method's
    defaults)."""
    return {k: v for k, v in given.items() if v is not None}


def _fit_checkpoints(out: Path) -> Path:
    """The scratch folder beside ``out`` where ``fit`` keeps its checkpoints until the model
    folder is written: one left by an interrupted fit is resumed (said on stderr; with
    ``--force`` too, which replaces the model folder, so that a job rerun with the same
    command goes on where it stopped); one that a running fit holds is refused, and so is
    anything else in its place (a file is the user's, not fit's to remove)."""
    from crowdlearn.learners.folder_lock import check_unlocked

    scratch = out.parent / f".{out.name}.fit-checkpoints"
    if scratch.is_symlink() or (scratch.exists() and not scratch.is_dir()):
        raise InputError(f"{scratch}: is in the way of fit's checkpoint folder for {out} (not "
                         "a folder fit made); move or remove it")
    if scratch.is_dir():
        check_unlocked(scratch)
        err_console.print(f"{scratch}: checkpoints of an interrupted fit, resumed if it had "
                          "the same inputs and settings", highlight=False, soft_wrap=True)
    return scratch


def _remove_folder(folder: Path) -> None:
    import shutil

    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    elif folder.exists() or folder.is_symlink():
        folder.unlink()


def _train_resumably(scratch: Path, force: bool, *args, **kwargs):
    """:func:`crowdlearn.model_folder.train` with the learner's checkpoints in ``scratch``
    (:func:`_resumed`: those of another fit are refused, or with ``force`` cleared)."""
    from crowdlearn.model_folder import train

    if "checkpoint" in kwargs:
        raise InputError(f"--param checkpoint: fit keeps its checkpoints itself, in {scratch}")
    trained = _resumed(lambda: train(*args, checkpoint=str(scratch), **kwargs), force,
                       lambda: _clear_checkpoints(scratch))
    trained.settings.pop("checkpoint", None)  # a scratch folder, removed once written
    trained.learner.checkpoint = None
    return trained


def _resumed(run, force: bool, clear):
    """``run()``, whose checkpoints may be another fit's (other data or options): then an
    :class:`InputError` with the command line's remedy, or with ``force`` they are cleared
    (``clear()``, said on stderr) and ``run()`` starts over."""
    from crowdlearn.nn.trainer import CheckpointMismatch

    try:
        return run()
    except CheckpointMismatch as exc:
        what = str(exc).rsplit("; ", 1)[0]
        if not force:
            raise InputError(f"{what}; the checkpoints of an interrupted fit with other data "
                             "or options: rerun that command to resume it, or pass --force to "
                             "start this one over") from None
    err_console.print(f"{what}: starting over (--force)", highlight=False, soft_wrap=True)
    clear()
    return run()


def _clear_checkpoints(folder: Path, pattern: str = "*") -> None:
    """Remove what ``folder`` holds that matches ``pattern``, but its lock (held by this
    fit)."""
    from crowdlearn.learners.folder_lock import LOCK

    for child in folder.glob(pattern):
        if child.name != LOCK:
            _remove_folder(child)


@contextlib.contextmanager
def _scratch_held(scratch: Path):
    """``scratch`` (made if needed) locked from before the fit until the model folder is
    written and the checkpoints removed, so that no second fit slips in between; one made
    here is removed again when the fit refuses its input (nothing to resume)."""
    from crowdlearn.learners.folder_lock import folder_lock

    fresh = not scratch.exists()
    scratch.mkdir(exist_ok=True)
    with folder_lock(scratch, lend=True):
        try:
            yield
        except InputError:
            if fresh:  # bad input: nothing written, no checkpoints either
                _remove_folder(scratch)
            raise


@app.command()
@_one_line_errors
def fit(
    features: Annotated[Path, typer.Option(help="Item features: .npy (row i is item i), IDX, "
                                           "a table (CSV, TSV, Parquet, JSON) with an id "
                                           "column, or a folder of images (file names "
                                           "without extension are the ids).")],
    method: Annotated[LearnMethod, typer.Option(help="With --answers: " + "; ".join(
        f"{name}: {METHODS[name].summary}" for name in CROWD_METHODS) + " (mv, soft-mv, ds "
        "and aggregate train once on the aggregate; --param self_training=true refits on "
        "the model's own predictions, as MBEM and the experiments do). With --labels: "
        + "; ".join(f"{name}: {METHODS[name].summary}" for name in NOISE_METHODS) + ".")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to create.")],
    answers: Annotated[Path | None, typer.Option(help="Crowd answers (task, worker, label; "
                                                 "or --format wide).")] = None,
    labels: Annotated[Path | None, typer.Option(help="One possibly wrong label per item (id, "
                                                "label).")] = None,
    model: Annotated[str | None, typer.Option(help="Network: mlp, head, lenet, resnet18, "
                                              "resnet20, resnet34 (default: the method's).")]
    = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Training epochs (default: the "
                                               "method's).")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Minibatch size.")] = None,
    standardize: Annotated[bool, typer.Option("--standardize", help="Scale each feature to "
                                              "mean 0, sd 1 (training statistics, kept for "
                                              "predict).")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads (default: torch's "
                                                "own; give 1 when other jobs share the "
                                                "cores).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of initialisation and shuffling.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    param: Annotated[list[str] | None, typer.Option(help="A method option as name=value "
                                                    "(repeatable), e.g. --param "
                                                    "noise_rate=0.2.")] = None,
    proba: Annotated[bool, typer.Option("--proba", help="Add class probabilities to "
                                        "labels.csv.")] = False,
    allow_missing: Annotated[bool, typer.Option(help="Drop (and count) items that have "
                                                "answers or labels but no features, and the "
                                                "reverse, instead of refusing.")] = False,
    id_col: Annotated[str | None, typer.Option(help="Id column of a features table "
                                               "(default: id).")] = None,
    image_size: ImageSizeOption = None,
    task_col: Annotated[str, typer.Option(help="Task (item) id column of --answers or "
                                          "--labels.")] = "task",
    worker_col: Annotated[str, typer.Option(help="Worker id column (long format).")]
    = "worker",
    label_col: Annotated[str, typer.Option(help="Label column.")] = "label",
    layout: LayoutOption = Layout.long,
    missing: MissingOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    keep: KeepOption = Keep("error"),
    folds: Annotated[int | None, typer.Option(min=2, help="Also write oof.csv: each item's "
                                              "class probabilities from a model trained "
                                              "without it (N more fits, each without one "
                                              "N-th of the items), for label-issues --proba "
                                              "and relabel --proba.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing model folder (one that "
                                        "holds only a model's files); start an interrupted "
                                        "fit of other data or options over instead of "
                                        "refusing it.")]
    = False,
) -> None:
    """Train a model from crowd answers or noisy labels and your item features.

    Example: crowdlearn fit --answers answers.csv --features X.npy --method maxmig -o model

    An interrupted fit (Ctrl-C, kill, a time limit) leaves its checkpoints in the folder
    .OUT.fit-checkpoints beside OUT: the same command run again resumes from them and ends
    with the same model, with or without --force; a fit of other data or options is refused
    (--force starts it over). The folder is removed once the model folder is written.
    """
    from crowdlearn.features import read_features
    from crowdlearn.inputs import read_task_labels
    from crowdlearn.model_folder import (
        check_folds,
        check_model_folder,
        out_of_fold,
        write_model_folder,
    )
    from crowdlearn.outputs import check_location

    start = time.perf_counter()
    if (answers is None) == (labels is None):
        raise InputError("give --answers (crowd methods) or --labels (noisy-label methods), "
                         "one of them")
    if labels is not None:  # options of crowd answers would be ignored without a word
        crowd_only = {"--worker-col": worker_col != "worker",
                      "--format": Layout(layout) is not Layout.long,
                      "--missing": missing is not None, "--keep": Keep(keep).value != "error"}
        named = _first_given(crowd_only)
        if named:
            raise InputError(f"{named} applies to crowd answers (--answers), not to "
                             "--labels (one label per item, by its id)")
    check_location(out, folder=True)
    check_model_folder(out, force)
    scratch = _fit_checkpoints(out)
    settings = _training(model=model, epochs=epochs, lr=lr, batch_size=batch_size,
                         n_threads=threads) | {"seed": seed, "device": device,
                                               "standardize": standardize,
                                               "verbose": err_console.is_terminal}
    given = _params(param or [])
    clash = sorted(set(given) & set(settings) - {"seed", "device", "standardize", "verbose"}
                   | ({"seed"} & set(given) if seed != 0 else set()))
    if clash:
        raise InputError(f"{clash[0]} is given twice: as --{clash[0].replace('_', '-')} and "
                         f"as --param {clash[0]}=…; keep one")
    settings |= given
    from crowdlearn.methods import make_learner, method_spec

    spec = method_spec(method.value)
    if (spec.kind == "crowd") != (answers is not None):  # before reading anything
        given_as, wanted, methods = (
            ("--labels", "crowd answers: give --answers", NOISE_METHODS) if answers is None
            else ("--answers", "one label per item: give --labels", CROWD_METHODS))
        raise InputError(f"--method {spec.name} learns from {wanted}, not {given_as} (methods "
                         f"for {given_as}: {', '.join(methods)})")
    learner = make_learner(method.value, **settings)
    learner.check_params()  # every option, before reading
    aggregator = getattr(learner, "aggregator", None)
    if aggregator is not None and aggregator.requires_gold:
        name = given.get("aggregator", type(aggregator).__name__)
        raise InputError(f"--param aggregator={name} needs gold answers (tasks with known "
                         f"labels), which fit does not take; `crowdlearn aggregate --method "
                         f"{name} --gold FILE` uses them (then fit --labels on its output)")
    with _reported_warnings():
        X = read_features(features, id_col=id_col, image_size=_image_size(image_size))
        if answers is not None:
            crowd = read_answers(answers, layout, task_col, worker_col, label_col, missing,
                                 keep=keep, sep=sep, encoding=encoding)
            if crowd.n_classes < 2:
                raise InputError(f"{answers}: every answer is {crowd.classes[0]!r}; a "
                                 "classifier needs at least two classes (declare them in a "
                                 "Categorical column, or add answers)")
            target = {"answers": crowd}
        else:
            given = read_task_labels(labels, task_col, label_col, sep=_separator(sep),
                                     encoding=encoding, known_tasks=X.ids)
            if len(given) == 0:
                raise InputError(f"{labels}: no labels (a header only?)")
            if given.nunique() < 2:
                raise InputError(f"{labels}: every item has the label {given.iloc[0]!r}; a "
                                 "classifier needs at least two classes")
            target = {"labels": given}
        if folds is not None:  # before training: at most one part an item
            check_folds(folds, len(target["labels"]) if "labels" in target
                        else target["answers"].n_tasks)
        with _scratch_held(scratch):
            trained = _train_resumably(scratch, force, spec.name, X,
                                       allow_missing=allow_missing, **target, **settings)
            if folds is not None:
                trained.out_of_fold = _resumed(lambda: out_of_fold(
                    trained, folds, seed=seed, checkpoint=scratch,
                    log=lambda text: err_console.print(text, highlight=False)), force,
                    lambda: _clear_checkpoints(scratch, "fold-*"))
                trained.folds = folds
            write_model_folder(trained, out, proba=proba, force=force,
                               command=" ".join(["crowdlearn", *sys.argv[1:]]))
            _remove_folder(scratch)
    what = (f"{len(trained.answers):,} answers from {trained.answers.n_workers:,} workers"
            if trained.answers is not None else "one label each")
    console.print(f"{spec.name}: {len(trained.ids):,} items ({what}), "
                  f"{len(trained.learner.classes_)} classes, trained in {trained.seconds:.1f} s "
                  f"-> {out}/ ({time.perf_counter() - start:.1f} s in all)", highlight=False,
                  soft_wrap=True)
    for kind, count in trained.dropped.items():
        console.print(f"dropped {count:,} {kind.replace('_', ' ')} (--allow-missing)",
                      highlight=False, soft_wrap=True)


class Epoch(str, Enum):
    final = "final"
    best = "best"


@app.command()
@_one_line_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A model folder made by `crowdlearn fit` "
                                              "(or any saved learner).")],
    features: Annotated[Path, typer.Option(help="Features of the items to label (formats as "
                                           "in `fit`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Predictions: .csv, .tsv, "
                                      ".parquet, .json; - for standard output.")],
    proba: Annotated[bool, typer.Option("--proba", help="Add one probability column per "
                                        "class.")] = False,
    id_col: Annotated[str | None, typer.Option(help="Id column of a features table "
                                               "(default: the one fit used, else id).")]
    = None,
    truth: Annotated[Path | None, typer.Option(help="True labels to score the predictions: "
                                               "(id, label) columns, or one label per line "
                                               "in the features' row order.")] = None,
    task_col: Annotated[str, typer.Option(help="Id column of --truth (else id, or its "
                                          "first of two columns).")] = "task",
    label_col: Annotated[str, typer.Option(help="Label column of --truth.")] = "label",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads.")] = None,
    epoch: Annotated[Epoch, typer.Option(help="A ce model's network: the final epoch's, or "
                                         "the best on its noisy validation split (a network "
                                         "trained long on noisy labels memorises them).")]
    = Epoch.final,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
) -> None:
    """Label new items with a trained model: id, label, confidence (and probabilities).

    Example: crowdlearn predict model --features X_test.npy -o predictions.csv
    """
    import pandas as pd

    from crowdlearn.features import read_features
    from crowdlearn.label_files import read_truth_by_row, unscored_note
    from crowdlearn.labels import same_number
    from crowdlearn.learners import load
    from crowdlearn.model_folder import probability_table, read_summary
    from crowdlearn.outputs import TABLE_FORMATS, check_format, check_outputs, write_table

    check_format(out, TABLE_FORMATS, "the predictions (-o)")
    check_outputs([out], [p for p in (features, truth) if p is not None], force=force)
    learner = load(model_dir)
    if threads is not None:
        learner.set_params(n_threads=threads)
    names = getattr(learner, "feature_names_in_", None)  # None: a model fit on an array
    summary = read_summary(model_dir)
    if id_col is None and summary.get("id_column") not in (None, "id"):
        id_col = (summary["id_column"], "id")  # fit's --id-col, else the usual name
    size = summary.get("image_size")  # fit's --image-size: the images resized alike
    size = tuple(size) if size and features.is_dir() else None
    with _reported_warnings():  # e.g. a truth file's header, a killed run's partial output
        items = read_features(features, id_col=id_col, image_size=size).in_order(
            list(names) if names is not None else summary.get("feature_columns"))
        classes = {str(c) for c in learner.classes_}
        ids = [str(i) for i in items.ids]
        known, unmatched = (read_truth_by_row(truth, ids, "feature rows", classes=classes,
                                              task_col=task_col, label_col=label_col)
                            if truth is not None else (None, []))
        if known is not None:
            # a truth file's 1 for a class 1.0 (a model fit on a float column), and the reverse
            known = pd.Series(same_number(known.tolist(), sorted(classes)), index=known.index,
                              dtype=object)
            strange = sorted(set(known) - classes)
            if strange:
                raise InputError(f"{truth}: label {strange[0]!r} is not one of the model's "
                                 f"classes ({', '.join(sorted(classes))})")
        chosen = {} if epoch is Epoch.final else {"model": epoch.value}
        if chosen and "model" not in inspect.signature(learner.predict_proba).parameters:
            raise InputError(f"{model_dir}: a {type(learner).__name__} keeps one network; "
                             "--epoch best applies to ce models")
        with _naming(features, "X has"):  # e.g. a .npy of another width than the model's
            scores = learner.predict_proba(items.X, **chosen)
        table = probability_table(items.ids, scores, learner.classes_, proba)
        write_table(table, out)
    target = err_console if str(out) == "-" else console
    target.print(f"{len(table):,} items labelled -> {out}", highlight=False, soft_wrap=True)
    if known is not None:
        hit = table["label"].astype(str).to_numpy()[known.index] == known.to_numpy()
        target.print(f"accuracy against {truth}: {hit.mean():.4f} ({int(hit.sum()):,} of "
                     f"{len(hit):,})", highlight=False, soft_wrap=True)
        note = unscored_note(unmatched, ids, "ids", "have no feature row")
        if note:
            target.print(note, highlight=False, soft_wrap=True)


class IssueMethod(str, Enum):
    two_em = "two-em"
    me_momentum = "me-momentum"


@app.command("label-issues")
@_one_line_errors
def label_issues(
    labels: Annotated[Path, typer.Option(help="The given labels (id, label).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Ranked table: .csv, .tsv, "
                                      ".parquet, .json; - for standard output.")],
    proba: Annotated[Path | None, typer.Option(help="Out-of-sample class probabilities of "
                                               "any model: an id column (--id-col, id or "
                                               "task) and proba_<class> columns (or one "
                                               "column per class). Nothing is trained.")]
    = None,
    features: Annotated[Path | None, typer.Option(help="Item features, to train --method "
                                                  "instead of reading --proba.")] = None,
    method: Annotated[IssueMethod, typer.Option(help="With --features: me-momentum, or "
                                                "two-em (for uniform noise only: it misses "
                                                "labels flipped to one other class).")]
    = IssueMethod.me_momentum,
    score: Annotated[str, typer.Option(help="With --proba: self_confidence or "
                                       "normalized_margin.")] = "self_confidence",
    filter_by: Annotated[str, typer.Option(help="With --proba, which labels are flagged: "
                                           "confident_learning, or prune_by_noise_rate "
                                           "(cleanlab's default, often more).")]
    = "confident_learning",
    param: Annotated[list[str] | None, typer.Option(help="A method option as name=value "
                                                    "(repeatable).")] = None,
    id_col: Annotated[str, typer.Option(help="Id column of --labels, --proba and a "
                                        "features table.")] = "id",
    image_size: ImageSizeOption = None,
    label_col: Annotated[str, typer.Option(help="Label column of --labels.")] = "label",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads.")] = None,
    seed: Annotated[int, typer.Option(help="Seed (with --features).")] = 0,
    allow_missing: Annotated[bool, typer.Option(help="With --features: leave out (and "
                                                "count) labelled items that have no "
                                                "features, instead of refusing.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
) -> None:
    """Rank the given labels by how likely each is wrong, most suspect first.

    Example: crowdlearn label-issues --labels labels.csv --proba oof_proba.csv -o issues.csv
    """
    from crowdlearn.inputs import source_name
    from crowdlearn.label_files import read_given_labels, read_proba_table
    from crowdlearn.outputs import TABLE_FORMATS, check_format, check_outputs, write_table

    if (proba is None) == (features is None):
        raise InputError("give --proba (probabilities of any model) or --features (to train "
                         "--method), one of them")
    check_format(out, TABLE_FORMATS, "the issues table (-o)")
    check_outputs([out], [p for p in (labels, proba, features) if p is not None], force=force)
    if features is not None and (score, filter_by) != ("self_confidence",
                                                       "confident_learning"):
        raise InputError("--score and --filter-by apply to --proba; with --features the "
                         "method ranks and flags by its own quality score")
    training_only = {"--method": method is not IssueMethod.me_momentum, "--param": bool(param),
                     "--seed": seed != 0, "--image-size": image_size is not None,
                     "--threads": threads is not None, "--allow-missing": allow_missing}
    named = _first_given(training_only)
    if proba is not None and named:
        raise InputError(f"{named} applies to --features (a model trained here); with "
                         "--proba nothing is trained")
    with _reported_warnings():  # the probabilities (or features) first: their ids tell
        # whether the labels' first line is a header
        if proba is not None:
            probabilities = read_proba_table(proba, id_col)
            given = read_given_labels(labels, id_col, label_col, probabilities.index)
            with _naming(labels, "label "):
                table = _issues_from_proba(given, probabilities, source_name(proba), score,
                                           filter_by)
        else:
            from crowdlearn.features import read_features

            items = read_features(features, id_col=(id_col, "id"),  # as --labels: else `id`
                                  image_size=_image_size(image_size))
            given = read_given_labels(labels, id_col, label_col, items.ids)
            table = _issues_from_training(given, items, method.value, seed, threads,
                                          _params(param or []), allow_missing)
    write_table(table, out)
    if str(out) != "-":
        flagged = int(table["is_label_issue"].sum())
        console.print(f"{len(table):,} labels ranked, {flagged:,} flagged as issues "
                      f"({flagged / len(table):.1%}) -> {out}", highlight=False, soft_wrap=True)


def _issues_from_proba(given: pd.Series, proba: pd.DataFrame, name: str, score: str,
                       filter_by: str):
    """:func:`crowdlearn.label_issues_from_proba` on the labels (id → label) and the
    probabilities of ``name`` (indexed by id, one column per class; see
    :func:`crowdlearn.label_files.read_proba_table`), restricted to the labelled ids:
    matched by id."""
    import pandas as pd

    from crowdlearn.label_issues import label_issues_from_proba

    labels = pd.Series(given.astype(str).to_numpy(),
                       index=pd.Index(given.index.astype(str), name="id"))
    labelled = labels.index.isin(proba.index)
    if not labelled.all():
        from crowdlearn.label_files import id_hint

        missing = labels.index[~labelled]
        raise InputError(f"{name}: {len(missing)} labelled items have no probabilities, e.g. "
                         f"{missing[0]!r}" + id_hint(missing, proba.index))
    classes = [str(c) for c in proba.columns]
    strange = sorted(set(labels) - set(classes))
    if strange:
        raise InputError(f"label {strange[0]!r} is not one of the probability columns "
                         f"({', '.join(classes)})")
    return label_issues_from_proba(labels, proba.loc[labels.index], score=score,
                                   filter_by=filter_by)


def _issues_from_training(given: pd.Series, items, method: str, seed: int,
                          threads: int | None, params: dict, allow_missing: bool = False):
    import numpy as np

    from crowdlearn.learners import find_label_issues

    X, found = items.rows_for(given.index, "labelled items", allow_missing=allow_missing)
    if not found.all():
        err_console.print(f"left out {int((~found).sum()):,} labelled items without "
                          "features (--allow-missing)", highlight=False)
        given = given[found]
    options = {"seed": seed, "verbose": err_console.is_terminal,
               **({"n_threads": threads} if threads else {}), **params}
    table = find_label_issues(X, given.to_numpy(), method, **options)
    ids = np.asarray([str(i) for i in given.index])
    return table.assign(row=ids[table["row"].to_numpy()]).rename(columns={"row": "id"})


@app.command("plan")
@_one_line_errors
def plan_command(
    pilot: Annotated[Path, typer.Option(help="Pilot answers (task, worker, label): a few "
                                        "hundred tasks answered by several workers each.")],
    budget: Annotated[int, typer.Option(help="Total number of labels to buy.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.csv, plan.png, "
                                      "recommendation.json and workers.csv; an existing one "
                                      "with the same settings is resumed.")],
    features: Annotated[Path | None, typer.Option(help="Your items' features (formats as in "
                                                  "`fit`), covering the pilot's tasks; the "
                                                  "pilot's inferred labels stand in for the "
                                                  "truth. Without: the embedded digits.")]
    = None,
    redundancy: Annotated[str, typer.Option(help="Labels per item to compare.")] = "1,2,3,5",
    methods: Annotated[str, typer.Option(help="Methods to compare: " + ", ".join(CROWD_METHODS)
                                         + ".")] = "mv,ds,mbem",
    seeds: Annotated[int, typer.Option(min=1, help="Simulated crowds (seeds 0..N-1), each "
                                       "shared by every method and redundancy.")] = 8,
    rule: Annotated[str, typer.Option(help="paired: the fewest labels per item within one "
                                      "standard error of the best, compared crowd by crowd; "
                                      "one-se: within one standard error of the best mean; "
                                      "best: the highest mean.")]
    = "paired",
    model: Annotated[str | None, typer.Option(help="Network (default mlp).")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs at r=1; scaled with r to keep "
                                        "the number of SGD steps fixed.")] = 30,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(min=1, help="Minibatch size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    id_col: Annotated[str | None, typer.Option(help="Id column of a features table.")] = None,
    image_size: ImageSizeOption = None,
    task_col: Annotated[str, typer.Option(help="Task id column of --pilot.")] = "task",
    worker_col: Annotated[str, typer.Option(help="Worker id column.")] = "worker",
    label_col: Annotated[str, typer.Option(help="Label column.")] = "label",
    layout: LayoutOption = Layout.long,
    missing: MissingOption = None,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    keep: KeepOption = Keep("error"),
    force: Annotated[bool, typer.Option(help="Start over: discard the results already in "
                                        "--out instead of resuming them.")] = False,
    jobs: JobsOption = 1,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads per cell, with or without "
                                         "--jobs. One thread is fastest on a machine shared "
                                         "with other jobs.")] = 1,
) -> None:
    """Recommend labels per item and a method for a budget, from a pilot of your crowd.

    Example: crowdlearn plan --pilot pilot.csv --budget 1200 -o plan
    """
    from crowdlearn.features import read_features
    from crowdlearn.outputs import check_location
    from crowdlearn.plan import plan

    start = time.perf_counter()
    check_location(out, folder=True)
    _check_sweep_inputs(out, pilot, features)
    with _reported_warnings():
        answers = read_answers(pilot, layout, task_col, worker_col, label_col, missing,
                               keep=keep, sep=sep, encoding=encoding)
        items = (read_features(features, id_col=id_col, image_size=_image_size(image_size))
                 if features is not None else None)
        with _sweep_reporting(jobs) as (log, progress):
            result = plan(answers, budget, redundancies=_csv_numbers(redundancy),
                          methods=_csv_words(methods), seeds=seeds, features=items,
                          model=model, epochs=epochs, batch_size=batch_size, lr=lr,
                          device=device, rule=rule, out_dir=out, restart=force, jobs=jobs,
                          threads=threads, log=log, progress=progress)
    rs = sorted(set(result.results["redundancy"]))
    _print_accuracy(result.results, "redundancy", rs, lambda r: f"r={r}",
                    f"expected test accuracy, {_over(seeds, 'simulated crowd')} "
                    f"(budget {budget})", _csv_words(methods))
    acc = result.pool.to_frame()["accuracy"]
    console.print(f"pool: {result.pool.n_workers} workers, {int(result.pool.answers.sum()):,} "
                  f"pilot answers, estimated accuracy {acc.min():.2f}-{acc.max():.2f} "
                  f"(median {acc.median():.2f})", highlight=False, soft_wrap=True)
    console.print(str(result), highlight=False, soft_wrap=True)
    for note in result.caveats:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"wrote {out / 'results.csv'}, {out / 'plan.png'}, "
                  f"{out / 'recommendation.json'} and {out / 'workers.csv'} "
                  f"({time.perf_counter() - start:.0f} s)", highlight=False, soft_wrap=True)


@app.command()
@_one_line_errors
def info() -> None:
    """Print versions of crowdlearn and its main dependencies, and the torch device."""
    import importlib.metadata as md

    table = Table(show_header=False)
    table.add_row("python", platform.python_version())
    for name in ("crowdlearn", "numpy", "scipy", "pandas", "scikit-learn", "torch", "typer",
                 "rich", "matplotlib", "pyarrow", "threadpoolctl", "pillow",
                 "cleanlab", "crowd-kit", "dask"):  # the last three: the extras
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
    cpu = f"cpu ({torch.get_num_threads()} threads)"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return f"{cpu}; mps available with --device mps"  # device auto picks CUDA or CPU
    return cpu


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


# the options each worker model takes (the others are refused, not silently ignored)
_MODEL_OPTIONS = {"hammer-spammer": ("gamma",), "classwise": ("gamma",),
                  "grouped": ("gamma", "group_size"), "maxmig": ("case", "expertise"),
                  "matrices": ()}


def _simulation_crowd(model: WorkerModel, n_classes: int, workers: int | None,
                      gamma: float | None, group_size: int | None, case: str | None,
                      expertise: Expertise | None, matrices: Path | None,
                      rng: np.random.Generator, dataset: str | None = None):
    import numpy as np

    from crowdlearn import simulate as sim
    from crowdlearn.experiments.crowds import case_crowd
    from crowdlearn.inputs import read_file

    if (model is WorkerModel.matrices) != (matrices is not None):
        raise InputError("--matrices FILE goes with --worker-model matrices (and only with it)")
    given = {"gamma": gamma, "group_size": group_size, "case": case, "expertise": expertise}
    takes = _MODEL_OPTIONS[model.value]
    stray = [name for name, value in given.items() if value is not None and name not in takes]
    if stray:
        flags = ", ".join("--" + name.replace("_", "-") for name in takes)
        raise InputError(f"--{stray[0].replace('_', '-')} does not apply to --worker-model "
                         f"{model.value} (" + (f"it takes {flags}" if flags else "it takes "
                         "none of --gamma, --group-size, --case, --expertise") + ")")
    gamma = 0.2 if gamma is None else gamma
    group_size = 10 if group_size is None else group_size
    case = "1" if case is None else case
    expertise = Expertise.low if expertise is None else expertise
    if model is WorkerModel.maxmig:
        if case not in ("1", "2", "3", "harsh"):
            raise InputError(f"--case {case!r}: one of 1, 2, 3, harsh")
        crowd = case_crowd(case, expertise.value, n_classes, dataset)
    elif model is WorkerModel.matrices:
        given = read_file(matrices, lambda p: np.load(p, allow_pickle=False))
        with _naming(matrices):  # the library's checks do not know the file
            crowd = sim.from_matrices(given)
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
                                      "task, worker, label (.csv, .tsv, .parquet, "
                                      ".json).")],
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
    gamma: Annotated[float | None, typer.Option(help="Probability that a worker (or a "
                                                "worker's class row, for classwise) is a "
                                                "hammer (default 0.2; hammer-spammer, "
                                                "classwise, grouped).")] = None,
    group_size: Annotated[int | None, typer.Option(help="Classes per group (grouped; "
                                                   "default 10).")] = None,
    case: Annotated[str | None, typer.Option(help="Max-MIG case (maxmig; default 1): 1 "
                                             "independent, 2 naive majority, 3 correlated "
                                             "mistakes, harsh (5 weak seniors, 10 copy "
                                             "one); the crowd of `experiment crowds` on "
                                             "digits, CIFAR-10's otherwise.")] = None,
    expertise: Annotated[Expertise | None, typer.Option(help="Max-MIG seniors' expertise "
                                                        "(maxmig; default low).")] = None,
    matrices: Annotated[Path | None, typer.Option(help="W×K×K confusion matrices (.npy) for "
                                                  "--worker-model matrices.")] = None,
    redundancy: Annotated[int | None, typer.Option(help="Distinct workers per item (default: "
                                                   "1; every worker for maxmig).")] = None,
    budget: Annotated[int | None, typer.Option(help="Total labels: the first budget // "
                                               "redundancy items are labelled (default: all "
                                               "items).")] = None,
    gold: Annotated[Path | None, typer.Option(help="Also write the true labels of the "
                                              "answered tasks: task, label (.csv, .tsv, "
                                              ".parquet, .json).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random choice.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite output files that exist.")] = False,
) -> None:
    """Simulate a crowd answering a dataset and write its answers (and the truth).

    Example: crowdlearn simulate --gamma 0.35 --budget 1200 -o answers.csv --gold gold.csv
    """
    import numpy as np

    from crowdlearn.outputs import TABLE_FORMATS, check_format, check_outputs, write_table
    from crowdlearn.simulate import assign

    if dataset is not None and labels is not None:
        raise InputError("give --dataset or --labels, not both")
    check_format(out, TABLE_FORMATS, "the answers (-o)", stdout=False)
    check_format(gold, TABLE_FORMATS, "the true labels (--gold)", stdout=False)
    check_outputs([out, gold], [p for p in (labels, matrices) if p is not None], force=force)
    y, class_ids, task_ids = simulation_labels(dataset, labels)
    rng = np.random.default_rng(seed)
    crowd = _simulation_crowd(worker_model, len(class_ids), workers, gamma, group_size, case,
                              expertise, matrices, rng,
                              dataset=(dataset or "digits") if labels is None else None)
    if redundancy is None:
        redundancy = crowd.n_workers if worker_model is WorkerModel.maxmig else 1
    assignment = assign(len(y), crowd.n_workers, redundancy, budget, rng)
    ann = crowd.annotate(y, assignment, rng, tasks=task_ids, classes=class_ids)
    answered = (assignment >= 0).any(axis=1)
    answers = ann.to_frame()
    write_table(answers, out)
    if gold is not None:
        import pandas as pd

        truth = pd.DataFrame({"task": np.asarray(task_ids, dtype=object)[answered],
                              "label": np.asarray(class_ids, dtype=object)[y[answered]]})
        write_table(truth, gold)
    correct = float((ann.label == y[answered][ann.task]).mean())
    console.print(f"{crowd!r} -> {ann!r}; {correct:.1%} of the answers are correct")
    console.print("wrote " + ", ".join(str(p) for p in (out, gold) if p is not None))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
