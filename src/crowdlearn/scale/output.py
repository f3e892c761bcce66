"""Result datasets (a folder of Parquet parts) written all-or-nothing.

The parts are written into a hidden folder beside the destination, which is renamed into
place only when every part is complete: the destination is either absent, the old dataset,
or the complete new one. An existing destination is replaced only when asked (``force``) and
only if it looks like a dataset (a folder of ``.parquet`` files), never a user's other files.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from crowdlearn.errors import InputError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".gz")
"""What a single table would be called: a likely mistake for a dataset folder (a folder
named ``labels.parquet`` is a usual name for a Parquet dataset, and is allowed)."""


def check_dataset(out: Path | str, inputs: Iterable[Path] = (), *, force: bool = False) -> None:
    """Fail before any work if ``out`` exists (without ``force``), is not a dataset folder,
    holds an input, or its parent folder does not exist."""
    out = Path(out)
    if not out.parent.exists():
        raise InputError(f"{out}: folder {out.parent} does not exist")
    if out.suffix.lower() in TABLE_SUFFIXES and not out.is_dir():
        raise InputError(f"{out}: the labels of the out-of-core engines are a folder of "
                         "Parquet parts; give -o a folder name (e.g. labels/), not a "
                         f"{out.suffix} file")
    if out.exists() and not out.is_dir():  # before asking for --force, which cannot help
        raise InputError(f"{out}: is a file, not a dataset folder; refusing to replace it")
    root = out.resolve()
    for path in inputs:
        if root == Path(path).resolve() or root in Path(path).resolve().parents:
            raise InputError(f"{out}: the output folder holds the input {path}; write the "
                             "labels elsewhere")
    if not out.exists():
        return
    if not force:
        raise InputError(f"{out}: already exists; pass --force to replace it")
    strangers = [p.name for p in out.iterdir() if p.suffix != ".parquet" or not p.is_file()]
    if strangers:
        raise InputError(f"{out}: holds {strangers[0]!r}, which crowdlearn did not write; "
                         "refusing to replace the folder")


@contextmanager
def dataset_output(out: Path | str) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write the parts into; renamed to ``out`` when
    the block ends without error (replacing a previous dataset), removed otherwise — also
    on an interrupt (Ctrl-C, or SIGTERM in the command line) at any point: the folder is
    named before it is made, so that no moment has it made but not yet known."""
    out = Path(out)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex}"
    try:
        tmp.mkdir()  # mode 0o777 less the umask, as any folder the user makes
        yield tmp
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace(tmp: Path, out: Path) -> None:
    """Rename the complete ``tmp`` to ``out``; a previous ``out`` is put back if that
    fails (or is interrupted), removed once it succeeds."""
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
