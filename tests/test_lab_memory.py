"""The init lab's commands (init-report, --jacobian, --phase) against memory: they measure on a
batch of their own, so the spec's training figure does not refuse them; their own batch is
checked before anything is allocated (cnnspec.lab.memory), and a real init-report process
stays within that figure."""
import json
import sys
from pathlib import Path

import pytest
from peak import peak_of

from cnnspec.check import memory
from cnnspec.check.load import load
from cnnspec.cli import main
from cnnspec.lab.jacobian import CHUNK
from cnnspec.lab.memory import SMALLER_NETWORK
from cnnspec.lab.phase import PROBE_INPUTS

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

# A conv net on the built-in shapes whose training batch is larger than its 4,000 images, so
# that a step holds them all: too large for the fixture's machine of SMALL_MACHINE bytes.
SMALL_MACHINE = 1536 << 20
HUGE_BATCH = """model wide
input 1x32x32
c1: conv 32 3x3 pad same tanh
c2: conv 32 3x3 pad same tanh
flatten
fc: dense 4
train {
  data shapes(size=32, classes=[x, plus, o, square])
  batch 10000000
  seed 0
}
"""


@pytest.fixture
def huge_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "machine_memory", lambda: SMALL_MACHINE)
    path = tmp_path / "wide.cnn"
    path.write_text(HUGE_BATCH)
    return path


def test_the_lab_measures_a_spec_whose_training_would_not_fit(huge_batch, capsys):
    """Refused for training (with `check`), measured by the lab on its own small batch; the
    training figure is a warning beside the report, as for summary."""
    assert main(["check", str(huge_batch)]) != 0
    assert "training would need" in capsys.readouterr().err
    assert main(["init-report", str(huge_batch), "--input", "gaussian", "--batch-size", "4",
                 "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert '"variants"' in out and "warning: training would need" in err
    assert main(["init-report", str(huge_batch), "--jacobian", "--rows", "8"]) == 0
    assert main(["init-report", str(huge_batch), "--phase", "--grid", "2x2"]) == 0


def test_init_report_refuses_a_batch_that_would_not_fit(huge_batch, capsys):
    assert main(["init-report", str(huge_batch), "--input", "gaussian",
                 "--batch-size", "50000000"]) == 2
    err = capsys.readouterr().err
    assert "error: measuring the network would need up to about" in err
    assert "at batch 50000000" in err and "to record every layer's output and gradient" in err
    assert "hint: `--batch-size " in err and "` fits, about " in err and "Traceback" not in err
    assert "of data" not in err  # noise: the data set is not read
    assert main(["init-report", str(huge_batch), "--batch-size", "50000000"]) == 2
    err = capsys.readouterr().err
    assert "of data" in err  # drawn from the data set: it is read, and holds 4,000 images
    assert "at batch 4000 " in err


def test_init_report_measures_all_the_data_s_training_images_where_they_are_fewer(capsys):
    """--batch-size beyond the training images the data holds: the report says how many it
    measured, and that they are all of them."""
    assert main(["init-report", str(SPECS / "digits.cnn"), "--batch-size", "5000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("digits: 1,437 inputs from digits (all its training images, fewer "
                          "than --batch-size 5000), seed 0\n")
    assert main(["init-report", str(SPECS / "digits.cnn"), "--batch-size", "5000", "--format",
                 "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["batch"], report["batch_asked"]) == (1437, 5000)


@pytest.mark.parametrize("option,batch", [(["--jacobian", "--rows", "8"], CHUNK),
                                          (["--phase", "--grid", "2x2"], PROBE_INPUTS)])
def test_the_jacobian_and_the_phase_diagram_refuse_a_network_too_large_for_their_batch(
        option, batch, huge_batch, monkeypatch, capsys):
    """Their batches are fixed (directions per pass, probe inputs; float64): only the network
    can shrink, and the hint says so. The machine is made just too small for that batch."""
    checked = load(huge_batch, for_training=False)
    needed = memory.measuring_estimate(checked.spec, checked.layers, batch, "float64",
                                       recording=option[0] == "--phase", data=False).process
    monkeypatch.setattr(memory, "machine_memory", lambda: needed - 1)
    assert main(["init-report", str(huge_batch), *option, "--input", "gaussian"]) == 2
    err = capsys.readouterr().err
    assert "measuring the network would need up to about" in err and f"at batch {batch}" in err
    assert f"hint: {SMALLER_NETWORK}" in err
    monkeypatch.setattr(memory, "machine_memory", lambda: needed)
    assert main(["init-report", str(huge_batch), *option, "--input", "gaussian"]) == 0


@pytest.mark.parametrize("name,batch,kind", [("cifar10_vgg.cnn", 256, "gaussian"),
                                             ("resnet_near_identity.cnn", 512, "data")])
def test_an_init_report_process_stays_within_the_estimate_of_it(name, batch, kind):
    checked = load(SPECS / name, for_training=False)
    estimate = memory.measuring_estimate(checked.spec, checked.layers, batch, "float32",
                                         recording=True, data=kind == "data").process
    command = [sys.executable, "-m", "cnnspec", "init-report", str(SPECS / name), "--input",
               kind, "--batch-size", str(batch), "--format", "json"]
    measured = peak_of(command)
    assert measured <= estimate, (measured / 2**20, estimate / 2**20)
    assert estimate <= 3 * measured, (measured / 2**20, estimate / 2**20)
