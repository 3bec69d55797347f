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
    Reference counting still frees everything but cycles, and their cycles are few and small.

    Turned back on, the collector would walk everything the block allocated at the next
    allocation: the block's objects count as young, and there are more of them than the
    young generation's threshold. They are moved to the oldest generation instead (and with
    them every object then alive), which only a full collection walks: ``gc.freeze`` moves
    them out of its sight and resets the young generation's count, ``gc.unfreeze`` hands them
    back as old. A cycle among them that becomes garbage waits for a full collection. Where
    something else froze objects first (a server before it forks), nothing is moved: the
    unfreeze would hand back its objects too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
