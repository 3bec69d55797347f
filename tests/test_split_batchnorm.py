"""Batch norm in a batch split across two threads: each part's statistics summed with the
other's (synchronised batch norm), so that a split training step equals the one-thread step
up to rounding, running statistics included; and a part that fails releases the other."""
import threading

import numpy as np
import pytest

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine import footprint, norm
from cnnspec.engine.layers import BatchNormReLU
from cnnspec.engine.parallel import PartSums
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


@pytest.mark.parametrize("block_values", [None, 1])  # the engine's blocks, one channel each
def test_a_split_training_step_equals_one_thread(block_values, monkeypatch):
    """bn1 runs with its ReLU fused, bn2 without; with blocks of one channel the parts'
    threads meet between passes over several blocks."""
    if block_values is not None:
        monkeypatch.setattr(footprint, "NORM_BLOCK_VALUES", block_values)
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


def _two_parts(function, halves):
    """``function(half, part_sums)`` run for each half in its own thread with the parts'
    :class:`PartSums`: the results, in part order."""
    sums = PartSums(len(halves))
    results = [None] * len(halves)

    def run(part):
        results[part] = function(halves[part], sums.member(part))

    threads = [threading.Thread(target=run, args=(part,)) for part in range(len(halves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("relu", [False, True])
def test_one_meeting_keeps_float32_statistics_exact_where_parts_differ(relu):
    """Parts whose means differ by far more than their spread, around a mean 300 times the
    spread (the sum of squares about the batch's mean is mostly the parts' spread between
    them): the split statistics, output and gradients are the one-piece pass's to float32's
    precision, against the float64 truth."""
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((24, 3, 5, 5)) + 300.0
    x64[12:] += 7.0  # the second part's mean 7 spreads above the first's
    dout64 = rng.standard_normal(x64.shape)
    gamma64, beta64 = rng.standard_normal(3), rng.standard_normal(3)

    def forward_backward(x, dout, gamma, beta, parts=None):
        mean, var = np.zeros(3, x.dtype), np.ones(3, x.dtype)
        out, cache = norm.batchnorm_forward(x, gamma, beta, mean, var, True, 0.1, 1e-5,
                                            parts=parts, relu=relu)
        return (out, *norm.batchnorm_backward(dout, cache), mean, var, cache[1])

    truth = forward_backward(x64, dout64, gamma64, beta64)
    x, dout = x64.astype(np.float32), dout64.astype(np.float32)
    gamma, beta = gamma64.astype(np.float32), beta64.astype(np.float32)
    halves = [(x[:12], dout[:12]), (x[12:], dout[12:])]
    parts = _two_parts(lambda half, sums: forward_backward(*half, gamma, beta, sums), halves)
    out = np.concatenate([parts[0][0], parts[1][0]])
    dx = np.concatenate([parts[0][1], parts[1][1]])
    dgamma, dbeta = parts[0][2] + parts[1][2], parts[0][3] + parts[1][3]
    one_piece = forward_backward(x, dout, gamma, beta)
    for name, split, single, exact in [("out", out, one_piece[0], truth[0]),
                                       ("dx", dx, one_piece[1], truth[1]),
                                       ("dgamma", dgamma, one_piece[2], truth[2]),
                                       ("dbeta", dbeta, one_piece[3], truth[3]),
                                       ("running mean", parts[0][4], one_piece[4], truth[4]),
                                       ("running var", parts[0][5], one_piece[5], truth[5])]:
        scale = np.abs(exact).max()
        # the one-piece float32 pass's own error, with room: the split pass is no worse
        bound = max(4 * np.abs(single - exact).max(), 1e-6 * scale)
        assert np.abs(split - exact).max() <= bound, name
    np.testing.assert_array_equal(parts[0][6], parts[1][6])  # every part's 1 / std, bit for bit
