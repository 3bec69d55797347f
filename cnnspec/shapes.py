"""Output-size formulas for sliding windows, shared by the checker and the engine.

Each formula exists here once. For a window of size ``k`` with dilation ``d`` the effective size
is ``d * (k - 1) + 1``; with ``before`` and ``after`` padding and stride ``s`` the output size is
``floor((n + before + after - effective) / s) + 1`` (the convolution arithmetic of Dumoulin &
Visin 2016, eq. 15). ``"same"`` padding follows TensorFlow: the output is ``ceil(n / s)`` and the
total padding ``max((out - 1) * s + effective - n, 0)`` is split with the extra pixel after.
Pooling's ``ceil_mode`` (Caffe's rounding, PyTorch's ``ceil_mode=True``) rounds the division up
instead, keeping a last window that hangs over the end only if it starts inside the input or
its leading padding (PyTorch's rule: no window starts in trailing padding).
"""
from __future__ import annotations

import math

from cnnspec.records import record

Padding = tuple[int, int, int, int]  # (top, bottom, left, right)


def shape_text(shape) -> str:
    """A shape or size as the language writes it and every message, table and picture shows
    it: ``(16, 8, 8)`` -> ``16x8x8``, a kernel ``(3, 3)`` -> ``3x3``, a flat ``(120,)`` ->
    ``120`` (and ``()`` -> ``""``)."""
    return "x".join(_size_text(n) for n in shape)


# Channels an image has in Keras' and TensorFlow's default layout, (H, W, C).
IMAGE_CHANNELS = (1, 3, 4)


def channels_first(shape) -> tuple[int, int, int] | None:
    """``(C, H, W)`` of a shape that reads as height x width x channels written where channels
    come first (``28x28x1``, ``32x32x3``: a last size that is an image's channel count, a
    first that is not), else None."""
    if len(shape) != 3:
        return None
    if shape[2] in IMAGE_CHANNELS and shape[0] not in IMAGE_CHANNELS:
        return from_channels_last(shape)
    return None


def from_channels_last(shape) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image's shape ``(H, W, C)``, as Keras and TensorFlow write it by
    default (channels_last)."""
    h, w, c = shape
    return (c, h, w)


# What a shape written as Keras writes one is told: the order of the input line's sizes.
CHANNELS_ORDER = ("the input is written channels x height x width, not height x width x "
                  "channels as in Keras")


def _size_text(n) -> str:
    """``3`` for 3, 3.0 or NumPy's 3; anything else as Python writes it (a mistaken 2.5, nan)."""
    try:
        whole = int(n)
    except (TypeError, ValueError, OverflowError):
        return str(n)
    return str(whole) if whole == n else str(n)


def effective_size(kernel: int, dilation: int = 1) -> int:
    """Span of a dilated window: ``dilation * (kernel - 1) + 1``."""
    return dilation * (kernel - 1) + 1


