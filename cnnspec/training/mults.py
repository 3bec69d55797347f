"""How fast each parameter trains and how much weight decay pulls it: its learning rate and
its weight decay as multiples of the training's.

A layer's ``lr_mult`` and ``decay_mult`` give them ([weight, bias]: Caffe's per-blob
multipliers, ``lr_mult [1, 2] decay_mult [1, 0]``); ``decay_bias false`` spares from the
decay every parameter that is not the weight of a weighted layer (biases, normalisation's
scale and shift, PReLU's slopes). The trainer's optimizer (:func:`training_optimizer`, which
``time`` times too) and the PyTorch export's parameter groups both read
:func:`parameter_mults`, so a spec trains the same in both.
"""
from __future__ import annotations

from collections.abc import Iterable

from cnnspec.check.model import CheckedSpec
from cnnspec.ir.training_catalogue import MULT_PARTS
from cnnspec.kinds import is_weighted


def parameter_mults(checked: CheckedSpec, names: Iterable[str],
                    decay_bias: bool = True) -> dict[str, tuple[float, float]]:
    """``<layer>.weight`` / ``<layer>.bias`` -> (learning-rate multiplier, weight-decay
    multiplier) for each of ``names``: its layer's ``lr_mult`` and ``decay_mult`` (1 for a
    kind without them), the decay 0 where ``decay_bias`` false spares the parameter."""
    layers = {info.name: info for info in checked.layers}
    mults = {}
    for name in names:
        layer_name, _, part = name.rpartition(".")
        info = layers[layer_name]
        index = MULT_PARTS.index(part)
        lr_mult = float(info.ir["lr_mult"][index]) if "lr_mult" in info.ir else 1.0
        decay_mult = float(info.ir["decay_mult"][index]) if "decay_mult" in info.ir else 1.0
        if not decay_bias and (part != "weight" or not is_weighted(info.kind)):
            decay_mult = 0.0
        mults[name] = (lr_mult, decay_mult)
    return mults


def training_optimizer(training: dict, model):
    """The optimizer of the IR's ``training`` settings for ``model`` (a compiled
    :class:`cnnspec.engine.model.Model`), each parameter's learning rate and weight decay
    scaled as :func:`parameter_mults` says (lr_mult, decay_mult, ``decay_bias``)."""
    from cnnspec.engine.optim import make_optimizer  # NumPy: only where a model steps

    mults = parameter_mults(model.checked, model.params(), training["decay_bias"])
    return make_optimizer(training["optimizer"], training["weight_decay"],
                          lr_mult={name: lr for name, (lr, _) in mults.items()},
                          decay_mult={name: decay for name, (_, decay) in mults.items()})
