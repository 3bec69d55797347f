"""The pictures' layout, read from the Matplotlib figures themselves: every axis says what it
plots, no text runs into another or off the picture, and a legend hides no line; and the
network diagrams', read from the renderer's own layout: an edge's label covers nothing drawn,
the dashed frame of a repeated block included."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from drawn_diagram import Box, Drawn, Layout, layout, read_layout
from drawn_diagram import label_problems as diagram_problems
from drawn_text import label_problems, overlapping_texts, texts_outside

import cnnspec
from cnnspec.lab.critical_plots import plot_phase
from cnnspec.lab.phase import phase_report
from cnnspec.lab.plots import (
    STATISTICS,
    plot_curve_panels,
    plot_depth_profile,
    plot_learning_curves,
    plot_training_stats,
    variant_styles,
)
from cnnspec.lab.stats import LayerStats
from cnnspec.render import curves, features, figure, filters
from cnnspec.render.diagram import DETAILS, RANKDIRS, build_graph
from cnnspec.sweep.cells import CellResult
from cnnspec.sweep.plots import plot_accuracy_by_setting, plot_group_curves
from cnnspec.sweep.results import Group


@pytest.fixture
def drawn(monkeypatch):
    """The figures the pictures draw, kept instead of written."""
    figures = []

    def keep(fig, out):
        figures.append(fig)
        return Path(out)

    for module in (figure, curves, filters, features):
        monkeypatch.setattr(module, "save_png", keep)
    return figures


def _epochs(lr=3e-4, loss=2.0, count=5):
    return [{"epoch": e, "train_loss": loss / e, "val_loss": 1.1 * loss / e,
             "train_acc": 1 - 0.5 / e, "val_acc": 1 - 0.6 / e, "lr": lr * 0.9 ** e}
            for e in range(1, count + 1)]


def _stats_records(relu: bool = True, layers: int = 5, steps: int = 9):
    """stats.jsonl records of ``layers`` conv layers (each followed by a ReLU with
    ``relu``), their gradient stds spread over two and a half decades (2.5e-5 to 6e-3)."""
    rows = []
    for i in range(layers):
        rows.append({"name": f"conv{i + 1}", "kind": "conv", "act_std": 0.3 + 0.4 * i,
                     "grad_std": 2.5e-5 * 240 ** (i / max(layers - 1, 1))})
        if relu:
            rows.append({"name": f"conv{i + 1}_relu", "kind": "relu", "act_std": 0.5,
                         "grad_std": 1e-3, "dead_frac": 0.4 + 0.05 * i})
    return [{"step": 10 * s, "layers": rows} for s in range(steps)]


def _depth_stats(scale):
    return [LayerStats(f"conv{i}", "conv", 0.0, scale ** i, scale ** i, None, None, None,
                       scale ** -i / 100, None) for i in range(1, 9)]


def _no_signal():
    """All-zero weights' profile: no activation, a gradient at the last layer only."""
    return [LayerStats(f"conv{i}", "conv", 0.0, 0.0, 0.0, None, None, None,
                       1e-3 if i == 8 else 0.0, None) for i in range(1, 9)]


def _group(lr, acc):
    return Group(label=f"lr={lr}", settings={"lr": lr},
                 cells=[(None, CellResult(f"lr={lr}", [{"epoch": 1, "val_acc": acc}], {}))])


def _grid(acc, **values):
    """A group for every combination of ``values`` (key: its values as written), one run
    each, its validation accuracy ``acc(settings)``."""
    import itertools

    groups = []
    for combination in itertools.product(*values.values()):
        settings = dict(zip(values, combination))
        label = ", ".join(f"{k}={v}" for k, v in settings.items())
        groups.append(Group(label=label, settings=settings, cells=[
            (None, CellResult(label, [{"epoch": 1, "val_acc": acc(settings)}], {}))]))
    return groups


_THREE_SETTINGS = {"init": ["he_normal", "normal(0, 0.01)", "glorot_uniform"],
                   "lr": ["0.1", "0.01", "0.001"], "batch": ["32", "64"]}


def _init_decides(settings):
    return 0.9 if settings.get("init", "he_normal") == "he_normal" else 0.07


