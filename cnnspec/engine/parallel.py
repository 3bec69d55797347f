"""Data parallelism inside one process: a batch split into parts run by replicas in threads
(the fallback where worker processes cannot be forked; see :mod:`cnnspec.engine.processes`).

NumPy releases the GIL inside matrix products and most array operations, so two Python threads
each running half the batch with single-threaded BLAS keep two cores busy on the whole step
(im2col copies, pooling and elementwise work included), not only inside the GEMMs.

A replica is a shallow copy of every layer: it shares the parameter (and batch-norm buffer)
arrays with the model and keeps its own caches. The parameter gradients each replica's
backward returned are summed into new arrays (the loss is a mean over the whole batch, so each
part's gradient already carries the 1/N). Results equal the single-threaded ones up to
floating-point rounding in those sums. Batch norm, whose training-mode statistics are the
whole batch's, sums its per-part sums across the parts (:class:`PartSums`: the threads meet at
a barrier), as synchronised batch norm does across devices. Layers whose result depends on the
order of random draws (dropout) keep a model from splitting while it trains.

Handing the GIL over is what two parts in one process lose to (two parts in threads ran a
step 0.9-1.35 times as fast as one, in processes 1.3-1.9 times: where it can, the model runs
its parts in worker processes, :mod:`cnnspec.engine.processes`, which reuses this module's
replicas and sums): a part needs the GIL back after each NumPy call, and when
the other part holds it, it sleeps until it is released (a Winograd or max-pool layer: about
a quarter of its NumPy calls, some 40 microseconds each). CPython lets a waiting thread force
the hand-off only after the switch interval (``sys.getswitchinterval()``, 5 ms), and until
then the holder, which releases and takes the GIL back around each short NumPy call, can win
the race again and again; while parts run, the interval is therefore
:data:`SWITCH_INTERVAL` (:func:`switch_interval`), which gains a few percent. The rest of the
loss is the number of hand-offs: fewer NumPy calls a layer (or calls that do more) would cut it.
"""
from __future__ import annotations

import copy
import itertools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import numpy as np

from cnnspec.engine.blas import blas_threads
from cnnspec.records import record


class DataParallel:
    """Run ``model``'s forward and backward as ``parts`` slices of the batch in threads."""

    def __init__(self, model, parts: int) -> None:
        self.model = model
        self.parts = parts
        self.replicas = replicate_parts(model, parts)
        self.sums: list[PartSums] = []
        for index, node in enumerate(model.nodes):
            if node.layer.part_sums:  # one PartSums per layer, shared by its replicas
                shared = PartSums(parts)
                self.sums.append(shared)
                for part, replica in enumerate(self.replicas):
                    replica.nodes[index].layer.parts = shared.member(part)
        self._pool: ThreadPoolExecutor | None = None
        self._pid = None

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(output, logits or None) of the whole batch ``x`` (N, ...), concatenated from parts."""
        for replica in self.replicas:
            replica.training = self.model.training
        outs = self._run(lambda replica, part: replica.forward(part),
                         split_batch(x, self.parts))
        logits = None
        if self.model._fused_softmax:
            logits = np.concatenate([replica._logits for replica in self.replicas])
        return np.concatenate(outs), logits

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, output) of the whole batch ``x`` with labels ``y``, each part taking its
        rows' share of the loss and its backward pass (``Model.loss_and_grads``); the parts'
        parameter gradients are summed into the model's."""
        for replica in self.replicas:
            replica.training = self.model.training
        results = self._run(lambda replica, rows: replica._part_loss_and_grads(x[rows], y, rows),
                            part_slices(len(x), self.parts))
        self.model._param_grads = sum_part_grads(
            [replica._param_grads for replica in self.replicas])
        return sum(loss for loss, _ in results), np.concatenate([out for _, out in results])

    def backward(self, dout: np.ndarray, fused: bool, input_grad: bool):
        """Backward of every part; sums the parts' parameter gradients into the model's (read by
        its ``grads()``) and returns the concatenated input gradient (None unless
        ``input_grad``)."""
        parts = split_batch(dout, self.parts)
        if fused:
            for replica, part in zip(self.replicas, parts):
                replica._fused_dout = part  # each part starts below the softmax, as the whole
        dxs = self._run(lambda replica, part: replica.backward(part, input_grad), parts)
        self.model._param_grads = sum_part_grads(
            [replica._param_grads for replica in self.replicas])
        return np.concatenate(dxs) if input_grad else None

    def release(self) -> None:
        """Free every part's caches and work buffers (see :meth:`Model.release`)."""
        for replica in self.replicas:
            replica.release()

    def start(self) -> None:
        """Nothing to start: the pool's threads start with the first split batch."""

    def close(self) -> None:
        """Nothing to stop: the pool's threads end with the process."""

    def _run(self, fn, parts):
        """``fn(replica, part)`` for every part: the first in the calling thread (which would
        otherwise only wait), the others in the pool's threads."""
        pool = self._thread_pool()
        with blas_threads(1), switch_interval(SWITCH_INTERVAL):
            futures = [pool.submit(self._guarded, fn, replica, part)
                       for replica, part in zip(self.replicas[1:], parts[1:])]
            try:
                first = self._guarded(fn, self.replicas[0], parts[0])
                return [first] + [future.result() for future in futures]
            except threading.BrokenBarrierError:
                # released because another part failed: raise that part's error instead
                wait(futures)
                for future in futures:
                    error = future.exception()
                    if error is not None and not isinstance(error, threading.BrokenBarrierError):
                        raise error from None
                raise
            finally:
                wait(futures)  # every part has stopped before the sums are made ready again
                for shared in self.sums:
                    shared.reset()

    def _guarded(self, fn, replica, part):
        """``fn(replica, part)``; when it fails, the other parts waiting to sum with this one
        are released (they fail too) instead of waiting for ever."""
        try:
            return fn(replica, part)
        except BaseException:
            for shared in self.sums:
                shared.abort()
            raise

    def _thread_pool(self) -> ThreadPoolExecutor:
        # A forked child process inherits the pool object but not its threads: make a new one.
        if self._pool is None or self._pid != os.getpid():
            self._pool = ThreadPoolExecutor(max_workers=self.parts - 1,
                                            thread_name_prefix="cnnspec-part")
            self._pid = os.getpid()
        return self._pool


