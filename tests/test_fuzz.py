"""A few hundred mutated specs and IR files through ``check``, ``summary`` and ``export``: every
one ends in an exit code (0, 1 or 2), never a traceback or a hang, as do damaged run folders,
pictures, arrays and data files given to a run; fuzzed command lines end
the same way, with a message, writing nothing unasked; and a few mutants that
``check`` accepts trained for two steps, whose measured peak memory stays within the estimate
``check`` gives; and a few mutants that parse run through ``check`` and a one-epoch ``train``,
which agree (both accept or both refuse). The same mutations as ``tools/fuzz.py`` (which runs
10,000+ of them), seeded, so a failure here replays exactly. The ``fuzz`` fixture
(tests/conftest.py) is that tool."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "tools" / "fuzz.py"
SPEC_MUTANTS = 160
IR_MUTANTS = 90
IMPORT_MUTANTS = 120
DAMAGED_RUNS = 6
DAMAGED_INPUTS = 30
TRAINED_MUTANTS = 20
COMMAND_LINES = 40
AGREEMENT_MUTANTS = 12
TIMED_MUTANTS = 12


def assert_clean(tally, count: int, fuzz) -> None:
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.outcomes["abandoned"] == 0, tally.hangs
    assert sum(tally.outcomes.values()) == count * len(fuzz.COMMANDS)
    assert set(tally.outcomes) <= {"exit 0", "exit 1", "exit 2"}, tally.outcomes


def test_the_sources_include_every_example_and_doc_spec(fuzz):
    texts = fuzz.example_specs()
    assert len(texts) > len(list((FUZZ.parent.parent / "specs").glob("*.cnn")))
    assert len(fuzz.example_irs(texts)) >= 13


def test_mutated_specs_end_in_an_exit_code(fuzz, tmp_path):
    rng = random.Random("test_fuzz:specs")
    texts = fuzz.example_specs()
    tally = fuzz.Tally()
    for _ in range(SPEC_MUTANTS):
        fuzz.run_case(tmp_path / "fuzz.cnn", fuzz.mutate_spec(rng.choice(texts), texts, rng),
                      tally)
    assert_clean(tally, SPEC_MUTANTS, fuzz)
    assert tally.outcomes["exit 0"] and tally.outcomes["exit 2"]  # mutants that pass and fail


CORNER_SPECS = 60


def test_corner_specs_reach_the_warnings_they_are_drawn_for(fuzz, tmp_path):
    """The generated specs are mostly valid and reach the corners of check's warnings that
    mutants of the examples seldom do; each ends in an exit code."""
    from cnnspec.check import check
    from cnnspec.errors import SpecError, SpecErrors
    from cnnspec.lang import parse

    rng = random.Random("test_fuzz:corners")
    tally, said, valid = fuzz.Tally(), set(), 0
    for _ in range(CORNER_SPECS):
        text = fuzz.corner_spec(rng)
        fuzz.run_case(tmp_path / "corner.cnn", text, tally)
        try:
            said |= {w.message for w in check(parse(text)).warnings}
            valid += 1
        except (SpecError, SpecErrors):
            continue
    assert_clean(tally, CORNER_SPECS, fuzz)
    assert valid > CORNER_SPECS / 2
    for phrase in ("the signal's scale", "the weights' gradient", "comes directly before",
                   "twice", "compute the same values", "start identical", "taps of its"):
        assert any(phrase in message for message in said), phrase


def test_other_line_endings_keep_an_example_valid(fuzz, tmp_path):
    """The line-ending mutation changes nothing the language reads: a spec that checks still
    checks with CRLF, CR or mixed line ends, a byte-order mark or no final newline."""
    rng = random.Random("test_fuzz:line endings")
    text = (Path(fuzz.ROOT) / "specs" / "x_detector.cnn").read_text(encoding="utf-8")
    tally = fuzz.Tally()
    for _ in range(20):
        fuzz.run_case(tmp_path / "fuzz.cnn", fuzz._line_endings(text, [text], rng), tally,
                      commands=(["check"],))
    assert tally.outcomes == {"exit 0": 20}, tally.tracebacks


FOREIGN_MUTANTS = 40


def test_each_spec_mutation_has_a_name_of_its_own(fuzz):
    """--mutation names them: the token edits were all named `mutation`, their closure's."""
    assert set(fuzz.SPEC_MUTATION_NAMES) == {
        "delete", "duplicate", "swap", "replace", "odd_number", "deep_brackets", "unicode",
        "truncate", "splice", "long_word", "line_endings", "written_as_elsewhere",
        "foreign_layer", "odd_setting", "odd_init_call", "long_block", "nested_repeat",
        "ignore_comment", "odd_catalogue_setting", "odd_multipliers", "large_output_bias"}


