"""Every layer kind of the language, one record each (see :class:`cnnspec.kinds.kind.Kind`).

Adding a kind is one record here plus its engine op; the language, the JSON Schema, the checker,
the compiler, pictures, the docs table and the generated tests follow from the record.
Parameter layouts are PyTorch's: conv weight ``(out, in, kh, kw)``, dense weight ``(out, in)``,
bias ``(out,)``; fans are :func:`cnnspec.init.fans.fans` of the weight's shape.
"""
from __future__ import annotations

import functools
import importlib
import math

from cnnspec import engine, shapes
from cnnspec.errors import counted, float_text
from cnnspec.init import gains
from cnnspec.init.fans import fans
from cnnspec.init.gains import DEFAULT_LEAKY_SLOPE, LEAKY_SLOPE_HINT, LEAKY_SLOPE_LOW
from cnnspec.kinds import fields as F
from cnnspec.kinds.fields import Field
from cnnspec.kinds.kind import Build, Example, Inferred, Kind, KindError, Reach, window_flops
from cnnspec.kinds.shape_rules import (
    listed,
    needs_flat,
    needs_map,
    only_input,
    window,
    window_reads,
)
from cnnspec.kinds.text import number_text, pads_text, pair_text, step_text
from cnnspec.kinds.torch_code import call
from cnnspec.shapes import shape_text


class _EngineModule:
    """A module of :mod:`cnnspec.engine`, imported when a builder first reads from it. Every
    command reads this registry, but only compiling a model builds layers; the engine brings
    NumPy, a third of the start-up of ``cnnspec check`` otherwise."""

    def __init__(self, name: str) -> None:
        self._name = f"{engine.__name__}.{name}"

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)


L = _EngineModule("layers")
activations = _EngineModule("activations")
pool, resize = _EngineModule("pool"), _EngineModule("resize")
grouped, transposed = _EngineModule("grouped"), _EngineModule("transposed")

# ---------------------------------------------------------------------------- conv and dense


def _groups_fit(ir: dict, channels: int) -> None:
    """Groups split both the input channels and the filters into equal runs."""
    groups = ir["groups"]
    for count, what in ((channels, f"input channels (from '{ir['inputs'][0]}')"),
                        (ir["filters"], "filters")):
        if count % groups:
            raise KindError(
                f"{ir['kind']} '{ir['name']}' has {groups} groups, but its {count} {what} do not "
                f"split into {groups} equal runs", "groups",
                hint=f"use a number of groups that divides both {channels} and "
                     f"{ir['filters']} (groups {math.gcd(channels, ir['filters'])} does)")


def _conv_infer(ir: dict, in_shapes) -> Inferred:
    shape = only_input(in_shapes)
    needs_map(ir, shape)
    _groups_fit(ir, shape[0])
    pads, (h, w) = window(ir, shape, "kernel", tuple(ir["dilation"]))
    out_c, in_c = ir["filters"], shape[0] // ir["groups"]
    weight = (out_c, in_c, *ir["kernel"])
    fan_in, fan_out = fans(weight)
    return Inferred((out_c, h, w), pads=pads, weight=weight,
                    bias=(out_c,) if ir["bias"] else None, fan_in=fan_in, fan_out=fan_out,
                    macs=out_c * h * w * fan_in)


