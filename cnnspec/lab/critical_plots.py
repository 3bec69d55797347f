"""Pictures of critical initialisation: the phase diagram (``init-report --phase``) and the
singular values of the input-output Jacobian (``init-report --jacobian``). Matplotlib (Agg)
through :mod:`cnnspec.render.figure`, imported when a picture is drawn."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cnnspec.errors import counted, rounded_text
from cnnspec.render import figure
from cnnspec.render.placement import place_labels


def plot_phase(report, out_png) -> Path:
    """Heat map of the depth scale ``xi_c`` (log colour) over ``(sigma_w, sigma_b)`` with the
    critical line ``chi_1 = 1`` of the theory, the boundary measured on the network, the
    measured points (circle: ordered, triangle: chaotic or growing, by the measured ``chi_1``)
    and the named inits, numbered beside their stars where the numbers cover nothing drawn
    (:func:`cnnspec.render.placement.place_labels`) and named in a key beside the map. Where ``q*``
    does not exist the map is grey, and the theory's line there is the edge of that region, on which
    ``chi_1`` tends to 1 (ReLU with biases), so its label names both neighbours. ``sigma_w`` is the
    one the net sees (the zero padding's share counted, :mod:`cnnspec.lab.phase`): inits and
    measured points are drawn there, and the measurement's and the theory's lines meet where they
    agree."""
    from matplotlib.colors import LogNorm
    from matplotlib.patheffects import Normal, Stroke

    fig = figure.new_figure(11.0, 5.6)
    # the map, its colour bar, and the key of the named inits beside them (the layout widens
    # the key's column to its text)
    ax, key_ax = fig.subplots(1, 2, width_ratios=(6, 1))
    sw, sb = np.asarray(report.sigma_w), np.asarray(report.sigma_b)
    # q* exists where chi_1 does (the report holds NaN for both elsewhere); xi_c is NaN there
    # too, and also where it is infinite, on the critical line itself (tanh at sigma_w 1,
    # sigma_b 0), which is the top of the colours, not the grey of no fixed point
    bounded = np.isfinite(np.asarray(report.chi_1, float))
    xi = np.asarray(report.xi_c, float)
    upper = max(10.0 * report.depth, 100.0)
    xi = np.where(bounded & ~np.isfinite(xi), upper, xi)
    xi = np.where(np.isfinite(xi) & (xi > 0), xi, np.nan)
    mesh = ax.pcolormesh(sw, sb, np.clip(xi, 0.3, upper), shading="nearest", cmap="viridis",
                         norm=LogNorm(vmin=0.3, vmax=upper))
    fig.colorbar(mesh, ax=ax, label=f"depth scale ξ_c (layers), theory{figure.LOG_NOTE}")
    unbounded = not bounded.all()
    if unbounded:  # e.g. ReLU past sigma_w^2 = 2: the variance map has no fixed point
        ax.set_facecolor("#c8c8c8")
        ax.fill_between([], [], color="#c8c8c8",  # drawn nowhere: its entry in the legend
                        label="no fixed point q*: the signal grows without bound")
    if report.boundary:
        b, w = zip(*report.boundary)
        # white on the dark map, edged in black to show on the light grey and in the legend
        beyond = "chaos or no fixed point" if unbounded else "chaos"
        ax.plot(w, b, color="white", lw=2.2, label=f"χ₁ = 1, theory (order | {beyond})",
                path_effects=[Stroke(linewidth=3.4, foreground="black"), Normal()])
    if report.measured_boundary:
        b, w = zip(*report.measured_boundary)
        ax.plot(w, b, color="orange", lw=2, ls="--", marker="s", ms=4,
                label="χ₁ = 1, measured on this network")
    for p in report.measured:
        chaotic = np.isfinite(p.chi_1) and p.chi_1 > 1
        # above the axes' frame (zorder 2.5), which cut the markers on its edges in half, and
        # above the inits' stars, which sit on the same sigma_b = 0 edge and hid them
        ax.scatter(p.net_sigma_w, p.sigma_b, marker="^" if chaotic else "o", s=22,
                   facecolor="orange" if chaotic else "none", edgecolor="orange", lw=1,
                   clip_on=False, zorder=6)
    ax.scatter([], [], marker="o", facecolor="none", edgecolor="orange",
               label="measured χ₁ < 1 (ordered)")
    # in the grey region chi_1 > 1 measures a signal that grows, not chaos (c* there is 1)
    ax.scatter([], [], marker="^", color="orange",
               label="measured χ₁ > 1 (chaotic; in grey: growing)" if unbounded
               else "measured χ₁ > 1 (chaotic)")
    # The named inits, left to right, each numbered on the map and named in a key beside it:
    # their names, at their places, covered the lines and markers around them, and the
    # leader lines of four inits within a tenth of sigma_w crossed one another's labels.
    inits = sorted(report.inits, key=lambda p: (p.net_sigma_w, p.sigma_w))
    # an init beyond the map's widest span is marked at its right edge (the key names its
    # sigma_w)
    places = [(min(p.net_sigma_w, sw[-1]), p.sigma_b) for p in inits]
    for p, (x, y) in zip(inits, places):
        ax.scatter(x, y, marker=">" if p.net_sigma_w > sw[-1] else "*", s=INIT_MARKER_SIZE,
                   color="red", edgecolor="black", zorder=5, clip_on=False)
    # on a padded net the x axis is the sigma_w the net sees, sqrt(share) times the drawn one
    share = rounded_text(report.share, 2)
    figure.axis_label(ax, "σ_w on this network  (weight variance = σ_w² / "
                      + (f"({share} · fan_in), {share} the zero padding's share)"
                         if report.share < 1 else "fan_in)"), "x")
    figure.axis_label(ax, "σ_b  (bias std)")
    # The heat map's whole cells: "nearest" shading centres a cell on each grid point, so the
    # axes reach half a cell beyond the outer points, and the measured points on the grid's
    # edges (the measured span's ends are the theory's) are drawn whole inside the frame.
    half_w, half_b = (sw[1] - sw[0]) / 2, (sb[1] - sb[0]) / 2
    ax.set_xlim(sw[0] - half_w, sw[-1] + half_w)
    ax.set_ylim(sb[0] - half_b, sb[-1] + half_b)
    # under the map: inside it, the legends hid measured points (those at sigma_b 0 under
    # the grey region's, at the chaotic end of a ReLU net's map)
    figure.legend_below(fig, ax, columns=3)
    _init_key(key_ax, inits, sw[-1])
    figure.figure_title(fig, report.title, fontsize=10)
    # last: the labels are placed in the finished layout, around what is drawn
    place_labels(ax, places, [str(number) for number in range(1, len(inits) + 1)],
                 marker_points=math.sqrt(INIT_MARKER_SIZE) / 2, fontsize=8,
                 bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.9, "lw": 0})
    return figure.save_png(fig, out_png)


# The named inits' markers, in points squared (Matplotlib's scatter size).
INIT_MARKER_SIZE = 160


def _init_key(key_ax, inits, right_edge: float) -> None:
    """The key of the named inits in ``key_ax``, beside the map, under the figure's title (a
    legend of the figure's, at its top right, ran into a long title): each one's number, as on
    the map, its name and its sigma_w (an init beyond the map's right edge said to be off
    it)."""
    from matplotlib.lines import Line2D  # Matplotlib loads only when drawing

    key_ax.set_axis_off()
    if not inits:
        return
    handles = [Line2D([], [], marker=f"${number}$", linestyle="none", color="black",
                      markersize=6 + 2 * len(str(number)))
               for number in range(1, len(inits) + 1)]
    labels = [_wrap(f"{p.label} (σ_w {_sigma_w_text(p)}"
                    + (", off the map)" if p.net_sigma_w > right_edge else ")"))
              for p in inits]
    key_ax.legend(handles, labels, loc="upper left", borderaxespad=0, fontsize=8,
                  frameon=False, title="named inits (★ on the map)", title_fontsize=8,
                  alignment="left")


def _sigma_w_text(point) -> str:
    """An init's ``sigma_w`` on the net, and as drawn where the zero padding takes a share:
    ``0.873 on the net, 1 drawn``."""
    net = rounded_text(point.net_sigma_w, 3)
    if point.share >= 1:
        return net
    return f"{net} on the net, {rounded_text(point.sigma_w, 3)} drawn"


def _wrap(label: str, width: int = 30) -> str:
    """A comma-separated label broken into lines of about ``width`` characters."""
    lines, line = [], ""
    for part in label.split(", "):
        candidate = f"{line}, {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line + ",")
            line = part
        else:
            line = candidate
    return "\n".join(lines + [line])


def plot_jacobian(report, out_png) -> Path:
    """Histogram of the squared singular values of the input-output Jacobian, one per init
    variant, on a log axis (a spectrum concentrated at 1 is dynamical isometry)."""
    fig = figure.new_figure(8.0, 4.6)
    ax = fig.subplots()
    values = [np.asarray(v.singular_values, float) ** 2 for v in report.variants]
    positive = np.concatenate([v[v > 0] for v in values] + [np.array([1.0])])
    # bins a quarter of a decade wide over the whole range: a spectrum spread over tens of
    # decades (Gaussian weights at depth) shows as such, not piled into an end bin
    low, high = np.floor(np.log10(positive.min())), np.ceil(np.log10(positive.max()))
    bins = 10.0 ** np.arange(low, high + 0.25, 0.25)
    for index, (variant, s2) in enumerate(zip(report.variants, values)):
        zeros = int((s2 <= 0).sum())
        ax.hist(s2[s2 > 0], bins=bins, histtype="stepfilled", alpha=0.35,
                color=f"C{index}", edgecolor=f"C{index}", lw=1.5,
                label=f"{variant.label}: mean σ² {rounded_text(variant.mean_sq, 3)}, "
                      f"spread {variant.spread_text.replace('>=', '≥')} decades"
                      + (f" ({zeros} exactly 0, not drawn)" if zeros else ""))
        if variant.unresolved:  # left of it the values are rounding noise
            ax.axvline(variant.floor_sq, color=f"C{index}", lw=1, ls="--",
                       label=f"{variant.label}: float64 resolution; "
                             f"{counted(variant.unresolved, 'value')} below")
    ax.axvline(1.0, color="black", lw=1, ls=":", label="σ² = 1 (an isometry)")
    figure.log_axis(ax, "x")
    figure.axis_label(ax, "squared singular value σ² of the input-output Jacobian", "x")
    figure.axis_label(ax, "σ² values per bin")
    # under the histogram: inside, Matplotlib's "best" place covered one of the spectra
    figure.legend_below(fig, ax, columns=1)
    figure.figure_title(fig, f"{report.spec_name}: Jacobian to '{report.layer}' at init "
                        f"({report.method})", fontsize=10)
    return figure.save_png(fig, out_png)
