"""Hyper-parameters declared once, with their constraints, and checked before any work.

Learners and aggregators follow scikit-learn's pattern: a class lists what each parameter
of ``__init__`` may be in ``_parameter_constraints`` (name → allowed kinds, scikit-learn's
:func:`~sklearn.utils._param_validation.validate_parameter_constraints` vocabulary), and
:class:`DeclaredParameters` checks ``get_params(deep=False)`` against it, a violation being an
:class:`~crowdlearn.errors.InputError` that names the parameter, the class and the value
(the command line reports it as one line, exit 2).

scikit-learn's intervals count ``True`` as the integer 1; :class:`Integers` and
:class:`Reals` refuse booleans (``epochs=True`` is a mistake, not one epoch). The learners'
:data:`POSITIVE_INT` and :data:`FRACTION` are such; :data:`NON_NEGATIVE` keeps scikit-learn's
interval, which admits infinity (``slack_stop=inf``: never stop early).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

from crowdlearn.errors import InputError

NON_NEGATIVE = Interval(Real, 0, None, closed="left")


class Integers(Interval):
    """The integers from ``low`` to ``high`` included (``high`` None: no upper bound), numpy
    integers accepted and booleans refused."""

    def __init__(self, low: int, high: int | None = None):
        super().__init__(Integral, low, high, closed="left" if high is None else "both")

    def is_satisfied_by(self, val) -> bool:
        return not isinstance(val, bool) and super().is_satisfied_by(val)


class Reals(Interval):
    """Finite real numbers between ``low`` and ``high`` (None: unbounded on that side;
    ``closed``: which bounds are included, as for scikit-learn's ``Interval``), numpy
    numbers accepted and booleans, NaN and infinities refused."""

    def __init__(self, low: float | None = None, high: float | None = None,
                 closed: str = "neither"):
        super().__init__(Real, low, high, closed=closed)

    def is_satisfied_by(self, val) -> bool:
        return not isinstance(val, bool) and super().is_satisfied_by(val)


POSITIVE_INT = Integers(1)
FRACTION = Reals(0, 1, closed="left")


class Choice(StrOptions):
    """One of the strings ``options``, listed in messages in the order given (scikit-learn
    lists a set, whose order changes from one run to the next)."""

    def __init__(self, *options: str):
        super().__init__(set(options))
        self.order = options

    def __str__(self) -> str:
        return f"a str among {{{', '.join(map(repr, self.order))}}}"


class Instances(Options):
    """Instances of ``types``, called ``description`` in messages (scikit-learn would spell
    out module paths such as ``pandas.core.series.Series``). An ``Options`` only so that
    scikit-learn's validation takes it as a constraint."""

    def __init__(self, types: type | tuple[type, ...], description: str):
        super().__init__(object, set())
        self.types, self.description = types, description

    def is_satisfied_by(self, val) -> bool:
        return isinstance(val, self.types)

    def __str__(self) -> str:
        return self.description


NON_NEGATIVE_REAL = Reals(0, closed="left")
POSITIVE_REAL = Reals(0)
SEED = [Integers(0), None]
"""A seed: None (fresh entropy) or an integer ≥ 0."""
SEED_OR_GENERATOR = [Integers(0), Hidden(np.random.Generator), None]
"""A seed passed to ``np.random.default_rng``, which also takes a ``Generator`` (accepted,
not advertised)."""
N_THREADS = [Integers(1), None]
"""Threads: None (the default) or an integer ≥ 1."""


def check_parameters(estimator, constraints: dict) -> None:
    """``estimator.get_params(deep=False)`` against ``constraints``; the first violation is an
    :class:`InputError` with scikit-learn's message (parameter, class, allowed kinds,
    value). Parameters without constraints are not checked."""
    check_values(estimator.get_params(deep=False), constraints, type(estimator).__name__)


def check_values(values: dict, constraints: dict, caller: str) -> None:
    """``values`` (name → value) against ``constraints``, for ``caller`` (a class or
    function named in the message), as :func:`check_parameters` checks an estimator's."""
    try:
        validate_parameter_constraints(constraints, values, caller_name=caller)
    except InvalidParameterError as exc:
        raise InputError(str(exc)) from None


class DeclaredParameters:
    """Mixin of estimators whose hyper-parameters are declared in ``_parameter_constraints``
    and checked, before any work, by :meth:`_check_params` (which ``fit`` calls first)."""

    _parameter_constraints: dict = {}

    def check_params(self) -> None:
        """Check every parameter now (``fit`` does it first anyway): an
        :class:`InputError` names the first bad one. For callers that want to fail before
        reading large inputs."""
        self._check_params()

    def _check_params(self) -> None:
        """Every hyper-parameter against its constraints; a violation is an InputError."""
        check_parameters(self, self._parameter_constraints)
        self._check_more()

    def _check_more(self) -> None:
        """A subclass's checks that involve several parameters (run after the constraints)."""
