"""Importing Keras models saved with ``model.to_json()`` (cnnspec.importers.keras).

The JSON files in tests/data/import/ were written for these tests: the Keras MNIST convnet
example (34,826 parameters) as Keras 3.15.1 writes it (``model.to_json()`` of the compiled
model, on the PyTorch backend), a functional model with one of every
layer class the importer maps in Keras 2's (tf.keras) format, and a small decoder that Keras
3.15.1 itself wrote (``model.to_json()``; Keras' summary: 438 trainable parameters), as it
wrote the stem of a ResNet of keras.applications with its ZeroPadding2D layers (2,538), and
the first blocks of keras.applications' MobileNet as tf.keras 2.15 writes them, without a
build_config (its layers' configs as Keras 2's get_config() gives them: 2,250 trainable).
Sequential blocks nested in a Sequential (12,810) and in a functional model (1,722) are in
Keras 3's format, each block with the InputLayer and build_input_shape Keras adds as it
builds it.
"""
from __future__ import annotations

import copy
import json
import math
import random
import zipfile
from pathlib import Path

import npz_cases
import numpy as np
import pytest
from importing import DATA, imported_layers, same_init

from cnnspec.cli import main
from cnnspec.errors import InputError, RunError, SpecError, SpecErrors
from cnnspec.importers import import_file
from cnnspec.importers.keras import import_keras
from cnnspec.init.scaling import TRUNCATED_STD
from cnnspec.lang import format_source, parse

CONVNET = DATA / "mnist_convnet.json"
EVERY = DATA / "every_layer_keras2.json"
DECODER = DATA / "keras315_decoder.json"
STEM = DATA / "keras315_stem.json"
KERAS2_MOBILENET = DATA / "keras2_mobilenet.json"
NESTED = DATA / "keras3_nested_sequential.json"
BLOCKS = DATA / "keras3_functional_blocks.json"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def errors_of(doc) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as caught:
        import_keras(doc if isinstance(doc, str) else json.dumps(doc), "model.json")
    exc = caught.value
    return exc.errors if isinstance(exc, SpecErrors) else [exc]


def sequential(*layers: dict, shape=(8, 8, 1)) -> dict:
    """A Keras 3 Sequential model of ``layers`` on a channels_last input ``shape``."""
    first = {"class_name": "InputLayer",
             "config": {"batch_shape": [None, *shape], "dtype": "float32", "name": "input"}}
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": "model", "layers": [first, *layers]}}


def layer(cls: str, name: str, **config) -> dict:
    return {"module": "keras.layers", "class_name": cls,
            "config": {"name": name, "trainable": True, "dtype": "float32", **config}}


def init(cls: str, **config) -> dict:
    return {"module": "keras.initializers", "class_name": cls, "config": config}


def conv(name="conv", filters=4, **config) -> dict:
    base = {"filters": filters, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
            "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "linear", "use_bias": True,
            "kernel_initializer": init("GlorotUniform", seed=None),
            "bias_initializer": init("Zeros"), "kernel_regularizer": None}
    return layer("Conv2D", name, **{**base, **config})


def dense(name="fc", units=10, **config) -> dict:
    base = {"units": units, "activation": "linear", "use_bias": True,
            "kernel_initializer": init("GlorotUniform", seed=None),
            "bias_initializer": init("Zeros")}
    return layer("Dense", name, **{**base, **config})


HEAD = (layer("Flatten", "flat", data_format="channels_last"),)


# ---------------------------------------------------------------------------- the examples


ROWS_PERMUTED = "# A Dense after Flatten sees the values in NCHW order here"


@pytest.mark.parametrize("between, noted", [
    (layer("Flatten", "flat", data_format="channels_last"), True),
    (layer("GlobalAveragePooling2D", "gap", data_format="channels_last"), False),
])
def test_the_note_on_flattened_order_is_written_where_a_flatten_is(between, noted):
    """Every import said a Dense after Flatten would need its rows permuted, also for a net
    that has no Flatten (a global pool's output has one order in both layouts)."""
    text = import_keras(json.dumps(sequential(conv(), between, dense())), "model.json").text
    assert (ROWS_PERMUTED in text) == noted


def test_mnist_convnet_has_keras_parameters_and_shapes():
    imported = import_file(CONVNET)
    checked = imported.checked
    assert checked.total_params == 34_826
    shapes = {info.name: info.output_shape for info in checked.layers}
    # Keras' summary of the example, (H, W, C) read as (C, H, W)
    assert shapes["conv2d"] == (32, 26, 26) and shapes["max_pooling2d"] == (32, 13, 13)
    assert shapes["conv2d_1"] == (64, 11, 11) and shapes["max_pooling2d_1"] == (64, 5, 5)
    assert shapes["flatten"] == (1600,) and shapes["dense"] == (10,)
    assert checked.input_shape == (1, 28, 28)
    text = imported.text
    assert format_source(text) == text and text.startswith(f"# Imported from {CONVNET} (Keras")
    assert "default weight glorot_uniform, bias zeros" in text
    assert "dense: dense 10 softmax" in text
    training = checked.spec.ir["training"]
    assert training["data"]["name"] == "mnist"
    # Keras 3 writes how the model was compiled: Adam at its float32 lr 0.001
    assert training["optimizer"] == {"name": "adam", "beta1": 0.9, "beta2": 0.999,
                                     "eps": 1e-7, "amsgrad": False}
    assert training["lr"] == 0.001 and training["loss"] == "cross_entropy"


@pytest.mark.parametrize(("optimizer", "settings", "note"), [
    (init("SGD", learning_rate=0.1, momentum=0.9, nesterov=True),
     {"optimizer": "sgd(momentum=0.9, nesterov=true)", "lr": "0.1"}, None),
    (init("AdamW", learning_rate=0.002, weight_decay=0.004, beta_1=0.9, beta_2=0.99,
          epsilon=1e-7, amsgrad=False, global_clipnorm=1.0),
     {"optimizer": "adamw(beta1=0.9, beta2=0.99, eps=1e-7, amsgrad=false)", "lr": "0.002",
      "weight_decay": "0.004", "clip_norm": "1"}, None),
    (init("RMSprop", learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
          use_ema=True),
     {"optimizer": "rmsprop(alpha=0.9, eps=1e-7, momentum=0, centered=false)", "lr": "0.001"},
     "the optimizer's use_ema=true is not read"),
    (init("Adam", learning_rate={"class_name": "ExponentialDecay", "config": {}}),
     {"optimizer": "adam()"}, "the optimizer's learning_rate"),
    (init("Adam", learning_rate=0.01, weight_decay=0.1), {"optimizer": "adam()", "lr": "0.01"},
     "the optimizer's weight_decay 0.1 (decoupled in Keras) is not read"),
    (init("Lion", learning_rate=0.001), {}, 'the optimizer {"module"'),
])
def test_compile_config_becomes_the_train_block(optimizer, settings, note):
    from cnnspec.importers.keras_compile import compile_settings

    found, notes = compile_settings({"compile_config": {
        "optimizer": optimizer, "loss": {"class_name": "SparseCategoricalCrossentropy"}}},
        ends_in_softmax=True)
    written = {s.key: s.value for s in found}
    assert written == {**settings, "loss": "cross_entropy"}
    assert any(note in n for n in notes) if note else notes == []


CROSS_ENTROPY = {"class_name": "CategoricalCrossentropy",
                 "config": {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size",
                            "from_logits": False, "label_smoothing": 0.0, "axis": -1}}


def _compiled(loss, activation: str) -> tuple[dict, list[str]]:
    doc = {**sequential(conv(), *HEAD, dense(activation=activation)),
           "compile_config": {"optimizer": init("SGD", learning_rate=0.1), "loss": loss}}
    imported = import_keras(json.dumps(doc), "model.json")
    return imported.checked.spec.ir["training"], imported.notes


@pytest.mark.parametrize("loss, activation, note", [
    (CROSS_ENTROPY, "softmax", None),
    ("categorical_crossentropy", "softmax", None),
    ({**CROSS_ENTROPY, "config": {**CROSS_ENTROPY["config"], "from_logits": True}}, "linear",
     None),
    ({**CROSS_ENTROPY, "config": {**CROSS_ENTROPY["config"], "from_logits": True}}, "softmax",
     "Keras applied the softmax twice, cross_entropy here applies it once"),
    ("sparse_categorical_crossentropy", "linear",
     ("takes the output as probabilities (from_logits=False), but the model does not end in "
      "softmax")),
    (CROSS_ENTROPY, "relu", "takes the output as probabilities"),
    ({**CROSS_ENTROPY, "config": {**CROSS_ENTROPY["config"], "axis": 1}}, "softmax",
     "the loss's axis=1 is not read"),
    ("mean_squared_error", "linear", None),
])
def test_a_cross_entropy_that_reads_the_output_otherwise_than_keras_did_is_noted(
        loss, activation, note):
    training, notes = _compiled(loss, activation)
    assert training["loss"] == ("mse" if loss == "mean_squared_error" else "cross_entropy")
    assert notes == ([next(n for n in notes if note in n)] if note else [])


def test_a_keras_loss_label_smoothing_is_the_train_blocks():
    smoothed = {**CROSS_ENTROPY, "config": {**CROSS_ENTROPY["config"], "label_smoothing": 0.1}}
    training, notes = _compiled(smoothed, "softmax")
    assert training["label_smoothing"] == 0.1 and notes == []


def test_a_model_keras_3_15_wrote_imports_with_keras_shapes_and_parameters():
    # Keras 3.15 writes renorm_momentum and renorm_clipping beside renorm false, and
    # input_axes and output_axes (null) in GlorotUniform's config
    imported = import_file(DECODER)
    checked = imported.checked
    keras_shapes = {"enc": (8, 8, 8), "enc_bn": (8, 8, 8), "down": (8, 4, 4),
                    "dec": (4, 8, 8), "up": (4, 16, 16), "gap": (4,), "scores": (10,)}
    shapes = {info.name: info.output_shape for info in checked.layers}
    assert {name: shapes[name] for name in keras_shapes} == keras_shapes
    assert checked.total_params == 438 and imported.notes == []
    assert checked.spec.ir["training"]["label_smoothing"] == 0.1


def _depthwise(initializer: dict, multiplier: int, built=True) -> dict:
    """A DepthwiseConv2D on 16 channels as Keras 3 saves it, with its build_config."""
    depthwise = layer("DepthwiseConv2D", "dw", kernel_size=[3, 3], depth_multiplier=multiplier,
                      depthwise_initializer=initializer, use_bias=True)
    if built:
        depthwise["build_config"] = {"input_shape": [None, 6, 6, 16]}
    return sequential(depthwise, *HEAD, dense(), shape=(6, 6, 16))


