"""The commands a hint suggests can be typed as they are printed: the program is named as it
was started (``.venv/bin/cnnspec`` where ``cnnspec`` is not on PATH), and to a Python caller
the library's own words (``cnnspec.train('spec.cnn')``) name them."""
from __future__ import annotations

import ast
import json
import re
import shutil
import warnings
from pathlib import Path

import pytest

import cnnspec
from cnnspec import load, load_run
from cnnspec.cli import COMMANDS, OPTION_NAMES, main, typed
from cnnspec.errors import WordedError, WordedInputError, out_of_memory
from cnnspec.render.run_pictures import pick_conv_layer
from cnnspec.training.rundir import open_run_dir

CONV_FREE = "input 1x8x8\nflatten\ndense 10\n"
# A spec check warns about (its filters start identical), so that `time` points to check.
IDENTICAL = "input 1x8x8\nc: conv 4 3x3 weight zeros\nflatten\ndense 10\n"


def failed(capsys, argv: list[str], code: int) -> str:
    """The error output of `cnnspec ARGV`, which exits ``code`` without a traceback."""
    try:
        assert main(argv) == code
    except SystemExit as exc:
        assert exc.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# A command of the program written with its bare name, as a hint that wrote `cnnspec` literally
# would print it where the program was started as .venv/bin/cnnspec.
BARE_COMMAND = re.compile(rf"[`(]cnnspec ({'|'.join(map(re.escape, COMMANDS))})\b")


def _files(tmp_path: Path) -> Path:
    (tmp_path / "model.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("conv 8 3x3\n")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    (tmp_path / "npz.cnn").write_text('input 1x8x8\nflatten\ndense 2\n'
                                      'train {\n  data npz("missing.npz")\n}\n')
    (tmp_path / "identical.cnn").write_text(IDENTICAL)
    (tmp_path / "lenet net.cnn").write_text('name: "LeNet"\nlayer {\n  name: "data"\n}\n')
    (tmp_path / "torch.cnn").write_text("import torch\ninput 1x8x8\n")
    (tmp_path / "return.cnn").write_text("input 1x8x8\nx: return 3\n")
    (tmp_path / "cut.json").write_text('{"a": \n')
    (tmp_path / "unnamed.json").write_text('{"version": 1}')
    (tmp_path / "weightless").mkdir()
    (tmp_path / "weightless" / "spec.json").write_text("{}")
    return tmp_path


@pytest.mark.parametrize("argv, code, said", [
    (["fmt", "{tmp}/model.json"], 2, "`.venv/bin/cnnspec export SPEC.cnn` writes IR JSON"),
    (["train"], 2, "give a spec (.venv/bin/cnnspec train specs/digits.cnn)"),
    (["check", "{tmp}/notes.txt"], 2,
     "`.venv/bin/cnnspec export SPEC.cnn > SPEC.json` writes an IR file"),
    (["import", "{tmp}/model.onnx"], 2, "holds no ONNX graph"),
    (["summary", "{tmp}/npz.cnn"], 0, "`.venv/bin/cnnspec check` reads it as train does"),
    (["time", "{tmp}/identical.cnn", "--batch-size", "2", "--iterations", "1"], 0,
     "note: `.venv/bin/cnnspec check {tmp}/identical.cnn` has warnings"),
    # a Caffe prototxt written in a .cnn file: the import that makes it a spec, as pasted
    (["check", "{tmp}/lenet net.cnn"], 2,
     "run `.venv/bin/cnnspec import 'lenet net.prototxt' -o 'lenet net.cnn' --force`"),
    # a training setting given to a command that does not take it: the spec's, or train's
    (["check", "{tmp}/identical.cnn", "--data", "mnist"], 2,
     ("'data' is a training setting: write it in the spec's train block, `train {{ data ... }}`, "
      "or give it to train: `.venv/bin/cnnspec train SPEC --data mnist`")),
    (["summary", "{tmp}/identical.cnn", "--data=shapes(size=8)"], 2,
     "or give it to train: `.venv/bin/cnnspec train SPEC --data 'shapes(size=8)'`"),
    (["summary", "{tmp}/identical.cnn", "--learning-rate"], 2,
     "`train {{ lr ... }}`, or give it to train: `.venv/bin/cnnspec train SPEC --lr LR`"),
    # a model's Python source given as a spec: the import that reads its model instead
    (["check", "{tmp}/torch.cnn"], 2, "`.venv/bin/cnnspec import` reads a Keras model"),
    (["check", "{tmp}/return.cnn"], 2, "`.venv/bin/cnnspec import` reads a Keras model"),
    # an IR file that is not one: what writes it
    (["check", "{tmp}/cut.json"], 2, "an IR file is what `.venv/bin/cnnspec export` prints"),
    (["check", "{tmp}/unnamed.json"], 2,
     "defaults included (`.venv/bin/cnnspec export` writes them)"),
    # a folder with a spec but no weights: the folder training prints
    (["eval", "{tmp}/weightless"], 1,
     "pass the folder `.venv/bin/cnnspec train` printed at the end (runs/<name>-<time>)"),
])
def test_a_hint_names_the_program_as_it_was_started(argv, code, said, tmp_path, capsys,
                                                     started_from_venv):
    if argv[0] == "import" and argv[1].endswith(".onnx"):  # the onnx package reads it
        pytest.importorskip("onnx", reason="onnx not installed: pip install 'cnnspec[onnx]'")
    tmp = str(_files(tmp_path))
    err = failed(capsys, [word.format(tmp=tmp) for word in argv], code)
    assert said.format(tmp=tmp) in err, err
    assert not BARE_COMMAND.search(err), err


