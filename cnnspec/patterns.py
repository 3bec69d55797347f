"""Regular expressions compiled where they are first used, not where they are written.

``re.compile`` at a module's top runs whenever the module is imported, for every command:
Python's ``re`` compiles a pattern in Python code, some 0.3 M instructions for a short one,
and the ~20 patterns of the modules a ``cnnspec check`` imports that only a syntax error, a
warning about repeat blocks or a printed diagnostic reads were 2% of its start-up
(docs/measurements.md). :class:`LazyPattern` is written where ``re.compile`` would be and
read as the compiled pattern it stands for (``WORD.finditer(text)``, ``WORD.pattern``).
"""
from __future__ import annotations

import re


class LazyPattern:
    """A ``re.Pattern`` compiled on the first use of any of its attributes."""

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self._source = (pattern, flags)
        self._compiled: re.Pattern | None = None

    def __getattr__(self, name: str):
        # only for what the instance lacks itself: the compiled pattern's methods and fields
        if self._compiled is None:
            self._compiled = re.compile(*self._source)
        return getattr(self._compiled, name)

    @property
    def is_compiled(self) -> bool:
        """Whether the pattern has been used (and so compiled) in this process."""
        return self._compiled is not None

    def __repr__(self) -> str:
        return f"LazyPattern({self._source[0]!r})"
