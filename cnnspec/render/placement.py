"""Labels placed beside the points they name, where they cover nothing drawn.

Matplotlib places an annotation where it is told; a label set at a fixed offset from its point
covered the lines and markers around it, and its leader line crossed the labels of its
neighbours (the phase diagram's named inits, four of them within a tenth of sigma_w). Here each
label tries places around its point, nearest first, and takes the first whose box lies inside
the panel and meets no line's path, no marker, no label placed before it and no leader line;
a label set apart from its point is joined to it by a leader line that crosses no other label.

Everything is measured in display pixels on the laid-out figure (the renderer's boxes of the
texts, the lines' paths and the markers' sizes), so the figure's layout must not change after
the labels are placed: they are left out of the layout, and anything else (legends, a title)
is added before.
"""
from __future__ import annotations

import math

import numpy as np

from cnnspec.records import record

# The gaps tried between a point's marker and its label, nearest first, in points: right
# beside it, then further out where neighbours crowd it.
GAPS_POINTS = (1.5, 6, 12, 20, 32, 48, 68, 92, 120)
# From this gap on a label is joined to its point by a leader line: nearer, it reads as its
# point's at a glance.
LEADER_FROM_POINTS = 6
# The directions tried at each gap, in degrees: up first (the points of a phase diagram sit on
# its lower edge), then turning both ways towards down.
DIRECTIONS = sorted(range(0, 360, 30), key=lambda angle: (min(abs(angle - 90),
                                                            360 - abs(angle - 90)), angle))
# Room kept free around a label's box, in points.
CLEARANCE_POINTS = 1.5


@record
class Obstacles:
    """What a label may not cover, in display pixels: the markers' and the labels' boxes, and
    the paths of the lines and leader lines, each with the half-width it is drawn with."""

    markers: list
    labels: list
    paths: list

    def conflicts(self, box, leader=None, own_marker=None) -> tuple[int, int]:
        """How many of the obstacles ``box`` (a Bbox) meets, with the labels ``leader`` (a
        Path, or None) crosses; and then how many markers the leader crosses (``own_marker``
        aside, the one it starts from): a line through a marker is drawn over it, where a
        label hides it."""
        covered = sum(box.overlaps(other) for other in (*self.markers, *self.labels))
        covered += sum(path.intersects_bbox(box.padded(pad), filled=False)
                       for path, pad in self.paths)
        if leader is None:
            return covered, 0
        covered += sum(leader.intersects_bbox(other, filled=False) for other in self.labels)
        return covered, sum(leader.intersects_bbox(other, filled=False)
                            for other in self.markers if other is not own_marker)


def place_labels(ax, points, texts, marker_points: float, **text_style) -> list:
    """Annotate ``ax`` at each data point of ``points`` with the matching text of ``texts``,
    placed where it covers nothing drawn (see the module's docstring); ``marker_points`` is the
    half-size of the points' markers, in points, which a label keeps clear of. ``text_style``
    goes to each annotation (its font, its box). Returns the annotations."""
    fig = ax.figure
    fig.canvas.draw()  # lays the figure out: every box below is where it will be drawn
    renderer = fig.canvas.get_renderer()
    pixels = fig.dpi / 72
    obstacles = drawn_obstacles(ax, renderer)
    frame = ax.get_window_extent(renderer).padded(-CLEARANCE_POINTS * pixels)
    placed = []
    for xy, text in zip(points, texts):
        at = ax.transData.transform(xy)
        marker = _square(at, marker_points * pixels)
        width, height = _label_size(ax, text, renderer, text_style)
        offset, leader = _best_place(at, marker, width, height, frame, obstacles, pixels)
        annotation = ax.annotate(
            text, xy, xytext=offset / pixels, textcoords="offset points", ha="center",
            va="center", annotation_clip=False, zorder=6, **text_style,
            **({"arrowprops": {"arrowstyle": "-", "lw": 0.6, "color": "black",
                               "shrinkA": 0, "shrinkB": marker_points}} if leader else {}))
        annotation.set_in_layout(False)  # the layout the places were measured in stays
        box = _box(at + offset, width, height)
        obstacles.labels.append(box.padded(CLEARANCE_POINTS * pixels))
        if leader:
            obstacles.paths.append((_leader(at, box), 0.5 * pixels))
        placed.append(annotation)
    return placed