# Keras' variance of a depthwise kernel (kh, kw, C, M): scale / n with its own fans,
# kh·kw·C in and kh·kw·M out (keras.src.initializers.random_initializers.compute_fans)
@pytest.mark.parametrize("initializer, multiplier, keras_variance, written", [
    (init("HeUniform"), 3, 2 / (9 * 16),
     "variance_scaling(scale=0.125, mode=fan_in, distribution=uniform)"),
    (init("GlorotUniform"), 1, 1 / ((9 * 16 + 9) / 2), None),  # the same as cnnspec's
    (init("GlorotUniform"), 3, 1 / ((9 * 16 + 9 * 3) / 2),
     "variance_scaling(scale=2.5789473684210527, mode=fan_avg, distribution=uniform)"),
    (init("VarianceScaling", scale=3.0, mode="fan_out", distribution="untruncated_normal"), 3,
     3 / (9 * 3), "variance_scaling(scale=48, mode=fan_out, distribution=normal)"),
    (init("RandomNormal", stddev=0.1), 2, 0.01, "normal(std=0.1)"),
])
def test_a_depthwise_conv_is_a_grouped_conv_drawing_keras_variance(initializer, multiplier,
                                                                   keras_variance, written):
    imported = import_keras(json.dumps(_depthwise(initializer, multiplier)), "model.json")
    info = {info.name: info for info in imported.checked.layers}["dw"]
    assert (info.ir["filters"], info.ir["groups"], info.output_shape) == (
        16 * multiplier, 16, (16 * multiplier, 4, 4))
    assert info.params == 9 * 16 * multiplier + 16 * multiplier
    assert info.weight_init.std ** 2 == pytest.approx(keras_variance)
    # the init on the line, or on the default line where the spec's other layers share it
    assert f"weight {written or 'glorot_uniform'}" in imported.text
    line = next(line for line in imported.text.splitlines() if line.startswith("dw:"))
    assert ("kh*kw*C and kh*kw*M (C = 16" in line) == (written is not None
                                                      and "normal(std" not in written)


def test_a_separable_conv_is_its_depthwise_conv_then_a_pointwise_one():
    separable = layer("SeparableConv2D", "sep", filters=6, kernel_size=[3, 3], strides=[2, 2],
                      padding="same", depth_multiplier=2, activation="relu", use_bias=True,
                      depthwise_initializer=init("GlorotUniform"),
                      pointwise_initializer=init("HeUniform"), bias_initializer=init("Zeros"))
    separable["build_config"] = {"input_shape": [None, 6, 6, 4]}
    doc = sequential(separable, *HEAD, dense(), shape=(6, 6, 4))
    checked = import_keras(json.dumps(doc), "model.json").checked
    layers = {entry["name"]: entry for entry in checked.spec.ir["layers"]}
    assert [(name, entry["kind"]) for name, entry in layers.items()][:3] == [
        ("sep_depthwise", "conv"), ("sep", "conv"), ("sep_relu", "relu")]
    depthwise, pointwise = layers["sep_depthwise"], layers["sep"]
    assert (depthwise["filters"], depthwise["groups"], depthwise["stride"],
            depthwise["bias"]) == (8, 4, [2, 2], False)
    assert (pointwise["filters"], pointwise["kernel"], pointwise["bias"]) == (6, [1, 1], True)
    assert pointwise["weight_init"]["name"] == "he_uniform"
    # Keras' count: a 3x3x4x2 depthwise kernel, a 1x1x8x6 pointwise one and 6 biases
    infos = {info.name: info for info in checked.layers}
    assert infos["sep_depthwise"].params + infos["sep"].params == 72 + 48 + 6
    assert infos["sep"].output_shape == (6, 3, 3)


def test_keras2_depthwise_convs_take_their_channels_from_the_shapes_before_them():
    """tf.keras 2.15 writes no build_config: a DepthwiseConv2D was refused for want of its
    input's channels, which the layers read before it give (MobileNet's first blocks, alpha
    0.25 on 16x16x3, with a Dense head; the second depthwise conv after a ZeroPadding2D and
    with depth_multiplier 2)."""
    imported = import_file(KERAS2_MOBILENET)
    checked = imported.checked
    infos = {info.name: info for info in checked.layers}
    # Keras' shapes, (H, W, C) read as (C, H, W): 16 -> 8 (stride 2, same), 9 padded -> 4
    keras_shapes = {"conv1": (8, 8, 8), "conv_dw_1": (8, 8, 8), "conv_pw_1": (16, 8, 8),
                    "conv_dw_2": (32, 4, 4), "conv_pw_2": (32, 4, 4), "predictions": (10,)}
    assert {name: infos[name].output_shape for name in keras_shapes} == keras_shapes
    assert [(infos[name].ir["filters"], infos[name].ir["groups"])
            for name in ("conv_dw_1", "conv_dw_2")] == [(8, 8), (32, 16)]
    # Keras' trainable count: kernels 216 + 72 + 128 + 288 + 1024, batch norms' gamma and
    # beta 2 * (8 + 8 + 16 + 32 + 32), the Dense 32 * 10 + 10
    assert checked.total_params == 2250
    # M = 2: the glorot scale rescaled to Keras' fans, as with a build_config
    assert "(C = 16, M = 2)" in next(line for line in imported.text.splitlines()
                                     if line.startswith("conv_dw_2:"))


@pytest.mark.parametrize("initializer, multiplier", [(init("GlorotUniform"), 1),
                                                     (init("HeUniform"), 3)])
def test_a_depthwise_conv_without_its_build_config_imports_as_with_it(initializer, multiplier):
    built, inferred = (import_keras(json.dumps(_depthwise(initializer, multiplier, built=b)),
                                    "model.json").text for b in (True, False))
    assert inferred == built


def test_a_depthwise_conv_whose_channels_no_shape_gives_says_why(tmp_path, capsys):
    """Without a build_config, the channels come from the layers before; where those do not
    infer (a kernel larger than its input), the refusal says so at the depthwise layer."""
    doc = _depthwise(init("GlorotUniform"), 1, built=False)
    doc["config"]["layers"].insert(1, conv("big", kernel_size=[9, 9]))
    errors = errors_of(doc)
    assert [(e.message, e.json_path) for e in errors] == [
        (("DepthwiseConv2D 'dw' does not say its input's channels, and the layers before it do "
          "not give them: the 9x9 kernel of conv 'big' is larger than its input there: 6x6 "
          "(input 'input' gives 16x6x6)"),
         "$.config.layers[2]")]
    source = tmp_path / "model.json"
    source.write_text(json.dumps(doc))
    assert main(["import", str(source)]) == 2
    err = capsys.readouterr().err
    assert f"{source}: $.config.layers[2]: error: DepthwiseConv2D 'dw' does not say" in err
    assert "hint: cnnspec reads them from the layer's build_config" in err


def test_sequential_blocks_nested_in_a_sequential_are_written_as_their_layers():
    """keras.Sequential([Input, Sequential([Conv2D, ReLU, MaxPool], name="block1"), ...]) was
    refused ("the Keras layer Sequential is not supported"). Both blocks name their layers
    conv, relu, pool: the spec's are named after the block."""
    imported = import_file(NESTED)
    checked = imported.checked
    shapes = {info.name: info.output_shape for info in checked.layers}
    assert shapes == {"block1_conv": (16, 26, 26), "block1_relu": (16, 26, 26),
                      "block1_pool": (16, 13, 13), "block2_conv": (32, 11, 11),
                      "block2_relu": (32, 11, 11), "block2_pool": (32, 5, 5),
                      "flatten": (800,), "dense": (10,), "dense_softmax": (10,)}
    assert checked.total_params == 160 + 4640 + 8010  # Keras' count of the model, 12,810
    assert imported.notes == [("block1 and block2 (Sequential) written as the layers inside, "
                              "each named `<block>_<layer>`")]


def test_sequential_blocks_called_in_a_functional_model_read_and_feed_its_tensors():
    """A functional model calling Sequential blocks: each block reads the tensor it is
    called on, and later layers read the block's output by the block's name."""
    checked = import_file(BLOCKS).checked
    layers = {entry["name"]: entry for entry in checked.spec.ir["layers"]}
    assert list(layers) == ["stem_conv", "stem_bn", "stem_relu", "stem_pool", "side",
                            "block_conv", "block_relu", "sum", "gap", "scores",
                            "scores_softmax"]
    assert layers["block_conv"]["inputs"] == ["stem_pool"]
    assert layers["side"]["inputs"] == ["stem_pool"]
    assert layers["sum"]["inputs"] == ["side", "block_relu"]
    shapes = {info.name: info.output_shape for info in checked.layers}
    assert (shapes["stem_pool"], shapes["sum"], shapes["scores"]) == ((8, 8, 8), (16, 8, 8),
                                                                     (10,))
    assert checked.total_params == 224 + 16 + 144 + 1168 + 170  # Keras' trainable, 1,722


def _block(name: str, *layers: dict) -> dict:
    """A Keras 2 Sequential block of ``layers`` (no InputLayer: an unbuilt block)."""
    return {"class_name": "Sequential", "config": {"name": name, "layers": list(layers)},
            "name": name}


def test_a_keras2_block_without_its_input_layer_reads_the_tensor_it_is_called_on():
    doc = _functional(_fed(_block("b", conv("c"), layer("ReLU", "r")), "x"),
                      _fed(layer("Flatten", "flat"), "b"), _fed(dense(), "flat"))
    checked = import_keras(json.dumps(doc), "model.json").checked
    assert [(e["name"], e["kind"], e["inputs"]) for e in checked.spec.ir["layers"]][:3] == [
        ("b_c", "conv", ["input"]), ("b_r", "relu", ["b_c"]), ("flat", "flatten", ["b_r"])]


@pytest.mark.parametrize("doc, message, where, hint", [
    (sequential(_block("b", conv(), layer("LSTM", "lstm", units=4))),
     "the Keras layer LSTM is not supported", "$.config.layers[1].config.layers[1].class_name",
     "Keras layers cnnspec imports: InputLayer, Conv2D"),
    (sequential(_block("b", conv(data_format="channels_first"))),
     'data_format="channels_first" of Conv2D \'b/conv\' is not supported',
     "$.config.layers[1].config.layers[0].config.data_format", "channels_last"),
    (sequential(_block("b", conv(), conv())), "Conv2D 'conv' has the name of an earlier layer",
     "$.config.layers[1].config.layers[1].config.name", "rename one of the two"),
    (sequential(_block("b")), "Sequential 'b' has no layers", "$.config.layers[1].config.layers",
     "save the model"),
    (sequential({**_block("b", conv()), "class_name": "Functional"}),
     "the Keras layer Functional is not supported", "$.config.layers[1].class_name",
     "build the block as a keras.Sequential, or call its layers on the outer model's tensors"),
])
def test_a_mistake_inside_a_block_is_located_inside_it(doc, message, where, hint, tmp_path,
                                                        capsys):
    errors = errors_of(doc)
    found = [e for e in errors if message in e.message]
    assert [e.json_path for e in found] == [where], [e.message for e in errors]
    assert hint in found[0].hint
    source = tmp_path / "model.json"
    source.write_text(json.dumps(doc))
    assert main(["import", str(source)]) == 2
    assert f"{source}: {where}: error: " in capsys.readouterr().err


def flip(name="flip", mode="horizontal") -> dict:
    """Keras 3's RandomFlip as its get_config() writes it."""
    return layer("RandomFlip", name, seed=None, mode=mode, data_format="channels_last")


def sizing(cls: str, name: str, height: int, width: int) -> dict:
    """Keras 3's Resizing (CenterCrop and RandomCrop write height, width, data_format)."""
    extra = {"interpolation": "bilinear", "crop_to_aspect_ratio": False,
             "pad_to_aspect_ratio": False, "fill_mode": "constant", "fill_value": 0.0,
             "antialias": False} if cls == "Resizing" else {}
    return layer(cls, name, height=height, width=width, data_format="channels_last", **extra)


def rotation(factor=0.1, **config) -> dict:
    """Keras 3's RandomRotation as its get_config() writes it (a pair as a tuple), filling
    black unless ``config`` says otherwise."""
    if isinstance(factor, list):
        factor = {"class_name": "__tuple__", "items": factor}
    written = {"data_format": "channels_last", "bounding_box_format": None,
               "fill_mode": "constant", "fill_value": 0.0, "interpolation": "bilinear",
               "seed": None, **config}
    return layer("RandomRotation", "rot", factor=factor, **written)


@pytest.mark.parametrize("factor, degrees", [(0.1, "36"), ([-0.1, 0.1], "36"), (0.5, "180"),
                                             (0.05, "18")])
