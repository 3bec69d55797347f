"""The initializer catalogue: every init's name, aliases, parameters (type, default, meaning),
family, whether it may initialise a bias, and what it draws.

This is the one declaration: the language builds its readers from it (lang/inits.py), the IR's
JSON Schema holds the ``$defs/init`` made from it (init/schema.py, written by
tools/generate.py), the docs table of initializers is generated from it, and ``describe`` and
``create`` dispatch on its names.

Every init in the IR is ``{"name": ..., <params>}`` with a canonical name and every parameter
explicit (docs/ir.md). :func:`canonical` turns a possibly partial init (an alias, missing
defaults) into that form and rejects unknown names and parameters, so the rest of the
package can read an init without guessing.
"""
from __future__ import annotations

from collections.abc import Callable

from cnnspec.errors import SpecError, closest, float_text, foreign_hint
from cnnspec.init.fans import FAN_MODES
from cnnspec.init.truncation import truncation
from cnnspec.records import record

REQUIRED = object()  # marks a parameter without a default

RELU_GAIN = {"nonlinearity": "relu"}
LINEAR_GAIN = {"nonlinearity": "linear"}

# Parameter types: what a value may be, in the IR's JSON Schema and in the language alike.
PARAM_TYPES = {
    "number": {"type": "number"},
    "positive": {"type": "number", "exclusiveMinimum": 0},
    "count": {"$ref": "#/$defs/size"},
    "fan_mode": {"enum": list(FAN_MODES)},
    "he_mode": {"enum": ["fan_in", "fan_out"]},  # He's schemes pick one fan; fan_avg is Glorot's
    "distribution": {"enum": ["uniform", "normal", "truncated_normal"]},
    "gain": {"$ref": "#/$defs/gain"},
    "numbers": {"$ref": "#/$defs/numbers"},
    "bound": {"type": ["number", "null"]},  # null: the default the parameter's docs give
}


@record(frozen=True)
class InitParam:
    """One parameter of an init: its name, type (a key of :data:`PARAM_TYPES`), default (or
    :data:`REQUIRED`) and what it means, with a typical value, for a value out of range. A
    default of None (``null`` in the IR) stands for one computed from the other parameters,
    as ``written_default`` says."""

    name: str
    type: str
    default: object = REQUIRED
    hint: str | None = None
    written_default: str | None = None  # how the docs write a default that is no value (None)


@record(frozen=True)
class Init:
    """One named init. ``family``: ``constant``, ``random`` (a distribution with explicit
    parameters), ``scaled`` (a variance set by the fans), ``matrix`` (a structured matrix),
    ``kernel`` (fixed values) or ``data`` (set from a batch of data). ``bias``: whether it may
    initialise a bias (scaled ones then use the layer's weight fans). ``doc``: what it draws,
    with its formula and source, for the docs table. ``torch``: the PyTorch statement that
    draws the same distribution into the parameter ``{p}`` (a template filled by
    :func:`cnnspec.init.torch_code.torch_statement`), or one per value of the init's
    ``distribution``; names without ``nn.`` are the functions of
    :mod:`cnnspec.init.torch_inits`."""

    name: str
    family: str
    doc: str
    params: tuple[InitParam, ...] = ()
    aliases: tuple[str, ...] = ()
    bias: bool = False
    written: str | None = None  # how the docs write it, where not name(params)
    torch: str | dict[str, str] = ""
    source: str = ""  # the paper its formula comes from, as the docs and the summary cite it
    # Written with its defaults too where an init is shown (describe.init_text): they are what
    # a reader most needs to see (variance_scaling's, a truncated normal over fan_in).
    defaults_shown: bool = False
    # The general form the named scaled inits are each one setting of (variance_scaling): the
    # language offers it where one of theirs is given a parameter only it takes.
    general: bool = False
    # A list written where an init goes (`weight [[0, 1], [1, 0]]`) is this init of it: its
    # one parameter holds the list.
    from_list: bool = False
    # A check of its parameters by themselves, before any layer: raises a SpecError without a
    # place (the language adds the place it was written).
    check: Callable[[dict], None] | None = None
    # Placed on the mean-field phase diagram by its name alone (cnnspec/lab/phase.py): drawn
    # with mean 0 and a variance its name fixes, sigma_w^2 / fan_in (Poole et al. 2016). A
    # general form (placed by its arguments), a fixed kernel or matrix, a data-driven scale
    # and a distribution given by value are not.
    phase_placed: bool = False
    # A constant whose name is its value (zeros, ones): written and shown by the name alone.
    value: float | None = None

    @property
    def needs_data(self) -> bool:
        """Whether a weight it initialises is drawn as usual and then set again on a batch of
        the training data before the first step (LSUV, Mishkin & Matas 2016): a run of it
        needs its data for that, and ``check`` with a data file runs that step on it. The
        ``data`` family is made of such inits."""
        return self.family == "data"


