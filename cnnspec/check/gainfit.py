"""A weight init whose gain is made for one activation, on a layer that another one follows.

A scaled init draws ``Var(w) = gain^2 / fan`` (He et al. 2015, eq. 10; Glorot & Bengio 2010):
the gain gives back what the activation after the layer takes from the signal's second moment,
and each activation has its own: PyTorch's ``calculate_gain`` (:mod:`cnnspec.init.gains`) for
relu sqrt(2) and tanh 5/3, and for the activations without an entry there the gain that keeps
the second moment, ``1 / sqrt(E[f(z)^2])`` for z ~ N(0, 1) (:meth:`cnnspec.kinds.Kind
.moment_gain`: elu 1.245), as also for sigmoid, whose calculate_gain of 1 does not keep it.
An init whose gain names an activation (he_normal's relu, a written ``gain=tanh``) or is a
number (``gain=3``) on a layer that feeds another activation scales the variance by ``(g_init
/ g_act)^2`` of what that activation needs, at every such layer: he_normal before tanh 0.72x,
before sigmoid 0.59x. The signal estimate warns only once that has compounded past its limit
over depth (:mod:`cnnspec.check.scale`); this says it of each layer, with the init that fits.

What the engine measures behind these choices (a 20-layer dense stack, docs/how-to-
initialise.md, section "Gains of the other activations", tests/test_gain_fit.py): tanh's 5/3
holds the sums' variance at 1.2 where the second-moment gain 1.59 holds it at 1, so PyTorch's value
stays (within :data:`MATERIAL`); sigmoid's 1 lets it settle at 0.25, 1.85 at 1, so sigmoid's
gain here is 1.85 and the language's ``gain=sigmoid`` (PyTorch's 1, kept for code written for
PyTorch) does not fit it. For gelu, silu, mish and hard swish the fixed point the second-moment
gain makes does not hold (an offset from it grows 1.08x to 1.22x a layer): a stack 256 wide
started at it ends 1.5x to 3.4x (gelu), 10x to 29x (silu) and 50x to 150x (hard swish) above
it at the twentieth layer over six seeds, and mish's at 0.77x to 1.9x, where elu's ends at
0.86x to 1.19x; no gain keeps their plain stack's scale, and none is said to fit.

A default of gain 1 (glorot's, orthogonal's ``linear``, lecun's) is the scheme's own, chosen
for no activation, and quiet here: before relu it halves the variance at each layer, which
the signal estimate says once the product over the chain passes its 100x in scale
(:data:`cnnspec.check.signal` ``is_too_large``; He et al. 2015's 30-layer net, which Glorot's
init stalls, is estimated 3.8e5x, the engine measures 1.3e6x; their 22-layer one 1.7e4x and
1.5e4x), and no sooner: a shallow net (Keras' default, glorot_uniform before relu) trains. A
literal kernel, a constant or a plain ``normal(0, 0.01)`` name no gain either: quiet.
The activation after a layer is the signal estimate's (:func:`cnnspec.check.signal
.following_activation`: the fused word of its line or the next layer, through a max pool,
dropout or a reshape), but not through a norm, which sets the scale itself. Tanh's gain 1,
its critical one (``1 / tanh'(0)``, Poole et al. 2016; docs/critical-init.md), fits it too.
The logits layer is left alone: the loss, not an activation, reads it.
"""
from __future__ import annotations

import dataclasses
import math

from cnnspec.check import gradient, signal
from cnnspec.check.copies import folded_texts
from cnnspec.check.model import LayerInfo
from cnnspec.errors import SpecError, listed, rounded_text
from cnnspec.init.catalogue import BY_NAME, GLOROT_2010, HE_2015
from cnnspec.init.choose import at_gain_one
from cnnspec.init.describe import init_json, init_text
from cnnspec.init.gains import NONLINEARITIES, gain, gain_text
from cnnspec.ir.spec import Spec
from cnnspec.kinds import KINDS, Kind, is_weighted
from cnnspec.kinds.fields import WEIGHT_INIT_KEY
from cnnspec.records import record
from cnnspec.sourcefile import source_lines

