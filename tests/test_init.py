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

from cnnspec.check import check
from cnnspec.cli import main
from cnnspec.errors import SpecError
from cnnspec.init import ALIASES, INIT_NAMES, canonical, create, describe, fans, gain, presets
from cnnspec.init.catalogue import BY_NAME, TORCH_RESET
from cnnspec.init.gains import (
    GAUSS_HERMITE_POINTS,
    MOMENT_KEEPING,
    _normal_rule,
    fixed_point_slope,
    gaussian_second_moment,
    second_moment_gain,
)
from cnnspec.init.presets import PRESETS
from cnnspec.kinds import KINDS
from cnnspec.lang import parse

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


# ---------------------------------------------------------------- gains that keep the second moment

DRAWS = 1_000_000


@pytest.mark.parametrize("name", [*MOMENT_KEEPING, "tanh", "sigmoid"])
def test_gauss_hermite_second_moments_match_monte_carlo(name):
    """E[f(z)^2] by quadrature against 10^6 draws: within 5 standard errors of the draws' mean
    (the standard error measured from the draws, about 0.1% of the moment), a test that fails
    by chance about once in 2 million seeds, and never with the seed fixed."""
    f = MOMENT_KEEPING.get(name) or KINDS[name].increasing
    squares = np.vectorize(f)(np.random.default_rng(0).standard_normal(DRAWS)) ** 2
    standard_error = squares.std() / math.sqrt(DRAWS)
    assert abs(gaussian_second_moment(f) - squares.mean()) < 5 * standard_error


def test_the_gauss_hermite_rule_is_numpy_s():
    """The rule is computed without NumPy (check imports none); NumPy's hermegauss holds it."""
    nodes, weights = _normal_rule()
    numpy_nodes, numpy_weights = np.polynomial.hermite_e.hermegauss(GAUSS_HERMITE_POINTS)
    np.testing.assert_allclose(sorted(nodes), numpy_nodes, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(weights)[np.argsort(nodes)],
                               numpy_weights / numpy_weights.sum(), rtol=1e-9, atol=1e-300)


def test_the_second_moment_gain_is_he_s_for_relu_and_1_for_the_identity():
    assert second_moment_gain(lambda t: max(t, 0.0)) == pytest.approx(math.sqrt(2), rel=1e-12)
    assert second_moment_gain(lambda t: t) == pytest.approx(1.0, rel=1e-12)


def test_the_fixed_point_holds_for_elu_not_for_gelu_silu_hardswish_mish():
    assert fixed_point_slope(lambda t: max(t, 0.0)) == pytest.approx(1.0, abs=1e-9)
    assert fixed_point_slope(MOMENT_KEEPING["elu"]) < 0.95
    for name in ("gelu", "silu", "hardswish"):
        assert fixed_point_slope(MOMENT_KEEPING[name]) > 1.1
    assert fixed_point_slope(MOMENT_KEEPING["mish"]) > 1.05  # 1.076


def test_the_language_takes_the_new_names_as_gains(tmp_path):
    text = "model g\ninput 1x8x8\nc1: conv 4 3x3 gelu weight he_normal(gain=gelu)\n" \
           "flatten\nout: dense 10\n"
    checked = check(parse(text))
    assert checked.ir["layers"][0]["weight_init"]["gain"] == {"nonlinearity": "gelu"}
    path = tmp_path / "net.cnn"
    path.write_text(text)
    ir_path = tmp_path / "net.json"
    assert main(["export", str(path), "-o", str(ir_path)]) == 0  # the schema takes it
    assert main(["check", str(ir_path)]) == 0


# ---------------------------------------------------------------- names and describe

