"""Network diagrams: the DOT source holds what a learner needs, and every output format the
extension names comes out well-formed."""
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from cnnspec.errors import RunError
from cnnspec.render import backend
from cnnspec.render.diagram import build_graph, render_diagram, units
from cnnspec.render.layer_text import init_text, shape_text
from render_fixtures import small_checked

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))


@pytest.fixture(scope="module")
def checked():
    return small_checked()


def test_dot_holds_every_layer_shape_and_init(checked, tmp_path):
    source = render_diagram(checked, tmp_path / "tiny.dot").read_text(encoding="utf-8")
    for layer in checked.layers:
        assert f"<b>{layer.name}</b>" in source
        assert f"out {shape_text(layer.output_shape)}" in source
        if layer.weight_init is not None:
            assert init_text(layer.weight_init) in source
    assert "he_normal  σ=0.333" in source  # sqrt(2 / (2*3*3)) = 0.333
    assert "glorot_uniform  U(±0.414)" in source  # sqrt(6 / (32 + 3)) = 0.414


def test_edges_follow_inputs_with_shapes(checked):
    source = build_graph(checked).source
    assert 'relu1 -> block_1_add [label=" 2x8x8"]' in source  # the residual shortcut
    assert 'flatten1 -> fc [label=" 32"]' in source
    assert 'input -> xconv [label=" 1x8x8"]' in source


def test_repeated_block_is_a_cluster(checked):
    source = build_graph(checked).source
    cluster = source.split("subgraph cluster_block_1")[1].split("}")[0]
    assert "block_1_conv [" in cluster and "block_1_add [" in cluster
    assert "pool1 [" not in cluster


def test_frozen_fixed_kernel_is_drawn_as_numbers_and_dashed(checked):
    source = build_graph(checked).source
    node = next(line for line in source.splitlines() if line.strip().startswith("xconv ["))
    assert 'style="dashed"' in node and "frozen" in node
    assert node.count('width="22"') == 9  # the 3x3 x_kernel, one cell per number
    other = next(line for line in source.splitlines()
                 if line.strip().startswith("block_1_conv ["))
    assert 'style="dashed"' not in other and 'width="22"' not in other


def test_minimal_folds_activations_into_the_layer_before(checked):
    minimal = units(checked, "minimal")
    names = [[layer.name for layer in unit.layers] for unit in minimal]
    assert names == [["xconv", "relu1"], ["block_1_conv", "block_1_relu"], ["block_1_add"],
                     ["pool1", "flatten1"], ["fc"]]
    source = build_graph(checked, detail="minimal").source
    assert "relu1 [" not in source
    assert 'xconv -> block_1_add [label=" 2x8x8"]' in source  # relu1's output, from its unit
    assert len(units(checked, "full")) == len(checked.layers)


def test_svg_is_well_formed_and_names_every_layer(checked, tmp_path):
    out = render_diagram(checked, tmp_path / "tiny.svg", rankdir="LR")
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t for t in root.itertext())
    for layer in checked.layers:
        assert layer.name in text


def test_png_has_a_valid_header_and_sensible_size(checked, tmp_path):
    out = render_diagram(checked, tmp_path / "tiny.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as image:
        width, height = image.size
    assert 300 < width < 3000 and 500 < height < 4000


def test_pdf_is_written(checked, tmp_path):
    out = render_diagram(checked, tmp_path / "tiny.pdf", detail="minimal")
    assert out.read_bytes()[:5] == b"%PDF-"


def test_unknown_extension_is_a_run_error(checked, tmp_path):
    with pytest.raises(RunError, match="format"):
        render_diagram(checked, tmp_path / "tiny.gif")


def test_bad_options_are_run_errors(checked):
    with pytest.raises(RunError):
        build_graph(checked, rankdir="BT")
    with pytest.raises(RunError):
        build_graph(checked, detail="medium")


def test_without_a_renderer_the_dot_file_is_kept(checked, tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "find_renderer", lambda: None)
    with pytest.raises(RunError) as info:
        render_diagram(checked, tmp_path / "tiny.png")
    dot = tmp_path / "tiny.dot"
    assert dot.exists() and "digraph tiny" in dot.read_text(encoding="utf-8")
    assert f"-Tpng {dot}" in info.value.hint
    assert not (tmp_path / "tiny.png").exists()


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_draws_to_svg(spec, tmp_path):
    load = pytest.importorskip("cnnspec.check.load").load
    checked = load(spec)
    for detail in ("full", "minimal"):
        out = render_diagram(checked, tmp_path / f"{spec.stem}.svg", detail=detail)
        root = ET.parse(out).getroot()
        text = " ".join(root.itertext())
        for unit in units(checked, detail):
            assert unit.head.name in text
