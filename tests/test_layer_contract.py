"""The one contract every engine layer keeps: ``forward(xs, training) -> out`` keeps a cache;
``backward(dout, need_dx) -> (dxs, grads)`` returns one input gradient per input and a new dict
of parameter gradients, stores no gradient on the layer and never writes into ``dout``, unless
the caller hands it over as owned (the model's rule, ``owned_grad``)."""
import numpy as np
import pytest

from cnnspec.engine import layers as L
from cnnspec.engine.grouped import GroupedConv2d
from cnnspec.engine.model import Model, Node, owned_grad


def _rng():
    return np.random.default_rng(0)


LAYERS = {
    "conv": lambda r: L.Conv2d(r.standard_normal((4, 2, 3, 3)), r.standard_normal(4), (1, 1),
                               (1, 1, 1, 1), (1, 1)),
    "conv_no_bias": lambda r: L.Conv2d(r.standard_normal((3, 2, 3, 2)), None, (2, 1),
                                       (0, 1, 1, 0), (1, 1)),
    "grouped": lambda r: GroupedConv2d(r.standard_normal((4, 1, 3, 3)), r.standard_normal(4),
                                       (1, 1), (1, 1, 1, 1), (1, 1), groups=2),
    "batchnorm": lambda r: L.BatchNorm(2, np.float64),
    "batchnorm_relu": lambda r: L.BatchNormReLU(L.BatchNorm(2, np.float64)),
    "maxpool": lambda r: L.Pool("max", (2, 2), (2, 2), (0, 0, 0, 0)),
    "maxpool_relu": lambda r: L.MaxPoolReLU((2, 2), (2, 2), (0, 0, 0, 0)),
    "avgpool": lambda r: L.Pool("avg", (3, 3), (1, 1), (1, 1, 1, 1)),
    "relu": lambda r: L.activation("relu"),
    "leaky_relu": lambda r: L.activation("leaky_relu", slope=0.1),
    "flatten": lambda r: L.Flatten(),
    "global_avgpool": lambda r: L.GlobalAvgPool(),
    "dropout": lambda r: L.Dropout(0.5, np.random.default_rng(1)),
    "add": lambda r: L.Merge("add"),
    "concat": lambda r: L.Merge("concat"),
}
DENSE = lambda r: L.Dense(r.standard_normal((3, 2 * 6 * 5)), r.standard_normal(3))


def _run(layer, n_inputs, frozen=False):
    rng = _rng()
    if frozen:
        layer.trainable = False
    shape = (2, 2 * 6 * 5) if isinstance(layer, L.Dense) else (2, 2, 6, 5)
    xs = [rng.standard_normal(shape) for _ in range(n_inputs)]
    out = layer.forward(xs, True)
    dout = rng.standard_normal(out.shape)
    before = dout.copy()
    result = layer.backward(dout, need_dx=True)
    np.testing.assert_array_equal(dout, before)  # never written into
    return xs, result


CASES = [(name, build, 2 if name in ("add", "concat") else 1) for name, build in LAYERS.items()]
CASES.append(("dense", DENSE, 1))


@pytest.mark.parametrize("name, build, n_inputs", CASES)
def test_backward_returns_input_and_parameter_gradients(name, build, n_inputs):
    layer = build(_rng())
    xs, (dxs, grads) = _run(layer, n_inputs)
    assert isinstance(dxs, list) and len(dxs) == n_inputs
    for x, dx in zip(xs, dxs):
        assert dx.shape == x.shape and dx.dtype == x.dtype
    assert set(grads) == (set(layer.params) if layer.trainable else set())
    for key, grad in grads.items():
        assert grad.shape == layer.params[key].shape and grad.dtype == layer.params[key].dtype
    assert not hasattr(layer, "grads")  # gradients are returned, not kept on the layer
    _, again = layer.backward(np.ones_like(layer.forward(xs, True)))
    assert again is not grads  # a new dict each call


@pytest.mark.parametrize("name, build, n_inputs",
                         [case for case in CASES if case[0] in ("conv", "grouped", "dense",
                                                                "batchnorm")])
def test_a_frozen_layer_returns_no_parameter_gradient(name, build, n_inputs):
    _, (dxs, grads) = _run(build(_rng()), n_inputs, frozen=True)
    assert grads == {} and dxs[0] is not None


def test_without_need_dx_the_input_gradients_are_none():
    rng = _rng()
    layer = LAYERS["conv"](rng)
    layer.forward([rng.standard_normal((2, 2, 6, 5))], True)
    dxs, grads = layer.backward(rng.standard_normal((2, 4, 6, 5)), need_dx=False)
    assert dxs == [None] and set(grads) == {"weight", "bias"}


