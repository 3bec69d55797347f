"""The engine against PyTorch (skipped without it): every op's output and gradients on random
float64 inputs, and a whole LeNet-5 with identical weights, agree to 1e-5."""
from functools import partial

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from cnnspec.engine import activations as act
from cnnspec.engine import conv, conv_tuned, dense, losses, merge, norm, pool
from cnnspec.engine import layers as L
from cnnspec.engine.model import Model, Node

TOL = 1e-5


def _t(a):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=True)


def _close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=TOL, atol=TOL)


def helper_test_op(shapes, ours, theirs, seed=0):
    """Run ``ours(*arrays) -> (out, backward)`` and ``theirs(*tensors) -> out`` on the same
    random inputs; compare outputs and the gradients of ``sum(out * r)`` for every input.
    ``backward(r)`` returns one gradient per input."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    tensors = [_t(a) for a in arrays]
    out, backward = ours(*arrays)
    t_out = theirs(*tensors)
    _close(out, t_out)
    r = rng.standard_normal(out.shape)
    (t_out * torch.tensor(r)).sum().backward()
    for grad, tensor in zip(backward(r), tensors):
        _close(grad, tensor.grad)


def _torch_pad(x, pads, value=0.0):
    top, bottom, left, right = pads
    return F.pad(x, (left, right, top, bottom), value=value)


@pytest.mark.parametrize("x_shape, w_shape, stride, pads, dilation", [
    ((2, 3, 9, 9), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    ((2, 2, 10, 9), (3, 2, 3, 2), (2, 1), (0, 1, 2, 0), (1, 1)),
    ((1, 2, 11, 11), (2, 2, 3, 3), (2, 3), (2, 2, 1, 1), (2, 2)),
    ((2, 3, 8, 9), (2, 3, 3, 2), (1, 1), (0, 2, 3, 1), (2, 3)),
])
@pytest.mark.parametrize("module", [conv, conv_tuned], ids=["reference", "tuned"])
def test_conv2d(x_shape, w_shape, stride, pads, dilation, module):
    def ours(x, w, b):
        out, cache = module.conv2d_forward(x, w, b, stride, pads, dilation)
        return out, lambda r: module.conv2d_backward(r, cache)

    def theirs(x, w, b):
        return F.conv2d(_torch_pad(x, pads), w, b, stride=stride, dilation=dilation)

    helper_test_op([x_shape, w_shape, (w_shape[0],)], ours, theirs)


@pytest.mark.parametrize("kernel, stride, pads", [
    ((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 2), (1, 1, 1, 1)), ((3, 2), (1, 2), (1, 0, 1, 0)),
    # windows far larger than the 7x8 input, whose offsets of padding alone are not visited:
    # `pad same` at stride 1, tiling the padded input along one axis (41 = 17 + 7 + 17) and
    # along both (the rows' taps 0-16 and 24-40 read padding alone)
    ((41, 1), (1, 1), (20, 20, 0, 0)), ((41, 3), (41, 3), (17, 17, 1, 0)),
    ((1, 30), (2, 30), (0, 0, 11, 11)),
])
def test_pooling(kernel, stride, pads):
    def ours_max(x):
        out, cache = pool.maxpool_forward(x, kernel, stride, pads)
        return out, lambda r: [pool.maxpool_backward(r, cache)]

    def ours_avg(x):
        out, cache = pool.avgpool_forward(x, kernel, stride, pads)
        return out, lambda r: [pool.avgpool_backward(r, cache)]

    helper_test_op([(2, 3, 7, 8)], ours_max, lambda x: F.max_pool2d(
        _torch_pad(x, pads, -float("inf")), kernel, stride))
    helper_test_op([(2, 3, 7, 8)], ours_avg, lambda x: F.avg_pool2d(
        _torch_pad(x, pads), kernel, stride))


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (2, 2, 1), (3, 2, 1), (3, 3, 0)])
def test_max_pooling_in_ceil_mode(kernel, stride, padding):
    """Ceil mode's last windows hang over the input's end; 2x2 ones then tile the padded input
    (the path that marks the maxima in the forward pass), the others do not."""
    def ours(x):
        pads = (padding,) * 4
        out, cache = pool.maxpool_forward(x, (kernel,) * 2, (stride,) * 2, pads, ceil_mode=True)
        return out, lambda r: [pool.maxpool_backward(r, cache)]

    helper_test_op([(2, 3, 7, 9)], ours, lambda x: F.max_pool2d(
        x, kernel, stride, padding=padding, ceil_mode=True))


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [
    (2, 2, 1, False), (3, 2, 1, False), (2, 2, 1, True), (3, 2, 1, True), (2, 2, 0, True),
])
@pytest.mark.parametrize("minus_inf", ["everywhere", "a corner"])
def test_max_pooling_of_minus_infinity_next_to_padding(kernel, stride, padding, ceil_mode,
                                                       minus_inf):
    """A window whose input pixels are all -inf ties with the padding (-inf too): PyTorch never
    looks at padding or ceil mode's overhang, so the gradient goes to the window's first input
    pixel, not to the padding (where it was lost)."""
    rng = np.random.default_rng(kernel * 10 + padding)
    x = rng.standard_normal((2, 3, 5, 5))
    x[..., :2, :2] = -np.inf
    if minus_inf == "everywhere":
        x[:] = -np.inf
    pads = (padding,) * 4
    out, cache = pool.maxpool_forward(x, (kernel,) * 2, (stride,) * 2, pads, ceil_mode)
    dout = rng.standard_normal(out.shape)
    dx = pool.maxpool_backward(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    expected = F.max_pool2d(xt, kernel, stride, padding=padding, ceil_mode=ceil_mode)
    expected.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, expected.detach().numpy())
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert dx.sum() == pytest.approx(dout.sum())  # no gradient lost in the padding


def test_global_avgpool_flatten_dense():
    def ours(x, w, b):
        g, gc = pool.global_avgpool_forward(x)
        out, dc = dense.dense_forward(g, w, b)

        def backward(r):
            dg, dw, db = dense.dense_backward(r, dc)
            return pool.global_avgpool_backward(dg, gc), dw, db
        return out, backward

    helper_test_op([(3, 4, 5, 5), (6, 4), (6,)], ours,
                   lambda x, w, b: F.linear(x.mean(dim=(2, 3)), w, b))

    def ours_flat(x):
        out, cache = dense.flatten_forward(x)
        return out, lambda r: [dense.flatten_backward(r, cache)]

    helper_test_op([(2, 3, 2, 4)], ours_flat, lambda x: x.flatten(1))


@pytest.mark.parametrize("shape", [(8, 3, 4, 4), (10, 5)])
def test_batchnorm_training_and_running_stats(shape):
    c = shape[1]
    mean, var = np.zeros(c), np.ones(c)
    t_mean, t_var = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)

    def ours(x, gamma, beta):
        out, cache = norm.batchnorm_forward(x, gamma, beta, mean, var, True, 0.1, 1e-5)
        return out, lambda r: norm.batchnorm_backward(r, cache)

    def theirs(x, gamma, beta):
        return F.batch_norm(x, t_mean, t_var, gamma, beta, training=True, momentum=0.1,
                            eps=1e-5)

    helper_test_op([shape, (c,), (c,)], ours, theirs)
    np.testing.assert_allclose(mean, t_mean.numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(var, t_var.numpy(), rtol=TOL, atol=TOL)


WEIGHTS = [1.0, 2.0, 0.5, 3.0, 1.5]


@pytest.mark.parametrize("loss, theirs", [
    (losses.softmax_cross_entropy, lambda out, y: F.cross_entropy(out, y)),
    (partial(losses.softmax_cross_entropy, label_smoothing=0.1),
     lambda out, y: F.cross_entropy(out, y, label_smoothing=0.1)),
    (partial(losses.softmax_cross_entropy, class_weights=WEIGHTS),
     lambda out, y: F.cross_entropy(out, y, weight=torch.tensor(WEIGHTS, dtype=torch.float64))),
    (partial(losses.softmax_cross_entropy, label_smoothing=0.3, class_weights=WEIGHTS),
     lambda out, y: F.cross_entropy(out, y, label_smoothing=0.3,
                                    weight=torch.tensor(WEIGHTS, dtype=torch.float64))),
    (losses.mse, lambda out, y: F.mse_loss(out, F.one_hot(y, 5).double())),
], ids=["cross_entropy", "label_smoothing", "class_weights", "both", "mse"])
def test_losses(loss, theirs):
    rng = np.random.default_rng(1)
    out, y = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    value, dout = loss(out, y)
    t_out = _t(out)
    t_loss = theirs(t_out, torch.tensor(y))
    t_loss.backward()
    assert value == pytest.approx(t_loss.item(), rel=TOL)
    _close(dout, t_out.grad)


def _lenet(rng):
    """LeNet-5 on 1x28x28 with conv1 padded by 2 (so 28 -> 28 -> 14 -> 10 -> 5)."""
    def conv_layer(f, c, pad):
        return L.Conv2d(rng.standard_normal((f, c, 5, 5)) * 0.2, rng.standard_normal(f) * 0.1,
                        (1, 1), (pad,) * 4, (1, 1))

    def dense_layer(o, i):
        return L.Dense(rng.standard_normal((o, i)) * (1 / np.sqrt(i)), rng.standard_normal(o) * 0.1)

    nodes = [
        Node("conv1", "conv", conv_layer(6, 1, 2), ["input"]),
        Node("relu1", "relu", L.activation("relu"), ["conv1"]),
        Node("pool1", "maxpool", L.Pool("max", (2, 2), (2, 2), (0, 0, 0, 0)), ["relu1"]),
        Node("conv2", "conv", conv_layer(16, 6, 0), ["pool1"]),
        Node("relu2", "relu", L.activation("relu"), ["conv2"]),
        Node("pool2", "maxpool", L.Pool("max", (2, 2), (2, 2), (0, 0, 0, 0)), ["relu2"]),
        Node("flatten", "flatten", L.Flatten(), ["pool2"]),
        Node("fc1", "dense", dense_layer(120, 400), ["flatten"]),
        Node("relu3", "relu", L.activation("relu"), ["fc1"]),
        Node("fc2", "dense", dense_layer(84, 120), ["relu3"]),
        Node("relu4", "relu", L.activation("relu"), ["fc2"]),
        Node("fc3", "dense", dense_layer(10, 84), ["relu4"]),
    ]
    return Model(nodes, "fc3", dtype="float64")


def _torch_lenet(params):
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10)).double()
    names = {"0": "conv1", "3": "conv2", "7": "fc1", "9": "fc2", "11": "fc3"}
    net.load_state_dict({key: torch.tensor(params[f"{names[key.split('.')[0]]}."
                                                  f"{key.split('.')[1]}"])
                         for key in net.state_dict()})
    return net


@pytest.mark.parametrize("record", [False, True])
def test_whole_lenet5(record):
    rng = np.random.default_rng(2)
    model = _lenet(rng)
    model.record = record
    net = _torch_lenet(model.params())
    x, y = rng.standard_normal((8, 1, 28, 28)), rng.integers(0, 10, 8)

    out = model.forward(x)
    loss, dout = model.loss(out, y)
    dx = model.backward(dout)

    t_x = _t(x)
    t_out = net(t_x)
    t_loss = F.cross_entropy(t_out, torch.tensor(y))
    t_loss.backward()
    _close(out, t_out)
    assert loss == pytest.approx(t_loss.item(), rel=TOL)
    _close(dx, t_x.grad)
    grads = model.grads()
    names = {"0": "conv1", "3": "conv2", "7": "fc1", "9": "fc2", "11": "fc3"}
    for key, p in net.named_parameters():
        layer, kind = key.split(".")
        _close(grads[f"{names[layer]}.{kind}"], p.grad)


def test_batchnorm_eval_mode():
    rng = np.random.default_rng(3)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5

    def ours(x, gamma, beta):
        out, cache = norm.batchnorm_forward(x, gamma, beta, mean, var, False, 0.1, 1e-5)
        return out, lambda r: norm.batchnorm_backward(r, cache)

    def theirs(x, gamma, beta):
        return F.batch_norm(x, torch.tensor(mean), torch.tensor(var), gamma, beta,
                            training=False, eps=1e-5)

    helper_test_op([(4, 3, 3, 3), (3,), (3,)], ours, theirs)


def test_add_and_concat():
    def ours(a, b):
        s, sc = merge.add_forward(a, b)
        out, cc = merge.concat_forward(s, a)

        def backward(r):
            ds, da = merge.concat_backward(r, cc)
            da_add, db = merge.add_backward(ds, sc)
            return da + da_add, db
        return out, backward

    helper_test_op([(2, 3, 4, 4), (2, 3, 4, 4)], ours, lambda a, b: torch.cat([a + b, a], dim=1))


# Inputs across an activation's range and out into its tails, where a careless form loses
# its digits: exp overflowing, 1 - tanh^2 or 1 + tanh cancelling.
TAILS = np.concatenate([np.linspace(-12, 12, 481), [-1e4, -800, -100, -40, -20, 20, 40, 1e4]])


@pytest.mark.parametrize("name, theirs", [("mish", F.mish), ("silu", F.silu), ("gelu", F.gelu),
                                         ("elu", F.elu), ("tanh", torch.tanh),
                                         ("sigmoid", torch.sigmoid)])
def test_smooth_activations_match_pytorch_to_1e_12_into_their_tails(name, theirs):
    """float64 values and gradients against PyTorch's, to 1e-12 relative (and absolute, for
    the values that round to nothing far below 0)."""
    forward = getattr(act, f"{name}_forward")
    backward = getattr(act, f"{name}_backward")
    out, cache = forward(TAILS)
    dout = np.random.default_rng(2).standard_normal(TAILS.shape)
    x = _t(TAILS)
    expected = theirs(x)
    expected.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backward(dout, cache), x.grad.numpy(), rtol=1e-12, atol=1e-12)
