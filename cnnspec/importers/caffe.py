"""Caffe model definitions (``.prototxt``) and solvers, imported as cnnspec specs.

Caffe's vocabulary, mapped by meaning (docs/importing.md has the tables):

- layer types -> kinds: :data:`LAYERS` (one reader per type); fields the reader does not use
  are errors at their line and column, never dropped;
- fillers -> inits: the tables beside :data:`FILLERS`, read by :func:`filler_init`. Caffe
  computes a blob's fans as ``count / shape(0)`` (fan_in) and ``count / shape(1)``
  (fan_out) (include/caffe/filler.hpp), which for a conv
  weight ``(out, in, kh, kw)`` and an inner product ``(out, in)`` are cnnspec's fans. A bias
  blob ``(out,)`` has fan_in 1 and fan_out ``out`` there, so a scaled filler on a bias becomes
  the fixed distribution it draws (cnnspec's scaled inits use the weight's fans on a bias);
- ``param { lr_mult decay_mult }`` -> the layer's ``lr_mult``/``decay_mult`` (all 0: ``frozen``);
- the solver -> the train block: :mod:`cnnspec.importers.caffe_solver`.
"""
from __future__ import annotations

from dataclasses import field

from cnnspec.check.training import spec_steps
from cnnspec.errors import Span, SpecError, SpecErrors, closest, float_text, listed, rounded_text
from cnnspec.importers.caffe_solver import (
    BATCH_FROM_DATA,
    BATCH_FROM_INPUT,
    EPOCH_IMAGES_HINT,
    batch_note,
    refuse_solver_as_net,
    solver_settings,
)
from cnnspec.importers.imported import Imported, LayerNote, Names, grouped, layers_named, model_name
from cnnspec.importers.prototxt import Entry, Message, Scalar, error_at, parse_prototxt
from cnnspec.importers.spec_writer import (
    LayerLine,
    Setting,
    checked,
    common_inits,
    fitting_data,
    output_units,
    per_bias,
    spec_text,
)
from cnnspec.ir.datasets import DATASETS
from cnnspec.ir.training_catalogue import refuse_count
from cnnspec.kinds import KINDS
from cnnspec.kinds.catalogue import CAFFE_START_SHARE, least_momentum, start_share
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.text import exact_number_text
from cnnspec.lang.foreign import (
    CAFFE_KINDS,
    CAFFE_LEFT_OUT,
    CAFFE_LOSS,
    CAFFE_POOLS,
    CAFFE_REPLACED,
    CAFFE_TYPES,
    caffe_loss,
)
from cnnspec.lang.foreign import caffe_field as caffe_field_of  # a reader's own is a name
from cnnspec.records import record
from cnnspec.shapes import shape_text

# Caffe's fillers (include/caffe/filler.hpp) and the init each becomes: the one table that
# filler_init reads and docs/importing.md's table of fillers is generated from
# (cnnspec/importers/caffe_docs.py).
# constant: the named init of a value, else constant(value).
CONSTANT_FILLER = "constant"
NAMED_CONSTANTS = {0: "zeros", 1: "ones"}
# Fillers drawing a fixed distribution: the init of the same, and its arguments, each read
# from Caffe's field with Caffe's default: {argument: (Caffe's field, default)}.
PLAIN_FILLERS = {"gaussian": ("normal", {"mean": ("mean", 0), "std": ("std", 1)}),
                 "uniform": ("uniform", {"low": ("min", 0), "high": ("max", 1)})}
# Fillers scaled by a fan: the variance scale / n each draws and its distribution (xavier:
# U(+-sqrt(3 / n)), variance 1 / n; msra: N(0, 2 / n)).
SCALED_FILLERS = {"xavier": (1.0, "uniform"), "msra": (2.0, "normal")}
# Caffe's variance_norm (FAN_IN its default) -> the fan a scaled filler divides by, as
# cnnspec's `mode` names it.
VARIANCE_NORM = {"FAN_IN": "fan_in", "FAN_OUT": "fan_out", "AVERAGE": "fan_avg"}
# The n of a bias blob (out,) under each mode, fan_in 1 and fan_out out there: as the docs
# write it, and of the layer's outputs.
BIAS_FAN = {"fan_in": ("1", lambda outputs: 1), "fan_out": ("out", lambda outputs: outputs),
            "fan_avg": ("((1 + out) / 2)", lambda outputs: (1 + outputs) / 2)}
# The weight's init of each scaled filler and mode: cnnspec's name where one draws exactly
# it, else variance_scaling with its settings.
SCALED_WEIGHTS = {
    ("xavier", "fan_in"): {"name": "lecun_uniform"},
    ("xavier", "fan_out"): {"name": "variance_scaling", "scale": 1.0, "mode": "fan_out",
                            "distribution": "uniform"},
    ("xavier", "fan_avg"): {"name": "glorot_uniform"},
    ("msra", "fan_in"): {"name": "he_normal"},
    ("msra", "fan_out"): {"name": "he_normal", "mode": "fan_out"},
    ("msra", "fan_avg"): {"name": "variance_scaling", "scale": 2.0, "mode": "fan_avg",
                          "distribution": "normal"},
}
# Fillers that are an init of the same name on a weight: the bias's init (None: refused) and
# why it is that.
NAMED_FILLERS = {"positive_unitball": ("ones", "each output's one value divided by itself"),
                 "bilinear": (None, "needs a 4-D blob")}
FILLERS = (CONSTANT_FILLER, *PLAIN_FILLERS, *SCALED_FILLERS, *NAMED_FILLERS)
DATASET_WORDS = {"fashion": "fashion-mnist", "mnist": "mnist", "cifar": "cifar10"}



