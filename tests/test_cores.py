"""The `cores` training setting: how many parts a batch runs as, side by side. The model, the
memory estimate and the worker processes follow it; a batch too small to split into it is a
warning at the setting; an IR from before it reads as the two halves of before."""
import json

import numpy as np
import pytest

import cnnspec
from cnnspec.check import lints
from cnnspec.check.checker import check
from cnnspec.cli import main
from cnnspec.engine import processes
from cnnspec.errors import SettingError, SpecErrors
from cnnspec.ir.migrate import IR_VERSION, upgrade
from cnnspec.lang import parse

# momentum 0.3: the norm's running statistics leave their start within the run's 6 steps
# (check warns of a momentum too small for the run)
NET = ("input 1x8x8\nc: conv 4 3x3 pad same relu\nn: batchnorm momentum 0.3\nflatten\n"
       "fc: dense 10\n")


@pytest.fixture(autouse=True)
def many_cores(monkeypatch):
    """A machine of 64 cores: check's warnings of a batch too small for its parts, not of
    more parts than this machine's cores (tested below with 2)."""
    monkeypatch.setattr(lints, "usable_cores", lambda: 64)


def _spec(settings: str):
    return check(parse(f"{NET}train {{\n  data digits\n{settings}}}\n", "s.cnn"))


def test_a_spec_says_how_many_parts_its_batch_runs_as():
    checked = _spec("  batch 24\n  cores 3\n")
    assert checked.ir["training"]["cores"] == 3 and not checked.warnings
    model = cnnspec.compile(checked, seed=0)
    assert model.threads == 3
    x = np.random.default_rng(0).standard_normal((24, 1, 8, 8)).astype(np.float32)
    _, dout = model.loss(model.forward(x), np.zeros(24, int))
    model.backward(dout)
    assert model._split and len(model._parallel.replicas) == 3
    if processes.available():
        assert len(model._parallel._workers) == 2


def test_the_default_is_two_parts_and_one_is_one():
    assert _spec("").ir["training"]["cores"] == 2
    assert cnnspec.compile(_spec("  cores 1\n"), seed=0).threads == 1


@pytest.mark.parametrize("settings", ["  batch 16\n  cores 1\n", "  batch 8\n",
                                      "  batch 32\n  cores 4\n"])
def test_no_warning_where_the_batch_splits_or_is_meant_to_run_whole(settings):
    assert _spec(settings).warnings == []


def test_a_batch_too_small_for_its_cores_is_a_warning_at_the_setting():
    (warning,) = _spec("  batch 24\n  cores 4\n").warnings
    assert warning.message.startswith("cores 4 splits a batch of 24 into parts of fewer than 8")
    assert "runs whole, on one core" in warning.message
    assert (warning.span.line, warning.span.column) == (9, 3)
    assert warning.hint == "use cores 3 or fewer at batch 24, or a batch of 32 or more"
    (warning,) = _spec("  batch 10\n  cores 3\n").warnings
    assert warning.hint == "use cores 1, or a batch of 24 or more"


def test_more_cores_than_the_machine_gives_is_a_warning_that_caps_the_advice(monkeypatch):
    monkeypatch.setattr(lints, "usable_cores", lambda: 2)
    (warning,) = _spec("  batch 32\n  cores 4\n").warnings
    assert warning.message == ("cores 4 is more than the 2 cores this machine gives the "
                               "process: the 4 parts of each step share them, slower than 2 "
                               "parts would run")
    assert warning.hint == ("use cores 2 here, or keep 4 where a step must round as it does "
                            "in 4 parts (the parts, not the machine, decide the sums)")
    # a batch too small for its parts: the advice stays within the machine's cores
    (warning,) = _spec("  batch 40\n  cores 64\n").warnings
    assert warning.hint == "use cores 2 or fewer at batch 40, or a batch of 512 or more"
    assert _spec("  batch 32\n  cores 2\n").warnings == []


def test_an_ir_from_before_cores_runs_its_batch_as_two_halves():
    ir = {"version": 8, "training": {"epochs": 3}}
    upgrade(ir)
    assert ir["version"] == IR_VERSION and ir["training"] == {"epochs": 3, "cores": 2}


def _write(tmp_path, settings: str = ""):
    path = tmp_path / "s.cnn"
    path.write_text(f"{NET}train {{\n  data shapes(size=8, count=200)\n  epochs 1\n"
                    f"  batch 24\n{settings}}}\n")
    return path