def test_canonical_fills_defaults_and_resolves_aliases():
    assert canonical({"name": "kaiming_normal"}) == {
        "name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}}
    assert canonical({"name": "dirac"}) == {"name": "identity"}
    assert set(INIT_NAMES) >= {"glorot_uniform", "he_normal", "lecun_normal", "orthogonal",
                               "identity", "literal", "gaussian", "x_kernel", "lsuv"}


@pytest.mark.parametrize("init, message", [
    ({"name": "he_norml"}, "unknown initializer"),
    ({"name": "trunc_normal_"}, "unknown initializer"),
    ({"name": "xavier_uniform_"}, "unknown initializer"),
    ({"name": "normal", "mean": 0}, "needs std"),
    ({"name": "zeros", "value": 1}, "no parameter"),
    ({"name": "uniform", "low": 1, "high": -1}, "low < high"),
    ({"name": "uniform", "low": -1e308, "high": 1e308}, "beyond floating point's range"),
    ({"name": "variance_scaling", "scale": 1, "mode": "fan_sum", "distribution": "normal"},
     "fan mode"),
    ({"name": "variance_scaling", "scale": 1, "mode": "fan_in", "distribution": "cauchy"},
     "distribution"),
])
def test_bad_inits_are_spec_errors(init, message):
    with pytest.raises(SpecError, match=message) as err:
        describe(init, (16, 6, 3, 3))
    assert err.value.hint
    if init["name"].endswith("_"):  # PyTorch's spelling: never a guess at another init
        assert "PyTorch's" in err.value.hint and "did you mean" not in err.value.hint


def test_describe_he_normal_reads_like_the_paper():
    info = describe({"name": "he_normal"}, (16, 16, 3, 3))
    assert (info.distribution, info.fan_in, info.fan_out) == ("normal", 144, 144)
    assert info.std == pytest.approx(math.sqrt(2 / 144))
    assert info.short == "N(0, 0.118^2)"
    assert info.formula == "std = gain(relu) / sqrt(fan_in) = 1.414 / sqrt(144) = 0.118"
    assert info.random and not info.constant


def test_a_fixed_scale_is_set_beside_the_fans_on_a_weight_not_a_bias():
    """normal(0, 0.01) on a 16x16x3x3 conv: each layer scales the signal's second moment by
    fan_in * E[w^2] = 0.0144, where He's init gives 2; a bias has no fan to weigh it by."""
    weight = describe({"name": "normal", "mean": 0.0, "std": 0.01}, (16, 16, 3, 3))
    assert weight.formula.startswith("std = 0.01 (given); fan_in * E[w^2] = 144 * 0.0001 = "
                                     "0.0144 (He's 2")
    uniform = describe({"name": "uniform", "low": -0.05, "high": 0.05}, (4, 1, 3, 3))
    assert "(0.05 - (-0.05)) / sqrt(12) = 0.0289; fan_in * E[w^2] = 9 * 0.000833" in uniform.formula
    assert describe({"name": "normal", "mean": 0.0, "std": 0.01}, (16,)).formula == (
        "std = 0.01 (given)")


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


@pytest.mark.parametrize("scale", [2.0, 3.0, 6.0])  # sqrt(scale) ** 2 != scale, each
@pytest.mark.parametrize("distribution, written", [
    ("normal", "std = sqrt(scale / fan_in) = sqrt({} / 144) = "),
    ("uniform", "bound = sqrt(3 * scale / fan_in) = sqrt(3 * {} / 144) = "),
    ("truncated_normal", "sigma = sqrt(scale / fan_in) / 0.8796 = sqrt({} / 144) / 0.8796 = "),
])
def test_variance_scaling_writes_its_scale_as_given(scale, distribution, written):
    """The formula quotes the scale the spec wrote, not the square of its square root
    (sqrt(2) ** 2 is 2.0000000000000004 in floating point)."""
    init = {"name": "variance_scaling", "scale": scale, "mode": "fan_in",
            "distribution": distribution}
    info = describe(init, (16, 16, 3, 3))
    assert info.formula.startswith(written.format(f"{scale:g}")), info.formula
    assert info.std == pytest.approx(math.sqrt(scale / 144))


def test_describe_fans_override_for_a_bias():
    info = describe({"name": "he_uniform"}, (16,), fans=(144, 144))
    assert info.bound == pytest.approx(math.sqrt(2) * math.sqrt(3 / 144))
    assert (info.fan_in, info.fan_out) == (144, 144)


def test_an_init_of_a_few_words_is_described_once_per_shape_and_fans():
    """A 200-layer stack's inits are described once (cnnspec/init/describe.py); an init of
    other values, another shape or other fans, and a large literal each its own."""
    he = {"name": "he_normal"}
    first = describe(he, (8, 4, 3, 3))
    assert describe(dict(he), [8, 4, 3, 3]) is first
    assert describe({"name": "he_normal", "gain": {"nonlinearity": "tanh"}},
                    (8, 4, 3, 3)).std == pytest.approx(5 / 3 / math.sqrt(36))
    assert describe(he, (8, 2, 3, 3)).std == pytest.approx(math.sqrt(2 / 18))
    assert describe(he, (8,), fans=[36, 72]).std == pytest.approx(math.sqrt(2 / 36))
    assert describe(he, (8,), fans=(72, 72)).std == pytest.approx(math.sqrt(2 / 72))
    for value in (1, 1.5, 2):
        assert describe({"name": "constant", "value": value}, (4,)).mean == value
    large = {"name": "literal", "values": [float(i) for i in range(400)]}
    assert describe(large, (400,)) is not describe(large, (400,))


def test_constant_flag_only_when_every_element_is_one_value():
    shape = (4, 2, 3, 3)
    assert describe({"name": "zeros"}, shape).constant
    assert describe({"name": "constant", "value": 0.3}, shape).constant
    assert describe({"name": "box"}, shape).constant
    assert not describe({"name": "sobel_x"}, shape).constant
    assert not describe({"name": "identity"}, shape).constant
    assert describe({"name": "literal", "values": [[2, 2], [2, 2]]}, (4, 2, 2, 2)).constant


def test_a_hand_written_kernel_shows_its_numbers_as_a_named_one_does():
    """summary shows sobel_x's matrix; a matrix written by hand is shown too, to check it by
    (one shared by every filter: one per filter would be too long a line)."""
    sobel_y = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    info = describe({"name": "literal", "values": sobel_y}, (1, 1, 3, 3))
    assert info.formula == ("[[-1, -2, -1], [0, 0, 0], [1, 2, 1]] as written, "
                            "every filter and channel")
    assert describe({"name": "sobel_x"}, (1, 1, 3, 3)).formula.startswith("[[-1, 0, 1], [-2, 0, 2]")
    per_filter = describe({"name": "literal", "values": [sobel_y, sobel_y]}, (2, 1, 3, 3))
    assert per_filter.formula == "as written, one per filter, every channel"
    large = describe({"name": "literal", "values": [[1] * 6] * 6}, (1, 1, 6, 6))
    assert large.formula == "as written, every filter and channel"


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


# ---------------------------------------------------------------- statistics of create()

def assert_moments(w: np.ndarray, mean: float, std: float, kurtosis: float = 3.0) -> None:
    """Sample mean and std of ``w`` within 5 standard errors of ``mean`` and ``std``."""
    x = w.astype(np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n), (x.mean(), mean)
    assert abs(x.std() - std) < 5 * std * math.sqrt(kurtosis - 1) / (2 * math.sqrt(n)), \
        (x.std(), std)


R2 = math.sqrt(2)
FAN_IN, FAN_OUT = 256 * 9, 512 * 9
VS = "variance_scaling"

# (init, hand-written std of the values, kurtosis of the distribution)
RANDOM_SCHEMES = [
    ({"name": "he_normal"}, R2 / math.sqrt(FAN_IN), 3.0),
    ({"name": "he_normal", "mode": "fan_out"}, R2 / math.sqrt(FAN_OUT), 3.0),
    ({"name": "he_uniform", "gain": {"nonlinearity": "leaky_relu", "slope": 0.2}},
     math.sqrt(2 / 1.04) / math.sqrt(FAN_IN), 1.8),
    ({"name": "glorot_uniform"}, math.sqrt(2 / (FAN_IN + FAN_OUT)), 1.8),
    ({"name": "glorot_normal", "gain": {"nonlinearity": "tanh"}},
     5 / 3 * math.sqrt(2 / (FAN_IN + FAN_OUT)), 3.0),
    ({"name": "lecun_uniform"}, 1 / math.sqrt(FAN_IN), 1.8),
    ({"name": "lecun_normal"}, 1 / math.sqrt(FAN_IN), 3.0),
    ({"name": VS, "scale": 2.0, "mode": "fan_avg", "distribution": "truncated_normal"},
     math.sqrt(2 / ((FAN_IN + FAN_OUT) / 2)), 3.0),
    ({"name": VS, "scale": 0.5, "mode": "fan_out", "distribution": "uniform"},
     math.sqrt(0.5 / FAN_OUT), 1.8),
    ({"name": VS, "scale": 3.0, "mode": "fan_in", "distribution": "normal"},
     math.sqrt(3 / FAN_IN), 3.0),
]


@pytest.fixture
def rng():
    return np.random.default_rng(20100513)


@pytest.mark.parametrize("init, std, kurtosis", RANDOM_SCHEMES,
                         ids=[f"{i['name']}-{n}" for n, (i, _, _) in enumerate(RANDOM_SCHEMES)])
def test_scaled_schemes_have_the_stated_std(init, std, kurtosis, rng):
    info = describe(init, CONV)
    assert info.std == pytest.approx(std, rel=1e-12)
    assert_moments(create(init, CONV, rng), 0.0, std, kurtosis)


@pytest.mark.parametrize("init, mean, std, kurtosis", [
    ({"name": "normal", "mean": 0.5, "std": 0.02}, 0.5, 0.02, 3.0),
    ({"name": "uniform", "low": -0.1, "high": 0.3}, 0.1, 0.4 / math.sqrt(12), 1.8),
    ({"name": "truncated_normal", "mean": -1.0, "std": 0.1}, -1.0, 0.1 * 0.87962566, 3.0),
])
def test_fixed_scale_distributions(init, mean, std, kurtosis, rng):
    info = describe(init, DENSE)
    assert (info.mean, info.std) == (pytest.approx(mean), pytest.approx(std, rel=1e-8))
    w = np.concatenate([create(init, DENSE, rng).ravel() for _ in range(10)])
    assert_moments(w, mean, std, kurtosis)


@pytest.mark.parametrize("init", [
    {"name": "he_uniform"}, {"name": "glorot_uniform"}, {"name": "lecun_uniform"},
    {"name": VS, "scale": 1.0, "mode": "fan_avg", "distribution": "uniform"},
])
def test_uniform_bounds_are_respected_and_reached(init, rng):
    bound = describe(init, CONV).bound
    w = create(init, CONV, rng)
    assert np.abs(w).max() <= np.float32(bound)
    assert w.max() > 0.999 * bound and w.min() < -0.999 * bound


@pytest.mark.parametrize("init, mean", [
    ({"name": VS, "scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}, 0.0),
    ({"name": "truncated_normal", "mean": 0.25, "std": 0.01}, 0.25),
])
def test_truncated_normals_stay_within_two_sigma(init, mean, rng):
    info = describe(init, CONV)
    w = create(init, CONV, rng, dtype=np.float64)
    assert np.abs(w - mean).max() <= info.bound
    assert np.abs(w - mean).max() > 0.99 * info.bound  # truncated at 2 sigma, not narrower
    assert_moments(w, mean, info.std)


def truncated(mean: float, std: float, low: float | None = None,
              high: float | None = None) -> dict:
    return {"name": "truncated_normal", "mean": mean, "std": std, "low": low, "high": high}


# Cuts at given bounds: asymmetric, one bound given (the other at mean -+ 2 std), the mean
# outside the interval, a cut wider than 2 std, and PyTorch's default a=-2, b=2.
GIVEN_CUTS = [
    truncated(0.0, 0.02, -0.01, 0.04),
    truncated(1.0, 0.5, low=0.5),
    truncated(0.0, 1.0, 1.0, 3.0),
    truncated(-1.0, 0.1, -1.35, -0.7),
    truncated(0.0, 1.5, -2.0, 2.0),
]
# Cuts keeping little of the normal, near the 1% limit: a tail on either side, a narrow
# interval about the mean and one beside it, a short stretch of a tail.
SMALL_CUTS = [
    truncated(0.0, 1.0, 2.3, 1e9),
    truncated(0.0, 1.0, -1e9, -2.3),
    truncated(0.0, 1.0, -0.0126, 0.0126),
    truncated(0.0, 1.0, 0.0, 0.0251),
    truncated(0.0, 1.0, 1.5, 1.8),
    truncated(0.0, 1.0, 2.0, 3.5),
]


@pytest.mark.parametrize("init", GIVEN_CUTS + SMALL_CUTS,
                         ids=lambda i: f"[{i['low']}, {i['high']}]")
def test_truncated_normal_between_given_bounds_is_scipys_truncnorm(init, rng):
    """One-sample KS test of the values against scipy's truncated normal of the same
    parameters, and describe's mean and std against its moments."""
    stats = pytest.importorskip("scipy.stats")
    loc, scale = init["mean"], init["std"]
    low = loc - 2 * scale if init["low"] is None else init["low"]
    high = loc + 2 * scale if init["high"] is None else init["high"]
    reference = stats.truncnorm((low - loc) / scale, (high - loc) / scale, loc=loc, scale=scale)
    info = describe(init, DENSE)
    assert info.mean == pytest.approx(reference.mean(), rel=1e-9, abs=1e-12)
    assert info.std == pytest.approx(reference.std(), rel=1e-9)
    w = create(init, DENSE, rng, dtype=np.float64).ravel()
    assert low <= w.min() and w.max() <= high  # held to the cut
    span = min(high, loc + 6 * scale) - max(low, loc - 6 * scale)
    if low > loc - 6 * scale:  # and reaching a bound the normal reaches
        assert w.min() < low + 0.01 * span
    if high < loc + 6 * scale:
        assert w.max() > high - 0.01 * span
    assert stats.kstest(w, reference.cdf).pvalue > 1e-3
    assert_moments(w, reference.mean(), reference.std())


class CountingRng:
    """A Generator that counts the random numbers drawn from it."""

    def __init__(self, rng):
        self.rng, self.drawn = rng, 0

    def __getattr__(self, name):
        def draw(*args, size=None, **kwargs):
            values = getattr(self.rng, name)(*args, size=size, **kwargs) if size is not None \
                else getattr(self.rng, name)(*args, **kwargs)
            self.drawn += np.size(values)
            return values
        return draw


@pytest.mark.parametrize("init", SMALL_CUTS, ids=lambda i: f"[{i['low']}, {i['high']}]")
def test_a_cut_keeping_little_of_the_normal_costs_few_draws_per_value(init):
    """Redrawing a normal until it falls in a cut keeping 1% of it costs 100 normal draws a
    value (minutes for a large layer); a cut drawn from a proposal that fits it costs a few."""
    rng = CountingRng(np.random.default_rng(0))
    w = create(init, DENSE, rng, dtype=np.float64)
    assert rng.drawn < 5 * w.size


def test_a_bound_given_is_drawn_against_a_wrong_one(rng):
    """The KS test above can fail: values cut at 0.04 are not those cut at 0.03."""
    stats = pytest.importorskip("scipy.stats")
    w = create(truncated(0.0, 0.02, -0.01, 0.04), DENSE, rng, dtype=np.float64).ravel()
    assert stats.kstest(w, stats.truncnorm(-0.5, 1.5, scale=0.02).cdf).pvalue < 1e-6


def test_truncated_normal_between_given_bounds_against_torch(rng):
    """Two-sample KS test against PyTorch's trunc_normal_(t, mean, std, a, b)."""
    torch = pytest.importorskip("torch")
    stats = pytest.importorskip("scipy.stats")
    torch.manual_seed(0)
    theirs = torch.nn.init.trunc_normal_(torch.empty(DENSE, dtype=torch.float64), 0.5, 0.1,
                                         0.45, 0.9).numpy().ravel()
    ours = create(truncated(0.5, 0.1, 0.45, 0.9), DENSE, rng, dtype=np.float64).ravel()
    assert stats.ks_2samp(ours, theirs).pvalue > 1e-3


def test_the_default_cut_draws_the_weights_of_before():
    """Bounds left out cut at mean +- 2 std exactly as before they existed: the same bits as
    the bounds written out, and TRUNCATED_STD, which sets the sigma of every truncated
    variance_scaling draw, the same float as sqrt(1 - 4 phi(2) / erf(sqrt 2)) gave."""
    from cnnspec.init.truncation import TRUNCATED_STD

    assert TRUNCATED_STD == 0.8796256610342398
    for dtype in (np.float32, np.float64):
        default = create(truncated(0.25, 0.5), DENSE, np.random.default_rng(3), dtype=dtype)
        written = create(truncated(0.25, 0.5, -0.75, 1.25), DENSE, np.random.default_rng(3),
                         dtype=dtype)
        assert default.tobytes() == written.tobytes()
    assert describe(truncated(0.0, 0.02), DENSE).short == "TN(0, 0.02^2, ±2σ)"
    assert describe(truncated(0.0, 0.02, -0.01, 0.04), DENSE).short == \
        "TN(0, 0.02^2, [-0.01, 0.04])"


@pytest.mark.parametrize("init, bound", [
    (truncated(0.0, 0.02), 0.04), (truncated(0.0, 0.02, -0.03, 0.03), 0.03),
    (truncated(0.0, 0.02, -0.01, 0.04), None), (truncated(1.0, 0.5, low=0.5), None),
])
def test_a_truncated_normals_bound_is_the_half_width_of_a_centred_cut(init, bound):
    assert describe(init, DENSE).bound == (None if bound is None else pytest.approx(bound))


@pytest.mark.parametrize("init, message, hint", [
    (truncated(0.0, 1.0, 1.0, -1.0), "needs low < high, not low=1, high=-1",
     "swap them: low=-1, high=1"),
    (truncated(0.0, 1.0, 0.5, 0.5), "needs low < high", "write constant(0.5)"),
    (truncated(0.0, 1.0, low=3.0), "not low=3, high=2",
     "high, left out, is mean + 2 std = 2: give a high above 3"),
    (truncated(0.0, 1.0, high=-2.5), "not low=-2, high=-2.5",
     "low, left out, is mean - 2 std = -2: give a low below -2.5"),
    (truncated(0.0, 1.0, 3.0, 4.0), "keeps 0.13% of N(0, 1^2), too little to draw from",
     "the interval is +3 to +4 std from the mean"),
    (truncated(0.0, 0.01, -0.4, -0.3), "keeps 0% of N(0, 0.01^2)", "-40 to -30 std"),
    (truncated(0.0, 1.0, -0.01, 0.01), "keeps 0.8% of N(0, 1^2)", "or widen it"),
    # just under the 1% kept: the share is not rounded up to the limit it falls short of
    (truncated(0.0, 1.0, 0.0, 0.025), "keeps 0.997% of N(0, 1^2)", "+0 to +0.025 std"),
    (truncated(0.0, 1.0, 2.32636, 1e9), "keeps 0.99997% of N(0, 1^2)", "+2.33 to +1e9 std"),
    # bounds that differ past the 6th digit are quoted as written, not as low=2, high=2
    (truncated(0.0, 1.0, 2.0, 2.0000000000001), "between low=2 and high=2.0000000000001",
     "the interval is +2 to +2 std"),
    (truncated(0.0, 1.0, 1e-320, 2e-320), "between low=1e-320 and high=2e-320", "+1e-320"),
])
def test_a_cut_out_of_order_or_holding_almost_nothing_is_refused(init, message, hint):
    with pytest.raises(SpecError) as err:
        describe(init, DENSE)
    assert message in err.value.message and hint in err.value.hint


@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (300, 200), (40, 40)])
@pytest.mark.parametrize("gain_ir, g", [({"nonlinearity": "linear"}, 1.0),
                                        ({"nonlinearity": "relu"}, R2)])
def test_orthogonal_is_orthogonal_times_gain(shape, gain_ir, g, rng):
    w = create({"name": "orthogonal", "gain": gain_ir}, shape, rng, dtype=np.float64)
    m = w.reshape(shape[0], -1)
    small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(small, g * g * np.eye(len(small)), atol=1e-12)
    assert describe({"name": "orthogonal", "gain": gain_ir}, shape).std == pytest.approx(
        m.std(), rel=0.05)


def test_lsuv_starts_orthogonal(rng):
    w = create({"name": "lsuv"}, (16, 8, 3, 3), rng, dtype=np.float64).reshape(16, -1)
    np.testing.assert_allclose(w @ w.T, np.eye(16), atol=1e-12)


def conv_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-1 'same' convolution (cross-correlation), padding as cnnspec.shapes says.

    x (N, C, H, W), w (F, C, kh, kw) -> (N, F, H, W).
    """
    from cnnspec.shapes import resolve_padding

    kh, kw = w.shape[2:]
    top, bottom, left, right = resolve_padding("same", x.shape[2:], (kh, kw), (1, 1))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    patches = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return np.einsum("nchwij,fcij->nfhw", patches, w)


@pytest.mark.parametrize("kernel", [(1, 1), (3, 3), (5, 5), (3, 5), (2, 2), (4, 3)])
def test_identity_kernel_passes_input_through_same_conv(kernel, rng):
    x = rng.standard_normal((2, 4, 7, 6))
    w = create({"name": "identity"}, (4, 4) + kernel, rng, dtype=np.float64)
    np.testing.assert_array_equal(conv_same(x, w), x)


def test_identity_with_more_or_fewer_filters_than_channels(rng):
    x = rng.standard_normal((1, 3, 5, 5))
    wide = conv_same(x, create({"name": "dirac"}, (5, 3, 3, 3), rng, dtype=np.float64))
    np.testing.assert_array_equal(wide[:, :3], x)
    np.testing.assert_array_equal(wide[:, 3:], 0)
    narrow = conv_same(x, create({"name": "identity"}, (2, 3, 3, 3), rng, dtype=np.float64))
    np.testing.assert_array_equal(narrow, x[:, :2])


def test_identity_dense_is_eye(rng):
    np.testing.assert_array_equal(create({"name": "identity"}, (3, 5), rng), np.eye(3, 5))


def test_literals_are_placed_exactly(rng):
    k2 = [[1, 2, 3], [4, 5, 6]]
    w = create({"name": "literal", "values": k2}, (3, 2, 2, 3), rng)
    for f in range(3):
        for c in range(2):
            np.testing.assert_array_equal(w[f, c], k2)
    k3 = [[[f * 10 + i * 2 + j for j in range(2)] for i in range(2)] for f in range(3)]
    w = create({"name": "literal", "values": k3}, (3, 4, 2, 2), rng)
    for f in range(3):
        for c in range(4):
            np.testing.assert_array_equal(w[f, c], k3[f])
    k4 = np.arange(3 * 2 * 2 * 2, dtype=np.float64).reshape(3, 2, 2, 2)
    w = create({"name": "literal", "values": k4.tolist()}, k4.shape, rng, dtype=np.float64)
    np.testing.assert_array_equal(w, k4)
    assert w.flags.writeable and w.flags.c_contiguous
    dense = [[1.5, -2.0], [0.0, 3.0]]
    np.testing.assert_array_equal(create({"name": "literal", "values": dense}, (2, 2), rng),
                                  dense)


@pytest.mark.parametrize("name, kernel", [
    ("sobel_x", [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    ("sobel_y", [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    ("laplacian", [[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    ("x_kernel", [[1, 0, 1], [0, 1, 0], [1, 0, 1]]),
    ("box", [[1 / 9] * 3] * 3),
])
def test_named_kernels(name, kernel, rng):
    w = create({"name": name}, (2, 3, 3, 3), rng, dtype=np.float64)
    np.testing.assert_array_equal(w, np.broadcast_to(kernel, w.shape))
    assert describe({"name": name}, w.shape).mean == pytest.approx(w.mean())


def test_x_kernel_5x5_and_gaussian(rng):
    x5 = create({"name": "x_kernel"}, (1, 1, 5, 5), rng)[0, 0]
    np.testing.assert_array_equal(x5, np.maximum(np.eye(5), np.fliplr(np.eye(5))))
    g = create({"name": "gaussian", "sigma": 1.5}, (2, 2, 5, 4), rng, dtype=np.float64)[1, 0]
    assert g.sum() == pytest.approx(1.0, abs=1e-15)
    yy, xx = np.mgrid[:5, :4]
    expected = np.exp(-((yy - 2) ** 2 + (xx - 1.5) ** 2) / (2 * 1.5 ** 2))
    np.testing.assert_allclose(g, expected / expected.sum(), rtol=1e-14)


@pytest.mark.parametrize("sigma, shape, nearest", [
    (0.01, (2, 2), [(0, 0), (0, 1), (1, 0), (1, 1)]),  # every tap's exp() was 0: 0 / 0
    (1e-300, (3, 3), [(1, 1)]),  # sigma squared was 0
    (5e-324, (4, 4), [(1, 1), (1, 2), (2, 1), (2, 2)]),
])
def test_a_gaussian_narrower_than_its_taps_puts_the_weight_on_the_nearest(sigma, shape,
                                                                         nearest, rng):
    g = create({"name": "gaussian", "sigma": sigma}, (1, 1, *shape), rng, dtype=np.float64)[0, 0]
    expected = np.zeros(shape)
    expected[tuple(zip(*nearest))] = 1 / len(nearest)
    np.testing.assert_array_equal(g, expected)


def test_constants(rng):
    np.testing.assert_array_equal(create({"name": "zeros"}, (4,), rng), 0)
    np.testing.assert_array_equal(create({"name": "ones"}, (2, 3), rng), 1)
    np.testing.assert_array_equal(create({"name": "constant", "value": 0.1}, (5,), rng),
                                  np.float32(0.1))


def test_scaled_bias_uses_the_fans_override(rng):
    b = create({"name": "he_normal"}, (20000,), rng, fans=(50, 80))
    assert_moments(b, 0.0, R2 / math.sqrt(50))


@pytest.mark.parametrize("name", [n for n in INIT_NAMES if n not in ("literal", "constant",
                                                                         "uniform", "normal",
                                                                         "truncated_normal",
                                                                         "gaussian")])
def test_same_seed_same_bits_and_dtypes_agree(name):
    shape = (8, 4, 3, 3)
    a = create({"name": name}, shape, np.random.default_rng(7))
    b = create({"name": name}, shape, np.random.default_rng(7))
    assert a.dtype == np.float32 and a.shape == shape
    assert a.tobytes() == b.tobytes()
    c = create({"name": name}, shape, np.random.default_rng(7), dtype=np.float64)
    np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)
    if describe({"name": name}, shape).random:
        assert a.tobytes() != create({"name": name}, shape, np.random.default_rng(8)).tobytes()


# ---------------------------------------------------------------- against torch.nn.init

def test_random_schemes_match_torch_statistics(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    init = torch.nn.init
    cases = [
        ({"name": "he_normal"}, lambda t: init.kaiming_normal_(t, nonlinearity="relu"), 3.0),
        ({"name": "he_uniform", "mode": "fan_out", "gain": {"nonlinearity": "leaky_relu",
                                                            "slope": 0.1}},
         lambda t: init.kaiming_uniform_(t, a=0.1, mode="fan_out"), 1.8),
        ({"name": "glorot_uniform"}, init.xavier_uniform_, 1.8),
        ({"name": "glorot_normal", "gain": {"value": 0.7}},
         lambda t: init.xavier_normal_(t, gain=0.7), 3.0),
        ({"name": "truncated_normal", "mean": 0.0, "std": 0.05},
         lambda t: init.trunc_normal_(t, std=0.05, a=-0.1, b=0.1), 3.0),
    ]
    for ours, theirs, kurtosis in cases:
        reference = theirs(torch.empty(CONV, dtype=torch.float64)).numpy()
        info = describe(ours, CONV)
        assert_moments(reference, 0.0, info.std, kurtosis)
        if info.bound is not None:
            assert np.abs(reference).max() <= info.bound * (1 + 1e-12)
            assert np.abs(reference).max() > 0.999 * info.bound


def test_identity_matches_torch_dirac_for_odd_kernels(rng):
    torch = pytest.importorskip("torch")
    for shape in [(6, 4, 3, 3), (3, 5, 5, 1), (4, 4, 1, 1)]:
        ours = create({"name": "identity"}, shape, rng, dtype=np.float64)
        np.testing.assert_array_equal(
            ours, torch.nn.init.dirac_(torch.empty(shape, dtype=torch.float64)).numpy())


# ---------------------------------------------------------------- what other libraries write

def test_torch_default_is_a_uniform_of_one_over_root_fan_in():
    info = describe({"name": "torch_default"}, (16, 16, 3, 3))
    assert info.bound == pytest.approx(1 / 12)
    assert info.std == pytest.approx(1 / 12 / math.sqrt(3))
    assert info.formula == "bound = 1 / sqrt(fan_in) = 1 / sqrt(144) = 0.0833"
    bias = describe({"name": "torch_default"}, (16,), fans=(144, 144))
    assert (bias.bound, bias.formula) == (info.bound, info.formula)


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("shape", [(16, 16, 3, 3), (10, 40)])
def test_each_scaled_schemes_formula_computes_what_it_draws(name, shape):
    """The numbers of the summary's formula line, ``bound = sym = val = result``, evaluate to
    the bound, std or sigma it states: whichever way the scheme's scale is written (its
    ``scale``, its gain, or a fixed scale such as LeCun's and PyTorch's default)."""
    info = describe({"name": name}, shape)
    stated, _, val, result = info.formula.split(" (truncated")[0].split(" = ")
    value = eval(val, {"sqrt": math.sqrt})  # the formula's own numbers: digits, sqrt, + - * /
    assert value == pytest.approx(float(result), rel=5e-3)
    expected = {"bound": info.bound, "std": info.std}.get(stated, info.truncation
                                                          and info.truncation.sigma)
    assert float(result) == pytest.approx(expected, rel=5e-3)


def test_a_fixed_scale_is_written_from_its_value_not_its_name():
    """A scheme with neither a ``scale`` nor a ``gain`` parameter is written from the scale
    it holds, whatever its name: 1 / sqrt(n) for a top of 1, sqrt(top / n) otherwise."""
    from cnnspec.init.describe import scaled_formula
    from cnnspec.init.scaling import VarianceScaling

    half = VarianceScaling(math.sqrt(0.5), "fan_out", "normal")
    assert scaled_formula({"name": "any"}, half, 8, 32) == (
        "std = sqrt(0.5 / fan_out) = sqrt(0.5 / 32) = 0.125")
    third = VarianceScaling(math.sqrt(1 / 3), "fan_avg", "uniform")
    assert scaled_formula({"name": "any"}, third, 8, 24) == (
        "bound = sqrt(2 / (fan_in + fan_out)) = sqrt(2 / (8 + 24)) = 0.25")


@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (200, 300)])
def test_torch_default_matches_torch_layers_ks(shape, rng):
    """Two-sample KS tests of our weights and biases against what torch's nn.Conv2d and
    nn.Linear put in a layer of the same shape when left alone (their reset_parameters)."""
    torch = pytest.importorskip("torch")
    stats = pytest.importorskip("scipy.stats")
    torch.manual_seed(0)
    layer = (torch.nn.Conv2d(shape[1], shape[0], shape[2:]) if len(shape) == 4 else
             torch.nn.Linear(shape[1], shape[0]))
    weights, biases = [], []
    for _ in range(20):  # a bias is one value per unit: several draws make a sample
        layer.reset_parameters()
        weights.append(layer.weight.detach().numpy().ravel().copy())  # not a view
        biases.append(layer.bias.detach().numpy().ravel().copy())
    theirs_w, theirs_b = np.concatenate(weights), np.concatenate(biases)
    fan = fans(shape)
    ours_w = create({"name": "torch_default"}, shape, rng).ravel()
    ours_b = np.concatenate([create({"name": "torch_default"}, (shape[0],), rng, fans=fan)
                             for _ in range(20)])
    assert stats.ks_2samp(ours_w, theirs_w[:ours_w.size]).pvalue > 1e-3
    assert stats.ks_2samp(ours_b, theirs_b).pvalue > 1e-3
    bound = describe({"name": "torch_default"}, shape).bound
    for sample in (ours_w, ours_b, theirs_w, theirs_b):
        assert np.abs(sample).max() <= bound * (1 + 1e-6)
        assert stats.kstest(sample, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3


def caffe_bilinear(blob_shape):
    """Caffe 1.0's BilinearFiller::Fill (include/caffe/filler.hpp), written out loop by loop."""
    num, channels, height, width = blob_shape
    assert width == height  # CHECK_EQ(blob->width(), blob->height()) << "Filter must be square"
    count = num * channels * height * width
    data = [0.0] * count
    f = math.ceil(width / 2.0)
    c = (width - 1) / (2.0 * f)
    for i in range(count):
        x = i % width
        y = (i // width) % height
        data[i] = (1 - abs(x / f - c)) * (1 - abs(y / f - c))
    return np.array(data).reshape(blob_shape)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8, 16])