def test_a_symmetric_random_rotation_filling_black_is_the_train_blocks_rotate(factor, degrees):
    """factor f (or (-f, f)) is a fraction of a full turn: rotate(degrees=360 f)."""
    doc = sequential(layer("Rescaling", "r", scale=1 / 255), rotation(factor), flip(), conv(),
                     *HEAD, dense())
    imported = import_keras(json.dumps(doc), "model.json")
    assert imported.checked.spec.ir["training"]["augment"] == [
        {"name": "rotate", "degrees": float(degrees)}, {"name": "flip", "p": 0.5}]
    assert f"augment [rotate(degrees={degrees}), flip]" in imported.text
    assert ("rot (RandomRotation) written as the train block's `augment rotate(degrees="
            f"{degrees})`") in imported.notes


ROTATED_BLACK = "fill_mode=\"constant\" with fill_value 0"


@pytest.mark.parametrize("front, message, key, hint", [
    (rotation(fill_mode="reflect"), ("RandomRotation 'rot' fills the corners by "
     "fill_mode=\"reflect\""), "fill_mode", ROTATED_BLACK),
    (rotation(fill_value=0.5), ("RandomRotation 'rot' fills the corners with another colour "
     "than black"), "fill_value", ROTATED_BLACK),
    (rotation(interpolation="nearest"), ("interpolation=\"nearest\" of RandomRotation 'rot' "
     "is not supported"), "interpolation", "interpolates bilinear"),
    (rotation([-0.1, 0.2]), "RandomRotation 'rot' turns by -0.1 to 0.2 of a full turn", "factor",
     "a factor f from 0 to 0.5, or (-f, f), is rotate(degrees=360 f)"),
    (rotation(0.6), "RandomRotation 'rot' turns by -0.6 to 0.6 of a full turn", "factor",
     "0 to 180"),
    (rotation(0), "RandomRotation 'rot' turns by 0 to 0 of a full turn", "factor", "0 to 180"),
    (rotation("a lot"), "factor of RandomRotation 'rot' must be a number or a pair of numbers",
     "factor", "e.g. 0.1 for 36 degrees"),
    (rotation([0.1, 0.2, 0.3]), "factor of RandomRotation 'rot' must be a number or a pair",
     "factor", "e.g. 0.1"),
    # a damaged tuple (Keras writes {"class_name": "__tuple__", "items": [...]}) raised a
    # TypeError
    (rotation({"class_name": "__tuple__", "items": None}), ("factor of RandomRotation 'rot' "
     "must be a number or a pair"), "factor", "e.g. 0.1"),
])
def test_a_random_rotation_rotate_cannot_draw_is_refused_at_its_key(front, message, key, hint):
    errors = errors_of(sequential(front, conv(), *HEAD, dense()))
    assert [(e.message.startswith(message), e.json_path) for e in errors] == [
        (True, f"$.config.layers[1].config.{key}")], [e.message for e in errors]
    assert hint in errors[0].hint
    assert errors[0].hint.endswith("the network is the same without it)") or key == "factor" \
        and "must be" in message


def test_a_rotation_after_a_normalization_fills_with_its_mean_and_is_refused():
    """Keras' fill_value 0 after an adapted Normalization is the mean colour, not black."""
    normalization = layer("Normalization", "norm", axis=-1, mean=None, variance=None,
                          invert=False)
    errors = errors_of(sequential(normalization, rotation(), conv(), *HEAD, dense()))
    assert [(e.message, e.json_path) for e in errors] == [
        ("RandomRotation 'rot' fills the corners with another colour than black",
         "$.config.layers[2].config.fill_value")]


def test_the_front_layers_keras_tutorials_write_become_the_train_block():
    """keras.Sequential([Input, Sequential([RandomFlip("horizontal")], name="augmentation"),
    Rescaling(1/255), Resizing(8, 8), ...]): the flip is `augment flip` (Keras flips each
    image with probability 0.5, flip's p), the Resizing to its input's size is left out."""
    doc = sequential(_block("augmentation", flip()), layer("Rescaling", "r", scale=1 / 255),
                     sizing("Resizing", "resize", 8, 8), sizing("CenterCrop", "centre", 8, 8),
                     conv(), *HEAD, dense())
    imported = import_keras(json.dumps(doc), "model.json")
    training = imported.checked.spec.ir["training"]
    assert training["augment"] == [{"name": "flip", "p": 0.5}]
    assert training["preprocess"] == "none"
    assert "augment flip     # Keras' augmentation layers at the model's input" in imported.text
    assert [entry["name"] for entry in imported.checked.spec.ir["layers"]][:1] == ["conv"]
    assert imported.notes == [
        ('augmentation/flip (RandomFlip "horizontal") written as the train block\'s `augment '
        'flip`'), ("augmentation (Sequential) written as the layers inside, each named "
        "`<block>_<layer>`"), "resize (Resizing) left out: it keeps the size of its input",
        "centre (CenterCrop) left out: it keeps the size of its input"]


def test_two_flips_are_two_transforms_in_their_order():
    imported = import_keras(json.dumps(sequential(flip("a"), flip("b"), conv(), *HEAD,
                                                  dense())), "model.json")
    assert [t["name"] for t in imported.checked.spec.ir["training"]["augment"]] == ["flip",
                                                                                    "flip"]


@pytest.mark.parametrize("front, message, where, hint", [
    (layer("RandomTranslation", "t", height_factor=0.25, width_factor=0.1,
           fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0),
     "RandomTranslation 't' is not supported", "$.config.layers[1]",
     "the train block's nearest: `augment shift(pixels=2)`, which moves by whole pixels"),
    (layer("RandomZoom", "z", height_factor=0.2), "RandomZoom 'z' is not supported",
     "$.config.layers[1]",
     "the train block's augment offers crop, flip, shift, rotate and noise"),
    (flip("f", "horizontal_and_vertical"),
     "RandomFlip 'f' flips \"horizontal_and_vertical\", and cnnspec mirrors left to right only",
     "$.config.layers[1].config.mode", "`augment flip` is RandomFlip(\"horizontal\")"),
    (sizing("Resizing", "resize", 16, 16), "Resizing 'resize' makes 16x16 images of 8x8",
     "$.config.layers[1]", ("make the images 16x16 before training, remove the layer and write "
     "`input 1x16x16`")),
    (sizing("RandomCrop", "crop", 6, 6), "RandomCrop 'crop' makes 6x6 images of 8x8",
     "$.config.layers[1]", "cnnspec's network takes the images as the data gives them"),
])
def test_a_front_layer_without_its_equal_is_refused_at_its_path(front, message, where, hint,
                                                                 tmp_path, capsys):
    doc = sequential(front, conv(), *HEAD, dense())
    errors = errors_of(doc)
    assert [(e.message, e.json_path) for e in errors] == [(message, where)] or \
        [e.json_path for e in errors if e.message.startswith(message)] == [where]
    found = next(e for e in errors if e.message.startswith(message))
    assert hint in found.hint
    if "Random" in message and "Crop" not in message:
        assert found.hint.startswith("remove the layer from the model before export")
    source = tmp_path / "model.json"
    source.write_text(json.dumps(doc))
    assert main(["import", str(source)]) == 2
    assert f"{source}: {where}: error: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("doc, message", [
    (sequential(conv(), flip(), *HEAD, dense()), "RandomFlip 'flip' is not at the model's input"),
    (sequential(conv(padding="same"), sizing("Resizing", "resize", 4, 4), *HEAD, dense()),
     "Resizing 'resize' makes 4x4 images of 8x8"),
])
def test_a_front_layer_inside_the_network_is_refused(doc, message):
    errors = errors_of(doc)
    assert [(e.message, e.json_path) for e in errors] == [(message, "$.config.layers[2]")]
    assert "remove" in errors[0].hint


def test_a_resizing_of_a_flat_input_names_no_size():
    errors = errors_of(sequential(conv(), *HEAD, sizing("Resizing", "resize", 4, 4), dense()))
    assert [(e.message, e.json_path) for e in errors if "Resizing" in e.message] == [
        ("Resizing 'resize' makes 4x4 images of its input", "$.config.layers[3]")]
    assert errors[0].hint.endswith("remove the layer, or import the model from the layer "
                                   "after it")


def test_an_augmented_input_read_raw_beside_is_refused():
    tail = [_fed(conv("c2"), "flip"), _fed(layer("Add", "sum"), "c", "c2"),
            _fed(layer("Flatten", "flat"), "sum"), _fed(dense(), "flat")]
    errors = errors_of(_functional(_fed(flip(), "x"), _fed(conv("c"), "x"), *tail))
    assert [(e.message, e.json_path) for e in errors] == [
        ("the model's input is read by flip and c, and augmented for one of them only",
         "$.config.layers[2]")]


def test_a_rescaling_of_the_input_is_the_train_blocks_preprocess_none():
    rescaled = layer("Rescaling", "rescaling", scale=0.00392156862745098, offset=0.0)
    imported = import_keras(json.dumps(sequential(rescaled, conv(), *HEAD, dense())),
                            "model.json")
    training = imported.checked.spec.ir["training"]
    assert training["preprocess"] == "none"
    assert "preprocess none  # Keras' Rescaling(1/255) of the pixels" in imported.text
    assert next(entry["name"] for entry in imported.checked.spec.ir["layers"]) == "conv"


def test_a_rescaling_by_one_over_256_is_read_as_pixels_into_the_unit_range():
    rescaled = layer("Rescaling", "rescaling", scale=1 / 256)
    imported = import_keras(json.dumps(sequential(rescaled, conv(), *HEAD, dense())),
                            "model.json")
    assert imported.checked.spec.ir["training"]["preprocess"] == "none"


@pytest.mark.parametrize("layers", [
    (layer("Rescaling", "rescaling", scale=1 / 127.5, offset=-1.0), conv()),
    (conv(), layer("Rescaling", "rescaling", scale=2.0)),
    (layer("Rescaling", "rescaling", scale=2.0), conv()),  # pixels into [0, 510]
    (layer("Rescaling", "rescaling", scale=1e308), conv()),
    (layer("Rescaling", "rescaling", scale=1 / 127.5), conv()),  # into [0, 2]
])
def test_another_rescaling_is_told_the_preprocessing_that_does_its_work(layers):
    errors = errors_of(sequential(*layers, *HEAD, dense()))
    found = [e for e in errors if e.message.startswith("Rescaling 'rescaling'")]
    assert [e.message.endswith("is not a scaling of the model's input into [0, 1]")
            for e in found] == [True]
    assert "`preprocess none` keeps [0, 1]" in found[0].hint


@pytest.mark.parametrize("before", [(), (layer("Rescaling", "r", scale=1 / 255),)])
def test_a_normalization_adapted_to_the_input_is_the_train_blocks_standardize(before):
    normalized = layer("Normalization", "norm", axis=[-1], invert=False, mean=None,
                       variance=None)
    imported = import_keras(json.dumps(sequential(*before, normalized, conv(), *HEAD, dense())),
                            "model.json")
    assert imported.checked.spec.ir["training"]["preprocess"] == "standardize"
    assert "preprocess standardize  # Keras' Normalization adapted to the data" in imported.text


def test_a_normalization_over_every_value_of_a_one_channel_input_is_standardize():
    """Keras' axis None takes one mean and variance over all values: on one channel, the
    channel's, as cnnspec's standardize takes them."""
    normalized = layer("Normalization", "norm", axis=None, invert=False, mean=None,
                       variance=None)
    imported = import_keras(json.dumps(sequential(normalized, conv(), *HEAD, dense())),
                            "model.json")
    assert imported.checked.spec.ir["training"]["preprocess"] == "standardize"


