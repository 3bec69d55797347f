"""Mean-field theory of signal propagation in deep random networks: the order-to-chaos phase.

A layer ``h(l+1) = W phi(h(l)) + b`` with weights ``N(0, sigma_w^2 / fan_in)`` and biases
``N(0, sigma_b^2)``, in the limit of infinite width, maps the second moment ``q`` of a
pre-activation and the correlation ``c`` between the pre-activations of two inputs as
(Poole et al. 2016, "Exponential expressivity in deep neural networks through transient chaos";
Schoenholz et al. 2017, "Deep information propagation")::

    q(l+1)  = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2                       (variance map)
    q12(l+1) = sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2,   c = q12 / sqrt(q11 q22)
    u1 = sqrt(q11) z1,  u2 = sqrt(q22) (c z1 + sqrt(1 - c^2) z2),  z, z1, z2 ~ N(0, 1)

The variance map has a fixed point ``q*``; at ``q*`` the correlation map has the fixed point
``c = 1`` with slope ``chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]`` (Poole et al. 2016). It is
stable (ordered phase: every input becomes alike) when ``chi_1 < 1``, unstable (chaotic phase:
nearby inputs decorrelate, gradients explode) when ``chi_1 > 1``; ``chi_1 = 1`` is the critical
line. Near the fixed points ``q`` and ``c`` approach them as ``exp(-l / xi)`` with the depth
scales of Schoenholz et al.::

    xi_q = -1 / ln(chi_q),  chi_q = d q(l+1) / d q(l) at q*
         = sigma_w^2 E[phi'(u)^2 + phi(u) phi''(u)]  (Stein's lemma: = sigma_w^2 E[z phi(u) phi'(u)] / sqrt(q*))
    xi_c = -1 / ln(chi_c),  chi_c = sigma_w^2 E[phi'(u1) phi'(u2)] at (q*, c*)

``chi_c = chi_1`` where ``c* = 1``; ``xi_c`` diverges on the critical line, and Schoenholz et
al. find that a network trains only when its depth is below a few ``xi_c`` (their Fig. 5: about
6 xi_c). For ReLU, ``chi_1 = sigma_w^2 / 2``: the critical line is ``sigma_w^2 = 2``, He et
al.'s init; ``q`` has no finite fixed point beyond it.

Gaussian expectations are Gauss-Hermite quadrature (probabilists' weights, ``numpy.polynomial.
hermite_e.hermegauss``), with an even number of nodes so that none sits on ReLU's kink at 0.
Every function broadcasts over arrays of ``sigma_w`` and ``sigma_b`` (a whole grid at once).
The nonlinearity ``phi`` and its derivative are the engine's own forward and backward kernels.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from cnnspec.check import meanfield as shared
from cnnspec.engine import activations
from cnnspec.errors import SpecError

NODES_1D = 100  # nodes of the 1-D quadrature (even: none on ReLU's kink)
NODES_2D = 40  # nodes per axis of the 2-D quadrature
UNBOUNDED = 1e8  # a q above this is taken to grow without bound (no fixed point)
NOT_ELEMENTWISE = ("softmax", "log_softmax")  # activations that mix units: no mean-field map


@dataclass(frozen=True)
class Nonlinearity:
    """``phi`` and its derivative ``dphi``, elementwise on arrays."""

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]


def nonlinearity(name: str, **kwargs) -> Nonlinearity:
    """The engine's activation ``name`` (with its keyword arguments, e.g. ``slope``) as
    ``phi`` and ``phi'``: ``phi'`` is its backward kernel applied to a gradient of ones."""
    forward = getattr(activations, f"{name}_forward", None)
    backward = getattr(activations, f"{name}_backward", None)
    if forward is None or backward is None or name in NOT_ELEMENTWISE:
        raise SpecError(f"the mean-field theory needs an elementwise nonlinearity, not {name!r}",
                        hint="use a network whose hidden layers end in tanh, relu, or another "
                        "elementwise activation")

    def phi(x):
        return forward(np.asarray(x, dtype=np.float64), **kwargs)[0]

    def dphi(x):
        x = np.asarray(x, dtype=np.float64)
        _, cache = forward(x, **kwargs)
        return backward(np.ones_like(x), cache)

    return Nonlinearity(name, phi, dphi)


@cache
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``z`` and weights ``p`` (summing to 1) with ``E[f(z)] ~ sum p f(z)``, z ~ N(0, 1)."""
    z, w = hermegauss(n)
    return z, w / w.sum()


def expect(f: Callable[[np.ndarray], np.ndarray], n: int = NODES_1D) -> np.ndarray:
    """``E[f(z)]`` for ``z ~ N(0, 1)``; ``f`` maps the nodes (shape (n,), broadcast against
    the caller's arrays on the left) to values, and the last axis is summed."""
    z, p = gauss_hermite(n)
    return f(z) @ p


