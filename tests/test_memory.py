"""The memory a training step needs: check's estimate against measured steps (the ``fuzz``
fixture, tools/fuzz.py, measures them with tracemalloc), each layer kind's footprint
(cnnspec.engine.footprint) against its layer, and the errors and warnings the estimate gives
before anything is allocated."""
import importlib.util
import itertools
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from test_kinds import CASES as KIND_CASES
from test_kinds import _layer as kind_layer

import cnnspec
from cnnspec.check import check
from cnnspec.check.load import read_spec
from cnnspec.check.memory import (
    EXAMPLES_OVERESTIMATE,
    OBJECT_BYTES_PER_LAYER,
    OVERESTIMATE,
    bytes_text,
    gradient_arrays,
    memory_problems,
    optimizer_arrays,
    runtime_bytes,
)
from cnnspec.cli import OPTION_NAMES, main
from cnnspec.engine import conv_tuned
from cnnspec.engine.calibrate import Thresholds, largest_limits
from cnnspec.engine.chunking import (
    BLOCK_CANDIDATES,
    CALIBRATION_TIMERS,
    COLUMN_CANDIDATES,
    WINOGRAD_CANDIDATES,
    chunk_bytes,
)
from cnnspec.engine.footprint import (
    RULES,
    UFUNC_BUFFER_VALUES,
    WINDOW_KINDS,
    Geometry,
    conv_crop,
    footprint,
    keeps_columns,
    ufunc_buffer_bytes,
    winograd_pays,
)
from cnnspec.engine.layers import BatchNorm, BatchNormReLU, Conv2d, Pool
from cnnspec.engine.optim import make_optimizer
from cnnspec.engine.splitting import splits
from cnnspec.engine.transposed import ConvTranspose2d
from cnnspec.errors import SpecErrors
from cnnspec.ir.training_catalogue import OPTIMIZERS, is_trained
from cnnspec.kinds import KINDS

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
# Measured on every spec but those whose steps take hundreds of MB (plain30: 400 MB,
# he2015_plain30: 2.2 GB, deep_tanh200: 220 MB), which tools/fuzz.py and the bench measure.
LARGE = {"plain30.cnn", "he2015_plain30.cnn", "deep_tanh200.cnn"}
BENCH = [("lenet5", 64), ("lenet5", 256), ("vgg_small", 64), ("resnet_small", 64)]


def _calibrations(every_pair: bool = False):
    """Under each set of limits calibration may choose (check does not know the machine's;
    the chunk bytes are this machine's L2 cache, which check reads too), the engine's
    ``thresholds`` patched to return them: yields each. Every column limit, beside it in turn
    the Winograd limits (the largest first) and the block limits (the smallest first); with
    ``every_pair``, every column limit with every block limit, the two a chunked layer reads
    together (a row-tap block's images depend on the chunk's), the Winograd limits still in
    turn (a layer that runs by Winograd's reads no other); last, the largest of every limit
    together, the set whose buffers the footprints count (the others leave a layer's
    buffers smaller)."""
    block_limits = sorted(BLOCK_CANDIDATES)
    pairs = (itertools.product(COLUMN_CANDIDATES, block_limits) if every_pair
             else zip(COLUMN_CANDIDATES, itertools.cycle(block_limits)))
    sets = [(columns, winograd, blocks) for (columns, blocks), winograd in zip(
        pairs, itertools.cycle(sorted(WINOGRAD_CANDIDATES, reverse=True)))]
    largest = largest_limits(chunk_bytes())
    largest = (largest.chunk_columns, largest.winograd_bytes, largest.block_bytes)
    with pytest.MonkeyPatch.context() as patch:
        for columns, winograd, blocks in sets + [largest] * (largest not in sets):
            limits = Thresholds(chunk_bytes(), columns, winograd, blocks, "timed")
            patch.setattr(conv_tuned, "thresholds", lambda limits=limits: limits)
            yield limits


def _assert_bounds(checked, fuzz, dtype: str = "float32", within: float = OVERESTIMATE) -> None:
    """The estimate holds the step measured under every limit calibration may choose
    (:func:`_calibrations`), and is within ``within`` times the largest of them."""
    estimated = checked.step_memory.total
    measured = []
    for limits in _calibrations():
        measured.append(fuzz.measured_step(checked, dtype))
        assert measured[-1] <= estimated, (
            f"estimated {bytes_text(estimated)}, measured {bytes_text(measured[-1])} "
            f"under {limits}")
    assert estimated <= within * max(measured), (
        f"estimated {bytes_text(estimated)}, measured at most {bytes_text(max(measured))}")


@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("*.cnn")
                                        if p.name not in LARGE))
def test_the_estimate_bounds_a_measured_training_step(name, fuzz):
    _assert_bounds(cnnspec.load(SPECS / name), fuzz, within=EXAMPLES_OVERESTIMATE)


@pytest.mark.parametrize("name", ["lenet5.cnn", "digits.cnn", "resnet_near_identity.cnn"])
def test_the_estimate_in_float64_bounds_a_float64_step(name, fuzz):
    """`cnnspec train --dtype float64` is checked against a step of 8-byte values."""
    spec = read_spec(str(SPECS / name))
    checked = check(spec, dtype="float64")
    assert checked.step_memory.total > check(spec).step_memory.total
    _assert_bounds(checked, fuzz, "float64")


def _bench_net(name: str, batch: int):
    """The checked benchmark net of tools/nets.py (a script's module, not the package's)."""
    spec = importlib.util.spec_from_file_location("cnnspec_bench_nets", ROOT / "tools" / "nets.py")
    nets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nets)
    return nets.checked(name, batch)


@pytest.mark.parametrize("name, batch", BENCH)
def test_the_estimate_bounds_the_benchmark_nets(name, batch, fuzz):
    _assert_bounds(_bench_net(name, batch), fuzz, within=EXAMPLES_OVERESTIMATE)


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


def test_a_small_plan_conv_reading_mostly_padding_is_within_the_estimate(fuzz, tmp_path):
    """A 7x7 conv of stride 50 and padding 40 on a 1x1 map: its input gradient's col2im holds
    the padded planes of a chunk of images, which the small plan's footprint left out (a step
    measured 1.87x its estimate; 0.99x counted)."""
    (tmp_path / "padded.cnn").write_text(
        "input 1x8x8\nb0: conv 4 3 stride 10\nb2: conv 1 7 pad 40 stride 50\nflatten\n"
        "out: dense 3\ntrain {\n  data shapes(size=8, classes=[x, plus, o], count=24)\n"
        "  batch 8\n}\n")
    _assert_bounds(cnnspec.load(tmp_path / "padded.cnn"), fuzz)


def test_a_conv_whose_padding_dwarfs_its_input_is_within_the_estimate(fuzz, tmp_path):
    """The fuzzer's 100000x1 kernel, "same" at stride 3 over 8 rows (150,000 rows of padding
    above and below), runs on the 8 rows and the few taps that meet them, and the estimate
    counts that part (the whole padded input counted would overestimate it many times)."""
    (tmp_path / "tall.cnn").write_text(
        "input 1x8x8\nb0: conv 8 100000x1 pad same stride 3 dilation 3 relu\nflatten\n"
        "out: dense 3\ntrain {\n  data shapes(size=8, classes=[x, plus, o], count=24)\n"
        "  batch 16\n}\n")
    _assert_bounds(cnnspec.load(tmp_path / "tall.cnn"), fuzz)


