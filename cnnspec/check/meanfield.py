"""The mean-field maps of one elementwise activation: how a layer moves the second moment of
its pre-activations and the mean square of the gradient (Poole et al. 2016, "Exponential
expressivity in deep neural networks through transient chaos"; Schoenholz et al. 2017, "Deep
information propagation").

For a layer ``h(l+1) = W phi(h(l)) + b`` with weights of ``fan_in E[w^2] = sigma_w^2`` and
biases of ``E[b^2] = sigma_b^2``, in the limit of infinite width::

    q(l+1) = sigma_w^2 E[phi(sqrt(q(l)) z)^2] + sigma_b^2        (variance map)
    chi_1  = sigma_w^2 E[phi'(sqrt(q(l)) z)^2]                     (one backward step)

``chi_1`` is the mean squared singular value of one layer's Jacobian: the factor by which
backpropagation through ``phi`` and ``W`` scales the gradient's mean square (Schoenholz et al.
2017, eq. 12). Each formula is written once here, over an expectation ``mean(g, q) = E[g(u)]``
for ``u ~ N(0, q)`` that the caller may pass: by default :func:`gaussian_mean`, in plain
``math`` (``check`` imports no NumPy); :mod:`cnnspec.lab.meanfield` passes the same rule
broadcast over NumPy grids of ``q``, ``sigma_w`` and ``sigma_b``. The rule's points and
weights (:func:`substitution_point` and its span and shift) are written once, over an
array namespace ``xp``: ``math`` here, ``numpy`` there (both name ``sqrt``, ``log``, ``exp``,
``sinh`` and ``cosh`` alike).
"""
from __future__ import annotations

import math
from collections.abc import Callable

# The midpoint rule's step in t, u = p + s sinh(t): its error falls as exp(-2 pi d / STEP) for
# an integrand analytic in a strip of half-width d about the real t axis (d is below pi / 2:
# sinh(t + i pi / 2) = i cosh(t) turns the normal's density into a growing exponential there).
# Measured against closed forms (erf) and 30-digit integrals (tanh), 0.1 leaves 1e-15 of the
# one-dimensional means and 2e-12 of the two-dimensional ones; 0.15 leaves 1e-14 and 2e-7.
STEP = 0.1
# How many standard deviations of u the integral spans: the normal's density beyond 13 is
# below 1e-37 of its peak.
REACH = 13.0
# How far from the normal's mean, in standard deviations, the points still crowd about u = 0,
# where an activation has its features (tanh's slope, ReLU's kink); beyond, they crowd at that
# distance from the mean on 0's side. Far from p the points spread as STEP |u - p|: at 8 a
# narrow normal's bump was sampled too coarsely (1e-8 of erf' under a normal of variance
# 1e-6), at 3 a feature out in a wide normal's tail (6e-8); 5 leaves 2e-12 of both.
CROWD = 5.0


def _clip(x, bound: float):
    """``x`` clipped to ``[-bound, bound]``, written without branches so that it serves a float
    and an array alike."""
    return (abs(x + bound) - abs(x - bound)) / 2


def _asinh(x, xp=math):
    """``asinh(x)`` for ``x >= 0`` (where the logarithm's form loses no digits), in any
    namespace: ``math`` spells it ``asinh``, NumPy before 2.0 only ``arcsinh``."""
    return xp.log(x + xp.sqrt(x * x + 1))


def substitution_shift(mean, var, xp=math):
    """The shift ``w`` of :func:`substitution_point`'s substitution for ``u ~ N(mean, var)``,
    ``var > 0``: ``mean / sd`` clipped to ``[-CROWD, CROWD]``. Its points crowd about ``u = p =
    mean - sd w``: about ``u = 0``, where an activation's features lie, while 0 is within
    ``CROWD`` standard deviations of the mean, else at that distance from the mean on 0's side
    (0 is then out in the normal's tail)."""
    return _clip(mean / xp.sqrt(var), CROWD)


def substitution_span(stretch, w, xp=math):
    """The range ``[lo, hi]`` of ``t`` over which :func:`substitution_point`'s ``z`` runs over
    ``[-REACH, REACH]``; the widest, ``w = CROWD``, spans that range for every shift."""
    return -_asinh((REACH - w) * stretch, xp), _asinh((REACH + w) * stretch, xp)


_ROOT_2PI = math.sqrt(2 * math.pi)


