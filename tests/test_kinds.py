"""The layer-kind registry: generated files in sync, and every kind's own cases (its
``examples``) checked three ways — the shape inference against the engine's output, the
engine's gradients against finite differences in float64, and forward values and every
gradient against the PyTorch module its record names (skipped without torch)."""
import json
import math
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from gradcheck import numeric_grad, rel_error

from cnnspec.check.signal import second_moments
from cnnspec.engine import conv_tuned
from cnnspec.engine import layers as L
from cnnspec.engine.calibrate import Thresholds
from cnnspec.kinds import KINDS, Build
from cnnspec.kinds.docs import BEGIN, END, layer_table
from cnnspec.kinds.schema import layer_schema
from cnnspec.kinds.torch_code import torch_module
from cnnspec.render import palette

ROOT = Path(__file__).resolve().parent.parent
CASES = [(name, i) for name, kind in KINDS.items() for i in range(len(kind.examples))]


def test_the_shipped_schema_holds_the_registry_layers():
    shipped = json.loads((files("cnnspec.ir") / "schema.json").read_text(encoding="utf-8"))
    assert shipped["$defs"]["layer"] == layer_schema(list(KINDS.values())), \
        "run python tools/generate.py"


def test_the_language_reference_holds_the_registry_table():
    page = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    shipped = page[page.index(BEGIN) + len(BEGIN):page.index(END)].strip()
    assert shipped == layer_table(list(KINDS.values())), "run python tools/generate.py"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_is_complete(name):
    kind = KINDS[name]
    assert kind.examples, "each kind needs cases for the generated tests"
    assert kind.torch is not None, "each kind names the PyTorch module that computes the same"
    assert kind.onnx is not None, "each kind says which ONNX nodes compute it"
    assert kind.family in palette.FAMILIES
    assert not kind.usage or kind.usage.startswith(name)
    assert set(kind.positional) <= set(kind.field_map)
    if kind.weighted:
        assert kind.size_field in kind.field_map and kind.noun


def _layer(name: str, case: int, dtype: str = "float64"):
    """The example's IR, input shapes, what inference says, and the built layer (float64 unless
    ``dtype`` says otherwise) with random parameters."""
    kind = KINDS[name]
    example = kind.examples[case]
    ir = kind.example_ir(example)
    shapes = [tuple(s) for s in example.inputs]
    inferred = kind.infer(ir, shapes)
    rng = np.random.default_rng(case)
    weight = rng.standard_normal(inferred.weight).astype(dtype) if kind.weighted else None
    bias = (rng.standard_normal(inferred.bias).astype(dtype)
            if kind.weighted and inferred.bias else None)
    layer = kind.build(Build(ir, inferred.output, inferred.pads, weight, bias,
                             np.dtype(dtype), np.random.default_rng(0)))
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape)
    return kind, ir, shapes, inferred, layer


def _inputs(shapes, seed=1, batch=3, dtype="float64"):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, *s)).astype(dtype) for s in shapes]


@pytest.mark.parametrize("name, case", CASES)
def test_inferred_shape_is_the_engines(name, case):
    _, _, shapes, inferred, layer = _layer(name, case)
    out = layer.forward(_inputs(shapes), True)
    assert out.shape[1:] == tuple(inferred.output)
    if inferred.weight is not None:
        params = sum(math.prod(v.shape) for v in layer.params.values())
        assert params == sum(math.prod(s) for s in (inferred.weight, inferred.bias) if s)


def _assert_numeric_gradients(name: str, case: int, held=frozenset()) -> None:
    """The example's layer, its ``held`` parameters held: a gradient for each other parameter
    and each input, the numeric one."""
    _, _, shapes, inferred, layer = _layer(name, case)
    layer.held = held
    xs = _inputs(shapes)
    r = np.random.default_rng(2).standard_normal((3, *inferred.output))

    def loss():
        return float(np.sum(layer.forward(xs, True) * r))

    layer.forward(xs, True)
    dxs, grads = layer.backward(r)
    assert set(grads) == set(layer.params) - held
    for x, dx in zip(xs, dxs):
        assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    for key, value in grads.items():
        assert rel_error(value, numeric_grad(loss, layer.params[key])) < 1e-6


@pytest.mark.parametrize("name, case", CASES)
def test_gradients_match_finite_differences(name, case):
    _assert_numeric_gradients(name, case)


@pytest.mark.parametrize("name, case", [(n, c) for n, c in CASES if KINDS[n].weighted])
def test_a_held_weights_layer_gives_the_true_input_and_bias_gradients(name, case):
    """The weight held, the bias trained (``lr_mult [0, 1]``): no weight gradient (nor what
    a forward pass keeps for one alone: test_memory measures that), the input and bias
    gradients still the numeric ones."""
    _assert_numeric_gradients(name, case, held=frozenset({"weight"}))