@record
class Blob:
    """What a Caffe blob is in the spec: the layer that makes it and whether it is flat."""

    layer: str
    flat: bool


@record
class Net:
    """The import's state while reading the layers in order."""

    path: str | None
    name: str = ""  # the net's own name, which may say its data set (CIFAR10_quick)
    names: Names = field(default_factory=Names)
    blobs: dict[str, Blob] = field(default_factory=dict)
    lines: list[LayerLine] = field(default_factory=list)
    input_shape: tuple[int, int, int] | None = None
    batch: int | None = None
    batch_from: str = ""  # where the net gives its batch (caffe_solver.batch_note's words)
    data_hint: str | None = None
    preprocess: Setting | None = None
    augment: Setting | None = None
    loss: bool = False
    notes: list[str | LayerNote] = field(default_factory=list)
    last: str = "input"  # the layer written last

    def add(self, line: LayerLine, bottom: str | None, top: str, flat: bool) -> None:
        """Write ``line`` taking blob ``bottom`` (None: merge inputs already set) and
        making blob ``top``."""
        if bottom is not None:
            source = self.blobs[bottom].layer
            if source != self.last:
                line.inputs = [source]
        self.lines.append(line)
        self.blobs[top] = Blob(line.name, flat)
        self.last = line.name


@record
class Layer:
    """One ``layer { ... }`` message and what every reader needs from it."""

    msg: Message
    name: str
    type: str
    bottoms: list[Entry]
    tops: list[str]
    net: Net

    def error(self, message: str, where: Span | None = None, hint: str | None = None):
        return error_at(message, where or self.msg.span, hint, self.net.path)

    def refuse_misspelt(self, msg: Message, *names: str, where: str = "parameters") -> None:
        """Stop at a field of ``msg`` written close to one of ``names`` (or, without names,
        to any field a reader asked for): said before the field it misspells is missing or
        its name refused as one cnnspec has no equivalent of."""
        place = "" if where == "layer" else f" in the {where}"
        error = msg.misspelt_error(f"{place} of {self.type} layer '{self.name}'".lstrip(),
                                   names or None)
        if error is not None:
            raise error

    def param(self, name: str, required: bool = False) -> Message:
        found = self.msg.message(name)
        if found is None:
            if required:
                self.refuse_misspelt(self.msg, name, where="layer")
                raise self.error(f"{self.type} layer '{self.name}' needs {name} {{ ... }}",
                                 hint=f"e.g. {name} {{ num_output: 10 }}")
            return Message([], self.msg.span, self.net.path)
        return found

    def bottom(self, i: int = 0) -> str:
        """The blob name of bottom ``i``, which an earlier layer must make."""
        if len(self.bottoms) <= i:
            raise self.error(f"{self.type} layer '{self.name}' needs a bottom blob",
                             hint='name its input, e.g. bottom: "data"')
        entry = self.bottoms[i]
        blob = self.msg.value_of(entry, "string")
        if blob not in self.net.blobs:
            raise self.error(f"the bottom blob '{blob}' of layer '{self.name}' is not made by "
                             "an earlier layer", entry.value.span,
                             hint="a blob is the top of a layer written before this one")
        return blob

    def top(self) -> str:
        if not self.tops:
            raise self.error(f"{self.type} layer '{self.name}' needs a top blob",
                             hint='name its output, e.g. top: "conv1"')
        return self.tops[0]

    def one_input(self, kind: str, fields: dict | None = None, comment: str | None = None,
                  flat: bool | None = None) -> None:
        """A layer of ``kind`` from bottom 0 to top 0 (flat if its input is, unless said)."""
        bottom = self.bottom()
        line = LayerLine(self.net.names.make(self.name), kind, fields or {}, comment=comment)
        self.net.add(line, bottom, self.top(),
                     self.net.blobs[bottom].flat if flat is None else flat)


# ---------------------------------------------------------------------------- fillers


def filler_init(msg: Message | None, role: str, outputs: int, path: str | None) -> dict:
    """The cnnspec init that draws what Caffe's filler ``msg`` draws for a layer's ``role``
    (``weight`` or ``bias``) with ``outputs`` outputs; no filler is Caffe's default,
    ``constant`` 0."""
    if msg is None:
        return {"name": "zeros"}
    kind = msg.scalar("type", "string", "constant")
    type_entry = msg.one("type")
    where = type_entry.value.span if type_entry else msg.span
    if kind not in FILLERS:
        close = closest(kind, FILLERS)
        raise error_at(f"unknown Caffe filler '{kind}'", where,
                   (f"did you mean {close}? " if close else "") + "Caffe's fillers: "
                   + ", ".join(FILLERS), path)
    if msg.scalar("sparse", "int", -1) != -1:
        raise error_at("the sparse gaussian filler is not supported", msg.one("sparse").span,
                   "cnnspec's sparse init gives each unit a fixed number of nonzero weights, "
                   "Caffe's a random share of them; leave out sparse, or write the init in "
                   "the spec", path)
    init = _filler(msg, kind, role, outputs, where, path)
    unused = msg.unused()
    if unused:
        raise error_at(f"the {kind} filler does not read '{unused[0].name}'", unused[0].span,
                   f"Caffe's {kind} filler ignores it too; remove it", path)
    return init


