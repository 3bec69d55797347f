"""The synthetic shapes dataset: defaults, determinism, speed, and what each class looks like."""
import time

import numpy as np
import pytest

from cnnspec.data import SHAPE_CLASSES, SHAPES_DEFAULTS, load_dataset
from cnnspec.data.synthetic_shapes import draw_shapes, generate_shapes, stroke_distance
from cnnspec.errors import SpecError
from cnnspec.seeding import streams


def test_defaults_are_the_documented_ones():
    assert SHAPES_DEFAULTS == {"size": 16, "classes": list(SHAPE_CLASSES), "count": 4000,
                               "noise": 0.1}
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


def test_generation_is_fast():
    start = time.perf_counter()
    load_dataset({"name": "shapes"}, seed=0)
    assert time.perf_counter() - start < 1.0


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
])
def test_bad_settings_are_spec_errors_at_their_json_path(cfg, key):
    with pytest.raises(SpecError) as info:
        load_dataset({"name": "shapes", **cfg}, seed=0)
    assert info.value.json_path == f"$.training.data.{key}"
    assert info.value.hint
