"""Importing ONNX models (cnnspec.importers.onnx_model, .onnx).

Round trip: every example spec exported with ``cnnspec export --format onnx`` and imported
back is the same network (names, kinds, shapes, fields, padding per side), and the imported
spec compiled with the exported weights gives ONNX Runtime's outputs on the file within the
export tests' float32 tolerance. PyTorch models exported with ``torch.onnx.export`` import
with PyTorch's shapes and outputs. Damaged files and nodes cnnspec has no layer for are
located errors with hints, never tracebacks. Skipped, saying why, where onnx or onnxruntime
(or torch, for its tests) is not installed (``pip install 'cnnspec[onnx]'``).
"""
from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from export_cases import SPECS, ZOO, exported_with_statistics, inputs

from cnnspec.cli import main
from cnnspec.compiler import compile_spec
from cnnspec.diagnostics import format_error
from cnnspec.errors import InputError, RunError, SpecError, SpecErrors
from cnnspec.exporters.onnx_graph import AGREEMENT, INPUT, onnx_model
from cnnspec.importers import import_file
from cnnspec.kinds import KINDS
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY

onnx = pytest.importorskip("onnx", reason="onnx not installed: pip install 'cnnspec[onnx]'")
ort = pytest.importorskip("onnxruntime",
                          reason="onnxruntime not installed: pip install 'cnnspec[onnx]'")

from onnx import TensorProto, helper

from cnnspec.importers.onnx_model import activation_ops, import_onnx, several_node_kinds

# Fields a spec sets that an ONNX graph does not hold: the inits and what training does with
# the weights, and the padding as written (compared resolved, per side).
NOT_IN_ONNX = (WEIGHT_INIT_KEY, BIAS_INIT_KEY, "default_inits", "trainable", "lr_mult",
               "decay_mult", "padding")
# Kinds an export writes as Identity (evaluation keeps every value; ONNX has no channel
# dropout): not read back.
IDENTITY_KINDS = ("dropout2d",)


def _session(data: bytes):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _close(ours, theirs, tol: float = AGREEMENT):
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale)


def _errors(exc) -> list[SpecError]:
    return exc.errors if isinstance(exc, SpecErrors) else [exc]


def _compared(info) -> dict:
    kind = KINDS[info.kind]
    fields = {f.name: info.ir[f.name] for f in kind.fields if f.name not in NOT_IN_ONNX}
    return {"kind": info.kind, "shape": tuple(info.output_shape), "fields": fields,
            "pads": tuple(info.pads) if info.pads is not None else None}


@pytest.fixture
def zoo(tmp_path):
    path = tmp_path / "zoo.cnn"
    path.write_text(ZOO)
    return path


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_example_spec_comes_back_from_its_onnx_export(path, tmp_path):
    _comes_back(path, tmp_path)


def test_a_network_of_every_kind_comes_back_from_its_onnx_export(zoo, tmp_path):
    _comes_back(zoo, tmp_path)


# Ceil mode's last window would start in the trailing padding: ONNX keeps it, cnnspec and
# PyTorch drop it, and cnnspec's export cuts it off with a Slice.
CEIL_CUT = """\
model cut
input 2x5x5
p: maxpool 3 stride 3 pad 1 ceil_mode true
q: avgpool 3 stride 3 pad 1 ceil_mode true count_include_pad false <- input
both: concat(p, q)
flatten
dense 3
"""


def test_ceil_modes_cut_windows_come_back_as_the_pools(tmp_path):
    path = tmp_path / "cut.cnn"
    path.write_text(CEIL_CUT)
    _comes_back(path, tmp_path)
    exported, _ = exported_with_statistics(path, "float32")
    model = onnx_model(exported)
    assert "Slice" in [node.op_type for node in model.graph.node]  # what it read back
    model.graph.node.remove(next(n for n in model.graph.node if n.op_type == "Slice"))
    for node in model.graph.node:  # the pool read where the Slice read it
        node.input[:] = ["p/MaxPool_1" if name == "p" else name for name in node.input]
    errors = _refused(model.SerializeToString())
    assert errors[0].json_path.endswith("(MaxPool)")
    assert "no Slice cuts it off" in errors[0].message


