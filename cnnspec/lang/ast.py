"""The syntax tree of a spec: what was written, with where it was written.

A Lark parse tree becomes these dataclasses through :class:`ToAst`. Nothing here knows what a
``conv`` is; meaning is given by the resolver. Every node has a :class:`~cnnspec.errors.Span`
so any later mistake can point at the token that caused it. Values keep their source text so
the formatter can write numbers back exactly as the user wrote them.
"""
from __future__ import annotations

from dataclasses import field

from cnnspec.errors import Span, SpecError
from cnnspec.ir.limits import MAX_INT, short_number, too_large_int
from cnnspec.lang.standalone import Token, Transformer, VisitError, v_args
from cnnspec.records import record


def token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def meta_span(meta) -> Span:
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


# -- values -------------------------------------------------------------------------------------


@record
class Num:
    """A number as written (``5e-4``, ``-0.5``, ``3``): its value and its text."""
    value: int | float
    text: str
    span: Span


@record
class Dims:
    """A size such as ``3x3`` or ``1x28x28``: the sizes and the text."""
    values: list[int]
    text: str
    span: Span


@record
class Word:
    """A name or a word value (``relu``, ``same``, ``fashion-mnist``)."""
    name: str
    span: Span


@record
class Str:
    """A quoted string (``"data/a.npz"``), without its quotes."""
    value: str
    span: Span


@record
class Kwarg:
    """``name=value`` inside a call's parentheses."""
    name: str
    name_span: Span
    value: Value


@record
class Call:
    """``name(args, key=value)``: an initializer, a dataset, an optimizer, ..."""
    name: str
    name_span: Span
    args: list[Value]
    kwargs: list[Kwarg]
    span: Span


@record
class ListLit:
    """``[a, b, ...]``: a list, or a kernel literal when nested."""
    items: list[Value]
    span: Span


Value = Num | Dims | Word | Str | Call | ListLit


def describe(value: Value) -> str:
    """How a value is named in an error message: `'tanh'`, `the number 3`, `a list`."""
    if isinstance(value, Word):
        return f"'{value.name}'"
    if isinstance(value, Num):
        return f"the number {value.text}"
    if isinstance(value, Dims):
        return f"the size {value.text}"
    if isinstance(value, Str):
        return f'the string "{value.value}"'
    if isinstance(value, Call):
        return f"'{value.name}(...)'"
    return "a list"


# -- statements ---------------------------------------------------------------------------------


@record
class Setting:
    """``key value`` in a train block or a default statement."""
    key: str
    key_span: Span
    value: Value
    span: Span


@record
class ModelStmt:
    """``model NAME``."""
    name: str
    name_span: Span
    span: Span


@record
class InputStmt:
    """``input SIZE``."""
    value: Value
    span: Span


@record
class DefaultStmt:
    """``default weight INIT, bias INIT``: settings for the layers below."""
    settings: list[Setting]
    span: Span


@record
class OutputStmt:
    """``output NAME``: the layer whose values are the network's output."""
    name: str
    name_span: Span
    span: Span


@record
class LayerStmt:
    """``[label:] head values... [<- inputs]``: one layer line."""
    label: str | None
    label_span: Span | None
    head: Word | Call
    items: list[Value]
    inputs: list[Word] | None
    span: Span

    @property
    def decl_span(self) -> Span:
        """Where the layer is declared: its name if it has one, else its kind."""
        return self.label_span or self.head.span


@record
class RepeatStmt:
    """``repeat N [as NAME] { ... }``: a block of layers written N times."""
    count: Value
    name: str | None
    name_span: Span | None
    layers: list[LayerStmt | RepeatStmt]  # in the order written; a member may be a block
    span: Span


@record
class TrainStmt:
    """``train { ... }``: the training settings."""
    settings: list[Setting]
    span: Span


Statement = ModelStmt | InputStmt | DefaultStmt | OutputStmt | LayerStmt | RepeatStmt | TrainStmt


