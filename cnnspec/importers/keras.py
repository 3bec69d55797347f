"""Keras models saved with ``model.to_json()``, imported as cnnspec specs.

Both Sequential and functional models, in the format of Keras 2 (``tf.keras``: ``inbound_nodes``
as ``[[name, node, tensor, kwargs]]``, ``batch_input_shape``) and of Keras 3 (``module``
keys, ``inbound_nodes`` holding ``__keras_tensor__`` objects, ``batch_shape``).

Keras' vocabulary, mapped by meaning (docs/importing.md has the tables):

- layer classes -> kinds: :data:`LAYERS`; an argument a reader does not use is an error at its
  JSON path unless it is null (an absent regulariser or constraint);
- initializers -> inits: :func:`keras_init`. Keras' ``he_normal``, ``glorot_normal`` and
  ``lecun_normal`` draw *truncated* normals (``VarianceScaling(distribution=
  "truncated_normal")``), so they become ``variance_scaling(..., truncated_normal)``, not
  cnnspec's plain-normal names. Keras computes a kernel's fans from ``(kh, kw, in, out)``:
  ``kh·kw·in`` and ``kh·kw·out``, cnnspec's fans of ``(out, in, kh, kw)``; a bias ``(units,)``
  has both fans ``units`` there, so a scaled bias init becomes the fixed distribution it draws;
- ``channels_last`` shapes ``(H, W, C)`` -> cnnspec's ``CxHxW``. A ``Dense`` after ``Flatten``
  sees the same values in another order (NHWC flattens channel-fastest, cnnspec NCHW
  pixel-fastest): the same network for a spec, but Keras weights would need their rows
  permuted;
- a compiled model's ``compile_config`` -> the train block:
  :mod:`cnnspec.importers.keras_compile`.
"""
from __future__ import annotations

import json
import math
from dataclasses import field

from cnnspec.errors import Span, SpecError, SpecErrors, folded, hinted, listed, literal
from cnnspec.importers.imported import Imported, LayerNote, Names, grouped, model_name
from cnnspec.importers.keras_compile import (
    compile_settings,
    float32_shortest,
    json_quoted,
    keras_name,
)
from cnnspec.importers.spec_writer import (
    LayerLine,
    Setting,
    checked,
    common_inits,
    fitting_data,
    output_units,
    per_bias,
    shape_made,
    spec_text,
)
from cnnspec.init.catalogue import KERAS_SCALE
from cnnspec.init.keras import CLASSES, SCALED, scaled_init, truncation_note
from cnnspec.ir.io import parse_json
from cnnspec.ir.training_catalogue import TRANSFORMS
from cnnspec.kinds import KINDS
from cnnspec.kinds.catalogue import momentum_kept
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.text import exact_number_text
from cnnspec.lang.ast import Dims, Num
from cnnspec.lang.foreign import (
    KERAS_CHOSEN,
    KERAS_CLASSES,
    KERAS_CONVERTED,
    KERAS_L2_DEFAULT,
    KERAS_REGULARIZERS,
    argument_field,
    keras_kind,
    l2_note,
    l2_weight_decay,
)
from cnnspec.lang.layers import read_field
from cnnspec.records import record
from cnnspec.shapes import from_channels_last
from cnnspec.sourcefile import is_keras_model

# Keras activation names -> cnnspec activation kinds (with their fields); "linear" is none.
ACTIVATIONS = {"relu": ("relu", {}), "tanh": ("tanh", {}), "sigmoid": ("sigmoid", {}),
               "softmax": ("softmax", {}), "log_softmax": ("log_softmax", {}),
               "elu": ("elu", {}), "gelu": ("gelu", {}), "swish": ("silu", {}),
               "silu": ("silu", {}), "relu6": ("relu6", {}), "hard_swish": ("hardswish", {}),
               "hard_silu": ("hardswish", {}), "mish": ("mish", {}),
               # keras.activations.leaky_relu's default negative_slope is 0.2
               "leaky_relu": ("leaky_relu", {"slope": 0.2})}
# The LeakyReLU layer's slope where its config gives none (alpha in Keras 2, negative_slope in
# Keras 3); the leaky_relu activation function's is 0.2, above.
KERAS_LEAKY_SLOPE = 0.3
# Keras 3 nests a functional model's inbound tensors about 12 deep; far deeper is no model
# (and would overflow the recursive readers).
MAX_NESTING = 64
# Keys every layer's config may hold that do not change the network.
NEUTRAL_KEYS = ("name", "dtype", "autocast", "seed", "batch_input_shape", "batch_shape",
                "input_shape", "batch_size", "build_input_shape")


def _err(message: str, json_path: str, hint: str | None, path: str | None) -> SpecError:
    return SpecError(message, json_path=json_path, hint=hint, file=path)


def _plain(value):
    """Keras' ``{"class_name": "__tuple__", "items": [...]}`` and TensorShape as lists."""
    if isinstance(value, dict):
        if value.get("class_name") in ("__tuple__", "TensorShape") and \
                isinstance(value.get("items"), list):
            return [_plain(v) for v in value["items"]]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@record
