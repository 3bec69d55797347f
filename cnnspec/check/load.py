"""``load``: a ``.cnn`` spec or ``.json`` IR file, parsed (or validated) and checked."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from cnnspec.check.checker import check, refuse
from cnnspec.check.model import CheckedSpec
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import (
    MAX_WORD,
    InputError,
    Mend,
    SettingError,
    Span,
    SpecError,
    SpecErrors,
    WordedInputError,
    literal,
    shell_word,
    shortened,
)
from cnnspec.given import given_path, shown
from cnnspec.ir.spec import Spec
from cnnspec.records import record
from cnnspec.sourcefile import (
    CAFFE_SUFFIXES,
    DARKNET_SUFFIXES,
    KERAS_SUFFIXES,
    ONNX_SUFFIXES,
    SAVED_MODELS,
    SPEC_SUFFIXES,
    import_first,
    missing_file,
    not_a_file,
    read_spec_text,
    source_lines,
)


def given_spec_path(path, parameter: str = "path") -> Path:
    """``path`` as the ``Path`` of a spec file; a value that is no path (a number, None, the
    text of a spec) is a :class:`SettingError` naming the caller's ``parameter``."""
    if isinstance(path, str) and "\n" in path:  # no file name holds a line break; a spec does
        raise SettingError(f"{{{parameter}}} takes a path to a .cnn or .json file, not a "
                           f"spec's text ({shown(path)})", invalid=True,
                           hint="save the text to a .cnn file and pass its path, or check the "
                           "text itself: cnnspec.check.check(cnnspec.parse(text))")
    return given_path(path, parameter, "a .cnn or .json file", "specs/digits.cnn")


def read_spec(path: str | Path, parameter: str = "path") -> Spec:
    """The parsed spec of a ``.cnn`` file, or the validated IR of a ``.json`` file (unchecked).
    A ``path`` that is no path is a :class:`SettingError` (:func:`given_spec_path`); a mistake
    in the file is :class:`SpecErrors`, as the checker's are, so that a caller catches one
    type for every mistake a spec holds (the parser stops at its first: a list of one)."""
    path = given_spec_path(path, parameter)
    try:
        return _read_spec(path)
    except SpecError as exc:
        raise SpecErrors([exc]) from None


def parse_spec(text: str, path: str | None = None) -> Spec:
    """The language's :func:`~cnnspec.lang.parse` of a spec's ``text`` (unchecked), whose
    error, where its hint writes a line in place of the user's, says what the checker makes
    of that line there (:func:`rewrite_checked`)."""
    from cnnspec.lang import parse  # Lark loads only for a .cnn spec

    try:
        return parse(text, path)
    except SpecError as error:
        raise rewrite_checked(error, text, path) from None


def rewrite_checked(error: SpecError, text: str, path: str | None) -> SpecError:
    """``error``, whose hint tells to write another line in place of the one it points at
    (``error.rewrite``: Caffe's ``conv1: Convolution 8 11`` as ``conv1: conv 8 11``, Keras'
    ``Conv2D(8, 11)``), with what the checker says of that line in the spec's place, where
    it refuses it: the shapes and parameters a line written so gets (an 11x11 kernel on an
    8x8 input), which a line read alone cannot be checked for. The error keeps its place,
    the user's line; ``error`` itself where its hint writes no line."""
    if error.span is None:
        return error
    if error.rewrite is None:
        return _mends_chained(error, text, path)
    rewrite, mends, tried, refused = _mended_until_read(error.rewrite, error.span.line, text,
                                                        path)
    if mends:  # the line as the hint writes it once mended, which the refusal below is of
        hint = error.hint.replace(f"`{error.rewrite}`", f"`{rewrite}` ({_why(mends)})")
        error = dataclasses.replace(error, hint=hint, rewrite=rewrite)
    if not refused:
        return dataclasses.replace(error, hint=error.hint + _unchecked(tried))
    why = refused[0].message + (f" ({refused[0].hint})" if refused[0].hint else "")
    why = _unnamed(why, tried.spec, error.span.line, rewrite)
    return dataclasses.replace(error, hint=f"{error.hint}; but in this spec that line is "
                                           f"refused: {why}")


