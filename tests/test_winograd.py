"""Winograd's convolution (cnnspec.engine.winograd) against the reference (im2col + one GEMM):
float32 within the stated bound over a grid of shapes for the output and all gradients;
the float64 transforms exact to 1e-10, and the backward the exact transpose of the forward
(the dot-product test); which layers the tuned convolution sends there."""
import dataclasses
import tracemalloc

import numpy as np
import pytest
from numpy.lib.array_utils import byte_bounds

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine import conv, conv_tuned, footprint, products, winograd
from cnnspec.engine.calibrate import Thresholds
from cnnspec.engine.chunking import WINOGRAD_CANDIDATES
from cnnspec.engine.layers import Conv2d, FusedReLU
from cnnspec.engine.optim import make_optimizer
from cnnspec.engine.windows import window
from cnnspec.lang import parse

CHANNELS = [(1, 1), (3, 16), (16, 16), (17, 5), (64, 64), (32, 64)]  # (C, F)
SIZES = [(5, 7), (9, 9), (16, 16), (13, 6), (4, 3)]
PADS = [(0, 0, 0, 0), (1, 1, 1, 1), (2, 0, 1, 3), (3, 1, 0, 2)]  # valid, same, asymmetric
BATCHES = [1, 4]


def _arrays(n, c, f, hw, seed, bias=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *hw))
    w = rng.standard_normal((f, c, 3, 3)) / np.sqrt(9 * c)
    b = rng.standard_normal(f) if bias else None
    return x, w, b, rng


def _winograd(x, w, b, pads, dout, dtype, work=None):
    """(out, dx, dw, db) of the Winograd module in ``dtype``."""
    win = window(x.shape[2:], (3, 3), (1, 1), pads)
    cast = None if b is None else b.astype(dtype)
    out, cache = winograd.conv2d_forward(x.astype(dtype), w.astype(dtype), cast, win, work)
    return (out, *winograd.conv2d_backward(dout.astype(dtype), cache, work=work))


def _reference(x, w, b, pads, dout):
    out, cache = conv.conv2d_forward(x, w, b, pads=pads)
    return (out, *conv.conv2d_backward(dout, cache))


def _output_hw(hw, pads):
    return hw[0] + pads[0] + pads[1] - 2, hw[1] + pads[2] + pads[3] - 2


@pytest.mark.parametrize("c, f", CHANNELS)
@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("pads", PADS)
def test_float32_is_within_the_bound_of_the_float64_reference(c, f, hw, pads):
    """Each result's error is at most ERROR_BOUND times the largest sum of its terms' absolute
    values (the reference run on |x|, |w|, |b|, |dout|)."""
    if min(_output_hw(hw, pads)) < 1:
        pytest.skip("no output")
    for n in BATCHES:
        x, w, b, rng = _arrays(n, c, f, hw, seed=n * c + f, bias=n == 1)
        dout = rng.standard_normal((n, f, *_output_hw(hw, pads)))
        reference = _reference(x, w, b, pads, dout)
        sizes = _reference(abs(x), abs(w), None if b is None else abs(b), pads, abs(dout))
        ours = _winograd(x, w, b, pads, dout, np.float32, work={})
        for mine, exact, size in zip(ours, reference, sizes):
            if exact is None:
                assert mine is None
                continue
            assert mine.dtype == np.float32 and mine.shape == exact.shape
            error = float(np.abs(mine - exact).max())
            assert error <= winograd.ERROR_BOUND * float(size.max())


@pytest.mark.parametrize("c, f, hw, pads", [(16, 16, (16, 16), (1, 1, 1, 1)),
                                          (3, 16, (13, 6), (2, 0, 1, 3)),
                                          (17, 5, (9, 9), (0, 0, 0, 0))])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("limit", [100, 997])
