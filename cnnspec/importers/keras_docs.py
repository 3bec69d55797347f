"""The Keras tables of docs/importing.md, generated from the tables the importer reads: layer
classes (KERAS_CLASSES in :mod:`cnnspec.lang.foreign`, which the language's hints read too,
with the notes below on what the importer reads of each), initializers
(:data:`cnnspec.importers.keras.INITIALIZERS` and its neighbours, and
:data:`cnnspec.init.keras.CLASSES`) and compile settings
(:mod:`cnnspec.importers.keras_compile`). ``python tools/generate.py`` writes each between
its marker lines; a test fails when the page is stale.
"""
from __future__ import annotations

from cnnspec.errors import float_text, listed
from cnnspec.importers import keras, keras_compile
from cnnspec.init.keras import written
from cnnspec.kinds import KINDS
from cnnspec.kinds.docs import markers
from cnnspec.lang.foreign import KERAS_CLASSES
from cnnspec.markdown import cell, row

CLASS_MARKERS = markers("Keras layer classes",
                         "cnnspec/lang/foreign.py and cnnspec/importers/keras_docs.py")
INIT_MARKERS = markers("Keras initializers",
                        "cnnspec/importers/keras.py and cnnspec/init/keras.py")
COMPILE_MARKERS = markers("Keras compile settings", "cnnspec/importers/keras_compile.py")

# What the importer reads of the classes of each kind (cnnspec/importers/keras.py's readers),
# and what it refuses; None is Activation's, whose argument names the kind.
NOTES = {
    "conv": "`filters`, `kernel_size`, `strides`, `padding` (`valid`, `same`: TensorFlow's "
            "rule, as cnnspec's), `dilation_rate`, `groups`, `use_bias`, `activation` "
            "(written on the line: `conv 32 3x3 relu`)",
    "conv_transpose": "`filters`, `kernel_size`, `strides`, `padding` (`same`: the output "
                      "`stride` times the input, as cnnspec's; `valid`: a kernel smaller than "
                      "the stride gets the `output_pad` that makes Keras' size), "
                      "`dilation_rate`, `use_bias`, `activation`; `output_padding` is refused",
    "dense": "on a flat input only (Keras' Dense on an image acts per pixel)",
    "maxpool": "`pool_size`, `strides` (default: the pool size), `padding`",
    "avgpool": "`padding same` averages the pixels inside only: `count_include_pad false`",
    "global_avgpool": "`keepdims: true` is refused",
    "global_maxpool": "`keepdims: true` is refused",
    "dropout": "`rate`",
    "dropout2d": "`rate`",
    "batchnorm": "over the channels; `epsilon`; `momentum` = 1 − Keras' momentum; `center` "
                 "and `scale` both false: `frozen` (its scale 1 and shift 0 are then frozen "
                 "parameters, 2 a channel, where Keras' layer has none). Keras' "
                 "`count_params()` counts the moving mean and variance too, cnnspec keeps them "
                 "as statistics: its total is Keras' count less them",
    "relu": "`relu6` with `max_value` 6, `leaky_relu` with a `negative_slope`",
    "leaky_relu": f"Keras' default slope {float_text(keras.KERAS_LEAKY_SLOPE)}",
    "add": "its inputs summed element by element (Add takes no axis)",
    "concat": "along the channels (`axis: -1`)",
    "upsample": "`size`, `interpolation`: "
                + ", ".join(f"`{mode}`" for mode in keras.UPSAMPLING_MODES)
                + " (Keras' bilinear takes pixel centres as PyTorch's `align_corners=False`)",
}


