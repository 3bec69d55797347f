"""Data parallelism inside one process: a batch split into parts run by replicas in threads.

NumPy releases the GIL inside matrix products and most array operations, so two Python threads
each running half the batch with single-threaded BLAS keep two cores busy on the whole step
(im2col copies, pooling and elementwise work included), not only inside the GEMMs.

A replica is a shallow copy of every layer: it shares the parameter (and batch-norm buffer)
arrays with the model and keeps its own caches. The parameter gradients each replica's
backward returned are summed into new arrays (the loss is a mean over the whole batch, so each
part's gradient already carries the 1/N). Results equal the single-threaded ones up to
floating-point rounding in those sums. Layers whose training-mode result depends on the whole
batch (batch norm's statistics) or on the order of random draws (dropout) keep a model from
splitting while it trains.
"""
from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cnnspec.engine.blas import blas_threads

MIN_PART = 8  # smaller parts cost more in thread hand-offs than they save


class DataParallel:
    """Run ``model``'s forward and backward as ``parts`` slices of the batch in threads."""

    def __init__(self, model, parts: int) -> None:
        self.model = model
        self.parts = parts
        self.replicas = [model.replica() for _ in range(parts)]
        self._pool: ThreadPoolExecutor | None = None
        self._pid = None

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(output, logits or None) of the whole batch ``x`` (N, ...), concatenated from parts."""
        for replica in self.replicas:
            replica.training = self.model.training
        outs = self._run(lambda replica, part: replica.forward(part),
                         np.array_split(x, self.parts))
        logits = None
        if self.model._fused_softmax:
            logits = np.concatenate([replica._logits for replica in self.replicas])
        return np.concatenate(outs), logits

    def backward(self, dout: np.ndarray, fused: bool, input_grad: bool):
        """Backward of every part; sums the parts' parameter gradients into the model's (read by
        its ``grads()``) and returns the concatenated input gradient (None unless
        ``input_grad``)."""
        parts = np.array_split(dout, self.parts)
        if fused:
            for replica, part in zip(self.replicas, parts):
                replica._fused_dout = part  # each part starts below the softmax, as the whole
        dxs = self._run(lambda replica, part: replica.backward(part, input_grad), parts)
        per_part = [replica._param_grads for replica in self.replicas]
        self.model._param_grads = {
            name: {key: _sum([grads[name][key] for grads in per_part]) for key in layer_grads}
            for name, layer_grads in per_part[0].items()}
        return np.concatenate(dxs) if input_grad else None

    def _run(self, fn, parts):
        """``fn(replica, part)`` for every part: the first in the calling thread (which would
        otherwise only wait), the others in the pool's threads."""
        pool = self._thread_pool()
        with blas_threads(1):
            futures = [pool.submit(fn, replica, part)
                       for replica, part in zip(self.replicas[1:], parts[1:])]
            first = fn(self.replicas[0], parts[0])
            return [first] + [future.result() for future in futures]

    def _thread_pool(self) -> ThreadPoolExecutor:
        # A forked child process inherits the pool object but not its threads: make a new one.
        if self._pool is None or self._pid != os.getpid():
            self._pool = ThreadPoolExecutor(max_workers=self.parts - 1,
                                            thread_name_prefix="cnnspec-part")
            self._pid = os.getpid()
        return self._pool


def _sum(arrays):
    total = arrays[0] + arrays[1]
    for array in arrays[2:]:
        total += array
    return total


def replicate_layer(layer):
    """A shallow copy of ``layer``: shared parameters and buffers, its own cache and work
    buffers."""
    twin = copy.copy(layer)
    twin.cache = None
    if hasattr(layer, "work"):
        twin.work = {}  # work buffers are per layer instance: threads must not share them
    return twin