def _conv_reach(ir: dict, in_shape) -> Reach:
    """Each output reads the C/G channels of its group in a window of dilation (k - 1) + 1
    rows and columns, stride apart."""
    window = tuple(d * (k - 1) + 1 for k, d in zip(ir["kernel"], ir["dilation"]))
    return Reach(in_shape[0] // ir["groups"] > 1, window, tuple(ir["stride"]))


def _conv_build(b: Build):
    if b.ir["groups"] > 1:
        return grouped.GroupedConv2d(b.weight, b.bias, b.ir["stride"], b.pads, b.ir["dilation"],
                                     b.ir["groups"])
    return L.Conv2d(b.weight, b.bias, b.ir["stride"], b.pads, b.ir["dilation"])


def _conv_phrases(ir: dict, pads) -> list[str]:
    return [f"{counted(ir['filters'], 'filter')} {pair_text(ir['kernel'])}",
            f"stride {step_text(ir['stride'])}, pad {pads_text(ir['padding'], pads)}, "
            f"dilation {step_text(ir['dilation'])}"
            + (f", groups {ir['groups']}" if ir["groups"] > 1 else "")]


# The marks of the compact phrases (a conv's, a transposed conv's, a pool's), each a pattern
# of its phrase and what it means, for the minimal diagram's legend to say those it shows:
# "16 filters 3x3 g16" was drawn with no word on what g16 is.
COMPACT_MARKS = (
    (r"^T ", "T: a transposed conv, its stride spreading its output"),
    (r" /\d", "/s: a stride of s (a pool's: other than its window)"),
    (r" d\d", "dN: a dilation of N"),
    (r" g\d", "gN: N groups, each filter reading 1/N of the input channels"),
    (r" ceil$", "ceil: the output size rounded up (ceil mode)"),
)


def _conv_compact(ir: dict) -> str:
    """``16 filters 3x3 /2`` for stride 2 (``/s`` the stride, ``dN`` a dilation, ``gN`` the
    groups: :data:`COMPACT_MARKS`)."""
    stride = f" /{step_text(ir['stride'])}" if list(ir["stride"]) != [1, 1] else ""
    dilation = f" d{step_text(ir['dilation'])}" if list(ir["dilation"]) != [1, 1] else ""
    groups = f" g{ir['groups']}" if ir["groups"] > 1 else ""
    return (f"{counted(ir['filters'], 'filter')} {pair_text(ir['kernel'])}{stride}{dilation}"
            f"{groups}")


def _symmetric(pads) -> bool:
    top, bottom, left, right = pads
    return (top, left) == (bottom, right)


def _conv_torch(ir: dict, in_shapes, inferred: Inferred) -> str:
    """nn.Conv2d, or PaddedConv2d where the padding differs per side."""
    args = (in_shapes[0][0], ir["filters"], ir["kernel"])
    options = {"stride": ir["stride"], "dilation": ir["dilation"], "groups": ir["groups"],
               "bias": ir["bias"]}
    if _symmetric(inferred.pads):
        return call("nn.Conv2d", *args, padding=inferred.pads[::2], **options)
    return call("PaddedConv2d", *args, pads=inferred.pads, **options)


def onnx_pads(pads) -> list[int]:
    """(top, bottom, left, right) in ONNX's order: the starts of H and W, then their ends."""
    top, bottom, left, right = pads
    return [top, left, bottom, right]


def _conv_onnx(g, ir: dict, in_shapes, inferred: Inferred, xs: list[str]) -> str:
    inputs = [xs[0], g.param("weight")] + ([g.param("bias")] if ir["bias"] else [])
    return g.op("Conv", inputs, kernel_shape=ir["kernel"], strides=ir["stride"],
                pads=onnx_pads(inferred.pads), dilations=ir["dilation"], group=ir["groups"])


def _dense_infer(ir: dict, in_shapes) -> Inferred:
    shape = only_input(in_shapes)
    needs_flat(ir, shape)
    weight = (ir["units"], shape[0])
    fan_in, fan_out = fans(weight)
    return Inferred((ir["units"],), weight=weight, bias=(ir["units"],) if ir["bias"] else None,
                    fan_in=fan_in, fan_out=fan_out, macs=ir["units"] * shape[0])


PARAMETER_FIELDS = (F.BIAS, F.WEIGHT_INIT, F.BIAS_INIT, F.DEFAULT_INITS, F.TRAINABLE, F.LR_MULT,
                    F.DECAY_MULT)
STRIDE = F.pair("stride", default=(1, 1), option=("stride",))

CONV = Kind(
    "conv", "2-D convolution (cross-correlation) with F filters", "conv",
    infer=_conv_infer, build=_conv_build,
    fields=(F.count("filters", "number of filters",
                    "the number of filters (output channels), e.g. conv 16 3x3"),
            F.pair("kernel", "kernel size"), STRIDE, F.padding(),
            F.pair("dilation", default=(1, 1), option=("dilation",)),
            Field("groups", "count", default=1, option=("groups",),
                  hint="filters and input channels split into this many runs, each run of "
                       "filters seeing one run of channels: 1 is an ordinary conv, as many as "
                       "the input channels a depthwise one"),
            *PARAMETER_FIELDS),
    positional=("filters", "kernel"),
    usage="conv FILTERS KERNEL [stride S] [pad same|valid|P|PHxPW|TxBxLxR] [dilation D] [groups G] "
          "[weight INIT] [bias INIT | nobias] [frozen] [ACTIVATION], e.g. conv 16 3x3 relu",
    aliases=("conv2d",), takes_activation=True, size_field="filters", noun="filters",
    zero_padded=True, reach=_conv_reach,
    reads_input=lambda ir, in_shape, out_shape, pads: window_reads(
        ir, in_shape, out_shape, pads, "kernel", ir["dilation"]),
    phrases=_conv_phrases, compact=_conv_compact, torch=_conv_torch, onnx=_conv_onnx,
    examples=(Example(((3, 7, 6),), {"filters": 4, "kernel": [3, 3], "padding": "same"}),
              Example(((2, 9, 9),), {"filters": 3, "kernel": [3, 2], "stride": [2, 1],
                                     "dilation": [2, 1], "padding": [1, 0]}),
              Example(((2, 5, 5),), {"filters": 2, "kernel": [1, 1], "bias": False}),
              Example(((4, 6, 5),), {"filters": 6, "kernel": [3, 3], "groups": 2,
                                     "padding": "same"}),
              Example(((3, 6, 6),), {"filters": 3, "kernel": [3, 3], "groups": 3,
                                     "stride": [2, 2], "bias": False})))

def _conv_transpose_pads(ir: dict, hw) -> tuple[tuple[int, int, int, int], list[int]]:
    """Resolved (top, bottom, left, right) padding and the output padding per axis: ``same``
    is TensorFlow's (an output ``stride`` times the input), the rest PyTorch's."""
    kernel, stride, dilation = ir["kernel"], ir["stride"], ir["dilation"]
    if ir["padding"] == "same":
        if any(ir["output_pad"]):
            raise KindError(
                f"conv_transpose '{ir['name']}' has `pad same`, which fixes its output at "
                f"{step_text(stride)} times its input, so it takes no output_pad", "output_pad",
                hint="leave out output_pad, or give the padding as a number")
        (top, bottom, op_h), (left, right, op_w) = (
            shapes.transposed_same_padding_1d(n, k, s, d)
            for n, k, s, d in zip(hw, kernel, stride, dilation))
        return (top, bottom, left, right), [op_h, op_w]
    for axis, (q, s, d) in enumerate(zip(ir["output_pad"], stride, dilation)):
        if q >= s and q >= d:
            raise KindError(
                f"output_pad {shape_text(ir['output_pad'])} of conv_transpose '{ir['name']}' "
                f"must be smaller than its stride {step_text(stride)} or its dilation "
                f"{step_text(dilation)} ({('height', 'width')[axis]}: {q})", "output_pad",
                hint="output_pad picks one of the stride's output sizes that a convolution "
                     "maps back to the same input: 0 to stride - 1 (PyTorch's rule)")
    pads = shapes.resolve_padding(ir["padding"], hw, tuple(kernel), tuple(stride),
                                  tuple(dilation))
    return pads, list(ir["output_pad"])


def _conv_transpose_infer(ir: dict, in_shapes) -> Inferred:
    """PyTorch's layout (C, F/G, kh, kw) and fans: ``fans`` of that shape is what PyTorch's
    ``_calculate_fan_in_and_fan_out`` computes for ``nn.ConvTranspose2d``, ``fan_in = F/G*kh*kw``
    (what each input pixel reaches), ``fan_out = C*kh*kw``."""
    shape = only_input(in_shapes)
    needs_map(ir, shape)
    _groups_fit(ir, shape[0])
    hw = shape[1:]
    pads, output_pad = _conv_transpose_pads(ir, hw)
    out_hw = tuple(shapes.transposed_output_size(n, k, s, before, after, d, q)
                   for n, k, s, before, after, d, q in zip(
                       hw, ir["kernel"], ir["stride"], pads[::2], pads[1::2], ir["dilation"],
                       output_pad))
    if min(out_hw) < 1:
        raise KindError(
            f"the padding {pads_text(ir['padding'], pads)} of conv_transpose '{ir['name']}' "
            f"crops away its whole output: {shape_text(out_hw)} from a {shape_text(hw)} input",
            "padding",
            hint="pad at most (kernel - 1) / 2 on each side, or use a larger kernel or stride")
    in_c, out_c = shape[0], ir["filters"]
    weight = (in_c, out_c // ir["groups"], *ir["kernel"])
    fan_in, fan_out = fans(weight)
    return Inferred((out_c, *out_hw), pads=pads, weight=weight,
                    bias=(out_c,) if ir["bias"] else None, fan_in=fan_in, fan_out=fan_out,
                    macs=in_c * hw[0] * hw[1] * fan_in)


def _conv_transpose_reach(ir: dict, in_shape) -> Reach:
    """Input pixel i adds tap j of the kernel to output ``s i + d j - pad``: the taps reaching
    one output are those whose ``d j`` agree modulo s, every ``q = s / gcd(s, d)``-th one,
    so an output reads up to ``ceil(k / q)`` input pixels, ``d / gcd(s, d)`` apart (one pixel
    where k <= s, dilation 1: a 2x2 stride 2 kernel spreads each pixel, mixing none)."""
    window = []
    for k, s, d in zip(ir["kernel"], ir["stride"], ir["dilation"]):
        common = math.gcd(s, d)
        taps = -(-k // (s // common))
        window.append((taps - 1) * (d // common) + 1)
    return Reach(in_shape[0] // ir["groups"] > 1, tuple(window))


def _conv_transpose_build(b: Build):
    return transposed.ConvTranspose2d(
        b.weight, b.bias, b.ir["stride"], b.ir["dilation"], b.ir["groups"],
        (b.pads[0], b.pads[2]), b.output_shape[1:])


def _conv_transpose_phrases(ir: dict, pads) -> list[str]:
    phrases = _conv_phrases(ir, pads)
    if any(ir["output_pad"]):
        phrases[1] += f", output_pad {step_text(ir['output_pad'])}"
    return phrases


def _output_padding(ir: dict, in_shapes, inferred: Inferred) -> list[int]:
    """The rows and columns added after a transposed conv's output, what its inferred size
    says beyond ``stride (n - 1) + dilation (k - 1) + 1`` minus the padding (with ``pad
    same`` they come from the size, not from ``output_pad``)."""
    return [out - (s * (n - 1) + d * (k - 1) + 1 - before - after)
            for out, n, k, s, d, before, after in zip(
                inferred.output[1:], in_shapes[0][1:], ir["kernel"], ir["stride"],
                ir["dilation"], inferred.pads[::2], inferred.pads[1::2])]


def _conv_transpose_torch(ir: dict, in_shapes, inferred: Inferred) -> str:
    """nn.ConvTranspose2d for symmetric padding; otherwise CroppedConvTranspose2d, cut (and
    extended by output padding) to the inferred size."""
    args = (in_shapes[0][0], ir["filters"], ir["kernel"])
    options = {"stride": ir["stride"], "dilation": ir["dilation"], "groups": ir["groups"],
               "bias": ir["bias"]}
    if _symmetric(inferred.pads):
        return call("nn.ConvTranspose2d", *args, padding=inferred.pads[::2],
                    output_padding=_output_padding(ir, in_shapes, inferred), **options)
    return call("CroppedConvTranspose2d", *args, pads=inferred.pads, size=inferred.output[1:],
                **options)


def _conv_transpose_onnx(g, ir: dict, in_shapes, inferred: Inferred, xs: list[str]) -> str:
    """ONNX's ConvTranspose with the padding and output padding, where ONNX Runtime takes
    that output padding (below the stride); otherwise the whole output, cut and extended to
    the inferred size, then the bias added."""
    output_padding = _output_padding(ir, in_shapes, inferred)
    options = {"kernel_shape": ir["kernel"], "strides": ir["stride"],
               "dilations": ir["dilation"], "group": ir["groups"]}
    if all(q < s for q, s in zip(output_padding, ir["stride"])):
        bias = [g.param("bias")] if ir["bias"] else []
        return g.op("ConvTranspose", [xs[0], g.param("weight"), *bias],
                    pads=onnx_pads(inferred.pads), output_padding=output_padding, **options)
    full = g.op("ConvTranspose", [xs[0], g.param("weight")], **options)
    top, _, left, _ = inferred.pads
    extended = g.op("Pad", [full, g.const([0, 0, 0, 0, 0, 0, *output_padding], "int64")])
    out = _crop(g, extended, inferred.output[1:], (top, left))
    return g.op("Add", [out, g.param("bias", (ir["filters"], 1, 1))]) if ir["bias"] else out


def _crop(g, x: str, size, start=(0, 0)) -> str:
    """The (h, w) window of (N, C, H, W) ``x`` from ``start``."""
    return g.op("Slice", [x, g.const(list(start), "int64"),
                          g.const([a + n for a, n in zip(start, size)], "int64"),
                          g.const([2, 3], "int64")])


def _conv_transpose_reads(ir: dict, in_shape, out_shape, pads) -> tuple:
    """The input rows and columns that reach the output (``Kind.reads_input``): padding
    past the kernel's reach crops away every output of the first or last ones."""
    return window_reads(ir, in_shape, out_shape, pads, "kernel", ir["dilation"],
                        shapes.transposed_inputs_read)


CONV_TRANSPOSE = Kind(
    "conv_transpose", "transposed convolution (PyTorch's ConvTranspose2d, Caffe's "
    "Deconvolution): each input pixel adds its kernel-weighted values to a patch of the "
    "output, patches stride apart, so stride s upsamples s times", "conv",
    infer=_conv_transpose_infer, build=_conv_transpose_build,
    fields=(*CONV.fields[:5],
            Field("output_pad", "margin", default=(0, 0), option=("output_pad",),
                  words="output padding",
                  hint="rows and columns added after the output, below the stride (PyTorch's "
                       "output_padding): with stride 2, pad 1 and a 3x3 kernel, output_pad 1 "
                       "makes the output exactly twice the input"),
            *CONV.fields[5:]),
    positional=("filters", "kernel"),
    usage="conv_transpose FILTERS KERNEL [stride S] [pad same|P|PHxPW|TxBxLxR] [output_pad Q] "
          "[dilation D] [groups G] [weight INIT] [bias INIT | nobias] [frozen] [ACTIVATION], "
          "e.g. conv_transpose 16 2x2 stride 2 relu",
    aliases=("deconv", "conv2d_transpose"), takes_activation=True, size_field="filters",
    noun="filters", reach=_conv_transpose_reach, reads_input=_conv_transpose_reads,
    transposed=True,
    phrases=_conv_transpose_phrases,
    compact=lambda ir: "T " + _conv_compact(ir),
    torch=_conv_transpose_torch, onnx=_conv_transpose_onnx,
    examples=(Example(((3, 4, 5),), {"filters": 2, "kernel": [3, 3]}),
              Example(((2, 4, 3),), {"filters": 3, "kernel": [2, 2], "stride": [2, 2]}),
              Example(((2, 4, 4),), {"filters": 3, "kernel": [3, 3], "stride": [2, 2],
                                     "padding": [1, 1], "output_pad": [1, 1]}),
              Example(((2, 3, 4),), {"filters": 2, "kernel": [4, 3], "stride": [2, 3],
                                     "padding": [1, 0], "output_pad": [0, 2],
                                     "dilation": [1, 2], "bias": False}),
              Example(((4, 3, 3),), {"filters": 6, "kernel": [3, 3], "stride": [2, 2],
                                     "groups": 2, "padding": "same"}),
              Example(((3, 3, 4),), {"filters": 3, "kernel": [4, 4], "stride": [2, 2],
                                     "groups": 3, "padding": [1, 1]}),
              Example(((2, 4, 3),), {"filters": 2, "kernel": [3, 2], "stride": [2, 2],
                                     "padding": [0, 1, 1, 0], "output_pad": [1, 0]}),
              Example(((2, 3, 3),), {"filters": 2, "kernel": [1, 1], "stride": [3, 3],
                                     "padding": "same"}),
              # output_pad may reach the stride when it is below the dilation (PyTorch's rule)
              Example(((2, 4, 4),), {"filters": 2, "kernel": [3, 3], "dilation": [2, 2],
                                     "padding": [1, 1], "output_pad": [1, 1]})))

DENSE = Kind(
    "dense", "fully connected: every output a weighted sum of every input", "dense",
    infer=_dense_infer,
    build=lambda b: L.Dense(b.weight, b.bias),
    fields=(F.count("units", "number of units", "the number of outputs, e.g. dense 10"),
            *PARAMETER_FIELDS),
    positional=("units",),
    usage="dense UNITS [weight INIT] [bias INIT | nobias] [frozen] [ACTIVATION], e.g. dense 10",
    aliases=("fc", "linear"), takes_activation=True, size_field="units", noun="units",
    reach=lambda ir, in_shape: Reach(True),
    phrases=lambda ir, pads: [f"{ir['units']} units"],
    compact=lambda ir: f"{ir['units']} units",
    torch=lambda ir, ins, inf: call("nn.Linear", ins[0][0], ir["units"], bias=ir["bias"]),
    onnx=lambda g, ir, ins, inf, xs: g.op(
        "Gemm", [xs[0], g.param("weight")] + ([g.param("bias")] if ir["bias"] else []),
        transB=1),
    examples=(Example(((6,),), {"units": 3}), Example(((5,),), {"units": 2, "bias": False})))

# ---------------------------------------------------------------------------- pooling


def _pool_padding_fits(ir: dict) -> None:
    """Explicit pooling padding may be at most half the window on each side (PyTorch's rule):
    with more, some windows would cover padding only, and a max-pool would output -inf there."""
    padding, size = ir["padding"], ir["size"]
    if isinstance(padding, str):
        return
    top, bottom, left, right = shapes.resolve_padding(padding, (0, 0), size, size)
    if max(top, bottom) <= size[0] // 2 and max(left, right) <= size[1] // 2:
        return
    raise KindError(
        f"padding {shape_text(padding)} of {ir['kind']} '{ir['name']}' is more than half its "
        f"{pair_text(size)} window, so some windows would hold nothing but padding", "padding",
        hint=f"use at most {pair_text([k // 2 for k in size])} on each side, or `pad same`")


def _pool_infer(ir: dict, in_shapes) -> Inferred:
    shape = only_input(in_shapes)
    needs_map(ir, shape)
    _pool_padding_fits(ir)
    pads, (h, w) = window(ir, shape, "size", (1, 1))
    return Inferred((shape[0], h, w), pads=pads)


def _pool_phrases(ir: dict, pads) -> list[str]:
    return [(f"{pair_text(ir['size'])}, stride {step_text(ir['stride'])}, "
             f"pad {pads_text(ir['padding'], pads)}"
             + (", ceil mode" if ir.get("ceil_mode") else "")
             + (", padding not counted" if not ir.get("count_include_pad", True) else ""))]


# A pool's stride is its window unless the spec says otherwise (`maxpool 2` moves by 2).
POOL_STRIDE = F.pair("stride", option=("stride",), default_from="size")


def _pool_compact(ir: dict) -> str:
    """``2x2`` for a pool whose stride is its window (the default, as ``maxpool 2`` writes
    it), ``3x3 /2`` for another stride (as a conv's ``/s``), with ``ceil`` in ceil mode."""
    stride = "" if POOL_STRIDE.is_default(ir["stride"], ir) else f" /{step_text(ir['stride'])}"
    ceil = " ceil" if ir.get("ceil_mode") else ""
    return f"{pair_text(ir['size'])}{stride}{ceil}"


def _pool_torch(ir: dict, inferred: Inferred, reduce: str, pad_value: float) -> str:
    """nn.MaxPool2d / nn.AvgPool2d for symmetric padding (so ceil mode's rule on where the
    last window may start is PyTorch's); otherwise PaddedPool2d, which pads first and cuts the
    output to the inferred size, since PyTorch's rule would see the padding as input."""
    options = {"ceil_mode": ir["ceil_mode"]}
    if reduce == "avg":
        options["count_include_pad"] = ir["count_include_pad"]
    if _symmetric(inferred.pads):
        module = "nn.MaxPool2d" if reduce == "max" else "nn.AvgPool2d"
        return call(module, ir["size"], ir["stride"], padding=inferred.pads[::2], **options)
    return call("PaddedPool2d", reduce, ir["size"], ir["stride"], pads=inferred.pads,
                size=inferred.output[1:], value=pad_value, **options)


def _pool_onnx(g, ir: dict, in_shapes, inferred: Inferred, xs: list[str], reduce: str) -> str:
    """ONNX's MaxPool / AveragePool with the padding per side; ceil mode's last window must
    start inside the input or its leading padding (PyTorch's rule, which ONNX Runtime
    follows)."""
    options = {"count_include_pad": int(ir["count_include_pad"])} if reduce == "avg" else {}
    out = g.op("MaxPool" if reduce == "max" else "AveragePool", [xs[0]],
               kernel_shape=ir["size"], strides=ir["stride"], pads=onnx_pads(inferred.pads),
               ceil_mode=int(ir["ceil_mode"]), **options)
    # ONNX keeps a last window of ceil mode that starts in the trailing padding; PyTorch and
    # cnnspec drop it (it would see padding only): cut it off.
    onnx_hw = [-(-(n + before + after - k) // s) + 1 if ir["ceil_mode"] else h
               for n, k, s, before, after, h in zip(in_shapes[0][1:], ir["size"], ir["stride"],
                                                    inferred.pads[::2], inferred.pads[1::2],
                                                    inferred.output[1:])]
    return out if onnx_hw == list(inferred.output[1:]) else _crop(g, out, inferred.output[1:])


POOL_EXAMPLES = (
    Example(((3, 7, 8),), {"size": [2, 2], "stride": [2, 2]}),
    Example(((2, 7, 8),), {"size": [3, 3], "stride": [2, 2], "padding": [1, 1]}),
    Example(((2, 7, 8),), {"size": [3, 2], "stride": [1, 2], "padding": "same"}),
    Example(((2, 7, 8),), {"size": [3, 3], "stride": [2, 2], "ceil_mode": True}),
    Example(((2, 6, 7),), {"size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                           "ceil_mode": True}),
    # ceil mode's last window would start in the trailing padding: PyTorch drops it
    Example(((2, 5, 5),), {"size": [3, 3], "stride": [3, 3], "padding": [1, 1],
                           "ceil_mode": True}),
    Example(((2, 7, 6),), {"size": [3, 2], "stride": [2, 2], "padding": [1, 0, 0, 1]}),
    Example(((2, 7, 6),), {"size": [3, 3], "stride": [2, 2], "padding": [0, 1, 1, 0],
                           "ceil_mode": True}))
AVGPOOL_EXAMPLES = (
    Example(((2, 7, 8),), {"size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                           "count_include_pad": False}),
    Example(((2, 6, 7),), {"size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                           "ceil_mode": True, "count_include_pad": False}),
    Example(((2, 7, 6),), {"size": [3, 3], "stride": [2, 2], "padding": [1, 0, 1, 1],
                           "ceil_mode": True, "count_include_pad": False}))

CEIL_MODE = Field("ceil_mode", "bool", default=False, option=("ceil_mode",),
                  words="ceil mode",
                  hint="true rounds the output size up, keeping a last window that hangs over "
                       "the end (Caffe's rounding), false rounds it down")
COUNT_INCLUDE_PAD = Field(
    "count_include_pad", "bool", default=True, option=("count_include_pad",),
    words="whether padding counts", hint="true divides each window's sum by its whole size, "
                                         "padding included; false by its input pixels only")


def _pool_kind(name: str, reduce: str, summary: str, pad_value: float,
               aliases: tuple[str, ...], extra_fields=(), usage_extra: str = "",
               examples=(), linear: bool = False, keeps_sign: bool = False) -> Kind:
    return Kind(
        name, summary, "pool", infer=_pool_infer,
        build=lambda b: L.Pool(reduce, tuple(b.ir["size"]), tuple(b.ir["stride"]),
                               tuple(b.pads), b.ir["ceil_mode"],
                               b.ir.get("count_include_pad", True)),
        fields=(F.pair("size", "window size"),
                POOL_STRIDE, F.padding(),
                CEIL_MODE, *extra_fields),
        positional=("size",),
        usage=f"{name} SIZE [stride S] [pad P] [ceil_mode true]{usage_extra}, e.g. {name} 2",
        aliases=aliases, phrases=_pool_phrases, compact=_pool_compact,
        torch=lambda ir, ins, inferred: _pool_torch(ir, inferred, reduce, pad_value),
        onnx=lambda g, ir, ins, inferred, xs: _pool_onnx(g, ir, ins, inferred, xs, reduce),
        examples=POOL_EXAMPLES + examples, flops=window_flops, linear=linear,
        keeps_sign=keeps_sign,
        reads_input=lambda ir, in_shape, out_shape, pads: window_reads(
            ir, in_shape, out_shape, pads, "size", (1, 1)),
        **{"max_of" if reduce == "max" else "mean_of":
           lambda ir, in_shapes: math.prod(ir["size"])})


MAXPOOL = _pool_kind("maxpool", "max", "the largest value of each window", -math.inf,
                     ("max_pool",), keeps_sign=True)
AVGPOOL = _pool_kind("avgpool", "avg", "the mean of each window (padding counts as zeros unless "
                     "count_include_pad false)", 0.0, ("avg_pool",),
                     extra_fields=(COUNT_INCLUDE_PAD,),
                     usage_extra=" [count_include_pad false]", examples=AVGPOOL_EXAMPLES,
                     linear=True)


def _global_pool_infer(ir: dict, in_shapes) -> Inferred:
    shape = only_input(in_shapes)
    needs_map(ir, shape)
    return Inferred((shape[0],))


GLOBAL_AVGPOOL = Kind(
    "global_avgpool", "(C, H, W) -> (C,): the mean of each channel", "pool",
    infer=_global_pool_infer, build=lambda b: L.GlobalAvgPool(), aliases=("gap",), linear=True,
    mean_of=lambda ir, in_shapes: math.prod(only_input(in_shapes)[1:]),
    torch=lambda ir, ins, inf: call("GlobalPool", "avg"),
    onnx=lambda g, ir, ins, inf, xs: g.op("Flatten", [g.op("GlobalAveragePool", xs)], axis=1),
    examples=(Example(((3, 4, 5),)),))

GLOBAL_MAXPOOL = Kind(
    "global_maxpool", "(C, H, W) -> (C,): the largest value of each channel", "pool",
    infer=_global_pool_infer,
    build=lambda b: L.Elementwise(pool.global_maxpool_forward, pool.global_maxpool_backward),
    aliases=("gmp",), max_of=lambda ir, in_shapes: math.prod(only_input(in_shapes)[1:]),
    keeps_sign=True,
    torch=lambda ir, ins, inf: call("GlobalPool", "max"),
    onnx=lambda g, ir, ins, inf, xs: g.op("Flatten", [g.op("GlobalMaxPool", xs)], axis=1),
    examples=(Example(((3, 4, 5),)),))

def _upsample_infer(ir: dict, in_shapes) -> Inferred:
    shape = only_input(in_shapes)
    needs_map(ir, shape)
    c, h, w = shape
    fh, fw = ir["factor"]
    return Inferred((c, h * fh, w * fw))


def _upsample_torch(ir: dict, ins, inferred: Inferred) -> str:
    options = {"align_corners": False} if ir["mode"] == "bilinear" else {}
    return call("nn.Upsample", scale_factor=[float(f) for f in ir["factor"]], mode=ir["mode"],
                **options)


def _upsample_onnx(g, ir: dict, ins, inferred: Inferred, xs: list[str]) -> str:
    """ONNX's Resize: nearest takes pixel floor(out / factor) (asymmetric, floor), bilinear
    samples at (out + 0.5) / factor - 0.5 (PyTorch's half-pixel rule)."""
    scales = g.const([1.0, 1.0, *(float(f) for f in ir["factor"])], "float32")
    if ir["mode"] == "nearest":
        options = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                   "nearest_mode": "floor"}
    else:
        options = {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}
    return g.op("Resize", [xs[0], "", scales], **options)


UPSAMPLE = Kind(
    "upsample", "(C, H, W) -> (C, H·fh, W·fw): each pixel repeated (nearest) or linearly "
    "interpolated between pixel centres (bilinear, align_corners=False)", "reshape",
    infer=_upsample_infer,
    build=lambda b: L.Elementwise(*{"nearest": (resize.nearest_forward,
                                                resize.nearest_backward),
                                    "bilinear": (resize.bilinear_forward,
                                                 resize.bilinear_backward)}[b.ir["mode"]],
                                  factor=tuple(b.ir["factor"])),
    fields=(F.pair("factor", "upsampling factor"),
            F.choice("mode", ("nearest", "bilinear"), "nearest", words="upsampling mode")),
    positional=("factor", "mode"),
    usage="upsample FACTOR [nearest|bilinear], e.g. upsample 2 or upsample 2x3 bilinear",
    aliases=("upsampling",),
    phrases=lambda ir, pads: [f"x{step_text(ir['factor'])} {ir['mode']}"],
    compact=lambda ir: f"x{step_text(ir['factor'])} {ir['mode']}",
    torch=_upsample_torch, onnx=_upsample_onnx, linear=True,
    resample=lambda ir, axis, size: shapes.upsampling_reads(size, ir["factor"][axis],
                                                            ir["mode"]),
    examples=(Example(((2, 3, 4),), {"factor": [2, 2]}),
              Example(((2, 3, 2),), {"factor": [2, 3]}),
              Example(((2, 3, 4),), {"factor": [2, 2], "mode": "bilinear"}),
              Example(((2, 1, 3),), {"factor": [3, 2], "mode": "bilinear"}),
              Example(((1, 4, 1),), {"factor": [1, 4], "mode": "bilinear"})))

FLATTEN = Kind(
    "flatten", "(C, H, W) -> (C·H·W,)", "reshape",
    infer=lambda ir, in_shapes: Inferred((math.prod(only_input(in_shapes)),)),
    build=lambda b: L.Flatten(), torch=lambda ir, ins, inf: "nn.Flatten()", linear=True,
    keeps_sign=True,
    flops=lambda ir, in_shapes, out_shape, macs: 0,  # a reshape: no arithmetic
    onnx=lambda g, ir, ins, inf, xs: g.op("Flatten", xs, axis=1),
    examples=(Example(((3, 2, 4),)),))

# ---------------------------------------------------------------------------- activations


def _same_shape(ir: dict, in_shapes) -> Inferred:
    return Inferred(only_input(in_shapes))


def _activation(name: str, summary: str, torch, onnx, signal_factor=lambda ir: 1.0,
                fields: tuple[F.Field, ...] = (), usage: str = "", phrases=None,
                cases: tuple[dict, ...] = (), libraries=lambda ir: (),
                value_range: tuple[float, float] | None = None,
                flat_at_zero: bool = False, negative_slope=None, centre: float | None = None,
                gaussian_moment=None, increasing=None, derivative=None, value_at=None,
                slope_at=None, asymptote=None, signal_rule=None,
                sets_scale: bool = False) -> Kind:
    """An elementwise activation; its fields are the keyword arguments of its engine op.

    ``torch(ir) -> str``: its PyTorch module's source; ``onnx(g, ir, x) -> str``: its ONNX
    nodes on the value ``x``.

    ``signal_factor``: ``E[f(y)^2] / E[y^2]`` for a symmetric, zero-mean ``y``, the factor by
    which it scales the signal's second moment (Glorot & Bengio 2010; He et al. 2015).
    ``value_range``: the (lowest, highest) values of a bounded ``f`` (tanh: (-1, 1)). The most
    ``E[f(y)^2]`` can then be is the larger square of the two (tanh: 1): a signal too large for
    the factor saturates there instead of growing on. ``negative_slope``: ``(ir) -> s`` for
    an activation that is ``y`` above 0 and ``s·y`` below, whose factor is then ``(1 + s^2)
    / 2`` (He et al. 2015). ``gaussian_moment``: ``(ir, q) -> E[f(y)^2]`` for ``y ~ N(0, q)``
    where no one factor says it (tanh's falls from 1 as ``q`` grows); the signal rule then.
    ``asymptote``: ``(ir) -> (a, b)``, the limits of ``f(y) / y`` at ``+inf`` and ``-inf``
    (:attr:`Kind.asymptote`), for an activation neither bounded (``(0, 0)``) nor piecewise
    linear (``(1, s)``), whose limits are read from those.
    ``signal_rule``: the signal rule itself, where the values are not one function of one
    value each (softmax's depend on the channels'); ``sets_scale``: see :class:`Kind`.
    ``value_at``/``slope_at``: see :class:`Kind` (a piecewise linear one's come with
    ``negative_slope``). Each is written in a form exact to float64's relative precision
    far out in its tails (``sech^2`` for tanh's slope, not ``1 - tanh^2``), so that it is 0
    only where the true value is below float64's smallest number: there the engine's form is
    0 too, whatever ulps its library's ``tanh`` and ``exp`` differ by.
    """
    if value_range is not None:  # f(y) / y -> 0 both ways
        asymptote = _bounded_asymptote
    signal_bound = math.inf if value_range is None else max(v * v for v in value_range)
    if signal_rule is not None:
        signal = {"signal": signal_rule}
    elif negative_slope is not None:
        signal = _piecewise_linear(negative_slope, signal_bound, value_range)
    elif gaussian_moment is not None:
        signal = {"signal": lambda ir, moments, shapes: gaussian_moment(ir, moments[0])}
    else:
        signal = {"signal": lambda ir, moments, shapes:
                  min(signal_factor(ir) * moments[0], signal_bound)}
    return Kind(
        name, summary, "activation", infer=_same_shape,
        build=lambda b: L.activation(name, **{f.name: b.ir[f.name] for f in fields}),
        fields=fields, positional=tuple(f.name for f in fields[:1]), usage=usage,
        **{"asymptote": asymptote, "value_at": value_at, "slope_at": slope_at, **signal},
        phrases=phrases or (lambda ir, pads: []), torch=lambda ir, ins, inf: torch(ir),
        onnx=lambda g, ir, ins, inf, xs: onnx(g, ir, xs[0]),
        examples=(Example(((3, 2, 2),), {f.name: f.default for f in fields}),
                  *(Example(((4, 3),), case) for case in cases)),
        libraries=libraries, value_range=value_range, flat_at_zero=flat_at_zero,
        centre=centre, increasing=increasing, derivative=derivative, sets_scale=sets_scale)


def _piecewise_linear(negative_slope, bound: float = math.inf,
                      value_range: tuple[float, float] | None = None) -> dict:
    """The :class:`Kind` fields of an activation that is ``y`` above 0 and ``s·y`` below,
    ``negative_slope(ir) -> s``, clipped to ``value_range`` (relu6): that function and its
    slope (:attr:`Kind.value_at`, as the engine's masks take it: ``s`` at 0, 0 where the value
    is clipped or at a bound: relu6 at 0 and from 6 on), the signal rule it gives
    (:func:`piecewise_linear_factor`, the second moment at most ``bound``) and, unbounded, its
    asymptote ``(1, s)``: the function itself."""
    low, high = value_range or (-math.inf, math.inf)

    def value_at(ir: dict, y: float) -> float:
        return min(max(y if y > 0 else negative_slope(ir) * y, low), high)

    def slope_at(ir: dict, y: float) -> float:
        inside = low < (y if y > 0 else negative_slope(ir) * y) < high
        return (1.0 if y > 0 else negative_slope(ir)) if inside else 0.0

    fields = {"negative_slope": negative_slope, "value_at": value_at, "slope_at": slope_at,
              "signal": lambda ir, moments, shapes:
              min(piecewise_linear_factor(negative_slope(ir)) * moments[0], bound)}
    if bound == math.inf:
        fields["asymptote"] = lambda ir: (1.0, negative_slope(ir))
    return fields


def _bounded_asymptote(ir: dict) -> tuple[float, float]:
    """The asymptote of a bounded activation: ``f(y) / y -> 0`` both ways."""
    return (0.0, 0.0)


def _linear_above_zero(ir: dict) -> tuple[float, float]:
    """The asymptote of an activation that tends to ``y`` above 0 and to a constant below
    (gelu, silu, mish, elu, hardswish): ReLU's, ``(1, 0)``."""
    return (1.0, 0.0)


def piecewise_linear_factor(slope: float) -> float:
    """``E[f(y)^2] / E[y^2]`` for ``f(y) = y`` above 0 and ``slope·y`` below, ``y`` symmetric
    about 0: half the values pass, half are scaled by ``slope`` (He et al. 2015, eq. 7 and
    section 2.2: 1/2 for ReLU, ``(1 + a^2) / 2`` for a leaky slope ``a``)."""
    return (1 + slope ** 2) / 2


def _unary(op: str, **attributes):
    """The ONNX function of an activation that is one ONNX operator."""
    return lambda g, ir, x: g.op(op, [x], **attributes)


RELU = _activation("relu", "max(x, 0)", lambda ir: "nn.ReLU()", _unary("Relu"),
                   negative_slope=lambda ir: 0.0, flat_at_zero=True)


def _sigmoid_moment(ir: dict, q: float) -> float:
    """``E[sigmoid(y)^2]`` for ``y ~ N(0, q)``: with ``sigmoid(t) ~ Phi(t sqrt(pi / 8))`` (the
    probit approximation), Owen's closed form ``E[Phi(aY)^2] = 1/4 + arcsin(a^2 q / (1 + a^2
    q)) / (2 pi)`` (Owen 1980, "A table of normal integrals", 10,010.8): ``1/4 + q/16`` for a
    small ``q`` (the mean's square, 1/4, and sigmoid's slope 1/4 at 0, squared), 1/2 for a
    large one (every unit saturated at 0 or 1), within 2% of the integral between."""
    if math.isinf(q):
        return 0.5
    r = math.pi * q / 8
    return 0.25 + math.asin(r / (1 + r)) / (2 * math.pi)


def _tanh_moment(ir: dict, q: float) -> float:
    """``E[tanh(y)^2]`` for ``y ~ N(0, q)``: ``tanh(y) = 2 sigmoid(2y) - 1``, so ``4
    E[sigmoid(2y)^2] - 1`` (:func:`_sigmoid_moment`; ``E[sigmoid(2y)] = 1/2``): ``q`` for a
    small ``q`` (tanh is linear near 0), 1 for a large one (saturated), 0.418 at ``q = 1``
    where the integral is 0.394, 0.201 at ``q = 0.286`` where it is 0.195. A larger input
    saturates the units (the chaotic phase, init-report --phase) rather than growing the
    signal."""
    return 4 * _sigmoid_moment(ir, 4 * q) - 1


def _sigmoid(t: float) -> float:
    """``1 / (1 + exp(-t))`` written with tanh, which does not overflow for a large ``-t``."""
    return 0.5 + 0.5 * math.tanh(t / 2)


def _sigmoid_tail(y: float) -> float:
    """``sigmoid(y)`` exact to float64's relative precision for a large ``-y`` too, where
    ``1/2 + tanh(y/2)/2`` cancels to 0: ``e^y / (1 + e^y)`` below 0."""
    if y >= 0:
        return 1 / (1 + math.exp(-y))
    e = math.exp(y)
    return e / (1 + e)


def _sigmoid_slope(ir: dict, y: float) -> float:
    """``sigmoid(y) sigmoid(-y)``, exact far out on both sides."""
    return _sigmoid_tail(y) * _sigmoid_tail(-y)


TANH = _activation("tanh", "tanh(x)", lambda ir: "nn.Tanh()", _unary("Tanh"),
                   value_range=(-1.0, 1.0), centre=0.0, gaussian_moment=_tanh_moment,
                   increasing=math.tanh, derivative=lambda t: 1 - math.tanh(t) ** 2,
                   value_at=lambda ir, y: math.tanh(y),
                   slope_at=lambda ir, y: 4 * _sigmoid_slope(ir, 2 * y))  # sech^2
SIGMOID = _activation("sigmoid", "1 / (1 + exp(-x))", lambda ir: "nn.Sigmoid()",
                      _unary("Sigmoid"), value_range=(0.0, 1.0), centre=0.5,
                      gaussian_moment=_sigmoid_moment,
                      increasing=_sigmoid, derivative=lambda t: _sigmoid(t) * (1 - _sigmoid(t)),
                      value_at=lambda ir, y: _sigmoid_tail(y), slope_at=_sigmoid_slope)
def _softmax_signal(ir: dict, moments: list[float], shapes) -> float:
    """``E[p^2]`` of a softmax's values, its logits over ``C`` channels taken as independent
    ``N(0, q)``: they sum to 1, so the mean of their squares is ``E[sum p^2] / C``, between
    ``1 / C^2`` (equal logits) and ``1 / C`` (one value 1), whatever the logits' scale. With
    ``1 / S^2 = int t e^(-t S) dt`` for ``S = sum e^z``, ``E[sum p^2] = C int t E[e^(2z - t
    e^z)] E[e^(-t e^z)]^(C - 1) dt``, each expectation over one normal (Simpson's rule, ``t
    = e^u`` on a grid of ``u``): within 0.5% of 20,000 draws for 4, 10 and 100 channels and
    ``q`` from 0.25 to 25."""
    q, channels = moments[0], shapes[0][0] if shapes else 1
    if channels <= 1 or q <= 0:
        return 1.0 / channels ** 2 if channels else 0.0
    return _softmax_square_sum(q, channels) / channels


@functools.lru_cache(maxsize=256)
def _softmax_square_sum(q: float, channels: int) -> float:
    """``E[sum p^2]`` (see :func:`_softmax_signal`); 1 for logits so large that one value
    takes all (their std above 20)."""
    if q > 400:
        return 1.0
    spread = math.sqrt(q)
    low, high = -(math.log(channels) + 8 * spread + 5), 8 * spread + 5
    total = 0.0
    for u, weight in simpson(low, high, 400):
        t = math.exp(u)
        shifted = below = 0.0
        for z, z_weight in _NORMAL_POINTS:
            reach = t * math.exp(spread * z)
            below += z_weight * math.exp(-min(reach, 700.0))
            shifted += z_weight * math.exp(max(2 * spread * z - reach, -700.0))
        total += weight * t * t * shifted * below ** (channels - 1)
    return min(1.0, channels * total)


def simpson(low: float, high: float, panels: int,
            density=lambda x: 1.0) -> tuple[tuple[float, float], ...]:
    """Simpson's rule's points on [``low``, ``high``] in ``panels`` (even) panels, each with
    its weight times ``density`` there: ``sum(w * g(x))`` is the integral of ``g * density``
    (of ``g`` alone by default). The signal estimate's integrals take it too."""
    h = (high - low) / panels
    return tuple((low + i * h, (1 if i in (0, panels) else 4 if i % 2 else 2) * h / 3
                  * density(low + i * h)) for i in range(panels + 1))


# A standard normal's expectations by Simpson's rule on [-8, 8] (the mass beyond, 1e-15).
_NORMAL_POINTS = [(z, w * math.exp(-z * z / 2) / math.sqrt(2 * math.pi))
                  for z, w in simpson(-8.0, 8.0, 96)]

SOFTMAX = _activation("softmax", "exp(x) / sum(exp(x)) over the channels",
                      lambda ir: "nn.Softmax(dim=1)", _unary("Softmax", axis=1),
                      signal_rule=_softmax_signal, sets_scale=True)
def _log_softmax_signal(ir: dict, moments: list[float], shapes) -> float:
    """``E[(z_i - L)^2]`` of a log-softmax's values, ``L = log sum e^z`` of logits taken as
    independent ``N(0, q)`` over ``C`` channels: ``q - 2 q / C + E[L]^2 + Var(L)``, as
    ``E[z_i L] = q E[p_i] = q / C`` (Stein's lemma, ``dL / dz_i = p_i``); ``E[L] = int (e^-t -
    E[e^(-t S)]) dt / t`` (Frullani's integral of ``log S``), exact; ``Var(L)`` by the
    Gaussian Poincare inequality's bound ``q E[sum p^2]`` (Chernoff 1981;
    :func:`_softmax_square_sum`), which it reaches for small ``q``: against 20,000 draws
    within 1% for ``q <= 1``, 2% in scale at ``q = 4`` and 8% above at ``q = 25``. At least
    ``ln(C)^2``: the values are about ``-ln C`` whatever the logits' scale."""
    q, channels = moments[0], shapes[0][0] if shapes else 1
    if channels <= 1:
        return 0.0
    if not 0 < q <= 400:
        return math.log(channels) ** 2 if q <= 0 else q  # a log-probability near -(max - z)
    return (q - 2 * q / channels + _mean_log_sum(q, channels) ** 2
            + q * _softmax_square_sum(q, channels))


@functools.lru_cache(maxsize=256)
def _mean_log_sum(q: float, channels: int) -> float:
    """``E[log sum e^z]`` over ``channels`` independent ``N(0, q)`` logits (see
    :func:`_log_softmax_signal`), by Simpson's rule over ``u = log t``."""
    spread = math.sqrt(q)
    low, high = -(math.log(channels) + 8 * spread + 8), 8 * spread + 8
    total = 0.0
    for u, weight in simpson(low, high, 800):
        t = math.exp(u)
        each = sum(z_weight * math.exp(-min(t * math.exp(spread * z), 700.0))
                   for z, z_weight in _NORMAL_POINTS)
        total += weight * (math.exp(-t) - each ** channels)
    return total


LOG_SOFTMAX = _activation("log_softmax", "x - log(sum(exp(x))) over the channels: "
                          "log-probabilities, what the nll loss takes",
                          lambda ir: "nn.LogSoftmax(dim=1)", _unary("LogSoftmax", axis=1),
                          signal_rule=_log_softmax_signal, sets_scale=True)
LEAKY_RELU = _activation(
    "leaky_relu", "x, or slope·x below 0 (Maas et al. 2013)",
    lambda ir: call("nn.LeakyReLU", ir["slope"]),
    lambda g, ir, x: g.op("LeakyRelu", [x], alpha=ir["slope"]),
    negative_slope=lambda ir: ir["slope"],
    fields=(F.number("slope", DEFAULT_LEAKY_SLOPE, LEAKY_SLOPE_HINT, low=LEAKY_SLOPE_LOW),),
    usage="leaky_relu [SLOPE], e.g. leaky_relu 0.2", cases=({"slope": 0.2},),
    phrases=lambda ir, pads: [f"slope {number_text(ir['slope'])}"])
def _elu_value(ir: dict, y: float) -> float:
    return gains.elu(y, ir["alpha"])


def _elu_slope(ir: dict, y: float) -> float:
    """1 above 0, ``alpha exp(y)`` at 0 and below (the engine's ``alpha (exp(y) - 1) + alpha``
    rounds it to 0 from about -38 on; this form, only past -745)."""
    return 1.0 if y > 0 else ir["alpha"] * math.exp(y)


ELU = _activation(
    "elu", "x, or alpha·(exp(x) - 1) below 0 (Clevert et al. 2016)",
    lambda ir: call("nn.ELU", ir["alpha"]),
    lambda g, ir, x: g.op("Elu", [x], alpha=ir["alpha"]),
    fields=(F.number("alpha", 1.0, "the value large negative inputs approach is -alpha, "
                     "e.g. 1.0", low=0, low_open=True),),
    usage="elu [ALPHA]", cases=({"alpha": 0.7},), asymptote=_linear_above_zero,
    value_at=_elu_value, slope_at=_elu_slope,
    phrases=lambda ir, pads: [f"alpha {number_text(ir['alpha'])}"])

# The signal factors of gelu, silu, mish and hard swish are E[f(y)^2] for y ~ N(0, 1), by
# Gauss-Hermite quadrature of the functions the gain table holds (gains.unit_second_moment).
# Unlike ReLU's 1/2 these depend on the scale of y: they tend to 1/2 for a wide y and to 1/4
# near 0. The tanh form of GELU differs by less than 5e-4.


def _gelu_value(ir: dict, y: float) -> float:
    """GELU of either form (the exact one :func:`cnnspec.init.gains.gelu`, the tanh one
    :func:`_gelu_tanh`)."""
    return _gelu_tanh(y)[0] if ir["approximate"] == "tanh" else gains.gelu(y)


def _gelu_slope(ir: dict, y: float) -> float:
    """GELU's slope ``Phi(y) + y phi(y)`` (the tanh form's: :func:`_gelu_tanh`): 0 only where
    both terms are below float64's smallest number (below about -38.5), ``y`` held within
    the engine's GELU_FLAT for the density as the engine holds it."""
    if ir["approximate"] == "tanh":
        return _gelu_tanh(y)[1]
    near = min(max(y, -activations.GELU_FLAT), activations.GELU_FLAT)
    density = math.exp(-0.5 * near * near) / math.sqrt(2 * math.pi)
    return 0.5 * math.erfc(-y / math.sqrt(2)) + near * density


def _gelu_tanh(y: float) -> tuple[float, float]:
    """GELU's tanh form ``y/2 (1 + t)``, ``t = tanh(u)``, ``u = sqrt(2/pi) (y + c y^3)``
    (``c``: the engine's GELU_TANH_CUBIC; ``y`` within GELU_FLAT in ``u``, as the engine
    holds it), and its slope ``(1 + t) / 2 + y/2 (1 - t^2) du/dy``; with ``1 + t = 2
    sigmoid(2u)`` and ``1 - t^2 = 4 sigmoid(2u) sigmoid(-2u)``, which do not cancel far
    below 0."""
    c, k = activations.GELU_TANH_CUBIC, math.sqrt(2 / math.pi)
    near = min(max(y, -activations.GELU_FLAT), activations.GELU_FLAT)
    u = k * (near + c * near ** 3)
    half_up, half_down = _sigmoid_tail(2 * u), _sigmoid_tail(-2 * u)  # (1 + t) / 2, (1 - t) / 2
    return (y * half_up,
            half_up + 2 * near * half_up * half_down * k * (1 + 3 * c * near * near))


def _silu_slope(ir: dict, y: float) -> float:
    """``s (1 + y (1 - s))``, ``s = sigmoid(y)``."""
    s = _sigmoid_tail(y)
    return s * (1 + y * (1 - s))


def _hardswish_slope(ir: dict, y: float) -> float:
    """As PyTorch defines it, and the engine: 0 below -3, ``y / 3 + 1/2`` on [-3, 3] (0 at
    -1.5, -1/2 at -3), 1 above."""
    return 0.0 if y < -3 else y * (1 / 3) + 0.5 if y <= 3 else 1.0


def _gelu_onnx(g, ir: dict, x: str) -> str:
    """x·Phi(x) = x (1 + erf(x / sqrt 2)) / 2, or the tanh form x (1 + tanh(sqrt(2 / pi)
    (x + c x^3))) / 2, c the engine's GELU_TANH_CUBIC (Hendrycks & Gimpel 2016); ONNX has Gelu
    only from opset 20."""
    if ir["approximate"] == "tanh":
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.const(activations.GELU_TANH_CUBIC)])])
        phi = g.op("Tanh", [g.op("Mul", [inner, g.const(math.sqrt(2 / math.pi))])])
    else:
        phi = g.op("Erf", [g.op("Mul", [x, g.const(1 / math.sqrt(2))])])
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [phi, g.const(1.0)])]), g.const(0.5)])


GELU = _activation(
    "gelu", "x·Phi(x), Phi the normal CDF (Hendrycks & Gimpel 2016); approximate=tanh: their "
    "tanh form", lambda ir: call("nn.GELU", approximate=ir["approximate"]), _gelu_onnx,
    signal_factor=lambda ir: gains.unit_second_moment("gelu"), asymptote=_linear_above_zero,
    increasing=gains.gelu,
    value_at=_gelu_value, slope_at=_gelu_slope,
    fields=(F.choice("approximate", ("none", "tanh"), "none"),),
    usage="gelu [approximate none|tanh], e.g. gelu", cases=({"approximate": "tanh"},),
    phrases=lambda ir, pads: ["tanh form"] if ir["approximate"] == "tanh" else [],
    libraries=lambda ir: () if ir["approximate"] == "tanh" else ("scipy.special",))
SILU = _activation("silu", "x·sigmoid(x) (Elfwing et al. 2018; swish)",
                   lambda ir: "nn.SiLU()", lambda g, ir, x: g.op("Mul", [x, g.op("Sigmoid", [x])]),
                   signal_factor=lambda ir: gains.unit_second_moment("silu"),
                   asymptote=_linear_above_zero, increasing=gains.silu,
                   value_at=lambda ir, y: gains.silu(y), slope_at=_silu_slope)


def _mish_slope(ir: dict, y: float) -> float:
    """``t + y s (1 - t^2)``, ``t = tanh(softplus(y))``, ``s = sigmoid(y)``: the engine's form,
    PyTorch's."""
    t = math.tanh(gains.softplus(y))
    return t + y * _sigmoid_tail(y) * (1 - t * t)


def _mish_onnx(g, ir: dict, x: str) -> str:
    """``x · tanh(softplus(x))`` of ONNX's Softplus and Tanh: its Mish operator comes with
    opset 18, and the exporter writes :data:`cnnspec.exporters.onnx_graph.OPSET` (17)."""
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])])


