"""Silencing check's warnings by their lint's name (:mod:`cnnspec.check.lint_catalogue`):
everywhere (``check --ignore NAME``, ``check(spec, ignore=[...])``), in one spec by a comment
``# cnnspec: ignore-file[NAME]`` anywhere in it (at its top, by convention: as ruff's
``# ruff: noqa: CODE`` silences a rule in one file), or at one line of the spec, by a trailing
comment on the line the warning points at, as ruff's ``# noqa: CODE`` and clang-tidy's
``// NOLINT(name)`` do::

    # cnnspec: ignore-file[stacked-linear]
    input 1x28x28
    conv 16 3x3 tanh  # cnnspec: ignore[gain-misfit]

A name the catalogue does not hold is a mistake, said with the closest one: a silence that
silences nothing should not pass unnoticed; nor should a name that silences no warning check
finds (:mod:`cnnspec.check.unused`, the lint ``unused-ignore``).
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
from cnnspec.patterns import LazyPattern
from cnnspec.records import record


@record(frozen=True)
class Form:
    """A comment that silences lints by name, ``# cnnspec: WORD[NAME, ...]``: where it
    silences them (``reach``, for the docs; ``scope``, for a message), and a line that
    carries it."""

    word: str
    reach: str
    example: str
    scope: str

    def written(self, names: str = "NAME") -> str:
        return f"# cnnspec: {self.word}[{names}]"


FILE_FORM = Form("ignore-file", "the warnings of those lints anywhere in the spec, as ruff's "
                 "`# ruff: noqa: CODE` does in a file; by convention on a line of its own at "
                 "the top", "# cnnspec: ignore-file[stacked-linear]", "anywhere in the spec")
LINE_FORM = Form("ignore", "the warnings of those lints that point at its line: a trailing "
                 "comment on the line a warning points at, as ruff's `# noqa: CODE` and "
                 "clang-tidy's `// NOLINT(name)`; a warning about layers whose init a "
                 "`default` line wrote points at that line, and is silenced there or by such a "
                 "comment on the line of each layer it is about", "conv 16 3x3 tanh  # cnnspec: "
                 "ignore[gain-misfit]", "at this line or at its layer")
FORMS = (FILE_FORM, LINE_FORM)
FORM_OF = {form.word: form for form in FORMS}
_WORDS = "|".join(re.escape(form.word) for form in sorted(FORMS, key=lambda f: -len(f.word)))
# A spec's comment that silences lints: its form's word, and the names inside the brackets,
# comma separated.
SILENCE = LazyPattern(rf"#\s*cnnspec:\s*({_WORDS})\[([^\]]*)\]")
# Such a comment written without its brackets (`# cnnspec: ignore gain-misfit`), which would
# otherwise silence nothing without a word.
UNBRACKETED = LazyPattern(rf"#\s*cnnspec:\s*({_WORDS})\b")
# What a spec must hold for a spot silence to be looked for (its comments are lexed only then).
SPOT_MARK = "cnnspec:"
# A hint template (:class:`cnnspec.errors.WordedError`): the command as the caller types it.
LIST_HINT = "`{check_command:--explain}` lists every lint's name"


def unknown_hint(name: str) -> str:
    """The hint (a template) for a lint's name ``name`` the catalogue does not hold."""
    close = closest(name, BY_NAME)
    return f"did you mean '{close}'? {LIST_HINT}" if close else LIST_HINT


def unknown_text(name: str) -> str:
    """What is wrong with ``name``, a lint's name the catalogue does not hold: an empty one
    is a name left out (``gain-misfit,``, ``ignore[]``), not a lint called ''."""
    if not name:
        return "a lint's name is missing (nothing between a comma or bracket and the next)"
    return f"unknown lint {shortened(name, 40)!r}"


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
            raise SettingError(literal(unknown_text(name)), hint=unknown_hint(name),
                               invalid=True)
    return frozenset(given)


@record(frozen=True)
class Written:
    """One lint's name written in a silencing comment: the comment's form (of
    :data:`FORMS`), the name, and where the name stands."""

    form: Form
    name: str
    span: Span