PICTURES = {
    "curves, small lr": lambda tmp: curves.plot_curves(_epochs(3e-4), tmp / "c.png",
                                                         best_epoch=3, title="digits: run"),
    "curves, tiny linear loss": lambda tmp: curves.plot_curves(
        [dict(r, train_loss=1e-4 + 1e-6 * i, val_loss=1.1e-4 + 1e-6 * i)
         for i, r in enumerate(_epochs())], tmp / "c.png"),
    "training stats": lambda tmp: plot_training_stats(_stats_records(), tmp / "s.png",
                                                       title="net: per-layer statistics"),
    "training stats, no ReLU": lambda tmp: plot_training_stats(
        _stats_records(relu=False), tmp / "s.png", title="net: per-layer statistics"),
    "training stats, 30 layers": lambda tmp: plot_training_stats(
        _stats_records(layers=30), tmp / "s.png"),
    "depth profile": lambda tmp: plot_depth_profile(
        [("he_normal", _depth_stats(1.1)), ("normal(0, 0.01)", _depth_stats(0.1))],
        tmp / "d.png", title="net: signal through depth at init"),
    "depth profile, long notes": lambda tmp: plot_depth_profile(
        [("he_normal", _depth_stats(1.1)), ("zeros", _no_signal()),
         ("constant(0)", _no_signal()), ("glorot_normal", _depth_stats(0.9))],
        tmp / "d.png", title="net: signal through depth at init"),
    "depth profile, all zeros": lambda tmp: plot_depth_profile(
        [("zeros", _no_signal()), ("constant(0)", _no_signal())], tmp / "d.png"),
    "learning curves": lambda tmp: plot_learning_curves(
        {"he_normal": [_epochs(), _epochs(loss=2.2)], "zeros": [_epochs(loss=2.3)]},
        tmp / "l.png", title="net: inits compared"),
    "accuracy by setting": lambda tmp: plot_accuracy_by_setting(
        [_group("0.001", 0.8), _group("0.002", 0.9)], [("lr", ["0.001", "0.002"])],
        tmp / "a.png", title="net: sweep, validation accuracy by setting"),
    "accuracy by three settings": lambda tmp: plot_accuracy_by_setting(
        _grid(_init_decides, **_THREE_SETTINGS), list(_THREE_SETTINGS.items()),
        tmp / "a.png", title="net: sweep, validation accuracy by setting"),
    "one filter": lambda tmp: filters.plot_filters(
        np.ones((1, 1, 3, 3)), tmp / "f.png", title="x_detector: xk (frozen), init literal"),
    "RGB filters side by side": lambda tmp: filters.plot_filters(
        np.random.default_rng(0).normal(size=(8, 3, 5, 5)), tmp / "f.png", channels="side",
        initial=np.random.default_rng(1).normal(size=(8, 3, 5, 5)), title="rgb: conv1"),
    "64 filters": lambda tmp: filters.plot_filters(
        np.random.default_rng(0).normal(size=(64, 32, 3, 3)), tmp / "f.png",
        title="digits: conv3, init he_normal"),
    "feature maps": lambda tmp: features.plot_features(
        np.random.default_rng(0).random((3, 16, 16)),
        {"conv1 + relu": np.random.default_rng(1).normal(size=(8, 16, 16)),
         "conv2 + relu": np.random.default_rng(2).normal(size=(64, 8, 8))},
        tmp / "e.png", title="rgb: test image 1, true class x; predicted x (52%)"),
}


@pytest.mark.parametrize("picture", PICTURES)
def test_no_text_of_a_picture_overlaps_another_or_leaves_it(tmp_path, drawn, picture):
    PICTURES[picture](tmp_path)
    [fig] = drawn
    assert overlapping_texts(fig) == []
    assert texts_outside(fig) == []


@pytest.mark.parametrize("picture", [name for name in PICTURES
                                     if "filter" not in name and "feature" not in name])
def test_every_axis_of_a_plot_says_what_it_plots(tmp_path, drawn, picture):
    """stats.png's panels had no y label: a std of what, a share of what."""
    PICTURES[picture](tmp_path)
    for ax in drawn[0].axes:
        if ax.get_lines():  # a twin axis (the learning rate's) shares its panel's x axis
            assert ax.get_ylabel() and (ax.get_xlabel() or not ax.xaxis.get_visible())


def test_a_small_learning_rate_writes_its_power_of_ten_in_its_label(tmp_path, drawn):
    """The learning rate's axis drew Matplotlib's "1e-4" above its end, beside the panel's
    title, where it read as part of neither: the power is in the label, the offset empty."""
    curves.plot_curves(_epochs(3e-4), tmp_path / "c.png")
    fig = drawn[0]
    fig.canvas.draw()
    lr_axis = next(ax.yaxis for ax in fig.axes if ax.get_ylabel().startswith("learning rate"))
    assert lr_axis.get_label_text() == "learning rate (×10⁻⁴)"
    assert lr_axis.offsetText.get_text() == ""
    ticks = [label.get_text() for label in lr_axis.get_ticklabels() if label.get_text()]
    assert ticks and all("e" not in tick and float(tick) < 10 for tick in ticks), ticks


def test_a_loss_on_a_linear_axis_keeps_whole_values_in_its_ticks(tmp_path, drawn):
    """A loss from 1.00e-4 to 1.14e-4 (a linear axis: it spans less than 30x) reads
    1.00 ... 1.14 under "loss (×10⁻⁴)", and a rate of 0.02 is written as it is."""
    curves.plot_curves([dict(r, train_loss=1e-4 + 1e-6 * i, val_loss=1.1e-4 + 1e-6 * i,
                             lr=0.02) for i, r in enumerate(_epochs())], tmp_path / "c.png")
    fig = drawn[0]
    fig.canvas.draw()
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "loss (×10⁻⁴)" in labels and "learning rate" in labels, labels


def test_an_axis_label_keeps_ticks_written_otherwise(tmp_path):
    """Percent ticks, a log axis and named ticks keep their formatter, before or after."""
    ax_share, ax_log, ax_names = figure.new_figure(6, 2).subplots(1, 3)
    figure.share_axis(ax_share)
    figure.axis_label(ax_share, "accuracy")
    figure.axis_label(ax_log, "std")
    ax_log.plot([1, 2], [1e-3, 1e2])
    figure.log_axis(ax_log)
    ax_names.set_xticks([0, 1], ["a", "b"])
    figure.axis_label(ax_names, "layer", "x")
    ax_share.figure.canvas.draw()
    assert ax_share.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert ax_log.get_ylabel() == "std" + figure.LOG_NOTE
    assert [label.get_text() for label in ax_names.get_xticklabels()] == ["a", "b"]


@pytest.mark.parametrize("power, text", [(-4, " (×10⁻⁴)"), (5, " (×10⁵)"), (0, "")])
def test_a_power_of_ten_is_written_as_a_factor(power, text):
    assert figure.factor_text(power) == text


