"""What each layer kind accepts, and reading one layer statement into IR fields.

A layer statement is a kind followed by values: positional ones (``conv 16 3x3`` fills
``filters`` then ``kernel``), options that take a value (``stride 2``, ``pad same``,
``weight he_normal``), flags (``nobias``, ``frozen``), and at most one trailing activation
(``relu``), which becomes a separate layer. :data:`KINDS` is the table of all of that; the
fields of each kind and their defaults are those of docs/ir.md.

Initializers that are left out (``weight_init``/``bias_init``) are filled in later from the
model-wide default by the resolver, which knows it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cnnspec.errors import Span, SpecError
from cnnspec.lang import values as read
from cnnspec.lang.ast import Call, Dims, LayerStmt, Num, Value, Word, describe
from cnnspec.lang.calls import Param, bind
from cnnspec.lang.inits import read_bias_init, read_init
from cnnspec.lang.suggest import did_you_mean

Reader = Callable[[Value, str], object]


def read_padding(value: Value, what: str) -> str | list[int]:
    """``same``, ``valid``, ``1`` (both sides of both axes) or ``1x2`` ([ph, pw])."""
    if isinstance(value, Word):
        return read.choice(value, "padding", ["same", "valid"])
    if isinstance(value, (Num, Dims)):
        return read.pair(value, what, minimum=0)
    raise SpecError(f"{what} must be same, valid, a number or HxW, not {describe(value)}",
                    span=value.span, hint="e.g. pad same, pad valid, pad 1 or pad 1x2")


@dataclass(frozen=True)
class Kind:
    """One layer kind: its IR fields with defaults and how each may be written."""

    fields: dict  # IR field -> default, in IR order (None: filled in by the resolver)
    positional: tuple[tuple[str, Reader], ...] = ()
    options: dict[str, tuple[str, Reader]] = field(default_factory=dict)  # word -> (field, read)
    flags: dict[str, tuple[str, object]] = field(default_factory=dict)  # word -> (field, value)
    activation: bool = False  # may end with an activation, made a separate layer
    merge: bool = False  # add/concat: takes >= 2 inputs, written as call arguments or `<-`
    required: tuple[str, ...] = ()


def _size(v: Value, what: str) -> list[int]:
    return read.pair(v, what)


# Readers of numbers whose hints say what the number means.
FILTERS = read.hinted(read.positive_int, "the number of filters (output channels), "
                      "e.g. conv 16 3x3")
UNITS = read.hinted(read.positive_int, "the number of outputs, e.g. dense 10")
DROP_P = read.hinted(read.in_range, "p is the probability of zeroing each value: 0 keeps "
                     "them all, 0.5 is common; 1 would zero everything", 0, 1)
SLOPE = read.hinted(read.nonnegative_number, "the slope for negative inputs, e.g. 0.01 or 0.2")
ALPHA = read.hinted(read.positive_number, "the value large negative inputs approach is "
                    "-alpha, e.g. 1.0")

PARAM_FLAGS = {"nobias": ("bias", False), "frozen": ("trainable", False)}
INIT_OPTIONS = {"weight": ("weight_init", lambda v, w: read_init(v, "the weight initializer")),
                "bias": ("bias_init", lambda v, w: read_bias_init(v))}
WINDOW_OPTIONS = {"stride": ("stride", _size), "pad": ("padding", read_padding),
                  "padding": ("padding", read_padding)}

KINDS: dict[str, Kind] = {
    "conv": Kind(
        fields={"filters": None, "kernel": None, "stride": [1, 1], "padding": "valid",
                "dilation": [1, 1], "bias": True, "weight_init": None, "bias_init": None,
                "trainable": True},
        positional=(("filters", FILTERS), ("kernel", _size)),
        options={**WINDOW_OPTIONS, "dilation": ("dilation", _size), **INIT_OPTIONS},
        flags=PARAM_FLAGS, activation=True, required=("filters", "kernel")),
    "dense": Kind(
        fields={"units": None, "bias": True, "weight_init": None, "bias_init": None,
                "trainable": True},
        positional=(("units", UNITS),),
        options=dict(INIT_OPTIONS), flags=PARAM_FLAGS, activation=True, required=("units",)),
    "maxpool": Kind(fields={"size": None, "stride": None, "padding": "valid"},
                    positional=(("size", _size),), options=dict(WINDOW_OPTIONS),
                    required=("size",)),
    "avgpool": Kind(fields={"size": None, "stride": None, "padding": "valid"},
                    positional=(("size", _size),), options=dict(WINDOW_OPTIONS),
                    required=("size",)),
    "global_avgpool": Kind(fields={}),
    "flatten": Kind(fields={}),
    "relu": Kind(fields={}),
    "tanh": Kind(fields={}),
    "sigmoid": Kind(fields={}),
    "softmax": Kind(fields={}),
    "leaky_relu": Kind(fields={"slope": 0.01}, positional=(("slope", SLOPE),),
                       options={"slope": ("slope", SLOPE)}),
    "elu": Kind(fields={"alpha": 1.0}, positional=(("alpha", ALPHA),),
                options={"alpha": ("alpha", ALPHA)}),
    "dropout": Kind(fields={"p": None}, positional=(("p", DROP_P),), options={"p": ("p", DROP_P)},
                    required=("p",)),
    "batchnorm": Kind(
        fields={"eps": 1e-5, "momentum": 0.1, "trainable": True},
        options={"eps": ("eps", read.hinted(read.positive_number, "a small number added to "
                                            "the variance before dividing, e.g. 1e-5")),
                 "momentum": ("momentum", read.hinted(
                     read.in_range, "the weight of each batch in the running statistics "
                     "(PyTorch's meaning), e.g. 0.1", 0, 1, high_open=False))},
        flags={"frozen": ("trainable", False)}, activation=True),
    "add": Kind(fields={}, activation=True, merge=True),
    "concat": Kind(fields={}, activation=True, merge=True),
}

KIND_ALIASES = {"conv2d": "conv", "fc": "dense", "linear": "dense", "bn": "batchnorm",
                "gap": "global_avgpool", "max_pool": "maxpool", "avg_pool": "avgpool",
                "cat": "concat"}

# Activations that may end a conv/dense/batchnorm/add/concat line, with their parameters.
ACTIVATIONS: dict[str, list[Param]] = {
    "relu": [], "tanh": [], "sigmoid": [], "softmax": [],
    "leaky_relu": [Param("slope", 0.01, SLOPE)],
    "elu": [Param("alpha", 1.0, ALPHA)],
}


@dataclass
class ReadLayer:
    """One layer statement, read: the kind, its IR fields and where each came from."""

    kind: str
    fields: dict
    spans: dict[str, Span]
    activation: tuple[str, dict, Span] | None = None
    refs: list[Word] = field(default_factory=list)


STATEMENT_KEYWORDS = ("model", "input", "default", "output", "repeat", "train")


def read_kind(head: Word | Call) -> str:
    name = KIND_ALIASES.get(head.name, head.name)
    if name not in KINDS:
        span = head.name_span if isinstance(head, Call) else head.span
        hint = did_you_mean(head.name, KINDS, "layer kinds")
        if head.name.lower() in STATEMENT_KEYWORDS:  # `Input 1x28x28`: a keyword in capitals
            hint = f"keywords are lower case: {head.name.lower()}"
        raise SpecError(f"unknown layer kind '{head.name}'", span=span, hint=hint)
    return name


def read_layer(stmt: LayerStmt, display: str) -> ReadLayer:
    """Read ``stmt``'s values into fields; ``display`` names the layer in messages."""
    kind_name = read_kind(stmt.head)
    kind = KINDS[kind_name]
    layer = ReadLayer(kind_name, dict(kind.fields), {})
    items = list(stmt.items)
    if isinstance(stmt.head, Call):
        items = _call_items(stmt.head, kind, layer) + items
    _read_items(items, kind, layer, display)
    for name in kind.required:
        if layer.fields[name] is None:
            raise SpecError(f"{kind_name} layer {display} needs {_describe_field(name)}",
                            span=stmt.head.span, hint=_usage(kind_name))
    _check_consistency(layer, display)
    if "stride" in layer.fields and layer.fields["stride"] is None:
        layer.fields["stride"] = list(layer.fields["size"])  # a pooling window's default stride
    return layer


