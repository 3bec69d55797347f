"""Plots of a run: curves, filter grids and feature maps are valid PNGs of a sensible size."""
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnspec.errors import RunError
from cnnspec.render.curves import plot_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def _metrics(epochs=5, with_val=True):
    out = []
    for e in range(1, epochs + 1):
        record = {"epoch": e, "train_loss": 2.0 / e, "train_acc": 1 - 0.5 / e,
                  "lr": 0.1 * 0.5 ** (e // 2)}
        if with_val:
            record.update(val_loss=2.2 / e, val_acc=1 - 0.6 / e)
        out.append(record)
    return out


def test_curves_png(tmp_path):
    out = plot_curves(_metrics(), tmp_path / "curves.png")
    width, height = _png_size(out)
    assert 600 <= width <= 2000 and 250 <= height <= 1200


def test_curves_without_validation_or_lr(tmp_path):
    metrics = [{k: v for k, v in r.items() if k != "lr"} for r in _metrics(with_val=False)]
    out = plot_curves(metrics, tmp_path / "sub" / "curves.png")
    assert _png_size(out)[0] > 0


def test_curves_survive_divergence_and_gaps(tmp_path):
    metrics = _metrics()
    metrics[-1]["train_loss"] = 1e4
    metrics[-2]["val_loss"] = math.nan
    assert _png_size(plot_curves(metrics, tmp_path / "c.png"))[0] > 0


def test_curves_mark_the_best_epoch_in_both_panels(tmp_path, monkeypatch):
    """eval and predict use best.npz: the curves show which epoch that is, in the legend."""
    from matplotlib.figure import Figure

    figures = []
    monkeypatch.setattr("cnnspec.render.curves.save_png",
                        lambda fig, out: figures.append(fig) or Path(out))
    plot_curves(_metrics(), tmp_path / "c.png", best_epoch=3)
    plot_curves(_metrics(), tmp_path / "c.png")
    marked, plain = figures
    assert isinstance(marked, Figure)

    def labels(fig):
        return [text.get_text() for ax in fig.axes if ax.get_legend()
                for text in ax.get_legend().get_texts()]

    assert labels(marked).count("best epoch 3") == 2
    assert not any("best" in label for label in labels(plain))


def test_accuracy_axes_read_in_percent_as_the_tables_do():
    """The tables print accuracies in percent (val acc 99.0 %); the curves' axes do too."""
    from cnnspec.render import figure

    ax = figure.new_figure(4, 3).subplots()
    figure.share_axis(ax)
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert ax.get_ylim() == (0.0, 1.02)


@pytest.mark.parametrize("values, bottom", [
    ([0.91, 0.95, 1.0], 0.85),  # digits' validation: the panel is theirs, 2% margin below
    ([0.63, 0.93, 1.0], 0.55),  # a first epoch's 63% stays in view
    ([0.25, 0.9], 0.0),  # near chance: the axis starts at 0
    ([0.35, 0.4], 0.3),
])
def test_an_accuracy_axis_starts_below_its_lowest_point_and_the_title_says_so(
        tmp_path, monkeypatch, values, bottom):
    """curves.png drew accuracy from 0 to 100%, squashing 91-100% where a run on digits
    moves: the axis starts a margin below the lowest point, on a 5% step, never above it, and
    the panel's title says where it starts when that is not 0."""
    from cnnspec.render import figure

    assert figure.share_bottom(values) == pytest.approx(bottom)
    assert figure.share_bottom(values) < min(values)
    figures = []
    monkeypatch.setattr("cnnspec.render.curves.save_png",
                        lambda fig, out: figures.append(fig) or Path(out))
    metrics = [{"epoch": e + 1, "train_loss": 1.0, "train_acc": v, "val_acc": v}
               for e, v in enumerate(values)]
    plot_curves(metrics, tmp_path / "c.png")
    (_, acc_ax) = figures[0].axes[:2]
    assert acc_ax.get_ylim() == pytest.approx((bottom, 1.02))
    title = acc_ax.get_title()
    assert (f"axis from {100 * bottom:.0f}%" in title) == (bottom > 0), title


@pytest.mark.parametrize("summary, best", [
    ('{"best_epoch": 4, "classes": ["a"]}', 4),
    ('{"classes": ["a"]}', None),  # no validation split
    ('{"best_epoch": -1}', None),
    ('[1, 2]', None),
    ("{not json", None),
])
def test_the_curves_callback_reads_the_best_epoch_from_the_summary(tmp_path, monkeypatch,
                                                                    summary, best):
    from cnnspec.render import curves

    seen = {}
    monkeypatch.setattr(curves, "plot_curves",
                        lambda metrics, out, best_epoch, extended_after, title:
                        seen.update(best=best_epoch))
    (tmp_path / "summary.json").write_text(summary)
    curves.Curves().on_end(_metrics(), tmp_path, display=None)
    assert seen == {"best": best}


@pytest.mark.parametrize("summary, title", [
    ('{"spec": "digits", "classes": ["a"]}', "digits: loss and accuracy per epoch of run digits-1"),
    ("{not json", "loss and accuracy per epoch of run digits-1"),
    ('{"spec": ["x"], "classes": ["a"]}', "loss and accuracy per epoch of run digits-1"),
])
def test_the_curves_are_titled_with_the_spec_and_the_run(tmp_path, monkeypatch, summary,
                                                         title):
    """curves.png had no title: opened beside another run's, nothing said which run it drew."""
    from cnnspec.render import curves

    figures = []
    monkeypatch.setattr(curves, "save_png", lambda fig, out: figures.append(fig) or Path(out))
    run = tmp_path / "digits-1"
    run.mkdir()
    (run / "summary.json").write_text(summary)
    curves.Curves().on_end(_metrics(), run, display=None)
    assert figures[0]._suptitle.get_text() == title


@pytest.mark.parametrize("extended, after", [
    ('[{"from_epochs": 2, "to_epochs": 4}, {"from_epochs": 4, "to_epochs": 5}]', (2, 4)),
    ('[{"from_epochs": "2"}, 3]', ()),  # damaged: left out
])
def test_the_curves_mark_where_the_run_was_extended(tmp_path, monkeypatch, extended, after):
    """train --resume --epochs stretches a schedule over the new total (a cosine schedule's
    rate rises again): a dashed line between the epochs, one legend entry in each panel."""
    from cnnspec.render import curves

    figures = []
    monkeypatch.setattr(curves, "save_png", lambda fig, out: figures.append(fig) or Path(out))
    (tmp_path / "summary.json").write_text(
        f'{{"best_epoch": 2, "classes": ["a", "b"], "extended": {extended}}}')
    curves.Curves().on_end(_metrics(), tmp_path, display=None)
    [fig] = figures
    loss_ax, acc_ax = fig.axes[:2]
    for ax in (loss_ax, acc_ax):
        dashed = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"
                  and line.get_color() == curves.palette.EXTENDED_COLOUR]
        assert dashed == [epoch + 0.5 for epoch in after]
    legends = [text.get_text() for ax in fig.axes if ax.get_legend()
               for text in ax.get_legend().get_texts()]
    assert legends.count("extended") == (2 if after else 0)


def test_curves_empty_is_a_run_error(tmp_path):
    with pytest.raises(RunError):
        plot_curves([], tmp_path / "c.png")


def test_curves_need_png_extension(tmp_path):
    with pytest.raises(RunError, match="PNG"):
        plot_curves(_metrics(), tmp_path / "c.jpg")


# --- filters -------------------------------------------------------------------------------

from cnnspec.render.features import plot_features
from cnnspec.render.filters import default_title, filter_image, grid_layout, plot_filters
from cnnspec.render.tiles import side_by_side, symmetric_limit


def test_filters_png_with_initial_is_wider(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 1, 3, 3))
    alone = _png_size(plot_filters(w, tmp_path / "a.png"))
    paired = _png_size(plot_filters(w, tmp_path / "b.png", initial=w * 0.5, title="conv1"))
    assert 300 <= alone[0] <= 2000 and 200 <= alone[1] <= 2000
    assert paired[0] > alone[0]


