"""A diagnostic that holds alike for several copies of a repeat block is said once, at its
spot in the file, naming the copies (:mod:`cnnspec.check.copies`): in ``check``'s text, in
``summary --format json``, in the library's warnings and errors, and before ``train``. Copies
whose figures differ are never folded into one figure."""
import json
import re

import pytest

import cnnspec
from cnnspec.check import check
from cnnspec.check.copies import folded
from cnnspec.cli import main
from cnnspec.errors import SpecError, SpecErrors
from cnnspec.lang import parse

# 30 copies of a conv whose weights float32 holds as subnormal numbers: one warning each
TINY = """\
model tiny
input 1x8x8
repeat 30 as blk {
  c: conv 4 3x3 pad same tanh weight normal(0, 1e-40)
}
flatten
fc: dense 10
"""
UNDERFLOW = "the weight init N(0, 1e-40^2) makes weights of about 1e-40"
NESTED = """\
model nested
input 1x8x8
repeat 2 as stage {
  repeat 3 as unit {
    a: conv 4 3x3 pad same tanh weight normal(0, 1e-40)
  }
}
flatten
fc: dense 10
"""
# each copy's conv reads its own pool, and the pools halve the map: 4x4, 2x2, 1x1, 1x1, 1x1;
# the 3x3 kernel is too large from copy 2 on, for a 2x2 map there and a 1x1 map after it
SHRINKING = """\
model shrinking
input 1x8x8
repeat 5 as b {
  p: maxpool 2 pad same
  c: conv 4 3x3 <- p
  out: maxpool 1 <- p
}
flatten
fc: dense 10
"""


@pytest.fixture
def write(tmp_path):
    def write(text, name="net.cnn"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_check_prints_one_warning_for_all_copies_with_its_caret_and_hint(write, capsys):
    path = write(TINY)
    assert main(["check", path]) == 0
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if UNDERFLOW in line]
    assert said == [
        (f"{path}:4:31: warning: conv 'blk_1_c' .. 'blk_30_c' (the repeat block's 'c' in all 30 "
         f"copies): {UNDERFLOW}, below float32's smallest normal number, 1.18e-38: in float32, "
         "the dtype they are trained in, they start subnormal, with few significant bits, and "
         "slow every product they enter [init-underflow]")]
    lines = err.splitlines()
    at = lines.index(said[0])
    assert lines[at + 1:at + 4] == [
        "    c: conv 4 3x3 pad same tanh weight normal(0, 1e-40)",
        "                                ^^^^^^^^^^^^^^^^^^^^^^^",
        ("hint: make the weights at least 1.18e-38 in size (numpy.finfo('float32').tiny, the "
         "smallest float32 with all its significant bits); he_normal sizes them from the layer's "
         "fans, zeros starts every weight at exactly 0")]
    # the count says what was printed: this warning and the signal's, not 31
    assert err.count(": warning: ") == 2
    assert out == f"{path}: ok (62 layers, 6,902 params; 2 warnings)\n"


def test_strict_folds_the_errors_the_warnings_became(write, capsys):
    path = write(TINY)
    assert main(["check", "--strict", path]) == 2
    err = capsys.readouterr().err
    assert err.count(": error: ") == 2 and ": warning: " not in err
    assert f"{path}:4:31: error: conv 'blk_1_c' .. 'blk_30_c' (the repeat block's 'c' in all " \
           f"30 copies): {UNDERFLOW}" in err


def test_the_library_folds_warnings_and_lists_their_copies(write):
    warning = next(w for w in cnnspec.load(write(TINY)).warnings if UNDERFLOW in w.message)
    assert warning.copies == tuple(f"blk_{i}_c" for i in range(1, 31))
    assert warning.severity == "warning" and (warning.span.line, warning.span.column) == (4, 31)
    with pytest.raises(SpecErrors) as raised:
        cnnspec.load(write(TINY), strict=True)
    assert [len(error.copies) for error in raised.value.errors] == [30, 0]
    assert str(raised.value).count(UNDERFLOW) == 1


