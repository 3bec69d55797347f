"""2-D convolution, tuned: the functions of :mod:`cnnspec.engine.conv` (the reference, which
states the formulas) with the same signatures and results, computed faster. The engine runs
this module; tests compare it with the reference over shapes that cross every threshold here.

What it adds to the reference's im2col + GEMM:

- Batch chunks: the products run over chunks of a few images, so that each chunk's im2col
  matrix stays in a core's cache between the copy that builds it and the GEMM that reads it.
  The whole batch's matrix would be tens of MB on a VGG-style layer; built at once, it is
  written to and read back from main memory, which made the layer 30-40% slower. How large a
  chunk is comes from :mod:`cnnspec.engine.calibrate` (measured on the machine, once, by
  timing this module's passes over a few thin layers: :func:`time_columns`).
- Kept columns: thin layers (fewer than ``THIN_ROWS`` rows, a first layer's) whose weight
  trains keep the forward's columns for the weight gradient up to ``KEEP_BYTES``; otherwise
  the backward pass builds each chunk's columns again from the kept padded input (a copy in
  cache is cheaper than reading the whole matrix back from memory), or, for a held weight,
  not at all. The limits in :mod:`cnnspec.engine.chunking`, the rule
  (:func:`cnnspec.engine.footprint.keeps_columns`) where check's memory estimate reads it.
- Batch-last blocks: where a chunk holds several small images, the input is laid out as
  blocks with the images innermost (:func:`cnnspec.engine.windows.batch_blocks`), so that a
  block's columns are copied in long runs (``BLOCKED_IMAGES``); the forward's products are
  transposed back block by block, with the bias added in cache. At stride 1 a block is not
  made into columns at all but multiplied by kernel rows (:mod:`cnnspec.engine.row_taps`):
  kh products over a copy widened along the width alone, kh times smaller than im2col's;
  with its own input gradient where the transposed convolution does not pay.
- Wide columns: stride-1 columns that are not kept are built in wide coordinates
  (:func:`cnnspec.engine.windows.im2col_wide`), a faster copy.
- The input gradient: for stride 1, ``dx`` is the convolution of the padded output gradient
  with the flipped kernels (the transposed convolution, Dumoulin & Visin 2016, "A guide to
  convolution arithmetic", section 4), which reuses the chunked path and needs no scatter-add;
  otherwise, and where that matrix would be much larger (few input channels), it is the
  reference's ``col2im(w_mat.T @ dout_mat)``, chunk of images by chunk, for stride 1 folded
  onto batch-last blocks (:func:`cnnspec.engine.windows.col2im_block`), for a larger stride
  folded phase by phase (:mod:`cnnspec.engine.phases`).
- Strided layers by phases: where the stride is above 1, without dilation, the kernel at
  least the stride and the layer not thin with a weight gradient
  (:func:`cnnspec.engine.footprint.phase_conv`), the input is split into its stride's
  phases and each phase convolved at stride 1 over whole planes (:mod:`cnnspec.engine.phases`):
  im2col rows copied as contiguous runs, the phases kept for the weight gradient, the input
  gradient folded with no scatter.
- Cropping: where the padding is far wider than the input (a 100000x1 kernel "same" over 8
  rows), only the outputs and kernel taps whose windows read the input are computed, on the
  input and kernels cropped to them (:func:`cnnspec.engine.footprint.conv_crop`); the other
  outputs are the bias alone, the other taps' and pixels' gradients zero.
- Winograd: float32 3x3 stride-1 layers with enough channels, tiles and pixels
  (:func:`cnnspec.engine.footprint.winograd_pays`) run by :mod:`cnnspec.engine.winograd`,
  F(4x4, 3x3): 2.25 multiplies an output where im2col spends 9, 1.1-1.45 times faster on
  the benchmark nets' layers; its chunks of images are sized by a limit timed on the
  machine (:func:`time_winograd`).
- Small layers: where the whole batch's im2col matrix is one chunk (so a few NumPy calls do
  all the arithmetic, and Python's per-call work is most of a layer's time, as in a deep thin
  net), the padded buffers, the column buffers and the strided views that fill them are made
  once per layer and shape (:class:`SmallPlan`) and each pass is a handful of NumPy calls.
"""
from __future__ import annotations

import math
import threading
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnspec.engine import calibrate, phases, row_taps, winograd
from cnnspec.engine.activations import relu_backward_from_output, relu_into
from cnnspec.engine.calibrate import Thresholds
from cnnspec.engine.chunking import (  # tests set them here, where read
    BLOCK_CALIBRATION_LAYERS,
    BLOCKED_IMAGES,
    CALIBRATION_LAYERS,
    WINOGRAD_CALIBRATION_LAYERS,
    chunk_step,
    may_run_on_blocks,
    phase_images,
    row_tap_images,
    row_tap_values,
    runs_by_rows,
    strided_values,
)
from cnnspec.engine.footprint import (
    Crop,
    Geometry,
    conv_crop,
    keeps_columns,
    phase_conv,
    transposed_pads,
    transposed_pays,
    winograd_pays,
)
from cnnspec.engine.products import small_products
from cnnspec.engine.windows import (
    Window,
    batch_blocks,
    block_columns,
    carve,
    carve_again,
    channel_first_padded,
    col2im,
    col2im_block,
    fold_rows,
    from_wide,
    im2col,
    im2col_chunks,
    im2col_wide,
    output_array,
    shared_work,
    wide_columns,
    window,
    windows_view,
    work_buffer,
)
from cnnspec.records import record

# When ``dx`` is a transposed convolution (:func:`cnnspec.engine.footprint.transposed_pays`)
# and when a layer runs on batch-last blocks (``BLOCKED_IMAGES``) are declared with their
# measurements where check's memory estimate reads them too.


def conv2d_forward(x, w, b, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), work=None,
                   relu=False, tile_share=0, need_dw=True):
    """Convolve ``x`` with ``w``, then take ``max(., 0)`` where ``relu`` (the ReLU after the
    layer, fused: :class:`cnnspec.engine.layers.ConvReLU`), written as the output is (into
    the output buffer kept in ``work``, :func:`cnnspec.engine.windows.output_array`).
    ``tile_share``: the values an image of its transformed input tiles a Winograd layer keeps
    for the backward pass (:func:`cnnspec.engine.winograd.conv2d_forward`). ``need_dw``
    False: the backward pass will compute no weight gradient (a held weight), so no columns
    are kept for one (:func:`cnnspec.engine.footprint.keeps_columns`).

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C, kh, kw), ``b`` (F,) or None,
    ``pads`` (top, bottom, left, right)  ->  ``out`` (N, F, Ho, Wo) with Ho, Wo from
    :func:`cnnspec.shapes.window_output_hw`. ``out`` is a view whose memory is channel-first.
    ``cache`` = (x's shape, ``xp`` the padded channel-first input (C, N, Hp, Wp) or, by
    phases, its :class:`cnnspec.engine.phases.Split`, ``w``,
    whether there is a bias, the :class:`Window`, the kept im2col buffer or None (see
    :func:`correlate`)); ``xp`` is a view of ``x`` when there is no padding, so ``x`` must not
    change before the backward pass. ``work``: a dict the caller keeps per layer, so the
    padded input and the columns reuse their memory from the previous call (the previous
    cache is then stale).
    """
    kept = _kept_plan(work, x, w, stride, pads, dilation)
    if kept is not None:
        return kept.forward(x, w, b, relu, work)
    h, wd = x.shape[2:]
    win = window((h, wd), tuple(w.shape[2:]), tuple(stride), tuple(pads), tuple(dilation))
    crop = conv_crop(win.in_hw, win.kernel, win.stride, win.pads, win.dilation)
    if crop is not None:
        return _cropped_forward(x, w, b, win, crop, work, relu, need_dw)
    return _forward(x, w, b, win, work, relu, tile_share, need_dw)


