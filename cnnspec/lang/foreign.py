"""A Keras or PyTorch layer written where a cnnspec line goes, and the line that means it.

``Conv2D(16, (3, 3), padding="same", activation="relu")`` and ``nn.Conv2d(1, 16, 3)`` are
Python, so they are read with Python's own parser (:mod:`ast`), never with patterns of our own.
The class name is matched to a layer kind of the registry (:mod:`cnnspec.kinds`); the values
are placed by the two libraries' signatures below, and the line is written with the option and
flag words the kind declares. What cannot be read (a variable, an argument we do not know) is
left out: the line is a hint, and the kind's usage says the rest.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import itertools
import math
import re
from collections.abc import Callable

from cnnspec.init import keras
from cnnspec.init.catalogue import INIT_NAMES
from cnnspec.ir.training_catalogue import LOSSES
from cnnspec.kinds import ACTIVATIONS, ALIASES, KINDS
from cnnspec.kinds.catalogue import BATCHNORM_MOMENTUM, momentum_kept
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.text import activation_text, number_text
from cnnspec.kinds.torch_code import torch_modules
from cnnspec.lang.suggest import snake_case
from cnnspec.lang.trying import tried
from cnnspec.patterns import LazyPattern
from cnnspec.records import record
from cnnspec.shapes import CHANNELS_ORDER, channels_first, from_channels_last, shape_text

# The leading arguments of the classes, in their order, as their documentation gives them
# (keras.layers.Conv2D, Dense, MaxPooling2D, Dropout, SpatialDropout2D, BatchNormalization;
# torch.nn.Conv2d, Linear, MaxPool2d, Dropout, Dropout2d, ReLU, BatchNorm2d, InstanceNorm2d,
# GroupNorm, LayerNorm, PReLU), and the field
# each fills here (FIELDS). An argument without a field is said by UNFIELDED.
KERAS_ARGS = {
    "conv": ("filters", "kernel_size", "strides", "padding"),
    "dense": ("units",),
    "maxpool": ("pool_size", "strides", "padding"),
    "avgpool": ("pool_size", "strides", "padding"),
    "dropout": ("rate",),
    "dropout2d": ("rate",),
    "leaky_relu": ("negative_slope",),
    "relu": ("max_value", "negative_slope", "threshold"),
    "batchnorm": ("axis", "momentum", "epsilon", "center", "scale"),
    "upsample": ("size", "data_format", "interpolation"),
}
TORCH_ARGS = {
    "conv": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
             "groups", "bias"),
    "dense": ("in_features", "out_features"),
    "maxpool": ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
    "avgpool": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                "divisor_override"),
    "dropout": ("p", "inplace"),
    "dropout2d": ("p", "inplace"),
    "leaky_relu": ("negative_slope", "inplace"),
    "relu": ("inplace",),
    "batchnorm": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "instancenorm": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "groupnorm": ("num_groups", "num_channels", "eps", "affine"),
    "layernorm": ("normalized_shape", "eps", "elementwise_affine"),
    "prelu": ("num_parameters", "init"),
}


@record(frozen=True)
class Unfielded:
    """An argument above that no field takes: whether it is a switch (a number in its place
    is another library's argument), what a hint says of it written as an option
    (``{written}``: the name and value as written), and the values with which a line that
    leaves it out is the same layer (empty: any value is, the outputs are the same)."""

    switch: bool
    hint: str
    keeps: tuple = ()


_INFERRED = Unfielded(False, "a spec infers it from the layer's input: remove `{written}`")


def _keras_holds(argument: str, what: str, value: int) -> Unfielded:
    """Keras' BatchNormalization switch ``argument``, which holds its ``what`` at ``value``
    where False: cnnspec's `frozen` holds both the scale and the shift."""
    return Unfielded(True, f"{argument}=False makes Keras' batch norm learn no {what} (it "
                           f"stays {value}); cnnspec's batchnorm learns its scale and shift "
                           "unless `frozen`, which holds both (center and scale False "
                           "together): remove `{written}`, or write `frozen` for both",
                     keeps=(True,))


UNFIELDED = {
    "in_channels": _INFERRED, "in_features": _INFERRED, "num_features": _INFERRED,
    "num_channels": _INFERRED, "normalized_shape": _INFERRED, "num_parameters": _INFERRED,
    "inplace": Unfielded(True, "inplace=True makes PyTorch overwrite the layer's input to save "
                               "memory, with the same values; remove `{written}`: cnnspec "
                               "writes each layer's output anew"),
    "affine": Unfielded(True, "affine=False makes PyTorch's batch norm learn no scale and "
                              "shift (they stay 1 and 0): write `frozen` in place of "
                              "`{written}`, which holds them so; remove `{written}` for "
                              "affine=True, cnnspec's default", keeps=(True,)),
    "track_running_stats": Unfielded(True, "track_running_stats=False makes PyTorch normalise "
                                           "by the batch's statistics in evaluation too; remove "
                                           "`{written}`: cnnspec's batchnorm keeps running "
                                           "statistics and evaluates with them",
                                           keeps=(True,)),
    # PyTorch's arguments of layers that compute otherwise than any line here
    "padding_mode": Unfielded(False, "padding_mode other than 'zeros' makes PyTorch pad with "
                                     "the input's own values (reflected, repeated or "
                                     "wrapped); cnnspec pads with zeros: `{written}` has no "
                                     "counterpart here", keeps=("zeros",)),
    "dilation": Unfielded(False, "a pool's dilation spreads its window's taps; cnnspec's "
                                 "pools take adjacent pixels: `{written}` has no counterpart "
                                 "here", keeps=(1, (1, 1))),
    "align_corners": Unfielded(True, "align_corners=True makes PyTorch interpolate between "
                                     "the corner pixels; cnnspec's bilinear upsample "
                                     "interpolates between pixel centres, as align_corners="
                                     "False: remove `{written}` for that", keeps=(None, False)),
    "divisor_override": Unfielded(False, "divisor_override makes PyTorch divide each window's "
                                         "sum by another number than its size; cnnspec's "
                                         "avgpool divides by the window's size: `{written}` "
                                         "has no counterpart here", keeps=(None,)),
    "center": _keras_holds("center", "shift", 0),
    "scale": _keras_holds("scale", "scale", 1),
}
# The layer classes of keras.layers that cnnspec reads, and the kind each is (None:
# Activation, whose argument names the kind): the Keras importer reads each so, and a hint
# tells a class called on a spec's line as Keras' by it.
KERAS_CLASSES = {
    "Conv2D": "conv", "Convolution2D": "conv", "Conv2DTranspose": "conv_transpose",
    "Convolution2DTranspose": "conv_transpose", "Dense": "dense",
    "MaxPooling2D": "maxpool", "MaxPool2D": "maxpool",
    "AveragePooling2D": "avgpool", "AvgPool2D": "avgpool",
    "GlobalAveragePooling2D": "global_avgpool", "GlobalAvgPool2D": "global_avgpool",
    "GlobalMaxPooling2D": "global_maxpool", "GlobalMaxPool2D": "global_maxpool",
    "Flatten": "flatten", "Dropout": "dropout", "SpatialDropout2D": "dropout2d",
    "BatchNormalization": "batchnorm", "Activation": None, "ReLU": "relu",
    "LeakyReLU": "leaky_relu", "ELU": "elu", "Softmax": "softmax", "Add": "add",
    "Concatenate": "concat", "UpSampling2D": "upsample"}
FIELDS = {"filters": "filters", "out_channels": "filters", "units": "units",
          "out_features": "units", "pool_size": "size", "rate": "p", "p": "p",
          "strides": "stride", "stride": "stride", "padding": "padding",
          "negative_slope": "slope", "alpha": "slope", "scale_factor": "factor",
          "group": "groups",  # Caffe's convolution_param names its groups `group`
          "num_groups": "groups",
          "dropout_ratio": "p", "momentum": "momentum", "eps": "eps", "epsilon": "eps",
          "dilation_rate": "dilation",
          # PyTorch freezes a parameter with requires_grad=False, Keras a layer with
          # trainable=False: both are the flag `frozen`
          "requires_grad": "trainable"}
# Arguments that set a field of one library's class of one kind, under a name FIELDS cannot
# take for all: Keras' UpSampling2D `size` is the upsampling factor (a pool's `size` here is
# its window, PyTorch's Upsample `size` the output's), its `interpolation` the upsampling
# mode (PyTorch's `mode` is the field's own name: argument_field).
CLASS_FIELDS = {("Keras", "upsample"): {"size": "factor", "interpolation": "mode"}}


def momentum_note(whose: str) -> str:
    """What a batchnorm's momentum converted from ``whose`` fraction kept is: its meaning as
    the kind's catalogue words it (:data:`~cnnspec.kinds.catalogue.BATCHNORM_MOMENTUM`)."""
    return (f"a batchnorm's momentum is {BATCHNORM_MOMENTUM}: 1 - {whose}, the share of them "
            "each batch keeps")


# Keras' arguments whose values mean another thing than the field's of the same name: the
# field's value for each, and what a hint says of it (the Keras importer reads them so too).
KERAS_CONVERTED = {"momentum": (momentum_kept, momentum_note("Keras' momentum"))}


def _keras_relu_kind(values: dict) -> str | None:
    """The kind of Keras' ReLU with these arguments (keras.layers.ReLU: ``x`` capped at
    max_value, ``negative_slope * x`` below threshold; one left out or None at its default:
    no cap, 0, 0): relu6 for a cap of 6 alone, leaky_relu for a slope alone, relu for
    neither; None where they make no kind here (another cap, a cap with a slope, a
    threshold)."""
    top, slope = values.get("max_value"), values.get("negative_slope") or 0
    if values.get("threshold") or top is not None and (top != 6 or slope):
        return None
    return "relu6" if top is not None else "leaky_relu" if slope else "relu"


# Keras' classes whose arguments choose the kind they are (``ReLU(max_value=6)``: relu6), by
# the kind of the class: ``(values) -> kind`` (None: no kind here), and what is said of the
# values that make none. The Keras importer reads them so, and a hint writes their line so.
KERAS_CHOSEN = {"relu": (_keras_relu_kind, ("cnnspec caps a ReLU at 6 alone: relu6 is Keras' "
                                            "ReLU(max_value=6), leaky_relu its "
                                            "negative_slope, and neither takes a threshold"))}
# Keras' default factor of a regularizer named by a string ("l2"), in Keras 2 and 3.
KERAS_L2_DEFAULT = 0.01
# Keras' arguments that regularize a layer's parameters, and the layer's decay_mult that
# decays the same ones here (the weight's and the bias' multiple of weight_decay).
KERAS_REGULARIZERS = {"kernel_regularizer": "[1, 0]", "bias_regularizer": "[0, 1]"}


def l2_weight_decay(l2: float) -> float:
    """The weight_decay that does the work of Keras' ``L2(l2)``: Keras adds
    ``l2 * ||w||^2`` to the loss, whose gradient is ``2 * l2 * w``; cnnspec's weight_decay
    ``wd`` adds ``wd * w`` to the gradient (the gradient of ``wd/2 * ||w||^2``, as PyTorch's
    and Caffe's), so ``wd = 2 * l2``."""
    return 2 * l2


def finite_decay(l2: float) -> bool:
    """Whether Keras' L2 factor ``l2`` is a finite weight decay (:func:`l2_weight_decay`) as
    a float: 1e400 is read as infinite, and 2 * 1e308 (or a whole number of 400 digits) is
    past the largest float."""
    try:
        return math.isfinite(float(l2_weight_decay(l2)))
    except OverflowError:  # a whole number past the largest float
        return False


def infinite_decay_hint(written: str) -> str:
    """The hint for Keras' regularizer ``written`` (as the user wrote it) whose L2 factor
    makes no finite weight decay (:func:`finite_decay`)."""
    return (f"the train block's `weight_decay` is {number_text(l2_weight_decay(1))} * Keras' "
            "l2, a finite number (at most about 1.8e308; weight decays are usually 1e-5 to "
            f"1e-3): remove `{written}`, and write the decay meant in the train block")


def l2_note(l2: float) -> str:
    """What a hint says of Keras' ``L2(l2)`` as weight decay (:func:`l2_weight_decay`)."""
    return (f"Keras' L2 adds l2 * ||w||^2 to the loss (gradient 2 * l2 * w), weight_decay "
            f"adds weight_decay * w to the gradient (adamw decouples it), so l2 "
            f"{number_text(l2)} is weight_decay {number_text(l2_weight_decay(l2))}")


def regularizer_hint(name: str, l2: float | None, written: str) -> str:
    """The hint for Keras' regularizer argument ``name`` written as a layer's option with
    the L2 factor ``l2`` (None for a regularizer that is no L2: cnnspec's weight decay is
    L2 only; 0 or less, or NaN, for a factor that regularizes nothing), ``written`` as the user
    wrote it: the train block's weight_decay, and the layer's decay_mult that keeps it to the
    parameters Keras regularizes."""
    if l2 is None:
        return ("cnnspec's weight decay is L2 only (`weight_decay` in the train block, scaled "
                f"per layer by `decay_mult`): remove `{written}`")
    if not l2 > 0:  # NaN too: a factor that is no number
        return ("an L2 factor must be a number above 0 (0 regularizes nothing, and less would "
                f"reward large weights): remove `{written}`")
    decay = number_text(l2_weight_decay(l2))
    return (f"weight decay is the train block's `weight_decay {decay}` ({l2_note(l2)}), for "
            f"every layer; {_decay_mult_text(name, written)}")


def bare_regularizer_hint(name: str) -> str:
    """The hint for Keras' regularizer argument ``name`` written as a layer's option with no
    value: no factor to turn into a weight decay, so how an L2 factor becomes one."""
    return (f"weight decay is the train block's `weight_decay` for every layer (Keras' "
            f"L2(l2) is weight_decay {number_text(l2_weight_decay(1))} * l2); "
            f"{_decay_mult_text(name, name)}")


def _decay_mult_text(name: str, written: str) -> str:
    """How a layer keeps the weight decay to what Keras' regularizer ``name`` (``written`` as
    the user wrote it) regularizes."""
    return (f"write `decay_mult {KERAS_REGULARIZERS[name]}` in place of `{written}` to decay "
            f"only what Keras' {name} does, and `decay_mult [0, 0]` on the layers Keras does "
            "not regularize")


# Names of a layer's size (a conv's filters, a dense layer's units) that fit either kind:
# Caffe's num_output, for Convolution and InnerProduct alike.
SIZE_NAMES = ("num_output",)
# Names of the switch that leaves out a layer's bias: Keras' use_bias, Caffe's bias_term.
BIAS_SWITCHES = ("use_bias", "bias", "bias_term")
# Keras' initializer arguments, and the fields they set.
INITIALIZERS = {"kernel_initializer": WEIGHT_INIT_KEY, "bias_initializer": BIAS_INIT_KEY}
# The words other libraries name an initializer with, alone (`init he_normal`: the weight's,
# as most tutorials mean it) or after what it initialises (Keras' kernel_initializer, Haiku's
# w_init and b_init, Caffe's weight_filler and bias_filler).
INITIALIZER_WORDS = ("initializer", "init", "initialiser", "initialization", "initialisation",
                     "filler")


def initializer_option(name: str) -> str | None:
    """The option an initializer named so in another library is written with here:
    ``weight`` for ``init`` and Keras' ``kernel_initializer`` (and ``weight_init``,
    ``kernel_init``, ``w_init``), ``bias`` for ``bias_initializer`` and ``b_init``; None for a
    name that names no initializer."""
    if name.lower() in INITIALIZER_WORDS:
        return "weight"
    head, _, tail = name.lower().partition("_")
    if tail not in INITIALIZER_WORDS:
        return None
    return {"kernel": "weight", "weight": "weight", "w": "weight", "bias": "bias",
            "b": "bias"}.get(head)


def names_an_initializer(name: str) -> bool:
    """Whether ``name`` says how a parameter starts: ``weight``, ``bias``, or another
    library's initializer keyword, Keras' ``gamma_initializer`` as well as its
    ``kernel_initializer``."""
    name = name.lower()
    return (name in ("weight", "bias") or name in INITIALIZER_WORDS
            or name.rpartition("_")[2] in INITIALIZER_WORDS)


# Keras' and Keras-like layers' keyword naming the activation that ends a layer.
ACTIVATION_KEYWORDS = ("activation", "act")


def keyword_written(kind: str | None, name: str, value: str) -> str:
    """Python's keyword argument ``name=value`` on a line of a layer of ``kind`` (None where
    the line names no kind) as the line writes it: Keras' ``activation='relu'`` as ``relu``,
    ``kernel_initializer='he_normal'`` as ``weight he_normal``, ``strides=2`` as ``stride 2``,
    ``use_bias=False`` as ``nobias`` (``True``: nothing, a layer has a bias), ``pool_size=2``
    as ``2`` (a value the line gives in its place); another library's initializer on a line
    of no kind (``default``) as the option it is; a name the kind takes, or one not known here,
    as ``name value``."""
    if name in ACTIVATION_KEYWORDS:
        return value
    record = KINDS.get(ALIASES.get(kind, kind)) if kind else None
    if record is None:  # `default kernel_initializer=he_normal`: `default weight he_normal`
        return f"{initializer_option(name) or name} {value}".strip()
    if any(name in f.option for f in record.fields):
        return f"{name} {value}".strip()
    switched = value.lower() in ("false", "true")
    if switched and any(f.flag and f.flag[0] == name for f in record.fields):
        return name if value.lower() == "true" else ""  # `nobias=true`: the flag alone
    if name in BIAS_SWITCHES and switched:
        flags = [f.flag[0] for f in record.fields if f.name == "bias" and f.flag]
        return flags[0] if flags and value.lower() == "false" else ""
    field = record.field_map.get(FIELDS.get(name, name))
    if switched and field is not None and field.flag:  # Keras' trainable=False: `frozen`
        return field.flag[0] if (value.lower() == "true") == field.flag[1] else ""
    if positional_field(kind, name) is not None:  # Keras' pool_size=2: the value alone
        return value
    field = record.field_map.get(foreign_field(record, name) or "")
    option = initializer_option(name) or (field.option[0] if field and field.option else name)
    return f"{option} {value}".strip()


def positional_field(kind: str | None, name: str) -> str | None:
    """The value without an option word of a layer of ``kind`` that the keyword ``name``
    gives, which a line writes alone, in its place (a conv's ``kernel``, Keras'
    ``kernel_size``, Caffe's ``num_output``); None for an option, a name that sets no field,
    or a line of no kind."""
    record = KINDS.get(ALIASES.get(kind, kind)) if kind else None
    if record is None:
        return None
    named = name if name in record.positional else foreign_field(record, name)
    return named if named in record.positional else None


def values_in_place(kind: str, given: dict[str, str], written: int) -> list[str]:
    """The values of ``given`` (field: value as written) that a line of ``kind`` with
    ``written`` values in place already writes after them, in the kind's order: those of the
    fields from the ``written``-th on, up to the first not given (a value after a gap has no
    place); those before it are given twice, the first one given kept."""
    positional = KINDS[ALIASES.get(kind, kind)].positional[written:]
    return [given[name] for name in itertools.takewhile(lambda name: name in given, positional)]


def size_written(text: str) -> str:
    """A size as Python writes it, ``(3, 3)`` or ``[3, 5]``, as a line writes it
    (:func:`_text`): ``3x3``, ``3x5``; other text (a list of fractions, a variable) as
    written."""
    try:
        value = _literal(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return text
    return _text(value) if isinstance(value, (tuple, list)) and _text(value) else text


def foreign_field(record, name: str) -> str | None:
    """The field of the layer kind ``record`` that another library's argument ``name`` sets
    (Keras' ``kernel_size``: a conv's kernel, a pool's window; Caffe's ``num_output``: a
    conv's filters, a dense layer's units; ``strides``, ``group``), or None."""
    if name == "kernel_size":  # a conv's kernel, a pool's window
        return next((f for f in KERNEL_FIELDS if f in record.field_map), None)
    if name in SIZE_NAMES:
        return record.size_field
    named = FIELDS.get(name)
    return named if named in record.field_map else None


def argument_field(record, name: str) -> str | None:
    """The field of the layer kind ``record`` that an argument ``name`` of another library's
    class sets: :func:`foreign_field`'s, else the field of that very name (PyTorch's
    ``dilation``, ``groups``, ``ceil_mode``, ``count_include_pad``, an upsample's ``mode``),
    which the translation of a call left out, so that the line it wrote was another layer."""
    return foreign_field(record, name) or (name if name in record.field_map else None)


# Classes that pass their input on unchanged: a spec writes no line for them.
PASS_THROUGH = ("Identity",)
# Adaptive pools to one value a channel are a spec's global pools.
ADAPTIVE = "adaptive_"
# kernel_size is a conv's kernel and a pool's window
KERNEL_FIELDS = ("kernel", "size")


def foreign_kind(name: str) -> str | None:
    """The layer kind a Keras or PyTorch class names (``Conv2D``, ``MaxPool2d``,
    ``GlobalAveragePooling2D``, ``BatchNormalization``), or None. The class's words are
    compared with the kinds' names and aliases without their underscores; no closeness guess,
    which would read ``sgd`` as sigmoid. A Keras class of :data:`KERAS_CLASSES` is the kind
    the table names (``Convolution2D``, ``Concatenate``, which no kind's name is in words)."""
    if KERAS_CLASSES.get(name):
        return KERAS_CLASSES[name]
    word = snake_case(name)
    for long, short in (("pooling", "pool"), ("average", "avg"), ("normalization", "norm")):
        word = word.replace(long, short)
    if word.startswith(ADAPTIVE):  # AdaptiveAvgPool2d: global_avgpool, for one value a channel
        word = "global_" + word.removeprefix(ADAPTIVE)
    # Dropout2d is dropout2d here; Conv2D, MaxPool2d and Conv2DTranspose lose their 2D
    for spelling in (word, re.sub(r"[123]_?d", "", word)):
        if spelling.replace("_", "") in _UNSPACED:
            return _UNSPACED[spelling.replace("_", "")]
    return None


# Other libraries' names of a kind that no kind's name or alias is in words, without their
# underscores: TensorFlow's tf.contrib.layers.fully_connected (TF-Slim's) and MXNet's
# FullyConnected are a dense layer.
OTHER_KIND_NAMES = {"fullyconnected": "dense"}


def word_answer(name: str, label: str | None, values: str) -> tuple[str, str | None] | None:
    """The hint for another library's name of a kind written as a layer's kind, not called
    (``ip1: Linear 10``, ``Dense 10``, ``fully_connected 10``), and the line it tells to write,
    the ``label`` and the ``values`` written after the name kept (None where that makes no
    line: the kind's usage is said); None for a word that names no kind."""
    kind = foreign_kind(name) or OTHER_KIND_NAMES.get(name.lower().replace("_", ""))
    if kind is None:
        return None
    named = f"{label}: " if label else ""
    line = f"{kind} {values}".strip()
    refused = line_refusal(line)
    if refused:
        return (f"`{name}` is `{kind}` here, a layer written on one line: "
                f"{KINDS[kind].usage or kind}; here {refused}"), None
    return f"`{name}` is `{kind}` here: write `{named}{line}`", f"{named}{line}"


def names_a_layer(name: str) -> bool:
    """Whether a called ``name`` is a layer's: a Keras or PyTorch class of a kind
    (:func:`foreign_kind`) or Keras' Activation, or Caffe's layer type in any case."""
    return name in KERAS_CLASSES or foreign_kind(name) is not None \
        or caffe_type(name) is not None


# Every kind's name and alias without underscores (globalavgpool), with the kind it names.
_UNSPACED = {spelling.replace("_", ""): ALIASES.get(spelling, spelling)
             for spelling in (*KINDS, *ALIASES)}


@record(frozen=True)
class ForeignCall:
    """A layer class called as Python calls it: its name (``Conv2d``), its module path
    (``nn``), the values of its arguments (None where not a literal), the same arguments as
    written (``arg_texts``, ``kwarg_texts``: what a hint quotes of a value no line reads) and
    the columns (0-based, end exclusive) of the called name on its line."""

    name: str
    module: str
    args: list
    kwargs: dict
    columns: tuple[int, int] = (0, 0)
    label: str | None = None  # `conv1: nn.Conv2d(...)`: a cnnspec label before the call
    arg_texts: list = dataclasses.field(default_factory=list)
    kwarg_texts: dict = dataclasses.field(default_factory=dict)


# Brackets a line may leave open for the lines after it (``model = nn.Sequential(``,
# ``keras.Sequential([``): closed, the line reads as the call it begins.
UNCLOSED_ENDINGS = ("", ")", "])", "]")
# Classes that hold a network's layers rather than being one: a spec lists the layers
# themselves, one per line.
CONTAINERS = ("Sequential", "ModuleList")


def python_call(line: str) -> ForeignCall | None:
    """The layer call on a line of Python: ``Conv2D(...)``, ``x = nn.Conv2d(...)``,
    ``model.add(Conv2D(...))``, ``x = Conv2D(...)(x)``, ``Conv2D(...),`` (an item of a
    Sequential list), ``conv1: nn.Conv2d(...)`` (after a cnnspec label, which Python reads as
    an annotation) or ``model = nn.Sequential(`` (its brackets closed on later lines); else
    None."""
    indent = len(line) - len(line.lstrip())
    code = line.strip().rstrip(",")
    statement = _python_statement(code)
    if statement is None:
        return None
    label = None
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) \
            and statement.value is None:
        label, call = statement.target.id, statement.annotation
    elif isinstance(statement, (ast.Expr, ast.Assign)):
        call = statement.value
        label = _layer_target(statement)
    else:
        return None
    if _wraps_a_call(call):
        call = call.args[0]  # model.add(...)
    while isinstance(call, ast.Call) and isinstance(call.func, ast.Call):
        label = None  # the target names the layer's output, not the layer
        call = call.func  # Keras' functional form: x = Conv2D(16, 3)(x)
    if not isinstance(call, ast.Call):
        return None
    names = _dotted(call.func)
    if names is None:
        return None
    keywords = [k for k in call.keywords if k.arg]
    if label is not None and not label.isascii():  # Python's `çonv`, no name of a spec
        label = None
    if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name) \
            and not names[-1][:1].isupper():
        label = None  # `x = F.relu(x)`: a function's value, named as the tensor it is
    return ForeignCall(names[-1], ".".join(names[:-1]), [_literal(arg) for arg in call.args],
                       {k.arg: _literal(k.value) for k in keywords},
                       (indent + _characters(code, call.func.col_offset),
                        indent + _characters(code, call.func.end_col_offset)),
                       label, [ast.get_source_segment(code, arg) for arg in call.args],
                       {k.arg: ast.get_source_segment(code, k.value) for k in keywords})


