"""What each layer kind accepts, and reading one layer statement into IR fields.

A layer statement is a kind followed by values: positional ones (``conv 16 3x3`` fills
``filters`` then ``kernel``), options that take a value (``stride 2``, ``pad same``,
``weight he_normal``), flags (``nobias``, ``frozen``), and at most one trailing activation
(``relu``), which becomes a separate layer. :data:`KINDS` holds all of that per kind, read off
the layer-kind registry (:mod:`cnnspec.kinds`): a field's reader follows from its declared
type and bounds, so the language accepts exactly what the IR schema does.

Initializers that are left out (``weight_init``/``bias_init``) are filled in later from the
model-wide default by the resolver, which knows it.
"""
from __future__ import annotations

import dataclasses
import keyword
import math
from collections.abc import Callable
from dataclasses import field

from cnnspec.errors import (
    Span,
    SpecError,
    closest,
    counted,
    float_text,
    hinted,
    listed,
    shortened,
)
from cnnspec.init import describe as describe_init
from cnnspec.init.catalogue import BUILT_IN_DEFAULTS
from cnnspec.ir.training_catalogue import KEY_ALIASES as TRAINING_KEY_ALIASES
from cnnspec.ir.training_catalogue import KEYS as TRAINING_KEYS
from cnnspec.ir.training_catalogue import foreign_key_hint
from cnnspec.kinds import ACTIVATIONS as REGISTRY_ACTIVATIONS
from cnnspec.kinds import ALIASES, Kind
from cnnspec.kinds import KINDS as REGISTRY
from cnnspec.kinds.fields import BIAS_INIT_KEY, Field
from cnnspec.lang import values as read
from cnnspec.lang.ast import (
    Call,
    Dims,
    Kwarg,
    LayerStmt,
    ListLit,
    Num,
    Str,
    Value,
    Word,
    describe,
)
from cnnspec.lang.calls import Param, bind
from cnnspec.lang.inits import literal_spans, read_bias_init, read_init
from cnnspec.lang.source_text import line_text, one_line
from cnnspec.lang.suggest import did_you_mean
from cnnspec.lang.syntax_errors import (
    LIST_TYPES,
    NUMBER_RUN,
    REPEAT_LABEL,
    REPEAT_LABEL_HINT,
    merge_inputs_hint,
    number_run_on,
    taking_inputs,
)
from cnnspec.lang.unknown_setting import outside_train, tuple_text, value_text
from cnnspec.patterns import LazyPattern
from cnnspec.records import record

Reader = Callable[[Value, str], object]


PADDING_NAMES = ("same", "valid")  # the padding a word names (the rest are sizes)
PADDING_HINT = ("e.g. pad same, pad valid, pad 1, pad 1x2 (rows, columns) or pad 0x1x0x1 "
                "(top x bottom x left x right)")


def read_padding(value: Value, what: str) -> str | list[int]:
    """``same``, ``valid``, ``1`` (both sides of both axes), ``1x2`` ([ph, pw]) or ``0x1x0x1``
    ([top, bottom, left, right])."""
    if isinstance(value, Word):
        try:
            return read.choice(value, "padding", list(PADDING_NAMES))
        except SpecError as err:  # the words are two of the forms: `pad full` needs the rest
            raise dataclasses.replace(err, hint=f"{err.hint}; {PADDING_HINT}") from None
    if isinstance(value, Dims) and len(value.values) == 4:
        if min(value.values) < 0:  # the grammar writes no signs; a JSON IR's schema says >= 0
            raise SpecError(f"{what} must be at least 0", span=value.span, hint=PADDING_HINT)
        return list(value.values)
    if isinstance(value, Dims) and len(value.values) != 2:
        raise SpecError(f"{what} must be P, PHxPW or TxBxLxR, not {value.text}",
                        span=value.span, hint=PADDING_HINT)
    if isinstance(value, (Num, Dims)):
        return read.pair(value, what, minimum=0)
    if isinstance(value, Str) and value.value in PADDING_NAMES:  # Keras' padding="same"
        raise SpecError(f"{what} is a word, written without quotes", span=value.span,
                        hint=f"write {value.value}, not \"{value.value}\": a spec quotes file "
                        "paths only")
    raise SpecError(f"{what} must be same, valid, a number, HxW or TxBxLxR, not "
                    f"{describe(value)}", span=value.span, hint=PADDING_HINT)


def read_bool(value: Value, what: str) -> bool:
    """``true`` or ``false``."""
    if isinstance(value, Word):
        return read.choice(value, what, ["true", "false"]) == "true"
    raise SpecError(f"{what} must be true or false, not {describe(value)}", span=value.span,
                    hint="write true or false, e.g. ceil_mode true")


def read_mults(value: Value, what: str, hint: str | None) -> list[float]:
    """Multipliers of a weight and its bias: ``[1, 2]``, or one number for both."""
    if isinstance(value, Num):
        factor = read.nonnegative_number(value, what, hint)
        return [factor, factor]
    if isinstance(value, ListLit) and len(value.items) == 2:
        return [read.nonnegative_number(item, what, hint) for item in value.items]
    raise SpecError(f"{what} must be two numbers [weight, bias] or one for both, not "
                    f"{describe(value)}", span=value.span, hint=hint)


def _reader(f: Field) -> Reader:
    """How the language reads a value of field ``f``, from its declared type and bounds."""
    if f.type == "mults":
        return lambda value, what: read_mults(value, what, f.hint)
    if f.type == "count":
        return read.hinted(read.positive_int, f.hint)
    if f.type == "pair":
        return read.pair
    if f.type == "margin":
        return lambda value, what: read.pair(value, what, minimum=0)
    if f.type == "padding":
        return read_padding
    if f.type == "bool":
        return lambda value, what: read_bool(value, f.words or f.name)
    if f.type == "choice":
        return lambda value, what: read.choice(value, f.words or f.name, list(f.options))
    if f.type == "init":
        return lambda value, what: read_init(value, "the weight initializer")
    if f.type == "bias_init":
        return lambda value, what: read_bias_init(value)
    # read as the widest dtype holds it: check holds it to the dtype the run computes in
    return read.bounded_number(f.hint, f.low, f.high, f.low_open, f.high_open)


def read_field(kind: str, field_name: str, value: Value, what: str):
    """``value`` read as a spec's line reads the field ``field_name`` of the layer kind
    ``kind`` (its declared type and range): the IR value, or the :class:`SpecError` that line
    gets, naming the value ``what``. An importer holds another format's values to it."""
    return _reader(REGISTRY[kind].field_map[field_name])(value, what)


@record(frozen=True)
class Syntax:
    """How the language writes one layer kind, read off its registry record."""

    kind: Kind
    fields: dict  # IR field -> default, in IR order (None: required or filled in later)
    positional: tuple[tuple[str, Reader], ...]
    options: dict[str, tuple[str, Reader]]  # word -> (field, read)
    flags: dict[str, tuple[str, object]]  # word -> (field, value)
    required: tuple[str, ...]

    @property
    def activation(self) -> bool:  # may end with an activation, made a separate layer
        return self.kind.takes_activation

    @property
    def merge(self) -> bool:  # add/concat: takes >= 2 inputs, written as call arguments or `<-`
        return self.kind.merge


def _syntax(kind: Kind) -> Syntax:
    by_name = kind.field_map
    return Syntax(
        kind=kind, fields=kind.ir_defaults(),
        positional=tuple((name, _reader(by_name[name])) for name in kind.positional),
        options={word: (f.name, _reader(f)) for f in kind.fields for word in f.option},
        flags={f.flag[0]: (f.name, f.flag[1]) for f in kind.fields if f.flag},
        required=tuple(f.name for f in kind.fields if f.required))


KINDS: dict[str, Syntax] = {name: _syntax(kind) for name, kind in REGISTRY.items()}

# Normalisations that may follow a conv or dense layer on its line (`conv 16 3x3 bn relu`,
# the everyday conv-batchnorm-relu triple): the norm kinds that need no value, by name and
# alias.
NORM_SUGAR: dict[str, str] = {
    word: name for name, kind in REGISTRY.items()
    if kind.family == "norm" and not any(f.required for f in kind.fields)
    for word in (name, *kind.aliases)}

# Activations that may end a conv/dense/batchnorm/add/concat line, with their parameters.
ACTIVATIONS: dict[str, list[Param]] = {
    name: [Param(f.name, f.default, _reader(f)) for f in kind.fields]
    for name, kind in REGISTRY_ACTIVATIONS.items()}


@record
class ReadLayer:
    """One layer statement, read: the kind, its IR fields and where each came from."""

    kind: str
    fields: dict
    spans: dict[str, Span]
    activation: tuple[str, dict, Span] | None = None
    norm: tuple[str, str, Span] | None = None  # `conv 16 3x3 bn relu`: kind, word written
    refs: list[Word] = field(default_factory=list)


STATEMENT_KEYWORDS = ("model", "input", "default", "output", "repeat", "train")


