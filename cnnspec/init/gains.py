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

The activations PyTorch's table has no entry for (gelu, silu, elu, hardswish, mish) get the
gain that keeps the second moment, ``g = 1 / sqrt(E[f(z)^2])`` for z ~ N(0, 1): He et al. 2015's
derivation (eq. 10, ``Var(y_l) = n_l Var(w_l) E[x_l^2]`` with ``x_l = f(y_{l-1})``) with ReLU's
``E[x^2] = Var(y) / 2`` replaced by the activation's own second moment at unit variance, where
``Var(y_l) = Var(y_{l-1}) = 1`` is then a fixed point. For ReLU it gives sqrt(2), for the
identity 1. The integral is Gauss-Hermite quadrature (:func:`gaussian_second_moment`), computed
once per nonlinearity, not typed in. Whether the fixed point holds the signal through a stack
is :func:`fixed_point_slope`'s: for gelu, silu, mish and hard swish it does not
(docs/how-to-initialise.md, section "Gains of the other activations").
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable

from cnnspec.errors import SpecError, closest, float_text

DEFAULT_LEAKY_SLOPE = 0.01  # PyTorch's default negative slope
# The rule for a leaky ReLU's negative slope, one for the layer (`leaky_relu 0.2`) and the gain
# (`gain=leaky_relu(0.2)`, a JSON IR's {"nonlinearity": "leaky_relu", "slope": 0.2}): 0 or
# more. Maas et al. 2013's leaky rectifier lets a small part of the negative inputs through;
# a negative slope folds them over (-1 makes |x|), a function neither the layer means nor
# sqrt(2 / (1 + a^2)) was derived for (He et al. 2015, eq. 15: a leaky slope).
LEAKY_SLOPE_LOW = 0
LEAKY_SLOPE_HINT = "the slope for negative inputs, e.g. 0.01 or 0.2"

# Nodes of the Gauss-Hermite rule, exact for a polynomial of degree up to 2n - 1: every second
# moment here agrees with 10^6 Monte-Carlo draws within 5 of their standard errors, about 0.1%
# (tests/test_init.py); hard swish's kinks at -3 and 3 converge slowest. Beyond about 200 nodes
# the recurrence of _normal_rule overflows.
GAUSS_HERMITE_POINTS = 151


def gelu(t: float) -> float:
    """GELU's exact form ``t Phi(t)``, Phi the normal CDF (Hendrycks & Gimpel 2016)."""
    return 0.5 * t * math.erfc(-t / math.sqrt(2))


def silu(t: float) -> float:
    """``t sigmoid(t)`` (Elfwing et al. 2018; swish), without overflow far below 0."""
    return t / (1 + math.exp(-t)) if t >= 0 else t * math.exp(t) / (1 + math.exp(t))


def softplus(t: float) -> float:
    """``log(1 + exp(t))`` as ``max(t, 0) + log1p(exp(-|t|))``: no ``exp`` overflows, and
    ``exp(t)`` stays exact far below 0, where ``log(1 + exp(t))`` rounds to 0."""
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


def mish(t: float) -> float:
    """``t tanh(softplus(t))`` (Misra 2019, "Mish: A Self Regularized Non-Monotonic Activation
    Function")."""
    return t * math.tanh(softplus(t))


def elu(t: float, alpha: float = 1.0) -> float:
    """``t`` above 0, ``alpha (exp(t) - 1)`` below (Clevert et al. 2016); the named gain's alpha
    is 1, PyTorch's default."""
    return t if t > 0 else alpha * math.expm1(t)


def hardswish(t: float) -> float:
    """``t relu6(t + 3) / 6`` (Howard et al. 2019, MobileNetV3)."""
    return t * min(max(t + 3, 0.0), 6.0) / 6


# The nonlinearities without a calculate_gain entry, each with its function: their gain is the
# one that keeps the second moment (:func:`second_moment_gain`).
MOMENT_KEEPING: dict[str, Callable[[float], float]] = {
    "gelu": gelu, "silu": silu, "elu": elu, "hardswish": hardswish, "mish": mish}
# PyTorch's calculate_gain table for the nonlinearities without an argument: the gain, and
# how the docs write it (docs/language.md's gains are generated from here).
CALCULATE_GAIN = {"linear": (1.0, "1"), "relu": (math.sqrt(2.0), "√2"),
                  "tanh": (5.0 / 3.0, "5/3"), "sigmoid": (1.0, "1")}
# leaky_relu's, of its negative slope (nonlinearity_gain), as the docs write it.
LEAKY_GAIN_TEXT = "√(2 / (1 + slope²))"
NONLINEARITIES = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", *MOMENT_KEEPING)


