"""The warning of a weight init whose gain is made for another activation than the one after
its layer (:mod:`cnnspec.check.gainfit`): where it fires, where it stays quiet, and that its
hint, written into the spec as it says, checks without it."""
import json
import math
import re
from pathlib import Path

import pytest

from cnnspec.check import check
from cnnspec.check.gainfit import MATERIAL
from cnnspec.cli import main
from cnnspec.init.gains import (
    MOMENT_KEEPING,
    gain,
    second_moment_gain,
)
from cnnspec.kinds import KINDS
from cnnspec.lab.report import init_report
from cnnspec.lang import parse

SAID = "draws Var(w) = gain^2 / fan"


def spec_text(*lines: str, default: str | None = None) -> str:
    """A small spec on 1x8x8 images, its logits a dense 10 layer."""
    head = ["model g", "input 1x8x8"] + ([f"default {default}"] if default else [])
    return "\n".join(head + list(lines) + ["flatten", "out: dense 10", ""])


def gain_warnings(text: str) -> list:
    return [w for w in check(parse(text)).warnings if SAID in w.message]


def said_factor(warning) -> float:
    """The factor a gain warning says each layer's output variance is off by."""
    return float(re.search(r"output variance is ([0-9.]+)x", warning.message).group(1))


def applied(text: str, warning, choice: int = 0) -> str:
    """``text`` with ``warning``'s hint carried out as a person would: the `weight INIT` it
    gives (the ``choice``-th, where it gives two) written over the init it points at, on the
    `default` line, as a new `default` line after the input line, or at the end of the lines
    of the layers it names."""
    written = re.findall(r"`((?:default )?[^`]*weight [^`]+)`", warning.hint)[choice]
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
    # sigmoid's gain is the one that keeps the second moment, 1.846, not calculate_gain's 1
    assert "which takes a gain of 1.846 (the gain that keeps the second moment" in warning.message
    assert math.isclose(said_factor(warning), 2 / 1.846 ** 2, rel_tol=1e-2)
    assert "settles near that scale rather than compounding it" in warning.message
    assert warning.hint.startswith("add the line `default weight he_normal(gain=1.846)`")


def test_pytorch_s_sigmoid_gain_before_sigmoid_is_said():
    (warning,) = gain_warnings(spec_text("c1: conv 4 3x3 sigmoid weight he_normal(gain=sigmoid)"))
    assert "the gain of sigmoid, 1, but 'c1' feeds sigmoid" in warning.message
    assert math.isclose(said_factor(warning), 1 / 1.846 ** 2, rel_tol=1e-2)


@pytest.mark.parametrize("line, factor, fit", [
    ("c1: conv 4 3x3 relu weight he_normal(gain=3)", 9 / 2, "he_normal"),
    ("c1: conv 4 3x3 tanh weight glorot_uniform(gain=0.5)", 0.25 / (5 / 3) ** 2,
     "glorot_uniform(gain=tanh)"),
    ("c1: conv 4 3x3 tanh weight he_normal(gain=1.414)", 1.414 ** 2 / (5 / 3) ** 2,
     "he_normal(gain=tanh)"),
    ("c1: conv 4 3x3 elu", 2 / 1.2452 ** 2, "he_normal(gain=elu)"),
    ("c1: conv 4 3x3 elu weight he_normal(gain=tanh)", (5 / 3) ** 2 / 1.2452 ** 2,
     "he_normal(gain=elu)"),
    ("c1: conv 4 3x3 elu(0.2) weight he_normal(gain=0.9)", None, "he_normal(gain="),
])
def test_numeric_gains_and_elu_s_are_compared_alike(line, factor, fit):
    (warning,) = gain_warnings(spec_text(line))
    if factor is not None:
        assert math.isclose(said_factor(warning), factor, rel_tol=1e-2)
    assert f"weight {fit}" in warning.hint


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
    ("c1: conv 4 3x3 tanh weight he_normal(gain=1.5)",),  # within MATERIAL of 1.593
    ("c1: conv 4 3x3 sigmoid weight he_normal(gain=1.8)",),
    ("c1: conv 4 3x3 elu weight he_normal(gain=elu)", "c2: conv 4 3x3 elu weight lecun_normal"),
    ("c1: conv 4 3x3 relu weight glorot_uniform", "c2: conv 4 3x3 relu weight lecun_normal",
     "c3: conv 4 3x3 relu weight orthogonal"),  # gain 1: said over depth by the estimate
    ("c1: conv 4 3x3 tanh weight lecun_normal", "c2: conv 4 3x3 sigmoid weight torch_default"),
    ("c1: conv 4 3x3 bn tanh",),  # the norm sets the scale tanh sees
    # no gain keeps their stack's scale (test_no_gain_holds_a_gelu_like_stack)
    ("c1: conv 4 3x3 gelu", "c2: conv 4 3x3 silu", "c3: conv 4 3x3 hardswish"),
    ("c1: conv 4 3x3 gelu weight he_normal(gain=3)", "c2: conv 4 3x3 silu weight lecun_normal"),
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


