"""The memory one training step needs, estimated before anything is allocated.

``check`` refuses a spec whose step would not fit in the machine's memory (or a limit the user
sets) and warns when it takes most of it; ``summary`` shows the figure. Everything is float32
(4 bytes a value) at the spec's batch size B:

- parameters, their gradients, and the optimizer's state (as many arrays per parameter as the
  optimizer's record in :mod:`cnnspec.ir.training_catalogue` declares: SGD with momentum keeps
  one buffer per parameter, Adam two), and the engine's own arrays of the parameters' size (see
  :func:`engine_copies`): the update each optimizer writes into a work array, and, when the
  batch runs as halves in two threads, each half's gradients besides their sum;
- activations kept for the backward pass: every layer's output, and about as much again in
  the caches the layers keep (a conv's padded input, a ReLU's mask, a pool's input), B x
  twice the sum of the layer outputs, and the Python objects of the model and its layers (a
  few KiB each: what a net of tiny layers mostly holds);
- work buffers: each convolution keeps its im2col matrix, (C_in x kh x kw) x (B x H_out x
  W_out) values, as much again for its weight gradient, the buffers of its input gradient
  (for stride 1 a column gradient over whole padded planes, and the output gradient laid on
  them) and its padded input (which a large dilation with ``pad same`` makes huge) from one
  step to the next, so that later steps reuse the memory; they add up over the conv layers,
  except the input gradient's, which the convs of one geometry share.

tests/test_memory.py measures the real peak of a training step (NumPy's allocations, with
tracemalloc) against this estimate: the estimate is at least the measurement and, on the
example specs, at most :data:`OVERESTIMATE` times it. ``tools/fuzz.py`` measures hundreds of
mutated specs the same way.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from cnnspec.check.model import LayerInfo
from cnnspec.engine.chunking import KEEP_BYTES, THIN_ROWS, chunk_columns_bound
from cnnspec.engine.splitting import DEFAULT_THREADS, splits
from cnnspec.errors import SpecError
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import OPTIMIZERS
from cnnspec.kinds import KINDS

BYTES_PER_VALUE = 4  # float32
OVERESTIMATE = 3.0  # the factor the estimate may exceed a measured step by (tested)
WARN_SHARE = 0.5  # warn when a step takes more than this share of the limit


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of one training step, by what holds them, and the layer that weighs most."""

    parameters: int  # weights, gradients and optimizer state
    activations: int  # kept for the backward pass
    work: int  # the convolutions' work buffers
    heaviest: str  # the layer with the largest activation or work buffer
    batch_size: int

    @property
    def total(self) -> int:
        return self.parameters + self.activations + self.work


def optimizer_buffers(training: dict) -> int:
    """Arrays the spec's optimizer keeps per parameter array (as its catalogue record declares),
    the weight decay's scratch copy of the gradient, and the clipped copy of the gradients when
    they are clipped."""
    optimizer = training["optimizer"]
    kept = OPTIMIZERS[optimizer["name"]].state_arrays(optimizer)
    decay_scratch = 1 if training.get("weight_decay", 0.0) > 0 else 0
    clipped = 1 if training.get("clip_norm") or training.get("clip_value") else 0  # a copy
    return kept + decay_scratch + clipped


# -- arrays the engine keeps per trainable parameter, besides the parameter, its gradient and the
# optimizer's state (the optimizer's count is :func:`optimizer_buffers`)

UPDATE_ARRAYS = 1  # every optimizer writes lr x its direction into a kept "update" work array
SPLIT_PARTS = DEFAULT_THREADS  # the parts a large enough batch is split into


def engine_copies(batch: int) -> int:
    """Arrays the size of the trainable parameters that a training step of the engine holds
    besides the parameters, the summed gradients and the optimizer's state: the optimizer's
    update array, and each part's gradients when the batch is split into parts run in
    threads (:mod:`cnnspec.engine.parallel` sums them into new arrays). Batch norm and dropout
    keep a model from splitting; counted as split all the same (an overestimate)."""
    return UPDATE_ARRAYS + (SPLIT_PARTS if splits(batch) else 0)


# A transposed conv keeps its im2col matrix and buffers for its gradients about twice as large.
WORK_PER_COLUMN_VALUE = 3


def _work_values(info: LayerInfo, batch: int, geometries: set) -> int:
    """Values of the work buffers a layer keeps for a batch: a conv's im2col matrix and the
    buffers of its gradients, and its padded input. A conv's input-gradient buffers are
    shared by the convs of one geometry (cnnspec.engine.windows.shared_work): counted for the
    first layer of each geometry in ``geometries`` (which this adds to)."""
    if KINDS[info.kind].family != "conv":
        return 0
    in_channels, height, width = info.input_shapes[0]
    # A conv's im2col matrix is (C*kh*kw, N*Ho*Wo), a transposed conv's (F*kh*kw, N*H*W): both
    # are the multiply-adds over the weight's first axis (F, or C) per group.
    columns = batch * info.macs * info.ir["groups"] // info.weight_shape[0]
    top, bottom, left, right = info.pads
    padded_hw = (height + top + bottom) * (width + left + right)
    padded = in_channels * batch * padded_hw
    if info.kind != "conv":
        return WORK_PER_COLUMN_VALUE * columns + padded
    if info.ir["groups"] > 1:  # cnnspec.engine.grouped: whole-batch matrices, not shared
        return (2 * columns + padded
                + _conv_input_grad_values(info, batch, columns, padded_hw, chunked=False))
    geometry = (info.input_shapes[0], info.weight_shape, info.pads,
                *(tuple(info.ir[key]) for key in ("stride", "dilation")))
    shared = geometry in geometries
    geometries.add(geometry)
    grad = 0 if shared else _conv_input_grad_values(info, batch, columns, padded_hw)
    return _tuned_conv_values(info, batch, columns, padded_hw) + grad


