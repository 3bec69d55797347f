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

from cnnspec.init import kernels
from cnnspec.init.catalogue import KERNEL_NAMES, canonical
from cnnspec.init.describe import delta_shape, describe
from cnnspec.init.gains import gain
from cnnspec.init.info import InitInfo
from cnnspec.init.truncation import TRUNCATION, kept_mass


def create(init: dict, shape: tuple[int, ...], rng: np.random.Generator,
           dtype=np.float32, fans: tuple[int, int] | None = None) -> np.ndarray:
    """A new array of ``shape`` and ``dtype`` holding ``init``'s values, drawn from ``rng``.

    ``fans`` overrides the parameter's own (fan_in, fan_out), as for :func:`describe`.
    Raises :class:`SpecError` where the init cannot apply to ``shape``.
    """
    init = canonical(init)
    shape = tuple(int(n) for n in shape)
    if init["name"] in KERNEL_NAMES:  # not described: its description is lists of its values
        return fixed_kernel(init, shape, dtype)
    info = describe(init, shape, fans)
    return np.ascontiguousarray(_DRAW[info.distribution](init, info, shape, rng), dtype=dtype)


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
    """N(0, 1) restricted to [alpha, beta].

    A cut keeping at least :data:`REDRAW_KEPT` of the normal (the default +-2 keeps 95%) is
    drawn by redrawing every value outside it, which keeps the shape of the normal inside the
    limits at under 1 / REDRAW_KEPT draws a value. A cut keeping less, whose redrawing would
    cost up to 100 draws a value (minutes for a large layer), is drawn by accept-reject from a
    proposal fitted to it, at a few draws a value (Robert 1995, "Simulation of truncated
    normal variables", Statistics and Computing 5:121-125): a uniform one on a narrow cut, a
    shifted exponential one on a cut in a tail.
    """
    count = math.prod(shape)
    if kept_mass(alpha, beta) >= REDRAW_KEPT:
        z = _redrawn(rng, count, alpha, beta)
    elif beta <= 0:  # a cut below the mean: the mirror image of one above it
        z = -_upper(rng, count, -beta, -alpha)
    elif alpha >= 0:
        z = _upper(rng, count, alpha, beta)
    else:  # a narrow cut about the mean (one keeping little but holding 0 is narrow)
        z = _accepted(rng, count, lambda n: rng.uniform(alpha, beta, n),
                      lambda z: np.exp(-z * z / 2), beta)
    return z.reshape(shape)


# The least share of the normal a cut is drawn from by redrawing the normal outside it.
REDRAW_KEPT = 0.3


def _redrawn(rng: np.random.Generator, count: int, alpha: float, beta: float) -> np.ndarray:
    """``count`` normal values, each outside [alpha, beta] redrawn until inside it."""
    z = rng.standard_normal(count)
    outside = np.flatnonzero((z < alpha) | (z > beta))
    while outside.size:
        z[outside] = rng.standard_normal(outside.size)
        redrawn = z[outside]
        outside = outside[(redrawn < alpha) | (redrawn > beta)]
    return z


def _upper(rng: np.random.Generator, count: int, low: float, high: float) -> np.ndarray:
    """N(0, 1) cut to [low, high] with 0 <= low (Robert 1995, sec. 2): proposals uniform on a
    cut narrower than his bound, accepted with probability ``exp((low^2 - z^2) / 2)``; else
    ``low`` plus an exponential of his optimal rate ``lam``, accepted with probability
    ``exp(-(z - lam)^2 / 2)`` when not beyond ``high``."""
    root = math.sqrt(low * low + 4)
    if high - low <= 2 * math.sqrt(math.e) / (low + root) * math.exp((low * low - low * root) / 4):
        return _accepted(rng, count, lambda n: rng.uniform(low, high, n),
                         lambda z: np.exp((low * low - z * z) / 2), high)
    lam = (low + root) / 2
    return _accepted(rng, count, lambda n: low + rng.exponential(1 / lam, n),
                     lambda z: np.exp(-(z - lam) ** 2 / 2), high)


