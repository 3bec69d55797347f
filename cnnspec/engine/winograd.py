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

import dataclasses
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
    winograd_chunks,
    winograd_kept_images,
    winograd_row_values,
    winograd_tiles,
)
from cnnspec.engine.products import run_products, small_product_parts
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
# G g G^T of a 3x3 kernel g, flattened row by row, is kron(G, G) times g flattened alike: the
# kernel transform (and its transpose, the weight gradient's G^T dU G) of all F*C kernels is
# one GEMM with this (a*a, 9) matrix, its coefficients rounded once from float64. As a batch
# of F*C small products (G g, then times G^T) it ran NumPy's loop over the batch. Forward's
# kernel transform / the weight gradient's, float32, one thread, Intel Xeon (cpu family 6,
# model 167), medians of 21 interleaved rounds (products, GEMM, ...) of 50 calls, in us:
# 32 -> 32 channels 143 / 126 against 15 / 12 (9.7x / 10.3x), 64 -> 64 560 / 503 against
# 73 / 69 (7.7x / 7.3x).
_MATRICES = {"BT": _BT, "AT": _AT, "GG": np.kron(_G, _G)}
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
    geometry (per thread, :func:`cnnspec.engine.windows.shared_work`), as are the views a
    chunk takes of them (:func:`_planned`).
    ``chunk_bytes``: the most bytes of transformed tiles a chunk of images holds (the
    machine's, :mod:`cnnspec.engine.calibrate`; the backward pass takes the same chunks)."""
    til = tiling(win)
    n, c = x.shape[:2]
    f = w.shape[0]
    out = output_array(work if relu else None, (f, n, *til.out_hw), x.dtype)
    kept = _kept_tiles(work, til, x, tile_share)
    scratch = _scratch(work, til, x.shape, f, x.dtype)
    u = _kernel_transform(w)
    step = winograd_chunk_images(c, f, til.q, n, x.dtype.itemsize, chunk_bytes)
    rows = _input_rows(x.transpose(1, 0, 2, 3), til)
    pixels = _pixel_blocks(out, til)
    bias = None if b is None else b[:, None]
    for start, images in _chunks(n, step, kept):
        into = _chunk_tiles(kept, til, start, images)
        views = _planned(scratch, ("forward", images, into is None), _forward_views, til, c,
                         f, images, x.dtype, into is None)
        v = _input_transform(rows, start, views.input, into)
        np.matmul(u, v, out=views.products)
        if bias is not None:
            np.add(views.bias, bias, out=views.bias)
        _output_transform(views, [block[:, start:start + images] for block in pixels], relu)
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


def _chunks(n: int, step: int, kept: np.ndarray | None) -> list[tuple[int, int]]:
    """``(start, images)`` of each chunk (:func:`cnnspec.engine.footprint.winograd_chunks`,
    which the memory estimate reads too), ``kept`` holding the kept images' ``V``."""
    return winograd_chunks(n, step, 0 if kept is None else len(kept))


def _chunk_tiles(kept, til: Tiling, start: int, images: int) -> np.ndarray | None:
    """``V`` (a*a, C, images*Q) of images ``start:start + images`` in the kept buffer (K,
    a*a*C*Q): each chunk's one C-contiguous block, the chunks one after another; None where
    those images' ``V`` is not kept."""
    if kept is None or start >= len(kept):
        return None
    points = til.a * til.a
    return kept[start:start + images].reshape(points, -1, images * til.q)


def _scratch(work, til: Tiling, shape, f: int, dtype) -> dict:
    """The chunk buffers of a convolution of an input of ``shape`` and ``dtype`` into ``f``
    channels tiled as ``til``: they live only within a pass, shared by the layers of one
    geometry (per thread); without ``work``, the call's own."""
    scratch = shared_work(work, ("winograd", til, tuple(shape), f, np.dtype(dtype)))
    return {} if scratch is None else scratch


# The chunk buffers' keys in the shared work dict: the roles FORWARD and BACKWARD name.
_ROLES = tuple(sorted({getattr(buffers, field.name) for buffers in (FORWARD, BACKWARD)
                       for field in dataclasses.fields(Buffers)} - {""}))


def _planned(scratch: dict, key: tuple, build, *args):
    """``build(scratch, *args)``: the views a chunk of images takes of the chunk buffers in
    ``scratch``, built once for ``key`` and kept there (under "plans"). Built on every chunk,
    the views, strides and products' slices were most of a chunk's fixed cost: with one image
    a chunk on a 1 -> 1 channel layer at 8x8 (where the arithmetic is next to nothing),
    forward 34-35 against 15 us a chunk, backward 72-73 against 31 (Intel Xeon, cpu family 6,
    model 167, one thread, medians of 30 calls in each of three interleaved rounds). A buffer
    that grows (:func:`cnnspec.engine.windows.carve`; a larger chunk after a smaller) leaves
    the views made before on memory the dict no longer holds: every plan is then dropped and
    the new one built again on the grown buffers, so the plans hold no memory beyond the
    buffers the footprint counts."""
    plans = scratch.setdefault("plans", {})
    plan = plans.get(key)
    while plan is None:
        before = [scratch.get(role) for role in _ROLES]
        plan = build(scratch, *args)
        if any(scratch.get(role) is not flat for role, flat in zip(_ROLES, before)):
            plans.clear()
            plan = None
    plans[key] = plan
    return plan


@record(eq=False)
class InputViews:
    """The views one chunk of ``images`` images takes of the buffers of
    :func:`_input_transform` (:func:`_input_views`)."""

    pixels: tuple  # the tile rows' pixels each of Tiling.copied_spans holds
    overlaps: tuple  # (later, earlier) rows of the tile rows (_overlapping_rows)
    rows: tuple  # the products of B^T along the tile rows (small_product_parts)
    tiles: np.ndarray  # (a, a, C, images*Q), the tile columns
    columns: np.ndarray  # the read-only view of the rows' tile columns (_columns_view)
    misread: tuple  # the tiles' misread columns (_misread_views)
    by_point: np.ndarray  # tiles as (a, a, C*images*Q)
    transformed: np.ndarray | None  # V (a, a, C*images*Q), where not written into a kept one


def _input_views(scratch: dict, til: Tiling, c: int, images: int, dtype, buffers: Buffers,
                 transformed: bool) -> InputViews:
    """The :class:`InputViews` of a chunk of ``images`` images of ``c`` channels; with
    ``transformed``, V's buffer too (else V goes into the kept tiles)."""
    a = til.a
    length = c * images * til.q
    # The padding's zeros stay from call to call: one buffer for each chunk size (two at most).
    tile_rows = work_buffer(scratch, f"winograd tile rows {images}",
                            (a, til.row_values(length)), dtype, fill=0.0)
    rows = carve(scratch, buffers.rows, tile_rows.shape, dtype)
    tiles = carve(scratch, buffers.tiles, (a, a, c, images * til.q), dtype)
    v = carve(scratch, buffers.transformed, (a, a, length), dtype) if transformed else None
    return InputViews(_span_pixels(tile_rows, til, c, images),
                      tuple(_overlapping_rows(tile_rows, til, c, images)),
                      small_product_parts(_matrix("BT", dtype), tile_rows, rows), tiles,
                      _columns_view(rows, til, c, length), _misread_views(tiles, til),
                      tiles.reshape(a, a, length), v)


@record(eq=False)
class ForwardViews:
    """The views one chunk of images takes of the forward pass's buffers
    (:func:`_forward_views`)."""

    input: InputViews
    products: np.ndarray  # M (a*a, F, images*Q)
    bias: np.ndarray  # M at _BIAS_POINT (F, images*Q)
    half: tuple  # the products of A^T along the tiles' rows (small_product_parts)
    half_columns: np.ndarray  # their result (m, F*P, a), A^T's left operand along the columns
    outputs: np.ndarray  # the output tiles (m, F*P, m)
    tiles: tuple  # the output tiles' blocks of rows (_tile_blocks)


def _forward_views(scratch: dict, til: Tiling, c: int, f: int, images: int, dtype,
                   transformed: bool) -> ForwardViews:
    """The :class:`ForwardViews` of a chunk of ``images`` images of ``c`` -> ``f`` channels
    (``transformed``: V in a scratch buffer, not in the kept tiles)."""
    m, a = til.m, til.a
    tiles = f * images * til.q
    inputs = _input_views(scratch, til, c, images, dtype, FORWARD, transformed)
    products = carve(scratch, FORWARD.products, (a * a, f, images * til.q), dtype)
    half = carve(scratch, FORWARD.half, (m, a, tiles), dtype)
    y = carve(scratch, FORWARD.outputs, (m, tiles, m), dtype)
    return ForwardViews(inputs, products, products[_BIAS_POINT],
                        small_product_parts(_matrix("AT", dtype), products.reshape(a, -1),
                                            half.reshape(m, -1)),
                        half.transpose(0, 2, 1), y, _tile_blocks(y, til, f, images))


@record(eq=False)
class BackwardViews:
    """The views one chunk of images takes of the backward pass's buffers
    (:func:`_backward_views`)."""

    tiles: tuple  # dout's tiles' blocks of rows (_tile_blocks), zero elsewhere
    tiles_t: np.ndarray  # dout's tiles (m, m, F*P), A's right operand along the rows
    half: np.ndarray  # (m, a, F*P)
    products: tuple  # the products of A along the tiles' columns (small_product_parts)
    grad: np.ndarray  # dM (a*a, F, images*Q)
    bias: np.ndarray  # dM at _BIAS_POINT (F, images*Q)
    input: InputViews | None  # where V is computed again for the weight gradient
    adjoint: AdjointViews | None  # where the input gradient is asked for


def _backward_views(scratch: dict, til: Tiling, c: int, f: int, images: int, dtype,
                    with_input: bool, with_adjoint: bool) -> BackwardViews:
    """The :class:`BackwardViews` of a chunk of ``images`` images of ``c`` -> ``f``
    channels; the input's transform's with ``with_input``, its adjoint's with
    ``with_adjoint``."""
    m, a = til.m, til.a
    tiles = f * images * til.q
    # Zeros where the crop and the junk tiles are (no gradient there), from call to call: one
    # buffer for each chunk size (two at most).
    y = work_buffer(scratch, f"winograd dout tiles {images}", (m, tiles, m), dtype, fill=0.0)
    half = carve(scratch, BACKWARD.half, (m, a, tiles), dtype)
    dm = carve(scratch, BACKWARD.products, (a * a, f, images * til.q), dtype)
    inputs = _input_views(scratch, til, c, images, dtype, BACKWARD, True) if with_input \
        else None
    adjoint = _adjoint_views(scratch, til, c, images, dtype) if with_adjoint else None
    return BackwardViews(_tile_blocks(y, til, f, images), y.transpose(0, 2, 1), half,
                         small_product_parts(_matrix("AT", dtype).T, half.reshape(m, -1),
                                             dm.reshape(a, -1)),
                         dm, dm[_BIAS_POINT], inputs, adjoint)


@record(eq=False)
class AdjointViews:
    """The views one chunk of images takes of the buffers of
    :func:`_input_transform_adjoint` (:func:`_adjoint_views`)."""

    grad: np.ndarray  # dV (a*a, C, images*Q)
    by_point: np.ndarray  # dV as (a, a, C*images*Q)
    columns: np.ndarray  # the tiles' columns (a, a, C*images*Q)
    misread: tuple  # the columns' misread ones (_misread_views)
    added: tuple  # (first place, first column, columns, next columns, places) (_columns_back)
    copied: tuple  # (places, columns) (_columns_back)
    tail: tuple  # (the rows' tail, the last tile's columns j >= m, the rest of the tail)
    rows: tuple  # the products of B along the tile rows (small_product_parts)
    overlaps: tuple  # (later, earlier) rows of the tile rows (_overlapping_rows)
    pixels: tuple  # the tile rows' pixels each of Tiling.copied_spans holds


def _adjoint_views(scratch: dict, til: Tiling, c: int, images: int, dtype) -> AdjointViews:
    """The :class:`AdjointViews` of a chunk of ``images`` images of ``c`` channels."""
    a, m = til.a, til.m
    length = c * images * til.q
    dv = carve(scratch, BACKWARD.input_grad, (a * a, c, images * til.q), dtype)
    columns = carve(scratch, BACKWARD.columns, (a, a, length), dtype)  # [i, j, p]: tile p's
    size = til.row_values(length)
    rows = carve(scratch, BACKWARD.rows, (a, size), dtype)  # rows[i, p*m + j]: tile p's column j
    tile_rows = carve(scratch, BACKWARD.tile_rows_grad, (a, size), dtype)
    return AdjointViews(dv, dv.reshape(a, a, length), columns, _misread_views(columns, til),
                        *_columns_back(columns, rows, m),
                        small_product_parts(_matrix("BT", dtype).T, rows, tile_rows),
                        tuple(_overlapping_rows(tile_rows, til, c, images)),
                        _span_pixels(tile_rows, til, c, images))


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
    douts = _pixel_blocks(dout.transpose(1, 0, 2, 3), til)
    outs = None if relu_out is None else _pixel_blocks(relu_out.transpose(1, 0, 2, 3), til)
    if need_dw:
        du = np.zeros((a * a, f, c), dout.dtype)
        part = np.empty_like(du)
        rows = None if cache.x is None else _input_rows(cache.x.transpose(1, 0, 2, 3), til)
    db = np.zeros(f, dout.dtype) if need_db else None
    if need_dx:
        u_t = u.transpose(0, 2, 1)  # (a*a, C, F)
        dxc = np.empty((c, n, *x_shape[2:]), dout.dtype)
        # Input rows from th*m on (two at most), the last tile row's rows i >= m, are zero
        # until each chunk adds its tile rows there (_input_transform_adjoint).
        dxc[:, :, max(0, til.tiles_hw[0] * til.m - til.pads[0]):].fill(0)
        dx_rows = _input_rows(dxc, til)
    for start, images in _chunks(n, step, cache.kept):
        chunk = slice(start, start + images)
        v = _chunk_tiles(cache.kept, til, start, images) if need_dw else None
        views = _planned(scratch, ("backward", images, need_dw and v is None, need_dx),
                         _backward_views, til, c, f, images, dout.dtype,
                         need_dw and v is None, need_dx)
        dm = _output_grad_transform(views, [block[:, chunk] for block in douts],
                                    None if outs is None else [block[:, chunk] for block in outs])
        if need_dw:
            if v is None:
                v = _input_transform(rows, start, views.input)
            du += np.matmul(dm, v.transpose(0, 2, 1), out=part)
        if need_db:  # the bias's point: each tile's sum of dout (junk and crop are 0)
            db += views.bias.sum(axis=1)
        if need_dx:
            np.matmul(u_t, dm, out=views.adjoint.grad)
            _input_transform_adjoint(views.adjoint, til, [span[:, chunk] for span in dx_rows])
    dx = dxc.transpose(1, 0, 2, 3) if need_dx else None
    if not need_dw:
        return dx, None, db
    dw = np.empty((f, c, 3, 3), dout.dtype)  # G^T dU G of each kernel: one GEMM (see "GG")
    np.matmul(du.reshape(a * a, f * c).T, _matrix("GG", dout.dtype), out=dw.reshape(f * c, 9))
    return dx, dw, db


def _input_transform_adjoint(views: AdjointViews, til: Tiling, dx_rows) -> None:
    """The transpose of :func:`_input_transform`: the chunk's ``dx`` rows ``dx_rows``
    (:func:`_input_rows` of its (C, images, H, W), zero from padded row ``th*m`` on) from ``dV``
    (``views.grad``), each step of the forward's taken back in reverse order: ``B`` along
    the tile columns (one batch of GEMMs), the misread columns' gradient dropped (they were
    set to 0), the columns added back where they were copied from (overlapping tiles add up),
    ``B`` along the tile rows (one GEMM), and the tile rows added back onto the rows of ``dx``
    they were read from.

    The columns' step writes each tile's ``a`` columns ``(a, a, tiles)`` as the forward's
    tiles lie (:func:`_misread_views` serves both), then each of a tile's first ``m`` columns
    into its place in the chunk's rows, ``m`` values a tile (one strided copy a column), its
    last ``a - m`` added there to the next tile's first ones (:func:`_columns_back`). The
    GEMM with ``dV``'s points on the left and ``B``'s first ``m`` columns on the right, a
    transposed operand, had written the first ``m`` columns in place: 96 us of one chunk's
    281 us (16 -> 16 channels at 32x32, 7 images, AMD EPYC, cpu family 25, model 17), where
    all ``a`` columns as the forward's GEMM take 48 us and their strided copies 58 us. Each
    row of ``dx`` written once, the two tile rows that share a padded row summed on their way
    into it, took 0.95-1.01 of this function's time (Intel Xeon, cpu family 6, model 167,
    batch 64, one thread; docs/measurements.md): not taken."""
    np.matmul(_matrix("BT", views.grad.dtype).T, views.by_point, out=views.columns)
    for column in views.misread:
        column.fill(0)
    for first_place, first, columns, following, places in views.added:
        np.copyto(first_place, first)
        np.add(columns, following, out=places)
    for places, columns in views.copied:
        np.copyto(places, columns)
    tail, last, rest = views.tail
    np.copyto(tail, last)
    rest.fill(0)
    run_products(views.rows)
    # Rows i >= m overlap the next tile row's rows i - m: added to them in the buffer. Then
    # each padded row above th*m is one tile row's row i < m: copied there (once); input rows
    # from th*m on, the last tile row's rows i >= m, added.
    for later, earlier in views.overlaps:
        np.add(earlier, later, out=earlier)
    for (i, *_), target, source in zip(til.copied_spans, dx_rows, views.pixels):
        if i < til.m:
            np.copyto(target, source)
        else:
            np.add(target, source, out=target)


@functools.cache
def _matrix(name: str, dtype) -> np.ndarray:
    """The transforms' matrix ``name`` ("BT", "AT", "GG", written in float64) in ``dtype``,
    made once (read-only): the transforms ask for it on every chunk of images."""
    matrix = _MATRICES[name].astype(dtype)
    matrix.flags.writeable = False
    return matrix


def _kernel_transform(w) -> np.ndarray:
    """``U`` (a*a, F, C): ``G g G^T`` of every kernel, the points first: one GEMM of the
    kernels as rows of 9 (see "GG")."""
    gg = _matrix("GG", w.dtype)
    f, c = w.shape[:2]
    u = np.empty((gg.shape[0], f, c), w.dtype)
    np.matmul(gg, w.reshape(f * c, 9).T, out=u.reshape(gg.shape[0], f * c))
    return u


def _input_transform(rows, start: int, views: InputViews, into=None) -> np.ndarray:
    """``V`` (a*a, C, images*Q): ``B^T d B`` of every tile of images ``start:start + images``
    of an input whose rows ``rows`` (:func:`_input_rows`) give, in two halves, each a copy in
    long runs and a GEMM; written into ``into`` (C-contiguous, that shape) where given, else
    into a scratch buffer.

    Rows: the input's rows are copied into the chunk's tile rows (a, values), zeros for the
    padding (:func:`_span_pixels`: tile row ``ty``'s row ``i`` is the padded input's row
    ``ty*m + i``), so each input row lands in one or two of them: copied from the input once
    (one copy for each ``i < m``, runs of ``W``), and where twice, the second copied from the
    first within the buffer (:attr:`Tiling.copied_spans`); then ``B^T`` along them, one GEMM.
    Columns: the result's tile columns are copied out (:func:`_columns_view`, runs of
    C*images*Q), the misread ones set to 0, then ``B^T`` along them, a batch of ``a``
    GEMMs."""
    for target, source in zip(views.pixels, rows):
        np.copyto(target, source[:, start:start + target.shape[1]])
    for later, earlier in views.overlaps:
        np.copyto(later, earlier)
    run_products(views.rows)
    np.copyto(views.tiles, views.columns)
    for column in views.misread:
        column.fill(0)
    a = views.tiles.shape[0]
    v = views.transformed if into is None else into.reshape(a, a, -1)
    np.matmul(_matrix("BT", v.dtype), views.by_point, out=v)
    return v.reshape(a * a, *views.tiles.shape[2:])


def _input_rows(xc, til: Tiling) -> tuple[np.ndarray, ...]:
    """The rows of ``xc`` (C, N, H, W) that each of :attr:`Tiling.copied_spans` reads (the
    forward pass) or adds to (its adjoint), (C, N, tile rows, W) views, in that order."""
    m = til.m
    return tuple(xc[:, :, y:y + (last - first - 1) * m + 1:m]
                 for _, first, last, y in til.copied_spans)


def _span_pixels(tile_rows, til: Tiling, c: int, images: int) -> tuple[np.ndarray, ...]:
    """The pixels of each of :attr:`Tiling.copied_spans` in a chunk's tile rows ``tile_rows``
    (a, values), (C, images, tile rows, W) views, in that order."""
    return tuple(_pixels(tile_rows[i], til, c, images)[:, :, first:last]
                 for i, first, last, _ in til.copied_spans)


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


def _misread_views(tiles, til: Tiling) -> tuple[np.ndarray, ...]:
    """The views of ``tiles`` (a, a, C*images*Q) that :attr:`Tiling.misread` lists: the
    columns set to 0 after each copy into them."""
    by_tile = tiles.reshape(til.a, til.a, -1, til.q // til.tiles_hw[0])
    return tuple(by_tile[:, j, :, tx] for tx, j in til.misread)


def _columns_back(columns, rows, m: int) -> tuple[tuple, tuple, tuple]:
    """The views that add each tile's columns ``columns`` (a, a, tiles) back into the chunk's
    rows ``rows`` (a, values) where :func:`_columns_view` read them: tile ``p``'s column
    ``j`` is ``rows[i, p*m + j]``, so its columns ``j >= m`` are the next tile's ``j - m``
    (the last tile's, the rows' tail). Each column ``j < m`` is one strided copy, or its sum
    with the tile before's column ``j + m`` (the same sum, in the same order, as adding that
    column afterwards). Returns ``(added, copied, tail)`` as :class:`AdjointViews` holds
    them."""
    a, tiles = columns.shape[0], columns.shape[2]
    places = [rows[:, j:j + (tiles - 1) * m + 1:m] for j in range(m)]
    added = tuple((places[j][:, 0], columns[:, j, 0], columns[:, j, 1:],
                   columns[:, j + m, :-1], places[j][:, 1:]) for j in range(a - m))
    copied = tuple((places[j], columns[:, j]) for j in range(a - m, m))
    tail = rows[:, tiles * m:]
    return added, copied, (tail[:, :a - m], columns[:, m:, -1], tail[:, a - m:])


def _columns_view(rows, til: Tiling, c: int, length: int) -> np.ndarray:
    """The read-only view (a, a, C, images*Q) of the tile columns of a chunk's ``rows`` (a,
    values), ``length`` tiles: item ``[i, j, c, p]`` is tile ``p``'s row ``i`` at column
    ``j``, the value ``p*m + j`` of ``rows[i]``: each channel's tile column is one run of
    stride ``m``. (The last tile reads ``a - m`` values past its tile row: the tail.)"""
    s_i, item = rows.strides
    return as_strided(rows, shape=(til.a, til.a, c, length // c),
                      strides=(s_i, item, length // c * til.m * item, til.m * item),
                      writeable=False)


def _output_transform(views: ForwardViews, pixels, relu=False) -> None:
    """``A^T M A`` of every tile of ``views.products`` (a*a, F, images*Q), the bias already in
    it (``_BIAS_POINT``), into ``pixels`` (:func:`_pixel_blocks` of the chunk's (F, images,
    Ho, Wo) output). The second half has ``A^T`` on the right, so that each result row is a
    whole row of tiles ``(tx, j)``, copied into the output in runs of ``Wo``; with ``relu``,
    ``max(., 0)`` is taken over the tiles before the copy, one dense run in cache
    (:func:`cnnspec.engine.activations.relu_into`): taken by the copy's strided runs, it ran
    NumPy's slow loop of a maximum against a scalar, 1.07 ms more than the copy alone for 2M
    outputs (32 -> 32 channels at 32x32, batch 64, AMD EPYC)."""
    y = views.outputs
    run_products(views.half)  # along the tiles' rows
    np.matmul(views.half_columns, _matrix("AT", y.dtype).T, out=y)  # columns: (i, F, P, j)
    if relu:  # over the tiles, one dense run in cache (junk tiles and crop included)
        relu_into(y, y)
    for tiles, block in zip(views.tiles, pixels):
        np.copyto(block, tiles)


def _tile_blocks(y, til: Tiling, f: int, images: int) -> tuple[np.ndarray, ...]:
    """The views of ``y`` (m, F*P, m), a chunk's output tiles, that hold the outputs of
    :func:`_pixel_blocks`' blocks, in that order; the rest of ``y`` is the junk tiles and the
    crop."""
    m, (ho, wo) = til.m, til.out_hw
    tiles = y.reshape(m, f, images, til.tiles_hw[0], til.row_width).transpose(1, 2, 3, 0, 4)
    whole, rest = divmod(ho, m)
    return (((tiles[:, :, :whole, :, :wo],) if whole else ())
            + ((tiles[:, :, whole, :rest, :wo],) if rest else ()))


def _pixel_blocks(out, til: Tiling) -> tuple[np.ndarray, ...]:
    """``out`` (F, N, Ho, Wo) as blocks of rows of tiles: the tile rows whose m rows are all in
    ``out`` as one (F, N, rows, m, Wo) block (one copy a chunk, runs of ``Wo``), then the
    last one's rows that are (if it is cropped), (F, N, rows, Wo)."""
    m, (ho, wo) = til.m, til.out_hw
    f, n = out.shape[:2]
    whole, rest = divmod(ho, m)
    return (((out[:, :, :whole * m].reshape(f, n, whole, m, wo),) if whole else ())
            + ((out[:, :, whole * m:],) if rest else ()))


def _output_grad_transform(views: BackwardViews, douts, outs=None) -> np.ndarray:
    """``dM`` (a*a, F, images*Q): ``A dY A^T`` of every tile of ``douts``
    (:func:`_pixel_blocks` of the chunk's (F, images, Ho, Wo) ``dout``), the transpose of
    :func:`_output_transform` (junk and cropped pixels zero); with ``outs`` (the forward's
    output with ``relu``, as blocks alike), ``dY`` is ``dout`` masked where it is 0. The
    masked copy takes three times a plain one (1.0-1.2 against 0.3 ms, 16 channels at 32x32,
    batch 64, Intel Xeon, cpu family 6, model 167); a kept boolean buffer, a float mask, the
    mask taken in the tiles or over the chunk's images in a contiguous scratch were no faster
    within a backward pass (docs/measurements.md)."""
    if outs is None:
        for tiles, pixels in zip(views.tiles, douts):
            np.copyto(tiles, pixels)
    else:
        for tiles, pixels, outputs in zip(views.tiles, douts, outs):
            relu_backward_from_output(pixels, outputs, into=tiles)
    np.matmul(_matrix("AT", views.half.dtype).T, views.tiles_t, out=views.half)
    run_products(views.products)
    return views.grad