MISH = _activation("mish", "x·tanh(softplus(x)) (Misra 2019)", lambda ir: "nn.Mish()",
                   _mish_onnx, signal_factor=lambda ir: gains.unit_second_moment("mish"),
                   asymptote=_linear_above_zero, increasing=gains.mish,
                   value_at=lambda ir, y: gains.mish(y), slope_at=_mish_slope)

# ReLU6 clips so rarely at y ~ N(0, 1) that it keeps ReLU's 1/2; hard swish is close to SiLU.

RELU6 = _activation("relu6", "min(max(x, 0), 6) (MobileNet)", lambda ir: "nn.ReLU6()",
                    lambda g, ir, x: g.op("Clip", [x, g.const(0.0), g.const(6.0)]),
                    negative_slope=lambda ir: 0.0, value_range=(0.0, 6.0), flat_at_zero=True)
HARDSWISH = _activation("hardswish", "x·relu6(x + 3) / 6 (Howard et al. 2019, MobileNetV3)",
                        lambda ir: "nn.Hardswish()", _unary("HardSwish"),
                        signal_factor=lambda ir: gains.unit_second_moment("hardswish"),
                        asymptote=_linear_above_zero, increasing=gains.hardswish,
                        value_at=lambda ir, y: gains.hardswish(y), slope_at=_hardswish_slope)