def read_kind(head: Word | Call, label: str | None = None, written: str | None = None,
              items: list[Value] = ()) -> str:
    """The kind ``head`` names (an alias read as its kind); an unknown one is a SpecError,
    whose hint for another library's call or layer type is the cnnspec line (``label: conv 16
    3``, with the values ``items`` after the type), and for a training setting the train
    block's line (``written``: the one value after it)."""
    name = ALIASES.get(head.name, head.name)
    if name not in KINDS:
        span = head.name_span if isinstance(head, Call) else head.span
        hint = did_you_mean(head.name, KINDS, "layer kinds")
        caffe, caffe_line = _caffe_hint(head, label, items) or (None, None)
        rewrite = None  # the line the hint tells to write in place of the user's, if any
        if head.name == "repeat":  # `c1: repeat 3` with no '{' after it parses as a layer
            raise SpecError(REPEAT_LABEL, span=span, hint=REPEAT_LABEL_HINT)
        if head.name in STATEMENT_KEYWORDS:  # read as a layer's kind only after a label
            hint = f"`{head.name}` starts a statement of its own, which takes no label"
        elif head.name.lower() in STATEMENT_KEYWORDS and not _keras_input(head, label):
            # `Input 1x28x28`: a keyword in capitals (Keras' Input(shape=...) is told below)
            hint = f"keywords are lower case: {head.name.lower()}"
        elif (shape := _keras_shape_line(head, items)) is not None:  # `input_shape 28x28x1`
            hint, rewrite = shape
        elif caffe is not None and _caffes(head):  # `Scale`, `Dropout(dropout_ratio=0.5)`
            hint, rewrite = caffe, caffe_line
        elif (setting := _setting_error(head, written, span)) is not None:  # `base_lr 0.01`
            raise setting
        elif (default := _default_meant(head, written)) is not None:  # `init he_normal`
            hint, rewrite = default
        elif keyword.iskeyword(head.name):  # `return x`, `import torch`: a model's source
            from cnnspec.lang.foreign import PYTHON_CODE_HINT

            raise SpecError(f"unknown layer kind '{head.name}'", span=span, **hinted(
                f"`{head.name}` is Python, not cnnspec: {PYTHON_CODE_HINT}"))
        elif isinstance(head, Call):  # `Conv2D(16, 3, padding="same")`, Keras' line; else
            # Caffe's type called as a function, `innerproduct(10)`
            called, rewrite = _called_hint(head, label, items, caffe, caffe_line)
            hint = called or hint
        else:  # Darknet's `connected 10`, `route`, `logistic`; Caffe's `innerproduct 10`;
            # PyTorch's `Linear 10`, Keras' `Dense 10`, TF-Slim's `fully_connected 10`
            from cnnspec.lang.foreign import darknet_word_hint, word_answer

            darknet = darknet_word_hint(head.name)
            hint, rewrite = (darknet, None) if darknet else (caffe, caffe_line) if caffe \
                else word_answer(head.name, label, _written(items)) or (hint, None)
        # the line another library's hint writes is checked in the spec's place (lang.parse)
        raise SpecError(f"unknown layer kind '{head.name}'", span=span, hint=hint,
                        rewrite=rewrite)
    return name




def _keras_shape_line(head: Word | Call, items: list[Value]) -> tuple[str, str] | None:
    """For Keras' word for the input's shape written as a layer's kind with a size after it
    (``input_shape 28x28x1``: height x width x channels): the hint and the input line it
    means, channels first; None for another line."""
    from cnnspec.lang.foreign import KERAS_SHAPES
    from cnnspec.shapes import CHANNELS_ORDER, from_channels_last, shape_text

    if not isinstance(head, Word) or head.name not in KERAS_SHAPES or len(items) != 1 \
            or not isinstance(items[0], Dims) or len(items[0].values) != 3:
        return None
    written = f"input {shape_text(from_channels_last(items[0].values))}"
    hint = f"Keras' {head.name} is the spec's input line: write `{written}`; {CHANNELS_ORDER}"
    return hint, written


def _keras_input(head: Word | Call, label: str | None) -> bool:
    """Whether ``head`` is Keras' call giving the input's shape (``Input(shape=[28, 28, 1])``),
    which its hint writes as the input line (:func:`~cnnspec.lang.foreign.keras_input_line`)."""
    from cnnspec.lang.foreign import keras_input_line

    return isinstance(head, Call) and keras_input_line(_foreign_call(head, label)) is not None


def _default_meant(head: Word | Call, written: str | None) -> tuple[str, str] | None:
    """For a line that starts with a word naming an init (``init he_normal``, ``weight
    he_normal``, Keras' ``kernel_initializer``), as a model-wide init is set elsewhere: the
    hint and the `default` line it means; None for another head."""
    from cnnspec.lang.foreign import names_an_initializer

    if not isinstance(head, Word) or not names_an_initializer(head.name) or written is None:
        return None
    part = "bias" if "bias" in head.name.lower() else "weight"
    line = f"default {part} {written}"
    hint = (f"an init is set for every conv and dense layer by `{line}` (each layer that names "
            f"none), or for one layer by `{part} {written}` on its line")
    return hint, line


def _caffes(head: Word | Call) -> bool:
    """Whether ``head``, Caffe's layer type, is answered as Caffe's before any other reading
    of its name (a training setting's, an init argument's): a word in Caffe's capitals
    (``Scale``), a call in them of a type no Keras or PyTorch class is named as (``Scale()``),
    or a call with the type's own parameters, in any case (``scale(bias_term=true)``)."""
    from cnnspec.lang.foreign import called_as

    if isinstance(head, Word):
        return not head.name.islower()
    keywords = [kwarg.name for kwarg in head.kwargs]
    return called_as(head.name, keywords, len(head.args)) == "Caffe" and (
        not head.name.islower() or bool(head.kwargs))


def _called_hint(head: Call, label: str | None, items: list[Value], caffe: str | None,
                 caffe_line: str | None) -> tuple[str | None, str | None]:
    """The hint for an unknown kind called as a function, and the line it tells to write in
    place of the user's (None where it tells none): Caffe's type (``caffe``, its hint, and
    ``caffe_line``) or Keras' or PyTorch's class, told apart by the call's keyword arguments
    (:func:`~cnnspec.lang.foreign.called_as`), or both where a call of a name they share
    uses none (``Dropout(0.5)``); no hint for a call that names no layer."""
    from cnnspec.lang.foreign import called_as, either_answer, foreign_hint, translated_line

    written_as = called_as(head.name, [kwarg.name for kwarg in head.kwargs], len(head.args))
    if written_as == "Caffe":
        return caffe, caffe_line
    call = _foreign_call(head, label)
    if written_as == "either":
        return either_answer(call, _caffe_values(head, items), caffe)
    hint = foreign_hint(call)
    return (hint, translated_line(call)) if hint is not None else (caffe, caffe_line)


def _caffe_hint(head: Word | Call, label: str | None,
                items: list[Value]) -> tuple[str, str | None] | None:
    """The hint for Caffe's layer type written as a kind (``fc: InnerProduct 10``), or called
    as a function (``fc: InnerProduct(10)``), with the values ``items`` after it, and the line
    it tells to write (:func:`~cnnspec.lang.foreign.caffe_answer`: the line of its kind here,
    the label and values kept); None for another name."""
    from cnnspec.lang.foreign import caffe_answer, caffe_type

    if caffe_type(head.name) is None:  # only for an unknown kind
        return None
    head, items = _caffe_word_as_argument(head, items)
    called = _keyword_texts(head) if isinstance(head, Call) else None
    return caffe_answer(head.name, label, _caffe_values(head, items), called)


def _caffe_word_as_argument(head: Word | Call,
                            items: list[Value]) -> tuple[Word | Call, list[Value]]:
    """Caffe's type ``head`` and the values ``items`` after it, a word among Caffe's values of
    one of its parameters first (``Pooling AVE 2``), read as the call that sets it
    (``Pooling(pool=AVE) 2``), which chooses the kind; as they are otherwise."""
    from cnnspec.lang.foreign import caffe_word_parameter

    first = items[0] if isinstance(head, Word) and items else None
    word = first.name if isinstance(first, Word) else first.value \
        if isinstance(first, Str) else None
    parameter = None if word is None else caffe_word_parameter(head.name, word)
    if parameter is None:
        return head, items
    return Call(head.name, head.span, [], [Kwarg(parameter, first.span, first)],
                head.span), items[1:]


def _caffe_values(head: Word | Call, items: list[Value]) -> str | None:
    """The values of the line Caffe's type ``head`` is, with ``items`` after it: a call's
    arguments in their places (:func:`~cnnspec.lang.foreign.caffe_call_values`; None where
    they leave a gap), then the items as written."""
    from cnnspec.lang.foreign import caffe_call_values

    values = _written(items)
    if not isinstance(head, Call):
        return values
    called = caffe_call_values(head.name, [_argument(arg) for arg in head.args],
                               _keyword_texts(head))
    return None if called is None else f"{called} {values}".strip()


def _keyword_texts(head: Call) -> dict[str, str]:
    """A call's keyword arguments, each as a hint's line writes its value (:func:`_argument`)."""
    return {kwarg.name: _argument(kwarg.value) for kwarg in head.kwargs}


def _written(values: list[Value]) -> str:
    """``values`` as a hint's line writes them: as written, a string without its quotes
    (Caffe quotes its words: ``pool: "MAX"``)."""
    return " ".join(value.value if isinstance(value, Str) else one_line(value)
                    for value in values)


def _argument(value: Value) -> str:
    """A call's argument as a hint's line writes it: a list of whole numbers as a size, as
    Caffe repeats its sizes one per axis (``kernel_size=[3, 5]``: 3x5); else as written."""
    if isinstance(value, ListLit) and value.items and all(
            isinstance(item, Num) and isinstance(item.value, int) for item in value.items):
        return "x".join(item.text for item in value.items)
    return _written([value])


def _setting_error(head: Word | Call, written: str | None, span: Span) -> SpecError | None:
    """The error for a training setting written among the layers (Caffe's ``base_lr 0.01``,
    ``MAX_ITER 1000``, ``momentum 0.9``, PyTorch's ``betas (0.9, 0.999)``), at ``span``;
    None for another head. A call named as another library's setting is a layer as Python
    writes it (`shuffle(x)`, `flip(x)`), answered as such."""
    if isinstance(head, Call) and foreign_key_hint(head.name) is not None:
        return None
    if isinstance(head, Call) and not head.kwargs:  # `betas (0.9, 0.999)`: PyTorch's tuple
        written = tuple_text(head.args) or written
    return outside_train(head.name, span, written)


def _setting_with_colon(stmt: LayerStmt) -> SpecError | None:
    """The error for a training setting written among the layers with Caffe's ':' and a word
    (``lr_policy: step``, ``solver_mode: CPU``), which reads as a layer of an unknown kind
    labelled with the setting's name; None for any other line."""
    head = stmt.head
    if stmt.label is None or stmt.items or stmt.inputs is not None \
            or not isinstance(head, Word) or ALIASES.get(head.name, head.name) in KINDS:
        return None
    return outside_train(stmt.label, stmt.label_span, head.name)


# The words Python reads as constants, not variables: `Conv2D(16, 3, use_bias=False)` is read
# by this language as a call whose False is a word.
PYTHON_CONSTANTS = {"True": True, "False": False, "None": None}


def _foreign_call(head: Call, label: str | None):
    """A head written as a call, as Python would read it (a ``ForeignCall``): numbers,
    sizes (3x3: Python's (3, 3)), strings and Python's constants (``use_bias=False``) are
    values; another bare word would be a Python variable, of no known value."""
    def python(value: Value):
        if isinstance(value, Num):
            return value.value
        if isinstance(value, Word) and value.name in PYTHON_CONSTANTS:
            return PYTHON_CONSTANTS[value.name]
        if isinstance(value, Dims):
            return tuple(value.values)
        if isinstance(value, Str):
            return value.value
        if isinstance(value, ListLit):
            return [python(item) for item in value.items]
        return None

    from cnnspec.lang.foreign import ForeignCall

    return ForeignCall(head.name, "", [python(arg) for arg in head.args],
                       {kwarg.name: python(kwarg.value) for kwarg in head.kwargs}, label=label,
                       arg_texts=[one_line(arg) for arg in head.args],
                       kwarg_texts={kwarg.name: one_line(kwarg.value) for kwarg in head.kwargs})


