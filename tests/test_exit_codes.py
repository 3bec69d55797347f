"""The README's table of exit codes, command by command: the same mistake gets the same code
(and the same words) from every command that can make it."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspec.cli import COMMANDS, main
from cnnspec.errors import MAX_WORD
from cnnspec.exitcodes import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE

README = Path(__file__).resolve().parent.parent / "README.md"

# Each command with the arguments it needs besides the one under test: SPEC commands get the
# spec in place of "{}", RUN commands the run folder.
SPEC_COMMANDS = {
    "check": ["{}"], "summary": ["{}"], "export": ["{}"], "fmt": ["{}"], "train": ["{}"],
    "data": ["{}"], "diagram": ["{}", "-o", "{out}/d.svg"], "init-report": ["{}"],
    "compare": ["{}", "--init", "he_normal"], "sweep": ["{}", "--set", "lr=0.1"],
    "import": ["{}"], "time": ["{}", "--iterations", "1"],
}
RUN_COMMANDS = {
    "eval": ["{}"], "predict": ["{}", "{input}"], "filters": ["{}", "-o", "{out}/f.png"],
    "features": ["{}", "{input}", "-o", "{out}/f.png"],
}
OUTPUT_COMMANDS = {
    "diagram": ["{spec}", "-o", "{}"], "init-report": ["{spec}", "-o", "{}"],
    "data": ["{spec}", "-o", "{}"], "compare": ["{spec}", "--init", "he_normal", "-o", "{}"],
    "filters": ["{run}", "-o", "{}"], "features": ["{run}", "{input}", "-o", "{}"],
}


def exit_code(argv: list[str]) -> int:
    """What `cnnspec ARGV` exits with (argparse's usage errors raise SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def fill(template: list[str], value: str, tmp_path: Path, **places: str) -> list[str]:
    return [part.format(value, out=tmp_path, **places) for part in template]


def test_every_command_is_in_the_table():
    assert set(SPEC_COMMANDS) | set(RUN_COMMANDS) == set(COMMANDS)


def test_the_readme_has_the_table():
    text = README.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ", text, re.MULTILINE)
    assert rows == [str(code) for code in (0, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED)]


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_a_missing_spec_exits_2(command, tmp_path, capsys):
    missing = str(tmp_path / "nope.cnn")
    assert exit_code([command, *fill(SPEC_COMMANDS[command], missing, tmp_path)]) == 2
    assert f"no such file: {missing}" in capsys.readouterr().err


@pytest.mark.parametrize("command", [c for c in SPEC_COMMANDS if c != "import"])
@pytest.mark.parametrize("suffix", [".cnn", ".json"])
def test_a_spec_named_without_its_suffix_is_told_the_file_that_has_it(command, suffix,
                                                                       tmp_path, capsys):
    """`cnnspec check mynet` for mynet.cnn (as the model is named): check said "not a spec
    file" of a file that does not exist, the others "no such file" and nothing more."""
    stem = tmp_path / "mynet"
    stem.with_suffix(suffix).write_text("")
    assert exit_code([command, *fill(SPEC_COMMANDS[command], str(stem), tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"no such file: {stem}" in err and f"did you mean {stem}{suffix}?" in err, err


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_a_directory_given_as_a_spec_exits_2(command, tmp_path, capsys):
    folder = tmp_path / "folder.cnn"
    folder.mkdir()
    assert exit_code([command, *fill(SPEC_COMMANDS[command], str(folder), tmp_path)]) == 2
    assert f"{folder} is a directory" in capsys.readouterr().err


def refuse_reading(monkeypatch, path: Path) -> None:
    """Opening ``path`` fails as a file without read permission does (the tests may run as
    root, whom permissions do not stop)."""
    import builtins
    import errno

    real_open = builtins.open

    def refusing(name, *args, **kwargs):
        if str(name) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_a_spec_that_cannot_be_read_exits_1(command, tmp_path, monkeypatch, capsys):
    """A spec that is there but cannot be read (no permission, a disk's error) is a failure of
    the run, not a mistake in what was asked: 1 from every command, check's too."""
    # import reads another framework's file: a Caffe prototxt (a .cnn it refuses by name)
    spec = tmp_path / ("locked.prototxt" if command == "import" else "locked.cnn")
    spec.write_text("input 1x8x8\nflatten\ndense 10\n")
    refuse_reading(monkeypatch, spec)
    assert exit_code([command, *fill(SPEC_COMMANDS[command], str(spec), tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"cannot read {spec}: Permission denied" in err and "Traceback" not in err


def test_check_exits_2_when_one_spec_has_a_mistake_and_another_cannot_be_read(
        tmp_path, monkeypatch, capsys):
    locked, bad = tmp_path / "locked.cnn", tmp_path / "bad.cnn"
    locked.write_text("input 1x8x8\nflatten\ndense 10\n")
    bad.write_text("input 1x8x8\nconv 4 9x9\nflatten\ndense 10\n")
    refuse_reading(monkeypatch, locked)
    assert exit_code(["check", str(locked), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read {locked}" in err and f"{bad}:2:8: error:" in err


@pytest.mark.parametrize("command", [c for c in SPEC_COMMANDS if c not in ("fmt", "import")])
def test_a_spec_with_an_error_exits_2(command, tmp_path, capsys):
    spec = tmp_path / "bad.cnn"
    spec.write_text("input 1x8x8\nconv 4 9x9\nflatten\ndense 10\n")
    assert exit_code([command, *fill(SPEC_COMMANDS[command], str(spec), tmp_path)]) == 2
    assert f"{spec}:2:8: error:" in capsys.readouterr().err


def test_fmt_of_a_spec_with_a_syntax_error_exits_2(tmp_path, capsys):
    spec = tmp_path / "bad.cnn"
    spec.write_text("input 1x8x8\nconv 4 3x3 (\n")
    assert exit_code(["fmt", str(spec)]) == 2
    assert f"{spec}:2:" in capsys.readouterr().err


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_a_missing_run_folder_exits_2(command, tmp_path, trained, capsys):
    missing = str(tmp_path / "no-run")
    argv = [command, *fill(RUN_COMMANDS[command], missing, tmp_path, input=trained["input"])]
    assert exit_code(argv) == 2
    assert f"no such folder: {missing}" in capsys.readouterr().err


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_a_file_given_as_a_run_folder_exits_2(command, tmp_path, trained, capsys):
    argv = [command, *fill(RUN_COMMANDS[command], trained["input"], tmp_path,
                           input=trained["input"])]
    assert exit_code(argv) == 2
    assert "is a file, not a run folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", [*RUN_COMMANDS, "train --resume"])
def test_a_spec_or_a_runs_file_given_as_a_run_says_what_to_give(command, tmp_path, trained,
                                                                 capsys, started_from_venv):
    """A Keras or PyTorch user predicts from the model file: the spec, or the run's best.npz.
    The command to train it names the program as it was started."""
    words = command.split()
    template = RUN_COMMANDS.get(command, ["{}"])
    spec = tmp_path / "my net.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 2\n")
    assert exit_code([*words, *fill(template, str(spec), tmp_path,
                                    input=trained["input"])]) == 2
    assert f"{spec} is a file, not a run folder; train the spec first (.venv/bin/cnnspec train " \
           f"'{spec}') and give the run folder it writes" in capsys.readouterr().err
    best = str(Path(trained["run"]) / "best.npz")
    assert exit_code([*words, *fill(template, best, tmp_path, input=trained["input"])]) == 2
    assert f"{best} is a file, not a run folder; give the run folder that holds it, " \
           f"{trained['run']}" in capsys.readouterr().err


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_a_folder_that_is_not_a_run_exits_2(command, tmp_path, trained, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    argv = [command, *fill(RUN_COMMANDS[command], str(folder), tmp_path, input=trained["input"])]
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert f"{folder} is not a run folder: spec.json is missing" in err
    assert "hint: pass the folder `cnnspec train` printed" in err


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_the_folder_of_runs_given_as_a_run_names_the_runs_it_holds(command, tmp_path, trained,
                                                                    capsys):
    runs = Path(trained["run"]).parent  # holds the run folder "run" beside the spec and input
    argv = [command, *fill(RUN_COMMANDS[command], str(runs), tmp_path, input=trained["input"])]
    assert exit_code(argv) == 2
    assert (f"hint: it holds run folders: pass one of them, e.g. {runs / 'run'}"
            in capsys.readouterr().err)


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
@pytest.mark.parametrize("output, message", [
    ("missing/out.png", "does not exist; create it first"),
    ("out.bmp", "must end in"),
])
def test_a_bad_output_path_exits_2_before_any_work(command, output, message, tmp_path,
                                                     trained, capsys):
    argv = [command, *[part.format(str(tmp_path / output), **trained)
                       for part in OUTPUT_COMMANDS[command]]]
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("argv", [["export", "{spec}"], ["data", "{spec}"],
                                  ["import", "{spec}"], ["diagram", "{spec}"]])
def test_an_output_path_ending_in_a_slash_is_a_folder_not_a_file(argv, tmp_path, trained,
                                                                  capsys):
    """`-o out.png/` names a folder; it was written as the file out.png."""
    output = f"{tmp_path}/out.png/" if argv[0] in ("data", "diagram") else f"{tmp_path}/out/"
    assert exit_code([part.format(**trained) for part in argv] + ["-o", output]) == 2
    assert "ends in '/', which names a folder; name a file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, output", [(["diagram", "{spec}"], ".svg"),
                                          (["data", "{spec}"], ".png"),
                                          (["import", "{spec}"], ".cnn")])
def test_an_output_path_that_is_only_an_extension_says_so(argv, output, tmp_path, trained,
                                                          capsys):
    """`-o .png` was told it "must end in .png": a hidden name such as .png has no suffix."""
    assert exit_code([part.format(**trained) for part in argv]
                     + ["-o", str(tmp_path / output)]) == 2
    assert f"is only an extension: name the file before it, e.g. out{output}" in \
        capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("output, message", [
    ("missing/out.cnn", "does not exist; create it first"),
    ("out.txt", "must end in .cnn"),
])
def test_import_checks_its_output_path_before_any_work(output, message, tmp_path, trained,
                                                        capsys):
    assert exit_code(["import", trained["spec"], "-o", str(tmp_path / output)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


# Each command that writes a file, asked to write it over one it reads: "{spec}", "{run}" and
# "{input}" are copies of the trained fixture's; "{link:NAME}" is a symbolic link NAME to the
# spec copy and "{hardlink:NAME}" a hard link, so that files are told apart by identity, not
# by the text of their paths.
OVER_INPUT = [
    (["export", "{spec}", "-o", "{spec}"], "the spec"),
    (["export", "{spec}", "-o", "{dot_spec}"], "the spec"),
    (["export", "{run}", "-o", "{run}/spec.json"], "a file of the run"),
    (["export", "{run}", "--format", "torch", "-o", "{run}/checkpoint.py"], "a file of the run"),
    (["export", "{run}", "--format", "onnx", "-o", "{run}/best.npz"], "a file of the run"),
    (["import", "{hardlink:model.prototxt}", "-o", "{hardlink:model.cnn}"], "the model"),
    (["import", "{input}", "--solver", "{link:solver.prototxt}", "-o", "{link:s.cnn}"],
     "the solver"),
    (["diagram", "{spec}", "-o", "{link:d.svg}"], "the spec"),
    (["data", "{spec}", "-o", "{link:d.png}"], "the spec"),
    (["init-report", "{spec}", "-o", "{link:r.png}"], "the spec"),
    (["compare", "{spec}", "--init", "he_normal", "-o", "{link:c.png}"], "the spec"),
    (["filters", "{run}", "-o", "{run}/curves.png"], "a file of the run"),
    (["features", "{run}", "{link:x.png}", "-o", "{link:x.png}"], "the input"),
    (["features", "{run}", "--index", "0", "-o", "{run}/curves.png"], "a file of the run"),
]


class _Links(dict):
    """The places of :data:`OVER_INPUT`, links made when a template names them."""

    def __init__(self, folder: Path, **places: str) -> None:
        super().__init__(places)
        self.folder = folder

    def __missing__(self, key: str) -> _Linker:
        return _Linker(self.folder, key, self["spec"])


class _Linker:
    def __init__(self, folder: Path, kind: str, target: str) -> None:
        self.folder, self.kind, self.target = folder, kind, target

    def __format__(self, name: str) -> str:
        path = self.folder / name
        if not path.exists():
            (path.symlink_to if self.kind == "link" else path.hardlink_to)(self.target)
        return str(path)


@pytest.mark.parametrize("argv, what", OVER_INPUT)
def test_writing_over_an_input_exits_2_naming_both(argv, what, tmp_path, trained, capsys):
    import shutil

    spec, run = tmp_path / "tiny.cnn", tmp_path / "run"
    shutil.copy(trained["spec"], spec)
    shutil.copytree(trained["run"], run)
    before = {path: path.read_bytes() for path in [spec, *run.iterdir()]}
    places = _Links(tmp_path, spec=str(spec), run=str(run), input=trained["input"],
                    dot_spec=f"{tmp_path}/./tiny.cnn")
    argv = [part.format_map(places) for part in argv]
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    output = argv[argv.index("-o") + 1]
    assert f"-o {output} would write" in err and f"{what} " in err, err
    assert "Traceback" not in err
    assert {path: path.read_bytes() for path in before} == before


@pytest.mark.parametrize("argv, message", [
    (["train", "{spec}", "--epochs", "0"], "--epochs: must be at least 1"),
    (["train", "{spec}", "--out", "x" * 300], "a file or folder name holds at most 255"),
    (["check", "{spec}", "--max-memory", "lots"], "expected a size such as 512M"),
    (["predict", "{run}", "{input}", "--top", "0"], "--top: must be at least 1"),
    (["chek", "{spec}"], "did you mean 'check'?"),
    # a peer's word for a command: the command that does it, not the closest spelling (fmt)
    (["fit", "{spec}"], "hint: `fit` is `cnnspec train` here; commands: check,"),
    (["plot", "{spec}"], "hint: `plot` is `cnnspec diagram` here;"),
    # Caffe's and Keras' scripts read the file first: the command named after it is meant
    (["{spec}", "train"], "hint: the command comes first: `cnnspec train {spec}`; commands:"),
    (["--verison"], "unknown option '--verison'\nhint: did you mean '--version'? cnnspec takes"),
    (["sweep", "{spec}", "--set", "lr", "0.1"],
     "one argument too many: '0.1' (`cnnspec sweep` takes SPEC); write --set lr=0.1"),
    # an option's value written without the option: the option that takes it
    (["export", "{spec}", "onnx"],
     "one argument too many: 'onnx' (`cnnspec export` takes SPEC|RUN); write --format onnx"),
    (["diagram", "{spec}", "net.png"],
     ("one argument too many: 'net.png' (`cnnspec diagram` takes SPEC); an output file is "
      "given with -o: write -o net.png")),
    (["compare", "{spec}", "he_normal", "normal(0, 0.01)"],
     ("one argument too many: 'he_normal' (`cnnspec compare` takes SPEC); if it is a --init "
      "value, give each with --init: --init he_normal --init 'normal(0, 0.01)'")),
    # not an -o file the command writes: argparse's own word on the missing -o
    (["diagram", "{spec}", "net.txt"], "the following arguments are required: -o/--output"),
    (["check", "--strcit", "{spec}"], "unknown option '--strcit'; did you mean '--strict'?"),
    (["summary", "--fromat", "json", "{spec}"], "did you mean '--format'?"),
    (["train", "{spec}", "--bogus"], "unknown option '--bogus' (`cnnspec train --help`"),
    (["summary", "{spec}", "--format", "xml"], "invalid choice: 'xml'"),
    (["train", "{spec}", "--data", "digitz"],
     "unknown dataset 'digitz'\nhint: did you mean 'digits'? valid datasets: digits, shapes,"),
    (["eval", "{run}", "--data", "digitz"], "did you mean 'digits'? valid datasets: digits,"),
    (["eval", "{run}", "--data", "npz:"], "--data npz: needs a path"),
    # data the run cannot take: a mistake in what was asked, as train's is
    (["eval", "{run}", "--data", "shapes"], "has images of shape 1x16x16, but the run takes"),
    (["eval", "{run}", "--data", "shapes(size=8, classes=[o, plus])"],
     "class 0 is 'o' there, 'x' in the run\nhint: evaluate on data with the run's classes"),
    (["train", "{spec}", "--data", "shapes(sise=3)"], "has no parameter 'sise'"),
    (["train", "{spec}", "--data", "npz(train.npz)"],
     "hint: a file path is a string in double quotes"),
    # a training setting, not the download folder --data-dir its name is close to
    (["time", "{spec}", "--data", "digits"],
     "unknown option '--data'; 'data' is a training setting: write it in the spec's train block"),
    # ... named as specs write it (`batch`), with the value only where train's option takes it
    (["eval", "{run}", "--batch", "0"],
     ("unknown option '--batch'; 'batch' is a training setting: write it in the spec's train "
      "block, `train { batch ... }`, or give it to train: ")),
    (["eval", "{run}", "--batch", "0"], " train SPEC --batch-size BATCH`"),
    (["check", "{spec}", "--batch-size", "16"], " train SPEC --batch-size 16`"),
    (["check", "{spec}", "--epochs", "two"], " train SPEC --epochs EPOCHS`"),
    (["train", "{spec}", "--epoch", "1"], "unknown option '--epoch'; did you mean '--epochs'?"),
    # a once-taken spelling, still read where it was, is never offered: the one help names
    (["export", "{spec}", "--outp", "x.json"],
     "unknown option '--outp'; did you mean '--output'? (`cnnspec export --help`"),
    (["diagram", "{spec}", "--out", "d.svg"],
     "unknown option '--out'; did you mean '-o/--output'? (`cnnspec diagram --help`"),
    (["time", "{spec}", "--batc", "8"], "unknown option '--batc'; did you mean '--batch-size'?"),
    # short options the command does not take: the long ones their letter starts
    (["train", "{spec}", "-o", "runs"],
     "unknown option '-o'; did you mean '--out'? (`cnnspec train --help` lists its options)"),
    (["train", "{spec}", "-e", "5"], "did you mean '--epochs'?"),
    (["train", "{spec}", "-b", "8"], "unknown option '-b'; did you mean '--batch-size'?"),
    (["train", "{spec}", "-d", "digits"],
     "unknown option '-d'; options starting with 'd': --data, --data-dir, --dtype"),
    (["check", "{spec}", "-x"], "unknown option '-x'; this command's options are written in full"),
    # a value that starts with '-' after an option that takes one
    (["summary", "{spec}", "--format", "-nan"],
     ("unknown option '-nan'; this command's options are written in full; or, as the value "
      "of --format, write --format=-nan")),
    # ... and one argparse takes for an option, not a negative number: "expected one argument"
    (["train", "{spec}", "--lr", "-1e5"],
     "argument --lr: the value -1e5 starts with '-' and reads as an option; write --lr=-1e5"),
    (["init-report", "{spec}", "--phase", "--grid", "-1x2"], "write --grid=-1x2"),
    # argparse's own messages quote a value cut short (at a path's length), as cnnspec's do
    (["summary", "{spec}", "--format", "a" * 5000],
     (f"invalid choice: '{'a' * (MAX_WORD - 1)}... (5,002 characters) (choose from 'text', "
      "'table', 'json')")),
    (["check", "{spec}", "--strict=" + "b" * 500],
     f"ignored explicit argument '{'b' * (MAX_WORD - 1)}... (502 characters)"),
    # positionals beyond what the command takes: its own usage and name, not cnnspec's
    (["summary", "{spec}", "{spec}"],
     "cnnspec summary: error: one argument too many: '{spec}' (`cnnspec summary` takes SPEC)"),
    (["eval", "{run}", "--last", "{input}"],
     "cnnspec eval: error: one argument too many: '{input}' (`cnnspec eval` takes RUN)"),
    (["train", "{spec}", "--lr", "-1"], "argument --lr: must be a positive number, got -1"),
    # PyTorch's and Keras' words: the option that sets it, or where the spec writes it
    (["train", "{spec}", "--learning-rate", "0.1"], "did you mean '--lr'?"),
    (["train", "{spec}", "--weight-decay", "0.1"],
     ("'weight_decay' is a training setting: write it in the spec's train block, "
      "`train { weight_decay ... }` (`cnnspec train --help`")),
    (["sweep", "{spec}", "--optimizer", "adam"],
     "`train { optimizer ... }`, or vary it with --set optimizer=V1,V2"),
    (["train", "{spec}", "--momentum", "0.9"],
     ("unknown option '--momentum'; it is set in the spec's train block, `train { ... }`: "
      "momentum is an argument of the optimizer (sgd or rmsprop), written in its parentheses: "
      "`optimizer sgd(momentum=0.9)` (`cnnspec train --help`")),
    # ... in any case, and Caffe's, Darknet's and Lightning's: the option where there is one
    (["train", "{spec}", "--base-lr", "0.1"],
     "unknown option '--base-lr'; Caffe's base_lr is lr here: write `--lr 0.1` (`cnnspec"),
    (["train", "{spec}", "--BASE_LR=0.1"], "Caffe's base_lr is lr here: write `--lr 0.1`"),
    (["train", "{spec}", "--LR", "0.1"], "unknown option '--LR'; did you mean '--lr'?"),
    (["train", "{spec}", "--max-iter", "100"],
     ("unknown option '--max-iter'; Caffe's max_iter is epochs here: write `--epochs E`; Caffe "
      "counts iterations, a batch each;")),
    (["train", "{spec}", "--max-epochs", "3"],
     "PyTorch Lightning's max_epochs is epochs here: write `--epochs 3`"),
    # ... else the spec's line (and a sweep's --set)
    (["check", "{spec}", "--base-lr", "0.1"],
     ("unknown option '--base-lr'; it is set in the spec's train block, `train { ... }`: "
      "Caffe's base_lr is lr here: write `lr 0.1` (`cnnspec check --help`")),
    (["sweep", "{spec}", "--base-lr", "0.1"], "write `lr 0.1`, or vary it with --set lr=V1,V2"),
    (["train", "{spec}", "--lr-policy", "step"],
     "`train { ... }`: Caffe's lr_policy is schedule here: write `schedule step("),
    (["train", "{spec}", "--betas", "0.9"],
     "`train { ... }`: optimizer adam: PyTorch's Adam (and AdamW) takes betas=(beta1, beta2)"),
    # another command's option is named as such (compare --dtype was asked "--data?")
    (["compare", "{spec}", "--init", "zeros", "--folds", "5"],
     ("unknown option '--folds'; --folds is an option of sweep, which compare does not take "
      "(`cnnspec compare --help`")),
    (["eval", "{run}", "--top", "3"],
     "unknown option '--top'; --top is an option of predict, which eval does not take"),
    # --init to a command that reads a spec (as Keras' kernel_initializer is passed): the
    # spec's own line, which that command does read
    (["train", "{spec}", "--init", "he_normal"],
     ("--init is an option of init-report and compare, which train does not take; a spec's "
      "own init is written in it: `default weight he_normal` for every layer, or `weight "
      "he_normal` on a layer's line (`cnnspec train --help`")),
    (["check", "{spec}", "--init", "zeros"], "which check does not take; a spec's own init"),
    (["eval", "{run}", "--init", "zeros"], "which eval does not take (`cnnspec eval --help`"),
    # ... and their words for a device: there is none to choose; --cores where it is taken
    (["train", "{spec}", "--device", "cuda"],
     ("unknown option '--device'; cnnspec runs on the CPU, with NumPy: there is no device to "
      "choose; --cores N sets how many parts a batch runs as, side by side")),
    (["time", "{spec}", "--gpu"],
     ("unknown option '--gpu'; cnnspec runs on the CPU, with NumPy: there is no device to "
      "choose (`cnnspec time --help`")),
])
def test_a_bad_option_or_command_exits_2(argv, message, trained, capsys):
    assert exit_code([part.format(**trained) for part in argv]) == 2
    for place, path in trained.items():  # the messages also quote braces of the language
        message = message.replace(f"{{{place}}}", path)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, read", [
    (["check", "{spec}", "--strict", "{spec}"], 2),
    (["predict", "{run}", "{input}", "--top", "1", "{input}"], 2),
])
def test_positionals_split_by_options_are_read_together(argv, read, trained, capsys):
    """``check a.cnn --strict b.cnn`` checks both, as ``check a.cnn b.cnn --strict`` does;
    argparse alone took the second for an unrecognised argument of the top-level command."""
    assert exit_code([part.format(**trained) for part in argv]) == 0
    out = capsys.readouterr().out
    word = "ok" if argv[0] == "check" else "input.npy"
    assert out.count(word) == read, out


def test_a_picture_given_that_is_none_exits_2_and_a_disk_error_reading_it_1(
        tmp_path, trained, capsys, monkeypatch):
    """A file given as a picture that is none is a mistake in what was asked, as a damaged
    data file is; the system failing to read it is a failure of the run."""
    import errno

    from PIL import Image

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    for command in (["predict", trained["run"], str(broken)],
                    ["features", trained["run"], str(broken), "-o", str(tmp_path / "f.png")]):
        assert exit_code(command) == 2
        assert f"cannot read {broken} as an image: " in capsys.readouterr().err

    def disk_error(path):
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(Image, "open", disk_error)
    assert exit_code(["predict", trained["run"], str(broken)]) == 1
    assert "Input/output error" in capsys.readouterr().err


# A data file the spec names, missing or holding labels that are no class indices: every
# command that reads it answers as check does, at the spec's data line, exit 2 (train, data
# and init-report said it without the line, exit 1); eval --data and train --data as well.
DATA_FILE_COMMANDS = [["check", "{spec}"], ["train", "{spec}", "--out", "{out}/r"],
                      ["data", "{spec}", "-o", "{out}/d.png"], ["init-report", "{spec}"]]


@pytest.mark.parametrize("argv", DATA_FILE_COMMANDS)
@pytest.mark.parametrize("problem", ["missing", "one-hot"])
def test_a_data_file_that_cannot_serve_exits_2_at_the_spec_line(argv, problem, tmp_path,
                                                                capsys):
    import numpy as np

    data = tmp_path / "d.npz"
    if problem == "one-hot":
        np.savez(data, x=np.zeros((20, 1, 8, 8), np.float32), y=np.eye(4)[np.arange(20) % 4])
    spec = tmp_path / "net.cnn"
    spec.write_text(f'input 1x8x8\nflatten\ndense 4\ntrain {{\n  data npz("{data}")\n}}\n')
    assert exit_code([part.format(spec=spec, out=tmp_path) for part in argv]) == 2
    err = capsys.readouterr().err
    said = "npz file not found" if problem == "missing" else "'y' has shape (20, 4)"
    assert f"{spec}:5:3: error: " in err and said in err
    assert not (tmp_path / "r").exists()


def test_a_data_file_given_on_the_command_line_that_cannot_serve_exits_2(tmp_path, trained,
                                                                        capsys):
    missing = f"npz:{tmp_path / 'no.npz'}"
    assert exit_code(["train", trained["spec"], "--data", missing,
                      "--out", str(tmp_path / "r")]) == 2
    assert "npz file not found" in capsys.readouterr().err
    assert exit_code(["eval", trained["run"], "--data", missing]) == 2
    assert "npz file not found" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "features"])
def test_an_image_too_large_to_decode_exits_1(command, tmp_path, trained, capsys):
    from test_input_limits import png_header

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(20000, 20000))
    extra = ["-o", str(tmp_path / "f.png")] if command == "features" else []
    assert exit_code([command, trained["run"], str(bomb), *extra]) == 1
    assert "too many to decode safely" in capsys.readouterr().err


def test_an_interrupt_exits_130(monkeypatch, trained, capsys):
    from cnnspec.cli import check

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(check, "run", interrupted)
    assert exit_code(["check", trained["spec"]]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_an_interrupt_while_the_commands_load_exits_130(monkeypatch, capsys):
    """Ctrl-C in the first tenth of a second, while the parser imports the commands' modules,
    was a traceback ending in KeyboardInterrupt (and the process killed by SIGINT)."""
    import cnnspec.cli

    def loading(command=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnnspec.cli, "build_parser", loading)
    assert exit_code(["check", "net.cnn"]) == 130
    assert capsys.readouterr().err == "cnnspec: interrupted\n"


def test_a_ctrl_c_that_python_could_only_swallow_still_ends_the_command(monkeypatch, trained,
                                                                       capsys):
    """A Ctrl-C raises KeyboardInterrupt wherever the main thread is, a finalizer included
    (a weak reference's callback as a sweep closed its cluster), where Python can only print
    it ("Exception ignored in ...", with a traceback) and carry on: the command then ended as
    if never interrupted. It ends as an interrupted command does, without the traceback."""
    import signal

    from cnnspec.cli import check

    class Finalized:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)  # its handler runs here, inside the finalizer

    real_run = check.run

    def run(args):
        Finalized()
        return real_run(args)

    monkeypatch.setattr(check, "run", run)
    assert exit_code(["check", trained["spec"]]) == 130
    err = capsys.readouterr().err
    assert err == "cnnspec: interrupted\n", err


def test_an_error_a_ctrl_c_became_ends_the_command_as_the_ctrl_c(monkeypatch, trained,
                                                                capsys):
    """A Ctrl-C inside the import of a C extension comes out as that import's error: NumPy's,
    interrupted as it imports datetime through C, raised an ImportError of its own and the
    command ended with its traceback (exit 1). The same error without a Ctrl-C is a bug and
    keeps its traceback."""
    import signal

    from cnnspec.cli import check

    def importing(interrupted: bool):
        def run(args):
            try:
                if interrupted:
                    signal.raise_signal(signal.SIGINT)  # its handler runs here
            except KeyboardInterrupt as exc:
                raise ImportError('PyCapsule_Import could not import module "datetime"') \
                    from exc
            raise ImportError("a bug")
        return run

    monkeypatch.setattr(check, "run", importing(interrupted=True))
    assert exit_code(["check", trained["spec"]]) == 130
    assert capsys.readouterr().err == "cnnspec: interrupted\n"
    monkeypatch.setattr(check, "run", importing(interrupted=False))
    with pytest.raises(ImportError, match="a bug"):
        main(["check", trained["spec"]])


def _entry_point(code: str, argv: list[str]) -> subprocess.CompletedProcess:
    """``cnnspec ARGV`` through the command's entry point (:func:`cnnspec.__main__.run`), in a
    process that first runs ``code``."""
    program = f"{code}\nimport sys\nfrom cnnspec.__main__ import run\nsys.exit(run())"
    return subprocess.run([sys.executable, "-c", program, *argv], capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_ctrl_c_while_the_command_line_is_imported_is_the_one_line(trained):
    """The entry point imported the command line's modules before any of its code could catch
    a Ctrl-C: one in that hundredth of a second ended the process with a traceback."""
    interrupting = """
import importlib.abc, signal, sys
class Interrupting(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "cnnspec.cli":
            signal.raise_signal(signal.SIGINT)
sys.meta_path.insert(0, Interrupting())"""
    done = _entry_point(interrupting, ["check", trained["spec"]])
    assert (done.returncode, done.stderr, done.stdout) == (130, "cnnspec: interrupted\n", "")


def test_a_ctrl_c_once_the_command_is_done_changes_nothing(trained):
    """A Ctrl-C as the process exits (here from its last exit handler, the one registered
    first) printed a traceback ("Exception ignored in atexit callback"), or killed the process
    by SIGINT: what the command did is done and its output flushed, so it is ignored and the
    command's exit code stands."""
    at_exit = ("import atexit, os, signal\n"
               "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))")
    done = _entry_point(at_exit, ["check", trained["spec"]])
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.endswith("params)\n")


def test_a_ctrl_c_as_the_command_returns_changes_nothing(trained):
    """A Ctrl-C after the command returned, before the entry point ignores Ctrl-C, said
    'cnnspec: interrupted' and exited 130 though the command had done its work."""
    late = """
import cnnspec.__main__ as entry
ignore_ctrl_c, calls = entry._ignore_ctrl_c, []
def done():
    calls.append(1)
    if len(calls) == 1:
        raise KeyboardInterrupt  # the Ctrl-C, just before it is ignored
    ignore_ctrl_c()
entry._ignore_ctrl_c = done"""
    done = _entry_point(late, ["check", trained["spec"]])
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.endswith("params)\n")


def test_an_ir_file_gets_the_same_codes_as_a_cnn_file(tmp_path, trained, capsys):
    assert main(["export", trained["spec"]]) == 0
    ir = json.loads(capsys.readouterr().out)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(ir))
    ir["layers"][0]["filters"] = 0
    bad.write_text(json.dumps(ir))
    assert exit_code(["check", str(good)]) == 0
    assert exit_code(["check", str(bad)]) == exit_code(["summary", str(bad)]) == 2


LONG = "a" * 5000


@pytest.mark.parametrize("argv", [
    ["summary", "{spec}", "--format", LONG],
    ["sweep", "{spec}", "--set", LONG],
    ["sweep", "{spec}", "--set", f"lr={LONG}"],
    ["sweep", "{spec}", "--set", f"init={LONG}"],
    ["sweep", "{spec}", "--set", f"epochs=1{LONG}"],
    ["sweep", "{spec}", "--set", f"fc.{LONG}=1"],
    ["check", "{long}"],
])
def test_a_value_of_thousands_of_characters_is_quoted_cut_short(argv, trained, tmp_path,
                                                                 capsys):
    """Wherever a message quotes what was written (argparse, the --set reader, the language's
    'unexpected' and 'unknown initializer'), a long value is cut short with its length, so
    the message stays readable."""
    spec = tmp_path / "long.cnn"
    spec.write_text(f"input 1x8x8\nconv1: conv 4 3x3 weight {LONG}\nflatten\ndense 2\n")
    assert exit_code([part.format(long=spec, **trained) for part in argv]) == 2
    err = capsys.readouterr().err
    assert "characters)" in err and max(len(line) for line in err.split("\n")) < 1000, err
