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


class InputTypeError(InputError, TypeError):
    """An input of the wrong type (e.g. X holding text where numbers are needed)."""


class RemedyError(InputError):
    """An input error whose remedy is worded by the caller: ``detail`` says what is wrong and
    the message adds the Python remedy (``remedy``); the command line names its flags
    instead."""

    remedy = ""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(f"{detail}; {self.remedy}")


class RepeatedAnswersError(RemedyError):
    """A (task, worker) pair answered more than once, with no policy chosen for repeats."""

    remedy = "pass keep='first', 'last' or 'all'"


class MissingColumnsError(RemedyError):
    """A table of answers lacks the task, worker or label column asked for."""

    remedy = "name the columns with task=, worker=, label="


class EmptyLabelsError(RemedyError):
    """Answers whose label cell is empty (null, NaN, blank): no answer, to be dropped on
    purpose or filled."""

    remedy = ("drop the rows without an answer, or read the file with missing='' "
              "(Annotations.from_file), which drops and counts them")


class CrowdlearnWarning(UserWarning):
    """Something in the data or the fit that a user should know: labels that differ only by
    case, worker quality that cannot be estimated, EM that did not converge, a class that no
    task ends up with. The command line prints these on stderr and in its summary."""


def check_integer(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int, or an :class:`InputError` naming ``name`` (booleans, floats and
    values below ``minimum`` are refused)."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def check_fraction(value, name: str) -> float:
    """``value`` as a float in (0, 1], or an :class:`InputError` naming ``name``."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not 0 < value <= 1:
        raise InputError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)


def named_few(names, n: int = 3) -> str:
    """The first ``n`` of ``names`` for a message, an ellipsis when there are more:
    ``'a', 'b', 'c', …``."""
    names = list(names)
    return ", ".join(map(repr, names[:n])) + (", …" if len(names) > n else "")