def test_a_json_ir_of_a_deep_tanh_stack_is_told_both_inits_as_their_json(tmp_path):
    cnn = tmp_path / "net.cnn"
    cnn.write_text(stack("tanh", "he_normal"))
    ir_path = tmp_path / "net.json"
    assert main(["export", str(cnn), "-o", str(ir_path)]) == 0
    from cnnspec import load
    (warning,) = [w for w in load(str(ir_path)).warnings if SAID in w.message]
    first, second = warning.hint.split('"weight_init": ')[1:]
    assert json.loads(first.split("}:", 1)[0] + "}") == {"name": "lecun_normal"}
    assert json.loads(second.split("}, with", 1)[0] + "}")["gain"] == {"nonlinearity": "tanh"}


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
    text = spec_text("c1: conv 4 3x3 tanh weight he_normal(gain=leaky_relu(0.2))")
    (warning,) = gain_warnings(text)
    ratio = (torch.nn.init.calculate_gain("leaky_relu", 0.2)
             / torch.nn.init.calculate_gain("tanh")) ** 2
    assert math.isclose(said_factor(warning), ratio, rel_tol=1e-2)


def test_the_registry_s_gains_are_the_table_s_where_a_stack_holds_them():
    assert KINDS["relu"].moment_gain({}) == pytest.approx(math.sqrt(2), rel=1e-12)
    assert KINDS["leaky_relu"].moment_gain({"slope": 0.2}) == pytest.approx(
        gain({"nonlinearity": "leaky_relu", "slope": 0.2}), rel=1e-9)
    assert KINDS["elu"].moment_gain({"alpha": 1.0}) == gain({"nonlinearity": "elu"})
    for name in ("gelu", "silu", "hardswish", "mish"):
        assert KINDS[name].moment_gain(KINDS[name].ir_defaults()) is None
    assert KINDS["softmax"].moment_gain({}) is None


# ---------------------------------------------------------------- what the engine measures

def stack(activation: str, init: str, depth: int = 20, width: int = 256) -> str:
    """A plain stack of ``depth`` dense layers, each before ``activation``: the first reads
    unit Gaussian inputs with gain 1 (its sums' variance 1, the fixed point a gain keeps),
    every other takes ``init``, the default."""
    body = [f"l0: dense {width} {activation} weight lecun_normal"] + [
        f"l{i}: dense {width} {activation}" for i in range(1, depth)]
    return "\n".join(["model s", "input 1x8x8", f"default weight {init}", "flatten", *body,
                      "out: dense 10 weight lecun_normal", ""])


def sums_variance(tmp_path, text: str, seeds: int = 3) -> float:
    """The second moment of the last hidden layer's sums (before its activation), as the
    engine's forward pass gives it on 512 unit Gaussian inputs: the geometric mean over the
    weights of ``seeds`` seeds, as one draw of a finite layer spreads it (a 20-layer ReLU stack
    256 wide keeps 0.66 to 1.0 of it over five seeds, 128 wide 0.2 to 1.4: the log of its
    variance spreads as 5 depth / width, Hanin & Rolnick 2018)."""
    path = tmp_path / "stack.cnn"
    path.write_text(text)
    logs = []
    for seed in range(seeds):
        report = init_report(str(path), input_kind="gaussian", batch_size=512, seed=seed)
        last = [row for row in report.variants[0].layers if row.kind == "dense"][-2]
        logs.append(math.log(last.act_std ** 2 + last.act_mean ** 2))
    return math.exp(sum(logs) / seeds)


