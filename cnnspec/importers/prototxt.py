"""The protocol buffer text format (Caffe's ``.prototxt``), read into messages that remember
where every field was written.

The format: a message is a sequence of fields; a field is ``name: value`` (a string in single
or double quotes, adjacent strings joined; a number; an identifier, i.e. an enum value or
``true``/``false``; or a list ``[v, v]``) or ``name { fields }`` (also ``name: { ... }`` and
``name < ... >``). Fields may be separated by ``,`` or ``;``; ``#`` starts a comment to the
end of the line. A repeated field is written once per value.

Every :class:`Entry` keeps the :class:`~cnnspec.errors.Span` of its name and of its value, and
each :class:`Message` records which of its fields a reader asked for, so that an importer can
report every field it did not use (:meth:`Message.unused`) at its line and column instead of
dropping it.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import field

from cnnspec.errors import Span, SpecError
from cnnspec.ir.limits import short_number
from cnnspec.records import record

# Protocol buffers' widest whole number is 64 bits (uint64, int64): a prototxt number beyond
# it is not one any Caffe field holds. Its digits are counted before it is converted (Python
# refuses to convert more than 4,300, and a float conversion of a 400-digit one overflows).
PROTOBUF_INT_BITS = 64
PROTOBUF_INT_DIGITS = len(str(2**PROTOBUF_INT_BITS))

TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?(?![\w.]))
  | (?P<ident>-?[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[{}<>:\[\],;])
""", re.VERBOSE)

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}
# How alike (difflib's ratio) a field's name must be to a name a reader asked for to count as
# its misspelling: one letter wrong, missing or extra in a name of five or more (strid, stride).
MISSPELT = 0.8
MAX_DEPTH = 64  # messages nested deeper than any model definition needs
SPECIAL_NUMBERS = {"inf": float("inf"), "-inf": float("-inf"), "infinity": float("inf"),
                   "-infinity": float("-inf"), "nan": float("nan")}


@record(frozen=True)
class Token:
    kind: str  # string, number, ident, punct, end
    text: str
    span: Span


@record
class Scalar:
    """A field's value: ``kind`` is ``string``, ``number`` or ``ident`` (an enum value or
    ``true``/``false``); ``value`` is the str, int/float or identifier."""

    kind: str
    value: object
    span: Span


@record
class Entry:
    """One field as written: its name, value (a :class:`Scalar` or a :class:`Message`) and
    where both are."""

    name: str
    value: Scalar | Message
    span: Span  # the field's name


