"""Darknet's network files (``.cfg``) imported as cnnspec specs.

A cfg is a list of sections, a ``[convolutional]`` header and its ``key=value`` lines, whole
lines starting ``#`` or ``;`` being comments (Darknet's src/parser.c, ``read_cfg``). The first
section is ``[net]`` (or ``[network]``): the input's size and the training settings. Every
other section is a layer, numbered from 0 in the file's order, the number ``[route]`` and
``[shortcut]`` name an earlier layer by (a negative one counts back from the section itself).
Which kind each section is, Darknet's activations and its max pool's padding rule are the
tables of :mod:`cnnspec.lang.foreign` (``DARKNET_SECTIONS``, ``DARKNET_ACTIVATIONS``,
``darknet_pool``), which the language's hints for a section pasted into a spec read too; this
module reads the file, its values and Darknet's defaults (``parse_*`` in src/parser.c).

Darknet's classification networks import; a detection head, and any section or key cnnspec
cannot express, is a :class:`~cnnspec.errors.SpecError` at its line and column in the cfg.
"""
from __future__ import annotations

import difflib
import math
import re
import sys
from collections.abc import Callable
from dataclasses import field

from cnnspec.errors import Span, SpecError, SpecErrors, listed
from cnnspec.importers.imported import Imported, Names, grouped, model_name
from cnnspec.importers.spec_writer import (
    LayerLine,
    Setting,
    checked,
    common_inits,
    fitting_data,
    shape_made,
    spec_text,
)
from cnnspec.ir.datasets import LEAST_CLASSES
from cnnspec.ir.limits import too_large_int
from cnnspec.ir.training_catalogue import foreign_key_hint, written_number
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.text import exact_number_text
from cnnspec.lang.ast import Num
from cnnspec.lang.foreign import (
    DARKNET_ACTIVATIONS,
    DARKNET_DEFAULT_ACTIVATION,
    DARKNET_NET,
    DARKNET_SECTIONS,
    DARKNET_SHORT,
    darknet_pool,
)
from cnnspec.lang.layers import read_field
from cnnspec.records import record
from cnnspec.shapes import shape_text

