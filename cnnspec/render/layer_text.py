"""Layers described in short words for pictures: hyper-parameters, shapes, counts and inits.

Plain text only (no markup), so the same phrases serve diagram nodes, legends and plot
titles. Shapes exclude the batch axis and are written ``6x28x28`` (ASCII, so every renderer
measures them the same).
"""
from __future__ import annotations

from cnnspec.check.model import LayerInfo
from cnnspec.init.info import InitInfo

ACTIVATIONS = frozenset({"relu", "leaky_relu", "elu", "tanh", "sigmoid", "softmax"})
WEIGHTED = frozenset({"conv", "dense"})


def shape_text(shape) -> str:
    """``(6, 28, 28)`` -> ``6x28x28``; ``(120,)`` -> ``120``."""
    return "x".join(str(int(n)) for n in shape)


def count_text(n: int) -> str:
    """``61706`` -> ``61,706``; large counts keep every digit (they are exact)."""
    return f"{int(n):,}"


def pair_text(pair) -> str:
    """``[5, 5]`` -> ``5x5``; a pair with equal halves still shows both (it is a 2-D size)."""
    return f"{int(pair[0])}x{int(pair[1])}"


def step_text(pair) -> str:
    """A stride or dilation: ``[2, 2]`` -> ``2``, ``[1, 2]`` -> ``1x2``."""
    return str(int(pair[0])) if pair[0] == pair[1] else pair_text(pair)


def pads_text(layer: LayerInfo) -> str:
    """Resolved padding; ``same`` keeps its name and shows the pixels it became."""
    written = layer.ir.get("padding", "valid")
    pads = layer.pads or (0, 0, 0, 0)
    top, bottom, left, right = pads
    if top == bottom == left == right:
        amount = str(top)
    elif top == bottom and left == right:
        amount = f"{top}x{left}"
    else:
        amount = f"t{top} b{bottom} l{left} r{right}"
    return f"same ({amount})" if written == "same" else amount


def _number(x: float) -> str:
    return f"{x:.3g}"


def hyperparams(layer: LayerInfo) -> list[str]:
    """The settings that define a layer, one short phrase per line (may be empty)."""
    ir = layer.ir
    kind = layer.kind
    if kind == "conv":
        noun = "filter" if ir["filters"] == 1 else "filters"
        lines = [f"{ir['filters']} {noun} {pair_text(ir['kernel'])}",
                 (f"stride {step_text(ir['stride'])}, pad {pads_text(layer)}, "
                 f"dilation {step_text(ir['dilation'])}")]
        return lines
    if kind == "dense":
        return [f"{ir['units']} units"]
    if kind in ("maxpool", "avgpool"):
        return [(f"{pair_text(ir['size'])}, stride {step_text(ir['stride'])}, "
                f"pad {pads_text(layer)}")]
    if kind == "leaky_relu":
        return [f"slope {_number(ir['slope'])}"]
    if kind == "elu":
        return [f"alpha {_number(ir['alpha'])}"]
    if kind == "dropout":
        return [f"p = {_number(ir['p'])}"]
    if kind == "batchnorm":
        return [f"eps {_number(ir['eps'])}, momentum {_number(ir['momentum'])}"]
    return []


def compact_hyperparams(layer: LayerInfo) -> str:
    """One phrase for the minimal diagram: ``16 filters 3x3 /2`` for a conv with stride 2,
    ``2x2 /2`` for a pool (``/s`` is the stride, ``dN`` a dilation)."""
    ir = layer.ir
    if layer.kind == "conv":
        stride = f" /{step_text(ir['stride'])}" if list(ir["stride"]) != [1, 1] else ""
        dilation = f" d{step_text(ir['dilation'])}" if list(ir["dilation"]) != [1, 1] else ""
        noun = "filter" if ir["filters"] == 1 else "filters"
        return f"{ir['filters']} {noun} {pair_text(ir['kernel'])}{stride}{dilation}"
    if layer.kind == "dense":
        return f"{ir['units']} units"
    if layer.kind in ("maxpool", "avgpool"):
        return f"{pair_text(ir['size'])} /{step_text(ir['stride'])}"
    hyper = hyperparams(layer)
    return hyper[0] if hyper else ""


def is_frozen(layer: LayerInfo) -> bool:
    """A layer with parameters none of which train."""
    return layer.params > 0 and layer.trainable_params == 0


def params_text(layer: LayerInfo) -> str:
    if layer.params == 0:
        return ""
    text = f"{count_text(layer.params)} params"
    if is_frozen(layer):
        return text + " (frozen)"
    if layer.trainable_params < layer.params:
        return text + f" ({count_text(layer.trainable_params)} trainable)"
    return text


def init_scale(info: InitInfo) -> str:
    """The concrete scale of an init: ``σ=0.118`` for a normal, ``U(±0.204)`` for a
    symmetric uniform, the value itself for a constant; else the catalogue's short form."""
    if info.distribution == "normal" and info.std is not None:
        return f"σ={_number(info.std)}"
    if info.distribution == "truncated_normal" and info.std is not None:
        return f"σ={_number(info.std)}, cut at ±{_number(info.bound)}" if info.bound else \
            f"σ={_number(info.std)}, truncated"
    if info.distribution == "uniform" and info.bound is not None:
        return f"U(±{_number(info.bound)})"
    return info.short


def init_text(info: InitInfo | None) -> str:
    """``he_normal  σ=0.118``; the catalogue's short form alone where it already names the
    init (``x_kernel 3x3``, ``constant 0.1``)."""
    if info is None:
        return ""
    if info.distribution == "constant" and info.name in ("zeros", "ones"):
        return info.name
    scale = init_scale(info)
    if scale.startswith(info.name) or info.distribution == "constant":
        return scale
    return f"{info.name}  {scale}"
