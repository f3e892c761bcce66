"""Whole public crowd datasets: the items' features (or texts), the crowd's answers and the
held-out splits, read from the folders of their releases (nothing is downloaded).

A loader returns :class:`CrowdData`: ``train`` holds the items the crowd answered, row ``i``
being task ``annotations.tasks[i]``, with the gold labels as ``y``; ``annotations`` and every
split share one class list, so label codes mean the same everywhere. The CIFAR-10N/100N files
hold labels only (the images are CIFAR's own training set, in its order).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from crowdlearn.annotations import Annotations
from crowdlearn.datasets.cifar import SafeUnpickler, unpickle
from crowdlearn.datasets.crowds import (
    _as_int_if_whole,
    _load_gold_column,
    _read_csv,
    read_music_mturk,
    read_wide_answers,
)
from crowdlearn.datasets.dataset import Dataset, codes_of, find_data_folder
from crowdlearn.datasets.images import _numeric_matrix
from crowdlearn.errors import InputError
from crowdlearn.inputs import read_file

__all__ = ["CIFAR10N_COLUMNS", "CIFAR100N_COLUMNS", "CrowdData", "cifar100n_annotations",
           "cifar10n_annotations", "load_cifar100n", "load_cifar10n", "load_labelme",
           "load_music_genre", "load_sentiment", "read_torch_pickle"]

CIFAR10N_COLUMNS = ("clean_label", "aggre_label", "worse_label", "random_label1",
                    "random_label2", "random_label3")
CIFAR100N_COLUMNS = ("clean_label", "noisy_label", "clean_coarse_label", "noisy_coarse_label")


class CrowdData(NamedTuple):
    """A crowd dataset: the answered items, the answers, and the held-out splits.

    ``train.X[i]`` is the item of task ``annotations.tasks[i]`` and ``train.y`` its gold
    label; ``annotations.classes == train.classes`` (and the splits'). ``valid`` and ``test``
    are ``None`` when the release (or the user's copy) has no such split.
    """

    train: Dataset
    annotations: Annotations
    valid: Dataset | None
    test: Dataset | None


# ---------------------------------------------------------------------- LabelMe
def load_labelme(folder: str | Path | None = None) -> CrowdData:
    """LabelMe scenes (Rodrigues & Pereira, AAAI 2018): 1,000 train images answered by 59
    workers (``answers.txt``, -1 = no answer), 500 valid and 1,188 test images; 8 classes
    0..7 as in the files. ``X`` are the release's 512-d VGG16 features
    (``LabelMe_VGG_avg_{train,valid,test}.npy``), gold in ``LabelMe_Z_{split}.txt``.

    ``folder`` defaults to ``$CROWDLEARN_DATA/labelme_rodrigues2018``.
    """
    needed = ("answers.txt", "LabelMe_Z_train.txt", "LabelMe_VGG_avg_train.npy")
    root = _locate("LabelMe", folder, "labelme_rodrigues2018", needed)
    ann, gold = read_wide_answers(root / "answers.txt", root / "LabelMe_Z_train.txt")
    X = _features_npy(root / "LabelMe_VGG_avg_train.npy", ann.n_tasks, root / "answers.txt")
    splits = {s: _npy_split(root / f"LabelMe_VGG_avg_{s}.npy", root / f"LabelMe_Z_{s}.txt")
              for s in ("valid", "test")}
    return _assemble("labelme", ann, X, gold, root / "LabelMe_Z_train.txt", splits)


# ---------------------------------------------------------------------- sentiment
def load_sentiment(folder: str | Path | None = None) -> CrowdData:
    """Sentence polarity (Rodrigues, Pereira & Ribeiro 2013): 4,999 movie-review sentences
    answered by 203 workers (``answers.txt``, -1 = no answer), 3,999 test sentences; classes
    0/1 as in the files. ``X`` is the raw sentences as a 1-D object array (one per line of
    ``Sentiment_text_{train,test}.txt``): turning them into features is the user's choice.
    """
    needed = ("answers.txt", "Sentiment_Z_train.txt", "Sentiment_text_train.txt")
    root = _locate("Sentiment polarity", folder, "sentiment_polarity_rodrigues2013", needed)
    ann, gold = read_wide_answers(root / "answers.txt", root / "Sentiment_Z_train.txt")
    texts = _texts(root / "Sentiment_text_train.txt", ann.n_tasks, root / "answers.txt")
    test = _pair(root / "Sentiment_text_test.txt", root / "Sentiment_Z_test.txt", _texts)
    return _assemble("sentiment", ann, texts, gold, root / "Sentiment_Z_train.txt",
                     {"valid": None, "test": test})


# ---------------------------------------------------------------------- music genre
def load_music_genre(folder: str | Path | None = None) -> CrowdData:
    """Music genre (Rodrigues et al. 2013, GTZAN clips): 700 songs answered by 44 workers
    (``mturk_answers.csv``), 300 test songs; 10 genres named as in the files. ``X`` are the
    124 audio features of ``music_genre_gold.csv`` (train, matched to the answers by
    ``id`` = ``Input.song``) and ``music_genre_test.csv``; gold is their ``class`` column.
    Songs of the gold file that no worker answered are left out of ``train``.
    """
    needed = ("mturk_answers.csv", "music_genre_gold.csv")
    root = _locate("Music genre", folder, "music_genre_rodrigues2013", needed)
    ann, _ = read_music_mturk(root / "mturk_answers.csv")
    gold_path = root / "music_genre_gold.csv"
    ids, X_all, labels = _feature_table(gold_path)
    rows = pd.Index(ids).get_indexer(ann.tasks)
    if (rows < 0).any():
        missing = ann.tasks[int(np.flatnonzero(rows < 0)[0])]
        raise InputError(f"{gold_path}: no row for song {missing!r}, which the crowd answered "
                         f"in {root / 'mturk_answers.csv'}")
    gold = pd.Series(labels[rows], index=pd.Index(ann.tasks))
    test_path = root / "music_genre_test.csv"
    test = None
    if test_path.exists():
        _, X_test, y_test = _feature_table(test_path, columns=X_all.columns)
        test = (X_test.to_numpy(), y_test)
    return _assemble("music_genre", ann, X_all.to_numpy()[rows], gold, gold_path,
                     {"valid": None, "test": test})


# ---------------------------------------------------------------------- CIFAR-10N / 100N
def load_cifar10n(path: str | Path | None = None) -> pd.DataFrame:
    """CIFAR-10N (Wei et al., ICLR 2022): human labels of the 50,000 CIFAR-10 training
    images, one row per image in CIFAR's order, int64 columns :data:`CIFAR10N_COLUMNS`
    (``random_label1..3`` are three annotators' labels, ``aggre_label`` their majority,
    ``worse_label`` a wrong one where any is wrong, ``clean_label`` CIFAR's own).

    ``path`` is ``CIFAR-10_human.pt`` or its folder (default: ``$CROWDLEARN_DATA/cifar10n``).
    Read without torch.
    """
    return _label_file("CIFAR-10N", path, "cifar10n", "CIFAR-10_human.pt", CIFAR10N_COLUMNS)


def load_cifar100n(path: str | Path | None = None) -> pd.DataFrame:
    """CIFAR-100N: one annotator's label of each of the 50,000 CIFAR-100 training images,
    int64 columns :data:`CIFAR100N_COLUMNS` (fine labels 0..99, coarse labels 0..19).

    ``path`` is ``CIFAR-100_human.pt`` or its folder (default:
    ``$CROWDLEARN_DATA/cifar100n``). Read without torch.
    """
    return _label_file("CIFAR-100N", path, "cifar100n", "CIFAR-100_human.pt", CIFAR100N_COLUMNS)


def cifar10n_annotations(path: str | Path | None = None,
                         side_info: str | Path | None = None) -> Annotations:
    """CIFAR-10N's three answers per image as crowd answers with the real (anonymised) worker
    ids of ``side_info_cifar10N.csv`` (``Image-batch`` such as ``0--9``, ``Worker1-id`` ..
    ``Worker3-id`` for ``random_label1..3``). Tasks are image indices, classes 0..9.

    ``side_info`` defaults to ``side_info_cifar10N.csv`` beside the ``.pt`` file.
    """
    pt = _label_path("CIFAR-10N", path, "cifar10n", "CIFAR-10_human.pt")
    labels = load_cifar10n(pt)
    slots = [(f"Worker{k}-id", f"random_label{k}") for k in (1, 2, 3)]
    return _side_info_annotations(labels, Path(side_info or pt.parent / "side_info_cifar10N.csv"),
                                  slots, 10)


def cifar100n_annotations(path: str | Path | None = None,
                          side_info: str | Path | None = None) -> Annotations:
    """CIFAR-100N's one answer per image (``noisy_label``) with the worker ids of
    ``side_info_cifar100N.csv`` (``Image-batch``, ``Worker-id``). Tasks are image indices,
    classes 0..99. ``side_info`` defaults to the file beside the ``.pt`` file.
    """
    pt = _label_path("CIFAR-100N", path, "cifar100n", "CIFAR-100_human.pt")
    labels = load_cifar100n(pt)
    return _side_info_annotations(labels, Path(side_info or pt.parent / "side_info_cifar100N.csv"),
                                  [("Worker-id", "noisy_label")], 100)


# ---------------------------------------------------------------------- assembling
Split = tuple[np.ndarray, np.ndarray]  # items and their original labels


def _locate(what: str, folder: str | Path | None, subfolder: str,
            needed: Sequence[str]) -> Path:
    return find_data_folder(what, folder, subfolder,
                            lambda f: all((f / n).is_file() for n in needed),
                            needs=", ".join(needed))


def _assemble(name: str, ann: Annotations, X: np.ndarray, gold: pd.Series, gold_path: Path,
              splits: dict[str, Split | None]) -> CrowdData:
    """Datasets over one class list (every label seen anywhere, sorted) and annotations
    re-coded to it when they saw fewer classes."""
    held = {s: v for s, v in splits.items() if v is not None}
    seen = set(ann.classes) | set(gold.tolist())
    for _, y in held.values():
        seen |= set(y.tolist())
    classes = sorted(seen)
    if ann.classes != classes:
        rebuilt = Annotations.from_frame(ann.to_frame(), classes=classes)
        X = X[pd.Index(ann.tasks).get_indexer(rebuilt.tasks)]  # keep row i = task i
        ann = rebuilt
    known = gold.reindex(pd.Index(ann.tasks))
    if known.isna().any():
        task = known.index[int(np.flatnonzero(known.isna().to_numpy())[0])]
        raise InputError(f"{gold_path}: no gold label for task {task!r}")
    y, _ = codes_of(known.to_numpy(), classes)
    out = {s: Dataset(X_s, codes_of(y_s, classes)[0], classes, f"{name}-{s}")
           for s, (X_s, y_s) in held.items()}
    return CrowdData(Dataset(X, y, classes, f"{name}-train"), ann, out.get("valid"),
                     out.get("test"))


def _pair(items: Path, gold: Path, read_items) -> Split | None:
    """A held-out split from its items and gold files; None when both are absent."""
    if not items.exists() and not gold.exists():
        return None
    for present, absent in ((items, gold), (gold, items)):
        if present.exists() and not absent.exists():
            raise InputError(f"{absent}: no such file (needed with {present.name})")
    y = _as_int_if_whole(read_file(gold, _load_gold_column))
    if y.dtype.kind == "f":
        raise InputError(f"{gold}: gold labels must be whole class ids (no missing values)")
    return read_items(items, len(y), gold), y


def _npy_split(features: Path, gold: Path) -> Split | None:
    return _pair(features, gold, _features_npy)


def _features_npy(path: Path, n: int, other: Path) -> np.ndarray:
    """An ``n × D`` float32 feature matrix from a ``.npy`` file."""
    def parse(p: Path) -> np.ndarray:
        values = np.load(p, allow_pickle=False)
        if values.ndim != 2 or not np.issubdtype(values.dtype, np.number):
            raise InputError(f"{p}: expected a 2-D numeric items × features array, got "
                             f"shape {values.shape} of {values.dtype}")
        return values.astype(np.float32, copy=False)

    X = read_file(path, parse)
    if len(X) != n:
        raise InputError(f"{path}: {len(X)} rows but {other.name} has {n} items")
    return X


def _texts(path: Path, n: int, other: Path) -> np.ndarray:
    """One text a line (UTF-8), exactly ``n`` of them, as a 1-D object array."""
    def parse(p: Path) -> list[str]:
        text = p.read_text(encoding="utf-8")
        return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]

    lines = read_file(path, parse)
    if len(lines) != n:
        raise InputError(f"{path}: {len(lines)} lines but {other.name} has {n} items")
    out = np.empty(n, dtype=object)
    out[:] = lines
    return out


def _feature_table(path: Path, columns: pd.Index | None = None,
                   ) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """(ids, numeric features, labels) of a CSV with ``id``, feature columns and ``class``;
    ``columns`` forces the feature columns (the test file must match the train file's)."""
    frame = _read_csv(path, ("id", "class"))
    for column in ("id", "class"):
        if frame[column].isna().any():
            line = int(np.flatnonzero(frame[column].isna().to_numpy())[0]) + 2
            raise InputError(f"{path}: line {line}: missing value in column {column!r}")
    if frame["id"].duplicated().any():
        raise InputError(f"{path}: id {frame['id'][frame['id'].duplicated()].iloc[0]!r} "
                         "appears twice")
    features = frame.drop(columns=["id", "class"])
    if columns is not None:
        missing = [c for c in columns if c not in features.columns]
        if missing:
            raise InputError(f"{path}: missing feature column {missing[0]!r}")
        features = features[columns]
    X = pd.DataFrame(_numeric_matrix(features, path, csv=True), columns=features.columns)
    return frame["id"].to_numpy(), X, _as_int_if_whole(frame["class"].to_numpy())


# ---------------------------------------------------------------------- torch .pt without torch
_STORAGE_DTYPES = {"DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
                   "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
                   "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?"}


class _StorageType:
    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _TorchZipUnpickler(SafeUnpickler):
    """Reads the ``data.pkl`` of a ``torch.save`` zip: tensors become numpy arrays (their
    bytes are the archive's ``data/<key>`` members); any other torch object is refused."""

    def __init__(self, file, *, archive: zipfile.ZipFile, prefix: str, **kwargs: Any):
        super().__init__(file, **kwargs)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._rebuild_tensor
        if module.split(".")[0] == "torch":
            raise InputError(f"{self.source}: holds a torch object ({module}.{name}) that "
                             "cannot be read without torch; load it with torch.load")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise InputError(f"{self.source}: unsupported torch storage reference {pid!r}")
        storage_type, key, numel = pid[1], pid[2], int(pid[4])
        raw = self.archive.read(f"{self.prefix}data/{key}")
        if len(raw) < numel * storage_type.dtype.itemsize:
            raise InputError(f"{self.source}: storage {key} holds {len(raw)} bytes, fewer "
                             f"than its {numel} {storage_type.name} elements")
        return np.frombuffer(raw, storage_type.dtype, count=numel)

    def _rebuild_tensor(self, storage: np.ndarray, offset: int, size: Sequence[int],
                        stride: Sequence[int], *_: Any) -> np.ndarray:
        """What ``torch._utils._rebuild_tensor_v2`` builds, as a numpy array (a copy)."""
        size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
        spans = [(n - 1) * st for n, st in zip(size, stride, strict=True)]
        last = offset + sum(spans) if all(size) else -1  # the last element read
        if offset < 0 or last >= len(storage) or min(stride, default=0) < 0:
            raise InputError(f"{self.source}: a tensor of shape {size} reaches past its "
                             f"storage ({len(storage)} elements)")
        view = np.lib.stride_tricks.as_strided(storage[offset:], size,
                                               tuple(st * storage.itemsize for st in stride),
                                               writeable=False)
        return view.astype(storage.dtype.newbyteorder("="), copy=True)


def read_torch_pickle(path: str | Path) -> Any:
    """The object in a ``torch.save`` zip file, read without torch: plain containers, numpy
    arrays, and tensors as numpy arrays. A damaged or truncated file is an InputError."""
    def parse(p: Path) -> Any:
        with zipfile.ZipFile(p) as archive:
            members = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if not members:
                raise InputError(f"{p}: no data.pkl member: not a torch.save zip file")
            name = members[0]
            return unpickle(p, archive.read(name), unpickler=_TorchZipUnpickler,
                            archive=archive, prefix=name[: -len("data.pkl")])

    return read_file(path, _zip_errors(parse))


def _zip_errors(parse):
    def run(p: Path) -> Any:
        try:
            return parse(p)
        except zipfile.BadZipFile as exc:  # also truncated archives
            raise InputError(f"{p}: not a readable zip (torch .pt) file: {exc}") from None
    return run


def _label_path(what: str, path: str | Path | None, subfolder: str, filename: str) -> Path:
    if path is not None and Path(path).is_file():
        return Path(path)
    folder = find_data_folder(what, path, subfolder, lambda f: (f / filename).is_file(),
                              needs=filename)
    return folder / filename


def _label_file(what: str, path: str | Path | None, subfolder: str, filename: str,
                columns: Sequence[str]) -> pd.DataFrame:
    pt = _label_path(what, path, subfolder, filename)
    content = read_torch_pickle(pt)
    if not isinstance(content, dict):
        raise InputError(f"{pt}: expected a dict of label arrays, got {type(content).__name__}")
    missing = [c for c in columns if c not in content]
    if missing:
        raise InputError(f"{pt}: no {missing[0]!r}; entries found: "
                         f"{', '.join(map(repr, content))}")
    out = {}
    for column in columns:
        try:
            values = np.asarray(content[column]).reshape(-1)
        except (TypeError, ValueError):
            raise InputError(f"{pt}: {column!r} is not an array of labels") from None
        if not np.issubdtype(values.dtype, np.integer):
            raise InputError(f"{pt}: {column!r} should hold integer labels, got {values.dtype}")
        out[column] = values.astype(np.int64, copy=False)
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise InputError(f"{pt}: label arrays of different lengths "
                         f"({', '.join(f'{c}: {len(v)}' for c, v in out.items())})")
    frame = pd.DataFrame(out)
    frame.index.name = "image"
    return frame


def _side_info_annotations(labels: pd.DataFrame, side_info: Path,
                           slots: Sequence[tuple[str, str]], n_classes: int) -> Annotations:
    """Answers from per-batch worker ids: each row of ``side_info`` gives an image range
    ``a--b`` and, per slot, the worker whose labels are that slot's label column."""
    frame = _read_csv(side_info, ["Image-batch", *(w for w, _ in slots)])
    bounds = frame["Image-batch"].astype(str).str.extract(r"^\s*(\d+)\s*--\s*(\d+)\s*$")
    bad = bounds.isna().any(axis=1).to_numpy()
    start = pd.to_numeric(bounds[0]).to_numpy()
    end = pd.to_numeric(bounds[1]).to_numpy()
    bad = bad | (~bad & ((end < start) | (end >= len(labels))))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{side_info}: line {i + 2}: Image-batch "
                         f"{frame['Image-batch'].iloc[i]!r} is not a range a--b of images "
                         f"0..{len(labels) - 1}")
    start, end = start.astype(np.int64), end.astype(np.int64)
    lengths = end - start + 1
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    images = np.repeat(start, lengths) + np.arange(lengths.sum()) - offsets
    _check_covered(images, len(labels), side_info)
    parts = []
    for worker_column, label_column in slots:
        workers = frame[worker_column]
        if workers.isna().any():
            line = int(np.flatnonzero(workers.isna().to_numpy())[0]) + 2
            raise InputError(f"{side_info}: line {line}: missing {worker_column}")
        parts.append(pd.DataFrame({"task": images,
                                   "worker": np.repeat(workers.to_numpy(), lengths),
                                   "label": labels[label_column].to_numpy()[images]}))
    answers = pd.concat(parts, ignore_index=True)
    return Annotations.from_frame(answers, classes=list(range(n_classes)),
                                  source=str(side_info))


def _check_covered(images: np.ndarray, n_images: int, side_info: Path) -> None:
    """Every image in exactly one batch of ``side_info``: a truncated or repeated file would
    otherwise drop images or give a worker two answers to one without a word."""
    counts = np.bincount(images, minlength=n_images)
    if (counts == 1).all():
        return
    lacking, twice = np.flatnonzero(counts == 0), np.flatnonzero(counts > 1)
    if len(twice):
        raise InputError(f"{side_info}: image {int(twice[0])} is in {int(counts[twice[0]])} "
                         f"Image-batch ranges ({len(twice)} images in more than one)")
    raise InputError(f"{side_info}: its Image-batch ranges leave {len(lacking)} of the "
                     f"{n_images} images without workers, from image {int(lacking[0])} (a "
                     "truncated file?)")
