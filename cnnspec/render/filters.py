"""A conv layer's kernels as a grid of tiles, one per filter, optionally beside the kernels it
started from.

``weights`` is the conv weight ``(O, I, kh, kw)`` (PyTorch's OIHW layout). A filter has one
kernel per input channel; ``channels="average"`` draws their mean (one ``kh x kw`` tile per
filter), ``channels="side"`` draws them left to right. Each tile has its own colour scale,
centred on zero (:mod:`cnnspec.render.tiles`), captioned with its ``±max|w|``. With ``initial``
(same shape), each filter gets two tiles, the initial kernel then the learned one: what
training changed is what differs between the two, and a frozen filter stays identical.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cnnspec.errors import RunError
from cnnspec.held import HELD
from cnnspec.render.figure import figure_title, new_figure, save_png
from cnnspec.render.tiles import (
    LEGEND,
    draw_tile,
    hide_ticks,
    scale_caption,
    side_by_side,
    tile_caption,
)

CHANNEL_MODES = ("average", "side")
# Beyond this many filters the tiles get too small to read; the title says how many are shown.
MAX_FILTERS = 64
_TILE_INCHES = 1.0
_CAPTION_INCHES = 0.25
MAX_WIDTH_INCHES = 14.0


def filter_image(kernels: np.ndarray, channels: str) -> np.ndarray:
    """One filter's ``(I, kh, kw)`` kernels as a 2-D image: their mean, or side by side."""
    if channels == "average":  # in float64: the sum of float32 weights near 3e38 overflows
        return kernels.mean(axis=0, dtype=np.float64)
    return side_by_side(kernels)


def _check(weights: np.ndarray, initial: np.ndarray | None, channels: str) -> None:
    if weights.ndim != 4:
        raise RunError(f"filters are drawn from a conv weight (O, I, kh, kw), not an array of "
                       f"shape {weights.shape}", hint="pick a conv layer")
    if initial is not None and initial.shape != weights.shape:
        raise RunError(f"the initial weights {initial.shape} do not match the learned "
                       f"{weights.shape}", hint="compare a layer with its own initial weights")
    if channels not in CHANNEL_MODES:
        raise RunError(f"unknown channel mode {channels!r}", hint="use average or side")


def grid_layout(count: int, tile_w: float, tile_h: float, per_filter: int) -> int:
    """Columns of filters that make the whole grid closest to a 4:3 page no wider than
    :data:`MAX_WIDTH_INCHES` (tiles are ``tile_w`` x ``tile_h`` inches)."""
    best, best_score = 1, math.inf
    for columns in range(1, count + 1):
        width = columns * per_filter * tile_w
        if columns > 1 and width > MAX_WIDTH_INCHES:
            break
        height = math.ceil(count / columns) * tile_h
        score = abs(math.log((width / height) / (4 / 3)))
        if score < best_score:
            best, best_score = columns, score
    return best


def default_title(weights: np.ndarray, channels: str, shown: int,
                  averaged_from: list[int] | None = None) -> str:
    """The line above the grid: how many filters of which size, and how their input channels
    are shown; ``averaged_from``: the input channel counts of layers whose kernels were
    averaged before they came here (one grid of layers that read different counts)."""
    out, cin, kh, kw = weights.shape
    noun = "filter" if out == 1 else "filters"
    count = f"{out} {noun}" if shown == out else f"first {shown} of {out} {noun}"
    if averaged_from:
        counts = " or ".join(str(c) for c in averaged_from)
        return f"{count} {kh}x{kw}, {counts} input channels (channels averaged)"
    if cin == 1:
        return f"{count} {kh}x{kw}, 1 input channel"
    # which kernel of a side-by-side tile is which channel (an RGB input's red, green, blue)
    how = ("channels averaged" if channels == "average"
           else f"channels side by side, 1 to {cin} from left to right")
    return f"{count} {kh}x{kw}, {cin} input channels ({how})"


