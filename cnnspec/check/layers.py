"""Shape inference and parameter counts of one layer, from its kind's registry record.

Shapes exclude the batch axis: a feature map is ``(C, H, W)``, a flat vector ``(F,)``. The
record's ``infer`` (:mod:`cnnspec.kinds.catalogue`) gives the output shape and the parameter
shapes and fans; this module turns that into a :class:`LayerInfo` without inits (see
:mod:`cnnspec.check.inits`) and locates a problem at the layer's field in the spec.
"""
from __future__ import annotations

import math

from cnnspec.check.model import LayerInfo
from cnnspec.ir.limits import NETWORK, unheld
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import MULT_PARTS, is_trained
from cnnspec.kinds import KINDS, KindError, Shape
from cnnspec.shapes import CHANNELS_ORDER, channels_first, shape_text

__all__ = ["check_held", "infer"]


def infer(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    """The :class:`LayerInfo` of ``layer`` given its input shapes; raises a located SpecError."""
    kind = KINDS.get(layer["kind"])
    if kind is None:
        raise spec.error(f"unknown layer kind '{layer['kind']}'", layer["name"], "kind",
                         hint="layer kinds: " + ", ".join(sorted(KINDS)))
    try:
        found = kind.infer(layer, in_shapes)
    except KindError as err:
        raise spec.error(err.message, layer["name"], err.field,
                         hint=_channels_last_hint(spec) or err.hint) from None
    shapes = dict(zip(MULT_PARTS, (found.weight, found.bias)))
    params = sum(math.prod(shape) for shape in shapes.values() if shape)
    trained = sum(math.prod(shape) for part, shape in shapes.items()
                  if shape and is_trained(layer, part))
    return LayerInfo(name=layer["name"], kind=layer["kind"], ir=layer,
                     inputs=list(layer["inputs"]), input_shapes=list(in_shapes),
                     output_shape=tuple(found.output), pads=found.pads,
                     weight_shape=found.weight, bias_shape=found.bias, params=params,
                     trainable_params=trained,
                     fan_in=found.fan_in, fan_out=found.fan_out, macs=found.macs)


def check_held(spec: Spec, layer: dict, dtype: str) -> None:
    """A located error if a number ``layer`` is set to (``elu 1e300``, ``batchnorm eps
    1e-50``), read as the widest dtype holds it, is one that ``dtype``, the dtype the network
    computes in, cannot: infinity, or 0 where it must be above 0 (the eps the variance is
    divided by). The training settings are held to it the same way."""
    for f in KINDS[layer["kind"]].fields:
        if f.type != "number":
            continue
        found = unheld(layer.get(f.name), dtype, NETWORK, above_zero=f.low == 0 and f.low_open)
        if found:
            raise spec.error(f"{layer['kind']} '{layer['name']}': {f.described} "
                             f"{found.problem}", layer["name"], f.name, hint_template=found.hint)


def _channels_last_hint(spec: Spec) -> str | None:
    """The fix when the input line is written height x width x channels, as Keras writes an
    image's shape (``input 28x28x1``): read channels first, it is 28 channels of 28x1 pixels,
    and a layer's window that no longer fits is only where that shows."""
    given = spec.ir["input"]["shape"]
    meant = channels_first(given)
    if meant is None:
        return None
    c, h, w = given
    return (f"`input {shape_text(given)}` is {c} channels of {h}x{w} pixels: "
            f"{CHANNELS_ORDER}; write `input {shape_text(meant)}`")

