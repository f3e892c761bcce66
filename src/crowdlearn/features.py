"""A user's item features, each row with its id, and their matching to the ids of answers or
labels.

Formats: a ``.npy`` matrix (row i has id ``i``, the convention of releases such as LabelMe
whose answer matrix has one row per item), an MNIST-style IDX file (likewise), a table (CSV,
TSV, Parquet, JSON) with an id column and numeric feature columns, or a folder of images
(PNG, JPEG, BMP, GIF, TIFF, WebP, PNM; searched recursively: class sub-folders are allowed,
not required; EXIF orientation applied; 8 bits a pixel) whose file names without extension
are the ids; hidden files and folders (names starting with ``.``, such as macOS's
``._x.png`` copies) are skipped. Grey images (an IDX file, an N × H × W array) get a channel
axis, N × 1 × H × W; a model predicts images with the channels it was trained on (grey
repeated, colour as luminance). Rows are matched to ids explicitly,
never by position alone: ids are compared as text, so ``7`` in a features table matches task
``7`` of an answers file.

A table's feature columns must hold numbers: text cells are parsed as numbers (CSV, TSV,
JSON; a column of True and False as 1 and 0), while a Parquet column must be numeric or
boolean by its type (a text, date, duration or categorical column is refused, never cast to
numbers). A nameless first column holding the row numbers or the ids (pandas' index,
written by ``df.to_csv()``) is dropped with a warning.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.inputs import (
    COMPRESSED,
    PARQUET,
    TYPED,
    read_file,
    read_table,
    sniff_separator,
    source_name,
    table_format,
)
from crowdlearn.labels import missing_mask

ARRAY_SUFFIXES = (".npy",)
IDX_MARKERS = ("-ubyte", ".idx")
# how pandas and pyarrow name a nameless first column (an index written by to_csv())
_UNNAMED = re.compile(r"|Unnamed: 0|__index_level_0__")
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Features:
    """Feature rows ``X`` (float32, or uint8 images N × C × H × W) and their ``ids``
    (text, unique), read from ``source``."""

    X: np.ndarray
    ids: np.ndarray
    source: str
    columns: list | None = None  # a table's feature column names, in the order of X
    id_column: str | None = None  # a table's id column
    image_size: tuple[int, int] | None = None  # (height, width) a folder's images were resized to

    def in_order(self, columns: list | None) -> Features:
        """These features with their columns in the order ``columns`` (those a model was
        trained on); a missing column is an :class:`InputError`, and other columns are left
        out with a :class:`CrowdlearnWarning` naming them. Arrays and images (no names) are
        returned as they are."""
        if columns is None or self.columns is None or list(columns) == self.columns:
            return self
        columns = [str(c) for c in columns]
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise InputError(f"{self.source}: no column {missing[0]!r}; the model was trained "
                             f"on columns {', '.join(map(str, columns[:6]))}"
                             f"{', …' if len(columns) > 6 else ''}")
        unused = [c for c in self.columns if c not in set(columns)]
        if unused:
            warnings.warn(f"{self.source}: {len(unused)} column(s) the model was not trained "
                          f"on are left out: {', '.join(map(repr, unused[:6]))}"
                          f"{', …' if len(unused) > 6 else ''}", CrowdlearnWarning,
                          stacklevel=2)
        order = [self.columns.index(c) for c in columns]
        return Features(self.X[:, order], self.ids, self.source, list(columns), self.id_column,
                        self.image_size)

    def __len__(self) -> int:
        return len(self.ids)

    def rows_for(self, ids: Sequence, what: str, *, allow_missing: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``X`` for ``ids`` (of ``what``, e.g. "answered tasks"), in their
        order, and a mask of the ids that have features. Ids without features are an
        :class:`InputError` naming the first few, unless ``allow_missing``."""
        wanted = pd.Index([str(i) for i in ids])
        position = pd.Index(self.ids).get_indexer(wanted)
        found = position >= 0
        if not found.any():
            raise InputError(f"{self.source}: no feature row has the id of any of the {what} "
                             f"(features: {_first(self.ids)}; {what}: {_first(wanted)})"
                             f"{_mismatch_hint(wanted, self.ids)}")
        if not found.all() and not allow_missing:
            missing = wanted[~found]
            hint = _mismatch_hint(missing, self.ids, wanted)
            raise InputError(f"{self.source}: {len(missing)} of the {what} have no feature "
                             f"row: {_first(missing)}{hint or ' (--allow-missing drops them)'}")
        return self.X[position[found]], found


