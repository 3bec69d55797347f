"""A spec or a run as an ONNX model, built with the ``onnx`` package's helpers.

Conventions: opset :data:`OPSET` of the default domain; float32 tensors; the input is named
``input`` with shape ``(batch, C, H, W)`` (or ``(batch, F)``), ``batch`` left free; every
layer's output value carries the layer's name, so the model's output is named after the
spec's output layer; the input is the network's, preprocessed as in training (a run's
preprocessing is in the metadata :data:`PREPROCESS_KEY`). Evaluation-mode semantics: dropout is the
identity and batch norm normalises by its running statistics. Each layer kind's nodes come from its
registry record (``Kind.onnx``); this module gives it the builder (:class:`LayerNodes`) and
assembles the graph. ``onnx`` is an optional dependency (``pip install 'cnnspec[onnx]'``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cnnspec.atomic import refuse_overwriting
from cnnspec.errors import SettingError
from cnnspec.exporters.source import Exported, open_exported, write_output
from cnnspec.given import given_path
from cnnspec.kinds import KINDS
from cnnspec.version import __version__

OPSET = 17  # LayerNormalization needs 17; ONNX Runtime 1.14 and later run it
IR_VERSION = 8  # the ONNX file format of opset 17 (onnx 1.12)
INPUT = "input"
BATCH = "batch"
# the metadata key of a run's preprocessing: {"mode", "mean": [...], "std": [...]}
PREPROCESS_KEY = "cnnspec.preprocess"
# The dtype of the model's tensors, and how close ONNX Runtime's outputs come to cnnspec's
# forward in it (tests/test_export_onnx.py's tolerance).
ONNX_DTYPE = "float32"
AGREEMENT = 1e-5
INSTALL_HINT = "install the ONNX extra: pip install 'cnnspec[onnx]' (onnx and onnxruntime)"


def require_onnx(doing: str = "exporting to ONNX"):
    """The ``onnx`` module, or an error saying that ``doing`` needs it and how to install
    it."""
    try:
        import onnx
    except ImportError:
        raise SettingError(f"{doing} needs the onnx package, which is not installed",
                           hint=INSTALL_HINT, invalid=True) from None
    return onnx


class LayerNodes:
    """The builder a kind's ``onnx`` function adds its nodes through, for one layer.

    Intermediate values are named ``<layer>/<op>_<n>``; the layer's output is renamed to
    the layer's name when the kind returns (:meth:`finish`).
    """

    def __init__(self, onnx, layer: str, state: dict, nodes: list, initializers: dict):
        self.onnx, self.layer, self.state = onnx, layer, state
        self.nodes, self.initializers = nodes, initializers
        self.first = len(nodes)
        self.count = 0

    def _name(self, what: str) -> str:
        self.count += 1
        return f"{self.layer}/{what}_{self.count}"

    def op(self, op_type: str, inputs: list[str], **attributes) -> str:
        out = self._name(op_type)
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [out],
                                                     name=out, **attributes))
        return out

    def param(self, key: str, shape: tuple[int, ...] | None = None) -> str:
        """The layer's parameter or buffer ``key`` as an initializer (float32)."""
        name = f"{self.layer}.{key}"
        value = np.asarray(self.state[name], dtype=np.float32)
        if shape is not None:
            value = value.reshape(shape)
            name = f"{name}.reshaped"
        self._add(name, value)
        return name

    def const(self, values, dtype: str = "model") -> str:
        """A constant tensor (a scalar for a number): ``model`` means the model's float32."""
        value = np.asarray(values, dtype=np.float32 if dtype == "model" else dtype)
        name = self._name("const")
        self._add(name, value)
        return name

    def _add(self, name: str, value: np.ndarray) -> None:
        self.initializers[name] = self.onnx.numpy_helper.from_array(value, name)

    def finish(self, out: str) -> None:
        """Name the layer's output value after the layer."""
        if out.startswith(f"{self.layer}/"):
            for node in self.nodes[self.first:]:
                node.output[:] = [self.layer if o == out else o for o in node.output]
                node.input[:] = [self.layer if i == out else i for i in node.input]
        else:  # the kind passed a value through: give it its own name still
            self.nodes.append(self.onnx.helper.make_node("Identity", [out], [self.layer],
                                                         name=self.layer))


def onnx_model(exported: Exported):
    """The ``onnx.ModelProto`` of ``exported`` (checked by ``onnx.checker``)."""
    onnx = require_onnx()
    exported.require_mapping("ONNX", "onnx")
    checked = exported.checked
    note = exported.input_note()
    model = layers_model(exported.needed_layers(), {INPUT: checked.input_shape},
                         (checked.ir["output"], checked.output_shape), exported.state,
                         checked.ir["name"],
                         f"{checked.ir['name']}, from cnnspec's {exported.source} with its "
                         f"{exported.weights}" + (f"; input: {note}" if note else ""))
    if exported.preprocessor is not None:  # the numbers themselves, for a program to apply
        onnx.helper.set_model_props(
            model, {PREPROCESS_KEY: json.dumps(exported.preprocessor.to_dict())})
    return model


def layers_model(layers: list, inputs: dict, output: tuple, state: dict, name: str,
                 doc: str = ""):
    """The checked ONNX model of ``layers`` (:class:`~cnnspec.check.model.LayerInfo`, in an
    order where inputs come first) on the graph ``inputs`` (name -> shape without batch),
    giving ``output`` (name, shape), with parameters from ``state``."""
    onnx = require_onnx()
    nodes: list = []
    initializers: dict = {}
    for layer in layers:
        g = LayerNodes(onnx, layer.name, state, nodes, initializers)
        kind = KINDS[layer.kind]
        in_shapes = [tuple(s) for s in layer.input_shapes]
        g.finish(kind.onnx(g, layer.ir, in_shapes, kind.infer(layer.ir, in_shapes),
                           list(layer.inputs)))
    graph = onnx.helper.make_graph(
        nodes, name, [_value(onnx, key, shape) for key, shape in inputs.items()],
        [_value(onnx, *output)], initializer=list(initializers.values()), doc_string=doc)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="cnnspec", producer_version=__version__)
    # The IR version that goes with the opset, so that older readers open the file too.
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def _value(onnx, name: str, shape) -> object:
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                              [BATCH, *(int(n) for n in shape)])


def narrowed_note(exported: Exported) -> str | None:
    """What the model loses where the run trained in a wider dtype than the model's (a
    float64 run): its weights and arithmetic are float32's, so its outputs agree with the
    run's to float32's precision only; None otherwise."""
    if exported.dtype in (None, ONNX_DTYPE):
        return None
    return (f"the run trained in {exported.dtype}; the ONNX model holds its weights rounded to "
            f"{ONNX_DTYPE} and computes in {ONNX_DTYPE}: expect its outputs within about "
            f"{AGREEMENT:g} of the run's, not to {exported.dtype}'s precision (the PyTorch "
            f"export keeps its {exported.dtype} weights)")


def export_onnx(source, path, force: bool = False) -> Exported:
    """Write ``source`` (a spec path, a checked spec or a run folder) as an ONNX model to
    ``path``, an existing file only with ``force``; returns what was exported."""
    require_onnx()
    path = given_path(path, "path", "the .onnx file to write", "model.onnx")
    refuse_overwriting([path], force)
    exported = open_exported(source)
    model = onnx_model(exported)
    write_output(Path(path), model.SerializeToString())
    return exported