def test_filters_side_by_side_channels_make_wide_tiles(tmp_path):
    w = np.random.default_rng(1).normal(size=(4, 8, 3, 3))
    averaged = _png_size(plot_filters(w, tmp_path / "a.png", channels="average"))
    side = _png_size(plot_filters(w, tmp_path / "s.png", channels="side"))
    assert side[0] > averaged[0]


def test_filter_image_modes():
    kernels = np.stack([np.ones((3, 3)), -np.ones((3, 3))])
    assert np.allclose(filter_image(kernels, "average"), 0.0)
    side = filter_image(kernels, "side")
    assert side.shape == (3, 7)
    assert np.isnan(side[:, 3]).all() and (side[:, :3] == 1).all() and (side[:, 4:] == -1).all()
    assert side_by_side(kernels[:1]).shape == (3, 3)


def test_tiles_are_centred_on_zero_and_survive_all_zero():
    assert symmetric_limit(np.array([[-3.0, 1.0]])) == 3.0
    assert symmetric_limit(np.zeros((2, 2))) == 1.0
    assert symmetric_limit(np.array([[np.nan, -2.0]])) == 2.0


def test_filters_title_says_how_channels_are_shown():
    w = np.zeros((100, 4, 3, 3))
    assert "channels averaged" in default_title(w, "average", 64)
    assert "first 64 of 100 filters" in default_title(w, "side", 64)
    # which kernel is which channel: an RGB input's channels are red, green, blue in order
    assert "channels side by side, 1 to 4 from left to right" in default_title(w, "side", 64)
    assert "averaged" not in default_title(np.zeros((2, 1, 3, 3)), "average", 2)
    assert default_title(np.zeros((9, 1, 3, 3)), "average", 9, averaged_from=[1, 8]) == \
        "9 filters 3x3, 1 or 8 input channels (channels averaged)"


@pytest.mark.parametrize("count,tile_w,tile_h,per_filter", [
    (16, 1.0, 1.25, 1), (64, 1.0, 1.25, 2), (7, 1.0, 1.25, 1), (30, 3.0, 0.6, 1)])
def test_grid_layout_is_near_four_by_three(count, tile_w, tile_h, per_filter):
    columns = grid_layout(count, tile_w, tile_h, per_filter)
    ratio = (columns * per_filter * tile_w) / (math.ceil(count / columns) * tile_h)
    assert 0.6 < ratio / (4 / 3) < 1.7
    assert grid_layout(1, 1.0, 1.0, 2) == 1


@pytest.mark.parametrize("bad", [
    {"weights": np.zeros((3, 3))},
    {"weights": np.zeros((2, 1, 3, 3)), "initial": np.zeros((2, 1, 5, 5))},
    {"weights": np.zeros((2, 1, 3, 3)), "channels": "sum"},
])
def test_filters_reject_bad_input(tmp_path, bad):
    with pytest.raises(RunError):
        plot_filters(out_png=tmp_path / "x.png", **bad)


# --- features ------------------------------------------------------------------------------

def test_features_png(tmp_path):
    rng = np.random.default_rng(0)
    maps = {"conv1": rng.normal(size=(4, 8, 8)), "conv2": rng.normal(size=(20, 4, 4))}
    width, height = _png_size(plot_features(rng.normal(size=(1, 8, 8)), maps,
                                            tmp_path / "f.png", title="tiny"))
    assert width > height > 200  # 16 columns at most, three rows


def test_features_rgb_input(tmp_path):
    rng = np.random.default_rng(0)
    out = plot_features(rng.normal(size=(3, 8, 8)), {"c": rng.normal(size=(2, 4, 4))},
                        tmp_path / "f.png")
    assert _png_size(out)[0] > 0


