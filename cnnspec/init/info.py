"""What an initializer will produce for one parameter, described without drawing it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InitInfo:
    """The description of one parameter's initialisation.

    ``distribution`` is one of ``constant``, ``uniform``, ``normal``, ``truncated_normal``,
    ``orthogonal``, ``delta_orthogonal``, ``sparse``, ``positive_unitball``, ``identity``,
    ``literal``, ``lsuv``. ``std`` is the theoretical standard
    deviation of the values (None where it is not a fixed number, e.g. a literal kernel);
    ``bound`` is ``a`` of U(-a, a) for symmetric uniform, or the truncation limit.
    ``short`` reads like ``N(0, 0.118^2)`` or ``U(-0.118, 0.118)``; ``formula`` like
    ``std = sqrt(2 / fan_in) = sqrt(2 / 144)``. ``constant`` is true when every element gets the
    same value (all filters alike, see :mod:`cnnspec.check.lints`). ``alike_axes``: the weight's leading
    axes along which every slice is the same (0: every filter or unit gets the same values, 1:
    each weighs all its inputs alike), for a weight the spec fixes (a constant, a literal, a
    named kernel); empty for a drawn one. ``source``: the paper the scheme comes from.
    """

    name: str
    distribution: str
    short: str
    formula: str
    mean: float | None = None
    std: float | None = None
    bound: float | None = None
    fan_in: int | None = None
    fan_out: int | None = None
    constant: bool = False
    random: bool = False
    alike_axes: tuple[int, ...] = ()
    source: str = ""  # the paper the formula comes from (the catalogue's), or ""
