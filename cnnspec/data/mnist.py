"""MNIST and Fashion-MNIST: the IDX files of :data:`cnnspec.downloaded.MNIST` and
``FASHION_MNIST`` read into a dataset (downloaded, verified and cached by
:func:`cnnspec.data.downloads.load_download`).

- MNIST (LeCun, Bottou, Bengio & Haffner 1998): 70,000 28x28 greyscale handwritten digits,
  60,000 train / 10,000 test, light strokes on a dark background.
- Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 70,000 28x28 greyscale
  images of 10 kinds of clothing, same layout and split.

The train/test split is the published one. Pixels (0..255) are divided by 255.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnspec.data.arrays import pixels_to_unit
from cnnspec.data.dataset import Dataset
from cnnspec.data.idx import read_images_and_labels
from cnnspec.downloaded import IDX_FILES, Download
from cnnspec.errors import RunError


def idx_file(split: str, part: str) -> str:
    """``train-images-idx3-ubyte.gz`` and the like, of :data:`cnnspec.downloaded.IDX_FILES`:
    ``split`` train/test, ``part`` images/labels."""
    return IDX_FILES[2 * (split != "train") + (part != "images")]


def read_files(source: Download, paths: dict[str, Path], dtype: str) -> Dataset:
    """The dataset of ``source``'s four IDX files (``paths``, by their published names)."""
    arrays = {split: read_images_and_labels(paths[idx_file(split, "images")],
                                            paths[idx_file(split, "labels")])
              for split in ("train", "test")}
    return _to_dataset(source, arrays, dtype)


def _to_dataset(source: Download, arrays: dict, dtype: str) -> Dataset:
    """Scale the uint8 images to [0, 1] in ``dtype`` and check the labels name known classes."""
    out = {}
    for split, (images, labels) in arrays.items():
        if labels.size and labels.max() >= len(source.classes):
            raise RunError(f"{source.name} {split} labels go up to {labels.max()}, but there are "
                           f"only {len(source.classes)} classes",
                           hint="the label file does not belong to this dataset; replace it")
        out[split] = (pixels_to_unit(images, dtype), labels.astype(np.int64))
    return Dataset(source.name, *out["train"], *out["test"], list(source.classes),
                   source.description)
