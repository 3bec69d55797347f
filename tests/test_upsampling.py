"""Transposed convolution and upsampling beyond the registry's generated cases: the language's
words and errors, PyTorch's fans, and what Caffe's bilinear recipe computes."""
import math

import numpy as np
import pytest

import cnnspec


def _check_text(tmp_path, text):
    from cnnspec.cli import main

    path = tmp_path / "net.cnn"
    path.write_text(text)
    return main(["check", str(path)])


def _load(tmp_path, text):
    path = tmp_path / "net.cnn"
    path.write_text(text)
    return cnnspec.load(path)


def _outputs_of(checked, names, x):
    model = cnnspec.compile(checked, dtype="float64")
    model.record = True
    model.forward(x)
    return [model.activations[name] for name in names]


def test_conv_transpose_reads_its_options_and_has_pytorchs_fans(tmp_path):
    torch = pytest.importorskip("torch")
    checked = _load(tmp_path, "input 1x8x8\nc: conv 3 4x4\nup: deconv 8 3x3 stride 2 pad 1 "
                              "output_pad 1 "
                              "groups 1 relu\nsame: conv_transpose 4 2x3 stride 3 pad same "
                              "groups 4 nobias\nflatten\ndense 10\n")
    up, same = checked.by_name["up"], checked.by_name["same"]
    assert up.ir["kind"] == "conv_transpose" and up.ir["output_pad"] == [1, 1]
    assert up.output_shape == (8, 10, 10) and same.output_shape == (4, 30, 30)
    assert up.weight_shape == (3, 8, 3, 3) and same.weight_shape == (8, 1, 2, 3)
    for info in (up, same):
        weight = torch.empty(info.weight_shape)
        assert (info.fan_in, info.fan_out) == torch.nn.init._calculate_fan_in_and_fan_out(weight)
    assert (up.fan_in, up.fan_out) == (8 * 9, 3 * 9)


