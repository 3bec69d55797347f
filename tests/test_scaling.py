"""check, summary, fmt and diagram take work in proportion to the layers, not their square.

The work is counted in steps, the lines of cnnspec's own code that run (``sys.settrace``),
not timed: the count is the same on any machine under any load. Each command runs on specs
of n, 2n and 4n layers; linear work adds twice as many steps from 2n to 4n as from n to 2n
(what each run does once cancels out), work that scans every layer for each layer four
times as many. At these sizes a quadratic part shows as a ratio from 2.1 (a scan of the
file's lines for each of n warnings) to 2.4; linear work gives 2.00 to 2.02.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import cnnspec
from cnnspec.cli import main
from cnnspec.ir.spec import Spec

PACKAGE = str(Path(cnnspec.__file__).parent)
LAYERS = 50  # n: the specs have n, 2n and 4n layers besides their stem and head
LINEAR = 2.08  # the largest ratio of increments taken as linear

HEAD = ("model grown\ninput 1x8x8\ndefault weight he_normal, bias zeros\n"
        "stem: conv 8 3x3 pad same relu\n")
TAIL = "flatten\nhead: dense 10\n"


def stack(n: int) -> str:
    return HEAD + "".join(f"c{i}: conv 8 3x3 pad same relu\n" for i in range(n)) + TAIL


def linear_stack(n: int) -> str:
    """Convs with no activation between: a warning on each layer."""
    return HEAD + "".join(f"c{i}: conv 8 3x3 pad same\n" for i in range(n)) + TAIL


def residual(n: int) -> str:
    """Blocks of x + F(x), each adding the previous block's output."""
    blocks, previous = [], "stem_relu"
    for i in range(n // 2):
        blocks.append(f"a{i}: conv 8 3x3 pad same relu\nb{i}: conv 8 3x3 pad same\n"
                      f"s{i}: add(b{i}, {previous}) relu\n")
        previous = f"s{i}_relu"
    return HEAD + "".join(blocks) + TAIL


def commented(n: int) -> str:
    return HEAD + "".join(f"# layer {i}\nc{i}: conv 8 3x3 pad same relu  # its own\n"
                          for i in range(n)) + TAIL


def steps(argv: list[str]) -> int:
    """The lines of cnnspec's code that ``main(argv)`` runs."""
    return steps_of(lambda: main(argv))


def steps_of(work) -> int:
    """The lines of cnnspec's code that ``work()`` runs."""
    count = 0

    def each_line(frame, event, arg):
        nonlocal count
        count += event == "line"
        return each_line

    def on_call(frame, event, arg):
        return each_line if frame.f_code.co_filename.startswith(PACKAGE) else None

    before = sys.gettrace()
    sys.settrace(on_call)
    try:
        work()
    finally:
        sys.settrace(before)
    return count


def second_run_steps(argv: list[str]) -> int:
    steps(argv)
    return steps(argv)


def increments_ratio(command, write_spec, folder: Path) -> float:
    """``(steps(4n) - steps(2n)) / (steps(2n) - steps(n))`` of ``command(path)``, the spec
    of each size written by ``write_spec(n, folder)``. Each is counted in its second run: the
    first does what runs once in a process for each value it meets (imports, the parser's
    tables, what the estimates keep for a depth of the net), which a larger spec's run would
    otherwise find done by a smaller's."""
    paths = [write_spec(n, folder) for n in (LAYERS, 2 * LAYERS, 4 * LAYERS)]
    small, middle, large = (second_run_steps(command(path)) for path in paths)
    return (large - middle) / (middle - small)


def cnn(make):
    def write(n: int, folder: Path) -> str:
        path = folder / f"{make.__name__}{n}.cnn"
        path.write_text(make(n))
        return str(path)
    return write


def json_ir(make):
    """The spec as a .json IR file (no source spans: errors are located by JSON path)."""
    def write(n: int, folder: Path) -> str:
        source = cnn(make)(n, folder)
        path = folder / f"{make.__name__}{n}.json"
        assert main(["export", "--format", "json", source, "-o", str(path)]) == 0
        return str(path)
    return write


CASES = {
    "check of a stack": (lambda p: ["check", p], cnn(stack)),
    "check warning of each layer": (lambda p: ["check", p], cnn(linear_stack)),
    "check of a JSON IR warning of each layer": (lambda p: ["check", p], json_ir(linear_stack)),
    "check of residual blocks": (lambda p: ["check", p], cnn(residual)),
    "summary of a stack": (lambda p: ["summary", p], cnn(stack)),
    "summary of residual blocks": (lambda p: ["summary", "--format", "json", p], cnn(residual)),
    "fmt of commented lines": (lambda p: ["fmt", "--check", p], cnn(commented)),
    "diagram of residual blocks": (lambda p: ["diagram", p, "-o", p + ".dot"], cnn(residual)),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_work_grows_linearly_with_the_layers(case, tmp_path, capsys):
    command, write_spec = CASES[case]
    ratio = increments_ratio(command, write_spec, tmp_path)
    capsys.readouterr()
    assert 1.9 < ratio < LINEAR, f"{case}: {ratio:.3f}"


def test_locating_each_layer_of_a_json_ir_grows_linearly():
    """A JSON IR's errors are located by JSON path (``$.layers[3]``): finding the index of
    each of n layers takes n steps in all, not n^2 (a warning of each layer scanned them)."""
    def located(n: int) -> int:
        spec = Spec({"layers": [{"name": f"c{i}"} for i in range(n)]})
        return steps_of(lambda: [spec.json_path_of(f"c{i}") for i in range(n)])

    assert located(4 * LAYERS) < 4.2 * located(LAYERS)