def _comes_back(path, tmp_path):
    """The spec at ``path`` exported and imported: the same layers but its dropouts, and
    with the exported weights ONNX Runtime's outputs."""
    exported, _ = exported_with_statistics(path, "float32")
    data = onnx_model(exported).SerializeToString()
    file = tmp_path / f"{path.stem}.onnx"
    file.write_bytes(data)
    layers = exported.needed_layers()
    imported = import_file(file).checked
    original = {info.name: _compared(info) for info in layers
                if info.kind not in IDENTITY_KINDS}
    assert {info.name: _compared(info) for info in imported.layers} == original
    model = compile_spec(imported, dtype="float32")
    model.load_state_dict({k: v for k, v in exported.state.items()
                           if k.split(".")[0] in original})
    x = inputs(imported, 3, "float32")
    _close(model.eval().forward(x), _session(data).run(None, {INPUT: x})[0])


def test_every_single_op_activation_reads_back_its_kind():
    """The registry's activations that export as one op, each found by that op (the table
    the importer reads is the exporter's, run backwards)."""
    ops = activation_ops()
    found = {reading.kind: op for op, readings in ops.items() for reading in readings}
    assert found["relu"] == "Relu" and found["leaky_relu"] == "LeakyRelu"
    assert found["relu6"] == "Clip" and found["hardswish"] == "HardSwish"
    assert found["elu"] == "Elu" and found["prelu"] == "PRelu"
    assert {r.kind: r.fields for r in ops["LeakyRelu"]} == {"leaky_relu": {"alpha": "slope"}}


def test_kinds_exported_as_several_nodes_are_read_back_from_them():
    """gelu (each form), silu and groupnorm: the patterns their exports make, with the
    fields that vary between examples (a groupnorm's groups) read from the constants."""
    patterns = {(p.kind, p.ir.get("approximate")): p for p in several_node_kinds()}
    assert {("gelu", "none"), ("gelu", "tanh"), ("silu", None), ("groupnorm", None)} <= \
        set(patterns)
    assert patterns["silu", None].nodes[0][0] == "Sigmoid"
    assert patterns["groupnorm", None].varying == ("groups",)


# ---------------------------------------------------------------------------- PyTorch


torch = None


@pytest.fixture(scope="module")
def nn():
    global torch
    torch = pytest.importorskip("torch", reason="torch not installed")
    return torch.nn


def _torch_export(model, shape, path, training: bool = False) -> bytes:
    model.eval()
    mode = torch.onnx.TrainingMode.TRAINING if training else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():  # of its TorchScript path's deprecation, of what it folds
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.randn(*shape), str(path), dynamo=False, training=mode,
                          input_names=["x"], dynamic_axes={"x": {0: "N"}})
    return path.read_bytes()


def _same_outputs(imported, model, data: bytes, batch: int = 2):
    """The imported spec with PyTorch's weights (its parameter order is the spec's) gives
    PyTorch's outputs."""
    ours = compile_spec(imported.checked, dtype="float32")
    params = [p.detach().numpy() for p in model.parameters()]
    state = {}
    for info in imported.checked.layers:
        for key in ("weight", "bias"):
            if f"{info.name}.{key}" in ours.state_dict():
                state[f"{info.name}.{key}"] = params.pop(0)
    assert not params
    ours.load_state_dict(state)
    x = np.random.default_rng(3).standard_normal((batch, *imported.checked.input_shape)
                                                 ).astype("float32")
    theirs = _session(data).run(None, {"x": x})[0]
    _close(ours.eval().forward(x), theirs)