def substitution_point(t, stretch, w, xp=math):
    """The point ``z = (u - mean) / sd`` of the substitution ``z = sinh(t) / stretch - w``,
    ``stretch = sqrt(1 + var)``, for ``u ~ N(mean, var)`` at ``t``, and the normal's density
    there times ``du / dt``: ``E[g(u)]`` is the integral over ``t`` of ``g(mean + sd z)
    density``. Near ``p`` (see
    :func:`substitution_shift`) the points lie ``STEP sd / sqrt(1 + var)`` apart (``STEP sd``
    for a narrow normal, ``STEP`` for a wide one: tanh's slope of width 1 is resolved under a
    normal of ``var = 1e4``), far out ``STEP |u - p|`` apart (Stenger, "Numerical methods based
    on sinc and analytic functions", 1993, section 1.5)."""
    z = xp.sinh(t) / stretch - w
    return z, xp.cosh(t) * xp.exp(-z * z / 2) / (stretch * _ROOT_2PI)


def cells(span, xp=math):
    """How many midpoint cells of width at most ``STEP`` cover a ``span`` of ``t``: an even
    number, so that on a span symmetric about 0 the point ``t = 0`` (``u = 0``, ReLU's kink)
    falls between two cells, not on a point. An int of a float (``math``), an array of floats
    of an array (``numpy``)."""
    return 2 * xp.ceil(span / (2 * STEP))


def gaussian_mean(g: Callable[[float], float], q: float) -> float:
    """``E[g(u)]`` for ``u ~ N(0, q)``, by the midpoint rule after the substitution of
    :func:`substitution_point` (with ``mean = 0``, ``w = 0``): one rule resolves a narrow
    normal (``q = 1e-6``) and a wide one whose integrand keeps ``g``'s own features near 0
    (tanh's slope under ``q = 1e4``), with 66 points (``q`` well below 1) to 158 (``q =
    1e4``), growing with ``log q`` (1,448 at ``q = 1e60``, a bias of std ``1e30``): from
    :data:`SATURATED_Q` on, a ``g`` that has settled to its limits within
    :data:`SATURATION` of 0 (tanh, sigmoid, their squares and their slopes') takes its
    closed-form limit instead (:func:`saturated_mean`, 88 points). ``g(0)`` where ``q`` is
    0."""
    if q <= 0:
        return g(0.0)
    if q >= SATURATED_Q and _saturates(g):
        return saturated_mean(g, q)
    stretch = math.sqrt(1 + q)
    lo, hi = substitution_span(stretch, 0.0)
    n = cells(hi - lo)
    h = (hi - lo) / n
    sd = math.sqrt(q)
    total = 0.0
    for i in range(n):
        z, density = substitution_point(lo + (i + 0.5) * h, stretch, 0.0)
        total += g(sd * z) * density
    return total * h


# Beyond |u| = SATURATION tanh and sigmoid, the squares of their values and of their slopes
# are within 1e-17 of their limits (1 - tanh(u)^2 is about 4 exp(-2|u|), sigmoid(-u) about
# exp(-|u|)).
SATURATION = 40.0
# From this q on, a mean of a g that saturates is its limit (saturated_mean): the terms the
# limit leaves out are (1/2q) ∫ u^2 (g - step) du over ∫ (g - step) du, below 1e-14 of a
# mean for tanh and sigmoid (0.16 / q and 0.65 / q of chi_1's), and q = 1e14 still takes
# the midpoint rule 380 points.
SATURATED_Q = 1e14


def _saturates(g: Callable[[float], float]) -> bool:
    """Whether ``g`` has settled to its limits by :data:`SATURATION` either side of 0: the
    same there as twice as far out (ReLU's square is not: it grows)."""
    return all(abs(g(sign * SATURATION) - g(2 * sign * SATURATION))
               <= 1e-16 * max(1.0, abs(g(2 * sign * SATURATION))) for sign in (-1, 1))


