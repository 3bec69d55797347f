"""The memory a training step needs: check's estimate against a measured step (the ``fuzz``
fixture, tools/fuzz.py, measures it with tracemalloc), and the errors and warnings it gives
before anything is allocated."""
import itertools
from pathlib import Path

import numpy as np
import pytest

import cnnspec
from cnnspec.check.memory import OVERESTIMATE, SPLIT_PARTS, bytes_text
from cnnspec.cli import main
from cnnspec.engine.optim import make_optimizer
from cnnspec.errors import SpecErrors
from cnnspec.ir.training_catalogue import OPTIMIZERS

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _assert_bounds(checked, fuzz) -> None:
    measured = fuzz.measured_step(checked)
    estimated = checked.step_memory.total
    assert measured <= estimated <= OVERESTIMATE * measured, (
        f"estimated {bytes_text(estimated)}, measured {bytes_text(measured)}")


@pytest.mark.parametrize("name", ["digits.cnn", "lenet5.cnn", "resnet_small.cnn",
                                  "separable.cnn", "x_detector.cnn", "encoder_decoder.cnn",
                                  "caffe_lenet.cnn"])
def test_the_estimate_bounds_a_measured_training_step(name, fuzz):
    _assert_bounds(cnnspec.load(SPECS / name), fuzz)


@pytest.mark.parametrize("batch", [8, 64])
def test_the_engines_own_arrays_are_in_the_estimate(batch, fuzz, tmp_path):
    """Caffe's LeNet (SGD with momentum and weight decay, a 400,000-weight dense layer) at
    batch 64 used 9% more than estimated: every optimizer's kept update array and the two
    batch halves' gradients (summed into the model's) were not counted; at batch 8 (not
    split) its second conv's input gradient over whole padded planes was larger than the
    work buffers counted."""
    text = (SPECS / "caffe_lenet.cnn").read_text().replace("batch 64", f"batch {batch}")
    (tmp_path / "lenet.cnn").write_text(text)
    checked = cnnspec.load(tmp_path / "lenet.cnn")
    assert checked.step_memory.batch_size == batch
    _assert_bounds(checked, fuzz)


def test_a_net_of_tiny_layers_is_within_the_estimate(fuzz, tmp_path):
    """61 dense layers of two units hold 6 KiB of arrays but 150 KiB of Python objects (nodes,
    caches, array headers), which the estimate left out (20 times as much as estimated)."""
    (tmp_path / "tiny.cnn").write_text(
        "input 1x4x4\nflatten\ndense 2\nrepeat 60 {\n  dense 2\n}\ntrain {\n"
        "  data shapes(size=4, classes=[x, plus], count=100)\n  batch 1\n}\n")
    _assert_bounds(cnnspec.load(tmp_path / "tiny.cnn"), fuzz)


def test_the_split_the_estimate_counts_is_the_engines():
    model = cnnspec.compile(cnnspec.load(SPECS / "digits.cnn"), seed=0)
    assert model.threads == SPLIT_PARTS


def test_a_step_that_cannot_fit_is_an_error_at_the_heaviest_layer(tmp_path, capsys):
    spec = tmp_path / "huge.cnn"
    spec.write_text("input 1x8x8\nconv1: conv 8 3x3 pad same\nwide: conv 512 3x3 pad same\n"
                    "flatten\ndense 10\n")
    with pytest.raises(SpecErrors) as info:
        cnnspec.load(spec, max_memory=8 << 20)
    (error,) = info.value.errors
    assert error.span.line == 3 and "would need about" in error.message
    assert "more than the 8.0 MiB available" in error.message and "'wide'" in error.message
    # Room for it: no error; most of the room: a warning.
    assert cnnspec.load(spec, max_memory=1 << 30).warnings == []
    needed = cnnspec.load(spec).step_memory.total
    warned = cnnspec.load(spec, max_memory=int(needed * 1.5)).warnings
    assert any("over half" in w.message for w in warned)
    assert main(["check", str(spec), "--max-memory", "8M"]) == 2
    err = capsys.readouterr().err
    assert "huge.cnn:3:1: error: a training step would need" in err and "hint:" in err


def test_a_thousand_times_too_many_filters_is_refused_by_check_without_allocating(tmp_path):
    """677M parameters: refused in check on any machine of today, in well under a second."""
    spec = tmp_path / "big.cnn"
    spec.write_text("input 1x28x28\nconv 100000 3x3\nflatten\ndense 10\n"
                    "train {\n  data mnist\n}\n")
    with pytest.raises(SpecErrors, match="would need about|more values than"):
        cnnspec.load(spec)


def test_a_dilation_whose_padding_is_huge_is_refused(tmp_path):
    """`pad same` with dilation 20000 pads an 8x8 input to about 40000x40000 per image."""
    spec = tmp_path / "dilated.cnn"
    spec.write_text("input 1x8x8\nconv 1 3x3 pad same dilation 20000\nflatten\ndense 10\n")
    with pytest.raises(SpecErrors, match="would need about .* GiB"):
        cnnspec.load(spec, max_memory=16 << 30)


def test_summary_shows_the_step_memory(capsys):
    assert main(["summary", str(SPECS / "digits.cnn")]) == 0
    out = capsys.readouterr().out
    assert "Training step memory: about" in out and "at batch 32" in out


def _argument_grid(entry) -> list[dict]:
    """Every combination of an optimizer's arguments that changes what it keeps: each bool
    both ways, each number at its default and at 0 (where 0 is allowed) and 0.5."""
    choices = []
    for arg in entry.args:
        if arg.type == "bool":
            choices.append([False, True])
        else:
            choices.append(sorted({arg.default, 0.5} | ({0.0} if not arg.low_open else set())))
    grid = [dict(zip([a.name for a in entry.args], values, strict=True))
            for values in itertools.product(*choices)]
    return [args for args in grid
            if not any(rule({**args}) for rule in entry.rules)]  # only valid settings


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_keeps_the_state_arrays_its_record_declares(name):
    """The memory estimate reads the declared count; a real engine step is the truth."""
    entry = OPTIMIZERS[name]
    grid = _argument_grid(entry)
    assert len(grid) > 1
    for args in grid:
        optimizer = make_optimizer({"name": name, **args})
        param = np.zeros(7, np.float32)
        for _ in range(2):
            optimizer.step({"p": param}, {"p": np.ones(7, np.float32)}, 0.01)
        full = [key for key, value in optimizer.state_dict().items() if value.shape == (7,)]
        assert entry.state_arrays(args) == len(full), (name, args, full)
