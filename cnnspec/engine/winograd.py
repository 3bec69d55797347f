"""2-D convolution by Winograd's minimal filtering, F(4x4, 3x3): the functions of
:mod:`cnnspec.engine.conv` (the reference) for 3x3 kernels at stride 1, computed with fewer
multiplies. :mod:`cnnspec.engine.conv_tuned` sends a layer here where
:func:`cnnspec.engine.footprint.winograd_pays` says so.

Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks", section 4: the output
is cut into tiles of m x m pixels (m = 4), each computed from an a x a input tile (a = m + 2,
neighbouring tiles overlapping by 2) as

    Y = A^T [ sum_c (G g G^T) (.) (B^T d B) ] A

with ``g`` a 3x3 kernel, ``d`` an input tile and (.) the elementwise product. With ``U[t]``
(K, C) the transformed kernels and ``V[t]`` (C, P) the transformed tiles at each of the a*a
points ``t``, the sum over channels is a batch of a*a GEMMs ``M[t] = U[t] @ V[t]``: 36
products for 16 outputs where im2col's GEMM spends 9 per output (4x fewer). The matrices
are Lavin & Gray's (interpolation points 0, +-1, +-2, infinity). F(2x2, 3x3) (16 products
per 4 outputs, exact small coefficients) was slower everywhere in a first version (forward,
batch 64, Intel Xeon, one thread: 20.1 against 13.4 ms on 32 -> 32 channels at 32x32, 12.8
against 9.0 ms on 64 -> 64 at 16x16): its tiles hold 4 values an output, F(4x4)'s 2.25, and
copying them costs more than the multiplies.

Transforms are separable: ``B^T d B`` is ``B^T`` along the tile's rows, then along its
columns, each a GEMM over every tile of a chunk at once (the small matrix on the left of a
wide matrix), so there is no Python loop over tiles. The batch runs in chunks of images
(:func:`cnnspec.engine.footprint.winograd_chunk_images`, their size calibrated on the machine)
whose tiles stay in a core's cache through the copies, the transforms and the products;
through main memory the transforms cost more than the multiplies they save.

Layout. A chunk's input rows are copied into tile rows, ``a`` rows of values (one for each
row ``i`` of a tile; tile row ``ty``'s row ``i`` is the padded input's row ``ty*m + i``),
each the chunk's (C, images, th) tile rows one after the other, ``Wq = tw*m`` values each for
``th x tw`` tiles, so that after the rows' transform all tiles lie ``m`` values apart in one
run (C x images x ``Q = th*tw`` of them) and the columns are copied out in long runs; copied
tile row by tile row, the runs are ``tw`` values and cost more than the GEMMs. A tile row's
pixels start ``left`` (the left padding) values into its ``Wq``, so the first tile reads the
row before's last pixels where its padding should be, and the last tile the next row's first
ones: those few tile columns (:attr:`Tiling.misread`) are set to 0 after the copy. Where an
input row is wider than ``tw*m`` (no padding), a junk tile is added to each tile row (``Wq =
(tw + 1)*m``; its outputs are dropped). Junk tiles on every layer, the layout before, cost
1/(tw + 1) of the work: without them, forward and backward, batch 64, one thread, Intel Xeon
with AVX-512, 1.03 (32 -> 32 channels at 32x32) to 1.16 (64 -> 64 at 16x16) times faster.
The output transform runs its second half with the small matrix on the right, so that its
result holds whole output rows, copied into ``out`` in runs of ``Wo``. Measured and slower
(batch 64, one thread, Intel Xeon with AVX-512, forward and backward): the chunk copied once
into a padded (rows, C, images, Wq) buffer whose tile rows are overlapping views (0.88-0.99:
that copy swaps rows and images, and the column copy's runs shorten to a tile row); the
column transform as two GEMMs on strided views of the rows, without the column copy (1.6-1.9
times the copy and GEMM it replaces: OpenBLAS's kernels for small matrices are slower on a
transposed operand); the input's row copies grouped by the rows of a tile that share their
tile rows (0.94-0.97); backward chunks of 2, 4 or 1/2 times the forward's images (0.82-0.99).

Backward, the chain rule through the same linear maps (their transposes):

    dM[t] = A dY A^T (tile by tile),   dU[t] = sum over tiles dM[t] @ V[t]^T,   dw = G^T dU G

    dV[t] = U[t]^T @ dM[t],   dx = the overlap-add of B dV B^T onto the input's pixels

chunk by chunk: ``dM`` serves both. The input transform's steps are taken back in reverse
order (:func:`_input_transform_adjoint`); where tiles overlap, their gradients add up. ``V``
is 2.25 times the input (more with the junk tiles). The forward pass keeps it for ``dU`` in
the layers a network's budget for kept tiles picks, for the share of their images the budget
gives them, at most ``KEEP_BYTES`` a layer (:func:`cnnspec.engine.footprint.winograd_keepers`
and ``winograd_kept_images``, which check's memory estimate reads), written chunk by chunk
into a buffer the layer keeps from step to step; the layer then holds no input where it
keeps every image's. The other images' ``V`` is computed again in the backward pass from the
input (copies and GEMMs per chunk, in cache). Kept, it saves the backward
pass a third of its time (see winograd_kept_images); an earlier measurement, on an Intel Xeon
(32 -> 32 channels at 32x32, batch 64, 21 MB of ``V`` against an 8 MB input), had computing again
and multiplying 11.0 ms against 3.5 ms more in the forward pass and 5.1 ms to multiply. ``dx`` as
the transposed convolution (this module's forward pass over
``dout`` padded, the kernels flipped) made the backward pass 4-16% slower: it transforms
``dout`` a second time.

Accuracy: the transforms' coefficients (up to 8 in ``A^T``, 1/6 and 1/24 in ``G``) make the
float32 result less exact than im2col's: against the float64 reference the error is within
``ERROR_BOUND`` times the largest sum of the absolute values of an output's terms (4e-6 the
most seen over the tests' grid; im2col's GEMM, about 1e-7). Float64 layers stay on the exact
path (:func:`cnnspec.engine.footprint.winograd_pays`). A NaN or infinity in the input makes
every output of the tiles that read it NaN (the transforms add and subtract it), where the
reference makes its 3x3 neighbourhood non-finite: more pixels, never fewer, and none of
another image's.
"""
from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnspec.engine.activations import relu_backward_from_output, relu_into
from cnnspec.engine.chunking import FALLBACK_WINOGRAD_BYTES
from cnnspec.engine.footprint import (
    WINOGRAD_INPUT_TILE,
    WINOGRAD_TILE,
    winograd_chunk_images,
    winograd_kept_images,
    winograd_row_values,
    winograd_tiles,
)
from cnnspec.engine.products import small_products
from cnnspec.engine.windows import Window, carve, output_array, shared_work, work_buffer
from cnnspec.records import record