@pytest.mark.parametrize("activation, init, choice", [
    ("relu", "he_normal(gain=tanh)", 0), ("tanh", "he_normal", 1), ("sigmoid", "he_normal", 0),
    ("elu", "he_normal(gain=tanh)", 0),
])
def test_following_the_hint_keeps_the_signal_within_the_factor_over_20_layers(
        tmp_path, activation, init, choice):
    """(Over 20 tanh layers the hint's first init is the critical one, and tanh's gain, which
    holds the signal, its second: see the next test.)"""
    text = stack(activation, init)
    warnings = gain_warnings(text)
    assert warnings
    before = sums_variance(tmp_path, text)
    for warning in warnings:
        text = applied(text, warning, choice)
    after = sums_variance(tmp_path, text)
    assert 1 / MATERIAL < after < MATERIAL  # the unit variance of the first layer's sums
    assert not 1 / MATERIAL < before < MATERIAL  # the warned init did not keep it


def test_a_tanh_stack_deep_enough_to_part_its_gradients_at_tanh_s_gain_is_hinted_critical(
        tmp_path):
    """He's relu gain before 20 tanh layers: tanh's gain, 5/3, would put the stack in the
    chaotic phase, where the gradient warning tells it to use the critical init (Poole et al.
    2016): the hint gives that first, and says what each choice keeps. Its first choice draws
    no gradient warning and lets the sums' variance fade as 1 / (2 depth), its second draws
    the gradient warning it names; a stack of 3 layers, which 5/3 does not part past the
    limit, is given tanh's gain alone."""
    text = stack("tanh", "he_normal")
    (warning,) = gain_warnings(text)
    assert warning.hint.startswith("write `weight lecun_normal` on the `default` line (line 3)")
    assert "or `weight he_normal(gain=tanh)`, with the gain of tanh, 1.667" in warning.hint
    factor = float(re.search(r"gradient ([0-9.]+)x larger than 'l19''s over the 20 layers",
                             warning.hint).group(1))
    critical, gained = applied(text, warning, 0), applied(text, warning, 1)
    assert [w for w in check(parse(critical)).warnings if "weights' gradient" in w.message] \
        == []
    (told,) = [w for w in check(parse(gained)).warnings if "weights' gradient" in w.message]
    assert f"{factor}x larger" in told.message and "chaotic" in told.message
    assert 1 / 2 < sums_variance(tmp_path, critical) * 2 * 19 < 2  # q about 1 / (2 l)
    shallow = stack("tanh", "he_normal", depth=3)
    (warning,) = gain_warnings(shallow)
    assert "`weight he_normal(gain=tanh)`" in warning.hint and "critical" not in warning.hint


def test_no_gain_holds_a_gelu_like_stack(tmp_path):
    """Why gelu, silu, hard swish and mish get no fitting gain: started at the variance 1 the
    gain that keeps the second moment keeps, their stack drifts from it (the fixed point does
    not hold: fixed_point_slope above 1), where elu's stays."""
    for name in ("gelu", "silu", "hardswish", "mish", "elu"):
        g = second_moment_gain(MOMENT_KEEPING[name])
        drift = sums_variance(tmp_path, stack(name, f"he_normal(gain={g:.4f})"))
        assert (1 / MATERIAL < drift < MATERIAL) == (name == "elu"), name


def test_glorot_before_relu_is_said_by_the_estimate_over_depth_not_per_layer():
    """He et al. 2015's 22-layer net under Glorot's init: the signal estimate's one warning
    (its scale shrinks past 100x), and no gain warning; a 3-layer one draws neither."""
    deep = spec_text("stem: conv 16 3x3 pad same relu", "repeat 21 as body {",
                     "  conv 16 3x3 pad same relu", "}", default="weight glorot_normal")
    warnings = check(parse(deep)).warnings
    assert not [w for w in warnings if SAID in w.message]
    (scale,) = [w for w in warnings if "signal's scale" in w.message]
    assert "glorot_normal before relu" in scale.message and "he_normal" in scale.hint
    shallow = deep.replace("repeat 21", "repeat 2")
    assert not [w for w in check(parse(shallow)).warnings if "signal's scale" in w.message]