COMMENTS = ("#", ";")
INPUT = "input"
LOSS = "loss"
# How pjreddie's Darknet draws its weights (biases start at 0): a convolution's normal with
# std sqrt(2 / fan_in) (src/convolutional_layer.c: He et al. 2015's), a connected layer's
# uniform on ±sqrt(2 / fan_in), of variance 2 / (3 fan_in) (src/connected_layer.c).
DARKNET_INITS = {
    "conv": {"name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}},
    "dense": {"name": "variance_scaling", "scale": 2 / 3, "mode": "fan_in",
              "distribution": "uniform"},
}
# Darknet's [net] defaults where the cfg leaves a setting out (src/parser.c, parse_net_options).
NET_DEFAULTS = {"learning_rate": 0.001, "momentum": 0.9, "decay": 0.0001, "power": 4.0}
# [net] keys a spec has no setting for: Darknet's augmentation and memory knobs. A key the
# training catalogue knows another meaning of is said in its words (foreign_key_hint).
JITTER = "Darknet's colour jitter, which no transform of cnnspec's augment draws"
CROPS = ("Darknet's random crops of a resized image, which cnnspec's augment does not draw "
         "(its shift moves the image within its own size)")
NET_LEFT_OUT = {
    "subdivisions": None, "burn_in": None, "max_batches": None, "steps": None, "scales": None,
    "step": None, "gamma": None, "angle": None, "saturation": JITTER, "exposure": JITTER,
    "hue": JITTER, "min_crop": CROPS, "max_crop": CROPS, "aspect": CROPS,
}
# What the errors about a needed key give as an example.
EXAMPLES = {"channels": 3, "height": 28, "width": 28, "batch": 64}
NET_READ = ("width", "height", "channels", "batch", "learning_rate", "momentum", "decay",
            "policy", "power")
# The train block's setting each [net] key is written as (the settings read_net_section
# writes), and so where an error in that setting is placed.
NET_SETTINGS = {"batch": "batch", "learning_rate": "lr", "decay": "weight_decay",
                "momentum": "optimizer", "power": "schedule"}
# Darknet's learning-rate policies a spec writes: constant, the default, as no schedule; poly,
# which decays to 0 over the run as Darknet's does over max_batches. The others count batches
# (left out, said so).
CONSTANT_POLICY, POLY_POLICY = "constant", "poly"
DETECTION_HINT = ("cnnspec trains classification networks: import the backbone, the "
                  "sections before the head, ending it as Darknet's classifiers do ([avgpool], "
                  "then [connected] output=CLASSES or a 1x1 [convolutional] of CLASSES filters, "
                  "[softmax] and [cost])")
# Sections Darknet has that cnnspec cannot express, and what to do instead.
REFUSED = {
    "yolo": DETECTION_HINT, "region": DETECTION_HINT, "detection": DETECTION_HINT,
    "gaussian_yolo": DETECTION_HINT, "reorg": DETECTION_HINT,
    "local": "a [local] layer has weights of its own at every position; cnnspec's conv shares "
             "them: write a [convolutional] of the same size",
    **dict.fromkeys(("crnn", "rnn", "lstm", "gru"), "cnnspec has no recurrent layers"),
}


@record
class Option:
    """One ``key=value`` line: the value's text, where the key and the value stand, and
    whether a reader took it."""

    key: str
    value: str
    key_span: Span
    span: Span
    used: bool = False


@record
class Section:
    """One section: its name, where its header stands, its options, its layer number (None
    for [net]) and the file errors name."""

    name: str
    span: Span
    options: dict[str, Option]
    index: int | None
    path: str | None

    def error(self, message: str, where: Span | None = None, hint: str | None = None
              ) -> SpecError:
        return SpecError(message, span=where or self.span, hint=hint, file=self.path)

    def take(self, key: str) -> Option | None:
        option = self.options.get(key)
        if option is not None:
            option.used = True
        return option

    def word(self, key: str, default: str) -> tuple[str, Span]:
        """The text of ``key`` (``default`` where it is left out) and where it stands."""
        option = self.take(key)
        return (default, self.span) if option is None else (option.value, option.span)

    def number(self, key: str, default, whole: bool = True, least: float | None = None,
               field: tuple[str, str] | None = None):
        """The number ``key`` gives, Darknet's ``default`` where it is left out (None: the
        key is needed); at least ``least``. A number that sets ``field``, a layer kind's
        field, is held to the range a spec's line holds that field to
        (:func:`~cnnspec.lang.layers.read_field`) here, at its value: a size of 10^30 was
        refused at the imported spec's line, which the user never wrote."""
        option = self.take(key)
        example = f"{key}={exact_number_text(EXAMPLES.get(key, default or least or 1))}"
        if option is None:
            if default is None:
                raise self.error(f"[{self.name}] needs {key}=", hint=f"e.g. {example}")
            return default
        value = _number(option.value, whole)
        what = "a whole number" if whole else "a number"
        if value is None:
            raise self.error(f"{key}={option.value} is not {what}", option.span,
                             hint=f"Darknet reads {key} as {what}, e.g. {example}")
        if least is not None and value < least:
            raise self.error(f"{key}={option.value} must be at least "
                             f"{exact_number_text(least)}", option.span, hint=f"e.g. {example}")
        too_large = too_large_int(value) if whole else None
        if too_large:  # the IR's bound, which the input's sizes and the batch have too
            raise self.error(f"[{self.name}] {key} {too_large}", option.span,
                             hint=f"a number this large is mistyped: check its digits, e.g. "
                             f"{example}")
        if field is not None:
            try:
                read_field(*field, Num(value, option.value, option.span), key)
            except SpecError as exc:
                raise self.error(f"[{self.name}] {exc.message}", option.span, exc.hint) from None
        return value

    def numbers(self, key: str) -> list[tuple[int, Span]]:
        """The comma-separated whole numbers of ``key`` (needed), each with its span."""
        option = self.take(key)
        if option is None:
            raise self.error(f"[{self.name}] needs {key}=", hint=f"e.g. {key}=-1")
        out, column = [], option.span.column
        for part in option.value.split(","):
            lead = len(part) - len(part.lstrip())
            where = Span(option.span.line, column + lead, option.span.line,
                         column + max(lead + 1, len(part.rstrip())))
            value = _number(part.strip(), whole=True)
            if value is None:
                raise self.error(f"{key}={option.value}: '{part.strip()}' is not a whole "
                                 "number", where, hint=f"layer numbers, e.g. {key}=-1,-4")
            out.append((value, where))
            column += len(part) + 1
        return out

    def unused_errors(self, read: tuple[str, ...]) -> list[SpecError]:
        """An error for each key no reader took, with the key meant where one is close."""
        errors = []
        for option in self.options.values():
            if option.used:
                continue
            close = difflib.get_close_matches(option.key, read, n=1)
            hint = (f"did you mean '{close[0]}'?" if close else
                    f"the keys of [{self.name}] cnnspec reads: {', '.join(read) or 'none'}")
            errors.append(self.error(f"[{self.name}] key '{option.key}' is not one cnnspec "
                                     "imports", option.key_span, hint))
        return errors


def _number(text: str, whole: bool) -> int | float | None:
    """The finite number ``text`` writes (``.5`` included, as Darknet's atof reads it), a
    whole one where ``whole``; None for any other text."""
    value = written_number(text)
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return None
    if whole:  # a whole number past a float's range is one: its field's reader refuses it
        return value if isinstance(value, int) else None
    return float(value) if abs(value) <= sys.float_info.max else None


# ---------------------------------------------------------------------------- the file


def read_cfg(text: str, path: str | None = None) -> list[Section]:
    """The sections of a cfg, in order; every line that is no header, comment or
    ``key=value`` reported together (:class:`SpecErrors`)."""
    sections: list[Section] = []
    errors = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.strip()
        if not code or code.startswith(COMMENTS):
            continue
        column = line.index(code[0]) + 1
        where = Span(number, column, number, column + len(code))
        try:
            _read_line(code, where, sections, path)
        except SpecError as exc:
            errors.append(exc)
    if errors:
        raise SpecErrors(errors)
    return sections


def _read_line(code: str, where: Span, sections: list[Section], path: str | None) -> None:
    if code.startswith("["):
        header = re.fullmatch(r"\[\s*([^\]\s]+)\s*\]", code)
        if header is None:
            raise SpecError(f"'{code}' is no section header", where, file=path,
                            hint="a section starts with its name in brackets, e.g. "
                            "[convolutional]")
        index = None if not sections and header[1] in DARKNET_NET else \
            sum(s.index is not None for s in sections)
        sections.append(Section(header[1], where, {}, index, path))
        return
    key, equal, value = code.partition("=")
    if not equal:
        raise SpecError(f"'{code}' has no '='", where, file=path,
                        hint="a section's lines are key=value, e.g. filters=32")
    if not sections:
        raise SpecError(f"'{code}' comes before any section", where, file=path,
                        hint="a cfg starts with [net], the input's size and training")
    key, start = key.strip(), where.column
    value_column = start + len(code) - len(code[len(key):].split("=", 1)[1].lstrip())
    key_span = Span(where.line, start, where.line, start + max(1, len(key)))
    value_span = Span(where.line, value_column, where.line, max(value_column + 1,
                                                                where.end_column))
    if not key:
        raise SpecError(f"'{code}' has no key before '='", where, file=path,
                        hint="a section's lines are key=value, e.g. filters=32")
    section = sections[-1]
    if key in section.options:
        raise SpecError(f"[{section.name}] gives {key} twice", key_span, file=path,
                        hint=f"keep one {key}= line")
    section.options[key] = Option(key, value.strip(), key_span, value_span)


# ---------------------------------------------------------------------------- the layers


@record
class Net:
    """The import's state while reading the layer sections in order: the lines written, the
    layer holding each section's output (by Darknet's layer number), which are flat, and the
    section each line and setting comes from (``places``, by its name or key)."""

    path: str | None
    names: Names = field(default_factory=Names)
    lines: list[LayerLine] = field(default_factory=list)
    places: dict[str, Span] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    flat: set[str] = field(default_factory=set)
    last: str = INPUT
    tail: str = INPUT  # the output of the line written last
    loss: bool = False

    def add(self, line: LayerLine, inputs: list[str] | None = None, flat: bool | None = None
            ) -> str:
        """Write ``line`` taking ``inputs`` (default: the output before it); the name of
        the layer that holds its output (its activation's, where its line has one)."""
        inputs = inputs or [self.last]
        if inputs != [self.tail]:  # a [route] took up another layer's output
            line.inputs = inputs
        self.lines.append(line)
        out = line.output
        self.names.reserve(out)
        if flat if flat is not None else all(i in self.flat for i in inputs):
            self.flat.add(out)
        self.last = self.tail = out
        return out

    def flattened(self, name: str) -> None:
        """A flatten before a connected layer on a feature map (Darknet reads any input as
        its values in a row)."""
        if self.last not in self.flat:
            self.add(LayerLine(self.names.make(f"{name}_flatten"), "flatten"), flat=True)


def _activation(section: Section, default: str = DARKNET_DEFAULT_ACTIVATION
                ) -> tuple[str, dict] | None:
    word, where = section.word("activation", default)
    if word not in DARKNET_ACTIVATIONS:
        known = ", ".join(DARKNET_ACTIVATIONS)
        raise section.error(f"Darknet's {word} activation has no counterpart in cnnspec",
                            where, hint=f"the activations cnnspec imports: {known}")
    return DARKNET_ACTIVATIONS[word]


def _normalized(section: Section, net: Net, line: LayerLine, activation, flat=None) -> str:
    """``line``, with its activation; with batch_normalize=1 a batchnorm between (Darknet's
    batch norm has the shift: the layer has no bias). Darknet's cuDNN batch norm has eps
    1e-5 and keeps 0.99 of its running statistics a batch, its CPU path 0.9
    (src/batchnorm_layer.c): the batchnorm's defaults, eps 1e-5 and momentum 0.1, are the
    latter's."""
    if section.number("batch_normalize", 0, least=0) != 1:
        line.activation = activation
        return net.add(line, flat=flat)
    line.fields["bias"] = False
    line.fields.pop(BIAS_INIT_KEY, None)
    net.add(line, flat=flat)
    norm = LayerLine(net.names.make(f"{line.name}_bn"), "batchnorm", activation=activation)
    return net.add(norm)


def read_conv(section: Section, net: Net, kind: str) -> str:
    """[convolutional] (and [deconvolutional]): ``pad=1`` pads size / 2, else ``padding=``
    (src/parser.c, parse_convolutional); Darknet's defaults are 1 filter of size 1."""
    filters = section.number("filters", 1, field=(kind, "filters"))
    size = section.number("size", 1, field=(kind, "kernel"))
    stride = section.number("stride", 1, field=(kind, "stride"))
    padding = section.number("padding", 0, field=(kind, "padding"))
    if section.number("pad", 0, least=0):
        padding = size // 2
    fields = {"filters": filters, "kernel": [size, size], "stride": [stride, stride],
              "padding": [padding, padding],
              "groups": section.number("groups", 1, field=(kind, "groups")),
              "dilation": [section.number("dilation", 1, field=(kind, "dilation"))] * 2,
              WEIGHT_INIT_KEY: DARKNET_INITS["conv"], BIAS_INIT_KEY: {"name": "zeros"}}
    line = LayerLine(net.names.make(f"{kind}{section.index}"), kind, fields)
    return _normalized(section, net, line, _activation(section), flat=False)


def read_connected(section: Section, net: Net, kind: str) -> str:
    net.flattened(f"dense{section.index}")
    fields = {"units": section.number("output", 1, field=(kind, "units")),
              WEIGHT_INIT_KEY: DARKNET_INITS["dense"], BIAS_INIT_KEY: {"name": "zeros"}}
    line = LayerLine(net.names.make(f"dense{section.index}"), kind, fields)
    return _normalized(section, net, line, _activation(section), flat=True)


def read_maxpool(section: Section, net: Net, kind: str) -> str:
    """Darknet pads so that the output is ceil(n / stride) by default (:func:`darknet_pool`),
    written per side so that each window sits where Darknet's does."""
    given = [section.number(key, None, field=(kind, field)) if key in section.options else None
             for key, field in (("size", "size"), ("stride", "stride"), ("padding", "padding"))]
    size, stride, before, after = darknet_pool(*given)
    pads = [before, before] if before == after else [before, after, before, after]
    fields = {"size": [size, size], "stride": [stride, stride], "padding": pads}
    return net.add(LayerLine(net.names.make(f"maxpool{section.index}"), kind, fields))


def read_plain(section: Section, net: Net, kind: str) -> str:
    """[avgpool] (a global average, src/avgpool_layer.c), [batchnorm]: no keys."""
    return net.add(LayerLine(net.names.make(f"{kind}{section.index}"), kind),
                   flat=kind == "global_avgpool" or None)


def read_dropout(section: Section, net: Net, kind: str) -> str:
    """Darknet scales the kept values by 1 / (1 - p) as it trains, as cnnspec's dropout."""
    p = section.number("probability", 0.5, whole=False, field=(kind, "p"))
    return net.add(LayerLine(net.names.make(f"dropout{section.index}"), kind, {"p": p}))


def read_softmax(section: Section, net: Net, kind: str) -> str:
    for key in ("groups", "temperature"):
        if section.number(key, 1, whole=False) != 1:
            raise section.error(f"a [softmax] with {key}={section.options[key].value}",
                                section.options[key].span,
                                hint=f"cnnspec's softmax is Darknet's with {key}=1")
    return net.add(LayerLine(net.names.make(f"softmax{section.index}"), kind))


def read_cost(section: Section, net: Net, kind: str) -> str:
    """[cost] after [softmax]: Darknet's softmax layer computes the cross-entropy's
    gradient itself (src/softmax_layer.c), cnnspec's cross_entropy on the scores before it."""
    word, where = section.word("type", "sse")
    softmax = net.lines and net.lines[-1].kind == "softmax" and net.last == net.tail
    if not softmax or word != "sse":
        raise section.error(f"a [cost] of type {word}" + ("" if softmax else
                            " that does not follow a [softmax]"), where if softmax
                            else section.span,
                            hint="cnnspec imports [softmax] then [cost] (type=sse), the "
                            "cross-entropy of Darknet's classifiers: train `loss "
                            "cross_entropy`")
    net.loss = True
    net.places[LOSS] = section.span
    return net.last


def _earlier(section: Section, net: Net, number: int, where: Span) -> str:
    """The output of the layer ``number`` names: counted back from this section when it is
    negative, from the first layer otherwise (src/parser.c, parse_route)."""
    index = section.index + number if number < 0 else number
    if not 0 <= index < section.index:
        hint = (f"it may name -1 (the layer before) to -{section.index} (the first), or 0 "
                f"to {section.index - 1} counted from the first section after [net]"
                if section.index else "no layer comes before the first section after [net]")
        raise section.error(f"[{section.name}] names layer {number}, which is no earlier "
                            f"layer: this section is layer {section.index}", where, hint=hint)
    return net.outputs[index]


def read_route(section: Section, net: Net, kind: str) -> str:
    """One layer: its output, taken up again; several: their channels concatenated."""
    if section.number("groups", 1) != 1:
        raise section.error("a [route] with groups", section.options["groups"].span,
                            hint="cnnspec concatenates whole outputs: remove groups=")
    taken = [_earlier(section, net, n, where) for n, where in section.numbers("layers")]
    if len(taken) == 1:
        net.last = taken[0]
        return taken[0]
    return net.add(LayerLine(net.names.make(f"route{section.index}"), kind), taken)


def read_shortcut(section: Section, net: Net, kind: str) -> str:
    """The sum of the layer before and ``from=``'s, linear unless activation= says."""
    (number, where), *_ = section.numbers("from")
    taken = _earlier(section, net, number, where)
    line = LayerLine(net.names.make(f"shortcut{section.index}"), kind,
                     activation=_activation(section, "linear"))
    return net.add(line, [net.last, taken])


def read_upsample(section: Section, net: Net, kind: str) -> str:
    """Darknet repeats each value stride x stride times (src/upsample_layer.c), scaled by
    scale=, 1 by default; a negative stride shrinks, which cnnspec's upsample does not."""
    stride = section.number("stride", 2, field=(kind, "factor"))
    if section.number("scale", 1, whole=False) != 1:
        raise section.error("an [upsample] with a scale", section.options["scale"].span,
                            hint="cnnspec's upsample repeats the values: remove scale=")
    fields = {"factor": [stride, stride], "mode": "nearest"}
    return net.add(LayerLine(net.names.make(f"upsample{section.index}"), kind, fields))


CONV_KEYS = ("filters", "size", "stride", "pad", "padding", "groups", "dilation",
             "batch_normalize", "activation")
READERS: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "convolutional": (read_conv, CONV_KEYS),
    "deconvolutional": (read_conv, CONV_KEYS),
    "connected": (read_connected, ("output", "batch_normalize", "activation")),
    "maxpool": (read_maxpool, ("size", "stride", "padding")),
    "avgpool": (read_plain, ()),
    "batchnorm": (read_plain, ()),
    "dropout": (read_dropout, ("probability",)),
    "softmax": (read_softmax, ("groups", "temperature")),
    "cost": (read_cost, ("type",)),
    "route": (read_route, ("layers", "groups")),
    "shortcut": (read_shortcut, ("from", "activation")),
    "upsample": (read_upsample, ("stride", "scale")),
}


