"""A spec or a run as the source of a ``torch.nn.Module``, with its weights beside it.

The module has one attribute per layer, named as in the spec (a name Python or
``nn.Module`` reserves gets a trailing ``_``), built by the source its kind declares
(``Kind.torch``), a frozen layer's parameters with ``requires_grad`` False; ``forward``
computes the layers the output needs in the spec's order (an output softmax after
``logits``, the scores cnnspec's loss takes); ``init_weights()`` draws every parameter as the
spec's inits do (``Init.torch``, with the numbers of :func:`cnnspec.init.describe`);
``load_weights(path)`` reads the ``.npz`` written beside it (``numpy.load`` with
``allow_pickle=False``: no code runs from the file); ``param_groups(lr, weight_decay)``
gives ``torch.optim`` the learning rate and weight decay of each parameter as cnnspec trains
it (:func:`cnnspec.training.mults.parameter_mults`). Writing the source needs no PyTorch;
running it does.
"""
from __future__ import annotations

import keyword
import re
import textwrap
from pathlib import Path

import numpy as np

from cnnspec.atomic import refuse_overwriting
from cnnspec.exporters.source import Exported, open_exported, write_output
from cnnspec.given import given_path
from cnnspec.init import describe
from cnnspec.init.torch_code import (
    copied_source,
    torch_statement,
    used_definitions,
    used_names,
)
from cnnspec.ir.training_catalogue import MULT_PARTS, held_parts
from cnnspec.kinds import KINDS
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.kinds.torch_code import helpers_source
from cnnspec.training.files import write_npz
from cnnspec.training.mults import parameter_mults
from cnnspec.version import __version__

# Names a layer attribute or a local variable of ``forward`` must not take: nn.Module's own
# attributes and methods, the generated class's, and the module names the file uses.
RESERVED = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
    "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "smart_apply", "state_dict", "to", "to_empty", "train", "training", "type",
    "xpu", "zero_grad", "init_weights", "load_weights", "preprocess", "input_shape", "NAMES",
    "MEAN", "STD", "MULTS", "logits", "param_groups", "self", "torch", "nn", "F", "np", "x",
    "images"})


def attributes(names: list[str]) -> dict[str, str]:
    """Layer name -> its Python attribute: the name itself, or with ``_`` added where Python
    or nn.Module reserves it (``_`` first names are nn.Module's internals: ``layer`` before)."""
    taken: set[str] = set(names)
    out = {}
    for name in names:
        attr = "layer" + name if name.startswith("_") else name
        while attr != name and attr in taken or keyword.iskeyword(attr) or attr in RESERVED:
            attr += "_"
        taken.add(attr)
        out[name] = attr
    return out