def _kept_plan(work, x, w, stride, pads, dilation) -> SmallPlan | None:
    """The :class:`SmallPlan` kept in ``work`` where it was made for this convolution
    (:meth:`SmallPlan.fits`), else None: a plan made on every pass would cost its buffers
    again while the previous pass's cache still holds the old ones."""
    plan = None if work is None else work.get("small")
    return plan if plan is not None and plan.fits(x, w, stride, pads, dilation) else None


def _forward(x, w, b, win: Window, work, relu: bool, tile_share: int, need_dw: bool):
    """:func:`conv2d_forward` over the whole padded input: by Winograd, a small plan, blocks
    or chunks of im2col columns."""
    if _runs_winograd(x, w, win):
        _keep_only(work, "winograd")
        return winograd.conv2d_forward(x, w, b, win, work, relu, thresholds().winograd_bytes,
                                       tile_share)
    _keep_only(work, "im2col")
    plan = _small_plan(x, w, win, work)
    if plan is not None:
        return plan.forward(x, w, b, relu, work)
    f = w.shape[0]
    if _block_step(w.shape, win, x):
        out, blocks = _correlate_on_blocks(x, w, b, win, work, relu)
        return out.transpose(1, 0, 2, 3), (x.shape, blocks, w, b is not None, win, None)
    out = output_array(work if relu else None, (f, x.shape[0], *win.out_hw), x.dtype)
    if phase_conv(win.kernel, win.stride, win.dilation, w[0].size, need_dw):
        split = phases.Split(phases.kept_planes(work, x.shape, win, x.dtype))
        phases.correlate(x, w, b, win, _phase_step(w[0].size, win, x.shape[0], x.itemsize),
                         split.kept, work, out, relu)
        return out.transpose(1, 0, 2, 3), (x.shape, split, w, b is not None, win, None)
    xp = channel_first_padded(x, win, work=work)
    out, kept = correlate(xp, w.reshape(f, -1), win, work, keep=need_dw, out=out)
    if b is not None:
        out += b[:, None, None, None]
    if relu:
        relu_into(out, out)
    return out.transpose(1, 0, 2, 3), (x.shape, xp, w, b is not None, win, kept)


def conv2d_backward(dout, cache, need_dw=True, need_dx=True, work=None, relu_out=None,
                    owned=False, need_db=True):
    """Gradients of :func:`conv2d_forward`.

    ``dout`` (N, F, Ho, Wo)  ->  ``(dx, dw, db)``: ``dx`` (N, C, H, W) or None when not
    ``need_dx``; ``dw`` (F, C, kh, kw) or None when not ``need_dw`` (a held weight: its
    product is never computed); ``db`` (F,) or None without bias or when not ``need_db``
    (a held bias). ``dout`` is never written to,
    unless ``owned`` (the caller hands it over) and there is ``relu_out``.
    ``work`` as for :func:`conv2d_forward`. ``relu_out``: for a forward pass with ``relu``,
    its output, whose zeros mask ``dout`` (Winograd's as it copies ``dout`` into its tiles;
    the other paths' first, as the ReLU's own backward pass would: over ``dout`` where
    ``owned``, else into a new array).
    """
    if isinstance(cache, winograd.Saved):
        return winograd.conv2d_backward(dout, cache, need_dw, need_dx, work, relu_out, need_db)
    if relu_out is not None:
        dout = relu_backward_from_output(dout, relu_out, into=dout if owned else None)
    if isinstance(cache[0], Crop):
        return _cropped_backward(dout, cache, need_dw, need_dx, work, need_db)
    if isinstance(cache[0], SmallPlan):
        return cache[0].backward(dout, cache, need_dw, need_dx, work, need_db)
    x_shape, xp, w, has_bias, win, kept = cache
    dw = dx = None
    db = bias_grad(dout) if need_db and has_bias else None
    if isinstance(xp, phases.Split):
        step = _phase_step(w[0].size, win, x_shape[0], dout.itemsize)
        scratch = shared_work(work, ("phases", win, x_shape, w.shape[0], dout.dtype))
        dx, dw = phases.backward(dout, w, win, x_shape, step, scratch,
                                 xp.kept if need_dw else None, work, need_dx)
        return dx, dw, db
    if isinstance(xp, Blocks) and xp.by_rows:
        return (*_row_taps_backward(dout, xp, w, win, x_shape, work, need_dw, need_dx), db)
    if isinstance(xp, Blocks):
        if need_dw:
            dw = _weight_grad_blocks(xp, dout, win, work).reshape(w.shape)
        if need_dx:
            dx = _input_grad(dout, None, w, win, x_shape, work)
        return dx, dw, db
    dout_c = np.ascontiguousarray(dout.transpose(1, 0, 2, 3))  # (F, N, Ho, Wo); usually a view
    if need_dw:
        dw = _weight_grad(xp, dout_c, win, work, kept).reshape(w.shape)
    if need_dx:
        dx = _input_grad(dout, dout_c, w, win, x_shape, work)
    return dx, dw, db


def bias_grad(dout) -> np.ndarray:
    """``db`` (F,): ``dout`` (N, F, Ho, Wo), any strides, summed over images and pixels. Each
    plane's sum is a BLAS dot with a vector of ones, then the images' sums add up: 2.5-3 times
    faster than ``dout.sum(axis=(0, 2, 3))`` on LeNet-5's output gradients, whose planes are
    short (one thread, ms, batch 64, sum / dots, Intel Xeon, AVX-512, 2 MiB L2: 16x10x10
    0.017 / 0.007, 6x28x28 0.048 / 0.015). Rounding differs from NumPy's pairwise sum by a few
    units in the last place of float32. Planes whose rows are not contiguous with each other
    (a cropped view) are summed in place: reshaping them would copy the whole of ``dout``."""
    n, f, ho, wo = dout.shape
    if dout.strides[2] != wo * dout.strides[3]:
        return dout.sum(axis=(0, 2, 3))
    ones = np.ones(ho * wo, dout.dtype)
    return np.matmul(dout.reshape(n, f, ho * wo), ones).sum(axis=0)