def _read_layer(section: Section, net: Net) -> None:
    if section.name in DARKNET_NET:
        raise section.error(f"[{section.name}] comes again as layer {section.index}",
                            hint="a cfg has one [net], its first section")
    name = DARKNET_SHORT.get(section.name, section.name)  # [conv]: [convolutional]
    reader = READERS.get(name)
    if reader is None:
        hint = REFUSED.get(name) or (
            f"the sections cnnspec imports: {', '.join(f'[{s}]' for s in READERS)}")
        raise section.error(f"Darknet's [{section.name}] is not a layer cnnspec imports",
                            hint=hint)
    read, keys = reader
    written = len(net.lines)
    out = read(section, net, DARKNET_SECTIONS.get(name))
    net.places.update((line.name, section.span) for line in net.lines[written:])
    errors = section.unused_errors(keys)
    if errors:
        raise SpecErrors(errors)
    net.outputs.append(out)


# ---------------------------------------------------------------------------- [net]


@record
class Training:
    """What [net] gives: the input's shape, the train block's settings, the header's notes."""

    input_shape: tuple[int, int, int]
    settings: list[Setting]
    notes: list[str]
    places: dict[str, Span]  # where each setting (and the input line) comes from


def read_net_section(section: Section) -> Training:
    shape = tuple(section.number(key, None, least=1) for key in ("channels", "height", "width"))
    settings, notes = [], []
    if "batch" in section.options:  # Darknet's default, 1, is no batch to train on
        settings.append(Setting(NET_SETTINGS["batch"],
                                str(section.number("batch", None, least=1)),
                                "Darknet's images per iteration"))
    for key in ("learning_rate", "decay"):
        settings.append(_net_setting(section, key, NET_SETTINGS[key]))
    # Darknet's update decays the weights alone, not the biases nor a batch norm's scales
    # (src/convolutional_layer.c, update_convolutional_layer; connected_layer.c alike)
    settings.append(Setting("decay_bias", "false", "Darknet decays the weights alone"))
    momentum = section.number("momentum", NET_DEFAULTS["momentum"], whole=False, least=0)
    settings.append(Setting(NET_SETTINGS["momentum"],
                            f"sgd(momentum={exact_number_text(momentum)})",
                            "Darknet's SGD: v = momentum·v + gradient, as PyTorch's"))
    settings += _schedule(section, notes)
    left_out: dict[str, list[str]] = {}  # the keys said alike, on one line
    for key, note in NET_LEFT_OUT.items():
        option = section.take(key)
        if option is not None:
            said = note or foreign_key_hint(key, option.value) or ""
            left_out.setdefault(said, []).append(f"{key}={option.value}")
    notes += [f"[net] {listed(keys)} left out: {said}" for said, keys in left_out.items()]
    places = {setting.key: section.span for setting in settings}
    places.update((setting, section.options[key].span) for key, setting in NET_SETTINGS.items()
                  if key in section.options)
    return Training(shape, settings, notes, {**places, INPUT: section.span})


