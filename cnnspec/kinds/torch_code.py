"""A kind's PyTorch counterpart, written as source text.

Each :class:`~cnnspec.kinds.kind.Kind` declares ``torch(ir, in_shapes, inferred) -> str``: a
Python expression that builds the ``torch.nn`` module computing the same as the layer, from
the names ``nn``, ``torch`` and the modules of :mod:`cnnspec.kinds.torch_layers`. The same
text is what ``cnnspec export --format torch`` writes into a module's ``__init__`` and what
the cross-check tests evaluate (:func:`torch_module`), so the exported network is the tested
one. Building the text needs no PyTorch.
"""
from __future__ import annotations

import math
import re

from cnnspec.init.torch_code import copied_source


def py(value) -> str:
    """``value`` as a Python literal: lists become tuples, infinities ``float('inf')``."""
    if isinstance(value, (list, tuple)):
        items = [py(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, float) and math.isinf(value):
        return "float('-inf')" if value < 0 else "float('inf')"
    return repr(value)


# Keyword arguments the modules of torch.nn default to: a call leaves them out.
TORCH_DEFAULTS = {"stride": "(1, 1)", "padding": "(0, 0)", "dilation": "(1, 1)", "groups": "1",
                  "bias": "True", "output_padding": "(0, 0)", "ceil_mode": "False",
                  "count_include_pad": "True"}


def call(function: str, *args, **kwargs) -> str:
    """``function(arg, ..., key=value, ...)`` with every value written by :func:`py`, leaving
    out the keyword arguments whose value is PyTorch's default."""
    parts = [py(a) for a in args] + [f"{key}={py(value)}" for key, value in kwargs.items()
                                     if TORCH_DEFAULTS.get(key) != py(value)]
    return f"{function}({', '.join(parts)})"


def torch_modules(kind) -> list[str]:
    """The PyTorch modules ``kind.torch`` builds over the kind's registry cases, as its text
    names them (``nn.Conv2d``, ``PaddedConv2d``; ``nn.BatchNorm2d`` and ``nn.BatchNorm1d``),
    each once, in the order first met."""
    modules: list[str] = []
    for example in kind.examples:
        ir, shapes = kind.example_ir(example), [tuple(s) for s in example.inputs]
        module = re.match(r"[\w.]+", kind.torch(ir, shapes, kind.infer(ir, shapes))).group(0)
        if module not in modules:
            modules.append(module)
    return modules


def helpers_source() -> str:
    """The source of the helper modules exported files carry (torch_layers.py below its
    marker line)."""
    return copied_source("cnnspec.kinds", "torch_layers.py")


def torch_module(kind, ir: dict, in_shapes, inferred):
    """The PyTorch module ``kind.torch`` writes, built (needs PyTorch)."""
    import torch
    from torch import nn

    from cnnspec.kinds import torch_layers

    namespace = {"torch": torch, "nn": nn, **vars(torch_layers)}
    # the text is the registry's own, built from checked IR values (numbers, names)
    return eval(kind.torch(ir, in_shapes, inferred), namespace)
