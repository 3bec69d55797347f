"""One seed, several independent random streams.

A run's seed is split with :class:`numpy.random.SeedSequence` into streams that never share
state, so that changing one use of randomness (the batch size, the dataset, dropout) never
changes another (the initial weights). The order of the streams below is fixed forever:
appending a new stream is fine, reordering would change every existing run.
"""
from __future__ import annotations

import numpy as np

STREAMS = ("init", "data_order", "dropout", "dataset", "augment")


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for ``init``, ``data_order``, ``dropout``, ``dataset`` and
    ``augment`` (the training batches' random transforms)."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}