SETTING_MUTANTS = 5


@pytest.mark.parametrize("mutation", ["odd_setting", "odd_init_call", "long_block",
                                      "nested_repeat", "ignore_comment",
                                      "odd_catalogue_setting"])
def test_odd_settings_inits_and_long_blocks_end_in_an_exit_code(fuzz, tmp_path, mutation):
    """The mutations that found an lr check let pass and train diverged on, an lsuv tol that
    kept init-report rescaling for hours, and 644 bytes making 100,000 layers: each mutant
    ends in an exit code, and one check accepts finishes its init-report too."""
    rng = random.Random(f"test_fuzz:{mutation}")
    texts = fuzz.example_specs()
    tally, report = fuzz.Tally(), fuzz.Tally()
    for _ in range(SETTING_MUTANTS):
        text = fuzz.mutate_spec(rng.choice(texts), texts, rng,
                                [fuzz.SPEC_MUTATION_NAMES[mutation]])
        fuzz.run_case(tmp_path / "fuzz.cnn", text, tally)
        fuzz.run_command(["init-report", str(tmp_path / "fuzz.cnn"), "--input", "gaussian",
                          "--batch-size", "2"], text, report, hang=60, abandon=60)
    assert_clean(tally, SETTING_MUTANTS, fuzz)
    assert report.tracebacks == [] and report.hangs == [], (report.tracebacks + report.hangs)[0]


def test_a_run_of_one_mutation_makes_every_spec_mutant_by_it_alone(fuzz, monkeypatch):
    made = []
    foreign = fuzz.SPEC_MUTATION_NAMES["foreign_layer"]

    def recorded(text, others, rng):
        made.append(text)
        return foreign(text, others, rng)

    monkeypatch.setattr(fuzz, "run_case", lambda path, text, tally: None)
    fuzz.fuzz(6, 0, seed=3, mutations=[recorded])
    assert 6 <= len(made) <= 18  # one to three mutations a mutant, no corner spec unmutated


def test_another_librarys_layer_in_an_example_is_a_located_error(fuzz, tmp_path):
    """A layer line replaced by a Keras, PyTorch, Caffe or Darknet one ends in exit 2, each
    error at a line and column (its hint tries the line it suggests in the spec's place)."""
    from cnnspec.check import check
    from cnnspec.errors import SpecError, SpecErrors
    from cnnspec.lang import parse

    rng = random.Random("test_fuzz:foreign")
    texts = [path.read_text(encoding="utf-8")
             for path in sorted((Path(fuzz.ROOT) / "specs").glob("*.cnn"))]
    tally = fuzz.Tally()
    for _ in range(FOREIGN_MUTANTS):
        text = fuzz._foreign_layer(rng.choice(texts), texts, rng)
        fuzz.run_case(tmp_path / "fuzz.cnn", text, tally, commands=(["check"],))
        with pytest.raises((SpecError, SpecErrors)) as raised:
            check(parse(text))
        errors = getattr(raised.value, "errors", [raised.value])
        assert all(error.span is not None for error in errors), text
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.outcomes == {"exit 2": FOREIGN_MUTANTS}, tally.outcomes


def test_mutated_ir_files_end_in_an_exit_code(fuzz, tmp_path):
    rng = random.Random("test_fuzz:irs")
    irs = fuzz.example_irs(fuzz.example_specs())
    tally = fuzz.Tally()
    for _ in range(IR_MUTANTS):
        fuzz.run_case(tmp_path / "fuzz.json", fuzz.mutate_ir(rng.choice(irs), rng), tally)
    assert_clean(tally, IR_MUTANTS, fuzz)
    assert tally.outcomes["exit 2"]