# float64 agrees to 1e-9; float32 to 1e-4 of the largest value compared.
PRECISION = {"float64": 1e-9, "float32": 1e-4}


def _close(ours, theirs, dtype):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    scale = 1.0 if dtype == "float64" else max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=PRECISION[dtype],
                               atol=PRECISION[dtype] * scale)


def _torch_twin(torch, kind, ir, shapes, inferred, layer, dtype):
    module = torch_module(kind, ir, shapes, inferred).to(getattr(torch, dtype)).train()
    with torch.no_grad():
        for key, parameter in module.named_parameters():
            parameter.copy_(torch.from_numpy(layer.params[key.split(".")[-1]]))
    return module


@pytest.mark.parametrize("dtype", sorted(PRECISION))
@pytest.mark.parametrize("name, case", CASES)
def test_forward_and_gradients_match_pytorch(name, case, dtype):
    _assert_matches_pytorch(name, case, dtype)


@pytest.mark.parametrize("name, case", [c for c in CASES if c[0] == "conv_transpose"])
def test_a_transposed_conv_in_chunks_matches_pytorch(name, case, monkeypatch):
    """Three images in a chunk of two and a chunk of one (the column limit two images'
    columns): the backward pass places the last chunk's ``dout`` in a view of the first
    chunk's span, whose part outside ``dout``'s must stay zero."""
    _, h, w = KINDS[name].examples[case].inputs[0]
    limits = Thresholds(2 ** 30, 2 * h * w)
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: limits)
    _assert_matches_pytorch(name, case, "float64")


def _assert_matches_pytorch(name, case, dtype):
    """The layer's forward values and every gradient against its PyTorch module's, on a
    batch of three."""
    torch = pytest.importorskip("torch")
    kind, ir, shapes, inferred, layer = _layer(name, case, dtype)
    module = _torch_twin(torch, kind, ir, shapes, inferred, layer, dtype)
    xs = _inputs(shapes, dtype=dtype)
    tensors = [torch.tensor(x, requires_grad=True) for x in xs]
    out = layer.forward(xs, True)
    t_out = module(*tensors)
    _close(out, t_out, dtype)
    r = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    dxs, grads = layer.backward(r)
    (t_out * torch.from_numpy(r)).sum().backward()
    for dx, tensor in zip(dxs, tensors):
        _close(dx, tensor.grad, dtype)
    for key, parameter in module.named_parameters():
        _close(grads[key.split(".")[-1]], parameter.grad, dtype)


@pytest.mark.parametrize("name, case", [c for c in CASES if KINDS[c[0]].weighted
                                        or KINDS[c[0]].fixed_inits])
def test_a_few_sgd_steps_match_pytorch(name, case):
    """Three steps of SGD with momentum on the layer's parameters, here and in PyTorch."""
    torch = pytest.importorskip("torch")
    from cnnspec.engine.optim import make_optimizer

    kind, ir, shapes, inferred, layer = _layer(name, case)
    module = _torch_twin(torch, kind, ir, shapes, inferred, layer, "float64")
    optimizer = make_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": False})
    t_optimizer = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
    xs = _inputs(shapes)
    for step in range(3):
        r = np.random.default_rng(10 + step).standard_normal((3, *inferred.output))
        layer.forward(xs, True)
        _, grads = layer.backward(r)
        optimizer.step(layer.params, grads, 0.05)
        t_optimizer.zero_grad()
        (module(*[torch.tensor(x) for x in xs]) * torch.from_numpy(r)).sum().backward()
        t_optimizer.step()
    for key, parameter in module.named_parameters():
        _close(layer.params[key.split(".")[-1]], parameter, "float64")


def _spec_file(tmp_path, text):
    path = tmp_path / "net.cnn"
    path.write_text(text)
    return path


def _check_text(tmp_path, text):
    from cnnspec.cli import main

    return main(["check", str(_spec_file(tmp_path, text))])


def _loaded(tmp_path, text):
    import cnnspec

    return cnnspec.load(_spec_file(tmp_path, text))


def test_groups_that_do_not_divide_the_channels_are_an_error_at_groups(tmp_path, capsys):
    code = _check_text(tmp_path, "input 1x8x8\nconv 3 1x1\nconv 4 3x3 groups 2\nflatten\n"
                                 "dense 10\n")
    err = capsys.readouterr().err
    assert code == 2
    assert "net.cnn:3:12: error: conv 'conv2' has 2 groups, but its 3 input channels" in err
    assert "groups 1 does" in err