@pytest.mark.parametrize("init", ["box", "gaussian(1)", "bilinear"])
def test_a_huge_fixed_kernel_is_built_within_the_estimate(init, fuzz, tmp_path):
    """A named kernel of 100000x1 taps was built as nested lists of Python floats: building
    the model peaked at 2.4-3.2 times the step's estimate (box, gaussian, bilinear), the
    weight itself a tenth of it."""
    (tmp_path / "tall.cnn").write_text(
        f"input 1x8x8\nb0: conv 1 100000x1 pad same weight {init}\nflatten\nout: dense 3\n"
        "train {\n  data shapes(size=8, classes=[x, plus, o], count=24)\n  batch 16\n}\n")
    _assert_bounds(cnnspec.load(tmp_path / "tall.cnn"), fuzz)


def test_a_kernel_far_wider_than_its_input_is_within_the_estimate(fuzz, tmp_path):
    """A 100x100 kernel at dilation 7 over a 5x5 map meets it with none of its taps: its
    forward pass is the bias alone, its weight gradient (41 MB) a new array of zeros each
    step, which is the model's gradient the estimate counts (beside the weight and SGD's
    update). A whole training run measured twice this step, but at its end, reading best.npz
    back: copies of the weights, since left out (cnnspec.engine.model.Model.state_arrays)."""
    (tmp_path / "wide.cnn").write_text(
        "input 1x5x5\nb0: conv 32 3x3 pad same relu\n"
        "b1: conv 32 100 pad same stride 10 dilation 7\nflatten\nout: dense 2\n"
        "train {\n  data shapes(size=5, classes=[x, plus], count=24)\n  batch 8\n"
        "  optimizer sgd(momentum=0)\n}\n")
    checked = cnnspec.load(tmp_path / "wide.cnn")
    wide = next(layer for layer in checked.layers if layer.name == "b1")
    assert conv_crop(*_crop_args(wide)).empty  # the case this test is about
    _assert_bounds(checked, fuzz)


# Tiny specs of cropped convolutions (footprint.conv_crop: padding, stride or dilation far
# beyond an 8x8 map, outputs far more than the windows that meet the input) whose cropped part
# runs on a small plan, which the layer keeps from step to step (the engine once made it again
# on every forward pass while the previous step's was alive: the fuzzer's corner specs
# measured 1.04-1.24 times their estimates).
CROPPED = [
    ("conv 8 15 pad 50 stride 50 nobias", "conv 4 5 pad 10 dilation 3 nobias", 4),
    ("conv 1 5 pad same stride 50 dilation 7 relu", "conv 1 5 pad 10 dilation 2 relu", 4),
    ("conv 4 100 pad same stride 3 nobias tanh", "", 4),
]


@pytest.mark.parametrize("first, second, batch", CROPPED)
def test_a_net_of_tiny_cropped_convolutions_is_within_the_estimate(first, second, batch, fuzz,
                                                                   tmp_path):
    (tmp_path / "cropped.cnn").write_text(
        f"input 1x8x8\nb0: {first}\n" + (f"b1: {second}\n" if second else "")
        + "flatten\nout: dense 3\ntrain {\n  data shapes(size=8, classes=[x, plus, o], "
        f"count=24)\n  batch {batch}\n}}\n")
    checked = cnnspec.load(tmp_path / "cropped.cnn")
    assert any(conv_crop(*_crop_args(layer)) for layer in checked.layers
               if layer.kind == "conv")  # the case this test is about
    _assert_bounds(checked, fuzz)


def _crop_args(layer) -> tuple:
    """:func:`conv_crop`'s arguments for a checked conv layer."""
    ir = layer.ir
    return (tuple(layer.input_shapes[0][1:]), tuple(ir["kernel"]), tuple(ir["stride"]),
            tuple(layer.pads), tuple(ir["dilation"]))


# -- each layer's footprint against the layer ----------------------------------------------------

# What one layer's measurement may exceed its footprint by: its Python objects (cache tuples,
# array headers) and NumPy's casting buffers, which the step's estimate counts once.
SLACK = OBJECT_BYTES_PER_LAYER + ufunc_buffer_bytes(UFUNC_BUFFER_VALUES)


