"""Per-layer signal statistics: the numbers that say whether an init keeps the signal alive.

He et al. 2015 (sec. 2.2) follow the variance of each layer's response ``y_l`` through the net:
``Var[y_l] = n_l Var[w_l] E[x_l^2]``; with ReLU ``E[x_l^2] = Var[y_{l-1}] / 2``, so the signal
keeps its scale only when ``n_l Var[w_l] = 2``. Everything here measures that on real arrays:
the mean and std of a layer's output, the share of exact zeros a ReLU leaves ("dead"), the std of
the weights against the init's theoretical std, and the std of the gradients flowing back.

All arrays carry the batch axis first: ``(N, C, H, W)`` or ``(N, F)``. Statistics are taken over
every element (batch, channels and positions together), in float64 so that a float32 activation
of 1e-20 still gives a meaningful std.
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from cnnspec.kinds import KINDS, is_weighted
from cnnspec.records import record

# Layer kinds whose output is a ReLU's: their exact zeros are the "dead" units of the batch.
RELU_KINDS = ("relu",)


@record
class LayerStats:
    """What one layer did to one batch. ``None`` where a number does not apply to the layer.

    ``same_filters`` is how many of the ``filters`` filters (output units) of the weight start
    identical and stay so at every step, as ``check`` works them out
    (:func:`cnnspec.check.lints.lasting_alike_filters`): SGD cannot tell them apart, the
    symmetry never breaks; 0 where none do.
    ``fan_in`` and ``fan_out`` are the fans the init's formula reads (:mod:`cnnspec.init.fans`:
    a conv's ``C/G*kh*kw`` and ``F*kh*kw``, a transposed conv's ``F/G*kh*kw`` and ``C*kh*kw``, a
    dense layer's inputs and units), ``weight_std_expected`` the std the formula gives from
    them and ``weight_bound_expected`` its bound: ``a`` of U(-a, a), or the half-width of a
    truncated normal's cut about its mean (None for an unbounded distribution);
    ``weight_cut_expected`` is ``[low, high]`` of a truncated normal cut off centre, which has
    no single bound (None otherwise).
    ``act_ratio`` is ``act_std`` divided by the std of the network's input, the quantity He et al.
    2015 show falls or grows exponentially with depth under a wrong init (None when the input
    was not seen, as during training). ``values`` is how many values the layer's output holds
    per input (``C*H*W`` or ``F``): a gradient's std is per value, and where a layer has more
    of them (a larger map) the same gradient spreads thinner.
    """

    name: str
    kind: str
    act_mean: float
    act_std: float
    act_ratio: float | None
    dead_frac: float | None
    weight_std: float | None
    weight_std_expected: float | None
    grad_std: float | None
    weight_grad_std: float | None
    same_filters: int | None = None
    filters: int | None = None
    fan_in: int | None = None
    fan_out: int | None = None
    weight_bound_expected: float | None = None
    weight_cut_expected: list[float] | None = None
    values: int | None = None

    @property
    def grad_norm(self) -> float | None:
        """The norm per input of the gradient of the layer's output, taken as
        ``grad_std * sqrt(values)``, that of a gradient centred at 0: unlike its std per
        value, it does not fall where the same gradient spreads over a larger map. None where
        either is not known."""
        if self.grad_std is None or not self.values:
            return None
        return self.grad_std * self.values ** 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def std64(x: np.ndarray) -> float:
    """Population std of every element, accumulated in float64."""
    return float(np.std(x, dtype=np.float64))


def mean64(x: np.ndarray) -> float:
    """Mean of every element, accumulated in float64."""
    return float(np.mean(x, dtype=np.float64))


def zero_fraction(x: np.ndarray) -> float:
    """Share of elements that are exactly zero (a ReLU's inactive units on this batch)."""
    return float(np.count_nonzero(x == 0)) / x.size


def layer_stats(
    name: str,
    kind: str,
    out: np.ndarray,
    input_std: float | None,
    dout: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    dweight: np.ndarray | None = None,
    weight_std_expected: float | None = None,
    fans: tuple[int, int] | None = None,
    weight_bound_expected: float | None = None,
    weight_cut_expected: list[float] | None = None,
    same_filters: int = 0,
) -> LayerStats:
    """Statistics of one layer from its output ``out`` and, where known, the gradient ``dout``
    of the loss with respect to that output, its weight and the weight's gradient ``dweight``.

    ``out`` and ``dout``: ``(N, C, H, W)`` or ``(N, F)``; ``weight`` and ``dweight``: the
    parameter's layout, ``(out, in, kh, kw)`` or ``(out, in)``; ``fans``: the layer's
    ``(fan_in, fan_out)``, for a layer with a weight whose init reads them; ``same_filters``:
    how many of its filters stay identical (:class:`LayerStats`).
    """
    act_std = std64(out)
    return LayerStats(
        name=name,
        kind=kind,
        act_mean=mean64(out),
        act_std=act_std,
        act_ratio=_ratio(act_std, input_std),
        dead_frac=zero_fraction(out) if kind in RELU_KINDS else None,
        weight_std=std64(weight) if weight is not None else None,
        weight_std_expected=weight_std_expected,
        grad_std=std64(dout) if dout is not None else None,
        weight_grad_std=std64(dweight) if dweight is not None else None,
        same_filters=same_filters if weight is not None else None,
        filters=len(weight) if weight is not None else None,
        fan_in=fans[0] if fans else None,
        fan_out=fans[1] if fans else None,
        weight_bound_expected=weight_bound_expected,
        weight_cut_expected=weight_cut_expected,
        values=out[0].size if len(out) else None,
    )


def _ratio(std: float, input_std: float | None) -> float | None:
    if input_std is None:
        return None
    return std / input_std if input_std > 0 else float("nan")


def is_merge(kind: str) -> bool:
    """Whether a layer of ``kind`` joins paths (an add, a concat)."""
    return KINDS[kind].merge


def weighted(stats: list[LayerStats]) -> list[LayerStats]:
    """The conv and dense layers only, in order: the depth axis of He et al.'s analysis."""
    return [s for s in stats if is_weighted(s.kind)]


def per_layer_factor(stats: list[LayerStats]) -> float:
    """Geometric mean of the step-to-step change of ``act_std`` over the weighted layers.

    He et al. 2015 predict 1/sqrt(2) ~ 0.707 per conv layer for a plain ReLU net under Glorot
    init with equal fan-in and fan-out, and 1.0 under He init.
    """
    depth = weighted(stats)
    if len(depth) < 2:
        raise ValueError("need at least two conv/dense layers to measure a per-layer factor")
    first, last = depth[0].act_std, depth[-1].act_std
    return float((last / first) ** (1.0 / (len(depth) - 1)))


@record
class SignalSummary:
    """How the signal changes along the network's main path, forward and back.

    The points compared are the hidden conv/dense layers and the merges (adds, concats) that
    every path from the input to the output passes (:func:`cnnspec.check.graph.main_path`):
    in a plain stack every hidden conv/dense layer; in a residual network the stem and each
    add, where the signal of the identity path and the branch meet. A branch's own layers are
    left out: an identity path carries the signal past them, and a branch whose last conv
    starts at zero (Fixup: Zhang, Dauphin & Ma 2019) would read as a signal of 0 that the
    network never has. The output layer is left out too: its output is the logits and its
    gradient the loss's own, and between it and the hidden layers there is often a pooling
    that rescales every value alike, which would hide what the hidden layers do to the signal.

    ``layers``: the points compared, ``first`` and ``last`` their ends; ``branch_layers``:
    the hidden conv/dense layers left out, off the main path; ``act_change``: the last
    point's ``act_std`` over the first's; ``act_per_layer``: its geometric mean per step
    (:func:`per_layer_factor`); ``grad_change``: the first point's ``grad_std`` over the
    last's (how much the gradient shrinks or grows on its way back), per value;
    ``first_values`` and ``last_values``: how many values the two points' outputs hold per
    input, and ``grad_norm_change``: the first point's :attr:`LayerStats.grad_norm` over the
    last's, ``grad_change * sqrt(first_values / last_values)``. Where the maps grow on the way
    back (pooling, or unpadded convs that shrink them going forward) the per-value std falls
    as the same gradient spreads over more values, which no init causes: under He init the
    gradient std of ``specs/he2015_plain30.cnn`` (unpadded) falls 13x from its 4x4 maps to its
    62x62 ones, its norm changes x1.17. ``dead_mean``: the mean share of dead units over the
    ReLU layers (None without ReLUs); ``constant``: the first
    layer on the main path after the first point, before the output's conv/dense layer, whose
    output is a constant (std 0, e.g. a ReLU that passes nothing, a batch norm's shift alone)
    where the first point's is not: no signal passes it, whatever the ratio of the points says.
    """

    layers: int
    act_change: float | None
    act_per_layer: float | None
    grad_change: float | None
    dead_mean: float | None
    first: str | None = None
    last: str | None = None
    branch_layers: int = 0
    merges: int = 0  # of the points compared, the adds and concats
    constant: str | None = None
    first_values: int | None = None
    last_values: int | None = None
    grad_norm_change: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _hidden_path(stats: list[LayerStats], main_path) -> tuple[list[LayerStats], int]:
    """The layers on the main path (``main_path``: the names of the layers every path passes;
    None: every layer) before the output's conv/dense layer, and how many hidden conv/dense
    layers lie off it."""
    depth = weighted(stats)
    if not depth:
        return [], 0
    end = stats.index(depth[-1])
    on_path = (lambda s: True) if main_path is None else (lambda s: s.name in main_path)
    return [s for s in stats[:end] if on_path(s)], sum(1 for s in depth[:-1] if not on_path(s))


def _first_constant(path: list[LayerStats], first: LayerStats) -> str | None:
    """The first layer of ``path`` after ``first`` whose output is a constant (std 0), where
    ``first``'s is not; None when the signal passes every one."""
    if not first.act_std > 0:
        return None
    after = path[path.index(first) + 1:]
    return next((s.name for s in after if s.act_std == 0), None)


def summarize_signal(stats: list[LayerStats], main_path=None) -> SignalSummary:
    """The :class:`SignalSummary` of ``stats`` (in network order) along ``main_path``, the
    names of the layers every path from the input to the output passes (None: all)."""
    path, off_path = _hidden_path(stats, main_path)
    hidden = [s for s in path if is_weighted(s.kind) or is_merge(s.kind)]
    act_change = act_per_layer = grad_change = grad_norm_change = None
    if len(hidden) >= 2 and hidden[0].act_std > 0:
        act_change = hidden[-1].act_std / hidden[0].act_std
        act_per_layer = act_change ** (1.0 / (len(hidden) - 1))
        first, last = hidden[0].grad_std, hidden[-1].grad_std
        if first is not None and last:
            grad_change = first / last
            if hidden[0].grad_norm is not None and hidden[-1].grad_norm is not None:
                grad_norm_change = hidden[0].grad_norm / hidden[-1].grad_norm
    dead = [s.dead_frac for s in stats if s.dead_frac is not None]
    return SignalSummary(len(hidden), act_change, act_per_layer, grad_change,
                         sum(dead) / len(dead) if dead else None,
                         hidden[0].name if hidden else None,
                         hidden[-1].name if hidden else None, off_path,
                         sum(1 for s in hidden if is_merge(s.kind)),
                         _first_constant(path, hidden[0]) if hidden else None,
                         hidden[0].values if hidden else None,
                         hidden[-1].values if hidden else None, grad_norm_change)