PRELU_INIT = 0.25  # PyTorch's nn.PReLU default (He et al. 2015 start from 0.25 too)


def _channel_shape(shape) -> tuple[int, ...]:
    """A per-channel parameter's shape that broadcasts over (N, C, H, W): (C, 1, 1); over a
    flat (N, F): (F,)."""
    return (shape[0], 1, 1) if len(shape) == 3 else (shape[0],)


def _prelu_infer(ir: dict, in_shapes) -> Inferred:
    """One learned slope per channel (per feature of a flat input): C parameters."""
    shape = only_input(in_shapes)
    return Inferred(shape, weight=(shape[0],))


PRELU = Kind(
    "prelu", "x, or a·x below 0 with a learned per channel, starting at "
    f"{float_text(PRELU_INIT)} (He et "
    "al. 2015)",
    "activation", infer=_prelu_infer,
    build=lambda b: L.PReLU(b.output_shape[0], b.dtype, PRELU_INIT),
    usage="prelu, e.g. conv 16 3x3 prelu",
    fixed_inits=({"name": "constant", "value": PRELU_INIT}, None),
    fixed_start=f"slope {float_text(PRELU_INIT)} per channel, PyTorch's nn.PReLU default",
    fixed_parts=("slope",),
    # as a run with the slopes set to 0 shows: the gradient of a slope is not 0
    zero_start="it would start as a relu, and its slopes would learn from there (their "
               "gradient, the output's gradient times the inputs below 0, is not 0)",
    **_piecewise_linear(lambda ir: PRELU_INIT),
    phrases=lambda ir, pads: [f"slopes learned, from {float_text(PRELU_INIT)}"],
    torch=lambda ir, ins, inf: call("nn.PReLU", num_parameters=ins[0][0], init=PRELU_INIT),
    onnx=lambda g, ir, ins, inf, xs: g.op("PRelu",
                                          [xs[0], g.param("weight", _channel_shape(ins[0]))]),
    examples=(Example(((3, 2, 2),)), Example(((5,),))))