def test_a_lenet_from_pytorch_imports_with_its_shapes_and_outputs(nn, tmp_path):
    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.f1, self.f2 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 10)

        def forward(self, x):
            x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
            x = x.view(x.size(0), -1)  # Shape, Gather, Unsqueeze, Concat, Reshape
            return self.f2(torch.tanh(self.f1(x)))

    model = LeNet()
    data = _torch_export(model, (1, 1, 28, 28), tmp_path / "lenet.onnx")
    imported = import_onnx(data, "lenet.onnx")
    shapes = {info.name: (info.kind, info.output_shape) for info in imported.checked.layers}
    assert shapes["c1"] == ("conv", (6, 28, 28)) and shapes["c2"] == ("conv", (16, 10, 10))
    assert [k for k, _ in shapes.values()].count("flatten") == 1
    assert shapes["f1"] == ("dense", (120,)) and shapes["f2"] == ("dense", (10,))
    assert "c1: conv 6 5x5 pad 2 relu" in imported.text and "data mnist" in imported.text
    assert "Weights are not imported" in imported.text
    _same_outputs(imported, model, data)


def test_a_resnet_block_with_batchnorm_keeps_its_norms_exported_for_training(nn, tmp_path):
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, padding=1)
            self.c1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
            self.b1 = nn.BatchNorm2d(8, eps=1e-3, momentum=0.2)
            self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False)
            self.b2 = nn.BatchNorm2d(8)
            self.short = nn.Conv2d(8, 8, 1, stride=2)
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            x = self.stem(x)
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            y = torch.relu(y + self.short(x))
            return torch.softmax(self.fc(torch.flatten(torch.mean(y, (2, 3), keepdim=True),
                                                       1)), 1)

    model = Res()
    data = _torch_export(model, (2, 3, 16, 16), tmp_path / "res.onnx", training=True)
    imported = import_onnx(data, "res.onnx")
    layers = {info.name: info for info in imported.checked.layers}
    kinds = [info.kind for info in layers.values()]
    assert kinds.count("batchnorm") == 2 and "add" in kinds
    norm = next(info for info in layers.values() if info.kind == "batchnorm")
    assert norm.ir["momentum"] == 0.2 and norm.ir["eps"] == 0.001  # PyTorch's meaning
    assert not layers["c1"].ir["bias"] and layers["stem"].ir["bias"]
    assert "loss cross_entropy" in imported.text  # the last Softmax is the loss's
    assert imported.checked.output_shape == (4,)


def test_a_vgg_stack_keeps_its_pools_and_dropout(nn, tmp_path):
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.LeakyReLU(0.1), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.AvgPool2d(2, 1, padding=1, count_include_pad=False), nn.Flatten(),
        nn.Dropout(0.3), nn.Linear(32 * 5 * 5, 64), nn.ReLU6(), nn.Linear(64, 10))
    data = _torch_export(model, (1, 3, 16, 16), tmp_path / "vgg.onnx", training=True)
    checked = import_onnx(data, "vgg.onnx").checked
    kinds = [info.kind for info in checked.layers]
    assert kinds == ["conv", "relu", "maxpool", "conv", "leaky_relu", "maxpool", "avgpool",
                     "flatten", "dropout", "dense", "relu6", "dense"]
    pools = [info for info in checked.layers if info.kind in ("maxpool", "avgpool")]
    assert pools[1].ir["ceil_mode"] and pools[1].output_shape == (32, 4, 4)
    assert not pools[2].ir["count_include_pad"] and pools[2].output_shape == (32, 5, 5)
    assert next(i for i in checked.layers if i.kind == "dropout").ir["p"] == 0.3
    assert next(i for i in checked.layers if i.kind == "leaky_relu").ir["slope"] == 0.1
    # in evaluation mode (the export's default) PyTorch drops the dropout: the header says
    data = _torch_export(model, (1, 3, 16, 16), tmp_path / "vgg_eval.onnx")
    imported = import_onnx(data, "vgg_eval.onnx")
    assert "dropout" not in [info.kind for info in imported.checked.layers]
    assert "TrainingMode.TRAINING" in imported.text
    _same_outputs(imported, model, data)


