"""The lock a fit holds on its checkpoint folder, so that a second fit started with the same
folder is refused instead of adopting (and overwriting) the first one's live checkpoints.

The lock is the operating system's advisory lock on the file ``fit.lock`` in the folder
(``flock`` on POSIX, ``msvcrt.locking`` on Windows), held from an open descriptor for the
fit's lifetime: the system releases it when the fit ends, however it ends, ``kill -9`` and
a crash included, so no lock outlives its fit and none needs judging stale. The holder writes
its host, pid and start time into the file, for the message of a fit that is refused. The
file itself stays (removing a lock file races with a fit opening it). On a network
filesystem the lock is as good as the filesystem's locking (NFSv4 supports it; a filesystem
without locks lets both fits run, as before).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from crowdlearn.errors import CrowdlearnWarning, InputError

LOCK = "fit.lock"


class CheckpointInUse(InputError):
    """The checkpoint folder is locked by a fit that still runs."""


_lent = threading.local()  # .folders: the folders this thread's caller holds for its fits


@contextlib.contextmanager
def folder_lock(folder: Path, *, lend: bool = False) -> Iterator[None]:
    """Hold ``folder``'s lock for the block; a folder in use by a live fit is a
    :class:`CheckpointInUse` error naming its process and host.

    With ``lend``, fits run by this thread inside the block use the folder under this lock
    (their own ``folder_lock`` takes nothing): a caller that keeps the folder locked from
    before the fit until after it is done with the folder (``crowdlearn fit``, which writes
    the model and then removes its checkpoints)."""
    key = os.path.realpath(folder)
    lent = _lent.__dict__.setdefault("folders", set())
    if key in lent:  # held by this thread's caller for the fit
        yield
        return
    path = Path(folder) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            raise CheckpointInUse(_in_use(path))
        holder = {"host": socket.gethostname(), "pid": os.getpid(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        if lend:
            lent.add(key)
        try:
            yield
        finally:
            lent.discard(key)  # a no-op unless lent
    finally:
        os.close(fd)  # releases the lock


def check_unlocked(folder: Path) -> None:
    """Refuse (:class:`CheckpointInUse`) when a live fit holds ``folder``'s lock: for a
    caller about to remove or replace the folder (``crowdlearn fit --force``)."""
    path = Path(folder) / LOCK
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return  # no lock file (or no folder): nobody holds it
    try:
        if not _try_lock(fd):
            raise CheckpointInUse(_in_use(path))
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    """Take the lock on ``fd`` without waiting; False when another holds it. A filesystem
    that cannot lock (ENOLCK, ENOSYS: NFS without its lock service, Lustre without flock)
    is said once and the fit runs unlocked, as it did before locks."""
    held = (PermissionError,) if os.name == "nt" else (BlockingIOError,)
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except held:
        return False
    except OSError as exc:
        warnings.warn(f"checkpoint folders cannot be locked on this filesystem "
                      f"({exc.strerror or exc}): two fits given the same folder are not "
                      "kept apart", CrowdlearnWarning, stacklevel=2)
    return True


def _in_use(path: Path) -> str:
    """The refusal, naming the holder from what it wrote in the lock file."""
    try:
        holder = json.loads(path.read_text())
        who = f" by process {holder['pid']} on {holder['host']}, a fit started " \
              f"{holder['started']}"
    except (OSError, ValueError, TypeError, KeyError):
        who = " by another fit"
    return f"checkpoint folder {path.parent} is in use{who}; wait for it or use another folder"
