"""tools/bench.py runs through: every part at small sizes, and ``--readme`` writing its block.

The figures themselves are not asserted (they are the machine's); what is asserted is that each
part prints its lines with the CPU model, the BLAS kernels and the load beside them, so that a
change to a function the script reads breaks a test rather than the next measurement.
"""
import argparse
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "tools" / "bench.py"


def _torch_ok() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_speed_prints_each_case_the_blas_and_the_peak(bench, monkeypatch, capsys):
    monkeypatch.setattr(bench, "CASES", [("lenet5", 4)])
    monkeypatch.setattr(bench, "GFLOPS_CASES", [("lenet5", 4)])
    args = argparse.Namespace(threads=2, rounds=1, seconds=0.001)
    bench.speed(args, _torch_ok())
    out = capsys.readouterr().out
    assert "speed: threads 2, 1 rounds" in out
    assert "conv thresholds: chunks of at most" in out
    assert "   lenet5 batch   4: cnnspec " in out
    assert ("ratio cnnspec/pytorch median" in out) == _torch_ok()
    assert "lenet5 conv layers (forward + backward, 1 thread):" in out
    assert "matmul, 1 thread:" in out and "(load " in out


def test_memory_deep_and_epoch_print_their_lines(bench, capsys):
    bench.memory([("lenet5", 4)], _torch_ok())
    bench.deep(layers=2, batches=(1,), steps=1)
    bench.epoch(2, _torch_ok(), images=96, batch=32, parts=2)
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("      lenet5 batch   4:"))
    assert "check's estimate" in line and ("cnnspec/pytorch" in line) == _torch_ok()
    assert "deep thin net: 2 x (conv 8 3x3 pad same + tanh)" in out
    assert "  batch   1: " in out and "us a layer" in out
    assert "one epoch, 96 MNIST-shaped images (synthetic), LeNet-5, batch 32" in out


def test_the_script_writes_its_output_into_readme(tmp_path):
    """As README's block is made: the header (CPU, BLAS, load) and the start-up part, whole
    process, written between the markers with the command that made it."""
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- bench.py output: begin -->\nold\n"
                      "<!-- bench.py output: end -->\nafter\n")
    done = subprocess.run([sys.executable, str(BENCH), "--parts", "startup", "--runs", "1",
                           "--no-torch", "--readme", str(readme), "--busy"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert text.startswith("before\n<!-- bench.py output: begin -->\n```\n"
                           "$ .venv/bin/python tools/bench.py --parts startup --runs 1 "
                           "--no-torch\n")
    assert text.endswith("```\n<!-- bench.py output: end -->\nafter\n")
    assert "old" not in text
    header, blas = text.splitlines()[4:6]
    assert "; CPU: " in header and "; load " in header
    assert blas.startswith("BLAS: ") and "threads by default" in blas
    assert "cnnspec check specs/lenet5.cnn" in text and "s wall" in text


def test_the_script_writes_no_readme_block_on_a_busy_machine(bench, tmp_path, monkeypatch):
    """Other work on the cores moves the ratios (PyTorch's threads wait on each other), so
    README's block is refused above one waiting process a core, and nothing is measured."""
    readme = tmp_path / "README.md"
    readme.write_text("<!-- bench.py output: begin -->\nold\n<!-- bench.py output: end -->\n")
    cores = bench.os.cpu_count() or 1
    monkeypatch.setattr(bench, "load_averages", lambda: (cores + 0.5, 1.0, 1.0))
    monkeypatch.setattr(bench, "measure", lambda *_: pytest.fail("measured on a busy machine"))
    with pytest.raises(SystemExit) as refused:
        bench.main(["--parts", "startup", "--readme", str(readme)])
    assert f"the machine is busy (load {cores + 0.5:.1f}/1.0/1.0 on {cores} cores)" in str(
        refused.value)
    assert "(--busy writes them anyway)" in str(refused.value)
    assert "old" in readme.read_text()


def _basic_blocks(name: str, channels: int) -> str:
    """Two basic blocks, conv-bn-relu-conv-bn plus the identity, then ReLU."""
    return (f"repeat 2 as {name} {{\n"
            f"  c1: conv {channels} 3x3 pad same nobias\n  n1: batchnorm relu\n"
            f"  c2: conv {channels} 3x3 pad same nobias\n  n2: batchnorm\n"
            "  sum: add(n2, in) relu\n}\n")


# The ResNet-style net as tools/nets.py wrote it out before the bench read
# specs/resnet_small.cnn: README's block and docs/measurements.md give figures of this net.
MEASURED_RESNET = ("model resnet_small\ninput 3x32x32\n"
                   "stem: conv 16 3x3 pad same nobias\nstem_bn: batchnorm relu\n"
                   + _basic_blocks("a", 16)
                   + "down: conv 32 3x3 stride 2 pad 1 nobias\ndown_bn: batchnorm relu\n"
                   + _basic_blocks("b", 32)
                   + "gap: global_avgpool\nfc: dense 10\n")


def test_the_bench_times_the_spec_files_resnet_the_net_its_figures_are_of(bench):
    """`cnnspec time specs/resnet_small.cnn` timed another net than the bench's resnet_small
    (1x16x16, no batch norm): the bench now reads the spec file, whose layers are the ones
    it measured before, with the same training settings and memory estimate at each batch,
    so its old figures compare with its new ones. A change to the spec file's layers fails
    here: the figures would then be of another net."""
    import cnnspec
    from cnnspec.check.checker import check
    from cnnspec.lang import parse

    spec_file = cnnspec.load(Path(__file__).resolve().parent.parent / "specs"
                             / "resnet_small.cnn")
    for batch in (None, 64):
        timed = bench.checked("resnet_small", batch)
        assert timed.ir["layers"] == spec_file.ir["layers"]
        assert timed.ir["input"] == spec_file.ir["input"]
        train = bench.TRAIN if batch is None else bench.TRAIN.replace(
            "  seed 0", f"  seed 0\n  batch {batch}")
        measured = check(parse(MEASURED_RESNET + train))
        assert timed.ir == measured.ir
        assert timed.step_memory == measured.step_memory
