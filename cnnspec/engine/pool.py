"""Max, average and global average pooling, vectorised over the kernel offsets.

Each pooling op visits its kernel offsets once (a strided slice of the padded input per
offset), never the pixels: those that may read the input (:meth:`Window.reaching_offsets`; the
others read padding alone, which adds nothing to a max or a sum), all kh*kw of them but for a
window far larger than its input. Windows may overlap and be padded: max
pooling pads with -inf (padding never wins), average pooling pads with zeros that count in the
divisor (PyTorch's default ``count_include_pad=True``) unless ``count_include_pad`` is False.
With ``ceil_mode`` the last windows may hang over the padded input's end
(:func:`cnnspec.shapes.ceil_mode_pads` pads for them); an average never counts that overhang,
as in PyTorch.
"""
from __future__ import annotations

import functools

import numpy as np

# BLOCK_BYTES: declared where check's memory estimate reads it too (tests set it here)
from cnnspec.engine.footprint import POOL_BLOCK_BYTES as BLOCK_BYTES
from cnnspec.engine.footprint import windows_tile
from cnnspec.engine.windows import Window, channel_first_padded, window
from cnnspec.shapes import Padding, ceil_mode_pads, taps_reading


def _window(x, kernel, stride, pads, ceil_mode=False) -> Window:
    in_hw, kernel, stride, pads = tuple(x.shape[2:]), tuple(kernel), tuple(stride), tuple(pads)
    if ceil_mode:
        pads = ceil_mode_pads(in_hw, kernel, stride, pads)
    return window(in_hw, kernel, stride, pads)


def maxpool_forward(x, kernel, stride, pads=(0, 0, 0, 0), ceil_mode=False):
    """Max over each window: a running ``np.maximum`` over the kh*kw offset views.

    ``x`` (N, C, H, W)  ->  ``out`` (N, C, Ho, Wo) (a view of channel-first memory).
    ``cache`` = (x's shape, the :class:`Window`, ``hit``, ``xp``, ``best``). Windows that tile
    the padded input (2x2 pooling) find where each maximum sits here, in the same blocks that
    take the maxima: ``hit`` (C, N, Hp, Wp) is True at each window's first maximal pixel in
    row-major order, one byte a pixel (the input need not be kept); ``xp`` and ``best`` are
    None. Other windows keep ``xp`` the padded channel-first input (C, N, Hp, Wp) and ``best``
    the channel-first output (C, N, Ho, Wo), and the backward pass finds the maxima again;
    ``hit`` is None.
    """
    win = _window(x, kernel, stride, pads, ceil_mode)
    xp = channel_first_padded(x, win, fill=-np.inf)
    if _tiles(win):
        best, hit = _tiled_max(xp, win)
        return best.transpose(1, 0, 2, 3), (x.shape, win, hit, None, None)
    best = _running_max([xp[:, :, rows, cols] for _, _, rows, cols in win.reaching_offsets()])
    return best.transpose(1, 0, 2, 3), (x.shape, win, None, xp, best)


def _tiles(win: Window) -> bool:
    """Whether the windows tile the padded input exactly (stride = kernel, no remainder),
    every tap reaching the input (:func:`windows_tile`)."""
    return windows_tile(win.kernel, win.stride, win.out_hw, win.padded_hw, win.in_hw,
                        win.pads)


