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
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.engine import layers as L
from cnnspec.engine.model import Model, Node
from cnnspec.init import create
from cnnspec.seeding import streams

DTYPES = ("float32", "float64")


def compile_spec(spec, seed: int | None = None, dtype: str = "float32") -> Model:
    """Build the model of ``spec`` (a :class:`CheckedSpec` or a path to a ``.cnn``/``.json``).

    ``seed`` None uses the spec's training seed. ``dtype`` is ``"float32"`` or ``"float64"``.
    """
    checked = _checked(spec)
    if str(np.dtype(dtype)) not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, not {dtype!r}")
    dtype = np.dtype(dtype)
    training = checked.ir.get("training", {})
    if seed is None:
        seed = training.get("seed", 0)
    rngs = streams(seed)
    layer_seeds = _seed_sequence(rngs["init"]).spawn(len(checked.layers))
    nodes = [
        Node(info.name, info.kind,
             _build_layer(info, np.random.default_rng(layer_seed), dtype, rngs["dropout"]),
             list(info.inputs))
        for info, layer_seed in zip(checked.layers, layer_seeds)
    ]
    return Model(nodes, output=checked.ir["output"],
                 loss=training.get("loss", "cross_entropy"), dtype=dtype, checked=checked)


def _checked(spec) -> CheckedSpec:
    if isinstance(spec, CheckedSpec):
        return spec
    return load(spec)


def _seed_sequence(rng: np.random.Generator) -> np.random.SeedSequence:
    bit_generator = rng.bit_generator
    return getattr(bit_generator, "seed_seq", None) or bit_generator._seed_seq


def _build_layer(info: LayerInfo, rng: np.random.Generator, dtype: np.dtype,
                 dropout_rng: np.random.Generator) -> L.Layer:
    """The engine layer for one checked layer; parameters drawn from ``rng``."""
    ir, kind = info.ir, info.kind
    if kind in ("conv", "dense"):
        weight, bias = _draw_params(info, rng, dtype)
        trainable = ir.get("trainable", True)
        if kind == "dense":
            return L.Dense(weight, bias, trainable=trainable)
        return L.Conv2d(weight, bias, ir["stride"], info.pads, ir["dilation"],
                        trainable=trainable)
    if kind in ("maxpool", "avgpool"):
        return L.Pool(kind[:3], tuple(ir["size"]), tuple(ir["stride"]), tuple(info.pads))
    if kind == "global_avgpool":
        return L.GlobalAvgPool()
    if kind == "flatten":
        return L.Flatten()
    if kind == "leaky_relu":
        return L.activation(kind, slope=ir.get("slope", 0.01))
    if kind == "elu":
        return L.activation(kind, alpha=ir.get("alpha", 1.0))
    if kind in L.ACTIVATIONS:
        return L.activation(kind)
    if kind == "dropout":
        return L.Dropout(ir["p"], dropout_rng)
    if kind == "batchnorm":
        return L.BatchNorm(info.output_shape[0], dtype, momentum=ir.get("momentum", 0.1),
                           eps=ir.get("eps", 1e-5), trainable=ir.get("trainable", True))
    if kind in ("add", "concat"):
        return L.Merge(kind)
    raise ValueError(f"the engine has no layer of kind {kind!r}")  # the checker rejects these


def _draw_params(info: LayerInfo, rng: np.random.Generator, dtype: np.dtype):
    """The weight, then the bias (or None), of a conv or dense layer."""
    fans = (info.fan_in, info.fan_out)
    weight = create(info.ir["weight_init"], info.weight_shape, rng, dtype, fans=fans)
    bias = None
    if info.bias_shape is not None:
        bias = create(info.ir["bias_init"], info.bias_shape, rng, dtype, fans=fans)
    return weight, bias