def _cropped_forward(x, w, b, win: Window, crop: Crop, work, relu: bool, need_dw: bool):
    """:func:`conv2d_forward` on the part of the layer that reads the input
    (:func:`cnnspec.engine.footprint.conv_crop`): the cropped input and kernels under the
    cropped padding (:func:`_forward`, without bias) give the outputs whose windows reach the
    input; every output holds the bias (and ``max(., 0)`` with ``relu``) on top. ``cache`` =
    (the :class:`Crop`, the cropped convolution's cache or None when no window reads the
    input, x's shape, w's shape, whether there is a bias). ``work`` as for
    :func:`conv2d_forward` (the cropped convolution keeps its buffers in it, under
    "cropped")."""
    n, f = x.shape[0], w.shape[0]
    out = np.zeros((f, n, *win.out_hw), x.dtype)  # channel-first, as the other paths'
    inner = None
    if not crop.empty:
        rows, cols = crop.rows, crop.cols
        x_part = x[_planes(rows.inputs, cols.inputs)]
        w_part = np.ascontiguousarray(w[_planes(rows.taps, cols.taps)])
        part_work = None if work is None else work.setdefault("cropped", {})
        kept = _kept_plan(part_work, x_part, w_part, win.stride, crop.pads, win.dilation)
        if kept is not None:
            part, inner = kept.forward(x_part, w_part, None, work=part_work)
        else:
            part, inner = _forward(
                x_part, w_part, None,
                window(crop.in_hw, crop.kernel, win.stride, crop.pads, win.dilation),
                part_work, relu=False, tile_share=0, need_dw=need_dw)
        out[_planes(rows.outputs, cols.outputs)] = part.transpose(1, 0, 2, 3)
    if b is not None:
        out += b[:, None, None, None]
    if relu:
        relu_into(out, out)
    return out.transpose(1, 0, 2, 3), (crop, inner, x.shape, w.shape, b is not None)


def _cropped_backward(dout, cache, need_dw: bool, need_dx: bool, work, need_db: bool):
    """:func:`conv2d_backward` of :func:`_cropped_forward`: the cropped convolution's
    gradients from its outputs' part of ``dout``, placed in zeros (no other tap or input pixel
    reads the input or is read: their gradients are zero); the bias gradient from the whole
    of ``dout``."""
    crop, inner, x_shape, w_shape, has_bias = cache
    db = bias_grad(dout) if need_db and has_bias else None
    dw = np.zeros(w_shape, dout.dtype) if need_dw else None
    dx = np.zeros(x_shape, dout.dtype) if need_dx else None
    if inner is None or not (need_dw or need_dx):
        return dx, dw, db
    rows, cols = crop.rows, crop.cols
    part_dx, part_dw, _ = conv2d_backward(
        dout[_planes(rows.outputs, cols.outputs)], inner, need_dw, need_dx,
        None if work is None else work.setdefault("cropped", {}), need_db=False)
    if need_dw:
        dw[_planes(rows.taps, cols.taps)] = part_dw
    if need_dx:
        dx[_planes(rows.inputs, cols.inputs)] = part_dx
    return dx, dw, db


def _planes(rows: range, cols: range) -> tuple[slice, ...]:
    """The index of ``rows`` x ``cols`` of every plane of an (N, C, H, W) array."""
    return slice(None), slice(None), slice(rows.start, rows.stop), slice(cols.start, cols.stop)


def _keep_only(work: dict | None, path: str) -> None:
    """Empty ``work`` when the layer changes ``path`` (Winograd's or im2col's): a batch of
    another size (an epoch's last, shorter one) may take the other path, and the next full
    batch would otherwise keep both paths' buffers, where check's memory estimate counts one
    (:func:`cnnspec.engine.footprint.winograd_pays`)."""
    if work is not None and work.get("path") != path:
        work.clear()
        work["path"] = path


# The paths :func:`method` names, in words for a report that shows them (``cnnspec time``).
METHODS = {
    "winograd": "Winograd's F(4x4, 3x3), 36 products for a 4x4 tile of outputs where im2col "
                "spends 144 (Lavin & Gray 2016)",
    "planned": "a layer small enough for one im2col chunk, its buffers and views kept from "
               "step to step",
    "blocks": "im2col over blocks of small images laid out with the images innermost",
    "rows": "blocks of small images, one matrix product per row of the kernel: each reads "
            "a copy of the input spread along its width only, kh times smaller than im2col's",
    "im2col": "im2col over chunks of images sized to a core's cache, one matrix product each",
    "phases": "a strided layer split into its stride's phases, stride-1 convolutions whose "
              "im2col rows are long runs and whose input gradient needs no scatter",
    "cropped": "only the outputs and kernel taps whose windows read the input, the rest "
               "of the output the bias: the padding is far wider than the input",
}


def method(cache) -> str:
    """Which path of this module a forward pass took, told by its ``cache``: "winograd",
    "planned" (:class:`SmallPlan`), "cropped" (:func:`_cropped_forward`), "blocks"
    (batch-last blocks), "rows" (batch-last blocks by kernel rows), "phases" (a strided layer
    by :mod:`cnnspec.engine.phases`) or "im2col" (chunks); each described in
    :data:`METHODS`."""
    if isinstance(cache, winograd.Saved):
        return "winograd"
    if isinstance(cache[0], SmallPlan):
        return "planned"
    if isinstance(cache[0], Crop):
        return "cropped"
    if isinstance(cache[1], Blocks):
        return "rows" if cache[1].by_rows else "blocks"
    if isinstance(cache[1], phases.Split):
        return "phases"
    return "im2col"


def _runs_winograd(x, w, win: Window) -> bool:
    """Whether this layer runs by :mod:`cnnspec.engine.winograd`
    (:func:`cnnspec.engine.footprint.winograd_pays`, which check's memory estimate reads)."""
    f, c = w.shape[:2]
    geo = Geometry(c, *win.in_hw, f, *win.out_hw, win.kernel, win.stride, win.pads,
                   win.dilation)
    return winograd_pays(geo, x.shape[0], x.dtype.itemsize)


@record(frozen=True)
class Blocks:
    """A forward pass's input as batch-last blocks (:func:`batch_blocks`) and the batch size.
    No columns are kept with them: a block's are copied again for the weight gradient, in
    cache, faster than writing the whole batch's to memory and reading them back (LeNet's
    second layer at batch 256, 15 MB of columns: training steps 9% faster, median of 15
    interleaved rounds; at batch 64 the same)."""

    xt: np.ndarray  # (K, C, Hp, Wp, step)
    n: int
    by_rows: bool = False  # multiplied by kernel rows (cnnspec.engine.row_taps), not columns