def _tiled_max(xp, win: Window) -> tuple[np.ndarray, np.ndarray]:
    """The max pool of windows that tile ``xp`` (C, N, Hp, Wp): ``best`` (C, N, Ho, Wo) and
    ``hit`` (C, N, Hp, Wp), True at each window's first maximal pixel in row-major order
    (PyTorch's choice), both new memory.

    ``xp`` seen as (C, N, Ho, kh, Wo, kw) (a view): a max over the kh rows of each window,
    whose operands are runs of whole input rows, then over the kw columns; kh + kw - 2 NumPy
    calls instead of kh*kw over doubly strided views. Each window's maximum, copied over its
    pixels (:func:`_over_windows`), is then compared with the input, one call over whole
    contiguous blocks (comparing the column spread with each window's kh rows by broadcasting
    runs NumPy's inner loop over single rows; one thread, ms, broadcast / whole, Intel Xeon,
    AVX-512, 2 MiB L2: LeNet-5's pool2 batch 256 0.59 / 0.53, batch 64 0.143 / 0.131). A
    window whose maximum is unique gets one hit; one count of the hits tells whether every
    window has one (each has at least one unless its maximum is NaN); after ties (common
    after a ReLU, whose zeros tie) or NaN, :func:`_keep_first_hits` keeps the first hit of
    each window (none for NaN), or where it cannot, :func:`_first_hits`.

    Blocks of at most :data:`BLOCK_BYTES` of input keep the temporaries (the rows' maxima,
    the maxima copied over the windows) in the core's cache and out of the step's peak memory.
    """
    (ho, wo), (kh, kw), (hp, wp) = win.out_hw, win.kernel, win.padded_hw
    c, n = xp.shape[:2]
    blocks = xp.reshape(c, n, ho, kh, wo, kw)
    best = np.empty((c, n, ho, wo), xp.dtype)
    hit = np.empty((c, n, hp, wp), bool)
    for block in _blocks(c, n, xp.itemsize * hp * wp):
        window_rows = blocks[block]
        rows_max = _running_max([window_rows[:, :, :, i] for i in range(kh)])  # (.., Wo, kw)
        _running_max([rows_max[..., j] for j in range(kw)], out=best[block])
        np.equal(xp[block], _over_windows(best[block], win), out=hit[block])
    tied = best.size and (np.count_nonzero(hit) != best.size or np.isnan(best.max()))
    if tied and not _keep_first_hits(hit, win):
        hit = _first_hits(xp, best, win)
    return best, hit


