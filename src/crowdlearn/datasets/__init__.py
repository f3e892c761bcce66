"""Datasets: the :class:`Dataset` container, the embedded default (``load_digits``), loaders
for standard file formats (IDX, CIFAR batches, image folders, feature matrices) and for public
crowd datasets' layouts. Nothing is downloaded; nothing here imports torch.
"""

from crowdlearn.datasets.catalog import DATASETS, load, read_labels
from crowdlearn.datasets.cifar import load_cifar10, load_cifar100
from crowdlearn.datasets.crowd_sets import (
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
from crowdlearn.datasets.crowds import (
    read_answer_truth,
    read_music_mturk,
    read_snow2008,
    read_wide_answers,
    read_zhou_mat,
)
from crowdlearn.datasets.dataset import DATA_ENV, Dataset, load_digits, search_locations
from crowdlearn.datasets.idx import (
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    load_idx,
    load_mnist,
    read_idx,
)
from crowdlearn.datasets.images import load_features, load_image_folder

__all__ = [
    "DATASETS", "load", "read_labels",
    "DATA_ENV", "FASHION_MNIST_CLASSES", "CrowdData", "Dataset", "cifar100n_annotations",
    "cifar10n_annotations", "load_cifar10", "load_cifar100", "load_cifar100n", "load_cifar10n",
    "load_digits", "load_fashion_mnist", "load_features", "load_idx", "load_image_folder",
    "load_labelme", "load_mnist", "load_music_genre", "load_sentiment", "read_answer_truth",
    "read_idx", "read_music_mturk", "read_snow2008", "read_torch_pickle", "read_wide_answers",
    "read_zhou_mat", "search_locations",
]
