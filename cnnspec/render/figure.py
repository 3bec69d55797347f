"""Matplotlib figures drawn off-screen.

Figures are made with :class:`matplotlib.figure.Figure` and the Agg canvas directly rather
than through ``pyplot``: no display is needed, no global figure registry grows, and a
library call never changes the user's own Matplotlib backend.
"""
from __future__ import annotations

import functools
import io
import itertools
import logging
import math
from pathlib import Path

from cnnspec.atomic import write_bytes
from cnnspec.errors import RunError, escaped_controls
from cnnspec.render.backend import PNG_DPI

# Matplotlib's warnings about its own set-up stay off the terminal; its errors do not. It
# warns as it loads when it cannot create its config or cache folder ($HOME or
# $XDG_CACHE_HOME read-only, missing or a file), in two lines naming its own MPLCONFIGDIR,
# and then works from a temporary folder: nothing the user asked for or needs to act on.
# Set here, before any module that draws imports Matplotlib (each imports this one first).
logging.getLogger("matplotlib").setLevel(logging.ERROR)


def legend_below(fig, ax, columns: int, keep=None, title: str | None = None) -> None:
    """One legend of ``ax``'s labelled artists for the whole of ``fig``, under its panels
    (:func:`legend_of`). ``keep`` picks the entries by their places (all by default)."""
    handles, labels = ax.get_legend_handles_labels()
    if keep is not None:
        handles, labels = [handles[i] for i in keep], [labels[i] for i in keep]
    legend_of(fig, handles, labels, columns, title)


# A legend's font, in points.
LEGEND_POINTS = 8.0


def legend_of(fig, handles, labels: list[str], columns: int, title: str | None = None) -> None:
    """One legend of ``handles`` named ``labels`` for the whole of ``fig``, under its panels,
    where it can hide nothing drawn (``fig`` made with the constrained layout, which makes
    room for it); ``columns`` entries to a row at most, fewer where the rows would be wider
    than the figure (three long labels to a row ran off both its sides), and a label wider
    than the figure alone broken into lines. ``title`` heads the legend."""
    if not handles:
        return
    room = fig.get_figwidth() - 2 * TITLE_MARGIN_INCHES
    labels = [fitted(label, room - _LEGEND_HANDLE_EMS * LEGEND_POINTS / 72, LEGEND_POINTS)
              for label in labels]
    fig.legend(handles, labels, loc="outside lower center", fontsize=LEGEND_POINTS,
               frameon=False, ncol=legend_columns(labels, min(columns, len(handles)), room),
               handlelength=_LEGEND_HANDLE_EMS - _LEGEND_PAD_EMS, title=title,
               title_fontsize=LEGEND_POINTS)


# What a legend entry takes beside its text, in ems of its font: its handle, long enough to
# show a dash-dotted line's pattern on both sides of its marker (Matplotlib's 2 ems showed a
# dash and a dot, and a dashed line as solid), and the space after it (Matplotlib's 0.8);
# and what lies between two columns (Matplotlib's column spacing, 2).
_LEGEND_HANDLE_EMS, _LEGEND_PAD_EMS, _LEGEND_COLUMN_EMS = 4.3, 0.8, 2.0


def legend_columns(labels: list[str], columns: int, room: float) -> int:
    """The most columns, at most ``columns``, whose rows of ``labels`` fit ``room`` inches as
    Matplotlib arranges them: down each column in turn, the first columns one entry longer
    where the entries do not divide evenly (measured as the pictures are drawn); then as few
    as fill the same rows (:func:`_even_columns`)."""
    em = LEGEND_POINTS / 72
    entries = [max(text_inches(line, LEGEND_POINTS) for line in label.split("\n"))
               + _LEGEND_HANDLE_EMS * em for label in labels]
    for count in range(columns, 1, -1):
        rows, longer = divmod(len(entries), count)
        ends = list(itertools.accumulate([rows + 1] * longer + [rows] * (count - longer)))
        widths = [max(entries[start:end], default=0.0)
                  for start, end in zip([0, *ends[:-1]], ends)]
        if sum(widths) + (count - 1) * _LEGEND_COLUMN_EMS * em <= room:
            return _even_columns(len(entries), count)
    return 1