def _mismatch_hint(missing: pd.Index, ids: np.ndarray, wanted: pd.Index | None = None) -> str:
    """Why ids that have no feature row may be meant to: ids written apart (``007`` and
    ``7``), image names with their extension (a folder's ids are the file names without
    it), or tasks numbered from 1 against an array's rows numbered from 0 (where
    ``--allow-missing`` would pair every task with its neighbour's row)."""
    from crowdlearn.datasets.images import IMAGE_SUFFIXES
    from crowdlearn.label_files import id_hint

    have = set(map(str, ids))
    stems = [m.rsplit(".", 1)[0] for m in missing if m.lower().endswith(IMAGE_SUFFIXES)]
    if stems and sum(s in have for s in stems) > len(missing) / 2:
        return (f"; image ids are the file names without their extension ({missing[0]!r} is "
                f"{stems[0]!r})")
    wanted = missing if wanted is None else wanted
    if all(w.isdigit() for w in wanted) and have and all(i.isdigit() for i in have):
        asked = {int(w) for w in wanted}
        rows = {int(i) for i in have}
        if min(asked) == min(rows) + 1 and {a - 1 for a in asked} <= rows:
            return ("; the tasks look numbered from 1 and the rows from 0 (row i has id i): "
                    "renumber one side, as --allow-missing would pair each task with its "
                    "neighbour's row")
    return id_hint(missing, list(ids))


def read_features(path: str | Path, *, id_col: str | Sequence[str] | None = None,
                  image_size: tuple[int, int] | None = None) -> Features:
    """Read the features at ``path`` (see the module docstring for the formats). ``id_col``
    names a table's id column, which it must have (several names: the first it has; default:
    a column called ``id``). ``image_size`` (height, width) resizes a folder's images, which
    must otherwise all have one size (bilinear, aspect ratio not kept: photos of several
    sizes and shapes become one network input)."""
    path = Path(path)
    size = check_image_size(image_size)
    if path.is_dir():
        return _read_images(path, size)
    if size is not None:
        raise InputError(f"{path}: an image size applies to a folder of images, not to a file")
    name = path.name.lower()
    if name.endswith(".npz"):
        raise InputError(f"{path}: a .npz archive holds several arrays; save the features as "
                         "one array with np.save (.npy)")
    if any(name.endswith(suffix + packed) for suffix in ARRAY_SUFFIXES for packed in COMPRESSED):
        raise InputError(f"{path}: a compressed .npy is not read; decompress it first")
    if name.endswith(ARRAY_SUFFIXES):
        X = read_file(path, lambda p: np.load(p, allow_pickle=False))
        return _positional(X, source_name(path))
    if any(marker in name for marker in IDX_MARKERS):
        from crowdlearn.datasets.idx import read_idx

        return _positional(read_idx(path), source_name(path))
    return _read_feature_table(path, id_col)


def _positional(X: np.ndarray, source: str) -> Features:
    """Rows of an array file: row i has id ``i``. Grey images (N × H × W: MNIST's IDX files)
    get their channel axis, N × 1 × H × W, as the image models take them; colour images
    stored channels last (N × H × W × 3, numpy's and Pillow's layout) are named in a warning,
    since the models read N × C × H × W."""
    if X.ndim < 2 or len(X) == 0:
        raise InputError(f"{source}: features must hold one row per item (2-D or more), got "
                         f"shape {X.shape}")
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim == 4 and X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        warnings.warn(f"{source}: shape {X.shape} looks like images stored channels last "
                      f"(N × H × W × {X.shape[-1]}); the models read N × C × H × W: save "
                      "np.moveaxis(X, -1, 1) instead", CrowdlearnWarning, stacklevel=3)
    return Features(_checked(X, source), np.arange(len(X)).astype(str), source)


