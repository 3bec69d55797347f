"""Input at the edges: nesting, integers, names, strings and values no spec can mean are
located errors (never a RecursionError, an OverflowError or a path outside ``runs/``)."""
from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from cnnspec.check import check
from cnnspec.check.load import read_spec
from cnnspec.cli import OPTION_NAMES, main
from cnnspec.diagnostics import format_error
from cnnspec.errors import RunError, SpecError, SpecErrors
from cnnspec.init import create
from cnnspec.ir.io import read_json
from cnnspec.ir.limits import MAX_INT, MAX_LAYERS
from cnnspec.lang import parse

HEAD = "input 1x8x8\n"
TAIL = "flatten\ndense 10\n"


def errors_of(text: str, path: str = "x.cnn") -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as info:
        check(parse(text, path=path))
    exc = info.value
    return exc.errors if isinstance(exc, SpecErrors) else [exc]


def only_error(text: str) -> SpecError:
    errors = [e for e in errors_of(text) if e.severity == "error"]
    assert len(errors) == 1, [e.message for e in errors]
    return errors[0]


def json_errors(tmp_path: Path, text: str) -> list[SpecError]:
    path = tmp_path / "ir.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        read_json(path)
    return info.value.errors


@pytest.fixture(scope="module")
def ir() -> dict:
    return parse(HEAD + "conv 4 3x3 relu\n" + TAIL, path="net.cnn").ir


# -- nesting ---------------------------------------------------------------------------------

@pytest.mark.parametrize("opener, closer", [("[", "]"), ("f(", ")")])
def test_brackets_nested_600_deep_are_refused_where_they_go_too_deep(opener, closer):
    text = HEAD + "conv 1 3x3 weight " + opener * 600 + "1" + closer * 600 + "\n" + TAIL
    err = only_error(text)
    assert err.message == "brackets nested more than 5 deep"
    sixth = 19 + 5 * len(opener) + len(opener) - 1
    assert (err.span.line, err.span.column) == (2, sixth)
    assert "4 dimensions" in err.hint


def test_the_deepest_meaningful_nesting_still_parses():
    # A 4-D kernel literal inside literal(...): five levels.
    spec = parse(HEAD + "conv 1 1 weight literal([[[[2]]]])\n" + TAIL)
    assert spec.ir["layers"][0]["weight_init"]["values"] == [[[[2]]]]


def test_blocks_nested_600_deep_are_refused_where_they_go_too_deep():
    text = HEAD + "repeat 1 {\n" * 600 + "relu\n" + "}\n" * 600 + TAIL
    err = only_error(text)
    assert err.message == "blocks nested more than 8 deep"
    assert (err.span.line, err.span.column) == (2 + 8, 10)


@pytest.mark.parametrize("opener, closer", [("[", "]"), ('{"a": ', "}")])
def test_json_nested_1000_deep_is_refused_where_it_goes_too_deep(tmp_path, opener, closer, ir):
    text = json.dumps(ir).replace('"relu"', opener * 1000 + "1" + closer * 1000, 1)
    (err,) = json_errors(tmp_path, text)
    assert err.message == "lists and objects nested more than 12 deep"
    assert err.span.line == 1 and err.file.endswith("ir.json")


def test_the_deepest_ir_still_loads(tmp_path):
    spec = parse(HEAD + "conv 1 1 weight [[[[2]]]]\n" + TAIL, path="deep.cnn")
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(spec.ir))
    assert read_json(path).ir == spec.ir


# -- layer count -----------------------------------------------------------------------------

def test_a_short_block_copied_past_the_layer_limit_is_refused_at_its_count():
    # 644 bytes that made 100,000 layers and a minute's check
    text = HEAD + "repeat 1000 {\n" + "  relu\n" * 100 + "}\n" + TAIL
    err = only_error(text)
    assert err.message == (f"the network has more than {MAX_LAYERS:,} layers, and cnnspec "
                           f"checks and trains {MAX_LAYERS:,} at most")
    assert (err.span.line, err.span.column, err.span.end_column) == (2, 8, 12)  # its count
    assert err.hint.startswith(f"the repeat block 'repeat1' makes at least {MAX_LAYERS + 1:,} of "
                               "them: lower its count")
    assert "nested counts multiply" in err.hint


def test_the_layer_limit_points_at_the_block_when_a_layer_after_it_passes_the_limit():
    """A block that makes exactly the limit, then one layer more: the caret went to that
    layer (`flatten`) with a hint to check the repeat counts, away from the block."""
    err = only_error(HEAD + "repeat 1000 as big {\n" + "  relu\n" * 25 + "}\n" + TAIL)
    assert (err.span.line, err.span.column, err.span.end_column) == (2, 8, 12)
    assert err.hint.startswith(f"the repeat block 'big' makes at least {MAX_LAYERS:,} of them")