def saturated_mean(g: Callable[[float], float], q: float) -> float:
    """The limit of ``E[g(u)]``, ``u ~ N(0, q)``, as ``q`` grows, for a ``g`` that goes from
    its limit ``A`` below 0 to ``B`` above within :data:`SATURATION` of 0 (:func:`_saturates`):
    over all that ``g`` does the normal's density is flat at its peak, ``1 / sqrt(2 pi q)``,
    so ``E[g] = (A + B) / 2 + C / sqrt(2 pi q) + O(q^(-3/2))`` with ``C = ∫ (g(u) - S(u))
    du`` over the reals, ``S = A + (B - A) (1 + tanh(u)) / 2`` a smooth step from ``A`` to
    ``B`` whose mean under every centred normal is ``(A + B) / 2`` (``tanh`` is odd), so that
    ``g - S`` is analytic and ``C`` is ``∫ (g - step)``: -2 for ``tanh^2``, 4/3 for
    ``tanh'^2``, -1 for ``sigmoid^2``, 1/6 for ``sigmoid'^2``. ``C`` by the midpoint rule of
    step :data:`STEP` after ``u = sinh(t)`` (points 0.1 apart about 0, where ``g`` has its
    features, farther out where it has settled), over ``|u| <= SATURATION``: 88 points."""
    low, high = g(-SATURATION), g(SATURATION)
    span = 2 * _asinh(SATURATION)
    n = cells(span)
    h = span / n
    total = 0.0
    for i in range(n):
        t = (i + 0.5) * h - span / 2
        u = math.sinh(t)
        step = low + (high - low) * (1 + math.tanh(u)) / 2
        total += (g(u) - step) * math.cosh(t)
    return (low + high) / 2 + total * h / math.sqrt(2 * math.pi * q)


Mean = Callable[[Callable, float], float]


def variance_map(q, sw2, sb2, phi, mean: Mean = gaussian_mean):
    """``q(l+1) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`` (Poole et al. 2016, eq. 3)."""
    return sw2 * mean(lambda u: phi(u) ** 2, q) + sb2


def chi_1(q, sw2, dphi, mean: Mean = gaussian_mean):
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2]``: the slope of the correlation map at c = 1,
    the mean squared singular value of one layer's Jacobian (Poole et al. 2016, eq. 7)."""
    return sw2 * mean(lambda u: dphi(u) ** 2, q)


ZERO_Q = 1e-12  # a fixed point q* = 0 is given as this (the correlation map divides by q*)
BISECTIONS = 60  # halvings of ln q between a root's brackets q and 2 q: to rounding


def fixed_q(sw2: float, sb2: float, phi, q0: float = 1.0) -> float:
    """The fixed point ``q*`` the variance map's iterates from ``q0`` tend to: the first root
    of ``g(q) = q(l+1) - q`` on the side ``g`` points to, found by doubling (or halving) ``q``
    until ``g`` changes sign and bisecting ``ln q`` there. The map rises with ``q``, so the
    iterates approach that root and never pass it: it is their limit, however many layers
    they take (on tanh's critical point ``q`` falls only as ``1 / (2 l)``; 300 iterations
    left 0.0017 and ``chi_1`` 0.997). Falling with no root above :data:`ZERO_Q`: that (``q* =
    0``). ``phi`` is bounded (check's stacks: tanh, sigmoid), so a rising map meets its root
    (about ``sigma_b^2``) ahead; past floating point: NaN.
    :func:`cnnspec.lab.meanfield.root_ahead` takes the same steps over arrays, for maps that
    may grow without bound too."""
    def gap(q):
        return variance_map(q, sw2, sb2, phi) - q

    if q0 <= ZERO_Q:
        return q0
    q, rising = q0, gap(q0) > 0
    while True:
        ahead = 2 * q if rising else q / 2
        if (gap(ahead) > 0) != rising:
            break
        if ahead <= ZERO_Q:
            return ZERO_Q
        if not math.isfinite(ahead):
            return math.nan
        q = ahead
    lo, hi = min(q, ahead), max(q, ahead)
    for _ in range(BISECTIONS):  # g > 0 below the root the iterates reach, < 0 above
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if gap(mid) > 0 else (lo, mid)
    return math.sqrt(lo * hi)


def fixed_chi(sw2: float, sb2: float, phi, dphi, q0: float = 1.0) -> float:
    """``chi_1`` at the fixed point ``q*`` of the variance map (:func:`fixed_q`, of a bounded
    ``phi``), from ``q0``: the factor per layer a long stack of such layers settles into
    (above 1: the chaotic phase, below 1: the ordered phase, Poole et al. 2016)."""
    return chi_1(fixed_q(sw2, sb2, phi, q0), sw2, dphi)
