"""Two generic layouts: a folder of images with one subfolder per class, and a feature matrix
in a ``.npy``, CSV or Parquet file."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from crowdlearn import labels as coding
from crowdlearn.datasets.dataset import Dataset, codes_of
from crowdlearn.errors import CrowdlearnError, CrowdlearnWarning, InputError
from crowdlearn.inputs import first_line, read_file

__all__ = ["IMAGE_SUFFIXES", "load_features", "load_image_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm")
SKIPPED_FOLDERS = ("__macosx",)  # a macOS zip's copies of resource forks, never images
_GREY_MODES = ("1", "L", "LA")
# more than 8 bits a pixel: converting them to 8 bits would clip (300 → 255), not scale
_WIDE_MODES = ("I", "F")


# ---------------------------------------------------------------------- image folders
def load_image_folder(root: str | Path, size: int | tuple[int, int] | None = None,
                      mode: Literal["L", "RGB"] | None = None,
                      name: str | None = None) -> Dataset:
    """Images under ``root/<class>/`` (any depth below the class folder), classes being the
    subfolder names in sorted order, as ``N×C×H×W`` ``uint8``.

    ``size`` (``(height, width)`` or one side for squares) resizes every image (bilinear);
    without it all images must already share one size. ``mode`` ``"L"`` gives one grey
    channel, ``"RGB"`` three; by default grey when every image is grey, else RGB. Needs Pillow
    (installed with matplotlib).
    """
    from crowdlearn.features import check_image_size

    image = _pillow()
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: {'no such folder' if not root.exists() else 'not a folder'}")
    class_dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if class_dirs:  # the library's one class order (folders 1, 2, 10 in that order)
        by_name = {p.name: p for p in class_dirs}
        class_dirs = [by_name[n] for n in coding.code(pd.Series(list(by_name), dtype=object))[1]]
    if not class_dirs:
        raise InputError(f"{root}: no class subfolders (expected {root}/<class>/<image>)")
    class_dirs = [p for p in class_dirs if p.name.lower() not in SKIPPED_FOLDERS]
    loose = [p.name for p in root.iterdir() if p.is_file() and not p.name.startswith(".")
             and p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        warnings.warn(f"{root}: skipped {len(loose)} image{'s' * (len(loose) > 1)} outside "
                      f"the class folders ({', '.join(map(repr, sorted(loose)[:3]))}"
                      f"{', …' if len(loose) > 3 else ''}): an image's class is the name of "
                      "the folder under the root that holds it", CrowdlearnWarning, stacklevel=2)
    paths: list[Path] = []
    labels: list[int] = []
    for code, folder in enumerate(class_dirs):
        found = image_files(folder)
        if not found:
            raise InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) for class "
                             f"{folder.name!r}")
        paths += found
        labels += [code] * len(found)
    if mode is None:
        modes = [read_file(p, lambda q: _header_mode(image, q)) for p in paths]
        mode = "L" if all(m in _GREY_MODES for m in modes) else "RGB"
    elif mode not in ("L", "RGB"):
        raise InputError(f"mode must be 'L', 'RGB' or None, got {mode!r}")
    target = check_image_size((size, size) if isinstance(size, int) else size)
    arrays = [read_file(p, lambda q: decode_image(q, mode, target)) for p in paths]
    first = arrays[0].shape
    for path, arr in zip(paths, arrays, strict=True):
        if arr.shape != first:
            raise InputError(f"{path}: image is {arr.shape[2]}×{arr.shape[1]} (width × "
                             f"height) but {paths[0]} is {first[2]}×{first[1]}; pass "
                             "size=(height, width) to resize them all")
    return Dataset(np.stack(arrays), np.asarray(labels, dtype=np.int64),
                   [p.name for p in class_dirs], name or root.name)


def _pillow():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise CrowdlearnError("reading images needs Pillow: pip install pillow") from None
    return Image


def image_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` (by suffix, :data:`IMAGE_SUFFIXES`), sorted, without
    hidden ones (a name starting with ``.`` anywhere in the path below ``folder``: macOS's
    ``._x.png`` copies, ``.git``, ``.thumbs``) and ``__MACOSX`` folders; a one-line warning
    counts the images so skipped."""
    found = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    hidden = {p for p in found if any(part.startswith(".") or part.lower() in SKIPPED_FOLDERS
                                      for part in p.relative_to(folder).parts)}
    if hidden:
        shown = [repr(n) for n in sorted(p.relative_to(folder).as_posix() for p in hidden)]
        warnings.warn(f"{folder}: skipped {len(hidden)} hidden file{'s' * (len(hidden) > 1)} "
                      f"({', '.join(shown[:3])}{', …' if len(shown) > 3 else ''}): names "
                      "starting with '.', such as macOS's ._ copies, are not images",
                      CrowdlearnWarning, stacklevel=3)
    return sorted(p for p in found if p not in hidden and p.is_file())


def _header_mode(image, path: Path) -> str:
    with _opened(image, path) as im:
        return im.mode


@contextlib.contextmanager
def _opened(image, path: Path):
    """An image file open, turned as its EXIF orientation says (a phone's photo); what
    Pillow cannot read, or refuses (over its size limit: a decompression bomb), and images
    of more than 8 bits a pixel are an :class:`InputError` naming the file."""
    try:
        with image.open(path) as im:
            if im.mode in _WIDE_MODES or im.mode.startswith("I;16"):
                raise InputError(f"{path}: a {im.mode} image (more than 8 bits a pixel); "
                                 "convert it to 8-bit grey or colour first (reading it as "
                                 "8 bits would clip every value above 255)")
            yield im
    except (SyntaxError, OSError, image.DecompressionBombError) as exc:
        # SyntaxError: Pillow's error for some broken headers
        raise InputError(f"{path}: not a readable image: {first_line(exc)}") from None