def class_name(model: str) -> str:
    """``my_net`` -> ``MyNet``; a name that does not start with a letter gets ``Net``."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", model) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    return name if name[:1].isalpha() else "Net" + name


def import_statement(path: Path, cls: str) -> str:
    """How Python imports the class ``cls`` from the module written to ``path`` (from its
    folder); for a file name that is no module name (``my-net.py``), that it must be renamed."""
    module = path.stem
    if module.isidentifier() and not keyword.iskeyword(module):
        return f"from {module} import {cls}"
    return f"rename {path.name} to a Python module name to import it"


def module_source(exported: Exported, weights_file: str) -> str:
    """The text of the module file; ``weights_file`` is the name its docstring loads."""
    exported.require_mapping("PyTorch", "torch", exported.checked.layers)  # all: attributes
    checked = exported.checked
    cls = class_name(checked.ir["name"])
    names = attributes([layer.name for layer in checked.layers])
    members = [
        _class_header(exported, cls, names),
        _init_method(checked, names),
        *_forward_methods(exported, names),
        *([_preprocess_method(exported)] if exported.preprocessor is not None else []),
        _init_weights_method(checked, names),
        LOAD_WEIGHTS,
        PARAM_GROUPS,
    ]
    model = "\n\n".join(m.rstrip("\n") for m in members)
    helpers = used_definitions(
        [helpers_source(), copied_source("cnnspec.init", "torch_inits.py")], model)
    parts = [_header(exported, cls, weights_file), _imports(helpers + "\n\n\n" + model),
             helpers, model]
    return "\n\n\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def _imports(code: str) -> str:
    """The imports of the module whose code (below them) is ``code``: torch.nn.functional only
    where a helper uses it."""
    import ast

    functional = "F" in used_names(ast.parse(code))
    return "\n".join(["import numpy as np", "import torch",
                      *(["import torch.nn.functional as F"] if functional else []),
                      "from torch import nn"])


def _class_header(exported: Exported, cls: str, names: dict) -> str:
    checked = exported.checked
    shapes = f"input {_shape(checked.input_shape)}, output {_shape(checked.output_shape)}"
    renamed = {name: attr for name, attr in names.items() if name != attr}
    text = (f"class {cls}(nn.Module):\n"
            f'    """{checked.ir["name"]}: {shapes}."""\n\n'
            f"    input_shape = {tuple(checked.input_shape)!r}\n"
            f"    # spec layer name -> attribute, where they differ (the weights file uses the "
            f"spec's)\n    NAMES = {renamed!r}\n"
            f"    # parameter -> (lr multiplier, weight decay multiplier) where not (1, 1): the "
            f"spec's\n    # lr_mult and decay_mult (and decay_bias), as cnnspec trains; "
            f"param_groups() applies them\n    MULTS = {_dict_lines(_mults(exported, names))}")
    if exported.preprocessor is not None:
        stats = exported.preprocessor.to_dict()
        text += (f"\n    # the run's preprocessing ({stats['mode']}), fitted on its training "
                 f"split: preprocess() applies it\n    MEAN = {tuple(stats['mean'])!r}\n"
                 f"    STD = {tuple(stats['std'])!r}")
    return text


def _mults(exported: Exported, names: dict) -> dict[str, tuple[float, float]]:
    """Attribute's parameter (``conv1.bias``) -> its (lr, weight decay) multipliers, for the
    parameters whose multipliers are not both 1."""
    checked = exported.checked
    params = [key for key in exported.state if key.rpartition(".")[2] in MULT_PARTS]
    mults = parameter_mults(checked, params, checked.ir["training"]["decay_bias"])
    return {_attribute_key(key, names): pair for key, pair in mults.items()
            if pair != (1.0, 1.0)}


def _dict_lines(items: dict) -> str:
    """``items`` as a Python dict, one entry a line (inside the class body)."""
    if not items:
        return "{}"
    return ("{\n" + "".join(f"        {key!r}: {value!r},\n" for key, value in items.items())
            + "    }")


def _attribute_key(key: str, names: dict) -> str:
    """``<layer>.weight`` with the layer's attribute for its name."""
    layer, _, part = key.rpartition(".")
    return f"{names[layer]}.{part}"


def softmax_note(exported: Exported) -> str | None:
    """What to train a module whose ``forward`` ends in softmax with, where it does: cnnspec's
    cross-entropy takes the scores before it, and PyTorch's ``cross_entropy`` applied to
    probabilities would apply softmax twice. None for any other output."""
    checked = exported.checked
    if checked.by_name[checked.ir["output"]].kind != "softmax":
        return None
    return ("forward() ends in softmax: train it with NLLLoss on torch.log(model(x)), or with "
            "F.cross_entropy on model.logits(x), the scores before the softmax (cross_entropy "
            "on model(x) would apply softmax twice)")


def _preprocess_method(exported: Exported) -> str:
    """``preprocess(images)``: the run's preprocessing, as ``predict`` applies it before the
    network (in the images' dtype, per channel: the input's axis 1)."""
    shape = _shape(exported.checked.input_shape)
    axes = ", ".join(["-1"] + ["1"] * (len(exported.checked.input_shape) - 1))
    return f'''    def preprocess(self, images):
        """Images {shape} in [0, 1] as the network takes them, (images - MEAN) / STD per
        channel: the run's preprocessing ({exported.preprocessor.mode}), as cnnspec predict
        and eval apply it."""
        mean = torch.tensor(self.MEAN, dtype=images.dtype, device=images.device)
        std = torch.tensor(self.STD, dtype=images.dtype, device=images.device)
        return (images - mean.reshape({axes})) / std.reshape({axes})'''


def _shape(input_shape) -> str:
    """``(N, 1, 8, 8)``: the input's shape with its batch."""
    return "(" + ", ".join(["N", *map(str, input_shape)]) + ")"


