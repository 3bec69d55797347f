"""The pictures of a sweep: validation accuracy against each swept setting, and the learning
curves of each group (mean over its seeds and folds, the band between the lowest and the
highest; :func:`cnnspec.lab.plots.plot_learning_curves`)."""
from __future__ import annotations

import math
from pathlib import Path

from cnnspec.errors import RunError
from cnnspec.ir.training_catalogue import written_number
from cnnspec.lab.plots import plot_learning_curves
from cnnspec.render import figure
from cnnspec.sweep.results import Group, curve_label, mean_std


def plot_accuracy_by_setting(rows: list[Group], axes: list[tuple[str, list[str]]],
                             out_png, title: str | None = None) -> Path:
    """One panel per swept setting (``axes``: key and its values in the order given): the
    validation accuracy of every run at each value (dots) and their mean (line), both in the
    legend; ``title`` above the panels."""
    if not axes:
        raise RunError("nothing to plot: no setting was swept")
    fig = figure.new_figure(4.0 * len(axes), 3.6)
    panels = fig.subplots(1, len(axes), squeeze=False)[0]
    for ax, (key, values) in zip(panels, axes):
        means = []
        for x, value in enumerate(values):
            accs = [r.val_acc for g in rows if g.settings.get(key) == value
                    for _, r in g.cells if r.val_acc is not None]
            # above the line: a value's one run is its mean too, and under the mean's marker
            # the legend's "a run" named a dot no one could see
            ax.scatter([x] * len(accs), accs, s=14, alpha=0.5, color="C0", zorder=3,
                       label="a run" if x == 0 else None)
            means.append(mean_std(accs)[0])
        shown = [(x, m) for x, m in enumerate(means) if not math.isnan(m)]
        if shown:
            # a line between numbers shows a trend; between names (inits, optimizers) it
            # would read as values in between, which there are none of
            ax.plot(*zip(*shown), color="C1", marker="o", label="mean of the runs",
                    linestyle="-" if all(written_number(v) is not None for v in values)
                    else "none")
        ax.set_xticks(range(len(values)), values, rotation=20, fontsize=8)
        ax.set_xlim(-0.5, len(values) - 0.5)
        figure.share_axis(ax)
        figure.axis_label(ax, key, "x")
        figure.axis_label(ax, "validation accuracy")
        ax.grid(True, alpha=0.3)
    # one legend for every panel (they draw alike), under them, where it hides no run
    figure.legend_below(fig, panels[0], columns=2)
    if title:
        figure.figure_title(fig, title)
    return figure.save_png(fig, out_png)


def plot_group_curves(rows: list[Group], out_png, title: str | None = None) -> Path:
    """Learning curves, one line per group (diverged runs said in the legend)."""
    curves = {curve_label(g.label, g.diverged, len(g.cells)): g.curves() for g in rows}
    return plot_learning_curves(curves, out_png, title=title)
