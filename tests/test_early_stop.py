"""Early stopping and the best epoch's weights: ``early_stop`` ends a run after that many
epochs without improvement of ``monitor``; ``best.npz`` holds the best epoch's weights
whenever there is a validation split, survives Ctrl-C and resume, and is what ``eval`` and
``predict`` use unless told ``--last``."""
from __future__ import annotations

import json
import os
import re
import signal

import numpy as np
import pytest
from stops import StopAfter

import cnnspec
from cnnspec import Settings, resume, train
from cnnspec.check import check
from cnnspec.cli import main
from cnnspec.errors import SettingError, SpecErrors
from cnnspec.lang import parse
from cnnspec.training import rundir
from cnnspec.training.evaluate import evaluate
from cnnspec.training.files import read_npz
from cnnspec.training.loop import Interrupted, improves

# A learning rate large enough that the validation loss is best early on (epoch 2) and then
# rises: with early_stop 2 the run stops at epoch 4 of 12.
SPEC = """\
model noisy
input 1x8x8
conv1: conv 4 3x3 pad same relu
pool1: maxpool 2
flatten
fc: dense 2

train {{
  data shapes(size=8, classes=[x, plus], count=240, noise=0.4)
  lr 0.2
  batch 16
  epochs {epochs}
  val_split 0.2
  seed 3
{extra}
}}
"""
FAST = {"progress": "none", "curves": False}
STEPS_PER_EPOCH = 10  # 240 images, 20% test, 20% of the rest to validate: 154, batch 16


def spec_file(tmp_path, extra: str = "  early_stop 2", epochs: int = 12):
    path = tmp_path / "noisy.cnn"
    path.write_text(SPEC.format(epochs=epochs, extra=extra))
    return path


def weights(path):
    return {k: v for k, v in read_npz(path).items() if not k.startswith("_")}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        np.testing.assert_array_equal(value, b[key], err_msg=key)


def timeless(rows):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
            for row in rows]


def test_the_run_stops_after_early_stop_epochs_without_improvement(tmp_path):
    run = train(spec_file(tmp_path), run_dir=tmp_path / "run", **FAST)
    losses = [row["val_loss"] for row in run.metrics]
    best = 1 + int(np.argmin(losses))
    assert run.summary["status"] == "finished"
    assert len(losses) < 12 and run.summary["stopped_early"] == len(losses)
    assert run.summary["best_epoch"] == best and len(losses) == best + 2
    assert run.summary["monitor"] == "val_loss" and run.summary["best_value"] == min(losses)
    assert int(read_npz(tmp_path / "run" / rundir.BEST)["_epoch"]) == best


@pytest.mark.parametrize("extra, stopped, best", [
    # No change is more than 100: only the first epoch counts as an improvement.
    ("  early_stop 1\n  min_delta 100", 2, 1),
    ("  early_stop 3\n  monitor val_acc\n  min_delta 1", 4, 1),
    ("  early_stop 0\n  min_delta 100", None, 1),
])
def test_min_delta_is_the_least_change_that_counts(tmp_path, extra, stopped, best):
    run = train(spec_file(tmp_path, extra, epochs=6), run_dir=tmp_path / "run", **FAST)
    assert run.summary["stopped_early"] == stopped
    assert run.summary["best_epoch"] == best
    assert len(run.metrics) == (stopped or 6)


def test_improves_follows_the_metric_direction_and_min_delta():
    assert improves(0.5, None, "val_loss", 0.0)
    assert improves(0.4, 0.5, "val_loss", 0.05) and not improves(0.46, 0.5, "val_loss", 0.05)
    assert improves(0.9, 0.8, "val_acc", 0.0) and not improves(0.8, 0.8, "val_acc", 0.0)
    assert not improves(0.7, 0.8, "val_acc", 0.0)
    assert not improves(float("nan"), None, "val_loss", 0.0)


def test_best_npz_is_the_weights_of_the_best_epoch(tmp_path):
    """Trained straight to the best epoch with the same seed, a run ends with the weights
    the longer run kept as best.npz (a constant lr: the first epochs are the same)."""
    long = train(spec_file(tmp_path, "", epochs=8), run_dir=tmp_path / "long", **FAST)
    best = long.summary["best_epoch"]
    assert 1 < best < 8 and long.summary["stopped_early"] is None
    train(spec_file(tmp_path, "", epochs=8), Settings(epochs=best),
          run_dir=tmp_path / "short", **FAST)
    assert_same_weights(weights(tmp_path / "long" / rundir.BEST),
                        weights(tmp_path / "short" / rundir.CHECKPOINT))
    assert_same_weights(weights(tmp_path / "short" / rundir.BEST),
                        weights(tmp_path / "short" / rundir.CHECKPOINT))
    assert not np.array_equal(*(weights(tmp_path / "long" / name)["fc.weight"]
                                for name in (rundir.BEST, rundir.CHECKPOINT)))


