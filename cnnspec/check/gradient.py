"""How the weights' gradients compare along a stack of saturating layers at initialisation.

A forward signal through tanh or sigmoid is bounded (|tanh| < 1), so the signal warning
(:mod:`cnnspec.check.signal`) never sees an init that is too large there; the gradient does.
What one learning rate makes of it is set by each layer's weights' gradient, ``dL/dW = delta
x^T`` (``delta = dL/dh`` at the layer's output, ``x`` its input; a conv sums it over
positions). The warning compares its squared norm per input the layer reads,

    G = ||dL/dW||^2 / fan_in = share ||delta||^2 E[x^2]

(``||delta||^2`` summed over the layer's values, ``share`` what a conv's zero padding leaves
of its products: :func:`cnnspec.check.signal.read_share`), of the stack's first layer over its
last's. Between layers of one shape that is the ratio of their weights' mean square
gradients, and of their relative steps ``|dW| / |W|``; it leaves out what a layer's own shape
puts into those at any init (``1 / C_out``, and ``fan_in / C_out``). The gradient per value
of ``h`` is no measure of it: it narrows with the widths whatever the init (over dense layers
of 1024 down to 64 units under lecun_normal, 1/92), and a warning of it would name the
stack's own init as the cure.

By mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) a step back through
``h(l+1) = W phi(h(l)) + b`` scales ``||delta||^2`` by

    chi_1 = fan_in E[w^2] E[phi'(h(l))^2],   h(l) ~ N(0, q(l))

(:func:`cnnspec.check.meanfield.chi_1`: each of the layer's ``n(l+1) fan_in`` products passes
the gradient back once; per value of ``h(l)`` it is ``fan_out E[w^2]``, which differs from
it by the widths' ratio), with ``q(l)`` carried layer by layer from the first layer's (its
input's mean square the signal estimate's, inputs of unit mean square) by the variance map,
``q(l+1) = fan_in E[w^2] E[phi(h(l))^2] + E[b^2]`` (a constant bias taken as its square, Poole
et al.'s ``sigma_b^2``), each with the share of a conv's products its zero padding leaves.
The next layer's input has ``E[x^2] = E[phi(h(l))^2]``, so a step back scales ``G`` by

    chi_1 E[x(l)^2] / E[phi(h(l))^2]     (times the two layers' shares' ratio).

In tanh's linear part (``q`` small) the two factors cancel but for the ratio of the two
layers' ``fan_in E[w^2]``: as in a deep linear net, whose layers' weights' gradients are of
one size at any scale, a tanh stack whose ``q`` falls to 0 (``fan_in E[w^2] <= 1`` at zero
biases: the critical init and below) keeps ``G``, where ``||delta||^2`` falls as a power of
the depth (20 dense layers of 256 units under Glorot: ``G`` 1.4 measured, the gradient per
value 1/26). Saturation parts them: under he_normal (``chi_1 = 1.106`` a step at ``q* =
0.618``, the chaotic phase) 20 such layers grow ``G`` 9.4x (9.3x measured by the engine's
backward pass: ``||delta||^2`` 2.9x, and the data's mean square is 3.3x tanh's values'), 50
layers 190x (260x: tests/test_check.py). The expectations are integrals
(:func:`cnnspec.check.meanfield.gaussian_mean`): ``chi_1`` changes fast with ``q`` (tanh under
He init: 1.106 at ``q*``, 0.35 at ``q = 2``).

A stack is a chain of conv or dense layers of symmetric drawn weights (any init but fixed
kernels and LSUV), each read only by an activation with a ``derivative`` in the registry
(tanh, sigmoid: both saturate), directly or through a norm (:func:`_pre_activation`), the
activation read only by the next such layer, directly or through norms, flattens, mean pools
and max pools (:func:`_through`; a max pool only where it takes the largest of the
activation's own values, not of a mean pool's). A max pool passes each window's gradient whole
to its largest value, so ``||delta||^2`` summed over its input is that over its output (per
value, outputs over inputs), and the activation's slope counts there only: ``chi_1`` takes
``E[phi'(Y)^2]`` for ``Y`` the largest of the window's sums (tanh's slope lowest there), and
the next input ``E[phi(Y)^2]``, the sums sharing what the signal estimate says a channel's
positions share (its input's mean, which a max pool's values give; :class:`signal.Sums`),
those of one window as neighbours do: a padded conv's sums far apart share less, the
borders' outputs missing taps, but a window's read the same taps (``Sums.near``).
Against the engine's backward pass (float64, 16 seeds): 3x3 tanh convs of 16 filters with 2x2
pools, 3x3 pools of stride 2 and 2x2 pools of stride 1 between them, at std 0.01 and under
he_normal, 0.69 to 1.07 of what it measures (0.74 at std 0.01 with 3x3 pools of stride 2
where a window's sums were taken to share what far ones do); sigmoid's 1.03 and 1.05; a
global max pool after saturated tanh units (he_normal) 0.32 of it, both past :data:`LIMIT`
(the largest of 64 values deep in tanh's flat part, whose slope there a spread of the
channels' scales raises by orders: tests/test_check.py). ReLU has no ``derivative`` and makes
no stack: a ReLU net's weights' gradients keep their ratio at any weight scale (its layers are
homogeneous), and its init's scale is the signal warning's. A stack with max pools has no one map to
settle into (the share of its sums changes step by step): its mean step stands for its phase. A mean
pool of ``k`` values divides ``||delta||^2`` by ``k`` and the mean square of tanh's values (mean 0)
by ``k``: for ``G`` the two cancel (the first conv of
LeNet-5's tanh layers over its last dense layer: 4.3 estimated, 3.6 measured). A norm after
the activation sets the next input to unit mean square and divides ``||delta||^2`` by its
input's variance (10 dense tanh layers under he_normal with a batchnorm after each: 14x
estimated, 16x and 15x measured); one before it sets ``q`` to 1 whatever the weights, and
each step scales ``G`` by ``E[phi'^2] / E[phi^2]`` there (tanh: 1.18, the gradient explosion
of Yang et al. 2019; 10 dense layers or convs: 4.4 estimated, 4.6 measured with layernorm, 5.2
and 5.5 with batchnorm over batches of 64, whose statistics add their own part as the batch
shrinks).

The warning says when ``G``'s root mean square changes by more than :data:`LIMIT` and the
phase the stack settles into does too: ``G``'s factor a step where ``q`` settles (at the
fixed point ``q*`` of the variance map of the stack's geometric-mean weights, with its
pools; ``chi_1`` there, the inputs' mean square holding still), raised to the stack's steps.
That second test leaves out every tanh stack whose ``q*`` is 0 (its ``G`` keeps its scale)
and what one init makes of a layer's shape: Glorot's weights on a first dense layer from 64
inputs to 1024 units (``fan_in E[w^2] = 0.12``) take 12x the last's ``G``, as a linear net's
layer does whose weights are smaller than the rest. It does not leave out a layer given an
init of its own: the settling rate takes the geometric mean of the layers' scales, which
spreads one layer's over every step, while that layer's steps keep their factor. Six dense
tanh layers under lecun_normal with the last's weights of std 1 (``fan_in E[w^2] = 128``):
``G`` 170x (185x measured by the engine's backward pass), the phase over the stack 2.4; with
12 and 24 layers 176x and 178x, the phase 1.7 and 1.3. So a layer whose init as written no
other layer of the stack has, whose ``fan_in E[w^2]`` departs from the critical line and from
the others' median past :data:`LIMIT` (:attr:`Chain.alone`) and whose steps make most of a
total past it (:attr:`Stack.culprit`) is warned whatever the phase: LeNet-5 with conv1's
weights of std 10, ``G`` 0.0129 (0.0128 measured), or fc2's of std 1, 437x (467x); a middle
layer's too (the third of those six with std 1: 5.2x, 5.1x). :data:`LIMIT` is 2 in root mean
square: one learning rate then moves the first layer's weights twice (or half) as fast as the
last layer's. Under he_normal before tanh it is passed from 15 dense layers on, and from 19
``pad same`` 3x3 convs on 8x8 maps, whose padding takes a share of ``q`` and of the gradient
(1.08 a step where the stack settles); under He init sigmoid, whose slope is at most 1/4,
shrinks ``G`` by 10x a step (the ordered phase), past it from 2 layers on. The warning stands
at the init of the first of the stack's layers of its most common init, and its hint is that
init's cure; where one layer whose ``fan_in E[w^2]`` departs from the others' (and from the
critical line) makes most of the factor (:attr:`Stack.culprit`: LeNet-5 with fc2's weights of
std 10, the last step 7.8e3 of 4.4e4, 4.5e4 measured), it stands at that layer's init, says
its steps' factor, and its hint is for that layer.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter

from cnnspec.check import meanfield, signal
from cnnspec.check.model import LayerInfo
from cnnspec.errors import SpecError, float_text, rounded_text
from cnnspec.init import catalogue, choose, gains
from cnnspec.init.describe import init_text
from cnnspec.ir.spec import Spec
from cnnspec.kinds import KINDS, is_weighted
from cnnspec.kinds.fields import WEIGHT_INIT_KEY
from cnnspec.records import record

LIMIT = 2.0  # warn when G's root mean square, first layer over last, passes this factor



def _median(values: list[float]) -> float:
    """The median of ``values`` (as statistics.median gives it: importing that module, with
    fractions, decimal and random, was a twentieth of what ``cnnspec check`` spends loading)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

