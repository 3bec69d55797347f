"""The pictures of a sweep: validation accuracy against each swept setting, and the learning
curves of each group (mean over its seeds and folds, the band between the lowest and the
highest; :func:`cnnspec.lab.plots.plot_learning_curves`)."""
from __future__ import annotations

import itertools
import math
from pathlib import Path

from cnnspec.errors import RunError
from cnnspec.ir.training_catalogue import written_number
from cnnspec.lab.plots import plot_learning_curves, variant_styles
from cnnspec.render import figure
from cnnspec.sweep.results import REPORTED_DOTS, REPORTED_EPOCH, Group, curve_label, mean_std

# Numbers spanning at least this factor (learning rates 0.1 to 0.001) sit on a log axis, where
# each decade takes the same room; on a linear one the small values crowd at its left end.
_LOG_RATIO = 10.0
# How far apart, in points, the lines of one panel are drawn at each value, so that runs of
# the same value under other settings do not hide one another's dots.
_DODGE_POINTS = 4.0
# The room left beyond the lowest and the highest number swept, a share of their span (set by
# hand: the dots are drawn shifted, which Matplotlib's own margins do not follow).
_MARGIN = 0.15


def plot_accuracy_by_setting(rows: list[Group], axes: list[tuple[str, list[str]]],
                             out_png, title: str | None = None) -> Path:
    """One panel per swept setting (``axes``: key and its values in the order given): the
    validation accuracy of every run at each value (dots) and their mean (line), numbers in
    their order by value (here and in the legends; on a log axis where they span a decade or
    more), names in the order given. Where other settings are swept too, each panel draws one
    line per combination of their values (:func:`_split_looks`), named in a legend under the
    panel: the mean over all of them hid an init that failed at every learning rate under one
    that worked. The accuracy axis starts below the lowest run where the runs leave most of it
    empty (:func:`cnnspec.render.figure.share_axis`), its label saying so. ``title`` above the
    panels."""
    if not axes:
        raise RunError("nothing to plot: no setting was swept")
    axes = [(key, _in_order(values)) for key, values in axes]
    accuracies = [r.val_acc for g in rows for _, r in g.cells if r.val_acc is not None]
    fig = figure.new_figure(4.0 * len(axes), 3.6 + 0.4 * _legend_rows(axes))
    panels = fig.subplots(1, len(axes), squeeze=False)[0]
    for ax, (key, values) in zip(panels, axes):
        others = [(k, v) for k, v in axes if k != key]
        positions = _setting_axis(ax, values)
        split = _split_by(rows, others)
        looks, legend = _split_looks(others, list(split))
        for index, (combination, groups) in enumerate(split.items()):
            dodge = (index - (len(split) - 1) / 2) * _DODGE_POINTS
            _runs_and_mean(ax, groups, key, values, positions, dodge, looks.get(combination))
        # zoomed to the runs: inits at 95.8% and 97.6% were one dot on an axis from 0
        bottom = figure.share_axis(ax, accuracies or None)
        figure.axis_label(ax, key, "x")
        figure.axis_label(ax, figure.share_axis_text("validation accuracy", bottom))
        ax.grid(True, alpha=0.3)
        if legend:
            _panel_legend(ax, *zip(*legend))
    if len(axes) == 1:  # one line: one legend under the panel, hiding no run
        figure.legend_below(fig, panels[0], columns=2)
    if title:
        figure.figure_title(fig, title)
    return figure.save_png(fig, out_png)


def _in_order(values: list[str]) -> list[str]:
    """``values`` by the numbers they write, where each writes another; else as given."""
    numbers = _distinct_numbers(values)
    return values if numbers is None else [v for _, v in sorted(zip(numbers, values))]


def _distinct_numbers(values: list[str]) -> list[int | float] | None:
    """The number each of ``values`` writes, or None where one writes none or two the same
    (``0.1`` and ``0.10``: at one place on an axis)."""
    numbers = [written_number(v) for v in values]
    return None if None in numbers or len(set(numbers)) < len(numbers) else numbers


def _setting_axis(ax, values: list[str]) -> list[float]:
    """The x position of each of ``values`` on ``ax``, its ticks labelled with them as written:
    numbers at their values (a log axis where they span :data:`_LOG_RATIO` or more, all
    above 0), anything else (names, or numbers written twice) at 0, 1, ... in the order
    given."""
    numbers = _distinct_numbers(values)
    if numbers is None:
        ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_xticks(range(len(values)), values, rotation=20, fontsize=8)
        return list(range(len(values)))
    positions = [float(n) for n in numbers]
    low, high = min(positions), max(positions)
    if low > 0 and high / low >= _LOG_RATIO:
        from matplotlib.ticker import NullLocator  # Matplotlib loads only when drawing

        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())  # the values swept are the ticks
        pad = _MARGIN * math.log10(high / low)
        ax.set_xlim(low / 10 ** pad, high * 10 ** pad)
    else:
        pad = _MARGIN * ((high - low) or abs(high) or 1.0)
        ax.set_xlim(low - pad, high + pad)
    ax.set_xticks(positions, values, rotation=20, fontsize=8)
    return positions


def _split_by(rows: list[Group],
              others: list[tuple[str, list[str]]]) -> dict[tuple[str, ...], list[Group]]:
    """``rows`` by their values of the ``others`` settings, one entry per combination of
    values that has a group, in the order of the values; all of ``rows`` under ``()`` where
    there are no others."""
    split: dict[tuple[str, ...], list[Group]] = {}
    for combination in itertools.product(*(values for _, values in others)):
        groups = [g for g in rows
                  if all(g.settings.get(k) == v for (k, _), v in zip(others, combination))]
        if groups:
            split[combination] = groups
    return split


