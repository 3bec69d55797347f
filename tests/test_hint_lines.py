"""The line a hint tells to write in place of another library's call or line is itself a
spec's line: for many combinations of Keras' and PyTorch's keywords, the line the hint
writes (``SpecError.rewrite``) parses and checks where the user's stood."""
import dataclasses
import itertools
import re

import pytest

from cnnspec import parse
from cnnspec.check import check
from cnnspec.errors import SpecError
from cnnspec.init import catalogue

BEFORE = "model m\ninput 1x8x8\n"
AFTER = "\nflatten\ndense 10\n"

# Keras' and PyTorch's keywords of a conv layer, each with the value a model writes. Keras'
# bias_initializer beside use_bias=False is left out: the layer says both that it has no bias
# and how its bias starts, which the hint's line refuses as the spec would.
CONV_KEYWORDS = ["activation=relu", "activation='tanh'", "kernel_initializer=he_normal",
                 "kernel_initializer=glorot_uniform", "bias_initializer=zeros", "use_bias=False",
                 "use_bias=True", "strides=1", "padding=same", "stride=1", "nobias=true"]
# Keywords a call writes that a line cannot: a value given by position already
# (`kernel_size=3` beside the 3), an activation misspelled, answered with the closest.
CALL_KEYWORDS = CONV_KEYWORDS + ["kernel_size=3", "activation=rleu"]
DENSE_KEYWORDS = ["activation=relu", "kernel_initializer=lecun_normal", "use_bias=False",
                  "bias_initializer=ones"]


def _consistent(keywords: tuple[str, ...], call: bool) -> bool:
    """Whether the hint can write ``keywords`` as one layer: a call's hint gives a value given
    twice once (`stride=1, strides=1`), a line's writes each keyword as it stands."""
    names = [keyword.split("=")[0] for keyword in keywords]
    no_bias = "use_bias=False" in keywords or "nobias=true" in keywords
    return len(set(names)) == len(names) and not (no_bias and "bias_initializer" in names) \
        and (call or not ("stride" in names and "strides" in names)) \
        and not ("use_bias" in names and "nobias" in names)


def _combinations(keywords: list[str], most: int, call: bool = True) -> list[tuple[str, ...]]:
    return [combo for size in range(1, most + 1)
            for combo in itertools.combinations(keywords, size) if _consistent(combo, call)]


# the language's own keywords, which a call takes as they are
OWN = {"stride=1", "padding=same"}
CALLS = [f"conv(8, 3, {', '.join(combo)})" for combo in _combinations(CALL_KEYWORDS, 3)
         if not OWN.issuperset(combo)] + \
    [f"c: conv(8, 3, {', '.join(combo)}) <- input" for combo in _combinations(CALL_KEYWORDS, 2)
     if not OWN.issuperset(combo)]
# Keras' kernel size on a line, after the kind's other values (the hint writes it in its
# place, as a size is written here) or beside a kernel given already (given once).
KERNEL_SIZES = ["kernel_size=3", "kernel_size=(3, 3)", "kernel_size=[3, 3]"]
LINES = [f"conv 8 3 {' '.join(combo)}" for combo in _combinations(CONV_KEYWORDS, 3, call=False)
         if "activation='tanh'" not in combo] + \
    [f"conv 8 3 {size}" for size in KERNEL_SIZES] + \
    [f"conv 8 {' '.join(combo)} {size}" for size in KERNEL_SIZES
     for combo in _combinations(CONV_KEYWORDS, 2, call=False)
     if "activation='tanh'" not in combo]
DENSE_CALLS = [f"flatten\ndense(16, {', '.join(combo)})"
               for combo in _combinations(DENSE_KEYWORDS, 4)]
DEFAULTS = ["default kernel_initializer=he_normal",
            "default kernel_initializer='he_normal', bias_initializer=zeros",
            "default weight=he_normal(mode=fan_out)", "default bias_initializer=ones"]


def _spec(layers: str, default: str = "") -> str:
    return BEFORE + (default + "\n" if default else "") + "conv 4 3 pad same\n" + layers + AFTER


def _fixed(text: str) -> tuple[SpecError, str]:
    """The error of ``text`` and the text with the line the hint writes in its line's place."""
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    error = info.value
    assert error.rewrite is not None, (error.message, error.hint)
    lines = text.split("\n")
    lines[error.span.line - 1] = error.rewrite
    return error, "\n".join(lines)


def _checks(text: str) -> None:
    check(parse(text, path="m.cnn"), for_training=False)


