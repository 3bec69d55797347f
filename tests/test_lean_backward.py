"""The in-place backward passes of the elementwise ops and of pooling equal the textbook
formulas, in float32 and float64, keep the dtype, and never write into ``dout``."""
from __future__ import annotations

import numpy as np
import pytest

from cnnspec.engine import activations as act
from cnnspec.engine import pool
from cnnspec.engine.windows import window
from cnnspec.shapes import ceil_mode_pads

DTYPES = [np.float32, np.float64]

# op -> (forward, backward, the textbook backward from the forward's output y and dout)
ELEMENTWISE = {
    "tanh": (act.tanh_forward, act.tanh_backward, lambda y, d: d * (1 - y * y)),
    "sigmoid": (act.sigmoid_forward, act.sigmoid_backward, lambda y, d: d * y * (1 - y)),
    "softmax": (act.softmax_forward, act.softmax_backward,
                lambda y, d: y * (d - (d * y).sum(axis=1, keepdims=True))),
    "log_softmax": (act.log_softmax_forward, act.log_softmax_backward,
                    lambda y, d: d - np.exp(y) * d.sum(axis=1, keepdims=True)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
def test_elementwise_backward_is_the_formula(op, dtype):
    forward, backward, formula = ELEMENTWISE[op]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4, 6)).astype(dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    kept = dout.copy()
    y, cache = forward(x)
    dx = backward(dout, cache)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert dx is not dout and not np.shares_memory(dx, dout)
    np.testing.assert_array_equal(dout, kept)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(dx, formula(y, dout), rtol=tol, atol=tol)


def test_a_float64_gradient_into_a_float32_layer_is_not_cut_to_float32():
    _, cache = act.tanh_forward(np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4))
    dout = np.full((3, 4), 1 / 3)  # float64
    assert act.tanh_backward(dout, cache).dtype == np.float64


def _avgpool_reference(dout, x_shape, kernel, stride, pads, inverse):
    """The straightforward scatter: each window adds dout / count to each pixel it counts."""
    (kh, kw), (sh, sw), (top, bottom, left, right) = kernel, stride, pads
    n, c, h, w = x_shape
    dxp = np.zeros((n, c, h + top + bottom, w + left + right))
    scale = np.broadcast_to(inverse, dout.shape[2:])
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += \
                (dout[:, :, i, j] * scale[i, j])[:, :, None, None]
    return dxp[:, :, top:top + h, left:left + w]


# (input H, W, kernel, stride, pads, count_include_pad): windows that tile the input, tile it
# padded, overlap, and leave a remainder
POOLS = [((8, 8), (2, 2), (2, 2), (0, 0, 0, 0), True),
         ((6, 9), (2, 3), (2, 3), (0, 0, 0, 0), True),
         ((6, 6), (2, 2), (2, 2), (1, 1, 1, 1), True),
         ((6, 6), (2, 2), (2, 2), (1, 1, 1, 1), False),
         ((7, 7), (3, 3), (2, 2), (1, 1, 1, 1), True),
         ((7, 7), (2, 2), (2, 2), (0, 0, 0, 0), True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", POOLS)
def test_avgpool_backward_is_the_scatter(geometry, dtype):
    hw, kernel, stride, pads, count_pad = geometry
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3) + hw).astype(dtype)
    out, cache = pool.avgpool_forward(x, kernel, stride, pads, count_include_pad=count_pad)
    dout = rng.standard_normal(out.shape).astype(dtype)
    kept = dout.copy()
    dx = pool.avgpool_backward(dout, cache)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dout, kept)
    expected = _avgpool_reference(dout.astype(np.float64), x.shape, kernel, stride, pads,
                                  cache[2])
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol)


