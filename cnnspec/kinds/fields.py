"""The fields a layer kind declares: name, type, default, bounds and the words that name them.

A :class:`Field` is the one declaration of an IR field. The JSON Schema of a layer is built
from it (:mod:`cnnspec.kinds.schema`), the language builds its reader from it (``lang.layers``)
and the docs table lists it; none of them spells the field's type or range again.

Types: ``count`` (a whole number >= 1), ``pair`` ([height, width], each >= 1), ``margin``
([height, width], each >= 0: a transposed convolution's output padding), ``padding``
(``valid``, ``same``, [ph, pw] or [top, bottom, left, right]), ``number`` (a float within the bounds
given), ``choice`` (a word among ``options``), ``bool``, ``init`` (a weight initializer),
``bias_init`` (a bias initializer, null when the layer has no bias), ``init_fields`` (a list of init
field names).
"""
from __future__ import annotations

from cnnspec.dtypes import FORMATS, WIDEST_DTYPE
from cnnspec.ir.limits import MAX_INT
from cnnspec.records import record

REQUIRED = "required"  # a field the user must write
FROM_DEFAULT = "from default"  # an init left out: the model-wide `default` fills it in

# The field types another library's call never gives by position: initializers, and Caffe's
# multipliers (a number after a conv's kernel is Keras' and PyTorch's stride, not lr_mult).
NAMED_ONLY_TYPES = frozenset({"init", "bias_init", "mults"})

# The bound of a number field's unbounded side: the widest dtype's largest finite number.
WIDEST_MAX = FORMATS[WIDEST_DTYPE].largest


@record(frozen=True)
class Field:
    """One IR field of a layer kind.

    ``default``: the value when the spec leaves the field out, :data:`REQUIRED`,
    :data:`FROM_DEFAULT` (inits) or, with ``default_from``, another field's value (a pooling
    window's stride is its size). ``words``: how messages name the field ("number of
    filters"). ``option``: the words that set it in the language (``stride 2``, ``pad same``);
    ``flag``: a word that sets it without a value and the value it sets (``nobias`` -> False).
    ``hint``: what the value means, with a typical one, for a value out of range.
    """

    name: str
    type: str
    default: object = REQUIRED
    words: str = ""
    hint: str | None = None
    option: tuple[str, ...] = ()
    flag: tuple[str, object] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    options: tuple[str, ...] = ()
    default_from: str | None = None

    @property
    def required(self) -> bool:
        return self.default == REQUIRED and not self.default_from

    @property
    def named_only(self) -> bool:
        """Whether a call-form argument past the kind's values is never read as this field:
        its type is one of :data:`NAMED_ONLY_TYPES`."""
        return self.type in NAMED_ONLY_TYPES

    @property
    def described(self) -> str:
        """How a message names the field: its ``words`` or else its name."""
        return self.words or self.name

    def is_default(self, value, fields: dict) -> bool:
        """``value`` is what the field holds when the spec leaves it out; ``fields``: the
        layer's other fields (a pooling window's stride is its size). A spec writer leaves
        such a value out, and a short label need not say it."""
        if self.default_from:
            return list(value) == list(fields.get(self.default_from, ()))
        default = self.resolved_default()
        if self.type == "padding" and not isinstance(value, str) and not any(value):
            return default == "valid"  # no padding at all is the default, `valid`
        if isinstance(default, list):
            return list(value) == default
        return default is not None and value == default

    def resolved_default(self):
        """The IR value of a field left out (None: filled in later: REQUIRED fields raise, inits
        come from the model-wide default, ``default_from`` copies another field)."""
        if self.default in (REQUIRED, FROM_DEFAULT) or self.default_from:
            return None
        return list(self.default) if isinstance(self.default, (list, tuple)) else self.default


def count(name: str, words: str, hint: str) -> Field:
    return Field(name, "count", words=words, hint=hint)


def pair(name: str, words: str = "", default=REQUIRED, option: tuple[str, ...] = (),
         default_from: str | None = None) -> Field:
    return Field(name, "pair", default=default, words=words, option=option,
                 default_from=default_from)


def padding(default: str = "valid") -> Field:
    return Field("padding", "padding", default=default, words="padding", option=("pad", "padding"))


