"""The tuned convolution (what the engine runs) against the reference (im2col + one GEMM):
values and all three gradients over a grid of shapes, float64 tight and float32 loose, with
the machine's thresholds and with tiny ones that make every shape cross them; then one case
per tuned path, each checked to take that path, on both sides of every threshold."""
import weakref

import numpy as np
import pytest

from cnnspec.engine import chunking, conv, conv_tuned, footprint, phases, row_taps, windows
from cnnspec.engine.calibrate import Thresholds
from cnnspec.engine.chunking import COLUMN_CANDIDATES, COLUMNS_SHARE, chunk_bytes
from cnnspec.shapes import resolve_padding

TOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-4}  # relative to the largest value

KERNELS = [(1, 1), (3, 3), (5, 5), (3, 2)]
STRIDES = [(1, 1), (2, 2), (2, 1)]
PADS = ["valid", "same", "asymmetric"]
DILATIONS = [(1, 1), (2, 2)]
CHANNELS = [(1, 6), (3, 4), (16, 16), (64, 8), (8, 64), (2, 3)]  # (C, F)
BATCHES = [1, 3, 9]
GRID = [(k, s, p, d) for k in KERNELS for s in STRIDES for p in PADS for d in DILATIONS]


def _pads(kind, kernel, dilation):
    if kind == "valid":
        return (0, 0, 0, 0)
    if kind == "asymmetric":  # wider than a 1x1 kernel reaches: no transposed convolution
        return (2, 0, 1, 3)
    reach_h, reach_w = (d * (k - 1) for k, d in zip(kernel, dilation))
    return (reach_h // 2, reach_h - reach_h // 2, reach_w // 2, reach_w - reach_w // 2)


def _close(ours, reference, dtype):
    assert ours.dtype == reference.dtype == dtype
    scale = max(1.0, float(np.abs(reference).max()))
    np.testing.assert_allclose(ours, reference, rtol=0, atol=TOL[dtype] * scale)


def _compare(x, w, b, stride, pads, dilation, work=None, repeat=1):
    """Forward and every gradient of both modules on the same arrays; with ``work`` the tuned
    module runs ``repeat`` times with new values, reusing its buffers."""
    rng = np.random.default_rng(7)
    for _ in range(repeat):
        out, cache = conv.conv2d_forward(x, w, b, stride, pads, dilation)
        t_out, t_cache = conv_tuned.conv2d_forward(x, w, b, stride, pads, dilation, work=work)
        _close(t_out, out, x.dtype)
        dout = rng.standard_normal(out.shape).astype(x.dtype)
        before = dout.copy()
        for ours, theirs in zip(conv_tuned.conv2d_backward(dout, t_cache, work=work),
                                conv.conv2d_backward(dout, cache)):
            if theirs is None:
                assert ours is None
            else:
                _close(ours, theirs, x.dtype)
        np.testing.assert_array_equal(dout, before)
        x = x + rng.standard_normal(x.shape).astype(x.dtype)  # new values, same buffers


def _arrays(n, c, f, kernel, dtype, seed=0, hw=(11, 10)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *hw)).astype(dtype)
    w = (rng.standard_normal((f, c, *kernel)) / np.sqrt(c * kernel[0] * kernel[1])).astype(dtype)
    return x, w, rng.standard_normal(f).astype(dtype)


TINY = Thresholds(chunk_bytes=4096, chunk_columns=64)  # one image per chunk, nothing kept


@pytest.mark.parametrize("limits", ["machine", "tiny"])
@pytest.mark.parametrize("index, kernel, stride, pad, dilation",
                         [(i, *case) for i, case in enumerate(GRID)])