def test_layers_take_pytorchs_module_paths_not_its_tracers_value_names(nn, tmp_path):
    """Named as ``state_dict()`` names the modules (``features.0`` -> ``features_0``, not
    ``features_features_0``); an op of the forward's own (``torch.flatten``) by its kind,
    not the node's index; the output value PyTorch calls ``input`` never a layer's name."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()),
                                          nn.Conv2d(4, 4, 3))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.features(x)), 1))

    class Dead(nn.Module):  # PyTorch drops the unused conv, and names the output `input`
        def __init__(self):
            super().__init__()
            self.c, self.d = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)

        def forward(self, x):
            h = self.c(x)
            self.d(h)
            return h

    text = import_onnx(_torch_export(Net(), (1, 3, 8, 8), tmp_path / "n.onnx"), "n").text
    assert [line.split(":")[0] for line in text.splitlines() if ": " in line
            and not line.startswith(("#", " "))] == [
        "features_0_0", "features_1", "pool", "fc"]
    text = import_onnx(_torch_export(Dead(), (1, 3, 8, 8), tmp_path / "d.onnx"), "d").text
    assert "\nc: conv 4 3x3\n" in text


def test_a_binary_classifiers_last_sigmoid_is_the_bce_loss(nn, tmp_path):
    """PyTorch's nn.Linear(n, 1) then a sigmoid (trained with BCELoss, or BCEWithLogitsLoss
    without it) is `dense 1` and `loss bce` on 2 classes: `dense 1 sigmoid` under the
    default cross_entropy scored 1 class, which no data of two fits; a sigmoid on more
    scores stays a layer."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 1),
                          nn.Sigmoid())
    imported = import_onnx(_torch_export(model, (1, 3, 8, 8), tmp_path / "b.onnx"), "b.onnx")
    assert [info.kind for info in imported.checked.layers] == ["conv", "relu", "flatten",
                                                               "dense"]
    assert "loss bce" in imported.text and "images of 2 classes" in imported.text
    header = " ".join(word for word in imported.text.split() if word != "#")
    assert "defaults but for the data and the loss." in header
    assert any("last Sigmoid" in note for note in imported.notes)
    model[3] = nn.Linear(144, 3)
    imported = import_onnx(_torch_export(model, (1, 3, 8, 8), tmp_path / "m.onnx"), "m.onnx")
    assert imported.checked.layers[-1].kind == "sigmoid" and "loss" not in imported.text


def test_pytorch_norms_activations_and_upsampling_import_with_pytorchs_outputs(nn, tmp_path):
    """GroupNorm (its Constant nodes between the pattern's), SiLU, GELU (opset 20's Gelu op),
    Hardswish, both Upsamples, ConvTranspose with output padding, ELU, PReLU and Mish
    (Softplus, Tanh, Mul, as cnnspec's export writes it)."""
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.GroupNorm(4, 8), nn.SiLU(), nn.Conv2d(8, 8, 3), nn.GELU(),
        nn.Hardswish(), nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1), nn.ELU(0.5),
        nn.PReLU(4), nn.Mish())
    data = _torch_export(model, (1, 3, 12, 12), tmp_path / "mixed.onnx")
    imported = import_onnx(data, "mixed.onnx")
    kinds = [info.kind for info in imported.checked.layers]
    assert kinds == ["conv", "groupnorm", "silu", "conv", "gelu", "hardswish", "upsample",
                     "conv", "upsample", "conv_transpose", "elu", "prelu", "mish"]
    _same_outputs(imported, model, data)


def test_an_unsupported_op_past_another_error_is_still_named():
    data = _model([helper.make_node("Selu", ["x"], ["a"], name="one"),
                   helper.make_node("Relu", ["a"], ["b"]),
                   helper.make_node("Softplus", ["b"], ["y"], name="two")])
    assert [e.json_path for e in _refused(data)] == ["graph.node[0] 'one' (Selu)",
                                                     "graph.node[2] 'two' (Softplus)"]


# ---------------------------------------------------------------------------- refusals


def test_without_onnx_the_error_says_the_pip_command(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)  # `import onnx` fails
    with pytest.raises(RunError) as caught:
        import_onnx(b"", "m.onnx")
    assert "importing ONNX needs the onnx package" in caught.value.message
    assert "pip install 'cnnspec[onnx]'" in caught.value.hint


def _model(nodes, inits=(), input_shape=("N", 3, 8, 8), output="y", opset=17):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        initializer=[onnx.numpy_helper.from_array(np.asarray(
            v, dtype=np.int64 if isinstance(v, list) and all(isinstance(n, int) for n in v)
            else np.float32), name) for name, v in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]
                             ).SerializeToString()