def _read_feature_table(path: Path, id_col: str | Sequence[str] | None) -> Features:
    source = source_name(path)
    table = read_table(path)
    names = ["id"] if id_col is None else [id_col] if isinstance(id_col, str) else list(id_col)
    column = next((c for c in names if c in table.columns), None)
    if column is None:  # a name given is never swapped for another column silently
        shown = " nor ".join(map(repr, names))
        hint = _headerless_hint(table) or (
            ("; name it with --id-col" if id_col is None else "") + _unnamed_hint(table))
        raise InputError(f"{source}: no id column {shown} (columns: "
                         f"{_first(table.columns, 8)}){hint}")
    empty = missing_mask(table[column])
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise InputError(f"{source}: {_row(path, row)}: empty id (column {column!r}); every "
                         f"feature row needs one ({int(empty.sum())} such rows)")
    ids = table[column].astype(str).to_numpy()
    values = _without_row_numbers(table, column, ids, source)
    if values.shape[1] == 0:
        raise InputError(f"{source}: no feature columns besides the id column {column!r}")
    if table_format(path) in TYPED:
        _check_types(values, source, parquet=table_format(path) in PARQUET)
    numeric = values.apply(_truth_values).apply(pd.to_numeric, errors="coerce")
    unparsed = numeric.isna().to_numpy()
    if unparsed.any():  # empty cells, or text that is not a number
        empty = np.zeros_like(unparsed)
        for j in np.flatnonzero(unparsed.any(axis=0)):
            empty[:, j] = missing_mask(values.iloc[:, j])
        bad = unparsed & ~empty
        if bad.any():
            row, col = np.argwhere(bad)[0]
            cell = values.iat[row, col]
            raise InputError(f"{source}: {_row(path, row)}, column {values.columns[col]!r}: "
                             f"{cell!r} is not a number{_number_hint(cell, path)}")
        if empty.any():
            raise InputError(_empty_message(empty, values, ids, path, source))
    if len(values) == 0:
        raise InputError(f"{source}: a header but no rows")
    X = numeric.to_numpy(dtype=np.float64)
    return Features(_checked(X, source, rows=ids, columns=values.columns),
                    _unique(ids, source), source, [str(c) for c in values.columns], str(column))


def _is_unnamed(name) -> bool:
    return name is None or bool(_UNNAMED.fullmatch(str(name).strip()))


def _row_numbers(values: pd.Series, ids: np.ndarray) -> str | None:
    """What a nameless first column holds when it is an index: ``0..n-1`` (pandas) or
    ``1..n`` (R's ``write.csv``), or the ids themselves; None otherwise."""
    n = len(values)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    for start in (0, 1):
        if n and np.array_equal(numbers, np.arange(start, start + n)):
            return f"the row numbers {start}..{start + n - 1}"
    if n and len(ids) == n and (values.astype(str).to_numpy() == ids).all():
        return "the ids"
    return None


def _without_row_numbers(table: pd.DataFrame, id_column, ids: np.ndarray,
                         source: str) -> pd.DataFrame:
    """The feature columns: all but the id column and, with a warning, a nameless first
    column that holds the row numbers or the ids (pandas' index, written by ``df.to_csv()``,
    never a feature). Any other nameless first column is refused: it cannot be told apart
    from an index and could not be matched by name at prediction."""
    values = table.drop(columns=[id_column])
    first = table.columns[0]
    if first == id_column or not _is_unnamed(first):
        return values
    held = _row_numbers(table.iloc[:, 0], ids)
    if held is None:
        raise InputError(f"{source}: the first column has no name and holds neither row "
                         "numbers nor the ids (pandas' index, written by df.to_csv()?): name "
                         "it in the header if it is a feature, or re-save the file without it "
                         "(df.to_csv(index=False))")
    warnings.warn(f"{source}: ignored the first column, which has no name and holds {held} "
                  "(pandas' index, written by df.to_csv()); df.to_csv(index=False) leaves it "
                  "out", CrowdlearnWarning, stacklevel=4)
    return values.iloc[:, 1:]


