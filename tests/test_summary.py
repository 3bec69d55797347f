"""The summary: per layer window, shape, params and the exact init (formula, scale, fans), as a
table and as JSON, with totals."""
import json
import math
from pathlib import Path

import pytest
from readme_blocks import README, readme_block, shown_in

from cnnspec.check import check
from cnnspec.check.summary import summary_dict, summary_table
from cnnspec.lang import parse

PLAIN = """\
model plain
input 16x8x8
default weight he_normal, bias zeros
conv 16 3x3 pad same relu
conv 16 3x3 stride 2 dilation 2 pad same relu
edges: conv 2 3x3 weight sobel_x frozen
flatten
dense 10 weight glorot_uniform
train {
  data npz("data.npz")
}
"""


def words(text: str) -> str:
    """``text`` with its lines joined: what a wrapped paragraph says."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def checked():
    return check(parse(PLAIN, path="plain.cnn"))


def test_json_has_the_documented_keys(checked):
    data = json.loads(json.dumps(summary_dict(checked)))  # JSON-ready, no tuples or objects
    assert data["input_shape"] == [16, 8, 8]
    assert data["total_params"] == checked.total_params
    assert data["trainable_params"] == checked.trainable_params
    # Keras' and torchinfo's word for what a frozen layer or lr_mult 0 holds
    assert data["non_trainable_params"] == 2 * 16 * 9 + 2 and "frozen_params" not in data
    for layer in data["layers"]:
        assert {"name", "kind", "output_shape", "params", "fan_in", "fan_out", "init"} <= set(layer)
        assert isinstance(layer["output_shape"], list)


def test_json_init_describes_weight_and_bias_with_scale_and_formula(checked):
    conv1 = summary_dict(checked)["layers"][0]
    weight, bias = conv1["init"]["weight"], conv1["init"]["bias"]
    # he_normal, fan_in = 16 * 3 * 3 = 144: std = sqrt(2 / 144) = 0.1179
    assert weight["name"] == "he_normal"
    assert weight["std"] == pytest.approx(math.sqrt(2 / 144))
    assert weight["fan_in"] == conv1["fan_in"] == 144
    assert weight["fan_out"] == conv1["fan_out"] == 144
    assert "144" in weight["formula"]
    assert bias["name"] == "zeros" and bias["constant"]
    dense = summary_dict(checked)["layers"][-1]
    # glorot_uniform: bound = sqrt(6 / (fan_in + fan_out)) with fan_in = 2 * 2 * 2 = 8
    assert dense["init"]["weight"]["bound"] == pytest.approx(math.sqrt(6 / (8 + 10)))


def test_json_output_shapes_are_chw(checked):
    shapes = {layer["name"]: layer["output_shape"] for layer in summary_dict(checked)["layers"]}
    assert shapes["conv1"] == [16, 8, 8]
    assert shapes["conv2"] == [16, 4, 4]  # same, stride 2: ceil(8 / 2)
    assert shapes["edges"] == [2, 2, 2]
    assert shapes["flatten1"] == [8]


def test_table_shows_window_shape_params_and_init(checked):
    table = summary_table(checked)
    lines = table.splitlines()
    assert "Output (CxHxW)" in lines[2]  # the shape's order, said where it is read
    row = next(i for i, line in enumerate(lines) if line.startswith("conv1 "))
    conv1 = lines[row]
    assert "3x3 s1 same" in conv1 and "16x8x8" in conv1 and "2,320" in conv1
    assert conv1.endswith("he_normal  N(0, 0.118^2)")
    assert lines[row + 2] == " " * len("conv1_relu  ") + "fan_in=144 fan_out=144"
    conv2 = next(line for line in lines if line.startswith("conv2 "))
    assert "3x3 s2 same d2" in conv2 and "16x4x4" in conv2
    edges = next(line for line in lines if line.startswith("edges "))
    assert "290 held" in edges and "  sobel_x 3x3" in edges
    assert any("std = " in line and "sqrt(144)" in line for line in lines)
    assert any(line.strip().startswith("bias: zeros") for line in lines)


def test_table_totals(checked):
    table = summary_table(checked)
    total = checked.total_params
    assert f"Total params: {total:,}" in table
    assert f"Trainable params: {checked.trainable_params:,}" in table
    assert "Non-trainable params: 290" in table and "Held params" not in table
    assert f"Multiply-adds per image: {checked.macs:,}" in table
    assert "Activation memory per image:" in table


@pytest.mark.parametrize("mults, trained", [("lr_mult [0, 1]", 4), ("lr_mult [1, 0]", 36),
                                             ("lr_mult [0, 0]", 0), ("lr_mult [1, 2]", 40)])
def test_a_parameter_at_lr_mult_0_is_counted_held_as_check_holds_it(mults, trained):
    """lr_mult 0 holds a parameter where it starts (training_catalogue.is_trained): the
    summary counts it with the frozen ones, the weight's (4x1x3x3) and the bias's (4) apart;
    the memory estimate counts a gradient and optimizer state for the trained ones alone, as
    the engine keeps them: each held parameter takes off what each of a frozen layer's does."""
    text = f"input 1x8x8\nc: conv 4 3x3 {mults}\nflatten\nout: dense 10\n"
    checked = check(parse(text, path="held.cnn"))
    c = next(info for info in checked.layers if info.name == "c")
    assert (c.params, c.trainable_params) == (40, trained)
    dense = 6 * 6 * 4 * 10 + 10
    assert (checked.trainable_params, checked.frozen_params) == (trained + dense, 40 - trained)
    assert f"Trainable params: {trained + dense:,}" in summary_table(checked)
    plain, frozen = (check(parse(text.replace(mults, other), path="held.cnn")).step_memory
                     for other in ("", "frozen"))
    per_param = (plain.parameters - frozen.parameters) / 40
    assert per_param > 0
    assert plain.parameters - checked.step_memory.parameters == (40 - trained) * per_param


