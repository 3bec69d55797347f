"""Datasets and preprocessing.

``load_dataset(cfg, seed, data_dir=None)`` turns the IR's ``training.data`` object into a
:class:`Dataset` (images ``(N, C, H, W)`` float32 in [0, 1], int64 labels, a fixed train/test
split); ``parse_data_arg`` reads the command line's ``--data``; :class:`Preprocessor` applies
the spec's ``preprocess`` with training-split statistics; ``load_image`` reads one input for
``predict``.

Names are resolved lazily (PEP 562) so that ``parse_data_arg`` can be used while building the
command line without importing NumPy.
"""
from __future__ import annotations

import importlib

# public name -> module in this package that defines it
_EXPORTS = {
    "Dataset": "dataset",
    "load_dataset": "load",
    "DATASET_NAMES": "names",
    "parse_data_arg": "names",
    "SHAPE_CLASSES": "synthetic_shapes",
    "SHAPES_DEFAULTS": "synthetic_shapes",
    "Preprocessor": "preprocess",
    "PREPROCESS_MODES": "preprocess",
    "load_image": "images",
}

__all__ = [
    "DATASET_NAMES",
    "PREPROCESS_MODES",
    "SHAPES_DEFAULTS",
    "SHAPE_CLASSES",
    "Dataset",
    "Preprocessor",
    "load_dataset",
    "load_image",
    "parse_data_arg",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cnnspec.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cnnspec.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
