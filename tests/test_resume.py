"""Ctrl-C and --resume: an interrupted-then-resumed run ends bitwise where an uninterrupted run
does. The spec has every kind of state a resume must carry: SGD momentum or Adam moments,
batchnorm running statistics, dropout masks, a schedule that changes per epoch, and an epoch
whose batches do not divide evenly."""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
from stops import StopAfter

import cnnspec
import cnnspec.data.load
from cnnspec import Settings, resume, train
from cnnspec.errors import RunError, SettingError, SpecErrors
from cnnspec.training import rundir
from cnnspec.training.files import read_npz
from cnnspec.training.loop import Interrupted

SPEC = """\
model stateful
input 1x8x8
conv1: conv 4 3x3 pad same
bn1: batchnorm
relu
pool1: maxpool 2
flatten
drop: dropout 0.3
fc: dense 2

train {{
  data shapes(size=8, classes=[x, plus], count=200)
  optimizer {optimizer}
  lr 0.05
  schedule cosine
  batch 24
  epochs 3
  seed 5
}}
"""
FAST = {"progress": "none", "curves": False}
STEPS_PER_EPOCH = 6  # 200 images, 20% test, 10% validation: 144 training images, batch 24


def spec_file(tmp_path, optimizer="sgd(momentum=0.9)"):
    path = tmp_path / "stateful.cnn"
    path.write_text(SPEC.format(optimizer=optimizer))
    return path


def weights(path):
    return {k: v for k, v in read_npz(path / rundir.CHECKPOINT).items() if not k.startswith("_")}


def timeless(rows):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
            for row in rows]


def assert_same_run(resumed, straight):
    a, b = weights(resumed.path), weights(straight.path)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert timeless(resumed.metrics) == timeless(straight.metrics)
    assert resumed.summary["test_acc"] == straight.summary["test_acc"]


@pytest.mark.parametrize("optimizer", ["sgd(momentum=0.9)", "adam"])
@pytest.mark.parametrize("stop_after", [4, STEPS_PER_EPOCH, 14])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, optimizer, stop_after):
    spec = spec_file(tmp_path, optimizer)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted) as info:
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(stop_after), **FAST)
    assert f"cnnspec.resume('{tmp_path / 'cut'}')" in info.value.hint
    summary = json.loads((tmp_path / "cut" / rundir.SUMMARY).read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == stop_after
    resumed = resume(tmp_path / "cut", **FAST)
    assert resumed.summary["status"] == "finished" and resumed.summary["resumed"] == 1
    assert_same_run(resumed, straight)


def test_two_interruptions(tmp_path):
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(2), **FAST)
    with pytest.raises(Interrupted):
        resume(tmp_path / "cut", on_step=StopAfter(9), **FAST)
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)