def _characters(code: str, offset: int) -> int:
    """The column, in characters, of the UTF-8 byte ``offset`` that Python's parser gives a
    node of ``code`` (``ç = nn.Conv2d(...)``: the call is 4 characters in, 5 bytes)."""
    return len(code.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))


def _wraps_a_call(call: ast.expr) -> bool:
    """Whether ``call`` hands its one value, a call, on (``model.add(Conv2D(...))``,
    ``nn.Sequential(nn.Conv2d(...))``): it is no layer class itself (``Dropout(float('nan'))``,
    ``Add(float('nan'), name='a')``, ``Activation(float('nan'))`` are the layer, with a value
    computed), a class being named in capitals where add() is a method."""
    if not isinstance(call, ast.Call) or len(call.args) != 1 \
            or not isinstance(call.args[0], ast.Call):
        return False
    names = _dotted(call.func)
    return names is None or not names[-1][:1].isupper() or not names_a_layer(names[-1])


def _layer_target(statement: ast.stmt) -> str | None:
    """``conv1`` of ``self.conv1 = nn.Conv2d(...)`` (a PyTorch module's layer) or of ``conv1 =
    nn.Conv2d(...)``, the name a layer is assigned to, named as a spec labels it; None for any
    other statement."""
    targets = getattr(statement, "targets", [])
    if len(targets) != 1:
        return None
    target = targets[0]
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
            and target.value.id == "self":
        return target.attr
    return None