@pytest.mark.parametrize("cls, config", [
    ("Conv2D", {"filters": 4, "kernel_size": [3, 3]}), ("Rescaling", {"scale": 1 / 255}),
    ("Dropout", {"rate": 0.5}),
])
@pytest.mark.parametrize("trainable", ["x", 0, None])
def test_a_trainable_that_is_not_true_or_false_is_refused_at_its_path(cls, config, trainable):
    """``trainable: 0`` did not freeze the layer, and "x" was taken as trainable."""
    written = layer(cls, "l", **config)
    written["config"]["trainable"] = trainable
    doc = sequential(written, *([conv()] if cls != "Conv2D" else []), *HEAD, dense())
    errors = errors_of(doc)
    said = (f"trainable of {cls} 'l' is null, where Keras takes a value (its default: true)"
            if trainable is None else
            f"trainable of {cls} 'l' must be true or false, not {json.dumps(trainable)}")
    assert [(e.message, e.json_path) for e in errors] == [
        (said, "$.config.layers[1].config.trainable")]


@pytest.mark.parametrize("cls, config, key", [
    ("ZeroPadding2D", {"padding": None, "data_format": "channels_last"}, "padding"),
    ("Dense", {"units": 4, "kernel_initializer": None}, "kernel_initializer"),
    ("BatchNormalization", {"epsilon": None}, "epsilon"),
])
def test_a_null_where_keras_takes_a_value_is_refused_not_read_as_its_default(cls, config,
                                                                              key):
    """(Keras writes null for an unset regularizer, constraint or seed: those stay quiet.)"""
    head = [layer("Flatten", "flat")] if cls == "Dense" else []
    doc = sequential(conv(), *head, layer(cls, "l", **config), *([] if head else HEAD),
                     dense())
    first = errors_of(doc)[0]
    assert (first.json_path, first.hint) == (
        f"$.config.layers[{2 + len(head)}].config.{key}",
        "write the value, or leave the key out for Keras' default")
    assert first.message.startswith(f"{key} of {cls} 'l' is null, where Keras takes a value")


BIG = 10 ** 30


@pytest.mark.parametrize("layers, at, message, hint", [
    ((conv(strides=[BIG, 1]), *HEAD, dense()), "[1].config.strides",
     ("strides of Conv2D 'conv' must be at most 2,147,483,647 (2^31 - 1), not 100000000000... "
     "(31 digits)"), "check its digits"),
    ((conv(groups=BIG), *HEAD, dense()), "[1].config.groups",  # a key the field's own name
     ("groups of Conv2D 'conv' must be at most 2,147,483,647 (2^31 - 1), not 100000000000... "
      "(31 digits)"), "check its digits"),
    ((conv(kernel_size=[3, 0]), *HEAD, dense()), "[1].config.kernel_size",
     "kernel_size of Conv2D 'conv' must be one or two whole numbers above 0, not [3, 0]", None),
    ((conv(), layer("BatchNormalization", "bn", axis=-1, epsilon=-1.0), *HEAD, dense()),
     "[2].config.epsilon", "epsilon of BatchNormalization 'bn' must be greater than 0, not -1",
     "a small number added to the variance"),
    # Keras' momentum keeps that much of the average: said as Keras has it, not as 1 - m
    ((conv(), layer("BatchNormalization", "bn", axis=-1, momentum=2.0), *HEAD, dense()),
     "[2].config.momentum", "momentum of BatchNormalization 'bn' must be in [0, 1], not 2",
     "1 - Keras' momentum"),
    ((conv(), layer("Dropout", "d", rate=1.5), *HEAD, dense()), "[2].config.rate",
     "rate of Dropout 'd' must be in [0, 1), not 1.5", "probability of zeroing"),
    ((conv(), layer("LeakyReLU", "r", negative_slope=-1e300), *HEAD, dense()),
     "[2].config.negative_slope", ("negative_slope of LeakyReLU 'r' must be 0 or more, not "
     "-1e300"), "the slope for negative inputs"),
    ((conv(), *HEAD, dense(units=BIG)), "[3].config.units",
     ("units of Dense 'fc' must be at most 2,147,483,647 (2^31 - 1), not 100000000000... "
     "(31 digits)"), "check its digits"),
])
def test_a_value_out_of_range_is_refused_at_its_json_key(layers, at, message, hint):
    """A stride of 10^30 or a negative epsilon was refused at the imported spec's line, its
    text printed, which the user never wrote: the JSON's layer and key say it now."""
    (error,) = errors_of(sequential(*layers))
    assert (error.json_path, error.message, error.file) == (
        f"$.config.layers{at}", message, "model.json")
    assert error.span is None and (hint is None or hint in error.hint)


@pytest.mark.parametrize("config, key, message", [
    ({"momentum": 0.9, "nesterov": -1}, "nesterov", "must be true or false, not -1"),
    ({"momentum": -3}, "momentum", "must be in [0, 1), not -3"),
    ({"learning_rate": -0.1}, "learning_rate", "must be greater than 0, not -0.1"),
])
def test_an_optimizer_value_out_of_range_is_refused_at_its_json_key(config, key, message):
    doc = {**sequential(conv(), *HEAD, dense()),
           "compile_config": {"optimizer": init("SGD", **config),
                              "loss": {"class_name": "SparseCategoricalCrossentropy"}}}
    (error,) = errors_of(doc)
    assert (error.json_path, error.message, error.file) == (
        f"$.compile_config.optimizer.config.{key}", f"the optimizer's {key} {message}",
        "model.json")


@pytest.mark.parametrize("order", [("r", "c"), ("c", "r")])
def test_a_rescaled_input_read_raw_beside_is_refused(order):
    rescaled = _fed(layer("Rescaling", "r", scale=1 / 255), "x")
    raw = _fed(conv("c"), "x")
    first, second = (rescaled, raw) if order == ("r", "c") else (raw, rescaled)
    tail = [_fed(conv("c2"), "r"), _fed(layer("Add", "sum"), "c", "c2"),
            _fed(layer("Flatten", "flat"), "sum"), _fed(dense(), "flat")]
    errors = errors_of(_functional(first, second, *tail))
    assert [(e.message, e.json_path) for e in errors] == [
        ((f"the model's input is read by {order[0]} and {order[1]}, and preprocessed for one "
         "of them only"), "$.config.layers[2]")]


@pytest.mark.parametrize("config, where", [
    ({"mean": 0.5, "variance": 0.25}, "$.config.layers[1].config.mean"),
    ({"axis": [1]}, "$.config.layers[1]"),
    ({"invert": True}, "$.config.layers[1]"),
    # one mean and variance over the 3 channels (Keras' axis None), not one a channel
    ({"axis": None, "invert": False, "mean": None, "variance": None}, "$.config.layers[1]"),
])
def test_another_normalization_is_told_what_standardizes(config, where):
    errors = errors_of(sequential(layer("Normalization", "norm", **config), conv(), *HEAD,
                                  dense(), shape=(8, 8, 3)))
    assert [(e.message, e.json_path) for e in errors] == [
        ("Normalization 'norm' is not one adapted to the channels of the model's input", where)]
    assert "`preprocess standardize`" in errors[0].hint


def test_every_layer_class_maps_to_its_kind():
    checked, layers, kinds = imported_layers(EVERY)
    assert kinds == {
        "conv_a": "conv", "conv_a_relu": "relu", "bn_a": "batchnorm", "act_a": "relu",
        "pool_a": "maxpool", "conv_b": "conv", "add": "add", "relu6": "relu6",
        "conv_c": "conv", "conv_c_silu": "silu", "cat": "concat", "avg": "avgpool",
        "leaky": "leaky_relu", "sdrop": "dropout2d", "gmp": "global_maxpool",
        "gap": "global_avgpool", "feat": "concat", "flat": "flatten", "fc1": "dense",
        "elu": "elu", "drop": "dropout", "cat2": "concat", "fc2": "dense", "probs": "softmax"}
    assert layers["bn_a"]["momentum"] == pytest.approx(0.01) and layers["bn_a"]["eps"] == 0.001
    assert layers["avg"]["padding"] == "same" and not layers["avg"]["count_include_pad"]
    assert layers["conv_c"]["inputs"] == ["pool_a"] and layers["add"]["inputs"] == [
        "pool_a", "conv_b"]
    assert layers["cat"]["inputs"] == ["relu6", "conv_c_silu"]
    assert layers["leaky"]["slope"] == 0.2 and layers["elu"]["alpha"] == 0.5
    assert layers["sdrop"]["p"] == 0.1 and layers["drop"]["p"] == 0.3
    shapes = {info.name: info.output_shape for info in checked.layers}
    assert shapes["pool_a"] == (8, 8, 8) and shapes["avg"] == (12, 4, 4)
    assert shapes["feat"] == (24,) and shapes["cat2"] == (40,)
    # Keras' trainable parameters; its count_params() adds the 16 moving statistics of bn_a,
    # which cnnspec keeps as buffers, not parameters
    assert checked.total_params == 224 + 16 + 576 + 36 + 3088 + 410


@pytest.mark.parametrize("size, interpolation, factor, mode, shape", [
    ([2, 2], "nearest", [2, 2], "nearest", (4, 8, 8)),
    ([1, 3], "bilinear", [1, 3], "bilinear", (4, 4, 12)),
    (2, None, [2, 2], "nearest", (4, 8, 8)),  # Keras 2 may save one number; nearest by default
])
def test_upsampling2d_is_upsample_with_its_size_and_interpolation(size, interpolation, factor,
                                                                   mode, shape):
    written = {} if interpolation is None else {"interpolation": interpolation}
    doc = sequential(conv(padding="same"), layer("MaxPooling2D", "pool", pool_size=[2, 2]),
                     layer("UpSampling2D", "up", size=size, data_format="channels_last",
                           **written), *HEAD, dense())
    checked = import_keras(json.dumps(doc), "model.json").checked
    up = {entry["name"]: entry for entry in checked.spec.ir["layers"]}["up"]
    assert (up["kind"], up["factor"], up["mode"]) == ("upsample", factor, mode)
    assert {info.name: info.output_shape for info in checked.layers}["up"] == shape


def keras_deconv_length(n: int, kernel: int, stride: int, padding: str, dilation: int) -> int:
    """Keras' output length of a Conv2DTranspose without output_padding
    (keras.src.utils.conv_utils.deconv_output_length), the reference the import must meet."""
    kernel = kernel + (kernel - 1) * (dilation - 1)
    return n * stride + (max(kernel - stride, 0) if padding == "valid" else 0)


