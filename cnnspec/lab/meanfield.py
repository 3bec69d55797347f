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
         = sigma_w^2 E[phi'(u)^2 + phi(u) phi''(u)]
           (Stein's lemma: = sigma_w^2 E[z phi(u) phi'(u)] / sqrt(q*))
    xi_c = -1 / ln(chi_c),  chi_c = sigma_w^2 E[phi'(u1) phi'(u2)] at (q*, c*)

``chi_c = chi_1`` where ``c* = 1``; ``xi_c`` diverges on the critical line, and Schoenholz et
al. find that a network trains only when its depth is below a few ``xi_c`` (their Fig. 5: about
6 xi_c). For ReLU, ``chi_1 = sigma_w^2 / 2``: the critical line is ``sigma_w^2 = 2``, He et
al.'s init; ``q`` has a finite fixed point only below it, or on it without biases
(:func:`fixed_q`).

Whether ``q*`` exists is read from how ``phi`` behaves far out (its registry ``asymptote``:
``phi(y) / y -> a`` as ``y -> +inf``, ``-> b`` as ``y -> -inf``): ``E[phi(sqrt(q) z)^2] / q``
tends to ``(a^2 + b^2) / 2``, so the map's slope at infinity is ``sigma_w^2 (a^2 + b^2) / 2``
(:func:`far_slope`). Below 1 the map ends under the diagonal and a fixed point exists; above,
``q`` grows geometrically once it is large; ReLU, leaky ReLU and PReLU are their own
asymptotes, and their map is that line exactly.