def _filler(msg: Message, kind: str, role: str, outputs: int, where: Span, path) -> dict:
    if kind == CONSTANT_FILLER:
        value = msg.scalar("value", "number", 0)
        named = NAMED_CONSTANTS.get(value)
        return {"name": named} if named else {"name": "constant", "value": value}
    if kind in PLAIN_FILLERS:
        name, args = PLAIN_FILLERS[kind]
        return {"name": name, **{arg: msg.scalar(field, "number", default)
                                 for arg, (field, default) in args.items()}}
    if kind in SCALED_FILLERS:
        mode = _variance_norm(msg, path)
        scale, distribution = SCALED_FILLERS[kind]
        if role == "bias":  # a bias blob (out,): fan_in 1, fan_out out
            return per_bias(BIAS_FAN[mode][1](outputs), scale, distribution)
        return SCALED_WEIGHTS[kind, mode]
    bias, why = NAMED_FILLERS[kind]
    if role != "bias":
        return {"name": kind}
    if bias is None:
        raise error_at(f"the {kind} filler {why}; a bias has one axis", where,
                       "give the bias a constant filler", path)
    return {"name": bias}


def _variance_norm(msg: Message, path: str | None) -> str:
    """The mode of a scaled filler's ``variance_norm`` (FAN_IN where none is written)."""
    if msg.one("variance_norm") is None:
        return VARIANCE_NORM["FAN_IN"]
    norm = msg.scalar("variance_norm", "enum")
    if norm not in VARIANCE_NORM:
        raise error_at("unknown variance_norm", msg.one("variance_norm").value.span,
                       "variance_norm is " + listed(list(VARIANCE_NORM), "or"), path)
    return VARIANCE_NORM[norm]


def param_mults(layer: Layer, has_bias: bool) -> dict:
    """``param { lr_mult decay_mult }`` of the weight and the bias as the layer's fields;
    ``frozen`` where every lr_mult is 0 (FCN's fixed bilinear Deconvolution), which is
    exactly that: Caffe's step is lr x lr_mult times the gradient with the decay added, so
    none changes the parameters, as none does a frozen layer's."""
    specs = layer.msg.messages("param")
    if len(specs) > 1 + has_bias:
        raise layer.error(f"layer '{layer.name}' has {len(specs)} param blocks, but "
                          f"{1 + has_bias} parameters", specs[1 + has_bias].span,
                          "one param { ... } for the weight, one for the bias")
    lr, decay = [1.0, 1.0], [1.0, 1.0]
    for i, spec in enumerate(specs):
        if spec.one("name") is not None:
            raise layer.error("shared parameters (param { name: ... }) are not supported",
                              spec.one("name").span, "cnnspec gives each layer its own "
                              "weights; remove the name")
        lr[i] = float(spec.scalar("lr_mult", "number", 1.0))
        decay[i] = float(spec.scalar("decay_mult", "number", 1.0))
        _no_unused(spec, layer, "param")
    if not has_bias:
        lr[1], decay[1] = lr[0], decay[0]
    if not any(lr):
        return {"trainable": False}
    return {"lr_mult": lr, "decay_mult": decay}


def _no_unused(msg: Message, layer: Layer, where: str) -> None:
    layer.refuse_misspelt(msg, where=where)
    unused = msg.unused()
    if unused:
        place = "" if where == "layer" else f" in the {where}"
        raise layer.error(f"the field '{unused[0].name}'{place} of {layer.type} layer "
                          f"'{layer.name}' is not supported", unused[0].span,
                          "cnnspec has no equivalent; remove it or change the spec by hand "
                          "after importing")


# ---------------------------------------------------------------------------- geometry


def _pair(msg: Message, name: str, default: int, layer: Layer, repeated: bool) -> list[int]:
    """A Caffe size: ``name`` (one value, or with ``repeated`` one per axis) or
    ``name_h``/``name_w``; a padding may be 0, the others are at least 1."""
    base = name.removesuffix("_size")  # kernel_size: kernel_h and kernel_w
    kind = "natural" if name == "pad" else "count"
    h, w = msg.scalar(f"{base}_h", kind), msg.scalar(f"{base}_w", kind)
    values = msg.scalars(name, kind) if repeated else \
        [v for v in [msg.scalar(name, kind)] if v is not None]
    if h is not None or w is not None:
        if values:
            raise layer.error(f"{layer.type} layer '{layer.name}' gives both {name} and "
                              f"{name}_h/{name}_w", hint="give one of them")
        return [default if h is None else h, default if w is None else w]
    if len(values) > 2:
        raise layer.error(f"{layer.type} layer '{layer.name}' has {len(values)} values of "
                          f"{name}: cnnspec's layers are 2-D", hint="give one or two values")
    if not values:
        return [default, default]
    return values * 2 if len(values) == 1 else values


def _num_output(param: Message, layer: Layer, example: str) -> int:
    """The ``num_output`` a conv or inner product layer needs (``example``: the hint's)."""
    outputs = param.scalar("num_output", "count")
    if outputs is None:
        layer.refuse_misspelt(param, "num_output")
        raise layer.error(f"{layer.type} layer '{layer.name}' needs num_output", hint=example)
    return outputs


def _learned_fields(param: Message, layer: Layer, outputs: int, has_bias: bool) -> dict:
    """The fields of a conv's or inner product's parameters: its bias, the inits its fillers
    give (a bias init where it has a bias) and its lr and decay multipliers."""
    fields = {"bias": has_bias,
              WEIGHT_INIT_KEY: filler_init(param.message("weight_filler"), "weight", outputs,
                                         layer.net.path),
              **param_mults(layer, has_bias)}
    if has_bias:
        fields[BIAS_INIT_KEY] = filler_init(param.message("bias_filler"), "bias", outputs,
                                          layer.net.path)
    return fields


