"""A strided convolution phase by phase: the path :mod:`cnnspec.engine.conv_tuned` runs where
the stride is above 1 (no dilation) and the kernel at least as large as the stride, for the
forward pass and both gradients (and for ``dx`` alone where the forward pass took another path).

At stride ``(sh, sw)`` the padded input's pixels fall into ``sh*sw`` *phases*: phase ``(a,
b)`` holds the pixels ``(sh*i + a, sw*j + b)``, a plane of ``Hq x Wq`` (``ceil(Hp/sh) x
ceil(Wp/sw)``). Kernel tap ``(p, q) = (sh*u + a, sw*v + b)`` reads only phase ``(a, b)``,
at ``(i + u, j + v)`` for output ``(i, j)``: on each phase the strided convolution is a
stride-1 one with the taps that fall there (Shi et al. 2016, "Is the deconvolution layer the
same as a convolutional layer?", the sub-pixel view; Dumoulin & Visin 2016, section 4.5).

Every array here is in *wide* coordinates: an image takes a whole plane, ``Hq*Wq`` columns,
and output ``(i, j)`` is column ``i*Wq + j`` of it; the columns with ``j >= Wo`` or ``i >= Ho``
are junk (dropped from a product, zero in a laid-out ``dout``). Tap ``(u, v)`` of a phase is
then a shift by ``u*Wq + v`` along a chunk's images, so

- the im2col matrix of a chunk (:func:`columns`) has one row per tap and channel, each a
  contiguous run of the phase's planes, where im2col's rows are ``Ho`` runs of ``Wo`` values
  read at stride ``sw``: a copy twice as fast; the input is split into its phases once a
  forward pass, in place of the padded copy (:func:`split`), and kept for the weight gradient;
- the weight gradient multiplies each tap's rows, views of the kept planes
  (:func:`tap_views`), by the laid-out ``dout`` in place where one tap's product is small
  enough for OpenBLAS's kernels for small matrices (:func:`taps_in_place`), else builds a
  chunk's columns again;
- ``dx`` adds each tap's row of the column gradient ``w_rows @ dout`` onto its phase shifted
  back (:func:`_fold`): whole rows of a chunk, as one run each, since a shift reaches back
  into the previous image's junk columns (zero) or the zero lead before the first; then
  each phase's plane is copied into ``dx`` (one strided copy), with no col2im scatter.

ResNet-style downsampling (16 -> 32 channels, 3x3, stride 2, 32x32, batch 64, one thread, AMD
EPYC): see ``docs/measurements.md`` for the figures against im2col and col2im. With a kernel
smaller than the stride (a 1x1 projection at stride 2) some pixels are in no tap's phase, and
col2im's scatter is a plain strided copy: such layers stay on im2col.
"""
from __future__ import annotations

import functools

import numpy as np

from cnnspec.engine.activations import relu_into
from cnnspec.engine.footprint import SMALL_GEMM_MADDS, phase_input_grad, phase_planes
from cnnspec.engine.products import small_products
from cnnspec.engine.windows import Window, carve, carve_again, strided_view, work_buffer
from cnnspec.records import record


def applies(win: Window) -> bool:
    """Whether ``dx`` of ``win`` runs here (:func:`cnnspec.engine.footprint.phase_input_grad`:
    every input pixel is then in some tap's phase)."""
    return phase_input_grad(win.kernel, win.stride, win.dilation)


@record(frozen=True)
class Phase:
    """One phase ``(a, b)``: its ``taps`` (u, v) of ``ku x kv``, and the slices that match
    its plane's pixels (``plane``: rows, columns) with the unpadded input's (``pixels``)."""

    a: int
    b: int
    ku: int
    kv: int
    pixels: tuple[slice, slice]
    plane: tuple[slice, slice]


@record(frozen=True)
class Planes:
    """The phases of a window: their ``Hq x Wq`` planes, ``size`` the columns an image in wide
    coordinates (``Hq*Wq``) and ``reach`` the largest tap's shift (``(ku - 1)*Wq + kv - 1``):
    the zero lead before a column gradient, and the slack past the last image's planes that
    a shifted row of :func:`columns` reads into."""

    phases: tuple[Phase, ...]
    plane_hw: tuple[int, int]
    size: int
    reach: int