# The papers the schemes come from, cited in the docs table and beside each summary formula.
GLOROT_2010 = "Glorot & Bengio 2010"
HE_2015 = "He et al. 2015"
LECUN_1998 = "LeCun et al. 1998"
SAXE_2014 = "Saxe et al. 2014"
XIAO_2018 = "Xiao et al. 2018"
MARTENS_2010 = "Martens 2010"
MISHKIN_2016 = "Mishkin & Matas 2016"
# No paper: the library's own choice, kaiming_uniform_(w, a=math.sqrt(5)) on the weight and
# U(±1/√fan_in) on the bias, in torch/nn/modules/conv.py and linear.py.
TORCH_RESET = "PyTorch's nn.Conv2d and nn.Linear reset_parameters"

STD = InitParam("std", "positive", hint="the standard deviation, e.g. 0.01; for the same value "
                "everywhere write constant(VALUE)")
MEAN = InitParam("mean", "number", 0.0)
# A truncated normal's cut, as values (PyTorch's trunc_normal_ a and b); left out, mean -+ 2 std.
CUT = (InitParam("low", "bound", None, written_default="mean−2·std"),
       InitParam("high", "bound", None, written_default="mean+2·std"))


# LSUV's stop beyond the paper's (cnnspec/lab/lsuv.py): a tol below the dtype's rounding
# would otherwise spend every one of max_iter rescalings. Said by the docs and the hint.
LSUV_STOP = "fewer once one no longer brings the variance nearer 1: that one is undone"


def _gain(default: dict) -> InitParam:
    return InitParam("gain", "gain", default)


# The PyTorch statements of the three distributions a scaled scheme draws from; ``bound``,
# ``std``, and a truncated normal's ``loc`` and ``sigma`` (its mean and std before the cut)
# and cut ``low`` to ``high`` come from ``describe``.
TORCH_UNIFORM = "nn.init.uniform_({p}, -{bound}, {bound})"
TORCH_NORMAL = "nn.init.normal_({p}, 0.0, {std})"
TORCH_TRUNCATED = "nn.init.trunc_normal_({p}, {loc}, {sigma}, {low}, {high})"
TORCH_KERNEL = "kernel_({p}, {values}, {placement})"


# Names that mean something else in another library: the sentence a warning about the init
# (and its docs entry) adds, so that a spec written from the other library's habits is caught.
SAME_NAME_ELSEWHERE = {
    "gaussian": "Caffe's `gaussian` filler, random N(0, std²), is `normal(0, std)` here; "
                "`gaussian(sigma)` is a fixed blur kernel, the same for every filter",
}


def _low_below_high(params: dict) -> None:
    """uniform(low, high): an interval to draw from, low below high."""
    low, high = params["low"], params["high"]
    if low >= high:
        raise SpecError("uniform(low, high) needs low < high",
                        hint=f"swap them: uniform({float_text(high)}, {float_text(low)})"
                        if low > high else
                        f"for the same value everywhere write constant({float_text(low)})")