def _label_without_colon(stmt: LayerStmt) -> SpecError | None:
    """The error for a layer's name written before its kind with no ':' (`c1 conv 8 3x3`, as
    Darknet's and Caffe's users name a layer first), else None. The first value names a kind
    the line's first word cannot take: the first word is no kind (`c1`), or one that takes
    no layer there (`fc dense 10`; `bn relu` is a batch norm and its relu)."""
    first = stmt.items[0] if stmt.items else None
    if stmt.label is not None or not isinstance(stmt.head, Word) or \
            not isinstance(first, (Word, Call)) or \
            ALIASES.get(first.name, first.name) not in REGISTRY:
        return None
    name = stmt.head.name
    if name.lower() in STATEMENT_KEYWORDS or name in TRAINING_KEYS or \
            name in TRAINING_KEY_ALIASES:
        return None  # `Input 1x28x28`, `loss softmax` out of its block: read_kind says so
    if ALIASES.get(name, name) in REGISTRY and (first.name in ACTIVATIONS
                                                 or first.name in NORM_SUGAR):
        return None
    return SpecError(f"'{name}' before the layer kind '{first.name}' reads as the layer's "
                     "name, which is followed by ':'", span=stmt.head.span,
                     hint=f"write `{name}: {first.name} ...`: a layer's name, ':', then its "
                          "kind and values")


def read_layer(stmt: LayerStmt, display: str) -> ReadLayer:
    """Read ``stmt``'s values into fields; ``display`` names the layer in messages."""
    misread = _label_without_colon(stmt) or _setting_with_colon(stmt)
    if misread is not None:
        raise misread
    written = value_text(stmt.items[0]) if len(stmt.items) == 1 else None
    try:
        kind_name = read_kind(stmt.head, stmt.label, written, stmt.items)
    except SpecError as error:
        raise taking_inputs(error, ", ".join(word.name for word in stmt.inputs or ())) from None
    kind = KINDS[kind_name]
    layer = ReadLayer(kind_name, dict(kind.fields), {})
    items = list(stmt.items)
    if isinstance(stmt.head, Call):
        items = _call_items(stmt, kind, layer, display) + items
    _read_items(items, kind, layer, display, stmt)
    for name in kind.required:
        if layer.fields[name] is None:
            raise SpecError(f"{kind_name} layer {display} needs {_describe_field(name)}",
                            span=stmt.head.span, hint=_usage(kind_name))
    _check_consistency(layer, display)
    for f in kind.kind.fields:  # a pooling window's stride defaults to its size
        if f.default_from and layer.fields[f.name] is None:
            layer.fields[f.name] = list(layer.fields[f.default_from])
    return layer


def _call_items(stmt: LayerStmt, kind: Syntax, layer: ReadLayer, display: str) -> list[Value]:
    """``stmt``'s head, written as a call: ``add(a, b)`` names inputs; ``leaky_relu(0.2)``,
    ``conv2d(16, 3, stride=2)`` give values. Arguments fill the kind's values without an option
    word in order; a keyword names one of them (``dense(units=10)``, as Python binds a call)
    or an option, which becomes an `option value` pair (``stride=2``: ``stride 2``)."""
    head = stmt.head
    if kind.merge:
        for arg in head.args:
            if not isinstance(arg, Word):
                raise SpecError(f"the inputs of {head.name} are layer names, not {describe(arg)}",
                                span=arg.span, hint=f"e.g. {head.name}(a, b)")
        if head.kwargs:
            raise SpecError(f"{head.name} takes layer names only", span=head.kwargs[0].name_span,
                            hint=f"name the layers to merge, e.g. {head.name}(a, b)")
        layer.refs = list(head.args)
        return []
    misplaced = _positional_after_keyword(stmt, kind, display)
    if misplaced is not None:
        raise misplaced
    items: list[Value] = list(head.args)
    repeats = _repeats(head.args, head.kwargs, kind)
    for index, kwarg in enumerate(head.kwargs):  # in the order written: the first mistake
        if index in repeats:
            raise _given_twice(kwarg, repeats[index], stmt, kind, display)
        if kwarg.name in dict(kind.positional):
            _bind_keyword(kwarg, kind, layer, display)
            continue
        refused = _keyword_refused(kwarg, stmt, kind, layer.kind)
        if refused is not None:
            raise refused
        items += [Word(kwarg.name, kwarg.name_span), kwarg.value]
    return items


def _bind_keyword(kwarg: Kwarg, kind: Syntax, layer: ReadLayer, display: str) -> None:
    """``dense(units=10)``: a keyword naming one of the kind's values without an option word
    sets it (:func:`_given_twice` has refused one an argument gave already)."""
    reader = dict(kind.positional)[kwarg.name]
    _set(layer, kwarg.name, reader(kwarg.value, f"the {_field_words(kwarg.name)} of {display}"),
         Word(kwarg.name, kwarg.name_span), kwarg.value, display)


def _starts_before(a: Span, b: Span) -> bool:
    return (a.line, a.column) < (b.line, b.column)


def _positional_after_keyword(stmt: LayerStmt, kind: Syntax, display: str) -> SpecError | None:
    """The error for an argument without a name after a keyword (``conv(filters=16, 3)``),
    which Python refuses ("positional argument follows keyword argument"): the hint names it
    as the value it stands in place of, the first of the kind's values no argument or keyword
    gives (``conv(filters=16, kernel=3)``), where one is left. None for a call without one."""
    head = stmt.head
    if not head.kwargs:
        return None
    first_keyword = head.kwargs[0]
    leading = [arg for arg in _by_position(head.args, kind)
               if _starts_before(arg.span, first_keyword.name_span)]
    trailing = _by_position(head.args, kind)[len(leading):]
    if not trailing:
        return None
    item = trailing[0]
    message = (f"{describe(item)} follows the keyword {first_keyword.name}= in "
               f"{stmt.head.name} layer {display}: a value by position comes before the "
               "keywords, as in Python")
    given = {name for kwarg in head.kwargs for name in _keyword_fields(kwarg, kind)}
    free = [name for name, _ in kind.positional[len(leading):] if name not in given]
    if len(free) < len(trailing):
        return SpecError(message, span=item.span, hint=_usage(kind.kind.name))
    named = [Kwarg(name, arg.span, arg) for name, arg in zip(free, trailing)]
    in_order = sorted([*head.kwargs, *named], key=lambda kwarg: (kwarg.name_span.line,
                                                                  kwarg.name_span.column))
    words = [arg for arg in head.args if _stands_anywhere(arg, kind)]
    return _rewritten(stmt, kind, leading + words, in_order, message, item.span,
                      "name each value after a keyword: ")


def _by_position(args: list[Value], kind: Syntax) -> list[Value]:
    """The arguments of a call-form head that give the kind's values by position: all but
    the words a line reads wherever they stand (:func:`_stands_anywhere`)."""
    return [arg for arg in args if not _stands_anywhere(arg, kind)]


def _stands_anywhere(item: Value, kind: Syntax) -> bool:
    """Whether ``item``, an argument of a call-form head, is one a line reads wherever it
    stands: a flag (``nobias``), an activation or a norm after the values."""
    if not isinstance(item, (Word, Call)):
        return False
    return item.name in kind.flags or (kind.activation and item.name in ACTIVATIONS) or (
        kind.kind.weighted and isinstance(item, Word) and item.name in NORM_SUGAR)


# Where a keyword's value was given first: the field, "by position" or "as name=", and where.
Given = tuple[str, str, Span]


def _repeats(args: list[Value], kwargs: list[Kwarg], kind: Syntax) -> dict[int, Given]:
    """The keywords of a call-form head (by index in ``kwargs``) that set a value an argument
    (``conv(16, 3, kernel_size=3)``) or an earlier keyword (``conv(16, 3, stride=2,
    strides=2)``) gave already, another library's name read as the one it stands for; each
    with where that value was given first."""
    given: dict[str, Given] = {name: (name, "by position", arg.span)
                               for (name, _), arg in zip(kind.positional,
                                                         _by_position(args, kind))}
    repeats: dict[int, Given] = {}
    for index, kwarg in enumerate(kwargs):
        for name in _keyword_fields(kwarg, kind):
            if name in given:
                repeats[index] = given[name]
            else:
                given[name] = (name, f"as {kwarg.name}=", kwarg.name_span)
    return repeats


def _given_twice(kwarg: Kwarg, first: Given, stmt: LayerStmt, kind: Syntax,
                 display: str) -> SpecError:
    """The error for ``kwarg``, a keyword of a call-form head that gives a value given
    ``first`` already: both places named, and the call that gives each value once, the first
    one given kept (:func:`_rewritten`)."""
    name, where, span = first
    message = f"{_field_words(name)} of {display} is given twice, {where} and as {kwarg.name}="
    return _rewritten(stmt, kind, stmt.head.args, stmt.head.kwargs, message, kwarg.name_span,
                      f"first given at column {span.column}; give each value once: ")


def _keyword_fields(kwarg: Kwarg, kind: Syntax) -> list[str]:
    """The fields of ``kind`` that ``kwarg`` of a call-form head gives a value, another
    library's name read as the one it stands for (``kernel_size=3``: kernel;
    ``kernel_initializer=...``: weight_init); none for a flag, an activation or a word that
    is no option of the kind."""
    positional = dict(kind.positional)
    return [word if word in positional else kind.options[word][0]
            for word, value in _keyword_in_cnnspec(kwarg, kind)[0]
            if value is not None and (word in positional or word in kind.options)]