def test_a_depthwise_separable_block_with_gelu_and_silu_checks(tmp_path, capsys):
    checked = _loaded(tmp_path, "input 1x8x8\nconv 8 3x3\n"
                      "dw: conv 8 3x3 pad same groups 8 nobias\n"
                      "pw: conv 16 1x1 gelu(approximate=tanh)\nconv 16 1x1 silu\n"
                      "global_maxpool\ndense 10\n")
    dw = checked.by_name["dw"]
    assert dw.weight_shape == (8, 1, 3, 3) and (dw.fan_in, dw.fan_out) == (9, 72)
    assert checked.by_name["pw_gelu"].ir["approximate"] == "tanh"
    assert checked.output_shape == (10,)


def test_groupnorm_groups_that_do_not_divide_the_channels_are_an_error_at_groups(tmp_path,
                                                                                  capsys):
    code = _check_text(tmp_path, "input 1x8x8\nconv 6 3x3\ngroupnorm 4 relu\nflatten\n"
                                 "dense 10\n")
    err = capsys.readouterr().err
    assert code == 2
    assert ("net.cnn:3:11: error: groupnorm 'groupnorm1' splits its 6 channels (from 'conv1') "
            "into 4 groups, but 4 does not divide 6") in err
    assert "hint: use a number of groups that divides 6: 1, 2, 3, 6" in err


def test_instancenorm_and_dropout2d_need_a_feature_map(tmp_path, capsys):
    for line in ("instancenorm", "dropout2d 0.1"):
        code = _check_text(tmp_path, f"input 1x8x8\nflatten\n{line}\ndense 10\n")
        err = capsys.readouterr().err
        assert code == 2
        assert "net.cnn:3:1: error:" in err and "needs a (C, H, W) feature map" in err


def test_per_example_norms_and_prelu_count_their_parameters_and_reset_the_signal(tmp_path):
    import cnnspec

    checked = _loaded(tmp_path, "input 1x8x8\nconv 8 3x3 weight normal(0, 3)\n"
                      "ln: layernorm prelu\nconv 8 3x3\ngn: groupnorm 4 relu6\n"
                      "inorm: instancenorm hardswish\ndropout2d 0.2\nflatten\ndense 10\n")
    by_name = checked.by_name
    assert by_name["ln"].weight_shape == (8, 6, 6) and by_name["ln"].params == 2 * 8 * 36
    assert by_name["ln_prelu"].weight_shape == (8,) and by_name["ln_prelu"].params == 8
    assert by_name["ln_prelu"].weight_init.name == "constant"
    assert by_name["gn"].params == by_name["inorm"].params == 16
    moments = second_moments(checked.layers)
    assert moments["conv1"] > 50 and moments["ln"] == moments["gn"] == moments["inorm"] == 1
    model = cnnspec.compile(checked)
    np.testing.assert_array_equal(model.params()["ln_prelu.weight"], np.full(8, 0.25))


def test_norms_without_batch_statistics_leave_the_batch_uncoupled():
    x = np.random.default_rng(0).standard_normal((4, 4, 3, 2))
    for layer in (L.LayerNorm((4, 3, 2), np.float64), L.GroupNorm(4, 2, np.float64)):
        assert not layer.batch_coupled
        whole = layer.forward([x], True)
        halves = np.concatenate([layer.forward([x[:2]], True), layer.forward([x[2:]], True)])
        np.testing.assert_allclose(whole, halves, rtol=1e-12)
        np.testing.assert_allclose(layer.forward([x], False), whole, rtol=1e-12)


def test_dropout2d_zeroes_whole_channels():
    layer = L.Dropout2d(0.5, np.random.default_rng(0))
    assert layer.batch_coupled
    out = layer.forward([np.ones((8, 6, 3, 3))], True)
    per_channel = out.reshape(8, 6, 9)
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()
    dxs, _ = layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(dxs[0], out)


def test_concat_joins_flat_vectors_along_the_features(tmp_path):
    import cnnspec

    checked = _loaded(tmp_path, "input 1x8x8\na: conv 4 3x3 relu\nga: global_avgpool\n"
                      "b: flatten <- input\nd: dense 6 <- b\nboth: concat(ga, d) relu\n"
                      "dense 10\n")
    assert checked.by_name["both"].output_shape == (10,)
    out = cnnspec.compile(checked, dtype="float64").forward(np.zeros((2, 1, 8, 8)))
    assert out.shape == (2, 10)


