"""The one colour scheme shared by diagrams and plots.

Layer kinds are grouped into families (convolution, pooling, activation, ...) and each family
has one fill colour, so a conv layer is the same blue in a diagram, a legend and a feature-map
title. Colours are from the ColorBrewer "Pastel1"/"Set1" families, which stay distinguishable
for the common forms of colour blindness when paired with the text labels every node carries.
"""
from __future__ import annotations

from cnnspec.kinds import KINDS

# family -> (fill for diagram nodes, strong colour for lines and titles)
FAMILIES: dict[str, tuple[str, str]] = {
    "input": ("#e5e5e5", "#525252"),
    "conv": ("#b3cde3", "#377eb8"),
    "dense": ("#decbe4", "#984ea3"),
    "pool": ("#ccebc5", "#4daf4a"),
    "activation": ("#fed9a6", "#ff7f00"),
    "norm": ("#ffffcc", "#b8a800"),
    "dropout": ("#f2f2f2", "#999999"),
    "reshape": ("#e5d8bd", "#a65628"),
    "merge": ("#fbb4ae", "#e41a1c"),
}

# Frozen (trainable = false) layers are drawn greyed out whatever their kind.
FROZEN_FILL = "#f0f0f0"
FROZEN_LINE = "#8c8c8c"

# Curves: the same two colours for "train" and "validation" in every plot.
TRAIN_COLOUR = "#377eb8"
VAL_COLOUR = "#e41a1c"
LR_COLOUR = "#7f7f7f"
BEST_COLOUR = "#4daf4a"  # the epoch whose weights best.npz keeps
EXTENDED_COLOUR = "#984ea3"  # where train --resume --epochs extended a run

# Kernels and feature maps hold signed values: a diverging map centred on zero shows
# positive weights red and negative ones blue, with white at exactly zero.
DIVERGING_CMAP = "RdBu_r"
# Input images are shown as they are (grey for one channel).
IMAGE_CMAP = "gray"


def family(kind: str) -> str:
    """The colour family of a layer kind (its registry family); the network's input and
    unknown kinds fall back to the neutral 'input' grey."""
    record = KINDS.get(kind)
    return record.family if record is not None else "input"


def fill(kind: str) -> str:
    """Node fill colour for a layer kind."""
    return FAMILIES[family(kind)][0]


def line(kind: str) -> str:
    """Strong colour (borders, plot titles) for a layer kind."""
    return FAMILIES[family(kind)][1]
