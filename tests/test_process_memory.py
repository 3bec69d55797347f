"""The memory of a whole training process against check's estimate of it
(cnnspec.check.memory: the step's arrays, the allocator's slack, Python, its libraries and
their buffers): real `cnnspec train` processes, their peak resident memory read by the
kernel; and the modules a kind declares it loads (Kind.libraries) against what it loads."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from peak import peak_of, private_bytes

import cnnspec
from cnnspec.check.memory import (
    BLAS_BUFFER_BYTES,
    LIBRARY_BYTES,
    OVERESTIMATE,
    PROCESS_BYTES,
    WORKER_PROCESS_BYTES,
    data_bytes,
)
from cnnspec.errors import SpecErrors
from cnnspec.kinds import KINDS
from cnnspec.training.api import checked_with_overrides

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

def _peak_of_training(spec: Path, out: Path, *options: str) -> int:
    return peak_of([sys.executable, "-m", "cnnspec", "train", str(spec), "--out", str(out),
                     "--quiet", "--epochs", "1", *options])


@pytest.fixture(scope="session")
def kept_thresholds(tmp_path_factory) -> Path:
    """A cache folder holding this machine's convolution thresholds, timed once: a process
    started with it as ``$XDG_CACHE_HOME`` reads them rather than timing them."""
    home = tmp_path_factory.mktemp("warm-cache")
    env = {**os.environ, "XDG_CACHE_HOME": str(home)}
    env.pop("CNNSPEC_CALIBRATE", None)
    subprocess.run([sys.executable, "-c",
                    "from cnnspec.engine.conv_tuned import thresholds; thresholds()"],
                   env=env, check=True, timeout=600)
    assert list((home / "cnnspec").glob("engine-thresholds-*.json"))
    return home


@pytest.fixture(params=["first run", "thresholds kept"])
def cache_state(request, tmp_path, monkeypatch) -> str:
    """``$XDG_CACHE_HOME``, for this process's check and the training it starts: a new folder
    (the training times the machine's thresholds at its first step, as a first run on a
    machine does) or one where they are kept."""
    home = (tmp_path / "new-cache" if request.param == "first run"
            else request.getfixturevalue("kept_thresholds"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("CNNSPEC_CALIBRATE", raising=False)
    return request.param


# Specs on the built-in data (digits, shapes), one of them with gelu (scipy.special), one
# in float64, one with a batch whose halves run in two threads; each on a machine's first run
# and once its thresholds are kept.
@pytest.mark.parametrize("name,batch,dtype", [
    ("digits.cnn", None, "float32"), ("separable.cnn", None, "float32"),
    ("resnet_near_identity.cnn", None, "float32"), ("digits.cnn", None, "float64"),
    ("lenet5.cnn", 256, "float32"), ("cifar10_vgg.cnn", None, "float32"),
])
def test_a_training_process_stays_within_checks_estimate_of_it(name, batch, dtype, cache_state,
                                                               tmp_path):
    """The whole process of `cnnspec train`, curves drawn at the end included; on a first
    run, the timing of the machine's thresholds too, which check counts then only."""
    overrides = {"batch_size": batch} if batch else {}
    estimate = checked_with_overrides(SPECS / name, overrides, dtype).step_memory
    assert (estimate.calibration > 0) == (cache_state == "first run")
    options = ("--dtype", dtype) + (("--batch-size", str(batch)) if batch else ())
    measured = _peak_of_training(SPECS / name, tmp_path / "run", *options)
    assert measured <= estimate.process, (measured / 2**20, estimate.process / 2**20)
    # not a bound so loose that it says nothing
    assert estimate.process <= 2 * measured, (measured / 2**20, estimate.process / 2**20)


def test_the_runtime_counts_a_blas_buffer_for_each_part_a_worker_and_the_kinds_libraries(tmp_path):
    spec = tmp_path / "act.cnn"
    body = ("input 1x8x8\nconv 8 3x3\n{}\nflatten\ndense 10\n"
            "train {{\n  data digits\n  batch {}\n}}\n")
    spec.write_text(body.format("gelu", 1))  # a batch of one runs whole, in one thread
    assert cnnspec.load(spec).step_memory.runtime == (
        PROCESS_BYTES + BLAS_BUFFER_BYTES + LIBRARY_BYTES["scipy.special"])
    spec.write_text(body.format("gelu approximate tanh", 64))  # halves, one in a worker
    assert cnnspec.load(spec).step_memory.runtime == (
        PROCESS_BYTES + 2 * BLAS_BUFFER_BYTES + WORKER_PROCESS_BYTES)


