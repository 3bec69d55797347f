"""How many steps a run takes, worked out once: train's batches are cut by these counts, and
check's lints and the importers read the same before any data is loaded.

A run holds ``validation_count`` of the training split's images out to validate, trains on the
rest in ``steps_per_epoch`` batches an epoch, ``epochs`` times over.
"""
from __future__ import annotations

from cnnspec.ir.datasets import training_count
from cnnspec.ir.training_catalogue import steps_per_epoch


def validation_count(n: int, val_split: float) -> int:
    """How many of ``n`` training images a ``val_split`` holds out: ``round(val_split * n)``,
    at least one when ``val_split > 0``, and never all of them."""
    held = 0 if val_split <= 0 else max(1, round(val_split * n))
    return min(held, n - 1)


def trained_count(images: int, val_split: float) -> int:
    """How many of ``images`` training images a run trains on: those
    :func:`validation_count` does not hold out."""
    return images - validation_count(images, val_split)


def epoch_steps(training: dict, drop_lone: bool = False, images: int | None = None
                ) -> int | None:
    """Steps in one epoch of the IR's ``training`` block,
    :func:`~cnnspec.ir.training_catalogue.steps_per_epoch` of the :func:`trained_count` of
    ``images`` training images (by default the data's, as it declares them); None where that
    number is not known before loading (an npz file)."""
    if images is None:
        images = training_count(training["data"])
    if images is None:
        return None
    n = trained_count(images, training["val_split"])
    return steps_per_epoch(n, training["batch_size"], drop_lone)


def run_steps(training: dict, drop_lone: bool = False) -> int | None:
    """Steps in a whole run of the IR's ``training`` block, ``epochs`` x :func:`epoch_steps`;
    None where the data's number of images is not known before loading (an npz file)."""
    steps = epoch_steps(training, drop_lone)
    return None if steps is None else training["epochs"] * steps
