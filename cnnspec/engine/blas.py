"""Setting the number of threads of NumPy's BLAS at run time, through threadpoolctl.

When the engine runs a batch as two halves in two Python threads (see
:class:`cnnspec.engine.parallel.DataParallel`), each half's matrix products should run on one
core: two BLAS thread pools fighting over two cores are much slower than either alone. NumPy
offers no call for this; threadpoolctl finds the BLAS libraries loaded in the process
(OpenBLAS, MKL, BLIS, FlexiBLAS; on Linux, macOS and Windows) and calls their own
``*_set_num_threads``. Where it finds none, the calls here do nothing.

Where the count lives decides how a hold is kept. OpenBLAS built on pthreads (NumPy's wheels),
BLIS and FlexiBLAS keep one count for the whole process (OpenBLAS's
``openblas_set_num_threads_local`` too: in a pthreads build it sets the same global count), so
the engine's holds from every Python thread are counted together: the first sets one thread,
the last restores the user's count, and a thread leaving early cannot hand the others a
multi-threaded BLAS. MKL (``mkl_set_num_threads_local``) and OpenBLAS on OpenMP keep a count
per calling thread, so each thread sets and restores its own.

threadpoolctl 3.8 lets only the first Python thread that set OpenBLAS's pthreads count change
it again (any other thread's call silently does nothing): after the main thread had trained,
training in another thread ran its products on every core. The engine's setter therefore takes
that control for the duration of its call and gives it up again, so that neither its own
threads nor the user's ``threadpool_limits`` are locked out.
"""
from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager, nullcontext

from threadpoolctl import ThreadpoolController

from cnnspec.records import record


@functools.cache
def _blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded (found once: a search walks
    every shared library of the process)."""
    import numpy  # noqa: F401 - loads NumPy's BLAS first, so that the search finds it

    return ThreadpoolController().select(user_api="blas").lib_controllers


# OpenBLAS runs the kernels written for the CPU it finds, unless this variable names others:
# some machines set it because older OpenBLAS builds compute wrong results on the newest
# cores. The kernels decide how fast every matrix product runs (AVX2 Haswell kernels on an
# AVX-512 core give up about half its peak), so a figure is read beside the kernels it ran.
CORETYPE_VARIABLE = "OPENBLAS_CORETYPE"


def library_names() -> list[str]:
    """Each BLAS library loaded, as ``openblas 0.3.31 SkylakeX``: its name, version and the
    kernels it runs (what a machine's calibrated thresholds depend on)."""
    return [f"{info.get('internal_api')} {info.get('version')} {info.get('architecture')}"
            for info in (library.info() for library in _blas_libraries())]


def blas_text() -> str:
    """The BLAS libraries as figures are printed beside them: ``openblas 0.3.31 (SkylakeX
    kernels)``, saying so where the kernels are the ones :data:`CORETYPE_VARIABLE` names
    rather than the CPU's own; ``none found`` where threadpoolctl finds no BLAS."""
    forced = os.environ.get(CORETYPE_VARIABLE)
    texts = []
    for library in _blas_libraries():
        info = library.info()
        kernels = f"{info.get('architecture') or 'unnamed'} kernels"
        if forced and info.get("internal_api") == "openblas":
            kernels += f", as {CORETYPE_VARIABLE}={forced} asks, not chosen for this CPU"
        texts.append(f"{info.get('internal_api')} {info.get('version')} ({kernels})")
    return "; ".join(texts) or "none found"


def available() -> bool:
    """Whether the BLAS thread count can be changed in this process."""
    return bool(_blas_libraries())


def get_threads() -> int | None:
    """The thread count of the (first) BLAS library, or None when there is none."""
    libraries = _blas_libraries()
    return libraries[0].num_threads if libraries else None


@record
class _Hold:
    """The engine's holds on one library's count: how many are open, and the count to restore
    when the last closes."""
    depth: int = 0
    previous: int | None = None


_process_lock = threading.Lock()
_process_holds: dict[int, _Hold] = {}  # by library index: counts kept for the whole process
_thread_holds = threading.local()  # .holds: by library index, for counts kept per thread


def _forget_holds() -> None:
    """In a forked child: the parent's open holds belong to threads the child does not have
    (and the lock may have been held by one of them). The child starts with no holds, at the
    count it inherited."""
    global _process_lock
    _process_lock = threading.Lock()
    _process_holds.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_forget_holds)


def _per_thread(library) -> bool:
    """Whether the library keeps its thread count per calling thread."""
    return (library.internal_api == "mkl"
            or getattr(library, "threading_layer", None) == "openmp")


def _set(library, n: int) -> None:
    """``library``'s count set to ``n`` from whichever thread calls (see the module's note on
    threadpoolctl's controlling thread)."""
    release = getattr(type(library), "clear_controlling_thread", None)
    if release is None or _per_thread(library):
        library.set_num_threads(n)
        return
    release(force=True)  # the setter below then takes control for this thread ...
    try:
        library.set_num_threads(n)
    finally:
        release()  # ... and gives it up, for the user's threads and the engine's others


def _enter(hold: _Hold, library, n: int) -> None:
    hold.depth += 1
    if hold.depth == 1:
        hold.previous = library.num_threads
        if hold.previous != n:
            _set(library, n)


def _leave(hold: _Hold, library, n: int) -> None:
    hold.depth -= 1
    if hold.depth == 0 and hold.previous is not None and hold.previous != n:
        _set(library, hold.previous)


def _hold(index: int, library):
    """The hold on ``library``'s count that this thread shares, and the lock guarding it."""
    if _per_thread(library):
        holds = getattr(_thread_holds, "holds", None)
        if holds is None:
            holds = _thread_holds.holds = {}
        return holds.setdefault(index, _Hold()), nullcontext()
    return _process_holds.setdefault(index, _Hold()), _process_lock


@contextmanager
def blas_threads(n: int):
    """Run the block with BLAS limited to ``n`` threads, then restore the previous count.

    Holds may nest and overlap across Python threads; all of the engine's ask for the same
    ``n`` (one). The count is set when the first hold opens and restored when the last closes
    (per process or per thread, as the library keeps it). A controller is reused rather than
    ``threadpool_limits`` called each time, which would search the loaded libraries on every
    forward and backward pass."""
    entered = []
    try:
        for index, library in enumerate(_blas_libraries()):
            hold, lock = _hold(index, library)
            with lock:
                _enter(hold, library, n)
            entered.append((hold, lock, library))
        yield
    finally:
        for hold, lock, library in reversed(entered):
            with lock:
                _leave(hold, library, n)