def _refused(data: bytes) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as caught:
        import_onnx(data, "m.onnx")
    errors = _errors(caught.value)
    for err in errors:
        assert err.json_path and err.hint and err.file == "m.onnx"
        format_error(err)
    return errors


CONV = ("w", np.zeros((4, 3, 3, 3)))


def test_every_unsupported_node_is_named_at_once():
    data = _model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                   helper.make_node("Selu", ["c"], ["s"], name="act"),
                   helper.make_node("Relu", ["s"], ["r"]),  # past an error: not said again
                   helper.make_node("Softplus", ["r"], ["y"], name="soft")], [CONV])
    errors = _refused(data)  # the Relu past the Selu: not said, it is an op of a layer
    assert [e.json_path for e in errors] == ["graph.node[1] 'act' (Selu)",
                                             "graph.node[3] 'soft' (Softplus)"]
    assert "selu" in errors[0].hint


def test_onnxs_mish_op_is_the_mish_activation():
    """Opset 18's Mish op, as exporters other than PyTorch's write it: `mish` on the layer
    it reads, with ONNX Runtime's outputs."""
    conv = ("w", np.random.default_rng(0).standard_normal((4, 3, 3, 3)))
    data = _model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                   helper.make_node("Mish", ["c"], ["y"], name="act")], [conv], opset=18)
    checked = import_onnx(data, "m.onnx").checked
    assert [info.kind for info in checked.layers] == ["conv", "mish"]
    model = compile_spec(checked, dtype="float32")
    model.load_state_dict({f"{checked.layers[0].name}.weight": conv[1].astype(np.float32)})
    x = inputs(checked, 3, "float32")
    _close(model.eval().forward(x), _session(data).run(None, {"x": x})[0])


def test_pytorchs_gelu_below_opset_20_is_told_the_opset_that_imports_it():
    """PyTorch's nn.GELU at opset 17: Div by sqrt(2), Erf, Add, Mul, Mul; a Div by another
    number is told the ops cnnspec imports."""
    def gelu(divisor):
        return _model([helper.make_node("Div", ["x", "r"], ["d"], name="/5/Div"),
                       helper.make_node("Erf", ["d"], ["e"]),
                       helper.make_node("Add", ["e", "one"], ["a"]),
                       helper.make_node("Mul", ["x", "a"], ["m"]),
                       helper.make_node("Mul", ["m", "half"], ["y"])],
                      [("r", divisor), ("one", 1.0), ("half", 0.5)])

    [error] = _refused(gelu(np.sqrt(2.0)))
    assert error.json_path == "graph.node[0] '/5/Div' (Div)"
    assert "nn.GELU" in error.hint and "opset_version=20" in error.hint
    [error] = _refused(gelu(3.0))
    assert "the ops cnnspec imports" in error.hint


def test_a_spec_that_does_not_check_is_told_at_the_node_that_wrote_the_layer():
    """A Softmax in the middle (read by a Gemm after it), refused by the check of the spec
    under cross_entropy: said at the Softmax's node, not at a line of imported text that no
    file holds."""
    data = _model([helper.make_node("Conv", ["x", "w"], ["c"], name="/c/Conv"),
                   helper.make_node("Softmax", ["c"], ["s"], name="/Softmax", axis=1),
                   helper.make_node("Flatten", ["s"], ["f"]),
                   helper.make_node("Gemm", ["f", "g"], ["y"], transB=1)],
                  [CONV, ("g", np.zeros((10, 144)))])
    [error] = _refused(data)
    assert error.json_path == "graph.node[1] '/Softmax' (Softmax)"
    assert error.message.startswith("softmax 'c_softmax' is not the output layer")


