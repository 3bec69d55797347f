"""``init-report --jacobian``: the rows of the input-output Jacobian from the engine's backward
pass against finite differences, the random-projection estimate, and dynamical isometry
(Xiao et al. 2018): delta-orthogonal at the critical point keeps the spectrum concentrated at
depth where Gaussian inits spread it."""
import io
import json
import re

import numpy as np
import pytest

from cnnspec.check.load import load
from cnnspec.cli import OPTION_NAMES, main
from cnnspec.compiler import compile_spec
from cnnspec.engine.model import Model
from cnnspec.errors import InputError, rounded_text
from cnnspec.lab.batch import make_batch
from cnnspec.lab.jacobian import (
    JacobianReport,
    JacobianVariant,
    estimate_scale,
    format_jacobian,
    jacobian_report,
    output_directions,
    rows_of_jacobian,
    singular_values,
)

TANH_NET = """model deep
input 4x4x4
default weight he_normal, bias zeros
repeat %d as body {
  conv 4 3x3 pad same %s
}
flatten
head: dense 3
train {
  data npz(path="unused.npz")
}
"""


def spec(tmp_path, depth=3, act="tanh"):
    path = tmp_path / f"deep{depth}{act}.cnn"
    path.write_text(TANH_NET % (depth, act))
    return path


def test_rows_are_the_jacobian_by_finite_differences(tmp_path):
    checked = load(spec(tmp_path))
    model = compile_spec(checked, seed=1, dtype="float64")
    part = Model(model.nodes, "body_3_conv_tanh", model.loss_name, model.dtype).eval()
    x = np.random.default_rng(0).standard_normal((4, 4, 4))
    jac = rows_of_jacobian(part, x, np.eye(64))
    h = 1e-6
    for i in (0, 17, 63):
        e = np.zeros(64)
        e[i] = h
        plus = part.forward((x.ravel() + e).reshape(1, 4, 4, 4)).ravel()
        minus = part.forward((x.ravel() - e).reshape(1, 4, 4, 4)).ravel()
        np.testing.assert_allclose(jac[:, i], (plus - minus) / (2 * h), atol=1e-7)


def test_an_isometry_gives_ones_exactly_and_by_projection(tmp_path):
    """A linear stack of delta-orthogonal convs is orthogonal: every singular value is 1, and
    a random orthonormal projection of it has singular values 1 too."""
    path = spec(tmp_path, depth=5, act="")
    exact = jacobian_report(path, ["delta_orthogonal"], rows=64)
    estimate = jacobian_report(path, ["delta_orthogonal"], rows=20)
    assert exact.method.startswith("exact") and estimate.method.startswith("estimated")
    for report in (exact, estimate):
        np.testing.assert_allclose(report.variants[0].singular_values, 1.0, atol=1e-10)


def test_projection_estimates_the_mean_square(tmp_path):
    path = spec(tmp_path, depth=4)
    exact = jacobian_report(path, ["he_normal"], rows=64, inputs=1).variants[0].mean_sq
    estimates = [jacobian_report(path, ["he_normal"], rows=24, inputs=1,
                                 seed=0).variants[0].mean_sq]
    # the estimate's expectation is ||J||_F^2 / M: equal to the exact mean over the M = 64
    # outputs, since J (64 x 64) has 64 singular values
    assert estimates[0] == pytest.approx(exact, rel=0.35)


@pytest.mark.parametrize("m, d, k", [(64, 16, 24), (64, 16, 8), (16, 64, 8), (40, 40, 10)])
def test_the_scaled_estimate_of_the_mean_square_is_unbiased(m, d, k):
    """Over many draws of the K directions, the mean of the scaled squared singular values of
    U^T J averages J's mean squared singular value ||J||_F^2 / min(M, D): within 4 standard
    errors of the draws' mean (a chance of about 6e-5 of failing when unbiased). Unscaled, it
    was low by K / M wherever D < M (24 / 64 in the first case, far outside)."""
    rng = np.random.default_rng(0)
    jac = rng.standard_normal((m, d)) * rng.uniform(0.1, 2.0, (m, 1))  # unequal rows
    exact = (np.linalg.svd(jac, compute_uv=False) ** 2).mean()
    estimates = np.array([
        (np.linalg.svd(output_directions(m, k, rng).T @ jac, compute_uv=False) ** 2).mean()
        * estimate_scale(m, d, k) for _ in range(400)])
    error = 4 * estimates.std() / np.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < error
    assert error < 0.05 * exact  # tight enough to tell a bias of a few per cent


