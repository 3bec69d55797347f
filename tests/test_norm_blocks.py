"""Batch norm's statistics and backward pass over blocks of channels (cnnspec.engine.norm),
with and without the ReLU after it fused in, against the textbook formulas over a grid of
shapes and block sizes (one channel a block up to all of them): values, running statistics
and gradients to float64 rounding; the fused ReLU's gradient against finite differences."""
import numpy as np
import pytest
from gradcheck import numeric_grad, rel_error

from cnnspec.engine import footprint, norm

SHAPES = [(5, 3, 4, 3), (2, 6, 5, 5), (7, 4), (1, 5, 2, 7)]


def _reference(x, gamma, beta, mean, var, training, relu, dout, momentum=0.1, eps=1e-5):
    """out, running mean and variance, dx, dgamma, dbeta by Ioffe & Szegedy's formulas."""
    axes = (0, 2, 3) if x.ndim == 4 else (0,)
    shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    n = x.size // x.shape[1]
    if training:
        mu = x.mean(axis=axes)
        sigma2 = ((x - mu.reshape(shape)) ** 2).mean(axis=axes)
        mean = (1 - momentum) * mean + momentum * mu
        var = (1 - momentum) * var + momentum * sigma2 * n / max(n - 1, 1)
    else:
        mu, sigma2 = mean, var
    xhat = (x - mu.reshape(shape)) / np.sqrt(sigma2.reshape(shape) + eps)
    out = xhat * gamma.reshape(shape) + beta.reshape(shape)
    if relu:
        dout = dout * (out > 0)
        out = np.maximum(out, 0)
    dgamma, dbeta = (dout * xhat).sum(axis=axes), dout.sum(axis=axes)
    dxhat = dout * gamma.reshape(shape)
    inv_std = 1 / np.sqrt(sigma2.reshape(shape) + eps)
    if training:
        dx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                        - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    else:
        dx = dxhat * inv_std
    return out, mean, var, dx, dgamma, dbeta


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    if x.ndim == 4:  # channel-first memory seen as NCHW, as a conv's output
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    return (x, rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(c),
            rng.random(c) + 0.5, rng.standard_normal(shape))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block_values", [1, 130, 10 ** 9])  # 1 channel a block .. all
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("relu", [False, True])
def test_blocks_match_the_formulas(shape, block_values, training, relu, monkeypatch):
    monkeypatch.setattr(footprint, "NORM_BLOCK_VALUES", block_values)
    x, gamma, beta, mean, var, dout = _inputs(shape)
    want = _reference(x, gamma, beta, mean, var, training, relu, dout)
    running_mean, running_var = mean.copy(), var.copy()
    out, cache = norm.batchnorm_forward(x, gamma, beta, running_mean, running_var, training,
                                        relu=relu, work={})
    dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    for got, expected in zip((out, running_mean, running_var, dx, dgamma, dbeta), want):
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12)


def test_the_grid_has_several_blocks(monkeypatch):
    """The block sizes above do split the channels (the test could not fail else): of 6
    channels of 50 values, the machine's size makes one block, 130 values three, 1 six."""
    rows = np.zeros((6, 50))
    assert len(norm._channel_blocks(rows)) == 1
    for block_values, blocks in ((1, 6), (130, 3)):
        monkeypatch.setattr(footprint, "NORM_BLOCK_VALUES", block_values)
        assert len(norm._channel_blocks(rows)) == blocks


def test_a_block_holds_as_many_whole_channels_as_its_values_hold(monkeypatch):
    """Of 50 values a channel, two with a size of 100 (one with 99), three with 150, all six
    with 1000, one with 0: whatever the dtype, the cache or the pass."""
    rows = np.zeros((6, 50))
    for block_values, blocks in ((100, 3), (99, 6), (150, 2), (1000, 1), (0, 6)):
        monkeypatch.setattr(footprint, "NORM_BLOCK_VALUES", block_values)
        for dtype in (np.float32, np.float64):
            assert len(norm._channel_blocks(rows.astype(dtype))) == blocks


