"""Silencing comments that silence nothing, as ruff's RUF100 says of a ``# noqa: CODE`` no
warning needs: a ``# cnnspec: ignore[NAME]`` on a line where check finds no warning of that
lint (nor one about the layer of that line), a ``# cnnspec: ignore-file[NAME]`` in a spec
where it finds none anywhere. Left there, it hides the next warning of that lint a change of
the spec brings, unseen. A comment on the line of one of several layers a warning located on
a `default` line is about silences it only with the others' lines: that is said instead.

Which lints are judged is the catalogue's to say (:func:`cnnspec.check.lint_catalogue
.unused_ignores`): a lint whose warnings come only once ``train`` reads the data may need its
silence then.
"""
from __future__ import annotations

from cnnspec.errors import SpecError, listed
from cnnspec.ir.spec import Spec

# The hint of a name that silences nothing.
REMOVE_HINT = ("remove '{}' from the comment (the comment, if it names no other lint): left "
               "there, it would hide the next such warning a change brings")


def unused_silences(spec: Spec, silences, judged: list, warnings: list[SpecError]
                    ) -> list[SpecError]:
    """A warning at each name of ``judged`` (:class:`cnnspec.check.silence.Written`), written
    in a silencing comment of ``spec`` (``silences``, :class:`cnnspec.check.silence
    .Silences`), that silences none of ``warnings``."""
    out = []
    for written in judged:
        if any(silences.silenced_by(written, warning) for warning in warnings):
            continue
        shared = next((w for w in warnings if silences.about_line(written, w)), None)
        out.append(_unused(spec, written) if shared is None
                   else _alone(spec, written, shared))
    return out


def _unused(spec: Spec, written) -> SpecError:
    """The warning that the name ``written`` silences nothing."""
    return SpecError(
        f"`{written.form.written(written.name)}` silences nothing: check finds no "
        f"{written.name} warning {written.form.scope}",
        span=written.span, severity="warning", file=spec.path,
        hint=REMOVE_HINT.format(written.name))


def _alone(spec: Spec, written, warning: SpecError) -> SpecError:
    """The warning that the name ``written``, on the line of one of the layers ``warning``
    is about, does not silence it alone."""
    about = listed([f"'{name}'" for name in warning.about])
    return SpecError(
        f"`{written.form.written(written.name)}` silences nothing alone: the "
        f"{written.name} warning at line {warning.span.line} is about {about}",
        span=written.span, severity="warning", file=spec.path,
        hint=f"write it on the line of each of {about} too, or at line {warning.span.line} "
             "alone")
