"""Max, average and global average pooling, vectorised over the kernel offsets.

Each pooling op visits its kh*kw kernel offsets once (a strided slice of the padded input per
offset, see :meth:`Window.offsets`), never the pixels. Windows may overlap and be padded: max
pooling pads with -inf (padding never wins), average pooling pads with zeros that count in the
divisor (PyTorch's default ``count_include_pad=True``).
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.windows import Window, channel_first_padded


def _window(x, kernel, stride, pads) -> Window:
    return Window(tuple(x.shape[2:]), tuple(kernel), tuple(stride), tuple(pads))


def maxpool_forward(x, kernel, stride, pads=(0, 0, 0, 0)):
    """Max over each window.

    ``x`` (N, C, H, W)  ->  ``out`` (N, C, Ho, Wo) (a view of channel-first memory).
    ``cache`` = (x's shape, ``arg`` (C, N, Ho, Wo): the index ``i*kw + j`` of the first maximal
    offset of each window, as PyTorch picks it, and the :class:`Window`).
    """
    win = _window(x, kernel, stride, pads)
    xp = channel_first_padded(x, win, fill=-np.inf)
    best = arg = None
    kw = win.kernel[1]
    for i, j, rows, cols in win.offsets():
        view = xp[:, :, rows, cols]
        if best is None:
            best = view.copy()
            arg = np.zeros(best.shape, dtype=np.int16)
            continue
        larger = view > best  # strict: the first maximum keeps the gradient
        np.copyto(best, view, where=larger)
        np.copyto(arg, i * kw + j, where=larger)
    return best.transpose(1, 0, 2, 3), (x.shape, arg, win)


def maxpool_backward(dout, cache):
    """``dout`` (N, C, Ho, Wo)  ->  ``dx`` (N, C, H, W): each window's gradient goes to its max."""
    x_shape, arg, win = cache
    n, c = x_shape[:2]
    dout_c = dout.transpose(1, 0, 2, 3)
    dxp = np.zeros((c, n) + win.padded_hw, dtype=dout.dtype)
    zero = dout.dtype.type(0)
    kw = win.kernel[1]
    for i, j, rows, cols in win.offsets():
        dxp[:, :, rows, cols] += np.where(arg == i * kw + j, dout_c, zero)
    return win.unpad(dxp).transpose(1, 0, 2, 3)


def avgpool_forward(x, kernel, stride, pads=(0, 0, 0, 0)):
    """Mean over each window, padded zeros included in the count.

    ``x`` (N, C, H, W)  ->  ``out`` (N, C, Ho, Wo); ``cache`` = (x's shape, the :class:`Window`).
    """
    win = _window(x, kernel, stride, pads)
    xp = channel_first_padded(x, win, fill=0.0)
    total = None
    for _, _, rows, cols in win.offsets():
        view = xp[:, :, rows, cols]
        total = view.copy() if total is None else np.add(total, view, out=total)
    total *= 1.0 / (win.kernel[0] * win.kernel[1])
    return total.transpose(1, 0, 2, 3), (x.shape, win)


def avgpool_backward(dout, cache):
    """``dout`` (N, C, Ho, Wo)  ->  ``dx`` (N, C, H, W): each window spreads its gradient evenly."""
    x_shape, win = cache
    n, c = x_shape[:2]
    share = dout.transpose(1, 0, 2, 3) * (1.0 / (win.kernel[0] * win.kernel[1]))
    dxp = np.zeros((c, n) + win.padded_hw, dtype=dout.dtype)
    for _, _, rows, cols in win.offsets():
        dxp[:, :, rows, cols] += share
    return win.unpad(dxp).transpose(1, 0, 2, 3)


def global_avgpool_forward(x):
    """``x`` (N, C, H, W)  ->  ``out`` (N, C), the mean of each channel; ``cache`` = x's shape."""
    return x.mean(axis=(2, 3)), x.shape


def global_avgpool_backward(dout, cache):
    """``dout`` (N, C)  ->  ``dx`` (N, C, H, W), ``dout / (H*W)`` at every pixel."""
    n, c, h, w = cache
    dx = np.empty(cache, dtype=dout.dtype)
    dx[...] = (dout * (1.0 / (h * w)))[:, :, None, None]
    return dx