# A layer whose variance is off by more than this factor either way is said: 1.25 a layer
# compounds to 9.3x in variance over ten layers; leaky_relu(0.5) after He's relu gain (1.25)
# still fits.
MATERIAL = 1.25
# Gains whose ratio squared is beyond e^700 either way (1e152 apart) make weights that float32
# holds as 0 or infinity, which check says, or a signal that the signal warning says dies or
# explodes: a misfit beside those would add nothing, and exp() of it would overflow.
LARGEST_LOG = 700.0


@record(frozen=True)
class Misfit:
    """A layer whose weight init carries the gain ``given`` (an IR gain object) in its
    parameter ``param``, while ``activation`` follows it, whose gain is ``wanted``; ``ratio``:
    ``(gain(given) / gain(wanted))^2``, the factor its variance is off by at each layer."""

    layer: LayerInfo
    param: str
    given: dict
    activation: dict
    wanted: dict
    ratio: float

    @property
    def fitting(self) -> dict:
        """The layer's init with the gain of the activation after it."""
        return {**self.layer.ir[WEIGHT_INIT_KEY], self.param: self.wanted}

    @property
    def critical_fitting(self) -> dict | None:
        """The layer's init at the critical gain of the activation after it (tanh's 1:
        he_normal -> lecun_normal, :func:`cnnspec.init.choose.at_gain_one`), or None for an
        activation without one."""
        critical = _critical_gain(self.activation)
        if critical is None:
            return None
        init = self.layer.ir[WEIGHT_INIT_KEY]
        if math.isclose(critical, 1.0):
            return at_gain_one(init)
        return {**init, self.param: {"value": float(f"{critical:.4g}")}}

    @property
    def defaulted(self) -> bool:
        """Whether the layer takes its weight init from the default."""
        return WEIGHT_INIT_KEY in self.layer.ir.get("default_inits", ())


def chosen_gain(init: dict) -> tuple[str, dict] | None:
    """The parameter of ``init`` (an IR init) that gives a chosen gain, and that gain: one
    named by its nonlinearity or written as a number (the catalogue's ``gain`` type), but for
    a default of gain 1, the scheme's own; None for an init that carries none."""
    for param in BY_NAME[init["name"]].params:
        given = init.get(param.name)
        if (param.type == "gain" and isinstance(given, dict)
                and not (given == param.default and gain(given) == 1.0)):
            return param.name, given
    return None


def _fits(g: float, target: float) -> bool:
    """Whether the gain ``g`` sets the variance within :data:`MATERIAL` of ``target``'s (in
    logarithms: a gain of 1e-300 squares to 0)."""
    return 2 * abs(math.log(g) - math.log(target)) <= math.log(MATERIAL)


def activation_gain(activation: dict) -> dict | None:
    """The gain of an activation layer's IR, as an IR gain object: He's leaky form with its
    negative slope for a piecewise linear one (relu with 0: calculate_gain's); for another,
    its name where the language's gain of that name fits the gain that keeps the second
    moment (:meth:`Kind.moment_gain`; tanh's 5/3, elu's own), else that gain as a number
    (sigmoid's 1.846); None where no gain keeps it (gelu, silu, mish, hard swish; softmax)."""
    kind = KINDS[activation["kind"]]
    if kind.negative_slope is not None:
        slope = float(kind.negative_slope(activation))
        return ({"nonlinearity": "relu"} if slope == 0
                else {"nonlinearity": "leaky_relu", "slope": slope})
    keeping = kind.moment_gain(activation)
    if keeping is None or not 0 < keeping < math.inf:
        return None  # elu(alpha=1e300): its second moment is beyond float64's range
    named = {"nonlinearity": kind.name}
    if kind.name in NONLINEARITIES and _fits(gain(named), keeping):
        return named
    # four figures, not three places: elu(alpha=1e4)'s gain is 1.2e-4
    return {"value": float(f"{keeping:.4g}")}


