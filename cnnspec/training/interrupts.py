"""Ctrl-C as a request, not an exception: training stops at the next clean point.

While :func:`deferred_interrupts` is active in the main thread, the first SIGINT only sets a
flag; the loop checks it between steps, saves a checkpoint and stops. A second SIGINT is the
user insisting: Python's default handler is back, so it raises ``KeyboardInterrupt`` at once
(and the last saved checkpoint stays the one to resume from).

Saving is several files (the metrics, then the checkpoint) that should describe the same step;
:func:`interrupts_held` keeps a Ctrl-C from landing between the writes. (A SIGKILL cannot be
held; the checkpoint, one file written atomically, is what a resume relies on.)
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class InterruptFlag:
    def __init__(self) -> None:
        self.requested = False

    def set(self) -> None:
        self.requested = True


@contextmanager
def deferred_interrupts():
    """Yield an :class:`InterruptFlag` that the first Ctrl-C sets (main thread only; elsewhere
    signals cannot arrive and the flag simply stays unset)."""
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        flag.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def interrupts_held():
    """Hold a Ctrl-C that arrives inside the block and deliver it (to whatever handler was
    active) once the block is done, so the block is never cut in half. Main thread only;
    elsewhere signals cannot arrive."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: arrived.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if arrived:
        signal.raise_signal(signal.SIGINT)
