"""Every `cnnspec ...` command README.md and docs/*.md show in their code: each reads as the
command line reads it (no option renamed or dropped since the page was written, every file of
the repository it names still there), and those that run in a second or two, training nothing,
run as shown and succeed; README's Python API block runs as written. Commands that train,
and the long diagnostics (`--phase`, `--jacobian`), are only read here: the tests of each
command run it on smaller nets."""
from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
from pathlib import PurePosixPath

import pytest
from readme_blocks import PAGES, README, shown_commands

from cnnspec.cli import build_parser, command_parser, main

ROOT = README.parent
# A synopsis rather than a command: `SPEC|RUN`, `A`, `[--format json]`.
PLACEHOLDER = re.compile(r"^\[|^[A-Z|]+\]?$")
# Commands that read and check specs and models but run no network.
NO_NETWORK = ("check", "summary", "fmt", "import")
# The most multiply-adds a shown init-report may take to be run here: the digits net's
# forward pass over its default batch of 64 images is 6e7 of them, two inits' 1.2e8.
MAX_MULTIPLY_ADDS = 2 * 10**8

SHOWN = [(page, number, words) for page in PAGES for number, words in shown_commands(page)]


def help_commands() -> list[tuple[PurePosixPath, int, list[str]]]:
    """The ``cnnspec`` command lines each command's --help shows below its options (its
    examples, on lines of their own or run on, separated by ``;``), as ``(cnnspec NAME --help,
    number, words)``: a help text is a page of its own."""
    from cnnspec.cli import COMMANDS as NAMES

    found = []
    for name in NAMES:
        epilog = (command_parser(build_parser(name), name).epilog or "").replace("\\\n", " ")
        texts = re.findall(rf"cnnspec (?:{'|'.join(NAMES)}) [^;\n#]*", epilog)
        found += [(PurePosixPath(f"cnnspec {name} --help"), number, shlex.split(text))
                  for number, text in enumerate(texts, start=1)]
    return found


HELP_SHOWN = help_commands()
COMMANDS = [shown for shown in SHOWN + HELP_SHOWN
            if not any(PLACEHOLDER.match(w) for w in shown[2])]


def shown_id(shown) -> str:
    page, number, _ = shown
    return f"{page.name}:{number}"


def repository_paths(words: list[str]) -> list[str]:
    """The arguments that name a file or folder of the repository (`specs/digits.cnn`,
    `tests/data/import/lenet.prototxt`)."""
    return [word for word in words if re.match(r"(specs|tests|docs|tools)/", word)]


def test_readmes_table_of_commands_has_a_row_for_each_command():
    """README's table of commands, row by row, is the command line's commands in their order
    (a command added to the CLI gets its row)."""
    from cnnspec.cli import COMMANDS as NAMES

    rows = re.findall(r"^\| `cnnspec ([\w-]+)", README.read_text(encoding="utf-8"),
                      re.MULTILINE)
    assert rows == list(NAMES)


def test_the_pages_show_commands():
    """The reader below finds the commands (a change of the pages' layout that hid them all
    would leave the tests below with nothing to run)."""
    shown = {(page.name, tuple(words[:2])) for page, _, words in SHOWN}
    assert ("README.md", ("cnnspec", "init-report")) in shown
    assert ("how-to-initialise.md", ("cnnspec", "compare")) in shown
    assert len(COMMANDS) >= 20
    helps = {(page.name, len(words) > 2) for page, _, words in HELP_SHOWN}
    assert {("cnnspec diagram --help", True), ("cnnspec train --help", True),
            ("cnnspec init-report --help", True), ("cnnspec sweep --help", True)} <= helps


@pytest.mark.parametrize("shown", COMMANDS, ids=shown_id)
def test_a_shown_command_reads_as_the_command_line_reads_it(shown, tmp_path, monkeypatch):
    """Read in a folder holding the repository's files it names and, for the files and run
    folders the reader brings or an earlier command makes (`lenet_solver.prototxt`,
    `runs/zeros`), empty stand-ins: the command line checks only that they are there."""
    _, _, words = shown
    name, *arguments = words[1:]
    missing = [path for path in repository_paths(arguments) if not (ROOT / path).exists()]
    assert missing == []
    copy_repository_files(words, tmp_path)
    for word in set(arguments) - set(repository_paths(arguments)) - set(output_files(words)):
        if word.startswith("runs/"):
            (tmp_path / word).mkdir(parents=True)
            (tmp_path / word / "summary.json").touch()  # what marks a folder as a run's
        elif re.fullmatch(r"[\w.-]+\.(cnn|json|prototxt|keras|cfg|onnx)", word):
            (tmp_path / word).touch()
    monkeypatch.chdir(tmp_path)
    parser = command_parser(build_parser(name), name)
    parser.parse_intermixed_args(arguments)  # an unknown option or a bad value exits


def copy_repository_files(words: list[str], folder) -> None:
    """Copies in ``folder`` of the repository's files a command names, at the same paths."""
    for path in repository_paths(words):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, folder / path)


