"""Simulated crowds: workers with one confusion matrix each, and the answers they give.

Convention: ``π[w, k, l] = P(worker w answers l | true class k)``; rows sum to 1.
A :class:`Crowd` holds these matrices plus two things a plain W×K×K array cannot say:

- **groups of classes** — for large K a worker confuses a class only within its group (the
  ImageNet setting of Khetan, Lipton & Anandkumar, ICLR 2018; how the groups are formed is our
  construction, docs/methods.md §4.1); the crowd then stores W×g×g matrices that act inside the
  group of the true class, not W×K×K ones (1000 workers × 1000² would not fit);
- **copiers** — a worker who copies another worker's *actual answer* on the same item (case 3
  of Cao et al., ICLR 2019; docs/methods.md §4.2). A copier is not a confusion matrix: its
  answers are perfectly correlated with its target's, which independent draws from the same
  matrix would not be.

Build crowds with :func:`hammer_spammer`, :func:`classwise_hammer_spammer`, :func:`grouped`,
:func:`diagonal`, :func:`maxmig_case` or :func:`from_matrices`, and draw answers with
:meth:`Crowd.annotate` (or :func:`annotate`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np

from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError, check_integer
from crowdlearn.simulate.label_noise import (
    SeedLike,
    check_labels,
    check_stochastic,
    draw_from_rows,
    generator,
)

__all__ = ["Crowd", "annotate", "classwise_hammer_spammer", "diagonal", "from_matrices",
           "grouped", "hammer_spammer", "maxmig_case"]


class Crowd:
    """A crowd of ``W`` simulated workers over ``K`` classes.

    Parameters
    ----------
    confusion:
        W×g×g row-stochastic matrices (g = K without groups). Row/column ``p`` stands for the
        p-th class of a group, in every group.
    copies:
        Length-W ints: −1 for a worker who answers by itself, else the index of the worker whose
        answer it copies verbatim on every item. A copy target must answer by itself. A
        copier's entry of ``confusion`` is replaced by its target's (its marginal confusion).
    groups:
        ``n_groups × g`` class codes partitioning ``0..K-1``; a worker's matrix acts inside the
        group of the true class, so answers never leave that group. Default: one group, the
        classes in order (then the matrices are ordinary K×K confusion matrices).
    """

    def __init__(self, confusion: np.ndarray, *, copies: Sequence[int] | np.ndarray | None = None,
                 groups: np.ndarray | None = None) -> None:
        conf = check_stochastic(confusion, "confusion")
        if conf.ndim != 3 or conf.shape[1] != conf.shape[2]:
            raise InputError(f"confusion must have shape W×K×K, got {conf.shape}")
        w, g = conf.shape[:2]
        if w == 0:
            raise InputError("confusion has no worker: shape W×K×K with W ≥ 1")
        self.groups = _check_groups(groups, g)
        self.copies = _check_copies(copies, w)
        copier = np.flatnonzero(self.copies >= 0)
        conf[copier] = conf[self.copies[copier]]
        self.confusion = conf
        k = self.groups.size
        if k < 2:
            raise InputError(f"a crowd needs at least 2 classes, confusion has shape "
                             f"{conf.shape}")
        self._group_of = np.empty(k, dtype=np.int64)
        self._pos_of = np.empty(k, dtype=np.int64)
        self._group_of[self.groups] = np.arange(self.groups.shape[0])[:, None]
        self._pos_of[self.groups] = np.arange(g)[None, :]
        for arr in (self.confusion, self.groups, self.copies):
            arr.flags.writeable = False

    # ------------------------------------------------------------------ views
    @property
    def n_workers(self) -> int:
        return self.confusion.shape[0]

    @property
    def n_classes(self) -> int:
        return self.groups.size

    @property
    def group_size(self) -> int:
        return self.groups.shape[1]

    @property
    def is_copier(self) -> np.ndarray:
        """Boolean mask of the workers who copy another worker's answers."""
        return self.copies >= 0

    def dense_confusion(self) -> np.ndarray:
        """The W×K×K (marginal) confusion matrices, zero outside each class's group."""
        w, k = self.n_workers, self.n_classes
        full = np.zeros((w, k, k))
        for grp in self.groups:
            full[:, grp[:, None], grp[None, :]] = self.confusion
        return full

    def __repr__(self) -> str:
        extra = ""
        if self.groups.shape[0] > 1:
            extra += f", groups of {self.group_size}"
        if self.is_copier.any():
            extra += f", {int(self.is_copier.sum())} copiers"
        return f"Crowd({self.n_workers} workers, {self.n_classes} classes{extra})"

    # ------------------------------------------------------------------ composition
    def with_constant(self, n_workers: int, label: int = 0) -> Crowd:
        """This crowd plus ``n_workers`` workers who always answer ``label`` (the case-2
        juniors of Max-MIG, Cao et al., ICLR 2019)."""
        n_workers = check_integer(n_workers, "n_workers", minimum=0)
        if self.groups.shape[0] > 1:
            raise InputError("a constant answer would leave the true class's group; "
                             "with_constant needs a crowd without class groups")
        label = int(check_labels(np.array([label]), self.n_classes, "label")[0])
        const = np.zeros((n_workers, self.group_size, self.group_size))
        const[:, :, self._pos_of[label]] = 1.0
        return Crowd(np.concatenate([self.confusion, const]),
                     copies=np.concatenate([self.copies, np.full(n_workers, -1)]),
                     groups=self.groups)

    def with_copiers(self, targets: Sequence[int] | np.ndarray) -> Crowd:
        """This crowd plus one worker per entry of ``targets`` who copies that worker's answer
        verbatim (the case-3 juniors of Max-MIG, Cao et al., ICLR 2019). Copying a copier
        copies the worker it copies."""
        t = np.asarray(targets)
        if t.size == 0:  # [] is a float array: no copier added
            t = t.astype(np.int64)
        if t.ndim != 1 or (t.size and not np.issubdtype(t.dtype, np.integer)):
            raise InputError(f"targets must be a 1-D list of worker indices, got {targets!r}")
        bad = np.flatnonzero((t < 0) | (t >= self.n_workers))
        if len(bad):
            raise InputError(f"copy target {t[bad[0]]} is not a worker index in "
                             f"0..{self.n_workers - 1}")
        t = np.where(self.copies[t] >= 0, self.copies[t], t)
        return Crowd(np.concatenate([self.confusion, self.confusion[t]]),
                     copies=np.concatenate([self.copies, t]), groups=self.groups)

    # ------------------------------------------------------------------ answers
    def annotate(self, y_true: np.ndarray, assignment: np.ndarray | None = None,
                 seed: SeedLike = None, *, tasks: Sequence[Hashable] | None = None,
                 classes: Sequence[Hashable] | None = None) -> Annotations:
        """Answers of the crowd to items with true class codes ``y_true``.

        ``assignment`` is an int array ``n_items × r`` of worker indices, one row per item of
        ``y_true``; ``-1`` marks an empty slot (so rows may be ragged and items may get no
        worker). :func:`crowdlearn.simulate.assign` makes one. ``None``: every worker labels
        every item (the Max-MIG setting). Each answer is drawn from the worker's confusion row
        of the item's true class (as in the MBEM code); a copier gets the very answer its
        target drew for that item (drawn even when the target itself was not assigned the
        item).

        Returns :class:`~crowdlearn.Annotations` with task ids = item indices (or ``tasks[i]``),
        worker ids ``0..W-1`` and class ids ``0..K-1`` (or ``classes``); items without a
        worker are left out.
        """
        w, k = self.n_workers, self.n_classes
        y = check_labels(y_true, k, "y_true")
        n = len(y)
        a = (np.broadcast_to(np.arange(w), (n, w)) if assignment is None
             else _check_assignment(assignment, n, w))
        item, slot = np.nonzero(a >= 0)
        if len(item) == 0:
            raise InputError("the assignment gives no item a worker")
        if tasks is not None:
            ids = np.asarray(tasks, dtype=object)
            if ids.ndim != 1 or len(ids) != n:
                raise InputError(f"tasks must hold one id per item ({n}), got "
                                 f"{len(ids) if ids.ndim == 1 else repr(tasks)}")
        if classes is not None and (isinstance(classes, str) or len(classes) != k):
            raise InputError(f"classes must hold {k} ids, got {classes!r}")
        worker = a[item, slot].astype(np.int64)
        source = np.where(self.copies[worker] >= 0, self.copies[worker], worker)
        rng = generator(seed)
        if not self.is_copier.any():
            label = self._draw(source, y[item], rng)
        else:  # one draw per (item, answering worker): a copier reuses its target's draw
            keys, inverse = np.unique(item * w + source, return_inverse=True)
            label = self._draw(keys % w, y[keys // w], rng)[inverse]
        used = np.zeros(n, dtype=bool)
        used[item] = True
        task_code = np.cumsum(used) - 1
        task_ids = np.flatnonzero(used)
        if tasks is not None:
            task_ids = np.asarray(tasks, dtype=object)[task_ids]  # checked before the draw
        return Annotations(task_code[item], worker, label, tasks=task_ids,
                           workers=list(range(w)),
                           classes=list(range(k)) if classes is None else classes)

    def _draw(self, worker: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One answer per (worker, true class) pair, from the worker's in-group matrix."""
        g = self.group_size
        rows = worker * g + self._pos_of[y]
        pos = draw_from_rows(self.confusion.reshape(-1, g), rows, rng)
        return self.groups[self._group_of[y], pos]


def annotate(crowd: Crowd, y_true: np.ndarray, assignment: np.ndarray | None = None,
             seed: SeedLike = None, **kwargs) -> Annotations:
    """Function form of :meth:`Crowd.annotate`."""
    return crowd.annotate(y_true, assignment, seed, **kwargs)


# ---------------------------------------------------------------------- worker models
def hammer_spammer(n_workers: int, n_classes: int, gamma: float, seed: SeedLike = None) -> Crowd:
    """MBEM's hammer–spammer crowd (Khetan, Lipton & Anandkumar, ICLR 2018; their code's
    ``class_wise=0``; docs/methods.md §4.1): each worker is, with probability ``gamma``, a
    hammer (``π = I``), otherwise a spammer (``1/K + 0.01·I``, row-normalised: diagonal
    ≈ 0.1089 for K = 10; the bump only avoids ties)."""
    w, k = check_integer(n_workers, "n_workers"), _check_k(n_classes)
    _check_gamma(gamma)
    rng = generator(seed)
    hammer = rng.random(w) < gamma
    spam = np.full((k, k), 1.0 / k) + 0.01 * np.eye(k)
    spam /= spam.sum(axis=1, keepdims=True)
    return Crowd(np.where(hammer[:, None, None], np.eye(k), spam))


def classwise_hammer_spammer(n_workers: int, n_classes: int, gamma: float,
                             seed: SeedLike = None) -> Crowd:
    """MBEM's class-wise hammer–spammer crowd (Khetan, Lipton & Anandkumar, ICLR 2018; their
    code's ``class_wise=1``; docs/methods.md §4.1): independently for every worker and true
    class k, row k is one-hot on k with probability ``gamma``, otherwise all ones with the
    diagonal ``1 + U(0.10, 0.11)``, normalised."""
    w, k = check_integer(n_workers, "n_workers"), _check_k(n_classes)
    _check_gamma(gamma)
    rng = generator(seed)
    hammer = rng.random((w, k)) < gamma
    spam = np.ones((w, k, k))
    spam[:, np.arange(k), np.arange(k)] = 1.0 + rng.uniform(0.10, 0.11, size=(w, k))
    spam /= spam.sum(axis=2, keepdims=True)
    return Crowd(np.where(hammer[:, :, None], np.eye(k), spam))


def grouped(n_workers: int, n_classes: int, group_size: int, gamma: float, *,
            class_wise: bool = False,
            partition: Literal["consecutive", "random"] | np.ndarray = "consecutive",
            seed: SeedLike = None) -> Crowd:
    """Hammer–spammer workers who confuse a class only within its group of ``group_size``
    classes (the ImageNet setting of Khetan, Lipton & Anandkumar, ICLR 2018: 1000 classes,
    confusions within 10; the grouping is ours, docs/methods.md §4.1). Each worker has one g×g
    matrix (hammer–spammer, or class-wise with ``class_wise=True``, same γ rules) acting
    inside the group of the true class.

    ``partition``: ``"consecutive"`` (classes 0..g-1, g..2g-1, ...), ``"random"`` (a seeded
    random partition) or an explicit ``n_groups × g`` array of class codes.
    """
    k, g = _check_k(n_classes), _check_k(group_size, "group_size")
    if k % g:
        raise InputError(f"n_classes ({k}) must be a multiple of group_size ({g})")
    rng = generator(seed)
    if isinstance(partition, str):
        if partition == "consecutive":
            groups = np.arange(k).reshape(-1, g)
        elif partition == "random":
            groups = rng.permutation(k).reshape(-1, g)
        else:
            raise InputError(f"partition must be 'consecutive', 'random' or an array, "
                             f"got {partition!r}")
    else:
        groups = np.asarray(partition)
        if groups.shape != (k // g, g):
            raise InputError(f"partition must have shape {(k // g, g)}, got {groups.shape}")
    model = classwise_hammer_spammer if class_wise else hammer_spammer
    return Crowd(model(n_workers, g, gamma, rng).confusion, groups=groups)


def diagonal(n_workers: int, n_classes: int, accuracy: float | Sequence[float]) -> Crowd:
    """Workers correct with probability ``accuracy`` (one value, or one per worker) and
    otherwise uniform over the other classes: Max-MIG's low-expertise CIFAR-10 seniors
    (diagonal 0.2; Cao et al., ICLR 2019) and our digits seniors (diagonal 0.4;
    docs/methods.md §4.2)."""
    w, k = check_integer(n_workers, "n_workers"), _check_k(n_classes)
    acc = np.broadcast_to(np.asarray(accuracy, dtype=np.float64), (w,)) \
        if np.ndim(accuracy) == 0 or np.shape(accuracy) == (w,) else None
    if acc is None:
        raise InputError(f"accuracy must be one number or one per worker ({w}), "
                         f"got shape {np.shape(accuracy)}")
    if not ((acc >= 0) & (acc <= 1)).all():
        raise InputError(f"accuracy must be in [0, 1], got {accuracy}")
    eye = np.eye(k)
    return Crowd(acc[:, None, None] * eye + ((1 - acc) / (k - 1))[:, None, None] * (1 - eye))


def from_matrices(confusion: np.ndarray, copies: Sequence[int] | np.ndarray | None = None,
                  groups: np.ndarray | None = None) -> Crowd:
    """A crowd from user-given W×K×K confusion matrices (rows must sum to 1), optionally
    with copiers and class groups (see :class:`Crowd`)."""
    return Crowd(confusion, copies=copies, groups=groups)


# ---------------------------------------------------------------------- Max-MIG's crowds
_CIFAR_PAIRS = [(0, 2), (1, 9), (3, 5), (4, 7), (6, 8)]
_DOGS_HIGH = [[[.6, .4], [.1, .9]], [[.8, .2], [.4, .6]], [[.6, .4], [.4, .6]],
              [[.7, .3], [.3, .7]], [[.7, .3], [.4, .6]]]
_LUNA_HIGH = [[[.6, .4], [.1, .9]], [[.9, .1], [.4, .6]], [[.6, .4], [.3, .7]],
              [[.7, .3], [.3, .7]], [[.7, .3], [.4, .6]]]
# (dataset, expertise) -> (seniors' matrices or low-expertise diagonal, n_seniors,
#                          case-2 juniors, case-3 copy targets)
_MAXMIG = {
    ("cifar10", "low"): (0.2, 10, 5, [0, 2]),
    ("cifar10", "high"): ("pairs", 5, 5, [0, 0, 2, 2, 2]),
    ("dogsvscats", "low"): (0.55, 10, 15, [0, 1]),
    ("dogsvscats", "high"): (_DOGS_HIGH, 5, 5, [0, 0, 0, 1, 1]),
    ("luna16", "low"): (0.6, 10, 15, [0, 1]),
    ("luna16", "high"): (_LUNA_HIGH, 5, 5, [0, 0, 0, 1, 1]),
    # our digits version (docs/methods.md §4.2): low-expertise seniors at 0.4, 15 constant
    # juniors
    ("digits", "low"): (0.4, 10, 15, [0, 2]),
    ("digits", "high"): ("pairs", 5, 5, [0, 0, 2, 2, 2]),
}
_DATASET_K = {"cifar10": 10, "dogsvscats": 2, "luna16": 2, "digits": 10}


def maxmig_case(case: int, expertise: Literal["low", "high"], n_classes: int | None = None, *,
                dataset: str | None = None) -> Crowd:
    """Max-MIG's synthetic crowds (Cao et al., ICLR 2019; docs/methods.md §4.2), seniors first.

    ``case``: 1 independent mistakes (seniors only); 2 naive majority (plus juniors who always
    answer class 0); 3 correlated mistakes (plus juniors who copy a given senior's answer).
    ``dataset``: ``"cifar10"``, ``"dogs-vs-cats"`` or ``"luna16"`` selects that row of the
    table; ``"digits"`` is our 10-class small-scale version (docs/methods.md §4.2): low
    expertise = 10 seniors with diagonal 0.4 and, in case 2, 15 juniors; high = CIFAR-10's
    pair experts.
    Without it, the CIFAR-10 rules apply to ``n_classes`` (default 10): low expertise = 10
    seniors with diagonal 0.2, the rest uniform; high expertise = the five class-pair
    experts, which need K = 10. Other crowds compose from the same pieces, e.g. the digits
    case 2 crowd is ``diagonal(10, 10, 0.4).with_constant(15, 0)``.
    """
    if case not in (1, 2, 3):
        raise InputError(f"case must be 1, 2 or 3, got {case!r}")
    if expertise not in ("low", "high"):
        raise InputError(f"expertise must be 'low' or 'high', got {expertise!r}")
    key = "cifar10"
    if dataset is not None:
        key = "".join(ch for ch in str(dataset).lower() if ch.isalnum())
        if key not in _DATASET_K:
            raise InputError(f"dataset must be 'cifar10', 'dogs-vs-cats', 'luna16' or "
                             f"'digits', got {dataset!r}")
        if n_classes is not None and n_classes != _DATASET_K[key]:
            raise InputError(f"{dataset} has {_DATASET_K[key]} classes, got "
                             f"n_classes={n_classes}")
        k = _DATASET_K[key]
    else:
        k = _check_k(10 if n_classes is None else n_classes)
    seniors_spec, n_seniors, n_juniors, targets = _MAXMIG[key, expertise]
    if isinstance(seniors_spec, float):
        seniors = diagonal(n_seniors, k, seniors_spec)
    elif seniors_spec == "pairs":
        if k != 10:
            raise InputError("high expertise uses CIFAR-10's class pairs and needs "
                             f"n_classes=10, got {k}")
        seniors = Crowd(_cifar_pair_experts())
    else:
        seniors = Crowd(np.array(seniors_spec))
    if case == 2:
        return seniors.with_constant(n_juniors, 0)
    if case == 3:
        return seniors.with_copiers(targets)
    return seniors


def _cifar_pair_experts() -> np.ndarray:
    """Max-MIG's five high-expertise CIFAR-10 seniors over the class pairs (as in the code of
    Cao et al., ICLR 2019; docs/methods.md §4.2)."""
    conf = np.zeros((5, 10, 10))
    for a, b in _CIFAR_PAIRS:
        conf[0, [a, b], a] = 1.0  # always the pair's first class
        conf[1, [a, b], a] = conf[1, [a, b], b] = 0.5  # either member, 50/50
        if (a, b) in ((3, 5), (4, 7)):
            conf[2, [a, b], [a, b]] = 1.0  # perfect on (3,5), (4,7)
            conf[3, [a, b], a] = 1.0  # always 3 / 4
        else:
            conf[2, [a, b], a] = conf[2, [a, b], b] = 0.5
            conf[3, [a, b], [a, b]] = 1.0
        conf[4, [a, b], [a, b]] = 0.6  # correct 0.6, partner 0.4
        conf[4, [a, b], [b, a]] = 0.4
    return conf


# ---------------------------------------------------------------------- validation
def _check_assignment(assignment, n_items: int, n_workers: int) -> np.ndarray:
    a = np.asarray(assignment)
    if a.ndim != 2 or a.shape[0] != n_items:
        raise InputError(f"assignment must be an n_items × r array ({n_items} rows) of worker "
                         f"indices, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise InputError(f"assignment must hold integer worker indices, got dtype {a.dtype}")
    bad = np.argwhere((a < -1) | (a >= n_workers))
    if len(bad):
        i, j = bad[0]
        raise InputError(f"assignment[{i}, {j}] = {a[i, j]} is not a worker index in "
                         f"0..{n_workers - 1} (or -1 for none)")
    s = np.sort(a, axis=1)
    dup = np.argwhere((s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0))
    if len(dup):
        i, j = dup[0]
        raise InputError(f"assignment row {i} lists worker {s[i, j]} twice; a worker labels "
                         "an item at most once")
    return a


def _check_groups(groups, g: int) -> np.ndarray:
    if groups is None:
        return np.arange(g, dtype=np.int64)[None, :]
    grp = np.array(groups)
    if grp.ndim != 2 or grp.shape[1] != g or not np.issubdtype(grp.dtype, np.integer):
        raise InputError(f"groups must be an integer n_groups × {g} array, got shape "
                         f"{grp.shape}")
    if not np.array_equal(np.sort(grp.ravel()), np.arange(grp.size)):
        raise InputError(f"groups must partition the classes 0..{grp.size - 1}: each exactly "
                         "once")
    return grp.astype(np.int64)


def _check_copies(copies, w: int) -> np.ndarray:
    if copies is None:
        return np.full(w, -1, dtype=np.int64)
    c = np.array(copies)
    if c.shape != (w,) or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise InputError(f"copies must hold one integer per worker ({w}), got {copies!r}")
    c = c.astype(np.int64)
    bad = np.flatnonzero((c < -1) | (c >= w))
    if len(bad):
        raise InputError(f"copies[{bad[0]}] = {c[bad[0]]} is not a worker index (or -1)")
    itself = np.flatnonzero(c == np.arange(w))
    if len(itself):
        raise InputError(f"worker {itself[0]} cannot copy itself")
    chained = np.flatnonzero((c >= 0) & (c[np.maximum(c, 0)] >= 0))
    if len(chained):
        i = chained[0]
        raise InputError(f"worker {i} copies worker {c[i]}, who copies too; a copy target "
                         "must answer by itself")
    return c


def _check_k(value: int, name: str = "n_classes") -> int:
    return check_integer(value, name, minimum=2)


def _check_gamma(gamma: float) -> None:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)) \
            or not 0.0 <= gamma <= 1.0:
        raise InputError(f"gamma must be a number in [0, 1], got {gamma!r}")