def expect2(f: Callable[[np.ndarray, np.ndarray], np.ndarray], n: int | None = None
            ) -> np.ndarray:
    """``E[f(z1, z2)]`` for independent standard normals, on an ``n x n`` product grid
    (``n`` default :data:`NODES_2D`)."""
    n = n or NODES_2D
    z, p = gauss_hermite(n)
    z1, z2 = np.repeat(z, n), np.tile(z, n)
    return f(z1, z2) @ np.outer(p, p).ravel()


def _col(a) -> np.ndarray:
    """``a`` as float64 with a trailing axis for the quadrature nodes."""
    return np.asarray(a, dtype=np.float64)[..., None]


def _normal_mean(g: Callable[[np.ndarray], np.ndarray], q) -> np.ndarray:
    """``E[g(u)]`` for ``u ~ N(0, q)`` at every ``q`` of an array at once: the expectation
    the shared formulas of :mod:`cnnspec.check.meanfield` take, by :func:`expect`."""
    s = np.sqrt(_col(q))
    return expect(lambda z: g(s * z))


def variance_map(q, sw2, sb2, act: Nonlinearity) -> np.ndarray:
    """``q(l+1) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`` (Poole et al. 2016):
    :func:`cnnspec.check.meanfield.variance_map` over arrays."""
    return shared.variance_map(q, np.asarray(sw2), np.asarray(sb2), act.phi, _normal_mean)


def fixed_q(sw2, sb2, act: Nonlinearity, q0: float = 1.0, iterations: int = 300,
            tol: float = 1e-10) -> np.ndarray:
    """The fixed point ``q*`` of the variance map, iterated from ``q0``; NaN where ``q`` grows
    without bound (ReLU beyond ``sigma_w^2 = 2``). Where ``q*`` is 0 (``sigma_b = 0`` in the
    ordered phase) the iteration stops at a small positive ``q``, which gives ``chi_1`` its
    limit ``sigma_w^2 phi'(0)^2`` (on the critical point itself q falls as 1/l: after 300
    iterations it is about 0.002 for tanh, and ``chi_1`` within 1% of 1)."""
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, float), np.asarray(sb2, float))
    q = np.full(sw2.shape, float(q0))
    for _ in range(iterations):
        new = variance_map(q, sw2, sb2, act)
        done = np.abs(new - q) <= tol * np.maximum(q, 1e-300)
        q = np.minimum(new, UNBOUNDED * 10)
        if (done | (q < 1e-12) | (q >= UNBOUNDED)).all():
            break
    return np.where(q >= UNBOUNDED, np.nan, np.maximum(q, 1e-12))


def covariance_map(q11, q22, q12, sw2, sb2, act: Nonlinearity) -> np.ndarray:
    """``q12(l+1) = sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2`` for pre-activations of second
    moments ``q11``, ``q22`` and covariance ``q12`` (Poole et al. 2016)."""
    s1, s2 = np.sqrt(_col(q11)), np.sqrt(_col(q22))
    c = np.clip(_col(q12) / (s1 * s2), -1.0, 1.0)
    s = np.sqrt(1.0 - c * c)
    value = expect2(lambda z1, z2: act.phi(s1 * z1) * act.phi(s2 * (c * z1 + s * z2)))
    return np.asarray(sw2) * value + np.asarray(sb2)


def correlation_map(c, qstar, sw2, sb2, act: Nonlinearity) -> np.ndarray:
    """``c(l+1)`` for two inputs at the variance fixed point ``q*`` (Poole et al. 2016)."""
    qstar = np.asarray(qstar, float)
    return covariance_map(qstar, qstar, np.asarray(c) * qstar, sw2, sb2, act) / qstar