def _cut_keeps_enough(params: dict) -> None:
    """A truncated normal's bounds in order and keeping enough of the normal to draw from
    (:func:`cnnspec.init.truncation.truncation`)."""
    truncation(params["mean"], params["std"], params["low"], params["high"])


INITS: tuple[Init, ...] = (
    Init("zeros", "constant", "every element 0. Warned about as constant is; before a ReLU with "
         "no bias above 0, the layer gets no gradient at all and never changes.", bias=True,
         torch="nn.init.zeros_({p})", value=0.0),
    Init("ones", "constant", "every element 1", bias=True, torch="nn.init.ones_({p})",
         value=1.0),
    Init("constant", "constant", "every element the same value. Warned about on trainable "
         "hidden layers: every filter starts the same, and where what reads the layer weighs "
         "its channels alike too (a constant there as well), every filter gets the same "
         "gradient, so symmetry never breaks.",
         (InitParam("value", "number"),), bias=True, torch="nn.init.constant_({p}, {value})"),
    Init("uniform", "random", "U(low, high)", (InitParam("low", "number"),
                                               InitParam("high", "number")), bias=True,
         torch="nn.init.uniform_({p}, {low}, {high})", check=_low_below_high),
    Init("normal", "random", "N(mean, std²)", (MEAN, STD), bias=True,
         torch="nn.init.normal_({p}, {mean}, {std})"),
    Init("truncated_normal", "random", "N(mean, std²) redrawn outside [low, high] (std before "
         "truncation); low and high are values, as PyTorch's trunc_normal_(a, b), and left out "
         "mean ± 2·std, as Keras' TruncatedNormal. The interval must keep at least 1% of the "
         "normal.", (MEAN, STD, *CUT), bias=True, torch=TORCH_TRUNCATED,
         check=_cut_keeps_enough),
    Init("variance_scaling", "scaled",
         "variance `scale / n`, n the fan chosen by `mode` (`fan_in`, `fan_out`, `fan_avg` = "
         "(in+out)/2); `uniform`: U(−√(3·scale/n), +√(3·scale/n)); `normal`: N(0, scale/n); "
         "`truncated_normal`: cut at ±2σ with σ = √(scale/n) / 0.87962566 so that the "
         "*truncated* std is √(scale/n). On a bias, the layer's weight fans: "
         "`variance_scaling(0.333333, fan_in, uniform)` is PyTorch's default bias, "
         "U(±1/√fan_in) (scale 1/3).",
         (InitParam("scale", "positive", 1.0, "the variance times the fan: 1 keeps a linear "
                    "layer's variance, 2 a ReLU layer's (He et al. 2015)"),
          InitParam("mode", "fan_mode", "fan_in"),
          InitParam("distribution", "distribution", "truncated_normal")), bias=True,
         torch={"uniform": TORCH_UNIFORM, "normal": TORCH_NORMAL,
                "truncated_normal": TORCH_TRUNCATED}, defaults_shown=True, general=True),
    Init("glorot_uniform", "scaled", "variance_scaling(gain², fan_avg, uniform): U(−a, a) with "
         f"a = gain·√(6 / (fan_in + fan_out)) — {GLOROT_2010}",
         (_gain(LINEAR_GAIN),), ("xavier_uniform",), bias=True, torch=TORCH_UNIFORM,
         source=GLOROT_2010, phase_placed=True),
    Init("glorot_normal", "scaled", "variance_scaling(gain², fan_avg, normal): N(0, gain²·2 / "
         f"(fan_in + fan_out)), not truncated — {GLOROT_2010}",
         (_gain(LINEAR_GAIN),), ("xavier_normal",), bias=True, torch=TORCH_NORMAL,
         source=GLOROT_2010, phase_placed=True),
    Init("he_uniform", "scaled", "variance_scaling(gain², mode, uniform): U(−a, a) with a = "
         f"gain·√(3 / fan) — {HE_2015}. `mode=fan_in` keeps the forward signal's "
         "variance, `fan_out` the backward gradient's.",
         (InitParam("mode", "he_mode", "fan_in"), _gain(RELU_GAIN)), ("kaiming_uniform",),
         bias=True, torch=TORCH_UNIFORM, source=HE_2015, phase_placed=True),
    Init("he_normal", "scaled", "variance_scaling(gain², mode, normal): std = gain / √fan = "
         f"√(2 / fan_in) for ReLU; **not** truncated (PyTorch's kaiming) — {HE_2015}",
         (InitParam("mode", "he_mode", "fan_in"), _gain(RELU_GAIN)), ("kaiming_normal",),
         bias=True, torch=TORCH_NORMAL, source=HE_2015, phase_placed=True),
    Init("lecun_uniform", "scaled", f"variance_scaling(1, fan_in, uniform) — {LECUN_1998}. "
         "Caffe's `xavier` is this one.", bias=True, torch=TORCH_UNIFORM, source=LECUN_1998,
         phase_placed=True),
    Init("lecun_normal", "scaled", "variance_scaling(1, fan_in, normal), not truncated — "
         f"{LECUN_1998}", bias=True, torch=TORCH_NORMAL, source=LECUN_1998, phase_placed=True),
    Init("torch_default", "scaled", "variance_scaling(1/3, fan_in, uniform): U(−1/√fan_in, "
         "+1/√fan_in), kaiming_uniform_(w, a=√5) (gain √(2 / (1 + 5)), bound "
         "gain·√(3 / fan_in)); on a bias, the same bound from the weight's fan_in — "
         f"{TORCH_RESET}, what PyTorch's layers draw unless told otherwise. The "
         "\"standard\" init of Glorot & Bengio 2010 (their eq. 1): fan_in·Var(w) = 1/3, so the "
         "variance shrinks 3x at each linear layer and 6x at each ReLU layer", bias=True,
         torch=TORCH_UNIFORM, source=TORCH_RESET, phase_placed=True),
    Init("sparse", "random", "each unit (filter or dense row) gets `nonzero` incoming weights "
         f"drawn N(0, std²) at random positions (clipped to fan_in), the rest 0 — {MARTENS_2010}, "
         "\"Deep learning via Hessian-free optimization\", §5 (15 per unit; unit Gaussian weights, "
         "as Sutskever et al. 2013 describe it). Not "
         "torch's `sparse_`, which zeroes a fraction of each column.",
         (InitParam("nonzero", "count", 15, "nonzero incoming weights per unit, e.g. 15"),
          InitParam("std", "positive", 1.0, "the std of the nonzero weights, e.g. 1")),
         torch="sparse_({p}, {nonzero}, {std})", source=MARTENS_2010),
    Init("positive_unitball", "random", "U(0, 1), then each unit's incoming weights (a filter's "
         "in·kh·kw, a dense row's in) divided by their sum: positive, summing to 1 — Caffe's "
         "`positive_unitball` filler", torch="positive_unitball_({p})"),
    Init("orthogonal", "matrix", "the weight, reshaped to (out, in·kh·kw), has orthonormal rows "
         f"or columns, times gain — {SAXE_2014}", (_gain(LINEAR_GAIN),),
         torch="nn.init.orthogonal_({p}, {gain})", source=SAXE_2014, phase_placed=True),
    Init("delta_orthogonal", "matrix", "an (out, in) matrix with orthonormal columns (out ≥ "
         "in: the isometry of the paper) or rows (out < in), times gain, at the kernel centre "
         f"((k−1)//2 on each axis, as `identity`), 0 at every other tap — {XIAO_2018}, "
         "\"Dynamical isometry and a mean field theory of CNNs\". A dense weight is the 1x1 "
         "case, `orthogonal(gain)`, so a model-wide default covers the dense head too.",
         (_gain(LINEAR_GAIN),), torch="delta_orthogonal_({p}, {gain})", source=XIAO_2018,
         phase_placed=True),
    Init("identity", "matrix", "filter i has a 1 at the centre of channel i, for i < "
         "min(out, in), 0 elsewhere: a `same` conv passes its input through. The centre is "
         "index (k−1)//2 on each kernel axis, the tap `same` padding aligns for an even k too "
         "(PyTorch's `dirac_` uses k//2); dense: the identity matrix", aliases=("dirac",),
         torch="identity_({p})"),
    Init("literal", "kernel", "a hand-written kernel: 2-D [kh][kw] for every filter and "
         "channel, 3-D [out][kh][kw] one per filter for every channel, 4-D [out][in][kh][kw] "
         "every value; a dense weight or a bias takes exactly its own shape",
         (InitParam("values", "numbers"),), written="[[...]] (or literal([[...]]))",
         torch=TORCH_KERNEL, from_list=True),
    Init("sobel_x", "kernel", "[[-1,0,1],[-2,0,2],[-1,0,1]] for every filter and channel",
         torch=TORCH_KERNEL),
    Init("sobel_y", "kernel", "the transpose of sobel_x", torch=TORCH_KERNEL),
    Init("laplacian", "kernel", "[[0,1,0],[1,-4,1],[0,1,0]]", torch=TORCH_KERNEL),
    Init("gaussian", "kernel", "a normalised Gaussian blur of the layer's kernel size. "
         + SAME_NAME_ELSEWHERE["gaussian"] + ".",
         (InitParam("sigma", "positive", hint="the blur's standard deviation in pixels, e.g. "
                    "gaussian(1)"),), torch=TORCH_KERNEL),
    Init("bilinear", "kernel", "Caffe's `bilinear` filler, for upsampling with a transposed "
         "conv of stride s and kernel 2s − s%2: on each axis f = ⌈k/2⌉, c = (k − 1)/(2f), "
         "w[y, x] = (1 − |x/f − c|)(1 − |y/f − c|); every filter and channel",
         torch=TORCH_KERNEL),
    Init("box", "kernel", "1/(kh·kw) everywhere (a mean filter)", torch=TORCH_KERNEL),
    Init("x_kernel", "kernel", "1 on both diagonals, 0 elsewhere; 3x3: [[1,0,1],[0,1,0],[1,0,1]]",
         torch=TORCH_KERNEL),
    Init("lsuv", "data", "orthogonal at build time, then rescaled layer by layer on a batch of "
         f"data until each output's variance is 1 ± tol, at most `max_iter` rescalings a layer "
         f"({LSUV_STOP}) — {MISHKIN_2016}",
         (InitParam("tol", "positive", 0.1, "each output's variance must end within 1 +- tol, "
                    "e.g. 0.1"),
          InitParam("max_iter", "count", 10, f"rescalings tried per layer at most ({LSUV_STOP}), "
                    "e.g. 10")),
         # what cnnspec draws at build time; the rescaling on data is the trainer's
         torch="nn.init.orthogonal_({p})", source=MISHKIN_2016),
)