def _phase_may_pass(steps: int, rate: float) -> bool:
    """Whether ``steps`` at the settling ``rate`` pass :data:`LIMIT` either way: if not, only
    a layer of a scale of its own (:attr:`Chain.alone`) can make :meth:`Stack.passes` true, and a
    chain without one need not have its integrals worked out."""
    if rate <= 0:  # weights whose square underflows to 0: nothing passes back
        return True
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
                   after: dict[str, list[str]]) -> tuple[LayerInfo | None, list[LayerInfo]]:
    """The saturating activation (one with a ``derivative``) that alone reads ``info``,
    directly or through norms (``conv``, ``batchnorm``, ``tanh``: the common placement),
    and those norms."""
    norms, name = [], info.name
    while len(after.get(name, [])) == 1:
        reader = by_name[after[name][0]]
        if reader.inputs != [name]:
            break
        if KINDS[reader.kind].family != "norm":
            return (reader if KINDS[reader.kind].derivative is not None else None), norms
        norms.append(reader)
        name = reader.name
    return None, norms


def _bridges(info: LayerInfo) -> bool:
    """Whether ``info`` may stand between an activation and the next layer of a stack: a
    norm, a flatten, a mean pool or a max pool (:func:`_through`)."""
    kind = KINDS[info.kind]
    return (kind.family in ("norm", "reshape") or kind.mean_of is not None
            or kind.max_of is not None)