def test_ctrl_c_stops_at_the_next_clean_point(tmp_path):
    """A real SIGINT during a step: the step finishes, then the run saves and stops."""
    def press_ctrl_c(step, model):
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        train(spec_file(tmp_path), run_dir=tmp_path / "cut", on_step=press_ctrl_c, **FAST)
    assert int(read_npz(tmp_path / "cut" / rundir.CHECKPOINT)["_step"]) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_while_saving_leaves_a_resumable_checkpoint(tmp_path, monkeypatch):
    """A second Ctrl-C right after the weights are written (before the optimizer state)
    must not tear the checkpoint: it is held until both files are written."""
    from cnnspec.training import state

    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    real_write = state.write_npz
    pressed = []

    def write_then_ctrl_c(path, arrays):
        real_write(path, arrays)
        if path.name == rundir.CHECKPOINT and int(arrays["_step"]) == 4 and not pressed:
            pressed.append(path)
            os.kill(os.getpid(), signal.SIGINT)

    def press_ctrl_c(step, model):  # the first Ctrl-C: a real signal, so the second is raw
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(state, "write_npz", write_then_ctrl_c)
    with pytest.raises(Interrupted) as info:
        train(spec, run_dir=tmp_path / "cut", on_step=press_ctrl_c, **FAST)
    assert pressed and "cnnspec.resume(" in info.value.hint
    monkeypatch.setattr(state, "write_npz", real_write)
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_keeps_the_runs_settings(tmp_path, capsys):
    spec = spec_file(tmp_path)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(3), **FAST)
    with pytest.raises(RunError, match="lr 0.1 differs") as info:
        resume(tmp_path / "cut", Settings(lr=0.1), **FAST)
    assert "start a new run" in info.value.hint
    # Datasets are named as written (a name, a call), not as Python dicts.
    with pytest.raises(RunError, match=r"data digits differs from the run's data shapes$"):
        resume(tmp_path / "cut", Settings(data="digits"), **FAST)
    with pytest.raises(RunError,
                       match=r"data shapes\(size=16, .*\) differs .* data shapes\(size=8, "):
        resume(tmp_path / "cut", Settings(data="shapes"), **FAST)
    # The command line words the same refusals with its flags.
    from cnnspec.cli import main

    assert main(["train", "--resume", str(tmp_path / "cut"), "--lr", "0.1", "--quiet"]) == 1
    assert "--lr 0.1 differs from the run's lr 0.05" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "cut"), "--out",
                 str(tmp_path / "elsewhere")]) == 1
    assert "cannot be used with --resume" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()
    resume(tmp_path / "cut", Settings(lr=0.05), spec=spec, **FAST)  # the same values are fine


def test_resume_refuses_another_network(tmp_path):
    spec = spec_file(tmp_path)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(3), **FAST)
    other = tmp_path / "other.cnn"
    other.write_text(spec.read_text().replace("conv 4 3x3", "conv 6 3x3"))
    with pytest.raises(RunError, match="not the network"):
        resume(tmp_path / "cut", spec=other, **FAST)


def test_a_finished_run_extended_with_more_epochs_is_the_longer_run(tmp_path):
    """With a constant learning rate, 1 epoch then 2 more end bitwise where 3 epochs do."""
    spec = tmp_path / "constant.cnn"
    spec.write_text(SPEC.format(optimizer="sgd(momentum=0.9)").replace("schedule cosine",
                                                                       "schedule constant"))
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    train(spec, Settings(epochs=1), run_dir=tmp_path / "short", **FAST)
    extended = resume(tmp_path / "short", Settings(epochs=3), **FAST)
    assert_same_run(extended, straight)
    # summary.json's "command" started the run with 1 epoch; the extension says its own
    assert extended.summary["command"].startswith("cnnspec train ")
    assert "--epochs 1" in extended.summary["command"]
    assert extended.summary["extended"] == [{
        "from_epochs": 1, "to_epochs": 3,
        "command": f"cnnspec train --resume {tmp_path / 'short'} --epochs 3"}]
    saved = json.loads((tmp_path / "short" / rundir.SPEC_JSON).read_text())
    assert saved["training"]["epochs"] == 3
    with pytest.raises(RunError, match="^epochs 2 is fewer than the run's 3 epochs$") as info:
        resume(tmp_path / "short", Settings(epochs=2), **FAST)
    # finished: resumed without epochs it would stop at once, so the hint does not offer it
    assert info.value.hint == ("a resumed run cannot undo what it trained: give more than 3 "
                               "to extend it (epochs=6), or start a new run")


def test_fewer_epochs_for_an_unfinished_run_offers_to_finish_it():
    from cnnspec.training.api import _check_same_settings

    with pytest.raises(RunError) as info:
        _check_same_settings({"epochs": 3}, {"epochs": 2}, finished=False)
    assert info.value.hint == ("a resumed run cannot undo what it trained: drop epochs to finish "
                               "its 3, give more than 3 to extend it (epochs=6), or start a new "
                               "run")