Gaussian expectations are the midpoint rule after a sinh substitution that crowds its points
about ``u = 0``, where an activation has its features (:func:`cnnspec.check.meanfield.
substitution_point`; the plain-math check takes the same points and weights). Gauss-Hermite
quadrature, whose nodes spread with the normal, left tanh's slope of width 1 between them
under a wide normal (``chi_1`` 9% low at ``q = 16``, 8x at ``q = 100``). A two-dimensional mean
takes the rule on ``u1`` and, at each of its points, on ``u2`` given ``u1``. Against closed
forms (erf) and 30-digit integrals (tanh), from ``q = 1e-6`` to ``1e4`` and at any correlation,
one-dimensional means are within 1e-15 and two-dimensional ones within 2e-12; ReLU's kink
lies on a cell's edge, where the midpoint rule's error is of the second order in the step:
1.3e-4 of ``q`` in two dimensions (in one, ``phi^2`` and ``phi'^2`` lose nothing).
Every function broadcasts over arrays of ``sigma_w`` and ``sigma_b`` (a whole grid at once).
The nonlinearity ``phi`` and its derivative are the engine's own forward and backward kernels.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from cnnspec.check import meanfield as shared
from cnnspec.engine import activations
from cnnspec.errors import SpecError
from cnnspec.kinds import KINDS
from cnnspec.records import record

TINY_VARIANCE = 1e-300  # a normal this narrow is a point mass; its sqrt and 1 / sqrt stay finite
# what counts as q* = 0 and the root's bisection: one rule for both
ZERO_Q, BISECTIONS = shared.ZERO_Q, shared.BISECTIONS
# A q rising past this many times 1 + sigma_b^2, under a map whose slope at infinity is 1 or
# more, is taken to grow without bound (no fixed point); a bounded nonlinearity's q* is
# sigma_b^2 and a little more, however large sigma_b is.
UNBOUNDED = 1e8
# A slope at infinity within this of 1 is taken as 1: sigma_w^2 read from an init is a square
# root squared (he_normal's 2 to an ulp or two), and q would take 1e12 layers to tell.
ROUNDING = 1e-12
# chi_1 within this of 1 beside the edge of the unbounded region makes that edge the critical
# line (ReLU's chi_1 there is 1 to rounding; the bisection leaves sigma_w within 4e-15 of it)
CRITICAL_EDGE = 1e-6


@record(frozen=True)
class Nonlinearity:
    """``phi`` and its derivative ``dphi``, elementwise on arrays; ``asymptote`` the limits
    ``(a, b)`` of ``phi(y) / y`` at ``+inf`` and ``-inf``, and ``homogeneous`` whether
    ``phi(c y) = c phi(y)`` for ``c > 0`` (the registry's, :class:`cnnspec.kinds.Kind`)."""

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    asymptote: tuple[float, float]
    homogeneous: bool


def nonlinearity(name: str, **kwargs) -> Nonlinearity:
    """The engine's activation ``name`` (with its keyword arguments, e.g. ``slope``) as
    ``phi`` and ``phi'``: ``phi'`` is its backward kernel applied to a gradient of ones. An
    activation without an asymptote in the registry mixes units (softmax): it has no map."""
    kind = KINDS.get(name)
    if kind is not None and kind.fixed_inits is not None and kind.positively_homogeneous:
        # learned slopes (prelu) start at their fixed init: the network at init, which the
        # theory describes, has the leaky ReLU of that slope there
        return replace(nonlinearity("leaky_relu", slope=kind.negative_slope(kwargs)), name=name)
    forward = getattr(activations, f"{name}_forward", None)
    backward = getattr(activations, f"{name}_backward", None)
    if forward is None or backward is None or kind is None or kind.asymptote is None:
        raise SpecError(f"the mean-field theory needs an elementwise nonlinearity, not {name!r}",
                        hint="use a network whose hidden layers end in tanh, relu, or another "
                        "elementwise activation")

    def phi(x):
        return forward(np.asarray(x, dtype=np.float64), **kwargs)[0]

    def dphi(x):
        x = np.asarray(x, dtype=np.float64)
        _, cache = forward(x, **kwargs)
        return backward(np.ones_like(x), cache)

    return Nonlinearity(name, phi, dphi, kind.asymptote(kwargs), kind.positively_homogeneous)


def _midpoints(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """The midpoints ``t`` (on a new last axis) of equal cells on each ``[lo, hi]``, as many
    as that span needs (:func:`cnnspec.check.meanfield.cells`), and their weights: the cells'
    width, and 0 where a span that needs fewer cells than the widest repeats its last
    midpoint. Each entry so takes the points and weights it would take alone, whatever is
    taken beside it: a batch of points gives each the numbers it gives one at a time."""
    span = hi - lo
    n = shared.cells(span, np)
    h = (span / n)[..., None]
    n = n[..., None]
    i = np.arange(n.max(initial=0))
    t = lo[..., None] + (np.minimum(i, n - 1) + 0.5) * h
    return t, np.where(i < n, h, 0.0)


def normal_rule(q) -> tuple[np.ndarray, np.ndarray]:
    """Points ``u`` and weights ``p`` with ``E[g(u)] ~ sum p g(u)`` for ``u ~ N(0, q)``, at
    every ``q`` of an array at once (points on a new last axis): the substitution of
    :func:`cnnspec.check.meanfield.substitution_point` with the midpoint rule, at each ``q``
    the points and weights :func:`cnnspec.check.meanfield.gaussian_mean` takes there (past
    them, weights of 0)."""
    q = np.maximum(np.asarray(q, float), TINY_VARIANCE)
    stretch = np.sqrt(1.0 + q)
    t, h = _midpoints(*shared.substitution_span(stretch, 0.0, np))
    z, density = shared.substitution_point(t, stretch[..., None], 0.0, np)
    return np.sqrt(q)[..., None] * z, density * h


def normal_mean(g: Callable[[np.ndarray], np.ndarray], q) -> np.ndarray:
    """``E[g(u)]`` for ``u ~ N(0, q)`` at every ``q`` of an array at once: the expectation the
    shared formulas of :mod:`cnnspec.check.meanfield` take, by :func:`normal_rule`."""
    u, p = normal_rule(q)
    return (g(u) * p).sum(-1)


# Entries of a two-dimensional mean taken at once: each has 76 x 96 points at the phase
# diagram's q* of 10 (158 x 190 at q = 1e4). Four keep an array of points near 200 KB, which
# the allocator reuses; at 32 (2 MB) each array was mapped afresh and the default diagram's
# theory took 1.8 s of CPU, not 0.7 s.
CHUNK = 4


def normal_mean2(f: Callable[[np.ndarray, np.ndarray], np.ndarray], q11, q22, q12
                 ) -> np.ndarray:
    """``E[f(u1, u2)]`` for ``(u1, u2)`` normal with second moments ``q11``, ``q22`` and
    covariance ``q12``, at every entry of broadcast arrays (``f`` elementwise): the rule of
    :func:`normal_rule` on ``u1``, and at each of its points on ``u2`` given ``u1``. Taken a
    few entries at a time, so that the arrays of points stay small."""
    q11, q22, q12 = np.broadcast_arrays(*(np.asarray(a, float) for a in (q11, q22, q12)))
    flat = [a.ravel() for a in (q11, q22, q12)]
    out = np.empty(q11.size)
    for start in range(0, q11.size, CHUNK):
        part = slice(start, start + CHUNK)
        out[part] = _conditional_mean2(f, *(a[part] for a in flat))
    return out.reshape(q11.shape)


def _conditional_mean2(f, q11, q22, q12) -> np.ndarray:
    """:func:`normal_mean2` on 1-D arrays: ``u1 ~ N(0, q11)``, and ``u2`` given ``u1`` normal
    of mean ``m = c sqrt(q22 / q11) u1`` and variance ``v = q22 (1 - c^2)``, ``c = q12 /
    sqrt(q11 q22)``. The rule on ``u2`` crowds its points about ``u2 = 0`` while 0 lies in the
    bulk of that normal (:func:`cnnspec.check.meanfield.substitution_shift`); its grid of
    ``t`` spans every shift, so it is one grid per entry (ReLU's kink at ``u2 = 0`` then falls
    between two cells, as at ``u1 = 0``), and ``sinh`` and ``cosh`` are taken on it once."""
    q11, q22 = np.maximum(q11, TINY_VARIANCE), np.maximum(q22, TINY_VARIANCE)
    c = np.clip(q12 / (np.sqrt(q11) * np.sqrt(q22)), -1.0, 1.0)
    u1, p1 = normal_rule(q11)  # (entries, n1)
    v = np.maximum(q22 * (1.0 - c * c), TINY_VARIANCE)[:, None, None]
    m = (c * np.sqrt(q22 / q11))[:, None, None] * u1[..., None]  # (entries, n1, 1)
    w = shared.substitution_shift(m, v, np)
    stretch = np.sqrt(1.0 + v)
    _, hi = shared.substitution_span(stretch[:, 0, 0], shared.CROWD, np)
    t, h = _midpoints(-hi, hi)  # (entries, n2)
    z, density = shared.substitution_point(t[:, None, :], stretch, w, np)
    u2 = m + np.sqrt(v) * z  # (entries, n1, n2)
    inner = np.matmul(f(u1[..., None], u2) * density, h[..., None])[..., 0]  # sum of f p h
    return (inner * p1).sum(-1)


def variance_map(q, sw2, sb2, act: Nonlinearity) -> np.ndarray:
    """``q(l+1) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`` (Poole et al. 2016):
    :func:`cnnspec.check.meanfield.variance_map` over arrays."""
    return shared.variance_map(q, np.asarray(sw2), np.asarray(sb2), act.phi, normal_mean)


def far_slope(sw2, act: Nonlinearity) -> np.ndarray:
    """The variance map's slope as ``q -> inf``: ``sigma_w^2 (a^2 + b^2) / 2`` for ``phi(y) /
    y -> a`` at ``+inf`` and ``b`` at ``-inf`` (``act.asymptote``). Half of ``u ~ N(0, q)``
    lies on each side of 0, and for a wide ``u`` almost all of it where ``phi`` is its
    asymptote: ``E[phi(u)^2] / q -> (a^2 + b^2) / 2`` (He et al. 2015, eq. 7, where ReLU's
    1/2 is exact at every ``q``)."""
    a, b = act.asymptote
    return np.asarray(sw2, float) * (a * a + b * b) / 2


def fixed_q(sw2, sb2, act: Nonlinearity, q0: float = 1.0) -> np.ndarray:
    """The fixed point ``q*`` the variance map's iterates from ``q0`` tend to; NaN where ``q``
    grows without bound (ReLU beyond ``sigma_w^2 = 2``, or at it with biases). Where ``q*`` is
    0 (``sigma_b = 0`` in the ordered phase) it is given as :data:`ZERO_Q`, which gives
    ``chi_1`` its limit ``sigma_w^2 phi'(0)^2``. A positively homogeneous ``phi`` has the
    closed form of :func:`homogeneous_fixed_q`; any other, the root
    :func:`root_ahead` finds, not an iterate after a budget of layers: on tanh's critical
    point ``q`` falls only as ``1 / (2 l)``, and at GELU's ``sigma_w^2 = 2`` with a bias it
    creeps up for ever (tanh's ``q*`` at ``sigma_b = 1e30`` is 1e60: bounded)."""
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, float), np.asarray(sb2, float))
    if act.homogeneous:
        return homogeneous_fixed_q(sw2, sb2, act, q0)
    shape, sw2, sb2 = sw2.shape, sw2.ravel(), sb2.ravel()
    return root_ahead(np.full(sw2.shape, float(q0)), sw2, sb2, act).reshape(shape)


