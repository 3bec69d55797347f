"""What holds exactly at every step of training, worked out from the init alone: the layers
whose every output is one number, the layers no gradient reaches, and the parameters that
never change.

A weight's gradient is its output's gradient times its input (``dW = dout x input``), its
bias's the sum of ``dout``; the gradient a layer passes back to its input is ``W^T dout``, an
activation's is ``f'(x) dout``. So exact zeros stop learning in two ways:

- a layer whose input is exactly 0 gets no weight gradient (a norm no gradient for its
  scale: its normalised input is 0 too);
- no gradient reaches a layer whose every reader passes none back: a conv or dense layer whose
  weights are 0 and stay 0, or an activation flat at the one number its input is (its
  :attr:`Kind.slope_at` there is 0: relu's at 0 and below, as the engine's mask ``x > 0``
  takes it, relu6's from 6 on too, hard swish's at -1.5 and below -3, gelu's far below 0),
  or a reader no gradient reaches itself.

An output is exactly one number where the parameters making it never change: a conv or dense
layer whose weights are 0 and stay 0, or whose input is exactly 0, outputs its bias (a
constant bias's value, 0 without one); a norm of an input of 0 outputs its shift; an
activation of one number is that number's image (:attr:`Kind.value_at`); zeros stay zeros through
pools, reshapes, dropout and merges, and an add sums numbers.

The facts hold each other up (a zero output stops the gradient that would change the zero
weights making it), so they are the greatest fixed point: every parameter is first taken to
stay as it starts, and those shown to get a gradient are dropped until none is. What is left
holds at every step by induction: a parameter that gets no gradient keeps its value under
plain SGD, momentum and Adam alike. Nothing is said of layers the output does not use.

Biases that differ by channel (drawn) make no one number, but the same argument holds per
channel: a channel of a conv or dense layer whose weights start at 0 outputs its bias alone
while its filter stays 0, and where every reader of the layer is an activation flat there
(relu at a bias of 0 or less) the channel gets no gradient, so its filter and bias never
change (:func:`flat_channel_share`: how many such channels to expect). The other channels
learn, each filter from a gradient of its own; the engine bears both out.
"""
from __future__ import annotations

import math

from cnnspec.check.alike import alike_filters
from cnnspec.check.graph import INPUT
from cnnspec.check.model import LayerInfo
from cnnspec.check.signal import Estimate
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import is_trained
from cnnspec.kinds import KINDS, is_weighted
from cnnspec.records import record

WEIGHT, BIAS = "weight", "bias"


@record(frozen=True)
class Stop:
    """Why layer ``reader`` passes no gradient back: its weights are 0 and stay 0 (``value``
    None), or it is an activation flat at ``value``, the one number every input to it is."""

    reader: str
    value: float | None = None


@record
class Exact:
    """The facts of the module docstring for one network.

    ``values``: layer -> the one number every output of it is, at every step; ``silent``:
    layer -> the :class:`Stop` s that keep every gradient from its output (none reaches it);
    ``still``: the ``(layer, "weight" | "bias")`` parameters that never change.
    """

    values: dict[str, float]
    silent: dict[str, tuple[Stop, ...]]
    still: set[tuple[str, str]]

    def is_zero(self, name: str) -> bool:
        """Whether every output of layer ``name`` is exactly 0 at every step."""
        return self.values.get(name) == 0

    def unchanged(self, info: LayerInfo) -> bool:
        """Whether none of the parameters of ``info`` ever changes."""
        return all((info.name, part) in self.still for part in _parts(info))

    def still_parts(self, info: LayerInfo) -> tuple[str, ...]:
        """The parameters of ``info`` (``"weight"``, ``"bias"``) that never change."""
        return tuple(part for part in _parts(info) if (info.name, part) in self.still)

    def learning_parts(self, info: LayerInfo) -> tuple[str, ...]:
        """The parameters of ``info`` that may change."""
        return tuple(part for part in _parts(info) if (info.name, part) not in self.still)

    def passes_nothing_back(self, info: LayerInfo) -> bool:
        """Whether ``info`` sends no gradient to its input: none reaches it, or its weights
        are 0 and stay 0."""
        return info.name in self.silent or _zero_weights(info, self.still)

    def stop(self, reader: LayerInfo, source: str) -> tuple[Stop, ...] | None:
        """Why ``reader`` sends no gradient back to its input ``source``; None where it may."""
        return _stop(reader, source, self.values, self.silent, self.still)


