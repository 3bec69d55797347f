"""Batch norm in a batch split across two threads: each part's statistics summed with the
other's (synchronised batch norm), so that a split training step equals the one-thread step
up to rounding, running statistics included; and a part that fails releases the other."""
import numpy as np
import pytest

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine import footprint
from cnnspec.engine.layers import BatchNormReLU
from cnnspec.lang import parse

RESNETISH = """model r
input 1x8x8
c1: conv 4 3x3 pad same
bn1: batchnorm
r1: relu
c2: conv 4 3x3 pad same
bn2: batchnorm
sum: add(r1, bn2)
r2: relu
g: global_avgpool
bn3: batchnorm
fc: dense 10
"""


def _model(text=RESNETISH):
    return compile_spec(check(parse(text)), seed=0, dtype="float64")


def _steps(model, x, y, steps=2):
    """Two training steps (forward, loss, backward, a plain SGD update); the last step's
    output, input gradient and parameter gradients."""
    for _ in range(steps):
        out = model.forward(x)
        _, dout = model.loss(out, y)
        dx = model.backward(dout)
        grads = model.grads()
        params = model.params()
        for name, grad in grads.items():
            params[name] -= 0.1 * grad
    return out, dx, grads


@pytest.mark.parametrize("block_bytes", [None, 1])  # the machine's blocks, one channel each
def test_a_split_training_step_equals_one_thread(block_bytes, monkeypatch):
    """bn1 runs with its ReLU fused, bn2 without; with blocks of one channel the parts'
    threads meet between passes over several blocks."""
    if block_bytes is not None:
        monkeypatch.setattr(footprint, "chunk_bytes", lambda: block_bytes)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((21, 1, 8, 8)), rng.integers(0, 10, 21)  # parts of 11 and 10
    single, split = _model(), _model()
    single.threads = 1
    one = _steps(single, x, y)
    assert not single._split
    two = _steps(split, x, y)
    assert split._split
    replica = split._data_parallel().replicas[0]
    assert [node.name for node in replica._fused if isinstance(node.layer, BatchNormReLU)] \
        == ["r1"]
    for ours, theirs in zip(two[:2], one[:2]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for name, grad in one[2].items():
        np.testing.assert_allclose(two[2][name], grad, rtol=1e-10, atol=1e-12, err_msg=name)
    for name, value in single.state_dict().items():  # weights and running statistics
        np.testing.assert_allclose(split.state_dict()[name], value, rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_dropout_still_keeps_training_in_one_piece():
    model = _model(RESNETISH.replace("fc: dense 10", "d: dropout 0.5\nfc: dense 10"))
    rng = np.random.default_rng(0)
    model.forward(rng.standard_normal((32, 1, 8, 8)))
    assert not model._split


@pytest.mark.parametrize("parts_in", ["threads", "processes"])
def test_a_failing_part_releases_the_other_and_the_next_step_runs(parts_in, monkeypatch):
    model = _model()
    model.parts_in = parts_in
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 1, 8, 8)), rng.integers(0, 10, 32)
    # set before the step, so that a worker process is forked with it
    second = model._data_parallel().replicas[1]
    layer = next(node.layer for node in second.nodes if node.name == "c2")
    original = layer.forward

    def fail(xs, training):
        raise RuntimeError("a part failed")

    monkeypatch.setattr(layer, "forward", fail)
    with pytest.raises(RuntimeError, match="a part failed"):
        model.forward(x)  # the first part waits at bn2 for a part that never comes: released
    if parts_in == "processes":
        assert model._parallel._workers == []  # stopped (the next step forks new ones)
    monkeypatch.setattr(layer, "forward", original)
    reference = _model()
    reference.threads = 1
    out, _, _ = _steps(model, x, y, steps=1)
    assert model._split
    np.testing.assert_allclose(out, _steps(reference, x, y, steps=1)[0], rtol=1e-10)
