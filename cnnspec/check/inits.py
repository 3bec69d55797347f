"""Each parameter's init, checked against its layer and described by the init catalogue.

What an init produces (distribution, std, bound, formula) is :func:`cnnspec.init.describe`'s
business; this module adds what only the layer knows and says it in the layer's terms:

- a kernel literal must fit the conv weight ``(out, in, kh, kw)``: one ``kh x kw`` matrix for
  every filter and channel, one per filter, or one per filter and input channel;
- ``identity`` and ``delta_orthogonal`` on an even kernel are accepted: docs/ir.md puts the
  delta at index ``(k - 1) // 2``, the tap that ``pad same`` (extra pixel after) aligns with
  the input, so it still passes the input through (times the orthogonal matrix, for
  delta_orthogonal);
- a bias has no kernel: scaled schemes on a bias use the layer's weight fans.

Any other problem ``describe`` finds is re-reported at the init's place in the spec.
"""
from __future__ import annotations

from cnnspec.check.model import LayerInfo
from cnnspec.dtypes import FORMATS
from cnnspec.errors import SpecError, counted, float_text
from cnnspec.init import describe
from cnnspec.init.catalogue import BUILT_IN_DEFAULTS, BY_NAME
from cnnspec.init.info import InitInfo
from cnnspec.init.kernels import nested_shape
from cnnspec.ir.limits import short_number
from cnnspec.ir.spec import Spec, element_field
from cnnspec.kinds import KINDS
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.shapes import shape_text


def _relocated(spec: Spec, layer: dict, field: str, err: SpecError) -> SpecError:
    return init_error(spec, layer, field, err.message, err.hint)


def init_error(spec: Spec, layer: dict, field: str, problem: str,
               hint: str | None) -> SpecError:
    """The error for ``problem`` with the init in ``layer[field]``, at the layer. An init the
    layer takes from the `default` line was not written on the layer's line: the message says
    where it was, and the hint how to keep it off this layer (a hint for writing the init
    differently would change it for every layer that takes it)."""
    message = f"{layer['kind']} '{layer['name']}': {problem}"
    if field not in layer.get("default_inits", ()):
        return spec.error(message, layer["name"], field, hint=hint)
    word = field.removesuffix("_init")
    line = spec.spans.get(("default", field))
    written = f"the `default {word}` on line {line.line}" if line else f"the default {word}"
    own = f"{word} {BUILT_IN_DEFAULTS[word]}"
    return spec.error(f"{message} (its {word} init comes from {written})",
                      layer["name"], field,
                      hint=f"give this layer an init of its own, e.g. `{own}` at the end of "
                           f"its line, or write the default's init on the layers it fits "
                           f"instead of as the default")


def _literal_depth(values) -> int:
    """How deep a literal nests, read along its first entries (``[[1, 0], [0, 1]]``: 2)."""
    depth = 0
    while isinstance(values, list) and values:
        values, depth = values[0], depth + 1
    return depth


def _first_misfit(values, sizes: tuple[int, ...], index: tuple[int, ...] = ()
                  ) -> tuple[tuple[int, ...], object] | None:
    """Where a literal meant to nest as ``sizes`` (a list of ``sizes[0]`` lists of
    ``sizes[1]`` ...) first goes wrong: the index of that entry and the entry, a list of
    another length or something other than what goes there; None if it fits. Each list's
    entries are read before its length, so a short row is named rather than its matrix."""
    if len(index) == len(sizes):
        return None if _is_number(values) else (index, values)
    if not isinstance(values, list):
        return index, values
    for i, item in enumerate(values):
        found = _first_misfit(item, sizes, index + (i,))
        if found is not None:
            return found
    return None if len(values) == sizes[len(index)] else (index, values)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _entry_words(entry) -> str:
    return "a list" if isinstance(entry, list) else "a number" if _is_number(entry) else repr(entry)


# What the lists at each depth of a conv kernel literal are, by its depth (one matrix shared by
# every filter; one per filter; one per filter and input channel), the numbers' "entry" last.
CONV_ENTRIES = {2: ("row", "entry"), 3: ("matrix", "row", "entry"),
                4: ("filter", "matrix", "row", "entry")}
DENSE_ENTRIES = ("row", "entry")


def _entry_name(index: tuple[int, ...], names: tuple[str, ...], literal: str) -> str:
    """``row 2 of matrix 1 of the kernel literal``: the entry at ``index`` of ``literal``,
    named level by level (``names``: what the entries at each depth are), counted from 1."""
    return " of ".join([f"{name} {i + 1}" for name, i in zip(names, index)][::-1] + [literal])


