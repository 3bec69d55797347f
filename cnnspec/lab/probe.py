"""One forward and one backward pass of the loss on a batch, read out layer by layer.

The pass runs in training mode, because that is what the first SGD step sees (dropout active,
batch norm on batch statistics). The model keeps every layer's output and the gradient of the loss
with respect to it while ``record`` is on; this module turns those into :class:`LayerStats`.
"""
from __future__ import annotations

import numpy as np

from cnnspec.check.exact import exact
from cnnspec.check.lints import lasting_alike_filters
from cnnspec.check.model import CheckedSpec
from cnnspec.check.signal import Estimate
from cnnspec.engine.overflow import overflow_reported_by_caller
from cnnspec.lab import model_access
from cnnspec.lab.stats import LayerStats, layer_stats, std64


def probe(model, x: np.ndarray, y: np.ndarray) -> list[LayerStats]:
    """Statistics of every layer of ``model`` for the batch ``x`` ``(N, C, H, W)`` with
    integer labels ``y`` ``(N,)``. Leaves the parameter gradients of this batch in the model."""
    was_recording = getattr(model, "record", False)
    model.train()
    model.record = True
    try:
        # A network whose values overflow shows NaN and infinity in its rows, and the report
        # names the first such layer (report.describe_overflow).
        with overflow_reported_by_caller():
            out = model.forward(x)
            _, dout = model.loss(out, y)
            model.backward(dout)
            return collect(model, std64(x), lasting_alike(model_access.checked_of(model)))
    finally:
        model.record = was_recording


def collect(model, input_std: float | None, lasting: dict[str, int]) -> list[LayerStats]:
    """Statistics of every layer from what the model recorded on its last forward/backward;
    ``lasting``: :func:`lasting_alike` of the model's checked spec, a fact of the spec that a
    recorder of many steps works out once (1.4 ms of each recording on a net of 200 convs).

    Layers whose output was not recorded (none, unless the engine skips one) are left out.
    """
    activations = model.activations
    activation_grads = getattr(model, "activation_grads", {}) or {}
    checked = model_access.checked_of(model)
    rows = []
    for info in checked.layers:
        if info.name not in activations:
            continue
        has_weight = info.weight_shape is not None
        rows.append(layer_stats(
            name=info.name,
            kind=info.kind,
            out=activations[info.name],
            input_std=input_std,
            dout=activation_grads.get(info.name),
            weight=model_access.weight_of(model, info.name) if has_weight else None,
            dweight=model_access.weight_grad_of(model, info.name) if has_weight else None,
            weight_std_expected=_expected(info, "std"),
            fans=(info.fan_in, info.fan_out) if info.fan_in is not None else None,
            weight_bound_expected=_expected(info, "bound"),
            weight_cut_expected=_off_centre_cut(info),
            same_filters=lasting.get(info.name, 0),
        ))
    return rows


def lasting_alike(checked: CheckedSpec) -> dict[str, int]:
    """How many filters of each layer start identical and stay so: what ``check`` says
    (:func:`cnnspec.check.lints.lasting_alike_filters`), the one place that decides it. It
    reads the spec alone (its inits and graph), never the weights: the same at every step."""
    estimate = Estimate.of(checked.spec, checked.layers)
    return lasting_alike_filters(checked.spec, estimate, exact(checked.spec, estimate))


def _off_centre_cut(info) -> list[float] | None:
    """``[low, high]`` of the layer's truncated normal init where the cut is not centred on its
    mean (it then has no single bound), or None."""
    init = info.weight_init
    if init is None or init.truncation is None or init.bound is not None:
        return None
    return [init.truncation.low, init.truncation.high]


def _expected(info, what: str) -> float | None:
    """The ``std`` or ``bound`` the layer's weight init gives (its description), or None."""
    if info.weight_init is None:
        return None
    return getattr(info.weight_init, what)
