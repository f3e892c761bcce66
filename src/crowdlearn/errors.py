"""Every failure a user can cause is a :class:`CrowdlearnError`.

The command line turns these into a one-line message and exit code 2; anything else is a bug.
"""

from __future__ import annotations

import numpy as np


class CrowdlearnError(Exception):
    """Base class of the errors crowdlearn raises on purpose."""


class InputError(CrowdlearnError, ValueError):
    """The input (a file, a frame, an array, an argument) is malformed.

    The message names the file, row, column or value at fault.
    """


def check_integer(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int, or an :class:`InputError` naming ``name`` (booleans, floats and
    values below ``minimum`` are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def check_fraction(value, name: str) -> float:
    """``value`` as a float in (0, 1], or an :class:`InputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not 0 < value <= 1:
        raise InputError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)
