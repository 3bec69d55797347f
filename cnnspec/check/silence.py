"""Silencing check's warnings by their lint's name (:mod:`cnnspec.check.lint_catalogue`):
everywhere (``check --ignore NAME``, ``check(spec, ignore=[...])``) or at one line of the spec,
by a trailing comment on the line the warning points at, as ruff's ``# noqa: CODE`` and
clang-tidy's ``// NOLINT(name)`` do::

    conv 16 3x3 tanh  # cnnspec: ignore[gain-misfit]

A name the catalogue does not hold is a mistake, said with the closest one: a silence that
silences nothing should not pass unnoticed.
"""
from __future__ import annotations

import re
from dataclasses import field

from cnnspec.check.lint_catalogue import BY_NAME
from cnnspec.errors import (
    SettingError,
    Span,
    SpecError,
    closest,
    library_worded,
    literal,
    shortened,
)
from cnnspec.ir.spec import Spec
from cnnspec.records import record

# A spec's comment that silences lints at its line; the names inside the brackets, comma
# separated.
SPOT = re.compile(r"#\s*cnnspec:\s*ignore\[([^\]]*)\]")
# Such a comment written without its brackets (`# cnnspec: ignore gain-misfit`), which would
# otherwise silence nothing without a word.
UNBRACKETED = re.compile(r"#\s*cnnspec:\s*ignore\b")
# What a spec must hold for a spot silence to be looked for (its comments are lexed only then).
SPOT_MARK = "cnnspec:"
# A hint template (:class:`cnnspec.errors.WordedError`): the command as the caller types it.
LIST_HINT = "`{check_command:--explain}` lists every lint's name"


def unknown_hint(name: str) -> str:
    """The hint (a template) for a lint's name ``name`` the catalogue does not hold."""
    close = closest(name, BY_NAME)
    return f"did you mean '{close}'? {LIST_HINT}" if close else LIST_HINT


def lint_names(names) -> frozenset[str]:
    """``names``, a comma-separated text or an iterable of lint names (None: none), as a set;
    a name the catalogue does not hold is a :class:`SettingError` (exit 2 on the command
    line)."""
    if names is None:
        return frozenset()
    if isinstance(names, str):
        names = names.split(",")
    try:
        given = [name.strip() for name in names]
    except (TypeError, AttributeError):
        raise SettingError(f"ignore takes lint names, not {literal(shortened(repr(names)))}",
                           hint=LIST_HINT, invalid=True) from None
    for name in given:
        if name not in BY_NAME:
            raise SettingError(f"unknown lint {literal(repr(shortened(name, 40)))}",
                               hint=unknown_hint(name), invalid=True)
    return frozenset(given)


@record(frozen=True)
class Silences:
    """The lints silenced everywhere (``names``) and at lines of the spec (``lines``: line
    number -> names)."""

    names: frozenset[str] = frozenset()
    lines: dict[int, frozenset[str]] = field(default_factory=dict)

    def silences(self, warning: SpecError) -> bool:
        if warning.lint is None:
            return False
        at = self.lines.get(warning.span.line, frozenset()) if warning.span else frozenset()
        return warning.lint in self.names or warning.lint in at

    def kept(self, warnings: list[SpecError]) -> list[SpecError]:
        """``warnings`` less the silenced ones."""
        return [warning for warning in warnings if not self.silences(warning)]


def spot_silences(spec: Spec) -> tuple[dict[int, frozenset[str]], list[SpecError]]:
    """The lints silenced at each line of ``spec``'s text by a ``# cnnspec: ignore[...]``
    comment, and an error for each name there the catalogue does not hold (at the name), and
    for such a comment without its brackets."""
    if spec.text is None or SPOT_MARK not in spec.text:
        return {}, []
    from cnnspec.lang.parser import parse_with_comments  # only a spec that has such a comment

    lines, errors = {}, []
    for comment in parse_with_comments(spec.text, path=spec.path)[1]:
        names, mistakes = _comment_silences(comment, spec.path)
        errors += mistakes
        if names is not None:
            lines[comment.line] = lines.get(comment.line, frozenset()) | names
    return lines, errors


def _comment_silences(comment, path: str | None) -> tuple[frozenset[str] | None, list[SpecError]]:
    """The lints the ``#`` comment token ``comment`` silences at its line (None: it is no
    silence), and the errors for what in it is not a silence as written."""
    found = SPOT.search(comment.value)
    if found is None:
        if not UNBRACKETED.search(comment.value):
            return None, []
        return None, [_comment_error(
            "a `# cnnspec: ignore` comment names its lints in brackets",
            Span(comment.line, comment.column, comment.line, comment.column + len(comment.value)),
            "write `# cnnspec: ignore[NAME]` (names separated by commas); " + LIST_HINT, path)]
    names, errors = set(), []
    at = comment.column + found.start(1)
    for word in found[1].split(","):
        name = word.strip()
        column = at + len(word) - len(word.lstrip())
        at += len(word) + 1
        if name in BY_NAME:
            names.add(name)
            continue
        errors.append(_comment_error(
            f"unknown lint {shortened(name, 40)!r} in a `# cnnspec: ignore` comment",
            Span(comment.line, column, comment.line, column + max(1, len(name))),
            unknown_hint(name), path))
    return frozenset(names), errors


def _comment_error(message: str, span: Span, hint_template: str, path: str | None) -> SpecError:
    """An error in a silencing comment, its hint a template that names a command."""
    return SpecError(message, span=span, hint=library_worded(hint_template),
                     hint_template=hint_template, file=path)