def _mends_chained(error: SpecError, text: str, path: str | None) -> SpecError:
    """``error``, whose hint mends a word of its line (``error.mend``: PyTorch's
    ``kaiming_normal_``), with the whole line to write where the line so mended is refused in
    turn and further mends make one the checker reads (its ``nonlinearity=relu``): one error
    says it all, not the first of two."""
    mend = error.mend
    if mend is None or not _within(mend.span, error.span.line) or error.hint is None:
        return error
    line = source_lines(text)[error.span.line - 1]
    start = len(line) - len(line.lstrip())
    rewrite = _mended(line[start:].rstrip(), mend, line[:start])
    rewrite, mends, tried, refused = _mended_until_read(rewrite, error.span.line, text, path)
    if refused:
        return error
    said = f"; the line then reads `{rewrite}` ({_why(mends)})" if mends else ""
    return dataclasses.replace(error, hint=error.hint + said + _unchecked(tried))


def _mended_until_read(rewrite: str, line: int, text: str, path: str | None
                       ) -> tuple[str, list[str], Tried, list[SpecError]]:
    """``rewrite`` tried on ``line`` of the spec ``text``, mended by each error's mend there
    while the checker refuses it for one (at most ``MOST_MENDS``), or written as that error's
    own hint writes the line (its quotes taken off a name: ``rewrite``): the line, why each
    mend was made, the last try and what the checker still refuses on that line."""
    mends = []
    while True:
        tried, refused = _tried(rewrite, line, text, path)
        first = refused[0] if refused and len(mends) < MOST_MENDS and "\n" not in rewrite \
            else None
        if first is not None and first.mend is not None and _within(first.mend.span, line):
            rewrite, mends = _mended(rewrite, first.mend, tried.indent), [*mends, first.mend.why]
        elif first is not None and first.rewrite not in (None, rewrite) \
                and "\n" not in first.rewrite:
            rewrite, mends = first.rewrite, [*mends, first.message]
        else:
            return rewrite, mends, tried, refused


def _unchecked(tried: Tried) -> str:
    """What a hint adds where the line it writes could not be checked in the spec (another
    line's mistake kept the spec from being read, cut and closed as it might be): so, and
    why; nothing where it was checked."""
    if tried.unread is None:
        return ""
    where = f"line {tried.unread.span.line}: " if tried.unread.span is not None else ""
    return (f"; the spec does not read for another mistake ({where}{tried.unread.message}), "
            "so that line could not be checked against the rest of it")


def _within(span: Span, line: int) -> bool:
    """Whether ``span`` lies on ``line`` alone: a mend of a call that runs on into the next
    line (its arguments there) is no replacement within one line."""
    return span.line == line and span.end_line in (None, line)


def _why(mends: list[str]) -> str:
    """Why each mend was made, each reason once: a line mends PyTorch's trailing '_' on its
    weight's init and on its bias's for one reason."""
    return "; ".join(dict.fromkeys(mends))


# The most mends (SpecError.mend) a rewritten line takes on its way to one the checker reads:
# a PyTorch init call takes three (its quotes, its name's '_', its nonlinearity=).
MOST_MENDS = 4


# The most blocks a try closes that are open around the line it writes (a repeat block inside
# another, with a layer line the hint writes).
MOST_CLOSED = 3


@record(frozen=True)
class Tried:
    """A spec with a line written in place of the user's: the spec (None where it did not
    parse), the blanks the written line starts with, and the mistake of another line that
    kept the spec from being read however it was cut or closed (``unread``: the written line
    is then unchecked, not found fine)."""

    spec: Spec | None
    indent: str
    unread: SpecError | None = None


def _tried(rewrite: str, line: int, text: str, path: str | None
           ) -> tuple[Tried, list[SpecError]]:
    """The spec ``text`` with ``rewrite`` written in place of its ``line`` (1-based; the lines
    after it too where ``rewrite`` holds line breaks), parsed and checked, and the errors the
    checker finds on that line."""
    lines = source_lines(text, keepends=True)
    replaced = rewrite.split("\n")
    written = lines[line - 1]
    # the grammar skips spaces and tabs alone (WS_INLINE): another blank the line is indented
    # with (a form feed, a no-break space) would be refused in the tried line as it is there
    indent = re.sub(r"[^ \t]", " ", written[:len(written) - len(written.lstrip())])
    written = slice(line - 1, line - 1 + len(replaced))
    lines[written] = [indent + part + "\n" for part in replaced]
    tried, refused, later = _checked(lines, line, written, indent, path)
    if later:  # another line's own syntax error, after the written ones: check without it
        tried, refused, _ = _checked(lines[:written.stop], line, written, indent, path)
    closed = lines[:written.stop]
    while _left_open(tried) and len(closed) - written.stop < MOST_CLOSED:
        # a block open around the written lines (train's, a repeat's): cut after them, closed
        closed = [*closed, "}\n"]
        tried, refused, _ = _checked(closed, line, written, indent, path)
    return tried, refused