def test_the_estimate_agrees_with_the_exact_mean_where_the_output_is_wider_than_the_input(
        tmp_path, capsys):
    """D = 16 inputs, M = 64 outputs: the estimate from K = 24 directions, over 12 draws of
    them (the network and its input the same), within 4 standard errors of the exact mean
    squared singular value (deep_tanh200's report gave 0.00398 from 64 rows for an exact
    0.0161: low by K / M)."""
    path = tmp_path / "wide.cnn"
    path.write_text(TANH_NET.replace("input 4x4x4", "input 1x4x4") % (3, "tanh"))
    exact = jacobian_report(path, ["he_normal"], rows=64, inputs=1)
    assert exact.method == "exact, 64 outputs" and exact.quantiles is None
    checked = load(path, for_training=False)
    model = compile_spec(checked, seed=0, dtype="float64")
    x = make_batch(checked, "gaussian", 1, 0, None, "float64").x
    estimates = np.array([
        (singular_values(model, exact.layer, x, 24, np.random.default_rng(draw))[0] ** 2).mean()
        for draw in range(12)])
    error = 4 * estimates.std() / np.sqrt(len(estimates))
    assert abs(estimates.mean() - exact.variants[0].mean_sq) < error
    assert error < 0.3 * exact.variants[0].mean_sq
    estimated = jacobian_report(path, ["he_normal"], rows=24, inputs=1)
    assert estimated.quantiles.startswith("quantiles and spread approximate")
    # worded for the caller: the library's rows=64, the command line's --rows 64
    assert estimated.quantiles.endswith("exact with rows=64, one direction per output")
    assert estimated.to_dict()["quantiles"] == estimated.quantiles
    assert format_jacobian(estimated, OPTION_NAMES).splitlines()[-1] == (
        "estimated: mean sigma^2 unbiased; quantiles and spread approximate: J, from the "
        "input's D = 16 values to the layer's M = 64 outputs, is measured along K = 24 random "
        "output directions (--rows 24), and that sampling's noise spreads its singular values, "
        "most the smallest, the more so the nearer K is to D; exact with --rows 64, one "
        "direction per output")
    assert estimated.to_dict(OPTION_NAMES)["quantiles"].endswith(
        "exact with --rows 64, one direction per output")
    args = ["init-report", str(path), "--jacobian", "--rows", "24", "--input", "gaussian",
            "--layer", exact.layer]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["quantiles"].endswith(
        "exact with --rows 64, one direction per output")


def test_delta_orthogonal_keeps_the_spectrum_concentrated_at_depth(tmp_path):
    path = spec(tmp_path, depth=40)
    report = jacobian_report(path, ["delta_orthogonal(gain=1)", "glorot_normal", "he_normal"],
                             rows=64, inputs=2)
    delta, glorot, he = report.variants
    # spread: the std of log10 sigma^2. When written: 1.8 decades for delta-orthogonal (the
    # first layers' tanh saturation on unit-variance inputs), at least 9.3 and 9.4 for the
    # Gaussians (36 and 40 of their 128 values below float64's resolution).
    assert delta.spread < 0.3 * glorot.spread and delta.spread < 0.3 * he.spread
    assert delta.spread < 3


