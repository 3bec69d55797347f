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

from cnnspec.kinds import KINDS, Build
from cnnspec.kinds.docs import BEGIN, END, layer_table
from cnnspec.kinds.schema import layer_schema
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
    assert kind.family in palette.FAMILIES
    assert not kind.usage or kind.usage.startswith(name)
    assert set(kind.positional) <= set(kind.field_map)
    if kind.weighted:
        assert kind.size_field in kind.field_map and kind.noun


def _layer(name: str, case: int):
    """The example's IR, input shapes, what inference says, and the built float64 layer with
    random parameters."""
    kind = KINDS[name]
    example = kind.examples[case]
    inputs = [f"in{i}" for i in range(len(example.inputs))]
    ir = {"name": "layer", "kind": name, "inputs": inputs, "group": None,
          **kind.ir_defaults(), **example.fields}
    for f in kind.fields:
        if f.default_from and ir[f.name] is None:
            ir[f.name] = list(ir[f.default_from])
    shapes = [tuple(s) for s in example.inputs]
    inferred = kind.infer(ir, shapes)
    rng = np.random.default_rng(case)
    weight = rng.standard_normal(inferred.weight) if kind.weighted else None
    bias = rng.standard_normal(inferred.bias) if kind.weighted and inferred.bias else None
    layer = kind.build(Build(ir, inferred.output, inferred.pads, weight, bias,
                             np.dtype("float64"), np.random.default_rng(0)))
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape)
    return kind, ir, shapes, inferred, layer


def _inputs(shapes, seed=1, batch=3):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, *s)) for s in shapes]


@pytest.mark.parametrize("name, case", CASES)
def test_inferred_shape_is_the_engines(name, case):
    _, _, shapes, inferred, layer = _layer(name, case)
    out = layer.forward(_inputs(shapes), True)
    assert out.shape[1:] == tuple(inferred.output)
    if inferred.weight is not None:
        params = sum(math.prod(v.shape) for v in layer.params.values())
        assert params == sum(math.prod(s) for s in (inferred.weight, inferred.bias) if s)


@pytest.mark.parametrize("name, case", CASES)
def test_gradients_match_finite_differences(name, case):
    _, _, shapes, inferred, layer = _layer(name, case)
    xs = _inputs(shapes)
    r = np.random.default_rng(2).standard_normal((3, *inferred.output))

    def loss():
        return float(np.sum(layer.forward(xs, True) * r))

    layer.forward(xs, True)
    dxs, grads = layer.backward(r)
    for x, dx in zip(xs, dxs):
        assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    for key, value in layer.params.items():
        assert rel_error(grads[key], numeric_grad(loss, value)) < 1e-6


@pytest.mark.parametrize("name, case", CASES)
def test_forward_and_gradients_match_pytorch(name, case):
    torch = pytest.importorskip("torch")
    kind, ir, shapes, inferred, layer = _layer(name, case)
    module = kind.torch(torch, ir, shapes, inferred).double().train()
    with torch.no_grad():
        for key, parameter in module.named_parameters():
            parameter.copy_(torch.from_numpy(layer.params[key.split(".")[-1]]))
    xs = _inputs(shapes)
    tensors = [torch.tensor(x, requires_grad=True) for x in xs]
    out = layer.forward(xs, True)
    t_out = module(*tensors)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-9, atol=1e-9)
    r = np.random.default_rng(2).standard_normal(out.shape)
    dxs, grads = layer.backward(r)
    (t_out * torch.from_numpy(r)).sum().backward()
    for dx, tensor in zip(dxs, tensors):
        np.testing.assert_allclose(dx, tensor.grad.numpy(), rtol=1e-9, atol=1e-9)
    for key, parameter in module.named_parameters():
        np.testing.assert_allclose(grads[key.split(".")[-1]], parameter.grad.numpy(),
                                   rtol=1e-9, atol=1e-9)


def _check_text(tmp_path, text):
    from cnnspec.cli import main

    path = tmp_path / "net.cnn"
    path.write_text(text)
    return main(["check", str(path)])


def test_groups_that_do_not_divide_the_channels_are_an_error_at_groups(tmp_path, capsys):
    code = _check_text(tmp_path, "input 1x8x8\nconv 3 1x1\nconv 4 3x3 groups 2\nflatten\n"
                                 "dense 10\n")
    err = capsys.readouterr().err
    assert code == 2
    assert "net.cnn:3:12: error: conv 'conv2' has 2 groups, but its 3 input channels" in err
    assert "groups 1 does" in err


def test_a_depthwise_separable_block_with_gelu_and_silu_checks(tmp_path, capsys):
    import cnnspec

    path = tmp_path / "net.cnn"
    path.write_text("input 1x8x8\nconv 8 3x3\ndw: conv 8 3x3 pad same groups 8 nobias\n"
                    "pw: conv 16 1x1 gelu(approximate=tanh)\nconv 16 1x1 silu\n"
                    "global_maxpool\ndense 10\n")
    checked = cnnspec.load(path)
    dw = checked.by_name["dw"]
    assert dw.weight_shape == (8, 1, 3, 3) and (dw.fan_in, dw.fan_out) == (9, 72)
    assert checked.by_name["pw_gelu"].ir["approximate"] == "tanh"
    assert checked.output_shape == (10,)
