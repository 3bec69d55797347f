"""How the gradient's scale changes through a stack of saturating layers at initialisation.

A forward signal through tanh or sigmoid is bounded (|tanh| < 1), so the signal warning
(:mod:`cnnspec.check.signal`) never sees an init that is too large there; the gradient does.
By mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) each step back through a
layer ``h(l+1) = W phi(h(l)) + b`` scales the gradient's mean square by

    chi_1 = fan_out E[w^2] E[phi'(h(l))^2],   h(l) ~ N(0, q(l))

(:func:`cnnspec.check.meanfield.chi_1`; per value of ``h(l)``, the products each of them
enters: ``fan_out``, Glorot & Bengio 2010's backward argument), with ``q(l)`` carried layer
by layer from the first layer's (the signal estimate's, for inputs of unit mean square) by the
variance map, ``q(l+1) = fan_in E[w^2] E[phi(h(l))^2] + E[b^2]`` (a constant bias taken as
its square, Poole et al.'s ``sigma_b^2``), each with the share of a conv's products that its
zero padding leaves (:func:`cnnspec.check.signal.read_share`). The expectations are
integrals (:func:`cnnspec.check.meanfield.gaussian_mean`): ``chi_1`` changes fast with
``q`` (tanh under He init: 1.106 at ``q* = 0.618``, 0.35 at ``q = 2``), and the signal
estimate's closed form, 6% above the integral at ``q = 1``, would give the product over 50
layers a tenth of its size. For 20 and 50 dense layers of 256 tanh units under he_normal the
product is 2.9 and 59 (mean square), and the engine's backward pass gives 3.0 and 74 over four
seeds (tests/test_check.py).

A stack is a chain of conv or dense layers of symmetric drawn weights (any init but fixed
kernels and LSUV), each read only by an activation with a ``derivative`` in the registry
(tanh, sigmoid: both saturate), the activation read only by the next such layer, or through
norms and flattens (:data:`BRIDGES`; a pool ends it). Its factor is the product of ``chi_1``
over its steps, from the last layer's pre-activation to the first's; a norm after the
activation resets ``q`` and divides the step's factor by its input's variance (10 dense tanh
layers under he_normal with a batchnorm after each: 14x estimated, 15x and 16x measured).

The warning says when that factor's square root, the gradient's root mean square, grows or
shrinks by more than :data:`LIMIT` and the phase the stack settles into does too: ``chi_1``
at the fixed point ``q*`` of the variance map (of the stack's geometric-mean weights), raised
to the stack's steps. That second test leaves out the critical init (tanh's ``fan_in E[w^2]
= 1`` at zero biases, lecun_normal), whose ``q`` falls to 0 as ``1 / (2 l)`` and whose
gradient then falls as a power of the depth, not exponentially (``chi_1`` tends to 1): its
first layers, where ``q`` is still near the input's 1, take the gradient's mean square down
by about 1/depth (``specs/deep_tanh200.cnn`` trains at 201 layers). :data:`LIMIT` is 2 in
root mean square (4 in mean square): one learning rate then moves the first layer's weights
twice (or half) as fast as the last layer's, where the critical init keeps them alike; below
it the theory's figure is within what finite width adds anyway (the gradient's log
random-walks with depth, Hanin & Rolnick 2018: 50 tanh layers of 256 units measure 74 where
the theory says 59). Under he_normal before tanh (``chi_1 = 1.106`` a layer at ``q* =
0.618``, the chaotic phase) it is passed at 24 dense layers (20 give 2.9 in mean square, 1.7
in root mean square) and at 30 ``pad same`` 3x3 convs on 8x8 maps, whose padding takes a share
of ``q`` and of the gradient (1.08 a layer where the stack settles); under He init sigmoid,
whose slope is at most 1/4, shrinks the mean square by 10x a layer (the ordered phase), past
it from 2 layers on.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from cnnspec.check import meanfield, signal
from cnnspec.check.graph import consumers
from cnnspec.check.model import LayerInfo
from cnnspec.errors import SpecError, float_text, rounded_text
from cnnspec.init import catalogue, gains
from cnnspec.ir.spec import Spec
from cnnspec.kinds import KINDS, is_weighted

LIMIT = 2.0  # warn when the gradient's root mean square changes by more than this factor


@dataclass
class Stack:
    """A chain of conv/dense layers, each read only by ``activation``, and the mean-field
    factors of its steps back (``chis``, the first step's nearest the input)."""

    layers: list[LayerInfo]
    activation: str
    chis: list[float]
    rate: float  # chi_1 at the fixed point: the factor per step a long stack settles into
    normed: bool = False  # a norm between its layers resets q at each step

    @property
    def log_total(self) -> float:
        """The log of the gradient's mean square at the first layer over the last's."""
        return sum(math.log(chi) for chi in self.chis)

    def passes(self) -> bool:
        """Whether the total and the phase's own rate over as many steps both pass
        :data:`LIMIT` (in mean square), the same way."""
        bound = 2 * math.log(LIMIT)
        phase = len(self.chis) * math.log(self.rate)
        return (min(self.log_total, phase) > bound) or (max(self.log_total, phase) < -bound)


def _phase_may_pass(steps: int, rate: float) -> bool:
    """Whether ``steps`` at the settling ``rate`` pass :data:`LIMIT` either way: if not, no
    total can make :meth:`Stack.passes` true, and its integrals need not be worked out."""
    return abs(steps * math.log(rate)) > 2 * math.log(LIMIT)


def _eligible(info: LayerInfo) -> bool:
    """A conv/dense layer of symmetric drawn weights of finite, nonzero scale (a weight of 0
    is the constant-init warning's, an infinite one the signal warning's) that reads some of
    its input (one reading only its padding passes no gradient back: the taps warning's)."""
    if not is_weighted(info.kind) or not info.weight_init.symmetric:
        return False
    log_moment = signal.weight_log_second_moment(info)
    return (log_moment is not None and math.isfinite(log_moment)
            and signal.read_share(info) > 0)


def _activation_of(info: LayerInfo, by_name: dict[str, LayerInfo],
                   after: dict[str, list[str]]) -> LayerInfo | None:
    """The saturating activation (one with a ``derivative``) that alone reads ``info``."""
    readers = after.get(info.name, [])
    if len(readers) != 1 or KINDS[by_name[readers[0]].kind].derivative is None:
        return None
    return by_name[readers[0]]


def _bridge(act: LayerInfo, by_name: dict[str, LayerInfo], after: dict[str, list[str]]
            ) -> tuple[LayerInfo | None, list[LayerInfo]]:
    """The layer that alone reads ``act``, through the norm and flatten layers (each the only
    reader of the one before: :data:`BRIDGES`) between them, and those layers."""
    between: list[LayerInfo] = []
    name = act.name
    while len(after.get(name, [])) == 1:
        nxt = by_name[after[name][0]]
        if nxt.inputs != [name]:
            return None, between
        if KINDS[nxt.kind].family not in BRIDGES:
            return nxt, between
        between.append(nxt)
        name = nxt.name
    return None, between


# What may stand between an activation and the next layer of a stack. A norm (after the
# activation: ``tanh`` then ``batchnorm``) sets the next layer's input to unit mean square, its
# scale of ones and shift of zeros, and divides the gradient's mean square by its input's
# variance (``dx = (dy - mean(dy) - xhat mean(dy xhat)) / sd``, the two means a small share
# over a batch); a flatten only reshapes. Pools end a stack: through a 2x2 average pool the
# gradient's mean square per value falls by 16 (each of 4 values gets a quarter of it) and the
# next layer's input by 4, so the factor the engine measures per value is the pooled map's
# resolution as much as the init; how that bears on the weights' gradients (each sums over 4
# times fewer positions after the pool) is not carried here. A max pool passes the gradient to
# the largest of each window, where tanh's slope is lowest, and gives its output a mean that
# every sum of the next layer shares alike: not carried either.
BRIDGES = ("norm", "reshape")


def _chains(layers: list[LayerInfo], used: set[str], after: dict[str, list[str]]
            ) -> list[tuple[list[LayerInfo], str, list[list[LayerInfo]]]]:
    """Each maximal stack (two layers or more) as its conv/dense layers, activation kind and
    the layers between each activation and the next layer (:func:`_bridge`)."""
    by_name = {info.name: info for info in layers}
    taken: set[str] = set()
    chains = []
    for info in layers:
        if info.name in taken or info.name not in used or not _eligible(info):
            continue
        chain, bridges, act = [info], [], _activation_of(info, by_name, after)
        while act is not None:
            nxt, between = _bridge(act, by_name, after)
            if (nxt is None or not _eligible(nxt)
                    or getattr(_activation_of(nxt, by_name, after), "kind", None) != act.kind):
                break
            chain.append(nxt)
            bridges.append(between)
            act = _activation_of(nxt, by_name, after)
        taken.update(i.name for i in chain)
        if act is not None and len(chain) >= 2:
            chains.append((chain, act.kind, bridges))
    return chains


def _bias_square(info: LayerInfo) -> float:
    """``E[b^2]`` of a layer's biases at init: 0 without them."""
    bias = info.bias_init
    if bias is None:
        return 0.0
    return (bias.mean or 0.0) ** 2 + (bias.std or 0.0) ** 2


def _forward_factor(info: LayerInfo) -> float:
    """``fan_in E[w^2]`` with the padding's share: the variance map's ``sigma_w^2``."""
    return signal.summed_terms(info) * signal.weight_second_moment(info) * signal.read_share(info)


def _backward_factor(info: LayerInfo) -> float:
    """``fan_out E[w^2]`` with the padding's share: the products each input value enters
    (the layer's multiply-adds over its input's size) times ``E[w^2]``."""
    terms = info.macs / math.prod(info.input_shapes[0])
    return terms * signal.weight_second_moment(info) * signal.read_share(info)


def _through(between: list[LayerInfo], q: float, phi) -> tuple[float, float]:
    """The mean square the layers ``between`` (:data:`BRIDGES`) pass on of ``phi(h)``, ``h ~
    N(0, q)``, and the factor by which they scale the gradient's mean square on its way back:
    a norm sets the first to 1 and divides the second by its input's variance."""
    moment, backward, mean = meanfield.variance_map(q, 1.0, 0.0, phi), 1.0, None
    for info in between:
        if KINDS[info.kind].family == "norm":
            if mean is None:
                mean = meanfield.gaussian_mean(phi, q)
            backward /= moment - mean * mean
            moment, mean = signal.kind_signal(info.ir, [moment], info.input_shapes), 0.0
    return moment, backward


def stack_of(chain: list[LayerInfo], activation: str, first_q: float,
             rate: float | None = None, bridges: list[list[LayerInfo]] | None = None
             ) -> Stack | None:
    """The mean-field factors of ``chain`` (each layer before ``activation``), its first
    pre-activation of second moment ``first_q``; None where a moment leaves floating point.
    ``rate``: the chain's :func:`settling_rate`, where it is known already; ``bridges``: the
    layers between each activation and the next layer (:func:`_chains`), none by default."""
    kind = KINDS[activation]
    phi, dphi = kind.increasing, kind.derivative
    q, chis = first_q + _bias_square(chain[0]), []
    for nxt, between in zip(chain[1:], bridges or [[]] * (len(chain) - 1)):
        if not 0 <= q < math.inf:
            return None
        if not between:
            chis.append(meanfield.chi_1(q, _backward_factor(nxt), dphi))
            q = meanfield.variance_map(q, _forward_factor(nxt), _bias_square(nxt), phi)
            continue
        moment, backward = _through(between, q, phi)
        chis.append(meanfield.chi_1(q, _backward_factor(nxt), dphi) * backward)
        q = _forward_factor(nxt) * moment + _bias_square(nxt)
    if not all(0 < chi < math.inf for chi in chis):
        return None
    if rate is None:
        rate = settling_rate(chain, activation, bridges)
    # a norm sets every step it ends to its own q: each repeats, and the mean is the rate
    return Stack(chain, activation, chis,
                 math.exp(sum(math.log(chi) for chi in chis) / len(chis)) if rate is None
                 else rate, _normed(bridges))


def _normed(bridges: list[list[LayerInfo]] | None) -> bool:
    """Whether a norm stands between some activation of a stack and its next layer."""
    return any(KINDS[i.kind].family == "norm" for between in bridges or [] for i in between)


def settling_rate(chain: list[LayerInfo], activation: str,
                  bridges: list[list[LayerInfo]] | None = None) -> float | None:
    """``chi_1`` at the fixed point of the variance map of the chain's geometric-mean weights
    and mean bias: the factor per step a long stack of such layers settles into; None where a
    norm between its layers (``bridges``) resets ``q``, so that no fixed point is reached.

    An activation odd about 0 whose values stay within its slope at 0 (``|phi(u)| <=
    phi'(0) |u|``: tanh) has the fixed point ``q* = 0`` wherever ``fan_in E[w^2] phi'(0)^2
    <= 1`` and the biases are 0 (the map stays below ``q``: the ordered phase and its
    critical edge, Poole et al. 2016), so ``chi_1`` there is ``fan_out E[w^2] phi'(0)^2``,
    without iterating: on the critical line ``q`` falls only as ``1 / (2 l)``."""
    if _normed(bridges):
        return None
    kind, rest = KINDS[activation], chain[1:]
    phi, dphi = kind.increasing, kind.derivative
    forward = math.exp(sum(math.log(_forward_factor(i)) for i in rest) / len(rest))
    backward = math.exp(sum(math.log(_backward_factor(i)) for i in rest) / len(rest))
    biases = sum(_bias_square(i) for i in rest) / len(rest)
    # (within rounding: Glorot's 2 / (fan_in + fan_out) on equal fans is 1 to a few ulps)
    if kind.centre == 0 and biases == 0 and forward * dphi(0.0) ** 2 <= 1 + 1e-12:
        return backward * dphi(0.0) ** 2
    return meanfield.fixed_chi(forward, biases, phi, dphi) * backward / forward


def _factor_text(log_mean_square: float) -> str:
    """The root mean square's factor ``exp(|log| / 2)``, or a power of 2 beyond floats."""
    log_factor = abs(log_mean_square) / 2
    if log_factor < 700:
        return f"{rounded_text(math.exp(log_factor))}x"
    return f"by a factor of about 2^{log_factor / math.log(2):,.0f}"


def _written_gain(info: LayerInfo) -> dict | None:
    """The gain a layer's weight init is given other than its catalogue default, or None."""
    init = info.ir["weight_init"]
    written = init.get("gain")
    return None if written == catalogue.PARAMS[init["name"]].get("gain") else written


def _written_init(info: LayerInfo) -> str:
    """A layer's weight init as the spec names it, with a gain other than its default:
    ``glorot_normal(gain=tanh)``, ``lecun_normal``."""
    written = _written_gain(info)
    return (info.weight_init.name if written is None
            else f"{info.weight_init.name}(gain={gains.gain_text(written)})")


def _most_common(stack: Stack) -> LayerInfo:
    """A layer of the stack's most common init, as written."""
    init = Counter(_written_init(i) for i in stack.layers).most_common(1)[0][0]
    return next(i for i in stack.layers if _written_init(i) == init)


def _critical_advice(stack: Stack, init: str) -> str:
    """What to use at the critical line ``fan_in E[w^2] phi'(0)^2 = 1`` (tanh: 1), said
    against the stack's own init where that is the catalogue's critical one but for a gain
    (PyTorch's gain=tanh, 5/3) or the share of products its zero padding takes."""
    info = _most_common(stack)
    written = _written_gain(info)
    gain = 1.0 if written is None else gains.gain(written)
    if not math.isclose(gain, 1.0):
        return (f"use {init}, without a gain ({_written_init(info)} scales Var(w) by gain^2 = "
                f"{rounded_text(gain ** 2)}: a gain gives back what an activation takes from "
                f"the forward signal, and {stack.activation} takes nothing near 0)")
    rest = stack.layers[1:]
    paper = math.exp(sum(math.log(signal.summed_terms(i) * signal.weight_second_moment(i))
                         for i in rest) / len(rest))
    share = math.exp(sum(math.log(signal.read_share(i)) for i in rest) / len(rest))
    if not (math.isclose(paper, 1.0, rel_tol=0.05) and share < 0.99):
        return f"use {init}"
    return (f"{info.weight_init.name} is critical on paper, but the zero padding of "
            f"{info.output_shape[1]}x{info.output_shape[2]} maps leaves a layer "
            f"{rounded_text(share)} of its products: a gain of 1 / sqrt({rounded_text(share)}) "
            f"makes up for it ({info.weight_init.name}(gain="
            f"{float_text(round(1 / math.sqrt(share), 3))})), or delta_orthogonal(gain=1), "
            "whose only nonzero tap, the centre, never meets the padding")


def describe(stack: Stack) -> str:
    """The warning's sentence: how much, over which layers, and the factors behind it."""
    first, last = stack.layers[0], stack.layers[-1]
    grows = stack.log_total > 0
    inits = _written_init(_most_common(stack))
    mean_chi = math.exp(stack.log_total / len(stack.chis))
    phase = "chaotic" if stack.rate > 1 else "ordered"
    act = stack.activation
    return (
        f"the gradient's scale (root mean square) is estimated to "
        f"{'grow' if grows else 'shrink'} {_factor_text(stack.log_total)} from the last to "
        f"the first of the {len(stack.layers)} layers before {act} from '{first.name}' to "
        f"'{last.name}' (mostly {inits}): by mean-field theory (Poole et al. 2016; Schoenholz "
        f"et al. 2017) each of its {len(stack.chis)} steps back scales the gradient's mean "
        f"square by chi_1 = fan_out E[w^2] E[{act}'(h)^2], here from "
        f"{rounded_text(stack.chis[0])} (first step) to {rounded_text(stack.chis[-1])} (last), "
        f"{rounded_text(mean_chi)} on average, and {rounded_text(stack.rate)} where a deeper "
        f"stack settles: the {phase} phase, where the first layers learn "
        f"{'far faster' if grows else 'far slower'} than the last")


def hint(stack: Stack) -> str:
    """The init on the critical line before the stack's activation, where the gradient keeps
    its scale but for a power of the depth; for an activation not odd about its centre
    (sigmoid) no init both keeps it and leaves the units unsaturated."""
    kind = KINDS[stack.activation]
    slope = kind.derivative(0.0)
    if stack.normed:
        return _normed_advice(stack)
    if kind.centre == 0:
        critical = 1 / slope ** 2
        init = (signal.suggested_init(stack.activation) if math.isclose(critical, 1.0)
                else f"he_normal(gain={float_text(round(math.sqrt(critical), 4))})")
        advice = (_critical_advice(stack, init) if math.isclose(critical, 1.0)
                  else f"use {init}")
        return (f"the critical init before {stack.activation} is fan_in E[w^2] = 1 / "
                f"{stack.activation}'(0)^2 = {rounded_text(critical)} at zero biases (Poole et "
                f"al. 2016), where the gradient keeps its scale but for a power of the depth: "
                f"{advice}; or add batchnorm")
    return (f"{stack.activation}'s slope is at most {rounded_text(slope)}, so each step back "
            f"keeps at most fan_out E[w^2] x {rounded_text(slope ** 2)} of the gradient's mean "
            "square, and weights large enough to make up for it saturate the units: in hidden "
            f"layers use tanh with {signal.suggested_init('tanh')}, or relu with "
            f"{signal.suggested_init('relu')}")


def _normed_advice(stack: Stack) -> str:
    """A norm after each activation gives the next layer inputs of unit mean square whatever
    the init, and divides the gradient by their variance: ``chi_1 / Var(phi(h))``, above 1
    for tanh at any weight scale and nearer 1 the more linear the units (Yang et al. 2019, "A
    mean field theory of batch normalization": such stacks' gradients explode)."""
    act = stack.activation
    return (f"a norm after {act} gives each next layer inputs of unit mean square whatever the "
            f"init, and divides the gradient's mean square by their variance on its way back: "
            f"each step scales it by fan_out E[w^2] E[{act}'(h)^2] / Var({act}(h)) (Yang et "
            "al. 2019), which smaller weights bring toward 1; or add residual connections")


def stacks(layers: list[LayerInfo], used: set[str], after: dict[str, list[str]]
           ) -> list[Stack]:
    """Every stack of saturating layers (:func:`_chains`) with its mean-field factors."""
    moments = signal.second_moments(layers)
    found = (stack_of(chain, act, moments[chain[0].name], bridges=bridges)
             for chain, act, bridges in _chains(layers, used, after))
    return [stack for stack in found if stack is not None]


def gradient_scale(spec: Spec, layers: list[LayerInfo], used: set[str]) -> list[SpecError]:
    """A warning for each stack whose gradient grows or shrinks past :data:`LIMIT`
    (:meth:`Stack.passes`), at the first layer's weight init; not for a stack the signal
    warning already points into. A chain whose settling rate cannot pass is left before its
    integrals (a deep tanh net at the critical init: most of what check would spend)."""
    after = consumers(spec)
    rated = [(chain, act, bridges, settling_rate(chain, act, bridges))
             for chain, act, bridges in _chains(layers, used, after)]
    rated = [entry for entry in rated
             if entry[3] is None or _phase_may_pass(len(entry[0]) - 1, entry[3])]
    if not rated:
        return []
    moments = signal.second_moments(layers)
    found = [stack_of(chain, act, moments[chain[0].name], rate, bridges)
             for chain, act, bridges, rate in rated]
    passing = [stack for stack in found if stack is not None and stack.passes()]
    if not passing:
        return []
    change = signal.largest_change(layers, used, after)
    told = change.first_weight_layer if signal.is_too_large(change) else None
    # where the signal warning points at the same layer, it says it: weights too small for
    # tanh shrink the signal and the gradient alike (chi_1 = fan_in E[w^2] in its linear part)
    return [spec.error(describe(stack), stack.layers[0].name, "weight_init",
                       severity="warning", hint=hint(stack))
            for stack in passing if told not in {i.name for i in stack.layers}]
