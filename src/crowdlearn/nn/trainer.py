"""`Trainer`: the one training loop every learner uses.

It trains a module on (X, targets, optional per-example weights) where targets are class
codes or soft distributions (K columns), with SGD or Adam, a step or cosine schedule, an
optional validation set whose best epoch is kept, early stopping, seeding, ``device="auto"``,
bfloat16 autocast on CUDA, a progress bar on terminals, and atomic checkpoints that a run
resumes from. Methods with their own loss (Co-teaching, Max-MIG, …) pass a ``step`` function
instead of copying the loop.

Data are fed by indexing tensors that already sit on the device with a shuffled permutation:
no DataLoader, no per-example Python work, so feeding stays cheap next to the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crowdlearn.errors import CrowdlearnWarning, InputError
from crowdlearn.label_files import PROBA_ROUNDING
from crowdlearn.nn.flat import FlatParameters, packable
from crowdlearn.outputs import atomic_write

__all__ = ["Batch", "CheckpointMismatch", "Trainer", "balanced_accuracy", "default_step",
           "soft_cross_entropy"]

# inputs stored as bytes (images) are scaled to [0, 1] per batch on the device
_BYTE_SCALE = 1.0 / 255.0


@dataclass
class Batch:
    """One minibatch as a step function sees it."""

    x: torch.Tensor
    target: torch.Tensor  # class codes (N) or soft targets (N × K)
    weight: torch.Tensor | None
    index: torch.Tensor  # positions of the examples in the training set
    epoch: int


StepFn = Callable[[nn.Module, Batch], torch.Tensor]
Metric = Callable[[np.ndarray, np.ndarray], float]


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-example ``−Σ_k T_k log softmax(logits)_k`` for target distributions ``T``."""
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1)


def default_step(model: nn.Module, batch: Batch) -> torch.Tensor:
    """(Weighted) cross-entropy on hard or soft targets, averaged over the batch."""
    logits = model(batch.x)  # under autocast the losses below still run in float32
    if batch.weight is None and batch.target.ndim == 1:
        return F.cross_entropy(logits, batch.target)
    if batch.target.ndim == 1:
        losses = F.cross_entropy(logits, batch.target, reduction="none")
    else:
        losses = soft_cross_entropy(logits, batch.target)
    if batch.weight is not None:
        losses = losses * batch.weight
    return losses.mean()


def accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == y_true).mean())


