"""Coding ids and labels as integers: the one routine every part of crowdlearn uses.

A column of task ids, worker ids or labels becomes dense integer codes plus the list of the
distinct values, kept exactly as the user gave them: no stripping, no parsing of text as
numbers (``"00042"`` stays ``"00042"`` and is not ``"42"``; ``"01"`` and ``"1"`` are two ids).
Only truly empty cells are missing: NaN, ``None`` or ``pd.NA`` in a frame, and text that is
empty or blank. ``"NA"``, ``"None"`` or ``"null"`` are ordinary values.

Order of the distinct values: a pandas ``Categorical`` keeps its categories (unused ones
included, so that they become declared classes); declared ``classes`` keep theirs; otherwise
values are sorted, numbers by value, text naturally (text that reads as numbers by its value,
so ``"2"`` comes before ``"10"``, then by its spelling).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence

import numpy as np
import pandas as pd

from crowdlearn.errors import CrowdlearnWarning, InputError

__all__ = ["code", "lookup", "missing_mask"]

RowName = Callable[[int], str]


def _row(i: int) -> str:
    return f"row {i}"


def missing_mask(values: pd.Series) -> np.ndarray:
    """Truly empty cells: NaN / None / NA, or text that is empty or only blanks."""
    bad = values.isna().to_numpy()
    arrow = getattr(values.array, "_pa_array", None)  # a pyarrow-backed text column
    if arrow is not None and pd.api.types.is_string_dtype(values.dtype):
        import pyarrow.compute as pc  # ~2x str.strip() on 10M cells, and no object copy

        blank = pc.or_(pc.equal(pc.utf8_length(arrow), 0), pc.utf8_is_space(arrow))
        return bad | blank.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values[~bad].astype(str)
        blank = text.str.strip().eq("").to_numpy()
        if blank.any():
            bad = bad.copy()
            bad[np.flatnonzero(~bad)[blank]] = True
    return bad


def code(values, classes: Sequence[Hashable] | None = None, *, name: str = "label",
         origin: str = "", row: RowName = _row, warn_near: bool = False,
         categories: bool = True) -> tuple[np.ndarray, list]:
    """Integer codes of ``values`` and the list of distinct values (see the module notes).
    Integer ids that are already codes ``0..n-1`` come back as they are (their own integer
    type, not copied); otherwise the codes are ``int64``.

    ``classes`` declares the values up front, in order: a value outside them is an
    :class:`InputError` naming its row (``row(i)``) and ``origin`` (e.g. the file). Text and
    numbers mixed in one column are refused (``5`` and ``"5"`` would silently be two ids).
    With ``warn_near``, values that differ only by case or surrounding blanks (``"positive"``
    and ``"positive "``) raise a :class:`CrowdlearnWarning`; they stay distinct. A
    ``Categorical``'s categories declare the values only with ``categories`` (labels: an
    unused category is a class nobody chose; ids: an unused category is no task at all).

    Declared classes given as numbers match text that spells them (``classes=[0, 1]`` for a
    file read as text): the declared values are the ids.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if isinstance(series.dtype, pd.CategoricalDtype):
        if classes is None and categories:
            classes = list(series.cat.categories)
        series = series.astype(object)
    if classes is not None:
        ids = distinct(classes, "classes")
        codes = _match(series.astype(object), ids)
        if (codes < 0).any():
            i = int(np.flatnonzero(codes < 0)[0])
            value = plain([series.iloc[i]])[0]
            raise InputError(f"{origin}{row(i)}: {name} {value!r} is not one of the declared "
                             f"classes {ids}" + _type_hint(value, ids))
        codes = codes.astype(np.int64)
    else:
        codes, ids = _factorize(series, name, origin, row)
    if warn_near:
        warn_near_duplicates(ids, name, origin)
    return codes, ids


def positions(ids, wanted, index: pd.Index | None = None) -> np.ndarray:
    """Position of each of ``wanted`` in ``ids`` (−1 if absent), matching as given and then
    as text (a file's "7" and a frame's 7 are one id); ``index`` is ``ids`` as a pd.Index
    when the caller has one already."""
    index = pd.Index(ids) if index is None else index
    position = index.get_indexer(pd.Index(wanted))
    if (position < 0).any():
        as_text = index.map(str).get_indexer(pd.Index(wanted).map(str))
        position = np.where(position < 0, as_text, position)
    return position


def lookup(wanted: Iterable[Hashable], known: Sequence[Hashable], what: str,
           among: str) -> np.ndarray:
    """Codes of ``wanted`` among the ``known`` ids; an unknown one is an :class:`InputError`
    saying "{what} {value!r} is not {among}". Where the known ids are text (read from a
    file), a number matches the text that spells it (``gold={7: ...}`` finds task ``"7"``)."""
    wanted = plain(wanted)
    codes = _match(pd.Series(wanted, dtype=object), list(known))
    if (codes < 0).any():
        bad = wanted[int(np.flatnonzero(codes < 0)[0])]
        raise InputError(f"{what} {bad!r} is not {among}" + _type_hint(bad, list(known)))
    return codes