def test_fan_out_sums_into_a_new_array():
    """``a`` feeds the add twice over two paths; the add hands back ``dout`` itself to both, and
    the model sums them without writing into either."""
    rng = _rng()
    nodes = [Node("a", "conv", LAYERS["conv"](rng), ["input"]),
             Node("r", "relu", L.activation("relu"), ["a"]),
             Node("sum", "add", L.Merge("add"), ["a", "r"]),
             Node("gap", "global_avgpool", L.GlobalAvgPool(), ["sum"])]
    model = Model(nodes, "gap", loss="mse", dtype="float64")
    model.threads = 1
    x = rng.standard_normal((2, 2, 6, 5))
    out = model.forward(x)
    _, dout = model.loss(out, np.array([1, 3]))
    before = dout.copy()
    model.backward(dout)
    np.testing.assert_array_equal(dout, before)
    a_out = nodes[0].layer.forward([x], True)
    d_sum = np.broadcast_to(dout[:, :, None, None] / 30, a_out.shape)
    _, expected = nodes[0].layer.backward(d_sum * (1 + (a_out > 0)))
    for key, grad in expected.items():
        np.testing.assert_allclose(model.grads()[f"a.{key}"], grad, rtol=1e-12)


@pytest.mark.parametrize("name", ["conv", "batchnorm", "maxpool", "maxpool_relu"])
def test_a_layer_that_keeps_buffers_gives_a_fresh_layers_results_on_the_next_batch(name):
    """Buffers a layer keeps from one call to the next (a conv's columns, batch norm's centred
    input) hold nothing of the previous batch that its results could depend on."""
    rng = _rng()
    used, fresh = LAYERS[name](_rng()), LAYERS[name](_rng())
    first, second = rng.standard_normal((2, 2, 6, 4)), 3 + rng.standard_normal((2, 2, 6, 4))
    used.backward(np.ones_like(used.forward([first], True)))
    out = used.forward([second], True)
    dout = rng.standard_normal(out.shape)
    (dx,), grads = used.backward(dout)
    np.testing.assert_array_equal(out, fresh.forward([second], True))
    (fresh_dx,), fresh_grads = fresh.backward(dout)
    np.testing.assert_array_equal(dx, fresh_dx)
    for key, grad in grads.items():
        np.testing.assert_array_equal(grad, fresh_grads[key])


