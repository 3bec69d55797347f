"""Setting the number of threads of NumPy's BLAS at run time.

When the engine runs a batch as two halves in two Python threads (see
:class:`cnnspec.engine.parallel.DataParallel`), each half's matrix products should run on one
core: two BLAS thread pools fighting over two cores are much slower than either alone. NumPy
offers no call for this, so we find the OpenBLAS library NumPy has loaded (by its path in
``/proc/self/maps``) and call its ``*_set_num_threads`` through ``ctypes``, as threadpoolctl
does. Where that is not possible (another BLAS, another OS) the calls do nothing.
"""
from __future__ import annotations

import ctypes
import functools
from contextlib import contextmanager

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
            "openblas_get_num_threads")


@functools.cache
def _openblas():
    """(get, set) functions of the loaded OpenBLAS, or None."""
    import numpy  # noqa: F401 - loads NumPy's BLAS, so that it shows in the maps

    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        if getter is not None and setter is not None:
            getter.restype = ctypes.c_int
            return getter, setter
    return None


def available() -> bool:
    """Whether the BLAS thread count can be changed in this process."""
    return _openblas() is not None


def get_threads() -> int | None:
    lib = _openblas()
    return None if lib is None else int(lib[0]())


@contextmanager
def blas_threads(n: int):
    """Run the block with BLAS limited to ``n`` threads, then restore the previous count.

    When the count already is ``n`` nothing is called: worker threads entering this block while
    the caller holds it must not race on OpenBLAS's setter (which made every step cost twice
    the CPU time)."""
    lib = _openblas()
    previous = None if lib is None else int(lib[0]())
    if previous is None or previous == n:
        yield  # nothing to change (and no call racing another thread's)
        return
    lib[1](ctypes.c_int(n))
    try:
        yield
    finally:
        lib[1](ctypes.c_int(previous))