def _call_items(head: Call, kind: Kind, layer: ReadLayer) -> list[Value]:
    """A head written as a call: ``add(a, b)`` names inputs, ``leaky_relu(0.2)`` /
    ``dropout(p=0.5)`` give values. Keywords become `option value` pairs."""
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
    items: list[Value] = list(head.args)
    for kwarg in head.kwargs:
        items += [Word(kwarg.name, kwarg.name_span), kwarg.value]
    return items


def _read_items(items: list[Value], kind: Kind, layer: ReadLayer, display: str) -> None:
    slots = list(kind.positional)
    i = 0
    while i < len(items):
        item = items[i]
        word = item.name if isinstance(item, Word) else None
        if word in kind.options:
            if i + 1 >= len(items):
                raise SpecError(f"option '{word}' needs a value", span=item.span,
                                hint=_usage(layer.kind))
            field_name, reader = kind.options[word]
            _set(layer, field_name, reader(items[i + 1], f"the {word} of {display}"),
                 item, items[i + 1], display)
            i += 2
            continue
        if word in kind.flags:
            field_name, value = kind.flags[word]
            _set(layer, field_name, value, item, item, display)
        elif kind.activation and isinstance(item, (Word, Call)) and item.name in ACTIVATIONS:
            _set_activation(layer, item, display)
        elif slots and isinstance(item, (Num, Dims)):
            field_name, reader = slots.pop(0)
            _set(layer, field_name, reader(item, f"the {_field_words(field_name)} of {display}"),
                 item, item, display)
        else:
            raise _unexpected(item, kind, layer.kind, display, items[i - 1] if i else None)
        i += 1


