"""The reader a suggested line is tried with: the package's parse (text -> Spec).

:mod:`cnnspec.lang.foreign` tries the lines it suggests for other libraries' layers by
parsing them; the parse is :func:`cnnspec.lang.parse`, which imports the modules that import
``foreign``, so ``cnnspec.lang`` hands it over (:func:`read_lines_with`) as it is imported.
It is kept here, not in ``foreign``, so that handing it over does not import ``foreign`` and
its tables of other libraries' names, which only a spec written in another library's words
needs (``tests/test_startup.py``).
"""
from __future__ import annotations

from collections.abc import Callable

_parse: Callable | None = None


def read_lines_with(parse: Callable) -> None:
    """Make ``parse`` the reader :func:`tried` reads a line with."""
    global _parse
    _parse = parse


def tried(text: str):
    """``text`` parsed by the reader :func:`read_lines_with` was given (its Spec), or the
    reader's :class:`~cnnspec.errors.SpecError` raised."""
    return _parse(text)
