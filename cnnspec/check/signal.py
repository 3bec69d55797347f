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
than fan_in (:func:`read_shares`, on the profile of second moments over the positions that
reaches each layer), which on small maps decides a deep net's fate whatever the init's
factor (a 201-layer tanh net on 4x4 maps, Glorot's factor 1, shrinks by 1e12).

Each figure is the mean over weight draws; a narrow net's own scale is spread about it
log-normally (:func:`log_spreads`), and a typical one lies below it.

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
pool takes its share of those values the same way. tanh and sigmoid are increasing too, and
gelu, silu, mish and hard swish but for a small dip below 0: the largest of their values is their
function of the largest sum, integrated over both normals' densities
(:func:`largest_of_function`). A concat of such sums, or an add of symmetric ones, is one
(:func:`_joined`); a ReLU after a residual add (a ReLU's values plus a branch's sums)
passes most of it (:func:`_rectified_residual`); a layer or group norm keeps most of what
a channel's positions share (:func:`_normed`). A mean pool keeps what the positions of a
channel share and divides the rest by its window's area; after ReLU layers that share grows
layer by layer (:func:`cross_moment`, the arc-cosine kernel), so a mean pool after 30 of
them keeps more than their mean's square. Against the engine on Gaussian images, each pool
of specs/ that reads such values moves the scale within 1.1x of what it measures (the
pool's own factor; plain30's 4x4 mean pool 0.82x when the positions were taken as alike
only in their mean); specs/familiar.cnn's global max pool after a layer norm 0.91x.
Neighbours may share more than their channel does (:data:`Near`, :class:`Crosses`): an
upsampling's outputs are copies or mixes of the same pixels (:func:`_resampled`: bilinear's
mixes also keep less of the variance), which the convs after it keep, as alike ``d`` apart
as their inputs ``stride * d`` apart (a transposed conv's only a stride apart:
:func:`_read_near`), and which a pool's window then reads; specs/encoder_decoder.cnn's
global mean pool after its bilinear decoder 1.01x of the engine over 20 seeds' weights
(1.10x over 80), 0.72x (0.79x) when only what a channel shares was carried; its bilinear
upsampling 1.00x (1.05x), where taking it to keep the scale was 1.09x (1.14x). A channel
dropout's mask is one for all of a channel's positions, so what they share grows with their
second moment (``Kind.cross_signal``): a 2x2 mean pool after a dropout2d of p = 0.5 within
1.01x of the engine, 0.87x when taken as dropping values apart (familiar.cnn's 3x3 one, of
p = 0.1: its own factor 0.94x, 0.92x; the rest is its max pool's overlapping windows, whose
neighbours are alike, not carried). Not carried: a max pool after a residual add keeps the
scale it is given, and displacements past :data:`NEAR_BUDGET` of a map (``upsample 1000``
makes a million), taken as alike as any two of its channel. A padded mean pool averages
fewer values at the borders (:func:`_mean_pool_weights`). Dropout, while training, raises
the second moment by ``1 / (1 - p)``. On ``specs/digits.cnn`` with Gaussian images every
layer's estimate is within 1.05x of a forward pass (tests/test_check.py).

Batch normalisation and LSUV reset the scale to 1. ``add`` sums the second moments of its
inputs (independent branches), ``concat`` averages them over channels. Fixed kernels (literals,
named kernels) use the mean square of their values on an input of mean 0; on one whose mean
the estimate knows is not 0 (after a ReLU) their sums are :func:`_coherent_sums`', which
weigh each pair of taps by what its inputs share: on independent inputs of mean ``m`` and
variance ``v``, ``E[y^2] = v sum(w^2) + m^2 (sum w)^2``. So a kernel that sums to 0 (sobel_x,
laplacian) takes the mean out, ``v sum(w^2)``, where ``fan_in E[w^2] E[x^2] = sum(w^2) (v +
m^2)`` had the first Sobel layer after a ReLU 1.18x above the engine and ten of them 0.3x to
1.1x of it on 8x8 maps (tests/test_check.py). Weights that do not sum to 0, fixed or
drawn about a mean ``mu`` other than 0, add up the mean of what they read: ``E[y^2]`` gains
``mu^2 E[(sum_i x_i)^2]``, at least ``fan_in^2 mu^2 E[x]^2`` (:func:`_coherent_sums`), which
needs what two channels share at each displacement, carried apart from what one channel's
positions share (:func:`_filters_common`, through an activation :func:`_activated_between`).
Such a kernel blurs: its sums ``d`` apart share what their windows overlap on, so through a
stack of them positions grow alike ever further apart, each layer's reach adding its kernel's
(:func:`_overlaps`, up to the map's size and :data:`NEAR_REACH`): 20 layers of ``uniform(0,
0.2)`` on 16x16 maps within 1.5x of the engine, with or without tanh or ReLU. A kernel of
mixed signs weighs what its inputs share at each displacement by its own pairs of taps there
(:func:`_lag_weighted`): ten tanh layers of such fixed kernels within 1.2x of the engine.
Not covered: a ReLU after such a kernel, whose values the engine settles into a pattern of
period two that each ReLU passes whole, where Gaussian sums pass a quarter of their power to
the next kernel's gain: about 0.75x a layer below the engine (tests/test_check.py).
Not covered: a ReLU after sums of negative mean, whose few values above 0 come where the
spread of the sums beats their mean (both scale with what the window reads, which Gaussian
sums do not hold): estimated to keep or grow the scale the engine shrinks about 8x a layer;
:func:`dying_sums` finds where that starts, which the scale warnings say instead.
Biases count where :func:`moments` is asked to (the Signal column of ``summary`` and the lints
do; the scale warnings, about what the weights do to the signal, take them as 0): a constant
bias shifts every sum of its layer alike (what a ReLU after it passes, and so what the layers
after it see); a drawn one adds its variance, one value per channel that a pool's window
shares (:func:`biased_sums`). The moments are products that may leave floating point's range
(weights of 1e-200 square to 0); the warning's figures are worked out from their logs.
"""
from __future__ import annotations

import bisect
import collections
import dataclasses
import functools
import heapq
import math
import sys
from collections.abc import Callable

from cnnspec.check import graph
from cnnspec.check.alike import alike_channels
from cnnspec.check.model import LayerInfo
from cnnspec.dtypes import FORMATS, WIDEST_DTYPE
from cnnspec.errors import counted, float_text, rounded_text
from cnnspec.init import choose
from cnnspec.init.catalogue import BY_NAME
from cnnspec.init.describe import drawn_sums
from cnnspec.init.info import LAG_REACH, InitInfo, KernelSums, TapSquares
from cnnspec.ir.spec import Spec
from cnnspec.kinds import KINDS, is_weighted
from cnnspec.kinds.catalogue import piecewise_linear_factor, simpson
from cnnspec.records import record
from cnnspec.shapes import tap_reads, taps_reading

LIMIT = 100.0  # warn when the scale (root mean square) changes by more than this factor
LARGEST_LOG = math.log(sys.float_info.max)  # exp of more overflows
# the estimate's own arithmetic is Python's float64: a value beyond this squares to inf
WIDEST_LARGEST_ROOT = FORMATS[WIDEST_DTYPE].largest_root


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
    if _set_by_data(init):
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
    range: :func:`weight_log_second_moment`, infinite above it, as :func:`kind_signal`'s);
    None where data decides it (LSUV)."""
    log_moment = weight_log_second_moment(info)
    if log_moment is None:
        return None
    return _exp(log_moment)  # float64 holds weights of 1e200, but not their square


def summed_terms(info: LayerInfo) -> float:
    """The products each output value of a conv or dense layer sums, on average: its
    multiply-adds over its output size. That is the fan_in of a conv or dense layer; a
    transposed convolution's fan_in (PyTorch's, F/G·kh·kw) counts the outputs each *input*
    pixel reaches, while each output sums about C/G·kh·kw / stride² products."""
    outputs = math.prod(info.output_shape)
    return info.macs / outputs if info.macs and outputs else info.fan_in


def read_share(info: LayerInfo) -> float:
    """The factor by which a conv's zero padding (``Kind.zero_padded``) scales the signal's
    second moment deep in a stack of such layers: its border outputs sum fewer products of
    the input than fan_in. Each tap weighs by its share of ``E[w^2]`` (:func:`_taps`), axis
    by axis (:func:`_axis_share`). 1 without padding. On 8x8 maps a 3x3 ``pad same`` layer's
    border outputs read 2/3 or 4/9 of their taps: through many such layers the signal
    settles into a profile weaker at the borders, which lose less of it, scaled by 0.92 a
    layer (on 4x4 maps 0.76: 200 layers take 1e-12 of its scale), where a
    delta-orthogonal kernel keeps it whole. The factor of a layer at its place in a net, on
    the profile that reaches it, is :func:`read_shares`'."""
    if not KINDS[info.kind].zero_padded or not info.pads or not any(info.pads) \
            or _zero_kernel(info):
        return 1.0
    taps = _taps(info)
    (_, h, w), (_, ho, wo) = info.input_shapes[0], info.output_shape
    (kh, kw), (sh, sw), (dh, dw) = info.ir["kernel"], info.ir["stride"], info.ir["dilation"]
    return (_axis_share(h, ho, kh, sh, dh, info.pads[0], taps, 0)
            * _axis_share(w, wo, kw, sw, dw, info.pads[2], taps, 1))


def _zero_kernel(info: LayerInfo) -> bool:
    """A fixed kernel of zeros, whose taps have no shares."""
    return info.weight_init.nonzero_scale == 0 and info.weight_init.tap_squares is not None


def _taps(info: LayerInfo) -> Taps:
    """How a conv's ``E[w^2]`` falls on its taps (:data:`Taps`): all at the centre for
    delta-orthogonal and identity, which the padding never reaches; a fixed kernel's own
    squares; evenly for a drawn init."""
    init: InitInfo = info.weight_init
    return CENTRE if init.distribution in ("delta_orthogonal", "identity") else init.tap_squares


# The second moments of a map's positions along its rows and its columns, relative to
# their mean; None where they are even (the input's, a dense layer's).
Profile = tuple[tuple[float, ...], tuple[float, ...]] | None


def read_shares(layers: list[LayerInfo]) -> dict[str, float]:
    """Every conv/dense layer's padding factor at its place in the net: the share of its
    products that read the input, each input position weighing by its second moment. The
    input's are even; each padded conv leaves its border outputs weaker (He et al.'s
    variance recursion, position by position, axis by axis), activations, norms and dropout
    keep that profile, pools average it over their windows, a merge over its inputs. So the
    first 3x3 ``pad same`` conv on 4x4 maps keeps 0.69 of the mean square, and deep in a
    stack the factor tends to :func:`read_share`'s, 0.76. A single 2x2 conv padded on one
    side (``pad 0x1x0x1``) on 4x4 maps: 7/8 an axis, within 1.06x of the engine (float64,
    Gaussian images, 20 seeds: specs/familiar.cnn's conv2), where a deep stack's 1/2 an
    axis was 1.6x below it. Maps wider than :data:`STEADY_SIZE` are taken as even."""
    profiles: dict[str, Profile] = {"input": None}
    shares: dict[str, float] = {}
    for info in layers:
        kind = KINDS[info.kind]
        ins = [profiles.get(name) for name in info.inputs]
        profile: Profile = None
        if is_weighted(info.kind):
            shares[info.name], profile = _read(info, ins[0])
        elif kind.is_activation or kind.family in ("norm", "dropout"):
            profile = ins[0]
        elif kind.merge and None not in ins and len({(len(p[0]), len(p[1])) for p in ins}) == 1:
            profile = _normalised(tuple(
                tuple(sum(values) / len(ins) for values in zip(*(p[axis] for p in ins)))
                for axis in (0, 1)))
        elif (kind.max_of or kind.mean_of) and "size" in info.ir and ins[0] is not None:
            profile = _pooled(info, ins[0])
        profiles[info.name] = profile
    return shares


def _read(info: LayerInfo, profile: Profile) -> tuple[float, Profile]:
    """A weighted layer's padding factor on ``profile`` and the profile it leaves."""
    if len(info.output_shape) != 3 or not KINDS[info.kind].zero_padded or _zero_kernel(info):
        return read_share(info), None
    (_, h, w), (_, ho, wo) = info.input_shapes[0], info.output_shape
    if not all(size <= STEADY_SIZE for size in (h, w, ho, wo)):
        return read_share(info), None
    taps = _taps(info)
    (kh, kw), (sh, sw), (dh, dw) = info.ir["kernel"], info.ir["stride"], info.ir["dilation"]
    pads = info.pads or (0, 0, 0, 0)
    rows, columns = profile or ((1.0,) * h, (1.0,) * w)
    factor_rows, out_rows = _axis_read(rows, ho, kh, sh, dh, pads[0], _share(taps, 0, kh))
    factor_columns, out_columns = _axis_read(columns, wo, kw, sw, dw, pads[2],
                                             _share(taps, 1, kw))
    factor = factor_rows * factor_columns
    return factor, (_normalised((out_rows, out_columns)) if factor > 0 else None)


def _axis_read(moments: tuple[float, ...], out: int, kernel: int, stride: int,
               dilation: int, before: int, share: Callable[[int], float]
               ) -> tuple[float, tuple[float, ...]]:
    """Along one axis: the outputs' second moments relative to the inputs' mean (each the
    shares of its taps that read the input, times those inputs' moments), and their mean,
    the axis's factor."""
    size = len(moments)
    step = tuple(sum(share(i) * moments[y * stride + i * dilation - before]
                     for i in taps_reading(y, size, kernel, stride, dilation, before))
                 for y in range(out))
    return sum(step) / out / (sum(moments) / size), step


def _pooled(info: LayerInfo, profile: tuple) -> Profile:
    """A window pool's profile: its input's averaged over each window's positions (a max
    pool's largest value scales with its window's std); a global pool's None."""
    if len(info.output_shape) != 3:
        return None
    pads = info.pads or (0, 0, 0, 0)
    out = []
    for axis, before in ((0, pads[0]), (1, pads[2])):
        moments, size, window = profile[axis], len(profile[axis]), info.ir["size"][axis]
        stride = info.ir["stride"][axis]
        read = [[moments[y * stride + i - before]
                 for i in taps_reading(y, size, window, stride, 1, before)]
                for y in range(info.output_shape[1 + axis])]
        out.append(tuple(sum(r) / len(r) if r else 0.0 for r in read))
    return _normalised(tuple(out))


def _normalised(profile: tuple) -> Profile:
    """``profile`` with each axis's moments over their mean; None where one is all 0."""
    means = [sum(axis) / len(axis) for axis in profile]
    if not all(m > 0 for m in means):
        return None
    return tuple(tuple(v / m for v in axis) for axis, m in zip(profile, means))


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
                taps: Taps, axis: int) -> float:
    """The padding's factor along one axis of ``size`` input positions (``before`` of padding
    in front), the taps weighing by their shares of ``E[w^2]`` along it. Where the layer
    keeps the size at stride 1 (a stack of them settles into one profile), the largest
    eigenvalue of the map from the input positions' second moments to the output's (power
    iteration of :func:`_axis_read`: the steady state of He et al.'s variance recursion
    with the border's taps left out); else the share averaged over the output positions,
    for a signal even across them. Only the taps that meet the input are visited
    (:func:`cnnspec.shapes.tap_reads`)."""
    share = _share(taps, axis, kernel)
    if stride != 1 or out != size or size > STEADY_SIZE:
        return sum(share(i) * count for i, count
                   in tap_reads(size, out, kernel, stride, dilation, before).items()) / out
    factor, step = _axis_read((1.0,) * size, out, kernel, 1, dilation, before, share)
    if factor == 0:  # no output reads the input (taps 3 apart about a 1-pixel map's centre)
        return 0.0
    for _ in range(STEADY_ITERATIONS):
        previous, peak = factor, max(step)
        if peak == 0:  # the map sends every position to 0 (taps that meet only padding)
            return 0.0
        factor, step = _axis_read(tuple(m / peak for m in step), out, kernel, 1,
                                  dilation, before, share)
        if abs(factor - previous) < 1e-12:
            break
    return factor


def pair_share(info: LayerInfo, apart: tuple[int, int] | None = None) -> float:
    """The factor by which a conv's zero padding scales the part of its input's second
    moment that two positions of a channel share (their cross moment), relative to the
    factor it scales each one's own by (:func:`read_share`): ``E[z_p z_p']`` sums only the
    taps through which *both* outputs read the input, and a border output misses taps the
    one opposite reads, so positions drawn apart share less than their input's positions
    did (the covariance map of Xiao et al. 2018, eq. 2.6, at the borders). ``apart``: for
    outputs that many rows and columns apart, where None takes two drawn independently (far
    apart, on average); neighbours read the same taps but where one of them is at a border,
    so they keep nearly all of it. Axis by axis (:func:`_axis_pair_share`). 1 without
    padding, where every output reads every tap. On 16x16 maps a 3x3 ``pad same`` conv keeps
    0.92 of what its input's positions share far apart: through a ReLU stack
    (specs/plain30.cnn) that balances the arc-cosine kernel's rise, and a channel's
    positions stay about 0.7 alike where taking them to share all of it had them at 0.97 by
    the 30th layer."""
    if not _padded(info):
        return 1.0
    taps = _taps(info)
    (_, h, w), (_, ho, wo) = info.input_shapes[0], info.output_shape
    (kh, kw), (sh, sw), (dh, dw) = info.ir["kernel"], info.ir["stride"], info.ir["dilation"]
    rows, columns = (None, None) if apart is None else apart
    return (_axis_pair_share(h, ho, kh, sh, dh, info.pads[0], taps, 0, rows)
            * _axis_pair_share(w, wo, kw, sw, dw, info.pads[2], taps, 1, columns))


