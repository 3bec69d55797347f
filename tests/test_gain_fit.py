"""The warning of a weight init whose gain is made for another activation than the one after
its layer (:mod:`cnnspec.check.gainfit`): where it fires, where it stays quiet, and that its
hint, written into the spec as it says, checks without it."""
import json
import math
import re

import pytest

from cnnspec.check import check
from cnnspec.cli import main
from cnnspec.lang import parse

SAID = "draws Var(w) = gain^2 / fan"


def spec_text(*lines: str, default: str | None = None) -> str:
    """A small spec on 1x8x8 images, its logits a dense 10 layer."""
    head = ["model g", "input 1x8x8"] + ([f"default {default}"] if default else [])
    return "\n".join(head + list(lines) + ["flatten", "out: dense 10", ""])


def gain_warnings(text: str) -> list:
    return [w for w in check(parse(text)).warnings if SAID in w.message]


def applied(text: str, warning) -> str:
    """``text`` with ``warning``'s hint carried out as a person would: the `weight INIT` it
    gives written over the init it points at, on the `default` line, as a new `default` line
    after the input line, or at the end of the lines of the layers it names."""
    written = re.search(r"`((?:default )?[^`]*weight [^`]+)`", warning.hint).group(1)
    lines = text.split("\n")
    if warning.hint.startswith("add the line"):
        lines.insert(2, written)
    elif warning.hint.startswith("make the `default` line"):
        lines[int(re.search(r"\(line (\d+)\)", warning.hint)[1]) - 1] = written
    elif "at the end of" in warning.hint:
        names = re.findall(r"'([^']+)'", warning.hint.split("at the end of")[1])
        lines = [f"{line} {written}" if line.split(":")[0] in names else line
                 for line in lines]
    else:  # over the span the warning points at
        span = warning.span
        line = lines[span.line - 1]
        lines[span.line - 1] = line[:span.column - 1] + written + line[span.end_column - 1:]
    return "\n".join(lines)


def test_he_normal_before_tanh_is_said_at_the_init_with_the_variance_factor():
    text = spec_text("c1: conv 4 3x3 tanh weight he_normal")
    (warning,) = gain_warnings(text)
    assert warning.severity == "warning"
    assert (warning.span.line, warning.span.column) == (3, 21)  # at `weight he_normal`
    ratio = 2 / (5 / 3) ** 2
    assert f"output variance is {ratio:.2g}x what tanh needs" in warning.message
    assert "the gain of relu, 1.414" in warning.message
    assert "which takes the gain of tanh, 1.667 (" in warning.message
    assert "calculate_gain" in warning.message and "He et al. 2015" in warning.message
    assert "`weight he_normal(gain=tanh)`" in warning.hint


def test_a_tanh_gain_before_relu_is_said():
    text = spec_text("c1: conv 4 3x3 relu weight he_uniform(mode=fan_out, gain=tanh)")
    (warning,) = gain_warnings(text)
    ratio = (5 / 3) ** 2 / 2
    assert f"output variance is {ratio:.3g}x what relu needs" in warning.message
    assert "`weight he_uniform(mode=fan_out)`" in warning.hint  # relu's gain is the default


def test_the_built_in_default_before_sigmoid_is_said_at_the_first_layer():
    text = spec_text("c1: conv 4 3x3 sigmoid")
    (warning,) = gain_warnings(text)
    assert warning.span.line == 3  # no init written: the layer's line
    assert "output variance is 2x what sigmoid needs" in warning.message
    assert warning.hint.startswith("add the line `default weight he_normal(gain=sigmoid)`")


def test_the_activation_after_a_max_pool_is_the_layer_s():
    text = spec_text("c1: conv 4 3x3 weight he_normal", "maxpool 2", "tanh")
    assert len(gain_warnings(text)) == 1


