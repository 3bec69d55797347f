"""Keras' own vocabulary shared by the model importer and a compiled model's settings, and
``compile_config`` (what Keras 3 writes for a compiled model) read into the train block."""
from __future__ import annotations

import json
import math
import struct

from cnnspec.errors import SpecError, folded, hinted, shortened
from cnnspec.importers.spec_writer import Setting
from cnnspec.ir.limits import FLOAT32_MAX
from cnnspec.ir.training_catalogue import KEYS, Arg
from cnnspec.ir.training_catalogue import OPTIMIZERS as OUR_OPTIMIZERS
from cnnspec.kinds.text import exact_number_text


def keras_name(obj) -> tuple[str, dict]:
    """The class name of a serialised Keras object (an initializer, an optimizer), lower
    case without underscores (``HeNormal`` and ``he_normal`` are ``henormal``), and its
    config."""
    if isinstance(obj, str):
        return folded(obj), {}
    if isinstance(obj, dict) and isinstance(obj.get("class_name"), str):
        config = obj.get("config") or {}
        return folded(obj["class_name"]), config if isinstance(config, dict) else {}
    return "", {}


def json_quoted(value) -> str:
    """A value of the model's JSON as a message or note quotes it: whole, or cut with its
    length said (:func:`cnnspec.errors.shortened`), never in the middle of a number without
    a word."""
    return shortened(json.dumps(value))


# Keras optimizers (class names) -> cnnspec's: (name, {cnnspec argument: Keras config key}).
# These tables are what compile_settings reads and what docs/importing.md's table of compile
# settings is generated from (cnnspec/importers/keras_docs.py).
OPTIMIZERS = {"SGD": ("sgd", {"momentum": "momentum", "nesterov": "nesterov"}),
              "Adam": ("adam", {"beta1": "beta_1", "beta2": "beta_2", "eps": "epsilon",
                                "amsgrad": "amsgrad"}),
              "AdamW": ("adamw", {"beta1": "beta_1", "beta2": "beta_2", "eps": "epsilon",
                                  "amsgrad": "amsgrad"}),
              "RMSprop": ("rmsprop", {"alpha": "rho", "eps": "epsilon", "momentum": "momentum",
                                      "centered": "centered"}),
              "Adagrad": ("adagrad", {"initial_accumulator_value":
                                      "initial_accumulator_value", "eps": "epsilon"})}
_OPTIMIZERS = {folded(name): name for name in OPTIMIZERS}
# Where a compiled model's optimizer keeps its arguments, as a JSON path.
OPTIMIZER_PATH = "$.compile_config.optimizer.config"
# An optimizer's config keys that are train settings here, by the setting; weight_decay is
# Keras' decoupled one, read for the optimizer that decouples it here too.
OPTIMIZER_SETTINGS = {"learning_rate": "lr", "global_clipnorm": "clip_norm",
                      "clipvalue": "clip_value", "weight_decay": "weight_decay"}
DECOUPLED = tuple(name for name, entry in OUR_OPTIMIZERS.items() if entry.rule.decoupled_decay)
LOSSES = {"categorical_crossentropy": "cross_entropy",
          "sparse_categorical_crossentropy": "cross_entropy",
          "mean_squared_error": "mse", "mse": "mse"}
# Optimizer config keys that do not change the update at these values (None: any value).
OPTIMIZER_NEUTRAL = {"name": None, "clipnorm": (None,), "use_ema": (False,),
                     "ema_momentum": None, "ema_overwrite_frequency": None,
                     "loss_scale_factor": (None,), "gradient_accumulation_steps": (None,),
                     "is_legacy_optimizer": None, "jit_compile": None, "decay": (0, 0.0)}
LOSS_CLASSES = {"categoricalcrossentropy": "categorical_crossentropy",
                "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
                "meansquarederror": "mean_squared_error"}


# A loss object's config keys that do not change the loss at these values (None: any value).
# Of the others, label_smoothing is a train setting of the same meaning (the target
# (1 - e) * onehot + e / classes in both), and from_logits is held against the model's output.
LOSS_NEUTRAL = {"name": None, "reduction": ("sum_over_batch_size", "auto"), "axis": (-1,),
                "ignore_class": (None,), "dtype": None, "from_logits": None}
LOSS_SETTINGS = {"label_smoothing": "label_smoothing"}


def compile_settings(doc: dict, ends_in_softmax: bool,
                     path: str | None = None) -> tuple[list[Setting], list[str]]:
    """The train block's optimizer, lr, weight decay, clipping and loss from the
    ``compile_config`` Keras 3 writes for a compiled model; notes on what does not carry
    over. ``ends_in_softmax``: whether the model's output is a softmax, which a
    cross-entropy's ``from_logits`` is compared with; ``path``: the model's file, which
    names a value out of range."""
    config = doc.get("compile_config")
    if not isinstance(config, dict):
        return [], []
    settings, notes = _optimizer_settings(config.get("optimizer"), path)
    loss = config.get("loss")
    name, values = (loss, {}) if isinstance(loss, str) else (None, {})
    if isinstance(loss, dict):  # {"class_name": "CategoricalCrossentropy", ...}
        folded_name, values = keras_name(loss)
        name = LOSS_CLASSES.get(folded_name)
    if name in LOSSES:
        settings.append(Setting("loss", LOSSES[name], f"Keras' {name}"))
        settings += _loss_settings(values, notes)
        if LOSSES[name] == "cross_entropy":
            notes += _logits_notes(values.get("from_logits") is True, ends_in_softmax)
    elif loss is not None:
        notes.append(f"the loss {json_quoted(loss)} is not read")
    return settings, notes