def test_bilinear_is_caffes_filler(k, rng):
    shape = (3, 2, k, k)
    ours = create({"name": "bilinear"}, shape, rng, dtype=np.float64)
    np.testing.assert_allclose(ours, caffe_bilinear(shape), rtol=0, atol=1e-15)
    # Caffe's older c = (2f - 1 - f % 2) / (2f) agrees on the sizes 2f - f % 2 its recipe uses
    f = math.ceil(k / 2)
    if k == 2 * f - f % 2:
        old_c = (2 * f - 1 - f % 2) / (2 * f)
        taps = [1 - abs(x / f - old_c) for x in range(k)]
        np.testing.assert_allclose(ours[0, 0], np.outer(taps, taps), atol=1e-15)


def test_bilinear_values_written_out(rng):
    quarter = [0.25, 0.75, 0.75, 0.25]  # k = 4: f = 2, c = 3/4 (upsampling by 2)
    np.testing.assert_array_equal(create({"name": "bilinear"}, (1, 1, 4, 4), rng)[0, 0],
                                  np.outer(quarter, quarter))
    third = [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3]  # k = 5: f = 3, c = 2/3 (upsampling by 3)
    np.testing.assert_allclose(create({"name": "bilinear"}, (1, 1, 5, 5), rng, np.float64)[0, 0],
                               np.outer(third, third), atol=1e-15)
    oblong = create({"name": "bilinear"}, (1, 1, 3, 4), rng, np.float64)[0, 0]
    np.testing.assert_allclose(oblong, np.outer([0.5, 1, 0.5], quarter), atol=1e-15)


