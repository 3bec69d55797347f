"""The lab's pictures: signal strength against depth, learning curves of init variants, and
per-layer statistics over training steps. Matplotlib (Agg) through :mod:`cnnspec.render.figure`,
imported when a picture is drawn.

Stds span many orders of magnitude under a bad init (He et al. 2015: a factor 2^15 over 30
layers), so every std axis is logarithmic; values that are zero or not finite are left as gaps.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cnnspec.errors import RunError, WordedError
from cnnspec.kinds import is_weighted
from cnnspec.lab.stats import LayerStats, weighted
from cnnspec.metrics import TITLES, TRAIN_LOSS, VAL_ACC
from cnnspec.records import record
from cnnspec.render import figure


def _positive(values: list[float | None]) -> list[float]:
    """Values as floats, NaN where a log axis cannot show them (Matplotlib leaves a gap)."""
    return [v if v is not None and math.isfinite(v) and v > 0 else math.nan for v in values]


@record(frozen=True)
class Statistic:
    """How the pictures show a per-layer statistic: its panel's title, and its axis' label
    (what the values are)."""

    title: str
    label: str


# The per-layer statistics drawn: the std of each layer's output, the std of the loss's
# gradient with respect to that output (what backpropagation carries to the layer), and the
# share of a ReLU's outputs that are exactly 0.
STATISTICS = {
    "act_std": Statistic("activation std", "std of the layer's output"),
    "grad_std": Statistic("gradient std (∂loss/∂output)", "std of ∂loss/∂(layer's output)"),
    # The gradient's size as He et al. 2015 (eqs. 13-14) follow it back, where maps change size
    # with depth: a std per value falls where the same gradient spreads over a larger map.
    # Its norm is taken as the std times the square root of the values (LayerStats.grad_norm).
    "grad_norm": Statistic("gradient norm per input (∂loss/∂output)",
                           "norm of ∂loss/∂(layer's output)"),
    "dead_frac": Statistic("dead ReLU units (exact zeros)", "share of the ReLU's outputs at 0"),
}


def _statistic_axis(ax, key: str) -> None:
    """``ax``'s title and y label for the statistic ``key`` of :data:`STATISTICS`."""
    statistic = STATISTICS[key]
    figure.axes_title(ax, statistic.title)
    figure.axis_label(ax, statistic.label)


# Up to this many conv/dense layers, the depth axis names each layer (conv1, fc2: which
# layer the signal fades at); deeper nets' names would overlap, and their ticks count layers.
NAMED_DEPTHS = 12


def plot_depth_profile(variants: list[tuple[str, list[LayerStats]]], out_png,
                       title: str | None = None) -> Path:
    """Activation std (left) and the gradient's norm per input (right; its std where a layer's
    count of values is not known: :func:`_gradient_key`) of each conv/dense layer's output
    against its depth, on a log scale (on a linear one from 0 within a decade:
    :func:`_log_axis_of_stds`),
    one line per ``(label, stats)`` variant in the styles of the learning curves
    (:func:`variant_looks`): a variant whose profile is another's (zeros and ``constant(0)``) is
    drawn over it and says so in the legend; writes a PNG."""
    if not variants:
        raise RunError("nothing to plot: no init variant was measured")
    fig = figure.new_figure(10.0, 4.6)
    act_ax, grad_ax = fig.subplots(1, 2)

    grad_key = _gradient_key(variants)
    drawn = {label: {what: _positive([getattr(s, key) for s in weighted(stats)])
                     for what, key in (("activation", "act_std"), ("gradient", grad_key))}
             for label, stats in variants}
    looks = variant_looks(list(drawn), coinciding({label: list(values.values())
                                                   for label, values in drawn.items()}))
    for label, values in drawn.items():
        notes, style = looks[label]
        for ax, ys in zip((act_ax, grad_ax), values.values()):
            ax.plot(range(1, len(ys) + 1), ys, label=label, **_depth_marks(style, ys))
        looks[label] = (notes + _gap_notes(values), style)
    names = [s.name for s in weighted(variants[0][1])]
    for ax, key in ((act_ax, "act_std"), (grad_ax, grad_key)):
        if len(names) <= NAMED_DEPTHS:
            long = max(map(len, names), default=0) > 5
            ax.set_xticks(range(1, len(names) + 1), names, rotation=30 if long else 0,
                          ha="right" if long else "center")
            figure.axis_label(ax, "conv/dense layer, by depth", "x")
        else:
            figure.whole_numbers(ax)  # depth counts layers
            figure.axis_label(ax, "depth (conv/dense layer)", "x")
        ax.set_xlim(0.5, len(names) + 0.5)  # the same in both panels, drawn or not
        _statistic_axis(ax, key)
        _log_axis_of_stds(ax)
        ax.grid(True, which="both", alpha=0.3)
    # one legend for both panels, under them: inside each, it could cover a variant's line
    _variant_legend(fig, looks)
    if title:
        figure.figure_title(fig, title)
    return figure.save_png(fig, out_png)