@pytest.mark.parametrize("layers", CALLS + LINES + DENSE_CALLS)
def test_the_line_a_foreign_keyword_is_hinted_to_parses_and_checks(layers):
    error, fixed = _fixed(_spec(layers))
    body = error.rewrite.split(" <- ")[0].removeprefix("c: ")
    assert f"write `{body}`" in error.hint
    assert "refused" not in error.hint
    _checks(fixed)


# A value past the kind's values beside the keywords (Keras' Conv2D(8, 3, 1): strides 1): the
# hint names it as the option it most likely is, and keeps every other word of the layer.
EXTRA_CALLS = [f"conv(8, 3, 1, {', '.join(combo)})" for combo in _combinations(CALL_KEYWORDS, 2)] \
    + [f"c: conv(8, 3, 1, {', '.join(combo)}) relu <- input"
       for combo in _combinations(CONV_KEYWORDS, 1) if "activation" not in combo[0]] \
    + [f"conv 8 3 1 {' '.join(combo)}" for combo in _combinations(["nobias", "relu", "pad 1",
                                                                   "weight he_normal"], 3)]


@pytest.mark.parametrize("layers", EXTRA_CALLS)
def test_the_line_a_value_past_the_kinds_values_is_hinted_to_keeps_the_rest_and_checks(layers):
    error, fixed = _fixed(_spec(layers))
    body = error.rewrite.split(" <- ")[0].removeprefix("c: ")
    assert f"`{body}`" in error.hint
    assert "refused" not in error.hint
    kept = [word for word in ("relu", "tanh", "he_normal", "glorot_uniform", "zeros", "pad 1")
            if word in layers]
    kept += ["nobias"] if "nobias" in layers or "use_bias=False" in layers else []
    assert all(word in body for word in kept), (kept, body)
    _checks(fixed)


@pytest.mark.parametrize("default", DEFAULTS)
def test_the_default_a_foreign_initializer_is_hinted_to_parses_and_checks(default):
    error, fixed = _fixed(_spec("", default))
    assert f"write `{error.rewrite}`" in error.hint
    _checks(fixed)


def test_a_hinted_line_the_spec_refuses_says_so():
    """The hint's line checked in the spec's place: an 11x11 kernel on an 8x8 input."""
    with pytest.raises(SpecError) as info:
        parse(_spec("conv(8, 11, activation=relu, kernel_initializer=he_normal)"), path="m.cnn")
    assert info.value.rewrite == "conv(8, 11, weight=he_normal) relu"
    assert "but in this spec that line is refused" in info.value.hint


# PyTorch's init calls as a model's source writes them: names quoted, nn.init's trailing '_',
# its nonlinearity= and a= (each refused in turn where the hint wrote the line once for one).
TORCH_INITS = [
    ("kaiming_normal_(mode='fan_out', nonlinearity='relu')",
     "kaiming_normal(mode=fan_out, gain=relu)", 2),
    ("kaiming_uniform_(a=0.2, mode='fan_in', nonlinearity='leaky_relu')",
     "kaiming_uniform(mode=fan_in, gain=leaky_relu(0.2))", 2),
    ("'xavier_uniform_'", "xavier_uniform", 1),
    ("he_normal(nonlinearity='tanh')", "he_normal(gain=tanh)", 1),
]


# PyTorch's arguments named as the kind's own fields (dilation, groups, ceil_mode,
# count_include_pad, an upsample's mode) or given by position past the padding: the hint's
# line left them out, a layer with other outputs (a dilation of 1, a pool that rounds down).
TORCH_OWN_FIELDS = [
    ("nn.Conv2d(4, 8, 3, dilation=2)", "conv 8 3 dilation 2"),
    ("nn.Conv2d(4, 8, 3, groups=2)", "conv 8 3 groups 2"),
    ("nn.Conv2d(4, 8, 3, 1, 1, 2, 2, False)", "conv 8 3 pad 1 dilation 2 groups 2 nobias"),
    ("nn.Conv2d(4, 8, 3, padding=(1, 2), dilation=(2, 1))", "conv 8 3 pad 1x2 dilation 2x1"),
    ("nn.MaxPool2d(3, ceil_mode=True)", "maxpool 3 ceil_mode true"),
    ("nn.AvgPool2d(3, count_include_pad=False)", "avgpool 3 count_include_pad false"),
    ("nn.Upsample(scale_factor=2, mode='bilinear')", "upsample 2 bilinear"),
    # a switch written as its flag: Keras' trainable=False and PyTorch's requires_grad=False
    ("Conv2D(8, 3, trainable=False)", "conv 8 3 frozen"),
    ("Conv2D(8, 3, use_bias=False, trainable=False)", "conv 8 3 nobias frozen"),
    ("BatchNormalization(trainable=False)", "batchnorm frozen"),
    ("nn.Conv2d(4, 8, 3, requires_grad=False)", "conv 8 3 frozen"),
]


