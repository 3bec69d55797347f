"""Ctrl-C as a request, not an exception: training stops at the next clean point.

While :func:`deferred_interrupts` is active in the main thread, the first SIGINT (or SIGTERM,
which `kill`, `timeout` and schedulers send) only sets a flag; the loop checks it between
steps, saves a checkpoint and stops. A second one is the user insisting: the default handlers
are back, so SIGINT raises ``KeyboardInterrupt`` at once and SIGTERM ends the process (and
the last saved checkpoint stays the one to resume from).

Saving is several files (the metrics, then the checkpoint) that should describe the same step;
:func:`interrupts_held` keeps a Ctrl-C from landing between the writes. (A SIGKILL cannot be
held; the checkpoint, one file written atomically, is what a resume relies on.) SIGTERM is
held the same way.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager


class InterruptFlag:
    def __init__(self) -> None:
        self.requested = False

    def set(self) -> None:
        self.requested = True


# The signals that ask training to stop: Ctrl-C, and SIGTERM, what `kill`, `timeout`, a
# service manager or a batch scheduler sends before it kills.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def deferred_interrupts():
    """Yield an :class:`InterruptFlag` that the first Ctrl-C or SIGTERM sets (main thread
    only; elsewhere signals cannot arrive and the flag simply stays unset). A second one acts
    at once: Ctrl-C raises ``KeyboardInterrupt``, SIGTERM ends the process."""
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}

    def handler(signum, frame):
        flag.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    for number in STOP_SIGNALS:
        signal.signal(number, handler)
    try:
        yield flag
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)


@contextmanager
def termination_as_interrupt():
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` as Ctrl-C does, so that a
    command stopped by `kill`, `timeout` or a scheduler cleans up as for Ctrl-C: a comparison
    or a sweep cancels its cells and waits for its worker processes, which would otherwise be
    left running without it. Only where SIGTERM has its default action (a caller's own
    handler stays) and in the main thread; training inside the block takes it over while it
    runs (:func:`deferred_interrupts`)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # raises KeyboardInterrupt
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def interrupts_held():
    """Hold a Ctrl-C that arrives inside the block and deliver it (to whatever handler was
    active) once the block is done, so the block is never cut in half. Main thread only;
    elsewhere signals cannot arrive."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {number: signal.signal(number, lambda signum, frame: arrived.append(signum))
                for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    for number in dict.fromkeys(arrived):
        signal.raise_signal(number)


class CtrlC:
    """What :func:`ctrl_c_watched` saw: a Ctrl-C (``seen``), and one Python swallowed
    (``swallowed``)."""

    def __init__(self) -> None:
        self.seen = False
        self.swallowed = False


@contextmanager
def ctrl_c_watched():
    """Yield a :class:`CtrlC` that says whether a Ctrl-C came within the block, and whether
    Python swallowed it. Python runs a signal's handler wherever the main thread is, and
    where the ``KeyboardInterrupt`` cannot propagate it is lost: inside a finalizer (a
    ``__del__``, a weak reference's callback, as a sweep closed its cluster) Python printed it
    with a traceback ("Exception ignored in ...") and the command went on to its end; inside
    the import of a C extension (NumPy's, which imports ``datetime`` through C) it came out
    as an ImportError of that import. Within the block a swallowed one is not printed (every
    other exception raised where it cannot propagate is reported as before), and the caller
    can tell an error a Ctrl-C caused from a bug. Ctrl-C raises ``KeyboardInterrupt`` as
    before; a handler of the caller's own is left alone. Main thread only."""
    ctrl_c = CtrlC()
    previous_hook = sys.unraisablehook

    def hook(unraisable) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type,
                                                          KeyboardInterrupt):
            ctrl_c.swallowed = True
            return
        previous_hook(unraisable)

    def handler(signum, frame):
        ctrl_c.seen = True
        signal.default_int_handler(signum, frame)

    watching = (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    sys.unraisablehook = hook
    if watching:
        signal.signal(signal.SIGINT, handler)
    try:
        yield ctrl_c
    finally:
        sys.unraisablehook = previous_hook
        if watching:
            signal.signal(signal.SIGINT, signal.default_int_handler)
