"""Reading a user's file: a missing, empty or damaged file is an :class:`InputError` naming it,
never a traceback from deep inside pandas, numpy or scipy."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError, RemedyError
from crowdlearn.labels import missing_mask

T = TypeVar("T")

# what a damaged file makes pandas, numpy, scipy, pyarrow, tarfile or a decompressor raise
_READ_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
                EOFError, ValueError, TypeError, KeyError, IndexError, tarfile.TarError,
                zlib.error, lzma.LZMAError, zipfile.BadZipFile)


def check_file(path: Path) -> None:
    """The path names an existing, non-empty regular file."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")


def read_file(path: str | Path, read: Callable[[Path], T]) -> T:
    """``read(path)`` on an existing, non-empty file; any parsing failure becomes an
    :class:`InputError` that names the file."""
    path = Path(path)
    check_file(path)
    try:
        return read(path)
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty") from None
    except _READ_ERRORS as exc:
        raise InputError(f"{path}: cannot be read: {first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. scipy's MatReadError, pyarrow's errors
        if type(exc).__module__.split(".")[0] in ("scipy", "numpy", "pandas", "pyarrow"):
            raise InputError(f"{path}: cannot be read: {first_line(exc)}") from None
        raise


SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "bar"}
STDIN = "-"
# text compressed as pandas infers it from the suffix, and how to open it to sniff a line
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


class EncodingError(RemedyError):
    """A text file that is not in the encoding it is read with."""

    remedy = "pass the file's encoding, e.g. encoding='latin-1'"


def source_name(path: str | Path) -> str:
    """How messages name an input: its path, or ``<stdin>`` for ``-``."""
    return "<stdin>" if str(path) == STDIN else str(path)


def read_table(path: str | Path, *, sep: str | None = None, encoding: str | None = None,
               blank_separated: bool = False, **read_csv_kwargs) -> pd.DataFrame:
    """A user's table with every cell as text, exactly as written: CSV/TSV (``-`` is standard
    input; the separator sniffed from the header line unless given), Parquet (typed columns
    kept) or JSON (records, or one record a line for ``.jsonl``).

    Only an empty cell is missing; ``NA``, ``None`` and ``null`` are ordinary values. With
    ``blank_separated``, text whose first line holds none of the separators is split at runs
    of blanks (a whitespace-separated matrix).
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown text encoding {encoding!r} (e.g. utf-8, latin-1, "
                             "cp1252, utf-16)") from None
    if str(path) == STDIN:
        data = sys.stdin.buffer.read()
        if not data.strip():
            raise InputError("<stdin>: no input (standard input is empty)")
        return _read_text(io.BytesIO(data), "<stdin>", sep, encoding, blank_separated,
                          read_csv_kwargs)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return read_file(path, pd.read_parquet)
    if suffix in (".json", ".jsonl"):
        return read_file(path, lambda p: _read_json(p, suffix == ".jsonl", encoding))
    if suffix == ".npy":
        raise InputError(f"{path}: a .npy file holds an array, not a table with columns")
    return read_file(path, lambda p: _read_text(p, str(p), sep, encoding, blank_separated,
                                                read_csv_kwargs))


def _read_json(path: Path, lines: bool, encoding: str | None) -> pd.DataFrame:
    try:
        return pd.read_json(path, lines=lines, dtype=False, encoding=encoding)
    except ValueError as exc:
        layout = ("one JSON record a line" if lines else
                  "a list of records, [{...}, {...}] (one record a line: name it .jsonl)")
        raise InputError(f"{path}: cannot be read as {layout}: {first_line(exc)}") from None


def _read_text(source, name: str, sep: str | None, encoding: str | None,
               blank_separated: bool, kwargs: dict) -> pd.DataFrame:
    if sep is None:
        sep = sniff_separator(source, encoding, r"\s+" if blank_separated else ",")
    utf8 = (encoding or "utf-8").lower().replace("-", "").replace("_", "") in ("utf8",
                                                                             "utf8sig")
    if not kwargs and len(sep) == 1 and utf8:  # Arrow's reader: ~4x pandas' with dtype=str
        table = _read_text_arrow(source, sep)
        if table is not None:
            return table
    kwargs = {"dtype": str, "keep_default_na": False, **kwargs}
    try:
        return pd.read_csv(source, sep=sep, encoding=encoding, **kwargs)
    except UnicodeDecodeError as exc:
        raise EncodingError(f"{name}: cannot be read as {encoding or 'utf-8'} text "
                            f"({first_line(exc)})") from None


def sniff_separator(source, encoding: str | None = None, fallback: str = ",") -> str:
    """The separator of a delimited text file: whichever of comma, tab, semicolon or bar
    occurs most in its first line (``fallback`` when none does)."""
    if isinstance(source, io.BytesIO):
        first = source.getvalue().split(b"\n", 1)[0]
    else:
        first = _first_line(Path(source))
    line = first.decode(encoding or "utf-8", errors="replace")
    counts = {s: line.count(s) for s in SEPARATORS}
    best = max(counts, key=counts.get)
    return best if counts[best] else fallback


def _first_line(path: Path) -> bytes:
    """The first line of ``path``, uncompressed as pandas will read it (by suffix; a
    ``.zip`` holds one file)."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) != 1:
                raise InputError(f"{path}: a .zip must hold one file, it holds {len(names)}")
            with archive.open(names[0]) as fh:
                return fh.readline()
    with COMPRESSED.get(suffix, open)(path, "rb") as fh:
        return fh.readline()


