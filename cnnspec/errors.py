"""The error types every stage shares.

A user mistake is a :class:`SpecError`: a message in the user's terms, where it happened
(a :class:`Span` in a ``.cnn`` file, or a JSON path in a ``.json`` IR file) and a hint on how to
fix it. Stages that can find several mistakes collect them and raise one :class:`SpecErrors`.
Failures at run time that are not the spec's fault (a diverging loss, a bad data file, a failed
download) are :class:`RunError`. The CLI renders both; tracebacks are for bugs only.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A place in a source file: 1-based line and column; ``end_column`` is exclusive."""

    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None


@dataclass
class SpecError(Exception):
    """One mistake in a spec.

    ``span`` points into the ``.cnn`` source; ``json_path`` (e.g. ``$.layers[3].kernel``) is used
    for ``.json`` IR input, where there are no lines to point at. ``severity`` is ``"error"`` or
    ``"warning"``; warnings are reported the same way but do not fail a check unless ``--strict``.
    """

    message: str
    span: Span | None = None
    hint: str | None = None
    json_path: str | None = None
    severity: str = "error"
    file: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass
class SpecErrors(Exception):
    """Several spec errors found in one pass, reported together."""

    errors: list[SpecError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("; ".join(e.message for e in self.errors))


class RunError(Exception):
    """A failure while running (training, loading data, writing files) that is not a bug.

    ``hint`` says what the user can do about it. The CLI prints it and exits with code 1.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
