"""He et al. 2015, Fig. 3, in small: a deep plain ReLU net trains under He init and stalls under
Glorot init, for every seed tried.

The net is a shortened ``specs/he2015_fig3_plain30.cnn`` (16 conv layers of 8 filters on 8x8
shapes, 3 epochs: seconds, not minutes). Glorot's ``Var[w] = 2 / (fan_in + fan_out)`` halves the
variance at each ReLU layer (He et al. 2015, eq. 10), so at 16 layers the output and every
layer's weight gradient are about 2^-7.5 of He's; SGD's steps shrink with them and the loss stays
at log(4). Under He init the same net, same data, same order reaches 93% and more by the third
epoch. The same net only 3 layers deep trains under Glorot too: the stall is depth's doing, not
a defect of Glorot's init. The bars (He above 80% on every seed, deep Glorot below 40%, chance
25%) leave wide margins on both sides of what was measured on seeds 0-2 (He 93-99%, Glorot
22-25%, the 3-layer Glorot net 94-99%).
"""
import itertools
import re
from pathlib import Path

import pytest
from readme_blocks import README, quoted_blocks

from cnnspec.sweep.compare import compare

HOW_TO = README.parent / "docs" / "how-to-initialise.md"
CHANCE = 0.25  # four classes
SEEDS = 3


def plain_net(depth: int) -> str:
    """A plain ReLU net of ``depth`` conv layers, with the head and the training settings of
    specs/he2015_fig3_plain30.cnn, smaller."""
    return f"""\
model plain{depth}
input 1x8x8
default weight he_normal, bias zeros
stem: conv 8 3x3 pad same relu
repeat {depth - 1} as body {{
  conv 8 3x3 pad same relu
}}
pool: avgpool 2
flatten
head: dense 4 weight lecun_normal
train {{
  data shapes(size=8, classes=[x, plus, o, square], count=800)
  preprocess standardize
  optimizer sgd(momentum=0.9)
  lr 0.02
  clip_norm 1
  batch 16
  epochs 3
  seed 0
}}
"""


def _test_accuracies(tmp_path, depth: int, inits: list[str]) -> dict[str, list[float]]:
    spec = tmp_path / f"plain{depth}.cnn"
    spec.write_text(plain_net(depth))
    comparison = compare(str(spec), inits, seeds=SEEDS, jobs=1, out=tmp_path / "runs")
    return {v.label: [r.test_acc for r in v.runs] for v in comparison.variants}


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    return _test_accuracies(tmp_path_factory.mktemp("deep"), 16, ["he_normal", "glorot_normal"])


def test_he_trains_the_deep_plain_net_on_every_seed(deep):
    assert all(acc > 0.8 for acc in deep["he_normal"]), deep


def test_glorot_stalls_at_chance_on_every_seed(deep):
    assert all(acc < 0.4 for acc in deep["glorot_normal"]), deep
    assert min(deep["he_normal"]) - max(deep["glorot_normal"]) > 0.4


def test_a_shallow_plain_net_trains_under_glorot(tmp_path):
    shallow = _test_accuracies(tmp_path, 3, ["glorot_normal"])
    assert all(acc > 0.8 for acc in shallow["glorot_normal"]), shallow


def test_the_fig3_picture_has_a_column_per_depth_and_a_row_per_metric(tmp_path):
    from PIL import Image

    from cnnspec.errors import RunError
    from cnnspec.lab.plots import plot_curve_panels

    def run(*accs):
        return [{"epoch": i + 1, "val_acc": a, "train_loss": 1.5 - a} for i, a in enumerate(accs)]

    panels = {"22 layers": {"he_normal": [run(0.5, 0.9), run(0.6, 0.95)],
                            "glorot_normal": [run(0.3, 0.6)]},
              "30 layers": {"he_normal": [run(0.4, 0.9)],
                            "glorot_normal": [run(0.25, 0.25), []]}}
    png = plot_curve_panels(panels, tmp_path / "fig3.png", title="Fig. 3")
    width, height = Image.open(png).size
    assert width > height  # two columns side by side, two rows
    with pytest.raises(RunError, match="nothing to plot"):
        plot_curve_panels({}, tmp_path / "empty.png")