def read_conv(layer: Layer) -> None:
    cp = layer.param("convolution_param", required=True)
    outputs = _num_output(cp, layer, "e.g. convolution_param { num_output: 20 kernel_size: 5 }")
    kernel = _pair(cp, "kernel_size", 0, layer, repeated=True)
    if 0 in kernel:
        layer.refuse_misspelt(cp, "kernel_size", "kernel_h", "kernel_w")
        raise layer.error(f"{layer.type} layer '{layer.name}' needs kernel_size", cp.span,
                          "e.g. kernel_size: 5, or kernel_h and kernel_w")
    has_bias = cp.scalar("bias_term", "bool", True)
    fields = {"filters": outputs, "kernel": kernel,
              "stride": _pair(cp, "stride", 1, layer, repeated=True),
              "padding": _pair(cp, "pad", 0, layer, repeated=True),
              "dilation": _pair(cp, "dilation", 1, layer, repeated=True),
              "groups": cp.scalar("group", "count", 1),
              **_learned_fields(cp, layer, outputs, has_bias)}
    _default_only(cp, layer)
    layer.one_input(CAFFE_KINDS[layer.type], fields, flat=False)


def _default_only(msg: Message, layer: Layer, fields: dict | None = None) -> None:
    """Fields cnnspec reads only at their default (None: any value, e.g. Caffe's engine): by
    default those the layer's type declares (CAFFE_TYPES)."""
    fields = CAFFE_TYPES[layer.type].defaults if fields is None else fields
    for name, default in fields.items():
        entry = msg.one(name)
        if entry is None or default is None:
            continue
        value = msg.value_of(entry, "bool" if isinstance(default, bool) else
                             "number" if isinstance(default, (int, float)) else "enum")
        if value != default:
            shown = default if isinstance(default, str) else exact_number_text(default)
            raise layer.error(f"{name} {value} is not supported in {layer.type} layer "
                              f"'{layer.name}'", entry.span,
                              f"cnnspec supports only Caffe's default, {name}: {shown}")
    _no_unused(msg, layer, "parameters")


def read_inner_product(layer: Layer) -> None:
    ip = layer.param("inner_product_param", required=True)
    outputs = _num_output(ip, layer, "e.g. inner_product_param { num_output: 500 }")
    has_bias = ip.scalar("bias_term", "bool", True)
    fields = {"units": outputs, **_learned_fields(ip, layer, outputs, has_bias)}
    _default_only(ip, layer)
    bottom = layer.bottom()
    if not layer.net.blobs[bottom].flat:  # Caffe's inner product flattens (C, H, W) itself
        flat = LayerLine(layer.net.names.make(f"{layer.name}_flatten"), "flatten",
                         comment="Caffe's InnerProduct flattens its input itself")
        layer.net.add(flat, bottom, bottom + "\0flat", True)
        bottom = bottom + "\0flat"
    line = LayerLine(layer.net.names.make(layer.name), CAFFE_KINDS[layer.type], fields)
    layer.net.add(line, bottom, layer.top(), True)


def read_pooling(layer: Layer) -> None:
    pp = layer.param("pooling_param")
    method = pp.scalar("pool", "enum", "MAX")
    if method not in CAFFE_POOLS:
        raise layer.error(f"{method} pooling is not supported", pp.one("pool").value.span,
                          f"cnnspec pools by {' or '.join(CAFFE_POOLS)}")
    whole = pp.scalar("global_pooling", "bool", False)
    kind = CAFFE_TYPES[layer.type].kind_for({"pool": method, "global_pooling": whole})
    if whole:
        _default_only(pp, layer)
        layer.one_input(kind, flat=True)
        return
    size = _pair(pp, "kernel_size", 0, layer, repeated=False)
    if 0 in size:
        layer.refuse_misspelt(pp, "kernel_size", "kernel_h", "kernel_w")
        raise layer.error(f"Pooling layer '{layer.name}' needs kernel_size", pp.span,
                          "e.g. pooling_param { pool: MAX kernel_size: 2 stride: 2 }")
    rounding = pp.scalar("round_mode", "enum", "CEIL")
    if rounding not in ("CEIL", "FLOOR"):
        raise layer.error(f"unknown round_mode {rounding}", pp.one("round_mode").value.span,
                          "round_mode is CEIL (Caffe's default) or FLOOR")
    fields = {"size": size, "stride": _pair(pp, "stride", 1, layer, repeated=False),
              "padding": _pair(pp, "pad", 0, layer, repeated=False),
              "ceil_mode": rounding == "CEIL"}
    _default_only(pp, layer)
    layer.one_input(kind, fields)


def read_activation(param: str, caffe_field: str | None = None, default: float = 0.0):
    """A reader for an activation, of the kind its type's values choose (CAFFE_TYPES: ReLU's
    negative_slope makes it a leaky ReLU); ``param``/``caffe_field`` a Caffe value that sets
    the field of the kind it names (ELU's alpha, a leaky ReLU's slope)."""

    def read(layer: Layer) -> None:
        msg = layer.param(param)
        values = {caffe_field: msg.scalar(caffe_field, "number", default)} if caffe_field \
            else {}
        chosen = CAFFE_TYPES[layer.type].kind_for(values)
        fields = {field: value for name, value in values.items()
                  if (field := caffe_field_of(KINDS[chosen], name))}
        _default_only(msg, layer)
        layer.one_input(chosen, fields)

    return read


def read_prelu(layer: Layer) -> None:
    """Caffe's PReLU: one slope per channel, from its filler (constant 0.25 when none, as
    prelu_layer.cpp), which must be where cnnspec's prelu starts."""
    pp = layer.param("prelu_param")
    start = KINDS["prelu"].fixed_inits[0]
    filler = pp.message("filler")
    if filler is not None and filler_init(filler, "weight", 1, layer.net.path) != start:
        raise layer.error(f"the filler of PReLU layer '{layer.name}' is not supported",
                          pp.one("filler").span, f"cnnspec's prelu starts every slope at "
                          f"{float_text(float(start['value']))}; remove the filler")
    if pp.scalar("channel_shared", "bool", False):
        raise layer.error(f"PReLU layer '{layer.name}' shares one slope across channels",
                          pp.one("channel_shared").span, "cnnspec's prelu learns one slope "
                          "per channel; remove channel_shared")
    _default_only(pp, layer)
    layer.one_input(CAFFE_KINDS[layer.type])


