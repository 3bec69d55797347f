"""Python's cycle collector while cnnspec loads what stays alive to the end.

A command loads modules, classes and tables (the command line's, the parser's, the
checker's) that live as long as the process: the collector's passes over them free nothing,
and were a few percent of a ``cnnspec check`` and of ``cnnspec --help``
(docs/measurements.md). Reference counting still frees everything but cycles.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    """Python's cycle collector off, then as it was. Loading a command's modules, and a
    check's parser and checker, allocates objects that stay alive to the end (modules,
    classes, tables); the collector's passes over them were a few percent of a check-on-save.
    Reference counting still frees everything but cycles, and their cycles are few and small."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def loaded_for_good():
    """The collector paused while the block loads what the process keeps to its end (the
    command line's modules), which is then moved out of its sight (``gc.freeze``): no later
    pass walks it, and the pass the block's allocations would have set off once it is back on
    does not come. For a process's entry point alone: everything alive as the block ends,
    the caller's objects too, is never collected."""
    with collector_paused():
        yield
    gc.freeze()
