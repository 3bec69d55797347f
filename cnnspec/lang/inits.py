"""Initializer expressions -> IR init objects (docs/ir.md, "Init objects").

Which initializers exist, their parameters in order, their defaults and aliases are
declared once, in :mod:`cnnspec.init.catalogue`; the language adds only how each parameter is
read and what its hint says. Formulas live with the initializers themselves (cnnspec/init/)
and in docs/ir.md; here we only check that what was written is well formed:
``glorot_uniform``, ``he_normal(mode=fan_out, gain=leaky_relu(0.2))``, ``normal(0, 0.01)``,
``[[1, 0, 1], [0, 1, 0], [1, 0, 1]]`` (a literal kernel).
"""
from __future__ import annotations

import dataclasses
import math

from cnnspec.errors import Mend, Span, SpecError, float_text, foreign_hint
from cnnspec.init import catalogue, keras
from cnnspec.init.catalogue import ALIASES, BUILT_IN_DEFAULTS
from cnnspec.init.describe import mode_hint
from cnnspec.init.fans import FAN_MODES
from cnnspec.init.gains import (
    DEFAULT_LEAKY_SLOPE,
    LEAKY_SLOPE_HINT,
    LEAKY_SLOPE_LOW,
    NONLINEARITIES,
)
from cnnspec.ir.spec import element_field
from cnnspec.lang import values as read
from cnnspec.lang.ast import Call, Kwarg, ListLit, Num, Str, Value, Word, describe
from cnnspec.lang.calls import REQUIRED, Param, argument, bind
from cnnspec.lang.source_text import one_line
from cnnspec.lang.suggest import did_you_mean
from cnnspec.lang.torch_calls import TorchCall, torch_init_call


def read_gain(value: Value, what: str) -> dict:
    """A gain: a number (``{"value": g}``) or a nonlinearity, PyTorch's ``calculate_gain``.

    ``leaky_relu`` takes its negative slope, ``leaky_relu(0.2)``; PyTorch's 0.01 if not given.
    """
    if isinstance(value, Num):
        return {"value": read.positive_number(
            value, what, hint="the gain multiplies the standard deviation: 1 for linear "
            "layers, sqrt(2) = 1.414 for ReLU; or name the nonlinearity, e.g. gain=relu")}
    if isinstance(value, Word) and value.name in NONLINEARITIES:
        if value.name == "leaky_relu":
            return {"nonlinearity": "leaky_relu", "slope": DEFAULT_LEAKY_SLOPE}
        return {"nonlinearity": value.name}
    if isinstance(value, Call) and value.name == "leaky_relu":
        # the leaky_relu layer's rule, with its hint
        slope_reader = read.bounded_number(LEAKY_SLOPE_HINT, LEAKY_SLOPE_LOW)
        slope = bind(value, [Param("slope", DEFAULT_LEAKY_SLOPE, slope_reader)],
                     "gain leaky_relu")["slope"]
        return {"nonlinearity": "leaky_relu", "slope": slope}
    if isinstance(value, (Word, Call)):
        torch = _calculate_gain_mend(value)
        raise SpecError(f"unknown nonlinearity '{value.name}' for {what}", span=value.span,
                        hint=f"{torch.why}: write gain={torch.text}" if torch else
                        "a gain is a number or a nonlinearity; "
                        + did_you_mean(value.name, NONLINEARITIES, "nonlinearities"), mend=torch)
    raise SpecError(f"{what} must be a number or a nonlinearity, not {describe(value)}",
                    span=value.span, hint="e.g. gain=1.5, gain=relu or gain=leaky_relu(0.2)",
                    mend=read.unquoted_mend(value, NONLINEARITIES))