def _rewritten(stmt: LayerStmt, kind: Syntax, args: list[Value], kwargs: list[Kwarg],
               message: str, span: Span, why: str = "", after_hint: str = "") -> SpecError:
    """The error ``message`` at ``span`` whose hint writes ``stmt``'s head as the call with
    ``args`` and ``kwargs`` (each in this language's words, a value given twice given once)
    and as a line, between ``why`` and ``after_hint``; that line is checked in the spec's
    place (``rewrite``)."""
    head = stmt.head
    repeats = _repeats(args, kwargs, kind)  # each value given once, the first kept
    translated, activation = _in_cnnspec(
        [kwarg for index, kwarg in enumerate(kwargs) if index not in repeats], kind)
    args, translated, named = _extra_by_name(args, translated, kind)
    if named:
        after_hint = f"; that is if {_meant(named, kind)}: options are written by name{after_hint}"
    after = f" {activation}" if activation else ""
    rest = "".join(" " + one_line(value) for value in stmt.items)
    call = _call_form(head, args, translated) + after
    line = _line_form(head, kind, args, translated)
    on_a_line = f"; on a line, `{line}{after}{rest}`" if line is not None else ""
    left_out = [f"; {kwarg.name}={one_line(kwarg.value)} is left out: it gives "
                f"{_the(_field_words(repeats[index][0]))} again"
                for index, kwarg in enumerate(kwargs)
                if index in repeats and kwarg.name_span != span]
    after_hint = "".join(left_out) + after_hint
    return SpecError(message, span=span,
                     hint=f"{why}write `{call}{rest}`{on_a_line}{after_hint}",
                     rewrite=_statement_line(stmt, call + rest))


def _extra_by_name(args: list[Value], kwargs: list[tuple[str, Value | None]], kind: Syntax
                   ) -> tuple[list[Value], list[tuple[str, Value | None]], list[tuple[str, Value]]]:
    """The arguments and keywords of a call-form head that a hint writes, with the values
    past the kind's values (Keras' ``Conv2D(16, 3, 2)``) as the options they most likely are
    (:func:`_options_meant`), so that the call the hint writes is no error again, and those
    options; as they are, and none, where one of them is read by no option."""
    extra = _by_position(args, kind)[len(kind.positional):]
    given = {kind.options[name][0] for name, _ in kwargs if name in kind.options}
    named = _options_meant(extra, given, kind) if extra else None
    if not named:
        return args, kwargs, []
    kept = [arg for arg in args if not any(arg is value for value in extra)]
    return kept, kwargs + named, named


def _meant(named: list[tuple[str, Value]], kind: Syntax) -> str:
    """What the options ``named`` for values past the kind's values take them for: "2 is
    the stride and 1 is the padding"."""
    return listed(f"{one_line(value)} is {_the(_option_words(kind, word))}"
                  for word, value in named)


def _keyword_refused(kwarg: Kwarg, stmt: LayerStmt, kind: Syntax,
                     kind_name: str) -> SpecError | None:
    """The error for a keyword of ``stmt``'s call-form head that is no option of ``kind`` but
    says what it means: a flag given a value (``nobias=true``), Keras' activation, another
    library's name of a field or an initializer (``strides=2``, ``kernel_initializer=...``,
    ``use_bias=False``); None for the rest, which the line's reader answers as it does the
    word written on a line. Its hint writes every such keyword of the call at once
    (:func:`_in_cnnspec`), so that the line it tells to write is no error again; that line is
    checked in the spec's place (``rewrite``)."""
    why = _keyword_in_cnnspec(kwarg, kind)[1]
    if why is None:
        return None
    message = (f"'{kwarg.name}' takes no value: it is written alone" if kwarg.name in kind.flags
               else f"'{kwarg.name}' is not a keyword of {kind_name}: {why}")
    if _activation_keyword(kwarg, kind):
        return _activation_refused(kwarg, stmt, kind, message)
    return _rewritten(stmt, kind, stmt.head.args, stmt.head.kwargs, message, kwarg.name_span)


def _activation_refused(kwarg: Kwarg, stmt: LayerStmt, kind: Syntax,
                        message: str) -> SpecError:
    """The error ``message`` for Keras' activation keyword (``activation=relu``) of a
    call-form head: the activation after the call; one this language does not know
    (``activation=rleu``) the closest it does, said so, and no line where none is close."""
    written = _activation_written(kwarg.value)
    if written in ACTIVATIONS:
        return _rewritten(stmt, kind, stmt.head.args, stmt.head.kwargs, message,
                          kwarg.name_span)
    unknown = (f"; {written or one_line(kwarg.value)} is no activation: "
               f"{did_you_mean(written or '', ACTIVATIONS, 'activations')}")
    if _activation_named(kwarg, kind) is not None:
        return _rewritten(stmt, kind, stmt.head.args, stmt.head.kwargs, message,
                          kwarg.name_span, after_hint=unknown)
    others = [other for other in stmt.head.kwargs if other is not kwarg]
    translated, _ = _in_cnnspec(others, kind)
    rest = "".join(" " + one_line(value) for value in stmt.items)
    return SpecError(message, span=kwarg.name_span,
                     hint=f"write `{_call_form(stmt.head, stmt.head.args, translated)} "
                     f"ACTIVATION{rest}`{unknown}")


def _in_cnnspec(kwargs: list[Kwarg],
                kind: Syntax) -> tuple[list[tuple[str, Value | None]], str | None]:
    """Keywords of a call-form head as this language writes them (:func:`_keyword_in_cnnspec`):
    the keywords, a flag's value None, and the activation that follows the call (None: none),
    one this language does not know the closest it does, or else as written."""
    translated: list[tuple[str, Value | None]] = []
    activation = None
    for kwarg in kwargs:
        if _activation_keyword(kwarg, kind):
            activation = _activation_named(kwarg, kind) or one_line(kwarg.value)
            continue
        translated += _keyword_in_cnnspec(kwarg, kind)[0]
    return translated, activation


def _keyword_in_cnnspec(kwarg: Kwarg, kind: Syntax) -> tuple[list[tuple[str, Value | None]],
                                                            str | None]:
    """``kwarg`` of a call-form head of ``kind`` as the call writes it here, read from the
    foreign tables (:mod:`cnnspec.lang.foreign`): the keywords it becomes (a flag's value None;
    none for Keras' ``use_bias=True``), and why it is written so (None where it is the
    language's own). Keras' activation, which follows the call, is :func:`_activation_named`'s."""
    from cnnspec.lang.foreign import BIAS_SWITCHES, initializer_option

    name, value = kwarg.name, kwarg.value
    if _activation_keyword(kwarg, kind):
        return [], "an activation follows the call, by its name alone"
    truth = _truth(value)
    if name in kind.flags:  # `nobias=true`: the flag alone; `nobias=false`: nothing
        return ([(name, None)] if truth is not False else []), "it is written alone"
    flag = _no_bias_flag(kind)
    if flag and name in BIAS_SWITCHES and truth is not None:  # Keras' use_bias=False
        return ([] if truth else [(flag, None)]), f"a layer has a bias unless it says `{flag}`"
    switch = _flag_of_field(kind, name)
    if switch is not None and truth is not None:  # Keras' trainable=False: `frozen`
        word, sets = switch
        return ([(word, None)] if truth == sets else []), _flag_says(word, name, sets)
    option = initializer_option(name)
    if option in kind.options and option != name:  # Keras' kernel_initializer
        return [(option, value)], f"an initializer is written `{option}=INIT`"
    meant = _keyword_meant(name, kind)  # Keras' strides, kernel_size
    if meant is not None:
        return [(meant, value)], f"it is written `{meant}`"
    return [(name, value)], None


def _flag_of_field(kind: Syntax, name: str) -> tuple[str, object] | None:
    """The flag that sets the field ``name`` of ``kind`` and the value it sets it to
    (``frozen``: trainable False), where another library writes that field as a switch
    (Keras' ``trainable=False``, PyTorch's ``requires_grad=False``); None for a name that is
    no flag's field."""
    from cnnspec.lang.foreign import FIELDS

    field = FIELDS.get(name, name)
    return next(((word, value) for word, (field_name, value) in kind.flags.items()
                 if field_name == field and word != name), None)


def _flag_says(word: str, name: str, sets: object) -> str:
    """Why a field written as a switch is written as its flag: "`frozen` says
    trainable=False"."""
    return f"`{word}` says {name}={sets}"


def _truth(value: Value) -> bool | None:
    """The truth value Python's ``True``/``False`` (or ``true``, ``false``) writes; else None."""
    if isinstance(value, Word) and value.name.lower() in ("true", "false"):
        return value.name.lower() == "true"
    return None


def _activation_keyword(kwarg: Kwarg, kind: Syntax) -> bool:
    """Whether ``kwarg`` is Keras' ``activation=`` (or ``act=``) on a call-form head of a kind
    that may end with an activation."""
    from cnnspec.lang.foreign import ACTIVATION_KEYWORDS

    return kwarg.name in ACTIVATION_KEYWORDS and kind.activation


def _activation_written(value: Value) -> str | None:
    """The name an activation keyword's value writes (``relu``, ``"relu"``,
    ``leaky_relu(0.2)``); None for a value that writes no name (a number)."""
    return value.value if isinstance(value, Str) else value.name \
        if isinstance(value, (Word, Call)) else None


def _activation_named(kwarg: Kwarg, kind: Syntax) -> str | None:
    """The activation Keras' ``activation=relu`` (or ``"relu"``, ``leaky_relu(0.2)``) names
    on a call-form head of a kind that may end with one, as its line writes it, the closest
    one of the registry in place of a name it does not hold (``rleu``: relu); else None."""
    name = _activation_written(kwarg.value)
    if not _activation_keyword(kwarg, kind) or name is None:
        return None
    known = name if name in ACTIVATIONS else closest(name, ACTIVATIONS)
    if known is None:
        return None
    value = kwarg.value  # a call keeps its arguments: `leaky_rleu(0.2)`, `leaky_relu(0.2)`
    return known + one_line(value)[len(name):] if isinstance(value, Call) else known


def _keyword_meant(name: str, kind: Syntax) -> str | None:
    """The keyword of ``kind`` that another library's keyword ``name`` is (Keras'
    ``strides``: ``stride``; ``kernel_size``: ``kernel``); None for one of its own, or one
    that names no field of it."""
    from cnnspec.lang.foreign import foreign_field

    field_name = foreign_field(kind.kind, name)
    if name in kind.options or name in dict(kind.positional) or field_name is None:
        return None
    if field_name in dict(kind.positional):
        return field_name
    option = kind.kind.field_map[field_name].option
    return option[0] if option else None