@pytest.mark.parametrize("training", [True, False])
def test_fused_relu_gradient_against_finite_differences(training, monkeypatch):
    monkeypatch.setattr(footprint, "NORM_BLOCK_VALUES", 36)  # two channels of 18 a block
    x, gamma, beta, mean, var, dout = _inputs((3, 4, 3, 2), seed=1)
    x = np.ascontiguousarray(x)  # perturbed in place by numeric_grad

    def loss():
        out, _ = norm.batchnorm_forward(x, gamma, beta, mean.copy(), var.copy(), training,
                                        relu=True)
        return float((out * dout).sum())

    _, cache = norm.batchnorm_forward(x, gamma, beta, mean.copy(), var.copy(), training,
                                      relu=True)
    dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    for grad, value in ((dx, x), (dgamma, gamma), (dbeta, beta)):
        assert rel_error(grad, numeric_grad(loss, value)) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_relu_mask_is_the_sign_of_the_forward_output(dtype):
    """The backward pass's mask (``centred * scale > threshold``, the shift negated,
    norm._masked) is exactly where the forward pass's output (``centred * scale + shift``,
    then the ReLU) is above 0: over random values, products that cancel the shift exactly,
    tiny and subnormal sums, zero and negative scales, infinities and NaN."""
    rng = np.random.default_rng(3)
    tiny = np.finfo(dtype).smallest_subnormal
    special = np.array([0.0, -0.0, 1.0, -1.0, tiny, -tiny, 3 * tiny, np.inf, -np.inf, np.nan])
    centred = np.concatenate([rng.standard_normal(200), special]).astype(dtype)
    scale = np.array([1.0, -1.5, 0.0, 0.3, np.inf, -np.inf, 1e-30, 7.0], dtype)
    centred = np.tile(centred, (len(scale), 1))
    shift = rng.standard_normal(len(scale)).astype(dtype)
    shift[:4] = -(centred[:4, 0] * scale[:4])  # each row's first product cancels its shift
    shift[4] = tiny
    drows = np.ones_like(centred)
    with np.errstate(invalid="ignore"):  # 0 times infinity: NaN, in both passes alike
        masked = norm._masked(drows, centred, scale, -shift, {}, slice(None))
        out = norm._normalise(centred, scale, shift, True, np.empty_like(centred))
    np.testing.assert_array_equal(masked, (out > 0).astype(dtype))
    assert (masked == 1).any() and (masked == 0).any()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block_values", [1, 130, 10 ** 9])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("owned", [False, True])
def test_a_spent_cache_gives_the_same_gradients_in_its_memory(shape, block_values, training,
                                                              relu, owned, monkeypatch):
    """``spend`` (a single-use cache, as the model's) writes ``dx`` over the cache's centred
    values, unless a fused ReLU's ``dx`` goes over an owned ``dout`` or its features-first
    copy: the same bits as into a new array; while ``dx`` is held, the next forward pass
    writes another buffer and leaves ``dx`` as it was."""
    monkeypatch.setattr(footprint, "NORM_BLOCK_VALUES", block_values)
    x, gamma, beta, mean, var, dout = _inputs(shape)
    work = {}

    def backward(spend):
        _, cache = norm.batchnorm_forward(x, gamma, beta, mean.copy(), var.copy(), training,
                                          relu=relu, work=work)
        return cache[0], norm.batchnorm_backward(dout.copy(), cache, True, work, owned, spend)

    _, expected = backward(spend=False)
    centred, spent = backward(spend=True)
    for got, want in zip(spent, expected):
        np.testing.assert_array_equal(got, want)
    dx = spent[0]
    rows_copied = not np.may_share_memory(norm._features_first(dout), dout)
    assert np.shares_memory(dx, centred) == (not (relu and (owned or rows_copied)))
    kept = dx.copy()
    backward(spend=False)
    np.testing.assert_array_equal(dx, kept)


def test_a_model_spends_its_batch_norms_caches():
    """The model runs each layer's backward pass once a forward pass and frees the cache after
    it, and says so to the layers (``single_use_cache``): a layer made alone keeps its cache
    whole through any number of backward passes."""
    import cnnspec
    from cnnspec.engine.layers import BatchNorm

    model = cnnspec.compile(cnnspec.load("specs/resnet_small.cnn"), seed=0)
    norms = [node.layer for node in model.nodes if node.kind == "batchnorm"]
    assert norms and all(layer.single_use_cache for layer in norms)
    assert not BatchNorm(3, np.float32).single_use_cache


def test_an_input_gradient_held_past_the_next_step_stays_as_it_was(tmp_path):
    """A batch norm reading the input hands the model's caller its dx, the memory of its
    centred values: the next step's forward pass writes another buffer while it is held."""
    import cnnspec

    (tmp_path / "bn.cnn").write_text("input 1x4x4\nbn: batchnorm\nflatten\nfc: dense 10\n"
                                     "train {\n  data shapes(size=4, count=100)\n}\n")
    model = cnnspec.compile(cnnspec.load(tmp_path / "bn.cnn"), seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 4, 4)).astype(np.float32)
    dout = rng.standard_normal((8, 10)).astype(np.float32)
    model.forward(x)
    dx = model.backward(dout)
    kept = dx.copy()
    model.forward(x * 3 + 1)
    model.backward(dout * 2)
    np.testing.assert_array_equal(dx, kept)
