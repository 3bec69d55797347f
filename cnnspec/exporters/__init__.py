"""Exporters: a spec (with the initial weights of its seed) or a trained run (with its
weights) written for other tools: an ONNX model (:mod:`cnnspec.exporters.onnx_graph`) and a
PyTorch module's source with its weights (:mod:`cnnspec.exporters.torch_source`). What each
layer kind becomes is declared by the kind itself (``onnx`` and ``torch`` in
:mod:`cnnspec.kinds.catalogue`), what each initializer becomes by the init
(:mod:`cnnspec.init.catalogue`); these modules only assemble the pieces.
"""
from __future__ import annotations

from cnnspec.exporters.source import Exported, open_exported

__all__ = ["Exported", "open_exported"]