def _even_columns(entries: int, columns: int) -> int:
    """The fewest columns, at most ``columns``, that hold ``entries`` in as few rows as
    ``columns`` do: four entries three to a row left one alone under the first column, two
    to a row fill both rows."""
    rows = math.ceil(entries / columns)
    return math.ceil(entries / rows)


def balanced_fill(text: str, width: float, measure=len) -> str:
    """``text`` broken at its spaces into as few lines no wider than ``width`` as it can be;
    of those, the lines that break no bracket open, then the most even: a title filled
    greedily can leave one word alone on its last line ("... scaled to its own" over "±max"),
    and one broken inside its brackets reads apart from its neighbour's ("22 layers (plain"
    over "ReLU): training loss" beside "22 layers (plain ReLU):" over "validation accuracy").
    Text too long for one line breaks after a semicolon first, a clause to a line reading
    better than a break mid-clause; a word wider than ``width`` alone is broken. ``measure``
    gives a line's width: its characters, or (:func:`fitted`) the inches it is drawn in."""
    if measure(text) <= width:
        return text
    if "; " in text:
        return ";\n".join(balanced_fill(clause, width, measure) for clause in text.split("; "))
    words = [piece for word in text.split() for piece in _pieces(word, width, measure)]
    return "\n".join(_even_lines(words, width, measure))


def _pieces(word: str, width: float, measure) -> list[str]:
    """``word`` as it is, or broken into pieces no wider than ``width`` (a character at least
    each) where it is wider: as :func:`textwrap.wrap` breaks a long word."""
    pieces = [""]
    for character in word:
        if pieces[-1] and measure(pieces[-1] + character) > width:
            pieces.append("")
        pieces[-1] += character
    return pieces


def _even_lines(words: list[str], width: float, measure) -> list[str]:
    """``words`` in lines no wider than ``width`` (a word wider alone on its line): the fewest
    lines, then the fewest breaks inside brackets, then the narrowest widest line. Found
    exactly, over every way of breaking (a title has tens of words), where
    :func:`textwrap.wrap` fills greedily."""
    inside = []  # whether a break before each word falls inside a bracket
    depth = 0
    for word in words:
        inside.append(depth > 0)
        depth = max(0, depth + sum(map(word.count, "([{")) - sum(map(word.count, ")]}")))
    # best[j]: (lines, breaks inside brackets, widest line, where the lines start) of the
    # best breaking of the first j words; each cost grows as lines are added to it, so the
    # best breaking of j words ends a best breaking of fewer
    best = [(0, 0, 0.0, ())]
    for end in range(1, len(words) + 1):
        choices = []
        for start in range(end - 1, -1, -1):
            line = measure(" ".join(words[start:end]))
            if line > width and start < end - 1:
                break  # wider still with every word more
            lines, breaks, widest, starts = best[start]
            choices.append((lines + 1, breaks + (start > 0 and inside[start]),
                            max(widest, line), (*starts, start)))
        best.append(min(choices))
    starts = best[-1][3]
    return [" ".join(words[a:b]) for a, b in zip(starts, (*starts[1:], len(words)))]


# What a figure title leaves free at each side of the figure, in inches.
TITLE_MARGIN_INCHES = 0.1


def fitted(text: str, inches: float, points: float, dpi: float = PNG_DPI) -> str:
    """``text`` broken into lines (:func:`balanced_fill`, each of its own lines apart) that fit
    ``inches`` at a font of ``points``, as drawn at ``dpi``: a title longer than the figure was
    cut off at both sides (a Jacobian's "eep_tanh200: ... of 256 ou")."""
    def measure(line: str) -> float:
        return text_inches(line, points, dpi)

    return "\n".join(balanced_fill(line, inches, measure) for line in text.split("\n"))