def runs_in_seconds(words: list[str]) -> bool:
    """Whether a shown command trains nothing, runs at most an init-report's forward and
    backward passes of ``MAX_MULTIPLY_ADDS``, and reads only files of the repository (a
    command on a file an earlier one writes, `summary lenet.cnn`, is left to those above)."""
    import cnnspec

    name, *arguments = words[1:]
    inputs = [word for word in arguments
              if re.search(r"\.(cnn|json|prototxt|keras|cfg|onnx)$", word)]
    if any(not (ROOT / word).exists() for word in inputs if word not in output_files(words)):
        return False
    if name in NO_NETWORK:
        return True
    if name == "export":
        return "runs/" not in " ".join(arguments) and "onnx" not in arguments
    if name != "init-report" or {"--phase", "--jacobian"} & set(arguments):
        return False
    batch = command_parser(build_parser(name), name).parse_intermixed_args(arguments).batch_size
    inits = max(1, arguments.count("--init"))
    return cnnspec.load(str(ROOT / arguments[0])).macs * batch * inits <= MAX_MULTIPLY_ADDS


def output_files(words: list[str]) -> list[str]:
    """The files a command line names with ``-o``."""
    return [word for option, word in itertools.pairwise(words) if option in ("-o", "--output")]


QUICK = [shown for shown in COMMANDS if runs_in_seconds(shown[2])]


def test_some_shown_commands_are_run():
    assert len(QUICK) >= 4, [shown_id(shown) for shown in QUICK]


@pytest.mark.parametrize("shown", QUICK, ids=shown_id)
def test_a_quick_shown_command_runs_as_shown(shown, tmp_path, monkeypatch, capsys):
    """Run in a folder of its own holding copies of the repository's files it names, so that
    what it writes (`-o signal.png`) lands there and no spec of the repository is touched."""
    _, _, words = shown
    copy_repository_files(words, tmp_path)
    monkeypatch.chdir(tmp_path)
    code = main(words[1:])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    for written in output_files(words):
        assert (tmp_path / written).is_file(), written


def test_readmes_python_api_block_runs_as_shown(tmp_path, monkeypatch, capsys):
    """README's Python API block, run as written (on the images it leaves to the reader: two
    random 8x8 ones): its comments' figures are what the calls give."""
    import numpy as np

    readme = README.read_text(encoding="utf-8")
    block = readme[readme.index("## Python API"):].split("```python\n")[1].split("```")[0]
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    names = {"images": np.random.default_rng(0).random((2, 1, 8, 8))}
    exec(compile(block, "README.md", "exec"), names)  # noqa: S102 - the page's own code
    said = re.search(r"print\(spec\.total_params\)\s+# (\d+)", block)
    assert names["spec"].total_params == int(said[1])
    assert names["scores"].shape == (2, 10)
    assert names["probabilities"].shape == (2, 10)
    assert names["run"].weights == "best"
    capsys.readouterr()


def help_text(name: str) -> str:
    """``cnnspec NAME --help`` as printed on a terminal wide enough that no line wraps: argparse
    wraps to ``$COLUMNS`` and breaks words at hyphens ("dark-" "on-light"), which joining the
    lines back would not undo."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "10000"
    try:
        text = command_parser(build_parser(name), name).format_help()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return " ".join(text.replace("\\\n", " ").split())


def test_the_figures_a_help_gives_are_the_codes():
    """Limits a --help states that the code declares once, where the command's module cannot
    read them without loading what `cnnspec --help` must not (NumPy, the renderer)."""
    from cnnspec.render.augment_grid import MAX_PER_CLASS
    from cnnspec.render.backend import PDF_DPI

    for name, pattern, value in (("diagram", r"a \.pdf is then a (\d+) dpi image", PDF_DPI),
                                 ("data", r"--per-class K .*?at most (\d+)\)", MAX_PER_CLASS)):
        said = re.search(pattern, help_text(name))
        assert said, f"{name} --help no longer says {pattern!r}"
        assert int(said[1]) == value, (name, said[0], value)


def test_the_jacobian_work_init_reports_help_gives_is_what_it_computes(monkeypatch, capsys):
    """`init-report --help` says how many FLOPs its --jacobian example computes: the figure
    the command itself says before it starts (stopped here before it draws its batch)."""
    from cnnspec.errors import RunError
    from cnnspec.lab import jacobian

    said = re.search(r"This one is ([\d.]+ \w+): cnnspec init-report (.*?) -o ",
                     help_text("init-report"))
    assert said, "init-report --help no longer gives its --jacobian example's work"

    def stop(*args, **kwargs):
        raise RunError("stopped before the first pass")

    monkeypatch.setattr(jacobian, "make_batch", stop)
    monkeypatch.chdir(ROOT)
    assert main(["init-report", *shlex.split(said[2])]) == 1
    assert f"about {said[1]} in float64" in capsys.readouterr().err


def test_predict_and_features_read_their_inputs_alike_and_say_so():
    """One loader reads both commands' INPUT (:func:`cnnspec.data.images.load_image`):
    features' help left out the (H, W) arrays, the inverted dark-on-light pictures and the
    0..255 values that predict's named."""
    from cnnspec.cli.arguments import ARRAY_INPUT, PICTURE_INPUT

    for name in ("predict", "features"):
        text = help_text(name)
        said = text[text.index("INPUT", text.index("positional")):text.index("options:")]
        assert PICTURE_INPUT in said and ARRAY_INPUT in said and "0..255" in said, name