def tf_conv_transpose(x, weight, stride: int, padding: str, dilation: int):
    """TensorFlow's conv2d_transpose, which Keras' Conv2DTranspose runs: by its definition the
    input gradient of conv2d (with TF's padding rule: ``same`` pads ``total // 2`` before) on
    an input of Keras' output size, for ``x`` (N, C, H, W) and a ``(C, F, k, k)`` weight."""
    import torch

    size = keras_deconv_length(x.shape[2], weight.shape[2], stride, padding, dilation)
    reach = (weight.shape[2] - 1) * dilation + 1
    total = max((x.shape[2] - 1) * stride + reach - size, 0) if padding == "same" else 0
    wide = torch.zeros(x.shape[0], weight.shape[1], size, size, dtype=torch.float64,
                       requires_grad=True)
    padded = torch.nn.functional.pad(wide, (total // 2, total - total // 2) * 2)
    out = torch.nn.functional.conv2d(padded, torch.from_numpy(weight), stride=stride,
                                     dilation=dilation)
    return torch.autograd.grad(out, wide, grad_outputs=torch.from_numpy(x))[0].numpy()


# (kernel, stride, padding, dilation, the output_pad the import adds): settings Keras builds
# (it refuses a stride and a dilation both above 1)
TRANSPOSED = [(2, 2, "valid", 1, None), (3, 2, "valid", 1, None), (3, 2, "same", 1, None),
              (4, 2, "same", 1, None), (1, 2, "valid", 1, [1, 1]), (1, 3, "same", 1, None),
              (2, 3, "valid", 1, [1, 1]), (2, 1, "valid", 3, None), (3, 1, "same", 2, None),
              (6, 4, "same", 1, None)]


def _transposed(kernel: int, stride: int, padding: str, dilation: int):
    doc = sequential(layer("Conv2DTranspose", "up", filters=3, kernel_size=[kernel, kernel],
                           strides=[stride, stride], padding=padding, output_padding=None,
                           data_format="channels_last", dilation_rate=[dilation, dilation],
                           activation="relu", use_bias=True,
                           kernel_initializer=init("HeUniform", seed=None),
                           bias_initializer=init("Zeros")), *HEAD, dense(), shape=(5, 5, 2))
    return import_keras(json.dumps(doc), "model.json").checked


@pytest.mark.parametrize("kernel, stride, padding, dilation, output_pad", TRANSPOSED)
def test_conv2d_transpose_is_conv_transpose_of_keras_output_size(kernel, stride, padding,
                                                                  dilation, output_pad):
    checked = _transposed(kernel, stride, padding, dilation)
    up = {entry["name"]: entry for entry in checked.spec.ir["layers"]}["up"]
    assert (up["kind"], up["kernel"], up["stride"], up["padding"]) == (
        "conv_transpose", [kernel, kernel], [stride, stride],
        padding)
    assert up.get("output_pad", [0, 0]) == (output_pad or [0, 0])
    size = keras_deconv_length(5, kernel, stride, padding, dilation)
    info = {info.name: info for info in checked.layers}["up"]
    assert info.output_shape == (3, size, size)
    # Keras' fans of its (kh, kw, filters, in) kernel: filters·k², in·k²
    assert (info.fan_in, info.fan_out) == (3 * kernel ** 2, 2 * kernel ** 2)
    assert up["weight_init"]["name"] == "he_uniform"


@pytest.mark.parametrize("kernel, stride, padding, dilation, output_pad", TRANSPOSED)
def test_conv2d_transpose_computes_tensorflows_conv2d_transpose(kernel, stride, padding,
                                                                dilation, output_pad):
    pytest.importorskip("torch")
    import cnnspec

    model = cnnspec.compile(_transposed(kernel, stride, padding, dilation), seed=0,
                            dtype="float64").eval()
    model.record = True
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    model.forward(x)
    expected = tf_conv_transpose(x, model.state_dict()["up.weight"], stride, padding, dilation)
    np.testing.assert_allclose(model.activations["up"], expected, rtol=1e-10, atol=1e-12)


# Keras initializer -> cnnspec init, on a conv kernel and on a bias of 4 units (Keras' fans of
# a (units,) shape are both units).
INITIALIZERS = [
    (init("GlorotUniform"), {"name": "glorot_uniform"},
     {"name": "uniform", "low": -math.sqrt(3 / 4), "high": math.sqrt(3 / 4)}),
    (init("GlorotNormal"),
     {"name": "variance_scaling", "scale": 1.0, "mode": "fan_avg",
      "distribution": "truncated_normal"},
     {"name": "truncated_normal", "mean": 0.0, "std": math.sqrt(1 / 4) / TRUNCATED_STD}),
    (init("HeNormal"), {"name": "variance_scaling", "scale": 2.0, "mode": "fan_in",
                        "distribution": "truncated_normal"},
     {"name": "truncated_normal", "mean": 0.0, "std": math.sqrt(2 / 4) / TRUNCATED_STD}),
    (init("HeUniform"), {"name": "he_uniform"},
     {"name": "uniform", "low": -math.sqrt(6 / 4), "high": math.sqrt(6 / 4)}),
    (init("LecunNormal"), {"name": "variance_scaling", "scale": 1.0, "mode": "fan_in",
                           "distribution": "truncated_normal"},
     {"name": "truncated_normal", "mean": 0.0, "std": math.sqrt(1 / 4) / TRUNCATED_STD}),
    (init("LecunUniform"), {"name": "lecun_uniform"},
     {"name": "uniform", "low": -math.sqrt(3 / 4), "high": math.sqrt(3 / 4)}),
    (init("VarianceScaling", scale=0.5, mode="fan_out", distribution="untruncated_normal"),
     {"name": "variance_scaling", "scale": 0.5, "mode": "fan_out", "distribution": "normal"},
     {"name": "normal", "mean": 0.0, "std": math.sqrt(0.5 / 4)}),
    # Keras 2's "normal" was its truncated normal
    ({"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                                  "distribution": "normal"}},
     {"name": "variance_scaling", "scale": 1.0, "mode": "fan_avg",
      "distribution": "truncated_normal"},
     {"name": "truncated_normal", "mean": 0.0, "std": math.sqrt(1 / 4) / TRUNCATED_STD}),
    (init("RandomNormal", mean=0.1, stddev=0.2), {"name": "normal", "mean": 0.1, "std": 0.2},
     {"name": "normal", "mean": 0.1, "std": 0.2}),
    (init("RandomUniform", minval=-0.3, maxval=0.1), {"name": "uniform", "low": -0.3,
                                                      "high": 0.1},
     {"name": "uniform", "low": -0.3, "high": 0.1}),
    # Keras' defaults, which the hints for its names (random_normal, minval=) quote too
    (init("RandomNormal"), {"name": "normal", "mean": 0.0, "std": 0.05},
     {"name": "normal", "mean": 0.0, "std": 0.05}),
    (init("RandomUniform"), {"name": "uniform", "low": -0.05, "high": 0.05},
     {"name": "uniform", "low": -0.05, "high": 0.05}),
    (init("TruncatedNormal", mean=0.0, stddev=0.05),
     {"name": "truncated_normal", "mean": 0.0, "std": 0.05},
     {"name": "truncated_normal", "mean": 0.0, "std": 0.05}),
    (init("Zeros"), {"name": "zeros"}, {"name": "zeros"}),
    (init("Ones"), {"name": "ones"}, {"name": "ones"}),
    (init("Constant", value=0.3), {"name": "constant", "value": 0.3},
     {"name": "constant", "value": 0.3}),
    ("he_uniform", {"name": "he_uniform"},  # an old Keras 2 string
     {"name": "uniform", "low": -math.sqrt(6 / 4), "high": math.sqrt(6 / 4)}),
]


@pytest.mark.parametrize(("keras", "weight", "bias"), INITIALIZERS,
                         ids=[json.dumps(i[0])[:40] for i in INITIALIZERS])
def test_initializers_map_exactly(keras, weight, bias):
    doc = sequential(conv(kernel_initializer=keras, bias_initializer=keras), *HEAD, dense())
    layer_ir = import_keras(json.dumps(doc)).checked.spec.ir["layers"][0]
    assert same_init(layer_ir["weight_init"], weight)
    assert same_init(layer_ir["bias_init"], bias)


def test_orthogonal_and_identity_kernels():
    doc = sequential(conv(kernel_initializer=init("Orthogonal", gain=2.0)), *HEAD,
                     dense(units=10, kernel_initializer=init("Identity", gain=1.0)),
                     shape=(6, 6, 1))
    layers = import_keras(json.dumps(doc)).checked.spec.ir["layers"]
    assert layers[0]["weight_init"] == {"name": "orthogonal", "gain": {"value": 2.0}}
    assert layers[2]["weight_init"] == {"name": "identity"}


def test_he_normal_draws_keras_truncated_normal():
    """Keras' he_normal: a normal of std sqrt(2 / fan_in) / 0.8796 cut at two of those stds,
    so the weights' std is sqrt(2 / fan_in) and none lies beyond the cut."""
    import cnnspec

    doc = sequential(conv(filters=64, kernel_initializer=init("HeNormal")), *HEAD, dense(),
                     shape=(8, 8, 32))
    weights = cnnspec.compile(import_keras(json.dumps(doc)).checked, seed=0).state_dict()
    w = weights["conv.weight"]
    std = math.sqrt(2 / (32 * 9))
    assert np.std(w) == pytest.approx(std, rel=0.03)
    assert np.abs(w).max() <= 2 * std / TRUNCATED_STD
    # the spec says so at the layer, whose variance_scaling does not name it; a plain name's
    # layer (glorot_uniform: the same draws in both) says nothing
    lines = import_keras(json.dumps(doc)).text.splitlines()
    (conv_line,) = [line for line in lines if line.startswith("conv:")]
    assert conv_line.endswith("# Keras' he_normal, cut at 2 std (cnnspec's he_normal is not)")
    assert not any("#" in line for line in lines if line.startswith("fc"))


def test_functional_output_and_keras3_nodes():
    """Keras 3's inbound nodes hold __keras_tensor__ objects; an output that is not the last
    layer becomes the spec's `output`."""
    def tensor(name):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": [None, 4], "dtype": "float32", "keras_history": [name, 0, 0]}}

    def node(*names):
        args = [tensor(n) for n in names]
        return [{"args": [args] if len(args) > 1 else args, "kwargs": {}}]

    doc = {"module": "keras", "class_name": "Functional", "config": {
        "name": "two_heads", "layers": [
            {**layer("InputLayer", "x", batch_shape=[None, 8, 8, 1]), "name": "x",
             "inbound_nodes": []},
            {**layer("Flatten", "f"), "name": "f", "inbound_nodes": node("x")},
            {**dense("a", 10), "name": "a", "inbound_nodes": node("f")},
            {**dense("b", 10), "name": "b", "inbound_nodes": node("f")},
            {**layer("Add", "sum"), "name": "sum", "inbound_nodes": node("a", "b")},
            {**dense("side", 3), "name": "side", "inbound_nodes": node("f")}],
        "input_layers": [["x", 0, 0]], "output_layers": [["sum", 0, 0]]}}
    checked = import_keras(json.dumps(doc)).checked
    assert checked.spec.ir["output"] == "sum"
    assert checked.spec.ir["layers"][3]["inputs"] == ["a", "b"]
    assert checked.spec.ir["training"]["data"]["name"] == "digits"  # 1x8x8, 10 classes


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("doc", "message", "where"), [
    ([1, 2], "this JSON is not a Keras model", "$"),
    ({"version": 9, "name": "n", "input": {"shape": [1, 8, 8]}, "layers": []},
     "this JSON is a cnnspec IR file, not a Keras model", "$"),
    ({"class_name": "Dense", "config": {"units": 3}}, "the top of this JSON is a Dense",
     "$.class_name"),
    (sequential(conv(data_format="channels_first")),
     'data_format="channels_first" of Conv2D \'conv\' is not supported',
     "$.config.layers[1].config.data_format"),
    (sequential(conv(kernel_initializer=init("GlorotUniformish"))),
     "the Keras initializer", "$.config.layers[1].config.kernel_initializer"),
    (sequential(conv(bias_initializer=init("Orthogonal"))), "is not supported for a bias",
     "$.config.layers[1].config.bias_initializer"),
    (sequential(layer("LSTM", "lstm", units=4)), "the Keras layer LSTM is not supported",
     "$.config.layers[1].class_name"),
    (sequential(dense()), "Dense 'fc' on an image acts on each pixel's channels",
     "$.config.layers[1]"),
    (sequential(conv(kernel_regularizer={"class_name": "L2", "config": {"l2": 0.01}})),
     "the argument kernel_regularizer=", "$.config.layers[1].config.kernel_regularizer"),
    (sequential(conv(activation="selu")), 'the activation "selu" of Conv2D',
     "$.config.layers[1].config.activation"),
    (sequential(conv(filters=0)), "filters of Conv2D 'conv' must be a whole number >= 1",
     "$.config.layers[1].config.filters"),
    (sequential(layer("Dropout", "d", rate="half")), "rate of Dropout 'd' must be a number",
     "$.config.layers[1].config.rate"),
    (sequential(conv(use_bias="yes")), "use_bias of Conv2D 'conv' must be true or false",
     "$.config.layers[1].config.use_bias"),
    (sequential(conv(kernel_initializer=init("RandomNormal", stddev="big"))),
     "stddev of the initializer must be a number",
     "$.config.layers[1].config.kernel_initializer.config.stddev"),
    (sequential(conv(kernel_initializer=init("GlorotUniform", seed=None, input_axes=[2],
                                             output_axes=[3]))),
     "the initializer's input_axes=[2] is not supported",
     "$.config.layers[1].config.kernel_initializer.config.input_axes"),
    (sequential(conv(padding="causal")), 'padding "causal" of Conv2D',
     "$.config.layers[1].config.padding"),
    (sequential(*HEAD, layer("Conv2D", "late", filters=2, kernel_size=[1, 1])),
     "Conv2D 'late' takes an image", "$.config.layers[2]"),
    (sequential(layer("BatchNormalization", "bn", axis=1)),
     "BatchNormalization 'bn' normalises axis 1", "$.config.layers[1].config.axis"),
    (sequential(layer("BatchNormalization", "bn", center=False)),
     "BatchNormalization 'bn' learns only a scale", "$.config.layers[1].config.center"),
    (sequential(layer("Concatenate", "c", axis=1)), "Concatenate 'c' needs two or more inputs",
     "$.config.layers[1]"),
    (sequential(layer("ReLU", "r", max_value=4.0)), "ReLU 'r' with max_value 4.0",
     "$.config.layers[1].config.max_value"),
    (sequential(layer("Conv2DTranspose", "up", filters=2, kernel_size=[3, 3],
                      output_padding=[1, 1])),
     'output_padding=[1, 1] of Conv2DTranspose', "$.config.layers[1].config.output_padding"),
    (sequential(layer("UpSampling2D", "up", size=[2, 2], interpolation="bicubic")),
     'interpolation "bicubic" of UpSampling2D', "$.config.layers[1].config.interpolation"),
    (sequential(layer("UpSampling2D", "up", size=[2, 0])),
     "size of UpSampling2D 'up' must be one or two whole numbers",
     "$.config.layers[1].config.size"),
    ({"class_name": "Sequential", "config": {"name": "m", "layers": [dense()]}},
     "the model does not say its input shape", "$.config.layers[0]"),
    (sequential(conv(), shape=(8, 8)), "the input shape [null, 8, 8] is not an image",
     "$.config.layers[0]"),
    ({"class_name": "Functional", "config": {"layers": [
        {**layer("InputLayer", "x", batch_input_shape=[None, 4, 4, 1]), "inbound_nodes": []},
        {**dense("d"), "inbound_nodes": [[["nowhere", 0, 0, {}]]]}]}},
     "the input nowhere of Dense 'd' is not an earlier layer", "$.config.layers[1]"),
    ({"class_name": "Functional", "config": {
        "layers": [{**layer("InputLayer", "x", batch_input_shape=[None, 4, 4, 1]),
                    "inbound_nodes": []}],
        "input_layers": [["x", 0, 0]], "output_layers": [["x", 0, 0], ["x", 0, 1]]}},
     "the model has 2 outputs", "$.config.output_layers"),
])
def test_mistakes_and_unsupported_parts_name_their_json_path(doc, message, where):
    errors = errors_of(doc)
    found = [e for e in errors if message in e.message]
    assert found, [e.message for e in errors]
    assert found[0].json_path == where and found[0].file == "model.json"


def _functional(*layers: dict) -> dict:
    """A Keras 2 functional model on a 8x8x1 input ``x`` of ``layers``, the last the output."""
    first = {**layer("InputLayer", "x", batch_input_shape=[None, 8, 8, 1]), "name": "x",
             "inbound_nodes": []}
    return {"class_name": "Functional", "config": {
        "name": "m", "layers": [first, *layers], "input_layers": [["x", 0, 0]],
        "output_layers": [[layers[-1].get("name") or layers[-1]["config"]["name"], 0, 0]]}}


def _fed(keras_layer: dict, *inputs: str) -> dict:
    return {**keras_layer, "inbound_nodes": [[[name, 0, 0, {}] for name in inputs]]}


def test_zero_padding_is_the_padding_of_the_layer_after_it_as_keras_shapes_say():
    imported = import_file(STEM)
    layers = {entry["name"]: entry for entry in imported.checked.spec.ir["layers"]}
    assert [layers[name]["padding"] for name in (
        "conv1_conv", "pool1_pool", "block_conv", "avg_pool")] == [
        [3, 3], [1, 1], [0, 1, 0, 1], [1, 1]]
    keras_shapes = {"conv1_conv": (8, 8, 8), "pool1_pool": (8, 4, 4), "block_conv": (16, 2, 2),
                    "avg_pool": (16, 2, 2), "predictions": (10,)}
    shapes = {info.name: info.output_shape for info in imported.checked.layers}
    assert {name: shapes[name] for name in keras_shapes} == keras_shapes
    assert imported.checked.total_params == 2538 and not any(name.endswith("_pad")
                                                             for name in layers)
    assert imported.notes == [("conv1_pad, pool1_pad, block_pad and avg_pad (ZeroPadding2D) "
                              "written as the `pad` of the conv or pool that reads each")]


@pytest.mark.parametrize("padding, first, pads", [
    (2, None, [2, 2]),
    ([1, 2], None, [1, 2]),
    ([[0, 1], [2, 3]], None, [0, 1, 2, 3]),
    ([[0, 1], [2, 3]], [[1, 1], [0, 0]], [1, 2, 2, 3]),  # two in a row add up
])
def test_each_form_of_zero_padding_pads_the_conv(padding, first, pads):
    before = [layer("ZeroPadding2D", "pad0", padding=first)] if first else []
    doc = sequential(*before, layer("ZeroPadding2D", "pad", padding=padding),
                     conv(padding="valid"), *HEAD, dense())
    layers = import_keras(json.dumps(doc), "model.json").checked.spec.ir["layers"]
    assert {entry["name"]: entry for entry in layers}["conv"]["padding"] == pads


ZERO_PAD = layer("ZeroPadding2D", "pad", padding=1)


@pytest.mark.parametrize("doc, message, where", [
    (sequential(conv(), ZERO_PAD, layer("MaxPooling2D", "pool", pool_size=[2, 2]), *HEAD,
                dense()),
     ("MaxPooling2D 'pool' takes the maximum over a ZeroPadding2D's zeros, where its input may "
     "be below 0"), "$.config.layers[3]"),
    (sequential(ZERO_PAD, conv(padding="same"), *HEAD, dense()),
     "Conv2D 'conv' pads same after a ZeroPadding2D", "$.config.layers[2].config.padding"),
    (sequential(conv(), ZERO_PAD, *HEAD, dense()),
     "Flatten 'flat' reads the ZeroPadding2D 'pad'", "$.config.layers[3]"),
    (sequential(layer("ZeroPadding2D", "pad", padding=[[1, 2, 3]]), conv(), *HEAD, dense()),
     ("padding of ZeroPadding2D 'pad' must be a whole number, [h, w] or [[top, bottom], "
     "[left, right]], not [[1, 2, 3]]"), "$.config.layers[1].config.padding"),
    (sequential(layer("ZeroPadding2D", "pad", padding=-1), conv(), *HEAD, dense()),
     "padding of ZeroPadding2D 'pad' must be", "$.config.layers[1].config.padding"),
    (_functional(_fed(conv(), "x"), _fed(ZERO_PAD, "conv")),
     "the model's output is the ZeroPadding2D 'pad'", "$.config.output_layers"),
])
def test_zero_padding_a_layer_cannot_take_is_refused_where_it_is_read(doc, message, where):
    errors = errors_of(doc)
    assert [(e.message, e.json_path) for e in errors if message in e.message] == [
        (next(e.message for e in errors if message in e.message), where)]


@pytest.mark.parametrize("tensor", [
    {"class_name": "__keras_tensor__", "config": {"keras_history": 1.5}},
    {"class_name": "__keras_tensor__", "config": 2},
    {"class_name": "__keras_tensor__", "config": {"keras_history": [7, 0, 0]}},
])
def test_a_keras_tensor_naming_no_layer_is_no_input(tensor):
    fed = {**dense("d"), "inbound_nodes": [{"args": [tensor], "kwargs": {}}]}
    errors = errors_of(_functional(_fed(layer("Flatten", "f"), "x"), fed))
    assert [(e.message, e.json_path) for e in errors] == [
        ("the input of Dense 'd' is not an earlier layer", "$.config.layers[2]")]


@pytest.mark.parametrize("second_input", ["x", "conv_b"])
def test_two_layers_of_one_name_are_a_duplicate_where_the_second_is(second_input):
    """The second took over the name: an Add of both was imported as the second added to
    itself, or (the second fed by the first) its input was "not an earlier layer"."""
    doc = _functional(_fed(conv("conv_b", padding="same"), "x"),
                      _fed(conv("conv_b", padding="same"), second_input),
                      _fed(layer("Add", "add"), "conv_b", "conv_b"))
    (error,) = errors_of(doc)
    assert error.message == ("Conv2D 'conv_b' has the name of an earlier layer, at "
                             "$.config.layers[1]")
    assert error.json_path == "$.config.layers[2].config.name"
    assert error.hint.startswith("Keras names each layer of a model once")


def test_a_duplicate_named_outside_its_config_is_located_there():
    second = {**_fed(dense("d", 4), "f"), "name": "f"}
    del second["config"]["name"]
    doc = _functional(_fed(layer("Flatten", "f"), "x"), second)
    (error,) = errors_of(doc)
    assert error.message.startswith("Dense 'f' has the name of an earlier layer, at "
                                    "$.config.layers[1]")
    assert error.json_path == "$.config.layers[2].name"


@pytest.mark.parametrize("first", [
    conv(input_shape=[32, 32, 3]),  # Keras 2: Sequential([Conv2D(..., input_shape=...)])
    conv(batch_input_shape=[None, 32, 32, 3]),
])
def test_a_sequential_without_an_input_layer_takes_its_first_layers_shape(first):
    doc = {"class_name": "Sequential", "config": {"name": "m",
                                                  "layers": [first, *HEAD, dense()]}}
    imported = import_keras(json.dumps(doc), "model.json")
    assert imported.checked.input_shape == (3, 32, 32)  # channels last read as CxHxW


def test_a_model_without_any_input_shape_says_where_to_give_it():
    [err] = errors_of({"class_name": "Sequential", "config": {"name": "m",
                                                              "layers": [conv(), *HEAD]}})
    assert err.message == "the model does not say its input shape"
    assert "keras.Input(shape=(28, 28, 1))" in err.hint and "input_shape=" in err.hint


@pytest.mark.parametrize("key, regularizer, decay", [
    ("kernel_regularizer", {"class_name": "L2", "config": {"l2": 0.0005}}, "0.001"),
    # Keras keeps its factors as float32: 0.0005 saved as float32 is still weight_decay 0.001
    ("kernel_regularizer", {"class_name": "L2", "config": {"l2": 0.0005000000237487257}},
     "0.001"),
    ("kernel_regularizer", "l2", "0.02"),  # Keras' default factor 0.01
    ("kernel_regularizer", {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.25}}, "0.5"),
    ("bias_regularizer", {"class_name": "L2", "config": {"l2": 0.003}}, "0.006"),
])
def test_an_l2_regularizer_is_told_its_weight_decay(key, regularizer, decay):
    """Keras' L2(l2) adds l2 * ||w||^2 to the loss, gradient 2 * l2 * w; cnnspec's
    weight_decay adds weight_decay * w to the gradient: weight_decay = 2 * l2."""
    [err] = errors_of(sequential(*HEAD, dense("d", **{key: regularizer})))
    quoted = json.dumps(regularizer)
    assert err.message == f"the argument {key}={quoted} of Dense 'd' is not supported"
    assert err.json_path == f"$.config.layers[2].config.{key}"
    assert f"write `weight_decay {decay}`" in err.hint and "no equivalent" not in err.hint
    assert ("decay_bias false" in err.hint) == (key == "kernel_regularizer")


@pytest.mark.parametrize("regularizer", [
    {"class_name": "L1", "config": {"l1": 0.01}},
    {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.01}},
    {"class_name": "L2", "config": {"l2": "much"}},
])
def test_other_regularizers_have_no_equivalent(regularizer):
    [err] = errors_of(sequential(conv(kernel_regularizer=regularizer)))
    assert "no equivalent" in err.hint and "weight_decay" not in err.hint


