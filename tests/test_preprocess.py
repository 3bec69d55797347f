"""Preprocessing: per-channel training statistics, no in-place change, a JSON round trip."""
import json

import numpy as np
import pytest

from cnnspec.data import PREPROCESS_MODES, Preprocessor
from cnnspec.errors import RunError


@pytest.fixture
def x_train():
    rng = np.random.default_rng(0)
    scale = np.array([0.1, 0.3, 0.05]).reshape(1, 3, 1, 1)
    shift = np.array([0.2, 0.5, 0.8]).reshape(1, 3, 1, 1)
    return (shift + scale * rng.standard_normal((20, 3, 5, 5))).astype(np.float32)


def test_none_leaves_values_alone(x_train):
    out = Preprocessor.fit("none", x_train).apply(x_train)
    np.testing.assert_array_equal(out, x_train)
    assert out is not x_train and out.dtype == np.float32


def test_zero_center_removes_the_channel_means(x_train):
    out = Preprocessor.fit("zero_center", x_train).apply(x_train)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), x_train.std(axis=(0, 2, 3)), rtol=1e-5)


def test_standardize_gives_zero_mean_unit_std_per_channel(x_train):
    pre = Preprocessor.fit("standardize", x_train)
    out = pre.apply(x_train)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, rtol=1e-4)
    np.testing.assert_allclose(pre.mean, [0.2, 0.5, 0.8], atol=0.03)


def test_statistics_come_from_the_training_split_only(x_train):
    pre = Preprocessor.fit("standardize", x_train)
    other = x_train + 1.0
    out = pre.apply(other)
    # Shifted data keeps the training transform: its mean moves by 1 / std, not back to 0.
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 1.0 / pre.std, rtol=1e-4)


def test_apply_never_changes_the_callers_array(x_train):
    before = x_train.copy()
    for mode in PREPROCESS_MODES:
        Preprocessor.fit(mode, x_train).apply(x_train)
    np.testing.assert_array_equal(x_train, before)


def test_single_image_and_float64_input(x_train):
    pre = Preprocessor.fit("standardize", x_train)
    one = pre.apply(x_train[0].astype(np.float64))
    assert one.shape == (3, 5, 5) and one.dtype == np.float32
    np.testing.assert_allclose(one, pre.apply(x_train)[0], rtol=1e-6)


def test_a_float64_run_preprocesses_in_float64_and_float32_as_before(x_train):
    """A float64 run's inputs were computed in float32 and widened: float32's rounding went
    into every layer. float32 stays what it was, to the bit."""
    pre = Preprocessor.fit("standardize", x_train)
    wide = pre.apply(x_train, "float64")
    assert wide.dtype == np.float64
    exact = (x_train.astype(np.float64) - pre.mean.reshape(-1, 1, 1)) / pre.std.reshape(-1, 1, 1)
    np.testing.assert_array_equal(wide, exact)
    narrow = pre.apply(x_train)
    was = ((x_train - pre.mean.astype(np.float32).reshape(-1, 1, 1))
           / pre.std.astype(np.float32).reshape(-1, 1, 1))
    assert narrow.dtype == np.float32 and np.array_equal(narrow, was)
    assert not np.array_equal(narrow.astype(np.float64), wide)


def test_constant_channel_is_not_divided_by_zero():
    x = np.zeros((4, 2, 3, 3), dtype=np.float32)
    x[:, 1] = np.arange(36, dtype=np.float32).reshape(4, 3, 3) / 36
    out = Preprocessor.fit("standardize", x).apply(x)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:, 0], 0)


def test_json_round_trip_gives_the_same_transform(x_train):
    pre = Preprocessor.fit("standardize", x_train)
    back = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back.mode == "standardize"
    np.testing.assert_array_equal(back.apply(x_train), pre.apply(x_train))


def test_unknown_mode_and_wrong_channels_are_run_errors(x_train):
    with pytest.raises(RunError, match="unknown preprocess mode"):
        Preprocessor.fit("whiten", x_train)
    pre = Preprocessor.fit("standardize", x_train)
    with pytest.raises(RunError, match="channels"):
        pre.apply(np.zeros((2, 1, 5, 5), dtype=np.float32))


@pytest.mark.parametrize("record", [
    {"mode": "standardize", "mean": [0.1]},
    {"mode": "standardize", "mean": [0.1], "std": [0.0]},
    {"mode": "standardize", "mean": [0.1, 0.2], "std": [1.0]},
    # finite in float64, but infinite or 0 in the float32 that apply() computes in
    {"mode": "standardize", "mean": [1e308], "std": [1.0]},
    {"mode": "standardize", "mean": [0.1], "std": [1e-308]},
    {"mode": "standardize", "mean": [10**400], "std": [1.0]},  # no float64 holds it
    {"mode": "fancy", "mean": [0.1], "std": [1.0]},
    "standardize",
])
def test_malformed_records_are_run_errors(record):
    with pytest.raises(RunError):
        Preprocessor.from_dict(record)


# Inputs for predict: images and arrays read as one (C, H, W) training-like image