@pytest.mark.parametrize("node, opset, said, hinted", [
    (helper.make_node("Upsample", ["x", "s"], ["y"], mode="linear"), 9,
     "Upsample (opset 9) in mode linear", "opset_version=17"),
    (helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear",
                      coordinate_transformation_mode="align_corners"), 17,
     "mode linear with align_corners coordinates", "mode='bilinear' with align_corners=False"),
])
def test_an_upsampling_cnnspec_has_not_is_told_what_pytorch_exports_instead(node, opset, said,
                                                                            hinted):
    """PyTorch's bilinear at opset 9 (ONNX's Upsample, whose linear is asymmetric) and with
    align_corners=True: the hint says the opset or the argument that imports."""
    [error] = _refused(_model([node], [("s", [1.0, 1.0, 2.0, 2.0])], opset=opset))
    assert said in error.message and hinted in error.hint


def test_a_graph_of_two_inputs_or_two_outputs_is_told_to_export_one():
    """PyTorch's forward(x, y), and forward returning (h, scores): said at the graph's
    inputs and outputs, the hint naming what forward() should take and return."""
    two = helper.make_graph(
        [helper.make_node("Add", ["x", "z"], ["y"])], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, (1, 3, 8, 8)) for n in "xz"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    [error] = _refused(helper.make_model(two).SerializeToString())
    assert error.json_path == "graph.input" and "2 inputs" in error.message
    assert "forward() takes one tensor" in error.hint
    two = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Relu", ["y"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 8, 8))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in "yz"])
    [error] = _refused(helper.make_model(two).SerializeToString())
    assert error.json_path == "graph.output" and "2 outputs" in error.message
    assert "forward() returns one tensor" in error.hint


def test_unsupported_ops_on_separate_branches_are_all_listed():
    data = _model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                   helper.make_node("Selu", ["c"], ["a"], name="one"),
                   helper.make_node("Softplus", ["c"], ["b"], name="two"),
                   helper.make_node("Add", ["a", "b"], ["y"])], [CONV])
    errors = _refused(data)
    assert [e.json_path for e in errors] == ["graph.node[1] 'one' (Selu)",
                                             "graph.node[2] 'two' (Softplus)"]


