"""The lab's statistics on plain arrays, against values worked out by hand."""
import math

import numpy as np
import pytest

from cnnspec.lab.stats import (
    LayerStats,
    layer_stats,
    per_layer_factor,
    summarize_signal,
    weighted,
    zero_fraction,
)


def test_zero_fraction_counts_exact_zeros_only():
    x = np.array([[0.0, 1e-30, -0.0, 2.0]], dtype=np.float32)
    # -0.0 == 0 is a zero a ReLU can produce; 1e-30 is a live unit however small.
    assert zero_fraction(x) == 0.5


def test_layer_stats_of_a_relu_output():
    rng = np.random.default_rng(0)
    pre = rng.standard_normal((64, 4, 8, 8)).astype(np.float32)
    out = np.maximum(pre, 0)
    row = layer_stats("relu1", "relu", out, input_std=2.0, dout=3 * pre)
    # A ReLU of N(0, 1) has mean 1/sqrt(2 pi) and second moment 1/2 (He et al. 2015, eq. 8 ff.).
    assert row.act_mean == pytest.approx(1 / math.sqrt(2 * math.pi), abs=0.01)
    assert row.act_std == pytest.approx(math.sqrt(0.5 - 1 / (2 * math.pi)), abs=0.01)
    assert row.act_ratio == pytest.approx(row.act_std / 2.0)
    assert row.dead_frac == pytest.approx(0.5, abs=0.02)
    assert row.grad_std == pytest.approx(3.0, rel=0.02)
    assert row.weight_std is None and row.weight_grad_std is None


def test_layer_stats_of_a_conv_layer():
    w = np.full((8, 4, 3, 3), 0.5, dtype=np.float32)
    w[0, 0, 0, 0] = -0.5
    dw = np.zeros_like(w)
    out = np.zeros((2, 8, 4, 4), dtype=np.float32)
    row = layer_stats("conv1", "conv", out, input_std=1.0, weight=w, dweight=dw,
                      weight_std_expected=0.1)
    n = w.size
    # One value of -0.5 among n values of 0.5: std = 1 * sqrt(p (1 - p)) with p = 1/n.
    assert row.weight_std == pytest.approx(math.sqrt((1 / n) * (1 - 1 / n)), rel=1e-6)
    assert row.weight_std_expected == 0.1
    assert row.weight_grad_std == 0.0
    # Dead units are a ReLU's business: a conv output has none to report.
    assert row.dead_frac is None
    assert row.act_std == 0.0
    assert row.values == 8 * 4 * 4  # per input: C*H*W of the (N, C, H, W) output


def test_stds_are_accumulated_in_float64():
    # In float32 the squares of 1e-25 underflow to zero; the std must still come out right.
    x = (np.arange(1000, dtype=np.float32) % 2) * np.float32(2e-25)
    row = layer_stats("a", "conv", x.reshape(10, 100), input_std=1.0)
    assert row.act_std == pytest.approx(1e-25, rel=1e-5)


def _depth(stds):
    return [LayerStats(f"conv{i}", "conv", 0.0, s, s, None, None, None, None, None)
            for i, s in enumerate(stds)] + [
        LayerStats("relu", "relu", 0.0, 123.0, 1.0, 0.5, None, None, None, None)]


def test_per_layer_factor_is_the_geometric_mean_over_weighted_layers():
    stats = _depth([1.0, 0.5, 0.25, 0.125])
    assert [s.name for s in weighted(stats)] == ["conv0", "conv1", "conv2", "conv3"]
    assert per_layer_factor(stats) == pytest.approx(0.5)


def test_per_layer_factor_needs_two_layers():
    with pytest.raises(ValueError, match="need at least two conv/dense layers"):
        per_layer_factor(_depth([1.0]))


def test_signal_summary_across_the_hidden_layers():
    stats = _depth([2.0, 1.0, 0.5, 9.0])  # the last conv/dense layer is the output: left out
    stats[0].grad_std, stats[2].grad_std, stats[3].grad_std = 0.01, 0.04, 5.0
    summary = summarize_signal(stats)
    assert summary.layers == 3
    assert summary.act_change == pytest.approx(0.25)
    assert summary.act_per_layer == pytest.approx(0.5)
    assert summary.grad_change == pytest.approx(0.25)
    assert summary.dead_mean == 0.5  # the one ReLU of _depth


def _shrinking_maps(grads, values):
    """Hidden conv layers of unit std whose outputs hold ``values`` values an input (maps
    shrinking going forward, as unpadded convs or pools make them), their output's gradient
    std ``grads``, and a dense output layer."""
    return [LayerStats(f"conv{i}", "conv", 0.0, 1.0, 1.0, None, None, None, g, None, values=v)
            for i, (g, v) in enumerate(zip(grads, values))] + [
        LayerStats("head", "dense", 0.0, 1.0, 1.0, None, None, None, 1.0, None, values=10)]