def class_table() -> str:
    """| Keras class | cnnspec | notes |, one row per kind, naming every class of it."""
    rows = ["| Keras class | cnnspec | notes |", "|---|---|---|", row("`InputLayer`",
                                                                   "`input CxHxW`", "")]
    by_kind: dict[str | None, list[str]] = {}
    for cls, kind in KERAS_CLASSES.items():
        by_kind.setdefault(kind, []).append(f"`{cls}`")
    for kind, classes in by_kind.items():
        if kind is None:
            rows.append(row(", ".join(classes) + ", `activation=`", "the activation",
                             _activations()))
        else:
            written_kind = f"`{kind}(a, b)`" if KINDS[kind].merge else f"`{kind}`"
            rows.append(row(", ".join(classes), written_kind, NOTES.get(kind, "")))
    rows.append(row(f"`{keras.DEPTHWISE}`", "`conv C·M KxK groups C`", "C the input's "
                    "channels (from the layer's `build_config`, which Keras 3 writes; "
                    "else, as Keras 2 writes none, from the shape cnnspec infers for the "
                    "layer before it), M the "
                    "`depth_multiplier`; Keras takes the fans of its (kh, kw, C, M) kernel as "
                    "kh·kw·C and kh·kw·M, cnnspec those of a (C·M, 1, kh, kw) weight, kh·kw "
                    "and kh·kw·C·M, so a variance scaling's `scale` is written rescaled to "
                    "draw Keras' variance (by 1/C for fan_in, C for fan_out, (1 + C·M) / "
                    "(C + M) for fan_avg: glorot with M = 1 is unchanged)"))
    rows.append(row(f"`{keras.SEPARABLE}`", "`conv C·M KxK groups C nobias`, then `conv F 1x1`",
                    f"its depthwise kernel as `{keras.DEPTHWISE}`'s, on a line named "
                    "`<name>_depthwise`; the 1x1 conv has the layer's name, bias and "
                    "activation, and its fans are Keras' (C·M in, F out)"))
    rows.append(row(f"`{keras.SEQUENTIAL}` (a block in the model)", "its layers, in its place",
                    "each named `<block>_<layer>`; the block's InputLayer (Keras adds one as it "
                    "builds the block) is the tensor it is called on, its output its last "
                    "layer's. A functional model nested in another is refused"))
    rows.append(row(f"`{keras.ZERO_PADDING}`", "the `pad` of the layer that reads it",
                    "its zeros added to the padding of a " + listed(
                        (f"`{kind}`" for kind in keras.PADDED_KINDS), "or") + " that pads valid "
                    "(as Keras' applications do); a max pool only after a layer whose values "
                    "are never below 0 (a relu), since it never takes its own padding"))
    rows.append(row(f"`{keras.RESCALING}`", "train `preprocess none`", "a scaling of the "
                    "model's 8-bit pixels into [0, 1] without an offset (`Rescaling(1/255)`, "
                    "its scale within "
                    f"{keras.PIXEL_SCALE_TOLERANCE:.0%} of 1/255): cnnspec loads the "
                    "pixels in [0, 1] and `none` keeps them so; another Rescaling is refused: "
                    + keras.RESCALING_HINT))
    rows.append(row(f"`{keras.NORMALIZATION}`", "train `preprocess standardize`", "one "
                    "adapted to the channels of the model's input (axis -1, or `null`, one "
                    "mean and variance over every value, on a one-channel input; no fixed "
                    "`mean` or `variance`): standardize fits each channel's mean and std on the "
                    "training split as `adapt()` does on its data; another is refused"))
    rows.append(row("`RandomFlip`", "train `augment flip`", "`mode: \"horizontal\"` "
                    "(each image mirrored with probability 0.5, as `flip`'s p), at the model's "
                    "input; another mode is refused"))
    rows.append(row("`RandomRotation`", "train `augment rotate(degrees=360 f)`", "`factor` "
                    "f or (-f, f) turns (a fraction of 2π), f in (0, 0.5], `fill_mode: "
                    "\"constant\"` with `fill_value` 0 on the images as loaded (not after a "
                    "`Normalization`), `interpolation: \"bilinear\"`, at the model's input; "
                    "another range, fill or interpolation is refused at its key"))
    rows.append(row(", ".join(f"`{cls}`" for cls in keras.AUGMENTATIONS), "error",
                    "no transform of the train block draws as they do: "
                    + keras.AUGMENTATION_HINT + "; the hint names the nearest transform "
                    "(`shift`) and how it differs"))
    rows.append(row(", ".join(f"`{cls}`" for cls in keras.SIZINGS), "left out, or error",
                    "left out where `height` x `width` is their input's size (they change "
                    "nothing), said in the header; else refused: cnnspec's network takes the "
                    "images as the data gives them"))
    rows.append(row("anything else", "error", "the error lists the classes cnnspec imports"))
    return "\n".join(rows)


