"""Kernel taps that never meet the input: a warning for each trainable convolution with weights
that only ever multiply its padding's zeros.

Output ``y`` of a convolution reads input position ``p = y*s + i*d - pad`` with tap ``i``
(stride ``s``, dilation ``d``, ``pad`` before the input), and only ``0 <= p < H`` is the input.
A kernel wider than what its input and padding let it reach (``conv 16 3x3 pad same`` on a 1x1
map, a 100x100 kernel on 8x8 images) has taps for which no output finds such a ``p``: their
weights multiply zeros at every position, so their gradient is 0 at every step and they never
change (weight decay only shrinks them), while the parameter count and the init's fan_in count
them. The layer computes what a kernel of the taps that do meet the input computes, with the
padding cut to match.
"""
from __future__ import annotations

from cnnspec.check.model import LayerInfo
from cnnspec.errors import SpecError
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import is_trained
from cnnspec.kinds import KINDS, is_weighted
from cnnspec.shapes import shape_text, tap_reads


def unreached_taps(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """A warning at the kernel of each trainable convolution (``Kind.zero_padded`` with a
    weight) some of whose taps never meet the input, with how many do."""
    out = []
    for info in layers:
        if not (KINDS[info.kind].zero_padded and is_weighted(info.kind) and info.pads
                and is_trained(info.ir)):
            continue
        kernel = tuple(info.ir["kernel"])
        met = [_met_taps(k, s, d, before, size, out_size) for k, s, d, before, size, out_size
               in zip(kernel, info.ir["stride"], info.ir["dilation"], info.pads[::2],
                      info.input_shapes[0][1:], info.output_shape[1:])]
        used = len(met[0]) * len(met[1])
        if used == kernel[0] * kernel[1]:
            continue
        span = tuple(taps[-1] - taps[0] + 1 if taps else 0 for taps in met)
        out.append(spec.error(_message(info, kernel, used), info.name, "kernel",
                              severity="warning", hint=_hint(span, kernel)))
    return out


def _met_taps(k: int, stride: int, dilation: int, before: int, size: int,
              out_size: int) -> list[int]:
    """The taps ``i`` of a kernel of ``k`` along one axis that read the input at some output
    ``y < out_size``: ``0 <= y*stride + i*dilation - before < size`` for some ``y >= 0``
    (:func:`cnnspec.shapes.tap_reads`: a 100000x1 kernel over 8 rows has 100000 taps, and 8
    or so that can)."""
    return sorted(tap_reads(size, out_size, k, stride, dilation, before))


def _message(info: LayerInfo, kernel: tuple[int, int], used: int) -> str:
    total, where = kernel[0] * kernel[1], shape_text(info.input_shapes[0][1:])
    if used == 0:
        return (f"{info.kind} '{info.name}': none of the {total:,} taps of its "
                f"{shape_text(kernel)} kernel meets its {where} input, only the padding's "
                "zeros: its output holds its bias alone, and its weights never change")
    return (f"{info.kind} '{info.name}': only {used:,} of the {total:,} taps of its "
            f"{shape_text(kernel)} kernel meet its {where} input; the other {total - used:,} "
            "only ever multiply the padding's zeros, so their weights get no gradient and never "
            "change, though its parameters and its init's fan_in count them")


def _hint(span: tuple[int, int], kernel: tuple[int, int]) -> str:
    """A kernel of the taps that meet the input, or none where no tap does."""
    if 0 in span:
        return "no tap meets the input: a smaller kernel or less padding lets the layer read it"
    return (f"a {shape_text(span)} kernel (the taps that meet the input), with its padding "
            f"cut to match, computes the same outputs with "
            f"{kernel[0] * kernel[1] - span[0] * span[1]:,} fewer weights per input channel")