def homogeneous_fixed_q(sw2, sb2, act: Nonlinearity, q0: float = 1.0) -> np.ndarray:
    """``q*`` of a positively homogeneous ``phi`` (relu, leaky_relu, prelu), in closed form:
    ``E[phi(sqrt(q) z)^2] = q (a^2 + b^2) / 2`` exactly, so the variance map is the line ``q ->
    s q + sigma_b^2``, ``s`` = :func:`far_slope`, and ``q(l) = s^l q0 + sigma_b^2 (1 + s + ...
    + s^(l-1))``. For ``s < 1`` it tends to ``q* = sigma_b^2 / (1 - s)`` (ReLU: ``sigma_b^2 /
    (1 - sigma_w^2 / 2)``); at ``s = 1`` (He init) ``q`` grows by ``sigma_b^2`` a layer and
    stays at ``q0`` without biases (every ``q`` is a fixed point); beyond, it grows as
    ``s^l``: NaN."""
    s = far_slope(sw2, act)
    on_line = np.abs(s - 1.0) <= ROUNDING
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(s < 1.0, sb2 / (1.0 - s), np.nan)
    q = np.where(on_line, np.where(sb2 == 0, float(q0), np.nan), q)
    return np.where(np.isnan(q), np.nan, np.maximum(q, ZERO_Q))