def _left_open(tried: Tried) -> bool:
    """Whether the try was not read for a block (``train {``) its ``}`` never closes: one the
    user left open around the written line, or that a cut after it leaves open."""
    from cnnspec.lang.syntax_errors import BLOCK_NOT_CLOSED

    return tried.unread is not None and tried.unread.message == BLOCK_NOT_CLOSED


def _checked(lines: list[str], line: int, written: slice, indent: str, path: str | None
             ) -> tuple[Tried, list[SpecError], bool]:
    """The spec of ``lines`` parsed and checked: the try, the errors on ``line`` (or that the
    ``written`` lines cause further on), and whether the parser stopped at a line after the
    written ones for a mistake of that line's own, which hides what the checker says of them."""
    from cnnspec.lang import parse  # Lark loads only for a .cnn spec

    spec = None
    try:
        spec = parse("".join(lines), path)
        refuse(spec)  # its errors alone: what the lints would warn of is never said here
    except (SpecError, SpecErrors) as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        caused = [found for found in errors
                  if found.span is not None and (found.span.line == line or spec is None
                                                 and _stopped_by(found, lines, written, path))]
        later = spec is None and not caused and any(
            found.span is not None and found.span.line > written.stop for found in errors)
        unread = errors[0] if spec is None and not caused and not _reads(lines, path) else None
        return Tried(spec, indent, unread), caused, later
    return Tried(spec, indent), [], False


def _reads(lines: list[str], path: str | None) -> bool:
    """Whether the spec of ``lines`` gets past the grammar: where it does, a mistake of
    another line that keeps it from being resolved (an unknown kind) leaves the written line
    read, its own mistakes found beside that one."""
    from cnnspec.lang import parse_module

    try:
        parse_module("".join(lines), path)
    except (SpecError, SpecErrors):  # SpecErrors: several foreign lines, a model pasted whole
        return False
    return True


def _stopped_by(error: SpecError, lines: list[str], written: slice, path: str | None) -> bool:
    """Whether the parse ``error``, past the ``written`` lines of the spec's ``lines``, follows
    from them: the spec with those lines blank parses past its place. A '(' a written line
    leaves open runs on into the next line (a call may span lines), which the parser refuses
    there, not on the written line. The spec so blanked may hold several mistakes the
    resolver reports together (unknown kinds on two later lines): ``error`` is one of them
    where it does not follow."""
    from cnnspec.lang import parse

    if error.span.line <= written.start + 1:
        return False
    blank = [*lines[:written.start], *["\n"] * (written.stop - written.start),
             *lines[written.stop:]]
    try:
        parse("".join(blank), path)
    except (SpecError, SpecErrors) as without:
        found = without.errors if isinstance(without, SpecErrors) else [without]
        return all(other.span != error.span for other in found)
    return True


def _mended(rewrite: str, mend: Mend, indent: str) -> str:
    """The one-line ``rewrite``, written after ``indent`` in the tried spec, with ``mend``'s
    text in place of what its span holds."""
    start, end = mend.span.column - 1 - len(indent), mend.span.end_column - 1 - len(indent)
    return rewrite[:start] + mend.text + rewrite[end:]


def _unnamed(said: str, tried: Spec | None, line: int, rewrite: str) -> str:
    """What the checker ``said`` of the layer a rewritten line (``rewrite``, on ``line`` of
    the ``tried`` spec) declares, its name made up by the resolver (``conv 'conv2'``, where
    the user's line gives none) said as "that layer": the user wrote no such name."""
    if tried is None:
        return said
    for layer in tried.ir["layers"]:
        name = layer["name"]
        span = tried.spans.get((name, None))
        if span is None or span.line != line:
            continue
        if rewrite.lstrip().startswith(f"{name}:"):  # the user's own label, kept
            return said
        return re.sub(rf"\b{re.escape(layer['kind'])}(?: layer)? '{re.escape(name)}'",
                      "that layer", said)
    return said