@pytest.mark.parametrize("written, line", TORCH_OWN_FIELDS)
def test_a_pytorch_layer_s_arguments_named_as_cnnspec_s_fields_are_kept(written, line):
    error, fixed = _fixed(_spec(written))
    assert error.rewrite == line and "refused" not in error.hint
    _checks(fixed)


@pytest.mark.parametrize("written, said", [
    ("nn.BatchNorm2d(4, affine=False)", "write `frozen` in place of `affine=False`"),
    ("nn.BatchNorm2d(4, 1e-5, 0.1, False)", "write `frozen` in place of `affine=False`"),
    ("nn.BatchNorm2d(4, track_running_stats=False)",
     "track_running_stats=False makes PyTorch normalise by the batch's statistics"),
    ("BatchNormalization(center=False)", "center=False makes Keras' batch norm learn no shift"),
    ("nn.Conv2d(4, 8, 3, padding_mode='reflect')", "`padding_mode='reflect'` has no counterpart"),
    ("nn.MaxPool2d(3, 2, 1, 2)", "`dilation=2` has no counterpart"),
    ("nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)",
     "interpolates between pixel centres, as align_corners=False"),
    ("nn.AvgPool2d(2, divisor_override=3)", "`divisor_override=3` has no counterpart"),
])
def test_a_layer_argument_no_field_takes_that_changes_the_layer_is_said(written, said):
    """nn.BatchNorm2d(4, affine=False) was told the line `batchnorm`, which learns the scale
    and shift PyTorch's holds at 1 and 0: the hint writes no line and says the argument."""
    with pytest.raises(SpecError) as info:
        parse(_spec(written), path="m.cnn")
    assert info.value.rewrite is None and "the layer is the line" not in info.value.hint
    assert said in info.value.hint


@pytest.mark.parametrize("written, line", [
    ("nn.BatchNorm2d(4, affine=True)", "batchnorm"),
    ("nn.Dropout(0.5, inplace=True)", "dropout 0.5"),
    ("BatchNormalization(center=True, scale=True)", "batchnorm"),
    ("nn.Conv2d(4, 8, 3, padding_mode='zeros')", "conv 8 3"),
    ("nn.MaxPool2d(3, 2, 1, 1)", "maxpool 3 stride 2 pad 1"),
    ("nn.MaxPool2d(3, dilation=[1, 1])", "maxpool 3"),  # a list, as PyTorch takes it
    ("nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)", "upsample 2 bilinear"),
    ("nn.AvgPool2d(2, 2, 0, True, False)", "avgpool 2 ceil_mode true count_include_pad false")])
def test_a_layer_argument_no_field_takes_that_keeps_the_layer_is_left_out(written, line):
    error, fixed = _fixed(_spec(written))
    assert error.rewrite == line
    _checks(fixed)


# PyTorch's arguments given by position, which ours read in another order (kaiming_normal_'s
# a, mode, nonlinearity; ours mode, gain): the hint wrote them in place, kaiming_normal(0.2),
# refused as a mode of 0.2.
TORCH_POSITIONAL = [
    ("kaiming_normal_(m.weight, 0.2)", "kaiming_normal(gain=leaky_relu(0.2))"),
    ("kaiming_uniform_(w, 0, 'fan_out')", "kaiming_uniform(mode=fan_out, gain=leaky_relu(0))"),
    ("kaiming_normal_(w, 0, 'fan_out', 'relu')", "kaiming_normal(mode=fan_out, gain=relu)"),
    ("kaiming_uniform_(w, 0.1, 'fan_in', 'leaky_relu')",
     "kaiming_uniform(mode=fan_in, gain=leaky_relu(0.1))"),
    ("kaiming_normal_(0.2, 'fan_out')", "kaiming_normal(mode=fan_out, gain=leaky_relu(0.2))"),
    ("uniform_(w, -0.1, 0.1)", "uniform(-0.1, 0.1)"),
    ("trunc_normal_(w, 0, 0.02, -0.04, 0.04)", "truncated_normal(0, 0.02, -0.04, 0.04)"),
    ("constant_(w, 0.5)", "constant(0.5)"),
]