def plain(values) -> list:
    """Ids as a plain list of Python scalars (numpy scalars unwrapped)."""
    if isinstance(values, (np.ndarray, pd.Index, pd.Series)):
        return values.tolist()  # converts numpy scalars in C
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def warn_near_duplicates(ids: Sequence[Hashable], name: str = "label", origin: str = "") -> None:
    """Warn about text values that differ only by case or surrounding blanks, or that spell
    one number two ways (``"3"`` and ``"3.0"``, ``"10"`` and ``"1e1"``: a column written by
    two programs)."""
    seen: dict[object, str] = {}
    pairs = []
    for value in ids:
        if not isinstance(value, str):
            continue
        number = as_number(value)
        key = ("number", number) if number is not None else value.strip().casefold()
        if key in seen:
            how = ("are one number written two ways" if number is not None
                   else "differ only by case or surrounding blanks")
            pairs.append(f"{seen[key]!r} and {value!r} {how}")
        else:
            seen[key] = value
    if pairs:
        more = f"; and {len(pairs) - 3} more such pairs" if len(pairs) > 3 else ""
        warnings.warn(f"{origin}{name}s {'; '.join(pairs[:3])}{more}; they are kept as "
                      f"{'two ' if len(pairs) == 1 else ''}different "
                      f"{'classes' if name == 'label' else name + 's'}",
                      CrowdlearnWarning, stacklevel=3)


def as_number(text: str) -> int | float | None:
    """The finite number ``text`` spells (None: it spells none): an exact int when it is an
    integer (large ids that one float cannot tell apart stay apart), else a float (equal to
    the int it may spell: 3.0 == 3)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def same_number(values: Iterable, classes: Sequence[Hashable]) -> list:
    """``values`` with each one that is not among ``classes`` but spells the same number as
    one of them replaced by that class (a float column's ``1.0`` for a class ``"1"``, a
    file's ``"1"`` for a class ``1.0``: a label column written by two programs); the others
    as given. For labels only: ids keep their spelling (``"007"`` is not task ``7``)."""
    known = set(classes)
    by_value: dict[float, Hashable] = {}
    for c in classes:
        number = as_number(str(c))
        if number is not None:
            by_value.setdefault(number, c)
    if not by_value:
        return list(values)
    return [v if v in known or (number := as_number(str(v))) is None
            else by_value.get(number, v) for v in plain(values)]


# ---------------------------------------------------------------------- helpers
def _match(values: pd.Series, ids: list) -> np.ndarray:
    """Positions of ``values`` in ``ids`` (−1: absent). A value absent as given but whose
    text is one of the text ids (or whose text is the text of a numeric id) matches it:
    the user's numbers against a file's text, never two spellings within one column."""
    index = pd.Index(ids, dtype=object)
    codes = index.get_indexer(values)
    if (codes < 0).any():
        as_text = pd.Index([str(v) for v in ids], dtype=object)
        if as_text.is_unique:
            missing = codes < 0
            codes[missing] = as_text.get_indexer(values[missing].map(str))
    return codes


def distinct(given, what: str) -> list:
    """``given`` as a plain list of ids; an id given twice is an :class:`InputError`."""
    ids = plain(given)
    if len(set(ids)) != len(ids):
        seen: set = set()
        dup = next(x for x in ids if x in seen or seen.add(x))
        raise InputError(f"{what} contains {dup!r} twice")
    return ids


def _kind(value) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, (numbers.Number, np.number, np.bool_)):
        return "number"
    return type(value).__name__


def _type_hint(value, ids: list) -> str:
    """`` (text '5' against numbers)`` when a value and the known ids differ in kind only."""
    kinds = {_kind(v) for v in ids}
    mine = _kind(value)
    if mine not in kinds and str(value) in {str(v) for v in ids}:
        return f" ({mine} {value!r}, but the known values are {' and '.join(sorted(kinds))})"
    return ""


def _short(value) -> str:
    """``value``'s repr, cut to 60 characters."""
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _factorize(series: pd.Series, name: str, origin: str, row: RowName = _row,
               ) -> tuple[np.ndarray, list]:
    if pd.api.types.is_integer_dtype(series.dtype) and len(series):  # else no copy to numpy
        arr = series.to_numpy()
        fast = _compact_integers(arr) if np.issubdtype(arr.dtype, np.integer) else None
        if fast is not None:
            return fast
    try:
        codes, uniques = pd.factorize(series, sort=False)
    except TypeError:  # unhashable cells: lists or dicts from JSON, arrays from Parquet
        unhashable = series.map(lambda v: not isinstance(v, Hashable)).to_numpy(dtype=bool)
        if not unhashable.any():
            raise
        bad = int(np.flatnonzero(unhashable)[0])
        what = "a list" if isinstance(series.iloc[bad], np.ndarray) else \
            f"a {type(series.iloc[bad]).__name__}"
        raise InputError(f"{origin}{row(bad)}: column {name!r} holds {what} "
                         f"{_short(series.iloc[bad])}, not an id or a label") from None
    if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype):  # mixed?
        kind = pd.api.types.infer_dtype(uniques, skipna=True)
        if "mixed" in kind:  # tuples would become a MultiIndex in every output
            bad = next((i for i, v in enumerate(uniques) if isinstance(v, (tuple, frozenset))),
                       None)
            if bad is not None:
                at = int(np.flatnonzero(codes == bad)[0])
                raise InputError(f"{origin}{row(at)}: column {name!r} holds "
                                 f"a {type(uniques[bad]).__name__} {uniques[bad]!r}, not an id or "
                                 "a label (join its parts into one text id)")
        if kind not in ("string", "empty"):
            _check_one_kind(plain(uniques), name, origin)
    order = _sort_order(uniques)
    uniques = plain(uniques)
    if order is None:
        return codes.astype(np.int64), uniques
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], np.asarray(uniques, dtype=object)[order].tolist()


