"""The memory one training step needs, estimated before anything is allocated.

``check`` refuses a spec whose step would not fit in the machine's memory (or a limit the user
sets) and warns when it takes most of it; ``summary`` shows the figure. Everything is float32
(4 bytes a value) at the spec's batch size B, which the engine runs as parts where
:func:`cnnspec.engine.splitting.splits` says so, the first in the training process and the
others in worker processes or threads (each part's arrays are its own):

- parameters: the weights, their gradients (each part's, and their sum when the batch is
  split), the optimizer's state (as many arrays per parameter as its record in
  :mod:`cnnspec.ir.training_catalogue` declares) and its work arrays (:func:`optimizer_arrays`),
  all kept from one step to the next; with the parts in worker processes, the memory they share
  with the training process (the parameters once more, each worker's gradients) and each
  worker's own copy of the arrays the training process rewrites after forking it
  (:func:`worker_values`);
- work: the buffers each layer of each part keeps from one step to the next (a convolution's
  padded input, im2col columns and gradient buffers), as
  :mod:`cnnspec.engine.footprint` declares them;
- activations: the most that is alive at once while a part runs its forward and backward
  passes (:func:`part_peak`): a liveness walk over the layers in order, in which an output
  lives until the last layer that reads it has run or the last cache that holds it is freed,
  a cache from its layer's forward until its backward (a convolution's to the next step),
  each value's gradient from its first consumer's backward to its own layer's, and each
  pass's temporaries while it runs; besides that, the Python objects of the model and its
  layers (a few KiB each: what a net of tiny layers mostly holds).

Beside the step's arrays a training process holds its own code and libraries, what
BLAS and the allocator keep (:func:`runtime_bytes`), on a machine's first run the timers
that calibrate its convolutions (:func:`calibrating_bytes`), and its data set
(:func:`data_bytes`; an npz file's, which the checker does not read, is counted once the
file is read, by the ``check`` command and by the trainer, :func:`with_loaded_data`), and
as a run saves its weights and ends, its weights once more (:func:`ending_bytes`):
``check`` refuses a spec
whose whole process (:attr:`MemoryEstimate.process`) would not fit.

The estimate bounds a step from above: where the engine's choice depends on the data or the
machine, the footprints take the larger case. tests/test_memory.py measures the real peak of
a training step (NumPy's allocations, with tracemalloc) against it: at least the measurement
and at most :data:`OVERESTIMATE` times it, on the example specs and the benchmark nets in
float32 at most :data:`EXAMPLES_OVERESTIMATE` times.
``tools/fuzz.py`` measures hundreds of mutated specs the same way.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
from pathlib import Path

from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.dtypes import DEFAULT_DTYPE, VALUE_BYTES
from cnnspec.engine.chunking import calibrates_on_first_use, calibration_off
from cnnspec.engine.footprint import (
    FOOTPRINT_FIELDS,
    Footprint,
    calibrated,
    calibration_bytes,
    footprint,
    keeps_logits,
    ufunc_buffer_bytes,
    winograd_keepers,
)
from cnnspec.engine.splitting import splits, usable_cores
from cnnspec.errors import LimitError, SpecError, SpecErrors, library_worded, literal
from cnnspec.ir.datasets import canonical_name, example_count, image_shape
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import OPTIMIZERS, is_trained
from cnnspec.kinds import KINDS
from cnnspec.records import record

BYTES_PER_VALUE = VALUE_BYTES[DEFAULT_DTYPE]  # the default dtype's
OVERESTIMATE = 2  # the factor the estimate may exceed a measured step by (tested)
# ... on the example specs and the benchmark nets in float32 (tested): their layers are the
# usual ones, where the footprints follow the engine closely
EXAMPLES_OVERESTIMATE = 1.5
WARN_SHARE = 0.5  # warn when a step takes more than this share of the limit
INPUT = "input"  # the value the network's input is named by


@record(frozen=True)
class MemoryEstimate:
    """Bytes of one training step, by what holds them, and the layer that weighs most."""

    parameters: int  # weights, gradients and optimizer state
    activations: int  # alive at once in the forward and backward passes
    work: int  # the layers' kept work buffers
    heaviest: str  # the layer whose output, cache and buffers are largest
    batch_size: int
    runtime: int = 0  # the process's code, libraries and their buffers (runtime_bytes)
    slack: int = 0  # what the allocator keeps beside the arrays (ALLOCATOR_SLACK)
    data: int = 0  # the data set, loaded and prepared (data_bytes)
    itemsize: int = BYTES_PER_VALUE  # the bytes of one of the model's values
    recording: int = 0  # the outputs and gradients a recorded step keeps (recording_bytes)
    # what running the batch as the spec's `cores` parts adds to running it whole in one
    # process (its replicas, workers and their buffers), where the parts weigh more
    split_extra: int = 0
    calibration: int = 0  # timing the machine's limits at the first step (calibrating_bytes)
    ending: int = 0  # the weights once more at a training run's end (ending_bytes)

    @property
    def total(self) -> int:
        """The step's arrays."""
        return self.parameters + self.activations + self.work

    @property
    def process(self) -> int:
        """The resident memory of a process that trains the spec: the step's arrays and the
        runtime around them."""
        return (self.total + self.slack + self.runtime + self.data + self.recording
                + self.calibration + self.ending)


def optimizer_buffers(training: dict) -> int:
    """Arrays the spec's optimizer keeps per parameter array (as its catalogue record declares),
    the weight decay's scratch copy of the gradient where the decay joins the gradient (not
    where it shrinks the weights: its update rule's ``decoupled_decay``), and the clipped copy
    of the gradients when they are clipped."""
    optimizer = training["optimizer"]
    entry = OPTIMIZERS[optimizer["name"]]
    kept = entry.state_arrays(optimizer)
    decays = training.get("weight_decay", 0.0) > 0
    decay_scratch = 1 if decays and not entry.rule.decoupled_decay else 0
    clipped = 1 if training.get("clip_norm") or training.get("clip_value") else 0  # a copy
    return kept + decay_scratch + clipped