def _calculate_gain_mend(value: Word | Call) -> Mend | None:
    """PyTorch's ``calculate_gain('leaky_relu', 0.2)`` written as a gain, as the gain here
    (``leaky_relu(0.2)``: the same table, :mod:`cnnspec.init.gains`); None for another word,
    or a call whose first argument names no nonlinearity."""
    if not isinstance(value, Call) or value.name != "calculate_gain" or value.kwargs \
            or not 1 <= len(value.args) <= 2 or not isinstance(value.args[0], Word) \
            or value.args[0].name not in NONLINEARITIES:
        return None
    param = value.args[1:]
    text = value.args[0].name + (f"({one_line(param[0])})" if param else "")
    return Mend(value.span, text, "PyTorch's calculate_gain(nonlinearity) is the gain "
                "itself here")


def _param_reader(param: catalogue.InitParam):
    """How the language reads a value of ``param``, from its declared type and meaning."""
    if param.type in ("number", "bound"):  # a bound left out is its default, no value
        return read.number
    if param.type == "positive":
        return read.hinted(read.positive_number, param.hint)
    if param.type == "count":
        return read.hinted(read.positive_int, param.hint)
    if param.type == "gain":
        return read_gain
    if param.type == "numbers":
        return lambda value, what: read_kernel_literal(value)
    options = list(catalogue.PARAM_TYPES[param.type]["enum"])

    def choice(value: Value, what: str) -> str:
        hint = (catalogue.unknown_value_hint(param.type, value.name)
                if isinstance(value, Word) else None)
        if hint:
            raise SpecError(f"unknown {param.name} '{value.name}'", span=value.span, hint=hint)
        return read.choice(value, param.name, options)
    return choice


# name -> parameters, in the order positional arguments fill them.
CATALOGUE: dict[str, list[Param]] = {
    init.name: [Param(p.name, REQUIRED if p.default is catalogue.REQUIRED else p.default,
                      _param_reader(p)) for p in init.params]
    for init in catalogue.INITS}

# What a bias may be initialised with: element-wise schemes, and scaled ones (which use the
# layer's weight fans, as PyTorch's default bias U(±1/sqrt(fan_in)) does).
BIAS_INITS = list(catalogue.BIAS_NAMES)


def read_kernel_literal(value: Value) -> list:
    """A rectangular nested list of numbers, 2-D to 4-D: [kh][kw], [out][kh][kw] or
    [out][in][kh][kw]."""
    if not isinstance(value, ListLit):
        raise SpecError(f"a kernel literal must be a list of rows, not {describe(value)}",
                        span=value.span, hint="e.g. [[1, 0, 1], [0, 1, 0], [1, 0, 1]]")
    nested = _nested(value)
    depth = _depth(nested)
    if not 2 <= depth <= 4:
        raise SpecError(
            f"a kernel literal must be 2-D (rows), 3-D (one matrix per filter) or 4-D "
            f"(per filter and channel), not {depth}-D", span=value.span,
            hint="write a matrix as a list of rows: [[1, 0], [0, 1]]")
    return nested


def literal_spans(field_name: str, value: ListLit) -> dict[str, Span]:
    """Where the literal ``value`` that sets ``field_name`` (``weight_init.values``) and each
    list inside it were written, keyed by their fields (:func:`cnnspec.ir.spec
    .element_field`): the checker points at the row or matrix that does not fit the layer."""
    spans, todo = {}, [((), value)]
    while todo:
        index, item = todo.pop()
        spans[element_field(field_name, index)] = item.span
        todo.extend((index + (i,), inner) for i, inner in enumerate(item.items)
                    if isinstance(inner, ListLit))
    return spans


def read_bias_literal(value: ListLit) -> list:
    """A bias literal: a flat list of numbers, one for each unit or filter."""
    nested = _nested(value)
    if _depth(nested) != 1:
        raise SpecError(
            f"a bias literal is a flat list, one number for each unit or filter, not "
            f"{_depth(nested)}-D", span=value.span,
            hint="write its values in one list: bias [0.1, 0, -0.1, 0.2]")
    return nested