def _header(exported: Exported, cls: str, weights_file: str) -> str:
    name = exported.checked.ir["name"]
    softmax = softmax_note(exported)
    trains = "\n" + textwrap.fill(softmax + ".", 92) + "\n" if softmax else ""
    return f'''"""{name}: a PyTorch module written by cnnspec {__version__} from {exported.source}.

Use it with the weights written beside it ({exported.weights}; a .npz archive,
read without pickle):

    {_import_code(Path(weights_file), cls)}
    model = {cls}()
    model.load_weights("{weights_file}")
    model.eval()  # batch norm's running statistics, no dropout
{_usage(exported)}
or start afresh with model.init_weights() (after torch.manual_seed for repeatable draws).

Layer attributes carry the spec's names; init_weights() draws each parameter from the
distribution its init in the spec gives it. To train it as cnnspec does, give the optimizer
model.param_groups(lr, weight_decay): each layer's lr_mult and decay_mult applied, the
parameters the spec holds (frozen, or at lr_mult 0) left out (they do not require grad).
{trains}"""'''


def _import_code(weights_file: Path, cls: str) -> str:
    """The import line of the header's example: the statement, or as a comment what to do."""
    statement = import_statement(weights_file.with_suffix(".py"), cls)
    return statement if statement.startswith("from ") else f"# {statement}"


def _usage(exported: Exported) -> str:
    """The header's lines on what to give the network: a run's preprocess() where it has one,
    or what the spec's preprocessing would make."""
    if exported.preprocessor is not None:
        return (f"    scores = model(model.preprocess(images))  # images "
                f"{_shape(exported.checked.input_shape)} in [0, 1]\n")
    note = exported.input_note()
    return textwrap.fill(note, 92, initial_indent="    # its input: ",
                         subsequent_indent="    #   ") + "\n" if note else ""


def _init_method(checked, names: dict) -> str:
    lines = ["    def __init__(self):", "        super().__init__()"]
    for layer in checked.layers:
        kind = KINDS[layer.kind]
        shapes = [tuple(s) for s in layer.input_shapes]
        source = kind.torch(layer.ir, shapes, kind.infer(layer.ir, shapes))
        lines.append(f"        self.{names[layer.name]} = {source}")
    lines.extend(_held_lines(checked, names))
    return "\n".join(lines)


def _held_lines(checked, names: dict) -> list[str]:
    """``requires_grad_(False)`` on each parameter the spec holds (``frozen``, or at
    ``lr_mult 0``: training_catalogue.held_parts), its whole module's where none trains, so
    that ``param_groups`` leaves them out as cnnspec's optimizer does."""
    lines = []
    for layer in checked.layers:
        parts = [part for part, shape in zip(MULT_PARTS, (layer.weight_shape, layer.bias_shape))
                 if shape]
        held = held_parts(layer.ir, parts)
        attr = f"self.{names[layer.name]}"
        if held and held == set(parts):
            lines.append(f"        {attr}.requires_grad_(False)  # held in the spec")
        else:
            lines.extend(f"        {attr}.{part}.requires_grad_(False)  # held in the spec"
                         for part in sorted(held))
    return lines


def _forward_methods(exported: Exported, names: dict) -> list[str]:
    """``forward``, computing the layers the output needs; where the output is a softmax,
    ``logits`` computes the layers before it and ``forward`` applies it to them."""
    output = exported.checked.by_name[exported.checked.ir["output"]]
    layers = exported.needed_layers()
    if output.kind != "softmax":
        return [_computing("forward", layers, output.name, names)]
    attr = names[output.name]
    forward = ("    def forward(self, x):\n"
               '        """Class probabilities: the output softmax of logits(x)."""\n'
               f"        return self.{attr}(self.logits(x))")
    logits = _computing("logits", [layer for layer in layers if layer is not output],
                        output.inputs[0], names, LOGITS_DOC)
    return [forward, logits]


LOGITS_DOC = ("The scores before the output softmax, those cnnspec's cross-entropy\n"
              "        takes: train with F.cross_entropy(model.logits(x), y).")


def _computing(method: str, layers: list, result: str, names: dict, doc: str = "") -> str:
    """The method ``method(self, x)`` (with the docstring ``doc``) computing ``layers`` one
    line each, each value named after its layer, from the input ``x``; it returns
    ``result``'s value."""
    lines = [f"    def {method}(self, x):", *([f'        """{doc}"""'] if doc else [])]
    values = {"input": "x"}
    for layer in layers:
        args = ", ".join(values[name] for name in layer.inputs)
        values[layer.name] = names[layer.name]
        lines.append(f"        {names[layer.name]} = self.{names[layer.name]}({args})")
    lines.append(f"        return {values[result]}")
    return "\n".join(lines)