def _padded(info: LayerInfo) -> bool:
    """Whether a conv's zero padding leaves some of its outputs fewer taps than others
    (:func:`pair_share` below 1)."""
    return (KINDS[info.kind].zero_padded and bool(info.pads) and any(info.pads)
            and not _zero_kernel(info) and len(info.output_shape) == 3)


@functools.lru_cache(maxsize=1024)
def _axis_pair_share(size: int, out: int, kernel: int, stride: int, dilation: int,
                     before: int, taps: Taps, axis: int, apart: int | None) -> float:
    """Along one axis: for two outputs ``apart`` positions apart (None: drawn
    independently), the taps' shares (of ``E[w^2]``) through which both read the input, over
    those through which one does, ``sum_i t_i b_i / sum_i t_i f_i`` for ``f_i`` the fraction
    of the outputs whose tap ``i`` meets the input (:func:`cnnspec.shapes.tap_reads`) and
    ``b_i`` that of the pairs: ``f_i^2`` drawn independently; ``apart`` apart, the outputs
    reading a tap being a run of ``n_i`` consecutive ones, ``(n_i - apart) / (out - apart)``
    of the ``out - apart`` pairs. An even signal across the input's positions. 0 where no
    output reads the input."""
    share = _share(taps, axis, kernel)
    reads = tap_reads(size, out, kernel, stride, dilation, before)

    def both(count: int) -> float:
        if apart is None:
            return (count / out) ** 2
        return max(0, count - apart) / (out - apart)

    one = sum(share(i) * count / out for i, count in reads.items())
    return sum(share(i) * both(count) for i, count in reads.items()) / one if one > 0 else 0.0


# Power iterations for a padded axis's steady factor, at most, and the widest axis it is
# found for: the gap between the two largest eigenvalues closes as 1/n^2 for n positions, so
# wide axes converge slowly (200 iterations: within 1e-4 below the factor up to 128
# positions, 17 ms in Python at 64). Wider axes take the share averaged over the outputs,
# 0.99 or more a layer for a 3x3 kernel, where the padding matters little.
STEADY_ITERATIONS = 200
STEADY_SIZE = 64


# What two positions of one channel have in common at small displacements ``(dy, dx)``
# (``dy, dx >= 0``, not both 0; the same either way along an axis), where it differs from
# what the whole channel shares: an upsampling's copies and mixes, a transposed conv's
# outputs a stride apart, and what the convs after them keep. A correlation of two sums
# in :class:`Sums`, a cross moment ``E[x_p x_p']`` of values in :class:`Crosses`; sorted by
# displacement.
Near = tuple[tuple[tuple[int, int], float], ...]


@record(frozen=True)
class Crosses:
    """``E[x_p x_p']`` of two positions ``p != p'`` of one channel of a layer's values:
    ``far`` where they are far apart (what the whole channel shares: :func:`cross_moment`),
    ``near`` at small displacements where it differs (:data:`Near`); ``q`` each one's own
    second moment. Known where the values are sums (:func:`_sums_crosses`) and carried where
    they are not: through dropout (``Kind.cross_signal``), upsampling (:func:`_resampled`)
    and a concat (:func:`_concatenated`)."""

    q: float
    far: float
    near: Near = ()

    def at(self, dy: int, dx: int) -> float:
        """``E[x_p x_p']`` at displacement ``(dy, dx)``."""
        if dy == dx == 0:
            return self.q
        return self._near_at.get((abs(dy), abs(dx)), self.far)

    @functools.cached_property
    def _near_at(self) -> dict[tuple[int, int], float]:
        """``near`` by displacement, made once: a conv after an upsampling by 4000 asks for
        each of its 8,000 displacements, and a dict made at each ask took 3 s."""
        return dict(self.near)


@record(frozen=True)
class Sums:
    """A layer's values as ``f(sqrt(q) (sqrt(shared) C + sqrt(1 - shared) M))``: ``M`` the
    largest of ``k`` independent standard normals (``k = 1``: one normal, the symmetric sum
    itself), ``C`` a standard normal that every position of a channel shares (the part of a
    weighted layer's sums its input's mean gives: ``mean * sum(w)``, the same wherever the
    kernel is), ``f`` the identity above 0 and ``slope`` times it below (1: the identity), or
    the ``increasing`` function of the activation kind ``function`` (tanh, sigmoid).
    ``offset``: a constant bias added to every sum, in units of ``sqrt(q)``. ``shift`` and
    ``divisor``: a function's values less ``shift``, over ``divisor`` (a layer or group
    norm of them, :func:`_normed`). ``near``: the correlation of two sums of a channel at
    small displacements, where it is more (or less) than ``shared`` (:data:`Near`)."""

    q: float
    slope: float = 1.0
    k: int = 1
    shared: float = 0.0
    function: str = ""
    offset: float = 0.0
    shift: float = 0.0
    divisor: float = 1.0
    near: Near = ()

    def second_moment(self) -> float:
        if self.function:
            square, mean = largest_of_function(self.k, self.shared, self.q, self.function,
                                               self.offset)
            return (square - 2 * self.shift * mean + self.shift ** 2) / self.divisor ** 2
        far = self._far_shifted()
        return self.q * self._moments()[0] if far is None else far * far

    def mean(self) -> float:
        if self.function:
            return (largest_of_function(self.k, self.shared, self.q, self.function,
                                        self.offset)[1] - self.shift) / self.divisor
        far = self._far_shifted()
        return math.sqrt(self.q) * self._moments()[1] if far is None else far

    def _far_shifted(self) -> float | None:
        """Every value, where the offset's square is beyond floating point's range: each sum
        is then the offset to within far less than a part in 1e150, on its side of 0, so the
        values are all ``f(sqrt(q) offset)``, whose square is the mean square. Worked out on
        the values' scale, not in units of ``sqrt(q)``: biases of 1e100 on sums of std 1e-100
        are an offset of 1e200, whose square is infinite, where the values' mean square is
        1e200 (in units it was inf times q, or inf - inf, NaN). None for an offset nearer."""
        if abs(self.offset) <= WIDEST_LARGEST_ROOT:
            return None
        value = math.sqrt(self.q) * self.offset
        return value if value > 0 else _weighted(self.slope, value)

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
    for m, weight in _largest_points(k, -12.0, 12.0, 960):
        square, value = moments(m)
        second += weight * square
        first += weight * value
    return second, first


def _shifted_normal_moments(d: float, slope: float) -> tuple[float, float]:
    """``(E[f(Z + d)^2], E[f(Z + d)])`` for a standard normal ``Z``, ``f`` the identity above
    0 and ``slope`` times it below: the truncated normal's moments, ``E[(Z + d)^2; Z + d > 0]
    = (1 + d^2) Phi(d) + d phi(d)`` and ``E[Z + d; Z + d > 0] = d Phi(d) + phi(d)``, and the
    part below 0 the same with ``-d`` (``(1 + d^2) Phi(-d) - d phi(d)``, ``d Phi(-d) -
    phi(d)``), each worked out on its own: the rest of ``1 + d^2`` once took them, which is
    inf - inf, NaN, for a shift whose square is beyond floating point's range (a bias of
    -1e300 before a ReLU, which passes 0). A side whose weight is 0 there (``Phi(d)``
    underflowed, a slope of 0) adds 0, however large its moments (:func:`_weighted`).

    A residual block's estimate takes it about a thousand times (its add's ReLU, by
    :func:`_rectified_residual_moments`, :func:`_offset_of` and :func:`_shifted_cross`), so
    :func:`_normal_cdf`, :func:`_normal_density` and each :func:`_weighted` are written out
    in place: the same operations on the same values, the results theirs to the last bit
    (tests/test_check_speed.py)."""
    above, below = 0.5 * math.erfc(-d / SQRT_2), 0.5 * math.erfc(d / SQRT_2)
    density = math.exp(-d * d / 2) / SQRT_2PI
    square = 1 + d * d  # inf, not OverflowError, beyond range
    tilt = d * density if d and density else 0.0
    square_above = (square * above if above else 0.0) + tilt
    square_below = (square * below if below else 0.0) - tilt
    mean_above = (d * above if d and above else 0.0) + density
    mean_below = (d * below if d and below else 0.0) - density
    slope_square = slope * slope
    return (square_above + (slope_square * square_below if slope_square and square_below
                            else 0.0),
            mean_above + (slope * mean_below if slope and mean_below else 0.0))


def _weighted(value: float, weight: float) -> float:
    """``value * weight``, and 0 where either is 0, even where the other is infinite: a
    normal's tail whose mass underflowed to 0 (``Phi(-40)``) decays faster than any power of
    the shift grows, and a slope of 0 passes nothing of what is below 0."""
    return 0.0 if weight == 0 or value == 0 else value * weight


@functools.lru_cache(maxsize=1024)
def largest_of_function(k: int, shared: float, q: float, function: str, offset: float = 0.0,
                        slope: bool = False) -> tuple[float, float]:
    """``(E[f(Y)^2], E[f(Y)])`` for ``Y = sqrt(q) X``, ``X`` as in :func:`largest_of_sums` and
    ``f`` the increasing function of the activation kind ``function`` (``Kind.increasing``),
    or with ``slope`` its derivative (``Kind.derivative``: what a max pool passes back through
    the window's largest value): over ``M``'s density and ``C``'s by Simpson's rule (``f`` has
    no closed form against a normal), ``M`` on [-12, 12] in 240 panels, ``C`` on [-8, 8] in 48
    (the mass beyond, below 1e-15). tanh of one normal of variance 1: (0.394, 0), the integral
    Owen's closed form (:mod:`cnnspec.kinds.catalogue`) approximates by 0.418."""
    f = KINDS[function].derivative if slope else KINDS[function].increasing
    if k == 1:  # M is one normal: with C, one normal of variance 1, over one axis
        shared = 0.0
    scale, alone, common = math.sqrt(q), math.sqrt(1 - shared), math.sqrt(shared)
    second = first = 0.0
    if not common:
        # over M alone: the sums below at C's one point (0, weight 1), term for term, without
        # their inner loop (a 200-layer tanh net's estimate took 10 ms there, 5 ms here)
        for m, weight in _largest_points(k, -12.0, 12.0, 240):
            value = f(scale * (m + offset))
            second += weight * value * value
            first += weight * value
        return second, first
    shared_points = _largest_points(1, -8.0, 8.0, 48)
    for m, weight in _largest_points(k, -12.0, 12.0, 240):
        for c, shared_weight in shared_points:
            value = f(scale * (alone * m + common * c + offset))
            second += weight * shared_weight * value * value
            first += weight * shared_weight * value
    return second, first


@functools.lru_cache(maxsize=64)
def _largest_points(k: int, low: float, high: float, panels: int
                    ) -> tuple[tuple[float, float], ...]:
    """Simpson's points on [``low``, ``high``] weighted by :func:`_largest_density` (``k =
    1``: a normal's density), the same for every integral over them: worked out once, where
    a 200-layer tanh net's estimate worked them out again for each layer."""
    return simpson(low, high, panels, lambda m: _largest_density(k, m))


def _largest_density(k: int, m: float) -> float:
    """The density of the largest of ``k`` standard normals at ``m``, ``k phi(m)
    Phi(m)^(k-1)`` (David & Nagaraja 2003, eq. 2.1.6)."""
    return k * _normal_density(m) * _normal_cdf(m) ** (k - 1)


SQRT_2 = math.sqrt(2)
SQRT_2PI = math.sqrt(2 * math.pi)


def _normal_density(z: float) -> float:
    return math.exp(-z * z / 2) / SQRT_2PI


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / SQRT_2)


class Estimate:
    """The signal estimate of one net's layers, each part worked out once, when first read:
    every warning of one check reads the same (a 200-layer net's check worked out the
    moments 5 times and the read shares 7, once for each warning that asked). Held by the
    check that makes it, so nothing of one spec's estimate reaches another's. ``used``: the
    layers the output depends on; ``consumers``: the layers that read each layer
    (:mod:`cnnspec.check.graph`'s), the layer graph every lint of the check reads, built once
    (:meth:`of`); ``input_channels``: the channels of the net's input."""

    def __init__(self, layers: list[LayerInfo], used: set[str],
                 consumers: dict[str, list[str]], input_channels: int):
        self.layers, self.used, self.consumers = layers, used, consumers
        self.input_channels = input_channels

    @classmethod
    def of(cls, spec: Spec, layers: list[LayerInfo]) -> Estimate:
        """The estimate of ``layers``, the checked layers of ``spec``, with the layer graph
        every lint of a check reads: what the output uses, and what reads each layer."""
        return cls(layers, graph.used_layers(spec), graph.consumers(spec),
                   spec.ir["input"]["shape"][0])

    @functools.cached_property
    def alike(self) -> set[str]:
        """:func:`cnnspec.check.alike.alike_channels`, which the symmetry warnings read."""
        return alike_channels(self.input_channels, self.layers)

    @functools.cached_property
    def by_name(self) -> dict[str, LayerInfo]:
        """Each layer by its name."""
        return {info.name: info for info in self.layers}

    @functools.cached_property
    def change(self) -> SignalChange | None:
        """:func:`largest_change`, which the scale and the gradient warnings both read."""
        return largest_change(self)

    @functools.cached_property
    def dying(self) -> DyingSums | None:
        """:func:`dying_sums`, which the scale warnings read."""
        return dying_sums(self)

    @functools.cached_property
    def read_shares(self) -> dict[str, float]:
        """:func:`read_shares`."""
        return read_shares(self.layers)

    @functools.cached_property
    def _unbiased(self) -> tuple[dict[str, float], dict[str, float], dict[str, Sums],
                                 dict[str, float]]:
        """:func:`estimate` with every bias taken as 0, as the scale warnings take them, and
        how alike each output's channels are."""
        return _estimated(self.layers, False, self.read_shares)

    @property
    def moments(self) -> tuple[dict[str, float], dict[str, float]]:
        """:func:`moments` with every bias taken as 0, as the scale warnings take them."""
        return self._unbiased[:2]

    @property
    def sums(self) -> dict[str, Sums]:
        """The layers whose values the estimate knows as :class:`Sums` (:func:`estimate`'s
        third), every bias taken as 0."""
        return self._unbiased[2]

    @property
    def alike_channels(self) -> dict[str, float]:
        """How alike each output's channels are at one position (:func:`_alike_channels`),
        where the estimate knows it, every bias taken as 0."""
        return self._unbiased[3]

    @functools.cached_property
    def _biased(self) -> tuple[dict[str, float], dict[str, float], dict[str, Sums]]:
        """:func:`estimate` with the biases counted: the same as without where every bias
        starts at 0."""
        if all(bias_moments(info) == (0.0, 0.0) for info in self.layers
               if is_weighted(info.kind)):
            return self._unbiased[:3]
        return estimate(self.layers, biases=True, shares=self.read_shares)

    @property
    def biased_moments(self) -> tuple[dict[str, float], dict[str, float]]:
        """:func:`moments` with the biases counted, as the Signal column counts them."""
        return self._biased[:2]

    @property
    def biased_sums(self) -> dict[str, Sums]:
        """The layers whose values the estimate knows as :class:`Sums`, the biases counted
        (a constant one as the ``offset`` of every sum): what a ReLU after them passes."""
        return self._biased[2]

    @property
    def second_moments(self) -> dict[str, float]:
        """:func:`second_moments`."""
        return self.moments[0]


def second_moments(layers: list[LayerInfo]) -> dict[str, float]:
    """``E[x^2]`` of every layer's output relative to the input's (1), in IR order."""
    return moments(layers)[0]


def moments(layers: list[LayerInfo], biases: bool = False,
            shares: dict[str, float] | None = None
            ) -> tuple[dict[str, float], dict[str, float]]:
    """``E[x^2]`` of every layer's output relative to the input's (1), in IR order, and the
    mean ``E[x]`` of those whose mean the estimate knows (on the same scale): :func:`estimate`'s
    first two."""
    q, means, _ = estimate(layers, biases, shares)
    return q, means


def estimate(layers: list[LayerInfo], biases: bool = False,
             shares: dict[str, float] | None = None
             ) -> tuple[dict[str, float], dict[str, float], dict[str, Sums]]:
    """``E[x^2]`` of every layer's output relative to the input's (1), in IR order, the
    mean ``E[x]`` of those whose mean the estimate knows (on the same scale), and the layers
    whose values it knows as (functions of the largest of) symmetric sums: :class:`Sums`,
    what a max pool takes the largest of. ``biases``: a
    conv or dense layer's biases are added to its sums (:func:`biased_sums`: their mean and
    variance, and what the activation after it passes); else they are taken as 0, as the
    scale warnings take them.

    The bias is on the input's scale, taken as unit mean square: on the spec's data after
    ``standardize``, as the lints that count it read it. ``shares``: the layers'
    :func:`read_shares`, where they are worked out already (:class:`Estimate`)."""
    return _estimated(layers, biases, shares)[:3]