@pytest.mark.parametrize("written, init", TORCH_POSITIONAL)
@pytest.mark.parametrize("place", ["c: conv 4 3x3 weight {}", "default weight {}"])
def test_pytorch_s_arguments_by_position_are_hinted_by_their_names(written, init, place):
    text = _spec(place.format(written))
    if "'" in written:  # the quotes' error, whose hint writes the whole line
        error, _ = _fixed(text)
        hinted = error.rewrite
    else:
        error, hinted = _hinted_line(text)
    assert hinted == place.format(init) and "refused" not in error.hint
    _checks(text.replace(text.split("\n")[error.span.line - 1], hinted))


@pytest.mark.parametrize("written, init, mends", TORCH_INITS)
def test_a_pytorch_init_call_is_hinted_to_the_line_that_reads_in_one_error(written, init,
                                                                           mends):
    """The quotes' hint wrote `kaiming_normal_(mode=fan_out, nonlinearity=relu)` and said that
    line was refused for its name; mended for it, it was refused for nonlinearity=: three
    rounds of errors. The hint now writes the line each mend makes, and says why each."""
    error, fixed = _fixed(_spec(f"conv 4 3x3 weight {written} relu"))
    assert error.rewrite == f"conv 4 3x3 weight {init} relu"
    assert f"write `{error.rewrite}` (" in error.hint and "refused" not in error.hint
    assert error.hint.count("PyTorch's") == mends
    _checks(fixed)


def test_a_word_a_mend_makes_read_says_the_whole_line_where_more_mends_follow():
    """An unknown PyTorch name whose line, its name mended, is refused for a parameter: the
    hint says the line that reads; a name that is all the line lacks keeps its own hint."""
    text = _spec("conv 4 3x3 weight kaiming_normal_(mode=fan_out, nonlinearity=relu) relu")
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    line = "conv 4 3x3 weight kaiming_normal(mode=fan_out, gain=relu) relu"
    assert info.value.message == "unknown initializer 'kaiming_normal_'"
    assert info.value.hint.endswith(f"; the line then reads `{line}` (PyTorch's nonlinearity= "
                                    "is gain= here)")
    _checks(text.replace(text.split("\n")[info.value.span.line - 1], line))
    with pytest.raises(SpecError) as info:
        parse(_spec("conv 4 3x3 weight kaiming_normal_ relu"), path="m.cnn")
    assert "the line then reads" not in info.value.hint


def test_a_mended_line_still_refused_says_so():
    """A quoted name inside a call the spec has no word for: the mends stop where none is
    known, and the hint says the line is refused and why."""
    with pytest.raises(SpecError) as info:
        parse(_spec("conv 4 3x3 weight he_normal(gain=get_gain('relu')) relu"), path="m.cnn")
    assert "but in this spec that line is refused: unknown nonlinearity 'get_gain'" \
        in info.value.hint


TORCH_OPTIMIZER = "  optimizer torch.optim.SGD(model.parameters(), lr=0.1)\n  epochs 2\n"
# what the line reads as once mended, checked in the spec around it
TORCH_OPTIMIZER_READS = ("; the line then reads `optimizer sgd` (`model.parameters()` left out; "
                         "SGD is sgd here; `lr 0.1` on a line of its own)")


@pytest.mark.parametrize("after", [
    "",  # the train block never closed
    "  lr 0.1 0.2 )\n",  # nor then, and a later line's own syntax error
    "}\n",  # closed: what the two above must say
])
def test_a_line_mended_inside_a_block_left_open_is_checked_in_it_closed(after):
    """A PyTorch line inside a train block whose '}' is missing was told it then reads
    `optimizer SGD(lr=0.1)`, a line the checker refuses twice more: the try did not parse,
    its block never closed, and that was taken for the line being fine. The try is cut after
    the line and its block closed, and checked so."""
    text = _spec("conv 4 3x3 relu") + "train {\n" + TORCH_OPTIMIZER + after
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    assert info.value.hint.endswith(TORCH_OPTIMIZER_READS)


