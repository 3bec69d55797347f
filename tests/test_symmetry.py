"""Symmetry breaking: why weights start random.

When every weight of a layer starts at one constant, every filter computes the same output and
receives the same gradient, so no number of SGD steps can make them differ; the layer has the
capacity of a single filter. Random, zero-mean init breaks that tie (Glorot & Bengio 2010;
Goodfellow et al. 2016, sec. 8.4). For the tie to hold, what follows the layer must treat its
channels alike too, so the whole net here shares the model-wide init.
"""
import math
import re
from pathlib import Path

import numpy as np
import pytest

SPEC = """\
model sym
input 1x8x8
conv 4 3x3 pad same relu
conv 4 3x3 pad same relu
flatten
dense 10
"""

STEPS = 6
LR = 0.1


def _compile(tmp_path, init: str):
    from cnnspec.compiler import compile_spec
    from cnnspec.lab.variants import load_variant

    path = tmp_path / "sym.cnn"
    path.write_text(SPEC)
    return compile_spec(load_variant(path, init).checked, seed=0, dtype="float64")


def _train(model, steps: int) -> None:
    """Plain SGD (w <- w - lr * dw) on one fixed random batch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 1, 8, 8))
    y = rng.integers(0, 10, size=8)
    model.train()
    for _ in range(steps):
        out = model.forward(x)
        _, dout = model.loss(out, y)
        model.backward(dout)
        params, grads = model.params(), model.grads()
        for key, dw in grads.items():
            params[key] -= LR * dw


def _filters(model, layer: str) -> np.ndarray:
    return model.params()[f"{layer}.weight"]


@pytest.mark.parametrize("init", ["constant(0.1)", "constant(-0.05)"])
def test_constant_init_keeps_every_filter_identical(tmp_path, init):
    model = _compile(tmp_path, init)
    _train(model, STEPS)
    for layer in ("conv1", "conv2"):
        w = _filters(model, layer)
        assert np.isfinite(w).all()
        # Every filter learned exactly what the first one did.
        assert np.allclose(w, w[:1], rtol=0, atol=1e-12), layer


def test_random_init_gives_filters_that_differ(tmp_path):
    model = _compile(tmp_path, "he_normal")
    _train(model, STEPS)
    for layer in ("conv1", "conv2"):
        w = _filters(model, layer)
        spread = np.abs(w - w[:1]).reshape(len(w), -1).max(axis=1)
        # Every filter other than the first differs from it.
        assert (spread[1:] > 1e-3).all(), layer


def test_constant_filters_did_move(tmp_path):
    """The tie is not a frozen net: the constant weights change, together."""
    model = _compile(tmp_path, "constant(0.1)")
    start = _filters(model, "conv1").copy()
    _train(model, STEPS)
    assert np.abs(_filters(model, "conv1") - start).max() > 1e-6


def test_init_report_flags_the_symmetric_layers(tmp_path):
    from cnnspec.lab.report import init_report

    path = tmp_path / "sym.cnn"
    path.write_text(SPEC)
    report = init_report(path, ["constant(0.1)", "he_normal"], input_kind="gaussian",
                         batch_size=4)
    constant, random = ({s.name: s.same_filters for s in v.layers if s.kind != "relu"}
                        for v in report.variants)
    # The convs' filters and gradients are all alike; the dense rows are alike too, but each
    # class gets its own gradient, so its symmetry breaks at the first step.
    assert constant["conv1"] and constant["conv2"] and not constant["dense1"]
    assert not any(random[name] for name in ("conv1", "conv2", "dense1"))
    assert constant["flatten1"] is None


@pytest.mark.parametrize("optimizer", ["sgd(momentum=0.9, nesterov=true)", "adam"])
def test_the_trainer_cannot_break_the_tie_either(tmp_path, optimizer):
    """A whole epoch of the real training loop (momentum or Adam, weight decay, shuffled
    mini-batches): every update is the same for every filter, so they stay alike."""
    from cnnspec import train
    from cnnspec.lab.variants import load_variant

    path = tmp_path / "sym.cnn"
    path.write_text(SPEC + f"train {{\n  optimizer {optimizer}\n  weight_decay 1e-4\n"
                           "  epochs 1\n  lr 0.01\n}\n")
    run = train(load_variant(path, "constant(0.05)").checked, run_dir=str(tmp_path / "run"),
                curves=False, progress="none")
    for layer in ("conv1", "conv2"):
        w = _filters(run.model, layer)
        # Alike up to float32 rounding (a GEMM may sum different rows in different orders).
        assert np.isfinite(w).all() and np.allclose(w, w[:1], rtol=1e-5, atol=1e-7), layer


def _conv1_warning_and_trained(tmp_path, text: str):
    """check's warning about conv1 of the spec ``text``, and conv1's filters after SGD."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "spec.cnn"
    path.write_text(text)
    checked = cnnspec.load(path)
    (warning,) = [w for w in checked.warnings if " of conv1 start identical" in w.message]
    model = compile_spec(checked, seed=0, dtype="float64")
    _train(model, STEPS)
    return warning, _filters(model, "conv1")


@pytest.mark.parametrize("first, second", [
    ("constant(0.1)", "constant(0.1)"), ("constant(0.1)", "he_normal"),
    ("sobel_x", "sobel_x"), ("sobel_x", "he_normal")])
def test_check_says_whether_the_tie_holds_as_training_finds(tmp_path, first, second):
    """`check` says "symmetry never breaks" exactly where SGD leaves a layer's filters alike:
    a layer that starts with every filter the same stays so only while the layer reading it
    weighs its channels alike too; a drawn layer after it sends each its own gradient."""
    warning, w = _conv1_warning_and_trained(
        tmp_path, f"input 1x8x8\nconv1: conv 4 3x3 pad same weight {first} relu\n"
        f"conv2: conv 4 3x3 pad same weight {second} relu\nflatten\ndense 10\n")
    stayed = np.allclose(w, w[:1], rtol=0, atol=1e-12)
    assert stayed == ("symmetry never breaks" in warning.message)
    assert stayed == (second == first)


def _groups_alike(w: np.ndarray, groups: int) -> list[bool]:
    """For each group of a conv's filters, whether its filters are all alike."""
    return [bool(np.allclose(part, part[:1], rtol=0, atol=1e-12))
            for part in np.split(w, groups)]


@pytest.mark.parametrize("lines, stays", [
    # a grouped constant conv after a drawn one: each group reads its own channels, so only
    # the filters within a group start (and here stay) alike
    (["c0: conv 4 3x3 pad same relu",
      "conv1: conv 8 3x3 pad same groups 2 weight constant(0.1) relu",
      "b: conv 4 3x3 pad same weight constant(0.1) relu"], True),
    # a grouped constant conv reading conv1 sends each channel its own filters' gradient,
    # which the drawn dense layer after it sets apart
    (["conv1: conv 4 3x3 pad same weight constant(0.1) relu",
      "b: conv 4 3x3 pad same groups 2 weight constant(0.1) relu"], False),
    (["conv1: conv 4 3x3 pad same weight constant(0.1) relu",
      "b: conv 4 3x3 pad same groups 4 weight constant(0.1) relu"], False),
])
def test_check_speaks_of_a_grouped_conv_as_training_finds(tmp_path, lines, stays):
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "grouped.cnn"
    path.write_text("input 1x8x8\n" + "\n".join(lines) + "\nflatten\ndense 10\n")
    checked = cnnspec.load(path)
    (warning,) = [w for w in checked.warnings if "conv1" in w.message.split(" start ")[0]]
    groups = next(info.ir["groups"] for info in checked.layers if info.name == "conv1")
    if groups > 1:  # alike within each group only: the groups read different channels
        assert warning.message.startswith(f"the 4 filters of each of conv1's {groups} groups")
    model = compile_spec(checked, seed=0, dtype="float64")
    assert all(_groups_alike(_filters(model, "conv1"), groups))
    _train(model, STEPS)
    assert all(_groups_alike(_filters(model, "conv1"), groups)) == stays
    assert ("symmetry never breaks" in warning.message) == stays