def test_the_layer_limit_blames_the_block_that_makes_most_layers_not_the_last_one():
    text = (HEAD + "repeat 1000 as big {\n" + "  relu\n" * 24 + "}\n"
            + "repeat 1000 as small {\n  relu\n  relu\n}\n" + TAIL)
    err = only_error(text)
    assert (err.span.line, err.span.column) == (2, 8)
    assert err.hint.startswith("the repeat block 'big' makes at least 24,000 of them: "
                               "lower its count")


def test_activations_that_take_a_network_past_the_layer_limit_are_counted():
    # 1000 copies of 13 statements: 13,000 statements, 26,000 layers
    err = only_error(HEAD + "repeat 1000 {\n" + "conv 1 1 relu\n" * 13 + "}\n" + TAIL)
    assert err.message.startswith(f"the network has more than {MAX_LAYERS:,} layers")
    assert (err.span.line, err.span.column) == (2, 8)
    assert err.hint.startswith("the repeat block 'repeat1' makes at least 25,002 of them")


def test_an_ir_of_too_many_layers_is_refused_before_its_layers_are_validated(tmp_path, ir):
    many = dict(ir, layers=[{"bad": 1}] * (MAX_LAYERS + 1))
    (err,) = json_errors(tmp_path, json.dumps(many))
    assert err.json_path == "$.layers"
    assert err.message.startswith(f"the network has {MAX_LAYERS + 1:,} layers")


# -- integers --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, line, column, message", [
    (HEAD + "flatten\ndense 1" + "0" * 330 + "\n", 3, 7,
     "the number of units of 'dense1' must be at most 2,147,483,647"),
    ("input 1x8x1" + "0" * 330 + "\n" + TAIL, 1, 7, "the size 100000000000... (331 digits)"),
    (HEAD + "conv 2147483648 3x3\n" + TAIL, 2, 6, "must be at most 2,147,483,647"),
    (HEAD + "conv 4 3x3 pad 0x0x0x" + "9" * 30 + "\n" + TAIL, 2, 16, "is too large"),
    (HEAD + "conv 1 3x3 weight [[1, 1, 1], [1, " + "9" * 400 + ", 1], [1, 1, 1]]\n" + TAIL,
     2, 35, "a kernel entry is too large a number: 999999999999... (400 digits)"),
    (HEAD + TAIL + "train {\n  epochs " + "9" * 5000 + "\n}\n", 5, 10, "too large"),
])
def test_huge_integers_are_located_errors(text, line, column, message):
    err = only_error(text)
    assert message in err.message
    assert (err.span.line, err.span.column) == (line, column)
    assert len(format_error(err, text)) < 1000  # the digits are not echoed whole


def test_the_largest_size_parses():
    spec = parse(HEAD + f"conv {MAX_INT} 1\n" + TAIL)
    assert spec.ir["layers"][0]["filters"] == MAX_INT


@pytest.mark.parametrize("where, value", [
    (("layers", 0, "filters"), 10 ** 30), (("input", "shape", 2), 2 ** 31),
    (("training", "epochs"), 10 ** 40), (("training", "seed"), 2 ** 64),
])
def test_huge_integers_in_an_ir_are_located_errors(tmp_path, ir, where, value):
    changed = json.loads(json.dumps(ir))
    node = changed
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    errors = json_errors(tmp_path, json.dumps(changed))
    path = "$." + ".".join(f"[{k}]" if isinstance(k, int) else k for k in where)
    assert [e.json_path for e in errors] == [path.replace(".[", "[")]


@pytest.mark.parametrize("digits", [330, 5000])
def test_an_integer_beyond_any_float_in_an_ir_is_located(tmp_path, ir, digits):
    text = json.dumps(ir).replace('"filters": 4', '"filters": ' + "7" * digits)
    (err,) = json_errors(tmp_path, text)
    assert err.message == f"a number of {digits:,} digits, beyond any float"
    assert err.span.line == 1 and text[err.span.column - 1:err.span.column + 2] == "777"


def test_a_literal_of_a_huge_integer_in_an_ir_is_beyond_float32(tmp_path):
    spec = parse(HEAD + "conv 1 3x3 weight [[1, 1, 1], [1, 1, 1], [1, 1, 1]]\n" + TAIL)
    spec.ir["layers"][0]["weight_init"]["values"][1][1] = 10 ** 300
    path = tmp_path / "big.json"
    path.write_text(json.dumps(spec.ir))
    with pytest.raises(SpecErrors) as info:
        check(read_json(path))
    (err,) = info.value.errors
    assert "writes 100000000000... (301 digits), beyond float32's range" in err.message
    assert err.json_path == "$.layers[0].weight_init"


# -- names that become paths -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../escaped", "/abs/name", "a\x00b", "", "name\n",
                                  ".hidden", "x" * 101, "a/b"])
def test_an_ir_model_name_is_a_file_name(tmp_path, ir, name):
    errors = json_errors(tmp_path, json.dumps({**ir, "name": name}))
    assert [e.json_path for e in errors] == ["$.name"]
    assert "names the run folder" in errors[0].message