def _routed(between: list[LayerInfo]) -> bool:
    """Whether each max pool ``between`` takes the largest of the activation's own values
    (through norms, which keep their order in a channel, and other max pools): after a mean
    pool its window's largest is a mean's, which the estimate does not follow."""
    means = [i for i, info in enumerate(between) if KINDS[info.kind].mean_of is not None]
    maxes = [i for i, info in enumerate(between) if KINDS[info.kind].max_of is not None]
    return not means or not maxes or max(maxes) < min(means)


def _bridge(act: LayerInfo, by_name: dict[str, LayerInfo], after: dict[str, list[str]]
            ) -> tuple[LayerInfo | None, list[LayerInfo]]:
    """The layer that alone reads ``act``, through the layers between them that
    :func:`_bridges` lets stand there (each the only reader of the one before), and those."""
    between: list[LayerInfo] = []
    name = act.name
    while len(after.get(name, [])) == 1:
        nxt = by_name[after[name][0]]
        if nxt.inputs != [name]:
            return None, between
        if not _bridges(nxt):
            return nxt, between
        between.append(nxt)
        name = nxt.name
    return None, between


@record
class Chain:
    """A stack's conv/dense ``layers`` before its ``activation``, the norms between each
    layer and its activation (``norms``) and the layers between each activation and the
    next layer (``bridges``)."""

    layers: list[LayerInfo]
    activation: str
    norms: list[list[LayerInfo]]
    bridges: list[list[LayerInfo]]

    @functools.cached_property
    def normed(self) -> str:
        """Where a norm stands, resetting ``q`` at each step: "before" its activation (in
        some step), else "after" it, or "" where none does."""
        if any(self.norms):
            return "before"
        if any(KINDS[i.kind].family == "norm" for between in self.bridges for i in between):
            return "after"
        return ""

    @functools.cached_property
    def shares(self) -> list[float]:
        """Each layer's share of its products that its zero padding leaves
        (:func:`cnnspec.check.signal.read_share`)."""
        return [signal.read_share(info) for info in self.layers]

    @functools.cached_property
    def forward_factors(self) -> list[float]:
        """Each layer's :func:`_forward_factor`, which :func:`stack_of` and
        :func:`settling_rate` both read."""
        return [_forward_factor(info, share) for info, share in zip(self.layers, self.shares)]

    @functools.cached_property
    def log_scales(self) -> list[float]:
        """Each layer's log ``fan_in E[w^2]`` (:func:`_log_forward_factor`), which
        :attr:`alone` and :attr:`Stack.culprit` both weigh."""
        return [_log_forward_factor(info) for info in self.layers]

    @functools.cached_property
    def alone(self) -> list[int]:
        """The layers (indices) whose weights' scale is their own: an init as written (with
        its arguments) that no other layer of the chain has, and a ``fan_in E[w^2]`` off the
        critical line (:func:`_off_critical`) that departs from the median of the others'
        past :data:`LIMIT` (in mean square), as :attr:`Stack.culprit` asks of the layer it
        names. A departure that one init makes of a layer's shape (Glorot's first layer from
        64 inputs to 1024 units) is that init's, and the stack's phase judges it."""
        if len(self.layers) < 3:
            return []
        # an init as the language writes it, one text for one init (json.dumps was the one
        # use of json in a check: 1.2 ms of its start-up)
        inits = [init_text(info.ir[WEIGHT_INIT_KEY]) for info in self.layers]
        counts = Counter(inits)
        scales = self.log_scales
        return [j for j, init in enumerate(inits)
                if counts[init] == 1 and _off_critical(scales[j], self.activation)
                and abs(scales[j] - _median(scales[:j] + scales[j + 1:]))
                > 2 * math.log(LIMIT)]


@record
class Stack:
    """A chain of conv/dense layers, each read only by its activation (:class:`Chain`), and
    the factors of its steps back in the weights' gradient ``G`` (``chis``, the first step's
    nearest the input: ``chi_1`` times the inputs' mean squares' ratio, the module's
    docstring)."""

    chain: Chain
    chis: list[float]
    rate: float  # G's factor per step at the fixed point, where a long stack settles

    @property
    def layers(self) -> list[LayerInfo]:
        return self.chain.layers

    @property
    def activation(self) -> str:
        return self.chain.activation

    @property
    def normed(self) -> str:
        """:attr:`Chain.normed`."""
        return self.chain.normed

    @functools.cached_property
    def most_common(self) -> LayerInfo:
        """A layer of the stack's most common init (:func:`_most_common`), which its
        sentence, hint and place read."""
        return _most_common(self.layers)

    @functools.cached_property
    def log_total(self) -> float:
        """The log of the first layer's weights' gradient ``G`` over the last's."""
        return sum(math.log(chi) for chi in self.chis)

    @property
    def phase(self) -> str:
        """Where a long stack of its layers settles (Schoenholz et al. 2017): "chaotic" where
        ``G`` grows each step back (:attr:`rate` above 1), else "ordered"."""
        return "chaotic" if self.rate > 1 else "ordered"

    def passes(self) -> bool:
        """Whether the total passes :data:`LIMIT` (in mean square) and either the phase's own
        rate over as many steps passes it the same way, or the layer that makes most of the
        total (:attr:`culprit`) has a scale of its own (:attr:`Chain.alone`): its factor is
        that layer's, which no settling of the others' undoes (the module's docstring)."""
        bound = 2 * math.log(LIMIT)
        phase = len(self.chis) * math.log(self.rate)
        if (min(self.log_total, phase) > bound) or (max(self.log_total, phase) < -bound):
            return True
        if abs(self.log_total) <= bound:
            return False
        named = self.culprit
        return named is not None and any(self.layers[j] is named.layer
                                         for j in self.chain.alone)

    @functools.cached_property
    def culprit(self) -> Culprit | None:
        """The layer whose own weights make most of a plain stack's factor, or None where its
        steps share it; worked out once, as the warning's test, sentence, hint and place all
        read it.

        A step back joins two layers, and in tanh's linear part its factor is the ratio of
        their ``fan_in E[w^2]``: the product over the stack is the last layer's over the
        first's (as in a linear net) times the phase's rate. Weights that saturate a layer's
        units make the step into it large (``||dL/dh||^2`` is multiplied by its ``fan_in
        E[w^2]``) and the step out of it small by less (``E[tanh'(h)^2]`` falls as ``1 /
        sqrt(q)``): a middle layer's large weights leave a factor of their own. A layer is
        named when the steps it joins make more than half of the total (in log, the same
        way) and its ``fan_in E[w^2]`` departs from the median of the other layers' past
        :data:`LIMIT` (in mean square), and from the critical line past it too
        (:func:`_off_critical`: a layer on it among others off it is not the one to mend,
        and the hint's critical init on its line would be its own); of several, the one that
        departs the most. Under one init of fan-scaled variance no layer departs, and the
        stack's init stays the one to blame. A stack of one step, or with norms (whose
        inputs' variance cancels the weights' scale), names none."""
        if len(self.chis) < 2 or self.normed or self.log_total == 0:
            return None
        logs = [math.log(chi) for chi in self.chis]
        scales = self.chain.log_scales
        found = []
        for j in range(len(self.layers)):
            steps = [i for i in (j - 1, j) if 0 <= i < len(logs)]
            others = _median(scales[:j] + scales[j + 1:])
            apart = abs(scales[j] - others)
            if (sum(logs[i] for i in steps) / self.log_total > 1 / 2
                    and apart > 2 * math.log(LIMIT)
                    and _off_critical(scales[j], self.activation)):
                found.append((apart, Culprit(self.layers[j], steps,
                                             self.chain.forward_factors[j], math.exp(others))))
        return max(found, key=lambda pair: pair[0])[1] if found else None