def gradient_arrays(parts: int) -> int:
    """Arrays the size of the trainable parameters that hold gradients in a step run as
    ``parts`` parts: each part's (a replica keeps the ones its backward returned until its
    next backward) and, when there are several, their sum (:mod:`cnnspec.engine.parallel`
    sums them into new arrays), the previous step's sum alive until the new one replaces it
    at the end of the backward pass."""
    return parts + 2 if parts > 1 else 1


def worker_values(total: int, trainable: int, training: dict, parts: int) -> int:
    """Values that running a split batch's parts after the first in worker processes
    (:mod:`cnnspec.engine.processes`) adds for a model of ``total`` parameters, ``trainable``
    of them trained: the memory shared with the workers (the parameters, copied in before each
    step, and each worker's gradients), and in each worker the parameters and optimizer state
    as they were when it was forked, which it keeps while the training process rewrites
    them. Counted wherever the parts could run in threads instead (an upper bound there)."""
    workers = parts - 1
    shared = total + trainable * workers
    return shared + workers * (total + trainable * optimizer_arrays(training))


def optimizer_arrays(training: dict) -> int:
    """Arrays the size of the trainable parameters the optimizer holds: its state and
    scratch (:func:`optimizer_buffers`), its update and its packed step's gathered gradients
    (as its update rule counts them, :mod:`cnnspec.update_rules`)."""
    optimizer = training["optimizer"]
    rule = OPTIMIZERS[optimizer["name"]].rule
    return optimizer_buffers(training) + rule.update_arrays(optimizer)


# The Python objects of a step beyond its arrays' values: the model's and optimizer's (BASE),
# and each layer's node, caches and array headers (measured 1-3.1 KiB; dense layers, with two
# parameters and their gradient, state and update arrays, the most: 61 layers of two units,
# batch 1, 215 KiB in all, with no earlier model alive to free its objects meanwhile), for the
# model and, when the batch is split, each part's replica.
OBJECT_BYTES_BASE = 16 << 10
OBJECT_BYTES_PER_LAYER = 4 << 10


# What a training process holds besides the arrays, in resident memory, measured on an Intel
# Xeon (Python 3.11, NumPy 2.4.6 with OpenBLAS 0.3.31, matplotlib 3) and rounded up:
# Python with NumPy, its BLAS and cnnspec loaded: 32 MiB when training starts (NUMPY_BYTES);
# with matplotlib, which draws the curves when it ends, 71 MiB.
PROCESS_BYTES = 80 << 20
NUMPY_BYTES = 32 << 20
# A worker process running a part of a split batch (cnnspec.engine.processes), beyond its
# part's arrays and its BLAS buffer: the pages of the forked interpreter it writes to
# (reference counts, its modules' state), 5.6 MiB measured on a small net (Intel Xeon, Python
# 3.11, NumPy 2.4.6).
WORKER_PROCESS_BYTES = 8 << 20
# OpenBLAS packs a product's operands into a buffer of its own for each thread that calls it,
# kept for the process's life: 8.0 MiB for float32 products of 4096 x 4096 matrices, 12.9 MiB
# for float64 (smaller products touch less of it). Each part of a split batch runs its
# products in a thread of its own.
BLAS_BUFFER_BYTES = 16 << 20
# Memory the allocator keeps for reuse instead of returning it, a share of the arrays: 8-10% of
# the traced peak measured on vgg_small (tools/nets.py) at one and two threads.
ALLOCATOR_SLACK = 0.15
# The resident memory of a module a layer kind's engine op imports on first use (Kind.libraries;
# 12.6-14.8 MiB measured, with and without matplotlib loaded first).
LIBRARY_BYTES = {"scipy.special": 16 << 20}


def calibrating_bytes(layers: list[LayerInfo]) -> int:
    """What timing the machine's convolution limits adds to a process that trains ``layers``,
    where they are not kept yet (:mod:`cnnspec.engine.calibrate`): the timers' arrays
    (:func:`cnnspec.engine.footprint.calibration_bytes`), once, however many parts the batch
    runs as (the parts' threads wait for one timing, their worker processes are forked after
    it). The timers run at the first convolution of the first step, or before the workers
    are forked, on top of the parameters and the data; they free their arrays before the
    step's layers make theirs, but the step's arrays are counted beside them all the same
    (an upper bound: the allocator may keep the timers' memory). Once: the training process
    gives what they freed back to the system before it forks the workers, which would
    otherwise keep it too, as they write over it (:mod:`cnnspec.engine.processes`)."""
    if not any(calibrated(info.kind, info.ir) for info in layers) \
            or not calibrates_on_first_use():
        return 0
    return calibration_bytes()


def recalibrating_bytes() -> int:
    """What measuring the machine's convolution limits again (``time --calibrate``,
    :func:`cnnspec.engine.conv_tuned.recalibrate`) adds to a process: the timers' arrays, as
    :func:`calibrating_bytes` counts them, whatever limits are kept and whatever layers the
    network has; nothing where calibration is switched off (the recalibration is refused)."""
    return 0 if calibration_off() else calibration_bytes()


def runtime_bytes(layers: list[LayerInfo], parts: int) -> int:
    """What training ``layers`` in ``parts`` parts holds beside its arrays: the interpreter and
    libraries, the modules the layers' kinds load, a BLAS buffer per part and, for each part
    after the first, a worker process's own pages."""
    libraries = {name for info in layers for name in KINDS[info.kind].libraries(info.ir)}
    return (PROCESS_BYTES + sum(LIBRARY_BYTES[name] for name in libraries)
            + BLAS_BUFFER_BYTES * parts + WORKER_PROCESS_BYTES * (parts - 1))


# A data set in memory, per byte of its images as loaded (in the run's dtype: a float64 run's
# are scaled in float64) and int64 labels: the loaded set (kept for the whole run) and the
# copies prepared from it (train, validation, test), or the peak while it is drawn or read,
# whichever is more. Measured (resident memory over the process's before loading): shapes
# 2.4x-2.8x while drawing (the small sets' fixed costs weigh most), 2.0x held once prepared,
# in float32 and float64 alike; CIFAR-10 2.0x, its archive read at 1.25x.
DATA_IN_MEMORY = 3.0