BY_NAME: dict[str, Init] = {init.name: init for init in INITS}
# The init a list written where an init goes is (literal), and the general form the named
# scaled inits are settings of (variance_scaling): each the one entry marked so.
LIST_INIT = next(init for init in INITS if init.from_list)
GENERAL_INIT = next(init for init in INITS if init.general)
# The inits a parameter takes where neither its layer's line nor a `default` line gives one:
# He's scheme, made for the ReLU most layers feed, and biases of 0. The resolver fills them in,
# and hints that show how to write an init of one's own name them (by role).
BUILT_IN_DEFAULTS = {"weight": BY_NAME["he_normal"].name, "bias": BY_NAME["zeros"].name}
# name -> {param: default}; the order is the order users meet them in docs/ir.md.
PARAMS: dict[str, dict[str, object]] = {
    init.name: {p.name: p.default for p in init.params} for init in INITS}
INIT_NAMES: tuple[str, ...] = tuple(PARAMS)
# Spellings the language accepts for the same scheme; the IR only holds the canonical name.
ALIASES = {alias: init.name for init in INITS for alias in init.aliases}
# Fixed kernels: no randomness, the same values every time.
KERNEL_NAMES = tuple(init.name for init in INITS if init.family == "kernel")
# What may initialise a bias (a vector: no kernel shape; scaled ones use the weight's fans).
BIAS_NAMES = tuple(init.name for init in INITS if init.bias)