def test_a_depthwise_constant_conv_after_a_drawn_one_is_not_said_identical(tmp_path):
    """Each filter of a depthwise conv reads a channel of its own: equal kernels, but
    outputs that differ as the drawn channels do."""
    import cnnspec

    path = tmp_path / "depthwise.cnn"
    path.write_text("input 1x8x8\nc0: conv 4 3x3 pad same relu\n"
                    "dw: conv 4 3x3 pad same groups 4 weight constant(0.1) relu\n"
                    "b: conv 4 3x3 pad same relu\nflatten\ndense 10\n")
    assert [w.message for w in cnnspec.load(path).warnings] == []


@pytest.mark.parametrize("merge, after, stays, through", [
    # a concat passes each channel on as it is: a constant conv reading it keeps the tie
    ("concat", "c: conv 4 3x3 pad same weight constant(0.1) relu", True, None),
    # a group norm after it groups conv1's third channel with b's first: their statistics
    # differ, and so do the gradients
    ("concat", "n: groupnorm 3\nc: conv 4 3x3 pad same weight constant(0.1) relu", False, "n"),
    ("concat", "c: conv 6 3x3 pad same groups 3 weight constant(0.1) relu", False, "c"),
    # an add passes each channel's gradient back as it is too: a frozen constant conv reading
    # it weighs its channels alike for good, and the tie holds, as after a mean pool
    ("add", "c: conv 4 3x3 pad same weight constant(0.1) frozen relu", True, None),
    ("add", "p: avgpool 2\nc: conv 4 3x3 pad same weight constant(0.1) frozen relu", True,
     None),
    # but the add made the channels' values differ (b's are drawn): a trainable constant conv
    # learns different weights for them at its first step, and conv1's tie breaks at the next
    ("add", "c: conv 4 3x3 pad same weight constant(0.1) relu", False, "c"),
    # and a layer that is not linear passes each a gradient of its own values
    ("add", "r: relu\nc: conv 4 3x3 pad same weight constant(0.1) frozen relu", False, "r"),
    ("add", "m: maxpool 2\nc: conv 4 3x3 pad same weight constant(0.1) frozen relu", False,
     "m"),
])
def test_check_speaks_of_a_merge_as_training_finds(tmp_path, merge, after, stays, through):
    """A merge itself never tells the filters apart: what reads it may, and check names that
    layer, or says the symmetry never breaks, as SGD finds."""
    warning, w = _conv1_warning_and_trained(
        tmp_path, "input 1x8x8\nconv1: conv 3 3x3 pad same weight constant(0.1)\n"
        f"b: conv 3 3x3 pad same relu <- input\ns: {merge}(conv1, b)\n"
        f"{after}\nflatten\ndense 10\n")
    assert np.allclose(w, w[:1], rtol=0, atol=1e-12) == stays
    assert ("symmetry never breaks" in warning.message) == stays
    if through:
        assert warning.message.endswith(f"come back through {through}")


@pytest.mark.parametrize("weight, stays", [("constant(0.1)", True), ("he_normal", False)])
def test_an_add_of_branches_that_start_alike_keeps_the_tie(tmp_path, weight, stays):
    """A residual block whose convs are all constant: the branch added to conv1's channels
    has channels alike too, so their values stay equal, and the ReLU after the add keeps the
    tie (in a ResNet of constant convs every filter stays a copy); a drawn conv after it is
    what tells them apart."""
    warning, w = _conv1_warning_and_trained(
        tmp_path, "input 1x8x8\nconv1: conv 3 3x3 pad same weight constant(0.1)\n"
        "b: conv 3 3x3 pad same weight constant(0.05) relu\ns: add(b_relu, conv1) relu\n"
        f"c: conv 4 3x3 pad same weight {weight} relu\nflatten\ndense 10\n")
    assert np.allclose(w, w[:1], rtol=0, atol=1e-12) == stays
    assert ("symmetry never breaks" in warning.message) == stays
    if not stays:
        assert warning.message.endswith("come back through c")


# A layer with every weight 0 and no bias above 0, read only by a ReLU: what check says about it
# (by layer: whether its filters are also said to stay identical), and which parameters SGD
# then leaves exactly as they started: the layer's, those of the layers before it, and the
# weights of the layer after it, whose input stays 0 (its bias learns).
DEAD_CASES = [
    # its own relu, biases 0; the drawn conv before it gets no gradient through it either
    ("c0: conv 4 3x3 pad same relu\nc1: conv 4 3x3 pad same weight zeros relu\nflatten\n"
     + "fc: dense 10\n", {"c1": True},
     {"c0.weight", "c0.bias", "c1.weight", "c1.bias", "fc.weight"}),
    # a negative bias, and no bias with a relu layer of its own: the same
    ("c1: conv 4 3x3 pad same weight zeros bias constant(-0.1) relu\nflatten\nfc: dense 10\n",
     {"c1": True}, {"c1.weight", "c1.bias", "fc.weight"}),
    ("c1: conv 4 3x3 pad same weight zeros nobias\nr: relu\nflatten\nfc: dense 10\n",
     {"c1": True}, {"c1.weight", "fc.weight"}),
    # a single unit (no filters to be alike)
    ("flatten\nh: dense 1 weight zeros relu\nfc: dense 10\n", {"h": False},
     {"h.weight", "h.bias", "fc.weight"}),
    # other flat spots: hard swish's dip at -1.5 and its floor below -3 (which gives 0, so fc
    # reads zeros), relu6 from 6 on, gelu where its slope is below float64's smallest number
    (("c1: conv 4 3x3 pad same weight zeros bias constant(-1.5) hardswish\nflatten\n"
     "fc: dense 10\n"), {"c1": True}, {"c1.weight", "c1.bias"}),
    (("c1: conv 4 3x3 pad same weight zeros bias constant(-4) hardswish\nflatten\n"
     "fc: dense 10\n"), {"c1": True}, {"c1.weight", "c1.bias", "fc.weight"}),
    ("c1: conv 4 3x3 pad same weight zeros bias constant(7) relu6\nflatten\nfc: dense 10\n",
     {"c1": True}, {"c1.weight", "c1.bias"}),
    ("c1: conv 4 3x3 pad same weight zeros bias constant(-40) gelu\nflatten\nfc: dense 10\n",
     {"c1": True}, {"c1.weight", "c1.bias", "fc.weight"}),
]