# The unsigned integer whose bytes are a window row's hits, by the window's width.
_ROW_WORDS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _keep_first_hits(hit, win: Window) -> bool:
    """Keep each window's first hit in row-major order alone in ``hit`` (C, N, Hp, Wp) of
    windows that tile it, in place, from its hits (True at every maximal pixel); False, and
    ``hit`` unchanged, where the windows are not 1, 2, 4 or 8 pixels wide or are padded (a
    window of -inf then ties its padding, which is never its maximum: :func:`_first_hits`
    knows where the padding is).

    A window row's hits, one byte each (0 or 1), are the bytes of one unsigned integer, so
    ``row & -row`` keeps its lowest set byte, the row's first hit (the lowest set bit of a
    two's complement, in little-endian byte order); each row after the first then keeps its
    hit only where no row before has one. Windows of zeros tie (1 in 16 of 2x2 windows of a
    ReLU's output on zero-mean inputs; the model runs a ReLU after the pool instead where the
    pool is its only reader, but not where another layer reads it too), as do saturated
    pixels, so such a pool took the offset loop on every step: with this, its forward pass on
    a ReLU's output is 1.64 / 1.53 / 1.66 / 1.45 times as fast (3.7 against 6.1 ms on 32
    channels at 32x32; 64 at 16x16; 6 at 28x28; 16 at 10x10; batch 64, one thread, medians of
    7 interleaved rounds, Intel Xeon, cpu family 6, model 167). A window whose maximum is NaN
    has no hit, as in the offset loop."""
    word = _ROW_WORDS.get(win.kernel[1])
    if word is None or any(win.pads) or not np.little_endian:
        return False
    c, n, hp, wp = hit.shape
    kh, kw = win.kernel
    rows = hit.view(word).reshape(c, n, hp // kh, kh, wp // kw)
    np.bitwise_and(rows, np.negative(rows), out=rows)
    free = rows[:, :, :, 0] == 0  # windows with no hit in the rows so far
    for i in range(1, kh):
        row = rows[:, :, :, i]
        np.multiply(row, free, out=row)
        if i < kh - 1:
            free &= row == 0
    return True


def _running_max(views, out=None) -> np.ndarray:
    """The elementwise maximum of equally shaped ``views``, in ``out`` or a new array."""
    if len(views) == 1:
        if out is None:
            return views[0].copy()
        np.copyto(out, views[0])
        return out
    best = np.maximum(views[0], views[1], out=out)
    for view in views[2:]:
        np.maximum(best, view, out=best)
    return best


# Two equal halves of a uint64 are its low uint32 times 2**32 + 1 (a value below 2**32).
_TWICE = np.uint64(0x1_0000_0001)


def _spread(a, kw: int) -> np.ndarray:
    """``a`` (..., Wo) with each value repeated ``kw`` times along its last axis: (..., Wo*kw),
    new memory (``np.repeat``'s result). Pairs of 4-byte values are one multiplication of
    their bits into uint64 (3x faster than ``np.repeat``: 0.15 against 0.48 ms for 300,000
    values), other cases ``kw`` strided copies (2x faster than ``np.repeat``)."""
    if kw == 2 and a.itemsize == 4:
        # In C order whatever ``a``'s (the backward pass's gradient is a transposed view):
        # np.repeat copies a non-contiguous array first. A 2x2 pool's backward pass on 64
        # images of 3x64x64, one thread: 0.26 against 0.37 ms, 1.5 against 2 times dx's bytes.
        twice = np.multiply(a.view(np.uint32), _TWICE, dtype=np.uint64, order="C")
        return twice.view(a.dtype).reshape(a.shape[:-1] + (2 * a.shape[-1],))
    out = np.empty(a.shape + (kw,), a.dtype)
    for j in range(kw):
        out[..., j] = a
    return out.reshape(a.shape[:-1] + (kw * a.shape[-1],))


def _first_hits(xp, best, win: Window) -> np.ndarray:
    """``hit`` (C, N, Hp, Wp) of windows that tile ``xp`` (each pixel in one window), from the
    offset loop of :func:`_first_maxima`."""
    hit = np.empty(xp.shape, bool)
    for rows, cols, first in _first_maxima(xp, best, win):
        hit[:, :, rows, cols] = first
    return hit


def _first_maxima(xp, best, win: Window):
    """For each kernel offset in row-major order: its (rows, cols) slices of the padded input
    and a boolean (C, N, Ho, Wo), True for the windows whose maximum ``best`` sits at that
    offset and at no earlier one (valid until the next item)."""
    offsets = win.reaching_offsets()  # the others read padding, never a maximum
    open_ = None  # windows whose maximum is not yet found (None: all of them)
    for k, ((_, _, rows, cols), inside) in enumerate(zip(offsets, _inside(win))):
        hit = xp[:, :, rows, cols] == best
        if inside is not None:  # padding (-inf) ties a window of -inf: never its maximum
            hit &= inside
        if open_ is not None:
            hit &= open_
        if k < len(offsets) - 1:  # the last offset's hits need no bookkeeping
            # hit lies within open_, so "open and not hit" is one xor (one call, no temporary)
            open_ = ~hit if open_ is None else np.logical_xor(open_, hit, out=open_)
        yield rows, cols, hit


@functools.lru_cache(maxsize=256)
def _inside(win: Window) -> tuple[np.ndarray | None, ...]:
    """For each kernel offset of :meth:`Window.reaching_offsets`: (Ho, Wo), True where its
    pixel is the input's rather than padding or ceil mode's overhang, or None where all are
    (read-only).
    PyTorch's max pool never looks at padding: a window of -inf gives its gradient to its
    first input pixel."""
    (h, w), (top, _, left, _) = win.in_hw, win.pads
    masks = []
    for _, _, rows, cols in win.reaching_offsets():
        ys = np.arange(rows.start, rows.stop, rows.step)
        xs = np.arange(cols.start, cols.stop, cols.step)
        real_y, real_x = (ys >= top) & (ys < top + h), (xs >= left) & (xs < left + w)
        mask = None
        if not (real_y.all() and real_x.all()):
            mask = real_y[:, None] & real_x[None, :]
            mask.flags.writeable = False
        masks.append(mask)
    return tuple(masks)


def maxpool_backward(dout, cache):
    """``dout`` (N, C, Ho, Wo)  ->  ``dx`` (N, C, H, W): each window's gradient goes to its
    maximum; on ties to the first maximal offset in row-major order that is not padding, as
    PyTorch does."""
    _, win, hit, xp, best = cache
    dout_c = dout.transpose(1, 0, 2, 3)
    if hit is not None:
        dxp = _tiled_max_backward(dout_c, hit, win)
    else:
        dxp = _offsets_max_backward(dout_c, xp, best, win)
    return win.unpad(dxp).transpose(1, 0, 2, 3)


def _tiled_max_backward(dout_c, hit, win: Window) -> np.ndarray:
    """The padded channel-first input gradient (C, N, Hp, Wp) of windows that tile the padded
    input, in new memory: each window's gradient copied over its pixels (:func:`_over_windows`)
    times ``hit``, one multiplication over whole contiguous arrays. Broadcasting the spread
    gradient over each window's kh rows instead runs NumPy's inner loop over single rows of
    Wp values; one thread, ms, broadcast / whole (Intel Xeon, AVX-512, 2 MiB L2): LeNet-5's
    pool2 (16x10x10) batch 64 0.079 / 0.058, batch 256 0.36 / 0.26, pool1 (6x28x28) batch 64
    0.17 / 0.13, vgg_small's pool2 (64x16x16) batch 64 0.78 / 0.61; LeNet-5's pool1 at batch
    256 0.64 / 0.70 is the one case the other way."""
    dxp = _over_windows(dout_c, win)
    return np.multiply(dxp, hit, out=dxp)


def _over_windows(a, win: Window) -> np.ndarray:
    """``a`` (..., Ho, Wo) with each value copied to every pixel of its window, for windows
    that tile the padded input: (..., Hp, Wp), new memory. Every pixel lies in one window, so
    a spread over the columns (:func:`_spread`) and a ``np.repeat`` of whole rows write each
    once: no zeroing and no kh*kw strided passes (LeNet-5's pool1 backward, batch 256: 0.56 ms
    against 2.7 for the offset loop and 1.9 for one six-dimensional broadcast, whose innermost
    run is only kw long)."""
    kh, kw = win.kernel
    return np.repeat(_spread(a, kw), kh, axis=-2)


def _blocks(channels: int, batch: int, plane_bytes: int):
    """Index tuples (channels, images) of a channel-first (C, N, ...) array, in order, each
    block at most :data:`BLOCK_BYTES` of planes of ``plane_bytes`` (at least one plane)."""
    per_channel = batch * plane_bytes
    if per_channel == 0:
        return  # an empty batch has nothing to route
    if per_channel <= BLOCK_BYTES:
        step = max(1, BLOCK_BYTES // per_channel)
        for start in range(0, channels, step):
            yield (slice(start, start + step),)
        return
    step = max(1, BLOCK_BYTES // plane_bytes)
    for channel in range(channels):
        for start in range(0, batch, step):
            yield (slice(channel, channel + 1), slice(start, start + step))


def _offsets_max_backward(dout_c, xp, best, win: Window) -> np.ndarray:
    """The padded channel-first input gradient (C, N, Hp, Wp) of any windows, in new memory:
    one pass per kernel offset in row-major order, each routing the gradient of the windows
    whose maximum it is and that no earlier offset has claimed (:func:`_first_maxima`)."""
    c, n = dout_c.shape[:2]
    # Windows that do not overlap write each input pixel at most once.
    disjoint = all(s >= k for s, k in zip(win.stride, win.kernel))
    dxp = np.zeros((c, n) + win.padded_hw, dtype=dout_c.dtype)
    for rows, cols, hit in _first_maxima(xp, best, win):
        if disjoint:
            np.multiply(dout_c, hit, out=dxp[:, :, rows, cols])
        else:
            dxp[:, :, rows, cols] += dout_c * hit
    return dxp


def avgpool_forward(x, kernel, stride, pads=(0, 0, 0, 0), ceil_mode=False,
                    count_include_pad=True):
    """Mean over each window: its sum over the number of pixels it counts, which are the
    input's and (with ``count_include_pad``) the padding's, never ceil mode's overhang.

    ``x`` (N, C, H, W)  ->  ``out`` (N, C, Ho, Wo); ``cache`` = (x's shape, the :class:`Window`,
    the inverse counts: one number, or (Ho, Wo) where windows count different numbers).
    """
    win = _window(x, kernel, stride, pads, ceil_mode)
    xp = channel_first_padded(x, win, fill=0.0)
    views = [xp[:, :, rows, cols] for _, _, rows, cols in win.reaching_offsets()]
    # the first two windows' pixels added into a new array, not the first copied there first:
    # the same sums in the same order, one pass fewer over the output
    total = views[0].copy() if len(views) == 1 else np.add(views[0], views[1])
    for view in views[2:]:
        np.add(total, view, out=total)
    inverse = _inverse_counts(win, tuple(pads) if count_include_pad else (0, 0, 0, 0))
    total *= inverse if np.isscalar(inverse) else inverse.astype(x.dtype)
    return total.transpose(1, 0, 2, 3), (x.shape, win, inverse)


@functools.lru_cache(maxsize=256)
def _inverse_counts(win: Window, counted: Padding):
    """``1 / `` the number of pixels each window counts: those of the input and of its
    ``counted`` padding (top, bottom, left, right). One number when every window counts all
    kh*kw of its pixels (the usual case), else an (Ho, Wo) array, read-only."""
    kh, kw = win.kernel
    (h, w), (top, _, left, _) = win.in_hw, win.pads
    c_top, c_bottom, c_left, c_right = counted
    # the counted pixels are a rectangle: a window's count is its rows' times its columns',
    # each worked out in whole numbers (shapes.taps_reading), never offset by offset
    rows = [len(taps_reading(y, h + c_top + c_bottom, kh, win.stride[0], win.dilation[0],
                             top - c_top)) for y in range(win.out_hw[0])]
    columns = [len(taps_reading(x, w + c_left + c_right, kw, win.stride[1], win.dilation[1],
                                left - c_left)) for x in range(win.out_hw[1])]
    counts = np.outer(rows, columns).astype(np.float64)
    if (counts == kh * kw).all():
        return 1.0 / (kh * kw)
    inverse = 1.0 / counts
    inverse.flags.writeable = False
    return inverse


def avgpool_backward(dout, cache):
    """``dout`` (N, C, Ho, Wo)  ->  ``dx`` (N, C, H, W): each window spreads its gradient evenly
    over the pixels it counts (padding and overhang then drop out with the unpadding)."""
    x_shape, win, inverse = cache
    n, c = x_shape[:2]
    scale = inverse if np.isscalar(inverse) else inverse.astype(dout.dtype)
    if _tiles(win):
        return win.unpad(_tiled_spread(dout, scale, win))
    dxp = np.zeros((n, c) + win.padded_hw, dtype=dout.dtype)
    share = np.multiply(dout, scale, dtype=dout.dtype)
    for _, _, rows, cols in win.reaching_offsets():  # the others' gradient is the padding's
        dxp[:, :, rows, cols] += share
    return win.unpad(dxp)


def _tiled_spread(dout, scale, win: Window) -> np.ndarray:
    """``dout * scale`` (N, C, Ho, Wo) copied to each pixel of its window, for windows that tile
    the padded input: (N, C, Hp, Wp), new memory (:func:`_over_windows`)."""
    return _over_windows(np.multiply(dout, scale, dtype=dout.dtype), win)


def global_avgpool_forward(x):
    """``x`` (N, C, H, W)  ->  ``out`` (N, C), the mean of each channel; ``cache`` = x's shape."""
    return x.mean(axis=(2, 3)), x.shape


def global_avgpool_backward(dout, cache):
    """``dout`` (N, C)  ->  ``dx`` (N, C, H, W), ``dout / (H*W)`` at every pixel; a view of
    channel-first memory, the order the layers before it (a convolution, batch norm) work in,
    so they need not transpose it."""
    n, c, h, w = cache
    dx = np.empty((c, n, h, w), dtype=dout.dtype)
    dx[...] = (dout.T * (1.0 / (h * w)))[:, :, None, None]
    return dx.transpose(1, 0, 2, 3)


def global_maxpool_forward(x):
    """``x`` (N, C, H, W)  ->  ``out`` (N, C), the largest value of each channel; ``cache`` =
    (x's shape, the flat index of that value in each channel: the first one on a tie, where
    PyTorch's adaptive max pool also routes the gradient)."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    where = flat.argmax(axis=2)
    return np.take_along_axis(flat, where[:, :, None], axis=2)[:, :, 0], (x.shape, where)


def global_maxpool_backward(dout, cache):
    """``dout`` (N, C)  ->  ``dx`` (N, C, H, W): ``dout`` at each channel's maximum, 0 elsewhere."""
    shape, where = cache
    dx = np.zeros((shape[0], shape[1], shape[2] * shape[3]), dtype=dout.dtype)
    np.put_along_axis(dx, where[:, :, None], dout[:, :, None], axis=2)
    return dx.reshape(shape)