def test_tuned_equals_reference_over_the_grid(monkeypatch, limits, index, kernel, stride, pad,
                                              dilation):
    if limits == "tiny":
        monkeypatch.setattr(conv_tuned, "thresholds", lambda: TINY)
        monkeypatch.setattr(footprint, "KEEP_BYTES", 64 * 2 ** 10)
        monkeypatch.setattr(chunking, "STRIDED_MIN_VALUES", 0)  # strided: one image a chunk too
    c, f = CHANNELS[index % len(CHANNELS)]
    n = BATCHES[(index // len(CHANNELS)) % len(BATCHES)]
    pads = _pads(pad, kernel, dilation)
    for dtype in (np.float64, np.float32):
        x, w, b = _arrays(n, c, f, kernel, dtype, seed=index)
        _compare(x, w, b, stride, pads, dilation)
        _compare(x, w, None, stride, pads, dilation, work={}, repeat=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batches_larger_than_the_machines_chunks(dtype):
    """A LeNet first layer and a VGG-style layer at batches that span several chunks of the
    calibrated size, kept and not, with a shorter last chunk."""
    limits = conv_tuned.thresholds()
    size = 28 * 28
    n = 2 * max(1, limits.chunk_columns // size) + 1
    x, w, b = _arrays(n, 1, 6, (5, 5), dtype, hw=(28, 28))
    assert conv_tuned.images_per_chunk(25, size, n, x.itemsize) < n
    _compare(x, w, b, (1, 1), (2, 2, 2, 2), (1, 1), work={})
    _compare(x, w, b, (1, 1), (2, 2, 2, 2), (1, 1))
    x, w, b = _arrays(24, 32, 32, (3, 3), dtype, hw=(16, 16))
    assert conv_tuned.images_per_chunk(32 * 9, 256, 24, x.itemsize) < 24
    _compare(x, w, b, (1, 1), (1, 1, 1, 1), (1, 1), work={})


SPIED = ["correlate", "_correlate_kept", "_correlate_blocks", "_weight_grad_blocks",
         "_weight_grad_kept", "_input_grad_col2im", "col2im", "col2im_block", "im2col_wide",
         "_small_plan"]


# row_taps' passes, counted as "rows.<name>"
SPIED_ROWS = ["correlate", "backward", "_input_grad_block"]
# the strided input gradient phase by phase, counted as "phases.input_grad"
SPIED_PHASES = ["input_grad"]


@pytest.fixture
def calls(monkeypatch):
    """How often each spied function of the tuned module (and of row_taps) ran. The machine's
    thresholds are measured first, where this process has not yet: their first use times
    convolutions through the spied functions, which would count in the test that made it."""
    conv_tuned.thresholds()
    counts = dict.fromkeys([*SPIED, *(f"rows.{name}" for name in SPIED_ROWS),
                            *(f"phases.{name}" for name in SPIED_PHASES)], 0)
    spied = [(conv_tuned, name, name) for name in SPIED]
    spied += [(row_taps, name, f"rows.{name}") for name in SPIED_ROWS]
    spied += [(phases, name, f"phases.{name}") for name in SPIED_PHASES]
    for module, name, key in spied:
        original = getattr(module, name)

        def spy(*args, _key=key, _original=original, **kwargs):
            counts[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return counts


def _path_case(x_hw, c, f, kernel, stride, pads, work, dtype=np.float64, dilation=(1, 1),
               repeat=1):
    x, w, b = _arrays(3, c, f, kernel, dtype, hw=x_hw)
    _compare(x, w, b, stride, pads, dilation, work=work, repeat=repeat)
    return x, w


@pytest.fixture
def chunked(monkeypatch):
    """Chunks of two images: the three-image cases below are not one chunk, so they take the
    chunked paths rather than the small one."""
    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=2 ** 30, chunk_columns=2 * 64))


def test_kept_columns_on_both_sides_of_the_limit(monkeypatch, calls, chunked):
    size = 3 * 2 * 9 * 8 * 8 * 8  # rows * columns * batch * bytes of the case below
    monkeypatch.setattr(footprint, "KEEP_BYTES", size)
    _path_case((8, 8), 2, 3, (3, 3), (1, 1), (1, 1, 1, 1), work={})
    assert calls["_correlate_kept"] == 1 and calls["_weight_grad_kept"] == 1
    monkeypatch.setattr(footprint, "KEEP_BYTES", size - 1)
    _path_case((8, 8), 2, 3, (3, 3), (1, 1), (1, 1, 1, 1), work={})
    assert calls["_correlate_kept"] == 1 and calls["_weight_grad_kept"] == 1  # not again
    monkeypatch.setattr(footprint, "KEEP_BYTES", 2 ** 30)
    _path_case((8, 8), 4, 3, (3, 3), (1, 1), (1, 1, 1, 1), work={})  # 36 rows: not thin
    assert calls["_correlate_kept"] == 1 and calls["_weight_grad_kept"] == 1  # not kept


def test_kept_columns_built_in_groups_with_a_shorter_last_group_and_chunk(monkeypatch, calls):
    """A thin layer's kept matrix is built and multiplied a group of chunks at a time (as many
    as ``block_bytes`` holds, not the L2 cache's ``chunk_bytes``): 11 images in chunks of 2
    make groups of 4 and 1 chunks, and a last chunk of one image."""
    chunk = 25 * 2 * 64 * 8  # rows x columns of two 8x8 outputs x float64's bytes
    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=2 * chunk, chunk_columns=2 * 64,
                                           block_bytes=4 * chunk))
    monkeypatch.setattr(footprint, "KEEP_BYTES", 2 ** 30)
    groups = []
    chunks = conv_tuned.im2col_chunks
    monkeypatch.setattr(conv_tuned, "im2col_chunks",
                        lambda xp, win, step, out: groups.append(len(out)) or chunks(xp, win,
                                                                                   step, out))
    x, w, b = _arrays(11, 1, 3, (5, 5), np.float64, hw=(12, 12))
    assert conv_tuned.images_per_chunk(25, 64, 11, 8) == 2
    _compare(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1), work={}, repeat=2)
    assert calls["_correlate_kept"] == 2 and calls["_weight_grad_kept"] == 2
    assert groups == [4, 1] * 2  # the last image's chunk by im2col, once a pass


def test_wide_columns_at_stride_1_only(calls):
    _path_case((8, 8), 2, 3, (3, 3), (1, 1), (1, 1, 1, 1), work=None)
    assert calls["im2col_wide"] > 0
    wide = calls["im2col_wide"]
    _path_case((8, 8), 2, 3, (3, 3), (2, 2), (1, 1, 1, 1), work=None)
    assert calls["im2col_wide"] == wide


def test_input_gradient_paths_on_both_sides_of_the_ratio(calls, chunked):
    """Stride 1, "same" padding (H*W = Ho*Wo): the transposed convolution while F <= C, col2im
    folded block by block above; phase by phase for stride 2, col2im's scatter where the
    kernel is smaller than the stride; the fold for padding past the kernel too."""
    assert footprint.TRANSPOSED_RATIO == 1
    _path_case((8, 8), 3, 3, (3, 3), (1, 1), (1, 1, 1, 1), work={})  # F = C: transposed
    assert calls["_input_grad_col2im"] == 0 and calls["correlate"] == 2  # forward and dx
    _path_case((8, 8), 3, 4, (3, 3), (1, 1), (1, 1, 1, 1), work={})  # F > C: col2im
    # one fold per block: 8 rows of the padded width 10, blocks of one image
    assert calls["_input_grad_col2im"] == 1 and calls["col2im_block"] == 3
    _path_case((8, 8), 3, 2, (3, 3), (2, 2), (1, 1, 1, 1), work={})  # stride 2: phases
    assert calls["phases.input_grad"] == 1 and calls["col2im"] == 0
    _path_case((8, 8), 3, 2, (1, 1), (2, 2), (0, 0, 0, 0), work={})  # 1x1, stride 2
    assert calls["phases.input_grad"] == 1 and calls["col2im"] == 1
    _path_case((8, 8), 4, 2, (1, 1), (1, 1), (1, 0, 0, 1), work={})  # padding past the reach
    assert calls["_input_grad_col2im"] == 4 and calls["col2im_block"] == 6