def read_dropout(layer: Layer) -> None:
    dp = layer.param("dropout_param")
    p = dp.scalar("dropout_ratio", "number", 0.5)
    _default_only(dp, layer)
    layer.one_input(CAFFE_KINDS[layer.type], {"p": p})


def read_batchnorm(layer: Layer) -> None:
    bp = layer.param("batch_norm_param")
    field, convert = CAFFE_TYPES[layer.type].converted["moving_average_fraction"]
    fields = {"eps": bp.scalar("eps", "number", 1e-5),
              field: convert(bp.scalar("moving_average_fraction", "number", 0.999)),
              "trainable": False}
    layer.msg.messages("param")  # lr_mult 0 on the statistics: they are no parameters here
    _default_only(bp, layer)  # use_global_stats, Caffe's train/test switch, is ours
    layer.one_input(CAFFE_KINDS[layer.type], fields,
                    comment="Caffe's BatchNorm without a Scale: no learned scale or shift")


def read_scale(layer: Layer) -> None:
    """Scale (with a bias) right after a BatchNorm is that batch norm's scale and shift."""
    sp = layer.param("scale_param")
    bottom = layer.bottom()
    line = next((ln for ln in layer.net.lines if ln.name == layer.net.blobs[bottom].layer),
                None)
    if line is None or line.kind != CAFFE_KINDS[layer.type] or line.fields["trainable"]:
        raise layer.error(f"a Scale layer is supported only after a BatchNorm ('{layer.name}' "
                          "follows none)", hint="cnnspec's batchnorm learns a scale and a "
                          "shift per channel; a free-standing Scale has no kind here")
    if not sp.scalar("bias_term", "bool", False):
        raise layer.error(f"Scale layer '{layer.name}' has no bias_term: cnnspec's batchnorm "
                          "learns both a scale and a shift", sp.span,
                          "add bias_term: true to the Scale layer")
    for name, start in (("filler", "ones"), ("bias_filler", "zeros")):
        filler = sp.message(name)  # Caffe's defaults: scale 1, shift 0
        if filler is not None and filler_init(filler, "bias", 1, layer.net.path) != \
                {"name": start}:
            raise layer.error(f"the {name} of Scale layer '{layer.name}' is not supported",
                              sp.one(name).span, "cnnspec's batchnorm starts with scale 1 "
                              "and shift 0; remove the filler")
    for spec in layer.msg.messages("param"):
        if spec.scalar("lr_mult", "number", 1.0) != 1 or \
                spec.scalar("decay_mult", "number", 1.0) != 1:
            raise layer.error("lr_mult and decay_mult on a batch norm's scale are not "
                              "supported", spec.span, "remove the param blocks")
        _no_unused(spec, layer, "param")
    _default_only(sp, layer)
    line.fields["trainable"] = True
    line.comment = "Caffe's BatchNorm and the Scale layer after it"
    layer.net.blobs[layer.top()] = layer.net.blobs[bottom]


def read_merge(layer: Layer) -> None:
    kind = CAFFE_KINDS[layer.type]
    if kind == "concat":
        _default_only(layer.param("concat_param"), layer)
    else:
        ep = layer.param("eltwise_param")
        operation = ep.scalar("operation", "enum", "SUM")
        if operation != "SUM":
            raise layer.error(f"Eltwise {operation} is not supported",
                              ep.one("operation").value.span,
                              "cnnspec's add is Caffe's Eltwise SUM")
        coeffs = ep.scalars("coeff", "number")
        if any(c != 1 for c in coeffs):
            raise layer.error("Eltwise coefficients other than 1 are not supported",
                              ep.all("coeff")[0].span, "cnnspec's add sums its inputs")
        _default_only(ep, layer)
    bottoms = [layer.bottom(i) for i in range(len(layer.bottoms))]
    if len(bottoms) < 2:
        raise layer.error(f"{layer.type} layer '{layer.name}' needs two or more bottoms",
                          hint='e.g. bottom: "a" bottom: "b"')
    line = LayerLine(layer.net.names.make(layer.name), kind,
                     inputs=[layer.net.blobs[b].layer for b in bottoms])
    layer.net.add(line, None, layer.top(), layer.net.blobs[bottoms[0]].flat)


def read_flatten(layer: Layer) -> None:
    _default_only(layer.param("flatten_param"), layer)
    layer.one_input(CAFFE_KINDS[layer.type], flat=True)


def read_softmax(layer: Layer) -> None:
    _default_only(layer.param("softmax_param"), layer)
    layer.one_input(CAFFE_KINDS[layer.type])


def read_softmax_loss(layer: Layer) -> None:
    """The cross_entropy loss on the scores of bottom 0; bottom 1 is the label."""
    layer.bottom()
    _default_only(layer.param("softmax_param"), layer, CAFFE_TYPES["Softmax"].defaults)
    lp = layer.param("loss_param")
    _loss_normalization(lp, layer)
    _default_only(lp, layer, {"normalization": None, "normalize": None})
    weight = layer.msg.scalar("loss_weight", "number", 1)
    if weight != 1:
        raise layer.error(f"loss_weight {exact_number_text(weight)} is not supported",
                          layer.msg.one("loss_weight").span, "with one loss it scales the "
                          "gradients: multiply the solver's base_lr by it instead")
    layer.net.loss = True
    layer.net.notes.append(LayerNote(layer.name, f"({layer.type}) is the {caffe_loss()} loss "
                                     "of the train block"))


