"""What the methods that train a network directly on the crowd's answers share (Max-MIG,
Crowd Layer, Doctor Net, AggNet): each training item's answers, looked up by the item's
position in a minibatch, and the confusions measured against the soft majority vote that
several of them start from (as in the Max-MIG code of Cao et al., ICLR 2019)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np
import torch
from torch import nn

from crowdlearn.aggregation import DawidSkene
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError
from crowdlearn.learners.base import Learner, Seeds
from crowdlearn.nn import Batch, Trainer


class CrowdAnswers:
    """The answers of the training items as padded item × slot tables (worker code, label
    code), so that a training step fetches its minibatch's answers from ``Batch.index``.

    Built once per fit; the tables are copied to a device the first time they are asked for
    there.
    """

    def __init__(self, workers: np.ndarray, labels: np.ndarray):
        self.workers, self.labels = workers, labels
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def of(cls, annotations: Annotations) -> CrowdAnswers:
        """The answers of every task, rows in task-code order."""
        return cls(*annotations.padded_answers())

    def __call__(self, index: torch.Tensor, n_workers: int, n_classes: int) -> torch.Tensor:
        """The answers on the items at ``index`` as a dense one-hot B × W × K tensor (all
        zeros where a worker did not answer). Dense products with it keep training
        bit-reproducible, which gathers with index-accumulating gradients are not."""
        device = index.device
        if device not in self._on:
            self._on[device] = (torch.as_tensor(self.workers, dtype=torch.long, device=device),
                                torch.as_tensor(self.labels, dtype=torch.long, device=device))
        workers, labels = (table[index] for table in self._on[device])
        filled = workers >= 0
        rows = torch.arange(len(index), device=device).unsqueeze(1).expand_as(workers)
        out = torch.zeros(len(index), n_workers, n_classes, device=device)
        out[rows[filled], workers[filled], labels[filled]] = 1.0
        return out


def full_precision(device: torch.device):
    """A context in which autocast is off: the crowd-side products and the losses built on
    them stay in float32 when the network runs in bfloat16 on CUDA."""
    return torch.autocast(device_type=device.type, enabled=False)


def answer_cross_entropy(logits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of per-annotator logits (B × W × K) over the answers given
    (``answers``: one-hot B × W × K, zero where an annotator did not answer)."""
    total = -(answers * torch.log_softmax(logits, dim=2)).sum()
    return total / answers.sum().clamp(min=1)


def fit_to_answers(learner: Learner, net: nn.Module, X: np.ndarray, annotations: Annotations,
                   annotator_logits: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                   ) -> Trainer:
    """Train ``net`` so that ``annotator_logits(net, x)`` (B × W × K) predicts every answer
    given on the items (Crowd Layer, Doctor Net), with the learner's training settings."""
    k, w = annotations.n_classes, annotations.n_workers
    answers = CrowdAnswers.of(annotations)

    def step(module: nn.Module, batch: Batch) -> torch.Tensor:
        return answer_cross_entropy(annotator_logits(module, batch.x),
                                    answers(batch.index, w, k))

    trainer = learner._trainer(learner._seed(Seeds.NETWORK), step=step)
    trainer.fit(net, X, soft_majority(annotations))
    return trainer


def soft_majority(annotations: Annotations,
                  answer_weight: np.ndarray | None = None) -> np.ndarray:
    """T × K vote shares of every task (the soft majority vote), each answer counted with its
    ``answer_weight`` (default 1)."""
    votes = (annotations.vote_counts if answer_weight is None
             else annotations.count_votes(answer_weight))
    return votes / votes.sum(axis=1, keepdims=True)


def group_shares(annotations: Annotations, groups: np.ndarray) -> np.ndarray:
    """Per answer, 1 / the number of workers of its group (``groups``: a code per worker)
    who answered the same task: the group's answers on a task weigh as one answer."""
    n_groups = int(groups.max()) + 1
    key = annotations.task.astype(np.int64) * n_groups + groups[annotations.worker]
    return 1.0 / np.bincount(key, minlength=annotations.n_tasks * n_groups)[key]


def confusion_against(annotations: Annotations, reference: np.ndarray,
                      smoothing: float = 0.0) -> np.ndarray:
    """W × K × K: ``T[w, c, j] = Σ_i s_i(c)·1[w answered j on i] / Σ_i s_i(c)·1[w answered i]``
    for reference distributions ``s`` (T × K) — one Dawid–Skene M-step; a true class a worker
    never met gets a uniform row."""
    model = DawidSkene(max_iter=1, smoothing=smoothing, prior="uniform", class_prior="uniform")
    return model.fit(annotations, init_posteriors=reference).confusion_


def answers_in_codes(annotations: Annotations, workers: Sequence[Hashable],
                     classes: Sequence[Hashable]) -> CrowdAnswers:
    """Answers given on new items (e.g. a test set) in a fitted model's worker and class
    codes, rows in task-code order. Workers or classes the model was not trained with are
    an error."""
    worker_code = {w: i for i, w in enumerate(workers)}
    unknown = [w for w in annotations.workers if w not in worker_code]
    if unknown:
        raise InputError(f"{len(unknown)} worker(s) did not answer during training, e.g. "
                         f"{unknown[0]!r}: the model has no weights for them")
    class_code = {c: i for i, c in enumerate(classes)}
    bad = [c for c in annotations.classes if c not in class_code]
    if bad:
        raise InputError(f"label {bad[0]!r} is not one of the classes the model was trained "
                         f"on: {list(classes)}")
    w_map = np.array([worker_code[w] for w in annotations.workers], dtype=np.int64)
    c_map = np.array([class_code[c] for c in annotations.classes], dtype=np.int64)
    w, lab = annotations.padded_answers()
    filled = w >= 0
    w = np.where(filled, w_map[np.maximum(w, 0)], -1)
    lab = np.where(filled, c_map[np.maximum(lab, 0)], -1)
    return CrowdAnswers(w, lab)
