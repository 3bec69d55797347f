"""Another library's parameters given to an init are hinted as the init written here, with
the user's own values: Keras' names of a parameter (``stddev``) renamed in the same call, and
a named scheme given a parameter of ``variance_scaling`` (Keras' truncated he_normal) written
as the ``variance_scaling`` it is (:mod:`cnnspec.init.presets`)."""
import re

import pytest

from cnnspec.cli import main
from cnnspec.errors import SpecError
from cnnspec.init import describe
from cnnspec.init.catalogue import ALIASES, canonical_name
from cnnspec.init.gains import LEAKY_SLOPE_HINT
from cnnspec.init.presets import PRESETS
from cnnspec.lang import parse

SHAPE = (8, 4, 3, 3)


def _error(init: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse(f"input 4x8x8\nconv 8 3x3 weight {init}\n")
    return info.value


def _weight(init: str) -> dict:
    return parse(f"input 4x8x8\nconv 8 3x3 weight {init}\n").ir["layers"][0]["weight_init"]


def _hinted(error: SpecError) -> str:
    return re.search(r"write `([^`]*)`", error.hint)[1]


@pytest.mark.parametrize("init, said, hinted", [
    ("truncated_normal(stddev=0.02)", "stddev is std", "truncated_normal(0, 0.02)"),
    ("truncated_normal(mean=0.1, stddev=0.02)", "stddev is std", "truncated_normal(0.1, 0.02)"),
    ("truncated_normal(0.5, stddev=0.1)", "stddev is std", "truncated_normal(0.5, 0.1)"),
    ("normal(stddev=0.05)", "stddev is std", "normal(0, 0.05)"),
    ("uniform(minval=-0.1, maxval=0.1)", "minval is low", "uniform(-0.1, 0.1)"),
    ("uniform(-0.1, maxval=0.1)", "maxval is high", "uniform(-0.1, 0.1)"),
])
def test_a_keras_parameter_name_is_hinted_as_the_same_call_here(init, said, hinted):
    assert _error(init).hint == f"Keras' {said} here: write `{hinted}`"
    assert _weight(hinted)["name"] == init.split("(")[0]


def test_a_keras_parameter_no_parameter_here_takes_keeps_the_general_hint():
    assert _error("he_normal(stddev=1)").hint.startswith("Keras' stddev is std here: "
                                                          "RandomNormal(stddev=0.05)")


@pytest.mark.parametrize("name", sorted(set(PRESETS) - {"variance_scaling"}))
def test_a_scheme_given_a_distribution_is_hinted_as_the_variance_scaling_it_is(name):
    """Every named scheme: the hinted variance_scaling keeps the scheme's variance and draws
    from the distribution asked for."""
    error = _error(f"{name}(distribution=truncated_normal)")
    assert error.message == f"initializer {name} has no parameter 'distribution'"
    hinted = _weight(_hinted(error))
    assert hinted["name"] == "variance_scaling"
    assert hinted["distribution"] == "truncated_normal"
    assert describe(hinted, SHAPE).std == pytest.approx(describe(_weight(name), SHAPE).std)


def test_keras_he_normal_is_hinted_as_the_docs_write_it():
    error = _error("he_normal(distribution=truncated_normal)")
    assert error.hint == ("he_normal is variance_scaling(2, fan_in, normal), whose distribution "
                          "it fixes: write `variance_scaling(2, fan_in, truncated_normal)`")


def test_a_schemes_own_parameters_are_kept_in_the_hint():
    error = _error("he_normal(mode=fan_out, gain=1, distribution=uniform)")
    assert _hinted(error) == "variance_scaling(1, fan_out, uniform)"


def test_a_value_variance_scaling_refuses_keeps_the_parameters_list():
    assert "valid parameters: gain, mode" in _error("he_normal(distribution=foo)").hint


def test_a_keras_parameter_name_given_twice_keeps_the_general_hint():
    """``normal(0, 0.1, stddev=1)``: the std given by position and as stddev; no call to
    write with the user's values, which disagree."""
    assert _error("normal(0, 0.1, stddev=1)").hint.startswith("Keras' stddev is std here: "
                                                               "RandomNormal")


@pytest.mark.parametrize("init, said, hinted", [
    ("he_normal(a=0.2)", ("kaiming a= is the slope of the leaky ReLU after the layer: "
     "gain=leaky_relu(a)"), "he_normal(gain=leaky_relu(0.2))"),
    ("kaiming_uniform(a=0.1, mode=fan_out, nonlinearity=leaky_relu)",
     "kaiming a= is the slope of the leaky ReLU after the layer: gain=leaky_relu(a)",
     "kaiming_uniform(mode=fan_out, gain=leaky_relu(0.1))"),
    ("he_normal(nonlinearity=tanh)", "nonlinearity= is gain=", "he_normal(gain=tanh)"),
    ("kaiming_normal(mode=fan_out, nonlinearity=relu)", "nonlinearity= is gain=",
     "kaiming_normal(mode=fan_out, gain=relu)"),
    # PyTorch reads a with leaky_relu alone: kaiming_normal_(w, a=0.3, nonlinearity='relu')
    ("he_normal(nonlinearity=relu, a=0.3)", "nonlinearity= is gain=", "he_normal(gain=relu)"),
    ("he_normal(nonlinearity=leaky_relu)", "nonlinearity= is gain=",
     "he_normal(gain=leaky_relu(0))"),
    ("xavier_uniform(nonlinearity=tanh)", "nonlinearity= is gain=", "xavier_uniform(gain=tanh)"),
    ("orthogonal(nonlinearity=relu)", "nonlinearity= is gain=", "orthogonal(gain=relu)"),
    ("uniform(a=-0.1, b=0.1)", "a= and b= are low= and high=", "uniform(-0.1, 0.1)"),
    ("truncated_normal(0, 0.02, a=-0.04, b=0.04)", "a= and b= are low= and high=",
     "truncated_normal(0, 0.02, low=-0.04, high=0.04)"),
])
def test_a_pytorch_parameter_is_hinted_as_the_same_call_here(init, said, hinted):
    """PyTorch's kaiming_*_(a, nonlinearity) make the gain as its calculate_gain reads them
    (nonlinearity left out is leaky_relu, of slope a, 0 left out); its uniform_(a, b) and
    trunc_normal_'s a and b are the bounds. The hinted call checks, and draws as PyTorch would."""
    error = _error(init)
    assert error.hint.startswith(f"PyTorch's {said} here: write `"), error.hint
    assert _hinted(error) == hinted
    name = init.split("(")[0]
    assert _weight(hinted)["name"] == ALIASES.get(name, name)


@pytest.mark.parametrize("init", ["he_normal(a=-0.5)", "kaiming_uniform(mode=fan_out, a=-1)"])
def test_a_negative_kaiming_slope_is_not_hinted_as_a_gain_the_rule_refuses(init):
    """PyTorch takes kaiming a=-0.5; gain=leaky_relu(-0.5) here is refused as the leaky_relu
    layer's slope is (one rule): the hint says so rather than write it."""
    hint = _error(init).hint
    slope = init.split("a=")[1].rstrip(")")
    assert hint.startswith("PyTorch's kaiming a= is the slope of the leaky ReLU")
    assert hint.endswith(f", whose slope must be 0 or more, not {slope}: {LEAKY_SLOPE_HINT}")


def test_he_normal_of_kaimings_slope_draws_pytorchs_std():
    """kaiming_normal_(w, a=0.2): std = sqrt(2 / (1 + 0.2^2)) / sqrt(fan_in)."""
    weight = _weight(_hinted(_error("he_normal(a=0.2)")))
    assert describe(weight, SHAPE).std == pytest.approx((2 / 1.04) ** 0.5 / 36 ** 0.5)


def test_a_pytorch_parameter_given_with_the_one_it_becomes_keeps_the_general_hint():
    """``he_normal(gain=relu, a=0.1)``: the gain given twice, no call to write."""
    assert _error("he_normal(gain=relu, a=0.1)").hint.startswith("PyTorch's kaiming_*_(a=)")


def test_kaimings_slope_of_sqrt_5_is_named_pytorchs_default():
    """kaiming_uniform_(w, a=math.sqrt(5)) is what nn.Conv2d draws: the hint names the init
    that says so, and the call it writes draws the same bound, 1 / sqrt(fan_in)."""
    error = _error("kaiming_uniform(a=2.23606797749979)")
    assert error.hint.endswith("is torch_default here")
    hinted = describe(_weight(_hinted(error)), SHAPE)
    assert hinted.std == pytest.approx(describe(_weight("torch_default"), SHAPE).std)
    assert "torch_default" not in _error("kaiming_uniform(a=0.2)").hint
    assert "torch_default" not in _error("he_normal(a=2.236)").hint


@pytest.mark.parametrize("init", ["uniform(maxval=0.1)", "uniform(minval=-0.1)",
                                  "uniform(b=0.1)"])
def test_a_call_that_would_be_refused_in_turn_is_not_hinted(init):
    """``uniform(maxval=0.1)`` was hinted `uniform(high=0.1)`, which needs a low too: the
    general hint, which says what Keras' and PyTorch's bounds are here, instead."""
    hint = _error(init).hint
    assert "write `" not in hint, hint
    assert "uniform(low, high)" in hint or "uniform(-0.05, 0.05)" in hint, hint


@pytest.mark.parametrize("init, written", [
    ("he_uniform(mode=fan_avg)", "glorot_uniform(gain=relu)"),
    ("kaiming_normal(fan_avg, tanh)", "glorot_normal(gain=tanh)"),
    ("he_normal(mode=fan_avg, gain=leaky_relu(0.2))", "glorot_normal(gain=leaky_relu(0.2))"),
    ("he_uniform(gain=3, mode=fan_avg)", "glorot_uniform(gain=3)"),
])
def test_he_over_the_averaged_fan_is_hinted_as_glorot_with_its_gain(init, written):
    """He's schemes pick one fan; over their mean they are Glorot's with He's gain, which the
    hinted init draws: variance_scaling(gain^2, fan_avg, its distribution)."""
    error = _error(init)
    assert error.message == "unknown mode 'fan_avg'"
    assert _hinted(error) == written
    hinted, over_fan_in = (describe(_weight(text), SHAPE)
                           for text in (written, init.replace("fan_avg", "fan_in")))
    assert hinted.distribution == over_fan_in.distribution
    # the same gain over the fans' mean, (36 + 72) / 2, in place of fan_in, 36
    assert hinted.std == pytest.approx(over_fan_in.std * (36 / 54) ** 0.5)


def test_he_over_the_averaged_fan_says_the_gain_it_carries():
    assert _error("he_uniform(mode=fan_avg)").hint == (
        "he_uniform over fan_avg is Glorot & Bengio 2010's scheme with he_uniform's gain, "
        "relu: write `glorot_uniform(gain=relu)`")


@pytest.mark.parametrize("init, guess", [("he_normal(mode=fan_avgg)", ""),
                                         ("he_normal(mode=fan_avg, gain=x)", "fan_in")])
def test_a_mode_no_scheme_draws_or_another_mistake_keeps_the_spelling_guess(init, guess):
    # fan_avgg is as like fan_in as 0.57, below errors.CLOSE_SPELLING: no guess
    offered = f"did you mean {guess}? (valid modes: fan_in, fan_out)" if guess else (
        "valid modes: fan_in, fan_out")
    assert _error(init).hint == offered


@pytest.mark.parametrize("wrong, meant", [("nonsense", None), ("xyz", None),
                                          ("unifrom", "uniform"), ("dirak", "dirac"),
                                          ("zeroes", "zeros")])
def test_an_unknown_init_is_offered_only_a_name_it_is_a_misspelling_of(wrong, meant):
    # `nonsense` shares four letters with `ones` in order (difflib's ratio 0.67 one way,
    # 0.5 the other): it was offered ones
    spec_hint = _error(wrong).hint
    with pytest.raises(SpecError) as info:
        canonical_name(wrong)
    for hint in (spec_hint, info.value.hint):
        offered = re.match(r"did you mean (\w+)\?", hint)
        assert (offered and offered[1]) == (meant or None), hint


def test_an_init_on_the_command_line_is_offered_no_name_it_only_shares_letters_with(capsys):
    assert main(["compare", "specs/digits.cnn", "--init", "nonsense", "--init", "he_normal",
                 "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown initializer 'nonsense'" in err and "did you mean" not in err