def test_a_long_unsupported_value_is_cut_saying_its_length():
    """It was cut at 40 characters, in the middle of a number."""
    value = {"class_name": "Custom", "config": {"factors": list(range(100))}}
    [err] = errors_of(sequential(conv(kernel_constraint=value)))
    text = json.dumps(value)
    assert f"kernel_constraint={text[:80]}... ({len(text):,} characters) of" in err.message


def test_invalid_json_is_located():
    [err] = errors_of('{"class_name": "Sequential",\n  "config": {"layers": [}\n}')
    assert err.message.startswith("not valid JSON")
    assert (err.span.line, err.span.column) == (2, 25)


@pytest.mark.parametrize("value, message", [
    # deeper than any model and than the recursive readers after json take: refused at the
    # first bracket too deep, before anything recurses into it
    ("[" * 600 + "]" * 600, "lists and objects nested more than 64 deep"),
    ("NaN", "not valid JSON: NaN is not a number in JSON"),
    ("9" * 5000, "a number of 5,000 digits, beyond any float"),  # int() refuses 4,300+
    ("-" + "9" * 400, "a number of 400 digits, beyond any float"),
])
def test_json_beyond_any_model_is_located(value, message):
    """The Keras importer reads its JSON with the IR's reader (cnnspec.ir.io.parse_json)."""
    text = json.dumps(sequential(conv())).replace('"filters": 4', f'"filters": {value}', 1)
    assert '"filters": ' + value[:5] in text
    [err] = errors_of(text)
    assert err.message == message and err.file == "model.json"
    assert err.span.line == 1 and err.span.column > 1