HELD_MIDDLE = ("input 1x8x8\na: conv 4 3x3 relu\nc: conv 4 3x3 {held}\nflatten\n"
               "out: dense 10\n")


@pytest.mark.parametrize("held, label, count", [
    ("frozen", "148 held", 148), ("lr_mult [0, 0]", "148 held", 148),
    ("lr_mult [0, 1]", "148 (144 held)", 144), ("lr_mult [1, 0]", "148 (4 held)", 4)])
def test_a_held_layer_reads_held_whichever_way_the_spec_holds_it(held, label, count):
    """The frozen keyword and lr_mult [0, 0] hold a layer by the same facts, its parameters
    at their initial values and the gradient flowing through it to `a`, which trains: its row
    reads the same words, and the note under the table says what they mean (cnnspec.held)."""
    table = summary_table(check(parse(HELD_MIDDLE.format(held=held), path="held.cnn")))
    row = next(line for line in table.splitlines() if line.startswith("c "))
    assert f" {label} " in row and "frozen" not in row
    note = words(table.split("\nHeld: ", 1)[1].split("\nSignal:")[0])
    assert note == ("a parameter kept at its initial values (`frozen`, or `lr_mult 0`), with no "
                    "gradient or optimizer state of its own; the gradient still flows through "
                    "its layer to the layers before; the non-trainable params are those.")
    assert f"Non-trainable params: {count:,}" in table


def test_a_table_without_held_parameters_has_no_note_on_them():
    table = summary_table(check(parse(HELD_MIDDLE.format(held=""), path="held.cnn")))
    assert "\nHeld: " not in table and "Non-trainable params: 0" in table


def test_memory_is_counted_in_the_dtype_it_was_checked_for():
    """`summary --dtype float64` as `check --dtype float64`: values of 8 bytes."""
    single, double = check(parse(PLAIN, path="plain.cnn")), check(parse(PLAIN, path="plain.cnn"),
                                                                  dtype="float64")
    assert (single.dtype, double.dtype) == ("float32", "float64")
    assert double.activation_memory == 2 * single.activation_memory
    data = summary_dict(double)
    assert data["dtype"] == "float64"
    assert data["step_memory"]["parameter_bytes"] == 2 * single.step_memory.parameters
    table = summary_table(double)
    assert "(float64, all layer outputs)" in table
    assert f"at batch {double.step_memory.batch_size}, float64 (" in table
    assert "float32" not in summary_table(double).split("Total params")[1]


def test_summary_command_takes_the_dtype(capsys):
    from pathlib import Path

    from cnnspec.cli import main

    spec = Path(__file__).parent.parent / "specs" / "digits.cnn"
    assert main(["summary", str(spec), "--format", "json", "--dtype", "float64"]) == 0
    assert json.loads(capsys.readouterr().out)["dtype"] == "float64"
    with pytest.raises(SystemExit) as raised:
        main(["summary", str(spec), "--dtype", "float16"])
    assert raised.value.code == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err


