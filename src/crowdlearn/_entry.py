"""The ``crowdlearn`` console entry point, and how the command line stops on a signal.

Importing the command line (typer, rich) takes a noticeable time, seconds on a busy machine,
so this module imports nothing but the standard library: Ctrl-C or SIGTERM during that time
ends the process as it does during a command (``interrupted``, exit code 130; ``terminated
(SIGTERM)``, exit code 143), without a traceback; only Python's own start-up and the
console script's first lines come before this module runs.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM (``kill``, a job scheduler's time limit) stops it as
    Ctrl-C does: the same exception unwinds it, so that what removes partial outputs and
    scratch files on Ctrl-C runs too. A second SIGTERM during that clean-up kills at once."""
    if threading.current_thread() is not threading.main_thread():  # signals: main only
        yield
        return

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, previous)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop) or signal.SIG_DFL  # None: set in C
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop(exc: KeyboardInterrupt) -> None:
    """Exit as the commands do on Ctrl-C (130) or SIGTERM (143), with one line on stderr."""
    terminated = isinstance(exc, Terminated)
    sys.stderr.write("terminated (SIGTERM)\n" if terminated else "interrupted\n")
    sys.exit(128 + (signal.SIGTERM if terminated else signal.SIGINT))


def main() -> None:
    """Run the command line; a signal while it starts stops it as during a command."""
    try:
        with terminate_as_interrupt():
            from crowdlearn.cli import app
    except KeyboardInterrupt as exc:
        _stop(exc)
    try:
        app()
    except KeyboardInterrupt as exc:  # while typer builds the commands, before any runs
        _stop(exc)
