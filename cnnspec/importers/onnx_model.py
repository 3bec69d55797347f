"""ONNX models (``.onnx``, as ``torch.onnx.export`` and ``cnnspec export --format onnx`` write
them) imported as cnnspec specs: the architecture, not the weights.

An ONNX graph is a list of nodes in an order where every value is made before it is read
(onnx/IR.md, "Graphs"). Each node is read in that order into the layer it computes, the
shapes followed from the graph's input, ``(N, C, H, W)`` with ``N`` free or fixed. Values that
are constants (initializers, ``Constant`` nodes, and what ``Shape``, ``Gather``,
``Unsqueeze``, ``Concat`` ... compute from them and from the known shapes, as PyTorch's
exporter writes ``x.view(x.size(0), -1)``) are computed here, by ONNX's reference evaluator,
and read where a layer needs them (a ``Reshape``'s target, a ``Resize``'s scales).

Which ONNX op an activation is, and which of its attributes is which field, is read off the
kind registry's own ``onnx`` functions (:func:`activation_ops`): the exporter's table, run
backwards, so this module names no activation. A kind exported as several nodes (gelu, silu,
mish, groupnorm) is read back from those nodes the same way: each registry example's export is a
pattern (:func:`several_node_kinds`), and a match is the export of the fields read, node for
node. A node cnnspec has no layer for, and a value it
cannot follow, is a :class:`~cnnspec.errors.SpecError` at the node (``graph.node[7] 'Conv_3'
(Conv)``), every such node reported at once. ``onnx`` is an optional dependency (``pip
install 'cnnspec[onnx]'``), imported when an import runs.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import field

import numpy as np

from cnnspec.check.graph import INPUT
from cnnspec.check.training import classes_scored
from cnnspec.errors import SpecError, SpecErrors, listed
from cnnspec.exporters.onnx_graph import require_onnx
from cnnspec.importers.imported import Imported, Names, grouped, model_name
from cnnspec.importers.spec_writer import (
    LayerLine,
    Setting,
    checked,
    fitting_data,
    spec_text,
)
from cnnspec.kinds import KINDS
from cnnspec.kinds.catalogue import momentum_kept
from cnnspec.kinds.kind import Example, KindError
from cnnspec.records import record

# What a Shape node gives for the batch's place where the input's batch is free: no size a
# tensor has, so that a Reshape can tell "the batch, as it comes" from a number.
FREE_BATCH = -(2 ** 40)
GRAPH = "graph"  # how errors name the model's graph (graph.input[0], graph.node[3])
WEIGHTS_NOTE = ("Weights are not imported: the layers start from cnnspec's inits (the "
                "model's trained values stay in the ONNX file's initializers).")
TRAINING_NOTE = ("An ONNX model holds no training settings: the train block is cnnspec's "
                 "defaults but for the data{loss}.")
EXPORT_HINT = ("export the network with torch.onnx.export(model, torch.randn(1, C, H, W), "
               "'model.onnx', dynamo=False)")
# The graph name PyTorch's exporter gives every model: no name of the network, whose file's
# stem names the spec then.
TORCH_GRAPH_NAME = "main_graph"
# How PyTorch's exporter begins each node's name: the module scopes, then the op
# (``/layer1/conv1/Conv``); cnnspec's export names a node ``layer/Op_1``.
TORCH_SCOPE = "/"
# PyTorch's exporter in evaluation mode (its default) folds each batch norm into the conv
# before it and leaves dropout out: said where a PyTorch model has neither.
TORCH_PRODUCER = "pytorch"
# The loss the model's last op implies, as PyTorch's losses pair with them: CrossEntropyLoss
# and BCEWithLogitsLoss read the scores before a Softmax and a Sigmoid, which are left out
# (on the classes' scores, on one logit), NLLLoss reads a LogSoftmax's output.
LAST_OP_LOSSES = {"Softmax": "cross_entropy", "LogSoftmax": "nll", "Sigmoid": "bce"}
EVALUATION_EXPORT = ("PyTorch exports evaluation mode by default, folding each batch norm "
                     "into the conv before it and leaving dropout out: where the model has "
                     "them, export it with training=torch.onnx.TrainingMode.TRAINING to "
                     "import them")


# ---------------------------------------------------------------------------- activations


class _Probe:
    """A stand-in for the exporter's builder (:class:`cnnspec.exporters.onnx_graph.
    LayerNodes`) that records the nodes a kind's ``onnx`` function adds."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, list[str], dict]] = []
        self.consts: dict[str, np.ndarray] = {}

    def op(self, op_type: str, inputs: list[str], **attributes) -> str:
        self.nodes.append((op_type, list(inputs), attributes))
        return f"out{len(self.nodes)}"

    def const(self, values, dtype: str = "model") -> str:
        name = f"const{len(self.consts)}"
        self.consts[name] = np.asarray(values)
        return name

    def param(self, key: str, shape=None) -> str:
        return f"param:{key}"


@record(frozen=True)
class ActivationOp:
    """How one ONNX op reads as an activation kind: the kind, which attribute carries which
    field, the attributes and constant inputs the kind's export always writes, and whether
    the op takes a learned parameter (PRelu's slopes)."""

    kind: str
    fields: dict
    fixed: dict
    consts: tuple
    learned: bool


def activation_ops() -> dict[str, list[ActivationOp]]:
    """For each ONNX op an activation kind exports as one node, how that node reads back:
    each kind's ``onnx`` function run on every registry example of it, an attribute that
    follows a field in all of them being that field's, any other written as it is."""
    ops: dict[str, list[ActivationOp]] = {}
    for kind in KINDS.values():
        if not kind.is_activation or kind.onnx is None:
            continue
        runs = []
        for example in kind.examples or (Example(((3, 2, 2),)),):
            ir = kind.example_ir(example)
            probe = _Probe()
            shapes = list(example.inputs)
            kind.onnx(probe, ir, shapes, kind.infer(ir, shapes), ["x"])
            runs.append((ir, probe))
        read = _single_op(kind.name, runs)
        if read is not None:
            ops.setdefault(read[0], []).append(read[1])
    return ops


def _single_op(name: str, runs) -> tuple[str, ActivationOp] | None:
    """The op and its reading where every run made one node on the input, else None."""
    if any(len(probe.nodes) != 1 or probe.nodes[0][1][0] != "x" for _, probe in runs):
        return None
    op_type, inputs, attributes = runs[0][1].nodes[0]
    fields, fixed = {}, {}
    for attribute, value in attributes.items():
        same = [f for f in KINDS[name].fields if all(
            ir.get(f.name) == probe.nodes[0][2].get(attribute) for ir, probe in runs)]
        if same:
            fields[attribute] = same[0].name
        else:
            fixed[attribute] = value
    consts = tuple(runs[0][1].consts[i].tolist() for i in inputs[1:]
                   if i in runs[0][1].consts)
    learned = any(i.startswith("param:") for i in inputs[1:])
    return op_type, ActivationOp(name, fields, fixed, consts, learned)


@record(frozen=True)
class Pattern:
    """A kind whose export is several nodes, as one registry example of it exports (the
    nodes, in order, with their inputs: ``x``, ``outK`` the K-th node's output, a constant,
    a ``param:`` or nothing), and the fields that example sets; ``varying``: the fields
    that differ between examples exported alike, read back from the graph's constants."""

    kind: str
    ir: dict
    nodes: tuple
    varying: tuple


def several_node_kinds() -> list[Pattern]:
    """The patterns of the kinds of one input that the registry exports as several nodes
    in every example (gelu, silu, mish, groupnorm): each example's nodes, one pattern for those
    exported alike (the same ops and wiring)."""
    patterns: dict[tuple, list] = {}
    for kind in KINDS.values():
        if kind.onnx is None or kind.merge:
            continue
        runs = [_probed(kind, kind.example_ir(example), list(example.inputs))
                for example in kind.examples or (Example(((3, 2, 2),)),)]
        if any(len(probe.nodes) < 2 for _, probe in runs):
            continue
        for ir, probe in runs:
            alike = (kind.name, tuple((op, tuple(_role(i) for i in inputs)) for op, inputs, _
                                      in probe.nodes))
            patterns.setdefault(alike, []).append((ir, probe))
    out = []
    for (name, _), runs in patterns.items():
        varying = tuple(f.name for f in KINDS[name].fields
                        if len({repr(ir[f.name]) for ir, _ in runs}) > 1)
        out.append(Pattern(name, runs[0][0], tuple(runs[0][1].nodes), varying))
    return out


def _probed(kind, ir: dict, shapes: list) -> tuple[dict, _Probe]:
    probe = _Probe()
    kind.onnx(probe, ir, shapes, kind.infer(ir, shapes), ["x"])
    return ir, probe


def _role(name: str) -> str:
    """What a probe's input is, as patterns compare it: a constant's own values aside."""
    return "const" if name.startswith("const") else name


# ---------------------------------------------------------------------------- values


@record
class Tensor:
    """A value computed per example: the layer that holds it (or the input) and its shape as
    cnnspec has it, ``(C, H, W)`` or ``(F,)``; ``squeezed``: ONNX holds it as ``(C, 1, 1)``
    (a global pool's), which a flatten leaves as it is; ``overhang``: ONNX's value is larger
    than cnnspec's by a last window of ceil mode (:func:`read_pool`), which only a Slice that
    cuts it off may read: the error said where anything else reads it."""

    layer: str
    shape: tuple
    squeezed: bool = False
    overhang: SpecError | None = None


@record
class Node:
    """One node as errors name it: its index in the graph, name, op and attributes."""

    index: int
    proto: object
    attributes: dict
    path: str | None

    @property
    def op(self) -> str:
        return self.proto.op_type

    def where(self) -> str:
        name = f" '{self.proto.name}'" if self.proto.name else ""
        return f"{GRAPH}.node[{self.index}]{name} ({self.op})"

    def error(self, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, json_path=self.where(), hint=hint, file=self.path)

    def ints(self, name: str, default) -> list[int]:
        return list(self.attributes.get(name, default))


@record
class Net:
    """The import's state while reading the nodes in order: the lines written, what each
    value is (a :class:`Tensor`, a constant array, or None past an error), how many nodes
    read each value."""

    path: str | None
    opset: int
    batch: int
    values: dict = field(default_factory=dict)
    readers: dict = field(default_factory=dict)
    outputs: tuple = ()
    names: Names = field(default_factory=Names)
    lines: list[LayerLine] = field(default_factory=list)
    tail: str = INPUT  # the output of the line written last
    loss: str | None = None
    notes: list[str] = field(default_factory=list)
    # Where each layer comes from: the node that wrote it (graph.node[1] '/Softmax'
    # (Softmax)), at which a check's error of the imported spec is said
    places: dict = field(default_factory=dict)

    def add(self, node: Node, kind: str, fields: dict, inputs: list[Tensor]) -> Tensor:
        """Write a layer of ``kind`` with ``fields`` on ``inputs``; its output, whose shape
        the kind's registry rule infers (a layer that does not fit its input: an error at
        the node)."""
        _in_range(node, kind, fields)
        name = self.names.make(_layer_name(node, kind))
        ir = KINDS[kind].example_ir(Example(tuple(t.shape for t in inputs), fields))
        ir.update(name=name, inputs=[t.layer for t in inputs])
        try:
            shape = KINDS[kind].infer(ir, [t.shape for t in inputs]).output
        except KindError as exc:
            raise node.error(exc.message.replace("'layer'", f"'{name}'"), exc.hint) from None
        line = LayerLine(name, kind, {**{p: ir[p] for p in KINDS[kind].positional}, **fields})
        if [t.layer for t in inputs] != [self.tail]:
            line.inputs = [t.layer for t in inputs]
        self.lines.append(line)
        self.places[name] = node.where()
        self.tail = name
        return Tensor(name, tuple(shape))

    def activate(self, node: Node, kind: str, fields: dict, x: Tensor, alone: bool
                 ) -> Tensor:
        """An activation on ``x``: written on the line that makes ``x`` where that line takes
        one and nothing else reads ``x`` (``alone``: ``conv 6 5x5 relu``), and the node's
        output has no other name of a layer (cnnspec's export of ``gt: gelu`` after ``fc``
        names it ``gt``, of ``fc: dense 8 gelu`` ``fc_gelu``); else a layer of its own."""
        line = self.lines[-1] if self.lines else None
        named = _value_name(node)
        if line is not None and x.layer == line.name == self.tail and not line.activation \
                and KINDS[line.kind].takes_activation and alone and \
                named in (None, f"{line.name}_{kind}"):
            line.activation = (kind, fields)
            self.names.reserve(line.output)
            self.places[line.output] = node.where()
            self.tail = line.output
            return Tensor(line.output, x.shape, x.squeezed)
        return self.add(node, kind, fields, [x])


def _in_range(node: Node, kind: str, fields: dict) -> None:
    """The fields the node sets hold values the IR can: each whole number within the bounds
    the IR's schema gives its field (:func:`_whole_bounds`), each other number finite (the
    checker's bounds, said here at the node before a shape is inferred from them: a stride of
    2^62 or a ratio of NaN was said at a line of the imported text, which no file holds)."""
    for f in KINDS[kind].fields:
        value = fields.get(f.name)
        if value is None or isinstance(value, (str, bool)):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        said = f"{node.op}'s {f.words or f.name} {value}: {'each' if len(values) > 1 else 'it'}"
        bounds = _whole_bounds(f)
        if bounds is not None and any(not isinstance(v, int) or not bounds[0] <= v <= bounds[1]
                                      for v in values):
            raise node.error(f"{said} must be a whole number from {bounds[0]} to "
                             f"{bounds[1]:,}", hint="the model may be damaged; " + EXPORT_HINT)
        if f.type == "number" and not all(math.isfinite(v) for v in values):
            raise node.error(f"{said} must be a finite number",
                             hint="the model may be damaged; " + EXPORT_HINT)


@functools.cache
def _whole_bounds(f) -> tuple[int, int] | None:
    """The least and the largest whole number the IR's schema lets the field ``f`` hold (a
    count, each of a pair, each side of a padding), read from the schema's definitions; None
    for a field of no whole numbers."""
    from cnnspec.ir.io import schema
    from cnnspec.kinds.fields import field_schema

    definitions = schema()["$defs"]

    def bounds(part: dict) -> tuple[int, int] | None:
        if "$ref" in part:
            return bounds(definitions[part["$ref"].rsplit("/", 1)[1]])
        if part.get("type") == "integer":
            return part["minimum"], part["maximum"]
        return next(filter(None, (bounds(sub) for sub in (part.get("items"),
                                                           *part.get("anyOf", ()))
                                  if isinstance(sub, dict))), None)

    return bounds(field_schema(f))


def _value_name(node: Node) -> str | None:
    """The node's output value's name where it is a layer's name (cnnspec's export): not in
    PyTorch's export (its node names begin with its module scope, ``/conv1/Conv``), whose
    value names are its tracer's (``input``, ``22``)."""
    import re

    out = node.proto.output[0] if node.proto.output else ""
    if node.proto.name.startswith(TORCH_SCOPE):
        return None
    return out if re.fullmatch(r"[A-Za-z_]\w*", out, flags=re.ASCII) else None


def _layer_name(node: Node, kind: str) -> str:
    """A layer's name: its output value's where that is a name already (cnnspec's export names
    each value after its layer), else the module path PyTorch's node name holds
    (:func:`_module_path`), else its kind (numbered by :class:`Names` where repeated)."""
    return _value_name(node) or _module_path(node.proto.name) or kind


def _module_path(name: str) -> str | None:
    """The module's dotted name, as ``model.named_modules()`` and ``state_dict()`` write it,
    from PyTorch's node name: its scopes before the op, where a scope within a Sequential
    (or ModuleList) repeats its parent's path (``/features/features.0/Conv`` is
    ``features.0``, ``/layer1/layer1.0/conv1/Conv`` is ``layer1.0.conv1``); None for an op
    of the model's own forward (``/Flatten``)."""
    path = ""
    for scope in [part for part in name.split("/") if part][:-1]:
        path = scope if not path or scope.startswith(path + ".") else f"{path}.{scope}"
    return path or None


# ---------------------------------------------------------------------------- the file


def load_model(data: bytes, path: str | None):
    """The ``ModelProto`` ``data`` holds; an error saying what the bytes are where they are no
    ONNX model."""
    onnx = require_onnx("importing ONNX")
    from google.protobuf.message import DecodeError

    where = path or "the model"
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{where} is not an ONNX model: {_first_line(exc)}", json_path="file",
                        file=path, hint=EXPORT_HINT) from None
    if not model.HasField("graph") or not model.graph.node:
        raise SpecError(f"{where} holds no ONNX graph (no nodes): it is no model ONNX writes, "
                        "or a damaged one", json_path=GRAPH, file=path, hint=EXPORT_HINT)
    return model


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _opset(model, path: str | None) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    raise SpecError("the model imports no opset of ONNX's default domain", json_path=
                    "opset_import", file=path, hint=EXPORT_HINT)


def _graph_input(model, path: str | None) -> tuple[str, tuple[int, int, int], int]:
    """The graph's one input that is no initializer: its name, ``(C, H, W)`` and its batch
    (:data:`FREE_BATCH` where it is free)."""
    graph = model.graph
    constants = {t.name for t in graph.initializer}
    inputs = [(i, value) for i, value in enumerate(graph.input) if value.name not in constants]
    if len(inputs) != 1:
        raise SpecError(f"the graph has {len(inputs)} inputs that are no initializers; "
                        "cnnspec imports a network of one image input", json_path=f"{GRAPH}"
                        ".input", file=path, hint="a spec's network reads one image: export "
                        "a model whose forward() takes one tensor (N, C, H, W), a wrapper module "
                        "that makes the others from it or holds them as constants")
    index, value = inputs[0]
    where = f"{GRAPH}.input[{index}] '{value.name}'"
    tensor = value.type.tensor_type
    dims = list(tensor.shape.dim) if tensor.HasField("shape") else []
    if len(dims) != 4:
        raise SpecError(f"the input '{value.name}' has {len(dims) or 'no'} known dimensions; "
                        "cnnspec imports an image input (N, C, H, W)", json_path=where,
                        file=path, hint=EXPORT_HINT)
    sizes = []
    for axis, dim in zip("CHW", dims[1:]):
        if not dim.HasField("dim_value") or dim.dim_value < 1:
            said = dim.dim_param or "unknown"
            raise SpecError(f"the input '{value.name}' has a free {axis} ({said}); a spec's "
                            "input has a fixed size", json_path=where, file=path,
                            hint="export with a fixed image size: in torch.onnx.export, "
                            "dynamic_axes (or dynamic_shapes) for the batch alone")
        sizes.append(dim.dim_value)
    batch = dims[0].dim_value if dims[0].HasField("dim_value") and dims[0].dim_value > 0 \
        else FREE_BATCH
    return value.name, tuple(sizes), batch


def _constants(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _attributes(proto) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in proto.attribute}


# ---------------------------------------------------------------------------- the nodes


def _tensor(node: Node, net: Net, position: int = 0) -> Tensor:
    value = net.values.get(node.proto.input[position]) if position < len(node.proto.input) \
        else None
    if not isinstance(value, Tensor):
        raise node.error(f"{node.op} reads '{node.proto.input[position]}' as its input, "
                         "which is no value of the network computed per example",
                         hint="cnnspec imports a network whose layers read its input")
    if value.overhang is not None:
        raise value.overhang
    return value


def _const(node: Node, net: Net, position: int, what: str) -> np.ndarray | None:
    """The constant input ``position`` (None where the node leaves it out)."""
    if position >= len(node.proto.input) or not node.proto.input[position]:
        return None
    value = net.values.get(node.proto.input[position])
    if not isinstance(value, np.ndarray):
        raise node.error(f"{node.op}'s {what} ('{node.proto.input[position]}') is computed "
                         "from the input, not a constant", hint="cnnspec imports fixed "
                         f"{what}s: export with constant folding (the default)")
    return value


def _map(node: Node, x: Tensor) -> None:
    if len(x.shape) != 3 or x.squeezed:
        raise node.error(f"{node.op} on a flat value of shape {x.shape}; cnnspec's "
                         f"{node.op} reads a feature map (C, H, W)",
                         hint="apply it before the flatten")


def _pads(node: Node, x: Tensor, kernel, stride, dilation) -> list[int] | str:
    """The padding as the IR writes it, ``[top, bottom, left, right]`` (ONNX's ``pads`` are
    the starts of H and W, then their ends), from ``auto_pad`` where that is set."""
    from cnnspec.shapes import same_padding_1d

    auto = node.attributes.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "VALID":
        return "valid"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [same_padding_1d(n, k, s, d) for n, k, s, d in
                zip(x.shape[1:], kernel, stride, dilation)]
        if auto == "SAME_LOWER":  # the odd row and column before
            pads = [(after, before) for before, after in pads]
        return [*pads[0], *pads[1]]
    if auto != "NOTSET":
        raise node.error(f"auto_pad {auto} is no padding ONNX defines",
                         hint="NOTSET, VALID, SAME_UPPER or SAME_LOWER")
    top, left, bottom, right = _spatial(node, "pads", [0, 0, 0, 0], per_side=True)
    return [top, bottom, left, right]


def _padding_field(pads) -> dict:
    if pads == "valid" or pads == [0, 0, 0, 0]:
        return {}
    top, bottom, left, right = pads
    return {"padding": [top, left] if (top, left) == (bottom, right) else pads}


def _spatial(node: Node, name: str, default, per_side: bool = False) -> list[int]:
    """The attribute ``name`` of a 2-D window: one value for H and one for W, or ``per_side``
    (``pads``) the starts of both and then their ends."""
    values = node.ints(name, default)
    count = 4 if per_side else 2
    if len(values) != count:
        raise node.error(f"{node.op}'s {name} {values} has {len(values)} values, where "
                         f"cnnspec's 2-D windows take {count}",
                         hint="cnnspec imports 2-D convolutions and pools")
    return values


def read_conv(node: Node, net: Net) -> Tensor:
    """Conv, and ConvTranspose where cnnspec has it: the weight's shape gives the filters
    (ONNX's ``(M, C/group, kH, kW)``, or ``(C, M/group, kH, kW)`` transposed); a bias
    input or none (``nobias``)."""
    x = _tensor(node, net)
    _map(node, x)
    weight = _const(node, net, 1, "weight")
    if weight is None or weight.ndim != 4:
        raise node.error(f"{node.op} without a 4-D weight", hint="cnnspec imports 2-D "
                         "convolutions whose weight is an initializer")
    transposed = node.op == "ConvTranspose"
    groups = int(node.attributes.get("group", 1))
    kernel = _spatial(node, "kernel_shape", weight.shape[2:])
    stride = _spatial(node, "strides", [1, 1])
    dilation = _spatial(node, "dilations", [1, 1])
    kind = "conv_transpose" if transposed else "conv"
    # in range before the padding and the channels are worked out from them
    _in_range(node, kind, {"kernel": kernel, "stride": stride, "dilation": dilation,
                           "groups": groups})
    _weight_reads(node, weight, int(weight.shape[0] if transposed else weight.shape[1] * groups),
                  x, "channels")
    fields = {"filters": int(weight.shape[1] * groups if transposed else weight.shape[0]),
              "kernel": kernel, "stride": stride, "dilation": dilation, "groups": groups,
              "bias": _const(node, net, 2, "bias") is not None}
    if transposed:
        if node.attributes.get("output_shape"):
            raise node.error("a ConvTranspose with output_shape", hint="write its pads and "
                             "output_padding instead (PyTorch's export does)")
        output_pad = _spatial(node, "output_padding", [0, 0])
        if output_pad != [0, 0]:
            fields["output_pad"] = output_pad
    fields.update(_padding_field(_pads(node, x, kernel, stride, dilation)))
    return net.add(node, kind, fields, [x])


def read_dense(node: Node, net: Net) -> Tensor:
    """Gemm (``y = alpha A B' + beta C``, at alpha = beta = 1, A not transposed) and
    MatMul: a dense layer of the weight's units; the bias, Gemm's C."""
    x = _flat(node, net)
    weight = _const(node, net, 1, "weight")
    if weight is None or weight.ndim != 2:
        raise node.error(f"{node.op} without a 2-D weight",
                         hint="cnnspec imports a dense layer whose weight is an initializer")
    for name in ("alpha", "beta"):
        if node.attributes.get(name, 1.0) != 1.0:
            raise node.error(f"a Gemm with {name} {node.attributes[name]:g}",
                             hint="cnnspec's dense layer computes x W' + b: fold the factor "
                             "into the weights before exporting")
    if node.attributes.get("transA", 0):
        raise node.error("a Gemm with transA", hint="cnnspec's dense reads (N, F) inputs")
    transposed = node.attributes.get("transB", 0)
    _weight_reads(node, weight, int(weight.shape[1] if transposed else weight.shape[0]), x,
                  "features")
    units = weight.shape[0] if transposed else weight.shape[1]
    bias = node.op == "Gemm" and _const(node, net, 2, "bias") is not None
    return net.add(node, "dense", {"units": int(units), "bias": bias}, [x])


def _weight_reads(node: Node, weight: np.ndarray, reads: int, x: Tensor, what: str) -> None:
    """The node's weight reads as many channels (or features) as its input ``x`` has: the
    weights are not imported, and a layer read off a weight that does not fit its input
    (a damaged file's) would be another network than the file's."""
    if reads != x.shape[0]:
        raise node.error(f"{node.op}'s weight of shape {list(weight.shape)} reads {reads} "
                         f"input {what}, but its input has {x.shape[0]}",
                         hint="the model may be damaged; " + EXPORT_HINT)


def _flat(node: Node, net: Net) -> Tensor:
    x = _tensor(node, net)
    if len(x.shape) != 1:
        raise node.error(f"{node.op} on a value of shape {x.shape}; cnnspec's dense layer "
                         "reads a flat (N, F) value", hint="flatten before it (Flatten, or "
                         "Reshape to (N, -1))")
    return x


def read_bias_add(node: Node, net: Net) -> Tensor:
    """Add: of two values, an add layer; of a constant onto a dense layer without bias that
    nothing else reads (PyTorch's MatMul then Add), that layer's bias."""
    values = [net.values.get(name) for name in node.proto.input]
    tensors = [v for v in values if isinstance(v, Tensor)]
    if len(tensors) == len(values):
        return read_merge(node, net)
    line = net.lines[-1] if net.lines else None
    x = tensors[0] if len(tensors) == 1 else None
    bias = next((v for v in values if isinstance(v, np.ndarray)), None)
    if x is not None and line is not None and line.kind == "dense" and x.layer == line.name \
            and not line.fields["bias"] and not line.activation and bias is not None \
            and bias.size == line.fields["units"]:
        line.fields["bias"] = True
        return x
    raise node.error("an Add of a constant that is no dense layer's bias", hint="cnnspec "
                     "adds a constant as the bias of a dense layer (MatMul then Add)")


def read_merge(node: Node, net: Net) -> Tensor:
    """Add and Sum of values: an add; Concat along the channels (axis 1): a concat."""
    xs = [_tensor(node, net, i) for i in range(len(node.proto.input))]
    if node.op == "Concat":
        axis = node.attributes.get("axis")
        if axis not in (1, 1 - 1 - len(xs[0].shape)):
            raise node.error(f"a Concat along axis {axis}", hint="cnnspec concatenates "
                             "along the channels (features): axis 1")
    if len(xs) == 1:
        return xs[0]
    return net.add(node, "concat" if node.op == "Concat" else "add", {}, xs)


def read_pool(node: Node, net: Net) -> Tensor:
    """MaxPool and AveragePool (ceil_mode, count_include_pad); ONNX keeps a last window of
    ceil mode that starts in the trailing padding, cnnspec does not (PyTorch's rule): where it
    changes the output's size, a Slice must cut it off (as cnnspec's export writes it)."""
    from cnnspec.shapes import resolve_padding, window_output_size

    x = _tensor(node, net)
    _map(node, x)
    kernel = _spatial(node, "kernel_shape", [])
    stride = _spatial(node, "strides", [1, 1])
    if node.ints("dilations", [1, 1]) != [1, 1]:
        raise node.error("a dilated pool", hint="cnnspec's pools read whole windows")
    kind = "maxpool" if node.op == "MaxPool" else "avgpool"
    _in_range(node, kind, {"size": kernel, "stride": stride})  # before the padding's sums
    pads = _pads(node, x, kernel, stride, [1, 1])
    ceil = bool(node.attributes.get("ceil_mode", 0))
    fields = {"size": kernel, "stride": stride, **_padding_field(pads)}
    if ceil:
        fields["ceil_mode"] = True
        resolved = resolve_padding(pads, x.shape[1:], kernel, stride)
        onnx_hw = [-(-(n + before + after - k) // s) + 1 for n, k, s, before, after in zip(
            x.shape[1:], kernel, stride, resolved[::2], resolved[1::2])]
        ours = [window_output_size(n, k, s, before, after, ceil_mode=True) for n, k, s, before,
                after in zip(x.shape[1:], kernel, stride, resolved[::2], resolved[1::2])]
    if kind == "avgpool" and not node.attributes.get("count_include_pad", 0):
        fields["count_include_pad"] = False
    out = net.add(node, kind, fields, [x])
    if ceil and onnx_hw != ours:
        out.overhang = node.error(
            f"ceil mode keeps a last window here that starts in the padding ({onnx_hw[0]}x"
            f"{onnx_hw[1]} against cnnspec's {ours[0]}x{ours[1]}), and no Slice cuts it off",
            hint="cnnspec drops that window, as PyTorch does: pad less, turn ceil mode off, "
            f"or slice the output to {ours[0]}x{ours[1]}")
    return out


def read_slice(node: Node, net: Net) -> Tensor:
    """Slice: of a pool's output, the cut of ceil mode's last windows (:func:`read_pool`),
    which leaves cnnspec's pool; cnnspec has no layer for any other."""
    x = net.values.get(node.proto.input[0])
    bounds = [_const(node, net, i, "bound") for i in range(1, min(5, len(node.proto.input)))]
    cut = isinstance(x, Tensor) and x.overhang is not None and len(bounds) >= 3 and all(
        b is not None for b in bounds[:3]) and [b.tolist() for b in bounds[:3]] == [
        [0, 0], list(x.shape[1:]), [2, 3]] and (len(bounds) < 4 or bounds[3] is None or
                                                 bounds[3].tolist() == [1, 1])
    if not cut:
        raise node.error("a Slice of a value computed per example", hint="cnnspec imports a "
                         "Slice only where it cuts off the last windows of a ceil-mode pool, "
                         "as cnnspec's export writes it")
    return Tensor(x.layer, x.shape, x.squeezed)


def read_global_pool(node: Node, net: Net) -> Tensor:
    """GlobalAveragePool / GlobalMaxPool: ONNX's ``(N, C, 1, 1)``, cnnspec's ``(N, C)``."""
    x = _tensor(node, net)
    _map(node, x)
    kind = "global_avgpool" if node.op == "GlobalAveragePool" else "global_maxpool"
    out = net.add(node, kind, {}, [x])
    return Tensor(out.layer, out.shape, squeezed=True)


def read_mean(node: Node, net: Net) -> Tensor:
    """ReduceMean over H and W (PyTorch's ``x.mean((2, 3))``): a global average pool."""
    x = _tensor(node, net)
    _map(node, x)
    axes = node.attributes.get("axes") if net.opset < 18 else _const(node, net, 1, "axes")
    if axes is None or sorted(int(a) % 4 for a in axes) != [2, 3]:
        shown = "all" if axes is None else list(map(int, axes))
        raise node.error(f"a ReduceMean over axes {shown}", hint="cnnspec averages over H "
                         "and W (axes 2, 3): global_avgpool")
    out = net.add(node, "global_avgpool", {}, [x])
    return Tensor(out.layer, out.shape, squeezed=bool(node.attributes.get("keepdims", 1)))


def read_flatten(node: Node, net: Net) -> Tensor:
    """Flatten at axis 1, and Reshape to ``(N, -1)`` or ``(N, C·H·W)``: a flatten (none where
    the value is flat already)."""
    x = _tensor(node, net)
    if node.op == "Flatten":
        if node.attributes.get("axis", 1) != 1:
            raise node.error(f"a Flatten at axis {node.attributes['axis']}",
                             hint="cnnspec flattens each example: axis 1")
    else:
        target = _const(node, net, 1, "target shape")
        size = math.prod(x.shape)
        if target is None or target.ndim != 1 or len(target) != 2 or \
                target[0] not in (0, -1, net.batch) or target[1] not in (-1, size) or \
                -1 == target[0] == target[1]:
            raise node.error(f"a Reshape to {target.tolist() if target is not None else '?'}"
                             f" of a value of shape {x.shape}", hint="cnnspec imports a "
                             f"Reshape that flattens each example: to (N, -1) or (N, {size})")
    if len(x.shape) == 1 or x.squeezed:
        return Tensor(x.layer, (math.prod(x.shape),))
    return net.add(node, "flatten", {}, [x])


def read_batchnorm(node: Node, net: Net) -> Tensor:
    """BatchNormalization: ONNX's momentum is the share of the running statistics each batch
    keeps (``running = momentum · running + (1 - momentum) · batch``, onnx/Operators.md),
    cnnspec's the weight of the batch (:func:`~cnnspec.kinds.catalogue.momentum_kept`)."""
    x = _tensor(node, net)
    fields = {"eps": float(np.float32(node.attributes.get("epsilon", 1e-5))),
              "momentum": momentum_kept(float(np.float32(node.attributes.get("momentum",
                                                                               0.9))))}
    fields["eps"] = float(f"{fields['eps']:.6g}")  # float32's digits, as written
    fields["momentum"] = float(f"{fields['momentum']:.6g}")
    return net.add(node, "batchnorm", fields, [x])


def read_norm(node: Node, net: Net) -> Tensor:
    """LayerNormalization over (C, H, W) (axis 1) and InstanceNormalization."""
    x = _tensor(node, net)
    if node.op == "LayerNormalization" and node.attributes.get("axis", -1) not in (
            1, -len(x.shape)):
        raise node.error(f"a LayerNormalization at axis {node.attributes.get('axis', -1)}",
                         hint="cnnspec's layernorm normalises each example over all its "
                         "values: axis 1")
    if node.op == "InstanceNormalization":
        _map(node, x)
    eps = float(f"{float(np.float32(node.attributes.get('epsilon', 1e-5))):.6g}")
    kind = "layernorm" if node.op == "LayerNormalization" else "instancenorm"
    return net.add(node, kind, {"eps": eps}, [x])


def read_dropout(node: Node, net: Net) -> Tensor:
    """Dropout: its ratio (an attribute before opset 12, an input since)."""
    x = _tensor(node, net)
    ratio = _const(node, net, 1, "ratio") if net.opset >= 12 else None
    if ratio is not None and ratio.size != 1:
        raise node.error(f"a Dropout's ratio of {ratio.size} values",
                         hint="a Dropout's ratio is one number, 0 <= ratio < 1")
    p = float(ratio.ravel()[0]) if ratio is not None else \
        float(node.attributes.get("ratio", 0.5))
    return net.add(node, "dropout", {"p": float(f"{p:.6g}")}, [x])


def read_identity(node: Node, net: Net) -> Tensor:
    return _tensor(node, net)


def read_resize(node: Node, net: Net) -> Tensor:
    """Resize (and opset 7-9's Upsample) by whole factors: nearest, which repeats each pixel
    (with asymmetric coordinates, as PyTorch and cnnspec's export write it), or linear
    with half-pixel coordinates, cnnspec's bilinear (align_corners=False)."""
    x = _tensor(node, net)
    _map(node, x)
    factor = _resize_factor(node, net, x)
    mode = node.attributes.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    transform = node.attributes.get("coordinate_transformation_mode", b"half_pixel")
    transform = transform.decode() if isinstance(transform, bytes) else transform
    if mode == "nearest" and (node.op == "Upsample" or transform == "asymmetric"):
        return net.add(node, "upsample", {"factor": factor}, [x])
    if mode == "linear" and node.op == "Resize" and transform in ("half_pixel",
                                                                   "pytorch_half_pixel"):
        return net.add(node, "upsample", {"factor": factor, "mode": "bilinear"}, [x])
    if node.op == "Upsample":  # opset 7-9's: no coordinate mode, its linear asymmetric
        raise node.error(f"an Upsample (opset {net.opset}) in mode {mode}: ONNX's Upsample "
                         "interpolates with asymmetric coordinates, which no cnnspec upsample "
                         "computes", hint="export at opset 11 or later (torch.onnx.export(..., "
                         "opset_version=17)), where PyTorch writes mode='bilinear' as a Resize "
                         "with half_pixel coordinates, cnnspec's bilinear")
    raise node.error(f"a {node.op} in mode {mode} with {transform} coordinates",
                     hint="cnnspec upsamples nearest (asymmetric coordinates: PyTorch's "
                     "mode='nearest') or bilinear (half_pixel: PyTorch's mode='bilinear' with "
                     "align_corners=False, its default)")


def _resize_factor(node: Node, net: Net, x: Tensor) -> list[int]:
    if node.op == "Upsample":
        scales = _const(node, net, 1, "scales") if len(node.proto.input) > 1 else \
            np.asarray(node.attributes.get("scales", []))
    else:
        scales = _const(node, net, 2, "scales")
        sizes = _const(node, net, 3, "sizes")
        if (scales is None or scales.size == 0) and sizes is not None and len(sizes) == 4:
            scales = np.asarray(sizes[2:], dtype=float) / np.asarray(x.shape[1:])
            scales = np.concatenate([[1.0, 1.0], scales])
    if scales is None or len(scales) != 4 or list(scales[:2]) != [1, 1] or \
            not all(s >= 1 and float(s).is_integer() for s in scales[2:]):  # NaN, inf too
        shown = scales.tolist() if scales is not None else "none"
        raise node.error(f"a {node.op} by scales {shown}", hint="cnnspec upsamples H and W "
                         "by whole factors: scales (1, 1, fh, fw)")
    return [int(s) for s in scales[2:]]


def read_softmax(node: Node, net: Net) -> Tensor:
    """Softmax and LogSoftmax over the channels. A Softmax that gives the model's output is
    the loss's (cross_entropy takes the scores before it); a LogSoftmax there, a layer
    that nll reads."""
    x = _tensor(node, net)
    axis = node.attributes.get("axis", 1 if net.opset < 13 else -1)
    if axis not in (1, 1 - 1 - len(x.shape)) and not (net.opset < 13 and len(x.shape) == 1):
        raise node.error(f"a {node.op} along axis {axis}",
                         hint="cnnspec's softmax is over the channels (features): axis 1")
    if node.op == "Softmax" and _left_to_loss(node, net, x, len(x.shape) == 1):
        return x
    if node.proto.output[0] in net.outputs:
        net.loss = LAST_OP_LOSSES[node.op]
    return net.activate(node, "softmax" if node.op == "Softmax" else "log_softmax", {}, x,
                        _alone(node, net))


def _left_to_loss(node: Node, net: Net, x: Tensor, fits: bool) -> bool:
    """Whether the node, giving the model's output where ``fits`` (the scores' shape its loss
    takes), is its loss's and left out (:data:`LAST_OP_LOSSES`); said in the header."""
    if not fits or node.proto.output[0] not in net.outputs:
        return False
    net.loss = LAST_OP_LOSSES[node.op]
    net.notes.append(f"the model's last {node.op} ({node.where()}) left out: the loss, "
                     f"{net.loss}, takes the {'score' if x.shape == (1,) else 'scores'} "
                     "before it")
    return True


def read_gelu(node: Node, net: Net) -> Tensor:
    """Gelu, from opset 20 (which cnnspec's export, at opset 17, writes as its formula): its
    ``approximate`` attribute is the kind's field of that name."""
    x = _tensor(node, net)
    approximate = node.attributes.get("approximate", b"none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
    fields = {} if approximate == "none" else {"approximate": approximate}
    return net.activate(node, "gelu", fields, x, _alone(node, net))


def read_mish(node: Node, net: Net) -> Tensor:
    """Mish, from opset 18, as other exporters write it (cnnspec's export, at opset 17, and
    PyTorch's write its formula, Softplus, Tanh, Mul, read as a pattern)."""
    return net.activate(node, "mish", {}, _tensor(node, net), _alone(node, net))


def read_activation(node: Node, net: Net) -> Tensor:
    """An op one activation kind exports as (:func:`activation_ops`), its attributes (ONNX's
    defaults where left out) that kind's fields."""
    x = _tensor(node, net)
    if node.op == "Sigmoid" and _left_to_loss(node, net, x, x.shape == (1,)):
        return x
    for reading in ACTIVATION_OPS[node.op]:
        fields = _activation_fields(node, net, reading)
        if fields is not None:
            return net.activate(node, reading.kind, fields, x, _alone(node, net))
    raise node.error(f"a {node.op} of {_described(node, net)}", hint="cnnspec's activations "
                     f"read as {node.op}: " + listed([_said(r) for r in ACTIVATION_OPS[node.op]]))


def _alone(node: Node, net: Net) -> bool:
    """Whether the node is all that reads its input."""
    return net.readers.get(node.proto.input[0]) == 1


def _activation_fields(node: Node, net: Net, reading: ActivationOp) -> dict | None:
    """The fields of ``reading``'s kind the node sets, or None where it is not that kind."""
    attributes = {**_defaults(node, net), **node.attributes}
    for name, value in reading.fixed.items():
        if attributes.get(name) != value:
            return None
    consts = []
    for position in range(1, len(node.proto.input)):
        value = net.values.get(node.proto.input[position])
        if reading.learned and position == 1:
            continue
        if not isinstance(value, np.ndarray) or value.size != 1:
            return None
        consts.append(float(value))
    if tuple(consts) != tuple(float(c) for c in reading.consts):
        return None
    return {f: float(f"{float(np.float32(attributes[a])):.6g}") for a, f in
            reading.fields.items() if a in attributes}


def _defaults(node: Node, net: Net) -> dict:
    """ONNX's defaults of the node's attributes at the model's opset (LeakyRelu's alpha
    0.01)."""
    from onnx import defs, helper

    try:
        schema = defs.get_schema(node.op, net.opset)
    except defs.SchemaError:
        return {}
    return {name: helper.get_attribute_value(a.default_value) for name, a in
            schema.attributes.items() if a.default_value.name}


def _described(node: Node, net: Net) -> str:
    parts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in
             node.attributes.items()]
    for name in node.proto.input[1:]:
        value = net.values.get(name)
        if isinstance(value, np.ndarray) and value.size == 1:
            parts.append(f"{float(value):g}")
    return ", ".join(parts) or "its defaults"


def _said(reading: ActivationOp) -> str:
    consts = f" ({', '.join(f'{c:g}' for c in reading.consts)})" if reading.consts else ""
    return f"{reading.kind}{consts}"


ACTIVATION_OPS = activation_ops()
PATTERNS = several_node_kinds()
READERS: dict[str, Callable[[Node, Net], Tensor]] = {
    "Conv": read_conv, "ConvTranspose": read_conv,
    "Gemm": read_dense, "MatMul": read_dense, "Add": read_bias_add, "Sum": read_merge,
    "Concat": read_merge, "MaxPool": read_pool, "AveragePool": read_pool,
    "GlobalAveragePool": read_global_pool, "GlobalMaxPool": read_global_pool,
    "ReduceMean": read_mean,
    "Flatten": read_flatten, "Reshape": read_flatten, "BatchNormalization": read_batchnorm,
    "LayerNormalization": read_norm, "InstanceNormalization": read_norm,
    "Dropout": read_dropout, "Identity": read_identity, "Resize": read_resize,
    "Upsample": read_resize, "Softmax": read_softmax, "LogSoftmax": read_softmax,
    "Gelu": read_gelu, "Mish": read_mish, "Slice": read_slice,
    **{op: read_activation for op in ACTIVATION_OPS if op not in ("Softmax", "LogSoftmax")},
}
# Ops that compute constants in the exports cnnspec reads (a flatten's shape): past an
# error, where their inputs are unknown, not said to be ops of no layer.
COMPUTED = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Mul", "Div", "Sub",
            "ConstantOfShape", "Expand", "Range", "Erf", "Pow", "Sqrt", "Where", "Equal")
# The ops whose outputs are computed where every input is a constant: those above, and the
# layers' ops PyTorch's shape chains use too (a Concat of a flatten's dims). Any other op of
# constants is read as a layer, which refuses an input no example computes: a Loop of
# constants would run as long as its trip count says, a Conv of constant maps as long as the
# reference evaluator's Python loops take.
EVALUATED = frozenset((*COMPUTED, "Constant", "Concat", "Reshape", "Slice", "Identity", "Add",
                       "Transpose", "Flatten"))
# The most values a computed constant may hold: an export's are shapes and scales, a few
# values each. ONNX's shape inference says how many a node would make before the evaluator
# allocates them (a ConstantOfShape of 100000 x 100000 asked for 37 GiB).
MAX_COMPUTED_VALUES = 1 << 20
# Ops cnnspec has no layer for that a PyTorch user meets, and what to do instead.
REFUSED = {
    "Selu": "cnnspec has no selu: use elu, or export an activation it has",
    "Softplus": "cnnspec has no softplus: use an activation it has (relu, elu, silu)",
    "LSTM": "cnnspec has no recurrent layers", "GRU": "cnnspec has no recurrent layers",
    "RNN": "cnnspec has no recurrent layers",
}


def _constant_node(node: Node, net: Net) -> list | None:
    """The outputs of a node that computes constants only, by ONNX's reference evaluator (a
    flatten's shape, a Resize's scales; Shape of a value of known shape included); None where
    it reads a value computed per example."""
    proto = node.proto
    if proto.op_type == "Shape":
        x = net.values.get(proto.input[0])
        if not isinstance(x, Tensor):
            return None
        dims = [net.batch, *((*x.shape, 1, 1) if x.squeezed else x.shape)]
        start, end = node.attributes.get("start", 0), node.attributes.get("end", None)
        return [np.asarray(dims[start:end], dtype=np.int64)]
    inputs = {name: net.values[name] for name in proto.input if name}
    if not all(isinstance(v, np.ndarray) for v in inputs.values()) or \
            proto.op_type not in EVALUATED or proto.domain not in ("", "ai.onnx"):
        return None
    _refuse_large_constants(node, inputs, net.opset)
    from onnx.reference import ReferenceEvaluator

    try:
        return list(ReferenceEvaluator(proto, opsets={"": net.opset}).run(None, inputs))
    except Exception as exc:  # noqa: BLE001 - any op's own failure on its constants
        raise node.error(f"{node.op} of constants fails in ONNX's reference evaluator: "
                         f"{_first_line(exc)}", hint="the graph may be damaged; "
                         + EXPORT_HINT) from None


def _refuse_large_constants(node: Node, inputs: dict, opset: int) -> None:
    """Refuse a node of constants whose outputs would hold more than
    :data:`MAX_COMPUTED_VALUES` values, by ONNX's shape inference of the node alone (its
    inputs as initializers, their values propagated): before anything is allocated."""
    import onnx
    from onnx import helper, numpy_helper

    proto = node.proto
    graph = helper.make_graph(
        [proto], "node", [], [helper.make_empty_tensor_value_info(name)
                              for name in proto.output if name],
        [numpy_helper.from_array(value, name) for name, value in inputs.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except (onnx.shape_inference.InferenceError, ValueError, RuntimeError):
        return  # said by the evaluator, which runs next
    for value in inferred.graph.output:
        dims = value.type.tensor_type.shape.dim
        known = [d.dim_value for d in dims if d.HasField("dim_value")]
        if len(known) == len(dims) and math.prod(known) > MAX_COMPUTED_VALUES:
            raise node.error(f"{node.op} of constants would make {math.prod(known):,} values "
                             f"(shape {' x '.join(map(str, known))}); a network's computed "
                             f"constants are shapes and scales, at most "
                             f"{MAX_COMPUTED_VALUES:,} values here",
                             hint="the graph may be damaged; " + EXPORT_HINT)


def read_pattern(index: int, nodes: list, net: Net) -> int:
    """The layer the nodes from ``index`` make where they are a kind's export of several
    nodes (:func:`several_node_kinds`), read back as the exporter wrote them: the number of
    nodes read, 0 where none matches."""
    for pattern in PATTERNS:
        found = _matched(pattern, nodes[index:index + len(pattern.nodes)], net)
        if found is None:
            continue
        x, x_name, ir = found
        read = nodes[index:index + len(pattern.nodes)]
        named = _named(read)
        kind = KINDS[pattern.kind]
        fields = {f.name: ir[f.name] for f in kind.fields if not f.is_default(ir[f.name], ir)}
        if kind.is_activation:
            reads = sum(role == "x" for _, inputs, _ in pattern.nodes for role in inputs)
            out = net.activate(named, pattern.kind, fields, x, net.readers[x_name] == reads)
        else:
            out = net.add(named, pattern.kind, fields, [x])
        for node in read:
            net.values.update(dict.fromkeys(node.proto.output))
        net.values[read[-1].proto.output[0]] = out
        return len(pattern.nodes)
    return 0


def _named(nodes: list) -> Node:
    """The node of a pattern that names its layer: the last where its value has a layer's
    name (cnnspec's export), else the first of a PyTorch module (``nn.AdaptiveAvgPool2d``'s
    ``/pool/GlobalAveragePool`` before the forward's ``torch.flatten``, ``/Flatten``: the
    layer is ``pool``), else the last."""
    if _value_name(nodes[-1]):
        return nodes[-1]
    return next((node for node in nodes if _module_path(node.proto.name)), nodes[-1])


def _matched(pattern: Pattern, nodes: list, net: Net) -> tuple[Tensor, str, dict] | None:
    """The input, its value's name and the fields of ``pattern``'s kind where ``nodes`` are
    its export: wired alike (:func:`_wired`), and the export of the fields read (the
    varying ones tried at each whole number the graph's constants hold) the graph's
    attributes and constants."""
    wired = _wired(pattern, nodes, net)
    if wired is None:
        return None
    for ir in _candidates(pattern, nodes, net):
        if _exports_as(pattern.kind, ir, wired[0], nodes, net):
            return (*wired, ir)
    return None


def _wired(pattern: Pattern, nodes: list, net: Net) -> tuple[Tensor, str] | None:
    """The one input ``nodes`` read and its value's name, where they are ``pattern``'s ops
    wired as its nodes are, and each value made inside is read only inside."""
    nodes = nodes[:len(pattern.nodes)]
    if len(nodes) < len(pattern.nodes) or not all(node.proto.output for node in nodes):
        return None
    inside = {f"out{k}": node.proto.output[0] for k, node in enumerate(nodes, start=1)}
    taken = []
    for (op, inputs, _), node in zip(pattern.nodes, nodes):
        if node.op != op or len(node.proto.input) != len(inputs):
            return None
        for role, name in zip(inputs, node.proto.input):
            value = net.values.get(name)
            if role == "x":
                taken.append((value, name))
            elif role in inside and name != inside[role] or role.startswith(
                    ("const", "param:")) and not isinstance(value, np.ndarray):
                return None
    made_inside = sum(role in inside for _, inputs, _ in pattern.nodes for role in inputs)
    if made_inside != sum(net.readers.get(node.proto.output[0], 0) for node in nodes[:-1]):
        return None
    if not taken or len({name for _, name in taken}) != 1 or not isinstance(taken[0][0],
                                                                             Tensor):
        return None
    return taken[0]


def _candidates(pattern: Pattern, nodes: list, net: Net):
    """The fields to try: the pattern's example's, a number field that its export writes as
    an attribute at the graph's value (a groupnorm's eps), each varying field at each whole
    number the nodes' constants hold (a groupnorm's groups are its first Reshape's)."""
    base = dict(pattern.ir)
    numbers = [f.name for f in KINDS[pattern.kind].fields if f.type == "number"]
    for (_, _, attributes), node in zip(pattern.nodes, nodes):
        for name, value in attributes.items():
            for field_name in numbers:
                if isinstance(value, float) and value == pattern.ir[field_name] and \
                        isinstance(node.attributes.get(name), float):
                    base[field_name] = float(f"{node.attributes[name]:.6g}")
    if not pattern.varying:
        yield base
        return
    numbers = sorted({int(v) for node in nodes for name in node.proto.input
                      if isinstance(net.values.get(name), np.ndarray)
                      and net.values[name].size <= 4
                      for v in net.values[name].ravel() if float(v).is_integer() and v > 0})
    for number in numbers:
        yield {**base, **dict.fromkeys(pattern.varying, number)}


def _exports_as(kind: str, ir: dict, x: Tensor, nodes: list, net: Net) -> bool:
    """Whether the kind's export of ``ir`` on ``x`` is ``nodes``: their attributes and
    constants, each to float32's precision."""
    try:
        _, probe = _probed(KINDS[kind], {**ir, "inputs": ["x"]}, [x.shape])
    except KindError:
        return False
    for (op, inputs, attributes), node in zip(probe.nodes, nodes):
        if set(attributes) - set(node.attributes) or not all(
                _same(value, node.attributes[name]) for name, value in attributes.items()):
            return False
        for role, name in zip(inputs, node.proto.input):
            if role in probe.consts and not _same(probe.consts[role], net.values[name]):
                return False
    return True


def _same(ours, theirs) -> bool:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.dtype.kind in "US" or theirs.dtype.kind in "USO":
        return str(ours) == str(theirs) or ours.tolist() == theirs.tolist()
    return ours.shape == theirs.shape and bool(np.allclose(ours, theirs, rtol=1e-6, atol=0))


def _arity(node: Node, net: Net) -> None:
    """The node has as many inputs and outputs as its op's schema allows at the model's
    opset (a damaged graph's may not)."""
    from onnx import defs

    try:
        schema = defs.get_schema(node.op, net.opset)
    except defs.SchemaError:
        return  # no op of ONNX's: said as such by its reader's absence
    for what, given, least, most in (
            ("inputs", len(node.proto.input), schema.min_input, schema.max_input),
            ("outputs", len(node.proto.output), max(1, schema.min_output), schema.max_output)):
        if not least <= given <= most:
            raise node.error(f"{node.op} has {given} {what}; ONNX's {node.op} has "
                             f"{least} to {most} at opset {net.opset}",
                             hint="the model may be damaged; " + EXPORT_HINT)


# PyTorch below opset 20 writes nn.GELU as its formula, x * 0.5 * (1 + erf(x / sqrt(2)))
# (Hendrycks & Gimpel 2016, eq. 1), beginning with a Div by sqrt(2) where cnnspec's export
# multiplies by 1/sqrt(2): how its first node is told.
GELU_FORMULA_HINT = ("this Div by sqrt(2) begins PyTorch's nn.GELU as it exports below "
                     "opset 20 (x / sqrt(2), Erf, Add, Mul, Mul), which cnnspec does not "
                     "read: export with torch.onnx.export(..., opset_version=20), where it is "
                     "ONNX's Gelu op")


def _unsupported(node: Node, net: Net) -> SpecError:
    hint = REFUSED.get(node.op) or (GELU_FORMULA_HINT if _divides_by_root2(node, net) else
                                    "the ops cnnspec imports: " + ", ".join(sorted(READERS)))
    return node.error(f"ONNX's {node.op} is not an op cnnspec imports", hint=hint)


def _divides_by_root2(node: Node, net: Net) -> bool:
    divisor = net.values.get(node.proto.input[1]) if len(node.proto.input) > 1 else None
    return node.op == "Div" and isinstance(divisor, np.ndarray) and divisor.size == 1 and \
        math.isclose(float(divisor.ravel()[0]), math.sqrt(2), rel_tol=1e-6)


def read_node(node: Node, net: Net) -> None:
    """The node's outputs: constants computed, or the layer it reads as; an error where
    cnnspec has none."""
    proto = node.proto
    if any(name and name not in net.values for name in proto.input):
        missing = next(name for name in proto.input if name and name not in net.values)
        raise node.error(f"{node.op} reads '{missing}', which no earlier node makes and no "
                         "initializer holds", hint="the graph's nodes must come in an order "
                         "where each value is made before it is read (onnx.checker says so)")
    _arity(node, net)
    if any(name and net.values[name] is None for name in proto.input):
        net.values.update(dict.fromkeys(proto.output))  # past an error: said there, but
        if node.op not in READERS and node.op not in COMPUTED:  # an op of no layer is said
            raise _unsupported(node, net)
        return
    constants = _constant_node(node, net)
    if constants is not None:
        net.values.update(zip(proto.output, constants))
        return
    reader = READERS.get(node.op)
    if reader is None or proto.domain not in ("", "ai.onnx"):
        raise _unsupported(node, net)
    out = reader(node, net)
    net.values[proto.output[0]] = out
    net.values.update(dict.fromkeys(proto.output[1:]))  # BatchNormalization's statistics


def read_graph(model, path: str | None) -> tuple[Net, tuple[int, int, int], str]:
    """Every node read in order; every node cnnspec cannot import reported together
    (:class:`SpecErrors`). Returns the network, the input's shape and the output's value."""
    opset = _opset(model, path)
    name, shape, batch = _graph_input(model, path)
    graph = model.graph
    if len(graph.output) != 1:
        raise SpecError(f"the graph has {len(graph.output)} outputs; cnnspec imports a "
                        "network of one output", json_path=f"{GRAPH}.output", file=path,
                        hint="a spec's network gives one output, the scores its loss reads: "
                        "export a model whose forward() returns one tensor (a wrapper module "
                        "returning the output you train, out[0] of a tuple)")
    net = Net(path, opset, batch, outputs=(graph.output[0].name,))
    net.values.update(_constants(model))
    net.values[name] = Tensor(INPUT, shape)
    net.names.reserve(INPUT)
    for proto in graph.node:
        for value in proto.input:
            net.readers[value] = net.readers.get(value, 0) + 1
    errors = []
    nodes = [Node(index, proto, _attributes(proto), path)
             for index, proto in enumerate(graph.node)]
    # Constant nodes first (they read nothing): PyTorch writes them between the nodes of one
    # layer's export, which then reads as the exporter's pattern (a GroupNorm's)
    for node in nodes:
        if node.op == "Constant" and not node.proto.input:
            try:
                read_node(node, net)
            except SpecError as exc:
                errors.append(exc)
                net.values.update(dict.fromkeys(node.proto.output))
    nodes = [node for node in nodes if node.op != "Constant" or node.proto.input]
    index = 0
    while index < len(nodes):
        node = nodes[index]
        try:
            read = read_pattern(index, nodes, net)
            if read:
                index += read
                continue
            read_node(node, net)
        except SpecError as exc:
            errors.append(exc)
            net.values.update(dict.fromkeys(node.proto.output))
        index += 1
    output = net.values.get(graph.output[0].name)
    if isinstance(output, Tensor) and output.overhang is not None:
        errors.append(output.overhang)
    if not errors and not isinstance(output, Tensor):
        errors.append(SpecError(f"the graph's output '{graph.output[0].name}' is no value "
                                "computed from its input", json_path=f"{GRAPH}.output[0]",
                                file=path, hint=EXPORT_HINT))
    if not errors and not net.lines:
        errors.append(SpecError("the graph has no layers cnnspec computes",
                                json_path=GRAPH, file=path, hint=EXPORT_HINT))
    if errors:
        raise SpecErrors(errors)
    return net, shape, output.layer


def import_onnx(data: bytes, path: str | None = None) -> Imported:
    """An ONNX model's bytes as a checked cnnspec spec (its weights not imported). ``path``
    names the file in errors and in the header. Every node cnnspec cannot express is a
    :class:`SpecError` at its place in the graph."""
    model = load_model(data, path)
    net, shape, output = read_graph(model, path)
    origin = path or "an ONNX model"
    last = net.lines[-1]
    scores = last.fields["units"] if last.kind == "dense" and output == last.output else None
    classes = classes_scored(net.loss or "cross_entropy", scores) if scores else None
    data_setting, why = fitting_data(shape, classes)
    settings = [Setting("data", data_setting, why)]
    if net.loss:
        last_op = next(op for op, loss in LAST_OP_LOSSES.items() if loss == net.loss)
        settings.append(Setting("loss", net.loss, f"the model's last {last_op}"))
    if model.producer_name == TORCH_PRODUCER and not {"BatchNormalization", "Dropout"} & {
            proto.op_type for proto in model.graph.node}:
        net.notes.append(EVALUATION_EXPORT)
    notes = grouped(net.notes)
    producer = " ".join(filter(None, (model.producer_name, model.producer_version)))
    header = [f"Imported from {origin} (ONNX opset {net.opset}"
              + (f", written by {producer}" if producer else "") + ") by `cnnspec import`.",
              WEIGHTS_NOTE, TRAINING_NOTE.format(loss=" and the loss" if net.loss else ""),
              *[f"- {note}" for note in notes]]
    text = spec_text(header=header, model=model_name(
        None if model.graph.name == TORCH_GRAPH_NAME else model.graph.name or None, path),
                     input_shape=shape, layers=net.lines, defaults={}, training=settings,
                     output=output if output != net.tail else None, origin=origin)
    return Imported(text, checked(text, origin, net.places, path), notes)


__all__ = ["activation_ops", "import_onnx", "load_model"]
