"""One input image and the feature maps each conv layer makes of it: the textbook picture of a
kernel stepping over an image, drawn from the user's own model.

``image`` is ``(C, H, W)``; ``maps`` maps a layer name to that layer's output ``(C, H, W)`` for
this image, in the order to draw them. Row 1 shows the input; each later row one layer, one
tile per channel (at most :data:`MAX_CHANNELS`), each tile on its own colour scale centred
on zero (:mod:`cnnspec.render.tiles`), so a weak channel is as visible as a strong one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnspec.errors import RunError
from cnnspec.records import record
from cnnspec.render import palette
from cnnspec.render.figure import figure_title, fitted, new_figure, save_png
from cnnspec.render.tiles import LEGEND, draw_tile, hide_ticks, tile_caption
from cnnspec.shapes import shape_text

MAX_CHANNELS = 16
TITLE_POINTS = 9


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


@record(frozen=True)
class Layout:
    """Where each tile goes, in inches: a row for the input, then a row per layer, each row a
    name line, a caption line per tile and the tiles. Placed by hand rather than by a layout
    engine: there can be hundreds of tiles and their sizes are all known."""

    columns: int
    rows: int
    top: float  # inches above the first row, for the title
    tile: float = 0.9
    gap: float = 0.1
    caption: float = 0.16
    label: float = 0.2
    space: float = 0.12  # between a row's tiles and the next row's name
    margin: float = 0.15  # left and right

    @property
    def row_height(self) -> float:
        return self.space + self.label + self.caption + self.tile

    @property
    def bottom(self) -> float:
        """Below the last row: as much as above a row's name, so that the last tiles' frames
        stand clear of the picture's edge (with the side margin alone they read as cut off)."""
        return self.space + self.label

    @property
    def width(self) -> float:
        return 2 * self.margin + self.columns * self.tile + (self.columns - 1) * self.gap

    @property
    def height(self) -> float:
        return self.top + self.rows * self.row_height + self.bottom

    def tile_rect(self, row: int, column: int) -> tuple[float, float, float, float]:
        """(left, bottom, width, height) of a tile as fractions of the figure."""
        left = self.margin + column * (self.tile + self.gap)
        bottom = self.height - self.top - (row + 1) * self.row_height
        return (left / self.width, bottom / self.height, self.tile / self.width,
                self.tile / self.height)

    def label_xy(self, row: int) -> tuple[float, float]:
        """Where a row's name starts (its lower left), as fractions of the figure."""
        y = self.height - self.top - row * self.row_height - self.space - self.label
        return self.margin / self.width, y / self.height


def plot_features(image, maps: dict, out_png, title: str | None = None) -> Path:
    """Draw the input ``image`` (C, H, W) above the feature maps ``maps`` (name -> (C, H, W))
    and write a PNG; returns the path written."""
    image = np.asarray(image, dtype=np.float64)
    _check(image, maps)
    columns = max(min(max(np.shape(x)[0] for x in maps.values()), MAX_CHANNELS), 3)
    heading = f"feature maps of each conv layer, one tile per channel: {LEGEND}"
    width = Layout(columns, 1, 0.0).width
    # a caption with a long resize/invert note would run off both sides
    text = fitted(f"{title}\n{heading}" if title else heading, width, TITLE_POINTS)
    layout = Layout(columns, 1 + len(maps), top=0.25 + 0.17 * (text.count("\n") + 1))
    fig = new_figure(layout.width, layout.height, layout=None)
    figure_title(fig, text, fontsize=TITLE_POINTS, y=1 - 0.1 / layout.height, va="top")

    shown, cmap = input_image(image)
    ax = fig.add_axes(layout.tile_rect(0, 0))
    ax.imshow(shown, cmap=cmap, interpolation="nearest")
    hide_ticks(ax)
    fig.text(*layout.label_xy(0), f"input {shape_text(image.shape)}", fontsize=8,
             fontweight="bold", color=palette.line("input"), va="bottom")
    for row, (name, x) in enumerate(maps.items(), start=1):
        _draw_layer(fig, layout, row, name, np.asarray(x, dtype=np.float64))
    return save_png(fig, out_png)


def _draw_layer(fig, layout: Layout, row: int, name: str, x: np.ndarray) -> None:
    """One row: the layer's name, then the channels of ``x`` (C, H, W) as tiles."""
    channels = x.shape[0]
    shown = min(channels, layout.columns)
    for c in range(shown):
        ax = fig.add_axes(layout.tile_rect(row, c))
        draw_tile(ax, x[c], tile_caption(str(c + 1), x[c]), font_size=6)
    more = f", first {shown}" if shown < channels else ""
    fig.text(*layout.label_xy(row), f"{name}  {shape_text(x.shape)}{more}",
             fontsize=8, fontweight="bold", color=palette.line("conv"), va="bottom")
