"""How many trainings run at once: ``check`` holds each training alone against the whole
machine's memory, but ``compare`` and a sweep on a local cluster run several at once, which
must fit together (their jobs or workers are capped by it, and a number given beyond it is
refused before anything trains)."""
from __future__ import annotations

from cnnspec.check import memory
from cnnspec.check.memory import bytes_text
from cnnspec.errors import SpecError, hinted
from cnnspec.sweep.cells import Cell


def trainings_that_fit(process: int) -> int:
    """How many processes of ``process`` bytes this machine's memory holds at once (any
    number where it does not say)."""
    room = memory.machine_memory()
    return room // process if room is not None and process else 1 << 30


def largest_process(cells: list[Cell]) -> int:
    """The memory of a process training the heaviest of ``cells`` (as their check found it)."""
    return max((cell.process for cell in cells), default=0)


def refuse_beyond_memory(count: int, process: int, setting: str, spec) -> None:
    """Refuse ``count`` trainings of ``process`` bytes at once (asked for with ``setting``,
    compare's ``jobs``, a sweep's ``workers``) where the machine's memory holds fewer; the
    hint names it as the caller gives it (``--jobs 1``, ``jobs=1``)."""
    fit = trainings_that_fit(process)
    if count > fit:
        raise SpecError(
            f"{count} trainings at once would need up to about "
            f"{bytes_text(count * process)} ({bytes_text(process)} each), more than "
            f"{memory.room_text(memory.machine_memory())}",
            file=str(spec), **hinted(f"use {{{setting}:{fit}}}: check holds each training "
                                     "alone against the whole machine"))
