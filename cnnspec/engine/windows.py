"""Sliding-window geometry shared by convolution and pooling: padding, im2col views, col2im.

Internally a window op works on its input in *channel-first, batch-second* memory order: a
padded buffer of shape ``(C, N, Hp, Wp)``. That way the im2col matrix has rows ``(c, i, j)`` and
columns ``(n, y, x)``, a whole batch is one GEMM, and the GEMM's result ``(F, N, Ho, Wo)`` is
already the next layer's channel-first buffer; the op hands it on as the NCHW *view*
``out.transpose(1, 0, 2, 3)`` (no copy). Every function here accepts NCHW arrays with any
strides, so callers never see the internal order.

Output sizes come from :mod:`cnnspec.shapes` only.
"""
from __future__ import annotations

import functools
import math
import threading
import weakref

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnspec.records import record
from cnnspec.shapes import Padding, reaching_taps, window_output_hw


@record(frozen=True)
class Window:
    """The geometry of one sliding window over an ``(N, C, H, W)`` input."""

    in_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: Padding  # (top, bottom, left, right)
    dilation: tuple[int, int] = (1, 1)

    # Cached: a training step asks a window for its sizes a few dozen times, and the Python
    # time of a step is paid twice when two threads share the interpreter.
    @functools.cached_property
    def out_hw(self) -> tuple[int, int]:
        return window_output_hw(self.in_hw, self.kernel, self.stride, self.pads, self.dilation)

    @functools.cached_property
    def padded_hw(self) -> tuple[int, int]:
        top, bottom, left, right = self.pads
        return self.in_hw[0] + top + bottom, self.in_hw[1] + left + right

    def offsets(self) -> tuple[tuple[int, int, slice, slice], ...]:
        """Each kernel offset ``(i, j)`` with the slices of the padded input it reads.

        The slices pick, for every output pixel ``(y, x)``, the input pixel
        ``(y * sh + i * dh, x * sw + j * dw)`` of the padded input.
        """
        return self._offsets

    @functools.cached_property
    def _offsets(self) -> tuple[tuple[int, int, slice, slice], ...]:
        return self._offsets_of(range(self.kernel[0]), range(self.kernel[1]))

    def reaching_offsets(self) -> tuple[tuple[int, int, slice, slice], ...]:
        """The :meth:`offsets` whose rows and columns may read the input at some output
        (:func:`cnnspec.shapes.reaching_taps`, axis by axis), in the same order: every other
        offset reads only padding at every output. An op whose padding adds nothing (a max
        pool's -inf, an average's zeros) visits these alone, as many as the input's size
        allows however large its window: a 10^7x1 max pool `pad same` over a 5x5 map visited
        10^7 offsets, minutes and gigabytes, to read 5 rows."""
        return self._reaching_offsets

    @functools.cached_property
    def _reaching_offsets(self) -> tuple[tuple[int, int, slice, slice], ...]:
        (h, w), (top, _, left, _) = self.in_hw, self.pads
        (ho, wo), (kh, kw) = self.out_hw, self.kernel
        (sh, sw), (dh, dw) = self.stride, self.dilation
        rows = reaching_taps(h, ho, kh, sh, dh, top)
        columns = reaching_taps(w, wo, kw, sw, dw, left)
        if not rows or not columns:  # every output is the padding's alone: one offset says so
            rows, columns = range(1), range(1)
        return self._offsets_of(rows, columns)

    def _offsets_of(self, rows: range, columns: range
                    ) -> tuple[tuple[int, int, slice, slice], ...]:
        """:meth:`offsets` of the kernel rows ``rows`` and columns ``columns``."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        ho, wo = self.out_hw
        return tuple((i, j, slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                      slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))
                     for i in rows for j in columns)

    def unpad(self, xp: np.ndarray) -> np.ndarray:
        """The unpadded part of a ``(..., Hp, Wp)`` buffer (a view)."""
        top, _, left, _ = self.pads
        h, w = self.in_hw
        return xp[..., top:top + h, left:left + w]


@functools.lru_cache(maxsize=1024)
def window(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
           pads: Padding, dilation: tuple[int, int] = (1, 1)) -> Window:
    """The :class:`Window` of this geometry, made once (with its cached sizes) and shared: a
    network has a handful of geometries and asks for them on every step. Arguments are
    tuples (hashable)."""
    return Window(in_hw, kernel, stride, pads, dilation)


def work_buffer(work: dict | None, key: str, shape: tuple[int, ...], dtype,
                fill: float | None = None) -> np.ndarray:
    """An array of ``shape`` kept in ``work`` under ``key`` and reused by the next call with the
    same shape (a new one when ``work`` is None). Reuse spares a large allocation and its page
    faults on every step; a new buffer is filled with ``fill`` when given. Only for arrays that
    never leave the op that owns ``work``."""
    dtype = np.dtype(dtype)
    buf = None if work is None else work.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
        if work is not None:
            work[key] = buf
    return buf


def output_array(work: dict | None, shape: tuple[int, ...], dtype) -> np.ndarray:
    """The array a convolution writes its output into: new, or with ``work`` the layer's
    output buffer kept there, written again by its next forward pass. Only for an output that
    no reader holds past that pass (:class:`cnnspec.engine.layers.ConvReLU`, never the
    network's output): as :func:`work_buffer`, it spares the allocation and its page faults
    on every step."""
    return np.empty(shape, dtype) if work is None else work_buffer(work, "output", shape, dtype)


def strided_view(buffer: np.ndarray, offset: int, shape: tuple[int, ...],
                 strides: tuple[int, ...], writeable: bool = True) -> np.ndarray:
    """The view of ``shape`` and ``strides`` (bytes) that starts ``offset`` items into the
    memory of ``buffer`` (C-contiguous; NumPy refuses a view past its end): what
    ``as_strided(buffer.reshape(-1)[offset:], shape, strides)`` gives, read-only unless
    ``writeable``. For views made once a chunk or block: ``as_strided`` goes through
    ``__array_interface__`` and took 3.5 us a view, this 0.7 (Intel Xeon, cpu family 6,
    model 167, NumPy 2.4), where a chunk of a strided layer by phases
    (:mod:`cnnspec.engine.phases`) costs some 35 us of Python in all."""
    view = np.ndarray(shape, buffer.dtype, buffer, offset * buffer.itemsize, strides)
    if not writeable:
        view.flags.writeable = False
    return view


def carve(work: dict | None, key: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A C-contiguous array of ``shape`` at the start of a flat buffer kept in ``work`` (it
    grows to the largest size asked for, so a narrower last chunk reuses it)."""
    size = math.prod(shape)
    flat = None if work is None else work.get(key)
    if flat is None or flat.size < size or flat.dtype != dtype:
        flat = np.empty(size, dtype)
        if work is not None:
            work[key] = flat
    return flat[:size].reshape(shape)


def carve_again(work: dict | None, key: str, shape: tuple[int, ...],
                dtype) -> tuple[np.ndarray, bool]:
    """:func:`carve`, and whether the array is new: another shape than the last one carved
    under ``key``, or new memory (always without ``work``). Where it is not, what a caller
    left outside the part it writes is still there, so zero borders need no writing again
    (block after block of one size, one NumPy call each fewer)."""
    before = None if work is None else work.get(key)
    array = carve(work, key, shape, dtype)
    if work is None:
        return array, True
    new = work.get((key, "shape")) != shape or work[key] is not before
    work[(key, "shape")] = shape
    return array, new


_shared = threading.local()  # .pool: this thread's shared work dicts by key, weakly held


class _SharedWork(dict):
    """A work dict that the pool of :func:`shared_work` can hold weakly."""


def shared_work(work: dict | None, key: tuple) -> dict | None:
    """A work dict shared by every op of this thread that asks with the same ``key`` (a role
    first, then the geometry: windows, shapes, dtype), for buffers that live only within one
    call, such as a convolution's input-gradient scratch: the layers of one geometry (a
    ResNet stage's convs) then hold one set of that memory instead of one each, which is
    what the peak memory of a training step counts. The buffers' invariants (zero borders)
    hold because the geometry is the same. Per thread, because two threads run batch halves
    at once. The pool holds it weakly and ``work`` (the asking layer's own) strongly, under
    the role, so it lives as long as a layer that last asked for it: one per role and layer,
    freed with the model. None when ``work`` is None (no reuse asked for)."""
    if work is None:
        return None
    pool = getattr(_shared, "pool", None)
    if pool is None:
        pool = _shared.pool = weakref.WeakValueDictionary()
    found = pool.get(key)
    if found is None:
        found = pool[key] = _SharedWork()
    work[("shared", key[0])] = found
    return found


def channel_first_padded(x: np.ndarray, win: Window, fill: float = 0.0,
                         work: dict | None = None) -> np.ndarray:
    """``x`` (N, C, H, W) as a padded channel-first array ``(C, N, Hp, Wp)``.

    Without padding this is the transposed view of ``x`` (no copy); otherwise a buffer filled
    with ``fill`` (0 for convolution and average pooling, -inf for max pooling) whose interior
    receives ``x``. With ``work`` the buffer is reused (its border keeps the fill).
    """
    xc = x.transpose(1, 0, 2, 3)
    if not any(win.pads):
        return xc
    c, n = xc.shape[:2]
    hp, wp = win.padded_hw
    xp = work_buffer(work, "padded", (c, n, hp, wp), x.dtype, fill=fill)
    win.unpad(xp)[...] = xc
    return xp


def im2col(xp: np.ndarray, win: Window, out: np.ndarray | None = None) -> np.ndarray:
    """The im2col matrix of a padded channel-first input.

    ``xp`` (C, N, Hp, Wp), any strides  ->  ``cols`` (C*kh*kw, N*Ho*Wo), C-contiguous, where
    ``cols[(c, i, j), (n, y, x)] = xp[c, n, y*sh + i*dh, x*sw + j*dw]``. Built from one strided
    view (no Python loop over pixels) and one copy, into ``out`` when given (C-contiguous, of
    that shape).
    """
    c, n = xp.shape[:2]
    (kh, kw), (ho, wo) = win.kernel, win.out_hw
    cols = np.empty((c * kh * kw, n * ho * wo), xp.dtype) if out is None else out
    im2col_chunks(xp, win, n, cols.reshape(1, *cols.shape))  # one chunk of all N images
    return cols


def im2col_chunks(xp: np.ndarray, win: Window, step: int, out: np.ndarray) -> np.ndarray:
    """The im2col matrices of consecutive chunks of ``step`` images, in one copy.

    ``xp`` (C, N, Hp, Wp), any strides, N a multiple of ``step``  ->  ``out`` (N // step,
    C*kh*kw, step*Ho*Wo), C-contiguous, whose item ``k`` is :func:`im2col` of images
    ``k*step:(k+1)*step``.
    """
    view = windows_view(xp, win, step)
    np.copyto(out.reshape(view.shape), view)
    return out


def windows_view(xp: np.ndarray, win: Window, step: int) -> np.ndarray:
    """The read-only strided view of ``xp`` (C, N, Hp, Wp), N a multiple of ``step``, whose
    copy is :func:`im2col_chunks`: shape (N // step, C, kh, kw, step, Ho, Wo), item
    ``[k, c, i, j, m, y, x] = xp[c, k*step + m, y*sh + i*dh, x*sw + j*dw]``. It stays a view
    of ``xp``'s memory: made once for a buffer that is reused, it reads the buffer's current
    values on every copy."""
    c, n = xp.shape[:2]
    (kh, kw), (sh, sw), (dh, dw) = win.kernel, win.stride, win.dilation
    ho, wo = win.out_hw
    s_c, s_n, s_h, s_w = xp.strides
    return as_strided(
        xp,
        shape=(n // step, c, kh, kw, step, ho, wo),
        strides=(step * s_n, s_c, dh * s_h, dw * s_w, s_n, sh * s_h, sw * s_w),
        writeable=False,
    )


def batch_blocks(x: np.ndarray, win: Window, step: int, work: dict | None = None) -> np.ndarray:
    """``x`` (N, C, H, W), any strides, as zero-padded *batch-last blocks*: ``xt`` (K, C, Hp,
    Wp, step), ``K = ceil(N / step)``, with ``xt[k, c, y, x, m] = xp[c, k*step + m, y, x]``
    (``xp`` the padded input). A shorter last block's spare slots are never read.

    With the images of a block innermost, one row of a block's im2col matrix (see
    :func:`block_columns`) is copied in runs of ``Wo * step`` values at stride 1 instead of
    im2col's runs of ``Wo``; with ``work`` the buffer is reused (its border stays zero).
    """
    n, c, h, wd = x.shape
    hp, wp = win.padded_hw
    top, _, left, _ = win.pads
    blocks = -(-n // step)
    xt = work_buffer(work, "blocks", (blocks, c, hp, wp, step), x.dtype, fill=0.0)
    inner = xt[:, :, top:top + h, left:left + wd]
    whole = n // step
    inner[:whole] = x[:whole * step].reshape(whole, step, c, h, wd).transpose(0, 2, 3, 4, 1)
    if whole < blocks:
        inner[whole, ..., :n - whole * step] = x[whole * step:].transpose(1, 2, 3, 0)
    return xt


def block_columns(xt: np.ndarray, k: int, images: int, win: Window, out: np.ndarray) -> np.ndarray:
    """The im2col matrix of block ``k`` of :func:`batch_blocks` ``xt``, its first ``images``
    images: ``cols`` (C*kh*kw, Ho*Wo*images), C-contiguous, in ``out`` (at least that large,
    flat), with ``cols[(c, i, j), (y, x, m)] = xt[k, c, y*sh + i*dh, x*sw + j*dw, m]``: the
    columns run over the output pixels with the images innermost."""
    c = xt.shape[1]
    (kh, kw), (sh, sw), (dh, dw) = win.kernel, win.stride, win.dilation
    ho, wo = win.out_hw
    _, s_c, s_h, s_w, s_m = xt.strides
    view = strided_view(xt, k * xt[0].size, (c, kh, kw, ho, wo, images),
                        (s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_m), writeable=False)
    cols = out[:view.size].reshape(view.shape)
    np.copyto(cols, view)
    return cols.reshape(c * kh * kw, -1)


def col2im(dcols: np.ndarray, win: Window, channels: int, batch: int) -> np.ndarray:
    """The adjoint of :func:`im2col`: scatter-add columns back onto the input.

    ``dcols`` (C*kh*kw, N*Ho*Wo)  ->  ``dx`` (N, C, H, W) (a view of a channel-first buffer).
    One slice-add per kernel offset (kh*kw of them), never a loop over pixels.
    """
    kh, kw = win.kernel
    ho, wo = win.out_hw
    hp, wp = win.padded_hw
    d = dcols.reshape(channels, kh, kw, batch, ho, wo)
    dxp = np.zeros((channels, batch, hp, wp), dtype=dcols.dtype)
    for i, j, rows, cols in win.offsets():
        dxp[:, :, rows, cols] += d[:, i, j]
    return win.unpad(dxp).transpose(1, 0, 2, 3)


def fold_lead(win: Window, images: int) -> int:
    """Zero columns before a block's column gradient in :func:`fold_rows`: the largest kernel
    offset's shift, ``((kh-1)*dh*Wp + (kw-1)*dw) * images``."""
    (kh, kw), (dh, dw) = win.kernel, win.dilation
    return ((kh - 1) * dh * win.padded_hw[1] + (kw - 1) * dw) * images


def fold_rows(work: dict | None, rows: int, win: Window, images: int,
              dtype) -> tuple[np.ndarray, np.ndarray]:
    """The column buffer :func:`col2im_block` reads for a block of ``images`` images, and the
    part of it a matrix product writes.

    Returns ``(buffer, target)``: ``buffer`` (rows, lead + Hp*Wp*images) carved from ``work``
    (:func:`carve_again`), zero but for ``target`` (write nothing else into it), its
    (rows, Ho*Wp*images) view after the lead of :func:`fold_lead` (unit column stride, so a
    matrix product can write it in place).
    """
    ho, (hp, wp) = win.out_hw[0], win.padded_hw
    lead, span = fold_lead(win, images), ho * wp * images
    buffer, new = carve_again(work, "fold_rows", (rows, lead + hp * wp * images), dtype)
    if new:  # else still zero from the last block of this size
        buffer[:, :lead] = 0
        buffer[:, lead + span:] = 0
    return buffer, buffer[:, lead:lead + span]


def col2im_block(buffer: np.ndarray, win: Window, channels: int, images: int,
                 out: np.ndarray) -> np.ndarray:
    """:func:`col2im` for stride 1 of one block of ``images`` images laid out batch-last, from
    columns in wide coordinates.

    ``buffer`` from :func:`fold_rows`: after its zero lead, one column per ``(y, x, m)``, ``y``
    over the padded height ``Hp`` (zero from ``Ho`` on), ``x`` over the padded width ``Wp``
    (its columns ``x >= Wo`` must be zero), images innermost; ``out`` a flat buffer of at
    least C*Hp*Wp*images values  ->  the padded block ``dxp`` (C, Hp, Wp, images), a view of
    ``out``. With stride 1, kernel offset ``(i, j)`` moves every column by the same
    ``shift = (i*dh*Wp + j*dw) * images`` values in a flattened padded block, so ``dxp[c].flat[q]
    = sum_ij buffer[(c, i, j), lead + q - shift]`` (the zero columns land on pixels they do not
    change; reads before a row's start fall in its zero lead): one sum over a strided view's
    (i, j) axes, where :func:`col2im`'s slice-adds run over rows of ``Wo`` values. Unlike
    kh*kw adds of each offset's rows onto the block (2-3 times slower where a row is below
    2048 values: NumPy then buffers the two-dimensional adds), it is as fast on blocks of
    any size.
    """
    (kh, kw), (dh, dw) = win.kernel, win.dilation
    hp, wp = win.padded_hw
    span = hp * wp * images
    lead = buffer.shape[1] - span
    row, item = buffer.strides
    shifted = strided_view(buffer, lead, (channels, kh, kw, span),
                           (kh * kw * row, kw * row - dh * wp * images * item,
                            row - dw * images * item, item), writeable=False)
    dxp = out[:channels * span].reshape(channels, span)
    np.sum(shifted, axis=(1, 2), out=dxp)
    return dxp.reshape(channels, hp, wp, images)


def wide_columns(xp: np.ndarray, win: Window) -> int | None:
    """Columns per image of :func:`im2col_wide` for ``xp`` (C, N, Hp, Wp), or None when it does
    not apply (a stride above 1, or planes that are not contiguous rows of ``Wp`` values)."""
    itemsize = xp.dtype.itemsize
    wp = win.padded_hw[1]
    if win.stride != (1, 1) or xp.strides[3] != itemsize or xp.strides[2] != wp * itemsize:
        return None
    ho, wo = win.out_hw
    return (ho - 1) * wp + wo


def im2col_wide(xp: np.ndarray, win: Window, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`im2col` of a stride-1 window in *wide* coordinates.

    ``xp`` (C, N, Hp, Wp) with contiguous planes  ->  ``cols`` (C*kh*kw, N*L), where
    ``L = (Ho - 1)*Wp + Wo`` (:func:`wide_columns`) and column ``(n, t)`` is the output pixel
    ``(y, x) = divmod(t, Wp)``: ``cols[(c, i, j), (n, t)] = xp[c, n].flat[t + i*dh*Wp + j*dw]``.
    Columns with ``x >= Wo`` straddle two rows and are junk (:func:`from_wide` skips them).
    Each row of the matrix is then one contiguous run of ``L`` values per image instead of
    ``Ho`` runs of ``Wo``, which copies two to three times faster; the GEMM grows by
    ``Wp / Wo`` (6% on a 32x32 "same" 3x3 layer).
    """
    c, n = xp.shape[:2]
    (kh, kw), (dh, dw) = win.kernel, win.dilation
    length = wide_columns(xp, win)
    s_c, s_n, s_h, s_w = xp.strides
    view = as_strided(xp, shape=(c, kh, kw, n, length),
                      strides=(s_c, dh * s_h, dw * s_w, s_n, s_w), writeable=False)
    cols = np.empty((c * kh * kw, n * length), xp.dtype) if out is None else out
    np.copyto(cols.reshape(view.shape), view)
    return cols


def from_wide(wide: np.ndarray, batch: int, win: Window) -> np.ndarray:
    """The valid pixels of ``wide`` (F, N*L) in wide coordinates (see :func:`im2col_wide`) as a
    view (F, N, Ho, Wo)."""
    ho, wo = win.out_hw
    wp = win.padded_hw[1]
    s_f, s = wide.strides
    length = (ho - 1) * wp + wo
    return as_strided(wide, shape=(wide.shape[0], batch, ho, wo),
                      strides=(s_f, length * s, wp * s, s), writeable=wide.flags.writeable)
