"""The synthetic shapes dataset: defaults, determinism, speed, and what each class looks like."""
import hashlib

import numpy as np
import pytest

from cnnspec.data import SHAPE_CLASSES, SHAPES_DEFAULTS, load_dataset
from cnnspec.data.synthetic_shapes import (
    LUMA_WEIGHTS,
    MIN_LUMA_CONTRAST,
    draw_colours,
    draw_shapes,
    generate_shapes,
    stroke_distance,
)
from cnnspec.errors import SpecError
from cnnspec.seeding import streams


def test_defaults_are_the_documented_ones():
    assert SHAPES_DEFAULTS == {"size": 16, "classes": list(SHAPE_CLASSES), "count": 4000,
                               "noise": 0.1, "colour": False}
    assert SHAPE_CLASSES == ("x", "plus", "o", "square", "hbar", "vbar", "diag", "antidiag",
                             "triangle", "diamond")


def test_the_shipped_data_schema_is_generated_from_the_dataset_table():
    from cnnspec.ir.datasets_schema import data_schema
    from cnnspec.ir.io import schema

    assert schema()["$defs"]["data"] == data_schema(), "run python tools/generate.py"


def test_the_schema_knows_the_declared_datasets_arguments_and_bounds():
    """The IR schema's data part says what cnnspec/ir/datasets.py declares, no more."""
    from cnnspec.ir.datasets import DATASETS
    from cnnspec.ir.io import schema

    data = schema()["$defs"]["data"]
    assert set(data["properties"]["name"]["enum"]) == set(DATASETS)
    branches = {rule["if"]["properties"]["name"]["const"]: rule["then"]
                for rule in data["allOf"]}
    assert set(branches) == set(DATASETS)
    for name, kind in DATASETS.items():
        properties = branches[name]["properties"]
        assert sorted(properties) == sorted(["name", *(arg.name for arg in kind.args)])
        for arg in kind.args:
            bound = properties[arg.name]
            if arg.kind == "classes":
                assert bound["items"]["enum"] == list(SHAPE_CLASSES)
                assert bound["minItems"] == arg.minimum
            elif arg.kind == "path":
                assert bound["minLength"] == 1
            elif arg.kind == "bool":
                assert bound == {"type": "boolean"}
            else:
                if "$ref" in bound:  # "#/$defs/size"
                    bound = schema()["$defs"][bound["$ref"].rsplit("/", 1)[1]]
                assert bound["minimum"] == arg.minimum, (name, arg.name)


def test_default_dataset_is_filled_in_and_split_80_20():
    data = load_dataset({"name": "shapes"}, seed=0)
    assert data.x_train.shape == (3200, 1, 16, 16) and data.x_test.shape == (800, 1, 16, 16)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.classes == list(SHAPE_CLASSES)
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    labels = np.concatenate([data.y_train, data.y_test])
    assert np.bincount(labels).tolist() == [400] * 10


def test_class_subset_sets_the_label_order():
    data = load_dataset({"name": "shapes", "classes": ["o", "x"], "count": 100, "size": 12,
                         "noise": 0.0}, seed=1)
    assert data.classes == ["o", "x"]
    assert data.x_train.shape == (80, 1, 12, 12)
    x_images = np.concatenate([data.x_train[data.y_train == 1], data.x_test[data.y_test == 1]])
    o_images = np.concatenate([data.x_train[data.y_train == 0], data.x_test[data.y_test == 0]])
    # An X is ink on its two diagonals through its centre; an O leaves its centre dark.
    assert center_ink(x_images) > 0.5 > center_ink(o_images)


def center_ink(images):
    """Mean brightness of the pixels nearest each image's ink centroid."""
    values = []
    for img in images[:, 0]:
        ys, xs = np.indices(img.shape)
        cy, cx = (ys * img).sum() / img.sum(), (xs * img).sum() / img.sum()
        near = np.hypot(ys - cy, xs - cx) <= 1.0
        values.append(img[near].max())
    return float(np.mean(values))


