"""A model that switches between a split and a whole batch frees the caches of every layer of
the set that will not run, the fused plan's stand-ins (a ReLU run in place, a ReLU fused
with a max pool) included: check's memory estimate counts one set only. An evaluation frees
what its batches left on the layers."""
import tracemalloc

import numpy as np
import pytest

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine.layers import InPlaceReLU, MaxPoolReLU
from cnnspec.engine.optim import make_optimizer
from cnnspec.lang import parse
from cnnspec.training.scoring import EVAL_BATCH, score

NET = """model m
input 1x8x8
c1: conv 4 3x3 pad same
bn1: batchnorm
r1: relu
p1: maxpool 2x2
c2: conv 4 3x3 pad same
r2: relu
p2: maxpool 3x3 stride 1
f: flatten
fc: dense 10
r3: relu
out: dense 10
"""


def _kept_caches(model):
    return sorted(node.name for plan in (model._plain, model._fused) for node in plan
                  if node.layer.cache is not None)


def test_switching_frees_the_fused_layers_caches_too():
    model = compile_spec(check(parse(NET)), seed=0)
    model.threads, model.parts_in = 2, "threads"  # the replicas' caches are this process's
    model.eval()
    stand_ins = {type(node.layer) for node in model._fused}
    assert {InPlaceReLU, MaxPoolReLU} <= stand_ins  # the case this test is about
    rng = np.random.default_rng(0)
    small, full = (rng.standard_normal((n, 1, 8, 8)) for n in (3, 64))
    model.forward(small)  # whole, on the model's own layers (no backward frees them)
    model.forward(full)
    assert model._split
    assert _kept_caches(model) == []
    model.forward(small)
    assert not model._split
    assert [_kept_caches(replica) for replica in model._parallel.replicas] == [[], []]


BATCH_NORMS = """model bn
input 8x16x16
c1: conv 16 3x3 pad same
b1: batchnorm relu
c2: conv 16 3x3 pad same
b2: batchnorm relu
c3: conv 16 3x3 pad same
b3: batchnorm relu
pool: global_avgpool
fc: dense 4
train {
  data npz(path="unused.npz")
  batch 16
}
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_a_training_step_after_validation_stays_within_the_estimate(threads):
    """An epoch's validation runs batches of EVAL_BATCH (256) in eval mode, which no backward
    pass follows; their caches (and batch norm's centred input) stayed on the layers through
    the next training step: batch 16 then peaked at 1.6-1.8 times check's estimate (0.35-0.52
    times with them freed)."""
    checked = check(parse(BATCH_NORMS))
    training = checked.ir["training"]
    rng = np.random.default_rng(0)

    def step(model, optimizer):
        x = rng.standard_normal((16, 8, 16, 16)).astype(np.float32)
        _, dout = model.loss(model.forward(x), rng.integers(0, 4, 16))
        model.backward(dout)
        optimizer.step(model.params(), model.grads(), training["lr"])

    step(compile_spec(checked, seed=0), make_optimizer(training["optimizer"]))  # imports
    x_val = rng.standard_normal((2 * EVAL_BATCH, 8, 16, 16)).astype(np.float32)
    y_val = rng.integers(0, 4, 2 * EVAL_BATCH)
    tracemalloc.start()
    try:
        model = compile_spec(checked, seed=0)
        # tracemalloc sees this process's arrays only: the parts' are the same in threads
        model.threads, model.parts_in = threads, "threads"
        optimizer = make_optimizer(training["optimizer"], training["weight_decay"])
        step(model, optimizer)
        score(model, x_val, y_val)
        tracemalloc.reset_peak()
        step(model, optimizer)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= checked.step_memory.total


THIN = """model thin
input 1x28x28
c1: conv 4 3x3 pad same
f: flatten
out: dense 10
train {
  data shapes(size=28)
}
"""


def _thin_model_after_a_step():
    """A model of one thin convolution (C*kh*kw = 9 rows: it keeps its batch's im2col matrix
    for the weight gradient) after a training step, run in this process; the batch's images
    and the step's weight gradient."""
    model = compile_spec(check(parse(THIN)), seed=0)
    model.threads = 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    _, dout = model.loss(model.forward(x), rng.integers(0, 10, 32))
    model.backward(dout)
    assert "kept_cols" in model._by_name["c1"].layer.work  # the case this test is about
    return model, x, dout, model.grads()["c1.weight"].copy()