# Python statements a model's source has around its layers, named as an error names them.
PYTHON_CODE = {ast.ClassDef: "a class definition", ast.FunctionDef: "a function definition",
               ast.Import: "an import", ast.ImportFrom: "an import", ast.Return: "a return",
               ast.For: "a for loop", ast.While: "a while loop", ast.If: "an if statement",
               ast.With: "a with statement"}
# A loop's layers are a repeat block's.
LOOP_HINT = ("a spec repeats layers with a block, `repeat 3 {` then the layers, one per line, "
             "then `}`")
LOOPS = ("a for loop", "a while loop")
# A hint template (:func:`cnnspec.errors.hinted`): the import command as the caller types it.
PYTHON_CODE_HINT = ("a spec lists the layers themselves, one per line, e.g. `conv1: conv 6 5 "
                    "relu`; `{import_command}` reads a Keras model saved with model.to_json() or "
                    "model.save() and a Caffe .prototxt")


def python_code(line: str) -> str | None:
    """What a line of a model's Python source that calls no layer is (:data:`PYTHON_CODE`:
    ``class Net(nn.Module):``, ``def forward(self, x):``, ``import torch.nn as nn``), or
    None. A line ending in ':' is read with a body after it."""
    code = line.strip()
    statement = _python_statement(code + "\n    pass" if code.endswith(":") else code)
    return PYTHON_CODE.get(type(statement))


def _python_statement(code: str) -> ast.stmt | None:
    """The one statement ``code`` is in Python, its brackets closed where it leaves them
    open (:data:`UNCLOSED_ENDINGS`); None for anything else."""
    for ending in UNCLOSED_ENDINGS:
        try:
            tree = ast.parse(code + ending)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # not Python, too deep
            continue
        return tree.body[0] if len(tree.body) == 1 else None
    return None


def _dotted(func: ast.expr) -> list[str] | None:
    """``nn.Conv2d`` as ["nn", "Conv2d"]; None for a call of anything but a (dotted) name."""
    modules: list[str] = []
    while isinstance(func, ast.Attribute):
        modules.insert(0, func.attr)
        func = func.value
    return [func.id, *modules] if isinstance(func, ast.Name) else None


def _literal(node: ast.expr):
    """A Python literal's value, or None for anything else (a variable, an expression)."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None


# Modules whose functions a PyTorch forward() calls on its tensors (``F.relu``,
# ``torch.flatten``), and the tensor methods that reshape (``x.view(-1, 400)``): a flatten.
TORCH_FUNCTIONS = ("F", "torch")
RESHAPES = ("view", "reshape", "flatten")


@record(frozen=True)
class ForwardLine:
    """A line of a PyTorch module's forward(): the steps it applies to a tensor, innermost
    first, as a spec names them (``self.conv1``, ``relu``), and the columns (0-based, end
    exclusive) of what it computes."""

    steps: list[str]
    columns: tuple[int, int]


def forward_line(line: str) -> ForwardLine | None:
    """``x = self.pool(F.relu(self.conv1(x)))``, ``x = x.view(-1, 400)``, ``return
    self.fc3(x)``: calls nested around one tensor, at least one a module's layer
    (``self.*``), a torch function or a reshape; else None."""
    statement = _python_statement(line.strip())
    if not isinstance(statement, (ast.Assign, ast.Return, ast.Expr)) or statement.value is None:
        return None
    steps, node = [], statement.value
    while isinstance(node, ast.Call):
        names = _dotted(node.func)
        if names is None:
            return None
        if len(names) == 2 and names[0] not in ("self", *TORCH_FUNCTIONS) \
                and names[1] in RESHAPES:
            steps.insert(0, (names, ast.Call(node.func, [], [])))  # the tensor's own method
            node = ast.Name(names[0])
            break
        if not node.args:
            return None
        steps.insert(0, (names, node))
        node = node.args[0]
    if not steps or not isinstance(node, ast.Name) or not any(
            names[0] in ("self", *TORCH_FUNCTIONS) or names[-1] in RESHAPES
            for names, _ in steps):
        return None
    indent, code = len(line) - len(line.lstrip()), line.strip()
    value = statement.value
    return ForwardLine([_step(names, call) for names, call in steps],
                       (indent + _characters(code, value.col_offset),
                        indent + _characters(code, value.end_col_offset)))


def _step(names: list[str], call: ast.Call) -> str:
    """One step of a forward line as a spec names it: ``self.conv1`` as written (the layer its
    __init__ makes), a function or reshape as its layer's line (``F.max_pool2d(x, 2)`` maxpool
    2, ``view`` flatten), else the function as written."""
    if names[0] == "self":
        return ".".join(names)
    kind = "flatten" if names[-1] in RESHAPES else foreign_kind(names[-1])
    if kind is None:
        return ".".join(names)
    # the tensor is the first argument; the rest are the layer's, as its class takes them
    line = cnnspec_line(kind, "PyTorch", [_literal(arg) for arg in call.args[1:]],
                        {k.arg: _literal(k.value) for k in call.keywords if k.arg})
    return line or kind


FORWARD_MESSAGE = "this is a line of a PyTorch module's forward(), not a cnnspec line"


def forward_hint(line: ForwardLine) -> str:
    """What to write for a forward() line: its steps, in the order a spec lists them."""
    steps = ", then ".join(f"`{step}`" for step in line.steps)
    modules = any(step.startswith("self.") for step in line.steps)
    return (f"a spec lists the layers in the order forward() applies them, one per line, each "
            f"reading the one before: here {steps}"
            + (" (each self.* layer as its __init__ makes it)" if modules else "")
            + ", e.g. `conv1: conv 6 5 relu` then `pool: maxpool 2`")


def is_foreign(name: str, module: str) -> bool:
    """Whether a called name is another library's class, not a cnnspec word."""
    return bool(module) or name not in KINDS and name not in ALIASES