@record
class Message:
    """A message: its fields in the order written, and which of them have been read."""

    entries: list[Entry]
    span: Span  # where the message starts (its opening brace, or 1:1 for a file)
    path: str | None = None
    used: set[int] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)  # the names a reader asked for, held or not

    def all(self, name: str) -> list[Entry]:
        """Every entry of the field ``name`` (a repeated field), marked as read."""
        self.asked.add(name)
        found = [(i, e) for i, e in enumerate(self.entries) if e.name == name]
        self.used.update(i for i, _ in found)
        return [e for _, e in found]

    def misspelling(self, names=None) -> tuple[Entry, str] | None:
        """``(entry, meant)``: the first unread entry that is the :meth:`meant` misspelling
        of one of ``names`` (by default those a reader asked for), or None."""
        for i, entry in enumerate(self.entries):
            meant = self.meant(entry, names)
            if i not in self.used and meant is not None:
                return entry, meant
        return None

    def meant(self, entry: Entry, names=None) -> str | None:
        """The name of ``names`` (by default those a reader asked for) that ``entry``'s is
        close to, ``kernel_size`` for ``kernal_size``; None if none is. Caffe's own parser
        refuses a field its schema lacks, a schema cnnspec does not hold: closeness to what a
        reader asked for tells a misspelling from a field cnnspec does not read."""
        close = difflib.get_close_matches(entry.name, sorted(self.asked if names is None
                                                             else names), n=1, cutoff=MISSPELT)
        return close[0] if close and close[0] != entry.name else None

    def one(self, name: str) -> Entry | None:
        """The entry of the field ``name``, marked as read; an error if written twice."""
        found = self.all(name)
        if len(found) > 1:
            raise self.error(f"'{name}' is given twice", found[1].span,
                             f"first given at line {found[0].span.line}")
        return found[0] if found else None

    def scalar(self, name: str, kind: str, default=None):
        """The value of the scalar field ``name`` of type ``kind`` (``string``, ``number``
        (finite), ``int``, ``count`` (>= 1), ``natural`` (>= 0), ``bool``, ``enum``), or
        ``default``."""
        entry = self.one(name)
        return default if entry is None else self.value_of(entry, kind)

    def scalars(self, name: str, kind: str) -> list:
        """The values of the repeated scalar field ``name``."""
        return [self.value_of(e, kind) for e in self.all(name)]

    def message(self, name: str) -> Message | None:
        entry = self.one(name)
        return None if entry is None else self.message_of(entry)

    def messages(self, name: str) -> list[Message]:
        return [self.message_of(e) for e in self.all(name)]

    def message_of(self, entry: Entry) -> Message:
        if not isinstance(entry.value, Message):
            raise self.error(f"'{entry.name}' must be a message {{ ... }}", entry.value.span,
                             f"write {entry.name} {{ ... }}")
        return entry.value

    def value_of(self, entry: Entry, kind: str):
        value = entry.value
        if isinstance(value, Message):
            raise self.error(f"'{entry.name}' must be a single value, not a message",
                             entry.span, f"write {entry.name}: VALUE")
        whole = value.kind == "number" and isinstance(value.value, int)
        ok = {"string": value.kind == "string",
              "number": value.kind == "number" and math.isfinite(value.value),
              "int": whole,
              "count": whole and value.value >= 1,
              "natural": whole and value.value >= 0,
              "bool": value.kind == "ident" and value.value in ("true", "false"),
              "enum": value.kind == "ident"}[kind]
        if not ok:
            wanted = {"string": "a string in quotes", "number": "a finite number",
                      "int": "a whole number", "count": "a whole number >= 1",
                      "natural": "a whole number >= 0", "bool": "true or false",
                      "enum": "a name (an enum value)"}[kind]
            raise self.error(f"'{entry.name}' must be {wanted}", value.span, None)
        return value.value == "true" if kind == "bool" else value.value

    def unused(self) -> list[Entry]:
        """The entries no reader asked for, in the order written."""
        return [e for i, e in enumerate(self.entries) if i not in self.used]

    def error(self, message: str, span: Span, hint: str | None) -> SpecError:
        return error_at(message, span, hint, self.path)

    def misspelt_error(self, place: str, names=None) -> SpecError | None:
        """The error for the :meth:`misspelling` of one of ``names`` in this message, which
        ``place`` names ("in the solver"), or None."""
        found = self.misspelling(names)
        return None if found is None else self.misspelt(*found, place)

    def misspelt(self, entry: Entry, meant: str, place: str) -> SpecError:
        return self.error(f"unknown field '{entry.name}' {place}: did you mean '{meant}'?",
                          entry.span, f"write {meant}")


def error_at(message: str, span: Span | None, hint: str | None, path: str | None) -> SpecError:
    """A mistake at ``span`` in the prototxt file ``path``."""
    return SpecError(message, span=span, hint=hint, file=path)


def parse_prototxt(text: str, path: str | None = None) -> Message:
    """The top-level message of ``text``; a :class:`SpecError` at the line and column of the
    first mistake."""
    return _Parser(_tokens(text, path), path).file()


def _span(line: int, column: int, length: int) -> Span:
    return Span(line, column, line, column + max(1, length))


def _tokens(text: str, path: str | None) -> list[Token]:
    tokens = []
    line, start_of_line, pos = 1, 0, 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        column = pos - start_of_line + 1
        if match is None:
            char = text[pos]
            hint = ("a string ends on the line it starts" if char in "\"'" else
                    "prototxt holds fields `name: value` and messages `name { ... }`")
            raise SpecError(f"unexpected character {char!r}", span=_span(line, column, 1),
                            hint=hint, file=path)
        kind = match.lastgroup
        if kind == "newline":
            line, start_of_line = line + 1, match.end()
        elif kind not in ("space", "comment"):
            tokens.append(Token(kind, match.group(), _span(line, column, len(match.group()))))
        pos = match.end()
    column = pos - start_of_line + 1
    tokens.append(Token("end", "", _span(line, column, 1)))
    return tokens