def drawn_obstacles(ax, renderer) -> Obstacles:
    """The lines and markers drawn in ``ax``, as :class:`Obstacles`: each line's path with half
    its width (and of its markers), each scatter's markers as squares of their size. The
    texts and labels already there count as labels."""
    from matplotlib.collections import PathCollection  # Matplotlib loads only when drawing

    pixels = ax.figure.dpi / 72
    markers, paths = [], []
    for line in ax.get_lines():
        if line.get_visible() and len(line.get_xydata()):
            path = line.get_transform().transform_path(line.get_path())
            half = (line.get_linewidth() / 2 + (line.get_markersize() / 2
                                                if line.get_marker() not in (None, "None", "")
                                                else 0)) * pixels
            paths.append((path, half + CLEARANCE_POINTS * pixels))
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and collection.get_visible():
            centres = collection.get_offset_transform().transform(collection.get_offsets())
            sizes = np.broadcast_to(collection.get_sizes(), (len(centres),))
            widths = np.broadcast_to(collection.get_linewidths(), (len(centres),))
            markers += [_square(at, (math.sqrt(size) / 2 + width) * pixels)
                        for at, size, width in zip(centres, sizes, widths)]
    labels = [text.get_window_extent(renderer) for text in ax.texts if text.get_visible()]
    return Obstacles(markers, labels, paths)


def _best_place(at, marker, width, height, frame, obstacles: Obstacles, pixels):
    """The offset (pixels, from ``at`` to the label's centre) of the first place that meets
    nothing, nearest first; where every place meets something, the one covering least, then
    with the fewest markers under its leader line. And whether the label is far enough from
    its point to need a leader line."""
    own_marker = _own_marker(obstacles, marker)
    best = None
    for gap in GAPS_POINTS:
        for angle in DIRECTIONS:
            direction = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
            # the box pushed out along the direction until its near side or corner is ``gap``
            # beyond the marker's square
            reach = marker.width / 2 + gap * pixels
            offset = direction * reach + np.sign(np.round(direction, 6)) * (width / 2,
                                                                            height / 2)
            box = _box(at + offset, width, height)
            if not frame.contains(box.x0, box.y0) or not frame.contains(box.x1, box.y1):
                continue
            leader = _leader(at, box) if gap >= LEADER_FROM_POINTS else None
            cost = obstacles.conflicts(box.padded(CLEARANCE_POINTS * pixels), leader,
                                       own_marker)
            if cost == (0, 0):
                return offset, leader is not None
            if best is None or cost < best[0]:
                best = (cost, offset, leader is not None)
    if best is None:  # no place inside the panel at all: above the point
        return np.array([0.0, marker.height / 2 + height / 2]), False
    return best[1], best[2]


def _own_marker(obstacles: Obstacles, marker):
    """The marker among the obstacles that is the labelled point's (its leader starts inside
    it)."""
    centre = (marker.x0 + marker.x1) / 2, (marker.y0 + marker.y1) / 2
    return next((box for box in obstacles.markers
                 if abs((box.x0 + box.x1) / 2 - centre[0]) < 0.5
                 and abs((box.y0 + box.y1) / 2 - centre[1]) < 0.5), None)


def _label_size(ax, text: str, renderer, text_style: dict) -> tuple[float, float]:
    """The width and height, in pixels, of ``text`` drawn in ``ax`` with ``text_style``, its
    box (``bbox``) included."""
    probe = ax.annotate(text, (0, 0), xycoords="axes pixels", **text_style)
    probe.draw(renderer)  # sizes its box to the text
    patch = probe.get_bbox_patch()
    extent = (patch.get_window_extent(renderer) if patch is not None
              else probe.get_window_extent(renderer))
    probe.remove()
    return extent.width, extent.height


def _box(centre, width: float, height: float):
    from matplotlib.transforms import Bbox  # Matplotlib loads only when drawing

    x, y = centre
    return Bbox.from_bounds(x - width / 2, y - height / 2, width, height)


def _square(centre, half: float):
    return _box(centre, 2 * half, 2 * half)


def _leader(at, box):
    """The leader line from the point ``at`` to the nearest point of ``box``, as a Path."""
    from matplotlib.path import Path  # Matplotlib loads only when drawing

    end = (min(max(at[0], box.x0), box.x1), min(max(at[1], box.y0), box.y1))
    return Path(np.array([at, end], float))