def test_mutated_imports_end_in_an_exit_code(fuzz):
    tally = fuzz.fuzz_imports(IMPORT_MUTANTS, seed=5)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.outcomes["abandoned"] == 0, tally.hangs
    assert sum(tally.outcomes.values()) == IMPORT_MUTANTS
    # some import, most are refused as mistakes in the model (exit 2)
    assert set(tally.outcomes) <= {"exit 0", "exit 2"}, tally.outcomes
    assert tally.outcomes["exit 0"] and tally.outcomes["exit 2"]


PLACED_DATASETS = 60


def test_datasets_placed_by_hand_load_or_end_in_a_run_error(fuzz):
    """MNIST and CIFAR-10 files placed by hand, compressed or not under either name, whole or
    damaged: a CIFAR-10 archive whose gzip stream broke past its tar headers ended in zlib's
    own error, a traceback."""
    tally = fuzz.fuzz_placed(PLACED_DATASETS, seed=0)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert sum(tally.outcomes.values()) == PLACED_DATASETS
    assert tally.outcomes["exit 0"] and tally.outcomes["exit 1"]  # whole files load
    assert set(tally.outcomes) == {"exit 0", "exit 1"}, tally.outcomes


def test_odd_data_paths_name_a_pipe_a_folder_and_damaged_files(fuzz):
    """The npz paths the catalogue mutation draws name things that exist (summary once waited
    forever on a pipe named so)."""
    paths = [json.loads(path) for path in fuzz.odd_data_files()]
    assert {Path(path).name for path in paths} >= {"arrays", "gzipped.npz", "text.npz",
                                                   "cut.npz"}
    assert all(Path(path).exists() for path in paths)


def test_damaged_run_folders_end_in_an_exit_code_and_lose_nothing(fuzz):
    tally = fuzz.fuzz_runs(DAMAGED_RUNS, seed=2)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.outcomes["abandoned"] == 0, tally.hangs
    assert sum(tally.outcomes.values()) == DAMAGED_RUNS * len(fuzz.RUN_COMMANDS)
    assert set(tally.outcomes) <= {"exit 0", "exit 1", "exit 2"}, tally.outcomes
    assert tally.outcomes["exit 1"]  # damage is found, not only survived


def test_a_checkpoints_position_is_damaged_in_its_own_terms_too(fuzz):
    """The position in training is JSON inside a text array: besides another dtype or shape,
    its fields and metrics rows are mutated as an IR's are (a row of null once ended a
    resume in a TypeError that no damage of the array as a whole reached)."""
    import json

    import numpy as np

    position = {"epoch": 1, "batch": 0, "step": 4, "metrics": [{"epoch": 1, "lr": 0.1}]}
    rng = random.Random(0)
    damaged = [fuzz._odd_array(np.asarray(json.dumps(position)), rng) for _ in range(40)]
    texts = [str(array) for array in damaged if array.dtype.kind == "U" and array.ndim == 0]
    changed = [text for text in texts if text.lstrip().startswith("{")
               and text != json.dumps(position)]
    assert len(changed) >= 10, texts


def test_damaged_inputs_and_data_files_end_in_an_exit_code(fuzz):
    """Pictures, arrays and npz data files, whole and damaged, through predict, features,
    eval --data, check and train: exit codes only, and check and train agree on each file."""
    tally = fuzz.fuzz_inputs(DAMAGED_INPUTS, seed=7)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.findings == [], tally.findings[0]
    assert tally.hangs == [] and tally.warned == [], tally.hangs + tally.warned
    assert set(tally.outcomes) <= {"exit 0", "exit 1", "exit 2"}, tally.outcomes
    assert tally.outcomes["exit 0"] and tally.outcomes["exit 2"]  # inputs that serve and fail
    assert tally.pairs  # data files went through check and train


def test_the_damaged_inputs_start_from_pictures_of_many_formats(fuzz):
    suffixes = {suffix for suffix, _ in fuzz.pictures()}
    assert {".png", ".jpeg", ".gif", ".bmp", ".tiff", ".ppm"} <= suffixes, suffixes