def data_bytes(data: dict, itemsize: int) -> int:
    """The memory the data set of IR ``training.data`` takes in a training process, where its
    size is known before loading (0 for an npz file: :func:`with_loaded_data` counts it once
    it is read)."""
    count, image = example_count(data), image_shape(data)
    if count is None or image is None:
        return 0
    return _data_in_memory(count * (math.prod(image) * itemsize + 8))


def _data_in_memory(loaded: int) -> int:
    """A data set's memory in a training process, from the bytes of its loaded arrays (images
    in the run's dtype, int64 labels)."""
    return math.ceil(loaded * DATA_IN_MEMORY)


def with_loaded_data(memory: MemoryEstimate, loaded: int) -> MemoryEstimate:
    """``memory`` with the data set counted from the ``loaded`` bytes of its arrays (images in
    the run's dtype and int64 labels, as the loaders return them), for data whose size ``check``
    could not know (an npz file)."""
    return dataclasses.replace(memory, data=_data_in_memory(loaded))


# Recording a step raised the peak resident memory of `train --stats 1` (Intel Xeon) by 85 MiB
# on resnet_near_identity, whose recorded outputs and gradients take 34 and whose whole-batch
# step 25, and by 255 on cifar10_vgg (88 and 77): the kept values and about twice the whole step.
RECORDING_SWITCH = 2


def recording_bytes(spec: Spec, layers: list[LayerInfo], itemsize: int) -> int:
    """What recording a step for its statistics (``train --stats``, cnnspec.lab.recorder)
    adds to a process: every layer's output and the gradient of it for the whole batch, kept
    until the next recorded step, and the float64 deviations of the largest of them while its
    standard deviation is taken (cnnspec.lab.stats.std64); and, where the batch otherwise
    runs in parts, twice the recorded step's own arrays: it runs the batch whole in the
    model's layers, and the switches between whole and parts free and allocate their buffers
    again, which the allocator keeps (RECORDING_SWITCH)."""
    training = spec.ir["training"]
    batch = training["batch_size"]
    values = [math.prod(info.output_shape) for info in layers]
    kept = batch * (2 * itemsize * sum(values) + 8 * max(values, default=0))
    whole = (_estimate(spec, layers, 1, itemsize, kept_tile_layers(layers)).total
             if splits(batch, training["cores"]) else 0)
    return kept + RECORDING_SWITCH * whole


def with_recording(memory: MemoryEstimate, spec: Spec,
                   layers: list[LayerInfo]) -> MemoryEstimate:
    """``memory`` with what recording a step's statistics adds (:func:`recording_bytes`)."""
    return dataclasses.replace(memory,
                               recording=recording_bytes(spec, layers, memory.itemsize))


def measuring_estimate(spec: Spec, layers: list[LayerInfo], batch: int, dtype: str, *,
                       recording: bool, data: bool, whole: bool = False,
                       recalibrates: bool = False) -> MemoryEstimate:
    """The memory of a process that runs the network on a batch of its own, ``batch`` inputs
    in ``dtype``, rather than training it (``cnnspec time``, the init lab): a step at that
    batch (split into the spec's ``cores`` parts, unless it runs ``whole``), what recording
    every layer's output and gradient keeps when ``recording``, the spec's data set only
    when the batch is drawn from it (``data``), and the machine's limits measured again first
    when it ``recalibrates`` (:func:`recalibrating_bytes`; else only where a first run
    measures them, :func:`calibrating_bytes`)."""
    batched = at_batch(spec, batch, whole)
    # no run whose weights are saved and read back as it ends
    memory = dataclasses.replace(estimate(batched, layers, dtype), ending=0)
    if not data:
        memory = dataclasses.replace(memory, data=0)
    if recalibrates:
        memory = dataclasses.replace(memory, calibration=recalibrating_bytes())
    return with_recording(memory, batched, layers) if recording else memory


def training_batch(spec: Spec, count: int | None = None, batch: int | None = None) -> int:
    """The most images a training step of ``spec`` holds: its batch (or ``batch``, one drawn
    from its data otherwise), or all the images of its data where they are fewer (each epoch
    is then one step of them all; counted with the test images, so never too few).
    ``count``: the data's, once loaded; else as the spec declares it (unknown for an npz file
    before it is read)."""
    batch = spec.ir["training"]["batch_size"] if batch is None else batch
    if count is None:
        count = example_count(spec.ir["training"]["data"])
    return batch if count is None else max(1, min(batch, count))


def training_estimate(spec: Spec, layers: list[LayerInfo], dtype: str = DEFAULT_DTYPE,
                      count: int | None = None) -> MemoryEstimate:
    """:func:`estimate` of a training step of ``spec``, at :func:`training_batch`."""
    return estimate(at_batch(spec, training_batch(spec, count)), layers, dtype)


def ending_bytes(layers: list[LayerInfo], itemsize: int) -> int:
    """What a training run of ``layers`` holds beside its step's arrays as it saves and ends:
    its weights once more. Writing best.npz or checkpoint.npz, np.savez copies each array a
    piece at a time (up to 16 MiB of it) beside the step's arrays; at the end, the best
    epoch's weights are read back from best.npz for the test figures, all of them, once the
    gradients are freed (:meth:`cnnspec.engine.model.Model.forget_gradients`) and the step's
    activations with them (through a piece of 1 MiB at a time,
    :data:`cnnspec.data.arrayfiles.READ_PIECE_BYTES`). A whole run's traced peak measured
    above the step's figure by the weights (tests/test_process_memory.py)."""
    return itemsize * sum(info.params for info in layers)


def at_batch(spec: Spec, batch: int, whole: bool = False) -> Spec:
    """``spec`` training on batches of ``batch`` (in one process where ``whole``)."""
    training = {**spec.ir["training"], "batch_size": batch}
    if whole:
        training["cores"] = 1
    return dataclasses.replace(spec, ir={**spec.ir, "training": training})


