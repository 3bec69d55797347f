"""The texts a Matplotlib figure draws, and where: for the tests of the pictures' layout, which
assert on the figure's own boxes (titles, axis labels, tick labels, legends), not on pixels."""
from __future__ import annotations

import itertools

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.transforms import Bbox


def drawn_texts(fig) -> list[tuple[str, object]]:
    """``(text, box in display pixels)`` of every text ``fig`` draws: the figure's texts, each
    panel's titles, axis labels, offset texts, texts and annotations, the tick labels inside
    the view (Matplotlib keeps labels of ticks beyond it, never drawn), and each legend as one
    box named ``<legend>``. Draws ``fig`` first, which lays it out."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [*fig.texts, fig._suptitle]  # the title is among the texts in some versions
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            # a twin's shared axis is hidden; a panel holding a key alone has its axes off
            if axis.get_visible() and ax.axison:
                texts += [axis.label, axis.offsetText, *_ticks_in_view(axis)]
    unique = {id(text): text for text in texts if text is not None}.values()
    boxes = [(text.get_text(), text_box(text, renderer)) for text in unique
             if text.get_visible() and text.get_text().strip()]
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return boxes + [("<legend>", legend.get_window_extent(renderer)) for legend in legends]


def text_box(text, renderer):
    """The box of ``text`` as drawn: its letters and the box drawn round them (an annotation's
    ``bbox``), without its leader line (:func:`label_problems` follows that on its path)."""
    from matplotlib.text import Text

    box = Text.get_window_extent(text, renderer)  # an Annotation's own adds its arrow's box
    patch = text.get_bbox_patch()
    return Bbox.union([box, patch.get_window_extent(renderer)]) if patch else box


def label_problems(ax) -> list[str]:
    """What the labels (annotations) of ``ax`` cover, as drawn: another label, a line's path
    (its width and markers included), a scatter's marker (a square of its size), or a leader
    line crossing another label; each said as "<label> covers <what>". Draws the figure
    first."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pixels = fig.dpi / 72  # a point's
    labels = [(a.get_text(), text_box(a, renderer), a) for a in ax.texts if a.get_visible()]
    problems = [f"{a} covers label {b}" for (a, box_a, _), (b, box_b, _)
                in itertools.combinations(labels, 2) if box_a.overlaps(box_b)]
    for line in ax.get_lines():
        path = line.get_transform().transform_path(line.get_path())
        marker = line.get_markersize() if line.get_marker() not in (None, "", "None") else 0
        half = max(line.get_linewidth(), marker) / 2 * pixels
        problems += [f"{name} covers line {line.get_label()}" for name, box, _ in labels
                     if len(path.vertices) and path.intersects_bbox(box.padded(half),
                                                                    filled=False)]
    for collection in ax.collections:
        if not isinstance(collection, PathCollection):  # a heat map's cells are no markers
            continue
        offsets = collection.get_offset_transform().transform(collection.get_offsets())
        for (x, y), size in zip(offsets, np.broadcast_to(collection.get_sizes(),
                                                         (len(offsets),))):
            half = np.sqrt(size) / 2 * pixels
            marker = Bbox.from_extents(x - half, y - half, x + half, y + half)
            problems += [f"{name} covers a marker at {x:.0f}, {y:.0f}"
                         for name, box, _ in labels if box.overlaps(marker)]
    for name, _, annotation in labels:
        arrow = annotation.arrow_patch
        if arrow is not None:
            leader = arrow.get_transform().transform_path(arrow.get_path())
            problems += [f"{name}'s leader line crosses label {other}"
                         for other, box, _ in labels
                         if other != name and leader.intersects_bbox(box, filled=False)]
    return problems


def _ticks_in_view(axis):
    # within a billionth of the view as the axis scales it: on a log axis from 1e-4 to 1e6 a
    # billionth of the values' span took in the tick at 1e-6, beyond the view
    scaled = axis.get_transform().transform
    low, high = sorted(scaled(axis.get_view_interval()))
    span = (high - low) * 1e-9
    for locs, labels in ((axis.get_majorticklocs(), axis.get_majorticklabels()),
                         (axis.get_minorticklocs(), axis.get_minorticklabels())):
        yield from (label for loc, label in zip(locs, labels)
                    if low - span <= scaled(loc) <= high + span)


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """The pairs of texts of ``fig`` (:func:`drawn_texts`) whose boxes overlap."""
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(drawn_texts(fig), 2)
            if box_a.overlaps(box_b)]


def texts_outside(fig) -> list[str]:
    """The texts of ``fig`` drawn (partly) beyond its edges, to a pixel."""
    width, height = fig.bbox.width, fig.bbox.height
    return [text for text, box in drawn_texts(fig)
            if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1]