# ---------------------------------------------------------------------------- the rest

def _dropout_signal(ir: dict, moments: list[float], shapes) -> float:
    """While training (as the first step sees a network, and init-report measures it), the
    values kept are scaled by 1 / (1 - p): the second moment grows by that factor."""
    return moments[0] / (1 - ir["p"])


def _channel_dropout_cross(ir: dict, cross: float) -> float:
    """Two positions of one channel share its mask (Tompson et al. 2015): ``E[m^2] = 1 / (1
    - p)`` scales what they have in common as it scales each one's second moment."""
    return cross / (1 - ir["p"])


DROPOUT = Kind(
    "dropout", "zeroes each value with probability p while training (inverted dropout)",
    "dropout", infer=_same_shape, build=lambda b: L.Dropout(b.ir["p"], b.dropout_rng),
    fields=(F.number("p", F.REQUIRED, "p is the probability of zeroing each value: 0 keeps "
                     "them all, 0.5 is common; 1 would zero everything", low=0, high=1,
                     high_open=True, words="dropout probability"),),
    positional=("p",), usage="dropout P with 0 <= P < 1, e.g. dropout 0.25",
    phrases=lambda ir, pads: [f"p = {number_text(ir['p'])}"], signal=_dropout_signal,
    cross_signal=lambda ir, cross: cross,  # two positions' own masks: E[m m'] = 1
    torch=lambda ir, ins, inf: call("nn.Dropout", ir["p"]),
    # ONNX's Dropout without a training_mode input is inference: every value kept, as
    # cnnspec's evaluation; its ratio is there for `cnnspec import` to read the layer back
    onnx=lambda g, ir, ins, inf, xs: g.op("Dropout", [*xs, g.const(ir["p"])]),
    keeps_sign=True, examples=(Example(((3, 2, 2),), {"p": 0.0}),))


