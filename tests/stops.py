"""A step hook for the tests that stop a run in the middle, as Ctrl-C would."""
from __future__ import annotations


class StopAfter:
    """A step hook that raises KeyboardInterrupt (as Ctrl-C would) once ``k`` steps are done."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, step: int, model) -> None:
        if step + 1 == self.k:
            raise KeyboardInterrupt
