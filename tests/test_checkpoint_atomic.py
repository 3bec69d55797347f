"""A checkpoint is one atomic file; runs of the older two-file layout still resume; what a
killed or interrupted process leaves behind is cleaned up or completed on resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from stops import StopAfter
from test_resume import FAST, assert_same_run, spec_file, weights

from cnnspec import Settings, resume, train
from cnnspec.engine.optim import make_optimizer
from cnnspec.errors import RunError
from cnnspec.training import loop, rundir, state
from cnnspec.training.callbacks import Callback
from cnnspec.training.files import read_npz, write_npz
from cnnspec.training.loop import Interrupted


def to_two_file_layout(path, step_in_checkpoint=None) -> None:
    """Rewrite a run's checkpoint as runs before the one-file layout saved it: weights and
    ``_step`` in checkpoint.npz, the rest in state.npz under the old key names."""
    arrays = read_npz(path / rundir.CHECKPOINT)
    old = {"position": arrays.pop(state.POSITION_KEY),
           "dropout_rng": arrays.pop(state.DROPOUT_KEY)}
    for key in [k for k in arrays if k.startswith(state.OPTIMIZER_KEY + state.SEP)]:
        old["optimizer" + key[len(state.OPTIMIZER_KEY):]] = arrays.pop(key)
    if step_in_checkpoint is not None:
        arrays[state.STEP_KEY] = np.asarray(step_in_checkpoint)
    write_npz(path / rundir.CHECKPOINT, arrays)
    write_npz(path / rundir.STATE, old)


def test_one_file_holds_the_weights_and_the_state_of_training(tmp_path):
    with pytest.raises(Interrupted):
        train(spec_file(tmp_path), run_dir=tmp_path / "cut", on_step=StopAfter(3), **FAST)
    arrays = read_npz(tmp_path / "cut" / rundir.CHECKPOINT)
    assert not (tmp_path / "cut" / rundir.STATE).exists()
    assert json.loads(str(arrays[state.POSITION_KEY]))["step"] == int(arrays["_step"]) == 3
    assert any(k.startswith("_optimizer/momentum_buffer.") for k in arrays)
    assert "conv1.weight" in state.weights_only(arrays)


@pytest.mark.parametrize("optimizer", ["sgd(momentum=0.9)", "adam"])
def test_a_run_of_the_two_file_layout_resumes_bitwise(tmp_path, optimizer):
    spec = spec_file(tmp_path, optimizer)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(8), **FAST)
    to_two_file_layout(tmp_path / "cut")
    with pytest.raises(Interrupted):  # its next save moves it to the one-file layout
        resume(tmp_path / "cut", on_step=StopAfter(11), **FAST)
    assert not (tmp_path / "cut" / rundir.STATE).exists()
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)


def test_a_torn_two_file_checkpoint_is_refused(tmp_path):
    with pytest.raises(Interrupted):
        train(spec_file(tmp_path), run_dir=tmp_path / "cut", on_step=StopAfter(3), **FAST)
    # as if the older layout's process died between writing the weights and the position
    to_two_file_layout(tmp_path / "cut", step_in_checkpoint=7)
    with pytest.raises(RunError, match="different steps"):
        resume(tmp_path / "cut", **FAST)


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_dead_writers_are_removed_on_resume(tmp_path):
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(5), **FAST)
    cut = tmp_path / "cut"
    dead = cut / f".checkpoint.npz.{dead_pid()}.k2j4h5ab.tmp"
    older = cut / ".checkpoint.npz.x8f0qv1z.tmp"  # named before the pid was in the name
    live = cut / f".metrics.jsonl.{os.getpid()}.abcdefgh.tmp"
    mine = cut / f".notes.txt.{dead_pid()}.abcdefgh.tmp"  # not a run file: not ours to delete
    for path in (dead, older, live, mine):
        path.write_bytes(b"half a file")
    assert_same_run(resume(cut, **FAST), straight)
    assert not dead.exists() and not older.exists()
    assert live.exists()  # its writer (this process) is still running
    assert mine.exists()


def test_a_run_folder_set_up_by_a_killed_process_is_removed_by_the_next_run(tmp_path):
    stale = tmp_path / f".cnnspec-run.{dead_pid()}.q1w2e3r4.tmp"
    live = tmp_path / f".cnnspec-run.{os.getpid()}.q1w2e3r4.tmp"
    other = tmp_path / ".cnnspec-run.12.notes.txt"  # not a name a run folder is set up under
    for folder in (stale, live):
        folder.mkdir()
        (folder / rundir.SUMMARY).write_text("{}")
    other.write_text("keep")
    train(spec_file(tmp_path), Settings(epochs=1), run_dir=tmp_path / "run", **FAST)
    assert not stale.exists() and live.exists() and other.exists()


class DrawingInterrupted(Callback):
    """Ctrl-C while the pictures are drawn, once."""

    def __init__(self) -> None:
        self.fired = False

    def on_end(self, metrics, run_dir, display) -> None:
        if not self.fired:
            self.fired = True
            raise KeyboardInterrupt


def test_ctrl_c_while_drawing_after_the_last_epoch_is_finished_by_resume(tmp_path):
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted, match="after the last epoch") as info:
        train(spec, run_dir=tmp_path / "cut", callbacks=[DrawingInterrupted()],
              progress="none")
    assert "resume" in info.value.hint
    summary = json.loads((tmp_path / "cut" / rundir.SUMMARY).read_text())
    assert summary["status"] == "running"  # not finished: no pictures yet
    finished = resume(tmp_path / "cut", progress="none")
    assert (tmp_path / "cut" / rundir.CURVES).read_bytes().startswith(b"\x89PNG")
    assert finished.summary["status"] == "finished"
    assert finished.summary["test_acc"] == straight.summary["test_acc"]
    assert_same_run(finished, straight)
    with pytest.raises(RunError, match="already finished"):
        resume(tmp_path / "cut", **FAST)


def test_ctrl_c_while_the_last_epoch_is_validated_stops_before_the_test_figures(tmp_path,
                                                                                monkeypatch):
    """A Ctrl-C after the last step is not lost: every epoch is saved, the run stops where a
    Ctrl-C after the last epoch does, and a resume finishes it as the run never stopped."""
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    real, epochs = loop.score, straight.spec.ir["training"]["epochs"]
    validated = []

    def pressed_while_validating(model, x, y, batch_size):
        validated.append(1)
        if len(validated) == epochs:  # the last epoch's validation
            os.kill(os.getpid(), signal.SIGINT)
        return real(model, x, y, batch_size)

    monkeypatch.setattr(loop, "score", pressed_while_validating)
    with pytest.raises(Interrupted, match="after the last epoch") as info:
        train(spec, run_dir=tmp_path / "cut", **FAST)
    assert "resume" in info.value.hint
    monkeypatch.setattr(loop, "score", real)
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)


class TerminatedAt:
    """A step hook that sends this process SIGTERM after step ``step`` (as `kill` would)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def __call__(self, step, model):
        if step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_stops_training_at_the_next_step_with_a_checkpoint(tmp_path):
    """SIGTERM, what `kill`, `timeout` and schedulers send, is a request as Ctrl-C is: the
    step ends, a checkpoint is saved, and a resume gives the run that never stopped."""
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted, match="training interrupted in epoch 2 after step 8"):
        train(spec, run_dir=tmp_path / "cut", on_step=TerminatedAt(7), **FAST)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler before is back
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)


