"""2-D convolution (cross-correlation, as every framework computes it) as im2col + one GEMM.

Forward: ``out[n, f, y, x] = b[f] + sum_{c,i,j} w[f, c, i, j] * xp[n, c, y*sh + i*dh, x*sw + j*dw]``
where ``xp`` is the zero-padded input. With ``cols`` the im2col matrix (C*kh*kw, N*Ho*Wo) this
is the single matrix product ``w.reshape(F, -1) @ cols`` (Chellapilla et al. 2006).
Backward: ``dw = dout_mat @ cols.T``, ``db = dout_mat.sum(1)``, and ``dx`` is the adjoint of
im2col applied to ``w_mat.T @ dout_mat`` (CS231n's ``conv_backward``).
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.windows import (
    Window,
    channel_first_padded,
    col2im,
    col2im_stride1,
    im2col,
    work_buffer,
)

# The weight-gradient GEMM of a first layer is very long and very thin (F x N*Ho*Wo times
# N*Ho*Wo x C*kh*kw with C*kh*kw ~ 25): BLAS does it far faster when it is summed over
# column chunks of this many columns than in one call.
_DW_CHUNK = 4096
_THIN = 64


def conv2d_forward(x, w, b, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), work=None):
    """Convolve ``x`` with ``w``.

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C, kh, kw), ``b`` (F,) or None,
    ``pads`` (top, bottom, left, right)  ->  ``out`` (N, F, Ho, Wo) with Ho, Wo from
    :func:`cnnspec.shapes.window_output_hw`. ``out`` is a view whose memory is channel-first.
    ``cache`` = (x's shape, ``cols`` (C*kh*kw, N*Ho*Wo), ``w``, whether there is a bias, the
    :class:`Window`). ``work``: a dict the caller keeps per layer, so the padded input and
    ``cols`` reuse their memory from the previous call (the previous cache is then stale).
    """
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    win = Window((h, wd), (kh, kw), tuple(stride), tuple(pads), tuple(dilation))
    ho, wo = win.out_hw
    cols = im2col(channel_first_padded(x, win, work=work), win, work=work)
    out = w.reshape(f, -1) @ cols
    if b is not None:
        out += b[:, None]
    out = out.reshape(f, n, ho, wo).transpose(1, 0, 2, 3)
    return out, (x.shape, cols, w, b is not None, win)


def conv2d_backward(dout, cache, need_dw=True, need_dx=True, work=None):
    """Gradients of :func:`conv2d_forward`.

    ``dout`` (N, F, Ho, Wo)  ->  ``(dx, dw, db)``: ``dx`` (N, C, H, W) or None when not
    ``need_dx``; ``dw`` (F, C, kh, kw) or None when not ``need_dw`` (a frozen layer); ``db``
    (F,) or None without bias (or when not ``need_dw``). ``dout`` is never written to.
    ``work`` as for :func:`conv2d_forward` (here: the column gradient's memory).
    """
    x_shape, cols, w, has_bias, win = cache
    n, c = x_shape[:2]
    f = w.shape[0]
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(f, -1)  # (F, N*Ho*Wo); a view when possible
    dw = db = dx = None
    if need_dw:
        dw = _weight_grad(dout_mat, cols).reshape(w.shape)
        db = dout_mat.sum(axis=1) if has_bias else None
    if need_dx:
        dx = _input_grad(dout, w, win, c, n, cols, work)
    return dx, dw, db


def _input_grad(dout, w, win, c, n, cols, work):
    """``dx`` (N, C, H, W): the column gradient ``w_mat.T @ dout_mat`` put back by col2im.

    For stride 1 the columns are computed in wide coordinates (``dout`` padded with zero
    columns to the padded input width), which lets col2im add long contiguous runs
    (:func:`col2im_stride1`) for a slightly larger GEMM.
    """
    f = w.shape[0]
    w_t = w.reshape(f, -1).T  # (C*kh*kw, F)
    if win.stride != (1, 1):
        dcols = work_buffer(work, "dcols", cols.shape, cols.dtype)
        np.matmul(w_t, dout.transpose(1, 0, 2, 3).reshape(f, -1), out=dcols)
        return col2im(dcols, win, c, n)
    ho, wo = win.out_hw
    wp = win.padded_hw[1]
    dout_wide = work_buffer(work, "dout_wide", (f, n, ho, wp), dout.dtype, fill=0.0)
    dout_wide[:, :, :, :wo] = dout.transpose(1, 0, 2, 3)  # columns wo.. stay zero
    dcols = work_buffer(work, "dcols_wide", (cols.shape[0], n * ho * wp), dout.dtype)
    np.matmul(w_t, dout_wide.reshape(f, -1), out=dcols)
    return col2im_stride1(dcols, win, c, n)


def _weight_grad(dout_mat: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``dout_mat @ cols.T``: (F, M) x (M, K) -> (F, K), C-contiguous.

    Computed as ``(cols @ dout_mat.T).T``: BLAS runs that orientation 20-40% faster on these
    long products (measured on the benchmark nets), and summed over column chunks when K is
    small (see ``_DW_CHUNK``).
    """
    k, m = cols.shape
    if k > _THIN or m <= 2 * _DW_CHUNK:
        return np.ascontiguousarray((cols @ dout_mat.T).T)
    dw_t = np.zeros((k, dout_mat.shape[0]), dtype=cols.dtype)
    for start in range(0, m, _DW_CHUNK):
        stop = start + _DW_CHUNK
        dw_t += cols[:, start:stop] @ dout_mat[:, start:stop].T
    return np.ascontiguousarray(dw_t.T)