def library(name: str, module: str) -> str:
    """Keras or PyTorch, by the module (``nn``, ``F``, ``torch``; TensorFlow's ``tf.nn`` is
    Keras') or the spelling (``Conv2d``, ``Linear``)."""
    parts = module.split(".")
    if parts[0] in ("tf", "tensorflow", "keras"):
        return "Keras"
    torch = ("nn" in parts or parts[0] in TORCH_FUNCTIONS or name.endswith(("1d", "2d"))
             or name == "Linear")
    return "PyTorch" if torch else "Keras"


@functools.cache
def _torch_classes() -> frozenset[str]:
    """The classes of torch.nn that the kinds' PyTorch counterparts build (``Tanh``,
    ``Conv2d``, ``BatchNorm2d``: :func:`~cnnspec.kinds.torch_code.torch_modules`)."""
    return frozenset(module.removeprefix("nn.") for kind in KINDS.values()
                     for module in torch_modules(kind) if module.startswith("nn."))


def libraries(name: str, module: str) -> list[str]:
    """The libraries whose layer class a call of ``name`` is: by its module where one is
    written (:func:`library`); else each that has a class of that name, PyTorch (the torch.nn
    classes the kinds' export builds) and Keras (:data:`KERAS_CLASSES`), ``ReLU`` both's and
    ``Tanh`` PyTorch's alone; by its spelling (:func:`library`) where neither has one."""
    if module:
        return [library(name, module)]
    found = [lib for lib, classes in (("PyTorch", _torch_classes()), ("Keras", KERAS_CLASSES))
             if name in classes]
    return found or [library(name, module)]


def either_of(names: list[str]) -> str:
    """``PyTorch``, ``PyTorch or Keras``, ``PyTorch, Keras or Caffe``."""
    return " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def cnnspec_line(kind: str, lib: str, args: list, kwargs: dict) -> str | None:
    """The cnnspec line for a layer of ``kind`` called with these Python values, or None
    when a value it needs (a conv's filters, a group norm's groups) cannot be read, or, for
    a Keras class whose values choose its kind (:func:`keras_kind`), where they choose none."""
    given = _given(kind, lib, args, kwargs)
    if lib == "Keras":
        given = {name: KERAS_CONVERTED[name][0](value) if name in KERAS_CONVERTED
                 and _is_finite(value) else value for name, value in given.items()}
        kind = keras_kind(kind, given)
        if kind is None:
            return None
    record = KINDS[kind]
    if record.merge:  # its inputs are layer names, which a Python call does not give
        return None
    fields = {}
    for name, value in given.items():
        field = CLASS_FIELDS.get((lib, kind), {}).get(name) or argument_field(record, name)
        if field is not None and _field_text(record.field_map[field], value) is not None:
            fields[field] = value
    if any(name not in fields and record.field_map[name].required
           for name in record.positional):
        return None
    if any(record.field_map[name].options and value not in record.field_map[name].options
           for name, value in fields.items()):  # bicubic upsampling: no line writes it
        return None
    # the leading positional values given: one left out (upsample's mode) takes its default
    given_first = list(itertools.takewhile(lambda name: name in fields, record.positional))
    words = [kind] + [_text(fields[name]) for name in given_first]
    ir = {name: _ir(record.field_map[name].type, value) for name, value in fields.items()}
    for name, value in fields.items():
        f = record.field_map[name]
        if name not in given_first and f.option and not f.is_default(ir[name], ir):
            words += [f.option[0], _field_text(f, value)]
    if given.get("use_bias", given.get("bias")) is False:
        words += [f.flag[0] for f in record.fields if f.name == "bias" and f.flag]
    # a switch other than the bias written as its flag: Keras' trainable=False, `frozen`
    words += [f.flag[0] for name, value in fields.items() if name != "bias"
              and (f := record.field_map[name]).flag and value == f.flag[1]]
    for argument, field in INITIALIZERS.items():
        init = given.get(argument)
        # Keras' he_normal (HeNormal) is cut at 2 std: the importer's variance_scaling
        here = isinstance(init, str) and (keras.written(init) or (
            snake_case(init) if snake_case(init) in INIT_NAMES else None))
        if here and field in record.field_map:
            words += [record.field_map[field].option[0], here]
    activation = given.get("activation")
    if isinstance(activation, str) and activation in ACTIVATIONS and record.takes_activation:
        words.append(activation)
    return " ".join(words)


def _given(kind: str, lib: str, args: list, kwargs: dict) -> dict:
    """The arguments of ``lib``'s class of ``kind`` by name: the leading ones by the class's
    signature (:data:`KERAS_ARGS`, :data:`TORCH_ARGS`), then the keywords."""
    # a kind without a signature above is read from its keywords only (BatchNorm2d(16):
    # the channels, which a spec infers)
    signature = (TORCH_ARGS if lib == "PyTorch" else KERAS_ARGS).get(kind, ())
    return {**dict(zip(signature, args)), **kwargs}


def keras_kind(kind: str, values: dict) -> str | None:
    """The kind a Keras class of ``kind`` called with arguments of these ``values`` is, as
    they choose it (:data:`KERAS_CHOSEN`: ``ReLU(max_value=6)``, a relu6); None where they
    make no kind here."""
    chosen = KERAS_CHOSEN.get(kind)
    return kind if chosen is None else chosen[0](values)