# (x's height and width, kernel, stride, padding kind) of strided layers by phases: strides 2
# and 3, even and uneven ones, odd sizes, kernels from the stride up, no padding, one, "same"
PHASE_CASES = [((11, 10), (3, 3), (2, 2), "valid"), ((11, 10), (3, 3), (2, 2), "one"),
               ((9, 9), (3, 3), (2, 2), "same"), ((12, 13), (4, 4), (2, 2), "same"),
               ((11, 10), (3, 3), (3, 3), "one"), ((13, 11), (5, 5), (3, 3), "same"),
               ((10, 11), (5, 4), (3, 2), "valid"), ((9, 8), (3, 2), (2, 1), "one"),
               ((7, 7), (3, 3), (3, 3), "valid"), ((5, 6), (2, 2), (2, 2), "one")]


def _phase_pads(kind, kernel, stride, hw):
    if kind == "one":
        return (1, 1, 1, 1)
    return resolve_padding(kind, hw, kernel, stride, (1, 1))


@pytest.mark.parametrize("in_place", [True, False])
@pytest.mark.parametrize("images", [1, 2, 5])
@pytest.mark.parametrize("hw, kernel, stride, pad", PHASE_CASES)
def test_strided_layers_by_phases_equal_the_reference(monkeypatch, images, hw, kernel, stride,
                                                      pad, in_place):
    """A strided layer whose kernel is at least its stride runs by phases, forward and both
    gradients, equal to the reference in float64 (1e-12) and float32 (1e-4, relative to the
    largest value); five images in chunks of ``images`` (a shorter last one of two), with
    buffers reused over repeated passes (their zero borders must hold), and with a held
    weight (no weight gradient: no taps read); the weight gradient from the taps in place
    and, with no product small enough for them (``SMALL_GEMM_MADDS`` 0), from columns built
    again."""
    pads = _phase_pads(pad, kernel, stride, hw)
    win = conv_tuned.window(hw, kernel, stride, pads)
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: TINY)  # no chunk holds the batch
    if not in_place:
        monkeypatch.setattr(phases, "SMALL_GEMM_MADDS", 0)
    monkeypatch.setattr(chunking, "STRIDED_MIN_VALUES",
                        images * 8 * kernel[0] * kernel[1] * phases.planes(win).size)
    for dtype in (np.float64, np.float32):
        x, w, b = _arrays(5, 8, 6, kernel, dtype, hw=hw)
        _, cache = conv_tuned.conv2d_forward(x, w, b, stride, pads, (1, 1), work={})
        assert conv_tuned.method(cache) == "phases"
        _compare(x, w, b, stride, pads, (1, 1))
        _compare(x, w, None, stride, pads, (1, 1), work={}, repeat=3)
        _compare_held(x, w, b, stride, pads)


def _compare_held(x, w, b, stride, pads):
    """The input gradient of a layer whose weight is held (``need_dw`` False in both passes),
    and the weight gradient alone (``need_dx`` False), against the reference's."""
    out, cache = conv.conv2d_forward(x, w, b, stride, pads, (1, 1))
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    dx, dw, _ = conv.conv2d_backward(dout, cache)
    work = {}
    _, t_cache = conv_tuned.conv2d_forward(x, w, b, stride, pads, (1, 1), work=work,
                                           need_dw=False)
    t_dx, t_dw, _ = conv_tuned.conv2d_backward(dout, t_cache, need_dw=False, work=work)
    assert t_dw is None
    _close(t_dx, dx, x.dtype)
    _, t_cache = conv_tuned.conv2d_forward(x, w, b, stride, pads, (1, 1), work=work)
    t_dx, t_dw, _ = conv_tuned.conv2d_backward(dout, t_cache, need_dx=False, work=work)
    assert t_dx is None
    _close(t_dw, dw, x.dtype)


@pytest.mark.parametrize("c, kernel, stride, dilation, need_dw, method", [
    (8, (3, 3), (2, 2), (1, 1), True, "phases"),  # 72 rows
    (3, (3, 3), (2, 2), (1, 1), True, "im2col"),  # thin, its columns kept for dw
    (3, (3, 3), (2, 2), (1, 1), False, "phases"),  # thin, weight held: nothing to keep
    (8, (3, 3), (2, 2), (2, 2), True, "im2col"),  # dilated
    (64, (1, 1), (2, 2), (1, 1), True, "im2col"),  # kernel smaller than the stride
    (8, (3, 3), (1, 1), (1, 1), True, "im2col"),  # stride 1
])
def test_which_strided_layers_run_by_phases(chunked, c, kernel, stride, dilation, need_dw,
                                            method):
    """By phases where the input gradient runs so (a stride above 1, no dilation, a kernel at
    least the stride: footprint.phase_input_grad) but for a thin layer with a weight gradient,
    which keeps its im2col columns instead; the rule footprint.phase_conv, which check's memory
    estimate reads too."""
    x, w, b = _arrays(3, c, 4, kernel, np.float64, hw=(16, 16))
    _, cache = conv_tuned.conv2d_forward(x, w, b, stride, (1, 1, 1, 1), dilation, work={},
                                         need_dw=need_dw)
    assert conv_tuned.method(cache) == method
    assert footprint.phase_conv(kernel, stride, dilation, c * kernel[0] * kernel[1],
                                need_dw) == (method == "phases")