def _init_weights_method(checked, names: dict) -> str:
    lines = ["    def init_weights(self):",
             '        """Draw every parameter as the spec\'s inits do; reset batch norm\'s',
             '        running statistics."""',
             "        with torch.no_grad():"]
    for layer in checked.layers:
        lines.extend(f"            {line}" for line in _layer_inits(layer, names[layer.name]))
    if len(lines) == 4:
        lines.append("            pass  # no parameters")
    return "\n".join(lines)


def _layer_inits(layer, attr: str) -> list[str]:
    """The statements that initialise one layer's parameters, each with its formula."""
    kind = KINDS[layer.kind]
    if kind.weighted:
        inits = [("weight", layer.ir[WEIGHT_INIT_KEY], layer.weight_shape),
                 ("bias", layer.ir[BIAS_INIT_KEY], layer.bias_shape)]
    elif kind.fixed_inits:
        inferred = kind.infer(layer.ir, [tuple(s) for s in layer.input_shapes])
        inits = [("weight", kind.fixed_inits[0], inferred.weight),
                 ("bias", kind.fixed_inits[1], inferred.bias)]
    else:
        return []
    fans = (layer.fan_in, layer.fan_out) if kind.weighted else None
    lines = []
    for key, init, shape in inits:
        if init is None or shape is None:
            continue
        info = describe(init, tuple(shape), fans)
        lines.append(f"# {layer.name}.{key}: {info.name} {info.short}")
        lines.append(torch_statement(init, info, tuple(shape), f"self.{attr}.{key}"))
    if layer.kind == "batchnorm":
        lines.append(f"self.{attr}.reset_running_stats()")
    return lines


LOAD_WEIGHTS = '''    def load_weights(self, path):
        """Load the weights of a .npz archive whose keys are cnnspec's (<layer>.weight,
        <layer>.bias, <layer>.running_mean, <layer>.running_var), read without pickle."""
        with np.load(path, allow_pickle=False) as arrays:
            state = {}
            for key in arrays.files:
                if "." not in key:  # a record of cnnspec's, not a weight (best.npz's _epoch)
                    continue
                value = arrays[key]
                # integers (a kernel written by hand) are weights; True or a complex number
                # is none, and copying would turn it into 1.0 or drop its imaginary part
                if value.dtype.kind not in "fiu":
                    raise ValueError(f"{path}: {key} has dtype {value.dtype}, not real "
                                     "numbers (save weights with array.astype(numpy.float32))")
                layer, _, rest = key.rpartition(".")
                state[f"{self.NAMES.get(layer, layer)}.{rest}"] = torch.from_numpy(value)
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [key for key in missing if not key.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"{path} does not fit this module: missing {missing}, "
                             f"unexpected {unexpected}")
        return self'''


PARAM_GROUPS = '''    def param_groups(self, lr, weight_decay):
        """Parameter groups for torch.optim that train as cnnspec does: each parameter's lr
        and weight_decay are these times its layer's lr_mult and decay_mult (MULTS); the
        parameters the spec holds (frozen, or at lr_mult 0) are left out.

            optimizer = torch.optim.SGD(model.param_groups(0.01, 5e-4), momentum=0.9)
        """
        groups = {}
        for name, param in self.named_parameters():
            if param.requires_grad:
                groups.setdefault(self.MULTS.get(name, (1.0, 1.0)), []).append(param)
        return [{"params": params, "lr": lr * lr_mult, "weight_decay": weight_decay * decay_mult}
                for (lr_mult, decay_mult), params in groups.items()]'''


def weights_path(path: Path) -> Path:
    """Where the weights of the module written to ``path`` go: the ``.npz`` beside it."""
    return path.with_suffix(".npz")


def export_torch(source, path, force: bool = False) -> tuple[Exported, Path]:
    """Write ``source`` (a spec path, a checked spec or a run folder) as a PyTorch module to
    ``path`` (a ``.py``) and its weights to the ``.npz`` beside it (same stem), over existing
    files only with ``force``; returns what was exported and the weights' path."""
    path = given_path(path, "path", "the .py file to write", "model.py")
    weights = weights_path(path)
    refuse_overwriting([path, (weights, f"the weights written beside {path.name}")], force)
    exported = open_exported(source)
    text = module_source(exported, weights.name)
    write_output(path, text)
    write_npz(weights, {key: np.asarray(value) for key, value in exported.state.items()})
    return exported, weights