def _compact_integers(values: np.ndarray) -> tuple[np.ndarray, list] | None:
    """Integer ids in a compact range (the usual task, worker and class numbers) coded
    without a hash table; None when the range is too wide."""
    lo, hi = int(values.min()), int(values.max())
    if lo < -(2**62) or hi > 2**62:  # beyond int64 arithmetic: the hash table is exact
        return None
    if hi - lo < 64:  # a few classes: one comparison pass each
        present = np.array([bool((values == v).any()) for v in range(lo, hi + 1)])
    elif hi - lo <= 4 * len(values) + 1024:
        present = np.bincount(_offsets(values, lo), minlength=hi - lo + 1) > 0
    else:
        return None
    if lo == 0 and present.all():  # already dense codes 0..n-1
        return values, list(range(hi + 1))
    code_of = np.cumsum(present) - 1
    return code_of[_offsets(values, lo)], (np.flatnonzero(present) + lo).tolist()


def _offsets(values: np.ndarray, lo: int) -> np.ndarray:
    """``values - lo`` as an index array, without a copy where numpy can index directly."""
    shifted = values - lo if lo else values
    return shifted if shifted.dtype.kind == "i" else shifted.astype(np.intp)


def _check_one_kind(uniques: list, name: str, origin: str) -> None:
    kinds = {_kind(v) for v in uniques}
    if "text" not in kinds or len(kinds) == 1:
        return
    by_text: dict[str, object] = {}
    for value in uniques:
        twin = by_text.setdefault(str(value), value)
        if twin is not value and _kind(twin) != _kind(value):
            raise InputError(f"{origin}column {name!r} holds both {twin!r} and {value!r}: "
                             "one id written as a number and as text; give one type")
    example = next(v for v in uniques if _kind(v) != "text")
    raise InputError(f"{origin}column {name!r} mixes text and {_kind(example)}s (e.g. "
                     f"{next(v for v in uniques if _kind(v) == 'text')!r} and {example!r}); "
                     "write them all as text (in JSON, as strings: \"1\") or all as "
                     "numbers")


def sort_order(values) -> np.ndarray:
    """Positions of distinct ``values`` in the order :func:`code` gives them (text that reads
    as numbers by value: "9" before "10"), for engines that collect the values themselves."""
    order = _sort_order(values)
    return np.arange(len(values)) if order is None else order


def _sort_order(uniques) -> np.ndarray | None:
    """Positions of ``uniques`` (from :func:`pandas.factorize`) in sorted order (None:
    already sorted)."""
    if len(uniques) < 2:
        return None
    values = np.asarray(uniques)
    if values.dtype != object:
        order = np.argsort(values, kind="stable")
    elif pd.api.types.infer_dtype(uniques, skipna=True) == "string":
        whole = _as_integers(uniques)
        if whole is not None:  # digits only: by value, spelling ("01" and "1") breaks ties
            order = np.argsort(whole, kind="stable")
            ranked = whole[order]
            if (ranked[1:] == ranked[:-1]).any():
                order = np.lexsort((values.astype(str), whole))
            return None if (order == np.arange(len(order))).all() else order
        text = values.astype(str)
        if _reads_as_numbers(text):  # by value, then spelling
            order = np.lexsort((text, pd.to_numeric(text).astype(float)))
        else:
            order = np.argsort(text, kind="stable")
    else:
        try:
            order = np.argsort(values, kind="stable")
        except TypeError:
            order = np.argsort(np.array([str(v) for v in values]), kind="stable")
    return None if (order == np.arange(len(order))).all() else order


def _reads_as_numbers(text: np.ndarray) -> bool:
    """Every string parses as a number (a cheap look at a sample first)."""
    sample = text[:256]
    if pd.to_numeric(pd.Series(sample), errors="coerce").isna().any():
        return False
    return bool(pd.to_numeric(pd.Series(text), errors="coerce").notna().all())


def _as_integers(uniques) -> np.ndarray | None:
    """Text that all spells integers in plain digits (an optional sign), as int64; None
    otherwise (other numbers take the general path)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        head = pa.array(np.asarray(uniques[:256], dtype=object), type=pa.string())
        pc.cast(head, pa.int64())  # most text ids fail here, at once
        text = pa.array(np.asarray(uniques, dtype=object), type=pa.string())
        return pc.cast(text, pa.int64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
