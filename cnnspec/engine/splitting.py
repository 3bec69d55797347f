"""When the engine splits a batch into parts run in threads (:mod:`cnnspec.engine.parallel`):
plain numbers, without NumPy, so that ``check``'s memory estimate reads the same facts the
engine acts on."""

DEFAULT_THREADS = 2  # a model runs a batch as halves in two threads unless told otherwise
# The parts after the first run in worker processes where the platform allows
# (cnnspec.engine.processes), else in threads (cnnspec.engine.parallel).
DEFAULT_PARTS_IN = "processes"
MIN_PART = 8  # smaller parts cost more in thread hand-offs than they save


def splits(batch: int, threads: int = DEFAULT_THREADS) -> bool:
    """Whether a batch of ``batch`` examples runs as ``threads`` parts (while nothing else,
    such as dropout, keeps the model whole)."""
    return threads > 1 and batch >= threads * MIN_PART
