"""Warnings about the scale of the signal at initialisation: a scale that shrinks or grows 100x
or more through the layers (:mod:`cnnspec.check.signal`'s estimate), and scores that start too
large for the loss, whose initial cross-entropy is then far above ln K. Where the first grows
the scale to the scores themselves, one warning says both."""
from __future__ import annotations

import dataclasses
import math

from cnnspec.check import signal
from cnnspec.check.model import LayerInfo
from cnnspec.dtypes import FORMATS
from cnnspec.errors import SpecError, float_text, rounded_text
from cnnspec.init import choose
from cnnspec.init.info import InitInfo
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import OPTIMIZERS, layer_rates
from cnnspec.kinds import is_weighted
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.records import record


def signal_scale(spec: Spec, estimate: signal.Estimate, dtype: str) -> list[SpecError]:
    """The signal's scale changing 100x or more (:func:`cnnspec.check.signal.largest_change`),
    and scores that start too large for the loss (:func:`_large_scores`; biases whose square
    is beyond ``dtype``'s range, the one the model trains in); where the first
    grows the scale to the scores themselves, one warning says both. Where a ReLU starts
    mostly dead (:func:`cnnspec.check.signal.dying_sums`), the estimate does not hold past it,
    and that is said instead of either."""
    if estimate.dying is not None:
        return [_dying_warning(spec, estimate.dying)]
    change = estimate.change
    scores = _large_scores(spec, estimate)
    # the biases' share is said only where the weights alone leave the scores small
    biased = ([] if scores else _bias_raised_scores(spec, estimate, dtype)) \
        + _squared_outputs(spec, estimate, dtype) + _absorbed_scores(spec, estimate, dtype)
    if not signal.is_too_large(change):
        return ([scores.warning(spec)] if scores else []) + biased
    message, hint = signal.describe_change(change), signal.change_hint(change)
    if scores and change.layer == scores.name and change.std_ratio > 1:
        message += f"; {scores.loss_sentence()}"
        hint += f"; or {scores.small_last_layer()}"
        scores = None
    return [_change_warning(spec, change.first_weight_layer, message, hint)] \
        + ([scores.warning(spec)] if scores else []) + biased


def _change_warning(spec: Spec, layer: str, message: str, hint: str) -> SpecError:
    """The warning of the scale's change, at the weight init of ``layer`` (the first conv or
    dense layer whose init moves the scale) where it is written: the `default` line for a
    layer that takes it from there, as gain-misfit's, since that line is what the hint's
    init replaces. It stays about the layer, for an ignore comment on the layer's line."""
    warning = spec.error(message, spec.init_place(layer, WEIGHT_INIT_KEY), WEIGHT_INIT_KEY,
                         severity="warning", hint=hint)
    return dataclasses.replace(warning, about=(layer,))


def _dying_warning(spec: Spec, dying: signal.DyingSums) -> SpecError:
    """Most of a ReLU's inputs start below 0, so the signal dies: what the engine shows
    where the estimate's Gaussian sums would keep (or grow) the scale."""
    info = dying.layer
    init = info.weight_init
    kernel = (f"its weights, drawn about a mean of {rounded_text(init.mean)}, sum to about "
              f"{rounded_text(dying.kernel_sum)} a filter and add up" if init.random else
              f"its kernel ({init.name}) sums to {rounded_text(dying.kernel_sum)} a filter and "
              "adds up")
    return spec.error(
        f"most of the inputs of the {dying.activation} after '{info.name}' start below 0: "
        f"{kernel} the mean of what it reads (E[z] = sum(w) E[x]), which puts its "
        f"sums' mean {rounded_text(dying.offset)} of their stds below 0 ("
        f"{_percent(dying.negative)} of the {dying.activation}'s inputs below 0, taken as "
        f"Gaussian); the {dying.activation} passes 0 for those, so most of its units start "
        "dead, and each such layer after it reads fewer values: the signal dies out layer by "
        "layer (the estimate of its scale "
        "does not hold here: the sums' mean grows with what each window reads)",
        info.name, WEIGHT_INIT_KEY, severity="warning",
        hint=CENTRED_KERNELS if init.random else f"{FIXED_KERNEL_SUM}; or {CENTRED_KERNELS}")


def _percent(share: float) -> str:
    """A share above 1/2 as a percentage, "over 99%" where rounding would say 100%."""
    return "over 99%" if share > 0.99 else f"about {share:.0%}"