def test_values_below_float64s_resolution_are_bounded_not_printed(tmp_path):
    """After 40 Gaussian tanh layers part of the spectrum lies below sigma_max * max(K, D) * eps,
    where the SVD's digits are rounding noise (they differed between an Intel and an AMD
    machine): the table prints the floor, not them, and the spread counts them at the floor,
    so that changing them changes no printed figure."""
    from dataclasses import replace

    report = jacobian_report(spec(tmp_path, depth=40), ["he_normal"], rows=64, inputs=2)
    he = report.variants[0]
    s = np.asarray(he.singular_values)
    assert he.floor == pytest.approx(2 * 64 * np.finfo(float).eps * max(s[:64].max(),
                                                                           s[64:].max()))
    below = (s > 0) & (s < he.floor)
    assert he.unresolved == below.sum() > 0
    text = format_jacobian(report)
    row = text.splitlines()[2].split()
    assert row[1].startswith(">=") and row[2] == f"<{rounded_text(he.floor_sq, 1)}"
    assert "<F: below float64's resolution" in text
    assert he.spread == pytest.approx(np.log10(np.maximum(s, he.floor) ** 2).std())
    assert he.spread < np.log10(s ** 2).std()  # a lower bound of what the noise would give
    noisy = s.copy()  # another machine's rounding: other digits below the floor
    noisy[below] *= np.random.default_rng(0).uniform(0.01, 0.99, below.sum())
    other = replace(report, variants=[replace(he, singular_values=noisy.tolist())])
    assert format_jacobian(other) == text


def test_a_resolved_spectrum_is_printed_as_it_is(tmp_path):
    report = jacobian_report(spec(tmp_path, depth=5, act=""), ["delta_orthogonal"], rows=64)
    assert report.variants[0].unresolved == 0
    text = format_jacobian(report)
    assert "<" not in text and ">=" not in text
    assert float(text.splitlines()[2].split()[2]) == pytest.approx(1.0)  # min sigma^2, as it is
    # the quantiles are of sigma^2, and the title says so (not "singular values sigma"), as
    # the picture's axis says σ²
    assert "squared singular values sigma^2 of the Jacobian" in text.splitlines()[0]


def test_the_table_writes_numbers_as_a_spec_writes_them_in_its_columns():
    """1.44e3 and <1e-10 (a floor), not 1.44e+03 and <1e-10 written as .0e writes it; each cell
    right-aligned under its title."""
    big = JacobianVariant("big", [70.99, 5e-8, 703.6 ** 0.5, 1.0], floor=1e-5)
    report = JacobianReport("net", "fc", "exact", 1, [big, JacobianVariant("unit", [1.0] * 4)])
    text = format_jacobian(report)
    assert "e+" not in text and "e-0" not in text
    header, *rows = text.splitlines()[1:4]
    assert rows[0].split()[:7] == ["1.44e3", ">=5.5", "<1e-10", "0.15", "352", "4.39e3",
                                   "5.04e3"]

    def ends(line):  # where each title or cell ends ("mean sigma^2" is one title)
        return [m.end() for m in re.finditer(r"mean \S+|\S+", line)]

    assert ends(rows[0])[:7] == ends(rows[1])[:7] == ends(header)[:7]