def fitting_batch(memory_at, batch: int, limit: int) -> tuple[int, int] | None:
    """The batch below ``batch`` to suggest where ``memory_at(b)`` (a :class:`MemoryEstimate`)
    does not fit in ``limit`` bytes at ``batch``, and its process's bytes: the largest power of
    two within :data:`WARN_SHARE` of the limit (which check would not warn of), else the
    largest batch that fits at all; None when not even one image does."""
    calm = largest_fitting_batch(memory_at, batch, math.floor(WARN_SHARE * limit))
    if calm is None:
        return largest_fitting_batch(memory_at, batch, limit)
    round_batch = 1 << (calm[0].bit_length() - 1)
    return round_batch, memory_at(round_batch).process


def largest_fitting_batch(memory_at, batch: int, limit: int) -> tuple[int, int] | None:
    """The largest batch below ``batch`` at which ``memory_at(b)`` (a
    :class:`MemoryEstimate`) fits in ``limit`` bytes, and its process's bytes; None when not
    even one image does. A bisection: the memory grows with the batch."""
    low, high = 0, batch  # fits at low (or low is 0), not at high
    fits_low = None
    while high - low > 1:
        middle = (low + high) // 2
        process = memory_at(middle).process
        if process <= limit:
            low, fits_low = middle, process
        else:
            high = middle
    return None if fits_low is None else (low, fits_low)


def estimate(spec: Spec, layers: list[LayerInfo], dtype: str = DEFAULT_DTYPE) -> MemoryEstimate:
    """The memory of a training process of ``spec``: its step, split into the spec's
    ``cores`` parts or whole, whichever needs more (a layer such as dropout keeps the engine
    from splitting; the footprints of chunked convolutions do not scale with the batch), and
    what saving its weights and ending add (:func:`ending_bytes`)."""
    training = spec.ir["training"]
    batch, cores = training["batch_size"], training["cores"]
    ways = (1, cores) if splits(batch, cores) else (1,)
    itemsize = VALUE_BYTES[dtype]
    # the same in both ways: worked out once (the calibration reads the cache folder)
    keepers, calibration = kept_tile_layers(layers), calibrating_bytes(layers)
    whole, *split = [dataclasses.replace(_estimate(spec, layers, parts, itemsize, keepers),
                                         calibration=calibration) for parts in ways]
    if not split or split[0].process <= whole.process:
        return whole
    return dataclasses.replace(split[0], split_extra=split[0].process - whole.process)


