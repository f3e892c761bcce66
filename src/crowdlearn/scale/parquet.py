"""Answers in Parquet files too large for memory: finding the files, checking their schemas,
and reading them in bounded record batches.

A source is one Parquet file, a folder of them (searched recursively; files whose name starts
with ``.`` or ``_`` are skipped, as Spark and Dask write metadata there) or a glob pattern.
Files are read in sorted path order, which is the order the streamed engine sees the answers.
A file without rows (e.g. an empty part a job wrote) adds nothing and its schema is not
compared. Rows are named by their position in their file counted from 0, as the in-memory
engine names a Parquet file's rows and as pandas (``.iloc``) and pyarrow (``slice``) count
them.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crowdlearn.errors import InputError

GLOB_CHARS = set("*?[")


def parquet_files(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """The Parquet files that ``source`` names (a file, a folder, a glob or a list of these),
    sorted; an :class:`InputError` when it names none."""
    if isinstance(source, (list, tuple)):
        files = [f for item in source for f in parquet_files(item)]
        if not files:
            raise InputError("no Parquet file given")
        return files
    text = str(source)
    if GLOB_CHARS & set(text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"{text}: the pattern matches no file")
        return files
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet")
                       if not any(part.startswith((".", "_")) for part in
                                  p.relative_to(path).parts))
        if not files:
            raise InputError(f"{path}: the folder holds no .parquet file")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return [path]


def _kind(dtype: pa.DataType) -> str:
    """The family of an Arrow type for schema comparison (widths of one family may differ
    between files: they are cast to the widest)."""
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "text"
    if pa.types.is_floating(dtype):
        return "float"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_dictionary(dtype):
        return _kind(dtype.value_type)
    return str(dtype)


def _common_type(kind: str, types: list[pa.DataType]) -> pa.DataType:
    if kind == "integer":  # unsigned ids (hashes, often ≥ 2**63) stay unsigned
        return pa.uint64() if all(pa.types.is_unsigned_integer(t) for t in types) \
            else pa.int64()
    if kind == "text":
        return pa.large_string() if any(pa.types.is_large_string(t) for t in types) \
            else pa.string()
    if kind == "float":
        return pa.float64()
    return types[0]


def _cast(column: pa.Array, dtype: pa.DataType, where: str) -> pa.Array:
    """``column`` as the files' common type; a value that type cannot hold (an unsigned id
    ≥ 2**63 where other files hold signed ids) is an InputError."""
    try:
        return column.cast(dtype)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{where}: {str(exc).splitlines()[0]} (the common type of this "
                         f"column in every file is {dtype}); write it with one integer type "
                         "in every file, or as text") from None


def describe(source) -> str:
    """``source`` (a path, a glob or a list of them) as the user gave it."""
    if isinstance(source, (list, tuple)):
        return ", ".join(map(str, source))
    return str(source)


def empty_message(row: int, column: str, count: int) -> str:
    """An empty cell, in the in-memory engine's words (``row``: from 0 in its file or
    partition; ``count``: the empty cells of that column there)."""
    return (f"row {row}: empty value in column {column!r} ({count} empty value(s) in that "
            "column)")


def blank_mask(values: pa.Array) -> np.ndarray | None:
    """Text cells that are empty or only blanks (missing, as the in-memory engine reads
    them: :func:`crowdlearn.labels.missing_mask`); None for other types."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    blank = pc.equal(pc.utf8_trim_whitespace(values), "")
    return blank.fill_null(False).to_numpy(zero_copy_only=False)


def has_blank(values: pa.Array) -> bool:
    """Some text of ``values`` is empty or only blanks (called on distinct values)."""
    mask = blank_mask(values)
    return mask is not None and bool(mask.any())


def _empty_cells(path: Path, column: str) -> int:
    """The empty cells (null, NaN, or text empty or only blanks) of one column of a file:
    read on error only."""
    values = pq.read_table(path, columns=[column]).column(0).combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    blank = blank_mask(values)
    return (int(pc.sum(pc.is_null(values, nan_is_null=True)).as_py() or 0)
            + (int(blank.sum()) if blank is not None else 0))


