"""Which named scheme of the catalogue draws a given variance: the init a hint suggests.

A hint that asks for "the init made for relu" or "the normal variant of this family" asks
here, so that no message spells a scheme's name, its variance or its paper by hand: each is
read from the catalogue's entry (:mod:`cnnspec.init.catalogue`) and its preset
(:mod:`cnnspec.init.presets`), where the formula lives.
"""
from __future__ import annotations

import math

from cnnspec.errors import rounded_text
from cnnspec.init.catalogue import BY_NAME, Init, canonical
from cnnspec.init.gains import nonlinearity_gain
from cnnspec.init.presets import PRESETS, variance_scaling
from cnnspec.init.scaling import VarianceScaling


def default_rule(name: str) -> VarianceScaling:
    """What the named scheme draws with every parameter at its default."""
    return PRESETS[name](canonical({"name": name}))


def _named_rules() -> dict[str, VarianceScaling]:
    """Every named scheme's rule at its defaults; the general rule itself names no scheme."""
    return {name: default_rule(name) for name, preset in PRESETS.items()
            if preset is not variance_scaling}


def scheme_for(nonlinearity: str = "linear", mode: str = "fan_in",
               distribution: str = "normal") -> Init:
    """The named scheme whose defaults draw ``variance_scaling(gain^2, mode, distribution)``
    with the gain PyTorch's calculate_gain gives ``nonlinearity``: He et al. 2015's for relu,
    LeCun et al. 1998's for linear at fan_in, Glorot & Bengio 2010's at fan_avg."""
    gain = nonlinearity_gain(nonlinearity)
    for name, rule in _named_rules().items():
        if (rule.mode, rule.distribution) == (mode, distribution) \
                and math.isclose(rule.gain, gain):
            return BY_NAME[name]
    raise LookupError(f"no named scheme draws gain({nonlinearity})^2 / {mode} ({distribution})")


def at_gain_one(init: dict) -> dict:
    """``init`` (an IR init that takes a gain) drawn at gain 1, its mode and distribution
    kept: the named scheme that draws that at its defaults (he_normal -> lecun_normal,
    glorot_uniform(gain=tanh) -> glorot_uniform), else ``init`` with the gain of ``linear``
    (kaiming_normal(mode=fan_out) has no named twin at gain 1, and orthogonal's gain scales
    an orthogonal matrix, no variance-scaling rule)."""
    preset = PRESETS.get(init["name"])
    if preset is None:
        return {**init, "gain": {"nonlinearity": "linear"}}
    rule = preset(init)
    try:
        scheme = scheme_for("linear", rule.mode, rule.distribution)
    except LookupError:
        return {**init, "gain": {"nonlinearity": "linear"}}
    return canonical({"name": scheme.name})


def variance_text(init: Init) -> str:
    """``Var(w) = 2 / fan_in``: the variance a scaled scheme draws at its defaults, with the
    fan it divides by as the scheme's paper writes it (fan_avg's mean as a sum over 2)."""
    rule = default_rule(init.name)
    if rule.mode == "fan_avg":
        return f"Var(w) = {rounded_text(2 * rule.scale)} / (fan_in + fan_out)"
    return f"Var(w) = {rounded_text(rule.scale)} / {rule.mode}"


def cited(init: Init) -> str:
    """``he_normal (Var(w) = 2 / fan_in, He et al. 2015)``: a scheme with its variance and
    the paper it comes from."""
    source = f", {init.source}" if init.source else ""
    return f"{init.name} ({variance_text(init)}{source})"
