"""The layer-kind registry: one :class:`Kind` record per kind of layer the language has.

``KINDS`` maps each kind's name to its record and ``ALIASES`` each alias to a name; every stage
asks here instead of keeping a table of its own (see :mod:`cnnspec.kinds.catalogue`).
"""
from __future__ import annotations

from cnnspec.ir.training_catalogue import is_trained
from cnnspec.kinds.catalogue import ALL
from cnnspec.kinds.kind import Build, Example, Inferred, Kind, KindError, Reach, Shape
from cnnspec.kinds.text import value_text

KINDS: dict[str, Kind] = {kind.name: kind for kind in ALL}
ALIASES: dict[str, str] = {alias: kind.name for kind in ALL for alias in kind.aliases}
ACTIVATIONS: dict[str, Kind] = {name: k for name, k in KINDS.items() if k.is_activation}


def is_weighted(kind: str) -> bool:
    """Whether layers of ``kind`` have a weight the spec initialises (conv, dense, ...)."""
    record = KINDS.get(kind)
    return record is not None and record.weighted


def field_text(kind: str, name: str, value) -> str:
    """The IR value of field ``name`` of a layer of ``kind`` as the language writes it:
    ``3x3``, ``same``, ``he_normal(mode=fan_out)``."""
    return value_text(KINDS[kind].field_map[name], value)


def layer_flops(info, need_dx: bool = True) -> tuple[int, int]:
    """(forward, backward) FLOPs per example of a checked layer (a ``LayerInfo``), from its
    kind's count (:meth:`Kind.step_flops`); ``need_dx`` False for a layer whose input gradient
    is not computed (a first layer when training). A held weight (``frozen``, ``lr_mult 0``:
    :func:`cnnspec.ir.training_catalogue.is_trained`) gets no gradient."""
    return KINDS[info.kind].step_flops(info.ir, info.input_shapes, info.output_shape,
                                       info.macs, need_dx, is_trained(info.ir))


__all__ = ["ACTIVATIONS", "ALIASES", "KINDS", "Build", "Example", "Inferred", "Kind",
           "KindError", "Reach", "Shape", "field_text", "is_weighted", "layer_flops"]
