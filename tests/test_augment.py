"""Data augmentation: each transform's output (shapes, values, exact flips and translations,
rotation), its determinism from the seed, its use on the training batches only, the language's
and the checker's located errors and warnings, and the ``cnnspec data`` picture."""
from __future__ import annotations

import numpy as np
import pytest

from cnnspec.data.augment import (
    Augmenter,
    batch_rng,
    crop,
    flip,
    noise,
    rotate,
    rotate_by,
    shift,
    translate,
)
from cnnspec.data.preprocess import Preprocessor
from cnnspec.errors import SpecError, SpecErrors
from cnnspec.lang import parse

FILL = np.zeros(2)
SCALE = np.ones(2)


def images(n=16, c=2, h=9, w=7, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(dtype)


def rng(seed=1):
    return np.random.default_rng(seed)


def moved(image, dy, dx, mode):
    """The oracle: ``image`` (C, H, W) translated by (dy, dx) with np.pad, one image at a time."""
    _, h, w = image.shape
    p = max(abs(dy), abs(dx), 1)
    padded = np.pad(image, ((0, 0), (p, p), (p, p)), mode=mode)
    return padded[:, p - dy:p - dy + h, p - dx:p - dx + w]


def translation_of(out, image, limit, mode):
    """The (dy, dx) within ``limit`` that turns ``image`` into ``out`` exactly, else None."""
    for dy in range(-limit, limit + 1):
        for dx in range(-limit, limit + 1):
            if np.array_equal(out, moved(image, dy, dx, mode)):
                return dy, dx
    return None


@pytest.mark.parametrize("transform, args, limit, mode", [
    (crop, {"pad": 2}, 2, "constant"), (shift, {"pixels": 3}, 3, "edge")])
def test_crop_and_shift_are_integer_translations_within_their_range(transform, args, limit,
                                                                    mode):
    x = images()
    before = x.copy()
    out = transform(x, rng(), FILL, SCALE, **args)
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(x, before)  # the input is left alone
    found = [translation_of(out[n], x[n], limit, mode) for n in range(len(x))]
    assert None not in found
    assert len(set(found)) > 5  # the offsets vary from image to image


def test_translate_fills_with_the_given_value_per_channel():
    x = np.ones((1, 2, 4, 4), dtype=np.float32)
    out = translate(x, np.array([1]), np.array([-2]), np.array([-3.0, 5.0]))
    assert np.all(out[0, 0, 0] == -3) and np.all(out[0, 1, :, 2:] == 5)
    assert np.all(out[0, :, 1:, :2] == 1)


@pytest.mark.parametrize("fill, mode", [(FILL, "constant"), (None, "edge")])
def test_a_move_beyond_the_image_is_a_move_by_its_side(fill, mode):
    """crop(pad=99999) moves images far beyond their side: the result is all fill (or the
    edge repeated), computed without padding the batch by the distance."""
    x = images(n=4)
    far = 10 ** 9
    dy, dx = np.array([far, -far, 3, 0]), np.array([0, 5, -far, far])
    out = translate(x, dy, dx, fill)
    _, _, h, w = x.shape
    for n in range(len(x)):
        expected = moved(x[n], int(np.clip(dy[n], -h, h)), int(np.clip(dx[n], -w, w)), mode)
        np.testing.assert_array_equal(out[n], expected)


def test_flip_mirrors_exactly_with_its_probability():
    x = images(n=200)
    out = flip(x, rng(), FILL, SCALE, p=0.5)
    mirrored = [np.array_equal(out[n], x[n, :, :, ::-1]) for n in range(len(x))]
    kept = [np.array_equal(out[n], x[n]) for n in range(len(x))]
    assert all(a != b for a, b in zip(mirrored, kept))
    assert 70 < sum(mirrored) < 130
    np.testing.assert_array_equal(flip(x, rng(), FILL, SCALE, p=1.0), x[..., ::-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotation_by_zero_is_the_identity(dtype):
    x = images(dtype=dtype)
    out = rotate_by(x, np.zeros(len(x)), FILL)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, x)


def test_rotations_by_right_angles_are_exact_turns():
    x = images(h=8, w=8)
    np.testing.assert_allclose(rotate_by(x, np.full(len(x), 90.0), FILL),
                               np.rot90(x, 1, axes=(2, 3)), atol=1e-5)
    np.testing.assert_allclose(rotate_by(x, np.full(len(x), 180.0), FILL),
                               x[:, :, ::-1, ::-1], atol=1e-5)


def test_a_rotation_blends_neighbours_and_fills_the_corners():
    x = images(n=32, h=12, w=12)
    out = rotate(x, rng(), FILL, SCALE, degrees=30)
    assert out.shape == x.shape
    assert out.min() >= 0 and out.max() <= 1  # bilinear: weighted means of pixels and fill
    turned = rotate_by(np.ones((1, 2, 12, 12)), np.array([45.0]), np.array([0.0, 0.0]))
    assert turned[0, :, 0, 0].max() == 0 and turned[0, :, 6, 6].min() == 1
    with np.errstate(all="raise"):  # no NaN or overflow from points far outside
        rotate_by(x, np.full(len(x), 180.0), FILL)


def test_noise_has_its_standard_deviation_times_each_channels_scale():
    x = np.zeros((64, 2, 16, 16), dtype=np.float32)
    out = noise(x, rng(), FILL, np.array([1.0, 4.0]), std=0.05)
    assert out.dtype == np.float32
    assert abs(out.mean()) < 0.01
    assert out[:, 0].std() == pytest.approx(0.05, rel=0.05)
    assert out[:, 1].std() == pytest.approx(0.2, rel=0.05)


def test_augmenting_preprocessed_images_equals_preprocessing_augmented_ones():
    """The padding of crop and rotate is black and the noise in pixel units, whatever the
    preprocessing."""
    x = images()
    pre = Preprocessor.fit("standardize", x)
    transforms = [{"name": "crop", "pad": 2}, {"name": "rotate", "degrees": 20.0},
                  {"name": "flip", "p": 0.5}, {"name": "noise", "std": 0.1}]
    raw_then_pre = pre.apply(Augmenter(transforms, 2)(x, rng(3)))
    pre_then_aug = Augmenter.for_preprocessor(transforms, pre)(pre.apply(x), rng(3))
    np.testing.assert_allclose(pre_then_aug, raw_then_pre, atol=1e-4)


def test_a_batchs_draws_depend_on_the_seed_epoch_and_batch_only():
    from cnnspec.seeding import streams

    transforms = [{"name": "crop", "pad": 2}, {"name": "noise", "std": 0.1}]
    x = images()
    augment = Augmenter(transforms, 2)

    def batch(seed, epoch, index, draw_before=0):
        stream = streams(seed)["augment"]
        stream.random(draw_before)  # what the stream drew before does not matter
        return augment(x, batch_rng(stream, epoch, index))

    np.testing.assert_array_equal(batch(0, 2, 3), batch(0, 2, 3, draw_before=5))
    assert not np.array_equal(batch(0, 2, 3), batch(0, 2, 4))
    assert not np.array_equal(batch(0, 2, 3), batch(0, 3, 3))
    assert not np.array_equal(batch(0, 2, 3), batch(1, 2, 3))


def test_the_augment_stream_leaves_the_other_streams_as_they_were():
    from cnnspec.seeding import STREAMS, streams

    assert STREAMS[:4] == ("init", "data_order", "dropout", "dataset")
    first_four = np.random.SeedSequence(7).spawn(4)
    for name, child in zip(STREAMS, first_four):
        assert streams(7)[name].random() == np.random.default_rng(child).random()


# -- the language and the checker ------------------------------------------------------------

NET = "input 1x8x8\nflatten\ndense 10\n"


def train_block(setting: str) -> str:
    return NET + f"train {{\n  {setting}\n}}\n"


def test_the_language_reads_a_list_or_one_transform_with_defaults():
    ir = parse(train_block("augment [crop(pad=2), flip, shift(1), rotate(10), noise(0.05)]")).ir
    assert ir["training"]["augment"] == [
        {"name": "crop", "pad": 2}, {"name": "flip", "p": 0.5}, {"name": "shift", "pixels": 1},
        {"name": "rotate", "degrees": 10.0}, {"name": "noise", "std": 0.05}]
    assert parse(train_block("augment flip")).ir["training"]["augment"] == [
        {"name": "flip", "p": 0.5}]
    assert parse(train_block("augment []")).ir["training"]["augment"] == []
    assert parse(NET).ir["training"]["augment"] == []


@pytest.mark.parametrize("setting, column, message", [
    ("augment [flip, crop(pad=0)]", 27, "pad of crop must be at least 1, not 0"),
    ("augment [flip, rotate(200)]", 25, "degrees of rotate must be in (0, 180], not 200"),
    ("augment [flop]", 12, "unknown transform 'flop'"),
    ("augment [noise(sigma=0.1)]", 18, "transform noise has no parameter 'sigma'"),
    ("augment 3", 11, "transform must be a name such as crop, not"),
])
def test_bad_transforms_are_errors_at_their_place(setting, column, message):
    with pytest.raises((SpecError, SpecErrors)) as info:
        parse(train_block(setting))
    error = getattr(info.value, "errors", [info.value])[0]
    assert error.message.startswith(message), error.message
    assert (error.span.line, error.span.column) == (5, column)
    assert error.hint


def check_text(text):
    from cnnspec.check.checker import check

    return check(parse(text))


def test_flip_on_digits_and_a_translation_of_half_the_image_are_warnings_at_their_place():
    checked = check_text(train_block("augment [crop(pad=4), shift(1), flip]"))
    warnings = {(w.span.line, w.span.column): w.message for w in checked.warnings}
    assert warnings.keys() == {(5, 21), (5, 35)}
    assert "half of its 8-pixel side" in warnings[(5, 21)]
    assert "flip mirrors the digits images" in warnings[(5, 35)]
    assert not check_text(train_block("augment [crop(pad=2), shift(1), rotate(30)]")).warnings
    (turned,) = check_text(train_block("augment rotate(120)")).warnings
    assert "a 6 turned half way round is a 9" in turned.message
    assert (turned.span.line, turned.span.column) == (5, 18)


def test_flip_on_shapes_is_fine():
    text = ("input 1x16x16\nflatten\ndense 3\ntrain {\n  data shapes(classes=[x, o, plus])\n"
            "  augment flip\n}\n")
    assert not check_text(text).warnings


# -- training --------------------------------------------------------------------------------

SPEC = """\
model augmented
input 1x8x8
conv1: conv 4 3x3 pad same
relu
flatten
fc: dense 2

train {{
  data shapes(size=8, classes=[x, plus], count=120)
  {augment}
  batch 20
  epochs 2
  seed 3
}}
"""
FAST = {"progress": "none", "curves": False}


def write_spec(tmp_path, augment):
    path = tmp_path / f"spec{len(list(tmp_path.iterdir()))}.cnn"
    path.write_text(SPEC.format(augment=augment))
    return path


def test_augmentation_changes_neither_the_initial_weights_nor_only_what_it_should(
        tmp_path, monkeypatch):
    """On: the same initial weights, the batches of the same images in the same order (each
    batch augmented once, the validation and test images never), other trained weights."""
    import cnnspec
    from cnnspec.data import augment as module
    from cnnspec.training.files import read_npz

    seen = []
    real_call = module.Augmenter.__call__

    def spy(self, x, rng):
        seen.append(len(x))
        return real_call(self, x, rng)

    monkeypatch.setattr(module.Augmenter, "__call__", spy)
    plain = cnnspec.train(write_spec(tmp_path, ""), run_dir=tmp_path / "plain", **FAST)
    assert seen == []
    on = cnnspec.train(write_spec(tmp_path, "augment [crop(pad=1), noise(0.1)]"),
                       run_dir=tmp_path / "on", **FAST)
    assert len(seen) == on.summary["steps"] and sum(seen) == 2 * 86
    init_plain, init_on = read_npz(plain.path / "init.npz"), read_npz(on.path / "init.npz")
    for key in init_plain:
        np.testing.assert_array_equal(init_plain[key], init_on[key])
    assert not np.array_equal(plain.model.params()["fc.weight"], on.model.params()["fc.weight"])
    again = cnnspec.train(write_spec(tmp_path, "augment [crop(pad=1), noise(0.1)]"),
                          run_dir=tmp_path / "again", **FAST)
    np.testing.assert_array_equal(again.model.params()["fc.weight"],
                                  on.model.params()["fc.weight"])


def test_the_data_command_writes_a_png_of_each_class(tmp_path, capsys):
    from cnnspec.cli import main

    spec = write_spec(tmp_path, "augment [crop(pad=1), rotate(15), noise(0.05)]")
    out = tmp_path / "grid.png"
    assert main(["data", str(spec), "-o", str(out), "--per-class", "3"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out}" in capsys.readouterr().out
    plain = write_spec(tmp_path, "")
    assert main(["data", str(plain), "-o", str(tmp_path / "plain.png")]) == 0
    assert (tmp_path / "plain.png").is_file()
    with pytest.raises(SystemExit) as exit_info:
        main(["data", str(spec), "-o", str(tmp_path / "x.png"), "--per-class", "0"])
    assert exit_info.value.code == 2
    assert "--per-class: must be at least 1" in capsys.readouterr().err
    assert main(["data", str(spec), "-o", str(tmp_path / "x.png"), "--per-class", "17"]) == 2
    assert "--per-class must be between 1 and 16" in capsys.readouterr().err


def test_an_ir_from_before_augmentation_reads_as_training_without_it():
    from cnnspec.ir.io import validate
    from cnnspec.ir.migrate import IR_VERSION, upgrade

    ir = parse(NET).ir
    del ir["training"]["augment"]
    ir["version"] = 6
    upgrade(ir)
    assert ir["version"] == IR_VERSION and ir["training"]["augment"] == []
    validate(ir)


def test_the_picture_draws_colour_images_and_classes_with_fewer_images(tmp_path):
    from cnnspec.render.augment_grid import plot_augmented

    x = images(n=3, c=3, h=8, w=8)
    originals = [x, x[:1]]  # the second class has one image only
    augmented = [Augmenter([{"name": "noise", "std": 0.3}], 3)(o, rng()) for o in originals]
    out = plot_augmented(originals, augmented, ["cat", "dog"], tmp_path / "rgb.png", "title")
    assert out.read_bytes()[:4] == b"\x89PNG"