def text_inches(line: str, points: float, dpi: float = PNG_DPI) -> float:
    """The width of one ``line`` in Matplotlib's font of ``points``, in inches, as the Agg
    renderer draws it at ``dpi`` (the pictures' resolution unless drawn at another: the font
    is fitted to whole pixels, and a line at 100 dpi is 4% wider than at 110). The sum of its
    words' and spaces' widths: the font kerns within a word, never across a space (the sum
    equals the whole line's measure), so a word is measured once however a title is broken."""
    return sum(_word_inches(word, points, dpi) for word in line.split(" ")) + (
        line.count(" ") * _word_inches(" ", points, dpi))


@functools.lru_cache(maxsize=4096)
def _word_inches(word: str, points: float, dpi: float) -> float:
    from matplotlib.font_manager import FontProperties  # loads only when drawing

    if not word:
        return 0.0
    width, _, _ = _measuring_renderer(dpi).get_text_width_height_descent(
        word, FontProperties(size=points), ismath=False)
    return width / dpi


@functools.cache
def _measuring_renderer(dpi: float):
    """An Agg renderer at ``dpi``, to measure text before (or without) a figure: :func:`fitted`
    sizes the hand-laid pictures' headings before they are made."""
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, dpi)


# The smallest font a caption shrinks to: below it a label is no longer read at a glance.
SMALLEST_CAPTION_POINTS = 5.0


def fitting_points(text: str, inches: float, points: float, dpi: float = PNG_DPI) -> float:
    """The font size, at most ``points``, at which ``text``'s longest line fits ``inches``
    as drawn at ``dpi``, not below :data:`SMALLEST_CAPTION_POINTS`: for a caption over a small
    panel, whose words (a layer's name) cannot be broken."""
    def widest(size: float) -> float:
        return max((text_inches(line, size, dpi) for line in text.split("\n")), default=0.0)

    # Found by bisection, not by scaling ``points`` by the width: the font is fitted to whole
    # pixels, and a caption's width is not proportional to its size (scaled once, a caption
    # overran its tile by 3%; scaled again, it fell 10% short).
    if widest(points) <= inches:
        return points
    if widest(SMALLEST_CAPTION_POINTS) > inches:
        return SMALLEST_CAPTION_POINTS
    fits, overruns = SMALLEST_CAPTION_POINTS, points
    while overruns - fits > _SIZE_STEP:
        middle = (fits + overruns) / 2
        fits, overruns = (middle, overruns) if widest(middle) <= inches else (fits, middle)
    return fits


# How near to the largest fitting size a caption's is found, in points.
_SIZE_STEP = 0.05


def _points(size, default_key: str) -> float:
    """A Matplotlib font size (points, "large", None: the rc default ``default_key``) in
    points."""
    import matplotlib  # loads only when drawing
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=matplotlib.rcParams[default_key] if size is None
                          else size).get_size_in_points()


def figure_title(fig, text: str, fontsize=None, **kwargs):
    """``fig``'s title, broken into lines that fit its width: every picture's title is made
    here. ``kwargs`` go to ``Figure.suptitle``."""
    points = _points(fontsize, "figure.titlesize")
    return fig.suptitle(title_lines(text, fig.get_figwidth(), points), fontsize=points,
                        **kwargs)


def title_lines(text: str, figure_inches: float, points: float) -> str:
    """``text`` broken as :func:`figure_title` breaks it on a figure ``figure_inches`` wide:
    for a figure that makes room for its title's lines before it is made. Its control
    characters are written as escapes (a run folder's name may hold any): no font has a
    glyph for them, and Matplotlib warns of each one it cannot draw."""
    return fitted(escaped_controls(text), figure_inches - 2 * TITLE_MARGIN_INCHES, points)


