"""What check says an init on a layer that starts fixed would do, as SGD finds.

A norm's scale and shift and prelu's slopes take no init (they start at 1, 0 and 0.25); the
error for `batchnorm scale zeros` or `prelu weight zeros` says what that start would do.
Here the start is set by hand after compiling and a few SGD steps show it.
"""
import numpy as np
import pytest

from cnnspec.check import check
from cnnspec.compiler import compile_spec
from cnnspec.errors import SpecError
from cnnspec.lang import parse

HEAD = "model z\ninput 1x8x8\nc1: conv 4 3x3\n"
TAIL = "flatten\ndense 10\n"


def _steps(text: str, zeroed: str, steps: int = 3) -> list[dict]:
    """The gradients of ``steps`` plain SGD steps on one fixed batch, from ``zeroed`` (a
    checkpoint key) set to 0."""
    model = compile_spec(check(parse(text)), seed=0, dtype="float64")
    params = model.params()
    params[zeroed][...] = 0
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 1, 8, 8)), rng.integers(0, 10, size=16)
    model.train()
    found = []
    for _ in range(steps):
        _, dout = model.loss(model.forward(x), y)
        model.backward(dout)
        grads = {key: dw.copy() for key, dw in model.grads().items()}
        found.append(grads)
        for key, dw in grads.items():
            params[key] -= 0.1 * dw
    return found


def _moves(grads: dict, key: str) -> bool:
    return bool(np.abs(grads[key]).max() > 0)


def test_a_zero_scale_stops_the_gradient_before_the_norm_until_one_step_moves_it():
    first, second, _ = _steps(HEAD + "bn: batchnorm\n" + TAIL, "bn.weight")
    assert not _moves(first, "c1.weight") and _moves(first, "bn.weight")
    assert _moves(second, "c1.weight")


def test_a_zero_scale_read_by_a_relu_leaves_the_norm_and_all_before_it_still():
    for grads in _steps(HEAD + "bn: batchnorm relu\n" + TAIL, "bn.weight"):
        assert not any(_moves(grads, key) for key in ("c1.weight", "bn.weight", "bn.bias"))


def test_a_zero_slope_is_a_relu_whose_slopes_still_learn():
    (first, *_) = _steps(HEAD + "pr: prelu\n" + TAIL, "pr.weight")
    assert _moves(first, "pr.weight") and _moves(first, "c1.weight")


@pytest.mark.parametrize("line, said", [
    ("batchnorm scale zeros", "neither the norm nor any layer before it would ever learn"),
    ("prelu weight zeros", "it would start as a relu, and its slopes would learn from there"),
])
def test_check_says_so(line, said):
    with pytest.raises(SpecError) as info:
        parse(HEAD + line + "\n" + TAIL)
    assert said in info.value.message