def _dropout2d_infer(ir: dict, in_shapes) -> Inferred:
    shape = only_input(in_shapes)
    needs_map(ir, shape)
    return Inferred(shape)


DROPOUT2D = Kind(
    "dropout2d", "zeroes each whole channel with probability p while training (Tompson et "
    "al. 2015)", "dropout", infer=_dropout2d_infer,
    build=lambda b: L.Dropout2d(b.ir["p"], b.dropout_rng),
    fields=DROPOUT.fields, positional=("p",),
    usage="dropout2d P with 0 <= P < 1, e.g. dropout2d 0.1", signal=_dropout_signal,
    cross_signal=_channel_dropout_cross,
    phrases=lambda ir, pads: [f"p = {number_text(ir['p'])}, whole channels"],
    torch=lambda ir, ins, inf: call("nn.Dropout2d", ir["p"]),
    # ONNX has no channel dropout: Identity, as evaluation keeps every value
    onnx=lambda g, ir, ins, inf, xs: g.op("Identity", xs),
    aliases=("spatial_dropout",), keeps_sign=True,
    examples=(Example(((3, 2, 2),), {"p": 0.0}),))


NORM_EPS = F.number("eps", 1e-5, "a small number added to the variance before dividing, "
                    "e.g. 1e-5", low=0, low_open=True)