def _activations() -> str:
    """Keras' activation names and the kind each is, with the fields it sets."""
    named = []
    for name, (kind, fields) in keras.ACTIVATIONS.items():
        set_ = ", ".join(f"{field} {float_text(value)}" for field, value in fields.items())
        named.append(f"`{name}`" + (f" -> `{kind}`" if kind != name else "")
                     + (f" ({set_})" if set_ else ""))
    return "`linear` (none), " + ", ".join(named)


def initializer_table() -> str:
    """| Keras initializer | cnnspec | notes |, one row per initializer the importer reads."""
    rows = ["| Keras initializer | cnnspec | notes |", "|---|---|---|"]
    rows += [row(f"`{cls}`", f"`{init}`", "") for cls, init in
             keras.CONSTANT_INITIALIZERS.items()]
    named = ", ".join(f"`{name}` for {float_text(value)}"
                      for value, name in keras.NAMED_VALUES.items())
    rows.append(row(f"`{keras.CONSTANT}` (`value`)", "`constant(value)`", named))
    for cls, (init, args) in keras.PLAIN_INITIALIZERS.items():
        keys = ", ".join(f"`{key}` {float_text(default)}" for key, default in args.values())
        rows.append(row(f"`{cls}` ({keys})", f"`{init}({', '.join(args)})`", ""))
    distributions = ", ".join(f"`{theirs}` -> `{ours}`"
                              for theirs, ours in keras.DISTRIBUTIONS.items())
    axes = " and ".join(f"`{key}`" for key in keras.FAN_AXES)
    rows.append(row(f"`{keras.VARIANCE_SCALING}` (`scale`, `mode`, `distribution`)",
                     "`variance_scaling(scale, mode, distribution)`",
                     f"{distributions}; {axes} (fans from other axes than a kernel's shape "
                     "gives, in any variance scaling) are refused"))
    rows += [row(f"`{cls}`", f"`{cell(written(cls))}`", "") for cls in keras.CLASSES]
    for cls, (init, gains) in keras.KERNEL_INITIALIZERS.items():
        taken = "any gain" if gains is None else \
            "gain " + ", ".join(float_text(gain) for gain in gains)
        rows.append(row(f"`{cls}` (`gain`)", f"`{init}`", f"a kernel only; {taken}"))
    return "\n".join(rows)


# Why an optimizer's setting needs a word (OPTIMIZER_SETTINGS).
SETTING_NOTES = {
    "learning_rate": "a number (a schedule object is named in the header); Keras keeps it as "
                     "float32: 0.0010000000474974513 is read as 0.001",
    "weight_decay": "Keras decouples it: read for "
                    + ", ".join(f"`{name}`" for name in keras_compile.DECOUPLED)
                    + ", which decouples it too; another optimizer's is named in the header",
}


def compile_table() -> str:
    """| Keras | train key | notes |, one row per optimizer, setting and loss the importer
    reads."""
    rows = ["| Keras | train key | notes |", "|---|---|---|"]
    for cls, (name, args) in keras_compile.OPTIMIZERS.items():
        keys = ", ".join(f"`{key}`" for key in args.values())
        rows.append(row(f"`{cls}` ({keys})", f"`optimizer {name}({', '.join(args)})`", ""))
    rows += [row(f"`{key}`", f"`{setting}`", SETTING_NOTES.get(key, ""))
             for key, setting in keras_compile.OPTIMIZER_SETTINGS.items()]
    rows += [row(f"loss `{loss}`", f"`loss {ours}`", "")
             for loss, ours in keras_compile.LOSSES.items()]
    rows += [row(f"the loss's `{key}`", f"`{setting}`", "the same target: (1 − e)·onehot + "
                 "e / classes") for key, setting in keras_compile.LOSS_SETTINGS.items()]
    rows.append(row("the loss's `from_logits`", "", "cross_entropy takes scores and applies "
                    "the softmax itself (on a softmax output, to the scores before it); where "
                    "`from_logits` does not fit the output (true after a softmax, false "
                    "without one) Keras trained on other values: the header says so"))
    return "\n".join(rows)