def number(name: str, default, hint: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False, words: str = "",
           option: tuple[str, ...] | None = None) -> Field:
    return Field(name, "number", default=default, words=words, hint=hint, low=low, high=high,
                 low_open=low_open, high_open=high_open,
                 option=(name,) if option is None else option)


def choice(name: str, options: tuple[str, ...], default: str, words: str = "") -> Field:
    return Field(name, "choice", default=default, words=words, options=options, option=(name,))


def flag(name: str, word: str, value: bool) -> Field:
    """A boolean that defaults to ``not value`` and that ``word`` sets to ``value``."""
    return Field(name, "bool", default=not value, words=word, flag=(word, value))


WEIGHT_INIT = Field("weight_init", "init", default=FROM_DEFAULT, words="the weight initializer",
                    option=("weight",))
BIAS_INIT = Field("bias_init", "bias_init", default=FROM_DEFAULT, words="the bias initializer",
                  option=("bias",))
# The names of a layer's init fields, as the IR keys them: what every reader of a layer's
# inits looks up.
WEIGHT_INIT_KEY, BIAS_INIT_KEY = WEIGHT_INIT.name, BIAS_INIT.name
# Which of a layer's inits came from the model-wide default (or the init catalogue's
# BUILT_IN_DEFAULTS) rather than the layer's own line: what an init variant (`--init`) and a
# swept default init (`--set init=`, `--set bias=`) replace, as a transform of the IR. Filled
# in by the resolver; the language has no word for it.
DEFAULT_INITS = Field("default_inits", "init_fields", default=(),
                      words="the inits taken from the model-wide default")
# Caffe's lr_mult and decay_mult: the learning rate and the weight decay of the layer's weight
# and bias, as multiples of the training's (`lr_mult [1, 2] decay_mult [1, 0]`: the bias at
# twice the rate and without decay, Caffe's usual setting).
LR_MULT = Field("lr_mult", "mults", default=(1.0, 1.0), words="lr_mult", option=("lr_mult",),
                hint="multiples of the learning rate for the weight and the bias, e.g. [1, 2]")
DECAY_MULT = Field("decay_mult", "mults", default=(1.0, 1.0), words="decay_mult",
                   option=("decay_mult",),
                   hint="multiples of the weight decay for the weight and the bias, e.g. [1, 0]")
BIAS = flag("bias", "nobias", False)
TRAINABLE = flag("trainable", "frozen", False)


def field_schema(f: Field) -> dict:
    """The JSON Schema of one field's value."""
    if f.type == "mults":
        return {"type": "array", "items": {"type": "number", "minimum": 0},
                "minItems": 2, "maxItems": 2}
    if f.type == "count":
        return {"$ref": "#/$defs/size"}
    if f.type == "pair":
        return {"$ref": "#/$defs/pair"}
    if f.type == "padding":
        return {"$ref": "#/$defs/padding"}
    if f.type == "margin":
        return {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
                "minItems": 2, "maxItems": 2}
    if f.type == "bool":
        return {"type": "boolean"}
    if f.type == "init":
        return {"$ref": "#/$defs/init"}
    if f.type == "bias_init":
        return {}  # its layer's schema makes it an init, or null without a bias
    if f.type == "init_fields":
        return {"type": "array", "items": {"enum": [WEIGHT_INIT_KEY, BIAS_INIT_KEY]},
                "uniqueItems": True}
    if f.type == "choice":
        return {"enum": list(f.options)}
    # A layer's number is read as the widest dtype holds it (an unbounded side is bounded
    # there, so that a JSON 1e400, read as infinity, is refused); check holds it to the dtype
    # the run computes in (cnnspec.ir.limits.unheld).
    schema: dict = {"type": "number"}
    if f.low is not None:
        schema["exclusiveMinimum" if f.low_open else "minimum"] = f.low
    else:
        schema["minimum"] = -WIDEST_MAX
    if f.high is not None:
        schema["exclusiveMaximum" if f.high_open else "maximum"] = f.high
    else:
        schema["maximum"] = WIDEST_MAX
    return schema


def default_text(f: Field) -> str:
    """The default as the docs write it: ``(1)``, ``(valid)``, ``(= size)``; empty if none."""
    if f.default_from:
        return f"(= {f.default_from})"
    if f.default in (REQUIRED, FROM_DEFAULT) or f.type == "bool":
        return ""
    value = f.default
    if isinstance(value, (list, tuple)) and len(set(value)) == 1:
        value = value[0]
    return f"({value})"
