"""Reading a user's file: a missing, empty or damaged file is an :class:`InputError` naming it,
never a traceback from deep inside pandas, numpy or scipy."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import lzma
import re
import sys
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError, RemedyError
from crowdlearn.labels import missing_mask, plain

T = TypeVar("T")

# what a damaged file makes pandas, numpy, scipy, pyarrow, tarfile or a decompressor raise
_READ_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
                EOFError, ValueError, TypeError, KeyError, IndexError, tarfile.TarError,
                zlib.error, lzma.LZMAError, zipfile.BadZipFile)


def check_file(path: Path) -> None:
    """The path names an existing file, non-empty if it is a regular one (a pipe such as
    ``<(cat t.csv)`` has no size: its emptiness shows when it is read)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        parts = next(path.glob("*.parquet"), None) is not None
        raise InputError(f"{path}: is a directory, not a file" + (
            " (a folder of Parquet parts is read by aggregate --engine stream)" if parts
            else ""))
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")


def is_pipe(path: Path) -> bool:
    """A named pipe or other non-regular file (``<(cat t.csv)``): it can be read only once."""
    return path.exists() and not path.is_file() and not path.is_dir()


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
PARQUET = (".parquet", ".pq")
JSON_LINES = (".jsonl", ".ndjson")  # one record a line
JSON = (".json", *JSON_LINES)
TYPED = (*PARQUET, *JSON)  # tables whose cells carry types (text tables' cells are text)


def _zstd_open(path: Path, mode: str = "rb"):
    try:
        import zstandard
    except ImportError:
        raise InputError(f"{path}: reading a .zst file needs the Python module zstandard, which "
                         "is not installed: pip install zstandard, or decompress it first "
                         "(zstd -d)") from None
    return zstandard.open(path, mode)


# text compressed as pandas infers it from the suffix, and how to open it to sniff a line
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".zst": _zstd_open}
# what a file's first bytes say it is, when it is not the text its name says
_MAGIC = ((b"\x1f\x8b", "a gzip file", "name it {name}.gz"),
          (b"BZh", "a bzip2 file", "name it {name}.bz2"),
          (b"\xfd7zXZ\x00", "an xz file", "name it {name}.xz"),
          (b"\x28\xb5\x2f\xfd", "a zstd file", "name it {name}.zst"),
          (b"PAR1", "a Parquet file", "name it .parquet"),
          (b"\x93NUMPY", "a NumPy array", "name it .npy"),
          (b"PK\x03\x04", "a zip archive", "name it {name}.zip"),
          (b"\xd0\xcf\x11\xe0", "an Excel workbook (or other Office file)", "save it as CSV"))