def read_task_labels(path: str | Path, task: str = "task", label: str = "label", *,
                     sep: str | None = None, encoding: str | None = None,
                     known_tasks=None) -> pd.Series:
    """A file of known labels (gold or truth): task id → label, read as text like the
    answers. Columns ``task`` and ``label`` (the given names), or a file of two columns
    (``task,truth`` or such); a two-column file whose first line is a task of
    ``known_tasks`` has no header and its first line is data. A task named twice or an
    empty cell is an :class:`InputError` naming the file."""
    table = read_table(path, sep=sep, encoding=encoding)
    return task_labels_from_table(table, source_name(path), task, label,
                                  known_tasks=known_tasks)


def task_labels_from_table(table: pd.DataFrame, name: str, task: str = "task",
                           label: str = "label", *, known_tasks=None) -> pd.Series:
    """:func:`read_task_labels` on a table already read (``name``: how messages call its
    file), e.g. standard input, which can be read only once."""
    if {task, label} <= set(table.columns):
        table = table[[task, label]]
    elif table.shape[1] != 2:
        raise InputError(f"{name}: expected columns {task!r} and {label!r} (or two columns: "
                         f"task, label); columns found: {', '.join(map(repr, table.columns))}")
    elif known_tasks is not None and str(table.columns[0]) in {str(t) for t in known_tasks}:
        first = pd.DataFrame([list(table.columns)], columns=table.columns)
        table = pd.concat([first, table], ignore_index=True)  # no header: a data line
    table.columns = ["task", "label"]
    blank = np.column_stack([missing_mask(table[c]) for c in table.columns])
    if blank.any():
        row = int(np.flatnonzero(blank.any(axis=1))[0])
        raise InputError(f"{name}: line {row + 2}: empty cell")
    twice = table["task"].duplicated()
    if twice.any():
        row = int(np.flatnonzero(twice.to_numpy())[0])
        raise InputError(f"{name}: line {row + 2}: task {table['task'].iloc[row]!r} is named "
                         "twice; give each task one label")
    return pd.Series(table["label"].to_numpy(), index=pd.Index(table["task"], name="task"),
                     name="label")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_text_arrow(source, sep: str) -> pd.DataFrame | None:
    """A delimited text file read by Arrow's CSV reader, every cell as text (an empty cell
    is ``""``, as pandas reads it with ``keep_default_na=False``); None where pandas must
    read it (a ragged or otherwise unusual file: its messages name the line)."""
    import csv

    import pyarrow as pa
    import pyarrow.csv as pcsv

    if isinstance(source, io.BytesIO):
        head = source.getvalue().split(b"\n", 1)[0]
    else:
        head = _first_line(Path(source))
    try:  # a lone "\r" ends no line here: such a file's header is its whole text
        names = next(csv.reader([head.decode("utf-8-sig", errors="replace").rstrip("\r\n")],
                                delimiter=sep), [])
    except csv.Error:
        return None
    # pandas renames repeated and empty names and drops blank lines of one-column files
    if (len(names) < 2 or len(set(names)) != len(names) or "" in names
            or Path(str(source)).suffix == ".zip"):
        return None
    try:
        table = pcsv.read_csv(
            source, parse_options=pcsv.ParseOptions(delimiter=sep),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        if hasattr(source, "seek"):
            source.seek(0)
        return None
    if table.column_names != names:
        return None
    return table.to_pandas()