def test_same_seed_same_images_from_the_dataset_stream_only():
    cfg = {"name": "shapes", "count": 200}
    a = load_dataset(cfg, seed=3)
    b = load_dataset(dict(cfg), seed=3)
    c = load_dataset(cfg, seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    x, y = generate_shapes(16, list(SHAPE_CLASSES), 200, 0.1, streams(3)["dataset"])
    np.testing.assert_array_equal(np.concatenate([a.x_train, a.x_test]), x)
    np.testing.assert_array_equal(np.concatenate([a.y_train, a.y_test]), y)


@pytest.mark.parametrize("size", [4, 5, 8])
def test_small_images_keep_every_shape_inside(size):
    for kind in SHAPE_CLASSES:
        images = draw_shapes(kind, 50, size, np.random.default_rng(0))
        assert images.shape == (50, size, size)
        assert np.all(images.reshape(50, -1).max(axis=1) > 0.25), kind


def ink_moments(kind, size=16, n=64):
    """Covariance of the ink's (y, x) positions, per image: (n, 2, 2)."""
    images = draw_shapes(kind, n, size, np.random.default_rng(0))
    ys, xs = np.indices((size, size))
    out = []
    for img in images:
        w = img / img.sum()
        my, mx = (w * ys).sum(), (w * xs).sum()
        vy, vx = (w * (ys - my) ** 2).sum(), (w * (xs - mx) ** 2).sum()
        cov = (w * (ys - my) * (xs - mx)).sum()
        out.append([[vy, cov], [cov, vx]])
    return np.array(out)


def test_bars_and_diagonals_have_their_orientation():
    hbar, vbar = ink_moments("hbar"), ink_moments("vbar")
    assert np.all(hbar[:, 1, 1] > 4 * hbar[:, 0, 0])
    assert np.all(vbar[:, 0, 0] > 4 * vbar[:, 1, 1])
    for kind, sign in (("diag", 1), ("antidiag", -1)):
        m = ink_moments(kind)
        corr = m[:, 0, 1] / np.sqrt(m[:, 0, 0] * m[:, 1, 1])
        assert np.all(sign * corr > 0.8), kind


@pytest.mark.parametrize("kind", ["x", "plus", "o", "square", "diamond"])
def test_symmetric_shapes_have_no_dominant_direction(kind):
    m = ink_moments(kind)
    corr = m[:, 0, 1] / np.sqrt(m[:, 0, 0] * m[:, 1, 1])
    assert np.all(np.abs(corr) < 0.3)
    assert np.all(np.abs(np.log(m[:, 0, 0] / m[:, 1, 1])) < 0.5)


def test_a_triangle_points_up_with_its_base_at_the_bottom():
    # The base carries 2r of the outline's 6.5r of ink at y = +r, so the ink's centroid lies
    # about 0.31 r below the middle of its bounding box; and the bottom rows are the widest.
    images = draw_shapes("triangle", 64, 32, np.random.default_rng(0))
    ys = np.arange(32)
    for img in images:
        rows = np.flatnonzero(img.max(axis=1) > 0.3)
        top, bottom = rows.min(), rows.max()
        centroid = (img.sum(axis=1) * ys).sum() / img.sum()
        assert centroid > (top + bottom) / 2 + 1
        widths = (img > 0.3).sum(axis=1)
        assert widths[bottom - 1:bottom + 1].max() > 2 * widths[top:top + 2].max()


EARLIER_LABELS = [0, 2, 1, 1, 1, 0, 2, 0, 0, 1]
EARLIER_INK_SUMS = [13.18, 8.15239, 20.3591, 16.0588, 12.9752]


def test_old_classes_draw_the_same_images_as_before_the_new_ones():
    # Same seed, same class list without the new classes: the images do not depend on which
    # classes exist. (A digest of images drawn before triangle and diamond were added.)
    x, y = generate_shapes(8, ["x", "o", "hbar"], 30, 0.1, np.random.default_rng(7))
    assert y.tolist()[:10] == EARLIER_LABELS
    np.testing.assert_allclose(x.reshape(30, -1).sum(axis=1)[:5], EARLIER_INK_SUMS, rtol=1e-5)


R = 4.0
ROOT2 = np.sqrt(2.0)


@pytest.mark.parametrize("kind,point,distance", [
    ("hbar", (0, R), 0.0), ("hbar", (1, 0), 1.0), ("hbar", (0, R + 2), 2.0),
    ("vbar", (R, 0), 0.0), ("vbar", (0, 1), 1.0),
    ("diag", (R, R), 0.0), ("diag", (-1, -1), 0.0), ("diag", (1, -1), ROOT2),
    ("antidiag", (-R, R), 0.0), ("antidiag", (1, 1), ROOT2),
    ("x", (R, R), 0.0), ("x", (R, -R), 0.0), ("x", (0, 2), ROOT2),
    ("plus", (0, -R), 0.0), ("plus", (R, 0), 0.0), ("plus", (R, R), R),
    ("o", (0, R), 0.0), ("o", (R / ROOT2, -R / ROOT2), 0.0), ("o", (0, 0), R),
    ("o", (R, R), R * (ROOT2 - 1)),
    ("square", (R, R), 0.0), ("square", (0, -R), 0.0), ("square", (0, 0), R),
    ("square", (R + 1, 0), 1.0), ("square", (R + 3, R + 4), 5.0),
    ("diamond", (R, 0), 0.0), ("diamond", (0, -R), 0.0), ("diamond", (R / 2, R / 2), 0.0),
    ("diamond", (0, 0), R / ROOT2), ("diamond", (R, R), R / ROOT2), ("diamond", (R + 2, 0), 2.0),
    ("triangle", (-R, 0), 0.0), ("triangle", (R, -R), 0.0), ("triangle", (R, 0), 0.0),
    ("triangle", (0, R / 2), 0.0), ("triangle", (0, 0), R / np.sqrt(5.0)),
    ("triangle", (R + 1, 0), 1.0), ("triangle", (-R - 2, 0), 2.0),
])
def test_stroke_distance_is_the_distance_to_the_centre_line(kind, point, distance):
    dy, dx = (np.array([[[float(v)]]]) for v in point)
    d = stroke_distance(kind, dy, dx, np.array([[[R]]]))
    np.testing.assert_allclose(d, [[[distance]]], atol=1e-12)


def test_noise_free_images_have_a_dark_background():
    x, _ = generate_shapes(16, list(SHAPE_CLASSES), 80, 0.0, np.random.default_rng(0))
    assert np.mean(x == 0) > 0.6
    # A 1-pixel stroke whose centre line falls between two pixel rows lights both at half
    # strength, so the brightest pixel is at least half the dimmest brightness (0.6).
    assert np.all(x.reshape(80, -1).max(axis=1) >= 0.3)


@pytest.mark.parametrize("cfg,key", [
    ({"size": 3}, "size"),
    ({"size": 16.5}, "size"),
    ({"classes": ["x", "star"]}, "classes"),
    ({"classes": ["x"]}, "classes"),
    ({"classes": ["x", "x"]}, "classes"),
    ({"count": 10}, "count"),
    ({"noise": -0.1}, "noise"),
    ({"nosie": 0.1}, "nosie"),
    ({"colour": 1}, "colour"),
    ({"colour": "true"}, "colour"),
    ({"colour": True, "size": 64, "count": 30_000}, "count"),
])
def test_bad_settings_are_spec_errors_at_their_json_path(cfg, key):
    with pytest.raises(SpecError) as info:
        load_dataset({"name": "shapes", **cfg}, seed=0)
    assert info.value.json_path == f"$.training.data.{key}"
    assert info.value.hint


# generate_shapes(16, all classes, 200, 0.1, seed 0's dataset stream): images and labels as
# cnnspec drew them before colour existed. Greyscale must stay bitwise what it was.
GREYSCALE_DIGEST = "849cfd0c5142d8bab1970fec8d6d6cba4838304997289c14daab2b11d6882132"


def test_greyscale_images_are_bitwise_what_they_were():
    x, y = generate_shapes(16, list(SHAPE_CLASSES), 200, 0.1, streams(0)["dataset"])
    assert hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest() == GREYSCALE_DIGEST
    default = load_dataset({"name": "shapes", "count": 200}, seed=0)
    grey = load_dataset({"name": "shapes", "count": 200, "colour": False}, seed=0)
    np.testing.assert_array_equal(default.x_train, grey.x_train)
    np.testing.assert_array_equal(default.y_test, grey.y_test)


def test_colour_images_have_three_channels_in_range():
    data = load_dataset({"name": "shapes", "size": 12, "count": 100, "colour": True}, seed=0)
    assert data.x_train.shape == (80, 3, 12, 12) and data.x_test.shape == (20, 3, 12, 12)
    assert data.x_train.dtype == np.float32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.description.startswith("synthetic colour shapes")


def test_colour_images_are_drawn_from_the_seed():
    cfg = {"name": "shapes", "count": 100, "colour": True}
    a, b = load_dataset(cfg, seed=5), load_dataset(dict(cfg), seed=5)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, load_dataset(cfg, seed=6).x_train)


