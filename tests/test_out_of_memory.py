"""Memory: ``check`` holds a spec to the memory this process may use (a limit on the process
or its control group, not only the machine's memory), and memory that runs out anyway (other
programs took it) is an error saying so, never a traceback; a training it stops resumes."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
from test_resume import FAST, STEPS_PER_EPOCH, assert_same_run, spec_file

from cnnspec import resume, train
from cnnspec.check import memory
from cnnspec.cli import invoked_as, main
from cnnspec.errors import RunError
from cnnspec.training import rundir
from cnnspec.training.loop import Stopped

NUMPY_SAYS = ("Unable to allocate 32.0 MiB for an array with shape (512, 16384) and data type "
              "float32")

# 811 MiB to train (summary's "Training process memory"): more than a 600 MiB limit holds
HEAVY = """model heavy
input 1x8x8
conv 256 3x3 pad same relu
conv 256 3x3 pad same relu
flatten
dense 10
train {
  data digits
  batch 1024
  epochs 1
}
"""


def _check_under_address_limit(path, limit: int | None) -> subprocess.CompletedProcess:
    def limited():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))

    return subprocess.run([sys.executable, "-m", "cnnspec", "check", str(path)],
                          check=False, capture_output=True, text=True, timeout=120,
                          preexec_fn=limited if limit else None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v as Linux has it")
def test_check_refuses_a_spec_beyond_the_address_space_limit_of_its_process(tmp_path):
    """Under `ulimit -v` train's allocations fail however much memory the machine has: check
    refuses what the limit cannot hold, naming the limit."""
    if (memory.machine_memory() or 0) < 4 << 30:
        pytest.skip("the spec must fit this machine's memory without the limit")
    path = tmp_path / "heavy.cnn"
    path.write_text(HEAVY)
    assert _check_under_address_limit(path, None).returncode == 0
    limited = _check_under_address_limit(path, 600 << 20)
    assert limited.returncode == 2, limited.stderr
    # a batch of 256 filters' maps too large for the limit, where a smaller one fits: the
    # error is at the batch
    assert "heavy.cnn:9:3: error: training would need up to about" in limited.stderr
    assert "hint: `batch " in limited.stderr
    assert ("this process may use (its `ulimit -v` of 600.0 MiB, less the "
            in limited.stderr)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v as Linux has it")
def test_check_counts_what_the_process_maps_beyond_what_it_uses(tmp_path):
    """A spec of 96 MiB passed check under a `ulimit -v` of 150 MiB (98% of it, a warning),
    and train then ran out of memory: the limit counts every mapping, and OpenBLAS's buffers
    and the libraries' code map well over 100 MiB the process never touches."""
    path = tmp_path / "small.cnn"
    path.write_text("input 1x8x8\nflatten\ndense 10\n")
    limited = _check_under_address_limit(path, 150 << 20)
    assert limited.returncode == 2, limited.stderr
    assert "more than what its `ulimit -v` of 150.0 MiB leaves: nothing, as its libraries and " \
        "BLAS threads map " in limited.stderr
    # raised by what the hint says, the limit holds the process
    raised_by = re.search(r"raise it by at least ([\d.]+) MiB", limited.stderr)
    raised = _check_under_address_limit(path, (150 << 20) + int(float(raised_by[1]) * 2**20)
                                        + (1 << 20))
    assert raised.returncode == 0, raised.stderr


def test_a_limit_on_mappings_leaves_what_the_libraries_and_blas_threads_do_not_map(
        monkeypatch):
    import resource

    unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (
        (1 << 30, resource.RLIM_INFINITY) if which == resource.RLIMIT_DATA else unlimited))
    monkeypatch.setattr(memory, "usable_cores", lambda: 2)
    monkeypatch.setattr(memory, "_cgroup_limit", lambda: None)
    limits = memory._memory_limits()
    words = ("the {} this process may use (its `ulimit -d` of 1.0 GiB, less the 96.0 MiB its "
             "libraries and BLAS threads map)")
    assert limits[1:] == [(1024 - 96 << 20, words)]
    assert memory.room_text(memory.machine_memory()) == (
        "the 928.0 MiB this process may use (its `ulimit -d` of 1.0 GiB, less the 96.0 MiB its "
        "libraries and BLAS threads map)")
    from cnnspec.sweep.concurrency import trainings_that_fit

    # a limit the mappings take whole leaves room for no training (0 was read as no limit)
    monkeypatch.setattr(memory, "machine_memory", lambda: 0)
    assert trainings_that_fit(1 << 20) == 0