def test_the_data_picture_is_named_as_its_help_says(tmp_path, monkeypatch, capsys):
    """`data --help` said the picture is named after the spec's name; it is named after the
    spec's file, as the help's example now says."""
    said = re.search(r"default: named after the spec's file, (\S+) for (\S+)\)", help_text("data"))
    assert said, "data --help no longer names its default picture"
    copy_repository_files(["cnnspec", "data", said[2]], tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["data", said[2]]) == 0
    assert capsys.readouterr().out == f"wrote {said[1]}\n"


def test_init_reports_output_option_names_the_picture_of_each_mode():
    """-o draws the phase diagram with --phase and the singular values with --jacobian; its
    help spoke of the statistics' picture alone."""
    text = help_text("init-report")
    at = text.index("-o FILE.png, --output FILE.png")
    said = text[at:text.index("--data-dir DIR", at)]
    assert "--phase the phase diagram" in said and "--jacobian the singular values" in said


def test_the_default_workers_and_jobs_are_as_the_helps_say(monkeypatch):
    """sweep's --workers said "one per core" where there are fewer trainings or less memory
    than cores; compare's --jobs left out that one training takes one process."""
    from cnnspec.sweep import compare, executor

    for module in (compare, executor):
        monkeypatch.setattr(module, "usable_cores", lambda: 8)
        monkeypatch.setattr(module, "trainings_that_fit", lambda process: 3)
    assert executor.default_workers(5) == 3 and executor.default_workers(2) == 2
    assert compare.default_jobs(1) == 1 and compare.default_jobs(4) == 2
    assert "(default: one per core, at most one per training and as many as fit in memory)" \
        in help_text("sweep")
    assert "(default: 2 where there are two trainings or more, two cores and memory for two, " \
        "else 1)" in help_text("compare")


def test_train_help_says_what_resume_with_epochs_does_as_readme_does():
    """README's `train --resume RUN [--epochs N]` extends a run to N epochs in all; the help
    said only that --resume continues an interrupted run."""
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert "extends a run to N epochs in all" in readme
    assert "with --epochs N, train a run on to N epochs in all" in help_text("train")


def interop_python_blocks() -> list[str]:
    """The Python blocks of docs/interop.md's PyTorch section, in order."""
    page = (ROOT / "docs" / "interop.md").read_text(encoding="utf-8")
    section = page[page.index("### PyTorch"):page.index("### What maps to what")]
    return [block.split("```")[0] for block in section.split("```python\n")[1:]]


def test_interops_pytorch_blocks_run_on_the_exports_they_name(tmp_path, monkeypatch, capsys,
                                                              tiny_digits_spec):
    """The spec's block runs on `export specs/digits.cnn --format torch -o model.py` as the
    page shows the command's words; the run's block needs a run's export (a spec's module has
    no preprocess, as the page says) and runs on one; the optimizer block runs."""
    import sys

    torch = pytest.importorskip("torch")
    from cnnspec import train

    spec_block, run_block, optimizer_block = interop_python_blocks()
    page = " ".join((ROOT / "docs" / "interop.md").read_text(encoding="utf-8").split())
    said = re.search(r"`(wrote model\.py \(class .*?\) and model\.npz) \(\.\.\.\)`", page)[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["export", str(ROOT / "specs" / "digits.cnn"), "--format", "torch",
                 "-o", "model.py"]) == 0
    assert capsys.readouterr().out.startswith(said + " (")
    spec_names = {"x": torch.randn(2, 1, 8, 8)}
    try:
        exec(compile(spec_block, "interop.md", "exec"), spec_names)  # noqa: S102
    finally:
        sys.modules.pop("model", None)
    assert spec_names["scores"].shape == (2, 10)
    with pytest.raises(AttributeError, match="preprocess"):
        exec(compile(run_block, "interop.md", "exec"), dict(spec_names))  # noqa: S102
    exec(compile(optimizer_block, "interop.md", "exec"), spec_names)  # noqa: S102
    assert len(spec_names["optimizer"].param_groups) >= 1
    run = train(tiny_digits_spec, run_dir=tmp_path / "run", curves=False, progress="none").path
    assert main(["export", str(run), "--format", "torch", "-o", "run_model.py"]) == 0
    from run_model import Tiny

    sys.modules.pop("run_model")
    run_names = {"model": Tiny().load_weights("run_model.npz").eval(),
                 "images": torch.rand(2, 1, 8, 8)}
    exec(compile(run_block, "interop.md", "exec"), run_names)  # noqa: S102
    assert run_names["scores"].shape == (2, 10)