def _nested(value: Value) -> list | float:
    """The list as plain Python data; non-numbers and unevenly nested lists are errors (rows
    of different lengths are the checker's to say, against the layer's kernel)."""
    if isinstance(value, Num):
        read.number(value, "a kernel entry")  # rejects 1e999
        return value.value
    if not isinstance(value, ListLit):
        raise SpecError(f"a kernel literal holds numbers, not {describe(value)}", span=value.span,
                        hint="write every entry as a number: [[1, 0, -1], [2, 0, -2], [1, 0, -1]]")
    if not value.items:
        raise SpecError("a kernel literal may not contain an empty list", span=value.span,
                        hint="every row needs at least one number: [[1, 0], [0, 1]]")
    items = [_nested(item) for item in value.items]
    # Only the nesting is the literal's own: how long each row and matrix must be is the
    # layer's kernel size, which the checker knows (cnnspec.check.inits.check_literal).
    for item, nested in zip(value.items, items):
        if _depth(nested) != _depth(items[0]):
            raise SpecError(
                f"kernel literal nested unevenly: this entry is {_nesting(nested)}, the first "
                f"is {_nesting(items[0])}", span=item.span,
                hint="every row holds numbers, every matrix rows: [[1, 0, -1], [2, 0, -2]]")
    return items


# What an entry of a kernel literal is, in words, by how deep it nests.
NESTING = ("a number", "a row of numbers", "a matrix (a list of rows)", "a list of matrices")


def _nesting(x) -> str:
    depth = _depth(x)
    return NESTING[depth] if depth < len(NESTING) else f"a list nested {depth} deep"


def _shape(x) -> tuple[int, ...]:
    return (len(x),) + _shape(x[0]) if isinstance(x, list) else ()


def _depth(x) -> int:
    return len(_shape(x))


def read_init(value: Value, what: str = "initializer") -> dict:
    """An initializer expression as an IR init object, with aliases made canonical."""
    if isinstance(value, ListLit):
        return _list_init(read_kernel_literal(value))
    if isinstance(value, Num):
        raise SpecError(f"{what} must name an initializer, not the number {value.text}",
                        span=value.span, hint=f"for a constant write constant({value.text})")
    if not isinstance(value, (Word, Call)):
        raise SpecError(f"{what} must name an initializer, not {describe(value)}",
                        span=value.span,
                        hint=f"e.g. {BUILT_IN_DEFAULTS['weight']}, normal(0, 0.01), or a kernel "
                        "literal such as [[0, 1, 0], [1, -4, 1], [0, 1, 0]]",
                        mend=read.unquoted_mend(value, [*CATALOGUE, *ALIASES]))
    name = ALIASES.get(value.name, value.name)
    if name not in CATALOGUE:
        span = value.name_span if isinstance(value, Call) else value.span
        hint = foreign_hint(keras.SPEC_NAME_HINTS, value.name) \
            or did_you_mean(value.name, list(CATALOGUE) + list(ALIASES), "initializers")
        torch = _torch_call(value)
        if torch is None:
            raise SpecError(f"unknown initializer '{value.name}'", span=span, hint=hint,
                            mend=_torch_name_mend(value.name, span))
        if torch.reasons:
            hint = f"{hint}; in full, `{torch.text}` ({'; '.join(torch.reasons)})"
        raise SpecError(f"unknown initializer '{value.name}'", span=span, hint=hint,
                        mend=Mend(value.span, torch.text, torch.why))
    _foreign_params(value, CATALOGUE[name])
    _mode_of_another_scheme(value, name)
    try:
        params = bind(value, CATALOGUE[name], f"initializer {value.name}")
    except SpecError as err:  # `gaussian(0, 0.01)`: Caffe's gaussian, not a blur's sigma
        elsewhere = catalogue.SAME_NAME_ELSEWHERE.get(name)
        if elsewhere is None:
            raise
        raise SpecError(err.message, span=err.span, hint=f"{err.hint}; {elsewhere}") from None
    _check_params(value, catalogue.BY_NAME[name], params)
    return {"name": name, **params}


def _torch_call(value: Word | Call) -> TorchCall | None:
    """PyTorch's init call ``value`` (``normal_(w, mean=0.1)``) as written here, with what
    PyTorch means by the arguments it leaves out (:func:`torch_init_call`); None for a name
    that is no PyTorch init."""
    written = one_line(value) if isinstance(value, Call) else value.name
    return torch_init_call(value.name, written[len(value.name):])


