"""Which examples go into which batch, decided by the seed alone.

The validation split is the first draw of the run's ``data_order`` stream. Each epoch's order
then comes from its own child of that stream (the SeedSequence of ``data_order`` extended by the
epoch number), so the order of epoch ``e`` can be recomputed from the seed without replaying
the epochs before it: a resumed run sees exactly the batches an uninterrupted one would.
"""
from __future__ import annotations

import numpy as np

from cnnspec.ir.steps import fold_sizes, steps_per_epoch, validation_count


def validation_split(n: int, val_split: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) of ``n`` examples, both sorted;
    :func:`~cnnspec.ir.steps.validation_count` of them go to validation."""
    perm = rng.permutation(n)
    n_val = validation_count(n, val_split)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def kfold_split(n: int, folds: int, fold: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) of fold ``fold`` (0-based) of ``folds`` for k-fold
    cross-validation over ``n`` examples, both sorted.

    The examples are permuted once (the same first draw of ``rng`` as
    :func:`validation_split`) and cut into ``folds`` parts whose sizes differ by at most one;
    part ``fold`` validates and the rest train. With the same ``rng`` seed, folds
    ``0..folds-1`` put every example in exactly one validation part (Stone 1974, "Cross-
    validatory choice and assessment of statistical predictions").
    """
    if not 2 <= folds <= n:
        raise ValueError(f"folds must be between 2 and the {n} examples, not {folds}")
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1}, not {fold}")
    parts = np.split(rng.permutation(n), np.cumsum(fold_sizes(n, folds))[:-1])
    train = np.concatenate([part for i, part in enumerate(parts) if i != fold])
    return np.sort(train), np.sort(parts[fold])


def epoch_order(data_order: np.random.Generator, epoch: int, n: int) -> np.ndarray:
    """The permutation of ``n`` training examples for ``epoch`` (0-based).

    Uses a generator derived from ``data_order``'s seed and the epoch number, not the state of
    ``data_order`` itself, so it does not depend on what was drawn before.
    """
    parent = data_order.bit_generator.seed_seq
    child = np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, epoch))
    return np.random.default_rng(child).permutation(n)


def batch_slices(n: int, batch_size: int, drop_lone: bool = False) -> list[slice]:
    """Consecutive slices of at most ``batch_size``, as many as
    :func:`~cnnspec.ir.steps.steps_per_epoch` counts; the last batch may be
    smaller. With ``drop_lone``, a last batch of one example (``n % batch_size == 1``,
    ``batch_size > 1``) is left out: a network with a batch norm that would see one value per
    channel in it (:func:`cnnspec.check.training.one_example_norms`) cannot train on it. The epoch's
    order is shuffled, so each epoch leaves out another example; PyTorch's DataLoader would train
    on it and its batch norm refuse it, unless ``drop_last`` left out the whole last batch."""
    steps = steps_per_epoch(n, batch_size, drop_lone)
    return [slice(start, min(start + batch_size, n))
            for start in range(0, steps * batch_size, batch_size)]