def _block_columns(blocks: Blocks, start: int, images: int, win: Window, work) -> np.ndarray:
    """The im2col matrix (C*kh*kw, Ho*Wo*images) of the block of :class:`Blocks` that starts
    at image ``start``, built into the work buffer "cols" (the same memory for every block)."""
    xt, step = blocks.xt, blocks.xt.shape[-1]
    rows = xt.shape[1] * win.kernel[0] * win.kernel[1]
    flat = work_buffer(work, "cols", (rows * win.out_hw[0] * win.out_hw[1] * step,), xt.dtype)
    return block_columns(xt, start // step, images, win, flat)


def _kept_buffer(work, rows: int, win: Window, n: int, dtype, need_dw: bool
                 ) -> np.ndarray | None:
    """The buffer in ``work`` that keeps a batch of ``n`` images' im2col matrix (``rows`` =
    C*kh*kw rows) for the weight gradient (``need_dw``), where
    :func:`cnnspec.engine.footprint.keeps_columns` says so; else (or without ``work``)
    None."""
    values = rows * win.out_hw[0] * win.out_hw[1] * n
    if work is None or not keeps_columns(rows, values, np.dtype(dtype).itemsize, need_dw):
        return None
    return work_buffer(work, "kept_cols", (values,), dtype)


def _block_step(w_shape, win: Window, x) -> int:
    """Images per batch-last block for a convolution with weight ``w_shape`` (F, C, kh, kw)
    over ``x`` (as many as a chunk of im2col columns holds, :func:`images_per_chunk`), or 0 where
    it runs on im2col instead (see :data:`BLOCKED_IMAGES`)."""
    rows = w_shape[1] * w_shape[2] * w_shape[3]
    if not may_run_on_blocks(rows, win.stride[1]):
        return 0
    step = images_per_chunk(rows, win.out_hw[0] * win.out_hw[1], x.shape[0], x.dtype.itemsize)
    return step if step >= BLOCKED_IMAGES else 0


def _correlate_on_blocks(x, w, b, win: Window, work, relu=False) -> tuple[np.ndarray, Blocks]:
    """``x`` (N, C, H, W) correlated with ``w`` (F, C, kh, kw) (+ ``b``, ``max(., 0)`` with
    ``relu``) on batch-last blocks, where :func:`_block_step` allows them: by kernel rows
    (:mod:`cnnspec.engine.row_taps`, blocks as large as its buffers fit the cache) where
    :func:`cnnspec.engine.chunking.runs_by_rows` says so, else by im2col columns  ->  ``(out
    (F, N, Ho, Wo), the Blocks)``."""
    n, f = x.shape[0], w.shape[0]
    values, _ = row_tap_values(w.shape[1], f, win.kernel[1], win.padded_hw, win.out_hw)
    step = _row_tap_step(values, n, x.itemsize)
    if runs_by_rows(win.stride, step, n, BLOCKED_IMAGES):
        blocks = Blocks(batch_blocks(x, win, step, work), n, by_rows=True)
        return row_taps.correlate(blocks.xt, n, w, b, win, work, relu), blocks
    blocks = Blocks(batch_blocks(x, win, _block_step(w.shape, win, x), work), n)
    return _correlate_blocks(blocks, w.reshape(f, -1), b, win, work, relu), blocks


def _row_tap_step(values: int, n: int, itemsize: int) -> int:
    """Images per block of the row-tap convolution whose buffers hold ``values`` values an
    image (:func:`cnnspec.engine.chunking.row_tap_images`, the calibrated block limit)."""
    return row_tap_images(values, n, itemsize, thresholds().block_bytes)


def _correlate_blocks(blocks: Blocks, w_mat, b, win: Window, work, relu=False) -> np.ndarray:
    """``w_mat @ im2col`` (+ ``b``) block by block of :class:`Blocks`: ``w_mat`` (F, C*kh*kw),
    ``b`` (F,) or None  ->  ``out`` (F, N, Ho, Wo), C-contiguous. Each block's product, in
    (F, Ho, Wo, images) order, gets its bias while in cache and is copied into ``out`` (its
    ``max(., 0)`` with ``relu``)."""
    f = w_mat.shape[0]
    xt, n = blocks.xt, blocks.n
    step = xt.shape[-1]
    ho, wo = win.out_hw
    out = output_array(work if relu else None, (f, n, ho, wo), xt.dtype)
    for start in range(0, n, step):
        images = min(step, n - start)
        cols = _block_columns(blocks, start, images, win, work)
        product = small_products(w_mat, cols, carve(work, "product", (f, cols.shape[1]),
                                                     xt.dtype))
        if b is not None:
            product += b[:, None]
        block = product.reshape(f, ho, wo, images).transpose(0, 3, 1, 2)
        if relu:
            relu_into(block, out[:, start:start + images])
        else:
            out[:, start:start + images] = block
    return out


def _weight_grad_blocks(blocks: Blocks, dout, win: Window, work) -> np.ndarray:
    """``dout_mat @ cols.T`` summed over :class:`Blocks`, each block's columns built again:
    ``dout`` (N, F, Ho, Wo), any strides  ->  (F, C*kh*kw), C-contiguous. ``dout`` is laid
    out like the columns, images innermost, one block at a time; the product runs as
    ``(cols @ dout_mat.T).T``, the faster orientation (see :func:`_weight_grad`)."""
    xt, n = blocks.xt, blocks.n
    step = xt.shape[-1]
    f = dout.shape[1]
    ho, wo = win.out_hw
    dw_t = part = None
    for start in range(0, n, step):
        images = min(step, n - start)
        cols = _block_columns(blocks, start, images, win, work)
        if dw_t is None:
            dw_t = np.zeros((cols.shape[0], f), dtype=dout.dtype)
            part = np.empty_like(dw_t)
        dout_block = carve(work, "dout_block", (f, cols.shape[1]), dout.dtype)
        np.copyto(dout_block.reshape(f, ho, wo, images),
                  dout[start:start + images].transpose(1, 2, 3, 0))
        np.matmul(cols, dout_block.T, out=part)
        dw_t += part
    return np.ascontiguousarray(dw_t.T)


def correlate(xp, w_mat, win: Window, work=None, keep: bool = False, out=None):
    """``w_mat @ im2col(xp)``, chunk of images by chunk (see :func:`_correlate_kept` for kept
    columns), into ``out`` (F, N, Ho, Wo), C-contiguous, where given.

    ``xp`` (C, N, Hp, Wp) padded channel-first input, ``w_mat`` (F, C*kh*kw)  ->
    ``(out, kept)``: ``out`` (F, N, Ho, Wo), C-contiguous; ``kept`` None, or with ``keep`` (a
    weight gradient to come) and a ``work`` dict, the buffer there that holds the whole
    batch's im2col matrix chunk after chunk where :func:`_kept_buffer` keeps one. Columns
    that are not kept are built in wide coordinates where they apply (:func:`im2col_wide`: a
    faster copy; kept ones are read again by the weight gradient, which would have to widen
    ``dout`` for them).
    """
    f, rows = w_mat.shape
    n = xp.shape[1]
    ho, wo = win.out_hw
    kept = _kept_buffer(work, rows, win, n, xp.dtype, keep)
    wide = kept is None and wide_columns(xp, win) is not None
    if out is None:
        out = np.empty((f, n, ho, wo), dtype=xp.dtype)
    if kept is not None:
        _correlate_kept(xp, w_mat, win, kept, out)
        return out, kept
    for start, stop, cols in _chunk_columns(xp, win, work, wide=wide):
        if wide:  # the product in wide coordinates, then its valid pixels
            product = carve(work, "product", (f, cols.shape[1]), xp.dtype)
            np.matmul(w_mat, cols, out=product)
            out[:, start:stop] = from_wide(product, stop - start, win)
        else:
            np.matmul(w_mat, cols, out=out[:, start:stop].reshape(f, -1))
    return out, kept


def _correlate_kept(xp, w_mat, win: Window, kept, out) -> None:
    """:func:`correlate` into a kept matrix: ``out`` (F, N, Ho, Wo) receives ``w_mat`` (F, rows)
    times the im2col matrix of ``xp`` (C, N, Hp, Wp), which is built into ``kept`` chunk after
    chunk (the layout :func:`_weight_grad_kept` reads back).

    The chunks are built and multiplied a group at a time, each group's columns at most the
    calibrated ``block_bytes`` (:data:`cnnspec.engine.chunking.BLOCK_CANDIDATES`): one copy
    (:func:`im2col_chunks`) and one batched matrix product a group, and one more of each for a
    shorter last chunk. Built for the whole batch before its product, the matrix is read back
    from memory once it outgrows the caches: LeNet's first layer forward, one thread, median
    of 15 alternating rounds (AMD EPYC, 1 MiB L2, OpenBLAS 0.3.31), whole batch / groups of
    0.5, 1, 2 MiB: batch 256 (20 MB of columns) 4.45 / 2.98 / 3.11 / 3.10 ms; batch 64, whose
    5 MB stay in the shared cache, 0.68 / 0.86 / 0.77 / 0.70 ms, the calls a group costs.
    """
    f, rows = w_mat.shape
    n = xp.shape[1]
    size = win.out_hw[0] * win.out_hw[1]
    step = images_per_chunk(rows, size, n, xp.dtype.itemsize)
    whole = n // step  # chunks of ``step`` images; a shorter one may follow
    chunk = rows * size * step
    group = max(1, thresholds().block_bytes // (chunk * xp.dtype.itemsize))  # chunks a group
    for first in range(0, whole, group):
        last = min(whole, first + group)
        images = slice(first * step, last * step)
        cols = im2col_chunks(xp[:, images], win, step,
                             out=kept[first * chunk:last * chunk].reshape(-1, rows, step * size))
        np.matmul(w_mat, cols, out=out[:, images].reshape(f, last - first, -1).transpose(1, 0, 2))
    if whole * step < n:
        rest = im2col(xp[:, whole * step:], win,
                      out=kept[whole * chunk:rows * size * n].reshape(rows, -1))
        np.matmul(w_mat, rest, out=out[:, whole * step:].reshape(f, -1))


def _weight_grad(xp, dout_c, win: Window, work, kept) -> np.ndarray:
    """``dout_mat @ cols.T`` summed over the batch chunks: (F, C*kh*kw), C-contiguous.

    Each chunk's product is computed as ``(cols @ dout_mat.T).T``: BLAS runs that orientation
    20-40% faster on these long products (measured on the benchmark nets).
    """
    f = dout_c.shape[0]
    if kept is not None:
        return _weight_grad_kept(dout_c, kept, xp.shape[0] * win.kernel[0] * win.kernel[1])
    dw_t = part = None
    for start, stop, cols in _chunk_columns(xp, win, work):
        if dw_t is None:
            dw_t = np.zeros((cols.shape[0], f), dtype=dout_c.dtype)
            part = np.empty_like(dw_t)
        np.matmul(cols, dout_c[:, start:stop].reshape(f, -1).T, out=part)
        dw_t += part
    return np.ascontiguousarray(dw_t.T)


def _weight_grad_kept(dout_c, kept, rows: int) -> np.ndarray:
    """:func:`_weight_grad` from the kept columns of a forward pass, with all the equal chunks'
    products in one batched matrix product and one sum over them.

    ``dout_c`` (F, N, Ho, Wo), ``kept`` the forward's chunk-after-chunk matrix (see
    :func:`correlate`)  ->  (F, rows) with ``rows = C*kh*kw``. The chunks stay as small as in
    the forward pass (the thin products of a first layer are fast only on a few thousand
    columns), but the batch of them is 2-3 NumPy calls instead of two per chunk: each call
    hands the GIL over, which costs when two threads run the batch halves.
    """
    f, n, ho, wo = dout_c.shape
    size = ho * wo
    step = images_per_chunk(rows, size, n, kept.dtype.itemsize)
    whole = n // step  # chunks of ``step`` images; a shorter one may follow
    cols = kept[:rows * size * step * whole].reshape(whole, rows, step * size)
    douts = dout_c[:, :whole * step].reshape(f, whole, step * size).transpose(1, 2, 0)
    dw_t = np.matmul(cols, douts).sum(axis=0)  # (rows, F)
    if whole * step < n:
        rest = kept[rows * size * step * whole:rows * size * n].reshape(rows, -1)
        dw_t += rest @ dout_c[:, whole * step:].reshape(f, -1).T
    return np.ascontiguousarray(dw_t.T)


def _row_taps_backward(dout, blocks: Blocks, w, win: Window, x_shape, work, need_dw: bool,
                       need_dx: bool):
    """``(dx, dw)`` of a forward pass by kernel rows, each None where not needed
    (:func:`cnnspec.engine.row_taps.backward`, over the forward pass's blocks). ``dx`` is the
    transposed convolution where that pays (:func:`_input_grad`), else row_taps' own rather
    than col2im (on LeNet-5's second layer 3.47 against 3.98 ms at batch 256, 0.87 against
    1.05 at 64, one thread, AMD EPYC; on layers of larger images, which run by columns,
    col2im's folded blocks are faster)."""
    f, c = w.shape[:2]
    own_dx = need_dx and _input_grad_window(win, f, c) is None
    scratch = shared_work(work, ("row taps dx", win, x_shape, f, dout.dtype)) if own_dx else None
    dx, dw = row_taps.backward(blocks.xt, blocks.n, dout, w, win, work, scratch, need_dw,
                               own_dx)
    if need_dx and not own_dx:
        dx = _input_grad(dout, None, w, win, x_shape, work)
    return dx, dw


def _input_grad(dout, dout_c, w, win: Window, x_shape, work) -> np.ndarray:
    """``dx`` (N, C, H, W), a view of channel-first memory. ``dout_c``: ``dout`` as (F, N,
    Ho, Wo), C-contiguous, or None (then made here if needed)."""
    f, c = w.shape[:2]
    back = _input_grad_window(win, f, c)
    if back is None:
        return _input_grad_col2im(dout, dout_c, w, win, x_shape, work)
    flipped = _flipped(w)
    sub = shared_work(work, ("dx", back, dout.shape, dout.dtype))  # only within this call
    if _block_step(flipped.shape, back, dout):
        return _correlate_on_blocks(dout, flipped, None, back, sub)[0].transpose(1, 0, 2, 3)
    dxc, _ = correlate(channel_first_padded(dout, back, work=sub), flipped.reshape(c, -1), back,
                       sub)
    return dxc.transpose(1, 0, 2, 3)


def _input_grad_window(win: Window, f: int, c: int) -> Window | None:
    """The window of the transposed convolution that computes ``dx`` for a layer of ``f``
    filters on ``c`` channels, or None where ``dx`` is col2im's (see
    :func:`cnnspec.engine.footprint.transposed_pays`: with few input channels, LeNet's 6 -> 16
    filters, col2im is cheaper)."""
    back = _transposed_window(win)
    if back is None or not transposed_pays(f, c, win.in_hw, win.out_hw):
        return None
    return back


def _flipped(w: np.ndarray) -> np.ndarray:
    """The transposed convolution's weights: (C, F, kh, kw), kernels flipped, a copy."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def _transposed_window(win: Window) -> Window | None:
    """The window of the convolution that maps ``dout`` (N, F, Ho, Wo) to ``dx``: stride 1,
    ``dout`` padded as :func:`cnnspec.engine.footprint.transposed_pads` says, the same
    dilation; None where it does not exist."""
    pads = transposed_pads(win.kernel, win.stride, win.pads, win.dilation)
    return None if pads is None else window(win.out_hw, win.kernel, (1, 1), pads, win.dilation)


def _input_grad_col2im(dout, dout_c, w, win: Window, x_shape, work) -> np.ndarray:
    """``dx`` as col2im of the column gradient ``w_mat.T @ dout_mat``, chunk of images by
    chunk, like the forward's columns: the whole batch's column gradient (30 MB for LeNet's
    second layer at batch 256) would go to main memory and back. ``dout`` (N, F, Ho, Wo), any
    strides; ``dout_c`` the same as (F, N, Ho, Wo), C-contiguous, or None (made here if
    needed).

    For stride 1, on batch-last blocks in wide coordinates (:func:`_input_grad_blocks`); for
    a larger stride and a kernel as large, phase by phase (:mod:`cnnspec.engine.phases`);
    otherwise each chunk's columns are scattered by :func:`col2im`. The buffers live only
    within the call and are shared by the layers of one geometry (:func:`shared_work`).
    """
    n, c = x_shape[:2]
    f = w.shape[0]
    scratch = shared_work(work, ("col2im", win, x_shape, f, dout.dtype))  # within this call
    if win.stride == (1, 1):
        return _input_grad_blocks(dout, w, win, x_shape, scratch)
    if phases.applies(win):
        step = _phase_step(w[0].size, win, n, dout.itemsize)
        return phases.input_grad(dout, w, win, x_shape, step, scratch)
    if dout_c is None:
        dout_c = np.ascontiguousarray(dout.transpose(1, 0, 2, 3))
    w_t = w.reshape(f, -1).T  # (C*kh*kw, F)
    dxc = np.empty((c, n, *win.in_hw), dout.dtype)
    size = win.out_hw[0] * win.out_hw[1]
    step = images_per_chunk(w_t.shape[0], size, n, dout.itemsize)
    dcols = carve(scratch, "dcols", (w_t.shape[0], step * size), dout.dtype)
    for start in range(0, n, step):
        images = min(step, n - start)
        part = dcols[:, :images * size]
        np.matmul(w_t, dout_c[:, start:start + images].reshape(f, -1), out=part)
        dxc[:, start:start + images] = col2im(part, win, c, images).transpose(1, 0, 2, 3)
    return dxc.transpose(1, 0, 2, 3)


def _input_grad_blocks(dout, w, win: Window, x_shape, scratch) -> np.ndarray:
    """:func:`_input_grad_col2im` for stride 1, block of images by block: each block's
    ``dout`` laid out batch-last in wide coordinates (rows of ``Wp``, zero past ``Wo``), its
    column gradient one GEMM (:func:`cnnspec.engine.products.small_products`) into zero-led
    rows (:func:`fold_rows`),
    folded onto the padded block by one sum (:func:`col2im_block`) and copied into ``dx``.
    One sum over channel-first whole padded planes before had a GEMM of ``Hp*Wp`` columns an
    image where the wide block has ``Ho*Wp``, and wrote a chunk's result to new memory. On
    LeNet's second layer (6 -> 16, 5x5, 14x14), one thread, ms, planes / blocks (Intel Xeon,
    AVX-512, 2 MiB L2, OpenBLAS 0.3.31): batch 64 1.03 / 0.76, batch 256 4.2 / 2.9."""
    n, c = x_shape[:2]
    f = w.shape[0]
    w_t = w.reshape(f, -1).T  # (C*kh*kw, F)
    rows = w_t.shape[0]
    (ho, wo), (hp, wp) = win.out_hw, win.padded_hw
    step = images_per_chunk(rows, ho * wp, n, dout.itemsize)
    dxc = np.empty((c, n, *win.in_hw), dout.dtype)
    for start in range(0, n, step):
        images = min(step, n - start)
        dout_wide, new = carve_again(scratch, "dout_wide", (f, ho, wp, images), dout.dtype)
        if new:
            dout_wide[:, :, wo:] = 0  # junk columns: they add nothing
        dout_wide[:, :, :wo] = dout[start:start + images].transpose(1, 2, 3, 0)
        buffer, target = fold_rows(scratch, rows, win, images, dout.dtype)
        small_products(w_t, dout_wide.reshape(f, -1), target)
        planes = carve(scratch, "planes", (c * hp * wp * images,), dout.dtype)
        dxp = col2im_block(buffer, win, c, images, planes)  # (C, Hp, Wp, images)
        dxc[:, start:start + images] = win.unpad(dxp.transpose(0, 3, 1, 2))
    return dxc.transpose(1, 0, 2, 3)


def _phase_step(rows: int, win: Window, n: int, itemsize: int) -> int:
    """Images per chunk of a convolution by phases (:mod:`cnnspec.engine.phases`) with
    ``rows`` = C*kh*kw rows, its columns an image in wide coordinates (the planes' size): the
    im2col rule (:func:`images_per_chunk`), raised to the floor of strided chunks
    (:func:`cnnspec.engine.chunking.phase_images`); the same for the forward pass and both
    gradients, which share a chunk's buffers."""
    size = phases.planes(win).size
    return phase_images(images_per_chunk(rows, size, n, itemsize), rows, size, n)


def _chunk_columns(xp, win: Window, work, wide: bool = False):
    """For each batch chunk, ``(start, stop, cols)``: ``cols`` the im2col matrix of images
    ``start:stop`` of ``xp`` (C, N, Hp, Wp), shape (C*kh*kw, (stop - start)*Ho*Wo), or in wide
    coordinates with ``wide`` (:func:`im2col_wide`, (C*kh*kw, (stop - start)*L)).

    Every chunk is built in the same memory (use it before taking the next).
    """
    c, n = xp.shape[:2]
    rows = c * win.kernel[0] * win.kernel[1]
    size = wide_columns(xp, win) if wide else win.out_hw[0] * win.out_hw[1]
    build = im2col_wide if wide else im2col
    step = images_per_chunk(rows, size, n, xp.dtype.itemsize, strided_values(win.stride))
    flat = work_buffer(work, "cols", (rows * size * step,), xp.dtype)
    for start in range(0, n, step):
        stop = min(start + step, n)
        cols = flat[:rows * size * (stop - start)].reshape(rows, -1)
        yield start, stop, build(xp[:, start:stop], win, out=cols)


def images_per_chunk(rows: int, size: int, n: int, itemsize: int, least_values: int = 0
                     ) -> int:
    """Images per chunk for an im2col matrix of ``rows`` rows and ``size`` columns per image
    of ``itemsize``-byte values: at least one, at most ``n``, otherwise as many as fit both
    limits of :func:`thresholds` (the byte limit raised to ``least_values`` values where
    that is more: :func:`cnnspec.engine.chunking.strided_values`)."""
    limits = thresholds()
    return chunk_step(rows, size, n, itemsize, limits.chunk_bytes, limits.chunk_columns,
                      least_values)


def _small_plan(x, w, win: Window, work) -> SmallPlan | None:
    """A new :class:`SmallPlan` kept in ``work`` where the whole batch's im2col matrix is one
    chunk by the machine's thresholds (:func:`images_per_chunk`), else None (and none kept)."""
    if work is None:
        return None
    n, c = x.shape[:2]
    rows = c * win.kernel[0] * win.kernel[1]
    size = win.out_hw[0] * win.out_hw[1]
    if images_per_chunk(rows, size, n, x.dtype.itemsize) < n:
        work.pop("small", None)
        return None
    plan = work["small"] = SmallPlan(x, w, win)
    return plan


class SmallPlan:
    """A convolution whose whole batch is one chunk, with everything but the arithmetic made
    once: the padded input buffer and a view of its interior to copy ``x`` into, the column
    buffer and the strided view that fills it, and for an input gradient by transposed
    convolution the same for the padded ``dout``. A pass is then a few NumPy calls.

    At stride 1 the columns are whole rows of the padded planes (:func:`_rows_view`:
    contiguous runs of ``Ho * Wp`` values, a copy 2-3 times faster than im2col's runs of
    ``Wo`` values on an 8x8 layer); a product's columns ``x >= Wo`` are junk, dropped by a
    slice, and the weight gradient reads ``dout`` widened with zeros there. Otherwise the
    columns are im2col's (:func:`windows_view`).

    Made for one input shape, weight shape, dtype, geometry and thresholds (:meth:`fits`); the
    cache a forward pass returns is valid until the next forward pass of the same plan.
    """

    def __init__(self, x, w, win: Window) -> None:
        n, c = x.shape[:2]
        f = w.shape[0]
        self.win, self.x_shape, self.w_shape, self.dtype = win, x.shape, w.shape, x.dtype
        self.geometry = (win.stride, win.pads, win.dilation)
        self.limits = thresholds()  # what made the batch one chunk
        self.wide = win.stride == (1, 1)
        self.x_inner, self.cols, self._fill_cols = _padded_columns(x.dtype, c, n, win,
                                                                   self.wide)
        if self.wide:  # dout with zeros in the junk columns, for the weight gradient
            self.dout_wide = np.zeros((f, self.cols.shape[1]), x.dtype)
            self.dout_valid = self._valid(self.dout_wide, win).transpose(1, 0, 2, 3)
        self.back = _input_grad_window(win, f, c)
        # dout padded for the transposed convolution: shared by the plans of one geometry (its
        # values live only within a backward pass), so looked up by the thread that runs each
        # backward pass (a replica may run on another thread of the pool than built it)
        self.shared_key = ("small dx", self.back, n, f, c, x.dtype, self.wide)

    def fits(self, x, w, stride, pads, dilation) -> bool:
        return (x.shape == self.x_shape and w.shape == self.w_shape and x.dtype == self.dtype
                and (tuple(stride), tuple(pads), tuple(dilation)) == self.geometry
                and thresholds() is self.limits)

    def forward(self, x, w, b, relu=False, work=None):
        """:func:`conv2d_forward` for this plan: (out, cache)."""
        f = w.shape[0]
        np.copyto(self.x_inner, x)
        np.copyto(*self._fill_cols)
        # (F, columns): a new array, or with relu the output buffer in work
        product = output_array(work if relu else None, (f, self.cols.shape[1]), x.dtype)
        np.matmul(w.reshape(f, -1), self.cols, out=product)
        if b is not None:
            product += b[:, None]
        if relu:
            relu_into(product, product)
        return self._valid(product, self.win).transpose(1, 0, 2, 3), (self, w, b is not None)

    def backward(self, dout, cache, need_dw, need_dx, work, need_db):
        """:func:`conv2d_backward` for this plan: (dx, dw, db)."""
        _, w, has_bias = cache
        f = w.shape[0]
        dw = db = dx = None
        need_db = need_db and has_bias
        if need_dw or need_db:
            if self.wide:
                np.copyto(self.dout_valid, dout)
                dout_mat = self.dout_wide  # junk columns zero: they add nothing
            else:
                dout_mat = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(f, -1)
        if need_dw:
            # dout @ cols.T, C-contiguous as it comes: the whole batch's product is short (a
            # deep thin net's 8x8 layer at batch 1: 8 x 80 times 80 x 72), where the
            # orientation _weight_grad takes for long ones runs no faster and needed a copy
            dw = np.matmul(dout_mat, self.cols.T).reshape(w.shape)
        if need_db:
            db = dout_mat.sum(axis=1)
        if need_dx:
            dx = self._input_grad(dout, w, work)
        return dx, dw, db

    def _input_grad(self, dout, w, work) -> np.ndarray:
        if self.back is None:
            return _input_grad_col2im(dout, None, w, self.win, self.x_shape, work)
        shared = shared_work(work, self.shared_key)
        if shared is None:  # no reuse asked for: buffers for this call alone
            shared = {}
        if "padded" not in shared:
            n, f = dout.shape[:2]
            shared["padded"] = _padded_columns(dout.dtype, f, n, self.back, self.wide)
        dout_inner, dcols, fill_dcols = shared["padded"]
        np.copyto(dout_inner, dout)
        np.copyto(*fill_dcols)
        dxc = np.matmul(_flipped(w).reshape(w.shape[1], -1), dcols)  # (C, columns)
        return self._valid(dxc, self.back).transpose(1, 0, 2, 3)

    def _valid(self, product, win: Window) -> np.ndarray:
        """The (rows, N, Ho, Wo) view of a product over this plan's columns for ``win``."""
        ho, wo = win.out_hw
        if self.wide:  # columns (n, y, x) with x < Wp: keep x < Wo
            return product.reshape(product.shape[0], -1, ho, win.padded_hw[1])[..., :wo]
        return product.reshape(product.shape[0], -1, ho, wo)


def _padded_columns(dtype, c: int, n: int, win: Window, wide: bool):
    """A zero padded channel-first buffer (C, N, Hp, Wp) for ``win``, its columns and how to
    fill them: ``(inner, cols, (destination, source))``, ``inner`` the (N, C, H, W) view of
    the buffer's interior to copy an input into, ``np.copyto(destination, source)`` the copy
    that builds ``cols`` from the buffer (:func:`_rows_view`'s layout with ``wide``, else
    :func:`im2col`'s)."""
    hp, wp = win.padded_hw
    # Slack after the last plane: the rows view's junk columns of the last image read past it.
    slack = (win.kernel[1] - 1) * win.dilation[1] if wide else 0
    flat = np.zeros(c * n * hp * wp + slack, dtype)
    xp = flat[:c * n * hp * wp].reshape(c, n, hp, wp)
    # (C, kh, kw, N, Ho*Wp) or (C, kh, kw, N, Ho, Wo): rows, then columns
    view = _rows_view(flat, xp, win) if wide else windows_view(xp, win, n)[0]
    cols = np.empty((math.prod(view.shape[:3]), math.prod(view.shape[3:])), dtype)
    inner = win.unpad(xp).transpose(1, 0, 2, 3)
    return inner, cols, (cols.reshape(view.shape), view)


def _rows_view(flat, xp, win: Window) -> np.ndarray:
    """For stride 1, the read-only view (C, kh, kw, N, Ho*Wp) of ``xp`` (C, N, Hp, Wp), the
    start of the contiguous buffer ``flat``: item ``[c, i, j, n, t]`` is
    ``xp[c, n].flat[t + i*dh*Wp + j*dw]``, so column ``t = y*Wp + x`` holds output pixel
    ``(y, x)`` for ``x < Wo`` (as in :func:`im2col_wide`, with whole rows of ``Wp``)."""
    c, n, _, wp = xp.shape
    (kh, kw), (dh, dw) = win.kernel, win.dilation
    s_c, s_n, _, item = xp.strides
    return as_strided(flat, shape=(c, kh, kw, n, win.out_hw[0] * wp),
                      strides=(s_c, dh * wp * item, dw * item, s_n, item), writeable=False)


class _Trial(threading.local):
    """The limits a thread is timing in :func:`time_columns`, :func:`time_winograd` or
    :func:`time_blocks` (None: the machine's)."""

    limits: Thresholds | None = None


_trial = _Trial()


def thresholds() -> Thresholds:
    """The limits this module chunks by: the machine's
    (:func:`cnnspec.engine.calibrate.thresholds`, which on a machine's first use times
    :func:`time_columns`, :func:`time_winograd` and :func:`time_blocks`), or, within them,
    the candidate being timed (on the timing thread only: another thread running a network
    meanwhile keeps the machine's)."""
    return _trial.limits or calibrate.thresholds(time_columns, time_winograd, time_blocks)


def recalibrate() -> calibrate.Recalibration:
    """Measure the machine's limits again with :func:`time_columns`, :func:`time_winograd`
    and :func:`time_blocks` and keep them in place of the file's
    (:func:`cnnspec.engine.calibrate.recalibrate`); layers chunk by them from their next
    pass."""
    return calibrate.recalibrate(time_columns, time_winograd, time_blocks)


class _TimedLayer:
    """A layer of CALIBRATION_LAYERS (or WINOGRAD_ or BLOCK_CALIBRATION_LAYERS) with random
    values: its forward and backward passes (with the ReLU fused, as in a network; no input
    gradient for a first layer), through this module as a network runs them, with work
    buffers of its own for each candidate limit."""

    def __init__(self, images, channels, filters, kernel, size, pad, rng) -> None:
        self.x = rng.standard_normal((images, channels, size, size)).astype(np.float32)
        self.w = rng.standard_normal((filters, channels, kernel, kernel)).astype(np.float32)
        self.pads = (pad,) * 4
        self.first = channels <= 3
        out_size = size + 2 * pad - kernel + 1
        self.dout = rng.standard_normal((images, filters, out_size, out_size)).astype(np.float32)
        self.works: dict[int, dict] = {}

    def seconds(self, candidate: int) -> float:
        work = self.works.setdefault(candidate, {})
        # this thread's CPU time: other processes' load, which a first use on a shared machine
        # meets, adds less to it than to the clock's (LeNet-5's second layer at the four
        # row-tap limits, load 16 on two cores: the clock ranked the 256 KiB limit first in
        # one run of three, CPU time last in four of four)
        start = time.thread_time()
        out, cache = conv2d_forward(self.x, self.w, None, (1, 1), self.pads, work=work,
                                    relu=True)
        conv2d_backward(self.dout, cache, need_dx=not self.first, work=work, relu_out=out)
        return time.thread_time() - start


def time_columns(chunk_bytes: int, candidates, rounds: int = 3) -> dict[int, float]:
    """How each column limit in ``candidates`` (with ``chunk_bytes``) does on the layers of
    CALIBRATION_LAYERS (:func:`_relative_times`)."""
    rng = np.random.default_rng(0)
    layers = [_TimedLayer(*shape, rng) for shape in CALIBRATION_LAYERS]
    trials = {columns: Thresholds(chunk_bytes, columns, source="timed")
              for columns in candidates}
    return _relative_times(layers, trials, rounds)


def time_winograd(candidates, rounds: int = 4) -> dict[int, float]:
    """How each limit in ``candidates`` on the bytes of a Winograd chunk's transformed tiles
    does on the layers of WINOGRAD_CALIBRATION_LAYERS (:func:`_relative_times`)."""
    rng = np.random.default_rng(1)
    layers = [_TimedLayer(*shape, rng) for shape in WINOGRAD_CALIBRATION_LAYERS]
    trials = {limit: Thresholds(winograd_bytes=limit, source="timed") for limit in candidates}
    return _relative_times(layers, trials, rounds)


def time_blocks(candidates, rounds: int = 4) -> dict[int, float]:
    """How each limit in ``candidates`` on the bytes a block of images copies before its
    products does on the layers of BLOCK_CALIBRATION_LAYERS (:func:`_relative_times`)."""
    rng = np.random.default_rng(2)
    layers = [_TimedLayer(*shape, rng) for shape in BLOCK_CALIBRATION_LAYERS]
    trials = {limit: Thresholds(block_bytes=limit, source="timed") for limit in candidates}
    return _relative_times(layers, trials, rounds)


def _relative_times(layers, trials: dict[int, Thresholds], rounds: int) -> dict[int, float]:
    """Each candidate's time on each of ``layers`` (:class:`_TimedLayer`), running by its
    limits (``trials``: the candidate's :class:`Thresholds`), over that layer's best,
    averaged (1.0: the fastest on every layer). The candidates take turns, so a burst of load
    from other processes hits them alike, after one untimed pass each (its buffers made);
    each keeps its best round on each layer (load only adds time)."""
    best = [dict.fromkeys(trials, math.inf) for _ in layers]
    try:
        for round_ in range(rounds + 1):
            for layer, times in zip(layers, best):
                for candidate, limits in trials.items():
                    _trial.limits = limits
                    seconds = layer.seconds(candidate)
                    if round_:
                        times[candidate] = min(times[candidate], seconds)
    finally:
        _trial.limits = None
    return {candidate: sum(times[candidate] / min(times.values()) for times in best)
            / len(best) for candidate in trials}