def test_training_stats_label_each_statistic_and_leave_out_an_empty_panel(tmp_path, drawn):
    """lenet5 (tanh) drew a "dead ReLU units" panel with nothing in it, an empty frame."""
    plot_training_stats(_stats_records(relu=False), tmp_path / "s.png")
    plot_training_stats(_stats_records(), tmp_path / "s.png")
    without, with_relu = drawn
    logged = [STATISTICS[key].label + figure.LOG_NOTE for key in ("act_std", "grad_std")]
    assert [ax.get_ylabel() for ax in without.axes] == logged
    assert [ax.get_ylabel() for ax in with_relu.axes] == [
        *logged, STATISTICS["dead_frac"].label]
    assert with_relu.axes[2].yaxis.get_major_formatter()(0.5, 0) == "50%"


def test_training_stats_have_one_legend_under_the_panels(tmp_path, drawn):
    """The legend of each panel sat inside it, over the lines of the first steps; the lines
    have the same colours in every panel, so one legend under them names them all."""
    plot_training_stats(_stats_records(), tmp_path / "s.png")
    plot_training_stats(_stats_records(layers=30), tmp_path / "s.png")
    for fig in drawn:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert not any(ax.get_legend() for ax in fig.axes)
        [legend] = fig.legends
        panels_bottom = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)
        assert legend.get_window_extent(renderer).y1 <= panels_bottom
        assert "a ReLU: the layer before it" in legend.get_title().get_text()
    names = [[text.get_text() for text in fig.legends[0].get_texts()] for fig in drawn]
    assert names == [[f"conv{i}" for i in range(1, 6)], ["conv1", "conv30"]]


def test_a_stats_line_is_marked_in_its_legend_only_where_it_has_a_marker(tmp_path, drawn):
    """Every line had a dot marker, drawn only at a value between gaps: the legend showed a
    dot on each entry that its lines did not have. A line with such a lone value keeps it."""
    records = _stats_records(relu=False, layers=2, steps=5)
    for step, record in enumerate(records):  # conv2: one value between gaps, at step 2
        record["layers"] = [dict(row) for row in record["layers"]]
        if step != 2:
            record["layers"][1]["grad_std"] = None
    plot_training_stats(records, tmp_path / "s.png")
    (fig,) = drawn
    markers = {text.get_text(): handle.get_marker()
               for text, handle in zip(fig.legends[0].get_texts(), fig.legends[0].legend_handles)}
    assert markers["conv1"] in (None, "None", "")
    assert {line.get_label(): _marked(line) for line in fig.axes[1].get_lines()} == {
        "conv1": [], "conv2": [2]}


def test_a_short_log_axis_over_two_decades_labels_fewer_ticks(tmp_path):
    """A gradient std from 2.5e-5 to 6e-3 on a short panel: Matplotlib labels 1, 2, 3, 4 and
    6 of each decade, and 3×10⁻⁵ ran into 4×10⁻⁵; there, 1 and 3 of each."""
    fig = figure.new_figure(4.0, 2.6)
    ax = fig.subplots()
    ax.plot([0, 1], [2.5e-5, 6e-3])
    figure.log_axis(ax)
    fig.canvas.draw()
    assert overlapping_texts(fig) == []
    labelled = [loc for loc, label in zip(ax.yaxis.get_minorticklocs(),
                                          ax.yaxis.get_ticklabels(which="minor"))
                if label.get_text() and 2.5e-5 <= loc <= 6e-3]
    assert {round(loc / 10 ** math.floor(math.log10(loc))) for loc in labelled} == {3}


def test_the_stats_picture_names_the_run(tmp_path, monkeypatch):
    """Runs of one spec drew stats.png titled alike: the run's folder tells them apart."""
    from cnnspec.lab import recorder

    titles = []
    monkeypatch.setattr(recorder, "plot_training_stats",
                        lambda records, path, title: titles.append(title))
    run = tmp_path / "digits-20260101-120000"
    run.mkdir()
    (run / recorder.STATS_FILE).write_text(json.dumps(_stats_records()[0]) + "\n")
    stats = recorder.StatsRecorder(every=1)
    stats.path = run / recorder.STATS_FILE
    stats.on_stop(type("Model", (), {"record": True, "checked": None})())
    assert titles == ["per-layer statistics of run digits-20260101-120000"]


SPECS = Path(__file__).resolve().parent.parent / "specs"
BIASED_RELU = """model a_relu_network_with_biases_and_a_name_as_long_as_its_title_can_hold
input 16x4x4
default weight he_normal, bias normal(0, 0.3)
repeat 6 as body {
  conv 16 1x1 relu
}
global_avgpool
head: dense 10
train {
  data npz(path="unused.npz")
}
"""
# Phase diagrams of ReLU and tanh nets, their named inits at sigma_b 0 and in the middle of
# the map, four of them crowded within a tenth of sigma_w, one off the map, and a title as
# wide as the figure (the key beside the map ran into it).
PHASE_DIAGRAMS = {
    "digits (relu)": ("digits.cnn", (5, 3), []),
    "digits, crowded, one off the map": ("digits.cnn", (12, 9), [
        "normal(0, 0.1)", "normal(0, 0.12)", "uniform(-0.3, 0.3)", "normal(0, 3)"]),
    "deep_tanh200": ("deep_tanh200.cnn", (4, 5), []),
    "lenet5 (tanh)": ("lenet5.cnn", (8, 5), []),
    "plain30 (relu)": ("plain30.cnn", (3, 3), []),
    "relu with biases, long name": (BIASED_RELU, (5, 5), ["normal(0, 0.45)"]),
}


def _phase_diagram(tmp_path, drawn, name):
    spec, grid, inits = PHASE_DIAGRAMS[name]
    path = SPECS / spec
    if not spec.endswith(".cnn"):
        path = tmp_path / "net.cnn"
        path.write_text(spec)
    report = phase_report(path, inits, grid=grid)
    plot_phase(report, tmp_path / "phase.png")
    return report, drawn[0]