@pytest.mark.parametrize("lines, warned, frozen", DEAD_CASES)
def test_a_layer_starting_at_zero_before_a_relu_never_changes_as_check_says(tmp_path, lines,
                                                                             warned, frozen):
    """`check` says "never changes" of exactly the layers SGD leaves as they started (and,
    through them, the layers before them): the ReLU's gradient is 0 at 0 and below."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "dead.cnn"
    path.write_text("input 1x8x8\n" + lines)
    checked = cnnspec.load(path)
    said = {name: w for w in checked.warnings for name in [w.message.split(" never changes")[0]
                                                           .rsplit(" ", 1)[-1]]
            if " never changes" in w.message and not w.message.startswith(HELD)}
    assert set(said) == set(warned)
    for name, symmetric in warned.items():
        assert ("symmetry never breaks" in said[name].message) == symmetric
        assert ("to the layers before" in said[name].message) == (name == "c1" and "c0" in lines)
    model = compile_spec(checked, seed=0, dtype="float64")
    before = {k: v.copy() for k, v in model.params().items()}
    _train(model, STEPS)
    after = model.params()
    assert _unchanged(before, after) == frozen
    assert _claimed_still(checked.warnings, set(after)) == frozen


# How check's one warning about the layers that zero weights elsewhere hold still begins.
HELD = "the zero weights of "
# Who never changes in check's words: "c1 never changes", "c1, c2 and c3 never change",
# "fc's weights never change", "out.weight never changes".
STILL_SAID = re.compile(r"([\w.]+(?:, [\w.]+)*(?: and [\w.]+)?)('s weights)? never change")


def _claimed_still(warnings, keys: set[str]) -> set[str]:
    """The parameters (checkpoint keys, of ``keys``) that ``warnings`` say never change."""
    claimed = set()
    for warning in warnings:
        for found in STILL_SAID.finditer(warning.message):
            for name in re.split(r", | and ", found.group(1)):
                if "." in name or found.group(2):
                    claimed.add(name if "." in name else f"{name}.weight")
                else:
                    claimed |= {key for key in keys if key.split(".")[0] == name}
    return claimed


def _unchanged(before: dict, after: dict) -> set[str]:
    """The parameters training left exactly as they started."""
    return {k for k in after if np.array_equal(after[k], before[k])}


@pytest.mark.parametrize("lines", [
    "c1: conv 4 3x3 pad same weight zeros bias constant(0.1) relu\nflatten\nfc: dense 10\n",
    "c1: conv 4 3x3 pad same weight zeros leaky_relu\nflatten\nfc: dense 10\n",
    "c1: conv 4 3x3 pad same weight zeros relu\nc2: conv 4 3x3 pad same <- c1\nflatten\n"
    + "fc: dense 10\n",
    # hard swish's slope at -1 is 1/6; gelu's at -5 is small, not 0
    "c1: conv 4 3x3 pad same weight zeros bias constant(-1) hardswish\nflatten\nfc: dense 10\n",
    "c1: conv 4 3x3 pad same weight zeros bias constant(-5) gelu\nflatten\nfc: dense 10\n",
])
def test_a_zero_layer_whose_gradient_gets_through_is_not_said_to_never_change(tmp_path, lines):
    """A positive bias, a leaky ReLU, or a reader that is not a ReLU: the layer learns."""
    import cnnspec

    path = tmp_path / "alive.cnn"
    path.write_text("input 1x8x8\n" + lines)
    assert not any(" never changes" in w.message for w in cnnspec.load(path).warnings)


# Branches a and b of one input, merged by s: whether check says s's second input repeats its
# first at every step. `stays`: the same as SGD finds (a's and b's parameters still equal).
TWIN_CASES = [
    # an add sends both inputs the same gradient: constant twins stay twins, whatever follows
    (("a: conv 3 3x3 pad same weight constant(0.1) relu <- input\n"
     "b: conv 3 3x3 pad same weight constant(0.1) relu <- input\ns: add(a_relu, b_relu)\n"
     "c: conv 4 3x3 pad same relu\n"), True),
    # drawn weights: each layer draws its own, so they differ from the start
    (("a: conv 3 3x3 pad same weight he_normal relu <- input\n"
     "b: conv 3 3x3 pad same weight he_normal relu <- input\ns: add(a_relu, b_relu)\n"), False),
    # dropout masks each branch its own way at every step
    (("a: conv 3 3x3 pad same weight constant(0.1) <- input\nda: dropout 0.5\n"
     "b: conv 3 3x3 pad same weight constant(0.1) <- input\ndb: dropout 0.5\n"
     "s: add(da, db)\n"), False),
    # a second reader of one branch sends it gradient the other does not get
    (("a: conv 3 3x3 pad same weight constant(0.1) relu <- input\n"
     "b: conv 3 3x3 pad same weight constant(0.1) relu <- input\n"
     "z: conv 3 3x3 pad same relu <- a_relu\ns: add(a_relu, b_relu, z_relu)\n"), False),
    # other settings: other values
    (("a: conv 3 3x3 pad same weight constant(0.1) relu <- input\n"
     "b: conv 3 3x3 pad same weight constant(0.1) nobias relu <- input\n"
     "s: add(a_relu, b_relu)\n"), False),
    # a concat's halves get the same gradient only where nothing after it weighs them apart:
    # a constant conv weighs every channel alike, a drawn one each with weights of its own
    (("a: conv 3 3x3 pad same weight x_kernel relu <- input\n"
     "b: conv 3 3x3 pad same weight x_kernel relu <- input\ns: concat(a_relu, b_relu)\n"
     "c: conv 4 3x3 pad same weight constant(0.05) relu\n"), True),
    (("a: conv 3 3x3 pad same weight x_kernel relu <- input\n"
     "b: conv 3 3x3 pad same weight x_kernel relu <- input\ns: concat(a_relu, b_relu)\n"
     "c: conv 4 3x3 pad same relu\n"), False),
    # a drawn conv after the concat would weigh the halves apart, but no gradient reaches it
    # (d's weights are 0 and stay 0, before a relu that reads only d's bias of 0)
    (("a: conv 3 3x3 pad same weight x_kernel relu <- input\n"
     "b: conv 3 3x3 pad same weight x_kernel relu <- input\ns: concat(a_relu, b_relu)\n"
     "c: conv 4 3x3 pad same relu\nd: conv 4 3x3 pad same weight zeros relu\n"), True),
    # frozen twins never change, whatever gradient reaches them
    (("a: conv 3 3x3 pad same weight sobel_x frozen relu <- input\n"
     "b: conv 3 3x3 pad same weight sobel_x frozen relu <- input\ns: concat(a_relu, b_relu)\n"
     "c: conv 4 3x3 pad same relu\n"), True),
]


@pytest.mark.parametrize("lines, stays", TWIN_CASES)
def test_check_says_merged_branches_repeat_each_other_as_training_finds(tmp_path, lines, stays):
    """`check` says an input of a merge repeats another at every step exactly where SGD
    leaves the two branches' parameters equal."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "twins.cnn"
    path.write_text("input 1x8x8\n" + lines + "flatten\nfc: dense 10\n")
    checked = cnnspec.load(path)
    said = [w for w in checked.warnings if "compute the same values at every step" in w.message]
    model = compile_spec(checked, seed=0, dtype="float64")
    _train(model, STEPS)
    params = model.params()
    equal = all(np.array_equal(params[f"a.{p}"], params[f"b.{p}"])
                for p in ("weight", "bias") if f"b.{p}" in params)
    assert equal == stays
    assert len(said) == stays
    if stays:
        (warning,) = said
        assert warning.message.startswith("add 's' reads 'a_relu' and 'b_relu'" if "add" in lines
                                          else "concat 's' reads 'a_relu' and 'b_relu'")
        assert warning.span.line == lines.count("\n", 0, lines.index("s: ")) + 2


@pytest.mark.parametrize("merge, fate", [
    ("add", "the add computes 2 x 'p'"),
    ("concat", "the 1 channel it takes the second time only repeats the one it takes the first"),
])
def test_a_merge_reading_one_layer_twice_is_said_to(tmp_path, merge, fate):
    import cnnspec

    path = tmp_path / "twice.cnn"
    path.write_text(f"input 1x8x8\np: maxpool 2\ns: {merge}(p, p)\nflatten\nfc: dense 10\n")
    (warning,) = cnnspec.load(path).warnings
    assert warning.message == f"{merge} 's' reads 'p' twice: {fate}"
    assert (warning.span.line, warning.span.column) == (3, 8 + len(merge))
    assert warning.hint.startswith("read 'p' once")


def test_parameter_free_twins_are_said_to_repeat_and_drawn_layers_are_not(tmp_path):
    import cnnspec

    path = tmp_path / "pools.cnn"
    path.write_text("input 1x8x8\na: maxpool 2 <- input\nb: maxpool 2 <- input\n"
                    "s: concat(a, b)\nflatten\nfc: dense 10\n")
    (warning,) = cnnspec.load(path).warnings
    assert "nothing in them learns" in warning.message
    assert warning.hint.startswith("give the branches different settings")
    path.write_text("input 1x8x8\na: maxpool 2 <- input\nb: avgpool 2 <- input\n"
                    "s: concat(a, b)\nflatten\nfc: dense 10\n")
    assert cnnspec.load(path).warnings == []


