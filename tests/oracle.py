"""Naive loop implementations kept as oracles for the vectorised engine (tests only).

Each loops over every output pixel exactly as the textbook definition reads, so a mistake in
the strided views or GEMMs of the engine cannot hide in here too.
"""
import numpy as np

from cnnspec.shapes import window_output_hw


def _pad(x, pads, fill=0.0):
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


def conv2d(x, w, b, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1)):
    """out[n, f, y, x] = b[f] + sum_{c,i,j} w[f,c,i,j] * xp[n, c, y*sh + i*dh, x*sw + j*dw]."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = window_output_hw((h, wd), (kh, kw), stride, pads, dilation)
    xp = _pad(x, pads)
    out = np.zeros((n, f, ho, wo), dtype=x.dtype)
    for b_i in range(n):
        for f_i in range(f):
            for y in range(ho):
                for x_i in range(wo):
                    total = 0.0
                    for c_i in range(c):
                        for i in range(kh):
                            for j in range(kw):
                                total += (w[f_i, c_i, i, j]
                                          * xp[b_i, c_i, y * stride[0] + i * dilation[0],
                                               x_i * stride[1] + j * dilation[1]])
                    out[b_i, f_i, y, x_i] = total + (b[f_i] if b is not None else 0.0)
    return out


def pool2d(x, kernel, stride, pads, reduce):
    """Pooling by an explicit loop; ``reduce`` is ``"max"`` (pads -inf) or ``"avg"`` (pads 0,
    counted in the divisor)."""
    n, c, h, wd = x.shape
    ho, wo = window_output_hw((h, wd), kernel, stride, pads)
    xp = _pad(x, pads, fill=-np.inf if reduce == "max" else 0.0)
    out = np.zeros((n, c, ho, wo), dtype=x.dtype)
    for y in range(ho):
        for x_i in range(wo):
            patch = xp[:, :, y * stride[0]:y * stride[0] + kernel[0],
                       x_i * stride[1]:x_i * stride[1] + kernel[1]]
            out[:, :, y, x_i] = patch.max(axis=(2, 3)) if reduce == "max" else patch.mean(
                axis=(2, 3))
    return out
