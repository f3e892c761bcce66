"""What a sweep runs: its methods and their per-method learner options (``extra``:
``{method: {option: value}}``), checked before anything runs so that a typo fails at once
with its name, not deep inside a learner's constructor an hour later."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crowdlearn.errors import InputError


def check_methods(methods: Iterable[str], known: Iterable[str]) -> None:
    """At least one method, each of them known."""
    methods, known = list(methods), list(known)
    bad = [m for m in methods if m not in known]
    if bad or not methods:
        what = f"unknown method {bad[0]!r}" if bad else "no method given"
        raise InputError(f"{what}; choose from {', '.join(known)}")


def check_learner_options(extra: Mapping, methods: Iterable[str],
                          reserved: Iterable[str] = ()) -> None:
    """``extra`` must map known methods to dicts of options the sweep does not set itself."""
    known, reserved = set(methods), set(reserved)
    if not isinstance(extra, Mapping):
        raise InputError(f"learner options must be a mapping method → options, got "
                         f"{type(extra).__name__}")
    for method, options in extra.items():
        if method not in known:
            raise InputError(f"learner options given for unknown method {method!r}; choose "
                             f"from {', '.join(sorted(known))}")
        if not isinstance(options, Mapping):
            raise InputError(f"learner options of {method!r} must be a mapping, got "
                             f"{options!r}")
        clash = sorted(set(options) & reserved)
        if clash:
            raise InputError(f"learner option {clash[0]!r} of {method!r} is set by the sweep "
                             "itself")
