"""Writing result files safely: all-or-nothing, and never over a user's file unasked."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError

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
    tmp = temporary_beside(path)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def temporary_beside(path: Path | str) -> Path:
    """A new empty temporary file beside ``path``, for writing ``path`` atomically:
    ``.NAME.crowdlearn-HOST-PID-RANDOM.EXT``, so that what a killed writer (``kill -9``, a
    power cut) leaves behind can be told apart from anything else. Such leftovers of
    ``path`` are removed first (:func:`remove_leftovers`). A folder: :func:`atomic_folder`."""
    path = Path(path)
    remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextmanager
def atomic_folder(path: Path | str) -> Iterator[Path]:
    """A new empty folder beside ``path`` to write into (named as :func:`temporary_beside`
    names it), renamed to ``path`` when the block ends without error, so that ``path`` is
    either absent, the old folder or the complete new one. A previous ``path`` is set aside
    first (``.NAME.crowdlearn-old-HOST-PID-RANDOM``), put back if the final rename fails or
    is interrupted, removed once it succeeds. On any error or interrupt (Ctrl-C, SIGTERM in
    the command line) the temporary folder is removed: it is named before it is made, so
    that no moment has it made but not yet known to the cleanup.

    The folder gets the permissions a plain ``mkdir`` would give it (``0777`` less the
    umask), and a symbolic link is followed, as :func:`atomic_write` follows it."""
    path = Path(os.path.realpath(path))
    remove_leftovers(path)
    # our pid and 64 random bits: a name no other writer holds, so what fails to make it
    # is ours to remove
    tmp = path.parent / f"{_prefix(path)}{secrets.token_hex(8)}"
    try:
        tmp.mkdir()
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())
        _replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_folder(tmp: Path, path: Path) -> None:
    """Rename the complete ``tmp`` to ``path``; a previous ``path`` (a folder, or a file a
    writer was asked to replace) is set aside, put back if that fails, removed after."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    aside = path.parent / f"{_prefix(path, _ASIDE)}{secrets.token_hex(8)}"
    try:
        os.rename(path, aside)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(aside) and os.path.lexists(tmp):  # set aside, not replaced
            os.rename(aside, path)
        raise
    _remove(aside)


def _remove(path: Path) -> None:
    """Remove a file or folder tree (a symbolic link itself, not what it points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


_MARK = "crowdlearn"
_ASIDE = "crowdlearn-old"  # a previous folder, set aside while its replacement moves in


def _prefix(path: Path, mark: str = _MARK) -> str:
    """The start of the temporary names beside ``path`` that this process makes."""
    return f".{_stem(path)}.{mark}-{_host()}-{os.getpid()}-"


def _stem(path: Path) -> str:
    """``path``'s name as temporary names hold it: a long name (a temporary name adds
    about 40 characters and the host's name, and a file name holds 255 bytes) is cut and
    told apart from others cut alike by a digest of the whole name."""
    name = path.name
    if len(name.encode()) <= 160:
        return name
    import hashlib

    digest = hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
    return f"{name.encode()[:100].decode(errors='ignore')}~{digest}"


def _host() -> str:
    """This machine's name as it goes into temporary names (no path separators)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def remove_leftovers(path: Path | str) -> list[Path]:
    """Remove the temporary files and folders of ``path`` that :func:`temporary_beside` and
    :func:`atomic_folder` made for writers that are gone: named for ``path``, made on this
    machine by a process that no longer runs, owned by this user, not a symbolic link. Also
    those a folder writer nested in such a one (``..NAME.crowdlearn-….crowdlearn-…``), and
    a previous ``path`` that :func:`atomic_folder` set aside (``.NAME.crowdlearn-old-…``)
    once ``path`` exists again: while it does not, the writer was killed between its two
    renames and that is the only copy, kept (and said so). Anything else is left alone (on
    systems without POSIX processes, everything). Warns (one line) about what it removed;
    returns it."""
    path = Path(path)
    if os.name != "posix" or not path.parent.is_dir():
        return []
    tag = rf"\.({_ASIDE}|{_MARK})-{re.escape(_host())}-(\d+)-[a-z0-9_]+"
    ours = re.compile(rf"(\.+){re.escape(_stem(path))}((?:{tag})+)(?:{re.escape(path.suffix)})?")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    for entry in entries:
        match = ours.fullmatch(entry.name)
        if match is None:
            continue
        tags = re.findall(tag, match.group(2))
        pids = [int(pid) for _, pid in tags]
        if len(match.group(1)) != len(pids) or any(_running(pid) for pid in pids):
            continue
        if tags[0][0] == _ASIDE and len(tags) == 1 and not os.path.lexists(path):
            warnings.warn(f"kept {entry.path}: the previous {path}, which an interrupted run "
                          "had set aside to replace it; rename it back to restore it",
                          CrowdlearnWarning, stacklevel=3)
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if entry.is_symlink() or info.st_uid != os.getuid():
                continue
            shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else \
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    if removed:
        names = ", ".join(p.name for p in removed[:3]) + (", …" if len(removed) > 3 else "")
        copies = "copy" if len(removed) == 1 else "copies"
        aside = sum(f".{_ASIDE}-" in p.name for p in removed)
        what = "partial" if not aside else "previous" if aside == len(removed) else "leftover"
        warnings.warn(f"removed {len(removed)} {what} {copies} of {path} left by an "
                      f"interrupted run ({names})", CrowdlearnWarning, stacklevel=3)
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (signal 0 tests without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # someone else's process, or a number we cannot ask about: keep
    return True


def current_umask() -> int:
    """The process's umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