def _measure(layer, xs, dout, training=True) -> tuple[int, int, int]:
    """(forward peak, kept after forward, backward peak) in bytes allocated from before the
    forward pass (in training mode or not), the inputs and ``dout`` made beforehand."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        out = layer.forward(xs, training)
        kept, forward_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        layer.backward(dout)
        backward_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del out
    return forward_peak - start, kept - start, backward_peak - start


def _assert_footprint_bounds(layer, fp, xs, dout, training=True, limits=None) -> None:
    """The forward pass allocates at most the output, the cache, the kept buffers and the
    forward's temporaries; the backward pass on top at most the input gradients, its
    temporaries and the parameter gradients (the output held all along). ``limits``: the
    calibration patched in, for the message."""
    layer.forward(xs, training)  # once before: imports, lazily made tables
    layer.backward(dout)
    forward, kept, backward = _measure(layer, xs, dout, training)
    held = fp.out + fp.cache + fp.work + fp.back_work + fp.shared + fp.objects
    grads = sum(v.nbytes for key, v in layer.params.items() if layer.trains(key))
    assert forward <= held + fp.forward_temp + SLACK, ("forward", forward, fp, limits)
    assert kept <= held + SLACK, ("kept", kept, fp, limits)
    assert backward <= held + fp.dx + fp.backward_temp + grads + SLACK, (
        "backward", backward, fp, limits)


def test_every_kind_but_the_activations_has_its_own_footprint():
    """An activation without a rule of its own is counted as one that caches its derivative;
    any other kind needs its rule."""
    named = set(RULES) | set(WINDOW_KINDS)
    assert {name for name, kind in KINDS.items() if not kind.is_activation} <= named


@pytest.mark.parametrize("batch", [256, 1024])
@pytest.mark.parametrize("name, case", KIND_CASES)
def test_each_kinds_footprint_bounds_its_layer(name, case, batch):
    """Every kind's cases (its registry examples), at batches large enough that arrays, not
    objects, are most of what a layer allocates; a window kind's (convolutions, grouped,
    transposed and strided ones, and pools) under every limit calibration may choose, each
    on a new layer. The grouped stride-2 transposed convolution's backward pass measured 1.2
    times its footprint where the column limit cut the batch into a chunk and a shorter one
    (859 KB where 714 KB were counted): it made the last chunk's span while the first's was
    held."""
    _, ir, shapes, inferred, _ = kind_layer(name, case, "float32")
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((batch, *s)).astype(np.float32) for s in shapes]
    dout = rng.standard_normal((batch, *inferred.output)).astype(np.float32)
    fp = footprint(name, ir, shapes, tuple(inferred.output), inferred.pads, batch)
    for limits in _calibrations(every_pair=True) if name in WINDOW_KINDS else [None]:
        layer = kind_layer(name, case, "float32")[-1]
        _assert_footprint_bounds(layer, fp, xs, dout, limits=limits)


def _arrays_in(value, depth=0):
    """The arrays a layer's cache reaches: through tuples, lists, dicts and objects' fields."""
    if depth > 6 or value is None or isinstance(value, (str, bytes, int, float, bool)):
        return
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays_in(item, depth + 1)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _arrays_in(item, depth + 1)
    elif hasattr(value, "__dict__") or hasattr(value, "__slots__"):
        names = list(getattr(value, "__dict__", {})) + list(getattr(value, "__slots__", ()))
        for name in names:
            yield from _arrays_in(getattr(value, name, None), depth + 1)


@pytest.mark.parametrize("name, case", KIND_CASES)
def test_a_layer_whose_cache_holds_its_input_says_so_in_its_footprint(name, case):
    """The step's estimate keeps an input alive until backward only where the footprint's
    ``keeps_input`` says a cache holds it: a layer that holds it unsaid is under-counted by
    the whole input (a dense layer after a wide flatten, say)."""
    _, ir, shapes, inferred, layer = kind_layer(name, case, "float32")
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((64, *s)).astype(np.float32) for s in shapes]
    layer.forward(xs, True)
    held = [x for x in xs if any(np.shares_memory(a, x) for a in _arrays_in(layer.cache))]
    fp = footprint(name, ir, shapes, tuple(inferred.output), inferred.pads, 64)
    assert not held or fp.keeps_input, f"{name}'s cache holds its input"


# (C, F, H, kernel, stride, pads, dilation, batch): the tuned convolution's paths, the whole
# batch one planned chunk or chunked; columns kept or built again; dx by transposed
# convolution, col2im folded by blocks (stride 1), phase by phase (stride 2) or scattered (a
# 1x1 kernel at stride 2); no padding (the input held by the cache); Winograd's
# (cnnspec.engine.winograd), "same" and asymmetric padding; padding far wider than the input
# (only the part that reads it run: footprint.conv_crop).
CONV_GRID = [
    (2, 4, 8, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4),  # one chunk
    (8, 8, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 32),  # one chunk where columns allow
    (12, 16, 32, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 32),  # chunked, kept: dx transposed
    (64, 15, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 64),  # chunked, built again
    (16, 16, 32, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 32),  # Winograd
    (32, 24, 13, (3, 3), (1, 1), (2, 0, 1, 3), (1, 1), 40),  # Winograd, asymmetric
    (6, 16, 14, (5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 64),  # no padding; dx folded by blocks
    (3, 32, 32, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 64),  # few channels: dx folded
    (16, 32, 16, (3, 3), (2, 2), (1, 0, 1, 0), (1, 1), 64),  # stride 2: by phases
    (16, 32, 16, (5, 4), (3, 2), (2, 2, 1, 1), (1, 1), 48),  # by phases, uneven planes
    (3, 8, 17, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 64),  # thin: im2col; held: by phases
    (16, 32, 16, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 64),  # 1x1, stride 2: col2im
    (8, 8, 16, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 64),  # dilated
    (1, 1, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),  # one image
    (1, 8, 8, (2001, 1), (3, 1), (2999, 3000, 0, 0), (3, 1), 16),  # cropped: a tall kernel
    (4, 8, 8, (3, 3), (1, 1), (50, 50, 50, 50), (1, 1), 16),  # cropped: outputs of padding
    (16, 16, 8, (3, 3), (1, 1), (40, 40, 40, 40), (1, 1), 64),  # cropped, then Winograd
    (2, 4, 1, (1, 1), (3, 3), (10, 10, 10, 10), (1, 1), 8),  # no window reads the input
]


@pytest.mark.parametrize("held", [frozenset(), frozenset({"weight"})], ids=["trained", "held"])
@pytest.mark.parametrize("c, f, h, kernel, stride, pads, dilation, batch", CONV_GRID)
def test_a_convolutions_footprint_bounds_it_on_every_path(c, f, h, kernel, stride, pads,
                                                          dilation, batch, held):
    """Under every limit calibration may choose, each on a new layer; with its weight held
    (lr_mult [0, 1]), the footprint without the weight gradient's buffers and products, no
    larger than the trained layer's, still bounds what the layer allocates."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((f, c, *kernel)).astype(np.float32)
    x = rng.standard_normal((batch, c, h, h)).astype(np.float32)
    out = Conv2d(weight, np.zeros(f, np.float32), stride, pads, dilation).forward([x], True)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    ir = {"kernel": list(kernel), "stride": list(stride), "dilation": list(dilation),
          "groups": 1}
    fp = footprint("conv", ir, [(c, h, h)], out.shape[1:], pads, batch,
                   weight_grad="weight" not in held)
    trained = footprint("conv", ir, [(c, h, h)], out.shape[1:], pads, batch)
    assert fp.back_work <= trained.back_work and fp.backward_temp <= trained.backward_temp
    for limits in _calibrations(every_pair=True):
        layer = Conv2d(weight, np.zeros(f, np.float32), stride, pads, dilation)
        layer.held = held
        _assert_footprint_bounds(layer, fp, [x], dout, limits=limits)


def test_a_held_weights_footprint_keeps_nothing_for_its_gradient():
    """A layer that builds its columns again for the weight gradient (not thin: 64 x 1x1
    rows; strided, but not by phases, its kernel smaller than its stride) keeps them from its
    backward pass on; with its weight held it builds none, and check's estimate of a spec
    holding it counts none (memory._footprint reads is_trained)."""
    ir = {"kernel": [1, 1], "stride": [2, 2], "dilation": [1, 1], "groups": 1}
    args = ("conv", ir, [(64, 32, 32)], (32, 16, 16), (0, 0, 0, 0), 64)
    assert footprint(*args).back_work > 0 and footprint(*args, weight_grad=False).back_work == 0
    text = ("input 64x32x32\nc: conv 32 1x1 stride 2{}\nflatten\nout: dense 10\n"
            'train {{\n  data npz(path="unused.npz")\n  batch 64\n  cores 1\n}}\n')
    trained, held = (check(cnnspec.parse(text.format(mults))).step_memory
                     for mults in ("", " lr_mult [0, 1]"))
    assert held.work < trained.work


# A convolution of each kind whose forward pass keeps something for the weight gradient
# alone: (input, its line, batch). A thin conv that keeps its whole batch's columns (LeNet's
# first layer), a grouped one whose cache keeps its columns, a transposed one whose cache
# keeps its input channel-first.
HELD_CASES = {"thin": ("1x28x28", "conv 6 5x5 pad 2", 64),
              "grouped": ("16x16x16", "conv 16 3x3 pad 1 groups 4", 64),
              "transposed": ("8x16x16", "conv_transpose 4 4x4 stride 2 pad 1", 64)}
# trained; the weight held, the bias trained; the whole layer held
HOLDS = {"trained": "", "bias trained": " lr_mult [0, 1]", "held": " frozen"}
# One of calibration's column limits, the same on every machine: the thin layer's batch is
# many chunks (one planned chunk would keep its columns for the forward pass anyway).
HELD_LIMITS = Thresholds(chunk_bytes(), min(COLUMN_CANDIDATES), source="timed")


