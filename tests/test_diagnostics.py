"""How an error is rendered: location, source line, caret under the spot, hint."""
import re

from readme_blocks import PAGES, README, quoted_blocks, readme_block

from cnnspec.cli import main
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


def test_control_characters_reach_the_terminal_escaped_and_the_caret_stays_in_place():
    """A spec (or a file name, or a string in it) may hold a terminal escape sequence: the
    source line shows each control character as one U+FFFD, a message or hint as its
    escape, so that the terminal obeys none of them."""
    text = "input 1x8x8\nc: conv 4 \x1b[31m\x07 3x3 bogus\n"
    err = SpecError("unknown option 'x\x1by'", span=Span(2, 22, 2, 27), hint="not \x9b2J",
                    file="a\rb.cnn")
    lines = format_error(err, text).splitlines()
    assert lines == ["a\\rb.cnn:2:22: error: unknown option 'x\\x1by'",
                     "  c: conv 4 \ufffd[31m\ufffd 3x3 bogus",
                     " " * 23 + "^^^^^",
                     "hint: not \\x9b2J"]
    assert lines[1][lines[2].index("^"):].startswith("bogus")


def test_an_error_quoting_a_file_name_prints_its_control_characters_escaped(capsys, tmp_path):
    from cnnspec.cli import main

    spec = tmp_path / "esc.cnn"
    spec.write_text('input 1x8x8\nflatten\ndense 2\ntrain {\n  data npz("a\x1b]0;x\x07.npz")\n}\n')
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 2  # as check
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "a\\x1b]0;x\\x07.npz" in err


def test_a_tab_is_shown_one_space_wide_so_the_caret_stays_under_the_spot():
    """A terminal widens a tab to its next stop, the caret line's spaces not: the source line
    shows each tab as one space, the width the column counts it as."""
    text = "input 1x8x8\n\tconv 8 9x9\n"
    err = SpecError("too big", span=Span(2, 9, 2, 12), file="a.cnn")
    shown, caret = format_error(err, text).splitlines()[1:3]
    assert shown == "   conv 8 9x9"
    assert shown[caret.index("^"):] == "9x9" and caret.count("^") == 3


def test_a_hint_about_a_run_setting_names_it_as_the_caller_gave_it():
    from cnnspec.cli import OPTION_NAMES
    from cnnspec.errors import run_setting_error

    err = run_setting_error("batch too large", "batch_size", "e.g. `train { batch 8 }`",
                            file="net.cnn")
    said = "is this run's setting, not the spec's"
    assert err.hint == f"e.g. `train {{ batch 8 }}`; batch_size {said}"
    assert err.worded_hint(OPTION_NAMES) == f"e.g. `train {{ batch 8 }}`; --batch-size {said}"
    assert format_error(err, names=OPTION_NAMES).splitlines() == [
        "net.cnn: error: batch too large", f"hint: e.g. `train {{ batch 8 }}`; --batch-size {said}"]
    assert format_error(SpecError("plain", hint="{x}"), names=OPTION_NAMES).endswith("hint: {x}")


def test_the_caret_counts_wide_and_zero_width_characters_as_a_terminal_shows_them():
    """A terminal gives a Chinese, Japanese or Korean character (or an emoji) two columns and
    a zero-width space none: the caret stood two columns left of `epochs` after `日本`, one
    column right of it after a zero-width space."""
    text = 'train {\n\tdata npz("日本.npz") epochs: 2\n  lr\u200b 0.1 epochs 2\n}\n'
    err = SpecError("one to a line", span=Span(2, 21, 2, 30), file="a.cnn")
    shown, caret = format_error(err, text).splitlines()[1:3]
    assert caret == " " * 2 + " " * 22 + "^" * 9  # 日本 take four columns, not two
    assert shown == '   data npz("日本.npz") epochs: 2'
    err = SpecError("one to a line", span=Span(3, 11, 3, 17), file="a.cnn")
    caret = format_error(err, text).splitlines()[2]
    assert caret == " " * 2 + " " * 9 + "^" * 6  # `  lr\u200b 0.1 `: nine columns
    err = SpecError("bad name", span=Span(2, 12, 2, 14), file="a.cnn")
    assert format_error(err, text).splitlines()[2] == " " * 2 + " " * 11 + "^" * 4


def readme_bad_spec() -> str:
    """The text of README's `bad.cnn`, which README gives as its lines in backticks: "(`bad.cnn`
    is the four lines `model bad`, ...)"."""
    prose = " ".join(README.read_text(encoding="utf-8").split())
    said = re.search(r"`bad\.cnn` is the \w+ lines (.*?)\):", prose)
    assert said, "README no longer says which lines bad.cnn is"
    return "".join(f"{line}\n" for line in re.findall(r"`([^`]+)`", said.group(1)))