def test_features_reject_bad_input(tmp_path):
    with pytest.raises(RunError):
        plot_features(np.zeros((8, 8)), {"c": np.zeros((1, 4, 4))}, tmp_path / "f.png")
    with pytest.raises(RunError):
        plot_features(np.zeros((1, 8, 8)), {}, tmp_path / "f.png")
    with pytest.raises(RunError, match="fc"):
        plot_features(np.zeros((1, 8, 8)), {"fc": np.zeros(10)}, tmp_path / "f.png")


def test_scale_captions_have_no_exponents_until_they_would_not_fit():
    from cnnspec.render.tiles import scale_text

    assert scale_text(0.1234) == "±0.12"
    assert scale_text(7.44) == "±7.4"
    assert scale_text(123.4) == "±123"
    assert scale_text(99999.4) == "±99999"
    assert scale_text(3e38) == "±3.0e+38"  # not 39 digits across the neighbouring tiles


def test_channels_of_huge_weights_average_without_overflow():
    from cnnspec.render.filters import filter_image

    kernels = np.full((4, 3, 3), 3e38, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(filter_image(kernels, "average"), 3e38, rtol=1e-6)


def test_a_tile_of_zeros_is_captioned_all_0_not_the_colour_range():
    from cnnspec.render.tiles import scale_caption

    assert scale_caption(np.zeros((3, 3))) == "all 0"
    assert scale_caption(np.array([[np.nan, 0.0]])) == "all 0"  # channels side by side
    assert scale_caption(np.array([[0.0, -0.5]])) == "±0.5"


def _features_figure(monkeypatch, tmp_path, maps):
    from cnnspec.render import features

    drawn = []
    monkeypatch.setattr(features, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot_features(np.ones((1, 8, 8)), maps, tmp_path / "f.png")
    return drawn[0]


def test_a_dead_channels_caption_cannot_be_read_as_another_number(tmp_path, monkeypatch):
    """Channels 2 and 12 of a ReLU layer all zero were captioned "2 0" and "12 0", read as
    channels 20 and 120; every caption is now its number, a colon and its scale."""
    x = np.random.default_rng(0).normal(size=(12, 4, 4))
    x[[1, 11]] = 0.0
    fig = _features_figure(monkeypatch, tmp_path, {"conv1": x})
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 12
    assert titles[1] == "2: all 0" and titles[11] == "12: all 0"
    assert all(re.fullmatch(r"\d+: (±[0-9.]+|all 0)", title) for title in titles), titles


def test_filters_captions_read_as_the_feature_maps_do(tmp_path, monkeypatch):
    from cnnspec.render import filters

    drawn = []
    monkeypatch.setattr(filters, "save_png", lambda fig, out: drawn.append(fig) or out)
    weights = np.ones((3, 1, 3, 3))
    weights[2] = 0.0
    plot_filters(weights, tmp_path / "w.png")
    titles = [ax.get_title() for ax in drawn[0].axes if ax.get_title()]
    assert titles == ["1: ±1", "2: ±1", "3: all 0"]


@pytest.mark.parametrize("rows", [1, 3])
def test_the_last_row_of_feature_maps_stands_clear_of_the_bottom_edge(tmp_path, monkeypatch,
                                                                      rows):
    """The last row's frames were 0.15 inch above the picture's edge, read as touching it;
    below them is now as much room as above a row's name."""
    from cnnspec.render.features import Layout

    maps = {f"conv{i}": np.ones((4, 4, 4)) for i in range(rows)}
    fig = _features_figure(monkeypatch, tmp_path, maps)
    height = fig.get_size_inches()[1]
    lowest = min(ax.get_position().y0 for ax in fig.axes) * height
    layout = Layout(4, 1 + rows, 0.0)
    assert lowest == pytest.approx(layout.space + layout.label)
    assert lowest > 2 * layout.margin


def test_one_by_one_kernels_are_drawn_channels_side_by_side_by_default():
    from cnnspec.render.run_pictures import default_channels

    assert default_channels(np.zeros((6, 4, 1, 1))) == "side"  # a mean would be one pixel
    assert default_channels(np.zeros((6, 1, 1, 1))) == "average"  # nothing to put side by side
    assert default_channels(np.zeros((6, 4, 3, 3))) == "average"


def test_no_training_stats_to_plot_names_the_interval_as_the_caller_gives_it(tmp_path):
    """The library was told to "use a --stats interval", an option of train."""
    from cnnspec.cli import OPTION_NAMES
    from cnnspec.errors import RunError
    from cnnspec.lab.plots import plot_training_stats

    with pytest.raises(RunError) as info:
        plot_training_stats([], tmp_path / "s.png")
    assert info.value.hint == "use a stats_every interval smaller than the number of steps"
    assert info.value.worded(OPTION_NAMES)[1] == ("use a --stats interval smaller than the "
                                                  "number of steps")


def test_training_stats_steps_are_whole_numbers(tmp_path, monkeypatch):
    from cnnspec.lab.plots import plot_training_stats
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    layer = {"name": "c1", "kind": "conv", "act_std": 1.0, "grad_std": 0.01}
    relu = {"name": "c1_relu", "kind": "relu", "act_std": 0.5, "grad_std": 0.01,
            "dead_frac": 0.5}
    records = [{"step": s, "layers": [layer, relu]} for s in range(0, 21, 5)]
    plot_training_stats(records, tmp_path / "s.png")
    drawn[0].canvas.draw()  # ticks are placed when drawn
    for ax in drawn[0].axes:
        ticks = [t for t in ax.get_xticks() if 0 <= t <= 20]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_a_relus_dead_units_line_has_the_colour_of_its_conv_in_the_other_panels(tmp_path,
                                                                                monkeypatch):
    """The ReLUs' panel spread its own shallow-to-deep colours over the ReLUs alone: with two
    conv+ReLU layers before a dense output, conv2_relu took the colour of fc, not conv2's."""
    from matplotlib.colors import to_hex

    from cnnspec.lab.plots import plot_training_stats
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    layers = []
    for name, kind in (("conv1", "conv"), ("conv1_relu", "relu"), ("pool1", "maxpool"),
                       ("conv2", "conv"), ("conv2_relu", "relu"), ("flatten1", "flatten"),
                       ("fc", "dense")):
        dead = {"dead_frac": 0.5} if kind == "relu" else {}
        layers.append({"name": name, "kind": kind, "act_std": 1.0, "grad_std": 0.01, **dead})
    plot_training_stats([{"step": s, "layers": layers} for s in (0, 5)], tmp_path / "s.png")
    act_ax, grad_ax, dead_ax = drawn[0].axes[:3]
    colour = {line.get_label(): to_hex(line.get_color()) for line in act_ax.get_lines()}
    assert len(set(colour.values())) == 3  # conv1, conv2, fc apart
    assert colour == {line.get_label(): to_hex(line.get_color()) for line in grad_ax.get_lines()}
    dead = {line.get_label(): to_hex(line.get_color()) for line in dead_ax.get_lines()}
    assert dead == {"conv1_relu": colour["conv1"], "conv2_relu": colour["conv2"]}


def test_features_long_caption_is_wrapped_to_the_figure(tmp_path, monkeypatch):
    from cnnspec.render import features

    drawn = []
    monkeypatch.setattr(features, "save_png", lambda fig, out: drawn.append(fig) or out)
    caption = ("net: photo.png (converted RGB to greyscale; resized 480 high x 640 wide -> "
               "8x8; inverted to light strokes on a dark background, like the training data); "
               "predicted 4")
    plot_features(np.zeros((1, 8, 8)), {"c": np.zeros((4, 8, 8))}, tmp_path / "f.png",
                  title=caption)
    fig = drawn[0]
    fig.canvas.draw()
    title = fig._suptitle
    assert " ".join(title.get_text().split()).startswith(" ".join(caption.split()))
    box = title.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width  # no text cut off at either side


def test_depth_profile_names_a_signal_of_zeros_and_counts_layers_in_whole_numbers(
        tmp_path, monkeypatch):
    from cnnspec.lab.plots import plot_depth_profile
    from cnnspec.lab.stats import LayerStats
    from cnnspec.render import figure

    def stats(act, grad):
        return [LayerStats(f"c{i}", "conv", 0.0, a, a, None, None, None, g, None)
                for i, (a, g) in enumerate(zip(act, grad))]

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot_depth_profile([("he_normal", stats([1.0, 1.1, 0.9], [0.1, 0.1, 0.2])),
                        ("zeros", stats([0.0, 0.0, 0.0], [0.0, 0.0, 0.3]))], tmp_path / "d.png")
    fig = drawn[0]
    fig.canvas.draw()
    act_ax, grad_ax = fig.axes
    # one legend under both panels (inside each, it could cover a line), its gaps said for each
    assert not act_ax.get_legend() and not grad_ax.get_legend()
    assert [text.get_text() for text in fig.legends[0].get_texts()] == [
        "he_normal",
        "zeros (activation 0 at every layer, gradient 0 at 2 of 3 layers: not on the log scale)"]
    assert _tick_labels(act_ax.xaxis) == ["c0", "c1", "c2"]  # a few layers: named
    assert act_ax.get_xlabel() == "conv/dense layer, by depth"
    drawn.clear()
    deep = stats([1.0] * 30, [0.1] * 30)
    plot_depth_profile([("he_normal", deep)], tmp_path / "deep.png")
    fig = drawn[0]
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 30]
    assert ticks and all(float(t).is_integer() for t in ticks)  # too many names: counted
    assert fig.axes[0].get_xlabel() == "depth (conv/dense layer)"


def _tick_labels(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]


def test_a_log_axis_within_a_decade_reads_in_plain_numbers(tmp_path, monkeypatch):
    """A compare's loss over a few epochs spans less than a decade: its ticks read 0.5, 0.7,
    not 5×10⁻¹. The std of a well-kept signal over a few layers, as narrow, is drawn on a
    linear axis from 0 (a log one labelled it 1, 2 and 3 alone; one from 1.1 made a x1.76
    change look steep)."""
    from cnnspec.lab.plots import plot_depth_profile, plot_learning_curves
    from cnnspec.lab.stats import LayerStats
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    stats = [LayerStats(f"c{i}", "conv", 0.0, a, a, None, None, None, a / 1000, None)
             for i, a in enumerate([1.25, 1.1, 1.5, 2.2, 2.6])]
    plot_depth_profile([("he_normal", stats)], tmp_path / "d.png")
    plot_learning_curves({"he_normal": [[{"val_acc": 0.9, "train_loss": 0.45}]],
                          "glorot_normal": [[{"val_acc": 0.6, "train_loss": 1.39}]]},
                         tmp_path / "c.png")
    for fig in drawn:
        fig.canvas.draw()
    act_ax, grad_ax = drawn[0].axes
    loss_ax = drawn[1].axes[1]
    for axis in (act_ax.yaxis, loss_ax.yaxis):
        labels = _tick_labels(axis)
        assert labels and not any("times" in label for label in labels), labels
    assert act_ax.get_yscale() == grad_ax.get_yscale() == "linear"
    assert {"0.0", "1.0", "2.0"} <= set(_tick_labels(act_ax.yaxis))
    assert act_ax.get_ylim()[0] == 0
    # half a decade (1.39 down to 0.45) has every tick labelled, not one in three
    assert {"0.5", "0.7", "0.8", "0.9"} <= set(_tick_labels(loss_ax.yaxis))


def _loss_axis_of_two_curves(tmp_path, monkeypatch, he_losses, glorot_losses):
    """The drawn loss axis of a compare's learning curves, He's and Glorot's train losses
    per epoch given."""
    from cnnspec.lab.plots import plot_learning_curves
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot_learning_curves({name: [[{"val_acc": 0.5, "train_loss": loss} for loss in losses]]
                          for name, losses in (("he_normal", he_losses),
                                               ("glorot_normal", glorot_losses))},
                         tmp_path / "c.png")
    drawn[0].canvas.draw()
    return drawn[0].axes[1]


def _plain_labels(axis) -> set[str]:
    """Tick labels without Matplotlib's mathtext wrapping."""
    return {label.strip("$").replace("\\mathdefault{", "").rstrip("}")
            for label in _tick_labels(axis)}


def test_a_decade_among_plain_ticks_is_plain_too(tmp_path, monkeypatch):
    """A loss from 2.3 down to 0.2 crosses 1: its ticks read 0.2, 0.3, ... 1, 2, not 0.6, 10⁰,
    2 (a taller 10⁰ among plain numbers reads as another scale, and touched a 0.9 above it)."""
    loss_ax = _loss_axis_of_two_curves(tmp_path, monkeypatch, [1.2, 0.2], [2.3, 2.3])
    labels = _tick_labels(loss_ax.yaxis)
    assert {"0.2", "0.3", "1", "2"} <= _plain_labels(loss_ax.yaxis), labels
    assert not any("^" in label for label in labels), labels


def test_a_short_log_axis_labels_no_two_ticks_on_top_of_each_other(tmp_path, monkeypatch):
    """tools/he2015_fig3.py's lower panels, 2.3 inches high: a loss from 1.39 down to 0.24
    spans the decade 0.2 to 2, and every tick of it was labelled, 1, 0.9, 0.8 and 0.7 running
    into one another; there, as across one to two decades, it is 0.2, 0.3, 0.4, 0.6, 1, 2."""
    from itertools import pairwise

    from cnnspec.lab.plots import plot_curve_panels
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)

    def runs(losses):
        return [[{"val_acc": 0.5, "train_loss": loss} for loss in losses]]

    curves = {"he_normal": runs([1.2, 0.59, 0.24, 0.35]), "glorot_normal": runs([1.39] * 4)}
    plot_curve_panels({"22 layers": curves, "30 layers": curves}, tmp_path / "p.png")
    fig = drawn[0]
    fig.canvas.draw()
    loss_ax = fig.axes[2]
    assert loss_ax.get_ylabel() == "training loss (log scale)"
    renderer = fig.canvas.get_renderer()
    boxes = sorted((label.get_window_extent(renderer)
                    for label in loss_ax.yaxis.get_ticklabels(which="both")
                    if label.get_text() and label.get_visible()), key=lambda box: box.y0)
    assert len(boxes) >= 4, _tick_labels(loss_ax.yaxis)
    assert all(lower.y1 <= upper.y0 for lower, upper in pairwise(boxes)), \
        _plain_labels(loss_ax.yaxis)
    labels = _plain_labels(loss_ax.yaxis)
    assert {"0.2", "0.3", "0.4", "0.6", "1", "2"} <= labels and "0.9" not in labels, labels


