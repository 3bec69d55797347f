"""The catalogue of check's lints (cnnspec/check/lint_catalogue.py): every lint is found by a
spec here and names its warnings; names are unique and kebab-case; ``--ignore``, ``--strict``,
``--explain``, a spot's ``# cnnspec: ignore[...]`` and the generated page docs/warnings.md."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnspec.check import check
from cnnspec.check.lint_catalogue import BY_NAME, LINTS, NAME_FORM
from cnnspec.cli import main
from cnnspec.errors import SettingError, SpecErrors
from cnnspec.lang import parse

ROOT = Path(__file__).resolve().parent.parent

SMALL = "input 1x8x8\n"
HEAD = "flatten\ndense 10\n"

# A spec that each lint warns of, by name: a lint without one fails the test below.
TRIGGERS = {
    "identical-filters": SMALL + "conv 8 3x3 relu weight constant(0.1)\nconv 8 3x3 relu\n" + HEAD,
    "frozen-copies": SMALL + "conv 8 3x3 relu weight sobel_x frozen\nconv 8 3x3 relu\n" + HEAD,
    "nothing-trains": SMALL + "conv 8 3x3 relu frozen\nflatten\ndense 10 lr_mult 0\n",
    "held-still": SMALL + "conv 8 3x3 relu\nz: conv 8 3x3 relu weight zeros bias zeros\n" + HEAD,
    "flat-channels": SMALL + "conv 8 3x3 relu weight zeros bias normal(0, 1)\n"
                             "conv 8 3x3 relu\n" + HEAD,
    "silenced-relu": SMALL + "conv 8 3x3 relu bias constant(-5)\nconv 8 3x3 relu\n" + HEAD,
    "init-underflow": SMALL + "conv 8 3x3 relu weight normal(0, 1e-300)\n" + HEAD,
    "lost-spread": SMALL + "conv 8 3x3 relu weight normal(1000, 1e-5)\n" + HEAD,
    "gain-misfit": SMALL + "conv 8 3x3 tanh weight he_normal\nconv 8 3x3 tanh weight "
                           "he_normal\n" + HEAD,
    "signal-scale": SMALL + "default weight normal(0, 1)\nconv 16 3x3 pad same relu\n"
                            "conv 16 3x3 pad same relu\nconv 16 3x3 pad same relu\n" + HEAD,
    "far-outputs": SMALL + "conv 8 3x3 relu\nflatten\ndense 10 bias constant(1e5)\n"
                           "train {\n  loss mse\n}\n",
    "gradient-scale": SMALL + "default weight glorot_normal(gain=tanh)\n"
                              "stem: conv 16 3x3 pad same tanh\n"
                              "repeat 20 { conv 16 3x3 pad same tanh }\n" + HEAD,
    "unused-layer": SMALL + "c: conv 8 3x3 relu\nspare: conv 8 3x3 relu <- c\nflatten <- c\n"
                            "dense 10\n",
    "layer-below-train": SMALL + "conv 8 3x3 relu\nflatten\ntrain {\n  epochs 1\n}\ndense 10\n",
    "dropout-before-batchnorm": SMALL + "conv 8 3x3 relu\ndropout 0.5\nbatchnorm\n" + HEAD,
    "batchnorm-momentum": SMALL + "conv 8 3x3 relu\nbatchnorm momentum 0.9\n" + HEAD,
    "batchnorm-start": SMALL + "conv 8 3x3 relu\nbatchnorm momentum 0.0001\n" + HEAD
                       + "train {\n  epochs 1\n}\n",
    "bounded-output": SMALL + "flatten\ndense 10 sigmoid\n",
    "padding-beyond-reach": SMALL + "conv 8 3x3 pad 5 relu\n" + HEAD,
    "unreached-taps": SMALL + "maxpool 8\nconv 8 3x3 pad same relu\n" + HEAD,
    "unread-input": SMALL + "conv 8 3x3 stride 2 relu\n" + HEAD,
    "stacked-linear": SMALL + "flatten\ndense 32\ndense 10\n",
    "twin-branches": SMALL + "a: conv 8 3x3 relu\nj: concat(a, a)\n" + HEAD,
    "pinned-reference": SMALL + "c0: conv 4 3x3 pad same relu\nrepeat 3 as res {\n"
                                "  a: conv 4 3x3 pad same relu\n  b: conv 4 3x3 pad same\n"
                                "  sum: add(b, res_1_a) relu\n}\n" + HEAD,
    "before-activation-read": SMALL + "a: conv 8 3x3 pad same relu\nb: conv 8 3x3 pad same relu\n"
                                      "s: add(b, a)\n" + HEAD,
    "schedule-fit": SMALL + HEAD + "train {\n  epochs 5\n  schedule step(10)\n}\n",
    "lr-fit": SMALL + HEAD + "train {\n  lr 1e10\n}\n",
    "decay-fit": SMALL + HEAD + "train {\n  lr 0.5\n  weight_decay 10\n}\n",
    "augment-fit": SMALL + HEAD + "train {\n  augment flip\n}\n",
    "val-split-fit": SMALL + HEAD + "train {\n  val_split 0.9\n}\n",
    "cores-fit": SMALL + HEAD + "train {\n  batch 8\n  cores 4\n}\n",
    "batch-fit": SMALL + HEAD + "train {\n  batch 100000\n}\n",
    "epochs-fit": SMALL + HEAD + "train {\n  epochs 2147483647\n}\n",
    "data-fit": "input 1x28x28\n" + HEAD,
    "memory-use": SMALL + HEAD,
    "unused-ignore": SMALL + "conv 8 3x3 relu  # cnnspec: ignore[gain-misfit]\n" + HEAD,
}


def _half_memory(spec) -> dict:
    """A memory limit under which a process training ``spec`` takes 2/3 of it."""
    return {"max_memory": check(spec).step_memory.process * 3 // 2}


# How a lint's spec is checked where the defaults would not find it: as a spec described, not
# trained (summary), or against a memory limit.
CHECKED_AS = {"data-fit": lambda spec: {"for_training": False}, "memory-use": _half_memory}


def _lints_found(name: str) -> set[str]:
    spec = parse(TRIGGERS[name], "net.cnn")
    options = CHECKED_AS.get(name, lambda spec: {})(spec)
    return {warning.lint for warning in check(spec, **options).warnings}


def test_every_lint_has_a_spec_that_triggers_it():
    """A lint added to the catalogue without a spec here fails: each is found by one."""
    assert sorted(BY_NAME) == sorted(TRIGGERS), "give each lint a spec in TRIGGERS"


@pytest.mark.parametrize("name", [lint.name for lint in LINTS])
def test_the_lints_spec_makes_its_warning_named_by_it(name):
    assert name in _lints_found(name)


def test_names_are_unique_kebab_case_and_every_entry_is_written_out():
    names = [lint.name for lint in LINTS]
    assert len(names) == len(set(names))
    for lint in LINTS:
        assert NAME_FORM.fullmatch(lint.name), lint.name
        assert lint.summary and "\n" not in lint.summary and len(lint.summary) < 120, lint.name
        assert len(lint.explanation) > len(lint.summary), lint.name


def test_an_error_names_no_lint_and_a_warning_made_an_error_keeps_its_name():
    assert check(parse(SMALL + "conv 8 3x3 relu\n" + HEAD, "net.cnn")).warnings == []
    with pytest.raises(SpecErrors) as raised:
        check(parse(SMALL + "conv 8 9x9\n" + HEAD, "net.cnn"))
    assert [error.lint for error in raised.value.errors] == [None]
    with pytest.raises(SpecErrors) as raised:
        check(parse(TRIGGERS["stacked-linear"], "net.cnn"), strict=True)
    assert [(e.severity, e.lint) for e in raised.value.errors] == [("error", "stacked-linear")]


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.cnn")), ids=lambda p: p.name)
def test_every_warning_of_the_shipped_specs_names_a_lint(path):
    import cnnspec

    for warning in cnnspec.load(path, for_training=False).warnings:
        assert warning.lint in BY_NAME, warning.message


def test_summary_names_the_warning_of_a_missing_data_file(tmp_path, capsys):
    path = _write(tmp_path, SMALL + HEAD + 'train {\n  data npz("gone.npz")\n}\n')
    assert main(["summary", path]) == 0
    assert "[data-fit]" in capsys.readouterr().err.splitlines()[0]
    assert main(["summary", "--ignore", "data-fit", path]) == 0
    assert capsys.readouterr().err == ""


def _write(tmp_path, text: str, name: str = "net.cnn") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_prints_the_lints_name_after_the_message(tmp_path, capsys):
    path = _write(tmp_path, TRIGGERS["gain-misfit"])
    assert main(["check", path]) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"{path}:2:") and ": warning: " in first
    assert first.endswith(" [gain-misfit]")


def test_ignore_leaves_the_lint_out_and_strict_does_not_fail_on_it(tmp_path, capsys):
    path = _write(tmp_path, TRIGGERS["gain-misfit"])
    assert main(["check", "--strict", path]) == 2
    assert "error: " in capsys.readouterr().err
    assert main(["check", "--strict", "--ignore", "gain-misfit", path]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "warning" not in captured.out


def test_ignore_takes_several_names_and_leaves_the_others(tmp_path, capsys):
    path = _write(tmp_path, SMALL + "conv 8 3x3 tanh weight he_normal\nconv 8 3x3 tanh weight "
                  "he_normal\nflatten\ndense 32\ndense 10\n")
    assert main(["check", path]) == 0
    assert {"[gain-misfit]", "[stacked-linear]"} <= set(capsys.readouterr().err.split())
    assert main(["check", "--ignore", "gain-misfit", path]) == 0
    err = capsys.readouterr().err
    assert "[gain-misfit]" not in err and "[stacked-linear]" in err
    assert main(["check", "--ignore", "stacked-linear,gain-misfit", path]) == 0
    assert capsys.readouterr().err == ""
    assert main(["check", "--ignore", "stacked-linear", "--ignore", "gain-misfit", path]) == 0
    assert capsys.readouterr().err == ""


def test_an_unknown_name_to_ignore_is_a_usage_error_with_the_closest(tmp_path, capsys):
    path = _write(tmp_path, TRIGGERS["gain-misfit"])
    with pytest.raises(SystemExit) as stopped:
        main(["check", "--ignore", "gain-misfti", path])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "unknown lint 'gain-misfti'" in err and "did you mean 'gain-misfit'?" in err
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--ignore", "no-such-lint", path])
    assert stopped.value.code == 2
    assert "unknown lint 'no-such-lint'" in capsys.readouterr().err


def test_the_library_takes_ignore_and_refuses_an_unknown_name(tmp_path):
    import cnnspec

    path = _write(tmp_path, TRIGGERS["gain-misfit"])
    assert [w.lint for w in cnnspec.load(path).warnings] == ["gain-misfit"]
    assert cnnspec.load(path, ignore=["gain-misfit"]).warnings == []
    assert cnnspec.load(path, ignore="gain-misfit").warnings == []
    with pytest.raises(SettingError, match="unknown lint 'gain'"):
        cnnspec.load(path, ignore=["gain"])
    with pytest.raises(SettingError, match="ignore takes lint names"):
        cnnspec.load(path, ignore=3)
    assert [w.lint for w in cnnspec.load(path, ignore=None).warnings] == ["gain-misfit"]


def test_a_comment_silences_the_lint_at_its_line_alone(tmp_path, capsys):
    text = (SMALL + "conv 8 3x3 tanh weight he_normal  # cnnspec: ignore[gain-misfit]\n"
            "conv 8 3x3 tanh weight he_normal\nflatten\ndense 32  # cnnspec: ignore[twin-branches]"
            "\ndense 10\n")
    path = _write(tmp_path, text)
    assert main(["check", path]) == 0
    err = capsys.readouterr().err
    assert "[gain-misfit]" not in err and "[stacked-linear]" in err  # another lint still said
    assert main(["fmt", path]) == 0
    assert "# cnnspec: ignore[gain-misfit]" in Path(path).read_text(encoding="utf-8")


def test_an_unknown_name_in_a_comment_is_an_error_at_the_name(tmp_path, capsys):
    text = SMALL + "conv 8 3x3 relu  # cnnspec: ignore[gain-misfit, gain-mistfit]\n" + HEAD
    path = _write(tmp_path, text)
    assert main(["check", path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"{path}:2:49: error: unknown lint 'gain-mistfit' in a "
                      "`# cnnspec: ignore` comment")
    assert err[2].index("^") == 2 + 48 and err[2].count("^") == len("gain-mistfit")
    assert "did you mean 'gain-misfit'?" in err[3]


def test_a_silence_without_brackets_is_an_error_at_the_comment(tmp_path, capsys):
    text = SMALL + "conv 8 3x3 relu  # cnnspec: ignore gain-misfit\n" + HEAD
    path = _write(tmp_path, text)
    assert main(["check", path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"{path}:2:18: error: a `# cnnspec: ignore` comment names its lints in "
                      "brackets")
    assert err[2] == "  " + " " * 17 + "^" * len("# cnnspec: ignore gain-misfit")
    assert err[3].startswith("hint: write `# cnnspec: ignore[NAME]`")


def test_explain_says_a_lints_summary_and_why_and_lists_them_all(capsys):
    assert main(["check", "--explain", "gain-misfit"]) == 0
    out = capsys.readouterr().out
    lint = BY_NAME["gain-misfit"]
    assert out.startswith(f"gain-misfit: {lint.summary}\n\n")
    assert " ".join(out.split()).count(" ".join(lint.explanation.split())) == 1
    assert "--ignore gain-misfit" in out
    assert main(["check", "--explain"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == [lint.name for lint in LINTS]


def test_explain_of_an_unknown_name_and_check_of_nothing_are_usage_errors(capsys):
    assert main(["check", "--explain", "stacked"]) == 2
    assert "did you mean 'stacked-linear'?" in capsys.readouterr().err
    assert main(["check"]) == 2
    assert "nothing to check" in capsys.readouterr().err


@pytest.mark.parametrize("extra, unused", [
    (["net.cnn"], "the spec net.cnn"), (["--strict"], "--strict"),
    (["--ignore", "stacked-linear"], "--ignore"), (["--max-memory", "1G"], "--max-memory")])
def test_explain_refuses_a_spec_or_checking_option_it_would_leave_unused(extra, unused, capsys):
    """`check --explain gain-misfit net.cnn` printed the lint's text alone and exited 0, the
    spec unchecked, as if it had passed."""
    for explain in (["--explain"], ["--explain", "gain-misfit"]):
        assert main(["check", *explain, *extra]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert (f"--explain says what a lint means and checks no spec; {unused} would be left "
                "unused") in captured.err
        assert "hint: " in captured.err and "give --explain alone" in captured.err


def test_summary_json_names_each_warnings_lint(tmp_path, capsys):
    path = _write(tmp_path, TRIGGERS["stacked-linear"])
    assert main(["summary", "--format", "json", path]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert [w["lint"] for w in warnings] == ["stacked-linear"]


def test_the_warnings_page_holds_the_catalogues_table():
    from cnnspec.check.lint_docs import LINT_MARKERS, lint_table
    from cnnspec.kinds.docs import between_markers

    page = (ROOT / "docs" / "warnings.md").read_text(encoding="utf-8")
    assert between_markers(page, *LINT_MARKERS) == lint_table(), "run python tools/generate.py"


@pytest.mark.parametrize("page", ["README.md", "docs/warnings.md"])
def test_the_warning_the_pages_show_is_what_check_prints(page, tmp_path, capsys, monkeypatch):
    """README's check row and docs/warnings.md quote a warning of gain-misfit's spec, written
    as net.cnn, cut at `...`: its start and its end are check's own line."""
    import re

    monkeypatch.chdir(tmp_path)
    _write(tmp_path, TRIGGERS["gain-misfit"])
    assert main(["check", "net.cnn"]) == 0
    printed = capsys.readouterr().err.splitlines()[0]
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
    quoted = re.search(r"(net\.cnn:\d+:\d+: warning: [^`]*?) \.\.\. (\[gain-misfit\])", text)
    assert quoted, f"{page} no longer quotes a warning of net.cnn"
    assert printed.startswith(quoted[1]) and printed.endswith(quoted[2])
