"""``cnnspec export --format onnx``: the model passes ``onnx.checker`` and ONNX Runtime's
outputs equal cnnspec's evaluation-mode forward within 1e-5 (float32, relative to the largest
output) for every example spec, for a network holding every kind, and for every kind's own
cases from the registry; the batch dimension is free; errors are located, never tracebacks.
Skipped, saying why, where onnx or onnxruntime is not installed (``pip install
'cnnspec[onnx]'``; CI installs both)."""
import sys

import numpy as np
import pytest
from export_cases import SPECS, ZOO, exported_with_statistics, inputs
from test_kinds import CASES, _inputs, _layer

from cnnspec.check.model import LayerInfo
from cnnspec.cli import main
from cnnspec.compiler import compile_spec
from cnnspec.exporters import open_exported
from cnnspec.exporters.onnx_graph import BATCH, INPUT, OPSET, layers_model, onnx_model
from cnnspec.kinds import KINDS

onnx = pytest.importorskip("onnx", reason="onnx not installed: pip install 'cnnspec[onnx]'")
ort = pytest.importorskip("onnxruntime",
                          reason="onnxruntime not installed: pip install 'cnnspec[onnx]'")

TOL = 1e-5


def _session(model):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no warnings about initializers ONNX Runtime folds
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _close(ours, theirs):
    scale = max(1.0, float(np.abs(ours).max(initial=0.0)))
    np.testing.assert_allclose(theirs, ours, rtol=TOL, atol=TOL * scale)


def _agrees(exported, model, batch=3):
    session = _session(onnx_model(exported))
    x = inputs(exported.checked, batch, "float32")
    _close(model.forward(x), session.run(None, {INPUT: x})[0])


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_example_spec_runs_in_onnxruntime_as_in_cnnspec(path):
    _agrees(*exported_with_statistics(path, "float32"))


@pytest.fixture
def zoo(tmp_path):
    path = tmp_path / "zoo.cnn"
    path.write_text(ZOO)
    return path


def test_a_network_of_every_kind_runs_as_in_cnnspec(zoo):
    exported, model = exported_with_statistics(zoo, "float32")
    assert {layer.kind for layer in exported.needed_layers()} >= set(KINDS) - {"softmax"}
    _agrees(exported, model)


@pytest.mark.parametrize("name, case", CASES)
def test_every_kind_case_runs_as_in_cnnspec(name, case):
    """Each kind's registry cases as a one-layer graph (merges with several inputs)."""
    _, ir, shapes, inferred, layer = _layer(name, case, "float32")
    rng = np.random.default_rng(5)
    for key, value in layer.buffers.items():  # evaluation: the running statistics count
        value[...] = (rng.uniform(0.5, 2.0, value.shape) if key == "running_var"
                      else rng.standard_normal(value.shape))
    state = {f"layer.{key}": value for key, value in {**layer.params, **layer.buffers}.items()}
    info = LayerInfo("layer", name, ir, ir["inputs"], shapes, inferred.output, inferred.pads)
    model = layers_model([info], dict(zip(ir["inputs"], shapes)), ("layer", inferred.output),
                         state, "case")
    xs = _inputs(shapes, dtype="float32")
    got = _session(model).run(None, dict(zip(ir["inputs"], xs)))[0]
    _close(layer.forward(xs, False), got)


def test_the_batch_is_free_and_the_values_are_named(zoo):
    exported, model = exported_with_statistics(zoo, "float32")
    proto = onnx_model(exported)
    assert proto.opset_import[0].version == OPSET
    (given,), (output,) = proto.graph.input, proto.graph.output
    assert given.name == INPUT and output.name == "sm"
    assert given.type.tensor_type.shape.dim[0].dim_param == BATCH
    assert [d.dim_value for d in given.type.tensor_type.shape.dim[1:]] == [3, 12, 12]
    assert {node.output[0] for node in proto.graph.node} >= {"c1", "bn1_relu", "both", "sm"}
    session = _session(proto)
    for batch in (1, 5):
        x = inputs(exported.checked, batch, "float32", seed=batch)
        _close(model.forward(x), session.run(None, {INPUT: x})[0])


def test_dropout_keeps_every_value_and_unused_layers_are_left_out(tmp_path):
    """A dropout is ONNX's Dropout in inference (no training_mode input), its ratio kept for
    import to read back; a dropout2d, which ONNX has no op for, is the Identity."""
    path = tmp_path / "d.cnn"
    path.write_text("input 2x8x8\nd2: dropout2d 0.25\nflatten\nfc: dense 10\n"
                    "drop: dropout 0.5\nspare: dense 3 <- fc\noutput drop\n")
    exported = open_exported(path)
    proto = onnx_model(exported)
    assert [n.op_type for n in proto.graph.node] == ["Identity", "Flatten", "Gemm", "Dropout"]
    dropout = proto.graph.node[-1]
    assert len(dropout.input) == 2  # data and ratio: no training_mode, so inference
    ratio = next(t for t in proto.graph.initializer if t.name == dropout.input[1])
    assert onnx.numpy_helper.to_array(ratio) == np.float32(0.5)
    x = inputs(exported.checked, 3, "float32")
    model = compile_spec(exported.checked, dtype="float32")
    model.load_state_dict(exported.state)
    _close(model.eval().forward(x), _session(proto).run(None, {INPUT: x})[0])