def _critical_gain(activation: dict) -> float | None:
    """For an activation odd about 0 with a slope there (tanh), its critical gain ``1 /
    f'(0)`` (Poole et al. 2016); else None."""
    kind = KINDS[activation["kind"]]
    if kind.centre == 0 and kind.derivative is not None:
        return 1.0 / kind.derivative(0.0)
    return None


def _fitting_gains(activation: dict, wanted: dict) -> list[float]:
    """The gains that fit an activation: ``wanted`` (:func:`activation_gain`), the one that
    keeps the second moment, and the critical one (:func:`_critical_gain`)."""
    kind = KINDS[activation["kind"]]
    fits = [gain(wanted)]
    if kind.negative_slope is None:
        fits.append(kind.moment_gain(activation))
    critical = _critical_gain(activation)
    return fits if critical is None else [*fits, critical]


def _activation_after(info: LayerInfo, estimate: signal.Estimate, output: str) -> dict | None:
    """The activation after a used conv/dense layer (not through a norm); None where none
    follows, or the layer or the activation after it is the ``output`` (the loss reads it)."""
    if not is_weighted(info.kind) or info.name not in estimate.used or info.name == output:
        return None
    activation = signal.following_activation(info, estimate.by_name, estimate.consumers,
                                             through_norms=False)
    if activation["kind"] not in KINDS:  # following_activation's "linear": none follows
        return None
    return None if activation["name"] == output else activation


def _gain_after(info: LayerInfo, estimate: signal.Estimate, output: str
                ) -> tuple[dict, dict] | None:
    """The activation after a used conv/dense layer (:func:`_activation_after`) and its gain
    (:func:`activation_gain`); None where none with a gain follows."""
    activation = _activation_after(info, estimate, output)
    wanted = activation_gain(activation) if activation is not None else None
    return None if wanted is None else (activation, wanted)


def misfit(info: LayerInfo, estimate: signal.Estimate, output: str) -> Misfit | None:
    """The mismatch of ``info``'s weight init with the activation after it, or None. The
    gain an activation keeps its second moment by is integrated (:meth:`Kind.moment_gain`)
    only where it can decide: for a layer whose init chose a gain that does not fit the
    activation's critical gain (a tanh stack's gain of 1 fits without it)."""
    chosen = chosen_gain(info.ir[WEIGHT_INIT_KEY]) if is_weighted(info.kind) else None
    activation = _activation_after(info, estimate, output) if chosen else None
    if activation is None:
        return None
    param, given = chosen
    if not 0 < gain(given) < math.inf:
        return None  # a leaky slope of 1e300: the signal warning says what that does
    critical = _critical_gain(activation)
    if critical is not None and _fits(gain(given), critical):
        return None
    wanted = activation_gain(activation)
    if wanted is None:
        return None
    fits = _fitting_gains(activation, wanted)
    if not all(0 < g < math.inf for g in fits) or any(_fits(gain(given), fit) for fit in fits):
        return None
    # the gains' ratio squared, in logs: gain=leaky_relu(1e200) is 1.41e-200, whose square
    # against relu's is below float64's range
    log_ratio = 2 * (math.log(gain(given)) - math.log(fits[0]))
    if abs(log_ratio) > LARGEST_LOG:
        return None
    return Misfit(info, param, given, activation, wanted, math.exp(log_ratio))


def _gain_said(gain_ir: dict) -> str:
    """``the gain of relu, 1.414``: whose a gain is, and its value; ``a gain of 3`` for a
    number."""
    if "value" in gain_ir:
        return f"a gain of {rounded_text(gain(gain_ir), 4)}"
    return f"the gain of {gain_text(gain_ir)}, {rounded_text(gain(gain_ir), 4)}"


