"""Shape inference and parameter counts, one function per layer kind.

Shapes exclude the batch axis: a feature map is ``(C, H, W)``, a flat vector ``(F,)``. Window
output sizes come from :mod:`cnnspec.shapes` only (the engine uses the same formulas). Each
function takes the spec, the layer's IR and its input shapes and returns a :class:`LayerInfo`
without inits (see :mod:`cnnspec.check.inits`), or raises one located :class:`SpecError` in the
user's terms. Parameter layouts are PyTorch's: conv weight ``(out, in, kh, kw)``, dense weight
``(out, in)``, bias ``(out,)``.
"""
from __future__ import annotations

import math

from cnnspec import shapes
from cnnspec.check.model import LayerInfo
from cnnspec.ir.spec import Spec

Shape = tuple[int, ...]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softmax", "leaky_relu", "elu", "dropout")


def _dims(shape) -> str:
    return "x".join(str(n) for n in shape)


def shape_text(shape: Shape) -> str:
    """``(16, 8, 8)`` or ``(120,)``, as summaries and messages write a shape."""
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


def _info(layer: dict, in_shapes: list[Shape], out: Shape, **fields) -> LayerInfo:
    return LayerInfo(name=layer["name"], kind=layer["kind"], ir=layer,
                     inputs=list(layer["inputs"]), input_shapes=list(in_shapes),
                     output_shape=tuple(out), **fields)


def _needs_map(spec: Spec, layer: dict, shape: Shape) -> None:
    """A conv or pooling layer needs a (C, H, W) feature map, not a flat vector."""
    if len(shape) != 3:
        raise spec.error(
            f"{layer['kind']} layer '{layer['name']}' needs a (C, H, W) feature map, but its "
            f"input '{layer['inputs'][0]}' is a flat vector {shape_text(shape)}",
            layer["name"],
            hint="put convolution and pooling layers before `flatten`/`global_avgpool`")


def _window(spec: Spec, layer: dict, shape: Shape, size_field: str, dilation) -> tuple:
    """Resolved padding and (H_out, W_out) of a window layer; an error if it does not fit."""
    size = tuple(layer[size_field])
    stride = tuple(layer["stride"])
    hw = shape[1:]
    pads = shapes.resolve_padding(layer["padding"], hw, size, stride, dilation)
    out_hw = shapes.window_output_hw(hw, size, stride, pads, dilation)
    if min(out_hw) >= 1:
        return pads, out_hw
    effective = tuple(shapes.effective_size(k, d) for k, d in zip(size, dilation))
    what = "kernel" if layer["kind"] == "conv" else "window"
    dilated = f" (dilated to {_dims(effective)})" if effective != size else ""
    padded = (hw[0] + pads[0] + pads[1], hw[1] + pads[2] + pads[3])
    pad_text = f", {_dims(padded)} after padding" if padded != hw else ""
    raise spec.error(
        f"the {_dims(size)} {what}{dilated} of {layer['kind']} '{layer['name']}' is larger than "
        f"its input there: {_dims(hw)}{pad_text} (input '{layer['inputs'][0]}' gives "
        f"{shape_text(shape)})",
        layer["name"], size_field,
        hint="use `pad same`, a smaller kernel, or less stride/pooling before this layer")