@pytest.mark.parametrize("name", PHASE_DIAGRAMS)
def test_the_phase_diagrams_labels_cover_nothing_drawn(tmp_path, drawn, name):
    """The named inits' labels sat at fixed heights over their stars: on digits, the leader
    lines of torch_default, orthogonal and glorot crossed the labels of delta_orthogonal,
    glorot and orthogonal, and lecun's white box covered the measured chi_1 = 1 line; on
    deep_tanh200 the spec's box covered the theory's critical line. Each init is numbered
    beside its star now, where the number covers no line, marker or other label."""
    _, fig = _phase_diagram(tmp_path, drawn, name)
    ax = fig.axes[0]
    assert ax.texts  # the labels are there to be checked
    assert label_problems(ax) == []
    assert overlapping_texts(fig) == []
    assert texts_outside(fig) == []
    frame = ax.get_window_extent(fig.canvas.get_renderer())
    for label in ax.texts:
        box = label.get_bbox_patch().get_window_extent()
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), label


def test_the_phase_diagrams_key_names_each_number_on_the_map(tmp_path, drawn):
    """The key beside the map names the inits in the order of their numbers, left to right
    on the map, an init beyond the map's right edge with its sigma_w."""
    report, fig = _phase_diagram(tmp_path, drawn, "digits, crowded, one off the map")
    ax = fig.axes[0]
    numbers = sorted(ax.texts, key=lambda label: int(label.get_text()))
    places = [label.xy[0] for label in numbers]
    assert [label.get_text() for label in numbers] == [
        str(n) for n in range(1, len(report.inits) + 1)]
    assert places == sorted(places)
    key = fig.axes[1].get_legend()  # the column beside the map and its colour bar
    assert key.get_title().get_text() == "named inits (★ on the map)"
    names = [text.get_text().replace("\n", " ") for text in key.get_texts()]
    inits = sorted(report.inits, key=lambda p: (p.net_sigma_w, p.sigma_w))
    assert [name.split(" (σ_w")[0] for name in names] == [p.label for p in inits]
    # digits' padded 8x8 maps leave a Gaussian 0.92 of its sigma_w^2: the key gives both
    assert names[-1] == "normal(0, 3) (σ_w 48.9 on the net, 50.9 drawn, off the map)"
    assert [handle.get_marker() for handle in key.legend_handles] == [
        f"${n}$" for n in range(1, len(inits) + 1)]


def _chance(epochs=2, loss=2.3026):
    """Per-epoch metrics of a net that stays at chance (zeros, or a tiny normal): the same
    curves whatever the init."""
    return [{"epoch": e, "val_acc": 0.049, "train_loss": loss} for e in range(1, epochs + 1)]


def _lines(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines()}


def _shows_under(top, under) -> bool:
    """Whether ``under`` shows where ``top`` is drawn over it: ``top`` drawn later, thinner
    (``under`` shows at its sides), dashed (and in its gaps), with a smaller marker (and
    around it)."""
    axes_lines = top.axes.get_lines()
    return (axes_lines.index(top) > axes_lines.index(under)
            and top.get_linewidth() < under.get_linewidth()
            and top.get_linestyle() not in ("-", "None")
            and top.get_markersize() < under.get_markersize())


def test_a_comparisons_variants_with_the_same_curves_both_show(tmp_path, drawn):
    """compare --init zeros --init "normal(0, 0.01)" on digits: both stay at chance, their
    curves are the same, and the second was drawn over the first, which no one could see. It
    is drawn thinner and dashed over it now, and the legend says they are the same."""
    plot_learning_curves({"zeros": [_chance()], "normal(0, 0.01)": [_chance(loss=2.3027)]},
                         tmp_path / "c.png", title="digits: inits compared")
    [fig] = drawn
    (legend,) = fig.legends
    assert [text.get_text() for text in legend.get_texts()] == [
        "zeros", "normal(0, 0.01) (same curves as zeros)"]
    for ax in fig.axes:
        lines = _lines(ax)
        assert _shows_under(lines["normal(0, 0.01)"], lines["zeros"])
        assert lines["zeros"].get_color() != lines["normal(0, 0.01)"].get_color()
    assert overlapping_texts(fig) == [] and texts_outside(fig) == []


def test_a_sweeps_groups_with_the_same_curves_both_show(tmp_path, drawn):
    """sweep's curves.png draws its groups as compare draws its variants: three groups at
    chance, each after the first said to be the first's and drawn thinner than the one under
    it; a group that learns is neither."""
    def group(label, metrics):
        return Group(label=label, settings={"init": label},
                     cells=[(None, CellResult(label, metrics, {}))])

    learns = [{"epoch": e, "val_acc": 0.3 * e, "train_loss": 2.0 / e} for e in (1, 2)]
    plot_group_curves([group("init=he_normal", learns), group("init=zeros", _chance()),
                       group("init=normal(0, 0.01)", _chance()),
                       group("init=constant(0)", _chance())], tmp_path / "curves.png")
    [fig] = drawn
    lines = _lines(fig.axes[0])
    assert list(lines) == ["init=he_normal", "init=zeros", "init=normal(0, 0.01)",
                           "init=constant(0)"]
    (legend,) = fig.legends
    assert [text.get_text() for text in legend.get_texts()] == [
        "init=he_normal", "init=zeros", "init=normal(0, 0.01) (same curves as init=zeros)",
        "init=constant(0) (same curves as init=zeros)"]
    first, second, third = list(lines.values())[1:]
    assert _shows_under(second, first) and _shows_under(third, first)
    assert third.get_linewidth() < second.get_linewidth()