def axes_title(ax, text: str, fontsize=None, **kwargs):
    """``ax``'s title, broken into lines that fit the panel's width as the figure is laid out
    when drawn (:func:`new_figure`), and only then: before, the layout engine has not yet
    placed the panel (its place then was a third narrower than drawn, and a title that fit
    was broken). ``kwargs`` go to ``Axes.set_title``."""
    points = _points(fontsize, "axes.titlesize")
    title = ax.set_title(text, fontsize=points, **kwargs)
    ax.figure.fitted_titles[title] = (ax, text, points)
    return title


def panel_caption(ax, text: str, points: float, **kwargs):
    """``text`` as ``ax``'s title, a caption over a small panel (a tile), at one size with
    every other caption of its figure: when the figure is drawn, the largest at most
    ``points`` at which each caption's longest line fits its panel (:func:`fitting_points`),
    so that captions read alike side by side ("init ±0.5" beside "learned ±0.47" was set
    larger, each shrunk on its own). ``kwargs`` go to ``Axes.set_title``."""
    title = ax.set_title(text, fontsize=points, **kwargs)
    ax.figure.captions[title] = (ax, points)
    return title


def _panel_inches(ax) -> float:
    return ax.get_position().width * ax.figure.get_figwidth()


def _fit_to_panels(fig) -> bool:
    """Break each panel title of ``fig`` (:func:`axes_title`) for its panel's width, and set
    its captions (:func:`panel_caption`) at their one size, with the panels where they are
    now, as drawn at the figure's resolution; whether any title or caption changed."""
    before = [(title.get_text(), title.get_fontsize())
              for title in (*fig.fitted_titles, *fig.captions)]
    for title, (ax, text, points) in fig.fitted_titles.items():
        title.set_text(fitted(text, _panel_inches(ax), points, fig.dpi))
    if fig.captions:
        size = min(fitting_points(title.get_text(), _panel_inches(ax), points, fig.dpi)
                   for title, (ax, points) in fig.captions.items())
        for title in fig.captions:
            title.set_fontsize(size)
    return before != [(title.get_text(), title.get_fontsize())
                      for title in (*fig.fitted_titles, *fig.captions)]


# Layouts a drawing tries at most for its titles to settle: a title fitted once can move
# the panels once more (two rounds settle the pictures drawn here; one is spare).
_FITTING_ROUNDS = 3


@functools.cache
def _fitting_figure():
    """The figure class of :func:`new_figure` (made on first use: Matplotlib loads with the
    first picture)."""
    from matplotlib.figure import Figure

    class FittingFigure(Figure):
        """A figure that fits its panel titles and captions to its panels when it is drawn,
        after laying them out (the layout leaves a title's width out of a panel's room)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fitted_titles = {}  # Text -> (Axes, whole text, points)
            self.captions = {}  # Text -> (Axes, largest points)

        def draw(self, renderer):
            # A title broken onto another line moves the panels under it, and can change
            # their widths (a shorter log axis labels fewer ticks, narrowing its margin):
            # laid out again until the titles fit the panels they are drawn over.
            engine = self.get_layout_engine()
            for _ in range(_FITTING_ROUNDS):
                if engine is not None and (self.fitted_titles or self.captions):
                    engine.execute(self)
                if not _fit_to_panels(self):
                    break
            super().draw(renderer)

    return FittingFigure


def new_figure(width: float, height: float, layout: str | None = "constrained"):
    """A blank figure of ``width`` x ``height`` inches attached to an Agg canvas.

    ``layout`` is Matplotlib's layout engine; None for figures whose axes are placed by hand.
    """
    # Matplotlib (~0.4 s to import) loads with the first picture, not with the package.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _fitting_figure()(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def axis_label(ax, text: str, which: str = "y") -> None:
    """Label ``which`` axis of ``ax`` with what it plots: every picture's axes are labelled
    here. While the axis is linear, the power of ten its ticks share is written in the label,
    "learning rate (×10⁻⁴)" over ticks 1, 2, 3, where Matplotlib draws it apart, a "1e-4" at
    the axis' end that ran into the panel's title or the panel beside, and read as part of
    neither. Ticks written otherwise (a log axis, :func:`log_axis`; percent,
    :func:`share_axis`; names), before or after, keep their formatter, and the label stays
    ``text``, on a log axis with :data:`LOG_NOTE` (:func:`_scale_noted`)."""
    from matplotlib.ticker import ScalarFormatter  # Matplotlib loads only when drawing

    axis = getattr(ax, f"{which}axis")
    axis.set_label_text(_scale_noted(text, getattr(ax, f"get_{which}scale")()))
    factor_in_label = _factor_in_label_formatter()
    if type(axis.get_major_formatter()) in (ScalarFormatter, factor_in_label):
        axis.set_major_formatter(factor_in_label(text))


# What the label of a log axis says of its scale: over less than a decade its ticks are plain
# numbers (1, 2, 3, unevenly spaced), which read as a linear axis's without it.
LOG_NOTE = " (log scale)"


def _scale_noted(text: str, scale: str) -> str:
    """The label ``text`` of an axis of ``scale``, with :data:`LOG_NOTE` on a log axis (once,
    whichever of :func:`axis_label` and :func:`log_axis` comes first); an empty one stays
    empty, as a panel without an axis label has nothing to note it on."""
    if scale != "log" or not text or text.endswith(LOG_NOTE):
        return text
    return text + LOG_NOTE


# The powers of ten a linear axis writes its ticks without a factor: 0.001 to 9999.
_PLAIN_POWERS = (-3, 4)
_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def factor_text(power: int) -> str:
    """The label's note of a power of ten shared by the ticks: `` (×10⁻⁴)``; empty for 10⁰."""
    return f" (×10{str(power).translate(_SUPERSCRIPTS)})" if power else ""