def test_a_layer_name_with_a_trailing_newline_is_refused(tmp_path, ir):
    changed = json.loads(json.dumps(ir))
    changed["layers"][0]["name"] = "conv1\n"
    changed["layers"][1]["inputs"] = ["conv1\n"]
    errors = json_errors(tmp_path, json.dumps(changed))
    assert "$.layers[0].name" in [e.json_path for e in errors]


@pytest.mark.parametrize("file_name, model", [
    ("my net.v2.cnn", "my_net.v2"), ("réseau.cnn", "r_seau"), ("..cnn", "model"),
    ("-x.cnn", "x"),
])
def test_a_spec_without_a_model_line_is_named_after_its_file_safely(tmp_path, file_name, model):
    path = tmp_path / file_name
    path.write_text(HEAD + TAIL, encoding="utf-8")
    spec = read_spec(path)
    assert spec.ir["name"] == model
    check(spec)  # and its IR is valid


def test_a_model_name_longer_than_a_file_name_is_refused():
    err = only_error("model " + "n" * 101 + "\n" + HEAD + TAIL)
    assert "101 characters long" in err.message and (err.span.line, err.span.column) == (1, 7)


# -- long strings ----------------------------------------------------------------------------

def test_a_10mb_string_in_an_ir_is_not_echoed_whole(tmp_path, ir):
    changed = json.loads(json.dumps(ir))
    changed["layers"][0]["kind"] = "s" * 10_000_000
    changed["k" * 1000] = 1
    errors = json_errors(tmp_path, json.dumps(changed))
    shown = "\n".join(format_error(e) for e in errors)
    assert len(shown) < 3000
    assert "(10,000,002 characters)" in shown


# -- values float32 cannot hold --------------------------------------------------------------

@pytest.mark.parametrize("init", ["constant(1e40)", "[[1, 1, 1], [1, 1e300, 1], [1, 1, 1]]"])
def test_an_init_value_beyond_float32_is_a_located_error(init):
    err = only_error(HEAD + f"conv 2 3x3 weight {init}\n" + TAIL)
    assert "the weight init writes" in err.message
    assert "beyond float32's range (about 3.4e38)" in err.message
    assert "at most 3.4e38 in size" in err.hint
    assert (err.span.line, err.span.column) == (2, 12)  # `weight ...`


def test_a_leaky_relu_gains_huge_slope_is_no_weight_beyond_float32():
    """he_normal(gain=leaky_relu(1e200)) was refused as weights that 'would start as
    infinity'; its gain, sqrt(2) / hypot(1, 1e200), is 1.41e-200 in float64, whose weights
    float32 holds as 0, and the warning at the init says so."""
    spec = parse(HEAD + "conv 2 3x3 weight he_normal(gain=leaky_relu(1e200))\n" + TAIL,
                 path="x.cnn")
    (err,) = [w for w in check(spec).warnings if "they start as 0" in w.message]
    assert "beyond float32" not in err.message
    assert (err.span.line, err.span.column) == (2, 12)  # `weight ...`


def test_a_truncated_normals_cut_beyond_float32_is_no_weight_beyond_it():
    """A cut is no value the weights take: truncated_normal(0, 0.1, low=-1e39, high=1e300)
    draws N(0, 0.01) as it is, in float32 too, where it was refused as weights that 'would
    start as infinity'; its mean or std beyond float32's range still is."""
    spec = parse(HEAD + "conv 2 3x3 weight truncated_normal(0, 0.1, low=-1e39, high=1e300)\n"
                 + TAIL)
    check(spec)
    w = create(spec.ir["layers"][0]["weight_init"], (2, 1, 3, 3), np.random.default_rng(0))
    assert np.isfinite(w).all() and np.abs(w).max() < 1
    err = only_error(HEAD + "conv 2 3x3 weight truncated_normal(1e39, 1, low=-1e300)\n" + TAIL)
    assert "the weight init writes 1e39, beyond float32's range" in err.message


def test_a_bias_beyond_float32_is_located_at_the_bias():
    err = only_error(HEAD + "conv 2 3x3 weight he_normal bias constant(-1e39)\n" + TAIL)
    assert "the bias init writes -1e39," in err.message
    assert (err.span.line, err.span.column) == (2, 29)  # `bias ...`


def test_an_init_value_beyond_float32_is_no_error_for_a_model_trained_in_float64(tmp_path,
                                                                                 capsys):
    """The weights' dtype decides: train --dtype float64 holds a bias of -1e39 (relu makes
    the layer's outputs 0, so the run trains), and its run opens, and resumes beside its
    spec, in that dtype; check refuses it for the default float32 and passes it with
    --dtype float64, as that run will train."""
    text = HEAD + "conv 2 3x3 weight he_normal bias constant(-1e39) relu\n" + TAIL
    check(parse(text), dtype="float64")
    path = tmp_path / "net.cnn"
    path.write_text(text + "train {\n  epochs 1\n}\n")
    assert main(["check", str(path)]) == 2
    assert "beyond float32's range (about 3.4e38)" in capsys.readouterr().err
    assert main(["check", "--dtype", "float64", str(path)]) == 0
    assert "net.cnn: ok" in capsys.readouterr().out
    run = str(tmp_path / "run")
    assert main(["train", str(path), "--dtype", "float64", "--out", run, "--quiet"]) == 0
    assert main(["eval", run]) == 0
    assert main(["export", run, "-o", str(tmp_path / "net.json")]) == 0
    assert main(["train", str(path), "--resume", run, "--epochs", "2", "--quiet"]) == 0
    assert "error" not in capsys.readouterr().err