def _torch_name_mend(name: str, span: Span) -> Mend | None:
    """PyTorch's name of an init (``kaiming_normal_``: its nn.init functions fill a tensor in
    place) written as here, where the name without its trailing '_' is one; else None."""
    known = name.removesuffix("_")
    if known == name or (known not in CATALOGUE and known not in ALIASES) \
            or name in catalogue.TORCH_ELSEWHERE:
        return None
    return Mend(span, known, catalogue.TORCH_TRAILING_UNDERSCORE)


def _list_init(values: list) -> dict:
    """The init of a list written where an init goes (:data:`catalogue.LIST_INIT`)."""
    init = catalogue.LIST_INIT
    return {"name": init.name, init.params[0].name: values}


def _mode_of_another_scheme(value: Word | Call, name: str) -> None:
    """A fan mode the scheme ``name`` does not take where another named scheme draws what it
    asks (``he_uniform(mode=fan_avg)``) is an error whose hint is that scheme with the gain
    the user's init carries (:func:`cnnspec.init.describe.mode_hint`:
    ``glorot_uniform(gain=relu)``), not a spelling guess among its own modes. A call with
    another mistake is left to its own error."""
    params = CATALOGUE[name]
    mode = next((p for p in catalogue.BY_NAME[name].params if p.name == "mode"), None)
    asked = None if mode is None else argument(value, params, "mode")
    if not isinstance(asked, Word) or asked.name not in FAN_MODES \
            or asked.name in catalogue.PARAM_TYPES[mode.type]["enum"]:
        return
    # the call with its own default mode in the asked one's place, to read its gain
    default = Word(mode.default, asked.span)
    call = dataclasses.replace(
        value, args=[default if arg is asked else arg for arg in value.args],
        kwargs=[dataclasses.replace(kwarg, value=default) if kwarg.value is asked else kwarg
                for kwarg in value.kwargs])
    try:
        init = {**bind(call, params, f"initializer {value.name}"), "name": name,
                "mode": asked.name}
    except SpecError:
        return
    hint = mode_hint(init)
    if hint:
        raise SpecError(f"unknown mode '{asked.name}'", span=asked.span, hint=hint)


def _check_params(value: Word | Call, init: catalogue.Init, params: dict) -> None:
    """The catalogue's check of an init's parameters by themselves (uniform's low below high,
    a truncated normal's cut), refused where the init is written (an ``--init`` text
    included, which names no layer)."""
    if init.check is None:
        return
    try:
        init.check(params)
    except SpecError as err:
        raise SpecError(err.message, span=value.span, hint=err.hint) from None


def _foreign_params(value: Word | Call, params: list) -> None:
    """A parameter another library gives an init (PyTorch's ``nonlinearity=``, Keras'
    ``stddev=``) is an error whose hint says how it is written here: the user's call written
    here where the parameter has another name here (:func:`_renamed_call`) or makes the init
    another one (:func:`_as_variance_scaling`); so is any parameter of an init whose name
    means another init there (Caffe's ``gaussian(std=0.01)``, which "valid parameters: sigma"
    would turn into a blur kernel)."""
    names = {p.name for p in params}
    elsewhere = catalogue.SAME_NAME_ELSEWHERE.get(ALIASES.get(value.name, value.name))
    for kwarg in value.kwargs if isinstance(value, Call) else []:
        if kwarg.name in names:
            continue
        renamed, mend = _renamed_call(value, params, kwarg) or (None, None)
        hint = (renamed or _as_variance_scaling(value, params, kwarg)
                or catalogue.unknown_param_hint(kwarg.name) or elsewhere)
        if hint:
            raise SpecError(f"initializer {value.name} has no parameter '{kwarg.name}'",
                            span=kwarg.name_span, hint=hint, mend=mend)


