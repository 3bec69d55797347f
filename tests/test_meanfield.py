"""Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017): the quadrature against closed
forms (ReLU: the arc-cosine kernel of Cho & Saul 2009; erf: Williams 1996), 30-digit integrals
and Monte Carlo (tanh), from q = 1e-6 to 1e4; the critical lines, and ``init-report --phase``:
theory against a measurement on a real network."""
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from cnnspec.cli import main
from cnnspec.errors import SpecError, rounded_text
from cnnspec.lab import meanfield as mf
from cnnspec.lab.phase import format_phase, measure_points, phase_report, verdict

TANH, RELU = mf.nonlinearity("tanh"), mf.nonlinearity("relu")

# 24 layers of 64-channel 1x1 convs: a fully-connected tanh net of width 64 applied at each of
# 16 positions (no padding, so the theory's sigma_w is the network's).
WIDE = """model wide_tanh
input 64x4x4
default weight lecun_normal, bias zeros
repeat 24 as body {
  conv 64 1x1 tanh
}
global_avgpool
head: dense 10
train {
  data npz(path="unused.npz")
}
"""


def wide_path(folder):
    path = folder / "wide.cnn"
    path.write_text(WIDE)
    return path


@pytest.fixture
def wide(tmp_path):
    return wide_path(tmp_path)


def arc_cosine(q, c):
    """E[relu(u1) relu(u2)] for unit-correlation c, second moments q: Cho & Saul 2009, n = 1."""
    theta = np.arccos(c)
    return q / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))


def test_relu_maps_match_the_closed_forms():
    q = 1.7
    assert mf.variance_map(q, 2.0, 0.0, RELU) == pytest.approx(q)  # He: 2 * q/2
    assert mf.chi_1(q, 2.0, RELU) == pytest.approx(1.0)


QS = np.array([1e-6, 1e-3, 0.1, 1.0, 4.0, 16.0, 100.0, 1e3, 1e4])  # from narrow to wide
CS = np.array([-1.0, -0.999, -0.7, -0.3, 0.0, 0.2, 0.5, 0.9, 0.99, 0.9999, 1 - 1e-6, 1 - 1e-9,
               1.0])


def test_relu_covariance_map_is_the_arc_cosine_kernel_at_every_scale():
    """The kink at u2 = 0 lies on a cell's edge, where the midpoint rule's error is of the
    second order in the step: 1.3e-4 of q (Gauss-Hermite's 40 x 40 nodes left 3e-3)."""
    q = QS[:, None]
    error = (mf.covariance_map(q, q, CS * q, 1.0, 0.0, RELU) - arc_cosine(q, CS)) / q
    assert np.abs(error).max() < 2e-4


def erf_nonlinearity():
    """erf, which the registry has not, but whose Gaussian means have closed forms."""
    from scipy.special import erf
    return mf.Nonlinearity("erf", erf, lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x),
                           asymptote=(0.0, 0.0), homogeneous=False)  # bounded


def test_erf_maps_match_their_closed_forms_from_narrow_to_wide():
    """Williams 1996 ("Computing with infinite networks", NeurIPS): for u ~ N(0, Sigma),
    E[erf(u1) erf(u2)] = 2/pi asin(2 q12 / sqrt((1 + 2 q11)(1 + 2 q22))), and
    E[erf'(u1) erf'(u2)] = 4/pi det(I + 2 Sigma)^(-1/2); at q* up to 1e4 and any c."""
    act = erf_nonlinearity()
    q, c = QS[:, None], CS[None, :]
    np.testing.assert_allclose(mf.variance_map(QS, 1.0, 0.0, act),
                               2 / np.pi * np.arcsin(2 * QS / (1 + 2 * QS)), rtol=1e-13)
    np.testing.assert_allclose(mf.chi_1(QS, 1.0, act), 4 / np.pi / np.sqrt(1 + 4 * QS),
                               rtol=1e-13)
    np.testing.assert_allclose(mf.covariance_map(q, q, c * q, 1.0, 0.0, act),
                               2 / np.pi * np.arcsin(2 * c * q / (1 + 2 * q)), rtol=0, atol=1e-11)
    np.testing.assert_allclose(mf.chi_c(c, q, 1.0, act),
                               4 / np.pi / np.sqrt((1 + 2 * q) ** 2 - (2 * c * q) ** 2),
                               rtol=1e-11)
    q11, q22 = np.array([1e-4, 3.0, 50.0, 1e4]), np.array([2.0, 1e-3, 1e3, 7.0])
    for c in (-0.6, 0.3, 0.95):  # two second moments far apart
        q12 = c * np.sqrt(q11 * q22)
        np.testing.assert_allclose(
            mf.covariance_map(q11, q22, q12, 1.0, 0.0, act),
            2 / np.pi * np.arcsin(2 * q12 / np.sqrt((1 + 2 * q11) * (1 + 2 * q22))), atol=1e-11)


# E[tanh(u)^2], E[tanh'(u)^2] and E[u tanh(u) tanh'(u)] for u ~ N(0, q) at each q of QS, by
# mpmath.quad at 30 digits with breakpoints at 0, +-1, +-5 and +-20 (all within 13 sd).
TANH_MEANS = [
    (9.999980000056665e-07, 0.999998000007, 9.999960000169998e-07),
    (0.0009980056460916508, 0.9980069688329749, 0.000996016917791108),
    (0.08421392842110724, 0.849207068406472, 0.07160490620616305),
    (0.3942944903978412, 0.46440290244826826, 0.18179768814048708),
    (0.6352612342569399, 0.25595044322520893, 0.15349519275802634),
    (0.8053992794637257, 0.13166439629423302, 0.09266796496240695),
    (0.9205368634305167, 0.053106787748115836, 0.039409010538084474),
    (0.9747790417974508, 0.01681817217537316, 0.012600121020956374),
    (0.992021482480513, 0.0053191446440146225, 0.003988930699530269),
]


def test_tanh_one_dimensional_means_are_accurate_at_every_scale():
    """Gauss-Hermite's 100 nodes left tanh's slope under-resolved under a wide normal: chi_1
    was 9% low at q = 16 and 8x at q = 100; the rule now agrees with 30-digit integrals and
    with the plain-math rule of cnnspec.check to the last digits."""
    from cnnspec.check import meanfield as shared

    means = np.array(TANH_MEANS)
    np.testing.assert_allclose(mf.variance_map(QS, 1.0, 0.0, TANH), means[:, 0], rtol=1e-11)
    np.testing.assert_allclose(mf.chi_1(QS, 1.0, TANH), means[:, 1], rtol=1e-11)
    np.testing.assert_allclose(mf.chi_q(QS, 1.0, TANH), means[:, 2] / QS, rtol=1e-11)
    plain = [shared.chi_1(q, 1.0, lambda u: 1 - math.tanh(u) ** 2) for q in QS]
    np.testing.assert_allclose(mf.chi_1(QS, 1.0, TANH), plain, rtol=1e-13)


def brute_force_mean2(f, q, c, half_width=13.0, step=0.02):
    """E[f(u1, u2)] for second moments q and correlation c, by the trapezoidal rule on a
    uniform grid in (z1, z2), u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2): a
    step of 0.02 in z resolves tanh's slope under q up to 100 (0.2 in u)."""
    z = np.arange(-half_width, half_width + step / 2, step)
    weight = np.exp(-z * z / 2) * step / np.sqrt(2 * np.pi)
    s, r = np.sqrt(q), np.sqrt(1 - c * c)
    total = 0.0
    for z1, w1 in zip(z, weight):
        total += w1 * (f(s * z1, s * (c * z1 + r * z)) @ weight)
    return total


@pytest.mark.parametrize("q, c", [(25.0, 0.5), (25.0, -0.8), (100.0, 0.95)])
def test_tanh_two_dimensional_means_against_a_fine_grid(q, c):
    """Where the 40 x 40 product rule was wide of its mark (q* of 25 and more), the covariance
    map and chi_c agree with a 1300 x 1300 grid to 1e-9."""
    value = brute_force_mean2(lambda u1, u2: np.tanh(u1) * np.tanh(u2), q, c)
    assert float(mf.covariance_map(q, q, c * q, 1.0, 0.0, TANH)) == pytest.approx(value,
                                                                                 abs=1e-9)
    slope = brute_force_mean2(lambda u1, u2: (1 - np.tanh(u1) ** 2) * (1 - np.tanh(u2) ** 2),
                              q, c)
    assert float(mf.chi_c(c, q, 1.0, TANH)) == pytest.approx(slope, rel=1e-9)


def test_tanh_two_dimensional_means_at_their_one_dimensional_limits():
    """At c = 1 the covariance map is the variance map and chi_c is chi_1; at c = 0 chi_c is
    E[phi']^2: the two-dimensional rule against the one-dimensional one, at every scale."""
    np.testing.assert_allclose(mf.covariance_map(QS, QS, QS, 1.0, 0.0, TANH),
                               mf.variance_map(QS, 1.0, 0.0, TANH), rtol=1e-13)
    np.testing.assert_allclose(mf.chi_c(1.0, QS, 1.0, TANH), mf.chi_1(QS, 1.0, TANH),
                               rtol=1e-13)
    np.testing.assert_allclose(mf.chi_c(0.0, QS, 1.0, TANH),
                               mf.normal_mean(TANH.dphi, QS) ** 2, rtol=1e-13)