def _estimated(layers: list[LayerInfo], biases: bool, shares: dict[str, float] | None
               ) -> tuple[dict[str, float], dict[str, float], dict[str, Sums],
                          dict[str, float]]:
    """:func:`estimate`'s three, and how alike each output's channels are (where known:
    :func:`_alike_channels`)."""
    q: dict[str, float] = {"input": 1.0}
    sums: dict[str, Sums] = {}  # outputs known as (functions of) symmetric sums
    # outputs whose mean is known, on the same scale as q: the input's 0 (standardized data)
    means: dict[str, float] = {"input": 0.0}
    residuals: dict[str, tuple[Sums, Sums]] = {}  # adds of one rectified input and sums
    # what positions of a channel share, of outputs that are not sums (dropout, upsampling)
    crosses: dict[str, Crosses] = {}
    shares = read_shares(layers) if shares is None else shares
    # how alike the channels of each output are at one position, the correlation of their
    # parts about the mean: 1 for copies of one another (one channel; a fixed kernel alike in
    # every filter), a share for the sums of weights drawn about a mean other than 0 (the
    # mean's part of each filter reads the same values), 0 where not known
    # (:func:`_alike_channels`); the sums of the next kernel that does not sum to 0 add up
    # that part coherently
    alike: dict[str, float] = ({"input": 1.0} if layers and layers[0].input_shapes[0][0] == 1
                               else {})
    # what two channels of an output have in common at each displacement, ``E[x_c(p) x_c'(p +
    # d)]``, where it is carried: after weights drawn about a mean other than 0, whose mean
    # part blurs every channel alike, and the activation after them (:func:`_coherent_sums`);
    # worked out when a layer reads it, as few do
    between: dict[str, Callable[[], Crosses | None]] = {}

    def crosses_of(name: str | None, mean_alone: bool = True) -> Crosses | None:
        """What positions of ``name``'s channels have in common; where only their mean is
        known, its square (``mean_alone``)."""
        if name in crosses:
            return crosses[name]
        found = _sums_crosses(sums.get(name), q.get(name))
        if found is None and mean_alone and name in means:
            return Crosses(q[name], means[name] * means[name])
        return found

    def between_of(name: str) -> tuple[Crosses, float | None]:
        """What two of ``name``'s channels have in common, and None; where it is not carried,
        :func:`_between_channels` and the share of a channel's own it is taken as."""
        found = between[name]() if name in between else None
        if found is not None:
            return found, None
        share = alike.get(name, 0.0)
        return _between_channels(crosses_of(name), q[name], means[name], share), share

    for info in layers:
        ins = [q[name] for name in info.inputs]
        kind = KINDS[info.kind]
        single = info.inputs[0] if len(info.inputs) == 1 else None
        source = sums.get(single)
        if is_weighted(info.kind):
            ew2 = weight_second_moment(info)
            spread = (1.0 if ew2 is None else
                      summed_terms(info) * ew2 * ins[0] * shares[info.name])
            # fixed weights, or drawn about a mean other than 0, weigh what their input's
            # values share (add up its mean, or take it out where they sum to 0); weights
            # drawn about 0, only their squares
            summing = (info.weight_init.sums is not None and single in means
                       and ew2 is not None)
            read = (crosses_of(single), *between_of(single)) if summing else (None,) * 3
            fixed = (_coherent_sums(info, ins[0], means[single], *read, shares[info.name])
                     if summing else None)
            if fixed is not None:
                spread = fixed.second_moment()
            bias_mean, bias_variance = (bias_moments(info) if biases and 0 < spread < math.inf
                                        else (0.0, 0.0))
            if fixed is not None:
                q[info.name] = spread + bias_mean * (bias_mean + 2 * fixed.mean())
                sums[info.name] = biased_sums(fixed.q, fixed.shared,
                                              fixed.mean() + bias_mean, bias_variance,
                                              fixed.near)
                q[info.name] += bias_variance
                means[info.name] = fixed.mean() + bias_mean
                # a drawn bias is each channel's own: that much less alike
                apart = fixed.q / (fixed.q + bias_variance)
                common = _filters_common(info, ins[0], means[single], *read,
                                         shares[info.name], neighbours=False)
                alike[info.name] = apart * _alike_channels(info, fixed, common)
                if common is not None:
                    between[info.name] = functools.cache(functools.partial(
                        _common_crosses, info, ins[0], means[single], *read,
                        shares[info.name], bias_mean))
                continue
            q[info.name] = spread + bias_mean * bias_mean + bias_variance
            # symmetric sums: of weights drawn symmetric about 0, or of an input of mean 0
            # (a fixed kernel's too)
            if ew2 is not None and (info.weight_init.symmetric or means.get(single) == 0):
                found = crosses_of(single)
                shared = (0.0 if found is None or not ins[0]
                          else min(1.0, found.far / ins[0]) * pair_share(info))
                shared, near = _read_near(info, found, shared, ins[0])
                sums[info.name] = biased_sums(spread, shared, bias_mean, bias_variance, near)
                means[info.name] = bias_mean
            continue
        q[info.name] = kind_signal(info.ir, ins, info.input_shapes)
        parts = [sums.get(name) for name in info.inputs]
        joined = (_joined(parts, [shape[0] for shape in info.input_shapes], averaged=True)
                  if info.kind == "concat" else
                  _joined(parts, [1] * len(parts)) if info.kind == "add" else None)
        residual = _residual(parts) if info.kind == "add" else None
        if joined is not None:
            sums[info.name] = joined
        elif residual is not None:
            residuals[info.name] = residual
        elif single in residuals and kind.negative_slope is not None:
            rectified, branch = residuals[single]
            sums[info.name] = _rectified_residual(rectified, branch, kind.negative_slope(info.ir))
        elif kind.family == "norm":
            sums[info.name] = _normed(kind, info, source, ins[0], means.get(single))
            means[info.name] = 0.0
        elif source is not None and not source.function and kind.negative_slope is not None:
            sums[info.name] = Sums(source.q, source.slope * kind.negative_slope(info.ir),
                                   source.k, source.shared, offset=source.offset,
                                   near=source.near)
        elif (source is not None and not source.function and source.slope == 1
              and kind.increasing is not None and math.isfinite(source.q)):
            sums[info.name] = dataclasses.replace(source, function=info.kind)
        elif source is not None and kind.max_of is not None:
            # a window's values alike by what they share on average (equally correlated);
            # a mixed-sign kernel can make neighbours share a negative part, which the model
            # of a common part cannot hold: read as nothing shared, the largest of values
            # drawn apart (a little below the largest of negatively correlated ones)
            shared = _window_mean(source.shared, source.near, _window(info))
            sums[info.name] = dataclasses.replace(
                source, k=source.k * kind.max_of(info.ir, info.input_shapes), near=(),
                shared=max(0.0, shared))
        elif kind.mean_of is not None and (
                (found := crosses_of(single, mean_alone=False)) is not None or single in means):
            if found is not None:
                cross = _window_mean(found.far, found.near, _window(info))
            else:  # what the window's values share: their mean, and a part
                shared = 0.0 if source is None else source.shared
                square = means[single] * means[single]  # inf beyond range, not an error
                cross = square + shared * (ins[0] - square)
            whole, apart = _mean_pool_weights(info)
            q[info.name] = whole * cross + apart * (ins[0] - cross)
            if found is not None and len(info.output_shape) == 3:  # windows far apart
                crosses[info.name] = Crosses(q[info.name], found.far)
        elif kind.cross_signal is not None and (found := crosses_of(single)) is not None:
            crosses[info.name] = Crosses(
                q[info.name], kind.cross_signal(info.ir, found.far),
                tuple((d, kind.cross_signal(info.ir, c)) for d, c in found.near))
        elif kind.resample is not None and (found := crosses_of(single)) is not None:
            crosses[info.name] = _resampled(info, kind, found)
            q[info.name] = crosses[info.name].q
        elif info.kind == "concat" and len(info.output_shape) == 3 and all(
                crosses_of(name) is not None for name in info.inputs):
            crosses[info.name] = _concatenated(
                [crosses_of(name) for name in info.inputs],
                [shape[0] for shape in info.input_shapes], q[info.name])
        if (single in between and info.name in sums and kind.is_activation
                and source.slope == 1 and not source.function):
            between[info.name] = functools.cache(functools.partial(
                _activated_between, sums[info.name], between[single]))
        # an activation, norm or pool of each channel alike keeps them about as alike (a ReLU
        # of sums correlated 0.99 gives values correlated 0.99)
        if single in alike and (kind.is_activation or kind.family == "norm"
                                or kind.max_of is not None or kind.mean_of is not None):
            alike[info.name] = alike[single]
        entry = sums.get(info.name)
        # an increasing function of sums by the integral, not its kind's rule: tanh's 0.394
        # at q = 1 where Owen's form gives 0.418; gelu's and silu's at any q, where their
        # kinds' factors hold at q = 1 (silu's 0.356, 0.49 measured at q = 10: separable.cnn)
        if entry is not None:
            q[info.name] = entry.second_moment()
            means[info.name] = entry.mean()
        elif single in means and (kind.mean_of is not None
                                  or kind.family in ("dropout", "reshape")):
            means[info.name] = means[single]
        elif kind.centre is not None and means.get(single) == 0:
            means[info.name] = kind.centre
    return q, means, sums, alike


@record(frozen=True)
class CoherentSums:
    """The sums of a kernel that adds up its input's mean (:func:`_coherent_sums`): ``q``
    their variance about ``mean`` (a channel's mean, ``mean`` the same in every channel, the
    rest of the channels' means spread in the ``shared`` part of ``q``), ``near`` what two of
    them share at small displacements, where their windows overlap (:data:`Near`)."""

    q: float
    average: float
    shared: float
    near: Near = ()

    def mean(self) -> float:
        return self.average

    def second_moment(self) -> float:
        return self.q + self.average * self.average  # inf, not OverflowError, beyond range


def _coherent_sums(info: LayerInfo, moment: float, mean: float, found: Crosses | None,
                   other: Crosses, alike: float | None, share: float,
                   totals: KernelSums | None = None,
                   square: float | None = None, neighbours: bool = True
                   ) -> CoherentSums | None:
    """The sums of a conv or dense layer whose kernel reads its input's mean, on an input of
    second moment ``moment`` and mean ``mean``: one the spec fixes (``constant(c)``, a box
    filter, a literal, sobel_x), the same whatever the draw, or one drawn about a mean other
    than 0
    (``normal(0.1, 0.01)``, ``uniform(0, 0.1)``, ``positive_unitball``), whose
    :class:`cnnspec.init.info.KernelSums` are the expectations over the draws
    (:func:`cnnspec.init.describe.drawn_sums`). Its sums add the input's mean coherently,
    ``E[z] = sum(w) E[x]`` (a constant 0.1 on 72 inputs: 7.2 x the mean, which after a ReLU
    is not 0), and whatever else its inputs share. For ``z = sum_i w_i x_i``, ``E[z^2] =
    sum_ij E[w_i w_j] E[x_i x_j]``, the weights independent of the input (He et al.'s
    assumption at init); for weights drawn with mean ``mu`` and variance ``s^2`` that is
    ``fan_in s^2 E[x^2] + mu^2 E[(sum_i x_i)^2]``: the spread counts the inputs' squares
    alone, as for weights drawn about 0 (Glorot & Bengio 2010, eq. 5), the mean their sum's
    square, ``fan_in^2 mu^2 E[x]^2`` and more, which needs what the inputs share: ``A(e) =
    E[x_c(p) x_c(p + e)]`` within a channel (``found``; ``far`` its value far apart, its
    window mean over the pairs of distinct taps ``cross``) and ``B(e) = E[x_c(p) x_c'(p +
    e)]`` between two channels (``other``, :func:`_between_channels`; its window mean
    ``B~``; where it is taken as the share ``alike`` of ``A``, not None, the overlaps of the
    two are summed in one pass). Split by which pairs of taps a product meets, with ``n =
    sum(w^2)``:

        E[z^2] = n A(0) + (channels - n) cross + (taps - n) B(0) + (whole - channels - taps
                 + n) B~

    (:class:`cnnspec.init.info.KernelSums`' sums: ``channels`` adds each channel's sum
    squared, ``taps`` each tap's sum over the channels, ``whole`` the filter's). ``B`` is
    carried as a function of ``e`` of its own: what the channels after a kernel drawn about
    a mean share is its mean part's blur of all of them, smooth over the map, where a
    channel's own ``A`` holds the spike at ``e = 0`` of its random part; taking ``B - mean^2``
    as a share of ``A - mean^2`` (one correlation at every displacement) counted too little
    of it between positions apart: 20 to 40 layers of ``normal(0.01, 0.05)`` were up to 8x
    below the engine on 8 channels, 14x on 32, now 0.78x to 1.03x of it without an
    activation (tests/test_check.py's grid of kernel means and stds). ``totals`` and ``square``:
    the kernel's sums and ``E[w^2]``, where not the
    layer's own. The zero padding takes its share (``share``, :func:`read_shares`) of what
    adds apart and its square of what adds coherently, the border sums reading fewer taps.
    Two sums ``d`` apart read the same inputs where their windows overlap: of what adds
    apart, they share the kernel's autocorrelation there (``KernelSums.lags``, ``sum_i w_i
    w_(i+d)``, within each channel over ``A``; ``tap_lags`` less ``lags``, between channels,
    over ``B``), the next layer's windows reading it (:data:`Near`): the first body conv of
    tests/test_check.py's constant stack, reading its stem's ReLU values, within 1.05x of
    the engine, 0.80x when its windows' values were taken as alike only in what their
    channel shares; a conv of ``normal(0.1, 0.01)`` weights after a He-initialised ReLU conv
    (tests/test_check.py's mean_weights.cnn) within 1.05x, where counting ``fan_in *
    E[w^2]`` alone was 6x below. A kernel that sums to 0 (``whole`` 0: sobel_x, laplacian)
    adds up nothing of the mean, and its sums' variance is the same formula's: ``v sum(w^2)``
    on independent inputs of variance ``v``, the mean's square taken out, where ``fan_in
    E[w^2] E[x^2]`` counted it. None for a kernel drawn about 0, one all 0, or a transposed
    conv (its outputs sum different taps)."""
    totals = info.weight_init.sums if totals is None else totals
    square = weight_second_moment(info) if square is None else square
    reach = KINDS[info.kind].reach
    if totals is None or reach is None:
        return None
    reads = reach(info.ir, info.input_shapes[0])
    if reads.window is not None and reads.stride is None:
        return None
    far = mean * mean if found is None else found.far
    windowed = (reads.window is not None and tuple(info.ir["dilation"]) == (1, 1))
    kernel = tuple(info.ir["kernel"]) if windowed else None
    cross = (_window_mean(far, found.near, kernel) if found is not None and windowed
             else far)
    other_cross = _window_mean(other.far, other.near, kernel) if windowed else other.far
    # the parts apart from the mean, within what they can be: a mean far above the spread (a
    # deep stack of such kernels) leaves their difference to rounding
    own, common = max(0.0, moment - cross), _window_common(cross, moment, mean, kernel)
    other_own = max(0.0, other.q - other_cross)
    other_common = _window_common(other_cross, other.q, mean, kernel)
    channel_far, other_far = max(0.0, far - mean * mean), max(0.0, other.far - mean * mean)
    squares = summed_terms(info) * square
    # filters' sums apart
    spread_of_means = (totals.whole - totals.mean * totals.mean) * mean * mean
    apart = squares * own + (totals.taps - squares) * other_own
    together = (totals.channels * common + (totals.whole - totals.channels) * other_common
                + _lag_weighted(kernel, totals, squares, found, cross, other, other_cross))
    far_part = totals.channels * channel_far + (totals.whole - totals.channels) * other_far
    average = share * totals.mean * mean
    variance = share * apart + share * share * (together + spread_of_means)
    if not 0 < variance < math.inf:
        # all its values one number but for rounding: as sums of that mean, of a spread
        # below floating point's resolution of it
        variance = average * 1e-16 * average * 1e-16  # inf past float64, where ** raises
        if not 0 < variance < math.inf:
            return None
    shared = min(1.0, max(0.0, share * share * (far_part + spread_of_means) / variance))
    if reads.window is None or not neighbours:  # a dense layer's outputs have none
        return CoherentSums(variance, average, shared)
    lags_between = _between_lags(totals, squares)
    lags = {(0, 0): squares, **dict(totals.lags)}
    if alike is not None:  # B - mean^2 a share of A - mean^2: their lags added up by it
        lags = {d: lags.get(d, 0.0) + alike * lag for d, lag in lags_between.items()}
    white, correlated = _overlaps(info, reads.stride, found, far, cross - far, lags)
    # channels alike in their mean only share nothing beyond it at any displacement (and a
    # kernel of one input channel has no pairs of channels)
    white_between, correlated_between = (
        _overlaps(info, reads.stride, other, other.far, other_cross - other.far, lags_between)
        if alike is None and (other_own or other.q != mean * mean)
        and any(lags_between.values()) else ({}, {}))
    # a correlation, within [-1, 1] but for rounding where the variance is far below the
    # mean's square (a kernel of mixed signs whose sum nearly cancels the mean it reads)
    near = tuple((d, min(1.0, max(-1.0, shared + (
        share * (white.get(d, 0.0) * own + white_between.get(d, 0.0) * other_own)
        + share * share * (correlated.get(d, 0.0) + correlated_between.get(d, 0.0)))
        / variance)))
        for d in sorted({*white, *correlated, *white_between, *correlated_between}))
    return CoherentSums(variance, average, shared, tuple((d, rho) for d, rho in near
                                                      if rho != shared))


