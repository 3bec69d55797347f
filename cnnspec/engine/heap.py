"""How the C library's heap holds the engine's arrays: kept for reuse from step to step, and
given back to the system when a process is about to fork.

A training step allocates and frees the same arrays every time (a layer's output, its
gradient, a ReLU's mask), many of them over a MiB. glibc's malloc serves an allocation past
its mmap threshold (128 KiB at first, then raised to the largest such block freed, up to
32 MiB) with fresh pages from the system, and gives the free top of its heap back past its
trim threshold (twice the mmap threshold): then each step's arrays come as new pages, and
every page written is a page fault. Whether that happens depends on the sizes freed before,
so the same spec ran at different speeds in different processes and even for different
models in one process: LeNet-5 at batch 64, one thread, 7,500 to 11,700 images/s for six
models built one after another (the first layer's output and its ReLU 2-3x slower in the slow
ones), and 12,000 to 12,500 for every one with the thresholds fixed as here (AMD EPYC, Zen 4).
Fixed, the thresholds hold past the adjustment glibc makes on its own (mallopt(3)).

With another C library nothing here does anything: the calls are glibc's.
"""
from __future__ import annotations

import ctypes
import functools

# mallopt(3)'s parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc takes on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX): a
# step's arrays up to it come from the heap and are used again.
MMAP_THRESHOLD = 32 << 20
# Free memory at the top of the heap kept for the next step rather than given back: a step's
# peak is made again at every step, and a process's resident memory is that peak already.
# malloc_trim (trim) still gives it all back before a fork.
TRIM_THRESHOLD = 512 << 20


@functools.cache
def _glibc():
    """The process's C library, where it is glibc (its ``mallopt`` and ``malloc_trim``), else
    None."""
    library = ctypes.CDLL(None)
    if getattr(library, "mallopt", None) is None or getattr(library, "malloc_trim", None) is None:
        return None
    return library


@functools.cache
def keep_arrays_for_reuse() -> bool:
    """Fix glibc's thresholds (:data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD`) once in this
    process, so that the arrays of one training step are served again from the heap at the
    next; whether they are set (False with another C library)."""
    library = _glibc()
    if library is None:
        return False
    return bool(library.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        library.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def trim() -> None:
    """glibc's ``malloc_trim(0)``: the free memory at the top of the heap and in its free
    pages goes back to the system (with another C library, nothing)."""
    library = _glibc()
    if library is not None:
        library.malloc_trim(0)
