"""Writing result files safely: all-or-nothing, and never over a user's file unasked."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from crowdlearn.errors import InputError

STDOUT = "-"
TABLE_FORMATS = {".csv": "CSV", ".tsv": "TSV", ".parquet": "Parquet", ".json": "JSON"}
PLOT_FORMATS = (".png", ".pdf", ".svg")


def check_format(path: Path | str | None, formats: Iterable[str], what: str,
                 stdout: bool = True) -> None:
    """Refuse (before any work) an output whose extension is not one of ``formats`` (``-``,
    standard output, only where ``stdout`` allows it)."""
    if path is None:
        return
    if str(path) == STDOUT:
        if not stdout:
            raise InputError(f"{what} cannot go to standard output ('-'); give a file name")
        return
    suffix = Path(path).suffix.lower()
    if suffix not in formats:
        shown = f"extension {suffix!r}" if suffix else "no extension"
        raise InputError(f"{path}: {what} must end in {', '.join(formats)}; got {shown}")


def write_table(table: pd.DataFrame, path: Path | str) -> None:
    """Write ``table`` atomically in the format its extension names (``-``: CSV on standard
    output)."""
    if str(path) == STDOUT:
        table.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
        return
    suffix = Path(path).suffix.lower()
    writers: dict[str, Callable[[Path], None]] = {
        ".csv": lambda p: table.to_csv(p, index=False),
        ".tsv": lambda p: table.to_csv(p, index=False, sep="\t"),
        ".parquet": lambda p: table.to_parquet(p, index=False),
        ".json": lambda p: table.to_json(p, orient="records", indent=1, force_ascii=False,
                                         double_precision=15),
    }
    if suffix not in writers:
        what = suffix or "a file without extension"
        raise InputError(f"{path}: cannot write a table as {what}; use "
                         f"{', '.join(TABLE_FORMATS)}")
    atomic_write(path, writers[suffix])


def check_outputs(outputs: Iterable[Path | None], inputs: Iterable[Path] = (), *,
                  force: bool = False) -> None:
    """Fail before any work if two outputs are the same file, an output would overwrite an
    input, or an existing file without ``force``, or cannot be created where it is asked for
    (:func:`check_location`). ``-`` (standard output) may be given once. Every command checks
    its outputs here (folder outputs with :func:`check_location`)."""
    outputs = list(outputs)
    if sum(str(p) == STDOUT for p in outputs if p is not None) > 1:
        raise InputError("'-' (standard output) is given for two outputs; only one can go "
                         "there")
    resolved_inputs = {Path(p).resolve() for p in inputs if str(p) != STDOUT}
    given = [Path(p) for p in outputs if p is not None and str(p) != STDOUT]
    seen: dict[Path, Path] = {}
    for out in given:
        twin = seen.setdefault(out.resolve(), out)
        if twin is not out:
            raise InputError(f"{out}: given as two different outputs; each output needs its "
                             "own file")
    for out in given:
        if out.resolve() in resolved_inputs:
            raise InputError(f"{out}: refusing to write the output over an input file")
        if out.is_dir():
            raise InputError(f"{out}: is a directory; give a file name")
        if out.exists() and not force:
            raise InputError(f"{out}: already exists; pass --force to overwrite it")
        check_location(out)


def check_location(out: Path | str, *, folder: bool = False) -> None:
    """Refuse, before any work, an output that cannot be created where it is asked for: its
    folder does not exist (a file output; a folder output is created with its parents), a
    parent is a file, or the folder cannot be written (tried by creating and removing a
    temporary file in it, which also catches read-only and immutable folders)."""
    out = Path(out)
    if folder and out.is_symlink() and not out.exists():
        raise InputError(f"{out}: a symbolic link to {os.readlink(out)}, which does not exist")
    if folder and out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; --out names a folder")
    # where the file (or the folder's first missing parent) will be created; a symbolic
    # link is followed, as atomic_write does
    target = Path(os.path.realpath(out))
    place = target if folder else target.parent
    existing = next(p for p in (place, *place.parents) if p.exists())
    if not existing.is_dir():
        raise InputError(f"{out}: {_shown(existing, out)} is a file, not a folder")
    if existing != place and not folder:
        shown = out.parent if target == Path(os.path.abspath(out)) else place  # a link's
        raise InputError(f"{out}: folder {shown} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".crowdlearn-probe.", dir=existing)
    except OSError as exc:
        raise InputError(f"{out}: cannot write in folder {_shown(existing, out)} "
                         f"({exc.strerror or type(exc).__name__})") from None
    os.close(fd)
    os.unlink(probe)


def _shown(folder: Path, out: Path) -> str:
    """``folder`` (resolved) as the user wrote it when it is one of ``out``'s parents."""
    return next((str(p) for p in (out, *out.parents)
                 if Path(os.path.realpath(p)) == folder and str(p) != "."), str(folder))


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place,
    so that ``path`` is either the old file or the complete new one, never a partial one.

    The file gets the permissions a plain ``open`` would give it (``0666`` less the umask; an
    existing file keeps its own), and a symbolic link is followed: its target is written."""
    path = Path(os.path.realpath(path))
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """The process's umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