def _past_the_values(item: Value, kind: Syntax, layer: ReadLayer, display: str,
                     stmt: LayerStmt) -> SpecError | None:
    """The error for ``item``, a value past the kind's values without an option word (Keras'
    ``Conv2D(16, 3, 2)``: strides 2; right after them on a line, ``conv 16 3x3 2 relu``):
    the options that the values
    from it on most likely mean, the first of the kind's options in its order that reads
    each, written by name (``conv(16, 3, stride=2)``, ``conv 16 3x3 stride 2 relu``), every
    other word of the layer kept. None for another item, or, in a call, a word no option
    reads (``conv(16, 3, foo)``), which is answered as the word written on a line."""
    call = isinstance(stmt.head, Call)
    values = stmt.head.args if call else stmt.items
    if not any(item is value for value in values) \
            or any(name not in layer.spans for name, _ in kind.positional):
        return None
    first = next(k for k, value in enumerate(values) if value is item)
    if not call and (isinstance(item, (Word, Call)) or first != len(kind.positional)):
        return None  # on a line, a value right after the kind's values only
    extra, kept = _extra_values(values[first:], kind, call)
    named = _options_meant(extra, _named_options(stmt, kept, kind) | set(layer.spans), kind)
    if named is None and isinstance(item, (Word, Call)):
        return None
    kind_name = layer.kind
    fields = [_the(_field_words(name)) for name, _ in kind.positional]
    takes = f"{counted(len(fields), 'value')} by position, {listed(fields)}" if fields \
        else "no values by position"
    message = (f"{describe(item)} is out of place in {kind_name} layer {display}: {kind_name} "
               f"takes {takes}")
    meant_by_name = None
    if named is not None:
        body, line = (_call_meant if call else _line_meant)(stmt, kind, values[:first], named,
                                                            kept)
        meant_by_name = (f"`{body}` if {_meant(named, kind)}"
                         + (f"; on a line, `{line}`" if line is not None else ""), body)
    torch = _torch_meant(values[:first + 1], extra, kept, kind, stmt)
    if torch is not None and (meant_by_name is None or torch.likelier is not False):
        hint = torch.hint
        if meant_by_name is not None and torch.likelier:  # both readings make sense
            hint += f"; or, by name, {meant_by_name[0]}"
        return SpecError(message, span=item.span, hint=hint,
                         rewrite=_statement_line(stmt, torch.body))
    if meant_by_name is None:
        return SpecError(message, span=item.span, hint=_usage(kind_name))
    return SpecError(message, span=item.span,
                     hint=f"options are written by name: {meant_by_name[0]}",
                     rewrite=_statement_line(stmt, meant_by_name[1]))


@record(frozen=True)
class TorchMeant:
    """A layer's values read as PyTorch's class of its kind reads them (:func:`_torch_meant`):
    the ``hint``, the layer's head without the argument a spec infers (``body``), and whether
    that reading is the likelier one where the values read otherwise too (True, False), or
    the only one that makes sense (None: the argument past the kind's values is no option's
    value a user would write, a norm's eps of 16)."""

    hint: str
    body: str
    likelier: bool | None


def _torch_meant(numbers: list[Value], extra: list[Value], kept: list[Value], kind: Syntax,
                 stmt: LayerStmt) -> TorchMeant | None:
    """``numbers``, a layer's values by position with one past the kind's values, read as
    PyTorch's class of the kind reads them where an argument a spec infers from the layer's
    input is among them (``conv(1, 16, 3)``: nn.Conv2d's in_channels, out_channels and
    kernel_size; ``dense(576, 10)``; ``batchnorm(16)``). Where the inferred argument comes
    first and a value follows it, both readings make sense; PyTorch's is the likelier where
    that value is no smaller (``conv(1, 16, 3)``; Keras' ``conv(16, 3, 2)`` has more filters
    than its kernel is wide). None where the values do not read so."""
    from cnnspec.lang.foreign import torch_inferred, torch_signature

    kind_name = kind.kind.name
    found = torch_inferred(kind_name, len(numbers))
    if found is None or extra != numbers[-1:] or not _counts(numbers[found[0]]):
        return None
    k, argument = found
    given = numbers[:k] + numbers[k + 1:]
    if not all(_reads_value(reader, value) for (_, reader), value in zip(kind.positional, given)):
        return None
    call = isinstance(stmt.head, Call)
    body, line = (_call_meant if call else _line_meant)(stmt, kind, given, [], kept)
    if call and body.startswith(f"{stmt.head.name}()"):  # `batchnorm()`: the line says it
        body, line = line, None
    hint = (f"{torch_signature(kind_name, len(numbers))} gives {argument}, which a spec infers "
            f"from the layer's input: write `{body}`"
            + (f" (on a line, `{line}`)" if line is not None else ""))
    after = numbers[k + 1] if k + 1 < len(numbers) else None
    likelier = None if k > 0 or after is None else (
        isinstance(after, Num) and numbers[k].value <= after.value)
    return TorchMeant(hint, body, likelier)


def _counts(value: Value) -> bool:
    """Whether ``value`` is a whole number of at least 1, as a count of channels is
    (``batchnorm(0.001)`` gives an eps, not PyTorch's num_features)."""
    return isinstance(value, Num) and isinstance(value.value, int) and value.value >= 1


def _reads_value(reader: Reader, value: Value) -> bool:
    """Whether ``reader``, a value's reader, takes ``value``."""
    try:
        reader(value, "the value")  # the words name the value in an error, unused here
    except SpecError:
        return False
    return True


def _extra_values(values: list[Value], kind: Syntax,
                  call: bool) -> tuple[list[Value], list[Value]]:
    """``values``, from the first past the kind's values on, split into those past the
    kind's values and the words kept as written: in a call, every argument but a flag, an
    activation or a norm (:func:`_stands_anywhere`); on a line, those up to the first word
    of the line (an option or such a word), the rest kept."""
    if call:
        return ([value for value in values if not _stands_anywhere(value, kind)],
                [value for value in values if _stands_anywhere(value, kind)])
    count = next((k for k, value in enumerate(values) if _stands_anywhere(value, kind)
                  or isinstance(value, Word) and value.name in kind.options), len(values))
    return values[:count], values[count:]


def _named_options(stmt: LayerStmt, kept: list[Value], kind: Syntax) -> set[str]:
    """The fields ``stmt`` sets by an option's name after its values: a call's keywords, the
    option words of a line's words ``kept``."""
    names = [k.name for k in stmt.head.kwargs] if isinstance(stmt.head, Call) \
        else [value.name for value in kept if isinstance(value, Word)]
    return {kind.options[name][0] for name in names if name in kind.options}


def _call_meant(stmt: LayerStmt, kind: Syntax, values: list[Value],
                named: list[tuple[str, Value]], kept: list[Value]) -> tuple[str, str | None]:
    """A call-form head with ``values`` by position, the options ``named`` after its own
    keywords and the flags, activation or norm ``kept`` among its arguments: the call and
    the line (None where none writes it), each with the words after the call."""
    head = stmt.head
    kwargs = [(other.name, other.value) for other in head.kwargs] + named
    rest = "".join(" " + one_line(value) for value in stmt.items)
    line = _line_form(head, kind, values + kept, kwargs)
    return (_call_form(head, values + kept, kwargs) + rest,
            None if line is None else line + rest)


def _line_meant(stmt: LayerStmt, kind: Syntax, values: list[Value],
                named: list[tuple[str, Value]], kept: list[Value]) -> tuple[str, None]:
    """A layer's line with ``values`` in place, the options ``named`` and the words ``kept``
    after them, as written; no other line."""
    words = [stmt.head.name, *(one_line(value) for value in values),
             *(f"{word} {one_line(value)}" for word, value in named),
             *(one_line(value) for value in kept)]
    return " ".join(words), None


def _options_meant(extra: list[Value], given: set[str],
                   kind: Syntax) -> list[tuple[str, Value]] | None:
    """The option word each of ``extra``, values past the kind's values, most likely sets,
    in order: the first option after the last one taken whose reader takes it and that sets
    no field given otherwise (``given``); None where one of them is read by none."""
    fields = [f for f in kind.kind.fields if f.option and not f.named_only
              and f.name not in given]
    named = []
    for value in extra:
        taker = next((k for k, f in enumerate(fields) if _reads(kind, f.option[0], value)), None)
        if taker is None:
            return None
        named.append((fields[taker].option[0], value))
        fields = fields[taker + 1:]
    return named


def _reads(kind: Syntax, option: str, value: Value) -> bool:
    """Whether ``option`` of ``kind`` takes ``value``."""
    return _reads_value(kind.options[option][1], value)


def _option_words(kind: Syntax, option: str) -> str:
    """How messages name the field ``option`` of ``kind`` sets: "stride", "padding"."""
    return kind.kind.field_map[kind.options[option][0]].described


def _the(words: str) -> str:
    """A field's words as a sentence names it: "the stride", "the number of filters"."""
    return words if words.startswith("the ") else "the " + words


def _call_form(head: Call, args: list[Value], kwargs: list[tuple[str, Value | None]]) -> str:
    """A call-form head as a hint writes it: ``conv(16, 3, stride=2)``; a keyword without a
    value (None) is a flag, written alone after the arguments (``conv(16, 3, nobias)``)."""
    parts = [one_line(arg) for arg in args]
    parts += [name for name, value in kwargs if value is None]
    parts += [f"{name}={one_line(value)}" for name, value in kwargs if value is not None]
    return f"{head.name}({', '.join(parts)})"


def _line_form(head: Call, kind: Syntax, args: list[Value],
               kwargs: list[tuple[str, Value | None]]) -> str | None:
    """The same head as a line writes it: the values without an option word in their order
    (``args``, then keywords naming the next ones), then ``option value`` pairs and flags:
    ``conv 16 3 stride 2``. None where a keyword names a value no line writes in its place:
    one an argument or another keyword gave already, or one after a value left out
    (``conv(kernel=3)``)."""
    names = [name for name, _ in kind.positional]
    by_name = dict(kwargs)
    values = _by_position(args, kind)
    given = len(values)
    for name in names[given:]:
        if name not in by_name:
            break
        values.append(by_name[name])
    if sum(name in names for name, _ in kwargs) != len(values) - given:
        return None
    options = [name if value is None else f"{name} {one_line(value)}"
               for name, value in kwargs if name not in names]
    words = [one_line(arg) for arg in args if _stands_anywhere(arg, kind)]
    return " ".join([head.name, *(one_line(value) for value in values), *options, *words])


def _statement_line(stmt: LayerStmt, body: str) -> str:
    """``stmt``'s line with ``body`` in place of its head and values: its label and inputs
    kept."""
    label = f"{stmt.label}: " if stmt.label else ""
    inputs = f" <- {', '.join(word.name for word in stmt.inputs)}" if stmt.inputs else ""
    return f"{label}{body}{inputs}"