def draw_bar(path, size, background, ink, mode="L"):
    """A vertical bar 3 pixels wide down the middle of a square image."""
    from PIL import Image, ImageDraw

    image = Image.new(mode, (size, size), background)
    mid = size // 2
    ImageDraw.Draw(image).rectangle([mid - 1, 2, mid + 1, size - 3], fill=ink)
    image.save(path)
    return path


def test_dark_on_light_image_is_resized_and_inverted(tmp_path):
    from cnnspec.data import load_image

    x, note = load_image(draw_bar(tmp_path / "one.png", 28, 255, 0), (1, 8, 8))
    assert x.shape == (1, 8, 8) and x.dtype == np.float32
    assert note == ("resized 28x28 -> 8x8; inverted to light strokes on a dark background, "
                    "like the training data")
    assert x[0, :, 0].max() == 0.0  # background is now dark
    assert x[0, 2:6, 3:5].min() > 0.3  # the bar is light


def test_light_on_dark_image_of_the_right_size_is_untouched(tmp_path):
    from cnnspec.data import load_image

    path = draw_bar(tmp_path / "bar.png", 8, 0, 200)
    x, note = load_image(path, (1, 8, 8))
    assert note is None
    assert x[0, 4, 4] == pytest.approx(200 / 255) and x[0, 0, 0] == 0.0


def test_polarity_can_be_forced(tmp_path):
    from cnnspec.data import load_image

    path = draw_bar(tmp_path / "bar.png", 8, 0, 255)
    x, note = load_image(path, (1, 8, 8), invert=True)
    assert x[0, 0, 0] == 1.0 and "inverted" in note
    y, note = load_image(draw_bar(tmp_path / "w.png", 8, 255, 0), (1, 8, 8), invert=False)
    assert y[0, 0, 0] == 1.0 and note is None


def test_colour_jpeg_to_three_channels_and_grey_model(tmp_path):
    from cnnspec.data import load_image

    path = draw_bar(tmp_path / "c.jpg", 16, (255, 0, 0), (0, 0, 255), mode="RGB")
    x, note = load_image(path, (3, 16, 16))
    assert x.shape == (3, 16, 16) and note is None
    assert x[0, 0, 0] > 0.8 and x[2, 0, 0] < 0.2  # red background, channel-first
    assert x[2, 8, 8] > 0.8
    grey, _ = load_image(path, (1, 4, 4))
    assert grey.shape == (1, 4, 4)


def test_upscaling_small_images(tmp_path):
    from cnnspec.data import load_image

    x, note = load_image(draw_bar(tmp_path / "s.png", 8, 0, 255), (1, 16, 20))
    assert x.shape == (1, 16, 20) and note == "resized 8x8 -> 16 high x 20 wide"


def test_resize_note_names_each_side(tmp_path):
    """A bare 30x20 read backwards beside image tools' width x height: each side named, in
    the spec's order (input CxHxW)."""
    from PIL import Image

    from cnnspec.data import load_image

    path = tmp_path / "tall.png"
    Image.new("L", (20, 30), 0).save(path)  # Pillow sizes are (width, height)
    _, note = load_image(path, (1, 8, 6))
    assert note == "resized 30 high x 20 wide -> 8 high x 6 wide"


def test_colour_image_for_a_grey_model_says_it_was_converted(tmp_path):
    from cnnspec.data import load_image

    path = draw_bar(tmp_path / "c.png", 8, (0, 0, 0), (255, 0, 0), mode="RGB")
    x, note = load_image(path, (1, 8, 8))
    assert x.shape == (1, 8, 8) and note == "converted RGB to greyscale"
    _, grey_note = load_image(draw_bar(tmp_path / "g.png", 8, 0, 255), (1, 8, 8))
    assert grey_note is None


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA"])
def test_a_grey_or_transparent_image_for_a_colour_model_says_it_was_converted(tmp_path, mode):
    """They were converted in silence: a grey picture has no colour for the model to tell,
    and a transparent one loses its transparency."""
    from PIL import Image

    from cnnspec.data import load_image

    Image.new(mode, (8, 8)).save(tmp_path / "p.png")
    x, note = load_image(tmp_path / "p.png", (3, 8, 8))
    assert x.shape == (3, 8, 8) and note == f"converted {mode} to RGB"
    Image.new("RGB", (8, 8)).save(tmp_path / "rgb.png")
    assert load_image(tmp_path / "rgb.png", (3, 8, 8))[1] is None


def test_wrong_size_array_is_named_in_the_shape_it_was_saved(tmp_path):
    from cnnspec.data import load_image

    path = tmp_path / "a.npy"
    np.save(path, np.zeros((16, 16), np.float32))
    with pytest.raises(RunError, match=r"shape \(16, 16\); the model takes") as info:
        load_image(path, (1, 8, 8))
    assert "not resized" in info.value.hint


def test_a_batch_of_another_size_is_told_the_models_size_side_by_side():
    from cnnspec.data.images import input_batch

    with pytest.raises(RunError) as info:
        input_batch(np.zeros((2, 1, 6, 8)), (1, 8, 6))
    assert info.value.hint == ("arrays are not resized: resize the images to the model's "
                               "input 8 high x 6 wide first")