# The advice for kernels whose sums start mostly below 0 before a ReLU.
FIXED_KERNEL_SUM = "make the kernel's values sum to 0 (as sobel_x's do)"
_RELU_INIT = choose.scheme_for("relu")
CENTRED_KERNELS = (f"centre the kernels: draw the weights about 0 ({_RELU_INIT.name} before relu, "
                   f"{choose.variance_text(_RELU_INIT)}, {_RELU_INIT.source}), or add batchnorm "
                   "after the conv")
# The advice for a scale that residual adds build up, each x + F(x) summing its branches.
RESIDUAL_ADVICE = ("start the last layer of each residual branch small or at 0, so that x + F(x) "
                   "starts near x (Fixup, Zhang et al. 2019; Goyal et al. 2017 start a last "
                   "batch norm's scale at 0, but a batchnorm here starts at scale 1), or add "
                   "batchnorm")
# The advice for scores that start large where no one init of the scores' layer can be
# scaled: a glorot init is no smaller than he's for a head of few units on many inputs
# (fan_avg is about fan_in / 2 there), so a small normal is the advice.
SMALL_LAST_LAYER = "start the last layer small (normal(0, 0.01)) so that the loss starts near ln K"
# Scores (logits) whose std at init is above this start the softmax saturated: for 10 classes
# the initial cross-entropy is then 8 nats or more, 3.5 times ln 10, and softmax gives one
# class 79% on average, at random; at a std of 2 it is 3.8 nats and 53%, an excess the first
# steps remove. (Measured over 200,000 draws of 10 Gaussian scores; ln K at a std of 0.)
LARGEST_SCORE_STD = 5.0


