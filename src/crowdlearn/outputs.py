"""Writing result files safely: all-or-nothing, and never over a user's file unasked."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from crowdlearn.errors import InputError


def check_outputs(outputs: Iterable[Path | None], inputs: Iterable[Path] = (), *,
                  force: bool = False) -> None:
    """Fail before any work if two outputs are the same file, an output would overwrite an
    input, or an existing file without ``force``, or lands in a folder that does not exist."""
    resolved_inputs = {Path(p).resolve() for p in inputs}
    given = [Path(p) for p in outputs if p is not None]
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
        if not out.parent.exists():
            raise InputError(f"{out}: folder {out.parent} does not exist")


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place,
    so that ``path`` is either the old file or the complete new one, never a partial one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