def _chains(estimate: signal.Estimate) -> list[Chain]:
    """Each maximal stack (two layers or more) among the layers the output uses."""
    by_name, used, after = estimate.by_name, estimate.used, estimate.consumers
    taken: set[str] = set()
    chains = []
    for info in estimate.layers:
        if info.name in taken or info.name not in used or not _eligible(info):
            continue
        act, norms = _activation_of(info, by_name, after)
        chain = Chain([info], "", [norms], [])
        while act is not None:
            nxt, between = _bridge(act, by_name, after)
            if nxt is None or not _eligible(nxt) or not _routed(between):
                break
            nxt_act, nxt_norms = _activation_of(nxt, by_name, after)
            if getattr(nxt_act, "kind", None) != act.kind:
                break
            chain.layers.append(nxt)
            chain.norms.append(nxt_norms)
            chain.bridges.append(between)
            act = nxt_act
        taken.update(i.name for i in chain.layers)
        if act is not None and len(chain.layers) >= 2:
            chain.activation = act.kind
            chains.append(chain)
    return chains


def _bias_square(info: LayerInfo) -> float:
    """``E[b^2]`` of a layer's biases at init: 0 without them; infinite where the square is
    beyond float64's range (a mean of 1e300, which float64 weights hold)."""
    mean, variance = signal.bias_moments(info)
    return mean * mean + variance  # not mean ** 2, which raises OverflowError there


def _forward_factor(info: LayerInfo, share: float | None = None) -> float:
    """``fan_in E[w^2]`` with the padding's share (``share``, where it is at hand): the
    variance map's ``sigma_w^2``, and the factor of ``||dL/dh||^2`` back through the layer's
    weights."""
    share = signal.read_share(info) if share is None else share
    return signal.summed_terms(info) * signal.weight_second_moment(info) * share


def _pre_activation(info: LayerInfo, factor: float, norms: list[LayerInfo], moment: float
                    ) -> tuple[float, float]:
    """The second moment ``q`` of the values ``info``'s activation reads, for an input of
    mean square ``moment`` and the layer's :func:`_forward_factor` ``factor``, and the factor
    of ``||dL/dh||^2`` from there back to the layer's output: 1, or through the ``norms``
    between them 1 over their input's variance (the bias, the same for a whole channel, the
    batch statistics take out)."""
    variance = factor * moment
    q, backward = variance + _bias_square(info), 1.0
    for norm in norms:
        backward = backward / variance if variance > 0 else math.inf
        q = variance = signal.kind_signal(norm.ir, [q], norm.input_shapes)
    return q, backward