@record
class LargeScores:
    """Scores whose std at init (``std``, the signal estimate's root mean square for inputs of
    unit mean square) is above :data:`LARGEST_SCORE_STD`, and the layer whose factor raises it
    most (``source``)."""

    name: str  # the layer whose output the loss takes as scores
    classes: int
    std: float
    source: signal.Source | None  # None where biases raise the scores (_bias_raised_scores)
    adds: bool = False  # whether an add before the scores sums branches
    init: InitInfo | None = None  # the weight init of the scores' layer, where it has one

    def loss_bounds(self) -> tuple[float, float]:
        """The expected initial cross-entropy of ``classes`` scores ``s Z_k``, ``Z_k``
        independent standard normals and the target independent of them:
        ``E[logsumexp(s Z)]``, between ``max(ln K, s E[max Z])`` and ``ln K + min(s^2 / 2,
        s E[max Z])`` (``max <= logsumexp <= max + ln K``; Jensen's inequality both ways:
        ``logsumexp >= ln K + mean``, ``E[logsumexp] <= ln E[sum e^(s Z)] = ln K + s^2 / 2``).
        ``E[max Z]``, the mean of the largest of K standard normals (David & Nagaraja,
        "Order Statistics", 2003; about ``sqrt(2 ln K)`` for a large K, 1.54 for K = 10), sets
        the loss for a large ``s``: it grows as ``s E[max Z]``."""
        largest = signal.largest_of_sums(self.classes, 0.0, 1.0)[1]
        log_k = math.log(self.classes)
        return (max(log_k, self.std * largest),
                log_k + min(self.std ** 2 / 2, self.std * largest))

    def loss_sentence(self) -> str:
        low, high = self.loss_bounds()
        largest = signal.largest_of_sums(self.classes, 0.0, 1.0)[1]
        # bounds within 10% of each other say one figure: the std is itself an estimate,
        # from which a draw of the weights strays further than that
        loss = (f"about {rounded_text(low)}" if high <= 1.1 * low
                else f"{rounded_text(low)} to {rounded_text(high)}")
        return (f"the {self.classes} scores of '{self.name}' start with a std of about "
                f"{rounded_text(self.std)}, so the initial cross-entropy is about std x E[max "
                f"of {self.classes} normals] = {rounded_text(self.std)} x "
                f"{rounded_text(largest)}: {loss} nats, "
                f"not ln {self.classes} = {rounded_text(math.log(self.classes))}; softmax "
                "starts saturated, sure of a class at random")

    def small_last_layer(self) -> str:
        """How to start the scores small, the layers before kept (the other way to the advice
        it follows, which changes those): the scores are linear in the weights of their layer
        (the estimate takes every bias as 0), so weights drawn about 0 at their scale over the
        scores' std start the scores with a std near 1. A generic small init where the layer
        draws none about 0 (a fixed kernel, a mean, no weights)."""
        init = self.init
        if init is None or not init.symmetric or not init.scale:
            return SMALL_LAST_LAYER
        std = rounded_text(float(f"{init.scale / self.std:.1g}"))
        return (f"start the last layer small: `weight normal(0, {std})` on '{self.name}' (the "
                f"scale of its {init.short} over the scores' std of {rounded_text(self.std)}) "
                "alone starts the scores near 1 and the loss near ln K")

    def warning(self, spec: Spec) -> SpecError:
        info = self.source.layer
        scale = math.sqrt(self.source.factor)
        if self.source.adds:
            adds = (f"the residual adds: {self.source.adds} of them, the last '{info.name}', "
                    "each sums its branches' mean squares (x + F(x) doubles that of x where F "
                    f"keeps it), together {rounded_text(self.source.factor)}x the mean square, "
                    f"{rounded_text(scale)}x the scale")
            built = ("Most of the scale comes from" if self._source_explains(scale) else
                     "No one layer raises most of it; the largest part comes from")
            return spec.error(f"{self.loss_sentence()}. {built} {adds}", info.name,
                              severity="warning",
                              hint=f"{RESIDUAL_ADVICE}; or {self.small_last_layer()}")
        factor = (f"{info.kind} '{info.name}' ({info.weight_init.short}): "
                  + (f"its weights' sum adds up the mean of what it reads (E[z] = sum(w) E[x]), "
                     f"which scales the mean square by {rounded_text(self.source.factor)}"
                     if self.source.adds_mean else
                     self._layer_factor()))
        if self._source_explains(scale):
            return spec.error(
                f"{self.loss_sentence()}. Most of the scale comes from {factor}, "
                f"{rounded_text(scale)}x the scale", info.name, WEIGHT_INIT_KEY,
                severity="warning", hint=f"{self._scale_advice()}; or {self.small_last_layer()}")
        # no one init raises it: the scale builds up over the layers, and advice to scale
        # the largest factor's init down would not bring the scores near 1
        built = (" (each add sums its branches' mean squares: x + F(x) doubles that of x "
                 "where F keeps it)" if self.adds else "")
        return spec.error(
            f"{self.loss_sentence()}. No one layer raises most of it: the largest factor is "
            f"{factor}, {rounded_text(scale)}x the scale; the layers before it build up the "
            f"rest, {rounded_text(self.std / scale)}x{built}", info.name, WEIGHT_INIT_KEY,
            severity="warning", hint=f"{self._build_up_advice()}; or {self.small_last_layer()}")

    def _layer_factor(self) -> str:
        """The source layer's factor as the formula names it, and where its zero padding
        takes a share of its products (:func:`cnnspec.check.signal.read_share`), that share
        and the factor with it: sobel_x's 12 (its sum of squares, fan_in * E[w^2]) is 11 on a
        16x16 map padded `same`, whose border outputs sum fewer taps."""
        share, factor = self.source.read_share, self.source.factor
        said = f"fan_in * E[w^2] * activation factor = {rounded_text(factor / share)}"
        if not signal.padding_said(share):
            return said
        return (f"{said}, times {signal.PADDING_SHARE.format('its')} {rounded_text(share)}: "
                f"{rounded_text(factor)}")

    def _source_explains(self, scale: float) -> bool:
        """Whether the source's factor makes at least half the scores' std, on a log scale."""
        return scale > 1 and math.log(scale) >= 0.5 * math.log(self.std)

    def _build_up_advice(self) -> str:
        """How to keep a scale that builds up over many layers from reaching the scores."""
        if self.adds:
            return RESIDUAL_ADVICE
        return f"keep each layer's factor near 1 ({signal.keeping_inits()}), or add batchnorm"

    def _scale_advice(self) -> str:
        """How to bring the source's scale down: a drawn init scaled to its fans; a kernel the
        spec fixes (sobel_x, a literal) keeps its values, so a norm after it rescales them."""
        info = self.source.layer
        init = info.weight_init
        if init.random and self.source.adds_mean:
            return (f"draw this init about 0: its mean of {rounded_text(init.mean)} adds "
                    f"fan_in x mean = {rounded_text(info.fan_in * init.mean)} times the mean of "
                    f"what it reads to every sum ({signal.keeping_inits()})")
        if init.random:
            return f"scale this init down ({signal.keeping_inits()}, keep the factor near 1)"
        return (f"the kernel of '{info.name}' is fixed ({info.weight_init.name}): a batchnorm "
                "after it brings its outputs to unit scale")