@pytest.mark.parametrize("line, where, message, hint", [
    ("conv_transpose 4 3x3 stride 2 output_pad 2", "3:31",
     ("output_pad 2x2 of conv_transpose 'conv_transpose1' must be smaller than its stride 2 "
      "or its dilation 1"), "0 to stride - 1"),
    ("conv_transpose 4 3x3 stride 2 pad same output_pad 1", "3:40", "takes no output_pad",
     "leave out output_pad"),
    ("conv_transpose 4 1x1 pad 1", "3:22", "crops away its whole output: 0x0 from a 2x2",
     "pad at most"),
    ("conv_transpose 4 3x3 groups 3", "3:22", "conv_transpose 'conv_transpose1' has 3 groups",
     "groups 2 does"),
])
def test_conv_transpose_errors_are_located_with_a_hint(tmp_path, capsys, line, where, message,
                                                      hint):
    code = _check_text(tmp_path, f"input 1x8x8\nconv 2 7x7\n{line}\nflatten\n"
                                 "dense 10\n")
    err = capsys.readouterr().err
    assert code == 2
    assert f"net.cnn:{where}: error: " in err and message in err
    assert "hint:" in err and hint in err.split("hint:")[1]


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_caffes_bilinear_recipe_is_bilinear_interpolation_of_the_zero_bordered_input(
        tmp_path, factor):
    """Caffe's recipe for upsampling by f (caffe/include/caffe/filler.hpp, BilinearFiller):
    Deconvolution with kernel 2f - f%2, stride f, pad ceil((f - 1) / 2), group = channels, the
    bilinear filler, no bias. It computes ``F.interpolate(mode='bilinear',
    align_corners=False)`` of the input surrounded by one pixel of zeros, cropped back by f:
    inside, the same as interpolating the input itself; on the border ring, where
    ``F.interpolate`` repeats the edge pixel, the zeros outside weigh in."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    f, channels = factor, 3
    kernel, pad = 2 * f - f % 2, math.ceil((f - 1) / 2)
    checked = _load(tmp_path, f"input 1x8x8\nc: conv {channels} 4x3\n"
                              f"up: conv_transpose {channels} {kernel}x"
                              f"{kernel} stride {f} pad {pad} groups {channels} weight bilinear "
                              f"nobias\nflatten\ndense 10\n")
    assert checked.by_name["up"].output_shape == (channels, 5 * f, 6 * f)
    x, up = _outputs_of(checked, ("c", "up"), np.random.default_rng(f).random((2, 1, 8, 8)))
    t = torch.from_numpy(x)
    bordered = functional.interpolate(functional.pad(t, (1, 1, 1, 1)), scale_factor=f,
                                      mode="bilinear", align_corners=False)
    np.testing.assert_allclose(up, bordered[..., f:-f, f:-f].numpy(), rtol=0, atol=1e-12)
    plain = functional.interpolate(t, scale_factor=f, mode="bilinear",
                                   align_corners=False).numpy()
    np.testing.assert_allclose(up[..., f:-f, f:-f], plain[..., f:-f, f:-f], rtol=0, atol=1e-12)
    assert np.abs(up - plain).max() > 0.1  # the border differs


def test_upsample_reads_its_factor_and_mode(tmp_path):
    checked = _load(tmp_path, "input 1x8x8\nc: conv 2 3x3 stride 2 pad same\n"
                              "a: upsample 2 bilinear\nb: upsampling 2x3 <- c\n"
                              "m: upsample 2 mode nearest <- c\nconcat(a, m)\nflatten\n"
                              "dense 10\n")
    a, b, m = (checked.by_name[name] for name in "abm")
    assert (a.ir["factor"], a.ir["mode"], a.output_shape) == ([2, 2], "bilinear", (2, 8, 8))
    assert (b.ir["factor"], b.ir["mode"], b.output_shape) == ([2, 3], "nearest", (2, 8, 12))
    assert m.ir["mode"] == "nearest"
    x, up = _outputs_of(checked, ("c", "m"), np.random.default_rng(0).random((2, 1, 8, 8)))
    np.testing.assert_array_equal(up, x.repeat(2, axis=2).repeat(2, axis=3))


@pytest.mark.parametrize("line, where, message, hint", [
    ("upsample 2 bicubic", "2:12", "unknown upsampling mode 'bicubic'", "bilinear, nearest"),
    ("upsample 2 bilinear nearest", "2:21", "unknown option 'nearest'", "mode"),
    ("flatten\nupsample 2", "3:1", "needs a (C, H, W) feature map", "before"),
])
def test_upsample_errors_are_located_with_a_hint(tmp_path, capsys, line, where, message, hint):
    code = _check_text(tmp_path, f"input 1x8x8\n{line}\nflatten\ndense 10\n")
    err = capsys.readouterr().err
    assert code == 2
    assert f"net.cnn:{where}: error: " in err and message in err
    assert "hint:" in err and hint in err.split("hint:")[1]


def test_the_signal_estimate_counts_the_products_each_transposed_output_sums(tmp_path):
    """Each output of a transposed convolution sums C/G·kh·kw·H·W / (Ho·Wo) products on
    average (about C·kh·kw / stride²), not its fan_in (F·kh·kw, PyTorch's): with a fixed weight
    c and independent unit inputs, E[out^2] is exactly c² times that."""
    from cnnspec.check.signal import second_moments

    checked = _load(tmp_path, "input 1x8x8\nc: conv 3 5x5 weight constant(0.1) nobias\n"
                              "up: conv_transpose 6 3x3 stride 2 weight constant(0.5) nobias\n"
                              "flatten\ndense 10\n")
    up = checked.by_name["up"]
    assert up.output_shape == (6, 9, 9) and up.fan_in == 6 * 9
    terms = 3 * 9 * 16 / 81
    moments = second_moments(checked.layers)
    assert moments["up"] / moments["c"] == pytest.approx(0.25 * terms)
    from cnnspec.engine.transposed import conv_transpose2d_forward

    x = np.random.default_rng(0).standard_normal((4000, 3, 4, 4))
    out, _ = conv_transpose2d_forward(x, np.full(up.weight_shape, 0.5), None, 1, (2, 2),
                                      (1, 1), (0, 0), (9, 9))
    assert np.mean(out ** 2) == pytest.approx(0.25 * terms, rel=0.02)


def test_filter_pictures_regroup_a_transposed_weight_by_output_channel(tmp_path):
    from cnnspec.render.run_pictures import as_filters

    checked = _load(tmp_path, "input 1x8x8\nc: conv 4 3x3\nup: conv_transpose 6 2x3 stride 2 "
                              "groups 2\nflatten\ndense 10\n")
    up = checked.by_name["up"]
    weight = np.random.default_rng(0).standard_normal(up.weight_shape)  # (4, 3, 2, 3)
    filters = as_filters(up, weight)
    assert filters.shape == (6, 2, 2, 3)
    for f in range(6):
        group, within = divmod(f, 3)
        for c in range(2):
            np.testing.assert_array_equal(filters[f, c], weight[group * 2 + c, within])
    conv = checked.by_name["c"]
    assert as_filters(conv, weight) is weight


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride, dilation, groups, crop", [
    ((4, 4), (2, 2), (1, 1), 1, (1, 1)),  # the usual 2x upsampler
    ((3, 2), (1, 3), (2, 1), 2, (0, 2)),  # uneven kernel and stride, dilated, grouped, cropped
    ((1, 1), (2, 2), (1, 1), 4, (0, 0)),  # depthwise 1x1: gaps between the taps
])
def test_a_transposed_conv_in_chunks_of_images_is_the_whole_batchs(monkeypatch, kernel, stride,
                                                                  dilation, groups, crop, dtype):
    """Forward and backward chunk of images by chunk (two a chunk, a shorter last one) give
    what one chunk of the whole batch gives: the same products, only fewer columns held."""
    from cnnspec.engine import transposed
    from cnnspec.shapes import transposed_output_size

    rng = np.random.default_rng(7)
    n, c, f, hw = 5, 4, 8, (5, 6)
    x = rng.standard_normal((n, c, *hw)).astype(dtype)
    w = rng.standard_normal((c, f // groups, *kernel)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    out_hw = tuple(transposed_output_size(s, k, st, p, 0, d)
                   for s, k, st, p, d in zip(hw, kernel, stride, crop, dilation))
    args = (groups, stride, dilation, crop, out_hw)

    def step(chunk):
        monkeypatch.setattr(transposed, "images_per_chunk", lambda rows, size, count, item: chunk)
        out, cache = transposed.conv_transpose2d_forward(x, w, b, *args)
        dout = np.linspace(-1, 1, out.size, dtype=dtype).reshape(out.shape)
        return (out, *transposed.conv_transpose2d_backward(dout, cache))

    # the weight gradient sums its chunks' products in another order: rounding apart
    close = 1e-12 if dtype == np.float64 else 1e-5
    for whole, chunked in zip(step(n), step(2)):
        np.testing.assert_allclose(chunked, whole, rtol=close, atol=close)
