"""Short plain-text phrases for a layer's settings, shared by pictures and the registry.

Plain text only (no markup), so the same phrases serve diagram nodes, legends and plot titles.
"""
from __future__ import annotations

from cnnspec.errors import float_text, rounded_text
from cnnspec.init.describe import init_text
from cnnspec.shapes import shape_text


def pair_text(pair) -> str:
    """``[5, 5]`` -> ``5x5``; a pair with equal halves still shows both (it is a 2-D size)."""
    return f"{int(pair[0])}x{int(pair[1])}"


def step_text(pair) -> str:
    """A stride or dilation: ``[2, 2]`` -> ``2``, ``[1, 2]`` -> ``1x2``."""
    return str(int(pair[0])) if pair[0] == pair[1] else pair_text(pair)


def pads_text(written, pads) -> str:
    """Resolved padding ``pads`` (top, bottom, left, right); ``same`` (the ``written`` IR
    padding) keeps its name and shows the pixels it became."""
    top, bottom, left, right = pads or (0, 0, 0, 0)
    if top == bottom == left == right:
        amount = str(top)
    elif top == bottom and left == right:
        amount = f"{top}x{left}"
    else:
        amount = f"t{top} b{bottom} l{left} r{right}"
    return f"same ({amount})" if written == "same" else amount


def number_text(x: float) -> str:
    """A layer's value in a summary line, to 3 significant digits as a spec writes them."""
    return rounded_text(x, 3)


def exact_number_text(value) -> str:
    """A number (or a switch) as the language reads it back exactly: ``3``, ``0.5``,
    ``1e-5`` (:func:`~cnnspec.errors.float_text`), ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return float_text(value)


def activation_text(name: str, params: dict) -> str:
    """An activation as a layer's line ends in it: ``relu``, ``leaky_relu(0.1)`` (its
    arguments in order, as the kind's positional values)."""
    written = [exact_number_text(v) if not isinstance(v, str) else v for v in params.values()]
    return f"{name}({', '.join(written)})" if written else name


def value_text(f, value) -> str:
    """The IR ``value`` of the layer field ``f`` (a :class:`~cnnspec.kinds.fields.Field`) as
    the language writes it: ``3x3``, ``2``, ``same``, ``he_normal(mode=fan_out)``, ``[1, 2]``."""
    if f.type in ("pair", "margin"):
        return pair_text(value) if f.name == "kernel" else step_text(value)
    if f.type == "padding":
        return _padding_text(value)
    if f.type == "count":
        return str(int(value))
    if f.type == "choice":
        return value
    if f.type in ("init", "bias_init"):
        return init_text(value)
    if f.type == "mults":
        first, second = value
        return exact_number_text(first) if first == second else \
            f"[{exact_number_text(first)}, {exact_number_text(second)}]"
    return exact_number_text(value)


def _padding_text(value) -> str:
    """A padding as a line writes it: ``same``, ``1``, ``1x2``, or four sides ``0x1x0x1``."""
    if isinstance(value, str):
        return value
    if len(value) == 4:
        top, bottom, left, right = value
        if (top, left) != (bottom, right):
            return shape_text(value)
        value = [top, left]
    return step_text(value)
