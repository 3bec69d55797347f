"""How many steps an epoch and a run take, worked out once: train's batches are cut by these
counts, and check's lints, the catalogue's text and the importers read the same before any
data is loaded.

A run holds ``validation_count`` of the training split's images out to validate, trains on the
rest in ``steps_per_epoch`` batches an epoch, ``epochs`` times over.
"""
from __future__ import annotations

from cnnspec.ir.datasets import training_count

# The steps of an epoch, as steps_per_epoch counts them, in words.
EPOCH_STEPS = ("ceil(images / batch_size) steps, one fewer where a batchnorm sees one value "
               "per channel and the last batch would hold one image")


# ResNet's ImageNet schedule: 60e4 iterations of batch 256 (He et al. 2016, section 3.4), a
# long training by any measure, which the warning below compares a run with.
RESNET_IMAGENET_STEPS = 600_000
# The most steps a run is taken to mean: more is a slip (Caffe's max_iter of 2^31 - 1 for
# "until stopped" turned into epochs, an epochs count meant as steps), which check warns of.
# Many times ResNet's schedule, and over a day even at a millisecond a step.
MOST_STEPS = 10_000_000


def steps_per_epoch(images: int, batch_size: int, drop_lone: bool = False) -> int:
    """The steps (batches) of an epoch over ``images`` training images (:data:`EPOCH_STEPS`):
    ``ceil(images / batch_size)``, one fewer with ``drop_lone`` where the last batch would
    hold one image (``images % batch_size == 1``, ``batch_size > 1``): a network whose batch
    norm sees one value per channel (:func:`cnnspec.check.training.one_example_norms`) cannot
    train on it, so train leaves it out. Train's batches, its progress and its schedules all
    count by this."""
    steps = -(-images // batch_size)  # ceil in whole numbers
    lone = drop_lone and batch_size > 1 and images % batch_size == 1
    return steps - 1 if lone else steps


def fold_sizes(images: int, folds: int) -> list[int]:
    """The sizes of the ``folds`` parts k-fold cross-validation cuts ``images`` into, part 0
    first: as equal as can be, the first ``images % folds`` one larger (NumPy's array_split
    cut, which :func:`cnnspec.training.batches.kfold_split` makes by these sizes). Part 0
    validates on the most images, so its fold trains on the fewest."""
    size, larger = divmod(images, folds)
    return [size + 1] * larger + [size] * (folds - larger)


def validation_count(n: int, val_split: float, fold: tuple[int, int] | None = None) -> int:
    """How many of ``n`` training images a ``val_split`` holds out: ``round(val_split * n)``,
    at least one when ``val_split > 0``, and never all of them. With ``fold`` ``(i, k)``
    (k-fold cross-validation, which takes the place of ``val_split``): part ``i`` of
    :func:`fold_sizes`."""
    if fold is not None:
        return fold_sizes(n, fold[1])[fold[0]]
    held = 0 if val_split <= 0 else max(1, round(val_split * n))
    return min(held, n - 1)


def trained_count(images: int, val_split: float, fold: tuple[int, int] | None = None) -> int:
    """How many of ``images`` training images a run (of ``fold``, where k-fold) trains on:
    those :func:`validation_count` does not hold out."""
    return images - validation_count(images, val_split, fold)


def epoch_steps(training: dict, drop_lone: bool = False, images: int | None = None,
                fold: tuple[int, int] | None = None) -> int | None:
    """Steps in one epoch of the IR's ``training`` block,
    :func:`steps_per_epoch` of the :func:`trained_count` of
    ``images`` training images (by default the data's, as it declares them) in ``fold``,
    where k-fold; None where that number is not known before loading (an npz file)."""
    if images is None:
        images = training_count(training["data"])
    if images is None:
        return None
    n = trained_count(images, training["val_split"], fold)
    return steps_per_epoch(n, training["batch_size"], drop_lone)


def run_steps(training: dict, drop_lone: bool = False) -> int | None:
    """Steps in a whole run of the IR's ``training`` block, ``epochs`` x :func:`epoch_steps`;
    None where the data's number of images is not known before loading (an npz file)."""
    steps = epoch_steps(training, drop_lone)
    return None if steps is None else training["epochs"] * steps