@pytest.mark.parametrize("lines", [
    ("c1: conv 4 3x3 relu",),  # He's own
    ("c1: conv 4 3x3 leaky_relu(0.01)",),
    ("c1: conv 4 3x3 leaky_relu(0.2)", "c2: conv 4 3x3 relu6", "c3: conv 4 3x3 prelu"),
    ("c1: conv 4 3x3 tanh weight [[0, 1, 0], [1, -4, 1], [0, 1, 0]]",),  # a literal kernel
    ("c1: conv 4 3x3 tanh weight sobel_x",),
    ("c1: conv 4 3x3 tanh weight normal(0, 0.01)",),
    ("c1: conv 4 3x3 tanh weight zeros", "c2: conv 4 3x3 tanh weight normal(0, 0.1)"),
    ("c1: conv 4 3x3 tanh weight glorot_uniform",),  # gain 1: the scheme's own
    ("c1: conv 4 3x3 tanh weight he_normal(gain=linear)",),  # tanh's critical gain
    ("c1: conv 4 3x3 tanh weight he_normal(gain=1.414)",),  # a number names no activation
    ("c1: conv 4 3x3 tanh weight lecun_normal", "c2: conv 4 3x3 sigmoid weight torch_default"),
    ("c1: conv 4 3x3 bn tanh",),  # the norm sets the scale tanh sees
    ("c1: conv 4 3x3 gelu", "c2: conv 4 3x3 silu"),  # no calculate_gain entry
    ("c1: conv 4 3x3 relu weight he_normal(gain=leaky_relu(0.3))",),
])
def test_quiet_where_the_gain_fits_or_was_chosen_for_no_activation(lines):
    assert gain_warnings(spec_text(*lines)) == []


def test_the_logits_layer_is_quiet_whatever_reads_it():
    assert gain_warnings(spec_text("c1: conv 4 3x3 relu")) == []  # out: dense 10, he_normal
    text = "model g\ninput 1x8x8\nflatten\nout: dense 10 sigmoid weight he_normal\n"
    assert gain_warnings(text) == []
    assert gain_warnings(text + "output out\n") == []  # the sigmoid after it unused


def test_layers_with_the_same_mismatch_are_one_warning_naming_them_all():
    text = spec_text("c1: conv 4 3x3 tanh", "c2: conv 4 3x3 tanh", "c3: conv 4 3x3 tanh",
                     default="weight he_normal, bias zeros")
    (warning,) = gain_warnings(text)
    assert "'c1', 'c2' and 'c3' feed tanh" in warning.message
    assert (warning.span.line, warning.span.column) == (3, 9)  # the default line's init
    assert warning.hint == "write `weight he_normal(gain=tanh)` on the `default` line (line 3)"


def test_a_default_that_fits_other_layers_is_fixed_on_the_mismatched_lines():
    text = spec_text("c1: conv 4 3x3 relu", "c2: conv 4 3x3 tanh", "c3: conv 4 3x3 tanh")
    (warning,) = gain_warnings(text)
    assert warning.hint == ("write `weight he_normal(gain=tanh)` at the end of the lines of "
                            "'c2' and 'c3'")


def test_activations_of_one_gain_are_one_warning_naming_each():
    text = spec_text("c1: conv 4 3x3 relu weight he_normal(gain=tanh)",
                     "c2: conv 4 3x3 relu6 weight he_normal(gain=tanh)")
    (warning,) = gain_warnings(text)
    assert "'c1' and 'c2' feed relu and relu6, which take the gain of relu" in warning.message
    assert "what relu and relu6 need" in warning.message


def test_repeat_block_copies_are_named_as_a_range():
    text = spec_text("repeat 4 as blk {", "  c: conv 4 3x3 pad same tanh", "}")
    (warning,) = gain_warnings(text)
    assert "'blk_1_c' .. 'blk_4_c'" in warning.message


@pytest.mark.parametrize("lines, default", [
    (("c1: conv 4 3x3 tanh weight he_normal",), None),
    (("c1: conv 4 3x3 relu weight he_uniform(mode=fan_out, gain=tanh)",), None),
    (("c1: conv 4 3x3 sigmoid",), None),
    (("c1: conv 4 3x3 sigmoid",), "bias constant(0.1)"),
    (("c1: conv 4 3x3 tanh", "c2: conv 4 3x3 tanh"), "weight he_normal, bias zeros"),
    (("c1: conv 4 3x3 relu", "c2: conv 4 3x3 tanh", "c3: conv 4 3x3 sigmoid"), None),
    (("c1: conv 4 3x3 tanh weight glorot_normal(gain=relu)",
      "c2: conv 4 3x3 relu weight orthogonal(gain=sigmoid)"), None),
])
def test_each_hint_written_into_the_spec_checks_without_the_warning(lines, default):
    text = spec_text(*lines, default=default)
    warnings = gain_warnings(text)
    assert warnings
    for warning in warnings:
        text = applied(text, warning)
    assert gain_warnings(text) == []


