"""A fit holds its checkpoint folder's lock while it runs: a second fit with the same folder
is refused while the first one runs; the lock goes when the fit ends, however it ends (a
killed process's too)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crowdlearn.errors import InputError
from crowdlearn.learners import StandardCE
from crowdlearn.learners.folder_lock import LOCK, CheckpointInUse, check_unlocked, folder_lock
from crowdlearn.nn import Trainer

HOST = socket.gethostname()


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def learner(folder: Path) -> StandardCE:
    return StandardCE(epochs=1, val_fraction=0.0, n_threads=1, device="cpu", checkpoint=folder)


@contextlib.contextmanager
def held(folder: Path):
    """The folder's lock held as another fit holds it (an open descriptor of its own)."""
    folder.mkdir(exist_ok=True)
    with folder_lock(folder):
        yield folder / LOCK


def unlocked(folder: Path) -> bool:
    """Whether a new fit could take the folder's lock now."""
    try:
        check_unlocked(folder)
    except CheckpointInUse:
        return False
    return True


def test_the_lock_is_held_during_the_fit_and_released_after(data, tmp_path, monkeypatch):
    X, y = data
    folder = tmp_path / "ck"
    seen = []
    original = Trainer._run

    def look(self, *args, **kwargs):
        seen.append(json.loads((folder / LOCK).read_text()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_run", look)
    learner(folder).fit(X, y)
    assert [(s["host"], s["pid"]) for s in seen] == [(HOST, os.getpid())]
    assert unlocked(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["fit.json", LOCK, "run-00.pt"]


@pytest.mark.parametrize("stop", [Interrupt, KeyboardInterrupt])
def test_the_lock_goes_when_the_fit_raises(data, tmp_path, monkeypatch, stop):
    X, y = data

    def fail(self, *args, **kwargs):
        raise stop

    monkeypatch.setattr(Trainer, "_run", fail)
    with pytest.raises(stop):
        learner(tmp_path / "ck").fit(X, y)
    assert (tmp_path / "ck" / "fit.json").exists() and unlocked(tmp_path / "ck")
    # refused input (another fit's folder) leaves no lock either
    monkeypatch.undo()
    with pytest.raises(InputError, match="lr=0.001 in the checkpoint, 0.5 in this fit"):
        StandardCE(epochs=1, lr=0.5, val_fraction=0.0, n_threads=1, device="cpu",
                   checkpoint=tmp_path / "ck").fit(X, y)
    assert unlocked(tmp_path / "ck")


def test_a_folder_in_use_by_a_live_fit_is_refused(data, tmp_path):
    X, y = data
    folder = tmp_path / "ck"
    with held(folder) as lock:
        with pytest.raises(CheckpointInUse, match=rf"{folder} is in use by process "
                                                  rf"{os.getpid()} on {HOST}, a fit started "
                                                  r".*; wait for it or use another folder$"):
            learner(folder).fit(X, y)
        # nothing touched: the live fit's lock stays, no fit record is written beside it
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        assert sorted(p.name for p in folder.iterdir()) == [LOCK]
    assert issubclass(CheckpointInUse, InputError)
    learner(folder).fit(X, y)  # released: the folder is free again


def test_the_lock_of_a_killed_fit_is_gone_with_its_process(data, tmp_path):
    X, y = data
    folder = tmp_path / "ck"
    folder.mkdir()
    code = ("import sys, time; from pathlib import Path; "
            "from crowdlearn.learners.folder_lock import folder_lock\n"
            "with folder_lock(Path(sys.argv[1])):\n"
            "    print('locked', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(folder)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        assert not unlocked(folder)
        with pytest.raises(CheckpointInUse, match=f"in use by process {child.pid}"):
            learner(folder).fit(X, y)
    finally:
        child.send_signal(signal.SIGKILL)  # as kill -9: no clean-up runs
        child.wait()
    assert unlocked(folder)
    learner(folder).fit(X, y)
    assert (folder / "run-00.pt").exists()


def test_a_fit_calling_its_parents_fit_holds_the_lock_once(data, tmp_path):
    import pandas as pd

    X, y = data

    class Mine(StandardCE):
        def fit(self, X, y):
            return super().fit(X, y)

    frame = pd.DataFrame(X, columns=list("abcd"))
    mine = Mine(epochs=1, val_fraction=0.0, n_threads=1, device="cpu", standardize=True,
                checkpoint=tmp_path / "ck").fit(frame, y)
    plain = StandardCE(epochs=1, val_fraction=0.0, n_threads=1, device="cpu",
                       standardize=True).fit(frame, y)
    assert list(mine.feature_names_in_) == list("abcd")
    np.testing.assert_array_equal(mine.feature_mean_, plain.feature_mean_)
    np.testing.assert_array_equal(mine.predict_proba(frame), plain.predict_proba(frame))
    assert unlocked(tmp_path / "ck")


def test_check_unlocked(tmp_path):
    folder = tmp_path / "ck"
    assert unlocked(folder)  # no folder, no lock
    with held(folder):
        assert not unlocked(folder)
    assert unlocked(folder)


def test_a_filesystem_without_locks_runs_the_fit_unlocked_with_a_warning(data, tmp_path,
                                                                        monkeypatch):
    import errno
    import fcntl

    from crowdlearn.errors import CrowdlearnWarning

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    X, y = data
    with pytest.warns(CrowdlearnWarning, match="cannot be locked on this filesystem"):
        learner(tmp_path / "ck").fit(X, y)
    assert (tmp_path / "ck" / "run-00.pt").exists()


def test_a_lent_lock_lets_this_threads_fit_use_the_folder(data, tmp_path):
    X, y = data
    folder = tmp_path / "ck"
    folder.mkdir()
    with folder_lock(folder, lend=True):
        learner(folder).fit(X, y)  # the caller's lock covers the fit
        assert not unlocked(folder)  # still held by the caller after the fit
    assert unlocked(folder)
    with held(folder), pytest.raises(CheckpointInUse):  # not lent: refused as before
        learner(folder).fit(X, y)
