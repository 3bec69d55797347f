"""The :class:`Dataset` every loader returns, and the fixed train/test splits they share.

Conventions: images are ``(N, C, H, W)`` float32 scaled to [0, 1]; labels are int64 class
indices ``0 .. len(classes) - 1``. A dataset carries a training split and a test split only;
the trainer carves its validation split out of the training split.
"""
from __future__ import annotations

import numpy as np

from cnnspec.records import record


# eq=False: the generated __eq__ would compare arrays, whose truth value is ambiguous.
@record(eq=False)
class Dataset:
    """Images and labels of one dataset.

    ``x_train`` (N, C, H, W) float32 in [0, 1], ``y_train`` (N,) int64, ``x_test`` (M, C, H, W),
    ``y_test`` (M,); ``classes[i]`` names label ``i``; ``description`` is one line that says
    what the data is and where it comes from.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    description: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(int(d) for d in self.x_train.shape[1:])


def class_quotas(counts: np.ndarray, n_test: int) -> np.ndarray:
    """How many test examples each class gives so that they sum to exactly ``n_test``.

    Each class gets its proportional share ``counts * n_test / N`` rounded down; the examples
    still missing go to the classes with the largest remainders (ties to the lower class
    index): Hamilton's largest-remainder method.
    """
    shares = counts * n_test / counts.sum()
    quotas = np.floor(shares).astype(np.int64)
    missing = n_test - int(quotas.sum())
    # A stable sort on the negated remainders breaks ties by class index.
    order = np.argsort(-(shares - quotas), kind="stable")
    quotas[order[:missing]] += 1
    return quotas


def stratified_split(y: np.ndarray, n_test: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` with each class represented in proportion, both sorted.

    ``y`` is (N,) int labels. Within each class, a permutation drawn from ``rng`` (classes in
    increasing order) picks that class's :func:`class_quotas` test examples.
    """
    labels, counts = np.unique(y, return_counts=True)
    quotas = class_quotas(counts, n_test)
    test_parts = []
    for label, quota in zip(labels, quotas):
        members = np.flatnonzero(y == label)
        test_parts.append(members[rng.permutation(len(members))[:quota]])
    test = np.sort(np.concatenate(test_parts))
    train = np.setdiff1d(np.arange(len(y)), test)
    return train, test