def _source(wanted: dict) -> str:
    """Where the gain ``wanted`` of an activation comes from."""
    if wanted.get("nonlinearity") in ("relu", "leaky_relu", "tanh"):
        return f"PyTorch's calculate_gain; {HE_2015}, eq. 10, {GLOROT_2010}"
    return (f"the gain that keeps the second moment, 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1): "
            f"{HE_2015}, eq. 10, for f's own second moment")


def _over_depth(kinds: list[Kind]) -> str:
    """What a stack of such layers does with the factor: a saturating one's (tanh, sigmoid)
    settles near it (a 20-layer sigmoid stack under he_normal holds the sums' variance at 0.51
    to 0.55, the factor 0.59), another's (relu6 too, which clips rarely) compounds it."""
    if all(kind.value_range is not None and kind.negative_slope is None for kind in kinds):
        return "a stack of such layers settles near that scale rather than compounding it"
    return "compounding over the layers"


def _hint(spec: Spec, group: list[Misfit], names: str, feeding: set[str],
          parted: gradient.Stack | None) -> str:
    """The init that fits, written where it goes: on the `default` line (or as one) where
    every layer that takes the default and feeds an activation is in ``group`` (``feeding``:
    the names of those), else on the lines of the layers; in a JSON IR, as its JSON. Where
    the activation's gain would make the stack's weights' gradients part (``parted``: the
    stack the gradient warning would then be given, :func:`_parted_if_fitted`), the init at
    its critical gain first, and why; an activation without one (sigmoid) is given its gain
    with what that does to the gradients."""
    critical = parted is not None and group[0].critical_fitting is not None
    fitting = group[0].critical_fitting if critical else group[0].fitting
    fit = init_text(fitting)
    other = (f"`weight {init_text(group[0].fitting)}`" if spec.text is not None
             else f'"{WEIGHT_INIT_KEY}": {init_json(group[0].fitting)}')
    if parted is None:
        why = ""
    elif critical:
        why = f": {_critical_reason(group[0], parted, other)}"
    else:
        why = f", {_gradients_parted(group[0], parted)}"
    if spec.text is None:
        return f'give {names} "{WEIGHT_INIT_KEY}": {init_json(fitting)}{why}'
    if group[0].defaulted and feeding <= {m.layer.name for m in group}:
        return _default_hint(spec, fit, group[0]) + why
    where = "at the end of" if group[0].defaulted else "in place of the init on"
    lines = "the line of" if len(group) == 1 else "the lines of"
    return f"write `weight {fit}` {where} {lines} {names}{why}"


def _parted_if_fitted(group: list[Misfit], estimate: signal.Estimate
                      ) -> gradient.Stack | None:
    """The stack whose weights' gradients would part past the gradient warning's limit
    (:func:`cnnspec.check.gradient.passing_if_scaled`) were ``group``'s layers given the
    activation's gain (tanh's 5/3, PyTorch's: the chaotic phase over a deep enough stack;
    sigmoid's 1.85 where a larger gain had kept 3 layers' gradients at one scale); else None.
    The hint then names the critical init, which that warning's hint names too, rather than
    an init that would draw it, or says what the gain does where there is none."""
    return gradient.passing_if_scaled(estimate, {m.layer.name: 1 / m.ratio for m in group})


def _critical_reason(first: Misfit, parted: gradient.Stack, other: str) -> str:
    """Why the hint gives the critical init (:func:`_hint`), and the activation's gain as the
    other choice, with what each keeps and what it gives up: at the critical init the weights'
    gradients keep their scale and the forward signal fades slowly (tanh at zero biases: ``q``
    falls as ``1 / (2 l)``, :mod:`cnnspec.check.gradient`); at the activation's gain the
    signal holds and the gradients part by the factor the gradient warning would say
    (``other``: that init as the hint writes it, in the spec's language or its IR's JSON)."""
    act = first.activation["kind"]
    critical = _critical_gain(first.activation)
    return (f"{act}'s critical init, fan_in E[w^2] = 1 / {act}'(0)^2 = "
            f"{rounded_text(critical ** 2)} (Poole et al. 2016), keeps the weights' gradients "
            f"at one scale through the stack, while the forward signal fades slowly (its "
            f"variance about 1 / (2 x depth)); or {other}, with "
            f"{_gain_said(first.wanted)}, {_gradients_parted(first, parted)}")


