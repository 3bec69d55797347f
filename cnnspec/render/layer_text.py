"""Layers described in short words for pictures: hyper-parameters, shapes, counts and inits.

Plain text only (no markup), so the same phrases serve diagram nodes, legends and plot
titles. Shapes exclude the batch axis and are written ``6x28x28`` (ASCII, so every renderer
measures them the same).
"""
from __future__ import annotations

import re

from cnnspec.check.model import LayerInfo
from cnnspec.errors import count_text
from cnnspec.held import held_text
from cnnspec.init.catalogue import BY_NAME
from cnnspec.init.describe import init_text as written_init
from cnnspec.init.info import InitInfo
from cnnspec.kinds import KINDS
from cnnspec.kinds.catalogue import COMPACT_MARKS
from cnnspec.kinds.text import number_text as _number
from cnnspec.kinds.text import pads_text as written_pads_text
from cnnspec.kinds.text import pair_text, step_text

__all__ = ["pair_text", "step_text"]


def pads_text(layer: LayerInfo) -> str:
    """Resolved padding; ``same`` keeps its name and shows the pixels it became."""
    return written_pads_text(layer.ir.get("padding", "valid"), layer.pads)


def hyperparams(layer: LayerInfo) -> list[str]:
    """The settings that define a layer, one short phrase per line (may be empty)."""
    return KINDS[layer.kind].phrases(layer.ir, layer.pads)


def compact_hyperparams(layer: LayerInfo) -> str:
    """One phrase for the minimal diagram: ``16 filters 3x3 /2`` for a conv with stride 2,
    ``2x2`` for a pool that moves by its window, ``3x3 /2`` for one that overlaps (``/s`` is a
    stride other than the default, ``dN`` a dilation)."""
    compact = KINDS[layer.kind].compact
    if compact is not None:
        return compact(layer.ir)
    hyper = hyperparams(layer)
    return hyper[0] if hyper else ""


def compact_marks(phrases: list[str]) -> list[str]:
    """What the marks of the compact ``phrases`` (:func:`compact_hyperparams`) mean, each mark
    that one of them shows once, in the order of :data:`cnnspec.kinds.catalogue.COMPACT_MARKS`."""
    return [meaning for pattern, meaning in COMPACT_MARKS
            if any(re.search(pattern, phrase) for phrase in phrases)]


def is_frozen(layer: LayerInfo) -> bool:
    """A layer with parameters none of which train."""
    return layer.params > 0 and layer.trainable_params == 0


def params_text(layer: LayerInfo) -> str:
    """``152 params``, ``9 params (held)``, ``40 params (36 held)``
    (:func:`cnnspec.held.held_text`)."""
    if layer.params == 0:
        return ""
    text = f"{count_text(layer.params)} params"
    held = held_text(layer.params, layer.trainable_params)
    return f"{text} ({held})" if held else text


def init_scale(info: InitInfo) -> str:
    """The concrete scale of an init: ``σ=0.118`` for a normal, ``U(±0.204)`` for a
    symmetric uniform, the value itself for a constant; else the catalogue's short form."""
    if info.distribution == "normal" and info.std is not None:
        return f"σ={_number(info.std)}"
    if info.distribution == "truncated_normal" and info.std is not None:
        if info.bound:
            return f"σ={_number(info.std)}, cut at ±{_number(info.bound)}"
        cut = info.truncation
        return f"σ={_number(info.std)}, cut to [{_number(cut.low)}, {_number(cut.high)}]"
    if info.distribution == "uniform" and info.bound is not None:
        return f"U(±{_number(info.bound)})"
    return info.short


# Inits whose arguments are the numbers their scale shows (``normal(0, 0.01)``: σ=0.01):
# a picture names them alone, where it names any other with the arguments that set its
# scale (``he_normal(gain=0.1)``, whose σ is not he_normal's).
SHOWN_BY_SCALE = ("normal", "uniform", "truncated_normal", "constant")


def init_text(info: InitInfo | None, written: dict | None = None) -> str:
    """``he_normal  σ=0.118``, ``he_normal(gain=0.1)  σ=0.00833`` (``written``: the IR's
    init, whose arguments other than the defaults are named); the catalogue's short form
    alone where it already names the init (``x_kernel 3x3``, ``constant 0.1``)."""
    if info is None:
        return ""
    if info.distribution == "constant" and BY_NAME[info.name].value is not None:
        return info.name
    scale = init_scale(info)
    # the catalogue's words may name it with spaces (`delta orthogonal 16x16, gain 1`)
    if scale.startswith((info.name, info.name.replace("_", " "))) \
            or info.distribution == "constant":
        return scale
    name = info.name
    # a scale of the catalogue's own words (`delta orthogonal 16x16, gain 1`) says them
    if written is not None and scale != info.short and written["name"] not in SHOWN_BY_SCALE:
        name = written_init(written)
    return f"{name}  {scale}"


def layer_init_text(layer: LayerInfo, part: str) -> str:
    """:func:`init_text` of a layer's ``part`` ("weight" or "bias"), named as its spec
    writes it."""
    return init_text(getattr(layer, f"{part}_init"), layer.ir.get(f"{part}_init"))
