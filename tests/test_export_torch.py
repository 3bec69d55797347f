"""``cnnspec export --format torch``: the written module with the written weights gives
cnnspec's outputs and gradients (input and every parameter, float64, 1e-9) for every example
spec and a network of every kind; its ``init_weights()`` draws what cnnspec draws (two-sample
KS tests as in test_init, exact values for fixed kernels); reserved names and errors are
handled. Writing needs no PyTorch; running the module is skipped without it."""
import ast
import dataclasses
import importlib.util
import itertools

import numpy as np
import pytest
from export_cases import ROOT, SPECS, ZOO, exported_with_statistics, inputs

from cnnspec.cli import main
from cnnspec.compiler import compile_spec
from cnnspec.exporters import open_exported
from cnnspec.exporters.docs import INIT_MARKERS, MAPPING_MARKERS, mapping_table
from cnnspec.exporters.docs import init_table as export_init_table
from cnnspec.exporters.torch_source import attributes, class_name, module_source
from cnnspec.init import describe
from cnnspec.init.catalogue import INITS as CATALOGUE
from cnnspec.kinds import KINDS
from cnnspec.kinds.docs import between_markers

TOL = 1e-9
_count = itertools.count()


def _import(path):
    """The module at ``path``, imported under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"exported_{next(_count)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _written(exported, folder):
    """Write ``exported`` as ``net.py`` + ``net.npz`` in ``folder``; returns the module's
    class with its weights loaded, in float64 and evaluation mode."""
    (folder / "net.py").write_text(module_source(exported, "net.npz"))
    np.savez(folder / "net.npz", **exported.state)
    module = _import(folder / "net.py")
    net = getattr(module, class_name(exported.checked.ir["name"]))()
    return net.double().load_weights(folder / "net.npz").eval()


def _close(ours, theirs):
    np.testing.assert_allclose(theirs.detach().numpy(), ours, rtol=TOL, atol=TOL)


def _agrees(exported, model, net, batch=3):
    """Outputs, the input's gradient and every trainable parameter's agree."""
    torch = pytest.importorskip("torch")
    x = inputs(exported.checked, batch, "float64")
    out = model.forward(x)
    r = np.random.default_rng(2).standard_normal(out.shape)
    dx = model.backward(r)
    t_x = torch.tensor(x, requires_grad=True)
    t_out = net(t_x)
    _close(out, t_out)
    (t_out * torch.from_numpy(r)).sum().backward()
    _close(dx, t_x.grad)
    names = net.NAMES
    params = dict(net.named_parameters())
    for key, grad in model.grads().items():
        layer, _, what = key.rpartition(".")
        _close(grad, params[f"{names.get(layer, layer)}.{what}"].grad)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_example_spec_gives_cnnspecs_outputs_and_gradients(path, tmp_path):
    pytest.importorskip("torch")
    exported, model = exported_with_statistics(path)
    # one image through the large ones (he2015_plain30: ~3 GFLOP each way), three otherwise
    batch = 1 if exported.checked.macs > 10**8 else 3
    _agrees(exported, model, _written(exported, tmp_path), batch)


def test_a_network_of_every_kind_gives_cnnspecs_outputs_and_gradients(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "zoo.cnn").write_text(ZOO)
    exported, model = exported_with_statistics(tmp_path / "zoo.cnn")
    assert {layer.kind for layer in exported.needed_layers()} >= set(KINDS) - {"softmax"}
    _agrees(exported, model, _written(exported, tmp_path))


def test_every_kind_can_be_written():
    """Every kind declares its PyTorch module and its ONNX nodes (no deliberate exceptions)."""
    assert [name for name, kind in KINDS.items() if kind.torch is None or kind.onnx is None] == []


# One conv layer per init (and a dense layer for scaled biases), each reading the input.
INITS = [
    "zeros", "ones", "constant(0.5)", "uniform(-0.2, 0.3)", "normal(0.1, 0.05)",
    "truncated_normal(std=0.02, mean=1)", "variance_scaling(2, fan_out, truncated_normal)",
    "variance_scaling(1, fan_avg, uniform)", "variance_scaling(0.5, fan_in, normal)",
    "glorot_uniform", "glorot_normal(gain=tanh)", "he_uniform(mode=fan_out)", "he_normal",
    "lecun_uniform", "lecun_normal", "torch_default", "sparse(nonzero=5, std=0.5)",
    "positive_unitball", "orthogonal(1.5)", "delta_orthogonal", "identity",
    "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]", "sobel_x", "sobel_y", "laplacian",
    "gaussian(sigma=0.8)", "bilinear", "box", "x_kernel", "lsuv",
    "truncated_normal(0.5, 0.1, low=0.45, high=0.9)", "truncated_normal(std=0.02, low=-0.01)",
]
BIASES = ["torch_default", "truncated_normal(0.1, 0.2)", "uniform(-1, 2)",
          "variance_scaling(2, fan_in, normal)", "truncated_normal(0.1, 0.2, high=0.15)"]


def _init_spec(tmp_path):
    lines = ["model inits", "input 3x8x8"]
    lines += [f"w{i}: conv 128 3x3 weight {init} <- input" for i, init in enumerate(INITS)]
    lines += ["flat: flatten <- input"]
    lines += [f"b{i}: dense 1000 bias {init} <- flat" for i, init in enumerate(BIASES)]
    lines += ["bn: batchnorm <- w0", "act: prelu <- bn", "flatten", "dense 2",
              "train {", "  data shapes(size=8, colour=true, classes=[x, plus])", "}"]
    path = tmp_path / "inits.cnn"
    path.write_text("\n".join(lines) + "\n")
    return path


DRAWS = 8


def test_init_weights_draws_what_cnnspec_draws(tmp_path):
    torch = pytest.importorskip("torch")
    stats = pytest.importorskip("scipy.stats")
    exported = open_exported(_init_spec(tmp_path))
    net = _written(exported, tmp_path)
    torch.manual_seed(0)
    drawn, ours = {}, {}
    for seed in range(DRAWS):  # several draws make a sample (a bias: one value per unit)
        net.init_weights()
        for key, value in net.state_dict().items():
            drawn.setdefault(key, []).append(value.detach().numpy().copy())
        for key, value in compile_spec(exported.checked, seed, "float64").state_dict().items():
            ours.setdefault(key, []).append(value)
    drawn = {key: np.stack(values) for key, values in drawn.items()}
    ours = {key: np.stack(values) for key, values in ours.items()}
    checked = exported.checked.by_name
    samples = [(f"w{i}.weight", init) for i, init in enumerate(INITS)]
    samples += [(f"b{i}.bias", init) for i, init in enumerate(BIASES)]
    samples += [("bn.weight", "ones"), ("bn.bias", "zeros"), ("act.weight", "0.25")]
    for key, init in samples:
        layer = checked[key.split(".")[0]]
        info = layer.weight_init if key.endswith("weight") else layer.bias_init
        if info is not None and info.random:
            assert stats.ks_2samp(drawn[key].ravel(), ours[key].ravel()).pvalue > 1e-3, init
        else:
            np.testing.assert_allclose(drawn[key], ours[key], rtol=1e-12, err_msg=init)
    assert (drawn["bn.running_var"] == 1).all() and (drawn["bn.running_mean"] == 0).all()


def test_orthogonal_draws_have_orthonormal_rows(tmp_path):
    torch = pytest.importorskip("torch")
    exported = open_exported(_init_spec(tmp_path))
    net = _written(exported, tmp_path)
    torch.manual_seed(1)
    net.init_weights()
    w = net.w18.weight.detach().numpy().reshape(128, -1)  # orthogonal(1.5), 128 x 27
    np.testing.assert_allclose(w.T @ w, 1.5 ** 2 * np.eye(27), atol=1e-9)
    info = describe({"name": "orthogonal", "gain": {"value": 1.5}}, (128, 3, 3, 3))
    assert info.distribution == "orthogonal"


def test_the_command_writes_the_module_and_its_weights(tmp_path, capsys):
    out = tmp_path / "digits_net.py"
    assert main(["export", str(SPECS[0].parent / "digits.cnn"), "--format", "torch",
                 "-o", str(out)]) == 0
    assert "digits_net.npz" in capsys.readouterr().out
    text = out.read_text()
    compile(text, str(out), "exec")
    assert "class Digits(nn.Module):" in text and "self.conv1 = nn.Conv2d(1, 32, (3, 3)" in text
    with np.load(tmp_path / "digits_net.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == set(open_exported(SPECS[0].parent / "digits.cnn").state)


# A frozen fixed kernel and a frozen norm, Caffe's multipliers (the bias at twice the rate, no
# decay; a layer held still), decay_bias false, and a softmax output.
MULTS_SPEC = """\
model frozen_mults
input 1x8x8
edges: conv 2 3x3 weight sobel_x frozen relu
c2: conv 4 3x3 lr_mult [1, 2] decay_mult [1, 0]
c3: conv 4 1x1 lr_mult [0, 1]
gn: groupnorm 2 frozen
act: prelu
flatten
still: dense 16 lr_mult 0 relu
fc: dense 10
prob: softmax
train {
  data digits
  optimizer sgd(momentum=0.9)
  weight_decay 0.01
  decay_bias false
}
"""


def _mults_spec(tmp_path):
    path = tmp_path / "mults.cnn"
    path.write_text(MULTS_SPEC)
    return path


def _named_groups(net, groups) -> dict:
    """Parameter name -> (lr, weight_decay) of its group, for ``param_groups``' answer."""
    names = {id(param): name for name, param in net.named_parameters()}
    return {names[id(param)]: (group["lr"], group["weight_decay"])
            for group in groups for param in group["params"]}