def _through(between: list[LayerInfo], q: float, activation: str,
             sums: dict[str, signal.Sums]) -> tuple[float, float, float]:
    """The mean square the layers ``between`` (:func:`_bridges`) pass on of ``phi(h)``, ``h ~
    N(0, q)``, the factor by which they scale ``||dL/dh||^2`` on its way back, and the mean
    square of the activation's slope where that gradient reaches ``h`` (``E[phi'(h)^2]``,
    :func:`cnnspec.check.meanfield.chi_1`'s, where no max pool stands between). A norm sets
    the first to 1 and divides the second by its input's variance (``dx = (dy - mean(dy) -
    xhat mean(dy xhat)) / sd``, the two means a small share over a batch); a mean of ``k``
    values keeps the mean and divides the rest of the first by ``k``
    (:func:`cnnspec.check.signal.mean_pooled`: at init a window's values are sums of
    different weights), and the second by ``k`` (each value gets ``1 / k`` of the gradient of
    each of the windows it is in, about ``k`` of them over the map); a flatten only
    reshapes.

    A max pool passes each output's gradient whole to the largest value of its window
    (``dx[argmax] = dy``, the rest 0; Goodfellow et al. 2016, "Deep Learning", 9.3; the
    engine's and PyTorch's max pool backward), so ``||dL/dx||^2`` summed over its input is
    ``||dL/dy||^2`` summed over its output (per value, the outputs over the inputs times
    what the routed one carried; windows that overlap add the gradients of the windows an
    input wins, whose cross terms are 0 on average). Its values are ``phi`` of the largest
    of each window's ``k`` sums, which share the part their input's mean gives
    (:class:`cnnspec.check.signal.Sums`, as the signal estimate knows them: ``k`` and that
    share), and the gradient passes back at that largest sum, where tanh's and sigmoid's
    slopes are smallest: the third figure is ``E[phi'(Y)^2]`` for ``Y`` that largest
    (:func:`cnnspec.check.signal.largest_of_function`), the first ``E[phi(Y)^2]``."""
    kind = KINDS[activation]
    phi, dphi = kind.increasing, kind.derivative
    moment, backward, mean = meanfield.variance_map(q, 1.0, 0.0, phi), 1.0, None
    slope = meanfield.chi_1(q, 1.0, dphi)  # E[phi'(h)^2]
    for info in between:
        kind = KINDS[info.kind]
        if kind.family == "reshape":
            continue
        if mean is None:
            mean = meanfield.gaussian_mean(phi, q)
        if kind.family == "norm":
            backward /= moment - mean * mean
            moment, mean = signal.kind_signal(info.ir, [moment], info.input_shapes), 0.0
        elif kind.max_of is not None:
            values = dataclasses.replace(sums[info.name], q=q)
            moment, mean = values.second_moment(), values.mean()
            slope = signal.largest_of_function(values.k, values.shared, q, activation,
                                               values.offset, slope=True)[0]
        else:
            k = kind.mean_of(info.ir, info.input_shapes)
            moment, backward = signal.mean_pooled(moment, mean, 0.0, k), backward / k
    return moment, backward, slope


def stack_of(chain: Chain, first_moment: float, sums: dict[str, signal.Sums],
             rate: float | None = None) -> Stack | None:
    """The factors of ``chain``'s steps back in the weights' gradient ``G`` (the module's
    docstring), its first layer's input of mean square ``first_moment``, the values the
    signal estimate knows as sums ``sums`` (:func:`cnnspec.check.signal.estimate`'s); None
    where a moment leaves floating point or a max pool's values are not known so. ``rate``:
    the chain's :func:`settling_rate`, where it is known already."""
    if any(KINDS[i.kind].max_of is not None
           and getattr(sums.get(i.name), "function", None) != chain.activation
           for between in chain.bridges for i in between):
        return None
    layers, shares, factors = chain.layers, chain.shares, chain.forward_factors
    moment = first_moment
    q, norm_back = _pre_activation(layers[0], factors[0], chain.norms[0], moment)
    chis = []
    for step, (nxt, norms, between) in enumerate(zip(layers[1:], chain.norms[1:],
                                                     chain.bridges)):
        if not (0 <= q < math.inf and 0 < moment < math.inf):
            return None
        passed, backward, slope = _through(between, q, chain.activation, sums)
        if not 0 < passed < math.inf:
            return None
        # G(prev) / G(nxt): ||dL/dh||^2 back through the step (chi_1, with the slope where
        # the gradient reaches h), times the inputs' mean squares
        total = factors[step + 1] * slope * backward * norm_back
        chis.append(total * shares[step] * moment / (shares[step + 1] * passed))
        moment = passed
        q, norm_back = _pre_activation(nxt, factors[step + 1], norms, moment)
    if not all(0 < chi < math.inf for chi in chis):
        return None
    if rate is None:
        rate = settling_rate(chain)
    if rate is not None and not 0 < rate < math.inf:
        return None  # biases of 1e300 (float64): their square leaves the map no finite q*
    # a norm sets every step it ends to its own q: each repeats, and the mean is the rate
    return Stack(chain, chis,
                 math.exp(sum(math.log(chi) for chi in chis) / len(chis)) if rate is None
                 else rate)


def _pooled(between: list[LayerInfo]) -> float:
    """The factor by which the mean pools ``between`` scale a centred input's mean square."""
    return math.prod(1 / KINDS[i.kind].mean_of(i.ir, i.input_shapes) for i in between
                     if KINDS[i.kind].mean_of is not None)


def settling_rate(chain: Chain) -> float | None:
    """The factor per step in ``G`` a long stack of the chain's geometric-mean layers (each
    with its step's mean pools) and mean bias settles into: ``chi_1`` at the fixed point ``q*``
    of the variance map, where the inputs' mean square holds still; None where a norm resets
    ``q`` at each step, so that no fixed point is reached, or a max pool takes the largest
    of values whose shared part changes from step to step (:func:`_through`): no one map to
    iterate.

    An activation odd about 0 whose values stay within its slope at 0 (``|phi(u)| <=
    phi'(0) |u|``: tanh) has the fixed point ``q* = 0`` wherever ``fan_in E[w^2] phi'(0)^2
    <= 1`` and the biases are 0 (the map stays below ``q``: the ordered phase and its
    critical edge, Poole et al. 2016): there the stack is ever more linear, and ``G``, as in
    a deep linear net, keeps its scale (1, without iterating: on the critical line ``q``
    falls only as ``1 / (2 l)``)."""
    if chain.normed or any(KINDS[i.kind].max_of is not None
                                 for between in chain.bridges for i in between):
        return None
    kind, rest = KINDS[chain.activation], chain.layers[1:]
    phi, dphi = kind.increasing, kind.derivative
    factors = [factor * _pooled(between)
               for factor, between in zip(chain.forward_factors[1:], chain.bridges)]
    # a weight's square that underflows to 0 (gain=1e-320) passes nothing: their mean is 0
    forward = 0.0 if min(factors) <= 0 else \
        math.exp(sum(math.log(factor) for factor in factors) / len(factors))
    biases = sum(_bias_square(i) for i in rest) / len(rest)
    # (within rounding: Glorot's 2 / (fan_in + fan_out) on equal fans is 1 to a few ulps)
    if kind.centre == 0 and biases == 0 and forward * dphi(0.0) ** 2 <= 1 + 1e-12:
        return 1.0
    return meanfield.fixed_chi(forward, biases, phi, dphi)