def _net_setting(section: Section, key: str, setting: str) -> Setting:
    given = key in section.options
    value = section.number(key, NET_DEFAULTS[key], whole=False, least=0)
    return Setting(setting, exact_number_text(value),
                   None if given else f"Darknet's default {key}")


def _schedule(section: Section, notes: list[str]) -> list[Setting]:
    word = section.word("policy", CONSTANT_POLICY)[0]
    power = section.number("power", NET_DEFAULTS["power"], whole=False, least=0)
    if word == CONSTANT_POLICY:
        return []
    if word == POLY_POLICY:
        return [Setting(NET_SETTINGS["power"], f"poly(power={exact_number_text(power)})",
                        "Darknet's poly policy decays to 0 at max_batches, this one at the "
                        "end of the run's epochs")]
    said = foreign_key_hint("policy", word) or ""
    notes.append(f"[net] policy={word} left out: {said}")
    return []


# ---------------------------------------------------------------------------- the spec


def read_network(text: str, path: str | None = None) -> tuple[Training, Net]:
    """Every section of a cfg read; every mistake reported together (:class:`SpecErrors`)."""
    sections = read_cfg(text, path)
    if not sections or sections[0].name not in DARKNET_NET:
        where = sections[0].span if sections else Span(1, 1, 1, 2)
        raise SpecError("the cfg does not start with [net]", where, file=path,
                        hint="Darknet's cfg starts with [net]: width=, height=, channels= of "
                        "the input, and the training settings")
    errors = []
    net = Net(path)
    training = None
    try:
        training = read_net_section(sections[0])
        errors += sections[0].unused_errors((*NET_READ, *NET_LEFT_OUT))
    except SpecError as exc:
        errors.append(exc)
    for section in sections[1:]:
        try:
            _read_layer(section, net)
        except SpecError as exc:
            errors.append(exc)
            net.outputs.append(net.last)  # later sections count layers as Darknet does
        except SpecErrors as exc:
            errors += exc.errors
            net.outputs.append(net.last)
    if not errors and not net.lines:
        errors.append(sections[0].error("the cfg has no layers cnnspec computes",
                                        hint="add sections after [net], e.g. "
                                        "[convolutional]"))
    if errors:
        raise SpecErrors(errors)
    return training, net