def test_a_line_mended_in_a_spec_that_does_not_read_says_it_is_unchecked():
    """Where the spec around the mended line does not read however it is cut and closed (a
    line before it broken: parse stops at the first mistake, so rewrite_checked is given one
    here), the line is not said to read: the hint says it could not be checked, and why."""
    from cnnspec.check.load import rewrite_checked

    text = _spec("conv 4 3x3 relu") + "train {\n" + TORCH_OPTIMIZER + "}\n"
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    lines = text.split("\n")
    lines[3] = "conv 4 (3, 3) relu"
    hint = rewrite_checked(dataclasses.replace(info.value, hint=MEND_HINT), "\n".join(lines),
                           "m.cnn").hint
    assert hint == (f"{MEND_HINT}; the spec does not read for another mistake (line 4: a size "
                    "is written with 'x', not as a tuple), so that line could not be checked "
                    "against the rest of it")


def test_a_line_mended_in_a_spec_whose_other_lines_are_a_pasted_model_says_it_is_unchecked():
    """Another line's mistakes that the grammar reports together (a PyTorch model pasted
    whole, a SpecErrors) escaped the try of the mended line as they were, not as its hint."""
    from cnnspec.check.load import rewrite_checked

    text = _spec("conv 4 3x3 relu") + "train {\n" + TORCH_OPTIMIZER + "}\n"
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    lines = text.split("\n")
    lines[3:4] = ["nn.Conv2d(4, 4, 3)", "nn.ReLU()"]
    hint = rewrite_checked(dataclasses.replace(info.value, hint=MEND_HINT), "\n".join(lines),
                           "m.cnn").hint
    assert hint.startswith(f"{MEND_HINT}; the spec does not read for another mistake (line 4: "
                           "nn.Conv2d(...) is a layer as PyTorch writes it")
    assert hint.endswith("so that line could not be checked against the rest of it")


MEND_HINT = "write `SGD` in place of `torch.optim.SGD`"


@pytest.mark.parametrize("gain, written", [("calculate_gain('relu')", "relu"),
                                           ("calculate_gain('leaky_relu', 0.2)",
                                            "leaky_relu(0.2)")])
def test_pytorch_s_calculate_gain_is_mended_to_the_gain_it_names(gain, written):
    """PyTorch's calculate_gain(nonlinearity[, param]) is the gain itself here: the line the
    quotes' hint writes, refused for it (an unknown nonlinearity), is mended and reads."""
    error, fixed = _fixed(_spec(f"conv 4 3x3 weight he_normal(gain={gain}) relu"))
    assert error.rewrite == f"conv 4 3x3 weight he_normal(gain={written}) relu"
    assert "calculate_gain(nonlinearity) is the gain itself here" in error.hint
    assert "refused" not in error.hint
    _checks(fixed)


def test_a_mended_line_still_refused_is_the_line_the_hint_writes():
    """A number where PyTorch's tensor argument goes, and mode given by position and by
    keyword (PyTorch refuses it too): the quotes' line, its name mended, is refused (no mend
    writes the gain). The hint wrote the line before its name's mend
    (`kaiming_normal_(0.2, ...)`) and the refusal of the line after it: the line written must
    be the one whose refusal the hint says."""
    with pytest.raises(SpecError) as info:
        parse(_spec("conv 4 3x3 weight kaiming_normal_(0.2, 'fan_out', mode='fan_in', "
                    "nonlinearity='relu')"), path="m.cnn")
    line = "conv 4 3x3 weight kaiming_normal(0.2, fan_out, mode=fan_in, nonlinearity=relu)"
    assert info.value.rewrite == line
    assert f"write `{line}` (PyTorch's nn.init functions end in '_'" in info.value.hint
    with pytest.raises(SpecError) as refusal:
        _checks(_spec(line))
    assert f"but in this spec that line is refused: {refusal.value.message}" in info.value.hint


def test_a_mend_made_twice_for_one_reason_says_it_once():
    """The weight's and the bias's PyTorch names both lose their '_': one reason, said once."""
    error, fixed = _fixed(_spec("conv 4 3x3 weight kaiming_normal_(mode='fan_out', "
                                "nonlinearity='relu') bias zeros_ relu"))
    assert error.rewrite == "conv 4 3x3 weight kaiming_normal(mode=fan_out, gain=relu) " \
        "bias zeros relu"
    assert error.hint.count("end in '_'") == 1
    _checks(fixed)


def test_a_hinted_line_that_leaves_a_bracket_open_says_it_is_refused():
    """The line the quotes' hint writes keeps the user's unclosed '(': the parser refuses it
    on the next line (a call may span lines), and the hint said nothing of it, as if the line
    read."""
    with pytest.raises(SpecError) as info:
        parse(_spec("conv 4 3x3 weight kaiming_normal_(mode='fan_out', nonlinearity='relu'"),
              path="m.cnn")
    assert info.value.rewrite == "conv 4 3x3 weight kaiming_normal_(mode=fan_out, " \
        "nonlinearity=relu"
    assert "but in this spec that line is refused: unexpected 'flatten'" in info.value.hint


