"""Reading a user's table: compressed text is read by its suffix, its separator sniffed from
its uncompressed first line."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile

import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.inputs import read_table

TEXT = "task;worker;label\nt1;w1;a\nt2;w2;b\n"  # semicolons: a wrong sniff is seen at once


@pytest.mark.parametrize("suffix, write", [
    (".csv", lambda p: p.write_text(TEXT)),
    (".csv.gz", lambda p: p.write_bytes(gzip.compress(TEXT.encode()))),
    (".csv.bz2", lambda p: p.write_bytes(bz2.compress(TEXT.encode()))),
    (".csv.xz", lambda p: p.write_bytes(lzma.compress(TEXT.encode()))),
    (".csv.zip", lambda p: zipfile.ZipFile(p, "w").writestr("answers.csv", TEXT)),
])
def test_compressed_text_is_read_with_its_separator(tmp_path, suffix, write):
    path = tmp_path / f"answers{suffix}"
    write(path)
    table = read_table(path)
    pd.testing.assert_frame_equal(table, pd.DataFrame(
        {"task": ["t1", "t2"], "worker": ["w1", "w2"], "label": ["a", "b"]}))


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip"])
def test_damaged_compressed_text_is_named(tmp_path, suffix):
    path = tmp_path / f"answers{suffix}"
    path.write_bytes(b"not compressed at all\n" * 3)
    with pytest.raises(InputError, match=str(path.name)):
        read_table(path)


def test_a_zip_of_two_files_is_refused(tmp_path):
    path = tmp_path / "answers.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", TEXT)
        archive.writestr("b.csv", TEXT)
    with pytest.raises(InputError, match="a .zip must hold one file, it holds 2"):
        read_table(path)
