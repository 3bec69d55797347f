"""Every op's backward against central finite differences in float64 (relative error < 1e-6).

Each check differentiates the scalar ``sum(out * r)`` for a fixed random ``r``, so every element
of the output contributes with a different weight.
"""
import numpy as np
import pytest
from gradcheck import numeric_grad, rel_error

from cnnspec.engine import activations as act
from cnnspec.engine import conv, conv_tuned, dense, dropout, losses, merge, norm, pool
from cnnspec.engine.calibrate import Thresholds

TOL = 1e-6


def _rng(seed=0):
    return np.random.default_rng(seed)


def _check(forward, backward, inputs, seed=1):
    """Compare ``backward(r, cache)`` with finite differences of ``sum(forward(*inputs) * r)``.

    ``backward`` returns one gradient per input (a list or tuple, in ``inputs`` order).
    """
    out, cache = forward(*inputs)
    r = _rng(seed).standard_normal(out.shape)
    grads = backward(r.copy(), cache)
    for x, g in zip(inputs, grads):
        numeric = numeric_grad(lambda: float((forward(*inputs)[0] * r).sum()), x)
        assert g.shape == x.shape
        assert rel_error(g, numeric) < TOL


CONV_CASES = [
    # (x shape, w shape, stride, pads, dilation)
    ((2, 3, 7, 7), (4, 3, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((2, 2, 8, 7), (3, 2, 3, 2), (2, 1), (1, 1, 0, 2), (1, 1)),
    ((1, 2, 9, 9), (2, 2, 3, 3), (2, 2), (1, 2, 2, 1), (2, 2)),
    ((2, 1, 6, 6), (2, 1, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    ((2, 2, 5, 6), (3, 2, 1, 1), (3, 2), (0, 0, 0, 0), (1, 1)),
    ((2, 2, 7, 8), (3, 2, 3, 2), (1, 1), (2, 0, 1, 3), (2, 3)),
    # stride 1 but padded wider than the kernel reaches: dx by col2im, not as a convolution
    ((2, 2, 4, 5), (3, 2, 1, 1), (1, 1), (1, 0, 0, 1), (1, 1)),
    # stride 1, more filters than input channels: dx by col2im folded by blocks, dilated, padded
    ((2, 1, 7, 8), (4, 1, 3, 2), (1, 1), (1, 0, 0, 1), (2, 1)),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pads, dilation", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("module", [conv, conv_tuned], ids=["reference", "tuned"])
def test_conv2d(x_shape, w_shape, stride, pads, dilation, bias, module):
    rng = _rng()
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None

    def forward(x, w, *b):
        return module.conv2d_forward(x, w, b[0] if b else None, stride, pads, dilation)

    def backward(dout, cache):
        dx, dw, db = module.conv2d_backward(dout, cache)
        return (dx, dw, db) if bias else (dx, dw)

    _check(forward, backward, [x, w, b] if bias else [x, w])


@pytest.mark.parametrize("stride", [(1, 1), (2, 2)])
@pytest.mark.parametrize("keep", [False, True])
def test_conv2d_in_batch_chunks(monkeypatch, stride, keep):
    """A batch whose im2col matrix spans several chunks (see conv_tuned._chunk_columns), the
    last one
    narrower: the chunks' weight gradients add up and each chunk's outputs land in its own
    images (the input gradient too, when it is a convolution itself at stride 1). With a
    ``work`` dict the small matrix is kept from the forward pass for the backward pass, and
    the chunks' buffers are reused. (Without it, the stride-1 forward builds wide columns.)"""
    rng = _rng()
    x, w = rng.standard_normal((5, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    work = {} if keep else None

    def forward(x, w, b):
        return conv_tuned.conv2d_forward(x, w, b, stride, (1, 1, 1, 1), work=work)

    pixels = forward(x, w, b)[0][0, 0].size
    chunks_of_two = Thresholds(chunk_bytes=2 ** 30, chunk_columns=2 * pixels)
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: chunks_of_two)
    _, cache = forward(x, w, b)
    chunks = conv_tuned._chunk_columns(cache[1], cache[4], None)
    assert [stop - start for start, stop, _ in chunks] == [2, 2, 1]
    assert (cache[5] is not None) == keep
    _check(forward, conv_tuned.conv2d_backward, [x, w, b])


POOL_CASES = [
    # (x shape, kernel, stride, pads): plain, overlapping, padded, uneven
    ((2, 3, 6, 6), (2, 2), (2, 2), (0, 0, 0, 0)),
    ((2, 2, 7, 7), (3, 3), (2, 2), (0, 0, 0, 0)),
    ((1, 2, 6, 5), (3, 3), (1, 1), (1, 1, 1, 1)),
    ((2, 2, 7, 6), (3, 2), (2, 1), (1, 0, 0, 1)),
]


@pytest.mark.parametrize("x_shape, kernel, stride, pads", POOL_CASES)
def test_maxpool(x_shape, kernel, stride, pads):
    # A permutation keeps every value distinct: no ties, no kinks near the finite differences.
    x = _rng().permutation(np.prod(x_shape)).reshape(x_shape) * 0.1
    _check(lambda x: pool.maxpool_forward(x, kernel, stride, pads),
           lambda d, c: [pool.maxpool_backward(d, c)], [x])


@pytest.mark.parametrize("x_shape, kernel, stride, pads", POOL_CASES)
def test_avgpool(x_shape, kernel, stride, pads):
    x = _rng().standard_normal(x_shape)
    _check(lambda x: pool.avgpool_forward(x, kernel, stride, pads),
           lambda d, c: [pool.avgpool_backward(d, c)], [x])


def test_global_avgpool():
    x = _rng().standard_normal((2, 3, 4, 5))
    _check(pool.global_avgpool_forward, lambda d, c: [pool.global_avgpool_backward(d, c)], [x])


@pytest.mark.parametrize("bias", [True, False])
def test_dense(bias):
    rng = _rng()
    x, w = rng.standard_normal((4, 6)), rng.standard_normal((3, 6))
    b = rng.standard_normal(3) if bias else None

    def backward(dout, cache):
        dx, dw, db = dense.dense_backward(dout, cache)
        return (dx, dw, db) if bias else (dx, dw)

    _check(lambda x, w, *b: dense.dense_forward(x, w, b[0] if b else None), backward,
           [x, w, b] if bias else [x, w])


def test_flatten():
    x = _rng().standard_normal((2, 3, 2, 2))
    _check(dense.flatten_forward, lambda d, c: [dense.flatten_backward(d, c)], [x])


ACTIVATIONS = {
    "relu": (act.relu_forward, act.relu_backward),
    "leaky_relu": (lambda x: act.leaky_relu_forward(x, 0.2), act.leaky_relu_backward),
    "elu": (lambda x: act.elu_forward(x, 0.7), act.elu_backward),
    "tanh": (act.tanh_forward, act.tanh_backward),
    "sigmoid": (act.sigmoid_forward, act.sigmoid_backward),
    "softmax": (act.softmax_forward, act.softmax_backward),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 2, 3)])
def test_activation(name, shape):
    forward, backward = ACTIVATIONS[name]
    x = _rng().standard_normal(shape) * 2
    _check(forward, lambda d, c: [backward(d, c)], [x])


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(shape, training):
    rng = _rng()
    x = rng.standard_normal(shape) * 3 + 1
    c = shape[1]
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    mean, var = rng.standard_normal(c), rng.random(c) + 0.5

    def forward(x, gamma, beta):
        # Fresh copies: the running statistics are updated in place in training mode.
        return norm.batchnorm_forward(x, gamma, beta, mean.copy(), var.copy(), training)

    _check(forward, lambda d, cache: norm.batchnorm_backward(d, cache), [x, gamma, beta])


def test_dropout_backward_uses_the_forward_mask():
    x = _rng().standard_normal((5, 7))

    def forward(x):
        return dropout.dropout_forward(x, 0.3, True, np.random.default_rng(7))

    _check(forward, lambda d, c: [dropout.dropout_backward(d, c)], [x])


def test_add_and_concat():
    rng = _rng()
    xs = [rng.standard_normal((2, 3, 2, 2)) for _ in range(3)]
    _check(merge.add_forward, merge.add_backward, xs)
    ys = [rng.standard_normal((2, c, 2, 2)) for c in (1, 3, 2)]
    _check(merge.concat_forward, merge.concat_backward, ys)


@pytest.mark.parametrize("loss", [losses.softmax_cross_entropy, losses.mse])
def test_losses(loss):
    rng = _rng()
    out, y = rng.standard_normal((5, 4)) * 3, rng.integers(0, 4, size=5)
    _, dout = loss(out, y)
    assert rel_error(dout, numeric_grad(lambda: loss(out, y)[0], out)) < TOL


# ---------------------------------------------------------------------------- whole graphs
from cnnspec.engine import layers as L
from cnnspec.engine.model import Model, Node


def _conv(rng, f, c, k, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), bias=True):
    # A conv feeding batch norm has no bias: its gradient would be zero in theory, and the
    # check would compare rounding noise.
    b = rng.standard_normal(f) * 0.1 if bias else None
    return L.Conv2d(rng.standard_normal((f, c) + k) * 0.5, b, stride, pads, dilation)


def _cnn(rng, loss="cross_entropy"):
    """Strided+padded conv, batch norm, ReLU -> overlapping padded max pool (fused when not
    recording), dilated conv, average pool, dense, softmax output."""
    nodes = [
        Node("c1", "conv", _conv(rng, 4, 2, (3, 3), (2, 1), (1, 1, 0, 1), bias=False), ["input"]),
        Node("bn", "batchnorm", L.BatchNorm(4, np.float64), ["c1"]),
        Node("r1", "relu", L.activation("relu"), ["bn"]),
        Node("p1", "maxpool", L.Pool("max", (3, 3), (1, 1), (1, 1, 1, 1)), ["r1"]),
        Node("c2", "conv", _conv(rng, 3, 4, (2, 2), dilation=(2, 2)), ["p1"]),
        Node("t", "tanh", L.activation("tanh"), ["c2"]),
        Node("p2", "avgpool", L.Pool("avg", (2, 2), (2, 2), (0, 0, 0, 0)), ["t"]),
        Node("fl", "flatten", L.Flatten(), ["p2"]),
        Node("fc", "dense", L.Dense(rng.standard_normal((5, 6)) * 0.3, rng.standard_normal(5)),
             ["fl"]),
        Node("sm", "softmax", L.activation("softmax"), ["fc"]),
    ]
    return Model(nodes, "sm", loss=loss, dtype="float64")


def _residual(rng, loss="cross_entropy"):
    """A residual DAG: a stem feeding a two-conv branch, an add and a concat (fan-out twice)."""
    same = (1, 1, 1, 1)
    nodes = [
        Node("stem", "conv", _conv(rng, 3, 2, (3, 3), pads=same), ["input"]),
        Node("r0", "relu", L.activation("leaky_relu", slope=0.1), ["stem"]),
        Node("a", "conv", _conv(rng, 3, 3, (3, 3), pads=same, bias=False), ["r0"]),
        Node("bn", "batchnorm", L.BatchNorm(3, np.float64), ["a"]),
        Node("e", "elu", L.activation("elu", alpha=1.0), ["bn"]),
        Node("b", "conv", _conv(rng, 3, 3, (3, 3), pads=same), ["e"]),
        Node("sum", "add", L.Merge("add"), ["b", "r0"]),
        Node("cat", "concat", L.Merge("concat"), ["sum", "r0", "e"]),
        Node("s", "sigmoid", L.activation("sigmoid"), ["cat"]),
        Node("gap", "global_avgpool", L.GlobalAvgPool(), ["s"]),
        Node("fc", "dense", L.Dense(rng.standard_normal((4, 9)), rng.standard_normal(4)), ["gap"]),
    ]
    return Model(nodes, "fc", loss=loss, dtype="float64")


def _check_model(model, x, y):
    def loss():
        return model.loss(model.forward(x), y)[0]

    model.loss(model.forward(x), y)
    _, dout = model.loss(model.forward(x), y)
    dx = model.backward(dout)
    grads = model.grads()
    assert set(grads) == set(model.params())
    assert rel_error(dx, numeric_grad(loss, x)) < TOL
    for name, value in model.params().items():
        assert rel_error(grads[name], numeric_grad(loss, value)) < TOL, name


@pytest.mark.parametrize("build", [_cnn, _residual])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("record", [False, True])
def test_whole_graph(build, loss, record):
    rng = _rng(3)
    model = build(rng, loss)
    model.record = record
    x = rng.standard_normal((3, 2, 9, 8))
    _check_model(model, x, np.array([0, 3, 1]))


def test_fusions_change_nothing():
    """Recording switches the ReLU/max-pool fusion off; results must be bitwise identical."""
    rng = _rng(4)
    model = _cnn(rng)
    assert [n.name for n in model._fused if isinstance(n.layer, L.MaxPoolReLU)] == ["p1"]
    _assert_plans_agree(model, rng.standard_normal((3, 2, 9, 8)), np.array([1, 2, 0]))
    assert set(model.activations) == set(model.layer_names)


def _assert_plans_agree(model, x, y):
    """A step of the fused plan and one of the plain plan (recording) give bitwise the same
    output, input gradient and parameter gradients."""
    results = []
    for record in (False, True):
        model.record = record
        out = model.forward(x)
        _, dout = model.loss(out, y)
        dx = model.backward(dout)
        results.append((out, dx, model.grads()))
    (out_a, dx_a, g_a), (out_b, dx_b, g_b) = results
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(dx_a, dx_b)
    for name in g_a:
        np.testing.assert_array_equal(g_a[name], g_b[name])


def _relu_readers(rng):
    """ReLUs after a conv, a batch norm, a batch norm that a residual sum also reads, a sum
    and a dense layer, and on the input; the output a dense layer."""
    same = (1, 1, 1, 1)
    nodes = [
        Node("r0", "relu", L.activation("relu"), ["input"]),
        Node("c1", "conv", _conv(rng, 3, 2, (3, 3), pads=same), ["r0"]),
        Node("r1", "relu", L.activation("relu"), ["c1"]),
        Node("bn0", "batchnorm", L.BatchNorm(3, np.float64), ["r1"]),
        Node("r5", "relu", L.activation("relu"), ["bn0"]),
        Node("bn", "batchnorm", L.BatchNorm(3, np.float64), ["r5"]),
        Node("r2", "relu", L.activation("relu"), ["bn"]),
        Node("c2", "conv", _conv(rng, 3, 3, (3, 3), pads=same), ["r2"]),
        Node("sum", "add", L.Merge("add"), ["c2", "bn"]),
        Node("r3", "relu", L.activation("relu"), ["sum"]),
        Node("gap", "global_avgpool", L.GlobalAvgPool(), ["r3"]),
        Node("fc", "dense", L.Dense(rng.standard_normal((5, 3)), rng.standard_normal(5)),
             ["gap"]),
        Node("r4", "relu", L.activation("relu"), ["fc"]),
        Node("out", "dense", L.Dense(rng.standard_normal((4, 5)), rng.standard_normal(4)),
             ["r4"]),
    ]
    return Model(nodes, "out", dtype="float64")


@pytest.mark.parametrize("training", [True, False])
def test_relus_in_place_change_nothing(training):
    """A ReLU overwrites its input only where it is a ``fresh_output``'s only reader (not the
    network's input, not a batch norm that a sum reads too), and runs inside a batch norm or
    a conv whose only reader it is; results are bitwise those of the plain plan (the running
    statistics too), and the input is left as it was."""
    rng = _rng(6)
    model = _relu_readers(rng)
    in_place = [n.name for n in model._fused if isinstance(n.layer, L.InPlaceReLU)]
    assert in_place == ["r3", "r4"]
    in_norm = [(n.name, n.fused, n.params_of) for n in model._fused
               if isinstance(n.layer, L.BatchNormReLU)]
    assert in_norm == [("r5", ("bn0",), "bn0")]
    in_conv = [(n.name, n.fused) for n in model._fused if isinstance(n.layer, L.ConvReLU)]
    assert in_conv == [("r1", ("c1",))]
    model.training = training
    x = rng.standard_normal((3, 2, 6, 5))
    kept = x.copy()
    before = model.state_dict()
    _assert_plans_agree(model, x, np.array([1, 2, 0]))
    np.testing.assert_array_equal(x, kept)
    after = model.state_dict()
    for name in ("bn0.running_mean", "bn0.running_var"):  # the two steps moved them alike
        assert (after[name] != before[name]).any() == training
    _assert_running_stats_agree(model, x)


def _sum_readers(rng):
    """Sums of a batch norm that nothing else reads (first), of such a sum (second, of three)
    and of a batch norm that is the third of three; the output a dense layer."""
    same = (1, 1, 1, 1)
    nodes = [
        Node("c1", "conv", _conv(rng, 3, 2, (3, 3), pads=same), ["input"]),
        Node("c2", "conv", _conv(rng, 3, 2, (3, 3), pads=same), ["input"]),
        Node("bn1", "batchnorm", L.BatchNorm(3, np.float64), ["c1"]),
        Node("s1", "add", L.Merge("add"), ["bn1", "c2"]),
        Node("bn3", "batchnorm", L.BatchNorm(3, np.float64), ["c1"]),
        Node("s2", "add", L.Merge("add"), ["c2", "s1", "bn3"]),
        Node("gap", "global_avgpool", L.GlobalAvgPool(), ["s2"]),
        Node("out", "dense", L.Dense(rng.standard_normal((4, 3)), rng.standard_normal(4)),
             ["gap"]),
    ]
    return Model(nodes, "out", dtype="float64")


@pytest.mark.parametrize("training", [True, False])
def test_sums_in_place_change_nothing(training):
    """A sum writes over its first or second input where that is a ``fresh_output`` only it
    reads (not over a third, which is added last); results are bitwise those of the plain
    plan, and the input is left as it was."""
    rng = _rng(7)
    model = _sum_readers(rng)
    in_place = [(n.name, n.layer.into) for n in model._fused if isinstance(n.layer, L.InPlaceAdd)]
    assert in_place == [("s1", 0), ("s2", 1)]
    model.training = training
    x = rng.standard_normal((3, 2, 6, 5))
    kept = x.copy()
    _assert_plans_agree(model, x, np.array([1, 2, 0]))
    np.testing.assert_array_equal(x, kept)


def _assert_running_stats_agree(model, x):
    """One forward pass of each plan from the same running statistics updates them to the
    same bits."""
    start = model.state_dict()
    ends = []
    for record in (False, True):
        model.load_state_dict(start)
        model.record = record
        model.forward(x)
        ends.append(model.state_dict())
    for name in ends[0]:
        np.testing.assert_array_equal(ends[0][name], ends[1][name])


def test_frozen_layers_get_no_gradient_and_do_not_block_earlier_ones():
    rng = _rng(5)
    model = _cnn(rng)
    model._by_name["c2"].layer.trainable = False
    x, y = rng.standard_normal((2, 2, 9, 8)), np.array([0, 1])
    _, dout = model.loss(model.forward(x), y)
    model.backward(dout, input_grad=False)
    grads = model.grads()
    assert "c2.weight" not in grads and "c2.bias" not in grads
    assert "c2.weight" not in model.trainable_names
    assert "c2" not in model._param_grads  # its backward returned no parameter gradient
    numeric = numeric_grad(lambda: model.loss(model.forward(x), y)[0],
                           model.params()["c1.weight"])
    assert rel_error(grads["c1.weight"], numeric) < TOL


@pytest.mark.parametrize("held, trained", [("weight", "bias"), ("bias", "weight")])
def test_a_half_held_thin_conv_in_chunks_keeps_columns_for_a_weight_gradient_alone(
        held, trained, monkeypatch):
    """A thin conv (c2: 4 channels of 2x2, 16 rows) run in chunks of one image, which
    keeps its whole batch's columns for the weight gradient where its weight trains and
    builds none for a held one (footprint.keeps_columns): with either half held, the other
    half's gradient and the earlier layers' still the numeric ones."""
    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=2 ** 30, chunk_columns=1))
    rng = _rng(7)
    model = _cnn(rng)
    layer = model._by_name["c2"].layer
    layer.held = frozenset({held})
    x, y = rng.standard_normal((3, 2, 9, 8)), np.array([0, 1, 1])
    _, dout = model.loss(model.forward(x), y)
    model.backward(dout, input_grad=False)
    assert layer.method() == "im2col" and ("kept_cols" in layer.work) == (held == "bias")
    grads = model.grads()
    assert set(model._param_grads["c2"]) == {trained}
    for name in (f"c2.{trained}", "c1.weight"):
        numeric = numeric_grad(lambda: model.loss(model.forward(x), y)[0], model.params()[name])
        assert rel_error(grads[name], numeric) < TOL, name


@pytest.mark.parametrize("held, trained", [("weight", "bias"), ("bias", "weight")])
def test_a_held_parameter_gets_no_gradient_and_its_partner_and_earlier_layers_the_true_one(
        held, trained):
    """One parameter of a layer held (Caffe's lr_mult [0, 1] or [1, 0]): no gradient of its
    own (its product is not computed), the layer's other parameter and the layers before it
    still the numeric gradient."""
    rng = _rng(6)
    model = _cnn(rng)
    model._by_name["c2"].layer.held = frozenset({held})
    x, y = rng.standard_normal((2, 2, 9, 8)), np.array([0, 1])
    _, dout = model.loss(model.forward(x), y)
    model.backward(dout, input_grad=False)
    grads = model.grads()
    assert f"c2.{held}" not in grads and f"c2.{held}" not in model.trainable_names
    assert set(model._param_grads["c2"]) == {trained}
    for name in (f"c2.{trained}", "c1.weight"):
        numeric = numeric_grad(lambda: model.loss(model.forward(x), y)[0], model.params()[name])
        assert rel_error(grads[name], numeric) < TOL, name