def _headerless_hint(table: pd.DataFrame) -> str:
    """Why a table's column names may be its first row of data: most of them are numbers, so
    the file has no header line (pandas took the first item for one)."""
    names = [str(c) for c in table.columns]
    numeric = sum(bool(re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", n))
                  for n in names)
    if not names or numeric <= len(names) / 2:
        return ""
    return ("; the header looks like a row of data, so the file has no header line: add one "
            "(id, then a name per feature column)")


def _unnamed_hint(table: pd.DataFrame) -> str:
    """Why a table without its id column may have a nameless first column, and what to do."""
    if table.shape[1] == 0 or not _is_unnamed(table.columns[0]):
        return ""
    numbers = _row_numbers(table.iloc[:, 0], np.array([]))
    if numbers is not None and numbers != "the ids":
        return (f"; the first column has no name and holds {numbers}: pandas' index, written "
                "by df.to_csv(), not ids")
    return (f"; the first column has no name (pandas' index, written by df.to_csv()?): if it "
            f"holds the ids, name it id in the header or pass --id-col "
            f"{str(table.columns[0])!r}")


def _check_types(values: pd.DataFrame, source: str, parquet: bool) -> None:
    """Refuse a typed table's column that is not numbers by its type: dates, durations and
    categories (never cast to numbers) and, in Parquet, text (in JSON, text is parsed)."""
    for name, column in values.items():
        dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype) or (pd.api.types.is_numeric_dtype(dtype)
                                                 and not isinstance(dtype, pd.CategoricalDtype)):
            continue
        kind = (pd.api.types.infer_dtype(column, skipna=True)
                if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
                else None)
        if kind in ("integer", "floating", "mixed-integer-float", "decimal", "boolean",
                    "empty") or (kind in ("string", "mixed", "mixed-integer") and not parquet):
            continue
        what = f"{kind} values" if kind is not None else f"{dtype} values"
        raise InputError(f"{source}: column {name!r} holds {what}, not numbers; features must "
                         "be numbers: convert the column to numbers or drop it")


def _truth_values(column: pd.Series) -> pd.Series:
    """A text column of True and False only (how pandas writes a bool column; any case) as 1
    and 0, like a boolean Parquet column; other columns as they are."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column
    given = ~missing_mask(column)
    words = column.astype(str).str.strip().str.lower()
    if not given.any() or not words[given].isin(("true", "false")).all():
        return column
    return (words == "true").astype(np.float64).where(given)  # an empty cell stays empty


def _number_hint(cell, path: Path) -> str:
    """Why a cell that is not a number may be one written another way."""
    text = str(cell).strip()
    if _DECIMAL_COMMA.fullmatch(text):
        sep = _separator(path)
        where = f"the separator is {sep!r} and " if sep not in (None, ",") else ""
        grouped = " (or commas grouping thousands)" if _THOUSANDS.fullmatch(text) else ""
        return (f": {where}the cell holds a decimal comma{grouped}; re-save the file with "
                f"decimal points ({text.replace(',', '.')})")
    if _THOUSANDS.fullmatch(text):
        return ": commas group its thousands; re-save the file without thousands separators"
    return ""


def _separator(path: Path) -> str | None:
    """A text file's separator, as read_table sniffs it; None for a typed table, standard
    input or a pipe (read once already)."""
    if table_format(path) in TYPED or not path.is_file():
        return None
    try:
        return sniff_separator(path)
    except (InputError, OSError, EOFError):
        return None


def _empty_message(empty: np.ndarray, values: pd.DataFrame, ids: np.ndarray, path: Path,
                   source: str) -> str:
    """Name the first empty cell's row and column; a last column empty throughout and
    nameless is what a separator at the end of each line makes."""
    row, col = np.argwhere(empty)[0]
    name = values.columns[col]
    typed = table_format(path) in TYPED
    count = f"{int(empty.sum()):,} empty cell{'s' if empty.sum() > 1 else ''}"
    if (col == values.shape[1] - 1 and empty[:, col].all()
            and str(name).startswith("Unnamed: ")):
        return (f"{source}: column {name!r} has no name and no values: a separator at the end "
                f"of each line makes an empty last column; remove it ({count})")
    what = "holds no value (null or NaN)" if typed else "is empty"
    return (f"{source}: {_row(path, row)} (id {ids[row]!r}), column {name!r} {what}; every "
            f"feature needs a value ({count})")


def _row(path: Path, row: int) -> str:
    """Data row ``row`` (from 0) as the file shows it: a text table's line (its header is line
    1), a Parquet or JSON table's row counted from 1."""
    binary = table_format(path) in TYPED
    return f"row {row + 1}" if binary else f"line {row + 2}"


def check_image_size(size) -> tuple[int, int] | None:
    """``size`` as (height, width) of positive integers, or None."""
    if size is None:
        return None
    try:
        height, width = size
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                 for v in (height, width))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"image size must be (height, width), two positive integers, got "
                         f"{size!r}")
    return int(height), int(width)


