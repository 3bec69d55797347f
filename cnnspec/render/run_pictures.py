"""Pictures of a trained run: choosing what to draw from a run folder, then drawing it.

The command line stays thin: ``cnnspec filters`` and ``cnnspec features`` call
:func:`filters_picture` and :func:`features_picture` on a loaded run
(:func:`cnnspec.training.run.load_run`). Layer names that do not exist get a list of the conv
layers and a did-you-mean; a run without ``init.npz`` says what comparing needs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnspec.check.exact import exact
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.check.signal import Estimate
from cnnspec.data import load_dataset
from cnnspec.errors import (
    InputError,
    RunError,
    WordedError,
    WordedInputError,
    closest,
    counted,
    literal,
)
from cnnspec.held import held_text
from cnnspec.ir.training_catalogue import is_trained
from cnnspec.kinds import KINDS
from cnnspec.render.features import plot_features
from cnnspec.render.filters import plot_filters
from cnnspec.shapes import shape_text
from cnnspec.training import rundir
from cnnspec.training.files import read_npz
from cnnspec.training.state import checked_weights


def conv_layers(checked: CheckedSpec) -> list[LayerInfo]:
    """The conv layers of a spec, in order."""
    return [layer for layer in checked.layers if KINDS[layer.kind].family == "conv"]


def pick_conv_layer(checked: CheckedSpec, name: str | None = None,
                    pictures: str = "filters") -> LayerInfo:
    """The conv layer called ``name`` (the first conv layer when None); an InputError (a
    mistake in what was asked) listing the conv layers, with the closest name first, for
    anything else, and naming the ``pictures`` a model without conv layers cannot give."""
    convs = conv_layers(checked)
    if not convs:
        raise WordedInputError(
            literal(f"{checked.spec.name} has no conv layer, so it has no {pictures} to draw"),
            hint="filters and feature maps are pictures of conv layers; `{eval_command}` and "
                 "`{predict_command}` read any run")
    if name is None:
        return convs[0]
    by_name = {layer.name: layer for layer in convs}
    if name in by_name:
        return by_name[name]
    valid = ", ".join(by_name)
    close = closest(name, by_name)
    other = checked.by_name.get(name)
    if other is not None:
        message = f"layer {name} is a {other.kind} layer, not a conv layer"
    else:
        message = f"{checked.spec.name} has no layer called {name}"
    hint = (f"did you mean {close}? " if close else "") + f"conv layers: {valid}"
    raise InputError(message, hint=hint)


def initial_weights(run_path, key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``key`` (e.g. ``conv1.weight``) from the run's ``init.npz`` (the weights at step 0),
    of ``shape`` where given (the learned weight's): another is damage, which as filters
    would be no grid to draw."""
    path = Path(run_path) / rundir.INIT
    if not path.is_file():
        raise WordedError(literal(f"{run_path} has no {rundir.INIT}, so there are no initial "
                                  "weights to compare with"),
                          hint="drop {compare_init}, or train the spec again")
    saved = read_npz(path, what="initial weights")
    if key not in saved:
        raise RunError(f"{path} holds no {key}", hint="the run's files may be damaged; train again")
    weight = checked_weights({key: saved[key]}, path, what="initial weights")[key]
    if shape is not None and weight.shape != tuple(shape):
        raise RunError(f"initial weights {path}: {key} has shape {weight.shape}, the spec "
                       f"needs {tuple(shape)}", hint="the run's files may be damaged; train again")
    return weight