def test_signal_column_follows_the_estimate(checked):
    layers = {layer["name"]: layer for layer in summary_dict(checked)["layers"]}
    # He: fan_in * Var(w) = 2 per conv, relu halves E[x^2]: back to the input's root mean
    # square after each pair (He et al. 2015, eq. 7), though the ReLU output's std is below
    # it; less the share of the products that read the zero padding (check.signal.read_shares)
    from cnnspec.check.signal import read_shares

    kept = read_shares(checked.layers)["conv1"]
    assert kept < 1
    assert layers["conv1"]["signal_rms"] == pytest.approx(math.sqrt(2 * kept))
    assert layers["conv1_relu"]["signal_rms"] == pytest.approx(math.sqrt(kept))
    # so the table does not call the column a std
    assert "sqrt(E[x^2]) = sqrt(mean^2 + std^2) relative to the input's" in words(
        summary_table(checked, explain=True))


SILENCED = """\
model silenced
input 1x8x8
default weight he_normal
c1: conv 16 3x3 pad same bias normal(0, 1) relu
c2: conv 16 3x3 pad same bias constant(-3) relu
flatten
fc: dense 10
"""


def test_the_signal_column_and_the_silenced_relu_warning_count_the_biases_alike():
    """A drawn bias adds its variance to its layer's mean square, a constant one its square;
    the warning about the ReLU a bias of -3 silences quotes the std of the sums the column
    holds less that square, both from one estimate (cnnspec.check.signal.moments)."""
    from cnnspec.check.signal import read_shares
    from cnnspec.errors import rounded_text

    checked = check(parse(SILENCED, path="silenced.cnn"))
    layers = {layer["name"]: layer for layer in summary_dict(checked)["layers"]}
    c1 = 2 * read_shares(checked.layers)["c1"] + 1  # He's 2 (on a unit input), and N(0, 1)'s 1
    assert layers["c1"]["signal_rms"] == pytest.approx(math.sqrt(c1))
    assert layers["c1_relu"]["signal_rms"] == pytest.approx(math.sqrt(c1 / 2))
    spread = math.sqrt(layers["c2"]["signal_rms"] ** 2 - 9)
    (warning,) = checked.warnings
    assert f"about {rounded_text(spread)} for inputs of unit mean square" in warning.message
    # the ReLU passes the few sums above 3: far less than half of c2's mean square
    assert layers["c2_relu"]["signal_rms"] < 0.1 * layers["c2"]["signal_rms"]


def test_each_formula_cites_the_paper_it_comes_from(checked):
    """The formula lines name the scheme's paper from the init catalogue: He et al. 2015 for
    the convs' he_normal, Glorot & Bengio 2010 for the head's glorot_uniform; a fixed kernel
    (sobel_x) has none."""
    lines = [line.strip() for line in summary_table(checked).splitlines()]
    formulas = [i for i, line in enumerate(lines) if line.startswith(("std =", "bound ="))]
    assert lines[formulas[0]].endswith("= 0.118  (He et al. 2015)")
    # too long for the formula's line, it heads the next one
    assert lines[formulas[-1] + 1].startswith("(Glorot & Bengio 2010)  fan_in=8")
    sobel = next(i for i, line in enumerate(lines) if line.startswith("edges "))
    assert "(" not in lines[sobel + 1].split("]")[-1]


def test_torch_default_as_the_model_default_bounds_weight_and_bias_by_the_weight_fan_in():
    text = PLAIN.replace("default weight he_normal, bias zeros",
                         "default weight torch_default, bias torch_default").replace(
        "dense 10 weight glorot_uniform", "dense 10")
    layers = summary_dict(check(parse(text, path="plain.cnn")))["layers"]
    for layer in (layers[0], layers[-1]):  # conv fan_in 16 * 3 * 3 = 144; dense fan_in 8
        weight, bias = layer["init"]["weight"], layer["init"]["bias"]
        assert weight["name"] == bias["name"] == "torch_default"
        assert weight["bound"] == bias["bound"] == pytest.approx(1 / math.sqrt(layer["fan_in"]))
        assert bias["formula"] == weight["formula"] == (
            f"bound = 1 / sqrt(fan_in) = 1 / sqrt({layer['fan_in']}) = "
            f"{1 / math.sqrt(layer['fan_in']):.3g}")