# A normalisation starts as the identity: its scale at ones, its shift at zeros.
NORM_INITS = ({"name": "ones"}, {"name": "zeros"})
NORM_START = "scale 1, shift 0"  # NORM_INITS in words
NORM_PARTS = ("scale", "shift")
# A zero scale, as a run with the scale set to 0 shows: the output is the shift alone, so the
# gradient reaching the layers before (which the scale multiplies) is 0 at the first step; the
# scale's own is not, and one step moves it. Under a relu at a shift of 0 every input is 0,
# where a relu passes no gradient: nothing before it moves, the norm included.
NORM_ZERO_START = (
    "its output would be its shift alone, the same for every input, and the layers before it "
    "would get no gradient until the scale moved off 0; the scale's own gradient (the "
    "output's gradient times the normalised input) is not 0, so one step moves it, unless a "
    "relu reads the norm: every input to the relu would be the shift, 0, where it passes no "
    "gradient, and neither the norm nor any layer before it would ever learn")


def _norm_signal(ir: dict, moments: list[float], shapes) -> float:
    """A normalisation resets the signal's second moment to 1, whatever came in."""
    return 1.0


def _per_channel_norm_infer(ir: dict, in_shapes) -> Inferred:
    """A scale and a shift per channel (or per feature of a flat input): 2 * C parameters
    (batch norm's running statistics are buffers, not parameters)."""
    shape = only_input(in_shapes)
    return Inferred(shape, weight=(shape[0],), bias=(shape[0],))


def _batchnorm_torch(ir: dict, ins, inf) -> str:
    module = "nn.BatchNorm2d" if len(ins[0]) == 3 else "nn.BatchNorm1d"
    return call(module, ins[0][0], eps=ir["eps"], momentum=ir["momentum"])


def _batchnorm_onnx(g, ir: dict, ins, inf, xs: list[str]) -> str:
    """Evaluation: normalised by the running statistics."""
    return g.op("BatchNormalization", [xs[0], *(g.param(key) for key in (
        "weight", "bias", "running_mean", "running_var"))], epsilon=ir["eps"])


# What a batchnorm's momentum is: PyTorch's (torch.nn.BatchNorm2d), ``running = (1 - m) *
# running + m * batch``, where Keras' and Caffe's are the share kept, 1 - m.
BATCHNORM_MOMENTUM = "the weight of each batch in the running statistics (PyTorch's meaning)"


def momentum_kept(kept: float) -> float:
    """A batchnorm's momentum here, which is PyTorch's (the weight of each new batch in the
    running statistics, ``running = (1 - m) * running + m * batch``), for another library's
    fraction ``kept`` of the old statistics that each batch keeps (Caffe's
    moving_average_fraction, 0.999 by default; Keras' momentum, 0.99): ``1 - kept``, rounded
    so that 1 - 0.99 reads 0.01."""
    return round(1 - kept, 12)


# The share of their start (mean 0, variance 1) that running statistics may keep at the end
# of a run and still be the network's: past it, evaluation normalises by numbers too near the
# start's, which the network never had (`check` warns).
START_SHARE = 0.2
# What an imported Caffe BatchNorm keeps at most: Caffe's running statistics keep none of
# their start, so the importer's momentum leaves next to nothing of it by the run's end.
CAFFE_START_SHARE = 0.01


def start_share(momentum: float, steps: int) -> float:
    """The share of their start that running statistics keep after ``steps`` updates at
    ``momentum`` (PyTorch's plain moving average): ``(1 - momentum) ** steps``. Caffe's keep
    none: BatchNorm divides its decayed sums by their decayed weight (batch_norm_layer.cpp's
    ``blobs_[2]``), an average corrected for its start, as Adam's moments are (Kingma & Ba
    2015, sec. 3)."""
    return (1 - momentum) ** steps


def steps_to_leave_start(momentum: float, share: float = START_SHARE) -> float:
    """The updates after which running statistics at ``momentum`` keep at most ``share`` of
    their start (:func:`start_share`): ``ln(share) / ln(1 - momentum)``, with ``log1p`` so that
    a momentum below float64's resolution of 1 still counts; infinite at momentum 0, where
    they never update."""
    if momentum <= 0:
        return math.inf
    return math.log(share) / math.log1p(-momentum) if momentum < 1 else 0.0


def least_momentum(steps: int, share: float = START_SHARE) -> float:
    """The smallest momentum whose running statistics keep at most ``share`` of their start
    after ``steps`` updates (:func:`start_share`), rounded up to two significant digits:
    ``1 - share ** (1 / steps)``, about ``-ln(share) / steps``."""
    exact = 1 - share ** (1 / steps)
    scale = 10.0 ** (math.floor(math.log10(exact)) - 1)
    return min(1.0, round(math.ceil(exact / scale) * scale, 12))


