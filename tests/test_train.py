"""Training: the run folder, its files, determinism, divergence, LSUV and the step hook.

Every run here is a few hundred 8x8 synthetic images for two epochs, well under a second.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cnnspec import Settings, resume, train
from cnnspec.check.load import load
from cnnspec.cli import OPTION_NAMES, main
from cnnspec.compiler import compile_spec
from cnnspec.errors import RunError, SettingError, SpecErrors
from cnnspec.lang import parse
from cnnspec.seeding import streams
from cnnspec.training import rundir
from cnnspec.training.batches import batch_slices, epoch_order, validation_split
from cnnspec.training.files import read_npz, write_json, write_jsonl, write_npz
from cnnspec.training.loop import Diverged
from cnnspec.training.progress import LineDisplay, format_epoch, make_display
from cnnspec.training.state import flatten, unflatten

TINY = """\
model tiny
input 1x8x8
{weight}
conv1: conv 4 3x3 pad same relu
pool1: maxpool 2
flatten
fc: dense {units}

train {{
  data shapes(size=8, classes=[x, plus], count=240)
  preprocess standardize
  optimizer sgd(momentum=0.9)
  lr {lr}
  batch 16
  epochs 2
  val_split 0.2
  seed 3
}}
"""
FAST = {"progress": "none", "curves": False}  # no output, no Matplotlib: a run takes ~0.2 s
METRIC_KEYS = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}


def write_spec(tmp_path, lr=0.05, units=2, weight="", name="tiny.cnn"):
    path = tmp_path / name
    path.write_text(TINY.format(lr=lr, units=units, weight=weight))
    return path


def timeless(rows):
    """Metrics without the wall-clock fields, which legitimately vary."""
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
            for row in rows]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    return train(write_spec(tmp), run_dir=tmp / "run", progress="none")  # draws curves.png


def test_run_folder_holds_every_file(tiny_run):
    names = {p.name for p in tiny_run.path.iterdir()}
    assert {rundir.SPEC_CNN, rundir.SPEC_JSON, rundir.PREPROCESS, rundir.INIT,
            rundir.CHECKPOINT, rundir.METRICS, rundir.SUMMARY,
            rundir.CURVES, rundir.METRICS_CSV} <= names
    assert (tiny_run.path / rundir.CURVES).read_bytes().startswith(b"\x89PNG")
    assert not [n for n in names if n.endswith(".tmp")] and rundir.STATE not in names


def test_metrics_csv_is_the_jsonl_as_a_table(tiny_run):
    import csv

    with open(tiny_run.path / rundir.METRICS_CSV, newline="") as f:
        table = list(csv.DictReader(f))
    rows = [json.loads(line) for line in
            (tiny_run.path / rundir.METRICS).read_text().splitlines()]
    assert [int(r["epoch"]) for r in table] == [row["epoch"] for row in rows]
    for csv_row, row in zip(table, rows):
        assert float(csv_row["val_acc"]) == pytest.approx(row["val_acc"])
        assert set(csv_row) == set(row)


def test_metrics_one_row_per_epoch(tiny_run):
    rows = [json.loads(line) for line in
            (tiny_run.path / rundir.METRICS).read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        assert METRIC_KEYS <= set(row)
        assert 0.0 <= row["train_acc"] <= 1.0 and row["lr"] == pytest.approx(0.05)
    assert rows == tiny_run.metrics


def test_the_metrics_columns_are_the_declared_ones(tiny_run):
    """metrics.csv's header is cnnspec.metrics.COLUMNS, in order (the loop writes its rows
    from that declaration), and the summary keeps the last value of each of its FIGURES."""
    from cnnspec import metrics

    header = (tiny_run.path / rundir.METRICS_CSV).read_text().splitlines()[0]
    assert header.split(",") == list(metrics.COLUMNS)
    assert METRIC_KEYS <= set(metrics.COLUMNS)
    for column in metrics.FIGURES:
        assert tiny_run.summary[f"final_{column}"] == tiny_run.metrics[-1][column]


def test_summary_records_test_figures_and_versions(tiny_run):
    summary = json.loads((tiny_run.path / rundir.SUMMARY).read_text())
    assert summary["status"] == "finished"
    assert summary["test_acc"] > 0.9  # X vs + on 8x8 is easy; chance is 0.5
    assert summary["seed"] == 3 and summary["data"]["name"] == "shapes"
    assert summary["versions"]["numpy"] == np.__version__
    assert summary["epochs_done"] == 2 and summary["classes"] == ["x", "plus"]


def test_checkpoint_is_the_state_dict_in_pytorch_layout(tiny_run):
    arrays = read_npz(tiny_run.path / rundir.CHECKPOINT)
    weights = {k: v for k, v in arrays.items() if not k.startswith("_")}
    assert weights["conv1.weight"].shape == (4, 1, 3, 3)
    assert weights["fc.weight"].shape == (2, 64)
    assert set(weights) == set(tiny_run.model.state_dict())
    for key, value in tiny_run.model.state_dict().items():
        np.testing.assert_array_equal(weights[key], value)
    init = read_npz(tiny_run.path / rundir.INIT)
    assert not np.array_equal(init["conv1.weight"], weights["conv1.weight"])


def test_spec_json_is_the_effective_ir_with_overrides(tmp_path):
    run = train(write_spec(tmp_path), Settings(epochs=1, lr=0.02), run_dir=tmp_path / "r", **FAST)
    ir = json.loads((run.path / rundir.SPEC_JSON).read_text())
    assert ir["training"]["epochs"] == 1 and ir["training"]["lr"] == 0.02
    assert run.summary["overrides"] == {"epochs": 1, "lr": 0.02}
    assert "--epochs 1 --lr 0.02" in run.summary["command"]
    # spec.cnn is the spec given with the overrides in its train block (tests/test_run_spec_file.py)
    saved = (run.path / rundir.SPEC_CNN).read_text()
    assert saved != (tmp_path / "tiny.cnn").read_text()
    assert parse(saved).ir["training"] == ir["training"]


def test_same_seed_same_metrics_and_weights(tmp_path):
    spec = write_spec(tmp_path)
    a = train(spec, run_dir=tmp_path / "a", **FAST)
    b = train(spec, run_dir=tmp_path / "b", **FAST)
    assert timeless(a.metrics) == timeless(b.metrics)
    for key, value in a.model.state_dict().items():
        np.testing.assert_array_equal(value, b.model.state_dict()[key])
    c = train(spec, Settings(seed=4), run_dir=tmp_path / "c", **FAST)
    assert timeless(c.metrics) != timeless(a.metrics)


def test_existing_non_empty_out_is_refused(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="already exists") as info:
        train(write_spec(tmp_path), run_dir=tmp_path / "busy", **FAST)
    assert "--resume" not in info.value.hint  # not a run: nothing to continue
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_a_taken_out_is_said_before_the_data_is_loaded(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    spec = tmp_path / "flat.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 10\n")
    # The data is only read after the spec is checked; a download could take minutes.
    with pytest.raises(RunError, match="already exists"):
        train(spec, Settings(data=f"npz:{tmp_path / 'missing.npz'}"), run_dir=tmp_path / "busy",
              **FAST)


@pytest.mark.parametrize("status,resumable", [("interrupted", True), ("running", True),
                                              ("finished", False)])
def test_existing_run_as_out_suggests_resume_only_when_unfinished(tmp_path, status, resumable):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text(json.dumps({"status": status}))
    with pytest.raises(RunError, match="already exists") as info:
        train(write_spec(tmp_path), run_dir=tmp_path / "old", **FAST)
    assert ("cnnspec.resume(" in info.value.hint) == resumable


def test_default_run_folder_name(tmp_path):
    run = train(write_spec(tmp_path), Settings(epochs=1), runs_dir=tmp_path / "runs", **FAST)
    assert re.fullmatch(r"tiny-\d{8}-\d{6}", run.path.name)
    assert run.path.parent == tmp_path / "runs"


def test_data_of_the_wrong_shape_names_both_shapes(tmp_path):
    with pytest.raises(SpecErrors) as info:
        train(write_spec(tmp_path), Settings(data="digits"), run_dir=tmp_path / "r", **FAST)
    # digits are 1x8x8 like the spec, but have 10 classes against the spec's 2 units
    (error,) = info.value.errors
    assert "gives 2 scores, but digits has 10 classes" in error.message
    spec16 = tmp_path / "sixteen.cnn"
    spec16.write_text((tmp_path / "tiny.cnn").read_text()
                      .replace("input 1x8x8", "input 1x16x16").replace("size=8", "size=16"))
    with pytest.raises(SpecErrors) as info:  # the spec is checked with --data applied
        train(spec16, Settings(data="digits"), run_dir=tmp_path / "r2", **FAST)
    error = info.value.errors[0]
    assert "1x8x8" in error.message and "1x16x16" in error.message
    assert error.span is not None and error.hint
    assert not (tmp_path / "r2").exists()


def test_bad_settings_are_invalid_setting_errors_named_as_parameters(tmp_path):
    for kwargs in ({"epochs": 0}, {"lr": -1.0}, {"batch_size": 2.5}, {"seed": -1}):
        with pytest.raises(SettingError) as info:
            train(write_spec(tmp_path), Settings(**kwargs), run_dir=tmp_path / "r", **FAST)
        (name,) = kwargs
        assert info.value.invalid and info.value.message.startswith(f"{name} must be")
        assert "--" not in info.value.message + info.value.hint
    with pytest.raises(RunError, match="unknown dataset"):
        train(write_spec(tmp_path), Settings(data="digitz"), run_dir=tmp_path / "r", **FAST)


def test_divergence_stops_saves_and_names_the_layer(tmp_path):
    with pytest.raises(Diverged) as info:
        train(write_spec(tmp_path, lr=1e20), run_dir=tmp_path / "r", **FAST)
    message, hint = info.value.message, info.value.hint
    assert "diverged" in message and re.search(r"layer '(conv1|pool1|flatten\d*|fc)'", message)
    assert "try lr=0.1" in hint and "--" not in hint and "he_normal" in hint
    diverged = read_npz(tmp_path / "r" / rundir.DIVERGED)
    assert diverged["_batch_x"].shape[1:] == (1, 8, 8) and "conv1.weight" in diverged
    # the last good checkpoint (here step 0, before any update) is kept and finite
    good = read_npz(tmp_path / "r" / rundir.CHECKPOINT)
    assert all(np.all(np.isfinite(v)) for k, v in good.items() if not k.startswith("_"))
    summary = json.loads((tmp_path / "r" / rundir.SUMMARY).read_text())
    assert summary["status"] == "diverged" and summary["diverged"] is True
    # Resuming would replay the same steps to the same blow-up: refused, with what to do.
    with pytest.raises(RunError, match="diverged; resumed, it would diverge again") as again:
        resume(tmp_path / "r", **FAST)
    assert "cnnspec.train('" in again.value.hint and "spec.cnn" in again.value.hint
    assert "with lr" in again.value.hint


def test_an_update_that_overflows_is_divergence_without_numpys_warnings(tmp_path):
    """An lr of 1e38 (float32 holds it; 1e300 is refused as infinity there) overflows float32
    in the optimizer's update, which printed NumPy's RuntimeWarnings (overflow in cast, invalid
    value in multiply) above the divergence error."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(Diverged, match="became NaN or infinite"):
            train(write_spec(tmp_path, lr=1e38), run_dir=tmp_path / "r", **FAST)