def test_summary_json_lists_the_copies_of_each_warning(write, capsys):
    assert main(["summary", "--format", "json", write(TINY)]) == 0
    out, err = capsys.readouterr()
    warnings = json.loads(out)["warnings"]
    assert [len(w["copies"]) for w in warnings] == [30, 0]  # the signal's is said once anyway
    assert warnings[0]["copies"] == [f"blk_{i}_c" for i in range(1, 31)]
    assert (warnings[0]["line"], warnings[0]["column"]) == (4, 31)
    assert err.count(": warning: ") == 2  # and the text before it, folded alike


def test_train_prints_the_folded_warnings_before_training(write, tmp_path, capsys):
    spec = write(TINY.replace("repeat 30", "repeat 3"))
    assert main(["train", spec, "--out", str(tmp_path / "run"), "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert err.count(UNDERFLOW) == 1
    assert "conv 'blk_1_c' .. 'blk_3_c' (the repeat block's 'c' in all 3 copies)" in err


def test_nested_blocks_fold_every_copy_of_the_innermost_statement(write, capsys):
    path = write(NESTED)
    assert main(["check", path]) == 0
    err = capsys.readouterr().err
    assert f"{path}:5:33: warning: conv 'stage_1_unit_1_a' .. 'stage_2_unit_3_a' (the repeat " \
           f"block's 'a' in all 6 copies): {UNDERFLOW}" in err
    assert err.count(UNDERFLOW) == 1
    warning = next(w for w in cnnspec.load(path).warnings if UNDERFLOW in w.message)
    assert warning.copies == tuple(f"stage_{i}_unit_{j}_a" for i in (1, 2) for j in (1, 2, 3))


def test_copies_with_different_figures_are_not_folded_into_one(write, capsys):
    path = write(SHRINKING)
    assert main(["check", path]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert errors == [
        (f"{path}:5:13: error: the 3x3 kernel of conv 'b_2_c' is larger than its input there: "
         "2x2 (input 'b_2_p' gives 1x2x2)"),
        # the copies whose figure is the same are one, each name of the copy a range
        (f"{path}:5:13: error: the 3x3 kernel of conv 'b_3_c' .. 'b_5_c' (the repeat block's "
         "'c' in copies 3..5 of 5) is larger than their input there: 1x1 (input 'b_3_p' .. "
         "'b_5_p' gives 1x1x1)")]
    with pytest.raises(SpecErrors) as raised:
        cnnspec.load(path)
    assert [error.copies for error in raised.value.errors] == [(), ("b_3_c", "b_4_c", "b_5_c")]


def test_an_error_in_every_copy_is_said_once(write, capsys):
    path = write("input 1x8x8\nrepeat 3 as b {\n  c: conv 4 9x9 <- input\n}\n"
                 "flatten\ndense 10\n")
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert err.count(": error: ") == 1
    assert f"{path}:3:13: error: the 9x9 kernel of conv 'b_1_c' .. 'b_3_c' (the repeat " \
           "block's 'c' in all 3 copies) is larger than their input there: 8x8" in err


def test_some_copies_alike_are_named_by_their_numbers():
    text = ("input 1x8x8\nrepeat 3 as b {\n  c: conv 4 3x3 pad same relu\n"
            "  x: conv 4 3x3 pad same relu\n  s: add(c, b_1_c)\n}\nflatten\ndense 10\n")
    said = [w.message for w in check(parse(text)).warnings if " not used" in w.message]
    # copy 1's relu is told apart by its hint (the full name 'b_1_c' from inside the block)
    assert "layer 'b_2_c_relu' and 'b_3_c_relu' (the repeat block's 'c_relu' in copies 2 and 3 " \
           "of 3) are not used: no path leads from there to the output 'dense1'" in said
    assert "layer 'b_1_c_relu' is not used: no path leads from there to the output 'dense1'" in said


@pytest.mark.parametrize("body, train", [
    ("  c: conv 4 3x3 pad same relu <- input\n", ""),  # unused copies
    ("  c: conv 4 3x3 pad same relu\n  s: softmax\n", "train {\n  loss cross_entropy\n}\n"),
    ("  c: conv 4 3x3 pad same relu\n  d: dropout 0.5\n  n: batchnorm\n", "")])
def test_a_folded_diagnostics_hint_reads_for_several_layers(body, train):
    """A hint names no layer and refers back to the message's: "remove it" of several copies
    read wrong, so these hints name what they mean ("remove the softmax")."""
    text = f"input 1x8x8\nrepeat 3 as blk {{\n{body}}}\nflatten\nfc: dense 10\n{train}"
    try:
        said = check(parse(text)).warnings
    except SpecErrors as errors:  # the stray softmax is an error
        said = errors.errors
    several = [w for w in said if len(w.copies) > 1]
    assert several
    for warning in several:
        assert not re.search(r"\b(it|its|itself)\b", warning.hint), warning.hint


def test_a_name_said_twice_is_a_range_each_time_and_described_once(write):
    text = ("input 1x8x8\nconv 4 3x3 pad same relu\nrepeat 5 as blk {\n"
            "  c: conv 4 3x3 pad same relu weight zeros\n}\nflatten\ndense 10\n")
    warning, held = check(parse(text)).warnings
    assert warning.message.startswith(
        "all 4 filters of blk_1_c .. blk_5_c (the repeat block's 'c' in all 5 copies) start "
        "identical (constant 0)")
    assert ": blk_1_c .. blk_5_c never change," in warning.message
    # the conv before them and the weights of the dense layer after them are held still too;
    # the copies are named as a range, as the warning before names them
    assert held.message.startswith("the zero weights of blk_1_c .. blk_5_c (the repeat block's "
                                   "'c' in all 5 copies) also hold still layers whose inits are "
                                   "not zero: conv1 never changes (")
    assert held.hint == ("start blk_1_c .. blk_5_c (the repeat block's 'c' in all 5 copies) "
                         "with a random init such as he_normal")


def test_the_copies_zero_weights_hold_still_are_named_as_a_range():
    text = ("input 1x8x8\nc0: conv 4 3x3 pad same relu weight zeros\nrepeat 8 as blk {\n"
            "  c: conv 4 3x3 pad same relu\n}\nflatten\ndense 10\n")
    _, held = check(parse(text)).warnings
    assert held.message == (
        "the zero weights of c0 also hold still layers whose inits are not zero: blk_1_c .. "
        "blk_8_c (the repeat block's 'c' in all 8 copies) never change (with biases of 0 every "
        "input to blk_1_c .. blk_8_c's relu is 0, where they pass no gradient); dense1.weight "
        "never changes (its input is the zero output of 'blk_8_c', so the gradient of its "
        "weights (its output's gradient times its input) is 0); only dense1.bias learns")


def _said_of(spec, numbers, **fields) -> list[SpecError]:
    """A warning at the repeat block's conv for each copy of ``numbers``, naming it."""
    span = spec.span_of("blk_1_c", "weight_init")
    return [SpecError(f"conv 'blk_{i}_c': its weights start subnormal", span,
                      severity="warning", file=spec.path, **fields) for i in numbers]


def test_which_copies_are_written_as_ranges_of_three_or_more():
    spec = parse(TINY, path="tiny.cnn")
    chosen = [1, 3, 5, 6, 8, 9, *range(11, 31)]
    [one] = folded(spec, _said_of(spec, chosen, hint="make them larger"))
    assert one.message == ("conv 'blk_1_c' .. 'blk_30_c' (the repeat block's 'c' in copies 1, 3, "
                           "5, 6, 8, 9 and 11..30 of 30): their weights start subnormal")
    assert one.copies == tuple(f"blk_{i}_c" for i in chosen)
    assert (one.span, one.hint, one.severity) == (spec.span_of("blk_1_c", "weight_init"),
                                                  "make them larger", "warning")
    [two] = folded(spec, _said_of(spec, [7, 2]))  # found in any order, said in the network's
    assert two.message.startswith("conv 'blk_2_c' and 'blk_7_c' (the repeat block's 'c' in "
                                  "copies 2 and 7 of 30): ")


@pytest.mark.parametrize(("said", "folded_as"), [
    # a range that is the subject takes the plural of the verb after its copies
    ("'blk_{i}_c' reads 'x'", "'blk_1_c' .. 'blk_3_c' ({about}) read 'x'"),
    ("layer 'blk_{i}_c' is not used", "layer 'blk_1_c' .. 'blk_3_c' ({about}) are not used"),
    ("ties: blk_{i}_c never changes", "ties: blk_1_c .. blk_3_c ({about}) never change"),
    ("so 'blk_{i}_c' passes 0", "so 'blk_1_c' .. 'blk_3_c' ({about}) pass 0"),
    ("'blk_{i}_c' has 4 filters", "'blk_1_c' .. 'blk_3_c' ({about}) have 4 filters"),
    # a figure of the subject's in parentheses before the verb (the dropout before a batch
    # norm's "(p = 0.5) comes directly before")
    ("dropout 'blk_{i}_c' (p = 0.5) comes first",
     "dropout 'blk_1_c' .. 'blk_3_c' ({about}) (p = 0.5) come first"),
    # ... which may hold parentheses of its own (an init's figure, N(0, 3^2)); one left open
    # leaves no verb to agree
    ("conv 'blk_{i}_c' (normal, N(0, 3^2)) has fan_in 298",
     "conv 'blk_1_c' .. 'blk_3_c' ({about}) (normal, N(0, 3^2)) have fan_in 298"),
    ("conv 'blk_{i}_c' (normal, N(0, 3^2) has fan_in 298",
     "conv 'blk_1_c' .. 'blk_3_c' ({about}) (normal, N(0, 3^2) has fan_in 298"),
    # after a preposition the range is not the subject, nor before a colon
    ("the kernel of conv 'blk_{i}_c' is larger",
     "the kernel of conv 'blk_1_c' .. 'blk_3_c' ({about}) is larger"),
    # the pronouns after a range that is the text's first layer refer to several layers: "it"
    # before its verb is "they", after a preposition or as an object "them"
    ("conv 'blk_{i}_c': it is small", "conv 'blk_1_c' .. 'blk_3_c' ({about}): they are small"),
    ("conv 'blk_{i}_c': its weights, a norm after it and it itself",
     ("conv 'blk_1_c' .. 'blk_3_c' ({about}): their weights, a norm after them and them "
     "themselves")),
    ("concat 'blk_{i}_c' reads 'x': the channels it takes never change",
     "concat 'blk_1_c' .. 'blk_3_c' ({about}) read 'x': the channels they take never change"),
    ("the kernel of 'blk_{i}_c': a batchnorm after it brings its outputs, and leave it little",
     ("the kernel of 'blk_1_c' .. 'blk_3_c' ({about}): a batchnorm after them brings their "
     "outputs, and leave them little")),
    # a layer named before the range is the one the pronouns refer to
    ("'fc' reads 'blk_{i}_c', the dense layer after its flatten",
     "'fc' reads 'blk_1_c' .. 'blk_3_c' ({about}), the dense layer after its flatten"),
])
def test_a_folded_diagnostic_agrees_with_its_plural_subject(said, folded_as):
    spec = parse(TINY, path="tiny.cnn")
    span = spec.span_of("blk_1_c", "weight_init")
    [one] = folded(spec, [SpecError(said.format(i=i), span, severity="warning")
                          for i in (1, 2, 3)])
    assert one.message == folded_as.format(about="the repeat block's 'c' in copies 1..3 of 30")


def test_a_later_range_agrees_with_its_verb_past_a_nested_figure():
    # the second range a text names is written without the copies it names, its closing
    # quote right before the figure and the verb
    text = _block("a: conv 4 3x3 pad same tanh",
                  "b: conv 4 3x3 pad same tanh weight normal(0, 3)",
                  "c: conv 4 3x3 pad same tanh", "d: conv 4 3x3 pad same tanh",
                  "n: batchnorm", "r: conv 1 1x1 relu")
    [one] = [d for d in _diagnostics(text) if "(normal, N(0, 3^2))" in d.message]
    assert "'blk_1_b' .. 'blk_3_b' (normal, N(0, 3^2)) have fan_in" in one.message


def test_diagnostics_at_other_spots_or_naming_two_copies_each_stay_apart():
    spec = parse(TINY, path="tiny.cnn")
    first, second = _said_of(spec, [1, 2])
    elsewhere = SpecError(second.message, None, json_path="$.layers[2].weight_init",
                          severity="warning")
    assert folded(spec, [first, elsewhere]) == [first, elsewhere]
    # another hint, or another severity: not the same diagnostic
    for other in (_said_of(spec, [2], hint="another")[0], SpecError(
            second.message, second.span, file=second.file)):
        assert folded(spec, [first, other]) == [first, other]
    # the same two copies named in both, in turn: which one is the copy it is about?
    both = [SpecError(f"'blk_{a}_c' reads 'blk_{b}_c'", first.span, severity="warning")
            for a, b in ((1, 2), (2, 1))]
    assert folded(spec, both) == both
    # one said twice: nothing tells them apart, and nothing is folded
    assert folded(spec, [first, first]) == [first, first]


def test_a_json_ir_keeps_a_warning_at_each_copys_own_path(write, tmp_path, capsys):
    assert main(["export", write(TINY.replace("repeat 30", "repeat 3"))]) == 0
    ir = tmp_path / "net.json"
    ir.write_text(capsys.readouterr().out)
    warnings = [w for w in cnnspec.load(ir).warnings if UNDERFLOW in w.message]
    assert [w.json_path for w in warnings] == [f"$.layers[{i}].weight_init" for i in (0, 2, 4)]
    assert all(w.copies == () for w in warnings)


def _diagnostics(text: str) -> list[SpecError]:
    try:
        return check(parse(text)).warnings
    except SpecErrors as raised:
        return raised.errors


def _block(*lines: str, before: str = "", after: str = "flatten\nfc: dense 10\n") -> str:
    body = "".join(f"  {line}\n" for line in lines)
    return f"input 1x8x8\n{before}repeat 3 as blk {{\n{body}}}\n{after}"


# Every lint that refers back to the layer it names with it, its or itself, fired alike in
# each copy of a repeat block: folded, the pronouns speak of the several layers the range
# names ("the channels it takes" was left after "concat 'blk_1_s' .. 'blk_3_s' ... read").
PRONOUN_LINTS = [
    (_block("a: conv 4 3x3 pad same", "s: concat(a, a)"),
     "the 4 channels they take the second time only repeat those they take the first"),
    (_block("c: conv 4 3x3 pad same relu", "d: dropout 0.5", "n: batchnorm"),
     "in training they scale the kept values"),
    (_block("c: conv 4 3x3 pad same relu weight zeros"),
     "every input to their relu is 0, where they pass no gradient"),
    (_block("c: conv 4 3x3 pad 3 relu", "p: avgpool 5 stride 1"),
     ("where their 3x3 kernel reaches 2: 2 rows and 2 columns of their output read only the "
     "padding's zeros (they hold their bias alone)")),
    (_block("c: conv 4 3x3 pad same relu", before="p0: maxpool 8\n"),
     "only 1 of the 9 taps of their 3x3 kernel meet their 1x1 input"),
    (_block("c: conv 4 3x3 pad same relu bias constant(-5) <- input"),
     "their biases start at -5, 3.86 times the std of their sums"),
    (_block("c: conv 4 3x3 pad same relu weight normal(1, 1e-9)", "n: batchnorm"),
     "spreads their weights by a std of 1e-9"),
    (_block("d: dense 10 <- f", before="default weight sobel_x\nconv 4 3x3 pad same\nf: flatten\n",
            after="fc: dense 10\n"),
     "(their weight init comes from the `default weight` on line 2)"),
    (_block("a: conv 4 3x3 pad same tanh", "b: conv 4 3x3 pad same tanh weight normal(0, 3)",
            "c: conv 4 3x3 pad same tanh", "d: conv 4 3x3 pad same tanh", "n: batchnorm",
            "r: conv 1 1x1 relu"),
     "the steps back through them"),
    (_block("c: conv 4 3x3 pad same relu", "s: softmax"),
     "are not the output layer, but the loss cross_entropy already applies softmax"),
]


@pytest.mark.parametrize("text, said", PRONOUN_LINTS)
def test_a_folded_lint_refers_back_to_its_copies_in_the_plural(text, said):
    folded_ones = [d for d in _diagnostics(text) if len(d.copies) > 1]
    matching = [d for d in folded_ones if said in d.message]
    assert len(matching) == 1, [d.message for d in folded_ones]
    one = matching[0]
    for written in (one.message, one.hint or ""):
        if any(name in written for name in one.copies):  # a text the fold wrote plural
            assert re.search(r"\b(it|its|itself)\b", written) is None, written


def _zeros_net(convs: str) -> str:
    """A net whose convs (``convs``, one a line) start at zero but for those named he_normal."""
    return f"model deep\ninput 1x8x8\ndefault weight zeros\n{convs}\nflatten\nfc: dense 10\n"


TWENTY = _zeros_net("\n".join(f"conv{i}: conv 4 3x3 pad same relu" for i in range(1, 21)))
IDENTICAL = "start identical (constant 0)"


def test_a_warning_said_alike_of_consecutive_layers_is_printed_once(write, capsys):
    """20 convs initialised alike: one warning each, the same but for the layer's name (the
    first's differs: no layer before it to pass a gradient to), said once at the first of
    them, naming the layers and counting them; the count beside "ok" is of those printed."""
    path = write(TWENTY)
    assert main(["check", path]) == 0
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if IDENTICAL in line]
    assert said[1] == (
        f"{path}:5:1: warning: all 4 filters of conv2 .. conv20 (19 layers) start identical "
        "(constant 0), and with biases of 0 every input to their relu is 0, where they pass "
        "no gradient: conv2 .. conv20 never change, so symmetry never breaks, and no gradient "
        "passes back through them to the layers before [identical-filters]")
    assert len(said) == 2 and said[0].startswith(f"{path}:4:1: warning: all 4 filters of conv1 ")
    lines = err.splitlines()
    assert lines[lines.index(said[1]) + 1] == "  conv2: conv 4 3x3 pad same relu"
    printed = err.count(": warning: ")
    assert out == f"{path}: ok (42 layers, 5,422 params; {printed} warnings)\n"


def test_the_json_and_the_library_keep_a_warning_for_each_layer(write, capsys):
    path = write(TWENTY)
    assert main(["summary", "--format", "json", path]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    identical = [w for w in warnings if w["lint"] == "identical-filters"]
    assert [w["line"] for w in identical] == [*range(4, 24), 25]  # the convs', then fc's
    assert sum(w.lint == "identical-filters" for w in cnnspec.load(path).warnings) == 21


@pytest.mark.parametrize("convs, runs", [
    # a layer between that is not warned of parts the runs
    (("c1: conv 4 3x3 pad same relu\nc2: conv 4 3x3 pad same relu\n"
      "c3: conv 4 3x3 pad same relu\nc4: conv 4 3x3 pad same relu weight he_normal\n"
      "c5: conv 4 3x3 pad same relu\nc6: conv 4 3x3 pad same relu"),
     ["c1", "c2 and c3 (2 layers)", "c5 and c6 (2 layers)"]),
    # blank and comment lines between statements do not
    (("c1: conv 4 3x3 pad same relu\nc2: conv 4 3x3 pad same relu\n\n# the second stage\n"
      "c3: conv 4 3x3 pad same relu"), ["c1", "c2 and c3 (2 layers)"]),
])
def test_only_layers_written_one_after_another_are_said_at_once(write, capsys, convs, runs):
    assert main(["check", write(_zeros_net(convs))]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if IDENTICAL in line]
    assert [re.search(r"filters of (.*) start identical", line)[1] for line in said] == runs


def test_a_dropout_before_a_batch_norm_in_each_copy_is_said_once():
    """A tanh's mean, 0 but for rounding (about 1e-17), was said as its square's share of
    the mean square, 3.4e-35 in one copy and 5.7e-33 in another: 13 warnings for 20 alike
    copies, each naming a number that moved nothing. A share that leaves the shift as
    written is not said; one that moves it (a ReLU's, 0.318) is."""
    spec = ("model m\ninput 1x8x8\nrepeat 20 as r {\n  conv 4 9x1 pad same weight normal(0, 1) "
            "tanh\n  dropout 0.3\n  batchnorm\n}\nflatten\ndense 10\n")
    shifts = [w for w in check(parse(spec)).warnings if w.lint == "dropout-before-batchnorm"]
    assert len(shifts) == 1 and "in all 20 copies" in shifts[0].message
    assert "variance shift)" in shifts[0].message and "signal estimate" not in shifts[0].message
    relu = spec.replace("tanh", "relu")
    shifted = [w for w in check(parse(relu)).warnings if w.lint == "dropout-before-batchnorm"]
    assert "whose square the signal estimate finds 0.318 of" in shifted[0].message


def test_a_warning_of_each_copy_and_the_next_is_said_once():
    """stacked-linear names a copy and the copy after it, which reads it: the folding took
    two places naming copies of one statement for names it could not pair, and 20 copies of
    a conv without activation were 19 warnings alike but for the names."""
    text = ("model m\ninput 1x8x8\nrepeat 20 as r {\n  conv 4 3x3 pad same nobias\n}\n"
            "flatten\ndense 10\n")
    stacked = [d for d in _diagnostics(text) if d.lint == "stacked-linear"
               and "reaches dense" not in d.message]
    assert len(stacked) == 1
    assert stacked[0].message.startswith(
        "conv 'r_1_conv' .. 'r_19_conv' (the repeat block's 'conv' in copies 1..19 of 20) are "
        "read by conv 'r_2_conv' .. 'r_20_conv' with no activation between")
    assert stacked[0].copies == tuple(f"r_{k}_conv" for k in range(1, 20))


def _branches(layer: str) -> str:
    """Two layers ``layer`` (``{n}`` their number) on the input, side by side, joined: layers
    written one after another that see the same input, so each gets the same warning."""
    layers = "\n".join(layer.format(n=n) for n in (1, 2))
    return (f"model m\ninput 1x8x8\n{layers}\ncat: concat(c1_relu, c2_relu)\nflatten\n"
            "fc: dense 10\n")


@pytest.mark.parametrize("text, message, hint", [
    (_branches("c{n}: conv 4 3x3 pad same relu bias constant(-5) <- input"),
     ("conv 'c1' and 'c2' (2 layers): their biases start at -5, 3.86 times the std of their sums "
     "(N(0, 0.471^2): about 1.3 for inputs of unit mean square), so their relu passes almost "
     "none, about 1 in 10^4, of their outputs (Phi(b / std)) and the rest send no gradient back:"
     " the layers start nearly dead [silenced-relu]"),
     "start the biases at 0 (zeros), or small and positive (constant(0.01)) to keep ReLUs alive"),
    (("model m\ninput 1x8x8\nc1: conv 4 3x3 pad 1 relu\nu1: conv 4 3x3 pad 1 <- c1_relu\n"
     "u2: conv 4 3x3 pad 1 <- c1_relu\nc2: conv 4 3x3 pad 1 relu <- c1_relu\nflatten\n"
     "fc: dense 10\n"),
     ("layer 'u1' and 'u2' (2 layers) are not used: no path leads from there to the output 'fc' "
     "[unused-layer]"),
     "remove the lines, feed the layers into a later one, or name the right `output`"),
    (_branches("c{n}: conv 4 3x3 pad same relu weight normal(0, 1e-40) <- input"),
     ("conv 'c1' and 'c2' (2 layers): the weight init N(0, 1e-40^2) makes weights of about "
     "1e-40, below float32's smallest normal number, 1.18e-38: in float32, the dtype they are "
     "trained in, they start subnormal, with few significant bits, and slow every product "
     "they enter [init-underflow]"),
     # its: the float32 number's, not the layers'
     ("make the weights at least 1.18e-38 in size (numpy.finfo('float32').tiny, the smallest "
     "float32 with all its significant bits); he_normal sizes them from the layers' fans, "
     "zeros starts every weight at exactly 0")),
    (_branches("c{n}: conv 4 3x3 pad same relu weight sobel_x frozen <- input"),
     ("all 4 filters of c1 and c2 (2 layers) are copies (sobel_x 3x3) and frozen: they compute "
     "one output 4 times, and never come apart, so the layers after them read one feature "
     "where they read 4 channels [frozen-copies]"),
     ("keep 1 of the layers' filters, or a kernel for each filter (a 3-D literal "
      "[filters][kh][kw]); or let the layers learn from a random init such as he_normal")),
    (_branches("c{n}: conv 4 3x3 pad 5 relu <- input"),
     ("conv 'c1' and 'c2' (2 layers) pad 5 where their 3x3 kernel reaches 2: 6 rows and 6 "
     "columns of their output read only the padding's zeros (they hold their bias alone) "
     "[padding-beyond-reach]"),
     "pad at most 2 (kernel - 1, times the dilation) on each side; `pad same` keeps the size"),
    (_branches("c{n}: conv 4 3x3 dilation 9 pad 9 relu <- input"),
     ("conv 'c1' and 'c2' (2 layers): only 1 of the 9 taps of their 3x3 kernel meet their 8x8 "
     "input; the other 8 only ever multiply the padding's zeros, so their weights get no "
     "gradient and never change, though their parameters and their init's fan_in count them "
     "[unreached-taps]"),
     ("a 1x1 kernel (the taps that meet the input), with its padding cut to match, computes the "
     "same outputs with 8 fewer weights per input channel")),
])
def test_a_grouped_warning_reads_in_the_plural(write, capsys, text, message, hint):
    """Each lint that warns of layers written one after another alike, said once for them
    (identical-filters: above): what refers back to the layers is plural, "the layer" and
    "the line" too (a hint that names none of them is said of the message's layers, its
    pronouns left to what it names). It read "the layer starts nearly dead", "remove the
    line, feed the layer into a later one" of several."""
    path = write(text)
    assert main(["check", path]) == 0
    lines = capsys.readouterr().err.splitlines()
    said = next(i for i, line in enumerate(lines) if message in line)
    assert lines[said].endswith(f": warning: {message}")
    assert re.search(r"\b(it|its|itself|the layer|the line)\b", message) is None
    assert lines[said + 3] == f"hint: {hint}"
