"""What a sweep runs: its methods and their per-method learner options (``extra``:
``{method: {option: value}}``), checked before anything runs so that a typo fails at once
with its name, not deep inside a learner's constructor an hour later."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from crowdlearn.errors import InputError
from crowdlearn.methods import CROWD_METHODS, METHODS, RENAMED, method_parameters
from crowdlearn.params import FRACTION, POSITIVE_INT, POSITIVE_REAL, Reals, check_values

# The EM baseline of the papers the crowd experiments reproduce (Khetan et al. 2018; Cao et
# al. 2019): Dawid-Skene with a near-flat prior, unlike the library's default smoothing.
PAPERS_DS = {"smoothing": 0.01, "prior": "uniform", "class_smoothing": 0.0}


# The settings the sweeps share (each sweep has those it needs), checked before anything else
# so that ``seeds=1.5`` is a message naming it, not a TypeError after the folder is made.
SETTINGS = {"seeds": [POSITIVE_INT], "epochs": [POSITIVE_INT], "stage_epochs": [POSITIVE_INT],
            "rounds": [POSITIVE_INT], "batch_size": [POSITIVE_INT], "lr": [POSITIVE_REAL],
            "workers": [POSITIVE_INT], "gamma": [Reals(0, 1, closed="both")],
            "budget": [POSITIVE_INT], "n_items": [POSITIVE_INT, None],
            "extra_labels": [POSITIVE_REAL]}
ELEMENTS = {"redundancy": POSITIVE_INT, "rates": FRACTION}  # each element of these sequences


def check_settings(settings) -> None:
    """Those of :data:`SETTINGS` and :data:`ELEMENTS` that the sweep's ``settings`` have: an
    :class:`InputError` names the first bad one, its allowed values and the value."""
    caller = type(settings).__name__
    have = [name for name in SETTINGS if hasattr(settings, name)]
    check_values({n: getattr(settings, n) for n in have}, {n: SETTINGS[n] for n in have},
                 caller)
    for name, kind in ELEMENTS.items():
        if not hasattr(settings, name):
            continue
        values = getattr(settings, name)
        if not isinstance(values, (tuple, list)) or not values or not all(
                kind.is_satisfied_by(v) for v in values):
            raise InputError(f"the {name!r} setting of {caller} must be a non-empty sequence, "
                             f"each {kind}, got {values!r}")
        repeated = [v for i, v in enumerate(values) if v in values[:i]]
        if repeated:  # its cells would run twice and count twice in the summaries
            raise InputError(f"the {name!r} setting of {caller} gives {repeated[0]!r} twice; "
                             "give each value once")


def check_methods(methods: Iterable[str], known: Iterable[str], what: str = "method") -> None:
    """At least one method (or other ``what``: a strategy), each of them known, none twice
    (a repeat would run the same cells twice and count them twice in the summaries)."""
    methods, known = list(methods), list(known)
    bad = [m for m in methods if m not in known]
    if bad or not methods:
        hint = f" (now called {RENAMED[bad[0]]!r})" if bad and bad[0] in RENAMED else ""
        problem = f"unknown {what} {bad[0]!r}{hint}" if bad else f"no {what} given"
        raise InputError(f"{problem}; choose from {', '.join(known)}")
    repeated = [m for i, m in enumerate(methods) if m in methods[:i]]
    if repeated:
        raise InputError(f"{what} {repeated[0]!r} is given twice; give each once")


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
        if method in METHODS:
            own = [name for name in method_parameters(method) if name not in reserved]
            bad = [name for name in options if name not in own]
            if bad:
                raise InputError(f"method {method!r} has no option {bad[0]!r} a sweep can "
                                 f"set; its options are {', '.join(own) or 'none'}")


def check_crowd_options(extra: Mapping) -> None:
    """Learner options of the crowd sweeps (budget, crowds, plan, active): for their crowd
    methods, never ``self_training``, which each sweep sets itself."""
    check_learner_options(extra, CROWD_METHODS, reserved=("self_training",))


def check_crowd_learners(methods: Iterable[str], settings) -> None:
    """:func:`check_learners` for a crowd sweep's ``settings`` (model_name, epochs,
    batch_size, lr, device, extra), each method built as the sweeps build it."""
    from crowdlearn.learners import make_crowd_learner

    check_learners(methods, lambda m: make_crowd_learner(
        m, model=settings.model_name, epochs=settings.epochs, batch_size=settings.batch_size,
        lr=settings.lr, device=settings.device, seed=0, **settings.extra.get(m, {})))


def check_learners(methods: Iterable[str], make: Callable[[str], object]) -> None:
    """Each method's learner as the sweep makes it (``make(method)``), its parameters
    checked together before any cell runs: what no single option shows, such as a warm-up
    longer than the epochs, would otherwise stop the sweep after its first cells."""
    for method in methods:
        try:
            make(method).check_params()
        except InputError as exc:  # e.g. a warm-up longer than the sweep's epochs
            raise InputError(f"method {method!r} with these settings: {exc}") from None
