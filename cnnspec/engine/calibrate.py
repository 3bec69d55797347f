"""The thresholds of the tuned convolution (:mod:`cnnspec.engine.conv_tuned`), chosen on the
machine that runs it, once, at first use.

The tuned convolution multiplies a batch chunk by chunk, so that each chunk's im2col matrix
stays in a core's cache between the copy that builds it and the GEMM that reads it. How big a
chunk should be depends on the machine (the constants this replaces were tuned where a core
had 2 MB of L2 cache; the Zen 4 EPYC the engine is benchmarked on has 1 MB):

- ``chunk_bytes``, one core's L2 cache, of which a chunk's im2col matrix takes a share
  (:func:`cnnspec.engine.chunking.column_bytes`), as the CPU reports it (Linux:
  ``/sys/devices/system/cpu/cpu0/cache``). That is the quantity the rule is
  about, so it is read, not timed: timing whole layers at five chunk sizes on a shared two-core
  machine gave run-to-run spreads of 10-40% for the same setting, far above the differences
  sought, and far beyond a 0.3 s budget to average out. Without a report, 2 MB; at most
  ``MAX_CHUNK_BYTES`` (:mod:`cnnspec.engine.chunking`: check's memory estimate relies on it).
- ``chunk_columns``, the most columns a chunk has: thin products (a first layer's
  C*kh*kw ~ 25 rows) slow down past a few thousand columns, where the BLAS kernel's blocking
  falls out of cache; where that happens depends on the BLAS build and the CPU, so it is
  timed, and the smallest candidate within 5% of the best wins. Without a measurement, 2048.
  The timer is the tuned convolution's own
  (:func:`cnnspec.engine.conv_tuned.time_columns`: a few thin layers' forward and backward
  passes as a network runs them, each candidate in turn, the best of a few rounds; about
  0.2 s), handed to :func:`thresholds` by that module, which this one cannot import.

  Timing LeNet's first layer alone, forward only, one copy and one product a chunk in a
  Python loop, charged small chunks for a loop the engine does not run (its thin layers'
  chunks are one copy and one batched product) and chose 4096 columns on an Intel Xeon
  (AVX-512, 2 MiB L2, OpenBLAS 0.3.31) where 1024 is faster. Whole training steps there, one
  thread, medians of 7 alternating rounds, ms, 4096 / 1024 columns: VGG-small batch 64 81.7 /
  77.8, a 200-layer 8-channel net on 8x8 at batch 32 95.7 / 71.5, LeNet-5 at batch 64 and 256
  and ResNet-small within 1%.

- ``winograd_bytes``, the most bytes of transformed tiles a chunk of images of a Winograd
  layer holds (:mod:`cnnspec.engine.winograd`): how large a chunk is fastest depends on the
  L2 cache and on whether the BLAS runs thin GEMMs faster below a size (its kernels for small
  matrices) or above it, which differ between CPUs and BLAS builds
  (:data:`cnnspec.engine.chunking.WINOGRAD_CANDIDATES`), so it is timed as the column limit
  is, by :func:`cnnspec.engine.conv_tuned.time_winograd` (two ResNet-style layers, five
  rounds, 0.4-0.6 s on a busy two-core machine: with two rounds, bursts of load from other
  processes made any candidate come out best), and the fastest wins: its chunks hold a few
  MB at most, shared by a geometry's layers, where a column limit's may hold tens. Without a
  measurement, ``FALLBACK_WINOGRAD_BYTES``.
- ``block_bytes``, the most bytes a block of images copies before the products that read
  the copy: the buffers of a block multiplied by kernel rows (:mod:`cnnspec.engine.row_taps`,
  LeNet-5's second layer) and a thin layer's group of kept im2col chunks (a first layer's).
  A share of the L2 cache, the rule before, gave blocks and groups 10-40% slower than ones
  past it on an AMD EPYC Zen 3 (:data:`cnnspec.engine.chunking.BLOCK_CANDIDATES`), so it is
  timed as the Winograd limit is, by :func:`cnnspec.engine.conv_tuned.time_blocks`, and the
  fastest wins (a block holds 2 MB at most); about 0.5 s on a busy two-core machine.
  Without a measurement, ``FALLBACK_BLOCK_BYTES``.

The timers count the CPU time of the thread that runs the layers, not the clock's: a first use
on a shared machine is timed while other processes take turns on its cores.

The kept-columns limit and the input-gradient rule of :mod:`cnnspec.engine.conv_tuned` are
constants justified there.

Chunk sizes change only speed, and values up to float summation order: the weight gradient is
a sum of per-chunk products, and OpenBLAS picks its kernels (and so the order of each dot
product's sums) by the size of a product, so two chunkings give outputs and gradients that
differ in the last bits (a few float32 ulps: 1e-6 relative on LeNet's first layer; the tests
compare tuned and reference convolutions to 1e-12 in float64). For runs to repeat bitwise on a
machine, the timed thresholds are measured once per machine and kept in
``$XDG_CACHE_HOME/cnnspec`` (default ``~/.cache/cnnspec``), in a file named after the CPU model,
the BLAS library and the NumPy version; the first process to write it wins and every process
uses what the file holds. Where the file cannot be written, or with
``CNNSPEC_CALIBRATE=0``, the fallback constants are used (they are deterministic too).

A first use on a busy machine can keep a poor choice (successive first uses on a loaded
two-core machine chose 1024 or 2048 columns, a Winograd limit of 512 KiB or 1 MiB), and the
file is never measured again by itself: :func:`recalibrate` (``cnnspec time --calibrate``)
measures the thresholds again, on one BLAS thread as a first use does, and replaces the file
with them. A quiet machine measures best. Runs before and after it may differ in the last bits,
for the reason above; processes already running keep the thresholds they read.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np

from cnnspec.atomic import NotWritten, file_in_the_way, write_text
from cnnspec.engine.chunking import (
    CALIBRATION_TIMERS,
    FALLBACK_BLOCK_BYTES,
    FALLBACK_CHUNK_BYTES,
    FALLBACK_CHUNK_COLUMNS,
    FALLBACK_WINOGRAD_BYTES,
    MAX_CHUNK_BYTES,
    calibration_off,
    cpu_model,
    kept_limits,
    l2_cache_bytes,
    machine_key_of,
    thresholds_file,
)
from cnnspec.errors import RunError, SettingError
from cnnspec.records import record
from cnnspec.usercache import CACHE_DIR_TEXT

_WITHIN = 1.05  # the smallest candidate this close to the best: a smaller chunk, same speed


@record(frozen=True)
class Thresholds:
    """``chunk_bytes``, ``chunk_columns``, ``winograd_bytes`` and ``block_bytes`` (see
    the module docstring) and where they came from (``source``: "measured", "cached" or
    "fallback")."""

    chunk_bytes: int = FALLBACK_CHUNK_BYTES
    chunk_columns: int = FALLBACK_CHUNK_COLUMNS
    winograd_bytes: int = FALLBACK_WINOGRAD_BYTES
    block_bytes: int = FALLBACK_BLOCK_BYTES
    source: str = "fallback"

    def as_dict(self) -> dict[str, int]:
        """The four limits by name, as the machine's file keeps them (no ``source``)."""
        record = asdict(self)
        del record["source"]
        return record


