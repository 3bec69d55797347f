"""The record that declares one layer kind, and what its functions take and give.

Everything cnnspec knows about a kind is in its :class:`Kind`: its IR fields (with defaults and
bounds), how the language writes it, its shape inference and parameter shapes, its flags, how
the engine builds it, its PyTorch counterpart and how pictures describe it. The language, the
JSON Schema, the checker, the compiler, the diagram, the docs and the cross-check tests read
it; none of them names a kind in a table of its own.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import field

from cnnspec.init.gains import fixed_point_slope, second_moment_gain
from cnnspec.kinds.fields import Field
from cnnspec.records import record

Shape = tuple[int, ...]  # one example's shape: (C, H, W) or (F,)


class KindError(Exception):
    """A layer that does not fit its input, in the user's terms; the checker locates it at the
    layer's ``field`` (or the layer itself)."""

    def __init__(self, message: str, field: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.field, self.hint = message, field, hint


@record(frozen=True)
class Inferred:
    """What shape inference finds for one layer: its output shape and, for a layer with
    parameters, their shapes (PyTorch layouts), fans and multiply-adds per example."""

    output: Shape
    pads: tuple[int, int, int, int] | None = None  # resolved (top, bottom, left, right)
    weight: Shape | None = None
    bias: Shape | None = None
    fan_in: int | None = None
    fan_out: int | None = None
    macs: int = 0


@record(frozen=True)
class Build:
    """What the compiler hands a kind's engine builder: the layer's IR, its output shape and
    resolved pads, its drawn parameters (None without) and the model's dropout stream."""

    ir: dict
    output_shape: tuple[int, ...]
    pads: tuple[int, int, int, int] | None
    weight: object
    bias: object
    dtype: object
    dropout_rng: object


@record(frozen=True)
class Example:
    """A small case of a kind, for the tests generated from the registry: the input shape(s)
    (without batch) and the fields that differ from the defaults."""

    inputs: tuple[Shape, ...]
    fields: dict = field(default_factory=dict)


def elementwise_flops(ir: dict, in_shapes: list[Shape], out_shape: Shape, macs: int) -> int:
    """Forward FLOPs per example of a layer: two per multiply-add where it has them (a
    weighted layer: ``2 * macs``, the bias add left out as PyTorch's profilers do), else one
    per output value (an activation, a norm, a merge; a reshape costs nothing but is counted
    alike: these layers are memory-bound, and their FLOP/s say only that)."""
    return 2 * macs if macs else math.prod(out_shape)


def window_flops(ir: dict, in_shapes: list[Shape], out_shape: Shape, macs: int) -> int:
    """Forward FLOPs per example of a pooling window: one per input value each output reads
    (a comparison or an add)."""
    return math.prod(out_shape) * math.prod(ir["size"])


@record(frozen=True)
class Reach:
    """What each output of a layer that is a linear map of its input (weights times the input,
    plus a bias) reads of that input: ``channels``, whether more than one input channel (not
    a depthwise conv's filter, nor any filter on a one-channel input); ``window``, how many
    input rows and columns it spans (``dilation (kernel - 1) + 1`` for a conv), None for all
    of the input (a dense layer); ``stride``, the input rows and columns between the windows
    of neighbouring outputs, None where they are not a whole step apart (a transposed conv's
    outputs share an input pixel)."""

    channels: bool
    window: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None

    @property
    def axes(self) -> frozenset[str]:
        """The axes of the input each output mixes values across: ``channels``, ``rows`` and
        ``columns``, all three for a dense layer."""
        if self.window is None:
            return frozenset({"channels", "rows", "columns"})
        spans = zip(("rows", "columns"), self.window)
        return frozenset([axis for axis, extent in spans if extent > 1]
                         + ["channels"] * self.channels)


def identity_signal(ir: dict, moments: list[float], shapes: list[Shape]) -> float:
    """A layer that keeps the second moment of its input."""
    return moments[0]


@record(frozen=True)
class Kind:
    """One layer kind.

    ``family`` groups kinds for colours and roles: conv, dense, pool, activation, norm,
    dropout, reshape, merge. ``positional``: the fields that values without an option word
    fill, in order. ``usage``: the usage line hints show. ``takes_activation``: a line of
    this kind may end with an activation (made a separate layer). ``merge``: takes two or
    more inputs. ``size_field``/``noun``: the field that sizes the output and what its
    elements are called (filters, units). ``fixed_inits``: the (weight, bias) inits of a layer
    with parameters but no init fields (batch norm); ``fixed_start``: what they start at, in
    words (``scale 1, shift 0``), for the error an init written on such a layer gets;
    ``fixed_parts``: what that weight and bias are called (``scale``, ``shift``), words a
    line may write an init after; ``zero_start``: what a zero start of that weight would do
    (verified by training), said where a line writes one.
    ``signal``: how the second moment of the
    signal changes through it at init (weighted kinds: from their init, see check.signal).
    ``phrases``: short descriptions of its settings for pictures. ``torch``: ``(ir,
    in_shapes, inferred) -> str``, the source of the PyTorch module that computes the same
    (its parameters named ``weight``/``bias`` alike; see :mod:`cnnspec.kinds.torch_code`).
    ``onnx``: ``(g, ir, in_shapes, inferred, xs) -> str`` adds the ONNX nodes that compute
    the layer in evaluation mode from the values named ``xs`` and returns its output's
    name, through the builder ``g``: ``g.op(op_type, inputs, **attributes) -> name``,
    ``g.param(key, shape=None) -> name`` (the layer's ``weight``, ``bias`` or a buffer,
    reshaped to ``shape``), ``g.const(values, dtype="model") -> name`` (see
    :mod:`cnnspec.exporters.onnx_graph`). None: the kind cannot be exported to ONNX.
    ``value_range``: the (lowest, highest) values a bounded activation gives (tanh: (-1, 1));
    None for a kind whose output has no such bound. ``flat_at_zero``: its gradient is 0 at 0
    and below (relu, relu6), so a layer whose every output starts there gets no gradient
    through it (check's lint of weights that start at 0 reads it). ``zero_padded``: its
    padding adds zeros around the input that its kernel (the ``kernel`` and ``dilation``
    fields) reads, so padding past the kernel's reach gives outputs that read only zeros
    (check warns; a pool's padding is held to half its window, a transposed conv's crops).
    ``linear``: its output is one linear map of its inputs, the same for every channel (a
    mean pool, a reshape, upsampling, a merge), so the gradient it passes back to a channel
    does not depend on that channel's values (check's symmetry lint reads it: channels whose
    values differ get different gradients only from a layer that is not).
    ``reach``: ``(ir, in_shape) -> Reach`` for a kind whose output is a linear map of its input
    with learned weights (conv, conv_transpose, dense): what each output reads of it (check's
    lint of such layers stacked with nothing nonlinear between reads it); None for the rest.
    ``flops``: ``(ir, in_shapes, out_shape, macs) -> int``, the forward FLOPs per example
    (:meth:`step_flops` derives the backward's). ``libraries``: ``(ir) -> names``, the
    modules beyond NumPy its engine op imports on first use, whose memory a training process
    then holds (:mod:`cnnspec.check.memory` counts it). ``negative_slope``: ``(ir) -> s``
    for an activation that is ``y`` above 0 and ``s·y`` below (relu and relu6 0, leaky_relu
    its slope, prelu its starting slope): its signal factor is ``(1 + s^2) / 2``, and the
    signal estimate carries its values through a max pool (:mod:`cnnspec.check.signal`).
    ``max_of``: ``(ir, in_shapes) -> k`` for a max pool, how many input values each output
    is the largest of (its window's area; a global pool's whole map); ``mean_of`` the same
    for a mean pool. ``centre``: for an activation with ``f(y) - centre`` odd (tanh 0,
    sigmoid 1/2), the mean of its values where its input is symmetric about 0.
    ``increasing``: the function of one value of an activation that is not piecewise linear
    and increases (tanh, sigmoid), or increases above the one dip it has below 0 (gelu,
    silu, mish, hard swish: to -0.17, -0.28, -0.31 and -0.375, at inputs of -0.75, -1.28,
    -1.19 and -1.5; gelu by its exact form): the largest of a max pool's window of its
    values is that function of the largest input (but where the whole window lies below the
    dip: 3 in 1000 windows of 4 for gelu), which the signal estimate integrates.
    ``value_at``/``slope_at``: ``(ir, y) -> float`` for an elementwise activation, what it
    gives for the input ``y`` and its slope there as the engine's backward pass takes it, in
    float64 (at a corner, the engine's side: relu's slope at 0 is 0, leaky_relu's its slope,
    relu6's at 6 is 0, hardswish's at -3 is -1/2; prelu at its starting slope): check works
    out from them what a layer of one number everywhere gives and whether a gradient gets
    through (:mod:`cnnspec.check.exact`: a slope of exactly 0 stops every gradient: relu's at
    0 and below, relu6's there and from 6 on, hard swish's at -1.5 and below -3; a smooth
    one's only where its true value is below float64's smallest number, as gelu's below
    -38.5, so that the engine's is 0 there too). None for softmax and log-softmax, which mix
    channels.
    ``derivative``: the slope of ``increasing`` at a value (tanh: ``1 - tanh^2``), largest
    at 0, for an activation that saturates on both sides: check's lint of the gradient
    through a stack of such layers (:mod:`cnnspec.check.gradient`) integrates its square.
    ``asymptote``: ``(ir) -> (a, b)`` for an elementwise activation, the limits of ``f(y) / y``
    as ``y -> +inf`` and ``y -> -inf`` (relu (1, 0), leaky_relu (1, slope), gelu (1, 0), a
    bounded one (0, 0)): a wide input's second moment ``E[f(y)^2] / E[y^2]`` tends to ``(a^2 +
    b^2) / 2``, which decides whether the mean-field variance map has a fixed point
    (:mod:`cnnspec.lab.meanfield`); None where ``f`` mixes units (softmax).
    ``pooled_channels``: ``(ir, in_shape) -> n`` for a normalisation by each example's own
    statistics, how many channels share them (layer norm: all C; group norm: a group's C /
    G; instance norm: 1); what each channel's positions share (its mean over them) passes
    it but for the ``1 / n`` its statistics take (:mod:`cnnspec.check.signal`). None for
    batch norm, whose statistics per channel take it all.
    ``resample``: ``(ir, axis, size) -> reads`` for a kind whose every output is a fixed mix
    of its input's pixels of one channel, axis by axis (upsampling): for each output index
    along ``axis`` (0: rows, 1: columns) of an input ``size`` long, the input indices it reads
    and their weights (:func:`cnnspec.shapes.upsampling_reads`); the signal estimate works out
    from it what neighbouring outputs have in common (:mod:`cnnspec.check.signal`).
    ``cross_signal``: ``(ir, cross) -> cross`` for a kind that multiplies its input by a
    random mask (dropout), how ``E[x_p x_p']`` of two positions of one channel changes
    through it: kept where each value has its own mask of mean 1, grown as the second moment
    where a whole channel shares one (dropout2d).
    ``sets_scale``: its values' scale is its own, not its input's (softmax's sum to 1 over
    the channels, log-softmax's are about ``-ln C``): the signal's scale warnings leave it
    out.
    ``keeps_sign``: each output is one of its input's values, times a factor of at least 0
    (a max pool's largest, dropout's 0 or ``1 / (1 - p)``, a reshape's moved value): an
    elementwise activation after it sees the signs of the sums a conv/dense layer before it
    made, as if it came right after that layer (Caffe's conv -> pool -> relu), so check's
    init advice reads that activation as the layer's own.
    ``running_statistics``: it normalises by statistics of the batch while training and by
    running estimates of them kept from training while evaluating (batch norm): what comes
    in at evaluation must be distributed as it was in training (check warns of a dropout
    directly before it).
    ``reads_input``: ``(ir, in_shape, out_shape, pads) -> (rows, columns)`` for a kind whose
    windows slide over its (C, H, W) input (conv, pools, transposed conv): the input rows and
    the input columns some output reads, each as disjoint runs of positions
    (:func:`cnnspec.shapes.inputs_read`); a stride that steps past the last rows, or between
    windows, leaves the others out (check warns). None for a kind that reads every position
    of its input.
    ``transposed``: a transposed convolution: its weight is (C, F/G, kh, kw), its filters
    along axis 1 (check's symmetry warnings read them there), and each input pixel's window
    spreads over the output, so what it leaves out is what its padding crops, not what a
    stride steps past (check's ``unread-input``).
    """

    name: str
    summary: str
    family: str
    infer: Callable[[dict, list[Shape]], Inferred]
    build: Callable[[Build], object]
    fields: tuple[Field, ...] = ()
    positional: tuple[str, ...] = ()
    usage: str = ""
    aliases: tuple[str, ...] = ()
    takes_activation: bool = False
    merge: bool = False
    linear: bool = False
    size_field: str | None = None
    noun: str | None = None
    fixed_inits: tuple[dict, dict] | None = None
    fixed_start: str = ""
    fixed_parts: tuple[str, ...] = ()
    zero_start: str = ""
    signal: Callable[[dict, list[float], list[Shape]], float] = identity_signal
    phrases: Callable[[dict, object], list[str]] = lambda ir, info: []
    compact: Callable[[dict, object], str] | None = None
    torch: Callable | None = None
    onnx: Callable | None = None
    examples: tuple[Example, ...] = ()
    flops: Callable[[dict, list[Shape], Shape, int], int] = elementwise_flops
    libraries: Callable[[dict], tuple[str, ...]] = lambda ir: ()
    value_range: tuple[float, float] | None = None
    flat_at_zero: bool = False
    zero_padded: bool = False
    reach: Callable[[dict, Shape], Reach] | None = None
    negative_slope: Callable[[dict], float] | None = None
    max_of: Callable[[dict, list[Shape]], int] | None = None
    mean_of: Callable[[dict, list[Shape]], int] | None = None
    centre: float | None = None
    increasing: Callable[[float], float] | None = None
    derivative: Callable[[float], float] | None = None
    value_at: Callable[[dict, float], float] | None = None
    slope_at: Callable[[dict, float], float] | None = None
    asymptote: Callable[[dict], tuple[float, float]] | None = None
    keeps_sign: bool = False
    running_statistics: bool = False
    transposed: bool = False
    pooled_channels: Callable[[dict, Shape], int] | None = None
    resample: Callable[[dict, int, int], tuple] | None = None
    cross_signal: Callable[[dict, float], float] | None = None
    sets_scale: bool = False
    reads_input: Callable[[dict, Shape, Shape, tuple], tuple] | None = None

    @functools.cached_property  # asked of every layer by every lint
    def weighted(self) -> bool:
        """A layer whose weight (and optional bias) the spec initialises."""
        return any(f.type == "init" for f in self.fields)

    @property
    def is_activation(self) -> bool:
        """An activation: it may also end another layer's line (``conv 8 3x3 relu``)."""
        return self.family == "activation"

    @property
    def positively_homogeneous(self) -> bool:
        """``f(c y) = c f(y)`` for every ``c > 0``: ``y`` above 0 and ``s·y`` below with no bound
        (relu, leaky_relu, prelu; not relu6), so ``f`` is its own :attr:`asymptote`."""
        return self.negative_slope is not None and self.value_range is None

    def moment_gain(self, ir: dict) -> float | None:
        """The gain that keeps the second moment through this elementwise activation with the
        fields of ``ir`` (:func:`cnnspec.init.gains.second_moment_gain` of its
        :attr:`value_at`: sqrt(2) for relu, 1.59 for tanh, 1.85 for sigmoid, 1.25 for elu),
        where a stack holds it: None where the fixed point it makes does not (gelu, silu, mish,
        hard swish: :func:`cnnspec.init.gains.fixed_point_slope` above 1, an offset from it grows
        layer by layer), and for a kind with no such function (softmax mixes channels)."""
        if self.value_at is None:
            return None
        fields = tuple((f.name, ir[f.name]) for f in self.fields)
        return _moment_gain(self.name, self.value_at, fields)

    @functools.cached_property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def step_flops(self, ir: dict, in_shapes: list[Shape], out_shape: Shape, macs: int,
                   need_dx: bool = True, need_dw: bool = True) -> tuple[int, int]:
        """(forward, backward) FLOPs per example. A weighted layer's backward is up to two
        products the size of its forward: the weight gradient when ``need_dw`` (not for held
        weights) and the input gradient when ``need_dx`` (not for a first layer); any other
        layer's is about its forward, or none where ``need_dx`` is False (the engine then
        skips its backward: nothing before it learns)."""
        forward = self.flops(ir, in_shapes, out_shape, macs)
        if not self.weighted:
            return forward, forward if need_dx else 0
        return forward, forward * (int(need_dx) + int(need_dw))

    def ir_defaults(self) -> dict:
        """The kind's IR fields, in IR order, with their defaults (None: filled in later)."""
        return {f.name: f.resolved_default() for f in self.fields}

    def example_ir(self, example: Example) -> dict:
        """The IR of a layer ``layer`` of one registry case, its inputs ``in0``, ``in1``, ...:
        the defaults, the case's fields, and fields that default to another's copied."""
        ir = {"name": "layer", "kind": self.name, "group": None,
              "inputs": [f"in{i}" for i in range(len(example.inputs))],
              **self.ir_defaults(), **example.fields}
        for f in self.fields:
            if f.default_from and ir[f.name] is None:
                ir[f.name] = list(ir[f.default_from])
        return ir


@functools.lru_cache(maxsize=64)
def _moment_gain(name: str, value_at: Callable[[dict, float], float],
                 fields: tuple) -> float | None:
    """:meth:`Kind.moment_gain` of the kind ``name``, integrated once per field values."""
    ir = dict(fields)

    def f(y: float) -> float:
        return value_at(ir, y)

    return None if fixed_point_slope(f) > 1 + 1e-9 else second_moment_gain(f)  # relu: 1