def _first_step(layer, xs, dout) -> tuple[int, int]:
    """(bytes kept after the forward pass, peak) of a new ``layer``'s first training step:
    the buffers it keeps from step to step included."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        out = layer.forward(xs, True)
        kept = tracemalloc.get_traced_memory()[0] - start
        layer.backward(dout)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    del out
    return kept, peak


def _held_spec(case: str, hold: str):
    """The checked spec of HELD_CASES' ``case`` with ``hold`` (of HOLDS) on its layer ``c``."""
    shape, line, batch = HELD_CASES[case]
    text = (f"input {shape}\nc: {line}{hold}\nflatten\nout: dense 2\n"
            f'train {{\n  data npz(path="unused.npz")\n  batch {batch}\n  cores 1\n}}\n')
    return check(cnnspec.parse(text))


@pytest.mark.parametrize("case", HELD_CASES)
def test_a_held_weight_keeps_nothing_for_its_gradient_and_its_step_takes_less(case,
                                                                               monkeypatch):
    """Each kind's layer, as the compiler builds it from the spec (``frozen``, ``lr_mult``:
    is_trained), against the footprint check's estimate gives it (the same rule): within
    it, and with its weight held, a first training step keeps less by what the trained layer
    keeps for its weight gradient alone (a thin conv's whole batch of columns, less the
    chunk buffers it builds them in instead; a grouped conv's columns; a transposed conv's
    input channel-first) and peaks lower by at least the weight gradient."""
    monkeypatch.setattr(conv_tuned, "thresholds", lambda: HELD_LIMITS)
    rng = np.random.default_rng(0)
    batch = HELD_CASES[case][2]
    steps, layers, estimates = {}, {}, {}
    for name, hold in HOLDS.items():
        checked = _held_spec(case, hold)
        info = checked.layers[0]
        x = rng.standard_normal((batch, *info.input_shapes[0])).astype(np.float32)
        dout = rng.standard_normal((batch, *info.output_shape)).astype(np.float32)
        fp = footprint(info.kind, info.ir, info.input_shapes, info.output_shape, info.pads,
                       batch, weight_grad=is_trained(info.ir))
        warm = cnnspec.compile(checked, seed=0)._by_name["c"].layer
        assert warm.held == (set() if name == "trained" else
                             {"weight"} if name == "bias trained" else {"weight", "bias"})
        _assert_footprint_bounds(warm, fp, [x], dout)  # after a first step: its shared buffers
        layers[name] = cnnspec.compile(checked, seed=0)._by_name["c"].layer
        steps[name] = _first_step(layers[name], [x], dout)
        estimates[name] = checked.step_memory.total
    trained = layers["trained"]
    gradient = trained.params["weight"].nbytes
    for name in ("bias trained", "held"):
        held = layers[name]
        if case == "thin":
            assert "kept_cols" in trained.work and "kept_cols" not in held.work
            instead = sum(value.nbytes for key, value in held.work.items()
                          if isinstance(value, np.ndarray) and key not in trained.work)
            kept_for_dw = trained.work["kept_cols"].nbytes - instead
        else:  # the cache's array the backward pass reads for the weight gradient alone
            kept_for_dw = {"grouped": lambda: trained.cache[1],
                           "transposed": lambda: trained.cache[0]}[case]().nbytes
        # less the objects (array headers, views) a layer may keep beside its arrays
        saved = kept_for_dw - OBJECT_BYTES_PER_LAYER
        assert steps["trained"][0] - steps[name][0] >= saved, name
        assert steps["trained"][1] - steps[name][1] >= max(gradient, saved * (case == "thin")), \
            name
        assert estimates[name] < estimates["trained"], name


def test_a_transposed_convs_bias_gradient_is_within_its_footprint():
    """64 filters over 1x1 maps at batch 1024: the bias gradient's sums (a value an image and
    filter, 256 KiB) were made after the last chunk, its columns and span still held, which
    the footprint did not count: 1.33 times it with the whole batch one chunk."""
    rng = np.random.default_rng(0)
    c, f, batch = 2, 64, 1024
    layer_args = (rng.standard_normal((c, f, 1, 1)).astype(np.float32),
                  np.zeros(f, np.float32), (1, 1), (1, 1), 1, (0, 0), (1, 1))
    x = rng.standard_normal((batch, c, 1, 1)).astype(np.float32)
    dout = rng.standard_normal((batch, f, 1, 1)).astype(np.float32)
    ir = {"kernel": [1, 1], "stride": [1, 1], "dilation": [1, 1], "groups": 1}
    fp = footprint("conv_transpose", ir, [(c, 1, 1)], (f, 1, 1), (0, 0, 0, 0), batch)
    for limits in _calibrations(every_pair=True):
        _assert_footprint_bounds(ConvTranspose2d(*layer_args), fp, [x], dout, limits=limits)


# (channels, size, batch): tiled 2x2 max pools whose input is a block or less (caffe_lenet's
# pool1 at batch 8: 360 KiB, 0.67 MiB at its forward peak, counted as 0.35 before its blocks'
# temporaries were), a little more than one, and many (whose backward pass took twice dx's
# bytes where the footprint counted 1.5 before its gradient's spread was made in C order).
POOL_GRID = [(20, 24, 8), (1, 16, 64), (3, 64, 64), (32, 32, 64)]