def root_ahead(q, sw2, sb2, act: Nonlinearity) -> np.ndarray:
    """The first root of ``g(q) = q(l+1) - q`` on the side ``g`` points to from each ``q`` (1-D
    arrays): where the iterates from ``q`` go (:func:`cnnspec.check.meanfield.fixed_q`'s
    steps, at every point at once). The map rises with ``q`` (its slope is ``chi_q
    > 0``), so they move towards that root and never pass it (below it, ``q(l+1) < root``):
    it is their limit, however many layers they take. ``q`` is doubled (or halved) until ``g``
    changes sign, then the root bisected in ``ln q``. Falling with no root above
    :data:`ZERO_Q`: ``q* = 0``. Rising with no root up to :data:`UNBOUNDED` times ``1 +
    sigma_b^2`` where :func:`far_slope` is 1 or more: NaN (unbounded); below 1, ``g(q) / q``
    tends to ``far_slope - 1 < 0``, so a root lies further up, and the doubling goes on to
    it."""
    def gap(q, at):
        return variance_map(q, sw2[at], sb2[at], act) - q

    out = np.array(q, float)
    lo, hi = out.copy(), out.copy()
    rising = gap(out, slice(None)) > 0
    ends_under = far_slope(sw2, act) < 1.0 - ROUNDING  # a root lies up ahead: go on to it
    limit = UNBOUNDED * (1.0 + sb2)
    bracketed = np.zeros(out.shape, bool)
    moving = np.flatnonzero(out > ZERO_Q)
    while moving.size:
        step = np.where(rising[moving], 2.0, 0.5)
        ahead = out[moving] * step
        crossed = (gap(ahead, moving) > 0) != rising[moving]
        lo[moving] = np.minimum(out[moving], ahead)
        hi[moving] = np.maximum(out[moving], ahead)
        out[moving] = ahead
        bracketed[moving] = crossed
        gone = ~crossed & ((ahead <= ZERO_Q) | ~np.isfinite(ahead)
                           | ((ahead > limit[moving]) & ~ends_under[moving]))
        out[moving[gone & ~rising[moving]]] = ZERO_Q
        out[moving[gone & rising[moving]]] = np.nan
        moving = moving[~crossed & ~gone]
    bracketed = np.flatnonzero(bracketed)
    out[bracketed] = _bisect_log(lambda q: gap(q, bracketed), lo[bracketed], hi[bracketed])
    return out