def test_a_later_line_s_own_mistake_is_no_refusal_of_the_hinted_line():
    """A syntax error of another line after the hinted one is that line's, not the hint's."""
    text = _spec("conv 4 3x3 weight kaiming_normal_(mode='fan_out', nonlinearity='relu')")
    with pytest.raises(SpecError) as info:
        parse(text.replace("\ndense 10\n", "\ndense 10 )\n"), path="m.cnn")
    assert info.value.rewrite.startswith("conv 4 3x3 weight kaiming_normal")
    assert "refused" not in info.value.hint


def test_a_later_line_s_own_mistake_leaves_the_hinted_line_checked():
    """The spec with the hinted line did not parse for a later line's mistake, so the checker
    never saw the hinted line: its mends stopped at the first (`kaiming_normal(nonlinearity=
    "relu")`, refused in turn), and a line refused said nothing of it. The hinted line is
    checked in the spec's lines up to it."""
    written = 'conv 4 3x3 weight nn.init.kaiming_normal_(m.weight, nonlinearity="relu") relu'
    text = _spec(written).replace("\ndense 10\n", "\ndense 10 )\n")
    _, hinted = _hinted_line(text)
    assert hinted == "conv 4 3x3 weight kaiming_normal(gain=relu) relu"
    with pytest.raises(SpecError) as info:
        parse(_spec("c: conv 4 3x3 weight kaiming_normal_(nonlinearity='relu', gain=2) relu")
              .replace("\ndense 10\n", "\ndense 10 )\n"), path="m.cnn")
    assert "but in this spec that line is refused: initializer kaiming_normal has no " \
        "parameter 'nonlinearity'" in info.value.hint


@pytest.mark.parametrize("written, first", [
    ('kaiming_normal_(mode="fan_out", nonlinearity="relu")', "unknown initializer"),
    ('kaiming_normal(mode="fan_out", nonlinearity="relu")', "initializer kaiming_normal has"),
])
def test_names_in_double_quotes_are_mended_on_the_way_to_the_line_that_reads(written, first):
    """PyTorch's names in double quotes are strings here: the hint said to write
    `kaiming_normal(mode="fan_out", gain="relu")`, refused for the string where a mode goes,
    then for the one where a gain goes. Each string naming what goes there is mended bare."""
    text = _spec(f"conv 4 3x3 weight {written} relu")
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    line = "conv 4 3x3 weight kaiming_normal(mode=fan_out, gain=relu) relu"
    assert info.value.message.startswith(first)
    assert f"the line then reads `{line}` (" in info.value.hint
    assert info.value.hint.endswith("a name is written without quotes)")
    _checks(text.replace(text.split("\n")[info.value.span.line - 1], line))


@pytest.mark.parametrize("written, line", [
    ("nn.init.kaiming_normal_(mode='fan_out', nonlinearity='relu')",
     "kaiming_normal(mode=fan_out, gain=relu)"),
    ("nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')",
     "kaiming_normal(mode=fan_out, gain=relu)"),
    ("kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')",
     "kaiming_normal(mode=fan_out, gain=relu)"),
    ("nn.init.normal_(m.weight, 0, 0.01)", "normal(0, 0.01)"),
    ("kaiming_normal_(m.weight)", "kaiming_normal"),
    ("xavier_uniform_(gain=nn.init.calculate_gain('tanh'))", "xavier_uniform(gain=tanh)"),
    # the tensor given after the other arguments, as the last or among them
    ("kaiming_normal_(mode=fan_out, m.weight)", "kaiming_normal(mode=fan_out)"),
    ("normal_(0, m.weight, 0.01)", "normal(0, 0.01)"),
])
def test_a_pytorch_init_with_its_module_path_or_tensor_is_hinted_to_the_line_that_reads(
        written, line):
    """PyTorch's init as its source writes it, `nn.init.kaiming_normal_(m.weight, ...)`: the
    module path's hint wrote `kaiming_normal(m.weight, mode='fan_out', ...)`, refused for the
    tensor (told it was a file's path), its quotes, then its nonlinearity=: four rounds. The
    path and the tensor left out are mends, and the hint says the line they make."""
    text = _spec(f"conv 4 3x3 weight {written} relu")
    error, hinted = _hinted_line(text)
    assert error.message == "unexpected character '.'"
    assert hinted == f"conv 4 3x3 weight {line} relu"
    _checks(text.replace(text.split("\n")[error.span.line - 1], hinted))


