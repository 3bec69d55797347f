"""When the engine splits a batch into parts run side by side (:mod:`cnnspec.engine.processes`,
:mod:`cnnspec.engine.parallel`): plain numbers, without NumPy, so that ``check``'s memory
estimate reads the same facts the engine acts on."""

import os

# The parts after the first run in worker processes where the platform allows
# (cnnspec.engine.processes), else in threads (cnnspec.engine.parallel).
DEFAULT_PARTS_IN = "processes"
MIN_PART = 8  # smaller parts cost more in hand-offs between the parts than they save


def splits(batch: int, threads: int) -> bool:
    """Whether a batch of ``batch`` examples runs as ``threads`` parts (the spec's ``cores``;
    while nothing else, such as dropout, keeps the model whole)."""
    return threads > 1 and batch >= threads * MIN_PART


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the platform reports one (a
    container or ``taskset`` limits it below the machine's), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1
