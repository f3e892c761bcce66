"""`crowdlearn.outputs.atomic_folder`: a folder output appears complete or not at all, and
what a killed writer leaves beside it is recognised and removed later."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from crowdlearn.errors import CrowdlearnWarning
from crowdlearn.outputs import _host, atomic_folder, remove_leftovers


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _old_folder(path: Path) -> Path:
    path.mkdir()
    (path / "old.txt").write_text("old")
    return path


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_a_clean_exit_replaces_the_old_folder(tmp_path, umask_027):
    out = _old_folder(tmp_path / "out")
    with atomic_folder(out) as tmp:
        assert re.fullmatch(rf"\.out\.crowdlearn-{re.escape(_host())}-{os.getpid()}-[0-9a-f]+",
                            tmp.name)
        assert tmp.parent == tmp_path and tmp.is_dir() and not any(tmp.iterdir())
        assert _contents(out) == {"old.txt": "old"}  # untouched until the block ends
        (tmp / "new.txt").write_text("new")
    assert _contents(out) == {"new.txt": "new"}
    assert os.listdir(tmp_path) == ["out"]  # no temporary or set-aside folder left
    assert stat.S_IMODE(out.stat().st_mode) == 0o750  # as mkdir would make it


def test_a_new_folder_and_a_file_asked_to_be_replaced(tmp_path):
    with atomic_folder(tmp_path / "new") as tmp:
        (tmp / "a").write_text("a")
    (tmp_path / "afile").write_text("a user's file")  # the writer checked --force
    with atomic_folder(tmp_path / "afile") as tmp:
        (tmp / "b").write_text("b")
    assert _contents(tmp_path / "new") == {"a": "a"}
    assert _contents(tmp_path / "afile") == {"b": "b"}
    assert sorted(os.listdir(tmp_path)) == ["afile", "new"]


def test_an_error_in_the_block_keeps_the_old_folder(tmp_path):
    out = _old_folder(tmp_path / "out")
    with pytest.raises(ValueError, match="half way"), atomic_folder(out) as tmp:
        (tmp / "new.txt").write_text("new")
        raise ValueError("half way")
    assert _contents(out) == {"old.txt": "old"} and os.listdir(tmp_path) == ["out"]


def test_an_interrupt_removes_the_temporary_folder(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_folder(tmp_path / "out") as tmp:
        (tmp / "part.txt").write_text("part")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_an_interrupt_just_after_the_folder_is_made_removes_it(tmp_path, monkeypatch):
    mkdir = Path.mkdir

    def then_interrupted(self, *args, **kwargs):
        mkdir(self, *args, **kwargs)
        raise KeyboardInterrupt  # as SIGTERM's handler raises it, at any bytecode

    monkeypatch.setattr(Path, "mkdir", then_interrupted)
    with pytest.raises(KeyboardInterrupt), atomic_folder(tmp_path / "out"):
        pytest.fail("the block must not run")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("failure", [OSError("disk gone"), KeyboardInterrupt()])
def test_a_failed_final_rename_puts_the_old_folder_back(tmp_path, monkeypatch, failure):
    out = _old_folder(tmp_path / "out")
    rename = os.rename

    def failing(src, dst):
        if Path(dst) == out and "crowdlearn-old-" not in Path(src).name:
            raise failure  # the new folder's rename, not the old one's return
        rename(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(type(failure)), atomic_folder(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert _contents(out) == {"old.txt": "old"} and os.listdir(tmp_path) == ["out"]


def test_a_symbolic_link_is_followed(tmp_path):
    target = _old_folder(tmp_path / "target")
    (tmp_path / "link").symlink_to(target)
    with atomic_folder(tmp_path / "link") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".target.crowdlearn-")
        (tmp / "new.txt").write_text("new")
    assert (tmp_path / "link").is_symlink() and _contents(target) == {"new.txt": "new"}


def test_long_names_are_cut_in_temporary_names(tmp_path):
    out = tmp_path / ("x" * 240 + ".parquet")
    with atomic_folder(out) as tmp:
        assert len(tmp.name.encode()) < 255
        (tmp / "part-0.parquet").write_text("")
    assert os.listdir(tmp_path) == [out.name]


def test_a_killed_writers_folders_are_removed_by_the_next_write(tmp_path):
    dead, host = _dead_pid(), re.escape(_host())
    out = _old_folder(tmp_path / ("y" * 230))
    with atomic_folder(out) as tmp:  # what a kill -9 in the block would have left
        left = tmp.with_name(tmp.name.replace(f"-{os.getpid()}-", f"-{dead}-"))
        left.mkdir()
        (left / "part.txt").write_text("part")
        aside = tmp.with_name(tmp.name.replace(".crowdlearn-", ".crowdlearn-old-")
                              .replace(f"-{os.getpid()}-", f"-{dead}-"))
        _old_folder(aside)  # ... or one killed after its final rename
    assert re.fullmatch(rf"\.y+~[0-9a-f]+\.crowdlearn-{host}-{dead}-[0-9a-f]+", left.name)
    assert remove_leftovers(tmp_path / "other") == []
    with pytest.warns(CrowdlearnWarning, match=r"removed 2 leftover copies of .*yyy left by"):
        removed = remove_leftovers(out)
    assert sorted(removed) == sorted([left, aside])
    assert os.listdir(tmp_path) == [out.name]


def test_a_set_aside_folder_is_kept_while_it_is_the_only_copy(tmp_path):
    # a writer killed between its two renames: the previous output is only set aside
    name = f".out.crowdlearn-old-{_host()}-{_dead_pid()}-0123abcd"
    aside = _old_folder(tmp_path / name)
    with pytest.warns(CrowdlearnWarning, match=rf"kept .*{name}: the previous .*out"):
        assert remove_leftovers(tmp_path / "out") == []
    assert _contents(aside) == {"old.txt": "old"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with atomic_folder(tmp_path / "out") as tmp:
            (tmp / "new.txt").write_text("new")
    assert aside.exists()  # the write began before a new copy existed
    with pytest.warns(CrowdlearnWarning, match="removed 1 previous copy"):
        assert remove_leftovers(tmp_path / "out") == [aside]
    assert os.listdir(tmp_path) == ["out"]