@pytest.mark.parametrize("array,shape", [
    (np.full((1, 5, 5), 128, dtype=np.uint8), (1, 5, 5)),
    (np.full((5, 5), 0.5), (1, 5, 5)),
    (np.full((3, 2, 4), 0.5, dtype=np.float32), (3, 2, 4)),
])
def test_npy_inputs(tmp_path, array, shape):
    from cnnspec.data import load_image

    np.save(tmp_path / "a.npy", array)
    x, note = load_image(tmp_path / "a.npy", shape)
    assert x.shape == shape and x.dtype == np.float32 and note is None
    np.testing.assert_allclose(x, 0.5, atol=0.01)


@pytest.mark.parametrize("array,shape,message", [
    (np.zeros((1, 5, 5)), (1, 8, 8), r"shape \(1, 5, 5\); the model takes \(1, 8, 8\)"),
    (np.zeros((5, 5)), (3, 5, 5), r"the model takes \(3, 5, 5\)"),
    (np.full((1, 2, 2), np.inf), (1, 2, 2), "NaN or infinite"),
    (np.full((1, 2, 2), 3.5), (1, 2, 2), r"outside \[0, 1\]"),
])
def test_bad_npy_inputs(tmp_path, array, shape, message):
    from cnnspec.data import load_image

    np.save(tmp_path / "a.npy", array)
    with pytest.raises(RunError, match=message):
        load_image(tmp_path / "a.npy", shape)


def test_unreadable_inputs(tmp_path):
    from cnnspec.data import load_image

    with pytest.raises(RunError, match="not found"):
        load_image(tmp_path / "nothing.png", (1, 8, 8))
    (tmp_path / "fake.png").write_text("hello")
    with pytest.raises(RunError, match="cannot read .* as an image"):
        load_image(tmp_path / "fake.png", (1, 8, 8))
    draw_bar(tmp_path / "ok.png", 8, 0, 255)
    with pytest.raises(RunError, match="4-channel"):
        load_image(tmp_path / "ok.png", (4, 8, 8))


def test_a_folder_or_a_missing_file_as_input_says_which(tmp_path):
    from cnnspec.data import load_image

    with pytest.raises(RunError, match="is a folder, not an image") as info:
        load_image(tmp_path, (1, 8, 8))
    assert "*.png" in info.value.hint
    with pytest.raises(RunError, match="input not found") as info:
        load_image(tmp_path / "absent.png", (1, 8, 8))
    assert info.value.hint


def test_sixteen_bit_png_keeps_its_grey_levels(tmp_path):
    from PIL import Image

    from cnnspec.data import load_image

    ramp = np.linspace(0, 65535, 64).reshape(8, 8).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    x, _ = load_image(path, (1, 8, 8), invert=False)
    np.testing.assert_allclose(x[0], ramp / 65535.0, atol=1 / 255)  # not all clipped to white


def test_formula_says_each_mode_with_its_numbers():
    """The words an export prints for whoever applies the preprocessing elsewhere."""
    mean, std = np.array([0.25, 0.5]), np.array([0.125, 2.0])
    assert Preprocessor("standardize", mean, std).formula() == \
        "(x - mean) / std per channel, mean [0.25, 0.5], std [0.125, 2]"
    assert Preprocessor("zero_center", mean, np.ones(2)).formula() == \
        "x - mean per channel, mean [0.25, 0.5]"
    assert Preprocessor("none", np.zeros(2), np.ones(2)).formula() == "x"


def test_statistics_of_picked_images_read_in_parts_are_numpys(x_train, monkeypatch):
    """Read a few images at a time (no float64 copy of the whole set), by index or all: the
    statistics are NumPy's of the picked images to rounding."""
    from cnnspec.data import preprocess

    monkeypatch.setattr(preprocess, "STATS_PART", 3)
    picked = np.random.default_rng(1).permutation(len(x_train))[:13]
    for images, chosen in ((x_train, picked), (x_train, None)):
        expected = images if chosen is None else images[chosen]
        fitted = Preprocessor.fit("standardize", images, chosen)
        np.testing.assert_allclose(fitted.mean, expected.mean(axis=(0, 2, 3), dtype=np.float64),
                                   rtol=1e-13)
        np.testing.assert_allclose(fitted.std, expected.std(axis=(0, 2, 3), dtype=np.float64),
                                   rtol=1e-13)


def test_in_place_apply_transforms_a_copy_where_it_is_as_apply_does(x_train):
    pre = Preprocessor.fit("standardize", x_train)
    copy = x_train.copy()
    out = pre.apply(copy, in_place=True)
    assert out is copy
    np.testing.assert_array_equal(out, pre.apply(x_train))
    # an array of another dtype cannot hold the result: a new array, the caller's unchanged
    as_float64 = x_train.astype(np.float64)
    assert pre.apply(as_float64, "float32", in_place=True) is not as_float64
    np.testing.assert_array_equal(as_float64, x_train.astype(np.float64))