def _strings_outside_docs(tree: ast.AST):
    """Each string constant of ``tree`` (f-strings' pieces too) that is not a docstring nor a
    command's --help text: the texts a message or a hint is made of."""
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.keyword) and node.arg in ("help", "description", "epilog"):
            skipped.update(id(part) for part in ast.walk(node.value))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in skipped]


# Texts that name the program as a record, not as a command to type here: the header of a spec
# an import wrote, which says what wrote it.
RECORDS = ("by `cnnspec import`",)
# The parser Lark generates, whose grammar text's comments name the program.
GENERATED = ("standalone.py",)


def test_no_message_writes_a_command_of_the_program_by_its_bare_name():
    """A hint suggests a command as a template field (`{train_command}`, `{eval_command:RUN}`),
    which each front end words: `cnnspec.train` to the library, `.venv/bin/cnnspec train` to a
    command line started so. A literal `cnnspec train` cannot be typed where the program is not
    on PATH."""
    package = Path(cnnspec.__file__).parent
    found = [f"{path.relative_to(package)}:{node.lineno}: {node.value[:60]!r}"
             for path in sorted(package.rglob("*.py")) if path.name not in GENERATED
             for node in _strings_outside_docs(ast.parse(path.read_text(encoding="utf-8")))
             if BARE_COMMAND.search(re.sub("|".join(map(re.escape, RECORDS)), "", node.value))]
    assert found == []


def test_a_run_without_its_summary_names_the_training_command_as_typed(copied_run, capsys,
                                                                       started_from_venv):
    (copied_run / "summary.json").unlink()
    err = failed(capsys, ["eval", str(copied_run)], 1)
    assert f"run summary {copied_run / 'summary.json'} does not exist" in err
    assert "hint: is this a run folder written by `.venv/bin/cnnspec train`?" in err
    with pytest.raises(WordedError) as raised:
        load_run(copied_run)
    assert raised.value.hint == "is this a run folder written by `cnnspec.train`?"