def test_a_log_axis_reaches_a_labelled_tick_above_its_highest_curve(tmp_path, monkeypatch):
    """Glorot's plain-net loss stays at 1.61 (chance over 5 classes) while He's falls to 0.07:
    the axis's top is the labelled tick 2, not an unlabelled place above 1."""
    loss_ax = _loss_axis_of_two_curves(tmp_path, monkeypatch, [1.1, 0.07], [1.61, 1.609])
    assert loss_ax.get_ylim()[1] == pytest.approx(2)
    assert "2" in _plain_labels(loss_ax.yaxis)


def test_a_log_axis_reaches_a_labelled_tick_below_its_lowest_curve(tmp_path, monkeypatch):
    """A sweep's one-epoch losses, 1.19 and 2.6: the axis was labelled at 2 and 3 alone,
    nothing near the point at 1.19; its bottom is now the labelled tick 1."""
    loss_ax = _loss_axis_of_two_curves(tmp_path, monkeypatch, [1.19], [2.6])
    assert loss_ax.get_ylim() == pytest.approx((1, 3))
    assert {"1", "2", "3"} <= _plain_labels(loss_ax.yaxis)


def test_a_loss_within_a_factor_of_two_is_drawn_on_a_linear_axis(tmp_path, monkeypatch):
    """plain30's losses under four inits, 1.30 to 1.39 over two epochs: a log axis from 1 to
    2 labelled those two ticks alone, nothing between them to read the curves off; a linear
    one labels several ticks between the lowest and the highest curve."""
    loss_ax = _loss_axis_of_two_curves(tmp_path, monkeypatch, [1.386, 1.294], [1.387, 1.387])
    assert loss_ax.get_yscale() == "linear"
    assert loss_ax.get_ylabel() == "training loss"
    between = [tick for tick in loss_ax.get_yticks() if 1.294 <= tick <= 1.387]
    assert len(between) >= 3, loss_ax.get_yticks()


