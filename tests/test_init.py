"""The initializer catalogue: fans, gains, descriptions, and the statistics of every scheme.

Statistical tolerances come from standard errors: a sample mean of ``n`` values has standard
error ``std / sqrt(n)``, a sample std about ``std * sqrt(kappa - 1) / (2 sqrt(n))`` (``kappa``
the kurtosis: 3 for a normal, 1.8 for a uniform); 5 of those never fail by chance, while a wrong
fan or gain moves the std by far more.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from cnnspec.errors import SpecError
from cnnspec.init import INIT_NAMES, canonical, create, describe, fans, gain

CONV = (512, 256, 3, 3)  # fan_in 2304, fan_out 4608; 1.2M values
DENSE = (300, 200)


# ---------------------------------------------------------------- fans and gains

@pytest.mark.parametrize("shape, expected", [
    ((16, 6, 5, 5), (150, 400)),
    ((8, 3, 3, 1), (9, 24)),
    ((10, 84), (84, 10)),
    ((7,), (7, 7)),
])
def test_fans(shape, expected):
    assert fans(shape) == expected


@pytest.mark.parametrize("gain_ir, expected", [
    ({"value": 0.5}, 0.5),
    ({"nonlinearity": "linear"}, 1.0),
    ({"nonlinearity": "sigmoid"}, 1.0),
    ({"nonlinearity": "tanh"}, 5 / 3),
    ({"nonlinearity": "relu"}, math.sqrt(2)),
    ({"nonlinearity": "leaky_relu", "slope": 0.2}, math.sqrt(2 / 1.04)),
    ({"nonlinearity": "leaky_relu"}, math.sqrt(2 / (1 + 0.01 ** 2))),
])
def test_gain_table(gain_ir, expected):
    assert gain(gain_ir) == pytest.approx(expected, rel=1e-15)


def test_unknown_nonlinearity_suggests_the_nearest():
    with pytest.raises(SpecError) as err:
        gain({"nonlinearity": "reLu"})
    assert err.value.hint == "did you mean relu?"


def test_fans_and_gains_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(16, 6, 5, 5), (8, 3, 3, 1), (10, 84)]:
        assert fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    for name in ["linear", "sigmoid", "tanh", "relu"]:
        assert gain({"nonlinearity": name}) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert gain({"nonlinearity": "leaky_relu", "slope": 0.3}) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.3))


# ---------------------------------------------------------------- names and describe

def test_canonical_fills_defaults_and_resolves_aliases():
    assert canonical({"name": "kaiming_normal"}) == {
        "name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}}
    assert canonical({"name": "dirac"}) == {"name": "identity"}
    assert set(INIT_NAMES) >= {"glorot_uniform", "he_normal", "lecun_normal", "orthogonal",
                               "identity", "literal", "gaussian", "x_kernel", "lsuv"}


@pytest.mark.parametrize("init, message", [
    ({"name": "he_norml"}, "unknown initializer"),
    ({"name": "normal", "mean": 0}, "needs std"),
    ({"name": "zeros", "value": 1}, "no parameter"),
    ({"name": "uniform", "low": 1, "high": -1}, "low < high"),
    ({"name": "variance_scaling", "scale": 1, "mode": "fan_sum", "distribution": "normal"},
     "fan mode"),
    ({"name": "variance_scaling", "scale": 1, "mode": "fan_in", "distribution": "cauchy"},
     "distribution"),
])
def test_bad_inits_are_spec_errors(init, message):
    with pytest.raises(SpecError, match=message) as err:
        describe(init, (16, 6, 3, 3))
    assert err.value.hint


def test_describe_he_normal_reads_like_the_paper():
    info = describe({"name": "he_normal"}, (16, 16, 3, 3))
    assert (info.distribution, info.fan_in, info.fan_out) == ("normal", 144, 144)
    assert info.std == pytest.approx(math.sqrt(2 / 144))
    assert info.short == "N(0, 0.118^2)"
    assert info.formula == "std = gain(relu) / sqrt(fan_in) = 1.414 / sqrt(144) = 0.118"
    assert info.random and not info.constant


def test_describe_glorot_uniform_bound():
    info = describe({"name": "glorot_uniform"}, (16, 6, 3, 3))
    assert info.bound == pytest.approx(math.sqrt(6 / (54 + 144)))
    assert info.std == pytest.approx(info.bound / math.sqrt(3))
    assert info.short == "U(-0.174, 0.174)"
    assert info.formula.endswith("= 1 * sqrt(6 / (54 + 144)) = 0.174")


def test_describe_truncated_variance_scaling_rescales_sigma():
    init = {"name": "variance_scaling", "scale": 2.0, "mode": "fan_in",
            "distribution": "truncated_normal"}
    info = describe(init, (16, 16, 3, 3))
    sigma = math.sqrt(2 / 144) / 0.87962566
    assert info.std == pytest.approx(math.sqrt(2 / 144))
    assert info.bound == pytest.approx(2 * sigma, rel=1e-7)
    assert info.short == f"TN(0, {sigma:.3g}^2, ±2σ)"


def test_describe_fans_override_for_a_bias():
    info = describe({"name": "he_uniform"}, (16,), fans=(144, 144))
    assert info.bound == pytest.approx(math.sqrt(2) * math.sqrt(3 / 144))
    assert (info.fan_in, info.fan_out) == (144, 144)


def test_constant_flag_only_when_every_element_is_one_value():
    shape = (4, 2, 3, 3)
    assert describe({"name": "zeros"}, shape).constant
    assert describe({"name": "constant", "value": 0.3}, shape).constant
    assert describe({"name": "box"}, shape).constant
    assert not describe({"name": "sobel_x"}, shape).constant
    assert not describe({"name": "identity"}, shape).constant
    assert describe({"name": "literal", "values": [[2, 2], [2, 2]]}, (4, 2, 2, 2)).constant


@pytest.mark.parametrize("init, shape, message", [
    ({"name": "literal", "values": [[1, 0], [0, 1]]}, (4, 2, 3, 3), "needs 3x3"),
    ({"name": "literal", "values": [[[1]], [[2]]]}, (4, 2, 1, 1), "needs 4x1x1"),
    ({"name": "literal", "values": [[1, 0], [0]]}, (4, 2, 2, 2), "differ in length"),
    ({"name": "sobel_x"}, (4, 2, 5, 5), "3x3 kernel"),
    ({"name": "x_kernel"}, (4, 2, 3, 5), "square"),
    ({"name": "gaussian", "sigma": 0}, (4, 2, 3, 3), "sigma > 0"),
    ({"name": "box"}, (10, 20), "conv kernel"),
    ({"name": "orthogonal"}, (10,), "at least 2 dimensions"),
])
def test_kernels_that_do_not_fit_are_spec_errors(init, shape, message):
    with pytest.raises(SpecError, match=message):
        describe(init, shape)