def _arrays(value):
    """The arrays in a cache or work dict (nested tuples, lists, dicts, plan objects)."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        yield from _arrays(vars(value))


@pytest.mark.parametrize("name, build, n_inputs",
                         [case for case in CASES if case[1](_rng()).fresh_output])
def test_a_fresh_output_is_held_by_nothing_else(name, build, n_inputs):
    """What ``fresh_output`` promises the graph, which lets a ReLU overwrite it: the output
    shares no memory with the inputs, the cache or the kept buffers."""
    layer = build(_rng())
    for _ in range(2):  # the second call reuses kept buffers
        xs, _ = _run(layer, n_inputs)
        out = layer.forward(xs, True)
        held = [*xs, *_arrays(layer.cache), *_arrays(getattr(layer, "work", {}))]
        assert not any(np.shares_memory(out, array) for array in held)



def _copies(dxs, grads):
    return [dx.copy() for dx in dxs], {key: grad.copy() for key, grad in grads.items()}


@pytest.mark.parametrize("name, build, n_inputs", CASES)
def test_an_owned_dout_gives_the_same_gradients(name, build, n_inputs):
    """``owned=True`` lets a backward pass write over ``dout`` (the model's rule says when);
    the gradients are those of ``owned=False``, which never writes into it. An input
    gradient is a view of ``dout`` or memory only the caller reads: none of the inputs', the
    cache's or the parameters'."""
    layer = build(_rng())
    xs, (dxs, _) = _run(layer, n_inputs)
    dout = _rng().standard_normal(layer.forward(xs, True).shape)
    held = [*xs, *_arrays(layer.cache), *layer.params.values()]
    dxs, grads = layer.backward(dout, need_dx=True)
    for dx in dxs:
        assert np.may_share_memory(dx, dout) or not any(np.shares_memory(dx, a) for a in held)
    expected_dxs, expected_grads = _copies(dxs, grads)
    owned_dxs, owned_grads = layer.backward(dout.copy(), need_dx=True, owned=True)
    for dx, expected in zip(owned_dxs, expected_dxs):
        np.testing.assert_array_equal(dx, expected)
    assert set(owned_grads) == set(expected_grads)
    for key, grad in owned_grads.items():
        np.testing.assert_array_equal(grad, expected_grads[key])


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "dropout"])
def test_an_elementwise_backward_writes_over_an_owned_dout(name):
    layer = LAYERS[name](_rng())
    x = _rng().standard_normal((2, 2, 6, 5))
    dout = _rng().standard_normal(layer.forward([x], True).shape)
    (dx,), _ = layer.backward(dout, owned=True)
    assert dx is dout


def test_the_model_owns_new_arrays_handed_to_one_input_only():
    """:func:`owned_grad`: the caller's ``dout`` or a view of it is not owned, nor an array
    handed to two inputs, nor a read-only one; a new array is, and so is a view of an owned
    ``dout``."""
    dout, new = np.ones((2, 3)), np.zeros((2, 3))
    assert owned_grad(new, dout, False, [new])
    assert not owned_grad(dout, dout, False, [dout])
    assert not owned_grad(dout[:1], dout, False, [dout[:1]])
    assert owned_grad(dout.reshape(6), dout, True, [dout.reshape(6)])
    assert not owned_grad(dout, dout, True, [dout, dout])  # a residual add's
    assert not owned_grad(new, dout, False, [new, new[:, :1]])
    assert not owned_grad(np.broadcast_to(new[:1], (2, 3)), dout, False, [new[:1]])


def _branching_model(rng):
    """``a`` feeds a ReLU and the residual sum (kept for later), whose other input is a leaky
    ReLU's; the ReLU ``r`` feeds a conv and a concatenation; the sum's in-place ReLU and a
    batch norm's fused one run after, and a ReLU feeds both inputs of a sum; the dense layer
    near the end hands back a new array, and the output is a leaky ReLU's, which may write
    over an owned gradient, not over the caller's."""
    conv = lambda c_in: L.Conv2d(rng.standard_normal((4, c_in, 3, 3)), rng.standard_normal(4),
                                 (1, 1), (1, 1, 1, 1), (1, 1))
    nodes = [Node("a", "conv", conv(2), ["input"]),
             Node("r", "relu", L.activation("relu"), ["a"]),
             Node("b", "conv", conv(4), ["r"]),
             Node("leak", "leaky_relu", L.activation("leaky_relu", slope=0.1), ["b"]),
             Node("sum", "add", L.Merge("add"), ["leak", "a"]),
             Node("s", "relu", L.activation("relu"), ["sum"]),
             Node("cat", "concat", L.Merge("concat"), ["s", "r"]),
             Node("bn", "batchnorm", L.BatchNorm(8, np.float64), ["cat"]),
             Node("t", "relu", L.activation("relu"), ["bn"]),
             Node("m", "max_pool", L.Pool("max", (2, 2), (2, 2), (0, 0, 0, 0)), ["t"]),
             Node("u", "relu", L.activation("relu"), ["m"]),
             Node("both", "add", L.Merge("add"), ["u", "u"]),
             Node("flat", "flatten", L.Flatten(), ["both"]),
             Node("fc", "dense", L.Dense(rng.standard_normal((4, 72)), None), ["flat"]),
             Node("out", "leaky_relu", L.activation("leaky_relu", slope=0.1), ["fc"])]
    return Model(nodes, "out", loss="mse", dtype="float64")


def test_values_read_twice_or_kept_for_later_get_their_whole_gradient():
    """The fused plan, where owned gradients are written over, gives the gradients of the
    recording plan, which owns none and fuses nothing; the caller's ``dout`` is untouched."""
    x = _rng().standard_normal((2, 2, 6, 6))
    model = _branching_model(_rng())
    model.threads = 1
    _, dout = model.loss(model.forward(x), np.array([1, 3]))
    before = dout.copy()
    dx = model.backward(dout)
    np.testing.assert_array_equal(dout, before)
    grads = {key: grad.copy() for key, grad in model.grads().items()}
    model.record = True
    model.forward(x)
    expected_dx = model.backward(dout)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12, atol=1e-15)
    for key, grad in model.grads().items():
        np.testing.assert_allclose(grads[key], grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("owned", [False, True])
def test_batchnorm_relu_writes_its_input_gradient_over_channel_first_rows_it_owns(owned):
    """A channel-first ``dout`` (a convolution's input gradient) is the rows the fused batch
    norm's backward pass reads in place: it writes ``dx`` over them only when owned."""
    layer = LAYERS["batchnorm_relu"](_rng())
    x = _rng().standard_normal((2, 2, 6, 5))
    layer.forward([x], True)
    rows = _rng().standard_normal((2, 2, 6, 5)).transpose(1, 0, 2, 3).copy()
    dout = rows.transpose(1, 0, 2, 3)  # (N, C, H, W) over (C, N, H, W) memory
    (expected,), expected_grads = _copies(*layer.backward(dout.copy()))
    (dx,), grads = layer.backward(dout, owned=owned)
    np.testing.assert_array_equal(dx, expected)
    for key, grad in grads.items():
        np.testing.assert_array_equal(grad, expected_grads[key])
    assert np.shares_memory(dx, dout) == owned