@pytest.mark.parametrize("merge", ["add", "concat"])
def test_a_merge_of_many_inputs_pairs_only_the_inputs_that_may_be_twins(
        tmp_path, monkeypatch, merge):
    """A merge of k inputs paired each with every earlier one: an add of 2,000 drawn
    branches took 12 s to check, a concat 22 s. Inputs are paired only within their class of
    twins (the same computation on twin inputs): of 200 drawn branches and pools of two
    kinds, only the second avgpool is paired, with the first."""
    import cnnspec
    from cnnspec.check import twins

    drawn = [f"b{i}" for i in range(200)]
    path = tmp_path / "many.cnn"
    path.write_text("input 1x8x8\nstem: conv 4 3x3 pad same relu\n"
                    + "".join(f"{name}: conv 4 3x3 pad same <- stem\n" for name in drawn)
                    + "p1: maxpool 3 stride 1 pad 1 <- stem\n"
                    "q1: avgpool 3 stride 1 pad 1 <- stem\n"
                    "q2: avgpool 3 stride 1 pad 1 <- stem\n"
                    f"s: {merge}(" + ", ".join(["q1", "p1", *drawn, "q2"]) + ")\n"
                    "flatten\nfc: dense 10\n")
    paired = []
    pairs_of = twins.twin_pairs
    monkeypatch.setattr(twins, "twin_pairs",
                        lambda first, second, by_name: paired.append((first, second))
                        or pairs_of(first, second, by_name))
    (warning,) = [w for w in cnnspec.load(path).warnings if "compute the same" in w.message]
    assert "'q1' and 'q2'" in warning.message
    assert paired == [("q1", "q2")]


@pytest.mark.parametrize("bias, warned", [(-3.0, True), (-2.0, False), (-0.1, False)])
def test_a_bias_that_silences_a_relu_is_said_with_the_share_numpy_finds(tmp_path, bias,
                                                                         warned):
    """h's 64 sums have a std of sqrt(64 * 2 / 64) = 1.41 on unit Gaussian inputs; a bias of
    -3 lets a ReLU pass Phi(-3 / 1.41) = 1.7% of them, -2 passes 7.9% (above the 5% said)."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "silenced.cnn"
    path.write_text(f"input 1x8x8\nflatten\nh: dense 64 bias constant({bias}) relu\n"
                    "fc: dense 10\n")
    checked = cnnspec.load(path)
    said = [w for w in checked.warnings if "starts nearly dead" in w.message]
    assert len(said) == warned
    params = compile_spec(checked, seed=0, dtype="float64").params()
    x = np.random.default_rng(0).standard_normal((4000, 64))
    predicted = 0.5 * math.erfc(-bias / math.sqrt(2) / math.sqrt(2))  # Phi(b / sqrt(2))
    assert np.mean(x @ params["h.weight"].T + params["h.bias"] > 0) == pytest.approx(
        predicted, abs=0.01)
    if warned:
        (warning,) = said
        assert f"its relu passes only {100 * predicted:.2g}% of its outputs" in warning.message
        assert warning.span.line == 3 and warning.hint.startswith("start the biases at 0")


@pytest.mark.parametrize("bias, said", [
    (-5.0, "only 0.02%"),
    # Phi(-10 / sqrt(2)) = 7.7e-13: as a percentage, 7.7e-11%
    (-10.0, "almost none, about 1 in 10^12,"),
    # Phi(-100 / sqrt(2)) = 1.1e-1088, below float64's smallest number: it read "0%"
    (-100.0, "almost none, about 1 in 10^1088,"),
    (-1e300, "almost none, fewer than 1 in 10^308,"),
])
def test_a_share_too_small_for_a_percentage_is_said_as_almost_none(tmp_path, bias, said):
    """silenced-relu said "passes only 0%" of a ReLU whose estimated share alive is tiny but
    not 0, and "7.7e-11%" where it is representable; below 1e-4 it now says almost none and
    its order of magnitude, the tail's log worked out where the share itself underflows."""
    import cnnspec

    path = tmp_path / "silenced.cnn"
    path.write_text(f"input 1x8x8\nflatten\nh: dense 64 bias constant({bias}) relu\n"
                    "fc: dense 10\n")
    (warning,) = [w for w in cnnspec.load(path, dtype="float64").warnings
                  if w.lint == "silenced-relu"]
    assert f"its relu passes {said} of its outputs (Phi(b / std))" in warning.message
    if -40 < bias:  # within float64's range, the share as erfc gives it
        share = 0.5 * math.erfc(-bias / math.sqrt(2) / math.sqrt(2))
        assert ("almost none" in said) == (share < 1e-4)
        assert share < 1e-4 or f"{100 * share:.2g}%" in said
        assert share >= 1e-4 or f"10^{round(-math.log10(share))}," in said


def test_the_log_share_past_erfcs_underflow_meets_erfc_where_both_hold():
    """The tail's first asymptotic term, used where erfc underflows, is within 1/x^2 of the
    exact share: at x = -30 and -37, where erfc still holds it, its log is within 1/x^2 of
    the exact one."""
    from cnnspec.check.lints import _log_alive_share
    from cnnspec.check.signal import Sums

    for x in (-30.0, -37.0):
        exact = math.log(0.5 * math.erfc(-x / math.sqrt(2)))
        tail = -x * x / 2 - math.log(-x * math.sqrt(2 * math.pi))
        assert abs(tail - exact) < 1 / x ** 2
        assert _log_alive_share(Sums(q=1.0, offset=x)) == pytest.approx(exact, rel=1e-12)
    assert _log_alive_share(Sums(q=1.0, offset=-40.0)) == pytest.approx(
        -800 - math.log(40 * math.sqrt(2 * math.pi)), rel=1e-12)
    assert _log_alive_share(Sums(q=1.0, offset=-40.0, k=4)) == pytest.approx(
        _log_alive_share(Sums(q=1.0, offset=-40.0)) + math.log(4), rel=1e-12)


# How far the share of a ReLU's inputs above 0 that silenced-relu quotes may lie from the
# engine's, either way: test_a_bias_that_silences_a_relu_through_a_pool_or_after_a_fixed_
# kernel_is_said says why.
ALIVE_FACTOR = 2.5


@pytest.mark.parametrize("layers", [
    # a 2x2 max pool between: its relu passes a window where any of its 4 sums is above 0
    "h: conv 16 3x3 bias constant(-3.5)\np: maxpool 2\nrelu\n",
    "h: conv 16 3x3 bias constant(-4)\np: maxpool 2\nrelu\n",
    # fixed kernels that sum to 0 on a ReLU's values: their sums have a mean of 0
    "c0: conv 4 3x3 relu\nh: conv 4 3x3 weight laplacian bias constant(-14) relu\n",
    "c0: conv 4 3x3 relu\nh: conv 4 3x3 weight sobel_x bias constant(-10) relu\n",
])
def test_a_bias_that_silences_a_relu_through_a_pool_or_after_a_fixed_kernel_is_said(
        tmp_path, layers):
    """A negative bias whose ReLU reads its sums through a max pool, or after a fixed kernel
    whose weights are not drawn symmetric about 0 but sum to 0, was not said: the warning
    asked for drawn symmetric weights and a ReLU reading the layer itself. Both now say
    it, with the share the estimate's Gaussian sums give (the largest of a window's 4
    through the pool: 1 - Phi(-b / std)^4), within ALIVE_FACTOR of the share of the ReLU's
    values above 0 that the engine measures (float64, 256 Gaussian images, the mean over 8
    seeds' weights): measured 1.39x and 1.82x the quote through the pool (a narrow layer's
    std differs from filter to filter, and a window's share is convex in it), 0.43x after
    the Laplacian (its sums lean below 0), 1.16x after the Sobel."""
    import cnnspec

    path = tmp_path / "silenced.cnn"
    path.write_text(f"input 1x16x16\n{layers}flatten\nfc: dense 10\n")
    checked = cnnspec.load(path, for_training=False)
    (warning,) = [w for w in checked.warnings if w.lint == "silenced-relu"]
    assert warning.message.startswith("conv 'h': its biases start at")
    assert warning.span.line == 2 + layers.startswith("c0")
    quoted = float(re.search(r"passes only ([\d.e-]+)%", warning.message).group(1)) / 100
    assert ("1 - Phi(-b / std)^4" in warning.message) == ("maxpool" in layers)
    relu = [info.name for info in checked.layers if info.kind == "relu"][-1]
    x = np.random.default_rng(0).standard_normal((256, *checked.input_shape))
    shares = []
    for seed in range(8):
        net = cnnspec.compile(checked, seed=seed, dtype="float64")
        net.record = True
        net.forward(x)
        shares.append(np.mean(net.activations[relu] > 0))
    assert 1 / ALIVE_FACTOR < np.mean(shares) / quoted < ALIVE_FACTOR, (shares, quoted)