def test_pool_options_and_asymmetric_padding_are_read_and_shaped(tmp_path):

    by_name = _loaded(tmp_path, "input 1x8x8\np: maxpool 3 stride 2 ceil_mode true\n"
                      "c: conv 4 3x3 pad 0x1x1x0\n"
                      "a: avgpool 2 pad 1x0x0x1 count_include_pad false\nflatten\n"
                      "dense 10\n").by_name
    assert by_name["p"].ir["ceil_mode"] and by_name["p"].output_shape == (1, 4, 4)
    assert by_name["c"].ir["padding"] == [0, 1, 1, 0] and by_name["c"].pads == (0, 1, 1, 0)
    assert by_name["c"].output_shape == (4, 3, 3)
    assert by_name["a"].ir["count_include_pad"] is False
    assert by_name["a"].output_shape == (4, 2, 2)


@pytest.mark.parametrize("line, where, message, hint", [
    ("conv 4 3 pad 1x2x3", "2:14", "the pad of 'conv1' must be P, PHxPW or TxBxLxR, not 1x2x3",
     "pad 0x1x0x1 (top x bottom x left x right)"),
    ("maxpool 2 pad 0x2x0x0", "2:11", "padding 0x2x0x0 of maxpool 'maxpool1' is more than half",
     "use at most 1x1 on each side"),
    ("maxpool 2 ceil_mode yes", "2:21", "unknown ceil mode 'yes'", "true"),
    ("avgpool 2 count_include_pad 0", "2:29", "whether padding counts must be true or false",
     "true or false"),
])
def test_pool_option_errors_are_located_with_a_hint(tmp_path, capsys, line, where, message,
                                                    hint):
    code = _check_text(tmp_path, f"input 1x8x8\n{line}\nflatten\ndense 10\n")
    err = capsys.readouterr().err
    assert code == 2
    assert f"net.cnn:{where}: error: " in err and message in err
    assert "hint:" in err and hint in err.split("hint:")[1]


def test_ceil_mode_drops_a_last_window_that_would_start_in_the_trailing_padding():
    from cnnspec import shapes

    # 5 + 1 + 1 - 3 = 4 over stride 3: rounded up, 3 windows; the third would start at 6, in the
    # right padding (the input ends at 1 + 5 = 6), so there are 2, as in PyTorch.
    assert shapes.window_output_size(5, 3, 3, 1, 1, ceil_mode=True) == 2
    assert shapes.window_output_size(8, 3, 2, 0, 0, ceil_mode=True) == 4
    assert shapes.window_output_size(8, 3, 2, 0, 0) == 3
    assert shapes.ceil_mode_pads((8, 8), (3, 3), (2, 2), (0, 0, 0, 0)) == (0, 1, 0, 1)


def _read_by_each_output(layer, shape):
    """For each output value of a linear ``layer`` on one input of ``shape``, the input values
    it reads: the nonzero entries of its row of the Jacobian (the input gradient of a one-hot
    output gradient), as an array of input indices."""
    out_shape = layer.forward(_inputs([shape], batch=1), True).shape
    for index in np.ndindex(*out_shape[1:]):
        dout = np.zeros(out_shape)
        dout[(0, *index)] = 1.0
        (dx,), _ = layer.backward(dout)
        yield np.argwhere(dx[0] != 0)


@pytest.mark.parametrize("name, case", [(n, i) for n, i in CASES if KINDS[n].reach])
def test_the_reach_is_what_the_engines_outputs_read(name, case):
    """``Kind.reach`` against the engine: whether an output reads more than one channel, and
    the most rows and columns of the input one output's values span (all of it for dense).
    Each example's map is made 12 pixels a side, so that its windows fit whole inside."""
    kind, ir, shapes, _, _ = _layer(name, case)
    shape = shapes[0] if len(shapes[0]) == 1 else (shapes[0][0], 12, 12)
    reach = kind.reach(ir, shape)
    inferred = kind.infer(ir, [shape])
    rng = np.random.default_rng(case)
    weight = rng.standard_normal(inferred.weight)
    bias = rng.standard_normal(inferred.bias) if inferred.bias else None
    layer = kind.build(Build(ir, inferred.output, inferred.pads, weight, bias,
                             np.dtype("float64"), None))
    # (a transposed conv's output padding, and the gaps a dilation leaves, read nothing)
    read = [r for r in _read_by_each_output(layer, shape) if len(r)]
    if reach.window is None:
        assert all(len(r) == math.prod(shape) for r in read)
        return
    assert reach.channels == any(len(set(r[:, 0])) > 1 for r in read)
    spans = [max(r[:, axis].max() - r[:, axis].min() + 1 for r in read) for axis in (1, 2)]
    assert tuple(spans) == reach.window


