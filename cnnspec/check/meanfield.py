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
``math`` (``check`` imports no NumPy); :mod:`cnnspec.lab.meanfield` passes a Gauss-Hermite
rule broadcast over NumPy grids of ``q``, ``sigma_w`` and ``sigma_b``.
"""
from __future__ import annotations

import math
from collections.abc import Callable

# The trapezoid's step in t, u = s sinh(t): its error falls as exp(-2 pi d / STEP) for an
# integrand analytic in a strip of half-width d about the real t axis (about 1 for tanh's
# and sigmoid's poles at u = i pi / 2 and i pi), far below float64's rounding at 0.1.
STEP = 0.1
# How many standard deviations of u the integral spans: the normal's density beyond 13 is
# below 1e-37 of its peak.
REACH = 13.0


def gaussian_mean(g: Callable[[float], float], q: float) -> float:
    """``E[g(u)]`` for ``u ~ N(0, q)``, by the trapezoidal rule after the substitution ``u = s
    sinh(t)``, ``s = min(1, sqrt(q))`` (Stenger, "Numerical methods based on sinc and analytic
    functions", 1993, section 1.5): its points lie ``STEP s`` apart near 0 and ``STEP |u|``
    far out, so one rule resolves a narrow normal (``q = 1e-6``, where ``s = sqrt(q)``) and a
    wide one whose integrand keeps ``g``'s own features near 0 (tanh's slope, width 1, under a
    normal of ``q = 1e4``), with about 60 to 300 points. ``g(0)`` where ``q`` is 0."""
    if q <= 0:
        return g(0.0)
    sd = math.sqrt(q)
    s = min(1.0, sd)
    end = math.asinh(REACH * sd / s)
    steps = math.ceil(end / STEP)
    h = end / steps
    total = 0.0
    for i in range(-steps, steps + 1):
        t = i * h
        u = s * math.sinh(t)
        total += g(u) * math.exp(-u * u / (2 * q)) * s * math.cosh(t)
    return total * h / (sd * math.sqrt(2 * math.pi))


Mean = Callable[[Callable, float], float]


def variance_map(q, sw2, sb2, phi, mean: Mean = gaussian_mean):
    """``q(l+1) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`` (Poole et al. 2016, eq. 3)."""
    return sw2 * mean(lambda u: phi(u) ** 2, q) + sb2


def chi_1(q, sw2, dphi, mean: Mean = gaussian_mean):
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2]``: the slope of the correlation map at c = 1,
    the mean squared singular value of one layer's Jacobian (Poole et al. 2016, eq. 7)."""
    return sw2 * mean(lambda u: dphi(u) ** 2, q)


# Iterations of the variance map, at most, to its fixed point: off the critical line q
# converges geometrically; on it (tanh at sigma_w^2 = 1, sigma_b = 0) q falls as 1 / (2 l),
# and chi_1 after 300 iterations is within 0.3% of its limit 1.
FIXED_POINT_ITERATIONS = 300


def fixed_chi(sw2: float, sb2: float, phi, dphi, q0: float = 1.0) -> float:
    """``chi_1`` at the fixed point ``q*`` of the variance map, iterated from ``q0``: the
    factor per layer a long stack of such layers settles into (above 1: the chaotic phase,
    below 1: the ordered phase, Poole et al. 2016)."""
    q = q0
    for _ in range(FIXED_POINT_ITERATIONS):
        new = variance_map(q, sw2, sb2, phi)
        if abs(new - q) <= 1e-10 * q or new < 1e-12:
            q = new
            break
        q = new
    return chi_1(q, sw2, dphi)
