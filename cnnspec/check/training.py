"""The training settings, checked the way ``train`` needs them: whatever ``train`` would refuse
at start-up is an error here, located in the ``.cnn`` file or at the ``.json`` IR's path.

- the dataset's arguments, against their declared ranges (:mod:`cnnspec.ir.datasets`);
- every other setting against the training catalogue (:mod:`cnnspec.ir.training_catalogue`):
  names, arguments and their ranges (a value above 0 must stay above 0 in the dtype the run
  trains in, ``check --dtype`` as ``train --dtype``), and arguments that contradict each other
  (Nesterov
  momentum without momentum), or settings (a plateau schedule without validation data, label
  smoothing or class weights for a loss other than cross_entropy);
- the data against the network: the input must be the dataset's image shape, the output
  one score per class, and the class weights (when given) one per class. ``train`` checks the
  spec with its command-line overrides applied, so ``--data`` can train a spec on other data;
  for ``npz`` data the shapes are only known once the file is read: the ``check`` command
  and the trainer read it and call :func:`data_fit_errors` with what they loaded
  (:mod:`cnnspec.training.compat`).
"""
from __future__ import annotations

import math

from cnnspec.check.graph import INPUT
from cnnspec.check.memory import setting_text
from cnnspec.check.model import LayerInfo
from cnnspec.dtypes import FORMATS
from cnnspec.errors import (
    SpecError,
    counted,
    float_text,
    library_worded,
    listed,
    literal,
    rounded_text,
)
from cnnspec.ir.datasets import (
    LEAST_CLASSES,
    class_count,
    image_shape,
    named_of_shape,
    problems,
    training_count,
)
from cnnspec.ir.spec import Spec
from cnnspec.ir.steps import epoch_steps, run_steps, trained_count, validation_count
from cnnspec.ir.training_catalogue import KEYS, LOSSES, TYPICAL_LR, overflowing_factor
from cnnspec.ir.training_catalogue import problems as training_problems
from cnnspec.kinds import KINDS
from cnnspec.shapes import channels_first, shape_text

# The field that sets the width of a layer's output, for the layers that set one.
WIDTH_FIELDS = {"dense": "units", "conv": "filters"}


def settings_errors(spec: Spec, dtype: str) -> list[SpecError]:
    """Mistakes in the training settings alone (no shapes needed) of a run that trains in
    ``dtype``: every key against the training catalogue, the data against the dataset
    table."""
    training = spec.ir["training"]
    data = training.get("data")
    errors = [spec.error(p.message, "training", f"data.{p.arg}", hint=p.hint,
                         hint_template=p.hint_template)
              for p in (problems(data) if isinstance(data, dict) else [])]
    errors += [spec.error(p.message, "training", where, hint=p.hint,
                          hint_template=p.hint_template)
               for where, p in training_problems(training, dtype)]
    schedule = training.get("schedule")
    if (not errors and isinstance(schedule, dict) and schedule.get("name") == "plateau"
            and training["val_split"] == 0):
        errors.append(spec.error(
            "the plateau schedule lowers the lr when the validation loss stops falling, but "
            "val_split is 0: there is no validation loss", "training", "schedule",
            hint_template=f"hold out data to validate on, e.g. {_use(spec, 'val_split', 0.1)}, "
            "or choose another schedule"))
    if not errors and training["early_stop"] and training["val_split"] == 0:
        errors.append(spec.error(
            f"early_stop stops training when {training['monitor']} stops improving, but "
            f"val_split is 0: there is no {training['monitor']}", "training", "early_stop",
            hint_template=f"hold out data to validate on, e.g. {_use(spec, 'val_split', 0.1)}, "
            "or drop early_stop"))
    if not errors:
        errors += _loss_errors(spec, training) + _overflow_errors(spec, dtype)
    return errors


