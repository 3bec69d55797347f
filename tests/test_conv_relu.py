"""A convolution with the ReLU after it fused (cnnspec.engine.layers.ConvReLU) against the two
layers run one after the other: the output and every gradient bitwise equal, in float64 and
float32, on every path of the tuned convolution (each case checked to take its path), with
and without bias, padded or not, at strides 1 and 2; and where the graph fuses the pair."""
import numpy as np
import pytest

from cnnspec.engine import conv_tuned
from cnnspec.engine import layers as L
from cnnspec.engine.calibrate import Thresholds
from cnnspec.engine.model import Model, Node

SAME = (1, 1, 1, 1)
VALID = (0, 0, 0, 0)
ASYMMETRIC = (2, 0, 1, 3)
# (path, dtype, x shape, w shape, stride, pads); the path each takes with the thresholds of
# _path_limits
CASES = [
    ("planned", np.float64, (3, 2, 9, 8), (4, 2, 3, 3), (1, 1), SAME),
    ("planned", np.float64, (3, 2, 9, 8), (4, 2, 3, 2), (2, 2), ASYMMETRIC),
    ("planned", np.float32, (2, 3, 7, 7), (5, 3, 5, 5), (1, 1), VALID),
    ("im2col", np.float64, (5, 3, 10, 9), (6, 3, 3, 3), (1, 1), SAME),  # columns kept
    ("im2col", np.float64, (5, 3, 9, 8), (4, 3, 3, 3), (2, 2), ASYMMETRIC),  # thin: kept
    ("phases", np.float64, (5, 16, 9, 8), (4, 16, 3, 3), (2, 1), ASYMMETRIC),
    ("phases", np.float32, (5, 16, 16, 16), (32, 16, 3, 3), (2, 2), SAME),  # ResNet's "down"
    ("rows", np.float64, (5, 16, 9, 8), (6, 16, 3, 3), (1, 1), SAME),
    ("rows", np.float32, (5, 6, 9, 8), (16, 6, 5, 5), (1, 1), VALID),
    ("blocks", np.float64, (5, 16, 9, 8), (6, 16, 3, 3), (2, 1), SAME),
    ("blocks", np.float32, (5, 6, 11, 8), (16, 6, 5, 5), (2, 1), VALID),
    ("winograd", np.float32, (4, 16, 32, 32), (16, 16, 3, 3), (1, 1), SAME),
    ("winograd", np.float32, (10, 17, 21, 19), (20, 17, 3, 3), (1, 1), ASYMMETRIC),
]


def _path_limits(monkeypatch, path):
    """Thresholds that send the cases of ``path`` there: the whole batch one chunk for the
    planned path; otherwise chunks of two images, batch-last blocks (by kernel rows at
    stride 1) from two images on."""
    if path == "planned":
        monkeypatch.setattr(conv_tuned, "thresholds",
                            lambda: Thresholds(chunk_bytes=2 ** 30, chunk_columns=2 ** 20))
        return
    monkeypatch.setattr(conv_tuned, "images_per_chunk",
                        lambda rows, size, n, itemsize, least=0: min(n, 2))
    monkeypatch.setattr(conv_tuned, "_row_tap_step", lambda values, n, itemsize: min(n, 2))
    monkeypatch.setattr(conv_tuned, "BLOCKED_IMAGES",
                        2 if path in ("blocks", "rows") else 10 ** 6)


def _pair_and_fused(w, b, stride, pads):
    """A Conv2d and ReLU pair, and a ConvReLU over a Conv2d of the same parameters."""
    pair = L.Conv2d(w, b, stride, pads, (1, 1)), L.activation("relu")
    fused = L.ConvReLU(L.Conv2d(w.copy(), None if b is None else b.copy(), stride, pads,
                                (1, 1)))
    return pair, fused


def _step_pair(pair, x, dout):
    conv, relu = pair
    out = relu.forward([conv.forward([x], True)], True)
    (d,), _ = relu.backward(dout)
    (dx,), grads = conv.backward(d)
    return out.copy(), dx, grads


def _step_fused(fused, x, dout):
    out = fused.forward([x], True).copy()
    (dx,), grads = fused.backward(dout)
    return out, dx, grads


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("path, dtype, x_shape, w_shape, stride, pads", CASES)
def test_fused_equals_the_pair_bitwise(monkeypatch, bias, path, dtype, x_shape, w_shape,
                                       stride, pads):
    """Two steps with new values (the second reuses the output buffer the first wrote): equal
    output, input gradient and parameter gradients, ``dout`` left as it was."""
    _path_limits(monkeypatch, path)
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    pair, fused = _pair_and_fused(w, b, stride, pads)
    for _ in range(2):
        x = rng.standard_normal(x_shape).astype(dtype)
        out_shape = pair[0].forward([x], True).shape
        dout = rng.standard_normal(out_shape).astype(dtype)
        before = dout.copy()
        want = _step_pair(pair, x, dout)
        got = _step_fused(fused, x, dout)
        assert fused.method() == path
        np.testing.assert_array_equal(dout, before)
        assert (got[0] == 0).any() and (got[0] > 0).any()  # the ReLU cut something
        for ours, theirs in zip(got[:2], want[:2]):
            assert ours.dtype == theirs.dtype
            np.testing.assert_array_equal(ours, theirs)
        assert set(got[2]) == set(want[2]) == ({"weight", "bias"} if bias else {"weight"})
        for key in want[2]:
            np.testing.assert_array_equal(got[2][key], want[2][key])