def _scores(spec: Spec, estimate: signal.Estimate) -> LayerInfo | None:
    """The layer whose output cross_entropy takes as scores (the output, or the input of an
    output softmax, which the loss fuses), where the loss is cross_entropy and the scores
    are two or more."""
    by_name = estimate.by_name
    info = by_name.get(spec.ir["output"])
    if spec.ir["training"].get("loss") != "cross_entropy" or info is None:
        return None
    if info.kind == "softmax":  # an output softmax of the input itself reads no layer
        info = by_name.get(info.inputs[0])
    if info is None or len(info.output_shape) != 1 or info.output_shape[0] < 2:
        return None
    return info


def _large_scores(spec: Spec, estimate: signal.Estimate) -> LargeScores | None:
    """The scores cross_entropy takes (:func:`_scores`) when their estimated std, every bias
    taken as 0, is above :data:`LARGEST_SCORE_STD`."""
    info = _scores(spec, estimate)
    if info is None:
        return None
    std = math.sqrt(estimate.second_moments[info.name])
    source = signal.largest_source(estimate, info.name)
    if not LARGEST_SCORE_STD < std < math.inf or source is None:
        return None
    adds = any(other.kind == "add" and other.name in estimate.used for other in estimate.layers)
    return LargeScores(info.name, info.output_shape[0], std, source, adds, info.weight_init)


def _bias_raised_scores(spec: Spec, estimate: signal.Estimate, dtype: str
                        ) -> list[SpecError]:
    """A warning where the biases, not the weights, start the scores (:func:`_scores`) with a
    std above :data:`LARGEST_SCORE_STD`: a bias adds its mean square to every sum of its
    layer (:func:`cnnspec.check.signal.biased_sums`), and the random weights after it spread
    that over the scores as they spread any input. The scores' std is the Signal column's
    estimate, the biases counted, less the mean every score shares (which the softmax
    ignores). Named: the layer since the last reset whose biases are largest against its
    sums' own std (weights alone). Biases whose square is beyond ``dtype``'s range (1e200
    under --dtype float64) leave the estimate infinite or NaN, where it says nothing of the
    scores: :func:`_overflowing_bias` says them."""
    info = _scores(spec, estimate)
    if info is None:
        return []
    moments, means = estimate.biased_moments
    mean = means.get(info.name, 0.0)
    variance = moments[info.name] - mean * mean
    if not variance < math.inf:  # infinite or NaN (max(0, NaN) would make it 0)
        return _overflowing_bias(spec, estimate, info, dtype,
                                 f"up to the {info.output_shape[0]} scores of '{info.name}', "
                                 "are infinite, and so is any estimate of the initial loss")
    std = math.sqrt(max(0.0, variance))
    source = _largest_bias(estimate, info) if LARGEST_SCORE_STD < std else None
    if source is None:
        return []
    layer, bias_rms, ratio = source
    loss = LargeScores(info.name, info.output_shape[0], std, None).loss_sentence()
    mean, variance = signal.bias_moments(layer)
    start = (f"start at {rounded_text(mean)}" if variance == 0 else
             f"start with a root mean square of {rounded_text(bias_rms)}")
    return [spec.error(
        f"{loss}. The biases raise them: those of {layer.kind} "
        f"'{layer.name}' {start}, {rounded_text(ratio)} times the std of its sums at init "
        f"({layer.weight_init.short}, for inputs of unit mean square), and the layers after it "
        "carry them on to the scores", layer.name, BIAS_INIT_KEY, severity="warning",
        hint="start the biases at 0 (zeros), or small (constant(0.01)), so that the loss "
             "starts near ln K")]


def _squared_outputs(spec: Spec, estimate: signal.Estimate, dtype: str) -> list[SpecError]:
    """Under mse, which squares the outputs, a warning at the largest biases on the way to
    them where their mean square is beyond ``dtype``'s range: the loss is infinite at the
    first step. The outputs' own constant bias counts here, as it does not for
    cross_entropy (a shift of every score alike)."""
    info = estimate.by_name.get(spec.ir["output"])
    if spec.ir["training"].get("loss") != "mse" or info is None:
        return []
    moments, _ = estimate.biased_moments
    if not moments.get(info.name, 0.0) > FORMATS[dtype].largest:
        return []
    return _overflowing_bias(spec, estimate, info, dtype,
                             f"up to the outputs of '{info.name}', are infinite, and so is "
                             "the mse loss of the first step, which squares them",
                             own_mean=True)


