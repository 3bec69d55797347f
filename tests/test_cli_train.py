"""``cnnspec train``, ``eval`` and ``predict`` through ``main([...])``: exit codes, output,
and messages instead of tracebacks."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from cnnspec.cli import main
from cnnspec.data import load_dataset
from cnnspec.render.curves import Curves
from cnnspec.training import rundir


@pytest.fixture
def no_curves(monkeypatch):
    """Skip drawing curves.png (a second of Matplotlib per run); one test keeps it."""
    monkeypatch.setattr(Curves, "on_end", lambda self, metrics, run_dir, display: None)


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_train_prints_accuracy_folder_and_next_commands(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", str(tmp_path / "tiny.cnn"), "--out", str(out), "--epochs", "1",
                 "--seed", "4", "--batch-size", "32", "--lr", "0.1"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "test accuracy" in printed and f"run folder: {out}" in printed
    assert " test images of shapes;" in printed  # the data trained on, named
    for command in ("cnnspec eval", "cnnspec predict", "cnnspec filters"):
        assert f"{command} {out}" in printed
    assert "epoch 1/1" in printed  # not a terminal: one line per epoch
    summary = json.loads((out / rundir.SUMMARY).read_text())
    assert summary["overrides"] == {"epochs": 1, "lr": 0.1, "batch_size": 32, "seed": 4}
    assert (out / rundir.CURVES).is_file()
    # what trains, said before the first epoch, with the overrides in force
    opening = printed.splitlines()[0]
    assert opening.startswith("training tiny (") and " on shapes: " in opening, opening
    assert f"{summary['test_examples']} test images; sgd(" in opening
    assert opening.endswith(f"lr 0.1, schedule constant, batch 32, 1 epoch, float32; run folder "
                            f"{out}"), opening


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_train_quiet_says_nothing_before_its_result(tmp_path, capsys, no_curves):
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "tiny.cnn"), "--out", str(out), "--epochs", "1",
                 "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("test accuracy")


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_the_next_commands_name_a_folder_with_spaces_as_a_shell_reads_it(tmp_path, capsys,
                                                                          no_curves):
    import shlex

    out = tmp_path / "my runs" / "run é one"
    assert main(["train", str(tmp_path / "tiny.cnn"), "--out", str(out), "--epochs", "1"]) == 0
    printed = capsys.readouterr().out.split("next:\n")[1]
    commands = [shlex.split(line) for line in printed.splitlines()]
    assert len(commands) == 3
    for command, words in zip(["eval", "predict", "filters"], commands):
        assert words[words.index(command) + 1] == str(out)


def test_the_next_commands_leave_out_filters_for_a_network_without_a_conv_layer(
        tmp_path, capsys, no_curves):
    """`filters` draws a conv layer's kernels and refuses a network of dense layers alone
    (exit 2), which train suggested all the same."""
    spec = tmp_path / "dense.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 16 relu\ndense 10\ntrain {\n  epochs 1\n}\n",
                    encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", str(spec), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split("next:\n")[1]
    commands = [line.split() for line in printed.splitlines()]
    assert len(commands) == 2 and not [words for words in commands if "filters" in words]
    assert main(["filters", str(out), "-o", str(tmp_path / "filters.png")]) == 2
    assert "has no conv layer" in capsys.readouterr().err


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_quiet_prints_only_the_result(tmp_path, capsys, no_curves):
    assert main(["train", str(tmp_path / "tiny.cnn"), "--out", str(tmp_path / "r"),
                 "--epochs", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert not any(line.startswith("epoch") for line in lines)
    assert captured.err == ""
    assert captured.out.startswith("test accuracy")
    # the result ends with its folder; the suggested next commands are not a result
    assert lines[-1] == f"run folder: {tmp_path / 'r'}"
    assert "next:" not in lines


def test_a_spec_without_a_train_block_is_said_to_have_trained_on_digits(tmp_path, capsys,
                                                                         no_curves):
    """Nothing in a spec without a train block names its data, nor did train's output."""
    spec = tmp_path / "mine.cnn"
    spec.write_text("input 1x8x8\nconv 4 3x3 relu\nflatten\ndense 10\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--epochs", "1",
                 "--quiet"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("test accuracy") and "; 360 test images of digits;" in first


def test_one_test_image_is_counted_as_one(tmp_path, capsys, no_curves):
    """An npz file with one test image was reported as "1 test images"."""
    import numpy as np

    rng = np.random.default_rng(0)
    data = tmp_path / "one.npz"
    np.savez(data, x=rng.integers(0, 256, (20, 1, 8, 8), dtype=np.uint8),
             y=rng.integers(0, 2, 20), x_test=np.zeros((1, 1, 8, 8), np.uint8),
             y_test=np.array([1]))
    spec = tmp_path / "one.cnn"
    spec.write_text(f'input 1x8x8\nflatten\ndense 2\ntrain {{\n  data npz("{data}")\n}}\n')
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--epochs", "1",
                 "--quiet"]) == 0
    assert "; 1 test image of npz;" in capsys.readouterr().out.splitlines()[0]