@pytest.mark.parametrize("between, said", [("batchnorm", False), ("dropout 0.5", False),
                                           ("avgpool 2", False), ("maxpool 2", True)])
def test_a_bias_is_said_to_silence_a_relu_only_through_layers_that_keep_the_sums(
        tmp_path, between, said):
    """A batchnorm centres the sums again; a mean pool's values are no longer the sums the
    estimate knows, nor the layers after a dropout (whose values it does not carry as sums):
    not said of those; a max pool keeps the largest sum of each window."""
    import cnnspec

    path = tmp_path / "between.cnn"
    path.write_text(f"input 1x16x16\nh: conv 16 3x3 bias constant(-4)\n{between}\nrelu\n"
                    "flatten\nfc: dense 10\n")
    warnings = [w for w in cnnspec.load(path, for_training=False).warnings
                if w.lint == "silenced-relu"]
    assert bool(warnings) == said


def test_a_bias_before_thins_the_next_layers_sums_and_its_bias_then_silences_it(tmp_path):
    """h1's bias of -2 lets its ReLU pass 7.9% of its sums (not said), and what it passes is
    small: h2's sums have a std of about 0.37, not 1.41, so h2's own bias of -2 silences it,
    which the signal estimate without biases (std 1.41: 7.9%) did not see."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "thinned.cnn"
    path.write_text("input 1x8x8\nflatten\nh1: dense 64 bias constant(-2) relu\n"
                    "h2: dense 64 bias constant(-2) relu\nfc: dense 10\n")
    checked = cnnspec.load(path)
    (warning,) = [w for w in checked.warnings if "starts nearly dead" in w.message]
    assert warning.message.startswith("dense 'h2'") and warning.span.line == 4
    assert "the negative biases of 'h1' leave it little input" in warning.message
    params = compile_spec(checked, seed=0, dtype="float64").params()
    x = np.random.default_rng(0).standard_normal((4000, 64))
    h1 = np.maximum(x @ params["h1.weight"].T + params["h1.bias"], 0)
    sums = h1 @ params["h2.weight"].T
    said = float(re.search(r"about ([0-9.]+) for inputs", warning.message).group(1))
    assert sums.std() == pytest.approx(said, rel=0.15)
    assert np.mean(sums + params["h2.bias"] > 0) < 0.05


# A residual block on a drawn stem c0 whose branch ends in b, and what reads the add: whether
# check warns that b's filters start identical, and whether one SGD step sets them wholly
# apart (every two filters as far apart as the filters are large) as NumPy finds.
RESIDUAL = ("c0: conv 4 3x3 pad same relu\na: conv 4 3x3 pad same {a}\n"
            "b: conv 4 3x3 pad same weight {b}\ns: add(b, c0_relu){after}\nflatten\nfc: dense 10\n")
RESIDUAL_CASES = [
    # Fixup: the branch starts at 0; the identity path makes the sum (and the ReLU's masks)
    # differ by channel, so each filter's gradient dout_f x a's output is its own
    ({"a": "relu", "b": "zeros", "after": " relu"}, False, True),
    ({"a": "relu", "b": "zeros", "after": "\nc: conv 4 3x3 pad same relu"}, False, True),
    # a constant other than 0 starts the filters as one, which the same gradients only nudge
    ({"a": "relu", "b": "constant(0.1)", "after": " relu"}, True, False),
    # a's output is 0 too: b's gradient dout_f x 0 is 0, and b stays as it started
    ({"a": "weight zeros", "b": "zeros", "after": " relu"}, True, False),
    # a constant conv reading the add sends every channel one gradient at the first step
    ({"a": "relu", "b": "zeros", "after": "\nc: conv 4 3x3 pad same weight constant(0.1) relu"},
     True, False),
]


@pytest.mark.parametrize("parts, warned, parted", RESIDUAL_CASES)
def test_a_residual_branch_started_at_zero_is_warned_of_as_one_sgd_step_finds(
        tmp_path, parts, warned, parted):
    """Not warned: the last conv of a residual branch started at zero (Fixup, Zhang, Dauphin &
    Ma 2019), whose filters one step sets as far apart as a random init would; warned: a
    constant start other than 0, or a zero branch whose gradient cannot differ by channel."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "residual.cnn"
    path.write_text("input 1x8x8\n" + RESIDUAL.format(**parts))
    checked = cnnspec.load(path)
    said = [w for w in checked.warnings if w.message.startswith("all 4 filters of b start")]
    assert len(said) == warned
    model = compile_spec(checked, seed=0, dtype="float64")
    _train(model, 1)
    w = _filters(model, "b").reshape(4, -1)
    gaps = [np.linalg.norm(w[i] - w[j]) for i in range(4) for j in range(i)]
    assert (min(gaps) > 0.5 * np.linalg.norm(w, axis=1).max()) == parted


def test_a_zero_conv_before_its_relu_is_still_warned_of_beside_a_residual_one(tmp_path):
    """Zero weights read by their own ReLU get no gradient at all, in a branch or not."""
    import cnnspec

    path = tmp_path / "dead.cnn"
    path.write_text("input 1x8x8\n" + RESIDUAL.format(a="weight zeros relu", b="zeros",
                                                       after=" relu"))
    (warning,) = [w for w in cnnspec.load(path).warnings if " of a start " in w.message]
    assert "a never changes" in warning.message


# What check says of a layer whose filters start identical or whose weights start at 0, read
# from its warning: that the whole layer never changes, that its weights never do (its bias
# learns), that only the gradients of the layers after it tell its filters apart, or that
# they stay identical.
FATES = (("{} never changes", "never changes"),
         ("{}'s weights never change", "weights never change"),
         ("told apart only by", "told apart"), ("symmetry never breaks", "stay identical"))


def _said_fates(checked) -> dict[str, str]:
    said = {}
    for warning in checked.warnings:
        found = re.match(r"all \d+ filters of (\w+) |every weight of (?:\w+ )??(\w+) starts",
                         warning.message)
        if found:
            name = found.group(1) or found.group(2)
            said[name] = next(fate for words, fate in FATES
                              if words.format(name) in warning.message)
    return said


def _found_fate(name: str, before: dict, after: dict) -> str:
    """What SGD did to layer ``name``'s parameters, in the words of :data:`FATES`."""
    weight, bias = f"{name}.weight", f"{name}.bias"
    if np.array_equal(before[weight], after[weight]):
        return ("never changes" if bias not in after or np.array_equal(before[bias], after[bias])
                else "weights never change")
    w = after[weight]
    return "stay identical" if np.allclose(w, w[:1], rtol=0, atol=1e-12) else "told apart"