def test_an_inner_overflow_in_validation_shows_no_numpy_warning(tmp_path):
    """A conv whose products overflow float32 (weights of 1e30 on biases of 1e30) before a tanh
    brings them back: the steps ignored the overflow, but the validation pass printed NumPy's
    "overflow encountered in matmul" above a finite validation loss."""
    import warnings

    path = tmp_path / "inner.cnn"
    path.write_text("model inner\ninput 1x4x4\n"
                    "a: conv 1 1 weight normal(5, 1) bias constant(1e30)\n"
                    "b: conv 8 1 weight normal(0, 1e30) bias normal(0, 1) tanh\n"
                    "flatten\nout: dense 3\n"
                    "train {\n  data shapes(size=4, classes=[x, plus, o], count=24)\n"
                    "  batch 4\n  epochs 1\n}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        run = train(str(path), run_dir=tmp_path / "r", progress="none")
    assert 0 < run.metrics[-1]["val_loss"] < float("inf")


def test_on_step_is_called_after_every_step(tmp_path):
    seen = []
    run = train(write_spec(tmp_path), run_dir=tmp_path / "r",
                on_step=lambda step, model: seen.append(step), **FAST)
    # 240 images, 20% test, then 20% validation: 154 training images in batches of 16
    steps_per_epoch = len(batch_slices(154, 16))
    assert seen == list(range(2 * steps_per_epoch))
    assert run.summary["steps"] == len(seen)


def test_lsuv_rescales_the_orthogonal_init_before_the_first_step(tmp_path):
    spec = write_spec(tmp_path, weight="default weight lsuv")
    run = train(spec, Settings(epochs=1), run_dir=tmp_path / "r", **FAST)
    compiled = compile_spec(run.spec, seed=3).state_dict()
    init = read_npz(run.path / rundir.INIT)
    for name in ("conv1.weight", "fc.weight"):
        ratio = init[name] / compiled[name]
        assert not np.allclose(ratio, 1.0)  # LSUV changed the scale ...
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)  # ... and only the scale