@pytest.mark.parametrize("floor_images", [0, 2, 4, 9])
def test_phase_chunks_are_one_size_forward_and_backward(monkeypatch, floor_images):
    """Five images, one a chunk by the tiny limits, raised to STRIDED_MIN_VALUES worth of
    ``floor_images`` (never past the batch): the forward pass (its columns) and the backward
    pass (the weight gradient's products) read the same chunks' taps (a shorter last one),
    once each a pass."""
    rows, size = 8 * 9, 5 * 5  # 8 channels, 3x3; planes of 5x5 (8x8 padded by 1, stride 2)
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: TINY)
    monkeypatch.setattr(chunking, "STRIDED_MIN_VALUES", floor_images * rows * size)
    built = []
    original = phases.tap_views

    def spy(kept, win, start, images):
        built.append(images)
        return original(kept, win, start, images)

    monkeypatch.setattr(phases, "tap_views", spy)
    x, w, b = _arrays(5, 8, 4, (3, 3), np.float64, hw=(8, 8))
    _compare(x, w, b, (2, 2), (1, 1, 1, 1), (1, 1), work={})
    images = min(5, max(1, floor_images))
    assert built == ([images] * (5 // images) + [5 % images] * (5 % images > 0)) * 2


@pytest.mark.parametrize("madds, backward_columns", [(8 * 4 * 25 * 5, 0),
                                                     (8 * 4 * 25 * 5 - 1, 1)])
def test_the_weight_gradient_reads_the_taps_in_place_within_the_small_product_limit(
        monkeypatch, madds, backward_columns):
    """8 -> 4 channels, 3x3 stride 2 on 8x8 (planes of 5x5), five images a chunk: one tap's
    product is 8*4*125 multiply-adds; within ``SMALL_GEMM_MADDS`` the backward pass builds no
    columns (the forward pass's one), past it by one it builds them again."""
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: TINY)
    monkeypatch.setattr(chunking, "STRIDED_MIN_VALUES", 5 * 8 * 9 * 25)
    monkeypatch.setattr(phases, "SMALL_GEMM_MADDS", madds)
    built = []
    original = phases.columns

    def spy(kept, win, start, images, out):
        built.append(images)
        return original(kept, win, start, images, out)

    monkeypatch.setattr(phases, "columns", spy)
    x, w, b = _arrays(5, 8, 4, (3, 3), np.float64, hw=(8, 8))
    _compare(x, w, b, (2, 2), (1, 1, 1, 1), (1, 1), work={})
    assert built == [5] * (1 + backward_columns)


def test_phase_planes_cover_the_shifts_into_the_next_image():
    """The fold adds a tap's row shifted back across the chunk: the columns between one
    image's last output and the next image's plane (``size`` minus the wide run of ``(Ho -
    1)*Wq + Wo``) must be at least the largest shift, so the shift reads only junk (zero) or
    the lead. Checked over strides, kernels and sizes where phases apply."""
    for stride in [(2, 2), (3, 3), (2, 1), (3, 2), (4, 4)]:
        for kernel in [(k, j) for k in range(stride[0], 8) for j in range(stride[1], 8)]:
            for hp in range(kernel[0], 20):
                win = conv_tuned.window((hp, hp + 1), kernel, stride, (0, 0, 0, 0))
                layout = phases.planes(win)
                (ho, wo), wq = win.out_hw, layout.plane_hw[1]
                assert layout.size - ((ho - 1) * wq + wo) >= layout.reach >= 0


@pytest.mark.parametrize("floor_images, step", [(0, 1), (1, 1), (2, 2), (3, 3), (5, 5), (9, 5)])
def test_phase_input_gradient_chunks_grow_to_the_floor(monkeypatch, floor_images, step):
    """Stride 2 (3 -> 2, 3x3 on 8x8, padded 10x10: planes of 5x5, 4x4 outputs, 27 rows of
    5*5 = 25 columns an image; a thin layer, whose forward pass stays on im2col), five images
    with thresholds that make each image a chunk: STRIDED_MIN_VALUES worth ``floor_images``
    images makes the chunks that large (a shorter last one), never more than the batch;
    values and gradients those of the reference."""
    rows, size = 27, 25
    assert phases.planes(conv_tuned.window((8, 8), (3, 3), (2, 2), (1, 1, 1, 1))).size == size
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: TINY)
    monkeypatch.setattr(chunking, "STRIDED_MIN_VALUES", floor_images * rows * size)
    steps = []
    original = phases.input_grad

    def spy(dout, w, win, x_shape, step_, scratch):
        steps.append(step_)
        return original(dout, w, win, x_shape, step_, scratch)

    monkeypatch.setattr(phases, "input_grad", spy)
    for dtype in (np.float64, np.float32):
        x, w, b = _arrays(5, 3, 2, (3, 3), dtype, hw=(8, 8))
        _compare(x, w, b, (2, 2), (1, 1, 1, 1), (1, 1), work={}, repeat=2)
    assert steps == [step] * 4  # dtypes, repeats