def test_without_a_validation_split_there_is_no_best_npz(tmp_path):
    text = SPEC.format(epochs=2, extra="").replace("val_split 0.2", "val_split 0")
    run = train(_write(tmp_path, "noval.cnn", text), run_dir=tmp_path / "run", **FAST)
    assert not (tmp_path / "run" / rundir.BEST).exists()
    assert "best_epoch" not in run.summary and run.summary["stopped_early"] is None
    loaded = cnnspec.load_run(tmp_path / "run")
    assert loaded.weights == "last" and loaded.weights_epoch == 2


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("cuts", [[15], [25], [STEPS_PER_EPOCH * 2, 35], [39]])
def test_resume_across_the_stop_point_ends_as_the_straight_run(tmp_path, cuts):
    """Ctrl-C before the best epoch, between it and the stop, or in the last epoch: resumed,
    the run keeps its best so far and its count of epochs without improvement."""
    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        train(spec, run_dir=cut, on_step=StopAfter(cuts[0]), **FAST)
    for k in cuts[1:]:
        with pytest.raises(Interrupted):
            resume(cut, on_step=StopAfter(k), **FAST)
    resumed = resume(cut, **FAST)
    assert timeless(resumed.metrics) == timeless(straight.metrics)
    for key in ("status", "stopped_early", "best_epoch", "best_value", "test_acc"):
        assert resumed.summary[key] == straight.summary[key], key
    for name in (rundir.CHECKPOINT, rundir.BEST):
        assert_same_weights(weights(cut / name), weights(tmp_path / "straight" / name))
    assert int(read_npz(cut / rundir.BEST)["_epoch"]) == straight.summary["best_epoch"]


def test_a_real_ctrl_c_after_the_best_epoch_keeps_it_through_resume(tmp_path):
    """A SIGINT in epoch 3, after best.npz was written at the end of epoch 2: the resumed run
    keeps that best, counts epoch 3 and 4 against it and stops where the straight run does."""
    def press_ctrl_c(step, model):
        if step == 2 * STEPS_PER_EPOCH + 3:
            os.kill(os.getpid(), signal.SIGINT)

    spec = spec_file(tmp_path)
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Interrupted):
        train(spec, run_dir=tmp_path / "cut", on_step=press_ctrl_c, **FAST)
    best = read_npz(tmp_path / "cut" / rundir.BEST)
    assert int(best["_epoch"]) == 2
    resumed = resume(tmp_path / "cut", **FAST)
    assert resumed.summary["stopped_early"] == straight.summary["stopped_early"] == 4
    assert resumed.summary["best_epoch"] == 2
    assert_same_weights(best, read_npz(tmp_path / "straight" / rundir.BEST))
    assert_same_weights(read_npz(tmp_path / "cut" / rundir.BEST), best)


def test_a_run_that_stopped_early_is_not_resumed(tmp_path):
    train(spec_file(tmp_path), run_dir=tmp_path / "run", **FAST)
    spec_json = (tmp_path / "run" / rundir.SPEC_JSON).read_text()
    for settings in (None, Settings(epochs=20)):
        with pytest.raises(SettingError, match="stopped early at epoch 4"):
            resume(tmp_path / "run", settings, **FAST)
    assert (tmp_path / "run" / rundir.SPEC_JSON).read_text() == spec_json  # not extended


def test_load_run_opens_the_best_or_the_last_weights(tmp_path):
    train(spec_file(tmp_path), run_dir=tmp_path / "run", **FAST)
    best, last = (cnnspec.load_run(tmp_path / "run", which) for which in ("best", "last"))
    assert (best.weights, best.weights_epoch) == ("best", 2)
    assert (last.weights, last.weights_epoch) == ("last", 4)
    assert_same_weights(best.model.state_dict(), weights(tmp_path / "run" / rundir.BEST))
    assert_same_weights(last.model.state_dict(), weights(tmp_path / "run" / rundir.CHECKPOINT))
    assert cnnspec.load_run(tmp_path / "run").weights == "best"
    with pytest.raises(SettingError, match="which must be one of best, last"):
        cnnspec.load_run(tmp_path / "run", "first")