def _gradients_parted(first: Misfit, parted: gradient.Stack) -> str:
    """What the activation's gain does, where it makes the stack's weights' gradients part
    past the gradient warning's limit (``parted``, the stack that warning would be given):
    it holds the forward signal, and the gradients part by that warning's factor."""
    top, bottom = parted.layers[0].name, parted.layers[-1].name
    return (f"which holds the forward signal but makes '{top}''s weights' gradient "
            f"{gradient.factor_text(parted.log_total)} "
            f"{'larger' if parted.log_total > 0 else 'smaller'} than '{bottom}''s over the "
            f"{len(parted.layers)} layers (the {parted.phase} phase: Schoenholz et al. 2017)")


def _default_hint(spec: Spec, fit: str, first: Misfit) -> str:
    """Where the init ``fit`` goes as the default: on the `default` line in place of its
    weight, beside its bias where it gives only that, or as a line of its own."""
    weight, bias = (spec.spans.get(("default", f"{part}_init")) for part in ("weight", "bias"))
    if weight is not None:
        return f"write `weight {fit}` on the `default` line (line {weight.line})"
    if bias is not None:
        written = source_lines(spec.text)[bias.line - 1][bias.column - 1:bias.end_column - 1]
        return f"make the `default` line (line {bias.line}) `default {written}, weight {fit}`"
    return (f"add the line `default weight {fit}` (without one, every layer starts "
            f"{init_text(first.layer.ir[WEIGHT_INIT_KEY])})")


def _warning(spec: Spec, group: list[Misfit], feeding: set[str],
             parted: gradient.Stack | None) -> SpecError:
    """One warning for layers with the same init before the same activation's gain."""
    first = group[0]
    names = listed(folded_texts(spec, [f"'{m.layer.name}'" for m in group]))
    kinds = list(dict.fromkeys(m.activation["kind"] for m in group))  # relu and relu6
    verb = "feeds" if len(group) == 1 else "feed"
    take, need = ("takes", "needs") if len(kinds) == 1 else ("take", "need")
    written = init_text(first.layer.ir[WEIGHT_INIT_KEY])
    at = spec.init_place(first.layer.name, WEIGHT_INIT_KEY)
    records = [KINDS[kind] for kind in kinds]
    message = (
        f"{written} draws Var(w) = gain^2 / fan with {_gain_said(first.given)}, but "
        f"{names} {verb} {listed(kinds)}, which {take} {_gain_said(first.wanted)} "
        f"({_source(first.wanted)}): each such layer's output variance "
        f"is {rounded_text(first.ratio)}x what {listed(kinds)} {need} (the gains' ratio "
        f"squared), {_over_depth(records)}")
    warning = spec.error(message, at, WEIGHT_INIT_KEY, severity="warning",
                         hint=_hint(spec, group, names, feeding, parted))
    return dataclasses.replace(warning, about=tuple(m.layer.name for m in group))


def gain_misfits(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """A warning for each init, as written, whose gain is made for another activation than
    the one after its layers (:func:`misfit`), naming every such layer before the same gain
    (taking the init from the default line, or each its own)."""
    output = spec.ir["output"]
    found = [m for info in estimate.layers if (m := misfit(info, estimate, output))]
    if not found:
        return []
    groups: dict[tuple, list[Misfit]] = {}
    for m in found:
        key = (init_text(m.layer.ir[WEIGHT_INIT_KEY]), gain_text(m.wanted), m.defaulted)
        groups.setdefault(key, []).append(m)
    feeding = {info.name for info in estimate.layers
               if WEIGHT_INIT_KEY in info.ir.get("default_inits", ())
               and _gain_after(info, estimate, output)}
    return [_warning(spec, group, feeding, _parted_if_fitted(group, estimate))
            for group in groups.values()]