STEM = "c0: conv 4 3x3 pad same relu\n"
BRANCH = "s: add({}, c0_relu) relu\n"
# A spec's layers (after the input, before `flatten` and `fc: dense 10`) and what check says
# of the layers named (None: nothing), which 6 steps of SGD in float64 must bear out.
EXACT_CASES = [
    # two zero convs in a branch: b reads a's zeros (dW_b = dout x 0), and a's gradient
    # comes back through b's weights, which stay 0
    (STEM + "a: conv 4 3x3 pad same weight zeros\nb: conv 4 3x3 pad same weight zeros\n"
     + BRANCH.format("b"), {"a": "never changes", "b": "weights never change"}),
    # c2 reads c1's zeros: its output is its bias, 0, where its relu passes no gradient
    (STEM + "c1: conv 4 3x3 pad same weight zeros\nc2: conv 4 3x3 pad same relu\n",
     {"c1": "never changes"}),
    # Fixup: the last conv of a residual branch started at zero learns, each filter its own
    (STEM + "a: conv 4 3x3 pad same relu\nb: conv 4 3x3 pad same weight zeros\n"
     + BRANCH.format("b"), {"b": None}),
    (STEM + "c1: conv 4 3x3 pad same weight zeros relu\n", {"c1": "never changes"}),
    # tanh(0) = 0 with slope 1, sigmoid(0) = 1/2: the gradient gets through to c1; but
    # tanh passes the zeros on, and a relu after c2 then reads c2's bias of 0 alone
    (STEM + "c1: conv 4 3x3 pad same weight zeros tanh\nc2: conv 4 3x3 pad same\n",
     {"c1": "told apart"}),
    (STEM + "c1: conv 4 3x3 pad same weight zeros tanh\nc2: conv 4 3x3 pad same relu\n",
     {"c1": "never changes"}),
    (STEM + "c1: conv 4 3x3 pad same weight zeros sigmoid\nc2: conv 4 3x3 pad same relu\n",
     {"c1": "told apart"}),
    # but tanh passes a's zeros on to b; sigmoid makes them 1/2, which b learns from, each
    # filter its own, while weighing a's channels alike: a learns, its filters tied
    (STEM + "a: conv 4 3x3 pad same weight zeros tanh\nb: conv 4 3x3 pad same weight zeros\n"
     + BRANCH.format("b"), {"a": "never changes", "b": "weights never change"}),
    (STEM + "a: conv 4 3x3 pad same weight zeros sigmoid\n"
     "b: conv 4 3x3 pad same weight zeros\n" + BRANCH.format("b"),
     {"a": "stay identical", "b": None}),
    # elu(0) = 0 with slope 1, as tanh: b reads a's zeros, and a gets nothing back past b
    (STEM + "a: conv 4 3x3 pad same weight zeros elu\nb: conv 4 3x3 pad same weight zeros\n"
     + BRANCH.format("b"), {"a": "never changes", "b": "weights never change"}),
    # a batch norm of zeros outputs its shift, 0, where the relu after it passes nothing;
    # before a tanh it passes the gradient back (divided by sqrt(eps))
    (STEM + "c1: conv 4 3x3 pad same weight zeros\nn: batchnorm relu\n"
     "c2: conv 4 3x3 pad same relu\n", {"c1": "never changes"}),
    (STEM + "c1: conv 4 3x3 pad same weight zeros\nn: batchnorm tanh\n"
     "c2: conv 4 3x3 pad same\n", {"c1": "told apart"}),
    # a chain of three: the first two get no gradient, the last reads zeros
    (STEM + "a: conv 4 3x3 pad same weight zeros\nb: conv 4 3x3 pad same weight zeros\n"
     "c: conv 4 3x3 pad same weight zeros\n" + BRANCH.format("c"),
     {"a": "never changes", "b": "never changes", "c": "weights never change"}),
]


@pytest.mark.parametrize("lines, fates", EXACT_CASES)
def test_what_check_says_of_zero_and_tied_starts_is_what_sgd_does(tmp_path, lines, fates):
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "exact.cnn"
    path.write_text("input 1x8x8\n" + lines + "flatten\nfc: dense 10\n")
    checked = cnnspec.load(path)
    assert _said_fates(checked) == {k: v for k, v in fates.items() if v is not None}
    model = compile_spec(checked, seed=0, dtype="float64")
    before = {k: v.copy() for k, v in model.params().items()}
    _train(model, STEPS)
    after = model.params()
    assert all(np.isfinite(v).all() for v in after.values())
    # every parameter check says never changes does not, and every other one does
    assert _claimed_still(checked.warnings, set(after)) == _unchanged(before, after)
    # a layer said nothing of is told apart (a zero start that learns)
    assert {name: _found_fate(name, before, after) for name in fates} == {
        name: fate or "told apart" for name, fate in fates.items()}


