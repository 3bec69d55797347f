"""Silencing check's warnings (cnnspec/check/silence.py) beyond `check`: `--ignore` on every
other command that prints them (the warning gone with it, said without it, an unknown name a
usage error with the closest), the library's ``ignore``, and the file-wide comment
``# cnnspec: ignore-file[NAME]``."""
from __future__ import annotations

from pathlib import Path

import pytest

import cnnspec
from cnnspec.cli import build_parser, command_parser, commands_taking, main
from cnnspec.errors import SettingError

ROOT = Path(__file__).resolve().parent.parent

# Two dense layers with nothing between: a stacked-linear warning, at line 3.
LINEAR = "input 1x8x8\nflatten\ndense 16\ndense 10\ntrain {\n  epochs 1\n}\n"
NAMED = " [stacked-linear]"
# A hidden conv whose filters start identical (a constant) before a frozen constant kernel
# that cannot tell them apart: the identical-filters warning, which the diagram draws too.
IDENTICAL = ("input 1x8x8\nc1: conv 4 3x3 relu weight constant(0.1)\n"
             "c2: conv 4 3x3 relu weight constant(0.1) frozen\nflatten\ndense 10\n")
DRAWN_WARNING = "start identical"


def _write(tmp_path, text: str, name: str = "net.cnn") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _err(capsys) -> str:
    return capsys.readouterr().err


def test_every_command_that_prints_checks_warnings_takes_ignore():
    assert commands_taking("--ignore") == ["check", "summary", "import", "train", "diagram",
                                           "init-report", "compare", "sweep", "time"]


@pytest.mark.parametrize("command", commands_taking("--ignore"))
def test_an_unknown_name_to_ignore_is_a_usage_error_with_the_closest_on_every_command(
        command, tmp_path, capsys):
    path = _write(tmp_path, LINEAR)
    with pytest.raises(SystemExit) as stopped:
        main([command, path, "--ignore", "stacked-lnear"])
    assert stopped.value.code == 2
    err = _err(capsys)
    assert "unknown lint 'stacked-lnear'" in err and "did you mean 'stacked-linear'?" in err


@pytest.mark.parametrize("command", commands_taking("--ignore"))
def test_ignore_is_one_option_on_every_command(command):
    """Declared once (cli/arguments.add_ignore): the same metavar and help everywhere."""
    check = command_parser(build_parser("check"), "check")
    parser = command_parser(build_parser(command), command)

    def option(parser):
        action = next(a for a in parser._actions if "--ignore" in a.option_strings)
        return action.metavar, action.help, action.default

    assert option(parser) == option(check)


def test_init_report_leaves_out_the_warnings_of_the_lints_ignore_names(tmp_path, capsys):
    path = _write(tmp_path, LINEAR)
    argv = ["init-report", path, "--input", "gaussian", "--batch-size", "4"]
    assert main(argv) == 0
    assert NAMED in _err(capsys)
    assert main([*argv, "--ignore", "stacked-linear"]) == 0
    assert NAMED not in _err(capsys)


@pytest.mark.parametrize("mode", ["--phase", "--jacobian"])
def test_ignore_with_a_mode_that_prints_no_warnings_is_refused(mode, tmp_path, capsys):
    path = _write(tmp_path, LINEAR)
    assert main(["init-report", path, mode, "--ignore", "stacked-linear"]) == 2
    err = _err(capsys)
    assert f"--ignore goes with the per-layer statistics: {mode} prints no warnings" in err
    assert f"drop --ignore, or drop {mode}" in err


def test_time_points_to_checks_warnings_but_those_ignored(tmp_path, capsys):
    path = _write(tmp_path, LINEAR)
    argv = ["time", path, "--iterations", "1", "--format", "json"]
    assert main(argv) == 0
    assert "has warnings or errors" in _err(capsys)
    assert main([*argv, "--ignore", "stacked-linear"]) == 0
    assert "has warnings or errors" not in _err(capsys)
    # the command pointed to shows what this one left out no more than this one did
    assert main([*argv, "--ignore", "gain-misfit"]) == 0
    assert f"`cnnspec check {path} --ignore gain-misfit` has warnings" in _err(capsys)


