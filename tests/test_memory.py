"""The memory a training step needs: check's estimate against a measured step, and the errors
and warnings it gives before anything is allocated."""
import itertools
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import cnnspec
from cnnspec.check.memory import OVERESTIMATE, bytes_text
from cnnspec.cli import main
from cnnspec.engine.optim import make_optimizer
from cnnspec.errors import SpecErrors
from cnnspec.ir.training_catalogue import OPTIMIZERS

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _step(checked, x, y) -> None:
    """Build the model and run one training step: forward, loss, backward, optimizer update."""
    training = checked.ir["training"]
    model = cnnspec.compile(checked, seed=0)
    optimizer = make_optimizer(training["optimizer"], training["weight_decay"])
    _, dout = model.loss(model.forward(x), y)
    model.backward(dout)
    optimizer.step(model.params(), model.grads(), training["lr"])


def _measured_step(checked) -> int:
    """Peak bytes allocated (NumPy reports its arrays to tracemalloc) to build the model and
    run one training step at the spec's batch size, after a first step has done its imports."""
    batch = checked.ir["training"]["batch_size"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *checked.input_shape)).astype(np.float32)
    y = rng.integers(0, checked.output_shape[0], batch)
    _step(checked, x, y)
    tracemalloc.start()
    try:
        _step(checked, x, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["digits.cnn", "lenet5.cnn", "resnet_small.cnn",
                                  "separable.cnn", "x_detector.cnn", "encoder_decoder.cnn"])
def test_the_estimate_bounds_a_measured_training_step(name):
    checked = cnnspec.load(SPECS / name)
    measured = _measured_step(checked)
    estimated = checked.step_memory.total
    assert measured <= estimated <= OVERESTIMATE * measured, (
        f"estimated {bytes_text(estimated)}, measured {bytes_text(measured)}")


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