def _read_images(folder: Path, size: tuple[int, int] | None = None) -> Features:
    from crowdlearn.datasets.images import IMAGE_SUFFIXES, decode_image, image_files

    files = image_files(folder)
    if not files:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    ids = np.array([p.stem for p in files])
    _unique(ids, str(folder), files)
    images = [decode_image(p, "RGB", size).transpose(1, 2, 0) for p in files]  # H × W × C
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        odd = next(p for p, im in zip(files, images, strict=True) if im.shape != images[0].shape)
        raise InputError(f"{odd}: {odd.name} is {_size(odd, images, files)}, the others "
                         f"{images[0].shape[1]}×{images[0].shape[0]}; resize them to one size "
                         "(--image-size WxH, image_size=(height, width))")
    X = np.stack(images).transpose(0, 3, 1, 2)  # N × C × H × W
    if all((im[..., 0] == im[..., 1]).all() and (im[..., 1] == im[..., 2]).all()
           for im in images):
        X = X[:, :1]  # grey images as one channel
    return Features(np.ascontiguousarray(X), ids, str(folder), image_size=size)


def _size(path: Path, images: list, files: list) -> str:
    shape = images[files.index(path)].shape
    return f"{shape[1]}×{shape[0]}"


def _checked(X: np.ndarray, source: str, rows: np.ndarray | None = None,
             columns: Sequence | None = None) -> np.ndarray:
    """Numbers only, finite; uint8 images kept, everything else float32."""
    if X.dtype == np.uint8:
        return X
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise InputError(f"{source}: features must be numbers, got {X.dtype}")
    if np.iscomplexobj(X):
        raise InputError(f"{source}: features must be real numbers, got complex")
    X = X if X.dtype == np.float64 else X.astype(np.float32)  # a learner narrows it (as_float)
    with np.errstate(invalid="ignore"):
        flat = np.abs(X.reshape(len(X), -1))
        huge = np.isfinite(flat) & (flat > np.finfo(np.float32).max)  # inf: named below
    if huge.any():
        row, col = (int(v[0]) for v in np.nonzero(huge))
        where = f"id {rows[row]!r}" if rows is not None else f"row {row}"
        column = f", column {columns[col]!r}" if columns is not None else ""
        raise InputError(f"{source}: {where}{column} holds {X.reshape(len(X), -1)[row, col]:g},"
                         " beyond the networks' float32 range (±3.4e38); rescale the feature")
    finite = np.isfinite(X.reshape(len(X), -1))
    bad = ~finite.all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        where = f"id {rows[row]!r}" if rows is not None else f"row {row}"
        column = ""
        if columns is not None:
            column = f"column {columns[int(np.flatnonzero(~finite[row])[0])]!r}; "
        raise InputError(f"{source}: {where} holds NaN or an infinite value "
                         f"({column}{int(bad.sum())} such rows)")
    return X


def as_float(X: np.ndarray) -> np.ndarray:
    """Numbers as float32, the networks' precision, unless that would merge a column's
    values: float64 data with a column far from zero next to its spread (|mean| > 10⁴ × sd:
    timestamps, coordinates with an offset; float32 keeps 7 digits, so 1e8 + 0.1 noise
    became two distinct values) stay float64, and standardising then works in float64."""
    if X.dtype == np.float64 and len(X):
        flat = X.reshape(len(X), -1)
        with np.errstate(all="ignore"):  # NaN and inf are named by the caller
            spread, centre = flat.std(axis=0), np.abs(flat.mean(axis=0))
        if ((spread > 0) & (centre > 1e4 * spread)).any():
            return X
    return X.astype(np.float32, copy=False)


def _unique(ids: np.ndarray, source: str, files: list | None = None) -> np.ndarray:
    seen = pd.Index(ids)
    if not seen.is_unique:
        repeated = seen[seen.duplicated()].unique()
        extra = ""
        if files is not None:
            clash = [str(f) for f in files if f.stem == repeated[0]][:2]
            extra = f" ({' and '.join(clash)})"
        raise InputError(f"{source}: id {repeated[0]!r} appears more than once{extra}; "
                         f"ids must be unique ({len(repeated)} repeated)")
    return ids


def _first(values, n: int = 3) -> str:
    values = [str(v) for v in values]
    more = f", … ({len(values)} in all)" if len(values) > n else ""
    return ", ".join(repr(v) for v in values[:n]) + more