def test_colour_places_the_same_shapes_as_greyscale():
    """The colours only paint the strokes: a clean colour image's distance from its background
    colour is zero exactly where the greyscale image of the same seed has no ink."""
    grey, y = generate_shapes(16, list(SHAPE_CLASSES), 100, 0.0, streams(2)["dataset"])
    colour, y_colour = generate_shapes(16, list(SHAPE_CLASSES), 100, 0.0,
                                       streams(2)["dataset"], colour=True)
    np.testing.assert_array_equal(y, y_colour)
    clear = grey[:, 0, 0, 0] == 0  # images whose top-left pixel is background
    assert clear.sum() > 80
    background = colour[clear][:, :, :1, :1]
    paint = np.abs(colour[clear] - background).max(axis=1)
    np.testing.assert_array_equal(paint > 1e-6, grey[clear, 0] > 0)


def test_colours_vary_and_contrast():
    shape, background = draw_colours(2000, np.random.default_rng(0))
    assert shape.shape == background.shape == (2000, 3)
    assert np.all(np.abs((shape - background) @ LUMA_WEIGHTS) >= MIN_LUMA_CONTRAST)
    # Both colours spread over the RGB cube, each channel, and either may be the lighter.
    for colours in (shape, background):
        assert np.all(colours.min(axis=0) < 0.05) and np.all(colours.max(axis=0) > 0.95)
    lighter_shape = np.mean(shape @ LUMA_WEIGHTS > background @ LUMA_WEIGHTS)
    assert 0.4 < lighter_shape < 0.6