def _unquote(token: Token, path: str | None) -> str:
    body, out, i = token.text[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            code = body[i + 1]
            if code not in ESCAPES:
                raise SpecError(f"unknown escape \\{code} in a string", span=token.span,
                                hint="escapes: \\n \\t \\r \\\\ \\' \\\"", file=path)
            out.append(ESCAPES[code])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _number(text: str):
    text = text.rstrip("fF") if not text.lower().startswith(("0x", "-0x", "+0x")) else text
    if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return float(text)


class _Parser:
    def __init__(self, tokens: list[Token], path: str | None):
        self.tokens, self.path, self.i, self.depth = tokens, path, 0, 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, message: str, token: Token, hint: str) -> SpecError:
        return SpecError(message, span=token.span, hint=hint, file=self.path)

    def number(self, token: Token) -> int | float:
        """The value of a number token; a whole number wider than protobuf's is an error at
        its place."""
        whole = re.fullmatch(r"[-+]?(0[xX])?([0-9a-fA-F]+)", token.text)
        if whole is None or (not whole.group(1) and not whole.group(2).isdigit()):
            return _number(token.text)  # a float: one too large is infinite, refused by use
        too_long = len(whole.group(2)) > PROTOBUF_INT_DIGITS
        if too_long or abs(_number(token.text)) >= 2**PROTOBUF_INT_BITS:
            raise self.error(f"the whole number {short_number(token.text)} is too large: a "
                             f"prototxt number is at most {PROTOBUF_INT_BITS} bits",
                             token, "check the number; Caffe's fields are 32- or 64-bit")
        return _number(token.text)

    def file(self) -> Message:
        entries = self.fields(closing=None)
        return Message(entries, Span(1, 1), self.path)

    def fields(self, closing: str | None) -> list[Entry]:
        entries = []
        while True:
            token = self.peek
            if token.kind == "end":
                if closing is not None:
                    raise self.error(f"unexpected end of file: a message is not closed with "
                                     f"'{closing}'", token, f"add '{closing}' where the "
                                     "message ends")
                return entries
            if token.kind == "punct" and token.text == closing:
                return entries
            entries += self.entry()
            if self.peek.kind == "punct" and self.peek.text in ",;":
                self.take()

    def entry(self) -> list[Entry]:
        name = self.take()
        if name.kind != "ident" or name.text.startswith("-"):
            raise self.error(f"expected a field name, found {_shown(name)}", name,
                             "fields are written `name: value` or `name { ... }`")
        colon = self.peek.kind == "punct" and self.peek.text == ":"
        if colon:
            self.take()
        token = self.peek
        if token.kind == "punct" and token.text in "{<":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"messages nested more than {MAX_DEPTH} deep", token,
                                 "a model definition nests a few levels; is a '}' missing?")
            closing = "}" if token.text == "{" else ">"
            entries = self.fields(closing)
            self.take()
            self.depth -= 1
            return [Entry(name.text, Message(entries, token.span, self.path), name.span)]
        if not colon:
            raise self.error(f"expected ':' or '{{' after the field name '{name.text}', found "
                             f"{_shown(token)}", token,
                             f"write {name.text}: VALUE or {name.text} {{ ... }}")
        if token.kind == "punct" and token.text == "[":
            return self.listed(name)
        return [Entry(name.text, self.scalar(), name.span)]

    def listed(self, name: Token) -> list[Entry]:
        """``name: [a, b]``: the repeated field written once per value, each value with its
        own span."""
        self.take()
        entries: list[Entry] = []
        while not (self.peek.kind == "punct" and self.peek.text == "]"):
            if entries:
                comma = self.take()
                if comma.text != ",":
                    raise self.error(f"expected ',' or ']' in a list, found {_shown(comma)}",
                                     comma, "a list is written [a, b, c]")
            value = self.scalar()
            entries.append(Entry(name.text, value, name.span if not entries else value.span))
        self.take()
        return entries

    def scalar(self) -> Scalar:
        token = self.take()
        if token.kind == "string":
            text = _unquote(token, self.path)
            span = token.span
            while self.peek.kind == "string":  # "a" "b" is "ab"
                more = self.take()
                text += _unquote(more, self.path)
                span = Span(span.line, span.column, more.span.end_line, more.span.end_column)
            return Scalar("string", text, span)
        if token.kind == "number":
            return Scalar("number", self.number(token), token.span)
        if token.kind == "ident":
            lowered = token.text.lower()
            if lowered in SPECIAL_NUMBERS:
                return Scalar("number", SPECIAL_NUMBERS[lowered], token.span)
            if token.text.startswith("-"):
                raise self.error(f"expected a value, found {_shown(token)}", token,
                                 "a value is a number, a string in quotes or a name")
            return Scalar("ident", token.text, token.span)
        raise self.error(f"expected a value, found {_shown(token)}", token,
                         "a value is a number, a string in quotes or a name")


def _shown(token: Token) -> str:
    return "the end of the file" if token.kind == "end" else repr(token.text)
