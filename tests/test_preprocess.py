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
    {"mode": "fancy", "mean": [0.1], "std": [1.0]},
    "standardize",
])
def test_malformed_records_are_run_errors(record):
    with pytest.raises(RunError):
        Preprocessor.from_dict(record)
