"""Readers for the file layouts of public crowdsourcing datasets.

Each reader takes paths to files the user already has (nothing is downloaded) and returns
``(annotations, gold)``: the crowd answers as :class:`~crowdlearn.Annotations` and the known
true labels as a Series (task id -> label). ``gold`` holds only answered tasks whose gold is
known, so it can be compared with any aggregator's ``predict()`` or passed back as ``gold=``.
A missing, corrupt or misshapen file is an :class:`~crowdlearn.errors.InputError` naming it.
"""

from __future__ import annotations

import tarfile
import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.inputs import read_file

__all__ = ["read_answer_truth", "read_music_mturk", "read_snow2008", "read_wide_answers",
           "read_zhou_mat"]

Crowd = tuple[Annotations, pd.Series]


# ---------------------------------------------------------------------- readers
def read_answer_truth(answer_csv: str | Path, truth_csv: str | Path) -> Crowd:
    """The benchmark layout of Zheng et al. (PVLDB 2017): ``answer.csv`` with columns
    ``question,worker,answer`` and ``truth.csv`` with ``question,truth``.

    Question and worker ids are kept as text so that both files' ids always match.
    """
    ids = {"question": str, "worker": str}
    answers = _read_csv(answer_csv, ("question", "worker", "answer"), dtype=ids)
    ann = Annotations.from_frame(answers, "question", "worker", "answer",
                                 source=f"{answer_csv} (csv)")
    truth = _read_csv(truth_csv, ("question", "truth"), dtype={"question": str})
    # a question listed twice must carry one truth (the same check as Snow's repeated gold)
    return ann, _gold(ann, *_per_item_gold(truth, "question", "truth", f"{truth_csv} (csv)"))


def read_snow2008(tgz_path: str | Path, task: str) -> Crowd:
    """One task of Snow et al. (EMNLP 2008), ``all_collected_data.tgz``: the tab-separated
    member ``<task>.standardized.tsv`` (e.g. ``rte``, ``temp``, ``wsd``), read straight from
    the archive. Items are ``orig_id``, workers ``!amt_worker_ids``, answers ``response``;
    ``gold`` is repeated on every row of an item.
    """
    path = Path(tgz_path)
    name = f"{task}.standardized.tsv"
    frame = read_file(path, lambda p: _read_tar_member(p, name))
    source = f"{path}[{name}]"
    _require_columns(frame, ("!amt_worker_ids", "orig_id", "response", "gold"), source)
    ann = Annotations.from_frame(frame, "orig_id", "!amt_worker_ids", "response", source=source)
    return ann, _gold(ann, *_per_item_gold(frame, "orig_id", "gold", source))


def read_zhou_mat(mat_path: str | Path) -> Crowd:
    """The MATLAB layout of Zhou et al. (NIPS 2012), e.g. ``web_processed_data.mat``:
    struct ``Model`` with ``L`` (items × workers, sparse or dense, 0 = no label) and
    ``true_labels`` (one per item, NaN where unknown). Items and workers are the 0-based row
    and column numbers of ``L``; labels are kept as in the file (1..K).
    """
    path = Path(mat_path)
    model = read_file(path, _load_mat_model)
    for field in ("L", "true_labels"):
        if field not in model:
            raise InputError(f"{path}: the 'Model' struct has no field {field!r}; "
                             f"fields found: {', '.join(map(repr, model))}")
    matrix = sp.coo_array(sp.csr_array(model["L"]))  # row-major order: tasks come sorted
    frame = pd.DataFrame({"task": matrix.row, "worker": matrix.col,
                          "label": _as_int_if_whole(matrix.data)})
    frame = frame[frame["label"] != 0]
    ann = Annotations.from_frame(frame, source=str(path))
    truth = np.asarray(model["true_labels"], dtype=np.float64).reshape(-1)
    if len(truth) != matrix.shape[0]:
        raise InputError(f"{path}: true_labels has {len(truth)} entries but L has "
                         f"{matrix.shape[0]} rows")
    return ann, _gold(ann, np.arange(len(truth)), truth)


def read_wide_answers(answers_txt: str | Path, gold_txt: str | Path,
                      missing: int = -1) -> Crowd:
    """A whitespace-separated integer matrix, items × workers with ``missing`` where a worker
    gave no label (LabelMe and Sentiment ``answers.txt`` of Rodrigues et al.), and a gold file
    with one class per line in the same item order (``*_Z_train.txt``). Items and workers are
    the 0-based row and column numbers.
    """
    answers_path, gold_path = Path(answers_txt), Path(gold_txt)
    matrix = read_file(answers_path, _load_int_matrix)
    ann = Annotations.from_wide(matrix, missing=missing, source=str(answers_path))
    truth = read_file(gold_path, _load_gold_column)
    if len(truth) != matrix.shape[0]:
        raise InputError(f"{gold_path}: {len(truth)} gold labels but {answers_path} has "
                         f"{matrix.shape[0]} rows")
    return ann, _gold(ann, np.arange(len(truth)), truth)


