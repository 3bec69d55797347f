"""Small images of signed values on a diverging colour map, each scaled on its own.

A kernel or a feature map is drawn with white at exactly zero, red for positive and blue for
negative values, with the colour limits at ``±max|x|`` of that one tile: a filter with small
weights is as readable as one with large weights, and the tile's caption gives the scale so
magnitudes can still be compared.
"""
from __future__ import annotations

import numpy as np

from cnnspec.render import palette
from cnnspec.render.figure import panel_caption

# How to read the tiles, for a picture's heading.
LEGEND = "red positive, blue negative, white zero; each tile scaled to its own ±max"


def symmetric_limit(x: np.ndarray) -> float:
    """``max|x|`` over the finite values; 1.0 for an all-zero (or empty) tile, so it draws
    white instead of failing on a zero-width colour range."""
    finite = np.abs(x[np.isfinite(x)])
    limit = float(finite.max()) if finite.size else 0.0
    return limit if limit > 0 else 1.0


def draw_tile(ax, x: np.ndarray, caption: str | None = None, font_size: float = 7.0) -> float:
    """Draw the 2-D array ``x`` (H, W) on ``ax`` centred on zero; returns the limit used."""
    # In float64: against limits near float32's largest, the colour scaling's (x - vmin) would
    # overflow, and a tile of huge weights would draw as one colour.
    x = np.asarray(x, dtype=np.float64)
    limit = symmetric_limit(x)
    # NaN pixels (gaps between channels) are transparent: grey, so they differ from zero.
    ax.set_facecolor("#d0d0d0")
    ax.imshow(x, cmap=palette.DIVERGING_CMAP, vmin=-limit, vmax=limit,
              interpolation="nearest")
    hide_ticks(ax)
    if caption:  # a long layer name shrinks the captions rather than run into the next tile's
        panel_caption(ax, caption, font_size, pad=2)
    return limit


def hide_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def side_by_side(kernels: np.ndarray) -> np.ndarray:
    """``(I, kh, kw)`` channels laid out left to right as one ``(kh, I*(kw+1)-1)`` image, with
    a NaN column between channels (drawn blank) so their borders stay visible."""
    channels, kh, kw = kernels.shape
    out = np.full((kh, channels * (kw + 1) - 1), np.nan)
    for i in range(channels):
        out[:, i * (kw + 1): i * (kw + 1) + kw] = kernels[i]
    return out


# Captions of limits from here up are written with an exponent: "±300000000000000000000..."
# (weights near float32's largest, 3.4e38) would run across the neighbouring tiles.
EXPONENT_FROM = 1e5


def scale_text(limit: float) -> str:
    """The caption for a tile's colour limit: ``±0.12``, ``±7.4``, ``±130``, ``±12345``, with
    an exponent only from :data:`EXPONENT_FROM` (``±3.0e+38``)."""
    if limit >= EXPONENT_FROM:
        return f"±{limit:.1e}"
    return f"±{limit:.0f}" if limit >= 100 else f"±{limit:.2g}"


# The scale caption of a tile of zeros. Not "0": after a tile's number it read as part of it
# ("12 0" as 120, a dead ReLU channel of a feature map as channel 120).
ALL_ZERO = "all 0"


def scale_caption(x: np.ndarray) -> str:
    """The scale a tile's caption gives: its colour limit (:func:`scale_text`), or
    :data:`ALL_ZERO` for a tile of zeros, whose ±1 colour range is no scale of its values (a
    zero-initialised filter captioned "±1" reads as one drawn from [-1, 1])."""
    finite = x[np.isfinite(x)]
    return scale_text(symmetric_limit(x)) if finite.any() else ALL_ZERO


def tile_caption(label: str, x: np.ndarray) -> str:
    """A tile's one-line caption: its label (a channel's or a filter's number, a name) and its
    scale, a colon between (``12: ±0.5``, ``12: all 0``), so neither runs into the other."""
    return f"{label}: {scale_caption(x)}"