@pytest.mark.parametrize("name", [["conv"], 3, "", None])
def test_a_layer_named_by_no_string_names_no_input(name):
    """A layer's name that is not a string (damage) is not taken for the next layer's input:
    the mistakes are reported, never a TypeError from looking the name up."""
    bad = conv(name="x", data_format="channels_first")
    bad["config"]["name"] = name
    errors = errors_of(sequential(bad, conv(name="after")))
    assert errors[0].json_path == "$.config.layers[1].config.data_format"


def test_every_unsupported_layer_is_reported_at_once():
    errors = errors_of(sequential(layer("LSTM", "a"), conv(data_format="channels_first"),
                                  layer("GRU", "b")))
    assert [e.json_path for e in errors] == ["$.config.layers[1].class_name",
                                             "$.config.layers[2].config.data_format",
                                             "$.config.layers[3].class_name"]


def test_a_frozen_keras_layer_is_frozen():
    doc = sequential(conv(trainable=False), layer("BatchNormalization", "bn", trainable=False),
                     *HEAD, dense())
    layers = import_keras(json.dumps(doc)).checked.spec.ir["layers"]
    assert layers[0]["trainable"] is False and layers[1]["trainable"] is False


# ---------------------------------------------------------------------------- robustness


def _mutated(doc, rng: random.Random):
    """``doc`` with one value somewhere replaced by something else, or one key deleted."""
    doc = copy.deepcopy(doc)
    node, parents = doc, []
    while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        parents.append((node, key))
        node = node[key]
    if not parents:
        return doc
    parent, key = parents[-1]
    choice = rng.randrange(3)
    if choice == 0 and isinstance(parent, dict):
        del parent[key]
    else:
        parent[key] = rng.choice([None, -1, 0, 2.5, "same", "x", [], {}, [None, 3], True, ["a"],
                                  {"class_name": "Zeros"}, 1e300, "channels_first"])
    return doc


def test_fuzzed_models_never_raise_a_traceback():
    rng = random.Random(13)
    sources = [load(CONVNET), load(EVERY), load(BLOCKS)]
    outcomes = {"ok": 0, "error": 0}
    for i in range(300):
        doc = _mutated(sources[i % len(sources)], rng)
        text = json.dumps(doc)
        if i % 5 == 0:  # text-level damage too
            j = rng.randrange(len(text))
            text = text[:j] + rng.choice(["", "]", "{", '"', ",", "1"]) + text[j + 3:]
        try:
            import_keras(text, "fuzz.json")
            outcomes["ok"] += 1
        except (SpecError, SpecErrors, RunError):
            outcomes["error"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


# ---------------------------------------------------------------------------- command line


@pytest.mark.parametrize("option, value, hint", [
    ("--solver", "s.prototxt", "its compile_config's"),
    ("--input", "1x28x28", "says its input shape itself"),
    ("--epoch-images", "54000", "write `epochs N` in the train block"),
])
def test_a_caffe_option_given_for_a_keras_model_is_told_what_keras_has(option, value, hint,
                                                                       tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("s.prototxt").write_text("base_lr: 0.01\n")
    assert main(["import", str(CONVNET), option, value]) == 2
    err = capsys.readouterr().err
    assert f"error: {option} is for Caffe models, not {CONVNET}" in err
    assert hint in next(line for line in err.splitlines() if line.startswith("hint: "))
    with pytest.raises(InputError, match="solver is for Caffe models"):
        import_file(CONVNET, solver="s.prototxt")


def test_cli_imports_keras_json(tmp_path, capsys):
    out = tmp_path / "convnet.cnn"
    assert main(["import", str(CONVNET), "-o", str(out)]) == 0
    assert "34,826 parameters" in capsys.readouterr().err
    assert main(["check", str(out)]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sequential(conv(data_format="channels_first"))))
    assert main(["import", str(bad)]) == 2
    assert f"{bad}: $.config.layers[1].config.data_format: error:" in capsys.readouterr().err


@pytest.mark.parametrize("config, shown", [
    # refused by the parser (a size beyond 2^31 - 1: a ZeroPadding2D's, which no key of the
    # conv it folds into holds) and by the checker (a kernel too large)
    ({"padding": [[10**30, 1], [1, 1]]}, ("imported.cnn:7:22: error: the size "
     "100000000000... (31 digits) is too large")),
    ({"kernel_size": [99, 99]}, "imported.cnn:6:14: error: the 99x99 kernel of conv 'conv'"),
])
def test_an_imported_spec_that_does_not_check_is_named_alike(config, shown, tmp_path, capsys,
                                                              monkeypatch):
    """Whether the parser or the checker refuses the written spec, the error names it
    imported.cnn (the parser's errors were <spec>). (The source is named from its folder:
    the spec's header comment names it, and a long path takes two lines.)"""
    monkeypatch.chdir(tmp_path)
    source = Path("model.json")
    layers = [layer("ZeroPadding2D", "zp", data_format="channels_last", **config), conv()] \
        if "padding" in config else [conv(**config)]
    source.write_text(json.dumps(sequential(*layers, shape=(28, 28, 1))))
    assert main(["import", str(source)]) == 2
    err = capsys.readouterr().err
    assert f"the spec imported from {source} does not check:\n{shown}" in err
    assert "<spec>" not in err


@pytest.mark.parametrize("name, what, hint", [
    ("model.h5", "is a Keras model saved with model.save() (HDF5), not a model's",
     "write(model.to_json()), then import model.json"),
    ("lenet.caffemodel", "is Caffe's trained weights, not a model's architecture as text",
     "import the model definition, a .prototxt"),
    ("net.pth", "is a PyTorch file", "write a PyTorch network as a spec by hand"),
    ("digits.cnn", "is a cnnspec spec already", "it needs no import: every command reads it"),
    # was: not UTF-8; then: an ONNX model, not text (before ONNX imported)
    ("model.onnx", "is not an ONNX model", "torch.onnx.export"),
    ("weights.bin", "is not a file cnnspec imports: it imports Caffe .prototxt, Keras",
     "a Caffe model definition ends in .prototxt"),  # was: not UTF-8, save the spec as UTF-8
])
def test_a_saved_model_or_weights_file_says_what_to_import_instead(name, what, hint, tmp_path,
                                                                     capsys):
    """A .h5 was 'not UTF-8 text: save the spec as UTF-8'."""
    if name.endswith(".onnx"):  # read by the onnx package, which says it is none
        pytest.importorskip("onnx", reason="onnx not installed: pip install 'cnnspec[onnx]'")
    source = tmp_path / name
    source.write_bytes(b"\x89HDF\r\n\x1a\n")
    assert main(["import", str(source)]) == 2
    err = capsys.readouterr().err
    assert f"error: {source} {what}" in err and "hint: " in err and hint in err


def _keras_archive(path, **members):
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name.replace("_", "."), data)
    return path


def test_a_keras_archive_imports_as_its_json(tmp_path, capsys, monkeypatch):
    """Keras 3's model.save() writes a .keras zip whose config.json is model.to_json()'s
    text; it was refused as a saved model to be written out with to_json() first."""
    text = (DATA / "mnist_convnet.json").read_text()
    monkeypatch.chdir(tmp_path)  # a short name: the header is not wrapped
    archive = _keras_archive(Path("convnet.keras"), config_json=text,
                             metadata_json='{"keras_version": "3.6.0"}',
                             model_weights_h5=b"\x89HDF\r\n\x1a\n")
    assert main(["import", str(archive), "-o", str(tmp_path / "a.cnn")]) == 0
    assert main(["import", str(DATA / "mnist_convnet.json"), "-o",
                 str(tmp_path / "j.cnn")]) == 0
    capsys.readouterr()
    archived, plain = (tmp_path / "a.cnn").read_text(), (tmp_path / "j.cnn").read_text()
    assert f"Imported from {archive}/config.json (Keras" in archived
    assert archived[archived.index("\nmodel "):] == plain[plain.index("\nmodel "):]


@pytest.mark.parametrize("members, error", [
    ({"config_json": (DATA / "mnist_convnet.json").read_text().replace('"Conv2D"', '"Conv3D"',
                                                                          1)},
     ("{}/config.json: $.config.layers[1].class_name: error: the Keras layer Conv3D is not "
      "supported")),
    ({"metadata_json": "{}"},
     "error: {} holds no config.json: it is no Keras model saved with model.save()"),
    (None, "error: {} is not a .keras archive Keras writes: File is not a zip file"),
])
def test_a_keras_archive_s_mistakes_are_named_in_it(members, error, tmp_path, capsys):
    path = tmp_path / "model.keras"
    if members is None:
        path.write_bytes(b"\x89HDF\r\n\x1a\n")
    else:
        _keras_archive(path, **members)
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert error.format(path) in err
    assert "Traceback" not in err


