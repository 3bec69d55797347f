"""Reading a spec file's text: the one function every reader of ``.cnn`` and ``.json`` files
calls (the parser, the IR loader, ``fmt``, the init variants, error rendering).

A spec is UTF-8 text. A leading byte-order mark (which some Windows editors write) is dropped,
so that line 1 column 1 is the first character the user sees. Bytes that are not UTF-8 are a
:class:`SpecError` located at the line and column where they start; a file that cannot be read
at all is a :class:`RunError`.
"""
from __future__ import annotations

import codecs
from pathlib import Path

from cnnspec.errors import InputError, RunError, Span, SpecError


def read_spec_text(path: str | Path) -> str:
    """The text of the spec file at ``path``, without a byte-order mark."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}",
                         hint="check the path and the file name") from None
    except IsADirectoryError:
        raise not_a_file(path) from None
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}",
                       hint="check that the file exists and that you may read it") from None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, exc.start, str(path)) from None


def not_a_file(path: str | Path) -> InputError:
    return InputError(f"{path} is a directory, not a spec file",
                      hint="name a .cnn spec or a .json IR file")


def lenient_text(path: str | Path) -> str | None:
    """The file's text for showing a line of it under an error: undecodable bytes replaced,
    None if it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return data.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace")


def _not_utf8(data: bytes, start: int, path: str) -> SpecError:
    """The error for the undecodable byte at offset ``start``, at its line and column."""
    before = data[:start].decode("utf-8")  # everything before the first bad byte decodes
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return SpecError(f"the file is not UTF-8 text: byte 0x{data[start]:02X} cannot be decoded",
                     span=Span(line, column, line, column + 1),
                     hint="save the spec as UTF-8 (most editors offer it under 'encoding')",
                     file=path)