def test_param_groups_apply_lr_mult_and_decay_mult_and_leave_held_parameters_out(tmp_path):
    """frozen and lr_mult 0 hold parameters by one rule (is_trained): neither requires grad,
    so neither is in a group, as cnnspec's optimizer keeps no state for either."""
    torch = pytest.importorskip("torch")
    net = _written(open_exported(_mults_spec(tmp_path)), tmp_path)
    optimizer = torch.optim.SGD(net.param_groups(0.1, 0.01), momentum=0.9)
    assert _named_groups(net, optimizer.param_groups) == {
        "c2.weight": (0.1, 0.01), "c2.bias": (0.2, 0.0),  # lr_mult [1, 2] decay_mult [1, 0]
        "c3.bias": (0.1, 0.0),  # its weight at lr_mult 0, held
        "act.weight": (0.1, 0.0),  # decay_bias false spares all but the weights of weighted
        "fc.weight": (0.1, 0.01), "fc.bias": (0.1, 0.0)}
    held = [*net.edges.parameters(), *net.gn.parameters(), *net.still.parameters()]
    assert len(held) == 6 and not any(param.requires_grad for param in held)
    assert net.c3.weight.requires_grad is False and net.c3.bias.requires_grad


def test_a_step_of_the_param_groups_is_cnnspecs_step(tmp_path):
    """Same gradients, one SGD step each: every parameter moves as cnnspec moves it, the
    frozen ones and those at lr_mult 0 not at all."""
    torch = pytest.importorskip("torch")
    from cnnspec.training.mults import training_optimizer

    exported = open_exported(_mults_spec(tmp_path))
    training = exported.checked.ir["training"]
    model = compile_spec(exported.checked, training["seed"], "float64")
    net = _written(exported, tmp_path)
    x = inputs(exported.checked, 3, "float64")
    r = np.random.default_rng(2).standard_normal(model.forward(x).shape)
    model.backward(r)
    training_optimizer(training, model).step(model.params(), model.grads(), 0.1)
    (net(torch.from_numpy(x)) * torch.from_numpy(r)).sum().backward()
    torch.optim.SGD(net.param_groups(0.1, training["weight_decay"]), momentum=0.9).step()
    params = dict(net.named_parameters())
    for key, value in model.params().items():
        _close(value, params[key])
    for key in ("edges.weight", "gn.weight", "still.weight"):
        assert torch.equal(params[key], torch.from_numpy(exported.state[key])), key
    assert not np.array_equal(model.params()["fc.weight"], exported.state["fc.weight"])