def needs_data(init: dict | None) -> bool:
    """Whether the IR init ``init`` (None where a parameter has none) is one that a batch of
    data sets after the ordinary draw (:attr:`Init.needs_data`)."""
    entry = BY_NAME.get((init or {}).get("name"))
    return entry is not None and entry.needs_data


# Keras' scale where its initializer is given none: RandomNormal's and TruncatedNormal's stddev,
# RandomUniform's maxval (and minus its minval). Its importer and the hints below read it.
KERAS_SCALE = 0.05
_KERAS_NORMAL = f"normal(0, {float_text(KERAS_SCALE)})"
_KERAS_UNIFORM = f"uniform({float_text(-KERAS_SCALE)}, {float_text(KERAS_SCALE)})"
_KERAS_BOUNDS = (f"Keras' minval and maxval are low and high here: "
                 f"RandomUniform({float_text(-KERAS_SCALE)}, {float_text(KERAS_SCALE)}) is "
                 f"{_KERAS_UNIFORM}")

# Names other libraries use for schemes that have a different name here, or that mean different
# things in different libraries: the hint an unknown name gets instead of a spelling guess (and
# a row of the docs' table of other libraries' words).
FOREIGN_NAMES = {
    "xavier": "Caffe's xavier (U(±√(3/fan_in))) is lecun_uniform here; Keras' and PyTorch's "
              "xavier/glorot (U(±√(6/(fan_in + fan_out)))) is glorot_uniform",
    "msra": "Caffe's msra (N(0, 2/fan_in)) is he_normal here",
    "kaiming": "PyTorch's kaiming_normal_ is he_normal here, kaiming_uniform_ he_uniform; "
               "what nn.Conv2d and nn.Linear draw by default is torch_default",
    "random_normal": f"Keras' RandomNormal (stddev {float_text(KERAS_SCALE)} unless given) is "
                     f"{_KERAS_NORMAL} here",
    "random_uniform": f"Keras' RandomUniform (minval {float_text(-KERAS_SCALE)}, "
                      f"maxval {float_text(KERAS_SCALE)} "
                      f"unless given) is {_KERAS_UNIFORM} here",
    "trunc_normal": "PyTorch's trunc_normal_(w, mean, std, a, b) is truncated_normal(mean, std, "
                    "low=a, high=b) here. Left out, PyTorch's a and b are the values -2 and 2, "
                    "which for a small std cut nothing (trunc_normal_(std=s) is normal(0, s)); "
                    "truncated_normal's low and high left out cut at mean ± 2 std, as Keras' "
                    "TruncatedNormal",
    "eye": "PyTorch's eye_ and dirac_ and Keras' Identity are identity here",
}