def test_bilinear_transposed_conv_upsamples_linearly():
    """A stride-2 transposed conv with the 4x4 kernel (pad 1) interpolates linearly: a ramp
    stays a ramp away from the border."""
    x = np.arange(6, dtype=np.float64)[None, :] * np.ones((6, 1))
    k = np.asarray(create({"name": "bilinear"}, (1, 1, 4, 4), None, np.float64))[0, 0]
    full = np.zeros((2 * 6 + 2, 2 * 6 + 2))
    for i in range(6):
        for j in range(6):
            full[2 * i:2 * i + 4, 2 * j:2 * j + 4] += x[i, j] * k
    out = full[1:-1, 1:-1]  # pad 1 = ceil((factor - 1) / 2)
    inner = out[2:-2, 2:-2]
    np.testing.assert_allclose(np.diff(inner, axis=1), 0.5)
    np.testing.assert_allclose(np.diff(inner, axis=0), 0.0, atol=1e-12)


def caffe_positive_unitball(u):
    """Caffe's PositiveUnitballFiller::Fill after its rng_uniform(count, 0, 1): each of the
    num rows of dim = count / num values divided by its sum, written out loop by loop."""
    data = u.ravel().tolist()
    num = u.shape[0]
    dim = len(data) // num
    for i in range(num):
        total = 0.0
        for j in range(dim):
            total += data[i * dim + j]
        for j in range(dim):
            data[i * dim + j] /= total
    return np.array(data).reshape(u.shape)


