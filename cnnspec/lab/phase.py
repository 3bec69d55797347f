"""``cnnspec init-report SPEC --phase``: the order/chaos phase diagram of the spec's own network.

The theory (:mod:`cnnspec.lab.meanfield`) gives, over a grid of ``(sigma_w, sigma_b)``, the
depth scale ``xi_c`` and the critical line ``chi_1 = 1`` for the nonlinearity of the spec's
hidden layers. Each named init of the catalogue sits on this diagram at ``sigma_w^2 = Var(w) *
fan_in`` of the spec's typical hidden layer (its own fans: Glorot's ``2 / (fan_in + fan_out)``
is ``sigma_w^2 = 1`` only where fan_in = fan_out), and at the ``sigma_b`` of the spec's bias.

The measurement compiles the spec (float64) and, at each point of a coarse grid, redraws the
hidden layers' weights ``N(0, sigma_w^2 / fan_in)`` and biases ``N(0, sigma_b^2)`` (every
conv/dense layer followed by the nonlinearity; the head keeps its init), then runs a batch
holding pairs of inputs with correlation ``C0`` and, for each first input, a copy moved by a
tiny perturbation. It reads, layer by layer, the pre-activations' second moment ``q`` and the
pairs' correlation ``c`` (the theory's two maps), and the growth of the perturbation's mean
square per unit from layer to layer, whose geometric mean over the layers is the measured
``chi_1``: Poole et al. 2016 (section "Transient chaos") define ``chi_1`` as exactly this
stretch factor of a small perturbation. Per unit, because the theory's maps are: a strided conv
(which the theory, for CNNs Xiao et al. 2018, does not consider) has fewer units than the layer
before, each still reading ``fan_in`` inputs, and the perturbation's squared norm summed over
a stride-2 layer read ``chi_1 / 4``.
The measured boundary is where the measured ``chi_1`` crosses 1 along each row of ``sigma_b``.

Zero padding: a conv's border outputs sum fewer products than ``fan_in`` (on a 4x4 map, 3x3
``pad same``, 100 of 144), so a kernel that spreads its variance over its taps, as a Gaussian
or an orthogonal matrix does, delivers deep in a stack only a share of its ``sigma_w^2`` (0.76
there), where a delta-orthogonal kernel, all at the centre tap, keeps it whole
(:func:`cnnspec.check.signal.read_share`, the factor ``check`` estimates the signal with). The
theory's ``sigma_w`` is the one the network sees, ``sigma_w * sqrt(share)``: each init is
placed there, the measured Gaussian points are drawn there, the theory beside them is taken
there and their inputs start at its ``q*``. Read at the ``sigma_w`` as drawn, the measured
line on ``specs/deep_tanh200.cnn`` lay at 1.41 where the theory's is at 1, and Glorot's
Gaussian (ordered there, it stays at chance) was called critical beside delta-orthogonal.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import field

import numpy as np

from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.check.signal import read_share
from cnnspec.compiler import compile_spec
from cnnspec.errors import InputError, WordedInputError, literal, rounded_text, shortened
from cnnspec.init import create, describe
from cnnspec.init.catalogue import INITS
from cnnspec.init.describe import init_text
from cnnspec.kinds import ACTIVATIONS, KINDS, is_weighted, layer_flops
from cnnspec.kinds.fields import WEIGHT_INIT_KEY
from cnnspec.lab import meanfield
from cnnspec.lab.defaults import MEASURED_GRID
from cnnspec.lab.memory import SMALLER_NETWORK, refuse_beyond_memory
from cnnspec.lab.variants import load_variant, spec_init_label
from cnnspec.records import record
from cnnspec.shapes import shape_text

C0 = 0.5  # the correlation of each input pair
PERTURBATION = 1e-6  # relative size of the perturbed copy (float64: stays linear)
GROWTH_LAYERS = 20  # layers over which the perturbation's growth is averaged
PAIRS = 8  # input pairs per grid point
PROBE_INPUTS = 3 * PAIRS  # x1, x2 and x1 perturbed (probe_inputs)
SIGMA_W_RANGE = (0.25, 3.0)  # the measured grid's span, and the heat map's unless widened
SIGMA_W_WIDEST = 6.0  # the heat map widens to show a named init up to here (beyond: at its edge)
SIGMA_W_LOWEST = 0.02  # and down to here: at 0 (zeros) the depth scale is 0, off the log colours
SIGMA_B_RANGE = (0.0, 1.0)
THEORY_GRID = (56, 21)  # sigma_w x sigma_b points of the theory's heat map
# How far from 1 the chi_1 measured at an init may lie, on the other side of the theory's
# phase, before the measurement contradicts the theory there: the bound the tests hold each
# measured point of a net the theory describes to (24 layers of 1x1 convs: 12%, 2-5% seen).
# Not a distance in sigma_w: without biases tanh's chi_1 stays within 5% of 1 from sigma_w 1
# to 1.25, so 2% of measurement moves the crossing of 1 by 0.15.
AGREEMENT = 0.1
# Points along a measured row at which its chi_1 is read between the measured points (the
# theory's shape times the measured ratio, :func:`measured_boundary`).
ROW_POINTS = 241
# The ratio of the hidden layers' largest fan_in to their smallest beyond which the verdict
# gives a std per fan_in: one std then misses sigma_w by more than 10% on some layer.
FAN_SPREAD = 1.2
# The depth, in depth scales xi_c, below which the verdict finds nothing to change for
# depth's sake: signals and gradients drift by about a factor e over xi_c layers (Schoenholz
# et al. 2017), and a net less deep than one sees less than that.
SHALLOW = 1.0


@record
class Chain:
    """The hidden layers: each conv/dense layer whose output goes through ``nonlinearity``."""

    layers: list[LayerInfo]
    nonlinearity: str
    arguments: dict
    # per layer after the first: whether it reads the layer before's nonlinearity directly
    # (through a flatten or dropout at most), the theory's step from layer to layer
    steps: list[bool] = field(default_factory=list)
    between: list[str] = field(default_factory=list)  # the layers of the steps that are not
    # (layer, nonlinearity) of the conv/dense layers followed by another elementwise
    # nonlinearity than the chain's: a net that mixes tanh and ReLU is drawn for one of them
    others: list[tuple[str, str]] = field(default_factory=list)

    @property
    def strided(self) -> list[str]:
        """The hidden layers with a stride above 1: the theory's layers have stride 1."""
        return [layer.name for layer in self.layers
                if any(step != 1 for step in layer.ir.get("stride", (1,)))]

    @property
    def typical(self) -> LayerInfo:
        """The layer of the median fan_in (the later of two middle ones): the one that stands
        for the stack when a named init is placed on the diagram. Not the most common weight
        shape: where every shape occurs once (``specs/digits.cnn``) that was the first layer,
        of fan_in 9 among fans of 256 and 288, and the std advised there was 5.6 times too
        large on every other layer."""
        return sorted(self.layers, key=lambda layer: layer.fan_in)[len(self.layers) // 2]

    @property
    def fans(self) -> list[tuple[int, list[str]]]:
        """Each fan_in of the hidden layers, smallest first, with the layers that have it."""
        found: dict[int, list[str]] = {}
        for layer in self.layers:
            found.setdefault(layer.fan_in, []).append(layer.name)
        return sorted(found.items())

    @property
    def inits(self) -> list[tuple[str, list[str]]]:
        """Each weight init of the hidden layers (:func:`init_label`), with the layers that
        start from it, in the layers' order: a layer that names its own init differs from the
        typical layer's, which alone places the spec on the diagram."""
        found: dict[str, list[str]] = {}
        for layer in self.layers:
            found.setdefault(init_label(layer), []).append(layer.name)
        return list(found.items())


def init_label(layer: LayerInfo) -> str:
    """A layer's weight init as the language writes it (``glorot_uniform``,
    ``normal(std=0.05)``)."""
    init = layer.ir.get(WEIGHT_INIT_KEY)
    return "none" if init is None else init_text(init)


def hidden_chain(checked: CheckedSpec) -> Chain:
    """The spec's hidden layers and their (most common) elementwise nonlinearity."""
    consumers: dict[str, list[LayerInfo]] = {}
    for layer in checked.layers:
        for name in layer.inputs:
            consumers.setdefault(name, []).append(layer)
    pairs = []
    for layer in checked.layers:
        after = consumers.get(layer.name, [])
        if is_weighted(layer.kind) and len(after) == 1 and after[0].kind in ACTIVATIONS \
                and ACTIVATIONS[after[0].kind].asymptote is not None:  # elementwise
            pairs.append((layer, after[0]))
    kinds = Counter(act.kind for _, act in pairs)
    if not kinds or kinds.most_common(1)[0][1] < 2:
        # a mistake in what was asked of this spec, which has no line to point at; the chain
        # is of one nonlinearity, so a sigmoid layer and a relu layer are not two
        has = (f"one each of {', '.join(kinds)}" if len(kinds) > 1 else str(len(pairs)))
        raise InputError(f"the phase diagram needs at least two conv/dense layers each "
                         f"followed by the same elementwise activation; {checked.spec.name} "
                         f"has {has}", hint="e.g. conv 16 3x3 pad same tanh, repeated")
    name = kinds.most_common(1)[0][0]
    act = next(a for _, a in pairs if a.kind == name)
    fields = ACTIVATIONS[name].field_map
    arguments = {key: act.ir[key] for key in fields if key in act.ir}
    chain = [(layer, a) for layer, a in pairs if a.kind == name]
    steps, between = [], []
    for (_, before), (layer, _) in itertools.pairwise(chain):
        path, reached = _path_back(checked, layer, before.name)
        steps.append(reached and all(_passes(step) for step in path))
        between += [step.name for step in path
                    if not _passes(step) and step.kind not in ACTIVATIONS
                    and step.name not in between]
    others = [(layer.name, a.kind) for layer, a in pairs if a.kind != name]
    return Chain([layer for layer, _ in chain], name, arguments, steps, between, others)


def _passes(layer: LayerInfo) -> bool:
    """Whether a layer leaves the theory's step as it is at init (in eval mode): a reshape
    (flatten) or a dropout."""
    return layer.kind == "flatten" or KINDS[layer.kind].family == "dropout"


def _path_back(checked: CheckedSpec, layer: LayerInfo, source: str
               ) -> tuple[list[LayerInfo], bool]:
    """The layers from ``layer``'s input back to ``source`` (left out), following single
    inputs, and whether ``source`` was reached: not past a layer of several inputs (a
    residual add, which ends the path)."""
    path = []
    while len(layer.inputs) == 1 and layer.inputs[0] in checked.by_name:
        if layer.inputs[0] == source:
            return path[::-1], True
        layer = checked.by_name[layer.inputs[0]]
        path.append(layer)
    return path[::-1], False


# ---- where the named inits sit --------------------------------------------------------------

@record
class InitPoint:
    """A named init on the diagram: its ``sigma_w`` as drawn (``std * sqrt(fan_in)``), the
    share of ``sigma_w^2`` the zero padding leaves it (:func:`padding_share`), and the
    theory's ``chi_1`` and ``xi_c`` at :attr:`net_sigma_w`, the ``sigma_w`` the net sees."""

    label: str
    sigma_w: float
    sigma_b: float
    chi_1: float
    xi_c: float
    share: float = 1.0
    measured_chi_1: float = np.nan  # on the measured grid, at the init's place (measured_chi)

    @property
    def net_sigma_w(self) -> float:
        return self.sigma_w * float(np.sqrt(self.share))

    @property
    def measured_phase(self) -> str | None:
        """The side of 1 the measured ``chi_1`` lies on where it contradicts the theory's
        :attr:`phase` (more than :data:`AGREEMENT` past 1 on the other side); else None."""
        theory = self.phase
        if self.measured_chi_1 < 1 - AGREEMENT and theory in ("critical", "chaotic"):
            return "ordered"
        if self.measured_chi_1 > 1 + AGREEMENT and theory in ("critical", "ordered"):
            return "chaotic"
        return None

    @property
    def agreed_critical(self) -> bool:
        """At the critical point by the theory, and not contradicted by the measurement."""
        return self.phase == "critical" and self.measured_phase is None

    @property
    def phase(self) -> str:
        """The theory's phase at :attr:`net_sigma_w`."""
        if not np.isfinite(self.chi_1):
            return "unbounded"
        if abs(self.chi_1 - 1.0) < 0.02:
            return "critical"
        return "ordered" if self.chi_1 < 1.0 else "chaotic"

    def to_dict(self) -> dict:
        return {"init": self.label, "sigma_w": self.sigma_w, "padding_share": self.share,
                "sigma_w_on_net": self.net_sigma_w, "sigma_b": self.sigma_b,
                "chi_1": self.chi_1, "xi_c": self.xi_c, "phase": self.phase,
                "measured_phase": self.measured_phase, "measured_chi_1": self.measured_chi_1}


def phase_text(phase: str, measured: str | None) -> str:
    """A phase as the table and the verdict print it: the theory's ``phase``, and the
    ``measured`` one beside it where the measurement contradicts it (``critical in theory,
    ordered measured``)."""
    return phase if measured is None else f"{phase} in theory, {measured} measured"


def sigma_w_of(init: dict, layer: LayerInfo) -> tuple[float, float]:
    """``sigma_w = std(w) * sqrt(fan_in)`` of ``init`` on ``layer``'s weight (mean-field
    theory's weight variance ``sigma_w^2 / fan_in``), and the share of it the layer's zero
    padding leaves (:func:`padding_share`)."""
    info = describe(init, layer.weight_shape, (layer.fan_in, layer.fan_out))
    return float(info.std * np.sqrt(layer.fan_in)), padding_share(layer, info)


def padding_share(layer: LayerInfo, init=None) -> float:
    """The share of ``sigma_w^2`` that ``layer``'s zero padding leaves a weight drawn by
    ``init`` (an ``InitInfo``; the layer's own by default) deep in a stack of such layers:
    :func:`cnnspec.check.signal.read_share` (1 without padding or with all the variance at
    the centre tap, as delta-orthogonal has it)."""
    return read_share(layer if init is None else dataclasses.replace(layer, weight_init=init))


def gaussian_share(layer: LayerInfo) -> float:
    """:func:`padding_share` of the measured grid's draws, ``N(0, sigma_w^2 / fan_in)``."""
    return padding_share(layer, describe({"name": "normal", "mean": 0.0, "std": 1.0},
                                         layer.weight_shape, (layer.fan_in, layer.fan_out)))


def named_inits(path, chain: Chain, extra: list[str] | None = None
                ) -> list[tuple[str, float, float]]:
    """``(label, sigma_w, padding share)`` of the spec's own inits (:func:`own_inits`), each
    ``--init`` text (applied to the spec at ``path`` as ``--init`` always is), and the
    catalogue's placed inits (defaults), on the typical hidden layer; equal ``sigma_w`` and
    share share a label, the spec's own first."""
    layer = chain.typical
    own = own_inits(chain)
    found = [(label, sw, share) for label, _, sw, share in own]
    for text in extra or ():
        drawn = load_variant(path, text).checked.by_name[layer.name]
        if not _placeable(drawn.weight_init):
            raise WordedInputError(
                f"{{inits:{literal(shortened(text, 60))}}}: " + literal(
                    f"{drawn.weight_init.name} ({drawn.weight_init.short}) is not drawn with "
                    "mean 0 and a variance of its own, so it has no place on the phase "
                    "diagram"),
                hint="the phase diagram places inits drawn with mean 0 and a variance "
                     "sigma_w^2 / fan_in: "
                     "he_normal, glorot_uniform, orthogonal, \"normal(0, 0.01)\"; LSUV scales "
                     "by the data, identity or a kernel literal is fixed, and a constant other "
                     "than 0 is no zero-mean draw (mean-field theory, Poole et al. 2016, "
                     "assumes one)")
        found.append((text, _sigma_w_drawn(drawn), padding_share(drawn)))
    # the spec's own init is listed once, as the spec's: a catalogue init of its name where
    # it sits at the same place
    listed = {(name, _place_key(sw, share)) for _, name, sw, share in own}
    for init in INITS:
        if init.phase_placed:  # the catalogue's inits placed by name alone
            sw, share = sigma_w_of({"name": init.name}, layer)
            if (init.name, _place_key(sw, share)) not in listed:
                found.append((init.name, sw, share))
    merged: dict[tuple[float, float], tuple[float, float, list[str]]] = {}
    for label, sw, share in found:
        merged.setdefault(_place_key(sw, share), (sw, share, []))[2].append(label)
    return [(", ".join(labels), sw, share) for sw, share, labels in merged.values()]


def own_inits(chain: Chain) -> list[tuple[str, str, float, float]]:
    """``(label, catalogue name, sigma_w, padding share)`` of each weight init the hidden
    layers start from (:attr:`Chain.inits`), placed on the typical hidden layer as every named
    init is, labelled by :func:`own_label`; the typical layer's first, as the verdict is on it.
    An init not drawn with mean 0 and a variance (LSUV, a fixed kernel, a non-zero constant)
    has no place."""
    layer = chain.typical
    found = []
    for text, names in sorted(chain.inits, key=lambda group: layer.name not in group[1]):
        drawn = next(x for x in chain.layers if x.name == names[0])
        if drawn.weight_init is None or not _placeable(drawn.weight_init):
            continue
        sw, share = sigma_w_of(drawn.ir[WEIGHT_INIT_KEY], layer)
        found.append((own_label(chain.inits, names, drawn.weight_init.name),
                      drawn.weight_init.name, sw, share))
    return found


def own_label(layer_inits: list[tuple[str, list[str]]], names: list[str], name: str) -> str:
    """The label of the spec's own init on the hidden layers ``names`` (catalogue ``name``),
    among the hidden layers' ``layer_inits`` (:attr:`Chain.inits`): ``he_normal (spec)`` where
    they all start from it, else the init as written with the layers that start from it,
    ``he_normal (c1, c2)`` beside ``glorot_uniform (c3)`` (:func:`_few`): the spec sets no one
    init there."""
    if len(layer_inits) < 2:
        return spec_init_label(name)
    text = next(text for text, group in layer_inits if group == names)
    return f"{text} ({_few(names)})"


def _few(names: list[str]) -> str:
    """Layers in a label of the table: up to three by name, more by their count, first and
    last (``200 layers: body_1_conv, ..., body_200_conv``)."""
    if len(names) <= 3:
        return ", ".join(names)
    return f"{len(names)} layers: {names[0]}, ..., {names[-1]}"


def _place_key(sigma_w: float, share: float) -> tuple[float, float]:
    """Where an init sits on the diagram, to the precision at which two inits share a row."""
    return round(sigma_w, 4), round(share, 4)


def _placeable(info) -> bool:
    """Whether an init has a place on the diagram: zero-mean weights with a variance."""
    return info.std is not None and not info.mean


def _sigma_w_drawn(layer: LayerInfo) -> float:
    """``sigma_w`` of the init the checker resolved for ``layer``."""
    return float(layer.weight_init.std * np.sqrt(layer.fan_in))


def sigma_b_of(chain: Chain) -> float:
    bias = chain.typical.bias_init
    return 0.0 if bias is None else float(bias.std)


# ---- measurement ------------------------------------------------------------------------------

@record
class MeasuredPoint:
    """One point of the measured grid: Gaussian weights drawn at ``sigma_w`` (as drawn), of
    which the zero padding leaves the share ``share`` (:func:`gaussian_share`), and the theory
    beside the measurement at :attr:`net_sigma_w`."""

    sigma_w: float
    sigma_b: float
    chi_1: float  # measured: geometric mean growth of a small perturbation per layer
    chi_1_theory: float
    c_last: float  # the pairs' correlation at the last hidden layer
    c_last_theory: float
    q: list[float] = field(default_factory=list)  # per hidden layer
    c: list[float] = field(default_factory=list)
    q_theory: list[float] = field(default_factory=list)
    c_theory: list[float] = field(default_factory=list)
    share: float = 1.0

    @property
    def net_sigma_w(self) -> float:
        return self.sigma_w * float(np.sqrt(self.share))

    def to_dict(self) -> dict:
        return {"sigma_w": self.sigma_w, "padding_share": self.share,
                "sigma_w_on_net": self.net_sigma_w, "sigma_b": self.sigma_b, "chi_1": self.chi_1,
                "chi_1_theory": self.chi_1_theory, "c_last": self.c_last,
                "c_last_theory": self.c_last_theory, "q": self.q, "c": self.c,
                "q_theory": self.q_theory, "c_theory": self.c_theory}


def redraw(model, chain: Chain, sigma_w: float, sigma_b: float,
           rng: np.random.Generator) -> None:
    """Weights ``N(0, sigma_w^2 / fan_in)`` and biases ``N(0, sigma_b^2)`` for the hidden
    layers, drawn by the init catalogue, written into the model's arrays."""
    params = model.params()
    for layer in chain.layers:
        weight = params[f"{layer.name}.weight"]
        std = sigma_w / np.sqrt(layer.fan_in)
        np.copyto(weight, create({"name": "normal", "mean": 0.0, "std": std}, weight.shape,
                                 rng, weight.dtype))
        bias = params.get(f"{layer.name}.bias")
        if bias is not None:
            init = ({"name": "normal", "mean": 0.0, "std": sigma_b} if sigma_b > 0
                    else {"name": "zeros"})
            np.copyto(bias, create(init, bias.shape, rng, bias.dtype))


def probe_inputs(checked: CheckedSpec, q_in: float, rng: np.random.Generator) -> np.ndarray:
    """``PROBE_INPUTS`` inputs: ``x1``, ``x2`` with correlation ``C0``, and ``x1`` plus a
    perturbation of relative size ``PERTURBATION``; second moment ``q_in``."""
    shape = (PAIRS, *checked.input_shape)
    x1 = rng.standard_normal(shape)
    x2 = C0 * x1 + np.sqrt(1 - C0 ** 2) * rng.standard_normal(shape)
    x3 = x1 + PERTURBATION * rng.standard_normal(shape)
    return np.sqrt(q_in) * np.concatenate([x1, x2, x3])


@record
class PhaseWork:
    """What :func:`phase_report` measures, known before it starts: at each point of a
    ``grid`` of ``(sigma_w, sigma_b)`` points a forward pass of ``inputs`` inputs through the
    ``layers`` layers of the network, each input ``pass_flops`` FLOPs
    (:func:`cnnspec.kinds.layer_flops`); the theory beside the points is left out of the
    count."""

    grid: tuple[int, int]
    inputs: int
    layers: int
    pass_flops: int

    @property
    def points(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def passes(self) -> int:
        """Forward passes of one input each."""
        return self.points * self.inputs

    @property
    def flops(self) -> int:
        return self.passes * self.pass_flops


def phase_work(checked: CheckedSpec, grid: tuple[int, int]) -> PhaseWork:
    """The :class:`PhaseWork` of measuring ``checked`` on a ``grid`` of points."""
    return PhaseWork(tuple(grid), PROBE_INPUTS, len(checked.layers),
                     sum(layer_flops(layer, need_dx=False)[0] for layer in checked.layers))


@record
class Reading:
    """What the probe batch read through the hidden layers at one ``(sigma_w, sigma_b)``."""

    q: list[float]  # per hidden layer: the first inputs' second moment
    c: list[float]  # and the pairs' correlation
    chi_1: float  # the perturbation's geometric mean growth per layer
    start: tuple[float, float, float]  # the first hidden layer's q11, q22, q12: the theory's


def read_network(model, chain: Chain, sigma_w: float, sigma_b: float, q_in: float,
                 rng: np.random.Generator) -> Reading:
    """Redraw the hidden layers at ``(sigma_w, sigma_b)``, run the probe inputs of second
    moment ``q_in`` and read ``q``, ``c`` and the perturbation's growth through them."""
    redraw(model, chain, sigma_w, sigma_b, rng)
    x = probe_inputs(model.checked, q_in, rng)
    model.eval()
    model.record = True
    try:
        model.forward(x)
    finally:
        model.record = False
    h = [model.activations[layer.name].reshape(3, PAIRS, -1) for layer in chain.layers]
    q = [float((a[0] ** 2).mean()) for a in h]
    c = [float(meanfield.correlation(float((a[0] * a[1]).mean()), q1,
                                     float((a[1] ** 2).mean())))
         for a, q1 in zip(h, q)]
    # Per unit (means, not sums), as the theory's q and chi_1 are: a layer with fewer units
    # than the one before (a strided conv: 1/4 of the pixels at stride 2; fewer channels)
    # holds less of the perturbation in all while each of its units still reads fan_in
    # inputs, so summed it read chi_1 / 4 at a stride-2 layer.
    chi = perturbation_growth([float(((a[2] - a[0]) ** 2).mean()) for a in h],
                              [float((a[0] ** 2).mean()) for a in h], chain.steps)
    first = h[0]
    start = (float((first[0] ** 2).mean()), float((first[1] ** 2).mean()),
             float((first[0] * first[1]).mean()))
    return Reading(q, c, chi, start)


def measure_points(model, chain: Chain, act, sigma_w, sigma_b,
                   rng: np.random.Generator, share: float = 1.0,
                   advance: Callable[[int], None] | None = None) -> list[MeasuredPoint]:
    """At each ``(sigma_w[i], sigma_b[i])`` in turn, read the network (:func:`read_network`)
    with inputs scaled so that the first hidden layer starts at the theory's ``q*``
    (:func:`input_moment`); beside each, the theory propagated from that layer's
    measured moments, at every point at once (a few hundred layers of one point at a time
    took a second of the report). The theory is taken at the ``sigma_w`` the net sees, of
    which the zero padding leaves ``share`` of ``sigma_w^2`` (:func:`gaussian_share`): started
    at the ``q*`` of the ``sigma_w`` as drawn, a padded net's ``q`` fell over the 20 layers
    that measure ``chi_1`` and read it 10-20% low (0.88 at ``sigma_w = 1.15`` on
    ``specs/deep_tanh200.cnn``, 0.996 started at the net's own ``q*``, whose theory is 1.0).
    ``advance(passes)`` is told of each point's forward passes as they are done."""
    sw, sb = np.asarray(sigma_w, float), np.asarray(sigma_b, float)
    net = sw * np.sqrt(share)
    # q* one point at a time: a batch sums each point's quadrature in another order, and a
    # chaotic network's deep layers magnify the last bit of its input scale into another draw.
    theory = [meanfield.phase(w, b, act) for w, b in zip(net, sb)]
    readings = []
    for w, b, at in zip(sw, sb, theory):
        readings.append(read_network(model, chain, float(w), float(b), input_moment(at), rng))
        if advance is not None:
            advance(PROBE_INPUTS)
    start = np.array([r.start for r in readings]).reshape(-1, 3)
    q_th, c_th = meanfield.propagate(*start.T, net ** 2, sb ** 2, len(chain.layers) - 1, act)
    return [MeasuredPoint(float(w), float(b), r.chi_1, float(at.chi_1), r.c[-1],
                          float(c[-1]), r.q, r.c, q.tolist(), c.tolist(), share)
            for w, b, at, r, q, c in zip(sw, sb, theory, readings, q_th, c_th)]


def input_moment(theory: meanfield.Phase) -> float:
    """The inputs' second moment that puts the first hidden layer's ``q`` at ``q*`` (``q =
    sigma_w^2 q_in + sigma_b^2``, ``theory``'s ``sigma_w`` the one the net sees): no transient
    of ``q`` to wait for; 1 where ``q*`` does not exist, and at least 1e-4."""
    qstar, sw, sb = (float(a) for a in (theory.q_star, theory.sigma_w, theory.sigma_b))
    q_in = (qstar - sb ** 2) / sw ** 2 if np.isfinite(qstar) else 1.0
    return max(q_in, 1e-4)


def perturbation_growth(distances: list[float], signals: list[float],
                        steps: list[bool] | None = None) -> float:
    """The geometric mean of ``d(l+1) / d(l)`` over the first :data:`GROWTH_LAYERS` layers,
    ``d`` the squared distance, where it is still well above float64 rounding of the signal's
    squared norm (1e-26 of it: a relative distance of 1e-13); NaN if there is no such pair.
    Only over the ``steps`` that are the theory's (:attr:`Chain.steps`) where there are any:
    a max pool after a ReLU passes on the perturbation of its largest input, positive 15 times
    in 16, where the theory's step passes that of half the units, and on ``specs/digits.cnn``
    the two pooled steps of three read chi_1 1.22 where the theory's 0.92 held on the third."""
    d = np.asarray(distances[:GROWTH_LAYERS + 1], float)
    signal = np.asarray(signals[:GROWTH_LAYERS + 1], float)
    usable = (d > 1e-26 * signal) & (d > 0) & np.isfinite(d)
    counted = list(steps or ()) if any(steps or ()) else [True] * (len(d) - 1)
    ratios = [b / a for a, b, ok_a, ok_b, step in zip(d, d[1:], usable, usable[1:], counted)
              if ok_a and ok_b and step]
    return float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")


def measured_boundary(points: list[MeasuredPoint], act) -> list[tuple[float, float]]:
    """``(sigma_b, sigma_w)`` where the measured ``chi_1`` crosses 1 along each row of the grid,
    ``sigma_w`` on the net; rows without a crossing are left out. Between two measured points
    ``ln chi_1`` is the theory's plus the measured ``ln(chi_1 / theory)`` interpolated
    linearly (:func:`_row_log_chi`): tanh's ``chi_1`` bends sharply at the critical point (as
    ``sigma_w^2`` below it, flattening above), and a straight line in ``ln chi_1`` between grid
    points 0.34 apart on the net put the crossing 0.2 past the critical point where every
    measured point agreed with the theory within 2%."""
    out = []
    for sb in sorted({p.sigma_b for p in points}):
        row = sorted((p for p in points if p.sigma_b == sb), key=lambda p: p.sigma_w)
        w, log_chi = _row_log_chi(row, sb, act)
        for (wa, la), (wb, lb) in itertools.pairwise(zip(w, log_chi)):
            if np.isfinite(la) and np.isfinite(lb) and la < 0 <= lb:
                out.append((sb, float(wa + (wb - wa) * (-la) / (lb - la))))
                break
    return out


def _row_log_chi(row: list[MeasuredPoint], sigma_b: float, act
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``ROW_POINTS`` values of ``sigma_w`` on the net across a measured row and ``ln chi_1``
    there: the theory's plus the measured points' ``ln(chi_1 / theory)`` interpolated; where
    the theory has no ``chi_1`` (no ``q*``) or no point has both, the measured ``ln chi_1``
    interpolated."""
    measured_w = np.array([p.net_sigma_w for p in row])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_measured = np.log([p.chi_1 for p in row])
        log_ratio = log_measured - np.log([p.chi_1_theory for p in row])
    w = np.linspace(measured_w[0], measured_w[-1], ROW_POINTS)
    plain = _interpolated(w, measured_w, log_measured)
    known = np.isfinite(log_ratio)
    if not known.any():
        return w, plain
    with np.errstate(divide="ignore", invalid="ignore"):
        theory = np.log(meanfield.phase(w, sigma_b, act).chi_1)
    shaped = theory + np.interp(w, measured_w[known], log_ratio[known])
    return w, np.where(np.isfinite(shaped), shaped, plain)


def measured_chi(points: list[MeasuredPoint], act, sigma_w: float, sigma_b: float) -> float:
    """The measured ``chi_1`` at ``(sigma_w on the net, sigma_b)``: along each row as
    :func:`measured_boundary` reads it (:func:`_row_log_chi`), linear in ``sigma_b`` between
    the two rows about ``sigma_b``; NaN outside the measured grid."""
    rows = sorted({p.sigma_b for p in points})
    if not rows or not rows[0] <= sigma_b <= rows[-1]:
        return np.nan
    after = int(np.searchsorted(rows, sigma_b))
    about = rows[after:after + 1] if rows[after] == sigma_b else rows[after - 1:after + 1]
    values = []
    for b in about:
        w, log_chi = _row_log_chi(sorted((p for p in points if p.sigma_b == b),
                                         key=lambda p: p.sigma_w), b, act)
        values.append(np.interp(sigma_w, w, log_chi) if w[0] <= sigma_w <= w[-1] else np.nan)
    return float(np.exp(np.interp(sigma_b, about, values)))


def _interpolated(w: np.ndarray, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (given at ``at``) interpolated linearly at ``w``; NaN between two points
    where either is not finite."""
    out = np.full(w.shape, np.nan)
    for (a, va), (b, vb) in itertools.pairwise(zip(at, values)):
        if np.isfinite(va) and np.isfinite(vb):
            inside = (w >= a) & (w <= b)
            out[inside] = va + (vb - va) * (w[inside] - a) / (b - a)
    return out


# ---- the report ---------------------------------------------------------------------------------

@record
class PhaseReport:
    spec_name: str
    nonlinearity: str
    depth: int  # hidden layers
    typical_shape: tuple
    fan_in: int
    sigma_w: list[float]  # theory grid axes
    sigma_b: list[float]
    xi_c: list[list[float]]  # [sigma_b][sigma_w]
    chi_1: list[list[float]]
    boundary: list[tuple[float, float]]  # (sigma_b, sigma_w) with chi_1 = 1, theory
    inits: list[InitPoint]
    measured: list[MeasuredPoint]
    measured_boundary: list[tuple[float, float]]  # (sigma_b, sigma_w on the net), measured
    strided: list[str] = field(default_factory=list)  # hidden layers with a stride above 1
    spec_init: str = ""  # the typical hidden layer's init, as the catalogue names it
    # the share of sigma_w^2 the typical layer's zero padding leaves a Gaussian kernel
    share: float = 1.0
    padded_map: tuple = ()  # the typical layer's output map (H, W), where it is padded
    fans: list = field(default_factory=list)  # (fan_in, hidden layers of it): Chain.fans
    steps: tuple = (0, 0)  # the theory's steps among the steps between hidden layers
    between: list = field(default_factory=list)  # the layers in the other steps: Chain.between
    # the weighted layers not in the chain with no elementwise nonlinearity after them
    outside: list = field(default_factory=list)
    hidden: list = field(default_factory=list)  # the hidden layers' names
    typical: str = ""  # the typical hidden layer's name (Chain.typical)
    others: list = field(default_factory=list)  # (layer, nonlinearity): Chain.others
    layer_inits: list = field(default_factory=list)  # (init, hidden layers): Chain.inits

    @property
    def own_label(self) -> str:
        """The label of the typical hidden layer's init on the diagram (:func:`own_label`)."""
        names = next((names for _, names in self.layer_inits if self.typical in names), [])
        return own_label(self.layer_inits, names, self.spec_init)

    @property
    def mixes(self) -> str:
        """The elementwise nonlinearities of a net that mixes them, the chain's first (``relu
        and tanh``); empty where every hidden layer has the chain's."""
        if not self.others:
            return ""
        kinds = list(dict.fromkeys([self.nonlinearity, *(kind for _, kind in self.others)]))
        return ", ".join(kinds[:-1]) + f" and {kinds[-1]}"

    @property
    def others_text(self) -> str:
        """The layers of the other nonlinearities, each with its own: ``c3 (tanh)``."""
        return _names([f"{name} ({kind})" for name, kind in self.others])

    @property
    def title(self) -> str:
        """The picture's title: what the diagram is of, the layers it covers, and in a net
        that mixes nonlinearities the layers of the others, left out."""
        named = f"{_names(self.hidden)}; " if self.hidden else ""
        mixed = f"; the net mixes {self.mixes}: {self.others_text} left out" if self.others \
            else ""
        return (f"{self.spec_name}: {self.nonlinearity}, {self.depth} hidden layers "
                f"({named}fan_in {self.fan_in}){mixed}: order-to-chaos phase diagram")

    def to_dict(self) -> dict:
        return {
            "spec": self.spec_name, "nonlinearity": self.nonlinearity,
            "hidden_layers": self.depth, "typical_weight_shape": list(self.typical_shape),
            "fan_in": self.fan_in, "strided_layers": self.strided,
            "hidden_fans": [{"fan_in": fan, "layers": names} for fan, names in self.fans],
            "theory_steps": self.steps[0], "steps": self.steps[1],
            "layers_between_left_out": self.between, "weighted_layers_left_out": self.outside,
            "hidden_layer_names": self.hidden, "typical_layer": self.typical,
            "other_nonlinearities": [{"layer": name, "nonlinearity": kind}
                                     for name, kind in self.others],
            "hidden_inits": [{"init": init, "layers": names}
                             for init, names in self.layer_inits],
            "gaussian_padding_share": self.share,
            "theory": {"sigma_w": self.sigma_w, "sigma_b": self.sigma_b, "xi_c": self.xi_c,
                       "chi_1": self.chi_1,
                       "boundary": [{"sigma_b": b, "sigma_w_on_net": w}
                                    for b, w in self.boundary]},
            "inits": [p.to_dict() for p in self.inits],
            "measured": [p.to_dict() for p in self.measured],
            "measured_boundary": [{"sigma_b": b, "sigma_w_on_net": w}
                                  for b, w in self.measured_boundary],
            "verdict": verdict(self).to_dict(),
        }


def refuse_beyond_theory(grid: tuple[int, int], theory_grid: tuple[int, int]) -> None:
    """Refuse a measured grid finer than the theory's: its points are drawn on the theory's
    heat map, and each costs a network's forward passes (a 1000x1000 grid would run for days)."""
    if grid[0] > theory_grid[0] or grid[1] > theory_grid[1]:
        raise WordedInputError(
            f"{{grid:{grid[0]}x{grid[1]}}} measures more points than the diagram draws: at "
            f"most {theory_grid[0]}x{theory_grid[1]} (sigma_w x sigma_b)",
            hint=f"e.g. {{grid:{MEASURED_GRID[0]}x{MEASURED_GRID[1]}}} (the default) or up to "
                 f"{{grid:{theory_grid[0]}x{theory_grid[1]}}}")


def theory_span(placed: list[float], share: float = 1.0) -> tuple[float, float]:
    """The heat map's ``sigma_w`` span (on the net): the measured grid's, ``SIGMA_W_RANGE`` as
    drawn of which the zero padding leaves ``share`` of ``sigma_w^2``, widened to show every
    named init placed (down to ``SIGMA_W_LOWEST``, up to ``SIGMA_W_WIDEST``; the plot marks one
    beyond at its edge), so that an init of a small fan_in, such as Glorot's on a first layer,
    is not left off."""
    measured = np.sqrt(share) * np.array(SIGMA_W_RANGE)
    low = min([measured[0], *(0.9 * w for w in placed)])
    high = max([measured[1], *(1.05 * w for w in placed if w <= SIGMA_W_WIDEST)])
    return max(low, SIGMA_W_LOWEST), min(high, SIGMA_W_WIDEST * 1.05)


def phase_report(path, inits: list[str] | None = None, grid: tuple[int, int] = MEASURED_GRID,
                 seed: int = 0, theory_grid: tuple[int, int] = THEORY_GRID,
                 start: Callable[[PhaseWork], None] | None = None,
                 advance: Callable[[int], None] | None = None) -> PhaseReport:
    """The phase diagram of the spec at ``path``: theory on a ``theory_grid``, the named inits
    (and ``inits``, language syntax) placed on it, and measurements on a ``grid`` of
    ``sigma_w x sigma_b`` points of the spec's own network (compiled with ``seed``).
    ``start(work)`` is told of the measurement's :class:`PhaseWork` before it starts,
    ``advance(passes)`` of its forward passes as they are done."""
    refuse_beyond_theory(grid, theory_grid)
    checked = load_variant(path).checked
    chain = hidden_chain(checked)
    refuse_beyond_memory(checked, PROBE_INPUTS, "float64", recording=True, data=False,
                         smaller=SMALLER_NETWORK)
    act = meanfield.nonlinearity(chain.nonlinearity, **chain.arguments)
    sigma_b = sigma_b_of(chain)
    share = gaussian_share(chain.typical)
    placed = []
    for label, w, kept in named_inits(path, chain, inits):
        at = meanfield.phase(w * np.sqrt(kept), sigma_b, act)
        placed.append(InitPoint(label, w, sigma_b, float(at.chi_1), float(at.xi_c), kept))

    sw = np.linspace(*theory_span([p.net_sigma_w for p in placed], share), theory_grid[0])
    sb = np.linspace(*SIGMA_B_RANGE, theory_grid[1])
    theory = meanfield.phase(sw[None, :], sb[:, None], act)
    critical = meanfield.critical_sigma_w(sb, act, low=sw[0], high=sw[-1])
    boundary = [(float(b), float(w)) for b, w in zip(sb, critical) if np.isfinite(w)]

    if start is not None:
        start(phase_work(checked, grid))
    model = compile_spec(checked, seed=seed, dtype="float64")
    sb_measured, sw_measured = np.meshgrid(np.linspace(*SIGMA_B_RANGE, grid[1]),
                                           np.linspace(*SIGMA_W_RANGE, grid[0]), indexing="ij")
    layer = chain.typical
    measured = measure_points(model, chain, act, sw_measured.ravel(), sb_measured.ravel(),
                              np.random.default_rng(seed), share, advance)
    for p in placed:
        p.measured_chi_1 = measured_chi(measured, act, p.net_sigma_w, p.sigma_b)
    return PhaseReport(checked.ir["name"], chain.nonlinearity, len(chain.layers),
                       tuple(layer.weight_shape), layer.fan_in, sw.tolist(), sb.tolist(),
                       # xi_c infinite on the critical line, NaN (with chi_1) where q* is not
                       theory.xi_c.tolist(), theory.chi_1.tolist(), boundary, placed,
                       measured, measured_boundary(measured, act), chain.strided,
                       layer.weight_init.name if layer.weight_init is not None else "",
                       share, tuple(layer.output_shape[1:]) if share < 1 else (),
                       chain.fans, (sum(chain.steps), len(chain.steps)), chain.between,
                       linear_layers(checked, chain), [x.name for x in chain.layers],
                       layer.name, chain.others, chain.inits)


def linear_layers(checked: CheckedSpec, chain: Chain) -> list[str]:
    """The weighted layers outside the chain with no elementwise nonlinearity after them (a
    conv read by another directly, the head before its softmax)."""
    other = {name for name, _ in chain.others}
    return [layer.name for layer in checked.layers if is_weighted(layer.kind)
            and layer not in chain.layers and layer.name not in other]


# ---- the verdict -------------------------------------------------------------------------------

@record
class Verdict:
    """Where the spec's own init lies on the diagram and what puts the net at the critical
    point, read from the report's figures: the init's point (None where it has no place on
    the diagram), its phase by the theory and by the measurement where that contradicts it
    (None where it has no place; :attr:`InitPoint.measured_phase`), the depth in depth
    scales, the named
    inits that sit at the critical point by the theory and the measurement both, the
    theory's critical ``sigma_w`` on the net at the init's ``sigma_b`` (NaN where the row has
    none), the measured one (NaN where none), and the share of ``sigma_w^2`` the zero padding
    leaves a Gaussian kernel, which turns a ``sigma_w`` on the net into a normal's std."""

    init: str
    point: InitPoint | None
    phase: str | None
    measured_phase: str | None
    depth: int
    critical_inits: list[str]
    critical_sigma_w: float
    measured_sigma_w: float
    fan_in: int
    share: float = 1.0
    fans: list = field(default_factory=list)  # (fan_in, hidden layers of it)
    # (init, hidden layers) of each init the hidden layers start from (Chain.inits), and the
    # typical layer whose init is :attr:`init`
    layer_inits: list = field(default_factory=list)
    typical: str = ""

    @property
    def whose(self) -> str:
        """The init the verdict is on: the spec's where its hidden layers share one, else the
        typical layer's, named as such beside each layer's own."""
        if len(self.layer_inits) < 2:
            return f"the spec's init ({self.init or 'none'})"
        each = "; ".join(f"{init} on {_names(names)}" for init, names in self.layer_inits)
        return (f"the typical hidden layer's init ({self.init or 'none'}, on {self.typical}; "
                f"the hidden layers' differ: {each})")

    @property
    def critical_std(self) -> float:
        """The std of a normal kernel at the critical point (the theory's, which counts the
        padding; the measured one where the theory's row has none) on the typical layer."""
        return critical_std(self.critical_sigma_w, self.measured_sigma_w, self.fan_in,
                            self.share)

    @property
    def depth_scales(self) -> float:
        """The hidden layers in depth scales ``xi_c`` (0 on the critical line's infinite one;
        a net trains to depths of a few, Schoenholz et al. 2017); NaN without a depth scale."""
        xi = self.point.xi_c if self.point is not None else np.nan
        return self.depth / xi if xi > 0 else np.nan  # NaN > 0 is False

    @property
    def text(self) -> str:
        if self.point is None:
            return (f"verdict: {self.whose} is not drawn with mean 0 "
                    "and a variance of its own, so it has no place on the diagram; "
                    + self._change())
        p, said = self.point, (f"verdict: {self.whose} is "
                               f"{phase_text(self.phase, self.measured_phase)}")
        figures = f"chi_1 = {_num(p.chi_1)}, xi_c = {_num(p.xi_c)}"
        depth = (f"its {self.depth} hidden layers are {_num(self.depth_scales)} xi_c (a net "
                 "trains to depths of a few)")
        if self.measured_phase is not None:  # the measurement contradicts the theory
            return (f"{said} on this net: the theory puts it at sigma_w = "
                    f"{_sigma(p.net_sigma_w)} ({figures}), where Gaussian weights measure "
                    f"chi_1 = {_num(p.measured_chi_1)}; " + self._lines(p.sigma_b) + "; "
                    + self._change())
        if self.phase == "critical":
            through = (f" through all {self.depth} hidden layers" if self.depth_scales == 0
                       else f", and {depth}")
            return (f"{said} on this net ({figures}): two inputs' signals stay apart and "
                    f"gradients keep their size{through}; nothing to change")
        if self.phase == "unbounded":
            return (f"{said} on this net: q grows layer after layer with no fixed point; "
                    + self._change())
        how = ("two inputs' signals grow alike and gradients vanish" if self.phase == "ordered"
               else "two inputs' signals decorrelate and gradients grow")
        if self.depth_scales < SHALLOW:
            # the drift of ~xi_c layers is a share of itself here: no init trains it better
            return (f"{said} on this net ({figures}): {how} over ~xi_c layers, but {depth}, "
                    f"too few for that to show: nothing to change for depth's sake ("
                    + self._change() + ")")
        return f"{said} on this net ({figures}): {how} over ~xi_c layers, and {depth}; " \
            + self._change()

    def _lines(self, sigma_b: float) -> str:
        """Where the measurement and the theory put the critical line at ``sigma_b``."""
        theory = f"theory: {_num(self.critical_sigma_w)}"
        if np.isnan(self.measured_sigma_w):
            return (f"the measured grid crosses chi_1 = 1 nowhere at sigma_b = "
                    f"{_sigma(sigma_b)} ({theory})")
        return (f"the measured critical line is at sigma_w = {_num(self.measured_sigma_w)} "
                f"({theory}) at sigma_b = {_sigma(sigma_b)}")

    def _change(self) -> str:
        if self.critical_inits:
            return f"at the critical point of this net: {', '.join(self.critical_inits)}"
        sigma_b = self.point.sigma_b if self.point is not None else 0.0
        if np.isnan(self.critical_sigma_w) and np.isnan(self.measured_sigma_w):
            return (f"no sigma_w in the diagram's span puts this net at the critical point at "
                    f"sigma_b = {_sigma(sigma_b)}")
        where = "theory" if np.isfinite(self.critical_sigma_w) else "measured"
        drawn = self.critical_std * np.sqrt(self.fan_in)
        sigma = f"sigma_w = {_sigma(drawn)}" + (
            f" as drawn, {_sigma(drawn * np.sqrt(self.share))} on the net"
            if self.share < 1 else "")
        if not self._fans_differ:
            return (f"at the critical point of this net ({where}): weights normal(0, "
                    f"{rounded_text(self.critical_std, 3)}) ({sigma})")
        per_fan = ", ".join(f"{rounded_text(drawn / np.sqrt(fan), 3)} at fan_in {fan} "
                            f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                            for fan, names in self.fans)
        return (f"at the critical point of this net ({where}): {sigma}, which the hidden "
                f"layers' fans make a std of their own each, sigma_w / sqrt(fan_in): "
                f"{per_fan}; one init holds it on every layer: weight variance_scaling("
                f"scale={rounded_text(drawn ** 2, 3)}, mode=fan_in, distribution=normal)")

    @property
    def _fans_differ(self) -> bool:
        """Whether one std would miss the critical point on some hidden layer by more than
        10%: their fan_in differ by more than a factor 1.2 (the std goes as 1 / sqrt(fan_in))."""
        fans = [fan for fan, _ in self.fans]
        return bool(fans) and max(fans) > FAN_SPREAD * min(fans)

    def to_dict(self) -> dict:
        return {"init": self.init, "typical_layer": self.typical,
                "hidden_inits": [{"init": init, "layers": names}
                                 for init, names in self.layer_inits],
                "phase": self.phase, "measured_phase": self.measured_phase,
                "chi_1": None if self.point is None else self.point.chi_1,
                "xi_c": None if self.point is None else self.point.xi_c,
                "hidden_layers": self.depth, "depth_in_xi_c": self.depth_scales,
                "critical_inits": self.critical_inits,
                "critical_sigma_w": self.critical_sigma_w,
                "measured_critical_sigma_w": self.measured_sigma_w,
                "critical_std": self.critical_std, "text": self.text}


def verdict(report: PhaseReport) -> Verdict:
    """The :class:`Verdict` on the spec's init, from ``report``'s own figures."""
    # the typical layer's init is placed first (named_inits), so it leads a label it shares
    label = report.own_label
    own = next((p for p in report.inits
                if p.label == label or p.label.startswith(f"{label}, ")), None)
    critical = [p.label for p in sorted(report.inits, key=lambda p: abs(p.chi_1 - 1))
                if p.agreed_critical and p is not own]
    sigma_b = own.sigma_b if own is not None else \
        next((p.sigma_b for p in report.inits), 0.0)
    measured_rows = sorted({p.sigma_b for p in report.measured})
    return Verdict(report.spec_init, own, None if own is None else own.phase,
                   None if own is None else own.measured_phase, report.depth,
                   critical, boundary_at(report, sigma_b),
                   line_at(report.measured_boundary, measured_rows, sigma_b),
                   report.fan_in, report.share, report.fans, report.layer_inits,
                   report.typical)


# ---- output -------------------------------------------------------------------------------------

def _num(value: float) -> str:
    """3 significant digits; "inf" for an infinite depth scale (on the critical line), "-"
    where there is no value (q grows without bound)."""
    return "-" if np.isnan(value) else rounded_text(value, 3)


def _sigma(value: float) -> str:
    """A ``sigma_w`` or ``sigma_b`` to three decimals where that shows it; a spec's own init
    can sit far off the diagram (``normal(0, 1e30)``: sigma_w 8e30, 1e-30: 8e-30), written
    then to 3 significant digits, which keeps it to the column."""
    return f"{value:.3f}" if value == 0 or 1e-3 <= abs(value) < 1e4 else rounded_text(value, 3)


def _corr(value: float) -> str:
    """2 decimals; a correlation that rounds to 0 has no sign (the theory's c* = 0 is reached
    as +-1e-18, a rounding's sign, not a side)."""
    return f"{round(value, 2) + 0.0:.2f}" if np.isfinite(value) else "-"


def describe_strided(names: list[str]) -> str:
    """The note on strided hidden layers: what the theory assumes and what is measured."""
    return (f"note: {len(names)} hidden {'layers' if len(names) > 1 else 'layer'} with a "
            f"stride above 1 ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}): the "
            f"theory (Poole et al. 2016; Xiao et al. 2018 for CNNs) assumes stride 1; each "
            f"unit of a strided layer still reads fan_in inputs, so q and chi_1 are measured "
            f"per unit, as at stride 1; a smaller map has more of its units at the zero padding")


def critical_std(theory: float, measured: float, fan_in: int, share: float) -> float:
    """The std of a normal kernel at the critical point on a layer of ``fan_in`` whose zero
    padding leaves it ``share`` of its ``sigma_w^2``: the theory's critical ``sigma_w`` on the
    net (the measured one where the theory's row has none) over ``sqrt(fan_in * share)``
    (weights ``N(0, sigma_w^2 / fan_in)``, Poole et al. 2016)."""
    line = theory if np.isfinite(theory) else measured
    return line / np.sqrt(fan_in * share)


def describe_left_out(report: PhaseReport) -> str:
    """The note on what the plain-chain theory leaves out: the layers in the steps between
    hidden layers other than their nonlinearity (pools, residual adds), of which chi_1 is not
    measured, and the weighted layers outside the chain (a residual branch's last conv, the
    head), which keep their init."""
    modelled, steps = report.steps
    parts = []
    if report.between:
        counted = (f"chi_1 is measured over the other {modelled}" if modelled else
                   "with no other step, chi_1 is measured over all of them")
        parts.append(f"{steps - modelled} of the {steps} steps between hidden layers pass "
                     f"through {_names(report.between)} (a max pool passes on its largest "
                     f"input, a residual add a sum of two branches), which the plain-chain "
                     f"theory leaves out: {counted}; q and c after them include them")
    if report.outside:
        several = len(report.outside) > 1
        parts.append(f"the weighted {'layers' if several else 'layer'} " + _outside_chain(
            _names(report.outside), several,
            f" (no elementwise nonlinearity after {'them' if several else 'it'})"))
    return "note: " + "; ".join(parts)


def _outside_chain(names: str, several: bool, why: str = "") -> str:
    """``c3 (tanh) is not in the chain and keeps its init``, or of several layers."""
    if several:
        return f"{names} are not in the chain{why} and keep their init"
    return f"{names} is not in the chain{why} and keeps its init"


def describe_mixed(report: PhaseReport) -> str:
    """The note on a net whose hidden layers mix elementwise nonlinearities: the diagram is
    of the most common one, over its layers; the others' layers keep their init."""
    return (f"note: the net mixes {report.mixes}: the diagram is {report.nonlinearity}'s, over "
            f"its hidden layers {_names(report.hidden)}; "
            + _outside_chain(report.others_text, len(report.others) > 1))


def _names(names: list[str]) -> str:
    return ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")


def boundary_at(report: PhaseReport, sigma_b: float) -> float:
    """The theory's critical ``sigma_w`` at ``sigma_b`` (:func:`line_at`)."""
    return line_at(report.boundary, report.sigma_b, sigma_b)


def line_at(line: list[tuple[float, float]], rows, sigma_b: float) -> float:
    """A critical ``line`` of ``(sigma_b, sigma_w)`` over the ``rows`` of ``sigma_b`` it was
    sought on, at ``sigma_b``: interpolated between the rows on either side; NaN where either
    has none (a ReLU-like net's rows without a bias, or a GELU net's where ordered meets
    unbounded): interpolating across them drew a line where there is none."""
    found, grid = dict(line), np.asarray(rows, float)
    row = np.flatnonzero(np.isclose(grid, sigma_b, rtol=0, atol=1e-12))
    if row.size:
        return found.get(float(grid[row[0]]), np.nan)
    if not grid.size or not grid[0] < sigma_b < grid[-1]:
        return np.nan
    after = int(np.searchsorted(grid, sigma_b))
    b0, b1 = grid[after - 1], grid[after]
    w0, w1 = found.get(float(b0), np.nan), found.get(float(b1), np.nan)
    return float(np.interp(sigma_b, (b0, b1), (w0, w1)))


def describe_padding(report: PhaseReport) -> str:
    """The note on zero padding: the share of ``sigma_w^2`` it leaves a Gaussian kernel and
    where the table's ``sigma_w`` on the net comes from."""
    h, w = report.padded_map
    return (f"note: the zero padding of the hidden layers' {h}x{w} maps leaves a kernel that "
            f"spreads its variance over its taps (Gaussian, orthogonal) "
            f"{rounded_text(report.share, 2)} of its sigma_w^2 (one with all of it at the "
            f"centre tap, delta-orthogonal, all of it): the theory's columns are at the "
            f"sigma_w the net sees, \"on net\"")


def format_phase(report: PhaseReport) -> str:
    """The terminal summary: the named inits on the diagram, the critical line from theory and
    from measurement, and the measured grid."""
    named = f" ({_names(report.hidden)})" if report.hidden else ""
    typical = f"{report.typical}, " if report.typical else ""
    lines = [(f"{report.spec_name}: {report.depth} hidden layers with {report.nonlinearity}"
              f"{named}, typical weight {shape_text(report.typical_shape)} ({typical}fan_in "
              f"{report.fan_in}); weights N(0, sigma_w^2 / fan_in), biases N(0, sigma_b^2)")]
    if report.others:
        lines.append(describe_mixed(report))
    if report.strided:
        lines.append(describe_strided(report.strided))
    if report.padded_map:
        lines.append(describe_padding(report))
    if report.between or report.outside:
        lines.append(describe_left_out(report))
    inits = sorted(report.inits, key=lambda p: (p.net_sigma_w, p.sigma_w))
    # as wide as the widest phase, `critical in theory, ordered measured` too
    width = max([9] + [len(phase_text(p.phase, p.measured_phase)) for p in inits])
    lines += ["", ("named inits on this network (chi_1 < 1 ordered, > 1 chaotic; unbounded: q "
             "grows layer after layer, no fixed point; a net trains to depths of a few xi_c, "
             "Schoenholz et al. 2017; xi_c inf: on the critical line, where c nears 1 as a "
             "power of depth, not exponentially, for tanh and ReLU alike, Hayou et al. 2019; "
             "phase: the theory's, and the measurement's where the "
             f"chi_1 of Gaussian weights there lies more than {AGREEMENT} past 1 on the other "
             "side; -: no value):"),
             (f"  {'sigma_w':>7}  {'on net':>7}  {'sigma_b':>7}  {'chi_1':>6}  {'xi_c':>7}  "
              f"{'phase':<{width}}  init")]
    for p in inits:
        lines.append(f"  {_sigma(p.sigma_w):>7}  {_sigma(p.net_sigma_w):>7}  "
                     f"{_sigma(p.sigma_b):>7}  {_num(p.chi_1):>6}  {_num(p.xi_c):>7}  "
                     f"{phase_text(p.phase, p.measured_phase):<{width}}  {p.label}")
    measured = dict(report.measured_boundary)
    lines += ["", ("critical line chi_1 = 1 at each sigma_b (theory, measured: its sigma_w on "
                   "the net; normal std: a normal kernel's std on the typical layer at the "
                   "theory's; -: no crossing in the measured grid's span, or the ordered phase "
                   "meets the unbounded one)"),
              f"  {'sigma_b':>7}  {'theory':>7}  {'measured':>8}  {'normal std':>10}"]
    for b in sorted({p.sigma_b for p in report.measured}):
        theory, line = boundary_at(report, b), measured.get(b, np.nan)
        std = critical_std(theory, line, report.fan_in, report.share)
        lines.append(f"  {b:7.3f}  {_num(theory):>7}  {_num(line):>8}  {_num(std):>10}")
    sws = sorted({p.sigma_w for p in report.measured})
    lines += ["", (f"measured on the network, Gaussian weights (chi_1 measured / theory; c: "
              f"correlation of two inputs at the last hidden layer, started at c = {C0}, "
              f"measured / theory; -: no value, where the signal died out to 0 or grew past "
              f"float64):"),
              # as wide as a row's sigma_b and its row name, so the columns line up
              "  sigma_b \\ sigma_w" + "".join(f"{rounded_text(w, 3):>14}" for w in sws)]
    if report.share < 1:
        lines.append(f"  {'':>7}  on net  " + "".join(
            f"{rounded_text(w * np.sqrt(report.share), 3):>14}" for w in sws))
    for b in sorted({p.sigma_b for p in report.measured}):
        row = sorted((p for p in report.measured if p.sigma_b == b), key=lambda p: p.sigma_w)
        lines.append(f"  {rounded_text(b, 3):>7}  chi_1   " + "".join(
            f"{_num(p.chi_1) + '/' + _num(p.chi_1_theory):>14}" for p in row))
        lines.append(f"  {'':>7}  c       " + "".join(
            f"{_corr(p.c_last) + '/' + _corr(p.c_last_theory):>14}" for p in row))
    lines += ["", verdict(report).text]
    return "\n".join(lines)
