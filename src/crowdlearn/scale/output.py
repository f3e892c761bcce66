"""Result datasets (a folder of Parquet parts) written all-or-nothing.

The parts are written into a hidden folder beside the destination, which is renamed into
place only when every part is complete: the destination is either absent, the old dataset,
or the complete new one. An existing destination is replaced only when asked (``force``) and
only if it looks like a dataset (a folder of ``.parquet`` files), never a user's other files.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from crowdlearn.errors import InputError
from crowdlearn.outputs import atomic_folder

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


def dataset_output(out: Path | str) -> AbstractContextManager[Path]:
    """A temporary folder beside ``out`` to write the parts into; renamed to ``out`` when
    the block ends without error (replacing a previous dataset), removed otherwise, also on
    an interrupt at any point (:func:`crowdlearn.outputs.atomic_folder`)."""
    return atomic_folder(out)