def test_cores_on_the_command_line_override_the_specs_and_the_run_records_them(tmp_path,
                                                                               capsys):
    spec = _write(tmp_path)
    assert main(["train", str(spec), "--cores", "3", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    stored = json.loads((tmp_path / "run" / "spec.json").read_text())
    assert stored["training"]["cores"] == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["overrides"] == {"cores": 3}
    # a resumed run keeps its own
    assert main(["train", "--resume", str(tmp_path / "run"), "--cores", "2"]) == 1  # as --epochs
    assert "--cores 2 differs from the run's cores 3" in capsys.readouterr().err


@pytest.mark.parametrize("given, message", [
    ("65", "argument --cores: must be from 1 to 64, got 65"),
    ("0", "argument --cores: must be from 1 to 64, got 0"),
])
def test_cores_out_of_range_on_the_command_line_exit_2(given, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", str(_write(tmp_path)), "--cores", given, "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cores_out_of_range_through_the_library_name_the_range(tmp_path):
    with pytest.raises(SettingError, match="cores must be an integer from 1 to 64, not 65"):
        cnnspec.train(_write(tmp_path), cnnspec.Settings(cores=65), progress="none")


def test_train_warns_about_cores_its_batch_cannot_split_into_before_it_starts(tmp_path,
                                                                            capsys):
    """check sees the spec alone; train, with its overrides applied, says it too."""
    spec = _write(tmp_path)  # batch 24
    assert main(["train", str(spec), "--cores", "4", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    # --cores, not the spec's line, is what the warning is about: no line, no caret
    assert f"{spec}: warning: cores 4 splits a batch of 24 into parts of fewer than 8" in err
    # named as the command line gave it
    assert "hint: use cores 3 or fewer at batch 24, or a batch of 32 or more; --cores is " \
           "this run's setting, not the spec's" in err
    assert "^" not in err
    assert main(["train", str(spec), "--cores", "3", "--out", str(tmp_path / "run3"),
                 "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_warning_about_a_setting_the_library_was_given_names_its_keyword(tmp_path):
    heard = []
    cnnspec.train(_write(tmp_path), cnnspec.Settings(cores=4, epochs=1), tmp_path / "run",
                  progress="none", on_warnings=heard.extend)
    hint = ("use cores 3 or fewer at batch 24, or a batch of 32 or more; cores is this run's "
            "setting, not the spec's")
    assert [w.hint for w in heard] == [hint]


def test_the_library_hands_check_warnings_to_on_warnings_from_its_one_check(tmp_path,
                                                                          monkeypatch):
    """The spec is checked once, as trained, and its warnings go to the caller before
    training starts."""
    from cnnspec.training import api

    checks, heard = [], []
    monkeypatch.setattr(api, "check", lambda *a, **k: checks.append(1) or check(*a, **k))
    cnnspec.train(_write(tmp_path), cnnspec.Settings(cores=4), tmp_path / "run",
                  progress="none", curves=False,
                  on_warnings=lambda warnings: heard.append((len(checks), warnings)))
    ((checked_before, (warning,)),) = heard
    assert checked_before == 1 and len(checks) == 1
    assert warning.message.startswith("cores 4 splits a batch of 24")


@pytest.mark.parametrize("where", ["runtime", "step"])
def test_a_step_that_fits_only_with_fewer_cores_says_so(where, tmp_path):
    """Past the limit with the parts' processes alone, or with the step too: either way
    `cores 1` would fit, and the hint says so first."""
    spec = parse(_write(tmp_path, "  cores 3\n").read_text(), str(tmp_path / "s.cnn"))
    memory = check(spec).step_memory
    whole = memory.process - memory.split_extra
    assert 0 < whole < memory.runtime < memory.process
    limit = whole if where == "runtime" else memory.runtime + 1
    with pytest.raises(SpecErrors) as info:
        check(spec, max_memory=limit)
    (error,) = info.value.errors
    assert ("for Python, its libraries and their buffers alone" in error.message) \
        == (where == "runtime")
    assert error.hint.startswith("with `cores 1` the batch runs whole in one process, about ")


def test_fewer_cores_the_run_was_given_are_worded_as_it_was_given(tmp_path):
    """A --cores (cores=) the run was given: the hint said `cores 1`, the spec's setting."""
    from cnnspec.cli import OPTION_NAMES
    from cnnspec.training.settings import overridden_spec

    spec = parse(_write(tmp_path, "  cores 3\n").read_text(), str(tmp_path / "s.cnn"))
    memory = check(spec).step_memory
    given = overridden_spec(spec, {"cores": 3})
    with pytest.raises(SpecErrors) as info:
        check(given, max_memory=memory.process - memory.split_extra)
    (error,) = info.value.errors
    assert error.hint.startswith("with `cores=1` the batch runs whole in one process, about ")
    assert error.worded_hint(OPTION_NAMES).startswith("with `--cores 1` the batch runs whole")