def test_curves_apart_are_not_called_the_same_and_keep_their_own_styles(tmp_path, drawn):
    """Two variants 1% apart are two curves; four variants have four line styles and four
    markers besides their colours."""
    runs = {name: [[{"epoch": 1, "val_acc": 0.5 * scale, "train_loss": 1.0 * scale},
                    {"epoch": 2, "val_acc": 0.6 * scale, "train_loss": 0.8 * scale}]]
            for name, scale in (("a", 1.0), ("b", 1.01), ("c", 0.5), ("d", 0.25))}
    plot_learning_curves(runs, tmp_path / "c.png")
    lines = list(_lines(drawn[0].axes[0]).values())
    assert [line.get_label() for line in lines] == ["a", "b", "c", "d"]
    assert len({line.get_marker() for line in lines}) == 4
    assert len({line.get_linewidth() for line in lines}) == 1  # none drawn over another
    # (Matplotlib names every dash pattern "--": the patterns the lines were drawn with)
    styles = variant_styles([line.get_label() for line in lines], {})
    assert len({str(style["linestyle"]) for style in styles.values()}) == 4


def test_variants_are_told_apart_without_their_colours():
    """compare's fifth init was drawn in the first's solid line and circles, apart in colour
    alone (blue against purple): the dashes turn every 4 variants and the markers every 5,
    so no two of 20 variants share both."""
    styles = variant_styles([f"init{i}" for i in range(20)], {})
    assert len({(str(style["linestyle"]), style["marker"]) for style in styles.values()}) == 20


def test_side_by_side_comparisons_call_curves_the_same_only_if_they_are_in_every_panel(
        tmp_path, drawn):
    """He et al.'s figure drawn as two columns: a variant is the same as another only where
    every column says so (at 30 layers all three stay at chance; at 22 one learns)."""
    learns = [{"epoch": e, "val_acc": 0.3 * e, "train_loss": 2.0 / e} for e in (1, 2)]
    plot_curve_panels({"22 layers": {"he": [learns], "glorot": [_chance()],
                                     "zeros": [_chance()]},
                       "30 layers": {"he": [_chance()], "glorot": [_chance()],
                                     "zeros": [_chance()]}}, tmp_path / "p.png")
    [fig] = drawn
    (legend,) = fig.legends
    assert [text.get_text() for text in legend.get_texts()] == [
        "he", "glorot", "zeros (same curves as glorot)"]


def test_side_by_side_comparisons_name_every_variant_once(tmp_path, drawn):
    """The legend was read off the first column: a variant first drawn in a later one was
    left out. Every variant is named once, and one that finished no epoch in one column says
    where."""
    learns = [{"epoch": e, "val_acc": 0.3 * e, "train_loss": 2.0 / e} for e in (1, 2)]
    plot_curve_panels({"a": {"he": [learns]},
                       "b": {"he": [learns], "zeros": [_chance()], "tiny": [[]]},
                       "c": {"tiny": [_chance(loss=1.0)]}}, tmp_path / "p.png")
    [fig] = drawn
    (legend,) = fig.legends
    assert [text.get_text() for text in legend.get_texts()] == [
        "he", "zeros", "tiny (no epoch finished in b)"]
    styles = variant_styles(["he", "zeros", "tiny"], {})
    for handle, style in zip(legend.legend_handles, styles.values()):
        assert (handle.get_color(), handle.get_marker()) == (style["color"], style["marker"])
    assert overlapping_texts(fig) == [] and texts_outside(fig) == []


def _profile(act, grad):
    return [LayerStats(f"conv{i}", "conv", 0.0, a, a, None, None, None, g, None)
            for i, (a, g) in enumerate(zip(act, grad), start=1)]


def test_a_depth_profile_draws_variants_as_the_learning_curves_do(tmp_path, drawn):
    """init-report --init zeros --init "constant(0)" drew both as solid lines with round
    markers, the second over the first: the profiles now have the learning curves' styles,
    and the copy is drawn over the first thinner, dashed, and named as its copy."""
    he = _profile([1.0, 1.1, 0.9], [1e-3, 2e-3, 5e-3])
    zeros = _profile([0.0, 0.0, 0.0], [0.0, 0.0, 5e-3])
    plot_depth_profile([("he_normal", he), ("zeros", zeros), ("constant(0)", zeros),
                        ("glorot_normal", _profile([0.5, 0.4, 0.3], [1e-4, 2e-4, 5e-3]))],
                       tmp_path / "d.png")
    [fig] = drawn
    (legend,) = fig.legends
    gaps = "activation 0 at every layer, gradient 0 at 2 of 3 layers: not on the log scale"
    assert [text.get_text().replace("\n", " ") for text in legend.get_texts()] == [
        "he_normal", f"zeros ({gaps})", f"constant(0) (same curves as zeros; {gaps})",
        "glorot_normal"]
    styles = variant_styles(["he_normal", "zeros", "constant(0)", "glorot_normal"],
                            {"constant(0)": "zeros"})
    for ax in fig.axes:
        lines = ax.get_lines()
        assert _shows_under(lines[2], lines[1])
        for line, style in zip(lines, styles.values()):
            assert (line.get_color(), line.get_marker()) == (style["color"], style["marker"])


