"""Data parallelism across processes: the parts of a split batch after the first run in worker
processes forked from this one, so that each part has an interpreter, and a GIL, of its own.

:class:`cnnspec.engine.parallel.DataParallel` runs the parts in threads of one process, and
each part waits for the GIL after every NumPy call while the other holds it: two parts in
threads ran a step 0.9-1.35 times as fast as one (LeNet-5 at batch 64 and 256, vgg_small at
64; Intel Xeon, OpenBLAS 0.3.31, CPython 3.11). :class:`ProcessParallel` runs the same parts,
the same replicas and the same sums, with the parts after the first in processes: 1.3-1.9
times as fast as one part on the same machine.

A worker is forked (POSIX ``fork``: the child starts with this process's model, replicas and
modules, nothing to import or send) when training starts (:meth:`ProcessParallel.start`) or
else the first time the model runs a split batch, after this process has given the memory it
freed back to the system (:func:`cnnspec.engine.heap.trim`): a worker keeps each page it was
forked with as its own once this process writes there, and a first run's calibration frees 75
MiB just before. It holds its part's replica, whose parameters and buffers are views of memory
shared with this process (an anonymous shared mapping made before the fork): before each
forward pass the model's current values are copied into it (whatever arrays the model's layers
hold by then: an optimizer's update, a loaded checkpoint), and the worker's parameter gradients
come back through it. The part's input is copied into memory shared with its worker after
the fork (:class:`_Inbox`); its output and its input gradient travel with the commands,
through shared memory where they fit, else through a pipe, and the ends watch a semaphore
before they sleep on it (:class:`_Line`).
Batch norm's sums meet in this process (:class:`_HubSums`): each worker sends its part's sums,
the first part adds them all in part order and sends the total back (with one worker, the two
parts send each other their sums and each adds them in part order), so every part gets the
same bits, as :class:`cnnspec.engine.parallel.PartSums` gives the threads.
Results are therefore those of the threads, bit for bit.

A worker ignores Ctrl-C and SIGTERM (the training loop finishes the step it is in, then saves;
its workers are stopped when it exits, before multiprocessing's own exit handler would send
them SIGTERM and wait: see :func:`_stop_at_exit`). It sends back the warnings NumPy raised
in it (warned again here, under this process's filters) and the error a command raised
(raised again here). When a command fails anywhere, or a step is left half-way (an exception
in this process's part), the workers may wait for sums that never come: they are stopped,
and the next split batch forks new ones. A worker that ends on its own (killed for lack of
memory) is a :class:`WorkerLost` error saying so. Workers end when the model is freed (their
pipe closes) and with this process.

Where a process cannot fork workers (not Linux: macOS's system libraries are not safe to use
after ``fork``, Windows has none; or a daemonic process, such as a multiprocessing pool's
worker, which may have no children), the model runs its parts in threads.
"""
from __future__ import annotations

import ctypes
import io
import math
import mmap
import multiprocessing
import multiprocessing.reduction
import multiprocessing.util
import os
import pickle
import signal
import sys
import time
import warnings
import weakref

import numpy as np

from cnnspec.engine import conv_tuned, heap
from cnnspec.engine.blas import blas_threads
from cnnspec.engine.parallel import (
    part_slices,
    replicate_parts,
    split_batch,
    sum_in_order,
    sum_part_grads,
)
from cnnspec.errors import RunError

# How long a wait on a line's bell lasts before checking that the other end is still there
# (a worker alive, the trainer's end of the pipe open): a process killed rings no bell, and
# its death then surfaces within this many seconds instead of never.
_POLL_SECONDS = 1.0
_ALIGN = 64  # bytes: each shared array starts on a cache line
# How long a part waiting for the other end of its line watches the line's bell before it
# sleeps in the kernel (see _Line).
_SPIN_SECONDS = 0.005
# The largest message a line's post holds (a larger one goes through the pipe): a command, a
# forward pass's answer of a part's outputs, batch norm's sums (3 numbers and 1 a channel, in
# float64: 24 KiB at 1024 channels). Only the pages a message writes are ever made.
_POST_BYTES = 1 << 20
# A worker's name, for multiprocessing and, on Linux, where the system lists processes (ps,
# top; tests/peak.py counts the trainer's children of this name as its workers).
WORKER_NAME = "cnnspec-part-{}"
_PR_SET_NAME = 15  # prctl's option that names the calling thread (linux/prctl.h)


