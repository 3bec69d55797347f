"""The few things the lab reads from a compiled model, in one place.

The lab only uses the engine's public model contract: ``forward``/``backward``, named
``params()``/``grads()`` keyed ``<layer>.weight`` and ``<layer>.bias`` (PyTorch layouts),
``train()``/``eval()``, and ``record`` with ``activations``/``activation_grads`` keyed by layer
name. The checked spec the model was compiled from gives the layer kinds and init statistics.
"""
from __future__ import annotations

import numpy as np

from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.kinds import is_weighted


def nodes_of(model) -> list:
    """The model's graph nodes in topological order: each has ``name``, ``inputs`` (names of
    earlier nodes, or ``"input"``) and ``layer`` with ``forward(inputs, training)``."""
    return model.nodes


def as_input(model, x) -> np.ndarray:
    """``x`` in the model's dtype, as :meth:`forward` would take it."""
    return np.asarray(x, dtype=model.dtype)


def checked_of(model) -> CheckedSpec:
    """The checked spec the model was compiled from."""
    return model.checked


def recorded_batch(model) -> int:
    """How many examples the model's last recorded forward pass held (0 when it recorded
    none)."""
    return next((len(out) for out in model.activations.values()), 0)


def weighted_layers(model) -> list[LayerInfo]:
    """The model's conv and dense layers in network order."""
    return [info for info in checked_of(model).layers if is_weighted(info.kind)]


def params_of(model) -> dict[str, np.ndarray]:
    """Every live parameter array, keyed ``<layer>.weight`` / ``<layer>.bias``."""
    return model.params()


def weight_of(model, layer: str) -> np.ndarray:
    """The live weight array of ``layer`` (changing it changes the model)."""
    return model.params()[f"{layer}.weight"]


def weight_grad_of(model, layer: str) -> np.ndarray | None:
    """The gradient of the loss with respect to ``layer``'s weight after ``backward``, if any
    (frozen layers may have none)."""
    return model.grads().get(f"{layer}.weight")