def pair_captions(label: str, start: np.ndarray, image: np.ndarray,
                  frozen: bool) -> tuple[str, str]:
    """Captions of a filter's two tiles: its initial kernel, then its kernel after training —
    "learned" where training could change it, "held" (:data:`cnnspec.held.HELD`) where it
    could not. Two lines each, so long layer names never run into the neighbouring tile."""
    after = HELD if frozen else "learned"
    return (f"{label}\ninit {scale_caption(start)}", f"{label}\n{after} {scale_caption(image)}")


def plot_filters(weights, out_png, initial=None, title: str | None = None,
                 channels: str = "average", labels: list[str] | None = None,
                 frozen: list[bool] | None = None,
                 averaged_from: list[int] | None = None) -> Path:
    """Draw the kernels ``weights`` (O, I, kh, kw) as a grid of tiles and write a PNG.

    ``initial`` (O, I, kh, kw), if given, is drawn beside each learned kernel. ``title`` is
    put above the grid, over a line saying how channels are shown. ``labels`` names each
    filter (default its number from 1); ``frozen`` says, per filter, that its layer is not
    trained (its second tile is then captioned "held"); ``averaged_from``: the input channel
    counts whose kernels ``weights`` holds averaged already (see :func:`default_title`).
    Returns the path written.
    """
    weights = np.asarray(weights, dtype=np.float64)
    initial = None if initial is None else np.asarray(initial, dtype=np.float64)
    _check(weights, initial, channels)
    if labels is None:
        labels = [str(o + 1) for o in range(weights.shape[0])]
    elif len(labels) != weights.shape[0]:
        raise RunError(f"{len(labels)} labels for {weights.shape[0]} filters",
                       hint="give one label per filter")
    shown = min(weights.shape[0], MAX_FILTERS)
    images = [filter_image(weights[o], channels) for o in range(shown)]
    starts = None if initial is None else [filter_image(initial[o], channels)
                                           for o in range(shown)]
    per_filter = 1 if starts is None else 2
    tile_w_in, tile_h_in = _tile_inches(images[0].shape)
    caption_in = _CAPTION_INCHES if per_filter == 1 else _CAPTION_INCHES + 0.1  # two lines
    columns = grid_layout(shown, tile_w_in, tile_h_in + caption_in, per_filter)
    rows = math.ceil(shown / columns)
    width = max(columns * per_filter * tile_w_in + 0.3, 3.5)
    height = rows * (tile_h_in + caption_in) + 0.8
    fig = new_figure(width, height)
    axes = fig.subplots(rows, columns * per_filter, squeeze=False)
    for ax in axes.flat:
        hide_ticks(ax)
        ax.set_axis_off()
    for o in range(shown):
        row, col = divmod(o, columns)
        cells = axes[row, col * per_filter: (col + 1) * per_filter]
        if starts is not None:
            is_frozen = bool(frozen and frozen[o])
            first, second = pair_captions(labels[o], starts[o], images[o], is_frozen)
            _draw(cells[0], starts[o], first)
            _draw(cells[1], images[o], second)
        else:
            _draw(cells[0], images[o], tile_caption(labels[o], images[o]))
    heading = default_title(weights, channels, shown, averaged_from)
    if starts is not None:
        heading += "; each pair: initial | after training"
    # The legend on lines of its own: filled on with the heading, it left "±max" alone on one.
    # The run's title too: several layers' names and inits ran off both sides.
    lines = [title] if title else []
    figure_title(fig, "\n".join([*lines, heading, LEGEND[0].upper() + LEGEND[1:]]), fontsize=10)
    return save_png(fig, out_png)


def _tile_inches(shape: tuple[int, int]) -> tuple[float, float]:
    """Inches for one tile of ``shape`` (rows, columns): 1 inch on the shorter side, wide
    side-by-side tiles at most 6 inches wide."""
    rows, cols = shape
    aspect = cols / rows
    if aspect <= 1:
        return _TILE_INCHES, _TILE_INCHES / aspect
    width = _TILE_INCHES * min(aspect, 6.0)
    return width, width / aspect




def _draw(ax, image: np.ndarray, caption: str) -> None:
    ax.set_axis_on()
    draw_tile(ax, image, caption)
    for spine in ax.spines.values():
        spine.set_color("#bbbbbb")