class WorkerLost(RunError):
    """A worker process ended while it ran its part (killed, most often for lack of memory)."""


def available() -> bool:
    """Whether this process can run a batch's parts in forked worker processes (whose inputs
    go through memory files, :class:`_Inbox`, and whose lines ring semaphores, :class:`_Line`:
    a Python built without ``os.memfd_create`` or the system's semaphores runs its parts in
    threads)."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and hasattr(os, "memfd_create") and _has_semaphores()
            and not multiprocessing.current_process().daemon)


def _has_semaphores() -> bool:
    try:
        import multiprocessing.synchronize  # noqa: F401 - raises where sem_open is missing
    except ImportError:
        return False
    return True


def runs_parts(parts_in: str) -> bool:
    """Whether a model with ``parts_in`` (``model.parts_in``: "processes" or "threads") runs
    its parts after the first in worker processes here."""
    return parts_in == "processes" and available()


class ProcessParallel:
    """Run ``model``'s forward and backward as ``parts`` slices of the batch: the first in the
    calling thread, the others in worker processes (the interface of
    :class:`cnnspec.engine.parallel.DataParallel`)."""

    def __init__(self, model, parts: int) -> None:
        self.parts = parts
        self._model = weakref.ref(model)  # the model holds this object: no cycle back
        self.replicas = replicate_parts(model, parts)
        self._workers: list[_Worker] = []
        hub = _HubSums(self._workers)
        for node in self.replicas[0].nodes:
            if node.layer.part_sums:
                node.layer.parts = hub
        trained = set(model.trainable_names)
        gradients = [(name, value) for name, value in model.params().items() if name in trained]
        self._layout = _SharedLayout(list(_state_arrays(model)), [gradients] * (parts - 1))
        self._stop = weakref.finalize(self, _stop_all, self._workers)

    # ------------------------------------------------------------------ the step
    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(output, logits or None) of the whole batch ``x`` (N, ...), concatenated from parts."""
        first = self.replicas[0]
        results = self._each_part(x, "forward", lambda rows: (),
                                  lambda rows: first.forward(x[rows]))
        outs = [results[0]] + [out for out, _ in results[1:]]
        logits = None
        if first._fused_softmax:
            logits = np.concatenate([first._logits] + [part for _, part in results[1:]])
        return np.concatenate(outs), logits

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, output) of the whole batch ``x`` with labels ``y``, each part taking its
        rows' share of the loss and its backward pass in one command (``Model.loss_and_grads``:
        the parts meet once a step, not twice); the parts' parameter gradients are summed
        into the model's."""
        first = self.replicas[0]
        results = self._each_part(x, "step", lambda rows: (y, rows),
                                  lambda rows: first._part_loss_and_grads(x[rows], y, rows))
        self._sum_gradients(first, [names for _, _, names in results[1:]])
        losses = [results[0][0]] + [loss for loss, _, _ in results[1:]]
        return sum(losses), np.concatenate([results[0][1]] + [out for _, out, _ in results[1:]])

    def _each_part(self, x: np.ndarray, command: str, arguments, run_first) -> list:
        """Run ``command`` on every part of the batch ``x`` (:meth:`_command`'s results): each
        worker is sent the model's current state, its rows of ``x`` (in its inbox), then
        ``arguments(rows)`` and the model's mode; ``run_first(rows)`` runs the first part."""
        model = self._model()
        rows = part_slices(len(x), self.parts)
        self.replicas[0].training = model.training

        def send():
            self.start()
            self._layout.write_state(_state_arrays(model))
            for worker, part in zip(self._workers, rows[1:]):
                worker.send((command, worker.inbox.put(x[part], worker.line),
                             *arguments(part), model.training))

        return self._command(send, lambda: run_first(rows[0]))

    def backward(self, dout: np.ndarray, fused: bool, input_grad: bool):
        """Backward of every part; sums the parts' parameter gradients into the model's (read by
        its ``grads()``) and returns the concatenated input gradient (None unless
        ``input_grad``)."""
        if not self._workers:
            raise RunError("the forward pass before this backward pass failed, and the parts "
                           "it had run are gone", hint="run the forward pass again first")
        pieces = split_batch(dout, self.parts)
        first = self.replicas[0]
        if fused:
            first._fused_dout = pieces[0]  # each part starts below the softmax, as the whole

        def send():
            for worker, piece in zip(self._workers, pieces[1:]):
                worker.send(("backward", piece, fused, input_grad))

        results = self._command(send, lambda: first.backward(pieces[0], input_grad))
        self._sum_gradients(first, [names for _, names in results[1:]])
        if not input_grad:
            return None
        return np.concatenate([results[0]] + [dx for dx, _ in results[1:]])

    def _sum_gradients(self, first, names_per_worker: list[dict]) -> None:
        """The model's parameter gradients: the first part's (``first``, this process's
        replica) and each worker's, in the shared slots its answer named, summed in order."""
        per_part = [first._param_grads]
        for part, names in enumerate(names_per_worker, start=1):
            slots = self._layout.gradients(part)
            per_part.append({layer: {key: slots[f"{layer}.{key}"] for key in keys}
                             for layer, keys in names.items()})
        self._model()._param_grads = sum_part_grads(per_part)

    def release(self) -> None:
        """Free every part's caches and work buffers (see :meth:`Model.release`)."""
        self.replicas[0].release()
        if self._workers:
            self._command(lambda: [worker.send(("release",)) for worker in self._workers],
                          lambda: None)

    def close(self) -> None:
        """Stop the workers (the next split batch forks new ones)."""
        _stop_all(self._workers)

    # ----------------------------------------------------------------- internals
    def _command(self, send, run_first):
        """``send()`` a command to the workers, ``run_first()`` here while they run it; then
        every worker's answer: ``[first's result, worker 1's, ...]``. Any failure stops the
        workers before it is raised: they may be waiting for sums that will not come."""
        try:
            send()
            first = run_first()
            answers = [worker.answer() for worker in self._workers]
        except BaseException:
            self.close()
            raise
        return [first] + answers

    def start(self) -> None:
        """Fork the workers, unless they are running (the first split batch does, or the
        trainer before it allocates its optimizer's state and its steps)."""
        if self._workers:
            return
        model = self._model()
        if model is not None and any(node.layer.calibrated for node in model.nodes):
            # the machine's limits timed here, once, before the fork: each worker would
            # otherwise time them too, at once, holding the timers' arrays beside this
            # process's (check's memory estimate counts one calibration)
            conv_tuned.thresholds()
        # What this process freed (the timers' arrays above) goes back to the system before
        # the fork: a worker would otherwise keep each freed page it inherits, as its own,
        # once this process writes its next arrays there (a first run's worker of
        # separable.cnn was forked sharing 104 MiB with this process, 75 of them the timers'
        # freed arrays; 27 once they are given back).
        heap.trim()
        # Flushed before the fork: a child would otherwise write this process's buffered
        # output again when it ends.
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        context = multiprocessing.get_context("fork")
        for part in range(1, self.parts):
            ours, theirs = _Line.pair(context)
            # The child closes its copies of this process's ends (its own pipe's and the
            # workers' forked before it): its read then ends when this process closes them.
            parents_ends = [ours] + [worker.line for worker in self._workers]
            process = context.Process(
                target=_serve, name=WORKER_NAME.format(part), daemon=True,
                args=(theirs, parents_ends, part, self.replicas[part], self._layout))
            with warnings.catch_warnings():
                # Python 3.12+ warns that forking a process with threads may deadlock the
                # child: this child runs only NumPy on its replica and takes no lock the
                # other threads may hold.
                warnings.simplefilter("ignore", DeprecationWarning)
                process.start()
            theirs.close()
            worker = _Worker(part, process, ours)
            self._workers.append(worker)
            _LIVE.add(worker)
        _stop_at_exit()