def same_padding_1d(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding that makes the output ``ceil(size / stride)`` long."""
    out = -(-size // stride)  # ceil in whole numbers: a float quotient overflows for huge sizes
    total = max((out - 1) * stride + effective_size(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def resolve_padding(
    padding: str | list[int] | tuple[int, ...],
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> Padding:
    """Turn an IR padding (``"valid"``, ``"same"``, ``[ph, pw]`` or ``[top, bottom, left,
    right]``) into (top, bottom, left, right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        top, bottom = same_padding_1d(in_hw[0], kernel[0], stride[0], dilation[0])
        left, right = same_padding_1d(in_hw[1], kernel[1], stride[1], dilation[1])
        return (top, bottom, left, right)
    if len(padding) == 4:
        return tuple(padding)
    ph, pw = padding
    return (ph, ph, pw, pw)


def window_output_size(size: int, kernel: int, stride: int, before: int, after: int,
                       dilation: int = 1, ceil_mode: bool = False) -> int:
    """Number of window positions along one axis; may be < 1 when the window does not fit."""
    span = size + before + after - effective_size(kernel, dilation)
    if not ceil_mode or span < 0:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + before:  # the last window would start in trailing padding
        out -= 1
    return out


def window_output_hw(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: Padding,
    dilation: tuple[int, int] = (1, 1),
    ceil_mode: bool = False,
) -> tuple[int, int]:
    """(H_out, W_out) of a conv or pooling window over an (H, W) input with resolved padding."""
    top, bottom, left, right = pads
    return (
        window_output_size(in_hw[0], kernel[0], stride[0], top, bottom, dilation[0], ceil_mode),
        window_output_size(in_hw[1], kernel[1], stride[1], left, right, dilation[1], ceil_mode),
    )


def ceil_mode_pads(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                   pads: Padding) -> Padding:
    """``pads`` with the overhang of ceil mode's last windows added after (bottom, right): a
    window over an input padded so has the ceil-mode output size."""
    out_hw = window_output_hw(in_hw, kernel, stride, pads, ceil_mode=True)
    top, bottom, left, right = pads
    extra = [max((o - 1) * s + k - (n + before + after), 0) for o, s, k, n, before, after in
             zip(out_hw, stride, kernel, in_hw, (top, left), (bottom, right))]
    return (top, bottom + extra[0], left, right + extra[1])


def transposed_output_size(size: int, kernel: int, stride: int, before: int, after: int,
                           dilation: int = 1, output_pad: int = 0) -> int:
    """Output length of a transposed convolution along one axis; may be < 1.

    ``(size - 1) * stride - before - after + dilation * (kernel - 1) + output_pad + 1``:
    PyTorch's ``nn.ConvTranspose2d`` formula with ``padding`` split into ``before`` and
    ``after`` (Dumoulin & Visin 2016, section 4.6, relationship 14). Without padding and
    output padding it is the whole span the kernel taps reach, ``(size - 1) * stride +
    effective``; padding crops that span on each side, output padding adds rows after it (no
    tap reaches them: they hold the bias only). The convolution of the same kernel, stride and
    padding maps this length back to ``size`` as long as ``output_pad < stride``.
    """
    return ((size - 1) * stride - before - after + effective_size(kernel, dilation)
            + output_pad)


def transposed_same_padding_1d(size: int, kernel: int, stride: int,
                               dilation: int = 1) -> tuple[int, int, int]:
    """``(before, after, output_pad)`` of a ``"same"`` transposed convolution, whose output is
    ``size * stride`` long: TensorFlow's ``conv2d_transpose`` (Keras ``Conv2DTranspose``),
    the input gradient of a ``"same"`` convolution over ``size * stride`` pixels
    (:func:`same_padding_1d`, the extra pixel after); a kernel that spans less than the
    stride leaves ``stride - effective`` rows after its taps (``output_pad``)."""
    before, after = same_padding_1d(size * stride, kernel, stride, dilation)
    return before, after, max(stride - effective_size(kernel, dilation), 0)


# Which input positions a window's taps read. Output ``y`` reads position ``y * stride + i *
# dilation - before`` through tap ``i`` (``before`` padding in front); only ``0 <= p < size``
# is the input, the rest the padding. Each answer is a range worked out in whole numbers, so
# no caller loops over a kernel's taps to find the few that meet a small input (a 100000x1
# kernel over 8 rows).

def taps_reading(y: int, size: int, kernel: int, stride: int, dilation: int,
                 before: int) -> range:
    """The taps through which output ``y`` reads the input, not its padding."""
    start = y * stride - before  # the position tap 0 reads
    return range(max(0, -(start // dilation)), min(kernel, (size - 1 - start) // dilation + 1))


def outputs_reading(tap: int, size: int, out: int, stride: int, dilation: int,
                    before: int) -> range:
    """The outputs (of ``out``) that read the input, not its padding, through ``tap``."""
    first = tap * dilation - before  # the position output 0 reads
    return range(max(0, -(first // stride)), min(out, (size - 1 - first) // stride + 1))


def tap_reads(size: int, out: int, kernel: int, stride: int, dilation: int,
              before: int) -> dict[int, int]:
    """How many of the ``out`` outputs read the input, not its padding, through each tap that
    any does (taps no output reads there are left out). Worked out over the taps that may
    reach the input (:func:`reaching_taps`) or over the outputs, each reading at most ``size /
    dilation + 1`` taps, whichever is fewer: a stride far beyond a small input leaves millions
    of taps between the few that meet it."""
    reaching = reaching_taps(size, out, kernel, stride, dilation, before)
    if len(reaching) <= out * (size // dilation + 1):
        counts = {tap: len(outputs_reading(tap, size, out, stride, dilation, before))
                  for tap in reaching}
        return {tap: count for tap, count in counts.items() if count}
    reads: dict[int, int] = {}
    for y in range(out):
        for tap in taps_reading(y, size, kernel, stride, dilation, before):
            reads[tap] = reads.get(tap, 0) + 1
    return reads


def reaching_taps(size: int, out: int, kernel: int, stride: int, dilation: int,
                  before: int) -> range:
    """The taps that may read the input at one of ``out`` outputs: outside this range
    :func:`outputs_reading` is empty (inside it, too, where the stride skips the input). It
    holds at most ``((out - 1) * stride + size) / dilation + 1`` taps, however large the
    kernel."""
    lowest = before - (out - 1) * stride  # the smallest tap * dilation the last output reads
    return range(max(0, -(-lowest // dilation)), min(kernel, (before + size - 1) // dilation + 1))


def reaching_outputs(size: int, out: int, kernel: int, stride: int, dilation: int,
                     before: int) -> range:
    """The outputs (of ``out``) whose window may read the input: outside this range every tap
    reads padding (inside it, too, where the dilation skips the input)."""
    lowest = before - (kernel - 1) * dilation  # the smallest y * stride whose last tap reaches
    return range(max(0, -(-lowest // stride)), min(out, (before + size - 1) // stride + 1))


def inputs_read(size: int, out: int, kernel: int, stride: int, dilation: int,
                before: int) -> tuple[range, ...]:
    """The input positions (of ``size``) that the ``out`` outputs of a window read through
    some tap, as disjoint runs: one per tap that may reach the input (the outputs reading
    through it, ``stride`` apart) or one per output (its taps, ``dilation`` apart), whichever
    are fewer, as :func:`tap_reads` walks them, merged where they meet. A 1x1 window of
    stride 2 over 10^8 positions is one run, not 5 * 10^7 marks."""
    if dilation == 1 and kernel >= stride:  # windows that touch or overlap: one span
        span = range(max(-before, 0), min((out - 1) * stride + kernel - before, size))
        return (span,) if span else ()
    reaching = reaching_taps(size, out, kernel, stride, dilation, before)
    if len(reaching) <= out:
        runs = [_run(ys.start * stride + tap * dilation - before, len(ys), stride)
                for tap in reaching
                if (ys := outputs_reading(tap, size, out, stride, dilation, before))]
    else:
        runs = [_run(y * stride + taps.start * dilation - before, len(taps), dilation)
                for y in range(out)
                if (taps := taps_reading(y, size, kernel, stride, dilation, before))]
    return _merged_runs(runs)


def transposed_inputs_read(size: int, out: int, kernel: int, stride: int, dilation: int,
                           before: int) -> tuple[range, ...]:
    """The input positions (of ``size``) of a transposed convolution that reach one of its
    ``out`` outputs, as disjoint runs; its padding crops away every output of the others.
    Input ``p`` adds tap ``i`` to output ``p * stride + i * dilation - before``: the
    convolution's relation with input and output swapped, so tap ``i`` brings the inputs that
    the convolution's outputs reading its input through ``i`` would be
    (:func:`outputs_reading` over ``out`` positions), one run per tap."""
    taps = reaching_taps(out, size, kernel, stride, dilation, before)
    return _merged_runs([reached for tap in taps
                         if (reached := outputs_reading(tap, out, size, stride, dilation,
                                                        before))])


def _run(start: int, count: int, step: int) -> range:
    return range(start, start + (count - 1) * step + 1, step)


def _merged_runs(runs: list[range]) -> tuple[range, ...]:
    """``runs`` of positions, each of one step, as disjoint runs by first position: runs of
    the same step whose positions interleave alike (the same ``start % step``) merge where
    one starts at most a step past the other's last."""
    merged: list[range] = []
    for run in sorted(runs, key=lambda r: (r.step, r.start % r.step, r.start)):
        last = merged[-1] if merged else None
        if (last is not None and last.step == run.step
                and last.start % last.step == run.start % run.step
                and run.start <= last[-1] + last.step):
            merged[-1] = range(last.start, max(last.stop, run.stop), run.step)
        else:
            merged.append(run)
    return tuple(sorted(merged, key=lambda r: r.start))


@record(frozen=True)
class AxisCrop:
    """Along one axis, the part of a window op that reads the input: the ``outputs`` and
    ``taps`` (:func:`reaching_outputs`, :func:`reaching_taps`) and the ``inputs`` they read,
    padded by ``before`` and ``after``. The same window (stride, dilation) over those inputs
    so padded, with those taps, gives exactly those outputs; every other output reads only
    padding through every tap, and every other tap reads only padding at every output."""

    outputs: range
    taps: range
    inputs: range
    before: int
    after: int


def crop_axis(size: int, kernel: int, stride: int, before: int, after: int,
              dilation: int = 1) -> AxisCrop | None:
    """The :class:`AxisCrop` of a window along one axis, or None where no output reads the
    input through any tap (every output is then the padding's alone). The ranges are worked
    out in whole numbers, never tap by tap; where a stride or dilation steps over a small
    input they may keep outputs and taps that read only padding (None only where none can)."""
    out = window_output_size(size, kernel, stride, before, after, dilation)
    outputs = reaching_outputs(size, out, kernel, stride, dilation, before)
    # the taps that reach the input from one of the kept outputs: shift output 0 to the first
    taps = reaching_taps(size, len(outputs), kernel, stride, dilation,
                         before - outputs.start * stride)
    if not outputs or not taps:
        return None
    start = outputs.start * stride + taps.start * dilation - before  # the first position read
    stop = start + (len(outputs) - 1) * stride + (len(taps) - 1) * dilation + 1
    inputs = range(max(start, 0), min(stop, size))
    if not inputs:  # the dilation steps over the whole input
        return None
    return AxisCrop(outputs, taps, inputs, inputs.start - start, stop - inputs.stop)


def upsampling_reads(size: int, factor: int, mode: str) -> tuple[tuple[tuple[int, float], ...],
                                                                 ...]:
    """Along one axis of ``size`` pixels upsampled ``factor`` times, the input pixels each
    output index mixes and their weights (PyTorch's ``nn.Upsample``): ``nearest`` copies pixel
    ``y // factor``; ``bilinear`` (``align_corners=False``) reads the source position
    ``max((y + 0.5) / factor - 0.5, 0)`` (pixel centres line up; PyTorch's
    ``area_pixel_compute_source_index``) and mixes the two pixels around it linearly, the last
    one repeated past the edge (both of its reads then the same pixel). The engine's
    interpolation and the checker's signal estimate both read it."""
    if mode == "nearest":
        return tuple(((y // factor, 1.0),) for y in range(size * factor))
    reads = []
    for y in range(size * factor):
        source = max((y + 0.5) / factor - 0.5, 0.0)
        low = math.floor(source)
        weight = source - low
        reads.append(((low, 1.0 - weight), (min(low + 1, size - 1), weight)))
    return tuple(reads)
