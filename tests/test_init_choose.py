"""Hints name inits by asking the catalogue (:mod:`cnnspec.init.choose`): the scheme made for
an activation, the variant of a family, the init a layer takes unwritten. No hint of the
checker spells a scheme's name by hand."""
import ast
import math
import re
from pathlib import Path

import pytest

import cnnspec.check
from cnnspec.check import signal
from cnnspec.init import choose
from cnnspec.init.catalogue import ALIASES, BUILT_IN_DEFAULTS, INITS
from cnnspec.init.gains import nonlinearity_gain
from cnnspec.lang import parse
from cnnspec.lang.resolve import DEFAULT_BIAS_INIT, DEFAULT_WEIGHT_INIT


@pytest.mark.parametrize("nonlinearity, mode, distribution, name", [
    ("relu", "fan_in", "normal", "he_normal"),
    ("relu", "fan_in", "uniform", "he_uniform"),
    ("linear", "fan_in", "normal", "lecun_normal"),
    ("linear", "fan_in", "uniform", "lecun_uniform"),
    ("linear", "fan_avg", "normal", "glorot_normal"),
    ("linear", "fan_avg", "uniform", "glorot_uniform"),
])
def test_the_scheme_for_an_activation_is_the_catalogue_entry_that_draws_its_variance(
        nonlinearity, mode, distribution, name):
    init = choose.scheme_for(nonlinearity, mode, distribution)
    assert init.name == name
    rule = choose.default_rule(init.name)
    assert (rule.mode, rule.distribution) == (mode, distribution)
    assert math.isclose(rule.gain, nonlinearity_gain(nonlinearity))


def test_a_variance_no_named_scheme_draws_is_not_made_up():
    with pytest.raises(LookupError, match="gain\\(tanh\\)"):
        choose.scheme_for("tanh")


@pytest.mark.parametrize("name, said", [
    ("he_normal", "he_normal (Var(w) = 2 / fan_in, He et al. 2015)"),
    ("lecun_uniform", "lecun_uniform (Var(w) = 1 / fan_in, LeCun et al. 1998)"),
    ("glorot_normal", "glorot_normal (Var(w) = 2 / (fan_in + fan_out), Glorot & Bengio 2010)"),
])
def test_a_cited_scheme_says_its_variance_and_its_paper(name, said):
    (init,) = [i for i in INITS if i.name == name]
    assert choose.cited(init) == said


def test_the_signal_hints_name_the_schemes_the_catalogue_chooses():
    assert signal.suggested_init("relu") == "he_normal (Var(w) = 2 / fan_in, He et al. 2015)"
    assert signal.suggested_init("tanh") == (
        "lecun_normal (Var(w) = 1 / fan_in, LeCun et al. 1998) or glorot_normal "
        "(Var(w) = 2 / (fan_in + fan_out), Glorot & Bengio 2010)")
    assert signal.suggested_init("leaky_relu", 0.2).startswith("he_normal(gain=leaky_relu(0.2))")
    assert signal.keeping_inits() == \
        "he_normal before relu, lecun_normal or glorot_normal before others"


def test_the_built_in_defaults_are_what_a_spec_without_inits_gets():
    layer = parse("input 1x8x8\nconv 4 3x3\n").ir["layers"][0]
    assert layer["weight_init"] == DEFAULT_WEIGHT_INIT
    assert layer["weight_init"]["name"] == BUILT_IN_DEFAULTS["weight"] == "he_normal"
    assert layer["bias_init"] == DEFAULT_BIAS_INIT
    assert layer["bias_init"]["name"] == BUILT_IN_DEFAULTS["bias"] == "zeros"


def _named_schemes() -> re.Pattern:
    """A scheme's name (or alias) as a word of text: the scaled and matrix inits, whose names
    are no common words."""
    names = [i.name for i in INITS if i.family in ("scaled", "matrix")] + list(ALIASES)
    return re.compile(r"(?<![\w-])(" + "|".join(sorted(names, key=len, reverse=True))
                      + r")(?![\w-])")


def _texts(path: Path):
    """Every string constant of a module that reads as text (has a space), docstrings
    excepted, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and " " in node.value and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_checker_hint_spells_a_schemes_name():
    pattern = _named_schemes()
    root = Path(cnnspec.check.__file__).parent
    spelt = [f"{path.name}:{line}: {pattern.search(text)[1]}"
             for path in sorted(root.glob("*.py")) for line, text in _texts(path)
             if pattern.search(text)]
    assert spelt == []


def test_the_scan_finds_a_name_spelt_by_hand(tmp_path):
    written = tmp_path / "hint.py"
    written.write_text('"""A docstring names he_normal."""\nHINT = "use glorot_uniform here"\n')
    assert [_named_schemes().search(text)[1] for _, text in _texts(written)] == \
        ["glorot_uniform"]