def _output_error(net: Net, places: dict[str, Span], made: tuple[int, ...]
                  ) -> SpecError | None:
    """The error for a network whose output ``made`` trains no classifier under the
    cross-entropy an import trains with, whatever the data (check refuses it beside any,
    :func:`cnnspec.check.training.loss_output_errors`): a feature map, not a score per
    class, or fewer scores than a classifier's least classes (one: its softmax is 1 for
    every image). Darknet's classifiers, whose outputs are their classes, do not end so.
    Placed at the section that makes the output; None for an output of scores (or none
    known: the checker says why)."""
    if len(made) == 1 and made[0] >= LEAST_CLASSES or not made:
        return None
    line = next(line for line in reversed(net.lines) if net.last in (line.name, line.output))
    if len(made) > 1:
        message = f"is {shape_text(made)}, a feature map, not one score per class"
        hint = ("end it as Darknet's classifiers do: [avgpool] (or [connected] "
                "output=CLASSES) before [softmax] and [cost]")
    else:
        message = (f"is {made[0]} score, where a classifier tells {LEAST_CLASSES} classes or "
                   "more apart by one score each")
        hint = ("give the layer that makes the scores (the last [connected] output=, or a 1x1 "
                f"[convolutional] filters=) one per class, {LEAST_CLASSES} or more")
    return SpecError(f"the network's output '{net.last}' {message}", span=places[line.name],
                     file=net.path, hint=hint)