# Lavin & Gray 2016, F(4x4, 3x3), points 0, 1, -1, 2, -2 and infinity (their equations 13-15).
_BT = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], dtype=np.float64)
_G = np.array([[1 / 4, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6],
               [0, 0, 1]], dtype=np.float64)
_AT = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], dtype=np.float64)
assert _AT.shape == (WINOGRAD_TILE, WINOGRAD_INPUT_TILE) and _BT.shape[0] == WINOGRAD_INPUT_TILE
_MATRICES = {"BT": _BT, "G": _G, "AT": _AT}
# The bias is added in the transformed domain, to the products at point (1, 1): A^T's column
# 1 is all ones (interpolation point 1, where each output polynomial is the sum of its
# coefficients), so A^T (b e_1 e_1^T) A adds b to each of the tile's m x m outputs: one add
# over 1/36 of the products, and the output transform's last step a plain copy. Against an
# add fused into that copy: forward 1.06 / 1.09 / 1.16 / 1.08 / 1.11 times faster on 32 -> 32
# at 32x32, 64 -> 64, 32 -> 64, 32 -> 32 at 16x16, 16 -> 16 at 32x32 (batch 64, one thread,
# Intel Xeon with AVX-512, medians of 5 interleaved rounds); the float32 error is unchanged.
_BIAS_POINT = 1 * WINOGRAD_INPUT_TILE + 1
assert (_AT[:, 1] == 1).all()

# A float32 result's error against the float64 reference, relative to the largest sum of the
# absolute values of an output's terms (tests/test_winograd.py holds the engine to it).
ERROR_BOUND = 2e-5


