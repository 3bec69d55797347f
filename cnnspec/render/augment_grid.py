"""The picture of a spec's training data: a few images of each class as loaded, and the same
images as the spec's ``augment`` transforms change them (``cnnspec data SPEC``).

Images are drawn as they are loaded, in [0, 1] (before the preprocessing), grey for one channel
and RGB for three; noise that leaves [0, 1] is clipped for the picture only. The augmented
images use the seed's ``augment`` stream, as training does, so the picture changes with the
seed and the transforms, not from one call to the next.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnspec.check import check
from cnnspec.check.load import read_spec
from cnnspec.data.augment import Augmenter
from cnnspec.errors import InputError
from cnnspec.ir.training_catalogue import KEYS, value_text
from cnnspec.records import record
from cnnspec.render import palette
from cnnspec.render.figure import (
    figure_title,
    new_figure,
    save_png,
    text_inches,
    title_lines,
)
from cnnspec.render.tiles import hide_ticks
from cnnspec.seeding import streams
from cnnspec.training.compat import load_spec_data

TILE_INCHES = 0.62  # one image's height; small datasets are 8 to 32 pixels a side
# A grid narrower than a title needs grows its images up to this height (one image a class)
# before the figure is widened round it.
MAX_TILE_INCHES = 1.0
SPACING = 0.08  # between two images, in images' heights
GAP_TILES = 0.5  # the empty column between the two blocks, in images' widths
# The margins, in inches: the class names on the left (as wide as the longest, at
# LABEL_POINTS, beside LABEL_PAD_POINTS), a line of the 9-point title and the 8-point block
# headings ("augmented") above the grid, the room a heading needs.
LABEL_POINTS, LABEL_PAD_POINTS = 8, 6
LABEL_MARGIN_INCHES, RIGHT_INCHES, BOTTOM_INCHES = 0.1, 0.1, 0.05
TITLE_LINE_INCHES, HEADINGS_INCHES, HEADING_INCHES = 0.17, 0.3, 0.9
TITLE_POINTS = 9
MIN_WIDTH_INCHES = 4.5  # a 100-character title in two or three lines
MAX_PER_CLASS = 16


def samples_per_class(y: np.ndarray, classes: int, per_class: int) -> list[np.ndarray]:
    """The indices of the first ``per_class`` images of each class (fewer where a class has
    fewer), in the order of the classes."""
    return [np.flatnonzero(y == c)[:per_class] for c in range(classes)]


def augment_picture(spec, out_png, per_class: int = 6, data_dir: str | None = None) -> Path:
    """Draw ``per_class`` training images of each class of ``spec``'s data (a path to a
    ``.cnn``/``.json`` file) beside their augmented versions; returns the PNG's path."""
    if not 1 <= per_class <= MAX_PER_CLASS:
        raise InputError(f"--per-class must be between 1 and {MAX_PER_CLASS}, not {per_class}",
                       hint="e.g. --per-class 6")
    checked = check(read_spec(str(spec)))
    training = checked.ir["training"]
    dataset = load_spec_data(checked, data_dir)
    picks = samples_per_class(dataset.y_train, len(dataset.classes), per_class)
    originals = [dataset.x_train[index] for index in picks]
    transforms = training["augment"]
    augmenter = Augmenter(transforms, dataset.x_train.shape[1])
    rng = streams(training["seed"])["augment"]
    augmented = [augmenter(x, rng) if len(x) else x for x in originals]
    images = f"spec {checked.ir['name']}: {dataset.name} training images"
    title = (f"{images}, as loaded and augmented by {_written(transforms)}" if transforms else
             f"{images} (the spec has no augment setting)")
    return plot_augmented(originals, augmented if transforms else None,
                          [str(c) for c in dataset.classes], out_png, title)


def _written(transforms: list[dict]) -> str:
    """The transforms as the language writes them: ``crop(pad=2), flip(p=0.5)``."""
    entries = KEYS["augment"].catalogue
    parts = []
    for transform in transforms:
        args = ", ".join(f"{a.name}={value_text(transform[a.name])}"
                         for a in entries[transform["name"]].args)
        parts.append(f"{transform['name']}({args})")
    return ", ".join(parts)


@record(frozen=True)
class GridShape:
    """Where the images of :func:`plot_augmented` go, in inches: ``tile``, one image's
    height, ``left`` of the grid and its ``width``, in a figure ``figure_width`` wide, with
    its ``ratios``, each column's width in images' widths (the gap between the blocks a
    narrower one)."""

    tile: float
    ratios: tuple[float, ...]
    left: float
    width: float
    figure_width: float


