"""``cnnspec time``: the structure of its report, the FLOP counts of the kinds registry, and its
sum of the parts against a whole training step measured apart.

No timed assertion other than that agreement, which is a ratio of two medians measured in
the same run with a generous tolerance (:data:`cnnspec.engine.timing.AGREEMENT`): the clocks
cost microseconds a layer, so the parts and the whole agree closely on a quiet machine, and
within 2x on a busy one.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnspec
from cnnspec.check.checker import check
from cnnspec.cli import main
from cnnspec.engine import conv_tuned
from cnnspec.engine.calibrate import Thresholds
from cnnspec.engine.optim import make_optimizer
from cnnspec.engine.timing import AGREEMENT, LayerTiming, StepTiming, time_step
from cnnspec.kinds import KINDS, layer_flops
from cnnspec.lang import parse

SPEC = """\
model timed
input 1x12x12
conv1: conv 4 3x3 pad same relu
pool1: maxpool 2
conv2: conv 6 3x3 weight he_normal(gain=tanh)
act2: tanh
flatten
fc: dense 10
train {
  data npz(path="unused.npz")
  batch 8
  seed 0
}
"""


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "timed.cnn"
    path.write_text(SPEC)
    return str(path)


def test_json_report_has_every_layer_with_flops_and_shares(spec_path, capsys):
    assert main(["time", spec_path, "--iterations", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "timed" and data["batch"] == 8 and data["iterations"] == 2
    assert data["threads"] == 1 and data["cpu"] and data["peak_gflops"] > 0
    layers = {layer["name"]: layer for layer in data["layers"]}
    # The ReLU before the max pool runs inside it (the engine's fusion): the row is named
    # after the first of the two, as the spec orders them.
    assert list(layers) == ["conv1", "conv1_relu", "conv2", "act2", "flatten1", "fc"]
    assert layers["conv1_relu"]["fused"] == ["pool1"]
    assert layers["conv1_relu"]["kind"] == "relu+maxpool"
    # conv1: 4 filters x 12x12 outputs x 9 taps = 5,184 MACs an image; a first layer's
    # backward is only the weight gradient, conv2's both gradients.
    assert layers["conv1"]["forward_flops"] == 2 * 5184 * 8
    assert layers["conv1"]["backward_flops"] == layers["conv1"]["forward_flops"]
    assert layers["conv2"]["backward_flops"] == 2 * layers["conv2"]["forward_flops"]
    for layer in data["layers"]:
        assert layer["forward_ms"] >= 0 and layer["backward_ms"] >= 0
    shares = sum(layer["share"] for layer in data["layers"])
    shares += (data["loss_ms"] + data["update_ms"]) / data["total_ms"]
    assert shares == pytest.approx(1.0)
    assert data["total_ms"] == pytest.approx(
        data["forward_ms"] + data["backward_ms"] + data["loss_ms"] + data["update_ms"])


def test_the_step_is_timed_with_the_optimizer_training_steps_with(tmp_path, capsys,
                                                                  monkeypatch):
    """lr_mult, decay_mult and decay_bias reach the timed optimizer as they reach train's
    (training/mults.py): a parameter held at lr_mult 0 or spared from decay is so here."""
    from cnnspec.engine import timing

    path = tmp_path / "mults.cnn"
    path.write_text(SPEC.replace("conv1: conv 4 3x3 pad same relu",
                                 "conv1: conv 4 3x3 pad same lr_mult [0, 2] decay_mult [1, 3] "
                                 "relu")
                    .replace("  batch 8", "  batch 8\n  weight_decay 0.01\n  decay_bias false"))
    used = []

    def recorded(model, x, y, optimizer, *args, **kwargs):
        used.append(optimizer)
        return time_step(model, x, y, optimizer, *args, **kwargs)

    monkeypatch.setattr(timing, "time_step", recorded)
    assert main(["time", str(path), "--iterations", "1", "--format", "json"]) == 0
    capsys.readouterr()
    (optimizer,) = used
    assert (optimizer.lr_mult["conv1.weight"], optimizer.lr_mult["conv1.bias"]) == (0.0, 2.0)
    assert optimizer.lr_mult["fc.weight"] == 1.0
    # decay_bias false spares every bias, whatever its decay_mult
    assert (optimizer.decay_mult["conv1.weight"], optimizer.decay_mult["conv1.bias"],
            optimizer.decay_mult["fc.bias"]) == (1.0, 0.0, 0.0)
    assert optimizer.weight_decay == 0.01


def test_the_step_is_timed_in_the_dtype_asked(spec_path, capsys):
    assert main(["time", spec_path, "--iterations", "1", "--format", "json",
                 "--dtype", "float64"]) == 0
    assert json.loads(capsys.readouterr().out)["dtype"] == "float64"
    assert main(["time", spec_path, "--iterations", "1", "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    assert "timed: batch 8, float64, sgd" in out
    assert "one 1024x1024 float64 matrix product, one thread" in out  # the peak in its dtype


def test_the_peak_is_measured_in_the_dtype_asked():
    from cnnspec.engine.timing import matmul_peak

    assert matmul_peak(64, 2, np.float64) > 0  # runs in float64 (a float32 array is refused)


def test_table_report(spec_path, capsys):
    assert main(["time", spec_path, "--batch-size", "4", "--iterations", "1"]) == 0
    out = capsys.readouterr().out
    assert "timed: batch 4, float32, sgd, 1 thread, median of 1 step; CPU: " in out
    for word in ("conv1", "conv1_relu (+pool1)", "conv2", "act2", "fc", "loss", "update", "GFLOP/s",
                 "share", "total (sum of the parts)", "a whole step, unclocked",
                 "float32 matrix product, one thread"):
        assert word in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["flatten1"][4] == "-"  # a reshape: no FLOPs, no rate
    # the totals row adds up as printed: the loss in the forward column, the update in the
    # backward one (each rounded to 3 places)
    forward, backward, total = (float(rows["total"][i]) for i in (5, 6, 8))
    assert forward + backward == pytest.approx(total, abs=2e-3)
    layers_forward = sum(float(row[-4]) for name, row in rows.items()
                         if name in ("conv1", "conv1_relu", "conv2", "act2", "flatten1", "fc"))
    assert forward == pytest.approx(layers_forward + float(rows["loss"][1]), abs=8e-3)


def test_the_table_says_what_its_columns_measure_and_how_flops_are_counted(spec_path, capsys):
    """A rate needs how its operations are counted and what to set it beside: the line below
    the table says so, in text and in JSON alike, that a relu's rate far below the peak is
    no fault, and what a share is of."""
    from cnnspec.cli.time import COLUMNS

    assert main(["time", spec_path, "--batch-size", "4", "--iterations", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = next(line for line in lines if line.startswith("columns: "))
    assert "GFLOP/s: billions of floating-point operations a second" in said
    assert "a multiply-add is 2" in said and "far below the peak is theirs by nature" in said
    assert said.endswith("share: of the sum of the parts")
    assert lines.index(said) > next(i for i, line in enumerate(lines)
                                    if line.startswith("peak for comparison"))
    assert main(["time", spec_path, "--batch-size", "4", "--iterations", "1",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["columns"] == dict(COLUMNS)


def test_table_names_every_kind_of_a_fused_row_in_aligned_columns(tmp_path, capsys):
    """A batch norm's ReLU runs inside it: the row names both kinds, and a long fused row's
    name never runs into its kind (columns as wide as their longest entry)."""
    path = tmp_path / "bn.cnn"
    path.write_text(SPEC.replace("act2: tanh\n",
                                 "a_rather_long_batchnorm_name: batchnorm relu\nact2: tanh\n"))
    assert main(["time", str(path), "--batch-size", "4", "--iterations", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("layer"))
    kind_column = header.index("kind")
    # named after the first layer it covers, the others after it in the spec's order
    row = next(line for line in lines if line.startswith("a_rather_long_batchnorm_name "))
    assert row.startswith("a_rather_long_batchnorm_name (+a_rather_long_batchnorm_name_relu) ")
    assert row[kind_column:].startswith("batchnorm+relu ")
    assert header.index("forward ms") + len("forward ms") == row.index(".") + 4


def test_sum_of_the_parts_agrees_with_a_whole_step():
    checked = check(parse(SPEC))
    model = cnnspec.compile(checked, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    optimizer = make_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": False})
    # A burst of other processes' work during one measurement moves the two apart (the
    # report then says the machine was busy): the sum must agree in one of three.
    ratios = []
    for _ in range(3):
        timing = time_step(model, x, y, optimizer, 0.01, iterations=7, peak=False)
        assert isinstance(timing, StepTiming) and timing.peak_gflops is None
        assert model.threads == 2 and model.clock is None  # restored
        ratios.append(timing.total / timing.step)
        if timing.parts_agree:
            break
    assert AGREEMENT[0] <= ratios[-1] <= AGREEMENT[1], ratios


def test_flop_counts_per_kind():
    checked = check(parse(SPEC))
    infos = checked.by_name
    pool = infos["pool1"]
    # 4x6x6 outputs, each the max of a 2x2 window: 4 comparisons (reads) an output.
    assert layer_flops(pool) == (4 * 36 * 4, 4 * 36 * 4)
    # conv2 (no padding) makes 6x4x4 values; tanh is one FLOP a value each way.
    assert layer_flops(infos["act2"]) == (6 * 4 * 4, 6 * 4 * 4)
    fc = infos["fc"]  # 96 -> 10: forward one product, backward two (or one without dx)
    assert layer_flops(fc) == (2 * 96 * 10, 4 * 96 * 10)
    assert layer_flops(fc, need_dx=False) == (2 * 96 * 10, 2 * 96 * 10)
    assert KINDS["flatten"].weighted is False
    assert layer_flops(infos["flatten1"]) == (0, 0)  # a reshape


HELD = """\
model held
input 1x8x8
gx: conv 1 3x3 pad same weight sobel_x nobias frozen <- input
gy: conv 1 3x3 pad same weight sobel_y nobias frozen <- input
grad: concat(gx, gy)
mid: conv 2 3x3 pad same weight sobel_x nobias frozen
flatten
fc: dense 10 lr_mult [0, 1]
"""


def test_flop_counts_leave_out_the_gradients_a_step_does_not_compute():
    # A held weight gets no gradient, and a layer none of whose inputs needs one (a frozen
    # first layer, the concat of two) computes no backward at all: the engine clocks 0 ms
    # there, so counting FLOPs would give that layer a rate of work never done.
    infos = check(parse(HELD)).by_name
    conv = 2 * 9 * 64  # one 3x3 filter over an 8x8 map, a multiply and an add a tap
    assert layer_flops(infos["gx"], need_dx=False) == (conv, 0)
    assert layer_flops(infos["grad"], need_dx=False) == (2 * 64, 0)
    # frozen with a trained layer after it: the input gradient alone
    assert layer_flops(infos["mid"]) == (4 * conv, 4 * conv)  # 2 filters of 2 channels
    # lr_mult 0 on the weight: its input gradient alone (the bias's sum is not counted)
    assert layer_flops(infos["fc"]) == (2 * 128 * 10, 2 * 128 * 10)


def test_missing_spec_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["time", str(tmp_path / "nope.cnn")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "nope.cnn" in err and "Traceback" not in err


def test_bad_arguments_are_usage_errors(spec_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["time", spec_path, "--batch-size", "0"])
    assert exc.value.code == 2
    assert "--batch-size: must be at least 1" in capsys.readouterr().err


PROFILE = Path(__file__).resolve().parent.parent / "tools" / "profile_engine.py"


@pytest.mark.parametrize("args, code, says", [
    (["--help"], 0, "most expensive first"),
    (["lenet6"], 2, "invalid choice: 'lenet6'"),
    (["lenet5", "0"], 2, "batch and steps must be at least 1"),
])
def test_profile_engine_explains_itself_without_a_traceback(args, code, says):
    done = subprocess.run([sys.executable, str(PROFILE), *args], check=False,
                          capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == code
    assert says in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_profile_engine_sets_each_layer_beside_pytorchs():
    """``--torch``: a row for each cnnspec layer (the layers fused into it named with it),
    PyTorch's times for the same spec layers beside it, and the totals; the rows sorted by
    the time cnnspec loses, so the layer to speed up next comes first."""
    pytest.importorskip("torch")
    done = subprocess.run([sys.executable, str(PROFILE), "resnet_small", "4", "2", "--torch"],
                          check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # PyTorch's warning about the first layer's hooks is expected
    header, columns, *rows = done.stdout.splitlines()
    assert header.startswith("CPU: ") and "resnet_small batch 4" in header
    assert columns.split() == ["layer", "cnnspec", "fwd", "bwd", "pytorch", "fwd", "bwd",
                               "speed", "ms", "lost"]
    table = {row.split()[0]: [float(value) for value in row.split()[1:]] for row in rows}
    assert {"stem", "stem_bn+stem_bn_relu", "a_1_c1", "a_1_sum", "down", "gap", "fc",
            "layers"} <= set(table)
    *layers, totals = rows
    assert totals.split()[0] == "layers"
    lost = [table[row.split()[0]][-1] for row in layers]
    assert lost == sorted(lost, reverse=True)
    for name in ("a_1_c1", "down", "fc"):  # every layer after the first has a backward
        ours_forward, ours_backward, torch_forward, torch_backward, *_ = table[name]
        assert min(ours_forward, ours_backward, torch_forward, torch_backward) > 0
    stem = table["stem"]
    assert stem[3] > 0  # the first layer's backward: its weight gradient
    sums = [sum(table[row.split()[0]][i] for row in layers) for i in range(4)]
    assert sums == pytest.approx(table["layers"][:4], abs=0.02 * len(layers))


def test_profile_engine_torch_says_what_is_missing(tmp_path):
    """Without PyTorch, ``--torch`` is a usage error that says how to get it."""
    blocker = tmp_path / "torch"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no torch here')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, str(PROFILE), "lenet5", "2", "1", "--torch"],
                          check=False, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2
    assert "--torch needs PyTorch: pip install torch" in done.stderr
    assert "Traceback" not in done.stderr


METHODS = """\
model methods
input 16x16x16
wino: conv 16 3x3 pad same relu
wide: conv 16 5x5 pad same
flatten
fc: dense 10
train {
  data npz(path="unused.npz")
  batch 32
  seed 0
}
"""


def test_each_conv_says_how_it_ran(tmp_path, capsys, monkeypatch):
    """The report names each convolution's path: Winograd for the 3x3 layer of 16 channels at
    a batch of 32 (16,384 output pixels a channel; its ReLU runs inside it), im2col's for the
    5x5 one; the same spec at batch 1 runs both as one planned chunk
    (:class:`~cnnspec.engine.conv_tuned.SmallPlan`)."""
    path = tmp_path / "methods.cnn"
    path.write_text(METHODS)
    assert main(["time", str(path), "--iterations", "1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    methods = {layer["name"]: layer["method"] for layer in report["layers"]}
    fused = {layer["name"]: layer["fused"] for layer in report["layers"]}
    assert methods["wino"] == "winograd" and fused["wino"] == ["wino_relu"]
    assert methods["wide"] in ("rows", "im2col")
    assert methods["fc"] == ""
    # each path the layers took, explained as the table's legend explains it
    assert report["conv_paths"] == {path: conv_tuned.METHODS[path]
                                    for path in ("winograd", methods["wide"])}
    assert main(["time", str(path), "--iterations", "1", "--batch-size", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert any(row.startswith("wino (+wino_relu) ") and "conv+relu (planned)" in row
               for row in rows)
    assert any(row.startswith("fc ") and "dense " in row and "(" not in row for row in rows)
    # the bracketed paths are explained below the table, each it shows and only those
    assert rows[rows.index("conv paths (the kind column's brackets):") + 1:] == [
        ("  planned: a layer small enough for one im2col chunk, its buffers and views kept "
        "from step to step")]


def test_method_names_every_path_of_the_tuned_conv(monkeypatch):
    """conv_tuned.method against the path each forward pass took (its cache's type), with the
    limits of a 2 MiB L2 core (which path a shape takes depends on them: on a 512 KiB core
    the 5x5 layer below is im2col's)."""
    monkeypatch.setattr(conv_tuned, "thresholds",
                        lambda: Thresholds(chunk_bytes=2 ** 21, chunk_columns=1024))
    rng = np.random.default_rng(0)

    def ran(n, c, hw, f, k, work, stride=(1, 1)):
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = rng.standard_normal((f, c, k, k)).astype(np.float32)
        pad = k // 2
        _, cache = conv_tuned.conv2d_forward(x, w, None, stride, (pad,) * 4, (1, 1), work)
        return conv_tuned.method(cache)

    assert ran(32, 16, 16, 16, 3, {}) == "winograd"
    assert ran(1, 2, 6, 3, 3, {}) == "planned"
    assert ran(256, 6, 14, 16, 5, {}) == "rows"
    assert ran(256, 6, 14, 16, 5, {}, stride=(2, 1)) == "blocks"
    assert ran(2, 16, 64, 16, 5, {}) == "im2col"
    assert ran(32, 16, 16, 32, 3, {}, stride=(2, 2)) == "phases"  # 16 images a chunk
    assert ran(2, 1, 8, 4, 41, {}) == "cropped"  # 15 of 41 taps a side reach the 8x8 input
    assert set(conv_tuned.METHODS) == {"winograd", "planned", "blocks", "rows", "im2col",
                                       "phases", "cropped"}


def test_time_checks_the_timed_steps_memory_not_the_specs_training(tmp_path, capsys):
    """Timed at --batch-size on random inputs: a spec whose training batch would not fit is timed
    at a small one (its training figure a warning), and a --batch-size that would not fit is
    refused before anything is allocated, with the option as the hint."""
    path = tmp_path / "huge.cnn"
    path.write_text(SPEC.replace("batch 8", "batch 100000000"))
    assert main(["time", str(path), "--batch-size", "2", "--iterations", "1"]) == 0
    err = capsys.readouterr().err
    # the training figure is check's warning, counted here, not repeated
    assert err == (f"note: `cnnspec check {path}` has warnings or errors about training this "
                   "spec; the timing runs on random inputs without them\n")
    assert main(["check", str(path)]) == 2
    assert "error: training would need" in capsys.readouterr().err
    assert main(["time", str(path), "--batch-size", "100000000", "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert "error: timing a step would need up to about" in err and "at batch 100000000" in err
    assert "hint: `--batch-size " in err and "` fits, about" in err
    assert "of data" not in err and "Traceback" not in err
    assert f"{path}:3:" in err  # --batch-size is the command's: at the heaviest layer
    # without --batch-size the spec's own batch is timed: the error is at its line
    assert main(["time", str(path), "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:11:3: error: timing a step would need" in err
    assert "hint: `--batch-size " in err


def test_time_points_to_check_where_training_the_spec_would_be_refused(tmp_path, capsys,
                                                                       monkeypatch):
    """Its npz file missing, the spec cannot train (check's error), but a step on random
    inputs can be timed: one note says so; with the file there, nothing is said."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    (tmp_path / "timed.cnn").write_text(SPEC)
    assert main(["time", "timed.cnn", "--iterations", "1"]) == 0
    assert capsys.readouterr().err == (
        "note: `cnnspec check timed.cnn` has warnings or errors about training this spec; "
        "the timing runs on random inputs without them\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "unused.npz", x=rng.random((40, 1, 12, 12), np.float32),
             y=np.arange(40) % 10)
    assert main(["time", "timed.cnn", "--iterations", "1"]) == 0
    assert capsys.readouterr().err == ""


def test_times_memory_is_counted_for_its_one_process_not_the_specs_cores():
    """time clocks the batch whole on one thread: its memory is one process's, not the two
    halves (and the second process) that `cores 2` would train it in."""
    from cnnspec.check.memory import measuring_estimate

    checked = check(parse(SPEC.replace("batch 8", "batch 256"), path="net.cnn"),
                    for_training=False)
    assert checked.ir["training"]["cores"] == 2
    split, whole = (measuring_estimate(checked.spec, checked.layers, 256, "float32",
                                       recording=False, data=False, whole=w)
                    for w in (False, True))
    assert split.split_extra > 0 and whole.split_extra == 0
    assert whole.process == split.process - split.split_extra


OVERFLOWING = SPEC.replace("conv1: conv 4 3x3 pad same relu",
                           "conv1: conv 4 3x3 pad same weight normal(0, 1e15) relu\n"
                           "conv1b: conv 4 3x3 pad same weight normal(0, 1e15) relu\n"
                           "conv1c: conv 4 3x3 pad same weight normal(0, 1e15) relu")


def test_a_step_whose_values_overflow_is_timed_and_said_without_numpys_warnings(tmp_path,
                                                                                 capsys):
    """Weights that overflow float32 printed NumPy's RuntimeWarnings (overflow, invalid value)
    among the table; the times stand, and a note says the values overflowed."""
    import warnings

    path = tmp_path / "overflowing.cnn"
    path.write_text(OVERFLOWING)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert main(["time", str(path), "--iterations", "1"]) == 0
    out = capsys.readouterr().out
    assert "note: the values overflowed" in out
    assert main(["time", str(path), "--iterations", "1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["finite"] is False


def test_the_range_the_parts_agree_within_is_the_one_the_docs_state():
    text = (Path(__file__).parents[1] / "docs" / "measurements.md").read_text()
    assert f"within {AGREEMENT[0]:g}x-{AGREEMENT[1]:g}x of each other" in text


def _busy_timing(step_seconds: float) -> StepTiming:
    """A step of 8 ms in its parts whose whole took ``step_seconds``."""
    conv = LayerTiming("conv1", "conv", 0.003, 0.004, 100, 200)
    return StepTiming(batch=64, iterations=20, layers=[conv], loss=0.0005, update=0.0005,
                      step=step_seconds)


@pytest.mark.parametrize("step, said", [(0.040, "a whole step took 5.0x the sum of its parts"),
                                        (0.002, "the sum of the parts is 4.0x a whole step"),
                                        (0.010, None)])
def test_parts_and_whole_apart_are_said_with_the_load_in_text_and_json(
        spec_path, step, said, monkeypatch, capsys):
    """8.5 ms in the parts against 40.5 ms for the whole went unremarked, images/s read from
    the slow figure: beyond the stated range the report says so, with the machine's load and
    CPU it prints with every report."""
    from cnnspec.engine import calibrate, timing

    monkeypatch.setattr(timing, "time_step", lambda *args, **kwargs: _busy_timing(step))
    monkeypatch.setattr(calibrate, "load_averages", lambda: (3.25, 2.0, 1.5))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert main(["time", spec_path, "--iterations", "1"]) == 0
    out = capsys.readouterr().out
    assert "CPU: " in out and ", 2 cores, load 3.2/2.0/1.5 (1, 5, 15 min); BLAS: " in out
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert main(["time", spec_path, "--iterations", "1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["load_averages"] == [3.25, 2.0, 1.5] and report["cores"] == 2
    assert report["agreement"] == [0.5, 2.0] and report["parts_agree"] is (said is None)
    if said is None:
        assert notes == [] and report["busy_note"] is None
        return
    assert notes == [f"note: {report['busy_note']}"]
    assert report["busy_note"].startswith(said + (", and images/s" if step > 0.008 else ":"))
    assert ("outside the 0.5x-2x they agree within when nothing else runs, so the machine "
            "was busy (load 3.2/2.0/1.5 on 2 cores)") in report["busy_note"]


def test_the_words_under_the_table_are_wrapped_to_a_terminals_width():
    """On a terminal the columns line, the busy note and the conv paths' legend ran on
    one line each, up to 700 columns: each is wrapped to the width, its lines indented under
    its first (through a pipe, width None, each stays on its one line)."""
    from cnnspec.cli.time import table
    from cnnspec.engine.conv_tuned import METHODS

    conv = LayerTiming("conv1", "conv", 0.003, 0.004, 100, 200, method="rows")
    timing = StepTiming(batch=64, iterations=20, layers=[conv], loss=0.0005, update=0.0005,
                        step=0.040)
    about = {"model": "m", "dtype": "float32", "optimizer": "sgd", "cpu": "some CPU",
             "cores": 2, "load_averages": (3.0, 2.0, 1.0), "blas": "openblas"}
    lines = table(timing, about, width=60).splitlines()
    legend = lines[lines.index("conv paths (the kind column's brackets):") + 1:]
    assert " ".join(line.strip() for line in legend) == f"rows: {METHODS['rows']}"
    assert legend[0].startswith("  rows: ") and legend[1].startswith("    ")
    header = lines.index("conv paths (the kind column's brackets):")
    note = next(i for i, line in enumerate(lines) if line.startswith("note: "))
    prose = lines[note:header - 1] + legend
    assert len(prose) > 8 and all(len(line) <= 60 for line in prose)
    single = table(timing, about).splitlines()
    assert single[-1] == f"  rows: {METHODS['rows']}"


def test_images_per_second_below_one_is_not_rounded_to_a_whole_number():
    from cnnspec.cli.time import _rate

    assert (_rate(0.553), _rate(42.25), _rate(1234.5)) == ("0.553", "42.2", "1,234")


@pytest.fixture
def fake_timers(monkeypatch):
    """The calibration's timers as the file-handling tests' stand-ins: no timing."""
    from test_calibrate import block_timer, timer, winograd_timer

    monkeypatch.setattr(conv_tuned, "time_columns", timer)
    monkeypatch.setattr(conv_tuned, "time_winograd", winograd_timer)
    monkeypatch.setattr(conv_tuned, "time_blocks", block_timer)


def keep(thresholds):
    """A machine's file holding ``thresholds``, as a first use keeps one; its path."""
    from cnnspec.engine import calibrate

    path = calibrate._cache_path()
    calibrate._write_once(path, thresholds)
    return path


def test_calibrate_replaces_the_kept_thresholds_and_says_old_and_new(
        spec_path, cache_home, fake_timers, capsys):
    from cnnspec.engine.calibrate import Thresholds

    path = keep(Thresholds(2 ** 20, 4096, 2 ** 19, 2 ** 20, "measured"))
    assert main(["time", spec_path, "--iterations", "1", "--calibrate"]) == 0
    out = capsys.readouterr().out
    rows = dict(re.findall(r"^  (\S.*?)  +(\S.* -> .*)$", out, re.MULTILINE))
    assert rows["column limit"] == "4096 columns -> 1024 columns"
    assert rows["Winograd chunk limit"] == "512.0 KiB -> 2.0 MiB"
    assert rows["block limit"] == "1.0 MiB -> 256.0 KiB"
    assert f"kept in {path}" in out
    assert "a quiet machine measures best" in out and "differ in the last bits" in out
    assert "timed: batch 8, float32" in out  # then timed as usual
    assert json.loads(path.read_text())["chunk_columns"] == 1024


def test_calibrate_in_json_gives_the_file_and_old_and_new(spec_path, cache_home, fake_timers,
                                                          capsys):
    assert main(["time", spec_path, "--iterations", "1", "--calibrate", "--format",
                 "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    calibration = data["calibration"]
    assert calibration["old"] is None  # nothing was kept before
    assert calibration["new"]["chunk_columns"] == 1024
    assert set(calibration["new"]) == {"chunk_bytes", "chunk_columns", "winograd_bytes",
                                       "block_bytes"}
    assert json.loads(Path(calibration["path"]).read_text())["chunk_columns"] == 1024
    assert "quiet machine" in calibration["note"] and data["layers"]
    assert main(["time", spec_path, "--iterations", "1", "--calibrate", "--format",
                 "json"]) == 0
    assert json.loads(capsys.readouterr().out)["calibration"]["old"] == calibration["new"]


def test_time_without_calibrate_says_nothing_of_it(spec_path, cache_home, fake_timers, capsys):
    assert main(["time", spec_path, "--iterations", "1", "--format", "json"]) == 0
    assert "calibration" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("switched_off, code, says", [
    (True, 2, "calibration is switched off (CNNSPEC_CALIBRATE=0)"),
    (False, 1, "is a file, not a folder"),
])
def test_calibrate_that_cannot_happen_is_an_error_without_a_traceback(
        spec_path, cache_home, fake_timers, capsys, monkeypatch, switched_off, code, says):
    if switched_off:
        monkeypatch.setenv("CNNSPEC_CALIBRATE", "0")
    else:
        (cache_home / "cnnspec").write_text("a file where the folder should be")
    assert main(["time", spec_path, "--calibrate"]) == code
    captured = capsys.readouterr()
    assert says in captured.err and "hint:" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_calibrate_measures_this_machine(spec_path, cache_home, capsys):
    """The real timers, once: the new limits are candidates, and the file holds them."""
    from cnnspec.engine import calibrate, chunking

    assert main(["time", spec_path, "--iterations", "1", "--calibrate", "--format",
                 "json"]) == 0
    new = json.loads(capsys.readouterr().out)["calibration"]["new"]
    assert new["chunk_columns"] in chunking.COLUMN_CANDIDATES
    assert new["winograd_bytes"] in chunking.WINOGRAD_CANDIDATES
    assert new["block_bytes"] in chunking.BLOCK_CANDIDATES
    assert calibrate.thresholds(conv_tuned.time_columns, conv_tuned.time_winograd,
                                conv_tuned.time_blocks).as_dict() == new


@pytest.mark.parametrize("units, loss", [(1, "cross_entropy"), (1, "mse"), (1, "bce"),
                                         (2, "cross_entropy")])
def test_a_step_is_timed_on_labels_its_output_scores(tmp_path, capsys, units, loss):
    """The random labels of a timed step are the classes the output tells apart under its
    loss: one score is one class for cross_entropy (a label of 1 indexed past it: a
    traceback), two for bce's one logit. check refuses such a spec for its 2-class data;
    time, on random inputs, times it and points to check."""
    path = tmp_path / "one.cnn"
    path.write_text(f"input 1x8x8\nflatten\nout: dense {units}\ntrain {{\n"
                    f"  data shapes(size=8, classes=[x, o, plus], count=30)\n  batch 8\n"
                    f"  loss {loss}\n}}\n")
    assert main(["time", str(path), "--iterations", "1"]) == 0
    assert "has warnings or errors about training this spec" in capsys.readouterr().err


@pytest.mark.parametrize("output, loss, says", [
    ("c: conv 2 3x3", "cross_entropy",
     "2:1: error: the output 'c' gives 2x6x6, but the cross_entropy loss takes a flat vector"),
    ("flatten\nc: dense 3", "bce",
     "3:1: error: the output 'c' gives 3 scores, but the bce loss takes one, a logit")])
def test_an_output_its_loss_cannot_take_is_a_located_error(tmp_path, capsys, output, loss,
                                                           says):
    """Whatever the data, random labels cannot be scored on an output that is not flat, or of
    more than one logit under bce (tracebacks in the loss and the backward pass before)."""
    path = tmp_path / "out.cnn"
    path.write_text(f"input 1x8x8\n{output}\ntrain {{\n  loss {loss}\n}}\n")
    assert main(["time", str(path), "--iterations", "1"]) == 2
    assert f"{path}:{says}" in capsys.readouterr().err
