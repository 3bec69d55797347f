"""Upsampling by whole factors, as PyTorch's ``nn.Upsample(scale_factor=(fh, fw), mode)``.

``nearest``: output pixel ``(y, x)`` is input pixel ``(y // fh, x // fw)``, a broadcast view
copied once; its gradient sums each ``fh x fw`` block.

``bilinear`` (``align_corners=False``): each axis separately, output index ``y`` mixes the
two input pixels around its source position linearly (:func:`cnnspec.shapes.upsampling_reads`,
which the signal estimate reads too). An axis is so a matrix ``A`` (n·f, n) with two weights a row,
and ``out = A_h @ x @ A_w.T`` (two batched matrix products over the N·C planes); the gradient
is ``dx = A_h.T @ dout @ A_w``.
"""
from __future__ import annotations

import functools

import numpy as np

from cnnspec.shapes import upsampling_reads


def nearest_forward(x, factor):
    """``x`` (N, C, H, W)  ->  ``out`` (N, C, H*fh, W*fw); ``cache`` the factor."""
    n, c, h, w = x.shape
    fh, fw = factor
    out = np.broadcast_to(x[:, :, :, None, :, None], (n, c, h, fh, w, fw))
    return out.reshape(n, c, h * fh, w * fw), tuple(factor)


def nearest_backward(dout, cache):
    """``dout`` (N, C, H*fh, W*fw)  ->  ``dx`` (N, C, H, W), the sum of each block."""
    fh, fw = cache
    n, c, ho, wo = dout.shape
    return dout.reshape(n, c, ho // fh, fh, wo // fw, fw).sum(axis=(3, 5))


@functools.lru_cache(maxsize=64)
def _interpolation(size: int, factor: int, dtype: str) -> np.ndarray:
    """The (size*factor, size) matrix of linear interpolation along one axis (read-only), of
    :func:`cnnspec.shapes.upsampling_reads`' two reads an output."""
    reads = upsampling_reads(size, factor, "bilinear")
    out = np.arange(size * factor)
    matrix = np.zeros((size * factor, size), dtype=dtype)
    for tap in (0, 1):  # each output's low pixel, then its high one (the same at the edge)
        np.add.at(matrix, (out, [read[tap][0] for read in reads]),
                  np.array([read[tap][1] for read in reads]))
    matrix.flags.writeable = False
    return matrix


def bilinear_forward(x, factor):
    """``x`` (N, C, H, W)  ->  ``out`` (N, C, H*fh, W*fw); ``cache`` = (A_h, A_w)."""
    _, _, h, w = x.shape
    a_h = _interpolation(h, factor[0], x.dtype.str)
    a_w = _interpolation(w, factor[1], x.dtype.str)
    return a_h @ x @ a_w.T, (a_h, a_w)


def bilinear_backward(dout, cache):
    """``dout`` (N, C, H*fh, W*fw)  ->  ``dx`` (N, C, H, W) = ``A_h.T @ dout @ A_w``."""
    a_h, a_w = cache
    return a_h.T @ dout @ a_w