def test_switching_to_evaluation_frees_what_only_the_backward_pass_needs():
    """A trained thin convolution kept its whole batch's columns (and the step's caches)
    through evaluation and prediction: 0.9 MB here, of a batch of 32 28x28 images."""
    tracemalloc.start()  # before the step: what it allocates is traced when freed
    try:
        model, _, _, _ = _thin_model_after_a_step()
        kept = model._by_name["c1"].layer.work["kept_cols"].nbytes
        before = tracemalloc.get_traced_memory()[0]
        model.eval()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert before - after >= kept
    assert _kept_caches(model) == [] and "kept_cols" not in model._by_name["c1"].layer.work


def test_an_evaluation_pass_keeps_no_columns_and_its_gradient_is_the_same():
    """An evaluation's forward pass kept columns for a weight gradient no evaluation asks
    for; a backward pass after it, where one comes (the lab's), builds them again."""
    model, x, dout, trained_dw = _thin_model_after_a_step()
    model.eval()
    model.forward(x)
    assert "kept_cols" not in model._by_name["c1"].layer.work
    model.backward(dout)
    np.testing.assert_allclose(model.grads()["c1.weight"], trained_dw, rtol=1e-5, atol=1e-6)


# A grouped conv keeps its whole batch's im2col matrix for the weight gradient, a transposed
# conv its input laid out for it (G, C/G, N*H*W): kh*kw times and once the input's values.
WEIGHT_GRADIENT_INPUTS = {"grouped": "c1: conv 8 3x3 pad same groups 4",
                          "transposed": "c1: conv_transpose 8 3x3 stride 2"}


def _one_conv_model(layer: str):
    """A model of the conv ``layer`` (named c1) and a dense layer, run in this process, and
    the bytes of the conv's output for a batch of 32 (the dense layer's cache holds it)."""
    text = (f"model one\ninput 8x16x16\n{layer}\nf: flatten\nout: dense 10\n"
            "train {\n  data npz(path=\"unused.npz\")\n}\n")
    checked = check(parse(text))
    model = compile_spec(checked, seed=0)
    model.threads = 1
    conv_out = next(info.output_shape for info in checked.layers if info.name == "c1")
    return model, 32 * int(np.prod(conv_out)) * 4


@pytest.mark.parametrize("kind", sorted(WEIGHT_GRADIENT_INPUTS))
def test_an_evaluation_pass_of_a_grouped_or_transposed_conv_keeps_no_training_cache(kind):
    """Grouped and transposed convs kept their weight gradient's columns after an evaluation
    pass (freed only when the model left evaluation mode), through the layers after them and
    the next batch's pass: 2.4 MB and 0.26 MB here, for a batch of 32 of 8x16x16. The other
    convs keep none (test_an_evaluation_pass_keeps_no_columns_and_its_gradient_is_the_same)."""
    model, conv_out = _one_conv_model(WEIGHT_GRADIENT_INPUTS[kind])
    model.eval()
    x = np.random.default_rng(0).standard_normal((32, 8, 16, 16)).astype(np.float32)
    model.forward(x)  # imports, plans
    tracemalloc.start()
    try:
        out = model.forward(x)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # what stays: the output, and the conv's output, which the dense layer's cache holds
    assert held < out.nbytes + conv_out + x.nbytes // 2, (held, out.nbytes + conv_out)


@pytest.mark.parametrize("kind", sorted(WEIGHT_GRADIENT_INPUTS))
def test_a_backward_pass_after_an_evaluation_pass_gives_the_training_gradient(kind):
    """The lab differentiates in evaluation mode: the weight gradient is then made from the
    input the evaluation pass kept, the same as a training pass's."""
    model, _ = _one_conv_model(WEIGHT_GRADIENT_INPUTS[kind])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8, 16, 16)).astype(np.float32)
    _, dout = model.loss(model.forward(x), rng.integers(0, 10, 4))
    model.backward(dout)
    trained = model.grads()["c1.weight"].copy()
    model.eval()
    model.forward(x)
    model.backward(dout)
    np.testing.assert_array_equal(model.grads()["c1.weight"], trained)