@functools.cache
def _factor_in_label_formatter():
    """Matplotlib's linear tick formatter, its common power of ten moved into the axis label
    and its offset (ticks 2.3026, 2.3027 written as +2.3 and 0.0026, 0.0027) left out: a tick
    reads as the value it marks (a class made on first use: Matplotlib loads with the first
    picture)."""
    from matplotlib.ticker import ScalarFormatter

    class FactorInLabel(ScalarFormatter):
        def __init__(self, label: str):
            super().__init__(useOffset=False, useMathText=False)
            self.set_powerlimits(_PLAIN_POWERS)
            self.label = label

        def set_locs(self, locs):
            # the ticks are placed as the figure is laid out, before the label is measured;
            # the factor is read from the offset text ("1e-4" or empty without math text),
            # the one public place that says it
            super().set_locs(locs)
            factor = super().get_offset().replace("\N{MINUS SIGN}", "-")
            power = int(factor.partition("e")[2]) if factor else 0
            self.axis.set_label_text(self.label + factor_text(power))

        def get_offset(self):
            return ""

    return FactorInLabel


# A log axis whose view lies in this range writes its ticks as plain numbers (0.002, 30);
# one reaching beyond it writes every tick as a power of ten (2×10⁻⁴, 10⁻³), one format an axis.
_PLAIN_TICKS = (1e-3, 1e4)


def share_axis(ax, values=None) -> float:
    """An axis of a share (an accuracy, the dead units of a ReLU) from 0 to a little above 1,
    so that a curve at 1 is not hidden under the frame, its ticks in percent as the tables
    beside the pictures print accuracies. With ``values`` (the shares drawn) it starts where
    they do, less a margin, on a 5% step (:func:`share_bottom`), so that a run between 91% and
    100% fills the panel; returns where it starts, for the title to say it is zoomed."""
    from matplotlib.ticker import FixedLocator, MaxNLocator, PercentFormatter  # when drawing

    bottom = 0.0 if values is None else share_bottom(values)
    ax.set_ylim(bottom, 1.02)
    # no tick above 100% (a zoomed axis ticked every 2% labelled one 102%)
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(bottom, 1.0)
    ax.yaxis.set_major_locator(FixedLocator([t for t in ticks
                                             if bottom - 1e-9 <= t <= 1 + 1e-9]))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    return bottom