def _bisect_log(gap, lo, hi) -> np.ndarray:
    """The root of ``gap`` between ``lo`` and ``hi`` (1-D arrays), bisected in ``ln q``
    :data:`BISECTIONS` times. Whichever way the iterates came, ``gap`` is positive below the
    root they reach and negative above it (``q`` rises to it from below, falls from above)."""
    for _ in range(BISECTIONS if lo.size else 0):
        mid = np.sqrt(lo * hi)
        lower = gap(mid) > 0
        lo, hi = np.where(lower, mid, lo), np.where(lower, hi, mid)
    return np.sqrt(lo * hi)


def covariance_map(q11, q22, q12, sw2, sb2, act: Nonlinearity) -> np.ndarray:
    """``q12(l+1) = sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2`` for pre-activations of second
    moments ``q11``, ``q22`` and covariance ``q12`` (Poole et al. 2016)."""
    value = normal_mean2(lambda u1, u2: act.phi(u1) * act.phi(u2),
                         *(np.asarray(a, float) for a in (q11, q22, q12)))
    return np.asarray(sw2) * value + np.asarray(sb2)


def correlation_map(c, qstar, sw2, sb2, act: Nonlinearity) -> np.ndarray:
    """``c(l+1)`` for two inputs at the variance fixed point ``q*`` (Poole et al. 2016)."""
    qstar = np.asarray(qstar, float)
    return covariance_map(qstar, qstar, np.asarray(c) * qstar, sw2, sb2, act) / qstar