def _conv_misfit(index: tuple[int, ...], entry, weight: tuple[int, ...], depth: int) -> str:
    """What is wrong with the ``entry`` at ``index`` of a ``depth``-D literal for a conv weight
    of shape ``weight`` (:func:`_first_misfit`), in the kernel's terms."""
    out, cin, kh, kw = weight
    where = _entry_name(index, CONV_ENTRIES[depth], "the kernel literal")
    level = len(index) - depth  # -1: a row, -2: a matrix, counted from the numbers
    if not isinstance(entry, list) or level == 0:
        goes = {0: "a number", -1: f"a row of {kw} numbers", -2: f"a {kh}x{kw} matrix",
                -3: f"{counted(cin, 'matrix', 'matrices')}, one per input channel"}[level]
        return f"{where} is {_entry_words(entry)} where {goes} goes"
    n = len(entry)
    kernel = f"the kernel is {kh}x{kw}"
    if level == -1:
        return f"{where} has {counted(n, 'number')}, but {kernel}: each row needs {kw}"
    if level == -2:
        return (f"{where} has {counted(n, 'row')}, but {kernel}: "
                + ("it needs" if depth == 2 else "each matrix needs") + f" {kh}")
    if level == -3 and depth == 4:
        return (f"{where} holds {counted(n, 'matrix', 'matrices')}, but the input has "
                f"{counted(cin, 'channel')}: each filter needs one {kh}x{kw} matrix per channel")
    return f"{where} holds {counted(n, 'filter')}, but the layer has {out}"


def _dense_misfit(index: tuple[int, ...], entry, weight: tuple[int, ...]) -> str:
    """What is wrong with the ``entry`` at ``index`` of a literal for a dense weight of shape
    ``weight`` (:func:`_first_misfit`): one row per unit, one number per input."""
    out, cin = weight
    where = _entry_name(index, DENSE_ENTRIES, "the literal")
    if not isinstance(entry, list) or len(index) == 2:
        goes = "a number" if len(index) == 2 else f"a row of {cin} numbers"
        return f"{where} is {_entry_words(entry)} where {goes} goes"
    if index:
        return (f"{where} has {counted(len(entry), 'number')}, but the layer has "
                f"{counted(cin, 'input')}: each row needs one number per input")
    return f"{where} has {counted(len(entry), 'row')}, but the layer has {out} units"


def check_literal(spec: Spec, layer: dict, init: dict, shape: tuple[int, ...]) -> None:
    """Raise a located SpecError if a literal does not fit a weight of ``shape`` (OIHW or
    (out, in)), at the row or matrix that does not (the whole literal where it is its depth or
    its count of filters or units)."""
    values = init["values"]
    depth = _literal_depth(values)
    if len(shape) == 4:
        out, cin, kh, kw = shape
        sizes = {2: (kh, kw), 3: (out, kh, kw), 4: shape}.get(depth)
        misfit = sizes and _first_misfit(values, sizes)
        problem = (f"the kernel literal is {depth}-D" if sizes is None else
                   misfit and _conv_misfit(*misfit, shape, depth))
        expected = (f"expected one {kh}x{kw} matrix shared by every filter, {out} of them "
                    f"(one per filter) or {out}x{cin} (one per filter and input channel)")
        hint = (f"write one {kh}x{kw} matrix shared by every filter, a list of "
                f"{counted(out, 'matrix', 'matrices')} (one per filter), or "
                f"{counted(out, 'list')} of {counted(cin, 'matrix', 'matrices')} (one per "
                "filter and input channel); or change the layer's kernel size or filters to "
                "match the literal")
    else:
        misfit = _first_misfit(values, shape) if depth == 2 else None
        problem = (f"the literal is {depth}-D" if depth != 2 else
                   misfit and _dense_misfit(*misfit, shape))
        expected = f"expected a {shape_text(shape)} matrix (units x inputs)"
        hint = "a dense weight literal gives every value: one row per unit, one column per input"
    if not problem:
        return
    index = misfit[0] if misfit else ()
    # at the entry itself, unless the layer takes the literal from the `default` line
    default = WEIGHT_INIT_KEY in layer.get("default_inits", ())
    if default or not index:  # the literal as a whole is what the error points at
        problem = f"{problem}; {expected}"
    field = WEIGHT_INIT_KEY if default else element_field("weight_init.values", index)
    raise init_error(spec, layer, field, problem, hint)


