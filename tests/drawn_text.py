"""The texts a Matplotlib figure draws, and where: for the tests of the pictures' layout, which
assert on the figure's own boxes (titles, axis labels, tick labels, legends), not on pixels."""
from __future__ import annotations

import itertools


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
            if axis.get_visible():  # a twin's shared axis is hidden
                texts += [axis.label, axis.offsetText, *_ticks_in_view(axis)]
    unique = {id(text): text for text in texts if text is not None}.values()
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in unique
             if text.get_visible() and text.get_text().strip()]
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return boxes + [("<legend>", legend.get_window_extent(renderer)) for legend in legends]


def _ticks_in_view(axis):
    low, high = sorted(axis.get_view_interval())
    span = (high - low) * 1e-9
    for locs, labels in ((axis.get_majorticklocs(), axis.get_majorticklabels()),
                         (axis.get_minorticklocs(), axis.get_minorticklabels())):
        yield from (label for loc, label in zip(locs, labels) if low - span <= loc <= high + span)


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """The pairs of texts of ``fig`` (:func:`drawn_texts`) whose boxes overlap."""
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(drawn_texts(fig), 2)
            if box_a.overlaps(box_b)]


def texts_outside(fig) -> list[str]:
    """The texts of ``fig`` drawn (partly) beyond its edges, to a pixel."""
    width, height = fig.bbox.width, fig.bbox.height
    return [text for text, box in drawn_texts(fig)
            if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1]