@pytest.mark.parametrize("lines, name, share", [
    (("c0: conv 4 3x3 pad same relu\nc1: conv 8 3x3 pad same weight zeros bias normal(0, 1) "
     "relu\nflatten\n"), "c1", 50),
    ("flatten\nc1: dense 8 weight zeros bias uniform(-1, 7) relu6\n", "c1", 25),
    # tanh passes a gradient at every bias: every unit learns
    ("flatten\nc1: dense 8 weight zeros bias normal(0, 1) tanh\n", "c1", None),
])
def test_zero_weights_with_drawn_biases_leave_the_channels_on_a_flat_spot_as_sgd_does(
        tmp_path, lines, name, share):
    """Each channel of zero weights outputs its own bias: where the relu (relu6) after it is
    flat there, the channel's filter and bias never change, and the others learn, each filter
    its own; check says so, with the share the bias's distribution puts there."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "drawn.cnn"
    path.write_text("input 1x8x8\n" + lines + "fc: dense 10\n")
    checked = cnnspec.load(path)
    said = [w for w in checked.warnings if "outputs its bias alone" in w.message]
    assert len(said) == (share is not None)
    model = compile_spec(checked, seed=0, dtype="float64")
    before = {k: v.copy() for k, v in model.params().items()}
    _train(model, STEPS)
    after = model.params()
    bias = before[f"{name}.bias"]
    weight = after[f"{name}.weight"].reshape(len(bias), -1)
    still = (weight == 0).all(axis=1) & (after[f"{name}.bias"] == bias)
    flat = (bias <= 0) | (bias >= 6) if share is not None else np.zeros(len(bias), bool)
    assert still.tolist() == flat.tolist()
    moved = weight[~still]
    assert len({tuple(row) for row in moved}) == len(moved) > 0  # each learns its own
    if share is not None:
        assert flat.any()
        (warning,) = said
        assert f"about {share}% of its 8 " in warning.message
        assert warning.span.line == lines.count("\n", 0, lines.index(f"{name}: ")) + 2
        assert warning.hint.startswith("use a random init")


@pytest.mark.parametrize("weight, after, stays", [
    # the frozen constant kernel weighs conv1's channels alike: each filter gets the same
    # gradient, whatever its bias, and their weights stay one
    ("zeros", "b: conv 4 3x3 pad same weight constant(0.1) frozen", True),
    ("constant(0.1)", "b: conv 4 3x3 pad same weight constant(0.1) frozen relu", True),
    ("zeros", "p: avgpool 2\nb: conv 4 3x3 pad same weight sobel_x frozen", True),
    # the biases make conv1's channels differ: a relu's masks, or a trainable constant conv's
    # weights learned from them, tell the filters apart
    ("constant(0.1)", "r: relu\nb: conv 4 3x3 pad same weight constant(0.1) frozen", False),
    ("zeros", "b: conv 4 3x3 pad same weight constant(0.1)", False),
])
def test_filters_alike_but_for_drawn_biases_are_said_to_stay_so_as_sgd_finds(
        tmp_path, weight, after, stays):
    """Drawn biases set the filters' outputs apart, not their gradients: where everything
    after them weighs their channels alike and is linear, check said nothing, but their
    weights stay identical."""
    import cnnspec
    from cnnspec.compiler import compile_spec

    path = tmp_path / "biased.cnn"
    path.write_text(f"input 1x8x8\nconv1: conv 4 3x3 pad same weight {weight} "
                    f"bias normal(0, 1)\n{after}\nflatten\ndense 10\n")
    checked = cnnspec.load(path)
    said = [w for w in checked.warnings if " of conv1 start identical" in w.message]
    assert len(said) == stays
    if stays:
        assert "only their biases, drawn N(0, 1^2), differ" in said[0].message
        assert said[0].message.endswith("symmetry never breaks")
    model = compile_spec(checked, seed=0, dtype="float64")
    _train(model, STEPS)
    w = _filters(model, "conv1")
    assert np.isfinite(w).all()
    assert np.allclose(w, w[:1], rtol=0, atol=1e-12) == stays


def test_a_check_works_out_the_channels_that_start_alike_once(monkeypatch):
    """The identical-filters and the twin-branches warnings read the same set: the check's
    estimate works it out once, for both."""
    from cnnspec.check import check, signal
    from cnnspec.lang import parse

    counted = []
    real = signal.alike_channels
    monkeypatch.setattr(signal, "alike_channels", lambda *args: counted.append(args) or real(*args))
    checked = check(parse("input 1x8x8\na: conv 4 3x3 weight constant(0.1)\nrelu\n"
                          "b: conv 4 3x3 weight constant(0.1)\nflatten\nfc: dense 10\n"))
    assert any("identical" in w.message for w in checked.warnings)
    assert len(counted) == 1


# A Keras model translated by hand, with one zero conv (c4) in the middle: the zeros stop the
# gradient to everything before c4 and hold everything after it at 0 too (relu of 0 is 0, a
# conv of zeros outputs its bias, a pool, dropout or batch norm of zeros is 0, a batch norm's
# shift gets no gradient while the relu after dense1 is flat), so only out.bias learns.
HELD_SPEC = """\
input 1x8x8
default weight glorot_uniform, bias zeros
c1: conv 4 3x3 pad same relu
c2: conv 4 3x3 pad same weight normal(0, 0.05) bias constant(0.1) relu
c3: conv 4 3x3 pad same weight he_normal tanh
c4: conv 4 3x3 pad same weight zeros
c5: conv 4 3x3 pad same relu
pool: maxpool 2
drop: dropout 0.5
bn: batchnorm
flatten
dense 8 relu
out: dense 10 softmax
train {
  data digits
  optimizer adam
  lr 0.001
  loss cross_entropy
  batch 32
  epochs 1
}
"""


def test_check_names_every_layer_a_zero_conv_holds_still(tmp_path):
    import cnnspec

    path = tmp_path / "held.cnn"
    path.write_text(HELD_SPEC)
    [held] = [w for w in cnnspec.load(path).warnings if w.message.startswith(HELD)]
    assert held.message == (
        "the zero weights of c4 also hold still layers whose inits are not zero: c1, c2 and c3 "
        "never change (no gradient comes back past 'c4', whose weights are 0 and stay 0); c5 "
        "never changes (with biases of 0 every input to c5's relu is 0, where it passes no "
        "gradient); bn never changes (every input to dense1's relu is 0, where it passes no "
        "gradient); dense1 never changes (with biases of 0 every input to dense1's relu is 0, "
        "where it passes no gradient); out.weight never changes (its input is the zero output "
        "of 'dense1', so the gradient of its weights (its output's gradient times its input) "
        "is 0); only out.bias learns")
    assert held.span.line == 6
    assert held.hint == "start c4 with a random init such as he_normal"


def test_a_zero_conv_holds_still_in_training_what_check_says(tmp_path):
    """One epoch of the real loop on the digits (Adam, dropout, batch norm in training mode):
    what check names never changes, and everything else (out.bias) does."""
    import cnnspec

    path = tmp_path / "held.cnn"
    path.write_text(HELD_SPEC)
    checked = cnnspec.load(path)
    before = {k: v.copy() for k, v in cnnspec.compile(checked, seed=0).params().items()}
    run = cnnspec.train(checked, cnnspec.Settings(seed=0), tmp_path / "run", curves=False,
                        progress="none")
    after = run.model.params()
    assert _unchanged(before, after) == set(after) - {"out.bias"}
    assert _claimed_still(checked.warnings, set(after)) == set(after) - {"out.bias"}


# identity on a conv with more filters than inputs: filters 4..7 start all zero. With
# biases of 0 they output 0, where the ReLU's slope is 0 (the engine's mask is x > 0, as
# PyTorch's): no gradient, so they never change; a bias of 0.1 puts them where it is 1.
IDENT_SPEC = """\
input 1x8x8
conv 4 3x3 pad same relu
conv 8 3x3 pad same weight identity{bias} relu
flatten
dense 10
train {{
  data digits
  batch 32
  epochs 1
}}
"""


def _ident_checked(tmp_path, bias: str):
    import cnnspec

    path = tmp_path / "ident.cnn"
    path.write_text(IDENT_SPEC.format(bias=bias))
    return path, cnnspec.load(path)


@pytest.mark.parametrize("bias, still", [("", True), (" bias constant(0.1)", False)])
def test_identity_filters_beyond_the_inputs_never_change_as_check_says(tmp_path, bias, still):
    import cnnspec

    _, checked = _ident_checked(tmp_path, bias)
    [warning] = [w for w in checked.warnings if "conv2" in w.message]
    assert warning.message.startswith("4 of the 8 filters of conv2 start identical (all zero")
    assert warning.message.endswith(
        ", and with biases of 0 each outputs 0 alone while its weights are 0, and its relu's "
        "slope at 0 is 0, so it passes them no gradient: those 4 filters never change (nor "
        "their biases), and the layer has the use of only the other 4") == still
    before = {k: v.copy() for k, v in cnnspec.compile(checked, seed=0).params().items()}
    run = cnnspec.train(checked, run_dir=tmp_path / "run", curves=False, progress="none")
    after = run.model.params()
    for part in ("weight", "bias"):
        was, now = before[f"conv2.{part}"], after[f"conv2.{part}"]
        moved = [not np.array_equal(a, b) for a, b in zip(was, now)]
        assert moved == [True] * 4 + [not still] * 4, part


def test_init_report_counts_the_same_filters_check_does(tmp_path):
    """One meaning of "same filters": check's count of filters that start alike
    (:func:`cnnspec.check.alike.alike_filters`) is what init-report measures."""
    from cnnspec.check.alike import alike_filters
    from cnnspec.lab.report import format_table, init_report

    path, checked = _ident_checked(tmp_path, "")
    report = init_report(path, input_kind="gaussian", batch_size=4)
    measured = {s.name: s.same_filters for s in report.variants[0].layers}
    assert measured["conv2"] == alike_filters(checked.by_name["conv2"]) == 4
    assert measured["conv1"] == measured["dense1"] == 0
    # conv2's second row is the weights table's, whose last column is the same filters
    rows = [line for line in format_table(report).splitlines() if line.startswith("conv2 ")]
    assert len(rows) == 2 and rows[1].endswith(" 4 of 8")


ZEROS_SPEC = Path(__file__).resolve().parent.parent / "specs" / "zeros.cnn"


def test_init_report_says_a_zero_output_layer_keeps_its_filters_alike_as_check_does():
    """zeros.cnn's output layer fc starts at 0 and reads the zeros of conv2, so its weights
    never change, as check warns: its filters stay alike, which the column said "no" to."""
    import cnnspec
    from cnnspec.lab.report import format_table, init_report

    assert any("fc's weights never change" in w.message
               for w in cnnspec.load(ZEROS_SPEC).warnings)
    report = init_report(ZEROS_SPEC, ["zeros", "he_normal"], input_kind="gaussian",
                         batch_size=4)
    zeros, he = ({s.name: s.same_filters for s in v.layers if s.same_filters is not None}
                 for v in report.variants)
    assert zeros == {"conv1": 8, "conv2": 16, "fc": 4}
    assert he == {"conv1": 0, "conv2": 0, "fc": 0}
    rows = [line.split() for line in format_table(report).splitlines()
            if line.startswith("fc ") and "dense" not in line]
    assert [row[-1] for row in rows] == ["YES", "no"]


def test_train_stats_counts_the_same_filters_once_per_run(tmp_path, monkeypatch):
    """The count is a fact of the spec, not of the weights: it was worked out again at each
    recording (1.4 ms each on a net of 200 convs), and is now once a run, with the same
    count at every recorded step."""
    import cnnspec
    from cnnspec.lab import probe
    from cnnspec.lab.recorder import STATS_FILE, read_stats

    calls = []

    def counted(*args):
        calls.append(args)
        return lasting_alike_filters(*args)

    lasting_alike_filters = probe.lasting_alike_filters
    monkeypatch.setattr(probe, "lasting_alike_filters", counted)
    _, checked = _ident_checked(tmp_path, "")
    cnnspec.train(checked, run_dir=tmp_path / "run", curves=False, progress="none",
                  stats_every=10)
    records = read_stats(tmp_path / "run" / STATS_FILE)
    assert len(records) > 2 and len(calls) == 1
    for record in records:
        assert {row["name"]: row["same_filters"] for row in record["layers"]
                if row["kind"] == "conv"} == {"conv1": 0, "conv2": 4}


# Layers held where they start: a fixed bilinear upsampling (FCN's Deconvolution) and a fixed
# constant kernel after filters alike but for drawn biases, which keeps those tied.
HELD_LAYERS = [
    ("input 1x8x8\nc: conv 16 3x3 pad same relu\n"
     "up: conv_transpose 16 4x4 stride 2 pad 1 weight bilinear nobias {held}\n"
     "conv 10 1x1\nglobal_avgpool\n"),
    ("input 1x8x8\nconv1: conv 4 3x3 pad same weight zeros bias normal(0, 1)\n"
     "b: conv 4 3x3 pad same weight constant(0.1) {held}\nflatten\ndense 10\n"),
]


@pytest.mark.parametrize("text", HELD_LAYERS)
def test_lr_mult_0_holds_a_layer_as_frozen_does(tmp_path, text):
    """Caffe's lr_mult 0 on every parameter keeps a layer where it starts, as frozen does:
    check says of it what it says of the frozen layer (cnnspec.ir.training_catalogue
    .is_trained), never that its filters start identical and should be drawn."""
    import cnnspec

    said = {}
    for held in ("frozen", "lr_mult 0"):
        path = tmp_path / "held.cnn"
        path.write_text(text.format(held=held))
        said[held] = [(w.message, w.hint) for w in cnnspec.load(path).warnings]
    assert said["lr_mult 0"] == said["frozen"]


def test_a_fixed_bilinear_upsampling_is_no_symmetry_to_break(tmp_path):
    """Bilinear kernels are alike across channels on purpose: held by lr_mult 0 (on its
    weight, the bias learning or not) no warning fires; trained, it does."""
    import cnnspec

    def identical(mults: str) -> list:
        path = tmp_path / "up.cnn"
        path.write_text(HELD_LAYERS[0].format(held=f"lr_mult {mults}").replace("nobias ", ""))
        return [w for w in cnnspec.load(path).warnings if "start identical" in w.message]

    assert identical("0") == [] and identical("[0, 1]") == []
    assert len(identical("1")) == 1


# two kernels, each written for two of a layer's four filters (a 3-D literal)
DIAGONAL, ANTIDIAGONAL = "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]", "[[0, 0, 1], [0, 1, 0], [1, 0, 0]]"
FROZEN_COPIES = "input 1x8x8\nc: conv 4 3x3 pad same {} relu\nconv 4 3x3 pad same relu\n" \
    "flatten\ndense 10\n"


@pytest.mark.parametrize("weight, count", [
    ("weight sobel_x frozen", 4),
    ("weight constant(0.1) frozen", 4),
    ("weight sobel_x lr_mult [0, 1]", 4),  # the bias learns, the weights stay copies
    (f"weight [{DIAGONAL}, {DIAGONAL}, {ANTIDIAGONAL}, {ANTIDIAGONAL}] frozen", 0),
    ("weight sobel_x bias normal(0, 1) frozen", 0),  # drawn biases set the channels apart
    ("weight he_normal frozen", 0),
    ("weight sobel_x", 0),  # trainable: identical-filters says it
])
def test_frozen_copies_are_warned_and_counted_as_filters_that_stay_identical(
        tmp_path, weight, count):
    """A frozen layer whose filters are one kernel written for each: `frozen-copies`, at its
    init, with the hint that keeps one filter; init-report's "same filters" column and the
    diagram count the same filters (one place: cnnspec.check.lints.lasting_alike_filters). A
    3-D literal of two kernels repeats each twice, but the layer has no one kernel: not
    warned (its filters are not alike along the filter axis)."""
    import cnnspec
    from cnnspec.lab.report import init_report
    from cnnspec.render.diagram import build_graph

    path = tmp_path / "copies.cnn"
    path.write_text(FROZEN_COPIES.format(weight))
    checked = cnnspec.load(path)
    said = [w for w in checked.warnings if w.lint == "frozen-copies"]
    assert len(said) == bool(count)
    report = init_report(path, input_kind="gaussian", batch_size=4)
    same = {s.name: s.same_filters for s in report.variants[0].layers}
    node = next(line for line in build_graph(checked).source.splitlines()
                if line.strip().startswith("c ["))
    if not count:
        assert same["c"] in (0, None) or weight == "weight sobel_x"
        assert "stay so" not in node
        return
    (warning,) = said
    assert warning.message.startswith(
        f"all 4 filters of c are copies ({checked.by_name['c'].weight_init.short}) and frozen: "
        "they compute one output 4 times, and never come apart")
    assert ("but for the biases, which learn" in warning.message) == ("lr_mult" in weight)
    assert warning.span.line == 2 and warning.hint.startswith("keep 1 of the layer's filters")
    assert same["c"] == count
    assert "the filters start identical and stay so" in node


def test_frozen_copies_compute_one_output_after_training(tmp_path):
    """What the warning says, by the engine: after SGD steps the frozen layer's channels are
    still one channel, each the same values, while a trainable one after it learns."""
    from cnnspec.compiler import compile_spec
    from cnnspec.lab.variants import load_variant

    path = tmp_path / "copies.cnn"
    path.write_text(FROZEN_COPIES.format("weight sobel_x frozen"))
    model = compile_spec(load_variant(path, None).checked, seed=0, dtype="float64")
    _train(model, STEPS)
    model.record = True
    model.forward(np.random.default_rng(2).standard_normal((4, 1, 8, 8)))
    out = model.activations["c_relu"]
    assert np.abs(out).max() > 0 and np.array_equal(out, np.repeat(out[:, :1], 4, axis=1))


@pytest.mark.parametrize("layer, said", [
    ("conv 8 1x1 weight identity frozen", "4 of the 8 filters of c are copies (all zero"),
    ("conv 4 3x3 pad same weight sobel_x groups 2 frozen",
     "the 2 filters of each of c's 2 groups are copies"),
    ("conv 4 3x3 pad same weight sobel_x groups 4 frozen", None),  # one filter a group
])
def test_frozen_copies_of_identity_and_of_groups(tmp_path, layer, said):
    """identity's all-zero filters beyond the input's channels are copies too (hinted as
    the identical-filters warning hints them); a grouped conv's filters are copies within
    each group, which reads channels of its own."""
    import cnnspec

    path = tmp_path / "copies.cnn"
    path.write_text(f"input 1x8x8\nconv 4 3x3 pad same relu\nc: {layer}\nconv 4 3x3 relu\n"
                    "flatten\ndense 10\n")
    warnings = [w for w in cnnspec.load(path).warnings if w.lint == "frozen-copies"]
    if said is None:
        assert warnings == []
        return
    (warning,) = warnings
    assert warning.message.startswith(said), warning.message