def _maxpool_reference(dout, x, kernel, stride, pads):
    """The loop oracle: each window adds its gradient to its first maximal pixel in row-major
    order (PyTorch's rule), padding -inf."""
    (kh, kw), (sh, sw), (top, bottom, left, right) = kernel, stride, pads
    n, c, h, w = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)),
                constant_values=-np.inf)
    dxp = np.zeros(xp.shape)
    for b in range(n):
        for ch in range(c):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    patch = xp[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    y, x_ = np.unravel_index(np.argmax(patch), patch.shape)
                    dxp[b, ch, i * sh + y, j * sw + x_] += dout[b, ch, i, j]
    return dxp[:, :, top:top + h, left:left + w]


# (input H, W, kernel, stride, pads): windows that tile the input (the reshaped-rows path),
# tile it padded, overlap, and leave a remainder (the offset loop)
MAXPOOLS = [((8, 8), (2, 2), (2, 2), (0, 0, 0, 0)), ((6, 9), (2, 3), (2, 3), (0, 0, 0, 0)),
            ((9, 6), (3, 3), (3, 3), (0, 0, 0, 0)), ((6, 6), (2, 2), (2, 2), (1, 1, 1, 1)),
            ((7, 7), (3, 3), (2, 2), (1, 1, 1, 1)), ((7, 7), (2, 2), (2, 2), (0, 0, 0, 0)),
            ((4, 6), (1, 2), (1, 2), (0, 0, 0, 0))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values", ["distinct", "ties"])
@pytest.mark.parametrize("layout", ["nchw", "channel_first"])
@pytest.mark.parametrize("block_bytes", [pool.BLOCK_BYTES, 100, 1000])
@pytest.mark.parametrize("geometry", MAXPOOLS)
def test_maxpool_backward_routes_to_the_first_maximum(geometry, block_bytes, layout, values,
                                                      dtype, monkeypatch):
    """Every path of the max pool's backward equals the loop oracle, ties (a few distinct
    values, as after a ReLU) included, for inputs in either memory order, in blocks of whole
    channels or of images of one channel."""
    monkeypatch.setattr(pool, "BLOCK_BYTES", block_bytes)
    hw, kernel, stride, pads = geometry
    rng = np.random.default_rng(2)
    shape = (3, 2) + hw
    x = (rng.permutation(np.prod(shape)).reshape(shape) if values == "distinct"
         else rng.integers(0, 3, shape)).astype(dtype)
    if layout == "channel_first":
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    out, cache = pool.maxpool_forward(x, kernel, stride, pads)
    dout = rng.standard_normal(out.shape).astype(dtype)
    kept = dout.copy()
    dx = pool.maxpool_backward(dout, cache)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dout, kept)
    tol = 1e-6 if dtype == np.float32 else 1e-14  # overlapping windows add in another order
    np.testing.assert_allclose(dx, _maxpool_reference(dout, x, kernel, stride, pads),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("values", ["distinct", "ties"])
@pytest.mark.parametrize("geometry", [((7, 9), (2, 2), (2, 2), (0, 0, 0, 0)),
                                      ((7, 7), (2, 2), (2, 2), (1, 1, 1, 1)),
                                      ((7, 9), (3, 3), (2, 2), (1, 1, 1, 1))])
def test_maxpool_in_ceil_mode_routes_to_the_first_maximum(geometry, values):
    """Ceil mode's overhanging last windows (padded for by ceil_mode_pads, which never win):
    tiling 2x2 windows and overlapping 3x3 ones against the loop oracle, ties included."""
    hw, kernel, stride, pads = geometry
    rng = np.random.default_rng(5)
    shape = (2, 3) + hw
    x = (rng.permutation(np.prod(shape)).reshape(shape) if values == "distinct"
         else rng.integers(0, 3, shape)).astype(np.float64)
    out, cache = pool.maxpool_forward(x, kernel, stride, pads, ceil_mode=True)
    dout = rng.standard_normal(out.shape)
    dx = pool.maxpool_backward(dout, cache)
    expected = _maxpool_reference(dout, x, kernel, stride, ceil_mode_pads(hw, kernel, stride,
                                                                           pads))
    np.testing.assert_allclose(dx, expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 3), (2, 2))])