@record(frozen=True)
class Buffers:
    """Which of a chunk's scratch buffers (keys of the shared work dict) each stage of a pass
    writes. A stage reads what the stage before it wrote, so the buffer two stages back is
    free again: the stages take turns in two buffers ("ping", "pong") instead of one each,
    and more of a chunk's working set stays in a core's L2 cache (six buffers held about
    twice as much). The backward pass keeps ``dM`` through the input's transform and the
    weight gradient, in a third buffer ("kept"), which then holds the adjoint's tile
    columns. Against a buffer for each stage, batch 64, one thread, Intel Xeon with AVX-512
    and AMX (2 MiB L2), medians of 15 calls, three interleaved rounds, ms, forward /
    backward: 16 -> 16 at 32x32 5.1-5.2 / 9.9-10.3 against 4.6-4.8 / 9.3-9.6; 16 -> 32 at
    32x32 7.6-7.7 / 14.3-14.6 against 6.1-6.2 / 13.6-14.5; 32 -> 32 at 32x32 11.5-12.3 /
    23.7-25.0 against 10.4-10.7 / 23.7-24.3; 32 -> 32 and 64 -> 64 at 16x16 unchanged within
    the noise. The chunks' sizes stay: 1/2, 3/2 and 2 times as many images were slower on
    every one of these layers (3/2 by 20-35%)."""

    rows: str  # the input's tile rows after B^T (the adjoint's, backward)
    tiles: str  # their tile columns, copied out
    transformed: str  # V
    products: str  # M = U V forward, dM backward
    half: str  # the output transform's (or its transpose's) first half
    outputs: str = ""  # the output tiles (forward)
    input_grad: str = ""  # dV = U^T dM (backward)
    columns: str = ""  # the adjoint's tile columns (backward)
    tile_rows_grad: str = ""  # the adjoint's tile rows after B (backward)


FORWARD = Buffers(rows="ping", tiles="pong", transformed="ping", products="pong", half="ping",
                  outputs="pong")
BACKWARD = Buffers(half="ping", products="kept", rows="ping", tiles="pong", transformed="ping",
                   input_grad="pong", columns="kept", tile_rows_grad="pong")


