"""Compile a checked spec into an executable :class:`cnnspec.engine.model.Model`.

Shapes, resolved paddings and fans come from the checked spec (one source of truth, see
:mod:`cnnspec.shapes`); this module only builds layers and draws their parameters.

Randomness: the run's seed is split by :func:`cnnspec.seeding.streams`. The ``init`` stream's
seed sequence spawns one child per layer *index* in the spec; layer ``i`` draws its weight and
then its bias from a generator of child ``i`` alone. So a layer's initial values depend only on
the seed, its position and its own definition: adding, removing or resizing another layer,
the batch size or the data never change them, and the same seed gives bitwise the same
weights. Dropout masks come from the separate ``dropout`` stream.
"""
from __future__ import annotations

import numpy as np

from cnnspec.check.load import load
from cnnspec.check.memory import kept_tile_layers
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.dtypes import DEFAULT_DTYPE, given_dtype
from cnnspec.engine.model import Model, Node
from cnnspec.init import create
from cnnspec.ir.training_catalogue import LOSSES, held_parts, refuse_whole_setting
from cnnspec.kinds import KINDS, Build
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.seeding import streams


def compile_spec(spec, seed: int | None = None, dtype: str = DEFAULT_DTYPE) -> Model:
    """Build the model of ``spec`` (a :class:`CheckedSpec` or a path to a ``.cnn``/``.json``).

    ``seed`` None uses the spec's training seed. ``dtype`` is one of :data:`cnnspec.dtypes.DTYPES`.
    """
    dtype = np.dtype(given_dtype(dtype))
    checked = _checked(spec)
    training = checked.ir["training"]  # checked: every key is there (ir/training_catalogue.py)
    if seed is None:
        seed = training["seed"]
    else:
        seed = refuse_whole_setting("seed", seed)
    rngs = streams(seed)
    layer_seeds = _seed_sequence(rngs["init"]).spawn(len(checked.layers))
    nodes = [
        Node(info.name, info.kind,
             _build_layer(info, np.random.default_rng(layer_seed), dtype, rngs["dropout"]),
             list(info.inputs))
        for info, layer_seed in zip(checked.layers, layer_seeds)
    ]
    keepers = kept_tile_layers(checked.layers)  # as check's memory estimate counts them
    for node in nodes:
        if node.name in keepers:
            node.layer.tile_share = keepers[node.name]
    return Model(nodes, output=checked.ir["output"],
                 loss=training["loss"], dtype=dtype, checked=checked,
                 loss_args=loss_args(training), threads=training["cores"])


def loss_args(training: dict) -> dict:
    """The keyword arguments of the loss: the settings given that apply to it (its catalogue
    entry's ``settings``; the checker refuses the others), lists copied."""
    return {key: list(value) if isinstance(value, (list, tuple)) else value
            for key in LOSSES[training["loss"]].settings if (value := training[key])}


def _checked(spec) -> CheckedSpec:
    if isinstance(spec, CheckedSpec):
        return spec
    return load(spec)


def _seed_sequence(rng: np.random.Generator) -> np.random.SeedSequence:
    bit_generator = rng.bit_generator
    return getattr(bit_generator, "seed_seq", None) or bit_generator._seed_seq


def _build_layer(info: LayerInfo, rng: np.random.Generator, dtype: np.dtype,
                 dropout_rng: np.random.Generator):
    """The engine layer for one checked layer, built by its kind's registry record; a weighted
    layer's parameters are drawn from ``rng``, and those the spec holds still (``frozen``,
    ``lr_mult 0``) are the layer's ``held`` ones: no gradient, no optimizer state."""
    kind = KINDS[info.kind]
    weight = bias = None
    if kind.weighted:
        weight, bias = _draw_params(info, rng, dtype)
    layer = kind.build(Build(info.ir, info.output_shape, info.pads, weight, bias, dtype,
                             dropout_rng))
    layer.held = held_parts(info.ir, layer.params)
    return layer


def _draw_params(info: LayerInfo, rng: np.random.Generator, dtype: np.dtype):
    """The weight, then the bias (or None), of a weighted layer."""
    fans = (info.fan_in, info.fan_out)
    weight = create(info.ir[WEIGHT_INIT_KEY], info.weight_shape, rng, dtype, fans=fans)
    bias = None
    if info.bias_shape is not None:
        bias = create(info.ir[BIAS_INIT_KEY], info.bias_shape, rng, dtype, fans=fans)
    return weight, bias