def test_maxpool_of_an_empty_batch(kernel, stride):
    x = np.zeros((0, 3, 8, 8), np.float32)
    out, cache = pool.maxpool_forward(x, kernel, stride)
    dx = pool.maxpool_backward(np.zeros(out.shape, np.float32), cache)
    assert dx.shape == x.shape and dx.dtype == np.float32


@pytest.mark.parametrize("values, counted", [("distinct", True), ("ties", False),
                                             ("nan", False), ("nan_and_tie", False)])
def test_tiled_maxpool_keeps_one_first_hit_per_window(values, counted, monkeypatch):
    """The tiling windows' forward marks each window's first maximal pixel (row-major, as
    PyTorch): by one comparison where every maximum is unique, kept first by each window row's
    bytes after ties or NaN (a NaN window gets no hit, as in the offset loop), even where a NaN
    window and a tie leave the count of hits right."""
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 3 * 8 * 8).reshape(2, 3, 8, 8).astype(np.float32)
    if values in ("ties", "nan_and_tie"):
        x[1, 2, 4:6, 4:6] = [[-1, 500], [500, -2]]  # row-major first: the top right
    if values in ("nan", "nan_and_tie"):
        x[0, 1, 2, 3] = np.nan
    kept, keep_first_hits = [], pool._keep_first_hits
    monkeypatch.setattr(pool, "_keep_first_hits",
                        lambda *a: kept.append(a) or keep_first_hits(*a))
    _, (_, _, hit, _, _) = pool.maxpool_forward(x, (2, 2), (2, 2))
    assert (not kept) == counted
    expected = np.zeros(x.shape, bool)
    for b, c, i, j in np.ndindex(2, 3, 4, 4):
        patch = x[b, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        if not np.isnan(patch).any():
            y, x_ = np.unravel_index(np.argmax(patch), patch.shape)
            expected[b, c, 2 * i + y, 2 * j + x_] = True
    np.testing.assert_array_equal(hit.transpose(1, 0, 2, 3), expected)


@pytest.mark.parametrize("shape, kw", [((2, 3, 5), 2), ((4, 1), 3), ((2, 0), 2), ((3,), 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_spread_is_numpy_repeat(shape, kw, dtype):
    a = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    a[..., :1] = -0.0
    spread = pool._spread(a, kw)
    expected = np.repeat(a, kw, axis=-1)
    assert spread.dtype == dtype and spread.shape == expected.shape
    np.testing.assert_array_equal(spread.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (1, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_over_windows_copies_each_value_over_its_window(kernel, dtype):
    """The tiling windows' gradient spread (max pool's, average pool's): each value at every
    pixel of its window, whatever the strides of its input (a channel-first view)."""
    win = window((3 * kernel[0], 4 * kernel[1]), kernel, kernel, (0, 0, 0, 0))
    a = np.random.default_rng(6).standard_normal((3, 2, 3, 4)).astype(dtype).transpose(1, 0, 2, 3)
    spread = pool._over_windows(a, win)
    expected = np.repeat(np.repeat(a, kernel[0], axis=-2), kernel[1], axis=-1)
    assert spread.dtype == dtype and spread.flags.c_contiguous
    np.testing.assert_array_equal(spread, expected)


@pytest.mark.parametrize("channels, batch, plane_bytes, limit", [
    (6, 4, 100, 1000), (6, 4, 100, 250), (3, 5, 100, 50), (1, 1, 10, 10), (4, 3, 8, 10**6)])
def test_blocks_cover_a_channel_first_array_once(channels, batch, plane_bytes, limit,
                                                 monkeypatch):
    monkeypatch.setattr(pool, "BLOCK_BYTES", limit)
    seen = np.zeros((channels, batch), int)
    for block in pool._blocks(channels, batch, plane_bytes):
        seen[block] += 1
        assert seen[block].size * plane_bytes <= max(limit, plane_bytes)
    assert (seen == 1).all()

