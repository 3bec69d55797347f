"""What each layer of the engine allocates in a training step: plain numbers, without NumPy,
so that ``check``'s memory estimate (:mod:`cnnspec.check.memory`) reads the same facts the
engine acts on, before anything is allocated.

A layer's :class:`Footprint` for a batch of ``n`` examples, in bytes (``itemsize`` bytes a
value; boolean masks one byte, indices eight): its output; what its cache keeps beyond its
input and output (and whether the cache holds those); the work buffers it keeps from one step
to the next (a convolution's padded input and im2col columns); what its forward and backward
passes hold only while they run; and the input gradients its backward returns. Each rule
follows the kernel it describes (the module named in its docstring) and rounds up where the
kernel's choice depends on the data or the machine (a copy NumPy may skip, a chunk size the
machine calibrates): the estimate may exceed a step, never fall below it.
``tests/test_memory.py`` measures every kind's layer against its footprint.

The convolution's chunk limits come from :mod:`cnnspec.engine.chunking`, which the engine
reads too; when its input gradient is a transposed convolution is declared here and read by
:mod:`cnnspec.engine.conv_tuned`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import replace

from cnnspec.engine.chunking import (
    BLOCK_CANDIDATES,
    BLOCKED_IMAGES,
    CALIBRATION_TIMERS,
    COLUMN_CANDIDATES,
    FALLBACK_CHUNK_COLUMNS,
    KEEP_BYTES,
    THIN_ROWS,
    WINOGRAD_CANDIDATES,
    chunk_bytes,
    chunk_step,
    may_run_on_blocks,
    phase_images,
    row_tap_images,
    row_tap_values,
    runs_by_rows,
    strided_values,
)
from cnnspec.records import record
from cnnspec.shapes import AxisCrop, ceil_mode_pads, crop_axis, reaching_taps, window_output_hw

# For stride 1, ``dx`` is the transposed convolution while its im2col matrix (F*H*W values per
# image and tap) is at most this many times col2im's column matrix (C*Ho*Wo), else col2im
# folded onto batch-last blocks. A constant: the crossing point depends on the layer more than
# on the machine. Input gradient of a 3x3 "same" layer, batch 32, one thread, best of 15
# interleaved runs, ms, transposed / col2im (then one sum over whole padded planes; AMD EPYC,
# Zen 4, OpenBLAS 0.3.31; a second run in brackets):
#   C=32 F=32 32x32: 10.2 / 12.3    C=64 F=64 16x16: 9.1 / 14.2 (9.7 / 10.5)    F = C
#   C=16 F=32 16x16:  1.70 / 1.30   C=32 F=64 16x16: 5.69 / 5.26                F = 2C
# and earlier, single runs: C=16 F=24 16x16: 1.25 / 1.05, C=32 F=48 16x16: 3.86 / 3.94,
# C=6 F=6 16x16: 0.37 / 0.25. So the transposed convolution pays up to about F = C (a ratio of
# 1; it was 2, which sent F = 2C layers such as vgg_small's third to the slower path), except
# with very few channels, where both take a fraction of a millisecond. Measured again against
# the batch-last col2im (input gradient alone, batch 64, one thread, median of 7 interleaved
# rounds, ms, transposed / col2im; Intel Xeon, AVX-512, 2 MiB L2, OpenBLAS 0.3.31):
#   ratio 0.5  C=16 F=8 5x5 14x14: 1.39 / 3.05
#   ratio 1    C=8 F=8 3x3 32x32: 2.33 / 2.98   C=16 F=16 5x5 14x14: 3.05 / 3.47
#              C=32 F=32 5x5 14x14: 9.42 / 11.1   C=6 F=6 3x3 16x16: 0.47 / 0.49
#   ratio 2    C=8 F=16 3x3 32x32: 4.51 / 3.86   C=16 F=32 5x5 14x14: 6.58 / 5.02
#              C=32 F=64 5x5 8x8: 7.45 / 7.96
#   ratio 5.2  LeNet-5's C=6 F=16 5x5 14x14: 2.75 / 0.74 (batch 256: 10.8 / 2.83)
# so the crossing stays near 1. (3x3 layers of 16 channels and more run on Winograd, whose
# input gradient does not ask.)
TRANSPOSED_RATIO = 1

# A convolution runs on the part of it that reads the input (conv_crop) where that part's
# products, outputs times taps, are at most 1 / CROP_SHARE of the whole layer's: there the
# padding is far wider than the input (a 100000x1 kernel "same" over 8 rows pads 150,000
# rows above and below, of which 8 rows of 3 taps meet the input), or the outputs far more
# than those whose windows reach it (pad 50 around 8x8). Cropping costs a copy of the output
# and of the gradients into their whole arrays. Forward and backward with a fused ReLU, batch
# 32, float32, best of 15, ms of CPU, whole / cropped (AMD EPYC, cpu family 25, model 17):
# 3x3 over 16x16 padded 12 above and below (a share of 0.47) C=F=16 36.5 / 33.5, C=4 F=8
# 2.37 / 0.74, C=F=32 116 / 35.1; padded 8 all round (0.36) C=F=16 63.7 / 37.5; 3x3 over
# 8x8 padded 50 all round C=F=8 464 / 10.2.
CROP_SHARE = 2


@record(frozen=True)
class Crop:
    """The part of a convolution that reads its input (:func:`cnnspec.shapes.crop_axis` along
    the rows and the columns; ``rows`` or ``cols`` None where no window reads the input: the
    whole output is then the bias). Every output outside it is the bias alone, every tap
    outside it has a zero weight gradient, and every input pixel outside it a zero input
    gradient."""

    rows: AxisCrop | None
    cols: AxisCrop | None

    @property
    def empty(self) -> bool:
        return self.rows is None or self.cols is None

    @property
    def in_hw(self) -> tuple[int, int]:
        return len(self.rows.inputs), len(self.cols.inputs)

    @property
    def kernel(self) -> tuple[int, int]:
        return len(self.rows.taps), len(self.cols.taps)

    @property
    def out_hw(self) -> tuple[int, int]:
        return len(self.rows.outputs), len(self.cols.outputs)

    @property
    def pads(self) -> tuple[int, int, int, int]:
        return self.rows.before, self.rows.after, self.cols.before, self.cols.after


@functools.lru_cache(maxsize=1024)
def conv_crop(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
              pads: tuple[int, int, int, int], dilation: tuple[int, int]) -> Crop | None:
    """The :class:`Crop` a convolution of this geometry runs on (cnnspec.engine.conv_tuned),
    or None where it runs on the whole padded input (``CROP_SHARE``). Arguments are tuples
    (hashable): a network asks on every step."""
    top, bottom, left, right = pads
    crop = Crop(crop_axis(in_hw[0], kernel[0], stride[0], top, bottom, dilation[0]),
                crop_axis(in_hw[1], kernel[1], stride[1], left, right, dilation[1]))
    if crop.empty:
        return crop
    whole = math.prod(window_output_hw(in_hw, kernel, stride, pads, dilation)) * math.prod(kernel)
    part = math.prod(crop.out_hw) * math.prod(crop.kernel)
    return crop if part * CROP_SHARE <= whole else None


# Winograd convolution (cnnspec.engine.winograd): F(m x m, 3x3) with m = WINOGRAD_TILE, run in
# chunks of images whose transformed tiles take at most a calibrated number of bytes
# (winograd_chunk_images; WINOGRAD_CANDIDATES in cnnspec.engine.chunking: the tiles, their
# transform and the products of a chunk then stay in a core's cache; forward and backward,
# batch 64, median of 7 interleaved rounds, ms, with 0.5 / 0.75 / 1 / 1.5 / 2 MiB on a 2 MiB
# L2: C=F=16 32x32 20.4 / 20.1 / 19.8 / 23.4 / 23.3, C=F=32 32x32 51.2 / 46.1 / 44.5 / 52.3 /
# 53.3, C=F=64 16x16 38.0 / 33.5 / 32.7 / 36.6 / 36.4). Where it pays
# (winograd_pays) was measured on float32 3x3 "same" layers, one thread: im2col's time
# (cnnspec.engine.conv_tuned) over Winograd's, forward / backward, median of 6 interleaved
# rounds (Intel Xeon with AVX-512, 2 MiB L2, OpenBLAS 0.3.31 Haswell kernels):
#   N=64 C=F=32 32x32: 1.38 / 1.44     C=F=64 16x16: 1.43 / 1.40    C=32 F=64 16x16: 1.29 / 1.24
#   N=64 C=F=16 32x32: 1.09 / 1.31     C=F=32 16x16: 1.18 / 1.18    C=F=16 16x16: 1.09 / 1.17
#   N=64 C=F=8 32x32:  1.13 / 1.24     C=F=8 16x16:  0.84 / 0.88    C=8 F=16 32x32: 0.94 / 1.27
#   N=64 C=F=4 32x32:  0.61 / 0.69     C=3 F=32 32x32: 0.56 / 0.85
#   N=64 C=F=32 8x8:   1.02 / 0.96     C=F=16 8x8:   0.97 / 1.01    C=F=64 8x8: 1.15 / 1.01
#   N=16 C=F=16 16x16: 1.56 / 1.59     N=4 C=F=16 16x16: 0.51 / 0.57   N=1 C=F=64 16x16: 0.26 / 0.28
# The multiplies saved grow with C*F a tile, the transforms' copies with C + F: at least
# WINOGRAD_MIN_CHANNELS in and out (8 wins on some layers and loses on others). Each image row
# of tiles carries one junk tile (the module docstring says why), 1/tw of the work: at least
# WINOGRAD_MIN_TILE_COLUMNS tiles a row (8x8 outputs, 2 tiles, break even). A call costs a
# few dozen NumPy calls whatever its size: at least WINOGRAD_MIN_OUTPUTS output pixels a
# channel (N*Ho*Wo), below which a small batch's im2col (the small plan) is faster. These are
# ratios of arithmetic to memory traffic and to per-call work, which hold across machines
# better than the times do, but not exactly: on another Intel Xeon (AVX-512 and AMX, 2 MiB L2,
# matmul peak 150 GFLOP/s against 180-200), with the junk tiles only where a row needs them,
# forward and backward together, best of 3: C=F=8 1.20 (32x32), 1.36 (24x24), 1.16 (16x16);
# C=8 F=16 16x16 1.21; C=F=4 32x32 0.96; C=F=16 16x16 at N=4 0.76, at N=8 1.25. Eight
# channels pay there. On an AMD EPYC (Zen 4, AVX-512, 1 MiB L2, OpenBLAS 0.3.31 SkylakeX
# kernels), batch 64, forward and backward together, the range of 3 interleaved rounds: C=F=8
# 32x32 1.10, 24x24 1.19-1.48, 16x16 0.85-0.86; C=8 F=16 32x32 1.45-1.48; C=F=16 32x32
# 1.31-1.33, 16x16 1.46-1.48; C=F=32 16x16 1.76-1.80. Eight channels pay on all three machines
# from 24 pixels a row (6 tiles: WINOGRAD_FEW_CHANNELS_TILE_COLUMNS), and lose or barely win
# at 16 on two of them: 16 channels on any map, 8 from 24 pixels a row.
WINOGRAD_TILE = 4
# The input tile a = m + r - 1 for an r x r kernel, r = 3 (Lavin & Gray 2016, section 4): the
# transforms' points are a x a.
WINOGRAD_INPUT_TILE = WINOGRAD_TILE + 2
WINOGRAD_MIN_CHANNELS = 16
WINOGRAD_FEW_CHANNELS = 8
WINOGRAD_FEW_CHANNELS_TILE_COLUMNS = 6
WINOGRAD_MIN_TILE_COLUMNS = 4
WINOGRAD_MIN_OUTPUTS = 4096
# OpenBLAS (0.3.31, x86-64) runs a GEMM of at most 1e6 multiply-adds (M*N*K) by its kernels
# for small matrices, without packing the operands; with its SkylakeX kernels, thin GEMMs
# take three times as long past it: 6x6 times 6xN, one thread, Intel Xeon with AVX-512, in
# cache, 43 us at N = 27000, 129 us at 28000 (with its Haswell kernels, on an AMD EPYC with
# AVX2, not: cnnspec.engine.chunking.WINOGRAD_CANDIDATES; with its SkylakeX kernels on an AMD
# EPYC Zen 4, twice as long). Wide products run in slices under it:
# cnnspec.engine.products.
SMALL_GEMM_MADDS = 10**6


def winograd_pays(geo: Geometry, n: int, itemsize: int) -> bool:
    """Whether an ungrouped convolution over a batch of ``n`` runs by Winograd's
    F(4x4, 3x3) (:mod:`cnnspec.engine.winograd`) rather than im2col: a layer of its shape
    (:func:`winograd_shaped`), float32 (float64 stays on the exact path), and enough outputs."""
    return (itemsize == 4 and n * geo.ho * geo.wo >= WINOGRAD_MIN_OUTPUTS
            and winograd_shaped(geo))


def winograd_shaped(geo: Geometry) -> bool:
    """Whether a convolution's shape lets it run by Winograd's F(4x4, 3x3) at some batch:
    3x3 kernels, stride and dilation 1, and the channels and tile columns above."""
    if not (geo.kernel == (3, 3) and geo.stride == (1, 1) and geo.dilation == (1, 1)):
        return False
    channels, tile_columns = min(geo.c, geo.f), winograd_tiles(geo.ho, geo.wo, geo.w)[1]
    return tile_columns >= WINOGRAD_MIN_TILE_COLUMNS and (
        channels >= WINOGRAD_MIN_CHANNELS
        or channels >= WINOGRAD_FEW_CHANNELS
        and tile_columns >= WINOGRAD_FEW_CHANNELS_TILE_COLUMNS)


def winograd_tiles(ho: int, wo: int, w: int) -> tuple[int, int, int]:
    """(tile rows, tile columns, tiles an image) of an output ``ho x wo`` from input rows of
    ``w`` pixels. The tiles an image count a junk tile per tile row where an input row is
    wider than the tile columns' ``tw*m`` pixels (cnnspec.engine.winograd's layout: each
    input row then takes ``(tw + 1)*m`` values of a chunk's buffers, else ``tw*m``)."""
    th, tw = -(-ho // WINOGRAD_TILE), -(-wo // WINOGRAD_TILE)
    return th, tw, th * (tw + (w > tw * WINOGRAD_TILE))


def phase_input_grad(kernel, stride, dilation) -> bool:
    """Whether a convolution's ``dx`` runs phase by phase (:mod:`cnnspec.engine.phases`): a
    stride above 1, no dilation, a kernel at least as large as the stride."""
    return (tuple(stride) != (1, 1) and tuple(dilation) == (1, 1)
            and kernel[0] >= stride[0] and kernel[1] >= stride[1])


def phase_conv(kernel, stride, dilation, rows: int, weight_grad: bool) -> bool:
    """Whether a chunked convolution runs its forward pass and both gradients by phases
    (:mod:`cnnspec.engine.phases`): where its ``dx`` does (:func:`phase_input_grad`), but
    for a thin layer (``rows`` = C*kh*kw below ``THIN_ROWS``) with a weight gradient, which
    stays on im2col, whose whole matrix it may keep (:func:`keeps_columns`)."""
    return phase_input_grad(kernel, stride, dilation) and not (weight_grad and rows < THIN_ROWS)


def phase_planes(kernel, stride, padded_hw) -> tuple[int, tuple[int, int], int, int]:
    """(phases, their planes' ``Hq x Wq``, columns an image in wide coordinates, the largest
    tap's shift) of a strided convolution by phases (:mod:`cnnspec.engine.phases`): ``sh*sw``
    planes of ``ceil(Hp/sh) x ceil(Wp/sw)``, ``Hq*Wq`` columns an image, shifts up to
    ``(ceil(kh/sh) - 1)*Wq + ceil(kw/sw) - 1``."""
    (kh, kw), (sh, sw), (hp, wp) = kernel, stride, padded_hw
    hq, wq = -(-hp // sh), -(-wp // sw)
    return sh * sw, (hq, wq), hq * wq, (-(-kh // sh) - 1) * wq + -(-kw // sw) - 1


def winograd_row_values(tiles: int, left: int) -> int:
    """Values a chunk's buffers hold for each row of a tile (cnnspec.engine.winograd): ``m``
    for each of the chunk's ``tiles`` (channels x images x tiles an image), and a tail that
    the last tile row's last pixels (``left`` pads before each row) and its last tile's
    last columns reach into."""
    return tiles * WINOGRAD_TILE + max(left, WINOGRAD_INPUT_TILE - WINOGRAD_TILE)


def winograd_kept_images(c: int, q: int, n: int, itemsize: int, share: int) -> int:
    """Images of a batch of ``n`` whose transformed input tiles ``V`` (points x ``c`` channels
    x ``q`` tiles an image) a Winograd layer's forward pass keeps for its weight gradient
    (:mod:`cnnspec.engine.winograd`): ``share`` values of ``V`` an image, the layer's part
    of its network's budget (:func:`winograd_keepers`; 0 where it has none), as a share of
    the batch's images, where they take at most ``KEEP_BYTES``; else 0 (the backward pass
    computes the others' ``V`` again, chunk by chunk, from the input). Kept, the backward
    pass skips the input transform, a third of its time: 16 -> 16 channels at 32x32, batch
    64, one thread, CPU ms, kept / computed again (AMD EPYC, Zen 4, OpenBLAS 0.3.31 SkylakeX
    kernels, two runs each), forward 6.3-6.7 / 6.2-6.9, backward 10.4-11.3 / 13.0-15.0; 32 ->
    32 at 16x16, 4.4-4.7 / 4.4-4.7 and 7.0-7.3 / 9.7-10.0. The forward pass writes ``V`` to
    memory that stays from step to step instead of a chunk's scratch, at no cost measured
    there; on an Intel Xeon (cpu family 6, model 167, AVX-512, 2 MiB L2), batch 64, one
    thread, medians of 11 calls, ms, forward 5.7 / 6.1 and backward 11.7 / 8.1 on 16 -> 16 at
    32x32, 12.6 / 13.7 and 28.0 / 20.4 on 32 -> 32 at 32x32."""
    per_image = _tile_values(c, q)
    images = n * min(share, per_image) // per_image
    return images if images * per_image * itemsize <= KEEP_BYTES else 0


def winograd_kept_bytes(c: int, q: int, n: int, itemsize: int, share: int) -> int:
    """Bytes of the transformed input tiles that :func:`winograd_kept_images` keeps."""
    return winograd_kept_images(c, q, n, itemsize, share) * _tile_values(c, q) * itemsize


def _tile_values(c: int, q: int) -> int:
    """The values of one image's transformed input tiles ``V`` of a Winograd layer of ``c``
    channels in and ``q`` tiles an image."""
    return WINOGRAD_INPUT_TILE ** 2 * c * q


def winograd_keepers(convs: dict[str, tuple],
                     frees: frozenset[str] = frozenset()) -> dict[str, int]:
    """The convolutions that keep their transformed input tiles ``V`` for the weight gradient,
    each with its share, values of ``V`` an image (:func:`winograd_kept_images`), of a
    network whose ungrouped convolutions are ``convs`` (name -> (IR, one example's input
    shape, output shape, resolved pads)), in the network's order (which breaks ties);
    ``frees``: those of them whose input no other cache holds.

    ``V`` is 2.25 times a layer's input and stays from step to step, so keeping every
    layer's took a training step's peak past PyTorch's (batch 64, one thread,
    ``tools/bench.py --parts memory``, AMD EPYC Zen 4: VGG-small 103.8 MiB against 90.3-111.3,
    the ResNet-style net 166.4 against 142.5-151.6; 75.0 and 114.0 without). The tiles of a
    step share one budget: as many bytes as the inputs of its Winograd-shaped layers
    (:func:`winograd_shaped`), which their caches hold anyway, so that those layers' memory
    at most doubles (79.1 and 120.2 MiB). It is spent on the layers of the smallest ``V`` an
    image first, which save the most time per byte kept: one thread's CPU time of forward and
    backward, medians of 11 alternating blocks, 1.6-2.0 ms saved on 4.7 MB of ``V`` on the
    ResNet-style net's 32 -> 32 layers at 16x16, 2.4-3.0 ms on 9.4 MB on its 16 -> 16 layers
    at 32x32, 4.0-4.7 ms on 18.9 MB on VGG-small's 32 -> 32 layer at 32x32 (0.7-5.3 ms of
    its whole step). The time a layer saves grows with the images whose ``V`` it keeps (each
    chunk of images skips its own input transform), so the budget is spent to the last
    value an image: the first layer it does not hold whole keeps the rest's share of its
    images (the ResNet-style net's first 16 -> 16 layer two thirds of them), where it had
    kept none. An image's sizes decide, so a network keeps the same layers' tiles, and the
    same share of the batch, at every batch size (up to ``KEEP_BYTES`` a layer). A keeper of
    every image lets its input go from its cache (the weight gradient reads ``V``, the input
    gradient ``U``), which frees it where no other cache holds it (the ResNet-style net's
    step 132.8 -> 116.8 MiB against PyTorch's 140.5-141.4, same bench, AMD EPYC Zen 4): such
    a layer, whole, costs the budget its ``V`` less its input, and the layers' memory still
    at most doubles. (No layer of the ResNet-style net frees its input, which a ReLU's cache
    holds; VGG-small's conv3 frees the max pooling's output, and conv2 keeps 8 images of 64
    instead of 1.)"""
    # a convolution run on its crop (conv_crop) never runs Winograd on its whole input
    shaped = {name: geo for name, (ir, in_shape, out_shape, pads) in convs.items()
              if winograd_shaped(geo := _geometry(ir, in_shape, out_shape, pads))
              and conv_crop((geo.h, geo.w), geo.kernel, geo.stride, geo.pads,
                            geo.dilation) is None}
    left = sum(geo.c * geo.h * geo.w for geo in shaped.values())
    shares = {}
    for name in sorted(shaped, key=lambda name: _image_tile_values(shaped[name])):
        geo = shaped[name]
        whole = _image_tile_values(geo) - (geo.c * geo.h * geo.w if name in frees else 0)
        if whole > left:  # the rest, as a share of its images, frees no input
            if left:
                shares[name] = left
            break
        shares[name] = _image_tile_values(geo)
        left -= whole
    return shares


def _image_tile_values(geo: Geometry) -> int:
    """The values of one image's transformed input tiles ``V`` of a Winograd layer."""
    return _tile_values(geo.c, winograd_tiles(geo.ho, geo.wo, geo.w)[2])


def winograd_chunk_images(c: int, f: int, q: int, n: int, itemsize: int,
                          limit_bytes: int) -> int:
    """Images per chunk of a Winograd layer of ``c`` -> ``f`` channels and ``q`` tiles an
    image: as many as keep the chunk's transformed tiles (points x channels x tiles, of the
    larger side) within ``limit_bytes`` (the machine's, calibrated:
    :data:`cnnspec.engine.chunking.WINOGRAD_CANDIDATES`); at least one, at most ``n``
    (unless ``n`` is 0).

    The rule before was two limits, a core's L2 cache (or half of it) and ``SMALL_GEMM_MADDS``
    for the transforms' widest GEMM, which for float32 count the same number. Where L2 is 2
    MiB (Intel Xeon) the GEMM limit decided every layer, at the sizes measured best there (see
    :class:`cnnspec.engine.winograd.Buffers`); half of L2 made the chunks of a 1 MiB L2 (AMD
    EPYC, Zen 4) half as large, and their NumPy calls and small GEMMs cost more than the cache
    saved. Forward and backward, batch 64, one thread, AMD EPYC, medians of 5 rounds, ms, half
    / whole L2 (images a chunk): 16 -> 16 at 32x32 14.9 / 14.2 (3 / 6), 32 -> 32 at 32x32
    38.2 / 33.6 (1 / 2), 64 -> 64 at 16x16 26.6 / 24.4 (3 / 6), 32 -> 64 at 16x16 16.1 / 14.6,
    8 -> 16 at 32x32 9.5 / 8.2, 16 -> 32 at 16x16 5.6 / 5.4 (7 / 13); 32 -> 32 at 16x16 8.8 /
    9.3 and 8 -> 8 at 32x32 5.9 / 6.2 (7 / 13) the two that lost. Whole training steps, 9
    alternating rounds: the ResNet-style net 148.8 / 143.0, VGG-small 100.3 / 98.7."""
    per_image = WINOGRAD_INPUT_TILE ** 2 * max(c, f) * q
    return max(1, min(n, limit_bytes // (per_image * itemsize)))


def keeps_logits(output_kind: str, loss: str) -> bool:
    """Whether a step keeps the output layer's input alive until the loss: a softmax output
    under cross-entropy runs as one fused step from the logits (:mod:`cnnspec.engine.model`),
    which reads them."""
    return output_kind == "softmax" and loss == "cross_entropy"


# A ufunc that casts (a boolean mask times a float array) does it through buffers of NumPy's
# buffer size (numpy.getbufsize(), 8192 values) per operand, held while the call runs.
UFUNC_BUFFER_VALUES = 8192


def ufunc_buffer_bytes(values: int) -> int:
    """The most a ufunc's casting buffers hold on arrays of ``values`` values: two operands'
    buffers of float64."""
    return 2 * 8 * min(values, UFUNC_BUFFER_VALUES)
# A planned convolution (conv_tuned.SmallPlan) keeps a dozen array views and its windows
# beside its buffers: 4.0 KiB measured on a 1x2x2 input.
PLAN_OBJECT_BYTES = 5 << 10
MASK_BYTES = 1  # a boolean mask's value
INDEX_BYTES = 8  # an int64 index


@record(frozen=True)
class Footprint:
    """Bytes one layer allocates for a batch (see the module docstring). ``frees_cache``: the
    model frees the cache once the layer's backward has run (else it stays to the next
    forward, with what it holds)."""

    out: int = 0  # the output array
    cache: int = 0  # new arrays the cache keeps
    keeps_input: bool = False  # the cache holds the input array(s)
    keeps_output: bool = False  # the cache holds the output array
    work: int = 0  # buffers kept on the layer from its forward pass on
    forward_temp: int = 0  # held only while the forward pass runs
    dx: int = 0  # the new input-gradient arrays (0: views of ``dout``)
    back_work: int = 0  # buffers kept on the layer from its backward pass on
    backward_temp: int = 0  # held only while the backward pass runs
    frees_cache: bool = True
    objects: int = 0  # Python objects kept with the buffers (their views and records)
    # Buffers kept from the backward pass on that every layer with the same ``shared_key``
    # shares (cnnspec.engine.windows.shared_work: a conv's input-gradient scratch, one per
    # geometry and batch): counted once per key.
    shared: int = 0
    shared_key: object = None


@record(frozen=True)
class Geometry:
    """One example's sizes around a window op: ``c, h, w`` in, ``f, ho, wo`` out, ``hp, wp``
    padded, the kernel and stride, the padding (top, bottom, left, right) and dilation."""

    c: int
    h: int
    w: int
    f: int
    ho: int
    wo: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    dilation: tuple[int, int]

    @property
    def hp(self) -> int:
        return self.h + self.pads[0] + self.pads[1]

    @property
    def wp(self) -> int:
        return self.w + self.pads[2] + self.pads[3]

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]


WINDOW_KINDS = ("conv", "conv_transpose", "maxpool", "avgpool")  # by their geometry, below
# The IR fields a footprint reads (besides the layer's kind, shapes and resolved padding).
FOOTPRINT_FIELDS = ("kernel", "size", "stride", "dilation", "groups", "ceil_mode")


def footprint(kind: str, ir: dict, in_shapes: list[tuple[int, ...]], out_shape: tuple[int, ...],
              pads, n: int, itemsize: int = 4, tile_share: int = 0,
              weight_grad: bool = True) -> Footprint:
    """The footprint of a layer of ``kind`` (its IR ``ir``, one example's input and output
    shapes, resolved ``pads``) for a batch of ``n`` examples of ``itemsize``-byte values;
    ``tile_share``: a conv's share of its network's :func:`winograd_keepers`; ``weight_grad``
    False: a conv (plain, grouped or transposed) whose weight is held (its backward pass
    computes no weight gradient, and nothing is kept or allocated for one)."""
    x = n * math.prod(in_shapes[0]) * itemsize
    out = n * math.prod(out_shape) * itemsize
    if kind in WINDOW_KINDS:
        geo = _geometry(ir, in_shapes[0], out_shape, pads)
        if kind == "conv":
            if ir["groups"] > 1:
                return _grouped_conv(geo, n, itemsize, weight_grad)
            return _conv(geo, n, itemsize, tile_share, weight_grad)
        if kind == "conv_transpose":
            return _conv_transpose(geo, n, itemsize, weight_grad)
        return _pool(geo, ir, kind == "maxpool", n, itemsize)
    rule = RULES.get(kind) or _ACTIVATIONS.get(kind, _ACTIVATIONS["default"])
    return rule(x, out, n, in_shapes, itemsize)


def _geometry(ir: dict, in_shape, out_shape, pads) -> Geometry:
    c, h, w = in_shape
    f, ho, wo = out_shape
    return Geometry(c, h, w, f, ho, wo, tuple(ir.get("kernel") or ir["size"]),
                    tuple(ir["stride"]), tuple(pads or (0, 0, 0, 0)),
                    tuple(ir.get("dilation") or (1, 1)))


# -- convolution (cnnspec.engine.conv_tuned) --------------------------------------------------

def _column_limits() -> tuple[int, int]:
    """The least and the most columns calibration may allow a chunk."""
    limits = (*COLUMN_CANDIDATES, FALLBACK_CHUNK_COLUMNS)
    return min(limits), max(limits)


def chunk_image_range(rows: int, size: int, n: int, itemsize: int, least_values: int = 0
                      ) -> tuple[int, int]:
    """The fewest and the most images a chunk of im2col columns (``rows`` rows, ``size``
    columns an image; ``least_values`` as :func:`cnnspec.engine.chunking.chunk_step`'s) holds,
    whatever column limit calibration picks."""
    least, most = _column_limits()
    return (chunk_step(rows, size, n, itemsize, chunk_bytes(), least, least_values),
            chunk_step(rows, size, n, itemsize, chunk_bytes(), most, least_values))


def chunk_images(rows: int, size: int, n: int, itemsize: int, least_values: int = 0) -> int:
    """The most images a chunk may hold, whatever the calibrated column limit."""
    return chunk_image_range(rows, size, n, itemsize, least_values)[1]


def _one_chunk(rows: int, size: int, n: int, itemsize: int) -> tuple[bool, bool]:
    """Whether the whole batch may be one chunk (the tuned convolution's small plan), and
    whether it surely is, whatever the calibrated column limit."""
    fewest, most = chunk_image_range(rows, size, n, itemsize)
    return most >= n, fewest >= n


def transposed_pads(kernel, stride, pads, dilation) -> tuple[int, int, int, int] | None:
    """The padding (top, bottom, left, right) of ``dout`` for the convolution that maps it to
    a conv's ``dx`` (the transposed convolution, Dumoulin & Visin 2016, "A guide to
    convolution arithmetic", section 4): ``d*(k-1) - p`` on each side, so every input pixel
    sees each kernel tap that touched it. None when it does not exist: a stride above 1, or
    a padding wider than the dilated kernel's reach."""
    if tuple(stride) != (1, 1):
        return None
    (kh, kw), (dh, dw) = kernel, dilation
    top, bottom, left, right = pads
    reach_h, reach_w = dh * (kh - 1), dw * (kw - 1)
    back = (reach_h - top, reach_h - bottom, reach_w - left, reach_w - right)
    return None if min(back) < 0 else back


def transposed_pays(filters: int, channels: int, in_hw, out_hw) -> bool:
    """Whether a conv of ``filters`` filters on ``channels`` channels computes ``dx`` by the
    transposed convolution (where it exists) rather than col2im: while the transposed
    convolution's im2col matrix (F*H*W values per image and tap) is at most
    ``TRANSPOSED_RATIO`` times col2im's column matrix (C*Ho*Wo)."""
    return filters * in_hw[0] * in_hw[1] <= TRANSPOSED_RATIO * channels * out_hw[0] * out_hw[1]


def _transposed_back(geo: Geometry) -> Geometry | None:
    """The geometry of the transposed convolution that computes a conv's ``dx``, or None
    where ``dx`` is col2im's (as cnnspec.engine.conv_tuned chooses)."""
    back_pads = transposed_pads(geo.kernel, geo.stride, geo.pads, geo.dilation)
    if back_pads is None or not transposed_pays(geo.f, geo.c, (geo.h, geo.w),
                                                (geo.ho, geo.wo)):
        return None
    return Geometry(geo.f, geo.ho, geo.wo, geo.c, geo.h, geo.w, geo.kernel, (1, 1), back_pads,
                    geo.dilation)


def keeps_columns(rows: int, values: int, itemsize: int, weight_grad: bool) -> bool:
    """Whether a convolution's forward pass keeps its whole batch's im2col matrix (``rows`` =
    C*kh*kw rows, ``values`` values of ``itemsize`` bytes) for the weight gradient
    (:func:`cnnspec.engine.conv_tuned.correlate`), else builds it again chunk by chunk: kept
    where the layer is thin (``THIN_ROWS``), the matrix at most ``KEEP_BYTES`` and the weight
    trains (``weight_grad``). Nothing else reads the kept matrix (the input gradient is made
    from the weight and ``dout``), so a held weight's layer keeps none: its backward pass
    computes no weight gradient."""
    return weight_grad and rows < THIN_ROWS and values * itemsize <= KEEP_BYTES


def _wide(geo: Geometry) -> int:
    """Columns per image of a product in wide coordinates (stride 1: rows of ``Wp``)."""
    return (geo.ho - 1) * geo.wp + geo.wo if geo.stride == (1, 1) else geo.ho * geo.wo


def _conv(geo: Geometry, n: int, itemsize: int, tile_share: int,
          with_dw: bool = True) -> Footprint:
    """:func:`cnnspec.engine.conv_tuned.conv2d_forward`/``backward``: on the part that reads
    the input where that pays (:func:`conv_crop`), else on the whole padded input. Without
    ``with_dw`` (a held weight), nothing of the weight gradient's."""
    crop = conv_crop((geo.h, geo.w), geo.kernel, geo.stride, geo.pads, geo.dilation)
    if crop is None:
        return _conv_whole(geo, n, itemsize, tile_share, with_dw)
    return _conv_cropped(geo, crop, n, itemsize, with_dw)


def _conv_cropped(geo: Geometry, crop: Crop, n: int, itemsize: int,
                  with_dw: bool) -> Footprint:
    """A convolution run on its :class:`Crop` (cnnspec.engine.conv_tuned): the whole output
    (filled with the bias) and input gradient (zero) as new arrays; the cropped convolution's
    footprint (:func:`_conv_whole`) within them, its output a temporary of the forward pass,
    its input and weight gradients of the backward pass, which first masks the whole output
    gradient by a fused ReLU's output into a new array and sums it for the bias; the cropped
    kernels a copy the cache keeps."""
    out = geo.f * n * geo.ho * geo.wo * itemsize
    dx = geo.c * n * geo.h * geo.w * itemsize
    masked = out + _bias_grad_bytes(geo, n, itemsize)
    if crop.empty:
        return Footprint(out=out, dx=dx, backward_temp=masked, frees_cache=False)
    inner_geo = Geometry(geo.c, *crop.in_hw, geo.f, *crop.out_hw, crop.kernel, geo.stride,
                         crop.pads, geo.dilation)
    inner = _conv_whole(inner_geo, n, itemsize, tile_share=0, with_dw=with_dw)
    kernels = geo.f * geo.c * math.prod(crop.kernel) * itemsize
    return replace(inner, out=out, keeps_output=False,
                   cache=inner.cache + kernels + (inner.out if inner.keeps_output else 0),
                   forward_temp=inner.forward_temp + inner.out, dx=dx,
                   backward_temp=masked + inner.backward_temp + inner.dx + kernels)


def _conv_whole(geo: Geometry, n: int, itemsize: int, tile_share: int,
                with_dw: bool = True) -> Footprint:
    """A convolution over its whole padded input: Winograd's where it pays
    (:func:`winograd_pays`; for a batch of ``n`` and one fewer, the parts of a split batch,
    the larger footprint where the two differ), else :func:`_conv_im2col_paths`."""
    runs = {winograd_pays(geo, k, itemsize) for k in (n, max(n - 1, 0))}
    if runs == {False}:
        return _conv_im2col_paths(geo, n, itemsize, with_dw)
    fast = _conv_winograd(geo, n, itemsize, tile_share, with_dw)
    return fast if runs == {True} else _either(fast, _conv_im2col_paths(geo, n, itemsize,
                                                                         with_dw))


def _conv_winograd(geo: Geometry, n: int, itemsize: int, tile_share: int,
                   with_dw: bool) -> Footprint:
    """:mod:`cnnspec.engine.winograd`: the transformed kernels (a*a x F x C) kept by the
    cache; the transformed input tiles of the images whose tiles are kept for the weight
    gradient (:func:`winograd_kept_images`, for a ``tile_share``), on the layer from step to
    step, and the input where some are not, held by the cache to compute them again; a chunk's
    buffers (:func:`_winograd_chunk_bytes`), shared by the layers of one geometry; ``dx`` a
    new array. Temporaries: the kernels' transform and, ``with_dw``, their gradient (a few
    of their size)."""
    points = WINOGRAD_INPUT_TILE ** 2
    kernels = points * geo.f * geo.c * itemsize
    q = winograd_tiles(geo.ho, geo.wo, geo.w)[2]
    return Footprint(out=geo.f * n * geo.ho * geo.wo * itemsize,
                     keeps_input=winograd_kept_images(geo.c, q, n, itemsize, tile_share) < n,
                     cache=kernels, work=winograd_kept_bytes(geo.c, q, n, itemsize, tile_share),
                     forward_temp=4 * kernels, dx=geo.c * n * geo.h * geo.w * itemsize,
                     shared=_winograd_chunk_bytes(geo, n, itemsize, tile_share),
                     shared_key=("winograd", geo, n), backward_temp=4 * kernels * with_dw,
                     frees_cache=False)


def winograd_chunks(n: int, step: int, kept: int) -> list[tuple[int, int]]:
    """``(start, images)`` of each chunk of at most ``step`` of ``n`` images of a Winograd
    layer, both passes' (:mod:`cnnspec.engine.winograd`: the backward pass reads a kept
    chunk's ``V`` where the forward pass wrote it): the ``kept`` first images, whose ``V`` is
    kept, in chunks of their own, so every one of them is read back, then the others."""
    return [(start, min(step, last - start)) for first, last in ((0, kept), (kept, n))
            for start in range(first, last, step)]


def _winograd_chunk_bytes(geo: Geometry, n: int, itemsize: int, tile_share: int) -> int:
    """The buffers the chunks of a batch of ``n`` need (cnnspec.engine.winograd), the most
    any limit calibration may choose makes (``WINOGRAD_CANDIDATES``) for ``n`` or, the other
    part of a split batch, ``n - 1`` images (:func:`_winograd_scratch_bytes`)."""
    return max(_winograd_scratch_bytes(geo, k, itemsize, tile_share, (limit,))
               for k in {n, max(n - 1, 1)} for limit in WINOGRAD_CANDIDATES)


def _winograd_scratch_bytes(geo: Geometry, n: int, itemsize: int, tile_share: int,
                            limits: tuple[int, ...]) -> int:
    """The chunk buffers of a batch of ``n`` run in chunks of at most each of ``limits``
    bytes of tiles in turn (one limit in a training process; every candidate in the timer
    that calibrates it): the tile rows and ``dout``'s tiles, one buffer for each size of
    chunk (:func:`winograd_chunks`: a full chunk's, the kept images' last and the others'
    last, and those of the layers of its geometry, with which it shares them), and, for the
    largest chunk, the three buffers the stages of a pass take turns in (winograd.FORWARD
    and BACKWARD): the input's rows, the first half of the output
    transform, or V where it is not kept; the tiles, the products, the output tiles, dV or
    the adjoint's tile rows; dM or the adjoint's tile columns. Where every image's V is kept,
    neither pass transforms the input into a buffer of its own."""
    m, a = WINOGRAD_TILE, WINOGRAD_INPUT_TILE
    q = winograd_tiles(geo.ho, geo.wo, geo.w)[2]
    kept = winograd_kept_images(geo.c, q, n, itemsize, tile_share)
    # the layers of one geometry share these buffers: the sizes of their chunks too, which
    # keep every image's V or none (one layer of a network at most keeps a part of them,
    # winograd_keepers), so this layer's figure counts theirs beside its own
    sizes = {images for limit in limits for share in {kept, 0} for _, images in
             winograd_chunks(n, winograd_chunk_images(geo.c, geo.f, q, n, itemsize, limit),
                             share)}
    tile_rows = [a * winograd_row_values(geo.c * images * q, geo.pads[2]) for images in sizes]
    outputs = [m * m * geo.f * images * q for images in sizes]
    largest = max(sizes)
    tiles = a * a * geo.c * largest * q
    products = a * a * geo.f * largest * q
    half = m * a * geo.f * largest * q
    transformed = tiles if kept < n else 0
    ping = max(max(tile_rows), transformed, half)
    pong = max(tiles, products, m * m * geo.f * largest * q, max(tile_rows))
    held = max(products, tiles)
    return (sum(tile_rows) + sum(outputs) + ping + pong + held) * itemsize


def _conv_im2col_paths(geo: Geometry, n: int, itemsize: int, with_dw: bool) -> Footprint:
    """The whole batch as one planned chunk where its columns fit a chunk
    (:class:`SmallPlan`), else chunked columns; where the machine's column limit decides
    between them, the larger of the two."""
    possible, certain = _one_chunk(geo.c * geo.taps, geo.ho * geo.wo, n, itemsize)
    if certain:
        return _conv_small(geo, n, itemsize, with_dw)
    large = _conv_chunked(geo, n, itemsize, with_dw=with_dw)
    if not possible:
        return large
    return _either(_conv_small(geo, n, itemsize, with_dw), large)


def _either(one: Footprint, other: Footprint) -> Footprint:
    """A footprint no smaller than either: the larger of each transient, and of the kept
    buffers and their objects in all (counted as one sum, from forward and backward alike)."""
    merged = {name: max(getattr(one, name), getattr(other, name))
              for name in Footprint.__dataclass_fields__ if name != "shared_key"}
    kept = max(one.work + one.back_work + one.objects, other.work + other.back_work
               + other.objects)
    return Footprint(**{**merged, "work": kept, "back_work": 0, "objects": 0,
                        "shared_key": one.shared_key or other.shared_key})


def _conv_chunked(geo: Geometry, n: int, itemsize: int, with_dx: bool = True,
                  with_dw: bool = True) -> Footprint:
    """The chunked paths: on batch-last blocks where a chunk holds several images
    (:func:`_blocks`), else on im2col; where the machine's column limit decides
    between them, the larger of the two. Without ``with_dx``, nothing of the input gradient's
    (the forward pass's alone, as the transposed convolution of an input gradient runs it,
    reads ``work``); without ``with_dw``, nothing of the weight gradient's."""
    possible, certain = _blocks(geo, n, itemsize)
    if certain:
        return _conv_blocks(geo, n, itemsize, with_dx, with_dw)
    im2col = _conv_im2col(geo, n, itemsize, with_dx, with_dw)
    if not possible:
        return im2col
    return _either(im2col, _conv_blocks(geo, n, itemsize, with_dx, with_dw))


def _blocks(geo: Geometry, n: int, itemsize: int) -> tuple[bool, bool]:
    """Whether the tuned convolution may run on batch-last blocks (``BLOCKED_IMAGES`` in
    :mod:`cnnspec.engine.chunking`: not a thin layer, width stride 1, a chunk of enough
    images), and whether it surely does, whatever the calibrated column limit."""
    rows, size = geo.c * geo.taps, geo.ho * geo.wo
    if not may_run_on_blocks(rows, geo.stride[1]):
        return False, False
    fewest, most = chunk_image_range(rows, size, n, itemsize)
    return most >= BLOCKED_IMAGES, fewest >= BLOCKED_IMAGES


def _conv_blocks(geo: Geometry, n: int, itemsize: int, with_dx: bool,
                 with_dw: bool) -> Footprint:
    """Batch-last blocks (:func:`cnnspec.engine.windows.batch_blocks`): the input copied into
    blocks of ``step`` images (up to a block more than the batch), one block's columns, its
    product and its laid-out output gradient, all kept; nothing of the input cached. At
    stride 1 by kernel rows (:func:`_conv_row_taps`); where the machine's block limit
    decides between the two, the larger."""
    fewest, most = _row_tap_blocks(geo, n, itemsize)
    if not runs_by_rows(geo.stride, most, n):
        return _conv_block_columns(geo, n, itemsize, with_dx, with_dw)
    by_rows = _conv_row_taps(geo, n, itemsize, with_dx, with_dw, most)
    if runs_by_rows(geo.stride, fewest, n):
        return by_rows
    return _either(by_rows, _conv_block_columns(geo, n, itemsize, with_dx, with_dw))


def _conv_block_columns(geo: Geometry, n: int, itemsize: int, with_dx: bool,
                        with_dw: bool) -> Footprint:
    """Batch-last blocks made into im2col columns block by block (:func:`_conv_blocks`); the
    weight gradient's laid-out output gradient kept and its product a temporary, ``with_dw``."""
    rows, size = geo.c * geo.taps, geo.ho * geo.wo
    step = chunk_images(rows, size, n, itemsize)
    blocks = -(-n // step) * step * geo.c * geo.hp * geo.wp * itemsize
    out = geo.f * n * size * itemsize
    work = blocks + (rows + geo.f) * size * step * itemsize
    dx, dx_work, dx_temp = _conv_input_grad(geo, n, itemsize) if with_dx else (0, 0, 0)
    return Footprint(out=out, work=work, dx=dx,
                     back_work=geo.f * size * step * itemsize * with_dw,
                     shared=dx_work, shared_key=(geo, n),
                     backward_temp=out + max(2 * rows * geo.f * itemsize * with_dw, dx_temp),
                     frees_cache=False)


def _row_tap_blocks(geo: Geometry, n: int, itemsize: int) -> tuple[int, int]:
    """The fewest and the most images a block of a conv multiplied by kernel rows holds
    (:func:`cnnspec.engine.conv_tuned._correlate_on_blocks`), whatever block limit
    calibration picks (:data:`cnnspec.engine.chunking.BLOCK_CANDIDATES`)."""
    forward, _ = row_tap_values(geo.c, geo.f, geo.kernel[1], (geo.hp, geo.wp), (geo.ho, geo.wo))
    return tuple(row_tap_images(forward, n, itemsize, limit)
                 for limit in (min(BLOCK_CANDIDATES), max(BLOCK_CANDIDATES)))


def _conv_row_taps(geo: Geometry, n: int, itemsize: int, with_dx: bool, with_dw: bool,
                   step: int) -> Footprint:
    """Batch-last blocks of ``step`` images multiplied by kernel rows
    (:mod:`cnnspec.engine.row_taps`): the blocks, one block widened, its product and one
    kernel row's, kept from the forward pass; the laid-out output gradient from the backward
    pass on; the weight gradient's sums by kernel row, one row's product and the result while
    it runs. The input gradient: the transposed convolution where it pays, else the row
    taps' own (:func:`_row_taps_input_grad`), which reads the laid-out output gradient too;
    without ``with_dw``, nothing of the weight gradient's."""
    forward, _ = row_tap_values(geo.c, geo.f, geo.kernel[1], (geo.hp, geo.wp), (geo.ho, geo.wo))
    rows, size = geo.c * geo.taps, geo.ho * geo.wo
    blocks = -(-n // step) * step * geo.c * geo.hp * geo.wp * itemsize
    out = geo.f * n * size * itemsize
    grad_temp = (2 * rows + geo.c * geo.kernel[1]) * geo.f * itemsize * with_dw
    dx = dx_work = dx_temp = 0
    own_dx = with_dx and _transposed_back(geo) is None
    if own_dx:
        dx, dx_work = _row_taps_input_grad(geo, n, itemsize)
    elif with_dx:
        dx, dx_work, dx_temp = _conv_input_grad(geo, n, itemsize)
    laid = geo.f * size * step * itemsize if with_dw or own_dx else 0
    return Footprint(out=out, work=blocks + forward * step * itemsize, dx=dx,
                     back_work=laid, shared=dx_work,
                     shared_key=(geo, n), backward_temp=out + max(grad_temp, dx_temp),
                     frees_cache=False)


def _row_taps_input_grad(geo: Geometry, n: int, itemsize: int) -> tuple[int, int]:
    """(dx, its scratch) in bytes of the input gradient of
    :func:`cnnspec.engine.row_taps.backward`: the scratch of one block
    (:func:`cnnspec.engine.chunking.row_tap_values`) of the forward pass's images, as large
    as the largest block limit makes it, shared by the convs of one geometry."""
    _, values = row_tap_values(geo.c, geo.f, geo.kernel[1], (geo.hp, geo.wp), (geo.ho, geo.wo))
    _, most = _row_tap_blocks(geo, n, itemsize)
    return geo.c * n * geo.h * geo.w * itemsize, values * most * itemsize


def _conv_im2col(geo: Geometry, n: int, itemsize: int, with_dx: bool,
                 with_dw: bool) -> Footprint:
    """The chunked im2col path: the padded input, a thin layer's whole batch of columns where
    they are small enough to keep (else a chunk's, and its product), the input gradient's
    buffers; the cache holds the input where there is no padding. Without ``with_dw``, no
    columns kept or built again for the weight gradient (:func:`keeps_columns`), and none of
    its products."""
    rows = geo.c * geo.taps
    if phase_conv(geo.kernel, geo.stride, geo.dilation, rows, with_dw):
        return _conv_phases(geo, n, itemsize, with_dx, with_dw)
    padded = geo.c * n * geo.hp * geo.wp * itemsize if any(geo.pads) else 0
    whole = rows * n * geo.ho * geo.wo
    out = geo.f * n * geo.ho * geo.wo * itemsize
    if keeps_columns(rows, whole, itemsize, with_dw):
        work, grad_temp, grad_work = whole * itemsize, (n + 2) * rows * geo.f * itemsize, 0
    else:  # wide columns and their product per chunk; built again (not wide) for the gradient
        wide, least = _wide(geo), strided_values(geo.stride)
        step = chunk_images(rows, wide, n, itemsize, least)
        work = (rows + geo.f) * wide * step * itemsize
        size = geo.ho * geo.wo
        grad_work = rows * size * chunk_images(rows, size, n, itemsize, least) * itemsize
        grad_temp = 2 * rows * geo.f * itemsize
    dx, dx_work, dx_temp = _conv_input_grad(geo, n, itemsize) if with_dx else (0, 0, 0)
    return Footprint(out=out, keeps_input=not any(geo.pads), work=padded + work,
                     dx=dx, back_work=grad_work * with_dw, shared=dx_work,
                     shared_key=(geo, n), backward_temp=out + max(grad_temp * with_dw, dx_temp),
                     frees_cache=False)


def _phase_step(geo: Geometry, n: int, itemsize: int) -> int:
    """The most images a chunk of a convolution by phases holds
    (:func:`cnnspec.engine.conv_tuned._phase_step`), whatever the calibrated column limit."""
    rows, size = geo.c * geo.taps, phase_planes(geo.kernel, geo.stride, (geo.hp, geo.wp))[2]
    return phase_images(chunk_images(rows, size, n, itemsize), rows, size, n)


def _phase_scratch(geo: Geometry, n: int, itemsize: int, with_dx: bool) -> int:
    """Bytes of the scratch a backward pass by phases (:func:`cnnspec.engine.phases.backward`)
    shares with the convs of its geometry, a chunk of images each: ``dout`` in wide
    coordinates after a zero lead, and ``with_dx`` its column gradient after a zero lead and
    one phase's plane (or, with the taps in place, a plane and a tap's product: no more,
    as C*kh*kw rows are at least C)."""
    rows = geo.c * geo.taps
    _, _, size, reach = phase_planes(geo.kernel, geo.stride, (geo.hp, geo.wp))
    span = size * _phase_step(geo, n, itemsize)
    return (geo.f * (reach + span) + with_dx * (rows * (reach + span) + geo.c * span)) \
        * itemsize


def _conv_phases(geo: Geometry, n: int, itemsize: int, with_dx: bool,
                 with_dw: bool) -> Footprint:
    """A strided convolution by phases (:mod:`cnnspec.engine.phases`): the input split into
    its phases' planes and a chunk's columns and product, kept on the layer (the backward
    pass builds its columns in the same buffer, unless it reads its taps in place:
    :func:`cnnspec.engine.phases.taps_in_place`); the scratch of :func:`_phase_scratch`;
    temporaries: the weight laid out by phases (two copies forward; one backward, and the
    weight gradient's sums, a chunk's product and the result ``with_dw``)."""
    rows = geo.c * geo.taps
    phases, _, size, reach = phase_planes(geo.kernel, geo.stride, (geo.hp, geo.wp))
    span = size * _phase_step(geo, n, itemsize)
    weight = rows * geo.f * itemsize
    return Footprint(out=geo.f * n * geo.ho * geo.wo * itemsize,
                     work=(phases * geo.c * (n * size + reach) + (rows + geo.f) * span)
                     * itemsize,
                     forward_temp=2 * weight,
                     dx=geo.c * n * geo.h * geo.w * itemsize if with_dx else 0,
                     shared=_phase_scratch(geo, n, itemsize, with_dx), shared_key=(geo, n),
                     backward_temp=weight * (1 + 3 * with_dw), frees_cache=False)


def _conv_input_grad(geo: Geometry, n: int, itemsize: int) -> tuple[int, int, int]:
    """(dx, kept buffers, temporaries) in bytes of a chunked conv's input gradient: the
    transposed convolution, chunked as a forward pass (on blocks or im2col), or col2im of a
    chunk of images' column gradient at a time. Its buffers are shared by the convs of one
    geometry (:func:`cnnspec.engine.windows.shared_work`); counted for each (an upper bound)."""
    rows = geo.c * geo.taps
    out_c = geo.f * n * geo.ho * geo.wo * itemsize  # dout made channel-first
    back = _transposed_back(geo)
    if back is not None:  # the transposed convolution, chunked as the forward's
        forward = _conv_chunked(back, n, itemsize, with_dx=False)
        return (geo.c * n * geo.h * geo.w * itemsize, forward.work,
                rows * geo.f * itemsize + out_c)
    dx = geo.c * n * geo.h * geo.w * itemsize
    if phase_input_grad(geo.kernel, geo.stride, geo.dilation):
        return dx, _phase_scratch(geo, n, itemsize, True), geo.f * rows * itemsize
    if geo.stride != (1, 1):  # col2im of each chunk's column gradient
        size = geo.ho * geo.wo
        step = chunk_images(rows, size, n, itemsize)
        return dx, rows * size * step * itemsize, geo.c * step * geo.hp * geo.wp * itemsize \
            + out_c
    # batch-last blocks in wide coordinates (conv_tuned._input_grad_blocks): dout laid out,
    # its column gradient after a zero lead over whole padded planes (windows.fold_rows), the
    # padded block it is folded onto; no temporaries
    step = chunk_images(rows, geo.ho * geo.wp, n, itemsize)
    (kh, kw), (dh, dw) = geo.kernel, geo.dilation
    lead = (kh - 1) * dh * geo.wp + (kw - 1) * dw
    columns = geo.f * geo.ho * geo.wp + rows * (lead + geo.hp * geo.wp) + geo.c * geo.hp * geo.wp
    return dx, columns * step * itemsize, 0


def _conv_small(geo: Geometry, n: int, itemsize: int, with_dw: bool) -> Footprint:
    """:class:`cnnspec.engine.conv_tuned.SmallPlan`: every buffer made once per layer; the
    weight gradient's products temporaries, ``with_dw``."""
    rows = geo.c * geo.taps
    wide = geo.stride == (1, 1)
    columns = n * geo.ho * (geo.wp if wide else geo.wo)
    slack = (geo.kernel[1] - 1) * geo.dilation[1] if wide else 0
    work = (geo.c * n * geo.hp * geo.wp + slack + rows * columns
            + (geo.f * columns if wide else 0)) * itemsize
    back = _transposed_back(geo)
    if back is not None:  # padded dout and its columns, shared by the plans of one geometry
        back_columns = n * back.ho * (back.wp if wide else back.wo)
        dx_work = (back.c * n * back.hp * back.wp + slack
                   + back.c * back.taps * back_columns) * itemsize
        dx = geo.c * back_columns * itemsize
        dx_temp = 0
    else:  # its temporaries too: col2im's padded planes of a chunk of images (a stride above 1)
        dx, dx_work, dx_temp = _conv_input_grad(geo, n, itemsize)
    return Footprint(out=geo.f * columns * itemsize, work=work, dx=dx, shared=dx_work,
                     shared_key=(geo, n), backward_temp=geo.f * n * geo.ho * geo.wo * itemsize
                     + max(3 * rows * geo.f * itemsize * with_dw, dx_temp), frees_cache=False,
                     objects=PLAN_OBJECT_BYTES)


def _grouped_conv(geo: Geometry, n: int, itemsize: int, with_dw: bool) -> Footprint:
    """:mod:`cnnspec.engine.grouped`: the whole batch's im2col matrix cached for the weight
    gradient (a convolution's cache stays to the next forward), without ``with_dw`` (a held
    weight) a temporary of the forward pass, as the padded input is; the backward pass's
    channel-first ``dout`` and column gradient (the input gradient's)."""
    cols = geo.c * geo.taps * n * geo.ho * geo.wo * itemsize
    padded = geo.c * n * geo.hp * geo.wp * itemsize if any(geo.pads) else 0
    out = geo.f * n * geo.ho * geo.wo * itemsize
    return Footprint(out=out, cache=cols * with_dw, forward_temp=padded + cols * (not with_dw),
                     dx=geo.c * n * geo.hp * geo.wp * itemsize, backward_temp=out + cols,
                     frees_cache=False)


def _conv_transpose(geo: Geometry, n: int, itemsize: int, with_dw: bool) -> Footprint:
    """:mod:`cnnspec.engine.transposed`: the input channel-first, kept for the weight gradient
    (without ``with_dw``, a held weight, a temporary of the forward pass); a chunk of images'
    columns (F*kh*kw, images*H*W) and the full span they are added onto, forward and backward
    alike (chunked as a convolution's columns), and ``with_dw`` the weight gradient's
    product; before the backward pass's chunks, the bias gradient's plane sums."""
    (sh, sw), (dh, dw), (kh, kw) = geo.stride, geo.dilation, geo.kernel
    full_span = ((geo.h - 1) * sh + dh * (kh - 1) + 1) * ((geo.w - 1) * sw + dw * (kw - 1) + 1)
    rows, size = geo.f * geo.taps, geo.h * geo.w
    images = chunk_images(rows, size, n, itemsize)
    chunk = (rows * size + geo.f * full_span) * images * itemsize
    x = geo.c * n * geo.h * geo.w * itemsize
    weight = geo.c * rows * itemsize
    return Footprint(out=geo.f * n * geo.ho * geo.wo * itemsize, cache=x * with_dw,
                     forward_temp=chunk + x * (not with_dw), dx=x,
                     backward_temp=max(chunk + weight * with_dw,
                                       _bias_grad_bytes(geo, n, itemsize)))


def _bias_grad_bytes(geo: Geometry, n: int, itemsize: int) -> int:
    """:func:`cnnspec.engine.conv_tuned.bias_grad`'s temporaries: a sum for each image and
    filter, and a row of ones as long as a plane."""
    return (n * geo.f + geo.ho * geo.wo) * itemsize


# -- pooling (cnnspec.engine.pool) ------------------------------------------------------------

def _pool(geo: Geometry, ir: dict, is_max: bool, n: int, itemsize: int) -> Footprint:
    """Max pooling over windows that tile the padded input caches a mask of each window's
    maximum (a byte a padded pixel), made through each block's maxima spread over its
    columns, or where windows tie through the offset loop's masks; over other windows it
    caches its padded input (a view of the input without padding) and its output, and its
    backward finds the maxima again with boolean masks. Average pooling caches nothing but
    shapes. Ceil mode pads for its last windows' overhang."""
    if ir.get("ceil_mode"):
        geo = replace(geo, pads=ceil_mode_pads((geo.h, geo.w), geo.kernel, geo.stride,
                                               geo.pads))
    values = geo.c * n
    out = values * geo.ho * geo.wo * itemsize
    padded = values * geo.hp * geo.wp * itemsize
    copy = padded if any(geo.pads) else 0
    outputs = values * geo.ho * geo.wo
    spread = geo.kernel[1] * out  # a window's value repeated over its columns
    if is_max and windows_tile(geo.kernel, geo.stride, (geo.ho, geo.wo), (geo.hp, geo.wp),
                               (geo.h, geo.w), geo.pads):
        pixels = values * geo.hp * geo.wp
        ties = MASK_BYTES * (pixels + 3 * outputs)  # the new mask and the offset loop's
        return Footprint(out=out, cache=MASK_BYTES * pixels, forward_temp=copy
                         + max(_tiled_block_temps(geo, n, itemsize), ties), dx=padded,
                         backward_temp=spread)
    if is_max:
        return Footprint(out=out, cache=copy, keeps_input=not copy, keeps_output=True,
                         forward_temp=spread, dx=padded,
                         backward_temp=2 * MASK_BYTES * outputs + out)
    return Footprint(out=out, forward_temp=copy, dx=padded,
                     backward_temp=out + spread + padded)


# Input bytes a block of the tiled max pool covers (cnnspec.engine.pool): within the smallest
# second-level cache of the CPUs the engine runs on (512 KiB a core), with room for the
# temporaries.
POOL_BLOCK_BYTES = 256 * 1024


def _tiled_block_temps(geo: Geometry, n: int, itemsize: int) -> int:
    """The temporaries of one block of the tiled max pool's forward pass (its blocks as
    :func:`cnnspec.engine.pool._blocks` cuts them, whole planes of at most
    ``POOL_BLOCK_BYTES``): the rows' maxima and their spread over the columns (each 1/kh of
    the block), and the maxima repeated over the rows (the block's size). Counted over the
    whole input instead, the pool of a 360 KiB input (20x24x24, 8 images) took 0.67 MiB at
    its peak where its footprint said 0.35."""
    plane = geo.hp * geo.wp * itemsize
    per_channel = n * plane
    if per_channel <= POOL_BLOCK_BYTES:
        block = min(geo.c, max(1, POOL_BLOCK_BYTES // per_channel)) * per_channel
    else:
        block = min(n, max(1, POOL_BLOCK_BYTES // plane)) * plane
    return block + 2 * (block // geo.kernel[0])


def windows_tile(kernel, stride, out_hw, padded_hw, in_hw, pads) -> bool:
    """Whether pooling windows tile the padded input exactly (stride = kernel, no remainder)
    and each of their taps may read the input (:func:`cnnspec.shapes.reaching_taps`):
    :mod:`cnnspec.engine.pool`'s max pool then keeps a mask of its maxima (see :func:`_pool`).
    A window far larger than its input (10^7x1 `pad same` over a 5x5 map) is left to the
    offset loops, which visit the taps that reach it alone, where the tiled passes walk every
    row and column of the window."""
    befores = pads[0], pads[2]  # (top, bottom, left, right)
    return tuple(stride) == tuple(kernel) and all(
        o * k == p and len(reaching_taps(size, o, k, k, 1, before)) == k
        for o, k, p, size, before in zip(out_hw, kernel, padded_hw, in_hw, befores))


# -- the other kinds: (input bytes, output bytes, n, input shapes, itemsize) -> Footprint --------

def _dense(x, out, n, in_shapes, itemsize) -> Footprint:
    """:mod:`cnnspec.engine.dense`: the cache holds the input."""
    return Footprint(out=out, keeps_input=True, dx=x)


def _flatten(x, out, n, in_shapes, itemsize) -> Footprint:
    """A copy of a channel-first input (a view of a contiguous one); ``dx`` a view."""
    return Footprint(out=out)


def _global_avgpool(x, out, n, in_shapes, itemsize) -> Footprint:
    return Footprint(out=out, dx=x, backward_temp=out)


def _global_maxpool(x, out, n, in_shapes, itemsize) -> Footprint:
    """The index of each channel's maximum cached."""
    return Footprint(out=out, cache=out // itemsize * INDEX_BYTES, dx=x)


def _upsample(x, out, n, in_shapes, itemsize) -> Footprint:
    """:mod:`cnnspec.engine.resize`: nearest copies, bilinear multiplies twice."""
    return Footprint(out=out, forward_temp=out, dx=x, backward_temp=out)


# Batch norm (cnnspec.engine.norm) makes its statistics, and its backward pass, over blocks of
# as many whole channels as NORM_BLOCK_VALUES values a row hold (at least one), so that a
# block's rows of the arrays a pass touches (at most four: the output gradient, the centred
# values, the input gradient and a fused ReLU's masked gradient; 2 MiB in float32) stay in
# the caches between the pass's steps over the block, and each step, a NumPy call of a few
# microseconds' fixed cost, has values enough to pay for it. One size on every machine: the
# rule had been a share of chunk_bytes (a core's L2) with this size as its floor, but that
# share (at most 2 MiB / 4, chunk_bytes' cap) never exceeded the floor, which so decided
# every block everywhere. Forward+backward with the ReLU, one thread, ms:
#   Intel Xeon (AVX-512, 2 MiB L2), batch 64, medians of 9 rounds, blocks of 1 / 1/2 / 1/4
#   of L2: 16x32x32 1.37+1.87 / 1.38+1.84 / 1.41+1.81, 32x16x16 0.69+0.97 / 0.72+0.98 /
#   0.77+0.98 (2**17 values a row of 4 arrays is the first of them);
#   AMD EPYC Zen 3 (512 KiB L2), batch 64, best of 25, one channel a block / 2**16 / 2**17 /
#   2**18 / the whole tensor: 32x16x16 0.49+1.37 / 0.41+0.80 / 0.37+0.70 / 0.34+0.63 /
#   0.33+0.59, 16x32x32 0.84+1.83 / 0.82+1.75 / 0.76+1.49 / 0.66+1.31 / 0.62+1.20; at batch
#   256 the whole tensor fell back (1.66+3.61 against 1.85+3.28 at 2**17);
#   AMD EPYC (cpu family 25, model 17, 1 MiB L2), thread CPU time, the sizes alternating in
#   one process (medians of 9 rounds), 2**15 / 2**17 / 2**19 / 2**21 / the whole tensor:
#   batch 64 16x32x32 2.88 / 2.42 / 2.55 / 2.94 / 2.71, 32x16x16 1.17 / 0.94 / 0.95 / 0.95
#   / 0.88; batch 256 16x32x32 10.76 / 10.11 / 10.29 / 17.71 / 15.87; four more runs of
#   2**17 against the whole tensor (15 rounds, a load of 5-7 from other work): batch 64
#   2.68-2.86 against 5.97-7.97 and 0.93-1.44 against 1.78-7.62, batch 256 10.24-10.93
#   against 15.99-16.42 and 5.45-5.94 against 7.77-9.97.
# The whole tensor won at batch 64 on the Zen 3 (1.16-1.24x) and in one run of five here
# (1.07x), and lost at batch 256 on both (1.03x there, 1.5-1.7x here) and at batch 64 in the
# other runs here, its times moving most from run to run. Which size wins turns on the batch
# (the tensor against the caches) more than on the CPU, so a calibration timed at first use
# on one batch size would choose for that size alone; 2**17 values keeps each block's
# arrays within 2 MiB at every batch size, so the size is a constant.
NORM_BLOCK_VALUES = 2 ** 17
# Batch norm's vectors of one value a channel, which weigh as much as its tensors where a
# channel has few values (a batch of 1 to 3 after a dense layer of 20000 units: a step
# measured up to 5% over the estimate without them): the cache keeps ``inv_std``, ``scale``,
# a fused ReLU's ``shift`` and a split batch's ``offset``; the forward pass makes at most 18
# more at once, counted in float32 (a split batch's meeting: the part's mean, squares and
# residual sums, its float64 mean, the float64 total of the parts' sums, 3 vectors long, two
# float64 temporaries and the mean, variance and offset it returns), the backward pass seven
# (a split batch's parameter gradients, stacked and summed, and a block's factors); a split
# batch's part sums (cnnspec.engine.parallel.PartSums) keep a part's last two (its float64
# sums for the meeting, its three rows of gradient sums) until the next step.
NORM_CACHE_VECTORS = 4
NORM_FORWARD_VECTORS = 18
NORM_BACKWARD_VECTORS = 7
NORM_PART_VECTORS = 9


def norm_block_channels(channels: int, values: int) -> int:
    """Channels per block of a batch norm pass over ``channels`` rows of ``values`` values (see
    ``NORM_BLOCK_VALUES``): as many whole ones as that many values hold, at least one, at most
    ``channels``."""
    return max(1, min(channels, NORM_BLOCK_VALUES // max(1, values)))


def _batchnorm(x, out, n, in_shapes, itemsize) -> Footprint:
    """:func:`cnnspec.engine.norm.batchnorm_forward`: the centred input, which the cache
    holds, in a buffer kept on the layer (a model's backward pass lends it to ``dx``: counted
    here as a new ``dx`` too, the bound for a layer run alone), with a row of ones (its sums
    are products with it) and (the ReLU after it run inside,
    :class:`cnnspec.engine.layers.BatchNormReLU`) a block's mask and masked gradient; the
    input and ``dout`` copied to rows per channel where they are not channel-first already;
    its vectors of one value a channel (see ``NORM_CACHE_VECTORS``)."""
    channels = in_shapes[0][0]
    values = x // itemsize // channels  # a channel's
    block = norm_block_channels(channels, values) * values
    vector = channels * itemsize
    work = x + values * itemsize + block * (itemsize + MASK_BYTES) + NORM_PART_VECTORS * vector
    return Footprint(out=out, cache=NORM_CACHE_VECTORS * vector, work=work,
                     forward_temp=x + NORM_FORWARD_VECTORS * vector, dx=x,
                     backward_temp=x + NORM_BACKWARD_VECTORS * vector)


def _group_or_layer_norm(x, out, n, in_shapes, itemsize) -> Footprint:
    """:func:`cnnspec.engine.norm.groupnorm_forward` and ``layernorm_forward``: the normalised
    input cached; centred values, squares and products as temporaries."""
    return Footprint(out=out, cache=x, forward_temp=2 * x, dx=x, backward_temp=4 * x)


def _prelu(x, out, n, in_shapes, itemsize) -> Footprint:
    values = x // itemsize
    return Footprint(out=out, keeps_input=True, forward_temp=x + MASK_BYTES * values, dx=x,
                     backward_temp=2 * x + MASK_BYTES * values)


def _dropout(x, out, n, in_shapes, itemsize) -> Footprint:
    """:func:`cnnspec.engine.dropout.dropout_forward`: the scaled keep-mask cached, drawn as
    uniform numbers and compared."""
    return Footprint(out=out, cache=x, forward_temp=x + MASK_BYTES * x // itemsize, dx=x)


def _dropout2d(x, out, n, in_shapes, itemsize) -> Footprint:
    channels = n * in_shapes[0][0] * itemsize
    return Footprint(out=out, cache=channels, forward_temp=2 * channels, dx=x)


def _merge(x, out, n, in_shapes, itemsize) -> Footprint:
    """:mod:`cnnspec.engine.merge`: every input's gradient is ``dout`` or a view of it."""
    return Footprint(out=out)


RULES = {"dense": _dense, "flatten": _flatten, "global_avgpool": _global_avgpool,
          "global_maxpool": _global_maxpool, "upsample": _upsample, "batchnorm": _batchnorm,
          "layernorm": _group_or_layer_norm, "groupnorm": _group_or_layer_norm,
          "instancenorm": _group_or_layer_norm, "prelu": _prelu, "dropout": _dropout,
          "dropout2d": _dropout2d, "add": _merge, "concat": _merge}  # activations: by op, below


# -- activations (cnnspec.engine.activations) ---------------------------------------------------

def _relu(x, out, n, in_shapes, itemsize) -> Footprint:
    """A boolean mask cached; or, fused into the convolution before it
    (:class:`cnnspec.engine.layers.ConvReLU`), no mask, the output written into a buffer that
    the layer's cache holds through its backward pass and that stays to the next step
    (:func:`cnnspec.engine.windows.output_array`): the mask and the output kept are counted.
    (A buffer of the conv's own, counted as work, would put ResNet-small's estimate at 2.1
    times its measured step: its ReLUs run inside batch norms.)"""
    return Footprint(out=out, cache=MASK_BYTES * x // itemsize, keeps_output=True, dx=x)


def _output_cached(x, out, n, in_shapes, itemsize) -> Footprint:
    """tanh, sigmoid, softmax: the cache is the output; a few temporaries in the forward."""
    return Footprint(out=out, keeps_output=True, forward_temp=2 * x, dx=x)


def _derivative_cached(x, out, n, in_shapes, itemsize) -> Footprint:
    """leaky ReLU, ELU, GELU, SiLU, ReLU6, hardswish, log-softmax: the derivative (or the
    softmax) cached, computed through a few temporaries and masks."""
    return Footprint(out=out, cache=x, forward_temp=4 * x, dx=x)


_ACTIVATIONS = {"relu": _relu, "tanh": _output_cached, "sigmoid": _output_cached,
                "softmax": _output_cached, "default": _derivative_cached}


# -- calibration (cnnspec.engine.calibrate) ----------------------------------------------------

TIMED_BYTES = 4  # the timers' layers are float32


def calibrated(kind: str, ir: dict) -> bool:
    """Whether a layer of ``kind`` (its IR ``ir``) chunks by the machine's calibrated limits
    (``calibrated`` of its engine layer: the tuned convolution's and the transposed one's,
    not a grouped convolution's, :func:`footprint`): a process that runs one times them
    first where they are not kept yet."""
    return kind == "conv_transpose" or kind == "conv" and ir["groups"] == 1


def calibration_bytes() -> int:
    """The most bytes the timers of a machine's first calibration hold at once
    (:func:`cnnspec.engine.conv_tuned.time_columns`, ``time_winograd``, ``time_blocks``, one
    after another: each frees its layers as it returns). A timer holds each of its layers'
    input, weights and output gradient, and for each candidate limit the buffers the layer
    keeps running by it (its footprint's, whose chunks are the largest any candidate makes,
    and the fused ReLU's output buffer), the buffers shared by a geometry once; while a layer
    passes, its cache and temporaries, or its gradients and temporaries, beside them, or
    while a layer is made, its float64 draws (NumPy's ``standard_normal``) before they are
    cast."""
    return max(timer_bytes(layers, len(candidates)) for _, layers, candidates in
               CALIBRATION_TIMERS)


def timer_bytes(layers, candidates: int) -> int:
    """:func:`calibration_bytes` of one timer of ``layers`` (CALIBRATION_LAYERS' tuples)
    timing ``candidates`` limits."""
    held = passing = 0
    for images, channels, filters, kernel, size, pad in layers:
        out_size = size + 2 * pad - kernel + 1
        geo = Geometry(channels, size, size, filters, out_size, out_size, (kernel, kernel),
                       (1, 1), (pad,) * 4, (1, 1))
        fp = _conv(geo, images, TIMED_BYTES, tile_share=0)  # the timers keep none
        arrays = TIMED_BYTES * (images * channels * size * size + filters * channels
                                * kernel * kernel) + fp.out  # x, w, and dout as large as out
        kept = fp.out + fp.work + fp.back_work + fp.objects
        held += arrays + candidates * kept + _timed_shared(fp, geo, images)
        weights = TIMED_BYTES * filters * channels * kernel * kernel
        drawn = 2 * fp.out  # the largest draw, dout's, in float64
        passing = max(passing, fp.cache + fp.forward_temp,
                      fp.cache + fp.dx + weights + fp.backward_temp, drawn)
    return held + passing


def _timed_shared(fp: Footprint, geo: Geometry, images: int) -> int:
    """The buffers a timer's layer of geometry ``geo`` (footprint ``fp``) shares, run by each
    candidate limit in turn: a Winograd layer's chunks of every size those limits make."""
    if fp.shared_key and fp.shared_key[0] == "winograd":
        return _winograd_scratch_bytes(geo, images, TIMED_BYTES, 0, WINOGRAD_CANDIDATES)
    return fp.shared
