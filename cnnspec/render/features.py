"""One input image and the feature maps each conv layer makes of it: the textbook picture of a
kernel stepping over an image, drawn from the user's own model.

``image`` is ``(C, H, W)``; ``maps`` maps a layer name to that layer's output ``(C, H, W)`` for
this image, in the order to draw them. Row 1 shows the input; each later row one layer, one
tile per channel (at most :data:`MAX_CHANNELS`), each tile on its own colour scale centred
on zero (:mod:`cnnspec.render.tiles`), so a weak channel is as visible as a strong one.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from cnnspec.errors import RunError
from cnnspec.render import palette
from cnnspec.render.figure import new_figure, save_png
from cnnspec.render.tiles import draw_tile, hide_ticks, scale_text, symmetric_limit

MAX_CHANNELS = 16
_TILE_INCHES = 0.9


def input_image(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """What to show for the input: RGB scaled to [0, 1] for 3 channels, else the channel mean
    in grey. Returns the array and the colour map (None for RGB)."""
    if image.shape[0] == 3:
        rgb = np.moveaxis(image, 0, -1)
        low, high = float(rgb.min()), float(rgb.max())
        return (rgb - low) / (high - low if high > low else 1.0), None
    return image.mean(axis=0), palette.IMAGE_CMAP


def _check(image: np.ndarray, maps: dict) -> None:
    if image.ndim != 3:
        raise RunError(f"the input image should be (C, H, W), not of shape {image.shape}",
                       hint="pass one image, without the batch axis")
    if not maps:
        raise RunError("no feature maps to draw", hint="the model has no conv layer")
    for name, x in maps.items():
        if np.ndim(x) != 3:
            raise RunError(f"the output of {name} has shape {np.shape(x)}, not (C, H, W)",
                           hint="draw the outputs of conv or pooling layers")


def plot_features(image, maps: dict, out_png, title: str | None = None) -> Path:
    """Draw the input ``image`` (C, H, W) above the feature maps ``maps`` (name -> (C, H, W))
    and write a PNG; returns the path written."""
    image = np.asarray(image, dtype=np.float64)
    _check(image, maps)
    columns = min(max(np.shape(x)[0] for x in maps.values()), MAX_CHANNELS)
    columns = max(columns, 2)
    rows = 1 + len(maps)
    fig = new_figure(columns * _TILE_INCHES + 0.4, rows * (_TILE_INCHES + 0.45) + 0.6)
    fig.get_layout_engine().set(h_pad=0.2)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        hide_ticks(ax)
        ax.set_axis_off()

    shown, cmap = input_image(image)
    axes[0, 0].set_axis_on()
    axes[0, 0].imshow(shown, cmap=cmap, interpolation="nearest")
    axes[0, 0].set_title(f"input {'x'.join(map(str, image.shape))}", fontsize=8, pad=2,
                         loc="left")
    for row, (name, x) in enumerate(maps.items(), start=1):
        _draw_layer(axes[row], name, np.asarray(x, dtype=np.float64))
    heading = ("feature maps of each conv layer, one tile per channel: red positive, blue "
               "negative, white zero; each tile scaled to its own ±max")
    heading = textwrap.fill(heading, width=int((columns * _TILE_INCHES + 0.4) * 12))
    fig.suptitle(f"{title}\n{heading}" if title else heading, fontsize=9)
    return save_png(fig, out_png)


def _draw_layer(row_axes, name: str, x: np.ndarray) -> None:
    """One row: the channels of ``x`` (C, H, W), the first captioned with the layer's name."""
    channels = x.shape[0]
    shown = min(channels, len(row_axes))
    for c in range(shown):
        ax = row_axes[c]
        ax.set_axis_on()
        draw_tile(ax, x[c], f"{c + 1} {scale_text(symmetric_limit(x[c]))}", font_size=6)
    more = f", first {shown}" if shown < channels else ""
    label = f"{name}  {'x'.join(map(str, x.shape))}{more}"
    # The layer's name sits above its row, clear of the per-tile captions.
    note = row_axes[0].annotate(label, xy=(0, 1), xycoords="axes fraction", xytext=(0, 11),
                         textcoords="offset points", fontsize=8, fontweight="bold",
                         color=palette.line("conv"), ha="left", va="bottom",
                         annotation_clip=False)
    # Kept out of the layout so the first column is as wide as the others; the row gap made
    # in plot_features leaves room for it.
    note.set_in_layout(False)
