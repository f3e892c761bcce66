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


@pytest.mark.parametrize("text", [
    'task,worker,label\n1,a,"x, y"\n2,"b ""q""",NA\n3,c,\n',  # quotes, NA, an empty cell
    '\ufefftask,worker,label\r\n007,w1,None\r\n8,w2,null\r\n',  # BOM, CRLF, zero-padded
    'task;worker;label\nt1;w1; cat \n',  # another separator, blanks kept
    'task,worker,label\n',  # the header only
    'task,worker,label\r1,a,x\r2,b,y\r',  # lines ended by "\r" alone
    'task,worker,label,\n1,a,x,\n',  # a trailing separator: pandas' "Unnamed: 3"
])
def test_text_read_by_arrow_equals_pandas_reading(tmp_path, text):
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode())
    sep = ";" if ";" in text else ","
    fast = read_table(path)
    slow = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(fast.columns) == list(slow.columns)
    assert fast.astype(object).values.tolist() == slow.astype(object).values.tolist()


def test_text_arrow_cannot_read_goes_to_pandas(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("task,worker,label\n1,a,\"two\nlines\"\n2,b\n")  # ragged: pandas' message
    with pytest.raises(InputError):
        from crowdlearn import Annotations

        Annotations.from_file(path)
    path.write_text("task,task,label\n1,a,x\n")  # repeated names: pandas renames them
    assert list(read_table(path).columns) == list(pd.read_csv(path).columns)