@pytest.mark.parametrize("nodes, inits, shape, said", [
    ([helper.make_node("Relu", ["x"], ["y"])], [], ("N", 3, "H", "W"), "free H"),
    ([helper.make_node("Relu", ["x"], ["y"])], [], ("N", 3, 8), "known dimensions"),
    ([helper.make_node("Conv", ["x", "w"], ["c"]),
      helper.make_node("Reshape", ["c", "t"], ["y"])], [CONV, ("t", [1, 2, -1])],
     ("N", 3, 8, 8), "Reshape to [1, 2, -1]"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2]),
      ], [CONV], ("N", 3, 8, 8), None),
    ([helper.make_node("Conv", ["x", "x"], ["y"])], [], ("N", 3, 8, 8), "not a constant"),
    ([helper.make_node("Resize", ["x", "", "s"], ["y"], mode="cubic")],
     [("s", [1, 1, 2, 2])], ("N", 3, 8, 8), "mode cubic"),
    ([helper.make_node("Resize", ["x", "", "s"], ["y"])], [("s", [1, 1, 1.5, 2])],
     ("N", 3, 8, 8), "scales [1.0, 1.0, 1.5, 2.0]"),
    ([helper.make_node("Resize", ["x", "", "s"], ["y"])], [("s", [1, 1, np.inf, 2])],
     ("N", 3, 8, 8), "scales [1.0, 1.0, inf, 2.0]"),
    ([helper.make_node("Resize", ["x", "", "s"], ["y"])], [("s", [1, 1, np.nan, 2])],
     ("N", 3, 8, 8), "scales [1.0, 1.0, nan, 2.0]"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1])], [CONV], ("N", 3, 8, 8),
     "Conv's pads [1, 1] has 2 values, where cnnspec's 2-D windows take 4"),
    ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], pads=[1] * 6)], [],
     ("N", 3, 8, 8), "MaxPool's pads [1, 1, 1, 1, 1, 1] has 6 values"),
    # a weight that does not fit its input (a damaged file's): no layer read off it
    ([helper.make_node("Conv", ["x", "w"], ["y"], group=3)], [("w", np.zeros((6, 3, 3, 3)))],
     ("N", 3, 8, 8), "[6, 3, 3, 3] reads 9 input channels, but its input has 3"),
    ([helper.make_node("ConvTranspose", ["x", "w"], ["y"])], [("w", np.zeros((5, 4, 3, 3)))],
     ("N", 3, 8, 8), "reads 5 input channels, but its input has 3"),
    ([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"],
                                                                 transB=1)],
     [("w", np.zeros((10, 50)))], ("N", 3, 8, 8),
     "Gemm's weight of shape [10, 50] reads 50 input features, but its input has 192"),
    ([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])],
     [("w", np.zeros((50, 10)))], ("N", 3, 8, 8), "reads 50 input features"),
    ([helper.make_node("Gemm", ["x", "w"], ["y"])], [("w", np.zeros((4, 3)))],
     ("N", 3, 8, 8), "flat"),
    ([helper.make_node("Relu", ["z"], ["y"])], [], ("N", 3, 8, 8), "no earlier node"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], strides=[0, 1])], [CONV], ("N", 3, 8, 8),
     "[0, 1]: each must be a whole number from 1 to 2,147,483,647"),
    # held to the bounds before the padding is worked out from them (a division by 0 was)
    ([helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[0, 1])],
     [CONV], ("N", 3, 8, 8), "Conv's stride [0, 1]: each must be a whole number from 1"),
    ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], ceil_mode=1,
                       strides=[0, 1])], [], ("N", 3, 8, 8), "MaxPool's stride [0, 1]"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], group=0)], [CONV], ("N", 3, 8, 8),
     "Conv's groups 0: it must be a whole number from 1"),
    # beyond the IR's bound, and not finite: said at the node, not at a line of the imported
    # text, which no file holds
    ([helper.make_node("Conv", ["x", "w"], ["y"], strides=[2 ** 62, 1])], [CONV],
     ("N", 3, 8, 8), "[4611686018427387904, 1]: each must be a whole number from 1 to"),
    ([helper.make_node("Dropout", ["x", "r"], ["y"])], [("r", np.float32("nan"))],
     ("N", 3, 8, 8), "Dropout's dropout probability nan: it must be a finite number"),
    ([helper.make_node("LeakyRelu", ["x"], ["y"], alpha=float("inf"))], [], ("N", 3, 8, 8),
     "LeakyRelu's slope inf: it must be a finite number"),
    ([helper.make_node("Dropout", ["x", "w"], ["y"])], [CONV], ("N", 3, 8, 8),
     "ratio of 108 values"),
    ([helper.make_node("Shape", [], ["y"])], [], ("N", 3, 8, 8),
     "Shape has 0 inputs; ONNX's Shape has 1 to 1 at opset 17"),
    ([helper.make_node("Slice", ["x", "s", "s"], ["y"])], [("s", [0, 1])], ("N", 3, 8, 8),
     "a Slice of a value computed per example"),
])
def test_graphs_it_cannot_read_are_refused_where_they_go_wrong(nodes, inits, shape, said):
    data = _model(nodes, inits, shape)
    if said is None:  # SAME_UPPER on an even size: the odd row below, as ONNX says
        checked = import_onnx(data, "m.onnx").checked
        assert checked.layers[0].pads == (0, 1, 0, 1) and checked.output_shape == (4, 4, 4)
        return
    errors = _refused(data)
    assert said in errors[0].message, errors[0].message


@pytest.mark.parametrize("nodes, inits, said", [
    # 37 GiB that ONNX's evaluator allocated (and failed) where it could; 1.6 GB it filled
    ([helper.make_node("ConstantOfShape", ["s"], ["big"]),
      helper.make_node("Add", ["x", "big"], ["y"])], [("s", [100000, 100000])],
     "ConstantOfShape of constants would make 10,000,000,000 values (shape 100000 x 100000)"),
    ([helper.make_node("Mul", ["a", "b"], ["big"]), helper.make_node("Add", ["x", "big"], ["y"])],
     [("a", np.zeros((2000, 1))), ("b", np.zeros((1, 2000)))],
     "Mul of constants would make 4,000,000 values"),
    ([helper.make_node("Range", ["z", "n", "one"], ["big"]),
      helper.make_node("Add", ["x", "big"], ["y"])],
     [("z", 0.0), ("n", 2.0 ** 40), ("one", 1.0)],
     "Range of constants would make 1,099,511,627,776 values"),
])
def test_constants_too_large_to_be_a_shape_are_refused_before_they_are_made(nodes, inits, said):
    """A node of constants is computed (a flatten's shape) only where ONNX's shape inference
    says its outputs are a shape's size: a damaged or hostile file's ConstantOfShape, Range or
    broadcast is refused at its node, at once, nothing allocated."""
    errors = _refused(_model(nodes, inits))
    assert said in errors[0].message, errors[0].message
    assert errors[0].json_path.startswith("graph.node[0]")


