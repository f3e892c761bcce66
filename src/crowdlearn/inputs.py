"""Reading a user's file: a missing, empty or damaged file is an :class:`InputError` naming it,
never a traceback from deep inside pandas, numpy or scipy."""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

from crowdlearn.errors import InputError

T = TypeVar("T")

# what a damaged file makes pandas, numpy, scipy, pyarrow, tarfile or gzip raise
_READ_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
                EOFError, ValueError, TypeError, KeyError, IndexError, tarfile.TarError,
                zlib.error)


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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