def test_no_class_can_be_told_by_its_colours():
    """Each class's mean shape and background colours are the overall ones, within sampling
    error: the colours are drawn independently of the labels."""
    x, y = generate_shapes(8, list(SHAPE_CLASSES), 4000, 0.0, np.random.default_rng(0),
                           colour=True)
    # An image's lightest and darkest pixels hold its two colours (whichever is the shape's).
    luma = np.einsum("nchw,c->nhw", x, LUMA_WEIGHTS.astype(np.float32)).reshape(len(x), -1)
    flat = x.reshape(len(x), 3, -1)
    light = flat[np.arange(len(x)), :, luma.argmax(axis=1)]
    dark = flat[np.arange(len(x)), :, luma.argmin(axis=1)]
    for colours in (light, dark):
        overall = colours.mean(axis=0)
        for label in range(len(SHAPE_CLASSES)):
            # 400 images a class, a channel's standard deviation below 0.3: the standard
            # error of a class mean is below 0.015.
            np.testing.assert_allclose(colours[y == label].mean(axis=0), overall, atol=0.06)


def test_noise_free_colour_images_hold_only_the_two_colours_and_their_blends():
    x, _ = generate_shapes(16, ["x", "o"], 20, 0.0, np.random.default_rng(1), colour=True)
    for image in x:
        pixels = image.reshape(3, -1).T
        ends = pixels[[np.argmin(pixels @ LUMA_WEIGHTS), np.argmax(pixels @ LUMA_WEIGHTS)]]
        # Every pixel lies on the segment between the two colours.
        t = (pixels - ends[0]) @ (ends[1] - ends[0]) / np.sum((ends[1] - ends[0]) ** 2)
        np.testing.assert_allclose(ends[0] + t[:, None] * (ends[1] - ends[0]), pixels,
                                   atol=1e-5)