@pytest.mark.parametrize("floor_images, step", [(0, 1), (2, 2), (3, 3), (4, 4), (9, 4)])
@pytest.mark.parametrize("stride", [(2, 2), (2, 1)])
def test_strided_columns_grow_to_the_floor_within_the_column_limit(monkeypatch, floor_images,
                                                                   step, stride):
    """A strided layer's im2col chunks (4 -> 3, 3x3 on 8x8 padded by 1: 36 rows, 16 or 32
    columns an image; five images, thresholds that allow one image a chunk by bytes and 64
    columns): STRIDED_MIN_VALUES worth ``floor_images`` images makes them that large, up to
    the column limit; the forward pass and the weight gradient build as many chunks, and
    values and gradients are the reference's. A stride-1 layer's chunks keep the byte
    limit. (The layer would run by phases: switched off, as for the strided layers that stay
    on im2col, a dilated one's or a kernel smaller than its stride.)"""
    size = 16 if stride == (2, 2) else 32  # 4x4 or 4x8 outputs
    limit = 64 // size
    monkeypatch.setattr(conv_tuned, "phase_conv", lambda *args: False)
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: TINY)
    monkeypatch.setattr(chunking, "STRIDED_MIN_VALUES", floor_images * 36 * size)
    built = []
    original = conv_tuned.im2col

    def spy(xp, win, out=None):
        built.append(xp.shape[1])
        return original(xp, win, out=out)

    monkeypatch.setattr(conv_tuned, "im2col", spy)
    x, w, b = _arrays(5, 4, 3, (3, 3), np.float64, hw=(8, 8))
    _compare(x, w, b, stride, (1, 1, 1, 1), (1, 1), work={})
    images = min(step, limit)
    chunks = [images] * (5 // images) + [5 % images] * (5 % images > 0)
    assert built == chunks * 2  # forward, weight gradient
    assert conv_tuned.images_per_chunk(36, size, 5, 8, chunking.strided_values((1, 1))) == 1


@pytest.mark.parametrize("n", [1, 5, 17, 18, 33, 64, 65, 256])
@pytest.mark.parametrize("most", [1, 4, 16, 17, 64, 300])
def test_row_tap_blocks_spread_the_batch_evenly(n, most):
    """As few blocks as hold the batch with at most ``most`` images each (what the limit
    fits), their sizes within one image of each other: 64 images at most 17 a block are 4
    of 16, not 3 of 17 and one of 13 whose 4 spare slots are multiplied all the same."""
    step = chunking.row_tap_images(100, n, 4, most * 400)
    blocks = -(-n // step)
    assert 1 <= step <= min(n, most)
    assert blocks == -(-n // min(n, most))  # no more blocks than the limit needs
    assert blocks * step - n < blocks  # the spare slots: fewer than one a block
    assert chunking.row_tap_images(100, 64, 4, 17 * 400) == 16


@pytest.mark.parametrize("images", [1, 2, 3, 5])
def test_col2im_input_gradient_in_chunks(monkeypatch, calls, images):
    """The input gradient by col2im folded block by block (F > C, stride 1): five images in
    blocks of one, two (a shorter last one), three, and one block of all."""
    plane = 8 * 10  # an 8x8 output's rows in wide coordinates: the padded width 10
    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=2 ** 30, chunk_columns=images * plane))
    for dtype in (np.float64, np.float32):
        x, w, b = _arrays(5, 2, 5, (3, 3), dtype, hw=(8, 8))
        _compare(x, w, b, (1, 1), (1, 1, 1, 1), (1, 1), work={}, repeat=2)
    assert calls["col2im_block"] == 2 * 2 * -(-5 // images)  # dtypes, repeats, chunks


@pytest.mark.parametrize("columns", [3 * 64, 3 * 64 - 1, 64, 63])
def test_chunks_on_both_sides_of_the_column_limit(monkeypatch, columns):
    """3 images of 8x8 outputs: one chunk, two, three, and one image per chunk with a limit
    below one image."""
    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=2 ** 30, chunk_columns=columns))
    for work in (None, {}):
        _path_case((8, 8), 2, 3, (3, 3), (1, 1), (1, 1, 1, 1), work=work)
        _path_case((8, 8), 2, 3, (3, 3), (1, 1), (1, 1, 1, 1), work=work, dtype=np.float32)