def test_an_init_value_beyond_float64_is_an_error_in_float64():
    """An IR built in Python (a JSON file refuses a number beyond any float as it reads it)."""
    spec = parse(HEAD + "conv 1 3x3 weight [[1, 1, 1], [1, 1, 1], [1, 1, 1]]\n" + TAIL)
    spec.ir["layers"][0]["weight_init"]["values"][1][1] = -(10 ** 310)
    with pytest.raises(SpecErrors) as info:
        check(spec, dtype="float64")
    (err,) = info.value.errors
    assert ("writes -10000000000... (311 digits), beyond float64's range (about 1.8e308), "
            "the dtype weights are trained in") in err.message
    assert "at most 1.8e308 in size" in err.hint


@pytest.mark.parametrize("init, shown", [
    ("normal(0, 1e39)", "1e39"), ("normal(-4e38, 1)", "-4e38"), ("constant(3.5E+038)", "3.5e38"),
    ("uniform(-1e39, 2.5e39)", "2.5e39"), ("he_normal(gain=123456789e31)", "1.23456789e39"),
    ("[[1, 1, 1], [1, -1e300, 1], [1, 1, 1]]", "-1e300"),
])
def test_an_init_value_beyond_float32_is_quoted_as_a_spec_writes_it(init, shown):
    """The number as written, or in its shortest form, with its sign: not Python's `1e+39`."""
    err = only_error(HEAD + f"conv 2 3x3 weight {init}\n" + TAIL)
    assert f"the weight init writes {shown}, beyond" in err.message


@pytest.mark.parametrize("init, hint", [
    ("uniform(1e-5, -1e-5)", "swap them: uniform(-1e-5, 1e-5)"),
    ("uniform(1, 0)", "swap them: uniform(0, 1)"),
    ("uniform(0.25, 0.25)", "write constant(0.25)"),
])
def test_a_uniform_range_the_wrong_way_round_is_hinted_in_the_spec_s_numbers(init, hint):
    err = only_error(HEAD + f"conv 2 3x3 weight {init}\n" + TAIL)
    assert err.message == "uniform(low, high) needs low < high"
    assert hint in err.hint


# -- values float32 holds only as 0 or subnormal ---------------------------------------------

TINY_INITS = ["normal(0, 1e-300)", "uniform(-1e-300, 1e-300)", "truncated_normal(0, 1e-300)",
              "he_normal(gain=1e-300)", "glorot_uniform(gain=1e-300)",
              "orthogonal(gain=1e-300)", "variance_scaling(scale=1e-300)",
              "constant(1e-300)", "[[1e-300, 0, 0], [0, -1e-300, 0], [0, 0, 1e-300]]",
              "normal(0, 1e-40)"]


def underflow_warnings(spec, dtype="float32") -> list[SpecError]:
    return [w for w in check(spec, dtype=dtype).warnings if "smallest normal" in w.message]


@pytest.mark.parametrize("init", TINY_INITS)
def test_an_init_too_small_for_float32_warns_at_the_init(init):
    """Every one of these starts the weights at 0 or subnormal in float32, as the weights the
    model is built with show; check says so where the init is written, and names the
    smallest scale float32 holds with all its bits (he_normal(gain=1e-300) was an error about
    a 'variance_scaling' scale of 0: the gain's square is below float64's range)."""
    import numpy as np

    from cnnspec.compiler import compile_spec

    spec = parse(HEAD + f"conv 2 3x3 weight {init}\n" + TAIL, path="x.cnn")
    (warning,) = underflow_warnings(spec)
    assert (warning.span.line, warning.span.column) == (2, 12)  # `weight ...`
    assert warning.message.startswith("conv 'conv1': the weight init ")
    assert "below float32's smallest normal number, 1.18e-38" in warning.message
    assert warning.hint.startswith("make the weights at least 1.18e-38 in size "
                                   "(numpy.finfo('float32').tiny")
    weights = compile_spec(check(spec), seed=0).params()["conv1.weight"]
    assert np.abs(weights).max() < np.finfo(np.float32).tiny
    fate = "start as 0" if not weights.any() else "start subnormal"
    assert fate in warning.message


