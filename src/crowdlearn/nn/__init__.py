"""Networks and the training loop (the only layer, with ``learners``, that imports torch)."""

from crowdlearn.nn.models import (
    MODELS,
    feature_head,
    lenet,
    make_model,
    mlp,
    resnet18,
    resnet20,
    resnet34,
    split_classifier,
)
from crowdlearn.nn.trainer import (
    Batch,
    Trainer,
    balanced_accuracy,
    default_step,
    resolve_device,
    soft_cross_entropy,
)

__all__ = ["MODELS", "Batch", "Trainer", "balanced_accuracy", "default_step", "feature_head",
           "lenet", "make_model", "mlp", "resnet18", "resnet20", "resnet34", "resolve_device",
           "soft_cross_entropy", "split_classifier"]