class Config:
    """One layer's config: its values, where it is (a JSON path), which keys were read."""

    values: dict
    where: str
    cls: str
    name: str
    path: str | None
    used: set[str] = field(default_factory=set)
    built: dict | None = None  # the layer's build_config (Keras 3): its input's shape

    def get(self, key: str, default=None):
        """The value of ``key``, ``default`` where it is missing. A null is the default only
        where that is None (Keras writes null for an unset regularizer or seed); where Keras
        has a value of its own (a padding, an initializer, an epsilon), a null is no layer it
        builds, and is refused rather than read as that value."""
        self.used.add(key)
        value = self.values.get(key, default)
        if value is None and default is not None and key in self.values:
            raise self.error(f"{key} of {self.cls} '{self.name}' is null, where Keras takes a "
                             f"value (its default: {json.dumps(default)})", key,
                             "write the value, or leave the key out for Keras' default")
        return default if value is None else value

    def error(self, message: str, key: str | None = None, hint: str | None = None):
        where = f"{self.where}.config.{key}" if key else self.where
        return _err(message, where, hint, self.path)

    def only(self, key: str, allowed, hint: str) -> None:
        """``key`` must be one of ``allowed`` (its Keras default first)."""
        value = self.get(key, allowed[0])
        if value not in allowed:
            raise self.error(f"{key}={json.dumps(value)} of {self.cls} '{self.name}' is not "
                             "supported", key, hint)

    def count(self, key: str, default=None) -> int:
        """A whole number >= 1 (filters, units, groups)."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(f"{key} of {self.cls} '{self.name}' must be a whole number >= 1, "
                             f"not {json.dumps(value)}", key, None)
        return value

    def number(self, key: str, default=None) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            raise self.error(f"{key} of {self.cls} '{self.name}' must be a number, not "
                             f"{json.dumps(value)}", key, None)
        return float32_shortest(float(value))

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"{key} of {self.cls} '{self.name}' must be true or false, not "
                             f"{json.dumps(value)}", key, None)
        return value

    def unused(self) -> list[str]:
        return [k for k, v in self.values.items()
                if k not in self.used and k not in NEUTRAL_KEYS and v is not None]


@record
class Tensor:
    layer: str  # the cnnspec layer that makes it
    flat: bool
    # (top, bottom, left, right) zeros a ZeroPadding2D adds around it, for the conv or pool
    # that reads it to add (cnnspec pads inside the layer that reads the padding)
    pads: tuple[int, int, int, int] | None = None


@record
class Model:
    path: str | None
    names: Names = field(default_factory=Names)
    tensors: dict[str, Tensor] = field(default_factory=dict)  # Keras layer -> its output
    lines: list[LayerLine] = field(default_factory=list)
    input_shape: tuple[int, int, int] | None = None
    last: str = "input"
    notes: list[LayerNote] = field(default_factory=list)  # the header's, of layers
    preprocess: Setting | None = None  # a Rescaling of the input: the train block's
    augment: list[str] = field(default_factory=list)  # the train block's, from the front layers
    raw_inputs: list[str] = field(default_factory=list)  # the Keras names of the input
    input_readers: list[str] = field(default_factory=list)  # the layers reading it

    def add(self, line: LayerLine, inputs: list[str], keras_name: str, flat: bool,
            merge: bool = False) -> None:
        sources = [self.tensors[i].layer for i in inputs]
        if merge or sources != [self.last]:
            line.inputs = sources
        self.lines.append(line)
        made = line.output
        self.names.reserve(made)
        self.tensors[keras_name] = Tensor(made, flat)
        self.last = made


# ---------------------------------------------------------------------------- initializers


# Keras' distribution names; "normal" is Keras 2's old spelling of the truncated normal.
DISTRIBUTIONS = {"uniform": "uniform", "truncated_normal": "truncated_normal",
                 "normal": "truncated_normal", "untruncated_normal": "normal"}
# Keras' initializers (keras/src/initializers) and the init each becomes: the tables that
# keras_init reads and docs/importing.md's table of initializers is generated from
# (cnnspec/importers/keras_docs.py), beside cnnspec.init.keras.CLASSES (the named variance
# scalings). Constants: the named init of each, and Constant's, named where its value has one.
CONSTANT_INITIALIZERS = {"Zeros": "zeros", "Ones": "ones"}
CONSTANT = "Constant"
NAMED_VALUES = {0.0: "zeros"}
# Initializers drawing a fixed distribution: the init of the same, and its arguments, each
# read from Keras' config key with Keras' default: {argument: (Keras' key, default)}.
PLAIN_INITIALIZERS = {
    "RandomNormal": ("normal", {"mean": ("mean", 0.0), "std": ("stddev", KERAS_SCALE)}),
    "RandomUniform": ("uniform", {"low": ("minval", -KERAS_SCALE),
                                  "high": ("maxval", KERAS_SCALE)}),
    "TruncatedNormal": ("truncated_normal", {"mean": ("mean", 0.0),
                                             "std": ("stddev", KERAS_SCALE)}),
}
VARIANCE_SCALING = "VarianceScaling"
# Initializers of a kernel only, with a gain: the init of the same, and the gains it takes
# (None: any).
KERNEL_INITIALIZERS = {"Orthogonal": ("orthogonal", None), "Identity": ("identity", (1.0,))}
INITIALIZERS = (*CONSTANT_INITIALIZERS, CONSTANT, *PLAIN_INITIALIZERS, VARIANCE_SCALING,
                *CLASSES, *KERNEL_INITIALIZERS)
_BY_KEY = {folded(name): name for name in INITIALIZERS}


def keras_init(obj, role: str, units: int, where: str, path: str | None,
               rescaled=lambda mode: 1.0) -> dict:
    """The cnnspec init drawing what Keras initializer ``obj`` draws for a layer's ``role``
    (``weight`` or ``bias``) with ``units`` outputs. ``rescaled(mode)``: the factor on a
    variance scaling's scale that makes cnnspec's fan for ``mode`` give Keras' variance,
    where Keras takes a weight's fans otherwise (a depthwise kernel's)."""
    name, config = keras_name(obj)

    def number(key: str, default: float) -> float:
        value = config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            raise _err(f"{key} of the initializer must be a number, not {json.dumps(value)}",
                       f"{where}.config.{key}", None, path)
        return float(value)

    cls = _BY_KEY.get(name)
    if cls in CONSTANT_INITIALIZERS:
        return {"name": CONSTANT_INITIALIZERS[cls]}
    if cls == CONSTANT:
        value = number("value", 0.0)
        named = NAMED_VALUES.get(value)
        return {"name": named} if named else {"name": "constant", "value": value}
    if cls in PLAIN_INITIALIZERS:
        init, args = PLAIN_INITIALIZERS[cls]
        return {"name": init, **{arg: number(key, default)
                                 for arg, (key, default) in args.items()}}
    if name in SCALED or cls == VARIANCE_SCALING:
        scale, mode, distribution = SCALED.get(name) or (
            number("scale", 1.0), config.get("mode", "fan_in"),
            DISTRIBUTIONS.get(str(config.get("distribution", "truncated_normal"))))
        if mode not in ("fan_in", "fan_out", "fan_avg") or distribution is None:
            raise _err(f"VarianceScaling with mode {config.get('mode')!r} and distribution "
                       f"{config.get('distribution')!r} is not Keras'", where,
                       "mode: fan_in, fan_out, fan_avg; distribution: truncated_normal, "
                       "untruncated_normal, uniform", path)
        _fans_from_shape(config, where, path)
        if role == "bias":  # Keras' fans of a (units,) bias are both units
            return per_bias(units, scale, distribution)
        return scaled_init(scale * rescaled(mode), mode, distribution)
    if cls in KERNEL_INITIALIZERS and role == "weight":
        init, gains = KERNEL_INITIALIZERS[cls]
        gain = number("gain", 1.0)
        if gains is None:
            return {"name": init, "gain": {"value": gain}}
        if gain in gains:
            return {"name": init}
    shown = json_quoted(obj)
    raise _err(f"the Keras initializer {shown} is not supported for a {role}", where,
               "Keras initializers cnnspec imports: " + ", ".join(INITIALIZERS), path)


# VarianceScaling's arguments (Keras 3.15) that name the axes its fans multiply, in place
# of the rule for a kernel's shape that cnnspec's fans follow.
FAN_AXES = ("input_axes", "output_axes")


def _fans_from_shape(config: dict, where: str, path: str | None) -> None:
    """A variance scaling whose fans Keras takes from other axes than the shape's rule
    (``input_axes``, ``output_axes`` set) draws with other numbers: refused at the key."""
    for key in FAN_AXES:
        if config.get(key) is not None:
            raise _err(f"the initializer's {key}={json_quoted(config[key])} is not supported",
                       f"{where}.config.{key}", "cnnspec takes a kernel's fans from its shape "
                       "as Keras does without input_axes and output_axes (fan_in = kh*kw*in, "
                       "fan_out = kh*kw*out): remove them, or write the distribution with "
                       "the numbers they give (e.g. uniform(low=-0.1, high=0.1)) in the "
                       "imported spec", path)


def _truncation_comment(cfg: Config, key: str = "kernel_initializer") -> str | None:
    """A comment for a layer whose Keras kernel initializer is a truncated normal under a
    name cnnspec gives a plain normal (:func:`cnnspec.init.keras.truncation_note`)."""
    return truncation_note(keras_name(cfg.get(key, "glorot_uniform"))[0])


def _inits(cfg: Config, units: int, has_bias: bool, key: str = "kernel_initializer",
           rescaled=lambda mode: 1.0) -> dict:
    fields = {WEIGHT_INIT_KEY: keras_init(cfg.get(key, "glorot_uniform"), "weight", units,
                                        f"{cfg.where}.config.{key}", cfg.path, rescaled)}
    if not has_bias:
        cfg.get("bias_initializer")  # Keras reads it only with use_bias
    else:
        fields[BIAS_INIT_KEY] = keras_init(cfg.get("bias_initializer", "zeros"), "bias", units,
                                         f"{cfg.where}.config.bias_initializer", cfg.path)
    return fields


# ---------------------------------------------------------------------------- layers


def _pair(cfg: Config, key: str, default) -> list[int]:
    value = cfg.get(key, default)
    values = value if isinstance(value, list) else [value, value]
    if len(values) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                   for v in values):
        raise cfg.error(f"{key} of {cfg.cls} '{cfg.name}' must be one or two whole numbers "
                        f"above 0, not {json.dumps(value)}", key, "e.g. [3, 3]")
    return values


def _channels_last(cfg: Config) -> None:
    cfg.only("data_format", ["channels_last"],
             "cnnspec reads Keras' default layout, channels_last (N, H, W, C), and writes it "
             "as its own (N, C, H, W); save the model with channels_last layers")


def _activation(cfg: Config, key: str = "activation") -> tuple[str, dict] | None:
    value = cfg.get(key, "linear")
    if isinstance(value, dict):  # {"class_name": "function", "config": "relu"}
        value = value.get("config") if isinstance(value.get("config"), str) else \
            value.get("class_name")
    name = str(value)
    if name == "linear":
        return None
    if name not in ACTIVATIONS:
        raise cfg.error(f"the activation {json.dumps(value)} of {cfg.cls} '{cfg.name}' is not "
                        "supported", key, "activations cnnspec imports: linear, "
                        + ", ".join(ACTIVATIONS))
    return ACTIVATIONS[name]


def _padding(cfg: Config) -> str:
    value = cfg.get("padding", "valid")
    if value not in ("valid", "same"):
        raise cfg.error(f"padding {json.dumps(value)} of {cfg.cls} '{cfg.name}' is not "
                        "supported", "padding", "Keras' 2-D layers pad valid or same")
    return value


def _padding_read(model: Model, cfg: Config, inputs: list[str]) -> str | list[int]:
    """The layer's padding with the zeros of a ZeroPadding2D before it: ``[top, bottom,
    left, right]`` added to a valid one (Keras' applications pad so, then read valid)."""
    padding = _padding(cfg)
    pads = model.tensors[inputs[0]].pads
    if pads is None:
        return padding
    if padding != "valid":
        raise cfg.error(f"{cfg.cls} '{cfg.name}' pads same after a ZeroPadding2D", "padding",
                        "cnnspec adds a ZeroPadding2D's zeros to a valid layer's padding: "
                        "write the padding of both in one ZeroPadding2D and pad valid")
    return list(pads)


def _pool_padding(model: Model, cfg: Config, inputs: list[str]) -> str | list[int]:
    """A pool's padding (:func:`_padding_read`). A max pool pads with values it never takes,
    a ZeroPadding2D with zeros: the same maxima where its input is never below 0 (after a
    relu), which the maker of the input (its kind's registry entry) must say."""
    padding = _padding_read(model, cfg, inputs)
    if isinstance(padding, list) and cfg.cls in MAX_POOLS:
        maker = _maker(model, model.tensors[inputs[0]].layer)
        if maker is None or not _never_negative(*maker):
            raise cfg.error(f"{cfg.cls} '{cfg.name}' takes the maximum over a ZeroPadding2D's "
                            "zeros, where its input may be below 0", None,
                            "cnnspec's max pool never takes its padding; a max over zeros "
                            "differs where every value of a window is below 0: put the "
                            "ZeroPadding2D and the pool after a relu")
    return padding


def _spatial(model: Model, cfg: Config, inputs: list[str]) -> None:
    if model.tensors[inputs[0]].flat:
        raise cfg.error(f"{cfg.cls} '{cfg.name}' takes an image, (H, W, C), but its input "
                        "is flat", None, "put it before the Flatten")


def read_conv2d(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    _channels_last(cfg)
    _spatial(model, cfg, inputs)
    filters = cfg.count("filters")
    has_bias = cfg.flag("use_bias", True)
    fields = {"filters": filters, "kernel": _pair(cfg, "kernel_size", None),
              "stride": _pair(cfg, "strides", 1), "padding": _padding_read(model, cfg, inputs),
              "dilation": _pair(cfg, "dilation_rate", 1), "groups": cfg.count("groups", 1),
              "bias": has_bias, **_inits(cfg, filters, has_bias)}
    return LayerLine(cfg.name, "conv", fields, activation=_activation(cfg),
                     comment=_truncation_comment(cfg))


def read_depthwise(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    """Keras' DepthwiseConv2D: a conv of C·M filters in C groups (C the input's channels,
    read from the layer's ``build_config``; M the ``depth_multiplier``). Keras takes the fans
    of its (kh, kw, C, M) kernel as kh·kw·C and kh·kw·M, cnnspec (as PyTorch) those of a
    (C·M, 1, kh, kw) weight, kh·kw and kh·kw·C·M: a variance scaling's scale is rescaled so
    that it draws Keras' variance (:func:`depthwise_rescaled`)."""
    _channels_last(cfg)
    _spatial(model, cfg, inputs)
    return _depthwise_line(model, cfg, inputs, cfg.name, cfg.flag("use_bias", True),
                           _activation(cfg))


def _depthwise_line(model: Model, cfg: Config, inputs: list[str], name: str, has_bias: bool,
                    activation) -> LayerLine:
    """The grouped conv of a depthwise kernel (:func:`read_depthwise`), named ``name``."""
    # Keras 2 writes its Conv base's groups, 1, in a depthwise layer's config
    cfg.only("groups", [1], "Keras' depthwise convolution groups its input by channel")
    channels = _input_channels(model, cfg, inputs)
    multiplier = cfg.count("depth_multiplier", 1)
    filters = channels * multiplier
    key = "depthwise_initializer"
    fields = {"filters": filters, "kernel": _pair(cfg, "kernel_size", None),
              "stride": _pair(cfg, "strides", 1), "padding": _padding_read(model, cfg, inputs),
              "dilation": _pair(cfg, "dilation_rate", 1), "groups": channels,
              "bias": has_bias, **_inits(cfg, filters, has_bias, key,
                                         depthwise_rescaled(channels, multiplier))}
    comments = [_truncation_comment(cfg, key)]
    if fields[WEIGHT_INIT_KEY] != _inits(cfg, filters, False, key)[WEIGHT_INIT_KEY]:
        comments.append(f"scaled to Keras' fans of its kernel, kh*kw*C and kh*kw*M (C = "
                        f"{channels}, M = {multiplier})")
    return LayerLine(name, "conv", fields, activation=activation,
                     comment="; ".join(c for c in comments if c) or None)


def read_separable(model: Model, cfg: Config, inputs: list[str]) -> list[LayerLine]:
    """Keras' SeparableConv2D: its depthwise kernel (no bias), as :func:`read_depthwise`
    reads one, on a line of its own (``<name>_depthwise``), then its pointwise 1x1 conv
    with the layer's bias and activation. The pointwise kernel's fans, C·M in and F out,
    are the 1x1 conv's."""
    _channels_last(cfg)
    _spatial(model, cfg, inputs)
    depthwise = _depthwise_line(model, cfg, inputs, f"{cfg.name}_depthwise", False, None)
    filters = cfg.count("filters")
    has_bias = cfg.flag("use_bias", True)
    fields = {"filters": filters, "kernel": [1, 1], "bias": has_bias,
              **_inits(cfg, filters, has_bias, "pointwise_initializer")}
    return [depthwise, LayerLine(cfg.name, "conv", fields, activation=_activation(cfg),
                                 comment=_truncation_comment(cfg, "pointwise_initializer"))]


def depthwise_rescaled(channels: int, multiplier: int):
    """The factor per fan mode that turns Keras' scale on a depthwise kernel into cnnspec's:
    Keras' variance scale / n_keras equals scale' / n here for fan_in (kh·kw·C against
    kh·kw), fan_out (kh·kw·M against kh·kw·C·M) and fan_avg (their means)."""
    ratios = {"fan_in": 1 / channels, "fan_out": channels,
              "fan_avg": (1 + channels * multiplier) / (channels + multiplier)}
    return ratios.__getitem__


def _input_channels(model: Model, cfg: Config, inputs: list[str]) -> int:
    """The channels of the layer's input: from the ``build_config`` Keras 3 writes, else
    (Keras 2's ``tf.keras`` writes none) from the shape cnnspec's shape inference gives the
    layers read before it (:func:`~cnnspec.importers.spec_writer.shape_made`), as Keras'
    ``build()`` takes them from the tensor it is called on."""
    shape = cfg.built.get("input_shape") if isinstance(cfg.built, dict) else None
    if isinstance(shape, list) and len(shape) == 4 and isinstance(shape[-1], int) \
            and not isinstance(shape[-1], bool) and shape[-1] > 0:
        return shape[-1]
    try:
        return shape_made(model.input_shape, model.lines, model.tensors[inputs[0]].layer)[0]
    except (SpecError, SpecErrors) as exc:
        first = exc.errors[0] if isinstance(exc, SpecErrors) else exc
        raise cfg.error(f"{cfg.cls} '{cfg.name}' does not say its input's channels, and the "
                        f"layers before it do not give them: {first.message}", None,
                        "cnnspec reads them from the layer's build_config (Keras 3's "
                        "model.to_json() of a built model), else from the shapes of the "
                        "layers before it: mend those layers, or save the model with "
                        "Keras 3") from None


def read_conv_transpose(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    """Keras' Conv2DTranspose, whose (kh, kw, filters, in) kernel has the fans of the kind's
    (in, filters, kh, kw) weight. Keras sizes the output ``in·stride`` with padding same and
    ``in·stride + max(k − stride, 0)`` with valid (``deconv_output_length``, k the dilated
    kernel): the kind's size ``(in − 1)·stride + k`` but where k is below the stride, whose
    rows after the taps (bias alone) are the kind's ``output_pad``."""
    _channels_last(cfg)
    _spatial(model, cfg, inputs)
    cfg.only("output_padding", [None], "cnnspec sizes a transposed convolution's output from "
             "its padding, as Keras does without output_padding: remove it, or write "
             "`output_pad Q` on the imported spec's conv_transpose line")
    filters = cfg.count("filters")
    has_bias = cfg.flag("use_bias", True)
    kernel, stride = _pair(cfg, "kernel_size", None), _pair(cfg, "strides", 1)
    dilation, padding = _pair(cfg, "dilation_rate", 1), _padding(cfg)
    reach = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    fields = {"filters": filters, "kernel": kernel, "stride": stride, "padding": padding,
              "dilation": dilation, "bias": has_bias, **_inits(cfg, filters, has_bias)}
    if padding == "valid" and any(r < s for r, s in zip(reach, stride)):
        fields["output_pad"] = [max(s - r, 0) for r, s in zip(reach, stride)]
    return LayerLine(cfg.name, "conv_transpose", fields, activation=_activation(cfg),
                     comment=_truncation_comment(cfg))


def read_dense(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    if not model.tensors[inputs[0]].flat:
        raise cfg.error(f"Dense '{cfg.name}' on an image acts on each pixel's channels; "
                        "cnnspec's dense takes a flat input", None,
                        "put a Flatten or a GlobalAveragePooling2D before it, or use a 1x1 "
                        "Conv2D")
    units = cfg.count("units")
    has_bias = cfg.flag("use_bias", True)
    fields = {"units": units, "bias": has_bias, **_inits(cfg, units, has_bias)}
    return LayerLine(cfg.name, "dense", fields, activation=_activation(cfg),
                     comment=_truncation_comment(cfg))


def read_pool(kind: str):
    def read(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
        _channels_last(cfg)
        _spatial(model, cfg, inputs)
        size = _pair(cfg, "pool_size", 2)
        fields = {"size": size, "stride": _pair(cfg, "strides", size),
                  "padding": _pool_padding(model, cfg, inputs)}
        if kind == "avgpool" and fields["padding"] == "same":
            fields["count_include_pad"] = False  # Keras averages the pixels inside only
        return LayerLine(cfg.name, kind, fields)

    return read


def read_global(kind: str):
    def read(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
        _channels_last(cfg)
        _spatial(model, cfg, inputs)
        cfg.only("keepdims", [False], "cnnspec's global pooling gives a flat (C,) vector")
        return LayerLine(cfg.name, kind)

    return read


def read_flatten(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    _channels_last(cfg)
    return LayerLine(cfg.name, "flatten")


def read_dropout(kind: str):
    def read(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
        if kind == "dropout2d":
            _channels_last(cfg)
        if cfg.get("noise_shape") is not None:
            raise cfg.error(f"the noise_shape of Dropout '{cfg.name}' is not supported",
                            "noise_shape", "SpatialDropout2D drops whole channels")
        return LayerLine(cfg.name, kind, {"p": cfg.number("rate")})

    return read


# BatchNormalization's settings of batch renormalization (Ioffe 2017), read only with renorm.
RENORM_SETTINGS = ("renorm_clipping", "renorm_momentum")


def read_batchnorm(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    axis = cfg.get("axis", -1)
    channel_axes = (-1, 1) if model.tensors[inputs[0]].flat else (-1, 3)
    if (axis[0] if isinstance(axis, list) and len(axis) == 1 else axis) not in channel_axes:
        raise cfg.error(f"BatchNormalization '{cfg.name}' normalises axis {json.dumps(axis)}, "
                        "not the channels", "axis", "cnnspec's batchnorm normalises each "
                        "channel: axis -1 in channels_last")
    center, scale = cfg.flag("center", True), cfg.flag("scale", True)
    if center != scale:
        raise cfg.error(f"BatchNormalization '{cfg.name}' learns only a "
                        f"{'shift' if center else 'scale'}", "center" if not center else
                        "scale", "cnnspec's batchnorm learns both (frozen: neither); set "
                        "center and scale alike")
    for key, start in (("gamma_initializer", "ones"), ("beta_initializer", "zeros"),
                       ("moving_mean_initializer", "zeros"),
                       ("moving_variance_initializer", "ones")):
        init = keras_init(cfg.get(key, start), "bias", 1, f"{cfg.where}.config.{key}", cfg.path)
        if init != {"name": start}:
            raise cfg.error(f"the {key} of BatchNormalization '{cfg.name}' is not supported",
                            key, f"cnnspec's batchnorm starts from {start}")
    for key in ("renorm", "synchronized", "fused"):
        cfg.only(key, [False, None], "cnnspec's batchnorm is the plain one")
    for key in RENORM_SETTINGS:  # Keras 3 writes them beside renorm false, where they do nothing
        cfg.get(key)
    fields = {"eps": cfg.number("epsilon", 1e-3),
              # Keras' momentum keeps that much of the average; the language's takes of the batch
              "momentum": momentum_kept(cfg.number("momentum", 0.99)),
              "trainable": center}
    return LayerLine(cfg.name, "batchnorm", fields)


def read_activation(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    chosen = _activation(cfg)
    if chosen is None:
        raise cfg.error(f"Activation '{cfg.name}' is linear: it does nothing", "activation",
                        "remove the layer")
    return LayerLine(cfg.name, chosen[0], dict(chosen[1]))


def read_relu(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    cfg.only("threshold", [0, 0.0], "cnnspec's relu has no threshold")
    slope = cfg.number("negative_slope", 0.0)
    top = cfg.number("max_value") if cfg.values.get("max_value") is not None else None
    kind = keras_kind("relu", {"max_value": top, "negative_slope": slope})
    if kind is None:
        raise cfg.error(f"ReLU '{cfg.name}' with max_value {top} is not supported",
                        "max_value", KERAS_CHOSEN["relu"][1])
    return LayerLine(cfg.name, kind, {"slope": slope} if kind == "leaky_relu" else {})


def read_leaky_relu(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    # Keras 2 calls the slope alpha, Keras 3 negative_slope
    key = "negative_slope" if "negative_slope" in cfg.values else "alpha"
    return LayerLine(cfg.name, "leaky_relu", {"slope": cfg.number(key, KERAS_LEAKY_SLOPE)})


def read_elu(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    return LayerLine(cfg.name, "elu", {"alpha": cfg.number("alpha", 1.0)})


def read_softmax(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    flat = model.tensors[inputs[0]].flat
    axis = cfg.get("axis", -1)
    if axis not in ((-1, 1) if flat else (-1, 3)):
        raise cfg.error(f"Softmax '{cfg.name}' over axis {axis} is not over the channels",
                        "axis", "cnnspec's softmax is over the channels (axis -1)")
    return LayerLine(cfg.name, "softmax")


def read_merge(kind: str):
    def read(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
        if len(inputs) < 2:
            raise cfg.error(f"{cfg.cls} '{cfg.name}' needs two or more inputs", None,
                            "a merge layer joins the outputs of several layers")
        if kind == "concat":
            axis = cfg.get("axis", -1)
            flat = model.tensors[inputs[0]].flat
            if axis not in ((-1, 1) if flat else (-1, 3)):
                raise cfg.error(f"Concatenate '{cfg.name}' along axis {axis} is not along "
                                "the channels", "axis", "cnnspec's concat joins channels "
                                "(axis -1 in channels_last)")
        return LayerLine(cfg.name, kind)

    return read


def _zero_padding(cfg: Config) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of a ZeroPadding2D's ``padding``: one number, one per axis
    ``[h, w]`` or one per side ``[[top, bottom], [left, right]]``."""
    value = cfg.get("padding", 1)
    rows = [[value, value], [value, value]] if isinstance(value, int) else \
        [v if isinstance(v, list) else [v, v] for v in value] if isinstance(value, list) \
        else None
    sides = [n for row in rows for n in row] if rows and len(rows) == 2 and \
        all(len(row) == 2 for row in rows) else []
    if len(sides) != 4 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                  for n in sides):
        raise cfg.error(f"padding of ZeroPadding2D '{cfg.name}' must be a whole number, "
                        f"[h, w] or [[top, bottom], [left, right]], not {json.dumps(value)}",
                        "padding", "e.g. [[3, 3], [3, 3]]")
    return tuple(sides)


def read_zero_padding(model: Model, cfg: Config, inputs: list[str]) -> None:
    """A ZeroPadding2D writes no line: its zeros go to the conv or pool that reads it."""
    _channels_last(cfg)
    _spatial(model, cfg, inputs)
    cfg.flag("trainable", True)  # it has no weights to hold
    source = model.tensors[inputs[0]]
    pads = _zero_padding(cfg)
    if source.pads:
        pads = tuple(a + b for a, b in zip(source.pads, pads))
    model.tensors[cfg.name] = Tensor(source.layer, False, pads)
    model.notes.append(LayerNote(cfg.name, f"({ZERO_PADDING}) written as the `pad` of the "
                                 "conv or pool that reads each"))


def read_rescaling(model: Model, cfg: Config, inputs: list[str]) -> None:
    """A Rescaling of the model's input by ``scale`` without an offset writes no line: it is
    Keras' pixels scaled into [0, 1] (Rescaling(1/255)), which cnnspec's loading gives, so
    the train block's ``preprocess none`` (as the Caffe importer reads a Data layer's
    ``scale``). Anywhere else, or with an offset, it is refused with the preprocessing that
    does its work."""
    source = model.tensors[inputs[0]]
    scale, offset = cfg.number("scale"), cfg.number("offset", 0.0)
    if source.layer != "input" or source.pads or offset != 0 or model.preprocess \
            or not _into_unit_range(scale):
        raise cfg.error(f"Rescaling '{cfg.name}' (scale {exact_number_text(scale)}, offset "
                        f"{exact_number_text(offset)}) is not a scaling of the model's input "
                        "into [0, 1]", None, RESCALING_HINT)
    cfg.flag("trainable", True)  # it has no weights to hold
    model.tensors[cfg.name] = source
    model.preprocess = Setting("preprocess", "none", f"Keras' Rescaling({_fraction(scale)}) of "
                               "the pixels; cnnspec loads them in [0, 1]")


# How far a Rescaling's scale may be from 1/255 and still be read as 8-bit pixels into [0, 1]
# (1/256, which some write for it, is 0.4% off; 1/127.5 maps them into [0, 2]).
PIXEL_SCALE_TOLERANCE = 0.01


def _into_unit_range(scale: float) -> bool:
    """Whether a Rescaling by ``scale`` takes 8-bit pixels into [0, 1], as cnnspec loads
    images (within :data:`PIXEL_SCALE_TOLERANCE`): Rescaling(2.0) would train the network on
    values 510 times those."""
    return abs(scale * 255 - 1) <= PIXEL_SCALE_TOLERANCE


def read_normalization(model: Model, cfg: Config, inputs: list[str]) -> None:
    """A Normalization of the model's input per channel (axis -1), adapted to the data (no
    fixed mean or variance in its config) writes no line: it is the train block's
    ``preprocess standardize``, which fits each channel's mean and std on the training split
    as ``adapt()`` does on the data given it (a Rescaling before it changes nothing:
    standardizing undoes a scale). Anything else is refused with what does its work."""
    source = model.tensors[inputs[0]]
    # axis null is Keras' one mean and variance over every value, not the default axis -1:
    # read as written (get() gives the default for a null)
    cfg.used.add("axis")
    axis = cfg.values.get("axis", -1)
    fixed = [key for key in ("mean", "variance") if cfg.get(key) is not None]
    per_channel = axis in (-1, [-1], 3, [3]) or (axis is None and model.input_shape[0] == 1)
    if source.layer != "input" or source.pads or not per_channel or fixed or \
            cfg.get("invert", False) is not False:
        raise cfg.error(f"Normalization '{cfg.name}' is not one adapted to the channels of "
                        "the model's input", fixed[0] if fixed else None, NORMALIZATION_HINT)
    cfg.flag("trainable", True)  # its statistics are not trained
    model.tensors[cfg.name] = source
    model.preprocess = Setting("preprocess", "standardize", "Keras' Normalization adapted to "
                               "the data: each channel's mean and std of the training split")


def _front_layer(model: Model, cfg: Config, inputs: list[str]) -> Tensor:
    """The tensor an augmentation layer reads, which must be the model's input (through a
    Rescaling, a Normalization or other augmentation layers: none of them moves a pixel
    another does not): cnnspec augments the images before the network."""
    _channels_last(cfg)
    source = model.tensors[inputs[0]]
    if source.layer != "input" or source.pads:
        raise cfg.error(f"{cfg.cls} '{cfg.name}' is not at the model's input", None,
                        "cnnspec augments the images before the network (the train block's "
                        "augment): put the layer at the front of the model, or remove it")
    cfg.flag("trainable", True)  # it has no weights to hold
    return source


def read_random_flip(model: Model, cfg: Config, inputs: list[str]) -> None:
    """Keras' RandomFlip("horizontal") mirrors each training image left to right with
    probability 0.5 and passes it at inference: the train block's ``augment flip``, whose p
    is 0.5. A flip upside down has no transform here: refused."""
    source = _front_layer(model, cfg, inputs)
    mode = cfg.get("mode", "horizontal_and_vertical")  # Keras' default
    if mode != "horizontal":
        raise cfg.error(f"RandomFlip '{cfg.name}' flips {json.dumps(mode)}, and cnnspec "
                        "mirrors left to right only", "mode",
                        f"{AUGMENTATION_HINT}; the train block's `augment flip` is "
                        "RandomFlip(\"horizontal\")")
    model.tensors[cfg.name] = source
    model.augment.append("flip")
    model.notes.append(LayerNote(cfg.name, "(RandomFlip \"horizontal\") written as the train "
                                 "block's `augment flip`"))


def read_random_rotation(model: Model, cfg: Config, inputs: list[str]) -> None:
    """Keras' RandomRotation turns each training image by an angle drawn uniformly from
    ``factor`` turns (a fraction of 2 pi: ``f`` for [-f, f], or a pair (lower, upper)) and
    passes it at inference; the train block's ``augment rotate(degrees)`` draws from
    [-degrees, degrees] (at most 180), interpolates bilinear and fills the corners black:
    Keras' layer with a range symmetric about 0, ``fill_mode="constant"`` with fill_value 0
    on the images as loaded (not after a Normalization) and bilinear interpolation. Any other
    is refused at its key, with the reason."""
    source = _front_layer(model, cfg, inputs)
    turns = _symmetric_turns(cfg)
    cfg.only("interpolation", ["bilinear"],
             f"cnnspec's `augment rotate` interpolates bilinear; {AUGMENTATION_HINT}")
    fill_mode = cfg.get("fill_mode", "reflect")  # Keras' default
    black = "cnnspec's `augment rotate` fills the corners black: Keras' fill_mode=\"constant\" " \
        f"with fill_value 0; {AUGMENTATION_HINT}"
    if fill_mode != "constant":
        raise cfg.error(f"RandomRotation '{cfg.name}' fills the corners by fill_mode="
                        f"{json.dumps(fill_mode)}", "fill_mode", black)
    if cfg.number("fill_value", 0.0) != 0 or model.preprocess is not None and \
            model.preprocess.value == "standardize":  # a Normalization's 0 is the mean colour
        raise cfg.error(f"RandomRotation '{cfg.name}' fills the corners with another colour "
                        "than black", "fill_value", black)
    cfg.get("seed")  # a draw of its own, as the train block's seed gives one
    degrees = exact_number_text(360 * turns)
    model.tensors[cfg.name] = source
    model.augment.append(f"rotate(degrees={degrees})")
    model.notes.append(LayerNote(cfg.name, "(RandomRotation) written as the train block's "
                                 f"`augment rotate(degrees={degrees})`"))


def _symmetric_turns(cfg: Config) -> float:
    """The ``f`` of a RandomRotation's ``factor`` of [-f, f] turns (one number ``f``, or the
    pair (-f, f)), refused where it is no number, not symmetric about 0, 0, or past half a
    turn (rotate's degrees are in (0, 180])."""
    factor = cfg.get("factor")
    pair = None
    if isinstance(factor, list):
        pair = factor
    elif _largest(factor) is not None:
        pair = [-factor, factor]
    if pair is None or len(pair) != 2 or _largest(pair) is None:
        raise cfg.error(f"factor of RandomRotation '{cfg.name}' must be a number or a pair of "
                        f"numbers, not {json_quoted(factor)}", "factor",
                        "write the largest turn either way as a fraction of a full turn, "
                        "e.g. 0.1 for 36 degrees")
    lower, upper = pair
    if lower != -upper or not 0 < upper <= 0.5:
        raise cfg.error(f"RandomRotation '{cfg.name}' turns by {exact_number_text(lower)} to "
                        f"{exact_number_text(upper)} of a full turn", "factor",
                        "cnnspec's `augment rotate(degrees)` turns by up to degrees either way, "
                        "0 to 180: a factor f from 0 to 0.5, or (-f, f), is rotate(degrees=360 "
                        f"f); {AUGMENTATION_HINT}")
    return upper


def read_augmentation(model: Model, cfg: Config, inputs: list[str]) -> None:
    """A random augmentation layer the train block's ``augment`` does not reproduce: refused
    at the layer, with the transform that comes nearest where there is one. Keras applies it
    in training only, so the network is the same without it."""
    _front_layer(model, cfg, inputs)
    nearest = _nearest_transform(model, cfg)
    if nearest:
        transform, unlike = nearest
        instead = f"; the train block's nearest: `augment {transform}`, which {unlike}"
    else:
        instead = "; the train block's augment offers " + listed(TRANSFORMS, "and")
    raise cfg.error(f"{cfg.cls} '{cfg.name}' is not supported: cnnspec's augment has no "
                    "transform that draws as it does", None, AUGMENTATION_HINT + instead)


def _nearest_transform(model: Model, cfg: Config) -> tuple[str, str] | None:
    """The train block's transform that comes nearest to the augmentation layer ``cfg``, as
    a spec writes it (``shift(pixels=2)``), and what it does that Keras' may not; None
    where none comes near."""
    _, h, w = model.input_shape
    if cfg.cls == "RandomTranslation":  # a fraction of the height and of the width
        factors = [_largest(cfg.values.get(key)) for key in ("height_factor", "width_factor")]
        pixels = max((round(f * n) for f, n in zip(factors, (h, w)) if f is not None),
                     default=0)
        return None if pixels < 1 else (
            f"shift(pixels={pixels})",
            "moves by whole pixels and repeats the edge, as Keras' fill_mode=\"nearest\"")
    return None


def _largest(factor) -> float | None:
    """The largest move either way of a Keras factor: one number, or (lower, upper)."""
    values = factor if isinstance(factor, list) else [factor]
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                             and math.isfinite(v) for v in values):
        return None
    return max(abs(v) for v in values)


def read_sizing(model: Model, cfg: Config, inputs: list[str]) -> None:
    """Keras' Resizing, CenterCrop and RandomCrop make images of ``height`` x ``width``: where
    that is the size of their input (the shape cnnspec infers), they change nothing and are
    left out, said in the header; else refused, since cnnspec's network takes the images as
    the data gives them."""
    _channels_last(cfg)
    source = model.tensors[inputs[0]]
    size = [cfg.get("height"), cfg.get("width")]
    for key in ("trainable", *SIZING_SETTINGS):  # how it sizes: nothing where the size is kept
        cfg.get(key)
    shape = _made_by(model, source)
    shape = shape if shape is not None and len(shape) == 3 else None  # a flat input: no image
    if shape is not None and list(shape[1:]) == size:
        model.tensors[cfg.name] = source
        model.notes.append(LayerNote(cfg.name, f"({cfg.cls}) left out: it keeps the size of "
                                     "its input"))
        return
    made = "x".join(str(n) for n in size)
    given = "x".join(str(n) for n in shape[1:]) if shape else "its input"
    to_data = f"make the images {made} before training, remove the layer and write `input " \
        f"{shape[0]}x{made}`" if shape and source.layer == "input" else \
        "remove the layer, or import the model from the layer after it"
    raise cfg.error(f"{cfg.cls} '{cfg.name}' makes {made} images of {given}", None,
                    f"cnnspec's network takes the images as the data gives them: {to_data}")


def _made_by(model: Model, source: Tensor) -> tuple[int, ...] | None:
    """The shape of ``source`` as cnnspec infers it; None where it has a ZeroPadding2D's
    zeros still to add, or the layers before it do not infer (an error said at them)."""
    if source.pads:
        return None
    try:
        return shape_made(model.input_shape, model.lines, source.layer)
    except (SpecError, SpecErrors):
        return None


def _fraction(scale: float) -> str:
    """``1/255`` for a scale Keras keeps as float32 1/255, else the number."""
    whole = round(1 / scale)
    return f"1/{whole}" if whole > 1 and float32_shortest(1 / whole) == scale else \
        exact_number_text(scale)


def _padding_taken(model: Model, cfg: Config, inputs: list[str], kind: str) -> None:
    """A ZeroPadding2D's output read by a layer that does not pad: refused, its zeros would
    be lost."""
    padded = [i for i in inputs if model.tensors[i].pads]
    if padded and kind not in PADDED_KINDS:
        raise cfg.error(f"{cfg.cls} '{cfg.name}' reads the ZeroPadding2D '{padded[0]}'", None,
                        "cnnspec pads inside the layer that reads the padding, a "
                        + listed(PADDED_KINDS, "or") + " that pads valid: put the "
                        "ZeroPadding2D before one")


# Keras' UpSampling2D interpolations that are the upsample kind's modes: Keras resizes with
# half-pixel centres and the edge pixel repeated (tf.image.resize, jax.image.resize), which
# is PyTorch's align_corners=False and the kind's bilinear.
UPSAMPLING_MODES = ("nearest", "bilinear")


def read_upsample(model: Model, cfg: Config, inputs: list[str]) -> LayerLine:
    _channels_last(cfg)
    _spatial(model, cfg, inputs)
    mode = cfg.get("interpolation", "nearest")
    if mode not in UPSAMPLING_MODES:
        raise cfg.error(f"interpolation {json.dumps(mode)} of UpSampling2D '{cfg.name}' is "
                        "not supported", "interpolation",
                        "cnnspec's upsample interpolates " + " or ".join(UPSAMPLING_MODES))
    return LayerLine(cfg.name, "upsample", {"factor": _pair(cfg, "size", 2), "mode": mode})


# The kinds that join several tensors; every other layer reads one.
MERGES = ("add", "concat")
# How each kind a Keras class is (KERAS_CLASSES, which the language's hints read too) is read;
# Activation reads the kind its argument names.
READERS = {
    "conv": read_conv2d, "conv_transpose": read_conv_transpose, "dense": read_dense,
    "maxpool": read_pool("maxpool"),
    "avgpool": read_pool("avgpool"), "global_avgpool": read_global("global_avgpool"),
    "global_maxpool": read_global("global_maxpool"), "flatten": read_flatten,
    "dropout": read_dropout("dropout"), "dropout2d": read_dropout("dropout2d"),
    "batchnorm": read_batchnorm, None: read_activation, "relu": read_relu,
    "leaky_relu": read_leaky_relu, "elu": read_elu, "softmax": read_softmax,
    **{kind: read_merge(kind) for kind in MERGES}, "upsample": read_upsample,
}
# Keras' depthwise convolution, a grouped conv here whose groups its input's channels give,
# and its separable one, that conv and a 1x1 conv.
DEPTHWISE, SEPARABLE = "DepthwiseConv2D", "SeparableConv2D"
LAYERS = {**{cls: READERS[kind] for cls, kind in KERAS_CLASSES.items()},
          DEPTHWISE: read_depthwise, SEPARABLE: read_separable}
# Keras' layer of zeros around an image, which the conv or pool reading it takes as padding.
ZERO_PADDING = "ZeroPadding2D"
# Keras' scaling of the pixels, which a train block's preprocess is; what another does.
RESCALING = "Rescaling"
RESCALING_HINT = ("cnnspec loads images as values in [0, 1], what Rescaling(1/255) makes of "
                  "8-bit pixels, and the train block's `preprocess` centres and scales them "
                  "(`standardize`, the default; `preprocess none` keeps [0, 1]): remove the "
                  "layer")
# Keras' standardization of the input, which a train block's preprocess is; what another is.
NORMALIZATION = "Normalization"
NORMALIZATION_HINT = ("the train block's `preprocess standardize` (the default) is an "
                      "adapted Normalization: (x - mean) / std per channel, with the "
                      "statistics of the training split: remove the layer")
# A Sequential nested in the model: a block whose layers are written in its place.
SEQUENTIAL = "Sequential"
# Keras' classes of a functional model; one nested in another is not read as a block.
MODELS = ("Functional", "Model")
NESTED_MODEL_HINT = ("cnnspec writes a Sequential block nested in the model as its layers, not "
                     "a functional model: build the block as a keras.Sequential, or call its "
                     "layers on the outer model's tensors")
# Keras' random augmentation of the training images, which a train block's augment does:
# RandomFlip("horizontal") is its flip, a RandomRotation symmetric about 0 that fills black
# its rotate; the others draw as none of its transforms does.
AUGMENTATIONS = ("RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness")
AUGMENTATION_HINT = ("remove the layer from the model before export (Keras applies it to "
                     "training batches only: the network is the same without it)")
# Keras' layers that make images of a given size, left out where it is their input's; how
# each resizes or where it crops, which then does nothing.
SIZINGS = ("Resizing", "CenterCrop", "RandomCrop")
SIZING_SETTINGS = ("interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
                   "fill_mode", "fill_value", "antialias")
# The layers that write no line of their own, and how each is read.
FOLDED = {ZERO_PADDING: read_zero_padding, RESCALING: read_rescaling,
          NORMALIZATION: read_normalization, "RandomFlip": read_random_flip,
          "RandomRotation": read_random_rotation,
          **dict.fromkeys(AUGMENTATIONS, read_augmentation),
          **dict.fromkeys(SIZINGS, read_sizing)}
PADDED_KINDS = ("conv", "maxpool", "avgpool")
MAX_POOLS = tuple(cls for cls, kind in KERAS_CLASSES.items() if kind == "maxpool")
FLAT_MAKERS = ("flatten", "dense", "global_avgpool", "global_maxpool")


# ---------------------------------------------------------------------------- the model


def _history(node) -> list[str]:
    """The Keras layers a node's inputs come from, in order: Keras 3's ``__keras_tensor__``
    objects (``keras_history``), Keras 2's ``[name, node, tensor, kwargs]`` lists."""
    found = []
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            config = node.get("config")
            history = config.get("keras_history") if isinstance(config, dict) else None
            return [history[0]] if isinstance(history, list) and history and \
                isinstance(history[0], str) else []
        for key in ("args", "kwargs"):
            found += _history(node.get(key))
        return found
    if isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            return [node[0]]
        for item in node:
            found += _history(item)
    return found


def _input_shape(shape, where: str, path: str | None) -> tuple[int, int, int]:
    """(C, H, W) of a channels_last batch shape ``[null, H, W, C]``."""
    if not (isinstance(shape, list) and len(shape) == 4 and
            all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape[1:])):
        raise _err(f"the input shape {json.dumps(shape)} is not an image, [null, H, W, C]",
                   where, "cnnspec's networks take images of a fixed size", path)
    return from_channels_last(shape[1:])


def _layers_of(doc: dict, path: str | None) -> tuple[list[dict], str, bool]:
    if isinstance(doc, dict) and {"version", "input", "layers"} <= set(doc):
        named = literal(path or "IR.json")
        raise SpecError("this JSON is a cnnspec IR file, not a Keras model", json_path="$",
                        file=path, **hinted("it needs no import: every command reads it as it "
                                            f"is, e.g. {{check_command:{named}}}"))
    if not is_keras_model(doc):
        raise _err("this JSON is not a Keras model (no class_name and config at the top)", "$",
                   "save the model with model.to_json()", path)
    cls = doc["class_name"]
    if cls not in (SEQUENTIAL, *MODELS):
        raise _err(f"the top of this JSON is a {cls}, not a Keras model", "$.class_name",
                   "save the whole model with model.to_json(), a Sequential or a functional "
                   "Model", path)
    config = doc["config"]
    layers = config if isinstance(config, list) else config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _err("the model has no layers", "$.config.layers", "save a built model", path)
    return layers, ("$.config" if isinstance(config, list) else "$.config.layers"), \
        cls == SEQUENTIAL


def _first_shape(doc: dict, layers: list[dict]) -> list | None:
    """The model's input as a batch shape ``[null, H, W, C]``: its InputLayer's, else the
    first layer's (a Keras 2 Sequential without an InputLayer: ``Conv2D(...,
    input_shape=(32, 32, 3))`` saves ``batch_input_shape``, or ``input_shape`` written without
    the batch), else the model's own; None where none says it."""
    config = doc["config"] if isinstance(doc["config"], dict) else {}
    first = layers[0].get("config") if isinstance(layers[0], dict) else None
    for source in (first, config):
        if not isinstance(source, dict):
            continue
        for key in ("batch_input_shape", "batch_shape", "build_input_shape"):
            if source.get(key) is not None:
                return source[key]
        if isinstance(source.get("input_shape"), list):
            return [None, *source["input_shape"]]
    return None


def read_model(doc, path: str | None) -> tuple[Model, str]:
    """Every layer of a Keras model read into spec lines; every unsupported layer or argument
    reported together (:class:`SpecErrors`). Returns the model and its output layer."""
    doc = _plain(doc)
    layers, where, sequential = _layers_of(doc, path)
    model = Model(path)
    shape = _first_shape(doc, layers)
    if shape is None:
        raise _err("the model does not say its input shape", where + "[0]",
                   "build the model on an input first: keras.Input(shape=(28, 28, 1)), or "
                   "give its first layer input_shape=(28, 28, 1)", path)
    model.input_shape = _input_shape(shape, where + "[0]", path)
    errors: list[SpecError] = []
    output = _read_layers(model, layers, where, sequential, None, errors)
    if isinstance(doc.get("config"), dict) and _model_frozen(doc, path):
        for line in model.lines:
            _freeze(line)
    if not sequential and isinstance(doc["config"], dict):
        output = _single(doc["config"], "output_layers", path) or output
        _single(doc["config"], "input_layers", path)
    if not errors and output not in model.tensors:
        errors.append(_err(f"the output layer {output!r} is not a layer of the model",
                           "$.config.output_layers", "save the model with model.to_json()",
                           path))
    if not errors and model.tensors[output].pads:
        errors.append(_err(f"the model's output is the ZeroPadding2D {output!r}",
                           "$.config.output_layers", "cnnspec pads inside the layer that "
                           "reads the padding: end the model with a layer after it", path))
    if errors:
        raise SpecErrors(errors)
    return model, model.tensors[output].layer


def _model_frozen(doc: dict, path: str | None) -> bool:
    """Whether the model's own trainable is false (``model.trainable = False``): Keras then
    trains none of its layers, as it does a frozen Sequential block's."""
    cls = doc.get("class_name") if isinstance(doc.get("class_name"), str) else "model"
    cfg = Config(doc["config"], "$", cls, doc["config"].get("name") or "model", path)
    return not cfg.flag("trainable", True)


def _read_layers(model: Model, layers: list, where: str, sequential: bool,
                 previous: str | None, errors: list[SpecError], block: str = "") -> str | None:
    """``layers`` (at the JSON path ``where``) read in order into ``model``, each mistake
    added to ``errors``; the Keras name of the last, which in a Sequential each reads from the
    one before (the first from ``previous``). In a Sequential nested in the model, each is
    named ``block/name``, after the block, ``block`` being that prefix."""
    output = None
    named: dict[str, str] = {}  # Keras name -> the JSON path of the layer that has it
    for i, layer in enumerate(layers):
        at = f"{where}[{i}]"
        duplicate = _duplicate_name(layer, at, named, model.path)
        if duplicate is not None:
            errors.append(duplicate)
            continue
        try:
            name = _read_layer(model, layer, at, sequential, previous, errors, block)
        except SpecError as exc:
            errors.append(exc)
            name = _name_of(layer)
            if name is not None:
                name = block + name
                model.tensors.setdefault(name, Tensor("input", False))
        previous = name
        output = name
    return output


def _read_block(model: Model, cfg: Config, inputs: list[str], errors: list[SpecError]) -> str:
    """A Sequential nested in the model (Keras' way of writing a block: ``keras.Sequential(
    [Conv2D, ReLU, MaxPool])`` called on a tensor): its layers read in order from the
    block's input, each named ``block/layer`` (``block_layer`` in the spec), the block's
    output the last one's. Its InputLayer, which Keras adds as it builds the block, is the
    block's input."""
    layers = cfg.get("layers")
    if not isinstance(layers, list) or not layers:
        raise cfg.error(f"Sequential '{cfg.name}' has no layers", "layers",
                        "save the model with model.to_json() from a built model")
    # Keras sets its layers' own with it, but trains none of a frozen block's whatever their
    # configs say (its trainable_weights are empty): a file edited by hand may differ
    frozen = not cfg.flag("trainable", True)
    _no_unused(cfg)
    first = len(model.lines)
    last = _read_layers(model, layers, f"{cfg.where}.config.layers", True, inputs[0], errors,
                        f"{cfg.name}/")
    if frozen:
        for line in model.lines[first:]:
            _freeze(line)
    model.tensors[cfg.name] = model.tensors.get(last, Tensor("input", False))
    model.notes.append(LayerNote(cfg.name, f"({SEQUENTIAL}) written as the layers inside, "
                                 "each named `<block>_<layer>`"))
    return cfg.name


def _duplicate_name(layer, at: str, named: dict[str, str], path: str | None
                    ) -> SpecError | None:
    """The error for a layer at ``at`` whose Keras name an earlier one has (``named``: each
    name seen so far -> where), else None, its name then recorded. Later layers name their
    inputs by it, so the second would stand for the first (or be taken for it) unseen; Keras
    itself refuses such a model ("All layer names should be unique")."""
    name = _name_of(layer)
    if name is None:
        return None
    if name not in named:
        named[name] = at
        return None
    config, cls = layer.get("config"), layer.get("class_name")
    key = "config.name" if isinstance(config, dict) and config.get("name") == name else "name"
    shown = f"{cls} '{name}'" if isinstance(cls, str) else f"the layer '{name}'"
    return _err(f"{shown} has the name of an earlier layer, at {named[name]}", f"{at}.{key}",
                "Keras names each layer of a model once, and a layer names its inputs by "
                "those names: rename one of the two (and the inputs meant by it)", path)


def _single(config: dict, key: str, path: str | None) -> str | None:
    found = _history(config.get(key) or [])
    if len(found) > 1:
        raise _err(f"the model has {len(found)} {key.split('_')[0]}s", f"$.config.{key}",
                   "cnnspec's networks have one input and one output", path)
    return found[0] if found else None


def _name_of(layer) -> str | None:
    """A layer's Keras name (its config's, else its own) when it is one: a later layer names
    its inputs by it, so a damaged one (a list, a number) names nothing."""
    if not isinstance(layer, dict):
        return None
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    for name in (config.get("name"), layer.get("name")):
        if isinstance(name, str) and name:
            return name
    return None


def _read_layer(model: Model, layer, at: str, sequential: bool, previous: str | None,
                errors: list[SpecError], block: str = "") -> str:
    """One layer (``block``: the prefix of the Sequential block it is in, see
    :func:`_read_layers`) read into ``model``; returns its Keras name."""
    if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
        raise _err("a layer must be an object with class_name and config", at,
                   "save the model with model.to_json()", model.path)
    cls = layer["class_name"]
    values = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    cfg = Config(values, at, cls, block + (_name_of(layer) or cls.lower()), model.path,
                 built=layer.get("build_config"))
    if cls == "InputLayer":
        cfg.get("sparse")
        cfg.get("ragged")
        if block:  # the block's input, which Keras gives the block as it builds it
            model.tensors[cfg.name] = model.tensors[previous]
            if previous in model.raw_inputs:
                model.raw_inputs.append(cfg.name)
        else:
            model.tensors[cfg.name] = Tensor("input", False)
            model.raw_inputs.append(cfg.name)
        return cfg.name
    if cls not in LAYERS and cls not in FOLDED and cls != SEQUENTIAL:
        raise _err(f"the Keras layer {cls} is not supported", f"{at}.class_name",
                   NESTED_MODEL_HINT if cls in MODELS else "Keras layers cnnspec imports: "
                   "InputLayer, " + ", ".join([*LAYERS, *FOLDED, SEQUENTIAL]), model.path)
    inputs = [previous] if sequential else _history(layer.get("inbound_nodes") or [])
    if sequential and previous is None:  # no InputLayer: the first layer takes the input
        model.tensors["\0input"] = Tensor("input", False)
        model.raw_inputs.append("\0input")
        inputs = ["\0input"]
    unknown = [i for i in inputs if i not in model.tensors]
    if not inputs or unknown:
        raise cfg.error(f"the input{' ' + unknown[0] if unknown else ''} of {cls} "
                        f"'{cfg.name}' is not an earlier layer", None,
                        "save the model with model.to_json() from a built model")
    if len(inputs) > 1 and KERAS_CLASSES.get(cls) not in MERGES:
        raise _several_inputs(model, cfg, layer["inbound_nodes"], inputs, at)
    if cls == SEQUENTIAL:  # its layers read the input, not the block
        return _read_block(model, cfg, inputs, errors)
    if any(i in model.raw_inputs for i in inputs):
        model.input_readers.append(cfg.name)
    if cls in FOLDED:
        FOLDED[cls](model, cfg, inputs)
        _one_view_of_the_input(model, cfg)
        _no_unused(cfg)
        return cfg.name
    _one_view_of_the_input(model, cfg)
    made = LAYERS[cls](model, cfg, inputs)
    *before, line = made if isinstance(made, list) else [made]
    for part in [*before, line]:
        _values_in_range(cfg, part.kind)
    _padding_taken(model, cfg, inputs, line.kind)
    frozen = not cfg.flag("trainable", True)
    _no_unused(cfg)
    for i, part in enumerate([*before, line]):  # a Keras layer of several lines, in order
        part.name = model.names.make(part.name)
        if frozen:
            _freeze(part)
        kind_flat = part.kind in FLAT_MAKERS or (model.tensors[inputs[0]].flat and
                                                part.kind not in ("conv",))
        made_as = cfg.name if part is line else f"\0{cfg.name}:{i}"
        model.add(part, inputs, made_as, kind_flat, merge=part.kind in ("add", "concat"))
        inputs = [made_as]
    return cfg.name


def _values_in_range(cfg: Config, kind: str) -> None:
    """Each number of ``cfg`` that sets a field of the layer ``kind`` (``strides``: stride,
    ``epsilon``: eps), held to the range a spec's line holds the field to
    (:func:`~cnnspec.lang.layers.read_field`), and refused at its key: a stride of 10^30 or a
    negative epsilon was refused at the imported spec's line, which the user never wrote.
    The value is Keras' own: a field converted from it (momentum, which Keras keeps of the
    average and a spec takes of the batch, 1 - m) maps [0, 1] onto [0, 1], so the range holds
    for the value Keras has as for the field's."""
    record = KINDS[kind]
    for key in list(cfg.used):
        field_name = argument_field(record, key)
        value = _ast_number(cfg.values.get(key))
        if field_name is None or value is None:
            continue
        try:
            read_field(kind, field_name, value, f"{key} of {cfg.cls} '{cfg.name}'")
        except SpecError as exc:  # a converted value's hint says what it is here
            converted = KERAS_CONVERTED.get(key)
            raise cfg.error(exc.message, key, converted[1] if converted else exc.hint) from None


# Where an importer's value stands in no spec's text: its error is placed at the JSON key.
_NOWHERE = Span(1, 1)


def _ast_number(value) -> Num | Dims | None:
    """A JSON number, or a list of two whole numbers (a size, ``[3, 3]``), as a spec's line
    writes it; None for anything else (a string, a list of another length: the importer's
    own reading refuses those)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Num(value, exact_number_text(value), _NOWHERE)
    if isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return Dims(list(value), "x".join(map(str, value)), _NOWHERE)
    return None


def _freeze(line: LayerLine) -> None:
    """A line of a frozen Keras layer or block written `frozen`, where its kind has weights
    to hold."""
    if "trainable" in KINDS[line.kind].field_map:
        line.fields["trainable"] = False


def _several_inputs(model: Model, cfg: Config, nodes: list, inputs: list[str],
                    at: str) -> SpecError:
    """The error for a layer other than a merge that reads several tensors: in one call, no
    model Keras builds; in several (a node each, in Keras 2 and 3 alike), a layer whose
    weights the places it is called at share, which cnnspec cannot write."""
    said = listed(inputs)
    where = f"{at}.inbound_nodes"
    if len(nodes) > 1:
        return _err(f"{cfg.cls} '{cfg.name}' is called {len(nodes)} times, on {said}: a layer "
                    "whose weights the places it is called at share, which cnnspec cannot "
                    "write (each layer has weights of its own)", where,
                    "call a layer of its own at each place (their weights then train apart)",
                    model.path)
    return _err(f"{cfg.cls} '{cfg.name}' is called on {len(inputs)} tensors ({said}), where it "
                "takes one", where, "only Add and Concatenate join several tensors; save the "
                "model with model.to_json() from a built model", model.path)


def _one_view_of_the_input(model: Model, cfg: Config) -> None:
    """A model whose input a Rescaling or Normalization preprocesses (the train block's
    preprocess, applied to every reader of the input) must read the input through it alone:
    a layer reading the raw pixels beside it is refused, not fed the preprocessed ones. Said
    at the second of the two readers, whichever comes first."""
    if (model.preprocess or model.augment) and len(model.input_readers) > 1 and \
            cfg.name in model.input_readers[1:]:
        done = "preprocessed" if model.preprocess else "augmented"
        raise cfg.error(f"the model's input is read by {listed(model.input_readers)}, and "
                        f"{done} for one of them only", None,
                        "cnnspec preprocesses and augments the input for every layer that "
                        "reads it (the train block's preprocess and augment): read it through "
                        "the Rescaling, Normalization or RandomFlip alone")


def _no_unused(cfg: Config) -> None:
    """An argument of the layer that no reader took is refused."""
    unused = cfg.unused()
    if unused:
        key = unused[0]
        raise cfg.error(f"the argument {key}={json_quoted(cfg.values[key])} of {cfg.cls} "
                        f"'{cfg.name}' is not supported", key,
                        _weight_decay_hint(key, cfg.values[key])
                        or "cnnspec has no equivalent; remove it from the model, or change "
                           "the imported spec by hand")


def _weight_decay_hint(key: str, value) -> str | None:
    """For an L2 regularizer on a layer's kernel or bias, the train block's ``weight_decay``
    that does its work, with the factor converted (:func:`~cnnspec.lang.foreign.
    l2_weight_decay`); None for anything else. It is not converted by itself: weight_decay
    is one setting for every parameter, where Keras regularizes layer by layer."""
    if key not in KERAS_REGULARIZERS:
        return None  # activity_regularizer penalises outputs: no weight decay does that
    name, config = keras_name(value)
    l2 = config.get("l2", KERAS_L2_DEFAULT) if name in ("l2", "l1l2") else None
    if name == "l1l2" and config.get("l1", 0.0) not in (0, 0.0):
        return None  # an L1 part: cnnspec's weight decay is L2 only
    if not isinstance(l2, (int, float)) or isinstance(l2, bool) or not math.isfinite(l2) \
            or l2 <= 0:
        return None
    l2 = float32_shortest(float(l2))  # Keras keeps it as float32
    spared = (" and `decay_bias false` (the regularizer spares the biases)"
              if key == "kernel_regularizer" else "")
    return (f"L2 regularization is the train block's weight_decay, for every layer at once: "
            f"{l2_note(l2)}; remove the regularizer and write `weight_decay "
            f"{exact_number_text(l2_weight_decay(l2))}`{spared} in the train block")


def _maker(model: Model, output: str) -> tuple[str, dict] | None:
    """The kind and fields of the layer (or of the activation on its line) whose output is
    ``output``; None for the input."""
    for line in model.lines:
        if line.activation and line.output == output:
            return line.activation
        if line.name == output:
            return line.kind, line.fields
    return None


def _never_negative(kind: str, fields: dict) -> bool:
    """Whether every output of ``kind`` is at least 0, as its registry entry says: a value
    range from 0 (sigmoid, relu6), or a negative slope of 0 without one (relu)."""
    entry = KINDS[kind]
    if entry.value_range is not None:
        return entry.value_range[0] >= 0
    return entry.negative_slope is not None and entry.negative_slope(fields) == 0


def _augment_setting(transforms: list[str]) -> list[Setting]:
    """The train block's ``augment`` of the model's front layers, in their order."""
    if not transforms:
        return []
    value = transforms[0] if len(transforms) == 1 else f"[{', '.join(transforms)}]"
    return [Setting("augment", value, "Keras' augmentation layers at the model's input")]


def import_keras(text: str, path: str | None = None) -> Imported:
    """A Keras model saved with ``model.to_json()`` as a checked cnnspec spec. Mistakes and
    unsupported layers or arguments are :class:`SpecError`s at their JSON path (a JSON syntax
    error at its line and column)."""
    doc = parse_json(text, path, "save the model with model.to_json()", MAX_NESTING)
    model, output = read_model(doc, path)
    origin = path or "a Keras model"
    header = [(f"Imported from {origin} (Keras, channels_last (H, W, C) written as CxHxW) by "
              "`cnnspec import`.")]
    if any(line.kind == "flatten" for line in model.lines):  # a global pool's order is one
        header.append("A Dense after Flatten sees the values in NCHW order here: the same "
                      "network, but Keras weights would need their rows permuted.")
    data, why = fitting_data(model.input_shape, output_units(model.lines, output))
    maker = _maker(model, output)
    compiled, compile_notes = compile_settings(doc, ends_in_softmax=bool(maker) and
                                               maker[0] == "softmax", path=path)
    notes = grouped(model.notes) + compile_notes
    if compiled:
        header.append("Training settings from the model's compile_config.")
    header += [f"- {note}" for note in notes]
    defaults = common_inits([line for line in model.lines if WEIGHT_INIT_KEY in line.fields])
    name = model_name(doc.get("config", {}).get("name") if isinstance(doc.get("config"), dict)
                      else None, path)
    spec = spec_text(header=header, model=name, input_shape=model.input_shape,
                     layers=model.lines, defaults=defaults,
                     training=[Setting("data", data, why), *compiled,
                               *([model.preprocess] if model.preprocess else []),
                               *_augment_setting(model.augment)],
                     output=None if output == model.last else output, origin=origin)
    return Imported(spec, checked(spec, origin), notes)