@pytest.mark.parametrize("c, h, batch", POOL_GRID)
def test_a_tiled_max_pools_footprint_counts_a_blocks_temporaries(c, h, batch):
    rng = np.random.default_rng(0)
    layer = Pool("max", (2, 2), (2, 2), (0, 0, 0, 0))
    x = rng.standard_normal((batch, c, h, h)).astype(np.float32)
    dout = rng.standard_normal((batch, c, h // 2, h // 2)).astype(np.float32)
    ir = {"size": [2, 2], "stride": [2, 2]}
    fp = footprint("maxpool", ir, [(c, h, h)], (c, h // 2, h // 2), (0, 0, 0, 0), batch)
    _assert_footprint_bounds(layer, fp, [x], dout)


# (shape, fused ReLU): batch norms over few values a channel (a small batch after a dense
# layer), where its vectors of one value a channel (statistics, factors, a fused ReLU's shift,
# the sums of a block) weigh as much as its tensors: without them the forward pass of one image
# with the ReLU fused took 2.6 vectors more than the footprint, the backward pass 1.3.
NORM_FEW_VALUES = [((1, 100_000), False), ((1, 100_000), True), ((2, 50_000), True),
                   ((1, 100_000, 1, 1), True), ((3, 4, 2, 2), True)]


@pytest.mark.parametrize("shape, relu", NORM_FEW_VALUES)
@pytest.mark.parametrize("training", [True, False])
def test_a_batch_norms_footprint_counts_its_channel_vectors(shape, relu, training):
    rng = np.random.default_rng(0)
    norm = BatchNorm(shape[1], np.float32)
    layer = BatchNormReLU(norm) if relu else norm
    x = rng.standard_normal(shape).astype(np.float32)
    dout = rng.standard_normal(shape).astype(np.float32)
    fp = footprint("batchnorm", {}, [shape[1:]], shape[1:], None, shape[0])
    _assert_footprint_bounds(layer, fp, [x], dout, training)


@pytest.mark.parametrize("batch", [2, 3])
@pytest.mark.parametrize("norm", ["batchnorm relu", "batchnorm"])
def test_a_batch_norm_after_a_wide_dense_layer_is_within_the_estimate(batch, norm, fuzz,
                                                                      tmp_path):
    """20000 features a batch norm at batches of 2 and 3 (check refuses a batch of 1 there):
    measured 1-5% over the estimate while the footprint left out its vectors of one value a
    channel."""
    (tmp_path / "wide.cnn").write_text(
        f"input 1x4x4\nflatten\nd: dense 20000\nbn: {norm}\nfc: dense 2\ntrain {{\n"
        f"  data shapes(size=4, classes=[x, plus], count=100)\n  batch {batch}\n}}\n")
    _assert_bounds(cnnspec.load(tmp_path / "wide.cnn"), fuzz)


def test_the_convolution_grid_crosses_the_kept_columns_limit():
    """The grid holds layers whose whole batch's columns are kept and ones that are not, and
    layers that run by Winograd's convolution and ones that do not."""
    kept = [keeps_columns(c * k[0] * k[1], c * k[0] * k[1] * b * (h // s[0]) ** 2, 4, True)
            for c, f, h, k, s, p, d, b in CONV_GRID]
    assert any(kept) and not all(kept)
    winograd = [winograd_pays(Geometry(c, h, h, f, h + p[0] + p[1] - 2,
                                                  h + p[2] + p[3] - 2, k, s, p, d), b, 4)
                for c, f, h, k, s, p, d, b in CONV_GRID]
    assert any(winograd) and not all(winograd)


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_the_split_the_estimate_counts_is_the_engines(cores, tmp_path):
    text = (SPECS / "digits.cnn").read_text().replace("train {", f"train {{\n  cores {cores}")
    (tmp_path / "digits.cnn").write_text(text)
    checked = cnnspec.load(tmp_path / "digits.cnn")
    assert cnnspec.compile(checked, seed=0).threads == cores
    parts = cores if splits(checked.ir["training"]["batch_size"], cores) else 1
    assert checked.step_memory.runtime == runtime_bytes(checked.layers, parts)


# A net whose parameters outweigh everything else a step holds: at batch 24 each activation is
# under 1% of them (24 of 3072 input features), so the traced memory counts parameter-sized
# arrays, and one more or one fewer is a whole unit.
WIDE_DENSE = """model wide
input 3x32x32
flatten
fc: dense 512
out: dense 10
train { data cifar10 }
"""


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_the_gradient_arrays_counted_are_those_a_split_step_holds_at_its_peak(parts, tmp_path):
    """check counts ``gradient_arrays(parts)`` arrays the size of the parameters; a training
    step in threads (whose arrays tracemalloc sees, the parts' included) holds at its peak,
    besides the parameters, that many: each part's gradients, their sum and the previous
    step's sum. Measured on the second step, when the first has left its gradients behind."""
    path = tmp_path / "wide.cnn"
    path.write_text(WIDE_DENSE)
    checked = cnnspec.load(path)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 24)

    def step(model):
        _, dout = model.loss(model.forward(x), y)
        model.backward(dout, input_grad=False)

    step(cnnspec.compile(checked, seed=0))  # the modules a step imports, before tracing
    tracemalloc.start()
    try:
        model = cnnspec.compile(checked, seed=0)
        model.threads, model.parts_in = parts, "threads"
        step(model)
        tracemalloc.reset_peak()
        step(model)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    parameters = sum(value.nbytes for value in model.params().values())
    assert splits(24, parts) == (parts > 1)
    assert round(peak / parameters) - 1 == gradient_arrays(parts), peak / parameters

def test_a_step_that_cannot_fit_is_an_error_at_the_heaviest_layer(tmp_path, capsys):
    spec = tmp_path / "huge.cnn"
    spec.write_text("input 1x8x8\nconv1: conv 8 3x3 pad same relu\n"
                    "wide: conv 512 3x3 pad same relu\nflatten\ndense 10\n")
    memory = cnnspec.load(spec).step_memory
    limit = memory.runtime + memory.total // 2  # room for the process, not for the step
    with pytest.raises(SpecErrors) as info:
        cnnspec.load(spec, max_memory=limit)
    (error,) = info.value.errors
    assert error.span.line == 3 and "would need up to about" in error.message
    assert f"more than the {bytes_text(limit)} limit set" in error.message
    assert "'wide'" in error.message and bytes_text(memory.runtime) in error.message
    # Room for it: no error; most of the room: a warning.
    assert cnnspec.load(spec, max_memory=1 << 30).warnings == []
    warned = cnnspec.load(spec, max_memory=int(memory.process * 1.5)).warnings
    # the share said as it is (it said "over half" of 97%), never rounded up to 100%
    assert any(f"at batch {memory.batch_size} (" in w.message and "), 66% of the " in w.message
               for w in warned)
    warned = cnnspec.load(spec, max_memory=memory.process + 1).warnings
    assert any("), 99% of the " in w.message for w in warned)
    assert main(["check", str(spec), "--max-memory", str(limit)]) == 2
    err = capsys.readouterr().err
    assert "huge.cnn:3:1: error: training would need" in err and "hint:" in err


def test_a_batch_too_large_for_the_memory_is_the_error_and_the_hint_names_one_that_fits(
        tmp_path, capsys):
    """A network that trains at a usual batch but not at the spec's: the error is located at
    the batch, and names the largest power of two whose step stays within the share check
    warns above; that batch checks clean under the same limit, twice it does not."""
    import re

    from cnnspec.check.memory import FITTING_BATCH, WARN_SHARE

    body = ("input 1x32x32\nconv 16 3x3 pad same relu\nconv 16 3x3 pad same relu\n"
            "flatten\ndense 10\ntrain {{\n  data shapes(size=32, count=5000)\n  batch {}\n}}\n")
    spec = tmp_path / "wide.cnn"
    spec.write_text(body.format(4096))
    memory = cnnspec.load(spec).step_memory
    limit = memory.runtime + memory.total // 2
    assert main(["check", str(spec), "--max-memory", str(limit)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:8:3: error: training would need up to about" in err
    assert "    batch 4096\n    ^^^^^^^^^^\n" in err
    suggested = int(re.search(r"hint: `batch (\d+)` fits, about ", err).group(1))
    assert suggested >= FITTING_BATCH and suggested & (suggested - 1) == 0  # a power of two
    assert "or use fewer filters or units, more stride or pooling early;" in err
    spec.write_text(body.format(suggested))
    fits = cnnspec.load(spec, max_memory=limit)
    assert fits.warnings == [] and fits.step_memory.process <= WARN_SHARE * limit
    spec.write_text(body.format(2 * suggested))
    assert cnnspec.load(spec, max_memory=limit, strict=False).step_memory.process \
        > WARN_SHARE * limit


def test_a_network_too_large_for_a_usual_batch_is_the_error_at_its_heaviest_layer(tmp_path,
                                                                                     capsys):
    """Where only a batch below FITTING_BATCH fits, the network is what is too large: the
    error stays at its heaviest layer, naming the batch that fits; where not one image fits,
    no batch is named."""
    import re

    from cnnspec.check.memory import FITTING_BATCH

    spec = tmp_path / "wide.cnn"
    spec.write_text("input 1x32x32\nwide: conv 256 3x3 pad same relu\nflatten\ndense 10\n"
                    "train {\n  data shapes(size=32, count=200)\n  batch 64\n  cores 1\n}\n")
    at_one = cnnspec.load(spec).step_memory
    per_image = (at_one.activations + at_one.work) // 64
    limit = at_one.process - (at_one.activations + at_one.work + at_one.slack) + 6 * per_image
    assert main(["check", str(spec), "--max-memory", str(limit)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:2:" in err and "of the layers, 'wide" in err
    suggested = int(re.search(r"hint: `batch (\d+)` fits", err).group(1))
    assert 1 <= suggested < FITTING_BATCH
    assert main(["check", str(spec), "--max-memory", str(at_one.runtime + at_one.data
                                                          + at_one.parameters + 1)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:2:" in err and "` fits" not in err


def test_a_batch_beyond_the_data_is_estimated_at_all_the_data_s_images(tmp_path, capsys,
                                                                        monkeypatch):
    """A step holds at most every image of the data (each epoch one step): `batch 5000000`
    on the 1,797 digits is estimated at 1,797, which fits; the memory message says so; an
    npz file's images count once it is read."""
    spec = tmp_path / "net.cnn"
    body = "input 1x8x8\nconv 8 3 relu\nflatten\ndense 10\ntrain {{\n  {}\n  batch 5000000\n}}\n"
    spec.write_text(body.format("data digits"))
    checked = cnnspec.load(spec)
    assert checked.step_memory.batch_size == 1797
    assert main(["check", str(spec)]) == 0
    capsys.readouterr()
    limit = checked.step_memory.process + 1
    assert main(["check", str(spec), "--max-memory", str(limit)]) == 0
    assert ("; a step holds all 1,797 images of the data, fewer than the batch of 5,000,000 "
            "[memory-use]\n" in capsys.readouterr().err)
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.zeros((40, 1, 8, 8), np.float32), y=np.arange(40) % 10)
    spec.write_text(body.format('data npz("d.npz")'))
    assert main(["check", str(spec)]) == 0
    assert main(["train", str(spec), "--epochs", "1", "--out", "run", "--quiet"]) == 0


def test_a_batch_train_s_command_line_gave_is_answered_with_the_option(tmp_path, capsys,
                                                                       monkeypatch):
    """train --batch-size too large for the memory: the batch that fits is said as the
    option that set it, not as the spec's setting."""
    from cnnspec.check import memory

    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nconv 64 3x3 pad same relu\nflatten\ndense 10\n")
    process = cnnspec.load(spec).step_memory.process
    monkeypatch.setattr(memory, "machine_memory", lambda: int(1.1 * process))
    assert main(["train", str(spec), "--batch-size", "1500", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "hint: `--batch-size " in err and "` fits, about " in err
    assert not (tmp_path / "r").exists()


def test_a_batch_the_library_was_given_is_answered_as_its_setting(tmp_path, monkeypatch):
    """train(settings=Settings(batch_size=...)): the hint said `--batch-size N` fits, an
    option the library has not."""
    from cnnspec.check import memory
    from cnnspec.errors import SpecErrors

    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nconv 64 3x3 pad same relu\nflatten\ndense 10\n")
    process = cnnspec.load(spec).step_memory.process
    monkeypatch.setattr(memory, "machine_memory", lambda: int(1.1 * process))
    with pytest.raises(SpecErrors) as info:
        cnnspec.train(spec, cnnspec.Settings(batch_size=1500), tmp_path / "r")
    (error,) = info.value.errors
    assert error.hint.startswith("`batch_size=") and "` fits, about " in error.hint
    assert "--" not in error.hint
    assert error.worded_hint(OPTION_NAMES).startswith("`--batch-size ")
    assert not (tmp_path / "r").exists()


def test_a_recording_that_weighs_most_is_answered_as_the_caller_records(tmp_path):
    """The hint said "train without --stats" to the library too (whose setting is
    stats_every)."""
    import dataclasses

    from cnnspec.check.memory import memory_problems

    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nconv 8 3x3 relu\nflatten\ndense 10\ntrain {\n  cores 1\n}\n")
    checked = cnnspec.load(spec)
    memory = checked.step_memory
    recorded = dataclasses.replace(memory, recording=4 * (memory.total + memory.slack))
    (error,) = memory_problems(checked.spec, recorded, memory.process + memory.recording)
    assert error.hint.startswith("train without stats_every, or with a smaller batch")
    assert error.worded_hint(OPTION_NAMES).startswith("train without --stats, or with")


def test_time_names_the_largest_batch_option_that_fits(tmp_path, capsys, monkeypatch):
    """`cnnspec time --batch-size N` beyond the memory: the hint names the --batch-size that
    fits."""
    from cnnspec.check import memory

    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nconv 16 3x3 pad same relu\nflatten\ndense 10\n")
    process = cnnspec.load(spec).step_memory.process
    monkeypatch.setattr(memory, "machine_memory", lambda: 2 * process)
    assert main(["time", str(spec), "--batch-size", "100000", "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert "error: timing a step would need up to about" in err
    assert "hint: `--batch-size " in err and "` fits, about " in err and "or use fewer" not in err


def test_init_report_names_its_batch_as_the_caller_gives_it(tmp_path, capsys, monkeypatch):
    """init_report's batch is its batch_size=, the command's --batch-size (as train's): the
    batch that fits, and the smaller batch a warning asks for, are named so."""
    from cnnspec.check import memory
    from cnnspec.cli import OPTION_NAMES
    from cnnspec.errors import SpecErrors
    from cnnspec.lab.report import init_report

    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nconv 16 3x3 pad same relu\nflatten\ndense 10\n")
    checked = cnnspec.load(spec)
    monkeypatch.setattr(memory, "machine_memory", lambda: 2 * checked.step_memory.process)
    with pytest.raises(SpecErrors) as info:
        init_report(spec, batch_size=100000, input_kind="gaussian")
    (error,) = info.value.errors
    assert error.hint.startswith("`batch_size=") and "` fits, about " in error.hint
    names = OPTION_NAMES
    assert error.worded_hint(names).startswith("`--batch-size ")
    assert main(["init-report", str(spec), "--batch-size", "100000", "--input", "gaussian"]) == 2
    assert "\nhint: `--batch-size " in capsys.readouterr().err
    task = memory.Task("measuring the network", memory.SMALLER_BATCH,
                       batch_setting="batch_size", spec_batch=False)
    step = checked.step_memory
    (warning,) = memory_problems(checked.spec, step, int(1.5 * step.process), task)
    assert warning.hint.endswith("run out of memory; a smaller batch_size")
    assert warning.worded_hint(names).endswith("run out of memory; a smaller --batch-size")


def test_a_limit_below_what_the_process_itself_takes_is_said_to_be_the_problem(tmp_path):
    """No smaller net or batch fits in 8 MiB: the error says what the process takes and
    does not send the user to shrink the net."""
    with pytest.raises(SpecErrors) as info:
        cnnspec.load(SPECS / "digits.cnn", max_memory=8 << 20)
    (error,) = info.value.errors
    assert "for Python, its libraries and their buffers alone" in error.message
    assert "more than the 8.0 MiB limit set" in error.message
    assert error.span is None  # no line of the spec is the problem
    assert "cannot be met" in error.hint and "fewer filters" not in error.hint


def test_a_data_set_that_outweighs_the_step_is_the_error_and_the_hint(tmp_path, capsys):
    """200,000 shapes of 32x32 (GiBs in memory) beside a net of a few KiB: the error is
    located at the data line and sends the user to fewer images, not to fewer filters; a
    heavy net beside the same data is still the net's error."""
    spec = tmp_path / "many.cnn"
    body = ("input 1x32x32\n{}\nflatten\ndense 10\n"
            "train {{\n  data shapes(count=200000, size=32)\n}}\n")
    spec.write_text(body.format("conv 4 3x3 stride 4 relu"))
    memory = cnnspec.load(spec).step_memory
    assert memory.data > 100 * memory.total
    for limit, severity in ((memory.process - 1, "error"), (memory.process + 1, "warning")):
        found = memory_problems(cnnspec.load(spec).spec, memory, limit)
        assert [e.severity for e in found] == [severity]
        assert found[0].span.line == 6, found[0]
        assert "a lower shapes count" in found[0].hint and "fewer filters" not in found[0].hint
    assert main(["check", str(spec), "--max-memory", str(memory.process - 1)]) == 2
    assert "beside Python and its libraries, the data set weighs most" in capsys.readouterr().err
    spec.write_text(body.format("wide: conv 4096 3x3 pad same"))
    memory = cnnspec.load(spec).step_memory
    (error,) = memory_problems(cnnspec.load(spec).spec, memory, memory.process - 1)
    assert error.span.line == 2 and "fewer filters" in error.hint


def test_a_limit_that_python_and_its_libraries_fill_is_not_said_to_be_exceeded(tmp_path):
    """Under `ulimit -v` 280 MiB (two cores) check said training "needs about 120.0 MiB for
    Python, its libraries and their buffers alone, more than the 120.0 MiB this process may
    use": a limit they fill exactly leaves the network nothing, and is said so."""
    spec = tmp_path / "s.cnn"
    spec.write_text("input 1x8x8\nflatten\ndense 10\n")
    checked = cnnspec.load(spec)
    memory = checked.step_memory
    (filled,) = memory_problems(checked.spec, memory, memory.runtime)
    assert filled.message.endswith(f"alone, all of the {bytes_text(memory.runtime)} limit set")
    (beyond,) = memory_problems(checked.spec, memory, memory.runtime - 1)
    assert ", more than the " in beyond.message


def test_summary_summarises_a_spec_too_large_to_train_here(tmp_path, capsys, monkeypatch,
                                                           started_from_venv):
    """The memory error's hint sends the user to `cnnspec summary` (named as the program was
    started): it must not refuse the spec for the same reason; it says the problem in a
    warning and prints the table."""
    spec = tmp_path / "huge.cnn"
    spec.write_text("input 1x8x8\nwide: conv 512 3x3 pad same\nflatten\ndense 10\n")
    process = cnnspec.load(spec).step_memory.process
    assert main(["check", str(spec), "--max-memory", str(process - 1)]) == 2
    assert "`.venv/bin/cnnspec summary` lists what each layer holds" in capsys.readouterr().err
    from cnnspec.check import memory

    monkeypatch.setattr(memory, "machine_memory", lambda: process - 1)
    assert main(["summary", str(spec)]) == 0
    captured = capsys.readouterr()
    assert "warning: training would need up to about" in captured.err
    assert f"Training process memory: up to about {bytes_text(process)}" in captured.out
    # drawn and exported (to be trained elsewhere) too; the warning stays with the spec
    assert main(["diagram", str(spec), "-o", str(tmp_path / "huge.dot")]) == 0
    assert main(["export", str(spec), "--format", "json", "-o", str(tmp_path / "h.json")]) == 0
    assert any("training would need" in w.message
               for w in cnnspec.load(spec, for_training=False).warnings)


def test_a_thousand_times_too_many_filters_is_refused_by_check_without_allocating(tmp_path):
    """677M parameters: refused in check on any machine of today, in well under a second."""
    spec = tmp_path / "big.cnn"
    spec.write_text("input 1x28x28\nconv 100000 3x3\nflatten\ndense 10\n"
                    "train {\n  data mnist\n}\n")
    with pytest.raises(SpecErrors, match="would need up to about|more values than"):
        cnnspec.load(spec)


def test_a_dilation_whose_padding_is_huge_runs_on_the_input_alone(tmp_path, fuzz):
    """`pad same` with dilation 20000 pads an 8x8 input to about 40000x40000 per image, and
    was refused for it (over 16 GiB); only the centre tap meets the input, and the layer runs
    on that alone (footprint.conv_crop), in well under a MiB. (A net this small is estimated
    at about twice its step: the cropped conv's footprint counts a fused ReLU's masked
    gradient, which this conv has not.)"""
    spec = tmp_path / "dilated.cnn"
    spec.write_text("input 1x8x8\nconv 1 3x3 pad same dilation 20000\nflatten\ndense 10\n")
    checked = cnnspec.load(spec, max_memory=16 << 30)
    assert checked.step_memory.total < 1 << 20
    assert fuzz.measured_step(checked) <= checked.step_memory.total


def test_summary_shows_the_step_memory(capsys):
    assert main(["summary", str(SPECS / "digits.cnn")]) == 0
    out = capsys.readouterr().out
    assert "Training step memory: at most about" in out and "at batch 32" in out
    memory = cnnspec.load(SPECS / "digits.cnn").step_memory
    assert f"Training process memory: up to about {bytes_text(memory.process)}" in out
    assert memory.process == (memory.total + memory.data + memory.runtime + memory.slack
                              + memory.calibration + memory.ending)
    assert min(memory.data, memory.runtime, memory.slack, memory.ending) > 0
    assert (f"{bytes_text(memory.ending)} to save and read back the weights as it ends"
            in " ".join(out.split()))


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


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_each_optimizer_holds_the_arrays_the_estimate_counts(name, weight_decay):
    """The arrays the size of all the parameters an optimizer holds after two steps, packed
    (state, update, gathered gradients, weight decay's scratch), are what optimizer_arrays
    counts from its record; traced, beside a few hundred bytes of views and step counts.
    AdamW's decay, which shrinks the weights (its rule's decoupled_decay), makes no scratch:
    the estimate counted one."""
    params = {"w": np.zeros((100, 300), np.float32), "b": np.zeros(2000, np.float32)}
    grads = {key: np.ones_like(value) for key, value in params.items()}
    values = sum(value.size for value in params.values())
    for args in _argument_grid(OPTIMIZERS[name]):
        tracemalloc.start()
        optimizer = make_optimizer({"name": name, **args}, weight_decay=weight_decay)
        for _ in range(2):
            optimizer.step(params, grads, 0.01)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert optimizer._packs
        training = {"optimizer": {"name": name, **args}, "weight_decay": weight_decay}
        arrays = optimizer_arrays(training)
        assert arrays * values * 4 <= held < arrays * values * 4 + 16384, (
            name, args, held / (values * 4))


def test_training_in_float64_is_refused_where_only_float32_fits(monkeypatch):
    """The check before a run sizes the step in the run's dtype: a machine that holds the
    float32 step but not the float64 one refuses the float64 run before it starts."""
    from cnnspec.check import memory
    from cnnspec.training.api import checked_with_overrides

    spec = SPECS / "lenet5.cnn"
    single = check(read_spec(str(spec))).step_memory.process
    double = check(read_spec(str(spec)), dtype="float64").step_memory.process
    monkeypatch.setattr(memory, "machine_memory", lambda: (single + double) // 2)
    assert checked_with_overrides(spec, {}).step_memory.process == single
    with pytest.raises(SpecErrors, match="training would need"):
        checked_with_overrides(spec, {}, "float64")


def test_an_npz_files_data_is_said_to_be_left_out_not_to_weigh_nothing(tmp_path, capsys):
    """The checker (summary's figure) does not read an npz file: it leaves the data out, and
    says so."""
    spec = tmp_path / "mine.cnn"
    spec.write_text('input 1x8x8\nconv 4 3x3\nflatten\ndense 10\n'
                    'train {\n  data npz(path="mine.npz")\n}\n')
    memory = cnnspec.load(spec).step_memory
    assert memory.data == 0
    assert main(["summary", str(spec)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # its lines wrapped to 100 columns
    assert "the npz file's data uncounted until it is read" in out and "0 B" not in out
    (warning,) = memory_problems(cnnspec.load(spec).spec, memory, memory.process + 1)
    assert "uncounted" in warning.message and "0 B of data" not in warning.message


# The timer of each limit calibration times (chunking.CALIBRATION_TIMERS), given that table's
# candidates, one timed round (the untimed one before it makes every buffer).
TIMERS = {"chunk_columns": lambda candidates: conv_tuned.time_columns(chunk_bytes(), candidates,
                                                                      rounds=1),
          "winograd_bytes": lambda candidates: conv_tuned.time_winograd(candidates, rounds=1),
          "block_bytes": lambda candidates: conv_tuned.time_blocks(candidates, rounds=1)}


@pytest.mark.parametrize("limit, layers, candidates", CALIBRATION_TIMERS,
                         ids=[limit for limit, _, _ in CALIBRATION_TIMERS])
def test_a_calibration_timers_figure_bounds_what_it_holds(limit, layers, candidates):
    """The memory check counts for a machine's first calibration against each timer's
    traced peak: at least that, and not far above it."""
    from cnnspec.engine.footprint import calibration_bytes, timer_bytes

    tracemalloc.start()
    try:
        # In a thread of its own, as a process's first calibration: the buffers the engine
        # shares between layers of one geometry are per thread (windows.shared_work), and an
        # earlier test's layers of the timers' geometries still alive in this thread would lend
        # theirs, made before tracing began (the traced peak then half the figure).
        with ThreadPoolExecutor(1) as fresh:
            fresh.submit(TIMERS[limit], candidates).result()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    figure = timer_bytes(layers, len(candidates))
    assert peak <= figure <= 1.25 * peak, (peak / 2**20, figure / 2**20)
    assert figure <= calibration_bytes()


def test_a_first_run_counts_the_calibration_once_and_says_so(cache_home, tmp_path, capsys):
    """A spec with a convolution, where the machine's thresholds are not kept yet: its
    process counts the timers' arrays once (its parts' workers are forked after them), and
    summary says what they are; a spec without one, or a machine that keeps them, none."""
    from cnnspec.engine import calibrate
    from cnnspec.engine.footprint import calibration_bytes

    first = cnnspec.load(SPECS / "lenet5.cnn").step_memory
    assert first.calibration == calibration_bytes()
    assert main(["summary", str(SPECS / "lenet5.cnn")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (f"{bytes_text(first.calibration)} to time this machine's convolution limits on "
            "its first run)") in out
    dense = tmp_path / "dense.cnn"
    dense.write_text("input 1x8x8\nflatten\ndense 10\ntrain {\n  data digits\n}\n")
    assert cnnspec.load(dense).step_memory.calibration == 0
    def same_speed(*args):  # a stand-in timer: every candidate (the last argument) as fast
        return dict.fromkeys(args[-1], 1.0)

    calibrate.thresholds(same_speed, same_speed, same_speed)  # kept now
    kept = cnnspec.load(SPECS / "lenet5.cnn").step_memory
    assert kept.calibration == 0 and kept.process == first.process - first.calibration
    assert main(["summary", str(SPECS / "lenet5.cnn")]) == 0
    assert "first run" not in capsys.readouterr().out


def test_time_calibrate_counts_the_calibration_though_the_thresholds_are_kept(
        cache_home, tmp_path, capsys, monkeypatch):
    """`time --calibrate` measures the thresholds again whatever is kept: its memory check
    counted the timers' arrays only where none were kept, and so let a machine whose memory
    held the step but not the timers beside it run out of it."""
    from cnnspec.check import memory
    from cnnspec.check.memory import measuring_estimate
    from cnnspec.engine import calibrate
    from cnnspec.engine.footprint import calibration_bytes

    def same_speed(*args):  # a stand-in timer: every candidate (the last argument) as fast
        return dict.fromkeys(args[-1], 1.0)

    calibrate.thresholds(same_speed, same_speed, same_speed)  # kept now
    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nconv 4 3x3 relu\nflatten\ndense 10\n")
    checked = cnnspec.load(spec, for_training=False)
    timed = measuring_estimate(checked.spec, checked.layers, 64, "float32", recording=False,
                               data=False, whole=True)
    assert timed.calibration == 0  # kept: no first run times them
    # room for the timed step, not for the timers' arrays beside it
    monkeypatch.setattr(memory, "machine_memory",
                        lambda: timed.process + calibration_bytes() // 2)
    assert main(["time", str(spec), "--iterations", "1", "--format", "json"]) == 0
    capsys.readouterr()

    def unasked():
        raise AssertionError("recalibrated where the memory check should have refused")

    monkeypatch.setattr(conv_tuned, "recalibrate", unasked)
    assert main(["time", str(spec), "--iterations", "1", "--calibrate"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "error: timing a step would need up to about" in err
    assert (f"{bytes_text(calibration_bytes())} to time this machine's convolution limits "
            "again") in err


def test_the_layers_check_counts_a_calibration_for_are_those_the_engine_calibrates(tmp_path):
    """check's rule (footprint.calibrated) against each compiled layer's ``calibrated``: a
    convolution, a grouped one, a transposed one, and layers of other kinds."""
    from cnnspec.engine.footprint import calibrated

    spec = tmp_path / "kinds.cnn"
    spec.write_text("input 1x8x8\nplain: conv 4 3x3 pad same\ngrouped: conv 4 3x3 groups 2\n"
                    "up: conv_transpose 4 2x2 stride 2\nbn: batchnorm\nmaxpool 2\nflatten\n"
                    "dense 10\ntrain {\n  data digits\n}\n")
    checked = cnnspec.load(spec)
    engine = {node.name: node.layer.calibrated
              for node in cnnspec.compile(checked, seed=0).nodes}
    said = {info.name: calibrated(info.kind, info.ir) for info in checked.layers}
    assert said == engine
    assert said["plain"] and said["up"] and not said["grouped"] and not said["bn"]
