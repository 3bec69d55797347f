"""The named random initializers, each one line of :class:`VarianceScaling`.

Where libraries disagree, each name here has one meaning (docs/ir.md): He normal is *not*
truncated (PyTorch's kaiming_normal_; Keras and JAX truncate it, which variance_scaling with
``truncated_normal`` offers; so are Keras' glorot_normal and lecun_normal), and Caffe's
fan_in-only "xavier" is ``lecun_uniform`` here.
"""
from __future__ import annotations

import math

from cnnspec.init.catalogue import PARAMS
from cnnspec.init.gains import gain
from cnnspec.init.scaling import VarianceScaling


def variance_scaling(init: dict) -> VarianceScaling:
    """The general rule itself: ``scale``, ``mode`` and ``distribution`` as written."""
    return VarianceScaling.of_scale(float(init["scale"]), init["mode"], init["distribution"])


def glorot_uniform(init: dict) -> VarianceScaling:
    """U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))``: variance_scaling(gain^2, fan_avg,
    uniform). Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward
    neural networks", eq. 16: a compromise between keeping forward and backward variances."""
    return VarianceScaling(gain(init["gain"]), "fan_avg", "uniform")


def glorot_normal(init: dict) -> VarianceScaling:
    """N(0, gain^2 * 2 / (fan_in + fan_out)): variance_scaling(gain^2, fan_avg, normal).
    Glorot & Bengio 2010: the variance of their eq. 12 (which eq. 16 draws uniformly), from a
    normal distribution."""
    return VarianceScaling(gain(init["gain"]), "fan_avg", "normal")


def he_uniform(init: dict) -> VarianceScaling:
    """U(-a, a), ``a = gain * sqrt(3 / n)``: variance_scaling(gain^2, mode, uniform).
    He et al. 2015, "Delving Deep into Rectifiers", eq. 10 (fan_in, forward) or eq. 14 (fan_out,
    backward); gain sqrt(2) for ReLU."""
    return VarianceScaling(gain(init["gain"]), init["mode"], "uniform")


def he_normal(init: dict) -> VarianceScaling:
    """N(0, gain^2 / n), not truncated (as PyTorch's kaiming_normal_): variance_scaling(gain^2,
    mode, normal). He et al. 2015, eq. 10 / eq. 14."""
    return VarianceScaling(gain(init["gain"]), init["mode"], "normal")


def lecun_uniform(init: dict) -> VarianceScaling:
    """U(-a, a), ``a = sqrt(3 / fan_in)``: variance_scaling(1, fan_in, uniform).
    LeCun, Bottou, Orr & Mueller 1998, "Efficient BackProp", section 4.6 (Caffe's "xavier")."""
    return VarianceScaling(1.0, "fan_in", "uniform")


def lecun_normal(init: dict) -> VarianceScaling:
    """N(0, 1 / fan_in), not truncated: variance_scaling(1, fan_in, normal).
    LeCun et al. 1998, "Efficient BackProp", section 4.6."""
    return VarianceScaling(1.0, "fan_in", "normal")


def torch_default(init: dict) -> VarianceScaling:
    """U(-1/sqrt(fan_in), +1/sqrt(fan_in)): variance_scaling(1/3, fan_in, uniform). What
    PyTorch's nn.Conv2d and nn.Linear ``reset_parameters`` draw: ``kaiming_uniform_(a=sqrt(5))``,
    gain sqrt(2 / (1 + 5)) = sqrt(1/3), bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in); their
    bias is U(+-1/sqrt(fan_in)) with the weight's fan_in, which the same rule gives on a bias.
    It is the "standard" initialization Glorot & Bengio 2010 start from (their eq. 1), whose
    ``fan_in * Var(w) = 1/3`` (their eq. 15) shrinks the variance 3x at every linear layer
    and 6x at every ReLU layer."""
    return VarianceScaling(math.sqrt(1.0 / 3.0), "fan_in", "uniform")


PRESETS = {
    "variance_scaling": variance_scaling,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "torch_default": torch_default,
}


def scheme_for_mode(init: dict) -> dict | None:
    """The named scheme that draws what ``init`` asks of a scheme that does not take its
    ``mode``: He's gain over ``fan_avg`` (``he_uniform(mode=fan_avg)``, the mean of the two
    fans He et al. 2015 choose between) is Glorot's scheme with that gain,
    ``{"name": "glorot_uniform", "gain": ...}``, since each scheme is one
    :class:`VarianceScaling`; None where no scheme taking a gain alone draws it. ``init``: an
    IR init of a scheme with a gain, its ``mode`` the one asked."""
    if init["name"] not in PRESETS:
        return None
    asked = PRESETS[init["name"]](init)
    for name, preset in PRESETS.items():
        other = {"name": name, "gain": init["gain"]}
        if set(PARAMS[name]) == {"gain"} and preset(other) == asked:
            return other
    return None
