"""2-D convolution, the reference: im2col and one matrix product, written to be read.

The engine runs :mod:`cnnspec.engine.conv_tuned`, which computes the same functions with the
same signatures faster; tests hold it to this module.

Convolution here is cross-correlation, as every framework computes it. With ``xp`` the
zero-padded input, stride (sh, sw) and dilation (dh, dw):

    out[n, f, y, x] = b[f] + sum_{c,i,j} w[f, c, i, j] * xp[n, c, y*sh + i*dh, x*sw + j*dw]

im2col (Chellapilla et al. 2006, "High performance convolutional neural networks for document
processing") lays every window out as a column: ``cols`` (C*kh*kw, N*Ho*Wo) with
``cols[(c, i, j), (n, y, x)] = xp[n, c, y*sh + i*dh, x*sw + j*dw]``
(:func:`cnnspec.engine.windows.im2col`), so that with ``w_mat = w.reshape(F, C*kh*kw)``

    out_mat = w_mat @ cols                  (F, N*Ho*Wo)

and, with ``dout_mat`` the output gradient laid out like ``out_mat`` (CS231n, "conv_backward"):

    dw = dout_mat @ cols.T                  (F, C*kh*kw)
    db = dout_mat summed over its columns   (F,)
    dx = col2im(w_mat.T @ dout_mat)         (N, C, H, W)

where col2im, the adjoint of im2col, adds each column back onto the pixels it was read from.
"""
from __future__ import annotations

from cnnspec.engine.windows import channel_first_padded, col2im, im2col, window


def conv2d_forward(x, w, b, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), work=None):
    """``out = w_mat @ cols + b``.

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C, kh, kw), ``b`` (F,) or None, ``pads`` (top,
    bottom, left, right)  ->  ``out`` (N, F, Ho, Wo), Ho and Wo from
    :func:`cnnspec.shapes.window_output_hw`. ``cache`` = (x's shape, ``cols``, ``w``, whether
    there is a bias, the :class:`~cnnspec.engine.windows.Window`). ``work`` is accepted for the
    tuned module's signature and not used.
    """
    n, _, h, wd = x.shape
    f = w.shape[0]
    win = window((h, wd), tuple(w.shape[2:]), tuple(stride), tuple(pads), tuple(dilation))
    cols = im2col(channel_first_padded(x, win), win)  # (C*kh*kw, N*Ho*Wo)
    out_mat = w.reshape(f, -1) @ cols  # (F, N*Ho*Wo)
    if b is not None:
        out_mat += b[:, None]
    out = out_mat.reshape(f, n, *win.out_hw).transpose(1, 0, 2, 3)
    return out, (x.shape, cols, w, b is not None, win)


def conv2d_backward(dout, cache, need_dw=True, need_dx=True, work=None):
    """``dw = dout_mat @ cols.T``, ``db`` the sum of ``dout_mat``'s columns,
    ``dx = col2im(w_mat.T @ dout_mat)``.

    ``dout`` (N, F, Ho, Wo)  ->  ``(dx, dw, db)``: ``dx`` (N, C, H, W) or None when not
    ``need_dx``; ``dw`` (F, C, kh, kw) and ``db`` (F,) or None when not ``need_dw`` (``db``
    also without bias). ``dout`` is never written to.
    """
    x_shape, cols, w, has_bias, win = cache
    f = w.shape[0]
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(f, -1)  # (F, N*Ho*Wo), a copy
    dx = dw = db = None
    if need_dw:
        dw = (dout_mat @ cols.T).reshape(w.shape)
        db = dout_mat.sum(axis=1) if has_bias else None
    if need_dx:
        dx = col2im(w.reshape(f, -1).T @ dout_mat, win, x_shape[1], x_shape[0])
    return dx, dw, db