@pytest.mark.parametrize("columns_bytes", [18 * 64 * 3 * 8, 18 * 64 * 3 * 8 - 1, 18 * 64 * 8, 1])
def test_chunks_on_both_sides_of_the_byte_limit(monkeypatch, columns_bytes):
    """3 images of 18 rows and 8x8 columns in float64: one chunk, two, one image per chunk with
    the columns' share of the cache (COLUMNS_SHARE) just large enough or smaller still."""
    cache = columns_bytes * COLUMNS_SHARE
    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=cache, chunk_columns=2 ** 30))
    assert conv_tuned.images_per_chunk(18, 64, 3, 8) == max(
        1, min(3, columns_bytes // (18 * 64 * 8)))
    for work in (None, {}):
        _path_case((8, 8), 2, 3, (3, 3), (1, 1), (1, 1, 1, 1), work=work)


def test_chunking_changes_values_only_by_summation_order(monkeypatch):
    """Two chunkings of one layer: outputs and input gradients equal to rounding of the
    products' order, weight gradients equal up to the order of the per-chunk sums."""
    x, w, b = _arrays(7, 1, 6, (5, 5), np.float32, hw=(28, 28))
    results = []
    for columns in (28 * 28, 7 * 28 * 28):
        monkeypatch.setattr(conv_tuned, "thresholds",
                            lambda columns=columns: Thresholds(2 ** 30, columns))
        out, cache = conv_tuned.conv2d_forward(x, w, b, (1, 1), (2, 2, 2, 2), (1, 1), work={})
        dout = np.random.default_rng(3).standard_normal(out.shape).astype(np.float32)
        results.append((out.copy(), *conv_tuned.conv2d_backward(dout, cache, work={})))
    for one, seven in zip(*results):
        np.testing.assert_allclose(one, seven, rtol=1e-5, atol=1e-5 * np.abs(seven).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_small_path_on_both_sides_of_one_chunk(monkeypatch, calls, dtype):
    """Three images of 8x8 outputs each: one chunk (the small path, its plan made once and reused
    over three passes with new values) with a limit of three images, the chunked paths with
    one image less; every input-gradient variant (transposed convolution, col2im over whole
    planes, col2im's scatter for stride 2 and padding past the kernel, dilation) both ways."""
    cases = [((8, 8), 3, 3, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),  # dx transposed
             ((8, 8), 3, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),  # dx col2im, whole planes
             ((15, 15), 3, 2, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),  # stride 2
             ((7, 7), 4, 2, (1, 1), (1, 1), (1, 0, 0, 1), (1, 1)),  # padding past the reach
             ((8, 8), 2, 2, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2))]  # dilation 2
    for columns, small in ((3 * 64, True), (3 * 64 - 1, False)):
        limits = Thresholds(2 ** 30, columns)  # one object, as the machine's are
        monkeypatch.setattr(conv_tuned, "thresholds", lambda limits=limits: limits)
        for x_hw, c, f, kernel, stride, pads, dilation in cases:
            before = calls["_small_plan"]
            work = {}
            _path_case(x_hw, c, f, kernel, stride, pads, work, dtype, dilation, repeat=3)
            # planned once and reused twice; otherwise asked again on each forward pass
            assert calls["_small_plan"] == before + (1 if small else 3)
            assert isinstance(work.get("small"), conv_tuned.SmallPlan) == small


def test_a_small_plan_is_made_again_for_a_new_shape(calls):
    """A layer seeing another batch size (training, then evaluation) plans again and stays
    right; the plan made for the last shape is the one kept."""
    work = {}
    for n in (3, 5, 3):
        x, w, b = _arrays(n, 3, 3, (3, 3), np.float64, hw=(8, 8))
        _compare(x, w, b, (1, 1), (1, 1, 1, 1), (1, 1), work=work)
        assert work["small"].x_shape == x.shape
    assert calls["_small_plan"] == 3


BLOCK_CASES = [((3, 3), (1, 1), "same", (1, 1)), ((3, 3), (2, 1), "same", (1, 1)),
               ((5, 5), (1, 1), "valid", (1, 1)), ((3, 2), (1, 1), "asymmetric", (1, 1)),
               ((3, 3), (1, 1), "same", (2, 2)), ((1, 1), (1, 1), "valid", (1, 1))]


@pytest.mark.parametrize("keep", [False, True])  # blocks keep no columns: the limit is moot
@pytest.mark.parametrize("c, f", [(16, 16), (6, 16), (32, 4)])
@pytest.mark.parametrize("kernel, stride, pad, dilation", BLOCK_CASES)
def test_batch_last_blocks_over_a_grid(monkeypatch, calls, keep, c, f, kernel, stride, pad,
                                       dilation):
    """Batch-last blocks of two images over five (a shorter last block), on both sides of the
    kept-columns limit, against the reference: by kernel rows at stride 1, else by columns;
    the input gradient on blocks too where it is a transposed convolution with enough rows
    (F*kh*kw), by kernel rows where the forward ran so and it is not."""
    monkeypatch.setattr(conv_tuned, "images_per_chunk",
                        lambda rows, size, n, itemsize, least=0: min(n, 2))
    monkeypatch.setattr(conv_tuned, "_row_tap_step", lambda values, n, itemsize: min(n, 2))
    monkeypatch.setattr(conv_tuned, "BLOCKED_IMAGES", 2)
    monkeypatch.setattr(footprint, "KEEP_BYTES", 2 ** 30 if keep else 0)
    pads = _pads(pad, kernel, dilation)
    for dtype in (np.float64, np.float32):
        x, w, b = _arrays(5, c, f, kernel, dtype, seed=c + f, hw=(9, 8))
        _compare(x, w, b, stride, pads, dilation, work={}, repeat=2)
        _compare(x, w, None, stride, pads, dilation)
    blocked = c * kernel[0] * kernel[1] >= chunking.THIN_ROWS
    rows, columns = blocked and stride == (1, 1), blocked and stride != (1, 1)
    passes = 2 * 3  # dtypes, passes of the two comparisons
    assert calls["_weight_grad_blocks"] == passes * columns
    assert calls["rows.backward"] == passes * rows
    back = conv_tuned._input_grad_window(conv_tuned.window((9, 8), kernel, stride, pads,
                                                           dilation), f, c)
    transposed = back is not None and f * kernel[0] * kernel[1] >= chunking.THIN_ROWS
    assert calls["_correlate_blocks"] == passes * columns
    assert calls["rows.correlate"] == passes * (rows + transposed)  # transposed: stride 1
    assert calls["rows._input_grad_block"] == 3 * passes * (rows and back is None)  # blocks


@pytest.mark.parametrize("c, f, kernel, pad", [(6, 16, (5, 5), "valid"),
                                                (16, 16, (3, 3), "same"),
                                                (32, 4, (3, 2), "asymmetric")])
def test_kernel_rows_one_gradient_alone_equals_the_reference(monkeypatch, c, f, kernel, pad):
    """A layer by kernel rows (blocks of two images over five) with a held weight (the input
    gradient alone: by kernel rows, or the transposed convolution where that pays) and with
    no input gradient (the weight gradient alone), against the reference, in float64 and
    float32."""
    monkeypatch.setattr(conv_tuned, "images_per_chunk",
                        lambda rows, size, n, itemsize, least=0: min(n, 2))
    monkeypatch.setattr(conv_tuned, "_row_tap_step", lambda values, n, itemsize: min(n, 2))
    monkeypatch.setattr(conv_tuned, "BLOCKED_IMAGES", 2)
    pads = _pads(pad, kernel, (1, 1))
    for dtype in (np.float64, np.float32):
        x, w, b = _arrays(5, c, f, kernel, dtype, seed=c + f, hw=(9, 8))
        _, cache = conv_tuned.conv2d_forward(x, w, b, (1, 1), pads, work={})
        assert conv_tuned.method(cache) == "rows"
        _compare_held(x, w, b, (1, 1), pads)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_rows_ignore_what_a_longer_batch_left_in_the_last_blocks_spare_slots(
        monkeypatch, calls, dtype):
    """Blocks of two images: six images, the sixth infinite, then five in the same buffers,
    whose last block's spare slot still holds the sixth: the gradients are the reference's
    (the slot is zeroed, where infinity times a zero gradient would be NaN)."""
    monkeypatch.setattr(conv_tuned, "images_per_chunk",
                        lambda rows, size, n, itemsize, least=0: min(n, 2))
    monkeypatch.setattr(conv_tuned, "_row_tap_step", lambda values, n, itemsize: min(n, 2))
    monkeypatch.setattr(conv_tuned, "BLOCKED_IMAGES", 2)
    x, w, b = _arrays(6, 6, 16, (5, 5), dtype, hw=(9, 8))
    x[5] = np.inf
    work = {}
    with np.errstate(invalid="ignore"):  # the sixth image's own outputs: inf - inf
        conv_tuned.conv2d_forward(x, w, b, work=work)
    _compare(x[:5], w, b, (1, 1), (0, 0, 0, 0), (1, 1), work=work)
    assert calls["rows.correlate"] == 2 and calls["rows.backward"] == 1


def test_blocks_only_at_width_stride_1_with_enough_rows_and_images(monkeypatch):
    """Where batch-last blocks apply: width stride 1, at least THIN_ROWS rows, at least
    BLOCKED_IMAGES images a chunk (the chunk limits decide)."""
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: Thresholds(2 ** 30, 4 * 64))
    x = np.zeros((9, 4, 8, 8), np.float32)
    win = conv_tuned.window((8, 8), (3, 3), (1, 1), (1, 1, 1, 1))
    assert conv_tuned._block_step((8, 4, 3, 3), win, x) == 4  # 36 rows, 4 images of 64
    assert conv_tuned._block_step((8, 3, 3, 3), win, x) == 0  # 27 rows
    assert conv_tuned._block_step((8, 4, 3, 3), win, x[:3]) == 0  # a chunk of 3 images
    stride_2 = conv_tuned.window((8, 8), (3, 3), (1, 2), (1, 1, 1, 1))
    assert conv_tuned._block_step((8, 4, 3, 3), stride_2, x) == 0
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: Thresholds(2 ** 30, 3 * 64))
    assert conv_tuned._block_step((8, 4, 3, 3), win, x) == 0  # 3 images a chunk