def test_on_a_terminal_a_message_and_its_hint_are_wrapped_to_its_width(tmp_path, monkeypatch,
                                                                       capsys):
    """README's own `check bad.cnn` ran to 113 columns and a warning's line to 360: on a
    terminal each is wrapped to 100 columns (the message's lines after the first indented 4,
    the hint's under its text), the source line and caret as they were — README's block is
    what `cnnspec check bad.cnn` prints there; from a pipe each stays on its one line, which
    an editor reads."""
    from cnnspec.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.cnn").write_text(readme_bad_spec())
    command, *quoted = readme_block("$ cnnspec check bad.cnn")
    monkeypatch.setattr("cnnspec.cli.terminal_width", lambda stream: 100)
    assert main(command.split()[2:]) == 2
    printed = capsys.readouterr().err.splitlines()
    assert printed == quoted
    assert max(len(line) for line in printed) <= 100 < len(" ".join(quoted[:2]))
    monkeypatch.setattr("cnnspec.cli.terminal_width", lambda stream: None)
    assert main(command.split()[2:]) == 2
    piped = capsys.readouterr().err.splitlines()
    assert piped == [f"{quoted[0]} {quoted[1].strip()}", *quoted[2:]]
    # a hint too long for one line goes on under its text
    hint = "use `pad same`, a smaller kernel, or less stride/pooling before this layer " * 2
    lines = format_error(SpecError("m", hint=hint.strip()), width=100).splitlines()
    assert lines[1].startswith("hint: use") and lines[2].startswith(" " * 6 + "smaller")
    assert max(len(line) for line in lines) <= 100
    assert " ".join(" ".join(lines[1:]).split()) == f"hint: {hint.strip()}"


def test_a_backticked_command_is_wrapped_before_not_inside():
    """`python -m cnnspec summary x.cnn --explain` was split at a space inside the backticks
    where the line ran out; it moves to the next line whole, unless it is longer than a line
    (then it wraps at its spaces as any text, no line running past the width)."""
    command = "python -m cnnspec summary x.cnn --explain"
    hint = f"the note on the Signal column is short; {'word ' * 6}`{command}` says it in full"
    lines = format_error(SpecError("m", hint=hint), width=60).splitlines()
    assert any(line.strip().startswith(f"`{command}`") for line in lines), lines
    assert max(len(line) for line in lines) <= 60
    assert " ".join(" ".join(lines[1:]).split()) == f"hint: {hint}"
    long = f"see `{'a ' * 40}b` there"
    lines = format_error(SpecError("m", hint=long), width=30).splitlines()
    assert max(len(line) for line in lines) <= 30 and len(lines) > 3


def test_a_private_use_character_in_a_message_stays_itself_when_wrapped():
    """A backticked command's spaces are joined by a private-use character while the text is
    wrapped: U+E000 written in the message itself came out a space; the command still moves
    whole."""
    command = "cnnspec summary x.cnn --explain"
    hint = f"a\ue000b and \ue001 {'word ' * 6}`{command}` says it"
    lines = format_error(SpecError("m", hint=hint), width=50).splitlines()
    assert " ".join(" ".join(lines[1:]).split()) == f"hint: {hint}"
    assert any(line.strip().startswith(f"`{command}`") for line in lines), lines


def test_messages_are_wrapped_on_a_terminal_alone():
    """terminal_width: 100 columns on a terminal (its own width where narrower, 100 where it
    cannot say), None for a pipe or a file."""
    import io

    from cnnspec.cli import terminal_width

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert terminal_width(io.StringIO()) is None
    assert terminal_width(Terminal()) == 100  # no file number: no size to ask for


def test_the_language_references_error_example_is_what_check_prints(tmp_path, capsys):
    """docs/language.md's example of an error, its hint's list cut at its dots (it read "box,
    constant, ..." after `bilinear` had joined the catalogue)."""
    page = next(page for page in PAGES if page.name == "language.md")
    block = next(block for block in quoted_blocks(page.read_text(encoding="utf-8"))
                 if "he_normall" in block[0])
    where, line, caret, hint = block[:4]
    spec = tmp_path / "net.cnn"
    number = int(where.split(":")[1])
    spec.write_text("input 1x8x8\n" + "\n" * (number - 2) + line.strip() + "\nflatten\n"
                    "dense 10\n")
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:3] == [where.replace("specs/net.cnn", str(spec)), line, caret]
    assert hint.endswith(", ...)") and err[3].startswith(hint.removesuffix("...)")), err[3]
