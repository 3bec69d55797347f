"""The lab's commands end to end: ``init-report``, ``compare`` and ``train --stats``."""
import json
import math
import re
from pathlib import Path

import pytest

from cnnspec.cli import main
from cnnspec.errors import counted, rounded_text
from cnnspec.lab.recorder import read_stats

SPECS = Path(__file__).resolve().parent.parent / "specs"
PNG = b"\x89PNG\r\n\x1a\n"
LAYER_KEYS = {"name", "act_mean", "act_std", "dead_frac", "weight_std", "weight_std_expected",
              "grad_std", "weight_grad_std", "fan_in", "fan_out", "weight_bound_expected"}



@pytest.fixture
def tiny(tiny_digits_spec):
    return str(tiny_digits_spec)


def test_init_report_json_per_variant_and_layer(tmp_path, capsys):
    png = tmp_path / "depth.png"
    code = main(["init-report", str(SPECS / "plain30.cnn"), "--input", "gaussian", "--batch-size",
                 "2", "--init", "he_normal", "--init", "normal(0, 0.01)", "--format", "json",
                 "-o", str(png)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input"] == "gaussian" and report["batch"] == 2
    assert [v["init"] for v in report["variants"]] == ["he_normal", "normal(0, 0.01)"]
    for variant in report["variants"]:
        layers = variant["layers"]
        assert len(layers) == 63  # 30 conv + 30 relu + pool + flatten + head
        assert all(LAYER_KEYS <= set(row) for row in layers)
        convs = [row for row in layers if row["kind"] == "conv"]
        assert all(row["weight_std"] > 0 and row["dead_frac"] is None for row in convs)
        relus = [row for row in layers if row["kind"] == "relu"]
        assert all(0 <= row["dead_frac"] <= 1 for row in relus)
    he, small = report["variants"]
    assert he["signal"]["layers"] == 30  # hidden conv layers: the dense head is the output
    assert small["signal"]["act_per_layer"] < 0.1 < he["signal"]["act_per_layer"]
    assert he["layers"][2]["weight_std_expected"] == pytest.approx(math.sqrt(2 / 144))
    assert small["layers"][2]["weight_std_expected"] == pytest.approx(0.01)
    assert small["layers"][-2]["act_std"] < 1e-20 < he["layers"][-2]["act_std"]
    assert png.read_bytes()[:8] == PNG


def test_init_report_table_on_real_data(capsys):
    assert main(["init-report", str(SPECS / "digits.cnn"), "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "8 inputs from digits" in out
    assert "init spec's inits: he_normal, glorot_uniform (input std" in out
    for column in ("act std", "dead", "w std exp.", "grad std", "w grad std"):
        assert column in out
    assert "conv1_relu" in out and "fc2" in out
    assert "signal: activation std x" in out


def test_init_report_says_which_init_option_a_warning_comes_from(tmp_path, capsys):
    """The warnings of an --init variant were located at the spec's layers, whose line shows
    the spec's own init: they now name the option; the spec's own warnings stay as check
    prints them, once."""
    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nc1: conv 8 3x3 relu\nside: conv 4 3x3 <- input\n"
                    "flatten <- c1_relu\nfc: dense 10\n")
    assert main(["init-report", str(spec), "--input", "gaussian", "--batch-size", "2",
                 "--init", "he_normal", "--init", "zeros"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if ": warning: " in line]
    assert warnings == [
        (f"{spec}:3:1: warning: layer 'side' is not used: no path leads from there to the "
         "output 'fc' [unused-layer]"),
        (f'{spec}:2:1: warning: with --init "zeros": all 8 filters of c1 start identical '
         "(constant 0), and with biases of 0 every input to its relu is 0, where it passes no "
         "gradient: c1 never changes, so symmetry never breaks [identical-filters]"),
        # the head's zeros would learn on any input but the zeros c1 gives it
        (f'{spec}:5:1: warning: with --init "zeros": every weight of dense fc starts at 0 '
         "(constant 0), and its input is the zero output of 'c1', so the gradient of its "
         "weights (its output's gradient times its input) is 0: fc's weights never change, and "
         "no gradient passes back through it to the layers before [identical-filters]")]


# A layer of each way of counting fans, each under an init whose formula reads them (on the
# default data, digits: 1x8x8, 10 classes): C/G*kh*kw and F*kh*kw for a conv (grouped, depthwise),
# F/G*kh*kw and C*kh*kw for a transposed conv (PyTorch's layout (C, F/G, kh, kw)), inputs and units
# for a dense layer.
FANS_SPEC = """input 1x8x8
plain: conv 6 3x3 pad same weight he_normal relu
grouped: conv 8 3x3 pad same groups 2 weight glorot_uniform relu
depthwise: conv 8 5x5 pad same groups 8 weight he_uniform(mode=fan_out)
up: conv_transpose 4 2x2 stride 2 groups 2 weight glorot_normal
flatten
head: dense 10 weight variance_scaling(2, fan_avg, truncated_normal)
"""
# layer -> (fan_in, fan_out, std the formula gives, bound it gives)
FANS_EXPECTED = {
    "plain": (1 * 9, 6 * 9, math.sqrt(2 / 9), None),
    "grouped": (6 // 2 * 9, 8 * 9, math.sqrt(2 / (27 + 72)), math.sqrt(6 / (27 + 72))),
    "depthwise": (8 // 8 * 25, 8 * 25, math.sqrt(2 / 200), math.sqrt(6 / 200)),
    "up": (4 // 2 * 4, 8 * 4, math.sqrt(2 / (8 + 32)), None),
    # sigma = std / 0.8796 (the std of N(0, 1) cut at +-2), cut at 2 sigma
    "head": (4 * 16 * 16, 10, math.sqrt(2 / ((1024 + 10) / 2)),
             2 * math.sqrt(2 / ((1024 + 10) / 2)) / 0.8796256610342398),
}


def _report_rows(spec, text: str, capsys) -> tuple[list[str], dict[str, dict]]:
    """The init-report command line of ``text`` written to ``spec`` (gaussian inputs, a batch
    of 2), and its JSON's rows of the spec's own init, by layer name."""
    spec.write_text(text)
    args = ["init-report", str(spec), "--input", "gaussian", "--batch-size", "2"]
    assert main([*args, "--format", "json"]) == 0
    layers = json.loads(capsys.readouterr().out)["variants"][0]["layers"]
    return args, {row["name"]: row for row in layers}


def test_init_report_fans_and_what_the_formulas_make_of_them(tmp_path, capsys):
    """The fans each layer's init reads, in the JSON and the table alike, and the std and
    bound its formula gives from them: He's sqrt(2 / fan_in), Glorot's sqrt(6 / (fan_in +
    fan_out)) bound, ... on a plain, grouped, depthwise and transposed conv and a dense
    layer."""
    args, rows = _report_rows(tmp_path / "fans.cnn", FANS_SPEC, capsys)
    for name, (fan_in, fan_out, std, bound) in FANS_EXPECTED.items():
        row = rows[name]
        assert (row["fan_in"], row["fan_out"]) == (fan_in, fan_out), name
        assert row["weight_std_expected"] == pytest.approx(std, rel=1e-12), name
        if bound is None:
            assert row["weight_bound_expected"] is None, name
        else:
            assert row["weight_bound_expected"] == pytest.approx(bound, rel=1e-9), name
    assert [rows["plain_relu"][key] for key in ("fan_in", "fan_out",
                                                "weight_bound_expected")] == [None] * 3
    assert main(args) == 0
    tables = table_rows(capsys.readouterr().out)
    for name, (fan_in, fan_out, std, bound) in FANS_EXPECTED.items():
        row = tables[1][name]  # the weights' table
        assert (row["fan_in"], row["fan_out"]) == (str(fan_in), str(fan_out)), name
        assert float(row["w std exp."]) == pytest.approx(std, rel=5e-3), name
        assert row["w bound exp."] == "-" if bound is None else \
            float(row["w bound exp."]) == pytest.approx(bound, rel=5e-3), name
    # a relu has no weights: a row of the signal's table alone
    assert "plain_relu" in tables[0] and "plain_relu" not in tables[1]
    assert set(tables[1]) == set(FANS_EXPECTED)


def table_rows(out: str) -> list[dict[str, dict[str, str]]]:
    """Each table of an init-report's text (a header line starting ``layer``, then a row per
    layer up to the first line that is no row): its rows by layer name, each a column's cell
    by the column's title."""
    tables, columns = [], None
    for line in out.splitlines():
        if line.startswith("layer "):
            columns = [title for title in line.split("  ") if title.strip()]
            columns = [title.strip() for title in columns]
            tables.append({})
        elif columns and line and len(line.split()) == len(columns):
            cells = line.split()
            tables[-1][cells[0]] = dict(zip(columns, cells))
        else:
            columns = None
    return tables


@pytest.mark.parametrize("spec", ["digits.cnn", "plain30.cnn"])
def test_init_report_tables_fit_in_100_columns(spec, capsys):
    """One table of 14 columns was 180-200 wide and wrapped on a terminal: two tables, the
    signal and the weights, each within diagnostics.WIDTH, and on a terminal the lines of words
    wrapped to it; the JSON still holds every column of each layer."""
    from cnnspec.diagnostics import WIDTH
    from cnnspec.lab.report import format_table, init_report

    args = ["init-report", str(SPECS / spec), "--input", "gaussian", "--batch-size", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    signal, weights = table_rows(out)
    table_lines = [line for line in out.splitlines()
                   if line.split() and line.split()[0] in {"layer", *signal}]
    assert table_lines and max(len(line) for line in table_lines) <= WIDTH
    assert main([*args, "--format", "json"]) == 0
    layers = json.loads(capsys.readouterr().out)["variants"][0]["layers"]
    assert [row["name"] for row in layers] == list(signal)
    assert list(weights) == [row["name"] for row in layers if row["weight_std"] is not None]
    assert all(LAYER_KEYS <= set(row) for row in layers)
    report = init_report(SPECS / spec, input_kind="gaussian", batch_size=2)
    assert max(len(line) for line in format_table(report, WIDTH).splitlines()) <= WIDTH
    assert max(len(line) for line in format_table(report).splitlines()) > WIDTH  # the signal


def test_init_report_says_what_each_column_measures(capsys):
    """A learner reading `grad std` or `w std exp.` is told of what, once below the tables,
    in the words the columns' titles use."""
    from cnnspec.diagnostics import WIDTH
    from cnnspec.lab.report import format_table, init_report

    report = init_report(SPECS / "digits.cnn", input_kind="gaussian", batch_size=2)
    text = format_table(report)
    columns = [line for line in text.splitlines() if line.startswith("columns: ")]
    assert len(columns) == 1
    for said in ("std/input: act std over the input's std (He et al. 2015, eq. 7)",
                 "dead: the share of a ReLU's outputs that are exactly 0",
                 "grad std: std of dloss/d(layer's output)",
                 "w std exp.: the std the init's formula gives from fan_in and fan_out",
                 "w grad std: std of dloss/dw"):
        assert said in columns[0]
    assert max(len(line) for line in format_table(report, WIDTH).splitlines()) <= WIDTH


def test_init_report_counts_one_input_and_one_rescaled_layer_in_the_singular(tmp_path, capsys):
    spec = tmp_path / "one.cnn"
    spec.write_text("input 1x8x8\nflatten\nh: dense 16 relu\ndense 10\n")
    args = ["init-report", str(spec), "--input", "gaussian", "--batch-size", "1"]
    assert main(args) == 0
    assert "one: 1 input from gaussian" in capsys.readouterr().out
    assert main([*args, "--jacobian"]) == 0
    assert "(exact, 16 outputs; 1 input)" in capsys.readouterr().out


def test_counted_says_one_thing_in_the_singular():
    assert counted(1, "layer") == "1 layer" and counted(0, "layer") == "0 layers"
    assert counted(2, "class", "classes") == "2 classes" and counted(1, "class") == "1 class"


def test_init_report_output_and_the_wrote_line_stay_apart_on_one_pipe(tiny, tmp_path):
    """Both streams into one pipe, as ``cmd > log 2>&1`` does: the table comes first and the
    ``wrote`` line starts a line of its own (a block-buffered stdout used to be written after
    it, or to run its last line into it)."""
    import os
    import subprocess
    import sys

    png = tmp_path / "depth.png"
    # Python's default buffering, whatever the environment running the tests asks for.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-m", "cnnspec", "init-report", tiny, "--input", "gaussian",
         "--batch-size", "2", "-o", str(png)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True, env=env)
    lines = done.stdout.splitlines()
    assert lines[-4].startswith("signal: ") and lines[-2].startswith("columns: ")
    assert lines[-1] == f"wrote {png}"


def test_compare_target_as_a_percentage_says_to_write_a_fraction(tiny, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", tiny, "--target", "90"])
    assert info.value.code == 2
    assert "write 0.9 for 90%" in capsys.readouterr().err


def test_a_reader_that_stops_early_is_no_traceback(tiny):
    """``cnnspec init-report SPEC | head -1``: the pipe closes before the table is written;
    the command stops quietly with the shell's SIGPIPE status, not a BrokenPipeError trace."""
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-m", "cnnspec", "init-report", tiny, "--input", "gaussian",
         "--batch-size", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdout.close()  # long before the child has imported NumPy and written anything
    err = child.stderr.read()
    assert child.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_data_that_cannot_load_offers_noise_as_the_caller_asks_for_it(tmp_path, capsys):
    """The library was told "or measure on noise: --input gaussian", init-report's option."""
    from cnnspec.errors import SpecErrors
    from cnnspec.lab.report import init_report

    spec = tmp_path / "s.cnn"
    spec.write_text('input 1x8x8\nflatten\nfc: dense 10\ntrain { data npz(path="gone.npz") }\n')
    with pytest.raises(SpecErrors) as info:
        init_report(spec, input_kind="data")
    assert info.value.errors[0].hint.endswith("; or measure on noise: input_kind='gaussian'")
    assert main(["init-report", str(spec), "--input", "data"]) == 2
    assert capsys.readouterr().err.endswith("; or measure on noise: --input gaussian\n")


def test_init_report_measures_on_the_data_given_in_place_of_the_specs(tmp_path, capsys):
    """compare and train take --data; init-report's --data was told to go to train. It draws
    the batch (per-layer statistics and --jacobian) from that dataset, checked to fit as the
    spec's would be, and is refused where the batch is noise."""

    spec = tmp_path / "s.cnn"
    spec.write_text('input 1x8x8\nc: conv 4 3x3 relu\nflatten\nfc: dense 10\n'
                    'train { data npz(path="gone.npz") }\n')
    assert main(["init-report", str(spec), "--data", "digits", "--batch-size", "16",
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input"] == "digits"
    first = report["variants"][0]["layers"][0]["act_std"]
    assert main(["init-report", str(spec), "--data", "shapes(size=8)", "--batch-size", "16",
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input"] == "shapes" and report["variants"][0]["layers"][0]["act_std"] != first
    assert main(["init-report", str(spec), "--data", "digits", "--jacobian",
                 "--batch-size", "2", "--rows", "2"]) == 0  # the spec's npz is not read
    assert main(["init-report", str(spec), "--data", "shapes(size=16)"]) == 2
    assert "the input is 1x8x8, but the shapes images are 1x16x16" in capsys.readouterr().err
    for other in (["--input", "gaussian"], ["--phase"]):
        assert main(["init-report", str(spec), "--data", "digits", *other]) == 2
        assert "--data goes with a batch of the data" in capsys.readouterr().err


@pytest.mark.parametrize("command, run", [
    ("init-report", "run init-report with"), ("train", "train with"), ("compare", "train with"),
])
def test_data_that_does_not_fit_is_told_the_flag_of_the_command_refused(command, run, tmp_path,
                                                                         capsys):
    """init-report --data of images that do not fit was told to "train with --data": each
    command that takes --data names itself, one that trains (compare too) says train."""
    spec = tmp_path / "s.cnn"
    spec.write_text("input 1x8x8\nc: conv 4 3x3 relu\nflatten\nfc: dense 10\n"
                    "train { data digits }\n")
    assert main([command, str(spec), "--data", "shapes(size=16)"]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:1:1: error: the input is 1x8x8, but the shapes images are 1x16x16" in err
    assert err.endswith("(`data shapes(size=8)` in the train block, or "
                        f"{run} --data 'shapes(size=8)')\n")


@pytest.mark.parametrize("command, given", [
    ("train", "--lr 0.1 and --seed 3"),
    ("compare", "--lr 0.1 and no seed (compare takes no --seed)"),
    ("init-report", "no lr (init-report trains nothing: it takes no --lr) and --seed 3"),
])
def test_a_setting_written_as_an_argument_of_data_is_told_as_the_command_takes_it(
        command, given, tmp_path, capsys):
    """``--data 'digits(lr=0.1)'`` was told to write `lr 0.1` on its own line in the train
    block, then ``--lr 0.1`` to init-report too, which takes no --lr: each setting is told as
    the command in use takes it, read from its options."""
    spec = tmp_path / "s.cnn"
    spec.write_text("input 1x8x8\nc: conv 4 3x3 relu\nflatten\nfc: dense 10\n")
    assert main([command, str(spec), "--data", "digits(lr=0.1, seed=3)"]) == 2
    assert capsys.readouterr().err.endswith(
        "'lr' is a training setting of its own, not an argument of dataset digits\n"
        f"hint: give each as a setting of its own: {given}, and the dataset as --data digits\n")


@pytest.mark.parametrize("command, said", [
    ("sweep", "--set lr=0.1 and --batch-size 8"),  # no --lr: its --set, which takes every key
    ("train", "--lr 0.1 and --batch-size 8"),
])
def test_the_wording_of_a_setting_in_a_call_follows_the_commands_options(command, said):
    """Read from each command's parser: its own option for the setting, else its --set."""
    from cnnspec.cli import build_parser, typed_names
    from cnnspec.errors import worded

    names = typed_names(build_parser(command), [command, "s.cnn"])
    assert worded("{setting:lr=0.1} and {setting:batch_size=8}", names) == said


def test_a_setting_no_command_takes_written_in_data_is_told_as_the_specs_line(trained, capsys):
    """A setting no option gives (``optimizer``) is the spec's line, for a command that takes
    neither an option for it nor --set (eval, which trains nothing, takes no --lr either)."""
    assert main(["eval", trained["run"], "--data", "shapes(optimizer=adam, lr=0.1)"]) == 2
    assert capsys.readouterr().err.endswith(
        "hint: give each as a setting of its own: no optimizer (eval has no option for it: "
        "write `optimizer adam` in the spec's train block) and no lr (eval trains nothing: it "
        "takes no --lr), and the dataset as --data shapes\n")


def test_a_setting_spelt_by_an_alias_in_data_is_told_as_spelt(trained, capsys):
    """``--data 'shapes(batch=8)'`` to eval was told "no batch_size": the setting is named as
    the user spelt it where no option names it."""
    assert main(["eval", trained["run"], "--data", "shapes(batch=8)"]) == 2
    assert capsys.readouterr().err.endswith(
        "hint: give it as a setting of its own: no batch (eval trains nothing: it takes no "
        "--batch-size), and the dataset as --data shapes\n")


def test_init_report_unknown_init_is_a_spec_error(capsys):
    code = main(["init-report", str(SPECS / "plain30.cnn"), "--init", "he_nromal"])
    assert code == 2
    err = capsys.readouterr().err
    # The mistake is in the option, not in the spec: the message names the option's text.
    assert err.startswith('--init "he_nromal": error: unknown initializer')
    assert "did you mean he_normal?" in err


@pytest.mark.parametrize("command", ["init-report", "compare"])
def test_inits_listed_with_commas_in_one_init_are_told_to_repeat_the_option(command, capsys):
    """--ignore takes lints with commas; --init takes one init, repeated: the commas were told
    to be a stray ',' to remove."""
    code = main([command, str(SPECS / "digits.cnn"), "--init", "he_normal,glorot_uniform"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith('--init "he_normal,glorot_uniform": error: unexpected \',\'')
    assert "hint: each --init gives one init; repeat the option for each: --init he_normal " \
        "--init glorot_uniform" in err
    # a call's own commas, or a part that is no init, are the parser's to say
    assert main([command, str(SPECS / "digits.cnn"), "--init", "he_normal,he_nrmal"]) == 2
    assert "repeat the option" not in capsys.readouterr().err


def test_init_report_refuses_a_truncated_normal_cut_holding_almost_nothing(capsys):
    """The cut is checked where the --init text is read: the error names the option."""
    code = main(["init-report", str(SPECS / "digits.cnn"), "--init",
                 "truncated_normal(0, 1, 3, 4)"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith('--init "truncated_normal(0, 1, 3, 4)": error: truncated_normal '
                          "between low=3 and high=4 keeps 0.13% of N(0, 1^2)")
    assert "hint: the interval is +3 to +4 std from the mean" in err


@pytest.mark.parametrize("command", ["init-report", "compare"])
def test_an_init_text_the_layers_cannot_hold_names_its_option(tmp_path, capsys, command):
    """A mistake that checking a spec with an --init text finds is the text's: the error
    names its option, where init-report pointed at a layer of the spec that writes no such
    number, and compare named a `--set init=...` never given."""
    code = main([command, str(SPECS / "digits.cnn"), "--init", "normal(0, 1e39)",
                 "--out" if command == "compare" else "--input", str(tmp_path / "runs")
                 if command == "compare" else "gaussian"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith('--init "normal(0, 1e39)": error: conv ')
    assert "the weight init writes 1e39, beyond float32's range" in err and "--set" not in err


OWN_INITS = """input 1x8x8
c1: conv 4 3x3 pad same weight he_normal relu
c2: conv 6 3x3 stride 2 %s relu
flatten
fc: dense 10 weight he_normal(mode=fan_out)
"""


@pytest.mark.parametrize("argv", [
    ["init-report", "{spec}", "--init", "he_normal", "--init", "normal(0, 0.01)"],
    ["init-report", "{spec}", "--init", "he_normal", "--jacobian"],
    ["init-report", "{spec}", "--init", "he_normal", "--phase"],
    ["compare", "{spec}", "--init", "he_normal", "--init", "normal(0, 0.01)", "--epochs", "1",
     "--out", "{out}"],
])
def test_an_init_option_that_would_change_nothing_is_refused(tmp_path, capsys, argv):
    """Every layer names its own weight init: --init, which replaces only the default one,
    gave identical tables under different headings, and compare trained one run for two."""
    spec = tmp_path / "own.cnn"
    spec.write_text(OWN_INITS % "weight glorot_uniform")
    out = tmp_path / "runs"
    code = main([a.format(spec=spec, out=out) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith('--init "he_normal": error: would change nothing: it replaces the '
                          "default weight init, and every layer with weights names its own "
                          "(c1, c2, fc)\n")
    assert "hint: drop `weight ...` from the layers it should set: a layer without one takes " \
           "the default weight init" in err
    assert not out.exists()


def test_a_swept_default_init_that_would_change_nothing_is_refused(tmp_path, capsys):
    spec = tmp_path / "own.cnn"
    spec.write_text(OWN_INITS % "weight glorot_uniform")
    assert main(["sweep", str(spec), "--set", "init=he_normal,glorot_normal", "--epochs", "1",
                 "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.startswith(
        '--set "init=he_normal,glorot_normal": error: would change nothing')


def test_init_report_says_which_layers_an_init_sets_where_some_keep_their_own(tmp_path,
                                                                              capsys):
    spec = tmp_path / "part.cnn"
    spec.write_text(OWN_INITS % "")
    assert main(["init-report", str(spec), "--init", "normal(0, 0.01)", "--input", "gaussian",
                 "--batch-size", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == ("init normal(0, 0.01) (input std 0.951): sets the weights of c2; "
                        "c1, fc name their own")
    assert main(["init-report", str(spec), "--init", "normal(0, 0.01)", "--input", "gaussian",
                 "--batch-size", "2", "--format", "json"]) == 0
    variant = json.loads(capsys.readouterr().out)["variants"][0]
    assert (variant["init_sets"], variant["init_keeps"]) == (["c2"], ["c1", "fc"])
    # the spec as written sets nothing
    assert main(["init-report", str(spec), "--input", "gaussian", "--batch-size", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[2] == "init he_normal (spec) (input std 0.951)"


@pytest.mark.parametrize("command", ["init-report", "compare"])
def test_a_missing_spec_reads_as_everywhere_else(tmp_path, capsys, command):
    """With or without --init, a wrong path is a usage error naming the file, no traceback."""
    missing = str(tmp_path / "nope.cnn")
    for argv in ([command, missing], [command, missing, "--init", "he_normal"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    without = capsys.readouterr().err
    assert without.endswith(f"error: argument SPEC: no such file: {missing}\n")


def test_init_variants_of_an_ir_file_are_those_of_its_cnn(tmp_path, capsys):
    """The IR records which inits came from the default, so --init works on an exported IR
    and gives the report of the .cnn it came from."""
    assert main(["export", str(SPECS / "digits.cnn")]) == 0
    ir = tmp_path / "digits.json"
    ir.write_text(capsys.readouterr().out)
    reports = []
    for spec in (SPECS / "digits.cnn", ir):
        assert main(["init-report", str(spec), "--init", "lecun_normal", "--input", "gaussian",
                     "--batch-size", "2", "--format", "json"]) == 0
        reports.append(json.loads(capsys.readouterr().out)["variants"])
    assert reports[0] == reports[1]
    # The default's layers get lecun_normal (std 1/sqrt(fan_in)); fc2 names its own init,
    # glorot_uniform (std sqrt(2 / (fan_in + fan_out))), and keeps it.
    expected = {row["name"]: row["weight_std_expected"] for row in reports[1][0]["layers"]}
    assert expected["conv1"] == pytest.approx(1 / 3)
    assert expected["fc1"] == pytest.approx(1 / 16)
    assert expected["fc2"] == pytest.approx((2 / (128 + 10)) ** 0.5)


def test_compare_command(tiny, tmp_path, capsys):
    curves = tmp_path / "curves.png"
    code = main(["compare", tiny, "--init", "he_normal", "--init", "glorot_uniform",
                 "--epochs", "1", "--jobs", "1", "--out", str(tmp_path / "runs"),
                 "-o", str(curves), "--target", "0.5"])
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["init", "val", "acc"]
    assert lines[1].startswith("he_normal") and lines[2].startswith("glorot_uniform")
    assert "epochs to 50%" in lines[0]
    assert curves.read_bytes()[:8] == PNG
    # The sweep's layout: a folder per cell (variant, seed and a hash of its IR).
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert [n.rpartition("-")[0] for n in names[:2]] == [
        "init=glorot_uniform_seed0", "init=he_normal_seed0"]
    assert names[2:] == ["sweep.json"]
    assert "sets the weights of" not in out  # each init sets every layer with weights


def test_compare_says_which_layers_the_inits_set_as_init_report_does(tmp_path, capsys):
    """compare's table and picture named "he_normal" alone where c1 and fc keep their own
    inits; it says which layers the inits set in the words init-report heads a variant with."""
    spec = tmp_path / "part.cnn"
    spec.write_text(OWN_INITS % "")
    args = ["compare", str(spec), "--init", "he_normal", "--init", "normal(0, 0.01)",
            "--epochs", "1", "--jobs", "1", "--out", str(tmp_path / "runs")]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == "each init sets the weights of c2; c1, fc name their own"
    assert main(["init-report", str(spec), "--init", "he_normal", "--input", "gaussian",
                 "--batch-size", "2"]) == 0
    heading = capsys.readouterr().out.splitlines()[2]
    assert heading.endswith(": " + lines[3].removeprefix("each init "))
    assert main([*args, "--format", "json"]) == 0  # the runs of the same folder
    got = json.loads(capsys.readouterr().out)
    assert (got["init_sets"], got["init_keeps"]) == (["c2"], ["c1", "fc"])
    # the spec as written alone sets nothing
    assert main(["compare", str(spec), "--epochs", "1", "--jobs", "1", "--out",
                 str(tmp_path / "own"), "--format", "json"]) == 0
    assert "init_sets" not in json.loads(capsys.readouterr().out)


def test_compare_prints_the_warnings_each_init_brings_before_training(tiny, tmp_path,
                                                                      capsys):
    """A variant's warnings are printed as init-report prints them, before any training:
    located in the spec, said to be the option's; the variant without one gets none."""
    assert main(["compare", tiny, "--init", "he_normal", "--init", "zeros", "--epochs", "1",
                 "--jobs", "1", "--out", str(tmp_path / "runs")]) == 0
    err = capsys.readouterr().err
    warning = err.index('warning: with --init "zeros": all 4 filters of ')
    assert ":3:1: " in err[:warning].splitlines()[-1]  # the conv's line in tiny.cnn
    assert warning < err.index("he_normal, seed 0: ")
    assert '--init "he_normal"' not in err


def test_train_stats_every_n_steps(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", tiny, "--stats", "5", "--out", str(run), "--quiet"]) == 0
    records = read_stats(run / "stats.jsonl")
    summary = json.loads((run / "summary.json").read_text())
    steps = summary["steps"]
    # Steps 0, 5, 10, ... of the run; its last, step 20, is the epoch's short batch (1,293
    # images = 20 x 64 + 13), whose gradients the batch's mean scales up: not measured.
    assert steps == 21
    assert [r["step"] for r in records] == list(range(0, steps - 1, 5))
    names = [row["name"] for row in records[0]["layers"]]
    assert names == ["conv1", "conv1_relu", "flatten1", "dense1"]
    assert all(LAYER_KEYS <= set(row) for r in records for row in r["layers"])
    # The weights move during training, and the record shows it.
    first, last = records[0]["layers"][0], records[-1]["layers"][0]
    assert first["weight_std"] != last["weight_std"]
    assert (run / "stats.png").read_bytes()[:8] == PNG


def test_the_python_api_stays_callable_after_its_subpackages_are_imported():
    """The functions ``cnnspec.train`` and ``cnnspec.compile`` live in modules with other names
    (``cnnspec.training``, ``cnnspec.compiler``), so importing those never rebinds the API."""
    import cnnspec
    import cnnspec.compiler
    import cnnspec.training.api

    assert callable(cnnspec.train) and callable(cnnspec.compile)
    model = cnnspec.compile(cnnspec.load(str(SPECS / "digits.cnn")), seed=0)
    assert "conv1.weight" in model.params()


def test_recorder_keeps_the_model_recording_only_on_measured_steps(tiny, tmp_path):
    import numpy as np

    from cnnspec.compiler import compile_spec
    from cnnspec.lab.recorder import StatsRecorder
    from cnnspec.lab.variants import load_variant

    model = compile_spec(load_variant(tiny).checked, seed=0)
    recorder = StatsRecorder(every=3)
    rng = np.random.default_rng(0)
    recording = []
    recorder.on_start(model, 2, tmp_path)  # as after a resume at step 2
    for step in range(2, 9):
        recording.append(model.record)
        out = model.forward(rng.standard_normal((4, 1, 8, 8)).astype(np.float32))
        model.backward(model.loss(out, rng.integers(0, 10, size=4))[1])
        recorder.on_step(step, model)
    assert recording == [False, True, False, False, True, False, False]
    assert [r["step"] for r in read_stats(tmp_path / "stats.jsonl")] == [3, 6]
    recorder.on_stop(model)
    assert (tmp_path / "stats.png").is_file() and not model.record


def test_recorder_measures_the_step_after_an_epochs_short_last_batch(tiny, tmp_path):
    """The gradient of a batch's mean loss grows as the batch shrinks: a short last batch
    measured drew a spike in every layer's gradient std. The step after it is measured in
    its place, and the gradients recorded keep one scale."""
    import numpy as np

    from cnnspec.compiler import compile_spec
    from cnnspec.lab.recorder import StatsRecorder
    from cnnspec.lab.variants import load_variant

    model = compile_spec(load_variant(tiny).checked, seed=0)
    recorder = StatsRecorder(every=2)
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    y = np.arange(8) % 10
    recorder.on_start(model, 0, tmp_path)
    for step, batch in enumerate([8, 8, 2, 8, 8, 8, 2]):  # epochs of 3 steps, the last short
        out = model.forward(x[:batch])
        model.backward(model.loss(out, y[:batch])[1])
        recorder.on_step(step, model)
    records = read_stats(tmp_path / "stats.jsonl")
    assert [r["step"] for r in records] == [0, 3, 4]  # step 2's short batch: step 3 instead
    assert model.record  # step 6's short batch put off to the next step
    grads = [r["layers"][-1]["grad_std"] for r in records]  # d loss / d scores of the output
    assert max(grads) / min(grads) < 2, grads  # a batch of 2 of 8 gives 4x


def test_the_stats_plot_is_titled_with_the_models_name(tiny, tmp_path, monkeypatch):
    import numpy as np

    from cnnspec.compiler import compile_spec
    from cnnspec.lab import recorder as recorder_module
    from cnnspec.lab.recorder import StatsRecorder
    from cnnspec.lab.variants import load_variant

    titles = []
    monkeypatch.setattr(recorder_module, "plot_training_stats",
                        lambda records, path, title: titles.append(title))
    model = compile_spec(load_variant(tiny).checked, seed=0)
    recorder = StatsRecorder(every=1)
    recorder.on_start(model, 0, tmp_path)
    out = model.forward(np.zeros((2, 1, 8, 8), np.float32))
    model.backward(model.loss(out, np.array([0, 1]))[1])
    recorder.on_step(0, model)
    recorder.on_stop(model)
    assert titles == [f"{model.checked.spec.name}: per-layer statistics of run {tmp_path.name}"]


def test_init_report_of_an_all_lsuv_tanh_net(capsys):
    """LeNet-5 with every layer LSUV: the checker's signal estimate must leave data-driven
    layers alone rather than fail on their unknown weight scale."""
    assert main(["init-report", str(SPECS / "lenet5.cnn"), "--init", "lsuv", "--input",
                 "gaussian", "--batch-size", "2"]) == 0
    assert "lsuv: 5 layers measured on this batch" in capsys.readouterr().out


def test_init_report_names_the_first_layer_that_overflows_without_numpys_warnings(tmp_path,
                                                                                  capsys):
    """A network whose values overflow float32 printed NumPy's RuntimeWarnings and a table of
    nan with no word of why; it names the first layer whose output is not finite instead."""
    import warnings

    path = tmp_path / "overflowing.cnn"
    path.write_text("input 1x8x8\n" + "".join(
        f"c{i}: conv 4 3x3 pad same weight normal(0, 1e15) relu\n" for i in range(3))
        + "flatten\nfc: dense 10\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert main(["init-report", str(path), "--input", "gaussian", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "overflow: the output of 'c2' (conv) holds NaN or infinite values" in out


def test_init_report_measures_in_the_dtype_asked(tmp_path, capsys):
    """What overflows float32 (three layers of weights N(0, 1e30)) reads in float64, as
    `train --dtype float64` would run it; --phase and --jacobian compute in float64 always."""
    path = tmp_path / "large.cnn"
    path.write_text("input 1x8x8\n" + "".join(
        f"c{i}: conv 4 3x3 pad same weight normal(0, 1e15) relu\n" for i in range(3))
        + "flatten\nfc: dense 10\n")
    assert main(["init-report", str(path), "--input", "gaussian", "--batch-size", "2",
                 "--format", "json"]) == 0
    in_float32 = json.loads(capsys.readouterr().out)["variants"][0]["layers"]
    assert main(["init-report", str(path), "--input", "gaussian", "--batch-size", "2",
                 "--format", "json", "--dtype", "float64"]) == 0
    in_float64 = json.loads(capsys.readouterr().out)["variants"][0]["layers"]
    assert [row["name"] for row in in_float32] == [row["name"] for row in in_float64]
    c2 = next(row for row in in_float64 if row["name"] == "c2")
    assert 1e38 < c2["act_std"] < math.inf  # beyond float32's largest value
    assert [row["act_std"] for row in in_float32 if row["name"] == "c2"] == ["nan"]
    for mode in ("--phase", "--jacobian"):
        assert main(["init-report", str(path), mode, "--dtype", "float64"]) == 2
        said = f"--dtype goes with the per-layer statistics: {mode} computes in float64"
        assert capsys.readouterr().err.splitlines() == [
            f"cnnspec: error: {said}", f"hint: drop --dtype, or drop {mode}"]


CUTS_SPEC = """input 1x8x8
off: conv 4 3x3 pad same weight truncated_normal(0.5, 1, low=-0.5, high=2) relu
centred: conv 4 3x3 pad same weight truncated_normal(0, 0.1, low=-0.2, high=0.2) relu
flatten
dense 10
"""


def test_init_report_shows_both_cut_points_of_a_truncated_normal_cut_off_centre(tmp_path,
                                                                              capsys):
    """A cut not centred on the mean has no single bound: the table shows its two points
    (one word, aligned under the column like any number) and the JSON gives them; a centred
    cut keeps its half-width."""
    args, rows = _report_rows(tmp_path / "cuts.cnn", CUTS_SPEC, capsys)
    assert (rows["off"]["weight_bound_expected"], rows["off"]["weight_cut_expected"]) == (
        None, [-0.5, 2.0])
    assert rows["centred"]["weight_bound_expected"] == pytest.approx(0.2)
    assert rows["centred"]["weight_cut_expected"] is None
    assert main(args) == 0
    table = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(table) if "w bound exp." in line)  # the weights'
    end = table[at].index("w bound exp.") + len("w bound exp.")
    off = next(line for line in table[at:] if line.startswith("off "))
    centred = next(line for line in table[at:] if line.startswith("centred "))
    assert off[:end].endswith(" -0.5..2") and centred[:end].endswith(" 0.2")
    assert len(off) == len(centred)


# A Fixup-style residual net (Zhang, Dauphin & Ma 2019): each branch's last conv starts at
# zero, so each block starts as the identity and the branches' `b` outputs are 0.
FIXUP = """\
model fixup
input 1x16x16
stem: conv 8 3x3 pad same relu
repeat {blocks} as r {{
  a: conv 8 3x3 pad same relu
  b: conv 8 3x3 pad same weight {last}
  sum: add(b, in) relu
}}
global_avgpool
head: dense 4
train {{
  data shapes(size=16, classes=[x, plus, o, square])
}}
"""


@pytest.mark.parametrize("last", ["zeros", "he_normal"])
def test_init_report_follows_the_signal_along_the_main_path_of_a_residual_net(
        tmp_path, capsys, last):
    """The signal line compares the layers every path from the input to the output passes
    (the stem and the adds), not a branch's last conv, which a Fixup net starts at 0 while
    the identity path carries the signal on (the head's std was 0.9, the line said x0)."""
    spec = tmp_path / "fixup.cnn"
    spec.write_text(FIXUP.format(blocks=10, last=last))
    assert main(["init-report", str(spec), "--batch-size", "16", "--format", "json"]) == 0
    (variant,) = json.loads(capsys.readouterr().out)["variants"]
    rows = {row["name"]: row for row in variant["layers"]}
    signal = variant["signal"]
    assert (signal["layers"], signal["first"], signal["last"]) == (11, "stem", "r_10_sum")
    assert (signal["branch_layers"], signal["merges"]) == (20, 10)
    assert signal["act_change"] == pytest.approx(
        rows["r_10_sum"]["act_std"] / rows["stem"]["act_std"])
    assert signal["grad_change"] == pytest.approx(
        rows["stem"]["grad_std"] / rows["r_10_sum"]["grad_std"])
    if last == "zeros":  # every block passes its input on unchanged
        assert rows["r_10_b"]["act_std"] == 0 and signal["act_change"] > 0.3
        assert rows["r_10_sum"]["act_std"] == pytest.approx(rows["stem_relu"]["act_std"])
    assert main(["init-report", str(spec), "--batch-size", "16"]) == 0
    line = signal_line(capsys.readouterr().out)
    assert line.startswith(
        f"signal: activation std x{rounded_text(signal['act_change'], 3)} from the first to "
        "the last of 11 hidden conv/dense layers and merges every path from the input to the "
        "output passes, stem to r_10_sum (x")
    assert "; 20 conv/dense layers in branches left out)" in line


def signal_line(out: str) -> str:
    """The last variant's signal line of an init-report's text (the columns' legend follows)."""
    return [line for line in out.splitlines() if line.startswith("signal: ")][-1]


def test_the_signal_line_of_a_plain_stack_still_counts_its_hidden_layers(capsys):
    assert main(["init-report", str(SPECS / "plain30.cnn"), "--input", "gaussian",
                 "--batch-size", "2"]) == 0
    line = signal_line(capsys.readouterr().out)
    assert re.fullmatch(r"signal: activation std x\S+ from the first to the last of 30 hidden "
                        r"conv/dense layers \(x\S+ per layer\); gradient std x\S+ on the way "
                        r"back; \d+% of ReLU outputs zero", line)


@pytest.mark.parametrize(("text", "legend"), [
    ("model one\ninput 1x8x8\nconv 4 3x3 relu\nflatten\ndense 10 weight he_normal\n",
     "he_normal (spec)"),
    (("model two\ninput 1x8x8\nconv 4 3x3 relu weight he_uniform\nflatten\n"
      "dense 10 weight glorot_uniform\n"), "spec's inits: he_uniform, glorot_uniform"),
])
def test_init_report_picture_names_the_specs_own_inits(tmp_path, monkeypatch, capsys, text,
                                                       legend):
    """The legend's one entry read "spec", which names no init; the table and the JSON name
    the spec as written as the legend does (they said "init spec")."""
    from cnnspec.render import figure

    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    spec = tmp_path / "net.cnn"
    spec.write_text(text)
    assert main(["init-report", str(spec), "--input", "gaussian", "--batch-size", "2",
                 "-o", str(tmp_path / "ir.png")]) == 0
    (fig,) = drawn
    (shown,) = fig.legends
    assert [t.get_text() for t in shown.get_texts()] == [legend]
    assert f"init {legend} (input std" in capsys.readouterr().out
    assert main(["init-report", str(spec), "--input", "gaussian", "--batch-size", "2",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["variants"][0]["init"] == legend


def test_init_report_refuses_a_batch_of_one_for_a_batch_norm_after_a_dense_layer(tmp_path,
                                                                                  capsys):
    from cnnspec.errors import SpecErrors
    from cnnspec.lab.report import init_report

    path = tmp_path / "bnd.cnn"
    path.write_text("input 1x8x8\nconv 8 3x3 relu\nflatten\ndense 32\nbatchnorm relu\n"
                    "dense 10\n")
    assert main(["init-report", str(path), "--batch-size", "1"]) == 2
    err = capsys.readouterr().err
    assert "bnd.cnn:5:1: error: a batch of 1 gives batchnorm 'batchnorm1'" in err
    assert "hint: a larger batch, e.g. --batch-size 64, or no batchnorm here" in err
    with pytest.raises(SpecErrors, match="batchnorm1") as caught:
        init_report(str(path), batch_size=1)
    assert "batch_size=64" in caught.value.errors[0].hint


def test_the_docs_say_what_the_fan_modes_do_to_the_gradient_on_the_way_back(capsys):
    """docs/how-to-initialise.md quotes the two `gradient std` figures of its init-report of
    specs/digits.cnn under he_normal and he_normal(mode=fan_out), and explains them: the
    weights and ReLUs keep the backward scale in both modes (He et al. 2015, eq. 13), while
    the two 2x2 max pools (a quarter of the mean square each, to the largest value, which the
    ReLU under it passes 15 times in 16) and the zero padding (a border input reaching 2 of
    3 outputs along an axis) shrink it. The figures are the command's, and the product the
    page works out is within 5% of each."""
    page = (SPECS.parent / "docs" / "how-to-initialise.md").read_text(encoding="utf-8")
    command = re.search(r"cnnspec (init-report specs/digits\.cnn --input gaussian \\\s+"
                        r"--init he_normal --init \"he_normal\(mode=fan_out\)\")", page)
    assert command is not None
    argv = command.group(1).replace("\\", " ").replace('"', "").split()
    argv[1] = str(SPECS / "digits.cnn")
    assert main(argv) == 0
    figures = re.findall(r"gradient std x(\S+) on the way back", capsys.readouterr().out)
    said = re.search(r"`gradient std x(\S+) on the way back` for he_normal and `x(\S+)` for "
                     r"the fan_out variant", " ".join(page.split()))
    assert said is not None and list(said.groups()) == figures
    pool = 1 / 4 * 15 / 16  # a 2x2 max pool and the ReLU under it, on the mean square
    padding = ((2 + 3 + 3 + 2) / 4 / 3) ** 2 * ((2 + 3 * 6 + 2) / 8 / 3) ** 2  # 4x4, 8x8
    assert (rounded_text((10 / 12) ** 2, 2), rounded_text((22 / 24) ** 2, 2)) == ("0.69", "0.84")
    worked_out = 8 * pool ** 2 * (1 / 2) * padding
    assert f"= {rounded_text(worked_out, 3)}`, a std x{rounded_text(worked_out ** 0.5, 2)}" \
        in " ".join(page.split())
    for figure in figures:
        assert float(figure) == pytest.approx(worked_out ** 0.5, rel=0.05), figure


def test_gaussian_labels_are_the_classes_the_output_tells_apart_under_its_loss():
    """Noise is labelled with the classes the loss reads off the output: both of bce's for
    its one logit (all 0 before), one a score for cross_entropy."""
    import numpy as np

    from cnnspec.check.checker import check
    from cnnspec.lab.batch import gaussian_batch
    from cnnspec.lang import parse

    for units, loss, classes in [(1, "bce", {0, 1}), (3, "cross_entropy", {0, 1, 2})]:
        checked = check(parse(f"input 1x4x4\nflatten\nout: dense {units}\ntrain {{\n"
                              f"  loss {loss}\n}}\n"), for_training=False)
        batch = gaussian_batch(checked, 64, np.random.default_rng(0))
        assert set(batch.y.tolist()) == classes


@pytest.mark.parametrize("output, loss", [("c: conv 2 3x3", "mse"), ("flatten\nc: dense 2", "bce")])
def test_noise_on_an_output_its_loss_cannot_take_is_a_located_error(tmp_path, capsys, output,
                                                                    loss):
    path = tmp_path / "out.cnn"
    path.write_text(f"input 1x8x8\n{output}\ntrain {{\n  loss {loss}\n}}\n")
    assert main(["init-report", str(path), "--input", "gaussian", "--batch-size", "2"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and "error: the output 'c' gives" in err and "hint: end with" in err