# Caffe's loss normalizations that divide the summed loss by the batch's size here: with no
# ignore_label (which the importer refuses) VALID counts every example, and on a classifier's
# (N, K) scores FULL's N x H x W is N; cnnspec's cross_entropy is that mean. NONE is the sum.
BATCH_MEAN_NORMALIZATIONS = ("VALID", "BATCH_SIZE", "FULL")


def _loss_normalization(msg: Message, layer: Layer) -> None:
    """Refuse a loss normalization other than the batch mean (:data:`BATCH_MEAN_NORMALIZATIONS`),
    at its value."""
    entry = msg.one("normalization")
    value = None if entry is None else msg.value_of(entry, "enum")
    if value is None or value in BATCH_MEAN_NORMALIZATIONS:
        return
    raise layer.error(f"normalization {value} is not supported in {layer.type} layer "
                      f"'{layer.name}'", entry.span,
                      f"{value} sums the loss over the batch where cnnspec's cross_entropy is "
                      "its mean (Caffe's VALID, BATCH_SIZE and FULL here): multiply the "
                      "solver's base_lr by the batch size instead")


def read_skipped(layer: Layer) -> None:
    for entry in layer.msg.entries:  # the whole layer is left out, and said so
        layer.msg.all(entry.name)
    layer.net.notes.append(LayerNote(layer.name, f"({layer.type}) left out: "
                                     f"{CAFFE_LEFT_OUT[layer.type]}"))


def read_input(layer: Layer) -> None:
    shapes = layer.param("input_param").messages("shape")
    if not shapes:
        raise layer.error(f"Input layer '{layer.name}' needs input_param {{ shape {{ ... }} }}",
                          hint="e.g. input_param { shape { dim: 64 dim: 1 dim: 28 dim: 28 } }")
    dims = shapes[0].scalars("dim", "count")
    _set_input(layer, dims, shapes[0].span)


def _set_input(layer: Layer, dims: list[int], where: Span) -> None:
    if len(dims) != 4:
        raise layer.error(f"the input shape {dims} is not (N, C, H, W)", where,
                          "cnnspec's networks take images: four dims, batch first")
    if layer.net.input_shape is not None:
        raise layer.error("a second input is not supported", where,
                          "cnnspec's networks have one input")
    layer.net.input_shape = (dims[1], dims[2], dims[3])
    if dims[0] > 1:  # a first dim of 1: one image, not a training batch
        layer.net.batch, layer.net.batch_from = dims[0], BATCH_FROM_INPUT
    layer.net.blobs[layer.top()] = Blob("input", False)


def read_data(layer: Layer, shape: tuple[int, int, int] | None) -> None:
    """A Data layer reads its images' shape from its database: ``shape`` says it."""
    dp = layer.param("data_param")
    source = dp.scalar("source", "string", "")
    batch = dp.scalar("batch_size", "count")
    dp.one("backend")
    _default_only(dp, layer, {})
    _transform(layer)
    named = _dataset_named(source, layer.name, layer.net.name)
    if shape is None:
        said = dp.one("source") if dp.one("source") is not None else layer.msg.one("type")
        raise layer.error(f"the Data layer '{layer.name}' reads its images' shape from its "
                          "database", said.value.span, _data_shape_hint(named))
    layer.net.data_hint = named
    _set_input(layer, [batch or 1, *shape], layer.msg.span)
    layer.net.batch, layer.net.batch_from = batch, BATCH_FROM_DATA


def _dataset_named(*words: str) -> str | None:
    """The data set a Data layer's source, its name or the net's name mentions
    (``examples/cifar10/cifar10_train_lmdb``: cifar10), by :data:`DATASET_WORDS`; None where
    none does."""
    text = " ".join(words).lower()
    return next((name for word, name in DATASET_WORDS.items() if word in text), None)


def _data_shape_hint(named: str | None) -> str:
    """How to give the images' shape of a Data layer: that of the data set the prototxt
    names, where it does, else the user's own."""
    if named is None:
        return ("the prototxt names no data set whose images cnnspec knows, so give their "
                "shape: --input CxHxW (e.g. --input 3x32x32 for 32 x 32 colour images), or "
                "input_shape=(C, H, W) in Python")
    shape = DATASETS[named].image
    return (f"the prototxt names {named}, whose images are {shape_text(shape)}: give --input "
            f"{shape_text(shape)}, or input_shape={shape} in Python")


def _transform(layer: Layer) -> None:
    tp = layer.param("transform_param")
    scale = tp.scalar("scale", "number")
    means = tp.scalars("mean_value", "number")
    mean_file = tp.scalar("mean_file", "string")
    if scale is not None and not (means or mean_file):
        layer.net.preprocess = Setting("preprocess", "none", f"Caffe scales the pixels by "
                                       f"{exact_number_text(scale)}; cnnspec loads them in [0, 1]")
    elif means or mean_file:
        layer.net.preprocess = Setting("preprocess", "zero_center", "Caffe subtracts a fixed "
                                       "mean; zero_center subtracts the training split's")
    else:
        layer.net.notes.append("Caffe feeds this Data layer's pixels as stored (0 to 255); "
                               "cnnspec loads images in [0, 1] and standardizes them (the "
                               "default preprocess)")
    if tp.scalar("mirror", "bool", False):
        layer.net.augment = Setting("augment", "flip", "Caffe's mirror")
    if tp.one("crop_size") is not None:
        raise layer.error("crop_size is not supported", tp.one("crop_size").span,
                          "cnnspec's augment crop(pad) keeps the image's size; remove "
                          "crop_size and set the input to the cropped size")
    _no_unused(tp, layer, "transform_param")