@pytest.mark.parametrize(("init", "short", "in_formula"), [
    ({"name": "normal", "mean": 2.5e-7, "std": 1e39}, "N(2.5e-7, 1e39^2)", "std = 1e39 (given)"),
    ({"name": "uniform", "low": -1e-5, "high": 3e-5}, "U(-1e-5, 3e-5)", "(3e-5 - (-1e-5))"),
    ({"name": "truncated_normal", "mean": 0.0, "std": 1e-5, "low": -1e-5, "high": 2e-5},
     "TN(0, 1e-5^2, [-1e-5, 2e-5])", "redrawn outside [-1e-5, 2e-5]"),
    ({"name": "constant", "value": 1e39}, "constant 1e39", "every element = 1e39"),
    ({"name": "normal", "mean": 0.0, "std": 1.23456789e-5}, "N(0, 1.23e-5^2)",
     "std = 1.23456789e-5 (given)"),
])
def test_an_init_writes_its_numbers_as_a_spec_does(init, short, in_formula):
    """Given values whole and results to 3 digits, exponents as a spec writes them
    (``1e39``, ``1e-5``), not Python's ``1e+39`` and ``1e-05``."""
    from cnnspec.init.describe import describe

    info = describe(init, (10, 4))
    assert info.short == short
    assert in_formula in info.formula
    assert "e+" not in info.short + info.formula and "e-0" not in info.short + info.formula


def test_the_summary_table_writes_init_numbers_as_a_spec_does():
    table = summary_table(check(parse("input 1x8x8\nflatten\ndense 10 weight normal(1e-5, "
                                      "2e-6) bias constant(1e30)\n", path="net.cnn")))
    assert "N(1e-5, 2e-6^2)" in table and "constant 1e30" in table
    assert "e-0" not in table and "e+" not in table


SPECS = Path(__file__).parent.parent / "specs"


@pytest.mark.parametrize("name", ["digits.cnn", "deep_tanh200.cnn", "cifar10_vgg.cnn",
                                  "familiar.cnn"])
def test_the_table_and_its_notes_fit_a_hundred_columns(name):
    """A formula line ran to 146 columns on README's digits example and its Signal note was
    one line of 900; a layer's long distribution (delta orthogonal) moves under its row, and
    its init too where the columns before leave it no room (familiar.cnn's long names)."""
    from cnnspec.diagnostics import WIDTH

    table = summary_table(check(parse((SPECS / name).read_text(), path=name),
                                for_training=False))
    assert max(len(line) for line in table.splitlines()) <= WIDTH == 100


def test_a_window_too_long_for_its_column_goes_under_its_row():
    """`3x3 s1 pad 1x1 pad uncounted` widened the Window column of every row by 8."""
    text = ("input 1x8x8\nsmooth: avgpool 3 stride 1 pad 1 count_include_pad false\nflatten\n"
            "dense 10\n")
    lines = summary_table(check(parse(text, path="net.cnn"))).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("smooth "))
    assert "pad uncounted" not in lines[row]
    assert lines[row + 1] == " " * len("flatten1  ") + "window: 3x3 s1 pad 1x1 pad uncounted"


def test_the_signal_note_says_the_essential_and_names_the_flag_for_the_rest(capsys):
    """The note on the Signal column was a paragraph of 900 characters on every summary; it
    says what the column is in a few lines, and `--explain` has how it is estimated."""
    from cnnspec.cli import main

    spec = str(SPECS / "digits.cnn")
    assert main(["summary", spec]) == 0
    out = capsys.readouterr().out
    note = out[out.index("Signal: "):]
    assert len(note.splitlines()) <= 4
    assert words(note) == (
        "Signal: the estimated scale of each layer's output at init, its root mean square "
        "relative to the input's (He et al. 2015, eq. 7): near 1 the signal keeps its scale; "
        f"`check` warns at 100x or 1/100. `cnnspec summary {spec} --explain` "
        f"says how it is estimated, `cnnspec init-report {spec}` measures it on the data.")
    assert main(["summary", spec, "--explain"]) == 0
    explained = words(capsys.readouterr().out)
    assert "after a max pool the largest of its window's values" in explained
    assert "near 1 the signal keeps its scale; `check` warns at 100x or 1/100" in explained
    assert "--explain" not in explained