def test_lsuv_runs_once_with_each_layers_own_tolerance(tmp_path, monkeypatch):
    """One pass over the graph rescales every lsuv layer, each with the tol and max_iter its
    own init names (not the first layer's, and without re-running the layers before it)."""
    import cnnspec.lab.lsuv as lsuv_module

    calls = []

    def counting_lsuv(model, x, **kwargs):
        steps = real_lsuv(model, x, **kwargs)
        calls.append((kwargs, steps))
        return steps

    real_lsuv = lsuv_module.lsuv
    monkeypatch.setattr(lsuv_module, "lsuv", counting_lsuv)
    spec = write_spec(tmp_path, weight="default weight lsuv")
    text = spec.read_text().replace("conv 4 3x3 pad same relu",
                                    "conv 4 3x3 pad same weight lsuv(tol=0.01, max_iter=20) relu")
    spec.write_text(text)
    train(spec, Settings(epochs=1), run_dir=tmp_path / "r", **FAST)
    assert len(calls) == 1
    kwargs, steps = calls[0]
    assert kwargs == {}  # every layer's own settings
    assert [(step.layer, step.tol) for step in steps] == [("conv1", 0.01), ("fc", 0.1)]
    assert all(step.converged for step in steps)


# The first draw of each of seed 0's streams, as the run of every earlier version drew it:
# a stream reordered or renamed draws another number (cnnspec.seeding keeps their order fixed).
SEED_0_FIRST_DRAWS = {"init": 4348531928880111035, "data_order": 3123019277035049133,
                      "dropout": 3865843332685112088, "dataset": 1680652569319183313,
                      "augment": 3011304498157213960}


def test_each_stream_of_a_seed_draws_what_it_always_drew():
    """A run is repeated by its seed across versions only while each named stream is the
    same child of the seed's SeedSequence: new streams may be appended, none moved."""
    drawn = {name: int(rng.integers(2 ** 62)) for name, rng in streams(0).items()}
    assert {name: drawn[name] for name in SEED_0_FIRST_DRAWS} == SEED_0_FIRST_DRAWS


def test_epoch_order_depends_on_seed_and_epoch_only():
    rng = streams(0)["data_order"]
    first = epoch_order(rng, 2, 50)
    rng.random(1000)  # drawing from the stream must not change an epoch's order
    np.testing.assert_array_equal(first, epoch_order(rng, 2, 50))
    np.testing.assert_array_equal(first, epoch_order(streams(0)["data_order"], 2, 50))
    assert not np.array_equal(first, epoch_order(rng, 3, 50))
    assert not np.array_equal(first, epoch_order(streams(1)["data_order"], 2, 50))
    assert sorted(first) == list(range(50))


def test_validation_split_is_disjoint_and_sized():
    train_idx, val_idx = validation_split(100, 0.1, streams(0)["data_order"])
    assert len(val_idx) == 10 and len(train_idx) == 90
    assert not set(train_idx) & set(val_idx)
    empty_train, empty_val = validation_split(100, 0.0, streams(0)["data_order"])
    assert len(empty_val) == 0 and len(empty_train) == 100
    assert [s.stop - s.start for s in batch_slices(10, 4)] == [4, 4, 2]