def test_nothing_to_train_exits_2_with_a_hint(capsys):
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert "cnnspec: error: " in err and "nothing to train" in err and "hint:" in err


@pytest.mark.parametrize("argv", [["train", "--resume", "no/such/run"], ["eval", "no/such/run"],
                                  ["predict", "no/such/run", "x.png"]])
def test_a_missing_run_folder_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "no such folder: no/such/run" in capsys.readouterr().err


def test_bad_option_values_are_usage_errors(tmp_path, capsys, tiny_shapes_spec):
    spec = str(tiny_shapes_spec)
    (tmp_path / "run").mkdir()
    (tmp_path / "a.png").write_bytes(b"")
    for argv, message in ((["--epochs", "0"], "must be at least 1"),
                          (["--lr", "-1"], "must be a positive number"),
                          (["--batch-size", "x"], "expected a whole number"),
                          (["--seed", "-2"], "must be 0 or more")):
        with pytest.raises(SystemExit) as info:
            main(["train", spec, *argv])
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # --top 0 used to be taken as --top 1
        main(["predict", str(tmp_path / "run"), str(tmp_path / "a.png"), "--top", "0"])
    assert info.value.code == 2 and "must be at least 1" in capsys.readouterr().err


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_spec_mistakes_exit_2_and_point_at_the_spec(tmp_path, capsys):
    code = main(["train", str(tmp_path / "tiny.cnn"), "--data", "digits",
                 "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "tiny.cnn:" in err and "10 classes" in err and "hint:" in err


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_channels_last_arrays_get_a_transpose_hint_not_a_new_input_line(tmp_path, capsys):
    np.savez(tmp_path / "hwc.npz", x=np.zeros((20, 8, 8, 1), np.float32),
             y=np.arange(20) % 2)
    code = main(["train", str(tmp_path / "tiny.cnn"), "--data", f"npz:{tmp_path / 'hwc.npz'}",
                 "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "the npz images are 8x8x1" in err
    assert "channels-last" in err and "transpose(0, 3, 1, 2)" in err
    assert "write `input 8x8x1`" not in err


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_existing_out_folder_is_refused(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "keep.txt").write_text("x")
    assert main(["train", str(tmp_path / "tiny.cnn"), "--out", str(tmp_path / "r")]) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_eval_text_and_json(tmp_path, capsys, no_curves):
    run = tmp_path / "r"
    assert main(["train", str(tmp_path / "tiny.cnn"), "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "true \\ predicted" in text
    assert main(["eval", str(run), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"loss", "accuracy", "confusion", "classes"}
    assert sum(map(sum, result["confusion"])) == result["examples"]

    data = load_dataset({"name": "shapes", "size": 8, "classes": ["x", "plus"],
                         "count": 240}, seed=3)
    np.save(tmp_path / "one.npy", data.x_test[0])
    assert main(["predict", str(run), str(tmp_path / "one.npy"), "--format", "json"]) == 0
    [prediction] = json.loads(capsys.readouterr().out)
    assert prediction["predicted"] in ("x", "plus")
    assert main(["predict", str(run), str(tmp_path / "one.npy"), "--top", "1"]) == 0
    assert "one.npy:" in capsys.readouterr().out


def _ctrl_c_during_step(n: int, real_step):
    """A stand-in for the training step that raises KeyboardInterrupt inside step ``n`` (after
    its work, before it returns: that step is not saved), as a Ctrl-C mid-step would."""
    calls = []

    def step(session, x, y, lr, limit):
        calls.append(1)
        result = real_step(session, x, y, lr, limit)
        if len(calls) == n:
            raise KeyboardInterrupt
        return result

    return step


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_a_real_ctrl_c_exits_130_and_the_run_resumes_to_the_end(tmp_path):
    """SIGINT sent to a real `cnnspec train` process once its first epoch is printed."""
    run = tmp_path / "r"
    command = [sys.executable, "-m", "cnnspec", "train", str(tmp_path / "tiny.cnn"), "--out",
               str(run), "--epochs", "100"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each epoch line as it is printed
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=environment) as process:
        for line in process.stdout:
            if line.split()[:2] == ["epoch", "1/100"]:
                process.send_signal(signal.SIGINT)
                break
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"cnnspec train --resume {run}" in err and "Traceback" not in err
    status = json.loads((run / rundir.SUMMARY).read_text())["status"]
    assert status == "interrupted"
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / rundir.SUMMARY).read_text())["status"] == "finished"


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_second_ctrl_c_while_drawing_curves_keeps_the_resume_message(tmp_path, capsys,
                                                                      monkeypatch):
    """The first Ctrl-C stops training; curves.png is then drawn after the Ctrl-C handler is
    gone, so a second Ctrl-C there must not replace the resume message with a bare
    'interrupted'."""
    from cnnspec.training import loop

    step_then_ctrl_c = _ctrl_c_during_step(3, loop._step)

    def impatient_drawing(self, metrics, run_dir, display):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_step", step_then_ctrl_c)
    monkeypatch.setattr(Curves, "on_end", impatient_drawing)
    run = tmp_path / "r"
    code = main(["train", str(tmp_path / "tiny.cnn"), "--out", str(run), "--quiet"])
    assert code == 130
    assert f"cnnspec train --resume {run}" in capsys.readouterr().err


def test_chance_level_accuracy_gets_a_note_naming_what_to_try(tmp_path, tiny_shapes_text):
    from cnnspec.cli.train import chance_note

    (tmp_path / rundir.SPEC_CNN).write_text(tiny_shapes_text)
    ten = [str(k) for k in range(10)]
    note = chance_note({"classes": ten, "test_acc": 0.10}, tmp_path)
    assert len(note) == 1 and "no better than guessing among 10 classes (10%)" in note[0]
    assert "--lr" in note[0] and f"cnnspec init-report {tmp_path / 'spec.cnn'}" in note[0]
    assert chance_note({"classes": ten, "test_acc": 0.35}, tmp_path) == []
    # check's warnings printed before training (a zeros init's identical filters) name the
    # likelier cause than the learning rate
    (warned,) = chance_note({"classes": ten, "test_acc": 0.10}, tmp_path, warned=2)
    assert "The 2 warnings printed before training name what may be the cause" in warned
    (one,) = chance_note({"classes": ten, "test_acc": 0.10}, tmp_path, warned=1)
    assert "The warning printed before training names what may be the cause" in one
    assert "--lr" not in warned and "init-report" in warned
    # one step an epoch (a batch of all the images): the steps, not the lr
    (few,) = chance_note({"classes": ten, "test_acc": 0.1, "steps": 2}, tmp_path)
    assert few.endswith("learned nothing in 2 steps, too few to learn from: train more "
                        "epochs, or with a smaller batch (an epoch is one step a batch)")
    assert chance_note({"classes": ["a", "b"], "test_acc": 0.55}, tmp_path)
    assert chance_note({"classes": ["a", "b"], "test_acc": 0.65}, tmp_path) == []
    # one training image (val_split 0.999): neither more steps nor a smaller batch helps
    (alone,) = chance_note({"classes": ten, "test_acc": 0.1, "steps": 2, "train_examples": 1},
                           tmp_path)
    assert alone.endswith("learned nothing from 1 training image, too few to learn 10 classes "
                          "from: hold out less to validate (val_split), or train on more data")
    (two,) = chance_note({"classes": ["a", "b"], "test_acc": 0.5, "steps": 2,
                          "train_examples": 5}, tmp_path)
    assert two.endswith("in 2 steps, too few to learn from: train more epochs, or with a "
                        "smaller batch (an epoch is one step a batch)")


def test_a_run_that_learned_its_training_images_but_evaluates_at_chance_says_so(tmp_path):
    """Training accuracy far above guessing and validation at it: neither the init nor the lr
    is to blame, evaluation is; the batch norms whose running statistics check warned of
    stay near their start are named first."""
    from cnnspec.cli.train import chance_note

    ten = [str(k) for k in range(10)]
    summary = {"classes": ten, "test_acc": 0.10, "steps": 63, "train_examples": 1293}
    epoch = {"epoch": 3, "train_acc": 0.72, "val_acc": 0.097}
    (note,) = chance_note(summary, tmp_path, warned=1, epoch=epoch, held=["bn1"])
    assert "though training classed 72% of its images right, validation 9.7%" in note
    assert "learned nothing" not in note and "--lr" not in note
    assert "Likeliest here: 'bn1' normalises at evaluation by running statistics still near " \
           "their start" in note and "as check's warning printed before training says" in note
    assert "other classes than training's" in note and "overfitting" in note
    (usual,) = chance_note(summary, tmp_path, epoch=epoch)
    assert usual.endswith("The usual causes: batch norm's running statistics, which "
                          "evaluation normalises by, far from the batches' (check "
                          "warns of a momentum too small for the run); validation or test "
                          "images of other classes than training's; or overfitting, a network "
                          "that memorised a few training images")
    # training near chance too: the network learned nothing, as before
    (nothing,) = chance_note(summary, tmp_path, epoch={**epoch, "train_acc": 0.23})
    assert "learned nothing" in nothing and "--lr" in nothing
    # of two classes, 70% of the training images is no proof of learning; 75% is
    two = {**summary, "classes": ["a", "b"], "test_acc": 0.5}
    assert "learned nothing" in chance_note(two, tmp_path, epoch={"train_acc": 0.7})[0]
    assert "though training" in chance_note(two, tmp_path, epoch={"train_acc": 0.75})[0]


def test_the_final_report_names_the_batch_norms_check_warned_of(tmp_path):
    """train's last lines read the tested epoch's training accuracy from the run's metrics and
    the batch norms whose statistics stay near their start from check's own lint."""
    from types import SimpleNamespace

    from cnnspec.check import check
    from cnnspec.cli.train import final_report
    from cnnspec.lang import parse

    checked = check(parse("input 1x8x8\nconv 4 3x3\nbn: batchnorm momentum 0.001\nflatten\n"
                          "dense 10\ntrain {\n  epochs 3\n}\n"))
    summary = {"classes": [str(k) for k in range(10)], "test_acc": 0.1, "test_loss": 9.0,
               "test_epoch": 2, "epochs_done": 3, "test_examples": 360, "last_test_acc": 0.1,
               "monitor": "val_loss",
               "data": {"name": "digits"}, "train_seconds": 1.0, "steps": 63}
    metrics = [{"epoch": e, "train_acc": acc, "val_acc": 0.1}
               for e, acc in ((1, 0.5), (2, 0.72), (3, 0.8))]
    result = SimpleNamespace(summary=summary, path=tmp_path, metrics=metrics, spec=checked,
                             training=checked.ir["training"])
    report = final_report(result, suggest_next=False, warned=1)
    assert "though training classed 72% of its images right, validation 10%" in report
    assert "Likeliest here: 'bn' normalises at evaluation" in report


def test_eval_of_an_unfinished_run_says_what_the_figures_are_of():
    from cnnspec.cli.eval import unfinished_note

    diverged = unfinished_note({"status": "diverged", "steps": 3}, "runs/r")
    assert "diverged after 3 steps" in diverged and "last checkpoint" in diverged
    interrupted = unfinished_note({"status": "interrupted", "steps": 40}, "runs/r")
    assert "cnnspec train --resume runs/r" in interrupted
    assert unfinished_note({"status": "finished", "steps": 90}, "runs/r") is None


def test_an_export_of_a_diverged_run_says_which_weights_it_holds(tmp_path, capsys):
    """As eval's note: the weights saved before the run diverged, said beside the export."""
    from cnnspec.exporters import open_exported

    spec = tmp_path / "div.cnn"
    spec.write_text("input 1x8x8\nconv 8 3 relu\nflatten\ndense 10\ntrain {\n  lr 1e6\n}\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    capsys.readouterr()
    weights = open_exported(tmp_path / "r").weights
    assert weights.startswith("trained weights (last, epoch 0; the run diverged after ")
    assert weights.endswith(" and these were saved before that)")


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_data_on_the_command_line_is_written_as_in_a_spec(tmp_path, capsys, no_curves):
    out = tmp_path / "r"
    assert main(["train", str(tmp_path / "tiny.cnn"), "--out", str(out), "--quiet", "--data",
                 "shapes(size=8, classes=[x, o], count=120)"]) == 0
    ir = json.loads((out / rundir.SPEC_JSON).read_text())
    assert ir["training"]["data"] == {"name": "shapes", "size": 8, "classes": ["x", "o"],
                                      "count": 120, "noise": 0.1, "colour": False}
    assert main(["train", str(tmp_path / "tiny.cnn"), "--quiet", "--data",
                 "shapes(size=8, color=true)"]) == 2
    err = capsys.readouterr().err
    assert "--data 'shapes(size=8, color=true)': dataset shapes has no parameter 'color'" in err


@pytest.mark.usefixtures("tiny_shapes_spec")
def test_a_float64_run_evaluates_and_predicts_in_float64(tmp_path, capsys, no_curves):
    out = tmp_path / "r"
    assert main(["train", str(tmp_path / "tiny.cnn"), "--out", str(out), "--quiet",
                 "--epochs", "1", "--dtype", "float64"]) == 0
    capsys.readouterr()
    assert json.loads((out / rundir.SUMMARY).read_text())["dtype"] == "float64"
    assert main(["eval", str(out), "--format", "json"]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["accuracy"] <= 1.0
    image = tmp_path / "one.npy"
    np.save(image, np.zeros((1, 8, 8), np.float32))
    assert main(["predict", str(out), str(image)]) == 0


IN_FLOAT64 = ("hint: write a number of at least 1.4e-45, the smallest float32 above 0, or train "
              "in float64 (`--dtype float64`), which holds it\n")
EPS_REFUSED = ("tiny.cnn:11:22: error: adam eps must be greater than 0 in float32, the dtype "
               "training computes in, which rounds 1e-50 to 0\n"
               "    optimizer adam(eps=1e-50)\n"
               "                       ^^^^^\n" + IN_FLOAT64)
# A layer's setting float32 rounds to 0, held to the run's dtype as the training settings are.
NORM_EPS = "conv1: conv 4 3x3 pad same relu\nbatchnorm eps 1e-50"
NORM_EPS_REFUSED = ("tiny.cnn:4:11: error: batchnorm 'batchnorm1': eps must be greater than 0 "
                    "in float32, the dtype the network computes in, which rounds 1e-50 to 0\n"
                    "  batchnorm eps 1e-50\n"
                    "            ^^^^^^^^^\n" + IN_FLOAT64)
# A training setting and a layer's setting (the line replaced, its replacement) float32 rounds to
# 0, each with its refusal.
FLOAT32_ZEROS = {"optimizer eps": ("  lr 0.05", "  optimizer adam(eps=1e-50)", EPS_REFUSED),
                 "norm eps": ("conv1: conv 4 3x3 pad same relu", NORM_EPS, NORM_EPS_REFUSED)}


@pytest.mark.parametrize("setting", FLOAT32_ZEROS)
@pytest.mark.parametrize("dtype", [[], ["--dtype", "float32"]], ids=["default", "float32"])
@pytest.mark.parametrize("command", ["check", "train"])
def test_a_setting_float32_rounds_to_0_is_refused_by_check_and_train_in_float32(
        tmp_path, capsys, tiny_shapes_text, command, dtype, setting):
    line, replacement, refused = FLOAT32_ZEROS[setting]
    spec = tmp_path / "tiny.cnn"
    spec.write_text(tiny_shapes_text.replace(line, replacement))
    options = ["--out", str(tmp_path / "run"), "--quiet"] if command == "train" else []
    assert main([command, str(spec), *dtype, *options]) == 2
    assert refused in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def _float64_weights(spec, out) -> dict:
    """The weights (``<layer>.weight``, ``<layer>.bias``) of one epoch of ``spec`` in float64."""
    assert main(["train", str(spec), "--out", str(out), "--quiet", "--epochs", "1",
                 "--dtype", "float64"]) == 0
    with np.load(out / rundir.CHECKPOINT) as saved:
        return {name: saved[name] for name in saved.files if not name.startswith("_")}


def test_an_eps_float32_rounds_to_0_passes_check_and_trains_in_float64(
        tmp_path, capsys, tiny_shapes_text, no_curves):
    spec = tmp_path / "tiny.cnn"
    spec.write_text(tiny_shapes_text.replace("  lr 0.05", "  optimizer adam(eps=1e-50)"))
    assert main(["check", str(spec), "--dtype", "float64"]) == 0
    weights = _float64_weights(spec, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / rundir.METRICS).read_text().splitlines()[-1])
    assert np.isfinite(metrics["train_loss"]) and np.isfinite(metrics["val_loss"])
    assert all(np.isfinite(w).all() and w.dtype == np.float64 for w in weights.values())
    # the eps trained with is the spec's: Adam's default eps (1e-8) moves the weights otherwise
    default = tmp_path / "default.cnn"
    default.write_text(tiny_shapes_text.replace("  lr 0.05", "  optimizer adam"))
    other = _float64_weights(default, tmp_path / "default")
    assert weights.keys() == other.keys()
    assert any(not np.array_equal(weights[name], other[name]) for name in weights)


def test_a_float64_run_with_an_lr_float32_rounds_to_0_resumes_with_its_own_lr(
        tmp_path, capsys, tiny_shapes_text, no_curves):
    """`train --resume RUN --lr X` repeats the run's own lr, which its dtype held: a float64
    run's lr of 1e-50 resumes (it was refused as float32 rounds it to 0); a float32 run's lr
    given as 1e-50 is still refused, as not the run's own."""
    spec = tmp_path / "tiny.cnn"
    spec.write_text(tiny_shapes_text.replace("  lr 0.05", "  lr 1e-50"))
    out = tmp_path / "run"
    assert main(["train", str(spec), "--out", str(out), "--quiet", "--epochs", "1",
                 "--dtype", "float64"]) == 0
    assert main(["train", "--resume", str(out), "--lr", "1e-50", "--epochs", "2",
                 "--quiet"]) == 0
    assert json.loads((out / rundir.SUMMARY).read_text())["epochs_done"] == 2
    capsys.readouterr()
    plain = tmp_path / "plain"
    assert main(["train", str(spec), "--out",
                 str(plain), "--quiet", "--epochs", "1", "--lr", "0.05"]) == 0
    assert main(["train", "--resume", str(plain), "--lr", "1e-50", "--epochs", "2"]) != 0


def test_a_norm_eps_float32_rounds_to_0_passes_check_and_trains_in_float64(
        tmp_path, capsys, tiny_shapes_text, no_curves):
    spec = tmp_path / "tiny.cnn"
    spec.write_text(tiny_shapes_text.replace("conv1: conv 4 3x3 pad same relu", NORM_EPS))
    assert main(["check", str(spec), "--dtype", "float64"]) == 0
    weights = _float64_weights(spec, tmp_path / "run")
    assert all(np.isfinite(w).all() and w.dtype == np.float64 for w in weights.values())
    saved = json.loads((tmp_path / "run" / rundir.SPEC_JSON).read_text())
    assert next(layer for layer in saved["layers"] if layer["kind"] == "batchnorm")["eps"] == 1e-50


def test_the_engine_divides_by_a_float64_norm_eps_float32_rounds_to_0():
    """A channel of one value throughout (zero weights) has a variance of 0: the eps alone keeps
    the normalised output finite, where float32's 0 would divide 0 by 0."""
    import cnnspec
    from cnnspec.check import check
    from cnnspec.lang import parse

    text = ("input 1x8x8\nconv 2 3x3 weight zeros bias zeros\nbatchnorm eps 1e-50\n"
            "flatten\ndense 10\n")
    model = cnnspec.compile(check(parse(text), dtype="float64"), dtype="float64")
    norm = next(node.layer for node in model.nodes if node.kind == "batchnorm")
    assert norm.eps == 1e-50
    model.train()
    out = model.forward(np.ones((4, 1, 8, 8)))
    assert out.dtype == np.float64 and np.isfinite(out).all()


def test_train_leaves_out_the_warnings_of_the_lints_ignore_names(tmp_path, capsys, no_curves):
    """train prints check's warnings before it trains, each with its lint's name, but those of
    the lints --ignore names; the result's note counts only those printed."""
    spec = tmp_path / "linear.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 16\ndense 10\ntrain {\n  epochs 1\n}\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert " [stacked-linear]\n" in capsys.readouterr().err
    assert main(["train", str(spec), "--out", str(tmp_path / "b"), "--quiet",
                 "--ignore", "stacked-linear"]) == 0
    assert "[stacked-linear]" not in capsys.readouterr().err