def _state_arrays(model):
    """``(name, array)`` of every parameter and buffer of ``model``, in node order."""
    for node in model.nodes:
        for store in (node.layer.params, node.layer.buffers):
            for key, value in store.items():
                yield f"{node.name}.{key}", value


class _SharedLayout:
    """One anonymous shared mapping, made before the workers are forked: the model's
    parameters and buffers (``state``), then for each worker its parameter gradients."""

    def __init__(self, state, gradients) -> None:
        places = []  # per group, name -> (offset, shape, dtype)
        offset = 0
        for group in [state] + gradients:
            specs = {}
            for name, like in group:
                specs[name] = (offset, like.shape, like.dtype)
                offset += -(-like.nbytes // _ALIGN) * _ALIGN
            places.append(specs)
        self._memory = mmap.mmap(-1, max(offset, _ALIGN))  # MAP_SHARED: the children see it
        self._views = [{name: self._view(*spec) for name, spec in specs.items()}
                       for specs in places]

    def _view(self, offset, shape, dtype):
        count = int(np.prod(shape))
        return np.frombuffer(self._memory, dtype, count, offset).reshape(shape)

    def state(self) -> dict[str, np.ndarray]:
        return self._views[0]

    def gradients(self, part: int) -> dict[str, np.ndarray]:
        return self._views[part]

    def write_state(self, arrays) -> None:
        views = self._views[0]
        for name, value in arrays:
            _copy(views[name], value)


def _copy(target: np.ndarray, source: np.ndarray) -> None:
    """``np.copyto(target, source)``, ``target`` in C order: as bytes where ``source`` is in C
    order too, of the same dtype and shape, which costs less than the NumPy call right after
    a layer's NumPy work (the step's state and gradients, dozens of arrays: see
    :class:`_ArraysApart`)."""
    if (source.flags.c_contiguous and source.dtype == target.dtype
            and source.shape == target.shape and source.size):
        memoryview(target).cast("B")[:] = memoryview(source).cast("B")
    else:
        np.copyto(target, source)


class _Line:
    """One end of a line between this process and a worker: a pipe, and beside it, in
    shared memory, a post for each direction and two semaphores a direction (a bell: one
    count a message sent; and whether the post is free). A message goes into the post when it
    fits and the post is free (the other end has read the last message posted), else through
    the pipe; either way the bell is rung, before the pipe's write (so that a message larger
    than the pipe's buffer is read as it is written) and after the post's. The receiver
    watches its bell for up to ``_SPIN_SECONDS`` (giving its core to any process waiting for
    it), then sleeps on it; a message is in the post when the post's count is the number of
    the message awaited. The semaphores order the post's writes and reads on every processor
    (they are the system's: ``sem_post`` and ``sem_wait``, futexes on Linux).

    The parts meet once a training step (``Model.loss_and_grads``; twice where a caller runs
    forward and backward apart) and at every batch norm (its sums), and a process asleep in
    the kernel takes long to wake: a message's round trip through a pipe took 110 us when the
    receiver had just begun to wait, 220 us when it had waited 1 ms and 520 us when 10 ms,
    against 1 us through shared memory (AMD EPYC under KVM). Two parts watching their bells
    ran a step 1.22 times as fast as sleeping ones on LeNet-5 at batch 64, 1.07 at 256,
    1.04-1.06 on ResNet-small and 1.01 on VGG-small (medians of 11 alternating rounds); with
    twice as many such processes as cores, 1.01-1.05.

    The post spares a message the pipe's system calls (in a worker, writing batch norm's
    sums to the pipe took 16 us; Intel Xeon, cpu family 6, model 167, ResNet-small at batch
    64 in two parts) and its arrays their pickling (:class:`_ArraysApart`)."""

    def __init__(self, conn, posts: tuple[_Post, _Post], bells, frees) -> None:
        self.conn = conn
        self._out, self._in = posts  # each written by one end only
        self._out_bell, self._in_bell = bells
        self._out_free, self._in_free = frees
        self._sent = self._received = 0
        self._ended = False  # the other end closed the pipe

    @classmethod
    def pair(cls, context) -> tuple[_Line, _Line]:
        """The two ends of a new line: this process's, and the one a child forked next keeps."""
        ours, theirs = context.Pipe()
        size = _Post.HEADER + _POST_BYTES
        memory = mmap.mmap(-1, 2 * size)  # MAP_SHARED, zeroed: pages are made as they are used
        posts = _Post(memory, 0, size), _Post(memory, size, size)
        bells = context.Semaphore(0), context.Semaphore(0)
        frees = context.Semaphore(1), context.Semaphore(1)
        return (cls(ours, posts, bells, frees),
                cls(theirs, posts[::-1], bells[::-1], frees[::-1]))

    def send(self, message) -> None:
        if self._ended:  # a worker's answer to a trainer that has gone: see _run_commands
            raise BrokenPipeError("the other end of the line closed it")
        post = self._out
        packed = post.pack(message)
        if packed is not None and self._out_free.acquire(False):
            post.write(*packed)
            self._sent += 1
            post.header[0] = self._sent  # the post now holds this message
            self._out_bell.release()
        else:
            self._sent += 1
            data = multiprocessing.reduction.ForkingPickler.dumps(message)  # Connection.send's
            self._out_bell.release()  # first: the read of a large message lets its write end
            self.conn.send_bytes(data)

    def poll(self, seconds: float | None) -> bool:
        """Whether a message is waiting (or the other end closed the pipe), watching the bell
        for up to ``_SPIN_SECONDS``, then sleeping on it for up to ``seconds`` (None: until a
        message comes or the pipe closes, which is looked at every ``_POLL_SECONDS``)."""
        ring = self._in_bell.acquire
        start = time.perf_counter()
        while not ring(False):
            if time.perf_counter() - start > _SPIN_SECONDS:
                return self._sleep(seconds)
            os.sched_yield()  # a process waiting for this core runs first
        return True

    def _sleep(self, seconds: float | None) -> bool:
        while not self._in_bell.acquire(True, _POLL_SECONDS if seconds is None else seconds):
            if self.conn.poll(0):  # the pipe closed (or a message came since: rung first)
                self._in_bell.acquire(False)
                return True
            if seconds is not None:
                return False
        return True

    def recv(self):
        """The next message (after :meth:`poll` said one is waiting)."""
        self._received += 1
        post = self._in
        if post.header[0] != self._received:
            try:
                return multiprocessing.reduction.ForkingPickler.loads(self.conn.recv_bytes())
            except EOFError:
                self._ended = True
                raise
        message = post.read()
        self._in_free.release()  # after the copies above: the post may be written again
        return message

    def close(self) -> None:
        """Close this process's copy of the end (the other end is not woken: a forked copy
        closed, whose original stays open)."""
        self.conn.close()

    def hang_up(self) -> None:
        """Close this end and wake the other, which then reads the pipe's end (an end the
        system closes, its process killed, the other finds within ``_POLL_SECONDS``)."""
        self.conn.close()
        self._out_bell.release()


class _Post:
    """One direction's room in a line's shared memory: a header (the number of the message
    it holds, then the length of its pickle), the pickle, then the message's arrays, each
    copied in raw (a cache line apart) and named in the pickle by its place, dtype and shape
    (:class:`_ArraysApart`)."""

    HEADER = 2 * 8  # bytes

    def __init__(self, memory: mmap.mmap, offset: int, size: int) -> None:
        self.header = np.frombuffer(memory, np.int64, 2, offset)
        self.body = memoryview(memory)[offset + self.HEADER:offset + size]
        self._pickle = io.BytesIO()  # reused: a message's pickle is written over the last

    def pack(self, message) -> tuple[int, list[np.ndarray]] | None:
        """``message`` pickled with its arrays apart: the pickle's length (the pickle is kept
        here for :meth:`write`) and the arrays; None where they would not fit."""
        self._pickle.seek(0)
        arrays: list[np.ndarray] = []
        _ArraysApart(self._pickle, arrays).dump(message)
        size = self._pickle.tell()
        end = _aligned(size) + sum(_aligned(array.nbytes) for array in arrays)
        return (size, arrays) if end <= len(self.body) else None

    def write(self, size: int, arrays: list[np.ndarray]) -> None:
        """Copy in what :meth:`pack` made."""
        self.body[:size] = self._pickle.getbuffer()[:size]
        offset = _aligned(size)
        for array in arrays:  # byte copies: a NumPy call costs more (see _ArraysApart)
            self.body[offset:offset + array.nbytes] = memoryview(array).cast("B")
            offset += _aligned(array.nbytes)
        self.header[1] = size

    def read(self):
        """The message the post holds, its arrays copied out (the post is written again)."""
        size = int(self.header[1])
        return _ArraysBack(io.BytesIO(self.body[:size]), self.body[_aligned(size):]).load()


def _aligned(nbytes: int) -> int:
    return -(-nbytes // _ALIGN) * _ALIGN


class _ArraysApart(pickle.Pickler):
    """Pickles a message but for its arrays of numbers in C order, each named by its place
    after the pickle, dtype and shape, to be copied in and out as bytes. In a worker, right
    after a layer's NumPy work, pickling batch norm's sums (48-97 numbers) took 40-57 us (a
    second time 11); after a 32 MB copy had filled the caches, pickling a forward pass's
    answer of two arrays of 32 x 10 took 32 us, a NumPy copy of the two into the post 39 and
    a copy of their bytes 12 (Intel Xeon, cpu family 6, model 167)."""

    def __init__(self, file, arrays: list[np.ndarray]) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self._arrays = arrays
        self._offset = 0

    def persistent_id(self, obj):
        if (type(obj) is not np.ndarray or obj.dtype.kind not in "biufc"
                or not obj.flags.c_contiguous or not obj.size):
            return None  # pickled as it is
        self._arrays.append(obj)
        place = self._offset
        self._offset += _aligned(obj.nbytes)
        return place, obj.dtype.str, obj.shape


class _ArraysBack(pickle.Unpickler):
    """Unpickles what :class:`_ArraysApart` pickled, copying each array out of ``arrays``."""

    def __init__(self, file, arrays: memoryview) -> None:
        super().__init__(file)
        self._memory = arrays

    def persistent_load(self, pid):
        place, dtype, shape = pid
        dtype = np.dtype(dtype)
        copied = bytearray(self._memory[place:place + math.prod(shape) * dtype.itemsize])
        return np.frombuffer(copied, dtype).reshape(shape)


class _Inbox:
    """A part's input, in memory this process shares with one worker: a memory file (Linux's
    ``memfd``) mapped at both ends, made here when a part first needs it, or a larger one when
    a part outgrows it, its descriptor passed through the line (an ``AF_UNIX`` socket).

    Through the pipe, a part's input was pickled here, written through the pipe's 64 KiB
    buffer as the worker read it, and copied twice more there: the sender waited for the
    worker's reads (a part of LeNet-5 at batch 256, 512 KB, took 2.7 ms of a 30 ms two-part
    step to send; at batch 64, 128 KB, 0.2 ms). Here it is one copy, and the worker reads the
    part in place (its layers keep the input they are given unchanged, and the next part is
    written only with the next forward command, after this one's answer)."""

    def __init__(self) -> None:
        self._memory: mmap.mmap | None = None

    def put(self, x: np.ndarray, line: _Line) -> tuple[tuple[int, ...], str]:
        """Copy ``x`` in (growing the memory first, the worker told through ``line``) and
        return what the worker's :meth:`take` reads it by: its shape and dtype."""
        if self._memory is None or len(self._memory) < x.nbytes:
            self._memory = _grow(line, x.nbytes)
        _copy(_viewed(self._memory, x.shape, x.dtype), x)
        return x.shape, x.dtype.str

    def receive(self, line: _Line) -> None:
        """The worker's side of a growth: the new memory's descriptor, read from ``line``."""
        handle = multiprocessing.reduction.recv_handle(line.conn)
        try:
            self._memory = mmap.mmap(handle, os.fstat(handle).st_size)
        finally:
            os.close(handle)

    def take(self, shape, dtype: str) -> np.ndarray:
        """The worker's view of the part :meth:`put` copied in."""
        return _viewed(self._memory, shape, np.dtype(dtype))


def _grow(line: _Line, nbytes: int) -> mmap.mmap:
    """A new shared memory file of ``nbytes`` (a cache line at least), mapped here, whose
    descriptor follows a ``("grown",)`` message through ``line``. The old mapping is left to
    the arrays that may still view it."""
    handle = os.memfd_create("cnnspec-part-input")
    try:
        os.ftruncate(handle, max(nbytes, _ALIGN))
        memory = mmap.mmap(handle, max(nbytes, _ALIGN))
        line.send(("grown",))
        multiprocessing.reduction.send_handle(line.conn, handle, None)
    finally:
        os.close(handle)
    return memory


def _viewed(memory: mmap.mmap, shape, dtype: np.dtype) -> np.ndarray:
    return np.frombuffer(memory, dtype, int(np.prod(shape)), 0).reshape(shape)


class _HubSums:
    """Part 0's side of batch norm's sums across processes (``total(a)`` and ``first``, what
    :func:`cnnspec.engine.norm.batchnorm_forward` reads): every worker's part sends its array,
    the total is made here in part order and sent back to each. With one worker, the two
    parts send each other their arrays and each adds them in part order (the same bits): a
    part then waits for one message, not for a message there and the total back, which the
    worker waited for at each of ResNet-small's 20 sums a step (its round trip took 160 us
    through the pipe, 2 parts of batch 64, Intel Xeon, cpu family 6, model 167)."""

    first = True

    def __init__(self, workers: list[_Worker]) -> None:
        self._workers = workers  # the running ones: the list is filled and emptied in place

    def total(self, array: np.ndarray) -> np.ndarray:
        if len(self._workers) == 1:
            (worker,) = self._workers
            worker.send(("sum", array))
            return sum_in_order([array, worker.answer("sum")])
        arrays = [array] + [worker.answer("sum") for worker in self._workers]
        total = sum_in_order(arrays)
        for worker in self._workers:
            worker.send(("total", total))
        return total


class _WorkerSums:
    """A worker's side of :class:`_HubSums`: the total, or the first part's array to add to
    its own."""

    first = False

    def __init__(self, line: _Line) -> None:
        self._line = line

    def total(self, array: np.ndarray) -> np.ndarray:
        self._line.send(("sum", array))
        self._line.poll(None)
        kind, body = self._line.recv()
        assert kind in ("sum", "total"), kind
        return sum_in_order([body, array]) if kind == "sum" else body


class _Worker:
    """This process's end of one worker: its process and pipe."""

    def __init__(self, part: int, process, line: _Line) -> None:
        self.part, self.process, self.line = part, process, line
        self.inbox = _Inbox()
        self.parent = os.getpid()  # a process forked later holds a copy it must not stop

    def send(self, message) -> None:
        try:
            self.line.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
            raise self._ended() from None

    def answer(self, expected: str = "done"):
        """The worker's next answer of kind ``expected`` (its warnings warned here first); the
        error it sends instead is raised here."""
        try:
            while not self.line.poll(_POLL_SECONDS):
                if not self.process.is_alive():
                    raise self._ended()
            kind, *body = self.line.recv()
        except (EOFError, ConnectionResetError, OSError):
            raise self._ended() from None
        if kind == "error":
            raise body[0]
        assert kind == expected, (kind, expected)
        if kind == "sum":
            return body[0]
        result, caught = body
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno)
        return result

    def _ended(self) -> WorkerLost:
        self.process.join(_POLL_SECONDS)
        code = self.process.exitcode
        if code == -signal.SIGKILL:
            how = "was killed by signal 9 (SIGKILL)"
            # what the kernel sends when memory runs out, and the likeliest sender here
            hint = ("a process killed while it runs is most often out of memory: a smaller "
                    "batch needs less")
        elif code is not None and code < 0:
            how = f"was stopped by signal {-code} ({_signal_name(-code)})"
            hint = "something outside cnnspec stopped it: run the command again"
        else:
            how = (f"ended with exit code {code}" if code is not None
                   else "closed its pipe and stopped answering")
            hint = "run the command again"
        return WorkerLost(f"the process running part {self.part + 1} of the batch {how}",
                          hint=hint)

    def stop(self) -> None:
        self.line.hang_up()  # the worker reads the end of its pipe and returns
        self.process.join(_POLL_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop()
        _LIVE.discard(worker)
    workers.clear()


# Every worker that has not been stopped; the processes whose exit stops theirs.
_LIVE: set[_Worker] = set()
_STOPPED_AT_EXIT: set[int] = set()


def _stop_at_exit() -> None:
    """Have this process stop its workers when it exits, before multiprocessing's exit function
    sends its daemonic children SIGTERM (which a worker ignores) and waits for them: as a
    finalizer that function runs first. It runs at the main process's exit, and where
    multiprocessing started this process (a pool's worker training a sweep's cell) as soon as
    its target returns, before any ``atexit`` handler would. Registered in each process that
    forks workers, the first time: a child's registry starts empty."""
    if os.getpid() not in _STOPPED_AT_EXIT:
        _STOPPED_AT_EXIT.add(os.getpid())
        multiprocessing.util.Finalize(None, _stop_own_workers, exitpriority=10)


def _stop_own_workers() -> None:
    _stop_all([worker for worker in _LIVE if worker.parent == os.getpid()])


# ----------------------------------------------------------------------- the worker
def _serve(line, parents_ends, part: int, replica, layout: _SharedLayout) -> None:
    """A worker's life: its replica's parameters and buffers become the shared views, then
    commands are run until the pipe closes."""
    _name_process(WORKER_NAME.format(part))
    for end in parents_ends:
        end.close()
    # Sent to the whole group (Ctrl-C, or SIGTERM from `kill`, `timeout`, a scheduler), they
    # ask the trainer to stop after its step, which needs this part: the trainer decides.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    state = layout.state()
    for node in replica.nodes:
        for store in (node.layer.params, node.layer.buffers):
            for key in store:
                store[key] = state[f"{node.name}.{key}"]
        if node.layer.part_sums:
            node.layer.parts = _WorkerSums(line)
    # One BLAS thread for the worker's life, as the part in the trainer runs: a worker forked
    # outside the trainer's step (Model.start_parts, before training) inherits the process's
    # count, and each command's own hold (in Model.forward and backward) then set it to one and
    # back, four calls a step, the way back starting a BLAS thread the worker never uses.
    with blas_threads(1):
        _run_commands(line, part, replica, layout)


def _run_commands(line, part: int, replica, layout: _SharedLayout) -> None:
    """Run the commands that come through ``line`` on ``replica`` until the pipe closes."""
    commands = {"forward": _forward, "backward": _backward, "step": _step,
                "release": _release}
    inbox = _Inbox()
    while True:
        try:
            line.poll(None)
            name, *args = line.recv()
            if name == "grown":  # no answer: the command that needs it follows
                inbox.receive(line)
                continue
        except (EOFError, OSError):
            return
        if name in ("forward", "step"):  # the command names its part in the inbox
            args[0] = inbox.take(*args[0])
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = commands[name](replica, layout.gradients(part), *args)
            reply = ("done", result, [(str(w.message), w.category, w.filename, w.lineno)
                                      for w in caught])
        except Exception as error:  # noqa: BLE001 - sent to the parent, which raises it
            reply = ("error", _picklable(error))
        try:
            line.send(reply)
        except OSError:  # the parent closed its end: it no longer waits for this step
            return


def _name_process(name: str) -> None:
    """Name this process ``name`` where the system lists processes (Linux's ``comm``, 15 bytes
    at most: "cnnspec-part-63" fits), beside the trainer's and the programs it runs."""
    ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15])


