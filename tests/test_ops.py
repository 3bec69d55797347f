"""Forward values of the engine's ops against loop oracles and definitions."""
import numpy as np
import pytest
from oracle import conv2d as conv_oracle
from oracle import pool2d as pool_oracle

from cnnspec.engine import activations as act
from cnnspec.engine import conv, conv_tuned, dropout, losses, norm, pool, windows
from cnnspec.engine.calibrate import Thresholds

CONV_CASES = [
    ((2, 3, 7, 7), (4, 3, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((2, 2, 8, 7), (3, 2, 3, 2), (2, 1), (1, 1, 0, 2), (1, 1)),
    ((1, 2, 9, 9), (2, 2, 3, 3), (2, 2), (1, 2, 2, 1), (2, 2)),
    ((2, 1, 10, 10), (2, 1, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    ((1, 2, 11, 8), (2, 2, 3, 3), (3, 2), (0, 0, 0, 0), (2, 1)),
    ((2, 2, 7, 8), (3, 2, 3, 2), (1, 1), (2, 0, 1, 3), (2, 3)),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pads, dilation", CONV_CASES)
@pytest.mark.parametrize("module", [conv, conv_tuned], ids=["reference", "tuned"])
def test_conv_matches_loop_oracle(x_shape, w_shape, stride, pads, dilation, module):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out, _ = module.conv2d_forward(x, w, b, stride, pads, dilation)
    np.testing.assert_allclose(out, conv_oracle(x, w, b, stride, pads, dilation), atol=1e-12)


@pytest.mark.parametrize("module", [conv, conv_tuned], ids=["reference", "tuned"])
def test_conv_on_a_strided_input_view(module):
    """Ops receive views of channel-first memory from earlier ops; the result must not change."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 6, 6))
    view = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    w = rng.standard_normal((2, 2, 3, 3))
    a, _ = module.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1))
    b, _ = module.conv2d_forward(view, w, None, (1, 1), (1, 1, 1, 1))
    np.testing.assert_array_equal(a, b)


POOL_CASES = [
    ((2, 3, 6, 6), (2, 2), (2, 2), (0, 0, 0, 0)),
    ((2, 2, 7, 7), (3, 3), (2, 2), (0, 0, 0, 0)),
    ((1, 2, 6, 5), (3, 3), (1, 1), (1, 1, 1, 1)),
    ((2, 2, 7, 6), (3, 2), (2, 1), (1, 0, 0, 1)),
    # windows that tile the (padded) input exactly take the reshaped-view path
    ((2, 2, 6, 9), (3, 3), (3, 3), (0, 0, 0, 0)),
    ((1, 2, 4, 4), (2, 2), (2, 2), (1, 1, 1, 1)),
    ((2, 1, 3, 6), (1, 2), (1, 2), (0, 0, 0, 0)),
    # windows larger than their input, some of whose taps read padding alone at every output
    ((1, 2, 5, 5), (41, 1), (1, 1), (20, 20, 0, 0)),
    ((2, 1, 5, 4), (9, 7), (9, 7), (2, 2, 1, 2)),
]


@pytest.mark.parametrize("x_shape, kernel, stride, pads", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_matches_loop_oracle(x_shape, kernel, stride, pads, kind):
    x = np.random.default_rng(2).standard_normal(x_shape)
    forward = pool.maxpool_forward if kind == "max" else pool.avgpool_forward
    out, _ = forward(x, kernel, stride, pads)
    np.testing.assert_allclose(out, pool_oracle(x, kernel, stride, pads, kind), atol=1e-12)


@pytest.mark.parametrize("kernel, pads, dilation", [
    ((3, 3), (0, 0, 0, 0), (1, 1)), ((5, 5), (2, 2, 2, 2), (1, 1)),
    ((3, 2), (2, 0, 1, 3), (2, 3)), ((1, 1), (0, 0, 0, 0), (1, 1))])
def test_block_col2im_equals_the_general_scatter(kernel, pads, dilation):
    """The stride-1 fold of a batch-last block in wide coordinates, one sum over zero-led rows,
    adds the same columns to the same pixels as the per-offset scatter; its rows' buffer is
    zeroed again around what a product writes, whatever a larger block left there."""
    channels, batch = 2, 3
    win = windows.Window((7, 6), kernel, (1, 1), pads, dilation)
    (ho, wo), (hp, wp) = win.out_hw, win.padded_hw
    rows = channels * kernel[0] * kernel[1]
    dcols = np.random.default_rng(4).standard_normal((rows, batch * ho * wo))
    work = {"fold_rows": np.full(rows * (hp * wp + ho * wp) * (batch + 2), np.nan)}
    buffer, target = windows.fold_rows(work, rows, win, batch, np.float64)
    assert target.shape == (rows, ho * wp * batch)
    wide = target.reshape(rows, ho, wp, batch)
    wide[:, :, wo:] = 0
    wide[:, :, :wo] = dcols.reshape(rows, batch, ho, wo).transpose(0, 2, 3, 1)
    out = np.full(channels * hp * wp * batch + 5, np.nan)  # larger than needed, not zeroed
    dxp = windows.col2im_block(buffer, win, channels, batch, out)
    assert dxp.shape == (channels, hp, wp, batch)
    np.testing.assert_allclose(win.unpad(dxp.transpose(3, 0, 1, 2)),
                               windows.col2im(dcols, win, channels, batch), atol=1e-12)


def test_maxpool_gradient_goes_to_the_first_maximum_on_ties():
    x = np.ones((1, 1, 2, 2))
    out, cache = pool.maxpool_forward(x, (2, 2), (2, 2))
    dx = pool.maxpool_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])


def test_avgpool_counts_padded_zeros():
    x = np.ones((1, 1, 2, 2))
    out, _ = pool.avgpool_forward(x, (2, 2), (2, 2), (1, 1, 1, 1))
    np.testing.assert_allclose(out[0, 0], np.full((2, 2), 0.25))


@pytest.mark.parametrize("forward, backward", [(pool.maxpool_forward, pool.maxpool_backward),
                                               (pool.avgpool_forward, pool.avgpool_backward)])
@pytest.mark.parametrize("stride", [(1, 1), (100_000, 1)])
def test_a_pool_window_far_larger_than_its_input_visits_the_taps_that_reach_it(
        forward, backward, stride):
    """A 100000x1 window, `pad same`, over a 5x5 map: 5 of its rows meet the input, the others
    read padding alone at every output. The pools visited every tap (a view, and a max pool a
    mask, each): 47 MiB and 14 s for a step of one 5x5 image, minutes and gigabytes at 10^7
    taps, which check's memory estimate did not count; they now visit the taps that reach the
    input, and hold little beside the padded input (2 MB): 3.8 MiB."""
    import tracemalloc

    x = np.random.default_rng(0).standard_normal((1, 1, 5, 5)).astype(np.float32)
    pads = (50_000, 49_999, 0, 0)
    tracemalloc.start()
    try:
        out, cache = forward(x, (100_000, 1), stride, pads)
        dx = backward(np.ones_like(out), cache)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rows = out.shape[2]
    if forward is pool.maxpool_forward:
        np.testing.assert_array_equal(out[0, 0], np.repeat(x[0, 0].max(axis=0)[None], rows, 0))
        assert dx.sum() == out.size
    else:  # the padding's zeros count: each window's sum over 100000 pixels
        np.testing.assert_allclose(out[0, 0], np.repeat(x[0, 0].sum(axis=0)[None] / 1e5, rows,
                                                        0), rtol=1e-6)
    assert peak < 4 * 100_005 * 5 * 4


def test_an_average_over_a_window_larger_than_its_input_counts_the_input_s_pixels_alone():
    """count_include_pad=False: a 41x1 window `pad same` over 5 rows covers them all at every
    output, whose count is 5 (not 41, nor the taps visited)."""
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4))
    out, cache = pool.avgpool_forward(x, (41, 1), (1, 1), (20, 20, 0, 0),
                                      count_include_pad=False)
    np.testing.assert_allclose(out, np.broadcast_to(x.mean(axis=2, keepdims=True), x.shape))
    dx = pool.avgpool_backward(np.ones_like(out), cache)
    np.testing.assert_allclose(dx, np.ones_like(x))


@pytest.mark.parametrize("forward", [
    lambda x: conv.conv2d_forward(x, np.ones((2, 3, 3, 3), np.float32), np.ones(2, np.float32),
                                  (1, 1), (1, 1, 1, 1))[0],
    lambda x: conv_tuned.conv2d_forward(x, np.ones((2, 3, 3, 3), np.float32),
                                        np.ones(2, np.float32), (1, 1), (1, 1, 1, 1))[0],
    lambda x: pool.maxpool_forward(x, (2, 2), (2, 2), (1, 0, 1, 0))[0],
    lambda x: pool.avgpool_forward(x, (3, 3), (1, 1), (1, 1, 1, 1))[0],
    lambda x: act.elu_forward(x, 1.0)[0],
    lambda x: act.leaky_relu_forward(x, 0.1)[0],
    lambda x: act.sigmoid_forward(x)[0],
    lambda x: act.softmax_forward(x)[0],
    lambda x: dropout.dropout_forward(x, 0.5, True, np.random.default_rng(0))[0],
    lambda x: norm.batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32),
                                     np.zeros(3, np.float32), np.ones(3, np.float32), True)[0],
])
def test_float32_stays_float32(forward):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 5)).astype(np.float32)
    assert forward(x).dtype == np.float32


def test_float32_losses_give_float32_gradients():
    logits = np.zeros((4, 3), np.float32)
    for loss in (losses.softmax_cross_entropy, losses.mse):
        _, dout = loss(logits, np.array([0, 1, 2, 0]))
        assert dout.dtype == np.float32


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1e4, 0.0]])
    loss, dlogits = losses.softmax_cross_entropy(logits, np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx(1e4 / 2)
    np.testing.assert_allclose(dlogits, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-12)


def test_cross_entropy_of_uniform_logits_is_log_k():
    loss, _ = losses.softmax_cross_entropy(np.zeros((3, 10)), np.array([1, 2, 3]))
    assert loss == pytest.approx(np.log(10))


def test_inverted_dropout_keeps_the_expectation_and_zeroes_p():
    x = np.ones((200, 500))
    out, _ = dropout.dropout_forward(x, 0.3, True, np.random.default_rng(0))
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.02
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7])
    same, _ = dropout.dropout_forward(x, 0.3, False, np.random.default_rng(0))
    assert same is x


@pytest.mark.parametrize("forward, mask_shape", [(dropout.dropout_forward, (6, 5, 4, 3)),
                                                 (dropout.dropout2d_forward, (6, 5, 1, 1))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keeps_the_values_whose_draw_is_at_least_p(forward, mask_shape, dtype):
    """The keep-mask is the model's stream's draws (in ``x``'s dtype) compared with ``p``,
    scaled by 1 / (1 - p); ``p`` 1 zeroes everything."""
    x = np.random.default_rng(1).standard_normal((6, 5, 4, 3)).astype(dtype)
    draws = np.random.default_rng(9).random(mask_shape, dtype=dtype)
    out, mask = forward(x, 0.4, True, np.random.default_rng(9))
    expected = np.where(draws >= 0.4, dtype(1 / 0.6), dtype(0))
    assert mask.dtype == dtype and mask.tobytes() == expected.tobytes()
    assert out.tobytes() == (x * expected).tobytes()
    out, mask = forward(x, 1.0, True, np.random.default_rng(9))
    assert not out.any() and mask.shape == mask_shape


def test_batchnorm_running_stats_follow_pytorch():
    x = np.random.default_rng(4).standard_normal((4, 2, 3, 3)) * 2 + 5
    mean, var = np.zeros(2), np.ones(2)
    out, _ = norm.batchnorm_forward(x, np.ones(2), np.zeros(2), mean, var, True, momentum=0.1)
    n = 4 * 3 * 3
    np.testing.assert_allclose(mean, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * n / (n - 1))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)
    evaluated, _ = norm.batchnorm_forward(x, np.ones(2), np.zeros(2), mean, var, False)
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(evaluated, expected)


def test_backward_never_writes_into_dout():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 4))
    dout = rng.standard_normal((2, 3, 4, 4))
    before = dout.copy()
    for forward, backward in [(act.relu_forward, act.relu_backward),
                              (act.softmax_forward, act.softmax_backward)]:
        backward(dout, forward(x)[1])
    norm.batchnorm_backward(dout, norm.batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3),
                                                         np.ones(3), True)[1])
    np.testing.assert_array_equal(dout, before)


def test_conv_over_uneven_batch_chunks_of_kept_columns(monkeypatch):
    """A first layer's columns are kept in chunks of a few images (7 = equal chunks and a
    shorter one here), built and multiplied as a batch of chunks plus the rest; the output
    and the weight gradient must equal the direct sums over images and pixels."""
    chunks_of_two = Thresholds(chunk_bytes=2 ** 30, chunk_columns=2 * 28 * 28)
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: chunks_of_two)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((7, 1, 28, 28)), rng.standard_normal((6, 1, 5, 5))
    out, cache = conv_tuned.conv2d_forward(x, w, None, (1, 1), (2, 2, 2, 2), work={})
    assert cache[-1] is not None  # the kept columns are what is under test
    assert conv_tuned.images_per_chunk(25, 28 * 28, 7, x.itemsize) == 2  # and a shorter last chunk
    dout = rng.standard_normal(out.shape)
    _, dw, _ = conv_tuned.conv2d_backward(dout, cache, need_dx=False)
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    windows_ = np.lib.stride_tricks.sliding_window_view(xp, (5, 5), axis=(2, 3))
    np.testing.assert_allclose(out, np.einsum("fcij,ncyxij->nfyx", w, windows_), atol=1e-10)
    np.testing.assert_allclose(dw, np.einsum("nfyx,ncyxij->fcij", dout, windows_), atol=1e-10)


def test_carve_again_tells_whether_the_array_is_new():
    """A buffer carved again at the same shape is the same memory with what was left in it;
    another shape, another dtype or no work dict is new (its borders must be written)."""
    work = {}
    first, new = windows.carve_again(work, "key", (2, 3), np.float64)
    assert new
    first[...] = 1.0
    again, new = windows.carve_again(work, "key", (2, 3), np.float64)
    assert not new and np.shares_memory(again, first) and (again == 1.0).all()
    assert windows.carve_again(work, "key", (3, 2), np.float64)[1]
    assert not windows.carve_again(work, "key", (3, 2), np.float64)[1]
    assert windows.carve_again(work, "key", (3, 2), np.float32)[1]
    assert windows.carve_again(work, "key", (40, 40), np.float32)[1]  # grown: new memory
    assert windows.carve_again(None, "key", (2, 3), np.float64)[1]


def test_strided_view_is_as_strided_on_the_buffer():
    """strided_view reads and writes the buffer's memory where as_strided's view does (here
    overlapping rows, as a phase's taps), read-only when asked, and a view past the buffer's
    end is refused rather than read."""
    buffer = np.arange(60.0).reshape(3, 20)
    strides = (160, 16, 8, 8)
    view = windows.strided_view(buffer, 3, (3, 2, 2, 10), strides, writeable=False)
    expected = np.lib.stride_tricks.as_strided(buffer.reshape(-1)[3:], (3, 2, 2, 10), strides)
    np.testing.assert_array_equal(view, expected)
    assert not view.flags.writeable and np.shares_memory(view, buffer)
    written = windows.strided_view(buffer, 1, (3, 4), (160, 8))
    written[...] = -1.0
    assert (buffer[:, 1:5] == -1.0).all() and (buffer[:, 5:] >= 0).all()
    with pytest.raises(ValueError):
        windows.strided_view(buffer, 11, (3, 2, 2, 10), strides)


def _relu_cases():
    """Arrays relu_into takes row by row against zeros (C order, a channel-first view, sizes
    with and without a tail) and those it leaves to np.maximum (small, strided)."""
    rng = np.random.default_rng(3)
    big = rng.standard_normal((3, 7, 41, 37))  # 31,857 values: one row of ZERO_ROW and a tail
    big.flat[[0, 5, 9, 11, 20000, -1]] = [np.nan, -np.inf, np.inf, -0.0, -np.nan, 0.0]
    channel_first = np.ascontiguousarray(big.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    return [big, channel_first, big[:, :, ::2], big[0, 0], np.ones(act.ZERO_ROW) * -1.5,
            rng.standard_normal(2 * act.ZERO_ROW)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(6))
def test_relu_into_gives_np_maximum_s_bits(dtype, case):
    """NaN stays NaN, -0.0 and -inf give +0.0, into a new array and in place alike."""
    x = _relu_cases()[case].astype(dtype)
    expected = np.maximum(x, 0)
    out = act.relu_into(x, np.empty_like(x))
    assert out.shape == x.shape and out.tobytes() == expected.tobytes()
    in_place = x.copy(order="K")
    assert act.relu_into(in_place, in_place) is in_place
    assert in_place.tobytes() == expected.tobytes()
    assert act.relu_forward(x)[0].tobytes() == expected.tobytes()


def test_relu_into_takes_a_contiguous_last_axis_as_rows_of_zeros():
    """Rows of a strided array (a chunk of a channel-first output) against a row of zeros:
    np.maximum's bits, the gaps between the rows untouched."""
    rng = np.random.default_rng(4)
    buffer = rng.standard_normal((8, 5, 300)).astype(np.float32)
    buffer[0, 1, :3] = [np.nan, -np.inf, -0.0]
    before = buffer.copy()
    rows = buffer[:, 1:3].reshape(8, 600)
    expected = np.maximum(rows, 0)
    assert act.relu_into(rows, rows) is rows and rows.tobytes() == expected.tobytes()
    assert np.array_equal(buffer[:, [0, 3, 4]], before[:, [0, 3, 4]])


def _activation_cases():
    """Every activation of the registry, each choice of a choice field (gelu's two forms)."""
    from cnnspec.kinds import ACTIVATIONS

    for name, kind in ACTIVATIONS.items():
        options = [(key, f.options) for key, f in kind.field_map.items() if f.options]
        defaults = {key: f.default for key, f in kind.field_map.items()}
        yield pytest.param(name, defaults, id=name)
        for key, choices in options:
            for choice in choices:
                if choice != defaults[key]:
                    yield pytest.param(name, {**defaults, key: choice}, id=f"{name}-{choice}")


@pytest.mark.parametrize("name, arguments", list(_activation_cases()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("error")
def test_activations_of_huge_inputs_are_finite_without_overflow(name, arguments, dtype):
    """A layer of weights N(0, 1e30^2) feeds its activation values near 1e30: GELU's tanh
    form gave NaN derivatives there (x^3 overflowed, then 0 * inf) and its exact form, like
    hardswish near the dtype's largest value, warned of an overflow on the way."""
    big = np.finfo(dtype).max / 4
    x = np.array([[-big, -1e30, -1e20, -50.0, 0.0, 50.0, 1e20, 1e30, big]], dtype)
    forward = getattr(act, f"{name}_forward")
    backward = getattr(act, f"{name}_backward")
    if name == "prelu":  # its slope is a weight, one per channel
        arguments = {"slope": np.full(x.shape[1], 0.25, dtype)}
    out, cache = forward(x, **arguments)
    dx = backward(np.ones_like(x), cache)
    dx = dx[0] if isinstance(dx, tuple) else dx
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    if name in ("gelu", "hardswish"):  # x or 0 out there, and the derivative 1 or 0
        np.testing.assert_array_equal(out, np.maximum(x, 0))
        np.testing.assert_array_equal(dx[np.abs(x) >= 50], (x[np.abs(x) >= 50] > 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("error")
def test_mish_is_x_or_0_far_out_without_a_warning_and_passes_nan(dtype):
    """At -1e4 and 1e4 mish is -0 and x, its derivative 0 and 1, with no exp overflowing
    (softplus as log(1 + exp(x)) overflows from x = 89 in float32); a NaN gives NaN both
    ways, with no invalid-value warning (numpy's logaddexp warns of one)."""
    x = np.array([-1e4, -1e3, 100.0, 1e4, np.nan], dtype)
    out, cache = act.mish_forward(x)
    dx = act.mish_backward(np.ones_like(x), cache)
    assert out.dtype == dx.dtype == dtype
    np.testing.assert_array_equal(out[:4], [0, 0, 100, 1e4])
    np.testing.assert_array_equal(dx[:4], [0, 0, 1, 1])
    assert np.isnan(out[4]) and np.isnan(dx[4])


@pytest.mark.parametrize("x_shape, kernel, stride, pads",
                         POOL_CASES + [((3, 2, 5, 5), (1, 1), (1, 1), (0, 0, 0, 0))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avgpool_adds_each_windows_pixels_in_row_major_order(x_shape, kernel, stride, pads,
                                                             dtype):
    """Bit for bit: pixel (0, 0) plus (0, 1), plus each next one in row-major order, times the
    inverse count, as the pool computed its means before its first two pixels went into one
    new array (a run's bits do not change with the pass saved)."""
    x = np.random.default_rng(3).standard_normal(x_shape).astype(dtype)
    out, (_, win, inverse) = pool.avgpool_forward(x, kernel, stride, pads)
    xp = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    expected = None
    for _, _, rows, cols in win.offsets():
        view = xp[:, :, rows, cols]
        expected = view.copy() if expected is None else expected + view
    expected *= inverse if np.isscalar(inverse) else inverse.astype(dtype)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("kernel", [(2, 2), (2, 1), (1, 2), (3, 2), (2, 4), (4, 4), (3, 8),
                                    (5, 1)])
def test_tied_windows_keep_the_same_first_hits_as_the_offset_loop(kernel):
    """Ties (the zeros after a ReLU, small integers), NaN and -inf: the hits kept by the
    bytes of each window row (pool._keep_first_hits) are those of the offset loop."""
    rng = np.random.default_rng(5)
    for trial in range(12):
        shape = (2, 3, kernel[0] * (1 + trial % 4), kernel[1] * (1 + trial % 3))
        x = rng.integers(-2, 2, shape).astype(np.float32)
        x[rng.random(shape) < 0.05 * (trial % 3 == 0)] = np.nan
        x[rng.random(shape) < 0.1 * (trial % 4 == 0)] = -np.inf
        win = pool._window(x, kernel, kernel, (0, 0, 0, 0))
        xp = np.ascontiguousarray(x.transpose(1, 0, 2, 3))
        best, hit = pool._tiled_max(xp, win)
        np.testing.assert_array_equal(hit, pool._first_hits(xp, best, win))


def test_padded_or_odd_width_tied_windows_take_the_offset_loop():
    hit = np.ones((1, 1, 4, 6), bool)
    assert not pool._keep_first_hits(hit, pool._window(hit, (2, 3), (2, 3), (0, 0, 0, 0)))
    assert not pool._keep_first_hits(hit, pool._window(hit, (2, 2), (2, 2), (1, 1, 1, 1)))
    assert hit.all()