def chi_1(qstar, sw2, act: Nonlinearity) -> np.ndarray:
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]``: the slope of the correlation map at c = 1,
    the mean squared singular value of one layer's Jacobian (Poole et al. 2016):
    :func:`cnnspec.check.meanfield.chi_1` over arrays."""
    return shared.chi_1(qstar, np.asarray(sw2), act.dphi, _normal_mean)


def chi_q(qstar, sw2, act: Nonlinearity) -> np.ndarray:
    """The slope of the variance map at ``q*``: ``sigma_w^2 E[z phi(u) phi'(u)] / sqrt(q*)``,
    ``u = sqrt(q*) z`` (Stein's lemma turns Schoenholz et al.'s ``phi'^2 + phi phi''`` into
    this form, which needs no second derivative)."""
    s = np.sqrt(_col(qstar))
    return np.asarray(sw2) * expect(lambda z: z * act.phi(s * z) * act.dphi(s * z)) / s[..., 0]


def fixed_c(qstar, sw2, sb2, act: Nonlinearity, steps: int = 30) -> np.ndarray:
    """The stable fixed point ``c*`` of the correlation map: 1 where ``chi_1 <= 1`` (ordered),
    else the root of ``c(l+1) - c`` in ``[0, 1)`` (chaotic: just below 1 the map pulls ``c``
    down, at 0 it gives ``sigma_b^2 / q* >= 0``), by bisection."""
    qstar, sw2, sb2 = np.broadcast_arrays(*(np.asarray(a, float) for a in (qstar, sw2, sb2)))
    c = np.ones(qstar.shape)
    chaotic = chi_1(qstar, sw2, act) > 1.0  # only these have c* < 1
    q, w2, b2 = qstar[chaotic], sw2[chaotic], sb2[chaotic]
    lo, hi = np.zeros(q.shape), np.full(q.shape, 1.0 - 1e-9)
    for _ in range(steps if q.size else 0):
        mid = (lo + hi) / 2
        above = correlation_map(mid, q, w2, b2, act) > mid  # the root lies above mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    c[chaotic] = (lo + hi) / 2
    return c


def chi_c(cstar, qstar, sw2, act: Nonlinearity) -> np.ndarray:
    """``chi_c = sigma_w^2 E[phi'(u1) phi'(u2)]`` at ``(q*, c*)`` (Schoenholz et al. 2017)."""
    s = np.sqrt(_col(qstar))
    c = np.clip(_col(cstar), -1.0, 1.0)
    r = np.sqrt(1.0 - c * c)
    value = expect2(lambda z1, z2: act.dphi(s * z1) * act.dphi(s * (c * z1 + r * z2)))
    return np.asarray(sw2) * value


def depth_scale(chi) -> np.ndarray:
    """``xi = -1 / ln(chi)``: the depth over which a deviation shrinks by e; infinite at
    ``chi = 1``. Taken on ``|ln chi|`` so the chaotic side has a positive scale too."""
    chi = np.asarray(chi, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chi > 0, 1.0 / np.abs(np.log(chi)), 0.0)


@dataclass
class Phase:
    """The mean-field quantities at each ``(sigma_w, sigma_b)`` (arrays of one shape)."""

    sigma_w: np.ndarray
    sigma_b: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray


def phase(sigma_w, sigma_b, act: Nonlinearity) -> Phase:
    """``q*``, ``c*``, ``chi_1`` and the depth scales at every ``(sigma_w, sigma_b)``."""
    sw, sb = np.broadcast_arrays(np.asarray(sigma_w, float), np.asarray(sigma_b, float))
    sw2, sb2 = sw ** 2, sb ** 2
    qstar = fixed_q(sw2, sb2, act)
    bounded = np.isfinite(qstar)
    q = np.where(bounded, qstar, 1.0)  # placeholders where q* does not exist; masked below
    chi1 = chi_1(q, sw2, act)
    cstar = fixed_c(q, sw2, sb2, act)
    xi_q = depth_scale(chi_q(q, sw2, act))
    xi_c = depth_scale(np.where(cstar >= 1.0, chi1, chi_c(cstar, q, sw2, act)))
    nan = np.full(sw.shape, np.nan)
    return Phase(sw, sb, qstar, np.where(bounded, cstar, nan), np.where(bounded, chi1, nan),
                 np.where(bounded, xi_q, nan), np.where(bounded, xi_c, nan))


def critical_sigma_w(sigma_b, act: Nonlinearity, low: float = 0.05, high: float = 4.0,
                     steps: int = 50) -> np.ndarray:
    """The ``sigma_w`` with ``chi_1 = 1`` at each ``sigma_b`` (the order/chaos boundary), by
    bisection on ``[low, high]``; NaN where ``chi_1 - 1`` does not change sign there."""
    sb = np.asarray(sigma_b, float)
    lo, hi = np.full(sb.shape, low), np.full(sb.shape, high)

    def excess(sw):
        q = fixed_q(sw ** 2, sb ** 2, act)
        chi = chi_1(np.where(np.isfinite(q), q, 1.0), sw ** 2, act)
        return np.where(np.isfinite(q), chi - 1.0, 1.0)  # unbounded q: past the boundary

    sign_lo = excess(lo) < 0
    valid = sign_lo & (excess(hi) > 0)
    for _ in range(steps):
        mid = (lo + hi) / 2
        below = excess(mid) < 0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.where(valid, (lo + hi) / 2, np.nan)


def propagate(q11: float, q22: float, q12: float, sw2: float, sb2: float, depth: int,
              act: Nonlinearity) -> tuple[np.ndarray, np.ndarray]:
    """The theory's second moment and correlation of two inputs' pre-activations over
    ``depth`` further layers, starting from the given ones: arrays ``q`` (of the first input)
    and ``c``, each ``depth + 1`` long (index 0: the start)."""
    qs, cs = [q11], [correlation(q12, q11, q22)]
    for _ in range(depth):
        q11, q22, q12 = (float(variance_map(q11, sw2, sb2, act)),
                         float(variance_map(q22, sw2, sb2, act)),
                         float(covariance_map(q11, q22, q12, sw2, sb2, act)))
        qs.append(q11)
        cs.append(correlation(q12, q11, q22))
    return np.array(qs), np.array(cs)


def correlation(q12: float, q11: float, q22: float) -> float:
    """``q12 / sqrt(q11 q22)``; NaN where a signal has died (a second moment of 0)."""
    denominator = np.sqrt(q11 * q22)
    return float(q12 / denominator) if denominator > 0 else float("nan")
