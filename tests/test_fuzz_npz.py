"""Damaged and odd npz data files (``tests/npz_cases.py``) through every command that reads one:
``check`` and ``train`` agree on each (check exits 2 exactly when train refuses the file
before training, 0 exactly when train trains), and neither, nor ``summary``, ``init-report``,
``compare``, ``sweep`` or ``eval --data npz:PATH``, ends in a traceback. Seeded and bounded:
each damage once alone, then RANDOM_CASES random mixtures, replayed exactly on failure."""
from __future__ import annotations

import random
import warnings

import npz_cases
import pytest
from dask_cluster import running_cluster

from cnnspec.cli import main

RANDOM_CASES = 80  # with check and train; every third single damage and 12 of these with
# each other command (fewer with sweep)
SEED = "test_fuzz_npz"
CASES = npz_cases.every_single_damage()
RANDOM = [npz_cases.make_case(random.Random(f"{SEED}:{i}")) for i in range(RANDOM_CASES)]


def run(argv: list[str], capsys) -> tuple[int, str]:
    """The exit code of ``cnnspec ARGV`` and what it printed; a traceback or a Python warning
    fails the test with the command named."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's RuntimeWarnings: an unchecked value
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    return code, out + err


def place(folder, spec: str, data: bytes) -> None:
    (folder / "net.cnn").write_text(spec)
    (folder / "data.npz").write_bytes(data)


@pytest.mark.parametrize("name, spec, data", CASES + RANDOM,
                         ids=[case[0] for case in CASES + RANDOM])
def test_check_refuses_exactly_what_train_refuses(tmp_path, monkeypatch, capsys, name, spec,
                                                  data):
    monkeypatch.chdir(tmp_path)
    place(tmp_path, spec, data)
    checked, said = run(["check", "net.cnn"], capsys)
    trained, told = run(["train", "net.cnn", "--epochs", "1", "--out", "run", "--quiet"],
                        capsys)
    made = (tmp_path / "run").exists()
    assert (checked == 0) == (trained == 0 and made), (said, told)
    assert (checked == 2) == (trained in (1, 2) and not made), (said, told)
    if checked == 2:  # located in the spec, with a hint
        assert "net.cnn:" in said and "\nhint: " in said, said


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A run trained on the good file, for ``eval --data npz:PATH``."""
    folder = tmp_path_factory.mktemp("good")
    place(folder, npz_cases.SPEC.replace('"data.npz"', f'"{folder / "data.npz"}"'),
          npz_cases.npz_bytes(npz_cases.good_arrays()))
    assert main(["train", str(folder / "net.cnn"), "--epochs", "1", "--out",
                 str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A Dask scheduler with one worker for the sweeps of this module, when Dask is installed
    (a local cluster started for each of its cases took most of the module's time); None, and
    sweep says Dask is missing, when it is not."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        yield None
        return
    with running_cluster(tmp_path_factory.mktemp("dask"), workers=1) as (address, _):
        yield address


COMMANDS = {
    "summary": ["summary", "net.cnn"],
    "init-report": ["init-report", "net.cnn", "--input", "data", "--batch-size", "8"],
    "compare": ["compare", "net.cnn", "--init", "he", "--epochs", "1", "--seeds", "1",
                "--out", "cmp", "--format", "json"],
    "sweep": ["sweep", "net.cnn", "--set", "lr=0.01", "--epochs", "1", "--out", "sw",
              "--format", "json"],
}


@pytest.mark.parametrize("command", [*COMMANDS, "eval"])
def test_other_commands_end_in_an_exit_code(tmp_path, monkeypatch, capsys, good_run, command,
                                            request):
    monkeypatch.chdir(tmp_path)
    argv = (COMMANDS[command] if command != "eval"
            else ["eval", str(good_run), "--data", "npz:data.npz"])
    if command == "sweep" and (address := request.getfixturevalue("scheduler")):
        argv = [*argv, "--scheduler", address]
    cases = (CASES[::3] + RANDOM[:12] if command != "sweep"
             # A sweep reads the file as train does (the first test's every case); each
             # case it accepts trains on the cluster and draws two pictures, so fewer here.
             else CASES[::9] + RANDOM[:4])
    for index, (name, spec, data) in enumerate(cases):
        folder = tmp_path / str(index)
        folder.mkdir()
        monkeypatch.chdir(folder)
        place(folder, spec, data)
        code, said = run(argv, capsys)
        if code:
            assert "error" in said, (name, said)


def test_check_runs_lsuv_on_the_file_as_train_does(tmp_path, monkeypatch, capsys):
    """An LSUV init has nothing to scale on images of one value throughout: train refuses
    before training, and check, which runs the init on the file's images, refuses at the data
    setting with LSUV's message."""
    monkeypatch.chdir(tmp_path)
    arrays = npz_cases.good_arrays()
    spec = npz_cases.SPEC.replace("conv 4 3x3 relu", "conv 4 3x3 weight lsuv relu")
    place(tmp_path, spec, npz_cases.npz_bytes({**arrays, "x": arrays["x"] * 0}))
    assert run(["check", "net.cnn"], capsys) == (2, (
        "net.cnn:6:3: error: LSUV cannot rescale layer 'c1': its output on the batch has "
        "std 0.0\n"
        '    data npz(path="data.npz")\n'
        "    ^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "hint: the signal is already dead or infinite before this layer; check the inputs "
        "and the init of the layers before it\n"))
    assert run(["train", "net.cnn", "--out", "run", "--quiet"], capsys)[0] == 1
    assert not (tmp_path / "run").exists()
    place(tmp_path, spec, npz_cases.npz_bytes(arrays))
    assert run(["check", "net.cnn"], capsys) == (0, "net.cnn: ok (4 layers, 475 params)\n")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_check_runs_lsuv_on_the_file_in_the_dtype_of_the_run(tmp_path, monkeypatch, capsys,
                                                              dtype):
    """check --dtype runs the init on the file's images as train --dtype would: the model
    and the images in that dtype."""
    from cnnspec.lab import lsuv

    seen = []

    def recorded(start):
        seen.append((str(start.model.dtype), str(start.first_batch(lsuv.LSUV_BATCH).dtype)))
        lsuv_init_step(start)

    lsuv_init_step = lsuv.lsuv_init_step
    monkeypatch.setattr(lsuv, "lsuv_init_step", recorded)
    monkeypatch.chdir(tmp_path)
    spec = npz_cases.SPEC.replace("conv 4 3x3 relu", "conv 4 3x3 weight lsuv relu")
    place(tmp_path, spec, npz_cases.npz_bytes(npz_cases.good_arrays()))
    assert run(["check", "net.cnn", "--dtype", dtype], capsys) == (
        0, "net.cnn: ok (4 layers, 475 params)\n")
    assert seen == [(dtype, dtype)]


def test_init_report_refuses_labels_beyond_the_outputs(tmp_path, monkeypatch, capsys):
    """init-report measures the loss on the file's labels: three classes for two scores is
    the trainer's error, located at the output, where the loss indexed past the scores."""
    monkeypatch.chdir(tmp_path)
    place(tmp_path, npz_cases.SPEC.replace("dense 3", "dense 2"),
          npz_cases.npz_bytes(npz_cases.good_arrays()))
    code, said = run(["init-report", "net.cnn", "--input", "data"], capsys)
    assert code == 2
    assert said.startswith("net.cnn:4:11: error: the output 'fc' gives 2 scores, but npz has 3 "
                           "classes"), said
