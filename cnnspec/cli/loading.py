"""NumPy loaded for a command that runs networks, or a clear error where memory cannot hold it.

Under a low limit on the process's memory (``ulimit -v``), importing NumPy fails before any
command could check anything: the dynamic loader cannot map a library (an ImportError that
NumPy words as an installation problem), Python cannot allocate (a MemoryError), or OpenBLAS
cannot allocate its threads' buffers and ends the process with its own one line. A command
that declares ``LOADS_NUMPY`` is first held to the checker's estimate of what Python with
NumPy takes (:func:`cnnspec.check.memory.libraries_beyond_limit`), and a failure that comes
anyway is said as this program says running out of memory.
"""
from __future__ import annotations

import sys

from cnnspec.check.memory import libraries_beyond_limit, machine_memory, room_text
from cnnspec.errors import RunError

# What the dynamic loader says when a library does not fit in the process's address space.
UNMAPPED = ("failed to map segment", "cannot allocate memory")
# Where NumPy's ImportError quotes the loader's own error, after its advice on installing it.
ORIGINAL_ERROR = "Original error was:"


def numpy_loaded(command: str, draws: bool = False) -> None:
    """Import NumPy for the command ``command`` (``train``), unless it is loaded: raise a
    :class:`cnnspec.errors.LimitError` where the memory this process may use cannot hold it
    (and matplotlib, for a command that ``draws`` a picture), and a :class:`RunError` where
    importing it runs out of memory all the same."""
    if "numpy" in sys.modules:
        return
    refusal = libraries_beyond_limit(f"`cnnspec {command}`", draws)
    if refusal is not None:
        raise refusal
    try:
        import numpy  # noqa: F401
    except MemoryError as exc:
        raise _not_loaded(str(exc) or "out of memory") from None
    except ImportError as exc:
        if not any(words in str(exc).lower() for words in UNMAPPED):
            raise  # not a matter of memory: a broken installation, whose traceback is wanted
        raise _not_loaded(_loader_error(str(exc))) from None


def _loader_error(text: str) -> str:
    """The dynamic loader's error in NumPy's ImportError ``text``, without the advice around
    it (which is about installations)."""
    for line in text.splitlines():
        if line.strip().startswith(ORIGINAL_ERROR):
            return line.strip()[len(ORIGINAL_ERROR):].strip()
    return text.strip().splitlines()[0]


def _not_loaded(detail: str) -> RunError:
    limit = machine_memory()
    room = room_text(limit) if limit is not None else "the memory this process may use"
    return RunError(f"NumPy could not be loaded: {detail}",
                    hint=f"its libraries did not fit in {room}: raise the limit on this "
                         "process's memory (`ulimit -v`), or close other programs")