@record(frozen=True)
class Silences:
    """The lints silenced everywhere (``names``) and at lines of the spec (``lines``: line
    number -> names); every name a comment wrote (``written``), and the line of each layer
    (``layer_lines``), where a comment silences the warnings about that layer located on a
    `default` line (:attr:`SpecError.about`)."""

    names: frozenset[str] = frozenset()
    lines: dict[int, frozenset[str]] = field(default_factory=dict)
    written: tuple[Written, ...] = ()
    layer_lines: dict[str, int] = field(default_factory=dict)

    def silences(self, warning: SpecError) -> bool:
        return warning.lint is not None and (
            warning.lint in self.names or bool(self.silencing_lines(warning)))

    def silencing_lines(self, warning: SpecError) -> set[int]:
        """The lines whose ``# cnnspec: ignore[...]`` comments silence ``warning``: the line
        it points at, where one there names its lint, and the lines of the layers it is about
        (where its span is elsewhere), where one on each of them names it."""
        def names_it(line: int | None) -> bool:
            return warning.lint in self.lines.get(line, frozenset())

        found = {warning.span.line} if warning.span and names_it(warning.span.line) else set()
        about = [self.layer_lines.get(name) for name in warning.about]
        if about and all(names_it(line) for line in about):
            found |= set(about)
        return found

    def kept(self, warnings: list[SpecError]) -> list[SpecError]:
        """``warnings`` less the silenced ones."""
        return [warning for warning in warnings if not self.silences(warning)]

    def about_line(self, written: Written, warning: SpecError) -> bool:
        """Whether the name ``written`` stands on the line of a layer ``warning`` is about,
        located elsewhere (:attr:`SpecError.about`): it silences the warning once each such
        layer's line carries it."""
        return (written.form == LINE_FORM and warning.lint == written.name
                and written.span.line in {self.layer_lines.get(name) for name in warning.about})

    def silenced_by(self, written: Written, warning: SpecError) -> bool:
        """Whether the name ``written`` in a comment silences ``warning``."""
        if warning.lint != written.name:
            return False
        return written.form == FILE_FORM or written.span.line in self.silencing_lines(
            warning)


def spec_silences(spec: Spec, ignore=()) -> tuple[Silences, list[SpecError]]:
    """The lints silenced in ``spec``: those ``ignore`` names (see :func:`lint_names`) and
    those its ``# cnnspec: ignore-file[...]`` comments name, everywhere; those its
    ``# cnnspec: ignore[...]`` comments name, at their lines. With them, an error for each
    name in a comment the catalogue does not hold (at the name), and for such a comment
    without its brackets."""
    names = lint_names(ignore)
    if spec.text is None or SPOT_MARK not in spec.text:
        return Silences(names), []
    from cnnspec.lang.parser import parse_with_comments  # only a spec that has such a comment

    lines, written, errors = {}, [], []
    for comment in parse_with_comments(spec.text, path=spec.path)[1]:
        found, mistakes = _comment_silences(comment, spec.path)
        errors += mistakes
        written += found
        for name in found:
            if name.form == FILE_FORM:
                names |= {name.name}
            else:
                lines[comment.line] = lines.get(comment.line, frozenset()) | {name.name}
    layer_lines = {layer: span.line for (layer, field_name), span in spec.spans.items()
                   if field_name is None}
    return Silences(names, lines, tuple(written), layer_lines), errors


def _comment_silences(comment, path: str | None) -> tuple[list[Written], list[SpecError]]:
    """The lints' names the ``#`` comment token ``comment`` writes in its silences (none: it
    is no silence), and the errors for what in it is not a silence as written. A comment may
    carry several (``# cnnspec: ignore-file[a]  # cnnspec: ignore[b]``): each is read."""
    found = list(SILENCE.finditer(comment.value))
    if not found:
        loose = UNBRACKETED.search(comment.value)
        if loose is None:
            return [], []
        return [], [_comment_error(
            f"a `# cnnspec: {loose[1]}` comment names its lints in brackets",
            Span(comment.line, comment.column, comment.line, comment.column + len(comment.value)),
            f"write `# cnnspec: {loose[1]}[NAME]` (names separated by commas); " + LIST_HINT,
            path)]
    names, errors = [], []
    for silence in found:
        errors += _stray_brackets(comment, silence, path)
        at = comment.column + silence.start(2)
        for word in silence[2].split(","):
            name = word.strip()
            column = at + len(word) - len(word.lstrip())
            at += len(word) + 1
            span = Span(comment.line, column, comment.line, column + max(1, len(name)))
            if name in BY_NAME:
                names.append(Written(FORM_OF[silence[1]], name, span))
                continue
            errors.append(_comment_error(
                f"{unknown_text(name)} in a `# cnnspec: {silence[1]}` comment", span,
                unknown_hint(name), path))
    return names, errors


def _stray_brackets(comment, found: re.Match, path: str | None) -> list[SpecError]:
    """An error for a bracket left after a silence's closing one (``ignore[gain-misfit]]``),
    which a reader takes for a typo the comment might hide more of."""
    after = comment.value[found.end():]
    if not after.lstrip().startswith("]"):
        return []
    column = comment.column + found.end() + len(after) - len(after.lstrip())
    return [_comment_error(f"a stray `]` after the `# cnnspec: {found[1]}[...]` comment's names",
                           Span(comment.line, column, comment.line, column + 1),
                           f"write `# cnnspec: {found[1]}[NAME]` (names separated by commas) "
                           "with one closing bracket", path)]


def _comment_error(message: str, span: Span, hint_template: str, path: str | None) -> SpecError:
    """An error in a silencing comment, its hint a template that names a command."""
    return SpecError(message, span=span, hint=library_worded(hint_template),
                     hint_template=hint_template, file=path)
