"""Facts that check's lints share with one another and with the lab, each held in one place:
the dtype's limits that the signal-scale warning reads, the figure its message names, and the
two shares that describe a ReLU mostly dead (cnnspec/check/scale.py, signal.py, lints.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cnnspec.check import check
from cnnspec.dtypes import FORMATS
from cnnspec.lang import parse

# A bias before a dense layer of 10 scores: the biases raise the scores (signal-scale).
BIASED = "input 1x8x8\nconv 4 3x3 relu bias constant({})\nflatten\ndense 10\n"


def _scale_warnings(text: str, dtype: str = "float32") -> list:
    return [w for w in check(parse(text, "net.cnn"), dtype=dtype).warnings
            if w.lint == "signal-scale"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_largest_root_is_the_largest_value_whose_square_the_dtype_holds(dtype):
    root = FORMATS[dtype].largest_root
    with np.errstate(over="ignore"):
        assert np.isfinite(np.square(np.array(root, dtype=dtype)))
        assert not np.isfinite(np.square(np.array(root * (1 + 1e-6), dtype=dtype)))
    assert root == pytest.approx(math.sqrt(float(np.finfo(dtype).max)))


@pytest.mark.parametrize("bias", ["1e160", "1e300"])
def test_float64_biases_whose_square_overflows_are_warned(bias):
    """Their square is beyond float64's range: the estimate is infinite or NaN, where it
    said nothing of the scores; float32 refuses such a bias outright."""
    [warning] = _scale_warnings(BIASED.format(bias), "float64")
    assert warning.message.startswith(f"the biases of conv 'conv1' start with a root mean "
                                      f"square of {bias}, beyond the square root of float64's "
                                      f"largest number ({FORMATS['float64'].largest_text})")
    assert (warning.span.line, warning.span.column) == (2, 17)
    assert "1.3e154" in warning.hint


def test_a_float64_bias_whose_square_it_holds_is_the_scores_warning():
    [warning] = _scale_warnings(BIASED.format("1e150"), "float64")
    assert "The biases raise them" in warning.message