def table_format(path: str | Path) -> str:
    """A table file's format suffix, lower case: its last suffix, or the one before a
    compression suffix (``.jsonl`` for ``answers.jsonl.gz``); ``""`` for standard input."""
    if str(path) == STDIN:
        return ""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in COMPRESSED:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


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
        if _looks_like_json(data) and not read_csv_kwargs:
            return _json_table(data, "<stdin>", None, encoding)
        return _read_text(io.BytesIO(data), "<stdin>", sep, encoding, blank_separated,
                          read_csv_kwargs)
    path = Path(path)
    suffix = table_format(path)
    if suffix in PARQUET and suffix == path.suffix.lower():
        return read_file(path, read_parquet)
    if suffix in JSON:
        return read_file(path, lambda p: _read_json(p, suffix in JSON_LINES, encoding))
    if suffix == ".npy":
        raise InputError(f"{path}: a .npy file holds an array, not a table with columns")
    return read_file(path, lambda p: _read_text(_text_source(p), str(p), sep, encoding,
                                                blank_separated, read_csv_kwargs))


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet table with the named index levels that pandas recorded in it
    (``df.set_index("task").to_parquet()``) turned back into columns."""
    table = pd.read_parquet(path, columns=columns)
    named = [n for n in table.index.names if n is not None and n not in table.columns]
    return table.reset_index(level=named) if named else table


def _text_source(path: Path):
    """What the text readers read: the path, or the bytes of a pipe (read once, so that the
    separator can be sniffed) or of the one file a ``.zip`` holds."""
    if is_pipe(path):
        data = path.read_bytes()
        if not data.strip():
            raise InputError(f"{path}: the file is empty")
        return io.BytesIO(data)
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            return io.BytesIO(archive.read(_zip_member(path, archive)))
    return path


def _zip_member(path: Path, archive: zipfile.ZipFile) -> str:
    """The one file of a ``.zip``, leaving out folders and macOS's ``__MACOSX/`` and
    ``._name`` companions."""
    names = [n for n in archive.namelist() if not n.endswith("/")
             and not n.startswith("__MACOSX/") and not Path(n).name.startswith("._")]
    if len(names) != 1:
        raise InputError(f"{path}: a .zip must hold one file, it holds {len(names)}"
                         + (f" ({', '.join(names[:4])})" if names else ""))
    return names[0]


def _check_text_bytes(head: bytes, name: str, encoding: str | None) -> None:
    """Refuse a file whose first bytes say it is not text (a gzip, Parquet, NumPy, zip or
    Excel file under a text name) or is UTF-16 text read as UTF-8, naming what it is."""
    stem = Path(name).name
    for magic, what, remedy in _MAGIC:
        if head.startswith(magic):
            excel = Path(name).suffix.lower() in (".xlsx", ".xlsm")
            if magic.startswith(b"PK") and (excel or b"[Content_Types].xml" in head
                                            or b"xl/" in head):
                what, remedy = "an Excel workbook", "save it as CSV"
            if name == "<stdin>":
                remedy = "standard input must be delimited text"
            raise InputError(f"{name}: looks like {what}, not text: {remedy.format(name=stem)}")
    plain = (encoding or "utf-8").lower().replace("-", "").replace("_", "")
    if head.startswith(b"\xef\xbb\xbf") and not plain.startswith("utf8"):
        raise InputError(f"{name}: starts with a UTF-8 byte-order mark, so it is UTF-8 text, "
                         f"not {encoding}: drop --encoding (in Python encoding=)")
    utf16 = plain.startswith("utf16")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") and not utf16:
        raise InputError(f"{name}: looks like UTF-16 text (it starts with a UTF-16 byte-order "
                         "mark): pass --encoding utf-16 (in Python encoding='utf-16')")


def _read_json(path: Path, lines: bool, encoding: str | None) -> pd.DataFrame:
    with COMPRESSED.get(path.suffix.lower(), open)(path, "rb") as fh:
        return _json_table(fh.read(), str(path), lines, encoding)


def _looks_like_json(data: bytes) -> bool:
    """Text that starts as a JSON table does: ``{"`` or ``[{``."""
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b'{"') or re.match(rb"\[\s*\{", head) is not None


def _json_table(data: bytes, name: str, lines: bool | None,
                encoding: str | None) -> pd.DataFrame:
    """A JSON table (``lines``: one record a line; None: whichever the text is) with its
    numbers exactly as written: a column of whole numbers is int64 (Python ints beyond it),
    of fractions float64, and one that mixes them keeps each as written (pandas' reader
    makes every number of such a column a float: ids beyond 2^53 lost their last digits and
    labels ``1`` and ``2.5`` became ``1.0`` and ``2.5``; see :func:`_json_column`). Records
    are objects; a file may also be one object of columns, as ``DataFrame.to_json()``
    writes."""
    text = data.decode(encoding or "utf-8-sig")
    if lines is None:
        lines = text.lstrip().startswith("{") and _several_records(text)
    if lines:
        body = [line for line in text.splitlines() if line.strip()]
        try:  # one parse of them all: twice as fast as a parse a line
            records = json.loads("[" + ",".join(body) + "]")
        except json.JSONDecodeError:
            for at, line in enumerate(text.splitlines(), start=1):  # name the line
                try:
                    if line.strip():
                        json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{name}: line {at}: not a JSON record ({exc.msg}, "
                                     f"column {exc.colno}); a .jsonl file holds one record "
                                     "a line") from None
            raise
    else:
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            hint = (" (one record a line: name it .jsonl)" if exc.msg == "Extra data" else "")
            raise InputError(f"{name}: line {exc.lineno}: not JSON ({exc.msg}){hint}") from None
    return _json_frame(records, name)