def _hinted_line(text: str) -> tuple[SpecError, str]:
    """The error of ``text`` and the line its hint makes of the user's: the line it says the
    line then reads, where more mends follow its own, else the user's line with its mend."""
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    error = info.value
    then = re.search(r"; the line then reads `([^`]*)` \(", error.hint)
    if then:
        return error, then[1]
    line, mend = text.split("\n")[error.span.line - 1], error.mend
    assert mend is not None and mend.span.line == error.span.line, error.hint
    assert f"`{mend.text}`" in error.hint  # the hint writes what the mend does
    return error, (line[:mend.span.column - 1] + mend.text + line[mend.span.end_column - 1:])


# Each of PyTorch's nn.init functions, with a value for its argument that has no default.
TORCH_REQUIRED = {"constant_": "0.5"}


@pytest.mark.parametrize("form", ["nn.init.{name}(m.weight{more})", "{name}(w{more})",
                                  "torch.nn.init.{name}(self.conv1.weight{more})"])
@pytest.mark.parametrize("name", catalogue.TORCH_INITS)
def test_every_pytorch_init_is_hinted_to_a_line_that_checks(name, form):
    """Every function of the table, as a model's source calls it: the line the hint writes
    checks clean (normal_'s std, which has no default here, was left out of it)."""
    more = f", {TORCH_REQUIRED[name]}" if name in TORCH_REQUIRED else ""
    text = _spec(f"c: conv 4 3x3 weight {form.format(name=name, more=more)}")
    error, hinted = _hinted_line(text)
    assert hinted.startswith(f"c: conv 4 3x3 weight {catalogue.TORCH_INITS[name][0]}")
    _checks(text.replace(text.split("\n")[error.span.line - 1], hinted))


@pytest.mark.parametrize("form", ["nn.init.{name}(m.weight, 0.9)", "{name}(w, 0.9)", "{name}"])
@pytest.mark.parametrize("name", catalogue.TORCH_ELSEWHERE)
def test_a_pytorch_init_no_init_here_draws_is_told_so_not_mended(name, form):
    """PyTorch's sparse_ zeroes a fraction of each column: the hint wrote sparse(w, 0.9),
    whose name here is another draw (a count of weights into each unit)."""
    with pytest.raises(SpecError) as info:
        parse(_spec(f"c: conv 4 3x3 weight {form.format(name=name)}"), path="m.cnn")
    assert info.value.hint == catalogue.TORCH_ELSEWHERE[name]
    assert info.value.mend is None and info.value.rewrite is None


@pytest.mark.parametrize("written, init", [
    ("nn.init.normal_(w, mean=0.1)", {"name": "normal", "mean": 0.1, "std": 1.0}),
    ("normal_(w, 0.1)", {"name": "normal", "mean": 0.1, "std": 1.0}),
    ("nn.init.normal_", {"name": "normal", "mean": 0.0, "std": 1.0}),
    ("nn.init.uniform_(m.weight, b=0.5)", {"name": "uniform", "low": 0.0, "high": 0.5}),
    ("uniform_(w)", {"name": "uniform", "low": 0.0, "high": 1.0}),
    # PyTorch cuts at the values -2 and 2, not at mean -+ 2 std as truncated_normal does
    ("nn.init.trunc_normal_(w, std=0.02)",
     {"name": "truncated_normal", "mean": 0.0, "std": 0.02, "low": -2.0, "high": 2.0}),
    # defaults written otherwise here are left to ours: kaiming's leaky_relu(0) is relu's gain
    ("kaiming_normal_(w)", {"name": "he_normal", "mode": "fan_in",
                            "gain": {"nonlinearity": "relu"}}),
    ("nn.init.xavier_uniform_(w)", {"name": "glorot_uniform",
                                    "gain": {"nonlinearity": "linear"}}),
])
def test_a_pytorch_init_is_hinted_to_what_pytorch_draws(written, init):
    """PyTorch's defaults of the arguments left out, where an init here has none or another:
    `normal(mean=0.1)` was hinted, refused in turn for its std."""
    text = _spec(f"c: conv 4 3x3 weight {written}")
    error, hinted = _hinted_line(text)
    fixed = text.replace(text.split("\n")[error.span.line - 1], hinted)
    layer = next(layer for layer in parse(fixed, path="m.cnn").ir["layers"]
                 if layer["name"] == "c")
    assert layer["weight_init"] == init