def test_cli_jacobian(tmp_path, capsys):
    path = spec(tmp_path)
    png = tmp_path / "jac.png"
    assert main(["init-report", str(path), "--jacobian", "--input", "gaussian",
                 "--init", "delta_orthogonal", "--init", "he_normal", "--format", "json",
                 "-o", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layer"] == "body_3_conv_tanh" and len(out["variants"]) == 2
    assert len(out["variants"][0]["singular_values"]) == 4 * 64  # 4 inputs, J is 64 x 64
    assert png.stat().st_size > 10_000
    assert main(["init-report", str(path), "--jacobian", "--layer", "body_2_conv",
                 "--input", "gaussian"]) == 0
    assert "'body_2_conv'" in capsys.readouterr().out


def test_the_histograms_legend_lies_under_them_and_names_the_isometry_line(tmp_path,
                                                                           monkeypatch):
    """Inside the panel, Matplotlib's "best" place for the legend covered one of the spectra
    (glorot_normal's, on the digits net)."""
    from cnnspec.lab.critical_plots import plot_jacobian
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    report = jacobian_report(spec(tmp_path), ["he_normal", "glorot_normal"], rows=64)
    plot_jacobian(report, tmp_path / "jac.png")
    (fig,) = drawn
    (ax,) = fig.axes
    assert ax.get_legend() is None
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0].startswith("he_normal: mean σ²") and labels[-1] == "σ² = 1 (an isometry)"
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    assert legend.get_window_extent(renderer).y1 <= ax.get_tightbbox(renderer).y0


def test_cli_jacobian_unknown_layer(tmp_path, capsys):
    """A mistake in the option, named with the spec it was looked for in (a spec error
    without a line read "<spec>: error: ...")."""
    assert main(["init-report", str(spec(tmp_path)), "--jacobian", "--layer", "body_9",
                 "--input", "gaussian"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "cnnspec: error: --layer: deep has no layer 'body_9'",
        ("hint: layers: body_1_conv, body_1_conv_tanh, body_2_conv, body_2_conv_tanh, "
         "body_3_conv, body_3_conv_tanh, flatten1, head")]
    assert main(["init-report", str(spec(tmp_path)), "--jacobian", "--layer", "body_3_con",
                 "--input", "gaussian"]) == 2
    assert capsys.readouterr().err.endswith("hint: did you mean body_3_conv?\n")


def test_cli_jacobian_of_a_net_without_a_hidden_layer_says_to_name_one(tmp_path, capsys):
    path = tmp_path / "flat.cnn"
    path.write_text("model flat\ninput 1x8x8\nflatten\nfc: dense 10\n")
    png = tmp_path / "jac.png"
    assert main(["init-report", str(path), "--jacobian", "--input", "gaussian",
                 "-o", str(png)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        ("cnnspec: error: the Jacobian needs a hidden layer: flat has fewer than two "
         "conv/dense layers"), "hint: name the end of the Jacobian with --layer"]
    assert not png.exists()
    # jacobian_report's layer, where the library was told of init-report's --layer
    with pytest.raises(InputError) as info:
        jacobian_report(path)
    assert info.value.hint == "name the end of the Jacobian with layer"
    with pytest.raises(InputError) as info:
        jacobian_report(path, layer="fcc")
    assert (info.value.message, info.value.hint) == ("layer: flat has no layer 'fcc'",
                                                     "did you mean fc?")


def test_output_directions_are_orthonormal():
    u = output_directions(50, 8, np.random.default_rng(0))
    np.testing.assert_allclose(u.T @ u, np.eye(8), atol=1e-12)
    np.testing.assert_array_equal(output_directions(8, 8, None), np.eye(8))


def test_the_table_and_the_picture_say_the_same_of_each_init(tmp_path, monkeypatch):
    """The picture writes σ² where the table writes sigma^2 (ASCII), and the same mean and
    spread: ≥5.5 where the table says >=5.5."""
    from cnnspec.lab.critical_plots import plot_jacobian
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig))
    big = JacobianVariant("big", [70.99, 5e-8, 703.6 ** 0.5, 1.0], floor=1e-5)
    report = JacobianReport("net", "fc", "exact", 1, [big, JacobianVariant("unit", [1.0] * 4)])
    plot_jacobian(report, tmp_path / "jac.png")
    legend = [text.get_text() for text in drawn[0].legends[0].get_texts()]
    assert legend[0] == "big: mean σ² 1.44e3, spread ≥5.5 decades"
    assert legend[1] == "big: float64 resolution; 1 value below"
    assert legend[2] == "unit: mean σ² 1, spread 0 decades"
    assert drawn[0].axes[0].get_xlabel() == (
        "squared singular value σ² of the input-output Jacobian (log scale)")
    rows = format_jacobian(report).splitlines()
    assert rows[0].startswith("net: squared singular values sigma^2")
    assert rows[2].split()[:2] == ["1.44e3", ">=5.5"] and rows[3].split()[:2] == ["1", "0"]


def test_cli_jacobian_says_its_work_before_and_its_passes_while_it_runs(tmp_path, capsys):
    """Before any pass: what it computes and its FLOPs; then, stderr being no terminal here,
    a plain line at each tenth of the passes done. 2 inits x 4 inputs x 64 output units = 512
    passes through 3 convs (4 -> 4 channels, 3x3 on 4x4: 2,304 multiply-adds, 4,608 FLOPs
    forward and twice that backward) and 3 tanhs (64 values, one FLOP each way): 41,856 FLOPs
    a pass."""
    path = spec(tmp_path)
    assert main(["init-report", str(path), "--jacobian", "--input", "gaussian",
                 "--init", "delta_orthogonal", "--init", "he_normal"]) == 0
    first, *lines = capsys.readouterr().err.splitlines()
    assert first == ("jacobian: 2 inits x 4 inputs x 64 output directions = 512 forward and "
                     "backward passes through 6 layers, about 21.4 MFLOP in float64")
    # small work: no hint; one line a chunk of 64 passes (each crosses a tenth), the last all
    assert lines == [f"jacobian: {done}/512 passes ({done / 512:.0%})"
                     for done in range(64, 513, 64)]


def test_the_work_of_the_jacobian_counts_what_the_passes_run(tmp_path):
    """Up to an earlier layer the passes run fewer layers; rows caps the directions; the
    callbacks hear of every pass, in the order they run."""
    path = spec(tmp_path)
    works, done = [], []
    jacobian_report(path, ["he_normal"], layer="body_2_conv", rows=16, inputs=2,
                    start=works.append, advance=done.append)
    (work,) = works
    assert (work.variants, work.inputs, work.directions, work.layers) == (1, 2, 16, 3)
    assert work.pass_flops == 2 * (4608 + 9216) + 128  # 2 convs and 1 tanh
    assert work.passes == 32 and work.flops == 32 * work.pass_flops
    assert done == [16, 16]  # one chunk of directions an input


def test_large_jacobian_work_names_the_options_that_shrink_it():
    from cnnspec.cli.init_report import PassesShown, jacobian_work_hint, jacobian_work_lines
    from cnnspec.lab.jacobian import JacobianWork

    small = JacobianWork(variants=1, inputs=1, directions=16, layers=6, pass_flops=10 ** 6)
    assert jacobian_work_hint(small) is None
    large = JacobianWork(variants=2, inputs=4, directions=256, layers=60, pass_flops=8 * 10 ** 9)
    hint = jacobian_work_hint(large)
    for option in ("--rows (now 256", "--batch-size 1", "--init (now 2)", "--layer NAME"):
        assert option in hint

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    shown = PassesShown("jacobian", jacobian_work_lines, terminal)
    shown.start(large)
    shown.advance(64)
    shown.close()
    text = terminal.getvalue()
    assert text.startswith("jacobian: 2 inits x 4 inputs x 256 output directions = 2,048 "
                           "forward and backward passes through 60 layers, about 16.4 TFLOP "
                           "in float64\nhint: ")
    # on a terminal, a bar instead of lines: its count of passes redrawn in place
    assert "64/2048" in text and "pass" in text.split("\n", 2)[2]
    assert "jacobian: 64/2,048 passes" not in text


@pytest.mark.parametrize("m, d", [(64, 16), (64, 256)])
def test_the_quantiles_note_says_what_k_m_and_d_are_and_what_rows_changes(m, d):
    """The footnote names each letter it uses where a newcomer reads it (not the module's
    docstring): K directions are --rows, M outputs, D input values; --rows M makes it exact."""
    from cnnspec.errors import library_worded
    from cnnspec.lab.jacobian import quantiles_note

    assert quantiles_note(m, d, m) is None  # as many rows as outputs: J itself, exact
    note = library_worded(quantiles_note(m, d, 24))
    assert (f"the input's D = {d} values to the layer's M = {m} outputs, is measured along "
            "K = 24 random output directions (rows=24)") in note
    assert note.endswith(f"exact with rows={m}, one direction per output")
    assert ("lower bound" in note) == (m <= d)
