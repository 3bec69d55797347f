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


# mse squares the outputs: their own constant bias counts, as it does not for cross_entropy.
SQUARED = ("input 1x8x8\nconv 4 3x3 relu\nflatten\nfc: dense 10 bias constant({})\n"
           "train {{\n  data digits\n  loss {}\n}}\n")


@pytest.mark.parametrize("dtype, bias", [("float32", "1e20"), ("float64", "1e155")])
def test_an_output_bias_whose_square_overflows_is_warned_under_mse(dtype, bias):
    """The loss of the first step is infinite (training diverged at step 1 unwarned); under
    cross_entropy, which a shift of every score alike leaves as it is, the warning is another:
    the dtype's numbers that far out are farther apart than the sums, which round away."""
    [warning] = _scale_warnings(SQUARED.format(bias, "mse"), dtype)
    assert warning.message == (
        f"the biases of dense 'fc' start with a root mean square of {bias}, beyond the square "
        f"root of {dtype}'s largest number ({FORMATS[dtype].largest_text}): the mean squares "
        "of what they reach, up to the outputs of 'fc', are infinite, and so is the mse loss "
        "of the first step, which squares them")
    assert (warning.span.line, warning.span.column) == (4, 14)
    [absorbed] = _scale_warnings(SQUARED.format(bias, "cross_entropy"), dtype)
    assert "round away when added to them" in absorbed.message
    assert _scale_warnings(SQUARED.format("1e3", "mse"), dtype) == []


# Sobel's kernel before the scores, no norm between: the scale comes from it (signal-scale).
SOBEL = ("input 1x16x16\ngx: conv 1 3x3 pad {} weight sobel_x nobias frozen\nflatten\n"
         "fc: dense 10 weight normal(0, 0.12)\ntrain {{\n  data shapes(size=16)\n}}\n")


def test_the_scale_message_names_the_kernels_factor_and_the_share_padding_leaves():
    """sobel_x's squares sum to 12 (fan_in * E[w^2]); padded `same` on 16x16 maps, its border
    outputs sum fewer taps: 11 with that share, which the message says apart."""
    from cnnspec.init.kernels import named_kernel

    assert float((np.array(named_kernel({"name": "sobel_x"}, 3, 3)) ** 2).sum()) == 12
    [padded] = _scale_warnings(SOBEL.format("same"))
    assert ("conv 'gx' (sobel_x 3x3): fan_in * E[w^2] * activation factor = 12, times the "
            "share of its products that read the input, not its zero padding, 0.918: 11, "
            in padded.message)
    [valid] = _scale_warnings(SOBEL.format("valid"))
    assert "activation factor = 12, " in valid.message and "zero padding" not in valid.message


def test_a_relu_nine_in_ten_dead_by_a_constant_bias_is_no_warning_and_the_estimate_holds(
        tmp_path):
    """The two shares of a mostly dead ReLU differ: a constant bias that leaves 1 in 10 of a
    layer's centred sums above 0 is above LEAST_ALIVE (no silenced-relu), and past
    PAST_ESTIMATE_DEAD the estimate still holds, since the sums' mean does not drift: the
    engine measures the share the estimate gives, Phi(b / sqrt(q)) with q = 2 (he_normal
    on unit inputs)."""
    from statistics import NormalDist

    from cnnspec.check.lints import LEAST_ALIVE
    from cnnspec.check.signal import PAST_ESTIMATE_DEAD
    from cnnspec.lab.report import init_report

    bias = -1.81
    alive = NormalDist().cdf(bias / math.sqrt(2))
    assert LEAST_ALIVE < alive < 1 - PAST_ESTIMATE_DEAD
    text = f"input 1x8x8\nc: conv 16 3x3 relu weight he_normal bias constant({bias})\n" \
           "flatten\ndense 10 weight he_normal\n"
    checked = check(parse(text, "net.cnn"))
    assert checked.warnings == [] and checked.signal_dies is None
    path = tmp_path / "net.cnn"
    path.write_text(text, encoding="utf-8")
    report = init_report(str(path), input_kind="gaussian", batch_size=256)
    [relu] = [row for row in report.variants[0].layers if row.name == "c_relu"]
    assert relu.dead_frac == pytest.approx(1 - alive, abs=0.03)


def test_checks_scale_of_the_scores_is_the_engines_over_seeds_as_the_docs_say(tmp_path):
    """check's estimate of the scores' scale (specs/edges.cnn without its batch norm) and
    init-report's measurement differ by what each takes (docs/how-to-initialise.md, "Two
    figures for one scale"), not by a mistake: the engine's forward pass on Gaussian images,
    over 20 seeds' weights, gives check's figure within 1.15x, and Sobel's layer within 1.02x;
    the page quotes check's figures as check gives them now."""
    import re
    from pathlib import Path

    from test_check import _estimated_and_measured_scales

    from cnnspec.errors import rounded_text

    root = Path(__file__).resolve().parent.parent
    text = (root / "specs" / "edges.cnn").read_text(encoding="utf-8")
    spec = tmp_path / "edges.cnn"
    spec.write_text("\n".join(line for line in text.splitlines()
                              if not line.startswith("norm:")), encoding="utf-8")
    estimate, measured = _estimated_and_measured_scales(str(spec), tmp_path, seeds=20)
    assert 1 / 1.15 < estimate["fc"] / measured["fc"] < 1.15
    assert 1 / 1.02 < estimate["gx"] / measured["gx"] < 1.02
    [warning] = _scale_warnings(spec.read_text(encoding="utf-8"))
    assert f"std of about {rounded_text(estimate['fc'])}," in warning.message
    page = " ".join((root / "docs" / "how-to-initialise.md").read_text(encoding="utf-8").split())
    said = re.search(r"scores are estimated at (\S+) times the input's scale \(the warning's "
                     r"\"std of about (\S+)\"\).* independent inputs give (\S+)\.", page)
    assert said is not None
    assert said.groups() == (rounded_text(estimate["fc"]),) * 2 + (rounded_text(estimate["gx"]),)


# Four ReLU convs drawn from normal(0, 1) on the `default` line: the scale grows 1e5x.
LARGE_DEFAULT = ("input 1x8x8\ndefault weight normal(0, 1)\n"
                 + "conv 8 3x3 pad same relu\n" * 4 + "flatten\nfc: dense 10\n")


def test_a_scale_changed_by_the_default_init_is_said_at_the_default_line(tmp_path):
    """The init that moves the scale is written on the `default` line, which the hint's init
    replaces: the warning points there, as gain-misfit's does, where it pointed at the first
    conv's name. It stays about that conv, so an ignore comment on the conv's line still
    silences it; an init written on the layers is pointed at on the first one's line."""
    import cnnspec

    [warning] = _scale_warnings(LARGE_DEFAULT)
    assert "estimated to grow" in warning.message
    assert (warning.span.line, warning.span.column) == (2, len("default ") + 1)
    assert warning.about == ("conv1",)
    own = LARGE_DEFAULT.replace("default weight normal(0, 1)\n", "").replace(
        "relu\n", "relu weight normal(0, 1)\n")
    [warning] = [w for w in _scale_warnings(own) if "estimated to grow" in w.message]
    assert (warning.span.line, warning.span.column) == (2, own.splitlines()[1].index("weight") + 1)
    path = tmp_path / "net.cnn"
    path.write_text(LARGE_DEFAULT.replace("relu\n", "relu  # cnnspec: ignore[signal-scale]\n", 1),
                    encoding="utf-8")
    assert [w.lint for w in cnnspec.load(str(path)).warnings] == []