def conv(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    (shape,) = in_shapes
    _needs_map(spec, layer, shape)
    dilation = tuple(layer["dilation"])
    pads, (h, w) = _window(spec, layer, shape, "kernel", dilation)
    out_c, in_c = layer["filters"], shape[0]
    kh, kw = layer["kernel"]
    weight = (out_c, in_c, kh, kw)
    bias = (out_c,) if layer["bias"] else None
    params = math.prod(weight) + (out_c if bias else 0)
    return _info(layer, in_shapes, (out_c, h, w), pads=pads, weight_shape=weight,
                 bias_shape=bias, params=params,
                 trainable_params=params if layer["trainable"] else 0,
                 fan_in=in_c * kh * kw, fan_out=out_c * kh * kw,
                 macs=out_c * h * w * in_c * kh * kw)


def dense(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    (shape,) = in_shapes
    if len(shape) != 1:
        raise spec.error(
            f"dense layer '{layer['name']}' needs a flat input, but its input "
            f"'{layer['inputs'][0]}' is a {shape_text(shape)} feature map",
            layer["name"],
            hint="add `flatten` (or `global_avgpool`) before it")
    units, n_in = layer["units"], shape[0]
    bias = (units,) if layer["bias"] else None
    params = units * n_in + (units if bias else 0)
    return _info(layer, in_shapes, (units,), weight_shape=(units, n_in), bias_shape=bias,
                 params=params, trainable_params=params if layer["trainable"] else 0,
                 fan_in=n_in, fan_out=units, macs=units * n_in)


def _pool_padding_fits(spec: Spec, layer: dict) -> None:
    """Explicit pooling padding may be at most half the window (PyTorch's rule): with more, some
    windows would cover padding only, and a max-pool would output -inf there."""
    padding, size = layer["padding"], layer["size"]
    if isinstance(padding, str) or all(p <= k // 2 for p, k in zip(padding, size)):
        return
    raise spec.error(
        f"padding {_dims(padding)} of {layer['kind']} '{layer['name']}' is more than half its "
        f"{_dims(size)} window, so some windows would hold nothing but padding",
        layer["name"], "padding",
        hint=f"use at most {_dims([k // 2 for k in size])}, or `pad same`")


def pool(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    (shape,) = in_shapes
    _needs_map(spec, layer, shape)
    _pool_padding_fits(spec, layer)
    pads, (h, w) = _window(spec, layer, shape, "size", (1, 1))
    return _info(layer, in_shapes, (shape[0], h, w), pads=pads)


def global_avgpool(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    (shape,) = in_shapes
    _needs_map(spec, layer, shape)
    return _info(layer, in_shapes, (shape[0],))


def flatten(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    (shape,) = in_shapes
    return _info(layer, in_shapes, (math.prod(shape),))


def elementwise(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    """Activations and dropout keep their input's shape."""
    (shape,) = in_shapes
    return _info(layer, in_shapes, shape)


def batchnorm(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    """Per-channel (or per-feature) scale and shift: 2 * C parameters (the running statistics
    are buffers, not parameters)."""
    (shape,) = in_shapes
    params = 2 * shape[0]
    return _info(layer, in_shapes, shape, weight_shape=(shape[0],), bias_shape=(shape[0],),
                 params=params, trainable_params=params if layer["trainable"] else 0)


def _listed(layer: dict, in_shapes: list[Shape]) -> str:
    return ", ".join(f"'{n}' {shape_text(s)}" for n, s in zip(layer["inputs"], in_shapes))


def add(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    if any(s != in_shapes[0] for s in in_shapes):
        raise spec.error(
            f"add '{layer['name']}' sums inputs of equal shape, but got "
            f"{_listed(layer, in_shapes)}",
            layer["name"], "inputs",
            hint="make the branches agree: the same number of filters, and the same stride "
                 "and padding (a 1x1 conv can adapt the channels of a shortcut)")
    return _info(layer, in_shapes, in_shapes[0])


def concat(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    if any(len(s) != 3 for s in in_shapes) or len({s[1:] for s in in_shapes}) != 1:
        raise spec.error(
            f"concat '{layer['name']}' joins (C, H, W) feature maps of equal H and W along the "
            f"channels, but got {_listed(layer, in_shapes)}",
            layer["name"], "inputs",
            hint="give the branches the same stride and padding (`pad same` keeps H and W)")
    channels = sum(s[0] for s in in_shapes)
    return _info(layer, in_shapes, (channels,) + in_shapes[0][1:])


INFER = {
    "conv": conv, "dense": dense, "maxpool": pool, "avgpool": pool,
    "global_avgpool": global_avgpool, "flatten": flatten, "batchnorm": batchnorm,
    "add": add, "concat": concat,
    **{kind: elementwise for kind in ACTIVATIONS},
}


def infer(spec: Spec, layer: dict, in_shapes: list[Shape]) -> LayerInfo:
    """The :class:`LayerInfo` of ``layer`` given its input shapes; raises a located SpecError."""
    try:
        kind_infer = INFER[layer["kind"]]
    except KeyError:
        raise spec.error(f"unknown layer kind '{layer['kind']}'", layer["name"], "kind",
                         hint="layer kinds: " + ", ".join(sorted(INFER))) from None
    return kind_infer(spec, layer, in_shapes)