def test_a_lint_name_left_out_is_said_missing_not_an_unknown_lint_called_nothing(
        tmp_path, capsys):
    """`--ignore stacked-linear,` and `# cnnspec: ignore[]` said "unknown lint ''"."""
    missing = "a lint's name is missing"
    path = _write(tmp_path, LINEAR)
    with pytest.raises(SystemExit):
        main(["check", path, "--ignore", "stacked-linear,"])
    assert missing in _err(capsys)
    _write(tmp_path, LINEAR.replace("dense 16\n", "dense 16  # cnnspec: ignore[]\n"))
    assert main(["check", path]) == 2
    err = _err(capsys).splitlines()
    assert err[0] == f"{path}:3:29: error: {missing} (nothing between a comma or bracket " \
                     "and the next) in a `# cnnspec: ignore` comment"
    assert err[2] == " " * 30 + "^"


def test_diagram_leaves_out_the_warning_it_draws_where_it_is_silenced(tmp_path, capsys):
    """The diagram draws check's identical-filters warning under the layer: left out by
    --ignore, and by the comment that silences it at the layer's line, as check leaves it
    out."""
    path = _write(tmp_path, IDENTICAL)
    drawn = tmp_path / "net.dot"

    def drawing(*options) -> str:
        main(["diagram", path, "-o", str(drawn), *options])
        capsys.readouterr()
        return drawn.read_text(encoding="utf-8")

    # c1's copies are identical-filters' warning, frozen c2's frozen-copies'
    assert drawing().count(DRAWN_WARNING) == 2
    assert drawing("--ignore", "identical-filters").count(DRAWN_WARNING) == 1
    assert drawing("--ignore", "frozen-copies").count(DRAWN_WARNING) == 1
    assert DRAWN_WARNING not in drawing("--ignore", "identical-filters,frozen-copies")
    assert drawing("--ignore", "stacked-linear").count(DRAWN_WARNING) == 2
    _write(tmp_path, IDENTICAL.replace("constant(0.1)\n", "constant(0.1)  "
                                       "# cnnspec: ignore[identical-filters]\n", 1))
    assert drawing().count(DRAWN_WARNING) == 1


def test_diagram_leaves_out_the_mark_of_weights_that_never_change_with_their_lint(
        tmp_path, capsys):
    """zeros.cnn's fc: its zero weights read conv2's zeros and never change, which check says
    as identical-filters; the diagram marked it under frozen-copies' name, so --ignore
    identical-filters left its mark drawn."""
    drawn = tmp_path / "zeros.dot"
    argv = ["diagram", str(ROOT / "specs" / "zeros.cnn"), "-o", str(drawn)]
    assert main(argv) == 0
    assert drawn.read_text(encoding="utf-8").count(DRAWN_WARNING) == 3
    assert main([*argv, "--ignore", "frozen-copies"]) == 0
    assert drawn.read_text(encoding="utf-8").count(DRAWN_WARNING) == 3
    assert main([*argv, "--ignore", "identical-filters"]) == 0
    assert DRAWN_WARNING not in drawn.read_text(encoding="utf-8")
    capsys.readouterr()


def test_import_leaves_out_the_warnings_of_the_lints_ignore_names(tmp_path, capsys):
    model = str(ROOT / "tests" / "data" / "import" / "every_layer.prototxt")
    assert main(["import", model, "-o", str(tmp_path / "a.cnn")]) == 0
    assert NAMED in _err(capsys)
    assert main(["import", model, "-o", str(tmp_path / "b.cnn"), "--ignore",
                 "stacked-linear"]) == 0
    err = _err(capsys)
    assert NAMED not in err and "wrote " in err


def _occupied(tmp_path) -> str:
    """A folder that holds another file: compare and sweep refuse it once the spec is
    checked (its warnings said), before anything trains."""
    folder = tmp_path / "occupied"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a comparison's")
    return str(folder)


@pytest.mark.parametrize("argv", [["compare"], ["sweep", "--set", "lr=0.1,0.2"]],
                         ids=["compare", "sweep"])
def test_compare_and_sweep_leave_out_the_warnings_of_the_lints_ignore_names(argv, tmp_path,
                                                                            capsys, monkeypatch):
    from cnnspec.sweep import executor

    # the occupied folder is refused before a cluster starts: no Dask needed (without it,
    # sweep stopped at its absence, exit 2)
    monkeypatch.setattr(executor, "dask_available", lambda: True)
    path = _write(tmp_path, LINEAR)
    line = [argv[0], path, *argv[1:], "--out", _occupied(tmp_path)]
    assert main(line) == 1
    err = _err(capsys)
    assert NAMED in err and "already exists and is not empty" in err
    assert main([*line, "--ignore", "stacked-linear"]) == 1
    err = _err(capsys)
    assert NAMED not in err and "already exists and is not empty" in err