def test_a_bias_too_small_for_float32_warns_at_the_bias():
    spec = parse(HEAD + "conv 2 3x3 weight he_normal bias normal(0, 1e-300)\n" + TAIL)
    (warning,) = underflow_warnings(spec)
    assert warning.message.startswith("conv 'conv1': the bias init N(0, 1e-300^2) makes biases")
    assert (warning.span.line, warning.span.column) == (2, 29)  # `bias ...`


@pytest.mark.parametrize("init", ["normal(0, 1e-30)", "he_normal(gain=1e-30)", "zeros",
                                  "[[1, 0, 0], [0, 1e-300, 0], [0, 0, 1]]", "identity"])
def test_inits_float32_holds_do_not_warn(init):
    """Small but normal scales, exact zeros, and a kernel whose tiny value sits beside ones."""
    assert underflow_warnings(parse(HEAD + f"conv 2 3x3 weight {init}\n" + TAIL)) == []


def test_a_sparse_init_is_sized_by_the_values_it_draws():
    """One drawn weight per unit of N(0, 1e-37^2) on 128 inputs: a root mean square of
    8.8e-39, below float32's smallest normal number, but the drawn weights are numbers
    float32 holds; the zeros around them are what sparse means."""
    spec = parse(HEAD + "conv 2 3x3 pad same\nflatten\ndense 10 weight sparse(1, 1e-37)\n")
    assert underflow_warnings(spec) == []
    (warning,) = underflow_warnings(
        parse(HEAD + "conv 2 3x3 pad same\nflatten\ndense 10 weight sparse(1, 1e-39)\n"))
    assert "makes weights of about 1e-39" in warning.message


def test_the_smallest_normal_number_is_the_dtype_trained_in():
    """float64 holds 1e-300 with every bit: a run trained in float64 is not warned; below
    float64's own smallest normal number it is."""
    spec = parse(HEAD + "conv 2 3x3 weight normal(0, 1e-300)\n" + TAIL)
    assert underflow_warnings(spec, "float64") == []
    (warning,) = underflow_warnings(
        parse(HEAD + "conv 2 3x3 weight normal(0, 1e-310)\n" + TAIL), "float64")
    assert "below float64's smallest normal number, 2.23e-308" in warning.message
    assert "(numpy.finfo('float64').tiny" in warning.hint


# -- a spread float32 cannot hold about a large mean -----------------------------------------

NARROW_INITS = ["normal(1000, 1e-5)", "uniform(999.99999, 1000.00001)",
                "truncated_normal(-1000, 1e-5)", "truncated_normal(1000, 1e-5, low=999.99999)"]


def spread_warnings(spec, dtype="float32") -> list[SpecError]:
    return [w for w in check(spec, dtype=dtype).warnings if "numbers near" in w.message]


@pytest.mark.parametrize("init", NARROW_INITS)
def test_a_spread_float32_cannot_hold_about_its_mean_warns_at_the_init(init):
    """float32's numbers near 1000 are 6.1e-5 apart: a std of 1e-5 there starts nearly every
    weight at one value, as the weights the model is built with show."""
    from cnnspec.compiler import compile_spec

    spec = parse(HEAD + f"conv 8 3x3 weight {init}\n" + TAIL, path="x.cnn")
    (warning,) = spread_warnings(spec)
    assert (warning.span.line, warning.span.column) == (2, 12)  # `weight ...`
    assert warning.severity == "warning"
    assert warning.message.startswith("conv 'conv1': the weight init ")
    assert "but float32's numbers near " in warning.message
    assert "are 6.1e-5 apart: in float32, the dtype they are trained in" in warning.message
    # the dtype named as it is given: the library's dtype=, the command line's --dtype
    assert warning.hint.startswith("make the spread (std) at least 0.00018 (3 steps of float32 "
                                   "there), or train in float64 (`dtype='float64'`)")
    assert "or train in float64 (`--dtype float64`)" in warning.worded_hint(OPTION_NAMES)
    weights = compile_spec(check(spec), seed=0).params()["conv1.weight"]
    assert len(np.unique(weights)) <= 4 < weights.size
    rendered = format_error(warning, spec.text)
    assert "x.cnn:2:12: warning:" in rendered and "^^^" in rendered


@pytest.mark.parametrize("init", NARROW_INITS)
def test_a_spread_float64_holds_is_not_warned_in_float64(init):
    """float64's numbers near 1000 are 1.1e-13 apart: every weight its own value."""
    from cnnspec.compiler import compile_spec

    spec = parse(HEAD + f"conv 8 3x3 weight {init}\n" + TAIL)
    assert spread_warnings(spec, "float64") == []
    weights = compile_spec(check(spec, dtype="float64"), seed=0,
                           dtype="float64").params()["conv1.weight"]
    assert len(np.unique(weights)) == weights.size