@record(frozen=True)
class Tiling:
    """How a layer's output is cut into ``th x tw`` tiles of ``m x m`` (the last ones cropped)
    read from the input padded by ``pads`` (top, bottom, left, right), the convolution's."""

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    pads: tuple[int, int, int, int]
    m: ClassVar[int] = WINOGRAD_TILE  # the matrices above are F(4x4, 3x3)'s
    a: ClassVar[int] = WINOGRAD_INPUT_TILE

    # Cached (the dataclass is frozen, made once by tiling()): a chunk asks for them a few
    # dozen times, and a step's Python time counts twice when two threads share it.
    @functools.cached_property
    def tiles_hw(self) -> tuple[int, int]:
        return winograd_tiles(*self.out_hw, self.in_hw[1])[:2]

    @functools.cached_property
    def q(self) -> int:
        """Tiles an image, the junk tiles included (if any)."""
        return winograd_tiles(*self.out_hw, self.in_hw[1])[2]

    @functools.cached_property
    def row_width(self) -> int:
        """``Wq``: the values a tile row takes in a chunk's buffers, ``m`` a tile (the junk
        tile's included)."""
        return self.q // self.tiles_hw[0] * self.m

    def row_values(self, tiles: int) -> int:
        """Values a row of the tiles takes in a chunk of ``tiles`` tiles, its tail included."""
        return winograd_row_values(tiles, self.pads[2])

    @functools.cached_property
    def row_spans(self) -> tuple[tuple[int, int, int, int], ...]:
        """For each row ``i`` of a tile that some tile row takes from the input, ``(i, first,
        last, y)``: tile rows ``first:last`` take input rows ``y, y + m, ...`` (tile row
        ``ty``'s row ``i`` is the padded input's row ``ty*m + i``)."""
        m, top, h = self.m, self.pads[0], self.in_hw[0]
        spans = []
        for i in range(self.a):
            first = max(0, -(-(top - i) // m))
            last = min(self.tiles_hw[0], (h - 1 + top - i) // m + 1)
            if last > first:
                spans.append((i, first, last, first * m + i - top))
        return tuple(spans)

    @functools.cached_property
    def copied_spans(self) -> tuple[tuple[int, int, int, int], ...]:
        """The :attr:`row_spans` a chunk copies from the input (and the adjoint adds back to
        ``dx``): rows ``i < m`` whole, rows ``i >= m`` at the last tile row alone. Tile row
        ``ty``'s row ``i >= m`` is tile row ``ty + 1``'s row ``i - m`` (the same padded input
        row), so those rows are copied (added, backward) within the chunk's buffer instead
        (:func:`_overlapping_rows`), in runs of ``(th - 1)*Wq`` values where the input's are
        runs of ``W``."""
        th, m = self.tiles_hw[0], self.m
        spans = []
        for i, first, last, y in self.row_spans:
            if i >= m:
                start = max(first, th - 1)
                if start >= last:
                    continue
                first, y = start, y + (start - first) * m
            spans.append((i, first, last, y))
        return tuple(spans)

    @functools.cached_property
    def misread(self) -> tuple[tuple[int, int], ...]:
        """The ``(tx, j)``: tile column ``tx``'s column ``j`` is a padding column whose place
        in the chunk's rows holds a pixel of the row before or after (see
        :func:`_input_transform`); those values are set to 0 in the tiles."""
        left, w, wq = self.pads[2], self.in_hw[1], self.row_width
        return tuple((tx, j) for tx in range(self.tiles_hw[1]) for j in range(self.a)
                     if not 0 <= tx * self.m + j - left < w
                     and (0 <= tx * self.m + j - left + wq < w
                          or 0 <= tx * self.m + j - left - wq < w))


@record(eq=False)
class Saved:
    """What a forward pass keeps for its backward pass (:func:`conv2d_forward`)."""

    x: np.ndarray | None  # the input, where some V is not kept (the weight gradient computes it)
    x_shape: tuple[int, ...]
    u: np.ndarray  # the transformed kernels (a*a, F, C)
    has_bias: bool
    kept: np.ndarray | None  # V of the first images, where kept (:func:`_kept_tiles`)
    images: int  # a chunk's
    tiling: Tiling


@functools.lru_cache(maxsize=256)
def tiling(win: Window) -> Tiling:
    """The :class:`Tiling` of a 3x3 stride-1 window, made once (with its cached
    :attr:`Tiling.misread`): a network asks for a handful on every step."""
    return Tiling(win.in_hw, win.out_hw, win.pads)


def conv2d_forward(x, w, b, win: Window, work=None, relu=False,
                   chunk_bytes: int = FALLBACK_WINOGRAD_BYTES, tile_share: int = 0):
    """``out`` (N, F, Ho, Wo) of a 3x3, stride-1 convolution of ``x`` (N, C, H, W) with ``w``
    (F, C, 3, 3) and ``b`` (F,) or None, padded as ``win`` says; a view of channel-first
    memory. With ``relu``, ``max(out, 0)``, taken as the outputs are copied out of the tiles,
    into the output buffer kept in ``work`` (:func:`cnnspec.engine.windows.output_array`).
    ``cache``: a :class:`Saved`. ``x`` is held (and must not change before the backward
    pass) only where some images' ``V`` is not kept, as the weight gradient then computes it
    again from ``x``; the input gradient needs ``U`` alone. ``V`` is kept for the weight
    gradient by a layer with a ``tile_share`` (values of ``V`` an image: its part of its
    network's :func:`cnnspec.engine.footprint.winograd_keepers`), for as many of the first
    images as :func:`cnnspec.engine.footprint.winograd_kept_images` says, in the layer's
    ``work`` from step to step (the next forward pass writes over it). ``work``: the layer's
    dict; the chunk buffers live only within a call and are shared by the layers of one
    geometry (per thread, :func:`cnnspec.engine.windows.shared_work`).
    ``chunk_bytes``: the most bytes of transformed tiles a chunk of images holds (the
    machine's, :mod:`cnnspec.engine.calibrate`; the backward pass takes the same chunks)."""
    til = tiling(win)
    n, c = x.shape[:2]
    f = w.shape[0]
    out = output_array(work if relu else None, (f, n, *til.out_hw), x.dtype)
    kept = _kept_tiles(work, til, x, tile_share)
    work = _scratch(work, til, x.shape, f, x.dtype)
    u = _kernel_transform(w)
    step = winograd_chunk_images(c, f, til.q, n, x.dtype.itemsize, chunk_bytes)
    for start, images in _chunks(n, step, kept):
        v = _input_transform(x, til, start, images, work, FORWARD,
                             into=_chunk_tiles(kept, til, start, images))
        m_t = carve(work, FORWARD.products, (til.a * til.a, f, images * til.q), x.dtype)
        np.matmul(u, v, out=m_t)
        if b is not None:
            m_t[_BIAS_POINT] += b[:, None]
        _output_transform(m_t, til, out[:, start:start + images], work, relu)
    # V kept for every image frees the input for its next readers
    held = x if kept is None or len(kept) < n else None
    return out.transpose(1, 0, 2, 3), Saved(held, x.shape, u, b is not None, kept, step, til)


def _kept_tiles(work, til: Tiling, x, tile_share: int) -> np.ndarray | None:
    """The buffer (K, a*a*C*Q) that keeps the forward's ``V`` of the first K images of ``x``
    (N, C, H, W) for the weight gradient (:func:`_chunk_tiles`), K from the layer's
    ``tile_share`` (:func:`cnnspec.engine.footprint.winograd_kept_images`), in the layer's
    ``work`` (new without it); None where it keeps no image's."""
    n, c = x.shape[:2]
    images = winograd_kept_images(c, til.q, n, x.dtype.itemsize, tile_share)
    if not images:
        return None
    return work_buffer(work, "kept tiles", (images, til.a * til.a * c * til.q), x.dtype)


def _chunks(n: int, step: int, kept: np.ndarray | None):
    """``(start, images)`` of each chunk of at most ``step`` of ``n`` images, both passes'
    (the backward pass reads a kept chunk's ``V`` where the forward pass wrote it): the
    images whose ``V`` is kept (the first ``len(kept)``) in chunks of their own, so every one
    of them is read back, then the others."""
    split = 0 if kept is None else len(kept)
    for first, last in ((0, split), (split, n)):
        for start in range(first, last, step):
            yield start, min(step, last - start)


def _chunk_tiles(kept, til: Tiling, start: int, images: int) -> np.ndarray | None:
    """``V`` (a*a, C, images*Q) of images ``start:start + images`` in the kept buffer (K,
    a*a*C*Q): each chunk's one C-contiguous block, the chunks one after another; None where
    those images' ``V`` is not kept."""
    if kept is None or start >= len(kept):
        return None
    points = til.a * til.a
    return kept[start:start + images].reshape(points, -1, images * til.q)


def _scratch(work, til: Tiling, shape, f: int, dtype) -> dict | None:
    """The chunk buffers of a convolution of an input of ``shape`` and ``dtype`` into ``f``
    channels tiled as ``til``: they live only within a pass, shared by the layers of one
    geometry (per thread)."""
    return shared_work(work, ("winograd", til, tuple(shape), f, np.dtype(dtype)))


def conv2d_backward(dout, cache, need_dw=True, need_dx=True, work=None, relu_out=None,
                    need_db=True):
    """Gradients of :func:`conv2d_forward`: ``dout`` (N, F, Ho, Wo)  ->  ``(dx, dw, db)``
    as in :func:`cnnspec.engine.conv_tuned.conv2d_backward` (None where not asked for), chunk of
    images by chunk: ``dM`` of the chunk's tiles, then ``dU += dM @ V^T`` with ``V`` kept
    or computed again, and ``dV = U^T @ dM`` taken back to the chunk's ``dx``. ``relu_out``: the
    output of a forward pass with ``relu``, whose zeros mask ``dout`` as it is copied into
    the tiles (the ReLU's backward pass, with no mask kept)."""
    u, til, x_shape, step = cache.u, cache.tiling, cache.x_shape, cache.images
    need_db = need_db and cache.has_bias
    if not (need_dw or need_db or need_dx):
        return None, None, None
    n, c = x_shape[:2]
    f, a = u.shape[1], til.a
    scratch = _scratch(work, til, x_shape, f, dout.dtype)
    dout_c = dout.transpose(1, 0, 2, 3)
    out_c = None if relu_out is None else relu_out.transpose(1, 0, 2, 3)
    if need_dw:
        du = np.zeros((a * a, f, c), dout.dtype)
        part = np.empty_like(du)
    db = np.zeros(f, dout.dtype) if need_db else None
    if need_dx:
        u_t = u.transpose(0, 2, 1)  # (a*a, C, F)
        dxc = np.empty((c, n, *x_shape[2:]), dout.dtype)
    for start, images in _chunks(n, step, cache.kept):
        chunk = slice(start, start + images)
        dm = _output_grad_transform(dout_c[:, chunk], til, scratch,
                                    None if out_c is None else out_c[:, chunk])
        if need_dw:
            v = _chunk_tiles(cache.kept, til, start, images)
            if v is None:
                v = _input_transform(cache.x, til, start, images, scratch, BACKWARD)
            du += np.matmul(dm, v.transpose(0, 2, 1), out=part)
        if need_db:  # the bias's point: each tile's sum of dout (junk and crop are 0)
            db += dm[_BIAS_POINT].sum(axis=1)
        if need_dx:
            dv = carve(scratch, BACKWARD.input_grad, (a * a, c, images * til.q), dout.dtype)
            np.matmul(u_t, dm, out=dv)
            _input_transform_adjoint(dv, til, dxc[:, start:start + images], scratch)
    dx = dxc.transpose(1, 0, 2, 3) if need_dx else None
    if not need_dw:
        return dx, None, db
    g = _matrix("G", dout.dtype)
    dw = np.matmul(np.matmul(g.T, du.reshape(a, a, f, c).transpose(2, 3, 0, 1)), g)
    return dx, dw, db


def _input_transform_adjoint(dv, til: Tiling, dx, work) -> None:
    """The transpose of :func:`_input_transform`: ``dx`` (C, images, H, W) from ``dV`` (a*a,
    C, images*Q), each step of the forward's taken back in reverse order: ``B`` along the
    tile columns (one batch of GEMMs), the misread columns' gradient dropped (they were set
    to 0), the columns added back where they were copied from (overlapping tiles add up),
    ``B`` along the tile rows (one GEMM), and the tile rows added back onto the rows of ``dx``
    they were read from.

    The columns' step writes each tile's ``a`` columns ``(a, a, tiles)`` as the forward's
    tiles lie (:func:`_drop_misread` serves both), then each of a tile's first ``m`` columns
    into its place in the chunk's rows, ``m`` values a tile (one strided copy a column), its
    last ``a - m`` added there to the next tile's first ones (:func:`_columns_back`). The
    GEMM with ``dV``'s points on the left and ``B``'s first ``m`` columns on the right, a
    transposed operand, had written the first ``m`` columns in place: 96 us of one chunk's
    281 us (16 -> 16 channels at 32x32, 7 images, AMD EPYC, cpu family 25, model 17), where
    all ``a`` columns as the forward's GEMM take 48 us and their strided copies 58 us."""
    a, m = til.a, til.m
    c, images = dx.shape[:2]
    length = c * images * til.q
    bt = _matrix("BT", dv.dtype)
    columns = carve(work, BACKWARD.columns, (a, a, length), dv.dtype)  # [i, j, p]: tile p's
    np.matmul(bt.T, dv.reshape(a, a, length), out=columns)
    _drop_misread(columns, til)
    size = til.row_values(length)
    rows = carve(work, BACKWARD.rows, (a, size), dv.dtype)  # rows[i, p*m + j]: tile p's column j
    _columns_back(columns, rows, m)
    tile_rows = carve(work, BACKWARD.tile_rows_grad, (a, size), dv.dtype)
    small_products(bt.T, rows, tile_rows)
    # Rows i >= m overlap the next tile row's rows i - m: added to them in the buffer. Then
    # each padded row above th*m is one tile row's row i < m: copied there (once); input rows
    # from th*m on (two at most), the last tile row's rows i >= m, are zero until added.
    for later, earlier in _overlapping_rows(tile_rows, til, c, images):
        np.add(earlier, later, out=earlier)
    top = til.pads[0]
    dx[:, :, max(0, til.tiles_hw[0] * m - top):].fill(0)
    for i, first, last, y in til.copied_spans:
        target = dx[:, :, y:y + (last - first - 1) * m + 1:m]
        source = _pixels(tile_rows[i], til, c, images)[:, :, first:last]
        if i < m:
            np.copyto(target, source)
        else:
            np.add(target, source, out=target)


@functools.cache
def _matrix(name: str, dtype) -> np.ndarray:
    """The transforms' matrix ``name`` ("BT", "G", "AT", written in float64) in ``dtype``,
    made once (read-only): the transforms ask for it on every chunk of images."""
    matrix = _MATRICES[name].astype(dtype)
    matrix.flags.writeable = False
    return matrix


def _kernel_transform(w) -> np.ndarray:
    """``U`` (a*a, F, C): ``G g G^T`` of every kernel, the points first."""
    g = _matrix("G", w.dtype)
    u = np.matmul(np.matmul(g, w), g.T)  # (F, C, a, a)
    return np.ascontiguousarray(u.transpose(2, 3, 0, 1)).reshape(g.shape[0] ** 2, *w.shape[:2])


def _input_transform(x, til: Tiling, start: int, images: int, work,
                     buffers: Buffers, into=None) -> np.ndarray:
    """``V`` (a*a, C, images*Q): ``B^T d B`` of every tile of images ``start:start + images``
    of ``x`` (N, C, H, W), in two halves, each a copy in long runs and a GEMM; written into
    ``into`` (C-contiguous, that shape) where given, else into a scratch buffer.

    Rows: ``x``'s rows are copied into the chunk's tile rows (a, values), zeros for the
    padding (:func:`_pixels`: tile row ``ty``'s row ``i`` is the padded input's row ``ty*m +
    i``), so each input row lands in one or two of them: copied from ``x`` once (one copy
    for each ``i < m``, runs of ``W``), and where twice, the second copied from the first
    within the buffer (:attr:`Tiling.copied_spans`); then ``B^T`` along them, one GEMM.
    Columns: the result's tile columns are copied out (:func:`_columns_view`, runs of
    C*images*Q), the misread ones set to 0, then ``B^T`` along them, a batch of ``a``
    GEMMs."""
    a, m = til.a, til.m
    c, length = x.shape[1], x.shape[1] * images * til.q
    bt = _matrix("BT", x.dtype)
    # The padding's zeros stay from call to call: one buffer for each chunk size (two at most).
    tile_rows = work_buffer(work, f"winograd tile rows {images}", (a, til.row_values(length)),
                            x.dtype, fill=0.0)
    chunk = x[start:start + images].transpose(1, 0, 2, 3)
    for i, first, last, y in til.copied_spans:
        np.copyto(_pixels(tile_rows[i], til, c, images)[:, :, first:last],
                  chunk[:, :, y:y + (last - first - 1) * m + 1:m])
    for later, earlier in _overlapping_rows(tile_rows, til, c, images):
        np.copyto(later, earlier)
    rows = carve(work, buffers.rows, tile_rows.shape, x.dtype)
    small_products(bt, tile_rows, rows)
    tiles = carve(work, buffers.tiles, (a, a, c, images * til.q), x.dtype)
    np.copyto(tiles, _columns_view(rows, til, c, length))
    _drop_misread(tiles, til)
    v = (carve(work, buffers.transformed, (a, a, length), x.dtype) if into is None
         else into.reshape(a, a, length))
    np.matmul(bt, tiles.reshape(a, a, length), out=v)
    return v.reshape(a * a, c, images * til.q)


def _pixels(row, til: Tiling, c: int, images: int) -> np.ndarray:
    """The (C, images, th, W) view of the input pixels in ``row``, one row ``i`` of a chunk's
    tile rows: tile row ``ty``'s pixels of channel ``c``, image ``n`` start ``left`` values
    after its ``Wq`` values start (the padding's place before them; after them up to ``Wq``,
    the padding's and the junk tile's, if any)."""
    th, wq, left = til.tiles_hw[0], til.row_width, til.pads[2]
    return row[left:left + c * images * th * wq].reshape(c, images, th, wq)[
        ..., :til.in_hw[1]]


def _overlapping_rows(rows, til: Tiling, c: int, images: int):
    """Pairs of views ``(later, earlier)`` of the same padded input rows in a chunk's tile
    rows ``rows`` (a, values): for each row ``i >= m`` of a tile, that row of tile rows ``0 ..
    th - 2`` and row ``i - m`` of tile rows ``1 .. th - 1`` (:attr:`Tiling.copied_spans`),
    each (C, images, th - 1, Wq), whole tile rows of ``Wq`` values, the padding's and the
    junk tile's included: one run of ``(th - 1)*Wq`` values for each channel and image."""
    th, wq, left = til.tiles_hw[0], til.row_width, til.pads[2]
    whole = rows[:, left:left + c * images * th * wq].reshape(til.a, c, images, th, wq)
    for i in range(til.m, til.a):
        yield whole[i, :, :, :-1], whole[i - til.m, :, :, 1:]


def _drop_misread(tiles, til: Tiling) -> None:
    """Set to 0 the tiles' columns that :attr:`Tiling.misread` lists (``tiles`` (a, a,
    C*images*Q))."""
    if not til.misread:
        return
    a = til.a
    by_tile = tiles.reshape(a, a, -1, til.q // til.tiles_hw[0])
    for tx, j in til.misread:
        by_tile[:, j, :, tx] = 0


def _columns_back(columns, rows, m: int) -> None:
    """Add each tile's columns ``columns`` (a, a, tiles) back into the chunk's rows ``rows``
    (a, values) where :func:`_columns_view` read them: tile ``p``'s column ``j`` is ``rows[i,
    p*m + j]``, so its columns ``j >= m`` are the next tile's ``j - m`` (the last tile's, the
    rows' tail). Each column ``j < m`` is one strided copy, or its sum with the tile before's
    column ``j + m`` (the same sum, in the same order, as adding that column afterwards)."""
    a, tiles = columns.shape[0], columns.shape[2]
    for j in range(m):
        place = rows[:, j:j + (tiles - 1) * m + 1:m]
        if j + m < a:
            place[:, 0] = columns[:, j, 0]
            np.add(columns[:, j, 1:], columns[:, j + m, :-1], out=place[:, 1:])
        else:
            np.copyto(place, columns[:, j])
    tail = rows[:, tiles * m:]
    tail[:, :a - m] = columns[:, m:, -1]
    tail[:, a - m:] = 0


def _columns_view(rows, til: Tiling, c: int, length: int) -> np.ndarray:
    """The read-only view (a, a, C, images*Q) of the tile columns of a chunk's ``rows`` (a,
    values), ``length`` tiles: item ``[i, j, c, p]`` is tile ``p``'s row ``i`` at column
    ``j``, the value ``p*m + j`` of ``rows[i]``: each channel's tile column is one run of
    stride ``m``. (The last tile reads ``a - m`` values past its tile row: the tail.)"""
    s_i, item = rows.strides
    return as_strided(rows, shape=(til.a, til.a, c, length // c),
                      strides=(s_i, item, length // c * til.m * item, til.m * item),
                      writeable=False)


def _output_transform(m_t, til: Tiling, out, work, relu=False) -> None:
    """``A^T M A`` of every tile into ``out`` (F, images, Ho, Wo): ``m_t`` (a*a, F,
    images*Q), the bias already in it (``_BIAS_POINT``). The second half has ``A^T`` on the
    right, so that each result row is a whole row of tiles ``(tx, j)``, copied into ``out``
    in runs of ``Wo``; with ``relu``, ``max(., 0)`` is taken over the tiles before the copy,
    one dense run in cache (:func:`cnnspec.engine.activations.relu_into`): taken by the
    copy's strided runs, it ran NumPy's slow loop of a maximum against a scalar, 1.07 ms more
    than the copy alone for 2M outputs (32 -> 32 channels at 32x32, batch 64, AMD EPYC)."""
    m, a = til.m, til.a
    f, images = out.shape[:2]
    at = _matrix("AT", m_t.dtype)
    half = carve(work, FORWARD.half, (m, a, f * images * til.q), m_t.dtype)
    small_products(at, m_t.reshape(a, -1), half.reshape(m, -1))  # along the tiles' rows
    y = carve(work, FORWARD.outputs, (m, f * images * til.q, m), m_t.dtype)
    np.matmul(half.transpose(0, 2, 1), at.T, out=y)  # along their columns: (i, F, P, j)
    if relu:  # over the tiles, one dense run in cache (junk tiles and crop included)
        relu_into(y, y)
    for tiles, pixels in _output_blocks(y, out, til):
        np.copyto(pixels, tiles)


def _output_blocks(y, out, til: Tiling):
    """Pairs of views ``(tiles, pixels)``, the same outputs in ``y`` (m, F*P, m) and in ``out``
    (F, images, Ho, Wo): the tile rows whose m rows are all in ``out`` as one (F, images,
    rows, m, Wo) block (one copy, runs of ``Wo``), then the last one's rows that are (if it
    is cropped). The rest of ``y`` is the junk tiles and the crop."""
    m = til.m
    f, images = out.shape[:2]
    ho, wo = til.out_hw
    tiles = y.reshape(m, f, images, til.tiles_hw[0], til.row_width).transpose(1, 2, 3, 0, 4)
    whole, rest = divmod(ho, m)
    if whole:
        yield (tiles[:, :, :whole, :, :wo],
               out[:, :, :whole * m].reshape(f, images, whole, m, wo))
    if rest:
        yield tiles[:, :, whole, :rest, :wo], out[:, :, whole * m:]


def _output_grad_transform(dout_c, til: Tiling, work, out_c=None) -> np.ndarray:
    """``dM`` (a*a, F, images*Q): ``A dY A^T`` of every tile of ``dout_c`` (F, images, Ho,
    Wo), the transpose of :func:`_output_transform` (junk and cropped pixels zero); with
    ``out_c`` (the forward's output with ``relu``, laid out as ``dout_c``), ``dY`` is
    ``dout_c`` masked where it is 0."""
    m, a = til.m, til.a
    f, images = dout_c.shape[:2]
    # Zeros where the crop and the junk tiles are (no gradient there), from call to call: one
    # buffer for each chunk size (two at most).
    y = work_buffer(work, f"winograd dout tiles {images}", (m, f * images * til.q, m),
                    dout_c.dtype, fill=0.0)
    if out_c is None:
        for tiles, pixels in _output_blocks(y, dout_c, til):
            np.copyto(tiles, pixels)
    else:
        for (tiles, pixels), (_, outputs) in zip(_output_blocks(y, dout_c, til),
                                                 _output_blocks(y, out_c, til)):
            relu_backward_from_output(pixels, outputs, into=tiles)
    at = _matrix("AT", dout_c.dtype)
    half = carve(work, BACKWARD.half, (m, a, f * images * til.q), dout_c.dtype)
    np.matmul(at.T, y.transpose(0, 2, 1), out=half)
    dm = carve(work, BACKWARD.products, (a * a, f, images * til.q), dout_c.dtype)
    small_products(at.T, half.reshape(m, -1), dm.reshape(a, -1))
    return dm