def test_a_run_exports_its_trained_weights(tmp_path, tiny_shapes_spec):
    from cnnspec import load_run, train

    run = train(tiny_shapes_spec, run_dir=tmp_path / "run", curves=False, progress="none").path
    out = tmp_path / "tiny.onnx"
    assert main(["export", str(run), "--format", "onnx", "-o", str(out)]) == 0
    loaded = load_run(run)
    initial = open_exported(tiny_shapes_spec).state["conv1.weight"]
    assert not np.allclose(loaded.model.params()["conv1.weight"], initial)  # it trained
    x = inputs(loaded.spec, 4, "float32")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    _close(loaded.model.forward(x), session.run(None, {INPUT: x})[0])
    onnx.checker.check_model(onnx.load(str(out)))


def test_a_float64_run_is_said_to_become_a_float32_model(tmp_path, tiny_shapes_spec, capsys):
    """The model's tensors are float32: a float64 run's export says so, and the agreement it
    promises holds; a float32 run's says nothing of it."""
    from cnnspec import load_run, train
    from cnnspec.exporters.onnx_graph import AGREEMENT

    runs = {dtype: train(tiny_shapes_spec, run_dir=tmp_path / dtype, curves=False,
                         progress="none", dtype=dtype).path for dtype in ("float32", "float64")}
    out = tmp_path / "tiny.onnx"
    assert main(["export", str(runs["float64"]), "--format", "onnx", "-o", str(out)]) == 0
    assert ("note: the run trained in float64; the ONNX model holds its weights rounded to "
            f"float32 and computes in float32: expect its outputs within about {AGREEMENT:g} "
            "of the run's") in capsys.readouterr().err
    loaded = load_run(runs["float64"])
    x = inputs(loaded.spec, 4, "float64")
    ours = loaded.model.forward(x)
    assert ours.dtype == np.float64
    theirs = _session(onnx.load(str(out))).run(None, {INPUT: x.astype(np.float32)})[0]
    scale = max(1.0, float(np.abs(ours).max()))
    np.testing.assert_allclose(theirs, ours, rtol=AGREEMENT, atol=AGREEMENT * scale)
    assert main(["export", str(runs["float32"]), "--format", "onnx", "-o", str(out),
                 "--force"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_runs_model_with_its_preprocessing_gives_what_predict_gives(tmp_path,
                                                                     tiny_shapes_spec, capsys):
    """The network was trained on standardized images: the export says so, and its metadata
    carries the numbers that make onnxruntime's answer on raw images predict's."""
    import json

    from cnnspec import load_run, train
    from cnnspec.exporters.onnx_graph import PREPROCESS_KEY
    from cnnspec.training.run import softmax

    run = train(tiny_shapes_spec, run_dir=tmp_path / "run", curves=False, progress="none").path
    out = tmp_path / "tiny.onnx"
    assert main(["export", str(run), "--format", "onnx", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "its input: images x in [0, 1] preprocessed as the run trained on them " \
           "(standardize): (x - mean) / std per channel" in said and PREPROCESS_KEY in said
    proto = onnx.load(str(out))
    record = json.loads({p.key: p.value for p in proto.metadata_props}[PREPROCESS_KEY])
    assert record == json.loads((run / "preprocess.json").read_text())
    assert "standardize" in proto.graph.doc_string
    loaded = load_run(run)
    images = np.random.default_rng(4).uniform(0, 1, (5, *loaded.spec.input_shape))
    mean = np.float32(record["mean"]).reshape(-1, 1, 1)
    std = np.float32(record["std"]).reshape(-1, 1, 1)
    scores = _session(proto).run(None, {INPUT: ((images - mean) / std).astype(np.float32)})[0]
    np.testing.assert_allclose(softmax(scores), loaded.predict(images), atol=1e-5)


def test_a_spec_export_says_its_input_is_preprocessed_in_training(tmp_path, capsys):
    out = tmp_path / "digits.onnx"
    assert main(["export", str(SPECS[0].parent / "digits.cnn"), "--format", "onnx",
                 "-o", str(out)]) == 0
    assert "its input: images in [0, 1] after the spec's `preprocess standardize`, whose " \
           "statistics training fits (a run's export carries them)" in capsys.readouterr().out
    assert not onnx.load(str(out)).metadata_props  # no statistics to carry


def test_the_command_writes_a_checked_model(tmp_path, capsys):
    out = tmp_path / "digits.onnx"
    assert main(["export", str(SPECS[0].parent / "digits.cnn"), "--format", "onnx",
                 "-o", str(out)]) == 0
    assert f"opset {OPSET}" in capsys.readouterr().out
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)


def test_an_existing_model_is_kept_unless_forced(tmp_path, capsys):
    out = tmp_path / "digits.onnx"
    out.write_bytes(b"kept")
    argv = ["export", str(SPECS[0].parent / "digits.cnn"), "--format", "onnx", "-o", str(out)]
    assert main(argv) == 2  # as import -o's refusal: a mistake in what was asked
    assert (f"error: {out} exists\nhint: choose another name, or overwrite it with --force\n"
            in capsys.readouterr().err)
    assert out.read_bytes() == b"kept"
    assert main(argv + ["--force"]) == 0
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)


def test_without_onnx_the_command_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    out = tmp_path / "m.onnx"
    assert main(["export", str(SPECS[0]), "--format", "onnx", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs the onnx package" in err and "pip install 'cnnspec[onnx]'" in err
    assert not out.exists()


def test_a_missing_source_is_explained(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["export", str(tmp_path / "nothing.cnn"), "--format", "onnx",
              "-o", str(tmp_path / "m.onnx")])
    assert exited.value.code == 2
    assert "no such file" in capsys.readouterr().err
