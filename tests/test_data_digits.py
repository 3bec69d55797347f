"""The built-in digits dataset: contents, the fixed split, and the shipped file's provenance."""
import hashlib
import json
from importlib import resources

import numpy as np
import pytest

from cnnspec.data import Dataset, load_dataset
from cnnspec.data.dataset import class_quotas, stratified_split
from cnnspec.data.digits import TEST_COUNT, read_digits_csv

DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset({"name": "digits"}, seed=0)


def test_arrays_have_the_documented_shapes_and_types(digits):
    assert digits.name == "digits"
    assert digits.x_train.shape == (1437, 1, 8, 8)
    assert digits.x_test.shape == (360, 1, 8, 8)
    assert digits.x_train.dtype == np.float32 and digits.x_test.dtype == np.float32
    assert digits.y_train.dtype == np.int64 and digits.y_test.dtype == np.int64
    assert digits.classes == [str(d) for d in range(10)]
    assert digits.input_shape == (1, 8, 8)
    assert "Alpaydin" in digits.description and "\n" not in digits.description


def test_pixels_are_sixteenths_in_unit_range(digits):
    x = np.concatenate([digits.x_train, digits.x_test])
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x * 16, np.round(x * 16))


def test_split_is_the_documented_stratified_one(digits):
    assert np.bincount(digits.y_test).tolist() == [36, 37, 35, 37, 36, 36, 36, 36, 35, 36]
    assert np.bincount(digits.y_train).tolist() == [142, 145, 142, 146, 145, 146, 145, 143,
                                                     139, 144]


def test_split_partitions_all_images_and_ignores_the_seed(digits):
    x, y = read_digits_csv()
    assert len(x) == 1797
    rows = np.concatenate([digits.x_train, digits.x_test]).reshape(len(x), -1)
    labels = np.concatenate([digits.y_train, digits.y_test])
    # Same multiset of (image, label) rows as the file: nothing lost, nothing duplicated.
    whole = np.column_stack([x.reshape(len(x), -1), y])
    split = np.column_stack([rows, labels])
    np.testing.assert_array_equal(np.unique(whole, axis=0), np.unique(split, axis=0))
    other = load_dataset({"name": "digits"}, seed=123)
    np.testing.assert_array_equal(other.x_test, digits.x_test)
    np.testing.assert_array_equal(other.y_train, digits.y_train)


def test_labels_belong_to_their_images(digits):
    # A nearest-class-mean classifier gets about 90% on digits; misaligned labels give ~10%.
    means = np.stack([digits.x_train[digits.y_train == c].mean(axis=0) for c in range(10)])
    dist = ((digits.x_test[:, None] - means[None]) ** 2).sum(axis=(2, 3, 4))
    accuracy = (dist.argmin(axis=1) == digits.y_test).mean()
    assert accuracy > 0.85


def test_strokes_are_light_on_dark(digits):
    # Corners are background in almost every image; the documented polarity is dark background.
    corners = digits.x_train[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.mean() < 0.05
    assert digits.x_train.mean() < 0.5


def test_shipped_file_is_the_documented_copy():
    files = resources.files("cnnspec.data").joinpath("files")
    data = files.joinpath("digits.csv.gz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == DIGITS_SHA256
    licence = files.joinpath("DIGITS_LICENSE.txt").read_text(encoding="utf-8")
    assert DIGITS_SHA256 in licence and "CC BY 4.0" in licence


@pytest.mark.parametrize("counts,n_test,expected", [
    ([178, 182, 177, 183, 181, 182, 181, 179, 174, 180], TEST_COUNT,
     [36, 37, 35, 37, 36, 36, 36, 36, 35, 36]),
    ([5, 5], 3, [2, 1]),  # equal remainders: the lower class index wins
    ([10, 0, 10], 4, [2, 0, 2]),
])
def test_class_quotas_sum_to_the_test_count(counts, n_test, expected):
    quotas = class_quotas(np.array(counts), n_test)
    assert quotas.tolist() == expected
    assert quotas.sum() == n_test


def test_stratified_split_depends_only_on_its_generator():
    y = np.arange(100) % 4
    a = stratified_split(y, 20, np.random.default_rng(7))
    b = stratified_split(y, 20, np.random.default_rng(7))
    c = stratified_split(y, 20, np.random.default_rng(8))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    train, test = a
    assert np.bincount(y[test]).tolist() == [5, 5, 5, 5]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))


def test_description_is_json_safe(digits):
    assert json.loads(json.dumps(digits.description)) == digits.description