def test_transforms_in_slices_match_whole_products(c, f, hw, pads, dtype, rtol, limit,
                                                   monkeypatch):
    """The transforms' products along a chunk's tile rows run in slices for OpenBLAS's
    small-matrix kernels (cnnspec.engine.products): with its limit so low that each is cut
    into slices of a few columns (and, at 997, a shorter last one), the output and every
    gradient are those of one product each (the limit past every product), to ``rtol`` of
    the largest.
    The scratch buffers are NaN when carved, so a column a slice missed would show."""
    x, w, b, rng = _arrays(4, c, f, hw, seed=c + f)
    dout = rng.standard_normal((4, f, *_output_hw(hw, pads)))
    monkeypatch.setattr(products, "SMALL_GEMM_MADDS", 10 ** 12)
    whole = _winograd(x, w, b, pads, dout, dtype)
    monkeypatch.setattr(products, "SMALL_GEMM_MADDS", limit)
    carve = winograd.carve

    def poisoned(*args):
        array = carve(*args)
        array.fill(np.nan)
        return array

    monkeypatch.setattr(winograd, "carve", poisoned)
    sliced = _winograd(x, w, b, pads, dout, dtype)
    for mine, exact in zip(sliced, whole):
        scale = float(np.abs(exact).max())
        np.testing.assert_allclose(mine, exact, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("pads", PADS + [(0, 2, 2, 0), (2, 2, 0, 0)])
@pytest.mark.parametrize("hw", [(9, 9), (13, 6), (4, 3), (16, 16), (17, 15)])
def test_a_chunks_tile_rows_are_the_padded_inputs_rows(pads, hw):
    """Tile row ty's row i holds the padded input's row ty*m + i, and the padding's columns
    zeros, whether copied from the input or, for rows i >= m, from the next tile row's row
    i - m; twice over one buffer, with other pixels the second time (its zeros stay)."""
    win = window(hw, (3, 3), (1, 1), pads)
    if min(win.out_hw) < 1:
        pytest.skip("no output")
    til, work = winograd.tiling(win), {}
    m, th = til.m, til.tiles_hw[0]
    for seed in (0, 1):
        x = _arrays(3, 2, 1, hw, seed=seed)[0]
        views = winograd._input_views(work, til, 2, 2, x.dtype, winograd.FORWARD, True)
        winograd._input_transform(winograd._input_rows(x.transpose(1, 0, 2, 3), til), 1, views)
        padded = np.pad(x[1:3], ((0, 0), (0, 0), pads[:2], (0, 0)))
        rows = work[f"winograd tile rows {2}"]
        for i in range(til.a):
            kept = winograd._pixels(rows[i], til, 2, 2)
            for ty in range(th):
                wanted = padded[:, :, ty * m + i] if ty * m + i < padded.shape[2] else 0
                np.testing.assert_array_equal(kept[:, :, ty].transpose(1, 0, 2), wanted)
        by_row = rows[:, pads[2]:pads[2] + 4 * th * til.row_width].reshape(til.a, 4, th, -1)
        assert not by_row[..., hw[1]:].any()  # the padding's (and junk tile's) columns


@pytest.mark.parametrize("pads", PADS)
@pytest.mark.parametrize("hw", [(9, 9), (13, 6), (4, 3)])
def test_float64_transforms_match_the_reference_to_1e10(pads, hw):
    x, w, b, rng = _arrays(3, 5, 7, hw, seed=1)
    dout = rng.standard_normal((3, 7, *_output_hw(hw, pads)))
    for mine, exact in zip(_winograd(x, w, b, pads, dout, np.float64),
                           _reference(x, w, b, pads, dout)):
        np.testing.assert_allclose(mine, exact, rtol=0, atol=1e-10 * np.abs(exact).max())


def test_the_backward_is_the_exact_transpose_of_the_forward():
    """<conv(x'), dout> = <x', dx> and <conv_w'(x), dout> = <w', dw> in float64: the backward
    applies the transposes of the forward's linear maps."""
    pads = (2, 0, 1, 3)
    x, w, _, rng = _arrays(2, 6, 5, (11, 7), seed=3, bias=False)
    win = window((11, 7), (3, 3), (1, 1), pads)
    out, cache = winograd.conv2d_forward(x, w, None, win)
    dout = rng.standard_normal(out.shape)
    dx, dw, _ = winograd.conv2d_backward(dout, cache)
    x2, w2 = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    along_x = winograd.conv2d_forward(x2, w, None, win)[0]
    along_w = winograd.conv2d_forward(x, w2, None, win)[0]
    assert np.vdot(along_x, dout) == pytest.approx(np.vdot(x2, dx), rel=1e-12)
    assert np.vdot(along_w, dout) == pytest.approx(np.vdot(w2, dw), rel=1e-12)


def test_flags_an_empty_batch_and_a_repeat():
    x, w, b, rng = _arrays(5, 16, 16, (12, 12), seed=4)
    x, w, b = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    win = window((12, 12), (3, 3), (1, 1), (1, 1, 1, 1))
    work = {}
    out, cache = winograd.conv2d_forward(x, w, b, win, work)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    first = winograd.conv2d_backward(dout, cache, work=work)
    dx, dw, db = winograd.conv2d_backward(dout, cache, need_dw=False, need_db=False, work=work)
    assert dw is None and db is None and np.array_equal(dx, first[0])  # a frozen layer
    dx, dw, db = winograd.conv2d_backward(dout, cache, need_dw=False, work=work)
    assert dw is None and np.array_equal(db, first[2]) and np.array_equal(dx, first[0])
    dx, dw, db = winograd.conv2d_backward(dout, cache, need_dx=False, need_dw=False, work=work)
    assert dx is None and dw is None and np.array_equal(db, first[2])  # lr_mult [0, 1], first
    dx, dw, db = winograd.conv2d_backward(dout, cache, need_dx=False, work=work)
    assert dx is None and np.array_equal(dw, first[1]) and np.array_equal(db, first[2])
    again, cache = winograd.conv2d_forward(x, w, b, win, work)  # buffers reused: same bits
    assert np.array_equal(again, out)
    empty, cache = winograd.conv2d_forward(x[:0], w, b, win, {})
    assert empty.shape == (0, 16, 12, 12)
    dx, dw, db = winograd.conv2d_backward(dout[:0], cache, work={})
    assert dx.shape == (0, 16, 12, 12) and not dw.any() and not db.any()


@pytest.mark.parametrize("c, f, hw, pads", [(16, 16, (16, 16), (1, 1, 1, 1)),
                                            (17, 5, (13, 6), (2, 0, 1, 3)),
                                            (3, 16, (9, 9), (0, 0, 0, 0))])
@pytest.mark.parametrize("limit", [1, 2, None])  # chunks of 1, 2 images (7: a shorter last)
def test_kept_tiles_give_the_bits_of_tiles_computed_again(monkeypatch, c, f, hw, pads, limit):
    """The forward's ``V`` kept for the weight gradient (footprint.winograd_kept_images) and
    ``V`` computed again in the backward pass: the same outputs and gradients, bit for bit,
    chunk by chunk; kept by a layer with a share exactly up to KEEP_BYTES, never by one
    without, and the work dict's buffer reused."""
    x, w, b, rng = _arrays(7, c, f, hw, seed=13)
    x, w, b = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    win = window(hw, (3, 3), (1, 1), pads)
    til = winograd.tiling(win)
    per_image = footprint.WINOGRAD_INPUT_TILE ** 2 * max(c, f) * til.q * 4
    chunk_bytes = (limit or 7) * per_image
    dout = rng.standard_normal((7, f, *_output_hw(hw, pads))).astype(np.float32)
    share = footprint.WINOGRAD_INPUT_TILE ** 2 * c * til.q  # an image's V, whole
    kept_bytes = share * 7 * 4
    results = []
    for keep, tile_share in ((kept_bytes, share), (kept_bytes - 1, share), (kept_bytes, 0)):
        monkeypatch.setattr(footprint, "KEEP_BYTES", keep)
        kept_now = footprint.winograd_kept_bytes(c, til.q, 7, 4, tile_share)
        assert kept_now == (kept_bytes if tile_share and keep == kept_bytes else 0)
        work = {}
        for _ in range(2):  # the second step writes over the first's buffers
            given = x.copy()
            out, cache = winograd.conv2d_forward(given, w, b, win, work,
                                                 chunk_bytes=chunk_bytes, tile_share=tile_share)
            if kept_now:  # the input is free to change: the backward pass reads V alone
                given.fill(np.nan)
            grads = winograd.conv2d_backward(dout, cache, work=work)
        kept = cache.kept
        assert (kept is None) == (not kept_now) and (cache.x is None) == bool(kept_now)
        assert kept is None or kept is work["kept tiles"] and kept.nbytes == kept_bytes
        results.append((out.copy(), *grads))
    for computed_again, kept, not_keeper in zip(*results):
        assert np.array_equal(computed_again, kept) and np.array_equal(kept, not_keeper)


@pytest.mark.parametrize("limit", [1, 2, None])  # chunks of 1, 2 images, or all 7 at once
@pytest.mark.parametrize("images", [1, 3, 6])
def test_a_share_keeps_the_first_images_tiles_and_computes_the_rest_again(limit, images):
    """A share of an image's V (footprint.winograd_keepers' last keeper) keeps V of the
    first images alone, in chunks of their own (the others' chunks start after them), holds
    the input for the others, and gives the gradients of V computed again for every image:
    the same outputs and input gradient, bit for bit, the weight gradient within float32's
    rounding (its sum over tiles runs in other chunks)."""
    x, w, b, rng = _arrays(7, 16, 16, (16, 16), seed=5)
    x, w, b = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    win = window((16, 16), (3, 3), (1, 1), (1, 1, 1, 1))
    til = winograd.tiling(win)
    chunk_bytes = (limit or 7) * footprint.WINOGRAD_INPUT_TILE ** 2 * 16 * til.q * 4
    dout = rng.standard_normal((7, 16, 16, 16)).astype(np.float32)
    whole = footprint.WINOGRAD_INPUT_TILE ** 2 * 16 * til.q
    share = -(-images * whole // 7)  # the least share that keeps `images` of 7
    assert footprint.winograd_kept_images(16, til.q, 7, 4, share) == images
    assert footprint.winograd_kept_images(16, til.q, 7, 4, share - 1) == images - 1
    results = []
    for tile_share in (share, 0):
        work = {}
        out, cache = winograd.conv2d_forward(x, w, b, win, work, chunk_bytes=chunk_bytes,
                                             tile_share=tile_share)
        results.append((out.copy(), *winograd.conv2d_backward(dout, cache, work=work)))
        if tile_share:
            assert cache.kept.shape == (images, whole) and cache.x is x
            assert footprint.winograd_kept_bytes(16, til.q, 7, 4, share) == cache.kept.nbytes
    (out, dx, dw, db), (out_again, dx_again, dw_again, db_again) = results
    assert np.array_equal(out, out_again) and np.array_equal(dx, dx_again)
    np.testing.assert_allclose(dw, dw_again, rtol=1e-5, atol=1e-5 * np.abs(dw_again).max())
    np.testing.assert_allclose(db, db_again, rtol=1e-5, atol=1e-5 * np.abs(db_again).max())


def _convs(text: str) -> dict:
    """The ungrouped convolutions of a spec's network, as winograd_keepers takes them."""
    checked = check(parse(text + TRAIN_ON_FILE))
    return {info.name: (info.ir, info.input_shapes[0], info.output_shape, info.pads)
            for info in checked.layers if info.kind == "conv"}


def _tile_bytes(c: int, h: int) -> int:
    """Bytes of one float32 image's V of a c-channel "same" layer on h x h (no junk tiles
    where h is a multiple of the tile)."""
    return footprint.WINOGRAD_INPUT_TILE ** 2 * c * (h // footprint.WINOGRAD_TILE) ** 2 * 4


TRAIN_ON_FILE = 'train {\n  data npz(path="unused.npz")\n  batch 64\n}\n'
VGG = ("input 3x32x32\nconv1: conv 32 3x3 pad same relu\nconv2: conv 32 3x3 pad same relu\n"
       "maxpool 2\nconv3: conv 64 3x3 pad same relu\nconv4: conv 64 3x3 pad same relu\n"
       "flatten\ndense 10\n")


def test_a_networks_kept_tiles_take_its_winograd_layers_inputs_smallest_first():
    """The step's budget for kept V (footprint.winograd_keepers): the bytes of the inputs of
    its Winograd-shaped layers, spent on the smallest V an image first, to the last value:
    the first layer whose V the rest does not hold gets the rest as its share. VGG-small:
    conv1 (3 channels in) runs on im2col; its inputs 32x32x32 + 32x16x16 + 64x16x16 hold
    conv3's V and conv4's, and a share of conv2's, the largest."""
    convs = _convs(VGG)
    budget = 4 * (32 * 32 * 32 + 32 * 16 * 16 + 64 * 16 * 16)
    rest = budget - _tile_bytes(32, 16) - _tile_bytes(64, 16)
    assert 0 < rest < _tile_bytes(32, 32)
    assert footprint.winograd_keepers(convs) == {
        "conv3": _tile_bytes(32, 16) // 4, "conv4": _tile_bytes(64, 16) // 4, "conv2": rest // 4}
    # a layer alone: its input's bytes of its V (2.25 times as many)
    assert footprint.winograd_keepers({"conv2": convs["conv2"]}) == {"conv2": 32 * 32 * 32}
    # a layer that is not Winograd-shaped (stride 2) neither keeps nor adds to the budget
    strided = VGG.replace("conv4: conv 64 3x3 pad same", "conv4: conv 64 3x3 stride 2 pad 1")
    assert footprint.winograd_keepers(_convs(strided)) == {
        "conv3": _tile_bytes(32, 16) // 4, "conv2": 32 * 32 * 32 + 32 * 16 * 16 - 36 * 32 * 16}
    # equal sizes: the network's order decides
    twins = ("input 16x16x16\na: conv 16 3x3 pad same\nb: conv 16 3x3 pad same\n"
             "c: conv 16 3x3 pad same\nflatten\ndense 2\n")
    assert footprint.winograd_keepers(_convs(twins)) == {"a": 36 * 16 * 16,
                                                          "b": 3 * 16 * 16 * 16 - 36 * 16 * 16}


def test_a_keeper_that_frees_its_input_costs_the_budget_its_tiles_less_its_input():
    """A layer keeping every image's V lets its input go: where no other cache holds it (nor
    the caller, the network's input), that input is freed, and the layer costs the budget its
    V less its input. VGG-small: conv3 reads the max pooling's output, which no cache holds;
    conv2 and conv4 read ReLUs' outputs, which the ReLUs' caches hold; conv1 the network's
    input. The rest then goes to conv2; a convolution that also reads the pooling's output
    (counted as holding it) takes the credit away."""
    from cnnspec.check.memory import kept_tile_layers

    convs = _convs(VGG)
    freed = 32 * 16 * 16  # conv3's input
    rest = 32 * 32 * 32 + 32 * 16 * 16 + 64 * 16 * 16 - 36 * 32 * 16 - 36 * 64 * 16
    assert footprint.winograd_keepers(convs, frozenset({"conv3"})) == {
        "conv3": 36 * 32 * 16, "conv4": 36 * 64 * 16, "conv2": rest + freed}
    assert kept_tile_layers(check(parse(VGG + TRAIN_ON_FILE)).layers)["conv2"] == rest + freed
    read_twice = VGG.replace("maxpool 2\n", "pool: maxpool 2\n").replace(
        "flatten\n", "side: conv 64 1x1 <- pool\nboth: add(conv4, side)\nflatten\n")
    assert kept_tile_layers(check(parse(read_twice + TRAIN_ON_FILE)).layers)["conv2"] == rest
    # the network's input, which the caller holds, and a convolution's output: no credit
    twins = ("input 16x16x16\na: conv 16 3x3 pad same\nb: conv 16 3x3 pad same\n"
             "c: conv 16 3x3 pad same\nflatten\ndense 2\n")
    assert kept_tile_layers(check(parse(twins + TRAIN_ON_FILE)).layers) == {
        "a": 36 * 16 * 16, "b": 3 * 16 * 16 * 16 - 36 * 16 * 16}


def test_the_compiled_layers_keep_the_tiles_check_counts():
    """The compiler marks the keepers check's memory estimate counts (kept_tile_layers, one
    function); in a forward pass exactly those layers keep V in their work buffers, as their
    footprints count it."""
    from cnnspec.check.memory import kept_tile_layers

    checked = check(parse(VGG + TRAIN_ON_FILE))
    keepers = kept_tile_layers(checked.layers)
    assert keepers.keys() == {"conv3", "conv4", "conv2"}
    model = compile_spec(checked)
    x = np.random.default_rng(0).standard_normal((64, 3, 32, 32)).astype(np.float32)
    model.threads = 1
    model.forward(x)
    convs = {node.name: node.layer for node in model.nodes if isinstance(node.layer, Conv2d)}
    assert {name for name, layer in convs.items() if layer.work.get("path") == "winograd"} \
        == {"conv2", "conv3", "conv4"}
    assert {name for name, layer in convs.items() if "kept tiles" in layer.work} == keepers.keys()
    assert len(convs["conv2"].work["kept tiles"]) == 64 * keepers["conv2"] // (36 * 32 * 64)
    for info in checked.layers:
        if info.name in ("conv2", "conv3", "conv4"):  # Winograd's work is its kept tiles
            fp = footprint.footprint("conv", info.ir, info.input_shapes, info.output_shape,
                                     info.pads, 64, tile_share=keepers[info.name])
            held = convs[info.name].work.get("kept tiles")
            assert fp.work == (0 if held is None else held.nbytes)
            # a keeper of every image's V lets its input go (the weight gradient reads V), as
            # its footprint says; the others hold it to compute V again
            holds_input = _conv_cache(model, info.name).x is not None
            assert fp.keeps_input == (len(held) < 64) == holds_input


def _runner(model, conv: str):
    """The layer of ``model``'s fused plan that runs convolution ``conv``: the conv itself, or
    the ConvReLU that runs it."""
    layer = next(node.layer for node in model.nodes if node.name == conv)
    return next(node.layer for node in model._fused
                if node.layer is layer or getattr(node.layer, "inner", None) is layer)


def _conv_cache(model, conv: str) -> tuple:
    """The cache of convolution ``conv`` from the pass ``model`` ran."""
    runner = _runner(model, conv)
    return runner.cache[0] if isinstance(runner, FusedReLU) else runner.cache


def test_an_evaluation_pass_keeps_no_tiles():
    """Only a training pass writes V into a keeper's buffer: an evaluation's cache holds the
    input instead, and a backward pass after it gives the same gradients."""
    checked = check(parse(VGG + TRAIN_ON_FILE))
    x = np.random.default_rng(0).standard_normal((64, 3, 32, 32)).astype(np.float32)
    dout = np.random.default_rng(1).standard_normal((64, 64, 16, 16)).astype(np.float32)
    grads = []
    for training in (False, True):
        model = compile_spec(checked)
        model.threads = 1
        model.train() if training else model.eval()
        model.forward(x)
        conv4 = _runner(model, "conv4")
        assert ("kept tiles" in conv4.inner.work) == training
        assert (_conv_cache(model, "conv4").x is None) == training
        grads.append(conv4.backward(dout)[1])
    assert grads[0].keys() == grads[1].keys()
    assert all(np.array_equal(grads[0][key], grads[1][key]) for key in grads[0])


@pytest.mark.parametrize("held", ["frozen", "lr_mult [0, 1]"])
def test_a_conv_whose_weight_is_held_keeps_no_tiles(held):
    """The tiles are kept for the weight gradient, which a held weight (frozen, lr_mult 0)
    does not get: conv3 neither keeps them nor takes budget, in check's count and in the
    compiled layers alike; conv4 still does, and conv2 for the rest of the budget of conv2's
    and conv4's inputs (its V is 2.25 times its input)."""
    from cnnspec.check.memory import kept_tile_layers

    text = VGG.replace("conv3: conv 64 3x3 pad same", f"conv3: conv 64 3x3 pad same {held}")
    checked = check(parse(text + TRAIN_ON_FILE))
    assert kept_tile_layers(checked.layers) == {
        "conv4": 36 * 64 * 16, "conv2": 32 * 32 * 32 + 64 * 16 * 16 - 36 * 64 * 16}
    model = compile_spec(checked)
    model.threads = 1
    model.forward(np.random.default_rng(0).standard_normal((64, 3, 32, 32)).astype(np.float32))
    kept = {node.name for node in model.nodes
            if isinstance(node.layer, Conv2d) and "kept tiles" in node.layer.work}
    assert kept == {"conv4", "conv2"}


def test_a_conv_run_on_its_crop_neither_keeps_tiles_nor_takes_budget():
    """`a` pads 12 rows on each side of a 16-row input: it runs on the part that reads its
    input (conv_crop), never by Winograd on the whole, so it keeps no tiles and its input is no
    share of the budget of those that do (it took `a` before, then `b` too): `b` keeps its V
    whole, the next layer for the rest of four 16x32x32 inputs."""
    from cnnspec.check.memory import kept_tile_layers

    checked = check(parse(
        "input 16x32x32\np: maxpool 2\na: conv 16 3x3 pad 12x1\n"
        "b: conv 16 3x3 pad same <- input\n" + "conv 16 3x3 pad same\n" * 3
        + "flatten\ndense 10\n" + TRAIN_ON_FILE))
    assert kept_tile_layers(checked.layers) == {"b": 36 * 16 * 64,
                                                "conv3": 4 * 16 * 32 * 32 - 36 * 16 * 64}


@pytest.mark.parametrize("dtype, kernel, c, n, expected", [
    (np.float32, 3, 16, 16, True),
    (np.float64, 3, 16, 16, False),  # float64 stays exact
    (np.float32, 5, 16, 16, False),
    (np.float32, 3, 8, 16, False),  # too few channels
    (np.float32, 3, 16, 8, False),  # too few outputs (N*Ho*Wo) for the per-call work
])
def test_the_tuned_convolution_sends_only_the_layers_where_it_pays(dtype, kernel, c, n,
                                                                   expected):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, c, 16, 16)).astype(dtype)
    w = rng.standard_normal((16, c, kernel, kernel)).astype(dtype)
    pad = kernel // 2
    _, cache = conv_tuned.conv2d_forward(x, w, None, (1, 1), (pad,) * 4, work={})
    assert isinstance(cache, winograd.Saved) == expected


def test_the_rule_is_the_footprints():
    geo = footprint.Geometry(16, 16, 16, 16, 16, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    assert footprint.winograd_pays(geo, 16, 4)
    assert not footprint.winograd_pays(geo, 15, 4)
    assert not footprint.winograd_pays(geo, 16, 8)


@pytest.mark.parametrize("c, f, hw, expected", [
    (8, 8, 24, True), (8, 16, 32, True), (16, 8, 24, True),  # 8 channels, 6 tiles a row
    (8, 8, 20, False), (8, 8, 16, False),  # 8 channels on a narrower map
    (16, 16, 16, True), (4, 16, 32, False), (7, 32, 32, False),
])
def test_eight_channels_run_by_winograd_from_24_pixels_a_row(c, f, hw, expected):
    geo = footprint.Geometry(c, hw, hw, f, hw, hw, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    assert footprint.winograd_pays(geo, 64, 4) == expected
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, c, hw, hw)).astype(np.float32)
    w = rng.standard_normal((f, c, 3, 3)).astype(np.float32)
    _, cache = conv_tuned.conv2d_forward(x, w, None, (1, 1), (1,) * 4, work={})
    assert isinstance(cache, winograd.Saved) == (expected and 8 * hw * hw >= 4096)


def _winograd_calls(monkeypatch) -> list[int]:
    """The batch size of each Winograd forward pass from now on (appended as they run),
    after the machine's limits are loaded: timing them at first use runs Winograd layers
    of its own."""
    conv_tuned.thresholds()
    calls = []
    forward = winograd.conv2d_forward
    monkeypatch.setattr(winograd, "conv2d_forward",
                        lambda x, *rest: calls.append(len(x)) or forward(x, *rest))
    return calls


TWO_CONVS = """model two_convs
input 16x16x16
c1: conv 16 3x3 pad same relu
c2: conv 16 3x3 pad same relu
gap: global_avgpool
fc: dense 10
train {
  data npz(path="unused.npz")
}
"""


def test_a_batch_split_across_threads_equals_one_thread(monkeypatch):
    """Both convs run by Winograd in each part (16 images of 16x16) and share their chunk
    buffers (one geometry), per thread: two threads give one thread's step."""
    calls = _winograd_calls(monkeypatch)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 16, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    results = {}
    for threads in (1, 2):
        calls.clear()
        model = compile_spec(check(parse(TWO_CONVS)), seed=0)
        model.threads, model.parts_in = threads, "threads"  # the calls are counted here
        for _ in range(2):
            out = model.forward(x)
            _, dout = model.loss(out, y)
            dx = model.backward(dout)
        assert model._split == (threads == 2)
        assert sorted(calls) == [32 // threads] * (4 * threads)  # 2 convs, 2 steps, each part
        results[threads] = out, dx, model.grads()
    for ours, theirs in zip(results[2][:2], results[1][:2]):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())
    for name, grad in results[1][2].items():
        np.testing.assert_allclose(results[2][2][name], grad, rtol=0,
                                   atol=1e-5 * np.abs(grad).max(), err_msg=name)


def _kept_after(batches, c=16, hw=16) -> int:
    """Bytes a Winograd-sized conv layer (``c`` -> ``c`` channels, ``hw`` x ``hw``, "same")
    holds after a training step on each batch size of ``batches`` in turn."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((c, c, 3, 3)).astype(np.float32)
    tracemalloc.start()
    try:
        layer = Conv2d(weight, np.zeros(c, np.float32), (1, 1), (1, 1, 1, 1), (1, 1))
        for n in batches:
            x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
            out = layer.forward([x], True)
            layer.backward(np.ones_like(out))
            del x, out
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("full, short", [(32, 4), (4, 32)])
def test_a_batch_of_another_size_leaves_no_buffers_behind(full, short):
    """The last batch of an epoch is shorter: at 16x16, 4 images run by im2col, 32 by
    Winograd. A layer back at the full batch keeps what it keeps without the short one
    (check's estimate counts one path's buffers): the other path's are dropped."""
    assert footprint.winograd_pays(
        footprint.Geometry(16, 16, 16, 16, 16, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
        32, 4)
    _kept_after([full, short, full])  # once before: imports, lazily made tables
    alone = _kept_after([full])
    assert _kept_after([full, short, full]) <= alone + (64 << 10)


def _losses(monkeypatch, winograd_on: bool, steps: int) -> np.ndarray:
    """Training losses of TWO_CONVS (Adam, one thread) on fixed data, with Winograd's
    convolution or with it forced off (im2col)."""
    if not winograd_on:
        monkeypatch.setattr(footprint, "WINOGRAD_MIN_CHANNELS", 10**6)
    calls = _winograd_calls(monkeypatch)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((32, 16, 16, 16)).astype(np.float32)
    y = (x[:, 0, 4:12, 4:12].mean(axis=(1, 2)) > 0).astype(int)
    checked = check(parse(TWO_CONVS.replace("train {", "train {\n  optimizer adam\n  lr 0.003")))
    training = checked.ir["training"]
    model = compile_spec(checked, seed=0)
    model.threads = 1
    optimizer = make_optimizer(training["optimizer"], training["weight_decay"])
    losses = []
    for _ in range(steps):
        loss, dout = model.loss(model.forward(x), y)
        model.backward(dout)
        optimizer.step(model.params(), model.grads(), training["lr"])
        losses.append(float(loss))
    assert bool(calls) == winograd_on
    return np.array(losses)


def test_training_with_winograd_tracks_training_without(monkeypatch):
    """30 float32 Adam steps: the losses with Winograd's convolution and with im2col's agree
    to 1e-4 relative. Float32 rounding of any kind (such as summing a split batch's gradients
    in another order) grows along a trajectory; measured, the largest relative difference over
    the 30 steps: 9e-7 with NumPy 2.4, 3e-5 with NumPy 1.25 (2e-6 by step 10), the oldest
    NumPy pyproject allows, whose float32 reductions round differently."""
    on = _losses(monkeypatch, True, 30)
    monkeypatch.undo()
    off = _losses(monkeypatch, False, 30)
    np.testing.assert_allclose(on, off, rtol=1e-4)
    assert off[-1] < off[0]  # it trains


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_input_stays_in_its_tiles_and_image(bad):
    """Every output and gradient the reference makes non-finite is non-finite here too; the
    other images' outputs and input gradients stay finite (as the module docstring says, a
    tile is all or nothing: more pixels than the reference's, never fewer)."""
    x, w, _, rng = _arrays(2, 16, 16, (12, 12), seed=7, bias=False)
    x[0, 3, 5, 6] = bad
    pads = (1, 1, 1, 1)
    dout = rng.standard_normal((2, 16, 12, 12))
    with np.errstate(invalid="ignore"):
        ours = _winograd(x, w, None, pads, dout, np.float32, work={})
        exact = _reference(x, w, None, pads, dout)
    for mine, reference in zip(ours[:3], exact[:3]):
        assert np.isfinite(mine)[~np.isfinite(reference)].sum() == 0
    out, dx = ours[:2]
    assert np.isfinite(out[1]).all() and np.isfinite(dx[1]).all()
    assert not np.isfinite(out[0]).all()


@pytest.mark.parametrize("pixel", [(0, 0), (0, 11), (11, 0), (11, 11), (6, 11)])
@pytest.mark.parametrize("image, channel", [(0, 15), (1, 0)])
def test_a_non_finite_pixel_at_a_rows_end_stays_in_its_image(pixel, image, channel):
    """A chunk's tile rows follow each other in one run, so a tile at a row's end reads the
    neighbouring row's pixels where its padding is (winograd.Tiling.misread): a NaN in the
    first or last column of image 0's last channel (image 1's rows come next) or of image
    1's first channel (image 0's come before) leaves the other image finite."""
    x, w, _, rng = _arrays(2, 16, 16, (12, 12), seed=11, bias=False)
    x[image, channel, pixel[0], pixel[1]] = np.nan
    pads = (1, 1, 1, 1)
    dout = rng.standard_normal((2, 16, 12, 12))
    with np.errstate(invalid="ignore"):
        out = _winograd(x, w, None, pads, dout, np.float32, work={})[0]
        reference = _reference(x, w, None, pads, dout)[0]
    assert np.isfinite(out)[~np.isfinite(reference)].sum() == 0
    assert np.isfinite(out[1 - image]).all()


@pytest.mark.parametrize("width", [15, 16, 17])  # tw*m - 1, tw*m, tw*m + 1 pixels a row
@pytest.mark.parametrize("pads", [(2, 0, 2, 0), (0, 2, 0, 2), (1, 0, 0, 1), (0, 1, 1, 0)])
@pytest.mark.parametrize("column", [0, 1, -2, -1])
def test_a_non_finite_pixel_stays_in_the_tiles_that_read_it(width, pads, column):
    """Asymmetric padding moves a row's pixels against its tile row (two pixels into the
    next tile row's place, or the last tile reading the next row's first two): a NaN in the
    first or last columns of a row makes only the outputs of the tiles whose 6 x 6 input
    window holds it non-finite, and every output the reference makes non-finite."""
    x, w, _, _ = _arrays(3, 16, 16, (9, width), seed=12, bias=False)
    row, col = 4, column % width
    x[1, 15, row, col] = np.nan
    win = window((9, width), (3, 3), (1, 1), pads)
    with np.errstate(invalid="ignore"):
        out = winograd.conv2d_forward(x.astype(np.float32), w.astype(np.float32), None, win,
                                      {})[0]
        reference = conv.conv2d_forward(x, w, None, pads=pads)[0]
    m, a = winograd.Tiling.m, winograd.Tiling.a
    allowed = np.zeros(out.shape, bool)
    y, xx = row + pads[0], col + pads[2]  # in the padded input
    for ty in range(max(0, (y - a) // m + 1), y // m + 1):
        for tx in range(max(0, (xx - a) // m + 1), xx // m + 1):
            allowed[1, :, ty * m:(ty + 1) * m, tx * m:(tx + 1) * m] = True
    assert not (~np.isfinite(out) & ~allowed).any()
    assert np.isfinite(out)[~np.isfinite(reference)].sum() == 0


@pytest.mark.parametrize("c, f", [(16, 16), (64, 16), (3, 40)])
@pytest.mark.parametrize("hw, pads", [((16, 16), (1, 1, 1, 1)), ((13, 30), (2, 0, 1, 3)),
                                      ((5, 9), (4, 4, 4, 4))])
@pytest.mark.parametrize("n", [1, 31, 64])  # 31, 64: chunks of two sizes where c or f is 64
@pytest.mark.parametrize("kept", [0, 0.4, 1])  # the share of the images whose V is kept
def test_the_chunk_buffers_are_within_their_footprint(c, f, hw, pads, n, kept):
    """What a forward and a backward pass leave in the shared chunk buffers is at most
    footprint._winograd_chunk_bytes, whatever chunk limit calibration chooses (check does not
    know the machine's) and whatever share of the images keeps its ``V`` (the kept images
    and the others in chunks of their own: up to three sizes of chunk, each with buffers of
    its own); and, under the largest limit, with every image's ``V`` kept, exactly it (a
    footprint that counted more, V's buffer that no pass then makes and twice a full
    chunk's tile rows and output tiles, held VGG-small at 1.6 times its measured step)."""
    x, w, _, _ = _arrays(n, c, f, hw, seed=8, bias=False)
    x, w = x.astype(np.float32), w.astype(np.float32)
    win = window(hw, (3, 3), (1, 1), pads)
    geo = footprint.Geometry(c, *hw, f, *win.out_hw, (3, 3), (1, 1), pads, (1, 1))
    share = round(kept * footprint._image_tile_values(geo))
    estimated = footprint._winograd_chunk_bytes(geo, n, 4, tile_share=share)
    used = {}
    for limit in WINOGRAD_CANDIDATES:
        work = {}
        out, cache = winograd.conv2d_forward(x, w, None, win, work, chunk_bytes=limit,
                                             tile_share=share)
        winograd.conv2d_backward(np.ones_like(out), cache, work=work)
        used[limit] = sum(buffer.nbytes for buffer in work[("shared", "winograd")].values()
                          if isinstance(buffer, np.ndarray))
        assert used[limit] <= estimated
    if kept == 1 and n > 1:
        assert used[max(WINOGRAD_CANDIDATES)] == footprint._winograd_scratch_bytes(
            geo, n, 4, share, (max(WINOGRAD_CANDIDATES),))


def test_a_batch_split_into_a_winograd_part_and_an_im2col_part(monkeypatch):
    """31 images of 16x16 in two threads: 16 (4096 outputs a channel) run by Winograd, 15 by
    im2col. Outputs and gradients are the single-thread im2col step's (the net is linear up
    to the loss, so no ReLU kink flips on a rounding difference)."""
    linear = TWO_CONVS.replace(" relu", "")
    calls = _winograd_calls(monkeypatch)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((31, 16, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 31)
    results = []
    for threads, min_channels in ((2, footprint.WINOGRAD_MIN_CHANNELS), (1, 10**6)):
        monkeypatch.setattr(footprint, "WINOGRAD_MIN_CHANNELS", min_channels)
        model = compile_spec(check(parse(linear)), seed=0)
        model.threads = threads
        out = model.forward(x)
        _, dout = model.loss(out, y)
        results.append((out, model.backward(dout), model.grads()))
    assert calls == [16, 16]  # the two convs of the first part, and no more
    (out, dx, grads), (out_1, dx_1, grads_1) = results
    for ours, theirs in [(out, out_1), (dx, dx_1), *((grads[k], grads_1[k]) for k in grads_1)]:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())


RESIDUAL = """model residual
input 16x16x16
stem: conv 16 3x3 pad same relu
repeat 2 as res {
  a: conv 16 3x3 pad same relu
  b: conv 16 3x3 pad same
  sum: add(b, in) relu
}
pool: global_avgpool
fc: dense 4
train {
  data npz(path="unused.npz")
  batch 64
}
"""


@pytest.mark.parametrize("last", [64, 10])
def test_full_batches_after_a_short_one_stay_within_the_estimate(last):
    """Batch 64 runs as two parts of 32 in replica layers (Winograd's path); an epoch's last
    batch of 10 runs whole on the model's own layers (im2col's small plans), which keep their
    buffers unless the model frees them when it splits again. Kept, the full steps after it
    (the model built within the measurement) peaked at 28.1-34.9 MiB against an estimate of
    26.3 MiB; after a full batch instead, 23.3 MiB (Intel Xeon, two threads)."""
    checked = check(parse(RESIDUAL))
    training = checked.ir["training"]
    rng = np.random.default_rng(10)

    def steps(model, optimizer, batches):
        for n in batches:
            x = rng.standard_normal((n, 16, 16, 16)).astype(np.float32)
            _, dout = model.loss(model.forward(x), rng.integers(0, 4, n))
            model.backward(dout)
            optimizer.step(model.params(), model.grads(), training["lr"])

    steps(compile_spec(checked, seed=0), make_optimizer(training["optimizer"]), [64])  # imports
    tracemalloc.start()
    try:
        model = compile_spec(checked, seed=0)
        optimizer = make_optimizer(training["optimizer"], training["weight_decay"])
        steps(model, optimizer, [64, last])
        tracemalloc.reset_peak()
        steps(model, optimizer, [64, 64])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= checked.step_memory.total


@pytest.mark.parametrize("c, f", [(16, 16), (17, 5)])
@pytest.mark.parametrize("hw", SIZES)
@pytest.mark.parametrize("pads", PADS)
def test_the_bias_added_at_point_one_reaches_every_output(c, f, hw, pads):
    """The bias is added to the products at one transformed point (winograd._BIAS_POINT):
    with it, every output (the cropped last tiles' too) is the output without it plus ``b``,
    within the bound; ``db`` is the reference's."""
    if min(_output_hw(hw, pads)) < 1:
        pytest.skip("no output")
    x, w, b, rng = _arrays(3, c, f, hw, seed=c + f)
    b = 100 * b  # far larger than the convolution's terms
    dout = rng.standard_normal((3, f, *_output_hw(hw, pads)))
    with_bias = _winograd(x, w, b, pads, dout, np.float32, work={})
    without = _winograd(x, w, None, pads, dout, np.float32, work={})
    size = _reference(abs(x), abs(w), abs(b), pads, abs(dout))[0]
    shift = with_bias[0] - without[0] - b.astype(np.float32)[:, None, None]
    assert float(np.abs(shift).max()) <= winograd.ERROR_BOUND * float(size.max())
    db = _reference(x, w, b, pads, dout)[3]
    np.testing.assert_allclose(with_bias[3], db, rtol=0, atol=1e-5 * np.abs(db).max())
    assert without[3] is None


@pytest.mark.parametrize("c, f, hw", [(32, 32, 32), (64, 64, 16), (32, 64, 16), (32, 32, 16),
                                      (16, 16, 32), (128, 128, 8), (16, 512, 64)])
@pytest.mark.parametrize("limit", WINOGRAD_CANDIDATES)
def test_a_chunks_tiles_stay_within_the_calibrated_limit(c, f, hw, limit):
    """A chunk's transformed tiles (a*a*max(C, F)*images*Q values) take at most the limit,
    unless the chunk is one image, and one image more would not fit."""
    q = footprint.winograd_tiles(hw, hw, hw)[2]
    images = footprint.winograd_chunk_images(c, f, q, 64, 4, limit)
    per_image = footprint.WINOGRAD_INPUT_TILE ** 2 * max(c, f) * q * 4
    assert 1 <= images <= 64
    assert images == 1 or per_image * images <= limit
    assert images == 64 or per_image * (images + 1) > limit


@pytest.mark.parametrize("c, f, hw, pads", [(16, 16, (16, 16), (1, 1, 1, 1)),
                                            (17, 5, (13, 6), (2, 0, 1, 3))])
def test_every_chunk_limit_gives_the_references_results(c, f, hw, pads):
    """Chunks of one image, of several with a shorter last one, and the whole batch, for
    every limit calibration may choose: outputs and gradients within the bound of the
    float64 reference, the backward pass taking the forward's chunks."""
    x, w, b, rng = _arrays(7, c, f, hw, seed=11)
    dout = rng.standard_normal((7, f, *_output_hw(hw, pads)))
    reference = _reference(x, w, b, pads, dout)
    sizes = _reference(abs(x), abs(w), abs(b), pads, abs(dout))
    win = window(hw, (3, 3), (1, 1), pads)
    per_image = footprint.WINOGRAD_INPUT_TILE ** 2 * max(c, f) * winograd.tiling(win).q * 4
    steps = set()
    for limit in (1, 3 * per_image, *WINOGRAD_CANDIDATES):
        work = {}
        out, cache = winograd.conv2d_forward(x.astype(np.float32), w.astype(np.float32),
                                             b.astype(np.float32), win, work, chunk_bytes=limit)
        steps.add(cache.images)
        grads = winograd.conv2d_backward(dout.astype(np.float32), cache, work=work)
        for mine, exact, size in zip((out, *grads), reference, sizes):
            error = float(np.abs(mine - exact).max())
            assert error <= winograd.ERROR_BOUND * float(size.max())
    assert {1, 3, 7} <= steps


def test_the_tuned_convolution_chunks_by_the_machines_limit(monkeypatch):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((16, 16, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    per_image = footprint.WINOGRAD_INPUT_TILE ** 2 * 16 * 16 * 4
    for images in (1, 5, 16):
        limits = Thresholds(winograd_bytes=images * per_image)
        monkeypatch.setattr(conv_tuned, "thresholds", lambda limits=limits: limits)
        _, cache = conv_tuned.conv2d_forward(x, w, None, (1, 1), (1,) * 4, work={})
        assert isinstance(cache, winograd.Saved) and cache.images == images


def _arrays_in(views):
    """The arrays a chunk's views (records, tuples of them) hold."""
    if isinstance(views, np.ndarray):
        yield views
    elif isinstance(views, tuple):
        for item in views:
            yield from _arrays_in(item)
    elif views is not None and not isinstance(views, (str, int, bool, np.dtype)):
        for field in dataclasses.fields(views):
            yield from _arrays_in(getattr(views, field.name))


def test_the_chunks_views_hold_no_buffer_the_work_dict_has_let_go():
    """The 3 kept images' chunk comes before chunks of 5, which grow the chunk buffers after
    its views were made: the views kept (winograd._planned) view only the buffers the shared
    work dict holds, which the footprint counts, and give the results of a pass without
    kept views."""
    x, w, b, rng = _arrays(16, 8, 8, (16, 16), seed=11)
    x, w, b = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    win = window((16, 16), (3, 3), (1, 1), (1, 1, 1, 1))
    dout = rng.standard_normal((16, 8, 16, 16)).astype(np.float32)
    work, passes = {}, []
    for layer_work in (work, work, None):
        out, cache = winograd.conv2d_forward(x, w, b, win, layer_work, chunk_bytes=100_000,
                                             tile_share=1000)
        assert cache.images == 5 and len(cache.kept) == 3
        passes.append((out.copy(), *winograd.conv2d_backward(dout, cache, work=layer_work)))
    scratch = work[("shared", "winograd")]
    held = [byte_bounds(buffer) for buffer in scratch.values() if isinstance(buffer, np.ndarray)]
    held += [byte_bounds(winograd._matrix(name, x.dtype)) for name in ("BT", "AT")]
    plans = scratch["plans"]
    assert {key[:2] for key in plans} == {("forward", 3), ("forward", 5), ("backward", 3),
                                          ("backward", 5)}
    for views in plans.values():
        for array in _arrays_in(views):
            low, high = byte_bounds(array)
            assert any(start <= low and high <= end for start, end in held)
    for kept_views in passes[1:]:
        for ours, theirs in zip(kept_views, passes[0]):
            np.testing.assert_array_equal(ours, theirs)


def test_layers_of_one_geometry_share_chunk_buffers_within_the_largest_footprint():
    """A layer keeping the V of a part of its images and another keeping none, of one
    geometry, share their chunk buffers (windows.shared_work): the chunks of both sizes'
    buffers, which the partial keeper's footprint counts (16 -> 16 at 16x16, 32 images in one
    chunk for the layer keeping none, 21 and 11 for the other, as resnet_near_identity's
    layers run: 6.2 MiB against a figure of 4.8 when each layer counted its own chunks
    alone, and that net's step came within 0.4 MiB of its estimate)."""
    n, c, hw, pads = 32, 16, (16, 16), (1, 1, 1, 1)
    win = window(hw, (3, 3), (1, 1), pads)
    geo = footprint.Geometry(c, *hw, c, *win.out_hw, (3, 3), (1, 1), pads, (1, 1))
    shares = (0, 2 * footprint._image_tile_values(geo) // 3)
    limit = max(WINOGRAD_CANDIDATES)
    works = [{} for _ in shares]
    for seed, (work, share) in enumerate(zip(works, shares)):
        x, w, _, _ = _arrays(n, c, c, hw, seed=seed, bias=False)
        out, cache = winograd.conv2d_forward(x.astype(np.float32), w.astype(np.float32), None,
                                             win, work, chunk_bytes=limit, tile_share=share)
        winograd.conv2d_backward(np.ones_like(out), cache, work=work)
    shared = works[0][("shared", "winograd")]
    assert shared is works[1][("shared", "winograd")]
    used = sum(buffer.nbytes for buffer in shared.values() if isinstance(buffer, np.ndarray))
    figures = [footprint._winograd_chunk_bytes(geo, n, 4, share) for share in shares]
    assert used <= max(figures)
    assert used == footprint._winograd_scratch_bytes(geo, n, 4, shares[1], (limit,))
