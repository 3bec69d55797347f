"""Short plain-text phrases for a layer's settings, shared by pictures and the registry.

Plain text only (no markup), so the same phrases serve diagram nodes, legends and plot titles.
"""
from __future__ import annotations

from cnnspec.errors import rounded_text


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


