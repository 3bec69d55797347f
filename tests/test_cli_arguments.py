"""Bad option values are usage errors (exit 2) that name the option and say what was wrong."""
import pytest

from cnnspec.cli import main


@pytest.mark.parametrize("argv, message", [
    (["train", "specs/digits.cnn", "--epochs", "x"], "--epochs: expected a whole number, got 'x'"),
    (["train", "specs/digits.cnn", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
    (["train", "specs/digits.cnn", "--seed", "-1"], "--seed: must be 0 or more, got -1"),
    (["train", "specs/digits.cnn", "--lr", "-0.1"], "--lr: must be a positive number, got -0.1"),
    (["train", "specs/digits.cnn", "--lr", "inf"], "--lr: must be a positive number, got inf"),
    (["compare", "specs/digits.cnn", "--target", "1.5"], "--target: must be in (0, 1], got 1.5"),
    (["compare", "specs/digits.cnn", "--lr", "abc"], "--lr: expected a number, got 'abc'\n"),
    # a number mistyped as a spec's number is (syntax_errors.number_run_on): said alike
    (["train", "specs/digits.cnn", "--lr", "1e"], ("--lr: expected a number, got '1e' (an "
     "exponent is written with its digits: 1e3 is 1 x 10^3, 1e-3 is 1 x 10^-3; or write 1 "
     "alone)")),
    (["train", "specs/digits.cnn", "--epochs", "2.5e-"], ("--epochs: expected a whole number, "
     "got '2.5e-' (an exponent is written with its digits: 2.5e3 is 2.5 x 10^3")),
    (["init-report", "specs/digits.cnn", "--batch-size", "0"],
     "--batch-size: must be at least 1, got 0"),
])
def test_bad_option_value_is_a_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text, size", [("512M", 512 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29),
                                        ("4194304", 4 << 20), ("64kb", 64 << 10)])
def test_memory_sizes_read_with_their_units(text, size):
    from cnnspec.cli.arguments import memory_size

    assert memory_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "G"])
def test_a_bad_memory_size_is_a_usage_error(text, capsys):
    from cnnspec.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["check", "specs/digits.cnn", "--max-memory", text])
    assert exit_info.value.code == 2 and "--max-memory" in capsys.readouterr().err


def test_a_memory_size_without_a_unit_below_a_mebibyte_is_refused(capsys):
    """`--max-memory 5` is 5 bytes, almost surely meant as 5G or 5M: said, with the units."""
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--max-memory", "5", "specs/digits.cnn"])
    assert exit_info.value.code == 2
    assert "write the unit, such as 5M or 5G" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["summary", "check", "diagram", "time"])
def test_a_run_folder_given_as_a_spec_points_to_its_spec(command, tmp_path, capsys):
    """`cnnspec summary runs/x` (the run's network, a newcomer expects): the folder is not a
    spec, and the message names the spec it keeps."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text("{}")
    (run / "spec.cnn").write_text("input 1x8x8\nflatten\ndense 10\n")
    argv = [command, str(run)] + (["-o", str(tmp_path / "d.svg")] if command == "diagram" else [])
    try:
        code = main(argv)  # check reads every spec it is given, then returns 2
    except SystemExit as exc:  # the others stop at the argument
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert f"{run} is a run folder, not a spec file; its spec is {run / 'spec.cnn'}" in err


@pytest.mark.parametrize("argv, message", [
    (["diagram", "specs/digits.cnn", "--output=--"], "-o/--output: "),
    (["init-report", "specs/digits.cnn", "--output=--"], "-o/--output: "),
    (["train", "specs/digits.cnn", "--epochs=--"], "--epochs: expected a whole number, got '--'"),
    (["check", "specs/digits.cnn", "--dtype=--"], "--dtype: invalid choice: '--'"),
])
def test_an_option_given_dashes_as_its_value_reads_them(argv, message, capsys):
    """`--output=--` gives the value '--': Python 3.11's argparse dropped it as the end of the
    options and handed the option an empty list (diagram ended in a TypeError traceback,
    init-report drew nothing and said nothing)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "'--'" in err


REPORTING = ["summary", "time", "init-report", "compare", "sweep", "eval", "predict"]


@pytest.mark.parametrize("command", REPORTING)
def test_every_report_takes_text_and_table_alike_and_json(command):
    """One --format for every command that reports: the readable form is asked for by either
    word (summary's was `table`, eval's `text`, and a user should not have to know which)."""
    from cnnspec.cli import build_parser, command_parser

    parser = command_parser(build_parser(), command)
    formats = next(action for action in parser._actions if action.dest == "format")
    assert formats.choices == ("text", "table", "json") and formats.default == "text"


@pytest.mark.parametrize("word", ["table", "text"])
def test_the_readable_report_is_the_same_by_either_word(word, capsys):
    from pathlib import Path

    spec = str(Path(__file__).parent.parent / "specs" / "digits.cnn")
    assert main(["summary", spec, "--format", word]) == 0
    assert capsys.readouterr().out.startswith("Model: digits")