def _forward(replica, _slots, x, training):
    replica.training = training
    out = replica.forward(x)
    return out, (replica._logits if replica._fused_softmax else None)


def _backward(replica, slots, dout, fused, input_grad):
    if fused:
        replica._fused_dout = dout
    dx = replica.backward(dout, input_grad)
    return dx, _posted_gradients(replica, slots)


def _step(replica, slots, x, y, rows, training):
    """The part's ``Model.loss_and_grads``: its share of the loss, its output, and the
    names of the gradients it copied into ``slots``."""
    replica.training = training
    loss, out = replica._part_loss_and_grads(x, y, rows)
    return loss, out, _posted_gradients(replica, slots)


def _posted_gradients(replica, slots) -> dict[str, list[str]]:
    """Copy the replica's parameter gradients into ``slots`` (memory shared with the
    trainer); ``{layer: [key, ...]}`` of those copied."""
    names = {}
    for layer, grads in replica._param_grads.items():
        for key, grad in grads.items():
            _copy(slots[f"{layer}.{key}"], grad)
        names[layer] = list(grads)
    return names


def _release(replica, _slots):
    """Free the replica's caches and work buffers, and give the memory back to the system:
    the model releases its parts when it runs a batch whole (a recorded step, a short last
    batch), and what the worker freed would otherwise stay in its heap, of no use to the
    training process."""
    replica.release()
    heap.trim()


def _picklable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else a RuntimeError with its type and message."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except (pickle.PickleError, TypeError, AttributeError, ValueError):
        return RuntimeError(f"{type(error).__name__}: {error}")
