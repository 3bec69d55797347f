"""Checks that need the whole network: warnings about the init, the graph and the schedule,
and the softmax placement error.

Warnings (``severity="warning"``; ``--strict`` makes them errors): the functions the lint
catalogue runs, each entry there (:mod:`cnnspec.check.lint_catalogue`) naming one of them and
saying what it warns of and why. Which outputs are exactly one number, which gradients are
exactly 0 and which parameters never change is worked out once, by :mod:`cnnspec.check.exact`,
for these warnings and the diagram.

Error: a ``softmax`` that is not the output when the loss is ``cross_entropy`` (the loss applies
softmax to the output's logits itself and fuses a final softmax layer; one in the middle would
squash the scores twice). The data against the network is checked in
:mod:`cnnspec.check.training`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

from cnnspec.check import signal
from cnnspec.check.alike import (
    alike_filters,
    biases_apart,
    drawn_biases,
    groups_of,
    identical_filter_count,
    init_alike_along,
    weight_axes,
)
from cnnspec.check.copies import folded_texts
from cnnspec.check.exact import (
    WEIGHT,
    Exact,
    Stop,
    exact,
    flat_channel_share,
    flat_zero_filters,
    starts_at_zero,
    zero_source,
)
from cnnspec.check.graph import INPUT, consumers, sugar_word
from cnnspec.check.model import LayerInfo
from cnnspec.check.training import spec_steps
from cnnspec.dtypes import FORMATS
from cnnspec.engine.splitting import MIN_PART, splits, usable_cores
from cnnspec.errors import SpecError, count_text, counted, float_text, listed, rounded_text
from cnnspec.init.catalogue import BUILT_IN_DEFAULTS, BY_NAME, SAME_NAME_ELSEWHERE
from cnnspec.ir.datasets import (
    DATASETS,
    canonical_name,
    example_count,
    mirrored_classes,
    turned_classes,
    with_defaults,
)
from cnnspec.ir.instances import (
    SAME_INSTANCE,
    in_instance,
    instance_group,
    instances_around,
)
from cnnspec.ir.spec import Spec
from cnnspec.ir.steps import MOST_STEPS, RESNET_IMAGENET_STEPS
from cnnspec.ir.training_catalogue import (
    KEYS,
    SCHEDULES,
    TYPICAL_LR,
    far_above_typical,
    far_layer_rates,
    is_trained,
    lr_mult_advice,
    whole_layer_decays,
    whole_weight_decay,
)
from cnnspec.kinds import KINDS, Reach, is_weighted
from cnnspec.kinds.catalogue import (
    BATCHNORM_MOMENTUM,
    START_SHARE,
    least_momentum,
    momentum_kept,
    start_share,
    steps_to_leave_start,
)
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.text import pads_text, pair_text, step_text
from cnnspec.shapes import shape_text
from cnnspec.sourcefile import source_lines


def _reached(starts, onward) -> Iterator[str]:
    """Every layer reached from the layers ``starts``, each once, going on from a reached
    layer to the layers ``onward(name)`` names (the input is never reached)."""
    todo, seen = list(starts), set()
    while todo:
        name = todo.pop()
        if name == INPUT or name in seen:
            continue
        seen.add(name)
        yield name
        todo.extend(onward(name))


def _feeds_a_weight_layer(name: str, by_name: dict[str, LayerInfo],
                          after: dict[str, list[str]]) -> bool:
    """Whether a conv or dense layer lies anywhere downstream of ``name``."""
    return any(is_weighted(by_name[n].kind)
               for n in _reached(after.get(name, []), lambda n: after.get(n, [])))


def _grouped(info: LayerInfo) -> bool:
    """A grouped conv or a group norm: each channel is summed (normalised) with its group's."""
    return is_weighted(info.kind) and groups_of(info) > 1 or info.kind == "groupnorm"


def _tells_apart(info: LayerInfo, beside_others: bool, mixed: bool) -> bool:
    """Whether layer ``info`` can send channels that start alike different gradients, reached
    with other channels put beside them (``beside_others``: after a concat) or with other
    inputs' values added to theirs (``mixed``: after an add, so that their values differ)."""
    kind, weighted = KINDS[info.kind], is_weighted(info.kind)
    if (weighted and not init_alike_along(info.weight_init, weight_axes(info)[1])
            or kind.family == "dropout"):
        return True
    if _grouped(info) and beside_others:
        return True
    return mixed and (is_trained(info.ir) if weighted else not kind.linear)


def tie_breakers(name: str, by_name: dict[str, LayerInfo], after: dict[str, list[str]],
                 alike: set[str], beside_others: bool = False, *,
                 facts: Exact, mixed: bool = False) -> list[str]:
    """The layers after ``name`` that can give its channels different gradients
    (``beside_others``: ``name`` is a concat, whose channels lie beside others already;
    ``mixed``: their values differ already, as drawn biases make them; ``facts``:
    :func:`cnnspec.check.exact.exact`, whose readers that pass no gradient back are no way for
    one to come).

    Channels that start alike stay alike only while everything that reads them treats them
    alike: elementwise layers, pools and norms do, and so does a conv or dense layer that
    weighs all its inputs alike (a constant or a kernel the same for every channel), since
    the gradient of channel c is then the same sum for every c. A grouped conv weighing its
    inputs alike sends each channel the gradient of its own group's filters instead, so what
    sets those apart sets the channels apart too. A concat passes each channel on as it is,
    but after it a group norm or a grouped conv may group the channels with others of their
    own (their statistics, their sums, differ). An add passes each channel's gradient back
    as it is too, but sums other inputs into the channels, whose values then differ (unless
    those inputs' channels are all alike too, ``alike``:
    :func:`cnnspec.check.alike.alike_channels`): after it, a layer that is not linear (a ReLU's
    mask, a max pool's choice, a norm's statistics: :attr:`Kind.linear`) sends each channel a
    gradient of its own values, and a trainable conv or dense layer, a constant one too, learns
    different weights for them from its first step on (a frozen one weighing its inputs alike keeps
    them tied). A layer whose weights differ between its inputs (any drawn init) and dropout (its
    masks differ between channels) set them apart wherever they are. Empty: the symmetry never
    breaks.
    """
    # (layer, the layer before it on the way, whether a concat put other channels beside
    # these, whether an add mixed other values into them)
    todo = [(n, name, beside_others, mixed) for n in after.get(name, [])]
    seen, breakers = set(), []
    while todo:
        state = todo.pop(0)
        if state in seen:
            continue
        seen.add(state)
        nxt, before, beside_others, mixed = state
        info = by_name[nxt]
        if facts.stop(info, before) is not None:
            continue
        if _tells_apart(info, beside_others, mixed):
            if nxt not in breakers:  # reached in more than one state
                breakers.append(nxt)
        elif not is_weighted(info.kind) or _grouped(info):
            mixed = mixed or info.kind == "add" and any(
                other not in alike for other in info.inputs if other != before)
            todo.extend((n, nxt, beside_others or info.kind == "concat", mixed)
                        for n in after.get(nxt, []))
    return breakers


def symmetric_starts(spec: Spec, estimate: signal.Estimate,
                     facts: Exact | None = None) -> dict[str, list[str]]:
    """The trainable hidden conv/dense layers with 2+ filters that start identical, by name,
    each with its :func:`tie_breakers` (none: its filters stay identical, as they do where
    its weights never change, ``facts``: :func:`cnnspec.check.exact.exact`, worked out here
    when not given).

    An output layer is left out: its units' gradients differ with the targets, so a constant
    start breaks symmetry there (batchnorm's constant scale is per channel and harmless too).
    Filters whose weights start alike under drawn biases output values that differ by channel,
    which a layer after them that is not linear, or learns, tells apart as it would after an
    add (:func:`tie_breakers`' ``mixed``). They are listed only where no layer after them
    does (a frozen constant kernel, say, which weighs them alike and passes each the same
    gradient): their weights then stay identical, whatever their biases.
    """
    layers, by_name, after = estimate.layers, estimate.by_name, estimate.consumers
    facts = exact(spec, estimate) if facts is None else facts
    alike = estimate.alike
    starts = {info.name: ([] if (info.name, WEIGHT) in facts.still
                          else tie_breakers(info.name, by_name, after, alike, facts=facts,
                                            mixed=drawn_biases(info)))
              for info in layers
              if is_weighted(info.kind) and is_trained(info.ir)
              and alike_filters(info) >= 2
              and _feeds_a_weight_layer(info.name, by_name, after)}
    zero_last = residual_zero_starts(estimate, starts, alike, facts)
    return {name: breakers for name, breakers in starts.items() if name not in zero_last
            and not (breakers and drawn_biases(by_name[name]))}


def _sets_apart_at_once(info: LayerInfo) -> bool:
    """Whether a tie breaker (:func:`tie_breakers`) sends each channel a gradient of its own
    at the first step: any but a conv or dense layer weighing its inputs alike, which does so
    only once it has learned different weights for them, a step later."""
    return not is_weighted(info.kind) or not init_alike_along(info.weight_init,
                                                              weight_axes(info)[1])


def residual_zero_starts(estimate: signal.Estimate, starts: dict[str, list[str]],
                         alike: set[str], facts: Exact) -> set[str]:
    """Of the layers ``starts`` (name -> tie breakers) whose filters start identical, those
    that are the last layer of a residual branch started at zero, whose filters are told
    apart, fully, at the first step: Fixup (Zhang, Dauphin & Ma 2019) and SkipInit start each
    block as the identity this way, as a zero last batch-norm scale does (Goyal et al. 2017).

    Filter ``f`` of a layer gets the gradient ``dW_f = sum over positions of dout_f x input``.
    With every weight 0 they start as nothing, not as one filter: after the first step they
    are ``-lr dW_f``, as different as the gradients ``dout_f`` of the channels, where the
    input is not 0 (``facts``: :func:`cnnspec.check.exact.exact`, whose weights that never
    change are not of this kind). Those differ when the layer is read only by adds of another
    input that is not 0 and whose channels differ (the identity path: the sum's values differ
    by channel, and are not 0), and a tie breaker after them tells the channels apart at once
    (:func:`_sets_apart_at_once`: the ReLU after the add, whose masks differ). A constant
    other than 0 starts every filter as one, which the same gradients only nudge apart, and
    stays warned."""
    by_name, after = estimate.by_name, estimate.consumers
    found = set()
    for name, breakers in starts.items():
        info, readers = by_name[name], after.get(name, [])
        if not starts_at_zero(info) or not readers or (name, WEIGHT) in facts.still:
            continue
        beside = [[ref for ref in by_name[r].inputs if ref != name] for r in readers]
        if (all(by_name[r].kind == "add" for r in readers)
                and all(any(ref not in alike and not facts.is_zero(ref) for ref in refs)
                        for refs in beside)
                and any(_sets_apart_at_once(by_name[b]) for b in breakers)):
            found.add(name)
    return found