def test_ctrl_c_during_the_first_save_leaves_no_folder_and_the_out_free(tmp_path,
                                                                         monkeypatch):
    real = state.write_npz

    def interrupted(path, arrays):
        monkeypatch.setattr(state, "write_npz", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(state, "write_npz", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(spec_file(tmp_path), run_dir=tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    run = train(spec_file(tmp_path), run_dir=tmp_path / "out", **FAST)
    assert run.summary["status"] == "finished"


def test_a_run_folder_appears_whole(tmp_path, monkeypatch):
    """Until the step-0 checkpoint is written the folder has no public name; once it has,
    everything a resume needs is there."""
    seen = []
    real = state.write_npz

    def watching(path, arrays):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        real(path, arrays)

    monkeypatch.setattr(state, "write_npz", watching)
    with pytest.raises(Interrupted):
        train(spec_file(tmp_path), run_dir=tmp_path / "out", on_step=StopAfter(1), **FAST)
    first = seen[0]
    assert "out" not in first and len(first) == 2  # the spec and the hidden folder
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert weights(tmp_path / "out")


@pytest.mark.parametrize("fails", ["mkstemp", "fsync"])
def test_a_run_folder_that_cannot_be_written_is_an_error_and_left_as_it_was(tmp_path,
                                                                            monkeypatch,
                                                                            capsys, fails):
    """A read-only folder (the temporary file cannot be made) or a full disk (its data cannot
    be flushed): resuming a run for more epochs, whose first write is its spec.json, says so
    (exit 1) and changes nothing in the folder."""
    import errno
    import tempfile

    from cnnspec.cli import main

    run = train(spec_file(tmp_path), Settings(epochs=1), run_dir=tmp_path / "done", **FAST).path
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    reason = errno.EROFS if fails == "mkstemp" else errno.ENOSPC

    def refuse(*args, **kwargs):
        raise OSError(reason, os.strerror(reason))

    monkeypatch.setattr(tempfile if fails == "mkstemp" else os, fails, refuse)
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {run / rundir.SPEC_JSON}: {os.strerror(reason)}" in err
    assert "hint: check that its folder is writable" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_disk_that_fills_while_a_run_is_set_up_names_the_run_folder(tmp_path, monkeypatch,
                                                                      capsys):
    """The files of a new run are written into a hidden folder first; when one cannot be
    written the error names the run folder asked for, and nothing is left: neither the hidden
    folder nor the folders made for the run."""
    import errno

    from cnnspec.cli import main

    spec = spec_file(tmp_path)
    out = tmp_path / "new" / "runs" / "out"

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert main(["train", str(spec), "--out", str(out), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert (f"cannot create run folder {out}: cannot write {rundir.SUMMARY}: "
            f"{os.strerror(errno.ENOSPC)}") in err
    assert ".cnnspec-run." not in err
    assert "hint: free some space or choose a writable place with --out" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [spec.name]


class DiskFullOnce:
    """``os.fsync`` that, once armed, fails one write as a full disk does (the file written
    is then left as it was); armed by calling it as a step hook at step ``k``."""

    def __init__(self, k: int | None = None) -> None:
        import errno

        self.k, self.armed, self.real = k, False, os.fsync
        self.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __call__(self, step: int, model) -> None:
        self.armed = self.armed or step + 1 == self.k

    def fsync(self, fd) -> None:
        if self.armed:
            self.armed = False
            raise self.error
        self.real(fd)


def test_a_disk_that_fills_mid_training_stops_the_run_resumably(tmp_path, monkeypatch):
    """Epoch 2's best.npz cannot be saved: the run stops saying so, summary.json says "interrupted"
    (not "running"), the hint says how to continue, and the resumed run is the uninterrupted one."""
    from test_resume import STEPS_PER_EPOCH, assert_same_run

    from cnnspec.training.loop import Stopped

    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    full = DiskFullOnce(STEPS_PER_EPOCH + 2)
    monkeypatch.setattr(os, "fsync", full.fsync)
    with pytest.raises(Stopped) as stopped:
        train(spec, run_dir=tmp_path / "cut", on_step=full, **FAST)
    run = tmp_path / "cut"
    assert stopped.value.message == (f"cannot write {run / rundir.BEST}: No space left on "
                                     f"device; the last checkpoint in {run} is kept")
    assert stopped.value.hint == ("free some space or make the folder writable, then continue "
                                  f"it with: cnnspec.resume({str(run)!r})")
    summary = json.loads((run / rundir.SUMMARY).read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == STEPS_PER_EPOCH
    assert "No space left on device" in summary["message"]
    assert_same_run(resume(run, **FAST), straight)


def test_a_disk_that_fills_after_the_last_epoch_says_how_to_finish(tmp_path, monkeypatch,
                                                                   capsys):
    """The test figures cannot be written: the command says so and how to finish the run."""
    from cnnspec.cli import invoked_as, main
    from cnnspec.training import api

    full, score = DiskFullOnce(), api.score

    def filling(*args):
        full.armed = True
        return score(*args)

    monkeypatch.setattr(os, "fsync", full.fsync)
    monkeypatch.setattr(api, "score", filling)
    run = tmp_path / "out"
    assert main(["train", str(spec_file(tmp_path)), "--out", str(run), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert (f"cannot write {run / rundir.SUMMARY}: No space left on device; every epoch is "
            f"saved in {run}") in err
    assert f"then finish it with: {invoked_as()} train --resume {run}" in err
    assert json.loads((run / rundir.SUMMARY).read_text())["status"] == "interrupted"
    monkeypatch.undo()
    assert main(["train", "--resume", str(run)]) == 0
    assert json.loads((run / rundir.SUMMARY).read_text())["status"] == "finished"


def test_saving_and_loading_weights_holds_no_copy_of_them(tmp_path):
    """A checkpoint is written from the model's own arrays and a weights file's shapes are
    checked against them (Model.state_arrays): copies (state_dict) held every weight twice,
    which raised the peak of a run whose weights weigh most at its end (best.npz written each
    better epoch, read back for the test figures)."""
    import tracemalloc

    import cnnspec

    (tmp_path / "wide.cnn").write_text(
        "input 1x32x32\nflatten\nh: dense 4096\nout: dense 2\n"
        "train {\n  data shapes(size=32, classes=[x, plus], count=10)\n  batch 8\n}\n")
    model = cnnspec.compile(cnnspec.load(tmp_path / "wide.cnn"), seed=0)
    weight = model.params()["h.weight"].nbytes  # 16 MiB
    run = rundir.RunDir(tmp_path)
    optimizer = make_optimizer({"name": "sgd", "momentum": 0.0, "nesterov": False}, 0.0)
    tracemalloc.start()
    try:
        state.save_checkpoint(run, model, optimizer, state.Position(), None)
        saved = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        arrays = read_npz(run.checkpoint)
        start = tracemalloc.get_traced_memory()[0]
        state.put_weights(model, state.weights_only(arrays), run.checkpoint)
        checked = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    # np.savez writes an array through copies of 16 MiB pieces of it
    assert saved < weight + (1 << 20), saved / weight
    assert checked < weight / 4, checked / weight


def test_checking_a_read_checkpoint_allocates_nothing_the_size_of_its_weights(tmp_path):
    """The finite check of a checkpoint's weights made a boolean array the size of each
    weight (np.isfinite): reading a checkpoint then peaked a quarter of its float32 weights
    above them. NaN and infinities are still found (test_damaged_files)."""
    import tracemalloc

    weights = {"h.weight": np.ones((1024, 1024), np.float32), "h.bias": np.zeros(1024, np.float32)}
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        state.checked_weights(weights, tmp_path / "checkpoint.npz")
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak < weights["h.weight"].nbytes / 64, peak


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 511, -1])
def test_a_checkpoint_weight_with_a_nan_or_infinity_anywhere_is_refused(tmp_path, bad, where):
    weight = np.linspace(-1.0, 1.0, 1024, dtype=np.float32).reshape(32, 32)
    weight.reshape(-1)[where] = bad
    with pytest.raises(RunError, match="h.weight holds NaN or infinite values"):
        state.checked_weights({"h.weight": weight}, tmp_path / "checkpoint.npz")