@record
class Culprit:
    """The layer of a stack whose own weights make most of its factor
    (:attr:`Stack.culprit`): the ``steps`` it joins (indices into the stack's ``chis``: the
    step back into it and the one out of it), and its ``fan_in E[w^2]`` beside the median
    of the other layers' (``scale``, ``others``)."""

    layer: LayerInfo
    steps: list[int]
    scale: float
    others: float


def _log_forward_factor(info: LayerInfo) -> float:
    """The log of :func:`_forward_factor`, from the log of ``E[w^2]``, which a weight's square
    that underflows keeps."""
    terms = signal.summed_terms(info) * signal.read_share(info)
    return signal.weight_log_second_moment(info) + math.log(terms)


def _off_critical(log_scale: float, activation: str) -> bool:
    """Whether a layer's log ``fan_in E[w^2]`` (``log_scale``) is off the critical line
    before ``activation`` (:func:`_critical_init`) past :data:`LIMIT` (in mean square); true
    before an activation not odd about 0 (sigmoid), which has none."""
    if KINDS[activation].centre != 0:
        return True
    return abs(log_scale - math.log(_critical_init(activation)[0])) > 2 * math.log(LIMIT)


def factor_text(log_mean_square: float) -> str:
    """The root mean square's factor ``exp(|log| / 2)``, or a power of 2 beyond floats."""
    log_factor = abs(log_mean_square) / 2
    if log_factor < 700:
        return f"{rounded_text(math.exp(log_factor))}x"
    return f"by a factor of about 2^{log_factor / math.log(2):,.0f}"


def _written_gain(info: LayerInfo) -> dict | None:
    """The gain a layer's weight init is given other than its catalogue default, or None."""
    init = info.ir[WEIGHT_INIT_KEY]
    written = init.get("gain")
    return None if written == catalogue.PARAMS[init["name"]].get("gain") else written


def _written_init(info: LayerInfo) -> str:
    """A layer's weight init as the spec names it, with a gain other than its default:
    ``glorot_normal(gain=tanh)``, ``lecun_normal``."""
    written = _written_gain(info)
    return (info.weight_init.name if written is None
            else f"{info.weight_init.name}(gain={gains.gain_text(written)})")


def _most_common(layers: list[LayerInfo]) -> LayerInfo:
    """A layer of the most common init among ``layers``, as written."""
    init = Counter(_written_init(i) for i in layers).most_common(1)[0][0]
    return next(i for i in layers if _written_init(i) == init)


def _critical_advice(stack: Stack, init: str) -> str:
    """What to use at the critical line ``fan_in E[w^2] phi'(0)^2 = 1`` (tanh: 1), said
    against the stack's own init where that is the catalogue's critical one but for a gain
    (PyTorch's gain=tanh, 5/3)."""
    info = stack.most_common
    written = _written_gain(info)
    gain = 1.0 if written is None else gains.gain(written)
    if math.isclose(gain, 1.0):
        return f"use {init}"
    return (f"use {init}, without a gain ({_written_init(info)} scales Var(w) by gain^2 = "
            f"{rounded_text(gain ** 2)}: a gain gives back what an activation takes from "
            f"the forward signal, and {stack.activation} takes nothing near 0)")


def describe(stack: Stack) -> str:
    """The warning's sentence: how much, over which layers, and the factors behind it (those of
    the layer that makes most of it, where one does: :attr:`Stack.culprit`)."""
    first, last = stack.layers[0], stack.layers[-1]
    grows = stack.log_total > 0
    act = stack.activation
    head = (f"the weights' gradient of '{first.name}' is estimated "
            f"{factor_text(stack.log_total)} {'larger' if grows else 'smaller'} than of "
            f"'{last.name}' (root mean square of ||dL/dW||^2 / fan_in), the first and last of "
            f"{len(stack.layers)} layers before {act}")
    theory = (f"by mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) each step back "
              f"scales the layer's output gradient ||dL/dh||^2 by fan_in E[w^2] E[{act}'(h)^2] "
              f"and the input that gradient multiplies by E[x^2] / E[{act}(h)^2]")
    named = stack.culprit
    if named is not None:
        return f"{head}, and most of that factor is one layer's weights: " \
            f"{_culprit_text(stack, named)} ({theory})"
    inits = _written_init(stack.most_common)
    return (
        f"{head} (mostly {inits}): {theory}; {_steps_text(stack)}, and "
        f"{rounded_text(stack.rate)} where a deeper stack settles: the {stack.phase} phase, "
        f"where one learning rate moves the first layers' weights "
        f"{'far faster' if grows else 'far slower'} than the last's")