# The example of a random init hints give: the one a layer takes when the spec names none.
RANDOM_INIT = f"a random init such as {BUILT_IN_DEFAULTS['weight']}"
RANDOM_WEIGHTS_HINT = f"use {RANDOM_INIT} (a bias of 0 is fine then)"


def flat_channels(spec: Spec, estimate: signal.Estimate, facts: Exact) -> list[SpecError]:
    """A warning for each trainable conv/dense layer whose weights start at 0 and whose
    biases are drawn, read only by activations flat at 0 and below (relu, relu6): each
    channel outputs its bias alone while its filter is 0, so a channel whose bias is drawn
    at 0 or less gets no gradient and never changes (:func:`cnnspec.check.exact
    .flat_channel_share`, ``facts``: :func:`cnnspec.check.exact.exact`; a layer whose
    weights never change at all is said by :func:`constant_weights`)."""
    layers, by_name, after = estimate.layers, estimate.by_name, estimate.consumers
    out = []
    for info in layers:
        bias = info.bias_init
        if not (starts_at_zero(info) and is_trained(info.ir) and bias is not None
                and bias.random and (info.name, WEIGHT) not in facts.still):
            continue
        readers = [by_name[r] for r in after.get(info.name, []) if r in by_name]
        share = flat_channel_share(info, readers)
        if share is None or share == 0:
            continue
        high = min(KINDS[r.kind].value_range[1] if KINDS[r.kind].value_range else math.inf
                   for r in readers)
        where = "0 or less" + (f" or {float_text(high)} or more" if high < math.inf else "")
        noun = KINDS[info.kind].noun
        expected = ("" if math.isnan(share) else
                    f": about {rounded_text(100 * share, 2)}% of its {info.output_shape[0]} "
                    f"{noun}, as {bias.short} draws their biases")
        pronoun = "it passes" if len(readers) == 1 else "they pass"
        out.append(spec.error(
            f"every weight of {_kind_and_name(info)} starts at 0 ({info.weight_init.short}) "
            f"and its biases are drawn ({bias.short}), so each of its {noun} outputs its bias "
            f"alone until it learns; at a bias of {where} "
            f"{listed([_activation_text(r, info.name) for r in readers])} is flat, where "
            f"{pronoun} no gradient: the {noun} whose bias is drawn there never change, nor do "
            f"their biases{expected}", info.name, BIAS_INIT_KEY, severity="warning",
            hint=RANDOM_WEIGHTS_HINT))
    return out


def still_zero_starts(layers: list[LayerInfo], facts: Exact) -> list[str]:
    """The trainable conv/dense layers whose every weight starts at 0 and never changes
    (``facts``: :func:`cnnspec.check.exact.exact`): their input is exactly 0, or no gradient
    reaches them (a ReLU after them reads only their bias of 0 or less, or the weights of a
    layer after them are 0 too), whatever the lr."""
    return [info.name for info in layers
            if starts_at_zero(info) and is_trained(info.ir) and (info.name, WEIGHT) in facts.still]


# A layer whose ReLU passes less than this share of its inputs at init (one in 20) learns from
# few examples: its bias is said to silence it. Not 1 - cnnspec.check.signal
# .PAST_ESTIMATE_DEAD (0.21 alive), which says where the estimate stops holding for sums whose
# mean drifts with depth; the sums here have mean 0, their Gaussian share alive holds (the
# engine measures it), and a layer that passes 1 in 10 of them is thinned, not dead.
LEAST_ALIVE = 0.05