def test_train_eval_and_predict_say_which_weights(tmp_path, capsys):
    spec = spec_file(tmp_path)
    run = str(tmp_path / "run")
    assert main(["train", str(spec), "--out", run]) == 0
    out = capsys.readouterr().out
    assert "stopped early at epoch 4 of 12: val_loss did not improve for 2 epochs" in out
    assert "best epoch 2 by val_loss" in out and "best.npz" in out
    assert main(["eval", run]) == 0
    best = capsys.readouterr().out
    accuracy = best.split("accuracy ")[1].split("%")[0]
    assert re.search(rf"test accuracy {re.escape(accuracy)}%, loss [0-9.]+ \(best weights, "
                     r"epoch 2 by val_loss\); last epoch ", out), out
    assert "weights: best epoch 2 of 4 by val_loss, stopped early at epoch 4" in best
    assert main(["eval", run, "--last"]) == 0
    last = capsys.readouterr().out
    assert "weights: last epoch (4 of 4)" in last
    assert best.splitlines()[2] != last.splitlines()[2]  # the loss line: other weights
    assert main(["eval", run, "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["weights"], record["weights_epoch"]) == ("best", 2)
    image = tmp_path / "x.npy"
    np.save(image, np.zeros((1, 8, 8), np.float32))
    outputs = []
    for extra in ([], ["--last"]):
        assert main(["predict", run, str(image), "--format", "json", *extra]) == 0
        outputs.append(json.loads(capsys.readouterr().out)[0]["probabilities"])
    assert outputs[0] != outputs[1]


NET = "input 1x8x8\nflatten\ndense 10\ntrain {{\n  early_stop 3\n  val_split {split}\n}}\n"


def test_early_stop_without_validation_data_is_an_error_at_the_setting():
    with pytest.raises(SpecErrors) as info:
        check(parse(NET.format(split=0), "s.cnn"))
    (error,) = info.value.errors
    assert "early_stop" in error.message and "val_split is 0" in error.message
    assert (error.span.line, error.span.column) == (5, 3)
    assert "val_split 0.1" in error.hint
    assert check(parse(NET.format(split=0.1), "s.cnn"))


def test_early_stop_without_validation_data_in_a_json_ir_is_at_its_path(tmp_path, capsys):
    assert main(["export", _write(tmp_path, "s.cnn", NET.format(split=0.1)).as_posix(),
                 "--no-check"]) == 0
    ir = json.loads(capsys.readouterr().out)
    ir["training"]["val_split"] = 0
    path = _write(tmp_path, "s.json", json.dumps(ir))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "$.training.early_stop" in err and "val_split is 0" in err


@pytest.mark.parametrize("written, message", [
    ("monitor val_los", "unknown validation metric 'val_los'"),
    ("early_stop -1", "at least 0"),
    ("min_delta -0.5", "min_delta"),
])
def test_the_settings_are_read_with_their_declared_ranges(written, message):
    from cnnspec.errors import SpecError

    text = f"input 1x8x8\nflatten\ndense 10\ntrain {{\n  {written}\n}}\n"
    with pytest.raises((SpecError, SpecErrors), match=message):
        check(parse(text, "s.cnn"))


def test_an_ir_from_before_early_stopping_trains_every_epoch():
    from cnnspec.ir.migrate import IR_VERSION, upgrade

    ir = {"version": 5, "training": {"epochs": 3}}
    upgrade(ir)
    assert ir["version"] == IR_VERSION
    assert ir["training"] == {"epochs": 3, "monitor": "val_loss", "early_stop": 0,
                              "min_delta": 0.0, "augment": [], "cores": 2}


def test_a_best_epoch_that_is_the_last_is_said_to_be():
    """When the last epoch validated best, the test figures train printed are best.npz's own:
    no "--last for those", which offered the same weights again."""
    from cnnspec.cli.train import best_lines

    training = {"epochs": 5, "early_stop": 0}
    last = {"best_epoch": 5, "epochs_done": 5, "monitor": "val_loss", "best_value": 0.3689}
    assert best_lines(last, training) == [
        ("best epoch 5 by val_loss (0.3689), the last, kept in best.npz: eval, predict, export, "
         "filters and features use it")]
    (earlier,) = best_lines({**last, "best_epoch": 3}, training)
    assert earlier.endswith("kept in best.npz: eval, predict, export, filters and features use "
                            "it (eval --last and predict --last the last epoch's weights)")


def test_the_last_epochs_weights_are_offered_only_by_the_commands_that_take_them():
    """train said "eval, predict and export use it (--last for the last epoch's weights)":
    `export --last` is refused (export, filters and features open the best epoch's alone)."""
    from cnnspec.cli import main
    from cnnspec.cli.train import best_lines

    training = {"epochs": 5, "early_stop": 0}
    summary = {"best_epoch": 3, "epochs_done": 5, "monitor": "val_loss", "best_value": 0.3}
    (line,) = best_lines(summary, training)
    offered = re.findall(r"(\w+) --last", line)
    assert offered == ["eval", "predict"]
    for command in ("export", "filters", "features"):
        assert command in line
        with pytest.raises(SystemExit):
            main([command, "run", "--last", "-o", "x.png"])


def test_the_headline_accuracy_is_the_kept_weights_with_the_last_beside_it():
    """The loss after `last epoch 99.17%` was the kept weights', read as the last epoch's:
    each loss now stands beside its own accuracy."""
    from cnnspec.cli.train import accuracy_text

    last = {"test_acc": 0.9917, "test_loss": 0.0712, "test_epoch": 20, "epochs_done": 20,
            "last_test_acc": 0.9917, "last_test_loss": 0.0712, "monitor": "val_loss"}
    assert accuracy_text(last) == "test accuracy 99.17%, loss 0.0712"
    earlier = {**last, "test_acc": 0.9833, "test_loss": 0.0603, "test_epoch": 7}
    assert accuracy_text(earlier) == ("test accuracy 98.33%, loss 0.0603 (best weights, epoch 7 "
                                      "by val_loss); last epoch 99.17%, loss 0.0712")
    older = {**earlier, "last_test_loss": None}
    assert accuracy_text(older).endswith("; last epoch 99.17%")


def test_the_summary_scores_the_kept_weights_as_eval_does(tmp_path):
    """summary.json's test_acc and test_loss are best.npz's, as eval opens the run, and
    last_test_acc and last_test_loss the last epoch's; the run returned holds the kept
    weights, as load_run opens them, and says so."""
    run = train(spec_file(tmp_path), run_dir=tmp_path / "run", **FAST)
    summary = json.loads((tmp_path / "run" / rundir.SUMMARY).read_text())
    assert (summary["test_epoch"], summary["epochs_done"]) == (2, 4)
    best, last = (evaluate(cnnspec.load_run(tmp_path / "run", which))
                  for which in ("best", "last"))
    assert summary["test_acc"] == best["accuracy"]
    assert summary["last_test_acc"] == last["accuracy"]
    assert summary["test_loss"] == pytest.approx(best["loss"], rel=1e-5)
    assert summary["last_test_loss"] == pytest.approx(last["loss"], rel=1e-5)
    assert summary["test_loss"] != pytest.approx(summary["last_test_loss"], rel=1e-3)
    assert run.summary == summary
    assert (run.weights, run.weights_epoch) == ("best", 2)
    assert_same_weights(run.model.state_dict(), weights(tmp_path / "run" / rundir.BEST))
    assert evaluate(run) == best


def test_a_summary_from_before_the_kept_weights_test_figures_still_opens(tmp_path, capsys):
    train(spec_file(tmp_path), run_dir=tmp_path / "run", **FAST)
    path = tmp_path / "run" / rundir.SUMMARY
    summary = json.loads(path.read_text())
    for key in ("test_epoch", "last_test_acc", "last_test_loss"):
        del summary[key]
    path.write_text(json.dumps(summary))
    assert cnnspec.load_run(tmp_path / "run").weights_epoch == 2
    assert main(["eval", str(tmp_path / "run")]) == 0
    assert "weights: best epoch 2 of 4 by val_loss" in capsys.readouterr().out


def test_without_a_best_epoch_the_kept_weights_are_the_last(tmp_path):
    text = SPEC.format(epochs=2, extra="").replace("val_split 0.2", "val_split 0")
    run = train(_write(tmp_path, "noval.cnn", text), run_dir=tmp_path / "run", **FAST)
    summary = run.summary
    assert summary["test_epoch"] == summary["epochs_done"] == 2
    assert (run.weights, run.weights_epoch) == ("last", 2)
    assert_same_weights(run.model.state_dict(), weights(tmp_path / "run" / rundir.CHECKPOINT))
    assert (summary["last_test_acc"], summary["last_test_loss"]) == (summary["test_acc"],
                                                                     summary["test_loss"])
