"""Where a training step's time goes: each layer's forward and backward, the loss and the
optimizer update, timed on the model itself (as ``caffe time`` does), in one thread.

:func:`time_step` runs ``iterations`` clocked steps (the model adds each node's seconds to
``model.clock``, see :class:`cnnspec.engine.model.Model`) alternating with as many plain
steps, after warm-up steps that let the layers allocate their work buffers. Every figure is a
median over the iterations: other processes' load only ever adds time, in bursts, and a median
shrugs off a burst that a mean would keep. The plain steps' median (``step``) is the figure
to compare the sum of the parts with: the clocks themselves cost a few microseconds a layer.

FLOPs come from the caller (``flops_of(name, need_dx) -> (forward, backward)`` per example,
:func:`cnnspec.kinds.layer_flops` for a checked spec): the engine knows nothing of the
language. :func:`matmul_peak` is what one core reaches on one large product in the step's
dtype, the ceiling to read the layers' GFLOP/s against.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, field
from time import perf_counter

import numpy as np

from cnnspec.engine.blas import blas_threads
from cnnspec.engine.overflow import overflow_reported_by_caller
from cnnspec.records import record

WARMUP = 2  # steps before timing: the first allocates every work buffer
PEAK_SIZE = 1024  # the square product of matmul_peak (4 MB a float32 matrix)
# The range the sum of the parts over a whole step lies in where nothing else runs much
# (docs/measurements.md, "Where a step's time goes"; tests/test_time.py holds it): the clocks
# cost microseconds. Outside it, other processes' work decided the figures.
AGREEMENT = (0.5, 2.0)


@record(frozen=True)
class LayerTiming:
    """One node of the step: median seconds of its forward and backward, and the FLOPs of
    each for the whole batch (the direct method's, whichever ``method`` ran: a Winograd
    convolution's GFLOP/s are what im2col would have to reach to match it). A node that
    computes several layers of the spec (a ReLU and the max pool after it) is named after the
    first of them, and ``fused`` lists the others in the spec's order; ``kind`` then names
    every kind it computes, in that order ("relu+maxpool")."""

    name: str
    kind: str
    forward: float
    backward: float
    forward_flops: int = 0
    backward_flops: int = 0
    fused: tuple[str, ...] = ()
    method: str = ""  # how the layer computed (a conv's path), "" where there is one way

    @property
    def covers(self) -> tuple[str, ...]:
        """The spec's layers this node computes, in the spec's order."""
        return (self.name, *self.fused)

    @property
    def seconds(self) -> float:
        return self.forward + self.backward

    @property
    def gflops(self) -> float:
        """GFLOP/s over forward and backward together (0 when untimed)."""
        flops = self.forward_flops + self.backward_flops
        return flops / self.seconds / 1e9 if self.seconds > 0 else 0.0


@record(frozen=True)
class StepTiming:
    """A training step taken apart. Seconds are medians over ``iterations``; ``step`` is the
    median of plain (unclocked) steps, for comparison with :attr:`total`."""

    batch: int
    iterations: int
    layers: list[LayerTiming]
    loss: float
    update: float
    step: float
    peak_gflops: float | None = None
    threads: int = 1
    finite: bool = True  # the weights after the timed steps: False when the values overflowed
    extra: dict = field(default_factory=dict)  # what the caller wants reported alongside

    @property
    def total(self) -> float:
        """The sum of the parts: every layer's forward and backward, the loss and the update."""
        return sum(layer.seconds for layer in self.layers) + self.loss + self.update

    @property
    def parts_over_step(self) -> float:
        """The sum of the parts over a whole unclocked step (1 where nothing was timed)."""
        return self.total / self.step if self.step > 0 else 1.0

    @property
    def parts_agree(self) -> bool:
        """Whether the parts and the whole agree within :data:`AGREEMENT`."""
        return AGREEMENT[0] <= self.parts_over_step <= AGREEMENT[1]

    def share(self, seconds: float) -> float:
        return seconds / self.total if self.total > 0 else 0.0

    def as_dict(self) -> dict:
        """Plain data (seconds as milliseconds), for ``--format json``."""
        layers = [{"name": layer.name, "kind": layer.kind, "method": layer.method,
                   "fused": list(layer.fused),
                   "forward_ms": layer.forward * 1e3, "backward_ms": layer.backward * 1e3,
                   "forward_flops": layer.forward_flops,
                   "backward_flops": layer.backward_flops, "gflops": layer.gflops,
                   "share": self.share(layer.seconds)} for layer in self.layers]
        data = {key: value for key, value in asdict(self).items()
                if key not in ("layers", "loss", "update", "step", "extra")}
        return {**self.extra, **data, "layers": layers, "loss_ms": self.loss * 1e3,
                "update_ms": self.update * 1e3, "total_ms": self.total * 1e3,
                "step_ms": self.step * 1e3, "parts_over_step": self.parts_over_step,
                "parts_agree": self.parts_agree, "agreement": list(AGREEMENT),
                "forward_ms": sum(layer.forward for layer in self.layers) * 1e3,
                "backward_ms": sum(layer.backward for layer in self.layers) * 1e3}


def time_step(model, x: np.ndarray, y: np.ndarray, optimizer, lr: float,
              iterations: int = 10, flops_of: Callable[[str, bool], tuple[int, int]] | None
              = None, peak: bool = True) -> StepTiming:
    """Time ``model``'s training step on the batch ``x`` (N, ...), labels ``y`` (N,), with
    ``optimizer`` at learning rate ``lr`` (the model's weights change). The model runs in one
    thread (``model.threads`` is restored after); ``flops_of(name, need_dx)`` gives a layer's
    (forward, backward) FLOPs per example; ``peak`` also times :func:`matmul_peak`."""
    threads = model.threads
    model.threads = 1
    clocks, losses, updates, plain = [], [], [], []
    # Random weights at the spec's lr may overflow over the steps (they train on one batch);
    # the times stand, and the caller is told through ``finite``.
    try:
        with blas_threads(1), overflow_reported_by_caller():
            for _ in range(WARMUP):
                _train_step(model, x, y, optimizer, lr)
            for _ in range(iterations):
                plain.append(sum(_train_step(model, x, y, optimizer, lr)))
                model.clock = {}
                _, loss, _, update = _train_step(model, x, y, optimizer, lr)
                clocks.append(model.clock)
                losses.append(loss)
                updates.append(update)
                model.clock = None
    finally:
        model.clock = None
        model.threads = threads
    layers = _layer_timings(model, clocks, x.shape[0], flops_of)
    finite = all(np.isfinite(value).all() for value in model.params().values())
    return StepTiming(batch=x.shape[0], iterations=iterations, layers=layers,
                      loss=statistics.median(losses), update=statistics.median(updates),
                      step=statistics.median(plain),
                      peak_gflops=matmul_peak(dtype=model.dtype) if peak else None,
                      finite=finite)


def _train_step(model, x, y, optimizer, lr) -> tuple[float, float, float, float]:
    """One step; seconds of (forward, loss, backward, update)."""
    start = perf_counter()
    out = model.forward(x)
    forward = perf_counter()
    _, dout = model.loss(out, y)
    loss = perf_counter()
    model.backward(dout, input_grad=False)
    backward = perf_counter()
    optimizer.step(model.params(), model.grads(), lr)
    end = perf_counter()
    return forward - start, loss - forward, backward - loss, end - backward


def _layer_timings(model, clocks: list[dict], batch: int, flops_of) -> list[LayerTiming]:
    """Each node that ran, with the medians of its clocks and its FLOPs for the batch."""
    nodes = model._ran
    wanted = model._wants_grad(nodes, input_grad=False)
    layers = []
    for node in nodes:
        forward, backward = 0, 0
        need_dx = any(wanted[name] for name in node.inputs)
        # The engine names a fused node after its last layer; the report after its first.
        first, *rest = (*node.fused, node.name)
        for name in (first, *rest):
            if flops_of is not None:
                f, b = flops_of(name, need_dx)
                forward, backward = forward + f * batch, backward + b * batch
        layers.append(LayerTiming(
            name=first, kind="+".join(model._by_name[name].kind for name in (first, *rest)),
            fused=tuple(rest), method=node.layer.method(),
            forward=statistics.median(c.get((node.name, "forward"), 0.0) for c in clocks),
            backward=statistics.median(c.get((node.name, "backward"), 0.0) for c in clocks),
            forward_flops=forward, backward_flops=backward))
    return layers


def matmul_peak(n: int = PEAK_SIZE, repeats: int = 5, dtype=np.float32) -> float:
    """GFLOP/s of one ``n`` x ``n`` matrix product in ``dtype`` on one thread, the best of
    ``repeats`` (the closest to what the core can do when nothing else runs on it)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    out = np.empty_like(a)
    best = float("inf")
    with blas_threads(1):
        np.matmul(a, a, out=out)
        for _ in range(repeats):
            start = perf_counter()
            np.matmul(a, a, out=out)
            best = min(best, perf_counter() - start)
    return 2 * n ** 3 / best / 1e9