def test_a_log_loss_axis_says_it_is_logarithmic(tmp_path, monkeypatch):
    """Its ticks 0.2, 0.3, ..., 1, 2 are plain numbers, which alone read as a linear axis's."""
    loss_ax = _loss_axis_of_two_curves(tmp_path, monkeypatch, [1.1, 0.07], [1.61, 1.609])
    assert loss_ax.get_yscale() == "log"
    assert loss_ax.get_ylabel() == "training loss (log scale)"


def _curves_figure(monkeypatch, tmp_path, metrics):
    from cnnspec.render import curves

    drawn = []
    monkeypatch.setattr(curves, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot_curves(metrics, tmp_path / "c.png")
    drawn[0].canvas.draw()
    return drawn[0]


def _drawn_at(line, x) -> set[float]:
    """The values a step line holds over ``x`` (on a horizontal piece that spans it)."""
    xs, ys = line.get_xdata(), line.get_ydata()
    return {ys[i] for i in range(len(xs) - 1)
            if ys[i] == ys[i + 1] and xs[i] < x < xs[i + 1]}


@pytest.mark.parametrize("rates", [[0.02, 0.01], [0.1], [0.1, 0.1, 0.05, 0.001]])
def test_every_epochs_learning_rate_is_drawn_over_its_epoch(tmp_path, monkeypatch, rates):
    """metrics.csv of a two-epoch cosine run: lr 0.02, then 0.01. Drawn as a step from each
    point to the next, the last rate had no width and the line stayed at 0.02."""
    metrics = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5, "lr": lr}
               for e, lr in enumerate(rates, 1)]
    fig = _curves_figure(monkeypatch, tmp_path, metrics)
    [line] = [line for ax in fig.axes for line in ax.get_lines()
              if line.get_label() == "learning rate"]
    for epoch, lr in enumerate(rates, 1):
        assert _drawn_at(line, epoch) == {lr}
        assert _drawn_at(line, epoch - 0.4) == _drawn_at(line, epoch + 0.4) == {lr}
    loss_ax, acc_ax = fig.axes[:2]
    assert acc_ax.get_xlim() == loss_ax.get_xlim()  # both panels on one epoch axis
    for ax in (loss_ax, acc_ax):  # whole epochs, a run of one epoch too
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(t == int(t) for t in ticks)


