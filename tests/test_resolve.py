"""The resolver: specs in, the IR of docs/ir.md out (names, inputs, defaults, spans)."""
import json
from pathlib import Path

import pytest

from cnnspec.errors import Span, SpecError
from cnnspec.init.gains import LEAKY_SLOPE_HINT
from cnnspec.ir.migrate import IR_VERSION
from cnnspec.kinds import KINDS
from cnnspec.lang import parse, parse_file, parse_init

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))
HE = {"name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}}


def layers(text):
    return {layer["name"]: layer for layer in parse(text).ir["layers"]}


def names(text):
    return [layer["name"] for layer in parse(text).ir["layers"]]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_parses_to_json_data(path):
    spec = parse_file(path)
    assert spec.path == str(path)
    assert spec.text == path.read_text()
    assert json.loads(json.dumps(spec.ir)) == spec.ir
    assert spec.ir["version"] == IR_VERSION


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_matches_the_ir_schema(path):
    """Against the schema the package ships (a dependency validates it): a schema missing
    from the package fails here rather than being passed over."""
    from importlib.resources import files

    import jsonschema

    schema = json.loads((files("cnnspec.ir") / "schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(parse_file(path).ir)


def test_lenet5_is_resolved_in_full():
    ir = parse_file(SPECS[0].parent / "lenet5.cnn").ir
    assert ir["name"] == "lenet5"
    assert ir["input"] == {"shape": [1, 32, 32]}
    assert [(layer["name"], layer["kind"]) for layer in ir["layers"]] == [
        ("conv1", "conv"), ("conv1_tanh", "tanh"), ("pool1", "avgpool"), ("conv2", "conv"),
        ("conv2_tanh", "tanh"), ("pool2", "avgpool"), ("flatten1", "flatten"),
        ("fc1", "dense"), ("fc1_tanh", "tanh"), ("fc2", "dense"), ("fc2_tanh", "tanh"),
        ("fc3", "dense")]
    conv1 = ir["layers"][0]
    assert conv1 == {
        "name": "conv1", "kind": "conv", "inputs": ["input"], "group": None, "filters": 6,
        "kernel": [5, 5], "stride": [1, 1], "padding": "valid", "dilation": [1, 1], "groups": 1,
        "bias": True, "weight_init": {"name": "glorot_uniform", "gain": {"nonlinearity": "linear"}},
        "bias_init": {"name": "zeros"}, "default_inits": ["weight_init", "bias_init"],
        "trainable": True, "lr_mult": [1.0, 1.0], "decay_mult": [1.0, 1.0]}
    assert ir["layers"][2] == {"name": "pool1", "kind": "avgpool", "inputs": ["conv1_tanh"],
                               "group": None, "size": [2, 2], "stride": [2, 2],
                               "padding": "valid", "ceil_mode": False,
                               "count_include_pad": True}
    assert ir["output"] == "fc3"
    assert ir["training"]["data"] == {
        "name": "shapes", "size": 32, "count": 4000, "noise": 0.1, "colour": False,
        "classes": ["x", "plus", "o", "square", "hbar", "vbar", "diag", "antidiag", "triangle",
                    "diamond"]}


def test_unnamed_layers_count_statements_of_their_kind():
    assert names("input 1x8x8\nconv 4 3\nc: conv 4 3\nconv 4 3\nflatten\ndense 3 relu\n") == [
        "conv1", "c", "conv3", "flatten1", "dense1", "dense1_relu"]


def test_generated_names_skip_names_the_user_took():
    assert names("input 1x8x8\nconv2: conv 4 3\nconv 4 3\n") == ["conv2", "conv3"]


def test_a_kind_before_an_activation_or_norm_it_takes_is_no_label_without_its_colon():
    # `c1 relu` is a name without its ':' (tests/test_syntax_errors.py); these are layers
    assert [(name, layer["kind"]) for name, layer in layers(
        "input 1x8x8\nbn relu\nconv 4 3 bn\n").items()] == [
        ("batchnorm1", "batchnorm"), ("batchnorm1_relu", "relu"), ("conv1", "conv"),
        ("conv1_bn", "batchnorm")]


def test_repeat_expands_with_group_and_prefixed_names():
    ir = parse("input 1x8x8\nrepeat 2 as body {\n conv 4 3x3 pad same relu\n}\n").ir
    assert [(x["name"], x["group"], x["inputs"]) for x in ir["layers"]] == [
        ("body_1_conv", "body_1", ["input"]), ("body_1_conv_relu", "body_1", ["body_1_conv"]),
        ("body_2_conv", "body_2", ["body_1_conv_relu"]),
        ("body_2_conv_relu", "body_2", ["body_2_conv"])]


def test_repeat_numbers_a_kind_that_occurs_twice_and_defaults_its_name():
    assert names("input 1x8x8\nrepeat 1 {\n conv 4 3\n conv 4 3\n relu\n}\n") == [
        "repeat1_1_conv1", "repeat1_1_conv2", "repeat1_1_relu"]


def test_residual_block_refers_to_its_own_instance_and_its_input():
    ir = parse("input 1x8x8\nstem: conv 4 3 pad same\n"
               "repeat 2 as res {\n a: conv 4 3 pad same relu\n b: conv 4 3 pad same\n"
               " sum: add(b, in) relu\n}\n").ir
    by = {x["name"]: x for x in ir["layers"]}
    assert by["res_1_a"]["inputs"] == ["stem"]
    assert by["res_1_sum"]["inputs"] == ["res_1_b", "stem"]
    assert by["res_2_a"]["inputs"] == ["res_1_sum_relu"]
    assert by["res_2_sum"]["inputs"] == ["res_2_b", "res_1_sum_relu"]


def test_block_refers_to_its_own_activations_and_unnamed_layers():
    # `a_relu` (the sugar's layer) and `conv` (an unnamed layer) are names of the block too
    by = layers("input 4x8x8\nrepeat 2 as r {\n a: conv 4 3 pad same relu\n conv 4 3 pad same\n"
                " s: add(a_relu, conv, in)\n}\n")
    assert by["r_1_s"]["inputs"] == ["r_1_a_relu", "r_1_conv", "input"]
    assert by["r_2_s"]["inputs"] == ["r_2_a_relu", "r_2_conv", "r_1_s"]


def test_a_block_name_written_before_its_layer_is_not_taken_from_another_instance():
    with pytest.raises(SpecError, match="undefined layer 'conv'"):
        parse("input 4x8x8\nrepeat 2 as r {\n s: add(conv, in)\n conv 4 3 pad same\n}\n")


def test_explicit_inputs_and_merges():
    by = layers("input 1x8x8\na: conv 2 3 pad same\nb: conv 3 3 pad same <- input\n"
                "c: concat <- a, b\nd: add(c, c)\n")
    assert by["b"]["inputs"] == ["input"]
    assert by["c"]["inputs"] == ["a", "b"]
    assert by["d"]["inputs"] == ["c", "c"]


def test_model_default_init_and_a_layers_own_setting():
    by = layers("input 1x8x8\ndefault weight xavier_uniform, bias constant(0.1)\n"
                "a: conv 2 3\nb: conv 2 3 weight kaiming_normal(mode=fan_out) bias zeros\n"
                "flatten\nc: dense 2 nobias\n")
    assert by["a"]["weight_init"] == {"name": "glorot_uniform", "gain": {"nonlinearity": "linear"}}
    assert by["a"]["bias_init"] == {"name": "constant", "value": 0.1}
    assert by["b"]["weight_init"] == {"name": "he_normal", "mode": "fan_out",
                                      "gain": {"nonlinearity": "relu"}}
    assert by["b"]["bias_init"] == {"name": "zeros"}
    assert by["c"]["bias"] is False and by["c"]["bias_init"] is None


def test_without_a_default_conv_and_dense_get_he_normal_and_zero_bias():
    by = layers("input 1x8x8\nconv 2 3\n")
    assert by["conv1"]["weight_init"] == HE
    assert by["conv1"]["bias_init"] == {"name": "zeros"}


def test_an_init_variant_replaces_the_specs_default_but_not_a_layers_own():
    from cnnspec.lab.variants import with_default_weight

    text = "input 1x8x8\ndefault weight zeros\na: conv 2 3\nb: conv 2 3 weight ones\n"
    spec = parse(text)
    assert [x["default_inits"] for x in spec.ir["layers"]] == [["weight_init", "bias_init"],
                                                                ["bias_init"]]
    by = {x["name"]: x for x in with_default_weight(spec, {"name": "lecun_normal"}).ir["layers"]}
    assert by["a"]["weight_init"] == {"name": "lecun_normal"}
    assert by["b"]["weight_init"] == {"name": "ones"}
    assert spec.ir["layers"][0]["weight_init"] == {"name": "zeros"}  # the spec is unchanged


def test_layers_do_not_share_init_objects():
    ir = parse("input 1x8x8\nconv 2 3\nconv 2 3\n").ir
    ir["layers"][0]["weight_init"]["mode"] = "fan_out"
    assert ir["layers"][1]["weight_init"]["mode"] == "fan_in"
    assert parse("input 1x8x8\nconv 2 3\n").ir["layers"][0]["weight_init"] == HE


def test_conv_options():
    by = layers("input 3x16x16\nc: conv 8 3x5 stride 2 pad 1x2 dilation 2 frozen\n"
                "d: conv 8 3 pad 1\n")
    c = by["c"]
    assert (c["kernel"], c["stride"], c["padding"], c["dilation"], c["trainable"]) == (
        [3, 5], [2, 2], [1, 2], [2, 2], False)
    assert by["d"]["padding"] == [1, 1]


def test_layer_kinds_with_parameters():
    by = layers("input 1x8x8\nbn: batchnorm eps 1e-3 momentum 0.2 relu\nl: leaky_relu 0.2\n"
                "l2: leaky_relu(slope=0.3)\ne: elu\nd: dropout 0.5\nd2: dropout(0.1)\n"
                "g: global_avgpool\ns: sigmoid\nconv 2 3 elu(0.5)\n")
    assert by["bn"] == {"name": "bn", "kind": "batchnorm", "inputs": ["input"], "group": None,
                        "eps": 1e-3, "momentum": 0.2, "trainable": True}
    assert by["bn_relu"]["kind"] == "relu"
    assert by["l"]["slope"] == 0.2 and by["l2"]["slope"] == 0.3
    assert by["e"]["alpha"] == 1.0
    assert by["d"]["p"] == 0.5 and by["d2"]["p"] == 0.1
    assert by["conv1_elu"] == {"name": "conv1_elu", "kind": "elu", "inputs": ["conv1"],
                               "group": None, "alpha": 0.5}


def test_pool_stride_defaults_to_its_size():
    by = layers("input 1x8x8\na: maxpool 3\nb: avgpool 2x2 stride 1 pad same\n")
    assert by["a"]["stride"] == [3, 3]
    assert (by["b"]["stride"], by["b"]["padding"]) == ([1, 1], "same")


@pytest.mark.parametrize("text, init", [
    ("he_normal(mode=fan_out, gain=leaky_relu(0.2))",
     {"name": "he_normal", "mode": "fan_out",
      "gain": {"nonlinearity": "leaky_relu", "slope": 0.2}}),
    ("he_uniform(gain=leaky_relu)", {"name": "he_uniform", "mode": "fan_in",
                                     "gain": {"nonlinearity": "leaky_relu", "slope": 0.01}}),
    ("glorot_normal(gain=tanh)", {"name": "glorot_normal", "gain": {"nonlinearity": "tanh"}}),
    ("orthogonal(1.5)", {"name": "orthogonal", "gain": {"value": 1.5}}),
    ("normal(0, 0.01)", {"name": "normal", "mean": 0.0, "std": 0.01}),
    ("truncated_normal(std=0.02, mean=1)", {"name": "truncated_normal", "mean": 1.0,
                                            "std": 0.02, "low": None, "high": None}),
    ("truncated_normal(std=0.02, low=-0.01, high=0.04)",
     {"name": "truncated_normal", "mean": 0.0, "std": 0.02, "low": -0.01, "high": 0.04}),
    ("truncated_normal(1, 0.5, 0.5)", {"name": "truncated_normal", "mean": 1.0, "std": 0.5,
                                       "low": 0.5, "high": None}),
    ("uniform(-0.1, 0.1)", {"name": "uniform", "low": -0.1, "high": 0.1}),
    ("variance_scaling(scale=2, mode=fan_in, distribution=truncated_normal)",
     {"name": "variance_scaling", "scale": 2.0, "mode": "fan_in",
      "distribution": "truncated_normal"}),
    ("variance_scaling", {"name": "variance_scaling", "scale": 1.0, "mode": "fan_in",
                          "distribution": "truncated_normal"}),
    ("lecun_uniform", {"name": "lecun_uniform"}),
    ("dirac", {"name": "identity"}),
    ("gaussian(sigma=0.8)", {"name": "gaussian", "sigma": 0.8}),
    ("lsuv", {"name": "lsuv", "tol": 0.1, "max_iter": 10}),
    ("constant(-2)", {"name": "constant", "value": -2.0}),
    ("x_kernel", {"name": "x_kernel"}),
    ("[[1, 0], [0, 1]]", {"name": "literal", "values": [[1, 0], [0, 1]]}),
    ("[[[1]], [[2]]]", {"name": "literal", "values": [[[1]], [[2]]]}),
])
def test_parse_init(text, init):
    assert parse_init(text) == init


@pytest.mark.parametrize("init, text", [
    ({"name": "truncated_normal", "mean": 0.0, "std": 0.02, "low": None, "high": None},
     "truncated_normal(std=0.02)"),
    ({"name": "truncated_normal", "mean": 0.0, "std": 0.02, "low": -0.01, "high": 0.04},
     "truncated_normal(std=0.02, low=-0.01, high=0.04)"),
    ({"name": "truncated_normal", "mean": 1.0, "std": 0.5, "low": None, "high": 1.5},
     "truncated_normal(mean=1, std=0.5, high=1.5)"),
])
def test_an_imported_truncated_normal_is_written_as_it_reads_back(init, text):
    """How an importer writes an init into the spec it makes: the bounds left out when they
    are the default, and the text parses to the same init."""
    from cnnspec.init.describe import init_text

    assert init_text(init) == text
    assert parse_init(text) == init


def test_kernel_literal_may_span_lines():
    by = layers("input 1x8x8\nk: conv 1 3 weight [[1, 0, 1],\n  [0, 1, 0],\n\n  [1, 0, 1]]\n")
    assert by["k"]["weight_init"]["values"] == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]


def test_training_defaults_and_aliases():
    training = parse("input 1x8x8\nconv 2 3\ntrain {\n batch 16\n"
                     " optimizer adam(beta1=0.8)\n schedule step(5)\n"
                     " data fashion_mnist\n}\n").ir["training"]
    assert training == {
        "data": {"name": "fashion-mnist"}, "preprocess": "standardize",
        "optimizer": {"name": "adam", "beta1": 0.8, "beta2": 0.999, "eps": 1e-8,
                      "amsgrad": False},
        "lr": 0.01, "schedule": {"name": "step", "step_size": 5, "gamma": 0.1}, "warmup": 0,
        "weight_decay": 0.0, "decay_bias": True, "clip_norm": 0.0, "clip_value": 0.0,
        "batch_size": 16, "epochs": 10, "cores": 2, "val_split": 0.1,
        "seed": 0,
        "monitor": "val_loss", "early_stop": 0, "min_delta": 0.0,
        "loss": "cross_entropy", "label_smoothing": 0.0, "class_weights": [],
        "augment": []}


def test_a_spec_without_train_block_gets_default_training():
    assert parse("input 1x8x8\nconv 2 3\n").ir["training"]["optimizer"] == {
        "name": "sgd", "momentum": 0.9, "nesterov": False}


def test_model_name_falls_back_to_the_file_stem():
    assert parse("input 1x8x8\nconv 2 3\n", path="nets/my_net.cnn").name == "my_net"
    assert parse("model m\ninput 1x8x8\nconv 2 3\n", path="x.cnn").name == "m"


def test_output_line():
    ir = parse("input 1x8x8\na: conv 2 3\nb: conv 2 3\noutput a\n").ir
    assert ir["output"] == "a"


def test_spans_point_at_what_the_user_wrote():
    text = ("input 1x8x8\n"
            "c1: conv 8 3x3 stride 2 weight he_uniform relu <- input\n"
            "train {\n  lr 0.1\n}\n")
    spans = parse(text).spans
    assert spans[("input", None)] == Span(1, 1, 1, 12)
    assert spans[("c1", None)] == Span(2, 1, 2, 3)
    assert spans[("c1", "filters")] == Span(2, 10, 2, 11)
    assert spans[("c1", "kernel")] == Span(2, 12, 2, 15)
    assert spans[("c1", "stride")] == Span(2, 16, 2, 24)
    assert spans[("c1", "weight_init")] == Span(2, 25, 2, 42)
    assert spans[("c1_relu", None)] == Span(2, 43, 2, 47)
    assert spans[("c1", "inputs")] == Span(2, 51, 2, 56)
    assert spans[("training", "lr")] == Span(4, 3, 4, 9)


def test_activation_sugar_parameters_have_spans():
    spans = parse("input 1x8x8\nc: conv 8 3 leaky_relu(0.2)\n").spans
    assert spans[("c_leaky_relu", "slope")] == Span(2, 13, 2, 28)


def test_repeated_layers_point_at_the_block_source():
    spec = parse("input 1x8x8\nrepeat 3 as b {\n  conv 4 3\n}\n")
    assert spec.span_of("b_3_conv", "kernel") == Span(3, 10, 3, 11)


def test_language_catalogue_agrees_with_the_init_catalogue():
    from cnnspec.init import catalogue
    from cnnspec.lang import inits

    assert inits.ALIASES == catalogue.ALIASES
    assert list(inits.CATALOGUE) == list(catalogue.PARAMS)
    for name, params in inits.CATALOGUE.items():
        theirs = catalogue.PARAMS[name]
        assert [p.name for p in params] == list(theirs), name
        for p in params:
            expected = theirs[p.name]
            assert (p.default is inits.REQUIRED) == (expected is catalogue.REQUIRED), (name, p)
            if expected is not catalogue.REQUIRED:
                assert p.default == expected, (name, p.name)


def test_parse_file_keeps_the_path_as_given_and_a_missing_file_is_a_run_error(tmp_path):
    from cnnspec.errors import RunError

    spec_file = tmp_path / "net.cnn"
    spec_file.write_text("input 1x8x8\nconv 2 3\n")
    assert parse_file(str(spec_file)).path == str(spec_file)
    with pytest.raises(RunError) as info:
        parse_file(tmp_path / "missing.cnn")
    assert "missing.cnn" in info.value.message


def test_the_language_reference_mentions_every_kind_initializer_and_setting():
    from cnnspec.kinds import ALIASES as KIND_ALIASES
    from cnnspec.lang.inits import ALIASES, CATALOGUE
    from cnnspec.lang.layers import ACTIVATIONS, KINDS
    from cnnspec.lang.training import KEY_ALIASES, READERS

    doc = (SPECS[0].parent.parent / "docs" / "language.md").read_text()
    words = [*CATALOGUE, *ALIASES, *KINDS, *KIND_ALIASES, *ACTIVATIONS, *READERS, *KEY_ALIASES]
    missing = [w for w in words if f"`{w}" not in doc and f"{w}(" not in doc]
    assert missing == []


def test_a_norm_on_a_layer_line_is_its_own_layer_between_the_layer_and_its_activation():
    """`conv 16 3x3 bn relu`: the everyday conv-batchnorm-relu triple on one line."""
    ir = parse("input 1x8x8\nc: conv 4 3x3 pad same nobias bn relu\n"
               "d: dense 3 batchnorm\n").ir
    by = {x["name"]: x for x in ir["layers"]}
    assert [x["name"] for x in ir["layers"]] == ["c", "c_bn", "c_relu", "d", "d_batchnorm"]
    assert by["c_bn"] == {"name": "c_bn", "kind": "batchnorm", "inputs": ["c"], "group": None,
                          "eps": 1e-5, "momentum": 0.1, "trainable": True}
    assert by["c_relu"]["inputs"] == ["c_bn"] and by["d"]["inputs"] == ["c_relu"]


@pytest.mark.parametrize("text, message, column", [
    ("conv 4 3x3 relu bn", "comes after its activation", 17),
    ("conv 4 3x3 bn bn", "has two normalisations", 15),
    ("maxpool 2 bn", "unknown option 'bn'", 11),
])
def test_norm_sugar_mistakes_are_located(text, message, column):
    with pytest.raises(SpecError) as info:
        parse(f"input 1x8x8\n{text}\n")
    assert message in info.value.message
    assert (info.value.span.line, info.value.span.column) == (2, column)


@pytest.mark.parametrize("written, column", [
    ("conv 4 3x3 weight he_normal(gain=leaky_relu(-1))", 45),
    ("conv 4 3x3 weight he_normal(gain=leaky_relu(slope=-0.5))", 51),
    ("leaky_relu -0.5", 12),
])
def test_a_negative_leaky_slope_is_refused_alike_in_a_gain_and_a_layer(written, column):
    """One rule for the slope: the gain parser took leaky_relu(-1) (gain 1) that the
    leaky_relu layer refuses; both now say so at the slope, with the layer's hint."""
    with pytest.raises(SpecError) as info:
        parse(f"input 1x8x8\n{written}\n")
    error = info.value
    assert "must be 0 or more, not -" in error.message
    assert (error.span.line, error.span.column) == (2, column)
    assert error.hint == KINDS["leaky_relu"].field_map["slope"].hint == LEAKY_SLOPE_HINT


def test_a_leaky_slope_of_0_is_taken_by_a_gain_as_by_the_layer():
    init = parse_init("he_normal(gain=leaky_relu(0))")
    assert init["gain"] == {"nonlinearity": "leaky_relu", "slope": 0}
    assert parse("input 1x8x8\nleaky_relu 0\n").ir["layers"][0]["slope"] == 0


NESTED = """\
input 4x8x8
stem: conv 4 3 pad same
repeat 2 as stage {
  entry: conv 4 3 pad same relu
  repeat 2 as unit {
    a: conv 4 3 pad same relu
    sum: add(a, in, entry)
  }
  conv 4 1
  out: add(in, conv)
}
"""


def test_nested_repeats_name_each_instance_at_both_levels():
    ir = parse(NESTED).ir
    by = {layer["name"]: layer for layer in ir["layers"]}
    assert [n for n in by if n.startswith("stage_1_")] == [
        "stage_1_entry", "stage_1_entry_relu",
        "stage_1_unit_1_a", "stage_1_unit_1_a_relu", "stage_1_unit_1_sum",
        "stage_1_unit_2_a", "stage_1_unit_2_a_relu", "stage_1_unit_2_sum",
        "stage_1_conv", "stage_1_out"]
    assert len(by) == 1 + 2 * 10
    # The group is the innermost instance.
    assert by["stage_2_unit_1_a"]["group"] == "stage_2_unit_1"
    assert by["stage_2_entry"]["group"] == by["stage_2_out"]["group"] == "stage_2"
    assert by["stem"]["group"] is None


def test_nested_repeats_refer_to_the_same_instance_at_each_level():
    by = layers(NESTED)
    # `in` is the innermost instance's input; `entry` the enclosing stage instance's layer.
    assert by["stage_2_unit_1_a"]["inputs"] == ["stage_2_entry_relu"]
    assert by["stage_2_unit_1_sum"]["inputs"] == [
        "stage_2_unit_1_a", "stage_2_entry_relu", "stage_2_entry"]
    assert by["stage_2_unit_2_sum"]["inputs"] == [
        "stage_2_unit_2_a", "stage_2_unit_1_sum", "stage_2_entry"]
    # After the inner block, `in` is the stage instance's input again; the layer right after
    # the inner block follows its last instance.
    assert by["stage_2_conv"]["inputs"] == ["stage_2_unit_2_sum"]
    assert by["stage_1_out"]["inputs"] == ["stem", "stage_1_conv"]
    assert by["stage_2_out"]["inputs"] == ["stage_1_out", "stage_2_conv"]


def test_an_unnamed_nested_block_is_numbered_in_its_block():
    assert names("input 1x8x8\nrepeat 2 {\n repeat 1 {\n  relu\n }\n repeat 1 {\n  relu\n }\n"
                 "}\n") == ["repeat1_1_repeat1_1_relu", "repeat1_1_repeat2_1_relu",
                            "repeat1_2_repeat1_1_relu", "repeat1_2_repeat2_1_relu"]


@pytest.mark.parametrize("text,where,message", [
    ("input 1x8x8\nrepeat 1001 as a {\n  repeat 2 as b {\n    relu\n  }\n}\n", "2:8",
     "the repeat count must be at most 1000, not 1001"),
    ("input 1x8x8\nrepeat 2 as a {\n  repeat 1001 as b {\n    relu\n  }\n}\n", "3:10",
     "the repeat count must be at most 1000, not 1001"),
    ("input 1x8x8\nrepeat 40 as a {\n  repeat 30 as b {\n    relu\n  }\n}\n", "3:10",
     "the repeat count 30 inside 40 copies of the blocks around it makes 1,200 copies"),
    ("input 1x8x8\nrepeat 2 as a {\n  repeat 0 as b {\n    relu\n  }\n}\n", "3:10",
     "the repeat count"),
    (("input 1x8x8\nrepeat 2 as a {\n  repeat 2 as b {\n    c: conv 1 3 pad same\n  }\n"
     "  add(c, in)\n}\n"), "6:7", "undefined layer 'c'"),
    ("input 1x8x8\nrepeat 2 as a {\n  repeat 2 as b {\n    c: relu\n    c: relu\n  }\n}\n",
     "5:5", "duplicate layer name 'c'"),
    # an empty block repeats nothing: it was meant to hold something
    ("input 1x8x8\nrepeat 2 as r {\n}\nflatten\ndense 10\n", "2:1",
     "a repeat block with no layers repeats nothing"),
    ("input 1x8x8\nrepeat 2 as a {\n  relu\n  repeat 3 {\n  }\n}\n", "4:3",
     "a repeat block with no layers repeats nothing"),
])
def test_nested_repeat_mistakes_are_located_once(text, where, message):
    with pytest.raises(SpecError) as info:
        parse(text, path="net.cnn")
    assert f"{info.value.span.line}:{info.value.span.column}" == where
    assert message in info.value.message


def test_an_undefined_name_in_a_block_is_matched_against_the_names_once(monkeypatch):
    """Each copy of a block's line reads its names again, but the error is told once, at
    the first copy: its hint is worked out there alone (difflib against every layer defined
    above, for every copy, was 59,598 comparisons for a block of 99 copies of 6 layers), and
    names the layers above that copy."""
    from cnnspec.lang import resolve

    suggested = []

    def did_you_mean(name, valid, what=""):
        suggested.append(name)
        return f"valid {what}: {', '.join(sorted(valid))}"

    monkeypatch.setattr(resolve, "did_you_mean", did_you_mean)
    text = "input 1x8x8\nrepeat 50 as r {\n  a: conv 8 3x3 pad same\n  add(a, b)\n}\n"
    with pytest.raises(SpecError) as info:
        parse(text, path="net.cnn")
    assert suggested == ["b"]
    assert info.value.message == "undefined layer 'b'"
    assert info.value.hint == "valid layers defined above: input, r_1_a"


def _containers(value) -> list[int]:
    """The ids of the dicts and lists in ``value``, itself included."""
    if isinstance(value, dict):
        return [id(value)] + [i for item in value.values() for i in _containers(item)]
    if isinstance(value, list):
        return [id(value)] + [i for item in value for i in _containers(item)]
    return []


def test_ir_copy_is_deepcopy_of_every_shipped_specs_ir():
    import copy

    from cnnspec.lang.resolve import ir_copy

    assert SPECS
    for path in SPECS:
        ir = parse_file(path).ir
        copied = ir_copy(ir)
        assert copied == copy.deepcopy(ir), path.name
        assert not set(_containers(copied)) & set(_containers(ir)), path.name
    odd = {"a": (1, [2]), "b": {3}}
    assert ir_copy(odd) == odd and ir_copy(odd)["a"][1] is not odd["a"][1]


def test_a_model_name_too_long_is_reported_in_its_file_with_the_other_mistakes(tmp_path):
    """It was raised apart from the others, after the file had been given to them: the CLI
    showed it at <spec>:1:7, and alone."""
    from cnnspec.errors import SpecErrors

    path = tmp_path / "long.cnn"
    path.write_text("model " + "m" * 101 + "\ninput 1x8x8\nflatten\ndense 0\n")
    with pytest.raises(SpecErrors) as caught:
        parse_file(str(path))
    errors = caught.value.errors
    assert [(e.file, e.span.line) for e in errors] == [(str(path), 1), (str(path), 4)]
    assert errors[0].message == "the model name is 101 characters long, more than 100"


def test_a_bias_literal_is_the_irs_literal_on_the_bias_and_trains_with_its_values():
    """docs/ir.md gives a bias a literal of its own shape; the language refused one ('a kernel
    literal must be 2-D') though the IR, check and the engine took it."""
    from cnnspec.check.checker import check
    from cnnspec.compiler import compile_spec

    text = ("model f\ninput 1x8x8\nflatten\n"
            "h: dense 4 bias [-0.1, 0.2, -0.3, 0.4] relu\nfc: dense 10\n")
    layer = layers(text)["h"]
    assert layer["bias_init"] == {"name": "literal", "values": [-0.1, 0.2, -0.3, 0.4]}
    model = compile_spec(check(parse(text)), seed=0)
    assert model.params()["h.bias"].tolist() == pytest.approx([-0.1, 0.2, -0.3, 0.4])