def _absorbed_scores(spec: Spec, estimate: signal.Estimate, dtype: str) -> list[SpecError]:
    """A warning at the scores' own constant bias (:func:`_scores`) where ``dtype``'s numbers
    near it are more than twice the std of the layer's sums apart (weights alone, the
    estimate's): each sum added to it rounds to the bias, so every score is its bias
    whatever the weights, the loss cannot fall, and its gradient, never smaller, pushes the
    weights before it without end. A shift of every score alike is harmless to the loss only
    while the sums survive it: cross_entropy with `bias constant(-1e20)` (float32's numbers
    8.8e12 apart there) diverged at step 17 after a silent check. A drawn bias's spread is
    :func:`_bias_raised_scores`'s to say."""
    info = _scores(spec, estimate)
    if info is None or not is_weighted(info.kind) or info.bias_init is None:
        return []
    mean, variance = signal.bias_moments(info)
    sums = math.sqrt(estimate.second_moments.get(info.name, 0.0))
    apart = FORMATS[dtype].spacing(mean)
    if variance or not 0 < sums < apart / 2:
        return []
    return [spec.error(
        f"the biases of {info.kind} '{info.name}' start at {rounded_text(mean)}, where "
        f"{dtype}'s numbers are {rounded_text(apart)} apart: its sums, of std "
        f"{rounded_text(sums)} at init, round away when added to them, so every score is its "
        "bias whatever the weights, the loss cannot fall, and its gradient pushes the weights "
        "before it without end", info.name, BIAS_INIT_KEY, severity="warning",
        hint="start the biases at 0 (zeros), or small (constant(0.01))")]


def _overflowing_bias(spec: Spec, estimate: signal.Estimate, scores: LayerInfo,
                      dtype: str, reached: str, own_mean: bool = False) -> list[SpecError]:
    """A warning at the largest biases on the way to the scores whose square is beyond
    ``dtype``'s range (:attr:`cnnspec.dtypes.FloatFormat.largest_root`): the mean squares of
    what they reach are infinite, in training as in the estimate (``reached`` says the
    rest: what they reach and what follows). ``own_mean``: the scores' own constant bias
    counts (see :func:`_largest_bias`)."""
    source = _largest_bias(estimate, scores, own_mean)
    layout = FORMATS[dtype]
    if source is None or source[1] <= layout.largest_root:
        return []
    layer, bias_rms, _ = source
    return [spec.error(
        f"the biases of {layer.kind} '{layer.name}' start with a root mean square of "
        f"{rounded_text(bias_rms)}, beyond the square root of {dtype}'s largest number "
        f"({layout.largest_text}): the mean squares of what they reach, {reached}",
        layer.name, BIAS_INIT_KEY, severity="warning",
        hint=f"start the biases at 0 (zeros), or small (constant(0.01)): below "
             f"{rounded_text(layout.largest_root, 2)} in size at the very most")]


def _largest_bias(estimate: signal.Estimate, scores: LayerInfo, own_mean: bool = False
                  ) -> tuple[LayerInfo, float, float] | None:
    """The conv/dense layer whose scale reaches the scores (since the last reset) with the
    largest biases against the std of its sums, every bias taken as 0: the layer, its biases'
    root mean square and that ratio. The scores' own constant bias shifts every score alike,
    so only its spread counts there (unless ``own_mean``: a loss that squares the scores);
    None where no bias raises anything."""
    unbiased, found = estimate.second_moments, None
    for layer in signal.since_last_reset(estimate, scores.name):
        if not is_weighted(layer.kind) or layer.bias_init is None:
            continue
        mean, variance = signal.bias_moments(layer)
        # hypot: a bias of 1e200 (float64 holds it) squares beyond float64's range
        shift = 0.0 if layer is scores and not own_mean else mean
        bias_rms = math.hypot(shift, math.sqrt(variance))
        sums = math.sqrt(unbiased[layer.name])
        if bias_rms > 0 and 0 < sums < math.inf and (found is None
                                                     or bias_rms / sums > found[2]):
            found = (layer, bias_rms, bias_rms / sums)
    return found