def test_shared_work_by_key_per_thread_held_by_its_layers(monkeypatch):
    import gc
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from cnnspec.engine import windows

    monkeypatch.setattr(windows, "_shared", threading.local())  # this test's pools only
    assert windows.shared_work(None, ("a",)) is None
    layer, other = {}, {}
    first = windows.shared_work(layer, ("a", 1))
    assert windows.shared_work(other, ("a", 1)) is first
    assert windows.shared_work(other, ("a", 2)) is not first  # now other's "a"
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(windows.shared_work, {}, ("a", 1)).result() is not first
    first["buffer"] = np.zeros(3)
    held = weakref.ref(first)
    del first, layer
    gc.collect()
    assert held() is None  # no layer holds it: freed
    assert "buffer" not in windows.shared_work({}, ("a", 1))


@pytest.mark.parametrize("c, f, stride, hw", [(4, 4, (1, 1), (8, 8)), (3, 5, (1, 1), (8, 8)),
                                              (4, 6, (2, 2), (15, 15))])
def test_layers_of_one_geometry_sharing_scratch(chunked, c, f, stride, hw):
    """Two layers of one geometry, interleaved as in a network (both forward passes, then both
    backward passes, the second first) and in two threads at once, each against the
    reference: the input-gradient scratch they share holds nothing from one call to the next.
    Cases: transposed convolution, col2im over whole planes, col2im's scatter (stride 2)."""
    from concurrent.futures import ThreadPoolExecutor

    pads = (1, 1, 1, 1)
    layers = [_arrays(3, c, f, (3, 3), np.float64, seed=seed, hw=hw) for seed in (1, 2)]
    works = [{}, {}]
    results = [conv_tuned.conv2d_forward(x, w, b, stride, pads, (1, 1), work=work)
               for (x, w, b), work in zip(layers, works)]
    douts = [np.random.default_rng(5).standard_normal(out.shape) for out, _ in results]
    for index in (1, 0):
        x, w, b = layers[index]
        out, cache = conv.conv2d_forward(x, w, b, stride, pads, (1, 1))
        _close(results[index][0], out, x.dtype)
        ours = conv_tuned.conv2d_backward(douts[index], results[index][1], work=works[index])
        for mine, theirs in zip(ours, conv.conv2d_backward(douts[index], cache)):
            _close(mine, theirs, x.dtype)

    def run(index):
        x, w, b = layers[index]
        for _ in range(20):
            out, cache = conv_tuned.conv2d_forward(x, w, b, stride, pads, (1, 1),
                                                   work=works[index])
            grads = conv_tuned.conv2d_backward(douts[index], cache, work=works[index])
        return out.copy(), grads

    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(run, (0, 1)))
    for (x, w, b), dout, (out, grads) in zip(layers, douts, threaded):
        reference, cache = conv.conv2d_forward(x, w, b, stride, pads, (1, 1))
        _close(out, reference, x.dtype)
        for mine, theirs in zip(grads, conv.conv2d_backward(dout, cache)):
            _close(mine, theirs, x.dtype)
    assert not any("small" in work for work in works)  # chunks of two images: chunked paths


@pytest.mark.parametrize("columns", COLUMN_CANDIDATES)
def test_chunks_within_the_bound_the_memory_estimate_reads(monkeypatch, columns):
    """Whatever column limit calibration picks, a chunk has at most as many images as
    footprint.chunk_images allows (check's memory estimate counts that many)."""
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: Thresholds(chunk_bytes(), columns))
    for size in (1, 100, 784, 8191, 8192, 20000):
        for n in (1, 3, 64, 256):
            for rows in (1, 25, 150, 4608):
                step = conv_tuned.images_per_chunk(rows, size, n, 4)
                assert step <= footprint.chunk_images(rows, size, n, 4)


