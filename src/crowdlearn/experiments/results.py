"""A resumable results table: one CSV row per finished cell of a sweep, rewritten atomically
after every cell, so an interrupted sweep loses at most the cell in progress."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from crowdlearn.errors import InputError
from crowdlearn.outputs import atomic_write


def open_results(out_dir: Path | str, key_columns: Sequence[str], settings: Mapping, *,
                 restart: bool = False, added: Mapping | None = None
                 ) -> tuple[Path, ResultsTable]:
    """The sweep's output folder (created if missing; a file there is an error) and its
    ``results.csv`` table. An existing folder without a ``results.csv`` may hold only hidden
    files (a run stopped before its first cell leaves at most its temporary files; a
    file manager's ``.DS_Store``): another folder (a model's, a dataset's, one holding a
    ``workers.csv`` of the user's) is refused, unless ``restart``, so that nothing in it is
    overwritten unasked (a sweep writes its other outputs after its results)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; --out names a folder")
    if out.is_dir() and not restart and not (out / "results.csv").exists():
        foreign = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        if foreign:
            raise InputError(f"{out}: holds other files ({', '.join(foreign[:3])}"
                             f"{', …' if len(foreign) > 3 else ''}) and no results.csv of a "
                             "sweep; use a new or empty folder, or --force to write into it "
                             "anyway")
    out.mkdir(parents=True, exist_ok=True)
    return out, ResultsTable(out / "results.csv", key_columns, settings, restart=restart,
                             added=added)


def recorded_settings(settings, cells: Sequence[str]) -> dict:
    """A sweep's settings as written in every results row: all dataclass fields but those that
    only choose cells (seeds, methods, …), learner options as JSON (they change results), and
    the network actually used."""
    record = asdict(settings)
    for name in cells:
        record.pop(name)
    record["extra"] = json.dumps(settings.extra, sort_keys=True)
    record["model"] = settings.model_name
    return record


# what a recorded setting stands for, where its name and value do not say it
SETTING_WORDS = {"pool": "another pilot's workers: ", "items": "other items: ",
                 "replay_data": "other answers or truth: "}


class ResultsTable:
    """Rows of ``key_columns`` + measurements + ``settings`` (the same on every row).

    Opening a folder that holds a table made with other settings is an error: results of
    different sweeps are never mixed. ``restart=True`` ignores an existing table; it is
    replaced when the first new row is written (until then the old file stays intact).
    ``added``: settings introduced after tables were first written, each with the value that
    a table without its column was made with (so such a table resumes under that value and
    is refused, naming it, under another).
    """

    def __init__(self, path: Path, key_columns: Sequence[str], settings: Mapping, *,
                 restart: bool = False, added: Mapping | None = None):
        self.path, self.keys = Path(path), list(key_columns)
        self.settings = {k: _plain(v) for k, v in settings.items()}
        self.frame = pd.DataFrame()
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not a results table")
        if self.path.exists() and not restart:
            try:
                self.frame = pd.read_csv(self.path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise InputError(f"{self.path}: not a readable results table ({exc}); use "
                                 "another output folder, or start over (--force)") from None
            missing = [name for name in self.keys if name not in self.frame.columns]
            if missing:
                raise InputError(f"{self.path}: made by another sweep or program (no column "
                                 f"{missing[0]!r}); use another output folder, or start "
                                 "over (--force)")
            for name, value in (added or {}).items():
                if not self.frame.empty and name not in self.frame.columns:
                    self.frame[name] = _plain(value)
            self._check_same_settings()

    def _check_same_settings(self) -> None:
        if self.frame.empty:  # a header without rows holds no results to protect
            self.frame = pd.DataFrame()
            return
        for name, value in self.settings.items():
            if name not in self.frame.columns:
                raise InputError(f"{self.path}: made by another sweep or an earlier version "
                                 f"(no column {name!r}); use another output folder, or start "
                                 "over (--force)")
            found = set(self.frame[name].map(_text))
            if found != {_text(value)}:
                was = sorted(found)[0] or "(unset)"
                now = _text(value) or "(unset)"
                what = SETTING_WORDS.get(name, "")
                raise InputError(f"{self.path}: made with {what}{name}={was}, not {now}; use "
                                 "another output folder for new settings, or start over "
                                 "(--force)")

    def done(self, **key) -> bool:
        if self.frame.empty:
            return False
        mask = pd.Series(True, index=self.frame.index)
        for name, value in key.items():
            mask &= self.frame[name].map(_text) == _text(value)
        return bool(mask.any())

    def add(self, row: Mapping) -> None:
        self.add_rows([row])

    def add_rows(self, rows: Sequence[Mapping]) -> range:
        """Append the rows of one finished cell and rewrite the file; returns their
        positions in :attr:`frame`."""
        for row in rows:
            clash = set(row) & set(self.settings)
            if clash:
                raise ValueError(f"row columns {sorted(clash)} clash with setting names")
        records = [{**{k: _plain(v) for k, v in row.items()}, **self.settings} for row in rows]
        start = len(self.frame)
        self.frame = pd.concat([self.frame, pd.DataFrame(records)], ignore_index=True)
        self._write()
        return range(start, len(self.frame))

    def reorder(self, ranks: Sequence[int]) -> None:
        """Stable-sort the rows by ``ranks`` (one per row) and rewrite the file: how rows that
        finished out of order are put back in the order a serial run writes them."""
        order = pd.Series(ranks, dtype="int64").sort_values(kind="stable").index
        self.frame = self.frame.iloc[order].reset_index(drop=True)
        self._write()

    def _write(self) -> None:
        self.frame = frame = self._in_column_order(self.frame)
        atomic_write(self.path, lambda p: frame.to_csv(p, index=False))

    def _in_column_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The measurements in the order the rows first have them, then the settings: the
        same columns in the same order whichever cells finished first (cells finishing out
        of order in parallel added their own measurements' columns earlier), as long as the
        cells list the columns they share in one order (the sweeps' rows do)."""
        rest = [c for c in frame.columns if c not in self.settings]
        present = frame[rest].notna().to_numpy()
        first = np.where(present.any(axis=0), present.argmax(axis=0), len(frame))
        rest = [rest[i] for i in np.argsort(first, kind="stable")]
        return frame[rest + [c for c in self.settings if c in frame.columns]]


def _text(value) -> str:
    """A setting or key as the table compares it: an unset one (None, written as an empty
    cell and read back as NaN) is the empty text, so a sweep with unset settings resumes."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _plain(value):
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return value