def test_a_softmax_output_is_said_and_its_logits_train_with_cross_entropy(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    path = _mults_spec(tmp_path)
    assert main(["export", str(path), "--format", "torch", "-o", str(tmp_path / "net.py")]) == 0
    said = ("forward() ends in softmax: train it with NLLLoss on torch.log(model(x)), or with "
            "F.cross_entropy on model.logits(x), the scores before the softmax")
    assert f"note: {said}" in capsys.readouterr().err
    assert " ".join((tmp_path / "net.py").read_text().split()).count(said) == 1  # docstring
    exported, model = exported_with_statistics(path)
    net = _written(exported, tmp_path)
    x = inputs(exported.checked, 4, "float64")
    y = np.array([0, 3, 9, 3])
    loss, _ = model.loss(model.forward(x), y)  # cnnspec's cross-entropy, on the logits
    logits = net.logits(torch.from_numpy(x))
    theirs = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    assert theirs.item() == pytest.approx(loss, rel=1e-12)
    _close(model.forward(x), torch.softmax(logits, 1))
    _close(model.forward(x), net(torch.from_numpy(x)))


def test_an_output_without_softmax_says_nothing_of_it(tmp_path, capsys):
    out = tmp_path / "digits_net.py"
    assert main(["export", str(SPECS[0].parent / "digits.cnn"), "--format", "torch",
                 "-o", str(out)]) == 0
    assert "softmax" not in capsys.readouterr().err
    assert "softmax" not in out.read_text() and "def logits" not in out.read_text()


@pytest.mark.parametrize("name, said", [
    ("cq.py", "(class CIFAR10Quick, a torch.nn.Module: from cq import CIFAR10Quick)"),
    ("cifar-quick.py", ("(class CIFAR10Quick, a torch.nn.Module: rename cifar-quick.py to a "
                        "Python module name to import it)")),
])
def test_the_command_names_the_class_and_how_to_import_it(name, said, tmp_path, capsys):
    path = tmp_path / "cq.cnn"
    path.write_text("model CIFAR10_quick\ninput 3x8x8\nconv 4 3x3\nflatten\nfc: dense 10\n")
    assert main(["export", str(path), "--format", "torch", "-o", str(tmp_path / name)]) == 0
    assert said in capsys.readouterr().out
    # the file's docstring shows the same import (or, commented, the renaming)
    statement = said.split("a torch.nn.Module: ")[1].rstrip(")")
    shown = statement if statement.startswith("from ") else f"# {statement}"
    assert f"\n    {shown}\n    model = CIFAR10Quick()\n" in (tmp_path / name).read_text()


@pytest.mark.parametrize("fmt, out, existing, said", [
    ("torch", "digits.py", "digits.py", "{tmp}/digits.py exists\n"),
    # the weights beside it: a run's trained weights exported before are work too
    ("torch", "digits.py", "digits.npz",
     "{tmp}/digits.npz exists (the weights written beside digits.py)\n"),
    ("json", "digits.json", "digits.json", "{tmp}/digits.json exists\n"),
])
def test_an_existing_file_is_kept_unless_forced(fmt, out, existing, said, tmp_path, capsys):
    """As `import -o` does: the same words, the same exit code, nothing written (not the
    module either when only its weights' file exists, exit 2: a mistake in what was asked);
    --force writes over it."""
    (tmp_path / existing).write_text("# kept\n")
    argv = ["export", str(SPECS[0].parent / "digits.cnn"), "--format", fmt,
            "-o", str(tmp_path / out)]
    assert main(argv) == 2
    assert (f"error: {said}hint: choose another name, or overwrite it with --force\n"
            .format(tmp=tmp_path) in capsys.readouterr().err)
    assert [p.name for p in tmp_path.iterdir()] == [existing]
    assert (tmp_path / existing).read_text() == "# kept\n"
    assert main(argv + ["--force"]) == 0
    assert (tmp_path / existing).read_bytes() != b"# kept\n"
    assert (tmp_path / out).stat().st_size > 100


def test_the_library_keeps_an_existing_file_unless_forced(tmp_path):
    from cnnspec.errors import SettingError
    from cnnspec.exporters.torch_source import export_torch

    (tmp_path / "m.npz").write_text("# kept\n")
    with pytest.raises(SettingError, match="m.npz exists") as refused:
        export_torch(SPECS[0].parent / "digits.cnn", tmp_path / "m.py")
    assert refused.value.hint == "choose another name, or overwrite it with force=True"
    assert not (tmp_path / "m.py").exists()
    export_torch(SPECS[0].parent / "digits.cnn", tmp_path / "m.py", force=True)
    assert (tmp_path / "m.py").exists()


def test_the_librarys_export_prints_what_it_wrote_not_every_weight(tmp_path):
    from cnnspec.exporters.torch_source import export_torch

    exported, weights = export_torch(SPECS[0].parent / "digits.cnn", tmp_path / "m.py")
    shown = repr(exported)
    assert "source='spec" in shown and "weights='initial weights of seed 0'" in shown
    assert "array(" not in shown and len(shown) < 1000
    assert set(exported.state) >= {"conv1.weight", "fc2.bias"} and weights.name == "m.npz"


def _defined(text):
    """The names of the top-level functions and classes of a module's text."""
    return {node.name for node in ast.parse(text).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def test_a_module_carries_only_the_helpers_its_layers_and_inits_use(tmp_path):
    # digits: nn's own modules and nn.init's draws, no helper at all
    digits = module_source(open_exported(SPECS[0].parent / "digits.cnn"), "digits.npz")
    assert _defined(digits) == {"Digits"}
    assert "torch.nn.functional" not in digits  # only the helpers use it
    # padding that differs per side and a sparse init: their helpers and those they call
    # (pad_sides, rows_view), none of the others (CroppedConvTranspose2d, identity_, ...)
    (tmp_path / "helpers.cnn").write_text(
        "model helpers\ninput 1x8x8\nconv 4 3x3 pad 0x1x0x1 weight sparse(nonzero=2, std=0.5)\n"
        "maxpool 2\nflatten\ndense 10\n")
    exported, model = exported_with_statistics(tmp_path / "helpers.cnn")
    text = module_source(exported, "net.npz")
    assert _defined(text) == {"Helpers", "pad_sides", "PaddedConv2d", "rows_view", "sparse_"}
    assert "import torch.nn.functional as F" in text  # pad_sides calls F.pad
    torch = pytest.importorskip("torch")  # the module runs: same outputs, sparse_ draws
    net = _written(exported, tmp_path)
    _agrees(exported, model, net)
    torch.manual_seed(0)
    net.init_weights()  # sparse_ runs
    assert (net.conv1.weight.detach().flatten(1) != 0).sum(dim=1).tolist() == [2] * 4


def test_a_run_exports_its_trained_weights(tmp_path, tiny_shapes_spec):
    torch = pytest.importorskip("torch")
    from cnnspec import load_run, train

    run = train(tiny_shapes_spec, run_dir=tmp_path / "run", curves=False, progress="none").path
    out = tmp_path / "tiny.py"
    assert main(["export", str(run), "--format", "torch", "-o", str(out)]) == 0
    loaded = load_run(run)
    net = _import(out).Tiny().load_weights(tmp_path / "tiny.npz").eval()
    x = inputs(loaded.spec, 4, "float32")
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(),
                               loaded.model.forward(x), rtol=1e-5, atol=1e-6)
    # a run's own weight files load as they are (best.npz's _epoch record is skipped)
    assert loaded.weights == "best"
    with np.load(run / "best.npz") as arrays:
        assert "_epoch" in arrays.files
    again = _import(out).Tiny().load_weights(run / "best.npz")
    for key, value in again.state_dict().items():
        assert torch.equal(value, net.state_dict()[key])


# How closely the module's answer is predict's, by the dtype of the run and the module: a
# float64 run preprocesses in float64 as the module does (in float32, 8e-10 off here).
PREDICT_TOL = {"float32": 1e-6, "float64": 1e-13}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_runs_module_preprocesses_as_predict_does(tmp_path, tiny_shapes_spec, capsys, dtype):
    """model(model.preprocess(images)) on raw images in [0, 1] gives predict's answer; the
    module and the command say that the network takes preprocessed images."""
    torch = pytest.importorskip("torch")
    from cnnspec import load_run, train
    from cnnspec.training.run import softmax

    run = train(tiny_shapes_spec, run_dir=tmp_path / "run", curves=False, progress="none",
                dtype=dtype).path
    out = tmp_path / "tiny.py"
    assert main(["export", str(run), "--format", "torch", "-o", str(out)]) == 0
    assert "(standardize): (x - mean) / std per channel" in capsys.readouterr().out
    assert "scores = model(model.preprocess(images))  # images (N, 1, 8, 8) in [0, 1]" \
           in out.read_text()
    loaded = load_run(run)
    net = _import(out).Tiny().to(getattr(torch, dtype))
    net = net.load_weights(tmp_path / "tiny.npz").eval()
    assert net.MEAN == tuple(loaded.preprocessor.mean) and net.STD == tuple(loaded.preprocessor.std)
    # float32 raw images, as the data sets and predict's inputs are
    images = np.random.default_rng(4).uniform(0, 1, (5, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        scores = net(net.preprocess(torch.from_numpy(images.astype(dtype)))).numpy()
    np.testing.assert_allclose(softmax(scores), loaded.predict(images), rtol=0,
                               atol=PREDICT_TOL[dtype])


def test_a_run_without_preprocessing_gets_preprocess_as_the_identity(tmp_path,
                                                                     tiny_shapes_spec, capsys):
    torch = pytest.importorskip("torch")
    from cnnspec import train

    tiny_shapes_spec.write_text(tiny_shapes_spec.read_text().replace("standardize", "none"))
    run = train(tiny_shapes_spec, run_dir=tmp_path / "run", curves=False, progress="none").path
    out = tmp_path / "tiny.py"
    assert main(["export", str(run), "--format", "torch", "-o", str(out)]) == 0
    assert "its input" not in capsys.readouterr().out  # the images as predict reads them
    net = _import(out).Tiny()
    images = torch.rand(2, 1, 8, 8)
    assert torch.equal(net.preprocess(images), images)


def test_a_specs_module_says_what_its_input_is(tmp_path):
    text = module_source(open_exported(SPECS[0].parent / "digits.cnn"), "digits.npz")
    assert "# its input: images in [0, 1] after the spec's `preprocess standardize`" in text
    assert "def preprocess" not in text  # its statistics come from training


def test_reserved_names_get_a_trailing_underscore(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "names.cnn"
    path.write_text("model net_2\ninput 1x8x8\nforward: conv 2 3x3\n_inner: prelu\n"
                    "x: flatten\neval: dense 10\nlambda: relu\n")
    exported, model = exported_with_statistics(path)
    assert attributes(["forward", "x", "x_", "conv", "_inner"]) == {
        "forward": "forward_", "x": "x__", "x_": "x_", "conv": "conv", "_inner": "layer_inner"}
    net = _written(exported, tmp_path)
    assert class_name("2nd-net") == "Net2ndNet" and type(net).__name__ == "Net2"
    assert net.NAMES["forward"] == "forward_"
    _agrees(exported, model, net)


def test_load_weights_refuses_weights_of_another_network(tmp_path):
    pytest.importorskip("torch")
    exported = open_exported(SPECS[0].parent / "digits.cnn")
    net = _written(exported, tmp_path)
    np.savez(tmp_path / "other.npz", **{"fc9.weight": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="does not fit this module"):
        net.load_weights(tmp_path / "other.npz")


@pytest.mark.parametrize("dtype", ["bool", "complex64", "<U2"])
def test_load_weights_refuses_what_is_no_weight_and_converts_integers(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    exported = open_exported(SPECS[0].parent / "digits.cnn")
    net = _written(exported, tmp_path)
    key = next(k for k in exported.state if k.endswith(".weight"))
    kernel = np.rint(exported.state[key] * 10).astype(np.int16)  # small whole numbers
    np.savez(tmp_path / "whole.npz", **dict(exported.state, **{key: kernel}))
    net.load_weights(tmp_path / "whole.npz")
    layer = key.rpartition(".")[0]
    loaded = net.state_dict()[f"{net.NAMES.get(layer, layer)}.weight"]
    assert torch.equal(loaded, torch.from_numpy(kernel).double())  # exactly
    np.savez(tmp_path / "bad.npz", **dict(exported.state, **{key: kernel.astype(dtype)}))
    with pytest.raises(ValueError, match=f"{key} has dtype {np.dtype(dtype)}, not real numbers"):
        net.load_weights(tmp_path / "bad.npz")


@pytest.mark.parametrize("fmt, field, called, suffix", [
    ("torch", "torch", "PyTorch", ".py"), ("onnx", "onnx", "ONNX", ".onnx")])
def test_a_kind_without_a_mapping_is_named_at_its_line(fmt, field, called, suffix, tmp_path,
                                                       monkeypatch, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnx", reason="onnx not installed: pip install 'cnnspec[onnx]'")
    monkeypatch.setitem(KINDS, "silu", dataclasses.replace(KINDS["silu"], **{field: None}))
    path = tmp_path / "s.cnn"
    # unused by the output, a layer is still an attribute of the PyTorch module
    unused = "output fc\n" if fmt == "torch" else ""
    path.write_text("input 1x8x8\nflatten\nfc: dense 10\nact: silu\n" + unused)
    out = tmp_path / f"s{suffix}"
    assert main(["export", str(path), "--format", fmt, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"s.cnn:4:1: error: silu layer 'act' cannot be exported to {called}" in err
    assert ("hint: replace the layer with one that has, or write the IR, which names every "
            "kind (--format json)") in err
    assert "Traceback" not in err and not out.exists()
    if fmt == "torch":  # the library was told "or export --format json", a command's option
        from cnnspec.errors import SpecError
        from cnnspec.exporters.torch_source import export_torch

        with pytest.raises(SpecError) as info:
            export_torch(path, out)
        assert info.value.hint.endswith("or write the IR, which names every kind "
                                        "(cnnspec.ir.io.to_json(spec.ir))")


@pytest.mark.parametrize("argv, code, words", [
    (["--format", "torch"], 2, "add -o digits.py"),
    (["--format", "onnx"], 2, "add -o digits.onnx"),
    (["--format", "torch", "-o", "missing/folder/m.py"], 2, "does not exist"),
    # another format's extension: the IR's JSON written into model.py, exit 0, before
    (["-o", "{tmp}/model.py"], 2, ("names a Python file, but --format json (the default) "
                                   "writes the IR as JSON\nhint: add --format torch, or write "
                                   "-o {tmp}/model.json")),
    (["-o", "{tmp}/model.onnx"], 2, "hint: add --format onnx"),
    (["--format", "torch", "-o", "{tmp}/model.txt"], 2,
     "--format torch writes a .py file\nhint: write -o {tmp}/model.py"),
    (["--format", "onnx", "-o", "{tmp}/model.json"], 2, "--format onnx writes a .onnx file"),
])
def test_command_mistakes_are_explained(argv, code, words, tmp_path, capsys):
    argv = [part.format(tmp=tmp_path) for part in argv]
    try:
        exited = main(["export", str(SPECS[0].parent / "digits.cnn"), *argv])
    except SystemExit as exc:  # argparse's usage errors
        exited = exc.code
    assert exited == code
    assert words.format(tmp=tmp_path) in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_every_init_declares_its_pytorch_statement():
    assert [init.name for init in CATALOGUE if not init.torch] == []


def test_the_interop_page_holds_the_registry_tables():
    page = (ROOT / "docs" / "interop.md").read_text(encoding="utf-8")
    assert between_markers(page, *MAPPING_MARKERS) == mapping_table(), \
        "run python tools/generate.py"
    assert between_markers(page, *INIT_MARKERS) == export_init_table(), \
        "run python tools/generate.py"


def test_json_stays_the_ir_and_reads_a_run_or_writes_a_file(tmp_path, tiny_shapes_spec, capsys):
    from cnnspec import train

    assert main(["export", str(tiny_shapes_spec)]) == 0
    printed = capsys.readouterr().out
    assert main(["export", str(tiny_shapes_spec), "-o", str(tmp_path / "ir.json")]) == 0
    assert (tmp_path / "ir.json").read_text() == printed
    run = train(tiny_shapes_spec, run_dir=tmp_path / "run", curves=False, progress="none").path
    capsys.readouterr()
    assert main(["export", str(run), "--format", "json"]) == 0
    assert '"name": "tiny"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:  # a folder, not a run
        main(["export", str(tmp_path), "--format", "json"])
    assert exited.value.code == 2
    assert "is a directory, not a spec file or a run folder" in capsys.readouterr().err