@functools.lru_cache(maxsize=256)
def planes(win: Window) -> Planes:
    """The :class:`Planes` of a window :func:`applies` to, made once."""
    (kh, kw), (sh, sw) = win.kernel, win.stride
    (h, w), (top, _, left, _) = win.in_hw, win.pads
    _, plane_hw, size, reach = phase_planes(win.kernel, win.stride, win.padded_hw)
    phases = []
    for a in range(sh):
        for b in range(sw):
            y0, x0 = (a - top) % sh, (b - left) % sw  # the first input pixel in the phase
            i0, j0 = (y0 + top) // sh, (x0 + left) // sw  # its place in the plane
            rows, cols = len(range(y0, h, sh)), len(range(x0, w, sw))
            phases.append(Phase(a, b, len(range(a, kh, sh)), len(range(b, kw, sw)),
                                (slice(y0, None, sh), slice(x0, None, sw)),
                                (slice(i0, i0 + rows), slice(j0, j0 + cols))))
    return Planes(tuple(phases), plane_hw, size, reach)


@record(frozen=True)
class Split:
    """A forward pass's input split into its phases (:func:`split`), kept for the weight
    gradient: ``kept`` (phases, C, N*Hq*Wq + reach), zero where the padding is."""

    kept: np.ndarray


def weight_rows(w: np.ndarray, win: Window) -> np.ndarray:
    """``w`` (F, C, kh, kw) as the (C*kh*kw, F) matrix whose rows are the taps phase by
    phase, each phase's as (c, u, v): the rows of :func:`columns` and of the column
    gradient."""
    f = w.shape[0]
    (sh, sw) = win.stride
    return np.concatenate([w[:, :, p.a::sh, p.b::sw].reshape(f, -1)
                           for p in planes(win).phases], axis=1).T


def weight_from_rows(rows: np.ndarray, w_shape, win: Window) -> np.ndarray:
    """The inverse of :func:`weight_rows`: ``rows`` (C*kh*kw, F)  ->  (F, C, kh, kw)."""
    f, c = w_shape[:2]
    (sh, sw) = win.stride
    w = np.empty(w_shape, rows.dtype)
    first = 0
    for p in planes(win).phases:
        taps = c * p.ku * p.kv
        w[:, :, p.a::sh, p.b::sw] = rows[first:first + taps].T.reshape(f, c, p.ku, p.kv)
        first += taps
    return w


def kept_planes(work, x_shape, win: Window, dtype) -> np.ndarray:
    """The buffer of :class:`Split` for an input of ``x_shape`` (N, C, H, W), kept in
    ``work`` (zero where nothing is written: the padding, the slack)."""
    n, c = x_shape[:2]
    layout = planes(win)
    shape = (len(layout.phases), c, n * layout.size + layout.reach)
    return work_buffer(work, "phase planes", shape, dtype, fill=0.0)


def split(x, kept: np.ndarray, win: Window, start: int, stop: int) -> None:
    """Images ``start:stop`` of ``x`` (N, C, H, W), any strides, copied into their phases'
    planes in ``kept`` (:func:`kept_planes`): one strided copy a phase."""
    layout = planes(win)
    (hq, wq), size = layout.plane_hw, layout.size
    xc = x[start:stop].transpose(1, 0, 2, 3)
    c, images = xc.shape[:2]
    for plane, phase in zip(kept, layout.phases):
        target = plane[:, start * size:stop * size].reshape(c, images, hq, wq)
        np.copyto(target[:, :, phase.plane[0], phase.plane[1]],
                  xc[:, :, phase.pixels[0], phase.pixels[1]])


def tap_views(kept: np.ndarray, win: Window, start: int, images: int) -> list[np.ndarray]:
    """Each phase's taps over images ``start:start + images`` of its planes ``kept``
    (:func:`split`; C-contiguous, as :func:`kept_planes` makes it) in wide coordinates,
    without a copy: a read-only view (C, ku, kv, images*Hq*Wq) a phase, ``view[c, u, v, t] =
    kept[phase, c, start*Hq*Wq + t + u*Wq + v]``; each matrix of a view has a unit column
    stride, which BLAS reads in place."""
    layout = planes(win)
    wq, span = layout.plane_hw[1], images * layout.size
    _, c, length = kept.shape
    row, item = kept.strides[1:]
    return [strided_view(kept, k * c * length + start * layout.size,
                         (c, phase.ku, phase.kv, span), (row, wq * item, item, item),
                         writeable=False)
            for k, phase in enumerate(layout.phases)]