@pytest.mark.parametrize("sigma_b", [0.5, 1.0, 2.0, 3.0])
def test_tanh_critical_line_where_the_plain_math_rule_puts_chi_1_at_1(sigma_b):
    """At sigma_b = 3 (q* about 15) Gauss-Hermite's 100 nodes put the line at sigma_w = 2.86;
    chi_1 = 1 lies at 2.71, and cnnspec.check's plain-math rule agrees."""
    from cnnspec.check import meanfield as shared

    sigma_w = float(mf.critical_sigma_w(sigma_b, TANH, high=6.0))
    chi = shared.fixed_chi(sigma_w ** 2, sigma_b ** 2, math.tanh,
                           lambda u: 1 - math.tanh(u) ** 2)
    assert chi == pytest.approx(1.0, abs=1e-7)
    if sigma_b == 3.0:
        assert sigma_w == pytest.approx(2.7058, abs=1e-4)


@pytest.mark.parametrize("sigma_b", [0.0, 0.2, 0.7])
def test_relu_critical_line_is_he_init(sigma_b):
    assert mf.critical_sigma_w(sigma_b, RELU) == pytest.approx(np.sqrt(2), abs=1e-6)


def test_tanh_maps_match_monte_carlo():
    rng = np.random.default_rng(0)
    z1, z2 = rng.standard_normal((2, 1_000_000))
    for q, c in ((0.3, 0.2), (1.5, 0.7), (4.0, -0.5)):
        u1, u2 = np.sqrt(q) * z1, np.sqrt(q) * (c * z1 + np.sqrt(1 - c * c) * z2)
        for quadrature, samples in (
                (mf.variance_map(q, 1.3, 0.1, TANH), 1.3 * np.tanh(u1) ** 2 + 0.1),
                (mf.covariance_map(q, q, c * q, 1.3, 0.1, TANH),
                 1.3 * np.tanh(u1) * np.tanh(u2) + 0.1),
                (mf.chi_1(q, 1.3, TANH), 1.3 / np.cosh(u1) ** 4)):
            error = samples.std() / np.sqrt(samples.size)
            assert abs(float(quadrature) - samples.mean()) < 5 * error


def test_chi_q_is_the_slope_of_the_variance_map():
    sw2, sb2 = 1.8, 0.1
    qstar = float(mf.fixed_q(sw2, sb2, TANH))
    assert float(mf.variance_map(qstar, sw2, sb2, TANH)) == pytest.approx(qstar, rel=1e-8)
    h = 1e-5 * qstar
    slope = (mf.variance_map(qstar + h, sw2, sb2, TANH)
             - mf.variance_map(qstar - h, sw2, sb2, TANH)) / (2 * h)
    assert float(mf.chi_q(qstar, sw2, TANH)) == pytest.approx(float(slope), rel=1e-6)


def test_on_tanhs_critical_point_chi_1_is_1_and_xi_c_infinite():
    """At sigma_w = 1, sigma_b = 0 the fixed point is q* = 0, whose slopes are tanh'(0): chi_1
    is 1 exactly and xi_c infinite (taken at the stand-in q = 1e-12 it read 5e11); beside it,
    q* = 0 still, chi_1 is sigma_w^2 exactly."""
    p = mf.phase(np.array([0.5, 1.0]), 0.0, TANH)
    assert p.chi_1.tolist() == [0.25, 1.0]
    assert p.xi_c[1] == math.inf and p.xi_c[0] == pytest.approx(1 / math.log(4))


def test_tanh_phase_ordered_critical_chaotic():
    # sigma_b = 0: the critical point is sigma_w = 1 (tanh'(0) = 1, q* = 0)
    assert float(mf.critical_sigma_w(0.0, TANH)) == pytest.approx(1.0, abs=0.01)
    sb = 0.5
    sw_c = float(mf.critical_sigma_w(sb, TANH))
    p = mf.phase(np.array([0.8 * sw_c, sw_c, 1.5 * sw_c]), sb, TANH)
    assert p.chi_1[0] < 1 and p.chi_1[1] == pytest.approx(1, abs=1e-6) and p.chi_1[2] > 1
    assert p.c_star[0] == 1 and p.c_star[2] < 1
    assert p.xi_c[1] > 100 * max(p.xi_c[0], p.xi_c[2])  # xi_c diverges on the critical line
    # c* is a fixed point of the correlation map in the chaotic phase
    c_next = mf.correlation_map(p.c_star[2], p.q_star[2], (1.5 * sw_c) ** 2, sb ** 2, TANH)
    assert float(c_next) == pytest.approx(p.c_star[2], abs=1e-7)


def test_the_tanh_gain_and_the_tanh_critical_line_where_the_docs_place_them():
    """cnnspec/init/gains.py: PyTorch's tanh gain 5/3 is near 1 / sqrt(E[tanh(z)^2]) = 1.59 and
    chaotic for tanh (chi_1 = 1.21, xi_c about 12 layers at sigma_b = 0); docs/critical-init.md:
    the critical sigma_w^2 at sigma_b^2 = 0.05 is 1.76."""
    assert 1 / np.sqrt(float(mf.normal_mean(lambda u: np.tanh(u) ** 2, 1.0))) == \
        pytest.approx(1.59, abs=5e-3)
    p = mf.phase(np.array([5 / 3]), 0.0, TANH)
    assert p.chi_1[0] == pytest.approx(1.21, abs=5e-3) and p.xi_c[0] == pytest.approx(12, abs=0.5)
    assert float(mf.critical_sigma_w(np.sqrt(0.05), TANH)) ** 2 == pytest.approx(1.76, abs=5e-3)


def test_relu_variance_has_no_fixed_point_past_he():
    p = mf.phase(np.array([1.2, 1.6]), 0.3, RELU)
    assert np.isfinite(p.q_star[0]) and np.isnan(p.q_star[1])
    assert p.q_star[0] == pytest.approx(0.09 / (1 - 1.44 / 2))  # sigma_b^2 / (1 - sigma_w^2/2)


LEAKY = mf.nonlinearity("leaky_relu", slope=0.2)


@pytest.mark.parametrize("act", [RELU, LEAKY], ids=["relu", "leaky_relu"])
def test_a_homogeneous_nonlinearity_has_the_closed_form_fixed_point(act):
    """phi(c y) = c phi(y): the variance map is the line q -> s q + sigma_b^2, s = sigma_w^2
    (1 + slope^2) / 2, so q* = sigma_b^2 / (1 - s) below the line s = 1 (ReLU: sigma_b^2 / (1
    - sigma_w^2 / 2)). On it q grows by sigma_b^2 a layer: 300 iterations stopped at q = 1 +
    300 sigma_b^2 and called that a fixed point, 'critical', chi_1 = 1. Without biases every q
    is fixed there (He init); past it q grows geometrically: 2e6 at ReLU's sigma_w^2 = 2.1
    was taken for a fixed point too."""
    a, b = act.asymptote
    line = 2 / (a * a + b * b)  # sigma_w^2 where s = 1
    sw2 = np.array([0.3, 0.9, 0.99, 0.999]) * line
    s = sw2 * (a * a + b * b) / 2
    for sb2 in (0.01, 0.25, 4.0):
        np.testing.assert_allclose(mf.fixed_q(sw2, sb2, act), sb2 / (1 - s), rtol=1e-14)
        np.testing.assert_allclose(mf.variance_map(sb2 / (1 - s), sw2, sb2, act), sb2 / (1 - s),
                                   rtol=1e-12)  # the quadrature agrees it is the fixed point
    on_line = np.sqrt(line) ** 2  # a square root squared: off by an ulp
    assert np.isnan(mf.fixed_q([on_line, 1.01 * line, 4 * line], 0.01, act)).all()
    assert mf.fixed_q(on_line, 0.0, act, q0=3.0) == 3.0
    assert np.isnan(mf.fixed_q(1.01 * line, 0.0, act))
    p = mf.phase(np.sqrt([0.9 * line, line]), 0.1, act)
    assert p.chi_1[0] == pytest.approx(0.9) and np.isnan(p.chi_1[1])


def iterated(sw2, sb2, act, q0, layers):
    """The variance map applied ``layers`` times from ``q0``."""
    q = q0
    for _ in range(layers):
        q = float(mf.variance_map(q, sw2, sb2, act))
    return q


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "hardswish"])
def test_a_smooth_nonlinearity_like_relu_far_out_has_no_fixed_point_at_its_line(name):
    """phi(y) ~ y above 0 and ~ a constant below: the map's slope at infinity is sigma_w^2 / 2.
    At sigma_w^2 = 2 with sigma_b = 1, q rises for ever (by about sigma_b^2 a layer, ELU's by
    alpha^2 more); the 300 iterations stopped near 290 and gave a fixed point."""
    act = mf.nonlinearity(name)
    assert mf.far_slope(2.0, act) == 1.0
    assert np.isnan(mf.fixed_q([2.0, 2.5], 1.0, act)).all()
    q = [iterated(2.0, 1.0, act, 1.0, layers) for layers in (300, 600)]
    assert q[1] - q[0] > 0.8 * 300  # still rising by about sigma_b^2 a layer
    # below the line a fixed point exists, however large, and the map holds it
    qstar = float(mf.fixed_q(1.9, 1.0, act))
    assert float(mf.variance_map(qstar, 1.9, 1.0, act)) == pytest.approx(qstar, rel=1e-10)