@pytest.mark.parametrize("schedule, plans", [
    ("cosine", (" (its cosine schedule now spans all 3: the learning rate follows the longer "
                "plan from here, so the run differs from one planned for 3 from the start)")),
    ("constant", "")])
def test_an_extended_run_says_so_and_what_its_schedule_now_plans(tmp_path, capsys, schedule,
                                                                  plans):
    """It said "resuming RUN at epoch 2", as a run stopped by Ctrl-C does, while its cosine
    schedule's lr rose again to fit the longer run."""
    from cnnspec.cli import main

    spec = spec_file(tmp_path)
    spec.write_text(spec.read_text().replace("schedule cosine", f"schedule {schedule}"))
    train(spec, Settings(epochs=1), run_dir=tmp_path / "short", **FAST)
    assert main(["train", "--resume", str(tmp_path / "short"), "--epochs", "3"]) == 0
    out = capsys.readouterr()
    assert f"extending {tmp_path / 'short'} from 1 epoch to 3 in all{plans}: resuming at " \
           "epoch 2, step " in out.out + out.err


def test_resume_of_a_finished_run_says_so(tmp_path):
    train(spec_file(tmp_path), Settings(epochs=1), run_dir=tmp_path / "done", **FAST)
    with pytest.raises(RunError, match="already finished") as info:
        resume(tmp_path / "done", **FAST)
    assert "cnnspec eval" in info.value.hint
    assert f"by adding epochs=2 to `cnnspec.resume('{tmp_path / 'done'}')`" in info.value.hint


@pytest.mark.parametrize("name", ["done", "my runs/it's done"])
def test_the_command_line_says_how_to_extend_a_finished_run(tmp_path, capsys, name,
                                                            monkeypatch):
    """The commands a hint suggests can be pasted: a path a shell would split is quoted, and
    the program is named as it was started (`cnnspec train --resume` was 'command not found'
    where the venv was not activated)."""
    import shlex
    import sys

    from cnnspec import cli

    train(spec_file(tmp_path), Settings(epochs=1), run_dir=tmp_path / name, **FAST)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/cnnspec"])
    monkeypatch.setattr(cli.shutil, "which", lambda program: None)  # not on PATH
    assert cli.main(["train", "--resume", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    typed = shlex.quote(str(tmp_path / name))
    assert f"by adding --epochs 2 to `.venv/bin/cnnspec train --resume {typed}`" in err
    assert f"`.venv/bin/cnnspec eval {typed}`" in err


def test_resume_of_a_missing_or_torn_run(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        resume(tmp_path / "nowhere", **FAST)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="not a run folder"):
        resume(tmp_path / "empty", **FAST)
    # A torn checkpoint of the older two-file layout: tests/test_checkpoint_atomic.py.


def test_a_float64_run_trains_checkpoints_and_resumes_in_float64(tmp_path):
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", dtype="float64", **FAST)
    assert straight.summary["dtype"] == straight.summary["data_dtype"] == "float64"
    weights = read_npz(tmp_path / "straight" / rundir.CHECKPOINT)
    assert all(v.dtype == np.float64 for k, v in weights.items() if not k.startswith("_"))
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(3), dtype="float64", **FAST)
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)
    assert cnnspec.load_run(tmp_path / "cut").model.dtype == np.float64


def test_a_float64_run_that_loaded_float32_images_resumes_on_them(tmp_path, monkeypatch):
    """A float64 run from before its data was loaded in float64 (its summary records no
    data_dtype) trained on float32 images widened; resumed, it went on on float64 ones, no
    longer bitwise what it would have been."""
    spec = spec_file(tmp_path)
    load = cnnspec.data.load.load_dataset
    with monkeypatch.context() as before:  # the images loaded as such a run's were
        before.setattr(cnnspec.data.load, "load_dataset",
                       lambda cfg, seed, data_dir=None, dtype=None: load(cfg, seed, data_dir))
        straight = train(spec, run_dir=tmp_path / "straight", dtype="float64", **FAST)
        with pytest.raises(Interrupted):
            train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(8), dtype="float64",
                  **FAST)
    summary = json.loads((tmp_path / "cut" / rundir.SUMMARY).read_text())
    del summary["data_dtype"]
    (tmp_path / "cut" / rundir.SUMMARY).write_text(json.dumps(summary))
    resumed = resume(tmp_path / "cut", **FAST)
    assert_same_run(resumed, straight)
    assert resumed.summary["data_dtype"] == cnnspec.load_run(resumed.path).input_dtype \
        == "float32"