def _several_records(text: str) -> bool:
    """Whether text that starts with ``{`` holds one JSON value a line (JSON lines)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg == "Extra data"
    return False


def _json_frame(records, name: str) -> pd.DataFrame:
    """The table of parsed JSON: a list of records or an object of columns, each column
    typed from its values (:func:`_json_column`)."""
    if isinstance(records, dict) and records and all(
            isinstance(v, (dict, list)) for v in records.values()):
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in records.items()})
    elif isinstance(records, list) and all(isinstance(r, dict) for r in records):
        names = dict.fromkeys(k for r in records for k in r)  # in order of appearance
        frame = pd.DataFrame({k: pd.Series([r.get(k) for r in records], dtype=object)
                              for k in names})
    else:
        raise InputError(f"{name}: not a JSON table: give a list of records, [{{...}}, "
                         "{...}], one record a line (.jsonl), or an object of columns")
    if frame.empty:
        raise InputError(f"{name}: the JSON table has no rows")
    for column in frame.columns:
        frame[column] = _json_column(frame[column])
    return frame


def _json_column(values: pd.Series) -> pd.Series:
    """A column of parsed JSON values in the narrowest type that writes each as it was: int64
    for whole numbers that fit (no null among them), float64 for fractions, bool, text; whole
    numbers mixed with fractions as their text (as a CSV file gives them: ``1`` stays ``1``
    beside ``2.5``, where one numeric type would make it ``1.0`` or lose digits beyond
    2^53); anything else (nulls among whole numbers, ints beyond 64 bits) as Python objects."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "mixed-integer-float":
        return values.map(lambda v: v if v is None else str(v) if isinstance(v, int) else
                          repr(v))
    has_null = values.isna().any()
    if kind == "integer" and not has_null:
        try:
            return pd.Series(np.array(values.tolist(), dtype=np.int64), index=values.index,
                             name=values.name)
        except OverflowError:  # beyond int64: exact as Python ints
            return values
    if kind == "floating":
        return values.astype(np.float64)
    if kind in ("boolean", "string") and not has_null:
        return values.infer_objects()
    return values


def _read_text(source, name: str, sep: str | None, encoding: str | None,
               blank_separated: bool, kwargs: dict) -> pd.DataFrame:
    """A delimited text table; with a header line (the default), ``attrs["header"]`` holds
    that line's cells as written (pandas renames repeated and empty names: ``0,0`` becomes
    ``0, 0.1``), for callers that find the line is data."""
    if isinstance(source, io.BytesIO):
        head = source.getvalue()[:4096]
    elif Path(source).suffix.lower() in COMPRESSED:
        head = b""  # its decompressed bytes are checked by the decompressor
    else:
        with open(source, "rb") as fh:
            head = fh.read(4096)
    _check_text_bytes(head, name, encoding)
    if _looks_like_json(head):
        raise InputError(f"{name}: looks like JSON, not delimited text: name it .json (a list "
                         "of records) or .jsonl (one record a line)")
    source, declared = _without_sep_line(source, encoding)
    sep = sep or declared
    if sep is None:
        sep = sniff_separator(source, encoding, r"\s+" if blank_separated else ",")
    utf8 = (encoding or "utf-8").lower().replace("-", "").replace("_", "") in ("utf8",
                                                                             "utf8sig")
    header = _header_cells(source, sep, encoding) if len(sep) == 1 else []
    if len(header) > 1 and all(c[:1] == " " and c.strip() for c in header[1:]) and not kwargs:
        kwargs = {"skipinitialspace": True}  # "task, worker, label": ", " separates cells
    if not kwargs and len(sep) == 1 and utf8:  # Arrow's reader: ~4x pandas' with dtype=str
        table = _read_text_arrow(source, sep)
        if table is not None:
            return table
    kwargs = {"dtype": str, "keep_default_na": False, **kwargs}
    try:
        table = pd.read_csv(source, sep=sep, encoding=encoding, **kwargs)
    except UnicodeDecodeError as exc:
        raise EncodingError(f"{name}: cannot be read as {encoding or 'utf-8'} text "
                            f"({first_line(exc)})") from None
    except pd.errors.ParserError as exc:
        quote = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        skipped = 0 if declared is None else 1  # the "sep=" line read away
        if quote is not None:
            raise InputError(f"{name}: line {int(quote.group(1)) + 1 + skipped}: a quoted "
                             "field starts here and its closing quote never comes (a stray "
                             "'\"'?)") from None
        if fields is not None:
            want, line, saw = fields.groups()
            raise InputError(f"{name}: line {int(line) + skipped}: {saw} fields where the "
                             f"lines above have {want} (a separator inside an unquoted "
                             "cell?)") from None
        raise
    if "index_col" not in kwargs and not isinstance(table.index, pd.RangeIndex):
        table = _one_field_more(table, name)
    if "quoting" not in kwargs and len(sep) == 1:
        swallowed = _swallowed_rows(table, sep)
        if swallowed is not None:
            table = _read_unquoted(source, name, sep, encoding, kwargs, *swallowed)
    if kwargs.get("header", "infer") == "infer" and len(sep) == 1:
        table.attrs["header"] = [c.lstrip(" ") if kwargs.get("skipinitialspace") else c
                                 for c in header]
    return table