def _renamed_call(value: Call, params: list[Param], kwarg: Kwarg
                  ) -> tuple[str, Mend | None] | None:
    """For another library's name of a parameter of this init, Keras'
    (``truncated_normal(stddev=0.02)``) or PyTorch's (``he_normal(a=0.2)``, kaiming's slope):
    ``(hint, mend)``, the mend writing the call with every such name as here
    (:func:`_in_our_names`), by position where the parameters before it have numbers for
    defaults (``truncated_normal(0, 0.02)``), in place of the user's, or None where none is
    (a slope PyTorch takes and the gain here refuses); None for another name, and for a call
    that gives a parameter twice (``normal(0, 0.1, stddev=1)``) and for one that leaves out a
    parameter the init needs."""
    names = [p.name for p in params]
    said = _renamed_said(kwarg.name, names)
    if said is None:
        return None
    slope = _negative_kaiming_slope(value, names)
    if slope is not None:  # PyTorch takes it; the leaky_relu gain here would refuse it
        return (f"{said}, whose slope must be 0 or more, not {slope}: "
                f"{LEAKY_SLOPE_HINT}"), None
    given = dict(zip(names, (one_line(arg) for arg in value.args)))
    for name, text in _in_our_names(value.kwargs, names):
        if name in given or name not in names:  # given twice, or no parameter here
            return None
        given[name] = text
    if any(param.default is REQUIRED and param.name not in given for param in params):
        return None  # `uniform(maxval=0.1)`: `uniform(high=0.1)` would be refused in turn
    parts, by_name = [], False
    last = max(names.index(name) for name in given)
    for param in params[:last + 1]:
        default = param.default
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        # a word (mode=fan_out, gain=relu) reads better named, and where no number can stand
        # for a parameter left out, the rest must be named
        by_name = by_name or (default is not REQUIRED and not numeric)
        if param.name not in given and (by_name or not numeric):
            by_name = True
            continue
        text = given[param.name] if param.name in given else float_text(default)
        parts.append(f"{param.name}={text}" if by_name else text)
    call = f"{value.name}({', '.join(parts)})"
    return f"{said}: write `{call}`{_torch_default_said(value)}", Mend(value.span, call, said)


def _negative_kaiming_slope(value: Call, names: list[str]) -> str | None:
    """A PyTorch kaiming ``a=`` below :data:`LEAKY_SLOPE_LOW` given to an init with a gain, as
    written; None where there is none."""
    slope = next((kwarg.value for kwarg in value.kwargs if kwarg.name == "a"), None)
    if "gain" not in names or "low" in names or not isinstance(slope, Num) \
            or slope.value >= LEAKY_SLOPE_LOW:
        return None
    return one_line(slope)


def _torch_default_said(value: Call) -> str:
    """Where a kaiming call gives the slope sqrt(5), what PyTorch's layers draw by default
    (kaiming_uniform_(w, a=math.sqrt(5)), their reset_parameters), the init that names it."""
    slope = next((kwarg.value for kwarg in value.kwargs if kwarg.name == "a"), None)
    if not isinstance(slope, Num) or abs(slope.value - math.sqrt(5)) > 1e-3 \
            or ALIASES.get(value.name, value.name) != "he_uniform":
        return ""
    return "; kaiming_uniform_(w, a=math.sqrt(5)), nn.Conv2d's and nn.Linear's default, is " \
        f"{catalogue.BY_NAME['torch_default'].name} here"


def _renamed_said(name: str, names: list[str]) -> str | None:
    """What another library's parameter ``name`` is here, for an init of parameters
    ``names``; None where it is none of them."""
    if catalogue.KERAS_PARAM_NAMES.get(name) in names:
        return f"Keras' {name} is {catalogue.KERAS_PARAM_NAMES[name]} here"
    if name in catalogue.TORCH_BOUND_NAMES and "low" in names:
        return "PyTorch's a= and b= are low= and high= here"
    if name == "nonlinearity" and "gain" in names:
        return "PyTorch's nonlinearity= is gain= here"
    if name == "a" and "gain" in names:
        return ("PyTorch's kaiming a= is the slope of the leaky ReLU after the layer: "
                "gain=leaky_relu(a) here")
    return None