def test_a_log_axis_over_decades_keeps_powers_of_ten(tmp_path, monkeypatch):
    from cnnspec.lab.plots import plot_depth_profile
    from cnnspec.lab.stats import LayerStats
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    stats = [LayerStats(f"c{i}", "conv", 0.0, 10.0 ** -i, 1.0, None, None, None, 1.0, None)
             for i in range(0, 25, 3)]
    plot_depth_profile([("normal(0, 0.01)", stats)], tmp_path / "d.png")
    drawn[0].canvas.draw()
    labels = _tick_labels(drawn[0].axes[0].yaxis)
    assert any("10^{-21}" in label for label in labels), labels


def test_pair_captions_say_frozen_where_training_could_not_change_the_kernel():
    import numpy as np

    from cnnspec.render.filters import pair_captions

    kernel = np.array([[1.0, 0.0], [0.0, -0.5]])
    first, second = pair_captions("xk", kernel, kernel, frozen=True)
    assert first.startswith("xk\ninit ") and second.startswith("xk\nheld ")
    assert pair_captions("c 1", kernel, kernel, frozen=False)[1].startswith("c 1\nlearned ")



@pytest.mark.parametrize("text, width, lines", [
    ("red positive, blue negative, white zero; each tile scaled to its own ±max", 45,
     ["red positive, blue negative, white zero;", "each tile scaled to its own ±max"]),
    ("spec digits: digits training images (the spec has no augment setting)", 54,
     ["spec digits: digits training images", "(the spec has no augment setting)"]),
    ("short; enough", 40, ["short; enough"]),
    # filled greedily, then evened: "22 layers (plain" over "ReLU): training loss"
    ("22 layers (plain ReLU): training loss", 30, ["22 layers (plain ReLU):", "training loss"]),
])
def test_titles_are_filled_in_lines_of_about_equal_length(text, width, lines):
    from cnnspec.render.figure import balanced_fill

    assert balanced_fill(text, width).split("\n") == lines


def test_a_filled_title_leaves_no_word_alone_and_no_line_too_wide():
    """Filled greedily, this heading left "±max" alone on its last line."""
    import textwrap

    from cnnspec.render.figure import balanced_fill

    text = ("8 filters 3x3, 1 input channel, each pair: initial | after training. Red "
            "positive, blue negative, white zero, each tile scaled to its own ±max")
    assert textwrap.wrap(text, 70)[-1] == "±max"
    lines = balanced_fill(text, 70).split("\n")
    assert len(lines) == 3 and all(len(line) <= 70 for line in lines)
    assert min(map(len, lines)) > 0.8 * max(map(len, lines))


def test_a_title_fits_as_drawn_not_as_counted_in_characters():
    """Measured, a title fills its width: at 0.6 em a character, one of 60 characters was
    broken for a line of 60 "i" that takes half the width of 60 "W"."""
    from cnnspec.render.figure import fitted, text_inches

    narrow, wide = " ".join(["iiiii"] * 10), " ".join(["WWWWW"] * 10)
    inches = text_inches(narrow, 12) * 1.01
    assert fitted(narrow, inches, 12) == narrow
    assert all(text_inches(line, 12) <= inches for line in fitted(wide, inches, 12).split("\n"))
    assert text_inches(wide, 12) > 2 * text_inches(narrow, 12)


# ---- titles fit the figure ------------------------------------------------------------------

LONG_TITLE = ("deep_tanh200_with_a_long_name: Jacobian to 'body_200_conv_tanh' at init (estimated "
              "from 64 random orthonormal directions of 256 outputs); conv_alpha_first, init "
              "glorot_uniform, conv_beta_second, init he_normal, conv_gamma_third, init "
              "orthogonal")


@pytest.fixture
def drawn(monkeypatch):
    """The figures written as PNGs, whichever module drew them."""
    from matplotlib.figure import Figure

    figures, savefig = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: figures.append(self) or savefig(self, *a, **k))
    return figures