def test_the_sweeps_library_plans_take_ignore(tmp_path):
    from cnnspec.sweep.compare import plan_comparison
    from cnnspec.sweep.runner import plan

    path = _write(tmp_path, LINEAR)
    for planned in (lambda **kw: plan_comparison(path, [None], **kw),
                    lambda **kw: plan(path, ["lr=0.1,0.2"], **kw)):
        heard = []
        planned(on_warnings=heard.extend)
        assert [w.lint for w in heard] == ["stacked-linear"]
        heard.clear()
        planned(on_warnings=heard.extend, ignore="stacked-linear")
        assert heard == []
        with pytest.raises(SettingError, match="unknown lint 'stacked'"):
            planned(ignore=["stacked"])


def test_train_in_the_library_takes_ignore_and_keeps_a_checked_specs(tmp_path):
    path = _write(tmp_path, LINEAR)
    heard = []
    options = {"progress": "none", "curves": False, "on_warnings": heard.extend}
    cnnspec.train(path, run_dir=tmp_path / "a", **options)
    assert [w.lint for w in heard] == ["stacked-linear"]
    heard.clear()
    cnnspec.train(path, run_dir=tmp_path / "b", ignore=["stacked-linear"], **options)
    assert heard == []
    cnnspec.train(cnnspec.load(path, ignore="stacked-linear"), run_dir=tmp_path / "c",
                  **options)
    assert heard == []


def test_train_in_the_library_refuses_an_unknown_name_before_anything_runs(tmp_path):
    path = _write(tmp_path, LINEAR)
    with pytest.raises(SettingError, match="unknown lint 'stacked-liner'") as info:
        cnnspec.train(path, run_dir=tmp_path / "a", ignore="stacked-liner", progress="none")
    assert "did you mean 'stacked-linear'?" in info.value.hint
    with pytest.raises(SettingError, match="ignore takes lint names"):
        cnnspec.train(path, run_dir=tmp_path / "a", ignore=3, progress="none")
    assert not (tmp_path / "a").exists()


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
    "# cnnspec: ignore-file[stacked-linear]]": (
        "1:39: error: a stray `]` after the `# cnnspec: ignore-file[...]` comment's names",
        39, 1, "hint: write `# cnnspec: ignore-file[NAME]` (names separated by commas) with one"),
}


@pytest.mark.parametrize("comment", WRONG_COMMENTS,
                         ids=["unknown name", "no brackets", "stray bracket"])
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


# A he_normal default before tanh: a gain-misfit warning at the default line (line 2) about
# the layers it wrote the init of, a and b (lines 3 and 4).
DEFAULTED = ("input 1x8x8\ndefault weight he_normal\na: conv 8 3x3 tanh\n"
             "b: conv 8 3x3 tanh\nflatten\ndense 10\n")


def _lines(tmp_path, capsys, text: str, *options) -> list[str]:
    path = _write(tmp_path, text)
    assert main(["check", path, *options]) == 0
    return capsys.readouterr().err.splitlines()


def _said(err: list[str], lint: str) -> str:
    """The first line of the warning of ``lint`` in ``err``."""
    return next(line for line in err if line.endswith(f"[{lint}]"))


def _silenced(text: str, line: int, names: str) -> str:
    """``text`` with a `# cnnspec: ignore[names]` comment at the end of its line ``line``."""
    lines = text.splitlines()
    lines[line - 1] += f"  # cnnspec: ignore[{names}]"
    return "\n".join(lines) + "\n"


def test_a_silence_that_silences_nothing_is_said_at_its_name(tmp_path, capsys):
    """As ruff's RUF100: the name a comment writes for no warning, with a caret under it."""
    text = _silenced(LINEAR, 3, "stacked-linear, gain-misfit")
    err = _lines(tmp_path, capsys, text)
    path = tmp_path / "net.cnn"
    column = len("dense 16  # cnnspec: ignore[stacked-linear, ") + 1
    assert err[0] == (f"{path}:3:{column}: warning: `# cnnspec: ignore[gain-misfit]` silences "
                      "nothing: check finds no gain-misfit warning at this line or at its "
                      "layer [unused-ignore]")
    assert err[2] == "  " + " " * (column - 1) + "^" * len("gain-misfit")
    assert err[3].startswith("hint: remove 'gain-misfit' from the comment")
    assert len(err) == 4  # the stacked-linear name silences its warning: not said


