"""Transposed convolution (PyTorch's ``nn.ConvTranspose2d``; "deconvolution" in Caffe).

A transposed convolution is the input gradient of a convolution, run forward (Dumoulin & Visin
2016, "A guide to convolution arithmetic", section 4): every input pixel scatters its values,
weighted by the kernel, onto a ``kh x kw`` patch of the output, patches ``stride`` apart. The
weight is ``(C, F/G, kh, kw)`` (PyTorch's layout: input channels first), which is a
convolution's ``(F', C', kh, kw)`` with the convolution's output channels ``F' = C`` in
front, so with the convolution's im2col geometry (:mod:`cnnspec.engine.conv`):

    cols = w_mat.T @ x_mat                    (F*kh*kw, N*H*W), w_mat = w as (C, F*kh*kw)
    full = col2im(cols)                       (N, F, Hf, Wf), Hf = (H - 1)*sh + dh*(kh - 1) + 1
    out  = full cropped by the padding, then output padding's zero rows, plus b

and the backward pass is the convolution itself, one im2col and two products:

    dcols = im2col(dfull)                     dfull: dout placed back into the full span
    dx    = w_mat @ dcols                     (C, N*H*W)
    dw    = x_mat @ dcols.T                   (C, F*kh*kw)
    db    = dout summed over N, H and W       (F,)

Both passes run chunk of images by chunk, so the columns held are a chunk's, never the whole
batch's. ``x_mat`` is kept for ``dw`` alone: a held weight's layer lets it go after the forward
pass, and an evaluation pass keeps the input instead, from which a backward pass after it (the
lab's) makes ``x_mat`` again. With G groups every matrix is seen as G blocks and each product
is one batched GEMM (as in :mod:`cnnspec.engine.grouped`): input channel run ``g`` writes output
channel run ``g``.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.conv_tuned import bias_grad, images_per_chunk
from cnnspec.engine.layers import Layer, param_grads
from cnnspec.engine.windows import col2im, im2col, window
from cnnspec.shapes import transposed_output_size


def _geometry(in_hw, kernel, stride, dilation, crop, out_hw):
    """The window whose im2col columns are the input's pixels (over the full span of the taps)
    and the slices where the output and the full span overlap: ``(win, full, out)``."""
    full_hw = tuple(transposed_output_size(n, k, s, 0, 0, d)
                    for n, k, s, d in zip(in_hw, kernel, stride, dilation))
    win = window(full_hw, tuple(kernel), tuple(stride), (0, 0, 0, 0), tuple(dilation))
    kept = [max(min(f - c, o), 0) for f, c, o in zip(full_hw, crop, out_hw)]
    full = (slice(crop[0], crop[0] + kept[0]), slice(crop[1], crop[1] + kept[1]))
    out = (slice(0, kept[0]), slice(0, kept[1]))
    return win, full, out


def conv_transpose2d_forward(x, w, b, groups, stride, dilation, crop, out_hw, need_dw=True,
                             keep_input=False):
    """``x`` (N, C, H, W), ``w`` (C, F/G, kh, kw), ``b`` (F,) or None, ``crop`` the (top, left)
    padding, ``out_hw`` (Ho, Wo) from :func:`cnnspec.shapes.transposed_output_size`  ->
    ``out`` (N, F, Ho, Wo). ``cache`` = (``x`` as (G, C/G, N*H*W) where ``need_dw`` (a weight
    gradient to come), else None; ``x`` itself where ``keep_input`` (an evaluation pass: a
    weight gradient may still be asked for, made from it), else None; ``groups``, ``w``,
    whether there is a bias, x's shape, the geometry of :func:`_geometry`).

    Chunk of images by chunk, as a convolution's columns (:func:`images_per_chunk`): the
    whole batch's columns are ``kh*kw`` times the output's values before the crop (64 MB for
    16 4x4 filters on 16x16 inputs at batch 64), which PyTorch never holds either."""
    n, c, h, wd = x.shape
    _, fg, kh, kw = w.shape
    f = fg * groups
    geometry = _geometry((h, wd), (kh, kw), stride, dilation, crop, out_hw)
    win, full_part, out_part = geometry
    x_g = _grouped_input(x, groups)
    w_t = w.reshape(groups, c // groups, fg * kh * kw).transpose(0, 2, 1)
    out = np.zeros((n, f, *out_hw), dtype=x.dtype)
    for images, pixels, cols in _chunks(n, h * wd, f * kh * kw, groups, x.dtype):
        np.matmul(w_t, x_g[:, :, pixels], out=cols)
        full = col2im(cols.reshape(f * kh * kw, -1), win, f, images.stop - images.start)
        out[images, :, out_part[0], out_part[1]] = full[:, :, full_part[0], full_part[1]]
        del full  # else the next chunk's span is made while this one's is still held
    if b is not None:
        out += b[:, None, None]
    return out, (x_g if need_dw else None, x if keep_input else None, groups, w, b is not None,
                 x.shape, geometry)


def _grouped_input(x, groups):
    """``x`` (N, C, H, W) as (G, C/G, N*H*W): the matrices of the forward products and of the
    weight gradient's."""
    n, c, h, wd = x.shape
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(groups, c // groups, n * h * wd)


def conv_transpose2d_backward(dout, cache, need_dw=True, need_dx=True, need_db=True):
    """``dout`` (N, F, Ho, Wo)  ->  ``(dx, dw, db)``: ``dx`` (N, C, H, W) or None when not
    ``need_dx``; ``dw`` (C, F/G, kh, kw) or None when not ``need_dw``; ``db`` (F,) or None
    when not ``need_db`` or without bias. ``dout`` is never written to. Chunk of images by chunk, as
    the forward pass: each chunk's ``dout`` placed back into the full span, its columns, and
    their two products."""
    x_g, x, groups, w, has_bias, x_shape, (win, full_part, out_part) = cache
    if need_dw and x_g is None:
        assert x is not None, "the forward pass kept no input for a weight gradient"
        x_g = _grouped_input(x, groups)  # after an evaluation pass, which kept x alone
    n, c, h, wd = x_shape
    f = w.shape[1] * groups
    rows = f * w[0, 0].size  # F*kh*kw: the columns' rows
    w_g = w.reshape(groups, c // groups, -1)
    dout_c = dout.transpose(1, 0, 2, 3)[:, :, out_part[0], out_part[1]]  # (F, N, ...) view
    # First, while no chunk's buffers are held: bias_grad's plane sums take a value an image
    # and filter, which beside a chunk's columns and span the footprint would not count.
    db = bias_grad(dout) if need_db and has_bias else None
    dw = np.zeros(w_g.shape, dout.dtype) if need_dw else None
    dxc = np.empty((c, n, h, wd), dout.dtype) if need_dx else None
    if not (need_dw or need_dx):
        return None, None, db
    spans = None
    for images, pixels, dcols in _chunks(n, h * wd, rows, groups, dout.dtype):
        count = images.stop - images.start
        if spans is None:  # the first chunk is the largest; zero outside the part dout fills
            spans = np.zeros((f, count, *win.in_hw), dtype=dout.dtype)
        # A shorter last chunk is a view: a second span made for it while the first is held
        # took both at once, one more than the footprint counts.
        dfull = spans[:, :count]
        dfull[:, :, full_part[0], full_part[1]] = dout_c[:, images]
        im2col(dfull, win, out=dcols.reshape(rows, -1))
        if need_dw:
            dw += np.matmul(x_g[:, :, pixels], dcols.transpose(0, 2, 1))
        if need_dx:
            np.matmul(w_g, dcols, out=dxc[:, images].reshape(groups, c // groups, -1))
    dw = None if dw is None else dw.reshape(w.shape)
    dx = None if dxc is None else dxc.transpose(1, 0, 2, 3)
    return dx, dw, db


def _chunks(n: int, pixels: int, rows: int, groups: int, dtype):
    """``(images, pixels, cols)`` for consecutive chunks of the batch: the slice of images,
    the slice of their pixels in an (N*H*W) axis, and a C-contiguous (G, rows/G, images*H*W)
    buffer for their columns (one buffer, reused; ``rows`` = F*kh*kw)."""
    itemsize = np.dtype(dtype).itemsize
    step = images_per_chunk(rows, pixels, n, itemsize)
    buffer = np.empty(rows * step * pixels, dtype)
    for start in range(0, n, step):
        stop = min(start + step, n)
        cols = buffer[:rows * (stop - start) * pixels].reshape(groups, rows // groups, -1)
        yield slice(start, stop), slice(start * pixels, stop * pixels), cols


class ConvTranspose2d(Layer):
    """Transposed convolution: weight (C, F/G, kh, kw), optional bias (F,); ``crop`` is the
    (top, left) padding and ``out_hw`` the output size the checker inferred."""

    calibrated = True  # its chunks of columns: cnnspec.engine.conv_tuned.images_per_chunk

    def __init__(self, weight, bias, stride, dilation, groups, crop, out_hw) -> None:
        super().__init__()
        self.params["weight"] = weight
        if bias is not None:
            self.params["bias"] = bias
        self.stride, self.dilation = tuple(stride), tuple(dilation)
        self.groups, self.crop, self.out_hw = groups, tuple(crop), tuple(out_hw)

    def forward(self, xs, training):
        out, self.cache = conv_transpose2d_forward(
            xs[0], self.params["weight"], self.params.get("bias"), self.groups, self.stride,
            self.dilation, self.crop, self.out_hw, need_dw=self.trains("weight") and training,
            keep_input=self.trains("weight") and not training)
        return out

    def backward(self, dout, need_dx=True, owned=False):
        dx, dw, db = conv_transpose2d_backward(dout, self.cache, self.trains("weight"),
                                               need_dx, self.trains("bias"))
        return [dx], param_grads(dw, db)
