"""A hand-written kernel drawn as its small matrix of numbers, for a diagram node.

Fixed kernels (a ``literal``, ``sobel_x``, ``x_kernel``, ...) are the one init whose values are
known before training, so the diagram shows them instead of a distribution. Cells are tinted
with the same diverging colours as the filter plots: red for positive, blue for negative,
white for zero.
"""
from __future__ import annotations

from html import escape

from cnnspec.check.model import LayerInfo
from cnnspec.init.catalogue import KERNEL_NAMES
from cnnspec.init.info import InitInfo
from cnnspec.kinds import KINDS
from cnnspec.kinds.fields import WEIGHT_INIT_KEY

# Larger kernels would make the node wider than the rest of the diagram.
MAX_SIDE = 7
MAX_MATRICES = 4
_POSITIVE = "#f4a582"
_NEGATIVE = "#92c5de"


def kernel_matrices(layer: LayerInfo) -> list[tuple[str, list[list[float]]]]:
    """``[(caption, rows), ...]`` for a conv layer with a fixed kernel; ``[]`` otherwise.

    One matrix when the kernel is shared by every filter and channel, else one per filter
    (first input channel of a 4-D literal shown per filter and channel), at most
    :data:`MAX_MATRICES`.
    """
    init = layer.ir.get(WEIGHT_INIT_KEY) or {}
    shape = layer.weight_shape
    if KINDS[layer.kind].family != "conv" or init.get("name") not in KERNEL_NAMES or shape is None:
        return []
    if shape[2] > MAX_SIDE or shape[3] > MAX_SIDE:
        return []
    # NumPy loads only for a spec with a kernel literal; other diagrams never need it.
    import numpy as np

    from cnnspec.init.kernels import kernel_values  # NumPy, as above

    values, placement = kernel_values(init, tuple(shape))
    grid = np.asarray(values, dtype=float).reshape(placement)
    out = []
    for o in range(grid.shape[0]):
        for i in range(grid.shape[1]):
            if shape[0] == 1 and shape[1] == 1:
                caption = "kernel"
            elif grid.shape[0] == 1:
                caption = "every filter" if shape[1] == 1 else "every filter and channel"
            elif grid.shape[1] == 1:
                caption = f"filter {o + 1}"
            else:
                caption = f"filter {o + 1}, channel {i + 1}"
            out.append((caption, grid[o, i].tolist()))
    return out


def _cell(value: float, font_size: int) -> str:
    colour = _POSITIVE if value > 0 else _NEGATIVE if value < 0 else "#ffffff"
    text = str(int(value)) if value == int(value) else f"{value:.2g}"
    return (f'<td bgcolor="{colour}" width="22" height="14">'
            f'<font point-size="{font_size}">{escape(text)}</font></td>')


def matrix_html(caption: str, rows: list[list[float]], font_size: int = 9) -> str:
    """One kernel under its caption as an HTML-like Graphviz table (no surrounding ``<>``)."""
    body = "".join("<tr>" + "".join(_cell(v, font_size) for v in row) + "</tr>"
                   for row in rows)
    return (f'<table border="0" cellborder="1" cellspacing="0" cellpadding="1" '
            f'color="#bbbbbb"><tr><td colspan="{len(rows[0])}" border="0">'
            f'<font point-size="{font_size - 1}">{escape(caption)}</font></td></tr>'
            f'{body}</table>')


def kernels_html(layer: LayerInfo) -> str:
    """The fixed kernels of ``layer`` side by side as one nested table; '' if none."""
    matrices = kernel_matrices(layer)
    if not matrices:
        return ""
    shown = matrices[:MAX_MATRICES]
    cells = "".join(f"<td>{matrix_html(caption, rows)}</td>" for caption, rows in shown)
    if len(matrices) > len(shown):
        cells += f"<td>+{len(matrices) - len(shown)} more</td>"
    return f'<table border="0" cellspacing="2"><tr>{cells}</tr></table>'


def is_fixed(info: InitInfo | None) -> bool:
    """Whether an init is a fixed kernel (its values are drawn rather than its scale)."""
    return info is not None and info.name in KERNEL_NAMES