def largest_limits(chunk_bytes: int) -> Thresholds:
    """The largest candidate of every limit calibration times (``CALIBRATION_TIMERS``),
    beside ``chunk_bytes``: the limits whose chunks and blocks check's memory estimate counts
    (:mod:`cnnspec.engine.footprint`), under which a step allocates the most it can."""
    largest = {name: max(candidates) for name, _, candidates in CALIBRATION_TIMERS}
    return Thresholds(chunk_bytes, source="largest", **largest)


@record(frozen=True)
class Recalibration:
    """What :func:`recalibrate` did: the thresholds the machine's file held before (``old``,
    None where it held none that could be read), those measured now (``new``), and the file
    (``path``)."""

    old: Thresholds | None
    new: Thresholds
    path: Path


def load_averages() -> tuple[float, float, float] | None:
    """The machine's load averages over 1, 5 and 15 minutes (processes running or waiting
    for a core): how busy it was while measuring; None where the system keeps none."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):  # Windows has no load average
        return None


def load_text(load: tuple[float, float, float] | None) -> str:
    """The load averages (:func:`load_averages`) as figures are printed with them:
    ``2.1/1.4/0.9``, or ``unknown``."""
    return "/".join(f"{value:.1f}" for value in load) if load else "unknown"


def choose_columns(relative: dict[int, float]) -> int:
    """The smallest column limit within 5% of the best (``relative``: each candidate's time
    over the fastest's, as the timer returns them)."""
    fastest = min(relative.values())
    return min(columns for columns, value in relative.items() if value <= _WITHIN * fastest)


def choose_fastest(relative: dict[int, float]) -> int:
    """The fastest limit (``relative`` as for :func:`choose_columns`): a Winograd chunk or a
    block holds a few MB at most, so speed alone decides."""
    return min(relative, key=relative.get)


# How the winner of each timed limit (chunking.CALIBRATION_TIMERS) is chosen from its timer's
# relative times (the module docstring says why).
CHOICE = {"chunk_columns": choose_columns, "winograd_bytes": choose_fastest,
          "block_bytes": choose_fastest}


def measure(timer, winograd_timer, block_timer) -> Thresholds:
    """Thresholds for this machine, measured now by ``timer`` (``timer(chunk_bytes,
    candidates)``: each candidate column limit's time over the fastest's),
    ``winograd_timer`` (``winograd_timer(candidates)``: each Winograd chunk limit's) and
    ``block_timer`` (the same for the block limits), see the module docstring; no file
    read or written. Timed on one BLAS thread, as the engine runs
    its products (:mod:`cnnspec.engine.blas`), whatever the caller's count: a first use
    outside a training step (a test calling a convolution directly) timed on two threads
    and chose the 512 KiB Winograd limit, 12-17% slower than the others on one (AMD EPYC,
    family 25 model 1)."""
    from cnnspec.engine.blas import blas_threads  # threadpoolctl: on a first calibration only

    chunk_bytes = min(l2_cache_bytes() or FALLBACK_CHUNK_BYTES, MAX_CHUNK_BYTES)
    timers = {"chunk_columns": partial(timer, chunk_bytes), "winograd_bytes": winograd_timer,
              "block_bytes": block_timer}
    with blas_threads(1):
        limits = {name: CHOICE[name](timers[name](candidates))
                  for name, _, candidates in CALIBRATION_TIMERS}
    return Thresholds(chunk_bytes, **limits, source="measured")


_FIRST_USE = threading.Lock()


# The thresholds found in this process, by the timers that would measure them.
_FOUND: dict[tuple, Thresholds] = {}


def thresholds(timer, winograd_timer, block_timer) -> Thresholds:
    """This machine's thresholds: from the cache file, else measured by the timers
    (:func:`measure`) and written there first; the fallback constants when calibration is
    switched off or the file cannot be written. Found once a process (and set of timers), so
    every convolution after the first reads them without taking a lock: the parts of a split
    batch, in threads, meet their first convolutions at once, and the one that comes second
    waits for the first one's thresholds rather than timing them beside it (check's memory
    estimate counts one calibration)."""
    key = (timer, winograd_timer, block_timer)
    found = _FOUND.get(key)
    if found is None:
        with _FIRST_USE:
            found = _FOUND.get(key)
            if found is None:
                found = _FOUND[key] = _found(timer, winograd_timer, block_timer)
    return found


thresholds.cache_clear = _FOUND.clear  # forget them, as of a cached function


def _found(timer, winograd_timer, block_timer) -> Thresholds:
    """:func:`thresholds`, read from the file or measured and written there."""
    if calibration_off():
        return Thresholds()
    path = _cache_path()
    stored = _read(path)
    if stored is not None:
        return stored
    try:
        _write_once(path, measure(timer, winograd_timer, block_timer))
    except OSError:
        return Thresholds()
    return _read(path) or Thresholds()  # the first writer's values, whoever that was




def recalibrate(timer, winograd_timer, block_timer) -> Recalibration:
    """Measure this machine's thresholds again now, with the timers of :func:`thresholds`
    (:func:`measure`), and replace the machine's file with them atomically (a reader sees the
    old file or the new one, never half of one): a deliberate recalibration replaces what a
    first use kept, where a first use never overwrites another's file. This process uses the
    new thresholds from now on. A :class:`~cnnspec.errors.SettingError` with calibration
    switched off (``CNNSPEC_CALIBRATE=0``), a :class:`~cnnspec.errors.RunError` where the file
    cannot be written (checked before anything is timed); the file is then as it was."""
    if calibration_off():
        raise SettingError("calibration is switched off (CNNSPEC_CALIBRATE=0): the fallback "
                           "thresholds hold and none are measured or kept",
                           hint="unset CNNSPEC_CALIBRATE (or set it to 1) to measure them",
                           invalid=True)
    path = _cache_path()
    old = _read(path)
    _make_cache_folder(path.parent)
    new = measure(timer, winograd_timer, block_timer)
    try:
        write_text(path, _record(new))
    except NotWritten as exc:
        raise _unwritable(path, exc.reason) from None
    thresholds.cache_clear()  # read the new file from now on
    return Recalibration(old, new, path)


def _make_cache_folder(folder: Path) -> None:
    """Create ``folder`` (the cache folder) and its parents, or say why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # mkdir says only "File exists" or "Not a directory" of a file in the way: name it
        blocking = file_in_the_way(folder)
        reason = (exc.strerror or str(exc) if blocking is None
                  else "it is a file, not a folder" if blocking == folder
                  else f"{blocking} is a file, not a folder")
        raise _unwritable(folder, reason) from None


def _unwritable(path: Path, reason: str) -> RunError:
    """The error of a machine's file that cannot be written at ``path``, for ``reason``."""
    return RunError(f"cannot keep the thresholds in {path}: {reason}",
                    hint=f"the file is kept in {CACHE_DIR_TEXT}: make that a writable folder, "
                    "or set XDG_CACHE_HOME to one (nothing was changed)")


def machine_key() -> str:
    """What the thresholds depend on: the CPU model with its generation (:func:`cpu_model`: a
    home folder shared by a Zen 3 and a Zen 4 machine, both "AMD EPYC", keeps a file for
    each, as their caches differ), the BLAS library, NumPy's version and how they are timed."""
    from cnnspec.engine.blas import library_names  # threadpoolctl: only when calibrating

    return machine_key_of(cpu_model(), library_names(), np.__version__)


def _cache_path() -> Path:
    return thresholds_file(machine_key())


def _read(path: Path) -> Thresholds | None:
    """The thresholds kept at ``path``, or None where it holds none that :func:`measure`
    could have written (:func:`cnnspec.engine.chunking.kept_limits`)."""
    kept = kept_limits(path)
    if kept is None:
        return None
    # capped as measure() caps it: a file written before the cap must not make chunks larger
    # than check's memory estimate counts
    return Thresholds(min(kept["chunk_bytes"], MAX_CHUNK_BYTES), kept["chunk_columns"],
                      kept["winograd_bytes"], kept["block_bytes"], "cached")


def _record(found: Thresholds) -> str:
    """The text of a machine's file holding ``found``: its limits and the machine's key."""
    return json.dumps({**found.as_dict(), "key": machine_key()}, indent=1) + "\n"


def _write_once(path: Path, found: Thresholds) -> None:
    """Write ``found`` to ``path`` unless a file is already there (a temporary file hard-linked
    into place: a concurrent writer's file is never replaced, nor read half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(_record(found))
    try:
        os.link(temp, path)
    except FileExistsError:
        pass  # another process wrote it first: its thresholds stand, so runs agree
    finally:
        temp.unlink(missing_ok=True)
