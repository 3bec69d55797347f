"""What a network diagram draws, and where, read from the renderer's own layout (its ``-Tjson``
output, Graphviz's xdot drawing operations): for the tests of the diagrams' layout, which
assert on the boxes the renderer placed (nodes, edge labels, cluster frames and labels), not
on pixels. Coordinates are points, y up, as Graphviz writes them."""
from __future__ import annotations

import itertools
import json
import math
import subprocess
from dataclasses import dataclass

from cnnspec.render.backend import find_renderer
from cnnspec.render.diagram import LABEL_SUFFIX, is_edge_label

# How far below its baseline and above it a line of text reaches, as shares of its font size
# (Helvetica's descender and cap height, rounded out).
_DESCENT, _ASCENT = 0.25, 0.8
# A label nearer than this to a frame's line touches it, in points.
TOUCH = 1.0


@dataclass(frozen=True)
class Box:
    """An axis-aligned box, ``x0 <= x1`` and ``y0 <= y1``."""

    x0: float
    y0: float
    x1: float
    y1: float

    def meets(self, other: Box, gap: float = 0.0) -> bool:
        """Whether the two boxes overlap or come within ``gap`` of each other."""
        return (self.x0 < other.x1 + gap and other.x0 < self.x1 + gap
                and self.y0 < other.y1 + gap and other.y0 < self.y1 + gap)

    def shrunk(self, by: float) -> Box:
        return Box(self.x0 + by, self.y0 + by, self.x1 - by, self.y1 - by)

    def holds(self, other: Box) -> bool:
        return (self.x0 <= other.x0 and self.y0 <= other.y0
                and other.x1 <= self.x1 and other.y1 <= self.y1)


@dataclass(frozen=True)
class Drawn:
    """One thing drawn: what it is (``node stem``, ``label 16x16x16 of a -> b``, ``frame of
    cluster_res_1``) and its box."""

    name: str
    box: Box


@dataclass
class Layout:
    """A laid-out diagram: its nodes' boxes, its texts' boxes (edge labels, cluster labels,
    the graph's label), its clusters' frames, and its edges' paths (Bézier control points)."""

    nodes: list[Drawn]
    edge_labels: list[Drawn]
    other_texts: list[Drawn]
    frames: list[Drawn]
    edges: list[tuple[str, str, str, list[tuple[float, float]]]]


def layout(source: str) -> Layout:
    """The layout the installed renderer gives the DOT ``source``."""
    renderer = find_renderer()
    assert renderer is not None, "no Graphviz renderer installed"
    done = subprocess.run([renderer.command, "-q", "-Tjson"], input=source.encode("utf-8"),
                          capture_output=True, check=True, timeout=120)
    return read_layout(json.loads(done.stdout))


def read_layout(graph: dict) -> Layout:
    """The :class:`Layout` of a graph in Graphviz's JSON output."""
    objects = graph.get("objects", [])
    names = [item["name"] for item in objects]
    result = Layout([], [], list(_texts("graph label", graph.get("_ldraw_", []))), [], [])
    for item in objects:
        if "bb" in item:  # a subgraph
            result.other_texts += _texts(f"label of {item['name']}", item.get("_ldraw_", []))
            if item.get("peripheries", "1") != "0" and item["name"].startswith("cluster"):
                result.frames.append(Drawn(f"frame of {item['name']}", _bb(item["bb"])))
        elif is_edge_label(item["name"]):
            result.edge_labels += [Drawn(f"label {text.name}", text.box) for text in _texts(
                item["name"].removesuffix(LABEL_SUFFIX), item.get("_ldraw_", []))]
        else:
            result.nodes.append(Drawn(f"node {item['name']}", _node_box(item)))
    for edge in graph.get("edges", []):
        tail, head = names[edge["tail"]], names[edge["head"]]
        for text in _texts(f"{tail} -> {head}", edge.get("_ldraw_", [])):
            result.edge_labels.append(Drawn(f"label {text.name}", text.box))
        points = [tuple(point) for op in edge.get("_draw_", []) if op["op"] == "b"
                  for point in op["points"]]
        result.edges.append((tail, head, f"edge {tail} -> {head}", points))
    return result


def label_problems(drawn: Layout) -> list[str]:
    """Each edge label that meets another label, a node, a text, or a cluster's frame (its
    border, or within :data:`TOUCH` of it: a label wholly inside or wholly outside a frame is
    fine), or that an edge runs through, said as "<label> covers <what>"; then each edge that
    runs through a node it does not join."""
    problems = []
    for label, other in itertools.combinations(drawn.edge_labels, 2):
        if label.box.meets(other.box):
            problems.append(f"{label.name} covers {other.name}")
    for label in drawn.edge_labels:
        problems += [f"{label.name} covers {other.name}"
                     for other in (*drawn.nodes, *drawn.other_texts)
                     if label.box.meets(other.box)]
        problems += [f"{label.name} covers the {frame.name}" for frame in drawn.frames
                     if label.box.meets(frame.box, TOUCH)
                     and not frame.box.shrunk(TOUCH).holds(label.box)]
    for tail, head, name, points in drawn.edges:
        curve = list(_curve(points))
        problems += [f"{label.name} covers {name}" for label in drawn.edge_labels
                     if any(_inside(point, label.box) for point in curve)]
        problems += [f"{name} runs through {node.name}" for node in drawn.nodes
                     if node.name not in (f"node {tail}", f"node {head}")
                     and any(_inside(point, node.box) for point in curve)]
    return problems


def _texts(owner: str, operations: list[dict]):
    """The text lines an xdot operation list draws, as :class:`Drawn` boxes named
    ``<text> of <owner>``."""
    size = 14.0
    for op in operations:
        if op["op"] == "F":
            size = op["size"]
        elif op["op"] == "T" and op["text"].strip():
            x, y = op["pt"]
            left = {"l": x, "c": x - op["width"] / 2, "r": x - op["width"]}[op["align"]]
            box = Box(left, y - _DESCENT * size, left + op["width"], y + _ASCENT * size)
            yield Drawn(f"{op['text'].strip()} of {owner}", box)


def _bb(text: str) -> Box:
    return Box(*(float(part) for part in text.split(",")))


def _node_box(item: dict) -> Box:
    x, y = (float(part) for part in item["pos"].split(","))
    half_w, half_h = float(item["width"]) * 36, float(item["height"]) * 36  # inches -> points
    return Box(x - half_w, y - half_h, x + half_w, y + half_h)


def _inside(point, box: Box, margin: float = 1.0) -> bool:
    x, y = point
    return box.x0 + margin < x < box.x1 - margin and box.y0 + margin < y < box.y1 - margin


def _curve(points: list[tuple[float, float]]):
    """Points along the piecewise cubic Bézier curve with control points ``points``, under
    half a point apart (a curve is no longer than its control polygon)."""
    for start in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[start:start + 4]
        steps = 1 + int(2 * sum(math.dist(a, b) for a, b in ((p0, p1), (p1, p2), (p2, p3))))
        for step in range(steps + 1):
            t = step / steps
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3
            yield (a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                   a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1])
