"""LSUV (Mishkin & Matas 2016): after it, every conv/dense layer's output has unit variance on
the batch, within the tolerance — on a small net with biases and dropout, and on the 30-layer
plain net where an orthogonal start alone lets the signal drift."""
from pathlib import Path

import numpy as np
import pytest

from cnnspec.compiler import compile_spec
from cnnspec.errors import RunError
from cnnspec.kinds import is_weighted
from cnnspec.lab.batch import make_batch
from cnnspec.lab.lsuv import lsuv, lsuv_layers
from cnnspec.lab.stats import std64
from cnnspec.lab.variants import load_variant

PLAIN30 = Path(__file__).resolve().parent.parent / "specs" / "plain30.cnn"

SMALL = """\
model small
input 1x8x8
default weight lsuv, bias normal(0, 0.3)
conv 8 3x3 pad same relu
conv 8 3x3 stride 2 relu
dropout 0.3
flatten
dense 16 relu
dense 10
"""

MIXED = """\
model mixed
input 1x8x8
a: conv 8 3x3 pad same weight he_normal relu
b: conv 8 3x3 pad same weight lsuv relu
flatten
c: dense 10 weight glorot_uniform
"""


def _model(path, init=None, seed=0):
    return compile_spec(load_variant(path, init).checked, seed=seed)


def _output_stds(model, x) -> dict[str, float]:
    """Each conv/dense layer's output std on ``x``, in eval mode."""
    model.eval()
    model.record = True
    model.forward(x)
    model.record = False
    return {info.name: std64(model.activations[info.name])
            for info in model.checked.layers if is_weighted(info.kind)}


def _write(tmp_path, text, name):
    path = tmp_path / f"{name}.cnn"
    path.write_text(text)
    return path


def test_plain30_gets_unit_variance_in_every_layer():
    model = _model(PLAIN30, "lsuv")
    batch = make_batch(model.checked, "data", 4, seed=0)
    steps = lsuv(model, batch.x)
    assert model.training  # the mode is the caller's business
    after = _output_stds(model, batch.x)
    # Every conv layer is lsuv; the head names its own init (lecun_normal) and keeps it.
    assert [s.layer for s in steps] == list(after)[:30] and list(after)[30] == "head"
    convs = {name: after[name] for name in list(after)[:30]}
    # The orthogonal start alone is off by far more than the tolerance somewhere ...
    assert max(abs(step.variance_before - 1) for step in steps) > 0.3
    # ... LSUV brings every layer's output to std 1 +- 0.1 (variance 1 +- 0.1).
    for name, std in convs.items():
        assert abs(std - 1) < 0.1, (name, std)
    assert all(step.converged for step in steps)


def test_plain30_on_gaussian_input_with_a_tight_tolerance():
    model = _model(PLAIN30, "lsuv")
    x = make_batch(model.checked, "gaussian", 2, seed=3).x
    lsuv(model, x, tol=0.01)
    stds = list(_output_stds(model, x).values())[:30]
    assert all(abs(s * s - 1) < 0.01 for s in stds)


def test_biases_and_dropout_still_converge(tmp_path):
    model = _model(_write(tmp_path, SMALL, "small"))
    x = np.random.default_rng(0).standard_normal((32, 1, 8, 8)).astype(np.float32)
    steps = lsuv(model, x, tol=1e-3)
    assert len(steps) == 4
    # With biases that differ per unit the output std is not proportional to the weights: one
    # rescaling is not exact.
    assert max(step.iterations for step in steps) > 1
    stds = _output_stds(model, x)
    assert all(abs(std * std - 1) < 1e-3 for std in stds.values()), stds


def test_only_lsuv_layers_are_rescaled(tmp_path):
    model = _model(_write(tmp_path, MIXED, "mixed"))
    assert lsuv_layers(model) == ["b"]
    x = np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)
    params = model.params()
    untouched = {k: params[k].copy() for k in ("a.weight", "c.weight")}
    lsuv(model, x)
    for key, value in untouched.items():
        assert np.array_equal(params[key], value), key
    assert abs(_output_stds(model, x)["b"] - 1) < 0.1


def test_each_layer_keeps_its_own_tolerance(tmp_path):
    text = MIXED.replace("weight he_normal", "weight lsuv(tol=0.001)")
    model = _model(_write(tmp_path, text, "own"))
    x = np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)
    steps = lsuv(model, x)
    assert [(s.layer, s.tol) for s in steps] == [("a", 0.001), ("b", 0.1)]
    assert all(s.converged for s in steps)


def test_max_iter_bounds_the_rescalings(tmp_path):
    model = _model(_write(tmp_path, SMALL, "small"))
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    weights = {k: v.copy() for k, v in model.params().items()}
    steps = lsuv(model, x, max_iter=0)
    assert all(step.iterations == 0 for step in steps)
    assert all(np.array_equal(model.params()[k], v) for k, v in weights.items())


def test_a_tolerance_below_rounding_stops_where_rescaling_stops_helping(tmp_path):
    """`lsuv(tol=1e-30, max_iter=2147483647)` spun through 2^31 rescalings of a layer that
    float32 keeps 1e-7 or so from unit variance: it stops once a rescaling gains nothing."""
    model = _model(_write(tmp_path, SMALL, "small"))
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    steps = lsuv(model, x, tol=1e-30, max_iter=2**31 - 1)
    assert all(1 <= step.iterations < 100 for step in steps), steps
    stds = _output_stds(model, x)
    assert all(abs(std * std - 1) < 1e-5 for std in stds.values()), stds