def _tuned_conv_values(info: LayerInfo, batch: int, columns: int, padded_hw: int) -> int:
    """Values of the buffers cnnspec.engine.conv_tuned keeps per conv layer: the im2col matrix,
    kept for the weight gradient by a thin layer where it is at most KEEP_BYTES; a chunk of columns
    (:func:`chunk_columns_bound`; in wide coordinates, up to Wp / Wo times as many) with a
    product and a laid-out output gradient of F rows each; the padded input, as batch-last
    blocks up to a block of images more."""
    in_channels, _, width = info.input_shapes[0]
    filters, out_h, out_w = info.output_shape
    _, _, left, right = info.pads
    rows = columns // max(batch * out_h * out_w, 1)
    kept = columns if rows < THIN_ROWS and columns * BYTES_PER_VALUE <= KEEP_BYTES else 0
    chunk = -(-chunk_columns_bound(out_h * out_w, batch, rows) * (width + left + right)
              // out_w)
    images = batch - 1 + chunk_columns_bound(out_h * out_w, batch, rows) // (out_h * out_w)
    return kept + (rows + 2 * filters) * chunk + in_channels * images * padded_hw


def _conv_input_grad_values(info: LayerInfo, batch: int, columns: int, padded_hw: int,
                            chunked: bool = True) -> int:
    """Values of the buffers a conv's input gradient keeps (cnnspec.engine.conv_tuned): a
    column gradient for a chunk of images (:func:`chunk_columns_bound`; the whole batch
    unless ``chunked``), with stride 1 over
    whole padded planes (rows x Hp*Wp an image instead of the forward's rows x Ho*Wo; the
    transposed convolution it takes instead where that is cheaper has a matrix no larger
    than the forward's), the output gradient laid on those planes (F x N x Hp x Wp), and the
    padded input gradient the columns are added into."""
    in_channels = info.input_shapes[0][0]
    filters, out_hw = info.output_shape[0], info.output_shape[1] * info.output_shape[2]
    rows = columns // max(batch * out_hw, 1)
    stride_one = tuple(info.ir["stride"]) == (1, 1)
    images = batch if chunked else 0  # 0: no chunk limit

    def chunk(per_image: int) -> int:
        return chunk_columns_bound(per_image, images, rows) if chunked else batch * per_image

    planes = rows * chunk(padded_hw if stride_one else out_hw)
    return (max(planes, rows * chunk(out_hw))
            + (filters + in_channels) * batch * padded_hw)


# The Python objects of a step beyond its arrays' values: the model's and optimizer's (BASE),
# and each layer's node, caches and array headers (measured 1-2.5 KiB; dense layers, with two
# parameters and their gradient, state and update arrays, the most).
OBJECT_BYTES_BASE = 16 << 10
OBJECT_BYTES_PER_LAYER = 4 << 10


def estimate(spec: Spec, layers: list[LayerInfo]) -> MemoryEstimate:
    training = spec.ir["training"]
    batch = training["batch_size"]
    total = sum(info.params for info in layers)
    trainable = sum(info.trainable_params for info in layers)
    parameter_values = total + trainable * (1 + optimizer_buffers(training)
                                            + engine_copies(batch))
    outputs = {info.name: batch * math.prod(info.output_shape) for info in layers}
    geometries: set = set()
    works = {info.name: _work_values(info, batch, geometries) for info in layers}
    heaviest = max(layers, key=lambda info: max(outputs[info.name], works[info.name])).name
    return MemoryEstimate(
        parameters=BYTES_PER_VALUE * parameter_values,
        activations=(BYTES_PER_VALUE * 2 * sum(outputs.values()) + OBJECT_BYTES_BASE
                     + OBJECT_BYTES_PER_LAYER * len(layers)),
        work=BYTES_PER_VALUE * sum(works.values()),
        heaviest=heaviest, batch_size=batch)


def machine_memory() -> int | None:
    """Bytes of physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def bytes_text(n: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def memory_problems(spec: Spec, memory: MemoryEstimate, limit: int | None) -> list[SpecError]:
    """An error when a training step would not fit in ``limit`` bytes (the machine's memory when
    None), a warning when it takes more than half of it; located at the heaviest layer."""
    limit = machine_memory() if limit is None else limit
    if limit is None or memory.total <= WARN_SHARE * limit:
        return []
    parts = (f"{bytes_text(memory.parameters)} parameters, gradients and optimizer state, "
             f"{bytes_text(memory.activations)} activations, {bytes_text(memory.work)} "
             f"convolution work buffers")
    if memory.total > limit:
        return [spec.error(
            f"a training step would need about {bytes_text(memory.total)} at batch "
            f"{memory.batch_size} ({parts}), more than the {bytes_text(limit)} available; "
            f"'{memory.heaviest}' weighs most", memory.heaviest,
            hint="use fewer filters or units, more stride or pooling early, or a smaller "
                 "batch; `cnnspec summary` lists what each layer holds")]
    return [spec.error(
        f"a training step needs about {bytes_text(memory.total)} at batch {memory.batch_size} "
        f"({parts}), over half the {bytes_text(limit)} available", memory.heaviest,
        severity="warning",
        hint="other programs may then run out of memory; a smaller batch lowers the activations")]
