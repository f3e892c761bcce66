"""Whole crowd datasets (LabelMe, sentiment, music genre) and the CIFAR-10N/100N label files,
on tiny folders written in each release's exact layout, and on the real files when present."""

from __future__ import annotations

import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdlearn import InputError
from crowdlearn.datasets import (
    DATA_ENV,
    CrowdData,
    cifar10n_annotations,
    cifar100n_annotations,
    load_cifar10n,
    load_cifar100n,
    load_labelme,
    load_music_genre,
    load_sentiment,
    read_torch_pickle,
)
from tests.conftest import real_data


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode())
    return path


# ---------------------------------------------------------------------- LabelMe
ANSWERS = """-1 2 2
0 -1 -1
1 1 -1
-1 -1 0
"""


@pytest.fixture
def labelme(tmp_path) -> Path:
    folder = tmp_path / "labelme"
    folder.mkdir()
    write(folder / "answers.txt", ANSWERS)
    write(folder / "LabelMe_Z_train.txt", "2\n0\n1\n0\n")
    write(folder / "LabelMe_Z_valid.txt", "1\n2\n")
    write(folder / "LabelMe_Z_test.txt", "4\n")  # a class no worker gave
    for split, n in (("train", 4), ("valid", 2), ("test", 1)):
        np.save(folder / f"LabelMe_VGG_avg_{split}.npy",
                np.arange(n * 5, dtype=np.float32).reshape(n, 5) + 100 * len(split))
    return folder


def test_labelme(labelme):
    data = load_labelme(labelme)
    assert isinstance(data, CrowdData)
    train, ann, valid, test = data
    assert train.X.shape == (4, 5) and train.X.dtype == np.float32
    assert train.X[0, 0] == 500 and ann.tasks == [0, 1, 2, 3]  # row i is task i
    assert train.y.tolist() == [2, 0, 1, 0] and train.name == "labelme-train"
    assert len(ann) == 6 and ann.n_workers == 3
    # one class list everywhere, including the class only the test split has
    assert train.classes == ann.classes == valid.classes == test.classes == [0, 1, 2, 4]
    assert test.y.tolist() == [3] and valid.y.tolist() == [1, 2]
    assert valid.X.shape == (2, 5) and test.X[0, 0] == 400


def test_labelme_without_held_out_splits(labelme):
    for split in ("valid", "test"):
        (labelme / f"LabelMe_Z_{split}.txt").unlink()
        (labelme / f"LabelMe_VGG_avg_{split}.npy").unlink()
    data = load_labelme(labelme)
    assert data.valid is None and data.test is None and data.train.classes == [0, 1, 2]


def test_labelme_half_a_split(labelme):
    (labelme / "LabelMe_Z_test.txt").unlink()
    with pytest.raises(InputError, match="LabelMe_Z_test.txt: no such file \\(needed with "
                                         "LabelMe_VGG_avg_test.npy\\)"):
        load_labelme(labelme)


def test_labelme_rows_must_match(labelme):
    np.save(labelme / "LabelMe_VGG_avg_train.npy", np.zeros((3, 5), np.float32))
    with pytest.raises(InputError, match="LabelMe_VGG_avg_train.npy: 3 rows but answers.txt "
                                         "has 4 items"):
        load_labelme(labelme)
    np.save(labelme / "LabelMe_VGG_avg_train.npy", np.zeros((4, 5), np.float32))
    write(labelme / "LabelMe_Z_valid.txt", "1\n2\n3\n")
    with pytest.raises(InputError, match="LabelMe_VGG_avg_valid.npy: 2 rows but "
                                         "LabelMe_Z_valid.txt has 3 items"):
        load_labelme(labelme)


def test_labelme_truncated_features(labelme):
    path = labelme / "LabelMe_VGG_avg_train.npy"
    np.save(path, np.ones((40, 512), np.float32))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputError, match="LabelMe_VGG_avg_train.npy: cannot be read"):
        load_labelme(labelme)


