"""Matrix products shaped for OpenBLAS's kernels for small matrices.

OpenBLAS (0.3.31, x86-64) runs a GEMM of at most ``SMALL_GEMM_MADDS`` multiply-adds (M*N*K)
by its kernels for small matrices, which skip packing the operands; past it, with its
SkylakeX kernels, a short and wide product (a few rows times tens of thousands of columns)
takes two to three times as long (see ``cnnspec.engine.footprint.SMALL_GEMM_MADDS``). Where a
product's columns are independent (each column of the result reads one column of the wide
operand), it can run in slices under the limit instead, with the same sums column by column.
"""
from __future__ import annotations

import numpy as np

from cnnspec.engine.footprint import SMALL_GEMM_MADDS


def small_products(a, b, out) -> np.ndarray:
    """``a @ b`` into ``out`` (M, N), unit column stride, over slices of ``b``'s N columns small
    enough for OpenBLAS's kernels for small matrices (``SMALL_GEMM_MADDS``, which skip packing
    the operands): the equal slices in one stacked product, the rest in one more (a product
    of fewer than two slices' columns too: it had run whole past the limit).

    Measured, one thread, whole / sliced. A block's short, wide products, per batch of 256, us
    (Intel Xeon, AVX-512, 2 MiB L2, OpenBLAS 0.3.31; LeNet-5's second layer, 17 images a
    block): forward (16 x 150 times 150 x 1700) 1064 / 847, input gradient's columns (150 x 16
    times 16 x 2380) 1541 / 1069. The weight gradient's products (150 x 1700 times 1700 x 16)
    sum over the columns and gain nothing from slices (88 GFLOP/s either way). Winograd's
    transforms along a chunk's tile rows (:mod:`cnnspec.engine.winograd`), us (AMD EPYC, cpu
    family 25, model 17, OpenBLAS's SkylakeX kernels, medians of 31): 6 x 6 times 6 x 57344
    114 / 63 (slices of 16384 columns; 94 in slices of 32768, past the limit), 4 x 6 times 6 x
    86016 117 / 64, 6 x 4 times 4 x 129024 219 / 127."""
    run_products(small_product_parts(a, b, out))
    return out


def run_products(parts) -> None:
    """Each ``a @ b`` into its ``out`` of ``parts`` (:func:`small_product_parts`)."""
    for a, b, out in parts:
        np.matmul(a, b, out=out)


def small_product_parts(a, b, out) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    """The ``(a, b, out)`` operands of the one or two matrix products of
    :func:`small_products`: views of its arguments, for a caller that runs the same products
    over the same buffers again and again (:mod:`cnnspec.engine.winograd`'s chunks) and so
    reshapes them once."""
    m, k = a.shape
    width = max(1, SMALL_GEMM_MADDS // (m * k))
    if b.shape[1] <= width:
        return ((a, b, out),)
    parts = b.shape[1] // width
    done = parts * width
    stacked = (a, b[:, :done].reshape(k, parts, width).transpose(1, 0, 2),
               out[:, :done].reshape(m, parts, width).transpose(1, 0, 2))
    if done == b.shape[1]:
        return (stacked,)
    return stacked, (a, b[:, done:], out[:, done:])
