"""The synthetic ``shapes`` dataset: strokes drawn at random places, sizes and widths.

Ten classes (:data:`SHAPE_CLASSES`): ``x``, ``plus``, ``o`` (a circle), ``square`` (its
outline), ``hbar``, ``vbar``, ``diag`` (top-left to bottom-right, like ``\\``), ``antidiag``
(like ``/``), ``triangle`` (the outline of a triangle pointing up: apex at the top centre, base
along the bottom) and ``diamond`` (a square outline turned by 45 degrees, corners at the
middle of each side). Ten, so that a classic 10-way network such as LeNet-5 trains on them.
Each image draws one shape, light on a dark background like the digits:

- a centre ``(cy, cx)`` and a half-size ``r`` (arm length, radius, half-side) in
  ``[0.2 S, 0.4 S]`` for an ``S x S`` image (at least 2 pixels, at most ``(S - 1) / 2``), the
  centre anywhere that keeps the shape inside the image;
- a stroke width ``w`` in ``[1, 1 + S / 16]`` pixels and a brightness in ``[0.6, 1]``;
- anti-aliased edges: a pixel at distance ``d`` from the shape's centre line gets
  ``clip(w / 2 + 0.5 - d, 0, 1)`` times the brightness;
- Gaussian noise of standard deviation ``noise``, then clipping to [0, 1].

With ``colour`` the images have 3 channels (RGB): the same strokes are drawn (the brightness
is drawn and left unused, so a seed places the same shapes as in greyscale), then each image
gets a shape colour and a background colour, uniform in the RGB cube, drawn again until their
luma (ITU-R BT.601: ``0.299 R + 0.587 G + 0.114 B``) differs by at least
:data:`MIN_LUMA_CONTRAST`, so the shape stands out even to a greyscale eye. A pixel is
``background + ink * (shape - background)``. The colours are drawn for all images at once,
after the labels and independently of them, so no class can be told by its colours; either
colour may be the lighter one.

The classes come in pairs that share strokes (``x`` = ``diag`` + ``antidiag``, ``plus`` =
``hbar`` + ``vbar``, ``o`` and ``square`` alike when small, ``diamond`` drawn with the strokes
of an ``x`` but closed, ``triangle`` a ``hbar`` under two slanted sides), so a classifier has
to look at oriented strokes and how they combine: on this data a learned 3x3 filter can be
seen to turn into an X detector. Labels are balanced (``count / len(classes)`` each, up to one) and
in a random order; the last fifth of the images (``count // 5``) is the test split.

All randomness comes from the generator passed in (the run's ``dataset`` stream).
"""
from __future__ import annotations

import numpy as np

from cnnspec.data.dataset import Dataset
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import float_text
from cnnspec.ir.datasets import (
    DATASETS,
    SHAPE_CLASSES,  # noqa: F401  (cnnspec.data.SHAPE_CLASSES)
    SHAPES_TEST_FRACTION_DENOMINATOR,
)

SHAPES_DEFAULTS = DATASETS["shapes"].defaults
# The least luma difference between a colour image's shape and background: about half of the
# pairs of uniform colours have it, so the redrawing ends fast.
MIN_LUMA_CONTRAST = 0.3
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601


def segment_distance(along: np.ndarray, across: np.ndarray, half_length: np.ndarray) -> np.ndarray:
    """Distance from points to a segment centred at 0, given in the segment's own axes.

    ``along`` and ``across`` are the point's coordinates parallel and perpendicular to the
    segment; the segment runs from ``-half_length`` to ``+half_length`` along it.
    """
    beyond = np.maximum(np.abs(along) - half_length, 0.0)
    return np.hypot(beyond, across)