def _read_items(items: list[Value], kind: Syntax, layer: ReadLayer, display: str,
                stmt: LayerStmt) -> None:
    _refuse_run_on_numbers(items)
    slots = [slot for slot in kind.positional if slot[0] not in layer.spans]  # not by keyword
    placed: list[int] = []  # the items read as positional values
    named: tuple[int, int] | None = None  # the first and last item of the last option or word
    i = 0
    while i < len(items):
        item = items[i]
        word = item.name if isinstance(item, Word) else None
        if word in kind.options:
            if i + 1 >= len(items):
                raise SpecError(f"option '{word}' needs a value", span=item.span,
                                hint=_usage(layer.kind))
            field_name, reader = kind.options[word]
            if field_name == BIAS_INIT_KEY:
                _refuse_bias_off(item, items[i + 1], kind, layer.kind, display)
            _set(layer, field_name, reader(items[i + 1], f"the {word} of {display}"),
                 item, items[i + 1], display)
            named = (i, i + 1)
            i += 2
            continue
        if word in kind.flags:
            field_name, value = kind.flags[word]
            _set(layer, field_name, value, item, item, display)
        elif kind.activation and isinstance(item, (Word, Call)) and item.name in ACTIVATIONS:
            _set_activation(layer, item, display)
        elif kind.kind.weighted and isinstance(item, Word) and item.name in NORM_SUGAR:
            _set_norm(layer, item, display)
        elif slots and (isinstance(item, (Num, Dims)) or _chooses(kind, slots[0], item)):
            # `conv 16 lr_mult 1 2`: the 2 is no kernel (a field its option gave already,
            # `dropout p 0.5 0.3`, is told given twice)
            if named is not None and slots[0][0] not in layer.spans:
                raise _positional_after(items, i, named, kind, slots, placed, stmt, display)
            field_name, reader = slots.pop(0)
            try:
                value = reader(item, f"the {_field_words(field_name)} of {display}")
            except SpecError as err:
                raise _out_of_order(err, item, field_name, slots, layer.kind) from None
            _set(layer, field_name, value, item, item, display)
            placed.append(i)
            i += 1
            continue
        else:
            raise _list_without_brackets(items, i, kind) or _past_the_values(
                item, kind, layer, display, stmt) or _unexpected(
                item, kind, layer.kind, display, items[i - 1] if i else None,
                items[i + 1] if i + 1 < len(items) else None,
                lambda: _line_in_place(items, placed, kind, stmt.label))
        named = (i, i)
        i += 1


def _refuse_run_on_numbers(items: list[Value]) -> None:
    """The error for the first number of a layer's line read as a number and the words and
    numbers touching it (``1_000``, ``1e``, ``3X3``, ``1_0e-2``: :func:`_number_run_on`),
    before any value is read: read in turn, the number's field refused the part before the
    word (``dropout 1_000``: "must be in [0, 1), not 1"; ``conv 1.5_0``: "a whole number, not
    1.5"). Each item is read in one run at most: a number inside a run read already starts
    none of its own, and a line of 20,000 touching ``1a.`` took minutes read from each."""
    i = 0
    while i < len(items) - 1:
        if isinstance(items[i], (Num, Dims)) and isinstance(items[i + 1], Word) \
                and _touching(items[i], items[i + 1]):
            written = _touching_run(items, i)
            fixed = _number_run_on(items[i:i + written])
            if fixed is not None:
                raise fixed
            i += written
        else:
            i += 1


def _positional_after(items: list[Value], i: int, named: tuple[int, int], kind: Syntax,
                      slots: list[tuple[str, Reader]], placed: list[int], stmt: LayerStmt,
                      display: str) -> SpecError:
    """The error for ``items[i]``, a value without an option word (a filter count, a kernel
    size) written after the option, flag, activation or norm ``items[named[0]:named[1] + 1]``.
    A layer's values come right after its kind, as every kind's usage writes them: read
    anywhere, ``conv 16 lr_mult 1 2`` made the 2 of Caffe's two multipliers a 2x2 kernel."""
    item, kind_name = items[i], kind.kind.name
    before = items[i - 1]
    if isinstance(before, Word) and ACTIVATIONS.get(before.name) and isinstance(item, Num):
        # `conv 16 leaky_relu 0.2`: the activation's parameter, as the end of a line has it
        return _unexpected(item, kind, kind_name, display, before, None)
    after = line_text(items[named[0]:named[1] + 1])
    message = (f"{describe(item)} after `{after}` is out of place in {kind_name} layer "
               f"{display}")
    option = items[named[0]]
    field = _list_field(option, kind)
    if field is not None and named[1] == i - 1 \
            and isinstance(item, Num):  # `lr_mult 1 2`: Caffe's two multipliers
        numbers = ", ".join(value.text for value in items[named[1]:i + 1])
        return SpecError(message, span=item.span, hint=(
            f"a value after an option is not read as the {_field_words(slots[0][0])}: values "
            f"without an option word come right after the kind ({_usage(kind_name)}); for "
            f"{option.name}'s two values write `{option.name} [{numbers}]`: {field.hint}"))
    return SpecError(message, span=item.span, hint=(
        "values without an option word come right after the kind, before its options: write "
        f"`{_moved_forward(items, i, kind, slots, placed, stmt)}`"))


def _moved_forward(items: list[Value], i: int, kind: Syntax, slots: list[tuple[str, Reader]],
                   placed: list[int], stmt: LayerStmt) -> str:
    """``stmt``'s line with the values without an option word from ``items[i]`` on (as many
    as the kind has ``slots`` left) moved to follow the ones read before them (``placed``)."""
    values = [items[k] for k in placed]
    rest: list[Value] = []
    j = 0
    while j < len(items):
        item = items[j]
        if isinstance(item, Word) and item.name in kind.options:
            rest += items[j:j + 2]
            j += 2
            continue
        moving = len(values) - len(placed)
        if j >= i and moving < len(slots) and (
                isinstance(item, (Num, Dims)) or _chooses(kind, slots[moving], item)):
            values.append(item)
        elif j not in placed:
            rest.append(item)
        j += 1
    return _statement_line(stmt, f"{stmt.head.name} {line_text(values + rest)}")


def _list_field(option: Value, kind: Syntax) -> Field | None:
    """The field of a list type (``lr_mult``'s, Caffe's two multipliers) that ``option``, an
    option word of ``kind``, fills; None for any other value."""
    if not isinstance(option, Word) or option.name not in kind.options:
        return None
    field = kind.kind.field_map[kind.options[option.name][0]]
    return field if field.type in LIST_TYPES else None


def _list_without_brackets(items: list[Value], i: int, kind: Syntax) -> SpecError | None:
    """``lr_mult 1 2``: the numbers of an option that takes a list (Caffe's multipliers of
    the weight's and the bias's rate, ``lr_mult [1, 2]``) written without its brackets, the
    second (``items[i]``) read as out of place; the error for them all, else None."""
    start = i - 1
    while start > 0 and isinstance(items[start], Num):
        start -= 1
    option = items[start]
    field = _list_field(option, kind)
    if start == i - 1 or field is None:
        return None
    end = i
    while end + 1 < len(items) and isinstance(items[end + 1], Num):
        end += 1
    numbers = [item.text for item in items[start + 1:end + 1]]
    return SpecError(f"the values of {option.name} are written as a list, in brackets",
                     span=Span(items[start + 1].span.line, items[start + 1].span.column,
                               items[end].span.end_line, items[end].span.end_column),
                     hint=f"write `{option.name} [{', '.join(numbers)}]`: {field.hint}")


# Words other libraries and formats give a bias to say there is none: Keras' use_bias=False,
# PyTorch's bias=False, a YAML null. Read as initializer names, `bias none` was answered
# "did you mean ones?", the opposite of what was meant.
NO_BIAS_VALUES = ("none", "false", "no", "off", "null")


def _no_bias_flag(kind: Syntax) -> str | None:
    """The flag word that leaves out a layer's bias (``nobias``), as its kind declares it."""
    return next((word for word, (field_name, value) in kind.flags.items()
                 if field_name == "bias" and value is False), None)


def _refuse_bias_off(option: Word, value: Value, kind: Syntax, kind_name: str,
                     display: str) -> None:
    """``bias none`` or ``bias false``: the bias option takes an initializer; no bias is the
    kind's flag."""
    flag = _no_bias_flag(kind)
    if flag is None or not isinstance(value, Word) or value.name.lower() not in NO_BIAS_VALUES:
        return
    raise SpecError(f"'bias {value.name}' does not leave out the bias of {display}: `bias` "
                    "takes an initializer", span=Span(option.span.line, option.span.column,
                                                      value.span.end_line, value.span.end_column),
                    hint=f"for a layer without a bias write `{flag}` instead, e.g. "
                    f"`{kind_name} ... {flag}`")


def _out_of_order(err: SpecError, item: Value, field_name: str,
                  later: list[tuple[str, Reader]], kind_name: str) -> SpecError:
    """``err`` of a size written where a count goes (``conv 3x3 8``, ``conv 3x3``), with a
    hint that says the order of the values; any other bad value keeps its own hint."""
    if not isinstance(item, Dims) or not later:
        return err
    return dataclasses.replace(
        err, hint=f"{kind_name} takes the {_field_words(field_name)} first, then the "
                  f"{_field_words(later[0][0])}; {_usage(kind_name)}")


def _chooses(kind: Syntax, slot: tuple[str, Reader], item: Value) -> bool:
    """A bare word fills a positional choice field (``upsample 2 bilinear``)."""
    return isinstance(item, Word) and kind.kind.field_map[slot[0]].type == "choice"


def _set(layer: ReadLayer, field_name: str, value, first: Value, last: Value,
         display: str) -> None:
    if field_name in layer.spans:
        raise SpecError(f"{_field_words(field_name)} of {display} is given twice",
                        span=first.span,
                        hint=f"first given at column {layer.spans[field_name].column}")
    layer.fields[field_name] = value
    layer.spans[field_name] = Span(first.span.line, first.span.column, last.span.end_line,
                                   last.span.end_column)
    if isinstance(last, ListLit) and last is not first:  # `bias [0.1]`: the literal itself
        layer.spans.update(literal_spans(f"{field_name}.values", last))