def test_the_summary_names_init_report_as_typed(tmp_path, capsys, started_from_venv):
    spec = tmp_path / "net.cnn"
    spec.write_text(CONV_FREE)
    assert main(["summary", str(spec)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # its note wrapped to 100 columns
    # the whole command, its spec too, as train's hint names it (typed)
    assert f"`.venv/bin/cnnspec init-report {spec}` measures it on the data" in out
    assert f"`.venv/bin/cnnspec summary {spec} --explain` says how" in out
    assert f"`{typed('init-report', spec)}` measures" in out
    assert not BARE_COMMAND.search(out)
    assert main(["summary", str(spec), "--explain"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"`.venv/bin/cnnspec init-report {spec}` measures each layer's mean and std" in out


def test_the_summary_names_init_report_as_typed_when_run_by_python(tmp_path, capsys,
                                                                   monkeypatch):
    """Started as `python -m cnnspec`, where cnnspec is not on PATH: the interpreter, as
    every hint names the program then."""
    from cnnspec import cli

    monkeypatch.setattr(cli.sys, "argv", ["/x/cnnspec/__main__.py"])
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    monkeypatch.chdir(tmp_path)
    Path("net.cnn").write_text(CONV_FREE)
    assert main(["summary", "net.cnn"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # its note wrapped to 100 columns
    assert cli.invoked_as().endswith(" -m cnnspec")
    # as train's hint names it (typed), the other hints the program (invoked_as)
    assert f"`{typed('init-report', 'net.cnn')}` measures" in out
    assert f"`{cli.invoked_as()} init-report net.cnn` measures" in out


def test_a_sweep_without_dask_names_itself_as_typed(tmp_path, capsys, monkeypatch,
                                                    started_from_venv):
    from cnnspec.sweep import executor

    monkeypatch.setattr(executor, "dask_available", lambda: False)
    spec = tmp_path / "net.cnn"
    spec.write_text(CONV_FREE)
    err = failed(capsys, ["sweep", str(spec), "--set", "lr=0.1"], 2)
    assert "error: `.venv/bin/cnnspec sweep` runs on Dask distributed" in err


def test_memory_that_runs_out_names_summary_as_typed(capsys, monkeypatch, started_from_venv):
    from cnnspec.cli import check

    def runs_out(args):
        raise MemoryError("Unable to allocate 1.0 GiB for an array with shape {2, 3}")

    monkeypatch.setattr(check, "run", runs_out)
    err = failed(capsys, ["check", "a.cnn"], 1)
    assert "an array with shape {2, 3}" in err  # the message's braces name nothing
    assert "(`.venv/bin/cnnspec summary` shows what a step needs)" in err
    assert "(`cnnspec summary` shows" in out_of_memory(MemoryError()).hint  # the library's


def test_features_without_an_input_shows_the_command_as_typed(trained, tmp_path, capsys,
                                                               started_from_venv):
    err = failed(capsys, ["features", trained["run"], "-o", str(tmp_path / "f.png")], 2)
    assert "e.g. .venv/bin/cnnspec features RUN digit.png -o features.png, or " \
           ".venv/bin/cnnspec features RUN --index 0" in err


@pytest.fixture
def copied_run(trained, tmp_path) -> Path:
    """A copy of the trained run, to damage."""
    return Path(shutil.copytree(trained["run"], tmp_path / "run"))


def test_a_damaged_summary_names_the_training_command_as_typed(copied_run, capsys,
                                                               started_from_venv):
    (copied_run / "summary.json").write_text('[{"a": 1}]')
    err = failed(capsys, ["eval", str(copied_run)], 1)
    assert f"run summary {copied_run / 'summary.json'} holds list [{{'a': 1}}]" in err
    assert "hint: the file is damaged; a run folder written by `.venv/bin/cnnspec train` has " \
           "the original" in err
    with pytest.raises(WordedError) as raised:
        load_run(copied_run)
    assert raised.value.hint.endswith("written by `cnnspec.train` has the original")


def test_a_damaged_sweep_cell_names_the_sweep_command_as_typed(copied_run, capsys,
                                                               started_from_venv):
    summary = json.loads((copied_run / "summary.json").read_text())
    summary["cell"] = {"fold": 9, "folds": 2}
    (copied_run / "summary.json").write_text(json.dumps(summary))
    err = failed(capsys, ["train", "--resume", str(copied_run), "--epochs", "2"], 1)
    assert "'cell' is {'fold': 9, 'folds': 2}, not a sweep cell's fold" in err
    assert "written by `.venv/bin/cnnspec sweep --keep-weights` has the original" in err


def test_a_spec_given_as_a_run_to_the_library_is_told_the_library_call(tmp_path):
    spec = tmp_path / "net.cnn"
    spec.write_text(CONV_FREE)
    with pytest.raises(WordedError) as raised:
        open_run_dir(spec)
    assert raised.value.hint == (f"train it first (cnnspec.train({str(spec)!r})) and pass the "
                                 "run folder it writes (runs/<name>-<time>)")


def test_pictures_of_a_model_without_conv_layers_name_the_commands_that_read_it(
        tmp_path, started_from_venv):
    spec = tmp_path / "net.cnn"
    spec.write_text(CONV_FREE)
    with pytest.raises(WordedInputError) as raised:
        pick_conv_layer(load(spec))
    assert raised.value.hint.endswith("`cnnspec eval` and `cnnspec predict` read any run")
    _, hint = raised.value.worded(OPTION_NAMES)
    assert hint.endswith("`.venv/bin/cnnspec eval` and `.venv/bin/cnnspec predict` read any run")


@pytest.mark.parametrize("argv, typed", [
    (["check", "spec.cnn", "--bogus"], "`{program} check --help` lists its options"),
    (["chek"], "`{program} --help` says what each does"),
    (["fit"], "`fit` is `{program} train` here"),
    (["--bogus"], "follow it (`{program} COMMAND --help`)"),
])
def test_unknown_commands_and_options_name_the_help_as_the_program_was_started(
        started_from_venv, capsys, argv, typed):
    """`cnnspec check --help` is 'command not found' where cnnspec is not on PATH."""
    err = failed(capsys, argv, 2)
    assert typed.format(program=started_from_venv) in err


def test_a_runs_data_file_that_moved_is_given_its_new_place_as_the_hint_says(
        tmp_path, capsys, monkeypatch):
    """eval of a run whose npz file has moved: the hint names eval's --data, not the
    library's data= (the error eval raised again for a mistake in what was asked kept only
    the library's wording), and eval then reads the file there. resume's hint said the same,
    which resume refuses (another file would make another run): it says to put the file back.
    A file missing elsewhere (a spec never trained, a --data given) has no such past: its hint
    says to check the path alone (it spoke of a run's moved file there too)."""
    import numpy as np
    from npz_cases import SPEC, good_arrays

    monkeypatch.chdir(tmp_path)
    np.savez("data.npz", **good_arrays())
    Path("net.cnn").write_text(SPEC.replace("train {", "train {\n  epochs 1"))
    assert main(["train", "net.cnn", "--out", "run", "--quiet"]) == 0
    Path("data.npz").rename("moved.npz")
    resume = ["train", "--resume", "run", "--epochs", "2", "--quiet"]
    err = failed(capsys, ["eval", "run"], 2)
    assert "npz file not found: " in err, err
    assert "given its new place with eval's --data npz:NEW_PATH" in err
    err = failed(capsys, resume, 2)
    assert "npz file not found: " in err and "put the file back there" in err, err
    for argv in (["eval", "run", "--data", "npz:gone.npz"], ["check", "net.cnn"],
                 ["train", "net.cnn", "--out", "again"]):
        err = failed(capsys, argv, 2)
        assert "npz file not found" in err and "moved" not in err, err
    from cnnspec.training.evaluate import evaluate

    with pytest.raises(WordedInputError) as info:  # the library words it as it takes it
        evaluate(load_run("run"))
    assert info.value.hint.endswith("given its new place with evaluate's data='npz:NEW_PATH'")
    assert main(["eval", "run", "--data", "npz:moved.npz"]) == 0
    Path("moved.npz").rename("data.npz")
    assert main(resume) == 0


@pytest.mark.parametrize("name", ["plain.json", "with space.json", "it's.json",
                                  "esc\x1b[31mred.json", "bell\x07and\\slash.json"])
def test_a_suggested_command_names_the_same_file_when_a_shell_reads_it(name, tmp_path):
    """Quoted for a POSIX shell; a name holding control characters in $'...' quoting, each
    written as its escape: bash reads the pasted word back as the very name."""
    import subprocess

    from cnnspec.errors import command_line

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to read the command back")
    line = command_line("printf %s", name)
    assert "\x1b" not in line and "\x07" not in line
    read_back = subprocess.run([bash, "-c", line], check=True, capture_output=True).stdout
    assert read_back == name.encode()


def test_paths_a_command_prints_have_their_control_characters_escaped(tmp_path, capsys,
                                                                       monkeypatch):
    """A name holding an escape sequence is printed with it escaped where a command says what
    it wrote (export, train's run folder and next commands, fmt), never handed to the
    terminal; the hint for a missing folder is a command a shell can take."""
    monkeypatch.chdir(tmp_path)
    Path("net.cnn").write_text(CONV_FREE + "train {\n  data digits\n  epochs 1\n}\n")
    name = "o\x1b[31mx"
    assert main(["export", "net.cnn", "-o", name + ".json"]) == 0
    assert capsys.readouterr().out.startswith("wrote o\\x1b[31mx.json: the IR")
    with warnings.catch_warnings():  # the curves' title names the folder: no glyph missing
        warnings.simplefilter("error")
        assert main(["train", "net.cnn", "--out", name]) == 0
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "run folder: o\\x1b[31mx\n" in out
    assert "eval $'o\\x1b[31mx'" in out
    err = failed(capsys, ["export", "net.cnn", "-o", "no\x1bdir/e.json"], 2)
    assert "\x1b" not in err and "(mkdir -p $'no\\x1bdir')" in err