def _steps_text(stack: Stack) -> str:
    """How the stack's steps back scale the weights' gradient: the first's and the last's
    factors and their geometric mean, or the factor of its only step (two layers)."""
    if len(stack.chis) == 1:
        return f"the stack's one step scales the weights' gradient by {rounded_text(stack.chis[0])}"
    mean_chi = math.exp(stack.log_total / len(stack.chis))
    return (f"the stack's {len(stack.chis)} steps scale the weights' gradient by "
            f"{rounded_text(stack.chis[0])} (first step) to {rounded_text(stack.chis[-1])} "
            f"(last), {rounded_text(mean_chi)} on average")


def _culprit_text(stack: Stack, named: Culprit) -> str:
    """The named layer's init and scale against the others', and its steps' share."""
    info = named.layer
    others = [i for i in stack.layers if i is not info]
    steps = [f"from '{stack.layers[i + 1].name}' to '{stack.layers[i].name}', "
             f"{rounded_text(stack.chis[i])}" for i in named.steps]
    log_own = sum(math.log(stack.chis[i]) for i in named.steps)
    return (f"'{info.name}' ({_written_init(info)}, {info.weight_init.short}) has fan_in "
            f"E[w^2] = {rounded_text(named.scale)}, where the stack's other layers have "
            f"{rounded_text(named.others)} (median; mostly {_written_init(_most_common(others))}),"
            f" and the {'steps' if len(steps) > 1 else 'step'} back through it "
            f"({', and '.join(steps)}) {'scale' if len(steps) > 1 else 'scales'} the weights' "
            f"gradient by "
            f"{rounded_text(math.exp(log_own))} ({factor_text(log_own)} in root mean square) "
            f"of the {rounded_text(math.exp(stack.log_total))} of all {len(stack.chis)} steps")


def _critical_init(activation: str) -> tuple[float, str]:
    """``fan_in E[w^2]`` on the critical line before an activation odd about 0 (``1 /
    phi'(0)^2``), and the init that draws it."""
    critical = 1 / KINDS[activation].derivative(0.0) ** 2
    init = (signal.suggested_init(activation) if math.isclose(critical, 1.0)
            else f"{choose.scheme_for('relu').name}"
            f"(gain={float_text(round(math.sqrt(critical), 4))})")
    return critical, init


def hint(stack: Stack) -> str:
    """The init on the critical line before the stack's activation, at and below which the
    weights' gradient keeps its scale; for an activation not odd about its centre (sigmoid)
    no init both keeps it and leaves the units unsaturated. Where one layer makes most of
    the factor (:attr:`Stack.culprit`), the init for that layer."""
    kind = KINDS[stack.activation]
    slope = kind.derivative(0.0)
    if stack.normed == "before":
        return _normed_before_advice(stack)
    if stack.normed:
        return _normed_advice(stack)
    named = stack.culprit
    if named is not None:
        return _culprit_advice(stack, named.layer)
    biases = _bias_advice(stack, slope) if kind.centre == 0 else None
    if biases is not None:
        return biases
    if kind.centre == 0:
        critical, init = _critical_init(stack.activation)
        advice = (_critical_advice(stack, init) if math.isclose(critical, 1.0)
                  else f"use {init}")
        return (f"the critical init before {stack.activation} is fan_in E[w^2] = 1 / "
                f"{stack.activation}'(0)^2 = {rounded_text(critical)} at zero biases (Poole et "
                f"al. 2016), at and below which the units stay near their linear part and the "
                f"weights' gradients keep their scale as in a deep linear net: {advice}; or "
                "add batchnorm")
    return (f"{stack.activation}'s slope is at most {rounded_text(slope)}, so each step back "
            f"keeps at most fan_in E[w^2] x {rounded_text(slope ** 2)} of the gradient's "
            "square, and weights large enough to make up for it saturate the units: in hidden "
            f"layers use tanh with {signal.suggested_init('tanh')}, or relu with "
            f"{signal.suggested_init('relu')}")


def _culprit_advice(stack: Stack, info: LayerInfo) -> str:
    """The init for the one layer that makes most of a stack's factor: the critical one
    before an activation odd about 0, else the other layers' own."""
    act = stack.activation
    if KINDS[act].centre == 0:
        critical, init = _critical_init(act)
        return (f"'{info.name}''s fan_in E[w^2] of {rounded_text(_forward_factor(info))} is "
                f"far off the critical init before {act}, 1 / {act}'(0)^2 = "
                f"{rounded_text(critical)} (Poole et al. 2016): use {init} on its line")
    others = _most_common([i for i in stack.layers if i is not info])
    return (f"give '{info.name}' weights of the other layers' scale: their "
            f"{_written_init(others)}, on its line")


def _bias_advice(stack: Stack, slope: float) -> str | None:
    """Where the stack's weights (before an activation odd about 0) are at or below the
    critical line at zero biases (``fan_in E[w^2] phi'(0)^2 <= 1``) and its biases are drawn
    or set apart from 0, the biases are what move its gradient: ``sigma_b^2`` adds to every
    unit's ``q``, saturating it, and moves the critical line to larger weights (Poole et al.
    2016, Fig. 1). Telling such a spec to use the init it already uses would lead nowhere;
    None for other stacks."""
    info = stack.most_common
    bias_square = _bias_square(info)
    if bias_square == 0 or _forward_factor(info) * slope ** 2 > 1 + 1e-9:
        return None
    return (f"the weights ({_written_init(info)}) are at or below the critical line, fan_in "
            f"E[w^2] {stack.activation}'(0)^2 <= 1; the biases' init ({info.bias_init.name}, "
            f"{info.bias_init.short}, E[b^2] = {rounded_text(bias_square)}) is what moves the "
            f"gradient: it adds to every unit's pre-activation and drives {stack.activation} "
            "into its flat parts (Poole et al. 2016): start the biases at zeros (`bias zeros`) "
            "or far below the weights' sums")