# docs/language.md's gains are generated (tests/test_generated_files.py holds them fresh).
@pytest.mark.parametrize("page, form", [("docs/how-to-initialise.md", "`gain={}` ")])
def test_the_gains_the_pages_give_are_the_table_s(page, form):
    text = " ".join((Path(__file__).parents[1] / page).read_text(encoding="utf-8").split())
    for name in MOMENT_KEEPING:
        said = re.search(re.escape(form.format(name)) + r"(\d+\.\d+)", text)
        assert said, (page, name)
        assert float(said[1]) == round(gain({"nonlinearity": name}), 3), (page, name)


@pytest.mark.parametrize("line, said", [
    ("c1: conv 4 3x3 relu6 weight he_normal(gain=tanh)", "compounding over the layers"),
    ("c1: conv 4 3x3 elu weight he_normal(gain=tanh)", "compounding over the layers"),
    ("c1: conv 4 3x3 tanh weight he_normal", "settles near that scale"),
])
def test_a_saturating_activation_s_stack_settles_where_another_s_compounds(line, said):
    (warning,) = gain_warnings(spec_text(line))
    assert said in warning.message


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


def test_an_elu_of_a_large_alpha_is_hinted_its_small_gain_not_0():
    """elu(alpha=1e4) keeps its second moment at a gain of 2.6e-4, which three decimal places
    wrote as 0, a gain variance scaling refuses; the hint's init checks clean."""
    text = spec_text("c1: conv 4 3x3 elu(1e4) weight he_normal")
    (warning,) = gain_warnings(text)
    written = re.search(r"gain=([0-9.e+-]+)\)", warning.hint).group(1)
    assert math.isclose(float(written), 2.627e-4, rel_tol=1e-3)
    assert gain_warnings(applied(text, warning)) == []


@pytest.mark.parametrize("init", ["orthogonal(gain=2)", "orthogonal(gain=relu)"])
def test_an_orthogonal_init_before_a_deep_tanh_stack_is_hinted_its_critical_gain(init):
    """orthogonal's gain scales an orthogonal matrix, no variance-scaling rule of the presets:
    its critical init is orthogonal at gain 1. The hint's first choice, written into the spec,
    draws neither the gain warning nor the gradient warning (check raised KeyError)."""
    text = stack("tanh", init)
    (warning,) = gain_warnings(text)
    assert warning.hint.startswith("write `weight orthogonal` on the `default` line (line 3): "
                                   "tanh's critical init")
    critical = applied(text, warning, 0)
    assert [w.lint for w in check(parse(critical)).warnings
            if w.lint in ("gain-misfit", "gradient-scale")] == []


def test_sigmoid_s_gain_that_parts_the_gradients_says_so_in_the_hint():
    """sigmoid has no critical init to give first; where its gain would part the stack's
    weights' gradients past the gradient warning's limit (3 conv layers at gain 3 keep them
    at one scale, at sigmoid's 1.846 they part 3.63x), the hint gives the gain with what
    it does, and the gradient warning its written init draws says the same factor."""
    text = spec_text(*(f"l{i}: conv 8 3x3 pad same sigmoid" for i in range(3)),
                     default="weight glorot_uniform(gain=3)")
    assert [w.lint for w in check(parse(text)).warnings] == ["gain-misfit"]
    (warning,) = gain_warnings(text)
    assert warning.hint == (
        "write `weight glorot_uniform(gain=1.846)` on the `default` line (line 3), which holds "
        "the forward signal but makes 'l0''s weights' gradient 3.63x smaller than 'l2''s over "
        "the 3 layers (the ordered phase: Schoenholz et al. 2017)")
    (told,) = check(parse(applied(text, warning))).warnings
    assert told.lint == "gradient-scale" and "3.63x smaller than of 'l2'" in told.message
