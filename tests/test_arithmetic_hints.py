"""A spec holds numbers: arithmetic or a function where a number goes is an error whose hint is
the number to write (cnnspec.lang.arithmetic), computed from what such a value is made of and
nothing else."""
import math

import pytest

from cnnspec.cli import main
from cnnspec.lang.arithmetic import value_of_text


@pytest.mark.parametrize("text, value", [
    ("1/3", 1 / 3), ("1e-2 * 5", 0.05), ("np.sqrt(2/9)", math.sqrt(2 / 9)),
    ("math.sqrt(2)", math.sqrt(2)), ("torch.exp(-1)", math.exp(-1)), ("2**-0.5", 2 ** -0.5),
    ("-pi", -math.pi), ("math.e", math.e), ("1/(3*3)", 1 / 9), ("log10(1000)", 3.0),
])
def test_arithmetic_a_learner_writes_comes_to_its_number(text, value):
    assert value_of_text(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", [
    "x/2", "'a'/2", "1/0", "log(0)", "2**1000.5", "10**400", "os.system(1)",
    "__import__('os')", "True + 1", "sqrt(2, 3)", "sqrt(x=2)", "(1" * 40, "1+" * 50 + "1",
    "data/train.npz", "",
])
def test_anything_else_gives_no_number(text):
    assert value_of_text(text) is None


@pytest.mark.parametrize("value, hint", [
    ("sqrt(2)", "hint: a spec holds numbers: write 1.414 for sqrt(2)"),
    ("exp(sqrt(4))", "hint: a spec holds numbers: write 7.389 for exp(sqrt(4))"),
    ("pi", "hint: a spec holds numbers: write 3.142 for pi"),
    ("sqrt(two)", "hint: write a number such as 0.5, -2 or 1e-3"),
])
def test_a_function_where_a_number_goes_is_hinted_with_its_value(value, hint, tmp_path,
                                                                  capsys):
    spec = tmp_path / "net.cnn"
    spec.write_text(f"input 1x8x8\nc: conv 4 3x3 weight normal(0, {value})\nflatten\n"
                    "fc: dense 10\n")
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "error: std of normal must be a number" in err and hint in err.splitlines()