def _window_common(cross: float, moment: float, mean: float,
                   kernel: tuple[int, int] | None) -> float:
    """What the pairs of distinct taps of a window share beyond the mean's square, on
    average (``cross - mean^2``): below 0 where a kernel of mixed signs left neighbours
    opposite in sign, but not below ``-(moment - mean^2) / (taps - 1)``, where the variance of
    the window's sum, ``taps (moment - mean^2) + taps (taps - 1) (cross - mean^2)``, is 0;
    at least 0 for positions taken far apart (``kernel`` None)."""
    taps = math.prod(kernel) if kernel is not None else 1
    low = -max(0.0, moment - mean * mean) / (taps - 1) if taps > 1 else 0.0
    return max(low, cross - mean * mean)


def _lag_weighted(kernel: tuple[int, int] | None, totals: KernelSums, squares: float,
                  found: Crosses | None, cross: float, other: Crosses, other_cross: float
                  ) -> float:
    """What the pairs of a kernel's distinct taps add to its sums' second moment beyond the
    window mean ``cross`` (``other_cross`` between channels) that :func:`_coherent_sums` weighs
    them all by: ``sum_(i != j) w_i w_j E[x_i x_j] = sum_(e != 0) L(e) A(e)``, the kernel's
    autocorrelation ``L`` (``KernelSums.lags``; between channels :func:`_between_lags`) over
    what the inputs share at each displacement ``e`` (the second moment of a linear map of
    its inputs, ``w^T Sigma w``; the covariance map of Xiao et al. 2018, eq. 2.6, at the sums'
    own position), which is ``(sum(w)^2 - sum(w^2)) cross`` plus ``sum_(e != 0) L(e) (A(e) -
    cross)``: this. 0 for a kernel drawn about a mean or a constant one, whose ``L(e)`` is one
    number times the pairs ``e`` apart that the window mean counts; not 0 for a kernel of
    mixed signs, whose products of taps one apart (an edge and a corner) and two apart (two
    corners) differ in sign, each meeting what its inputs share there. Ten 3x3 layers of
    ``[[0.3,-0.2,0.3],[-0.2,-0.5,-0.2],[0.3,-0.2,0.3]]`` after ReLUs, their values alike two
    apart and opposite one apart, were estimated to halve the scale a layer (260x below the
    engine at the tenth) where it holds. None of it where a dilated kernel's pairs read
    inputs further apart than ``e``, or a kernel wider than the lags kept
    (:data:`cnnspec.init.info.LAG_REACH`) leaves some pairs unknown."""
    if kernel is None or max(kernel) > LAG_REACH:
        return 0.0
    own = _lag_excess(totals.lags, found, cross) if found is not None else 0.0
    between = _lag_excess(tuple(_between_lags(totals, squares).items()), other, other_cross)
    return own + between


def _lag_excess(lags: Near, shared: Crosses, cross: float) -> float:
    """``sum_(e != 0) L(e) (A(e) - cross)`` over every displacement ``e`` of a kernel's taps,
    ``lags`` keeping one ``(dy, dx)`` (both at least 0) for the four ``(+-dy, +-dx)``
    (:class:`cnnspec.init.info.KernelSums`), ``shared`` keyed alike (:meth:`Crosses.at`)."""
    return sum((2 if dy else 1) * (2 if dx else 1) * lag * (shared.at(dy, dx) - cross)
               for (dy, dx), lag in lags if dy or dx)


def _between_lags(totals: KernelSums, squares: float) -> dict[tuple[int, int], float]:
    """A kernel's autocorrelation between its input channels (``sum_(c != c') sum_i w_ci
    w_c'(i+d)``): over the channels summed at each tap (``KernelSums.tap_lags``, ``taps`` at
    0) less within each channel (``lags``, ``squares`` at 0)."""
    within, summed = dict(totals.lags), dict(totals.tap_lags)
    return {(0, 0): totals.taps - squares,
            **{d: summed.get(d, 0.0) - within.get(d, 0.0) for d in {*within, *summed}}}


def _between_channels(found: Crosses | None, moment: float, mean: float, alike: float
                      ) -> Crosses:
    """``B(e) = E[x_c(p) x_c'(p + e)]`` for two channels ``c != c'`` where it is not carried
    (:func:`_estimated`'s ``between``): their parts about the mean correlated ``alike`` at
    every displacement, as each channel's own positions are (``found``, of second moment
    ``moment``): 1 for copies of one another, 0 for channels alike in their mean only."""
    square = mean * mean
    if found is None:
        return Crosses(square + alike * (moment - square), square)
    return Crosses(square + alike * (moment - square), square + alike * (found.far - square),
                   tuple((d, square + alike * (c - square)) for d, c in found.near))


# How far apart (in rows and in columns) two positions of a map may be for the estimate to
# carry what they share beyond what their channel shares (:func:`_overlaps`): a deep stack of
# kernels that do not sum to 0 makes positions alike ever further apart, a blur's reach
# growing by its kernel's each layer; wider, they are taken as alike as any two of the channel.
NEAR_REACH = 16

# The most displacements ``(dy, dx)`` a map's :data:`Near` carries: an upsampling by ``s``, a
# transposed conv of stride ``s`` and a padded conv of an ``s x s`` kernel each make about
# ``s`` displacements along an axis differ from what the channel shares, ``s^2`` of them in
# all, which every layer after carries (``upsample 1000``: a million, 16 s and 700 MB in
# ``summary``). Past it the farther ones are taken as alike as any two of the channel: on an
# 8x8 input upsampled 1024x1024 then convolved, the global mean pool's estimate moves from
# 0.648 to 0.645 (the window's pairs read beyond 256 apart share little more than the
# channel); 2^16 of them, about 0.3 s a layer in Python.
NEAR_BUDGET = 2 ** 16


def _near_extent(rows: int, columns: int) -> tuple[int, int]:
    """How many displacements along each axis (0 among them) a :data:`Near` of ``rows`` by
    ``columns`` keeps within :data:`NEAR_BUDGET`: all where they fit; else a short axis's
    all and as many of the other's as fit beside them (an upsampling along one axis), or
    the budget's square root of each."""
    if rows * columns <= NEAR_BUDGET:
        return rows, columns
    side = math.isqrt(NEAR_BUDGET)
    if columns <= side:
        return NEAR_BUDGET // columns, columns
    if rows <= side:
        return rows, NEAR_BUDGET // rows
    return side, side


def _overlaps(info: LayerInfo, stride: tuple[int, int], found: Crosses | None, far: float,
              level: float, autocorrelation: dict[tuple[int, int], float]
              ) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]]:
    """What two sums of a kernel that does not sum to 0 share ``d`` apart beyond what their
    channel does, from its ``autocorrelation`` (``L(e) = sum_i w_i w_(i+e)`` over the taps
    ``e`` apart, :class:`cnnspec.init.info.KernelSums`' lags, ``L(0)`` its squares):
    ``E[z_p z_(p+d)] = sum_e L(e) E[x_q x_(q + s d + r e)]`` for stride ``s`` and dilation
    ``r`` (weights independent of the input, He et al.'s assumption; the covariance map of
    Xiao et al. 2018, eq. 2.6, here with the taps' cross terms a mean other than 0 keeps).
    Two parts: ``white``, the coefficient of what each input position holds alone (where the
    two windows read one position through taps ``e = -s d / r`` apart), and ``correlated``,
    the kernel's autocorrelation over what the input's positions share beyond ``far`` (their
    excess at each displacement, ``found``'s near, ``level`` at 0: what a window's positions
    share on average, the rest of a position's moment being its own). So a blur's sums are
    alike as far apart as its reach and its input's together: each layer's reach grows by its
    kernel's, up to the map's size and :data:`NEAR_REACH`, where carrying only
    :data:`cnnspec.init.info.LAG_REACH` lost what 20 layers of ``uniform(0, 0.2)`` without an
    activation build up (their scale 1e5x below the engine's at 16x16)."""
    excess = {d: c - far for d, c in found.near} if found is not None else {}
    excess[(0, 0)] = level
    diagonal = autocorrelation.get((0, 0), 0.0)
    lags = tuple(sorted((d, lag) for d, lag in autocorrelation.items() if d != (0, 0)))
    white, correlated, reach = _lag_overlaps(
        tuple(stride), tuple(info.ir["dilation"]), tuple(info.output_shape[1:]),
        tuple(sorted(excess.items())), lags)
    if not diagonal:
        return white, correlated
    # a tap with itself: the input's excess at the sums' own displacement
    (sh, sw), correlated = stride, dict(correlated)
    for dy in range(reach[0] + 1):
        for dx in range(reach[1] + 1):
            value = excess.get((dy * sh, dx * sw), 0.0) if dy or dx else 0.0
            if value:
                correlated[(dy, dx)] = correlated.get((dy, dx), 0.0) + diagonal * value
    return white, correlated