def test_a_depth_profiles_gradient_is_its_norm_per_input_where_the_maps_change_size(
        tmp_path, drawn):
    """Unpadded convs: 62x62 maps at the first layer, 4x4 at the last. He init's gradient std
    per value fell 13x on the way back where its norm held, and the panel drew the std: a
    vanishing gradient under the init that keeps it. The panel draws the norm per input where
    every layer's count of values is known, and the std, titled so, where it is not."""
    values = [64 * 62 * 62, 64 * 32 * 32, 64 * 4 * 4]
    grads = [9.6e-5, 3.4e-4, 1.27e-3]
    stats = [LayerStats(f"conv{i}", "conv", 0.0, 1.0, 1.0, None, None, None, g, None,
                        values=v) for i, (g, v) in enumerate(zip(grads, values), start=1)]
    plot_depth_profile([("he_normal", stats)], tmp_path / "d.png")
    plot_depth_profile([("he_normal", _profile([1.0] * 3, grads))], tmp_path / "s.png")
    (_, norm_ax), (_, std_ax) = (fig.axes for fig in drawn)
    assert norm_ax.get_title() == "gradient norm per input (∂loss/∂output)"
    assert list(norm_ax.get_lines()[0].get_ydata()) == pytest.approx(
        [g * v ** 0.5 for g, v in zip(grads, values)])
    assert std_ax.get_title() == "gradient std (∂loss/∂output)"
    assert list(std_ax.get_lines()[0].get_ydata()) == pytest.approx(grads)


def test_a_depth_profile_of_no_signal_at_all_says_so(tmp_path, drawn):
    """Every variant's activation std 0 at every layer: its log axis had nothing to span, and
    init-report ended in Matplotlib's "Data cannot be log-scaled" traceback."""
    zeros = _profile([0.0, 0.0, 0.0], [0.0, 0.0, 5e-3])
    plot_depth_profile([("zeros", zeros), ("constant(0)", zeros)], tmp_path / "d.png")
    [fig] = drawn
    act_ax, grad_ax = fig.axes
    assert [text.get_text() for text in act_ax.texts] == [
        "0 at every layer under every init:\nnothing to show on a log scale"]
    # one gradient above 0 spans no decade: a linear axis, with no note
    assert grad_ax.get_yscale() == "linear" and not grad_ax.texts
    assert act_ax.get_xlim() == grad_ax.get_xlim() == (0.5, 3.5)
    assert overlapping_texts(fig) == [] and texts_outside(fig) == []


def test_a_deep_profile_marks_some_layers_only(tmp_path, drawn):
    """A marker at each of 200 layers drew a band of markers in which no line style showed."""
    plot_depth_profile([("he_normal", _profile([1.0] * 200, [1e-3] * 200))], tmp_path / "d.png")
    [fig] = drawn
    line = fig.axes[0].get_lines()[0]
    assert len(line.get_markevery()) <= 25


def test_a_lone_point_of_a_depth_profile_is_marked(tmp_path, drawn):
    """A layer whose neighbours are not on the log scale (0) drew a line of zero length, which
    is nothing: the gradient of the last of 32 layers, which a marker every other layer
    missed."""
    gradients = [0.0] * 31 + [7e-3]
    plot_depth_profile([("zeros", _profile([1.0] * 32, gradients))], tmp_path / "d.png")
    [fig] = drawn
    line = fig.axes[1].get_lines()[0]
    assert 31 in line.get_markevery()
    assert line.get_marker() not in ("", "None", None)


def _marked(line) -> list[int]:
    """The points of ``line`` drawn with a marker (none where it has no marker)."""
    if line.get_marker() in ("", "None", None):
        return []
    return list(line.get_markevery())


@pytest.mark.parametrize("steps, zeroed, lone", [
    (1, [], [0]),  # one step recorded
    (6, [2, 4], [3, 5]),  # a step between gaps, and the last after one
    (5, [1, 3], [0, 2, 4]),
    (4, [], []),
])
def test_a_lone_point_of_the_training_stats_is_marked(tmp_path, drawn, steps, zeroed, lone):
    """A run that recorded one step drew three empty panels: each layer's line was one point,
    of zero length; so was a step between gaps (an activation std of 0, off the log axis)."""
    records = _stats_records(steps=steps)
    for step in zeroed:
        records[step] = {**records[step], "layers": [
            {**row, "act_std": 0.0} for row in records[step]["layers"]]}
    plot_training_stats(records, tmp_path / "s.png")
    [fig] = drawn
    assert [_marked(line) for line in fig.axes[0].get_lines()] == [lone] * 5
    # the ReLUs' panel keeps its values at every step
    assert [_marked(line) for line in fig.axes[2].get_lines()] == (
        [[0]] * 5 if steps == 1 else [[]] * 5)
    # and the step axis has whole steps only: one step got ticks at -0.045, -0.03, ...
    low, high = fig.axes[0].get_xlim()
    shown = [tick for tick in fig.axes[0].get_xticks() if low <= tick <= high]
    assert shown and all(float(tick).is_integer() for tick in shown)


@pytest.mark.parametrize("values, ends", [
    ([3e-5, 2e-2], (1e-5, 1e-1)),  # autoscaled to 2e-5..3e-2: labels 1e-4 .. 1e-2 only
    ([0.7, 300.0], (0.1, 1e3)),
    ([2e-3, 5e-35], (None, None)),  # some powers of ten labelled: every 4th, 5th, ...
])
def test_both_ends_of_a_log_axis_over_many_decades_are_labelled(values, ends):
    """Across more than two powers of ten only the powers are labelled: the highest value
    (or the lowest) stood beyond the last label, and could not be read off."""
    fig = figure.new_figure(5.0, 4.6)
    ax = fig.subplots()
    ax.plot([1, 2], values)
    figure.log_axis(ax)
    fig.canvas.draw()
    low, high = ax.get_ylim()
    labelled = [loc for loc, label in zip(ax.yaxis.get_majorticklocs(),
                                          ax.yaxis.get_majorticklabels())
                if label.get_text() and low * (1 - 1e-9) <= loc <= high * (1 + 1e-9)]
    assert min(labelled) <= min(values) and max(labelled) >= max(values)
    assert ends == (None, None) or (low, high) == pytest.approx(ends)