@pytest.mark.parametrize("stop_after", [4, 14])
def test_an_augmented_run_resumed_draws_the_augmentations_of_an_uninterrupted_one(
        tmp_path, stop_after):
    spec = tmp_path / "augmented.cnn"
    spec.write_text(SPEC.format(optimizer="sgd(momentum=0.9)").replace(
        "  seed 5\n", "  seed 5\n  augment [crop(pad=1), flip, rotate(10), noise(0.05)]\n"))
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(stop_after), **FAST)
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)
    plain = train(spec_file(tmp_path), run_dir=tmp_path / "plain", **FAST)
    assert not np.array_equal(weights(plain.path)["fc.weight"],
                              weights(straight.path)["fc.weight"])


def _copy_of(run: str, tmp_path) -> rundir.RunDir:
    import shutil

    shutil.copytree(run, tmp_path / "run")
    return rundir.RunDir(tmp_path / "run")


def _files(run: rundir.RunDir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.path.iterdir())}


def test_a_run_being_trained_is_not_resumed_by_a_second_process(trained, tmp_path, capsys):
    """Two `train --resume` of one folder at once both trained it, writing the same
    checkpoint, metrics and summary from two processes. The second is refused, before it
    changes anything (here the first is this block, holding the run as a training does)."""
    from cnnspec.cli import main

    run = _copy_of(trained["run"], tmp_path)
    before = _files(run)
    with rundir.trained_alone(run):
        assert main(["train", "--resume", str(run.path), "--epochs", "3", "--quiet"]) == 1
    assert f"run {run.path} is being trained by another process" in capsys.readouterr().err
    assert _files(run) == before
    with rundir.trained_alone(run):  # released at the end of the block
        pass