# The switch interval while parts run: a fifth of CPython's default, longer than most of the
# engine's NumPy calls on a chunk (tens to hundreds of microseconds), so that a part's wait for
# the GIL ends within about one of the other part's calls rather than after dozens. A small
# gain: training steps, two threads, the same model taking turns with 5 ms and 1 ms, time
# with 5 ms over time with 1 ms, medians of three runs of 9-21 rounds (Intel Xeon, AVX-512,
# OpenBLAS 0.3.31, CPython 3.11): LeNet-5 b64 1.02 / 1.07 / 1.01, b256 1.02 / 1.00 / 1.03,
# vgg_small b64 1.05 / 1.01 / 1.01, resnet_small b64 1.06 / 1.03 / 1.03. Shorter intervals
# gained no more (speed-up over one thread at 5 / 1 / 0.2 / 0.05 ms, median of 7 rounds:
# resnet_small 1.33 / 1.43 / 1.44 / 1.43, LeNet-5 b256 1.60 / 1.66 / 1.69 / 1.64, vgg_small
# 1.38 / 1.46 / 1.47 / 1.45 and, another run, 1.45 / 1.45 / 1.44 / 1.41).
SWITCH_INTERVAL = 1e-3



@record
class _SwitchHolds:
    """The engine's open holds on the switch interval, the interval to restore when the last
    closes, and the one the first set (as ``sys.getswitchinterval()`` reads it back)."""
    depth: int = 0
    previous: float | None = None
    ours: float | None = None


_switch_lock = threading.Lock()
_switch_holds = _SwitchHolds()


@contextmanager
def switch_interval(seconds: float):
    """Run the block with ``sys.setswitchinterval(seconds)``, then restore the previous
    interval. The interval is the process's: holds from several threads (two models' parts
    at once) are counted together, the first sets it and the last restores it, unless the
    user set an interval of their own meanwhile (it is then theirs that stays)."""
    holds = _switch_holds
    with _switch_lock:
        holds.depth += 1
        if holds.depth == 1:
            holds.previous = sys.getswitchinterval()
            sys.setswitchinterval(seconds)
            holds.ours = sys.getswitchinterval()
    try:
        yield
    finally:
        with _switch_lock:
            holds.depth -= 1
            if holds.depth == 0 and sys.getswitchinterval() == holds.ours:
                _restore_switch_interval(holds.previous)


