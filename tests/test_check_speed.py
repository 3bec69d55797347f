"""check's faster paths give the numbers and the words the plain ones gave.

The signal estimate's inner integrals (:mod:`cnnspec.check.signal`) are written for speed:
their helpers inlined, repeated values worked out once, ``f`` mapped over lists. Each is held
here against the plain form it replaced, term by term as written before, to the last bit:
alone on a grid of arguments, and as the whole estimate and every warning of a check of the
specs in specs/ and of generated nets a few hundred layers deep, the oracles patched in.
"""
import math
import random
from pathlib import Path

import pytest

from cnnspec.check import check, lint_catalogue, load, signal
from cnnspec.check.checker import refuse
from cnnspec.errors import SpecErrors
from cnnspec.lang import parse, parse_file

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))


def _normal_cdf(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _normal_density(z):
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _weighted(value, weight):
    return 0.0 if weight == 0 or value == 0 else value * weight


def shifted_normal_moments(d, slope):
    """The truncated normal's moments, each product through ``_weighted``."""
    above, below, density = _normal_cdf(d), _normal_cdf(-d), _normal_density(d)
    square = 1 + d * d
    square_above = _weighted(square, above) + _weighted(d, density)
    square_below = _weighted(square, below) - _weighted(d, density)
    mean_above = _weighted(d, above) + density
    mean_below = _weighted(d, below) - density
    return (square_above + _weighted(slope * slope, square_below),
            mean_above + _weighted(slope, mean_below))


def rectified_residual_moments(q, slope, offset, noise, outer):
    """Simpson's rule over ``X``'s density, every point's shifted moments on their own."""
    scale, spread = math.sqrt(q), math.sqrt(noise)
    square = mean = 0.0
    for u, weight in signal._largest_points(1, -12.0, 12.0, 480):
        x = scale * (u + offset)
        value = x if x > 0 else slope * x
        shifted_square, shifted_mean = shifted_normal_moments(value / spread, outer)
        square += weight * noise * shifted_square
        mean += weight * spread * shifted_mean
    return square, mean


ORACLES = {"_shifted_normal_moments": shifted_normal_moments,
           "_rectified_residual_moments": rectified_residual_moments}


def exactly(value) -> str:
    """``value`` as text that tells every float apart (-0.0 from 0.0, NaN equal to NaN)."""
    return repr(value)


SHIFTS = [0.0, -0.0, 1e-320, -1e-320, 0.3, -0.3, 8.0, -8.0, 37.5, -37.5, 38.6, -38.6,
          1e154, -1e154, 1e300, -1e300, math.inf, -math.inf, math.nan,
          *(random.Random(0).gauss(0, 4) for _ in range(300))]


@pytest.mark.parametrize("slope", [0.0, -0.0, 0.01, 0.2, 1.0, -0.5, 1e300])
def test_the_shifted_normals_moments_are_the_plain_formulas(slope):
    for d in SHIFTS:
        assert exactly(signal._shifted_normal_moments(d, slope)) \
            == exactly(shifted_normal_moments(d, slope)), d


@pytest.mark.parametrize("q,slope,offset,noise,outer", [
    (1.0, 0.0, 0.0, 1.0, 0.0), (2.0, 0.0, 0.4, 0.5, 0.0), (0.7, 0.1, -0.3, 1.3, 0.1),
    (1e-200, 0.0, 0.0, 1e-200, 0.0), (1.0, 0.0, 0.0, 1e-300, 0.2), (3.0, 0.2, 1.5, 2.0, 0.0)])
def test_a_rectified_residuals_moments_are_the_plain_integral(q, slope, offset, noise, outer):
    signal._rectified_residual_moments.cache_clear()
    assert exactly(signal._rectified_residual_moments(q, slope, offset, noise, outer)) \
        == exactly(rectified_residual_moments(q, slope, offset, noise, outer))


def _residual(blocks, activation="relu", bias="zeros"):
    body = (f"  a: conv 8 3x3 pad same {activation}\n  b: conv 8 3x3 pad same\n"
            f"  sum: add(b, in) {activation}\n")
    return (f"model res\ninput 1x8x8\ndefault weight he_normal, bias {bias}\n"
            f"stem: conv 8 3x3 pad same {activation}\n"
            f"repeat {blocks} as res {{\n{body}}}\ngap: global_avgpool\nfc: dense 10\n")


# Nets of each shape the faster paths serve, a few hundred layers deep: residual blocks of
# ReLU and leaky ReLU (their adds), and with a constant bias (sums shifted by an offset).
# Each with the oracles its estimate reads.
GENERATED = {
    "residual relu": (_residual(120), ["_rectified_residual_moments"]),
    "residual leaky": (_residual(60, "leaky_relu(0.1)"), ["_rectified_residual_moments"]),
    "residual bias": (_residual(60, bias="constant(0.1)"), ["_shifted_normal_moments"]),
}


def _said(spec):
    """The estimate of ``spec``'s checked layers, each part, and check's every diagnostic."""
    for cached in vars(signal).values():
        if hasattr(cached, "cache_clear"):  # no figure of the other run's kept
            cached.cache_clear()
    try:
        checked = check(spec, for_training=False)
    except SpecErrors as errors:
        return exactly([(e.message, e.hint, e.span) for e in errors.errors])
    estimate = signal.Estimate.of(spec, checked.layers)
    return exactly([
        estimate.moments, estimate.sums, estimate.alike_channels, estimate.biased_moments,
        estimate.biased_sums, estimate.read_shares, estimate.change, estimate.dying,
        signal.log_spreads(checked.layers),
        [(w.message, w.hint, w.span) for w in checked.warnings]])


def _unchanged(spec, monkeypatch) -> set[str]:
    """Whether the estimate and the warnings of ``spec`` are the oracles'; the names of those
    its check called."""
    fast = _said(spec)
    called = set()

    def counted(name, oracle):
        def call(*args):
            called.add(name)
            return oracle(*args)
        return call

    with monkeypatch.context() as patched:
        for name, oracle in ORACLES.items():
            patched.setattr(signal, name, counted(name, oracle))
        assert fast == _said(spec)
    return called


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_the_estimate_and_warnings_of_each_spec_are_the_plain_integrals(path, monkeypatch):
    _unchanged(parse_file(path), monkeypatch)


@pytest.mark.parametrize("name", GENERATED)
def test_the_estimate_and_warnings_of_deep_nets_are_the_plain_integrals(name, monkeypatch):
    text, reads = GENERATED[name]
    assert set(reads) <= _unchanged(parse(text), monkeypatch)


# Specs check refuses, each for a mistake found at another of its stages: shapes, a layer
# too large to build, a training setting or an init beyond the dtype's range.
REFUSED = [
    "input 1x8x8\na: conv 8 3x3\nb: conv 4 3x3 <- input\nadd(a, b)\nflatten\ndense 10\n",
    "input 1x8x8\ndense 10\nconv 8 3x3\n",
    "input 1x8x8\nconv 100000 3x3 pad same\nconv 100000 3x3 pad same\nflatten\ndense 10\n",
    "input 1x8x8\nconv 8 3x3\nflatten\ndense 10\ntrain {\n  lr 1e300\n}\n",
    "input 1x8x8\nconv 8 3x3 weight constant(1e300)\nflatten\ndense 10\n",
]


@pytest.mark.parametrize("text", REFUSED)
def test_refuse_raises_the_errors_check_raises(text):
    spec = parse(text)
    with pytest.raises(SpecErrors) as checked:
        check(spec, for_training=False)
    with pytest.raises(SpecErrors) as refused:
        refuse(spec)
    assert exactly([(e.message, e.hint, e.span) for e in refused.value.errors]) \
        == exactly([(e.message, e.hint, e.span) for e in checked.value.errors])


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_refuse_passes_the_specs_check_passes(path, monkeypatch):
    """Without a lint: their warnings are never said where refuse is asked."""
    monkeypatch.setattr(lint_catalogue, "run_all", _no_lint)
    assert refuse(parse_file(path)) is None


def _no_lint(found):
    raise AssertionError("a lint ran")


def _whole_check(spec):
    """A tried spec checked as it was before :func:`refuse`: lints and all."""
    check(spec, for_training=False)


@pytest.mark.parametrize("line", ["extra: Convolution 8 3", "extra: Convolution 8 11"])
def test_a_line_tried_in_the_users_place_is_checked_for_its_errors_alone(line, tmp_path,
                                                                          monkeypatch):
    """Another library's line is answered with its line here, tried in the spec's place: the
    hint, refused there or not, is the one the whole check of the tried spec gave, and no
    lint runs (a 599-layer spec's error: 2,399 M instructions with them, 717 M without)."""
    path = tmp_path / "net.cnn"
    path.write_text(_residual(40).replace("gap:", f"{line}\ngap:"))
    with monkeypatch.context() as patched:
        patched.setattr(load, "refuse", _whole_check)
        with pytest.raises(SpecErrors) as whole:
            load.read_spec(path)
    monkeypatch.setattr(lint_catalogue, "run_all", _no_lint)
    with pytest.raises(SpecErrors) as alone:
        load.read_spec(path)
    assert "write `extra: conv 8" in alone.value.errors[0].hint
    assert exactly([(e.message, e.hint, e.span) for e in alone.value.errors]) \
        == exactly([(e.message, e.hint, e.span) for e in whole.value.errors])