@pytest.mark.parametrize("explain", [False, True])
def test_a_spread_beyond_a_floats_range_is_written_from_its_exponent(explain):
    """A 2x2 conv_transpose of stride 1000 on a 1x1 map: four of its 2000x2000 positions read
    the input, and its log-variance is 31,251; the note took exp(31251 / 4), an OverflowError
    and a traceback from summary; it writes the factor from its decimal exponent."""
    checked = check(parse("input 1x1x1\nb0: conv 4 1x1 relu\nb1: conv_transpose 4 2x2 "
                          "stride 1000 pad same\nflatten\nout: dense 2\n"),
                    for_training=False)
    table = words(summary_table(checked, explain=explain))
    assert "about 1.13e3393x below" in table and "at 'b1'" in table


def test_the_libraries_signal_note_names_explain_as_the_library_takes_it():
    """Called from Python, the note named the command line's `--explain` flag."""
    import cnnspec

    spec = str(SPECS / "digits.cnn")
    note = words(cnnspec.summary(spec))
    assert f"`cnnspec.summary({spec!r}, explain=True)` says how it is estimated" in note, note
    assert "--explain" not in note
    unnamed = words(summary_table(check(parse(PLAIN))))  # a spec read from no file
    assert "`cnnspec.summary(..., explain=True)` says how it is estimated" in unnamed, unnamed


def test_shown_in_reads_the_dots_as_left_out_lines():
    out = ["a", "b", "c", "d", "e"]
    assert shown_in(["a", "...", "c", "...", "e"], out)
    assert not shown_in(["a", "...", "d", "c", "...", "e"], out)
    assert not shown_in(["b", "...", "e"], out)
    assert not shown_in(["a", "...", "d"], out)
    assert not shown_in(["a", "...", "d", "...", "c", "...", "e"], out)


def test_readme_quotes_the_digits_summary_as_it_is_printed(capsys, monkeypatch):
    """README's digits summary said fc2's Signal was 2.83 after the estimate had moved to
    2.89: its block is the output of `cnnspec summary specs/digits.cnn` with runs of lines
    left out where it says `...`."""
    from cnnspec.cli import main

    monkeypatch.chdir(README.parent)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")  # `cnnspec` on PATH
    assert main(["summary", "specs/digits.cnn"]) == 0
    out = capsys.readouterr().out.rstrip("\n").split("\n")
    assert shown_in(readme_block("Model: digits"), out), "\n".join(out)


@pytest.mark.parametrize("layer, start", [
    ("conv 8 3 nobias bn", ("c_bn batchnorm 8x6x6 16 1 ones constant 1\n"
     "starts at scale 1, shift 0")),
    ("conv 8 3 prelu", ("c_prelu prelu 8x6x6 8 1.03 constant 0.25\n"
     "starts at slope 0.25 per channel, PyTorch's nn.PReLU default")),
])
def test_a_layer_that_starts_fixed_says_what_each_part_starts_at(layer, start):
    """A batch norm's Init column names its scale's `ones` alone: the line under it says
    that the shift starts at 0 too."""
    table = summary_table(check(parse(f"input 1x8x8\nc: {layer}\nflatten\ndense 10\n")))
    rows = ["\n".join(" ".join(line.split()) for line in table.splitlines()[k:k + 2])
            for k in range(len(table.splitlines()))]
    assert start in rows, table


@pytest.mark.parametrize("mean, dies", [(-0.02, "c1"), (0.0, None)])
def test_the_signal_column_says_where_a_relu_starts_mostly_dead(mean, dies):
    """Past a ReLU after sums of negative mean the column's Gaussian sums keep or grow the
    scale (169 at the 20th of such layers on 8x8 maps) while the engine's dies out: the JSON
    names the layer from which the column does not hold, and the table says so under it, in
    short and with --explain; kernels drawn about 0 have no such note."""
    text = "model neg\ninput 1x8x8\n" + "".join(
        f"c{i}: conv 32 3x3 pad same relu weight normal({mean}, 0.05)\n" for i in range(20)) \
        + "flatten\nout: dense 10\n"
    checked = check(parse(text, path="neg.cnn"))
    assert summary_dict(checked)["signal_dies"] == dies
    note = f"From '{dies}' on the Signal column does not hold: most of the inputs of the ReLU"
    for explain in (False, True):
        assert (note in words(summary_table(checked, explain=explain))) == (dies is not None)