def segment_between(dy: np.ndarray, dx: np.ndarray, start: tuple[np.ndarray, np.ndarray],
                    end: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Distance from points ``(dy, dx)`` to the segment from ``start`` to ``end`` (each a
    ``(y, x)`` pair of arrays broadcasting against ``dy``)."""
    (y0, x0), (y1, x1) = start, end
    mid_y, mid_x = (y0 + y1) / 2, (x0 + x1) / 2
    length = np.hypot(y1 - y0, x1 - x0)
    uy, ux = (y1 - y0) / length, (x1 - x0) / length  # unit vector along the segment
    py, px = dy - mid_y, dx - mid_x
    return segment_distance(py * uy + px * ux, px * uy - py * ux, length / 2)


def stroke_distance(kind: str, dy: np.ndarray, dx: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Distance from each pixel to the centre line of shape ``kind``.

    ``dy``, ``dx`` are (n, S, S) offsets from the shape's centre, ``r`` (n, 1, 1) half-sizes.
    """
    root2 = np.sqrt(2.0)
    if kind == "hbar":
        return segment_distance(dx, dy, r)
    if kind == "vbar":
        return segment_distance(dy, dx, r)
    if kind == "diag":  # from (-r, -r) to (r, r): the main diagonal, "\"
        return segment_distance((dx + dy) / root2, (dy - dx) / root2, r * root2)
    if kind == "antidiag":  # from (r, -r) to (-r, r): "/"
        return segment_distance((dx - dy) / root2, (dx + dy) / root2, r * root2)
    if kind == "plus":
        return np.minimum(stroke_distance("hbar", dy, dx, r), stroke_distance("vbar", dy, dx, r))
    if kind == "x":
        return np.minimum(stroke_distance("diag", dy, dx, r),
                          stroke_distance("antidiag", dy, dx, r))
    if kind == "o":
        return np.abs(np.hypot(dy, dx) - r)
    if kind == "square":
        # Exact distance to the outline of the square [-r, r]^2: outside, to the nearest
        # edge or corner; inside, to the nearest side.
        ay, ax = np.abs(dy), np.abs(dx)
        outside = np.hypot(np.maximum(ay - r, 0.0), np.maximum(ax - r, 0.0))
        inside = np.maximum(r - np.maximum(ay, ax), 0.0)
        return outside + inside
    if kind == "diamond":
        # The square outline in axes turned by 45 degrees; its corners, at (+-r, 0) and
        # (0, +-r), have half-side r / sqrt(2) there.
        return stroke_distance("square", (dy + dx) / root2, (dx - dy) / root2, r / root2)
    if kind == "triangle":
        # Apex (-r, 0) at the top, base from (r, -r) to (r, r): inside the same [-r, r]^2 box
        # as the square, so the same margin keeps it inside the image.
        apex, left, right = (-r, np.zeros_like(r)), (r, -r), (r, r)
        return np.minimum.reduce([segment_between(dy, dx, apex, left),
                                  segment_between(dy, dx, apex, right),
                                  segment_between(dy, dx, left, right)])
    raise ValueError(f"unknown shape {kind!r}")


def draw_shapes(kind: str, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` noise-free images ``(n, size, size)`` float32 of one shape kind."""
    ink, brightness = draw_ink(kind, n, size, rng)
    return (ink * brightness[:, None, None]).astype(np.float32)


def draw_ink(kind: str, n: int, size: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    """How much of each pixel ``n`` shapes of one kind cover, ``(n, size, size)`` float64 in
    [0, 1], and the brightness ``(n,)`` of each (a greyscale image is their product)."""
    r = rng.uniform(0.2 * size, 0.4 * size, n).clip(min=min(2.0, (size - 1) / 2))
    width = rng.uniform(1.0, 1.0 + size / 16, n)
    brightness = rng.uniform(0.6, 1.0, n)
    # Keep the whole stroke (half-size plus half the width) inside the image.
    margin = np.minimum(r + width / 2, (size - 1) / 2)
    cy = rng.uniform(margin, size - 1 - margin)
    cx = rng.uniform(margin, size - 1 - margin)
    grid = np.arange(size, dtype=np.float64)
    dy = grid[None, :, None] - cy[:, None, None]
    dx = grid[None, None, :] - cx[:, None, None]
    d = stroke_distance(kind, dy, dx, r[:, None, None])
    ink = np.clip(width[:, None, None] / 2 + 0.5 - d, 0.0, 1.0)
    return ink, brightness


def draw_colours(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs of RGB colours ``(n, 3)`` float64 in [0, 1], a shape's and its background's,
    whose lumas differ by at least :data:`MIN_LUMA_CONTRAST`."""
    shape = rng.uniform(0.0, 1.0, (n, 3))
    background = rng.uniform(0.0, 1.0, (n, 3))
    while True:
        faint = np.flatnonzero(np.abs((shape - background) @ LUMA_WEIGHTS) < MIN_LUMA_CONTRAST)
        if not len(faint):
            return shape, background
        shape[faint] = rng.uniform(0.0, 1.0, (len(faint), 3))
        background[faint] = rng.uniform(0.0, 1.0, (len(faint), 3))


def generate_shapes(size: int, classes: list[str], count: int, noise: float,
                    rng: np.random.Generator, colour: bool = False,
                    dtype: str = DEFAULT_DTYPE) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images ``(count, C, size, size)`` ``dtype`` in [0, 1] and labels ``(count,)``
    int64; ``C`` is 3 (RGB) with ``colour``, else 1. The shapes are drawn in float32 whatever
    ``dtype`` (so a float64 run sees the same shapes); the noise is added in ``dtype``.

    Label ``i`` is ``classes[i]``; the labels are balanced and shuffled.
    """
    y = rng.permutation(np.arange(count) % len(classes)).astype(np.int64)
    if colour:
        x = _colour_images(size, classes, y, rng).astype(dtype, copy=False)
    else:
        x = np.empty((count, 1, size, size), dtype=dtype)
        for label, kind in enumerate(classes):
            members = np.flatnonzero(y == label)
            x[members, 0] = draw_shapes(kind, len(members), size, rng)
    if noise > 0:  # -0.0 is no noise too (NumPy's normal() refuses it as a negative scale)
        _add_noise(x, noise, rng)
    np.clip(x, 0.0, 1.0, out=x)
    return x, y


# Noise values drawn at a time: drawn for the whole set at once, the float64 draws and their
# cast held three times the images beside them (the peak of loading shapes). A generator
# draws the same values in parts as in one call.
NOISE_PART = 2**20


def _add_noise(x: np.ndarray, noise: float, rng: np.random.Generator) -> None:
    """Add N(0, noise^2) to each value of ``x``, where it is, :data:`NOISE_PART` values at a
    time (whole images)."""
    images = max(1, NOISE_PART // max(1, x[0].size)) if len(x) else 1
    for start in range(0, len(x), images):
        part = x[start:start + images]
        draws = rng.normal(0.0, noise, part.shape)
        # Noise beyond +-1 takes any pixel to 0 or 1, as clipped there: the same images, and no
        # float32 overflow in the cast (a noise of 1e300 drew values float32 cannot hold).
        np.clip(draws, -1.0, 1.0, out=draws)
        part += draws.astype(x.dtype)


def _colour_images(size: int, classes: list[str], y: np.ndarray, rng: np.random.Generator
                   ) -> np.ndarray:
    """Noise-free RGB images ``(len(y), 3, size, size)`` float32 of the shapes ``y`` labels."""
    ink = np.empty((len(y), 1, size, size), dtype=np.float32)
    for label, kind in enumerate(classes):
        members = np.flatnonzero(y == label)
        ink[members, 0] = draw_ink(kind, len(members), size, rng)[0]
    shape, background = (c.astype(np.float32)[:, :, None, None] for c in draw_colours(len(y), rng))
    return background + ink * (shape - background)


def load_shapes(settings: dict, rng: np.random.Generator, dtype: str = DEFAULT_DTYPE
                ) -> Dataset:
    """The shapes dataset for a checked ``{"name": "shapes", ...}`` config (every argument
    given), drawn from ``rng``, its images in ``dtype``."""
    x, y = generate_shapes(settings["size"], settings["classes"], settings["count"],
                           settings["noise"], rng, settings["colour"], dtype)
    n_test = settings["count"] // SHAPES_TEST_FRACTION_DENOMINATOR
    n_train = settings["count"] - n_test
    size = settings["size"]
    colour = "colour " if settings["colour"] else ""
    description = (f"synthetic {colour}shapes ({', '.join(settings['classes'])}), {size}x{size}, "
                   f"noise {float_text(float(settings['noise']))}; {n_train} train / {n_test} test")
    return Dataset("shapes", x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                   settings["classes"], description)
