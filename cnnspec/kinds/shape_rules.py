"""Shape inference shared by several layer kinds, in the user's terms.

Shapes exclude the batch axis: a feature map is ``(C, H, W)``, a flat vector ``(F,)``. Window
output sizes come from :mod:`cnnspec.shapes` only (the engine uses the same formulas). Errors
are :class:`KindError` naming the layer's field; the checker locates them in the spec.
"""
from __future__ import annotations

from cnnspec import shapes
from cnnspec.kinds.kind import KindError, Shape
from cnnspec.shapes import shape_text


def only_input(in_shapes: list[Shape]) -> Shape:
    (shape,) = in_shapes
    return shape


def needs_map(ir: dict, shape: Shape) -> None:
    """A window layer needs a (C, H, W) feature map, not a flat vector."""
    if len(shape) != 3:
        raise KindError(
            f"{ir['kind']} layer '{ir['name']}' needs a (C, H, W) feature map, but its "
            f"input '{ir['inputs'][0]}' is a flat vector of {shape_text(shape)} values",
            hint="put convolution and pooling layers before `flatten`/`global_avgpool`")


def needs_flat(ir: dict, shape: Shape) -> None:
    if len(shape) != 1:
        raise KindError(
            f"{ir['kind']} layer '{ir['name']}' needs a flat input, but its input "
            f"'{ir['inputs'][0]}' is a feature map of {shape_text(shape)}",
            hint="add `flatten` (or `global_avgpool`) before it")


def window(ir: dict, shape: Shape, size_field: str, dilation) -> tuple:
    """Resolved padding and (H_out, W_out) of a window layer; an error if it does not fit."""
    size = tuple(ir[size_field])
    stride = tuple(ir["stride"])
    hw = shape[1:]
    pads = shapes.resolve_padding(ir["padding"], hw, size, stride, dilation)
    out_hw = shapes.window_output_hw(hw, size, stride, pads, dilation,
                                     ceil_mode=ir.get("ceil_mode", False))
    if min(out_hw) >= 1:
        return pads, out_hw
    effective = tuple(shapes.effective_size(k, d) for k, d in zip(size, dilation))
    what = "kernel" if size_field == "kernel" else "window"
    dilated = f" (dilated to {shape_text(effective)})" if effective != size else ""
    # the hint names what this layer has: a pool's window, a dilated kernel's dilation
    smaller = f"a smaller {what}" + (" or dilation" if dilated else "")
    padded = (hw[0] + pads[0] + pads[1], hw[1] + pads[2] + pads[3])
    pad_text = f", {shape_text(padded)} after padding" if padded != hw else ""
    raise KindError(
        f"the {shape_text(size)} {what}{dilated} of {ir['kind']} '{ir['name']}' is larger than "
        f"its input there: {shape_text(hw)}{pad_text} (input '{ir['inputs'][0]}' gives "
        f"{shape_text(shape)})", size_field,
        hint=f"use `pad same`, {smaller}, or less stride/pooling before this layer")


def window_reads(ir: dict, in_shape: Shape, out_shape: Shape, pads, size_field: str,
                 dilation, along=shapes.inputs_read) -> tuple:
    """The input rows and columns some output of a window layer reads (``Kind.reads_input``),
    each as disjoint runs that ``along`` gives for one axis (:func:`cnnspec.shapes.inputs_read`;
    :func:`cnnspec.shapes.transposed_inputs_read` for a transposed conv)."""
    return tuple(along(n, out, k, s, d, before) for n, out, k, s, d, before in
                 zip(in_shape[1:], out_shape[1:], ir[size_field], ir["stride"], dilation,
                     pads[::2]))


def listed(ir: dict, in_shapes: list[Shape]) -> str:
    return ", ".join(f"'{n}' {shape_text(s)}" for n, s in zip(ir["inputs"], in_shapes))