# Keras' names of an init's parameters that are another name of one here: a call that writes
# them is hinted as the same call written here, with the user's own values.
KERAS_PARAM_NAMES = {"stddev": "std", "minval": "low", "maxval": "high"}

# PyTorch's bounds of uniform_(a, b) and trunc_normal_(mean, std, a, b), for an init here that
# takes bounds; given to one with a gain instead, a is kaiming's slope (TORCH_GAIN_PARAMS).
TORCH_BOUND_NAMES = {"a": "low", "b": "high"}

# The parameters of PyTorch's kaiming_*_ that make the gain here, read as its calculate_gain
# reads them: nonlinearity (left out, leaky_relu) and a, the slope of a leaky ReLU (left out, 0;
# read with leaky_relu alone).
TORCH_GAIN_PARAMS = ("a", "nonlinearity")

# Parameter names other libraries give an init, with what they are here: the hint for such a
# parameter (and rows of the same docs table).
FOREIGN_PARAMS = {
    "nonlinearity": "PyTorch's nonlinearity= is gain= here, with the same names: "
                    "kaiming_normal_(w, nonlinearity='relu') is he_normal(gain=relu)",
    "a": "PyTorch's kaiming_*_(a=) is the slope of the leaky ReLU after the layer: "
         "gain=leaky_relu(a) here (kaiming_uniform_(w, a=math.sqrt(5)), nn.Conv2d's default, "
         "is torch_default); its uniform_(a, b) is uniform(low, high), its "
         "trunc_normal_(mean, std, a, b) truncated_normal(mean, std, low, high)",
    "b": "PyTorch's uniform_(a, b) is uniform(low, high) here, its trunc_normal_(mean, std, a, "
         "b) truncated_normal(mean, std, low, high)",
    "stddev": f"Keras' stddev is {KERAS_PARAM_NAMES['stddev']} here: "
              f"RandomNormal(stddev={float_text(KERAS_SCALE)}) is {_KERAS_NORMAL}",
    "minval": _KERAS_BOUNDS,
    "maxval": _KERAS_BOUNDS,
    "seed": "the draws follow the spec's seed (train { seed N } or --seed), not a seed of "
            "their own",
}