def far_outputs(spec: Spec, estimate: signal.Estimate) -> list[SpecError]:
    """Under mse, outputs that start far from its one-hot targets, raised by the output
    layer's own biases (those :func:`_largest_bias` finds largest, its own mean counted),
    where the optimizer's step is lr times the gradient (``raw_step``: SGD): a warning at
    that bias init where the first step would change the layer's weights by more than their
    own size.

    mse averages ``(out - t)^2`` over the batch's ``N x K`` outputs, so the first gradient of
    a weight of the output layer is ``dL/dW_kj = (2 / K) mean_n (out_nk - t_nk) x_nj``, at
    most ``(2 / K) d sqrt(E[x^2])`` (Cauchy-Schwarz) for outputs a root mean square ``d``
    from the targets and inputs of mean square ``E[x^2]``, the estimate's; with targets of
    mean square ``1 / K`` and outputs of mean ``m`` independent of the labels at init,
    ``d^2 = E[out^2] - 2 m / K + 1 / K``. The bound is reached where the outputs are alike
    over the batch and the inputs share their sign (a constant bias, after a ReLU). The step
    is lr x lr_mult times that; against the weights' own root mean square ``sqrt(E[w^2])``
    above 1, the update is larger than what the weights hold, and the gradient reaching the
    layers before grows with ``d`` too: they overshoot, and training diverges within a few
    steps (lr 0.01, digits, a conv of 8 and a dense layer of 10: output biases of 10, a
    ratio of 0.29, train; biases of 100, a ratio of 2.9, diverge at step 6). Outputs that
    the weights alone start large are :func:`signal_scale`'s; those that a hidden layer's
    biases raise are not said here: their first step also moves the layers before, whose
    ReLUs it can silence, and the ratio was not seen to part the specs that train from
    those that do not."""
    training = spec.ir["training"]
    info = estimate.by_name.get(spec.ir["output"])
    if (training.get("loss") != "mse" or info is None or not is_weighted(info.kind)
            or not OPTIMIZERS[training["optimizer"]["name"]].rule.raw_step
            or training["clip_norm"] or training["clip_value"]):
        return []
    step = _first_weight_step(estimate, info, training["lr"])
    source = _largest_bias(estimate, info, own_mean=True)
    if step is None or step.ratio <= 1 or source is None or source[0] is not info:
        return []
    return [spec.error(
        f"under mse, the outputs of {info.kind} '{info.name}' start about "
        f"{rounded_text(step.distance)} (root mean square) from its one-hot targets, raised by "
        "its biases: the first gradient of its weights is up "
        f"to (2 / K) x {rounded_text(step.distance)} x sqrt(E[x^2]) = "
        f"{rounded_text(step.gradient)}, and lr {float_text(step.rate)} moves them by "
        f"{rounded_text(step.ratio)} times their own size ({info.weight_init.short}): the "
        "first steps overshoot, and training diverges",
        info.name, BIAS_INIT_KEY, severity="warning",
        hint=f"start the biases at 0 (zeros), near the targets' scale; or lower the learning "
             f"rate of the weights of '{info.name}' (lr x lr_mult) to "
             f"{rounded_text(step.rate / step.ratio)} or below")]


@record(frozen=True)
class FirstStep:
    """The first step of an output layer's weights under mse (:func:`far_outputs`): its
    outputs' root mean square ``distance`` from the targets, the size of its weights'
    gradient, its rate (lr x lr_mult) and the step against the weights' root mean square."""

    distance: float
    gradient: float
    rate: float
    ratio: float


def _first_weight_step(estimate: signal.Estimate, info: LayerInfo, lr: float
                       ) -> FirstStep | None:
    """:class:`FirstStep` of ``info``, the output layer; None where the estimate knows not its
    outputs' mean or mean square, or its weights are 0 (nothing to compare the step with)."""
    moments, means = estimate.biased_moments
    mean, square = means.get(info.name), signal.weight_second_moment(info)
    if mean is None or not square or not math.isfinite(square) \
            or not math.isfinite(moments[info.name]):
        return None
    outputs = math.prod(info.output_shape)
    distance = math.sqrt(max(0.0, moments[info.name] - 2 * mean / outputs + 1 / outputs))
    gradient = 2 / outputs * distance * math.sqrt(moments[info.inputs[0]])
    rate = layer_rates(info.ir, lr).get("weight", lr)
    return FirstStep(distance, gradient, rate, rate * gradient / math.sqrt(square))