def decode_image(path: Path, mode: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """One image file as a ``C×H×W`` uint8 array in ``mode`` (``"L"`` or ``"RGB"``),
    resized to ``size`` (height, width) if given."""
    from PIL import ImageOps

    image = _pillow()
    with _opened(image, path) as im:
        im.load()  # decode now: a truncated file fails here, not later
        im = ImageOps.exif_transpose(im).convert(mode)
        if size is not None and im.size != (size[1], size[0]):
            im = im.resize((size[1], size[0]), image.Resampling.BILINEAR)
        arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


# ---------------------------------------------------------------------- feature matrices
def load_features(path: str | Path, label_column: str | int | None = None,
                  drop: Sequence[str] = (), name: str | None = None) -> Dataset:
    """A feature matrix, one row per item: ``.npy`` (2-D numeric), ``.csv`` or ``.parquet``.

    ``label_column`` names the column holding the labels (its position for ``.npy``); they
    become codes into the sorted labels seen. ``drop`` lists further columns to ignore (ids,
    say). Every other column must be numeric and complete. ``X`` is ``N×D`` ``float32``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        table = read_file(path, _read_npy)
    elif suffix == ".csv":
        table = read_file(path, pd.read_csv)
    elif suffix in (".parquet", ".pq"):
        table = read_file(path, pd.read_parquet)
    else:
        raise InputError(f"{path}: unsupported feature file type {path.suffix!r}; use .npy, "
                         ".csv or .parquet")
    labels = None
    if label_column is not None:
        if label_column not in table.columns:
            raise InputError(f"{path}: no label column {label_column!r}; columns found: "
                             f"{_column_list(table)}{_separator_hint(table)}")
        labels = table[label_column]
        table = table.drop(columns=[label_column])
    unknown = [c for c in drop if c not in table.columns]
    if unknown:
        raise InputError(f"{path}: cannot drop missing column {unknown[0]!r}")
    table = table.drop(columns=list(drop))
    X = _numeric_matrix(table, path, suffix == ".csv")
    y, classes = None, []
    if labels is not None:
        _check_complete(labels.isna().to_numpy(), path, suffix == ".csv", labels.name, labels)
        values = labels.to_numpy()
        if values.dtype.kind == "f" and (values == np.round(values)).all():
            values = values.astype(np.int64)  # class ids stored as floats (a .npy column)
        y, classes = codes_of(values)
    return Dataset(X, y, classes, name or path.stem)


def _read_npy(path: Path) -> pd.DataFrame:
    values = np.load(path, allow_pickle=False)
    if values.ndim != 2:
        raise InputError(f"{path}: expected a 2-D items × features array, got shape "
                         f"{values.shape}")
    return pd.DataFrame(values)


def _separator_hint(table: pd.DataFrame) -> str:
    """For a CSV read as one column whose name holds another separator."""
    name = str(table.columns[0]) if table.shape[1] == 1 else ""
    sep = next((s for s in (";", "\t", "|") if s in name), None)
    return ("" if sep is None else
            f" (one column named {name[:40]!r}: load_features reads comma-separated files; "
            f"this one seems separated by {sep!r})")


def _column_list(table: pd.DataFrame) -> str:
    return ", ".join(map(repr, table.columns[:20])) + (", ..." if table.shape[1] > 20 else "")


def _numeric_matrix(table: pd.DataFrame, path: Path, csv: bool) -> np.ndarray:
    if table.shape[1] == 0 or len(table) == 0:
        raise InputError(f"{path}: no feature values ({len(table)} rows, {table.shape[1]} "
                         "feature columns)")
    bad = [c for c, kind in table.dtypes.items() if not (pd.api.types.is_numeric_dtype(kind)
                                                         or pd.api.types.is_bool_dtype(kind))]
    if bad:
        column = table[bad[0]]
        text = pd.to_numeric(column, errors="coerce").isna() & column.notna()
        row = int(np.flatnonzero(text.to_numpy())[0]) if text.any() else None
        where = ("" if row is None else
                 f"{'line ' + str(row + 2) if csv else 'row ' + str(row)}: ")
        value = "" if row is None else f" ({column.iloc[row]!r})"
        raise InputError(f"{path}: {where}column {bad[0]!r} is not numeric{value}; pass it as "
                         f"label_column= or in drop={_separator_hint(table)}")
    with np.errstate(over="ignore"):  # beyond float32's range: refused below, by name
        X = table.to_numpy(dtype=np.float32, na_value=np.nan)
    _check_complete(np.isnan(X), path, csv, None, table)
    _check_complete(np.isinf(X), path, csv, None, table,
                    "an infinite value (or one beyond float32's range)")
    return X


def _check_complete(missing: np.ndarray, path: Path, csv: bool, column: Hashable | None,
                    table: pd.DataFrame | pd.Series, what: str = "missing value") -> None:
    """An InputError naming the first missing (or ``what``) value's row (CSV line) and
    column."""
    if not missing.any():
        return
    flat = int(np.flatnonzero(missing.reshape(len(missing), -1).any(axis=1))[0])
    if column is None:
        column = table.columns[int(np.flatnonzero(missing[flat])[0])]
    where = f"line {flat + 2}" if csv else f"row {flat}"
    raise InputError(f"{path}: {where}: {what} in column {column!r}")