def columns(kept: np.ndarray, win: Window, start: int, images: int, out: np.ndarray
            ) -> np.ndarray:
    """The im2col matrix of images ``start:start + images`` in wide coordinates, from their
    phases' planes ``kept`` (:func:`split`): (C*kh*kw, images*Hq*Wq), rows as
    :func:`weight_rows` orders them, into ``out`` (at least that large, flat): the views of
    :func:`tap_views` copied one after the other."""
    span = images * planes(win).size
    rows = 0
    for view in tap_views(kept, win, start, images):
        np.copyto(out[rows * span:(rows + view.size // span) * span].reshape(view.shape),
                  view)
        rows += view.size // span
    return out[:rows * span].reshape(rows, span)


def valid(wide: np.ndarray, images: int, win: Window, lead: int = 0) -> np.ndarray:
    """The output pixels of ``wide`` (rows, lead + images*Hq*Wq), C-contiguous, in wide
    coordinates after ``lead`` columns: a view (rows, images, Ho, Wo)."""
    layout = planes(win)
    ho, wo = win.out_hw
    s_row, item = wide.strides
    return strided_view(wide, lead, (wide.shape[0], images, ho, wo),
                        (s_row, layout.size * item, layout.plane_hw[1] * item, item))


def correlate(x, w, b, win: Window, step: int, kept: np.ndarray, work, out,
              relu: bool = False) -> np.ndarray:
    """``x`` (N, C, H, W) correlated with ``w`` (F, C, kh, kw), plus ``b`` (F,) or None, then
    ``max(., 0)`` where ``relu``, into ``out`` (F, N, Ho, Wo), chunks of ``step`` images: each
    chunk split into ``kept`` (:func:`split`), made into columns (:func:`columns`) and
    multiplied (in slices for BLAS's kernels for small matrices:
    :func:`cnnspec.engine.products.small_products`); the bias added to the product and the
    ReLU taken on it in cache, before its output pixels are copied into ``out``, not in
    passes over ``out``. The chunk's columns and product live in ``work``."""
    n, f = x.shape[0], w.shape[0]
    size = planes(win).size
    w_rows = np.ascontiguousarray(weight_rows(w, win).T)  # (F, C*kh*kw)
    for start in range(0, n, step):
        images = min(step, n - start)
        split(x, kept, win, start, start + images)
        cols = columns(kept, win, start, images,
                       carve(work, "cols", (w_rows.shape[1] * images * size,), x.dtype))
        product = small_products(w_rows, cols, carve(work, "product", (f, images * size),
                                                     x.dtype))
        if b is not None:
            product += b[:, None]
        if relu:  # on the whole product: one dense run, relu_into's fast case
            relu_into(product, product)
        out[:, start:start + images] = valid(product, images, win)
    return out


def backward(dout, w, win: Window, x_shape, step: int, scratch, kept=None, work=None,
             need_dx: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(dx, dw)`` of a convolution with ``w`` (F, C, kh, kw) over ``win`` (:func:`applies`)
    from ``dout`` (N, F, Ho, Wo), any strides, chunks of ``step`` images: ``dw`` (F, C, kh,
    kw) where the forward's phases ``kept`` are given (:class:`Split`), else None; ``dx`` (N,
    C, H, W), a view of channel-first memory, or None without ``need_dx``. Each chunk's
    ``dout`` is laid out in wide coordinates once for both gradients; the weight gradient
    reads the chunk's taps in place where :func:`taps_in_place` says so, else builds its
    columns again in ``work`` (the forward's buffer); the rest lives in ``scratch``."""
    n, c = x_shape[:2]
    f = w.shape[0]
    size = planes(win).size
    w_rows = weight_rows(w, win)  # (C*kh*kw, F)
    dxc = np.empty((c, n, *win.in_hw), dout.dtype) if need_dx else None
    # C order (``w_rows`` is a transposed view), as every product's ``out`` here: NumPy's
    # matmul hands BLAS only a C-contiguous ``out``, and loops in C over any other, several
    # times slower
    dw_rows = None if kept is None else np.zeros(w_rows.shape, w.dtype)
    in_place = taps_in_place(c, f, step * size)
    tap_weights = _tap_weights(w, win) if need_dx and in_place else None
    reach = planes(win).reach
    dout_c = dout.transpose(1, 0, 2, 3)
    for start in range(0, n, step):
        images = min(step, n - start)
        led, new = carve_again(scratch, "phase dout", (f, reach + images * size), dout.dtype)
        if new:
            led.fill(0)  # the lead and the junk columns: they add nothing
        wide = led[:, reach:]
        np.copyto(valid(led, images, win, reach), dout_c[:, start:start + images])
        if kept is not None and in_place:
            _add_tap_products(dw_rows, tap_views(kept, win, start, images), wide, scratch)
        elif kept is not None:
            cols = columns(kept, win, start, images,
                           carve(work, "cols", (w_rows.shape[0] * images * size,), dout.dtype))
            # (cols @ dout.T).T: as conv_tuned's
            dw_rows += np.matmul(cols, wide.T, out=carve(scratch, "part", w_rows.shape,
                                                          dout.dtype))
        if tap_weights is not None:
            _fold_taps(tap_weights, led, win, dxc[:, start:start + images], scratch)
        elif need_dx:
            _fold(w_rows, wide, win, dxc[:, start:start + images], scratch)
    dw = None if kept is None else weight_from_rows(dw_rows, w.shape, win)
    return None if dxc is None else dxc.transpose(1, 0, 2, 3), dw


def taps_in_place(c: int, f: int, columns: int) -> bool:
    """Whether the weight gradient of a chunk of ``columns`` columns, ``c`` channels and
    ``f`` filters multiplies each tap's view of the planes (:func:`tap_views`) by ``dout``
    in place, rather than the chunk's im2col matrix built again: where one tap's product
    (``c*f*columns`` multiply-adds) is small enough for OpenBLAS's kernels for small
    matrices (``SMALL_GEMM_MADDS``), which read their operands as they lie; past it, each
    of the ``kh*kw`` products packs the chunk's ``dout`` again, and the one product over the
    columns is faster. The weight gradient alone (with its ``dout`` laid out), batch 64,
    3x3 kernels, stride 2, padding 1, one thread, CPU time, medians of 21 alternating
    rounds, ms, columns / in place (Intel Xeon, cpu family 6, model 167, OpenBLAS 0.3.31
    SkylakeX kernels); within the limit 16 -> 32 on 32x32 3.24 / 2.75, 32 -> 32 on 32x32
    6.03 / 5.19, 16 -> 32 on 16x16 0.99 / 0.87, 32 -> 32 on 16x16 1.73 / 1.49, 8 -> 16 on
    32x32 1.31 / 0.91; past it 16 -> 64 on 32x32 5.02 / 8.24, 32 -> 64 on 16x16 2.52 /
    3.43, 64 -> 64 on 16x16 4.95 / 5.39, 64 -> 128 on 16x16 7.93 / 9.49 (in slices of the
    columns under the limit, 32 -> 64 took 3.55 and 64 -> 128 10.48: no better). Where a
    BLAS has no such kernels (OpenBLAS's Haswell ones: see
    :data:`cnnspec.engine.chunking.WINOGRAD_CANDIDATES`) the limit is not known to hold."""
    return c * f * columns <= SMALL_GEMM_MADDS


def _add_tap_products(dw_rows, views, wide, scratch) -> None:
    """Add to ``dw_rows`` (C*kh*kw, F), rows as :func:`weight_rows` orders them, each
    phase's taps (``views`` of :func:`tap_views`, read in place) times the chunk's laid-out
    ``dout`` ``wide`` (F, columns) transposed: one stacked product a phase, as ``cols @
    dout.T`` (the orientation of :func:`cnnspec.engine.conv_tuned._weight_grad`)."""
    f = wide.shape[0]
    first = 0
    for view in views:
        c, ku, kv = view.shape[:3]
        part = carve(scratch, "tap part", (ku, kv, c, f), wide.dtype)
        np.matmul(view.transpose(1, 2, 0, 3), wide.T, out=part)
        rows = dw_rows[first:first + c * ku * kv].reshape(c, ku, kv, f)
        rows += part.transpose(2, 0, 1, 3)
        first += c * ku * kv


def input_grad(dout, w, win: Window, x_shape, step: int, scratch) -> np.ndarray:
    """``dx`` of :func:`backward` alone, for a forward pass that kept no phases (another
    path's)."""
    return backward(dout, w, win, x_shape, step, scratch)[0]


def _fold(w_rows, wide, win: Window, dxc, scratch) -> None:
    """``dxc`` (C, images, H, W), a chunk's part of ``dx``, from its ``wide`` (F, images*Hq*Wq)
    laid-out ``dout``: the column gradient ``w_rows @ wide`` (sliced as the forward's
    product) after a zero lead of ``reach`` columns, each phase's tap rows added up shifted
    back by ``u*Wq + v`` (a run over the whole chunk each: the shift reads the previous
    image's zero junk columns, or the lead), the plane then copied onto the phase's
    pixels."""
    layout = planes(win)
    wq, reach = layout.plane_hw[1], layout.reach
    c = dxc.shape[0]
    span = wide.shape[1]
    buffer, new = carve_again(scratch, "phase columns", (w_rows.shape[0], reach + span),
                              wide.dtype)
    if new:
        buffer[:, :reach] = 0
    small_products(w_rows, wide, buffer[:, reach:])
    plane = carve(scratch, "phase plane", (c, span), wide.dtype)
    first = 0
    for phase in layout.phases:
        taps = buffer[first:first + c * phase.ku * phase.kv].reshape(c, phase.ku, phase.kv, -1)
        first += c * phase.ku * phase.kv
        np.copyto(plane, taps[:, 0, 0, reach:])
        for u in range(phase.ku):
            for v in range(phase.kv):
                if u or v:
                    shift = reach - u * wq - v
                    np.add(plane, taps[:, u, v, shift:shift + span], out=plane)
        _place(plane, phase, layout.plane_hw, dxc)


def _tap_weights(w: np.ndarray, win: Window) -> list[np.ndarray]:
    """For each phase, its taps' transposed weights (ku, kv, C, F), C-contiguous: tap ``(u,
    v)`` of phase ``(a, b)`` is kernel tap ``(sh*u + a, sw*v + b)`` of ``w`` (F, C, kh, kw)."""
    (sh, sw) = win.stride
    return [np.ascontiguousarray(w[:, :, p.a::sh, p.b::sw].transpose(2, 3, 1, 0))
            for p in planes(win).phases]


def _fold_taps(tap_weights, led, win: Window, dxc, scratch) -> None:
    """:func:`_fold` with no column gradient, where :func:`taps_in_place` says so: each
    phase's plane the sum of its taps' products ``W_uv.T @ dout`` (``tap_weights`` of
    :func:`_tap_weights`), each reading ``led`` (F, reach + images*Hq*Wq), the laid-out
    ``dout`` after its zero lead, shifted back by ``u*Wq + v`` as it lies; the first tap's
    product is the plane, no copy. ``dx`` alone, batch 64, 3x3 kernels, stride 2, padding
    1, one thread, CPU time, medians of 21 alternating rounds, ms, column gradient and fold /
    this (Intel Xeon, cpu family 6, model 167, OpenBLAS 0.3.31 SkylakeX kernels): within
    the limit 16 -> 32 on 32x32 3.48 / 3.01, 32 -> 32 on 32x32 7.36 / 6.07, 16 -> 32 on
    16x16 1.24 / 0.99, 32 -> 32 on 16x16 2.00 / 1.69, 8 -> 16 on 32x32 1.35 / 1.15; past
    it 16 -> 64 on 32x32 4.91 / 5.87, 32 -> 64 on 16x16 2.86 / 2.83, 64 -> 64 on 16x16
    6.15 / 5.38, 64 -> 128 on 16x16 12.66 / 9.20 (its column gradient in slices of 13
    columns: :func:`cnnspec.engine.products.small_products`)."""
    layout = planes(win)
    wq, reach = layout.plane_hw[1], layout.reach
    c = dxc.shape[0]
    span = led.shape[1] - reach
    plane = carve(scratch, "phase plane", (c, span), led.dtype)
    part = carve(scratch, "phase part", (c, span), led.dtype)
    for phase, weights in zip(layout.phases, tap_weights):
        for u in range(phase.ku):
            for v in range(phase.kv):
                shift = reach - u * wq - v
                if u or v:
                    plane += np.matmul(weights[u, v], led[:, shift:shift + span], out=part)
                else:
                    np.matmul(weights[0, 0], led[:, shift:shift + span], out=plane)
        _place(plane, phase, layout.plane_hw, dxc)


def _place(plane, phase: Phase, plane_hw, dxc) -> None:
    """Copy a phase's ``plane`` (C, images*Hq*Wq) of ``dx`` in wide coordinates onto its
    pixels of ``dxc`` (C, images, H, W)."""
    c, images = dxc.shape[:2]
    pixels = plane.reshape(c, images, *plane_hw)[:, :, phase.plane[0], phase.plane[1]]
    np.copyto(dxc[:, :, phase.pixels[0], phase.pixels[1]], pixels)