def _is_number(value) -> bool:
    """Whether a Python value is a number (True and False are not, to a layer)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value) -> bool:
    """Whether a Python value is a finite number (a whole number of any size is, though
    math.isfinite cannot take one past the largest float), the only one another library's
    value is converted from (1 - inf would be written -inf, which no line reads: left as written,
    the line's refusal says it is no number)."""
    return _is_number(value) and (isinstance(value, int) or math.isfinite(value))


def _text(value) -> str | None:
    """A Python value as a cnnspec value: 3 -> 3, (3, 3) -> 3x3, "same" -> same; None for
    one no line reads (True, 1e400, whose -inf the grammar does not read), left out as a
    variable is."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value) if _is_finite(value) else None
    if isinstance(value, str) and value.isidentifier():
        return value
    if isinstance(value, (tuple, list)) and value and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "x".join(map(str, value))
    return None


def _field_text(f, value) -> str | None:
    """A Python value as a line writes it for the field ``f``: True and False as true and
    false where the field is a switch (PyTorch's ceil_mode=True: `ceil_mode true`), which
    :func:`_text` reads as no value; else :func:`_text`'s."""
    if f.type == "bool" and isinstance(value, bool):
        return "true" if value else "false"
    return _text(value)


def _ir(field_type: str, value):
    """A Python value as the IR holds a field of ``field_type``: a size as a list, one
    number for both sides of a pair or a padding (a fraction too: ``strides=1.5`` is
    compared with the field's default, and refused where the line is read)."""
    if isinstance(value, (tuple, list)):
        return list(value)
    if _is_number(value) and field_type in ("pair", "padding"):
        return [value, value]
    return value


def foreign_hint(call: ForeignCall) -> str | None:
    """The hint for a Keras or PyTorch layer call: which library's syntax it is, and the
    cnnspec line (or the kind's usage where its values cannot be read); None for a call that
    names no layer kind or is cnnspec's own."""
    if not is_foreign(call.name, call.module):
        return None
    lib = either_of(_libraries_of(call))
    if call.name in CONTAINERS:
        return (f"this is {lib} syntax; a spec needs no container: it lists the layers "
                "themselves, one per line in their order, e.g. `conv1: conv 16 3x3 relu`")
    if call.name in PASS_THROUGH:
        return (f"this is {lib} syntax; {call.name} passes its input on unchanged: a spec "
                "needs no line for it")
    if snake_case(call.name).startswith(ADAPTIVE) and call.args[:1] not in ([1], [(1, 1)]):
        return (f"this is {lib} syntax; cnnspec pools to one value a channel (`global_avgpool`, "
                "`global_maxpool`, as AdaptiveAvgPool2d(1)) or by a window (`avgpool 2`)")
    if call.name in KERAS_INPUTS:
        line = keras_input_line(call)
        return None if line is None else (f"this is {lib} syntax; in cnnspec the input is the "
                                          f"line `{line}`: {CHANNELS_ORDER}")
    activation = _named_activation(call)
    if activation is not None:
        return f"this is {lib} syntax; in cnnspec the layer is the line `{activation}`"
    kind = foreign_kind(call.name)
    if kind is None:
        return None
    unchosen = _unchosen(call, kind)
    if unchosen is not None:  # ReLU(max_value=4) is no relu: no kind's usage to tell
        return f"this is {lib} syntax; {unchosen}"
    return (f"this is {lib} syntax; {_kind_answer(kind, *_translation(call, kind))}"
            + _converted_note(call, kind) + _input_shape_note(call))


# Keras' words for the shape of one image, channels_last (H, W, C): Input's shape (also its
# first argument), InputLayer's and a first layer's input_shape; and the batch's, its size
# (None) first: batch_shape, batch_input_shape. Each -> whether it is a batch's.
KERAS_SHAPES = {"shape": False, "input_shape": False, "batch_shape": True,
                "batch_input_shape": True}
# Keras' calls that give the input alone.
KERAS_INPUTS = ("Input", "InputLayer")


def keras_input_line(call: ForeignCall) -> str | None:
    """The spec's input line of the image shape a Keras call gives (``Input(shape=(28, 28,
    1))``, ``Conv2D(8, 3, input_shape=(28, 28, 1))``): ``input 1x28x28``; None where it gives
    none, or one that is no image's."""
    given = {key: (call.kwargs[key], call.kwarg_texts.get(key, ""))
             for key in KERAS_SHAPES if key in call.kwargs}
    if call.name == "Input" and call.args:
        given["shape"] = call.args[0], call.arg_texts[0] if call.arg_texts else ""
    for key, (shape, text) in given.items():
        if not text.startswith(("(", "[")):  # a size as written here, 1x28x28: no Keras'
            continue
        if isinstance(shape, (tuple, list)) and KERAS_SHAPES[key]:
            shape = shape[1:]
        if isinstance(shape, (tuple, list)) and len(shape) == 3 and all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            return f"input {shape_text(from_channels_last(shape))}"
    return None


# An image's shape written as a Python tuple on a line of its own: Keras' input_shape (or
# shape) with '=' or ':' or neither, or the input line with a tuple, `input (28, 28, 1)`.
SHAPE_TUPLE_LINE = LazyPattern(r"\s*(?P<word>input_shape|shape|input)\s*[=:]?\s*[(\[]\s*"
                               r"(?P<sizes>\d+\s*,\s*\d+\s*,\s*\d+)\s*,?\s*[)\]]\s*(?:#.*)?")


def shape_tuple_line(line: str) -> tuple[str | None, str, bool] | None:
    """For an image's shape written as a tuple on ``line`` (:data:`SHAPE_TUPLE_LINE`): Keras'
    word for it (None for ``input``), the input line it means and whether its sizes were
    turned from height x width x channels, as Keras' ``input_shape=(28, 28, 1)`` always is
    and ``input (28, 28, 1)`` where it reads so (:func:`channels_first`); None for another
    line."""
    found = SHAPE_TUPLE_LINE.fullmatch(line)
    if found is None:
        return None
    sizes = tuple(int(n) for n in re.findall(r"\d+", found["sizes"]))
    word = None if found["word"] == "input" else found["word"]
    meant = from_channels_last(sizes) if word else channels_first(sizes) or sizes
    return word, f"input {shape_text(meant)}", meant != sizes


def _input_shape_note(call: ForeignCall) -> str:
    """What a hint says of the input shape a Keras layer's call gives beside its layer
    (``input_shape=(28, 28, 1)``): the input line it is; "" for a call with none."""
    line = keras_input_line(call)
    return "" if line is None else (f"; its input shape is the spec's line `{line}` "
                                    f"({CHANNELS_ORDER})")


def _unchosen(call: ForeignCall, kind: str) -> str | None:
    """What is said of a Keras call of ``kind`` whose values choose no kind here
    (:data:`KERAS_CHOSEN`: ReLU's max_value 4); None for another call."""
    if _library_of(call) != "Keras" or keras_kind(
            kind, _given(kind, "Keras", call.args, call.kwargs)) is not None:
        return None
    return KERAS_CHOSEN[kind][1]


def _named_activation(call: ForeignCall) -> str | None:
    """The activation Keras' ``Activation("relu")`` names, a line of its own here; None for
    another call, or an argument that names none (``Activation([1])``)."""
    if call.name != "Activation" or not call.args or not isinstance(call.args[0], str):
        return None
    return call.args[0] if call.args[0] in ACTIVATIONS else None


def _converted_note(call: ForeignCall, kind: str) -> str:
    """What a hint says of the arguments of a Keras call that a field of ``kind`` takes in
    another meaning (:data:`KERAS_CONVERTED`: a batchnorm's momentum), in parentheses; ""
    for a call with none."""
    if _library_of(call) != "Keras":
        return ""
    return "".join(f" ({note})" for name, (_, note) in KERAS_CONVERTED.items()
                   if name in call.kwargs and foreign_field(KINDS[kind], name))


def _library_of(call: ForeignCall) -> str:
    """The library whose signature a call's arguments are read by: the first whose call it
    is (:func:`_libraries_of`)."""
    return _libraries_of(call)[0]


def _libraries_of(call: ForeignCall) -> list[str]:
    """The libraries whose class a call is (:func:`libraries`), of several those whose
    signature names one of its keywords where one does (``Dropout(rate=0.5)``: Keras')."""
    libs = libraries(call.name, call.module)
    kind = foreign_kind(call.name)
    named = [lib for lib in libs if any(keyword in _SIGNATURES[lib].get(kind, ())
                                        for keyword in call.kwargs)]
    return named or [lib for lib in libs if _reads_values(lib, kind, call.args)] or libs


_SIGNATURES = {"PyTorch": TORCH_ARGS, "Keras": KERAS_ARGS}


def _reads_values(lib: str, kind: str | None, args: list) -> bool:
    """Whether ``lib``'s class of ``kind`` takes these positional values by its signature:
    a number cannot be a switch (``ReLU(6)`` is Keras' max_value, PyTorch's ReLU takes only
    inplace). A class without a signature above is taken to read them."""
    signature = _SIGNATURES[lib].get(kind)
    if signature is None:
        return True
    return len(args) <= len(signature) and not any(
        _is_number(value) and name in UNFIELDED and UNFIELDED[name].switch
        for name, value in zip(signature, args))


def _kind_answer(kind: str, line: str | None, refused: str | None) -> str:
    """What a foreign call of ``kind`` is here: its ``line`` (None where its values cannot be
    read), or the kind's usage and what ``refused`` the line."""
    if line is not None and not refused:
        return f"in cnnspec the layer is the line `{line}`"
    return (f"a cnnspec layer is a line of its kind and values: {KINDS[kind].usage or kind}"
            + (f"; here {refused}" if refused else ""))


def translated_line(call: ForeignCall) -> str | None:
    """The cnnspec line a Keras or PyTorch layer call is, labelled as the call's target is
    named (`c1 = nn.Conv2d(...)`: `c1: conv ...`); None where it is none: cnnspec's own
    kind, a container, a layer that passes its input on, values it cannot read."""
    if not is_foreign(call.name, call.module) or call.name in CONTAINERS + PASS_THROUGH:
        return None
    activation = _named_activation(call)
    if activation is not None:
        return activation
    kind = foreign_kind(call.name)
    adaptive = snake_case(call.name).startswith(ADAPTIVE)
    if kind is None or adaptive and call.args[:1] not in ([1], [(1, 1)]):
        return None
    line, refused = _translation(call, kind)
    return None if refused else line


def _translation(call: ForeignCall, kind: str) -> tuple[str | None, str | None]:
    """The cnnspec line of a foreign layer call of ``kind``, labelled (None where its values
    cannot be read; an adaptive pool to one value a channel reads none), and what keeps it
    from reading as a spec's layer: a value given that no line reads (:func:`_unread`), else
    the line's refusal (:func:`line_refusal`), or None."""
    adaptive = snake_case(call.name).startswith(ADAPTIVE)
    args, kwargs = ([], {}) if adaptive else (call.args, call.kwargs)
    unread = [] if adaptive else _unread(call, kind)
    line = cnnspec_line(kind, _library_of(call), args, kwargs)
    refused = unread_refusal(unread, "value") if unread else _unfielded_refusal(call, kind)
    if line is None:
        return None, refused
    refused = refused or line_refusal(line)
    if call.label and (refused or line_error(f"{call.label}: {line}") is None):
        return f"{call.label}: {line}", refused
    return line, refused  # `input = nn.Conv2d(...)`: a name no layer takes is left out


def _unread(call: ForeignCall, kind: str) -> list[str]:
    """The arguments of a foreign call of ``kind`` that give one of its fields a value no
    line reads (``stride=-1e400``, which is no finite number; ``padding=True``;
    ``strides=(1.5, 2)``), as written: left out, the line would say the field's default.
    A value not known (a variable) is not among them: the hint leaves it to the user."""
    lib, record = _library_of(call), KINDS[kind]
    values = _given(kind, lib, call.args, call.kwargs)
    texts = _given(kind, lib, call.arg_texts, call.kwarg_texts)
    return [f"{name}={texts.get(name, '...')}" for name, value in values.items()
            if value is not None and (field := argument_field(record, name))
            and _field_text(record.field_map[field], value) is None]


def _unfielded_refusal(call: ForeignCall, kind: str) -> str | None:
    """What :data:`UNFIELDED` says of each argument of a foreign call of ``kind`` that no
    field takes and whose value makes another layer than the line without it
    (nn.BatchNorm2d(16, affine=False): no scale and shift learnt, which `batchnorm` learns);
    None where every such argument keeps its layer."""
    lib = _library_of(call)
    values = _given(kind, lib, call.args, call.kwargs)
    texts = _given(kind, lib, call.arg_texts, call.kwarg_texts)
    said = [UNFIELDED[name].hint.format(written=f"{name}={texts.get(name, '...')}")
            for name, value in values.items() if name in UNFIELDED and UNFIELDED[name].keeps
            and argument_field(KINDS[kind], name) is None
            and _as_tuple(value) not in UNFIELDED[name].keeps]
    return "; ".join(said) or None


def _as_tuple(value):
    """A list as the tuple of its items (PyTorch takes ``dilation=[1, 1]`` as ``(1, 1)``),
    any other value as it is."""
    return tuple(value) if isinstance(value, list) else value


def unread_refusal(unread: list[str], what: str) -> str:
    """What a hint says of the values ``unread`` (``stride=x``, as written) that no line
    reads as a ``what`` (a number, a value)."""
    return f"{' and '.join(unread)} {'is' if len(unread) == 1 else 'are'} no {what} a spec reads"


def foreign_message(call: ForeignCall) -> str:
    """The error for a line that is a Keras or PyTorch call (one :func:`foreign_hint`
    answers): a layer or a container of layers, as that library writes it."""
    what = "a container of layers" if call.name in CONTAINERS else "a layer"
    called = ".".join(filter(None, (call.module, call.name)))
    return (f"{called}(...) is {what} as {either_of(_libraries_of(call))} "
            "writes it, not a cnnspec line")


# Darknet's .cfg sections (``[convolutional]`` and its ``key=value`` lines): the layer kind
# each is, and its keys as the Keras names above (KERAS_ARGS, FIELDS), so that one writer
# makes every library's line. [avgpool] averages each whole channel (src/avgpool_layer.c).
DARKNET_SECTIONS = {"convolutional": "conv", "connected": "dense", "maxpool": "maxpool",
                    "avgpool": "global_avgpool", "dropout": "dropout", "softmax": "softmax",
                    "upsample": "upsample", "batchnorm": "batchnorm", "deconvolutional":
                    "conv_transpose", "route": "concat", "shortcut": "add"}
# The short names Darknet's parser reads as its sections' (src/parser.c,
# string_to_layer_type): [conv] is [convolutional], [max] [maxpool].
DARKNET_SHORT = {"conv": "convolutional", "deconv": "deconvolutional", "conn": "connected",
                 "max": "maxpool", "avg": "avgpool", "soft": "softmax"}
DARKNET_KEYS = {"filters": "filters", "size": "kernel_size", "stride": "strides",
                "output": "units", "probability": "rate"}
# The keys whose values are numbers: one that is none (stride=x, stride=1e999) makes no line.
DARKNET_NUMBERS = (*DARKNET_KEYS, "padding")
# Darknet's activations (src/activations.c) as ours, a kind and its arguments; linear is
# none. Its leaky's slope is 0.1, its elu's alpha 1; swish is x·logistic(x), silu (AlexeyAB's
# fork spells it silu too); mish is x·tanh(softplus(x)), as ours (AlexeyAB's fork,
# src/activations.c, activate_array_mish). Its other activations have no kind here.
DARKNET_ACTIVATIONS = {"leaky": ("leaky_relu", {"slope": 0.1}), "relu": ("relu", {}),
                       "logistic": ("sigmoid", {}), "tanh": ("tanh", {}), "elu": ("elu", {}),
                       "swish": ("silu", {}), "silu": ("silu", {}), "mish": ("mish", {}),
                       "linear": None}
# What a layer without an activation= line has: logistic, in Darknet's parser (src/parser.c).
DARKNET_DEFAULT_ACTIVATION = "logistic"
# The sections a spec writes as a line of its own (not a layer): the input and training.
DARKNET_NET = ("net", "network")


def darknet_activation_text(name: str) -> str | None:
    """Darknet's activation ``name`` as a layer's line ends in it (``leaky_relu(0.1)``; ""
    for linear); None for one that has no counterpart here."""
    if name not in DARKNET_ACTIVATIONS:
        return None
    activation = DARKNET_ACTIVATIONS[name]
    return "" if activation is None else activation_text(*activation)


def darknet_pool(size: int | None, stride: int | None, padding: int | None
                 ) -> tuple[int, int, int, int]:
    """A Darknet [maxpool]'s window, stride and padding before and after (top, left; bottom,
    right), each None where the cfg leaves it out. Darknet's parser (src/parser.c,
    parse_maxpool) moves by 1 unless stride= says, takes a window as wide as its stride unless
    size= says, and pads size - 1 in all unless padding= says, padding / 2 of it before (top,
    left: src/maxpool_layer.c), so its output is (n + padding - size) / stride + 1,
    ceil(n / stride) by default, where an unpadded pool's rounds down on an odd size."""
    stride = 1 if stride is None else stride
    size = stride if size is None else size
    padding = size - 1 if padding is None else padding
    return size, stride, padding // 2, padding - padding // 2


def darknet_section(lines: list[str]) -> tuple[str, dict[str, str]] | None:
    """The name and the ``key=value`` lines of the Darknet section whose header is the first
    of ``lines`` (``[convolutional]``), read up to the next header; None when the first line
    is no header."""
    header = re.fullmatch(r"\s*\[(\w+)\]\s*(#.*)?", lines[0]) if lines else None
    if header is None:
        return None
    keys = {}
    for line in lines[1:]:
        code = line.split("#", 1)[0].strip()
        if code.startswith("["):
            break
        key, equal, value = code.partition("=")
        if equal:
            keys[key.strip()] = value.strip()
    return header[1], keys


def darknet_extent(lines: list[str]) -> int:
    """How many of ``lines`` the Darknet section whose header is the first holds: the header
    and the ``key=value``, blank and comment lines right after it."""
    count = 1
    for line in lines[1:]:
        code = line.split("#", 1)[0].strip()
        if code.startswith("[") or code and "=" not in code:
            break
        count += 1
    return count


def darknet_hint(section: str, keys: dict[str, str]) -> str:
    """The hint of :func:`darknet_answer`."""
    return darknet_answer(section, keys)[0]


def darknet_answer(section: str, keys: dict[str, str]) -> tuple[str, str | None]:
    """What a Darknet section is in a spec: the line of its layer, with the values its
    ``key=value`` lines give; the input and train block for ``[net]``. With the line it tells
    to write in the section's place (None where it tells none)."""
    if section in DARKNET_NET:
        # a size that is no whole number from 1 (height=abc, channels=0) is left to be written
        shape = "x".join(keys[k] if re.fullmatch(r"[1-9][0-9]{0,8}", keys.get(k, ""))
                         else k.upper() for k in ("channels", "height", "width"))
        return (f"Darknet's [{section}] section is a spec's `input {shape}` line, and its "
                "training keys (batch, learning_rate, max_batches, ...) are settings of "
                "`train { }`, one a line, e.g. `batch 64`"), None
    kind = DARKNET_SECTIONS.get(DARKNET_SHORT.get(section, section))
    if kind is None:
        return (f"cnnspec has no layer for Darknet's [{section}]; a spec's layers are one "
                f"line each, of the kinds {', '.join(sorted(set(DARKNET_SECTIONS.values())))} "
                "and more (docs/language.md)"), None
    if KINDS[kind].merge:
        return (f"Darknet's [{section}] is `{kind}` here, naming the layers it takes, e.g. "
                f"`{kind}(a, b)` (Darknet's layers=/from= count back from this section)"), None
    activation = keys.get("activation", DARKNET_DEFAULT_ACTIVATION)
    missing = (f" (Darknet's {activation} activation has no counterpart here)"
               if KINDS[kind].takes_activation and darknet_activation_text(activation) is None
               else "")
    unread = [f"{key}={value}" for key, value in keys.items() if key in DARKNET_NUMBERS
              and not isinstance(_darknet_number(value), (int, float))]
    line = None if unread else _darknet_line(kind, keys)
    refused = unread_refusal(unread, "number") if unread \
        else None if line is None else line_refusal(line)
    if line is None or refused:  # a value it needs is not given (a conv's size=), or wrong
        return (f"Darknet's [{section}] is `{kind}` here, a layer written on one line: "
                f"{KINDS[kind].usage or kind}" + (f"; here {refused}" if refused else "")), None
    return f"a spec writes each layer on one line: this section is `{line}`{missing}", line


def darknet_word_hint(name: str) -> str | None:
    """The hint for a Darknet section's or activation's name written as a layer's kind
    (``connected``, ``route``, ``logistic``), where a guess by spelling led elsewhere
    (``connected``: concat, ``route``: dropout, ``logistic``: log_softmax); None for
    another word."""
    if name in DARKNET_SECTIONS:
        return darknet_hint(name, {})
    activation = darknet_activation_text(name)
    if activation:
        return (f"Darknet's {name} activation is `{activation}` here, at the end of a layer's "
                f"line (`conv 16 3x3 {activation}`) or on a line of its own")
    return None


# Caffe's layer types (caffe.proto's LayerParameter type) that are a layer kind here: the
# kind, and the parameters of the type's *_param block (caffe.proto). The Caffe importer
# (cnnspec.importers.caffe) reads each type as its kind and refuses a parameter read only at
# its default when it is not; a type written as a spec's kind is answered with it
# (caffe_answer), and a type called as a function is told from Keras' and PyTorch's class
# of the same name by its parameters (called_as); docs/importing.md's table of the types is
# generated from these (cnnspec/importers/caffe_docs.py). Pooling pools by MAX unless its pool
# says AVE (CAFFE_POOLS); Scale, after a BatchNorm, is the batchnorm's learned scale and
# shift; Eltwise is its SUM.
CAFFE_POOLS = {"MAX": "maxpool", "AVE": "avgpool"}
# Every value of Pooling's pool (caffe.proto's PoolMethod), STOCHASTIC a pool of none here.
CAFFE_POOL_METHODS = (*CAFFE_POOLS, "STOCHASTIC")


def _caffe_pool_kind(values: dict) -> str | None:
    """The kind of Caffe's Pooling with these values: a max pool unless its pool says AVE
    (None for one that is no pool here, STOCHASTIC), over each whole channel where its
    global_pooling says so."""
    kind = CAFFE_POOLS.get(values.get("pool", "MAX"))
    return f"global_{kind}" if kind and values.get("global_pooling") is True else kind


def _caffe_relu_kind(values: dict) -> str:
    """The kind of Caffe's ReLU with these values: a leaky ReLU where its negative_slope is
    not 0 (relu_layer.cpp multiplies a negative input by it)."""
    return "leaky_relu" if values.get("negative_slope", 0) != 0 else "relu"


@record(frozen=True)
class CaffeType:
    """What a Caffe layer type is here: its ``kind``, the ``parameters`` whose values its
    fields take, and those it takes only at Caffe's ``defaults`` (None: at any value, which
    changes nothing here, as ``engine``, or which cnnspec sets itself, as BatchNorm's
    ``use_global_stats``, Caffe's switch between training and testing).

    ``choose``: for a type whose parameters ``choosers`` choose the kind (Pooling's pool AVE:
    an avgpool), ``(values) -> kind`` from the parameters' values as Python's (``"AVE"``,
    ``True``, ``0.1``), None where they choose none here. ``converted``: the parameters whose
    values a field takes in another meaning, each ``parameter -> (field, (value) -> the
    field's value)``. ``words``: the values of Caffe's enums that name the parameter they
    set, each ``word -> parameter``, which a spec's line may write right after the type
    (``Pooling AVE 2``, read as ``Pooling(pool=AVE) 2``). The importer and the language's
    hints both read a type's line so."""

    kind: str
    parameters: tuple[str, ...] = ()
    defaults: dict = dataclasses.field(default_factory=dict)
    choosers: tuple[str, ...] = ()
    choose: Callable[[dict], str | None] | None = None
    converted: dict = dataclasses.field(default_factory=dict)
    words: dict = dataclasses.field(default_factory=dict)

    def kind_for(self, values: dict) -> str:
        """The kind of a layer of this type whose parameters have ``values`` (those left out
        at Caffe's defaults): the one they choose, else the type's own."""
        return (self.choose(values) if self.choose else None) or self.kind

    @property
    def all_parameters(self) -> tuple[str, ...]:
        """Every parameter of the type's *_param block that cnnspec reads."""
        return (*self.parameters, *self.defaults)


# Caffe's sizes: one value, or one per axis, or each axis named (kernel_h, kernel_w)
_CAFFE_SIZES = ("kernel_size", "kernel_h", "kernel_w", "stride", "stride_h", "stride_w", "pad",
                "pad_h", "pad_w")
_CAFFE_CONV = CaffeType("conv", ("num_output", *_CAFFE_SIZES, "dilation",
                                 "group", "bias_term", "weight_filler", "bias_filler"),
                        {"axis": 1, "engine": None, "force_nd_im2col": False})
_CAFFE_ACTIVATION = {"engine": None}
CAFFE_TYPES = {
    "Convolution": _CAFFE_CONV,
    "Deconvolution": CaffeType("conv_transpose", _CAFFE_CONV.parameters, _CAFFE_CONV.defaults),
    "InnerProduct": CaffeType("dense", ("num_output", "bias_term", "weight_filler",
                                        "bias_filler"), {"axis": 1, "transpose": False}),
    "Pooling": CaffeType(CAFFE_POOLS["MAX"], ("pool", *_CAFFE_SIZES,
                                              "global_pooling", "round_mode"),
                         {"engine": None}, ("pool", "global_pooling"), _caffe_pool_kind,
                         words=dict.fromkeys(CAFFE_POOL_METHODS, "pool")),
    "ReLU": CaffeType("relu", ("negative_slope",), _CAFFE_ACTIVATION, ("negative_slope",),
                      _caffe_relu_kind),
    "TanH": CaffeType("tanh", (), _CAFFE_ACTIVATION),
    "Sigmoid": CaffeType("sigmoid", (), _CAFFE_ACTIVATION),
    "ELU": CaffeType("elu", ("alpha",)),
    "PReLU": CaffeType("prelu", ("filler", "channel_shared")),
    "Dropout": CaffeType("dropout", ("dropout_ratio",), {"scale_train": True}),
    "BatchNorm": CaffeType("batchnorm", ("moving_average_fraction", "eps"),
                           {"use_global_stats": None}, converted={
                               "moving_average_fraction": ("momentum", momentum_kept)}),
    "Scale": CaffeType("batchnorm", ("bias_term", "filler", "bias_filler"),
                       {"axis": 1, "num_axes": 1}),
    "Concat": CaffeType("concat", (), {"axis": 1, "concat_dim": 1}),
    "Eltwise": CaffeType("add", ("operation", "coeff"), {"stable_prod_grad": True}),
    "Flatten": CaffeType("flatten", (), {"axis": 1, "end_axis": -1}),
    "Softmax": CaffeType("softmax", (), {"axis": 1, "engine": None}),
}
# The kind of each type, as the importer and the docs' table read it.
CAFFE_KINDS = {caffe: entry.kind for caffe, entry in CAFFE_TYPES.items()}
# What else a type's line here needs said: where it differs from the kind's own line.
CAFFE_NOTES = {
    "InnerProduct": "Caffe's InnerProduct flattens its input itself; a dense layer takes a flat "
                    "one, so a feature map goes through a `flatten` line first",
    "Pooling": "Caffe's pool: AVE is `avgpool`, and global_pooling `global_maxpool` or "
               "`global_avgpool`",
    "ReLU": "with Caffe's negative_slope it is `leaky_relu SLOPE`",
    "BatchNorm": "a batchnorm learns the scale and shift of Caffe's Scale layer after it; "
                 + momentum_note("Caffe's moving_average_fraction"),
    "Scale": "a batchnorm learns its own scale and shift: after a `batchnorm` line, remove "
             "this one",
}
# Caffe's types that another kind stands in for, and why (the importer refuses them so).
CAFFE_REPLACED = {"LRN": ("batchnorm", ("cnnspec has no local response normalisation; "
                                        "batchnorm is its usual replacement (Ioffe & Szegedy "
                                        "2015)"))}
# Caffe's types that are no layer of a net here, and why (the importer leaves them out so).
CAFFE_LEFT_OUT = {"Accuracy": "cnnspec reports the accuracy of every run",
                  "Silence": "Silence only discards blobs"}
# Caffe's loss layer: the loss of the train block (the losses' catalogue names the one).
CAFFE_LOSS = "SoftmaxWithLoss"


def caffe_loss() -> str:
    """The loss Caffe's SoftmaxWithLoss is here, as the losses' catalogue names it."""
    return next(entry.name for entry in LOSSES.values()
                for name, _ in entry.foreign if name == CAFFE_LOSS.lower())


# Every Caffe type above in lower case, as a spec's words are compared with it.
_CAFFE_TYPES = {name.lower(): name for name in
                (*CAFFE_KINDS, *CAFFE_REPLACED, *CAFFE_LEFT_OUT, CAFFE_LOSS)}


def caffe_type(word: str) -> str | None:
    """The Caffe layer type ``word`` names in any case, its words run together or apart
    (``InnerProduct``, ``innerproduct``, ``inner_product``), or None."""
    return _CAFFE_TYPES.get(word.lower().replace("_", ""))


def caffe_answer(name: str, label: str | None = None, values: str | None = "",
                 called: dict[str, str] | None = None) -> tuple[str, str | None] | None:
    """The hint for a Caffe layer type written as a layer's kind (``fc: InnerProduct 10``),
    where a guess by spelling led elsewhere (``deconvolution``: dropout; ``SoftmaxWithLoss``:
    softmax) or nowhere: the kind it is here and the line to write, the line's ``label`` and
    ``values`` (as written after the type; None where they cannot be rewritten: the kind's
    usage) kept, of the kind the keyword arguments ``called`` choose where the type is called
    as a function with some that choose one (:func:`caffe_call_kind`); with the line it tells
    to write in place of the user's (None where it tells none), which the checker tries in
    its place. None for another word."""
    caffe = caffe_type(name)
    if caffe is None:
        return None
    no_kind = None if called is None else _caffe_no_kind(caffe, called)
    if no_kind is not None:  # Pooling(pool=STOCHASTIC) is no max pool
        return no_kind, None
    if caffe == CAFFE_LOSS:
        loss = caffe_loss()
        return (f"Caffe's {caffe} is the loss, which a spec sets in its train block, `train "
                f"{{ loss {loss} }}`: {loss} applies the softmax itself, so the net's output "
                f"stays its raw scores; write `loss {loss}` in `train {{ }}` and remove this "
                "line"), None
    if caffe in CAFFE_LEFT_OUT:
        return (f"Caffe's {caffe} layer has no line here: {CAFFE_LEFT_OUT[caffe]}; remove this "
                "line"), None
    kind, why = CAFFE_REPLACED.get(caffe) or (CAFFE_KINDS[caffe], CAFFE_NOTES.get(caffe))
    chosen = None if called is None else caffe_call_kind(caffe, called)
    if chosen not in (None, kind):  # Pooling(pool=AVE): the note's choice is made
        kind, why = chosen, None
    named = f"{label}: " if label else ""
    if KINDS[kind].merge:  # its inputs are the layers named, which Caffe's bottoms are
        return (f"Caffe's {caffe} is `{kind}` here, naming the layers it takes (Caffe's "
                f"bottoms): write `{named}{kind}(a, b)` with their names"), None
    line = f"{kind} {values or ''}".strip()
    refused = None if values is None else line_refusal(line)
    with_these = " with these parameters" if kind != CAFFE_KINDS.get(caffe, kind) else ""
    said = f"Caffe's {caffe}{with_these} is `{kind}` here" if caffe in CAFFE_KINDS else why
    note = f" ({why})" if why and caffe in CAFFE_KINDS else ""
    if values is None or refused:  # values a hint does not rewrite, or that make no line
        return (f"{said}, a layer written on one line: {KINDS[kind].usage or kind}{note}"
                + (f"; here {refused}" if refused else "")), None
    return f"{said}: write `{named}{line}`{note}", f"{named}{line}"


def _caffe_no_kind(caffe: str, kwargs: dict[str, str]) -> str | None:
    """What is said of Caffe's type ``caffe`` given a parameter (of the keyword arguments'
    texts ``kwargs``) whose value chooses no kind here (Pooling's pool STOCHASTIC); None
    where none does."""
    entry = CAFFE_TYPES.get(caffe)
    for name, written in kwargs.items():
        if entry is not None and name in entry.choosers \
                and entry.choose({name: _caffe_value(written)}) is None:
            return f"cnnspec has no layer for Caffe's {caffe} with {name} {written}"
    return None


def caffe_call_kind(name: str, kwargs: dict[str, str]) -> str | None:
    """The kind of Caffe's type ``name`` called with keyword arguments of these texts, as its
    parameters choose it (:class:`CaffeType`: ``Pooling(pool=AVE)``, an avgpool;
    ``ReLU(negative_slope=0.1)``, a leaky_relu); None for a type that is no kind here."""
    entry = CAFFE_TYPES.get(caffe_type(name) or "")
    if entry is None:
        return None
    return entry.kind_for({keyword: _caffe_value(text) for keyword, text in kwargs.items()})


def caffe_word_parameter(name: str, word: str) -> str | None:
    """The parameter of Caffe's type ``name`` that ``word``, one of its enum's values, sets
    (Pooling's AVE: pool), or None."""
    entry = CAFFE_TYPES.get(caffe_type(name) or "")
    return None if entry is None else entry.words.get(word)


def _caffe_value(text: str):
    """A Caffe parameter's value as written, as the importer reads it: true and false as
    Python's, a number as a float, a word (MAX) as it is."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def caffe_call_values(name: str, args: list[str], kwargs: dict[str, str]) -> str | None:
    """The values of the line of Caffe's type ``name`` called as a function, from the texts
    of its arguments (``InnerProduct(10)``: ``10``; ``Convolution(num_output=16,
    kernel_size=3, stride=2)``: ``16 3 stride 2``), for the kind they choose
    (:func:`caffe_call_kind`): the arguments in order, a keyword that names a value written in
    its place (Caffe's num_output, kernel_size) put there, one that chose the kind and sets
    none of its fields (Pooling's pool) left out, one the type converts (BatchNorm's
    moving_average_fraction) converted, the rest as the kind's line writes them
    (:func:`keyword_written`). None where the values in place leave a gap (a kernel with no
    filters) or give one twice, and for a type that is no kind here (its hint needs no
    values)."""
    entry = CAFFE_TYPES.get(caffe_type(name) or "")
    if entry is None:
        return None
    values = {keyword: _caffe_value(text) for keyword, text in kwargs.items()}
    kind = entry.kind_for(values)
    record = KINDS[kind]
    placed = dict(zip(record.positional, args))
    options = []
    for keyword, text in kwargs.items():
        if keyword in entry.defaults and _caffe_default(text, entry.defaults[keyword]):
            continue  # Concat(axis=1): what the kind does without a word
        field = caffe_field(record, keyword)
        if keyword in entry.choosers and field is None and entry.choose(values):
            continue  # Pooling's pool=AVE: said by the kind (STOCHASTIC is no kind's)
        if keyword in entry.converted and _is_finite(values[keyword]):
            field, convert = entry.converted[keyword]
            keyword, text = field, number_text(convert(values[keyword]))
        if field in placed:
            return None
        if field in record.positional:
            placed[field] = text
        else:
            options.append(keyword_written(kind, keyword, text))
    in_place = list(itertools.takewhile(lambda field: field in placed, record.positional))
    if len(in_place) < len(placed):
        return None
    values = [placed[field] for field in in_place] + args[len(record.positional):] + options
    return " ".join(value for value in values if value)


def caffe_field(record, parameter: str) -> str | None:
    """The field of the layer kind ``record`` that Caffe's ``parameter`` sets: one of the
    same name that the kind's line writes in its place (ELU's alpha), else as another
    library's argument of that name would (:func:`foreign_field`: negative_slope, a leaky
    ReLU's slope), or None."""
    return parameter if parameter in record.positional else foreign_field(record, parameter)


def foreign_option(kind: str, name: str, value: str | None) -> tuple[str, str] | None:
    """What another library's parameter ``name``, written as an option of a layer of
    ``kind`` with the value written ``value`` (None: none is), is here, as ``(whose it is,
    the hint)``, read from the tables above: Caffe's parameter that a field takes in another
    meaning (BatchNorm's moving_average_fraction: ``momentum``), that chooses another kind
    (ReLU's negative_slope, Pooling's pool), that gives one side of a size (``pad_h``) or that
    Caffe reads only at its default (``use_global_stats``); Keras' argument that chooses
    another kind (ReLU's max_value); an argument a spec infers from the layer's input
    (PyTorch's in_channels). None for any other name."""
    written = value if value is not None else "..."
    for caffe, entry in CAFFE_TYPES.items():
        chosen = entry.kind_for({name: _caffe_value(written)})
        if name in entry.all_parameters and kind in (entry.kind, chosen):
            answer = _caffe_option(caffe, entry, kind, name, written)
            if answer is not None:
                return f"a parameter of Caffe's {caffe}", answer
    libs = [lib for lib, args in (("Keras", KERAS_ARGS), ("PyTorch", TORCH_ARGS))
            if name in args.get(kind, ())]
    if "Keras" in libs and kind in KERAS_CHOSEN:
        number = _caffe_value(written)
        chosen = keras_kind(kind, {name: number})
        said = f"an argument of Keras' {_class_of('Keras', kind)}"
        if chosen is None or not isinstance(number, float):
            return said, KERAS_CHOSEN[kind][1]
        return said, (f"{_class_of('Keras', kind)}({name}={written}) is `{chosen}` here: "
                      f"write `{chosen}` in place of `{kind} {name} {written}`")
    if libs and foreign_field(KINDS[kind], name) is None and name in UNFIELDED:
        classes = " and ".join(f"{_possessive(lib)} {_class_of(lib, kind)}" for lib in libs)
        return f"an argument of {classes}", UNFIELDED[name].hint.format(written=f"{name} {written}")
    return None


def torch_inferred(kind: str, count: int) -> tuple[int, str] | None:
    """Where the first ``count`` arguments of PyTorch's class of ``kind`` are the kind's
    values by position, in their order, and one more that a spec infers from the layer's
    input (``nn.Conv2d(in_channels, out_channels, kernel_size)``: a conv's filters and
    kernel after in_channels; ``nn.Linear(in_features, out_features)``;
    ``nn.BatchNorm2d(num_features)``; ``nn.GroupNorm(num_groups, num_channels)``): the index
    and the name of that one; else None."""
    signature = TORCH_ARGS.get(kind, ())[:count]
    inferred = [k for k, name in enumerate(signature) if UNFIELDED.get(name) is _INFERRED]
    if len(signature) < count or len(inferred) != 1:
        return None
    k = inferred[0]
    record = KINDS[kind]
    rest = tuple(foreign_field(record, name) for name in signature[:k] + signature[k + 1:])
    return (k, signature[k]) if rest == record.positional else None


def torch_signature(kind: str, count: int) -> str:
    """PyTorch's class of ``kind`` with the names of its first ``count`` arguments:
    ``nn.Conv2d(in_channels, out_channels, kernel_size)``."""
    return f"{_class_of('PyTorch', kind)}({', '.join(TORCH_ARGS[kind][:count])})"


def _possessive(lib: str) -> str:
    """``PyTorch's``, ``Keras'``."""
    return f"{lib}'" if lib.endswith("s") else f"{lib}'s"


def _class_of(lib: str, kind: str) -> str:
    """The class of ``lib`` (Keras or PyTorch) that is a layer of ``kind``
    (:data:`KERAS_CLASSES`; the torch.nn module the kind's export builds), its first of
    several."""
    if lib == "Keras":
        return next(cls for cls, its in KERAS_CLASSES.items() if its == kind)
    return torch_modules(KINDS[kind])[0]


def _caffe_option(caffe: str, entry: CaffeType, kind: str, name: str,
                  written: str) -> str | None:
    """The hint for Caffe's parameter ``name`` of the type ``caffe`` (its ``entry``),
    written with the value ``written`` on a line of ``kind`` (:func:`foreign_option`), or
    None for one not answered so."""
    value = _caffe_value(written)
    record = KINDS[kind]
    if name in entry.converted:
        field, convert = entry.converted[name]
        whose = "Caffe's " + name
        note = f" ({momentum_note(whose)})" if field == "momentum" else ""
        if not _is_finite(value):  # a word, or a number past the largest float (1e400, nan)
            said = f"{unread_refusal([f'{name} {written}'], 'number')}: " \
                if isinstance(value, float) else ""
            return f"{said}write `{field} ...` in its place{note}"
        number = number_text(convert(value))
        # a fraction out of [0, 1] makes a momentum the kind refuses: say so, not write it
        refused = line_refusal(f"{kind} {field} {number}")
        if refused:
            return f"Caffe's {name} {written} is `{field} {number}` here, refused: {refused}{note}"
        return f"write `{field} {number}` in its place{note}"
    if name in entry.choosers:
        no_kind = _caffe_no_kind(caffe, {name: written})
        if no_kind is not None:  # Pooling's pool STOCHASTIC
            return no_kind
        chosen = entry.choose({name: value})
        if chosen == kind:
            return f"`{kind}` says it already: remove `{name} {written}`"
        values = caffe_call_values(caffe, [], {name: written})
        # a slope the kind refuses (-0.5, 1e400, nan): say so, not write it
        refused = line_refusal(f"{chosen} {values}") if values else None
        if refused:
            return (f"Caffe's {caffe} with {name} {written} is `{chosen}` here, but "
                    f"`{chosen} {values}` is refused: {refused}; usage: "
                    f"{KINDS[chosen].usage or chosen}")
        moved = f"`{values}` in place of `{name} {written}`" if values \
            else f"remove `{name} {written}`"
        return (f"Caffe's {caffe} with {name} {written} is `{chosen}` here: write `{chosen}` "
                f"in place of `{kind}`, and {moved}")
    stem, _, axis = name.rpartition("_")
    field = record.field_map.get(caffe_field(record, stem) or "") or next(
        (f for f in record.fields if stem in f.option), None)  # pad_h: the option pad
    if axis in ("h", "w") and field is not None:
        where = f"`{field.option[0]} HxW`" if field.option else "HxW, in its place"
        return f"Caffe's {stem}_h and {stem}_w are written as one size here: {where}"
    if name in entry.defaults:
        default = entry.defaults[name]
        if default is None:
            return f"cnnspec sets it itself or it changes nothing here: remove `{name} {written}`"
        if not _caffe_default(written, default):  # Flatten's axis 2
            return (f"`{kind}` does what Caffe's {name} {_caffe_text(default)} does; another "
                    f"{name} has no counterpart here")
        return (f"`{kind}` does what Caffe's {name} {_caffe_text(default)} does: remove "
                f"`{name} {written}`")
    return None


def _caffe_text(value) -> str:
    """A Caffe parameter's value as Caffe writes it: true and false in lower case."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _caffe_default(text: str, default) -> bool:
    """Whether ``text``, a Caffe parameter's value as written, is its ``default`` (None: any
    value is, as :class:`CaffeType` says)."""
    if default is None:
        return True
    if isinstance(default, bool):
        return text.lower() == str(default).lower()
    try:
        return float(text) == default
    except ValueError:
        return False


def called_as(name: str, keywords: list[str], values: int = 0) -> str | None:
    """Whose layer a call of ``name`` with these keyword arguments and ``values`` positional
    ones is, where ``name`` is Caffe's layer type: ``Caffe`` for a call with a parameter the
    type takes and no argument only Keras' or PyTorch's class takes (``Dropout(
    dropout_ratio=0.5)``, ``Concat(axis=1)``) or a type no Keras or PyTorch class is named as
    (``InnerProduct(10)``), ``either`` for a name both use called with no keyword
    (``Dropout(0.5)``, ``Flatten()``); None for another call (``Dropout(rate=0.5)``,
    ``ReLU(negative_slope=0.2, max_value=6)``; ``ReLU(6)``, a value where Caffe's type takes
    none) or name."""
    caffe = caffe_type(name)
    if caffe is None:
        return None
    entry = CAFFE_TYPES.get(caffe)
    kind = foreign_kind(name)
    if kind is None:
        return "Caffe"
    if entry is None:
        return None if keywords else "either"
    others = {*KERAS_ARGS.get(kind, ()), *TORCH_ARGS.get(kind, ())} - set(entry.all_parameters)
    if any(keyword in entry.all_parameters for keyword in keywords) and not any(
            keyword in others for keyword in keywords):
        return "Caffe"
    if keywords or values and not KINDS[entry.kind].positional:
        return None
    return "either"


def either_answer(call: ForeignCall, values: str | None,
                  caffe_hint: str) -> tuple[str, str | None]:
    """The hint for a call that may be Keras' or PyTorch's class or Caffe's type of the same
    name (:func:`called_as`: ``Dropout(0.5)``, ``Flatten()``): the line both mean, or each
    library's answer where they differ (``caffe_hint``, for the Caffe type's ``values``);
    with the line both mean, which it tells to write in place of the user's (None where they
    differ)."""
    libs, kind = _libraries_of(call), foreign_kind(call.name)
    lib = either_of(libs)
    line, refused = _translation(call, kind)
    caffe_line = f"{CAFFE_KINDS[caffe_type(call.name)]} {values or ''}".strip()
    said = f"this is {either_of([*libs, 'Caffe'])} syntax"
    if line is not None and not refused and values is not None \
            and line == (f"{call.label}: {caffe_line}" if call.label else caffe_line):
        return f"{said}; in cnnspec the layer is the line `{line}`", line
    return f"{said}; as {lib} writes it, {_kind_answer(kind, line, refused)}; {caffe_hint}", None


# The label a layer line is read under by line_refusal, left out of what it says.
REFUSAL_LABEL = "layer"


def line_refusal(line: str) -> str | None:
    """What keeps ``line``, a layer written from another library's values (Darknet's
    ``filters=-1``, Keras' ``Conv2D(0, 3)``), from being read as a spec's layer, in the
    words of the error it gets (``the number of filters must be at least 1, not -1``); None
    for a line that reads. Its shapes are not checked: the input it will have is not known."""
    error = line_error(f"{REFUSAL_LABEL}: {line}")
    if error is None:
        return None
    message = error.message.replace(f" of '{REFUSAL_LABEL}'", "")
    return message.replace(f" '{REFUSAL_LABEL}'", "")


def line_error(line: str):
    """The first error ``line``, a layer's line, gets where it follows an input, its span on
    line 1 (the line's own); None for a line that reads."""
    from cnnspec.errors import SpecError, SpecErrors, first_error

    try:
        tried(f"input 1x8x8\n{line}\n")
    except (SpecError, SpecErrors) as exc:
        error = first_error(exc)
        span = error.span
        if span is not None:  # one line down in the text read
            span = dataclasses.replace(span, line=span.line - 1,
                                       end_line=span.end_line and span.end_line - 1)
        return dataclasses.replace(error, span=span)
    return None


def _darknet_line(kind: str, keys: dict[str, str]) -> str | None:
    """The line of a Darknet layer section of ``kind`` with the values of ``keys``; None
    when a value the line needs is not among them."""
    given = {DARKNET_KEYS[k]: _darknet_number(v) for k, v in keys.items() if k in DARKNET_KEYS}
    if kind == "upsample":
        given = {"scale_factor": given.get("strides", 2)}
    if kind == "maxpool":
        given = _darknet_maxpool(keys)
        if given is None:
            return None
    elif keys.get("pad") == "1" and "kernel_size" in given:  # pad=1: size // 2 on every side
        given["padding"] = given["kernel_size"] // 2
    elif "padding" in keys:
        given["padding"] = _darknet_number(keys["padding"])
    if given.get("padding") == 0:
        del given["padding"]
    normalized = keys.get("batch_normalize") == "1"
    if normalized:
        given["use_bias"] = False  # Darknet's batch norm has the shift: no bias before it
    words = [cnnspec_line(kind, "Keras", [], given)]
    if words[0] is None:
        return None
    if normalized:
        words.append("bn")
    if KINDS[kind].takes_activation and kind != "batchnorm":
        words.append(darknet_activation_text(
            keys.get("activation", DARKNET_DEFAULT_ACTIVATION)) or "")
    return " ".join(word for word in words if word)


def _darknet_maxpool(keys: dict[str, str]) -> dict | None:
    """A Darknet [maxpool]'s window, stride and padding (:func:`darknet_pool`) as Keras names
    them; None where one is no whole number in range. The padding is written per side, top x
    bottom x left x right, so the spec's windows sit where Darknet's do."""
    given = [_darknet_number(keys[k]) if k in keys else None
             for k in ("size", "stride", "padding")]
    if not all(value is None or isinstance(value, int) for value in given):
        return None
    size, stride, before, after = darknet_pool(*given)
    if min(stride, size) < 1 or before + after < 0:
        return None
    given = {"kernel_size": size, "strides": stride}
    if before + after:
        given["padding"] = before if before == after else (before, after, before, after)
    return given


def _darknet_number(text: str) -> int | float | str:
    """A Darknet value as a number where it is a finite one (more digits than int() reads
    are no float to write in a line either: float() makes them inf)."""
    for kind in (int, float):
        try:
            number = kind(text)
        except ValueError:
            continue
        return number if _is_finite(number) else text
    return text