def chi_1(qstar, sw2, act: Nonlinearity) -> np.ndarray:
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]``: the slope of the correlation map at c = 1,
    the mean squared singular value of one layer's Jacobian (Poole et al. 2016):
    :func:`cnnspec.check.meanfield.chi_1` over arrays."""
    return shared.chi_1(qstar, np.asarray(sw2), act.dphi, normal_mean)


def chi_q(qstar, sw2, act: Nonlinearity) -> np.ndarray:
    """The slope of the variance map at ``q*``: ``sigma_w^2 E[u phi(u) phi'(u)] / q*``, ``u ~
    N(0, q*)`` (Stein's lemma turns Schoenholz et al.'s ``phi'^2 + phi phi''`` into this form,
    which needs no second derivative)."""
    qstar = np.asarray(qstar, float)
    return np.asarray(sw2) * normal_mean(lambda u: u * act.phi(u) * act.dphi(u), qstar) / qstar


def fixed_c(qstar, sw2, sb2, act: Nonlinearity, steps: int = 30, tol: float = 1e-10
            ) -> np.ndarray:
    """The stable fixed point ``c*`` of the correlation map: 1 where ``chi_1 <= 1`` (ordered),
    else the root of ``g(c) = c(l+1) - c`` in ``[0, 1)`` (chaotic), by Newton's method from
    ``c = 0`` (at most ``steps`` steps, until a step is below ``tol``). The map's slope is
    ``chi_c`` (Price's theorem: ``d E[phi(u1) phi(u2)] / d q12 = E[phi'(u1) phi'(u2)]``), and
    it is convex on ``[0, 1]`` (Mehler's expansion of ``E[phi(u1) phi(u2)]`` at ``q11 = q22``
    is a series in powers of ``c`` with no negative coefficient): ``g`` is ``sigma_b^2 / q* >=
    0`` at 0, 0 at 1 and falls into 1 (slope ``chi_1 - 1 > 0``), so it falls on ``[0, c*]``
    and the iterates rise to ``c*`` without passing it."""
    qstar, sw2, sb2 = np.broadcast_arrays(*(np.asarray(a, float) for a in (qstar, sw2, sb2)))
    c = np.ones(qstar.shape)
    chaotic = chi_1(qstar, sw2, act) > 1.0  # only these have c* < 1
    q, w2, b2 = qstar[chaotic], sw2[chaotic], sb2[chaotic]
    root = np.zeros(q.shape)
    moving = np.arange(q.size)
    for _ in range(steps if q.size else 0):
        x, at = root[moving], (q[moving], w2[moving])
        gap = correlation_map(x, *at, b2[moving], act) - x
        step = gap / (1.0 - chi_c(x, *at, act))
        root[moving] = np.minimum(x + step, 1.0)
        moving = moving[np.abs(step) > tol]
        if not moving.size:
            break
    c[chaotic] = root
    return c


def chi_c(cstar, qstar, sw2, act: Nonlinearity) -> np.ndarray:
    """``chi_c = sigma_w^2 E[phi'(u1) phi'(u2)]`` at ``(q*, c*)`` (Schoenholz et al. 2017)."""
    qstar = np.asarray(qstar, float)
    value = normal_mean2(lambda u1, u2: act.dphi(u1) * act.dphi(u2), qstar, qstar,
                         np.asarray(cstar, float) * qstar)
    return np.asarray(sw2) * value


def depth_scale(chi) -> np.ndarray:
    """``xi = -1 / ln(chi)``: the depth over which a deviation shrinks by e; infinite at
    ``chi = 1``. Taken on ``|ln chi|`` so the chaotic side has a positive scale too."""
    chi = np.asarray(chi, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chi > 0, 1.0 / np.abs(np.log(chi)), 0.0)


@record
class Phase:
    """The mean-field quantities at each ``(sigma_w, sigma_b)`` (arrays of one shape)."""

    sigma_w: np.ndarray
    sigma_b: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray


# How near 1 chi_1 lies on the critical line: ReLU's sigma_w^2 / 2 at sigma_w = sqrt(2) is
# 1 + 2e-16, tanh's there at sigma_b = 0 is 1 to rounding.
CRITICAL_CHI = 1e-9


def phase(sigma_w, sigma_b, act: Nonlinearity) -> Phase:
    """``q*``, ``c*``, ``chi_1`` and the depth scales at every ``(sigma_w, sigma_b)``."""
    sw, sb = np.broadcast_arrays(np.asarray(sigma_w, float), np.asarray(sigma_b, float))
    sw2, sb2 = sw ** 2, sb ** 2
    qstar = fixed_q(sw2, sb2, act)
    bounded = np.isfinite(qstar)
    q = np.where(bounded, qstar, 1.0)  # placeholders where q* does not exist; masked below
    # slopes at q* = 0 itself, not at ZERO_Q (which stands for it in the correlation map):
    # tanh's chi_1 at the critical point is 1, and xi_c infinite, not 5e11
    chi1 = chi_1(np.where(q <= ZERO_Q, 0.0, q), sw2, act)
    cstar = np.ones(sw.shape)
    cstar[bounded] = fixed_c(qstar[bounded], sw2[bounded], sb2[bounded], act)
    # On the critical line itself c* = 1 is the only fixed point and c reaches it as a power
    # of depth, not exponentially (ReLU: 1 - c ~ 1 / l^2, Hayou et al. 2019, "On the Impact of
    # the Activation Function on Deep Neural Networks Training"), so the 30 steps of fixed_c
    # stop short of it (ReLU at sigma_w^2 = 2: c 0.98, and xi_c 55.8 where tanh's at its
    # critical point is infinite): there c* = 1, chi_c = chi_1 = 1 and xi_c is infinite.
    critical = np.abs(chi1 - 1.0) < CRITICAL_CHI
    cstar[critical] = 1.0
    chi1 = np.where(critical, 1.0, chi1)
    chaotic = cstar < 1.0  # chi_c = chi_1 where c* = 1
    chic = np.array(chi1, dtype=float)
    chic[chaotic] = chi_c(cstar[chaotic], qstar[chaotic], sw2[chaotic], act)
    xi_q = depth_scale(chi_q(q, sw2, act))
    xi_c = depth_scale(chic)
    nan = np.full(sw.shape, np.nan)
    return Phase(sw, sb, qstar, np.where(bounded, cstar, nan), np.where(bounded, chi1, nan),
                 np.where(bounded, xi_q, nan), np.where(bounded, xi_c, nan))


def critical_sigma_w(sigma_b, act: Nonlinearity, low: float = 0.05, high: float = 4.0,
                     steps: int = 50) -> np.ndarray:
    """The ``sigma_w`` with ``chi_1 = 1`` at each ``sigma_b`` (the order/chaos boundary), by
    bisection on ``[low, high]``; NaN where ``chi_1 - 1`` does not change sign there. Where
    ``q*`` ceases to exist (:func:`fixed_q`) the bisection counts the point as past the
    boundary, and finds that edge: the boundary where ``chi_1`` tends to 1 there (ReLU's
    ``sigma_w^2 = 2`` with biases: ``chi_1 = sigma_w^2 / 2``, whatever ``q*``), NaN where it
    does not (GELU at ``sigma_b = 0``, whose ``q* = 0`` and ``chi_1 = sigma_w^2 / 4`` up to
    where ``q`` from 1 runs away: ordered next to unbounded, no critical line)."""
    sb = np.asarray(sigma_b, float)
    lo, hi = np.full(sb.shape, low), np.full(sb.shape, high)

    def chi(sw):
        q = fixed_q(sw ** 2, sb ** 2, act)
        return np.where(np.isfinite(q), chi_1(np.where(np.isfinite(q), q, 1.0), sw ** 2, act),
                        np.inf)  # unbounded q: past the boundary

    chi_lo, chi_hi = chi(lo), chi(hi)  # each bracket's chi_1, kept as the brackets move
    valid = (chi_lo < 1) & (chi_hi > 1)
    for _ in range(steps):
        mid = (lo + hi) / 2
        at_mid = chi(mid)
        below = at_mid < 1
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        chi_lo, chi_hi = np.where(below, at_mid, chi_lo), np.where(below, chi_hi, at_mid)
    edge = np.isinf(chi_hi)  # an edge of the unbounded region, not a crossing of 1
    valid &= ~edge | (np.abs(chi_lo - 1) < CRITICAL_EDGE)
    return np.where(valid, (lo + hi) / 2, np.nan)


def propagate(q11, q22, q12, sw2, sb2, depth: int, act: Nonlinearity
              ) -> tuple[np.ndarray, np.ndarray]:
    """The theory's second moment and correlation of two inputs' pre-activations over
    ``depth`` further layers, starting from the given ones, at every entry of broadcast arrays
    at once (a whole grid of measured points a layer at a time): arrays ``q`` (of the first
    input) and ``c`` of the entries' shape and ``depth + 1`` more on a last axis (index 0: the
    start). An entry's numbers are those it gives alone (:func:`_midpoints`)."""
    q11, q22, q12, sw2, sb2 = np.broadcast_arrays(
        *(np.asarray(a, float) for a in (q11, q22, q12, sw2, sb2)))
    qs, cs = [q11], [correlation(q12, q11, q22)]
    for _ in range(depth):
        q12 = covariance_map(q11, q22, q12, sw2, sb2, act)
        q11, q22 = variance_map(np.stack([q11, q22]), sw2, sb2, act)
        qs.append(q11)
        cs.append(correlation(q12, q11, q22))
    return np.stack(qs, -1), np.stack(cs, -1)


def correlation(q12, q11, q22) -> np.ndarray:
    """``q12 / sqrt(q11 q22)``; NaN where a signal has died (a second moment of 0)."""
    denominator = np.sqrt(np.multiply(q11, q22))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, np.divide(q12, denominator), np.nan)
