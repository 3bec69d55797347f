"""A small checked spec built by hand (no parser or checker needed), with every feature the
diagram draws: a frozen fixed kernel, a scaled init, a residual add inside a repeated block,
pooling, flatten and a dense layer."""
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.init.describe import describe
from cnnspec.init.fans import fans
from cnnspec.ir.spec import Spec

HE = {"name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}}
GLOROT = {"name": "glorot_uniform", "gain": {"value": 1.0}}
ZEROS = {"name": "zeros"}


def _conv(name, inputs, in_shape, filters, init, trainable=True, group=None):
    c, h, w = in_shape
    weight = (filters, c, 3, 3)
    ir = {"name": name, "kind": "conv", "inputs": inputs, "group": group, "filters": filters,
          "kernel": [3, 3], "stride": [1, 1], "padding": "same", "dilation": [1, 1],
          "bias": True, "weight_init": init, "bias_init": ZEROS, "trainable": trainable}
    params = filters * c * 9 + filters
    return LayerInfo(name, "conv", ir, inputs, [in_shape], (filters, h, w), pads=(1, 1, 1, 1),
                     weight_shape=weight, bias_shape=(filters,), params=params,
                     trainable_params=params if trainable else 0,
                     fan_in=fans(weight)[0], fan_out=fans(weight)[1],
                     weight_init=describe(init, weight), bias_init=describe(ZEROS, (filters,)))


def _plain(name, kind, inputs, in_shapes, out_shape, group=None, **fields):
    ir = {"name": name, "kind": kind, "inputs": inputs, "group": group, **fields}
    return LayerInfo(name, kind, ir, inputs, in_shapes, out_shape)


def small_checked() -> CheckedSpec:
    layers = [
        _conv("xconv", ["input"], (1, 8, 8), 2, {"name": "x_kernel"}, trainable=False),
        _plain("relu1", "relu", ["xconv"], [(2, 8, 8)], (2, 8, 8)),
        _conv("block_1_conv", ["relu1"], (2, 8, 8), 2, HE, group="block_1"),
        _plain("block_1_relu", "relu", ["block_1_conv"], [(2, 8, 8)], (2, 8, 8),
               group="block_1"),
        _plain("block_1_add", "add", ["block_1_relu", "relu1"], [(2, 8, 8)] * 2, (2, 8, 8),
               group="block_1"),
        _plain("pool1", "maxpool", ["block_1_add"], [(2, 8, 8)], (2, 4, 4), size=[2, 2],
               stride=[2, 2], padding="valid"),
        _plain("flatten1", "flatten", ["pool1"], [(2, 4, 4)], (32,)),
    ]
    layers[5].pads = (0, 0, 0, 0)
    weight = (3, 32)
    dense_ir = {"name": "fc", "kind": "dense", "inputs": ["flatten1"], "group": None,
                "units": 3, "bias": True, "weight_init": GLOROT, "bias_init": ZEROS,
                "trainable": True}
    layers.append(LayerInfo("fc", "dense", dense_ir, ["flatten1"], [(32,)], (3,),
                            weight_shape=weight, bias_shape=(3,), params=99,
                            trainable_params=99, fan_in=32, fan_out=3,
                            weight_init=describe(GLOROT, weight),
                            bias_init=describe(ZEROS, (3,))))
    ir = {"version": 1, "name": "tiny", "input": {"shape": [1, 8, 8]},
          "layers": [layer.ir for layer in layers], "output": "fc", "training": {}}
    total = sum(layer.params for layer in layers)
    frozen = layers[0].params
    return CheckedSpec(Spec(ir), layers, (1, 8, 8), (3,), total, total - frozen, frozen,
                       macs=0, activation_memory=0)
