"""Layer-sequential unit-variance (LSUV) initialisation — Mishkin & Matas 2016, "All you need is
a good init" (ICLR), Algorithm 1.

Step 1 (orthonormal init, Saxe et al. 2014) happens when the model is compiled: the catalogue
draws a layer whose init is ``lsuv`` as ``orthogonal``. Step 2 is here: going from the first
layer to the last, run a data batch through the network and divide the layer's weights by the
std of its output, until the output variance is 1 within ``tol``, or ``max_iter`` rescalings
were made, or (a stop the paper does not need: a ``tol`` below the dtype's rounding, such as
1e-30, would otherwise spin through every one of ``max_iter``) once a rescaling no longer brings
the variance nearer 1; that last rescaling is undone, so a layer keeps its best scale. Earlier
layers are final by the time a later one is scaled, so each layer sees the signal it will see in
training. The output measured is the conv/dense layer's own output, before its nonlinearity, as in
the paper.

The passes run as in eval mode, so dropout does not make the measurement random.

Everything LSUV is here: :func:`lsuv` is the one entry point (``cnnspec init-report`` calls it
on its batch); :func:`lsuv_init_step` is the same call as an init step of a training run
(:mod:`cnnspec.training.callbacks`), on the first :data:`LSUV_BATCH` training images.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.blas import blas_threads
from cnnspec.errors import RunError, counted, rounded_text
from cnnspec.init.catalogue import PARAMS, needs_data
from cnnspec.kinds.fields import WEIGHT_INIT_KEY
from cnnspec.lab import model_access
from cnnspec.lab.stats import std64
from cnnspec.records import record
from cnnspec.training.callbacks import InitContext

INPUT = "input"  # the network's input, as layers name it (docs/ir.md)
LSUV_BATCH = 256  # examples LSUV measures the output variance on (Mishkin & Matas use a batch)


@record
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
    """The conv/dense layers whose weight init is one the catalogue says a batch of data sets
    (``lsuv``: :func:`cnnspec.init.catalogue.needs_data`), in network order."""
    return [info.name for info in model_access.weighted_layers(model)
            if _weight_needs_data(info.ir)]


def uses_lsuv(ir: dict) -> bool:
    """Whether a layer of the spec's IR has a weight init that a batch of data sets: a run of
    it then rescales weights on its data before training (:func:`lsuv_init_step`)."""
    return any(_weight_needs_data(layer) for layer in ir["layers"])


def _weight_needs_data(layer_ir: dict) -> bool:
    return needs_data(layer_ir.get(WEIGHT_INIT_KEY))


def lsuv(
    model,
    x: np.ndarray,
    tol: float | None = None,
    max_iter: int | None = None,
    layers: list[str] | None = None,
) -> list[LsuvStep]:
    """Rescale the weights of ``layers`` in place until each output's variance on ``x`` is
    within ``1 +- tol``; at most ``max_iter`` rescalings per layer, fewer once one no longer