def share_axis_text(text: str, bottom: float) -> str:
    """``text``, a share axis's label or title, saying where the axis starts where that is
    above 0 (:func:`share_axis`): an axis that does not start at 0 makes a small difference
    look large."""
    return f"{text} (axis from {100 * bottom:.0f}%)" if bottom else text


# A share axis starts at 0 unless the values leave more than this much of it empty below.
ZOOM_BELOW = 0.3


def share_bottom(values) -> float:
    """Where an axis of the shares ``values`` starts: 0, or, where they all lie above
    :data:`ZOOM_BELOW`, a 5% step at least a tenth of their range (2% at least) below the
    lowest, so that no point lies on the frame."""
    low, high = min(values), max(values)
    bottom = math.floor((low - max(0.02, 0.1 * (high - low))) * 20) / 20
    return bottom if bottom >= ZOOM_BELOW else 0.0


def whole_numbers(ax) -> None:
    """Ticks of ``ax``'s x axis at whole numbers only (epochs, steps, layers), one at least: a
    run of one epoch got ticks at 0.96, 0.98, ..., one recorded step ticks at -0.045, -0.03,
    ... (Matplotlib's integer locator wants two ticks, else gives up)."""
    from matplotlib.ticker import MaxNLocator  # Matplotlib loads only when drawing

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def lone_points(values) -> list[int]:
    """The indices of the finite ``values`` of a line with no finite neighbour: a series of
    one point, or a point between gaps (NaN), is a line of zero length, which Matplotlib draws
    as nothing; a marker there is all that shows it."""
    finite = [v is not None and math.isfinite(v) for v in values]
    return [i for i, here in enumerate(finite)
            if here and not any(finite[j] for j in (i - 1, i + 1) if 0 <= j < len(finite))]