def _loss_settings(values: dict, notes: list[str]) -> list[Setting]:
    """The train settings of a loss object's config (label_smoothing), each above 0; its
    keys that change the loss and are not read are added to ``notes``."""
    settings = []
    for key, value in values.items():
        if key in LOSS_SETTINGS and isinstance(value, (int, float)) and \
                not isinstance(value, bool) and math.isfinite(value):
            if value:
                settings.append(Setting(LOSS_SETTINGS[key], _text(value)))
        elif key in LOSS_NEUTRAL and (LOSS_NEUTRAL[key] is None or value in LOSS_NEUTRAL[key]):
            continue
        else:
            notes.append(f"the loss's {key}={json_quoted(value)} is not read")
    return settings


def _logits_notes(from_logits: bool, ends_in_softmax: bool) -> list[str]:
    """What Keras' cross-entropy made of the output where ``from_logits`` does not fit it:
    cnnspec's cross_entropy applies the softmax itself, once, on a softmax output's scores."""
    if from_logits and ends_in_softmax:
        return [("Keras' loss takes the output as scores (from_logits=True), but the model "
                 "ends in softmax: Keras applied the softmax twice, cross_entropy here applies "
                 "it once")]
    if not from_logits and not ends_in_softmax:
        return [("Keras' loss takes the output as probabilities (from_logits=False), but the "
                 "model does not end in softmax: cross_entropy here applies the softmax to "
                 "it, as from_logits=True does")]
    return []


def _optimizer_settings(optimizer, path: str | None) -> tuple[list[Setting], list[str]]:
    name, values = keras_name(optimizer)
    if name not in _OPTIMIZERS:
        return [], [] if optimizer is None else [
            f"the optimizer {json_quoted(optimizer)} is not read"]
    chosen, args = OPTIMIZERS[_OPTIMIZERS[name]]
    written, notes = [], []
    declared = {arg.name: arg for arg in KEYS["optimizer"].catalogue[chosen].args}
    for ours, theirs in args.items():
        value = values.get(theirs)
        if isinstance(value, (bool, int, float)) and math.isfinite(value):
            _refuse_out_of_range(declared[ours], value, theirs, path)
            written.append(f"{ours}={_text(value)}")
        elif value is not None:
            notes.append(f"the optimizer's {theirs} {json_quoted(value)} is not read")
    settings = [Setting("optimizer", f"{chosen}({', '.join(written)})",
                        "Keras' "
                        f"{optimizer['class_name'] if isinstance(optimizer, dict) else name}")]
    read = OPTIMIZER_SETTINGS
    for key, setting in read.items():
        value = values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value and \
                math.isfinite(value):
            if key == "weight_decay" and chosen not in DECOUPLED:
                notes.append(f"the optimizer's weight_decay {value} (decoupled in Keras) is "
                             "not read")
            else:
                _refuse_out_of_range(KEYS[setting].arg, value, key, path)
                settings.append(Setting(setting, _text(value)))
        elif value not in (None, 0, 0.0):
            notes.append(f"the optimizer's {key} {json_quoted(value)} is not read")
    for key, value in values.items():
        allowed = OPTIMIZER_NEUTRAL.get(key, ())
        if key not in (*args.values(), *read) and allowed is not None and value not in allowed:
            notes.append(f"the optimizer's {key}={json_quoted(value)} is not read")
    return settings, notes


def _refuse_out_of_range(arg: Arg, value, key: str, path: str | None) -> None:
    """Refuse ``value`` of the optimizer's config ``key`` where the train block's ``arg``
    refuses it (a nesterov of -1, a negative learning rate), at that key: it was refused at
    the imported spec's line, which the user never wrote."""
    problem = arg.problem(value)
    if problem:
        raise SpecError(f"the optimizer's {key} {problem}", json_path=f"{OPTIMIZER_PATH}.{key}",
                        file=path, **hinted(arg.advice(value)))


def _text(value) -> str:
    return exact_number_text(float32_shortest(value) if isinstance(value, float) else value)


def float32_shortest(value: float) -> float:
    """The shortest decimal with the same float32 value: Keras keeps its hyperparameters as
    float32, so JSON holds 0.0010000000474974513 for the 0.001 the user wrote."""
    if not math.isfinite(value) or abs(value) > FLOAT32_MAX:  # no float32 holds it
        return value
    target = struct.pack("<f", value)
    for digits in range(1, 18):
        shorter = float(f"{value:.{digits}g}")
        if struct.pack("<f", shorter) == target:
            return shorter
    return value