# Frees 64 MiB of arrays below one kept (as the timers of a first calibration free theirs below
# the arrays made after them: how much of theirs stays in the heap depends on its layout),
# calibrates (a new cache folder) and forks a split batch's worker, prints its pid; then, at a
# word on stdin, writes as many bytes of new arrays as it freed and calibrating held, and says
# so. Arrays of 64 KiB, below malloc's mmap threshold: from the heap.
PARENT_WRITING_AFTER_THE_FORK = """
import sys
import numpy as np
import cnnspec
from cnnspec.engine.footprint import calibration_bytes
model = cnnspec.compile(cnnspec.load(sys.argv[1]), seed=0)
freed = [np.ones(1 << 14, np.float32) for _ in range(1024)]
kept = np.ones(1 << 14, np.float32)
del freed
model.start_parts(32)
print(model._parallel._workers[0].process.pid, flush=True)
sys.stdin.readline()
arrays = [np.ones(1 << 14, np.float32) for _ in range(1024 + (calibration_bytes() >> 16))]
print(len(arrays), flush=True)
sys.stdin.readline()
"""


def test_a_worker_keeps_none_of_what_calibrating_freed_when_the_trainer_writes_there(tmp_path):
    """A worker is forked with the training process's heap, what it freed included (on a
    first run the timers' 75 MiB: the worker of `[first run-separable.cnn]` above was forked
    sharing 104 MiB with it); each page of it the training process writes its next arrays
    into becomes the worker's alone (copy on write) until the worker trims its heap at the
    end of the epoch. Here the trainer writes over all it freed before the worker runs a
    step (the worker grew by 65 MiB so before the trainer trimmed its heap before the fork):
    the worker keeps no more than the pages check counts for it."""
    from cnnspec.engine import processes

    if not processes.available():
        pytest.skip("worker processes need fork (Linux)")
    spec = tmp_path / "split.cnn"
    spec.write_text("input 1x8x8\nconv 4 3x3\nflatten\ndense 10\n"
                    "train {\n  data digits\n  batch 32\n  cores 2\n}\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "new-cache")}
    env.pop("CNNSPEC_CALIBRATE", None)
    with subprocess.Popen([sys.executable, "-c", PARENT_WRITING_AFTER_THE_FORK, str(spec)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=env) as trainer:
        worker = int(trainer.stdout.readline())
        before = private_bytes(worker)
        trainer.stdin.write("\n")
        trainer.stdin.flush()
        assert int(trainer.stdout.readline()) > 0
        grown = private_bytes(worker) - before
        trainer.stdin.write("\n")
        trainer.stdin.flush()
    assert trainer.returncode == 0
    assert grown <= WORKER_PROCESS_BYTES, grown / 2**20


HELD = 128 << 20
# Holds HELD bytes of written arrays and runs a program as glibc's posix_spawn does (Python's
# subprocess too, where it can): a child sharing this process's memory until it execs, which
# it does once its file action, opening the FIFO argv[1] for reading, finds a writer.
HOLDING_AND_RUNNING_A_PROGRAM = f"""
import os, sys
import numpy as np
held = np.ones({HELD // 4}, np.float32)
os.posix_spawn("/bin/true", ["true"], os.environ,
               file_actions=[(os.POSIX_SPAWN_OPEN, 0, sys.argv[1], os.O_RDONLY, 0)])
os.wait()
"""


def _open_once_read(fifo: Path, seconds: float) -> None:
    """Open ``fifo`` for writing as soon as a reader waits in its open, ``seconds`` later
    close it: the reader's open then returns."""
    import time

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while no reader waits
        except OSError:
            time.sleep(0.01)
            continue
        time.sleep(seconds)
        os.close(fd)
        return


def test_the_peak_counts_a_program_the_command_runs_in_the_command_alone(tmp_path):
    """Between vfork and exec a child shares its parent's memory, and /proc showed it all
    private to the child: summed with the workers, it counted the command twice (the fc-list
    matplotlib runs where its cache has no font list, as on a first run's new cache folder;
    `[first run-separable.cnn]` measured 292 MiB under load, 192 without). Here the child
    waits a second in that state, the sampler reading /proc every 10 ms."""
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    opener = threading.Thread(target=_open_once_read, args=(fifo, 1.0))
    opener.start()
    try:
        measured = peak_of([sys.executable, "-c", HOLDING_AND_RUNNING_A_PROGRAM, str(fifo)])
    finally:
        opener.join()
    # the command's arrays and its interpreter, far less than twice the arrays
    assert HELD < measured < 2 * HELD, measured / 2**20


# Trains one step of a net of every activation kind on a batch of ones in a fresh process and
# prints the top-level packages that step imported.
PACKAGES_A_STEP_IMPORTS = """
import sys
import numpy as np
import cnnspec
from cnnspec.check import check
from cnnspec.lang import parse
spec = check(parse(sys.argv[1]))
model = cnnspec.compile(spec, seed=0)
before = set(sys.modules)
x = np.ones((2, *spec.input_shape), np.float32)
_, dout = model.loss(model.forward(x), np.zeros(2, np.int64))
model.backward(dout)
print(" ".join(sorted(set(sys.modules) - before)))
"""


def _modules_a_step_imports(lines: list[str]) -> set[str]:
    text = "input 1x8x8\n" + "\n".join(lines) + "\nflatten\ndense 10\n"
    done = subprocess.run([sys.executable, "-c", PACKAGES_A_STEP_IMPORTS, text],
                          capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_libraries_a_kind_declares_are_the_ones_its_layers_load():
    """The kinds that declare a library load it; no other activation loads one (their
    modules are imported with cnnspec's engine)."""
    declaring, others = [], []
    for kind in KINDS.values():
        if not kind.is_activation or kind.name in ("softmax", "log_softmax"):
            continue  # the softmaxes end a net
        for example in kind.examples:
            ir = kind.example_ir(example)
            line = f"{kind.name} " + " ".join(f"{k} {v}" for k, v in example.fields.items())
            (declaring if kind.libraries(ir) else others).append((line.strip(), ir, kind))
    assert declaring, "no kind declares a library: the test would prove nothing"
    for line, ir, kind in declaring:
        loaded = _modules_a_step_imports([line])
        assert set(kind.libraries(ir)) <= loaded, (line, sorted(loaded))
    loaded = _modules_a_step_imports([line for line, _, _ in others])
    assert not {name for name in LIBRARY_BYTES if name in loaded}, sorted(loaded)


def test_the_data_counted_is_the_data_loaded():
    """The sizes the dataset table declares are those the loaders return (the built-in and
    generated sets; the downloaded ones are read from their files)."""
    from cnnspec.data.load import load_dataset
    from cnnspec.ir.datasets import DATASETS, example_count, with_defaults

    for data in ({"name": "digits"}, {"name": "shapes", "size": 8, "count": 300}):
        data = with_defaults(data)
        dataset = load_dataset(data, seed=0)
        assert len(dataset.y_train) + len(dataset.y_test) == example_count(data)
    assert data_bytes(with_defaults({"name": "shapes", "count": 2000}), 4) == pytest.approx(
        data_bytes(with_defaults({"name": "shapes", "count": 1000}), 4) * 2, abs=1)
    assert data_bytes({"name": "npz", "path": "x.npz"}, 4) == 0  # not read by check
    assert all(kind.examples or kind.name in ("shapes", "npz") for kind in DATASETS.values())


NPZ_BYTES = 2000 * (16 * 16 * 4 + 8)  # _npz_spec's arrays as loaded: float32 images, int64 labels


def _npz_spec(tmp_path: Path) -> Path:
    """A spec training for one epoch on an npz file of 2000 random 16x16 images."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", x=rng.random((2000, 1, 16, 16), np.float32),
             y=np.arange(2000) % 4)
    spec = tmp_path / "mine.cnn"
    spec.write_text("input 1x16x16\nconv 4 3x3 relu\nflatten\nfc: dense 4\n"
                    f"train {{\n  data npz(path=\"{tmp_path / 'mine.npz'}\")\n  epochs 1\n}}\n")
    return spec


def test_training_on_an_npz_file_too_large_for_memory_is_refused_once_it_is_read(
        tmp_path, monkeypatch, capsys):
    """An npz file's size is known once it is read: check reads it as the trainer does and
    refuses the spec with the trainer's words; the trainer counts it once loaded, before it
    trains or makes the run folder."""
    from cnnspec.check import memory
    from cnnspec.cli import main

    spec = _npz_spec(tmp_path)
    before = cnnspec.load(spec).step_memory
    assert before.data == 0
    loaded = memory.with_loaded_data(before, NPZ_BYTES).process
    monkeypatch.setattr(memory, "machine_memory", lambda: (before.process + loaded) // 2)
    for command in (["check"], ["train", "--out", str(tmp_path / "run"), "--quiet"]):
        assert main([command[0], str(spec), *command[1:]]) == 2
        err = capsys.readouterr().err
        assert "mine.cnn:6:3: error: training would need up to about" in err
        assert ("beside Python and its libraries, the data set weighs most" in err
                and "a subset of them, saved in an npz file" in err)
    assert not (tmp_path / "run").exists()
    assert main(["check", str(spec), "--max-memory", str(2 * loaded)]) == 0  # a limit given
    monkeypatch.setattr(memory, "machine_memory", lambda: 2 * loaded)  # room: it trains
    assert main(["train", str(spec), "--out", str(tmp_path / "run"), "--quiet"]) == 0


def test_check_of_an_npz_spec_words_its_memory_once_with_the_data_read(tmp_path, capsys):
    """check reads an npz file and counts its data: it printed the checker's warning, which
    left the data "uncounted until it is read", beside the warning or error that counts it,
    two figures for one process. It says the one with the data read."""
    from cnnspec.check import memory
    from cnnspec.cli import main

    spec = _npz_spec(tmp_path)
    before = cnnspec.load(spec).step_memory
    loaded = memory.with_loaded_data(before, NPZ_BYTES).process
    # over half of the limit before the file is read and after: a warning both ways
    limit = int(loaded * 1.2)
    assert before.process > limit * memory.WARN_SHARE
    assert main(["check", str(spec), "--max-memory", str(limit)]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: training needs up to about") == 1, err
    assert f"about {memory.bytes_text(loaded)} at batch" in err and "uncounted" not in err
    # no room once the data is counted: the error alone
    assert main(["check", str(spec), "--max-memory", str(loaded - 1)]) == 2
    err = capsys.readouterr().err
    assert "error: training would need up to about" in err and "warning" not in err, err


def test_a_run_is_evaluated_on_a_machine_too_small_to_train_it(tmp_path, monkeypatch, capsys):
    """eval, predict and the other commands that read a run do not train: the training
    process's figure does not refuse them (a run trained on a larger machine is used here)."""
    from cnnspec.check import memory
    from cnnspec.cli import main

    run = tmp_path / "run"
    assert main(["train", str(SPECS / "digits.cnn"), "--out", str(run), "--quiet",
                 "--epochs", "1"]) == 0
    process = cnnspec.load(SPECS / "digits.cnn").step_memory.process
    monkeypatch.setattr(memory, "machine_memory", lambda: process - 1)
    with pytest.raises(SpecErrors, match="training would need"):
        cnnspec.load(SPECS / "digits.cnn")  # it could not be trained here
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0, capsys.readouterr().err
    x = np.zeros((2, 1, 8, 8), np.float32)
    assert cnnspec.load_run(run).predict(x).shape[0] == 2

def test_a_float64_run_extended_on_its_npz_data_is_counted_in_float64(tmp_path, monkeypatch,
                                                                      capsys):
    """Resuming with more epochs re-checks the run in its own dtype: the npz data it counts
    once loaded is float64's (6x its bytes), and a refused resume leaves the run's spec.json
    as it was."""
    from cnnspec.check import memory
    from cnnspec.cli import main

    spec = _npz_spec(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(spec), "--out", str(run), "--quiet", "--dtype", "float64"]) == 0
    single, double = (memory.with_loaded_data(checked_with_overrides(spec, {}, dtype)
                                              .step_memory, NPZ_BYTES).process
                      for dtype in ("float32", "float64"))
    monkeypatch.setattr(memory, "machine_memory", lambda: (single + double) // 2)
    before = (run / "spec.json").read_text()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 2
    assert "training would need up to about" in capsys.readouterr().err
    assert (run / "spec.json").read_text() == before


# Trains a spec three times in one process, as a sweep's worker trains its cells.
THREE_TRAININGS = """
import sys, tempfile
import cnnspec
for seed in range(3):
    cnnspec.train(sys.argv[1], cnnspec.Settings(epochs=1, seed=seed),
                  tempfile.mkdtemp() + "/run", progress="none")
"""


def test_trainings_one_after_another_in_one_process_stay_within_the_estimate():
    """What a training leaves in reference cycles is freed before the next one loads its
    data (before, resnet_near_identity's third training peaked at 1.10 of check's figure)."""
    spec = SPECS / "resnet_near_identity.cnn"
    measured = peak_of([sys.executable, "-c", THREE_TRAININGS, str(spec)])
    estimate = checked_with_overrides(spec, {}).step_memory.process
    assert measured <= estimate, (measured / 2**20, estimate / 2**20)


@pytest.mark.parametrize("name", ["resnet_near_identity.cnn", "cifar10_vgg.cnn"])
def test_a_training_that_records_statistics_stays_within_the_trainers_estimate(name, tmp_path):
    """`train --stats` keeps every layer's output and gradient of a recorded step, which the
    trainer adds to check's figure (check does not know of --stats); without it the process
    went 1.20x (resnet_near_identity) and 1.54x (cifar10_vgg) over check's figure here."""
    from cnnspec.check.memory import with_recording

    spec = SPECS / name
    measured = _peak_of_training(spec, tmp_path / "run", "--stats", "1")
    checked = checked_with_overrides(spec, {})
    estimate = with_recording(checked.step_memory, checked.spec, checked.layers).process
    assert measured <= estimate, (measured / 2**20, estimate / 2**20)


def test_training_that_records_statistics_is_refused_where_its_recording_does_not_fit(
        tmp_path, monkeypatch, capsys):
    from cnnspec.check import memory
    from cnnspec.cli import main

    spec = SPECS / "resnet_near_identity.cnn"
    checked = checked_with_overrides(spec, {})
    plain = checked.step_memory.process
    recorded = memory.with_recording(checked.step_memory, checked.spec, checked.layers).process
    assert recorded > plain
    monkeypatch.setattr(memory, "machine_memory", lambda: (plain + recorded) // 2)
    out = tmp_path / "run"
    assert main(["train", str(spec), "--out", str(out), "--quiet", "--stats", "5"]) == 2
    err = capsys.readouterr().err
    assert "to record every layer's output and gradient" in err and not out.exists()
    assert main(["train", str(spec), "--out", str(out), "--quiet", "--epochs", "1"]) == 0


WIDE = """input 1x32x32
flatten
h: dense 4096
out: dense 2
train {
  data shapes(size=32, classes=[x, plus], count=200)
  batch 8
  epochs 3
  val_split 0.2
  lr 0.01
}
"""


def test_a_whole_training_runs_arrays_are_within_checks_figure(tmp_path):
    """A whole run's arrays (tracemalloc, after a first run's imports), its saving of
    checkpoints and best.npz and its end included, against check's figure of them: the
    step's arrays, the data and what saving and ending add (MemoryEstimate.ending). A net
    whose weights outweigh its activations ran 33 MiB past the step and data (98 against
    67 MiB): the checkpoint held a copy of the optimizer's state, np.savez a 16 MiB piece of
    the weight, and best.npz was read back beside the gradients."""
    import tracemalloc

    (tmp_path / "wide.cnn").write_text(WIDE)
    spec = tmp_path / "wide.cnn"
    memory = cnnspec.load(spec).step_memory
    cnnspec.train(spec, run_dir=tmp_path / "imports", curves=True)
    tracemalloc.start()
    try:
        run = cnnspec.train(spec, run_dir=tmp_path / "run", curves=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.weights == "best" and run.weights_epoch < 3  # best.npz read back at the end
    figure = memory.total + memory.data + memory.ending
    assert peak <= figure, (peak / 2**20, figure / 2**20)
    assert figure <= OVERESTIMATE * peak