def import_cfg(text: str, path: str | None = None) -> Imported:
    """A Darknet cfg as a checked cnnspec spec. ``path`` names the file in errors and in the
    header. Mistakes, detection heads and every section or key cnnspec cannot express are
    :class:`SpecError`s at their line and column in the cfg."""
    training, net = read_network(text, path)
    origin = path or "a Darknet cfg"
    places = {**training.places, **net.places}
    try:
        made = shape_made(training.input_shape, net.lines, net.last)
    except (SpecError, SpecErrors):  # a network that does not check: checked() says why
        made = ()
    error = _output_error(net, places, made)
    if error is not None:
        raise error
    classes = made[0] if len(made) == 1 else None
    data, why = fitting_data(training.input_shape, classes)
    settings = [Setting("data", data, why), *training.settings]
    if net.loss:
        settings.append(Setting(LOSS, "cross_entropy", "Darknet's [softmax] and [cost]"))
    notes = grouped(training.notes)
    header = [f"Imported from {origin} (Darknet) by `cnnspec import`.",
              *[f"- {note}" for note in notes]]
    text = spec_text(header=header, model=model_name(None, path),
                     input_shape=training.input_shape, layers=net.lines,
                     defaults=common_inits(net.lines), training=settings,
                     output=net.last if net.last != net.tail else None, origin=origin)
    return Imported(text, checked(text, origin, places, path), notes)


__all__ = ["import_cfg", "read_cfg"]