@pytest.mark.parametrize("layout", ["batch_first", "channel_first", "strided"])
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (1, 1, 1, 1), (0, 2, 3, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_grad_sums_over_images_and_pixels(layout, shape, dtype):
    """The dots with ones give the reference's sum over (N, Ho, Wo) for any layout of dout."""
    rng = np.random.default_rng(7)
    n, f, h, w = shape
    if layout == "channel_first":
        dout = rng.standard_normal((f, n, h, w)).astype(dtype).transpose(1, 0, 2, 3)
    elif layout == "strided":
        dout = rng.standard_normal((n, f, 2 * h, w + 1)).astype(dtype)[:, :, ::2, 1:]
    else:
        dout = rng.standard_normal(shape).astype(dtype)
    db = conv_tuned.bias_grad(dout)
    expected = dout.astype(np.float64).sum(axis=(0, 2, 3))
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert db.dtype == dtype and db.shape == (f,)
    np.testing.assert_allclose(db, expected, rtol=tol, atol=tol)


# (H, W, kernel, stride, padding, dilation): layers whose padding is far wider than the input,
# run on the part of them that reads it (footprint.conv_crop)
CROP_CASES = [
    ((8, 1), (20001, 1), (3, 1), "same", (3, 1)),  # as the fuzzer's 100000x1 kernel
    ((8, 8), (3, 3), (1, 1), (50, 50, 50, 50), (1, 1)),  # outputs of padding alone around
    ((7, 5), (40, 9), (2, 3), (30, 45, 2, 17), (2, 1)),  # asymmetric, cropped both ways
    ((5, 6), (31, 41), (7, 5), (60, 55, 33, 64), (3, 2)),
    ((8, 8), (5, 3), (4, 1), (90, 3, 1, 1), (1, 1)),  # cropped along the rows only
    ((9, 4), (7, 1), (1, 1), (100, 100, 0, 0), (6, 1)),  # stride 1, dilated
    ((1, 1), (1, 1), (3, 3), (10, 10, 10, 10), (1, 1)),  # no window reads the input
    ((2, 8), (3, 3), (1, 1), (3, 8, 1, 1), (5, 1)),  # the dilation steps over the input
]


def _crop_case(hw, kernel, stride, padding, dilation, f=3):
    pads = resolve_padding(padding, hw, kernel, stride, dilation)
    x, w, b = _arrays(2, 2, f, kernel, np.float64, hw=hw)
    return x, w, b, pads


@pytest.mark.parametrize("hw, kernel, stride, padding, dilation", CROP_CASES)
def test_a_layer_of_mostly_padding_runs_cropped_and_equals_the_reference(hw, kernel, stride,
                                                                         padding, dilation):
    x, w, b, pads = _crop_case(hw, kernel, stride, padding, dilation)
    _, cache = conv_tuned.conv2d_forward(x, w, b, stride, pads, dilation)
    assert conv_tuned.method(cache) == "cropped"
    _compare(x, w, b, stride, pads, dilation)
    _compare(x, w, None, stride, pads, dilation, work={}, repeat=2)


def test_a_cropped_layer_plans_its_part_once_and_reuses_the_plan(calls):
    """The cropped part of a layer small enough for one chunk runs on a :class:`SmallPlan`
    made on the first pass and kept in the layer's work buffers: three passes with new values
    plan once (a plan made on every pass cost its buffers again while the previous pass's
    cache held the old ones) and equal the reference."""
    x, w, b, pads = _crop_case((8, 8), (3, 3), (1, 1), (50, 50, 50, 50), (1, 1))
    work = {}
    _compare(x, w, b, (1, 1), pads, (1, 1), work=work, repeat=3)
    assert isinstance(work["cropped"].get("small"), conv_tuned.SmallPlan)
    assert calls["_small_plan"] == 1


@pytest.mark.parametrize("hw, kernel, stride, padding, dilation", CROP_CASES[:3] + CROP_CASES[-2:])
def test_a_cropped_layer_with_its_relu_fused_equals_the_reference(hw, kernel, stride, padding,
                                                                  dilation):
    """The bias of the outputs that read only padding goes through the ReLU too (a bias
    below zero makes them 0, and their gradient with them)."""
    x, w, b, pads = _crop_case(hw, kernel, stride, padding, dilation, f=4)
    b[:2] = (-1.0, 2.0)
    out, cache = conv.conv2d_forward(x, w, b, stride, pads, dilation)
    relu_out = np.maximum(out, 0)
    t_out, t_cache = conv_tuned.conv2d_forward(x, w, b, stride, pads, dilation, work={},
                                               relu=True)
    _close(t_out, relu_out, x.dtype)
    dout = np.random.default_rng(3).standard_normal(out.shape)
    before = dout.copy()
    theirs = conv.conv2d_backward(np.where(relu_out > 0, dout, 0), cache)
    ours = conv_tuned.conv2d_backward(dout, t_cache, work={}, relu_out=t_out)
    for mine, reference in zip(ours, theirs):
        _close(mine, reference, x.dtype)
    np.testing.assert_array_equal(dout, before)


def test_only_layers_of_mostly_padding_are_cropped():
    """The grid's layers run on their whole padded input; a layer is cropped where the part
    that reads the input is at most half of its products (CROP_SHARE), on both sides of it."""
    for kernel, stride, pad, dilation in GRID:
        pads = _pads(pad, kernel, dilation)
        assert footprint.conv_crop((11, 10), kernel, stride, pads, dilation) is None
    # 3 rows, a 1x1 kernel: output y reads row y - 2, the input at 3 outputs of 5, then of 6
    assert footprint.conv_crop((3, 1), (1, 1), (1, 1), (2, 0, 0, 0), (1, 1)) is None
    assert footprint.conv_crop((3, 1), (1, 1), (1, 1), (2, 1, 0, 0), (1, 1)) is not None
    assert footprint.CROP_SHARE == 2


def _row_by_row_weight_grad(xt, n, dout, win):
    """The reference of row_taps.backward's weight gradient: each kernel row's product in a
    call of its own, added into the sums in row order, block by block."""
    c, step = xt.shape[1], xt.shape[-1]
    f = dout.shape[1]
    kh, kw = win.kernel
    sums = np.zeros((kh, c * kw, f), dout.dtype)
    for block in range(xt.shape[0]):
        rows = row_taps._tap_rows(row_taps._widened(xt[block], win, {}), win, kh)
        laid = row_taps._laid_out(dout, block * step, step, {})
        for i in range(kh):
            sums[i] += np.matmul(rows[i], laid.reshape(f, -1).T)
    return np.ascontiguousarray(sums.reshape(kh, c, kw, f).transpose(3, 1, 0, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("images, step", [(5, 2), (16, 16), (13, 4)])
@pytest.mark.parametrize("c, f, kernel, pad, dilation", [
    (6, 16, (5, 5), "valid", (1, 1)), (3, 8, (3, 2), "asymmetric", (1, 1)),
    (4, 5, (3, 3), "same", (2, 2)), (2, 3, (1, 1), "valid", (1, 1))])
def test_kernel_rows_weight_gradient_in_one_call_gives_the_bits_of_one_call_a_row(
        dtype, images, step, c, f, kernel, pad, dilation):
    pads = _pads(pad, kernel, dilation)
    x, w, _ = _arrays(images, c, f, kernel, dtype, seed=images + c, hw=(9, 8))
    win = conv_tuned.window((9, 8), kernel, (1, 1), pads, dilation)
    xt = windows.batch_blocks(x, win, step, {})
    row_taps._zero_spare_slots(xt, images)
    dout = np.random.default_rng(step).standard_normal((images, f, *win.out_hw)).astype(dtype)
    dx, dw = row_taps.backward(xt, images, dout, w, win, {}, None, need_dx=False)
    assert dx is None
    np.testing.assert_array_equal(dw, _row_by_row_weight_grad(xt, images, dout, win))