@pytest.mark.parametrize("compression, words", [
    (zipfile.ZIP_DEFLATED, "while decompressing data"), (zipfile.ZIP_BZIP2, "Invalid data stream"),
    (zipfile.ZIP_LZMA, "Corrupt input data")])
def test_a_keras_archive_whose_config_stream_is_damaged_is_named(compression, words, tmp_path,
                                                                 capsys):
    """LZMA's damage ended in LZMAError's traceback, bz2's exited 1 as a disk's failure
    ('cannot read: Invalid data stream')."""
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("config.json", CONVNET.read_text())
    path.write_bytes(npz_cases.damaged_stream(path.read_bytes(), "config.json"))
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {path} is not a .keras archive Keras writes: " in err and words in err
    assert "Traceback" not in err


def test_a_suffix_in_capitals_is_imported_as_its_format(tmp_path, capsys):
    """LENET.PROTOTXT and MODEL.JSON were refused as files cnnspec does not import."""
    source = tmp_path / "MODEL.JSON"
    source.write_text(json.dumps(sequential(conv(), shape=(28, 28, 1))))
    assert main(["import", str(source), "-o", str(tmp_path / "model.cnn")]) == 0
    caffe = tmp_path / "LENET.PROTOTXT"
    caffe.write_text((Path(__file__).parent / "data" / "import" / "lenet.prototxt").read_text())
    assert main(["import", str(caffe), "--input", "1x28x28", "-o",
                 str(tmp_path / "lenet.cnn")]) == 0


def test_a_cnnspec_ir_file_needs_no_import(tmp_path, capsys, started_from_venv):
    ir = tmp_path / "ir.json"
    assert main(["export", str(Path(__file__).parents[1] / "specs" / "digits.cnn"), "-o",
                 str(ir)]) == 0
    assert main(["import", str(ir)]) == 2
    assert ("hint: it needs no import: every command reads it as it is, e.g. "
            f".venv/bin/cnnspec check {ir}") in capsys.readouterr().err
    with pytest.raises(SpecError) as raised:  # to the library, the program's own name
        import_file(ir)
    assert raised.value.hint.endswith(f"e.g. cnnspec check {ir}")


def test_docs_table_every_mapped_class_initializer_and_activation():
    from cnnspec.importers.keras import ACTIVATIONS, INITIALIZERS, LAYERS

    docs = (Path(__file__).parents[1] / "docs" / "importing.md").read_text()
    aliases = {"Convolution2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D"}
    for name in [*(set(LAYERS) - aliases), *INITIALIZERS, *ACTIVATIONS]:
        assert f"`{name}`" in docs, name


# Keras' ReLU is the kind its arguments choose (lang.foreign.KERAS_CHOSEN): the importer makes
# it, and a spec's line that calls the class is told to write it.
@pytest.mark.parametrize("config, kind", [
    ({}, "relu"),
    ({"max_value": 6.0}, "relu6"),
    ({"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}, "relu6"),
    ({"negative_slope": 0.1}, "leaky_relu"),
    ({"max_value": None, "negative_slope": 0.0}, "relu"),
])
def test_a_relu_is_imported_as_the_kind_a_specs_hint_names(config, kind):
    doc = sequential(conv(), layer("ReLU", "r", **config), *HEAD, dense())
    layers = import_keras(json.dumps(doc), "model.json").checked.spec.ir["layers"]
    assert {layer["name"]: layer["kind"] for layer in layers}["r"] == kind
    call = ", ".join(f"{key}={value}" for key, value in config.items())
    with pytest.raises(SpecError) as caught:
        parse(f"input 1x8x8\nconv 4 3x3\nr: layers.ReLU({call})\nflatten\ndense 10\n")
    assert caught.value.hint.startswith(f"this is Keras syntax; in cnnspec the layer is the "
                                        f"line `r: {kind}"), caught.value.hint


def test_a_relu_capped_elsewhere_than_6_is_told_the_same_by_importer_and_hint():
    [error] = errors_of(sequential(conv(), layer("ReLU", "r", max_value=4.0), *HEAD, dense()))
    with pytest.raises(SpecError) as caught:
        parse("input 1x8x8\nconv 4 3x3\nr: layers.ReLU(max_value=4)\nflatten\ndense 10\n")
    assert error.hint in caught.value.hint and "relu6" in error.hint
    assert "`r: relu" not in caught.value.hint  # no line: no kind is that ReLU


@pytest.mark.parametrize("keras_class", ["HeNormal", "GlorotNormal", "LecunNormal",
                                         "HeUniform", "GlorotUniform", "LecunUniform"])
def test_a_keras_init_written_in_a_spec_is_hinted_as_the_importer_writes_it(keras_class):
    """`weight HeNormal` in a spec gets the init (and the note) that importing a Keras model
    with HeNormal writes on its line, not he_normal, which does not cut the normal."""
    doc = sequential(conv(filters=4, kernel_initializer=init(keras_class)), *HEAD, dense(),
                     shape=(8, 8, 1))
    lines = import_keras(json.dumps(doc)).text.splitlines()
    # two layers of HeNormal and glorot_uniform: the conv's init is the spec's default
    (default,) = [line for line in lines if line.startswith("default weight ")]
    written = default.removeprefix("default weight ").removesuffix(", bias zeros")
    (conv_line,) = [line for line in lines if line.startswith("conv:")]
    note = conv_line.partition("  # ")[2]
    with pytest.raises(SpecError) as caught:
        parse(f"input 1x8x8\nc1: conv 4 3x3 weight {keras_class}\nflatten\ndense 10\n")
    error = caught.value
    assert (error.span.line, error.span.column) == (2, 23)
    assert error.hint == f"Keras' {keras_class} is {written} here" + (
        f": {note}" if note else "")


KERAS_CLASSES = ["HeNormal", "GlorotNormal", "LecunNormal",
                 "HeUniform", "GlorotUniform", "LecunUniform"]
ONE_CONV = "input 1x8x8\nc1: conv 4 3x3 weight {}\nflatten\ndense 10\n"


def _weight_init(init_text: str) -> dict:
    """The IR init of the conv of ONE_CONV with ``weight init_text``."""
    return parse(ONE_CONV.format(init_text)).ir["layers"][0]["weight_init"]


@pytest.mark.parametrize("name", ["he_Normal", "kaiming_normal", *KERAS_CLASSES])
def test_an_init_name_a_json_ir_lacks_is_hinted_with_the_init_to_paste(name, tmp_path, capsys):
    """A JSON IR naming "he_Normal" got "did you mean 'he_normal'?" where a spec's line got
    what Keras' HeNormal is; one naming "kaiming_normal" (an alias a spec may write) got "did
    you mean 'lecun_normal'?"; and the Keras hint was .cnn text a JSON user cannot paste. The
    hint now holds the init as the IR writes it: pasted in, the IR checks, with the init the
    spec's advice (or the alias itself) means."""
    from cnnspec.init.keras import written
    from cnnspec.ir.io import to_json

    meant = _weight_init(written(name) or name)
    if written(name):  # a spec's line is told the same init
        with pytest.raises(SpecError) as caught:
            parse(ONE_CONV.format(name))
        assert caught.value.hint.startswith("Keras' ") and written(name) in caught.value.hint
    ir = parse(ONE_CONV.format("he_normal")).ir
    ir["layers"][0]["weight_init"] = {"name": name}
    path = tmp_path / "net.json"
    path.write_text(to_json(ir))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f'$.layers[0].weight_init.name: error: "{name}" is not one of' in err
    hint = err.partition("\nhint: ")[2]
    assert "did you mean" not in hint and "{" in hint
    pasted, _ = json.JSONDecoder().raw_decode(hint[hint.index("{"):])
    assert pasted == meant
    ir["layers"][0]["weight_init"] = pasted
    path.write_text(to_json(ir))
    assert main(["check", str(path)]) == 0


def test_a_layer_called_on_two_tensors_or_twice_is_refused_at_its_inbound_nodes():
    """Only a merge reads several tensors. A Conv2D given two in one call is no model Keras
    builds; one called twice (two nodes) shares its weights between two places, which
    cnnspec, whose every layer has its own, cannot write. Both were written into the spec
    and refused there, at imported.cnn's lines, a file no one wrote."""
    two = _fed(conv("c"), "x", "x")
    (error,) = errors_of(_functional(two, _fed(layer("Flatten", "flat"), "c"),
                                     _fed(dense(), "flat")))
    assert error.message == "Conv2D 'c' is called on 2 tensors (x and x), where it takes one"
    assert error.json_path == "$.config.layers[1].inbound_nodes"
    shared = {**conv("c", padding="same"), "inbound_nodes": [[["x", 0, 0, {}]],
                                                             [["a", 0, 0, {}]]]}
    doc = _functional(_fed(conv("a", filters=1, padding="same"), "x"), shared,
                      _fed(layer("Flatten", "flat"), "c"), _fed(dense(), "flat"))
    (error,) = errors_of(doc)
    assert error.message == ("Conv2D 'c' is called 2 times, on x and a: a layer whose "
                             "weights the places it is called at share, which cnnspec cannot "
                             "write (each layer has weights of its own)")
    assert error.json_path == "$.config.layers[2].inbound_nodes"
    assert error.hint == "call a layer of its own at each place (their weights then train apart)"


def test_a_frozen_sequential_block_freezes_its_layers_whatever_their_own_config_says():
    """Keras trains none of a block whose trainable is false (its trainable_weights are
    empty, its layers' own flags unread); its layers were imported trainable where their
    configs said true, as a file written by hand or edited says."""
    block = _block("blk", conv("c"), layer("BatchNormalization", "bn", axis=-1))
    block["config"]["trainable"] = False
    doc = sequential(block, *HEAD, dense())
    layers = import_keras(json.dumps(doc)).checked.spec.ir["layers"]
    assert [(entry["name"], entry.get("trainable")) for entry in layers] == [
        ("blk_c", False), ("blk_bn", False), ("flat", None), ("fc", True)]


def test_a_frozen_model_imports_frozen_and_a_trainable_not_true_or_false_is_refused():
    """``model.trainable = False`` trains none of its layers in Keras: each is `frozen`, and
    check says nothing trains. A trainable of "x" was read as true, false as true."""
    doc = sequential(conv(), *HEAD, dense())
    doc["config"]["trainable"] = False
    checked = import_keras(json.dumps(doc)).checked
    assert [entry.get("trainable") for entry in checked.spec.ir["layers"]] == [False, None,
                                                                                False]
    assert "nothing-trains" in [w.lint for w in checked.warnings]
    doc["config"]["trainable"] = "x"
    (error,) = errors_of(doc)
    assert error.message == "trainable of Sequential 'model' must be true or false, not \"x\""
    assert error.json_path == "$.config.trainable"


@pytest.mark.parametrize("keras_name, kind", [
    ("mish", "mish"), ("swish", "silu"), ("hard_silu", "hardswish"), ("gelu", "gelu"),
    ("elu", "elu")])
def test_an_activation_string_is_imported_as_its_kind_on_a_layer_and_alone(keras_name, kind):
    """Keras' activation names (keras.activations, tf.keras from 2.13 for mish) as a layer's
    ``activation=`` and as an ``Activation`` layer (whose gelu and elu, their fields left to
    their defaults, were a KeyError in the spec's writer)."""
    doc = sequential(conv(activation=keras_name), layer("Activation", "act",
                                                        activation=keras_name), *HEAD, dense())
    layers = import_keras(json.dumps(doc), "model.json").checked.spec.ir["layers"]
    kinds = {layer["name"]: layer["kind"] for layer in layers}
    assert kinds["act"] == kind
    assert list(kinds.values()).count(kind) == 2, kinds
