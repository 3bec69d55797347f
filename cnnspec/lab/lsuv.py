"""Layer-sequential unit-variance (LSUV) initialisation — Mishkin & Matas 2015, "All you need is
a good init", Algorithm 1.

Step 1 (orthonormal init, Saxe et al. 2014) happens when the model is compiled: the catalogue
draws a layer whose init is ``lsuv`` as ``orthogonal``. Step 2 is here: going from the first
layer to the last, run a data batch through the network and divide the layer's weights by the
std of its output, until the output variance is 1 within ``tol`` or ``max_iter`` rescalings
were made. Earlier layers are final by the time a later one is scaled, so each layer sees the
signal it will see in training. The output measured is the conv/dense layer's own output, before
its nonlinearity, as in the paper.

The forward passes run in eval mode, so dropout does not make the measurement random; the model
is put back in the mode it was in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnspec.errors import RunError
from cnnspec.lab import model_access
from cnnspec.lab.stats import std64

DEFAULT_TOL = 0.1
DEFAULT_MAX_ITER = 10


@dataclass
class LsuvStep:
    """The outcome for one layer: output variance before and after, and rescalings made."""

    layer: str
    variance_before: float
    variance_after: float
    iterations: int
    tol: float

    @property
    def converged(self) -> bool:
        """True when the final variance is within ``1 +- tol``."""
        return abs(self.variance_after - 1.0) < self.tol


def lsuv_layers(model) -> list[str]:
    """The conv/dense layers whose weight init is ``lsuv``, in network order."""
    return [info.name for info in model_access.weighted_layers(model)
            if info.ir.get("weight_init", {}).get("name") == "lsuv"]


def lsuv(
    model,
    x: np.ndarray,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    layers: list[str] | None = None,
) -> list[LsuvStep]:
    """Rescale the weights of ``layers`` in place until each output's variance on ``x`` is
    within ``1 +- tol``; at most ``max_iter`` rescalings per layer (Mishkin & Matas 2015).

    ``x``: a data batch ``(N, C, H, W)`` (or ``(N, F)``), preprocessed as in training.
    ``layers`` defaults to the layers whose init is ``lsuv`` (:func:`lsuv_layers`); pass the
    names of any conv/dense layers to apply the rescaling to them. Returns one
    :class:`LsuvStep` per layer, in order.
    """
    names = lsuv_layers(model) if layers is None else list(layers)
    was_training = model_access.is_training(model)
    was_recording = getattr(model, "record", False)
    model.eval()
    model.record = True
    try:
        return [_rescale_layer(model, x, name, tol, max_iter) for name in names]
    finally:
        model.record = was_recording
        if was_training:
            model.train()


def _rescale_layer(model, x: np.ndarray, name: str, tol: float, max_iter: int) -> LsuvStep:
    """LSUV's inner loop for one layer: measure, divide the weights by the std, measure again."""
    weight = model_access.weight_of(model, name)
    std = _output_std(model, x, name)
    before = std * std
    iterations = 0
    while abs(std * std - 1.0) >= tol and iterations < max_iter:
        weight *= weight.dtype.type(1.0 / std)
        std = _output_std(model, x, name)
        iterations += 1
    return LsuvStep(layer=name, variance_before=before, variance_after=std * std,
                    iterations=iterations, tol=tol)


def _output_std(model, x: np.ndarray, name: str) -> float:
    model.forward(x)
    std = std64(model.activations[name])
    if not np.isfinite(std) or std == 0.0:
        raise RunError(
            f"LSUV cannot rescale layer '{name}': its output on the batch has std {std}",
            hint="the signal is already dead or infinite before this layer; check the inputs "
            "and the init of the layers before it",
        )
    return std