def _restore_switch_interval(seconds: float) -> None:
    """Set the interval back to ``seconds``, a value ``sys.getswitchinterval()`` returned.
    CPython keeps whole microseconds, setting ``int(1e6 * seconds)`` and reading back
    ``1e-6 * us``, and that product is often a hair below ``us`` (7 ms reads back as
    0.006999999999999999, which sets 6999 us): half a microsecond more sets ``us`` itself."""
    sys.setswitchinterval((round(seconds * 1e6) + 0.5) / 1e6)


def _forget_switch_holds() -> None:
    """In a forked child: the parent's open holds belong to threads the child does not have
    (and the lock may have been held by one of them): the child gets the interval back that
    the first hold replaced, and no holds."""
    global _switch_lock, _switch_holds
    _switch_lock = threading.Lock()
    if _switch_holds.depth and sys.getswitchinterval() == _switch_holds.ours:
        _restore_switch_interval(_switch_holds.previous)
    _switch_holds = _SwitchHolds()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_forget_switch_holds)


class PartSums:
    """Sums of arrays across the parts of a batch, each part in its own thread: the parts of
    one layer call :meth:`total` the same number of times, in the same order, and each gets the
    sum over all parts (added in part order, so every part gets the same bits). Two slot
    generations alternate, so one barrier per sum suffices: a part cannot write a generation's
    slot again before every part has passed the next barrier, after reading it."""

    def __init__(self, parts: int) -> None:
        self.barrier = threading.Barrier(parts)
        self.slots = [[None] * parts, [None] * parts]
        self.calls = [0] * parts

    def member(self, part: int) -> PartMember:
        return PartMember(self, part)

    def total(self, part: int, array: np.ndarray) -> np.ndarray:
        slots = self.slots[self.calls[part] % 2]
        self.calls[part] += 1
        slots[part] = array
        self.barrier.wait()
        return sum_in_order(slots)

    def abort(self) -> None:
        self.barrier.abort()

    def reset(self) -> None:
        """Ready for the next step (after one that failed part-way: the barrier broken, the
        parts' call counts apart)."""
        if self.barrier.broken:
            self.barrier.reset()
        self.calls = [0] * len(self.calls)


class PartMember:
    """One part's view of a :class:`PartSums`: ``total(a)`` and ``first`` (part 0), what
    :func:`cnnspec.engine.norm.batchnorm_forward` reads."""

    def __init__(self, sums: PartSums, part: int) -> None:
        self.sums, self.part, self.first = sums, part, part == 0

    def total(self, array: np.ndarray) -> np.ndarray:
        return self.sums.total(self.part, array)


def split_batch(x: np.ndarray, parts: int) -> list[np.ndarray]:
    """The parts of a batch, in order (:func:`part_slices`)."""
    return [x[rows] for rows in part_slices(len(x), parts)]


def part_slices(n: int, parts: int) -> list[slice]:
    """The rows of each part of a batch of ``n``, in order: the first ones one example larger
    where ``parts`` does not divide it (what check's memory estimate counts as the largest
    part), as ``np.array_split`` cuts."""
    size, larger = divmod(n, parts)
    bounds = [part * size + min(part, larger) for part in range(parts + 1)]
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]


def replicate_parts(model, parts: int) -> list:
    """One replica of ``model`` for each part (``Model.replica``: shared parameters, caches
    of its own)."""
    return [model.replica() for _ in range(parts)]


def sum_in_order(arrays: list[np.ndarray]) -> np.ndarray:
    """The sum of the parts' ``arrays`` as a new array, added in part order: the same bits
    wherever it is made (each part of a batch norm's statistics, or the gradients' owner)."""
    total = arrays[0] + arrays[1]
    for array in arrays[2:]:
        total += array
    return total


def sum_part_grads(per_part: list[dict]) -> dict:
    """The parameter gradients of a split step: ``{layer: {key: sum over the parts}}`` from
    each part's ``{layer: {key: gradient}}`` (the first part's layers and keys)."""
    return {name: {key: sum_in_order([grads[name][key] for grads in per_part])
                   for key in layer_grads}
            for name, layer_grads in per_part[0].items()}


def replicate_layer(layer):
    """A shallow copy of ``layer``: shared parameters and buffers, its own cache and work
    buffers."""
    twin = copy.copy(layer)
    release_layer(twin)  # work buffers are per layer instance: threads must not share them
    return twin


def release_layer(layer) -> None:
    """Give ``layer`` an empty cache and, where it keeps work buffers, an empty work dict (new
    objects: a replica's are not its original's)."""
    layer.cache = None
    if hasattr(layer, "work"):
        layer.work = {}