def _in_our_names(kwargs: list[Kwarg], names: list[str]) -> list[tuple[str, str]]:
    """A call's keyword arguments as (name here, value as written), for an init of parameters
    ``names``: Keras' names renamed; PyTorch's a and b as low and high where the init has
    bounds, else its kaiming a and nonlinearity as the one gain they make (``a=0.2``:
    ``gain=leaky_relu(0.2)``; ``nonlinearity=relu``: ``gain=relu``); other names kept."""
    written = [(kwarg.name, one_line(kwarg.value)) for kwarg in kwargs]
    torch = dict(written)
    pairs = []
    if "low" not in names and any(name in torch for name in catalogue.TORCH_GAIN_PARAMS):
        nonlinearity = next((kwarg.value for kwarg in kwargs if kwarg.name == "nonlinearity"),
                            None)
        # named in quotes ("leaky_relu"), it still takes the slope a= gives
        named = nonlinearity.value if isinstance(nonlinearity, Str) else torch.get(
            "nonlinearity", "leaky_relu")
        pairs.append(("gain", f"leaky_relu({torch.get('a', '0')})"
                      if named == "leaky_relu" else torch["nonlinearity"]))
        written = [(name, text) for name, text in written
                   if name not in catalogue.TORCH_GAIN_PARAMS]
    bounds = catalogue.TORCH_BOUND_NAMES if "low" in names else {}
    return pairs + [(catalogue.KERAS_PARAM_NAMES.get(name, bounds.get(name, name)), text)
                    for name, text in written]


def _as_variance_scaling(value: Call, params: list[Param], kwarg: Kwarg) -> str | None:
    """The hint for a parameter of ``variance_scaling`` given to a named scheme, which fixes
    it (``he_normal(distribution=truncated_normal)``, Keras' he_normal): the scheme as
    ``variance_scaling(scale, mode, distribution)`` (:mod:`cnnspec.init.presets`), its other
    parameters as written and that one as given (``variance_scaling(2, fan_in,
    truncated_normal)``); None for another parameter, or a value either refuses."""
    from cnnspec.init.presets import PRESETS

    name = ALIASES.get(value.name, value.name)
    general_name = catalogue.GENERAL_INIT.name
    general = CATALOGUE[general_name]
    if name not in PRESETS or kwarg.name not in {p.name for p in general}:
        return None
    own = {p.name for p in params}
    try:
        written = bind(dataclasses.replace(value, kwargs=[k for k in value.kwargs
                                                          if k.name in own]), params, value.name)
        scaled = PRESETS[name]({"name": name, **written})
        overrides = bind(Call(general_name, value.name_span, [],
                              [k for k in value.kwargs if k.name not in own], value.span),
                         general, general_name)
    except SpecError:
        return None
    chosen = [k.name for k in value.kwargs if k.name not in own]
    scale = overrides["scale"] if "scale" in chosen else round(scaled.scale, 12)
    mode = overrides["mode"] if "mode" in chosen else scaled.mode
    distribution = overrides["distribution"] if "distribution" in chosen else \
        scaled.distribution
    return (f"{value.name} is {general_name}({float_text(round(scaled.scale, 12))}, "
            f"{scaled.mode}, {scaled.distribution}), whose {kwarg.name} it fixes: write "
            f"`{general_name}({float_text(scale)}, {mode}, {distribution})`")


def read_bias_init(value: Value) -> dict:
    """An init for a bias vector: the element-wise ones, or a literal list of its values
    (one a unit or filter, as the IR's literal on a bias)."""
    if isinstance(value, ListLit):
        return _list_init(read_bias_literal(value))
    init = read_init(value, "the bias initializer")
    if init["name"] not in BIAS_INITS:
        raise SpecError(f"'{init['name']}' cannot initialise a bias",
                        span=value.span,
                        hint="a bias is a vector without a kernel shape; use one of "
                        + ", ".join(BIAS_INITS))
    return init