def _gradient_key(variants: list[tuple[str, list[LayerStats]]]) -> str:
    """The gradient statistic of the depth profile: the norm per input where every layer
    drawn knows its count of values (``specs/he2015_plain30.cnn`` under He init: a std falling
    13x from its 4x4 maps back to its 62x62 ones, a norm within 1.2x), else the std."""
    known = all(s.values for _, stats in variants for s in weighted(stats))
    return "grad_norm" if known else "grad_std"


# The most markers a variant's line of the depth profile carries: one at every layer of a
# 200-layer net made a thick band of them, in which the lines' styles could not be told apart.
_DEPTH_MARKERS = 25


def _depth_marks(style: dict, ys: list[float]) -> dict:
    """``style`` (:func:`variant_styles`) with a marker at every layer of a shallow net, and
    at every n-th layer of a deep one (:data:`_DEPTH_MARKERS`), of the values ``ys``; and at
    each value between gaps (:func:`cnnspec.render.figure.lone_points`), which only a marker
    shows."""
    every = range(0, len(ys), max(1, math.ceil(len(ys) / _DEPTH_MARKERS)))
    return {**style, "markevery": sorted({*every, *figure.lone_points(ys)})}


# Stds spanning less than this factor stay on a linear axis: a log axis within a decade
# labelled only 1, 2 and 3 under a profile from 1.15 to 2.6.
_LOG_STD_RATIO = 10.0


