"""The catalogue of ``check``'s warnings (its lints): one entry each, in the order ``check``
prints what they find.

An entry is a short stable kebab-case name, which every warning it finds carries
(:attr:`cnnspec.errors.SpecError.lint`) so that a user can look it up (``cnnspec check
--explain NAME``, docs/warnings.md) and silence it (``--ignore NAME``, or a trailing
``# cnnspec: ignore[NAME]`` comment on the line it points at); a one-line summary; the longer
explanation (why it matters, and the paper behind it where there is one); and the function
that finds it, with what it reads besides the spec (:class:`Found`). Adding a lint is one entry
here.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cnnspec.check import (
    gainfit,
    gradient,
    lints,
    memory,
    scale,
    signal,
    taps,
    training,
    twins,
    unused,
)
from cnnspec.check.exact import Exact
from cnnspec.check.model import LayerInfo
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SpecError
from cnnspec.init.catalogue import BY_NAME as INITS
from cnnspec.init.choose import scheme_for
from cnnspec.ir.spec import Spec
from cnnspec.ir.steps import MOST_STEPS
from cnnspec.patterns import LazyPattern
from cnnspec.records import record

# The inits the explanations give as examples, asked of the init catalogue (the scheme made for
# relu; the kernel that passes its input through), as the checker's hints ask it.
RELU_SCHEME = scheme_for("relu").name
IDENTITY = INITS["identity"].name

# A lint's name: lower-case words joined by hyphens (ruff's and clang-tidy's style).
NAME_FORM = LazyPattern(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@record(frozen=True)
class Found:
    """What the lints read, worked out once for them all: the layers' :class:`LayerInfo`
    (``infos``), the dtype the model trains in, the signal's estimate (with the layer graph)
    and the facts that hold at every step (:func:`cnnspec.check.exact.exact`)."""

    spec: Spec
    infos: list[LayerInfo]
    dtype: str
    estimate: signal.Estimate
    facts: Exact

    @property
    def used(self) -> set[str]:
        """The layers the output depends on."""
        return self.estimate.used


@record(frozen=True)
class Lint:
    """One of check's warnings: its ``name``, ``summary`` (a line) and ``explanation``, and
    ``find(spec, *reads)``, which returns the warnings, ``reads`` naming the fields of
    :class:`Found` it takes after the spec."""

    name: str
    summary: str
    explanation: str
    find: Callable[..., list[SpecError]]
    reads: tuple[str, ...] = ()
    # where the checker runs ``find``: with the other lints (:func:`run_all`), or in its own
    # stage before them, as for the data or the memory (:func:`named` names its warnings)
    own_stage: bool = False
    # whether its warnings may come only after check, once train reads the data (an npz
    # file's images) or knows the machine it runs on: a silence of it that check finds nothing
    # for is not said to be unused (:mod:`cnnspec.check.unused`)
    found_later: bool = False

    def run(self, found: Found) -> list[SpecError]:
        """The warnings this lint finds, each named by it."""
        warnings = self.find(found.spec, *(getattr(found, what) for what in self.reads))
        return [dataclasses.replace(warning, lint=self.name) for warning in warnings]


_FOUND: tuple[Lint, ...] = (
    Lint("identical-filters",
         "filters (units) of a layer start identical, or its weights start at 0 and never change",
         "A trainable hidden conv or dense layer whose filters start identical (a constant, or a "
         "fixed kernel the same for every filter, with biases alike) computes the same output in "
         "each; where everything that reads them weighs them alike too, they get identical "
         "gradients and stay identical, so the layer never has more than one distinct filter: the "
         "symmetry-breaking argument for random init. A drawn layer or a dropout after it tells "
         "them apart, and so does a layer that is not linear, or a trainable one after an add of a"
         " branch whose channels differ; the warning names it. A layer with no conv or dense layer"
         " after it is exempt (the loss tells its units apart, each having its own target, which "
         "is why a zero-initialised classifier head trains), and so is the last layer of a "
         "residual branch started at zero (Fixup, Zhang, Dauphin & Ma 2019), whose filters the "
         "first step sets apart. The same warning says of a layer whose weights start at 0 that "
         "they never change, and why: its input is exactly 0 (dW = dout x input), or no gradient "
         "reaches it (a ReLU after it reads only a bias of 0 or less, the weights of a layer after"
         f" it are 0 and stay so); and of `{IDENTITY}`'s all-zero filters beyond the input's "
         "channels where the ReLU after them is flat at their bias.",
         lints.constant_weights, ("estimate", "facts")),
    Lint("frozen-copies",
         "a frozen layer whose filters are copies of one another",
         "A conv or dense layer whose weights do not train (`frozen`, or an `lr_mult` of 0) "
         "and whose filters are copies of one another: a fixed kernel written once for every "
         "filter (`conv 16 3x3 weight sobel_x frozen`), a constant, or "
         f"`{IDENTITY}`'s all-zero filters beyond the input's channels, with biases alike. "
         "The copies compute one output again and again and, frozen, never come apart: the "
         "layers after them read one feature in as many channels, for the cost of all of "
         "them. `identical-filters` says the same of a trainable layer, whose filters may come"
         " apart; a frozen one needs one filter of each kernel (a 3-D literal writes one "
         "kernel for each filter).",
         lints.frozen_copies, ("estimate",)),
    Lint("nothing-trains",
         "no parameter of the network trains",
         "Every layer with parameters that the output uses is `frozen`, or holds each of its "
         "parameters with an `lr_mult` of 0: training changes no weight and the loss stays "
         "where the init puts it, as a learning rate of 0 would, which the train block "
         "refuses. A network of fixed kernels (`weight sobel_x frozen`) needs at least its "
         "classifier to learn.",
         lints.nothing_trains, ("estimate",)),
    Lint("held-still",
         "zero weights elsewhere hold still layers whose own inits are not zero",
         "Every other trainable layer that the zero weights of an `identical-filters` layer "
         "hold still though its own init is not zero: a random layer before them, which no "
         "gradient reaches, or one after them, which reads their zeros. One warning names them "
         "all with why, and what still learns where that is little.",
         lints.held_still, ("estimate", "facts")),
    Lint("flat-channels",
         "zero weights with drawn biases under a ReLU: channels whose bias is 0 or less never "
         "change",
         "A trainable conv or dense layer whose weights start at 0 and whose biases are drawn, "
         "read only by activations flat at 0 and below (relu, relu6): each channel outputs its "
         "bias alone while its filter is 0, so a channel whose bias is drawn at 0 or less gets "
         "no gradient and never changes.",
         lints.flat_channels, ("estimate", "facts")),
    Lint("silenced-relu",
         "a negative constant bias puts nearly all of a layer's outputs below its ReLU's 0",
         "With weights drawn symmetric about 0, or a fixed kernel that sums to 0 (sobel_x), "
         "each output of a layer is a sum s about normal with mean 0 and the second moment q "
         "of the signal's estimate, plus the bias b: the ReLU passes P(s + b > 0) = Phi(b / "
         "sqrt(q)) of them (He et al. 2015's symmetric sums), and only those send a gradient "
         "back; through a max pool of k values, the windows with any of their k sums above 0, "
         f"1 - Phi(-b / sqrt(q))^k. A negative constant bias that lets under "
         f"{lints.LEAST_ALIVE:.0%} "
         "pass starts the layer nearly dead.",
         lints.silenced_starts, ("estimate",)),
    Lint("init-underflow",
         "an init's values are below the smallest normal number of the dtype trained in",
         "An init of a conv or dense layer whose values are below the smallest normal number "
         "of the dtype the model trains in (numpy.finfo(dtype).tiny; float32's 1.18e-38 for "
         f"`check`): `normal(0, 1e-300)`, `{RELU_SCHEME}(gain=1e-300)`, a constant or a kernel of "
         "such numbers start every value at 0 or subnormal there, though they are numbers in "
         "the float64 arithmetic of the description (too large a value is an error: it would "
         "start as infinity).",
         lints.underflowing_inits, ("infos", "dtype")),
    Lint("lost-spread",
         "a drawn init's spread is below a few steps of the dtype at its mean",
         "A drawn init (`normal`, `uniform`, `truncated_normal`, ...) whose spread is below a "
         "few steps of the dtype at its mean: `normal(1000, 1e-5)` starts nearly every float32 "
         "weight at one value, so its filters start alike.",
         lints.lost_spreads, ("infos", "dtype")),
    Lint("gain-misfit",
         "an init's gain is made for another activation than the one after its layer",
         "A weight init whose gain is made for another activation than the one after its layer "
         f"(`{RELU_SCHEME}`, relu's gain, before tanh or sigmoid; `gain=tanh` before relu) changes "
         "each layer's variance by the gains' ratio squared (PyTorch's calculate_gain), and "
         "the change compounds over the layers (after tanh or sigmoid the stack settles near "
         "it). A gain written as a number is compared the same way, and so is one before an "
         "activation PyTorch's table lacks, elu: its gain is the one that keeps the second "
         "moment, 1 / sqrt(E[f(z)^2]) (He et al. 2015's derivation), as sigmoid's is; gelu, "
         "silu, mish and hard swish have none that keeps a plain stack's scale, and are not "
         "warned. "
         "Warned where that changes a layer's variance materially; the layers with one "
         "mismatch are named in one warning, with the init that fits as the hint. Before a "
         "tanh stack deep enough that tanh's gain would part its weights' gradients past "
         "`gradient-scale`'s limit (the chaotic phase), the hint gives tanh's critical init "
         "first (gain 1, Poole et al. 2016: the gradients keep their scale, the signal fades "
         "slowly) and tanh's gain second, with the factor it would part them by; before a "
         "sigmoid stack, which has no critical init, the gain's hint says by what factor it "
         "would part them, where it would.",
         gainfit.gain_misfits, ("estimate",)),
    Lint("signal-scale",
         f"the signal's scale changes {signal.LIMIT:g}x through the layers, or the scores start "
         "too large",
         "The estimated scale of each layer's output at init (its root mean square relative to "
         f"the input's, He et al. 2015, eq. 7) shrinking or growing by {signal.LIMIT:g}x or more "
         "through the layers: the gradients shrink or grow alike, and training starts slowly "
         "or diverges. Scores that start with a std above "
         f"{scale.LARGEST_SCORE_STD:g} under cross_entropy make the initial loss about std x "
         "E[max of K normals] nats, not ln K; the warning names the layer whose init raises "
         "them most, or the biases that raise them where the weights alone would not (`conv 4 "
         "3x3 bias constant(1e30)` before a dense layer), or the scores' own constant bias "
         "where the dtype's numbers near it are farther apart than the sums' std, which round "
         "away (`dense 10 bias constant(1e10)` in float32: the loss stays ln K). Where a ReLU "
         "starts mostly dead (a "
         "kernel whose weights sum far from 0 on inputs whose mean is not 0), the estimate "
         "does not hold past it, and that is said instead.",
         scale.signal_scale, ("estimate", "dtype")),
    Lint("far-outputs",
         "under mse, the outputs start so far from the targets that the first step overshoots",
         "Under `loss mse`, an output layer whose biases start its outputs far from the "
         "one-hot targets (`dense 10 bias constant(1e5)`): mse's first gradient of its weights "
         "is (2 / K) d sqrt(E[x^2]) at most, for outputs a root mean square d from the targets "
         "and inputs of mean square E[x^2] (the signal's estimate), and an optimizer whose "
         "step is lr times the gradient (sgd) moves the weights by lr times that. Where that "
         "is more than the weights' own root mean square, the learning rate that suits the "
         "weights overshoots: the gradient reaching the layers before grows with d too, and "
         "training diverges within a few steps. Said at the output layer's bias init, with "
         "the lr at which the first step is the weights' size. Adam, RMSprop and Adagrad "
         "divide the step by the gradient's scale, and gradient clipping bounds it: not "
         "warned there.",
         scale.far_outputs, ("estimate",)),
    Lint("gradient-scale",
         f"the weights' gradient of a tanh or sigmoid stack differs {gradient.LIMIT:g}x from its "
         "first layer to its last",
         "The weights' gradient of a stack of tanh or sigmoid layers more than "
         f"{gradient.LIMIT:g}x larger or smaller at its first layer than at its last, in the "
         "chaotic or ordered phase: the bounded signal hides it from `signal-scale`. "
         "Mean-field theory's chi_1 per layer (Poole et al. 2016; Schoenholz et al. 2017) gives "
         "the factor, through norms and mean pools, with the critical init as the hint.",
         gradient.gradient_scale, ("estimate",)),
    Lint("unused-layer",
         "a layer the output does not use",
         "A layer that the output does not depend on: it is computed (and its parameters "
         "counted) for nothing, and no gradient reaches it.",
         lints.unused_layers, ("used",)),
    Lint("layer-below-train",
         "a layer written below the train block",
         "The spec is read as it stands, the layer after the ones above the block, so it is no "
         "error; but a reader looks for the network above its training settings, and a line "
         "added at the end of the file (one meant for the block, or a second spec's layers "
         "pasted after the first) changes the network without a word.",
         lints.layers_below_train),
    Lint("dropout-before-batchnorm",
         "a dropout directly before a batch norm",
         "A batch norm after a dropout learns running statistics of the dropped-out signal, "
         "whose variance differs from what it sees at evaluation, when dropout passes "
         "everything: the variance shift of Li et al. 2019 (at evaluation, 0.405 of the "
         "running variance of training after a ReLU at p = 0.5).",
         lints.dropout_before_batchnorm, ("estimate",)),
    Lint("batchnorm-momentum",
         f"a batch norm's momentum above {lints.HIGH_MOMENTUM:g}",
         f"A batch norm whose momentum is above {lints.HIGH_MOMENTUM:g} keeps running statistics "
         "that are nearly the last batch's: most likely Keras' share of the old statistics "
         "(0.99) written as PyTorch's weight of each new batch (0.01).",
         lints.batchnorm_momentum, ("infos",)),
    Lint("batchnorm-start",
         "a batch norm's momentum too small for its running statistics to leave their start",
         "A batch norm whose momentum is too small for its running statistics to leave their "
         "start within the run's steps (Caffe's moving_average_fraction 0.999 on a short run): "
         "evaluation then normalises by statistics that are still mostly their start.",
         lints.batchnorm_start, ("infos",)),
    Lint("bounded-output",
         "an output ending in a ReLU or a bounded activation where the loss takes raw scores",
         "An output ending in a ReLU (flat below 0) or in a bounded activation (sigmoid, tanh, "
         "relu6) where the loss (cross_entropy, bce) takes raw scores: the softmax of "
         "cross_entropy gives a class, among K, at most e^hi / (e^hi + (K - 1) e^lo) of scores "
         "in (lo, hi), so no class can be predicted with confidence and the loss cannot fall "
         "below the log of that.",
         lints.bounded_output, ("infos",)),
    Lint("padding-beyond-reach",
         "zero padding on a side past the kernel's reach",
         "Zero padding past the kernel's reach (`conv 16 3x3 pad 5`): the output rows and "
         "columns there read only zeros and hold the bias alone.",
         lints.padding_beyond_reach, ("infos",)),
    Lint("unreached-taps",
         "kernel taps that never meet the input, only padding",
         "Kernel taps that multiply only padding (`conv 16 3x3 pad same` on a 1x1 map: 8 of its "
         "9 taps): their weights get no gradient and never change; the hint names the kernel "
         "that computes the same.",
         taps.unreached_taps, ("infos",)),
    Lint("unread-input",
         "input rows or columns that no window of a conv or pool reads",
         "Input rows or columns that a conv, pool or transposed conv never reads: the output "
         "size rounds down (PyTorch's and Caffe's floor), so `conv 8 3x3 stride 2` on 28x28 "
         "reads rows 0 to 26 and a `maxpool 2` on 7x7 drops the last row and column; a window "
         "narrower than its stride, or taps a dilation apart that the stride keeps to, skip "
         "rows between windows (the 1x1 stride-2 shortcut that Bag of Tricks, He et al. 2019, "
         "says ignores three quarters of its input); a transposed conv's padding may crop "
         "away all that an edge pixel reaches. Nothing of those pixels reaches the loss, and "
         "their gradient is 0: what the data holds there is never learned from. Not said "
         "where another layer reading the same map reads all of it (a residual block's "
         "shortcut beside its conv), nor of a conv that reads none of it (`unreached-taps` "
         "says so). The hint names the padding, `ceil_mode`, stride or dilation that reads "
         "everything, with the output size it gives.",
         taps.unread_input, ("infos",)),
    Lint("stacked-linear",
         "linear layers stacked with no activation between",
         "A trainable conv, transposed conv or dense layer read only by such layers through "
         "linear layers alone (a flatten, a concat, an add, an average pool): two linear maps "
         "make one, so the stack adds parameters, not the expressiveness depth is for. Where "
         "the way passes an add or concat, the hint puts the activation after it, as a residual "
         "block's ReLU follows its add. Not a separable conv's depthwise and pointwise pair "
         "(Sifre 2014, Chollet 2017), nor a frozen layer.",
         lints.stacked_linear, ("estimate",)),
    Lint("twin-branches",
         "inputs of a concat or add that compute the same values at every step",
         "An input of a concat or add that repeats an earlier one at every step of training: "
         "one layer read twice, or twin branches (the same layers and settings on the same "
         "input, with the same fixed init, frozen or sent the same gradients). The concat only "
         "repeats features, the add doubles one branch; drawn inits and dropout tell branches "
         "apart.",
         twins.twin_branches, ("estimate", "facts")),
    Lint("pinned-reference",
         "a name in a repeat block that wires every instance to one instance's layer",
         "A name written in a repeat block as one instance's full name (`res_1_a`) wires every "
         "instance to that instance's layer, where the block's own name (`a`) means each "
         "instance's.",
         lints.pinned_references),
    Lint("before-activation-read",
         "a layer reads `a` of `a: conv ... relu` while `a_relu` is used too",
         "A layer that reads `a` of `a: conv 8 3x3 relu` (the conv before its relu) where the "
         "line's activated output `a_relu` is used too. In Keras `a = Conv2D(8, 3, "
         "activation=\"relu\")(x)` and in PyTorch `a = relu(conv(x))` name the activated "
         "output, so a skip written `<- a` reads the values before the relu, seldom what was "
         "meant.",
         lints.before_activation_reads, ("used",)),
    Lint("schedule-fit",
         "a schedule whose lr never changes within the run, or rises",
         "A step schedule whose first step comes after the last epoch (the lr never changes), a "
         "multistep milestone after the last epoch, or a cosine schedule whose min_lr is above "
         "the lr (the lr rises).",
         lints.schedule_fit),
    Lint("lr-fit",
         "an lr far above any that trains",
         "An lr far above any that trains (`lr 1e10`), or a layer's `lr_mult` that makes the "
         "rate of one of its parameters so: the first steps overshoot and training diverges, "
         "which train's divergence message would say only after the fact.",
         lints.lr_fit),
    Lint("decay-fit",
         "a weight decay whose step alone takes every weight away",
         "A weight decay whose step alone takes every weight away (lr x weight_decay of 1 or "
         "more under an optimizer whose decay is not divided by the gradients' scale: sgd, "
         "adamw), or a layer's `decay_mult` and `lr_mult` that make it so for its weights or "
         "bias (`decay_mult [1e12, 1]`): training then diverges or learns nothing.",
         lints.decay_fit),
    Lint("augment-fit",
         "augmentation that changes what an image shows",
         "`flip` on digits (a mirrored 2, 3, 4, 7 or 9 is no digit at all), `rotate` by up to "
         "90 degrees or more on digits (a 6 turned half way round is a 9), a translation "
         "(`crop`'s pad, `shift`'s pixels) of half the image's side or more, which can move the "
         "whole object out of the frame.",
         lints.augment_fit),
    Lint("val-split-fit",
         "a validation split that holds out more than half of the training split",
         "A validation split that holds out more than half of the training split: the network "
         "trains on the smaller part (`val_split 0.999` left one image of the digits).",
         lints.val_split_fit),
    Lint("cores-fit",
         "a cores setting the batch is too small to split into",
         "A `cores` setting other than the default that the batch is too small to split into "
         "(parts of fewer than 8 images): the batch then runs whole, on one core.",
         lints.cores_fit),
    Lint("batch-fit",
         "a batch larger than all the images of the data",
         "A batch larger than all the images of the data (a batch size with a zero too many, or "
         "data smaller than thought): every epoch is then a single step. For an npz file, said "
         "once it is read.",
         lints.batch_fit, found_later=True),
    Lint("epochs-fit",
         f"epochs whose run takes more than {MOST_STEPS:,} steps",
         f"Epochs whose run takes more than {MOST_STEPS:,} steps: Caffe's max_iter of 2^31 - 1 "
         "(\"until stopped\") at a step an epoch became `epochs 2147483647`.",
         lints.epochs_fit, ("infos",)),
    Lint("data-fit",
         "data that train would refuse, said where nothing trains (summary, diagram, export)",
         "Images or classes of the declared data that do not fit the network, a batch that "
         "gives a batch norm one value per channel, or an epoch with no step: `train` refuses "
         "them, and so does `check`; a command that trains nothing (`summary`, `diagram`, "
         "`export`, `eval` of a run) says them as warnings.",
         training.data_misfits, ("infos",), own_stage=True, found_later=True),
    Lint("memory-use",
         f"a training process that takes more than {memory.WARN_SHARE:.0%} of the memory",
         f"A process training the spec that takes more than {memory.WARN_SHARE:.0%} of the "
         "machine's memory (or of `--max-memory`), counted as cnnspec's memory model counts a "
         "step, the data and the libraries: another large process, or a larger batch, may not "
         "fit beside it. Past the whole memory it is an error (a warning where nothing "
         "trains).",
         memory.memory_problems, own_stage=True, found_later=True),
)

# The lints whose warnings may come only after check (:attr:`Lint.found_later`).
FOUND_LATER = frozenset(lint.name for lint in _FOUND if lint.found_later)


# The lints whose warnings depend on the dtype the model trains in (their ``find`` reads it):
# `normal(1000, 1e-5)` loses its spread in float32, not in float64.
DTYPE_BOUND = frozenset(lint.name for lint in _FOUND if "dtype" in lint.reads)


def unused_ignores(spec: Spec, silences, warnings: list[SpecError], dtype: str
                   ) -> list[SpecError]:
    """A warning at each name in a silencing comment of ``spec`` (``silences``,
    :class:`cnnspec.check.silence.Silences`) that silences none of ``warnings``, every warning
    check found in ``dtype`` (:mod:`cnnspec.check.unused`): but the names of lints found
    later, and of this one (its warning of itself would be silenced by the very comment it is
    about). A silence of a lint bound to the dtype is judged in the dtype the spec trains in
    unless told, the one it is written for: in another, the float32 warning it silences may
    not come, and removing it, as the hint says, would bring that warning back."""
    unjudged = FOUND_LATER | {UNUSED_IGNORE}
    if dtype != DEFAULT_DTYPE:
        unjudged |= DTYPE_BOUND
    judged = [written for written in silences.written if written.name not in unjudged]
    return [dataclasses.replace(warning, lint=UNUSED_IGNORE)
            for warning in unused.unused_silences(spec, silences, judged, warnings)]


UNUSED_IGNORE = "unused-ignore"
LINTS: tuple[Lint, ...] = _FOUND + (
    Lint(UNUSED_IGNORE,
         "a silencing comment that silences nothing",
         "A `# cnnspec: ignore[NAME]` on a line where check finds no warning of that lint "
         "(nor one about the layer of that line), or a `# cnnspec: ignore-file[NAME]` in a spec "
         "where it finds none, as ruff's RUF100 says of an unused `# noqa`: left there, it "
         "hides the next warning of that lint a change of the spec brings. Not said of the "
         "lints whose warnings may come only once train reads the data or knows the machine ("
         + ", ".join(f"`{lint.name}`" for lint in _FOUND if lint.found_later)
         + "): their silence may be needed then; nor of `unused-ignore` itself, which the "
         "comment it would be said of silences. A silence of a lint whose warnings depend on "
         "the dtype (" + ", ".join(f"`{name}`" for name in sorted(DTYPE_BOUND))
         + f") is judged in {DEFAULT_DTYPE}, the dtype train uses unless told: "
         "`check --dtype float64` does not call unused the silence a float32 warning needs.",
         unused_ignores, own_stage=True),
)

BY_NAME: dict[str, Lint] = {lint.name: lint for lint in LINTS}


def run_all(found: Found) -> list[SpecError]:
    """Every lint's warnings, in the catalogue's order (but those found in a stage of their
    own)."""
    return [warning for lint in LINTS if not lint.own_stage for warning in lint.run(found)]


def named(finder: Callable[..., list[SpecError]], warnings: list[SpecError]) -> list[SpecError]:
    """``warnings`` of the lint whose function is ``finder``, found outside :func:`run_all`
    (in a stage of the checker's own; a batch checked against an npz file's images once it is
    read), each named by that lint."""
    return [dataclasses.replace(warning, lint=name_of(finder)) for warning in warnings]


def as_written(warnings: list[SpecError], own: list[SpecError]) -> list[SpecError]:
    """``warnings`` of a spec changed from the one written (another default init, a swept
    setting), less their silences that silence nothing where the spec as written (whose
    warnings are ``own``) uses them: a silence is judged on the spec it was written for."""
    return [w for w in warnings if w.lint != UNUSED_IGNORE or w in own]


def named_later(finder: Callable[..., list[SpecError]], warnings: list[SpecError]
                ) -> list[SpecError]:
    """``warnings`` of the lint whose function is ``finder``, found after check (once train
    reads the data), each named by that lint, which the catalogue must mark
    :attr:`Lint.found_later`: else check would call a silence of them unused."""
    lint = BY_NAME[name_of(finder)]
    assert lint.found_later, f"{lint.name} is found after check: mark it found_later"
    return named(finder, warnings)


def name_of(finder: Callable[..., list[SpecError]]) -> str:
    """The name of the lint whose function is ``finder``."""
    return next(lint.name for lint in LINTS if lint.find is finder)