def test_a_data_file_check_accepts_and_train_refuses_is_a_finding(fuzz, tmp_path, monkeypatch):
    """The harness would see train refuse a data file check accepted (here a stand-in for
    its command), and report it with the damage done to the file."""
    from cnnspec.cli import train

    def refuses(args):
        print("cnnspec: cannot read the data", file=sys.stderr)
        return 2

    monkeypatch.setattr(train, "run", refuses)
    cases = fuzz.npz_cases()
    monkeypatch.setattr(cases, "make_case", lambda rng: (
        "good file", cases.SPEC, cases.npz_bytes(cases.good_arrays())))
    tally = fuzz.AgreementTally()
    fuzz.data_case(tmp_path, tmp_path / "no run", cases, random.Random(0), tally)
    assert tally.pairs == {"check accepts, train refuses": 1}
    assert tally.findings[0].startswith("data file: good file\ncheck accepts, train refuses")


def test_a_command_that_changes_a_run_it_only_reads_has_lost_work(fuzz, tmp_path, monkeypatch):
    """The harness would see a command writing into the run folder it was given to read."""
    from cnnspec.cli import eval as eval_command

    def writes(args):
        (Path(args.run) / "summary.json").write_text("{}")
        return 0

    base = tmp_path / "base"
    base.mkdir()
    (base / "summary.json").write_text('{"status": "finished"}')
    monkeypatch.setattr(fuzz, "RUN_COMMANDS", (("eval", "{run}"),))
    monkeypatch.setattr(fuzz, "damage_run", lambda run, rng: "nothing")
    monkeypatch.setattr(eval_command, "run", writes)
    tally = fuzz.Tally()
    fuzz.run_case_damaged(base, tmp_path, random.Random(0), tally)
    assert len(tally.tracebacks) == 1 and "changed or removed summary.json" in tally.tracebacks[0]


def test_a_traceback_is_counted(fuzz, tmp_path, monkeypatch):
    """The harness would see a bug: an exception out of a command is a traceback."""
    from cnnspec.cli import check

    def broken(args):
        raise ZeroDivisionError

    monkeypatch.setattr(check, "run", broken)
    tally = fuzz.Tally()
    fuzz.run_case(tmp_path / "x.cnn", "input 1x8x8\n", tally, commands=(["check"],))
    assert tally.outcomes == {"traceback": 1} and "ZeroDivisionError" in tally.tracebacks[0]