@dataclass(frozen=True)
class ParquetAnswers:
    """Long-format answers (one a row) in Parquet files, checked but not read.

    Every file must hold the three columns, of one type family each across files (integers
    of different widths are read as int64, text as text); a missing column, another type
    or an unreadable file is an :class:`InputError` naming the file.
    """

    files: tuple[Path, ...]  # those with rows
    columns: tuple[str, str, str]  # task, worker, label
    types: tuple[pa.DataType, pa.DataType, pa.DataType]
    n_rows: int
    empty: tuple[Path, ...] = ()  # files without rows: skipped
    # where relative paths are read from (the client's working folder, for a Dask worker
    # that runs elsewhere); messages name the files as given
    folder: Path | None = None

    @classmethod
    def open(cls, source, task: str = "task", worker: str = "worker",
             label: str = "label") -> ParquetAnswers:
        files = parquet_files(source)
        columns = (task, worker, label)
        if len(set(columns)) < 3:
            raise InputError(f"the task, worker and label columns must differ, got {columns}")
        seen: list[list[pa.DataType]] = [[], [], []]
        kinds: list[str | None] = [None, None, None]
        first: list[Path | None] = [None, None, None]
        n_rows = 0
        full, empty = [], []
        for path in files:
            try:
                meta = pq.read_metadata(path)
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"{path}: not a readable Parquet file "
                                 f"({str(exc).splitlines()[0]}); the out-of-core engines read "
                                 "Parquet only (the default engine reads CSV, TSV and "
                                 "JSON)") from None
            if meta.num_rows == 0:  # its columns' types are often null or object: unknown
                empty.append(path)
                continue
            full.append(path)
            schema = meta.schema.to_arrow_schema()
            n_rows += meta.num_rows
            for i, name in enumerate(columns):
                if name not in schema.names:
                    raise InputError(f"{path}: no column {name!r} (columns: "
                                     f"{', '.join(schema.names)}); --task-col, --worker-col "
                                     "and --label-col name them")
                dtype = schema.field(name).type
                kind = _kind(dtype)
                if kinds[i] is None:
                    kinds[i], first[i] = kind, path
                elif kind != kinds[i]:
                    raise InputError(f"{path}: column {name!r} holds {dtype}, but {first[i]} "
                                     f"holds {kinds[i]}: the files' schemas differ")
                seen[i].append(dtype)
        if not full:
            raise InputError(f"{files[0]}: no answers: the file has no rows" if len(files) == 1
                             else f"{describe(source)}: no answers: its {len(files)} Parquet "
                             "files have no rows")
        types = tuple(_common_type(k, t) for k, t in zip(kinds, seen, strict=True))  # type: ignore[arg-type]
        return cls(tuple(full), columns, types, n_rows, tuple(empty))  # type: ignore[arg-type]

    @property
    def all_files(self) -> tuple[Path, ...]:
        """Every file the source names, those without rows included."""
        return tuple(sorted(self.files + self.empty))

    def origin(self, source) -> str:
        """What messages about the answers as a whole start with: the file when there is
        one (as in memory), else the source as given."""
        return f"{self.files[0]}: " if len(self.all_files) == 1 else f"{describe(source)}: "

    def raise_blank(self) -> NoReturn:
        """Name the first text cell that is empty or only blanks (the engines find that
        one exists among the distinct values they code; this second read runs only
        then)."""
        for path, offset, arrays in self.batches():
            for name, values in zip(self.columns, arrays, strict=True):
                blank = blank_mask(values)
                if blank is not None and blank.any():
                    raise InputError(f"{path}: " + empty_message(
                        offset + int(np.flatnonzero(blank)[0]), name,
                        _empty_cells(self.located(path), name)))
        raise InputError("an empty text cell")  # not reached: the caller saw one

    def located(self, path: Path) -> Path:
        """Where to read ``path`` (one of :attr:`files`) from."""
        return path if self.folder is None else self.folder / path

    def one(self, path: Path, folder: Path | None = None) -> ParquetAnswers:
        """The answers of one of the files (a Dask partition), with the types of all (its
        ``n_rows`` is not counted: 0), read from ``folder`` if its path is relative."""
        return replace(self, files=(Path(path),), empty=(), n_rows=0, folder=folder)

    def read(self) -> list[pa.Array]:
        """The task, worker and label arrays of every row, checked and cast as
        :meth:`batches` checks and casts them (for one file: a Dask partition)."""
        parts = [arrays for _, _, arrays in self.batches()]
        return [pa.concat_arrays([p[i] for p in parts]) if parts else pa.array([], type=t)
                for i, t in enumerate(self.types)]

    def batches(self, rows: int = 1 << 20) -> Iterator[tuple[Path, int, list[pa.Array]]]:
        """(file, index of the batch's first row in that file, [task, worker, label] arrays)
        for record batches of at most ``rows`` rows, in file order. An empty cell is an
        :class:`InputError` naming its file, row and column."""
        for path in self.files:
            offset = 0
            for batch in pq.ParquetFile(self.located(path)).iter_batches(batch_size=rows,
                                                            columns=list(self.columns)):
                arrays = []
                for name, dtype in zip(self.columns, self.types, strict=True):
                    column = batch.column(name)
                    if pa.types.is_dictionary(column.type):
                        column = column.dictionary_decode()
                    # a float NaN is empty too (Spark and polars write it for "no value"),
                    # as the in-memory and Dask engines read it; other columns need a pass
                    # only when their null count says so
                    empty = (pc.is_null(column, nan_is_null=True) if column.null_count
                             or pa.types.is_floating(column.type) else None)
                    if empty is not None and pc.any(empty).as_py():
                        i = int(np.flatnonzero(empty.to_numpy(zero_copy_only=False))[0])
                        raise InputError(f"{path}: " + empty_message(
                            offset + i, name, _empty_cells(self.located(path), name)))
                    arrays.append(column if column.type == dtype else
                                  _cast(column, dtype, f"{path}: column {name!r}"))
                yield path, offset, arrays
                offset += batch.num_rows