def _set(layer: ReadLayer, field_name: str, value, first: Value, last: Value,
         display: str) -> None:
    if field_name in layer.spans:
        raise SpecError(f"{_field_words(field_name)} of {display} is given twice",
                        span=first.span,
                        hint=f"first given at column {layer.spans[field_name].column}")
    layer.fields[field_name] = value
    layer.spans[field_name] = Span(first.span.line, first.span.column, last.span.end_line,
                                   last.span.end_column)


def _set_activation(layer: ReadLayer, item: Word | Call, display: str) -> None:
    if layer.activation is not None:
        raise SpecError(f"{display} has two activations", span=item.span,
                        hint="write the second activation as its own layer")
    params = bind(item, ACTIVATIONS[item.name], f"activation {item.name}")
    layer.activation = (item.name, params, item.span)


def _unexpected(item: Value, kind: Kind, kind_name: str, display: str,
                before: Value | None) -> SpecError:
    if isinstance(item, (Word, Call)):
        valid = list(kind.options) + list(kind.flags)
        if kind.activation:
            valid += list(ACTIVATIONS)
        span = item.name_span if isinstance(item, Call) else item.span
        if item.name == "input":
            return SpecError(f"unexpected 'input' in {kind_name} layer {display}", span=span,
                             hint="to take the network's input, end the line with `<- input`")
        if item.name == "x":
            return SpecError(f"unexpected 'x' in {kind_name} layer {display}", span=span,
                             hint="sizes are written without spaces: 3x3, not 3 x 3")
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


def _check_consistency(layer: ReadLayer, display: str) -> None:
    if layer.fields.get("bias") is False and "bias_init" in layer.spans:
        raise SpecError(f"{display} says both nobias and bias ...", span=layer.spans["bias_init"],
                        hint="drop `nobias` to keep a bias, or drop its initializer")


USAGE = {
    "conv": "conv FILTERS KERNEL [stride S] [pad same|valid|P|PHxPW] [dilation D] "
            "[weight INIT] [bias INIT | nobias] [frozen] [ACTIVATION], e.g. conv 16 3x3 relu",
    "dense": "dense UNITS [weight INIT] [bias INIT | nobias] [frozen] [ACTIVATION], "
             "e.g. dense 10",
    "maxpool": "maxpool SIZE [stride S] [pad P], e.g. maxpool 2",
    "avgpool": "avgpool SIZE [stride S] [pad P], e.g. avgpool 2x2 stride 2",
    "dropout": "dropout P with 0 <= P < 1, e.g. dropout 0.25",
    "leaky_relu": "leaky_relu [SLOPE], e.g. leaky_relu 0.2",
    "elu": "elu [ALPHA]",
    "batchnorm": "batchnorm [eps E] [momentum M] [frozen] [ACTIVATION]",
    "add": "add(a, b) or add <- a, b",
    "concat": "concat(a, b) or concat <- a, b",
}


def _usage(kind: str) -> str:
    return "usage: " + USAGE.get(kind, kind)


def _field_words(field_name: str) -> str:
    return {"filters": "number of filters", "kernel": "kernel size", "units": "number of units",
            "size": "window size", "p": "dropout probability", "padding": "padding",
            "weight_init": "the weight initializer", "bias_init": "the bias initializer",
            "bias": "nobias", "trainable": "frozen"}.get(field_name, field_name)


def _describe_field(field_name: str) -> str:
    words = _field_words(field_name)
    return words if words.startswith("the ") else "a " + words