def test_the_fixed_point_is_where_the_iterates_go_from_where_they_start():
    """GELU past sigma_w^2 = 2 has two fixed points besides 0: q from 1 falls to q* = 0 (an
    ordered net), q from 100 rises without bound. The fixed point is the iterates' limit,
    found as a root, not the 300th iterate."""
    gelu = mf.nonlinearity("gelu")
    assert float(mf.fixed_q(2.2, 0.0, gelu, q0=1.0)) == mf.ZERO_Q
    assert iterated(2.2, 0.0, gelu, 1.0, 400) < 1e-3
    assert np.isnan(mf.fixed_q(2.2, 0.0, gelu, q0=100.0))
    assert iterated(2.2, 0.0, gelu, 100.0, 60) > 1e3
    # tanh converges: the root is the iterates' limit to the quadrature's rounding
    for sw2, sb2 in ((1.8, 0.1), (4.0, 0.5), (0.5, 2.0)):
        assert float(mf.fixed_q(sw2, sb2, TANH)) == pytest.approx(
            iterated(sw2, sb2, TANH, 1.0, 400), rel=1e-12)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "silu", "hardswish",
                                  "relu6", "tanh", "sigmoid"])
def test_the_variance_map_rises_with_q(name):
    """fixed_q's root is the iterates' limit because the map rises with q: iterates below a
    root stay below it."""
    act = mf.nonlinearity(name, **({"slope": 0.2} if name == "leaky_relu" else {}))
    q = np.geomspace(1e-10, 1e8, 400)
    assert np.all(np.diff(mf.variance_map(q, 1.0, 0.0, act)) > 0)


def test_relu_phase_measured_on_a_network_grows_as_the_closed_form_says(tmp_path):
    """The engine's q over 24 ReLU layers of width 256, averaged over 8 draws (one network's
    q random-walks in log at finite width): at He init with sigma_b = 0.5 it grows by
    sigma_b^2 a layer (no fixed point); below the line it settles at sigma_b^2 / (1 -
    sigma_w^2 / 2)."""
    from cnnspec.compiler import compile_spec
    from cnnspec.lab.phase import hidden_chain
    from cnnspec.lab.variants import load_variant

    relu = tmp_path / "relu.cnn"
    relu.write_text(WIDE.replace("tanh", "relu").replace("conv 64", "conv 256"))
    checked = load_variant(relu).checked
    model, chain = compile_spec(checked, seed=0, dtype="float64"), hidden_chain(checked)
    rng = np.random.default_rng(0)
    draws = [measure_points(model, chain, RELU, [np.sqrt(2), 1.2], [0.5, 0.3], rng)
             for _ in range(8)]
    assert all(np.isnan(u.chi_1_theory) and np.isfinite(s.chi_1_theory) for u, s in draws)
    growth = np.mean([np.array(u.q) - u.q[0] for u, _ in draws], axis=0)
    assert growth[-1] / (len(growth) - 1) == pytest.approx(0.25, rel=0.25)
    assert np.all(growth[8::8] > 0.5 * 0.25 * np.arange(8, len(growth), 8))
    settled = np.mean([s.q[-8:] for _, s in draws])
    assert settled == pytest.approx(0.09 / (1 - 1.44 / 2), rel=0.15)


def test_an_init_on_relus_line_with_a_bias_is_unbounded_not_critical(tmp_path, capsys):
    relu = tmp_path / "relu.cnn"
    relu.write_text(WIDE.replace("tanh", "relu").replace("lecun_normal, bias zeros",
                                                          "he_normal, bias normal(0, 0.1)"))
    assert main(["init-report", str(relu), "--phase", "--grid", "2x2"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "he_normal (spec)" in line)
    assert row.split()[3:6] == ["-", "-", "unbounded"]


def test_a_prelu_net_is_placed_as_the_leaky_relu_it_starts_as(tmp_path, capsys):
    """PReLU's slopes start at 0.25: at init the net is a leaky ReLU net of that slope, whose
    line is sigma_w^2 = 2 / (1 + 0.25^2), so He init is past it. Its per-channel kernel ended
    the report in a TypeError."""
    prelu = mf.nonlinearity("prelu")
    x = np.array([-2.0, -0.5, 0.5, 3.0])
    np.testing.assert_array_equal(prelu.phi(x), [-0.5, -0.125, 0.5, 3.0])
    assert prelu.asymptote == (1.0, 0.25) and prelu.homogeneous
    spec = tmp_path / "prelu.cnn"
    spec.write_text(WIDE.replace("repeat 24", "repeat 4").replace("tanh", "prelu")
                    .replace("lecun_normal", "he_normal"))
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if "he_normal (spec)" in line)
    assert row.split()[5] == "unbounded"


def test_gelu_has_no_critical_line_where_ordered_meets_unbounded(tmp_path, capsys):
    """Without biases GELU's q* is 0 and chi_1 = sigma_w^2 / 4 up to where q from 1 runs away:
    the bisection found that edge and drew it as chi_1 = 1; the table interpolated the line
    into rows that have none."""
    gelu = mf.nonlinearity("gelu")
    edges = mf.critical_sigma_w(np.array([0.0, 0.2, 1.0]), gelu, low=0.25, high=3.0)
    assert np.isnan(edges[:2]).all() and edges[2] == pytest.approx(np.sqrt(2), abs=0.02)
    spec = tmp_path / "gelu.cnn"
    spec.write_text(WIDE.replace("tanh", "gelu"))
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2"]) == 0
    table = capsys.readouterr().out.split("critical line chi_1 = 1")[1].split("\n\n")[0]
    rows = {float(row.split()[0]): row.split()[1] for row in table.splitlines()[2:]}
    assert rows[0.0] == "-" and rows[1.0] != "-"


def test_check_and_lab_settle_on_one_chi_1():
    """check's gradient warning (plain math) and the phase diagram (NumPy) take chi_1 at one
    fixed point of saturating layers, near tanh's critical point too, where q settles over
    thousands of layers: check took its 300th iterate (0.9995, ordered, at sigma_w^2 = 1.01
    without biases, where the fixed point is chaotic, 1.00003)."""
    from cnnspec.check import meanfield as shared

    sigmoid = mf.nonlinearity("sigmoid")
    for act, phi, dphi in ((TANH, math.tanh, lambda u: 1 - math.tanh(u) ** 2),
                           (sigmoid, lambda u: 0.5 + 0.5 * math.tanh(u / 2),
                            lambda u: 0.25 / math.cosh(u / 2) ** 2)):
        for sw2, sb2 in ((2.0, 0.0), (1.8, 0.1), (4.0, 0.5), (16.0, 1.0), (1.01, 0.0),
                         (1.0, 1e-6), (0.99, 1e-5)):
            lab = float(mf.chi_1(mf.fixed_q(sw2, sb2, act), sw2, act))
            assert shared.fixed_chi(sw2, sb2, phi, dphi) == pytest.approx(lab, rel=1e-8)
    assert float(mf.chi_1(mf.fixed_q(1.01, 0.0, TANH), 1.01, TANH)) > 1


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu6"])
def test_a_bounded_nonlinearity_under_huge_biases_has_a_fixed_point(name):
    """q* = sigma_b^2 and a little more, however large sigma_b: a spec's bias of std 1e30 was
    placed as 'unbounded' (no chi_1), where it saturates every unit (deeply ordered)."""
    act = mf.nonlinearity(name)
    p = mf.phase(np.array([1.0, 1.414]), 1e30, act)
    assert p.q_star == pytest.approx([1e60, 1e60])
    assert np.all(p.chi_1 < 1e-25) and np.all(p.c_star == 1)


def test_only_elementwise_nonlinearities():
    with pytest.raises(SpecError, match="elementwise"):
        mf.nonlinearity("softmax")
    leaky = mf.nonlinearity("leaky_relu", slope=0.2)
    np.testing.assert_allclose(leaky.dphi(np.array([-1.0, 2.0])), [0.2, 1.0])


def propagated_one_at_a_time(q11, q22, q12, sw2, sb2, depth, act):
    """The theory's layers from one point, a map at a time on plain floats."""
    qs, cs = [q11], [q12 / math.sqrt(q11 * q22)]
    for _ in range(depth):
        q12 = float(mf.covariance_map(q11, q22, q12, sw2, sb2, act))
        q11, q22 = (float(mf.variance_map(q, sw2, sb2, act)) for q in (q11, q22))
        qs.append(q11)
        cs.append(q12 / math.sqrt(q11 * q22))
    return qs, cs