def _one_field_more(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """A table whose data lines hold one field more than its header, which pandas read with
    the first field as row labels, put right: row numbers 1, 2, … (R's ``write.table``
    writes them without a header name) are dropped with a warning; a separator ending every
    data line (its last field empty on every line) is ignored, the fields shifted back to
    their names. Anything else is refused: which field has no name cannot be told, and
    reading on would give every column the values of its neighbour."""
    n = len(table)
    if table.index.nlevels == 1 and n:
        first = table.index.astype(str).str.strip()
        if first.tolist() == [str(i) for i in range(1, n + 1)]:
            warnings.warn(f"{name}: the data lines start with row numbers 1 to {n:,} that the "
                          "header does not name (as R's write.table writes them): ignored",
                          CrowdlearnWarning, stacklevel=4)
            return table.reset_index(drop=True)
        last = table.iloc[:, -1]
        if (last.astype(str).str.strip() == "").all():
            values = [table.index.to_numpy(dtype=object)] + [table.iloc[:, j].to_numpy()
                                                             for j in range(table.shape[1] - 1)]
            return pd.DataFrame(dict(zip(table.columns, values, strict=True)))
    raise InputError(f"{name}: the data lines hold {table.shape[1] + table.index.nlevels} "
                     f"fields, one more than the header line's {table.shape[1]} (row names in "
                     "front, as R's write.table writes them? a value too many at the end?): "
                     "remove the extra field or name its column in the header")


def _swallowed_rows(table: pd.DataFrame, sep: str) -> tuple[int, str] | None:
    """``(row, column)`` of the first cell whose line breaks enclose rows, or None: in a
    tab-separated file a cell holding a tab and a line break, else one holding a line with a
    row's worth of separators. That is a ``"`` opening a cell of a file that does not quote
    (Toloka's TSV exports, text that starts with a quote): read as a quote, it runs on to
    the next ``"``, lines below, and the rows between vanish into one cell. (A quoted cell
    of a CSV file may hold commas and line breaks: a comment of several lines.)"""
    width = table.shape[1]
    if width < 2:
        return None
    for column in table.columns:
        values = table[column]
        if not pd.api.types.is_string_dtype(values):
            continue
        broken = np.flatnonzero(values.str.contains("\n", regex=False, na=False).to_numpy())
        for row in broken:
            lines = values.iat[row].split("\n")
            if (sep == "\t" and any(sep in line for line in lines)) or any(
                    line.count(sep) >= width - 1 for line in lines[1:]):
                return int(row), str(column)
    return None


def _read_unquoted(source, name: str, sep: str, encoding: str | None, kwargs: dict,
                   row: int, column: str) -> pd.DataFrame:
    """The table read again with ``"`` as plain text, where reading it as a quote
    swallowed rows (:func:`_swallowed_rows`); a :class:`CrowdlearnWarning` says so. If the
    text is not a table of equal rows that way either, an :class:`InputError`."""
    import csv
    import warnings

    from crowdlearn.errors import CrowdlearnWarning

    where = f"the cell of column {column!r} in data row {row + 1}"
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        table = pd.read_csv(source, sep=sep, encoding=encoding, quoting=csv.QUOTE_NONE,
                            **kwargs)
    except pd.errors.ParserError as exc:
        table, reason = None, first_line(exc)
    else:
        reason = "some rows then have too few cells"
    if table is None or table.isna().to_numpy().any():
        raise InputError(f"{name}: {where} opens with '\"' and runs over several lines "
                         "that hold whole rows (a stray quote?), and read without quotes "
                         f"the file is not a table either ({reason})") from None
    warnings.warn(f"{name}: '\"' is read as plain text, not as a quote: read as a quote, "
                  f"{where} ran over several lines and swallowed whole rows (a file that "
                  "does not quote its cells, as Toloka's TSV exports)", CrowdlearnWarning,
                  stacklevel=2)
    return table


def _without_sep_line(source, encoding: str | None):
    """``(source, separator)``: a first line ``sep=X``, which Excel writes (and reads) to
    declare a CSV file's separator, is taken off the text and its ``X`` returned; else the
    source as it is and None."""
    first = (source.getvalue().split(b"\n", 1)[0] if isinstance(source, io.BytesIO)
             else _first_line(Path(source)))
    line = first.decode(encoding or "utf-8", errors="replace").lstrip("\ufeff").strip()
    if len(line) != 5 or not line.lower().startswith("sep="):
        return source, None
    if isinstance(source, io.BytesIO):
        data = source.getvalue()
    else:
        with COMPRESSED.get(Path(source).suffix.lower(), open)(source, "rb") as fh:
            data = fh.read()
    rest = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return io.BytesIO(rest), line[4]


def _header_cells(source, sep: str, encoding: str | None) -> list[str]:
    """The cells of the first line of a text table, as written."""
    import csv

    head = (source.getvalue().split(b"\n", 1)[0] if isinstance(source, io.BytesIO)
            else _first_line(Path(source)))
    text = head.decode(encoding or "utf-8-sig", errors="replace").lstrip("\ufeff")
    try:
        return next(csv.reader([text.rstrip("\r\n")], delimiter=sep), [])
    except csv.Error:
        return []


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
        with zipfile.ZipFile(path) as archive, archive.open(_zip_member(path, archive)) as fh:
            return fh.readline()
    with COMPRESSED.get(suffix, open)(path, "rb") as fh:
        return fh.readline()


def read_task_labels(path: str | Path, task: str = "task", label: str = "label", *,
                     sep: str | None = None, encoding: str | None = None,
                     known_tasks=None) -> pd.Series:
    """A file of known labels (gold or truth): task id → label, read as text like the
    answers. Columns ``task`` (or ``id``) and ``label`` (the given names), or a file of two columns
    (``task,truth`` or such); a two-column file whose first line is a task of
    ``known_tasks`` has no header and its first line is data. A task named twice or an
    empty cell is an :class:`InputError` naming the file."""
    table = read_table(path, sep=sep, encoding=encoding)
    return task_labels_from_table(table, source_name(path), task, label,
                                  known_tasks=known_tasks)


def task_labels_from_table(table: pd.DataFrame, name: str, task: str = "task",
                           label: str = "label", *, known_tasks=None) -> pd.Series:
    """:func:`read_task_labels` on a table already read (``name``: how messages call its
    file), e.g. standard input, which can be read only once. Without a ``task`` column
    (the default name), an ``id`` column is the tasks: ``fit``'s ``labels.csv`` and
    ``predict``'s output name their rows so."""
    if task == "task" and task not in table.columns and "id" in table.columns:
        task = "id"
    if {task, label} <= set(table.columns):
        table = table[[task, label]]
    elif table.shape[1] != 2 or (task in table.columns and table.columns[0] != task) or (
            label in table.columns and table.columns[1] != label):
        # two columns are read as task, label unless one of the names is the other column
        raise InputError(f"{name}: expected columns {task!r} and {label!r} (or two columns: "
                         f"task, label); columns found: {', '.join(map(repr, table.columns))}")
    line0 = 2  # the file line of the table's first row
    if (not {task, label} <= set(table.columns) and known_tasks is not None
            and str(table.columns[0]) in {str(t) for t in known_tasks}):
        # no header: the first line is data, rebuilt from its cells as written (pandas
        # renamed a repeated or empty one: "0,0" became columns "0" and "0.1")
        cells = table.attrs.get("header")
        cells = cells if cells is not None and len(cells) == 2 else list(table.columns)
        first = pd.DataFrame([cells], columns=table.columns)
        table = pd.concat([first, table], ignore_index=True)
        line0 = 1
    table.columns = ["task", "label"]
    blank = np.column_stack([missing_mask(table[c]) for c in table.columns])
    if blank.any():
        row = int(np.flatnonzero(blank.any(axis=1))[0])
        raise InputError(f"{name}: line {row + line0}: empty cell")
    twice = table["task"].duplicated()
    if twice.any():
        row = int(np.flatnonzero(twice.to_numpy())[0])
        raise InputError(f"{name}: line {row + line0}: task "
                         f"{plain([table['task'].iloc[row]])[0]!r} is named twice; give each "
                         "task one label")
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
    if len(names) < 2 or len(set(names)) != len(names) or "" in names:
        return None
    try:
        table = pcsv.read_csv(
            # newlines_in_values: otherwise a stray quote silently loses the rest of its
            # block (~100,000 rows); with it, that is an error or a cell with line breaks
            source, parse_options=pcsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        if hasattr(source, "seek"):
            source.seek(0)
        return None
    if table.column_names != names or _has_newline(table):
        if hasattr(source, "seek"):
            source.seek(0)
        return None
    return table.to_pandas()


def _has_newline(table) -> bool:
    """Some cell holds a line break: a quoted multi-line value, or a stray quote that took
    the rest of the file as one cell. pandas reads the first and refuses the second (naming
    the line). A scan of the cells' bytes, ~3 ms for a million rows."""
    for column in table.columns:
        for chunk in column.chunks:
            data = chunk.buffers()[2]
            if data is not None and data.size and 10 in np.frombuffer(data, np.uint8):
                return True
    return False