@functools.cache
def _normal_rule() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The Gauss-Hermite nodes and weights for ``E[g(z)]``, z ~ N(0, 1): the roots of the
    Hermite polynomial by Newton's method on its normalised recurrence, and their weights
    (Press et al., "Numerical Recipes", 3rd ed., section 4.6, ``gauher``), rescaled from the
    weight ``exp(-x^2)`` to the standard normal (``z = sqrt(2) x``, weights over sqrt(pi)).
    Pure Python: check imports no NumPy (tests/test_startup.py); the tests hold it against
    NumPy's ``hermegauss``. Worked out once per process, when a gain first needs it."""
    n = GAUSS_HERMITE_POINTS
    steps = _recurrence(n)
    nodes, weights = [0.0] * n, [0.0] * n
    for i in range((n + 1) // 2):
        z = _root_guess(i, n, nodes)
        for _ in range(100):
            value, below = _hermite(z, steps)
            slope = math.sqrt(2 * n) * below
            z, previous = z - value / slope, z
            if abs(z - previous) <= 1e-14 * max(1.0, abs(z)):
                break
        nodes[i], nodes[n - 1 - i] = z, -z
        weights[i] = weights[n - 1 - i] = 2 / (slope * slope)
    return (tuple(math.sqrt(2) * x for x in nodes),
            tuple(w / math.sqrt(math.pi) for w in weights))


def _recurrence(n: int) -> list[tuple[float, float]]:
    """The coefficients ``(sqrt(2 / j), sqrt((j - 1) / j))``, j = 1..n, of the normalised
    Hermite polynomials' recurrence ``h_j = z sqrt(2 / j) h_(j-1) - sqrt((j - 1) / j)
    h_(j-2)``: the same for every root, so worked out once, not at each of Newton's steps
    (some 320 of them for 151 points: the square roots were half of the rule's time)."""
    return [(math.sqrt(2 / j), math.sqrt((j - 1) / j)) for j in range(1, n + 1)]


def _hermite(z: float, steps: list[tuple[float, float]]) -> tuple[float, float]:
    """The normalised Hermite polynomials of degrees ``n`` and ``n - 1`` at ``z``, ``steps``
    the ``n`` coefficients of their recurrence (:func:`_recurrence`)."""
    value, below = math.pi ** -0.25, 0.0
    for up, back in steps:
        value, below = z * up * value - back * below, value
    return value, below


def _root_guess(i: int, n: int, nodes: list[float]) -> float:
    """Where Newton's method starts for the ``i``-th largest root (``gauher``'s guesses)."""
    if i == 0:
        return math.sqrt(2 * n + 1) - 1.85575 * (2 * n + 1) ** -0.16667
    if i == 1:
        return nodes[0] - 1.14 * n ** 0.426 / nodes[0]
    if i in (2, 3):
        factor = (1.86, 1.91)[i - 2]
        return factor * nodes[i - 1] - (factor - 1) * nodes[i - 2]
    return 2 * nodes[i - 1] - nodes[i - 2]


def gaussian_second_moment(f: Callable[[float], float], variance: float = 1.0) -> float:
    """``E[f(y)^2]`` for y ~ N(0, ``variance``), by Gauss-Hermite quadrature."""
    nodes, weights = _normal_rule()
    spread = math.sqrt(variance)
    values = [f(spread * z) for z in nodes]
    # a product, not ** 2: elu(alpha=1e300)'s values square past float64's range, which ** 2
    # raises as an error and a product gives as infinity
    return math.fsum(w * value * value for value, w in zip(values, weights))


def second_moment_gain(f: Callable[[float], float]) -> float:
    """``1 / sqrt(E[f(z)^2])``, z ~ N(0, 1): the gain under which a layer of ``Var(w) = g^2 /
    fan_in`` before ``f`` gives back the unit variance of its input's sums (He et al. 2015,
    eq. 10, with ``f``'s second moment for ReLU's 1/2): sqrt(2) for ReLU, 1 for the identity."""
    return 1.0 / math.sqrt(gaussian_second_moment(f))


def fixed_point_slope(f: Callable[[float], float]) -> float:
    """``d ln E[f(sqrt(q) z)^2] / d ln q`` at ``q = 1``: the slope of the variance map ``q ->
    g^2 E[f(sqrt(q) z)^2]`` at its fixed point ``q = 1`` (``g``: :func:`second_moment_gain`),
    the factor by which a small offset of the variance from 1 grows at each layer (Poole et al.
    2016's map, in logarithms). 1 for ReLU (every variance is kept), below 1 for tanh, sigmoid
    and elu (an offset dies out: the stack settles at 1), above 1 for gelu, silu, mish and
    hard swish (an offset grows layer by layer: no gain keeps their plain stack's scale)."""
    step = 0.01
    up, down = (gaussian_second_moment(f, math.exp(s)) for s in (step, -step))
    return math.log(up / down) / (2 * step)


@functools.cache
def unit_second_moment(nonlinearity: str) -> float:
    """``E[f(z)^2]``, z ~ N(0, 1), of a nonlinearity of :data:`MOMENT_KEEPING`, integrated on
    first use (not on import: the parser imports this module without NumPy)."""
    return gaussian_second_moment(MOMENT_KEEPING[nonlinearity])


def nonlinearity_gain(nonlinearity: str, slope: float | None = None) -> float:
    """PyTorch's ``calculate_gain(nonlinearity, slope)``; for a nonlinearity it has no entry
    for, the gain that keeps the second moment (:func:`second_moment_gain`)."""
    if nonlinearity in CALCULATE_GAIN:
        return CALCULATE_GAIN[nonlinearity][0]
    if nonlinearity == "leaky_relu":
        a = DEFAULT_LEAKY_SLOPE if slope is None else float(slope)
        # sqrt(2 / (1 + a^2)) through hypot: a slope of 1e200 squares beyond float64's range
        # and made a gain of 0, which variance scaling refuses, where 1.41e-200 is the gain
        return math.sqrt(2.0) / math.hypot(1.0, a)
    if nonlinearity in MOMENT_KEEPING:
        return 1.0 / math.sqrt(unit_second_moment(nonlinearity))  # second_moment_gain
    close = closest(str(nonlinearity), NONLINEARITIES)
    hint = f"did you mean {close}?" if close else "use one of " + ", ".join(NONLINEARITIES)
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