@pytest.mark.parametrize("act", [TANH, RELU], ids=["tanh", "relu"])
def test_propagating_every_point_at_once_gives_each_point_its_own_numbers(act):
    """init-report --phase propagates the theory from all its measured points at once. The
    points' second moments need from 66 to 146 quadrature cells; each point takes its own
    (given the batch's most, ReLU's q moved by 2e-4 of itself, tanh's by 3e-12), so only
    rounding tells the batch from one point at a time."""
    grid = itertools.product([0.5, 1.5, 3.0], [0.0, 0.5], [1e-3, 1.0, 30.0], [0.2, 4.0],
                             [-0.6, 0.3, 1.0])
    sw, sb, q11, q22, c = np.array(list(grid)).T
    q12 = c * np.sqrt(q11 * q22)
    depth = 3
    q, corr = mf.propagate(q11, q22, q12, sw ** 2, sb ** 2, depth, act)
    assert q.shape == corr.shape == (len(sw), depth + 1)
    for i in range(len(sw)):
        alone_q, alone_c = propagated_one_at_a_time(q11[i], q22[i], q12[i], sw[i] ** 2,
                                                    sb[i] ** 2, depth, act)
        np.testing.assert_allclose(q[i], alone_q, rtol=1e-12, atol=0)
        # a correlation of 1 - 1e-12 is computed from sums whose order the BLAS kernel of
        # the machine decides: 1.6e-12 apart on one CPU, under 1e-12 on another
        np.testing.assert_allclose(corr[i], alone_c, rtol=0, atol=1e-11)


def test_measured_boundary_matches_the_theory(wide):
    """chi_1 measured as the growth of a small perturbation per layer; where it crosses 1 on
    each row of sigma_b lies within 0.1 in sigma_w (about 6%) of the theory's chi_1 = 1."""
    report = phase_report(wide, grid=(6, 3), theory_grid=(8, 5))
    theory = dict(report.boundary)
    for sb, sw in report.measured_boundary:
        if sb > 0:  # at sigma_b = 0 q* = 0, and a coarse grid interpolates across a kink
            assert sw == pytest.approx(np.interp(sb, *zip(*report.boundary)), abs=0.1), sb
    assert len([b for b, _ in report.measured_boundary if b > 0]) == 2
    assert theory
    for p in report.measured:
        if 0.2 < p.chi_1_theory < 2:
            assert p.chi_1 == pytest.approx(p.chi_1_theory, rel=0.12), (p.sigma_w, p.sigma_b)
        if np.isfinite(p.c_last_theory) and p.c_last_theory > 0.5:  # chaos: finite-size noise
            assert p.c_last == pytest.approx(p.c_last_theory, abs=0.1), (p.sigma_w, p.sigma_b)


def test_named_inits_sit_where_their_variance_puts_them(wide):
    report = phase_report(wide, inits=["normal(0, 0.25)"], grid=(2, 2), theory_grid=(4, 3))

    def at(name):
        return next(p for p in report.inits if name in p.label.split(", ") or name == p.label)

    assert at("he_normal").sigma_w == pytest.approx(np.sqrt(2))
    assert at("he_normal").phase == "chaotic"
    assert at("glorot_normal").sigma_w == pytest.approx(1.0)  # fan_in = fan_out
    assert at("normal(0, 0.25)").sigma_w == pytest.approx(0.25 * 8)  # sqrt(fan_in 64)
    assert at("torch_default").phase == "ordered"


def test_cli_phase_json_and_picture(wide, tmp_path, capsys):
    png = tmp_path / "phase.png"
    assert main(["init-report", str(wide), "--phase", "--grid", "2x2", "--format", "json",
                 "-o", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nonlinearity"] == "tanh" and out["hidden_layers"] == 24
    assert len(out["measured"]) == 4 and out["theory"]["boundary"]
    # a critical line's sigma_w is the net's, as a point's sigma_w_on_net: named so
    for line in (out["theory"]["boundary"], out["measured_boundary"]):
        assert all(set(point) == {"sigma_b", "sigma_w_on_net"} for point in line), line
    phases = {"ordered", "critical", "chaotic", "unbounded"}
    assert all(p["phase"] in phases and p["measured_phase"] in phases | {None}
               for p in out["inits"])
    assert png.stat().st_size > 10_000
    assert main(["init-report", str(wide), "--phase", "--grid", "2x2"]) == 0
    assert "critical line chi_1 = 1" in capsys.readouterr().out


@pytest.mark.parametrize("init, phase, said", [
    ("lecun_normal", "critical", "nothing to change"),
    # sigma_w = 0.01 * sqrt(64) = 0.08: ordered; chaotic at sigma_w = 0.5 * 8 = 4
    ("normal(0, 0.01)", "ordered", "two inputs' signals grow alike and gradients vanish"),
    ("normal(0, 0.5)", "chaotic", "two inputs' signals decorrelate and gradients grow"),
])
def test_the_phase_report_says_where_the_specs_init_lies_and_what_to_change(
        tmp_path, capsys, init, phase, said):
    """The table gave chi_1 and a phase per init, but no word on the spec's own: the
    verdict is read from the same figures, in the text and in the JSON."""
    spec = tmp_path / "wide.cnn"
    spec.write_text(WIDE.replace("lecun_normal", init))
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)["verdict"]
    own = next(p for p in got_inits(spec) if p.label.split(", ")[0].endswith(" (spec)"))
    assert got["phase"] == own.phase == phase
    assert got["chi_1"] == own.chi_1 and got["hidden_layers"] == 24
    assert got["depth_in_xi_c"] == 24 / own.xi_c  # 0 on the critical line (xi_c infinite)
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == got["text"]
    assert last.startswith(f"verdict: the spec's init ({init.split('(')[0]}) is {phase} on "
                           f"this net"), last
    assert said in last
    if phase != "critical":  # lecun_normal is at sigma_w = 1, the critical point at sigma_b 0
        assert got["critical_inits"][0].startswith("glorot_uniform, glorot_normal, lecun")
        assert last.endswith(f"at the critical point of this net: {got['critical_inits'][0]}")
        assert f"chi_1 = {rounded_text(own.chi_1, 3)}" in last


def got_inits(spec):
    return phase_report(spec, grid=(2, 2)).inits


def test_a_phase_verdict_without_a_named_init_at_the_critical_point_gives_the_std():
    from cnnspec.lab.phase import InitPoint, PhaseReport, verdict

    own = InitPoint("normal (spec)", 0.08, 0.5, 0.01, 0.2)
    report = PhaseReport("net", "tanh", 24, (64, 64, 1, 1), 64, [0.0], [0.0, 1.0], [[]], [[]],
                         [(0.0, 1.0), (1.0, 2.0)], [own], [], [], spec_init="normal")
    text = verdict(report).text
    # the theory's critical sigma_w at sigma_b 0.5, halfway between its rows: 1.5
    assert text.endswith("at the critical point of this net (theory): weights normal(0, "
                         "0.188) (sigma_w = 1.500)"), text
    report.boundary = [(0.0, 1.0)]
    assert verdict(report).text.endswith("no sigma_w in the diagram's span puts this net at "
                                         "the critical point at sigma_b = 0.500")
    report.inits = [InitPoint("normal (spec)", 3.0, 0.5, 1.01, 120.0)]
    assert verdict(report).text == (
        "verdict: the spec's init (normal) is critical on this net (chi_1 = 1.01, xi_c = 120): "
        "two inputs' signals stay apart and gradients keep their size, and its 24 hidden "
        "layers are 0.2 xi_c (a net trains to depths of a few); nothing to change")
    report.inits = [InitPoint("normal (spec)", 3.0, 0.5, float("inf"), float("nan"))]
    assert verdict(report).text.startswith("verdict: the spec's init (normal) is unbounded on "
                                           "this net: q grows layer after layer")
    report.inits = []
    assert verdict(report).phase is None and verdict(report).measured_phase is None
    assert "has no place on the diagram" in verdict(report).text


def test_cli_phase_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["init-report", str(wide_path(tmp_path)), "--phase", "--grid", "8"])
    assert "expected two whole numbers" in capsys.readouterr().err
    assert main(["init-report", str(wide_path(tmp_path)), "--phase", "--init", "he_nromal"]) == 2
    assert '--init "he_nromal": error: unknown initializer' in capsys.readouterr().err
    linear = tmp_path / "linear.cnn"
    linear.write_text(WIDE.replace(" tanh", ""))
    assert main(["init-report", str(linear), "--phase"]) == 2
    assert capsys.readouterr().err.splitlines() == [  # the spec named, not "<spec>"
        ("cnnspec: error: the phase diagram needs at least two conv/dense layers each "
         "followed by the same elementwise activation; wide_tanh has 0"),
        "hint: e.g. conv 16 3x3 pad same tanh, repeated"]
    # a sigmoid layer and a relu layer: a chain of one sigmoid layer was reported as '1 hidden
    # layers', its measured chi_1 '-' (no layer after it to grow into)
    mixed = tmp_path / "mixed.cnn"
    mixed.write_text("input 1x8x8\nflatten\ndense 16 sigmoid\ndense 16 relu\ndense 2\n")
    assert main(["init-report", str(mixed), "--phase"]) == 2
    assert capsys.readouterr().err.splitlines()[0].endswith(
        "followed by the same elementwise activation; mixed has one each of sigmoid, relu")


