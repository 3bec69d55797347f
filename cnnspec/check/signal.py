"""How the size of the forward signal changes through the network at initialisation.

The estimate is the one Glorot & Bengio (2010, eq. 5) and He et al. (2015, eq. 7) derive: for
``y = W x`` with weights independent of the input, ``E[y^2] = fan_in * E[w^2] * E[x^2]`` (for
a transposed convolution, the products each output sums instead of fan_in); after
a ReLU, ``E[relu(y)^2] = Var(y) / 2`` for a symmetric ``y``; after a leaky ReLU of slope ``a``,
``(1 + a^2) / 2``; tanh and sigmoid by ``E[f(y)^2]`` for a Gaussian ``y`` (Owen's closed
form of the probit approximation: tanh's ``E[y^2]`` for a small ``y``, where it is linear,
then less, up to 1: a tanh net initialised too large saturates, it does not grow, which
``init-report --phase`` shows; sigmoid's ``1/4 + E[y^2] / 16``, its mean 1/2 never
vanishing, up to 1/2); other activations by their registry record's factor, up to a bound
for those that saturate. So each conv or dense layer followed by its activation scales the
signal's second moment by

    fan_in * E[w^2] * activation factor

(the factor of a small change of the signal: tanh's 1, sigmoid's 1/16) and the product over
the chain is what the input's scale becomes. He init (``Var(w) = 2 /
fan_in``) makes that factor 1 before a ReLU; Glorot's ``2 / (fan_in + fan_out)`` makes it 1/2
when fan_in = fan_out, so 30 layers shrink the std by 2^-15.

A conv's zero padding takes its share too: its border outputs sum fewer products of the input
than fan_in (:func:`read_share`), which on small maps decides a deep net's fate whatever the
init's factor (a 201-layer tanh net on 4x4 maps, Glorot's factor 1, shrinks by 1e12).

A max pool raises the signal: each output is the largest of ``k`` values. Where its input is
a piecewise-linear activation (``relu``, ``leaky_relu``: ``f(y) = y`` above 0, ``s·y`` below)
of a layer whose weights are drawn symmetric about 0 (or of a batch norm), or that layer's
output itself (``s = 1``), the values are ``f`` of symmetric, roughly Gaussian sums, and
``f`` is monotone, so the largest of ``k`` is ``f`` of the largest of ``k`` sums. The sums of
one window are independent but for one part (the assumption of He et al.'s derivation: at
init the weights decide each sum, and a window's neighbours see different weights): their
input's mean times the sum of the kernel's weights, the same at every position of a channel
(a share ``mean^2 / E[x^2]`` of the variance, which a batch norm takes out). Their largest is
then ``f(sqrt(q) (sqrt(shared) C + sqrt(1 - shared) M))`` for ``M`` the largest of ``k``
standard normals and ``C`` one more (:class:`Sums`, integrated numerically:
:func:`largest_of_sums`): after a ReLU, nothing shared, a 2x2 pool multiplies the second
moment by 3.06 (the std by 1.75), a pool on symmetric values by 1.55; an activation after the
pool takes its share of those values the same way. tanh and sigmoid are increasing too: the
largest of their values is their function of the largest sum, integrated over both normals'
densities (:func:`largest_of_function`). A mean pool keeps what the positions of a
channel share and divides the rest by its window's area; after ReLU layers that share grows
layer by layer (:func:`cross_moment`, the arc-cosine kernel), so a mean pool after 30 of
them keeps more than their mean's square. Against the engine on Gaussian images, each pool
of specs/ that reads such values moves the scale within 1.1x of what it measures (the
pool's own factor; plain30's 4x4 mean pool 0.82x when the positions were taken as alike
only in their mean); a max pool after an activation the estimate does not carry (gelu,
silu, or relu of a concat) keeps the scale it is given, up to 0.58x of the measured, and
a global mean pool after a layer norm, which keeps each channel's mean, 0.3x. Dropout, while
training, raises the second moment by ``1 / (1 - p)``. On ``specs/digits.cnn`` with Gaussian
images every layer's estimate is within 1.09x of a forward pass (tests/test_check.py).

Batch normalisation and LSUV reset the scale to 1. ``add`` sums the second moments of its
inputs (independent branches), ``concat`` averages them over channels. Fixed kernels (literals,
named kernels) use the mean square of their values. Biases count where :func:`moments` is
asked to (the Signal column of ``summary`` and the lints do; the scale warnings, about what
the weights do to the signal, take them as 0): a constant bias shifts every sum of its layer
alike (what a ReLU after it passes, and so what the layers after it see); a drawn one adds
its variance, one value per channel that a pool's window shares (:func:`biased_sums`). The
moments are products that may leave floating point's range (weights of 1e-200 square to 0);
the warning's figures are worked out from their logs.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

from cnnspec.check.model import LayerInfo
from cnnspec.errors import float_text, rounded_text
from cnnspec.init.info import InitInfo, TapSquares
from cnnspec.kinds import KINDS, is_weighted
from cnnspec.kinds.catalogue import piecewise_linear_factor
from cnnspec.shapes import tap_reads, taps_reading

LIMIT = 100.0  # warn when the scale (root mean square) changes by more than this factor


def kind_signal(layer: dict, moments: list[float], shapes: list) -> float:
    """The second moment out of ``layer`` by its registry record's ``signal`` rule; beyond
    floating point's range it is infinite (a leaky slope of 1e300, squared, raises
    OverflowError in Python rather than giving inf as a product does), which the warning
    then reports as beyond floating point."""
    try:
        return KINDS[layer["kind"]].signal(layer, moments, shapes)
    except OverflowError:
        return math.inf


# The moment at which an activation's factor is read: small, where tanh is linear.
SMALL_SIGNAL = 1e-6


def activation_factor(layer: dict) -> float:
    """How much of a small change of ``E[y^2]`` an activation layer passes on, for a symmetric,
    zero-mean ``y``: 1/2 for relu (He et al. 2015), 1 for tanh (linear near 0: the factor that
    sets the init, its rule falling from it as the signal grows), 1/16 for sigmoid (its slope
    1/4 at 0, squared; its mean's square, 1/4, passes no change on); the slope of its
    registry record's ``signal`` rule at a small moment."""
    if layer["kind"] not in KINDS:
        return 1.0
    return (kind_signal(layer, [2 * SMALL_SIGNAL], [])
            - kind_signal(layer, [SMALL_SIGNAL], [])) / SMALL_SIGNAL


def weight_log_second_moment(info: LayerInfo) -> float | None:
    """``log E[w^2]`` of a conv or dense weight at init, -inf for weights all 0; None where
    data decides it (LSUV). Taken from the values' scale, not their squares: weights of
    1e-200, which float64 holds, square to 0 even there, and the signal they shrink is still
    judged."""
    init: InitInfo = info.weight_init
    if init.distribution == "lsuv":
        return None
    if init.distribution == "identity":
        out, cin = info.weight_shape[:2]
        return math.log(min(out, cin) / out / info.fan_in)  # fan_in * E[w^2]: channels passed
    if init.std is None:  # a fixed kernel: its own mean square, scaled by its largest value
        if init.nonzero_scale == 0:
            return -math.inf
        return 2 * math.log(init.nonzero_scale) + math.log(init.relative_square)
    return 2 * _log(math.hypot(init.mean or 0.0, init.std))


def weight_second_moment(info: LayerInfo) -> float | None:
    """``E[w^2]`` of a conv or dense weight at init (0 where it is below floating point's
    range: :func:`weight_log_second_moment`); None where data decides it (LSUV)."""
    log_moment = weight_log_second_moment(info)
    return None if log_moment is None else math.exp(log_moment)


def summed_terms(info: LayerInfo) -> float:
    """The products each output value of a conv or dense layer sums, on average: its
    multiply-adds over its output size. That is the fan_in of a conv or dense layer; a
    transposed convolution's fan_in (PyTorch's, F/G·kh·kw) counts the outputs each *input*
    pixel reaches, while each output sums about C/G·kh·kw / stride² products."""
    outputs = math.prod(info.output_shape)
    return info.macs / outputs if info.macs and outputs else info.fan_in


def read_share(info: LayerInfo, depth: int | None = None) -> float:
    """The factor by which a conv's zero padding (``Kind.zero_padded``) scales the signal's
    second moment: its border outputs sum fewer products of the input than fan_in. Each tap
    weighs by its share of ``E[w^2]`` (even for a drawn init; all at the centre for
    delta-orthogonal and identity, which the padding never reaches; a fixed kernel's own
    squares), axis by axis (:func:`_axis_share`). 1 without padding. ``depth``: the layer's
    place in a stack of padded convs that keep the map's size (:func:`read_shares`), 1 for
    the first, which reads a signal even across the positions; None for the factor of a
    layer deep in such a stack. On 8x8 maps a 3x3 ``pad same`` layer's border outputs read
    2/3 or 4/9 of their taps: the first scales the signal by 0.84; through many such layers
    the signal settles into a profile weaker at the borders, which lose less of it, scaled
    by 0.92 a layer (on 4x4 maps 0.69, then 0.76: 200 layers take 1e-12 of its scale),
    where a delta-orthogonal kernel keeps it whole. A single 2x2 conv padded on one side
    (``pad 0x1x0x1``) on 4x4 maps: 7/8 an axis, within 1.06x of the engine (float64,
    Gaussian images, 20 seeds: specs/familiar.cnn's conv2), where a deep stack's 1/2 an
    axis was 1.6x below it; one 3x3 ``pad same`` layer on 4x4 maps within 1.02x."""
    if not KINDS[info.kind].zero_padded or not info.pads or not any(info.pads):
        return 1.0
    (_, h, w), (_, ho, wo) = info.input_shapes[0], info.output_shape
    (kh, kw), (sh, sw), (dh, dw) = info.ir["kernel"], info.ir["stride"], info.ir["dilation"]
    init: InitInfo = info.weight_init
    if init.nonzero_scale == 0 and init.tap_squares is not None:  # a fixed kernel of zeros
        return 1.0
    taps = CENTRE if init.distribution in ("delta_orthogonal", "identity") else init.tap_squares
    steps = STEADY_ITERATIONS + 1 if depth is None else min(depth, STEADY_ITERATIONS + 1)
    return (_axis_share(h, ho, kh, sh, dh, info.pads[0], taps, 0, steps)
            * _axis_share(w, wo, kw, sw, dw, info.pads[2], taps, 1, steps))


def read_shares(layers: list[LayerInfo]) -> dict[str, float]:
    """Every conv/dense layer's :func:`read_share` at its place in the net: the signal a
    padded conv reads is even across the positions where it comes from the input, a pool,
    a strided conv or a dense layer; through each padded conv that keeps the map's size it
    grows weaker at the borders (an activation, a norm, a dropout or a 1x1 conv keep that
    profile; a merge the least settled of its inputs'), so the k-th of a stack takes the
    factor of the k-th power iteration (:func:`_axis_share`), the first its plain share."""
    depth: dict[str, int] = {"input": 0}
    shares: dict[str, float] = {}
    for info in layers:
        carried = min((depth.get(name, 0) for name in info.inputs), default=0)
        kind = KINDS[info.kind]
        depth[info.name] = 0
        if is_weighted(info.kind):
            keeps = (len(info.output_shape) == 3 and info.ir.get("stride") == [1, 1]
                     and info.output_shape[1:] == info.input_shapes[0][1:])
            padded = keeps and kind.zero_padded and bool(info.pads) and any(info.pads)
            depth[info.name] = carried + padded if keeps else 0
            shares[info.name] = read_share(info, depth[info.name] if padded else None)
        elif kind.is_activation or kind.merge or kind.family in ("norm", "dropout"):
            depth[info.name] = carried
    return shares


# How a conv weight's E[w^2] falls on its taps: all at the centre (delta-orthogonal and
# identity), by a fixed kernel's squares (``InitInfo.tap_squares``), or evenly (None: a drawn
# init, for which nothing as long as the kernel is built; it may have 100000 taps).
CENTRE = "centre"
Taps = TapSquares | str | None


def _share(taps: Taps, axis: int, kernel: int) -> Callable[[int], float]:
    """The share of ``E[w^2]`` of each tap along ``axis`` (0: rows, 1: columns)."""
    if taps is None:
        return lambda i: 1 / kernel
    if taps == CENTRE:
        return lambda i: float(i == (kernel - 1) // 2)
    squares = taps.rows if axis == 0 else taps.columns
    total = sum(squares)
    return lambda i: squares[i] / total


@functools.lru_cache(maxsize=1024)
def _axis_share(size: int, out: int, kernel: int, stride: int, dilation: int, before: int,
                taps: Taps, axis: int, depth: int) -> float:
    """The padding's factor along one axis of ``size`` input positions (``before`` of padding
    in front), the taps weighing by their shares of ``E[w^2]`` along it, for the
    ``depth``-th layer of a stack of such layers that keep the size at stride 1, on an input
    even across the positions: the share averaged over the output positions for the first;
    for the ``depth``-th, the ``depth``-th step of the power iteration of the map from the
    input positions' second moments to the output's (He et al.'s variance recursion with the
    border's taps left out), which tends to that map's largest eigenvalue (the steady
    profile of a deep stack). A layer that changes the size takes the first's. Only the taps
    that meet the input are visited (:func:`cnnspec.shapes.tap_reads`)."""
    share = _share(taps, axis, kernel)
    if stride != 1 or out != size or size > STEADY_SIZE or depth <= 1:
        return sum(share(i) * count for i, count
                   in tap_reads(size, out, kernel, stride, dilation, before).items()) / out

    def propagated(moments: list[float]) -> list[float]:
        return [sum(share(i) * moments[y + i * dilation - before]
                    for i in taps_reading(y, size, kernel, 1, dilation, before))
                for y in range(out)]

    step = propagated([1.0] * size)
    factor = sum(step) / out
    if factor == 0:  # no output reads the input (taps 3 apart about a 1-pixel map's centre)
        return 0.0
    for _ in range(depth - 1):
        moments = [m / max(step) for m in step]
        step = propagated(moments)
        previous, factor = factor, sum(step) / sum(moments)
        if abs(factor - previous) < 1e-12:
            break
    return factor


# Power iterations for a padded axis's steady factor, at most, and the widest axis it is
# found for: the gap between the two largest eigenvalues closes as 1/n^2 for n positions, so
# wide axes converge slowly (200 iterations: within 1e-4 below the factor up to 128
# positions, 17 ms in Python at 64). Wider axes take the share averaged over the outputs,
# 0.99 or more a layer for a 3x3 kernel, where the padding matters little.
STEADY_ITERATIONS = 200
STEADY_SIZE = 64


@dataclass(frozen=True)
class Sums:
    """A layer's values as ``f(sqrt(q) (sqrt(shared) C + sqrt(1 - shared) M))``: ``M`` the
    largest of ``k`` independent standard normals (``k = 1``: one normal, the symmetric sum
    itself), ``C`` a standard normal that every position of a channel shares (the part of a
    weighted layer's sums its input's mean gives: ``mean * sum(w)``, the same wherever the
    kernel is), ``f`` the identity above 0 and ``slope`` times it below (1: the identity), or
    the ``increasing`` function of the activation kind ``function`` (tanh, sigmoid).
    ``offset``: a constant bias added to every sum, in units of ``sqrt(q)``."""

    q: float
    slope: float = 1.0
    k: int = 1
    shared: float = 0.0
    function: str = ""
    offset: float = 0.0

    def second_moment(self) -> float:
        if self.function:
            return largest_of_function(self.k, self.shared, self.q, self.function,
                                       self.offset)[0]
        return self.q * self._moments()[0]

    def mean(self) -> float:
        if self.function:
            return largest_of_function(self.k, self.shared, self.q, self.function,
                                       self.offset)[1]
        return math.sqrt(self.q) * self._moments()[1]

    def _moments(self) -> tuple[float, float]:
        """:func:`largest_of_sums`; a slope beyond floating point's range (a leaky slope of
        1e300, squared, raises OverflowError in Python) gives infinite moments, which the
        warning then reports as beyond floating point (as :func:`kind_signal`)."""
        try:
            return largest_of_sums(self.k, self.shared, self.slope, self.offset)
        except OverflowError:
            return math.inf, math.inf


@functools.lru_cache(maxsize=1024)
def largest_of_sums(k: int, shared: float, slope: float, offset: float = 0.0
                    ) -> tuple[float, float]:
    """``(E[f(X)^2], E[f(X)])`` for ``X = sqrt(shared) C + sqrt(1 - shared) M + offset`` (see
    :class:`Sums`): over ``M``'s density ``k phi(m) Phi(m)^(k-1)`` (David & Nagaraja, "Order
    Statistics", 2003, eq. 2.1.6) by Simpson's rule on [-12, 12], where it is below 1e-30 for
    any ``k`` a spec can give, each point's expectation over ``C`` in closed form (the
    moments of a normal's positive and negative parts). One normal: ``((1 + s^2) / 2, (1 -
    s) / sqrt(2 pi))`` whatever is shared; the largest of 4 after a ReLU, nothing shared:
    (1.54, 1.03)."""
    if k == 1 and offset == 0:
        return piecewise_linear_factor(slope), (1 - slope) / math.sqrt(2 * math.pi)
    if k == 1:  # one normal shifted by d: its parts above and below 0 in closed form
        return _shifted_normal_moments(offset, slope)
    alone, common = math.sqrt(1 - shared), math.sqrt(shared)

    def moments(m: float) -> tuple[float, float]:
        a = alone * m + offset  # X = a + common * C
        if common == 0:
            part = a if a > 0 else slope * a
            return part * part, part
        z = a / common
        above, below = _normal_cdf(z), _normal_cdf(-z)
        bump = common * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
        spread = a * a + shared
        return (spread * above + a * bump + slope ** 2 * (spread * below - a * bump),
                a * above + bump - slope * (bump - a * below))

    second = first = 0.0
    for m, weight in _simpson(-12.0, 12.0, 960, lambda m: _largest_density(k, m)):
        square, value = moments(m)
        second += weight * square
        first += weight * value
    return second, first


def _shifted_normal_moments(d: float, slope: float) -> tuple[float, float]:
    """``(E[f(Z + d)^2], E[f(Z + d)])`` for a standard normal ``Z``, ``f`` the identity above
    0 and ``slope`` times it below: the truncated normal's moments, ``E[(Z + d)^2; Z + d > 0]
    = (1 + d^2) Phi(d) + d phi(d)`` and ``E[Z + d; Z + d > 0] = d Phi(d) + phi(d)``, the part
    below 0 the rest of ``1 + d^2`` and of ``d``."""
    above, density = _normal_cdf(d), _normal_density(d)
    square_above = (1 + d * d) * above + d * density
    mean_above = d * above + density
    return (square_above + slope ** 2 * (1 + d * d - square_above),
            mean_above + slope * (d - mean_above))


@functools.lru_cache(maxsize=1024)
def largest_of_function(k: int, shared: float, q: float, function: str, offset: float = 0.0
                        ) -> tuple[float, float]:
    """``(E[f(Y)^2], E[f(Y)])`` for ``Y = sqrt(q) X``, ``X`` as in :func:`largest_of_sums` and
    ``f`` the increasing function of the activation kind ``function`` (``Kind.increasing``):
    over ``M``'s density and ``C``'s by Simpson's rule (``f`` has no closed form against a
    normal), ``M`` on [-12, 12] in 240 panels, ``C`` on [-8, 8] in 48 (the mass beyond, below
    1e-15). tanh of one normal of variance 1: (0.394, 0), the integral Owen's closed form
    (:mod:`cnnspec.kinds.catalogue`) approximates by 0.418."""
    f = KINDS[function].increasing
    scale, alone, common = math.sqrt(q), math.sqrt(1 - shared), math.sqrt(shared)
    shared_points = (_simpson(-8.0, 8.0, 48, _normal_density) if common
                     else ((0.0, 1.0),))
    second = first = 0.0
    for m, weight in _simpson(-12.0, 12.0, 240, lambda m: _largest_density(k, m)):
        for c, shared_weight in shared_points:
            value = f(scale * (alone * m + common * c + offset))
            second += weight * shared_weight * value * value
            first += weight * shared_weight * value
    return second, first


def _simpson(low: float, high: float, panels: int, density) -> tuple[tuple[float, float], ...]:
    """Simpson's rule's points on [``low``, ``high``] in ``panels`` (even) panels, each with
    its weight times ``density`` there: ``sum(w * g(x))`` is the integral of ``g * density``."""
    h = (high - low) / panels
    return tuple((low + i * h, (1 if i in (0, panels) else 4 if i % 2 else 2) * h / 3
                  * density(low + i * h)) for i in range(panels + 1))


def _largest_density(k: int, m: float) -> float:
    """The density of the largest of ``k`` standard normals at ``m``, ``k phi(m)
    Phi(m)^(k-1)`` (David & Nagaraja 2003, eq. 2.1.6)."""
    return k * _normal_density(m) * _normal_cdf(m) ** (k - 1)


def _normal_density(z: float) -> float:
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def second_moments(layers: list[LayerInfo]) -> dict[str, float]:
    """``E[x^2]`` of every layer's output relative to the input's (1), in IR order."""
    return moments(layers)[0]


def moments(layers: list[LayerInfo], biases: bool = False
            ) -> tuple[dict[str, float], dict[str, float]]:
    """``E[x^2]`` of every layer's output relative to the input's (1), in IR order, and the
    mean ``E[x]`` of those whose mean the estimate knows (on the same scale). ``biases``: a
    conv or dense layer's biases are added to its sums (:func:`biased_sums`: their mean and
    variance, and what the activation after it passes); else they are taken as 0, as the
    scale warnings take them.

    The bias is on the input's scale, taken as unit mean square: on the spec's data after
    ``standardize``, as the lints that count it read it."""
    q: dict[str, float] = {"input": 1.0}
    sums: dict[str, Sums] = {}  # outputs known as (functions of) symmetric sums
    means: dict[str, float] = {}  # outputs whose mean is known, on the same scale as q
    shares = read_shares(layers)
    for info in layers:
        ins = [q[name] for name in info.inputs]
        kind = KINDS[info.kind]
        single = info.inputs[0] if len(info.inputs) == 1 else None
        source = sums.get(single)
        if is_weighted(info.kind):
            ew2 = weight_second_moment(info)
            spread = (1.0 if ew2 is None else
                      summed_terms(info) * ew2 * ins[0] * shares[info.name])
            bias_mean, bias_variance = (bias_moments(info) if biases and 0 < spread < math.inf
                                        else (0.0, 0.0))
            q[info.name] = spread + bias_mean * bias_mean + bias_variance
            if ew2 is not None and info.weight_init.symmetric:
                cross = cross_moment(source, means.get(single))
                shared = 0.0 if cross is None or not ins[0] else min(1.0, cross / ins[0])
                sums[info.name] = biased_sums(spread, shared, bias_mean, bias_variance)
                means[info.name] = bias_mean
            continue
        q[info.name] = kind_signal(info.ir, ins, info.input_shapes)
        if kind.family == "norm":  # its batch statistics take the shared part out too
            sums[info.name] = Sums(q[info.name])
            means[info.name] = 0.0
        elif source is not None and not source.function and kind.negative_slope is not None:
            sums[info.name] = Sums(source.q, source.slope * kind.negative_slope(info.ir),
                                   source.k, source.shared, offset=source.offset)
        elif (source is not None and not source.function and source.slope == 1
              and kind.increasing is not None and math.isfinite(source.q)):
            sums[info.name] = dataclasses.replace(source, function=info.kind)
        elif source is not None and kind.max_of is not None:
            sums[info.name] = dataclasses.replace(
                source, k=source.k * kind.max_of(info.ir, info.input_shapes))
        elif kind.mean_of is not None and cross_moment(source, None) is not None:
            cross = cross_moment(source, None)
            q[info.name] = cross + (ins[0] - cross) / kind.mean_of(info.ir, info.input_shapes)
        elif kind.mean_of is not None and single in means:
            shared = 0.0 if source is None else source.shared
            q[info.name] = _mean_pooled(ins[0], means[single], shared,
                                        kind.mean_of(info.ir, info.input_shapes))
        entry = sums.get(info.name)
        # tanh or sigmoid of one sum keeps its kind's rule; of the largest of several, or of
        # a sum a bias shifts, the integral
        if entry is not None and not (entry.function and entry.k == 1 and not entry.offset):
            q[info.name] = entry.second_moment()
            means[info.name] = entry.mean()
        elif single in means and (kind.mean_of is not None
                                  or kind.family in ("dropout", "reshape")):
            means[info.name] = means[single]
        elif kind.centre is not None and means.get(single) == 0:
            means[info.name] = kind.centre
    return q, means


def bias_moments(info: LayerInfo) -> tuple[float, float]:
    """The mean and variance of a conv/dense layer's biases at init: ``(b, 0)`` for a
    constant ``b`` (``bias constant(-1)``), the drawn distribution's for a random one
    (``bias normal(0, 0.5)``, ``torch_default``); ``(0, 0)`` for no bias."""
    bias = info.bias_init
    if bias is None:
        return 0.0, 0.0
    return bias.mean or 0.0, 0.0 if bias.constant else (bias.std or 0.0) ** 2


def biased_sums(spread: float, shared: float, mean: float, variance: float) -> Sums:
    """A weighted layer's outputs as :class:`Sums`: its sums of second moment ``spread``, a
    ``shared`` part of it the same at every position of a channel, plus biases of ``mean``
    and ``variance``. A drawn bias is one value per channel, the same at every position of
    it: it joins the shared part (a max pool's window sees one bias, not ``k``), its
    variance joining the sums' (over the channels, sum and bias add as independent
    normals); its mean is the offset every sum is shifted by."""
    total = spread + variance
    if not 0 < total < math.inf:
        return Sums(spread, shared=shared)
    return Sums(total, shared=(shared * spread + variance) / total,
                offset=mean / math.sqrt(total))


def constant_bias(info: LayerInfo) -> float:
    """The value every bias of a conv/dense layer starts at, where they all start at one
    (``bias constant(-1)``); 0 for no bias or drawn ones."""
    bias = info.bias_init
    return bias.mean if bias is not None and bias.constant and bias.mean else 0.0


def cross_moment(source: Sums | None, mean: float | None) -> float | None:
    """``E[x_p x_p']`` for two positions ``p != p'`` of one channel of a layer: what a mean
    pool keeps whole and what the next weighted layer's sums share at every position
    (:class:`Sums`). For piecewise-linear values of one sum each (``f(y) = y`` above 0, ``a
    y`` below), two sums of correlation ``rho`` (their shared part) give ``a^2 rho + a (1 -
    a) rho + (1 - a)^2 (sqrt(1 - rho^2) + (pi - arccos rho) rho) / (2 pi)`` times ``q`` (the
    arc-cosine kernel of degree 1, Cho & Saul 2009; the covariance map of Xiao et al. 2018,
    eq. 2.6, for positions alike only in what their channel shares): a ReLU net's positions
    grow more alike layer by layer, rho rising from 1/pi after the first. Else the mean's
    square, where the mean is known (None where it is not)."""
    if source is not None and source.k == 1 and not source.function and not source.offset \
            and math.isfinite(source.q):
        rho, a = source.shared, source.slope
        arc = (math.sqrt(max(0.0, 1 - rho * rho)) + (math.pi - math.acos(rho)) * rho) \
            / (2 * math.pi)
        try:  # a leaky slope of 1e300, squared, raises OverflowError: no figure then
            return source.q * (a * a * rho + a * (1 - a) * rho + (1 - a) ** 2 * arc)
        except OverflowError:
            return None
    return None if mean is None else mean * mean


def _mean_pooled(moment: float, mean: float, shared: float, k: int) -> float:
    """``E[x^2]`` of the mean of ``k`` values of second moment ``moment`` and mean ``mean``,
    a ``shared`` part of whose variance is the same for all (:class:`Sums`), the rest
    independent: the mean's square, the shared variance, and 1/k of the rest."""
    variance = moment - mean * mean
    return mean * mean + variance * (shared + (1 - shared) / k)


@dataclass
class SignalChange:
    """The layer where the estimated scale (root mean square) is furthest from the input's,
    and why."""

    start: str  # where the scale was last 1: "input", or a batchnorm/LSUV layer
    layer: str  # where the scale is furthest from 1
    std_ratio: float  # root mean square there / the input's
    first_weight_layer: str  # the first conv/dense layer on the way of init_name, to point at
    init_name: str  # the weight init whose layers move the scale most that way
    log_per_layer: float  # log of the geometric mean of fan_in * E[w^2] * activation factor
    layers: int  # conv/dense layers on the way
    activation: str  # the activation most layers of init_name feed
    slope: float | None = None  # that activation's slope, for leaky_relu
    log_read_share: float = 0.0  # log of the geometric mean of read_share (zero padding)

    @property
    def padding_decides(self) -> bool:
        """Whether the zero padding takes more of the signal than the weights' factor
        changes it: the init is the one that keeps the factor near 1, and the padding does
        the rest."""
        return self.log_read_share < 0 and abs(self.log_per_layer) < -self.log_read_share


def _following_activation(info: LayerInfo, by_name: dict[str, LayerInfo],
                          consumers: dict[str, list[str]]) -> dict:
    """The activation a conv/dense layer feeds (through dropout/batchnorm), or a linear stand-in."""
    name = info.name
    while len(consumers.get(name, [])) == 1:
        nxt = by_name[consumers[name][0]]
        if KINDS[nxt.kind].is_activation:
            return nxt.ir
        if KINDS[nxt.kind].family not in ("dropout", "norm"):
            break
        name = nxt.name
    return {"kind": "linear"}


def _log(value: float) -> float:
    """The natural log, -inf for a moment that underflowed to 0."""
    return math.log(value) if value > 0 else -math.inf


def largest_change(layers: list[LayerInfo], used: set[str],
                   consumers: dict[str, list[str]]) -> SignalChange | None:
    """Where the signal's scale changes most; None if no weight layer decides it, a weight is
    all 0 (which the constant-init warning reports) or a conv reads only its padding."""
    q = second_moments(layers)
    order = [info for info in layers if info.name in used]
    if any(is_weighted(info.kind) and weight_log_second_moment(info) == -math.inf
           for info in order):
        return None
    # a deep net's moment may leave floating point's range (0 or inf): the furthest of all
    worst = max(order, key=lambda info: abs(_log(q[info.name])), default=None)
    if worst is None:
        return None
    reset = _last_reset(order[: order.index(worst)])
    upto = order[reset + 1: order.index(worst) + 1]
    # An LSUV layer resets the scale itself (its E[w^2] is the data's to decide): only the
    # layers after the last reset set the change, and the worst layer may be that reset.
    weighted = [i for i in upto if is_weighted(i.kind) and not _is_reset(i)]
    if not weighted:
        return None
    placed = read_shares(layers)
    shares = [placed[i.name] for i in weighted]
    if 0 in shares:  # a conv reading only its padding passes nothing of the input on: the
        return None  # padding and kernel-tap warnings report it, not a scale
    acts, log_factors = _log_factors(weighted, layers, consumers)
    log_shares = [math.log(share) for share in shares]
    names = [i.weight_init.name for i in weighted]
    init_name = _init_deciding(names, log_factors)
    # the layers of that init say where to point and which activation the hint is for (the
    # first most common in their order: the same answer in every process)
    deciding = [k for k, name in enumerate(names) if name == init_name]
    kinds = [acts[k]["kind"] for k in deciding]
    activation = max(kinds, key=kinds.count)
    return SignalChange(
        start=order[reset].name if reset >= 0 else "input", layer=worst.name,
        std_ratio=math.sqrt(q[worst.name]),
        first_weight_layer=weighted[deciding[0]].name,
        init_name=init_name,
        log_per_layer=sum(log_factors) / len(log_factors),
        layers=len(weighted), activation=activation,
        slope=next((acts[k]["slope"] for k in deciding if acts[k]["kind"] == "leaky_relu"),
                   None),
        log_read_share=sum(log_shares) / len(log_shares))


def _log_factors(weighted: list[LayerInfo], layers: list[LayerInfo],
                 consumers: dict[str, list[str]]) -> tuple[list[dict], list[float]]:
    """The activation each conv/dense layer of ``weighted`` feeds, and the log of its factor
    ``fan_in * E[w^2] * activation factor``: in logs, as a factor of weights of 1e-200 is below
    floating point's range."""
    by_name = {info.name: info for info in layers}
    acts = [_following_activation(i, by_name, consumers) for i in weighted]
    return acts, [math.log(summed_terms(i)) + weight_log_second_moment(i)
                  + _log(activation_factor(a)) for i, a in zip(weighted, acts)]


@dataclass
class Source:
    """The conv/dense layer that raises the signal most on its way to a layer since the last
    reset, and by how much its factor (with its padding's share) scales the mean square."""

    layer: LayerInfo
    factor: float


def largest_source(layers: list[LayerInfo], used: set[str], consumers: dict[str, list[str]],
                   target: str) -> Source | None:
    """The conv/dense layer since the last batchnorm or LSUV layer before ``target`` (or
    ``target`` itself) whose factor raises the mean square most; None if none is weighted."""
    order = [info for info in layers if info.name in used]
    end = next(i for i, info in enumerate(order) if info.name == target)
    upto = order[_last_reset(order[:end]) + 1: end + 1]
    weighted = [i for i in upto if is_weighted(i.kind) and not _is_reset(i)]
    if not weighted:
        return None
    _, log_factors = _log_factors(weighted, layers, consumers)
    shares = read_shares(layers)
    logs = [f + _log(shares[i.name]) for i, f in zip(weighted, log_factors)]
    top = max(range(len(weighted)), key=lambda i: logs[i])
    return Source(weighted[top], math.exp(min(logs[top], 700.0)))


def _init_deciding(names: list[str], log_factors: list[float]) -> str:
    """The init whose layers move the signal's scale most in the direction it goes: the sum
    of their log factors, by init. The most common init would name he_normal for a conv of
    N(0, 1e30) before a he_normal dense layer, whose factor is near 1."""
    total = sum(f for f in log_factors if not math.isnan(f))
    direction = -1.0 if total < 0 else 1.0
    moved: dict[str, float] = {}
    for name, factor in zip(names, log_factors):
        moved[name] = moved.get(name, 0.0) + (0.0 if math.isnan(factor) else factor)
    return max(moved, key=lambda name: (direction * moved[name], names.count(name)))


def _is_reset(info: LayerInfo) -> bool:
    """Batchnorm and LSUV set the scale to 1 whatever came before."""
    return KINDS[info.kind].family == "norm" or (
        info.weight_init is not None and info.weight_init.distribution == "lsuv")


def _last_reset(layers: list[LayerInfo]) -> int:
    """Index of the last layer in ``layers`` that resets the scale; -1 if none."""
    return max((i for i, info in enumerate(layers) if _is_reset(info)), default=-1)


def suggested_init(activation: str, slope: float | None = None) -> str:
    """The init whose per-layer factor is 1 before ``activation``."""
    if activation == "relu":
        return "he_normal (Var(w) = 2 / fan_in, He et al. 2015)"
    if activation == "leaky_relu":
        return (f"he_normal(gain=leaky_relu({float_text(slope)})) "
                "(Var(w) = 2 / ((1 + slope^2) fan_in))"
                if slope is not None else "he_normal with gain=leaky_relu(slope)")
    return "lecun_normal (Var(w) = 1 / fan_in) or glorot_normal (Glorot & Bengio 2010)"


def describe_change(change: SignalChange) -> str:
    """The warning's sentence: how much, where, and the per-layer factor behind it."""
    verb = "shrink" if change.std_ratio < 1 else "grow"
    finite_factor = math.isfinite(change.log_per_layer)
    log2_per_layer = change.log_per_layer / math.log(2)
    if 0 < change.std_ratio < math.inf:
        exponent = math.log2(change.std_ratio)
        factor = change.std_ratio if change.std_ratio >= 1 else 1 / change.std_ratio
        amount = f"{rounded_text(factor)}x (2^{exponent:.1f})"
    elif finite_factor:  # beyond floating point: the exponent from the per-layer factor
        exponent = 0.5 * change.layers * (change.log_per_layer + change.log_read_share) \
            / math.log(2)
        amount = (f"by a factor of about 2^{abs(exponent):,.0f} (its mean square beyond "
                  "floating point's range)")
    else:  # a layer's own factor is beyond floating point (a leaky slope of 1e300)
        amount = "beyond floating point's range"
    start = "the input" if change.start == "input" else f"'{change.start}'"
    factor = math.exp(change.log_per_layer)
    per_layer = (rounded_text(factor) if 0 < factor < math.inf
                 else f"2^{log2_per_layer:,.0f}" if finite_factor
                 else "beyond floating point's range")
    return (f"the signal's scale (root mean square) is estimated to {verb} {amount} from "
            f"{start} to '{change.layer}': {change.layers} conv/dense layer(s), mostly "
            f"with init {change.init_name} before {change.activation}, each scale its mean square "
            f"by fan_in * E[w^2] * activation factor = {per_layer} on average"
            + (f", and by the share of their products that read the input, not its zero "
               f"padding, = {rounded_text(math.exp(change.log_read_share))}"
               if change.log_read_share < math.log(0.995) else ""))


def change_hint(change: SignalChange) -> str:
    """How to keep the signal's scale: the init that keeps the factor near 1, or, where the
    zero padding takes the signal (``SignalChange.padding_decides``), a kernel it does not
    reach."""
    if change.padding_decides:
        return ("the padding takes the signal where the maps are small: start each kernel at "
                "its centre tap, which the padding never reaches (delta_orthogonal, Xiao et "
                "al. 2018; or identity), use larger maps or no padding, or add batchnorm")
    return (f"before {change.activation}, use "
            f"{suggested_init(change.activation, change.slope)}, which keeps the factor near "
            "1; or add batchnorm")


def is_too_large(change: SignalChange | None) -> bool:
    return change is not None and not (1 / LIMIT <= change.std_ratio <= LIMIT)
