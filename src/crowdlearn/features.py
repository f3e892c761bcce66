"""A user's item features, each row with its id, and their matching to the ids of answers or
labels.

Formats: a ``.npy`` matrix (row i has id ``i``, the convention of releases such as LabelMe
whose answer matrix has one row per item), an MNIST-style IDX file (likewise), a table (CSV,
TSV, Parquet, JSON) with an id column and numeric feature columns, or a folder of images
(PNG, JPEG, BMP, GIF; searched recursively: class sub-folders are allowed, not required) whose
file names without extension are the ids. Rows are matched to ids explicitly, never by
position alone: ids are compared as text, so ``7`` in a features table matches task ``7``
of an answers file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.inputs import read_file, read_table, source_name
from crowdlearn.labels import missing_mask

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
ARRAY_SUFFIXES = (".npy",)
IDX_MARKERS = ("-ubyte", ".idx")


@dataclass(frozen=True)
class Features:
    """Feature rows ``X`` (float32, or uint8 images N × C × H × W) and their ``ids``
    (text, unique), read from ``source``."""

    X: np.ndarray
    ids: np.ndarray
    source: str
    columns: list | None = None  # a table's feature column names, in the order of X

    def in_order(self, columns: list | None) -> Features:
        """These features with their columns in the order ``columns`` (those a model was
        trained on); a missing column is an :class:`InputError`. Arrays and images (no
        names) are returned as they are."""
        if columns is None or self.columns is None or list(columns) == self.columns:
            return self
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise InputError(f"{self.source}: no column {missing[0]!r}; the model was trained "
                             f"on columns {', '.join(map(str, columns[:6]))}"
                             f"{', …' if len(columns) > 6 else ''}")
        order = [self.columns.index(c) for c in columns]
        return Features(self.X[:, order], self.ids, self.source, list(columns))

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
                             f"(features: {_first(self.ids)}; {what}: {_first(wanted)})")
        if not found.all() and not allow_missing:
            missing = wanted[~found]
            raise InputError(f"{self.source}: {len(missing)} of the {what} have no feature "
                             f"row: {_first(missing)} (--allow-missing drops them)")
        return self.X[position[found]], found


def read_features(path: str | Path, *, id_col: str | Sequence[str] | None = None
                  ) -> Features:
    """Read the features at ``path`` (see the module docstring for the formats). ``id_col``
    names a table's id column, which it must have (several names: the first it has; default:
    a column called ``id``)."""
    path = Path(path)
    if path.is_dir():
        return _read_images(path)
    name = path.name.lower()
    if name.endswith(ARRAY_SUFFIXES):
        X = read_file(path, lambda p: np.load(p, allow_pickle=False))
        return _positional(X, source_name(path))
    if any(marker in name for marker in IDX_MARKERS):
        from crowdlearn.datasets.idx import read_idx

        return _positional(read_idx(path), source_name(path))
    return _read_feature_table(path, id_col)


def _positional(X: np.ndarray, source: str) -> Features:
    """Rows of an array file: row i has id ``i``."""
    if X.ndim < 2 or len(X) == 0:
        raise InputError(f"{source}: features must hold one row per item (2-D or more), got "
                         f"shape {X.shape}")
    return Features(_checked(X, source), np.arange(len(X)).astype(str), source)


def _read_feature_table(path: Path, id_col: str | Sequence[str] | None) -> Features:
    source = source_name(path)
    table = read_table(path)
    names = ["id"] if id_col is None else [id_col] if isinstance(id_col, str) else list(id_col)
    column = next((c for c in names if c in table.columns), None)
    if column is None:  # a name given is never swapped for another column silently
        shown = " nor ".join(map(repr, names))
        hint = "; name it with --id-col" if id_col is None else ""
        raise InputError(f"{source}: no id column {shown} (columns: "
                         f"{_first(table.columns, 8)}){hint}")
    empty = missing_mask(table[column])
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise InputError(f"{source}: {_row(path, row)}: empty id (column {column!r}); every "
                         f"feature row needs one ({int(empty.sum())} such rows)")
    ids = table[column].astype(str).to_numpy()
    values = table.drop(columns=[column])
    if values.shape[1] == 0:
        raise InputError(f"{source}: no feature columns besides the id column {column!r}")
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & ~values.isna() & (values.astype(str) != "")
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise InputError(f"{source}: {_row(path, row)}, column {values.columns[col]!r}: "
                         f"{values.iat[row, col]!r} is not a number")
    if len(values) == 0:
        raise InputError(f"{source}: a header but no rows")
    X = numeric.to_numpy(dtype=np.float64)
    return Features(_checked(X, source, rows=ids), _unique(ids, source), source,
                    [str(c) for c in values.columns])


def _row(path: Path, row: int) -> str:
    """Data row ``row`` (from 0) as the file shows it: a text table's line (its header is line
    1), a Parquet or JSON table's row counted from 1."""
    binary = path.suffix.lower() in (".parquet", ".pq", ".json", ".jsonl")
    return f"row {row + 1}" if binary else f"line {row + 2}"


def _read_images(folder: Path) -> Features:
    from PIL import Image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                   and p.is_file())
    if not files:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    ids = np.array([p.stem for p in files])
    _unique(ids, str(folder), files)
    images = []
    for p in files:
        try:
            with Image.open(p) as image:
                images.append(np.asarray(image.convert("RGB")))
        except OSError as exc:
            raise InputError(f"{p}: not a readable image ({exc})") from None
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        odd = next(p for p, im in zip(files, images, strict=True) if im.shape != images[0].shape)
        raise InputError(f"{odd}: {odd.name} is {_size(odd, images, files)}, the others "
                         f"{images[0].shape[1]}×{images[0].shape[0]}; resize them to one size")
    X = np.stack(images).transpose(0, 3, 1, 2)  # N × C × H × W
    if all((im[..., 0] == im[..., 1]).all() and (im[..., 1] == im[..., 2]).all()
           for im in images):
        X = X[:, :1]  # grey images as one channel
    return Features(np.ascontiguousarray(X), ids, str(folder))


def _size(path: Path, images: list, files: list) -> str:
    shape = images[files.index(path)].shape
    return f"{shape[1]}×{shape[0]}"


def _checked(X: np.ndarray, source: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Numbers only, finite; uint8 images kept, everything else float32."""
    if X.dtype == np.uint8:
        return X
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise InputError(f"{source}: features must be numbers, got {X.dtype}")
    if np.iscomplexobj(X):
        raise InputError(f"{source}: features must be real numbers, got complex")
    X = X.astype(np.float32)
    bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        where = f"id {rows[row]!r}" if rows is not None else f"row {row}"
        raise InputError(f"{source}: {where} holds NaN or an infinite value "
                         f"({int(bad.sum())} such rows)")
    return X


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
