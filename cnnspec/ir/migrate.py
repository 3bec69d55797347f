"""IR versions: the current one, and how an IR file written by an earlier cnnspec is brought
up to it before it is validated, so an exported spec or a run's spec.json keeps working.

Each step adds what its version introduced, with the value that means what the older file
meant. Version 2 added ``groups`` to convolutions (1: an ordinary conv) and ``default_inits``
to layers with inits (which came from the model-wide default; an older file does not say, so
none is marked and init variants leave every layer's written init alone). Version 3 added
training settings (their defaults change nothing: no warmup, weight decay on every
parameter, no gradient clipping, no label smoothing, every class weighing 1, AMSGrad off).
Version 4 added ``ceil_mode`` to pooling layers and ``count_include_pad`` to average pooling
(false and true: the rounding down and the divisor of before). Version 5 added ``colour`` to
the shapes dataset (false: the greyscale images of before). Version 6 added the training
settings ``monitor``, ``early_stop`` and ``min_delta`` (val_loss, 0 and 0: every epoch is
trained, as before). Version 7 added the training setting ``augment`` (an empty list: no
data augmentation). Version 8 added ``lr_mult`` and ``decay_mult`` to layers with a weight
(1 and 1: the training's learning rate and weight decay, as before). Version 9 added the
training setting ``cores`` (2: a batch of 16 or more ran as two halves, as before). Version
10 added the bounds ``low`` and ``high`` to ``truncated_normal`` inits (null and null: the cut
at mean +- 2 std of before).
"""
from __future__ import annotations

IR_VERSION = 10


def _to_2(ir: dict) -> None:
    for layer in ir.get("layers", []):
        if not isinstance(layer, dict):
            continue  # validation reports it
        if "dilation" in layer and "kernel" in layer:  # a convolution
            layer.setdefault("groups", 1)
        if "weight_init" in layer:
            layer.setdefault("default_inits", [])


def _to_3(ir: dict) -> None:
    training = ir.get("training")
    if not isinstance(training, dict):
        return  # validation reports it
    for key, default in (("warmup", 0), ("decay_bias", True), ("clip_norm", 0.0),
                         ("clip_value", 0.0),
                         ("label_smoothing", 0.0), ("class_weights", [])):
        training.setdefault(key, default)
    optimizer = training.get("optimizer")
    if isinstance(optimizer, dict) and optimizer.get("name") == "adam":
        optimizer.setdefault("amsgrad", False)


def _to_4(ir: dict) -> None:
    for layer in ir.get("layers", []):
        if not isinstance(layer, dict):
            continue
        if layer.get("kind") in ("maxpool", "avgpool"):
            layer.setdefault("ceil_mode", False)
        if layer.get("kind") == "avgpool":
            layer.setdefault("count_include_pad", True)


def _to_5(ir: dict) -> None:
    training = ir.get("training")
    data = training.get("data") if isinstance(training, dict) else None
    if isinstance(data, dict) and data.get("name") == "shapes":
        data.setdefault("colour", False)


def _to_6(ir: dict) -> None:
    training = ir.get("training")
    if not isinstance(training, dict):
        return  # validation reports it
    for key, default in (("monitor", "val_loss"), ("early_stop", 0), ("min_delta", 0.0)):
        training.setdefault(key, default)


def _to_7(ir: dict) -> None:
    training = ir.get("training")
    if isinstance(training, dict):
        training.setdefault("augment", [])


def _to_8(ir: dict) -> None:
    for layer in ir.get("layers", []):
        if isinstance(layer, dict) and "weight_init" in layer:
            layer.setdefault("lr_mult", [1.0, 1.0])
            layer.setdefault("decay_mult", [1.0, 1.0])


def _to_9(ir: dict) -> None:
    training = ir.get("training")
    if isinstance(training, dict):
        training.setdefault("cores", 2)


def _to_10(ir: dict) -> None:
    for layer in ir.get("layers", []):
        if not isinstance(layer, dict):
            continue
        for field in ("weight_init", "bias_init"):
            init = layer.get(field)
            if isinstance(init, dict) and init.get("name") == "truncated_normal":
                init.setdefault("low", None)
                init.setdefault("high", None)


STEPS = {1: _to_2, 2: _to_3, 3: _to_4, 4: _to_5, 5: _to_6, 6: _to_7, 7: _to_8, 8: _to_9,
         9: _to_10}


def upgrade(ir) -> None:
    """Bring ``ir`` (parsed JSON, any shape) to :data:`IR_VERSION` in place; an IR of an unknown
    or the current version is left for validation to judge."""
    if not isinstance(ir, dict):
        return
    version = ir.get("version")
    while isinstance(version, int) and not isinstance(version, bool) and version in STEPS:
        STEPS[version](ir)
        version += 1
        ir["version"] = version