def test_a_bias_spread_float32_cannot_hold_warns_at_the_bias():
    spec = parse(HEAD + "conv 2 3x3 weight he_normal bias normal(-5e4, 1e-4)\n" + TAIL)
    (warning,) = spread_warnings(spec)
    assert warning.message.startswith("conv 'conv1': the bias init N(-50000, 0.0001^2) spreads "
                                      "its biases by a std of 0.0001 about -50000")
    assert "nearly all the biases start as one value" in warning.message
    assert warning.hint.endswith("for one value everywhere write constant(-50000)")
    assert (warning.span.line, warning.span.column) == (2, 29)  # `bias ...`


@pytest.mark.parametrize("init", ["normal(1000, 1)", "normal(0, 1e-5)", "normal(1, 1e-3)",
                                  "uniform(-1e-5, 1e-5)", "truncated_normal(1000, 0.01)",
                                  "he_normal", "glorot_uniform", "sparse(2, 0.01)",
                                  "positive_unitball", "constant(1000)", "orthogonal"])
def test_a_spread_float32_holds_is_not_warned(init):
    assert spread_warnings(parse(HEAD + f"conv 2 3x3 weight {init}\n" + TAIL)) == []


def test_no_shipped_spec_is_warned_about_its_spread():
    specs = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))
    assert specs
    for path in specs:
        assert spread_warnings(read_spec(str(path))) == [], path.name


def test_an_ir_init_too_small_for_float32_warns_at_its_json_path(tmp_path):
    spec = parse(HEAD + "conv 2 3x3 weight uniform(-1e-300, 1e-300)\n" + TAIL)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(spec.ir))
    (warning,) = underflow_warnings(read_json(path))
    assert warning.json_path == "$.layers[0].weight_init"
    assert "start as 0" in warning.message


def test_check_strict_refuses_an_init_float32_holds_as_0(tmp_path, capsys):
    spec = tmp_path / "tiny.cnn"
    spec.write_text(HEAD + "conv 2 3x3 weight normal(0, 1e-300)\n" + TAIL)
    assert main(["check", str(spec)]) == 0
    assert "tiny.cnn:2:12: warning: conv 'conv1': the weight init N(0, 1e-300^2)" in \
        capsys.readouterr().err
    assert main(["check", "--strict", str(spec)]) == 2
    assert "tiny.cnn:2:12: error: conv 'conv1'" in capsys.readouterr().err


# -- the identical-filters lint --------------------------------------------------------------

def test_identity_on_a_channel_expanding_conv_warns(tmp_path):
    spec = tmp_path / "ident.cnn"
    spec.write_text(HEAD + "conv 8 3x3 pad same weight identity relu\n" + TAIL)
    checked = check(read_spec(spec))
    (warning,) = checked.warnings
    assert warning.message.startswith("7 of the 8 filters of conv1 start identical")
    assert (warning.span.line, warning.span.column) == (2, 21)


def test_identity_that_keeps_the_channels_does_not_warn():
    spec = parse(HEAD + "conv 4 3x3 pad same relu\nconv 4 3x3 pad same weight identity relu\n"
                 + TAIL)
    assert check(spec).warnings == []


def test_init_report_prints_the_warning(tmp_path, capsys):
    spec = tmp_path / "ident.cnn"
    spec.write_text(HEAD + "conv 8 3x3 pad same weight identity relu\n" + TAIL)
    assert main(["init-report", str(spec), "--input", "gaussian", "--batch-size", "2"]) == 0
    assert "warning: 7 of the 8 filters of conv1 start identical" in capsys.readouterr().err


# -- options that are something else ---------------------------------------------------------

@pytest.mark.parametrize("line, message, hint", [
    # the line meant, where the usage line was all the hint gave
    ("conv 16 kernel 3x3", "'kernel' is not an option of conv: a kernel size is written alone",
     "write `conv 16 3x3`"),
    ("conv 16 kernel_size 3", "'kernel_size' is not an option of conv", "write `conv 16 3`"),
    ("conv 16 3x3 maxpool 2", "'maxpool' is a layer of its own", "write it on the next line"),
    ("conv 16 3x3 dropout", "'dropout' is a layer of its own", "usage: dropout P"),
    ("conv 16 3x3 activation relu", "an activation is written by its name alone",
     "e.g. `conv ... relu`"),
    # the activation Keras' activation= named, not relu whatever it was
    ("conv 16 3x3 activation tanh", "an activation is written by its name alone",
     "e.g. `conv ... tanh`"),
    ("conv 16 3x3 activation leaky_relu(0.2)", "an activation is written by its name alone",
     "e.g. `conv ... leaky_relu(0.2)`"),
])
def test_an_option_that_is_not_one_says_what_it_is(line, message, hint):
    err = only_error(HEAD + line + "\n" + TAIL)
    assert message in err.message and hint in err.hint
    assert "did you mean" not in err.hint


def test_norm_and_activation_sugar_still_work():
    spec = parse(HEAD + "conv 16 3x3 bn relu\n" + TAIL)
    assert [layer["kind"] for layer in spec.ir["layers"]][:3] == ["conv", "batchnorm", "relu"]


# -- the command line ------------------------------------------------------------------------