def grid_shape(per_class: int, blocks: int, aspect: float, classes: list[str]) -> GridShape:
    """The figure's width from its grid's shape, without empty sides: the class names' room,
    ``blocks`` blocks of ``per_class`` images ``aspect`` wide for one high, and the right
    margin. A grid narrower than the title needs (:data:`MIN_WIDTH_INCHES`: one image a class
    broke it into a column of single words) first grows its images, up to
    :data:`MAX_TILE_INCHES`, and only then sits in the middle of a wider figure."""
    ratios = tuple(([1.0] * per_class + [GAP_TILES]) * blocks)[:-1]
    label = LABEL_MARGIN_INCHES + _label_inches(classes) + LABEL_PAD_POINTS / 72
    # the grid's width for images an inch high, the spacing between them included
    per_inch = sum(ratios) * aspect + SPACING * (len(ratios) - 1)
    room = MIN_WIDTH_INCHES - label - RIGHT_INCHES
    tile = min(max(TILE_INCHES, room / per_inch), MAX_TILE_INCHES)
    # the block headings' width where one image a class is narrower than "augmented" (it
    # ran off the right edge)
    width = max(tile * per_inch, HEADING_INCHES * blocks)
    figure_width = max(label + width + RIGHT_INCHES, MIN_WIDTH_INCHES)
    left = (figure_width - width - RIGHT_INCHES + label) / 2
    return GridShape(tile, ratios, left, width, figure_width)


def _label_inches(names: list[str]) -> float:
    """The width of the longest of ``names`` as the class labels are drawn."""
    return max((text_inches(name, LABEL_POINTS) for name in names), default=0.0)


def plot_augmented(originals: list[np.ndarray], augmented: list[np.ndarray] | None,
                   classes: list[str], out_png, title: str) -> Path:
    """One row per class: its images (each (n, C, H, W)) on the left and, when given, the same
    images augmented on the right, under the headings "as loaded" and "augmented"; the
    figure's size follows the grid (:func:`grid_shape`)."""
    per_class = max(len(x) for x in originals)
    blocks = 1 if augmented is None else 2
    h, w = next(np.shape(x[0]) for x in originals if len(x))[-2:]
    shape = grid_shape(per_class, blocks, w / h, classes)
    rows = len(classes)
    wrapped = title_lines(title, shape.figure_width, TITLE_POINTS)
    # the title's lines, then the headings above the first row: a narrow grid wraps the
    # title onto more lines (three of them covered the headings)
    top = TITLE_LINE_INCHES * (wrapped.count("\n") + 1) + HEADINGS_INCHES
    grid_height = shape.tile * (rows + SPACING * (rows - 1))
    height = top + grid_height + BOTTOM_INCHES
    fig = new_figure(shape.figure_width, height, layout=None)
    # Matplotlib spaces the columns by their mean width and the rows by their height: the
    # same SPACING of an image's height between any two images
    mean_column = (shape.width - shape.tile * SPACING * (len(shape.ratios) - 1)) \
        / len(shape.ratios)
    grid = fig.add_gridspec(rows, len(shape.ratios), width_ratios=shape.ratios,
                            left=shape.left / shape.figure_width,
                            right=(shape.left + shape.width) / shape.figure_width,
                            top=1 - top / height, bottom=BOTTOM_INCHES / height,
                            wspace=shape.tile * SPACING / mean_column, hspace=SPACING)
    figure_title(fig, wrapped, fontsize=TITLE_POINTS, y=1 - 0.08 / height, va="top")
    for row, name in enumerate(classes):
        for block, images in enumerate([originals] if augmented is None
                                       else [originals, augmented]):
            for k in range(per_class):
                ax = fig.add_subplot(grid[row, block * (per_class + 1) + k])
                hide_ticks(ax)
                for spine in ax.spines.values():
                    spine.set_color("#bbbbbb")
                if k < len(images[row]):
                    _draw_image(ax, images[row][k])
                if row == 0 and k == 0:
                    ax.set_title("as loaded" if block == 0 else "augmented", fontsize=8,
                                 loc="left", pad=4, color=palette.FAMILIES["input"][1])
                if block == 0 and k == 0:
                    ax.set_ylabel(name, fontsize=LABEL_POINTS, rotation=0, ha="right",
                                  va="center", labelpad=LABEL_PAD_POINTS)
    return save_png(fig, out_png)


def _draw_image(ax, image: np.ndarray) -> None:
    """One (C, H, W) image in [0, 1]: grey for one channel, RGB for three."""
    image = np.clip(image, 0.0, 1.0)
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap=palette.IMAGE_CMAP, vmin=0.0, vmax=1.0,
                  interpolation="nearest")
    elif image.shape[0] == 3:
        ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
    else:  # another channel count: the mean, in grey
        ax.imshow(image.mean(axis=0), cmap=palette.IMAGE_CMAP, vmin=0.0, vmax=1.0,
                  interpolation="nearest")