@pytest.mark.parametrize("shape", [(6, 3, 3, 3), (5, 7)])
def test_positive_unitball_is_caffes_filler(shape):
    ours = create({"name": "positive_unitball"}, shape, np.random.default_rng(3), np.float64)
    u = np.random.default_rng(3).uniform(0.0, 1.0, size=(shape[0], math.prod(shape[1:])))
    np.testing.assert_allclose(ours, caffe_positive_unitball(u.reshape(shape)), rtol=1e-14)
    rows = ours.reshape(shape[0], -1)
    assert (rows > 0).all()
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("shape", [(40000, 4, 1, 1), (20000, 3, 3, 3), (200, 2304)])
def test_positive_unitball_statistics(shape, rng):
    info = describe({"name": "positive_unitball"}, shape)
    n = math.prod(shape[1:])
    assert info.mean == pytest.approx(1 / n)
    w = create({"name": "positive_unitball"}, shape, rng, np.float64)
    assert w.mean() == pytest.approx(1 / n, rel=1e-12)  # every row sums to 1
    # describe's std is within 1% of the true one (its docstring); 5 standard errors on top
    assert w.std() == pytest.approx(info.std, rel=0.01 + 5 * math.sqrt(2) / (2 * math.sqrt(w.size)))


def test_sparse_has_k_gaussian_weights_per_unit(rng):
    stats = pytest.importorskip("scipy.stats")
    shape = (2000, 16, 3, 3)  # fan_in 144
    init = {"name": "sparse", "nonzero": 15, "std": 0.5}
    info = describe(init, shape)
    assert info.std == pytest.approx(0.5 * math.sqrt(15 / 144))
    w = create(init, shape, rng, np.float64).reshape(shape[0], -1)
    assert ((w != 0).sum(axis=1) == 15).all()
    values = w[w != 0]
    assert stats.kstest(values, stats.norm(0, 0.5).cdf).pvalue > 1e-3
    # positions are uniform: each input is kept by 15/144 of the units
    kept = (w != 0).sum(axis=0)
    expected = shape[0] * 15 / 144
    assert stats.chisquare(kept, np.full(kept.size, expected)).pvalue > 1e-3
    assert_moments(w, 0.0, info.std, kurtosis=3 * 144 / 15)