def _log_axis_of_stds(ax) -> None:
    """``ax`` on a log scale where its lines' values above 0 span :data:`_LOG_STD_RATIO` or
    more, linear from 0 (with ticks enough to read every value) where they span less, so that
    a height read off it is a ratio as the log axis's is (digits' 1.1 to 2.6 drawn from 1.1
    looked like a tenfold rise, not x1.76 from conv1 to fc2); where no
    value is above 0 (every variant's std 0 at every layer: all-zero weights), a panel that
    says so, its log scale having nothing to span."""
    positive = _positive_values(ax)
    if positive and max(positive) / min(positive) < _LOG_STD_RATIO:
        ax.set_ylim(bottom=0)
        return
    if positive:
        figure.log_axis(ax)
        return
    from matplotlib.ticker import NullLocator  # Matplotlib loads only when drawing

    ax.yaxis.set_major_locator(NullLocator())
    ax.text(0.5, 0.5, "0 at every layer under every init:\nnothing to show on a log scale",
            transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.35")


def _gap_notes(values: dict[str, list[float]]) -> list[str]:
    """What a variant's legend says of the gaps in ``values`` (each panel's, by its short name,
    from :func:`_positive`): a variant whose signal is exactly 0 (all-zero weights) would
    otherwise be a legend entry with no line."""
    notes = []
    for what, drawn in values.items():
        gaps = sum(math.isnan(v) for v in drawn)
        if drawn and gaps == len(drawn):
            notes.append(f"{what} 0 at every layer")
        elif gaps:
            notes.append(f"{what} 0 at {gaps} of {len(drawn)} layers")
    return [f"{', '.join(notes)}: not on the log scale"] if notes else []


def plot_learning_curves(curves: dict[str, list[list[dict]]], out_png,
                         title: str | None = None,
                         marked: tuple[str, str, dict[str, list[int]]] | None = None) -> Path:
    """Validation accuracy (left) and training loss (right) per epoch, one line per variant:
    the mean over seeds, with the band between the lowest and highest seed shaded. Each
    variant has its own line style, and one whose curves are another's is drawn over them and
    says so in the legend (:func:`variant_looks`).

    ``curves`` maps a variant label to one list of per-epoch metric dicts per seed.
    ``marked``: what the dots mean (said under the title), what the legend calls a marked
    epoch (``best epoch``) and, per variant label, the epochs to put a dot on its lines at:
    those a table beside the picture reports, which the curves run on past, so that a
    variant's place in the table can be read off its lines. Each variant's dot has its
    marker's shape, and each later variant's is smaller (:func:`_dot_style`), so that the dots
    of curves that coincide or cross stay apart; the legend names each variant's epochs.
    """
    if not curves:
        raise RunError("nothing to plot: no variant finished an epoch")
    fig = figure.new_figure(10.0, 4.2)
    acc_ax, loss_ax = fig.subplots(1, 2)
    looks = _curve_looks([curves], (VAL_ACC, TRAIN_LOSS))
    meaning, named, epochs = marked or ("", "", {})
    for index, (label, runs) in enumerate(curves.items()):
        dot = _dot_style(looks[label][1], index)
        for ax, key in ((acc_ax, VAL_ACC), (loss_ax, TRAIN_LOSS)):
            _band(ax, runs, key, label, looks[label][1], epochs.get(label, ()), dot)
    _epoch_axes(acc_ax, VAL_ACC, TITLES[VAL_ACC])
    _epoch_axes(loss_ax, TRAIN_LOSS, TITLES[TRAIN_LOSS])
    _unfinished_notes(looks, {"": curves})
    _marked_notes(looks, named, epochs)
    _variant_legend(fig, looks)
    _title(fig, title, [curves], meaning if any(epochs.values()) else "")
    return figure.save_png(fig, out_png)


# The dot on a variant's lines at a marked epoch: the first variant's this size, each later
# one's smaller by a step down to the smallest, still larger than a line's markers. Two
# variants of identical curves drew one dot over the other, of one size and shape, and the
# first was lost; nested, the earlier dot shows as a ring around the later one.
_DOT_SIZE, _DOT_STEP, _DOT_SMALLEST = 16.0, 5.0, 6.0


def _dot_style(style: dict, index: int) -> dict:
    """The Matplotlib properties of the dots of the variant drawn ``index``-th in ``style``
    (:func:`variant_styles`): its colour and marker's shape, edged in black so a dot shows on
    a line of its own colour, drawn over every line."""
    return {"linestyle": "none", "marker": style["marker"], "color": style["color"],
            "markersize": max(_DOT_SMALLEST, _DOT_SIZE - _DOT_STEP * index),
            "markeredgewidth": 1.0, "markeredgecolor": "black", "zorder": 5}


def _marked_notes(looks: dict[str, tuple[list[str], dict]], named: str,
                  epochs: dict[str, list[int]]) -> None:
    """Note in ``looks`` each variant's marked ``epochs`` as the legend says them, ``best
    epoch 7`` or ``best epochs 5, 7`` (``named`` the marks' name): a dot hidden under another
    is still told."""
    for label, (notes, _) in looks.items():
        marks = epochs.get(label, ())
        if marks:
            plural = "s" if len(marks) > 1 else ""
            notes.append(f"{named}{plural} {', '.join(map(str, marks))}")


def variant_looks(labels: list[str], same: dict[str, str]) -> dict[str, tuple[list[str], dict]]:
    """Each variant's notes for the legend and its style (:func:`variant_styles`), in the
    order of ``labels``: "same curves as X" where its lines are another's (``same``, from
    :func:`coinciding`), drawn over them, where they were one line with two names. Every
    picture that draws variants side by side (learning curves, depth profiles) reads its
    looks here, and names them with :func:`_variant_legend`."""
    styles = variant_styles(labels, same)
    return {label: ([f"same curves as {same[label]}"] if label in same else [], styles[label])
            for label in labels}


def _curve_looks(curves_list: list[dict[str, list[list[dict]]]],
                 keys: tuple[str, ...]) -> dict[str, tuple[list[str], dict]]:
    """:func:`variant_looks` of the variants of every comparison of ``curves_list``, their
    curves of ``keys`` compared (:func:`same_curves`)."""
    return variant_looks(_variant_labels(curves_list), same_curves(curves_list, keys))


def _variant_legend(fig, looks: dict[str, tuple[list[str], dict]]) -> None:
    """One legend under the panels of ``fig`` naming every variant of ``looks`` once, in its
    style, with its notes: every panel draws the same variants in the same styles, and a
    legend read off one panel left out the variants that panel does not draw. A variant with
    nothing drawn anywhere (no epoch finished) is named beside a cross in its colour. Inside
    a panel the legend covered the middle of the accuracy panel, where a slow variant's line
    runs."""
    from matplotlib.lines import Line2D  # Matplotlib loads only when drawing

    handles, labels = [], []
    for label, (notes, style) in looks.items():
        if NOTHING_DRAWN in notes:
            handles.append(Line2D([], [], marker="x", linestyle="none", color=style["color"]))
            labels.append(f"{label}: {NOTHING_DRAWN}")
        else:
            handles.append(Line2D([], [], **style))
            labels.append(f"{label} ({'; '.join(notes)})" if notes else label)
    figure.legend_of(fig, handles, labels, LEGEND_COLUMNS)


# The note of a variant of which no picture draws anything: every run of it blew up in its
# first epoch.
NOTHING_DRAWN = "no epoch finished"


def _unfinished_notes(looks: dict[str, tuple[list[str], dict]],
                      panels: dict[str, dict[str, list[list[dict]]]]) -> None:
    """Note in ``looks`` each variant that finished no epoch in some comparison of ``panels``
    (by its name): in all it appears in, :data:`NOTHING_DRAWN`; in some, which."""
    for label, (notes, style) in looks.items():
        missing = [panel for panel, curves in panels.items()
                   if label in curves and not any(curves[label])]
        if len(missing) == sum(label in curves for curves in panels.values()):
            notes.append(NOTHING_DRAWN)
        elif missing:
            notes.append(f"{NOTHING_DRAWN} in {', '.join(missing)}")


def _variant_labels(curves_list: list[dict[str, list[list[dict]]]]) -> list[str]:
    """The variants of every comparison of ``curves_list``, each once, in their order."""
    return list(dict.fromkeys(label for curves in curves_list for label in curves))


# How near two curves are to be drawn as one: a thousandth of their values.
SAME_WITHIN = 1e-3


def same_curves(curves_list: list[dict[str, list[list[dict]]]],
                keys: tuple[str, ...]) -> dict[str, str]:
    """The variants whose drawn curves (the mean over their runs of each metric of ``keys``,
    in every comparison of ``curves_list``) are those of a variant before them, each mapped to
    the first such (:func:`coinciding`)."""
    return coinciding({label: [_mean_curve(curves.get(label, []), key)[1]
                               for curves in curves_list for key in keys]
                       for label in _variant_labels(curves_list)})


def coinciding(drawn: dict[str, list[list[float]]]) -> dict[str, str]:
    """The variants of ``drawn`` (each label's lines, as drawn: NaN a gap) whose every line is
    that of a variant before them, each mapped to the first such: equal within
    :data:`SAME_WITHIN`, under a pixel apart as drawn. A variant with nothing drawn (only
    gaps) coincides with none."""
    labels = list(drawn)
    found: dict[str, str] = {}
    for later, label in enumerate(labels):
        mine = drawn[label]
        if not any(np.isfinite(v).any() for v in map(np.asarray, mine) if len(v)):
            continue  # nothing drawn to coincide
        for other in labels[:later]:
            theirs = drawn[other]
            if other not in found and len(mine) == len(theirs) and all(
                    len(a) == len(b) and np.allclose(a, b, rtol=SAME_WITHIN, atol=1e-9,
                                                     equal_nan=True)
                    for a, b in zip(mine, theirs)):
                found[label] = other
                break
    return found


# The line styles of the variants of a comparison, beside their colours: solid, dashed, dotted
# and dash-dotted in turn, and a marker of their own, so that curves running close stay apart.
# The markers turn on a period of their own, one longer than the dashes': the fifth variant
# of compare's five inits took the first's solid line and circle (told apart by blue against
# purple alone); now no two of the first 20 share both.
_DASHES = ("-", (0, (6, 2)), (0, (1.5, 1.5)), (0, (6, 2, 1.5, 2)))
_MARKERS = ("o", "s", "^", "D", "v")
_WIDTH, _MARKER_SIZE = 1.8, 4.5
# A variant whose curves are another's (two inits that both stay at chance draw the same
# curves, and the second hid the first) is drawn over them thinner, with a smaller marker and
# in dashes, the other's colour showing at its sides, around its markers and in its gaps; the
# next such copy thinner again.
_COPY_DASHES = (0, (3, 2))
_COPY_SHRINK = 0.6


def variant_styles(labels: list[str], same: dict[str, str]) -> dict[str, dict]:
    """The colour, line style and marker (Matplotlib line properties) of each variant of
    ``labels``, in their order; those in ``same`` (:func:`same_curves`) drawn over the curves
    they share. Every picture that draws variants side by side draws them so."""
    styles: dict[str, dict] = {}
    for index, label in enumerate(labels):
        style = {"color": f"C{index % 10}", "linestyle": _DASHES[index % len(_DASHES)],
                 "linewidth": _WIDTH, "marker": _MARKERS[index % len(_MARKERS)],
                 "markersize": _MARKER_SIZE}
        if label in same:
            first = same[label]
            copies = 1 + sum(same.get(before) == first for before in labels[:index])
            shrink = _COPY_SHRINK ** copies
            style.update(linestyle=_COPY_DASHES, linewidth=_WIDTH * shrink,
                         markersize=_MARKER_SIZE * shrink)
        styles[label] = style
    return styles


# Variants per row of the legend under the variants' panels at most: a sweep's
# "init=normal(0, 0.01), lr=0.01" fits the figure's width three to a row (longer labels, with
# their notes, take fewer: :func:`cnnspec.render.figure.legend_of`).
LEGEND_COLUMNS = 3


def band_note(curves_list: list[dict[str, list[list[dict]]]]) -> str:
    """What the lines and the shading of :func:`_band` are, for a picture's title: empty when
    every variant has one run (no band to explain)."""
    runs = max((len(r) for curves in curves_list for r in curves.values()), default=0)
    if runs < 2:
        return ""
    return (f"lines: the mean of {runs} runs each (one per seed or fold); shaded: from the "
            "lowest run to the highest")


def _title(fig, title: str | None, curves_list: list[dict[str, list[list[dict]]]],
           marks: str = "") -> None:
    """The figure's title, with the :func:`band_note` and what the dots ``marks`` under it."""
    lines = [line for line in (title, band_note(curves_list), marks) if line]
    if lines:
        figure.figure_title(fig, "\n".join(lines))


# A loss spanning less than this factor stays on a linear axis: a log axis holds no tick
# between 1 and 2, and plain30's losses from 1.30 to 1.39 were drawn between those two alone.
_LOG_LOSS_RATIO = 2.0


def _epoch_axes(ax, key: str, title: str) -> None:
    """An axis of a per-epoch metric: whole epochs along x; a loss on a log scale where it
    spans :data:`_LOG_LOSS_RATIO` or more (linear where it spans less), an accuracy from 0
    to 1 (the legend is the figure's: :func:`_variant_legend`)."""
    figure.whole_numbers(ax)
    low, high = ax.get_xlim()
    if high - low < 2:  # one or two epochs: whole epochs, not ticks at 0.96, 0.98, ...
        ax.set_xlim(0.5, max(1, round(high)) + 0.5)
    figure.axis_label(ax, "epoch", "x")
    figure.axis_label(ax, TITLES.get(key, key))
    # every variant may have diverged before its first epoch ended, leaving only the
    # legend's markers: a log axis of no point cannot be drawn
    positive = _positive_values(ax)
    if key.endswith("loss") and positive:
        if max(positive) / min(positive) >= _LOG_LOSS_RATIO:
            figure.log_axis(ax)
    else:
        figure.share_axis(ax)
    figure.axes_title(ax, title)
    ax.grid(True, which="both", alpha=0.3)


def _positive_values(ax) -> list[float]:
    """The finite values above 0 of ``ax``'s lines."""
    return [v for line in ax.get_lines() for v in map(float, line.get_ydata())
            if math.isfinite(v) and v > 0]


def _mean_curve(runs: list[list[dict]], key: str):
    """The epochs (1, 2, ...) and, per epoch, the mean, lowest and highest of ``key`` over
    ``runs`` (NaN at an epoch where no run has a finite value)."""
    length = max((len(run) for run in runs), default=0)
    epochs, means, lows, highs = [], [], [], []
    for e in range(length):
        values = [run[e].get(key) for run in runs if e < len(run)]
        values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        epochs.append(e + 1)
        means.append(sum(values) / len(values) if values else math.nan)
        lows.append(min(values) if values else math.nan)
        highs.append(max(values) if values else math.nan)
    return epochs, means, lows, highs


def _band(ax, runs: list[list[dict]], key: str, label: str, style: dict,
          marked=(), dot: dict | None = None) -> None:
    """Mean of ``key`` over the seeds' runs per epoch, and the min..max band around it, drawn
    in ``style`` (:func:`variant_styles`) as the variant ``label``, with a dot (``dot``, of
    :func:`_dot_style`) on the mean at each epoch of ``marked``; nothing where every run blew
    up in its first epoch (the legend says so: :func:`_unfinished_notes`)."""
    epochs, means, lows, highs = _mean_curve(runs, key)
    if not epochs:
        return
    ax.plot(epochs, means, label=label, **style)
    dots = [epoch for epoch in marked if epoch in epochs]
    if dots:
        ax.plot(dots, [means[epoch - 1] for epoch in dots], **dot)
    if len(runs) > 1:
        ax.fill_between(epochs, lows, highs, color=style["color"], alpha=0.15, linewidth=0)


def plot_training_stats(records: list[dict], out_png, title: str | None = None) -> Path:
    """Per-layer statistics against the training step: activation std and gradient std of each
    conv/dense layer (log scale), and the share of dead units of each ReLU (a panel left out
    where the network has no ReLU); one line per layer, coloured from shallow (light) to deep
    (dark), a ReLU as the layer before it, and one legend under the panels.

    ``records`` are the lines of a run's ``stats.jsonl``: ``{"step": s, "layers": [...]}``
    with one :class:`LayerStats` dict per layer.
    """
    if not records:
        raise WordedError("no statistics to plot: no step was recorded",
                          hint="use a {stats_every} interval smaller than the number of steps")
    steps = [r["step"] for r in records]
    layers = records[0]["layers"]
    weighted_names = [row["name"] for row in layers if is_weighted(row["kind"])]
    relu_names = [row["name"] for row in layers if row.get("dead_frac") is not None]
    panels = [("act_std", weighted_names), ("grad_std", weighted_names)]
    if relu_names:  # a tanh net's dead-units panel was an empty frame from 0 to 1
        panels.append(("dead_frac", relu_names))
    depth = _depths(layers)
    fig = figure.new_figure(_STATS_PANEL_INCHES * len(panels), 4.6)
    for ax, (key, names) in zip(fig.subplots(1, len(panels)), panels):
        _per_layer_lines(ax, records, steps, names, depth, key)
        figure.whole_numbers(ax)  # no "step 2.5"
        figure.axis_label(ax, "training step", "x")
        _statistic_axis(ax, key)
        ax.grid(True, which="both", alpha=0.3)
    _layer_legend(fig, fig.axes[0], relu_names)
    if title:
        figure.figure_title(fig, title)
    return figure.save_png(fig, out_png)


# The width of a panel of the training statistics, in inches.
_STATS_PANEL_INCHES = 4.7
# Up to this many layers each gets a legend entry, in rows of :data:`_LEGEND_ROW`; a deeper
# net names its first and last only (the colours between run from one to the other).
_FULL_LEGEND = 16
_LEGEND_ROW = 8


def _layer_legend(fig, ax, relu_names: list[str]) -> None:
    """The legend of the conv/dense layers' lines of ``ax``, once under the panels (inside
    each panel, it covered the lines of the first steps), saying how a ReLU's line is
    coloured when there are ReLUs."""
    count = len(ax.get_legend_handles_labels()[0])
    keep = range(count) if count <= _FULL_LEGEND else (0, count - 1)
    title = ("conv/dense layer, shallow to deep" + (" (a ReLU: the layer before it)"
                                                    if relu_names else ""))
    figure.legend_below(fig, ax, _LEGEND_ROW, keep=keep, title=title)


def _depths(layers: list[dict]) -> dict[str, float]:
    """Each layer's depth in [0, 1], its line's colour: a conv/dense layer's place among them
    (0 the first, 1 the last), any other layer's that of the conv/dense layer before it. One
    scale for the three panels, so that a ReLU's line has its conv's colour (counted among
    the ReLUs alone, the last ReLU took the colour of the output layer of the other panels)."""
    names = [row["name"] for row in layers if is_weighted(row["kind"])]
    # A mapping made once: a list's ``in`` and ``index`` in the loop made it quadratic.
    place = {name: i / max(len(names) - 1, 1) for i, name in enumerate(names)}
    depth, last = {}, 0.0
    for row in layers:
        last = place.get(row["name"], last)
        depth[row["name"]] = last
    return depth


def _per_layer_lines(ax, records, steps, names: list[str], depth: dict[str, float],
                     key: str) -> None:
    """One line of statistic ``key`` per layer of ``names`` against the step, on a log axis
    but for the dead units' share (percent); a marker at each value between gaps, and at the
    one value of a run that recorded one step (:func:`cnnspec.render.figure.lone_points`),
    which a line alone would not show."""
    from matplotlib import colormaps  # Matplotlib loads only when drawing

    cmap = colormaps["viridis"]
    log = key != "dead_frac"
    for name in names:
        colour = cmap(0.9 * (1.0 - depth[name]))
        values = [_row(r, name).get(key) for r in records]
        ys = _positive(values) if log else _floats(values)
        lone = figure.lone_points(ys)
        # no marker where none is drawn: the legend would show every line with a dot
        ax.plot(steps, ys, color=colour, label=name, marker="o" if lone else None,
                markersize=4, markevery=lone or None)
    if log:
        figure.log_axis(ax)
    else:
        figure.share_axis(ax)


def _floats(values: list[float | None]) -> list[float]:
    return [float(v) if v is not None else math.nan for v in values]


def _row(record: dict, name: str) -> dict:
    for row in record["layers"]:
        if row["name"] == name:
            return row
    return {}


def plot_curve_panels(panels: dict[str, dict[str, list[list[dict]]]], out_png,
                      keys: tuple[str, ...] = (VAL_ACC, TRAIN_LOSS),
                      title: str | None = None) -> Path:
    """One column per comparison (say, one per depth) and one row per metric in ``keys``, each
    with one line per variant: the metric per epoch, the mean over seeds and the min..max band
    of the seeds, as :func:`plot_learning_curves` draws it. A variant keeps its colour and
    line style in every panel, so the columns read as He et al. 2015's Figs. 2 and 3 side by
    side (the 22- and the 30-layer net, each under two inits).

    ``panels`` maps a column title to the ``curves`` of :func:`plot_learning_curves`.
    """
    if not panels:
        raise RunError("nothing to plot: no comparison was given")
    fig = figure.new_figure(4.6 * len(panels), 3.4 * len(keys))
    grid = fig.subplots(len(keys), len(panels), squeeze=False)
    looks = _curve_looks(list(panels.values()), keys)
    for column, (panel, curves) in enumerate(panels.items()):
        for row, key in enumerate(keys):
            ax = grid[row][column]
            for label, runs in curves.items():
                _band(ax, runs, key, label, looks[label][1])
            _epoch_axes(ax, key, f"{panel}: {TITLES.get(key, key)}")
    _unfinished_notes(looks, panels)
    _variant_legend(fig, looks)
    _title(fig, title, list(panels.values()))
    return figure.save_png(fig, out_png)