def _normed_advice(stack: Stack) -> str:
    """A norm after each activation gives the next layer inputs of unit mean square whatever
    the init, and divides the gradient by their variance: ``chi_1 / Var(phi(h))``, above 1
    for tanh at any weight scale and nearer 1 the more linear the units (Yang et al. 2019, "A
    mean field theory of batch normalization": such stacks' gradients explode)."""
    act = stack.activation
    return (f"a norm after {act} gives each next layer inputs of unit mean square whatever the "
            f"init, and divides the gradient's square by their variance on its way back: "
            f"each step scales it by fan_in E[w^2] E[{act}'(h)^2] / Var({act}(h)) (Yang et "
            "al. 2019), which smaller weights bring toward 1; or add residual connections")


def _normed_before_advice(stack: Stack) -> str:
    """A norm before each activation sets its input to unit mean square whatever the init,
    so no init changes the steps: ``E[phi'(h)^2] / E[phi(h)^2]`` at ``h ~ N(0, 1)`` (tanh:
    1.18, Yang et al. 2019's gradient explosion), times the ratio of the layers' weight
    scales, which the weights' gradient of a layer after a norm is inverse to."""
    act = stack.activation
    step = math.exp(stack.log_total / len(stack.chis))
    return (f"a norm before {act} gives it inputs of unit mean square whatever the init, so "
            f"each step back scales the weights' gradient by E[{act}'(h)^2] / E[{act}(h)^2] at "
            f"h ~ N(0, 1) (Yang et al. 2019; here {rounded_text(step)} a step) whatever the "
            "weights' scale: fewer layers between shortcuts (residual connections), or the "
            "norm after the activation, where smaller weights bring the steps toward 1")


def stacks(estimate: signal.Estimate) -> list[Stack]:
    """Every stack of saturating layers (:func:`_chains`) with its factors."""
    moments = estimate.second_moments
    found = (stack_of(chain, moments[chain.layers[0].inputs[0]], estimate.sums)
             for chain in _chains(estimate))
    return [stack for stack in found if stack is not None]


def passing_if_scaled(estimate: signal.Estimate, factors: dict[str, float]) -> Stack | None:
    """The stack this warning would be given were the weights' second moment of each layer
    ``factors`` names multiplied by its factor (another init a hint weighs for them:
    :mod:`cnnspec.check.gainfit`), among the chains that hold one of them; None where none
    would pass :data:`LIMIT`. The signal estimate's moments before each chain stay as they
    are: a chain's own layers carry the change."""
    moments = estimate.second_moments
    for chain in _chains(estimate):
        if not any(info.name in factors for info in chain.layers):
            continue
        stack = stack_of(_scaled(chain, factors), moments[chain.layers[0].inputs[0]],
                         estimate.sums)
        if stack is not None and stack.passes():
            return stack
    return None


def _scaled(chain: Chain, factors: dict[str, float]) -> Chain:
    """``chain`` with the weights' second moment of the layers ``factors`` names multiplied
    by its factor (its :attr:`Chain.forward_factors` and :attr:`Chain.log_scales`)."""
    twin = Chain(chain.layers, chain.activation, chain.norms, chain.bridges)
    ratios = [factors.get(info.name, 1.0) for info in chain.layers]
    twin.forward_factors = [f * r for f, r in zip(chain.forward_factors, ratios)]
    twin.log_scales = [s + math.log(r) for s, r in zip(chain.log_scales, ratios)]
    return twin


def gradient_scale(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """A warning for each stack whose weights' gradient differs past :data:`LIMIT` from its
    first layer to its last (:meth:`Stack.passes`), at the weight init of the layer that makes
    most of it (:attr:`Stack.culprit`) or else of its first layer of its most common init
    (:func:`_blamed`); not for a stack the signal warning already points into. A chain whose
    settling rate cannot pass and that has no layer of a scale of its own (:attr:`Chain.alone`)
    is left before its integrals (a deep tanh net at the critical init: most of what check
    would spend)."""
    rated = [(chain, settling_rate(chain)) for chain in _chains(estimate)]
    rated = [(chain, rate) for chain, rate in rated
             if rate is None or _phase_may_pass(len(chain.layers) - 1, rate)
             or chain.alone]
    if not rated:
        return []
    moments = estimate.second_moments
    found = [stack_of(chain, moments[chain.layers[0].inputs[0]], estimate.sums, rate)
             for chain, rate in rated]
    passing = [stack for stack in found if stack is not None and stack.passes()]
    if not passing:
        return []
    change = estimate.change
    told = change.first_weight_layer if signal.is_too_large(change) else None
    # where the signal warning points at the same layer, it says it: weights too small for
    # sigmoid shrink the signal and the weights' gradient alike (by fan_in E[w^2] / 16 a step)
    return [spec.error(describe(stack), _blamed(stack).name, WEIGHT_INIT_KEY,
                       severity="warning", hint=hint(stack))
            for stack in passing if told not in {i.name for i in stack.layers}]


def _blamed(stack: Stack) -> LayerInfo:
    """The layer a stack's warning points at: the one that makes most of its factor, else
    the first of the stack's most common init, which the hint's cure is for (the first
    layer, whose weights' gradient it compares, under one init)."""
    named = stack.culprit
    return stack.most_common if named is None else named.layer