def silenced_starts(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """A warning for each trainable conv/dense layer whose constant negative bias puts nearly
    all its outputs below 0, read by an activation flat there (``Kind.flat_at_zero``), directly
    or through layers that keep their values' signs (a max pool: :func:`_flat_reader`).

    Where the layer's sums have a mean of 0 (weights drawn symmetric about 0, or a fixed
    kernel that sums to 0, whatever its input's mean), each output is a sum ``s`` about
    normal with mean 0 and the second moment ``q`` of the signal estimate
    (:func:`cnnspec.check.signal.moments`, for inputs of unit mean square, the biases before
    it counted: a ReLU a negative bias thins passes less on to the next layer), plus the
    bias ``b``: the ReLU passes ``P(s + b > 0) = Phi(b / sqrt(q))`` of them (He et al. 2015's
    symmetric sums), and only those send a gradient back; after a max pool of ``k`` values,
    the largest of a window, ``1 - Phi(-b / sqrt(q))^k``. Below :data:`LEAST_ALIVE`, the
    layer starts nearly dead (a weight of 0 too: :func:`still_zero_starts`, which never
    changes). Sums whose mean is not 0 without the bias (a kernel drawn about a mean) are
    :func:`cnnspec.check.signal.dying_sums`'."""
    layers, by_name, after = estimate.layers, estimate.by_name, estimate.consumers
    unbiased = estimate.second_moments
    centred = estimate.moments[1]
    out = []
    for info in layers:
        weight, bias = info.weight_init, info.bias_init
        if not (is_weighted(info.kind) and is_trained(info.ir) and bias is not None
                and bias.constant and bias.mean < 0 and centred.get(info.name) == 0):
            continue
        way = _flat_reader(info.name, by_name, after)
        values = estimate.biased_sums.get(way[-1].inputs[0]) if way else None
        # the sums' own second moment, the constant bias their offset (biased_sums): the
        # layer's output less the bias's square lost it where the square swamps it (-1e30:
        # 1e60 less 1e60 is 0) or is beyond float64's range (-1e300: inf less inf)
        spread = math.sqrt(values.q) if values is not None else 0.0
        if values is None or not values.offset < 0 or not 0 < spread < math.inf:
            continue
        if _alive_share(values) >= LEAST_ALIVE:
            continue
        out.append(spec.error(
            f"{info.kind} '{info.name}': its biases start at {float_text(bias.mean)}, "
            f"{rounded_text(-bias.mean / spread)} times the std of its sums ({weight.short}: "
            f"about {rounded_text(spread)} for inputs of unit mean square"
            f"{_thinned_text(spread, unbiased[info.name], info.name, by_name)}), so "
            f"{_silenced_text(info, way)} passes {_alive_text(values)} "
            f"of {_alive_formula(values.k)} and the rest send no gradient back: the layer "
            "starts nearly dead",
            info.name, BIAS_INIT_KEY, severity="warning",
            hint="start the biases at 0 (zeros), or small and positive (constant(0.01)) to "
                 "keep ReLUs alive"))
    return out


def _flat_reader(name: str, by_name: dict[str, LayerInfo],
                 after: dict[str, list[str]]) -> list[LayerInfo]:
    """The way from layer ``name`` to the activation flat at 0 and below (relu, relu6) that
    reads its values: its readers, where they all are such activations (the first of them
    ends the way), or one line of layers that keep their values' signs (``Kind.keeps_sign``:
    a max pool, dropout) up to one, each the only reader of the layer before it; empty where
    another layer reads them, which may send every value a gradient back."""
    readers = [by_name[reader] for reader in after.get(name, [])]
    if readers and all(KINDS[reader.kind].flat_at_zero for reader in readers):
        return readers[:1]
    way = []
    while len(readers) == 1:
        kind = KINDS[readers[0].kind]
        way.append(readers[0])
        if kind.flat_at_zero:
            return way
        if not kind.keeps_sign:
            break
        readers = [by_name[reader] for reader in after.get(readers[0].name, [])]
    return []


def _alive_share(values: signal.Sums) -> float:
    """The share of a flat activation's inputs above 0, for inputs that are sums ``offset``
    of their stds from 0 (the largest of ``k`` of them, taken apart): ``Phi(offset)`` for
    one, ``1 - Phi(-offset)^k`` for the largest of ``k``, in logs for a share far below 1."""
    one = 0.5 * math.erfc(-values.offset / math.sqrt(2))  # Phi(offset)
    return one if values.k == 1 else -math.expm1(values.k * math.log1p(-one))


# A share alive below this is said as almost none with its order of magnitude ("about 1 in
# 10^12"): as a percentage it reads as a row of zeros (7.7e-11%), and below float64's
# smallest number (a bias 38.5 stds below 0) as "0%", which is not what the estimate says.
ALMOST_NONE = 1e-4


def _alive_text(values: signal.Sums) -> str:
    """:func:`_alive_share` as a warning says it: ``only 1.7%``, or where that is below
    :data:`ALMOST_NONE`, ``almost none, about 1 in 10^12``."""
    log_share = _log_alive_share(values)
    if log_share >= math.log(ALMOST_NONE):
        return f"only {rounded_text(100 * math.exp(log_share), 2)}%"
    if log_share == -math.inf:  # a bias over 1e154 stds below 0: x^2 is beyond float64
        return "almost none, fewer than 1 in 10^308,"
    exponent = -log_share / math.log(10)
    digits = round(exponent) if exponent < 1e6 else rounded_text(exponent, 2)
    return f"almost none, about 1 in 10^{digits},"


def _log_alive_share(values: signal.Sums) -> float:
    """The log of :func:`_alive_share`, also where the share is below float64's smallest
    number: there ``log Phi(x) = -x^2 / 2 - log(-x sqrt(2 pi))``, the first term of the
    normal tail's asymptotic series (Abramowitz & Stegun 26.2.12; relative error below
    1/x^2, under 0.07% where erfc underflows, past x = -38.5), and the largest of
    ``k`` sums passes ``k Phi(x)``."""
    share = _alive_share(values)
    if share > 0:
        return math.log(share)
    x = values.offset
    return math.log(values.k) - x * x / 2 - math.log(-x * math.sqrt(2 * math.pi))


def _alive_formula(k: int) -> str:
    """How :func:`_alive_share` is worked out, as a warning says it."""
    if k == 1:
        return "its outputs (Phi(b / std))"
    return (f"its windows (1 - Phi(-b / std)^{k}: a window whose {k} sums are all below 0 "
            "passes nothing)")


def _silenced_text(info: LayerInfo, way: list[LayerInfo]) -> str:
    """The activation at the end of ``way`` from ``info`` (:func:`_flat_reader`) as a warning
    names it: ``its relu`` where it ends ``info``'s line (`conv 8 3x3 relu`), and the layers
    between where there are some."""
    activation = way[-1]
    if len(way) == 1:
        return (f"its {activation.kind}" if activation.name == f"{info.name}_{activation.kind}"
                else f"{activation.kind} '{activation.name}'")
    between = listed([f"{layer.kind} '{layer.name}'" for layer in way[:-1]])
    return f"{activation.kind} '{activation.name}', after {between},"


def _thinned_text(spread: float, unbiased: float, name: str,
                  by_name: dict[str, LayerInfo]) -> str:
    """Where the biases before a layer shrink its sums (a negative one silences the ReLU
    that feeds it), how much: the std with biases of 0 would be ``sqrt(unbiased)``."""
    if not 0 < unbiased < math.inf or spread >= 0.9 * math.sqrt(unbiased):
        return ""
    upstream = set(_reached(by_name[name].inputs, lambda n: by_name[n].inputs))
    before = [n for n, info in by_name.items()
              if n in upstream and signal.constant_bias(info) < 0]
    said = listed([f"'{n}'" for n in before]) if before else "the layers before it"
    return (f", not the {rounded_text(math.sqrt(unbiased))} of biases of 0: the negative biases "
            f"of {said} leave it little input")


def _learns_before(name: str, by_name: dict[str, LayerInfo]) -> bool:
    """Whether a layer with trainable parameters lies anywhere upstream of ``name``."""
    return any(by_name[n].trainable_params
               for n in _reached(by_name[name].inputs, lambda n: by_name[n].inputs))


def _activation_text(reader: LayerInfo, name: str | None) -> str:
    """An activation as a warning about layer ``name`` names it: ``its relu`` where it is the
    one ending ``name``'s line (``conv 8 3x3 relu``), ``c2's relu`` another line's (any line's
    where ``name`` is None: a message about several layers), else by kind and name."""
    for owner in reader.inputs:
        if reader.name == f"{owner}_{reader.kind}":
            return f"its {reader.kind}" if owner == name else f"{owner}'s {reader.kind}"
    return f"{reader.kind} '{reader.name}'"


def _stops_text(info: LayerInfo, stops: tuple[Stop, ...],
                by_name: dict[str, LayerInfo], own: bool = True) -> str:
    """Why no gradient reaches layer ``info`` (:class:`cnnspec.check.exact.Stop` s): layers
    after it whose weights are 0, activations flat at the one number every input to them
    is (that of ``info``'s own biases, where they read it); ``own`` False names the activation
    ending ``info``'s line as any other (:func:`_activation_text`)."""
    parts, name = [], info.name if own else None
    zeros = [f"'{stop.reader}'" for stop in stops if stop.value is None]
    if zeros:
        parts.append(f"no gradient comes back past {listed(zeros)}, whose weights are 0 and "
                     "stay 0")
    flat = {}
    for stop in stops:
        if stop.value is not None:
            flat.setdefault(stop.value, []).append(by_name[stop.reader])
    for value, readers in flat.items():
        start = ""
        if any(info.name in r.inputs for r in readers):  # the number is its bias
            start = ("with no bias " if info.bias_init is None
                     else f"with biases of {float_text(value)} ")
        pronoun = "it passes" if len(readers) == 1 else "they pass"
        parts.append(f"{start}every input to "
                     f"{listed([_activation_text(r, name) for r in readers])} is "
                     f"{float_text(value)}, where {pronoun} no gradient")
    return "; ".join(parts)


def _still_fate(info: LayerInfo, facts: Exact, by_name: dict[str, LayerInfo],
                symmetric: bool) -> str:
    """Why the weights of ``info`` never change (:func:`_still_why`); that the whole layer
    never changes where its bias does not either, and that it passes no gradient back to what
    lies before it; ``symmetric``: its filters also start identical, which then stay so."""
    why = _still_why(info, facts, by_name)
    subject = (f"{info.name} never changes" if facts.unchanged(info)
               else f"{info.name}'s weights never change")
    tie = ", so symmetry never breaks" if symmetric else ""
    before = (", and no gradient passes back through it to the layers before"
              if facts.passes_nothing_back(info) and _learns_before(info.name, by_name) else "")
    return f"{why}: {subject}{tie}{before}"


def _still_why(info: LayerInfo, facts: Exact, by_name: dict[str, LayerInfo],
               own: bool = True) -> str:
    """Why the weights of ``info`` never change (:func:`cnnspec.check.exact.exact`): no
    gradient reaches it (which holds its bias too), or its input is exactly 0; ``own``: as
    :func:`_stops_text`."""
    if info.name in facts.silent:
        return _stops_text(info, facts.silent[info.name], by_name, own)
    source = zero_source(info.inputs[0], facts, by_name)
    if KINDS[info.kind].family == "norm":
        return (f"its input is the zero output of '{source}', so its normalised input is 0 "
                "too, and the gradient of its scale (its output's gradient times that) is 0")
    return (f"its input is the zero output of '{source}', so the gradient of its weights "
            "(its output's gradient times its input) is 0")


def lasting_alike_filters(spec: Spec, estimate: signal.Estimate,
                          facts: Exact) -> dict[str, int]:
    """How many filters of each trainable conv/dense layer start identical and stay identical
    at every step, as check says (``facts``: :func:`cnnspec.check.exact.exact`): all those that
    start alike where the layer's weights never change (:func:`constant_weights` and
    :func:`held_still` say so, of an output layer too: weights that never change cannot come
    apart, whatever the loss sends its units), those of :func:`symmetric_starts` where nothing
    after the layer tells them apart, and ``identity``'s all-zero filters that a flat
    activation passes no gradient (:func:`cnnspec.check.exact.flat_zero_filters`); other
    layers are left out (none); and a frozen layer's copies (:func:`frozen_copy_count`). What
    ``init-report``'s "same filters" column shows, and what the diagram marks."""
    by_name, after = estimate.by_name, estimate.consumers
    symmetric = symmetric_starts(spec, estimate, facts)
    lasting = {}
    for info in estimate.layers:
        name = info.name
        if not (is_weighted(info.kind) and is_trained(info.ir)):
            lasting[name] = frozen_copy_count(info)
            continue
        if (name, WEIGHT) in facts.still or symmetric.get(name) == []:
            lasting[name] = alike_filters(info)
        elif name in symmetric:
            lasting[name] = flat_zero_filters(info, [by_name[r] for r in after.get(name, [])])
    return {name: count for name, count in lasting.items() if count >= 2}


def _flat_filters_fate(info: LayerInfo, reader: LayerInfo, count: int) -> str:
    """Why the ``count`` filters of ``info`` that start at 0 never change, its ``reader`` (one
    of the activations, alike, that read it) flat at their bias
    (:func:`cnnspec.check.exact.flat_zero_filters`)."""
    value = 0.0 if info.bias_init is None else info.bias_init.mean
    start = "with no bias" if info.bias_init is None else f"with biases of {float_text(value)}"
    number = float_text(value)
    return (f"{start} each outputs {number} alone while its weights are 0, and "
            f"{_activation_text(reader, info.name)}'s slope at {number} is 0, so it passes "
            f"them no gradient: those {count} {KINDS[info.kind].noun} never change (nor their "
            f"biases), and the layer has the use of only the other "
            f"{info.output_shape[0] - count}")


def _kind_and_name(info: LayerInfo) -> str:
    """``dense fc``; ``dense1`` alone, where the name (a default one) says the kind already."""
    return info.name if info.name.startswith(info.kind) else f"{info.kind} {info.name}"


def _still_hint(info: LayerInfo, facts: Exact, by_name: dict[str, LayerInfo]) -> str | None:
    """Where the weights of ``info`` never change only because its input is 0, what to mend:
    the layer that makes the zeros (with an input that is not 0, a zero start learns: a
    zero-initialised classifier head, the last conv of a residual branch)."""
    if info.name in facts.silent or (info.name, WEIGHT) not in facts.still:
        return None
    return (f"start '{zero_source(info.inputs[0], facts, by_name)}', which makes the zeros, with "
            f"{RANDOM_INIT}")


def constant_weights(spec: Spec, estimate: signal.Estimate, facts: Exact) -> list[SpecError]:
    """A warning for each layer of :func:`symmetric_starts`: that the symmetry never breaks
    where nothing after the layer can tell its filters apart (:func:`tie_breakers`), or that
    only the layers after it can; and for each layer of :func:`still_zero_starts`, that its
    weights never change, and why (said in the same warning where its filters also start
    identical: no gradient comes back to tell them apart). Every layer whose weights never
    change is said to (``facts``: :func:`cnnspec.check.exact.exact`), not to be told
    apart."""
    said = {}
    layers, by_name, after = estimate.layers, estimate.by_name, estimate.consumers
    symmetric = symmetric_starts(spec, estimate, facts)
    for name in still_zero_starts(layers, facts):
        if name not in symmetric:
            info = by_name[name]
            said[name] = spec.error(
                f"every weight of {_kind_and_name(info)} starts at 0 "
                f"({info.weight_init.short}), and {_still_fate(info, facts, by_name, False)}",
                name, WEIGHT_INIT_KEY, severity="warning",
                hint=_still_hint(info, facts, by_name)
                or RANDOM_WEIGHTS_HINT)
    for name, breakers in symmetric.items():
        info = by_name[name]
        which, how = _alike_words(info)
        if info.weight_init.distribution != "identity":
            how = "; ".join(filter(None, [how, biases_apart(info)]))
            hint = f"use {RANDOM_INIT}" + (
                " (or, for a kernel meant to stay fixed, one frozen filter of it: frozen copies "
                "add nothing)" if info.weight_init.distribution == "literal" else "")
        else:
            hint = _identity_hint(info)
        flat = flat_zero_filters(info, [by_name[r] for r in after.get(name, [])])
        if (name, WEIGHT) in facts.still:
            fate = f", and {_still_fate(info, facts, by_name, True)}"
        elif flat:
            fate = f", and {_flat_filters_fate(info, by_name[after[name][0]], flat)}"
        elif breakers:
            fate = (f": they compute the same output and start as one, told apart only by the "
                    f"gradients that come back through {listed(breakers)}")
        elif drawn_biases(info):
            fate = (": every layer after it weighs them alike, so they get identical gradients "
                    "and their weights stay identical: symmetry never breaks")
        else:
            fate = (", so they get identical gradients and stay identical: symmetry never "
                    "breaks")
        hint = "; ".join(filter(None, [hint, _still_hint(info, facts, by_name),
                                       SAME_NAME_ELSEWHERE.get(info.weight_init.name)]))
        said[name] = spec.error(
            f"{which} start identical ({how}){fate}",
            info.name, WEIGHT_INIT_KEY, severity="warning", hint=hint)
    return [said[info.name] for info in layers if info.name in said]  # in the network's order


def _alike_words(info: LayerInfo) -> tuple[str, str]:
    """Which filters of a conv/dense layer start alike (:func:`cnnspec.check.alike
    .alike_filters`) and how, as the warnings say them: ``all 8 filters of c``, ``the 4
    filters of each of c's 2 groups`` or, under ``identity``, ``7 of the 8 filters of c``;
    and the init (``sobel_x 3x3``), or why identity's are all zero."""
    what, count = KINDS[info.kind].noun, alike_filters(info)
    if info.weight_init.distribution == "identity":
        how = (f"all zero: {info.weight_init.name} has a 1 only for the first "
               f"{info.weight_shape[1]}, one per input channel")
        return f"{count} of the {info.output_shape[0]} {what} of {info.name}", how
    groups = groups_of(info)
    all_of = f"both {what}" if count == 2 else f"all {count} {what}"
    which = (f"{all_of} of {info.name}" if groups == 1
             else f"the {count} {what} of each of {info.name}'s {groups} groups")
    return which, info.weight_init.short


def _identity_hint(info: LayerInfo) -> str:
    """What to use where ``identity`` leaves filters all zero (more outputs than inputs)."""
    return (f"{info.weight_init.name} passes the input through only where the output has no "
            f"more channels than the input; use {BY_NAME['orthogonal'].name} or "
            f"{BUILT_IN_DEFAULTS['weight']} here")


def frozen_copies(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """A warning for each conv/dense layer the output uses whose weights do not train
    (``frozen``, an ``lr_mult`` of 0: :func:`is_trained`) and whose filters are copies of one
    another, two or more: a constant or a fixed kernel written once for every filter, its
    biases alike (:func:`cnnspec.check.alike.identical_filter_count`), or ``identity``'s
    all-zero filters beyond the input's channels. Copies compute one output again and again,
    and frozen they can never come apart: `conv 16 3x3 weight sobel_x frozen` is one Sobel
    filter's work done 16 times, its 16 channels one feature for the layers after it. A
    trainable layer whose filters start alike is :func:`constant_weights`' (they may come
    apart)."""
    out = []
    for info in estimate.layers:
        if info.name not in estimate.used or frozen_copy_count(info) < 2:
            continue
        which, how = _alike_words(info)
        count = alike_filters(info)
        times = "twice" if count == 2 else f"{count} times"
        learning = (", but for the biases, which learn" if info.bias_init is not None
                    and is_trained(info.ir, "bias") else "")
        out.append(spec.error(
            f"{which} are copies ({how}) and frozen: they compute one output {times}, "
            f"and never come apart{learning}, so the layers after them read one feature "
            f"where they read {count} channels", info.name, WEIGHT_INIT_KEY, severity="warning",
            hint=_identity_hint(info) if info.weight_init.distribution == "identity"
            else _copies_hint(info)))
    return out


def nothing_trains(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """A warning where the layers the output uses have parameters and none of them trains
    (each layer ``frozen``, or every parameter given an ``lr_mult`` of 0: :func:`is_trained`):
    a run of the spec changes no weight, its loss staying where the init puts it, as an lr of
    0 would (which the train block refuses); train would then say the network learned
    nothing and suggest a lower learning rate. At the last such layer's word that holds it."""
    held = [info for info in estimate.layers if info.name in estimate.used and info.params]
    if not held or any(info.trainable_params for info in held):
        return []
    by_word: dict[str, list[str]] = {}
    for info in held:
        frozen = not info.ir.get("trainable", True)
        by_word.setdefault("frozen" if frozen else "lr_mult 0", []).append(f"'{info.name}'")
    said = "; ".join(f"`{word}`: {listed(folded_texts(spec, names))}"
                     for word, names in by_word.items())
    last = held[-1]
    field = "trainable" if not last.ir.get("trainable", True) else "lr_mult"
    undo = " or ".join(UNDONE[word] for word in by_word)
    return [spec.error(
        f"no parameter of the network trains: every layer with parameters is held ({said}), "
        "so training changes no weight and the loss stays where the init puts it", last.name,
        field, severity="warning",
        hint=f"let the layers that are to learn train (at least the last, '{last.name}'): "
        f"{undo}")]


# How a layer held by each word (nothing_trains) is let to learn again.
UNDONE = {"frozen": "remove their `frozen`", "lr_mult 0": "give them an lr_mult above 0"}


def frozen_copy_count(info: LayerInfo) -> int:
    """How many filters of a conv/dense layer whose weights do not train are copies of one
    another (:func:`cnnspec.check.alike.identical_filter_count`); 0 for any other layer."""
    if not is_weighted(info.kind) or is_trained(info.ir, WEIGHT):
        return 0
    return identical_filter_count(info)


def _copies_hint(info: LayerInfo) -> str:
    """What to write for a frozen layer whose filters are copies: the one it computes (one
    filter a group), a conv's kernel for each filter (a 3-D literal), or a drawn init where
    they are to learn."""
    noun, groups = KINDS[info.kind].noun, groups_of(info)
    one = f"1 of the layer's {noun}" if groups == 1 else f"{groups} {noun}, one a group"
    each = (", or a kernel for each filter (a 3-D literal [filters][kh][kw])"
            if info.kind == "conv" else "")
    return f"keep {one}{each}; or let the layer learn from {RANDOM_INIT}"


def held_still(spec: Spec, estimate: signal.Estimate, facts: Exact) -> list[SpecError]:
    """One warning naming every trainable layer whose init is not a zero start but some of
    whose parameters never change all the same (``facts``: :func:`cnnspec.check.exact
    .exact`), held by the zero weights of the layers :func:`constant_weights` warns of (their
    roots), each with why (:func:`_still_why`), layers held alike said together; and what
    still learns, where that is little. A parameter is named by its checkpoint key
    (``out.weight``) where the rest of its layer learns."""
    layers, by_name, used = estimate.layers, estimate.by_name, estimate.used
    roots = still_zero_starts(layers, facts)
    held = [info for info in layers if info.name not in roots
            and any(is_trained(info.ir, part) for part in facts.still_parts(info))]
    if not held:
        return []
    groups: dict[tuple[bool, str], list[str]] = {}
    for info in held:
        whole = facts.unchanged(info)
        name = info.name if whole else f"{info.name}.{WEIGHT}"
        why = _still_why(info, facts, by_name, own=False)
        groups.setdefault((whole, why), []).append(name)
    # the copies of a repeat block's statement said once, as other diagnostics say them
    said = "; ".join(folded_texts(spec, [
        f"{listed(names)} never change{'s' if len(names) == 1 else ''} ({why})"
        for (_, why), names in groups.items()]))
    learning = [f"{info.name}.{part}" for info in layers if info.name in used
                for part in facts.learning_parts(info) if is_trained(info.ir, part)]
    zeros = listed(folded_texts(spec, roots))
    return [spec.error(
        f"the zero weights of {zeros} also hold still layers whose inits are not zero: "
        f"{said}{_learning_text(learning)}", roots[0], WEIGHT_INIT_KEY,
        severity="warning", hint=f"start {zeros} with {RANDOM_INIT}")]


# Up to how many learning parameters a warning that others never change names.
FEW_LEARNING = 3


def _learning_text(learning: list[str]) -> str:
    """What still learns, said where it is little: nothing, or the few parameters of
    ``learning`` (checkpoint keys)."""
    if not learning:
        return "; nothing in the network learns"
    if len(learning) > FEW_LEARNING:
        return ""
    verb = "learns" if len(learning) == 1 else "learn"
    return f"; only {listed(learning)} {verb}"


def _reach(info: LayerInfo) -> Reach | None:
    """What each output of a trainable layer that is a linear map of its input reads
    (:attr:`Kind.reach`: a conv, transposed conv or dense layer); None for any other layer
    and for a frozen one: a fixed map (Sobel kernels, a hand-written detector) is a choice of
    features the next layer learns from, and it adds nothing to learn."""
    reach = KINDS[info.kind].reach
    return reach(info.ir, info.input_shapes[0]) if reach and is_trained(info.ir) else None


def _factorised(first: Reach, second: Reach) -> bool:
    """Whether each of two linear maps mixes an axis of its input the other does not: a
    depthwise conv rows and columns, a pointwise (1x1) conv channels (the depthwise separable
    conv of Sifre 2014 and Chollet 2017, either way round); a 3x1 conv rows, a 1x3 conv
    columns (Jaderberg et al. 2014's vertical and horizontal filters). Such a pair is one
    larger map factorised into cheaper ones by design; in any other, one of the two could
    already mix everything the other mixes."""
    return not (first.axes <= second.axes or second.axes <= first.axes)


def _one_map(first: Reach, second: Reach, direct: bool) -> tuple[str, str]:
    """What a linear map ``first`` read by a linear map ``second`` (``direct``: with no layer
    between) composes into, and the one layer to write instead: a dense reader gives a map one
    dense layer computes; two convs, one whose window spans ``w1 + (w2 - 1) s1`` input pixels
    a side at stride ``s1 s2`` (two 3x3 stride-1 convs: 5x5, a 5x5 conv's reach)."""
    if second.window is None:
        return ", which one dense layer computes", "one dense layer"
    if direct and first.stride and second.stride:
        window = [w1 + (w2 - 1) * s1
                  for w1, w2, s1 in zip(first.window, second.window, first.stride)]
        stride = [s1 * s2 for s1, s2 in zip(first.stride, second.stride)]
        size = pair_text(window)
        return (f", with a {size} reach at stride {step_text(stride)} (one {size} conv's)",
                f"one {size} conv")
    return "", "one layer"


def stacked_linear(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """A warning for each trainable conv, transposed conv or dense layer (:attr:`Kind.reach`)
    whose output only such layers read, with nothing but linear layers between
    (:attr:`Kind.linear`: a flatten, a concat, an add, an average pool, ...; no activation,
    dropout, norm or max pool, which pass on values chosen or scaled by the values
    themselves): two linear maps compose into one, so the stack adds parameters, not the
    expressiveness depth is for. An average pool keeps the pair one linear map (a fixed mean
    of each window); a max pool's choice of the largest value does not. Not warned: the
    output layer, a pair one of which is frozen (:func:`_reach`) and a factorisation
    (:func:`_factorised`: a separable conv)."""
    layers, by_name, after = estimate.layers, estimate.by_name, estimate.consumers
    linear = {info.name for info in layers if KINDS[info.kind].linear}
    out = []
    for info in layers:
        first = _reach(info)
        if first is None or info.name == spec.ir.get("output"):
            continue
        # through the linear layers after it, to the layers that compute on it
        readers = [by_name[n] for n in _reached(after.get(info.name, []),
                                                lambda n: after.get(n, []) if n in linear else [])
                   if n not in linear]
        seconds = [_reach(r) for r in readers]
        if not readers or any(s is None or _factorised(first, s) for s in seconds):
            continue
        maps = {_one_map(first, s, r.inputs == [info.name]) for r, s in zip(readers, seconds)}
        detail, instead = maps.pop() if len(maps) == 1 else ("", "one layer")
        paths = [_linear_path(info.name, r.name, after, linear) for r in readers]
        verb = "is read by" if all(len(path) == 2 for path in paths) else "reaches"
        named = [f"{r.kind} {r.name!r}" + (f" ({' -> '.join(path)})" if len(path) > 2 else "")
                 for r, path in zip(readers, paths)]
        out.append(spec.error(
            f"{info.kind} '{info.name}' {verb} {listed(named)} with no activation between: "
            f"two linear maps make one{detail}, so the stack adds parameters, not "
            "expressiveness", info.name, severity="warning",
            hint=_linear_hint(spec, info.name, paths, by_name, instead)))
    return out


def _linear_path(start: str, reader: str, after: dict[str, list[str]],
                 linear: set[str]) -> list[str]:
    """The layers from ``start`` to ``reader`` through ``linear`` layers alone, both ends
    included (the shortest such way, breadth first): the way the values of ``start`` go."""
    ways, todo = {start: [start]}, [start]
    while todo:
        name = todo.pop(0)
        for onward in after.get(name, []):
            if onward in ways:
                continue
            ways[onward] = ways[name] + [onward]
            if onward == reader:
                return ways[onward]
            if onward in linear:
                todo.append(onward)
    return [start, reader]


def _linear_hint(spec: Spec, name: str, paths: list[list[str]], by_name: dict[str, LayerInfo],
                 instead: str) -> str:
    """The hint for the linear way from ``name`` along ``paths``: the activation after the
    first merge on them, where the branches meet, as a residual block adds before its ReLU
    (He et al. 2016, "Deep residual learning", Fig. 2), its line written with the activation
    where the spec's text gives it (the merge reads other branches too: no one layer replaces
    the two); else at the end of ``name``'s line, or ``instead`` of the two layers."""
    merges = [step for path in paths for step in path[1:-1] if KINDS[by_name[step].kind].merge]
    if not merges:
        return (f"put an activation between (end the line of '{name}' with relu), or write "
                f"{instead} in place of the two")
    merge = by_name[merges[0]]
    span = spec.span_of(merge.name)
    line = None if spec.text is None or span is None else \
        source_lines(spec.text)[span.line - 1].split("#", 1)[0].strip()
    written = f"`{line} relu`" if line else f"end the line of '{merge.name}' with relu"
    return (f"put an activation after {merge.kind} '{merge.name}', where the branches meet "
            f"({written}), not before it on the line of '{name}'")


def padding_beyond_reach(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """A warning for each layer whose zero padding (``Kind.zero_padded``) on some side is more
    than its kernel reaches, ``(k - 1) * dilation``: the outputs there read only the zeros
    (a conv's bias alone), rows or columns that carry nothing of the input."""
    out = []
    for info in layers:
        if not KINDS[info.kind].zero_padded or not info.pads:
            continue
        reach = [(k - 1) * d for k, d in zip(info.ir["kernel"], info.ir["dilation"])]
        excess = [-(-(pad - reach[side // 2]) // info.ir["stride"][side // 2])
                  for side, pad in enumerate(info.pads)]  # outputs a side, top bottom left right
        if max(excess) <= 0:
            continue
        # (no more than the output has: a side's excess may reach across all of it)
        rows = min(max(excess[0], 0) + max(excess[1], 0), info.output_shape[1])
        columns = min(max(excess[2], 0) + max(excess[3], 0), info.output_shape[2])
        lines = " and ".join(counted(n, what) for n, what in ((rows, "row"), (columns, "column"))
                             if n)
        out.append(spec.error(
            f"{info.kind} '{info.name}' pads {pads_text(info.ir['padding'], info.pads)} where its "
            f"{shape_text(info.ir['kernel'])} kernel reaches "
            f"{' and '.join(str(r) for r in dict.fromkeys(reach))}: {lines} of its output "
            "read only the padding's zeros "
            f"({'they hold its bias alone' if info.ir.get('bias') else 'they hold 0'})",
            info.name, "padding", severity="warning",
            hint=f"pad at most {shape_text(reach) if reach[0] != reach[1] else reach[0]} (kernel "
                 "- 1, times the dilation) on each side; `pad same` keeps the size"))
    return out


def _underflow(spec: Spec, info: LayerInfo, field: str, dtype: str) -> SpecError | None:
    """A warning if the init in ``info.ir[field]`` makes values that ``dtype`` holds only as 0
    or as subnormal numbers (below ``numpy.finfo(dtype).tiny``)."""
    init = info.weight_init if field == WEIGHT_INIT_KEY else info.bias_init
    layout = FORMATS[dtype]
    scale = None if init is None else init.scale
    if scale is None or not 0 < scale < layout.tiny:
        return None
    what = "weights" if field == WEIGHT_INIT_KEY else "biases"
    fate = ("start as 0" if scale < layout.smallest_subnormal / 2 else
            "start subnormal, with few significant bits, and slow every product they enter")
    return spec.error(
        f"{info.kind} '{info.name}': the {field.replace('_', ' ')} {init.short} makes {what} "
        f"of about {rounded_text(scale)}, below {dtype}'s smallest normal number, "
        f"{rounded_text(layout.tiny)}: in "
        f"{dtype}, the dtype they are trained in, they {fate}", info.name, field,
        severity="warning",
        hint=f"make the {what} at least {rounded_text(layout.tiny)} in size "
             f"(numpy.finfo('{dtype}').tiny, the smallest {dtype} with all its significant bits)"
             + (f"; {BUILT_IN_DEFAULTS['weight']} sizes them from the layer's fans, "
                f"{BY_NAME['zeros'].name} starts every weight at exactly 0"
                if field == WEIGHT_INIT_KEY else
                f"; {BY_NAME['zeros'].name} starts every bias at exactly 0"))


def underflowing_inits(spec: Spec, layers: list[LayerInfo], dtype: str) -> list[SpecError]:
    """A warning for each init of a conv/dense layer whose values are too small for ``dtype``
    (:func:`_underflow`): ``normal(0, 1e-300)``, ``he_normal(gain=1e-300)`` or a kernel of such
    numbers start every value at 0 in float32, though check's arithmetic (float64) holds them."""
    return [found for info in layers if is_weighted(info.kind)
            for field in (WEIGHT_INIT_KEY, BIAS_INIT_KEY)
            if (found := _underflow(spec, info, field, dtype))]


# A drawn init whose std is below this many steps of the training dtype at its mean puts its
# values on a dozen numbers or fewer (within 2 std of the mean): the distribution is not drawn.
SPREAD_STEPS = 3


def _lost_spread(spec: Spec, info: LayerInfo, field: str, dtype: str) -> SpecError | None:
    """A warning if the init in ``info.ir[field]``, one the catalogue says is drawn from a
    distribution with explicit parameters (family ``random``: a mean or centre and a spread),
    spreads its values less than :data:`SPREAD_STEPS` of ``dtype``'s steps near its mean:
    ``normal(1000, 1e-5)`` in float32, whose numbers near 1000 are 6.1e-5 apart, starts
    nearly every weight at one value. A mean below ``dtype``'s normal numbers is the
    underflow warning's (:func:`_underflow`)."""
    init = info.weight_init if field == WEIGHT_INIT_KEY else info.bias_init
    if init is None or BY_NAME[init.name].family != "random" or not init.std or not init.mean:
        return None
    layout = FORMATS[dtype]
    step = layout.spacing(init.mean)
    if abs(init.mean) < layout.tiny or init.std >= SPREAD_STEPS * step:
        return None
    what = "weights" if field == WEIGHT_INIT_KEY else "biases"
    mean = rounded_text(init.mean, 6)
    values = 4 * init.std / step  # the steps within 2 std of the mean
    fate = (f"nearly all the {what} start as one value" if values < 1 else
            f"the {what} start on about {round(values) + 1} distinct values")
    wider = rounded_text(SPREAD_STEPS * step, 2)
    # a hint template: the dtype is named as the run is given it (--dtype, dtype=)
    other = ("" if dtype == "float64" else
             f", or train in float64 (`{{dtype:float64}}`), whose numbers near {mean} are "
             f"{rounded_text(FORMATS['float64'].spacing(init.mean), 2)} apart")
    return spec.error(
        f"{info.kind} '{info.name}': the {field.replace('_', ' ')} {init.short} spreads its "
        f"{what} by a std of {rounded_text(init.std)} about {mean}, but {dtype}'s numbers near "
        f"{mean} are {rounded_text(step)} apart: in {dtype}, the dtype they are trained in, "
        f"{fate}", info.name, field, severity="warning",
        hint_template=f"make the spread (std) at least {wider} ({SPREAD_STEPS} steps of "
                      f"{dtype} there){other}; for one value everywhere write constant({mean})")


def lost_spreads(spec: Spec, layers: list[LayerInfo], dtype: str) -> list[SpecError]:
    """A warning for each drawn init of a conv/dense layer whose spread ``dtype`` cannot hold
    about its mean (:func:`_lost_spread`)."""
    return [found for info in layers if is_weighted(info.kind)
            for field in (WEIGHT_INIT_KEY, BIAS_INIT_KEY)
            if (found := _lost_spread(spec, info, field, dtype))]


def _sugar_chains(spec: Spec) -> dict[str, list[dict]]:
    """For each line's name, the layers the words at the end of its line made, in order: each
    takes the one before it alone and is named ``<base>_<word>`` (`a: conv 8 3 bn relu`: a_bn,
    a_relu); found for every line in one pass over the layers."""
    chains: dict[str, list[dict]] = {}
    last: dict[str, str] = {}
    for layer in spec.ir["layers"]:
        made = sugar_word(layer["name"], layer["kind"])
        if made and layer["inputs"] == [last.get(made[0], made[0])]:
            chains.setdefault(made[0], []).append(layer)
            last[made[0]] = layer["name"]
    return chains


def _sugar_words(chain: list[dict]) -> str:
    """The words a chain's layers were made from: ``relu``, ``bn and relu``."""
    return " and ".join(sugar_word(link["name"], link["kind"])[1] for link in chain)


def _unused_hint(layer: dict, used: set[str], spec: Spec, chains: dict[str, list[dict]]
                 ) -> str:
    """How to fix an unused layer. The common case is sugar: in `a: conv 8 3 relu` (or
    `a: conv 8 3 bn`) the name `a` is the conv *before* its relu (batch norm), so `add(a, b)`
    skips the generated `a_relu` (`a_bn`): the hint names the output of the whole line."""
    made = sugar_word(layer["name"], layer["kind"])
    chain = chains.get(made[0], []) if made and made[0] in used else []
    if layer not in chain:
        return "remove the line, feed the layer into a later one, or name the right `output`"
    base, end = made[0], chain[-1]
    words = _sugar_words(chain)
    what = "activated" if KINDS[end["kind"]].is_activation else "normalised"
    users = [other for other in spec.ir["layers"]
             if base in other["inputs"] and other is not chain[0]]
    written = _name_as_written(base, layer.get("group"), users)
    output = _name_as_written(end["name"], layer.get("group"), users)
    return (f"'{written}' names the layer before its {words}; to use the {what} output where "
            f"'{written}' is used, write '{output}'")


def before_activation_reads(spec: Spec, used: set[str]) -> list[SpecError]:
    """A warning where a layer reads `a` of `a: conv 8 3 relu` (the conv before its relu, the
    line's first layer) while the line's activated output `a_relu` is used too. In Keras `a =
    Conv2D(8, 3, activation="relu")(x)` and in PyTorch `a = relu(conv(x))` name the activated
    output, so a skip or branch written `<- a` reads the values before the relu (or norm),
    seldom what was meant. Where `a_relu` is not used at all, :func:`unused_layers` says it."""
    out: list[SpecError] = []
    chains = _sugar_chains(spec)
    by_name = {layer["name"]: layer for layer in spec.ir["layers"]}
    readers = consumers(spec)  # each layer's readers at hand: a spec of n lines took n² steps
    for layer in spec.ir["layers"]:
        chain = chains.get(layer["name"], [])
        if not chain or chain[-1]["name"] not in used \
                or not KINDS[chain[-1]["kind"]].is_activation:
            continue
        words = _sugar_words(chain)
        for reader in (by_name[name] for name in dict.fromkeys(readers[layer["name"]])):
            if reader is chain[0]:
                continue
            written = _name_as_written(layer["name"], layer.get("group"), [reader])
            output = _name_as_written(chain[-1]["name"], layer.get("group"), [reader])
            out.append(spec.error(
                f"'{reader['name']}' reads '{written}', the {layer['kind']} before the {words} of "
                f"that line, whose activated output is '{output}'", reader["name"],
                f"inputs[{reader['inputs'].index(layer['name'])}]", severity="warning",
                hint=f"write '{output}' to read the activated output, what Keras' "
                     f"activation=... gives; keep '{written}' for values taken before the "
                     f"{words}"))
    return out


def _name_as_written(name: str, group: str | None, users: list[dict]) -> str:
    """``name``, a layer of the repeat block instance ``group``, as the layers ``users`` write
    it: inside the block (in its instance or a block nested in it) a name means the same
    instance's layer and is written without the instance's prefix (`a_relu`, not
    `r_1_a_relu`, which in the block names instance 1's layer from every instance)."""
    prefix = f"{group}_" if group else None
    if prefix is None or not name.startswith(prefix) or not users or not all(
            (user.get("group") or "") + "_" == prefix
            or (user.get("group") or "").startswith(prefix) for user in users):
        return name
    return name[len(prefix):]


def _copies(block: str, rest: str, by_name: dict[str, dict]) -> list[dict]:
    """The layers ``block_<i>_<rest>`` for i = 1, 2, ...: those one statement writes in
    each instance of ``block``."""
    copies: list[dict] = []
    while True:
        group = instance_group(block, len(copies) + 1)
        copy = by_name.get(f"{group}_{rest}")
        if copy is None or not f"{copy.get('group')}_".startswith(f"{group}_"):
            return copies
        copies.append(copy)


def pinned_references(spec: Spec) -> list[SpecError]:
    """A warning where every instance of a repeat block reads one instance's layer: a name
    written in the block as the instance's full name (`res_1_a`, as check and summary print
    it), where the block's own name for it (`a`) means each instance's layer. Occasionally
    meant, usually a copied name. An instance's input (`in`, or the layer before it) differs
    from instance to instance, so it is never taken for one."""
    by_name = {layer["name"]: layer for layer in spec.ir["layers"]}
    out: list[SpecError] = []
    seen: set[tuple[str, str, int]] = set()  # each statement's input once, not per copy
    for layer in spec.ir["layers"]:
        for i, source in enumerate(layer["inputs"]):
            group = by_name[source].get("group") if source in by_name else None
            for block, index in instances_around(group) if group else ():
                written = in_instance(layer["name"], block)
                # the instance that source lies in reads its own: another one must too
                if written is None or written[0] == index or (block, written[1], i) in seen:
                    continue
                seen.add((block, written[1], i))
                copies = _copies(block, written[1], by_name)
                if len(copies) < 2 or any(copy["inputs"][i:i + 1] != [source] for copy in copies):
                    continue
                local = source[len(f"{block}_{index}_"):]
                warning = spec.error(
                    f"every instance of block '{block}' reads '{source}', instance {index}'s "
                    f"'{local}'", copies[0]["name"], f"inputs[{i}]", severity="warning",
                    hint=f"write '{local}' for each instance's own layer ({SAME_INSTANCE}); "
                         f"'{source}' wires all {len(copies)} instances to that one")
                # a block inside the block copies the statement too: one warning, about the
                # first copy it finds
                if all((w.message, w.span) != (warning.message, warning.span) for w in out):
                    out.append(warning)
    return out


def unused_layers(spec: Spec, used: set[str]) -> list[SpecError]:
    output, chains = spec.ir["output"], _sugar_chains(spec)
    # no pronoun for the layer: said of several repeat block copies at once, "it" would be wrong
    return [spec.error(f"layer '{layer['name']}' is not used: no path leads from there to the "
                       f"output '{output}'", layer["name"], severity="warning",
                       hint=_unused_hint(layer, used, spec, chains))
            for layer in spec.ir["layers"] if layer["name"] not in used]


def layers_below_train(spec: Spec) -> list[SpecError]:
    """A warning at the first layer written below the train block. The spec is read as it
    stands, the layer after the ones above the block (the output, unless ``output`` names
    another), so it is no error, and a spec that relies on it still trains as before; but a
    reader looks for the network above its training settings, as the train block holds no
    layer, and a line added at the end of the file (one meant for the block, or a second
    spec's layers pasted after the first) changes the network without a word."""
    block = spec.spans.get(("train", None))
    if block is None:  # no train block, or an IR from JSON, which has no lines
        return []
    end = block.end_line or block.line
    names = [layer["name"] for layer in spec.ir["layers"]]
    below = [(i, span.line) for i, name in enumerate(names)
             if (span := spec.spans.get((name, None))) is not None and span.line > end]
    if not below:
        return []
    first = names[below[0][0]]
    after = f", after '{names[below[0][0] - 1]}'" if below[0][0] else ""
    # counted in lines as written: `conv 8 3x3 relu` is two layers of the network
    lines = len({line for _, line in below})
    said, part, moved = ((f"layer '{first}' is", "it is", "the line") if lines == 1 else
                         (f"{lines} lines of layers, from '{first}' on, are", "they are", "them"))
    return [spec.error(f"{said} written below the train block: {part} part of the "
                       f"network{after}", first, severity="warning",
                       hint_template=(f"move {moved} above `train {{{{` (line {block.line}): "
                                      "layers go above the train block, read top to bottom; "
                                      "`{fmt_command}` moves them"))]


def variance_shift(p: float, shared: float) -> float:
    """The variance a batch norm sees at evaluation over the running variance it kept in
    training, for inverted dropout of probability ``p`` directly before it on values whose
    mean's square is ``shared`` of their mean square (Li et al. 2019, "Understanding the
    disharmony between dropout and batch normalization by variance shift", eq. 4 with their
    keep probability 1 - p): training scales the kept values by 1 / (1 - p), which keeps the
    mean and raises the mean square to ``E[x^2] / (1 - p)``, so the variance is
    ``E[x^2] / (1 - p) - E[x]^2``; evaluation passes every value as it is, of variance
    ``E[x^2] - E[x]^2``. Their ratio ``(1 - shared) / (1 / (1 - p) - shared)``: ``1 - p`` for
    values of mean 0, ``(1 - 1/pi) / (2 - 1/pi) = 0.405`` for a ReLU of symmetric sums
    (mean ``sqrt(q / (2 pi))``, mean square ``q / 2``: shared ``1/pi``) at p = 0.5."""
    return (1 - shared) / (1 / (1 - p) - shared)


# A batchnorm momentum above this weighs each batch more than all the running statistics
# kept before it: most likely Keras' or Caffe's share kept (0.99, 0.999) written as PyTorch's.
HIGH_MOMENTUM = 0.5


def batchnorm_momentum(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """A warning for each layer with running statistics whose momentum (PyTorch's meaning,
    :data:`~cnnspec.kinds.catalogue.BATCHNORM_MOMENTUM`) is above :data:`HIGH_MOMENTUM`: its
    running statistics are nearly the last batch's alone, so evaluation normalises by one
    batch. Keras' momentum 0.99 is 1 - 0.99 = 0.01 here
    (:func:`~cnnspec.kinds.catalogue.momentum_kept`)."""
    out = []
    for info in layers:
        momentum = info.ir.get("momentum")
        if not KINDS[info.kind].running_statistics or momentum is None \
                or momentum <= HIGH_MOMENTUM:
            continue
        kept = momentum_kept(momentum)
        out.append(spec.error(
            f"{info.kind} '{info.name}' has momentum {float_text(momentum)}, "
            f"{BATCHNORM_MOMENTUM}: each batch makes {rounded_text(100 * momentum)}% of its "
            "running mean and variance, so evaluation normalises by little more than the last "
            "training batch's statistics", info.name, "momentum", severity="warning",
            hint=f"Keras' momentum and Caffe's moving_average_fraction are the share kept: "
                 f"for theirs of {float_text(momentum)} write `momentum {float_text(kept)}` "
                 f"(1 - {float_text(momentum)}); PyTorch's default is "
                 f"{float_text(KINDS[info.kind].field_map['momentum'].default)}"))
    return out


def held_statistics(spec: Spec, layers: list[LayerInfo]
                    ) -> tuple[int | None, list[LayerInfo]]:
    """The steps of the run the spec asks for (:func:`cnnspec.check.training.spec_steps`), and
    the layers with running statistics whose momentum is too small for them to leave their
    start (mean 0, variance 1) within them: they keep more than
    :data:`~cnnspec.kinds.catalogue.START_SHARE` of it at its end
    (:func:`~cnnspec.kinds.catalogue.start_share`)."""
    steps = spec_steps(spec, layers)
    if not steps:  # unknown, or none at all (check's empty-epoch error says so)
        return steps, []
    return steps, [info for info in layers if KINDS[info.kind].running_statistics
                   and info.ir.get("momentum") is not None
                   and start_share(info.ir["momentum"], steps) > START_SHARE]


def batchnorm_start(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """A warning for the layers of :func:`held_statistics` of one kind and momentum (one
    warning for them all, at the first: an imported MobileNetV2 had 52 alike): evaluation
    normalises by numbers near the start's while training normalised by the batches'.
    Typically Caffe's moving_average_fraction 0.999 as momentum 0.001 on a short run (Caffe
    corrects its average for the start, a plain moving average needs ~1/momentum steps), or
    Keras' momentum 0.99 (0.01 here) on one of a few hundred steps."""
    steps, held = held_statistics(spec, layers)
    groups: dict[tuple[str, float], list[LayerInfo]] = {}
    for info in held:
        groups.setdefault((info.kind, info.ir["momentum"]), []).append(info)
    out = []
    for (kind, momentum), group in groups.items():
        names = listed(folded_texts(spec, [f"'{info.name}'" for info in group]))
        kinds, has, whose, stats = (kind, "has", "its", "mean and variance") \
            if len(group) == 1 else (f"{kind}s", "have", "their", "means and variances")
        averaged = (f"average over about 1/momentum = {round(1 / momentum):,} steps, but the "
                    f"run takes {steps:,}, so at its end they are still "
                    f"{rounded_text(100 * start_share(momentum, steps))}% their start"
                    if momentum > 0 else "never change, so they stay at their start")
        warning = spec.error(
            f"{kinds} {names} {has} momentum {float_text(momentum)}: {whose} running {stats} "
            f"{averaged} (mean 0, variance 1): evaluation normalises by those, "
            "not by the statistics training saw",
            group[0].name, "momentum", severity="warning",
            hint=_start_hint(spec.ir["training"]["epochs"], steps, momentum, len(group)))
        out.append(dataclasses.replace(warning, about=tuple(info.name for info in group)))
    return out


def _start_hint(epochs: int, steps: int, momentum: float, layers: int = 1) -> str:
    """How running statistics at ``momentum`` leave their start within a run: the momentum
    that does so in its ``steps`` (on the lines of ``layers`` layers), or the epochs that do
    so at this momentum."""
    needed = steps_to_leave_start(momentum)
    longer = (f", or train for {math.ceil(needed / (steps / epochs)):,} epochs or more"
              if math.isfinite(needed) else "")
    where = "" if layers == 1 else " on each of their lines"
    return (f"write `momentum {float_text(least_momentum(steps))}` or more{where} for "
            f"{counted(steps, 'step')}{longer} (a momentum here is PyTorch's: Keras' 0.99 "
            "and Caffe's moving_average_fraction 0.999 are 0.01 and 0.001 here, and only "
            "Caffe's average is corrected for its start)")


def dropout_before_batchnorm(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """A warning for each dropout read by a batch norm (``Kind.running_statistics``),
    directly or through reshapes only: the running variance it learns in training is that of
    the dropped, rescaled values, larger than the variance of what comes at evaluation
    (:func:`variance_shift`), so its outputs shrink there. The mean square and mean of the
    dropout's input are the signal estimate's (a mean it does not know is taken as 0, the
    smallest shift)."""
    layers, by_name, after = estimate.layers, estimate.by_name, estimate.consumers
    moments, means = estimate.moments
    out = []
    for info in layers:
        if KINDS[info.kind].family != "dropout":
            continue
        norms = [by_name[n] for n in _reached(
            after.get(info.name, []),
            lambda n: after.get(n, []) if KINDS[by_name[n].kind].family == "reshape" else [])
            if KINDS[by_name[n].kind].running_statistics]
        source, p = info.inputs[0], info.ir["p"]
        if not norms or p == 0 or not 0 < moments[source] < math.inf:
            continue
        mean = means.get(source, 0.0)
        shared = min(1.0, mean * mean / moments[source])
        ratio = variance_shift(p, shared)
        # the mean is said where it moves the shift as written: a mean of 0 in all but
        # rounding (tanh's, 1e-17) said 3.4e-35 of the mean square, another number in each
        # copy of a repeat block, whose alike warnings then were not said as one
        moved = rounded_text(ratio) != rounded_text(variance_shift(p, 0.0))
        known = ("" if source not in means or not moved else
                 f"; with the mean of '{source}', whose square the signal estimate finds "
                 f"{rounded_text(shared)} of its mean square")
        out.append(spec.error(
            f"{info.kind} '{info.name}' (p = {float_text(p)}) comes directly before "
            f"{listed([f'{n.kind} {n.name!r}' for n in norms])}: in training it scales the "
            f"kept values by 1 / (1 - p), and the batch norm keeps their variance as the "
            f"running variance; at evaluation the dropout passes every value unscaled, and "
            f"their variance is {rounded_text(ratio)} of that (Li et al. 2019: variance "
            f"shift{known}), so the batch norm's outputs shrink to "
            f"{rounded_text(math.sqrt(ratio))} of their training scale and the layers after "
            "it see values they never trained on",
            info.name, "p", severity="warning",
            hint="put the dropout after the last batch norm (before the classifier), or drop "
                 "the dropout: batch norm regularises too"))
    return out


def softmax_placement(spec: Spec) -> list[SpecError]:
    if spec.ir["training"].get("loss") != "cross_entropy":  # a missing loss: settings_errors
        return []
    return [spec.error(
        f"softmax '{layer['name']}' is not the output layer, but the loss cross_entropy already "
        "applies softmax to the output: the scores would be squashed twice", layer["name"],
        hint="remove the softmax (cross_entropy takes raw scores) or make the softmax the "
             "last layer")
        for layer in spec.ir["layers"]
        if layer["kind"] == "softmax" and layer["name"] != spec.ir["output"]]


def _flat_output(spec: Spec, info: LayerInfo, loss: str) -> list[SpecError]:
    """An output ending in an activation that is 0, with no gradient, below 0 (``dense 10
    relu``) where the loss takes raw scores: about half the scores start at 0 (symmetric
    pre-activations) and a score below 0 is never lowered, nor passes a gradient back."""
    if not KINDS[info.kind].flat_at_zero:
        return []
    return [spec.error(
        f"the output '{info.name}' is a {info.kind}, but the loss {loss} takes raw scores "
        f"and applies {SQUASHING_LOSSES[loss]} itself: a score below 0 is held at 0, where "
        "it passes no gradient, so about half the scores start stuck and no score can say "
        "'not this class' below 0", info.name, severity="warning",
        hint=f"drop the {info.kind} from the output layer (its raw scores are what the loss "
             "wants)")]


# The losses that take raw scores, and what each turns them into probabilities with.
SQUASHING_LOSSES = {"cross_entropy": "softmax", "bce": "a sigmoid"}


def bounded_output(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """An output squeezed by a bounded activation (``dense 10 sigmoid``, as a Keras classifier
    ends in ``Dense(10, activation=...)``) where the loss takes raw scores: the softmax of
    cross_entropy gives a class, among K, at most ``e^hi / (e^hi + (K - 1) e^lo)`` of scores
    in ``(lo, hi)``, the sigmoid of bce at most ``sigmoid(hi)`` to one class and
    ``1 - sigmoid(lo)`` to the other; the loss cannot fall below the log of that."""
    loss = spec.ir["training"].get("loss")
    info = next((i for i in layers if i.name == spec.ir["output"]), None)
    if loss not in SQUASHING_LOSSES or info is None or len(info.output_shape) != 1:
        return []
    bounds = KINDS[info.kind].value_range
    if not bounds:
        return _flat_output(spec, info, loss)
    low, high = bounds
    if loss == "cross_entropy":
        classes = info.output_shape[0]
        if classes < 2:
            return []
        most = 1 / (1 + (classes - 1) * math.exp(low - high))
        which, where = "no class can get more than", ""
    else:
        most = min(1 / (1 + math.exp(-high)), 1 - 1 / (1 + math.exp(-low)))
        which, where = "one of the two classes can get at most", " on its images"
    return [spec.error(
        f"the output '{info.name}' is a {info.kind}, whose values lie in ({low:g}, {high:g}), "
        f"but the loss {loss} takes raw scores and applies {SQUASHING_LOSSES[loss]} itself: "
        f"{which} "
        f"{most:.0%} probability, and the loss stays above {-math.log(most):.3g}"
        f"{where}",
        info.name, severity="warning",
        hint=f"drop the {info.kind} from the output layer (its raw scores are what the loss "
             "wants)")]


def _classes_turned(spec: Spec, data: str, transform: dict, i: int) -> list[SpecError]:
    """A flip or rotate that draws images of one of the data's classes as another of them
    (the dataset registry's ``mirror_pairs`` and ``turn_pairs``): the network learns from
    mislabelled images."""
    declared = with_defaults(spec.ir["training"]["data"])
    if transform["name"] == "flip":
        pairs = mirrored_classes(declared)
        if not pairs:
            return []
        a, b = pairs[0]
        return [spec.error(
            f"flip mirrors the {data} images, and mirrored {a} images are {b} ones: the "
            "network learns from mislabelled images", "training", f"augment[{i}]",
            severity="warning", hint=f"drop flip, or leave {a} or {b} out of the classes")]
    degrees = float(transform["degrees"])
    pairs = turned_classes(declared, degrees)
    if not pairs:
        return []
    turn, a, b = pairs[0]
    least = min(t for t, _, _ in pairs) / 2
    return [spec.error(
        f"rotate turns the {data} images by up to {float_text(degrees)} degrees, but {a} "
        f"images turned by more than {float_text(turn / 2)} degrees lie nearer {b} ones (a "
        f"{float_text(turn)}-degree turn makes one the other): the network learns from "
        "mislabelled images", "training", f"augment[{i}].degrees", severity="warning",
        hint=f"keep the rotations below {float_text(least)} degrees, e.g. "
        f"rotate({max(1, int(least / 2) // 5 * 5)})")]


def augment_fit(spec: Spec) -> list[SpecError]:
    """Transforms that do not keep an image's class: ``flip`` and large rotations on digits,
    those that make one of the data's classes another (shapes), translations of half the
    image or more. None for a flat input (a hand-built spec's ``(64,)``): no image to move."""
    if len(spec.ir["input"]["shape"]) < 3:
        return []
    training = spec.ir["training"]
    found = []
    data = canonical_name(training["data"].get("name")) \
        if isinstance(training["data"], dict) else None
    digits = data is not None and DATASETS[data].digits
    side = min(spec.ir["input"]["shape"][1:])
    for i, transform in enumerate(training["augment"]):
        if transform["name"] == "flip" and digits:
            found.append(spec.error(
                f"flip mirrors the {data} images, but a mirrored 2, 3, 4, 7 or 9 is no digit "
                "at all: the network learns from images of no class", "training",
                f"augment[{i}]", severity="warning",
                hint="drop flip for digits; crop, shift, small rotations and noise keep them "
                "digits"))
        if transform["name"] == "rotate" and transform["degrees"] >= 90 and digits:
            found.append(spec.error(
                f"rotate turns the {data} images by up to "
                f"{float_text(float(transform['degrees']))} degrees, "
                "but a 6 turned half way round is a 9: the network learns from mislabelled "
                "images", "training", f"augment[{i}].degrees", severity="warning",
                hint="keep digits' rotations small, e.g. rotate(10)"))
        if transform["name"] in ("flip", "rotate") and not digits and data is not None:
            found.extend(_classes_turned(spec, data, transform, i))
        moved = transform.get("pad", transform.get("pixels"))
        if moved is not None and 2 * moved >= side:
            arg = "pad" if transform["name"] == "crop" else "pixels"
            found.append(spec.error(
                f"{transform['name']} moves the image by up to {moved} pixels, half of its "
                f"{side}-pixel side or more: the whole object can leave the frame", "training",
                f"augment[{i}].{arg}", severity="warning",
                hint=f"use a few pixels, e.g. {transform['name']}({max(1, side // 8)})"))
    return found


# A validation split above this holds out more of the training split than it trains on.
LARGEST_VAL_SPLIT = 0.5


def val_split_fit(spec: Spec) -> list[SpecError]:
    """A validation split that holds out more than half of the training split: the network
    trains on the smaller part (``val_split 0.999`` left one image of the digits)."""
    split = spec.ir["training"]["val_split"]
    if split <= LARGEST_VAL_SPLIT:
        return []
    default = KEYS["val_split"].default
    return [spec.error(
        f"val_split {float_text(split)} holds out {rounded_text(100 * split)}% of the training "
        f"split to validate: the network trains on the other "
        f"{rounded_text(100 * (1 - split))}%", "training", "val_split", severity="warning",
        hint=f"validate on a tenth or so, e.g. `val_split {float_text(default)}` (the default)")]


def schedule_fit(spec: Spec) -> list[SpecError]:
    """A step schedule should lower the learning rate at least once within the run, a
    multistep schedule at each milestone, and a cosine schedule should lower it at all."""
    training = spec.ir["training"]
    schedule, epochs = training["schedule"], training["epochs"]
    if schedule["name"] == "cosine" and schedule["min_lr"] > training["lr"]:
        return [spec.error(
            f"the cosine schedule's min_lr {float_text(schedule['min_lr'])} is above the lr "
            f"{float_text(training['lr'])}: the lr rises over the run instead of falling",
            "training", "schedule.min_lr", severity="warning",
            hint=f"use a min_lr below {float_text(training['lr'])}, e.g. "
                 f"{float_text(SCHEDULES['cosine'].defaults['min_lr'])} (the default)")]
    if schedule["name"] == "multistep" and schedule["milestones"][-1] >= epochs:
        late = [m for m in schedule["milestones"] if m >= epochs]
        return [spec.error(
            f"the multistep schedule's milestone{'s' if len(late) > 1 else ''} "
            f"{', '.join(map(str, late))} come{'' if len(late) > 1 else 's'} after the last "
            f"epoch ({epochs - 1}, counted from 0): the lr never drops there",
            "training", "schedule.milestones", severity="warning",
            hint=f"use milestones below {epochs}, or more epochs")]
    if schedule["name"] != "step" or schedule["step_size"] < epochs:
        return []
    return [spec.error(
        f"the step schedule lowers the lr every {counted(schedule['step_size'], 'epoch')}, "
        f"but the run "
        f"has {epochs}: the lr stays {float_text(training['lr'])} throughout",
        "training", "schedule", severity="warning", hint=_step_hint(epochs))]


def _step_hint(epochs: int) -> str:
    """How to make a step schedule step within ``epochs``: a smaller step_size where the
    catalogue allows one below ``epochs``; else (a one-epoch run: step_size is at least 1) a
    constant schedule, or enough epochs for the smallest step_size."""
    least = int(next(a for a in SCHEDULES["step"].args if a.name == "step_size").low)
    if epochs > least:
        return f"use a step_size below {epochs}, or `schedule constant` to say so"
    return (f"a step_size is at least {least}, so a run of {counted(epochs, 'epoch')} never "
            f"steps: write `schedule constant`, or train for at least {least + 1} epochs")


def lr_fit(spec: Spec) -> list[SpecError]:
    """An lr far above any that trains (:func:`far_above_typical`, such as ``lr 1e10``), or a
    layer's ``lr_mult`` that makes the rate of one of its parameters so (``lr_mult [1, 1e300]``
    on a layer with a bias): the first steps overshoot and training diverges, which train's
    divergence message would say only after the fact."""
    lr = spec.ir["training"]["lr"]
    if far_above_typical(lr):
        return [_far_lr(spec, f"lr {float_text(lr)} is", "training", "lr",
                        f"write an lr of {float_text(TYPICAL_LR[1])} or below, e.g. "
                        f"{float_text(KEYS['lr'].default)} (the default)")]
    return [_far_lr(spec, f"'{name}' learns at lr x lr_mult = "
                          f"{', '.join(map(rounded_text, rates.values()))} ({', '.join(rates)}),",
                    name, "lr_mult", lr_mult_advice(lr))
            for name, rates in far_layer_rates(spec.ir["layers"], lr).items()]


def _far_lr(spec: Spec, what: str, layer: str, field_name: str, hint: str) -> SpecError:
    low, high = TYPICAL_LR
    return spec.error(f"{what} far above the learning rates that train, usually "
                      f"{float_text(low)} to {float_text(high)}: the first steps overshoot, "
                      "and training most likely diverges", layer, field_name,
                      severity="warning", hint=hint)


def decay_fit(spec: Spec) -> list[SpecError]:
    """A weight decay whose step alone takes every weight away or more at the spec's lr
    (:func:`cnnspec.ir.training_catalogue.whole_weight_decay`): training then diverges or
    learns nothing, and train's divergence message would say so only after the fact."""
    training = spec.ir["training"]
    decay = whole_weight_decay(training)
    if decay is None:
        return [_whole_layer_decay(spec, name, decays) for name, decays
                in whole_layer_decays(spec.ir["layers"], training).items()]
    return [spec.error(
        f"weight_decay {float_text(training['weight_decay'])} at lr "
        f"{float_text(training['lr'])} under {training['optimizer']['name']}: each step's "
        f"decay alone subtracts lr x weight_decay = {rounded_text(decay)} times each weight "
        "from it, the whole weight or more (past 2 it overturns the weight and grows it), "
        "whatever the gradients say",
        "training", "weight_decay", severity="warning",
        hint="lr x weight_decay should be well below 1: a weight_decay such as 5e-4 "
             f"(lr x weight_decay {rounded_text(training['lr'] * 5e-4)} here)")]


def _whole_layer_decay(spec: Spec, name: str, decays: dict[str, float]) -> SpecError:
    """The decay-fit warning of layer ``name`` whose multipliers make a step's decay take
    its parameters (``decays``: each one's lr x lr_mult x weight_decay x decay_mult) away."""
    training = spec.ir["training"]
    return spec.error(
        f"'{name}' decays at lr x lr_mult x weight_decay x decay_mult = "
        f"{', '.join(map(rounded_text, decays.values()))} ({', '.join(decays)}) under "
        f"{training['optimizer']['name']}: each step's decay alone subtracts that many times "
        "each of its weights from it, the whole weight or more (past 2 it overturns the weight "
        "and grows it), whatever the gradients say", name, _raising_mult(spec, name),
        severity="warning",
        hint=f"lr x lr_mult x weight_decay x decay_mult should be well below 1 (lr x "
             f"weight_decay is {rounded_text(training['lr'] * training['weight_decay'])} "
             "here): a smaller decay_mult or lr_mult")


def _raising_mult(spec: Spec, name: str) -> str:
    """The multiplier of layer ``name`` a warning of its decay points at: its decay_mult
    where that raises the decay, else its lr_mult."""
    layer = next(layer for layer in spec.ir["layers"] if layer["name"] == name)
    return "decay_mult" if max(layer["decay_mult"]) > 1 else "lr_mult"


def cores_fit(spec: Spec) -> list[SpecError]:
    """A ``cores`` setting, other than the default, that the batch is too small to split
    into: it then runs whole (see :func:`cnnspec.engine.splitting.splits`)."""
    training = spec.ir["training"]
    cores, batch = training["cores"], training["batch_size"]
    if cores in (1, KEYS["cores"].default):
        return []
    here = usable_cores()
    if splits(batch, cores):
        return [] if cores <= here else [spec.error(
            f"cores {cores} is more than the {here} cores this machine gives the process: "
            f"the {cores} parts of each step share them, slower than {here} parts would run",
            "training", "cores", severity="warning",
            hint=f"use cores {here} here, or keep {cores} where a step must round as it "
                 f"does in {cores} parts (the parts, not the machine, decide the sums)")]
    most = min(batch // MIN_PART, here)
    return [spec.error(
        f"cores {cores} splits a batch of {batch} into parts of fewer than {MIN_PART} images, "
        "which cost more in hand-offs than they save: the batch runs whole, on one core",
        "training", "cores", severity="warning",
        hint=(f"use cores {most} or fewer at batch {batch}" if most > 1 else "use cores 1")
        + f", or a batch of {cores * MIN_PART} or more")]


def epochs_fit(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """Epochs whose run takes more than :data:`~cnnspec.ir.steps.MOST_STEPS` steps: as many
    as the data's size makes them (:func:`cnnspec.check.training.spec_steps`), or, where that
    is known only once its file is read, one an epoch at least. Caffe's max_iter of 2^31 - 1
    ("until stopped") at a step an epoch became ``epochs 2147483647``."""
    epochs = spec.ir["training"]["epochs"]
    steps = spec_steps(spec, layers)
    if (epochs if steps is None else steps) <= MOST_STEPS:
        return []
    if steps is None:
        made = (f"{count_text(epochs)} steps or more (one an epoch at least: the data's "
                "size is known once its file is read)")
        most = MOST_STEPS
    else:
        per_epoch = steps // epochs
        made = f"{count_text(steps)} steps ({count_text(per_epoch)} an epoch)"
        most = MOST_STEPS // per_epoch
    return [spec.error(
        f"epochs {count_text(epochs)} make a run of {made}, more than the "
        f"{count_text(MOST_STEPS)} any training takes (over "
        f"{MOST_STEPS // RESNET_IMAGENET_STEPS} times ResNet's on ImageNet): likely "
        "a slip, such as Caffe's max_iter for \"until stopped\" taken for epochs",
        "training", "epochs", severity="warning",
        hint=f"write the epochs the run should take, at most {count_text(most)} here "
             "(`early_stop N` ends a run that stops improving)")]


def batch_fit(spec: Spec, count: int | None = None, data_name: str | None = None
              ) -> list[SpecError]:
    """A batch larger than all the images of the data, training, validation and test
    together: each epoch is one step. ``count`` and ``data_name``: of the data loaded (an
    npz file's, counted once read); by default the data the spec declares, when its number is
    known before loading."""
    training = spec.ir["training"]
    if count is None:
        count, data_name = example_count(training["data"]), training["data"]["name"]
    batch = training["batch_size"]
    if count is None or batch <= count:
        return []
    default = KEYS["batch_size"].default
    example = (f"{default} (the default)" if default <= count // 4
               else f"{max(1, count // 8):,}")
    return [spec.error(
        f"batch {batch:,} is more than all {count:,} images of "
        f"{data_name} (training, validation and test together): each epoch is "
        "a single step", "training", "batch_size", severity="warning",
        hint=f"use a batch well below {count:,}, e.g. {example}")]