def test_a_file_wide_silence_that_silences_nothing_is_said(tmp_path, capsys):
    err = _lines(tmp_path, capsys, "# cnnspec: ignore-file[gain-misfit]\n" + LINEAR)
    assert _said(err, "unused-ignore").endswith(
        ":1:24: warning: `# cnnspec: ignore-file[gain-misfit]` silences nothing: check finds "
        "no gain-misfit warning anywhere in the spec [unused-ignore]")
    assert NAMED in "\n".join(err)  # the stacked-linear warning, still said


def test_an_unused_silence_is_a_lint_silenced_ignored_and_strict_like_others(tmp_path, capsys):
    text = _silenced(LINEAR, 3, "stacked-linear, lr-fit")
    assert _lines(tmp_path, capsys, text, "--ignore", "unused-ignore") == []
    assert _lines(tmp_path, capsys, _silenced(LINEAR, 3, "stacked-linear, lr-fit, "
                                              "unused-ignore")) == []
    path = _write(tmp_path, text)
    assert main(["check", "--strict", path]) == 2
    assert "error: `# cnnspec: ignore[lr-fit]` silences nothing" in _err(capsys)


def test_a_silence_of_unused_silences_is_never_said_unused(tmp_path, capsys):
    """Said, it would be silenced by the comment it is said of."""
    assert _lines(tmp_path, capsys, _silenced(LINEAR, 3, "stacked-linear, unused-ignore")) == []


@pytest.mark.parametrize("name", ["batch-fit", "data-fit", "memory-use"])
def test_a_silence_of_a_lint_said_once_the_data_is_read_is_not_called_unused(
        name, tmp_path, capsys):
    """Their warnings may come only when train reads an npz file, or knows the machine's
    memory: check cannot tell that the silence is unused."""
    assert _lines(tmp_path, capsys, _silenced(LINEAR, 3, f"stacked-linear, {name}")) == []
    assert "[unused-ignore]" not in "\n".join(
        _lines(tmp_path, capsys, f"# cnnspec: ignore-file[{name}]\n" + LINEAR))


# A drawn init whose spread float32 cannot hold (a lost-spread warning at line 3) but float64 can.
LOST_IN_FLOAT32 = "input 1x8x8\nflatten\ndense 16 relu weight normal(1000, 1e-5)\ndense 10\n"


def test_a_silence_a_float32_warning_needs_is_not_called_unused_in_float64(tmp_path, capsys):
    """train trains in float32 unless told: `check --dtype float64` finds no lost-spread
    warning, but removing the silence, as the hint says, would bring it back there."""
    text = _silenced(LOST_IN_FLOAT32, 3, "lost-spread")
    said = [line for line in _lines(tmp_path, capsys, text) if ": warning: " in line]
    assert said and not any(line.endswith("[lost-spread]") for line in said)
    assert not any(line.endswith("[unused-ignore]")
                   for line in _lines(tmp_path, capsys, text, "--dtype", "float64"))
    # in float32 a silence of that lint is judged as any other
    unused = _silenced(LINEAR, 3, "stacked-linear, lost-spread")
    assert _said(_lines(tmp_path, capsys, unused), "unused-ignore")


def test_the_lints_found_after_check_are_the_catalogues_one_set():
    """train names the warnings it finds once the data is read through the catalogue, which
    refuses a lint check would call a silence of unused."""
    from cnnspec.check import lint_catalogue, lints
    from cnnspec.check.training import data_misfits

    assert lint_catalogue.FOUND_LATER == {"batch-fit", "data-fit", "memory-use"}
    assert lint_catalogue.named_later(data_misfits, []) == []
    with pytest.raises(AssertionError, match="lr-fit is found after check"):
        lint_catalogue.named_later(lints.lr_fit, [])
    explanation = lint_catalogue.BY_NAME["unused-ignore"].explanation
    assert all(f"`{name}`" in explanation for name in lint_catalogue.FOUND_LATER)