brings the variance nearer 1 (that one undone) (Mishkin & Matas 2016).

    ``x``: a data batch ``(N, C, H, W)`` (or ``(N, F)``), preprocessed as in training.
    ``layers`` defaults to the layers whose init is ``lsuv`` (:func:`lsuv_layers`); pass the
    names of any conv/dense layers to apply the rescaling to them. ``tol`` and ``max_iter``
    left as None are each layer's own (its ``lsuv(tol=..., max_iter=...)`` init, else 0.1 and
    10), so one call treats every layer as its spec says. Returns one :class:`LsuvStep` per
    layer, in network order.

    The batch goes through the graph once, node by node: a layer's input is final once the
    layers before it are, and its output after a rescaling follows from the one before, so the
    whole procedure costs one forward pass.
    """
    targets = set(lsuv_layers(model) if layers is None else layers)
    unknown = targets - {info.name for info in model_access.weighted_layers(model)}
    if unknown:
        raise ValueError(f"not conv/dense layers of the model: {', '.join(sorted(unknown))}")
    if not targets:
        return []
    values = {INPUT: model_access.as_input(model, x)}
    steps = []
    # One BLAS thread, as the model's own forward uses: small products gain nothing from a
    # thread pool, and a busy machine makes one many times slower.
    with blas_threads(1):
        for node in model_access.nodes_of(model):
            if not targets - {step.layer for step in steps}:
                break
            # training=False: dropout must not make the measurement random.
            out = node.layer.forward([values[name] for name in node.inputs], False)
            if node.name in targets:
                own = _own_settings(model, node.name)
                step, out = _rescale_layer(model, node.name, out,
                                           own["tol"] if tol is None else tol,
                                           own["max_iter"] if max_iter is None else max_iter)
                steps.append(step)
            values[node.name] = out
    return steps


def lsuv_init_step(start: InitContext) -> None:
    """Before a fresh run's first step: :func:`lsuv` on the first :data:`LSUV_BATCH` training
    images (each ``lsuv`` layer with its own settings), one line of report per layer."""
    steps = lsuv(start.model, start.first_batch(LSUV_BATCH)) if lsuv_layers(start.model) else []
    for step in steps:
        start.display.message(f"lsuv {step.layer}: output variance "
                              f"{rounded_text(step.variance_before, 3)} -> "
                              f"{rounded_text(step.variance_after, 3)} in "
                              f"{counted(step.iterations, 'rescaling')}")


def _own_settings(model, name: str) -> dict:
    """The ``tol`` and ``max_iter`` of the layer's ``lsuv`` init (for another init, the
    catalogue's defaults of ``lsuv``)."""
    init = model_access.checked_of(model).by_name[name].ir.get(WEIGHT_INIT_KEY) or {}
    return {key: init.get(key, default) for key, default in PARAMS["lsuv"].items()}


def _rescale_layer(model, name: str, out: np.ndarray, tol: float,
                   max_iter: int) -> tuple[LsuvStep, np.ndarray]:
    """LSUV's inner loop for one layer: divide the weights by the std of the layer's output
    ``out`` until its variance is within ``1 +- tol``, ``max_iter`` rescalings were made, or
    a rescaling no longer brings it nearer 1, which is then undone (weights, output and
    count as before it); returns the step and the final output.

    A conv or dense output is ``W * x + b``, so scaling ``W`` by ``a`` turns ``out`` into
    ``a (out - b) + b`` exactly: the new output is computed from the old one rather than by
    running the layer again.
    """
    weight = model_access.weight_of(model, name)
    bias = model_access.params_of(model).get(f"{name}.bias")
    std = _output_std(name, out)
    before = std * std
    iterations = 0
    while abs(std * std - 1.0) >= tol and iterations < max_iter:
        kept = weight.copy()
        scale = weight.dtype.type(1.0 / std)
        weight *= scale
        rescaled = _rescaled_output(out, bias, scale)
        rescaled_std = _output_std(name, rescaled)
        if abs(rescaled_std * rescaled_std - 1.0) >= abs(std * std - 1.0):
            # As near 1 as the dtype's rounding lets a rescaling come: a tol below that
            # (1e-30) would otherwise spin through every one of max_iter's rescalings. The
            # step that did not help is undone (exactly: a copy, not a division back).
            weight[...] = kept
            break
        out, std = rescaled, rescaled_std
        iterations += 1
    step = LsuvStep(layer=name, variance_before=before, variance_after=std * std,
                    iterations=iterations, tol=tol)
    return step, out


def _rescaled_output(out: np.ndarray, bias: np.ndarray | None, scale) -> np.ndarray:
    """``scale * (out - b) + b`` with the per-channel bias ``b`` broadcast over ``out``
    ``(N, C, H, W)`` or ``(N, F)``."""
    if bias is None:
        return out * scale
    b = bias.reshape((1, -1) + (1,) * (out.ndim - 2))
    return (out - b) * scale + b


def _output_std(name: str, out: np.ndarray) -> float:
    std = std64(out)
    if not np.isfinite(std) or std == 0.0:
        raise RunError(
            f"LSUV cannot rescale layer '{name}': its output on the batch has std {std}",
            hint="the signal is already dead or infinite before this layer; check the inputs "
            "and the init of the layers before it",
        )
    return std