def _read_spec(path: Path) -> Spec:
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # a name longer than the file system takes, say
        raise InputError(f"cannot read {shortened(str(path), MAX_WORD)}: {exc.strerror}",
                         hint="check the path and the file name") from None
    if is_dir:
        raise not_a_file(path)
    suffix = path.suffix.lower()  # NET.CNN is a spec too, as LENET.PROTOTXT is a prototxt
    if suffix not in SPEC_SUFFIXES:
        if not path.exists():  # missing, whatever its name says
            raise missing_file(path)
        raise _not_a_spec(path)
    if suffix == ".json":
        from cnnspec.ir.io import read_json  # jsonschema loads only for a .json file

        return read_json(path)
    return parse_spec(read_spec_text(path), str(path))


def _not_a_spec(path: Path) -> WordedInputError:
    """The error for a file whose suffix is no spec's: a model of another framework is told
    the command that imports it, a saved model or weights what to give instead."""
    suffix = path.suffix.lower()  # LENET.PROTOTXT is a prototxt too
    if _holds_spec_text(path):  # a spec saved under another name: net.txt, net.onnx
        renamed = path.with_suffix(".cnn")
        return WordedInputError(
            literal(f"{path} holds a spec's text, but a spec's file name ends in .cnn"),
            hint=f"rename it: mv {shell_word(str(path))} {shell_word(str(renamed))}")
    if suffix in CAFFE_SUFFIXES + DARKNET_SUFFIXES + ONNX_SUFFIXES or \
            suffix in KERAS_SUFFIXES and suffix not in SPEC_SUFFIXES:
        what = "a Caffe model definition" if suffix in CAFFE_SUFFIXES else \
            "a Darknet network" if suffix in DARKNET_SUFFIXES else \
            "an ONNX model" if suffix in ONNX_SUFFIXES else \
            "a Keras model saved with model.save()"
        return WordedInputError(literal(f"{path} is {what}, not a spec"),
                                hint=import_first(path))
    if suffix in SAVED_MODELS:
        what, instead = SAVED_MODELS[suffix]
        return WordedInputError(literal(f"{path} is {what}"), hint=instead)
    return WordedInputError(
        literal(f"{path}: not a spec file (expected a .cnn spec or a .json IR file)"),
        hint="`{export_command} SPEC.cnn > SPEC.json` writes an IR file")


# How much of a file is read to tell whether it holds a spec's text: its first statement is
# within the first lines of comments a spec may open with.
SNIFFED_BYTES = 4096


def _holds_spec_text(path: Path) -> bool:
    """Whether the file at ``path`` is text whose first line that is not blank or a comment
    starts with a statement keyword of the language (``model digits``, ``input 1x8x8``); a
    file that cannot be read, or is no UTF-8 text, holds none."""
    from cnnspec.lang.layers import STATEMENT_KEYWORDS

    try:
        if not path.is_file():
            return False
        with open(path, "rb") as handle:
            head = handle.read(SNIFFED_BYTES).decode("utf-8", errors="strict")
    except (OSError, UnicodeDecodeError):  # cut in a character at the end: not text enough
        return False
    for line in head.lstrip("\ufeff").splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            return words[0] in STATEMENT_KEYWORDS
    return False


def load(path: str | Path, strict: bool = False, max_memory: int | None = None,
         for_training: bool = True, dtype: str = DEFAULT_DTYPE, ignore=()) -> CheckedSpec:
    """Parse (``.cnn``) or validate (``.json``) the file at ``path`` and check it
    (:func:`~cnnspec.check.checker.check`, with ``for_training``, for weights trained in
    ``dtype``, the lints ``ignore`` names silenced).

    Raises :class:`~cnnspec.errors.SpecErrors` for mistakes in the spec and
    :class:`~cnnspec.errors.RunError` for a missing or unreadable file (an
    :class:`~cnnspec.errors.InputError` for one that is missing or is a directory).
    """
    return check(read_spec(path), strict=strict, max_memory=max_memory,
                 for_training=for_training, dtype=dtype, ignore=ignore)