@pytest.mark.parametrize("written, line, own_lines", [
    ("optimizer torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)",
     "optimizer sgd(momentum=0.9)", ["lr 0.1"]),
    ("optimizer optim.Adam(model.parameters(), lr=1e-3)", "optimizer adam", ["lr 1e-3"]),
    ("optimizer keras.optimizers.Adam(learning_rate=1e-3)", "optimizer adam", ["lr 1e-3"]),
    ("optimizer SGD(lr=0.1, weight_decay=5e-4, momentum=0.9)", "optimizer sgd(momentum=0.9)",
     ["lr 0.1", "weight_decay 5e-4"]),
    ("optimizer SGD(params, lr=0.1)", "optimizer sgd", ["lr 0.1"]),
    ("schedule torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)",
     "schedule step(step_size=3, gamma=0.1)", []),
    ("loss nn.CrossEntropyLoss()", "loss cross_entropy", []),
    # Python's True: the mends stopped at it, and the hint wrote the module path's mend alone
    ("optimizer torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)",
     "optimizer sgd(momentum=0.9, nesterov=true)", ["lr 0.1"]),
    ("optimizer torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)",
     "optimizer adam(amsgrad=true)", ["lr 1e-3"]),
])
def test_a_pytorch_or_keras_optimizer_is_hinted_to_the_lines_that_read(written, line,
                                                                       own_lines):
    """PyTorch's `torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)` was told to write
    `optimizer torch.optim.SGD(model.parameters()` and `lr 0.1, momentum=0.9)` (its nested
    parentheses read as two settings), and its module path's hint wrote `SGD(lr=0.1, ...)`,
    refused in turn for its case, then for its lr: three rounds. The name in other case or as
    another library names it, the object PyTorch passes first and the settings given as
    arguments are mends, and the hint says the line they make and the lines to add."""
    text = BEFORE + "conv 4 3 relu" + AFTER + f"train {{\n  {written}\n}}\n"
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    assert f"the line then reads `{line}` (" in info.value.hint, info.value.hint
    for own in own_lines:
        assert f"`{own}`" in info.value.hint
    _checks(text.replace(written, "\n  ".join([line, *own_lines])))


@pytest.mark.parametrize("line, said", [
    ("conv 8 3 stride=2", "'=' is only used inside parentheses"),
    ("input_shape=(28, 28, 1)", "Keras' input_shape is the spec's input line"),
])
def test_a_hinted_line_above_several_other_mistakes_is_still_told(line, said):
    """Trying the hint's line, the spec with that line blank was parsed to see whether the
    mistakes below it follow from it; where it held two (unknown kinds on two lines), the
    resolver's list of them escaped in place of the user's error: `check` said those lines,
    and for `input_shape=(28, 28, 1)` "the spec has no input line", never the line itself."""
    text = f"model m\n{line}\nfoo 3\nbar 4\n"
    if not line.startswith("input"):
        text = text.replace("model m\n", "model m\ninput 1x28x28\n")
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    assert info.value.message == said


def test_a_call_running_on_into_the_next_line_is_not_mended_into_one():
    """The nonlinearity='s mend is the whole call, which runs on into the next line: written
    by its columns into the first line, it made a line of the call's two halves (the second
    still standing below it)."""
    text = BEFORE + ('c: conv 4 3x3 weight kaiming_normal_(\n  mode="fan_out", '
                     'nonlinearity="relu")\n') + AFTER
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    assert info.value.message == "unknown initializer 'kaiming_normal_'"
    assert "the line then reads" not in info.value.hint


@pytest.mark.parametrize("written", ['kaiming_uniform(a=0.2, nonlinearity="leaky_relu")',
                                     ('kaiming_uniform_(m.weight, a=0.2, mode="fan_in", '
                                      'nonlinearity="leaky_relu")')])
def test_a_quoted_leaky_relu_keeps_the_slope_kaiming_s_a_gives(written):
    """nonlinearity="leaky_relu" in double quotes was not taken for leaky_relu: the hint wrote
    gain="leaky_relu", then mended bare, the slope 0.2 lost for leaky_relu's 0.01."""
    text = _spec(f"conv 4 3x3 weight {written} relu")
    with pytest.raises(SpecError) as info:
        parse(text, path="m.cnn")
    assert "gain=leaky_relu(0.2)" in info.value.hint
    assert "gain=leaky_relu)" not in info.value.hint and 'gain="' not in info.value.hint