def _parts(info: LayerInfo) -> tuple[str, ...]:
    """The parameters ``info`` has: a weight (a norm's scale, prelu's slopes) and a bias."""
    return tuple(part for part, init in ((WEIGHT, info.weight_init), (BIAS, info.bias_init))
                 if init is not None)


def starts_at_zero(info: LayerInfo) -> bool:
    """Whether every weight of a conv/dense layer starts at 0."""
    return is_weighted(info.kind) and info.weight_init.scale == 0


def _zero_weights(info: LayerInfo, still: set[tuple[str, str]]) -> bool:
    """Whether every weight of ``info`` is 0 at every step."""
    return starts_at_zero(info) and (info.name, WEIGHT) in still


def _bias_value(info: LayerInfo, still: set[tuple[str, str]]) -> float | None:
    """What every output of a layer that outputs its bias alone is: 0 without a bias, a
    constant bias's value while it stays; None for biases that differ or change."""
    bias = info.bias_init
    if bias is None:
        return 0.0
    return bias.mean if bias.constant and (info.name, BIAS) in still else None


def _activated(info: LayerInfo, y: float, still: set[tuple[str, str]]) -> float | None:
    """What an activation gives for the input ``y`` (:attr:`Kind.value_at`); None for one that
    mixes channels (softmax), and below 0 for prelu while its slopes learn."""
    kind = KINDS[info.kind]
    if kind.value_at is None:
        return None
    if y < 0 and info.weight_init is not None and (info.name, WEIGHT) not in still:
        return None
    return kind.value_at(info.ir, y)


def _flat(info: LayerInfo, y: float) -> bool:
    """Whether an activation's gradient is 0 at the input ``y`` (:attr:`Kind.slope_at`)."""
    kind = KINDS[info.kind]
    return kind.slope_at is not None and kind.slope_at(info.ir, y) == 0


def _value(info: LayerInfo, values: dict[str, float],
           still: set[tuple[str, str]]) -> float | None:
    """The one number every output of ``info`` is, from its inputs' (None: not one)."""
    ins = [values.get(ref) for ref in info.inputs]
    kind = KINDS[info.kind]
    if is_weighted(info.kind):
        return _bias_value(info, still) if ins[0] == 0 or _zero_weights(info, still) else None
    if kind.family == "norm":
        return _bias_value(info, still) if ins[0] == 0 else None
    if None in ins:
        return None
    if kind.family == "activation":
        return _activated(info, ins[0], still)
    if info.kind == "add":
        return sum(ins)
    if all(v == 0 for v in ins):
        return 0.0  # pools, reshapes, dropout and concat keep zeros
    if len(set(ins)) == 1 and (info.kind in ("flatten", "concat") or kind.max_of):
        return ins[0]
    return None


def _stop(reader: LayerInfo, source: str, values: dict[str, float],
          silent: dict[str, tuple[Stop, ...]],
          still: set[tuple[str, str]]) -> tuple[Stop, ...] | None:
    """Why ``reader`` sends no gradient back to ``source``; None where it may."""
    if _zero_weights(reader, still):
        return (Stop(reader.name),)
    value = values.get(source)
    if KINDS[reader.kind].family == "activation" and value is not None and _flat(reader, value):
        return (Stop(reader.name, value),)
    return silent.get(reader.name)


def _silent(spec: Spec, layers: list[LayerInfo], by_name: dict[str, LayerInfo],
            after: dict[str, list[str]], values: dict[str, float],
            still: set[tuple[str, str]], used: set[str]) -> dict[str, tuple[Stop, ...]]:
    """The layers no gradient reaches, each with what stops it (readers after the layers they
    read, so each reader is settled first); ``after``: each layer's readers."""
    silent: dict[str, tuple[Stop, ...]] = {}
    for info in reversed(layers):
        readers = [by_name[r] for r in after.get(info.name, []) if r in used]
        if info.name == spec.ir["output"] or info.name not in used or not readers:
            continue
        stops = [_stop(r, info.name, values, silent, still) for r in readers]
        if all(s is not None for s in stops):
            silent[info.name] = tuple(dict.fromkeys(s for some in stops for s in some))
    return silent


def _no_gradient(info: LayerInfo, part: str, values: dict[str, float],
                 silent: dict[str, tuple[Stop, ...]]) -> bool:
    """Whether parameter ``part`` of ``info`` gets no gradient (or none is applied: frozen)."""
    if not is_trained(info.ir, part) or info.name in silent:
        return True
    return part == WEIGHT and values.get(info.inputs[0]) == 0