@pytest.mark.parametrize("name, case", [(n, i) for n, i in CASES
                                        if KINDS[n].negative_slope
                                        or KINDS[n].centre is not None])
def test_the_activation_facts_the_signal_estimate_reads_are_the_engines(name, case):
    """``negative_slope``: the engine gives y above 0 and slope·y below (relu6 below its cap,
    prelu at its starting slope), and the kind's signal factor is then (1 + s^2) / 2;
    ``centre``: f(y) - centre is odd."""
    kind = KINDS[name]
    example = kind.examples[case]
    ir = kind.example_ir(example)
    shapes = [tuple(s) for s in example.inputs]
    inferred = kind.infer(ir, shapes)
    layer = kind.build(Build(ir, inferred.output, inferred.pads, None, None,
                             np.dtype("float64"), np.random.default_rng(0)))
    y = np.random.default_rng(case).uniform(-5, 5, (4, *shapes[0]))
    out = layer.forward([y], True)
    if kind.negative_slope is not None:
        slope = kind.negative_slope(ir)
        np.testing.assert_allclose(out, np.where(y > 0, y, slope * y), rtol=1e-12)
        assert kind.signal(ir, [2.0], shapes) == pytest.approx((1 + slope ** 2) / 2 * 2.0)
    if kind.centre is not None:
        np.testing.assert_allclose(layer.forward([-y], True) - kind.centre,
                                   kind.centre - out, rtol=1e-12, atol=1e-15)


# Inputs where activations bend, clip or round flat in float64: the corners of relu, relu6 and
# hard swish, hard swish's dip at -1.5, and the far tails where elu, gelu, silu, tanh and
# sigmoid round their slope to exactly 0.
BENDS = (0.0, -0.0, 1e-300, -1e-300, -3.0, -1.5, 3.0, 6.0, -7.5, -19.0, -38.0, -38.5, -39.0,
         -40.0, -41.0, 19.0, 20.0, 40.0)


@pytest.mark.parametrize("name, case", [(n, i) for n, i in CASES
                                        if KINDS[n].is_activation])
def test_an_activations_value_and_slope_at_a_point_are_the_engines(name, case):
    """``value_at`` and ``slope_at`` against the engine's forward and backward in float64 at a
    grid of points and at :data:`BENDS`, exactly 0 where the engine's are (check reads a slope
    of 0 as stopping every gradient, a value of 0 as zeros passed on); every activation that
    works value by value has them (softmax and log-softmax mix channels), and
    ``flat_at_zero`` is a slope of 0 at 0 and below."""
    kind = KINDS[name]
    if kind.asymptote is None:  # mixes the channels: no value of one input alone
        assert kind.value_at is None and kind.slope_at is None
        return
    example = kind.examples[case]
    ir, shape = kind.example_ir(example), tuple(example.inputs[0])
    points = np.concatenate([np.linspace(-60, 60, 961), BENDS])
    y = np.resize(points, (-(-points.size // math.prod(shape)), *shape))
    layer = kind.build(Build(ir, shape, None, None, None, np.dtype("float64"),
                             np.random.default_rng(0)))
    out = layer.forward([y], True)
    (dx,), _ = layer.backward(np.ones_like(out))
    values = np.vectorize(lambda v: kind.value_at(ir, float(v)))(y)
    slopes = np.vectorize(lambda v: kind.slope_at(ir, float(v)))(y)
    # (the engine's forms, 1 - tanh^2 say, cancel to a few ulps of 1 in the tails)
    np.testing.assert_allclose(values, out, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(slopes, dx, rtol=1e-9, atol=1e-14)
    assert (out[values == 0] == 0).all() and (dx[slopes == 0] == 0).all()
    assert kind.flat_at_zero == all(kind.slope_at(ir, v) == 0 for v in points if v <= 0)


def test_the_init_field_names_are_spelled_only_where_the_registry_defines_them():
    """A layer's init fields are read by their registry names (kinds.fields.WEIGHT_INIT_KEY,
    BIAS_INIT_KEY), not spelled again: a rename is one edit. The IR migrations keep the
    names of the versions they read, and the generated parser is Lark's."""
    import re

    import cnnspec

    package = Path(cnnspec.__file__).parent
    allowed = {"kinds/fields.py", "ir/migrate.py", "lang/standalone.py"}
    spelled = re.compile(r"""["'](weight|bias)_init["']""")  # a field type aside (f.type)
    found = [f"{path.relative_to(package)}:{number}"
             for path in sorted(package.rglob("*.py"))
             if path.relative_to(package).as_posix() not in allowed
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if spelled.search(line) and "``" not in line and "f.type" not in line]
    assert not found, found