def test_only_a_shape_chains_ops_are_computed_from_constants():
    """A Conv whose maps are constants is no layer (it reads no example) and is not run by
    ONNX's evaluator (its Python loops), nor is a Loop of constants (as long as its trip
    count): each is refused at its node."""
    loop_body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"])], "body",
                                  [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                   helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                                  [helper.make_tensor_value_info("c_out", TensorProto.BOOL, [])])
    for nodes, inits in [
            ([helper.make_node("Conv", ["maps", "w"], ["y"])],
             [("maps", np.zeros((1, 3, 64, 64))), CONV]),
            ([helper.make_node("Loop", ["n", "go"], [], body=loop_body),
              helper.make_node("Relu", ["x"], ["y"])],
             [("n", np.int64(10**15)), ("go", np.bool_(True))])]:
        errors = _refused(_model(nodes, inits))
        assert errors[0].json_path.startswith("graph.node[0]"), errors[0].message


@pytest.mark.parametrize("data, said", [
    (b"model = Net()\n", "holds no ONNX graph"),  # text parses as an empty model
    (b"\x08\x07\x12\x06pytorch\x3a\xff\xff", "not an ONNX model"),
    (b"", "holds no ONNX graph"),
])
def test_files_that_are_no_onnx_model_are_said_so(data, said):
    errors = _refused(data)
    assert said in errors[0].message


def test_a_truncated_export_is_refused_without_a_traceback(tmp_path):
    exported, _ = exported_with_statistics(SPECS[0], "float32")
    data = onnx_model(exported).SerializeToString()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
        with pytest.raises((SpecError, SpecErrors)):
            import_onnx(data[:cut], "cut.onnx")


def test_fuzzed_exports_import_or_are_located_errors():
    """Bytes of an export flipped, cut and repeated: each imports or is a located error."""
    exported, _ = exported_with_statistics(SPECS[0], "float32")
    data = onnx_model(exported).SerializeToString()
    rng = random.Random(17)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(60):
        out = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(out))
            out[i:i + rng.randint(1, 4)] = bytes(rng.randrange(256)
                                                 for _ in range(rng.randint(0, 4)))
        try:
            import_onnx(bytes(out), "fuzz.onnx")
            outcomes["ok"] += 1
        except (SpecError, SpecErrors) as exc:
            for err in _errors(exc):
                assert err.json_path and err.hint, err.message
            outcomes["error"] += 1
        except (InputError, RunError):
            outcomes["error"] += 1
    assert outcomes["ok"] and outcomes["error"]


# ---------------------------------------------------------------------------- command line


def test_cli_imports_an_onnx_file_and_locates_its_refusals(tmp_path, capsys):
    exported, _ = exported_with_statistics(SPECS[0], "float32")
    model = tmp_path / "net.onnx"
    model.write_bytes(onnx_model(exported).SerializeToString())
    out = tmp_path / "net.cnn"
    assert main(["import", str(model), "-o", str(out)]) == 0
    assert "parameters" in capsys.readouterr().err
    assert main(["check", str(out)]) == 0
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(_model([helper.make_node("Selu", ["x"], ["y"], name="act")]))
    assert main(["import", str(bad), "-o", str(tmp_path / "bad.cnn")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: graph.node[0] 'act' (Selu): error:" in err and "Traceback" not in err
    assert main(["check", str(bad)]) == 2
    assert "cnnspec import" in capsys.readouterr().err