def test_every_warning_a_command_prints_is_counted(fuzz, tmp_path, monkeypatch):
    """NumPy's RuntimeWarnings on a user's terminal are findings, each time (Python would
    show only the first from each place); what libraries say to developers is not."""
    import warnings

    import numpy as np

    from cnnspec.cli import check

    def overflowing(args):
        np.float32(3e38) * np.float32(10)
        warnings.warn("deprecated inside a library", DeprecationWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(check, "run", overflowing)
    tally = fuzz.Tally()
    for _ in range(2):
        fuzz.run_case(tmp_path / "x.cnn", "input 1x8x8\n", tally, commands=(["check"],))
    assert tally.outcomes == {"exit 0": 2} and len(tally.warned) == 2
    assert "check" in tally.warned[0] and "RuntimeWarning: overflow" in tally.warned[0]
    assert "warnings 2" in fuzz._line(tally)


def test_mutants_check_accepts_train_a_step_within_the_memory_estimate(fuzz):
    tally = fuzz.fuzz_memory(TRAINED_MUTANTS, seed=3)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.hangs == []
    assert len(tally.steps) + tally.too_large + tally.refused == TRAINED_MUTANTS
    assert len(tally.steps) >= TRAINED_MUTANTS // 2
    for ratio, measured, estimate, text in tally.steps:
        assert measured <= estimate, f"measured {measured} > estimate {estimate} for:\n{text}"


def test_a_step_beyond_its_estimate_is_counted(fuzz, tmp_path, monkeypatch):
    """The harness would see an estimate that is too low."""
    monkeypatch.setattr(fuzz, "measured_step", lambda checked: checked.step_memory.total + 1)
    tally = fuzz.MemoryTally()
    assert fuzz.train_case(tmp_path / "x.cnn", "input 1x8x8\nflatten\ndense 10\n", tally)
    assert len(tally.beyond) == 1 and "allocations beyond the estimate" in fuzz._memory_line(tally)
    assert not fuzz.train_case(tmp_path / "x.cnn", "input 1x8x8\nconv\n", tally)  # refused


def test_fuzzed_command_lines_end_in_an_exit_code_with_a_message(fuzz):
    tally = fuzz.fuzz_argv(COMMAND_LINES, seed=4)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.hangs == [] and tally.warned == [], tally.hangs + tally.warned
    assert tally.unclear == [] and tally.written == [], tally.unclear + tally.written
    assert sum(tally.outcomes.values()) == COMMAND_LINES
    assert set(tally.outcomes) <= {"exit 0", "exit 1", "exit 2", "exit 130"}, tally.outcomes
    assert tally.outcomes["exit 0"] and tally.outcomes["exit 2"]  # lines that run and fail


@pytest.fixture
def argv_case(fuzz, tmp_path):
    """A case folder with a spec, and the environment and command line the stage uses."""
    case = tmp_path / "case"
    case.mkdir()
    (case / "spec.cnn").write_text("input 1x8x8\nflatten\ndense 10\n")
    return case, fuzz.argv_environment(tmp_path), fuzz.command_line()


def test_a_file_no_output_option_named_is_counted(fuzz, argv_case):
    """The harness would see a command write a file no option named: here export's -o, had
    it not been an output option."""
    case, env, line = argv_case
    tally = fuzz.Tally()
    fuzz.run_argv(["export", "spec.cnn", "-o", "out.json"], case, env, tally, line)
    assert tally.outcomes == {"exit 0": 1} and tally.written == []
    line.outputs["export"] = set()
    fuzz.run_argv(["export", "spec.cnn", "-o", "again.json"], case, env, tally, line)
    assert len(tally.written) == 1 and "again.json" in tally.written[0]


def test_a_changed_input_is_counted(fuzz, argv_case):
    """The harness would see a command change a file it was given to read (here fmt
    rewriting a spec out of canonical layout: the example specs are in it)."""
    case, env, line = argv_case
    (case / "spec.cnn").write_text("input   1x8x8\nflatten\ndense 10\n")
    tally = fuzz.Tally()
    fuzz.run_argv(["fmt", "spec.cnn"], case, env, tally, line)
    assert len(tally.written) == 1 and "spec.cnn" in tally.written[0]


@pytest.mark.parametrize("argv", [["check", "missing\x1b[31m.cnn"], ["chek\x07"],
                                  ["check", "--strict=\x1b]0;x"], ["fmt", "a\rb.cnn"]])
def test_control_characters_in_a_command_line_come_back_escaped(fuzz, argv_case, argv):
    """A name or value holding an escape sequence is quoted in the error without handing it
    to the terminal; the harness counts a raw one as unclear."""
    case, env, line = argv_case
    tally = fuzz.Tally()
    fuzz.run_argv(argv, case, env, tally, line)
    assert tally.outcomes == {"exit 2": 1} and tally.unclear == [], tally.unclear


def test_a_command_line_over_its_time_is_killed_and_counted(fuzz, argv_case, monkeypatch):
    case, env, line = argv_case
    monkeypatch.setattr(fuzz, "ARGV_SECONDS", 0.01)
    tally = fuzz.Tally()
    fuzz.run_argv(["check", "spec.cnn"], case, env, tally, line)
    assert tally.outcomes == {"abandoned": 1} and "killed after" in tally.hangs[0]


def test_what_a_command_leaves_in_the_temporary_folder_is_counted(fuzz, argv_case):
    """The harness would see a temporary file or folder a command did not remove (one is put
    there as if the command had), and clears it for the next case; Dask's scratch space is
    Dask's to keep."""
    case, env, line = argv_case
    tmp = Path(env["TMPDIR"])
    (tmp / "cnnspec-leftover").mkdir()
    (tmp / fuzz.DASK_SCRATCH).mkdir()
    tally = fuzz.Tally()
    fuzz.run_argv(["check", "spec.cnn"], case, env, tally, line)
    assert len(tally.written) == 1 and "left cnnspec-leftover in the temporary" in tally.written[0]
    assert [p.name for p in tmp.iterdir()] == [fuzz.DASK_SCRATCH]


AGREEING = "input 1x8x8\nflatten\nfc: dense 2\ntrain {\n  data shapes(size=8, classes=[x, o], " \
    "count=20)\n  batch 10\n}\n"


@pytest.mark.parametrize("check, train, kind", [
    ((0, ""), (0, ""), "both accept"),
    ((2, "x.cnn:3:1: error: ..."), (2, "x.cnn:3:1: error: ..."), "both refuse"),
    ((0, ""), (2, "cnnspec: the data do not fit"), "check accepts, train refuses"),
    ((0, ""), (1, "cnnspec: cannot allocate 9 GiB"), "check accepts, train refuses"),
    ((2, "x.cnn:3:1: error: ..."), (0, ""), "check refuses, train runs"),
    ((2, "x.cnn:3:1: error: ..."), ("abandoned", ""), "check refuses, train runs"),
    ((0, ""), ("abandoned", ""), "both accept"),  # a long training had started
    ((0, ""), (1, "cnnspec: training diverged in epoch 1"), "diverged without a check warning"),
    ((0, "x.cnn:2:1: warning: the signal grows"), (1, "cnnspec: training diverged in epoch 1"),
     "diverged after a check warning"),
    ((2, "x.cnn:3:1: error: ..."), (1, "cnnspec: training diverged"), "check refuses, train runs"),
    (("traceback", ""), (2, ""), "traceback"), ((0, ""), ("traceback", ""), "traceback")])
def test_check_and_train_of_a_spec_are_classified(fuzz, check, train, kind):
    assert fuzz.agreement(fuzz.Ran(check[0], "", check[1]), fuzz.Ran(train[0], "", train[1])) \
        == kind


def test_a_spec_check_and_train_both_accept_agrees(fuzz, tmp_path):
    tally = fuzz.AgreementTally()
    assert fuzz.agreement_case(tmp_path, AGREEING, tally) == "both accept"
    assert fuzz.agreement_case(tmp_path, "input 1x8x8\nconv\n", tally) == "both refuse"
    assert tally.pairs == {"both accept": 1, "both refuse": 1} and tally.findings == []
    assert tally.tracebacks == [] and tally.warned == []


def test_a_spec_train_refuses_after_check_accepted_is_a_finding(fuzz, tmp_path, monkeypatch):
    """The harness would see train refuse (here a stand-in for its command) a spec check
    accepts, and report the spec with both commands' messages."""
    from cnnspec.cli import train

    def refuses(args):
        print("cnnspec: cannot allocate 9 GiB", file=sys.stderr)
        return 1

    monkeypatch.setattr(train, "run", refuses)
    tally = fuzz.AgreementTally()
    assert fuzz.agreement_case(tmp_path, AGREEING, tally) == "check accepts, train refuses"
    assert len(tally.findings) == 1 and "fc: dense 2" in tally.findings[0]
    assert "-- train: exit 1\ncnnspec: cannot allocate 9 GiB" in tally.findings[0]
    assert "findings 1" in fuzz._agreement_line(tally)


def test_mutants_that_parse_go_through_check_and_a_short_train(fuzz):
    tally = fuzz.fuzz_agreement(AGREEMENT_MUTANTS, seed=6)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.findings == [], tally.findings[0]
    assert sum(tally.pairs.values()) + tally.too_large == AGREEMENT_MUTANTS


TRAINING_MUTANTS = 6


@pytest.mark.parametrize("mutation", ["odd_multipliers", "large_output_bias"])
def test_multipliers_and_output_biases_that_diverge_are_warned_first(fuzz, tmp_path, mutation):
    """decay_mult [1e12, 1] under sgd and an output bias of 1e20 under mse diverged at once
    after a silent check: mutants of the digits example by these mutations each go through
    check and a short train, which never diverges without a check warning."""
    rng = random.Random(f"test_fuzz:{mutation}")
    texts = fuzz.example_specs()
    digits = (FUZZ.parent.parent / "specs" / "digits.cnn").read_text(encoding="utf-8")
    tally = fuzz.AgreementTally()
    for _ in range(TRAINING_MUTANTS):
        text = fuzz.mutate_spec(digits, texts, rng, [fuzz.SPEC_MUTATION_NAMES[mutation]])
        fuzz.agreement_case(tmp_path, text, tally)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.findings == [], tally.findings[0]


def test_plausible_ir_mutants_are_timed_without_a_traceback(fuzz):
    """Small examples a few valid values away from themselves (one score under cross_entropy,
    three under bce, lr_mult 0, ...) through check, time and init-report on noise: exit codes
    only."""
    tally = fuzz.fuzz_timed(TIMED_MUTANTS, seed=8)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert tally.outcomes["abandoned"] == 0 and tally.warned == [], tally.hangs + tally.warned
    assert sum(tally.outcomes.values()) == (1 + len(fuzz.TIMED_COMMANDS)) * TIMED_MUTANTS
    assert set(tally.outcomes) <= {"exit 0", "exit 2"}, tally.outcomes
    assert tally.outcomes["exit 0"] and tally.outcomes["exit 2"]  # timed and refused alike


def test_no_timed_mutants_run_nothing_and_say_so(fuzz, monkeypatch, capsys):
    """--timed 0 neither times nor parses anything for the stage, and the summary says the
    stage was not run rather than giving a line of empty counts."""
    def not_run(*args, **kwargs):
        raise AssertionError("the timed stage ran")

    monkeypatch.setattr(fuzz, "fuzz_timed", not_run)
    monkeypatch.setattr(fuzz, "parsed_examples", not_run)
    assert fuzz.main([word for stage, _, _ in fuzz.STAGE_COUNTS
                      for word in (f"--{stage}", "0")]) == 0
    assert "timed IR mutants: none, the stage was not run (--timed 0)" in capsys.readouterr().out


EVERY_SPECS = 4


def test_specs_go_through_every_command_that_reads_one(fuzz):
    """check, summary, export (JSON and ONNX), fmt, diagram, init-report and a short train:
    each ends in an exit code, fmt keeps what the spec means, check and train agree."""
    tally = fuzz.fuzz_every(EVERY_SPECS, seed=1)
    assert tally.tracebacks == [] and tally.findings == [], (tally.tracebacks
                                                             + tally.findings)[0]
    assert set(tally.outcomes) <= {"exit 0", "exit 1", "exit 2", "abandoned"}, tally.outcomes
    assert sum(tally.pairs.values()) == EVERY_SPECS


def test_an_ir_file_goes_through_every_command_that_reads_a_spec(fuzz, tmp_path):
    """An IR is checked, trained and drawn as its spec is; fmt, which formats .cnn text
    alone, refuses it (exit 2), and that is no finding."""
    import json

    ir = next(ir for ir in fuzz.parsed_examples()[1] if ir["name"] == "x_detector")
    tally = fuzz.AgreementTally()
    fuzz.every_case(tmp_path, json.dumps(ir), tally, ".json")
    assert tally.pairs == {fuzz.BOTH_ACCEPT: 1} and tally.findings == []
    assert (tmp_path / "net.dot").exists()
    # the ONNX export is written only where onnx is installed (else it exits 1, no finding)
    pytest.importorskip("onnx", reason="onnx not installed: pip install 'cnnspec[onnx]'")
    assert (tmp_path / "net.onnx").exists()


def test_fmt_that_changes_what_a_spec_means_is_a_finding(fuzz, tmp_path, monkeypatch):
    import cnnspec.lang

    monkeypatch.setattr(cnnspec.lang, "format_source",
                        lambda text, path=None: text.replace("conv 8", "conv 9"))
    tally = fuzz.AgreementTally()
    path = tmp_path / "net.cnn"
    text = "model m\ninput 1x8x8\nconv 8 3x3 relu\nflatten\ndense 10\n"
    path.write_text(text)
    fuzz.fmt_keeps_meaning(path, text, tally)
    assert len(tally.findings) == 1 and tally.findings[0].startswith(fuzz.FMT_CHANGED)


DAMAGED_SWEEPS = 2


@pytest.mark.slow
def test_damaged_sweep_folders_end_in_an_exit_code_and_lose_nothing(fuzz):
    pytest.importorskip("distributed")  # the sweep command needs Dask installed
    tally = fuzz.fuzz_sweeps(DAMAGED_SWEEPS, seed=0)
    assert tally.tracebacks == [], tally.tracebacks[0]
    assert sum(tally.outcomes.values()) == DAMAGED_SWEEPS
    assert set(tally.outcomes) <= {"exit 0", "exit 1", "exit 2"}, tally.outcomes