def test_npz_write_is_atomic_and_refuses_pickle(tmp_path):
    path = tmp_path / "w.npz"
    write_npz(path, {"a": np.arange(3)})
    with pytest.raises(TypeError, match="'a' has dtype object and would need pickle"):
        write_npz(path, {"a": np.array([{"x": 1}], dtype=object)})
    np.testing.assert_array_equal(read_npz(path)["a"], np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(RunError, match="cannot be read"):
        read_npz(tmp_path / "bad.npz")


def test_nested_state_round_trips_through_flat_arrays():
    tree = {"optimizer": {"momentum.conv1.weight": np.ones((2, 2)), "step": 7},
            "empty": {}, "nothing": None, "name": "sgd"}
    back = unflatten(flatten(tree))
    np.testing.assert_array_equal(back["optimizer"]["momentum.conv1.weight"], np.ones((2, 2)))
    assert back["optimizer"]["step"] == 7 and back["empty"] == {}
    assert back["nothing"] is None and back["name"] == "sgd"


def test_a_huge_loss_is_written_in_scientific_notation(tmp_path, capsys):
    """An init of std 1e18 trains without overflowing to a loss of 1e37, which four decimals
    wrote as 38 digits and a point, in the epoch lines, the report and eval's."""
    row = {"epoch": 1, "train_loss": 3.9391e37, "train_acc": 0.166, "val_loss": 2.2195e37,
           "val_acc": 0.194, "lr": 0.001, "seconds": 0.2, "images_per_s": 6758.0}
    assert "train loss 3.9391e+37 acc" in format_epoch(row, 2)
    assert "val loss 2.2195e+37 acc" in format_epoch(row, 2)
    spec = tmp_path / "huge.cnn"
    spec.write_text("model huge\ninput 1x8x8\nflatten\nfc: dense 10 weight normal(0, 1e18)\n"
                    "train {\n  data digits\n  epochs 1\n  lr 0.001\n}\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert main(["eval", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"loss \d\.\d{4}e\+\d\d; 360 test images", out), out
    assert re.search(r"by val_loss \(\d\.\d{4}e\+\d\d\)", out), out
    assert re.search(r"^loss \d\.\d{4}e\+\d\d  accuracy", out, re.MULTILINE), out


def test_epoch_lines_and_display_choice(capsys):
    row = {"epoch": 3, "train_loss": 0.5, "train_acc": 0.8, "val_loss": None, "val_acc": None,
           "lr": 0.1, "seconds": 1.5, "images_per_s": 1000.0}
    assert format_epoch(row, 20) == ("epoch  3/20  train loss 0.5000 acc  80.0%  lr 0.1     "
                                     "    1.5s    1000 img/s")
    # a cosine schedule's lr, a slow epoch and a fast one keep the columns where they were
    for lr, seconds, speed in [(0.000489, 12.5, 250.0), (1.23e-05, 0.3, 51630.0)]:
        other = format_epoch({**row, "lr": lr, "seconds": seconds, "images_per_s": speed}, 20)
        assert len(other) == len(format_epoch(row, 20)), other
    LineDisplay().end_epoch(row, 20)
    assert "epoch  3/20" in capsys.readouterr().out
    assert type(make_display(None, quiet=True)).__name__ == "Display"
    assert isinstance(make_display("lines", quiet=False), LineDisplay)
    with pytest.raises(SettingError, match="progress must be 'bar', 'lines', 'none' or a "
                       "Display, not 'fancy'"):
        make_display("fancy", quiet=False)


def test_stats_every_records_through_the_lab_recorder(tmp_path):
    run = train(write_spec(tmp_path), Settings(epochs=1), run_dir=tmp_path / "r", stats_every=4,
                **FAST)
    lines = (run.path / "stats.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == list(range(0, run.summary["steps"], 4))
    # It said '--stats must be a positive number' to a Python caller, as a failure of the run.
    with pytest.raises(SettingError) as info:
        train(write_spec(tmp_path), run_dir=tmp_path / "r2", stats_every=0, **FAST)
    assert info.value.message == "stats_every must be an integer >= 1, not 0"
    assert info.value.hint == "e.g. stats_every=50 records statistics every 50 steps"
    assert info.value.invalid
    assert info.value.worded(OPTION_NAMES) == (
        "--stats must be an integer >= 1, not 0",
        "e.g. --stats 50 records statistics every 50 steps")
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize("settings, shown", [({"epochs": 1}, "{'epochs': 1}"), (1, "1")])
def test_settings_other_than_a_settings_are_refused_by_name(tmp_path, settings, shown):
    """A dict gave "'dict' object has no attribute 'overrides'"."""
    with pytest.raises(SettingError) as info:
        train(write_spec(tmp_path), settings, run_dir=tmp_path / "r", **FAST)
    assert info.value.message == f"settings takes a Settings, not {shown}"
    assert "cnnspec.Settings(epochs=1" in info.value.hint and info.value.invalid
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("callbacks, what", [
    ([object()], "Callback objects"), (lambda: 0, "a list of Callback objects"),
    ("stats", "a list of Callback objects")])
def test_callbacks_that_are_not_callbacks_are_refused_before_a_run_folder_is_made(
        tmp_path, callbacks, what):
    """An object without on_start failed once training began, leaving its folder 'running';
    a function was 'not iterable'."""
    with pytest.raises(SettingError) as info:
        train(write_spec(tmp_path), run_dir=tmp_path / "r", callbacks=callbacks, **FAST)
    assert info.value.message.startswith(
        f"callbacks takes {what} (cnnspec.training.callbacks), not ")
    assert "subclass Callback" in info.value.hint and info.value.invalid
    assert not (tmp_path / "r").exists()
    with pytest.raises(SettingError):
        resume(tmp_path / "r", callbacks=callbacks, **FAST)


@pytest.mark.parametrize("runs_dir, inside", [("file", ""), ("file/deeper", ": {file}")])
def test_a_runs_dir_that_is_a_file_is_named_as_one(tmp_path, runs_dir, inside):
    """It said 'cannot create run folder FILE/tiny-...: File exists'."""
    (tmp_path / "file").write_text("")
    given = tmp_path / runs_dir
    with pytest.raises(SettingError) as info:
        train(write_spec(tmp_path), Settings(epochs=1), runs_dir=given, **FAST)
    inside = inside.format(file=tmp_path / "file")
    assert info.value.message == f"runs_dir {given}{inside} is a file, not a folder"
    assert info.value.hint == "choose a folder for runs_dir" and info.value.invalid
    assert info.value.worded(OPTION_NAMES)[0].startswith(f"--runs-dir {given}")
    with pytest.raises(SettingError) as info:
        train(write_spec(tmp_path), Settings(epochs=1), run_dir=tmp_path / "file" / "run",
              **FAST)
    assert info.value.message == (f"run_dir {tmp_path / 'file' / 'run'}: {tmp_path / 'file'} "
                                  "is a file, not a folder")


def test_a_run_dir_that_is_a_file_is_named_as_one(tmp_path):
    """It said 'run folder FILE already exists and is not empty' (exit 1), as of a folder."""
    (tmp_path / "file").write_text("")
    with pytest.raises(SettingError) as info:
        train(write_spec(tmp_path), Settings(epochs=1), run_dir=tmp_path / "file", **FAST)
    assert info.value.message == f"run_dir {tmp_path / 'file'} is a file, not a folder"
    assert info.value.hint == "choose a folder for run_dir" and info.value.invalid
    assert info.value.worded(OPTION_NAMES) == (
        f"--out {tmp_path / 'file'} is a file, not a folder", "choose a folder for --out")
    assert (tmp_path / "file").read_text() == ""


@pytest.mark.parametrize("path", [5, None])
def test_load_of_no_path_is_refused_by_name(path):
    """It raised pathlib's 'expected str, bytes or os.PathLike object'."""
    import cnnspec

    with pytest.raises(SettingError) as info:
        cnnspec.load(path)
    assert info.value.message == f"path takes a path to a .cnn or .json file, not {path!r}"
    assert info.value.hint == "e.g. path='specs/digits.cnn'" and info.value.invalid


def test_json_files_stay_strict_when_a_figure_overflows(tmp_path):
    write_jsonl(tmp_path / "m.jsonl", [{"epoch": 1, "val_loss": float("nan"), "lr": 0.1}])
    write_json(tmp_path / "s.json", {"test_loss": float("inf"), "rows": [1.5, float("-inf")]})
    assert json.loads((tmp_path / "m.jsonl").read_text()) == {"epoch": 1, "val_loss": None,
                                                              "lr": 0.1}
    assert json.loads((tmp_path / "s.json").read_text()) == {"test_loss": None,
                                                             "rows": [1.5, None]}


def test_terminal_bar_ends_each_epoch_with_its_full_line():
    """The bar of a finished epoch gives way to the same line a log gets, so no figure is cut
    off at the edge of the terminal."""
    import io

    from cnnspec.training.progress import BarDisplay

    stream = io.StringIO()
    display = BarDisplay(stream)
    display.start_epoch(1, 20, 4, 0)
    for _ in range(4):
        display.step(0.5, 0.75)
    row = {"epoch": 1, "train_loss": 0.5, "train_acc": 0.75, "val_loss": 0.4, "val_acc": 0.875,
           "lr": 0.01, "seconds": 0.2, "images_per_s": 640.0}
    display.end_epoch(row, 20)
    shown = [part.strip() for part in re.split(r"[\r\n]", stream.getvalue()) if part.strip()]
    assert shown[-1] == format_epoch(row, 20)
    assert "val loss 0.4000 acc  87.5%" in shown[-1]


def test_warmup_and_a_per_step_schedule_set_each_steps_lr(tmp_path):
    """The lr recorded for an epoch is its last step's; inv and warmup count steps."""
    from cnnspec.engine.schedules import Clock, lr_at

    text = write_spec(tmp_path).read_text().replace(
        "  batch 16", "  batch 16\n  schedule inv(gamma=0.1, power=0.75)\n  warmup 1")
    path = tmp_path / "warm.cnn"
    path.write_text(text)
    seen = []
    run = train(path, run_dir=tmp_path / "r", on_step=lambda step, model: seen.append(step),
                **FAST)
    batches = len(seen) // 2
    schedule = {"name": "inv", "gamma": 0.1, "power": 0.75}
    assert [row["lr"] for row in run.metrics] == [
        pytest.approx(lr_at(schedule, 0.05, Clock(e, 2, batches - 1, batches), 1))
        for e in range(2)]
    assert run.metrics[0]["lr"] == pytest.approx(0.05 * (1 + 0.1 * (batches - 1)) ** -0.75)


def test_gradient_clipping_changes_the_steps_it_should(tmp_path):
    def final_weights(settings):
        path = tmp_path / f"clip{len(list(tmp_path.iterdir()))}.cnn"
        path.write_text(write_spec(tmp_path).read_text().replace("  batch 16",
                                                                 "  batch 16\n" + settings))
        run = train(path, run_dir=tmp_path / path.stem, **FAST)
        return run.metrics, np.load(tmp_path / path.stem / "checkpoint.npz")["fc.weight"]

    plain, w = final_weights("")
    loose, w_loose = final_weights("  clip_norm 1e6\n  clip_value 1e6")
    _, w_tight = final_weights("  clip_norm 1e-3")
    assert timeless(loose) == timeless(plain) and np.array_equal(w_loose, w)
    assert not np.allclose(w_tight, w)


def test_decay_bias_false_spares_biases_and_batch_norm_from_weight_decay(tmp_path):
    from cnnspec.training.mults import parameter_mults

    path = tmp_path / "bn.cnn"
    path.write_text(write_spec(tmp_path).read_text().replace(
        "conv1: conv 4 3x3 pad same relu", "conv1: conv 4 3x3 pad same\nbn1: batchnorm relu")
        .replace("  batch 16", "  batch 16\n  weight_decay 0.1\n  decay_bias false"))
    model = compile_spec(load(path))
    mults = parameter_mults(model.checked, model.params(), decay_bias=False)
    spared = sorted(name for name, (_, decay) in mults.items() if decay == 0)
    assert spared == ["bn1.bias", "bn1.weight", "conv1.bias", "fc.bias"]
    spared = train(path, run_dir=tmp_path / "spared", **FAST)
    path.write_text(path.read_text().replace("  decay_bias false\n", ""))
    decayed = train(path, run_dir=tmp_path / "decayed", **FAST)
    assert timeless(spared.metrics) != timeless(decayed.metrics)


def test_the_divergence_hint_writes_numbers_as_a_spec_does(tmp_path):
    """The lr and the init of the layer to blame as a spec writes them: ``N(0, 1e38^2)``,
    not Python's ``1e+38``."""
    spec = write_spec(tmp_path, lr=2e-5, weight="default weight normal(0, 1e38), bias zeros")
    with pytest.raises(Diverged) as info:
        train(spec, run_dir=tmp_path / "r", **FAST)
    hint = info.value.hint
    assert "(it was 2e-5; try lr=2e-6)" in hint  # the library's parameter
    assert "its init is normal, N(0, 1e38^2))" in hint and "e+" not in hint and "e-0" not in hint


def test_the_divergence_hint_names_the_learning_rate_as_train_is_given_it(tmp_path, capsys):
    """The library is told lr=, the command line --lr: the same run, the caller's words."""
    spec = write_spec(tmp_path, lr=2e-5, weight="default weight normal(0, 1e38), bias zeros")
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    hint = capsys.readouterr().err.split("hint: ", 1)[1]
    assert "(it was 2e-5; try --lr 2e-6)" in hint and "lr=" not in hint


def test_a_divergence_blames_the_init_that_grew_the_signal_not_the_layer_that_overflowed(
        tmp_path):
    """A conv of weights N(0, 1e30) makes the dense layer after it overflow float32: the
    hint names the conv's init, first (it blows up whatever the rate), not the dense
    layer's he_normal."""
    spec = tmp_path / "large.cnn"
    spec.write_text("input 1x8x8\nxk: conv 1 3x3 weight normal(0, 1e30)\nflatten\n"
                    "dense1: dense 10\ntrain {\n  data digits\n  epochs 1\n}\n")
    with pytest.raises(Diverged) as info:
        train(spec, run_dir=tmp_path / "r", **FAST)
    assert "the output of layer 'dense1' (dense)" in info.value.message
    assert info.value.hint.startswith(
        "start 'xk' with smaller weights (its init is normal, N(0, 1e30^2)), or lower the "
        "learning rate (it was 0.01;")


@pytest.mark.parametrize("dtype, bias", [("float32", "1e30"), ("float64", "1e300")])
def test_a_divergence_from_biases_too_large_to_square_names_them_not_the_rate(
        dtype, bias, tmp_path):
    """Biases beyond the square root of the dtype's largest number (check warns of them in
    float64): the first update of the dense layer reading them is lr times them, and its next
    output overflows at any learning rate, so the hint names the biases, not the rate."""
    spec = tmp_path / "biased.cnn"
    spec.write_text(f"input 1x8x8\nc: conv 4 3x3 relu bias constant({bias})\nflatten\n"
                    "d: dense 10\ntrain {\n  data digits\n  epochs 1\n}\n")
    with pytest.raises(Diverged) as info:
        train(spec, run_dir=tmp_path / "r", dtype=dtype, **FAST)
    assert info.value.hint == (
        f"start the biases of 'c' at 0 (zeros) or small (their init is constant {bias}): "
        f"beyond the square root of {dtype}'s largest number, they overflow what reads them "
        "at any learning rate")


def test_a_divergence_from_the_weight_decay_says_so(tmp_path):
    """A weight decay that takes more than the whole weight away each step (lr 0.05 x 1e6)
    diverges at any learning rate: the hint names weight_decay, not the learning rate."""
    path = write_spec(tmp_path)
    path.write_text(path.read_text().replace("lr 0.05", "lr 0.05\n  weight_decay 1e6"))
    with pytest.raises(Diverged) as info:
        train(path, run_dir=tmp_path / "r", **FAST)
    hint = info.value.hint
    assert hint.startswith("lower weight_decay (it was 1000000: at lr 0.05 each step's decay "
                           "alone subtracts 5e4 times each weight from it"), hint
    assert "--lr" not in hint


def test_a_layers_decay_mult_that_takes_its_weights_whole_is_warned_and_blamed(tmp_path):
    """decay_mult [1e12, 1] at lr 0.05 and weight_decay 1e-4: that layer's weights lose 5e6
    times themselves each step. check said nothing (decay-fit read the training's decay
    alone), and the divergence's hint said to lower the learning rate."""
    path = write_spec(tmp_path)
    path.write_text(path.read_text().replace("pad same relu", "pad same relu decay_mult [1e12, 1]")
                    .replace("lr 0.05", "lr 0.05\n  weight_decay 1e-4"))
    [warning] = [w for w in load(str(path)).warnings if w.lint == "decay-fit"]
    assert warning.message.startswith(
        "'conv1' decays at lr x lr_mult x weight_decay x decay_mult = 5e6, 5e-6 (weight, bias) "
        "under sgd: each step's decay alone subtracts that many times each of its weights")
    assert (warning.span.line, warning.span.column) == (4, 33)
    with pytest.raises(Diverged) as info:
        train(path, run_dir=tmp_path / "r", **FAST)
    assert info.value.hint.startswith("lower the decay_mult of 'conv1': at lr 0.05 each step's "
                                      "decay alone subtracts 5e6 times each weight from it")
    # spared by decay_bias false, a bias's multiplier takes nothing
    path.write_text(path.read_text().replace("decay_mult [1e12, 1]", "decay_mult [1, 1e12]")
                    .replace("seed 3", "seed 3\n  decay_bias false"))
    assert [w for w in load(str(path)).warnings if w.lint == "decay-fit"] == []


def test_the_weight_decay_is_blamed_only_where_a_step_takes_it_whole():
    from cnnspec.training.loop import decay_advice

    sgd, adam = {"name": "sgd"}, {"name": "adam"}
    assert decay_advice({"optimizer": sgd, "weight_decay": 5e-4}, 0.1) is None
    assert decay_advice({"optimizer": sgd, "weight_decay": 10}, 0.1).startswith("lower weight")
    assert decay_advice({"optimizer": {"name": "adamw"}, "weight_decay": 20}, 0.1)
    # Adam divides the L2 term by the gradients' running scale: no step takes the weight away
    assert decay_advice({"optimizer": adam, "weight_decay": 1e6}, 0.1) is None


@pytest.mark.parametrize("old, new", [("lr 0.05", "lr 1e40"),
                                      ("batch 16", "batch 16\n  weight_decay 1e39"),
                                      ("batch 16", "batch 16\n  clip_norm 1e39"),
                                      ("sgd(momentum=0.9)", "adam(eps=1e39)")])
def test_a_training_setting_float32_holds_as_infinity_is_refused(tmp_path, old, new):
    """`lr 1e40` passed check, and training, which computes in float32, diverged at its first
    update: check and train now refuse it alike, at the setting."""
    from cnnspec.errors import SpecError

    path = write_spec(tmp_path)
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises((SpecError, SpecErrors), match="float32, the dtype training computes in, "
                       "which holds 1e\\+?(39|40) as infinity"):
        load(path)


def test_an_lr_override_float32_holds_as_infinity_is_refused(tmp_path):
    with pytest.raises(SettingError, match="^lr must be at most 3.4e38 in size in float32"):
        train(write_spec(tmp_path), Settings(lr=1e40), run_dir=tmp_path / "r", **FAST)
    assert not (tmp_path / "r").exists()


def test_a_lone_last_batch_is_left_out_only_where_a_batch_norm_sees_one_value_per_channel():
    assert [s.stop - s.start for s in batch_slices(9, 4)] == [4, 4, 1]
    assert [s.stop - s.start for s in batch_slices(9, 4, drop_lone=True)] == [4, 4]
    assert [s.stop - s.start for s in batch_slices(10, 4, drop_lone=True)] == [4, 4, 2]
    assert [s.stop - s.start for s in batch_slices(2, 1, drop_lone=True)] == [1, 1]


@pytest.mark.parametrize("norm, steps", [("batchnorm relu", 1), ("relu", 2)])
def test_train_leaves_out_an_epochs_last_image_that_a_batch_norm_could_not_take(tmp_path, norm,
                                                                                steps):
    # 25 images, 5 of them the test split: 20 train in batches of 19, the last holds one
    path = tmp_path / "bnd.cnn"
    path.write_text(f"model bnd\ninput 1x4x4\nflatten\ndense 8\n{norm}\nout: dense 2\n"
                    "train {\n  data shapes(size=4, classes=[x, plus], count=25)\n"
                    "  val_split 0\n  batch 19\n  epochs 1\n}\n")
    seen = []
    run = train(str(path), run_dir=tmp_path / "r", progress="none",
                on_step=lambda step, model: seen.append(step))
    assert len(seen) == steps
    assert np.isfinite(run.metrics[-1]["train_loss"])


def test_the_steps_check_counts_are_the_steps_a_run_takes(tiny_run):
    """check's lints and the importers count a run's steps before loading its data
    (cnnspec.ir.steps.run_steps); the run took exactly that many: 240 shapes less their test
    fifth, less val_split 0.2 of the rest, in batches of 16, twice."""
    from cnnspec.ir.steps import run_steps

    assert run_steps(tiny_run.training) == tiny_run.summary["steps"] == 2 * 10
    assert run_steps({**tiny_run.training, "data": {"name": "npz", "path": "x.npz"}}) is None


LINEAR = """\
model linear
input 1x8x8
flatten
fc: dense 2

train {{
  data shapes(size=8, classes=[x, plus], count=240)
  preprocess standardize
  optimizer sgd(momentum=0)
  loss mse
  lr {lr}
  batch 16
  epochs 5
  val_split 0.2
  seed 3{more}
}}
"""


def linear_spec(tmp_path, lr, more=""):
    """One dense layer under mse: sgd above its stable rate grows the loss geometrically,
    to 1e16 by the fifth epoch at lr 0.1, finite all along."""
    path = tmp_path / "linear.cnn"
    path.write_text(LINEAR.format(lr=lr, more=more))
    return path


def test_a_loss_that_blows_up_while_finite_is_divergence(tmp_path):
    """lr 0.1 took the loss from 3.8 to 4.8e16 in five epochs and the run ended "trained"; a
    loss over 1e4 times its first is now divergence, saved and said as a NaN's is."""
    with pytest.raises(Diverged) as info:
        train(linear_spec(tmp_path, 0.1), run_dir=tmp_path / "r", **FAST)
    found = re.match(r"training diverged in epoch (\d+) at step (\d+): the loss reached (\S+), "
                     r"more than 1e4 times its first, (\S+); the weights and the batch are in ",
                     info.value.message)
    assert found, info.value.message
    epoch, step, loss, first = found.groups()
    assert float(loss) > 1e4 * float(first) and 1 < float(first) < 10 and int(epoch) == 2
    assert info.value.hint == (
        "lower the learning rate (it was 0.1; try lr=0.01), or start 'fc' with smaller weights "
        "(its init is he_normal, N(0, 0.177^2)), or clip the gradients (`clip_norm 1` in the "
        "train block)")
    run = tmp_path / "r"
    diverged = read_npz(run / rundir.DIVERGED)
    assert int(diverged["_step"]) == int(step) - 1 and diverged["_batch_x"].shape[1:] == (1, 8, 8)
    assert np.all(np.isfinite(diverged["fc.weight"]))
    summary = json.loads((run / rundir.SUMMARY).read_text())
    assert summary["status"] == "diverged" and summary["message"] == info.value.message
    with pytest.raises(RunError, match="diverged; resumed, it would diverge again"):
        resume(run, **FAST)


def test_a_run_that_clips_its_gradients_is_not_told_to(tmp_path):
    """Clipped to norm 1, a step at lr 100 still moves the weights by up to 100."""
    with pytest.raises(Diverged, match="the loss reached") as info:
        train(linear_spec(tmp_path, 100, "\n  clip_norm 1"), run_dir=tmp_path / "r", **FAST)
    assert "clip" not in info.value.hint and "lower the learning rate" in info.value.hint


def test_healthy_training_of_the_same_net_is_no_divergence(tmp_path):
    run = train(linear_spec(tmp_path, 0.01), run_dir=tmp_path / "r", **FAST)
    assert run.summary["status"] == "finished" and len(run.metrics) == 5
    assert run.metrics[-1]["train_loss"] < run.metrics[0]["train_loss"]


def test_the_command_line_says_a_finite_blow_up_as_a_divergence(tmp_path, capsys):
    spec = linear_spec(tmp_path, 0.1)
    assert main(["train", str(spec), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "error: training diverged in epoch 2 at step " in err and "the loss reached" in err
    assert "hint: lower the learning rate (it was 0.1; try --lr 0.01)" in err
    assert "Traceback" not in err
    assert main(["train", str(spec), "--lr", "0.01", "--out", str(tmp_path / "r2"),
                 "--quiet"]) == 0
    assert "diverged" not in capsys.readouterr().err


def test_a_blow_up_is_measured_from_the_larger_of_the_first_loss_and_knowing_nothing():
    from cnnspec.training.loop import blowup_reference, blowup_text

    # the first step is judged by finiteness alone
    assert blowup_reference(0.5, None, step=0) == np.inf
    assert blowup_reference(0.5, 3.0, step=9) == 3.0
    assert blowup_reference(2.3, 0.1, step=9) == 2.3
    # resumed from a checkpoint without a first loss: knowing nothing alone
    assert blowup_reference(0.5, None, step=4) == 0.5
    assert blowup_text(5e4, 2.3, 0.1) == (
        "the loss reached 5e4, more than 1e4 times 2.3, the loss of an output that knows "
        "nothing (every score equal)")
    assert blowup_text(5e4, 2.3, None) == blowup_text(5e4, 2.3, 0.1)
    assert blowup_text(5e4, 0.5, 3.0) == "the loss reached 5e4, more than 1e4 times its first, 3"


def test_a_run_resumed_from_a_checkpoint_without_its_first_loss_measures_from_knowing_nothing(
        tmp_path):
    """A checkpoint written before the first loss was kept: the run resumed took the loss of
    its first step after the resume as its first, so a run that had climbed before it was let
    climb as far again. It is now measured against the loss of an output that knows nothing
    (1/K = 0.5 for mse on 2 classes), and no first loss is made up for it."""
    from stops import StopAfter

    from cnnspec.training.loop import Interrupted

    spec, run = linear_spec(tmp_path, 0.1), tmp_path / "r"
    with pytest.raises(Interrupted):
        train(spec, run_dir=run, on_step=StopAfter(12), **FAST)
    arrays = read_npz(run / rundir.CHECKPOINT)
    position = json.loads(str(arrays["_position"]))
    assert position["first_loss"] > 1  # the run's own, 3.8
    del position["first_loss"]
    arrays["_position"] = np.asarray(json.dumps(position))
    write_npz(run / rundir.CHECKPOINT, arrays)
    with pytest.raises(Diverged) as info:
        resume(run, **FAST)
    found = re.search(r"at step (\d+): the loss reached \S+, more than 1e4 times 0.5, the loss "
                      r"of an output that knows nothing", info.value.message)
    assert found, info.value.message
    # the run uninterrupted, measured from its first loss (3.8), goes on longer
    with pytest.raises(Diverged, match="times its first") as straight:
        train(spec, run_dir=tmp_path / "straight", **FAST)
    later = re.search(r"at step (\d+)", straight.value.message)[1]
    assert int(found[1]) < int(later)

@pytest.mark.parametrize("loss, classes, args, expected", [
    ("cross_entropy", 10, {}, np.log(10)),
    ("cross_entropy", 4, {"label_smoothing": 0.1}, np.log(4)),
    ("bce", 1, {"class_weights": [1, 3]}, np.log(2) * (2 + 3 * 3) / 5),
    ("nll", 10, {}, np.log(10)),
    ("bce", 1, {}, np.log(2)),
    ("mse", 4, {}, 0.25),
])
def test_the_loss_of_an_output_that_knows_nothing(loss, classes, args, expected):
    from cnnspec.engine.losses import uninformed_loss

    y = np.array([0, 1, 0, 1, 1]) if loss == "bce" else np.arange(7) % classes
    assert uninformed_loss(loss, y, classes, **args) == pytest.approx(expected, rel=1e-12)
