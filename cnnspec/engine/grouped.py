"""Grouped convolution (PyTorch's ``groups``; Krizhevsky et al. 2012 split AlexNet in two).

With ``G`` groups the C input channels form G runs of C/G and the F filters G runs of F/G;
filter run ``g`` sees only channel run ``g``, so the weight is (F, C/G, kh, kw) and each output
channel sums C/G * kh * kw products. ``G = C`` (one filter per channel, or a few) is a
depthwise convolution (Chollet 2017), which a 1x1 convolution after it makes separable.

All groups share one im2col matrix of the whole input, seen as (G, C/G*kh*kw, N*Ho*Wo), and
run as one batched matrix product with the weight seen as (G, F/G, C/G*kh*kw): one BLAS call
for the G products instead of G calls (a depthwise layer of 32 channels would otherwise make
32 small ones). The input gradient is the col2im of the batched product of the transposed
weight with ``dout``; the matrix is kept for the weight gradient alone, so a held weight's
layer lets it go after the forward pass, and an evaluation pass keeps the input instead, from
which a backward pass after it (the lab's) makes the matrix again.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.layers import Conv2d, param_grads
from cnnspec.engine.windows import channel_first_padded, col2im, im2col, window


def grouped_conv2d_forward(x, w, b, groups, stride, pads, dilation, need_dw=True,
                           keep_input=False):
    """``x`` (N, C, H, W), ``w`` (F, C/G, kh, kw), ``b`` (F,) or None  ->  ``out`` (N, F, Ho,
    Wo) (a view of filter-first memory); ``cache`` = (x's shape, the grouped im2col matrix
    (G, C/G*kh*kw, N*Ho*Wo) where ``need_dw`` (a weight gradient to come), else None, ``x``
    itself where ``keep_input`` (an evaluation pass: a weight gradient may still be asked
    for, made from it), else None, ``groups``, ``w``, whether there is a bias, the window)."""
    n, _, h, wd = x.shape
    f = w.shape[0]
    win = window((h, wd), tuple(w.shape[2:]), tuple(stride), tuple(pads), tuple(dilation))
    cols = _grouped_columns(x, win, groups)
    out = np.matmul(w.reshape(groups, f // groups, -1), cols)  # (G, F/G, N*Ho*Wo)
    out = out.reshape(f, n, *win.out_hw)
    if b is not None:
        out += b[:, None, None, None]
    return out.transpose(1, 0, 2, 3), (x.shape, cols if need_dw else None,
                                       x if keep_input else None, groups, w, b is not None,
                                       win)


def _grouped_columns(x, win, groups):
    """The im2col matrix of ``x`` (N, C, H, W) seen as (G, C/G*kh*kw, N*Ho*Wo)."""
    return im2col(channel_first_padded(x, win), win).reshape(
        groups, -1, x.shape[0] * win.out_hw[0] * win.out_hw[1])


def grouped_conv2d_backward(dout, cache, need_dw=True, need_dx=True, need_db=True):
    """``dout`` (N, F, Ho, Wo)  ->  ``(dx, dw, db)`` as :func:`conv2d_backward`: ``dx`` (N, C,
    H, W) or None, ``dw`` (F, C/G, kh, kw) or None, ``db`` (F,) or None."""
    x_shape, cols, x, groups, w, has_bias, win = cache
    f = w.shape[0]
    dout_g = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(groups, f // groups, -1)
    dw = db = dx = None
    if need_dw:
        if cols is None:  # after an evaluation pass, which kept x alone
            assert x is not None, "the forward pass kept no input for a weight gradient"
            cols = _grouped_columns(x, win, groups)
        dw = np.matmul(dout_g, cols.transpose(0, 2, 1)).reshape(w.shape)
    if need_db and has_bias:
        db = dout_g.sum(axis=2).reshape(f)
    if need_dx:
        w_t = w.reshape(groups, f // groups, -1).transpose(0, 2, 1)  # (G, C/G*kh*kw, F/G)
        dcols = np.matmul(w_t, dout_g).reshape(-1, dout_g.shape[2])
        dx = col2im(dcols, win, x_shape[1], x_shape[0])
    return dx, dw, db


class GroupedConv2d(Conv2d):
    """Convolution in ``groups`` groups: weight (F, C/G, kh, kw), optional bias (F,)."""

    calibrated = False  # its own im2col of the whole batch, not the tuned convolution's chunks

    def __init__(self, weight, bias, stride, pads, dilation, groups) -> None:
        super().__init__(weight, bias, stride, pads, dilation)
        self.groups = groups

    def forward(self, xs, training):
        out, self.cache = grouped_conv2d_forward(
            xs[0], self.params["weight"], self.params.get("bias"), self.groups, self.stride,
            self.pads, self.dilation, need_dw=self.trains("weight") and training,
            keep_input=self.trains("weight") and not training)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        dx, dw, db = grouped_conv2d_backward(dout, self.cache, self.trains("weight"), need_dx,
                                             self.trains("bias"))
        return [dx], param_grads(dw, db)