def exact(spec: Spec, estimate: Estimate) -> Exact:
    """The :class:`Exact` facts of a network (the module docstring): of the layers of
    ``estimate`` (:class:`cnnspec.check.signal.Estimate`) that its output uses, along the
    layer graph the estimate holds."""
    used, after = estimate.used, estimate.consumers
    layers = [info for info in estimate.layers if info.name in used]
    by_name = {info.name: info for info in layers}
    still = {(info.name, part) for info in layers for part in _parts(info)}
    if not any(starts_at_zero(info) for info in layers):
        # no output is ever one number (the input is not), so no gradient stops: only what
        # is frozen stays
        return Exact({}, {}, {key for key in still if _no_gradient(by_name[key[0]], key[1],
                                                                   {}, {})})
    while True:
        values: dict[str, float] = {}
        for info in layers:
            value = _value(info, values, still)
            if value is not None:
                values[info.name] = value
        silent = _silent(spec, layers, by_name, after, values, still, used)
        kept = {key for key in still if _no_gradient(by_name[key[0]], key[1], values, silent)}
        if kept == still:
            return Exact(values, silent, still)
        still = kept


def flat_channel_share(info: LayerInfo, readers: list[LayerInfo]) -> float | None:
    """For a conv/dense layer ``info`` whose weights start at 0 and whose biases are drawn,
    read only by ``readers``, activations flat at 0 and below (:attr:`Kind.flat_at_zero`;
    relu6 from 6 on too): the chance that a channel's bias is drawn where they are all flat,
    so that the channel never changes (the module's docstring); None where the readers are
    not all such, and NaN where the bias's distribution is not one whose share is worked out
    here (a normal or a uniform)."""
    kinds = [KINDS[r.kind] for r in readers]
    if not readers or not all(kind.flat_at_zero for kind in kinds):
        return None
    high = min(kind.value_range[1] if kind.value_range else math.inf for kind in kinds)
    return _share_at_most(info.bias_init, 0.0) + 1 - _share_at_most(info.bias_init, high)


def flat_zero_filters(info: LayerInfo, readers: list[LayerInfo]) -> int:
    """How many filters of a trainable conv/dense layer ``info`` never change though the
    layer learns: those ``identity`` starts at 0 (the filters beyond the input's channels,
    :func:`cnnspec.check.alike.alike_filters`) under a constant bias ``b`` (0 without one),
    where every one of ``readers`` is an activation flat at ``b`` (:attr:`Kind.slope_at`:
    relu's at 0, as the engine's mask ``x > 0`` takes it). Such a channel outputs ``b`` alone
    while its filter is 0, so no gradient comes back to it: ``dW = dout x input`` and the
    bias's sum of ``dout`` are 0, and the filter stays 0 (the module docstring, per
    channel). 0 for any other layer."""
    bias = info.bias_init
    value = 0.0 if bias is None else bias.mean
    if (info.weight_init is None or info.weight_init.distribution != "identity"
            or not is_trained(info.ir) or (bias is not None and not bias.constant)
            or not readers or not all(KINDS[r.kind].family == "activation" and _flat(r, value)
                                      for r in readers)):
        return 0
    return alike_filters(info)


def _share_at_most(init, x: float) -> float:
    """``P(b <= x)`` for a value ``b`` drawn by ``init``: a normal's CDF, a uniform's share of
    its range; NaN for other draws."""
    if x == math.inf:
        return 1.0
    if init.distribution == "normal":
        return 0.5 * math.erfc((init.mean - x) / (init.std * math.sqrt(2)))
    if init.distribution == "uniform":
        low, high = (init.mean + side * math.sqrt(3) * init.std for side in (-1, 1))
        return min(max((x - low) / (high - low), 0.0), 1.0)
    return math.nan


def zero_source(name: str, facts: Exact, by_name: dict[str, LayerInfo]) -> str:
    """The layer that makes the zeros ``name`` outputs: back through the layers that pass
    zeros on (activations, pools, reshapes) to the conv, dense, norm or merge layer where
    they start, as the spec names it (``a`` of ``a: conv 8 3x3 relu``, not ``a_relu``)."""
    while name != INPUT and name in by_name:
        info = by_name[name]
        if (is_weighted(info.kind) or KINDS[info.kind].family == "norm" or len(info.inputs) != 1
                or not facts.is_zero(info.inputs[0])):
            return name
        name = info.inputs[0]
    return name