def test_a_swept_number_is_drawn_in_its_order_by_value_on_a_log_axis(tmp_path, drawn):
    """lr=0.1,0.01 ran along the axis as given, 0.1 left of 0.01."""
    plot_accuracy_by_setting(_grid(_init_decides, lr=["0.1", "0.01", "0.001"]),
                             [("lr", ["0.1", "0.01", "0.001"])], tmp_path / "a.png")
    ax = drawn[0].axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "lr" + figure.LOG_NOTE  # labelled after its scale was set
    ticks = [(tick, label.get_text()) for tick, label
             in zip(ax.get_xticks(), ax.get_xticklabels())]
    assert ticks == [(0.001, "0.001"), (0.01, "0.01"), (0.1, "0.1")]
    (mean,) = ax.get_lines()
    assert list(mean.get_xdata()) == [0.001, 0.01, 0.1]


def test_close_accuracies_are_drawn_on_an_axis_zoomed_to_the_runs(tmp_path, drawn):
    """Two inits at 95.8% and 97.6% were one dot on an axis from 0 to 100%: the axis starts
    below the lowest run on a 5% step and its label says where; far apart, it starts at 0."""
    accuracy = {"he_normal": 0.976, "glorot_uniform": 0.958}
    plot_accuracy_by_setting(_grid(lambda s: accuracy[s["init"]], init=list(accuracy)),
                             [("init", list(accuracy))], tmp_path / "a.png")
    ax = drawn[0].axes[0]
    assert ax.get_ylim()[0] == pytest.approx(0.9)
    assert ax.get_ylabel() == "validation accuracy (axis from 90%)"
    assert max(ax.get_yticks()) == pytest.approx(1.0)  # none labelled 102%
    plot_accuracy_by_setting(_grid(_init_decides, init=["he_normal", "zeros"]),
                             [("init", ["he_normal", "zeros"])], tmp_path / "b.png")
    ax = drawn[1].axes[0]
    assert ax.get_ylim()[0] == 0 and ax.get_ylabel() == "validation accuracy"


def test_numbers_within_a_decade_stay_on_a_linear_axis(tmp_path, drawn):
    plot_accuracy_by_setting(_grid(_init_decides, batch=["64", "32"]),
                             [("batch", ["64", "32"])], tmp_path / "a.png")
    ax = drawn[0].axes[0]
    assert ax.get_xscale() == "linear"
    assert ax.get_xlabel() == "batch"
    assert [label.get_text() for label in ax.get_xticklabels()] == ["32", "64"]


def test_each_panel_draws_a_line_per_value_of_the_other_settings(tmp_path, drawn):
    """The mean over every init at each lr pooled a working init with a failed one: 48%
    at both, read as "the learning rate does not matter". Each panel splits its runs by the
    other settings, named in its own legend."""
    settings = {"init": ["he_normal", "normal(0, 0.01)"], "lr": ["0.1", "0.01"]}
    plot_accuracy_by_setting(_grid(_init_decides, **settings), list(settings.items()),
                             tmp_path / "a.png")
    init_ax, lr_ax = drawn[0].axes
    assert not drawn[0].legends
    assert [t.get_text() for t in lr_ax.get_legend().get_texts()] == [
        "init=he_normal", "init=normal(0, 0.01)"]
    assert [t.get_text() for t in init_ax.get_legend().get_texts()] == ["lr=0.01", "lr=0.1"]
    means = {line.get_label(): list(line.get_ydata()) for line in lr_ax.get_lines()}
    assert means == {"init=he_normal": [0.9, 0.9], "init=normal(0, 0.01)": [0.07, 0.07]}


def test_three_settings_name_every_combination_of_the_other_two(tmp_path, drawn):
    PICTURES["accuracy by three settings"](tmp_path)
    panels = drawn[0].axes
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in panels]
    # each value once (the first other setting's as colours, the second's as markers): the
    # 6 or 9 combinations named one by one ran into the next panel's legend
    assert legends == [["lr=0.001", "lr=0.01", "lr=0.1", "batch=32", "batch=64"],
                       ["init=he_normal", "init=normal(0, 0.01)", "init=glorot_uniform",
                        "batch=32", "batch=64"],
                       ["init=he_normal", "init=normal(0, 0.01)", "init=glorot_uniform",
                        "lr=0.001", "lr=0.01", "lr=0.1"]]
    styles = {(line.get_color(), line.get_linestyle(), line.get_marker())
              for line in panels[2].get_lines()}
    assert len(styles) == 9  # every line told apart


def test_a_legend_of_four_entries_fills_even_columns(tmp_path, drawn):
    """A sweep's four groups were laid out three to a row, the fourth alone under the first."""
    groups = [Group(label=label, settings={}, cells=[
        (None, CellResult(label, _epochs(loss=1.0 + i), {}))]) for i, label in enumerate(
        ["init=he_normal, lr=0.01", "init=he_normal, lr=0.1",
         "init=normal(0, 0.01), lr=0.1", "init=normal(0, 0.01), lr=0.01"])]
    plot_group_curves(groups, tmp_path / "c.png", title="digits: sweep")
    (legend,) = drawn[0].legends
    assert legend._ncols == 2


