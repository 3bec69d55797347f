"""The gain of an initialiser: a number, or the one that suits a nonlinearity.

The table is PyTorch's ``torch.nn.init.calculate_gain``: the factor by which an activation
shrinks the second moment of a zero-mean signal is undone by scaling the weights by the gain.
ReLU zeroes half of the signal, so its gain is sqrt(2) (He et al. 2015); leaky ReLU with
negative slope ``a`` keeps ``(1 + a^2) / 2`` of it, so sqrt(2 / (1 + a^2)). Tanh's 5/3 comes
without a derivation in PyTorch; it is near ``1 / sqrt(E[tanh(z)^2]) = 1.59`` for z ~ N(0, 1),
the factor that gives a unit Gaussian its second moment back after tanh. Mean-field theory
(Poole et al. 2016) puts it in tanh's chaotic phase (chi_1 = 1.21 at sigma_w = 5/3, sigma_b = 0,
a correlation depth of about 12 layers), where gain 1 is critical: fine at a few dozen layers,
not at hundreds (docs/critical-init.md). Sigmoid's 1 is no such factor: sigmoid is not
zero-centred (1/2 at 0) and its slope at 0 is 1/4.
"""
from __future__ import annotations

import difflib
import math

from cnnspec.errors import SpecError, float_text

NONLINEARITIES = ("linear", "relu", "leaky_relu", "tanh", "sigmoid")
DEFAULT_LEAKY_SLOPE = 0.01  # PyTorch's default negative slope
# The rule for a leaky ReLU's negative slope, one for the layer (`leaky_relu 0.2`) and the gain
# (`gain=leaky_relu(0.2)`, a JSON IR's {"nonlinearity": "leaky_relu", "slope": 0.2}): 0 or
# more. Maas et al. 2013's leaky rectifier lets a small part of the negative inputs through;
# a negative slope folds them over (-1 makes |x|), a function neither the layer means nor
# sqrt(2 / (1 + a^2)) was derived for (He et al. 2015, eq. 15: a leaky slope).
LEAKY_SLOPE_LOW = 0
LEAKY_SLOPE_HINT = "the slope for negative inputs, e.g. 0.01 or 0.2"


def nonlinearity_gain(nonlinearity: str, slope: float | None = None) -> float:
    """PyTorch's ``calculate_gain(nonlinearity, slope)``."""
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = DEFAULT_LEAKY_SLOPE if slope is None else float(slope)
        # sqrt(2 / (1 + a^2)) through hypot: a slope of 1e200 squares beyond float64's range
        # and made a gain of 0, which variance scaling refuses, where 1.41e-200 is the gain
        return math.sqrt(2.0) / math.hypot(1.0, a)
    close = difflib.get_close_matches(str(nonlinearity), NONLINEARITIES, n=1)
    hint = f"did you mean {close[0]}?" if close else "use one of " + ", ".join(NONLINEARITIES)
    raise SpecError(f"unknown nonlinearity {nonlinearity!r} for a gain", hint=hint)


def gain(gain_ir: dict) -> float:
    """The gain of an IR gain object: ``{"value": g}`` or ``{"nonlinearity": n, "slope": s}``."""
    if "value" in gain_ir:
        return float(gain_ir["value"])
    if "nonlinearity" in gain_ir:
        if gain_ir.get("slope") is not None and gain_ir["nonlinearity"] != "leaky_relu":
            raise SpecError(f"a slope only applies to leaky_relu, not {gain_ir['nonlinearity']}",
                            hint="drop the slope, or use leaky_relu(slope)")
        return nonlinearity_gain(gain_ir["nonlinearity"], gain_ir.get("slope"))
    raise SpecError("a gain needs a value or a nonlinearity",
                    hint='write {"value": g} or {"nonlinearity": "relu"}')


def gain_text(gain_ir: dict) -> str:
    """How a gain reads in a formula: ``1.5``, ``relu`` or ``leaky_relu(0.2)``."""
    if "value" in gain_ir:
        return float_text(float(gain_ir["value"]))
    name = gain_ir["nonlinearity"]
    if name == "leaky_relu":
        slope = gain_ir.get("slope")
        return f"leaky_relu({float_text(float(DEFAULT_LEAKY_SLOPE if slope is None else slope))})"
    return name