def test_a_silence_used_by_the_spec_as_written_is_not_called_unused_in_a_variant(tmp_path):
    """An init variant (compare, init-report) may need no silence the spec needs: the silence
    is judged on the spec as written."""
    from cnnspec.check import check
    from cnnspec.lab.variants import load_variant, with_default_weight
    from cnnspec.lang import parse_init

    path = _write(tmp_path, _silenced(DEFAULTED.replace("b: conv 8 3x3 tanh\n", ""), 3,
                                      "gain-misfit"))
    assert load_variant(path).checked.warnings == []
    fitting = load_variant(path, "he_normal(gain=tanh)")
    assert fitting.checked.warnings == []
    # the variant's own check finds the silence unused
    spec = cnnspec.parse(Path(path).read_text(encoding="utf-8"), path)
    varied = with_default_weight(spec, parse_init("he_normal(gain=tanh)"))
    assert [w.lint for w in check(varied).warnings] == ["unused-ignore"]


def test_a_comment_on_the_layers_line_silences_its_warning_at_the_default_line(
        tmp_path, capsys):
    """A warning about a layer whose init a `default` line wrote points at that line; the
    layer's line, where a reader looks, silences it too."""
    err = _lines(tmp_path, capsys, DEFAULTED)
    assert ":2:" in err[0] and err[0].endswith("[gain-misfit]")  # where the init was written
    both = _silenced(_silenced(DEFAULTED, 3, "gain-misfit"), 4, "gain-misfit")
    assert _lines(tmp_path, capsys, both) == []
    assert _lines(tmp_path, capsys, _silenced(DEFAULTED, 2, "gain-misfit")) == []
    one = DEFAULTED.replace("b: conv 8 3x3 tanh\n", "b: conv 8 3x3 tanh weight glorot_normal\n")
    assert _lines(tmp_path, capsys, _silenced(one, 3, "gain-misfit")) == []


def test_a_comment_on_one_of_the_layers_of_a_default_lines_warning_says_it_is_not_enough(
        tmp_path, capsys):
    err = _lines(tmp_path, capsys, _silenced(DEFAULTED, 3, "gain-misfit"))
    assert err[0].endswith("[gain-misfit]")  # b's misfit, unsilenced, still said
    assert "`# cnnspec: ignore[gain-misfit]` silences nothing alone: the gain-misfit warning " \
           "at line 2 is about 'a' and 'b' [unused-ignore]" in err[4]
    assert err[7] == "hint: write it on the line of each of 'a' and 'b' too, or at line 2 alone"


def test_the_diagram_marks_copies_where_check_warns_of_them_alone(tmp_path):
    """A frozen layer of copies that the output does not use: check says it is unused, not
    that its copies are frozen; the diagram, which reads check's warnings, marks nothing."""
    from cnnspec.render.diagram import build_graph

    spec = ("input 1x8x8\nspare: conv 4 3x3 weight sobel_x frozen\nc: conv 8 3x3 relu <- input\n"
            "flatten\ndense 10\n")
    checked = cnnspec.load(_write(tmp_path, spec), for_training=False)
    assert [w.lint for w in checked.warnings] == ["unused-layer"]
    assert DRAWN_WARNING not in build_graph(checked).source
    used = cnnspec.load(_write(tmp_path, spec.replace(" <- input", "")), for_training=False)
    assert "frozen-copies" in [w.lint for w in used.warnings]
    assert DRAWN_WARNING in build_graph(used).source


def test_every_silence_of_a_comment_is_read_not_only_its_first(tmp_path, capsys):
    """`# cnnspec: ignore[gain-misfit]  # cnnspec: ignore[stacked-linear]` is one comment
    token: its second silence silenced nothing, and an unknown name there passed unsaid."""
    first = "dense 16  # cnnspec: ignore[gain-misfit]"
    path = _write(tmp_path, LINEAR.replace("dense 16", f"{first}  # cnnspec: ignore[nope]"))
    assert main(["check", path]) == 2
    err = _err(capsys).splitlines()
    assert err[0] == (f"{path}:3:{len(first) + 21}: error: unknown lint 'nope' in a "
                      "`# cnnspec: ignore` comment")
    _write(tmp_path, LINEAR.replace("dense 16", "dense 16  # cnnspec: ignore[unused-ignore]  "
                                    "# cnnspec: ignore[stacked-linear]"))
    assert main(["check", path, "--strict"]) == 0
    assert NAMED not in _err(capsys)