@pytest.mark.parametrize("argv0, on_path, expected", [
    (".venv/bin/cnnspec", None, ".venv/bin/cnnspec"),
    ("/elsewhere/bin/cnnspec", None, "/elsewhere/bin/cnnspec"),
    ("my env/bin/cnnspec", None, "'my env/bin/cnnspec'"),
    ("cnnspec", "SAME", "cnnspec"),
])
def test_suggested_commands_can_be_typed(monkeypatch, tmp_path, argv0, on_path, expected):
    from cnnspec import cli

    monkeypatch.chdir(tmp_path)
    started = tmp_path / argv0 if not argv0.startswith("/") else Path(argv0)
    monkeypatch.setattr(sys, "argv", [argv0])
    monkeypatch.setattr(cli.shutil, "which",
                        lambda name: str(started) if on_path == "SAME" else on_path)
    assert cli.invoked_as() == expected


def test_suggested_commands_under_python_m(monkeypatch, tmp_path):
    from cnnspec import cli

    monkeypatch.setattr(sys, "argv", ["/x/cnnspec/__main__.py"])
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    assert cli.invoked_as().endswith(" -m cnnspec")


def test_a_divergence_at_a_huge_learning_rate_suggests_the_usual_range():
    """The rate to try, named as the run was given it: train's --lr, the library's lr=."""
    from cnnspec.errors import library_worded
    from cnnspec.training.loop import lower_lr_advice

    assert lower_lr_advice(0.5).format_map(OPTION_NAMES) == "try --lr 0.05"
    assert library_worded(lower_lr_advice(0.5)) == "try lr=0.05"
    assert lower_lr_advice(1e6).format_map(OPTION_NAMES) == "try --lr 0.1: learning rates are " \
        "usually between 0.0001 and 0.1"


# -- images ----------------------------------------------------------------------------------

def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds none (Pillow reads the size
    from the header before any pixel)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_a_clear_error(tmp_path):
    from cnnspec.data.images import load_image

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(20000, 20000))
    with pytest.raises(RunError, match="too many to decode safely") as info:
        load_image(bomb, (1, 8, 8))
    assert "resize it to about 8x8" in info.value.hint
    with pytest.raises(RunError) as info:
        load_image(bomb, (1, 8, 6))
    assert "resize it to about 8 high x 6 wide," in info.value.hint