def test_sparse_defaults_and_clips_to_fan_in(rng):
    assert canonical({"name": "sparse"}) == {"name": "sparse", "nonzero": 15, "std": 1.0}
    w = create({"name": "sparse"}, (30, 8), rng, np.float64)
    assert (w != 0).all()  # 15 > fan_in 8: every weight is drawn
    assert describe({"name": "sparse"}, (30, 8)).std == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(16, 16, 3, 3), (32, 8, 5, 5), (8, 32, 3, 1), (6, 6, 4, 4)])
def test_delta_orthogonal_is_orthogonal_at_the_centre(shape, rng):
    gain_ir = {"nonlinearity": "relu"}
    w = create({"name": "delta_orthogonal", "gain": gain_ir}, shape, rng, np.float64)
    out, cin, kh, kw = shape
    centre = w[:, :, (kh - 1) // 2, (kw - 1) // 2]
    rest = w.copy()
    rest[:, :, (kh - 1) // 2, (kw - 1) // 2] = 0
    np.testing.assert_array_equal(rest, 0)
    small = centre.T @ centre if out >= cin else centre @ centre.T
    np.testing.assert_allclose(small, 2 * np.eye(min(out, cin)), atol=1e-12)
    info = describe({"name": "delta_orthogonal", "gain": gain_ir}, shape)
    assert info.std == pytest.approx(np.sqrt((w ** 2).mean()), rel=1e-12)


def test_delta_orthogonal_keeps_the_norm_through_a_same_conv(rng):
    """out >= in: the conv at init is an isometry (Xiao et al. 2018)."""
    x = rng.standard_normal((2, 8, 9, 9))
    w = create({"name": "delta_orthogonal"}, (12, 8, 3, 3), rng, np.float64)
    y = conv_same(x, w)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)


def test_delta_orthogonal_on_a_dense_weight_is_orthogonal():
    """A dense weight is a 1x1 kernel: its only tap is the centre."""
    shape, gain_ir = (10, 20), {"nonlinearity": "tanh"}
    ours = create({"name": "delta_orthogonal", "gain": gain_ir}, shape, np.random.default_rng(5))
    plain = create({"name": "orthogonal", "gain": gain_ir}, shape, np.random.default_rng(5))
    np.testing.assert_array_equal(ours, plain)
    assert describe({"name": "delta_orthogonal", "gain": gain_ir}, shape).std == pytest.approx(
        describe({"name": "orthogonal", "gain": gain_ir}, shape).std)


def test_delta_orthogonal_needs_a_weight():
    with pytest.raises(SpecError, match="conv or dense weight") as err:
        describe({"name": "delta_orthogonal"}, (10,))
    assert err.value.hint


@pytest.mark.parametrize("name", ["xavier", "Xavier"])
def test_xavier_says_which_xavier(name):
    with pytest.raises(SpecError) as err:
        canonical({"name": name})
    assert "lecun_uniform" in err.value.hint and "glorot_uniform" in err.value.hint


def test_an_ir_init_with_another_librarys_parameter_says_how_it_is_written_here():
    with pytest.raises(SpecError) as err:
        canonical({"name": "he_normal", "nonlinearity": "relu"})
    assert err.value.hint.startswith("PyTorch's nonlinearity= is gain= here")


def test_a_gaussian_kernel_on_a_dense_weight_names_caffes_gaussian_filler():
    """Caffe's `gaussian` filler is a random normal; ours is a blur kernel, which a dense
    weight cannot take: the error says what a Caffe user meant."""
    with pytest.raises(SpecError) as err:
        describe({"name": "gaussian", "sigma": 0.01}, (10, 64))
    assert "is `normal(0, std)` here" in err.value.hint


def _gaussian_tap_by_tap(sigma: float, kh: int, kw: int) -> list[list[float]]:
    """The named gaussian kernel as it was built, tap by tap: the oracle of its values."""
    cy, cx = (kh - 1) / 2, (kw - 1) / 2
    squared = [[(y - cy) ** 2 + (x - cx) ** 2 for x in range(kw)] for y in range(kh)]
    nearest = min(map(min, squared))
    raw = [[math.exp(-((d - nearest) / (2 * sigma)) / sigma) for d in row] for row in squared]
    total = sum(map(sum, raw))
    return [[v / total for v in row] for row in raw]


@pytest.mark.parametrize("kh, kw", [(1, 1), (1, 2), (3, 3), (4, 4), (5, 4), (2, 9), (31, 32),
                                    (100, 1), (1, 100), (64, 63)])
def test_a_gaussian_kernel_is_the_tap_by_tap_one_to_the_last_bit(kh, kw):
    """A 316x316 gaussian (10^5 taps) was built tap by tap, once per layer: its taps now
    share the exp() of each distance from the centre, and a layer the rows of another."""
    from cnnspec.init import kernels

    for sigma in (1e-300, 1e-160, 0.01, 0.3, 1.0, 1.5, 7.7, 1e3, 1e200, math.inf):
        expected = _gaussian_tap_by_tap(sigma, kh, kw)
        assert kernels.gaussian(sigma, kh, kw) == expected
        kernel = kernels.gaussian(sigma, kh, kw)  # the same, from the rows worked out once
        assert kernel == expected
        kernel[0][0] = -1.0  # a caller's copy: the next layer's kernel is its own
        assert kernels.gaussian(sigma, kh, kw) == expected


NAMED_KERNEL_SHAPES = [(1, 1), (1, 2), (3, 3), (4, 4), (5, 4), (2, 9), (31, 32), (100, 1),
                       (1, 100), (64, 63)]


@pytest.mark.parametrize("kh, kw", NAMED_KERNEL_SHAPES)
def test_the_engines_named_kernels_are_the_checkers_to_the_last_bit(kh, kw):
    """The engine builds a named kernel as an array (as nested lists, a 100000x1 kernel took
    30 times its weight while the model was built); its values are the nested lists' that
    the checker describes, bit for bit."""
    from cnnspec.init import kernels
    from cnnspec.init.draw import fixed_kernel

    inits = [{"name": name} for name in ("box", "bilinear", "x_kernel", *kernels.FIXED)]
    inits += [{"name": "gaussian", "sigma": sigma}
              for sigma in (1e-300, 1e-160, 0.01, 0.3, 1.0, 1.5, 7.7, 1e3, 1e200, math.inf)]
    shape = (2, 3, kh, kw)
    for init in inits:
        try:
            values, _ = kernels.kernel_values(init, shape)
        except SpecError:  # a size the kernel does not come in: refused by both
            with pytest.raises(SpecError):
                fixed_kernel(init, shape, np.float64)
            continue
        built = fixed_kernel(init, shape, np.float64)
        expected = np.broadcast_to(np.array(values, dtype=np.float64), shape)
        assert built.tobytes() == expected.tobytes(), init
        assert built.flags.writeable and built.flags.c_contiguous


def _flat_row_by_row(values) -> list[float]:
    if isinstance(values, (list, tuple)):
        return [x for v in values for x in _flat_row_by_row(v)]
    return [float(values)]


def _tap_squares_tap_by_tap(squares, shape):
    kh, kw = shape[2:]
    rows, columns = [0.0] * kh, [0.0] * kw
    for index, square in enumerate(squares):
        rows[index // kw % kh] += square
        columns[index % kw] += square
    return tuple(rows), tuple(columns)


@pytest.mark.parametrize("init, shape", [
    ({"name": "gaussian", "sigma": 1.3}, (2, 3, 7, 5)),
    ({"name": "gaussian", "sigma": 2.0}, (1, 1, 300, 1)),
    ({"name": "bilinear"}, (2, 2, 4, 4)),
    ({"name": "box"}, (3, 1, 1, 6)),
    ({"name": "literal", "values": [[[0.5, -1, 2], [3, 0.25, -4]]] * 2}, (2, 3, 2, 3)),
    ({"name": "literal", "values": [[[[0.1 * (o + i + y + x) for x in range(3)]
                                       for y in range(2)] for i in range(2)]
                                     for o in range(3)]}, (3, 2, 2, 3)),
])
def test_a_fixed_kernels_description_is_its_tap_by_tap_one(init, shape):
    """flat and the taps' squares by row and column, once a call and a loop step a tap, are
    the same numbers added in the same order."""
    from cnnspec.init import kernels

    values, _ = kernels.kernel_values(init, shape)
    numbers = kernels.flat(values)
    assert numbers == _flat_row_by_row(values)
    info = describe(init, shape)
    largest = max(abs(v) for v in numbers)
    squares = [(v / largest) ** 2 for v in numbers]
    taps = info.tap_squares
    assert (taps.rows, taps.columns) == _tap_squares_tap_by_tap(squares, shape)
    assert info.constant == all(v == numbers[0] for v in numbers)


@pytest.mark.parametrize("init", [{"name": "normal", "mean": 0.1, "std": 0.05},
                                  {"name": "uniform", "low": 0.0, "high": 0.2},
                                  {"name": "truncated_normal", "mean": -0.1, "std": 0.05},
                                  {"name": "positive_unitball"}])
def test_the_sums_of_weights_drawn_about_a_mean_are_those_of_their_draws(init, rng):
    """What the signal estimate reads of weights drawn about a mean other than 0, their
    filters' sums squared (whole, per channel, per tap), their mean and their autocorrelation
    (describe.drawn_sums), is the mean over many drawn filters of what those filters add up
    to (kernel_sums, as for a fixed kernel): fan_in^2 mean^2 + fan_in std^2 for independent
    draws, 1 for positive_unitball's units, which sum to 1."""
    from cnnspec.init.describe import kernel_sums

    shape = (4000, 3, 3, 3)
    expected = describe(init, shape).sums
    drawn = kernel_sums(create(init, shape, rng, np.float64).ravel().tolist(), shape, shape)
    for field in ("whole", "channels", "taps", "mean"):
        assert getattr(drawn, field) == pytest.approx(getattr(expected, field), rel=0.03), field
    for (d, lag), (d_drawn, lag_drawn) in zip(expected.lags + expected.tap_lags,
                                              drawn.lags + drawn.tap_lags, strict=True):
        assert d == d_drawn and lag_drawn == pytest.approx(lag, rel=0.03), d
    if init["name"] == "positive_unitball":
        assert expected.whole == pytest.approx(1.0)


def test_weights_drawn_about_0_have_no_sums_to_add():
    """Drawn about 0 (he_normal, normal(0, s), a symmetric uniform), a weight adds up its
    input's mean in no direction: no sums, and fan_in * E[w^2] says its signal."""
    for init in ({"name": "he_normal"}, {"name": "normal", "mean": 0.0, "std": 0.1},
                 {"name": "uniform", "low": -0.1, "high": 0.1}):
        assert describe(init, (8, 4, 3, 3)).sums is None
    assert describe({"name": "normal", "mean": 0.5, "std": 0.1}, (8,)).sums is None  # a bias


@pytest.mark.parametrize("name", ["HeNormal", "he_Normal", "kaiming_normal"])
def test_the_python_api_answers_an_init_name_as_a_json_ir_does(name):
    """``canonical({"name": "HeNormal"})`` answered "did you mean normal?", where a spec's line
    and a JSON IR are told what Keras' HeNormal is here. It now gives the JSON IR's hint (the
    init as an init object writes it, which it then takes), and takes an alias the IR's hint
    writes out (``kaiming_normal``) as the init that hint names."""
    import json

    from cnnspec.errors import SCHEMA_HINTS, foreign_hint
    from cnnspec.init.schema import init_schema

    ir_hint = foreign_hint(init_schema()["properties"]["name"][SCHEMA_HINTS], name)
    meant = json.loads(ir_hint[ir_hint.index("{"):ir_hint.rindex("}") + 1])
    if name in ALIASES:
        assert canonical({"name": name}) == meant
        return
    with pytest.raises(SpecError) as err:
        canonical({"name": name})
    assert err.value.hint == ir_hint and ir_hint.startswith("Keras' HeNormal is {")
    assert canonical(meant) == meant


def test_every_named_scheme_cites_where_its_formula_comes_from():
    """Each named scaled scheme's entry has a source, which its docs text and the summary's
    formula line cite: a paper, or for torch_default PyTorch's layers' reset_parameters."""
    for name, preset in PRESETS.items():
        if preset is presets.variance_scaling:  # the general rule, no one's scheme
            continue
        entry = BY_NAME[name]
        assert entry.source and entry.source in entry.doc, name
        assert describe({"name": name}, (16, 16, 3, 3)).source == entry.source
    assert BY_NAME["torch_default"].source == TORCH_RESET


def test_the_inits_placed_on_the_phase_diagram_by_name_are_zero_mean_draws():
    """The catalogue's phase_placed inits (cnnspec/lab/phase.py lists them by that mark
    alone) draw mean 0 with a variance their name fixes, on a conv weight: no argument
    needed, none constant."""
    from cnnspec.init.catalogue import INITS, REQUIRED
    from cnnspec.init.describe import describe

    placed = [init for init in INITS if init.phase_placed]
    assert {"he_normal", "glorot_uniform", "orthogonal"} <= {init.name for init in placed}
    for init in placed:
        assert not init.general and all(p.default is not REQUIRED for p in init.params)
        info = describe({"name": init.name}, (8, 4, 3, 3))
        assert info.mean == 0 and info.std and not info.constant, init.name


def test_the_list_and_general_inits_are_one_entry_each():
    from cnnspec.init.catalogue import GENERAL_INIT, INITS, LIST_INIT
    from cnnspec.init.presets import PRESETS

    assert [init for init in INITS if init.from_list] == [LIST_INIT]
    assert [p.type for p in LIST_INIT.params] == ["numbers"]
    assert [init for init in INITS if init.general] == [GENERAL_INIT]
    assert GENERAL_INIT.name in PRESETS and GENERAL_INIT.defaults_shown


@pytest.mark.parametrize("written, message", [
    ("uniform(0.5, 0.1)", "uniform(low, high) needs low < high"),
    ("truncated_normal(0, 1, 0.5, 0.1)", "truncated_normal needs low < high")])
def test_the_catalogues_parameter_checks_are_refused_where_written(written, message):
    """An init's check (its catalogue entry's) runs where the language reads it, located."""
    from cnnspec.errors import SpecError
    from cnnspec.lang import parse

    with pytest.raises(SpecError) as caught:
        parse(f"input 1x8x8\nconv 4 3x3 weight {written}\nflatten\ndense 10\n")
    assert caught.value.message.startswith(message)
    assert (caught.value.span.line, caught.value.span.column) == (2, 19)
    assert caught.value.hint


def test_an_ir_files_init_gets_the_catalogues_parameter_check(tmp_path, capsys):
    """An IR file is not read by the language: its init's check (uniform's low below high)
    runs where the init is described, with the same words and hint as in a spec."""
    import json

    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nc: conv 4 3x3 weight uniform(0.1, 0.5)\nflatten\ndense 10\n")
    assert main(["export", str(spec), "-o", str(tmp_path / "net.json")]) == 0
    ir = json.loads((tmp_path / "net.json").read_text())
    layer = next(layer for layer in ir["layers"] if layer["name"] == "c")
    layer["weight_init"].update(low=0.5, high=0.1)
    (tmp_path / "net.json").write_text(json.dumps(ir))
    capsys.readouterr()
    assert main(["check", str(tmp_path / "net.json")]) == 2
    err = capsys.readouterr().err
    assert "uniform(low, high) needs low < high" in err
    assert "swap them: uniform(0.1, 0.5)" in err and "Traceback" not in err