def test_labelme_missing_folder_lists_places(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(InputError, match=f"LabelMe not found \\(it needs answers.txt, .*\\); "
                                         f"looked in:\n  {tmp_path / 'none'} \\(absent\\)"):
        load_labelme(tmp_path / "none")


def test_labelme_found_through_env(labelme, monkeypatch):
    labelme.rename(labelme.parent / "labelme_rodrigues2018")
    monkeypatch.setenv(DATA_ENV, str(labelme.parent))
    assert len(load_labelme().train) == 4


# ---------------------------------------------------------------------- sentiment
@pytest.fixture
def sentiment(tmp_path) -> Path:
    folder = tmp_path / "sentiment"
    folder.mkdir()
    write(folder / "answers.txt", "1 -1 1\n0 0 -1\n-1 1 1\n")
    write(folder / "Sentiment_Z_train.txt", "1\n0\n1\n")
    # the release's text files end without a newline, and keep trailing spaces
    write(folder / "Sentiment_text_train.txt", "a fine film . \nterrible , truly .\nok 'fun'")
    write(folder / "Sentiment_text_test.txt", "meh\ngreat !\n", "\r\n")
    write(folder / "Sentiment_Z_test.txt", "0\n1\n")
    return folder


def test_sentiment(sentiment):
    train, ann, valid, test = load_sentiment(sentiment)
    assert train.X.dtype == object and train.X.tolist() == ["a fine film . ",
                                                            "terrible , truly .", "ok 'fun'"]
    assert train.y.tolist() == [1, 0, 1] and ann.classes == train.classes == [0, 1]
    assert len(ann) == 6 and valid is None
    assert test.X.tolist() == ["meh", "great !"] and test.y.tolist() == [0, 1]


def test_sentiment_line_counts_must_match(sentiment):
    write(sentiment / "Sentiment_text_train.txt", "one\ntwo\n")
    with pytest.raises(InputError, match="Sentiment_text_train.txt: 2 lines but answers.txt has "
                                         "3 items"):
        load_sentiment(sentiment)
    (sentiment / "Sentiment_text_train.txt").write_bytes(b"\xff\xfe bad\nx\ny")
    with pytest.raises(InputError, match="Sentiment_text_train.txt: cannot be read"):
        load_sentiment(sentiment)


# ---------------------------------------------------------------------- music genre
MTURK = """WorkerID,Input.song,Input.true_label,Answer.pred_label
A1,rock.00002.mp3,rock,rock
A1,jazz.00001.mp3,jazz,blues
A2,rock.00002.mp3,rock,metal
A2,blues.00007.mp3,blues,blues
"""
GOLD = """id,feature0,feature1,class
jazz.00001.mp3,0.1,1.5,jazz
blues.00007.mp3,0.2,2.5,blues
never.00000.mp3,9,9,pop
rock.00002.mp3,0.3,3.5,rock
"""
TEST = """id,feature0,feature1,class
classical.00003.mp3,0.4,4.5,classical
"""


@pytest.fixture
def music(tmp_path) -> Path:
    folder = tmp_path / "music"
    folder.mkdir()
    write(folder / "mturk_answers.csv", MTURK, "\r")  # old-Mac line endings, as released
    write(folder / "music_genre_gold.csv", GOLD)
    write(folder / "music_genre_test.csv", TEST)
    return folder


def test_music_genre_aligns_features_to_the_answers(music):
    train, ann, valid, test = load_music_genre(music)
    assert len(train) == ann.n_tasks == 3 and valid is None  # the unanswered song is left out
    classes = ["blues", "classical", "jazz", "metal", "rock"]
    assert ann.classes == train.classes == test.classes == classes
    for i, song in enumerate(ann.tasks):
        row = GOLD.split(song)[1].split("\n")[0].split(",")
        assert train.X[i].tolist() == pytest.approx([float(row[1]), float(row[2])])
        assert train.classes[train.y[i]] == row[3]
    assert test.X.tolist() == [pytest.approx([0.4, 4.5])] and test.y.tolist() == [1]


def test_music_genre_song_without_features(music):
    write(music / "music_genre_gold.csv", GOLD.replace("jazz.00001.mp3", "jazz.00009.mp3"))
    with pytest.raises(InputError, match="music_genre_gold.csv: no row for song "
                                         "'jazz.00001.mp3'"):
        load_music_genre(music)


def test_music_genre_bad_feature_files(music):
    write(music / "music_genre_test.csv", "id,feature0,class\nx.mp3,1,rock\n")
    with pytest.raises(InputError, match="music_genre_test.csv: missing feature column "
                                         "'feature1'"):
        load_music_genre(music)
    write(music / "music_genre_gold.csv", GOLD.replace("0.2,2.5", "0.2,"))
    with pytest.raises(InputError, match="music_genre_gold.csv: line 3: missing value in "
                                         "column 'feature1'"):
        load_music_genre(music)
    write(music / "music_genre_gold.csv", GOLD + "rock.00002.mp3,1,1,rock\n")
    with pytest.raises(InputError, match="id 'rock.00002.mp3' appears twice"):
        load_music_genre(music)


# ---------------------------------------------------------------------- CIFAR-10N / 100N
def pt_file(path: Path, content: dict, name: str = "archive") -> Path:
    """A ``torch.save`` zip as in the release: ``<name>/data.pkl`` (protocol 2) holding numpy
    arrays, pickled under numpy 1 (``numpy.core``), and ``<name>/version``."""
    raw = pickle.dumps(content, protocol=2).replace(b"numpy._core.multiarray",
                                                    b"numpy.core.multiarray")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/data.pkl", raw)
        archive.writestr(f"{name}/version", "3\n")
    return path


CIFAR10N = {"clean_label": np.arange(20) % 10, "aggre_label": np.arange(20) % 10,
            "worse_label": (np.arange(20) + 1) % 10, "random_label1": np.arange(20) % 10,
            "random_label2": np.zeros(20, np.int64), "random_label3": np.full(20, 9)}


def test_cifar10n(tmp_path):
    pt_file(tmp_path / "CIFAR-10_human.pt", CIFAR10N)
    labels = load_cifar10n(tmp_path)
    assert list(labels.columns) == list(CIFAR10N) and labels.index.name == "image"
    assert (labels.dtypes == np.int64).all() and len(labels) == 20
    assert labels["worse_label"].tolist()[:3] == [1, 2, 3]
    assert load_cifar10n(tmp_path / "CIFAR-10_human.pt").equals(labels)


def test_cifar100n_with_lists(tmp_path):
    content = {"clean_label": np.arange(6) * 10, "noisy_label": np.arange(6) * 15,
               "clean_coarse_label": [0, 1, 2, 3, 4, 19], "noisy_coarse_label": [0] * 6}
    pt_file(tmp_path / "CIFAR-100_human.pt", content, name="CIFAR-100_human")
    labels = load_cifar100n(tmp_path / "CIFAR-100_human.pt")
    assert labels["clean_coarse_label"].dtype == np.int64
    assert labels["noisy_label"].tolist() == [0, 15, 30, 45, 60, 75]


def test_cifar10n_damaged(tmp_path):
    path = pt_file(tmp_path / "CIFAR-10_human.pt", CIFAR10N)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="CIFAR-10_human.pt: not a readable zip"):
        load_cifar10n(path)
    pt_file(path, {k: v for k, v in CIFAR10N.items() if k != "worse_label"})
    with pytest.raises(InputError, match="CIFAR-10_human.pt: no 'worse_label'"):
        load_cifar10n(path)
    pt_file(path, {**CIFAR10N, "worse_label": np.zeros(19, np.int64)})
    with pytest.raises(InputError, match="label arrays of different lengths"):
        load_cifar10n(path)
    pt_file(path, {**CIFAR10N, "worse_label": np.zeros(20)})
    with pytest.raises(InputError, match="'worse_label' should hold integer labels"):
        load_cifar10n(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/version", "3\n")
    with pytest.raises(InputError, match="no data.pkl member"):
        load_cifar10n(path)


def test_cifar10n_not_found(tmp_path):
    with pytest.raises(InputError, match="CIFAR-10N not found \\(it needs CIFAR-10_human.pt\\)"):
        load_cifar10n(tmp_path)


# torch.save's own layout: tensors are persistent references to raw storages in data/<key>
def _torch_pickle(tensors: dict[str, tuple[str, int, tuple, tuple]],
                  extra_global: bytes = b"") -> bytes:
    """Protocol-2 opcodes as torch.save writes them for {name: tensor}: each tensor is
    ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``
    with ``storage`` the persistent id ``('storage', torch.LongStorage, key, 'cpu', numel)``."""
    def J(i):
        return b"J" + struct.pack("<i", i)

    def X(s):
        raw = s.encode()
        return b"X" + struct.pack("<I", len(raw)) + raw

    out = b"\x80\x02}("
    for name, (key, offset, size, stride) in tensors.items():
        numel = 10
        storage = (b"(" + X("storage") + b"ctorch\nLongStorage\n" + X(key) + X("cpu")
                   + J(numel) + b"tQ")
        out += (X(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + J(offset)
                + b"(" + b"".join(J(s) for s in size) + b"t"
                + b"(" + b"".join(J(s) for s in stride) + b"t"
                + b"\x89ccollections\nOrderedDict\n)Rt" + b"R")
    return out + extra_global + b"u."


def torch_pt(path: Path, data_pkl: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/data/0", np.arange(10, dtype="<i8").tobytes())
        archive.writestr("archive/version", "3\n")
    return path


def test_torch_tensors_are_read_without_torch(tmp_path):
    path = torch_pt(tmp_path / "t.pt", _torch_pickle({
        "whole": ("0", 0, (10,), (1,)),
        "every_other": ("0", 1, (3,), (2,)),  # a view sharing the storage: 1, 3, 5
        "matrix": ("0", 2, (2, 3), (3, 1)),
    }))
    content = read_torch_pickle(path)
    assert content["whole"].tolist() == list(range(10))
    assert content["every_other"].tolist() == [1, 3, 5]
    assert content["matrix"].tolist() == [[2, 3, 4], [5, 6, 7]]
    assert content["whole"].dtype == np.int64


def test_torch_tensor_past_its_storage(tmp_path):
    path = torch_pt(tmp_path / "t.pt", _torch_pickle({"bad": ("0", 5, (4,), (2,))}))
    with pytest.raises(InputError, match="t.pt: a tensor of shape \\(4,\\) reaches past its "
                                         "storage"):
        read_torch_pickle(path)


def test_other_torch_objects_need_torch(tmp_path):
    module = b"X\x01\x00\x00\x00mctorch.nn.modules.linear\nLinear\n)R"
    path = torch_pt(tmp_path / "m.pt", _torch_pickle({}, extra_global=module))
    with pytest.raises(InputError, match="m.pt: holds a torch object "
                                         "\\(torch.nn.modules.linear.Linear\\) that cannot be "
                                         "read without torch"):
        read_torch_pickle(path)


def test_cifar10n_annotations_use_the_side_info_workers(tmp_path):
    pt_file(tmp_path / "CIFAR-10_human.pt", CIFAR10N)
    write(tmp_path / "side_info_cifar10N.csv",
          "Image-batch,Worker1-id,Work-time-in-seconds-1,Worker2-id,Work-time-in-seconds-2,"
          "Worker3-id,Work-time-in-seconds-3\n0--9,198,25,385,40,197,21\n10--19,7,46,198,27,5,9\n")
    ann = cifar10n_annotations(tmp_path)
    assert (len(ann), ann.n_tasks, ann.n_classes) == (60, 20, 10)
    frame = ann.to_frame()
    assert sorted(frame["worker"].unique().tolist()) == [5, 7, 197, 198, 385]
    by_198 = frame[frame["worker"] == 198].set_index("task")["label"]
    assert by_198[3] == 3 and by_198[12] == 0  # random_label1 on 0..9, random_label2 on 10..19
    assert (frame[frame["worker"] == 197]["label"] == 9).all()


def test_cifar10n_annotations_bad_side_info(tmp_path):
    pt_file(tmp_path / "CIFAR-10_human.pt", CIFAR10N)
    side = write(tmp_path / "side.csv", "Image-batch,Worker1-id,Worker2-id,Worker3-id\n"
                                        "0--9,1,2,3\n10--29,1,2,3\n")
    with pytest.raises(InputError, match="side.csv: line 3: Image-batch '10--29' is not a "
                                         "range a--b of images 0..19"):
        cifar10n_annotations(tmp_path, side)
    write(side, "Image-batch,Worker1-id,Worker3-id\n0--9,1,3\n")
    with pytest.raises(InputError, match="side.csv: missing column 'Worker2-id'"):
        cifar10n_annotations(tmp_path, side)
    write(side, "Image-batch,Worker1-id,Worker2-id,Worker3-id\n0--9,1,2,3\n")  # truncated
    with pytest.raises(InputError, match="side.csv: its Image-batch ranges leave 10 of the 20 "
                                         "images without workers, from image 10"):
        cifar10n_annotations(tmp_path, side)
    write(side, "Image-batch,Worker1-id,Worker2-id,Worker3-id\n0--9,1,2,3\n5--19,4,5,6\n")
    with pytest.raises(InputError, match="side.csv: image 5 is in 2 Image-batch ranges "
                                         "\\(5 images in more than one\\)"):
        cifar10n_annotations(tmp_path, side)


def test_cifar100n_annotations(tmp_path):
    content = {"clean_label": np.arange(10), "noisy_label": np.arange(10) + 50,
               "clean_coarse_label": [0] * 10, "noisy_coarse_label": [1] * 10}
    pt_file(tmp_path / "CIFAR-100_human.pt", content)
    write(tmp_path / "side_info_cifar100N.csv",
          "Image-batch,Worker-id,Work-time-in-seconds\n0--4,514,113\n5--9,239,41\n")
    ann = cifar100n_annotations(tmp_path)
    assert (len(ann), ann.n_workers, ann.n_classes) == (10, 2, 100)
    assert ann.to_frame()["label"].tolist() == list(range(50, 60))


# ---------------------------------------------------------------------- the real files
def test_real_labelme():
    train, ann, valid, test = load_labelme(real_data("labelme_rodrigues2018"))
    assert train.X.shape == (1000, 512) and valid.X.shape == (500, 512)
    assert test.X.shape == (1188, 512) and train.classes == list(range(8))
    assert (len(ann), ann.n_workers) == (2547, 59)


def test_real_sentiment():
    train, ann, _, test = load_sentiment(real_data("sentiment_polarity_rodrigues2013"))
    assert (len(train), len(test), len(ann), ann.n_workers) == (4999, 3999, 27746, 203)
    assert train.X[0].startswith("the cast is phenomenal")
    assert np.bincount(train.y).tolist() == [2497, 2502]


def test_real_music_genre():
    train, ann, _, test = load_music_genre(real_data("music_genre_rodrigues2013"))
    assert train.X.shape == (700, 124) and test.X.shape == (300, 124)
    assert (len(ann), ann.n_workers, train.n_classes) == (2945, 44, 10)
    truth = pd.read_csv(real_data("music_genre_rodrigues2013") / "mturk_answers.csv")
    truth = truth.drop_duplicates("Input.song").set_index("Input.song")["Input.true_label"]
    named = np.asarray(train.classes, dtype=object)[train.y]
    assert (named == truth.reindex(ann.tasks).to_numpy()).all()


def test_real_cifar10n_and_100n():
    labels = load_cifar10n(real_data("cifar10n"))
    assert labels.shape == (50000, 6)
    agree = (labels["aggre_label"] == labels["clean_label"]).mean()
    assert agree == pytest.approx(0.9099, abs=1e-4)
    ann = cifar10n_annotations(real_data("cifar10n"))
    assert (len(ann), ann.n_workers) == (150000, 747)
    hundred = load_cifar100n(real_data("cifar100n"))
    assert hundred.shape == (50000, 4) and hundred["noisy_coarse_label"].max() == 19