def test_a_run_folder_that_cannot_be_opened_to_lock_is_said_so(trained, tmp_path, capsys,
                                                                monkeypatch):
    """The lock opens the folder for reading, which a folder without read permission
    (chmod u-r, for anyone but root) refuses: an error naming the folder, not a traceback,
    before anything changes."""
    import errno
    from pathlib import Path

    from cnnspec.cli import main

    run = _copy_of(trained["run"], tmp_path)
    before = _files(run)
    real_open = os.open

    def refusing(path, flags, *args, **kwargs):
        if Path(path) == run.path and flags == os.O_RDONLY:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    assert main(["train", "--resume", str(run.path), "--epochs", "3", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"cannot lock {run.path}: Permission denied" in err and "Traceback" not in err
    assert "hint: give yourself read permission on the folder" in err
    assert _files(run) == before


def test_a_forked_worker_does_not_hold_the_run_after_its_training():
    """The engine forks its workers while the run is held; a child that kept the folder's
    descriptor would keep the lock after the training ended, and the next training in
    this process would be refused as if another process ran it."""
    import multiprocessing
    import tempfile
    from pathlib import Path

    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory() as folder:
        run = rundir.RunDir(Path(folder))
        running, done = context.Event(), context.Event()

        def worker():
            running.set()  # after the fork's handlers have run
            done.wait()

        with rundir.trained_alone(run):
            child = context.Process(target=worker)
            child.start()
            assert running.wait(60)
        try:
            with rundir.trained_alone(run):  # the child lives on, the lock is free
                pass
        finally:
            done.set()
            child.join()


def test_a_resumed_runs_npz_file_may_be_named_from_any_folder(tmp_path, monkeypatch):
    """The run records its npz file by its absolute path; the same file given again as a
    relative path, from the folder it was given in or from another (``../d.npz``), is the run's
    data, and another file is refused."""
    rng = np.random.default_rng(0)
    for name in ("d.npz", "other.npz"):
        np.savez(tmp_path / name, x=rng.random((40, 1, 8, 8), dtype=np.float32),
                 y=rng.integers(0, 2, 40))
    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nflatten\nfc: dense 2\ntrain {\n  data npz(\"d.npz\")\n"
                    "  batch 10\n  epochs 2\n}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(3), **FAST)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(RunError, match=r"data npz:.*other\.npz differs from the run's data "):
        resume(tmp_path / "cut", Settings(data="npz:../other.npz"), **FAST)
    run = resume(tmp_path / "cut", Settings(data="npz:../d.npz"), **FAST)
    assert run.summary["status"] == "finished" and run.summary["epochs_done"] == 2


def _cut_npz_run(tmp_path):
    """A run on an npz file of 40 images, ``d.npz``, stopped after 3 steps as ``cut``:
    returns the file, its images and labels, and the spec."""
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    x, y = rng.random((40, 1, 8, 8), dtype=np.float32), rng.integers(0, 2, 40)
    np.savez(data, x=x, y=y)
    spec = tmp_path / "net.cnn"
    spec.write_text(f"input 1x8x8\nflatten\nfc: dense 2\ntrain {{\n  data npz(\"{data}\")\n"
                    "  batch 10\n  epochs 2\n}\n")
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(3), **FAST)
    return data, x, y, spec


def test_a_resumed_run_whose_npz_file_has_changed_at_its_place_is_refused(tmp_path):
    """The run records its npz file's digest: the file rewritten with other images (or its
    images saved as uint8) would make the resumed run go on on other data; put back, the run
    goes on. A run from before the digest was recorded goes on as before."""
    data, x, y, spec = _cut_npz_run(tmp_path)
    original = data.read_bytes()
    summary = json.loads((tmp_path / "cut" / rundir.SUMMARY).read_text())
    assert len(summary["data_digest"]) == 32
    for changed in ({"x": x[::-1], "y": y[::-1]}, {"x": (x * 255).astype(np.uint8), "y": y}):
        np.savez(data, **changed)
        with pytest.raises(SettingError, match=r"the data file .*d\.npz has changed since run "
                           r".*cut started on it; resumed, the run would go on on other data")\
                as info:
            resume(tmp_path / "cut", **FAST)
        assert info.value.hint == ("put the file it started on back in its place, or train a "
                                   "new run on the file as it is now")
    data.write_bytes(original)
    assert resume(tmp_path / "cut", **FAST).summary["status"] == "finished"
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "old", on_step=StopAfter(3), **FAST)
    summary = json.loads((tmp_path / "old" / rundir.SUMMARY).read_text())
    del summary["data_digest"]  # as a run from before it was recorded
    (tmp_path / "old" / rundir.SUMMARY).write_text(json.dumps(summary))
    np.savez(data, x=x[::-1], y=y[::-1])
    assert resume(tmp_path / "old", **FAST).summary["status"] == "finished"


def test_a_changed_npz_file_that_no_longer_fits_the_run_is_said_to_have_changed(tmp_path):
    """A file rewritten with more classes or other images than the run's network takes is
    the file changed since the run started, said before the data is held to the network:
    "give 'fc' 3 units" would ask to edit a run's spec. What is no longer a file at the place
    (none, a folder, a pipe, which a digest would wait on) is said by the data's loading."""
    data, x, y, _ = _cut_npz_run(tmp_path)
    for changed in ({"x": x, "y": np.arange(40) % 3}, {"x": x[:, :, :6, :6], "y": y}):
        np.savez(data, **changed)
        with pytest.raises(SettingError, match=r"the data file .*d\.npz has changed since run"):
            resume(tmp_path / "cut", **FAST)
    data.unlink()
    os.mkfifo(data)
    with pytest.raises(SpecErrors, match=r"d\.npz is not a regular file"):
        resume(tmp_path / "cut", **FAST)


@pytest.mark.parametrize("where, edit", [
    (rundir.SPEC_JSON, lambda ir: ir["training"].update(data={
        "name": "shapes", "size": 8, "classes": ["x", "o"], "count": 200, "colour": False,
        "noise": 0.0})),
    (rundir.SUMMARY, lambda summary: summary["data"].update(path="/elsewhere/other.npz")),
])
def test_a_run_whose_spec_and_summary_name_other_data_is_refused(tmp_path, where, edit):
    """The data a run started on is recorded twice, in its spec.json (what a resume loads)
    and its summary.json (what it started on): where one was edited to other data, the
    run resumed on the spec's, silently (an npz run went on on shapes, and its last report
    named npz)."""
    _cut_npz_run(tmp_path)
    path = tmp_path / "cut" / where
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(SettingError, match=r"the run's spec\.json trains on .*, but run .*cut "
                       r"started on .* \(its summary\.json\)") as info:
        resume(tmp_path / "cut", **FAST)
    assert info.value.hint == ("one of the two files was changed since: put back the one that "
                               "was, or train a new run")


def test_an_overflowed_validation_loss_resumes_as_it_was(tmp_path, monkeypatch):
    """Only the validation loss of a finished epoch may be infinite (scored with no divergence
    check): the checkpoint keeps it as it was, so the plateau schedule, which counts it as an
    epoch without improvement, replays the same rates after a resume."""
    from dataclasses import replace

    from cnnspec.training import loop

    real_score = loop.score

    def first_overflows(*args, **kwargs):
        result = real_score(*args, **kwargs)
        calls.append(result)
        return replace(result, loss=np.inf) if len(calls) == 1 else result

    monkeypatch.setattr(loop, "score", first_overflows)
    spec = tmp_path / "plateau.cnn"
    spec.write_text(SPEC.format(optimizer="sgd(momentum=0.9)").replace(
        "schedule cosine", "schedule plateau(patience=0, factor=0.5)"))
    calls = []
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    assert straight.metrics[0]["val_loss"] == np.inf
    calls = []
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(STEPS_PER_EPOCH + 2), **FAST)
    resumed = resume(tmp_path / "cut", **FAST)
    assert resumed.metrics[0]["val_loss"] == np.inf
    assert_same_run(resumed, straight)
    lines = (tmp_path / "cut" / rundir.METRICS).read_text().splitlines()
    written = [json.loads(line) for line in lines]
    assert written[0]["val_loss"] is None  # strict JSON: a figure that overflowed is missing


def test_a_strided_conv_by_phases_resumes_bitwise(tmp_path, monkeypatch):
    """A stride-2 layer that runs by phases (cnnspec.engine.phases: its input's phases kept from
    the forward pass, buffers reused from step to step) resumes bitwise as well, with limits
    that keep it off the one-chunk plan; the same limits hold in forked workers."""
    from cnnspec.engine import conv_tuned
    from cnnspec.engine.calibrate import Thresholds

    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=4096, chunk_columns=64))
    spec = tmp_path / "strided.cnn"
    spec.write_text(SPEC.format(optimizer="sgd(momentum=0.9)").replace(
        "conv1: conv 4 3x3 pad same\n",
        "conv1: conv 4 3x3 pad same\ndown: conv 8 3x3 stride 2 pad 1\n"))
    model = cnnspec.compile(cnnspec.load(spec), seed=0).train()
    model.forward(np.zeros((24, 1, 8, 8), np.float32))
    assert {node.name: node.layer for node in model.nodes}["down"].method() == "phases"
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=StopAfter(8), **FAST)
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)