# Values of an init's parameters, by parameter type (PARAM_TYPES), that other libraries spell
# differently, where the spelling guess would mislead (untruncated_normal is closest to
# truncated_normal, its opposite).
FOREIGN_VALUES = {
    "distribution": {
        "untruncated_normal": "Keras' VarianceScaling(distribution=\"untruncated_normal\") is "
                              "distribution=normal here; truncated_normal is the one cut at ±2σ",
    },
}


# Why PyTorch's name of an init is written here without its last character.
TORCH_TRAILING_UNDERSCORE = ("PyTorch's nn.init functions end in '_' (they fill a tensor in "
                             "place), the inits here do not")

# Why PyTorch's first argument of an init (the tensor it fills, `m.weight`) is left out here.
TORCH_TENSOR_ARGUMENT = ("PyTorch's nn.init functions take the tensor they fill first; an init "
                         "here fills the layer it is written on")

# PyTorch's torch.nn.init functions that draw what an init here draws: that init, by the name
# a PyTorch user knows where it is one of ours (kaiming_normal for kaiming_normal_), and the
# function's parameters after the tensor, in its order, with its defaults (REQUIRED where it
# has none), as torch.nn.init's signatures give them. A hint that writes PyTorch's call here
# writes the defaults an init here needs or has otherwise (cnnspec/lang/torch_calls.py):
# normal_(w, mean=0.1) is normal(mean=0.1, std=1), trunc_normal_(w, std=0.02) cuts at -2 and 2.
# Where the same default is written otherwise here it is left to ours: kaiming's a=0 with
# nonlinearity=leaky_relu is the gain √2 of he_normal's gain=relu, xavier's and orthogonal's
# gain=1 the linear gain. Not here: sparse_ (TORCH_ELSEWHERE).
TORCH_INITS: dict[str, tuple[str, tuple[tuple[str, object], ...]]] = {
    "constant_": ("constant", (("val", REQUIRED),)),
    "zeros_": ("zeros", ()),
    "ones_": ("ones", ()),
    "uniform_": ("uniform", (("a", 0.0), ("b", 1.0))),
    "normal_": ("normal", (("mean", 0.0), ("std", 1.0))),
    "trunc_normal_": ("truncated_normal",
                      (("mean", 0.0), ("std", 1.0), ("a", -2.0), ("b", 2.0))),
    "xavier_uniform_": ("xavier_uniform", (("gain", 1.0),)),
    "xavier_normal_": ("xavier_normal", (("gain", 1.0),)),
    "kaiming_uniform_": ("kaiming_uniform",
                         (("a", 0.0), ("mode", "fan_in"), ("nonlinearity", "leaky_relu"))),
    "kaiming_normal_": ("kaiming_normal",
                        (("a", 0.0), ("mode", "fan_in"), ("nonlinearity", "leaky_relu"))),
    "orthogonal_": ("orthogonal", (("gain", 1.0),)),
    "eye_": ("identity", ()),
    "dirac_": ("dirac", (("groups", 1),)),
}

