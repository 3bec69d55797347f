"""``cnnspec check / summary / export`` called through ``cnnspec.cli.main``: exit codes, what
goes to stdout and stderr, never a traceback; and ``cnnspec --help`` starting fast."""
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mixed_kernels import MIXED, mixed_stack
from npz_cases import SPEC as NPZ_SPEC

from cnnspec import load
from cnnspec.cli import main
from cnnspec.errors import InputError, SpecErrors
from cnnspec.ir.migrate import IR_VERSION

SPECS = Path(__file__).resolve().parent.parent / "specs"
GOOD = """\
input 1x8x8
conv 4 3x3 pad same relu
maxpool 2
flatten
dense 10
"""
BAD = """\
input 1x8x8
conv 4 3x3
conv 4 9x9
flatten
dense 10
"""
ZEROS = GOOD.replace("conv 4 3x3", "conv 4 3x3 weight zeros")


@pytest.fixture
def write(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_check_good_spec(write, capsys):
    path = write("good.cnn", GOOD)
    assert main(["check", path]) == 0
    out, err = capsys.readouterr()
    # conv 4*9+4 = 40, dense 4*4*4*10+10 = 650
    assert out == f"{path}: ok (5 layers, 690 params)\n"
    assert err == ""


def test_check_reports_errors_in_compiler_format_and_exits_2(write, capsys):
    path = write("bad.cnn", BAD)
    assert main(["check", path]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}:3:8: error: the 9x9 kernel of conv 'conv2'")
    assert lines[1] == "  conv 4 9x9"
    assert lines[2] == "         ^^^"
    assert lines[3].startswith("hint: ")
    assert "Traceback" not in err


def test_check_several_specs_reports_each(write, capsys):
    good, bad = write("good.cnn", GOOD), write("bad.cnn", BAD)
    assert main(["check", good, bad, good]) == 2
    out, err = capsys.readouterr()
    assert out.count(": ok (") == 2
    assert err.count(": error: ") == 1


def test_warnings_pass_unless_strict(write, capsys):
    path = write("zeros.cnn", ZEROS)
    assert main(["check", path]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: ok (5 layers, 690 params; 2 warnings)\n"
    assert ": warning: all 4 filters of conv1 start identical" in err
    assert ": warning: the zero weights of conv1 also hold still layers" in err
    assert main(["check", "--strict", path]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert ": error: all 4 filters of conv1 start identical" in err


def test_syntax_error_and_missing_file_exit_2_without_traceback(write, capsys):
    path = write("syntax.cnn", "input 1x8x8\nconv 4 3x3 (\n")
    missing = str(Path(path).with_name("missing.cnn"))
    assert main(["check", path, missing]) == 2
    _, err = capsys.readouterr()
    assert f"{path}:2:" in err
    assert f"cnnspec: error: no such file: {missing}" in err
    assert "Traceback" not in err


def test_not_a_spec_file(write, capsys):
    path = write("notes.txt", "hello")
    assert main(["check", path]) == 2
    assert "not a spec file" in capsys.readouterr().err


IMPORTS = Path(__file__).resolve().parent / "data" / "import"


@pytest.mark.parametrize("source, name, what", [
    ("every_layer.prototxt", "net.prototxt", "is a Caffe model definition, not a spec"),
    ("every_layer.prototxt", "My Net.PBTXT", "is a Caffe model definition, not a spec"),
    ("mnist_convnet.json", "mnist_convnet.json", "is a Keras model, not a cnnspec IR file"),
])
@pytest.mark.parametrize("command", [["check"], ["summary"], ["train"],
                                     ["diagram", "-o", "net.svg"]])
def test_a_model_of_another_framework_is_told_the_import_that_makes_it_a_spec(
        tmp_path, capsys, monkeypatch, source, name, what, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes((IMPORTS / source).read_bytes())
    assert main([*command, name]) == 2
    err = capsys.readouterr().err
    assert what in err and "Traceback" not in err and not Path("net.svg").exists()
    suggested = re.search(r"`[^`]* import ([^`]*)`, then use (.+)$", err, re.MULTILINE)
    assert suggested, err
    assert main(["import", *shlex.split(suggested[1])]) == 0  # the command, as suggested
    assert main(["check", suggested[2]]) == 0


@pytest.mark.parametrize("name, what", [
    ("model.keras", "is a Keras model saved with model.save(), not a spec"),
    ("model.onnx", "is an ONNX model, not a spec"),
    ("model.h5", "is a Keras model saved with model.save() (HDF5)"),
    ("model.pth", "is a PyTorch file"),
    ("lenet.caffemodel", "is Caffe's trained weights"),
])
def test_a_saved_model_given_as_a_spec_says_what_it_is(write, capsys, name, what):
    path = write(name, "")
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"cnnspec: error: {path} {what}" in err
    if name.endswith((".keras", ".onnx")):  # imported: the command names the file given
        assert f"import {path} -o {Path(path).with_suffix('.cnn')}" in err
    with pytest.raises(InputError, match=re.escape(what)):  # the library says the same
        load(path)


@pytest.mark.parametrize("name", ["net.onnx", "my net.txt", "net.pth", "net"])
def test_a_spec_saved_under_another_name_is_told_to_be_renamed(write, capsys, name):
    """A spec's text saved as net.onnx was "an ONNX model, not a model's architecture as
    text", which it is; as net.txt, "not a spec file". Its first statement tells it: the
    rename is said, and done as said the file checks."""
    path = write(name, "# my first net\n\n" + GOOD)
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"cnnspec: error: {path} holds a spec's text, but a spec's file name ends in .cnn" in err
    (command,) = re.findall(r"^hint: rename it: (mv .+)$", err, re.MULTILINE)
    mv, source, target = shlex.split(command)
    assert (mv, source) == ("mv", path)
    Path(source).rename(target)
    assert main(["check", target]) == 0


@pytest.mark.parametrize("text", [b"import torch\nmodel = Net()\n", b"\xff\xfe\x00model",
                                  b"# only a comment\n", b"name: \"LeNet\"\ninput: \"data\"\n"])
def test_a_file_not_holding_a_spec_is_not_told_to_be_renamed(tmp_path, capsys, text):
    path = tmp_path / "net.txt"
    path.write_bytes(text)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not a spec file" in err and "rename" not in err


def test_json_ir_is_accepted_everywhere(write, capsys):
    cnn = write("good.cnn", GOOD)
    assert main(["export", cnn]) == 0
    ir_text = capsys.readouterr().out
    ir_path = write("good.json", ir_text)
    assert main(["check", ir_path]) == 0
    assert capsys.readouterr().out == f"{ir_path}: ok (5 layers, 690 params)\n"
    assert main(["summary", ir_path]) == 0
    assert "Total params: 690" in capsys.readouterr().out
    assert main(["export", ir_path]) == 0
    assert capsys.readouterr().out == ir_text


def test_a_spec_suffix_is_read_in_any_case(write, capsys):
    """NET.CNN (a name as a case-insensitive file system may keep it) was 'not a spec file',
    while LENET.PROTOTXT was told to be imported: suffixes are read in any case."""
    cnn = write("GOOD.CNN", GOOD)
    assert main(["check", cnn]) == 0
    assert capsys.readouterr().out == f"{cnn}: ok (5 layers, 690 params)\n"
    assert main(["export", cnn]) == 0
    ir = write("GOOD.Json", capsys.readouterr().out)
    assert main(["check", ir]) == 0
    assert capsys.readouterr().out == f"{ir}: ok (5 layers, 690 params)\n"
    assert main(["fmt", "--check", ir]) == 2
    assert "is an IR file; fmt formats .cnn specs" in capsys.readouterr().err


def test_export_to_a_file_says_what_it_wrote(write, capsys, tmp_path):
    """The ONNX and PyTorch exports say what they wrote; the IR's did not, and a silent
    command reads as one that did nothing."""
    cnn = write("good.cnn", GOOD)
    out = tmp_path / "good.json"
    assert main(["export", cnn, "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: the IR of ")
    assert main(["export", cnn]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")


def test_schema_violations_are_reported_with_json_paths(write, capsys):
    cnn = write("good.cnn", GOOD)
    main(["export", cnn])
    ir = json.loads(capsys.readouterr().out)
    ir["layers"][0]["kernel"] = [3]
    ir["layers"][2]["units"] = 10
    path = write("bad.json", json.dumps(ir))
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}: $.layers[0].kernel: error: needs at least 2 item(s), got 1" in err
    assert f"{path}: $.layers[2].units: error: unknown field 'units'" in err


def test_a_json_file_that_is_no_ir_is_said_to_be_none(write, capsys):
    """A JSON object with neither of an IR's version and layers (a run folder's summary.json)
    is told what an IR file is and how to write one, not each field the schema misses; one
    with either is judged field by field (a damaged IR)."""
    summary = {"status": "finished", "test_acc": 0.9, "epochs_done": 3}
    path = write("summary.json", json.dumps(summary))
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: $: error: not an IR file: an IR file is a network written "
                          "out as JSON")
    assert "missing field" not in err
    assert "export SPEC > SPEC.json` writes the IR file of a spec" in err
    path = write("damaged.json", json.dumps({"version": IR_VERSION}))
    assert main(["check", path]) == 2
    assert f"{path}: $.name: error: missing field 'name'" in capsys.readouterr().err


def test_summary_json(write, capsys):
    path = write("good.cnn", GOOD)
    assert main(["summary", path, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shape"] == [1, 8, 8]
    assert data["total_params"] == data["trainable_params"] == 690
    assert [layer["output_shape"] for layer in data["layers"]] == \
        [[4, 8, 8], [4, 8, 8], [4, 4, 4], [64], [10]]


def test_summary_of_a_bad_spec_exits_2(write, capsys):
    assert main(["summary", write("bad.cnn", BAD)]) == 2
    assert ": error: " in capsys.readouterr().err


def test_export_refuses_a_spec_that_does_not_check_unless_asked(write, capsys):
    path = write("bad.cnn", BAD)
    assert main(["export", path]) == 2
    capsys.readouterr()
    assert main(["export", "--no-check", path]) == 0
    assert json.loads(capsys.readouterr().out)["layers"][1]["kernel"] == [9, 9]


@pytest.mark.parametrize("fmt, out", [("onnx", "m.onnx"), ("torch", "m.py")])
def test_export_no_check_is_refused_for_a_format_built_from_the_checked_shapes(
        write, tmp_path, capsys, fmt, out):
    path = write("bad.cnn", BAD)
    assert main(["export", "--no-check", "--format", fmt, path, "-o", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert f"--no-check is for --format json: --format {fmt} needs the shapes" in err
    assert "drop --no-check" in err
    assert not (tmp_path / out).exists()


def test_check_every_shipped_spec(capsys):
    paths = sorted(str(p) for p in SPECS.glob("*.cnn"))
    assert main(["check", *paths]) == 0
    assert capsys.readouterr().out.count(": ok (") == len(paths)


HELP_PROBE = """
import sys
from cnnspec import load
from cnnspec.cli import main
from cnnspec.errors import InputError
try:
    main(["--help"])
except SystemExit:
    pass
heavy = [m for m in ("numpy", "lark", "matplotlib", "jsonschema", "torch") if m in sys.modules]
print("PROBE", ",".join(heavy))
"""


def test_help_starts_without_heavy_imports():
    # What makes --help start fast is what it does not import; its time is tools/bench.py's
    # start-up figure, not a unit test's.
    result = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "check" in result.stdout and "summary" in result.stdout and "export" in result.stdout
    probe = next(line for line in result.stdout.splitlines() if line.startswith("PROBE"))
    heavy = (probe.split(" ") + [""])[1]
    assert heavy == "", f"--help imported {heavy}"


@pytest.mark.parametrize("command", ["check", "summary", "export"])
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "SPEC" in capsys.readouterr().out


def test_check_one_layer_spec_says_layer_not_layers(write, capsys):
    path = write("one.cnn", "input 1x8x8\nglobal_avgpool\ntrain {\n  data shapes(size=8, "
                 "classes=[x, o])\n  loss bce\n}\n")
    assert main(["check", path]) == 0, capsys.readouterr().err
    out, _ = capsys.readouterr()
    assert out == f"{path}: ok (1 layer, 0 params)\n"


@pytest.mark.parametrize("command", ["train", "eval"])
def test_data_help_names_every_dataset(command, capsys):
    """--data's help lists the datasets from their registry (it had left out cifar10)."""
    from cnnspec.ir.datasets import DATASETS

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split("options:")[1].split())
    data_help = text[text.index("--data DATA"):text.index("--data-dir")]
    for name in DATASETS:
        assert (name if name != "npz" else "npz:PATH") in data_help, (name, data_help)


def _readme_command_rows() -> dict[str, str]:
    """README's table of commands: the row of each command (first cell and what it does)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Commands"):readme.index("Every command answers")]
    return {line.split()[2].rstrip("`"): line for line in table.splitlines()
            if line.startswith("| `cnnspec ")}


def test_readme_names_every_option_of_every_command():
    """A newcomer reads the options in README's table of commands (or in the lines right after
    it, for those many commands share): none a command takes is left out."""
    import argparse

    from cnnspec.cli import build_parser

    rows = _readme_command_rows()
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    shared = readme[readme.index("Data: `digits`"):readme.index("Every command answers")]
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices
    missing = []
    for name, parser in commands.items():
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:  # an old spelling still read, not taught
                continue
            written = [o for o in action.option_strings if o not in ("-h", "--help")]
            if written and not any(re.search(rf"(?<![\w-]){o}(?![\w-])", rows.get(name, "") +
                                             shared) for o in written):
                missing.append(f"{name} {written[-1]}")
    assert missing == [], "\n".join(missing)


def test_data_dir_is_the_same_option_on_every_command_that_loads_data():
    """--data-dir is declared once: every command that takes it says where the cache is by
    default in the same words, and README lists exactly those commands."""
    import argparse

    from cnnspec.cli import build_parser
    from cnnspec.usercache import CACHE_DIR_TEXT

    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices
    taking = {name: action for name, parser in commands.items() for action in parser._actions
              if "--data-dir" in action.option_strings}
    for name, action in taking.items():
        assert action.help.startswith("where downloaded datasets are cached (default "), name
        assert action.help.endswith(f"{CACHE_DIR_TEXT})"), (name, action.help)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"on every\s+command that loads data \(([^)]*)\)", readme).group(1)
    assert sorted(taking) == sorted(re.findall(r"`([\w-]+)`", listed))


def _fenced_blocks(page: str) -> list[str]:
    """The untagged ``` blocks of a docs page, in order."""
    return re.findall(r"^```\n(.*?)^```$", page, flags=re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", ["how-to-initialise.md"])
def test_docs_check_transcripts_are_what_check_prints(page, tmp_path, monkeypatch, capsys):
    """Every `$ cnnspec check SPEC` transcript of a docs page, run: SPEC is a spec of the
    repository (`specs/zeros.cnn`) or one the page writes out in a block that starts with
    `# NAME.cnn`; the warnings (stderr) and the verdict (stdout) are the block's lines."""
    root = SPECS.parent
    blocks = _fenced_blocks((root / "docs" / page).read_text(encoding="utf-8"))
    written = {block.split()[1].rstrip(":"): block for block in blocks
               if re.match(r"# [\w-]+\.cnn\b", block)}
    transcripts = [block for block in blocks if block.startswith("$ cnnspec check ")]
    assert transcripts
    for block in transcripts:
        command, *expected = block.rstrip("\n").split("\n")
        path = command.split()[-1]
        if path in written:
            monkeypatch.chdir(tmp_path)
            (tmp_path / path).write_text(written[path], encoding="utf-8")
        else:
            monkeypatch.chdir(root)
        main(command.split()[2:])
        out, err = capsys.readouterr()
        assert (err + out).rstrip("\n").split("\n") == expected, command


def _save_npz(path, channels=1, classes=3, images=30):
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(path, x=rng.random((images, channels, 8, 8), np.float32),
             y=np.arange(images) % classes)


def test_check_reads_an_npz_file_and_refuses_what_train_would(write, tmp_path, capsys,
                                                               monkeypatch):
    """An npz file's shapes are known only once it is read: check reads it, so a file that is
    missing, damaged or does not fit the network is refused by check, at the data setting or
    the layer it does not fit, as train refuses it."""
    monkeypatch.chdir(tmp_path)  # the spec's path is relative, as train reads it
    path = write("net.cnn", NPZ_SPEC)
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert (f"{path}:6:3: error: npz file not found: data.npz (looked for at "
            f"{tmp_path / 'data.npz'})\n") in err
    assert ('    data npz(path="data.npz")\n    ^^^^^^^^^^^^^^^^^^^^^^^^^\n'
            'hint: check the path') in err
    assert "moved" not in err  # no run read it before
    assert "(a relative one is read from the folder the command runs in)" in err
    (tmp_path / "data.npz").write_text("not a zip archive")
    assert main(["check", path]) == 2
    assert f"{path}:6:3: error: cannot read data.npz: not a .npz file" in capsys.readouterr().err
    _save_npz(tmp_path / "data.npz", channels=3, classes=5)
    for command in ("check", "train"):
        assert main([command, path, *(["--out", "run"] if command == "train" else [])]) == 2
        err = capsys.readouterr().err
        assert f"{path}:1:1: error: the input is 1x8x8, but the npz images are 3x8x8" in err
        assert (f"{path}:4:11: error: the output 'fc' gives 3 scores, but npz has 5 classes"
                in err)
    assert not (tmp_path / "run").exists()
    _save_npz(tmp_path / "data.npz")
    assert main(["check", path]) == 0
    assert capsys.readouterr().out == f"{path}: ok (4 layers, 475 params)\n"


def test_an_npz_path_too_long_for_the_file_system_is_a_file_not_found(write, tmp_path, capsys,
                                                                     monkeypatch):
    """check and train of `data npz("yyy...")` with a name of 5000 characters ended in
    OSError's traceback 'File name too long' (pathlib's is_file() raises it)."""
    monkeypatch.chdir(tmp_path)
    path = write("net.cnn", NPZ_SPEC.replace("data.npz", "y" * 5000))
    for command in ("check", "train"):
        assert main([command, path, *(["--out", "run"] if command == "train" else [])]) == 2
        err = capsys.readouterr().err
        assert (f"{path}:6:3: error: npz file not found (its name is too long for the file "
                "system): ") in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def _error_block(err: str) -> str:
    """The error of ``err``: its line, the source line, the caret and the hint."""
    return err[err.index(": error: "):]


@pytest.mark.parametrize("written, looked_for", [
    ("data.npz", "{cwd}/data.npz"),  # relative: the folder the command runs in, not the spec's
    ("../elsewhere/my dätä.npz", "{parent}/elsewhere/my dätä.npz"),  # its `..` taken
    ("~/gone.npz", "{home}/gone.npz"),
    # no such user: left as written, as a shell leaves it (train's pathlib raised RuntimeError)
    ("~nouser-cnnspec/gone.npz", "{cwd}/~nouser-cnnspec/gone.npz"),
    ("{cwd}/data.npz", None),  # absolute: looked for where it says
])
def test_check_train_and_summary_name_a_missing_npz_file_alike(written, looked_for, write,
                                                                  tmp_path, capsys, monkeypatch):
    """train made the path absolute before it looked (`npz file not found: /tmp/x/data.npz`,
    hint "check the path") where check named it as written (`data.npz`, the folder it is read
    from in the hint). Each now names it as written and where it was looked for."""
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir(), home.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    written = written.format(cwd=cwd)
    path = write("net.cnn", NPZ_SPEC.replace("data.npz", written))  # not in the folder it runs
    shown = f"npz file not found: {written}"
    if looked_for is not None:
        shown += f" (looked for at {looked_for.format(cwd=cwd, home=home, parent=tmp_path)})"
    blocks = []
    for argv in (["check", path], ["train", path, "--out", "run"]):
        assert main(argv) == 2
        blocks.append(_error_block(capsys.readouterr().err))
    assert blocks[0] == blocks[1]
    assert blocks[0].startswith(f": error: {shown}\n"), blocks[0]
    assert not (cwd / "run").exists()
    # summary, which reads no data, warns of it as the two refuse it
    assert main(["summary", path]) == 0
    assert f"{path}:6:3: warning: {shown}; train and check refuse" in capsys.readouterr().err


def test_summary_warns_of_an_npz_name_too_long_for_the_file_system_as_check_refuses_it(
        write, tmp_path, capsys, monkeypatch):
    """summary's look for the file raised ENAMETOOLONG (a traceback) where check and train
    say that no file has that name."""
    monkeypatch.chdir(tmp_path)
    path = write("net.cnn", NPZ_SPEC.replace("data.npz", "n" * 300 + ".npz"))
    said = "npz file not found (its name is too long for the file system): nnn"
    for argv in (["check", path], ["train", path, "--out", "run"]):
        assert main(argv) == 2
        assert f"{path}:6:3: error: {said}" in capsys.readouterr().err
    assert main(["summary", path]) == 0
    assert f"{path}:6:3: warning: {said}" in capsys.readouterr().err


def test_an_npz_path_from_the_home_folder_is_read_by_check_as_train_reads_it(
        write, tmp_path, capsys, monkeypatch):
    """check refused `data npz("~/data.npz")` (no such file '~/data.npz') that train read."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path / "..")
    _save_npz(tmp_path / "data.npz")
    path = write("net.cnn", NPZ_SPEC.replace("data.npz", "~/data.npz"))
    assert main(["check", path]) == 0
    assert main(["summary", path, "--strict"]) == 0
    assert main(["train", path, "--out", str(tmp_path / "run"), "--quiet"]) == 0
    recorded = json.loads((tmp_path / "run" / "spec.json").read_text())["training"]["data"]
    assert recorded["path"] == str(tmp_path / "data.npz")  # found again from any folder


@pytest.mark.parametrize("name", ["a\x00b.npz", "a\x1b[31mb.npz", "a\rb\nc.npz"])
def test_control_characters_of_an_npz_path_are_escaped(name, write, tmp_path, capsys,
                                                       monkeypatch):
    """A path from --data (a NUL byte, which no file name holds, a line's end) or a spec's
    string (an escape sequence) is named escaped, in the message itself too, so that neither
    the terminal nor a library caller printing the error is handed them."""
    from cnnspec import Settings, train

    monkeypatch.chdir(tmp_path)
    path = write("net.cnn", NPZ_SPEC.replace('npz(path="data.npz")', "digits"))
    escaped = name.encode("unicode_escape").decode()
    assert main(["train", path, "--data", f"npz:{name}", "--out", "run"]) == 2
    err = capsys.readouterr().err
    assert f"npz file not found: {escaped} (looked for at {tmp_path}/{escaped})" in err
    assert not any(char in err for char in "\x00\x1b\r")
    if "\x1b" in name:  # a spec's string holds no NUL (binary) nor a line's end
        spec = write("raw.cnn", NPZ_SPEC.replace("data.npz", name))
        assert main(["check", spec]) == 2
        assert f"npz file not found: {escaped} (" in capsys.readouterr().err
    with pytest.raises(SpecErrors) as raised:
        train(path, Settings(data=f"npz:{name}"), run_dir=tmp_path / "run2")
    message = raised.value.errors[0].message
    assert message.startswith(f"npz file not found: {escaped} (")
    assert not any(char in message for char in "\x00\x1b\r")


def test_summary_describes_a_spec_whose_npz_file_is_missing_and_warns_that_train_refuses_it(
        write, tmp_path, capsys, monkeypatch):
    """summary needs no data to describe the network, but a missing data file is what train
    and check would stop at: a warning at the data setting (an error with --strict)."""
    monkeypatch.chdir(tmp_path)
    path = write("net.cnn", NPZ_SPEC)
    assert main(["summary", path]) == 0
    out, err = capsys.readouterr()
    assert "Total params: 475" in out
    assert (f"{path}:6:3: warning: npz file not found: data.npz (looked for at "
            f"{tmp_path / 'data.npz'}); train and check refuse the spec until it is there "
            "[data-fit]\n") in err
    assert main(["summary", path, "--strict"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"{path}:6:3: error: npz file not found: data.npz" in err
    _save_npz(tmp_path / "data.npz")
    assert main(["summary", path, "--strict"]) == 0
    assert capsys.readouterr().err == ""


def test_summary_reads_an_npz_file_s_image_shape_from_its_header_and_warns_of_a_misfit(
        write, tmp_path, capsys, monkeypatch):
    """Images the file declares (its header, not its data) that do not fit the input are what
    train and check would refuse: a warning at the input, an error with --strict; a file
    summary cannot read so is left to check, which reads it as train does."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    path = write("net.cnn", NPZ_SPEC)
    _save_npz(tmp_path / "data.npz", channels=3)
    assert main(["summary", path]) == 0
    err = capsys.readouterr().err
    assert (f"{path}:1:1: warning: the input is 1x8x8, but the npz images are 3x8x8 (train "
            "and check refuse the spec) [data-fit]\n") in err
    assert main(["summary", path, "--strict"]) == 2
    assert f"{path}:1:1: error: the input is 1x8x8, but the npz" in capsys.readouterr().err
    # (N, H, W) images are one channel each, as train reads them; compressed as well
    np.savez_compressed(tmp_path / "data.npz", x=np.zeros((6, 8, 8), np.uint8), y=np.arange(6) % 3)
    assert main(["summary", path, "--strict"]) == 0
    np.savez_compressed(tmp_path / "data.npz", x=np.zeros((6, 8, 8, 1), np.uint8),
                        y=np.arange(6) % 3)
    assert main(["summary", path]) == 0
    assert "the images look stored channels-last" in capsys.readouterr().err
    for damaged in (b"PK\x03\x04 cut short", b"not a zip archive"):
        (tmp_path / "data.npz").write_bytes(damaged)
        assert main(["summary", path, "--strict"]) == 0
        assert capsys.readouterr().err == ""
        assert main(["check", path]) == 2
        assert f"{path}:6:3: error: cannot read data.npz" in capsys.readouterr().err


def test_check_of_a_json_ir_locates_an_unreadable_npz_file_at_its_path(write, tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", write("net.cnn", NPZ_SPEC), "-o", "net.json"]) == 0
    assert main(["check", "net.json"]) == 2
    err = capsys.readouterr().err
    assert "net.json: $.training.data: error: npz file not found: data.npz" in err
    assert "\nhint: check the path" in err


def test_check_reports_a_spec_s_warnings_beside_its_npz_file_s_errors(write, tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    _save_npz(tmp_path / "data.npz", classes=5)
    path = write("net.cnn", NPZ_SPEC.replace("conv 4 3x3 relu", "conv 4 3x3 weight zeros relu"))
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:16: warning: all 4 filters of c1 start identical" in err
    assert f"{path}:4:11: error: the output 'fc'" in err


def test_a_batch_larger_than_an_npz_file_s_images_is_warned_about_by_check_and_train(
        write, tmp_path, capsys, monkeypatch):
    """An npz file's images are counted once it is read: check and train then give the
    warning a built-in dataset gets before reading, at the batch setting; --strict refuses."""
    monkeypatch.chdir(tmp_path)
    _save_npz(tmp_path / "data.npz")
    path = write("net.cnn", NPZ_SPEC.replace("batch_size 8", "batch_size 64"))
    warning = (f"{path}:7:3: warning: batch 64 is more than all 30 images of npz "
               "(training, validation and test together): each epoch is a single step")
    assert main(["check", path]) == 0
    out, err = capsys.readouterr()
    # the default, 64, is not below 30: an eighth of the images
    assert warning in err and "hint: use a batch well below 30, e.g. 3\n" in err
    assert out == f"{path}: ok (4 layers, 475 params; 1 warning)\n"
    assert main(["check", "--strict", path]) == 2
    assert warning.replace("warning:", "error:") in capsys.readouterr().err
    assert main(["train", path, "--epochs", "1", "--out", "run", "--quiet"]) == 0
    assert warning in capsys.readouterr().err
    _save_npz(tmp_path / "data.npz", images=64)  # a batch of all the images: no warning
    assert main(["check", path]) == 0
    assert "warning" not in capsys.readouterr().err


def test_an_npz_file_with_a_member_stored_twice_is_refused_by_check_and_train(
        write, tmp_path, capsys, monkeypatch):
    """NumPy would read the last of two ``x.npy`` entries and ignore the first."""
    import zipfile

    monkeypatch.chdir(tmp_path)
    _save_npz(tmp_path / "data.npz")
    with zipfile.ZipFile(tmp_path / "data.npz", "a") as archive:
        x = archive.read("x.npy")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("x.npy", x)
    path = write("net.cnn", NPZ_SPEC)
    message = "data.npz as a .npz file: member 'x.npy' is stored 2 times"
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:6:3: error: cannot read {message}" in err
    assert "hint: save it with np.savez" in err
    assert main(["train", path, "--out", "run"]) == 2  # as check: at the data line
    err = capsys.readouterr().err
    assert f"{path}:6:3: error: cannot read" in err and message in err
    assert "hint: save it with np.savez" in err
    assert not (tmp_path / "run").exists()


def test_check_does_not_warn_of_a_shrink_the_engine_does_not_show(write, capsys):
    """Ten ReLU layers of a fixed kernel of mixed signs whose sum nearly cancels the mean it
    reads: the engine holds the scale near 0.15 (tests/test_check.py), where check warned
    that it shrinks 1.56e3x."""
    path = write("mixed.cnn", mixed_stack(MIXED, "relu"))
    assert main(["check", "--strict", path]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: ok (24 layers, 760 params)\n"
    assert err == ""


def test_an_npz_setting_naming_a_folder_is_told_to_name_the_file(write, tmp_path, capsys,
                                                                  monkeypatch):
    """A folder given where the .npz file is wanted (the folder of the arrays, a run folder):
    check says it is a folder, not that no file is found, and names the folder's .npz files
    (or how to write one); summary warns of it as train and check refuse it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "arrays").mkdir()
    path = write("net.cnn", NPZ_SPEC.replace("data.npz", "arrays"))
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:6:3: error: arrays is a folder, not an .npz file\n" in err
    assert "hint: name an .npz file; save it with np.savez(PATH, x=images, y=labels)" in err
    _save_npz(tmp_path / "arrays" / "digits.npz")
    assert main(["check", path]) == 2
    assert "hint: name the .npz file itself: arrays/digits.npz\n" in capsys.readouterr().err
    assert main(["summary", path]) == 0
    assert (f"{path}:6:3: warning: arrays is a folder, not an .npz file; train and check "
            "refuse the spec [data-fit]\n") in capsys.readouterr().err


def _release_readers(pipe, done: threading.Event) -> None:
    """Open ``pipe`` for writing and close it whenever a reader waits on it, until ``done``:
    a command that opens it gets an empty file instead of waiting forever."""
    while not done.wait(0.2):
        try:
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader waiting (ENXIO)
            pass


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_summary_warns_of_an_npz_setting_naming_a_pipe_without_opening_it(write, tmp_path,
                                                                          capsys, monkeypatch):
    """summary read the header of the file an npz setting names, which for a pipe waited for a
    writer forever; it warns of it as check and train refuse it."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "pipe.npz")
    path = write("net.cnn", NPZ_SPEC.replace("data.npz", "pipe.npz"))
    done = threading.Event()
    releaser = threading.Thread(target=_release_readers, args=(tmp_path / "pipe.npz", done))
    releaser.start()
    try:
        assert main(["summary", path]) == 0
    finally:
        done.set()
        releaser.join()
    assert (f"{path}:6:3: warning: pipe.npz is not a regular file (a device, a pipe or a "
            "socket); train and check refuse the spec [data-fit]\n") in capsys.readouterr().err