def test_a_json_ir_is_told_the_init_as_its_json_at_the_layer(tmp_path):
    cnn = tmp_path / "net.cnn"
    cnn.write_text(spec_text("c1: conv 4 3x3 tanh"))
    ir_path = tmp_path / "net.json"
    assert main(["export", str(cnn), "-o", str(ir_path)]) == 0
    from cnnspec import load
    (warning,) = [w for w in load(str(ir_path)).warnings if SAID in w.message]
    assert warning.json_path == "$.layers[0].weight_init"
    init = json.loads(warning.hint.split('"weight_init": ', 1)[1])
    assert init["gain"] == {"nonlinearity": "tanh"}


def test_summary_s_json_carries_the_warning_as_other_lints(tmp_path, capsys):
    path = tmp_path / "net.cnn"
    path.write_text(spec_text("c1: conv 4 3x3 tanh weight he_normal"))
    assert main(["summary", str(path), "--format", "json"]) == 0
    said = [w for w in json.loads(capsys.readouterr().out)["warnings"] if SAID in w["message"]]
    assert [(w["line"], w["column"]) for w in said] == [(3, 21)]
    assert "he_normal(gain=tanh)" in said[0]["hint"]


def test_check_prints_it_located_with_a_caret(tmp_path, capsys):
    path = tmp_path / "net.cnn"
    path.write_text(spec_text("c1: conv 4 3x3 tanh weight he_normal"))
    assert main(["check", str(path)]) == 0  # a warning: the spec is valid
    err = capsys.readouterr().err
    assert f"net.cnn:3:21: warning: he_normal {SAID}" in err
    assert "^^^^^^^^^^^^^^^^" in err
    assert "hint: write `weight he_normal(gain=tanh)`" in err


def test_the_factor_is_the_ratio_of_calculate_gain_squared():
    """Against torch's own table, where it is installed."""
    torch = pytest.importorskip("torch")
    text = spec_text("c1: conv 4 3x3 sigmoid weight he_normal(gain=leaky_relu(0.2))")
    (warning,) = gain_warnings(text)
    ratio = (torch.nn.init.calculate_gain("leaky_relu", 0.2)
             / torch.nn.init.calculate_gain("sigmoid")) ** 2
    said = float(re.search(r"output variance is ([0-9.]+)x", warning.message).group(1))
    assert math.isclose(said, ratio, rel_tol=1e-2)


@pytest.mark.parametrize("slope", ["1e200", "1e308", "1e100"])
def test_a_leaky_gain_of_a_huge_slope_is_its_tiny_gain_not_a_crash(slope):
    """gain=leaky_relu(1e200): the slope's square overflowed, and the gain came out 0, which
    variance scaling refused as "a gain > 0, not 0" (the slope the user wrote unnamed); taken
    through hypot it is 1.41e-200, whose ratio to relu's squared underflowed to 0, and the
    misfit's log of it was a traceback. The weights then start as 0 in float32 and check says
    that; the misfit itself is said where its factor is a number (1e100: 1e-200x)."""
    text = spec_text(f"c1: conv 4 3x3 relu weight he_normal(gain=leaky_relu({slope}))")
    checked = check(parse(text))
    assert any("they start as 0" in w.message for w in checked.warnings)
    said = gain_warnings(text)
    if slope == "1e100":
        (warning,) = said
        assert "the gain of leaky_relu(1e100), 1.414e-100" in warning.message
        assert "output variance is 1e-200x what relu needs" in warning.message
    else:
        assert said == []


def test_calculate_gain_of_a_leaky_slope_matches_torch_and_holds_huge_slopes():
    """sqrt(2 / (1 + a^2)), PyTorch's formula, at ordinary slopes, and a number above 0 at a
    slope whose square is beyond float64's range."""
    from cnnspec.init.gains import nonlinearity_gain

    assert math.isclose(nonlinearity_gain("leaky_relu", 0.2), math.sqrt(2 / 1.04))
    assert math.isclose(nonlinearity_gain("leaky_relu", 1e200), math.sqrt(2) * 1e-200)