def _overflow_errors(spec: Spec, dtype: str) -> list[SpecError]:
    """Layers whose lr_mult or decay_mult make a number the optimizer works out beyond what
    ``dtype`` holds (:func:`cnnspec.ir.training_catalogue.overflowing_factor`): their
    parameters are infinite or NaN within the first steps, as ``train`` finds only then."""
    training, layout = spec.ir["training"], FORMATS[dtype]
    errors = []
    for layer in spec.ir["layers"]:
        found = overflowing_factor(layer, training, dtype)
        if found is not None:
            errors.append(spec.error(
                f"'{layer['name']}' has {found.what} = {rounded_text(found.value)}, beyond the "
                f"{layout.largest_text} that {dtype}, the dtype training computes in, holds: "
                "its first steps make the parameter infinite or NaN", layer["name"],
                found.mult, hint=(
                    f"write a smaller {found.mult}: lr x lr_mult should be "
                    f"{float_text(TYPICAL_LR[1])} or below, lr x lr_mult x weight_decay x "
                    f"decay_mult well below 1 (lr {float_text(training['lr'])}, weight_decay "
                    f"{float_text(training['weight_decay'])} here)")))
    return errors


# The losses each loss setting applies to (the loss catalogue's settings, turned around).
LOSS_SETTINGS = {key: tuple(name for name, entry in LOSSES.items() if key in entry.settings)
                 for key in dict.fromkeys(k for entry in LOSSES.values() for k in entry.settings)}


def scores_needed(loss: str, classes: int) -> int:
    """How many scores the network's output gives per image for ``classes`` classes: one per
    class, or one logit for the 2 classes of the bce loss."""
    return 1 if loss == "bce" else classes


def classes_scored(loss: str, scores: int) -> int:
    """How many classes an output of ``scores`` scores per image tells apart under ``loss``
    (:func:`scores_needed` turned around): the 2 of the bce loss's one logit, else one a
    score. Labels drawn at random for a network (a timed step's) stay below it."""
    return 2 if loss == "bce" else scores