def test_the_rescaling_that_stopped_helping_is_undone(tmp_path):
    """The rescaling that brought the variance no nearer 1 was kept (and counted): the layer
    ended worse than the rescalings before it had left it. Undone, it ends as after those
    alone, each of which helped (the first layer: its input is the batch in every run)."""
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    path = _write(tmp_path, SMALL, "small")
    stopped, counted, fewer = _model(path), _model(path), _model(path)
    (step,) = lsuv(stopped, x, tol=1e-30, max_iter=1000, layers=["conv1"])
    assert 2 <= step.iterations < 1000  # the third stop
    (again,) = lsuv(counted, x, tol=1e-30, max_iter=step.iterations, layers=["conv1"])
    assert again.variance_after == step.variance_after
    assert np.array_equal(stopped.params()["conv1.weight"], counted.params()["conv1.weight"])
    (short,) = lsuv(fewer, x, tol=1e-30, max_iter=step.iterations - 1, layers=["conv1"])
    assert abs(step.variance_after - 1) < abs(short.variance_after - 1)


def test_a_dead_signal_is_a_run_error(tmp_path):
    model = _model(_write(tmp_path, SMALL.replace("bias normal(0, 0.3)", "bias zeros"), "dead"))
    with pytest.raises(RunError, match="std 0"):
        lsuv(model, np.zeros((4, 1, 8, 8), dtype=np.float32))


def test_only_conv_and_dense_layers_can_be_rescaled(tmp_path):
    model = _model(_write(tmp_path, MIXED, "mixed"))
    with pytest.raises(ValueError, match="a_relu"):
        lsuv(model, np.ones((2, 1, 8, 8), dtype=np.float32), layers=["a_relu"])


def test_init_report_measures_after_lsuv():
    from cnnspec.lab.report import format_table, init_report

    report = init_report(PLAIN30, ["lsuv"], input_kind="gaussian", batch_size=2)
    variant = report.variants[0]
    assert len(variant.lsuv) == 30 and all(step.converged for step in variant.lsuv)
    convs = [s for s in variant.layers if s.kind == "conv"]
    assert all(abs(s.act_std - 1) < 0.1 for s in convs)
    assert "lsuv: 30 layers measured on this batch, 30 rescaled" in format_table(report)


def test_the_layers_rescaled_are_those_whose_init_the_catalogue_says_needs_data(tmp_path,
                                                                               monkeypatch):
    """The catalogue is the one place for an init's facts: the layers LSUV rescales are read
    from its entries' ``needs_data`` (the ``data`` family), not from the name ``lsuv``."""
    from dataclasses import replace

    from cnnspec.init import catalogue
    from cnnspec.lab.lsuv import uses_lsuv

    assert [init.name for init in catalogue.INITS if init.needs_data] == ["lsuv"]
    assert catalogue.needs_data({"name": "lsuv", "tol": 0.1, "max_iter": 10})
    assert not catalogue.needs_data(None) and not catalogue.needs_data({"name": "he_normal"})
    model = _model(_write(tmp_path, MIXED, "mixed"))
    monkeypatch.setitem(catalogue.BY_NAME, "glorot_uniform",
                        replace(catalogue.BY_NAME["glorot_uniform"], family="data"))
    assert lsuv_layers(model) == ["b", "c"]
    monkeypatch.setitem(catalogue.BY_NAME, "lsuv",
                        replace(catalogue.BY_NAME["lsuv"], family="matrix"))
    assert lsuv_layers(model) == ["c"]
    assert uses_lsuv({"layers": [{"name": "c", "weight_init": {"name": "glorot_uniform"}}]})


def test_check_leaves_the_scale_of_weights_the_catalogue_says_data_sets_to_the_data(
        monkeypatch):
    """check's signal estimate judges no scale of a weight that a batch of data sets again
    (it cannot know it before the data): it reads which those are from the catalogue's
    ``needs_data``, not from the name ``lsuv``. A tiny normal weight is warned of as it is
    drawn, and not once the catalogue says data sets it."""
    from dataclasses import replace

    from cnnspec.check import check
    from cnnspec.init import catalogue
    from cnnspec.lang import parse

    spec = ("input 1x8x8\n" + "".join(f"c{i}: conv 8 3x3 pad same weight normal(0, 0.001) tanh\n"
                                      for i in range(6)) + "flatten\nfc: dense 3\n")

    def scale_warnings():
        return [w for w in check(parse(spec), for_training=False).warnings
                if w.lint == "signal-scale"]

    assert scale_warnings()
    monkeypatch.setitem(catalogue.BY_NAME, "normal",
                        replace(catalogue.BY_NAME["normal"], family="data"))
    assert not scale_warnings()


def test_the_report_counts_a_layer_that_starts_within_tolerance_as_measured_not_rescaled():
    from cnnspec.lab.lsuv import LsuvStep
    from cnnspec.lab.report import describe_lsuv

    steps = [LsuvStep("a", 0.25, 1.0, iterations=2, tol=0.1),
             LsuvStep("b", 0.95, 0.95, iterations=0, tol=0.1)]
    assert describe_lsuv(steps).startswith(
        "lsuv: 2 layers measured on this batch, 1 rescaled (2 rescalings); output variance "
        "0.25..0.95 after the orthogonal start, 0.95..1 after")
