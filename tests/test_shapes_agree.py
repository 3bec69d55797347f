"""The checker's inferred shapes (from cnnspec.shapes) equal the shapes the engine produces,
over a grid of kernel, stride, padding, dilation and input sizes."""
import itertools

import numpy as np
import pytest

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.errors import SpecErrors
from cnnspec.lang import parse

TRAIN = 'train {\n  data npz(path="unused.npz")\n}\n'


def _run(layers_text: str, in_shape: tuple[int, int, int]):
    """Check a spec, run its model on a batch of 2 with recording on; the checker's and the
    engine's shape of every layer (None when the checker rejects the spec)."""
    c, h, w = in_shape
    text = f"model grid\ninput {c}x{h}x{w}\n{layers_text}\n{TRAIN}"
    try:
        checked = check(parse(text))
    except SpecErrors:
        return None
    if any(_all_padding_window(info) for info in checked.layers):
        return None
    model = compile_spec(checked, seed=0, dtype="float64")
    model.record = True
    model.forward(np.random.default_rng(0).standard_normal((2, c, h, w)))
    expected = {info.name: info.output_shape for info in checked.layers}
    produced = {name: out.shape[1:] for name, out in model.activations.items()}
    return expected, produced


def _all_padding_window(info) -> bool:
    """A max pool whose padding exceeds half its window has windows of padding only (-inf);
    PyTorch rejects such padding, and so do we here."""
    if info.kind != "maxpool":
        return False
    kh, kw = info.ir["size"]
    top, bottom, left, right = info.pads
    return max(top, bottom) > kh // 2 or max(left, right) > kw // 2


SIZES = [(5, 7), (8, 8), (9, 6)]
KERNELS = ["1x1", "2x3", "3x3", "5x2"]
STRIDES = ["1", "2", "3x1"]
PADS = ["valid", "same", "1", "2x0", "0x1x1x0"]
DILATIONS = ["1", "2x1"]


@pytest.mark.parametrize("hw", SIZES)
def test_conv_grid(hw):
    checked = 0
    for kernel, stride, pad, dilation in itertools.product(KERNELS, STRIDES, PADS, DILATIONS):
        layers = (f"c: conv 2 {kernel} stride {stride} pad {pad} dilation {dilation}\n"
                  "f: flatten\nd: dense 3")
        result = _run(layers, (2,) + hw)
        if result is None:
            continue  # the window does not fit: the checker said so, nothing to run
        expected, produced = result
        assert produced == expected, (kernel, stride, pad, dilation, hw)
        checked += 1
    assert checked > 60


@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_pool_grid(hw, kind):
    checked = 0
    for size, stride, pad, ceil in itertools.product(["1", "2", "3", "2x3"], STRIDES, PADS,
                                                     ["false", "true"]):
        layers = (f"p: {kind} {size} stride {stride} pad {pad} ceil_mode {ceil}\n"
                  "f: flatten\nd: dense 3")
        result = _run(layers, (2,) + hw)
        if result is None:
            continue
        expected, produced = result
        assert produced == expected, (size, stride, pad, ceil, hw)
        checked += 1
    assert checked > 40


def test_the_taps_that_read_the_input_are_those_a_visit_of_every_tap_finds():
    """taps_reading, outputs_reading and reaching_taps (ranges worked out in whole numbers,
    so that a 100000x1 kernel is not visited tap by tap) against visiting every tap at every
    output, over a grid of sizes, kernels, strides, dilations and paddings."""
    from cnnspec.shapes import outputs_reading, reaching_taps, taps_reading, window_output_size

    for size, k, s, d, before, after in itertools.product(range(1, 6), range(1, 7),
                                                          range(1, 5), range(1, 4),
                                                          range(7), (0, 3)):
        out = window_output_size(size, k, s, before, after, d)
        if out < 1:
            continue
        reads = {(y, i) for y in range(out) for i in range(k)
                 if 0 <= y * s + i * d - before < size}
        for y in range(out):
            assert list(taps_reading(y, size, k, s, d, before)) == \
                [i for i in range(k) if (y, i) in reads]
        for i in range(k):
            assert list(outputs_reading(i, size, out, s, d, before)) == \
                [y for y in range(out) if (y, i) in reads]
        assert {i for _, i in reads} <= set(reaching_taps(size, out, k, s, d, before))


def test_a_crop_keeps_every_read_of_the_input_where_the_cropped_window_reads_it():
    """crop_axis against visiting every tap at every output: the kept outputs and taps hold
    every read of the input, and the same window over the kept inputs with the crop's
    padding gives exactly the kept outputs, whose kept taps read there what they read in the
    whole layer (the input, or padding); None only where no tap of any output reads the
    input."""
    from cnnspec.shapes import crop_axis, window_output_size

    cropped = nothing = 0  # crops smaller than the layer; crops of windows reading no input
    for size, k, s, d, before, after in itertools.product(range(1, 6), range(1, 7),
                                                          range(1, 5), range(1, 4),
                                                          (0, 1, 4, 9), (0, 3, 10)):
        out = window_output_size(size, k, s, before, after, d)
        if out < 1:
            continue
        reads = {(y, i) for y in range(out) for i in range(k)
                 if 0 <= y * s + i * d - before < size}
        crop = crop_axis(size, k, s, before, after, d)
        if crop is None:
            assert not reads
            continue
        assert {y for y, _ in reads} <= set(crop.outputs)
        assert {i for _, i in reads} <= set(crop.taps)
        inputs = len(crop.inputs)
        assert window_output_size(inputs, len(crop.taps), s, crop.before, crop.after, d) \
            == len(crop.outputs)
        for y, i in itertools.product(range(len(crop.outputs)), range(len(crop.taps))):
            there = y * s + i * d - crop.before  # in the cropped input
            whole = (crop.outputs.start + y) * s + (crop.taps.start + i) * d - before
            assert (0 <= there < inputs) == (0 <= whole < size)
            assert not 0 <= there < inputs or crop.inputs.start + there == whole
        cropped += len(crop.outputs) < out or len(crop.taps) < k
        nothing += not reads
    assert cropped > 100 and nothing > 10
