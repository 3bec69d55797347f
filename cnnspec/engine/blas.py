"""Setting the number of threads of NumPy's BLAS at run time, through threadpoolctl.

When the engine runs a batch as two halves in two Python threads (see
:class:`cnnspec.engine.parallel.DataParallel`), each half's matrix products should run on one
core: two BLAS thread pools fighting over two cores are much slower than either alone. NumPy
offers no call for this; threadpoolctl finds the BLAS libraries loaded in the process
(OpenBLAS, MKL, BLIS, FlexiBLAS; on Linux, macOS and Windows) and calls their own
``*_set_num_threads``. Where it finds none, the calls here do nothing.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController


@functools.cache
def _blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded (found once: a search walks
    every shared library of the process)."""
    import numpy  # noqa: F401 - loads NumPy's BLAS first, so that the search finds it

    return ThreadpoolController().select(user_api="blas").lib_controllers


def available() -> bool:
    """Whether the BLAS thread count can be changed in this process."""
    return bool(_blas_libraries())


def get_threads() -> int | None:
    """The thread count of the (first) BLAS library, or None when there is none."""
    libraries = _blas_libraries()
    return libraries[0].num_threads if libraries else None


@contextmanager
def blas_threads(n: int):
    """Run the block with BLAS limited to ``n`` threads, then restore the previous count.

    When the count already is ``n`` nothing is called: worker threads entering this block while
    the caller holds it must not race on OpenBLAS's setter (which made every step cost twice
    the CPU time). A controller is reused rather than ``threadpool_limits`` called each time,
    which would search the loaded libraries on every forward and backward pass."""
    libraries = _blas_libraries()
    previous = [library.num_threads for library in libraries]
    if all(count == n for count in previous):
        yield  # nothing to change (and no call racing another thread's)
        return
    for library in libraries:
        library.set_num_threads(n)
    try:
        yield
    finally:
        for library, count in zip(libraries, previous):
            library.set_num_threads(count)
