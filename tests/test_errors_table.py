"""A table of wrong specs, from syntax to shapes: each must fail with the expected message at the
expected line and column, through the whole front end (parse, then check), and render like a
compiler's error."""
import pytest

from cnnspec.check import check
from cnnspec.diagnostics import format_error
from cnnspec.errors import SpecError, SpecErrors
from cnnspec.lang import parse

HEAD = "input 1x8x8\n"
TAIL = "flatten\ndense 10\n"

# (id, spec text, message fragment, line, column)
CHECK_CASES = [  # shapes, kernels and the layer graph: found by the checker
    # an init from the `default` line that a later layer cannot take: the line named
    ("default_kernel_on_dense", HEAD + "default weight sobel_x\nconv 4 3x3\n" + TAIL,
     "(its weight init comes from the `default weight` on line 2)", 5, 1),
    ("default_literal_on_dense", HEAD + "default weight [[1, 0], [0, 1]]\nconv 4 2x2\n" + TAIL,
     ("expected a 10x196 matrix (units x inputs) (its weight init comes from the "
     "`default weight` on line 2)"), 5, 1),
    ("kernel_larger_than_input", HEAD + "conv 4 3x3\nconv 4 7x7\n" + TAIL,
     "7x7 kernel of conv 'conv2' is larger than its input there: 6x6", 3, 8),
    ("dilated_kernel_too_large", HEAD + "conv 4 3x3 dilation 4\n" + TAIL,
     "(dilated to 9x9) of conv 'conv1' is larger than its input there: 8x8", 2, 8),
    ("pool_after_too_much_pooling", HEAD + "conv 4 3x3\nmaxpool 2\nmaxpool 2\nmaxpool 2\n" + TAIL,
     "2x2 window of maxpool 'maxpool3' is larger than its input there: 1x1", 5, 9),
    ("stride_leaves_no_room", HEAD + "conv 4 3x3 stride 4\nconv 4 3x3\n" + TAIL,
     "its input there: 2x2 (input 'conv1' gives 4x2x2)", 3, 8),
    ("dense_on_feature_map", HEAD + "conv 4 3x3\ndense 10\n",
     ("dense layer 'dense1' needs a flat input, but its input 'conv1' is a feature map of "
      "4x6x6"), 3, 1),
    ("conv_after_flatten", HEAD + "flatten\nconv 4 3x3\n" + TAIL,
     ("conv layer 'conv1' needs a (C, H, W) feature map, but its input 'flatten1' is a flat "
      "vector of 64 values"), 3, 1),
    ("global_avgpool_on_vector", HEAD + "flatten\nglobal_avgpool\ndense 10\n",
     "global_avgpool layer 'global_avgpool1' needs a (C, H, W) feature map", 3, 1),
    ("add_shapes_differ", HEAD + "a: conv 4 3x3 pad same\nb: conv 8 3x3 pad same <- input\n"
     "s: add(a, b)\n" + TAIL, "got 'a' 4x8x8, 'b' 8x8x8", 4, 4),
    ("concat_sizes_differ", HEAD + "a: conv 4 3x3\nb: conv 4 3x3 pad same <- input\n"
     "c: concat(a, b)\n" + TAIL, "equal H and W along the channels, but got 'a' 4x6x6", 4, 4),
    # a kernel literal that does not fit: the caret on the first row or matrix that does not,
    # saying what goes there; on the literal where its count of filters is wrong
    ("literal_wrong_size", HEAD + "conv 4 3x3 weight [[1, 0], [0, 1]]\n" + TAIL,
     "row 1 of the kernel literal has 2 numbers, but the kernel is 3x3: each row needs 3", 2, 20),
    ("literal_row_too_short", HEAD + "conv 1 3x3 weight [[1, 2, 3], [3, 4], [5, 6, 7]]\n"
     + TAIL, "row 2 of the kernel literal has 2 numbers, but the kernel is 3x3: each row needs 3",
     2, 31),
    ("literal_first_row_short", HEAD + "conv 1 3x3 weight [[1, 2], [3, 4, 5]]\n" + TAIL,
     "row 1 of the kernel literal has 2 numbers, but the kernel is 3x3: each row needs 3", 2, 20),
    ("literal_one_matrix_of_wrong_size", HEAD + "conv 2 3x3 weight [[1, 0, 1], [0, 1, 0]]\n"
     + TAIL, ("the kernel literal has 2 rows, but the kernel is 3x3: it needs 3; expected one 3x3 "
     "matrix shared by every filter"), 2, 19),
    ("literal_matrices_of_wrong_size", HEAD + "conv 2 3x3 weight [[[1, 0], [0, 1]], [[1, 0], "
     "[0, 1]]]\n" + TAIL, ("row 1 of matrix 1 of the kernel literal has 2 numbers, but the kernel "
     "is 3x3: each row needs 3"), 2, 21),
    ("literal_second_matrix_short", HEAD + "conv 2 2x2 weight [[[1, 0], [0, 1]], [[1, 0]]]\n"
     + TAIL, ("matrix 2 of the kernel literal has 1 row, but the kernel is 2x2: each matrix "
     "needs 2"), 2, 38),
    ("dense_literal_row_long", HEAD + "global_avgpool\nflatten\ndense 2 weight [[1, 2], [3, 4]]\n"
     + TAIL, ("row 1 of the literal has 2 numbers, but the layer has 1 input: each row needs one "
     "number per input"), 4, 17),
    # a bias literal of the wrong length: the caret on the literal
    ("bias_literal_of_one_value", HEAD + "conv 2 3x3 weight [[1, 0, 1], [0, 1, 0], [1, 0, 1]] "
     "bias [0.1] relu\n" + TAIL, "the bias literal has 1 value, but conv1 has 2 filters", 2, 58),
    ("bias_literal_of_a_dense_layer", HEAD + "flatten\ndense 3 bias [1, 2]\n" + TAIL,
     "the bias literal has 2 values, but dense1 has 3 units", 3, 14),
    ("default_bias_literal", HEAD + "default bias [0.5]\nconv 2 3x3\n" + TAIL,
     "(its bias init comes from the `default bias` on line 2)", 3, 1),
    ("literal_wrong_filter_count", HEAD + "conv 4 2x2 weight [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]\n"
     + TAIL, "the kernel literal holds 2 filters, but the layer has 4", 2, 19),
    ("literal_of_one_filter", HEAD + "conv 4 2x2 weight [[[[1, 0], [0, 1]]]]\n" + TAIL,
     "the kernel literal holds 1 filter, but the layer has 4", 2, 19),
    ("literal_wrong_channel_count", "input 3x8x8\nconv 2 2x2 weight "
     "[[[[1, 0], [0, 1]]], [[[0, 1], [1, 0]]]]\n" + TAIL,
     ("filter 1 of the kernel literal holds 1 matrix, but the input has 3 channels: each "
     "filter needs one 2x2 matrix per channel"), 2, 20),
    ("sobel_on_5x5", HEAD + "conv 2 5x5 weight sobel_x frozen\n" + TAIL,
     "sobel_x is a 3x3 kernel, but this layer's kernel is 5x5", 2, 12),
    ("named_kernel_on_dense", HEAD + "flatten\ndense 10 weight laplacian\n",
     "laplacian is a conv kernel", 3, 10),
    ("mistyped_huge_filter_count", HEAD + "conv 99999999999999999999 3x3\n" + TAIL,
     ("the number of filters of 'conv1' must be at most 2,147,483,647 (2^31 - 1), not "
     "99999999999999999999"), 2, 6),
    ("dense_weight_too_large", HEAD + "flatten\ndense 99999\ndense 99999\n",
     "the weight of dense 'dense2' would hold 9,999,800,001 values (37 GiB", 4, 7),
    ("output_too_large", "input 1x40000x40000\nconv 512 1x1\n" + TAIL,
     "the output of conv 'conv1' would hold 819,200,000,000 values", 2, 6),
    ("input_too_large", "input 3x100000x100000\nconv 8 3x3\n" + TAIL,
     "one input image would hold 30,000,000,000 values (111 GiB", 1, 1),
    ("x_kernel_not_square", HEAD + "conv 2 3x5 weight x_kernel frozen\n" + TAIL,
     "x_kernel needs a square kernel", 2, 12),
    ("softmax_not_last", HEAD + "conv 4 3x3\nsoftmax\n" + TAIL,
     "softmax 'softmax1' is not the output layer", 3, 1),
    ("padded_pool_window_too_large", HEAD + "conv 4 7x7\navgpool 5x5 pad 1\n" + TAIL,
     "5x5 window of avgpool 'avgpool1' is larger than its input there: 2x2, 4x4 after padding",
     3, 9),
    ("pool_padding_over_half_window", HEAD + "conv 4 3x3\nmaxpool 2 pad 2\n" + TAIL,
     "padding 2x2 of maxpool 'maxpool1' is more than half its 2x2 window", 3, 11),
    ("concat_of_a_vector_and_a_map", HEAD + "a: flatten\nc: concat(a, input)\ndense 10\n",
     "concat 'c' joins either (C, H, W) feature maps or flat vectors, but got both", 3, 4),
]
PARSE_CASES = [  # syntax, names and values: found by the parser
    ("unknown_layer_kind", HEAD + "convv 4 3x3\n" + TAIL, "unknown layer kind 'convv'", 2, 1),
    ("unknown_initializer", HEAD + "conv 4 3x3 weight he_normall\n" + TAIL,
     "unknown initializer 'he_normall'", 2, 19),
    ("unknown_option", HEAD + "conv 4 3x3 strid 2\n" + TAIL, "unknown option 'strid'", 2, 12),
    ("unknown_activation", HEAD + "conv 4 3x3 rellu\n" + TAIL, "'rellu'", 2, 12),
    ("duplicate_name", HEAD + "a: conv 4 3x3\na: conv 4 3x3\n" + TAIL, "duplicate", 3, 1),
    ("undefined_input", HEAD + "a: conv 4 3x3\nb: conv 4 3x3 <- c\n" + TAIL, "'c'", 3, 18),
    ("input_written_later", HEAD + "a: conv 4 3x3 <- b\nb: conv 4 3x3 <- input\n" + TAIL,
     "before it is defined", 2, 18),
    ("output_not_found", HEAD + "conv 4 3x3\n" + TAIL + "output fc9\n", "'fc9'", 5, 8),
    ("zero_filters", HEAD + "conv 0 3x3\n" + TAIL, "at least 1, not 0", 2, 6),
    ("fractional_filters", HEAD + "conv 2.5 3x3\n" + TAIL, "whole number", 2, 6),
    ("dropout_out_of_range", HEAD + "flatten\ndropout 1.5\ndense 10\n", "[0, 1)", 3, 9),
    ("unknown_training_key", HEAD + TAIL + "train {\n  epoch 3\n}\n",
     "unknown training setting 'epoch'", 5, 3),
    ("unclosed_parenthesis", HEAD + "conv 4 3x3 weight normal(0, 0.1\n" + TAIL,
     "never closed", 2, 25),
    ("unclosed_block", HEAD + TAIL + "train {\n  epochs 3\n", "never closed", 4, 7),
    ("layer_in_train", HEAD + TAIL + "train {\n  dropout 0.5\n}\n",
     "layers go before the train block", 5, 3),
    ("ragged_literal", HEAD + "conv 4 2x2 weight [[1, 0], [0]]\n" + TAIL,
     "row 2 of the kernel literal has 1 number, but the kernel is 2x2", 2, 28),
    ("unevenly_nested_literal", HEAD + "conv 4 2x2 weight [[1, 0], [0, [1]]]\n" + TAIL,
     "kernel literal nested unevenly: this entry is a row of numbers, the first is a number",
     2, 32),
    ("no_input_line", "conv 4 3x3\n" + TAIL, "no input", 1, 1),
    ("two_dimensional_input", "input 1x8\n" + TAIL, "channels x height x width", 1, 7),
    ("too_many_init_arguments", HEAD + "flatten\ndense 10 weight normal(0, 0.1, 3)\n",
     "at most 2 arguments", 3, 32),
    ("unknown_gain", HEAD + "flatten\ndense 10 weight he_normal(gain=swish)\n", "'swish'", 3, 32),
    ("stray_token", HEAD + "flatten\ndense 10 =\n", "unexpected '='", 3, 10),
    ("unknown_padding", HEAD + "conv 4 3x3 pad middle\n" + TAIL, "'middle'", 2, 16),
    ("unknown_dataset", HEAD + TAIL + "train {\n  data cifar\n}\n", "'cifar'", 5, 8),
    ("unknown_optimizer", HEAD + TAIL + "train {\n  optimizer adamx\n}\n", "'adamx'", 5, 13),
    ("negative_learning_rate", HEAD + TAIL + "train {\n  lr -0.1\n}\n", "greater than 0", 5, 6),
    ("add_with_one_input", HEAD + "a: conv 4 3x3\ns: add(a)\n" + TAIL, "at least two inputs", 3, 4),
    ("sparse_bias", HEAD + "flatten\ndense 10 bias sparse(3)\n",
     "'sparse' cannot initialise a bias", 3, 15),
    ("positive_unitball_bias", HEAD + "flatten\ndense 10 bias positive_unitball\n",
     "'positive_unitball' cannot initialise a bias", 3, 15),
    ("bias_init_that_needs_a_kernel", HEAD + "flatten\ndense 10 bias orthogonal\n",
     "'orthogonal' cannot initialise a bias", 3, 15),
    ("bias_none", HEAD + "conv 4 3x3 relu bias none\n" + TAIL,
     "'bias none' does not leave out the bias", 2, 17),
    ("capital_x_size", HEAD + "conv 4 3X3\n" + TAIL, "lowercase x", 2, 8),
    ("keras_layer_line", HEAD + 'Conv2D(4, (3, 3), padding="same")\n' + TAIL,
     "is a layer as Keras writes it", 2, 1),
    ("setting_with_equals", HEAD + TAIL + "train {\n  lr = 0.1\n}\n",
     "a setting is written without '='", 5, 6),
]
CASES = CHECK_CASES + PARSE_CASES