def test_a_control_group_memory_limit_is_the_lowest_of_its_group_and_those_above(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/box/job\n")
    (tmp_path / "box" / "job").mkdir(parents=True)
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "box" / "memory.max").write_text(f"{3 << 30}\n")
    (tmp_path / "box" / "job" / "memory.max").write_text("max\n")
    assert memory._cgroup_limit(proc, tmp_path) == 3 << 30
    (tmp_path / "box" / "memory.max").write_text("max\n")
    assert memory._cgroup_limit(proc, tmp_path) is None


def test_a_cgroup_v1_memory_limit_counts_and_its_unlimited_value_does_not(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("5:cpu,cpuacct:/x\n4:memory:/x\n0::/\n")
    (tmp_path / "memory" / "x").mkdir(parents=True)
    unlimited = tmp_path / "memory" / "x" / "memory.limit_in_bytes"
    unlimited.write_text("9223372036854771712\n")
    assert memory._cgroup_limit(proc, tmp_path) is None
    unlimited.write_text(f"{1 << 30}\n")
    assert memory._cgroup_limit(proc, tmp_path) == 1 << 30


def test_a_limit_is_named_where_it_is_lower_than_the_machine(monkeypatch):
    machine = (64 << 30, "this machine's {} of memory")
    cgroup = (2 << 30, "the {} its control group may use (a container's limit)")
    monkeypatch.setattr(memory, "_memory_limits", lambda: [machine, cgroup])
    assert memory.machine_memory() == 2 << 30
    assert memory.room_text(2 << 30) == ("the 2.0 GiB its control group may use "
                                         "(a container's limit)")
    monkeypatch.setattr(memory, "_memory_limits", lambda: [machine])
    assert memory.room_text(64 << 30) == "this machine's 64.0 GiB of memory"


class OutOfMemoryAt:
    """A step hook that fails as an allocation NumPy could not make, at step ``k``."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, step: int, model) -> None:
        if step + 1 == self.k:
            raise MemoryError(NUMPY_SAYS)


def test_memory_that_runs_out_mid_training_stops_the_run_resumably(tmp_path):
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Stopped) as stopped:
        train(spec, run_dir=tmp_path / "cut", on_step=OutOfMemoryAt(STEPS_PER_EPOCH + 2), **FAST)
    run = tmp_path / "cut"
    assert stopped.value.message == ("out of memory: unable to allocate 32.0 MiB for an array "
                                     "with shape (512, 16384) and data type float32; the last "
                                     f"checkpoint in {run} is kept")
    assert stopped.value.hint == ("free some memory (close other programs that use much of it), "
                                  f"then continue it with: cnnspec.resume({str(run)!r})")
    summary = json.loads((run / rundir.SUMMARY).read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == STEPS_PER_EPOCH
    assert_same_run(resume(run, **FAST), straight)


def test_memory_that_runs_out_after_the_last_epoch_says_how_to_finish(tmp_path, monkeypatch,
                                                                      capsys):
    from cnnspec.training import api

    def scoring(*args):
        raise MemoryError()  # Python's own: no words

    monkeypatch.setattr(api, "score", scoring)
    run = tmp_path / "out"
    assert main(["train", str(spec_file(tmp_path)), "--out", str(run), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert f"cnnspec: error: out of memory; every epoch is saved in {run}\n" in err
    assert f"then finish it with: {invoked_as()} train --resume {run}" in err
    assert "Traceback" not in err
    assert json.loads((run / rundir.SUMMARY).read_text())["status"] == "interrupted"
    monkeypatch.undo()
    assert main(["train", "--resume", str(run)]) == 0
    assert json.loads((run / rundir.SUMMARY).read_text())["status"] == "finished"


def test_memory_that_runs_out_in_any_command_is_an_error_not_a_traceback(tmp_path, monkeypatch,
                                                                        capsys):
    from cnnspec.check import load

    def loading(*args, **kwargs):
        raise MemoryError(NUMPY_SAYS)

    monkeypatch.setattr(load, "load", loading)
    assert main(["summary", str(spec_file(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cnnspec: error: out of memory: unable to allocate 32.0 MiB")
    assert "hint: close other programs that use much memory, or make the batch" in err


def test_running_out_of_memory_is_said_without_importing_anything(tmp_path, monkeypatch,
                                                                   capsys):
    """Under a `ulimit -v` nearly used up, train ran out of memory importing its modules, and
    the message ended in an ImportError traceback: printing it imported unicodedata, whose
    library could not be mapped either. The error boundary imports nothing (here every import
    fails once the command has run out)."""
    import builtins

    from cnnspec.cli import check, main

    def nothing_maps(*args, **kwargs):
        raise ImportError("failed to map segment from shared object")

    def exhausted(args):
        monkeypatch.setattr(builtins, "__import__", nothing_maps)
        raise MemoryError("Unable to allocate 864. KiB for an array with shape (221184,)")

    monkeypatch.setattr(check, "run", exhausted)
    path = tmp_path / "x.cnn"
    path.write_text("input 1x8x8\nflatten\ndense 10\n")
    try:
        code = main(["check", str(path)])
    finally:
        monkeypatch.undo()
    assert code == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "cnnspec: error: out of memory: unable to allocate 864. KiB for an array with shape "
        "(221184,)")


def _cnnspec_under_address_limit(kib: int, *argv: str, gate: bool = True
                                 ) -> subprocess.CompletedProcess:
    """The command line ``argv`` in a process under ``ulimit -v kib``, set by a shell as a
    user sets it; without the ``gate`` of what NumPy takes, to see its import fail."""
    lowered = "" if gate else "memory.NUMPY_BYTES = -(1 << 40); "
    program = ("import sys; from cnnspec.check import memory; " + lowered
               + "from cnnspec.cli import main; sys.exit(main(sys.argv[1:]))")
    line = " ".join(shlex.quote(word) for word in (sys.executable, "-c", program, *argv))
    return subprocess.run(["bash", "-c", f"ulimit -v {kib}; exec {line}"], check=False,
                          capture_output=True, text=True, timeout=60)


# Below what any process with NumPy maps (its libraries' code and a BLAS buffer per core,
# 112 MiB with one core): Python and cnnspec start, NumPy's libraries do not fit.
TOO_LOW_KIB = 100_000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v as Linux has it")
@pytest.mark.parametrize("command", ["train", "init-report", "time"])
def test_commands_that_load_numpy_refuse_a_limit_that_cannot_hold_it(command):
    """Under `ulimit -v 100000` train exited 1 with OpenBLAS's "Memory allocation still failed
    after 10 retries, giving up." alone (NumPy loaded before the check ran), where check of
    the same spec refused it: each command that loads NumPy is held to check's estimate of
    what Python with NumPy takes, before loading it."""
    done = _cnnspec_under_address_limit(TOO_LOW_KIB, command, "specs/lenet5.cnn")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        f"cnnspec: error: `cnnspec {command}` needs about 32.0 MiB for Python, its libraries "
        "and their buffers alone, more than what its `ulimit -v` of 97.7 MiB leaves: nothing, "
        "as its libraries and BLAS threads map ")
    assert "hint: a limit below what the process itself takes cannot be met: raise it by at " \
        "least " in done.stderr
    assert "OpenBLAS" not in done.stderr and "Traceback" not in done.stderr


def _run_folder(tmp_path):
    """A folder with a run's summary and spec, as the command line tells a run folder by."""
    run = tmp_path / "run"
    run.mkdir()
    (run / rundir.SUMMARY).write_text("{}")
    (run / rundir.SPEC_CNN).write_text("input 1x8x8\nflatten\ndense 10\n")
    return run


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v as Linux has it")
@pytest.mark.parametrize(("argv", "code", "said"), [
    (["export", "{run}"], 2, "cnnspec: error: `cnnspec export` needs about "),
    (["check", "{run}"], 2, "is a run folder, not a spec file; its spec is "),
])
def test_a_run_folder_named_on_the_command_line_is_read_without_numpy(tmp_path, argv, code,
                                                                       said):
    """`cnnspec export RUN` (and check's run folder named for its spec) under `ulimit -v
    100000` ended in NumPy's ImportError traceback: telling the argument for a run folder
    imported the run folder's module, which loaded NumPy before the limit was looked at."""
    run = _run_folder(tmp_path)
    done = _cnnspec_under_address_limit(TOO_LOW_KIB, *(word.format(run=run) for word in argv))
    assert done.returncode == code, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v as Linux has it")
def test_a_command_that_draws_is_held_to_what_numpy_and_matplotlib_take(tmp_path):
    """`cnnspec filters RUN -o f.png` under `ulimit -v` 200 MiB (two cores) passed the check
    of what NumPy takes and ended with OpenBLAS's "Memory allocation still failed after 10
    retries, giving up." alone, drawing the picture after matplotlib had taken the room: a
    command that draws is held to what Python with NumPy and matplotlib take."""
    from cnnspec.engine.splitting import usable_cores

    mapped = memory.MAPPED_CODE_BYTES + memory.MAPPED_PER_BLAS_THREAD * usable_cores()
    room = (memory.NUMPY_BYTES + memory.PROCESS_BYTES) // 2  # NumPy fits, matplotlib not
    done = _cnnspec_under_address_limit((mapped + room) >> 10, "filters",
                                        str(_run_folder(tmp_path)), "-o", str(tmp_path / "f.png"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("cnnspec: error: `cnnspec filters` needs about 80.0 MiB for "
                                  "Python, its libraries and their buffers alone, more than the "
                                  "56.0 MiB this process may use")
    assert "OpenBLAS" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v as Linux has it")
def test_numpy_that_cannot_be_mapped_under_a_limit_is_an_error_with_a_hint():
    """Where NumPy's libraries do not fit all the same (an estimate that fell short), the
    loader's error is said without NumPy's advice on installing it, and with the limit."""
    done = _cnnspec_under_address_limit(45_000, "train", "specs/lenet5.cnn", gate=False)
    assert done.returncode == 1, done.stderr
    first, hint = done.stderr.splitlines()
    assert first.startswith("cnnspec: error: NumPy could not be loaded: ")
    assert first.endswith("failed to map segment from shared object")
    assert hint.startswith("hint: its libraries did not fit in what its `ulimit -v` of 43.9 MiB "
                           "leaves: nothing, as its libraries and BLAS threads map ")
    assert hint.endswith("raise the limit on this process's memory (`ulimit -v`), or close "
                         "other programs")


def _numpy_import_failing(monkeypatch, exc: BaseException) -> None:
    """Make the next ``import numpy`` raise ``exc``, as if NumPy were not loaded yet."""
    import builtins

    real_import = builtins.__import__

    def importing(name, *args, **kwargs):
        if name == "numpy":
            raise exc
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "numpy")
    monkeypatch.setattr(memory, "_least_room", lambda: 1 << 30)
    monkeypatch.setattr(builtins, "__import__", importing)


def test_running_out_of_memory_while_numpy_loads_is_said(monkeypatch):
    from cnnspec.cli.loading import numpy_loaded

    _numpy_import_failing(monkeypatch, MemoryError())
    with pytest.raises(RunError) as raised:
        numpy_loaded("train")
    assert raised.value.message == "NumPy could not be loaded: out of memory"
    assert raised.value.hint.startswith("its libraries did not fit in ")


def test_numpy_that_fails_to_load_otherwise_is_a_bug_with_its_traceback(monkeypatch):
    from cnnspec.cli.loading import numpy_loaded

    _numpy_import_failing(monkeypatch, ImportError("No module named 'numpy'"))
    with pytest.raises(ImportError, match="No module named 'numpy'"):
        numpy_loaded("train")


def test_numpy_is_refused_by_a_byte_below_what_it_takes(monkeypatch):
    monkeypatch.setattr(memory, "_least_room", lambda: memory.NUMPY_BYTES)
    assert memory.libraries_beyond_limit("`cnnspec train`") is None
    monkeypatch.setattr(memory, "_least_room", lambda: -(1 << 20))  # the mappings take more
    monkeypatch.setattr(memory, "_memory_limits", lambda: [(-(1 << 20), "the {} left")])
    refusal = memory.libraries_beyond_limit("`cnnspec train`")
    assert refusal.message == ("`cnnspec train` needs about 32.0 MiB for Python, its libraries "
                               "and their buffers alone, more than the 0 B left")
    assert refusal.hint.endswith("raise it by at least 33.0 MiB")
