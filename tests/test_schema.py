"""The IR's JSON Schema: itself valid, strict (no unknown fields, nothing left implicit), and its
violations reported with the JSON path of the offending value and a reason in plain words."""
import copy
import json

import pytest
from jsonschema import Draft202012Validator

from cnnspec.errors import RunError, SpecError, SpecErrors
from cnnspec.init.catalogue import FOREIGN_PARAMS
from cnnspec.ir.io import json_path, read_json, schema, to_json, validate
from cnnspec.lang import parse

HE = {"name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}}
VALID = {
    "version": 10,
    "name": "tiny",
    "input": {"shape": [1, 8, 8]},
    "layers": [
        {"name": "conv1", "kind": "conv", "inputs": ["input"], "group": None, "filters": 4,
         "kernel": [3, 3], "stride": [1, 1], "padding": "same", "dilation": [1, 1], "groups": 1,
         "bias": True,
         "weight_init": HE, "bias_init": {"name": "zeros"}, "default_inits": [],
         "trainable": True, "lr_mult": [1.0, 1.0], "decay_mult": [1.0, 1.0]},
        {"name": "relu1", "kind": "relu", "inputs": ["conv1"], "group": None},
        {"name": "pool", "kind": "maxpool", "inputs": ["relu1"], "group": None, "size": [2, 2],
         "stride": [2, 2], "padding": [0, 0], "ceil_mode": False},
        {"name": "flat", "kind": "global_avgpool", "inputs": ["pool"], "group": None},
        {"name": "fc", "kind": "dense", "inputs": ["flat"], "group": None, "units": 10,
         "bias": False, "weight_init": {"name": "literal", "values": [[0.0] * 4] * 10},
         "bias_init": None, "default_inits": [], "trainable": False,
         "lr_mult": [1.0, 1.0], "decay_mult": [1.0, 1.0]},
    ],
    "output": "fc",
    "training": {"data": {"name": "shapes", "size": 8, "classes": ["x", "o"], "count": 100,
                          "noise": 0.1, "colour": False},
                 "preprocess": "standardize",
                 "optimizer": {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                               "amsgrad": False},
                 "lr": 0.001, "schedule": {"name": "step", "step_size": 5, "gamma": 0.5},
                 "warmup": 0, "weight_decay": 0.0, "decay_bias": True, "clip_norm": 0.0,
                 "clip_value": 0.0,
                 "batch_size": 32, "epochs": 3, "cores": 2, "val_split": 0.1,
                 "seed": 0, "monitor": "val_loss", "early_stop": 0, "min_delta": 0.0,
                 "loss": "cross_entropy", "label_smoothing": 0.0,
                 "class_weights": [],
                 "augment": [{"name": "crop", "pad": 2}, {"name": "flip", "p": 0.5}]},
}


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_complete_ir_validates():
    validate(VALID)


def violations(mutate) -> list[tuple[str, str]]:
    ir = copy.deepcopy(VALID)
    mutate(ir)
    with pytest.raises(SpecErrors) as info:
        validate(ir, "bad.json")
    assert all(e.file == "bad.json" and e.span is None for e in info.value.errors)
    return [(e.json_path, e.message) for e in info.value.errors]


def _set(path, value):
    """A mutation setting ``ir[path...] = value`` (or deleting the key when value is DELETE)."""
    def mutate(ir):
        target = ir
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return mutate


DELETE = object()

CASES = [
    (("layers", 0, "kernel"), [3], "$.layers[0].kernel", "needs at least 2 item(s), got 1"),
    (("layers", 0, "kernel"), [3, 0], "$.layers[0].kernel[1]", "must be >= 1, got 0"),
    (("layers", 0, "filters"), 2.5, "$.layers[0].filters", "expected a whole number, got a number"),
    (("layers", 0, "kernel"), [3.0, 3], "$.layers[0].kernel[0]",
     "expected a whole number, got a number"),
    (("layers", 0, "padding"), "sam", "$.layers[0].padding", 'expected "valid", "same", a pair'),
    (("layers", 0, "stride"), DELETE, "$.layers[0].stride", "missing field 'stride'"),
    (("layers", 0, "strides"), [1, 1], "$.layers[0].strides", "unknown field 'strides'"),
    (("layers", 0, "kind"), "convolution", "$.layers[0].kind", '"convolution" is not one of'),
    (("layers", 0, "weight_init", "name"), "he_normall", "$.layers[0].weight_init.name",
     '"he_normall" is not one of'),
    (("layers", 0, "weight_init", "mode"), "fan_avg", "$.layers[0].weight_init.mode",
     '"fan_avg" is not one of: fan_in, fan_out'),
    (("layers", 0, "weight_init", "gain"), {"nonlinearity": "swish"},
     "$.layers[0].weight_init.gain", "expected a gain"),
    (("layers", 0, "bias"), False, "$.layers[0].bias_init",
     "expected null, got an object (null because bias is false)"),
    (("layers", 1, "inputs"), ["conv1", "input"], "$.layers[1].inputs",
     "allows at most 1 item(s), got 2"),
    (("layers", 2, "padding"), [1, -1], "$.layers[2].padding[1]", "must be >= 0, got -1"),
    (("layers", 0, "weight_init"), {"name": "literal", "values": [[1, 0], [0, "a"]]},
     "$.layers[0].weight_init.values[1][1]", 'expected a number or a list of numbers, got "a"'),
    (("layers", 4, "trainable"), "no", "$.layers[4].trainable",
     "expected true or false, got a string"),
    (("input", "shape"), [8, 8], "$.input.shape", "needs at least 3 item(s), got 2"),
    (("version",), 1, "$.version", "expected 10, got 1"),
    (("output",), DELETE, "$.output", "missing field 'output'"),
    (("training", "lr"), 0, "$.training.lr", "must be > 0, got 0"),
    (("training", "epoch"), 3, "$.training.epoch", "unknown field 'epoch'"),
    (("training", "data", "classes"), ["x", "x"], "$.training.data.classes", "repeated"),
    (("training", "optimizer", "momentum"), 0.9, "$.training.optimizer.momentum",
     "unknown field 'momentum'"),
    (("training", "schedule", "name"), "linear", "$.training.schedule.name",
     '"linear" is not one of: constant, step, multistep, exp, cosine, poly, inv, plateau'),
    (("training", "val_split"), 1.0, "$.training.val_split", "must be < 1, got 1.0"),
]


@pytest.mark.parametrize("path, value, where, fragment", CASES,
                         ids=[c[2] + ":" + c[3][:20] for c in CASES])
def test_a_violation_is_reported_at_its_json_path(path, value, where, fragment):
    found = violations(_set(path, value))
    assert any(p == where and fragment in m for p, m in found), found


def test_every_violation_is_reported_at_once():
    def mutate(ir):
        ir["layers"][0]["filters"] = 0
        ir["layers"][0]["extra"] = 1
        ir["training"]["seed"] = -1
    paths = [p for p, _ in violations(mutate)]
    assert paths == ["$.layers[0].extra", "$.layers[0].filters", "$.training.seed"]


def test_unknown_fields_get_a_suggestion():
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["dilaton"] = [1, 1]
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    assert info.value.errors[0].hint.startswith("did you mean 'dilation'?")


@pytest.mark.parametrize("init, where, hint", [
    ({"name": "random_normal"}, "$.layers[0].weight_init.name",
     "Keras' RandomNormal (stddev 0.05 unless given) is normal(0, 0.05) here"),
    ({"name": "variance_scaling", "scale": 1.0, "mode": "fan_in",
      "distribution": "untruncated_normal"}, "$.layers[0].weight_init.distribution",
     ("Keras' VarianceScaling(distribution=\"untruncated_normal\") is distribution=normal "
      "here; truncated_normal is the one cut at ±2σ")),
    # PyTorch's nn.init spellings, with their trailing '_'
    ({"name": "trunc_normal_"}, "$.layers[0].weight_init.name",
     ("PyTorch's trunc_normal_(w, mean, std, a, b) is truncated_normal(mean, std, low=a, "
      "high=b) here. Left out, PyTorch's a and b are the values -2 and 2, which for a small std "
      "cut nothing (trunc_normal_(std=s) is normal(0, s)); truncated_normal's low and high left "
      "out cut at mean ± 2 std, as Keras' TruncatedNormal")),
    # in the IR, which holds canonical names only, not the alias a spec may write
    ({"name": "kaiming_normal_"}, "$.layers[0].weight_init.name",
     ('kaiming_normal_ is written he_normal in the IR: {"name": "he_normal", "mode": '
      '"fan_in", "gain": {"nonlinearity": "relu"}}')),
])
def test_another_librarys_word_for_an_init_is_answered_as_in_a_spec(init, where, hint):
    """An IR written by hand from another library's habits gets the hint a .cnn file gets
    (the catalogue's), not the spelling guess truncated_normal, which is neither."""
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["weight_init"] = init
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    (error,) = info.value.errors
    assert (error.json_path, error.hint) == (where, hint)


@pytest.mark.parametrize("gain, where, message", [
    ({"nonlinearity": "leaky_relu", "slope": -1}, "gain.slope", "must be >= 0, got -1"),
    ({"value": -1}, "gain.value", "must be > 0, got -1"),
    ({"nonlinearity": "relux"}, "gain", 'expected a gain: {"value": g} or'),
])
def test_a_json_irs_gain_out_of_range_is_refused_at_its_value(gain, where, message):
    """The gain's slope follows the leaky_relu layer's rule (cnnspec.init.gains) in a JSON IR
    as in a spec, and is said at the slope: a gain of one form but for a value was said to
    be of none ("expected a gain ..., got an object"), which stays for no form at all."""
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["weight_init"] = {**HE, "gain": gain}
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    (error,) = info.value.errors
    assert error.json_path == f"$.layers[0].weight_init.{where}"
    assert error.message.startswith(message)


def test_a_json_irs_leaky_slope_of_0_is_a_gain():
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["weight_init"] = {**HE, "gain": {"nonlinearity": "leaky_relu", "slope": 0}}
    validate(ir)


@pytest.mark.parametrize("field", [*FOREIGN_PARAMS, "MinVal"])
def test_another_librarys_parameter_of_an_init_is_answered_as_in_a_spec(field):
    """Keras' minval or PyTorch's nonlinearity in an IR's init gets the hint a .cnn file gets
    for it (the catalogue's FOREIGN_PARAMS), where it got the schema's 'allowed here: mean,
    name, std'; on any init, as in a spec, whatever the case it is written in."""
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["weight_init"] = {"name": "normal", "mean": 0.0, "std": 0.1, field: 1}
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    (error,) = info.value.errors
    assert error.json_path == f"$.layers[0].weight_init.{field}"
    with pytest.raises(SpecError) as info:
        parse(f"input 1x8x8\nconv 4 3x3 weight normal(0, 0.1, {field}=1)\n")
    in_a_spec = info.value
    assert error.hint == in_a_spec.hint == FOREIGN_PARAMS[field.lower()]


@pytest.mark.parametrize("name, scheme", [("he_normal", "glorot_normal"),
                                          ("he_uniform", "glorot_uniform")])
def test_he_over_the_averaged_fan_in_an_ir_is_answered_as_in_a_spec(name, scheme):
    """He's fan_avg is Glorot's scheme with He's gain, as a .cnn file is told; the schema
    holds the hint once for every gain, so the IR's is left to copy."""
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["weight_init"] = {**HE, "name": name, "mode": "fan_avg"}
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    (error,) = info.value.errors
    assert error.hint == (f"{name} over fan_avg is Glorot & Bengio 2010's scheme with {name}'s "
                          f'gain: write {{"name": "{scheme}", "gain": <the same gain>}}')


def test_an_unknown_parameter_of_no_other_library_still_lists_the_allowed_ones():
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["weight_init"] = {**HE, "gian": 1}
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    (error,) = info.value.errors
    assert error.hint == "did you mean 'gain'? allowed here: gain, mode, name"


@pytest.mark.parametrize("value, got", [("he_normal", "a string"), (None, "null")])
def test_an_init_of_the_wrong_type_is_one_error(value, got):
    """An init given as a string or null fails the init object and each init's own branch:
    it was reported twice (once with the description, once without)."""
    ir = copy.deepcopy(VALID)
    ir["layers"][0]["weight_init"] = value
    with pytest.raises(SpecErrors) as info:
        validate(ir)
    (error,) = info.value.errors
    assert error.json_path == "$.layers[0].weight_init"
    assert error.message == (f'expected an object, got {got} '
                             '(an init object {"name": ..., <params>})')


def test_a_json_file_is_read_and_validated(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(to_json(VALID))
    spec = read_json(good)
    assert spec.ir == VALID and spec.text is None and spec.path == str(good)
    bad = tmp_path / "bad.json"
    bad.write_text(to_json({**VALID, "output": 3}))
    with pytest.raises(SpecErrors) as info:
        read_json(bad)
    (err,) = info.value.errors
    assert (err.file, err.json_path) == (str(bad), "$.output")


def test_broken_json_is_located_by_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "version": 1,\n  "name": "x",,\n}\n')
    with pytest.raises(SpecErrors) as info:
        read_json(path)
    (err,) = info.value.errors
    assert (err.span.line, err.span.column) == (3, 15)
    assert err.message.startswith("not valid JSON")


def test_nan_and_infinity_are_not_json_numbers(tmp_path):
    # Python's json reads them; a weight init with std Infinity must not pass the check
    path = tmp_path / "inf.json"
    path.write_text('{\n  "name": "NaN \\" Infinity",\n  "std": -Infinity\n}\n')
    with pytest.raises(SpecErrors) as info:
        read_json(path)
    (err,) = info.value.errors
    assert err.message == "not valid JSON: -Infinity is not a number in JSON"
    assert (err.span.line, err.span.column, err.span.end_column) == (3, 10, 19)


def test_a_missing_file_is_a_run_error(tmp_path):
    with pytest.raises(RunError) as info:
        read_json(tmp_path / "nothing.json")
    assert info.value.hint


def test_json_paths_read_like_jsonpath():
    assert json_path(["layers", 3, "kernel"]) == "$.layers[3].kernel"
    assert json_path([]) == "$"


def test_to_json_is_json_and_keeps_short_values_and_rows_on_one_line():
    text = to_json(VALID)
    assert json.loads(text) == VALID
    assert '"kernel": [3, 3],' in text
    rows = [line for line in text.splitlines() if line.strip().startswith("[0.0, 0.0")]
    assert len(rows) == 10  # the literal's rows, one per line
    assert all(len(line) <= 100 for line in text.splitlines() if line not in rows)


# Every init of the catalogue, every layer kind and most training options in one spec: what the
# parser writes must be what the schema accepts.
EVERYTHING = """\
model everything
input 3x16x16
default weight he_uniform(mode=fan_out, gain=leaky_relu(0.2)), bias constant(0.01)

a: conv 8 3x3 pad same weight zeros bias ones
b: conv 8 3x3 pad 1 weight constant(0.1) bias uniform(-0.1, 0.1) <- input
c: conv 8 3x3 pad 1x1 weight uniform(-1, 1) bias normal(0, 0.01) <- input
d: conv 8 3x3 pad same weight normal(0, 0.1) bias truncated_normal(0, 0.01) <- input
e: conv 8 3x3 pad same weight truncated_normal(0, 0.1, -0.1, 0.3) nobias <- input
f: conv 8 3x3 pad same weight variance_scaling(scale=2, mode=fan_avg, distribution=uniform) <- input
g: conv 8 3x3 pad same weight glorot_normal(gain=tanh) <- input
h: conv 8 3x3 pad same weight he_normal(gain=1.5) <- input
h2: conv 8 3x3 pad same weight glorot_uniform <- input
i: conv 8 3x3 pad same weight lecun_uniform <- input
j: conv 8 3x3 pad same weight lecun_normal <- input
k: conv 8 3x3 pad same weight orthogonal(gain=relu) <- input
l: conv 8 3x3 pad same weight identity <- input
m: conv 8 3x3 pad same weight [[1, 0, 1], [0, 1, 0], [1, 0, 1]] frozen <- input
n: conv 8 3x3 pad same weight sobel_x frozen <- input
o: conv 8 3x3 pad same weight sobel_y frozen <- input
p: conv 8 3x3 pad same weight laplacian frozen <- input
q: conv 8 5x5 pad same weight gaussian(1.0) frozen <- input
r: conv 8 3x3 pad same weight box frozen <- input
s: conv 8 3x3 pad same weight x_kernel frozen <- input
t: conv 8 3x3 pad same weight lsuv(tol=0.05, max_iter=5) dilation 2 <- input
u: conv 8 3x3 pad same weight torch_default bias torch_default <- input
v: conv 8 4x4 pad same weight bilinear nobias frozen <- input
w: conv 8 3x3 pad same weight positive_unitball <- input
x: conv 8 3x3 pad same weight sparse(nonzero=4, std=0.5) <- input
y: conv 8 3x3 pad same weight delta_orthogonal(gain=relu) <- input
sum: add(a, b, c, d, e, f, g, h, h2, i, j, k, u, w, x, y)
cat: concat(sum, l, m, n, o, p, q, r, s, t, v)
batchnorm momentum 0.2
leaky_relu 0.1
maxpool 2 stride 1 pad same
avgpool 2x2 stride 2
repeat 2 as block {
  conv 8 1x1 elu
  dropout 0.1
}
global_avgpool
flatten
dense 8 sigmoid
dense 4 tanh weight [[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0],
                    [0, 0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0]]
out: dense 4 relu
softmax
output out

train {
  data npz("data.npz")
  preprocess zero_center
  optimizer adam(beta1=0.8)
  schedule step(step_size=2, gamma=0.5)
  loss mse
}
"""


def test_the_parsers_ir_for_the_whole_catalogue_validates():
    ir = parse(EVERYTHING, path="everything.cnn").ir
    validate(ir)
    assert json.loads(to_json(ir)) == ir
    assert {layer["kind"] for layer in ir["layers"]} == {
        "conv", "dense", "maxpool", "avgpool", "global_avgpool", "flatten", "relu", "tanh",
        "sigmoid", "softmax", "leaky_relu", "elu", "dropout", "batchnorm", "add", "concat"}
    inits = {layer["weight_init"]["name"] for layer in ir["layers"] if "weight_init" in layer}
    assert inits | {"zeros", "ones"} >= set(schema()["$defs"]["init"]["properties"]
                                                          ["name"]["enum"])


MUTANTS = [0, 1, 3, -1, 2.5, 3.0, "same", "x", None, True, [], [2, 2], [0, 0], {},
           {"name": "identity"}, {"name": "literal", "values": [[1, 2], [3, 4]]}, "input", "fc",
           ["input", "input"], {"value": 2}]


def _places(value, prefix=()):
    """Every path into a nested JSON value."""
    if prefix:
        yield prefix
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, child in items:
        yield from _places(child, prefix + (key,))


def test_mutated_ir_fails_only_with_spec_errors():
    """Random replacements anywhere in an IR: validation and the checker report them as spec
    errors, never as a crash (a hand-edited .json file is user input)."""
    import random

    from cnnspec.check import check
    from cnnspec.errors import SpecError
    from cnnspec.ir.spec import Spec

    rng = random.Random(0)
    places = list(_places(VALID))
    for _ in range(60):
        ir = copy.deepcopy(VALID)
        place = rng.choice(places)
        target = ir
        for key in place[:-1]:
            target = target[key]
        target[place[-1]] = copy.deepcopy(rng.choice(MUTANTS))
        try:
            validate(ir)
            check(Spec(ir=ir, path="mutant.json"))
        except (SpecError, SpecErrors):
            pass