def read_music_mturk(csv_path: str | Path) -> Crowd:
    """The music-genre answers of Rodrigues et al. (2013), ``mturk_answers.csv`` with columns
    ``WorkerID,Input.song,Input.true_label,Answer.pred_label`` (old-Mac ``\\r`` line endings
    are fine). Items are songs; gold is ``Input.true_label``.
    """
    columns = ("WorkerID", "Input.song", "Input.true_label", "Answer.pred_label")
    frame = _read_csv(csv_path, columns)
    source = f"{csv_path} (csv)"
    ann = Annotations.from_frame(frame, "Input.song", "WorkerID", "Answer.pred_label",
                                 source=source)
    return ann, _gold(ann, *_per_item_gold(frame, "Input.song", "Input.true_label", source))


# ---------------------------------------------------------------------- file access
def _read_csv(path: str | Path, columns: Sequence[str], **kwargs) -> pd.DataFrame:
    path = Path(path)
    frame = read_file(path, lambda p: pd.read_csv(p, **kwargs))
    _require_columns(frame, columns, str(path))
    return frame


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{source}: missing column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(map(repr, missing))}; columns found: "
                         f"{', '.join(map(repr, frame.columns))}")


def _read_tar_member(path: Path, name: str) -> pd.DataFrame:
    """Read the tab-separated member called ``name`` (in any folder) without extracting."""
    with tarfile.open(path) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
        found = [m for m in members if PurePosixPath(m.name).name == name]
        if not found:
            tasks = sorted(PurePosixPath(m.name).name.removesuffix(".standardized.tsv")
                           for m in members if m.name.endswith(".standardized.tsv"))
            raise InputError(f"{path}: no member {name!r}; tasks found: "
                             f"{', '.join(tasks) or 'none'}")
        with archive.extractfile(found[0]) as fh:
            return pd.read_csv(fh, sep="\t")


def _load_mat_model(path: Path) -> dict:
    """The fields of the ``Model`` struct of a MATLAB file, as a dict."""
    import scipy.io

    content = scipy.io.loadmat(path)
    if "Model" not in content:
        names = [k for k in content if not k.startswith("__")]
        raise InputError(f"{path}: no variable 'Model'; variables found: "
                         f"{', '.join(map(repr, names)) or 'none'}")
    struct = content["Model"]
    if struct.dtype.names is None or struct.size == 0:
        raise InputError(f"{path}: 'Model' is not a MATLAB struct")
    record = struct.reshape(-1)[0]
    return {name: record[name] for name in struct.dtype.names}


def _load_int_matrix(path: Path) -> np.ndarray:
    with warnings.catch_warnings():  # an empty file is reported below, not warned about
        warnings.simplefilter("ignore", UserWarning)
        matrix = np.loadtxt(path, dtype=np.int64, ndmin=2)
    if matrix.size == 0:
        raise InputError(f"{path}: the file holds no numbers")
    return matrix


def _load_gold_column(path: Path) -> np.ndarray:
    """One gold class a line; ``nan`` marks an unknown one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    if values.shape[1] != 1:
        raise InputError(f"{path}: expected one gold label per line, found "
                         f"{values.shape[1]} columns")
    return values[:, 0]


# ---------------------------------------------------------------------- gold
def _per_item_gold(frame: pd.DataFrame, item: str, gold: str,
                   source: str) -> tuple[pd.Series, pd.Series]:
    """Items and their gold from a table repeating the gold on each row of an item; the
    copies must agree."""
    rows = frame[[item, gold]].dropna()
    n_values = rows.groupby(item, sort=False)[gold].nunique()
    conflicting = n_values[n_values > 1]
    if len(conflicting):
        bad = conflicting.index.tolist()[0]  # tolist: plain Python ids for the message
        raise InputError(f"{source}: item {bad!r} has {int(conflicting.iloc[0])} different "
                         f"values in column {gold!r}")
    first = rows.drop_duplicates(subset=item)
    return first[item], first[gold]


def _gold(ann: Annotations, items: Sequence[Hashable] | np.ndarray | pd.Series,
          labels: np.ndarray | pd.Series) -> pd.Series:
    """Gold as a Series indexed by task id, restricted to answered tasks with a known label;
    whole-number floats (NaN-padded columns) become integers like the answers."""
    values = labels.array if isinstance(labels, pd.Series) else np.asarray(labels)
    gold = pd.Series(values, index=pd.Index(items), name="gold")
    gold = gold[gold.notna().to_numpy() & gold.index.isin(ann.tasks)]
    gold = gold[~gold.index.duplicated(keep="first")]
    gold.index.name = "task"
    if gold.dtype.kind == "f":
        gold = gold.astype(_as_int_if_whole(gold.to_numpy()).dtype)
    return gold


def _as_int_if_whole(values: np.ndarray) -> np.ndarray:
    """Integer copy of a float array whose values are all whole numbers; else unchanged."""
    whole = values.dtype.kind == "f" and np.isfinite(values).all()
    if whole and (values == np.round(values)).all():
        return values.astype(np.int64)
    return values
