"""Every failure a user can cause is a :class:`CrowdlearnError`.

The command line turns these into a one-line message and exit code 2; anything else is a bug.
"""

from __future__ import annotations


class CrowdlearnError(Exception):
    """Base class of the errors crowdlearn raises on purpose."""


class InputError(CrowdlearnError, ValueError):
    """The input (a file, a frame, an array, an argument) is malformed.

    The message names the file, row, column or value at fault.
    """