@functools.lru_cache(maxsize=1024)
def _lag_overlaps(stride: tuple[int, int], dilation: tuple[int, int], out: tuple[int, int],
                  excess: Near, lags: Near
                  ) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float],
                             tuple[int, int]]:
    """:func:`_overlaps`' sums over the pairs of distinct taps (``lags``: the
    autocorrelation but at 0), and how far apart it reaches: worked out once for a kernel
    and what its sums share with another filter's (:func:`_filters_common`), whose lags a
    kernel of weights drawn about a mean has the same."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out
    kernel_rows = dh * max((dy for (dy, _), _ in lags), default=0)
    kernel_columns = dw * max((dx for (_, dx), _ in lags), default=0)
    reach = (min(ho - 1, NEAR_REACH, (max(dy for (dy, _), _ in excess) + kernel_rows) // sh),
             min(wo - 1, NEAR_REACH, (max(dx for (_, dx), _ in excess) + kernel_columns) // sw))
    # the input's excess at every displacement a tap reaches, 0 where nothing is carried
    table = [[0.0] * (sw * reach[1] + kernel_columns + 1)
             for _ in range(sh * reach[0] + kernel_rows + 1)]
    for (dy, dx), value in excess:
        if dy < len(table) and dx < len(table[0]):
            table[dy][dx] = value
    taps: dict[int, list[tuple[int, float]]] = {}  # each row of taps: its columns' lags
    for (dy, dx), lag in lags:
        for ey in {dy, -dy}:
            taps.setdefault(ey * dh, []).extend((ex * dw, lag) for ex in {dx, -dx} if lag)
    autocorrelation = dict(lags)
    white: dict[tuple[int, int], float] = {}
    correlated: dict[tuple[int, int], float] = {}
    for dy in range(reach[0] + 1):
        y = dy * sh
        rows = [(table[abs(y + ey)], columns) for ey, columns in taps.items()]
        for dx in range(reach[1] + 1):
            if not dy and not dx:
                continue
            x = dx * sw
            total = sum(lag * row[abs(x + ex)] for row, columns in rows for ex, lag in columns)
            if total:
                correlated[(dy, dx)] = total
            if y % dh == 0 and x % dw == 0:
                white[(dy, dx)] = autocorrelation.get((y // dh, x // dw), 0.0)
    return white, correlated, reach


def _filters_common(info: LayerInfo, moment: float, mean: float, found: Crosses | None,
                    other: Crosses, alike: float | None, share: float,
                    neighbours: bool = True
                    ) -> CoherentSums | None:
    """What the sums of two filters of a layer of weights drawn about a mean ``mu`` have in
    common: each filter is ``mu`` everywhere plus its own spread, drawn apart from the other's,
    so ``E[w_fi w_f'j] = mu^2`` for every pair of their taps and ``E[z_f(p) z_f'(p + d)]`` is
    the second moment of the sums of a kernel of ``mu`` alone, read as :func:`_coherent_sums`
    reads the layer's (with what those sums share ``d`` apart, unless not ``neighbours``).
    None for a fixed kernel."""
    init = info.weight_init
    if not init.random:
        return None
    return _coherent_sums(info, moment, mean, found, other, alike, share,
                          drawn_sums(init.mean, 0.0, info.weight_shape), init.mean * init.mean,
                          neighbours)


def _alike_channels(info: LayerInfo, sums: CoherentSums, common: CoherentSums | None
                    ) -> float:
    """How alike the channels of a weighted layer's ``sums`` (:func:`_coherent_sums`) are at
    one position: the correlation of two filters' sums about their mean. 1 for a fixed
    kernel alike in every filter (copies), 0 for other fixed ones (not worked out). For
    weights drawn about a mean, the variance of what two filters' sums have in common
    (``common``, :func:`_filters_common`) over the sums' variance. N(0.05, 0.001^2) on
    Gaussian images: 0.9996, the next such layer adding up its channels nearly as copies."""
    init = info.weight_init
    if not init.random:
        return 1.0 if 0 in init.alike_axes else 0.0
    if common is None or not 0 < sums.q < math.inf:
        return 0.0
    return min(1.0, common.q / sums.q)


def _common_crosses(info: LayerInfo, moment: float, mean: float, found: Crosses | None,
                    other: Crosses, alike: float | None, share: float, bias_mean: float
                    ) -> Crosses | None:
    """``B(d) = E[z_f(p) z_f'(p + d)]`` of two filters' sums (:func:`_filters_common`, its
    arguments) shifted by a constant bias of ``bias_mean``; a drawn bias is each channel's
    own, which adds nothing to it."""
    common = _filters_common(info, moment, mean, found, other, alike, share)
    if common is None:
        return None
    shift = bias_mean * (bias_mean + 2 * common.average)
    base = common.average * common.average + shift
    return Crosses(common.q + base, common.shared * common.q + base,
                   tuple((d, rho * common.q + base) for d, rho in common.near))


def _activated_between(values: Sums, source: Callable[[], Crosses | None]
                       ) -> Crosses | None:
    """``B(d)`` of an activation's values ``values`` (:class:`Sums` of one sum each, ``f`` of
    ``sqrt(q) (Z + offset)``) from that of the sums it reads (``source``'s): two channels'
    sums are jointly normal with the correlation ``(B(d) - mean^2) / q``, the same pairs'
    function of it as two positions of one channel have (the arc-cosine kernel of Cho & Saul
    2009 for a ReLU, shifted by the sums' mean; an integral for tanh: :func:`_sums_crosses`).
    None for values that are not one sum each (a max pool's largest), or where the sums' is
    not carried."""
    if values.k != 1 or not 0 < values.q < math.inf:
        return None
    between = source()
    if between is None:
        return None
    square = values.q * values.offset * values.offset  # the sums' mean, squared

    def correlation(cross: float) -> float:
        return min(1.0, max(0.0, (cross - square) / values.q))

    shared = dataclasses.replace(values, shared=correlation(between.far), near=(
        ((0, 0), correlation(between.q)),
        *((d, correlation(c)) for d, c in between.near)))
    found = _sums_crosses(shared, values.second_moment())
    if found is None:
        return None
    near = dict(found.near)
    return Crosses(near.pop((0, 0), found.far), found.far, tuple(sorted(near.items())))


def _sums_crosses(source: Sums | None, moment: float | None) -> Crosses | None:
    """What positions of a channel of values of second moment ``moment`` have in common where
    they are (functions of) :class:`Sums` whose :func:`cross_moment` is known: at a small
    displacement the same function of the sums' correlation there (their :data:`Near`)."""
    far = cross_moment(source, None)
    if far is None or moment is None:
        return None
    # in closed form at each displacement's correlation, but for a bias's shift at many: one
    # integral each then, where the series below is one for all
    if _one_piecewise_sum(source) and (not source.offset or len(source.near) <= FEW_NEAR):
        near = ((d, _piecewise_cross(source, rho)) for d, rho in source.near)
        return Crosses(moment, far, tuple((d, c) for d, c in near if c is not None))
    if len(source.near) > FEW_NEAR:  # many displacements: a sum each, not an integral
        series = _cross_series(source)
        if series is not None:
            at_far = series.at(source.shared)
            return Crosses(moment, far, tuple((d, far + series.at(rho) - at_far)
                                              for d, rho in source.near))
    near = ((d, cross_moment(dataclasses.replace(source, shared=rho), None))
            for d, rho in source.near)
    return Crosses(moment, far, tuple((d, c) for d, c in near if c is not None))


# Up to this many displacements of a channel's sums, each's cross moment is integrated on
# its own (:func:`cross_moment`); more (a deep blur's: :func:`_overlaps`) are read off one
# series (:func:`_cross_series`), an integral being about a millisecond.
FEW_NEAR = 8
# Hermite terms of :class:`CrossSeries`: past them, its tail's two moments stand in for them.
HERMITE_TERMS = 24


@record(frozen=True)
class CrossSeries:
    """``E[g(Z) g(Z')]`` for standard normals ``Z, Z'`` of correlation ``rho`` as Mehler's
    series ``sum_n b_n^2 rho^n`` (``b_n = E[g(Z) He_n(Z)] / sqrt(n!)``, the normalised
    Hermite coefficients of ``g``; O'Donnell, "Analysis of Boolean Functions", 2014, §11.2),
    times ``scale``; past its ``squares`` the tail ``rest * rho^power``, whose value and slope
    at ``rho = 1`` are the series' (``E[g^2]`` and ``E[g'^2]``, Price's theorem, less the
    terms kept): exact at 0 and 1 for any ``g``; below 0, 0. Against the integral
    (:func:`function_cross`), a tanh of sums of q = 1 within 4e-5 at every correlation; of q
    = 10, within 2e-3 up to 0.9 and 2e-2 at 0.99, where its saturated values' series converges
    slowly; a ReLU of sums shifted by half their std (:func:`_shifted_cross`) within 1.1e-3."""

    squares: tuple[float, ...]
    rest: float
    power: float
    scale: float

    def at(self, rho: float) -> float:
        total, term = 0.0, 1.0
        for square in self.squares:
            total += square * term
            term *= rho
        # at a negative correlation (a kernel of mixed signs, at a displacement) the tail's
        # terms alternate in sign: taken as 0, at most rest |rho|^power either way
        tail = self.rest * rho ** self.power if rho >= 0 else 0.0
        return self.scale * (total + tail)


def _cross_series(source: Sums) -> CrossSeries | None:
    """:class:`CrossSeries` of a channel's values of one sum each (``k = 1``) where their
    cross moment is an integral: a function's (with the divisor of a norm after it), or
    piecewise-linear values of sums shifted by a bias's offset; None for a max pool's largest,
    a scale beyond floating point's range, or sums whose arc-cosine kernel is in closed form
    (:func:`cross_moment`)."""
    if source.k != 1 or not math.isfinite(source.q) or source.shift \
            or not (source.function or source.offset):
        return None
    if source.function:
        return dataclasses.replace(_hermite_series(source.function, math.sqrt(source.q),
                                                   source.offset),
                                   scale=1 / source.divisor ** 2)
    return dataclasses.replace(_hermite_series("", 1.0, source.offset, source.slope),
                               scale=source.q)


@functools.lru_cache(maxsize=1024)
def _hermite_series(function: str, scale: float, offset: float, slope: float = 1.0
                    ) -> CrossSeries:
    """:class:`CrossSeries` of ``g(z) = f(scale (z + offset))`` (its ``scale`` 1), ``f`` the
    increasing function of the activation kind ``function``, or where that is "" the identity
    above 0 and ``slope`` times it below; by Simpson's rule over a normal's density as
    :func:`largest_of_function`, the Hermite polynomials by their recurrence ``h_(n+1) = (z
    h_n - sqrt(n) h_(n-1)) / sqrt(n + 1)``."""
    if function:
        f, derivative = KINDS[function].increasing, KINDS[function].derivative
    else:
        def f(y: float) -> float:
            return y if y > 0 else slope * y

        def derivative(y: float) -> float:
            return 1.0 if y > 0 else slope
    coefficients = [0.0] * (HERMITE_TERMS + 1)
    square = slope_square = 0.0
    for z, weight in _largest_points(1, -12.0, 12.0, 240):
        value = f(scale * (z + offset))
        square += weight * value * value
        if derivative is not None:
            slope_square += weight * (scale * derivative(scale * (z + offset))) ** 2
        previous, current = 0.0, 1.0
        for n in range(HERMITE_TERMS + 1):
            coefficients[n] += weight * value * current
            previous, current = current, (z * current - math.sqrt(n) * previous) / math.sqrt(n + 1)
    squares = tuple(c * c for c in coefficients)
    rest = max(0.0, square - sum(squares))
    beyond = slope_square - sum(n * b for n, b in enumerate(squares))
    power = HERMITE_TERMS + 1
    if derivative is not None and rest > 0:
        power = max(power, beyond / rest)
    return CrossSeries(squares, rest, power, 1.0)


def _read_near(info: LayerInfo, found: Crosses | None, shared: float, moment: float
               ) -> tuple[float, Near]:
    """What a conv's sums share, over all of a channel (``shared``, of its input's cross
    moment far apart) and with neighbours (:data:`Near`), from what its input's positions have
    in common (``found``, of second moment ``moment``). Two sums read the input through the
    same taps of independent weights: a conv's sums ``d`` apart are as alike as its inputs
    ``stride * d`` apart (He et al.'s independence, the covariance map of Xiao et al. 2018,
    eq. 2.6, away from the borders); at the borders a padded conv's outputs ``d`` apart
    keep :func:`pair_share` at ``d`` of it, which for neighbours is nearly all (what a max
    pool's window reads) where outputs far apart keep less (``shared``). A transposed conv's
    outputs read the same taps only a
    whole stride apart (``d = stride * D``: as alike as the inputs ``D`` apart); other pairs
    meet different taps, independent at init however much their patches overlap, so of all
    pairs of a channel ``1 / (sh * sw)`` share what the input shares: its share of ``shared``
    (a ReLU's values then share about as much as the mean over pairs, the arc-cosine kernel
    being nearly linear below 1/2)."""
    reach = KINDS[info.kind].reach
    # a fixed kernel's taps are not independent: what its sums share is left as it was
    if len(info.output_shape) != 3 or reach is None or not info.weight_init.random:
        return shared, ()
    strided = reach(info.ir, info.input_shapes[0]).stride
    if found is None and strided is not None:
        return shared, ()
    rows, columns = (max((d[axis] for d, _ in found.near), default=0) if found else 0
                     for axis in (0, 1))

    def correlation(dy: int, dx: int) -> float:
        if found is None:
            return shared
        return min(1.0, found.at(dy, dx) / moment) if moment else 0.0

    if strided is not None:  # a conv: outputs d apart read inputs stride * d apart
        (sh, sw), (_, ho, wo) = strided, info.output_shape
        apart = {(dy // sh, dx // sw) for (dy, dx), _ in found.near
                 if dy % sh == 0 and dx % sw == 0}
        if _padded(info):
            # neighbours keep what pairs far apart lose at the borders (pair_share): what the
            # window of a pool after it reads, taken up to the kernel's size (the 2x2 and 3x3
            # pools after 3x3 convs), and to the output's size, past which no pair is read (a
            # kernel of 10^7 taps made as many pairs, seconds and gigabytes, on a 5x5 map)
            kh, kw = _near_extent(min(info.ir["kernel"][0], ho), min(info.ir["kernel"][1], wo))
            apart |= {(dy, dx) for dy in range(kh) for dx in range(kw) if dy or dx}
        near = [(d, correlation(d[0] * sh, d[1] * sw) * pair_share(info, d))
                for d in sorted(apart) if d[0] < ho and d[1] < wo]
        return shared, tuple((d, rho) for d, rho in near if rho != shared)
    (sh, sw), (_, ho, wo) = info.ir["stride"], info.output_shape
    spread = shared / (sh * sw)
    # within the output: a stride of 10^6 on a 1x1 map made 10^12 pairs of a 3x3 output
    extent = _near_extent(min(sh * (rows + 1), ho), min(sw * (columns + 1), wo))
    near = [((dy, dx), correlation(dy // sh, dx // sw) if dy % sh == dx % sw == 0 else 0.0)
            for dy in range(extent[0]) for dx in range(extent[1]) if dy or dx]
    return spread, tuple((d, rho) for d, rho in near if rho != spread)


def _window(info: LayerInfo) -> tuple[int, int]:
    """The rows and columns of a pool's window: its size, or a global pool's whole map."""
    return tuple(info.ir["size"]) if "size" in info.ir else tuple(info.input_shapes[0][1:])


def _window_mean(far: float, near: Near, window: tuple[int, int]) -> float:
    """The mean over the pairs of distinct positions of an ``a x b`` window of what they have
    in common: ``far``, but at the displacements of ``near``, each met by ``(a - dy) (b -
    dx)`` pairs either way along each axis."""
    a, b = window
    pairs = a * b * (a * b - 1)
    if not near or not pairs:
        return far
    extra = sum((2 if dy else 1) * (2 if dx else 1) * (a - dy) * (b - dx) * (value - far)
                for (dy, dx), value in near if dy < a and dx < b)
    return far + extra / pairs


def _resampled(info: LayerInfo, kind, found: Crosses) -> Crosses:
    """What positions of an upsampling's output have in common, and its second moment: each
    output is a fixed mix ``sum_i a_i x_i`` of input pixels (``Kind.resample``), so two of
    them ``d`` apart have ``E[z z'] = sum a_i a'_j E[x_i x_j]`` in common, axis by axis the
    weights of the input pairs ``D`` apart averaged over the outputs (:func:`_pair_weights`).
    Nearest upsampling by ``s`` copies each value to ``s x s`` outputs: outputs ``d`` apart
    along an axis are copies for ``1 - d / s`` of the pairs (``d < s``), which a conv after
    it keeps (:func:`_read_near`) and a mean pool reads; bilinear's ``1/4, 3/4`` mixes
    (factor 2) keep ``5/8`` of an axis's variance where neighbours are independent, all of
    it where they are alike, and spread what they share over ``2 s`` outputs."""
    (_, h, w), (_, ho, wo) = info.input_shapes[0], info.output_shape
    rows, columns = (
        _pair_weights(functools.partial(kind.resample, info.ir, axis), size,
                      max((d[axis] for d, _ in found.near), default=0), min(out, NEAR_BUDGET))
        for axis, size, out in ((0, h, ho), (1, w, wo)))
    apart = {(0, 0)} | {d for d, _ in found.near}  # where the input's pairs differ from far

    def cross(dy: int, dx: int) -> float:
        return found.far + sum(
            weight_y * weight_x * (found.at(y, x) - found.far)
            for y, weight_y in rows[dy].items() for x, weight_x in columns[dx].items()
            if (y, x) in apart)

    extent = _near_extent(len(rows), len(columns))
    near = (((dy, dx), cross(dy, dx)) for dy in range(extent[0]) for dx in range(extent[1])
            if dy or dx)
    return Crosses(cross(0, 0), found.far, tuple((d, c) for d, c in near if c != found.far))


def _pair_weights(resample: Callable[[int], tuple], size: int, reach: int, limit: int
                  ) -> list[dict[int, float]]:
    """Along one axis of ``size`` pixels of an upsampling (``resample``: each output's input
    pixels and weights on an axis of so many pixels), for outputs ``d = 0, 1, ...`` apart:
    the weight ``a_i a'_j`` of the input pairs ``|i - j| = D`` apart, summed over each output
    pair's reads and averaged over the pairs; ``d`` up to where no pair is ``reach`` or fewer
    apart, and below ``limit``. An upsampling by ``s`` repeats one pattern of ``s`` outputs
    along the axis, each pixel more adding the same pairs at every ``d`` the tables reach
    (below ``s (reach + 2)``, where the pairs are more than ``reach`` apart): past
    :data:`PAIR_PIXELS` beyond ``reach`` the sums are those of a short axis and that
    pixel's share times the pixels more (the share: what one pixel adds to the short axis's
    sums). Summed over every output, 10^5 rows upsampled 20 times took minutes."""
    short = reach + PAIR_PIXELS
    if size <= short + 1:
        reads = resample(size)
        sums, length = _pair_sums(reads, reach, limit), len(reads)
    else:
        reads = resample(short)  # each output's reads: as long as the axis times the factor
        first = _pair_sums(reads, reach, limit)
        second = _pair_sums(resample(short + 1), reach, limit)
        more = size - short
        sums = [{pair: one.get(pair, 0.0) + more * (two[pair] - one.get(pair, 0.0))
                 for pair in two} for one, two in zip(first, second)]
        length = size * (len(reads) // short)
    return [{pair: total / (length - d) for pair, total in table.items()}
            for d, table in enumerate(sums[:max(0, min(limit, length))])]


# Input pixels, beyond the farthest apart that :func:`_pair_weights` carries, of the short
# axes its sums are worked out on: the pairs of outputs it sums are less than ``reach + 2``
# pixels apart, and an axis's first and last pixel (bilinear's clamped halves) stay apart
# from each other by the rest.
PAIR_PIXELS = 8


@functools.lru_cache(maxsize=16)
def _pair_sums(reads: tuple, reach: int, limit: int) -> list[dict[int, float]]:
    """:func:`_pair_weights` of ``reads`` summed over the pairs, not averaged. Summed run by
    run (:func:`_affine_runs`): an upsampling by ``s`` reaches ``d`` of about ``s (reach +
    1)``, each of which summed over every output took ``s^2`` times the input's size (4000x1
    on 8 rows, minutes)."""
    runs = _affine_runs(reads)
    starts = [start for start, _, _ in runs]
    tables = []
    for d in range(min(len(reads), limit)):
        table: dict[int, float] = {}
        for first in runs:
            # the runs that the outputs d after ``first``'s fall in
            index = bisect.bisect_right(starts, first[0] + d) - 1
            while index < len(runs) and runs[index][0] < first[1] + d:
                _add_run_pairs(table, first, runs[index], d)
                index += 1
        if min(table) > reach:
            break
        tables.append(table)
    return tables


# How far (in weight) a run's outputs may read from the straight line through its first two
# before the run ends: the reads' weights are fractions from one division each (bilinear's
# ``source - low``), whose rounding a line through two of them follows to about 1e-16 per
# output, so 1e-9 keeps runs of millions of outputs whole and still ends one at any true bend.
AFFINE_TOLERANCE = 1e-9


def _affine_runs(reads: tuple) -> list[tuple[int, int, tuple[tuple[int, float, float], ...]]]:
    """``reads`` as runs of consecutive outputs ``[start, stop)`` that read the same input
    pixels with weights on a line: ``(start, stop, ((pixel, weight at start, step), ...))``.
    Nearest upsampling is one run per input pixel, bilinear about two (the mix moves on
    between pixel centres)."""
    runs = []
    start = 0
    while start < len(reads):
        pixels = [i for i, _ in reads[start]]
        after = reads[start + 1] if start + 1 < len(reads) else ()
        steps = ([b - a for (_, a), (_, b) in zip(reads[start], after)]
                 if [i for i, _ in after] == pixels else [0.0] * len(pixels))
        stop = start + 1
        while stop < len(reads) and [i for i, _ in reads[stop]] == pixels and all(
                abs(weight - (a + step * (stop - start))) <= AFFINE_TOLERANCE
                for (_, weight), (_, a), step in zip(reads[stop], reads[start], steps)):
            stop += 1
        runs.append((start, stop, tuple((i, a, step)
                                        for (i, a), step in zip(reads[start], steps))))
        start = stop
    return runs


def _add_run_pairs(table: dict[int, float], first: tuple, second: tuple, d: int) -> None:
    """Add to ``table`` (:func:`_pair_weights`') the pairs of outputs ``y`` of run ``first``
    and ``y + d`` of run ``second``: for each pixel ``i`` of the one and ``j`` of the other,
    ``sum_y a(y) b(y + d)`` of their weights (lines in ``y``) in closed form."""
    (start, stop, reads), (other, other_stop, other_reads) = first, second
    low, high = max(start, other - d), min(stop, other_stop - d)
    if low >= high:
        return
    # over t = y - start in [low - start, high - start): sums of 1, t and t^2
    p, q = low - start, high - start
    count = q - p
    linear = (q * (q - 1) - p * (p - 1)) // 2
    square = ((q - 1) * q * (2 * q - 1) - (p - 1) * p * (2 * p - 1)) // 6
    shift = start + d - other  # the second run's t at the first's t = 0
    for i, a, step in reads:
        for j, b, other_step in other_reads:
            b0 = b + other_step * shift
            total = (a * b0 * count + (a * other_step + step * b0) * linear
                     + step * other_step * square)
            table[abs(i - j)] = table.get(abs(i - j), 0.0) + total


def _concatenated(parts: list[Crosses], channels: list[int], moment: float) -> Crosses:
    """A concat's channels have in common what each input's have: their mean over the
    channels."""
    total = sum(channels)
    near = sorted({d for part in parts for d, _ in part.near})
    return Crosses(moment, sum(c * part.far for c, part in zip(channels, parts)) / total,
                   tuple((d, sum(c * part.at(*d) for c, part in zip(channels, parts)) / total)
                         for d in near))


def _joined(parts: list[Sums | None], weights: list[int], averaged: bool = False
            ) -> Sums | None:
    """A merge of inputs that are all sums alike but in their scale (the same slope, window
    and function, no bias's offset) as one :class:`Sums`: an ``add``'s (``weights`` 1) of
    symmetric sums (slope 1, one each) is their sum, independent normals whose variances
    and shared variances add; a concat's channels (``weights`` their counts, ``averaged``)
    the mean over the channels of their variances and shared variances (a max pool or
    activation after it then reads the channels of each input as that one's, to the first
    order in the spread of their scales; x_detector.cnn's pool after a fixed kernel's 1
    channel and a learned conv's 7 within 1.02x of the engine, where it kept the scale,
    0.6x). None where they differ."""
    if len(parts) < 2 or any(p is None or p.offset for p in parts):
        return None
    first = parts[0]
    if any((p.slope, p.k, p.function, p.shift, p.divisor)
           != (first.slope, first.k, first.function, first.shift, first.divisor)
           for p in parts) or (not averaged and (first.slope, first.k, first.function)
                               != (1.0, 1, "")):
        return None
    total = sum(weights) if averaged else 1
    q = sum(w * p.q for w, p in zip(weights, parts)) / total
    if not 0 < q < math.inf:
        return None
    shared = sum(w * p.q * p.shared for w, p in zip(weights, parts)) / total / q
    near = sorted({d for p in parts for d, _ in p.near})
    near_at = [dict(p.near) for p in parts]
    return dataclasses.replace(first, q=q, shared=shared, near=tuple(
        (d, sum(w * p.q * at.get(d, p.shared) for w, p, at in zip(weights, parts, near_at))
         / total / q) for d in near))


def _residual(parts: list[Sums | None]) -> tuple[Sums, Sums] | None:
    """An ``add`` of one input of piecewise-linear values of one sum each (a ReLU's: the
    shortcut of a residual block) and of symmetric sums (its branch, slope 1, no bias's
    offset): that input and the sums the others add to it, independent of it at init (He et
    al.'s assumption), as one :class:`Sums` (:func:`_joined`'s sum of normals); None for any
    other add."""
    if any(p is None or p.k != 1 or p.function for p in parts):
        return None
    rectified = [p for p in parts if p.slope != 1 or p.offset]
    if len(rectified) != 1 or any(p.offset for p in parts if p is not rectified[0]):
        return None
    others = [p for p in parts if p is not rectified[0]]
    noise = sum(p.q for p in others)
    if not 0 < noise < math.inf:
        return None
    return rectified[0], Sums(noise, shared=sum(p.q * p.shared for p in others) / noise)


def _rectified_residual(rectified: Sums, branch: Sums, slope: float) -> Sums:
    """The values of a piecewise-linear activation (``slope`` below 0) of a :func:`_residual`
    add, ``f(X) + Z``, as :class:`Sums` of the same mean and second moment: a ReLU net's
    residual sum is mostly positive, its shortcut's values being ReLU outputs, and a ReLU
    after it passes most of it, not half (resnet_near_identity.cnn's third block: 0.37x of the
    engine when taken as symmetric, within 1.03x now). Its moments: given ``X``, those of a normal
    ``Z`` shifted by ``f(X)`` (:func:`_shifted_normal_moments`), over ``X``'s density by
    Simpson's rule (:func:`_rectified_residual_moments`). As sums, a ReLU of a normal shifted
    up by the ``offset`` that gives both moments (:func:`_offset_of`), sharing what ``X``
    shares: fewer of them 0 than a ReLU of a symmetric sum's half, and the next add's ReLU
    passes more of the stream. What a channel's positions share of the sum before the
    activation is what the stream's values share beyond their mean (:func:`cross_moment`)
    plus the branch's shared part, of the sum's variance (the covariances of independent
    parts add). The stream of He-initialised blocks of 8 channels on 16x16 maps (float64,
    Gaussian images, 8 seeds), ``E[x_p x_p'] / E[x^2]`` of positions 8 apart: 1.08x to 1.18x
    the engine's over ten blocks (0.59 to 0.97 by this, 0.50 to 0.85 measured; about as far
    above as a plain ReLU stack's positions are taken alike at that depth), where carrying
    the stream's own shared part alone gave its mean's square, 0.58x to 0.81x of it on 8x8
    maps. Ten He-initialised blocks on 8x8 maps
    (tests/test_check.py's RESIDUAL_SCORES; float64, Gaussian images, 200 seeds' weights):
    a third of the stream's values 0 (0.35 by the offset, 0.32 to 0.34 measured, where a
    ReLU of a symmetric sum has 1/2), each ReLU after an add passing 0.82 of its mean
    square (0.82 on average over blocks 2 to 10 measured, 0.79 when the stream was taken as
    a ReLU of a symmetric sum)."""
    square, mean = _rectified_residual_moments(rectified.q, rectified.slope, rectified.offset,
                                               branch.q, slope)
    if not 0 < square < math.inf:
        return Sums(square, slope=slope, shared=rectified.shared)
    offset = _offset_of(mean * mean / square, slope)
    return Sums(square / _shifted_normal_moments(offset, slope)[0], slope=slope,
                shared=_residual_shared(rectified, branch), offset=offset)


def _residual_shared(rectified: Sums, branch: Sums) -> float:
    """The correlation of two far positions of a channel of ``f(X) + Z`` (``f(X)`` the
    values of ``rectified``, ``Z`` the ``branch``'s sums, independent of them): the
    covariance ``f(X)``'s positions share (:func:`cross_moment` less the mean's square)
    plus ``Z``'s shared variance, over the sum's variance."""
    mean = rectified.mean()
    cross = cross_moment(rectified, mean)
    if cross is None:
        return rectified.shared
    covariance = cross - mean * mean + branch.q * branch.shared
    variance = rectified.second_moment() - mean * mean + branch.q
    return min(1.0, max(0.0, covariance / variance)) if 0 < variance < math.inf else 0.0


@functools.lru_cache(maxsize=1024)
def _rectified_residual_moments(q: float, slope: float, offset: float, noise: float,
                                outer: float) -> tuple[float, float]:
    """``(E[g(f(X) + Z)^2], E[g(f(X) + Z)])`` for ``X ~ sqrt(q) (N(0, 1) + offset)``, ``f`` of
    slope ``slope`` below 0, ``Z ~ N(0, noise)``, ``g`` of slope ``outer`` below 0 (see
    :func:`_rectified_residual`)."""
    scale, spread = math.sqrt(q), math.sqrt(noise)
    square = mean = 0.0
    # a ReLU's values below 0 are all 0: their shifted moments are worked out once
    shifted = {}
    for u, weight in _largest_points(1, -12.0, 12.0, 480):
        x = scale * (u + offset)
        value = x if x > 0 else slope * x
        if value not in shifted:
            shifted[value] = _shifted_normal_moments(value / spread, outer)
        shifted_square, shifted_mean = shifted[value]
        square += weight * noise * shifted_square
        mean += weight * spread * shifted_mean
    return square, mean


# The offsets :func:`_offset_of` looks among, in units of the sums' std: beyond 8 a ReLU's
# values are the normal's own (a share below 1e-15 of them cut off).
OFFSET_RANGE = 8.0


@functools.lru_cache(maxsize=1024)
def _offset_of(ratio: float, slope: float) -> float:
    """The offset ``d`` for which ``f(Z + d)``, ``Z`` a standard normal and ``f`` of slope
    ``slope`` below 0, has ``E[f]^2 / E[f^2] = ratio`` (its mean's share of its second moment):
    by bisection, the share rising with ``d`` from 0 (a ReLU's, far below 0) to 1 (far
    above). A leaky slope's share rises again far below 0, where its values are ``slope``
    times the normal's: ``d`` is looked for at 0 or above there, 0 for a share below that of
    a symmetric sum."""
    def share(d: float) -> float:
        square, mean = _shifted_normal_moments(d, slope)
        return mean * mean / square

    low, high = (-OFFSET_RANGE if slope == 0 else 0.0), OFFSET_RANGE
    if ratio <= share(low) or ratio >= share(high):
        return low if ratio <= share(low) else high
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if share(middle) < ratio else (low, middle)
    return (low + high) / 2


# Inits whose weights keep the norm of what they read: no random factor a layer.
NORM_KEEPING = ("orthogonal", "delta_orthogonal", "identity")


def log_spreads(layers: list[LayerInfo],
                estimated: tuple[dict[str, float], dict[str, float], dict[str, Sums]]
                | None = None) -> dict[str, float]:
    """The variance over weight draws of the log of each layer's mean square, where the
    estimate (:func:`estimate`'s first, with the biases; ``estimated`` when worked out
    already) is its mean: a net of finite width scales its signal by a random factor each
    layer, the mean over ``n`` channels of their values' squares, whose variance is ``kappa /
    n``; their logs add up, so the mean square is log-normal about the estimate with a
    log-variance of ``sum(kappa / n)`` over the layers (Hanin & Rolnick 2018, "How to start
    training", Theorem 5's ``5 sum 1/n_j`` for ReLU nets), and a typical net's scale (the
    median) is the estimate's times ``exp(-variance / 4)``. A channel's mean square over
    one example's positions averages out what its positions do not share: ``kappa`` is
    :func:`channel_kappa` of the part they share (:func:`channel_share`), which for a dense
    layer is all (2 for the sums, 5 after a ReLU, ``6 (1 + a^4) / (1 + a^2)^2 - 1`` after a
    leaky slope ``a``) and for a conv on iid pixels none; the rest of a conv's sums adds
    ``2 (1 - shared)^2 / fan_in``, the spread of a quadratic form of ``fan_in`` independent
    weights. A norm resets it (it sets each example's scale). The random factors multiply
    only through layers that scale with their input (ReLU, leaky ReLU, none): another
    activation (tanh, which pulls the scale to its fixed point) starts it afresh; and
    weights that keep the norm (orthogonal, delta-orthogonal, identity) or a fixed kernel
    add none. specs/plain30.cnn's 16 channels against the engine (24 seeds, float64, 16
    Gaussian images): the log-variance 0.68x to 1.24x of the measured at the ReLUs of its
    first 12 layers (24 draws' log-variance is itself about 30% off), 0.96x to 2.8x of it
    deeper (4.6 at its 30th layer, 3.6 measured), where taking every layer as dense said
    1.9x to 24x; there a typical net lies further below the column than a log-normal of
    that variance says (the geometric mean at its 24th layer 4.1x below it, 2.5x by this;
    at its 30th 5.8x, 3.2x by this), the measured log-variance levelling off as the mean
    square's drift does not: an upper tail that 24 draws do not reach.

    A merge's log mean square is, to the first order, its inputs' logs weighted by their
    shares of its mean square (``d log sum_i q_i = sum_i (q_i / sum_j q_j) d log q_i``, the
    delta method), and inputs that come from one stream share its random factors: each
    layer's log is kept as coefficients over the independent draws that made it
    (:class:`_LogFactors`), and its variance is ``sum c_k^2 v_k`` (the variance of a sum of
    independent parts). An identity skip, ``x + F(x)``, thus keeps the stream's spread and
    adds the branch's new draws times the branch's share squared (He et al. 2016's residual
    blocks; Hanin & Rolnick 2018 bound a residual net's spread by the sum of its branches'
    scales, not its depth; De & Smith 2020, a branch's share ``1 / (l + 1)`` at
    the l-th block of a batch-normalised net), where taking the inputs' mean counted every
    branch's draws in full. An activation's own part of the spread (its ``kappa`` above the
    sums' 2) comes from its input's fresh sums, so it is weighed by their share too: the ReLU
    after a residual add of a small branch passes the stream's rectified values through
    unchanged. Eight blocks of 8 channels on 8x8 maps (tests/test_check.py's
    RESIDUAL_SPREAD; 12 seeds, float64, Gaussian images), the last layer of each branch
    started at He's std times 0.1: the log-variance of the last add's ReLU 0.032 by this
    (the stem's), 0.070 measured (the stem's 0.056; over 100 seeds 0.039, 0.032 by this);
    He init throughout 2.2, 1.8 measured; batch norm ending each branch 0.042, 0.010
    measured. The spread is an estimate, not a bound, in the stream as in a plain chain:
    the delta method's first order, which the measured log-variance may exceed (at the
    stem's ReLU 1.75x over 12 seeds, 1.2x over 100, so much of it the few draws' own
    scatter); the tests hold the engine's log-variance over 12 seeds at each add's ReLU
    below 2.5 times this estimate (tests/test_check.py's ``SPREAD_TOLERANCE``)."""
    second, _, sums = estimate(layers, biases=True) if estimated is None else estimated
    zero = _LogFactors.zero()
    factors: dict[str, _LogFactors] = {"input": zero}
    draws: dict[str, float] = {}
    spread: dict[str, float] = {"input": 0.0}
    for info in layers:
        kind = KINDS[info.kind]
        shares = _merge_shares(info, second) if kind.merge else [1.0] * len(info.inputs)
        ins = [factors.get(name, zero) for name in info.inputs]
        made = _LogFactors.weighed(ins, shares, draws) if ins else zero
        channels = info.output_shape[0] if info.output_shape else 0
        if is_weighted(info.kind) and channels:
            init = info.weight_init
            if init.std and init.distribution not in NORM_KEEPING:
                shared = channel_share(info.output_shape, sums.get(info.name))
                draws[info.name] = (channel_kappa(shared, 1.0)
                                    + 2 * (1 - shared) ** 2 / summed_terms(info)) / channels
                made = made.with_draw(info.name, 1.0, draws[info.name])
            made = made.with_fresh(1.0)
        elif kind.family == "norm":
            made = zero
        elif kind.negative_slope is not None and channels:
            shared = channel_share(info.output_shape, sums.get(info.inputs[0]))
            draws[info.name] = (channel_kappa(shared, kind.negative_slope(info.ir))
                                - channel_kappa(shared, 1.0)) / channels
            made = made.with_draw(info.name, made.fresh, draws[info.name]).with_fresh(0.0)
        elif kind.is_activation:
            made = zero
        factors[info.name] = made
        spread[info.name] = made.variance
    return spread


def channel_share(shape: tuple, source: Sums | None) -> float:
    """The part of a channel's symmetric sums ``source`` that its mean square over one
    example's positions does not average out: what the positions share (``Sums.shared``,
    the channel's own mean part, one draw of the weights) and ``1 / P`` of the rest, for
    ``P`` positions of ``shape`` (``(C, H, W)``; a dense layer's one, all of it). All of it
    where the sums are not known as plain symmetric sums (a max pool's largest, a bias's
    offset, a function's values): a bound."""
    positions = math.prod(shape[1:]) if len(shape) == 3 else 1
    if source is None or source.k != 1 or source.function or source.offset \
            or source.slope != 1:
        return 1.0
    return source.shared + (1 - source.shared) / positions


def channel_kappa(shared: float, slope: float) -> float:
    """``kappa = E[f(y)^2 f(y')^2] / E[f(y)^2]^2 - 1`` for two standard normal sums ``y,
    y'`` of correlation ``shared`` and ``f`` the identity above 0, ``slope`` times it below:
    the relative variance, over one draw of a layer's weights, of the mean square of a
    channel whose values are ``f`` of sums sharing that part (:func:`channel_share`). The
    fourth cross moment of the positive parts is the arc-cosine kernel of degree 2 (Cho &
    Saul 2009, ``J_2(t) = 3 sin t cos t + (pi - t)(1 + 2 cos^2 t)``, ``t = arccos rho``),
    ``E[relu(y)^2 relu(y')^2] = J_2 / (2 pi)``, and ``f^2 = relu(y)^2 + slope^2 relu(-y)^2``
    gives ``(1 + a^4) k(rho) + 2 a^2 k(-rho)`` over ``((1 + a^2) / 2)^2``. All shared (a
    dense layer on one input): 2 for the sums, 5 after a ReLU (Hanin & Rolnick 2018);
    nothing shared: 0, the positions average the factor out."""
    def positive_fourth(rho: float) -> float:
        t = math.acos(max(-1.0, min(1.0, rho)))
        return (3 * math.sin(t) * math.cos(t) + (math.pi - t) * (1 + 2 * math.cos(t) ** 2)) \
            / (2 * math.pi)

    # the shares of the mean square from the positive part, 1 / (1 + a^2), and the negative,
    # a^2 / (1 + a^2): a leaky slope of 1e300 squares to inf, not an error
    positive = 1 / (1 + slope * slope)
    negative = 1 - positive
    return 4 * ((positive * positive + negative * negative) * positive_fourth(shared)
                + 2 * positive * negative * positive_fourth(-shared)) - 1


@record(frozen=True)
class _LogFactors:
    """A layer's log mean square as ``sum_k c_k e_k`` over the independent random factors
    ``e_k`` of the draws that made it (a weighted layer's weights, an activation's cut of
    them), and ``fresh``: the coefficient of its newest sums, those no activation has cut
    yet (1 out of a weighted layer or a norm, 0 out of a ReLU).

    The coefficients are kept as a tree, not copied whole each layer: ``scale`` times the
    ``parent``'s plus ``own``, whose draws came after the parent's (none of them is the
    parent's), and ``variance``, ``sum c_k^2 v_k``, is kept with them. A layer that adds one
    draw to its input's (each layer of a chain) then costs one entry, not a copy of every
    draw before it, which made a net of n layers take n^2 / 2 steps. A root (no parent) has
    no draws: the input's, or a norm's or a bounded activation's reset."""
    parent: _LogFactors | None
    scale: float
    own: dict[str, float]
    fresh: float
    variance: float
    depth: int  # the parent's + 1, 0 at a root

    @staticmethod
    def zero() -> _LogFactors:
        """No draws yet: the input's, or where a norm or a bounded activation starts anew."""
        return _LogFactors(None, 1.0, {}, 1.0, 0.0, 0)

    @staticmethod
    def weighed(parts: list[_LogFactors], shares: list[float],
                draws: dict[str, float]) -> _LogFactors:
        """The log of a merge of ``parts``, each weighed by its share of the merge's mean
        square (one part of share 1 for any other layer: the part itself), over the
        variances ``draws`` of the draws. What the parts hold from their common ancestor is
        weighed as one; only the draws made since (a residual branch's) are summed apart."""
        if len(parts) == 1 and shares == [1.0]:
            return parts[0]
        base, scale, coefficients = _common_ancestor(parts), 0.0, {}
        for part, share in zip(parts, shares):
            multiplier, own = _since(part, base)
            scale += share * multiplier
            for key, c in own.items():
                coefficients[key] = coefficients.get(key, 0.0) + share * c
        variance = scale * scale * base.variance + sum(
            c * c * draws[key] for key, c in coefficients.items())
        return _LogFactors(base, scale, coefficients,
                           sum(s * p.fresh for p, s in zip(parts, shares)), variance,
                           base.depth + 1)

    def with_draw(self, key: str, coefficient: float, variance: float) -> _LogFactors:
        """These factors and a new draw ``key`` of that variance."""
        return _LogFactors(self, 1.0, {key: coefficient}, self.fresh,
                           self.variance + coefficient * coefficient * variance, self.depth + 1)

    def with_fresh(self, fresh: float) -> _LogFactors:
        return _LogFactors(self.parent, self.scale, self.own, fresh, self.variance, self.depth)


def _common_ancestor(parts: list[_LogFactors]) -> _LogFactors:
    """The nearest factors every part of a merge holds scaled, found by climbing the
    deepest part's parents (the first of the deepest); a part that reaches its root without
    meeting the others holds no draw they hold (a root has none) and is left out. A root if
    none is common. The parts' nodes are kept counted and in a heap by depth, so a merge of
    k parts climbs in k log k steps, not k^2 (a concat of 2,000 inputs: 1.4 s)."""
    climbing: list[_LogFactors | None] = list(parts)  # None: left out
    copies = collections.Counter(id(node) for node in parts)
    deepest = [(-node.depth, order) for order, node in enumerate(parts)]
    heapq.heapify(deepest)
    roots = [order for order, node in enumerate(parts) if node.parent is None]

    def move(order: int, node: _LogFactors | None) -> None:
        """Part ``order`` on to ``node`` (None: left out)."""
        left = id(climbing[order])
        copies[left] -= 1
        if not copies[left]:
            del copies[left]
        climbing[order] = node
        if node is not None:
            copies[id(node)] += 1
            heapq.heappush(deepest, (-node.depth, order))
            if node.parent is None:
                roots.append(order)

    while True:
        if len(copies) == 1:
            return next(node for node in climbing if node is not None)
        for order in roots:
            move(order, None)
        roots.clear()
        if not copies:
            return _LogFactors.zero()
        _, order = heapq.heappop(deepest)
        while climbing[order] is None:  # a part left out at its root
            _, order = heapq.heappop(deepest)
        move(order, climbing[order].parent)


def _since(part: _LogFactors, base: _LogFactors) -> tuple[float, dict[str, float]]:
    """``part`` as ``multiplier`` times ``base``'s coefficients plus those of the draws made
    since, oldest first; where ``base`` is not among its ancestors, all of its own draws and
    a multiplier of 0 (it holds none of ``base``'s)."""
    path, multiplier, node = [], 1.0, part
    while node is not base and node is not None:
        path.append((node, multiplier))  # each node's own draws, times the scales below it
        multiplier *= node.scale
        node = node.parent
    own: dict[str, float] = {}
    for n, times in reversed(path):
        for key, c in n.own.items():
            own[key] = own.get(key, 0.0) + times * c
    return (multiplier if node is base else 0.0), own


def _merge_shares(info: LayerInfo, second: dict[str, float]) -> list[float]:
    """Each input's share of a merge's mean square by its kind's ``signal`` rule (linear in
    the inputs' mean squares: an add's sum, a concat's mean over the channels), ``d log q /
    d log q_i``; equal shares where a mean square is 0 or beyond floating point's range.
    A merge weighs its inputs by their shapes alone (a concat's channels), so the rule is
    asked once for each shape's weight, not once for each input (k^2 steps for k inputs)."""
    qs = [second.get(name, 0.0) for name in info.inputs]
    shapes = [tuple(s) for s in info.input_shapes]
    total = kind_signal(info.ir, qs, shapes)
    if not 0 < total < math.inf or not all(math.isfinite(q) for q in qs):
        return [1 / len(qs)] * len(qs)
    weights: dict[tuple, float] = {}
    for i, shape in enumerate(shapes):
        if shape not in weights:
            weights[shape] = kind_signal(
                info.ir, [1.0 if j == i else 0.0 for j in range(len(qs))], shapes)
    return [weights[shape] * q / total for shape, q in zip(shapes, qs)]


def bias_moments(info: LayerInfo) -> tuple[float, float]:
    """The mean and variance of a conv/dense layer's biases at init: ``(b, 0)`` for a
    constant ``b`` (``bias constant(-1)``), the drawn distribution's for a random one
    (``bias normal(0, 0.5)``, ``torch_default``); ``(0, 0)`` for no bias."""
    bias = info.bias_init
    if bias is None:
        return 0.0, 0.0
    # a product, not **, which raises OverflowError past float64 (a std of 1e200) for inf
    return bias.mean or 0.0, 0.0 if bias.constant else (bias.std or 0.0) * (bias.std or 0.0)


def biased_sums(spread: float, shared: float, mean: float, variance: float,
                near: Near = ()) -> Sums:
    """A weighted layer's outputs as :class:`Sums`: its sums of second moment ``spread``, a
    ``shared`` part of it the same at every position of a channel (``near``: the part
    neighbours share, :data:`Near`), plus biases of ``mean`` and ``variance``. A drawn bias
    is one value per channel, the same at every position of it: it joins the shared part (a
    max pool's window sees one bias, not ``k``), its variance joining the sums' (over the
    channels, sum and bias add as independent normals); its mean is the offset every sum is
    shifted by."""
    total = spread + variance
    if not 0 < total < math.inf:
        return Sums(spread, shared=shared, near=near)
    return Sums(total, shared=(shared * spread + variance) / total,
                offset=mean / math.sqrt(total),
                near=tuple((d, (rho * spread + variance) / total) for d, rho in near))


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
    grow more alike layer by layer, rho rising from 1/pi after the first. A function's values
    (tanh, sigmoid) of sums that share a part, or their largest in each window of a max pool,
    by :func:`function_cross`: a channel's shared part gives each channel a mean of its own,
    which the pool's values keep (a tanh conv stack with 2x2 max pools at weights of std 0.01:
    the third pool's mean square 1.4x above the engine's where that was taken as the mean's
    square over all channels). Else the mean's square, where the mean is known (None where it
    is not)."""
    if source is not None and _one_piecewise_sum(source):
        return _piecewise_cross(source, source.shared)
    if source is not None and source.function and source.shared <= 1e-12 \
            and math.isfinite(source.q):
        mean = source.mean()
        return mean * mean  # nothing shared: positions alike only in their mean
    if source is not None and source.function and math.isfinite(source.q):
        cross = function_cross(source.q, source.shared, source.function, source.offset,
                               source.k)
        own_mean = largest_of_function(source.k, source.shared, source.q, source.function,
                                       source.offset)[1]
        return (cross - 2 * source.shift * own_mean + source.shift ** 2) / source.divisor ** 2
    return None if mean is None else mean * mean


def _one_piecewise_sum(source: Sums) -> bool:
    """Whether ``source``'s values are a piecewise-linear function of one sum each (no max pool,
    no smooth activation) of finite scale: :func:`_piecewise_cross` gives their cross moment."""
    return source.k == 1 and not source.function and math.isfinite(source.q)


def _piecewise_cross(source: Sums, shared: float) -> float | None:
    """:func:`cross_moment` of :func:`_one_piecewise_sum` values whose sums share ``shared``:
    shifted by the sums' offset or not; None where a leaky slope of 1e300, squared, raises
    OverflowError."""
    try:
        if source.offset:
            return source.q * _shifted_cross(shared, source.slope, source.offset)
        return source.q * _rectified_cross(shared, source.slope)
    except OverflowError:
        return None


def _rectified_cross(rho: float, a: float) -> float:
    """:func:`cross_moment` of piecewise-linear values (slope ``a`` below 0) of sums of unit
    second moment and correlation ``rho``: the arc-cosine kernel of degree 1."""
    arc = (math.sqrt(max(0.0, 1 - rho * rho)) + (math.pi - math.acos(rho)) * rho) \
        / (2 * math.pi)
    return a * a * rho + a * (1 - a) * rho + (1 - a) ** 2 * arc


@functools.lru_cache(maxsize=1024)
def _shifted_cross(rho: float, slope: float, offset: float) -> float:
    """``E[f(X_1) f(X_2)]`` for ``X_1 = s C + sqrt(1 - |rho|) M_1 + offset`` and ``X_2 = ±s C
    + sqrt(1 - |rho|) M_2 + offset`` (``s = sqrt(|rho|)``, the sign of ``rho``: sums that
    share a negative part, as a kernel of mixed signs makes at a displacement), ``C``, ``M_1``,
    ``M_2`` independent standard normals and ``f`` of slope ``slope`` below 0 (the arc-cosine
    kernel of :func:`cross_moment` for sums shifted by a bias): given ``C`` the two are
    independent, so it is the product of their conditional means
    (:func:`_shifted_normal_moments`), over ``C``'s density by Simpson's rule; ``rho = 0``
    leaves the mean's square."""
    shared = math.sqrt(abs(rho))
    spread = math.sqrt(max(0.0, 1 - abs(rho)))

    def conditional_mean(centre: float) -> float:
        return (spread * _shifted_normal_moments(centre / spread, slope)[1] if spread > 0
                else centre if centre > 0 else slope * centre)

    total = 0.0
    for c, weight in _largest_points(1, -12.0, 12.0, 480):
        first = conditional_mean(shared * c + offset)
        second = first if rho >= 0 else conditional_mean(offset - shared * c)
        total += weight * first * second
    return total


def mean_pooled(moment: float, mean: float, shared: float, k: int) -> float:
    """``E[x^2]`` of the mean of ``k`` values of second moment ``moment`` and mean ``mean``,
    a ``shared`` part of whose variance is the same for all (:class:`Sums`), the rest
    independent: the mean's square, the shared variance, and 1/k of the rest."""
    variance = moment - mean * mean
    return mean * mean + variance * (shared + (1 - shared) / k)


@functools.lru_cache(maxsize=1024)
def function_cross(q: float, shared: float, function: str, offset: float = 0.0, k: int = 1
                   ) -> float:
    """``E[f(Y) f(Y')]`` for two sums ``Y, Y' = sqrt(q) (sqrt(shared) C + sqrt(1 - shared) M
    + offset)`` of one channel that share ``C``, their own parts ``M`` independent (each the
    largest of ``k`` standard normals, as in :class:`Sums`: a max pool's values), ``f`` the
    function of the activation kind ``function`` (``Kind.increasing``): the mean over ``C``
    of the square of ``f``'s mean over ``M``, by Simpson's rule as :func:`largest_of_function`
    (what positions of a channel share after tanh, or after a hard swish that a layer norm
    then keeps: specs/familiar.cnn)."""
    f = KINDS[function].increasing
    scale, alone, common = math.sqrt(q), math.sqrt(1 - shared), math.sqrt(shared)
    own_points = (_largest_points(1, -12.0, 12.0, 120) if k == 1
                  else _largest_points(k, -12.0, 12.0, 240))
    cross = 0.0
    for c, weight in _largest_points(1, -8.0, 8.0, 48):
        inner = sum(w * f(scale * (alone * m + common * c + offset)) for m, w in own_points)
        cross += weight * inner * inner
    return cross


def _normed(kind, info: LayerInfo, source: Sums | None, moment: float,
            mean: float | None) -> Sums:
    """A normalisation's values as :class:`Sums` of second moment 1 and mean 0. What the
    positions of a channel share passes it but for the ``1 / n`` the statistics of ``n``
    channels take (``Kind.pooled_channels``; batch norm's per channel take it all): the
    covariance ``cross - mean^2`` of two positions (:func:`cross_moment`) so kept, over
    what is left of the variance. Of an activation's values (hard swish), each example's
    statistics over many channels are about their mean and std: the same function's values
    less that mean, over that std (``n`` of 4 or more, the part of its channels' means it
    takes left out), whose skew a max pool then sees. specs/familiar.cnn's layer norm of
    32 channels: its global mean pool within 1.1x of the engine (0.3x when the positions
    were taken as sharing nothing), its global max pool within 1.2x (1.1x above when they
    were taken as normal and independent)."""
    channels = (kind.pooled_channels(info.ir, info.input_shapes[0])
                if kind.pooled_channels is not None and len(info.input_shapes[0]) == 3 else 1)
    if channels >= 4 and source is not None and source.function and not source.shift:
        variance = source.second_moment() - source.mean() * source.mean()
        if 0 < variance < math.inf:
            return dataclasses.replace(source, shift=source.mean(),
                                       divisor=math.sqrt(variance))
    cross = cross_moment(source, mean)
    if channels == 1 or cross is None:
        return Sums(1.0)
    kept = (cross - (mean or 0.0) * (mean or 0.0)) * (1 - 1 / channels)
    rest = moment - cross
    return Sums(1.0, shared=kept / (kept + rest) if kept > 0 and kept + rest > 0 else 0.0)


def _mean_pool_weights(info: LayerInfo) -> tuple[float, float]:
    """A mean pool's output second moment as ``whole * cross + apart * (q - cross)``: what
    its window's values share (their cross moment, :func:`cross_moment`) and what they do
    not. A window of ``k`` values inside the map: ``(1, 1 / k)``. A padded window holds
    ``n`` of the input's values and divides by ``d`` (``k``, or ``n`` under
    ``count_include_pad false``): ``((n / d)^2, n / d^2)``, averaged over the outputs,
    axis by axis (familiar.cnn's ``3x3 pad 1`` pool on 4x4 maps, its borders averaging 4
    or 6 values: within 1.0x of the engine, 0.86x when all were taken as 9)."""
    if "size" not in info.ir:
        return 1.0, 1.0 / KINDS[info.kind].mean_of(info.ir, info.input_shapes)
    counted = info.ir.get("count_include_pad", True)
    pads = info.pads or (0, 0, 0, 0)
    whole = apart = 1.0
    for axis, before in ((0, pads[0]), (1, pads[2])):
        size, window = info.input_shapes[0][1 + axis], info.ir["size"][axis]
        stride, out = info.ir["stride"][axis], info.output_shape[1 + axis]
        reads = [len(taps_reading(y, size, window, stride, 1, before)) for y in range(out)]
        divisors = [window if counted else max(n, 1) for n in reads]
        whole *= sum((n / d) ** 2 for n, d in zip(reads, divisors)) / out
        apart *= sum(n / d ** 2 for n, d in zip(reads, divisors)) / out
    return whole, apart


@record
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
    init_layers: int  # how many of those layers have init_name, as the run draws them
    slope: float | None = None  # that activation's slope, for leaky_relu
    log_read_share: float = 0.0  # log of the geometric mean of read_share (zero padding)
    # the largest sum of the weights of init_name's kernels (the root mean square over the
    # draws, for weights drawn about a mean other than 0), where they read the mean of what
    # they read (:func:`reads_mean`: add it up, or take it out, 0), which sets their factor;
    # else None
    kernel_sum: float | None = None
    kernel_drawn: bool = False  # those kernels are drawn, not fixed

    @property
    def padding_decides(self) -> bool:
        """Whether the zero padding takes more of the signal than the weights' factor
        changes it: the init is the one that keeps the factor near 1, and the padding does
        the rest."""
        return self.log_read_share < 0 and abs(self.log_per_layer) < -self.log_read_share


def following_activation(info: LayerInfo, by_name: dict[str, LayerInfo],
                         consumers: dict[str, list[str]], through_norms: bool = True) -> dict:
    """The activation a conv/dense layer feeds, or a linear stand-in. The way there passes
    layers that keep their values' signs (``Kind.keeps_sign``: a max pool, dropout, a
    reshape), a norm unless ``through_norms`` is False (a norm sets the scale the activation
    sees, whatever the layer's init gave it), and where a layer is read elsewhere too, its
    line's own word (`a: conv 8 3 relu` with a skip that reads `a`): the activation is the
    layer's all the same."""
    name = info.name
    while (nxt := _next_on_line(name, by_name, consumers)) is not None:
        kind = KINDS[nxt.kind]
        if kind.is_activation and not kind.sets_scale:
            return nxt.ir
        if not (kind.keeps_sign or kind.family == "norm" and through_norms):
            break
        name = nxt.name
    return {"kind": "linear"}


def _next_on_line(name: str, by_name: dict[str, LayerInfo],
                  consumers: dict[str, list[str]]) -> LayerInfo | None:
    """The one layer that reads ``name``, or among several the word that ends its line
    (``a_relu`` of `a: conv 8 3 relu`, :func:`cnnspec.check.graph.sugar_word`); None
    where neither is."""
    readers = [by_name[reader] for reader in consumers.get(name, [])]
    if len(readers) == 1:
        return readers[0]
    return next((reader for reader in readers if reader.inputs == [name]
                 and (graph.sugar_word(reader.name, reader.kind) or ("",))[0] == name), None)


def _log(value: float) -> float:
    """The natural log, -inf for a moment that underflowed to 0."""
    return math.log(value) if value > 0 else -math.inf


def _exp(log: float) -> float:
    """The inverse of :func:`_log`: inf beyond floating point's range, where ``math.exp``
    raises OverflowError."""
    return math.exp(log) if log < LARGEST_LOG else math.inf


def largest_change(estimate: Estimate) -> SignalChange | None:
    """Where the signal's scale changes most; None if no weight layer decides it, a weight is
    all 0 (which the constant-init warning reports) or a conv reads only its padding. Read
    it as :attr:`Estimate.change`, worked out once."""
    layers, q = estimate.layers, estimate.second_moments
    # a softmax's scale is its own (its values sum to 1), not what the weights made it
    order = [info for info in layers
             if info.name in estimate.used and not KINDS[info.kind].sets_scale]
    if any(is_weighted(info.kind) and weight_log_second_moment(info) == -math.inf
           for info in order):
        return None
    # a deep net's moment may leave floating point's range (0 or inf): the furthest of all
    at = max(range(len(order)), key=lambda i: abs(_log(q[order[i].name])), default=None)
    if at is None:
        return None
    worst = order[at]
    reset = _last_reset(order[:at])
    upto = order[reset + 1: at + 1]
    # An LSUV layer resets the scale itself (its E[w^2] is the data's to decide): only the
    # layers after the last reset set the change, and the worst layer may be that reset.
    weighted = [i for i in upto if is_weighted(i.kind) and not _is_reset(i)]
    if not weighted:
        return None
    shares = [estimate.read_shares[i.name] for i in weighted]
    if 0 in shares:  # a conv reading only its padding passes nothing of the input on: the
        return None  # padding and kernel-tap warnings report it, not a scale
    acts, log_factors = _log_factors(weighted, estimate)
    log_shares = [math.log(share) for share in shares]
    names = [i.weight_init.name for i in weighted]
    init_name = _init_deciding(names, log_factors)
    # the layers of that init say where to point and which activation the hint is for (the
    # first most common in their order: the same answer in every process)
    deciding = [k for k, name in enumerate(names) if name == init_name]
    activation = _most_common([acts[k]["kind"] for k in deciding])
    summing = [weighted[k] for k in deciding if reads_mean(weighted[k], estimate)]
    return SignalChange(
        start=order[reset].name if reset >= 0 else "input", layer=worst.name,
        std_ratio=math.sqrt(q[worst.name]),
        first_weight_layer=weighted[deciding[0]].name,
        init_name=init_name,
        log_per_layer=sum(log_factors) / len(log_factors),
        layers=len(weighted), activation=activation, init_layers=len(deciding),
        slope=next((acts[k]["slope"] for k in deciding if acts[k]["kind"] == "leaky_relu"),
                   None),
        log_read_share=sum(log_shares) / len(log_shares),
        kernel_sum=max((math.sqrt(i.weight_init.sums.whole) for i in summing), default=None),
        kernel_drawn=any(i.weight_init.random for i in summing))


def adds_mean(info: LayerInfo, estimate: Estimate) -> bool:
    """Whether a conv/dense layer's kernel sums to other than 0 (fixed, or drawn about a mean
    other than 0) and reads an input whose mean the estimate knows is not 0, or whose
    channels are alike: its sums add that up (:func:`_coherent_sums`), which no ``fan_in *
    E[w^2]`` says."""
    return reads_mean(info, estimate) and info.weight_init.sums.whole != 0


def reads_mean(info: LayerInfo, estimate: Estimate) -> bool:
    """Whether a conv/dense layer's kernel is fixed (or drawn about a mean other than 0) and
    reads an input whose mean the estimate knows is not 0, or whose channels are alike: its
    sums' second moment is its own (:func:`_coherent_sums`), not ``fan_in * E[w^2] *
    E[x^2]``, whatever its kernel sums to. A kernel that sums to 0 (sobel_x, laplacian)
    takes the mean out: on independent inputs of mean ``m`` and variance ``v`` its sums'
    is ``v sum(w^2) + m^2 (sum w)^2 = v sum(w^2)``, not ``sum(w^2) (v + m^2)``."""
    sums, means, source = info.weight_init.sums, estimate.moments[1], info.inputs[0]
    return sums is not None and (
        bool(means.get(source)) or estimate.alike_channels.get(source, 0.0) > 0)


# A ReLU whose inputs are below 0 this often or more by the estimate's Gaussian sums (4 in
# 5: sums 0.8 of their std below 0), where a kernel adds up its input's mean, is past what the
# estimate holds: the first such layer of tests/test_check.py's grid, kernels of mean -0.02
# and stds 0.01 to 0.1, has its sums 1.2 to 2.3 stds below 0, and the estimate is 5x to 1e12x
# above the engine 5 layers on. A limit of the estimate, not of training, and so not
# cnnspec.check.lints.LEAST_ALIVE, the share alive below which a layer is said to start nearly
# dead: sums of mean 0 that a constant bias shifts below 0 keep the Gaussian share the
# estimate gives at any depth (tests/test_lint_places.py measures 9 in 10 dead against the
# engine), and a layer that passes 1 in 10 of them still learns from its inputs.
PAST_ESTIMATE_DEAD = 0.79


@record
class DyingSums:
    """The first conv/dense layer whose kernel adds up its input's mean (:func:`adds_mean`)
    with sums of negative mean, ``offset`` of their stds below 0, before an activation that
    passes nothing below 0 (``activation``, a ReLU), ``negative`` of whose inputs are below 0
    by the estimate's Gaussian sums (of the largest of a max pool's window, where one is on
    the way); ``kernel_sum`` the mean sum of the layer's kernel."""

    layer: LayerInfo
    offset: float
    negative: float
    activation: str
    kernel_sum: float


def dying_sums(estimate: Estimate) -> DyingSums | None:
    """Where the estimate's model of a layer's sums stops holding, or None: a kernel drawn
    (or fixed) about a negative mean after a ReLU adds up ``sum(w) E[x]``, a mean that grows
    with what each window reads, while its spread grows only with the root of it; most sums
    are below 0, the ReLU after them zeroes them, and the few left are where a window reads
    little. Gaussian sums of one mean and spread (:class:`Sums`) keep a share of them above 0
    whatever the depth, so the estimate settles where the engine shrinks the signal about 8x
    a layer (docs/how-to-initialise.md, section 1). A norm between the layer and its ReLU
    centres the sums again."""
    for info in estimate.layers:
        if not (is_weighted(info.kind) and info.name in estimate.used
                and adds_mean(info, estimate)):
            continue
        activation = following_activation(info, estimate.by_name, estimate.consumers)
        kind = KINDS.get(activation["kind"])  # None for following_activation's "linear"
        if kind is None or kind.negative_slope is None or kind.negative_slope(activation) != 0:
            continue
        values = estimate.sums.get(estimate.by_name[activation["name"]].inputs[0])
        if values is None or values.offset >= 0:
            continue
        negative = _normal_cdf(-values.offset) ** values.k  # a max pool's window all below 0
        if negative >= PAST_ESTIMATE_DEAD:
            return DyingSums(info, -values.offset, negative, activation["kind"],
                             info.weight_init.sums.mean)
    return None


def _log_factors(weighted: list[LayerInfo], estimate: Estimate
                 ) -> tuple[list[dict], list[float]]:
    """The activation each conv/dense layer of ``weighted`` feeds, and the log of its factor
    ``fan_in * E[w^2] * activation factor``: in logs, as a factor of weights of 1e-200 is below
    floating point's range. A kernel that reads its input's mean (:func:`reads_mean`: adds
    it up, or takes it out) is not scaled by that: its factor is the estimate's, from its
    input to its activation's output, over its padding's share (said apart)."""
    acts = [following_activation(i, estimate.by_name, estimate.consumers) for i in weighted]
    q = estimate.second_moments
    return acts, [_log(q[a.get("name", i.name)]) - _log(q[i.inputs[0]])
                  - _log(estimate.read_shares[i.name]) if reads_mean(i, estimate) else
                  math.log(summed_terms(i)) + weight_log_second_moment(i)
                  + _log(activation_factor(a)) for i, a in zip(weighted, acts)]


@record
class Source:
    """What raises the signal most on its way to a layer since the last reset, and by how
    much it scales the mean square: a conv/dense layer's factor (with its padding's share),
    or the residual adds' (``adds``: how many, ``layer`` the last), each the growth of its
    sum over its largest input, multiplied."""

    layer: LayerInfo
    factor: float
    adds: int = 0
    adds_mean: bool = False  # the layer's weights add up its input's mean (:func:`adds_mean`)
    # the share of ``factor`` that the layer's zero padding leaves (:func:`read_share`)
    read_share: float = 1.0


def largest_source(estimate: Estimate, target: str) -> Source | None:
    """The conv/dense layer since the last batchnorm or LSUV layer before ``target`` (or
    ``target`` itself) whose factor raises the mean square most, or the adds on that way
    together where they raise it more (ten He-initialised residual blocks: each add of x and
    F(x) of one mean square doubles it, 2^10 together, while no layer's factor is above 2);
    None if no layer is weighted."""
    upto = since_last_reset(estimate, target)
    weighted = [i for i in upto if is_weighted(i.kind) and not _is_reset(i)]
    if not weighted:
        return None
    _, log_factors = _log_factors(weighted, estimate)
    logs = [f + _log(estimate.read_shares[i.name]) for i, f in zip(weighted, log_factors)]
    top = max(range(len(weighted)), key=lambda i: logs[i])
    adds = [i for i in upto if i.kind == "add"]
    q = estimate.second_moments
    grown = sum(_log(q[i.name]) - max(_log(q[name]) for name in i.inputs) for i in adds)
    if adds and grown > logs[top]:
        return Source(adds[-1], math.exp(min(grown, 700.0)), len(adds))
    return Source(weighted[top], math.exp(min(logs[top], 700.0)),
                  adds_mean=adds_mean(weighted[top], estimate),
                  read_share=estimate.read_shares[weighted[top].name])


def since_last_reset(estimate: Estimate, target: str) -> list[LayerInfo]:
    """The layers the output uses from the last batchnorm or LSUV layer before ``target``
    (that layer left out) up to ``target`` itself, in IR order: those whose scale reaches
    ``target``."""
    order = [info for info in estimate.layers if info.name in estimate.used]
    end = next(i for i, info in enumerate(order) if info.name == target)
    return order[_last_reset(order[:end]) + 1: end + 1]


def _init_deciding(names: list[str], log_factors: list[float]) -> str:
    """The init whose layers move the signal's scale most in the direction it goes: the sum
    of their log factors, by init. The most common init would name he_normal for a conv of
    N(0, 1e30) before a he_normal dense layer, whose factor is near 1."""
    total = sum(f for f in log_factors if not math.isnan(f))
    direction = -1.0 if total < 0 else 1.0
    moved: dict[str, float] = {}
    for name, factor in zip(names, log_factors):
        moved[name] = moved.get(name, 0.0) + (0.0 if math.isnan(factor) else factor)
    counts = collections.Counter(names)
    return max(moved, key=lambda name: (direction * moved[name], counts[name]))


def _most_common(values: list[str]) -> str:
    """The value most often in ``values``, the first in their order among equals (the same
    answer in every process); counted once, not once for each value."""
    return collections.Counter(values).most_common(1)[0][0]


def _is_reset(info: LayerInfo) -> bool:
    """Batchnorm and LSUV set the scale to 1 whatever came before."""
    return KINDS[info.kind].family == "norm" or (
        info.weight_init is not None and _set_by_data(info.weight_init))


def _set_by_data(init: InitInfo) -> bool:
    """Whether a batch of data sets the weight again after its draw (the catalogue's
    :attr:`~cnnspec.init.catalogue.Init.needs_data`: LSUV), so that its scale is not the
    draw's."""
    entry = BY_NAME.get(init.name)
    return entry is not None and entry.needs_data


def _last_reset(layers: list[LayerInfo]) -> int:
    """Index of the last layer in ``layers`` that resets the scale; -1 if none."""
    return max((i for i, info in enumerate(layers) if _is_reset(info)), default=-1)


def suggested_init(activation: str, slope: float | None = None) -> str:
    """The init whose per-layer factor is 1 before ``activation``, as the catalogue names it:
    the scheme made for relu (its gain for a leaky one), else the ones of gain 1."""
    relu = choose.scheme_for("relu")
    if activation == "relu":
        return choose.cited(relu)
    if activation == "leaky_relu":
        return (f"{relu.name}(gain=leaky_relu({float_text(slope)})) "
                "(Var(w) = 2 / ((1 + slope^2) fan_in))"
                if slope is not None else f"{relu.name} with gain=leaky_relu(slope)")
    return f"{choose.cited(choose.scheme_for())} or " \
        f"{choose.cited(choose.scheme_for(mode='fan_avg'))}"


def keeping_inits() -> str:
    """Which init keeps a layer's factor near 1 before which activation, as a hint lists them:
    ``he_normal before relu, lecun_normal or glorot_normal before others``."""
    return (f"{choose.scheme_for('relu').name} before relu, {choose.scheme_for().name} or "
            f"{choose.scheme_for(mode='fan_avg').name} before others")


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
    factor = _exp(change.log_per_layer)
    per_layer = (rounded_text(factor) if 0 < factor < math.inf
                 else f"2^{log2_per_layer:,.0f}" if finite_factor
                 else "beyond floating point's range")
    # one layer's factor is its own, no average over layers
    scales = ("which scales" if change.layers == 1 else "each scale")
    average = "" if change.layers == 1 else " on average"
    each = (f"{scales} its mean square by fan_in * E[w^2] * activation factor = {per_layer}"
            f"{average}" if change.kernel_sum is None else
            "each of fixed values that sum to 0, which take out its input's mean (E[z] = "
            "sum(w) E[x] = 0) and weigh what its inputs share by their pairs of taps, scale its "
            f"mean square by {per_layer} on average" if change.kernel_sum == 0 else
            f"each of {_summing_weights(change)} {rounded_text(change.kernel_sum)}, which "
            f"add up its input's mean (E[z] = sum(w) E[x]) and what its inputs share, and scale "
            f"its mean square by {per_layer} on average")
    return (f"the signal's scale (root mean square) is estimated to {verb} {amount} from "
            f"{start} to '{change.layer}': {counted(change.layers, 'conv/dense layer')}, "
            f"{_init_share(change)}, {each}"
            + (f", and by {PADDING_SHARE.format('their')} = "
               f"{rounded_text(math.exp(change.log_read_share))}"
               if padding_said(math.exp(change.log_read_share)) else ""))


# What the padding's share of a layer's products (:func:`read_share`) is, as messages say it
# (``their``, ``its``: whose products).
PADDING_SHARE = "the share of {} products that read the input, not its zero padding,"


def padding_said(share: float) -> bool:
    """Whether a message says the padding's share ``share``: one that takes 0.5% or more of
    the mean square."""
    return share < 0.995


def _init_share(change: SignalChange) -> str:
    """How many of the layers on the way have the init that moves the scale most: "mostly
    with" only where more than half do (two he_normal layers and one of normal(0, 0.01) that
    shrinks the signal are not mostly normal)."""
    init = f"init {change.init_name} before {change.activation}"
    if change.layers == 1:
        return f"with {init}"
    if 2 * change.init_layers > change.layers:
        return f"mostly with {init}"
    return f"{change.init_layers} of them with {init} moving it most"


def _summing_weights(change: SignalChange) -> str:
    """What the weights that add up their input's mean are, before their largest sum."""
    if change.kernel_drawn:
        return "weights drawn about a mean other than 0, whose sums reach about"
    return "fixed values that sum to as much as"


def change_hint(change: SignalChange) -> str:
    """How to keep the signal's scale: the init that keeps the factor near 1; where the zero
    padding takes the signal (``SignalChange.padding_decides``), a kernel it does not reach;
    for a fixed kernel (sobel_x), whose values are the point, a norm after it."""
    if change.padding_decides:
        delta, identity = BY_NAME["delta_orthogonal"], BY_NAME["identity"]
        return ("the padding takes the signal where the maps are small: start each kernel at "
                f"its centre tap, which the padding never reaches ({delta.name}, "
                f"{delta.source}; or {identity.name}), use larger maps or no padding, or add "
                "batchnorm")
    if BY_NAME[change.init_name].family == "kernel":  # its values are the point: kept
        return (f"{change.init_name} is a fixed kernel: a batchnorm after each such layer "
                "brings its outputs to unit scale")
    return (f"before {change.activation}, use "
            f"{suggested_init(change.activation, change.slope)}, which keeps the factor near "
            "1; or add batchnorm")


def is_too_large(change: SignalChange | None) -> bool:
    return change is not None and not (1 / LIMIT <= change.std_ratio <= LIMIT)
