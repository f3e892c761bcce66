"""Max-MIG (Cao, Xu, Kong & Wang, ICLR 2019; docs/methods.md §2.2).

A data classifier ``h(x)`` and a crowds aggregator ``g(y^[M]) = softmax(Σ_m W^m e(y^m) + log p)``
are trained together to maximise the f-mutual-information gain between their outputs on
minibatches (the paper's MIG^f loss). Under the assumption that ``x`` and the crowd's answers
share nothing but the true label, the maximiser is the pair of Bayes posteriors, whatever the
correlation between the experts: experts who carry no information (a constant answerer) cannot
raise the shared information, so — unlike a majority vote — their head count does not matter.

At test time ``h`` alone classifies new items; with the crowd's answers on them, the
data-crowds forecaster ``ζ(x, y) ∝ h(x) · g(y) / p`` uses both.
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from crowdlearn.aggregation.dawid_skene import answer_frequencies
from crowdlearn.annotations import Annotations
from crowdlearn.errors import InputError, check_fraction, check_integer
from crowdlearn.labels import plain
from crowdlearn.learners.base import (
    POSITIVE_INT,
    Learner,
    ModelSpec,
    Seeds,
    align_items,
    rows_of_tasks,
)
from crowdlearn.learners.crowd_answers import (
    CrowdAnswers,
    answers_in_codes,
    full_precision,
    group_shares,
    soft_majority,
)
from crowdlearn.nn import Batch
from crowdlearn.nn.pair import NetworkPair
from crowdlearn.params import Reals

DIVERGENCES = ("kl", "pearson", "js")


def f_mig(h: torch.Tensor, g: torch.Tensor, prior: torch.Tensor,
          divergence: str = "kl") -> torch.Tensor:
    """The f-mutual information gain MIG^f of a minibatch (Cao et al., ICLR 2019), to be
    maximised.

    ``h`` and ``g`` are B × K class distributions of the classifier and the aggregator on the
    same B items, ``prior`` the K-vector ``p``. With ``R_ij = Σ_c h_ic g_jc / p_c``, matched
    pairs (the diagonal) are rewarded through ``f'`` and mismatched ones penalised through
    ``f*(f')``: KL gives ``mean_i(1 + log R_ii) − mean_{i≠j} R_ij``.
    """
    b = h.shape[0]
    if b < 2:
        raise InputError("f-MIG needs at least two items per minibatch")
    r = (h / prior) @ g.T
    diag = r.diagonal()
    off = ~torch.eye(b, dtype=torch.bool, device=r.device)
    if divergence == "kl":
        return (1 + torch.log(diag + 1e-12)).mean() - r[off].mean()
    if divergence == "pearson":
        return (2 * (diag - 1)).mean() - (r[off] ** 2 - 1).mean()
    if divergence == "js":
        return (torch.log(2 * diag / (1 + diag) + 1e-12)).mean() \
            + torch.log(2 / (1 + r[off])).mean()
    raise InputError(f"divergence must be one of {', '.join(DIVERGENCES)}, got {divergence!r}")


class CrowdsAggregator(nn.Module):
    """``g(y^[M]) = softmax(Σ_G W^G ē_G + log p)``: one K × K weight matrix per group of
    experts (``W[G, c, j]`` ≈ log P(the group answers j | truth c)), ``ē_G`` the mean one-hot
    answer of the group's members who answered (a missing answer adds nothing). Without
    ``groups`` every expert is its own group, the paper's aggregator; a group of copies
    shares one matrix and counts once. The class prior ``p`` is fixed or learned (through
    softmax logits)."""

    def __init__(self, log_confusion: np.ndarray, prior: np.ndarray, learn_prior: bool,
                 groups: np.ndarray | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(log_confusion, dtype=torch.float32))
        n_groups = self.weight.shape[0]
        if groups is None or np.array_equal(groups, np.arange(n_groups)):  # no pooling
            self.n_workers = n_groups
            self.register_buffer("membership", None)
        else:
            self.n_workers = len(groups)
            self.register_buffer("membership", F.one_hot(torch.as_tensor(groups),
                                                         n_groups).float())
        logits = torch.as_tensor(np.log(prior), dtype=torch.float32)
        if learn_prior:
            self.prior_logits = nn.Parameter(logits)
        else:
            self.register_buffer("prior_logits", logits)

    def log_prior(self) -> torch.Tensor:
        return F.log_softmax(self.prior_logits, dim=0)

    def forward(self, answers: torch.Tensor) -> torch.Tensor:
        """Logits (B × K) of the aggregated label from one-hot answers (B × W × K)."""
        if self.membership is not None:
            pooled = torch.einsum("bwj,wg->bgj", answers, self.membership)
            answers = pooled / pooled.sum(dim=2, keepdim=True).clamp(min=1)
        return torch.einsum("bgj,gcj->bc", answers, self.weight) + self.log_prior()


class MaxMIG(Learner):
    """Max-MIG: a classifier and a crowds aggregator trained jointly by the f-MIG loss.

    Parameters
    ----------
    divergence:
        The f-divergence of the loss: ``"kl"`` (default), ``"pearson"`` or ``"js"``.
    prior:
        ``"fixed"`` (uniform ``p``, as in the paper's CIFAR-10 and LabelMe runs), ``"learned"``
        (trained with ``g``, from uniform) or a K-vector of fixed class probabilities.
    init_epsilon, init_scale:
        ``W^m`` starts at ``α · log(T^m + ε)`` with ``T^m`` expert m's (or its group's)
        confusion against the soft majority vote (the start of the authors' code: α = 1,
        ε = 1e-4, 1e-2 on LabelMe).
        A tempered start (α < 1) leaves a saturated ``g`` room to learn; no single α served
        every digits case (see docs/results.md), so the default is the paper's α = 1.
    copy_agreement, copy_min_shared:
        Experts who answered at least ``copy_min_shared`` items in common (default 50) and
        agree on at least ``copy_agreement`` of the items either answered are copies
        (:meth:`Annotations.copy_groups`; default 1.0: identical answers on identical items).
        A group of copies is one expert to ``g``: one weight matrix, started from the group's
        confusion, applied to the mean answer of the members who answered — the Bayes
        aggregator when copies repeat one expert. Without copy grouping
        (``copy_agreement=None``, the paper's start) copies dominate the soft vote, their summed
        weights saturate ``g``'s softmax on the copied answer, its gradient vanishes and it
        never learns to discount them (see Notes). Lower values also catch experts who copy
        most of the time and, where experts answer the same items, accurate independent
        experts, who then count as one.
    lr, aggregator_lr:
        Adam learning rates of ``h`` (``lr``) and ``g``.
    model, model_params, epochs, batch_size, optimizer, weight_decay, device, seed:
        The classifier and its training (see :class:`~crowdlearn.learners.base.Learner`).
        Minibatches shorter than ``batch_size`` are skipped (the loss's pairwise term
        assumes a fixed size).

    Attributes
    ----------
    model_ : the data classifier ``h``.  aggregator_ : the crowds aggregator ``g``.
    confusion_ : W × K × K, ``softmax`` along the answer axis of each expert's weights (its
        group's, for copies) — the answer distribution ``g`` implies for each true class.
    copy_groups_ : W-vector, the group of copies of each expert (its own, if none).
    class_prior_ : ``p`` at the end of training.  history_ : the Trainer's per-epoch records
        (``loss`` is −MIG).

    Notes
    -----
    The forecaster ``predict_proba(X, annotations)`` multiplies ``h`` by ``g``'s evidence,
    which is a sum over experts (over groups of copies, once found): it treats every other
    answer as independent evidence, so copies that were not found are counted again. With
    the paper's start (``copy_agreement=None``) a block of copies saturates ``g`` on the
    copied answer, and ``h`` and the forecaster follow the copied expert; grouping the copies
    (the default) avoids this. Near-copies (experts who copy most of the time and answer by
    themselves otherwise) are not found at the default ``copy_agreement=1.0`` and bring the
    failure back; a lower value such as 0.8 finds them. Measurements: docs/results.md and
    ``benchmarks/copied_crowds.py``. Where experts may copy each other, look at
    ``copy_groups_`` (or ``Annotations.copy_groups(min_agreement=...)``) before trusting the
    forecaster.
    """

    _defaults = {"epochs": 60}
    _parameter_constraints = {
        "divergence": [StrOptions(set(DIVERGENCES))],
        "prior": [StrOptions({"fixed", "learned"}), "array-like"],
        "init_epsilon": [Reals(0)],
        "init_scale": [Reals(0)],
        "copy_agreement": [Reals(0, 1, closed="right"), None],
        "copy_min_shared": [POSITIVE_INT],
        "aggregator_lr": [Reals(0)],
    }

    def __init__(self, model: ModelSpec = "mlp", *,
                 divergence: Literal["kl", "pearson", "js"] = "kl",
                 prior: Literal["fixed", "learned"] | np.ndarray = "fixed",
                 init_epsilon: float = 1e-4, init_scale: float = 1.0,
                 copy_agreement: float | None = 1.0, copy_min_shared: int = 50,
                 aggregator_lr: float = 1e-4, **training):
        self.model = model
        self.divergence = divergence
        self.prior = prior
        self.init_epsilon = init_epsilon
        self.init_scale = init_scale
        self.copy_agreement = copy_agreement
        self.copy_min_shared = copy_min_shared
        self.aggregator_lr = aggregator_lr
        self._set_training(training)

    def fit(self, X, annotations: Annotations) -> MaxMIG:
        X = align_items(X, annotations)
        k, w = annotations.n_classes, annotations.n_workers
        prior, learn = self._initial_prior(k)
        copies = self._copy_groups(annotations)
        soft, log_conf = initial_aggregator(annotations, copies, self.init_epsilon,
                                            self.init_scale)
        module = NetworkPair(self._fresh_model(X, k, salt=Seeds.NETWORK),
                                          CrowdsAggregator(log_conf, prior, learn, copies))
        answers = CrowdAnswers.of(annotations)
        divergence = self.divergence

        def step(net: NetworkPair, batch: Batch) -> torch.Tensor:
            logits = net.first(batch.x)
            with full_precision(batch.x.device):
                h = torch.softmax(logits.float(), dim=1)
                g = torch.softmax(net.second(answers(batch.index, w, k)), dim=1)
                return -f_mig(h, g, net.second.log_prior().exp(), divergence)

        def groups(net: NetworkPair) -> list[dict]:
            return [{"params": net.first.parameters(), "lr": self.lr},
                    {"params": net.second.parameters(), "lr": self.aggregator_lr}]

        trainer = self._trainer(self._seed(Seeds.NETWORK), step=step, param_groups=groups,
                                drop_last=True, batch_size=min(self.batch_size, len(X)))
        trainer.fit(module, X, soft)
        self.model_ = module.first
        self.aggregator_ = module.second
        self.confusion_ = torch.softmax(module.second.weight.detach(), dim=2).cpu().numpy()[copies]
        self.copy_groups_ = copies
        self.class_prior_ = module.second.log_prior().detach().exp().cpu().numpy()
        self.classes_ = annotations.classes
        self.workers_ = annotations.workers
        self.history_ = trainer.history_
        return self

    _saved_modules = ("model_", "aggregator_")
    _saved_arrays = ("confusion_", "copy_groups_", "class_prior_")

    def _saved_extra(self) -> dict:
        return {"workers": plain(self.workers_), "n_groups": int(self.aggregator_.weight.shape[0]),
                "groups": self.copy_groups_.tolist()}

    def _restore_extra(self, extra: dict) -> None:
        self.workers_ = list(extra["workers"])

    def _modules_for_loading(self, input_shape: tuple, n_classes: int,
                             extra: dict) -> dict[str, nn.Module]:
        _, learn = self._initial_prior(n_classes)
        shape = (int(extra["n_groups"]), n_classes, n_classes)
        aggregator = CrowdsAggregator(np.zeros(shape), np.full(n_classes, 1.0 / n_classes),
                                      learn, np.asarray(extra["groups"], dtype=np.int64))
        return {"model_": self._network(input_shape, n_classes), "aggregator_": aggregator}

    def predict_proba(self, X, annotations: Annotations | None = None) -> np.ndarray:
        """``h(x)``; with the crowd's ``annotations`` on these items, the data-crowds
        forecaster ``ζ ∝ h(x) · g(y) / p`` — items without answers keep ``h(x)``. Tasks are
        matched to rows of ``X`` as ``fit`` matches them (:func:`rows_of_tasks`): a
        DataFrame by its index (task ids), an array by position (task ids = row numbers of
        ``X``, or one task per row in task order)."""
        proba = super().predict_proba(X)
        if annotations is None:
            return proba
        rows = rows_of_tasks(X, annotations)
        return forecast(proba, self._crowd_log_proba(len(proba), rows, annotations),
                        self.class_prior_)

    def predict(self, X, annotations: Annotations | None = None) -> np.ndarray:
        return self._to_classes(self.predict_proba(X, annotations).argmax(axis=1))

    def _crowd_log_proba(self, n_rows: int, rows: np.ndarray,
                         annotations: Annotations) -> np.ndarray:
        """log g(y) for every row of X, the answers of task i in row ``rows[i]`` (the log
        prior where a row has no answers)."""
        check_is_fitted(self, "aggregator_")
        answers = answers_in_codes(annotations, self.workers_, self.classes_)
        g = copy.deepcopy(self.aggregator_).cpu()  # the fitted one stays where it is
        with torch.inference_mode():
            logits = g(answers(torch.arange(len(rows)), g.n_workers, g.weight.shape[1]))
            out = g.log_prior().expand(n_rows, -1).clone()
            out[torch.as_tensor(rows)] = torch.log_softmax(logits, dim=1)
        return out.numpy()

    def _copy_groups(self, annotations: Annotations) -> np.ndarray:
        if self.copy_agreement is None:
            return np.arange(annotations.n_workers)
        return annotations.copy_groups(check_fraction(self.copy_agreement, "copy_agreement"),
                                       check_integer(self.copy_min_shared, "copy_min_shared"))

    def _initial_prior(self, k: int) -> tuple[np.ndarray, bool]:
        if isinstance(self.prior, str):
            if self.prior not in ("fixed", "learned"):
                raise InputError(f"prior must be 'fixed', 'learned' or K class probabilities, "
                                 f"got {self.prior!r}")
            return np.full(k, 1.0 / k), self.prior == "learned"
        p = np.asarray(self.prior, dtype=np.float64)
        if p.shape != (k,) or not np.all(p > 0):
            raise InputError(f"prior must hold {k} positive class probabilities, got {p!r}")
        return p / p.sum(), False


def initial_aggregator(annotations: Annotations, copy_groups: np.ndarray,
                       epsilon: float = 1e-4, scale: float = 1.0,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The soft majority vote (T × K) and ``g``'s starting weights (G × K × K, one matrix per
    group of ``copy_groups``, a code per expert): ``W^G = scale · log(T^G + ε)`` with
    ``T^G`` the group's confusion against the soft vote (Cao et al.'s start), the group's
    answers on a task pooled into one (:func:`group_shares`) both in the vote and in ``T^G``.
    With one expert per group this is the paper's start."""
    share = group_shares(annotations, copy_groups)
    soft = soft_majority(annotations, share)
    k, n_groups = annotations.n_classes, int(copy_groups.max()) + 1
    rows = copy_groups[annotations.worker] * k + annotations.label
    pooled = sp.csr_matrix((share, (rows, annotations.task)),
                           shape=(n_groups * k, annotations.n_tasks))
    # [group, answer, truth] counts weighted by the soft vote, as in a Dawid–Skene M-step
    confusion = answer_frequencies((pooled @ soft).reshape(n_groups, k, k)).transpose(0, 2, 1)
    return soft, scale * np.log(confusion + epsilon)


def forecast(proba: np.ndarray, crowd_log_proba: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The data-crowds forecaster ``ζ_c ∝ h_c · g_c / p_c`` (Cao et al., ICLR 2019)."""
    log_z = np.log(np.maximum(proba, 1e-30)) + crowd_log_proba - np.log(prior)
    log_z -= log_z.max(axis=1, keepdims=True)
    z = np.exp(log_z)
    return z / z.sum(axis=1, keepdims=True)
