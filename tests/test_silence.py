"""Silencing check's warnings (cnnspec/check/silence.py) beyond `check --ignore` and a line's
comment: the file-wide comment ``# cnnspec: ignore-file[NAME]``, and the page that lists the
ways to silence a lint."""
from __future__ import annotations

from pathlib import Path

import pytest

import cnnspec
from cnnspec.cli import commands_taking, main

ROOT = Path(__file__).resolve().parent.parent

# Two dense layers with nothing between: a stacked-linear warning, at line 3.
LINEAR = "input 1x8x8\nflatten\ndense 16\ndense 10\ntrain {\n  epochs 1\n}\n"
NAMED = " [stacked-linear]"


def _write(tmp_path, text: str, name: str = "net.cnn") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _err(capsys) -> str:
    return capsys.readouterr().err


# ---- the file-wide comment -------------------------------------------------------------------

FILE_WIDE = "# cnnspec: ignore-file[stacked-linear]\n"


def test_a_file_wide_comment_silences_the_lint_everywhere_in_the_spec(tmp_path, capsys):
    text = ("input 1x8x8\nflatten\ndense 16\ndense 16\ndense 10\n")
    path = _write(tmp_path, text)
    assert main(["check", path]) == 0
    assert _err(capsys).count(NAMED) == 2  # one at each dense layer read by another
    _write(tmp_path, FILE_WIDE + text)
    assert main(["check", "--strict", path]) == 0
    assert _err(capsys) == ""
    assert cnnspec.load(path).warnings == []


def test_a_file_wide_comment_leaves_the_other_lints(tmp_path, capsys):
    path = _write(tmp_path, FILE_WIDE + "input 1x8x8\nconv 8 3x3 tanh weight he_normal\n"
                  "conv 8 3x3 tanh weight he_normal\nflatten\ndense 32\ndense 10\n")
    assert main(["check", path]) == 0
    err = _err(capsys)
    assert "[gain-misfit]" in err and NAMED not in err


def test_a_file_wide_comment_holds_where_it_is_written_in_the_spec(tmp_path):
    """As ruff's `# ruff: noqa: CODE`, it silences the whole file wherever it stands; the
    top is the convention, not a rule."""
    path = _write(tmp_path, LINEAR + FILE_WIDE)
    assert cnnspec.load(path).warnings == []


def test_a_file_wide_comment_silences_a_warning_of_no_line(tmp_path):
    """A warning without a line to point at (the data of a missing npz file, said by
    summary) is silenced by the file's comment, as by --ignore."""
    text = 'input 1x8x8\nflatten\ndense 10\ntrain {\n  data npz("gone.npz")\n}\n'
    path = _write(tmp_path, text)
    from cnnspec.training.compat import unread_file_warnings

    assert [w.lint for w in unread_file_warnings(cnnspec.load(path, for_training=False))] \
        == ["data-fit"]
    _write(tmp_path, "# cnnspec: ignore-file[data-fit]\n" + text)
    assert unread_file_warnings(cnnspec.load(path, for_training=False)) == []


# A file-wide comment written wrong: the first line of check's error, where its caret starts
# (column) and how long it is, and how its hint starts.
WRONG_COMMENTS = {
    "# cnnspec: ignore-file[gain-misfit, stacked-liner]": (
        "1:37: error: unknown lint 'stacked-liner' in a `# cnnspec: ignore-file` comment",
        37, len("stacked-liner"), "hint: did you mean 'stacked-linear'?"),
    "# cnnspec: ignore-file stacked-linear": (
        "1:1: error: a `# cnnspec: ignore-file` comment names its lints in brackets",
        1, len("# cnnspec: ignore-file stacked-linear"),
        "hint: write `# cnnspec: ignore-file[NAME]`"),
}


@pytest.mark.parametrize("comment", WRONG_COMMENTS, ids=["unknown name", "no brackets"])
def test_a_file_wide_comment_written_wrong_is_an_error_with_a_caret(comment, tmp_path, capsys):
    first, column, width, hint = WRONG_COMMENTS[comment]
    path = _write(tmp_path, comment + "\n" + LINEAR)
    assert main(["check", path]) == 2
    err = _err(capsys).splitlines()
    assert err[0] == f"{path}:{first}"
    assert err[1] == "  " + comment
    assert err[2] == "  " + " " * (column - 1) + "^" * width
    assert err[3].startswith(hint)


def test_fmt_keeps_a_file_wide_comment(tmp_path):
    path = _write(tmp_path, FILE_WIDE + "input   1x8x8\nflatten\ndense  16\ndense 10\n")
    assert main(["fmt", path]) == 0
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith(FILE_WIDE) and "dense 16\n" in text
    assert cnnspec.load(path).warnings == []


def test_explain_names_every_form_of_silence(capsys):
    assert main(["check", "--explain", "stacked-linear"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "`--ignore stacked-linear`" in out
    assert "`# cnnspec: ignore-file[stacked-linear]`" in out
    assert "`# cnnspec: ignore[stacked-linear]`" in out


def test_the_warnings_page_holds_the_generated_ways_to_silence():
    from cnnspec.check.lint_docs import SILENCE_MARKERS, silence_list
    from cnnspec.kinds.docs import between_markers

    page = (ROOT / "docs" / "warnings.md").read_text(encoding="utf-8")
    assert between_markers(page, *SILENCE_MARKERS) == silence_list(
        commands_taking("--ignore")), "run python tools/generate.py"