def _set_norm(layer: ReadLayer, item: Word, display: str) -> None:
    if layer.norm is not None:
        raise SpecError(f"{display} has two normalisations", span=item.span,
                        hint="write the second one as its own layer")
    if layer.activation is not None:
        raise SpecError(f"the normalisation '{item.name}' of {display} comes after its "
                        "activation", span=item.span,
                        hint=f"write it before the activation: ... {item.name} "
                        f"{layer.activation[0]} (the layer, then the norm, then the activation)")
    layer.norm = (NORM_SUGAR[item.name], item.name, item.span)


def _set_activation(layer: ReadLayer, item: Word | Call, display: str) -> None:
    if layer.activation is not None:
        raise SpecError(f"{display} has two activations", span=item.span,
                        hint="write the second activation as its own layer")
    params = bind(item, ACTIVATIONS[item.name], f"activation {item.name}")
    layer.activation = (item.name, params, item.span)


def _line_in_place(items: list[Value], placed: list[int], kind: Syntax,
                   label: str | None) -> tuple[str, str] | None:
    """The line ``items`` mean where they name values the kind writes alone, in their place,
    by another library's words (Caffe's ``conv num_output 20 kernel_size 5 stride 2``, Keras'
    ``filters 8``): the values in place first (``placed``: the indices of those written so),
    then the named ones in the kind's order, then the rest as written: ``conv 20 5 stride 2``;
    with a note of a value named that one in place gives already (the one in place kept, as
    :func:`~cnnspec.lang.foreign.values_in_place` keeps it). None where no value is named so
    or the line would not read (its error says why)."""
    from cnnspec.lang.foreign import line_refusal, positional_field, values_in_place

    name = kind.kind.name
    given: dict[str, str] = {}
    named: set[int] = set()
    twice: list[str] = []
    in_place = dict(zip(kind.kind.positional, placed))
    for j, item in enumerate(items[:-1]):
        field_name = positional_field(name, item.name) if isinstance(item, Word) else None
        if field_name is None or j in named or j in placed:
            continue
        if field_name in in_place:
            twice.append(f"`{line_text(items[j:j + 2])}` gives the "
                         f"{_field_words(field_name)} that "
                         f"{value_text(items[in_place[field_name]])} gives in place")
        given.setdefault(field_name, value_text(items[j + 1]))
        named |= {j, j + 1}
    if not given:
        return None
    rest = [item for j, item in enumerate(items) if j not in named and j not in placed]
    line = " ".join(filter(None, [name, line_text([items[j] for j in placed]),
                                  *values_in_place(name, given, len(placed)), line_text(rest)]))
    if line_refusal(line):
        return None
    note = (f"; {listed(twice)}: " + ("it is" if len(twice) == 1 else "each is")
            + " left out") if twice else ""
    return f"write `{label + ': ' if label else ''}{line}`{note}", \
        f"{label + ': ' if label else ''}{line}"


def _unexpected(item: Value, kind: Syntax, kind_name: str, display: str,
                before: Value | None, after: Value | None,
                in_place: Callable[[], tuple[str, str] | None] = lambda: None) -> SpecError:
    """The error for ``item``, which ``kind`` cannot read where it stands between ``before``
    and ``after`` (None at either end of the line). A number run on into the word ``item``
    (``1_000``, ``3X3``) never comes here: :func:`_refuse_run_on_numbers` said so first.
    ``in_place``: the hint and line of :func:`_line_in_place`, for a value named by another
    library's word that the line writes alone, in its place."""
    if isinstance(item, (Word, Call)):
        valid = list(kind.options) + list(kind.flags)
        if kind.activation:
            valid += list(ACTIVATIONS)
        if kind.kind.weighted:
            valid += list(NORM_SUGAR)
        span = item.name_span if isinstance(item, Call) else item.span
        if item.name == "input":
            return SpecError(f"unexpected 'input' in {kind_name} layer {display}", span=span,
                             hint="to take the network's input, end the line with `<- input`")
        if item.name == "x":
            return SpecError(f"unexpected 'x' in {kind_name} layer {display}", span=span,
                             hint="sizes are written without spaces: 3x3, not 3 x 3")
        shorthand = _summary_shorthand(item, kind)
        if shorthand is not None:
            return SpecError(f"'{item.name}' is not an option of {kind_name}: write "
                             f"`{shorthand}`", span=span,
                             hint=f"{SUMMARY_SHORTHAND}; {_usage(kind_name)}")
        if kind.kind.merge and isinstance(item, Word) and item.name not in valid:
            return SpecError(f"'{item.name}' is not an option of {kind_name}: a layer it "
                             "merges is named in brackets or after '<-'", span=span,
                             hint=merge_inputs_hint(kind_name, [item.name, "..."]))
        from cnnspec.lang.foreign import (
            ACTIVATION_KEYWORDS,
            BIAS_SWITCHES,
            KERAS_REGULARIZERS,
            bare_regularizer_hint,
            foreign_field,
            foreign_option,
            initializer_option,
            names_an_initializer,
            regularizer_hint,
        )

        flag = _no_bias_flag(kind)
        # Keras' use_bias, Caffe's bias_term
        if flag and (item.name.lower().endswith("_bias") or item.name in BIAS_SWITCHES):
            return SpecError(f"'{item.name}' is not an option of {kind_name}: a layer has a "
                             f"bias unless it says `{flag}`", span=span,
                             hint=f"for a layer without a bias write `{flag}` in place of "
                             f"`{item.name} false`, e.g. `{kind_name} ... {flag}`; `bias INIT` "
                             "says how the bias starts, e.g. bias zeros")
        switch = _flag_of_field(kind, item.name)
        if switch is not None:  # Keras' `trainable false`: the flag `frozen`
            word, sets = switch
            return SpecError(f"'{item.name}' is not an option of {kind_name}: "
                             f"{_flag_says(word, item.name, sets)}", span=span,
                             hint=f"write `{word}` in place of `{item.name} "
                             f"{str(sets).lower()}`; without `{word}`, {item.name} is "
                             f"{str(not sets).lower()}")
        if kind.kind.fixed_start and (names_an_initializer(item.name)
                                      or _init_on_part(kind.kind, item.name, after)):
            part = _fixed_part(kind.kind, item.name, initializer_option(item.name))
            return _fixed_start_error(item.name, after, span, kind.kind, kind_name, part)
        initializes = initializer_option(item.name)
        if initializes in kind.options:  # Keras' kernel_initializer, bias_initializer
            # `weight_filler pad same`: the next option is no initializer of the filler
            value = None if isinstance(after, (Word, Call)) and after.name in valid else after
            return _initializer_named(item.name, span, kind, kind_name, initializes, value)
        if item.name in KERAS_REGULARIZERS and kind.kind.weighted:  # before its `kernel`
            # `kernel_regularizer pad same`: the next option is no value of the regularizer
            value = None if isinstance(after, (Word, Call)) and after.name in valid else after
            written = f"{item.name} {one_line(value)}" if value is not None else item.name
            infinite = _infinite_decay(value, written)
            if infinite is not None:
                return infinite
            return SpecError(f"'{item.name}' is not an option of {kind_name}: it is an "
                             "argument of Keras' layers", span=span,
                             hint=(bare_regularizer_hint(item.name) if value is None
                                   else regularizer_hint(item.name, _l2_factor(value), written)))
        positional = dict(kind.positional)
        # `kernel`, Keras' `kernel_size` and `pool_size`, `units`, Caffe's `num_output`
        field_named = next((part for part in (foreign_field(kind.kind, item.name),
                                              *item.name.split("_")) if part in positional),
                           None)
        option = kind.kind.field_map.get(foreign_field(kind.kind, item.name) or "")
        # Caffe's `group 2`: `groups 2` (a word the kind takes, `stride(2)`, is answered below)
        if option is not None and option.option and item.name not in kind.options:
            return SpecError(f"'{item.name}' is not an option of {kind_name}: it is written "
                             f"`{option.option[0]}`", span=span,
                             hint=f"write `{option.option[0]} "
                             f"{(after is not None and value_text(after)) or '...'}`; "
                             f"{_usage(kind_name)}")
        if field_named is not None:
            hint, line = in_place() or (_usage(kind_name), None)
            return SpecError(f"'{item.name}' is not an option of {kind_name}: "
                             f"{_describe_field(field_named)} is written alone, in its place",
                             span=span, hint=hint, rewrite=line)
        foreign = foreign_option(kind_name, item.name, after and value_text(after))
        if foreign is not None:  # Caffe's moving_average_fraction, PyTorch's in_channels
            return SpecError(f"'{item.name}' is not an option of {kind_name}: it is "
                             f"{foreign[0]}", span=span, hint=foreign[1])
        if item.name in ACTIVATION_KEYWORDS and kind.activation:
            # `dense 10 activation softmax`: the activation it names, else an example
            named = isinstance(after, (Word, Call)) and after.name in ACTIVATIONS
            return SpecError(f"'{item.name}' is not an option of {kind_name}: an activation is "
                             "written by its name alone, at the end of the line", span=span,
                             hint=f"e.g. `{kind_name} ... {one_line(after) if named else 'relu'}`"
                                  f"; {_usage(kind_name)}")
        if item.name in REGISTRY and item.name not in valid:
            return SpecError(f"'{item.name}' is a layer of its own, not an option of "
                             f"{kind_name} layer {display}", span=span,
                             hint=f"write it on the next line, after {display}: `{item.name}`"
                             + (f" ({_usage(item.name)})" if REGISTRY[item.name].usage else ""))
        if isinstance(item, Call) and item.name in kind.options:  # `stride (2, 2)`, `pad(1)`
            return _option_called(item, kind_name, display)
        if not valid:
            return SpecError(f"{kind_name} takes no options, but got '{item.name}'", span=span,
                             hint=_usage(kind_name))
        return SpecError(f"unknown option '{item.name}' for {kind_name} layer {display}",
                         span=span, hint=did_you_mean(item.name, valid, "options"))
    if (isinstance(before, Word) and ACTIVATIONS.get(before.name) and kind.activation
            and isinstance(item, Num)):  # `leaky_relu 0.2` as sugar: the layer form's spelling
        return SpecError(f"{describe(item)} after the activation {before.name} is out of place "
                         f"in {kind_name} layer {display}", span=item.span,
                         hint=f"an activation written at the end of a layer takes its "
                              f"parameter in parentheses: {before.name}({item.text})")
    if kind.positional:
        return SpecError(f"{describe(item)} is out of place in {kind_name} layer {display}",
                         span=item.span, hint=_usage(kind_name))
    return SpecError(f"{kind_name} takes no values, but got {describe(item)}", span=item.span,
                     hint=_usage(kind_name))