@record
class Module:
    """A whole spec: its statements in source order."""
    statements: list[Statement] = field(default_factory=list)


def _number(token: Token) -> int | float:
    text = str(token)
    try:
        return int(text)
    except ValueError:  # a fraction, an exponent, or more digits than int() reads (4300)
        return float(text)


def _dims(token: Token) -> Dims:
    """``3x3``: sizes, each at most :data:`~cnnspec.ir.limits.MAX_INT` (checked here, where the
    digits are, so that no later stage multiplies a 300-digit size)."""
    text = str(token)
    values = []
    for part in text.split("x"):
        if len(part) >= 20 or too_large_int(int(part)):
            raise SpecError(f"the size {short_number(part)} is too large",
                            span=token_span(token), hint=f"sizes are at most {MAX_INT:,} "
                            "(2^31 - 1): check the digits")
        values.append(int(part))
    return Dims(values, text, token_span(token))


@v_args(meta=True)
class ToAst(Transformer):
    """Parse tree -> AST. One method per grammar rule, in grammar order."""

    def start(self, meta, children):
        return Module([c for c in children if c is not None])

    def init_expr(self, meta, children):
        return children[0]

    def model(self, meta, children):
        (name,) = children
        return ModelStmt(str(name), token_span(name), meta_span(meta))

    def input(self, meta, children):
        return InputStmt(children[0], meta_span(meta))

    def default(self, meta, children):
        return DefaultStmt(list(children), meta_span(meta))

    def output(self, meta, children):
        (name,) = children
        return OutputStmt(str(name), token_span(name), meta_span(meta))

    def repeat(self, meta, children):
        count, name, *layers = children
        return RepeatStmt(count, str(name) if name is not None else None,
                          token_span(name) if name is not None else None,
                          [layer for layer in layers if layer is not None], meta_span(meta))

    def train(self, meta, children):
        return TrainStmt(list(children), meta_span(meta))

    def setting(self, meta, children):
        key, value = children
        return Setting(str(key), token_span(key), value, meta_span(meta))

    def layer(self, meta, children):
        label, head, *rest = children
        inputs = rest.pop() if rest else None
        label_name, label_span = label if label is not None else (None, None)
        return LayerStmt(label_name, label_span, head, rest, inputs, meta_span(meta))

    def label(self, meta, children):
        (name,) = children
        return str(name), token_span(name)

    def head(self, meta, children):
        (value,) = children
        if isinstance(value, Token):
            return Word(str(value), token_span(value))
        return value

    def inputs(self, meta, children):
        return [Word(str(t), token_span(t)) for t in children]

    def number(self, meta, children):
        (token,) = children
        return Num(_number(token), str(token), token_span(token))

    def dims(self, meta, children):
        (token,) = children
        return _dims(token)

    def string(self, meta, children):
        (token,) = children
        return Str(str(token)[1:-1], token_span(token))

    def word(self, meta, children):
        (token,) = children
        return Word(str(token), token_span(token))

    def call(self, meta, children):
        name, *args = children
        positional = [a for a in args if a is not None and not isinstance(a, Kwarg)]
        keywords = [a for a in args if isinstance(a, Kwarg)]
        return Call(str(name), token_span(name), positional, keywords, meta_span(meta))

    def kwarg(self, meta, children):
        name, value = children
        return Kwarg(str(name), token_span(name), value)

    def list(self, meta, children):
        return ListLit([c for c in children if c is not None], meta_span(meta))


def to_ast(tree, path: str | None = None):
    """The AST of a parse tree (a :class:`Module`, or a :data:`Value` for ``init_expr``).

    A :class:`SpecError` raised inside a transformer method arrives wrapped in Lark's
    ``VisitError``; it is unwrapped here, with ``path`` filled in."""
    try:
        return ToAst().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SpecError):
            exc.orig_exc.file = exc.orig_exc.file or path
            raise exc.orig_exc from None
        raise