def log_axis(ax, which: str = "y") -> None:
    """Make ``which`` axis of ``ax`` logarithmic, its ticks between powers of ten written as
    plain numbers (2, 0.3) where Matplotlib writes 2×10⁰ and 3×10⁻¹: an axis spanning less
    than a decade has only such ticks (a well-kept std over a few layers, a loss over a few
    epochs), and a column of "×10⁰" reads as noise. Where those ticks are labelled, the powers
    of ten among them are plain too (0.6, 1, 2, not 0.6, 10⁰, 2); across more decades, where
    only the powers of ten are labelled, they stay 10ⁿ. Its label says the scale is
    logarithmic (:data:`LOG_NOTE`): plain ticks alone do not."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_label_text(_scale_noted(axis.get_label_text(), "log"))
    plain = _plain_log_formatter()
    # Every tick labelled across less than a decade (where the panel has room for them all),
    # some across up to two (Matplotlib's defaults, one and 0.4 decades, left a loss from
    # 1.4 to 0.45 with two labels). The powers of ten use the same thresholds, to know when
    # ticks between them are labelled.
    axis.set_major_formatter(plain(10, minor_thresholds=_LABELLED_BETWEEN))
    axis.set_minor_formatter(plain(10, labelOnlyBase=False, minor_thresholds=_LABELLED_BETWEEN))
    _ends_at_labelled_ticks(ax, which)


# The ticks between powers of ten that Matplotlib labels on an axis of 1 to 2 decades (all of
# them on a shorter one): an axis whose ends are among them has a number at or beyond its
# highest and its lowest curve.
_LABELLED_COEFFICIENTS = (1, 2, 3, 4, 6, 10)


def _ends_at_labelled_ticks(ax, which: str) -> None:
    """Widen a log axis that labels ticks between powers of ten to the labelled ticks at or
    beyond the data: a loss curve at 1.6 under a top tick of 1 could not be read off (He et
    al.'s Glorot curve in tools/he2015_fig3.py's picture), nor one at 1.19 above a bottom
    tick of 2 (a sweep's one-epoch loss from 1.19 to 2.3, ticks 2 and 3 only). Drawn after
    the data (its limits are the data's); an end that would make the axis span more than the
    labelled range is left as it is, as is an axis with no positive data."""
    low, high = getattr(ax, f"get_{which}lim")()
    data_low, data_high = ((ax.dataLim.y0, ax.dataLim.y1) if which == "y"
                           else (ax.dataLim.x0, ax.dataLim.x1))
    if not (0 < low < high and 0 < data_low <= data_high < math.inf):
        return
    top = next(c * _decade(data_high) for c in _LABELLED_COEFFICIENTS
               if c * _decade(data_high) >= data_high * (1 - 1e-9))
    bottom = next(c * _decade(data_low) for c in reversed(_LABELLED_COEFFICIENTS)
                  if c * _decade(data_low) <= data_low * (1 + 1e-9))
    ends = low, high
    if top > high and math.log10(top / low) <= _LABELLED_BETWEEN[0]:
        high = top
    if bottom < low and math.log10(high / bottom) <= _LABELLED_BETWEEN[0]:
        low = bottom
    if (low, high) != ends:  # else left to autoscale, as it was
        getattr(ax, f"set_{which}lim")(low, high)
    if _powers_of_ten_within(low, high) > _LABELLED_BETWEEN[0]:
        _ends_at_labelled_decades(ax, which, data_low, data_high)


def _powers_of_ten_within(low: float, high: float) -> int:
    """How many powers of ten lie in ``low``..``high`` (> 0), as Matplotlib's log formatter
    counts them: beyond :data:`_LABELLED_BETWEEN`'s first, it labels them alone."""
    return math.floor(math.log10(high)) - math.floor(math.nextafter(math.log10(low), -math.inf))


def _ends_at_labelled_decades(ax, which: str, data_low: float, data_high: float) -> None:
    """Widen a log axis holding more powers of ten than ticks between them are labelled on,
    where the powers of ten alone are (every one, or every n-th: Matplotlib's locator thins
    them to fit), to the labelled ones at or beyond the data ``data_low``..``data_high``: a
    gradient std from 3e-5 to 0.02 under a top label of 0.01 could not be read off. A wider
    axis may be thinned further, so the ends are found again until they hold."""
    axis = getattr(ax, f"{which}axis")
    for _ in range(_WIDENINGS):
        low, high = getattr(ax, f"get_{which}lim")()
        ticks = axis.get_major_locator().tick_values(low, high)
        top = min((t for t in ticks if t >= data_high * (1 - 1e-9)), default=high)
        bottom = max((t for t in ticks if 0 < t <= data_low * (1 + 1e-9)), default=low)
        if bottom >= low and top <= high:
            return
        getattr(ax, f"set_{which}lim")(min(low, bottom), max(high, top))


# How often :func:`_ends_at_labelled_decades` widens an axis at most: once, and once again
# where the wider axis is labelled at fewer powers of ten.
_WIDENINGS = 3


def _decade(value: float) -> float:
    """The power of ten at or below ``value`` (> 0)."""
    return 10.0 ** math.floor(math.log10(value))


def _plain_number(value: float) -> str:
    """A tick value as written by hand: 0.002, 0.3, 1, 2000 (never 2e+03)."""
    return f"{value:.4g}"


# Matplotlib's minor_thresholds: ticks between powers of ten are labelled when the axis
# reaches at most 2 of them (some ticks), every one within 1 decade.
_LABELLED_BETWEEN = (2, 1)

# The ticks of a decade a log axis labels, from every one to fewer: where the labels of one
# set would touch, the next, and the powers of ten alone after the last. Every tick labelled puts
# 0.9 and 1 a twenty-second of a decade apart (log10(10 / 9) = 0.046), and Matplotlib's 1, 2, 3, 4,
# 6 puts 3 and 4 an eighth of a decade apart: a short panel's 1, 0.9, 0.8 and 0.7 ran into one
# another, and a gradient std's 3×10⁻⁵ into its 4×10⁻⁵.
_TICK_SETS = (tuple(range(1, 11)), _LABELLED_COEFFICIENTS, (1, 3, 10))
# A label's extent along the axis and a fifth of it again between the closest two.
_LABEL_SPACING = 1.2


def _closest(coefficients: tuple[int, ...]) -> float:
    """The least distance between two neighbouring ticks of ``coefficients``, in decades."""
    return min(math.log10(b / a) for a, b in itertools.pairwise(coefficients))


def _room_for_ticks(axis, decades: float, coefficients: tuple[int, ...]) -> bool:
    """Whether ``axis`` is long enough for a label at each tick of ``coefficients`` over its
    ``decades``: at its size as laid out, each label's extent along it (the font's size on a
    y axis, three characters of it on an x axis) and a fifth of that again between the
    closest two."""
    axes = axis.axes
    if axes is None or decades <= 0:
        return True
    box = axes.get_window_extent()
    pixels = box.height if axis.axis_name == "y" else box.width
    points_per_decade = pixels / axes.figure.dpi * 72 / decades
    # a tick's own label (asking the axis for its labels would place the ticks, and so
    # call this formatter again)
    size = axis.majorTicks[0].label1.get_fontsize()
    extent = size if axis.axis_name == "y" else 3 * 0.6 * size
    return points_per_decade * _closest(coefficients) >= _LABEL_SPACING * extent


@functools.cache
def _plain_log_formatter():
    """Matplotlib's log tick formatter with plain numbers between the decades, and at them
    where ticks between them are labelled (a class made on first use: Matplotlib loads with
    the first picture)."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainBetweenDecades(LogFormatterSciNotation):
        def set_locs(self, locs=None):
            super().set_locs(locs)
            # Matplotlib labels every tick of an axis within a decade, and 1, 2, 3, 4, 6 of
            # one of one to two, however short the axis: where they would touch, fewer
            low, high = sorted(self.axis.get_view_interval()) if self.axis else (0, 0)
            if self._sublabels is None or len(self._sublabels) < 2 or low <= 0:
                return
            decades = math.log10(high / low)
            fitting = (set(coefficients) for coefficients in _TICK_SETS
                       if len(coefficients) <= len(self._sublabels)
                       and _room_for_ticks(self.axis, decades, coefficients))
            self._sublabels = next(fitting, {1})  # {1}: Matplotlib's powers of ten alone

        def __call__(self, x, pos=None):
            exponent = math.log10(abs(x)) if x else 0.5
            between_labelled = self._sublabels is not None and len(self._sublabels) > 1
            if (between_labelled and abs(exponent - round(exponent)) < 1e-9
                    and self._plain_axis()):
                return _plain_number(x)
            return super().__call__(x, pos)

        def _non_decade_format(self, sign_string, base, fx, usetex):
            if self._plain_axis():
                return sign_string + _plain_number(float(base) ** fx)
            return super()._non_decade_format(sign_string, base, fx, usetex)

        def _plain_axis(self) -> bool:
            # one format per axis, read off its view (which the major and the minor ticks'
            # formatters share): a gradient std from 4e-4 to 6e-3 wrote 4×10⁻⁴, 6×10⁻⁴,
            # then 0.001, 0.002
            low, high = sorted(map(abs, self.axis.get_view_interval())) if self.axis else (1, 1)
            return _PLAIN_TICKS[0] <= low * (1 + 1e-9) and high < _PLAIN_TICKS[1]

    return PlainBetweenDecades


def save_png(fig, out_png) -> Path:
    """Write ``fig`` as a PNG at ``out_png`` (parent folders created), at the resolution of
    the diagrams' PNGs; returns the path."""
    out = Path(out_png)
    if out.suffix.lower() != ".png":
        raise RunError(f"cannot write {out}: plots are written as PNG",
                       hint="give an output file ending in .png")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot write {out}: {exc.strerror or exc}",
                       hint="check that the folder exists and is writable") from exc
    # drawn in memory and written into place as run files are: a picture stopped halfway
    # never replaces the one before
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=PNG_DPI, facecolor="white")
    write_bytes(out, png.getvalue())
    return out
