"""The ``train { ... }`` block -> the IR's ``training`` object (docs/ir.md, "Training").

Each key has one reader; unknown keys are errors with a suggestion, never ignored. The result
always holds every key, defaults filled in, so the trainer reads the IR only.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

from cnnspec.errors import Span, SpecError
from cnnspec.lang import values as read
from cnnspec.lang.ast import Call, Setting, Value, Word, describe
from cnnspec.lang.calls import REQUIRED, Param, bind
from cnnspec.lang.suggest import did_you_mean

# As cnnspec.data.SHAPE_CLASSES (not imported: the language does not load NumPy).
SHAPE_CLASSES = ["x", "plus", "o", "square", "hbar", "vbar", "diag", "antidiag", "triangle",
                 "diamond"]

DATASETS: dict[str, list[Param]] = {
    "digits": [],
    "mnist": [],
    "fashion-mnist": [],
    "shapes": [
        Param("size", 16, lambda v, what: read.positive_int(v, what)),
        Param("classes", list(SHAPE_CLASSES),
              lambda v, what: read.word_list(v, "shape classes", SHAPE_CLASSES, "shape class")),
        Param("count", 4000, read.positive_int),
        Param("noise", 0.1, read.nonnegative_number),
    ],
    "npz": [Param("path", REQUIRED, read.string)],
}
# Names that cannot be written as a bare word.
DATASET_ALIASES = {"fashion_mnist": "fashion-mnist"}

OPTIMIZERS: dict[str, list[Param]] = {
    "sgd": [Param("momentum", 0.9, lambda v, w: read.in_range(v, w, 0, 1)),
            Param("nesterov", False, read.boolean)],
    "adam": [Param("beta1", 0.9, lambda v, w: read.in_range(v, w, 0, 1)),
             Param("beta2", 0.999, lambda v, w: read.in_range(v, w, 0, 1)),
             Param("eps", 1e-8, read.positive_number)],
}

SCHEDULES: dict[str, list[Param]] = {
    "constant": [],
    "step": [Param("step_size", 10, read.positive_int),
             Param("gamma", 0.1, read.positive_number)],
    "cosine": [Param("min_lr", 0.0, read.nonnegative_number)],
}

DEFAULTS = {
    "data": {"name": "digits"},
    "preprocess": "standardize",
    "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": False},
    "lr": 0.01,
    "schedule": {"name": "constant"},
    "weight_decay": 0.0,
    "batch_size": 64,
    "epochs": 10,
    "val_split": 0.1,
    "seed": 0,
    "loss": "cross_entropy",
}


def _named(catalogue: dict[str, list[Param]], what: str,
           aliases: dict[str, str] | None = None) -> Callable[[Value, str], dict]:
    """A reader for `name` or `name(args)` among ``catalogue``."""

    def reader(value: Value, _what: str) -> dict:
        if not isinstance(value, (Word, Call)):
            raise SpecError(f"{what} must be a name such as {next(iter(catalogue))}, "
                            f"not {describe(value)}", span=value.span)
        name = (aliases or {}).get(value.name, value.name)
        if name not in catalogue:
            span = value.name_span if isinstance(value, Call) else value.span
            raise SpecError(f"unknown {what} '{value.name}'", span=span,
                            hint=did_you_mean(value.name, list(catalogue) + list(aliases or {}),
                                              what + "s"))
        return {"name": name, **bind(value, catalogue[name], f"{what} {value.name}")}

    return reader


# IR key -> reader. Written keys are these, plus the aliases below.
READERS: dict[str, Callable[[Value, str], object]] = {
    "data": _named(DATASETS, "dataset", DATASET_ALIASES),
    "preprocess": lambda v, w: read.choice(v, "preprocessing",
                                           ["none", "zero_center", "standardize"]),
    "optimizer": _named(OPTIMIZERS, "optimizer"),
    "lr": read.positive_number,
    "schedule": _named(SCHEDULES, "schedule"),
    "weight_decay": read.nonnegative_number,
    "batch_size": read.positive_int,
    "epochs": read.positive_int,
    "val_split": lambda v, w: read.in_range(v, w, 0, 1),
    "seed": read.nonnegative_int,
    "loss": lambda v, w: read.choice(v, "loss", ["cross_entropy", "mse"]),
}
KEY_ALIASES = {"batch": "batch_size", "learning_rate": "lr"}


def read_training(settings: list[Setting], errors: list[SpecError],
                  spans: dict[tuple[str, str | None], Span]) -> dict:
    """The full training object; mistakes are appended to ``errors``, spans recorded."""
    training = copy.deepcopy(DEFAULTS)
    seen: dict[str, Setting] = {}
    for setting in settings:
        key = KEY_ALIASES.get(setting.key, setting.key)
        if key not in READERS:
            errors.append(SpecError(
                f"unknown training setting '{setting.key}'", span=setting.key_span,
                hint=did_you_mean(setting.key, list(READERS) + list(KEY_ALIASES), "settings")))
            continue
        if key in seen:
            errors.append(SpecError(f"training setting '{setting.key}' is given twice",
                                    span=setting.key_span,
                                    hint=f"first given on line {seen[key].span.line}"))
            continue
        seen[key] = setting
        try:
            training[key] = READERS[key](setting.value, f"training setting '{setting.key}'")
        except SpecError as err:
            errors.append(err)
            continue
        spans[("training", key)] = setting.span
    return training
