"""Rendering spec errors the way compilers do: ``file:line:col: error: message``, the source
line, a caret under the spot, and a hint."""
from __future__ import annotations

import functools
import textwrap
import unicodedata
from collections.abc import Iterable, Iterator

from cnnspec.errors import (
    MAX_WORD,
    SpecError,
    escaped_controls,
    long_words_shortened,
    shortened,
)
from cnnspec.patterns import LazyPattern
from cnnspec.sourcefile import lenient_text, source_lines

# The columns cnnspec's text fits on a terminal (a summary table, a message wrapped there):
# what a terminal or a code review shows without wrapping.
WIDTH = 100
# Source lines longer than this (a one-line JSON IR, say) are shown as a window around the spot.
MAX_SHOWN = WIDTH
# A message or hint quoting what the user wrote is cut here, whatever quoted it.
MAX_MESSAGE = 1000
CONTEXT = 40


def _source_line(err: SpecError, text: str | None) -> str | None:
    if err.span is None:
        return None
    if text is None and err.file:
        text = lenient_text(err.file)
    if text is None:
        return None
    lines = _lines(text)
    if 1 <= err.span.line <= len(lines):
        return lines[err.span.line - 1]
    return None


@functools.lru_cache(maxsize=4)
def _lines(text: str) -> tuple[str, ...]:
    """The lines of a spec's text, split once for all the errors shown in it (a check of n
    layers may warn of each: split for each, showing them took n^2 steps). Keyed by the text
    itself, never by a file's name, whose text may change between two calls."""
    return tuple(source_lines(text))


def _window(line: str, col: int) -> tuple[str, int]:
    """The part of a long line around 1-based ``col``, marked with ``...``, and the column there."""
    if len(line) <= MAX_SHOWN:
        return line, col
    start = max(0, col - 1 - CONTEXT)
    end = min(len(line), col - 1 + CONTEXT)
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(line) else ""
    return prefix + line[start:end] + suffix, col - start + len(prefix)


def _quoted(text: str) -> str:
    """A message or hint as shown: its words and the whole within their limits, its control
    characters escaped."""
    return shortened(long_words_shortened(escaped_controls(text), MAX_WORD), MAX_MESSAGE)


def _shown(line: str) -> str:
    """A source line as printed above its caret: a tab one space wide and each other control
    character a U+FFFD, so that every character takes one column (the caret stays under its
    spot) and none reaches the terminal as a command."""
    return "".join(" " if char == "\t" else "\ufffd" if unicodedata.category(char) == "Cc"
                   else char for char in line)


def _width(text: str) -> int:
    """The columns ``text`` takes on a terminal: two for a wide character (Chinese, Japanese,
    Korean, most emoji), none for a combining mark or a format character (a zero-width space),
    one for any other; the caret line is padded to it, its spaces each one column."""
    return sum(0 if unicodedata.category(char) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
               for char in text)


def wrapped(text: str, width: int | None, indent: int, first_indent: int = 0) -> list[str]:
    """``text`` on lines ``width`` columns wide at most, the first indented by
    ``first_indent``, those after it by ``indent`` (a word longer than a line stays whole);
    a command in backticks (`cnnspec summary a.cnn --explain`) kept on one line where it fits
    one, so that it reads, and pastes, whole; one line when ``width`` is None."""
    if width is None:
        return [text]
    joint = _code_space(text)
    lines = textwrap.wrap(_joined_code(text, width - max(indent, first_indent), joint), width,
                          initial_indent=" " * first_indent, subsequent_indent=" " * indent,
                          break_long_words=False, break_on_hyphens=False) or [text]
    return [line.replace(joint, " ") for line in lines]


# A backticked span with what is written onto it, a bracket or a comma: `(`a b`),`.
_CODE = LazyPattern(r"[^\s`]*`[^`]+`[^\s`]*")
# Unicode's private use area (U+E000 to U+F8FF), whose characters textwrap breaks no line at
_PRIVATE_USE = range(0xE000, 0xF900)


def _code_space(text: str) -> str:
    """What joins the words of a backticked command while ``text`` is wrapped: the first
    character of Unicode's private use area that ``text`` does not hold, so that turning it
    back into a space after wrapping changes none of the text's own (a message may quote a
    spec's line, which may hold any); ``text`` is far shorter than the area's 6,400."""
    return next(chr(code) for code in _PRIVATE_USE if chr(code) not in text)


def _joined_code(text: str, room: int, joint: str) -> str:
    """``text`` with the spaces inside each backticked span no longer than ``room`` columns
    (with what is written onto it) made ``joint``, so that a line breaks before the span,
    not inside it."""
    return _CODE.sub(lambda code: code[0].replace(" ", joint)
                     if len(code[0]) <= room else code[0], text)


def format_errors(errors: Iterable[SpecError], text: str | None = None,
                  names: dict | None = None, width: int | None = None) -> Iterator[str]:
    """:func:`format_error` of each of ``errors``, each of their files read once (not once
    for each error), unless ``text`` is given."""
    texts: dict[str, str | None] = {}
    for err in errors:
        shown = text
        if shown is None and err.file:
            if err.file not in texts:
                texts[err.file] = lenient_text(err.file)
            shown = texts[err.file]
        yield format_error(err, shown, names=names, width=width)


def format_error(err: SpecError, text: str | None = None, names: dict | None = None,
                 width: int | None = None) -> str:
    """The full message for one error or warning, without a trailing newline; ``names``: how
    the caller calls the settings a hint names (:meth:`SpecError.worded_hint`), else the
    library's words. With ``width`` the message and the hint are wrapped to it (for a
    terminal; an editor reading ``file:line:col: error: message`` from a pipe gets each on
    one line), the message's lines after the first indented 4, the hint's under its text."""
    where = shortened(escaped_controls(err.file or "<spec>"), MAX_MESSAGE)
    if err.span is not None:
        where += f":{err.span.line}:{err.span.column}"
    elif err.json_path:
        where += f": {err.json_path}"
    # the lint's name last on the message's line, as gcc and clang put `[-Wname]`: what
    # `--ignore NAME` silences and `check --explain NAME` explains
    named = f" [{err.lint}]" if err.lint else ""
    out = wrapped(f"{where}: {err.severity}: {_quoted(err.message)}{named}", width, 4)
    line = _source_line(err, text)
    if line is not None:
        col = err.span.column
        spanned = 1
        if err.span.end_column and (err.span.end_line in (None, err.span.line)):
            spanned = max(1, err.span.end_column - col)
        shown, col = _window(_shown(line), col)
        out.append(f"  {shown}")
        carets = max(1, _width(shown[col - 1:col - 1 + spanned]))
        out.append("  " + " " * _width(shown[:col - 1]) + "^" * carets)
    hint = err.hint if names is None else err.worded_hint(names)
    if hint:
        out += wrapped(f"hint: {_quoted(hint)}", width, len("hint: "))
    return "\n".join(out)