BATCHNORM = Kind(
    "batchnorm", "normalises each channel by its batch statistics, then scales and shifts",
    "norm", infer=_per_channel_norm_infer,
    build=lambda b: L.BatchNorm(b.output_shape[0], b.dtype, momentum=b.ir["momentum"],
                                eps=b.ir["eps"]),
    fields=(NORM_EPS,
            F.number("momentum", 0.1, f"{BATCHNORM_MOMENTUM}, e.g. 0.1", low=0, high=1),
            F.TRAINABLE),
    usage="batchnorm [eps E] [momentum M] [frozen] [ACTIVATION]",
    aliases=("bn",), takes_activation=True, fixed_inits=NORM_INITS, fixed_start=NORM_START,
    fixed_parts=NORM_PARTS, zero_start=NORM_ZERO_START,
    signal=_norm_signal, running_statistics=True,
    phrases=lambda ir, pads: [(f"eps {number_text(ir['eps'])}, "
                               f"momentum {number_text(ir['momentum'])}")],
    torch=_batchnorm_torch, onnx=_batchnorm_onnx,
    examples=(Example(((3, 3, 3),)), Example(((5,),))))


def _groups_divide(ir: dict, channels: int) -> None:
    groups = ir["groups"]
    if channels % groups:
        divisors = [d for d in range(1, channels + 1) if channels % d == 0]
        raise KindError(
            f"groupnorm '{ir['name']}' splits its {channels} channels (from "
            f"'{ir['inputs'][0]}') into {groups} groups, but {groups} does not divide "
            f"{channels}", "groups",
            hint=f"use a number of groups that divides {channels}: "
                 f"{', '.join(map(str, divisors))}")


def _groupnorm_infer(ir: dict, in_shapes) -> Inferred:
    shape = only_input(in_shapes)
    _groups_divide(ir, shape[0])
    return _per_channel_norm_infer(ir, in_shapes)


def _instancenorm_infer(ir: dict, in_shapes) -> Inferred:
    needs_map(ir, only_input(in_shapes))
    return _per_channel_norm_infer(ir, in_shapes)


def _layernorm_infer(ir: dict, in_shapes) -> Inferred:
    """A scale and a shift per element of an example, as PyTorch's nn.LayerNorm(C, H, W):
    2 * C * H * W parameters."""
    shape = only_input(in_shapes)
    return Inferred(shape, weight=shape, bias=shape)


def _groupnorm_onnx(g, ir: dict, ins, inf, xs: list[str]) -> str:
    """Each example's channels as (G, rest), instance-normalised (each of the G runs by its own
    statistics), shaped back, then scaled and shifted per channel (ONNX's GroupNormalization
    comes only with opset 18, and scales per group there until opset 21)."""
    groups = ir["groups"]
    runs = g.op("Reshape", [xs[0], g.const([0, groups, -1], "int64")])
    normal = g.op("InstanceNormalization", [runs, g.const([1.0] * groups),
                                            g.const([0.0] * groups)], epsilon=ir["eps"])
    back = g.op("Reshape", [normal, g.op("Shape", [xs[0]])])
    scaled = g.op("Mul", [back, g.param("weight", _channel_shape(ins[0]))])
    return g.op("Add", [scaled, g.param("bias", _channel_shape(ins[0]))])


def _norm_kind(name: str, summary: str, infer, build, torch, onnx, pooled_channels, *,
               fields=(), positional=(),
               usage: str = "", phrases=None, examples=(), aliases=()) -> Kind:
    """A normalisation by each example's own statistics: a scale (ones) and a shift (zeros),
    the same in training and evaluation, nothing shared across the batch; it resets the
    signal's scale to 1 as batch norm does."""
    return Kind(
        name, summary, "norm", infer=infer, build=build,
        fields=(*fields, NORM_EPS, F.TRAINABLE), positional=positional,
        usage=usage or f"{name} [eps E] [frozen] [ACTIVATION]", aliases=aliases,
        takes_activation=True, fixed_inits=NORM_INITS, fixed_start=NORM_START,
        fixed_parts=NORM_PARTS, zero_start=NORM_ZERO_START,
        signal=_norm_signal,
        phrases=phrases or (lambda ir, pads: [f"eps {number_text(ir['eps'])}"]),
        torch=torch, onnx=onnx, examples=examples, pooled_channels=pooled_channels)


LAYERNORM = _norm_kind(
    "layernorm", "normalises each example over all its values (C, H, W), then scales and "
    "shifts each value (Ba et al. 2016)", _layernorm_infer,
    lambda b: L.LayerNorm(b.output_shape, b.dtype, eps=b.ir["eps"]),
    lambda ir, ins, inf: call("nn.LayerNorm", list(ins[0]), eps=ir["eps"]),
    lambda g, ir, ins, inf, xs: g.op("LayerNormalization", [
        xs[0], g.param("weight"), g.param("bias")], axis=1, epsilon=ir["eps"]),
    lambda ir, shape: shape[0], aliases=("ln",),
    examples=(Example(((3, 3, 2),)), Example(((5,),), {"eps": 1e-3})))

GROUPNORM = _norm_kind(
    "groupnorm", "normalises each example's channels in G groups, then scales and shifts each "
    "channel (Wu & He 2018)", _groupnorm_infer,
    lambda b: L.GroupNorm(b.output_shape[0], b.ir["groups"], b.dtype, eps=b.ir["eps"]),
    lambda ir, ins, inf: call("nn.GroupNorm", ir["groups"], ins[0][0], eps=ir["eps"]),
    _groupnorm_onnx, lambda ir, shape: shape[0] // ir["groups"],
    fields=(F.count("groups", "number of groups", "the channels split into this many equal "
                    "runs, each normalised on its own, e.g. groupnorm 8 (32 in Wu & He)"),),
    positional=("groups",), usage="groupnorm G [eps E] [frozen] [ACTIVATION], e.g. groupnorm 4",
    phrases=lambda ir, pads: [
        f"{counted(ir['groups'], 'group')}, eps {number_text(ir['eps'])}"],
    aliases=("gn",),
    examples=(Example(((4, 3, 2),), {"groups": 2}), Example(((6,),), {"groups": 3})))

INSTANCENORM = _norm_kind(
    "instancenorm", "normalises each channel of each example over its pixels, then scales and "
    "shifts each channel (Ulyanov et al. 2016)", _instancenorm_infer,
    lambda b: L.GroupNorm(b.output_shape[0], b.output_shape[0], b.dtype, eps=b.ir["eps"]),
    lambda ir, ins, inf: call("nn.InstanceNorm2d", ins[0][0], eps=ir["eps"], affine=True),
    lambda g, ir, ins, inf, xs: g.op("InstanceNormalization", [
        xs[0], g.param("weight"), g.param("bias")], epsilon=ir["eps"]),
    lambda ir, shape: 1, examples=(Example(((3, 3, 4),)),))


def _add_infer(ir: dict, in_shapes) -> Inferred:
    if any(s != in_shapes[0] for s in in_shapes):
        raise KindError(
            f"add '{ir['name']}' sums inputs of equal shape, but got {listed(ir, in_shapes)}",
            "inputs", hint="make the branches agree: the same number of filters, and the same "
                           "stride and padding (a 1x1 conv can adapt the channels of a shortcut)")
    return Inferred(in_shapes[0])


def _concat_infer(ir: dict, in_shapes) -> Inferred:
    """Feature maps join along the channels, flat vectors along the features."""
    ranks = {len(s) for s in in_shapes}
    if ranks == {1}:
        return Inferred((sum(s[0] for s in in_shapes),))
    if len(ranks) > 1:
        raise KindError(
            f"concat '{ir['name']}' joins either (C, H, W) feature maps or flat vectors, but "
            f"got both: {listed(ir, in_shapes)}", "inputs",
            hint="flatten (or global_avgpool) the feature maps first to join flat vectors")
    if len({s[1:] for s in in_shapes}) != 1:
        raise KindError(
            f"concat '{ir['name']}' joins (C, H, W) feature maps of equal H and W along the "
            f"channels, but got {listed(ir, in_shapes)}", "inputs",
            hint="give the branches the same stride and padding (`pad same` keeps H and W)")
    return Inferred((sum(s[0] for s in in_shapes),) + in_shapes[0][1:])


def _concat_signal(ir: dict, moments: list[float], shapes) -> float:
    """Concatenation averages its inputs' second moments over the channels (features)."""
    channels = [s[0] for s in shapes]
    return sum(c * q for c, q in zip(channels, moments)) / sum(channels)


ADD = Kind(
    "add", "elementwise sum of >= 2 equally shaped inputs", "merge", infer=_add_infer,
    build=lambda b: L.Merge("add"), usage="add(a, b) or add <- a, b",
    takes_activation=True, merge=True, linear=True,
    signal=lambda ir, moments, shapes: sum(moments),  # independent branches: moments add
    torch=lambda ir, ins, inf: "Add()", onnx=lambda g, ir, ins, inf, xs: g.op("Sum", xs),
    examples=(Example(((2, 3, 3), (2, 3, 3), (2, 3, 3))),))

CONCAT = Kind(
    "concat", "concatenation of >= 2 inputs: feature maps along the channels, flat vectors "
    "along the features", "merge", infer=_concat_infer,
    build=lambda b: L.Merge("concat"), usage="concat(a, b) or concat <- a, b",
    aliases=("cat",), takes_activation=True, merge=True, linear=True, signal=_concat_signal,
    torch=lambda ir, ins, inf: "Concat()",
    onnx=lambda g, ir, ins, inf, xs: g.op("Concat", xs, axis=1),
    examples=(Example(((1, 3, 3), (3, 3, 3))), Example(((3,), (5,), (2,)))))

ALL = (CONV, CONV_TRANSPOSE, DENSE, MAXPOOL, AVGPOOL, GLOBAL_AVGPOOL, GLOBAL_MAXPOOL, UPSAMPLE,
       FLATTEN, RELU, TANH, SIGMOID, SOFTMAX, LOG_SOFTMAX, LEAKY_RELU, ELU, GELU, SILU, MISH,
       RELU6, HARDSWISH, PRELU,
       DROPOUT, DROPOUT2D, BATCHNORM, LAYERNORM, GROUPNORM, INSTANCENORM, ADD, CONCAT)