# An EXIF block whose one entry (orientation) is cut short: Pillow warns "Corrupt EXIF data"
# as it opens the JPEG.
DAMAGED_EXIF = (b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01"
                b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06")


def test_warnings_of_pillow_about_what_is_not_read_stay_quiet(tmp_path, capsys):
    """A JPEG with damaged EXIF metadata, or a picture between Pillow's pixel limit and twice
    it (decoded, and resized to the model's input), is read with no warning printed."""
    import warnings

    from PIL import Image

    from cnnspec.data.images import load_image

    jpeg = tmp_path / "photo.jpg"
    Image.new("L", (16, 16), 40).save(jpeg, exif=DAMAGED_EXIF)
    large = tmp_path / "large.png"
    Image.new("L", (300, 200), 40).save(large)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image(jpeg, (1, 8, 8))
        limit = Image.MAX_IMAGE_PIXELS
        try:
            Image.MAX_IMAGE_PIXELS = 40_000  # 300 x 200 is beyond it, within twice it
            x, note = load_image(large, (1, 8, 8))
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    assert x.shape == (1, 8, 8) and "resized 200 high x 300 wide -> 8x8" in note


def test_same_padding_is_whole_number_arithmetic():
    from cnnspec.shapes import same_padding_1d

    assert same_padding_1d(10 ** 330, 3, 2) == (0, 1)  # no float overflow
    assert same_padding_1d(7, 3, 2) == (1, 1)


# A layer's setting float32 cannot hold (`elu 1e300` is infinity there, `batchnorm eps 1e-50`
# is 0, dividing a channel of one value throughout by 0): each checked, then made every output
# NaN. The language reads it as float64 holds it, and check holds it to the run's dtype.
BEYOND_FLOAT32 = [("conv 2 3x3 elu(1e300)", 12, "elu 'conv1_elu': alpha", "1e300"),
                  ("conv 2 3x3\nleaky_relu 4e38", 12, "leaky_relu 'leaky_relu1': slope", "4e38"),
                  ("conv 2 3x3\nbatchnorm eps 1e39", 11, "batchnorm 'batchnorm1': eps", "1e39")]
ZERO_IN_FLOAT32 = [("conv 2 3x3\nbatchnorm eps 1e-50", 11, "batchnorm 'batchnorm1': eps", "1e-50"),
                   ("conv 2 3x3\nlayernorm eps 7e-46", 11, "layernorm 'layernorm1': eps", "7e-46"),
                   ("conv 2 3x3 elu(1e-300)", 12, "elu 'conv1_elu': alpha", "1e-300")]
# the dtype named as the library's callers give it (the command line's: --dtype float64)
IN_FLOAT64 = "or train in float64 (`dtype='float64'`), which holds it"


@pytest.mark.parametrize("line, column, setting, value", BEYOND_FLOAT32)
def test_a_layer_setting_beyond_float32_is_a_located_error_in_float32_alone(line, column,
                                                                             setting, value):
    text = HEAD + line + "\n" + TAIL
    err = only_error(text)
    assert err.message == (f"{setting} must be at most 3.4e38 in size in float32, the dtype the "
                           f"network computes in, which holds {value} as infinity")
    assert err.hint == ("float32 holds numbers up to about 3.4e38 in size: write a smaller one, "
                        + IN_FLOAT64)
    assert err.worded_hint(OPTION_NAMES).endswith(
        "or train in float64 (`--dtype float64`), which holds it")
    assert (err.span.line, err.span.column) == (line.count("\n") + 2, column)
    check(parse(text), dtype="float64")


@pytest.mark.parametrize("line, column, setting, value", ZERO_IN_FLOAT32)
def test_a_layer_setting_above_0_that_float32_rounds_to_0_is_a_located_error_in_float32_alone(
        line, column, setting, value):
    text = HEAD + line + "\n" + TAIL
    err = only_error(text)
    assert err.message == (f"{setting} must be greater than 0 in float32, the dtype the network "
                           f"computes in, which rounds {value} to 0")
    assert err.hint == ("write a number of at least 1.4e-45, the smallest float32 above 0, "
                        + IN_FLOAT64)
    assert (err.span.line, err.span.column) == (line.count("\n") + 2, column)
    check(parse(text), dtype="float64")
    check(parse(HEAD + "conv 2 3x3\nbatchnorm eps 1.4e-45\n" + TAIL))  # the smallest above 0


@pytest.mark.parametrize("lines", ["conv 2 3x3\nelu 1e300\n" + TAIL,
                                   TAIL + "train {\n  optimizer adam(eps=1e-50)\n}\n"],
                         ids=["layer", "training"])
def test_the_dtype_that_holds_a_setting_is_named_as_the_caller_gives_it(tmp_path, capsys,
                                                                        lines):
    """cnnspec.load is told of the library's dtype=, check of its --dtype."""
    import cnnspec

    path = tmp_path / "x.cnn"
    path.write_text(HEAD + lines)
    with pytest.raises(SpecErrors) as info:
        cnnspec.load(str(path))
    (err,) = info.value.errors
    assert err.hint.endswith(IN_FLOAT64)
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err.endswith(
        "or train in float64 (`--dtype float64`), which holds it\n")


def test_a_layer_setting_float64_cannot_hold_is_refused_by_the_language():
    err = only_error(HEAD + "conv 2 3x3 elu(1e309)\n" + TAIL)
    assert (err.message, err.span.column) == ("alpha of elu is too large a number: 1e309", 16)


@pytest.mark.parametrize("field, value, message", [
    ("alpha", 1e300, ("elu 'elu1': alpha must be at most 3.4e38 in size in float32, the dtype "
                      "the network computes in, which holds 1e300 as infinity")),
    ("eps", 1e-50, ("batchnorm 'elu1': eps must be greater than 0 in float32, the dtype the "
                    "network computes in, which rounds 1e-50 to 0"))])
def test_a_layer_setting_float32_cannot_hold_in_an_ir_is_refused_in_float32_alone(
        tmp_path, ir, field, value, message):
    changed = json.loads(json.dumps(ir))
    if field == "eps":
        changed["layers"][1].update(kind="batchnorm", eps=value, momentum=0.1, trainable=True)
    else:
        changed["layers"][1].update(kind="elu", alpha=value)
    changed["layers"][1]["name"] = "elu1"
    changed["layers"][2]["inputs"] = ["elu1"]
    path = tmp_path / "ir.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        check(read_json(path))
    (err,) = info.value.errors
    assert (err.json_path, err.message) == (f"$.layers[1].{field}", message)
    assert IN_FLOAT64 in err.hint
    assert check(read_json(path), dtype="float64").ir["layers"][1][field] == value


@pytest.mark.parametrize("fields, where, message", [
    ('"kind": "batchnorm", "eps": 0, "momentum": 0.1, "trainable": true', "eps",
     "must be > 0, got 0"),
    ('"kind": "elu", "alpha": 1e400', "alpha",
     "must be <= 1.7976931348623157e+308, got Infinity")])  # JSON's 1e400 reads as infinity
def test_a_layer_setting_no_dtype_holds_in_an_ir_is_refused_as_it_is_read(tmp_path, ir, fields,
                                                                          where, message):
    changed = json.loads(json.dumps(ir))
    changed["layers"][1] = {key: changed["layers"][1][key] for key in ("name", "inputs", "group")}
    text = json.dumps(changed).replace('"group": null}', '"group": null, ' + fields + "}", 1)
    (err,) = json_errors(tmp_path, text)
    assert (err.json_path, err.message) == (f"$.layers[1].{where}", message)