def test_measure_point_reads_the_networks_own_layers(wide):
    from cnnspec.check.load import load
    from cnnspec.compiler import compile_spec
    from cnnspec.lab.phase import hidden_chain

    checked = load(wide)
    chain = hidden_chain(checked)
    assert len(chain.layers) == 24 and chain.nonlinearity == "tanh"
    model = compile_spec(checked, seed=0, dtype="float64")
    [point] = measure_points(model, chain, TANH, [1.0], [0.0], np.random.default_rng(0))
    assert len(point.q) == 24 and len(point.q_theory) == 24
    weight = model.params()["body_1_conv.weight"]
    assert weight.std() == pytest.approx(1 / 8, rel=0.05)  # N(0, 1 / fan_in), fan_in 64


def test_heat_map_widens_to_show_every_placed_init(tmp_path):
    """A typical layer of fan_in 1 and fan_out 64 (the median fan_in of 1, 64, 1) puts
    Glorot's init at sigma_w 0.175, below the default span's 0.25: the heat map widens to show
    it (it was left off the picture); an init far beyond the widest span keeps the map's width
    and is marked at its edge."""
    narrow = tmp_path / "narrow.cnn"
    narrow.write_text(WIDE.replace("input 64x4x4", "input 1x4x4")
                      .replace("repeat 24 as body {\n  conv 64 1x1 tanh\n}",
                               "conv 64 1x1 tanh\nconv 1 1x1 tanh\nconv 64 1x1 tanh"))
    report = phase_report(narrow, inits=["normal(0, 100)"], grid=(2, 2), theory_grid=(4, 3))
    drawn = [p.sigma_w for p in report.inits]
    assert min(drawn) < 0.25 and report.sigma_w[0] <= min(drawn)
    assert max(drawn) >= 100 and report.sigma_w[-1] < 10  # normal(0, 100): off the map
    assert phase_report(wide_path(tmp_path), grid=(2, 2), theory_grid=(4, 3)).sigma_w == \
        pytest.approx([0.25, 1.1666667, 2.0833333, 3.0])  # all inside: the default span
    png = tmp_path / "phase.png"
    assert main(["init-report", str(narrow), "--phase", "--grid", "2x2", "--init",
                 "normal(0, 100)", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # drawn with the init off the map


@pytest.mark.parametrize("init", ["constant(1)", "normal(3, 1)"])
def test_phase_refuses_an_init_that_is_no_zero_mean_draw(tmp_path, capsys, init):
    """A constant 1 was placed at sigma_w 0 as 'ordered' (its std is 0); mean-field theory is
    about zero-mean draws, so a non-zero mean has no place on the diagram."""
    assert main(["init-report", str(wide_path(tmp_path)), "--phase", "--grid", "2x2",
                 "--init", init]) == 2
    assert "is not drawn with mean 0 and a variance of its own" in capsys.readouterr().err


def test_critical_line_table_has_a_row_without_a_measured_crossing(wide, capsys):
    """A grid too coarse to cross chi_1 = 1 printed the table's header and nothing under it."""
    assert main(["init-report", str(wide), "--phase", "--grid", "2x2"]) == 0
    out = capsys.readouterr().out
    table = out.split("critical line chi_1 = 1")[1].split("\n\n")[0].splitlines()
    assert len(table) == 4 and all(len(row.split()) == 4 for row in table[2:])


def test_the_phase_diagrams_legend_lies_under_the_map_and_hides_no_measured_point(
        tmp_path, monkeypatch):
    """Inside the map, the grey region's legend (lower right) covered the measured points at
    sigma_b 0 of a ReLU net's chaotic end, and the main one (upper left) those at the top:
    one legend under the map now holds every entry; the theory's white line is edged so that
    it shows on the legend's white too."""
    from cnnspec.lab.critical_plots import plot_phase
    from cnnspec.render import figure

    relu = tmp_path / "relu.cnn"
    relu.write_text(WIDE.replace("tanh", "relu"))
    report = phase_report(relu, grid=(3, 2), theory_grid=(6, 3))
    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot_phase(report, tmp_path / "phase.png")
    (fig,) = drawn
    ax = fig.axes[0]
    assert ax.get_legend() is None and not [a for a in ax.artists if a.get_label()]
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "no fixed point q*: the signal grows without bound" in labels
    theory = legend.legend_handles[
        labels.index("χ₁ = 1, theory (order | chaos or no fixed point)")]
    assert theory.get_color() == "white" and theory.get_path_effects()
    # past He init a ReLU net's perturbation grows with its signal: no chaos there
    assert "measured χ₁ > 1 (chaotic; in grey: growing)" in labels
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    assert legend.get_window_extent(renderer).y1 <= ax.get_tightbbox(renderer).y0


def test_tanhs_critical_point_is_the_top_of_the_map_not_a_region_without_fixed_point(
        wide, tmp_path, monkeypatch):
    """tanh has a fixed point everywhere (q* = 0 without biases). Its depth scale is infinite
    at sigma_w 1, sigma_b 0, which the map took for "no fixed point": that cell was grey and
    the legend spoke of a signal growing without bound and of chaos "or no fixed point"."""
    from cnnspec.lab.critical_plots import plot_phase
    from cnnspec.render import figure

    report = phase_report(wide, grid=(2, 2), theory_grid=(12, 3))
    column = report.sigma_w.index(1.0)
    # infinite, where a region without a fixed point is NaN (with chi_1): JSON tells them apart
    assert report.xi_c[0][column] == math.inf and report.chi_1[0][column] == 1
    from cnnspec.lab.jsonout import dumps

    assert json.loads(dumps(report.to_dict()))["theory"]["xi_c"][0][column] == "inf"
    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot_phase(report, tmp_path / "phase.png")
    (fig,) = drawn
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "no fixed point q*: the signal grows without bound" not in labels
    assert "χ₁ = 1, theory (order | chaos)" in labels
    assert "measured χ₁ > 1 (chaotic)" in labels
    values = np.ma.masked_invalid(fig.axes[0].collections[0].get_array())
    values = values.reshape(len(report.sigma_b), len(report.sigma_w))
    assert not values.mask.any()  # no grey cell
    assert values[0, column] == max(10.0 * report.depth, 100.0)  # the top of the colours
    mesh = fig.axes[0].collections[0]  # its colours are logarithmic, as its bar's label says
    assert mesh.colorbar.ax.get_ylabel() == f"depth scale ξ_c (layers), theory{figure.LOG_NOTE}"
    assert mesh.colorbar.ax.get_yscale() == "log"


def test_the_phase_tables_write_numbers_as_a_spec_writes_them():
    """1e39, not 1e+39; 2e-7, not 2e-07, in the measured grid's columns; 0.00, not -0.00."""
    from cnnspec.lab.phase import MeasuredPoint, PhaseReport, format_phase

    points = [MeasuredPoint(1.0, 0.0, 1e39, 2e-7, 0.5, 0.5),
              MeasuredPoint(2e5, 0.0, 1.5, 1.25, -0.004, -1.6e-18)]
    report = PhaseReport("net", "tanh", 3, (4, 4, 3, 3), 36, [], [], [], [], [], [], points, [])
    text = format_phase(report)
    assert "e+" not in text and "e-0" not in text
    *grid, blank, said = text.splitlines()[-5:]  # the grid, then the verdict
    assert blank == "" and said.startswith("verdict: ")
    assert grid[0].split()[-2:] == ["1", "2e5"]
    assert grid[1].split()[-2:] == ["1e39/2e-7", "1.5/1.25"]
    assert grid[2].split()[-1] == "0.00/0.00"  # a correlation rounded to 0 has no sign
    # the columns stay 14 characters wide, right-aligned
    assert len({len(line) for line in grid}) == 1


def test_the_inits_table_writes_a_far_off_sigma_in_its_column():
    """A spec's own init of std 1e30 sits at sigma_w 8e30, printed with its 31 digits and
    three decimals that pushed the row out of the table; 1e-30 read as 0.000."""
    from cnnspec.lab.phase import InitPoint, PhaseReport, format_phase

    inits = [InitPoint("far", 8e30, 1e30, 0.5, 1.0), InitPoint("near", 8e-30, 0.0, 0.5, 1.0),
             InitPoint("he_normal", 1.41421356, 0.05, 0.5, 1.0)]
    report = PhaseReport("net", "tanh", 3, (4, 4, 3, 3), 36, [], [], [], [], [], inits, [], [])
    rows = format_phase(report).splitlines()[4:7]
    assert [row.split()[:3] for row in rows] == [["8e-30", "8e-30", "0.000"],
                                                 ["1.414", "1.414", "0.050"],
                                                 ["8e30", "8e30", "1e30"]]
    assert len({row.index(" 0.5") for row in rows}) == 1  # the chi_1 column stays in place


STRIDED = """model strided
input 16x16x16
default weight he_normal, bias zeros
a1: conv 16 3x3 pad same tanh
a2: conv 16 3x3 pad same tanh
s: conv 16 3x3 stride %d pad same tanh
b1: conv 16 3x3 pad same tanh
b2: conv 16 3x3 pad same tanh
flatten
head: dense 10
train {
  data npz(path="unused.npz")
}
"""


def test_a_strided_layer_in_the_chain_is_measured_per_unit_and_noted(tmp_path, capsys):
    """A stride-2 conv has a quarter of the units of the layer before, each reading fan_in
    inputs: the perturbation's squared norm summed over its units read chi_1 / 4 there (the
    measured chi_1 of this 5-layer chain was about 0.66 of the theory's); per unit it agrees
    with the same net at stride 1 and with the theory, and the table says the theory assumes
    stride 1."""
    reports = []
    for stride in (2, 1):
        path = tmp_path / f"stride{stride}.cnn"
        path.write_text(STRIDED % stride)
        reports.append(phase_report(path, grid=(2, 2), theory_grid=(4, 3)))
    strided, plain = reports
    assert strided.strided == ["s"] and plain.strided == []
    for a, b in zip(strided.measured, plain.measured):
        assert a.chi_1 == pytest.approx(b.chi_1, rel=0.05)
        assert a.chi_1 == pytest.approx(a.chi_1_theory, rel=0.15)
    path = tmp_path / "stride2.cnn"
    assert main(["init-report", str(path), "--phase", "--grid", "2x2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("note: 1 hidden layer with a stride above 1 (s): the theory "
                               "(Poole et al. 2016; Xiao et al. 2018 for CNNs) assumes stride 1")
    assert main(["init-report", str(tmp_path / "stride1.cnn"), "--phase", "--grid", "2x2",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["strided_layers"] == []


def test_measured_points_on_the_grids_edges_are_drawn_whole(wide, tmp_path, monkeypatch):
    """The measured grid's ends are the map's: its corner and edge points sat on the axes'
    frame, which cut their markers in half. The axes reach half a heat-map cell beyond."""
    from cnnspec.lab.critical_plots import plot_phase
    from cnnspec.render import figure

    report = phase_report(wide, grid=(3, 2), theory_grid=(6, 3))
    drawn = []
    monkeypatch.setattr(figure, "save_png", lambda fig, out: drawn.append(fig) or out)
    plot_phase(report, tmp_path / "phase.png")
    ax = drawn[0].axes[0]
    ax.figure.canvas.draw()
    frame = ax.get_window_extent(ax.figure.canvas.get_renderer())
    points = [c for c in ax.collections if c.get_offsets().shape[0] == 1
              and c.get_edgecolor().size and c.get_label().startswith("_")]
    measured = [c for c in points if tuple(c.get_offsets()[0]) in
                {(p.sigma_w, p.sigma_b) for p in report.measured}]
    assert len(measured) == len(report.measured)
    for marker in measured:
        # (Matplotlib gives no extent of a one-point scatter: its centre and half its size)
        x, y = ax.transData.transform(marker.get_offsets()[0])
        half = (np.sqrt(marker.get_sizes()[0]) / 2 + marker.get_linewidth()[0]) * \
            ax.figure.dpi / 72
        assert frame.x0 <= x - half and x + half <= frame.x1, marker.get_offsets()
        assert frame.y0 <= y - half and y + half <= frame.y1, marker.get_offsets()


# g = tanh^2, tanh'^2, sigmoid^2 and sigmoid'^2, with C = ∫ (g - its step from the limit
# below 0 to the one above) du: 1 - tanh^2 and sigmoid' integrate to 2 and 1, sech^4 to 4/3.
SATURATING = [
    (lambda u: math.tanh(u) ** 2, -2.0),
    (lambda u: (1 - math.tanh(u) ** 2) ** 2, 4 / 3),
    (lambda u: (0.5 + 0.5 * math.tanh(u / 2)) ** 2, -1.0),
    (lambda u: (0.25 * (1 - math.tanh(u / 2) ** 2)) ** 2, 1 / 6),
]


def _quadrature(g, q, monkeypatch):
    """The midpoint rule's mean at ``q``, never the saturated limit."""
    from cnnspec.check import meanfield as shared

    with monkeypatch.context() as patch:
        patch.setattr(shared, "SATURATED_Q", math.inf)
        return shared.gaussian_mean(g, q)


@pytest.mark.parametrize(("g", "integral"), SATURATING)
def test_a_saturated_mean_is_the_closed_form_limit(g, integral):
    from cnnspec.check import meanfield as shared

    limits = (g(-shared.SATURATION) + g(shared.SATURATION)) / 2
    # at q = 1 the departure from the limits is C / sqrt(2 pi) whole, not a rounding of 1
    excess = (shared.saturated_mean(g, 1.0) - limits) * math.sqrt(2 * math.pi)
    assert excess == pytest.approx(integral, rel=1e-14)


@pytest.mark.parametrize(("g", "integral"), SATURATING)
def test_the_saturated_limit_meets_the_quadrature_as_q_grows(g, integral, monkeypatch):
    """At a bias of std 1e30 (q = 1e60) the midpoint rule took 1,448 points a mean, and a
    600-layer tanh stack 0.7 s of check: from SATURATED_Q on the mean is its limit, which the
    rule approaches as 1 / q (the normal's density over g's features, 1 - u^2 / 2q of its
    peak), within rounding by then."""
    from cnnspec.check import meanfield as shared

    for q in (1e4, 1e6, 1e8, 1e10, 1e12, shared.SATURATED_Q, 1e16):
        quadrature = _quadrature(g, q, monkeypatch)
        assert shared.saturated_mean(g, q) == pytest.approx(quadrature, rel=1 / q + 1e-14)
    assert shared.gaussian_mean(g, shared.SATURATED_Q) == shared.saturated_mean(
        g, shared.SATURATED_Q)
    below = shared.SATURATED_Q * (1 - 1e-12)
    assert shared.gaussian_mean(g, below) == _quadrature(g, below, monkeypatch)


def test_a_mean_that_does_not_saturate_keeps_the_quadrature_at_any_q():
    from cnnspec.check import meanfield as shared

    q = 1e60
    assert shared.gaussian_mean(lambda u: max(u, 0.0) ** 2, q) == pytest.approx(q / 2,
                                                                                rel=1e-12)
    assert shared.gaussian_mean(abs, q) == pytest.approx(math.sqrt(2 * q / math.pi), rel=1e-12)


def test_check_warns_of_a_stack_under_huge_biases_as_the_quadrature_does(monkeypatch):
    """The gradient warning of a tanh stack whose biases of std 1e30 saturate every unit is
    word for word what the quadrature at every q gives."""
    from cnnspec.check import check
    from cnnspec.check import meanfield as shared
    from cnnspec.lang import parse

    text = ("input 1x8x8\nflatten\nrepeat 40 {\n  dense 8 tanh weight lecun_normal "
            "bias normal(0, 1e30)\n}\ndense 10\n")
    limited = [w.message for w in check(parse(text)).warnings]
    monkeypatch.setattr(shared, "SATURATED_Q", math.inf)
    assert limited == [w.message for w in check(parse(text)).warnings]
    assert any("the weights' gradient of" in message for message in limited)


@pytest.mark.slow
def test_the_phase_tables_of_the_docs_are_what_init_report_prints(capsys, monkeypatch):
    """docs/critical-init.md's tables of `init-report specs/deep_tanh200.cnn --phase` (the named
    inits and the critical line), its header abridged at "...": the page gave xi_c = 5e11 at
    the critical point after the command had come to print inf."""
    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "critical-init.md").read_text(encoding="utf-8")
    command = "cnnspec init-report specs/deep_tanh200.cnn --phase"
    assert f"    {command} -o phase.png" in page
    block = re.search(r"^```\n(named inits on this network.*?)^```$", page,
                      flags=re.DOTALL | re.MULTILINE)[1]
    monkeypatch.chdir(root)
    assert main(command.split()[1:]) == 0
    printed = capsys.readouterr().out.split("\n")
    header, *rows = block.rstrip("\n").split("\n")
    start = next(i for i, line in enumerate(printed) if line.startswith("named inits"))
    assert printed[start].startswith(header.removesuffix("...):"))
    assert printed[start + 1:start + 1 + len(rows)] == rows
    # the stem starts from lecun_normal, the body from delta-orthogonal: neither is "(spec)"
    assert "      inf  critical   delta_orthogonal(gain=1) (200 layers: body_1_conv, ..., " \
        "body_200_conv)" in block and "(spec)" not in block


PADDED = """model padded_tanh
input 16x4x4
default weight lecun_normal, bias zeros
repeat 30 as body {
  conv 16 3x3 pad same tanh
}
flatten
head: dense 10
train {
  data npz(path="unused.npz")
}
"""


def test_the_zero_padding_of_small_maps_moves_each_init_to_the_sigma_w_the_net_sees(tmp_path):
    """On 4x4 maps a 3x3 ``pad same`` conv's border outputs read 4 or 6 of their 9 taps: a
    Gaussian kernel delivers deep in a stack (1 + 2 cos(pi/5))^2 / 9 = 0.762 of its sigma_w^2
    (the largest eigenvalue of the taps' reach over 4 positions, squared for two axes), a
    delta-orthogonal one all of it. Placed at the sigma_w as drawn, Glorot's Gaussian was
    called critical beside delta-orthogonal, and the measured line lay at 1.41 against the
    theory's 1; at the sigma_w the net sees, the measurement agrees with the theory."""
    spec = tmp_path / "padded.cnn"
    spec.write_text(PADDED)
    report = phase_report(spec, inits=["delta_orthogonal(gain=1)"], grid=(6, 2))
    share = (1 + 2 * np.cos(np.pi / 5)) ** 2 / 9
    assert report.share == pytest.approx(share, rel=1e-6)

    def at(name):
        return next(p for p in report.inits if name in p.label.split(", "))

    glorot, delta = at("glorot_normal"), at("delta_orthogonal(gain=1)")
    assert glorot.sigma_w == pytest.approx(1.0) and glorot.share == pytest.approx(share)
    assert glorot.net_sigma_w == pytest.approx(np.sqrt(share))
    assert glorot.phase == "ordered" and glorot.measured_phase is None
    assert glorot.measured_chi_1 < 0.9
    assert delta.net_sigma_w == pytest.approx(1.0) and delta.agreed_critical
    [(_, line)] = [(b, w) for b, w in report.measured_boundary if b == 0.0]
    assert line == pytest.approx(1.0, abs=0.1)
    for p in report.measured:
        if 0.2 < p.chi_1_theory < 2:
            assert p.chi_1 == pytest.approx(p.chi_1_theory, rel=0.12), (p.sigma_w, p.sigma_b)
    assert verdict(report).critical_inits[0].startswith("delta_orthogonal")
    text = format_phase(report)
    assert "zero padding of the hidden layers' 4x4 maps leaves" in text
    assert " 0.76 of its sigma_w^2" in text


def test_the_share_of_a_gaussian_is_the_reports_whatever_init_is_placed_last():
    """digits' typical layer (1 -> 32 channels, 3x3 on 8x8) keeps 0.92 of a Gaussian's
    sigma_w^2; the report held the share of the last named init placed instead (there
    delta-orthogonal's 1), and said nothing of the padding."""
    from cnnspec.lab.phase import gaussian_share, hidden_chain
    from cnnspec.lab.variants import load_variant

    path = Path(__file__).resolve().parent.parent / "specs" / "digits.cnn"
    report = phase_report(path, grid=(2, 2), theory_grid=(4, 3))
    share = gaussian_share(hidden_chain(load_variant(path).checked).typical)
    assert share == pytest.approx(0.921, abs=1e-3) and report.share == share
    assert "zero padding of the hidden layers' 8x8 maps" in format_phase(report)


def test_an_init_the_measurement_contradicts_is_not_called_critical():
    """The theory's critical point where Gaussian weights measure chi_1 = 0.8: the table and
    the verdict give both, and no init is named critical against the measurement."""
    from cnnspec.lab.phase import InitPoint, MeasuredPoint, PhaseReport

    own = InitPoint("normal (spec)", 1.0, 0.0, 1.0, float("inf"), measured_chi_1=0.8)
    other = InitPoint("lecun_normal", 0.5, 0.0, 0.25, 0.7, measured_chi_1=1.2)
    agreed = InitPoint("orthogonal", 1.2, 0.0, 1.0, float("inf"), measured_chi_1=0.95)
    assert (own.phase, own.measured_phase) == ("critical", "ordered")
    assert (other.phase, other.measured_phase) == ("ordered", "chaotic")
    assert (agreed.phase, agreed.measured_phase) == ("critical", None)
    report = PhaseReport("net", "tanh", 24, (64, 64, 1, 1), 64, [0.0], [0.0, 1.0], [[]], [[]],
                         [(0.0, 1.0), (1.0, 2.0)], [own, agreed],
                         [MeasuredPoint(0.5, 0.0, 0.2, 0.25, 1.0, 1.0)], [(0.0, 1.3)],
                         spec_init="normal")
    got = verdict(report)
    assert (got.phase, got.measured_phase) == ("critical", "ordered")
    assert got.to_dict()["phase"] == "critical" and own.to_dict()["measured_phase"] == "ordered"
    assert got.text.startswith("verdict: the spec's init (normal) is critical in theory, "
                               "ordered measured on this net")
    assert got.critical_inits == ["orthogonal"]
    assert "where Gaussian weights measure chi_1 = 0.8; the measured critical line is at " \
        "sigma_w = 1.3 (theory: 1) at sigma_b = 0.000" in got.text, got.text
    table = format_phase(report).splitlines()
    header = next(row for row in table if row.endswith("  init"))
    spec_row, other_row = (next(row for row in table if row.endswith(f"  {label}"))
                           for label in ("normal (spec)", "orthogonal"))
    assert spec_row.endswith("critical in theory, ordered measured  normal (spec)")
    # the init column stays under its heading past the longer phase
    assert spec_row.index("normal (spec)") == other_row.index("orthogonal") \
        == header.index("init")
    report.measured_boundary = []
    assert "the measured grid crosses chi_1 = 1 nowhere at sigma_b = 0.000 (theory: 1)" in \
        verdict(report).text


def test_cli_phase_says_its_work_before_and_its_passes_while_it_runs(wide, capsys):
    """--phase measured for minutes without a word: now, as --jacobian, its work first (24
    probe inputs at each of 2x2 grid points, forward through 24 convs, 24 tanhs, a pool and a
    head), then, stderr being no terminal here, a line at each tenth of the passes done."""
    assert main(["init-report", str(wide), "--phase", "--grid", "2x2"]) == 0
    first, *lines = capsys.readouterr().err.splitlines()
    assert first.startswith("phase: 4 grid points x 24 inputs = 96 forward passes through 50 "
                            "layers, about "), first
    assert first.endswith(" MFLOP in float64, and the theory beside each point")
    assert lines == [f"phase: {done}/96 passes ({done / 96:.0%})" for done in (24, 48, 72, 96)]


def test_the_work_of_the_phase_diagram_counts_its_forward_passes(wide):
    from cnnspec.check.load import load
    from cnnspec.cli.init_report import phase_work_lines
    from cnnspec.kinds import layer_flops
    from cnnspec.lab.phase import PhaseWork, phase_work

    works = []
    phase_report(wide, grid=(3, 2), theory_grid=(4, 3), start=works.append)
    checked = load(wide)
    assert works == [phase_work(checked, (3, 2))]
    (work,) = works
    assert (work.grid, work.points, work.inputs, work.layers) == ((3, 2), 6, 24, 50)
    # a 64 -> 64 1x1 conv on 4x4: 65,536 multiply-adds forward
    assert layer_flops(checked.by_name["body_1_conv"], need_dx=False)[0] == 2 * 65536
    assert work.passes == 144 and work.flops == 144 * work.pass_flops
    assert len(phase_work_lines(work)) == 1
    large = PhaseWork(grid=(56, 21), inputs=24, layers=2000, pass_flops=10 ** 9)
    assert phase_work_lines(large)[1] == ("hint: this may take minutes; for less, a coarser "
                                          "--grid (now 56x21)")


SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_the_typical_layer_is_the_median_fan_in_and_the_advice_is_per_fan():
    """On specs/digits.cnn every weight shape occurs once; the most common one was the first
    conv's (fan_in 9), and the verdict advised its std, 0.491, for every layer (sigma_w ~8 on
    fans of 256 and 288). The typical layer is the median fan_in's, and where the fans differ
    the advice is a std per fan_in and the init that holds sigma_w on all of them."""
    from cnnspec.lab.phase import Verdict, hidden_chain
    from cnnspec.lab.variants import load_variant

    chain = hidden_chain(load_variant(SPECS / "digits.cnn").checked)
    assert chain.typical.name == "conv2" and chain.typical.fan_in == 288
    assert chain.fans == [(9, ["conv1"]), (256, ["fc1"]), (288, ["conv2", "conv3"])]
    text = Verdict("he_normal", None, None, None, 4, [], 2.0 ** 0.5, np.nan, 288, 1.0,
                   chain.fans).text
    assert "0.471 at fan_in 9 (conv1), 0.0884 at fan_in 256 (fc1), 0.0833 at fan_in 288" in text
    assert "variance_scaling(scale=2, mode=fan_in, distribution=normal)" in text
    single = Verdict("he_normal", None, None, None, 4, [], 2.0 ** 0.5, np.nan, 288, 1.0,
                     [(288, ["conv2", "conv3"])]).text
    assert single.endswith("weights normal(0, 0.0833) (sigma_w = 1.414)")


def test_a_net_shallower_than_its_depth_scale_needs_no_change_for_depth():
    """resnet_near_identity's he_normal lies at 0.09 xi_c; the verdict advised normal(0, 0.119)
    where he_normal is 0.118. Below one xi_c it says there is nothing to change for depth's sake."""
    from cnnspec.lab.phase import InitPoint, Verdict

    point = InitPoint("he_normal (spec)", 1.414, 0.0, 0.977, 43.8)
    shallow = Verdict("he_normal", point, "ordered", None, 4, [], 1.43, np.nan, 144).text
    assert "too few for that to show: nothing to change for depth's sake" in shallow
    deep = Verdict("he_normal", point, "ordered", None, 200, [], 1.43, np.nan, 144).text
    assert "nothing to change" not in deep and "are 4.57 xi_c" in deep


def test_relu_at_its_critical_point_has_an_infinite_depth_scale_as_tanh_does():
    """ReLU at sigma_w^2 = 2 printed xi_c 55.8 (c stopped short of 1 after a fixed number of
    steps) where tanh at its critical point printed inf: both are infinite."""
    for name, critical in (("relu", 2.0 ** 0.5), ("tanh", 1.0)):
        at = mf.phase(critical, 0.0, mf.nonlinearity(name))
        assert float(at.chi_1) == 1.0 and np.isinf(at.xi_c) and float(at.c_star) == 1.0
    near = mf.phase(1.3, 0.0, mf.nonlinearity("relu"))
    assert np.isfinite(near.xi_c)


def test_steps_through_pools_and_residual_adds_are_left_out_of_chi_1():
    """digits' measured chi_1 read 1.24 where the theory's was 0.94: two of its three steps
    pass a max pool, which after a ReLU passes on the perturbation of its largest, nearly
    always active, input. Only the theory's steps are measured, and the note names the rest."""
    from cnnspec.lab.phase import hidden_chain, perturbation_growth
    from cnnspec.lab.variants import load_variant

    digits = hidden_chain(load_variant(SPECS / "digits.cnn").checked)
    assert digits.steps == [True, False, False] and digits.between == ["pool1", "pool2"]
    resnet = hidden_chain(load_variant(SPECS / "resnet_near_identity.cnn").checked)
    assert resnet.steps == [True, False, False]
    assert resnet.between == ["res_1_sum", "res_2_sum"]
    # growth 0.5 over the theory's step, 4 over the others: only the first is counted
    assert perturbation_growth([1.0, 0.5, 2.0, 8.0], [1.0] * 4, [True, False, False]) == \
        pytest.approx(0.5)
    assert perturbation_growth([1.0, 0.5, 2.0], [1.0] * 3) == pytest.approx(2 ** 0.5)


def test_the_specs_own_init_is_listed_once():
    """he_normal was listed as "he_normal (spec), he_uniform, he_normal"."""
    from cnnspec.lab.phase import hidden_chain, named_inits
    from cnnspec.lab.variants import load_variant

    path = SPECS / "digits.cnn"
    labels = [label for label, _, _ in named_inits(path, hidden_chain(
        load_variant(path).checked))]
    assert "he_normal (spec), he_uniform" in labels
    assert sum(label.split(", ").count("he_normal") for label in labels) == 0


# A Keras model as a new user wrote it down: ReLU throughout but for c3's tanh, c4 read by c5
# with no activation between, and c2, c3, c4 naming their own inits.
MIXED_KERAS = """model kerasy
input 1x8x8
default weight glorot_uniform, bias zeros
c1: conv 32 3x3 pad same relu
c2: conv 32 3x3 pad same weight normal(0, 0.05) bias constant(0.1) relu
c3: conv 64 3x3 pad same weight he_normal tanh
c4: conv 64 3x3 pad same weight orthogonal
c5: conv 64 3x3 pad same relu
pool: maxpool 2
flatten
dense 128 relu
out: dense 10 softmax
"""


def test_a_net_that_mixes_tanh_and_relu_is_said_to_and_each_layers_init_is_named(
        tmp_path, capsys):
    """c3's tanh was counted among the layers "with no elementwise nonlinearity after them",
    the title spoke of relu alone, and the verdict of "the spec's init (glorot_uniform)" where
    c2 starts from normal(0, 0.05)."""
    spec = tmp_path / "kerasy.cnn"
    spec.write_text(MIXED_KERAS)
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("kerasy: 4 hidden layers with relu (c1, c2, c5, dense1), "
                               "typical weight 64x64x3x3 (c5, fan_in 576)")
    assert lines[1] == ("note: the net mixes relu and tanh: the diagram is relu's, over its "
                        "hidden layers c1, c2, c5, dense1; c3 (tanh) is not in the chain and "
                        "keeps its init")
    left_out = next(line for line in lines if "not in the chain (no elementwise" in line)
    assert left_out.endswith("the weighted layers c4, out are not in the chain (no elementwise "
                             "nonlinearity after them) and keep their init")
    assert lines[-1].startswith(
        "verdict: the typical hidden layer's init (glorot_uniform, on c5; the hidden layers' "
        "differ: glorot_uniform on c1, c5, dense1; normal(std=0.05) on c2) is ordered")
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["other_nonlinearities"] == [{"layer": "c3", "nonlinearity": "tanh"}]
    assert got["weighted_layers_left_out"] == ["c4", "out"]
    assert got["hidden_layer_names"] == ["c1", "c2", "c5", "dense1"]
    inits = [{"init": "glorot_uniform", "layers": ["c1", "c5", "dense1"]},
             {"init": "normal(std=0.05)", "layers": ["c2"]}]
    assert got["hidden_inits"] == got["verdict"]["hidden_inits"] == inits
    assert got["verdict"]["typical_layer"] == "c5"
    # the picture's title said "relu, 4 hidden layers" alone
    assert phase_report(spec, grid=(2, 2), theory_grid=(4, 3)).title == (
        "kerasy: relu, 4 hidden layers (c1, c2, c5, dense1; fan_in 576); the net mixes relu "
        "and tanh: c3 (tanh) left out: order-to-chaos phase diagram")


def test_hidden_layers_of_different_inits_are_placed_each_with_its_layers(tmp_path, capsys):
    """The table marked the typical layer's init "glorot_uniform (spec)" where c2 starts from
    normal(0, 0.05), and left c2's init off the diagram: the spec sets no one init there."""
    spec = tmp_path / "kerasy.cnn"
    spec.write_text(MIXED_KERAS)
    assert main(["init-report", str(spec), "--phase", "--grid", "2x2"]) == 0
    out = capsys.readouterr().out
    assert "(spec)" not in out
    rows = out.split("  init\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert rows[1].endswith("glorot_uniform (c1, c5, dense1), glorot_normal, lecun_uniform, "
                            "lecun_normal, orthogonal")
    # c2's normal(0, 0.05) on the typical layer c5 (fan_in 576): sigma_w = 0.05 * 24
    assert rows[3].split()[0] == "1.200" and rows[3].endswith("  normal(std=0.05) (c2)")
    assert "is ordered on this net (chi_1 = 0.461" in out  # the verdict found c5's point


def test_the_hidden_layers_inits_share_a_row_where_they_sit_at_one_place(tmp_path):
    """Glorot's and LeCun's variance agree where fan_in = fan_out: one row names both with
    their layers, the typical layer's (c3) first; LSUV, scaled by the data, has no place."""
    from cnnspec.lab.phase import hidden_chain, named_inits
    from cnnspec.lab.variants import load_variant

    spec = tmp_path / "square.cnn"
    spec.write_text("model square\ninput 16x8x8\n"
                    "c1: conv 16 3x3 pad same weight glorot_uniform tanh\n"
                    "c2: conv 16 3x3 pad same weight glorot_uniform tanh\n"
                    "c3: conv 16 3x3 pad same weight lecun_normal tanh\n"
                    "c4: conv 16 3x3 pad same weight lsuv tanh\n"
                    "flatten\nout: dense 10 softmax\n")
    chain = hidden_chain(load_variant(spec).checked)
    assert chain.typical.name == "c3"
    labels = [label for label, _, _ in named_inits(spec, chain)]
    assert "lecun_normal (c3), glorot_uniform (c1, c2), glorot_normal, lecun_uniform, " \
           "orthogonal" in labels
    assert not any("(spec)" in label or "lsuv" in label for label in labels)
    report = phase_report(spec, grid=(2, 2), theory_grid=(4, 3))
    assert verdict(report).point.label.startswith("lecun_normal (c3), ")


def test_a_verdict_on_hidden_layers_of_one_init_calls_it_the_specs():
    from cnnspec.lab.phase import InitPoint, Verdict

    point = InitPoint("he_normal (spec)", 1.414, 0.0, 0.977, 43.8)
    one = Verdict("he_normal", point, "ordered", None, 4, [], 1.43, np.nan, 144, 1.0, [], [],
                  "conv2")
    assert one.text.startswith("verdict: the spec's init (he_normal) is ordered")
    two = Verdict("he_normal", point, "ordered", None, 4, [], 1.43, np.nan, 144, 1.0, [],
                  [("he_normal", ["conv2"]), ("zeros", ["conv1"])], "conv2")
    assert two.text.startswith("verdict: the typical hidden layer's init (he_normal, on conv2; "
                               "the hidden layers' differ: he_normal on conv2; zeros on conv1)")