# How each type is read; the kind it becomes is CAFFE_KINDS' (one table, which the language's
# hints read too).
READERS = {
    "Convolution": read_conv,
    "Deconvolution": read_conv,
    "InnerProduct": read_inner_product,
    "Pooling": read_pooling,
    "ReLU": read_activation("relu_param", "negative_slope"),
    "TanH": read_activation("tanh_param"),
    "Sigmoid": read_activation("sigmoid_param"),
    "ELU": read_activation("elu_param", "alpha", 1.0),
    "PReLU": read_prelu,
    "Dropout": read_dropout,
    "BatchNorm": read_batchnorm,
    "Scale": read_scale,
    "Concat": read_merge,
    "Eltwise": read_merge,
    "Flatten": read_flatten,
    "Softmax": read_softmax,
}
LAYERS = {**READERS, CAFFE_LOSS: read_softmax_loss,
          **dict.fromkeys(CAFFE_LEFT_OUT, read_skipped), "Input": read_input}


# ---------------------------------------------------------------------------- the net


def _phase_skipped(msg: Message) -> bool:
    """A layer included only in the TEST phase (or excluded from TRAIN): not in training."""
    for rule in msg.messages("include"):
        if rule.scalar("phase", "enum") == "TEST":
            return True
    for rule in msg.messages("exclude"):
        if rule.scalar("phase", "enum") == "TRAIN":
            return True
    return msg.scalar("phase", "enum") == "TEST"


def _net_input(net_msg: Message, net: Net) -> None:
    """The old form: ``input: "data"`` with ``input_shape { dim ... }`` or ``input_dim``s."""
    inputs = net_msg.scalars("input", "string")
    shapes = net_msg.messages("input_shape")
    dims = net_msg.scalars("input_dim", "count")
    if not inputs:
        return
    layer = Layer(net_msg, "input", "Input", [], inputs, net)
    if shapes:
        _set_input(layer, shapes[0].scalars("dim", "count"), shapes[0].span)
    else:
        _set_input(layer, dims, net_msg.span)


def _read_layer(msg: Message, net: Net, shape) -> None:
    type_name = msg.scalar("type", "string")
    name = msg.scalar("name", "string") or type_name or "layer"
    tops = msg.scalars("top", "string")
    layer = Layer(msg, name, type_name or "", msg.all("bottom"), tops, net)
    if type_name is None:
        raise layer.error(f"layer '{name}' has no type", hint='e.g. type: "Convolution"')
    if _phase_skipped(msg):
        for entry in msg.entries:
            msg.all(entry.name)
        net.notes.append(LayerNote(name, f"({type_name}) left out: in the TEST phase only"))
        return
    if type_name == "Data":
        read_data(layer, shape)
    elif type_name in LAYERS:
        LAYERS[type_name](layer)
    else:
        where = msg.one("type").value.span
        hint = CAFFE_REPLACED.get(type_name, (None, None))[1] or (
            "layer types cnnspec imports: Data, " + ", ".join(LAYERS))
        if type_name in ("ImageData", "HDF5Data", "MemoryData", "WindowData"):
            hint = ("replace it by an Input layer of the images' shape: layer { name: \"data\" "
                    "type: \"Input\" top: \"data\" input_param { shape { dim: 64 dim: 1 "
                    "dim: 28 dim: 28 } } }")
        raise error_at(f"the Caffe layer type '{type_name}' is not supported", where, hint,
                   net.path)
    msg.all("include")
    msg.all("exclude")
    _no_unused(msg, layer, "layer")


def _stand_in(msg: Message, net: Net) -> None:
    """The tops of a layer that could not be read, made by a stand-in so that the layers
    after it are still read (and only their own mistakes reported)."""
    for entry in msg.all("top"):
        # A top written as a message (`top { ... }`) is the mistake reported; it names no blob.
        if (isinstance(entry.value, Scalar) and entry.value.kind == "string"
                and entry.value.value not in net.blobs):
            net.blobs[entry.value.value] = Blob("input", False)


def read_net(text: str, path: str | None = None,
             input_shape: tuple[int, int, int] | None = None) -> tuple[Net, Message]:
    """Every layer of a model definition read into spec lines; every mistake and every
    unsupported field reported together (:class:`SpecErrors`)."""
    net_msg = parse_prototxt(text, path)
    net = Net(path, name=net_msg.scalar("name", "string", ""))
    refuse_solver_as_net(net_msg, path)
    if net_msg.all("layers"):
        raise error_at("this is Caffe's old (V1) format, `layers { ... }`",
                   net_msg.all("layers")[0].span,
                   "upgrade it with Caffe's tools/upgrade_net_proto_text, which writes "
                   "`layer { ... }`", path)
    errors = []
    try:
        _net_input(net_msg, net)
    except SpecError as exc:
        errors.append(exc)
    for msg in net_msg.messages("layer"):
        try:
            _read_layer(msg, net, input_shape)
        except SpecError as exc:
            errors.append(exc)
            _stand_in(msg, net)
    for name in ("name", "force_backward", "debug_info", "state"):
        net_msg.all(name)
    for entry in net_msg.unused():
        meant = net_msg.meant(entry)
        if meant is not None:
            errors.append(net_msg.misspelt(entry, meant, "in the net"))
            continue
        errors.append(error_at(f"the net field '{entry.name}' is not supported", entry.span,
                           "remove it", path))
    if not errors and net.input_shape is None:
        errors.append(error_at("the net has no input", net_msg.span, "add an Input layer: layer "
                           "{ name: \"data\" type: \"Input\" top: \"data\" input_param { shape "
                           "{ dim: 64 dim: 1 dim: 28 dim: 28 } } }", path))
    if not errors and not net.lines:
        errors.append(error_at("the net has no layers cnnspec computes", net_msg.span,
                           "add layers after the input", path))
    if errors:
        raise SpecErrors(errors)
    return net, net_msg