def test_a_log_axis_writes_its_ticks_in_one_format(tmp_path, drawn):
    """A gradient std from 4e-4 to 6e-3 was labelled 4×10⁻⁴, 6×10⁻⁴, then 0.001, 0.002."""
    fig = figure.new_figure(5.0, 4.0)
    ax = fig.subplots()
    ax.plot([1, 2, 3], [4.3e-4, 1e-3, 5.8e-3])
    figure.log_axis(ax)
    fig.canvas.draw()
    ticks = [label.get_text() for label in [*ax.yaxis.get_majorticklabels(),
                                            *ax.yaxis.get_minorticklabels()]
             if label.get_text()]
    assert len(ticks) >= 3
    assert all("10" in tick for tick in ticks), ticks


def test_a_depth_profile_within_a_decade_is_drawn_on_a_linear_axis(tmp_path, drawn):
    """Activation stds from 1.1 to 2.1 sat on a log axis labelled 1, 2 and 3 alone; on a
    linear axis from 1.1 (digits' init-report) a x1.76 rise looked steep: it starts at 0."""
    plot_depth_profile([("he_normal (spec)", _depth_stats(1.1))], tmp_path / "d.png")
    act_ax, grad_ax = drawn[0].axes
    assert act_ax.get_yscale() == grad_ax.get_yscale() == "linear"
    assert act_ax.get_ylim()[0] == grad_ax.get_ylim()[0] == 0
    plot_depth_profile([("normal(0, 0.01)", _depth_stats(0.1))], tmp_path / "d.png")
    assert {ax.get_yscale() for ax in drawn[1].axes} == {"log"}  # across 7 decades
    drawn[0].canvas.draw()
    low, high = act_ax.get_ylim()
    labelled = [tick for tick, label in zip(act_ax.get_yticks(), act_ax.get_yticklabels())
                if low <= tick <= high and label.get_text()]
    assert len(labelled) >= 4


SPEC_FILES = sorted(SPECS.glob("*.cnn"))
DIAGRAMS = [(spec, detail, rankdir) for spec in SPEC_FILES for detail in DETAILS
            for rankdir in RANKDIRS]


@pytest.mark.parametrize("spec, detail, rankdir", DIAGRAMS,
                         ids=[f"{spec.stem}-{detail}-{rankdir}" for spec, detail, rankdir
                              in DIAGRAMS])
def test_a_diagrams_edge_labels_cover_nothing_drawn(spec, detail, rankdir):
    """resnet_near_identity's shortcut into its block, drawn left to right, had its shape on the
    block's dashed frame: dot lets the place it makes for an edge's label into a cluster the
    edge only passes. No label meets a frame, a node, a text or another label now, and no
    edge runs through a label or a node it does not join; the full diagrams' folded runs of
    blocks (resnet_near_identity's "res_2: 1 more block like res_1") among them."""
    drawn = layout(build_graph(cnnspec.load(spec), rankdir, detail).source)
    assert drawn.edge_labels and drawn.nodes  # there is something to check
    assert diagram_problems(drawn) == []


def test_every_frame_of_a_repeated_block_is_checked():
    """The frames the test above holds labels clear of are the blocks' (the network's own
    cluster, around the title, draws none)."""
    drawn = layout(build_graph(cnnspec.load(SPECS / "resnet_near_identity.cnn"), "LR",
                               "minimal").source)
    assert [frame.name for frame in drawn.frames] == ["frame of cluster_res_1"]
    drawn = layout(build_graph(cnnspec.load(SPECS / "resnet_near_identity.cnn")).source)
    assert [frame.name for frame in drawn.frames] == ["frame of cluster_res_1",
                                                      "frame of cluster_res_3"]
    assert "node res_2..res_2" in [node.name for node in drawn.nodes]


def _label_at(box: Box) -> Layout:
    return Layout(nodes=[], edge_labels=[Drawn("label 16x16x16 of a -> b", box)],
                  other_texts=[], frames=[Drawn("frame of cluster_res_1", Box(0, 0, 100, 50))],
                  edges=[])


@pytest.mark.parametrize("box, covers", [
    (Box(90, 46, 120, 54), True),  # across the frame's top right corner
    (Box(40, 49.5, 70, 58), True),  # touching its top from outside
    (Box(40, 42, 70, 49.5), True),  # touching it from inside
    (Box(40, 20, 70, 28), False),  # inside
    (Box(110, 20, 140, 28), False),  # beside it
])
def test_a_label_on_a_frame_is_a_problem(box, covers):
    """A label wholly inside a block's frame or wholly outside it is fine; across its line,
    or within a point of it, it is not."""
    problems = diagram_problems(_label_at(box))
    assert problems == (["label 16x16x16 of a -> b covers the frame of cluster_res_1"]
                        if covers else [])


def test_a_label_an_edge_runs_through_is_a_problem():
    """Read from the renderer's JSON as it writes it: an edge from a to c through the label
    of a -> b, and through node b, which it does not join."""
    ops = [{"op": "F", "size": 8.0, "face": "Helvetica"},
           {"op": "T", "pt": [50.0, 100.0], "align": "c", "width": 30.0, "text": "16x16x16"}]
    graph = {"objects": [{"name": "a", "pos": "50,200", "width": "1", "height": "0.5"},
                         {"name": "b", "pos": "50,20", "width": "1", "height": "0.5"},
                         {"name": "c", "pos": "50,-100", "width": "1", "height": "0.5"},
                         {"name": "a->b.label", "pos": "50,100", "_ldraw_": ops}],
             "edges": [{"tail": 0, "head": 2, "_draw_": [
                 {"op": "b", "points": [[50, 182], [50, 100], [50, 50], [50, -82]]}]}]}
    assert diagram_problems(read_layout(graph)) == [
        "label 16x16x16 of a->b covers edge a -> c", "edge a -> c runs through node b"]