def _batch_options(command: str) -> list[tuple[str, ...]]:
    """The option strings of each option of ``command`` that sets its batch size."""
    from cnnspec.cli import build_parser, command_parser

    parser = command_parser(build_parser(command), command)
    return [tuple(action.option_strings) for action in parser._actions
            if action.dest == "batch_size"]


@pytest.mark.parametrize("command", ["train", "compare", "init-report", "time", "sweep"])
def test_every_command_that_takes_a_batch_size_spells_it_alike(command):
    """One spelling, --batch-size, for every command with a batch (time and init-report once
    took only --batch, and refused --batch-size as a training setting); --batch is read too."""
    assert _batch_options(command) == [("--batch-size",), ("--batch",)]


def test_the_commands_without_a_batch_option_take_none_by_another_name():
    from cnnspec.cli import COMMANDS

    spelled = {name for name in COMMANDS if _batch_options(name)}
    assert spelled == {"train", "compare", "init-report", "time", "sweep"}


@pytest.mark.parametrize("option", ["--batch-size", "--batch"])
def test_time_and_init_report_read_their_batch_by_either_spelling(option, capsys):
    """`cnnspec time SPEC --batch-size 32` was refused ("'batch_size' is a training setting")."""
    import json

    assert main(["time", "specs/digits.cnn", option, "3", "--iterations", "1", "--format",
                 "json"]) == 0
    assert json.loads(capsys.readouterr().out)["batch"] == 3
    assert main(["init-report", "specs/digits.cnn", "--input", "gaussian", option, "3",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["batch"] == 3


@pytest.mark.parametrize("command", ["train", "compare", "init-report", "time", "sweep"])
def test_both_spellings_of_the_batch_at_once_are_refused_not_the_last_taken(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "specs/digits.cnn", "--batch-size", "4", "--batch", "8"])
    assert exit_.value.code == 2
    assert "argument --batch: not allowed with argument --batch-size" in capsys.readouterr().err


def _output_options(command: str) -> list[tuple[str, ...]]:
    """The option strings of each option of ``command`` that names the file it writes."""
    from cnnspec.cli import build_parser, command_parser

    parser = command_parser(build_parser(command), command)
    return [tuple(action.option_strings) for action in parser._actions
            if action.dest == "output" or "-o" in action.option_strings]


WRITERS = ["export", "import", "data", "diagram", "filters", "features", "init-report",
           "compare"]


@pytest.mark.parametrize("command", WRITERS)
def test_every_command_that_writes_a_file_names_it_by_one_long_option(command):
    """-o is --output wherever it is taken (export and import once called it --out); their
    --out is still read, as an option of its own."""
    once_out = [("--out",)] if command in ("export", "import") else []
    assert _output_options(command) == [("-o", "--output")] + once_out


def test_the_commands_without_an_output_file_take_none_by_another_name():
    from cnnspec.cli import COMMANDS

    assert {name for name in COMMANDS if _output_options(name)} == set(WRITERS)


@pytest.mark.parametrize("command", ["export", "import"])
def test_the_help_names_one_spelling_of_the_output(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    shown = capsys.readouterr().out
    assert "-o FILE, --output FILE" in shown or "-o SPEC.cnn, --output SPEC.cnn" in shown
    assert "--out " not in shown


EXPORTED = ["export", "specs/digits.cnn"]
IMPORTED = ["import", "tests/data/import/mnist_convnet.json"]


@pytest.mark.parametrize("option", ["-o", "--output", "--out"])
@pytest.mark.parametrize("argv, name", [(EXPORTED, "ir.json"), (IMPORTED, "model.cnn")])
def test_export_and_import_write_their_file_by_every_spelling(argv, name, option, tmp_path,
                                                              monkeypatch, capsys):
    from pathlib import Path

    root = Path(__file__).parent.parent
    monkeypatch.chdir(root)
    out = tmp_path / name
    assert main([*argv, option, str(out)]) == 0
    assert out.stat().st_size > 0
    said = capsys.readouterr()
    assert f"wrote {out}" in said.out + said.err


@pytest.mark.parametrize("argv", [EXPORTED, IMPORTED])
def test_both_spellings_of_the_output_at_once_are_refused_not_the_last_taken(argv, tmp_path,
                                                                             monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent.parent)
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--output", str(tmp_path / "a.cnn"), "--out", str(tmp_path / "b.cnn")])
    assert exit_.value.code == 2
    assert "argument --out: not allowed with argument -o/--output" in capsys.readouterr().err


def test_a_mistake_in_the_older_spelling_names_it_as_typed(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent.parent)
    with pytest.raises(SystemExit) as exit_:
        main([*EXPORTED, "--out", str(tmp_path / "missing" / "ir.json")])
    assert exit_.value.code == 2
    assert "argument --out: the folder" in capsys.readouterr().err