# ---------------------------------------------------------------------------- the spec


def import_prototxt(text: str, path: str | None = None, *, solver: str | None = None,
                    solver_path: str | None = None,
                    input_shape: tuple[int, int, int] | None = None,
                    epoch_images: int | None = None) -> Imported:
    """A Caffe model definition (and optionally its solver) as a checked cnnspec spec.

    ``path``/``solver_path`` name the files in errors and in the header; ``input_shape``
    (C, H, W) is the images' shape for a net whose Data layer reads it from a database;
    ``epoch_images`` the images one epoch trains on, to turn Caffe's iterations into epochs.
    Mistakes and unsupported layers or fields are :class:`SpecError`s at their line and
    column in the prototxt. An ``epoch_images`` that is no whole number from 1 is a
    :class:`SettingError` naming it (``--epoch-images`` on the command line)."""
    if epoch_images is not None:
        epoch_images = refuse_count("epoch_images", epoch_images, 1, EPOCH_IMAGES_HINT)
    net, net_msg = read_net(text, path, input_shape)
    origin = path or "a Caffe model definition"
    header = [f"Imported from {origin} (Caffe) by `cnnspec import`."]
    training = []
    data, why = fitting_data(net.input_shape, output_units(net.lines), net.data_hint)
    training.append(Setting("data", data, why))
    for extra in (net.preprocess, net.augment):
        if extra is not None:
            training.append(extra)
    if solver is not None:
        header.append(f"Training settings from the solver {solver_path or ''}".rstrip() + ".")
        result = solver_settings(solver, solver_path, net.batch, epoch_images, net.batch_from)
        training += result.settings
        net.notes += result.notes
    elif net.batch:
        training.append(Setting("batch", str(net.batch), batch_note(net.batch_from)))
    if net.loss:
        training.append(Setting("loss", caffe_loss(), f"Caffe's {CAFFE_LOSS}"))
    defaults = common_inits([line for line in net.lines if WEIGHT_INIT_KEY in line.fields])
    notes = grouped(net.notes)
    header += [f"- {note}" for note in notes]
    name = model_name(net_msg.scalar("name", "string") if net_msg.one("name") else None, path)
    def write():
        text = spec_text(header=header, model=name, input_shape=net.input_shape,
                         layers=net.lines, defaults=defaults, training=training,
                         origin=origin)
        return text, checked(text, origin)

    text, spec = write()
    if _floor_would_do(net, spec):
        text, spec = write()
    started = _momenta_for_the_run(net, spec)
    if started:
        notes.append(started)
        header.append(f"- {started}")
        text, spec = write()
    return Imported(text, spec, notes)


def _momenta_for_the_run(net: Net, spec) -> str | None:
    """Caffe's BatchNorm corrects its running average for its start (it divides its decayed
    sums by their decayed weight, batch_norm_layer.cpp's ``blobs_[2]``), so its statistics are
    the batches' from the first steps; a batchnorm's momentum here is a plain moving average
    from mean 0 and variance 1 (PyTorch's), which at 1 - moving_average_fraction (0.001) keeps
    most of that start over a short run. Each batchnorm whose momentum keeps more than
    :data:`~cnnspec.kinds.catalogue.CAFFE_START_SHARE` of its start over the run the spec trains
    (:func:`cnnspec.check.training.spec_steps`) takes the least momentum that does not
    (:func:`~cnnspec.kinds.catalogue.least_momentum`), said in its comment. The note for the
    header when a line changed, else None."""
    steps = spec_steps(spec.spec, spec.layers)
    if steps is None:
        return None
    least = least_momentum(steps, CAFFE_START_SHARE)
    changed = [line for line in net.lines if line.kind == CAFFE_KINDS["BatchNorm"]
               and start_share(line.fields["momentum"], steps) > CAFFE_START_SHARE]
    if not changed:
        return None
    kept = min(line.fields["momentum"] for line in changed)  # the one keeping most of it
    caffes = listed([float_text(m) for m in sorted({line.fields["momentum"] for line in changed})])
    for line in changed:
        line.comment = (f"{line.comment}; momentum {float_text(least)}, not "
                        f"{float_text(line.fields['momentum'])}: see the header")
        line.fields["momentum"] = least
    return (f"{layers_named([line.name for line in changed])}: momentum {float_text(least)}, not "
            f"1 - moving_average_fraction = {caffes}. Caffe corrects its running statistics "
            "for their start (mean 0, variance 1); a momentum here is a plain moving average, "
            f"which at {float_text(kept)} would still be "
            f"{rounded_text(100 * start_share(kept, steps))}% its start after the {steps:,} "
            f"steps the spec trains, at {float_text(least)} "
            f"{rounded_text(100 * start_share(least, steps))}%. Over a longer run a smaller "
            "one fits (check warns of one too small for the run)")


def _floor_would_do(net: Net, spec) -> bool:
    """Caffe rounds every pooling's output size up; where rounding down gives the same size
    (LeNet's 24 -> 12), ``ceil_mode true`` is left out of the spec, elsewhere a comment says
    why it is there. True if a line changed."""
    infos = {info.name: info for info in spec.layers}
    changed = False
    for line in net.lines:
        if line.fields.get("ceil_mode"):
            info = infos[line.name]
            floor = KINDS[line.kind].infer({**info.ir, "ceil_mode": False}, info.input_shapes)
            if floor.output == info.output_shape:
                line.fields["ceil_mode"] = False
            else:
                line.comment = "Caffe rounds the output size up"
            changed = True
    return changed
