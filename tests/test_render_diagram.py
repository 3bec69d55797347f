"""Network diagrams: the DOT source holds what a learner needs, and every output format the
extension names comes out well-formed."""
import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

import cnnspec
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.errors import RunError, counted
from cnnspec.init.describe import describe
from cnnspec.init.fans import fans
from cnnspec.ir.spec import Spec
from cnnspec.render import backend
from cnnspec.render.diagram import build_graph, collapse_plan, render_diagram, units
from cnnspec.render.layer_text import init_text, layer_init_text
from cnnspec.render.repeats import identical_runs
from cnnspec.shapes import shape_text

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"
SPECS = sorted(SPEC_DIR.glob("*.cnn"))

# A small checked spec built by hand (no parser or checker needed), with every feature the
# diagram draws: a frozen fixed kernel, a scaled init, a residual add inside a repeated
# block, pooling, flatten and a dense layer.

HE = {"name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}}
GLOROT = {"name": "glorot_uniform", "gain": {"nonlinearity": "linear"}}  # as a spec resolves it
ZEROS = {"name": "zeros"}


def _conv(name, inputs, in_shape, filters, init, trainable=True, group=None):
    c, h, w = in_shape
    weight = (filters, c, 3, 3)
    ir = {"name": name, "kind": "conv", "inputs": inputs, "group": group, "filters": filters,
          "kernel": [3, 3], "stride": [1, 1], "padding": "same", "dilation": [1, 1], "groups": 1,
          "bias": True, "weight_init": init, "bias_init": ZEROS, "trainable": trainable}
    params = filters * c * 9 + filters
    return LayerInfo(name, "conv", ir, inputs, [in_shape], (filters, h, w), pads=(1, 1, 1, 1),
                     weight_shape=weight, bias_shape=(filters,), params=params,
                     trainable_params=params if trainable else 0,
                     fan_in=fans(weight)[0], fan_out=fans(weight)[1],
                     weight_init=describe(init, weight), bias_init=describe(ZEROS, (filters,)))


def _plain(name, kind, inputs, in_shapes, out_shape, group=None, **fields):
    ir = {"name": name, "kind": kind, "inputs": inputs, "group": group, **fields}
    return LayerInfo(name, kind, ir, inputs, in_shapes, out_shape)


def small_checked() -> CheckedSpec:
    layers = [
        _conv("xconv", ["input"], (1, 8, 8), 2, {"name": "x_kernel"}, trainable=False),
        _plain("relu1", "relu", ["xconv"], [(2, 8, 8)], (2, 8, 8)),
        _conv("block_1_conv", ["relu1"], (2, 8, 8), 2, HE, group="block_1"),
        _plain("block_1_relu", "relu", ["block_1_conv"], [(2, 8, 8)], (2, 8, 8),
               group="block_1"),
        _plain("block_1_add", "add", ["block_1_relu", "relu1"], [(2, 8, 8)] * 2, (2, 8, 8),
               group="block_1"),
        _plain("pool1", "maxpool", ["block_1_add"], [(2, 8, 8)], (2, 4, 4), size=[2, 2],
               stride=[2, 2], padding="valid"),
        _plain("flatten1", "flatten", ["pool1"], [(2, 4, 4)], (32,)),
    ]
    layers[5].pads = (0, 0, 0, 0)
    weight = (3, 32)
    dense_ir = {"name": "fc", "kind": "dense", "inputs": ["flatten1"], "group": None,
                "units": 3, "bias": True, "weight_init": GLOROT, "bias_init": ZEROS,
                "trainable": True}
    layers.append(LayerInfo("fc", "dense", dense_ir, ["flatten1"], [(32,)], (3,),
                            weight_shape=weight, bias_shape=(3,), params=99,
                            trainable_params=99, fan_in=32, fan_out=3,
                            weight_init=describe(GLOROT, weight),
                            bias_init=describe(ZEROS, (3,))))
    ir = {"version": 1, "name": "tiny", "input": {"shape": [1, 8, 8]},
          "layers": [layer.ir for layer in layers], "output": "fc", "training": {}}
    total = sum(layer.params for layer in layers)
    frozen = layers[0].params
    return CheckedSpec(Spec(ir), layers, (1, 8, 8), (3,), total, total - frozen, frozen,
                       macs=0, activation_memory=0)


@pytest.fixture(scope="module")
def checked():
    return small_checked()


def test_dot_holds_every_layer_shape_and_init(checked, tmp_path):
    source = render_diagram(checked, tmp_path / "tiny.dot").read_text(encoding="utf-8")
    for layer in checked.layers:
        assert f"<b>{layer.name}</b>" in source
        assert f"out {shape_text(layer.output_shape)}" in source
        if layer.weight_init is not None:
            assert layer_init_text(layer, "weight") in source
    assert "he_normal  σ=0.333" in source  # sqrt(2 / (2*3*3)) = 0.333
    assert "glorot_uniform  U(±0.414)" in source  # sqrt(6 / (32 + 3)) = 0.414


def test_counts_of_a_thousand_and_more_are_told_with_thousands_separated(tmp_path):
    """A layer's filters count, like its params, reads ``1,200``, as every figure the CLI
    shows does (:func:`cnnspec.errors.count_text`)."""
    spec = tmp_path / "big.cnn"
    spec.write_text("input 1x8x8\nconv 1200 3x3 relu\nflatten\ndense 10\n", encoding="utf-8")
    checked = cnnspec.load(spec)
    source = render_diagram(checked, tmp_path / "big.dot").read_text(encoding="utf-8")
    assert "1,200 filters 3x3" in source
    assert "12,000 params" in source
    assert (counted(1437, "image"), counted(1, "image")) == ("1,437 images", "1 image")


@pytest.mark.parametrize("low, high, text", [
    (None, None, "truncated_normal  σ=0.0176, cut at ±0.04"),
    (-0.03, 0.03, "truncated_normal  σ=0.0149, cut at ±0.03"),
    (-0.01, 0.04, "truncated_normal  σ=0.0123, cut to [-0.01, 0.04]"),
])
def test_a_truncated_normal_says_where_it_is_cut(low, high, text):
    init = {"name": "truncated_normal", "mean": 0.0, "std": 0.02, "low": low, "high": high}
    assert init_text(describe(init, (8, 4, 3, 3))) == text


@pytest.mark.parametrize("init, shown", [
    ({"name": "he_normal", "mode": "fan_in", "gain": {"value": 0.1}},
     "he_normal(gain=0.1)  σ=0.00833"),  # 0.1 / sqrt(16 * 3 * 3)
    ({"name": "he_normal", "mode": "fan_out", "gain": {"nonlinearity": "relu"}},
     "he_normal(mode=fan_out)  σ=0.167"),  # sqrt(2 / (8 * 3 * 3))
    ({"name": "he_normal", "mode": "fan_in", "gain": {"nonlinearity": "relu"}},
     "he_normal  σ=0.118"),
    ({"name": "normal", "mean": 0.0, "std": 0.01}, "normal  σ=0.01"),  # σ says its argument
    # the catalogue's words name it already: once, not `delta_orthogonal  delta orthogonal`
    ({"name": "delta_orthogonal", "gain": {"value": 1.0}}, "delta orthogonal 8x16, gain 1"),
])
def test_an_init_is_named_with_the_arguments_that_set_its_scale(init, shown):
    """`he_normal(gain=0.1)` was drawn `he_normal  σ=0.00833`, a σ he_normal does not give."""
    assert init_text(describe(init, (8, 16, 3, 3)), init) == shown


def test_the_diagram_names_a_residual_branchs_small_init_as_its_spec_writes_it(tmp_path):
    spec = cnnspec.load(Path(__file__).resolve().parent.parent / "specs"
                        / "resnet_near_identity.cnn")
    source = render_diagram(spec, tmp_path / "resnet.dot").read_text(encoding="utf-8")
    assert "W: he_normal(gain=0.1)  σ=0.00833" in source.replace("&#160;", " ")


# An edge's label node, with the shape it holds; the edge's half into it; its half out of it.
_LABEL_NODE = re.compile(r'^\s*"([^"]+)" \[label=<.*<font point-size="8"[^>]*>([^<]*)</font>',
                         re.MULTILINE)
_INTO_LABEL = re.compile(r'^\s*(\S+) -> "([^"]+)":line:\w \[arrowhead=none\]$', re.MULTILINE)
_OUT_OF_LABEL = re.compile(r'^\s*"([^"]+)":line:\w -> (\S+)$', re.MULTILINE)


def drawn_edges(source: str) -> set[tuple[str, str, str]]:
    """``(from, to, shape)`` of each edge the DOT ``source`` draws: into the node of its label,
    which holds the shape, and out of it."""
    shapes = dict(_LABEL_NODE.findall(source))
    into = {label: tail.strip('"') for tail, label in _INTO_LABEL.findall(source)}
    out = _OUT_OF_LABEL.findall(source)
    assert len(into) == len(out) == len(shapes)  # each label joins the two halves of one edge
    return {(into[label], head.strip('"'), shapes[label]) for label, head in out}


def test_edges_follow_inputs_with_shapes(checked):
    edges = drawn_edges(build_graph(checked).source)
    assert ("relu1", "block_1_add", "2x8x8") in edges  # the residual shortcut
    assert ("flatten1", "fc", "32") in edges
    assert ("input", "xconv", "1x8x8") in edges
    assert len(edges) == sum(len(layer.inputs) for layer in checked.layers)  # one an input


@pytest.mark.parametrize("rankdir, ports", [("TB", ("n", "s")), ("LR", ("w", "e"))])
def test_an_edge_runs_through_its_labels_node(checked, rankdir, ports):
    """An edge's label is a node the edge enters and leaves through its thin line cell, on
    the sides facing along the layout: the label beside the line, as dot draws its own."""
    source = build_graph(checked, rankdir).source
    label = '"relu1->block_1_add.label"'
    assert f'relu1 -> {label}:line:{ports[0]} [arrowhead=none]' in source
    assert f'{label}:line:{ports[1]} -> block_1_add' in source
    assert source.count(f"{label} [label=") == 1


def test_repeated_block_is_a_cluster(checked):
    source = build_graph(checked).source
    cluster = source.split("subgraph cluster_block_1")[1].split("}")[0]
    assert "block_1_conv [" in cluster and "block_1_add [" in cluster
    assert "pool1 [" not in cluster


def test_the_title_counts_the_non_trainable_params_in_keras_words(checked):
    """The title's count of held parameters says what Keras' and torchinfo's summaries say."""
    source = build_graph(checked).source
    assert checked.frozen_params > 0
    assert f"({checked.frozen_params:,} non-trainable)" in source
    assert f"({checked.frozen_params:,} held)" not in source


def test_frozen_fixed_kernel_is_drawn_as_numbers_and_dashed(checked):
    source = build_graph(checked).source
    node = next(line for line in source.splitlines() if line.strip().startswith("xconv ["))
    assert 'style="dashed"' in node and ">held<" in node
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
    assert ("xconv", "block_1_add", "2x8x8") in drawn_edges(source)  # relu1's, from its unit
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


def test_a_renderer_that_fails_halfway_leaves_the_old_picture(checked, tmp_path, monkeypatch):
    script = tmp_path / "dot"
    script.write_text('#!/bin/sh\nfor a; do case "$a" in -o*) printf "<sv" > "${a#-o}";; esac; '
                      'done\necho "Error: out of memory" >&2\nexit 1\n')
    script.chmod(0o755)
    monkeypatch.setattr(backend, "find_renderer",
                        lambda: backend.Renderer(str(script), ("svg", "png")))
    out = tmp_path / "tiny.svg"
    out.write_text("<svg>the picture drawn before</svg>")
    with pytest.raises(RunError, match="dot failed to draw tiny.svg: Error: out of memory"):
        render_diagram(checked, out)
    assert out.read_text() == "<svg>the picture drawn before</svg>"


def test_a_folder_that_cannot_be_written_is_not_a_failure_to_draw(checked, tmp_path,
                                                                  monkeypatch):
    import errno
    import os
    import tempfile

    real = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if Path(dir) == tmp_path:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(RunError, match=f"cannot write {tmp_path / 'tiny.svg'}: Read-only"):
        render_diagram(checked, tmp_path / "tiny.svg")


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
@pytest.mark.parametrize("detail", ["full", "minimal"])
def test_every_spec_draws_to_svg_naming_every_layer(spec, detail, tmp_path):
    checked = cnnspec.load(spec)
    out = render_diagram(checked, tmp_path / f"{spec.stem}.svg", detail=detail)
    text = " ".join(ET.parse(out).getroot().itertext())
    plan = collapse_plan(checked, units(checked, detail), detail)
    for unit in units(checked, detail):
        for layer in unit.layers:
            # A layer is named in its own node, or stands behind the node drawn in its place.
            shown = plan.node_of.get(unit.head.name, unit.head.name)
            assert layer.name in text or shown in text.replace(" … ", "..")


@pytest.fixture(scope="module")
def plain30():
    return cnnspec.load(SPEC_DIR / "plain30.cnn")


def test_identical_blocks_are_found(plain30):
    runs = identical_runs(plain30)
    assert [[block.group for block in run] for run in runs] == [
        [f"body_{i}" for i in range(1, 30)]]


def test_full_diagram_keeps_first_and_last_block_and_summarises_the_rest(plain30):
    source = build_graph(plain30, detail="full").source
    assert "body_1_conv [" in source and "body_29_conv [" in source
    assert "body_5_conv [" not in source
    assert "27 more blocks like body_1" in source
    edges = drawn_edges(source)
    assert ("body_1_conv_relu", "body_2..body_28", "16x16x16") in edges
    assert ("body_2..body_28", "body_29_conv", "16x16x16") in edges


def test_minimal_diagram_draws_one_block_for_all(plain30):
    source = build_graph(plain30, detail="minimal").source
    assert "body_1_conv [" in source and "body_2_conv [" not in source
    assert "label=\"body x29\"" in source or 'label="body x29"' in source
    # input, stem, body, pool, head: a chain; the flatten between pool and head: one edge
    assert drawn_edges(source) == {("input", "stem", "1x16x16"),
                                   ("stem", "body_1_conv", "16x16x16"),
                                   ("body_1_conv", "pool", "16x16x16"), ("pool", "head", "256")}


def test_minimal_resnet_keeps_the_shortcut():
    checked = cnnspec.load(SPEC_DIR / "resnet_near_identity.cnn")
    source = build_graph(checked, detail="minimal").source
    assert ("stem", "res_1_sum", "16x16x16") in drawn_edges(source)
    assert "res_2_a [" not in source and "res x3" in source


def test_filters_told_apart_later_are_not_said_to_stay_identical(tmp_path):
    """A trainable sobel conv read by a randomly initialised dense layer: its filters start
    alike, but the dense layer's gradients set them apart."""
    path = tmp_path / "edge.cnn"
    path.write_text("input 1x8x8\nc: conv 4 3x3 weight sobel_x relu\nflatten\ndense 10\n")
    source = build_graph(cnnspec.load(path)).source
    assert "the filters start identical" in source and "stay so" not in source


@pytest.mark.parametrize("lines", [
    # b reads a's zeros, and a's gradient comes back through b's weights of 0
    ("c0: conv 4 3x3 pad same relu\na: conv 4 3x3 pad same weight zeros\n"
     "b: conv 4 3x3 pad same weight zeros\ns: add(b, c0_relu) relu\n"),
    # c2's output is its bias of 0, where its relu passes no gradient back to c1
    ("c0: conv 4 3x3 pad same relu\nc1: conv 4 3x3 pad same weight zeros\n"
     "c2: conv 4 3x3 pad same relu\n"),
])
def test_filters_that_never_change_are_said_to_stay_identical(tmp_path, lines):
    """A layer whose weights never change keeps its filters identical, whatever would tell
    them apart after it: drawn as check warns."""
    path = tmp_path / "still.cnn"
    path.write_text("input 1x8x8\n" + lines + "flatten\nfc: dense 10\n")
    checked = cnnspec.load(path)
    source = build_graph(checked).source
    flagged = [line for line in source.splitlines() if "the filters start identical" in line]
    said = [w for w in checked.warnings if " start identical " in w.message]
    assert len(flagged) == len(said) > 0
    assert all("start identical and stay so" in line for line in flagged)
    assert all("symmetry never breaks" in w.message for w in said)


# a layer a whose weights start identical, and a frozen constant layer after it that weighs
# its outputs alike: nothing tells a's filters apart, whatever their biases
BIASED_CONV = ("a: conv 4 3x3 pad same weight zeros {}\n"
               "b: conv 4 3x3 pad same weight constant(0.1) frozen\nflatten\n")
BIASED_DENSE = "flatten\na: dense 4 weight zeros {}\nb: dense 4 weight constant(0.1) frozen\n"


@pytest.mark.parametrize("detail", ["full", "minimal"])
@pytest.mark.parametrize("layers, bias, noun, note", [
    (BIASED_CONV, "bias normal(0, 1)", "filters", "only their biases, drawn N(0, 1^2), differ"),
    (BIASED_CONV, "", "filters", None),
    (BIASED_DENSE, "bias uniform(-1, 1)", "units", "only their biases, drawn U(-1, 1), differ"),
])
def test_filters_alike_but_for_drawn_biases_are_drawn_as_check_says(tmp_path, detail, layers,
                                                                   bias, noun, note):
    """Filters whose weights start identical and stay so under drawn biases: the diagram said
    the filters start identical, which their biases deny; it says what check says, that their
    weights do and only their biases differ."""
    path = tmp_path / "biased.cnn"
    path.write_text("input 1x8x8\n" + layers.format(bias) + "fc: dense 10\n")
    checked = cnnspec.load(path)
    (said,) = [w.message for w in checked.warnings if " of a start identical" in w.message]
    source = build_graph(checked, detail=detail).source.replace("&#x27;", "'")
    (node,) = [line for line in source.splitlines() if line.strip().startswith("a [")]
    if note is None:
        assert f"the {noun} start identical and stay so" in node and "biases" not in node
    else:
        assert f"the {noun}' weights start identical and stay so" in node
        assert note in node and note in said


def test_constant_weights_are_flagged_and_missing_bias_said():
    """zeros.cnn: both convs and the output layer fc, whose weights read conv2's zeros and
    never change, as check warns and init-report counts (one function decides:
    cnnspec.check.lints.lasting_alike_filters); fc was not marked while the diagram read
    only the layers whose filters start identical before a layer that weighs them."""
    from cnnspec.lab.report import init_report

    zeros = build_graph(cnnspec.load(SPEC_DIR / "zeros.cnn")).source
    flagged = {line.split(" [")[0].strip(): line for line in zeros.splitlines()
               if " start identical" in line}
    assert list(flagged) == ["conv1", "conv2", "fc"]
    assert "the filters start identical and stay so" in flagged["conv1"]
    assert "the units start identical and stay so" in flagged["fc"]
    report = init_report(SPEC_DIR / "zeros.cnn", input_kind="gaussian", batch_size=4)
    assert {s.name for s in report.variants[0].layers if s.same_filters} == set(flagged)
    x_detector = build_graph(cnnspec.load(SPEC_DIR / "x_detector.cnn")).source
    node = next(line for line in x_detector.splitlines() if line.strip().startswith("xk ["))
    assert "b: none" in node and "1 filter 3x3" in node
    assert "start identical" not in x_detector  # frozen or random: nothing to flag


def test_batchnorm_scale_of_ones_is_not_flagged():
    # gamma = 1 is batchnorm's standard start: a per-channel scale, no symmetry to break
    from cnnspec.check import check
    from cnnspec.lang import parse

    checked = check(parse("input 1x8x8\nconv 4 3x3\nbatchnorm\nrelu\nflatten\ndense 10\n"))
    for detail in ("full", "minimal"):
        source = build_graph(checked, detail=detail).source
        assert "W: ones" in source or detail == "minimal"
        assert "every weight equal" not in source
    # its shift starts as zeros, shown as a conv's bias is (it was left out)
    node = next(line for line in build_graph(checked).source.splitlines()
                if "batchnorm1" in line and "W: ones" in line)
    assert "b: zeros" in node


def test_nested_repeats_cluster_each_inner_instance(tmp_path):
    path = tmp_path / "nested.cnn"
    path.write_text("input 1x8x8\nrepeat 2 as stage {\n  conv 2 3 pad same relu\n"
                    "  repeat 3 as unit {\n    a: conv 2 3 pad same relu\n    add(a, in)\n"
                    "  }\n}\nflatten\ndense 10\n")
    checked = cnnspec.load(path)
    runs = identical_runs(checked)
    assert [[block.group for block in run] for run in runs] == [
        [f"stage_{s}_unit_{u}" for u in (1, 2, 3)] for s in (1, 2)]
    source = build_graph(checked, detail="full").source
    cluster = source.split("subgraph cluster_stage_1_unit_1 ")[1].split("}")[0]
    assert "stage_1_unit_1_a [" in cluster and "stage_1_conv [" not in cluster
    assert "subgraph cluster_stage_2 " in source


def test_a_dot_file_that_cannot_be_written_in_full_leaves_the_old_one(checked, tmp_path,
                                                                     monkeypatch):
    """The .dot source is written as run files are: a full disk mid-write keeps the old file."""
    import errno
    import os

    dot = tmp_path / "tiny.dot"
    dot.write_text("digraph old {}\n")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunError, match=f"cannot write {dot}"):
        render_diagram(checked, dot)
    assert dot.read_text() == "digraph old {}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.dot"]