def _accepted(rng: np.random.Generator, count: int, propose, probability,
              high: float) -> np.ndarray:
    """``count`` proposals ``propose(n)``, each kept with ``probability(z)`` if not beyond
    ``high``, drawn until there are enough."""
    z = np.empty(count)
    filled = 0
    while filled < count:
        n = count - filled
        proposed = propose(n)
        kept = proposed[(rng.random(n) < probability(proposed)) & (proposed <= high)]
        z[filled:filled + kept.size] = kept
        filled += kept.size
    return z


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


def fixed_kernel(init: dict, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A literal or named kernel broadcast onto ``shape``, a new array of ``dtype`` (see
    cnnspec.init.kernels). A named kernel is built as an array, with the values of
    :func:`cnnspec.init.kernels.named_kernel` to the last bit: as nested lists, a 100000x1
    kernel took 30 times its float32 weight while the model was built."""
    placement = kernels.kernel_placement(init, shape)
    if init["name"] == "literal":  # the IR's own lists
        values = np.asarray(init["values"], dtype=np.float64)
    else:
        values = _named_kernel(init, shape[2], shape[3])
    # a copy: the broadcast view is read-only and shares one kernel between all filters
    return np.array(np.broadcast_to(values.reshape(placement), shape), dtype=dtype, order="C")


def _named_kernel(init: dict, kh: int, kw: int) -> np.ndarray:
    """(kh, kw) float64: :func:`cnnspec.init.kernels.named_kernel`'s values, as an array."""
    name = init["name"]
    if name in kernels.FIXED:
        return np.array(kernels.FIXED[name], dtype=np.float64)
    if name == "gaussian":
        return _gaussian(float(init["sigma"]), kh, kw)
    if name == "box":
        return np.full((kh, kw), kernels.box_value(kh, kw))
    if name == "x_kernel":
        out = np.eye(kh)
        out[np.arange(kh), kh - 1 - np.arange(kh)] = 1.0
        return out
    if name == "bilinear":
        return np.outer(kernels.bilinear_tap(np.arange(kh), kh),
                        kernels.bilinear_tap(np.arange(kw), kw))
    raise ValueError(f"{name} is not a named kernel")


def _gaussian(sigma: float, kh: int, kw: int) -> np.ndarray:
    """:func:`cnnspec.init.kernels.gaussian` as an array, its values to the last bit: the same
    exponents (:func:`cnnspec.init.kernels.gaussian_exponent`, exact IEEE operations alike on
    floats and arrays) through the same ``math.exp`` (NumPy's may round otherwise), for the
    rows down to the centre (those below mirror them), and the same sums, row by row, in the
    same order (``cumsum`` adds in order as ``sum`` does)."""
    upper = (kh + 1) // 2  # the rows down to the centre; the others mirror the first kh - upper
    # squares of whole or half numbers, exact in float64 whether multiplied or raised to 2
    down = (np.arange(upper) - (kh - 1) / 2) ** 2
    across = (np.arange(kw) - (kw - 1) / 2) ** 2
    nearest = float(down.min() + across.min())
    with np.errstate(over="ignore"):  # a sigma of 1e-300 drives far taps to -inf: exp 0
        exponents = kernels.gaussian_exponent(down[:, None] + across, nearest, sigma)
    raw = np.fromiter(map(math.exp, exponents.flat), np.float64, exponents.size)
    raw = raw.reshape(exponents.shape)
    del exponents
    row_sums = np.cumsum(raw, axis=1)[:, -1]
    in_order = _mirrored(row_sums, kh)  # each row's sum, top to bottom
    total = float(np.cumsum(in_order, out=in_order)[-1])
    raw /= total
    return _mirrored(raw, kh)


def _mirrored(rows: np.ndarray, kh: int) -> np.ndarray:
    """The ``kh`` rows of a kernel symmetric about its middle row from ``rows``, those down to
    the centre."""
    return np.concatenate((rows, rows[:kh - len(rows)][::-1]))


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
