"""How an error is rendered: location, source line, caret under the spot, hint."""
from cnnspec.diagnostics import format_error
from cnnspec.errors import Span, SpecError


def test_caret_sits_under_the_span():
    text = "input 1x8x8\nconv 8 9x9\n"
    err = SpecError("too big", span=Span(2, 8, 2, 11), hint="pad", file="a.cnn")
    assert format_error(err, text).splitlines() == [
        "a.cnn:2:8: error: too big", "  conv 8 9x9", "         ^^^", "hint: pad"]


def test_a_long_line_is_shown_as_a_window_around_the_spot():
    line = '{"layers": [' + ", ".join(f'"l{i}"' for i in range(200)) + "]}"
    col = line.index('"l150"') + 1
    err = SpecError("bad", span=Span(1, col, 1, col + 6), file="ir.json")
    shown, caret = format_error(err, line).splitlines()[1:3]
    assert len(shown) < 100 and shown.strip().startswith("...") and shown.endswith("...")
    assert shown[caret.index("^"):].startswith('"l150"')
    assert caret.count("^") == 6


def test_a_json_path_stands_in_for_a_position():
    err = SpecError("must be >= 1", json_path="$.layers[0].kernel[1]", file="ir.json")
    assert format_error(err) == "ir.json: $.layers[0].kernel[1]: error: must be >= 1"
