"""The built-in ``digits`` dataset: the UCI optical recognition of handwritten digits.

1,797 greyscale 8x8 images of the digits 0-9 (Alpaydin & Kaynak 1998, "Cascading
Classifiers", Kybernetika 34(4)). Each pixel counts the "on" pixels of a 4x4 block of a 32x32
bitmap, so it takes one of 17 levels 0..16; we divide by 16. Strokes are light (high values) on
a dark background (0). The copy in ``files/digits.csv.gz`` is the one scikit-learn ships (one
row per image: 64 pixel values row by row, then the label); see ``files/DIGITS_LICENSE.txt``.

The train/test split is fixed: a stratified split (:func:`cnnspec.data.dataset.stratified_split`)
with ``numpy.random.default_rng(SPLIT_SEED)`` puts 360 images in the test set (per class 0-9:
36, 37, 35, 37, 36, 36, 36, 36, 35, 36, each class's share of 360 by largest remainders) and the
other 1,437 in the training set. It never depends on the run's seed, so every run is measured
on the same test images.
"""
from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from cnnspec.data.dataset import Dataset, stratified_split
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.ir.datasets import DATASETS

FILE = "digits.csv.gz"
LEVELS = 16  # the largest pixel value: 16 "on" pixels in a 4x4 block
SPLIT_SEED = 1998
TEST_COUNT = DATASETS["digits"].test_examples
CLASSES = [str(d) for d in range(10)]
DESCRIPTION = ("UCI optical recognition of handwritten digits, 8x8 greyscale, 10 classes "
               "(Alpaydin & Kaynak 1998; CC BY 4.0); 1,437 train / 360 test")


def read_digits_csv(dtype: str = DEFAULT_DTYPE) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images ``(N, 1, 8, 8)`` ``dtype`` in [0, 1] and labels ``(N,)`` int64."""
    raw = resources.files("cnnspec.data").joinpath("files").joinpath(FILE).read_bytes()
    table = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",",
                       dtype=np.int64)
    x = (table[:, :-1].reshape(-1, 1, 8, 8) / LEVELS).astype(dtype)
    y = table[:, -1].astype(np.int64)
    return x, y


def load_digits(dtype: str = DEFAULT_DTYPE) -> Dataset:
    """The digits dataset with its fixed 1,437 / 360 stratified split, its images in
    ``dtype``."""
    x, y = read_digits_csv(dtype)
    train, test = stratified_split(y, TEST_COUNT, np.random.default_rng(SPLIT_SEED))
    return Dataset("digits", x[train], y[train], x[test], y[test], list(CLASSES), DESCRIPTION)
