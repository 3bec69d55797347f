"""``Model.loss_and_grads``: a training step's forward, loss and backward in one call, whose
split parts each take their own rows' share of the loss (divided by the whole batch's
divisor) and go on to their backward pass without meeting. Its gradients are the bits of
``forward`` + ``loss`` + ``backward`` on the same model, for every loss and its settings,
whole or in parts (threads or processes, parts of unequal sizes); its loss is theirs up to
the rounding of a sum taken in parts."""
import numpy as np
import pytest

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.data.synthetic_shapes import SHAPE_CLASSES
from cnnspec.engine import losses, processes
from cnnspec.engine.parallel import part_slices, split_batch
from cnnspec.errors import RunError
from cnnspec.lang import parse

NET = """model m
input 1x8x8
c1: conv 4 3x3 pad same relu
bn1: batchnorm relu
p1: maxpool 2
f: flatten
fc: dense {classes}{output}
train {{
  data shapes(size=8, classes={data_classes})
  loss {loss}{settings}
}}
"""
LOSS_CASES = {  # (loss, its settings in the train block, output layer, classes)
    "cross_entropy": ("cross_entropy", "", "\nout: softmax", 6),
    "smoothed": ("cross_entropy", "\n  label_smoothing 0.1", "\nout: softmax", 6),
    "weighted": ("cross_entropy", "\n  class_weights [1, 2, 0.5]", "\nout: softmax", 3),
    "raw scores": ("cross_entropy", "\n  class_weights [1, 2, 0.5]", "", 3),
    "mse": ("mse", "", "", 6),
    "nll": ("nll", "\n  class_weights [3, 1, 0.5]", "\nout: log_softmax", 3),
    "bce": ("bce", "\n  class_weights [0.3, 2]", "", 1),
}
RUNNERS = [(1, "threads"), (2, "threads"), (2, "processes"), (3, "processes")]


def _model(case, threads, parts_in, dtype="float64"):
    loss, settings, output, classes = LOSS_CASES[case]
    names = list(SHAPE_CLASSES)[:max(classes, 2)]
    text = NET.format(loss=loss, settings=settings, output=output, classes=classes,
                      data_classes=f"[{', '.join(names)}]")
    model = compile_spec(check(parse(text)), seed=0, dtype=dtype)
    model.threads, model.parts_in = threads, parts_in
    return model


def _labels(case, n, rng):
    return rng.integers(0, max(LOSS_CASES[case][3], 2), n)


def _in_three_calls(model, x, y):
    out = model.forward(x)
    loss, dout = model.loss(out, y)
    model.backward(dout, input_grad=False)
    return loss, out, model.grads()


@pytest.mark.parametrize("threads,parts_in", RUNNERS)
@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_loss_and_grads_gives_the_gradients_of_forward_loss_backward(case, threads, parts_in):
    if parts_in == "processes" and not processes.available():
        pytest.skip("worker processes are forked on Linux only")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((26, 1, 8, 8)), _labels(case, 26, rng)  # 13/13, 9/9/8
    one_call, three_calls = _model(case, threads, parts_in), _model(case, threads, parts_in)
    for _ in range(2):  # the second step on the weights the first updated
        loss, out = one_call.loss_and_grads(x, y)
        reference_loss, reference_out, reference = _in_three_calls(three_calls, x, y)
        assert one_call._split == (threads > 1)
        np.testing.assert_array_equal(out, reference_out)
        assert loss == pytest.approx(reference_loss, rel=1e-14)
        for name, grad in reference.items():
            np.testing.assert_array_equal(one_call.grads()[name], grad, err_msg=name)
            for model in (one_call, three_calls):
                model.params()[name] -= 0.1 * model.grads()[name]


@pytest.mark.parametrize("parts_in", ["threads", "processes"])
def test_a_split_steps_loss_is_the_whole_batchs_and_its_gradients_within_rounding(parts_in):
    if parts_in == "processes" and not processes.available():
        pytest.skip("worker processes are forked on Linux only")
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((17, 1, 8, 8)), _labels("weighted", 17, rng)
    whole, split = _model("weighted", 1, parts_in), _model("weighted", 2, parts_in)
    loss, out = split.loss_and_grads(x, y)
    reference_loss, reference_out = whole.loss_and_grads(x, y)
    assert split._split and not whole._split
    np.testing.assert_allclose(out, reference_out, rtol=1e-12, atol=1e-13)
    assert loss == pytest.approx(reference_loss, rel=1e-12)
    for name, grad in whole.grads().items():
        np.testing.assert_allclose(split.grads()[name], grad, rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_a_split_step_keeps_no_output_for_a_softmax_loss_to_read():
    rng = np.random.default_rng(3)
    model = _model("cross_entropy", 2, "threads")
    x, y = rng.standard_normal((16, 1, 8, 8)), _labels("cross_entropy", 16, rng)
    _, out = model.loss_and_grads(x, y)
    assert model._split
    with pytest.raises(RunError, match="needs the output of the last forward"):
        model.loss(out, y)


@pytest.mark.parametrize("loss,settings,expected", [
    ("cross_entropy", {}, 5.0), ("cross_entropy", {"class_weights": [1, 2, 0.5]}, 6.5),
    ("nll", {"class_weights": [1, 2, 0.5]}, 6.5), ("mse", {}, 15.0),
    ("bce", {"class_weights": [1, 2, 0.5]}, 5.0)])
def test_each_loss_divides_by_its_batch_divisor(loss, settings, expected):
    """The whole batch's divisor, and a part's loss with it is its share of the batch's."""
    y = np.array([0, 1, 1, 2, 0]) if loss != "bce" else np.array([0, 1, 1, 0, 0])
    if loss == "bce":
        settings = {"class_weights": settings["class_weights"][:2]}
    classes = 1 if loss == "bce" else 3
    assert losses.batch_divisor(loss, y, classes, **settings) == expected
    out = np.random.default_rng(4).standard_normal((5, classes))
    if loss == "nll":
        out = out - np.log(np.exp(out).sum(axis=1, keepdims=True))
    whole, dout = losses.LOSSES[loss](out, y, **settings)
    parts = [losses.LOSSES[loss](out[rows], y[rows], **settings, divisor=expected)
             for rows in part_slices(5, 2)]
    assert sum(part for part, _ in parts) == pytest.approx(whole, rel=1e-14)
    np.testing.assert_array_equal(np.concatenate([d for _, d in parts]), dout)


@pytest.mark.parametrize("n,parts", [(1, 1), (5, 2), (23, 3), (7, 7), (64, 2), (3, 5)])
def test_part_slices_cut_as_array_split(n, parts):
    x = np.arange(n)
    assert [list(part) for part in split_batch(x, parts)] == \
        [list(part) for part in np.array_split(x, parts)]