def first_error(text: str) -> SpecError:
    """The first error parse + check report for ``text`` (failing if there is none)."""
    with pytest.raises((SpecError, SpecErrors)) as info:
        check(parse(text, path="bad.cnn"))
    exc = info.value
    errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
    errors = [e for e in errors if e.severity == "error"]
    assert errors, "only warnings were reported"
    return errors[0]


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)
    assert len({case[1] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("text, fragment, line, column",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_wrong_spec_is_located_and_explained(text, fragment, line, column):
    err = first_error(text)
    assert fragment in err.message
    assert (err.span.line, err.span.column) == (line, column), err.message
    assert err.file == "bad.cnn"


@pytest.mark.parametrize("text", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_every_error_says_how_to_fix_it(text):
    assert first_error(text).hint


@pytest.mark.parametrize("name, source_line, caret", [
    ("kernel_larger_than_input", "  conv 4 7x7", "         ^^^"),
    ("dense_on_feature_map", "  dense 10", "  ^^^^^"),
    ("literal_wrong_size", "  conv 4 3x3 weight [[1, 0], [0, 1]]",
     " " * 21 + "^" * len("[1, 0]")),
    ("literal_wrong_filter_count",
     "  conv 4 2x2 weight [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]",
     " " * 20 + "^" * len("[[[1, 0], [0, 1]], [[0, 1], [1, 0]]]")),
    ("add_shapes_differ", "  s: add(a, b)", "     ^^^^^^^^^"),
    ("bias_none", "  conv 4 3x3 relu bias none", " " * 18 + "^" * len("bias none")),
    ("capital_x_size", "  conv 4 3X3", "         ^^^"),
    ("keras_layer_line", '  Conv2D(4, (3, 3), padding="same")', "  ^^^^^^"),
])
def test_rendered_error_has_source_line_caret_and_hint(name, source_line, caret):
    text = next(case[1] for case in CASES if case[0] == name)
    rendered = format_error(first_error(text), text).splitlines()
    err = first_error(text)
    assert rendered[0] == f"bad.cnn:{err.span.line}:{err.span.column}: error: {err.message}"
    assert rendered[1] == source_line
    assert rendered[2] == caret
    assert rendered[3].startswith("hint: ")


def test_independent_errors_are_reported_together():
    text = (HEAD + "a: conv 4 3x3 weight [[1, 0], [0, 1]]\n"
            "b: conv 4 9x9 <- input\n"
            "c: conv 4 5x5 weight sobel_y <- input\n"
            "s: add(a, b, c)\n" + TAIL)
    with pytest.raises(SpecErrors) as info:
        check(parse(text, path="bad.cnn"))
    lines = [e.span.line for e in info.value.errors]
    assert lines == [2, 3, 4]  # the add is not reported: its inputs already failed


@pytest.mark.parametrize("text, meant", [
    ("input 8x8x1\nconv 4 3x3\n" + TAIL, "1x8x8"),  # fails at the first conv: 8x1 pixels
    ("input 28x28x1\nconv 4 3x3 pad same\nmaxpool 2\n" + TAIL, "1x28x28"),  # further on
    ("input 32x32x3\nconv 4 5x5\n" + TAIL, "3x32x32"),
])
def test_an_input_written_as_keras_writes_it_gets_the_input_line_as_the_fix(text, meant):
    """`input 28x28x1` (height x width x channels) reads as 28 channels of 28x1 pixels, and
    the first window that no longer fits is where it shows: "use `pad same`" there would
    lead away from the mistake."""
    err = first_error(text)
    assert "is larger than its input there" in err.message
    assert err.hint.endswith(f"not height x width x channels as in Keras; write `input {meant}`")


def test_an_input_of_few_channels_keeps_the_layers_own_hint():
    err = first_error("input 3x4x4\nconv 4 5x5\n" + TAIL)
    assert err.hint.startswith("use `pad same`")


@pytest.mark.parametrize("layer, smaller", [
    ("conv 4 9x9", "a smaller kernel,"),
    ("conv 4 3x3 dilation 4", "a smaller kernel or dilation,"),
    ("maxpool 9", "a smaller window,"),
    ("avgpool 5 pad 1\nmaxpool 9", "a smaller window,"),
])
def test_the_hint_of_a_window_too_large_names_what_the_layer_has(layer, smaller):
    """A pool has a window, not a kernel, and a kernel that fits undilated is too large by its
    dilation: the hint names the size the user wrote."""
    err = first_error(HEAD + layer + "\n" + TAIL)
    assert "is larger than its input there" in err.message
    assert err.hint == f"use `pad same`, {smaller} or less stride/pooling before this layer"


@pytest.mark.parametrize("default, kernel", [("sobel_x", "3x3"), ("[[1, 0], [0, 1]]", "2x2")])
def test_a_default_init_a_layer_cannot_take_is_mended_by_the_hint(default, kernel):
    text = HEAD + f"default weight {default}\nconv 4 {kernel} relu\n" + TAIL
    hint = first_error(text).hint
    assert hint.startswith("give this layer an init of its own, e.g. `weight he_normal` at the "
                           "end of its line")
    check(parse(text.replace("dense 10", "dense 10 weight he_normal")))  # no error now


@pytest.mark.parametrize("bias, hint", [
    ("[0.1]", "write 2 numbers, one bias per filter, or `bias constant(0.1)`"),
    ("[0.1, 0.2, 0.3]", "write 2 numbers, one bias per filter"),
])
def test_a_bias_literal_of_the_wrong_length_is_hinted_the_numbers_to_write(bias, hint):
    with pytest.raises(SpecErrors) as info:
        check(parse(HEAD + f"conv 2 3x3 bias {bias}\n" + TAIL))
    (error,) = info.value.errors
    assert error.hint == hint
    # the hint's own line checks
    fixed = "constant(0.1)" if "constant" in hint else "[0.1, 0.2]"
    check(parse(HEAD + f"conv 2 3x3 bias {fixed}\n" + TAIL))


@pytest.mark.parametrize("layer, literal, hint", [
    ("input 1x8x8\nconv 1 3x3", "[[1, 0], [0, 1]]",
     ("write one 3x3 matrix shared by every filter, a list of 1 matrix (one per filter), or 1 "
      "list of 1 matrix (one per filter and input channel)")),
    ("input 3x8x8\nconv 2 2x2", "[[1, 0, 1], [0, 1, 0]]",
     ("write one 2x2 matrix shared by every filter, a list of 2 matrices (one per filter), or 2 "
      "lists of 3 matrices (one per filter and input channel)")),
], ids=["one_filter_one_channel", "two_filters_three_channels"])
def test_the_hint_of_a_kernel_literal_that_does_not_fit_names_each_shape_it_takes(
        layer, literal, hint):
    """Each of the three shapes a conv literal may take is named with what its lists hold: a
    bare "a list of 1, or 1 lists of 1" leaves a reader to guess of what."""
    err = first_error(f"{layer} weight {literal}\n" + TAIL)
    assert err.hint.startswith(hint + "; or change the layer's kernel size or filters")