def as_filters(info: LayerInfo, weight: np.ndarray) -> np.ndarray:
    """A conv layer's weight as filters (F, C/G, kh, kw). A transposed convolution's weight is
    (C, F/G, kh, kw) (PyTorch's layout); regrouped, filter ``f`` holds the kernels output
    channel ``f`` receives from each input channel of its group (what each pixel of that
    channel scatters)."""
    if not KINDS[info.kind].transposed:
        return weight
    groups = info.ir["groups"]
    c, per_group, kh, kw = weight.shape
    return (weight.reshape(groups, c // groups, per_group, kh, kw).transpose(0, 2, 1, 3, 4)
            .reshape(groups * per_group, c // groups, kh, kw))


def _kernel_shape(info: LayerInfo) -> tuple[int, ...]:
    """(C/G, kh, kw): the kernels of one filter of :func:`as_filters`."""
    return as_filters(info, np.empty(info.weight_shape, np.float32)).shape[1:]


def frozen_default_note(checked: CheckedSpec) -> str | None:
    """What is said where the first conv layer, the one drawn by default, is frozen (a Sobel
    or X kernel): its kernels are as they started, and the first conv layer whose kernels
    learn is named, or that none does (trainable kernels that start at 0 and never change,
    as ``check`` works them out, learn nothing either); None where the first one trains, or
    every conv layer is frozen."""
    convs = conv_layers(checked)
    if not convs or is_trained(convs[0].ir) or not any(is_trained(c.ir) for c in convs):
        return None
    said = (f"the first conv layer, '{convs[0].name}', does not learn: its kernels are drawn "
            "as they started")
    learning = next(iter(_learning_convs(checked, convs)), None)
    if learning is None:
        return said + "; no conv layer of this network learns (`check` says why)"
    return said + f"; {{layer:{learning.name}}} draws the first one that learns"


def _learning_convs(checked: CheckedSpec, convs: list[LayerInfo]) -> list[LayerInfo]:
    """The conv layers of ``convs`` whose kernels may change in training: trained, and not
    zeros that no gradient moves (:mod:`cnnspec.check.exact`, as ``check`` works it out)."""
    facts = exact(checked.spec, Estimate.of(checked.spec, checked.layers))
    return [info for info in convs
            if is_trained(info.ir) and "weight" in facts.learning_parts(info)]


def pick_conv_layers(checked: CheckedSpec, names: str | list[str] | None) -> list[LayerInfo]:
    """The conv layers named (a list, or one string with commas: ``xk,learned``), default the
    first conv layer. Several layers are drawn as one grid, so their kernels must be of one
    size (kh x kw); how many input channels each reads matters only when they are drawn side
    by side (:func:`grid_weights`)."""
    if isinstance(names, str):
        written = names
        names = [name.strip() for name in names.split(",") if name.strip()]
        if not names:  # --layer '' drew the first conv layer, as if no --layer were given
            raise WordedInputError("{layer} " + literal(f"{written!r} names no layer"),
                                   hint="name a conv layer, or several separated by commas "
                                        "({layer:conv1,conv2}); drop {layer} for the first one")
    twice = next((name for name in names or () if names.count(name) > 1), None)
    if twice is not None:  # each would be drawn once more, as another layer's kernels
        raise WordedInputError("{layer} " + literal(f"names {twice!r} twice"),
                               hint="name each layer once")
    layers = [pick_conv_layer(checked, name) for name in (names or [None])]
    if len({_kernel_shape(layer)[1:] for layer in layers}) > 1:
        # What was asked cannot be drawn, whatever the run holds: a usage mistake (exit 2),
        # as a --layer naming no conv layer is.
        _refuse_one_grid(layers, "their kernels (kh x kw) differ", lambda s: s[1:],
                         "name layers whose kernels have one size")
    return layers


def _refuse_one_grid(layers: list[LayerInfo], why: str, shown, other: str) -> None:
    """Refuse to draw ``layers`` in one grid for ``why``, listing each one's kernel shape
    (``shown`` of its (C/G, kh, kw)); the hint offers a picture each, or ``other``."""
    listing = ", ".join(f"{layer.name} {shape_text(shown(_kernel_shape(layer)))}"
                        for layer in layers)
    raise WordedInputError("{layer}: " + literal(f"cannot draw these layers in one grid: "
                                                 f"{why}: {listing}"),
                           hint="draw each layer in its own picture ("
                                + ", ".join(f"{{layer:{literal(layer.name)}}}"
                                            for layer in layers)
                                + f"), or {other}")


def grid_weights(layers: list[LayerInfo], filters: list[np.ndarray], channels: str
                 ) -> np.ndarray:
    """The ``filters`` (F, C/G, kh, kw) of each of ``layers`` as one array to draw: as they
    are where every layer reads as many input channels; averaged over them (float64, as
    :func:`~cnnspec.render.filters.filter_image` averages) where the counts differ and
    ``channels`` is "average", which draws each filter as that mean anyway. Side by side,
    kernels of other counts would be tiles of other widths: refused."""
    if len({f.shape[1] for f in filters}) == 1:
        return np.concatenate(filters)
    if channels != "average":
        _refuse_one_grid(layers, "side by side, their kernels (in x kh x kw) differ",
                         lambda s: s, "{channels:average}")
    return np.concatenate([f.mean(axis=1, keepdims=True, dtype=np.float64) for f in filters])


def _layer_title(layer: LayerInfo) -> str:
    held = held_text(layer.params, layer.trainable_params)
    text = layer.name + (f" ({held})" if held else "")
    if layer.weight_init is not None:
        text += f", init {layer.weight_init.name}"
    return text


def filters_picture(run, out_png, layer: str | list[str] | None = None,
                    compare_init: bool = False, channels: str | None = None) -> Path:
    """Draw the kernels of conv ``layer`` (default the first; several as a list or with commas)
    of a loaded ``run``; with ``compare_init`` the kernels from ``init.npz`` go beside them.
    ``channels`` None picks "average", except for 1x1 kernels (see :func:`default_channels`)."""
    layers = pick_conv_layers(run.spec, layer)
    params = run.model.params()
    keys = [f"{info.name}.weight" for info in layers]
    learned = [as_filters(info, params[key]) for info, key in zip(layers, keys)]
    # the layers share one kernel size: the one of most input channels decides for all
    channels = channels or default_channels(max(learned, key=lambda f: f.shape[1]))
    weights = grid_weights(layers, learned, channels)
    initial = (grid_weights(layers, [as_filters(info, initial_weights(run.path, key,
                                                                      params[key].shape))
                                     for info, key in zip(layers, keys)], channels)
               if compare_init else None)
    counts = sorted({f.shape[1] for f in learned})
    labels = None
    if len(layers) > 1:
        labels = [info.name if info.ir["filters"] == 1 else f"{info.name} {o + 1}"
                  for info in layers for o in range(info.ir["filters"])]
    frozen = [not is_trained(info.ir) for info in layers for _ in range(info.ir["filters"])]
    title = (f"{run.spec.spec.name}: " + "; ".join(_layer_title(info) for info in layers)
             + f"; {weights_title(run)}")
    return plot_filters(weights, out_png, initial=initial, title=title, channels=channels,
                        labels=labels, frozen=frozen,
                        averaged_from=counts if len(counts) > 1 else None)


def weights_title(run) -> str:
    """Which of the run's weights a picture shows (``weights: best epoch 7 of 20 by
    val_loss``): a title naming the spec's init alone reads as the initial weights, and a run
    keeps two sets, its best epoch's and its last."""
    return f"weights: {run.weights_text()}"


def default_channels(weights: np.ndarray) -> str:
    """How to show the input channels of ``weights`` (C_out, C_in, kh, kw) by default.

    A 1x1 kernel is one weight per input channel: their mean is a single pixel, and as each
    tile is scaled to its own maximum it would only show its sign. Side by side, the tile
    shows how the filter mixes the channels, which is all a 1x1 conv does."""
    one_by_one = weights.shape[2:] == (1, 1) and weights.shape[1] > 1
    return "side" if one_by_one else "average"


def feature_maps(run, image: np.ndarray) -> dict[str, np.ndarray]:
    """The feature map (C, H, W) of every conv layer for one raw ``image`` (C, H, W) in [0,
    1], preprocessed as in training, by the row label to draw it under: where the conv's one
    reader is an activation (``conv 8 3x3 relu``), its output, labelled ``conv1 + relu``:
    what the layer passes on, as Keras shows a Conv2D's output with its activation and Caffe
    a conv's blob after its in-place ReLU; otherwise the conv's own output."""
    x = run.prepare(image[None]) if run.preprocessor is not None else image[None]
    model = run.model
    model.eval()
    model.record = True
    try:
        # Damaged weights can overflow: features_picture says so rather than NumPy's warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            model.forward(x)
        activations = model.activations
    finally:
        model.record = False
    maps = {}
    for layer in conv_layers(run.spec):
        shown = _activation_after(run.spec, layer)
        label = layer.name if shown is None else f"{layer.name} + {shown.kind}"
        name = layer.name if shown is None else shown.name
        if name in activations:
            maps[label] = np.asarray(activations[name][0])
    return maps


def _activation_after(checked: CheckedSpec, layer: LayerInfo) -> LayerInfo | None:
    """The activation that is the one reader of ``layer``'s output, or None."""
    readers = [other for other in checked.layers if layer.name in other.inputs]
    if len(readers) == 1 and KINDS[readers[0].kind].is_activation:
        return readers[0]
    return None


def test_split_image(run, index: int) -> tuple[np.ndarray, str]:
    """Image ``index`` of the run's test split (C, H, W) and a caption naming its label."""
    data = load_dataset(run.training["data"], run.training["seed"], run.summary.get("data_dir"),
                        run.input_dtype)
    count = len(data.x_test)
    if not 0 <= index < count:
        raise InputError(f"--index {index} is out of range: the test set has "
                         f"{counted(count, 'image')}",
                       hint=f"use an index from 0 to {count - 1}")
    label = int(data.y_test[index])
    name = data.classes[label] if label < len(data.classes) else str(label)
    return (np.asarray(data.x_test[index], dtype=np.float64),
            f"test image {index}, true class {name}")


def features_picture(run, image: np.ndarray, out_png, caption: str | None = None) -> Path:
    """Draw one raw ``image`` (C, H, W) and the feature map of every conv layer of ``run``."""
    pick_conv_layer(run.spec, pictures="feature maps")  # without conv layers, nothing to show
    expected = tuple(run.spec.input_shape)
    if tuple(image.shape) != expected:
        raise RunError(f"the image has shape {image.shape}, but the model takes {expected}",
                       hint="give an image of the model's input size")
    maps = feature_maps(run, image)
    what = caption or "the image"
    # Maps that overflowed would draw as grey or one-colour tiles that pass for a picture.
    overflowed = next((name for name, x in maps.items() if not np.isfinite(x).all()), None)
    if overflowed is not None:
        raise run.unusable_scores(what, values=f"feature maps in {overflowed}")
    title = run.spec.spec.name + (f": {caption}" if caption else "")
    title += f"; {prediction_text(run, image, what)}; {weights_title(run)}"
    return plot_features(image, maps, out_png, title=title)


def prediction_text(run, image: np.ndarray, what: str) -> str:
    """``predicted x (98%)`` for one raw image (C, H, W) (called ``what`` in an error), as
    ``cnnspec predict`` computes it."""
    probs = run.predict(image[None])[0]
    if not np.isfinite(probs).all():
        raise run.unusable_scores(what)
    best = int(np.argmax(probs))
    return f"predicted {run.classes[best]} ({probs[best]:.0%})"