def test_a_nan_input_gives_the_pairs_gradients():
    """The mask read off the output is the kept mask where the input holds a NaN too."""
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    pair, fused = _pair_and_fused(w, b, (1, 1), SAME)
    x = rng.standard_normal((2, 2, 6, 5))
    x[1, 0, 2, 3] = np.nan
    dout = rng.standard_normal((2, 4, 6, 5))
    want, got = _step_pair(pair, x, dout), _step_fused(fused, x, dout)
    assert np.isnan(got[0]).any()
    for ours, theirs in zip(got[:2], want[:2]):
        np.testing.assert_array_equal(ours, theirs)
    for key in want[2]:
        np.testing.assert_array_equal(got[2][key], want[2][key])


def _conv(rng, f, c):
    return L.Conv2d(rng.standard_normal((f, c, 3, 3)), rng.standard_normal(f), (1, 1), SAME,
                    (1, 1))


def test_the_graph_fuses_a_conv_and_its_only_reader_a_relu():
    """c1 -> r1 fuses; r2 goes with the max pool after it; c3's output has two readers; r4 is
    the network's output, which the caller keeps (the fused layer writes its output buffer
    again on the next pass), so c4 -> r4 does not fuse. The fused plan's results are the plain
    plan's, bitwise, and the output of one pass is not written by the next."""
    rng = np.random.default_rng(5)
    nodes = [
        Node("c1", "conv", _conv(rng, 3, 2), ["input"]),
        Node("r1", "relu", L.activation("relu"), ["c1"]),
        Node("c2", "conv", _conv(rng, 3, 3), ["r1"]),
        Node("r2", "relu", L.activation("relu"), ["c2"]),
        Node("p2", "maxpool", L.Pool("max", (2, 2), (2, 2), VALID), ["r2"]),
        Node("c3", "conv", _conv(rng, 3, 3), ["p2"]),
        Node("r3", "relu", L.activation("relu"), ["c3"]),
        Node("sum", "add", L.Merge("add"), ["r3", "c3"]),
        Node("c4", "conv", _conv(rng, 2, 3), ["sum"]),
        Node("r4", "relu", L.activation("relu"), ["c4"]),
    ]
    model = Model(nodes, "r4", dtype="float64")
    fused = {n.name: (type(n.layer).__name__, n.fused, n.params_of) for n in model._fused}
    assert fused["r1"] == ("ConvReLU", ("c1",), "c1")
    assert fused["p2"][0] == "MaxPoolReLU" and fused["c2"][0] == "Conv2d"
    assert fused["r3"][0] == "Elementwise" and fused["r4"][0] == "Elementwise"
    x, dout = rng.standard_normal((3, 2, 8, 6)), rng.standard_normal((3, 2, 4, 3))
    results = []
    for record in (False, True):
        model.record = record
        out = model.forward(x)
        kept = out.copy()
        dx = model.backward(dout)
        model.forward(x + 1)  # another pass: the first one's output stays the caller's
        np.testing.assert_array_equal(out, kept)
        results.append((out, dx, model.grads()))
    (out_a, dx_a, g_a), (out_b, dx_b, g_b) = results
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(dx_a, dx_b)
    assert set(g_a) == set(g_b)
    for name in g_a:
        np.testing.assert_array_equal(g_a[name], g_b[name])


@pytest.mark.parametrize("tail, fuses", [
    ([], False),
    (["flatten"], False),
    (["dropout", "flatten"], False),
    (["flatten", "dense"], True),
])
def test_no_fusion_where_the_output_may_be_a_view_of_the_relus(tail, fuses):
    """A network whose output is the ReLU, or a view of it (a flatten of one image's
    channel-first output, a dropout in evaluation), keeps the pair: the caller keeps the
    output, which the fused layer would write on its next pass."""
    rng = np.random.default_rng(6)
    nodes = [Node("c", "conv", _conv(rng, 2, 2), ["input"]),
             Node("r", "relu", L.activation("relu"), ["c"])]
    layers = {"flatten": L.Flatten, "dropout": lambda: L.Dropout(0.5, rng),
              "dense": lambda: L.Dense(rng.standard_normal((3, 2 * 4 * 3)), None)}
    for name in tail:
        nodes.append(Node(name, name, layers[name](), [nodes[-1].name]))
    model = Model(nodes, nodes[-1].name, dtype="float64").eval()
    assert any(isinstance(n.layer, L.ConvReLU) for n in model._fused) == fuses
    x = rng.standard_normal((1, 2, 4, 3))
    out = model.forward(x)
    kept = out.copy()
    model.forward(x + 1)
    np.testing.assert_array_equal(out, kept)
