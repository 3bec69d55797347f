"""The tables of docs/interop.md, generated from the registries: what each layer kind becomes
in PyTorch and in ONNX, and the PyTorch statement of each init. ``python tools/generate.py``
writes them between their marker lines; a test fails when the page is stale.

A kind's operators are collected by running its ``onnx`` function on each of its registry
cases with a builder that only records (no ``onnx`` needed), so the table lists the
operators some padding or output padding adds too.
"""
from __future__ import annotations

import string

from cnnspec.exporters.onnx_graph import OPSET
from cnnspec.init.catalogue import INITS
from cnnspec.kinds import KINDS
from cnnspec.kinds.docs import begin_marker, end_marker
from cnnspec.kinds.torch_code import torch_modules

MAPPING_TABLE = ("export mapping", "cnnspec/kinds and cnnspec/init/catalogue.py")
INIT_TABLE = ("init export", "cnnspec/init/catalogue.py")
MAPPING_MARKERS = (begin_marker(*MAPPING_TABLE), end_marker(MAPPING_TABLE[0]))
INIT_MARKERS = (begin_marker(*INIT_TABLE), end_marker(INIT_TABLE[0]))


class _Recorder:
    """A stand-in for the ONNX builder that notes the operators a kind adds."""

    def __init__(self, ops: list[str]):
        self.ops = ops

    def op(self, op_type: str, inputs, **attributes) -> str:
        if op_type not in self.ops:
            self.ops.append(op_type)
        return op_type

    def param(self, key: str, shape=None) -> str:
        return key

    def const(self, values, dtype: str = "model") -> str:
        return "const"


def _uses(kind) -> tuple[list[str], list[str]]:
    """The PyTorch modules and the ONNX operators of a kind over its registry cases."""
    ops: list[str] = []
    for example in kind.examples:
        ir, shapes = kind.example_ir(example), [tuple(s) for s in example.inputs]
        kind.onnx(_Recorder(ops), ir, shapes, kind.infer(ir, shapes), ir["inputs"])
    return torch_modules(kind), ops


def mapping_table() -> str:
    """| kind | PyTorch module | ONNX operators |, one row per kind."""
    header = f"| kind | PyTorch (`nn.` or the file's own module) | ONNX operators (opset {OPSET}) |"
    rows = [header, "|---|---|---|"]
    for name, kind in KINDS.items():
        modules, ops = _uses(kind)
        rows.append(f"| `{name}` | {', '.join(f'`{m}`' for m in modules)} | "
                    f"{', '.join(ops)} |")
    return "\n".join(rows)


def _template(text: str) -> str:
    """A statement with its numbers named: ``nn.init.normal_(w, 0.0, std)``."""
    names = {field: field for _, field, _, _ in string.Formatter().parse(text) if field}
    return text.format(**{**names, "p": "w"})


def init_table() -> str:
    """| init | PyTorch statement |, the statement's numbers named as ``describe`` gives
    them for the parameter ``w``."""
    rows = ["| init | PyTorch statement (for the parameter `w`) |", "|---|---|"]
    for init in INITS:
        if isinstance(init.torch, dict):
            text = "; ".join(f"{key}: `{_template(value)}`" for key, value in init.torch.items())
        else:
            text = f"`{_template(init.torch)}`"
        rows.append(f"| `{init.name}` | {text} |")
    return "\n".join(rows)