def assert_titles_fit(fig) -> None:
    """Every title of ``fig`` (the figure's, each panel's) lies within its width."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [fig._suptitle, *(ax.title for ax in fig.axes)]
    shown = [t for t in titles if t is not None and t.get_text()]
    assert shown
    for title in shown:
        box = title.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, title.get_text()


def _jacobian(out, title):
    from cnnspec.lab.critical_plots import plot_jacobian
    from cnnspec.lab.jacobian import JacobianReport, JacobianVariant

    spec, _, method = title.partition(": ")
    variants = [JacobianVariant(label, list(np.geomspace(1e-3, 10, 64)))
                for label in ("delta_orthogonal(gain=1)", "glorot_normal", "he_normal")]
    return plot_jacobian(JacobianReport(spec, "body_200_conv_tanh", method, 4, variants), out)


def _depth(out, title):
    from cnnspec.lab.plots import plot_depth_profile
    from cnnspec.lab.stats import LayerStats

    layers = [LayerStats(f"c{i}", "conv", 0.0, 1.0, 1.0, None, None, None, 0.1, None)
              for i in range(3)]
    return plot_depth_profile([("he_normal", layers)], out, title=title)


def _learning(out, title):
    from cnnspec.lab.plots import plot_learning_curves

    return plot_learning_curves({"he_normal": [_metrics(), _metrics()]}, out, title=title)


def _filters(out, title):
    from cnnspec.render.filters import plot_filters

    weights = np.random.default_rng(0).standard_normal((12, 4, 3, 3))
    return plot_filters(weights, out, initial=weights * 0.9, title=title)


def _features(out, title):
    return plot_features(np.zeros((1, 8, 8)), {"c": np.zeros((4, 8, 8))}, out, title=title)


def _augmented(out, title):
    from cnnspec.render.augment_grid import plot_augmented

    images = [[np.zeros((1, 8, 8))] * 2 for _ in range(2)]
    return plot_augmented(images, images, ["zero", "one"], out, title=title)


@pytest.mark.parametrize("draw", [
    lambda out, title: plot_curves(_metrics(), out, title=title), _jacobian, _depth,
    _learning, _filters, _features, _augmented,
], ids=["curves", "jacobian", "depth", "learning", "filters", "features", "augmented"])
def test_long_titles_are_wrapped_within_the_figure(draw, drawn, tmp_path):
    """A title longer than the figure was cut off at both sides (the Jacobian's read "eep_tanh200:
    Jacobian ... of 256 ou", the filters' of several layers lost their names): every picture
    wraps its titles through one helper."""
    draw(tmp_path / "t.png", LONG_TITLE)
    assert_titles_fit(drawn[-1])
    assert " ".join(drawn[-1]._suptitle.get_text().split()).startswith(
        " ".join(LONG_TITLE.replace(";", "").split()[:3]))


def test_a_grid_of_one_image_a_class_leaves_its_title_room(drawn, tmp_path):
    """`cnnspec data SPEC --per-class 1` drew a figure as narrow as two tiles, and its title
    in a column of one word a line, eight of them; the figure is wide enough for the title's
    few lines, the grid in its middle."""
    from cnnspec.render.augment_grid import MIN_WIDTH_INCHES, plot_augmented

    image = [np.zeros((1, 1, 8, 8))]
    title = "spec x_detector: shapes training images (the spec has no augment setting)"
    plot_augmented([image[0], image[0]], None, ["x", "plus"], tmp_path / "g.png", title)
    fig = drawn[-1]
    assert fig.get_figwidth() == MIN_WIDTH_INCHES
    assert fig._suptitle.get_text().count("\n") <= 1
    assert_titles_fit(fig)
    left, right = fig.axes[0].get_position().x0, fig.axes[0].get_position().x1
    assert 0.3 < left and right < 0.7  # in the middle, its class labels on its left


@pytest.mark.parametrize("per_class, blocks, rows, h, w", [
    (6, 1, 10, 8, 8), (4, 2, 10, 8, 8), (16, 1, 10, 8, 8), (6, 2, 4, 16, 16),
    (3, 2, 3, 16, 20),
])
def test_the_data_pictures_size_follows_its_grid(drawn, tmp_path, per_class, blocks, rows, h,
                                                 w):
    """`cnnspec data` drew the digits' grid beside an inch of empty room for labels one
    character wide: the figure is as wide as the class names, the images and a thin right
    margin, each image's cell as wide for its height as the images are, and the grid as high
    as its rows of them."""
    from cnnspec.render.augment_grid import (
        LABEL_MARGIN_INCHES,
        LABEL_PAD_POINTS,
        LABEL_POINTS,
        MIN_WIDTH_INCHES,
        RIGHT_INCHES,
        SPACING,
        plot_augmented,
    )
    from cnnspec.render.figure import text_inches

    classes = [str(k) for k in range(rows - 1)] + ["square"]
    images = [np.zeros((per_class, 1, h, w))] * rows
    plot_augmented(images, images if blocks == 2 else None, classes, tmp_path / "g.png", "t")
    fig = drawn[-1]
    inches = fig.get_figwidth(), fig.get_figheight()
    cells = [ax.get_subplotspec().get_position(fig) for ax in fig.axes]
    for cell in cells:
        assert cell.width * inches[0] / (cell.height * inches[1]) == pytest.approx(w / h)
    assert len(cells) == rows * per_class * blocks
    left = min(cell.x0 for cell in cells) * inches[0]
    right = (1 - max(cell.x1 for cell in cells)) * inches[0]
    label = LABEL_MARGIN_INCHES + text_inches("square", LABEL_POINTS) + LABEL_PAD_POINTS / 72
    if inches[0] > MIN_WIDTH_INCHES:  # nothing on either side but the labels and the margin
        assert (left, right) == (pytest.approx(label), pytest.approx(RIGHT_INCHES))
    else:  # grown to the title's width: the same empty room on either side
        assert left - label == pytest.approx(right - RIGHT_INCHES, abs=1e-9)
        assert inches[0] == MIN_WIDTH_INCHES
    tile = cells[0].height * inches[1]
    grid = (max(c.y1 for c in cells) - min(c.y0 for c in cells)) * inches[1]
    assert grid == pytest.approx(tile * (rows + SPACING * (rows - 1)))


def test_every_figure_title_is_made_by_the_figure_helper():
    """One place wraps titles: a module calling Matplotlib's suptitle itself would not."""
    package = Path(__file__).resolve().parent.parent / "cnnspec"
    callers = [path.relative_to(package).as_posix() for path in package.rglob("*.py")
               if "suptitle(" in path.read_text() and path.name != "figure.py"]
    assert callers == []


def test_tile_captions_of_long_layer_names_stay_over_their_tiles(drawn, tmp_path):
    """filters --compare-init of layers named `conv_gamma_third_layer`: each caption ran into
    its neighbour's; a caption whose words do not fit its tile is set smaller instead."""
    from cnnspec.render.figure import SMALLEST_CAPTION_POINTS
    from cnnspec.render.filters import plot_filters

    weights = np.random.default_rng(0).standard_normal((8, 1, 3, 3))
    labels = [f"conv_gamma_third_layer {k}" for k in range(1, 9)]
    plot_filters(weights, tmp_path / "f.png", initial=weights * 0.9, labels=labels, title="m")
    fig = drawn[-1]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    captioned = [ax for ax in fig.axes if ax.title.get_text()]
    assert len(captioned) == 16
    for ax in captioned:
        box, tile = ax.title.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert box.x0 >= tile.x0 - 2 and box.x1 <= tile.x1 + 2, ax.title.get_text()
        assert ax.title.get_fontsize() >= SMALLEST_CAPTION_POINTS


def _panel_titles(panel_names, tmp_path, drawn):
    """The titles of :func:`plot_curve_panels`'s panels, one panel per name, as drawn."""
    from cnnspec.lab.plots import plot_curve_panels

    curves = {"he_normal": [_metrics()], "glorot_normal": [_metrics()]}
    plot_curve_panels({name: curves for name in panel_names}, tmp_path / "p.png")
    fig = drawn[-1]
    fig.canvas.draw()
    return fig, [ax for ax in fig.axes if ax.get_title()]


def test_panel_titles_break_only_when_their_laid_out_panel_is_too_narrow(drawn, tmp_path):
    """tools/he2015_fig3.py's panels: "22 layers (plain ReLU): training loss" was broken in
    its brackets beside an accuracy title broken after the colon, though both fit their
    panels as laid out (the panel's width was taken before the layout, a third narrower)."""
    fig, panels = _panel_titles(["22 layers (plain ReLU)", "30 layers (plain ReLU)"],
                                tmp_path, drawn)
    assert len(panels) == 4
    assert all("\n" not in ax.get_title() for ax in panels), [ax.get_title() for ax in panels]
    assert_titles_fit(fig)


def test_long_panel_titles_break_within_their_panels_outside_brackets(drawn, tmp_path):
    names = ["twenty-two plain layers (ReLU, He init)", "thirty plain layers (ReLU, He init)"]
    fig, panels = _panel_titles(names, tmp_path, drawn)
    renderer = fig.canvas.get_renderer()
    assert ["\n" in ax.get_title() for ax in panels[:2]] == [True, True]  # the accuracy row
    for ax in panels:
        lines = ax.get_title().split("\n")
        assert all(line.count("(") == line.count(")") for line in lines), lines
        box, panel = ax.title.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert box.x0 >= panel.x0 - 1 and box.x1 <= panel.x1 + 1, lines


def test_the_captions_of_a_picture_share_one_size(drawn, tmp_path):
    """filters --compare-init of the X-detector: "learned ±0.74" was shrunk to fit its tile
    and set smaller than "init ±0.78" beside it; every caption now takes the largest size at
    which the widest fits its tile."""
    from cnnspec.render.figure import SMALLEST_CAPTION_POINTS, text_inches
    from cnnspec.render.filters import plot_filters

    weights = np.random.default_rng(0).standard_normal((8, 1, 3, 3))
    labels = ["xk", "conv_gamma_third_layer", *(f"learned {k}" for k in range(1, 7))]
    plot_filters(weights, tmp_path / "f.png", initial=weights * 0.9, labels=labels, title="m")
    fig = drawn[-1]
    fig.canvas.draw()
    captioned = [ax for ax in fig.axes if ax.get_title()]
    sizes = {ax.title.get_fontsize() for ax in captioned}
    assert len(sizes) == 1, sizes
    size = sizes.pop()
    assert SMALLEST_CAPTION_POINTS < size < 7.0  # the long name is shrunk, and so every caption

    def fill(points):  # the share of its tile the widest caption's widest line takes
        return max(max(text_inches(line, points, fig.dpi) for line in ax.get_title().split("\n"))
                   / (ax.get_position().width * fig.get_figwidth()) for ax in captioned)

    assert fill(size) <= 1.0 < fill(size + 0.1)  # the largest size that fits


class _CountedName(str):
    """A layer name that counts the comparisons made with it."""

    compared = 0

    def __eq__(self, other):
        type(self).compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_layer_depths_look_each_name_up_once_on_a_deep_net(monkeypatch):
    """The depths searched a list of the conv/dense names for each layer (``in``, then
    ``index``): quadratic in the layers. On 300 layers the depths are as before and the names
    are compared a number of times linear in the layers, not ~45 000."""
    from cnnspec.lab.plots import _depths

    monkeypatch.setattr(_CountedName, "compared", 0)
    layers = []
    for i in range(150):
        layers.append({"name": _CountedName(f"conv{i}"), "kind": "conv"})
        layers.append({"name": _CountedName(f"conv{i}_relu"), "kind": "relu"})
    depth = _depths(layers)
    assert _CountedName.compared <= 2 * len(layers)
    assert depth == {name: i / 149 for i in range(150)
                     for name in (f"conv{i}", f"conv{i}_relu")}
