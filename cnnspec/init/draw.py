"""``create``: draw an init's values for one parameter from an explicit random generator.

The numbers every scheme draws with (std, bound, truncation) come from :func:`describe`, so a
description and the values it describes cannot drift apart. Values are drawn in float64 and
cast once, so the same seed gives the same weights (up to rounding) in float32 and float64,
and bitwise the same weights for the same dtype. Shapes are PyTorch's: conv (out, in, kh, kw),
dense (out, in), bias (out,).
"""
from __future__ import annotations

import math

import numpy as np

from cnnspec.init.catalogue import KERNEL_NAMES, canonical
from cnnspec.init.describe import delta_shape, describe
from cnnspec.init.gains import gain
from cnnspec.init.info import InitInfo
from cnnspec.init.kernels import kernel_values
from cnnspec.init.truncation import TRUNCATION


def create(init: dict, shape: tuple[int, ...], rng: np.random.Generator,
           dtype=np.float32, fans: tuple[int, int] | None = None) -> np.ndarray:
    """A new array of ``shape`` and ``dtype`` holding ``init``'s values, drawn from ``rng``.

    ``fans`` overrides the parameter's own (fan_in, fan_out), as for :func:`describe`.
    Raises :class:`SpecError` where the init cannot apply to ``shape``.
    """
    init = canonical(init)
    shape = tuple(int(n) for n in shape)
    info = describe(init, shape, fans)
    name = init["name"]
    if name in KERNEL_NAMES:
        values = fixed_kernel(init, shape)
    else:
        values = _DRAW[info.distribution](init, info, shape, rng)
    return np.ascontiguousarray(values, dtype=dtype)


def _constant(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    return np.full(shape, info.mean)


def _uniform(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    if init["name"] == "uniform":
        return rng.uniform(float(init["low"]), float(init["high"]), size=shape)
    return rng.uniform(-info.bound, info.bound, size=shape)


def _normal(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    return info.mean + info.std * rng.standard_normal(shape)


def _truncated_normal(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    """N(loc, sigma^2) redrawn outside the cut, then held to it: ``loc + sigma z`` may round
    one step past a bound given as a value (PyTorch's ``trunc_normal_`` clamps too); a value
    inside it is left as drawn."""
    cut = info.truncation
    z = truncated_standard_normal(rng, shape, cut.alpha, cut.beta)
    return np.clip(cut.loc + cut.sigma * z, cut.low, cut.high)


def truncated_standard_normal(rng: np.random.Generator, shape, alpha: float = -TRUNCATION,
                              beta: float = TRUNCATION) -> np.ndarray:
    """N(0, 1) restricted to [alpha, beta] by redrawing every value outside it.

    Redrawing (rather than clipping) keeps the shape of the normal inside the limits; about
    4.6% of draws are redrawn at +-2, so a few rounds suffice; an interval keeping a share
    ``Z`` of the normal costs ``1 / Z`` draws per value, at most 100 (``MIN_KEPT`` of
    :mod:`cnnspec.init.truncation`).
    """
    z = rng.standard_normal(math.prod(shape))
    outside = np.flatnonzero((z < alpha) | (z > beta))
    while outside.size:
        z[outside] = rng.standard_normal(outside.size)
        redrawn = z[outside]
        outside = outside[(redrawn < alpha) | (redrawn > beta)]
    return z.reshape(shape)


def orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal rows (rows <= cols) or columns (rows > cols).

    Saxe, McClelland & Ganguli 2014, "Exact solutions to the nonlinear dynamics of learning in
    deep linear neural networks": QR of a Gaussian matrix, with the columns of Q multiplied by
    the signs of R's diagonal so that Q is uniformly (Haar) distributed, as PyTorch's
    ``orthogonal_`` does.
    """
    tall = rng.standard_normal((rows, cols))
    if rows < cols:
        tall = tall.T
    q, r = np.linalg.qr(tall)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q *= signs
    return q.T if rows < cols else q


def _orthogonal(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    rows, cols = shape[0], math.prod(shape[1:])
    scale = gain(init["gain"]) if init["name"] == "orthogonal" else 1.0
    return (scale * orthogonal(rng, rows, cols)).reshape(shape)


def identity(shape: tuple[int, ...]) -> np.ndarray:
    """Dense: ``eye(out, in)``. Conv: filter i is 1 at the centre of channel i, i < min(out, in).

    The centre is index ``(k - 1) // 2`` on each kernel axis: the exact centre of an odd
    kernel, and for an even one the tap that 'same' padding (extra pixel after, see
    cnnspec.shapes) lines up with the output, so a stride-1 'same' conv passes its input
    through. (PyTorch's ``dirac_`` uses ``k // 2``, which equals it for odd kernels.)
    """
    if len(shape) == 2:
        return np.eye(shape[0], shape[1])
    out = np.zeros(shape)
    n = min(shape[0], shape[1])
    centre = tuple((k - 1) // 2 for k in shape[2:])
    out[(np.arange(n), np.arange(n)) + centre] = 1.0
    return out


def _identity(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    return identity(shape)


def _delta_orthogonal(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    """Xiao et al. 2018, Algorithm 2: an orthogonal (out, in) matrix at the kernel centre, so
    the conv's Jacobian is that matrix at every frequency (dynamical isometry). The centre is
    identity's, ``(k - 1) // 2``; a dense weight is the 1x1 case, gain * orthogonal."""
    out, cin, kh, kw = delta_shape(shape)
    w = np.zeros((out, cin, kh, kw))
    w[:, :, (kh - 1) // 2, (kw - 1) // 2] = gain(init["gain"]) * orthogonal(rng, out, cin)
    return w.reshape(shape)


def _sparse(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    """Martens 2010, section 5: each unit keeps ``k`` of its incoming weights, chosen uniformly
    without replacement (the first k of a random permutation of each row), N(0, std^2)."""
    rows, cols = shape[0], math.prod(shape[1:])
    k = min(int(init["nonzero"]), cols)
    keep = np.argsort(rng.random((rows, cols)), axis=1)[:, :k]
    w = np.zeros((rows, cols))
    np.put_along_axis(w, keep, float(init["std"]) * rng.standard_normal((rows, k)), axis=1)
    return w.reshape(shape)


def _positive_unitball(init: dict, info: InitInfo, shape, rng) -> np.ndarray:
    """Caffe's PositiveUnitballFiller: U(0, 1), then each unit's incoming weights (a row of the
    weight as (out, in*kh*kw)) divided by their sum."""
    u = rng.uniform(0.0, 1.0, size=(shape[0], math.prod(shape[1:])))
    return (u / u.sum(axis=1, keepdims=True)).reshape(shape)


def fixed_kernel(init: dict, shape: tuple[int, ...]) -> np.ndarray:
    """A literal or named kernel broadcast onto ``shape`` (see cnnspec.init.kernels)."""
    values, placement = kernel_values(init, shape)
    # copy: the broadcast view is read-only and shares one kernel between all filters
    return np.broadcast_to(np.asarray(values, dtype=np.float64).reshape(placement), shape).copy()


# distribution (InitInfo.distribution) -> how to draw it; lsuv starts orthogonal, the trainer
# rescales it on data.
_DRAW = {
    "constant": _constant,
    "uniform": _uniform,
    "normal": _normal,
    "truncated_normal": _truncated_normal,
    "orthogonal": _orthogonal,
    "lsuv": _orthogonal,
    "identity": _identity,
    "delta_orthogonal": _delta_orthogonal,
    "sparse": _sparse,
    "positive_unitball": _positive_unitball,
}