def test_the_signal_line_says_a_gradient_spread_over_more_values_and_its_norm():
    """From 4x4 maps back to 8x8 ones a gradient of the same norm has half the std per value:
    the line said 'gradient std x0.5 on the way back' alone, which reads as a vanishing
    gradient where none vanishes; it now says the values it spreads over and its norm's
    change, and says nothing more where the counts are equal."""
    from cnnspec.lab.report import describe_signal

    summary = summarize_signal(_shrinking_maps([0.5, 0.7, 1.0], [4 * 8 * 8, 4 * 6 * 6, 64]))
    assert summary.grad_change == pytest.approx(0.5)
    assert (summary.first_values, summary.last_values) == (256, 64)
    assert summary.grad_norm_change == pytest.approx(1.0)
    assert describe_signal(summary).endswith(
        "; gradient std x0.5 on the way back, spread over 256 values an input at 'conv0' "
        "against 64 at 'conv2': its norm per input x1")
    same = summarize_signal(_shrinking_maps([0.5, 0.7, 1.0], [64, 64, 64]))
    assert same.grad_norm_change == pytest.approx(0.5)
    assert describe_signal(same).endswith("; gradient std x0.5 on the way back")


def test_the_columns_line_says_the_gradient_std_is_per_value_and_where_its_norm_is():
    from cnnspec.lab.report import _columns_text

    assert ("grad std: std of dloss/d(layer's output), the gradient flowing back, per value "
            "(the signal line gives its norm per input where layers' maps differ in size); "
            ) in _columns_text()


def test_signal_summary_of_a_single_hidden_layer_says_nothing():
    summary = summarize_signal(_depth([1.0, 1.0]))
    assert summary.act_change is None and summary.act_per_layer is None


def test_a_silent_first_layer_is_described_as_such_not_as_too_few_layers():
    from cnnspec.lab.report import describe_signal

    silent = describe_signal(summarize_signal(_depth([0.0, 0.0, 0.0])))
    assert "outputs a constant (std 0)" in silent and "fewer than two" not in silent
    single = describe_signal(summarize_signal(_depth([1.0, 1.0])))
    assert "fewer than two hidden" in single


def test_the_signal_line_writes_numbers_as_a_spec_writes_them():
    from cnnspec.lab.report import describe_signal

    text = describe_signal(summarize_signal(_depth([1.0, 1e20, 1e40, 1.0])))
    assert "activation std x1e40 from the first" in text and "(x1e20 per layer)" in text


def test_the_signal_summary_follows_the_main_path_and_counts_what_it_leaves_out():
    """A branch's conv that starts at 0 is no signal of 0: the add after it carries the
    other path's values on. Only layers on every path (and merges there) are compared."""
    rows = [LayerStats(name, kind, 0.0, std, std, None, None, None, grad, None)
            for name, kind, std, grad in [("stem", "conv", 2.0, 0.5), ("b", "conv", 0.0, 0.1),
                                          ("sum", "add", 1.0, 0.25), ("head", "dense", 3.0, 9.0)]]
    summary = summarize_signal(rows, main_path={"stem", "sum", "head"})
    assert (summary.layers, summary.first, summary.last) == (2, "stem", "sum")
    assert (summary.branch_layers, summary.merges) == (1, 1)
    assert summary.act_change == pytest.approx(0.5) and summary.grad_change == pytest.approx(2)
    # every layer on the path: the plain reading, in which b's 0 ends the signal
    assert summarize_signal(rows[:2] + rows[3:]).act_change == 0.0


def test_a_layer_that_outputs_a_constant_after_the_first_point_is_what_the_signal_line_says():
    """A batch norm given one value per channel, or a ReLU that passes nothing, after the
    hidden conv/dense layers: their ratio alone would read as a signal kept."""
    from cnnspec.lab.report import describe_signal

    rows = [LayerStats(name, kind, 0.0, std, std, dead, None, None, None, None)
            for name, kind, std, dead in [("c", "conv", 1.4, None), ("d", "dense", 1.5, None),
                                          ("bn", "batchnorm", 0.0, None),
                                          ("r", "relu", 0.0, 1.0), ("out", "dense", 0.0, None)]]
    summary = summarize_signal(rows)
    assert summary.constant == "bn" and summary.act_change == pytest.approx(1.5 / 1.4)
    assert describe_signal(summary) == ("signal: 'bn' outputs a constant (std 0), so no signal "
                                        "reaches the layers after it; 100% of ReLU outputs zero")
    rows[2].act_std = rows[3].act_std = 0.5
    assert summarize_signal(rows).constant is None
    assert "activation std x1.07" in describe_signal(summarize_signal(rows))
