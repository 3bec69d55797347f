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
from cnnspec.render import palette
from cnnspec.render.figure import figure_title, new_figure, save_png, title_lines
from cnnspec.render.tiles import hide_ticks
from cnnspec.seeding import streams
from cnnspec.training.compat import load_spec_data

TILE_INCHES = 0.62  # one image; small datasets are 8 to 32 pixels a side
# The margins, in inches: the class names on the left, a line of the 9-point title and the
# 8-point block headings ("augmented") above the grid, the room a heading needs.
LABEL_INCHES, RIGHT_INCHES, BOTTOM_INCHES = 1.1, 0.1, 0.05
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


def plot_augmented(originals: list[np.ndarray], augmented: list[np.ndarray] | None,
                   classes: list[str], out_png, title: str) -> Path:
    """One row per class: its images (each (n, C, H, W)) on the left and, when given, the same
    images augmented on the right, under the headings "as loaded" and "augmented"."""
    per_class = max(len(x) for x in originals)
    blocks = 1 if augmented is None else 2
    columns = blocks * per_class + (blocks - 1)  # an empty column between the two blocks
    rows = len(classes)
    # the grid's width, or the block headings' where one image a class is narrower than
    # "augmented" (it ran off the right edge)
    grid_inches = max(TILE_INCHES * columns, HEADING_INCHES * blocks)
    # a figure no narrower than a title needs (one image a class broke it into a column of
    # single words), the grid and its labels in the middle
    width = max(LABEL_INCHES + grid_inches + RIGHT_INCHES, MIN_WIDTH_INCHES)
    left = (width - grid_inches - RIGHT_INCHES + LABEL_INCHES) / 2
    wrapped = title_lines(title, width, TITLE_POINTS)
    # the title's lines, then the headings above the first row: a narrow grid wraps the
    # title onto more lines (three of them covered the headings)
    top = TITLE_LINE_INCHES * (wrapped.count("\n") + 1) + HEADINGS_INCHES
    height = top + TILE_INCHES * rows + BOTTOM_INCHES
    fig = new_figure(width, height, layout=None)
    grid = fig.add_gridspec(rows, columns, left=left / width,
                            right=(left + grid_inches) / width, top=1 - top / height,
                            bottom=BOTTOM_INCHES / height, wspace=0.08, hspace=0.08)
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
                    ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center",
                                  labelpad=6)
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