def _largest_number(value) -> float | int:
    """The number of largest magnitude anywhere in an init's arguments, with its sign (0 if
    none)."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float)):
        return value  # an int stays exact: float() of a 400-digit one would overflow
    if isinstance(value, dict) and "nonlinearity" in value:
        # A gain named by its nonlinearity is at most tanh's 5/3, and leaky_relu's slope only
        # shrinks it (init.gains): the slope is no value the weights take.
        return 0.0
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_largest_number(item) for item in items), key=abs, default=0.0)


def _value_arguments(init) -> list:
    """The arguments of an init that its values are drawn from: all but a cut (the ``bound``
    parameters of a truncated normal), which only removes values, so that a bound far
    beyond the weights' dtype (``high=1e300`` for no upper cut) leaves them as drawn."""
    if not isinstance(init, dict):
        return []
    record = BY_NAME.get(init.get("name"))
    cut = {p.name for p in record.params if p.type == "bound"} if record else set()
    return [value for key, value in init.items() if key != "name" and key not in cut]


def check_representable(spec: Spec, layer: dict, field: str, dtype: str) -> None:
    """A located error if the init in ``layer[field]`` writes a number that ``dtype``, the
    dtype the weights are trained in, cannot hold: ``constant(1e40)`` would start as infinity
    in float32."""
    largest = _largest_number(_value_arguments(layer.get(field)))
    limit = FORMATS[dtype]
    if abs(largest) > limit.largest:
        raise spec.error(f"{layer['kind']} '{layer['name']}': the {field.replace('_', ' ')} "
                         f"writes {short_number(largest)}, beyond {dtype}'s range (about "
                         f"{limit.largest_text}), the dtype weights are trained in",
                         layer["name"], field,
                         hint=f"it would start as infinity: write a number of at most "
                         f"{limit.largest_text} in size (weights rarely exceed 10)")


def weight_info(spec: Spec, layer: dict, info: LayerInfo, dtype: str) -> InitInfo:
    """The described weight init of a conv or dense layer (checked against its shape and the
    dtype it is trained in)."""
    check_representable(spec, layer, WEIGHT_INIT_KEY, dtype)
    init = layer[WEIGHT_INIT_KEY]
    if init["name"] == "literal":
        check_literal(spec, layer, init, info.weight_shape)
    try:
        return describe(init, info.weight_shape)
    except SpecError as err:
        raise _relocated(spec, layer, WEIGHT_INIT_KEY, err) from None


def check_bias_literal(spec: Spec, layer: dict, init: dict, shape: tuple[int, ...]) -> None:
    """Raise a located SpecError, at the literal, if a bias literal of a layer sized by its
    filters or units does not give one number for each: how many it gives and the layer has,
    and the numbers to write (one number, the same for all, is ``constant``'s)."""
    noun = KINDS[layer["kind"]].noun
    try:
        vshape = nested_shape(init["values"])
    except SpecError as err:
        raise _relocated(spec, layer, BIAS_INIT_KEY, err) from None
    if noun is None or len(vshape) != 1 or vshape == shape:
        return  # another shape is the catalogue's to say (describe)
    (out,) = shape
    given = sorted(set(init["values"]))
    same = f", or `bias constant({float_text(given[0])})`" if len(given) == 1 else ""
    each = noun.removesuffix("s")
    # at the literal itself, unless the layer takes it from the `default` line
    field = BIAS_INIT_KEY if BIAS_INIT_KEY in layer.get("default_inits", ()) else "bias_init.values"
    raise init_error(spec, layer, field, f"the bias literal has {counted(vshape[0], 'value')}, "
                     f"but {layer['name']} has {counted(out, each)}",
                     f"write {counted(out, 'number')}, one bias per {each}{same}")


def bias_info(spec: Spec, layer: dict, info: LayerInfo, dtype: str) -> InitInfo | None:
    """The described bias init (scaled schemes use the weight's fans), or None without a bias."""
    init = layer.get(BIAS_INIT_KEY)
    if init is None or info.bias_shape is None:
        return None
    check_representable(spec, layer, BIAS_INIT_KEY, dtype)
    if init["name"] == "literal":
        check_bias_literal(spec, layer, init, info.bias_shape)
    try:
        return describe(init, info.bias_shape, fans=(info.fan_in, info.fan_out))
    except SpecError as err:
        raise _relocated(spec, layer, BIAS_INIT_KEY, err) from None


def describe_inits(spec: Spec, layer: dict, info: LayerInfo, dtype: str) -> None:
    """Fill ``info.weight_init`` and ``info.bias_init`` of a layer trained in ``dtype``;
    raises a located SpecError."""
    kind = KINDS[layer["kind"]]
    if kind.weighted:
        info.weight_init = weight_info(spec, layer, info, dtype)
        info.bias_init = bias_info(spec, layer, info, dtype)
    elif kind.fixed_inits:
        weight_init, bias_init = kind.fixed_inits
        info.weight_init = describe(weight_init, info.weight_shape)
        info.bias_init = None if bias_init is None else describe(bias_init, info.bias_shape)