def test_plain30s_head_keeps_what_a_global_average_would_lose():
    """Why specs/plain30.cnn has an ``avgpool 4`` head (its comments, docs/how-to-initialise.md
    section 8): at init, after 30 ReLU layers, the average of the last feature maps over the
    whole 16x16 map is nearly the same vector for every image, while the 4x4 averages the head
    sees still tell images apart. Measured (mean cosine between images): the maps 0.66, their
    4x4 averages 0.945, their global averages 0.9986, so 1 - cosine, the part that differs,
    is 40 times larger in the head's input than in a global average."""

    import numpy as np

    from cnnspec.compiler import compile_spec
    from cnnspec.lab.batch import make_batch

    spec = Path(__file__).resolve().parent.parent / "specs" / "plain30.cnn"
    model = compile_spec(str(spec), seed=0)
    batch = make_batch(model.checked, "data", 64, seed=0)
    model.record = True
    model.forward(batch.x)
    last = model.activations["body_29_conv_relu"].astype(np.float64)  # (N, 16, 16, 16)
    global_average = last.mean(axis=(2, 3))
    windows = model.activations["pool"].astype(np.float64)  # (N, 16, 4, 4): the head's input
    assert windows.shape[1:] == (16, 4, 4)

    def mean_cosine(x):
        unit = x.reshape(len(x), -1) / np.linalg.norm(x.reshape(len(x), -1), axis=1,
                                                      keepdims=True)
        cosine = unit @ unit.T
        return cosine[~np.eye(len(x), dtype=bool)].mean()

    assert mean_cosine(global_average) > 0.99
    assert 1 - mean_cosine(windows) > 10 * (1 - mean_cosine(global_average))
    assert mean_cosine(last) < 0.8


def test_the_fig3_tool_compares_both_depths_and_draws_them(tmp_path, monkeypatch, capsys):
    """tools/he2015_fig3.py end to end, on two tiny nets in place of the 22- and 30-layer
    specs (the real ones take minutes). The block of what it prints, in
    docs/how-to-initialise.md alone (README links to it), once left out its per-spec time and
    each table's note: its lines are of the forms the tool prints, in its order."""
    import importlib.util

    from PIL import Image

    path = Path(__file__).resolve().parent.parent / "tools" / "he2015_fig3.py"
    loader = importlib.util.spec_from_file_location("he2015_fig3", path)
    tool = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(tool)
    specs = {}
    for depth in (2, 3):
        spec = tmp_path / f"plain{depth}.cnn"
        spec.write_text(plain_net(depth).replace("count=800", "count=200")
                        .replace("epochs 3", "epochs 1"))
        specs[f"{depth} layers"] = spec
    monkeypatch.setattr(tool, "SPECS", specs)
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    png = tmp_path / "fig3.png"
    assert tool.main(["--seeds", "2", "--jobs", "1", "--out", str(tmp_path / "runs"),
                      "-o", str(png)]) == 0
    out = capsys.readouterr().out
    assert "plain2.cnn" in out and "plain3.cnn" in out
    assert out.count("he_normal ") == 2 and out.count("glorot_normal ") == 2  # a table each
    assert Image.open(png).size[0] > Image.open(png).size[1]
    printed = printed_form(out.splitlines())
    assert printed_form(fig3_block()) == printed


def fig3_block() -> list[str]:
    """The one block of docs/how-to-initialise.md quoting what tools/he2015_fig3.py prints;
    README has none of its own, so the two cannot drift apart."""
    def blocks(page: Path) -> list[list[str]]:
        return [block for block in quoted_blocks(page.read_text(encoding="utf-8"))
                if block[0].startswith("he_normal, seed 0:")]

    assert blocks(README) == [], "README links to the how-to's block instead of copying it"
    [block] = blocks(HOW_TO)
    return block


def printed_form(lines: list[str]) -> list[str]:
    """What tools/he2015_fig3.py prints, its figures, paths and times aside: each line with its
    numbers as ``#``, the spec, run folder and figure as ``SPEC``, ``RUNS`` and ``PNG``, the
    epochs to the target as ``REACHED`` (reached or not), the layers an init sets as
    ``LAYERS`` (the nets' depths differ), its spaces as one; a run of lines of
    one form as one (the lines of as many seeds as were trained)."""
    def form(line: str) -> str:
        line = re.sub(r"runs in \S+\)$", "runs in RUNS)", line)
        line = re.sub(r"sets the weights of .*?; ", "sets the weights of LAYERS; ", line)
        line = re.sub(r"^\S+\.cnn ", "SPEC ", re.sub(r"^wrote \S+\.png$", "wrote PNG", line))
        line = re.sub(r"\d+(\.\d+)?", "#", line)
        return " ".join(re.sub(r"never \(#/#\)|# \(#/#\)", "REACHED", line).split())

    return [key for key, _ in itertools.groupby(form(line) for line in lines if line)]