def _estimate(spec: Spec, layers: list[LayerInfo], parts: int, itemsize: int,
              keepers: dict[str, int]) -> MemoryEstimate:
    """The step's memory in ``parts`` parts, the convolutions ``keepers``
    (:func:`kept_tile_layers`) keeping their shares of Winograd tiles; no first calibration
    counted."""
    training = spec.ir["training"]
    batch = training["batch_size"]
    part = -(-batch // parts)  # the largest part (numpy.array_split's first)
    prints = {info.name: _footprint(info, part, itemsize, keepers.get(info.name, 0))
              for info in layers}
    total = sum(info.params for info in layers)
    # The engine keeps a gradient and optimizer state for the parameters that train alone
    # (training_catalogue.is_trained: not frozen, not at lr_mult 0).
    trainable = sum(info.trainable_params for info in layers)
    parameter_values = total + trainable * (gradient_arrays(parts)
                                            + optimizer_arrays(training))
    if parts > 1:
        parameter_values += worker_values(total, trainable, training, parts)
    output = spec.ir.get("output") or layers[-1].name
    whole = _whole_batch_arrays(layers, output, batch, itemsize) if parts > 1 else 0
    replicas = parts if parts > 1 else 0
    objects = OBJECT_BYTES_BASE + OBJECT_BYTES_PER_LAYER * len(layers) * (1 + replicas)
    heaviest = max(layers, key=lambda info: _weight(prints[info.name])).name
    arrays = MemoryEstimate(
        parameters=itemsize * parameter_values,
        activations=parts * part_peak(layers, prints, output, training["loss"], itemsize)
        + whole + objects,
        work=parts * kept_work(prints.values()),
        heaviest=heaviest, batch_size=batch)
    return dataclasses.replace(arrays, runtime=runtime_bytes(layers, parts),
                               slack=math.ceil(ALLOCATOR_SLACK * arrays.total),
                               data=data_bytes(training["data"], itemsize), itemsize=itemsize,
                               ending=ending_bytes(layers, itemsize))


def kept_tile_layers(layers: list[LayerInfo]) -> dict[str, int]:
    """The convolutions of ``layers`` that keep their transformed input tiles for the
    backward pass, with their shares (:func:`cnnspec.engine.footprint.winograd_keepers`):
    the compiler gives them their shares, and their footprints count the tiles. A held
    weight (``is_trained``) gets no gradient, for which the tiles are kept: its layer is none
    of them."""
    convs = {info.name: (info.ir, info.input_shapes[0], info.output_shape, info.pads)
             for info in layers
             if info.kind == "conv" and info.ir["groups"] == 1 and is_trained(info.ir)}
    return winograd_keepers(convs, _inputs_let_go(layers, convs))


def _inputs_let_go(layers: list[LayerInfo], convs: dict) -> frozenset[str]:
    """The convolutions of ``convs`` whose input no other cache holds (nor the caller: the
    network's input), which a convolution that keeps every image's transformed tiles
    therefore frees (:func:`cnnspec.engine.footprint.winograd_keepers`)."""
    holders: dict[str, set[str]] = {INPUT: {INPUT}}
    for info in layers:
        holds_input, holds_output = _holds(info)
        for name in info.inputs if holds_input else ():
            holders.setdefault(name, set()).add(info.name)
        if holds_output:
            holders.setdefault(info.name, set()).add(info.name)
    by_name = {info.name: info for info in layers}
    return frozenset(name for name in convs
                     if holders.get(by_name[name].inputs[0], set()) <= {name})


def _holds(info: LayerInfo) -> tuple[bool, bool]:
    """Whether a layer's cache holds its input, and its output. A convolution's path, and so
    what it holds, hangs on its batch and on its keeping of tiles: counted as holding both."""
    if info.kind in ("conv", "conv_transpose"):
        return True, True
    fp = _footprint(info, 1, BYTES_PER_VALUE, 0)
    return fp.keeps_input, fp.keeps_output


def _footprint(info: LayerInfo, batch: int, itemsize: int, tile_share: int) -> Footprint:
    """The layer's footprint, made once for every layer of the same settings and shapes (a
    deep net repeats a few thousand times); a held weight (``is_trained``) gets no gradient,
    and its layer allocates nothing for one."""
    ir = info.ir
    settings = tuple((name, tuple(ir[name]) if isinstance(ir[name], list) else ir[name])
                     for name in FOOTPRINT_FIELDS if name in ir)
    return _footprint_of(info.kind, settings, tuple(map(tuple, info.input_shapes)),
                         tuple(info.output_shape), info.pads and tuple(info.pads), batch,
                         itemsize, tile_share, is_trained(ir))


@functools.lru_cache(maxsize=4096)
def _footprint_of(kind: str, settings: tuple, in_shapes: tuple, out_shape: tuple, pads,
                  batch: int, itemsize: int, tile_share: int,
                  weight_grad: bool) -> Footprint:
    return footprint(kind, dict(settings), list(in_shapes), out_shape, pads, batch, itemsize,
                     tile_share, weight_grad)


def _weight(fp: Footprint) -> int:
    return fp.out + fp.cache + fp.work + fp.back_work + fp.shared


def kept_work(prints) -> int:
    """Bytes of the buffers the layers with footprints ``prints`` keep from one step to the
    next: each layer's own, and each set of shared buffers once (the largest that a layer of
    its key asks for)."""
    shared: dict = {}
    for fp in prints:
        if fp.shared:
            shared[fp.shared_key] = max(shared.get(fp.shared_key, 0), fp.shared)
    return sum(fp.work + fp.back_work + fp.objects for fp in prints) + sum(shared.values())


def _whole_batch_arrays(layers: list[LayerInfo], output: str, batch: int,
                        itemsize: int) -> int:
    """Bytes of the whole batch's arrays a split step makes from its parts' (each at most
    the output's size, or the input's for the input gradient): the output and the logits
    concatenated, the loss's gradient and its temporaries, the input gradient."""
    by_name = {info.name: info for info in layers}
    out = batch * math.prod(by_name[output].output_shape)
    x = batch * math.prod(layers[0].input_shapes[0])
    return itemsize * (4 * out + x)


def part_peak(layers: list[LayerInfo], prints: dict[str, Footprint], output: str, loss: str,
              itemsize: int = BYTES_PER_VALUE) -> int:
    """The most bytes alive at once, besides parameters and kept work buffers, while one part
    runs forward, loss and backward (a liveness walk; see the module docstring)."""
    walk = _Liveness(layers, prints, output, loss)
    largest = max(fp.out for fp in prints.values()) // itemsize
    return max(walk.forward(), walk.backward()) + ufunc_buffer_bytes(largest)


class _Liveness:
    """The layers' outputs, caches and gradients, alive or not, as a step runs."""

    def __init__(self, layers: list[LayerInfo], prints: dict[str, Footprint],
                 output: str, loss: str) -> None:
        self.layers, self.prints, self.output = layers, prints, output
        self.size = {INPUT: 0, **{name: fp.out for name, fp in prints.items()}}  # the caller's
        self.order = {INPUT: -1, **{info.name: i for i, info in enumerate(layers)}}
        self.last_read: dict[str, int] = {}
        self.holders: dict[str, set[str]] = {}  # value -> the layers whose cache holds it
        for i, info in enumerate(layers):
            fp = prints[info.name]
            for name in info.inputs:
                self.last_read[name] = i
                if fp.keeps_input:
                    self.holders.setdefault(name, set()).add(info.name)
            if fp.keeps_output:
                self.holders.setdefault(info.name, set()).add(info.name)
        by_name = {info.name: info for info in layers}
        # the output is kept, and its input where the loss reads the logits
        last = by_name.get(output)
        logits = last is not None and keeps_logits(last.kind, loss)
        self.kept = {output, *last.inputs} if logits else {output}
        self.caches: set[str] = set()  # layers whose cache is alive
        self.values: set[str] = set()  # outputs alive
        self.cache_bytes = self.value_bytes = 0

    def _add_value(self, name: str) -> None:
        if name not in self.values:
            self.values.add(name)
            self.value_bytes += self.size[name]

    def _drop_value(self, name: str) -> None:
        if name not in self.values or name in self.kept:
            return
        if not any(layer in self.caches for layer in self.holders.get(name, ())):
            self.values.discard(name)
            self.value_bytes -= self.size[name]

    def _previous_step(self, info: LayerInfo) -> int:
        """Bytes the layer's cache holds from the step before when its backward pass does not
        free it (until its forward pass replaces it)."""
        fp = self.prints[info.name]
        if fp.frees_cache:
            return 0
        held = ([*info.inputs] if fp.keeps_input else []) + ([info.name] if fp.keeps_output
                                                            else [])
        return fp.cache + sum(self.size[name] for name in held)

    def forward(self) -> int:
        previous = [self._previous_step(info) for info in self.layers]
        left = sum(previous)
        peak = 0
        self._add_value(INPUT)
        for i, info in enumerate(self.layers):
            fp = self.prints[info.name]
            self.caches.add(info.name)
            self.cache_bytes += fp.cache
            self._add_value(info.name)
            peak = max(peak, left + self.cache_bytes + self.value_bytes + fp.forward_temp)
            left -= previous[i]
            for name in (*info.inputs, info.name):
                if self.last_read.get(name, -1) <= i:
                    self._drop_value(name)
        return peak

    def backward(self) -> int:
        """After :meth:`forward`: the peak of the loss and the backward pass."""
        pending = {self.output: self.size[self.output]}  # value -> bytes of its gradient
        waiting = self.size[self.output]  # the bytes of the pending gradients
        loss = 3 * self.size[self.output]  # the loss's temporaries (log-softmax, exponentials)
        peak = self.cache_bytes + self.value_bytes + waiting + loss
        for info in reversed(self.layers):
            fp = self.prints[info.name]
            dout = pending.pop(info.name, None)
            if dout is None:  # no gradient reaches it: counted as if one did
                dout = self.size[info.name]
            else:
                waiting -= dout
            alive = self.cache_bytes + self.value_bytes + waiting + dout
            peak = max(peak, alive + fp.dx + fp.backward_temp)
            if fp.frees_cache:
                self.caches.discard(info.name)
                self.cache_bytes -= fp.cache
                for name in (*info.inputs, info.name):
                    self._drop_value(name)
            # views of dout (fp.dx 0) are charged once, to the input whose gradient is
            # consumed last (the earliest in the layer order)
            last = min(info.inputs, key=self.order.__getitem__)
            for name in info.inputs:
                grad = fp.dx if fp.dx else (dout if name == last else 0)
                if name in pending:  # a value read twice: its gradients summed, a new array
                    peak = max(peak, alive + fp.dx + grad + self.size[name])
                    grad = max(grad, self.size[name], pending[name])
                    waiting -= pending[name]
                pending[name] = grad
                waiting += grad
        return peak


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the machine's physical memory, or less where a
    limit on the process (``ulimit -v`` or ``-d``) or on its control group (a container's
    memory limit) is lower; None where the system says none of them. Past a limit an
    allocation fails (a MemoryError) or the kernel kills the process, however much memory
    the machine has."""
    room = _least_room()
    return None if room is None else max(room, 0)


def _least_room() -> int | None:
    """:func:`machine_memory` before it is held at 0: below 0 by as much as a limit on the
    process's mappings is below what its libraries and BLAS threads map."""
    sizes = [size for size, _ in _memory_limits()]
    return min(sizes) if sizes else None


def room_text(limit: int) -> str:
    """``limit`` bytes (from :func:`machine_memory`) named as where they come from: "this
    machine's 16.0 GiB of memory", or the limit on this process that is lower."""
    for size, words in _memory_limits():
        if max(size, 0) == limit:
            return words.format(bytes_text(limit))
    return f"this machine's {bytes_text(limit)} of memory"


def _memory_limits() -> list[tuple[int, str]]:
    """Every bound the system sets on this process's memory, each with how a message names
    it (a ``{}`` for its size): the machine's memory first."""
    limits = []
    try:
        limits.append((os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
                       "this machine's {} of memory"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        import resource  # POSIX only
    except ImportError:
        resource = None
    for name, option, mapped in (("RLIMIT_AS", "-v", MAPPED_CODE_BYTES),
                                 ("RLIMIT_DATA", "-d", 0)):
        if resource is not None and hasattr(resource, name):
            soft, _ = resource.getrlimit(getattr(resource, name))
            if soft != resource.RLIM_INFINITY and soft > 0:
                limits.append(_mapping_limit(soft, option, mapped))
    cgroup = _cgroup_limit()
    if cgroup is not None:
        limits.append((cgroup, "the {} its control group may use (a container's limit)"))
    return limits


# What a process maps beyond the memory it uses, which a limit on its mappings counts as well
# (`ulimit -v` all of them, `ulimit -d` the private writable ones): OpenBLAS's buffer and stack
# for each of its threads, reserved and mostly never touched, and (`-v`) the code of the shared
# libraries. Measured as the least limit under which a small spec trains, less its process
# estimate (Intel Xeon, Python 3.11, NumPy 2.4.6 with OpenBLAS 0.3.31: `-v` 97 MiB with one
# BLAS thread, 139 MiB with two; `-d` 26 and 70 MiB), rounded up. OpenBLAS starts a thread per
# core.
MAPPED_PER_BLAS_THREAD = 48 << 20
MAPPED_CODE_BYTES = 64 << 20


def _mapping_limit(soft: int, option: str, mapped: int) -> tuple[int, str]:
    """A limit of ``soft`` bytes on a process's mappings (``ulimit option``) as the memory it
    leaves the process, beside what the process maps and does not use (``mapped`` and a BLAS
    buffer per core), with how a message names it."""
    reserved = mapped + MAPPED_PER_BLAS_THREAD * usable_cores()
    if soft <= reserved:  # "the 0 B this process may use (...)" said nothing plainly
        return soft - reserved, (f"what its `ulimit {option}` of {bytes_text(soft)} leaves: "
                                 f"nothing, as its libraries and BLAS threads map "
                                 f"{bytes_text(reserved)}")
    words = (f"the {{}} this process may use (its `ulimit {option}` of {bytes_text(soft)}, "
             f"less the {bytes_text(reserved)} its libraries and BLAS threads map)")
    return soft - reserved, words  # below 0 where the mappings take more than the limit


def _cgroup_limit(proc: Path = Path("/proc/self/cgroup"),
                  mounted: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The lowest memory limit of this process's control group and the groups above it
    (cgroup v2's ``memory.max``, v1's ``memory.limit_in_bytes``), or None: no limit, or not
    Linux. ``proc`` lists the process's groups, ``mounted`` is where the hierarchies are."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, group = parts
        if controllers == "":  # v2: one hierarchy
            root, file = mounted, "memory.max"
        elif "memory" in controllers.split(","):
            root, file = mounted / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = Path(group.strip() or "/")
        for place in (folder, *folder.parents):
            try:
                text = (root / place.relative_to("/") / file).read_text().strip()
            except (OSError, ValueError):
                continue
            # "max" (v2) or a page-rounded 2^63 (v1) is no limit
            if text.isdigit() and int(text) < 1 << 60:
                found.append(int(text))
    return min(found) if found else None


def bytes_text(n: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def calibration_text(calibration: int, again: bool = False) -> str:
    """What timing the machine's convolution limits adds to a process (``calibration``
    bytes, not 0), in words: a first run on a machine does it, later ones read the limits;
    ``again``: the command measures them again whatever is kept (``time --calibrate``)."""
    return (f"{bytes_text(calibration)} to time this machine's convolution limits "
            + ("again" if again else "on its first run"))


def data_text(data: int) -> str:
    """The data's part of a process figure, in words: an npz file's (0 here: the checker does
    not read it) is said to be left out, not to weigh nothing."""
    return (f"{bytes_text(data)} of data" if data
            else "the npz file's data uncounted until it is read")


def fewer_images(data: dict) -> str:
    """How to train on fewer images of IR ``training.data`` (what lowers a process whose data
    set outweighs its step)."""
    if canonical_name(data["name"]) == "shapes":
        return "train on fewer images: a lower shapes count"
    return "train on fewer images: a subset of them, saved in an npz file"


@record(frozen=True)
class Task:
    """What a process does with a spec, as its memory errors say it: ``name`` ("training");
    ``smaller``, the hint that lowers its step where that is not the spec's batch to change
    (a command's setting; a hint template, :data:`SMALLER_BATCH`); whether it reads the spec's
    data set (``reads_data``); whether it runs the batch whole in one process whatever the
    spec's ``cores`` (``whole``: ``time`` clocks a step on one thread); ``batch_setting``,
    what sets the batch (:func:`memory_problems` names the largest that fits); ``spec_batch``,
    whether that is the spec's batch; whether it measures the machine's convolution limits
    again first, whatever is kept (``recalibrates``: ``time --calibrate``)."""

    name: str = "training"
    smaller: str | None = None
    reads_data: bool = True
    whole: bool = False
    # how the batch is set, for the batch that fits: the spec's word for its setting, or a
    # command's setting as a hint template names it (`batch_size`: init-report's batch_size=,
    # its --batch-size); None where the command fixes the batch
    batch_setting: str | None = "batch"
    # whether the batch is the spec's own (training; `time` without --batch-size): an error a
    # smaller batch answers is then located at the spec's batch line
    spec_batch: bool = True
    recalibrates: bool = False


TRAINING = Task()
# What lowers the step of a command that runs the network on a batch of the size it was given
# (init-report's, time's), as a hint template.
SMALLER_BATCH = "a smaller {batch_size}"


def refuse_beyond_memory(checked: CheckedSpec, batch: int, dtype: str, task: Task,
                         recording: bool = False) -> None:
    """Raise :class:`SpecErrors` (at the spec's heaviest layer, or its data) when a command
    that runs the network on a batch of its own rather than training it (``task``: timing
    a step, the init lab's measurements) would not fit in the machine's memory doing so on
    ``batch`` inputs in ``dtype`` (:func:`measuring_estimate`); before anything is allocated."""
    def memory_at(images: int) -> MemoryEstimate:
        return measuring_estimate(checked.spec, checked.layers, images, dtype,
                                  recording=recording, data=task.reads_data, whole=task.whole,
                                  recalibrates=task.recalibrates)

    errors = [error for error in memory_problems(checked.spec, memory_at(batch), None, task,
                                                 memory_at)
              if error.severity == "error"]
    if errors:
        raise SpecErrors(errors)


def memory_problems(spec: Spec, memory: MemoryEstimate, limit: int | None,
                    task: Task = TRAINING, memory_at=None) -> list[SpecError]:
    """An error when a process doing ``task`` with the spec (training it) would not fit in
    ``limit`` bytes (the machine's memory when None), a warning when it takes more than half
    of it; located at the heaviest layer, or at the data where the data set outweighs the
    step. ``memory_at(batch) -> MemoryEstimate``, the same process at another batch: the
    error then names the largest batch that fits, and is located at the spec's batch where
    that batch trains (:data:`FITTING_BATCH`)."""
    set_here = limit is not None
    limit = machine_memory() if limit is None else limit
    if limit is None or memory.process <= WARN_SHARE * limit:
        return []
    room = f"the {bytes_text(limit)} limit set" if set_here else room_text(limit)
    whole = memory.process - memory.split_extra  # the batch in one process, `cores 1`
    fewer_cores = (f"with `{setting_text(spec, 'cores', 'cores', 1)}` the batch runs whole "
                   f"in one process, about {bytes_text(whole)}"
                   if task is TRAINING and memory.split_extra and whole <= limit else "")
    if memory.runtime >= limit:
        # no smaller net or batch would fit: the limit is the problem, no place in the spec
        template = fewer_cores or literal(
            f"{task.name} takes up to about {bytes_text(memory.process)}; a limit below what "
            f"the process itself takes cannot be met{_raise_by(memory.process, set_here)}")
        return [SpecError(runtime_beyond(task.name, memory.runtime, limit, room),
                          file=spec.path,
                          hint=library_worded(template), hint_template=template)]
    where, heaviest, lower, lower_warned = _what_weighs_most(spec, memory, task)
    parts = _parts_text(memory, task)
    written = spec.ir["training"]["batch_size"]
    all_images = ("" if task is not TRAINING or memory.batch_size >= written else
                  f"; a step holds all {memory.batch_size:,} images of the data, fewer than "
                  f"the batch of {written:,}")
    if memory.process > limit:
        fitting = None
        if memory_at is not None and task.batch_setting and where != ("training", "data"):
            fitting = fitting_batch(memory_at, memory.batch_size, limit)
        if fitting is not None:
            batch, process = fitting
            lower = (f"`{_batch_setting(spec, task, batch)}` fits, about {bytes_text(process)}"
                     + ("" if task.smaller else f"; or {SMALLER_LAYERS}"))
            if task.spec_batch and batch >= FITTING_BATCH \
                    and ("training", "batch_size") in spec.spans:
                where = ("training", "batch_size")
        return [spec.error(
            f"{task.name} would need up to about {bytes_text(memory.process)} at batch "
            f"{memory.batch_size} ({parts}), more than {room}; {heaviest}{all_images}",
            *where,
            hint_template=f"{fewer_cores}; or {lower}" if fewer_cores else lower)]
    return [spec.error(
        f"{task.name} needs up to about {bytes_text(memory.process)} at batch "
        f"{memory.batch_size} ({parts}), {_share_text(memory.process / limit)} of "
        f"{room}{all_images}",
        *where, severity="warning",
        hint_template=f"other programs may then run out of memory; {lower_warned}")]


def runtime_beyond(name: str, runtime: int, room: int, room_words: str) -> str:
    """The error of a process doing ``name`` ("training") whose ``runtime`` bytes alone, for
    Python and its libraries, outweigh or fill the ``room`` bytes it has (worded
    ``room_words``: :func:`room_text`); filled, it has none left for the network's arrays."""
    beyond = "more than" if runtime > room else "all of"
    return (f"{name} needs about {bytes_text(runtime)} for Python, its libraries and their "
            f"buffers alone, {beyond} {room_words}")


def _raise_by(needed: int, set_here: bool) -> str:
    """``: raise it by at least ...``, what ``needed`` bytes lack of the room the lowest limit
    on this process leaves (:func:`_least_room`); "" for a limit the caller set
    (``max_memory``), which is theirs to change."""
    room = _least_room()
    if set_here or room is None:
        return ""
    return f": raise it by at least {bytes_text(needed - room)}"


def libraries_beyond_limit(name: str, draws: bool = False) -> LimitError | None:
    """Before NumPy is loaded, for a command that runs networks (``name``: "`cnnspec train`"):
    an error when the memory this process may use (:func:`machine_memory`, less what the
    libraries map under a limit on mappings) cannot hold Python with NumPy (NUMPY_BYTES), the
    least any such command takes, or, for a command that ``draws`` a picture, Python with NumPy
    and matplotlib (PROCESS_BYTES); else None. Under such a limit, importing NumPy fails in
    OpenBLAS, which ends the process with a message of its own (it cannot allocate its
    threads' buffers), or in the dynamic loader, before any check could speak; and drawing
    with matplotlib loaded in the room NumPy alone takes fails the same way, at the first
    product OpenBLAS computes for the picture."""
    room, runtime = _least_room(), PROCESS_BYTES if draws else NUMPY_BYTES
    if room is None or room >= runtime:
        return None
    return LimitError(runtime_beyond(name, runtime, room, room_text(max(room, 0))),
                      hint="a limit below what the process itself takes cannot be met"
                           + _raise_by(runtime, False))


def _batch_setting(spec: Spec, task: Task, batch: int) -> str:
    """The setting of a batch of ``batch`` for ``task``, as a hint template."""
    if task is TRAINING:
        return setting_text(spec, "batch_size", task.batch_setting, batch)
    return f"{{{task.batch_setting}:{batch}}}"


def setting_text(spec: Spec, key: str, written: str, value: float | str) -> str:
    """Training setting ``key`` at ``value`` as a hint template: as the spec writes it
    (``written``: ``batch 64``), or where the run was given it rather than the spec
    (``train --batch-size``, ``batch_size=``, a sweep's ``--set``), worded as it was given
    (:meth:`Spec.error`)."""
    if key in spec.overridden:
        return f"{{{key}:{literal(str(value))}}}"
    return literal(f"{written} {value}")


# What lowers a step's memory but its batch, and where to see it.
NARROWER_NETWORK = "use fewer filters or units, more stride or pooling early"
SUMMARY_LISTS = "`{summary_command}` lists what each layer holds"  # a hint template
SMALLER_LAYERS = f"{NARROWER_NETWORK}; {SUMMARY_LISTS}"
# A batch that fits at least this large trains as batches do: the spec's batch is then what to
# change, and the error is located there; below it, the network is what is too large.
FITTING_BATCH = 16


def _share_text(share: float) -> str:
    """A share of the memory above WARN_SHARE and at most 1, in whole percent, never rounded
    up to the 100% that would read as the limit reached."""
    return f"{min(math.floor(share * 100), 99)}%"


def _parts_text(memory: MemoryEstimate, task: Task) -> str:
    """What a process's memory is made of, in words, for the messages of memory_problems."""
    return (f"a step's {bytes_text(memory.parameters)} of parameters, gradients and optimizer "
            f"state, {bytes_text(memory.activations)} of activations and "
            f"{bytes_text(memory.work)} of convolution work buffers, "
            f"{bytes_text(memory.slack)} the allocator keeps beside them, "
            + (f"{data_text(memory.data)}, " if task.reads_data else "")
            + (f"{bytes_text(memory.recording)} to record every layer's output and gradient, "
               if memory.recording else "")
            + (f"{calibration_text(memory.calibration, task.recalibrates)}, "
               if memory.calibration else "")
            + (f"{bytes_text(memory.ending)} to save and read back the weights as it ends, "
               if memory.ending else "")
            + f"and {bytes_text(memory.runtime)} for Python, its libraries and their buffers")


# What a problem's largest part is weighed against: Python's share, which no spec changes, may
# be larger (120 MiB against 17 MiB of data was called "the data set weighs most").
BESIDE_RUNTIME = "beside Python and its libraries, "


def _what_weighs_most(spec: Spec, memory: MemoryEstimate, task: Task
                      ) -> tuple[tuple, str, str, str]:
    """Where a memory problem is located (the spec place), what weighs most there, and what
    lowers it, for an error and for a warning (hint templates: :meth:`Spec.error`)."""
    # Where the data set the spec names outweighs the step, a smaller net would barely help:
    # the problem is the data's, located at its line.
    named = spec.text is None or ("training", "data") in spec.spans
    if named and memory.data > memory.total + memory.slack + memory.recording:
        lower = literal(fewer_images(spec.ir["training"]["data"]))
        return ("training", "data"), BESIDE_RUNTIME + "the data set weighs most", lower, lower
    if memory.recording > memory.total + memory.slack:
        lower = task.smaller or (
            "train without {stats_every}, or with a smaller batch (a recorded step keeps every "
            "layer's output and gradient)")
        return ((memory.heaviest,),
                BESIDE_RUNTIME + "recording every layer's output and gradient weighs most",
                lower, lower)
    smaller = task.smaller or ""
    lower = smaller or f"{NARROWER_NETWORK}, or a smaller batch; {SUMMARY_LISTS}"
    return ((memory.heaviest,), f"of the layers, '{memory.heaviest}' weighs most", lower,
            smaller or "a smaller batch lowers the activations")