def balanced_accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean per-class accuracy over the classes present in ``y_true`` (Me-Momentum's score)."""
    pred = proba.argmax(axis=1)
    classes = np.unique(y_true)
    hits = np.bincount(y_true, weights=pred == y_true, minlength=classes.max() + 1)
    totals = np.bincount(y_true, minlength=classes.max() + 1)
    return float((hits[classes] / totals[classes]).mean())


METRICS: dict[str, Metric] = {"accuracy": accuracy, "balanced_accuracy": balanced_accuracy}


class Trainer:
    """Train a module; see the module docstring.

    Parameters
    ----------
    epochs, batch_size:
        Passes over the data and examples per step. ``drop_last`` skips a final short batch.
    optimizer, lr, momentum, nesterov, weight_decay:
        ``"adam"`` or ``"sgd"`` and their settings.
    schedule, milestones, gamma:
        ``None`` (constant), ``"step"`` (×``gamma`` at each epoch in ``milestones``),
        ``"cosine"`` (to 0 over ``epochs``) or ``f(epoch) -> factor`` of the base rate.
    metric, patience:
        Validation score (``"accuracy"``, ``"balanced_accuracy"`` or ``f(y, proba)``, higher
        is better); the best epoch's weights are restored at the end. With ``patience``,
        training stops after that many epochs without improvement.
    device, amp:
        ``"auto"`` picks CUDA when present, else CPU; ``amp`` runs forward passes in
        bfloat16 autocast on CUDA (ignored on CPU).
    seed:
        Seeds shuffling, dropout and augmentation: the same seed gives the same weights on CPU.
        The caller's global RNG state is left untouched.
    progress:
        ``"auto"`` shows a progress bar only on a terminal; ``True``/``False`` force it.
    checkpoint, resume, checkpoint_every:
        Path of a checkpoint written atomically every ``checkpoint_every`` epochs; with
        ``resume=True`` a run continues from it (an interrupted run resumed ends with the same
        weights as an uninterrupted one; a finished run resumed returns its final weights at
        once). An existing checkpoint is never overwritten by a fresh run: pass
        ``resume=True`` or remove it. The checkpoint records what defines the run (the
        settings that change its result, see :data:`RUN_SETTINGS`, and a blake2b digest of
        each training array): a resume that differs in any of them is refused
        (:class:`CheckpointMismatch`), naming it.
    extra_state:
        An object with ``state_dict()`` and ``load_state_dict(state)`` whose state (tensors,
        numbers, strings, lists and dicts of them) is saved in each checkpoint and restored on
        resume: what a ``step`` or ``on_epoch_end`` of a method carries from epoch to epoch.
    step:
        ``step(model, batch) -> loss`` for methods with their own loss (default
        :func:`default_step`).
    augment:
        ``augment(x) -> x`` applied to training batches on the device.
    param_groups:
        ``param_groups(model) -> list of dicts`` for per-group learning rates (e.g. Max-MIG's
        classifier and aggregator).
    on_epoch_end:
        ``f(epoch, record) -> bool``, called after each epoch with its history record; return
        True to stop.

    Attributes after :meth:`fit`: ``history_`` (one dict per epoch: epoch, loss, lr, seconds
    and val_score), ``best_epoch_``, ``best_score_``, ``device_``.
    """

    def __init__(self, epochs: int = 30, batch_size: int = 128,
                 optimizer: Literal["adam", "sgd"] = "adam", lr: float = 1e-3,
                 momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0,
                 schedule: Literal["step", "cosine"] | Callable[[int], float] | None = None,
                 milestones: tuple[int, ...] = (), gamma: float = 0.1,
                 metric: str | Metric = "accuracy", patience: int | None = None,
                 device: str = "auto", amp: bool = True, seed: int = 0,
                 progress: bool | Literal["auto"] = "auto", checkpoint: str | Path | None = None,
                 resume: bool = False, checkpoint_every: int = 1, step: StepFn | None = None,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 param_groups: Callable[[nn.Module], list[dict]] | None = None,
                 on_epoch_end: Callable[[int, dict], bool | None] | None = None,
                 drop_last: bool = False, eval_batch_size: int = 2048,
                 extra_state: Any = None):
        self.epochs, self.batch_size, self.drop_last = epochs, batch_size, drop_last
        self.optimizer, self.lr, self.momentum = optimizer, lr, momentum
        self.nesterov, self.weight_decay = nesterov, weight_decay
        self.schedule, self.milestones, self.gamma = schedule, tuple(milestones), gamma
        self.metric, self.patience = metric, patience
        self.device, self.amp, self.seed, self.progress = device, amp, seed, progress
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.resume, self.checkpoint_every = resume, checkpoint_every
        self.step, self.augment, self.param_groups = step, augment, param_groups
        self.on_epoch_end, self.eval_batch_size = on_epoch_end, eval_batch_size
        self.extra_state = extra_state

    # ------------------------------------------------------------------ training
    def fit(self, model: nn.Module, X, targets, weights=None, X_val=None,
            y_val=None) -> Trainer:
        """Train ``model`` in place on ``X`` with ``targets`` (codes or soft N×K) and optional
        per-example ``weights``; validate on (``X_val``, ``y_val``) when given."""
        self._check_settings()
        _start_thread_pool()
        self.device_ = resolve_device(self.device)
        model.to(self.device_)
        X_t, T_t, W_t = _training_tensors(X, targets, weights, self.device_)
        if self.drop_last and len(X_t) < self.batch_size:
            raise InputError(f"drop_last with batch_size {self.batch_size} and "
                             f"{len(X_t)} examples leaves no batch to train on")
        if self.step is None:  # a step of one's own reads its targets its own way
            _check_targets(T_t, _n_outputs(model, X_t))
        has_val = X_val is not None
        if has_val and y_val is None:
            raise InputError("X_val needs y_val")
        if self.patience is not None and not has_val:
            warnings.warn(f"patience={self.patience} stops on the validation score: without "
                          "X_val and y_val every epoch runs", CrowdlearnWarning, stacklevel=2)
        y_val_np = (_validation_labels(X_val, y_val, codes=isinstance(self.metric, str))
                    if has_val else None)
        if self.checkpoint is not None:  # made now, not found missing after an epoch
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        metric = METRICS[self.metric] if isinstance(self.metric, str) else self.metric
        run = (self._run_record(X, targets, weights, X_val, y_val)
               if self.checkpoint is not None else None)
        packed = self._pack(model, X_t, T_t, W_t)
        try:
            optimizer = self._make_optimizer(model, packed)
            self._run(model, optimizer, packed, X_t, T_t, W_t, X_val, y_val_np, metric, run)
        finally:
            if packed is not None:
                packed.release()
        return self

    def _pack(self, model, X_t, T_t, W_t) -> FlatParameters | None:
        """The model's parameters packed into one tensor for the optimiser (see
        :mod:`crowdlearn.nn.flat`), for the default loss when every parameter gets a
        gradient; ``None`` otherwise."""
        if self.step is not None or self.param_groups is not None or len(X_t) == 0:
            return None
        bs = self.batch_size
        probe = Batch(_as_float(X_t[:bs]), T_t[:bs], None if W_t is None else W_t[:bs],
                      torch.arange(min(bs, len(X_t))), 0)

        def loss() -> torch.Tensor:
            with self._autocast():
                return default_step(model, probe)

        params = packable(model, loss)
        return FlatParameters(params) if params is not None else None

    def _run(self, model, optimizer, packed, X_t, T_t, W_t, X_val, y_val_np, metric,
             run: dict | None = None) -> None:
        has_val = X_val is not None
        scheduler = self._make_scheduler(optimizer)
        generator = torch.Generator().manual_seed(self.seed)
        state = RunState()
        with torch.random.fork_rng(devices=_cuda_devices(self.device_)):
            torch.manual_seed(self.seed)
            if self.checkpoint is not None and self.checkpoint.exists():
                if not self.resume:
                    raise InputError(f"{self.checkpoint}: a checkpoint already exists; pass "
                                     "resume=True to continue it, or remove it")
                state = self._load(model, optimizer, scheduler, generator, len(X_t), run)
            for epoch in range(state.epoch, self.epochs):
                if state.stopped:
                    break
                record = self._train_epoch(model, optimizer, packed, X_t, T_t, W_t, generator,
                                           epoch)
                scheduler.step()
                if has_val:
                    score = float(metric(y_val_np, self.predict_proba(model, X_val)))
                    record["val_score"] = score
                    if score > state.best_score:
                        state.best_score, state.best_epoch, state.bad_epochs = score, epoch, 0
                        state.best_state = cpu_state(model)
                    else:
                        state.bad_epochs += 1
                state.history.append(record)
                state.epoch = epoch + 1
                stop = bool(self.on_epoch_end and self.on_epoch_end(epoch, record))
                if has_val and self.patience is not None and state.bad_epochs >= self.patience:
                    stop = True
                state.stopped = stop
                last = stop or epoch + 1 == self.epochs
                if self.checkpoint is not None and (last or (epoch + 1) % self.checkpoint_every
                                                    == 0):
                    self._save(model, optimizer, scheduler, generator, state, len(X_t), run)
                if stop:
                    break
        if has_val and state.best_state is not None:
            model.load_state_dict(state.best_state)
        self.history_ = state.history
        self.best_epoch_ = state.best_epoch
        self.best_score_ = state.best_score

    def _train_epoch(self, model, optimizer, packed, X_t, T_t, W_t, generator, epoch) -> dict:
        model.train()
        step = self.step or default_step
        n, bs = len(X_t), self.batch_size
        perm = torch.randperm(n, generator=generator).to(X_t.device)
        total = torch.zeros((), device=X_t.device)
        seen = 0
        start = time.perf_counter()
        stops = range(0, n - bs + 1 if self.drop_last else n, bs)
        with _progress(self.progress, len(stops), f"epoch {epoch + 1}/{self.epochs}") as tick:
            for a in stops:
                idx = perm[a:a + bs]
                xb = _as_float(X_t[idx])
                if self.augment is not None:
                    xb = self.augment(xb)
                batch = Batch(xb, T_t[idx], None if W_t is None else W_t[idx], idx, epoch)
                try:
                    with self._autocast():
                        loss = step(model, batch)
                except ValueError as exc:
                    # a last batch of one example that batch norm cannot train on (the layers
                    # before the failing one have seen it): that example waits an epoch
                    one_value = "more than 1 value per channel" in str(exc)
                    if one_value and len(idx) == 1 and bs > 1 and a + bs >= n:
                        continue
                    if one_value and bs == 1:
                        raise InputError("batch_size 1: this model's batch norm cannot train "
                                         "on one example at a time; use batch_size ≥ 2") \
                            from None
                    raise
                if packed is None:
                    optimizer.zero_grad(set_to_none=True)
                else:
                    packed.zero_grad()
                loss.backward()
                optimizer.step()
                total.add_(loss.detach(), alpha=len(idx))
                seen += len(idx)
                tick()
        return {"epoch": epoch, "loss": float(total) / max(seen, 1),
                "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - start}

    # ------------------------------------------------------------------ inference
    @torch.inference_mode()
    def predict_logits(self, model: nn.Module, X) -> np.ndarray:
        """Logits of ``model`` on ``X`` in evaluation mode, in batches."""
        device = resolve_device(self.device) if not hasattr(self, "device_") else self.device_
        model.to(device).eval()
        X_t = _as_tensor(X, device)
        outs = []
        for a in range(0, len(X_t), self.eval_batch_size):
            with self._autocast(device):
                outs.append(model(_as_float(X_t[a:a + self.eval_batch_size])).float())
        return torch.cat(outs).cpu().numpy() if outs else np.zeros((0, 0), np.float32)

    def predict_proba(self, model: nn.Module, X) -> np.ndarray:
        """Softmax probabilities of ``model`` on ``X``."""
        logits = torch.from_numpy(self.predict_logits(model, X))
        return torch.softmax(logits, dim=1).numpy()

    # ------------------------------------------------------------------ pieces
    def _check_settings(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise InputError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not callable(self.schedule) and self.schedule not in (None, "step", "cosine"):
            raise InputError(f"schedule must be None, 'step', 'cosine' or f(epoch) -> factor, "
                             f"got {self.schedule!r}")
        if isinstance(self.metric, str) and self.metric not in METRICS:
            raise InputError(f"metric must be one of {', '.join(METRICS)} or a callable, "
                             f"got {self.metric!r}")
        for name in ("epochs", "batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.patience is not None and (isinstance(self.patience, bool) or not isinstance(
                self.patience, (int, np.integer)) or self.patience < 1):
            raise InputError(f"patience must be a positive integer or None, got "
                             f"{self.patience!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float, np.number)) \
                or not np.isfinite(self.lr) or self.lr <= 0:
            raise InputError(f"lr must be a positive number, got {self.lr!r}")

    def _make_optimizer(self, model: nn.Module,
                        packed: FlatParameters | None = None) -> torch.optim.Optimizer:
        if packed is not None:
            params: Any = [packed.flat]
        else:
            params = self.param_groups(model) if self.param_groups else model.parameters()
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum,
                               nesterov=self.nesterov, weight_decay=self.weight_decay)

    def _make_scheduler(self, optimizer):
        if self.schedule == "step":
            return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(self.milestones),
                                                        self.gamma)
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.epochs)
        factor = self.schedule if callable(self.schedule) else (lambda _: 1.0)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _autocast(self, device: torch.device | None = None):
        device = device or self.device_
        if self.amp and device.type == "cuda":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _run_record(self, X, targets, weights, X_val, y_val) -> dict:
        """What defines this run, as the checkpoint records it: the settings of
        :data:`RUN_SETTINGS` and a digest of every training array (not of the starting
        weights: the checkpoint's replace them)."""
        settings = {name: _setting(getattr(self, name)) for name in RUN_SETTINGS}
        data = {"X": data_digest(X), "targets": data_digest(targets),
                "weights": data_digest(weights), "X_val": data_digest(X_val),
                "y_val": data_digest(y_val)}
        return {"settings": settings, "data": data}

    def _check_run(self, payload: dict, run: dict) -> None:
        """Refuse to resume a checkpoint made by a run that differs from this one."""
        saved = payload.get("run")
        if not isinstance(saved, dict):
            raise CheckpointMismatch(f"{self.checkpoint}: made by an older crowdlearn that did "
                                     "not record its run's settings and data; remove it to "
                                     "start over")
        for name, value in run["settings"].items():
            differs = differing(name, saved.get("settings", {}), value, "run")
            if differs:
                raise CheckpointMismatch(f"{self.checkpoint}: {differs}; resume with the "
                                         "checkpoint's settings, or remove it to start over")
        for name, digest in run["data"].items():
            if saved.get("data", {}).get(name) != digest:
                raise CheckpointMismatch(
                    f"{self.checkpoint}: the {RUN_DATA.get(name, name)} differ from the "
                    "checkpoint's (same sizes, other values); resume on the same data, or "
                    "remove it to start over")

    def _save(self, model, optimizer, scheduler, generator, state: RunState, n: int,
              run: dict | None) -> None:
        payload = {
            "run": run,
            "extra_state": (self.extra_state.state_dict() if self.extra_state is not None
                            else None),
            "model": cpu_state(model), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(), "n_examples": n,
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device_.type == "cuda" else [],
            **{f.name: getattr(state, f.name) for f in fields(RunState)},
        }
        atomic_write(self.checkpoint, lambda p: torch.save(payload, p))

    def _load(self, model, optimizer, scheduler, generator, n: int,
              run: dict | None) -> RunState:
        try:
            payload = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is the user's input
            raise InputError(f"{self.checkpoint}: cannot read checkpoint: {exc}") from None
        if payload.get("n_examples") != n:
            raise InputError(f"{self.checkpoint}: checkpoint was made for "
                             f"{payload.get('n_examples')} training examples, not {n}")
        if run is not None:
            self._check_run(payload, run)
        try:
            model.load_state_dict(payload["model"])
        except RuntimeError as exc:
            raise InputError(f"{self.checkpoint}: checkpoint does not fit this model: "
                             f"{str(exc).splitlines()[0]}") from None
        try:
            optimizer.load_state_dict(payload["optimizer"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise InputError(f"{self.checkpoint}: the optimiser state does not fit this run "
                             f"(made by another crowdlearn version or model): {exc}") from None
        scheduler.load_state_dict(payload["scheduler"])
        generator.set_state(payload["generator"])
        torch.set_rng_state(payload["torch_rng"])
        if payload["cuda_rng"] and self.device_.type == "cuda":
            torch.cuda.set_rng_state_all(payload["cuda_rng"])
        missing = [f.name for f in fields(RunState) if f.name not in payload]
        if missing:
            raise InputError(f"{self.checkpoint}: not a crowdlearn checkpoint (it lacks "
                             f"{', '.join(missing)})")
        if self.extra_state is not None:
            if payload.get("extra_state") is None:
                raise CheckpointMismatch(f"{self.checkpoint}: holds no method state, so it was "
                                         "not made by this method; remove it to start over")
            self.extra_state.load_state_dict(payload["extra_state"])
        return RunState(**{f.name: payload[f.name] for f in fields(RunState)})


RUN_SETTINGS = ("epochs", "batch_size", "drop_last", "optimizer", "lr", "momentum",
                "nesterov", "weight_decay", "schedule", "milestones", "gamma", "metric",
                "patience", "seed", "amp")
"""The :class:`Trainer` settings that change a run's result, recorded in its checkpoints
(a callable schedule or metric by its name)."""


RUN_DATA = {"X": "features (X)", "targets": "training targets (labels or soft labels)",
            "weights": "example weights (weights)", "X_val": "validation features (X_val)",
            "y_val": "validation labels (y_val)"}
"""The training arrays a checkpoint records a digest of, as its messages name them."""


class CheckpointMismatch(InputError):
    """A checkpoint made by another run (other settings or data) than the one resuming it.
    Its message says what differs, then ``"; "`` and the Python remedy, so that a caller
    with other remedies (the command line) can keep the part before the last ``"; "``."""


def differing(name: str, recorded: dict, value, what: str = "run") -> str | None:
    """``name=OLD in the checkpoint, NEW in this run`` (Python reprs, long ones cut) when
    ``recorded`` holds another value of ``name`` than ``value``, or none; ``None`` when they
    agree. ``what`` names this side: ``"run"`` or ``"fit"``."""
    if name in recorded and recorded[name] == value:
        return None
    if name not in recorded:
        return f"{name} is not recorded in the checkpoint, {name}={_shown(value)} in this {what}"
    old = recorded[name]
    while isinstance(old, dict) and isinstance(value, dict):  # name the nested value
        key = next((k for k in {**old, **value} if k not in old or k not in value
                    or old[k] != value[k]), None)
        if key is None or key not in old or key not in value:
            break
        name, old, value = f"{name}.{key}", old[key], value[key]
    return f"{name}={_shown(old)} in the checkpoint, {_shown(value)} in this {what}"


def _shown(value) -> str:
    """A recorded value as Python writes it (a callable recorded by name as it is)."""
    callable_name = isinstance(value, str) and value.startswith("<function ")
    text = value if callable_name else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def data_digest(a) -> str | None:
    """A blake2b digest of an array's dtype, shape and bytes (``None`` for ``None``): cheap
    next to training (about 0.6 s for 60,000 × 784 float32 on one CPU core)."""
    if a is None:
        return None
    arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    arr = np.ascontiguousarray(arr)
    if arr.dtype == object:  # ids or labels as Python objects: their text
        arr = np.asarray([repr(v) for v in arr.ravel()], dtype=str).reshape(arr.shape)
    digest = hashlib.blake2b(f"{arr.dtype.str}{arr.shape}".encode(), digest_size=16)
    digest.update(memoryview(arr).cast("B") if arr.size else b"")
    return digest.hexdigest()


def _setting(value):
    """A setting as the checkpoint records it: plain values, callables by name."""
    if callable(value):
        return f"<function {getattr(value, '__qualname__', type(value).__name__)}>"
    if isinstance(value, (tuple, list)):
        return [_setting(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class RunState:
    """Where a training run stands between epochs; with the weights, the optimiser, the
    schedule and the random states it is also the checkpoint's content."""

    epoch: int = 0  # epochs completed
    history: list[dict] = field(default_factory=list)  # one record per epoch
    best_score: float = -np.inf  # best validation score so far
    best_epoch: int = -1
    best_state: dict | None = None  # that epoch's weights (on the CPU)
    bad_epochs: int = 0  # epochs since the last improvement (for ``patience``)
    stopped: bool = False  # ``on_epoch_end`` or ``patience`` ended the run


# ---------------------------------------------------------------------- helpers
def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else as torch understands it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise InputError(f"unknown device {device!r}: {exc}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: this torch has no CUDA device (use 'cpu' or "
                         "'auto')")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {device!r}: this torch has no MPS device (use 'cpu' or "
                         "'auto')")
    return resolved


def _start_thread_pool() -> None:
    """Start torch's intra-op thread pool before training. Left to start lazily inside the
    first parallel operation, it made the first fit of a fresh process differ from later
    identical fits now and then; started up front, they agree."""
    torch.get_num_threads()


def _cuda_devices(device: torch.device) -> list:
    return [device] if device.type == "cuda" else []


def _as_tensor(X, device: torch.device) -> torch.Tensor:
    t = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(X))
    if t.dtype == torch.float64 or (t.dtype != torch.uint8 and not t.is_floating_point()):
        t = t.float()  # uint8 stays: pixels, scaled by 1/255 as they are used
    return t.to(device)


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() * _BYTE_SCALE if x.dtype == torch.uint8 else x


def _training_tensors(X, targets, weights, device):
    X_t = _as_tensor(X, device)
    n = len(X_t)
    if n == 0:
        raise InputError("no training examples (X is empty)")
    T = np.asarray(targets) if not isinstance(targets, torch.Tensor) else targets.cpu().numpy()
    if len(T) != n:
        raise InputError(f"X has {n} examples but targets has {len(T)}")
    if T.ndim == 1:
        if not np.issubdtype(T.dtype, np.integer):
            raise InputError("1-D targets must be integer class codes")
        T_t = torch.from_numpy(T.astype(np.int64)).to(device)
    elif T.ndim == 2:
        if T.shape[1] == 1 or not (np.issubdtype(T.dtype, np.number) or T.dtype == bool):
            raise InputError(f"2-D targets are soft targets, N × classes of probabilities; got "
                             f"{T.shape} of {T.dtype}: give class codes as a 1-D array")
        T_t = torch.from_numpy(T.astype(np.float32)).to(device)
    else:
        raise InputError(f"targets must be class codes (N) or soft targets (N×K), "
                         f"got shape {T.shape}")
    W_t = None
    if weights is not None:
        W = np.asarray(weights, dtype=np.float32)
        if W.shape != (n,):
            raise InputError(f"weights must have shape ({n},), got {W.shape}")
        if not np.isfinite(W).all() or (W < 0).any():
            raise InputError("weights must be finite and non-negative")
        W_t = torch.from_numpy(W).to(device)
    return X_t, T_t, W_t


@torch.no_grad()
def _n_outputs(model: nn.Module, X_t: torch.Tensor) -> int:
    """The number of classes ``model`` scores: its output width on one example (evaluation
    mode, so neither batch-norm statistics nor a random generator move)."""
    was_training = model.training
    model.eval()
    try:
        return int(model(_as_float(X_t[:1])).shape[-1])
    finally:
        model.train(was_training)


def _check_targets(T_t: torch.Tensor, k: int) -> None:
    """Class codes in 0..k−1 (torch would skip −100 silently and fail deep inside on the
    others); soft targets: k columns of finite, non-negative rows summing to 1."""
    if T_t.ndim == 1:
        bad = (T_t < 0) | (T_t >= k)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            raise InputError(f"target {int(T_t[i])} (example {i}) is not a class code of "
                             f"this model's {k} classes, 0..{k - 1}")
        return
    if T_t.shape[1] != k:
        raise InputError(f"soft targets have {T_t.shape[1]} columns, the model scores {k} "
                         "classes")
    if not bool(torch.isfinite(T_t).all()) or bool((T_t < 0).any()):
        raise InputError("soft targets must be finite and non-negative")
    sums = T_t.sum(dim=1)
    off = torch.abs(sums - 1) > PROBA_ROUNDING  # as probability files: rounded when saved
    if bool(off.any()):
        i = int(torch.nonzero(off)[0])
        raise InputError(f"soft targets must sum to 1 per example; example {i} sums to "
                         f"{float(sums[i]):.4g}")


def _validation_labels(X_val, y_val, codes: bool) -> np.ndarray:
    """``y_val`` as an array, one per row of ``X_val`` (at least one); class codes for the
    built-in metrics (``codes``)."""
    y = np.asarray(y_val)
    n = len(X_val)
    if n == 0:
        raise InputError("X_val is empty: give validation examples or none")
    if len(y) != n:
        raise InputError(f"X_val has {n} examples but y_val has {len(y)}")
    if codes and (y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y < 0).any()):
        raise InputError("y_val must be class codes (a 1-D array of integers ≥ 0)")
    return y


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a model's weights: a checkpoint kept in memory."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class _progress:
    """A rich progress bar over one epoch's steps, or nothing when not wanted."""

    def __init__(self, mode, total: int, label: str):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.show = self.console.is_terminal if mode == "auto" else bool(mode)
        self.total, self.label = total, label

    def __enter__(self) -> Callable[[], None]:
        if not self.show:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress(transient=True, console=self.console)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc) -> None:
        if self.show:
            self.bar.stop()

