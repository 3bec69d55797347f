"""How far one net's signal lies from the checker's estimate: each layer's mean square over
many weight draws, measured with the engine (what :func:`cnnspec.check.signal.log_spreads`
predicts the log-variance of, and :func:`cnnspec.check.signal.moments` the mean of)."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cnnspec.check.model import CheckedSpec
from cnnspec.compiler import compile_spec


def recorded_draws(checked: CheckedSpec, seeds: int, batch: int
                   ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """For each of seeds ``0 .. seeds - 1``: a batch ``(batch, C, H, W)`` of standard normal
    inputs drawn from that seed, and every layer's output on it from the weights that seed
    draws (float64, training mode)."""
    for seed in range(seeds):
        model = compile_spec(checked, seed=seed, dtype="float64")
        model.train()
        model.record = True
        x = np.random.default_rng(seed).standard_normal((batch, *checked.input_shape))
        model.forward(x)
        yield x, model.activations


def log_squares_over_draws(checked: CheckedSpec, seeds: int, batch: int
                           ) -> dict[str, np.ndarray]:
    """Each layer's ``log`` mean square relative to its input's, one value per seed's weights
    (:func:`recorded_draws`): an array ``(seeds,)`` per layer name."""
    logs: dict[str, list[float]] = {}
    for x, activations in recorded_draws(checked, seeds, batch):
        for name, values in activations.items():
            logs.setdefault(name, []).append(float(np.log(np.mean(values ** 2)
                                                          / np.mean(x ** 2))))
    return {name: np.array(values) for name, values in logs.items()}