@pytest.mark.parametrize("pool, label", [
    ("maxpool 2", "2x2"),  # moves by its window, the default: no stride to say
    ("avgpool 2x3", "2x3"),
    ("maxpool 3 stride 2", "3x3 /2"),  # overlapping windows: the stride is said, as a conv's
    ("maxpool 2 stride 1", "2x2 /1"),
    ("maxpool 3 stride 2 ceil_mode true", "3x3 /2 ceil"),
    ("maxpool 2 stride 2x1", "2x2 /2x1")])
def test_the_minimal_diagram_says_a_pools_stride_only_where_it_is_not_its_window(tmp_path, pool,
                                                                                 label):
    path = tmp_path / "pool.cnn"
    path.write_text(f"input 1x8x8\nc: conv 4 3x3 pad same relu\np: {pool}\nflatten\ndense 10\n")
    source = build_graph(cnnspec.load(path), detail="minimal").source
    assert f'<td align="left"><font point-size="9">{label}</font></td>' in source


def _legend_families(graph) -> list[str]:
    """The layer families the diagram's legend (the graph's own label) names by colour."""
    import re

    label = graph.graph_attr["label"]
    return re.findall(r'<td bgcolor="[^"]+"><font point-size="9">([^<]+)</font></td>', label)


def test_the_legend_says_what_a_flat_edge_shows():
    """Edges after a flatten show one number, the values of a flat tensor, which the
    legend's "C x H x W" alone did not explain."""
    label = build_graph(cnnspec.load(SPEC_DIR / "digits.cnn"), "LR", "full").graph_attr["label"]
    assert "C x H x W, or one number: a flat tensor&#x27;s values" in label


