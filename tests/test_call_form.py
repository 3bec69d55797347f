"""A layer written as a call (``conv(16, 3x3, stride=2)``), as Keras and PyTorch write it:
the same layer as its line, its mistakes located and answered in the form the user wrote."""
import re
from pathlib import Path

import pytest

import cnnspec
from cnnspec import parse
from cnnspec.cli import main
from cnnspec.errors import SpecError, SpecErrors
from cnnspec.lang import format_source

LANGUAGE_DOC = Path(__file__).resolve().parent.parent / "docs" / "language.md"


def ir_of(layers: str) -> dict:
    return parse("input 1x8x8\n" + layers + "\n").ir


def error_of(layers: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse("input 1x8x8\n" + layers + "\n", path="bad.cnn")
    return info.value


@pytest.mark.parametrize("call, line", [
    ("conv2d(16, 3)", "conv 16 3"),
    ("conv2d(16, 3) relu", "conv 16 3 relu"),
    ("c: conv(16, 3x3, stride=2, pad=same) bn relu", "c: conv 16 3x3 stride 2 pad same bn relu"),
    ("conv(16, 3, padding=valid, nobias)", "conv 16 3 pad valid nobias"),
    ("conv(kernel=3, filters=4)", "conv 4 3"),
    ("conv(16, kernel=3, dilation=2)", "conv 16 3 dilation 2"),
    ("maxpool(2, stride=1)", "maxpool 2 stride 1"),
    ("avgpool(size=2)", "avgpool 2"),
    ("conv_transpose(4, 3, stride=2)", "conv_transpose 4 3 stride 2"),
    ("upsample(2, mode=bilinear)", "upsample 2 bilinear"),
    ("dropout(p=0.5)", "dropout 0.5"),
    ("leaky_relu(slope=0.2)", "leaky_relu 0.2"),
    ("batchnorm(eps=0.001, momentum=0.2)", "batchnorm eps 0.001 momentum 0.2"),
    ("flatten\ndense(units=10)", "flatten\ndense 10"),
    ("flatten\ndense(10, relu)", "flatten\ndense 10 relu"),
])
def test_a_call_is_the_layer_its_line_writes(call, line):
    assert ir_of(call) == ir_of(line)


# (layers, message, (line, column, end column), hint): every way a call-form head is refused
TWO_PAST_CONV = ("the number 2 is out of place in conv layer 'conv1': conv takes 2 values by "
                 "position, the number of filters and the kernel size")
ERRORS = [
    # a value past the kind's values: the option it most likely is, read off the registry
    ("conv(16,3,2)",
     ("the number 2 is out of place in conv layer 'conv1': conv takes 2 values by position, "
      "the number of filters and the kernel size"), (2, 11, 12),
     ("options are written by name: `conv(16, 3, stride=2)` if 2 is the stride; on a line, "
      "`conv 16 3 stride 2`")),
    ("conv(16, 3, 2, 1) relu",
     TWO_PAST_CONV, (2, 13, 14),
     ("options are written by name: `conv(16, 3, stride=2, pad=1) relu` if 2 is the stride "
      "and 1 is the padding; on a line, `conv 16 3 stride 2 pad 1 relu`")),
    # the flags, the activation and the words after the call kept
    ("conv(16, 3, 2, nobias) relu",
     TWO_PAST_CONV, (2, 13, 14),
     ("options are written by name: `conv(16, 3, nobias, stride=2) relu` if 2 is the stride; "
      "on a line, `conv 16 3 stride 2 nobias relu`")),
    ("conv(16, 3, 2, relu)",
     TWO_PAST_CONV, (2, 13, 14),
     ("options are written by name: `conv(16, 3, relu, stride=2)` if 2 is the stride; "
      "on a line, `conv 16 3 stride 2 relu`")),
    ("conv(16, 3, 2, activation=relu)",
     "'activation' is not a keyword of conv: an activation follows the call, by its name alone",
     (2, 16, 26), ("write `conv(16, 3, stride=2) relu`; on a line, `conv 16 3 stride 2 relu`; "
                   "that is if 2 is the stride: options are written by name")),
    ("conv(16, 3, same)",
     ("'same' is out of place in conv layer 'conv1': conv takes 2 values by position, the "
      "number of filters and the kernel size"), (2, 13, 17),
     ("options are written by name: `conv(16, 3, pad=same)` if same is the padding; on a "
      "line, `conv 16 3 pad same`")),
    # the option the call names already is not offered again
    ("conv(16, 3, 2, stride=2)",
     TWO_PAST_CONV, (2, 13, 14),
     ("options are written by name: `conv(16, 3, stride=2, pad=2)` if 2 is the padding; on a "
      "line, `conv 16 3 stride 2 pad 2`")),
    ("conv_transpose(8, 3, 2)",
     ("the number 2 is out of place in conv_transpose layer 'conv_transpose1': conv_transpose "
      "takes 2 values by position, the number of filters and the kernel size"), (2, 22, 23),
     ("options are written by name: `conv_transpose(8, 3, stride=2)` if 2 is the stride; on a "
      "line, `conv_transpose 8 3 stride 2`")),
    ("p: maxpool(2, 1) <- input",
     ("the number 1 is out of place in maxpool layer 'p': maxpool takes 1 value by position, "
      "the window size"), (2, 15, 16),
     ("options are written by name: `maxpool(2, stride=1)` if 1 is the stride; on a line, "
      "`maxpool 2 stride 1`")),
    ("batchnorm(0.001)",
     ("the number 0.001 is out of place in batchnorm layer 'batchnorm1': batchnorm takes no "
      "values by position"), (2, 11, 16),
     ("options are written by name: `batchnorm(eps=0.001)` if 0.001 is the eps; on a line, "
      "`batchnorm eps 0.001`")),
    # PyTorch's signature, whose first argument a spec infers from the layer's input
    ("flatten\ndense(10, 5)",
     ("the number 5 is out of place in dense layer 'dense1': dense takes 1 value by position, "
      "the number of units"), (3, 11, 12),
     ("nn.Linear(in_features, out_features) gives in_features, which a spec infers from the "
      "layer's input: write `dense(5)` (on a line, `dense 5`)")),
    ("conv(1, 16, 3)",
     ("the number 3 is out of place in conv layer 'conv1': conv takes 2 values by position, "
      "the number of filters and the kernel size"), (2, 13, 14),
     ("nn.Conv2d(in_channels, out_channels, kernel_size) gives in_channels, which a spec "
      "infers from the layer's input: write `conv(16, 3)` (on a line, `conv 16 3`); or, by "
      "name, `conv(1, 16, stride=3)` if 3 is the stride; on a line, `conv 1 16 stride 3`")),
    ("batchnorm(16)",
     ("the number 16 is out of place in batchnorm layer 'batchnorm1': batchnorm takes no "
      "values by position"), (2, 11, 13),
     ("nn.BatchNorm2d(num_features) gives num_features, which a spec infers from the layer's "
      "input: write `batchnorm`")),
    ("groupnorm(4, 16, eps=1e-3)",
     ("the number 16 is out of place in groupnorm layer 'groupnorm1': groupnorm takes 1 value "
      "by position, the groups"), (2, 14, 16),
     ("nn.GroupNorm(num_groups, num_channels) gives num_channels, which a spec infers from the "
      "layer's input: write `groupnorm(4, eps=1e-3)` (on a line, `groupnorm 4 eps 1e-3`)")),
    # no option takes it, and no other library's signature reads it: the usage
    ("flatten\ndense(10, 0.5)",
     ("the number 0.5 is out of place in dense layer 'dense1': dense takes 1 value by "
      "position, the number of units"), (3, 11, 14), "usage: dense UNITS "),
    ("leaky_relu(0.2, 3)",
     ("the number 3 is out of place in leaky_relu layer 'leaky_relu1': leaky_relu takes 1 "
      "value by position, the slope"), (2, 17, 18), "usage: leaky_relu [SLOPE]"),
    # another library's keyword
    ("conv(16, 3, strides=2)", "'strides' is not a keyword of conv: it is written `stride`",
     (2, 13, 20), "write `conv(16, 3, stride=2)`; on a line, `conv 16 3 stride 2`"),
    ("conv(16, kernel_size=3, strides=2)",
     "'kernel_size' is not a keyword of conv: it is written `kernel`", (2, 10, 21),
     "write `conv(16, kernel=3, stride=2)`; on a line, `conv 16 3 stride 2`"),
    ("dropout(rate=0.5)", "'rate' is not a keyword of dropout: it is written `p`", (2, 9, 13),
     "write `dropout(p=0.5)`; on a line, `dropout 0.5`"),
    ('conv(16, 3, padding="same")',
     "the padding of 'conv1' is a word, written without quotes", (2, 21, 27),
     'write same, not "same": a spec quotes file paths only'),
    ("conv(16, 3, nobias=true)", "'nobias' takes no value: it is written alone", (2, 13, 19),
     "write `conv(16, 3, nobias)`; on a line, `conv 16 3 nobias`"),
    # every foreign keyword of the call translated at once: the line the hint writes is no
    # error again
    ("conv(32, 3, activation=relu, kernel_initializer=he_normal)",
     "'activation' is not a keyword of conv: an activation follows the call, by its name alone",
     (2, 13, 23),
     "write `conv(32, 3, weight=he_normal) relu`; on a line, `conv 32 3 weight he_normal relu`"),
    ("bn: batchnorm(trainable=False) relu",
     "'trainable' is not a keyword of batchnorm: `frozen` says trainable=False", (2, 15, 24),
     "write `batchnorm(frozen) relu`; on a line, `batchnorm frozen relu`"),
    ("conv(16, 3, requires_grad=False) relu",
     "'requires_grad' is not a keyword of conv: `frozen` says requires_grad=False", (2, 13, 26),
     "write `conv(16, 3, frozen) relu`; on a line, `conv 16 3 frozen relu`"),
    ("conv(16, 3, use_bias=False, strides=2)",
     "'use_bias' is not a keyword of conv: a layer has a bias unless it says `nobias`",
     (2, 13, 21), "write `conv(16, 3, nobias, stride=2)`; on a line, `conv 16 3 nobias stride 2`"),
    ("conv(16, 3, use_bias=True, bias_initializer=zeros) relu",
     "'use_bias' is not a keyword of conv: a layer has a bias unless it says `nobias`",
     (2, 13, 21), "write `conv(16, 3, bias=zeros) relu`; on a line, `conv 16 3 bias zeros relu`"),
    ("conv(16, 3, kernel_initializer=he_normal)",
     "'kernel_initializer' is not a keyword of conv: an initializer is written `weight=INIT`",
     (2, 13, 31), "write `conv(16, 3, weight=he_normal)`; on a line, `conv 16 3 weight he_normal`"),
    # Keras' activation keyword: the activation after the call
    ("conv(16, 3, stride=2, activation=\"relu\")",
     "'activation' is not a keyword of conv: an activation follows the call, by its name alone",
     (2, 23, 33), "write `conv(16, 3, stride=2) relu`; on a line, `conv 16 3 stride 2 relu`"),
    ("conv(16, 3, act=leaky_relu(0.2))",
     "'act' is not a keyword of conv: an activation follows the call, by its name alone",
     (2, 13, 16),
     "write `conv(16, 3) leaky_relu(0.2)`; on a line, `conv 16 3 leaky_relu(0.2)`"),
    # an activation keyword naming no activation: the closest one after the call
    ("conv(16, 3, activation=rleu)",
     "'activation' is not a keyword of conv: an activation follows the call, by its name alone",
     (2, 13, 23),
     ("write `conv(16, 3) relu`; on a line, `conv 16 3 relu`; rleu is no activation: did you "
     "mean relu?")),
    ("conv(16, 3, act=leaky_rleu(0.2))",
     "'act' is not a keyword of conv: an activation follows the call, by its name alone",
     (2, 13, 16),
     ("write `conv(16, 3) leaky_relu(0.2)`; on a line, `conv 16 3 leaky_relu(0.2)`; leaky_rleu "
     "is no activation: did you mean leaky_relu?")),
    ("conv(16, 3, activation=foo)",
     "'activation' is not a keyword of conv: an activation follows the call, by its name alone",
     (2, 13, 23), "write `conv(16, 3) ACTIVATION`; foo is no activation: valid activations: "),
    ("conv(16, 3, foo=1)", "unknown option 'foo' for conv layer 'conv1'", (2, 13, 16), None),
    # a value given twice, by position or by an earlier keyword, another library's name read
    # as the one it stands for: the call that gives it once, keeping the first
    ("conv(16, 3, filters=8)",
     "number of filters of 'conv1' is given twice, by position and as filters=", (2, 13, 20),
     ("first given at column 6; give each value once: write `conv(16, 3)`; on a line, "
     "`conv 16 3`")),
    ("dropout(0.5, p=0.3)",
     "dropout probability of 'dropout1' is given twice, by position and as p=", (2, 14, 15),
     ("first given at column 9; give each value once: write `dropout(0.5)`; on a line, "
     "`dropout 0.5`")),
    ("conv(16, 3, kernel_size=3)",
     "kernel size of 'conv1' is given twice, by position and as kernel_size=", (2, 13, 24),
     ("first given at column 10; give each value once: write `conv(16, 3)`; on a line, "
     "`conv 16 3`")),
    ("dropout(0.5, rate=0.3)",
     "dropout probability of 'dropout1' is given twice, by position and as rate=", (2, 14, 18),
     ("first given at column 9; give each value once: write `dropout(0.5)`; on a line, "
     "`dropout 0.5`")),
    ("conv(16, 3, stride=2, strides=2)",
     "stride of 'conv1' is given twice, as stride= and as strides=", (2, 23, 30),
     ("first given at column 13; give each value once: write `conv(16, 3, stride=2)`; on a line, "
     "`conv 16 3 stride 2`")),
    ("conv(16, kernel=3, kernel_size=5) relu",
     "kernel size of 'conv1' is given twice, as kernel= and as kernel_size=", (2, 20, 31),
     ("first given at column 10; give each value once: write `conv(16, kernel=3) relu`; on a "
     "line, `conv 16 3 relu`")),
    ("conv(16, 3, weight=he_normal, kernel_initializer=zeros)",
     "the weight initializer of 'conv1' is given twice, as weight= and as kernel_initializer=",
     (2, 31, 49),
     "first given at column 13; give each value once: write `conv(16, 3, weight=he_normal)`"),
    # the first mistake in the order written is answered; its hint leaves a repeat out, saying so
    ("conv(16, kernel_size=3, kernel=5) relu",
     "'kernel_size' is not a keyword of conv: it is written `kernel`", (2, 10, 21),
     ("write `conv(16, kernel=3) relu`; on a line, `conv 16 3 relu`; kernel=5 is left out: it "
     "gives the kernel size again")),
    ("conv(16, 3, stride=2, stride=1)", ("stride of 'conv1' is given twice, as stride= and as "
     "stride="), (2, 23, 29), ("first given at column 13; give each value once: write "
     "`conv(16, 3, stride=2)`")),
    ("flatten\ndense(units=10, units=5)",
     "number of units of 'dense1' is given twice, as units= and as units=", (3, 17, 22),
     ("first given at column 7; give each value once: write `dense(units=10)`; on a line, "
     "`dense 10`")),
    ("conv(16, 3, pad=same, padding=valid)",
     "padding of 'conv1' is given twice, as pad= and as padding=", (2, 23, 30),
     "first given at column 13; give each value once: write `conv(16, 3, pad=same)`"),
    # a value by position after a keyword, which Python refuses: named as the value it gives
    ("c: conv(filters=16, 3, nobias) relu <- input",
     ("the number 3 follows the keyword filters= in conv layer 'c': a value by position comes "
      "before the keywords, as in Python"), (2, 21, 22),
     ("name each value after a keyword: write `conv(nobias, filters=16, kernel=3) relu`; on a "
     "line, `conv 16 3 nobias relu`")),
    ("dropout(rate=0.5, 0.3)",
     ("the number 0.3 follows the keyword rate= in dropout layer 'dropout1': a value by "
      "position comes before the keywords, as in Python"), (2, 19, 22), "usage: dropout P"),
    # a value by name read as it is by position
    ("conv(16, kernel=0)", "the kernel size of 'conv1' must be at least 1, not 0", (2, 17, 18),
     None),
    ("conv(kernel=3)", "conv layer 'conv1' needs a number of filters", (2, 1, 15),
     "usage: conv FILTERS KERNEL"),
]


@pytest.mark.parametrize("layers, message, place, hint", ERRORS, ids=[c[0] for c in ERRORS])
def test_a_call_forms_mistake_is_located_and_answered_in_the_call_form(layers, message, place,
                                                                        hint):
    err = error_of(layers)
    assert err.message == message
    assert (err.span.line, err.span.column, err.span.end_column) == place
    assert err.hint and (hint is None or err.hint.startswith(hint)), err.hint


# (a call refused, the line its hint writes in its place, the same layer as a line): each
# value given once, nothing the user wrote dropped unsaid
REWRITES = [
    ("conv(16, 3, kernel_size=3)", "conv(16, 3)", "conv 16 3"),
    ("dropout(0.5, rate=0.3)", "dropout(0.5)", "dropout 0.5"),
    ("conv(16, 3, stride=2, strides=2)", "conv(16, 3, stride=2)", "conv 16 3 stride 2"),
    ("conv(16, 3, filters=16, strides=2)", "conv(16, 3, stride=2)", "conv 16 3 stride 2"),
    ("c: conv(filters=16, 3, nobias) relu <- input",
     "c: conv(nobias, filters=16, kernel=3) relu <- input", "c: conv 16 3 nobias relu <- input"),
    ("conv(16, 3, activation=rleu)", "conv(16, 3) relu", "conv 16 3 relu"),
    ("conv(16, 3, activation='tanh', kernel_size=3)", "conv(16, 3) tanh", "conv 16 3 tanh"),
]


@pytest.mark.parametrize("call, rewrite, line", REWRITES, ids=[c[0] for c in REWRITES])
def test_the_call_a_hint_writes_is_the_layer_once(call, rewrite, line):
    err = error_of(call)
    assert err.rewrite == rewrite
    assert "refused" not in err.hint, err.hint
    assert ir_of(rewrite) == ir_of(line)


@pytest.mark.parametrize("call", ["conv(16, 3, activation=foo)", "dropout(rate=0.5, 0.3)"])
def test_a_hint_without_a_line_to_write_rewrites_none(call):
    assert error_of(call).rewrite is None


def test_the_line_a_hint_writes_is_checked_where_it_would_stand():
    """``conv(16, 9, 2)`` on an 8x8 input: the stride the hint offers does not mend a 9x9
    kernel, and the hint says so."""
    err = error_of("conv(16, 9, 2)")
    assert err.rewrite == "conv(16, 9, stride=2)"
    assert re.search(r"; but in this spec that line is refused: .*kernel", err.hint), err.hint


@pytest.mark.parametrize("layers, rewrite, hint", [
    # PyTorch's nn.Conv2d(1, 16, 3) written on a line: in_channels first
    ("conv 1 16 3 relu", "conv 16 3 relu",
     ("nn.Conv2d(in_channels, out_channels, kernel_size) gives in_channels, which a spec infers "
      "from the layer's input: write `conv 16 3 relu`; or, by name, `conv 1 16 stride 3 relu` "
      "if 3 is the stride")),
    ("conv 8 3x3\nbn: batchnorm 8 relu", "bn: batchnorm relu",
     ("nn.BatchNorm2d(num_features) gives num_features, which a spec infers from the layer's "
      "input: write `batchnorm relu`")),
    # Keras' filters, kernel and strides: more filters than the kernel is wide
    ("conv 16 3 2 relu", "conv 16 3 stride 2 relu",
     "options are written by name: `conv 16 3 stride 2 relu` if 2 is the stride"),
])
def test_a_layer_written_with_pytorchs_inferred_argument_is_told_to_leave_it_out(layers, rewrite,
                                                                                 hint):
    err = error_of(layers)
    assert (err.rewrite, err.hint) == (rewrite, hint)


def test_the_line_without_pytorchs_in_channels_checks_where_it_would_stand(tmp_path):
    """The line the hint writes for ``conv(1, 16, 3)`` is checked in the spec's place and
    fits there, unlike the stride the other reading offers (a 16x16 kernel on 8x8)."""
    spec = tmp_path / "m.cnn"
    spec.write_text("input 1x8x8\nconv(1, 16, 3) relu\nflatten\ndense 10\n")
    with pytest.raises(SpecErrors) as info:
        cnnspec.load(spec)
    err = info.value.errors[0]
    assert err.rewrite == "conv(16, 3) relu"
    assert "that line is refused" not in err.hint, err.hint
    spec.write_text("input 1x8x8\nconv(16, 3) relu\nflatten\ndense 10\n")
    assert cnnspec.load(spec).total_params == 160 + 5770


def test_the_cli_points_its_caret_at_the_value_past_the_kinds_values(tmp_path, capsys):
    spec = tmp_path / "m.cnn"
    spec.write_text("input 1x8x8\nc: conv(16,3,2) relu\n")
    assert main(["check", str(spec)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("m.cnn:2:14: error: the number 2 is out of place in conv layer "
                             "'c': conv takes 2 values by position, the number of filters and "
                             "the kernel size")
    assert lines[1:3] == ["  c: conv(16,3,2) relu", "               ^"]
    assert lines[3] == ("hint: options are written by name: `conv(16, 3, stride=2) relu` if 2 "
                        "is the stride; on a line, `conv 16 3 stride 2 relu`")


def _documented_pairs() -> list[tuple[str, str]]:
    """The lines of the language reference's call-form example, each with the line its
    comment says it is (``c1: conv2d(16, 3x3) relu   # is c1: conv 16 3x3 relu``)."""
    return re.findall(r"^(\S.*\(.*\).*?)\s+# is (.+)$", LANGUAGE_DOC.read_text(),
                      flags=re.MULTILINE)


def test_the_language_reference_shows_the_call_form():
    assert len(_documented_pairs()) >= 3


@pytest.mark.parametrize("call, line", _documented_pairs())
def test_the_language_references_call_form_example_is_what_it_says(call, line):
    assert ir_of(call) == ir_of(line)


CALLS = """\
input 1x8x8
c1: conv2d( 8,3x3 ,stride = 2,pad=same )  relu
maxpool(2,stride=1)
dropout( p=0.25 )
flatten
d: dense(units=10)
"""


def test_fmt_keeps_the_call_form_canonically_spaced_and_its_meaning():
    formatted = format_source(CALLS)
    assert formatted == ("input 1x8x8\n"
                         "c1: conv2d(8, 3x3, stride=2, pad=same) relu\n"
                         "maxpool(2, stride=1)\n"
                         "dropout(p=0.25)\n"
                         "flatten\n"
                         "d: dense(units=10)\n")
    assert format_source(formatted) == formatted
    assert parse(formatted).ir == parse(CALLS).ir


def test_cli_fmt_rewrites_a_call_form_spec_that_then_checks(tmp_path, capsys):
    spec = tmp_path / "calls.cnn"
    spec.write_text(CALLS)
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_text() == format_source(CALLS)
    assert main(["check", str(spec)]) == 0