# PyTorch's nn.init functions that no init here draws, though their names without the '_' are
# ours: what a spec that writes one is told, in place of that name.
TORCH_ELSEWHERE = {
    "sparse_": "PyTorch's sparse_(w, sparsity, std=0.01) zeroes a fraction sparsity of each "
               "column (the weights out of one input); sparse(nonzero, std) here gives each "
               "unit nonzero weights into it: another draw, which no init here makes",
}


def _name_hints() -> dict[str, str]:
    """The hint of every name another library uses for one of our schemes: FOREIGN_NAMES,
    TORCH_ELSEWHERE, and PyTorch's spellings with the trailing '_' of its nn.init functions
    (they fill a tensor in place): ``trunc_normal_`` gets the hint of ``trunc_normal``, where a
    spelling guess would offer truncated_normal, which cuts elsewhere unless given PyTorch's
    bounds; ``kaiming_normal_`` is answered with ``kaiming_normal``."""
    hints = {**FOREIGN_NAMES, **TORCH_ELSEWHERE}
    for name, hint in FOREIGN_NAMES.items():
        hints.setdefault(f"{name}_", hint)
    for name in (*PARAMS, *ALIASES):
        hints.setdefault(f"{name}_", f"write {name}: {TORCH_TRAILING_UNDERSCORE}")
    return hints


# Read by the spec's resolver and, through the IR schema, by a JSON IR's check.
NAME_HINTS = _name_hints()


def unknown_param_hint(name: str) -> str | None:
    """The hint for a parameter name another library gives an init, or None."""
    return FOREIGN_PARAMS.get(str(name).lower())


def unknown_value_hint(param_type: str, value: str) -> str | None:
    """The hint for a value of a parameter of ``param_type`` that another library spells
    differently, or None."""
    return FOREIGN_VALUES.get(param_type, {}).get(str(value).lower())


def canonical_name(name: str, hints: dict[str, str] = NAME_HINTS) -> str:
    """The canonical name of an init, resolving aliases; SpecError with a suggestion otherwise:
    the hint ``hints`` holds for another library's name (looked up as a spec's and a JSON IR's
    are, :func:`~cnnspec.errors.foreign_hint`), else the closest of ours. ``hints``: the other
    libraries' names of NAME_HINTS; the Python API's :func:`cnnspec.init.canonical` gives
    Keras' class names too, which this module cannot write (they are written by
    :mod:`cnnspec.init.describe`, which reads this one)."""
    name = ALIASES.get(name, name)
    if name in PARAMS:
        return name
    close = closest(str(name), list(INIT_NAMES) + list(ALIASES))
    hint = foreign_hint(hints, name) or (
        f"did you mean {close}?" if close else "known inits: " + ", ".join(INIT_NAMES))
    raise SpecError(f"unknown initializer {name!r}", hint=hint)


def canonical(init: dict, hints: dict[str, str] = NAME_HINTS) -> dict:
    """``init`` with its canonical name and every parameter explicit (defaults filled in); an
    unknown name answered with ``hints`` (:func:`canonical_name`)."""
    if "name" not in init:
        raise SpecError("an init needs a name", hint="e.g. {\"name\": \"he_normal\"}")
    name = canonical_name(init["name"], hints)
    allowed = PARAMS[name]
    unknown = [key for key in init if key != "name" and key not in allowed]
    if unknown:
        expected = ", ".join(allowed) if allowed else "no parameters"
        raise SpecError(f"{name} has no parameter {unknown[0]!r}",
                        hint=unknown_param_hint(unknown[0]) or f"{name} takes {expected}")
    out: dict = {"name": name}
    for key, default in allowed.items():
        if key in init:
            out[key] = init[key]
        elif default is REQUIRED:
            raise SpecError(f"{name} needs {key}", hint=f"{name} takes " + ", ".join(allowed))
        else:
            out[key] = dict(default) if isinstance(default, dict) else default
    return out