def test_the_minimal_legend_says_what_the_compact_settings_marks_mean():
    """The minimal diagram writes a conv as "16 filters 3x3 g16", "T 16 filters 2x2 /2": its
    legend said nothing of g16, T or /2. It says each mark its nodes show, and only those;
    the full diagram writes the settings out, "groups 16", and needs none."""
    def legend(name, detail):
        graph = build_graph(cnnspec.load(SPEC_DIR / name), "LR", detail)
        return html.unescape(graph.graph_attr["label"])

    separable = legend("separable.cnn", "minimal")
    assert "gN: N groups, each filter reading 1/N of the input channels" in separable
    assert "/s: " not in separable and "T: " not in separable
    unet = legend("encoder_decoder.cnn", "minimal")
    assert "T: a transposed conv, its stride spreading its output" in unet
    assert "/s: a stride of s (a pool's: other than its window)" in unet
    assert "gN: " not in unet
    assert "gN: " not in legend("separable.cnn", "full")
    assert "dN: " not in legend("digits.cnn", "minimal")


def test_the_legend_names_only_the_colours_the_nodes_show():
    """The minimal diagram folds activations and dropouts into the layers before them, and
    flatten into a pool: its legend still showed their colours, which no node wore."""
    checked = cnnspec.load(SPEC_DIR / "digits.cnn")
    assert _legend_families(build_graph(checked, "LR", "minimal")) == ["conv", "pool", "dense"]
    assert _legend_families(build_graph(checked, "LR", "full")) == [
        "conv", "activation", "pool", "reshape", "dense", "dropout"]


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_the_legend_sits_below_the_network_and_takes_no_rank(rankdir):
    """The legend was a node of the layout, placed beside the input at the first rank: as
    wide as it was, it pushed the input far from conv1 along a long empty edge. It is the
    graph's label now, below the network, under its title in a cluster of its own."""
    checked = cnnspec.load(SPEC_DIR / "digits.cnn")
    graph = build_graph(checked, rankdir, "minimal")
    source = graph.source
    assert graph.graph_attr["labelloc"] == "b" and "<b>legend</b>" in graph.graph_attr["label"]
    assert '"legend."' not in source  # the node it was
    network = source.split('subgraph "cluster_network."')[1]
    assert 'label="digits: 62,250 parameters"' in network and "input [" in network
