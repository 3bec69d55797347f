"""How many steps a run takes, worked out once: train's batches are cut by these counts, and
check's lints and the importers read the same before any data is loaded.

A run holds ``validation_count`` of the training split's images out to validate, trains on the
rest in ``epoch_steps`` batches an epoch, ``epochs`` times over.
"""
from __future__ import annotations

import math

from cnnspec.ir.datasets import training_count


def validation_count(n: int, val_split: float) -> int:
    """How many of ``n`` training images a ``val_split`` holds out: ``round(val_split * n)``,
    at least one when ``val_split > 0``, and never all of them."""
    held = 0 if val_split <= 0 else max(1, round(val_split * n))
    return min(held, n - 1)


def epoch_steps(n: int, batch_size: int, drop_lone: bool = False) -> int:
    """Steps in an epoch over ``n`` images: ``ceil(n / batch_size)``, less the last batch where
    ``drop_lone`` and it holds one image (:func:`cnnspec.training.batches.batch_slices`)."""
    steps = math.ceil(n / batch_size)
    if drop_lone and batch_size > 1 and n % batch_size == 1:
        steps -= 1
    return steps


def run_steps(training: dict, drop_lone: bool = False) -> int | None:
    """Steps in a whole run of the IR's ``training`` block, ``epochs`` x :func:`epoch_steps`
    of the images left after :func:`validation_count`; None where the data's number of images
    is not known before loading (an npz file)."""
    images = training_count(training["data"])
    if images is None:
        return None
    n = images - validation_count(images, training["val_split"])
    return training["epochs"] * epoch_steps(n, training["batch_size"], drop_lone)