def _init_on_part(kind: Kind, name: str, value: Value | None) -> bool:
    """Whether ``name value`` writes an init on a part of a layer that starts fixed
    (``batchnorm scale zeros``): ``scale False`` is Keras' switch, answered as such."""
    return name in kind.fixed_parts and _read_init(value) is not None


def _read_init(value: Value | None) -> dict | None:
    """The init ``value`` writes, or None for a value that writes none."""
    try:
        return None if value is None else read_init(value)
    except SpecError:
        return None


def _constant_start(value: Value | None) -> float | None:
    """The number every value an init written as ``value`` starts at (``zeros``: 0,
    ``constant(0.1)``: 0.1); None for another init, or for a value that names none."""
    init = _read_init(value)
    try:
        info = None if init is None else describe_init(init, (1,))
    except SpecError:  # an init no parameter of one value takes (a kernel)
        return None
    return info.mean if info is not None and info.constant else None


def _fixed_part(kind: Kind, name: str, option: str | None) -> str | None:
    """Which part of a layer that starts fixed an init written after ``name`` would set: its
    word for the weight or the bias (:attr:`Kind.fixed_parts`), from the word itself, or from
    ``weight``, ``bias`` or another library's name for them (``option``: Keras'
    ``kernel_initializer`` is ``weight``, Keras' ``gamma_initializer`` a norm's scale); None
    for a part the layer has not (prelu's bias)."""
    parts = kind.fixed_parts or ("weight", "bias")
    order = {"weight": 0, "bias": 1, "gamma": 0, "beta": 1}  # Keras' norms: gamma, beta
    head = name.lower().partition("_")[0]
    index = (parts.index(name) if name in parts
             else order.get(name, order.get(option or "", order.get(head))))
    return parts[index] if index is not None and index < len(parts) else None


def _fixed_start_error(name: str, value: Value | None, span: Span, kind: Kind,
                       kind_name: str, part: str | None) -> SpecError:
    """The error for an init written on a layer whose parameters start fixed (batch norm's
    scale 1 and shift 0, prelu's slopes at 0.25: :attr:`Kind.fixed_start`): where they start;
    where the init gives one number, what it would have started ``part`` at and, for a zero
    start of the weight, what that would do (:attr:`Kind.zero_start`)."""
    written = name if value is None else f"{name} {one_line(value)}"
    start = _constant_start(value)
    would = ""
    if start is not None and part is not None:
        would = f": `{written}` would start its {part} at {float_text(start)}"
        if start == 0 and kind.fixed_parts[:1] == (part,) and kind.zero_start:
            would += f"; {kind.zero_start}"
    return SpecError(f"{kind_name} starts at {kind.fixed_start}; it takes no init "
                     f"('{name}'){would}",
                     span=span, hint=f"remove `{written}`; {_usage(kind_name)}")


def _l2_factor(value: Value | None) -> float | None:
    """The factor of Keras' L2 regularizer as a layer's option writes it: ``l2`` (Keras'
    default), ``l2(0.001)`` or ``L2(l2=0.001)``, as written even where it is 0 or less (NaN
    where it is no number); None for another (``l1``), which cnnspec's weight decay cannot
    do."""
    from cnnspec.lang.foreign import KERAS_L2_DEFAULT

    if isinstance(value, Word) and value.name.lower() == "l2":
        return KERAS_L2_DEFAULT
    if not isinstance(value, Call) or value.name.lower() != "l2":
        return None
    factor = _l2_written(value)
    if factor is None:
        return KERAS_L2_DEFAULT
    return float(factor.value) if isinstance(factor, Num) else math.nan


def _l2_written(value: Call) -> Value | None:
    """The factor given to Keras' ``l2(...)`` or ``L2(l2=...)`` as written; None where it is
    left to Keras' default."""
    given = [*value.args, *(kwarg.value for kwarg in value.kwargs if kwarg.name == "l2")]
    return given[0] if given else None


def _infinite_decay(value: Value | None, written: str) -> SpecError | None:
    """The error, at the number, for Keras' ``l2(1e400)`` (or ``l2(1e308)``, twice which is
    past the largest float) on a layer's line: the weight decay it would be is infinite,
    which no train block takes; None for another value."""
    from cnnspec.lang.foreign import finite_decay, infinite_decay_hint

    factor = _l2_written(value) if isinstance(value, Call) and value.name.lower() == "l2" \
        else None
    if not isinstance(factor, Num) or not factor.value > 0 or finite_decay(factor.value):
        return None
    return SpecError(f"Keras' L2 factor {shortened(factor.text)} makes an infinite weight "
                     "decay: a decay must be finite", span=factor.span,
                     hint=infinite_decay_hint(shortened(written)))


# A padding or stride written bare, as Keras' padding='same' or summary's Window column (`3x3
# s2 same`) gives it: a spec spells the option out.
SUMMARY_SHORTHAND = ("an option is written by its name, then its value: `pad same`, `stride 2` "
                     "(summary's Window column shortens them to same and s2)")
STRIDE_SHORTHAND = LazyPattern(r"s(\d+(?:x\d+)?)$")


def _summary_shorthand(item: Value, kind: Syntax) -> str | None:
    """The option ``item`` abbreviates as summary's Window column writes it (``s2``: ``stride
    2``; ``same``: ``pad same``), where the kind takes that option; else None."""
    if not isinstance(item, Word):
        return None
    stride = STRIDE_SHORTHAND.match(item.name)
    if stride and "stride" in kind.options:
        return f"stride {stride.group(1)}"
    if item.name in PADDING_NAMES and "pad" in kind.options:
        return f"pad {item.name}"
    return None


def _touching(before: Value, item: Value) -> bool:
    """Whether ``item`` starts where ``before`` ends, with no space between."""
    return (before.span.end_line, before.span.end_column) == (item.span.line, item.span.column)


def _touching_run(items: list[Value], start: int) -> int:
    """How many items from ``items[start]`` on are numbers, sizes and words with no space
    between them: what a number written there may have been cut into (1_0e-2: 1, _0e, -2)."""
    end = start + 1
    while end < len(items) and isinstance(items[end], (Num, Dims, Word)) \
            and _touching(items[end - 1], items[end]):
        end += 1
    return end - start


def _number_run_on(items: list[Value]) -> SpecError | None:
    """``3X3``, ``1_000`` or ``1_0e-2``, written as ``items`` (touching: the number and the
    words and numbers after it, X3; _000; _0e and -2): the error under the whole size or
    number (:func:`~cnnspec.lang.syntax_errors.number_run_on`), else None."""
    text = "".join(item.name if isinstance(item, Word) else item.text for item in items)
    run = NUMBER_RUN.match(text)
    found = number_run_on(run[0]) if run else None
    if found is None:
        return None
    message, hint = found
    start = items[0].span
    return SpecError(message, span=Span(start.line, start.column, start.line,
                                        start.column + len(run[0])), hint=hint)


def _initializer_named(name: str, span: Span, kind: Syntax, kind_name: str, option: str,
                       value: Value | None) -> SpecError:
    """The error for another library's name of an initializer (Keras' kernel_initializer,
    Caffe's weight_filler) written as an option of ``kind`` with ``value`` after it (None:
    none): the option it is here, with the init written after it where that option reads it;
    else what the option refuses in it (Caffe's `weight_filler false`), and no line that
    would be refused as well."""
    message = (f"'{name}' is not an option of {kind_name}: an initializer is written "
               f"`{option} INIT`")
    try:
        if value is not None:
            kind.options[option][1](value, f"the {option} initializer")
    except SpecError as refused:
        written = shortened(one_line(value))
        why = refused.message + (f" ({refused.hint})" if refused.hint else "")
        return SpecError(message, span=span,
                         hint=f"`{written}` is no initializer `{option}` takes: {why}; write "
                         f"`{option} INIT` in place of `{name} {written}`, e.g. `{option} "
                         f"{_init_written(None, option)}`; {_usage(kind_name)}")
    return SpecError(message, span=span,
                     hint=f"write `{option} {_init_written(value, option)}`; {_usage(kind_name)}")


def _init_written(after: Value | None, option: str) -> str:
    """The init the user wrote after an initializer's foreign name (`init he_normal`,
    `kernel_initializer glorot_uniform(gain=2)`, a literal's `[...]`), or an example for
    ``option``."""
    if isinstance(after, Word):
        return after.name
    if isinstance(after, Call):
        return f"{after.name}(...)"
    if isinstance(after, ListLit):
        return "[...]"
    return BUILT_IN_DEFAULTS[option]


def _option_called(item: Call, kind_name: str, display: str) -> SpecError:
    """An option written as a call, PyTorch's and Keras' tuple (``stride (2, 2)``): an option's
    value follows a space, and a size is written with 'x'."""
    numbers = [arg.text for arg in item.args if isinstance(arg, Num)]
    if numbers and len(numbers) == len(item.args):
        value = "x".join(numbers)
    elif len(item.args) == 1 and isinstance(item.args[0], Word):  # `pad(same)`
        value = item.args[0].name
    else:
        value = "..."
    # the size's 'x' said only where a tuple was written: lr_mult(0.1) has no size
    sized = "; a size is written with 'x' (2x2, not (2, 2))" if len(item.args) > 1 else ""
    return SpecError(f"option '{item.name}' of {kind_name} layer {display} takes its value "
                     "after a space, not in parentheses", span=item.span,
                     hint=f"write `{item.name} {value}`{sized}")


def _check_consistency(layer: ReadLayer, display: str) -> None:
    if layer.fields.get("bias") is False and BIAS_INIT_KEY in layer.spans:
        flag = _no_bias_flag(KINDS[layer.kind])
        init = layer.fields[BIAS_INIT_KEY]["name"]
        raise SpecError(f"{display} says both {flag} (no bias) and bias {init} (how its bias "
                        "starts)", span=layer.spans[BIAS_INIT_KEY],
                        hint=f"drop `{flag}` to keep a bias, or drop `bias {init}`")


def _usage(kind: str) -> str:
    return "usage: " + (REGISTRY[kind].usage or kind)


def _field_words(field_name: str) -> str:
    """How messages name a field: its registry ``words`` ("number of filters") or its name."""
    for kind in REGISTRY.values():
        if field_name in kind.field_map:
            return kind.field_map[field_name].described
    return field_name


def _describe_field(field_name: str) -> str:
    words = _field_words(field_name)
    return words if words.startswith("the ") else "a " + words