def _split_looks(others: list[tuple[str, list[str]]], combinations: list[tuple[str, ...]]):
    """The line style (and name) of each combination of the ``others`` settings' values, and the
    legend
    that names them, ``(handle, label)`` pairs. One other setting: a look per value (as the
    learning curves draw variants, :func:`variant_styles`), its lines in the legend. More:
    the first setting's value sets the colour and the dashes, the rest's the marker, and the
    legend names each value once (3 inits x 2 batch sizes: 5 entries, where naming the 6
    combinations ran the legends of neighbouring panels into each other). None and no legend
    where no other setting was swept."""
    if not others:
        return {}, []
    from matplotlib.lines import Line2D  # Matplotlib loads only when drawing

    first = variant_styles([_named(others[0][0], v) for v in others[0][1]], {})
    rest_keys = [key for key, _ in others[1:]]
    rest = variant_styles(list(dict.fromkeys(_named_all(rest_keys, c[1:])
                                             for c in combinations)), {})
    looks = {c: {**first[_named(others[0][0], c[0])],
                 "label": _named_all([key for key, _ in others], c),
                 **({"marker": rest[_named_all(rest_keys, c[1:])]["marker"]} if rest_keys
                    else {})} for c in combinations}
    shown_first = dict.fromkeys(_named(others[0][0], c[0]) for c in combinations)
    if not rest_keys:
        legend = [(Line2D([], [], **first[label]), label) for label in shown_first]
    else:
        legend = ([(Line2D([], [], **{**first[label], "marker": "none"}), label)
                   for label in shown_first]
                  + [(Line2D([], [], color=_NEUTRAL, marker=style["marker"], linestyle="none"),
                      label) for label, style in rest.items()])
    return looks, legend


# The colour of a legend's markers that stand for a setting's value whatever the line's colour.
_NEUTRAL = "0.35"


def _named(key: str, value: str) -> str:
    return f"{key}={value}"


def _named_all(keys: list[str], values: tuple[str, ...]) -> str:
    return ", ".join(_named(k, v) for k, v in zip(keys, values))


def _runs_and_mean(ax, groups: list[Group], key: str, values: list[str],
                   positions: list[float], dodge: float, look: dict | None) -> None:
    """The runs of ``groups`` at each of ``values`` (dots) and their means (a line through
    numbers; markers alone between names, where a line would read as values in between,
    which there are none of), drawn ``dodge`` points to the right in ``look``; without a
    look, in the two colours of the one legend that names "a run" and "mean of the runs"."""
    from matplotlib.transforms import ScaledTranslation  # Matplotlib loads only when drawing

    shift = ax.transData + ScaledTranslation(dodge / 72, 0, ax.figure.dpi_scale_trans)
    means = []
    for x, value in zip(positions, values):
        accs = [r.val_acc for g in groups if g.settings.get(key) == value
                for _, r in g.cells if r.val_acc is not None]
        # above the line: a value's one run is its mean too, and under the mean's marker
        # the legend's "a run" named a dot no one could see
        ax.scatter([x] * len(accs), accs, s=14, alpha=0.5, zorder=3, transform=shift,
                   color=look["color"] if look else "C0",
                   label="a run" if x == positions[0] and not look else None)
        means.append(mean_std(accs)[0])
    shown = [(x, m) for x, m in zip(positions, means) if not math.isnan(m)]
    if not shown:
        return
    numbers = all(written_number(v) is not None for v in values)
    look = ({**look, "linestyle": look["linestyle"] if numbers else "none"} if look
            else {"color": "C1", "marker": "o", "linestyle": "-" if numbers else "none",
                  "label": "mean of the runs"})
    ax.plot(*zip(*shown), transform=shift, **look)


# A panel's legend: at most two entries to a row.
_PANEL_LEGEND_COLUMNS = 2


def _panel_legend(ax, handles, labels) -> None:
    """The legend of a panel's lines, under it (where it hides no run), in as many columns
    as fit the panel's width."""
    room = ax.figure.get_figwidth() / len(ax.figure.axes) - 2 * figure.TITLE_MARGIN_INCHES
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.3),
              ncol=figure.legend_columns(list(labels), _PANEL_LEGEND_COLUMNS, room),
              fontsize=figure.LEGEND_POINTS, frameon=False,
              title="mean of the runs (dots) with", title_fontsize=figure.LEGEND_POINTS)


def _legend_rows(axes: list[tuple[str, list[str]]]) -> int:
    """The rows of the tallest panel legend, two entries to a row at most: the values of the
    other settings (:func:`_split_looks`)."""
    others = [[len(v) for k, v in axes if k != key] for key, _ in axes]
    return max((math.ceil((o[0] + math.prod(o[1:]) * (len(o) > 1)) / _PANEL_LEGEND_COLUMNS)
                for o in others if o), default=0)


def plot_group_curves(rows: list[Group], out_png, title: str | None = None) -> Path:
    """Learning curves, one line per group (diverged runs said in the legend), a dot at the
    epochs its row of the table reports."""
    labels = [curve_label(g.label, g.diverged, len(g.cells)) for g in rows]
    curves = {label: g.curves() for label, g in zip(labels, rows)}
    marked = (REPORTED_DOTS, REPORTED_EPOCH, {label: g.reported for label, g in zip(labels, rows)})
    return plot_learning_curves(curves, out_png, title=title, marked=marked)