@pytest.mark.filterwarnings("error")
def test_noise_beyond_float32_draws_the_images_a_large_finite_noise_draws():
    """Every pixel is clipped to [0, 1], so huge noise makes each one 0 or 1 by its sign; a
    noise of 1e300 drew values float32 cannot hold (a RuntimeWarning in the cast)."""
    huge, _ = generate_shapes(8, ["x", "o"], 20, 1e300, np.random.default_rng(3))
    large, _ = generate_shapes(8, ["x", "o"], 20, 1e30, np.random.default_rng(3))
    np.testing.assert_array_equal(huge, large)
    assert set(np.unique(huge)) == {0.0, 1.0}


def _turned(kind: str, degrees: float, r: float = 0.5, grid: int = 41) -> np.ndarray:
    """The stroke distance of ``kind`` of half-size ``r`` over a grid about its centre, the
    grid turned by ``degrees`` (the shape turned the other way)."""
    dy, dx = np.mgrid[-1:1:grid * 1j, -1:1:grid * 1j]
    t = np.radians(degrees)
    y, x = dy * np.cos(t) - dx * np.sin(t), dy * np.sin(t) + dx * np.cos(t)
    return stroke_distance(kind, y[None], x[None], np.full((1, 1, 1), r))


def test_the_classes_a_mirror_turns_into_one_another_are_the_registrys():
    """The dataset registry's mirror_pairs, which check's flip warning reads, are the
    drawing's: a mirrored diag is an antidiag, and every other class its own mirror image."""
    from cnnspec.ir.datasets import DATASETS

    partner = {}
    for a, b in DATASETS["shapes"].mirror_pairs:
        partner[a], partner[b] = b, a
    for kind in SHAPE_CLASSES:
        mirrored = _turned(kind, 0)[..., ::-1]
        np.testing.assert_allclose(mirrored, _turned(partner.get(kind, kind), 0), atol=1e-12,
                                   err_msg=kind)


def test_the_classes_a_turn_makes_one_another_are_the_registrys():
    """Each of the registry's turn_pairs: one class turned by the pair's angle (one way or the
    other) is the other class, at another size where the two span the box differently (an x's
    strokes run corner to corner, a plus's side to side; the images draw sizes at random),
    and by half of it (the warning's threshold) it is neither."""
    from cnnspec.ir.datasets import DATASETS

    sizes = (0.5, 0.5 * np.sqrt(2), 0.5 / np.sqrt(2))
    for turn, a, b in DATASETS["shapes"].turn_pairs:
        assert any(np.allclose(_turned(a, sign * turn), _turned(b, 0, r), atol=1e-9)
                   for sign in (1, -1) for r in sizes), (turn, a, b)
        assert not any(np.allclose(_turned(a, turn / 2), _turned(b, 0, r), atol=1e-3)
                       for r in sizes)


def test_noise_drawn_in_parts_is_the_noise_drawn_at_once(monkeypatch):
    """The noise is added a part at a time (no float64 draws of the whole set at once): the
    generator draws the same values, so the images are the same to the bit."""
    import cnnspec.data.synthetic_shapes as shapes

    whole = generate_shapes(8, list(SHAPE_CLASSES), 150, 0.3, np.random.default_rng(2),
                            colour=True)
    monkeypatch.setattr(shapes, "NOISE_PART", 500)  # 2 colour 8x8 images a part, then 1 left
    parts = generate_shapes(8, list(SHAPE_CLASSES), 150, 0.3, np.random.default_rng(2),
                            colour=True)
    for a, b in zip(whole, parts):
        np.testing.assert_array_equal(a, b)