def loss_output_errors(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """Errors where the network's output is not what its loss takes whatever the data: a flat
    vector of scores, one of them (a logit) for the bce loss. A step on random labels
    (``time``, ``init-report --input gaussian``) needs that much of a spec check may refuse."""
    output = next(info for info in layers if info.name == spec.ir["output"])
    loss = spec.ir["training"]["loss"]
    if len(output.output_shape) != 1:
        return [spec.error(
            f"the output '{output.name}' gives {shape_text(output.output_shape)}, but the "
            f"{loss} loss takes a flat vector of scores", output.name,
            hint="end with `dense N` (after `flatten` or `global_avgpool`)")]
    if loss == "bce" and output.output_shape[0] != 1:
        return [spec.error(
            f"the output '{output.name}' gives {output.output_shape[0]} scores, but the bce "
            "loss takes one, a logit", output.name,
            hint_template=f"end with `dense 1`, or use {_use(spec, 'loss', CROSS_ENTROPY)} (one "
            "score per class)")]
    return []


def _loss_errors(spec: Spec, training: dict) -> list[SpecError]:
    """Loss settings the loss does not take, and an nll loss on an output that is not
    log-probabilities."""
    loss = training["loss"]
    errors = [spec.error(f"{key} applies to the {listed(losses)} loss, but the loss is "
                         f"{loss}", "training", key,
                         hint_template=f"drop {key}, or use {_use(spec, 'loss', losses[0])}")
              for key, losses in LOSS_SETTINGS.items() if training[key] and loss not in losses]
    output = next((layer for layer in spec.ir["layers"] if layer["name"] == spec.ir["output"]),
                  None)
    if loss == "nll" and output is not None and output["kind"] != "log_softmax":
        errors.append(spec.error(
            f"the nll loss takes log-probabilities, but the output layer '{output['name']}' is "
            f"a {output['kind']}", output["name"],
            hint_template="end the network with `log_softmax` (e.g. `dense 10 log_softmax`), or "
            f"use {_use(spec, 'loss', CROSS_ENTROPY)} on the raw scores"))
    return errors


# The loss a hint offers where another does not fit the output or the data: the default, of
# one score per class.
CROSS_ENTROPY = KEYS["loss"].default


def _use(spec: Spec, key: str, value) -> str:
    """Training setting ``key`` at ``value`` as a hint template quotes it: the spec's line
    (`` `loss cross_entropy` ``), or, where a run was given the setting (``--set
    loss=bce``), as it gives it (:func:`cnnspec.check.memory.setting_text`)."""
    return f"`{setting_text(spec, key, KEYS[key].written, value)}`"


def has_train_block(spec: Spec) -> bool:
    """Whether the spec has a train block for a hint to name a setting in (a JSON IR always
    has its training section)."""
    return spec.text is None or ("train", None) in spec.spans


# Where a hint says to write a training setting: in the spec's train block, or, where the
# spec has none, in a block of one line added after the layers, which a reader who never
# wrote one can copy.
BLOCK_PLACE = {True: "in the train block", False: "after the layers"}


def in_train_block(setting: str, block: bool) -> str:
    """A hint's words, as a template, for writing ``setting`` (``data mnist``) in the spec's
    train block, or in one to add where it has none (``block`` false)."""
    written = f"`{setting}`" if block else f"`train {{{{ {setting} }}}}`"
    return f"{written} {BLOCK_PLACE[block]}"


def _name_the_data(block: bool) -> str:
    """What a spec that names no data is told besides, as a template, where its default data
    does not fit it."""
    return f"; or name the data to train on: {in_train_block('data ...', block)}"


def data_misfits(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """What ``train`` would refuse of the data the spec declares against the network, known
    without reading it: the images or classes do not fit (:func:`declared_data_fit`), its
    batch gives a batch norm one value per channel (:func:`one_value_batch_errors`), an epoch
    has no step (:func:`empty_epoch_errors`)."""
    return (declared_data_fit(spec, layers)
            + one_value_batch_errors(spec, layers, spec.ir["training"]["batch_size"])
            + empty_epoch_errors(spec, layers))


def declared_data_fit(spec: Spec, layers: list[LayerInfo]) -> list[SpecError]:
    """:func:`data_fit_errors` for the spec's own dataset, when its shapes are known without
    reading it (every dataset but npz)."""
    data = spec.ir["training"]["data"]
    image, classes = image_shape(data), class_count(data)
    if image is None or classes is None:
        return []
    errors = data_fit_errors(spec, layers, image, classes, data["name"])
    named = ("training", "data") in spec.spans or "data" in spec.overridden  # (--data)
    if spec.text is not None and not named:
        block = has_train_block(spec)
        for error in errors:  # the user may not know which data the spec trains on
            error.message += f" (the spec names no data; {data['name']} is the default)"
            if BLOCK_PLACE[block] not in error.hint:  # it names no data to write yet
                error.hint += library_worded(_name_the_data(block))
                if error.hint_template is not None:
                    error.hint_template += _name_the_data(block)
    return errors


def data_fit_errors(spec: Spec, layers: list[LayerInfo], image: tuple[int, ...], classes: int,
                    data_name: str) -> list[SpecError]:
    """Errors when images of shape ``image`` (C, H, W) or labels of ``classes`` classes do not
    fit the network whose checked ``layers`` are given."""
    errors = [e for e in [input_fit_error(spec, image, data_name)] if e is not None]
    if classes < LEAST_CLASSES:  # told to give the output 1 unit: a network that trains nothing
        errors.append(spec.error(
            f"{data_name} has {counted(classes, 'class', 'classes')}: a classifier needs at least "
            f"{LEAST_CLASSES} to tell apart", "training", "data",
            hint="label the images of each class 0..K-1; with one class the loss is at its least "
            "from the first step (cross-entropy over one score is 0), and nothing trains"))
        return errors
    weights = spec.ir["training"]["class_weights"]
    if weights and len(weights) != classes:
        errors.append(spec.error(
            f"class_weights gives {counted(len(weights), 'weight')}, but {data_name} has "
            f"{counted(classes, 'class', 'classes')}", "training", "class_weights",
            hint=f"give one weight per class, {classes} in all, in the order of the classes"))
    by_name = {info.name: info for info in layers}
    output = by_name[spec.ir["output"]]
    binary = spec.ir["training"]["loss"] == "bce"  # one score, a logit, for 2 classes
    if binary and classes != 2:
        errors.append(spec.error(
            f"the bce loss is for 2 classes, but {data_name} has {classes}", "training", "loss",
            hint_template=f"use {_use(spec, 'loss', CROSS_ENTROPY)} (one score per class) for "
            "more classes"))
        return errors
    scores = scores_needed(spec.ir["training"]["loss"], classes)
    needs = "one score, a logit" if binary else "one score per class"
    if len(output.output_shape) != 1:
        errors.append(spec.error(
            f"the output '{output.name}' gives {shape_text(output.output_shape)}, but {data_name}"
            f" has {counted(classes, 'class', 'classes')}: the loss needs {needs}, a flat vector"
            f" of {scores}",
            output.name, hint=f"end with `dense {scores}` (after `flatten` or "
                              "`global_avgpool`)"))
    elif output.output_shape[0] != scores:
        layer, field_name = _width_source(output, by_name)
        what = field_name or "scores"
        errors.append(spec.error(
            f"the output '{output.name}' gives {counted(output.output_shape[0], 'score')}, but "
            f"{data_name} has {counted(classes, 'class', 'classes')}: the loss needs {needs}",
            layer, field_name,
            hint=f"give '{layer}' {scores} {what}" if field_name else
            f"end with `dense {scores}`"))
    return errors


def input_fit_error(spec: Spec, image: tuple[int, ...], data_name: str,
                    severity: str = "error", then: str = "") -> SpecError | None:
    """The error (or warning) at the spec's input when images of shape ``image`` (C, H, W) do
    not fit it, ``then`` added to its message; None when they do."""
    given = tuple(spec.ir["input"]["shape"])
    if tuple(image) == given:
        return None
    return spec.error(
        f"the input is {shape_text(given)}, but the {data_name} images are {shape_text(image)}"
        f"{then}", "input", severity=severity,
        hint_template=_input_hint(tuple(image), given, data_name, has_train_block(spec)))


def _width_source(output: LayerInfo, by_name: dict[str, LayerInfo]) -> tuple[str, str | None]:
    """The layer and field that set the output's width: back from the output through layers
    that keep the width (activations, dropout, global pooling) to a dense or conv layer."""
    info = output
    while info.kind not in WIDTH_FIELDS:
        if len(info.inputs) != 1 or info.inputs[0] == INPUT:
            return output.name, None
        before = by_name[info.inputs[0]]
        if before.output_shape[0] != info.output_shape[0]:
            return output.name, None
        info = before
    return info.name, WIDTH_FIELDS[info.kind]


def _input_hint(image: tuple[int, ...], given: tuple[int, ...], data_name: str,
                block: bool) -> str:
    """What to change when images of shape ``image`` (C, H, W) meet a spec input ``given``, as
    a hint template: the data a run is given, named as it is given (``--data``, ``data=``, a
    sweep's ``--set data=``), and the data the spec names, in its train block (``block``) or
    in one to add."""
    return _input_hint_text(image, given, literal(data_name), block)


def _input_hint_text(image: tuple[int, ...], given: tuple[int, ...], data_name: str,
                     block: bool) -> str:
    c, h, w = image
    transposed = channels_first(image)
    if transposed is not None:
        # Images stored channels-last (H, W, C) look like C, H, W = H, W, C: the fix then is
        # to transpose the data, not to copy its shape into the spec.
        then = "" if transposed == given else f", and write `input {shape_text(transposed)}`"
        return (f"the images look stored channels-last (N, H, W, C): store them as "
                f"(N, C, H, W), e.g. x.transpose(0, 3, 1, 2), which gives "
                f"{shape_text(transposed)}{then}")
    shapes_fit = data_name == "shapes" and given[0] in (1, 3) and given[1] == given[2]
    # The shapes arguments that would draw images of the given shape (colour: 3 channels).
    colour = f"colour={'true' if given[0] == 3 else 'false'}" if given[0] != c else ""
    if (h, w) == tuple(given[1:]):
        also = f", or {_shapes_drawn(given, colour, block)}" if shapes_fit else ""
        return (f"the {data_name} images have {counted(c, 'channel')}: write "
                f"`input {shape_text(image)}`{also}")
    if shapes_fit:
        arguments = ", ".join(a for a in (f"size={given[1]}", colour) if a)
        return f"write `input {shape_text(image)}`, or {_shapes_drawn(given, arguments, block)}"
    named = named_of_shape(given)
    own = 'data npz("PATH")'
    data = (f"{in_train_block(f'data {named}', block)}, or {{data_run}} {{data:{named}}}"
            if named else
            f"your own arrays: {in_train_block(own, block)}, or {{data_run}} {{data:npz:PATH}}")
    return (f"write `input {shape_text(image)}`, or train on data of shape {shape_text(given)}: "
            f"{data}")


def _shapes_drawn(given: tuple[int, ...], arguments: str, block: bool) -> str:
    """The hint's words for drawing the shapes data as ``given`` (C, H, W) by the shapes
    ``arguments`` (``size=8, colour=false``), written where the data is named: the train
    block (``block``: the spec's, or one to add), or the data a run is given
    (:func:`_input_hint`'s template)."""
    return (f"draw the shapes as {shape_text(given)}: give shapes the "
            f"argument{'s' * (',' in arguments)} {arguments} "
            f"({in_train_block(f'data shapes({arguments})', block)}, or {{data_run}} "
            f"{{data:shapes({arguments})}})")


def one_example_norms(layers: list[LayerInfo]) -> list[LayerInfo]:
    """The batch norms (``Kind.running_statistics``) that see one value per channel in each
    example: after a dense layer or ``flatten``, or on 1x1 maps. A batch of one example gives
    them one value per channel to normalise: it becomes 0, so their output is their shift
    alone and the input is lost (PyTorch refuses such a batch: "Expected more than 1 value per
    channel when training")."""
    return [info for info in layers if KINDS[info.kind].running_statistics
            and math.prod(info.input_shapes[0][1:]) == 1]


def spec_steps(spec: Spec, layers: list[LayerInfo]) -> int | None:
    """Steps the run of ``spec`` takes (:func:`cnnspec.ir.steps.run_steps`, an epoch's last
    batch of one image left out where :func:`one_example_norms` cannot take it); None where
    the data's number of images is known only once loaded."""
    return run_steps(spec.ir["training"], drop_lone=bool(one_example_norms(layers)))


# Where a batch norm would see more than one value per channel, for a hint.
NO_NORM_HERE = ("no batchnorm here (before `flatten`, on maps larger than 1x1, it sees a value "
                "per pixel)")


def one_value_batch_errors(spec: Spec, layers: list[LayerInfo], batch: int,
                           severity: str = "error", larger: str | None = None
                           ) -> list[SpecError]:
    """An error (or warning) at each batch norm that a batch of ``batch`` examples gives one
    value per channel (:func:`one_example_norms`), when ``batch`` is 1. ``larger``: a hint
    template for a larger batch, as the command that runs the batch takes it (by default the
    training batch, as the spec or the run gives it)."""
    if batch != 1:
        return []
    larger = larger or f"e.g. `{setting_text(spec, 'batch_size', 'batch', 32)}`"
    return [spec.error(
        f"a batch of 1 gives batchnorm '{info.name}' one value per channel (its input, "
        f"{shape_text(info.input_shapes[0])} per image, holds one per channel): it normalises "
        "each to 0, so its "
        "output is its shift alone and the input is lost", info.name, severity=severity,
        hint_template=f"a larger batch, {larger}, or {NO_NORM_HERE}")
        for info in one_example_norms(layers)]


def training_split_errors(spec: Spec, layers: list[LayerInfo], images: int | None = None,
                          fold: tuple[int, int] | None = None) -> list[SpecError]:
    """What train refuses of how it splits ``images`` training images (by default the data's,
    as it declares them): more folds than images (:func:`fold_count_errors`), else an epoch
    without a step (:func:`empty_epoch_errors`)."""
    return ((fold_count_errors(spec, fold[1], images) if fold and images is not None else [])
            or empty_epoch_errors(spec, layers, images, fold))


def fold_count_errors(spec: Spec, folds: int, images: int) -> list[SpecError]:
    """An error at the data setting where k-fold cross-validation's ``folds`` parts of
    ``images`` training images (:func:`cnnspec.ir.steps.fold_sizes`) would leave one empty:
    its fold would validate on nothing."""
    if folds <= images:
        return []
    return [spec.error(
        f"{folds:,} folds are more than the {counted(images, 'training image')} of "
        f"{data_text(spec.ir['training']['data'])}: each fold validates on one image at least",
        "training", "data", hint_template=f"use at most {{folds:{images}}}")]


def data_text(data: dict) -> str:
    """The data a spec trains on, as its messages name it: a data file by its path as the
    spec writes it, a built-in set by its name."""
    return data["path"] if data["name"] == "npz" else data["name"]


def empty_epoch_errors(spec: Spec, layers: list[LayerInfo], images: int | None = None,
                       fold: tuple[int, int] | None = None) -> list[SpecError]:
    """An error at the batch setting when an epoch has no step
    (:func:`cnnspec.ir.steps.epoch_steps`): the run would train nothing, yet report a loss.
    It happens where a batch norm sees one value per channel (:func:`one_example_norms`) and
    the run trains on one image: the epoch's one batch holds that image alone, which is left
    out. ``images``: of the data loaded (an npz file's training split, counted once read); by
    default the data the spec declares, when its number is known. ``fold`` ``(i, k)``: of
    k-fold cross-validation's fold ``i``, whose part of the images it validates on takes the
    place of ``val_split``'s."""
    training = spec.ir["training"]
    norms = one_example_norms(layers)
    if images is None:
        images = training_count(training["data"])
    # Only a last batch left out takes an epoch's steps below ceil(images / batch_size) >= 1.
    if not norms or images is None or epoch_steps(training, True, images, fold) != 0:
        return []
    held = validation_count(images, training["val_split"], fold)
    kept = f"{counted(images, 'training image')} of {data_text(training['data'])}"
    epoch, trainer = (("an epoch", "the run") if fold is None
                      else (f"an epoch of fold {fold[0] + 1} of {fold[1]}", "the fold"))
    return [spec.error(
        f"{epoch} has no step: {trainer} trains on "
        f"{counted(trained_count(images, training['val_split'], fold), 'image')} ({kept}"
        f"{_held_out(held, fold)}), and {norms[0].kind} '{norms[0].name}' cannot take a batch "
        f"of one image (one value per channel), so each epoch leaves it out and {trainer} "
        "would train nothing", "training", "batch_size",
        hint_template=f"{_fewer_held_out(spec, held, images, fold)}train on more images, or "
        f"{NO_NORM_HERE}")]


def _held_out(held: int, fold: tuple[int, int] | None) -> str:
    """What :func:`empty_epoch_errors` says of the ``held`` images a run validates on."""
    if not held:
        return ""
    return f" less the {held:,} " + ("val_split holds out" if fold is None
                                     else f"fold {fold[0] + 1} validates on")


def _fewer_held_out(spec: Spec, held: int, images: int, fold: tuple[int, int] | None) -> str:
    """How :func:`empty_epoch_errors` hints that a run hold fewer of its ``images`` out to
    validate: a val_split below the spec's, or more folds than ``fold``'s, up to one image
    each (where they are that many already, so it says); nothing where none are held."""
    if fold is None:
        written = setting_text(spec, "val_split", "val_split", spec.ir["training"]["val_split"])
        return f"hold fewer of them out to validate (below `{written}`), " if held else ""
    if fold[1] >= images:
        return f"every fold of {{folds:{fold[1]}}} validates on one image already: "
    return (f"more folds, each validating on fewer images ({{folds:{fold[1] + 1}}} rather "
            f"than {{folds:{fold[1]}}}), ")
