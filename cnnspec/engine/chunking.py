"""How a convolution cuts a batch into chunks of im2col columns, and which matrices it keeps
whole: plain numbers, without NumPy, so that ``check``'s memory estimate
(:mod:`cnnspec.engine.footprint`) reads the same limits the engine acts on
(:mod:`cnnspec.engine.calibrate` times the candidates and picks one;
:mod:`cnnspec.engine.conv_tuned` chunks a batch by them).

A chunk's columns are at most a share of one core's L2 cache of bytes (``COLUMNS_SHARE``;
the cache ``FALLBACK_CHUNK_BYTES`` where the system does not say, never more than
``MAX_CHUNK_BYTES``), and at most as many columns as the candidate calibration times fastest
on the machine (``FALLBACK_CHUNK_COLUMNS`` without timing).
"""
from __future__ import annotations

import functools
import os
from importlib.util import find_spec
from pathlib import Path

from cnnspec.usercache import cache_dir

COLUMN_CANDIDATES = (512, 1024, 2048, 4096, 8192)  # the column limits calibration times
FALLBACK_CHUNK_BYTES = 2 * 2 ** 20
FALLBACK_CHUNK_COLUMNS = 2048
# The most bytes a chunk's im2col matrix holds, whatever L2 cache size a CPU reports: the
# calibrated byte limit is one core's L2 cache, 1 MB on AMD's Zen 4 and Intel's Skylake to
# Ice Lake server cores, 2 MB on Sapphire Rapids (and the fallback where none is reported).
MAX_CHUNK_BYTES = 2 * 2 ** 20
# A chunk's im2col columns take at most 1 / COLUMNS_SHARE of the L2 cache (column_bytes): the
# GEMM's other operand and its product, and the input gradient's column matrix built from the
# same chunk size (cnnspec.engine.conv_tuned), then stay in the cache beside them. LeNet-5's
# second layer (150 rows, 10x10 outputs) on a 2 MiB L2 takes blocks of 17 images instead of
# 34; its GEMMs, one thread, per batch of 256, us (Intel Xeon, AVX-512, 2 MiB L2, OpenBLAS
# 0.3.31), 34 / 17 images a block: forward 1100 / 1064, input gradient's columns 1933 / 1541.
# Whole training steps there, median of 11 alternating rounds in one process, ms, a share of
# 1 / 2 / 4 (with the sliced products and the fold of conv_tuned): LeNet-5 batch 64
# 5.30 / 5.18 / 5.04 (a second 2: 5.09), batch 256 19.9 / 18.3 / 18.8 (18.2).
COLUMNS_SHARE = 2
# A thin layer has fewer im2col rows (C*kh*kw) than this: a first layer on one to three
# channels (LeNet's 25 rows, an RGB input's 27). Only thin layers keep their im2col matrix
# for the weight gradient (KEEP_BYTES): their columns are a slow copy of short runs, and
# others' are built again in cache (batch-last blocks, wide columns) for less than reading a
# kept matrix back; thin layers also stay on im2col rather than batch-last blocks.
THIN_ROWS = 32
# Up to this many bytes a conv layer keeps what its weight gradient reads from the forward pass:
# a thin layer's whole im2col matrix (32 MB: LeNet's first layer, 28x28 padded by 2, at up to
# 256 images a thread in float32, 20 MB at 256), a Winograd layer's transformed input tiles
# (of its share of the images) where its network's budget picks the layer
# (cnnspec.engine.footprint.winograd_keepers: 4.7 MB on the ResNet-style net's 32-channel
# 16x16 layers at batch 64); larger ones are built
# again chunk by chunk. A constant, not calibrated: memory, not speed, bounds it. Training
# step, 2 threads, best of 5 alternating blocks, ms (AMD EPYC, Zen 4, OpenBLAS 0.3.31), never
# kept / 16 MB / always:
#   LeNet-5 batch 64   7.43 / 6.74 / 6.94     LeNet-5 batch 256  18.9 / 16.0 / 17.4
#   vgg_small batch 64  92.8 / 96.2 / 96.2  (its matrices exceed 16 MB: no change but noise)
# With one thread the three were within noise (LeNet-5 64: 6.15 / 6.29 / 5.97). At batch 256 on
# one thread, 16 MB / 32 MB (the first layer's 20 MB rebuilt / kept), median of 11 alternating
# rounds, ms (Intel Xeon, AVX-512, 2 MiB L2, OpenBLAS 0.3.31): 20.2 / 19.4 and 20.1 / 19.5.
KEEP_BYTES = 2 ** 25
# A convolution runs on batch-last blocks (:func:`cnnspec.engine.windows.batch_blocks`) where
# a chunk of im2col columns holds at least BLOCKED_IMAGES images (small images: the chunk
# limits decide), its width stride is 1 and its matrix has at least THIN_ROWS rows (C*kh*kw).
# Then a block's columns are copied in runs of ``Wo * images`` values instead of im2col's
# runs of ``Wo`` (LeNet's second layer: 7 times faster to build), which pays for transposing
# the input and output block by block and makes keeping the columns pointless: they are
# built again for the weight gradient. With one or two images a block (VGG-style 32x32
# layers) the runs are no longer than im2col's wide ones; with a width stride of 2 they do
# not join across images; in a thin first layer the output's transposed copy weighs most.
# Forward + backward, one thread, best of 9 interleaved rounds, ms, im2col / blocks (AMD
# EPYC, Zen 4, OpenBLAS 0.3.31; forward alone in brackets):
#   LeNet conv2 (6 -> 16, 5x5, 14x14, 17 images a block) batch 64:   3.81 / 3.60 (1.28 / 0.88)
#                                                        batch 256: 14.2 / 11.8  (5.76 / 2.83)
#   LeNet conv1 (1 -> 6, 5x5 pad 2, 28x28, 5 images), no input gradient, batch 64: 1.15 / 2.03
#   16 -> 32, 3x3, stride 2 on 32x32 (7 images):                     19.0 / 23.3  (5.2 / 8.0)
#   32 -> 32, 3x3 "same" on 32x32 (1 image):                          68.0 / 71.6 (21.8 / 26.6)
# Whole training steps, the convolution before and after blocks (with the chunked input
# gradient and the columns no longer kept), median ratio of 11-15 interleaved rounds, one
# thread: LeNet-5 batch 64 0.87-0.92, batch 256 0.82; vgg_small and resnet_small 1.00.
# Checked on an Intel Xeon (AVX-512, 2 MiB L2, OpenBLAS 0.3.31), whole training steps, one
# thread, seven models in one process taking turns, median of 7 rounds, time over this
# setting's (BLOCKED_IMAGES = 4, THIN_ROWS = 32), the same setting again last as a control:
#                    no blocks  BLOCKED 2  BLOCKED 8  THIN 16  THIN 64  control
#   LeNet-5 b64        1.085      0.965      0.974     1.084    0.979    0.986
#   LeNet-5 b256       1.033      0.980      0.975     0.999    1.002    0.985
#   vgg_small b64      0.993      0.981      1.004     0.985    0.973    0.953
# Nothing beats these two beyond the control's own spread; blocks and a thin first layer's
# kept columns still pay on LeNet-5, as on the AMD machine.
# At stride 1 such a block is multiplied by kernel rows (cnnspec.engine.row_taps), with
# blocks as row_tap_images sizes them, where they hold BLOCKED_IMAGES images too. Whole
# training steps, kernel rows over im2col columns on blocks (LeNet-5's second layer, the one
# layer of the benchmark nets that runs on blocks), median speed-up of 11 (one thread) and
# 21 (two) alternating rounds in one process (AMD EPYC, Zen 4, 1 MiB L2, OpenBLAS 0.3.31):
# LeNet-5 batch 64 1.11 and 1.07, batch 256 1.09 and 1.11.
BLOCKED_IMAGES = 4


def may_run_on_blocks(rows: int, width_stride: int) -> bool:
    """Whether a convolution of ``rows`` im2col rows (C*kh*kw) and ``width_stride`` may run on
    batch-last blocks, where its chunks hold BLOCKED_IMAGES images: not a thin layer (those
    stay on im2col), and width stride 1."""
    return rows >= THIN_ROWS and width_stride == 1
# A strided convolution's chunks hold as many images as STRIDED_MIN_VALUES values take where
# the byte limit allows fewer: its im2col columns (still within the column limit) and, for
# a layer by phases (cnnspec.engine.phases), the chunks of its forward pass and both
# gradients (there whatever the column limit, as its planes' shifted adds are not thin
# products). At stride 2 an image's products are short (ResNet-small's stride-2 layer, 16 ->
# 32, 3x3, 32x32: 144 x 256 columns, 144 x 271 for dx then, 144 x 289 by phases now) and
# each chunk pays its NumPy calls (the phases' fold: some twenty). Measured before the
# forward pass and the weight gradient ran by phases, on an AMD EPYC (Zen 3,
# 512 KiB L2), where the byte limit gives that layer one image, batch 64, one thread, best of
# 9-15 interleaved rounds, ms, images a chunk 1 / 2 / 4 / 7 / 16: forward (CPU time)
# 5.22 / 4.71 / 4.44 / 4.35 / 4.33, weight gradient 4.45 / 3.90 / 3.67 / 3.52 / 3.39; input
# gradient (1 / 2 / 4 / 6 / 8 / 16 / 64, wall time) 9.18 / 7.34 / 6.31 / 5.58 / 6.05 / 5.85 /
# 6.48. 2**18 float32 values are the byte limit of a core with 2 MiB of L2 (COLUMNS_SHARE),
# where the rule already gave those chunks: in float32 only smaller L2 caches see a change.
STRIDED_MIN_VALUES = 2 ** 18
# The most bytes of transformed tiles (points x channels x tiles) a chunk of images of a
# Winograd layer holds (cnnspec.engine.footprint.winograd_chunk_images): the candidates
# calibration times (cnnspec.engine.conv_tuned.time_winograd), and the limit without timing.
# A chunk's tiles, their transforms and its products should stay in a core's L2 cache, and its
# transforms' widest GEMM (a*a*m*max(C, F)*images*Q multiply-adds, for float32 the same number
# as the tiles' bytes) within what OpenBLAS runs by its kernels for small matrices where those
# are faster. Neither carries over between CPUs: on an Intel Xeon (AVX-512, 2 MiB L2, OpenBLAS
# 0.3.31 SkylakeX kernels) a 6x6 times 6xN GEMM took three times as long past 1e6
# multiply-adds (43 us at N = 27000, 129 us at 28000); on an AMD EPYC (family 25 model 1,
# AVX2, 512 KiB L2, OpenBLAS 0.3.31 Haswell kernels) it got faster there (97 us at N = 27000,
# 75 us at 28000), and chunks of half the L2 cache, as the rule read before, were the slowest
# (16 -> 16 at 32x32, batch 64, one thread, best of 5 interleaved rounds, ms, forward /
# backward: 3 images a chunk 9.6 / 18.3, 6 8.5 / 16.6, 12 8.5 / 16.3; 32 -> 32 at 32x32: 1
# image 22.3 / 45.4, 3 18.5 / 35.5). The fallback is the chunks that rule made where L2 is
# 1 MiB or more (the Xeon's and a Zen 4 EPYC's, where they were measured best).
WINOGRAD_CANDIDATES = (2 ** 19, 2 ** 20, 2 ** 21)
FALLBACK_WINOGRAD_BYTES = 2 ** 20
# The most bytes a block of images copies before the products that read the copy: a block of
# the row-tap convolution (cnnspec.engine.row_taps; its buffers, row_tap_values an image) and
# a group of a thin layer's kept im2col chunks (cnnspec.engine.conv_tuned._correlate_kept).
# The candidates calibration times (cnnspec.engine.conv_tuned.time_blocks: a layer of each),
# and the limit without timing. A share of a core's L2 cache was the rule before: half of it
# for a row-tap block, as for a chunk of im2col columns (column_bytes), all of it for a group.
# On an AMD EPYC Zen 4 (1 MiB L2) it gave LeNet-5's second layer blocks of 17 images, the
# fastest of 8, 16 and 24 there (batch 256, one thread, ms: forward 2.52 / 2.21 / 2.61,
# input gradient 4.02 / 3.28 / 3.79). On an AMD EPYC Zen 3 (family 25 model 1, 512 KiB L2,
# OpenBLAS 0.3.31 Haswell kernels) it gave 8 images forward and 6 for the input gradient,
# and larger blocks, past the L2 cache, were faster: forward + weight gradient + input
# gradient of that layer, one thread, CPU time, medians of alternating rounds, ms, 8 / 16 /
# 32 / 64 images a block: batch 64 (27 rounds) 4.38 / 3.83 / 3.40 / 3.56; batch 256 (9
# rounds), 8 / 17 / 35 / 70 images: 26.5 / 24.4 / 20.4 / 20.6; LeNet-5's first layer
# forward, groups of 0.5 / 1 / 2 / 4 MiB (22 rounds): batch 64 1.30 / 1.16 / 1.15 / 1.14,
# batch 256 4.86 / 4.43 / 4.21 / 4.19, ResNet-style stem (3 -> 16, 32x32) at 64 2.62 /
# 2.58 / 2.47 / 2.43 (a loaded machine, load 6-10 on 2 cores). Which size is fastest depends
# on the caches beyond L2 and on the BLAS's cost per call, so it is timed. The fallback is
# what a group held where no cache size is reported (FALLBACK_CHUNK_BYTES).
BLOCK_CANDIDATES = (2 ** 18, 2 ** 19, 2 ** 20, 2 ** 21)
FALLBACK_BLOCK_BYTES = 2 ** 21

# The layers calibration times (cnnspec.engine.conv_tuned.time_columns), (images, channels,
# filters, kernel, input size, padding): LeNet's first and second layers, an RGB first layer
# (VGG-small's; ResNet's stem is one too) and a layer of a deep thin net. Their columns an
# image (784, 100, 1024, 64) put a column limit at different numbers of images a chunk, as a
# network's layers do.
CALIBRATION_LAYERS = ((32, 1, 6, 5, 28, 2), (32, 6, 16, 5, 14, 0), (32, 3, 32, 3, 32, 1),
                      (32, 8, 8, 3, 8, 1))
# The Winograd layers calibration times (time_winograd), as CALIBRATION_LAYERS: the
# ResNet-style net's first and second stages. At 32 images their per-image tiles (147 and 74
# KB) put the candidate limits of WINOGRAD_CANDIDATES at 3, 7 and 14 and at 7, 14 and 28
# images a chunk (11, 5 and 3 and 5, 3 and 2 chunks a pass). At 16 images the short last
# chunks weighed as much as the limit: the 512 KiB limit came out within 2% of the best in
# two runs of three, where at batch 64 it is 10-17% slower (AMD EPYC, family 25 model 1).
WINOGRAD_CALIBRATION_LAYERS = ((32, 16, 16, 3, 32, 1), (32, 32, 32, 3, 16, 1))
# The layers the block limit is timed on (time_blocks), as CALIBRATION_LAYERS, at 64 images:
# LeNet-5's second layer, multiplied by kernel rows, whose blocks the candidate limits of
# BLOCK_CANDIDATES make 8, 16, 32 and 64 images forward (6, 13, 22 and 32 for the input
# gradient: at 32 images the two largest limits would both make the batch one block), and its
# first layer, whose groups of kept im2col chunks they make 1, 3, 6 and 13 chunks (by the
# fallback column limit, 2 images a chunk).
BLOCK_CALIBRATION_LAYERS = ((64, 6, 16, 5, 14, 0), (64, 1, 6, 5, 28, 2))
# Each timed limit (its name among the thresholds), the layers its timer runs and the
# candidates it times, in the order calibration times them (cnnspec.engine.calibrate.measure):
# what a machine's file may hold (kept_limits) and what a timer's memory is counted from
# (cnnspec.engine.footprint.calibration_bytes).
CALIBRATION_TIMERS = (("chunk_columns", CALIBRATION_LAYERS, COLUMN_CANDIDATES),
                      ("winograd_bytes", WINOGRAD_CALIBRATION_LAYERS, WINOGRAD_CANDIDATES),
                      ("block_bytes", BLOCK_CALIBRATION_LAYERS, BLOCK_CANDIDATES))


def calibration_off() -> bool:
    """Whether ``CNNSPEC_CALIBRATE=0`` switches calibration off (the fallback limits hold)."""
    return os.environ.get("CNNSPEC_CALIBRATE", "1") == "0"


@functools.cache
def l2_cache_bytes() -> int | None:
    """One core's level-2 cache in bytes, as Linux reports it for CPU 0 (None elsewhere);
    read once per process."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() != "2":
                continue
            size = (index / "size").read_text().strip()  # "1024K"
        except OSError:
            continue
        units = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}
        if size[-1:].upper() in units and size[:-1].isdigit():
            return int(size[:-1]) * units[size[-1].upper()]
        if size.isdigit():
            return int(size)
    return None


def chunk_bytes() -> int:
    """The most bytes of im2col columns a chunk of images holds (calibration's
    ``chunk_bytes``): this machine's L2 cache up to ``MAX_CHUNK_BYTES``, or the fallback with
    calibration off."""
    if calibration_off():
        return FALLBACK_CHUNK_BYTES
    return min(l2_cache_bytes() or FALLBACK_CHUNK_BYTES, MAX_CHUNK_BYTES)


def column_bytes(cache_bytes: int) -> int:
    """The most bytes of im2col columns a chunk holds where a core's L2 cache holds
    ``cache_bytes`` (``COLUMNS_SHARE``)."""
    return cache_bytes // COLUMNS_SHARE


def strided_values(stride: tuple[int, int]) -> int:
    """The values a chunk of a convolution of ``stride`` may hold whatever its cache
    (``STRIDED_MIN_VALUES`` above stride 1, else none): :func:`chunk_step`'s
    ``least_values``."""
    return 0 if tuple(stride) == (1, 1) else STRIDED_MIN_VALUES


def phase_images(step: int, rows: int, length: int, n: int) -> int:
    """Images per chunk of the phase-by-phase input gradient whose column gradient has
    ``rows`` rows and ``length`` columns an image, where the im2col rule (:func:`chunk_step`)
    gives ``step``: as many as ``STRIDED_MIN_VALUES`` values hold where that is more, at most
    ``n``."""
    return max(step, min(n, STRIDED_MIN_VALUES // (rows * length)))


def row_tap_values(c: int, f: int, kw: int, padded_hw: tuple[int, int],
                   out_hw: tuple[int, int]) -> tuple[int, int]:
    """Values an image of a block of the row-tap convolution (:mod:`cnnspec.engine.row_taps`)
    holds at once, for a layer of ``c`` channels in, ``f`` out, kernels ``kw`` wide: (forward
    and weight gradient: the widened block C*kw*Hp*Wo and its row of ones for the bias
    Hp*Wo, the product and one kernel row's 2*F*Ho*Wo, of which the weight gradient's
    laid-out dout takes half, and which the input gradient reads too; input gradient besides:
    the widened gradient C*kw*Hp*Wo, one kernel row's product in rows as long C*kw*Hp*Wo, the
    padded block C*Hp*Wp)."""
    (hp, wp), (ho, wo) = padded_hw, out_hw
    widened = c * kw * hp * wo
    return widened + hp * wo + 2 * f * ho * wo, 2 * widened + c * hp * wp


def row_tap_images(values: int, n: int, itemsize: int, limit_bytes: int) -> int:
    """Images per block of the row-tap convolution whose buffers hold ``values`` values an
    image (:func:`row_tap_values`) of ``itemsize`` bytes, for a batch of ``n``: as few blocks
    as hold the batch when each holds at most what fits ``limit_bytes`` (the calibrated
    ``block_bytes``, one of ``BLOCK_CANDIDATES``; at least one image), the images spread
    evenly over them. A last block holds the images left over, and its spare slots are
    multiplied all the same: 64 images in blocks of at most 17 are 4 blocks of 16, where 3
    of 17 and one of 13 computed 4 images more (LeNet-5's second layer, forward and both
    gradients, one thread, CPU time, median of 27 alternating rounds: 4.46 against 4.12 ms,
    AMD EPYC Zen 3, load 8-10 on 2 cores)."""
    most = min(n, max(1, limit_bytes // (values * itemsize)))
    blocks = -(-n // most)
    return -(-n // blocks)


def runs_by_rows(stride: tuple[int, int], step: int, n: int, least: int = BLOCKED_IMAGES
                 ) -> bool:
    """Whether a conv on batch-last blocks of ``step`` images multiplies by kernel rows: at
    stride 1 both ways, where a kernel row's columns are one matrix view of the widened block,
    and where a block holds ``least`` images (``BLOCKED_IMAGES``) or the whole batch of ``n``
    (many filters' products leave room for fewer, whose products are too short)."""
    return tuple(stride) == (1, 1) and step >= min(n, least)


def chunk_step(rows: int, size: int, n: int, itemsize: int, cache_bytes: int,
               limit_columns: int, least_values: int = 0) -> int:
    """Images per chunk of im2col columns (``rows`` rows, ``size`` columns per image of
    ``itemsize``-byte values) of a batch of ``n``: at least one, at most ``n``, otherwise as
    many as fit both limits, :func:`column_bytes` of ``cache_bytes`` (or ``least_values``
    values where more: :func:`strided_values`) and ``limit_columns`` (the tuned convolution's
    rule, its limits calibrated)."""
    room = max(column_bytes(cache_bytes), least_values * itemsize)
    by_bytes = room // (rows * size * itemsize)
    return min(n, max(1, min(by_bytes, limit_columns // size)))


# -- the machine's file ------------------------------------------------------------------------
# The timed limits are kept in a file per machine (cnnspec.engine.calibrate, which times them
# once and reads the file after). Its name and contents are read here, without NumPy, so that
# check can tell whether a training process will time them first, and count that memory
# (cnnspec.engine.footprint.calibration_bytes).

# How the limits are timed, in the key of the machine's file: a file written after another
# way of timing is not read (its choices came from another measurement, or it lacks one), nor
# one timed on code that ran otherwise (6: Winograd's transforms run in slices, which changes
# which of its chunk sizes is fastest).
CALIBRATION = 6
LIMIT_NAMES = ("chunk_bytes", *(name for name, _, _ in CALIBRATION_TIMERS))
_FILE_PREFIX = "engine-thresholds-"


def cpu_model() -> str:
    """The CPU's name and generation (Linux's ``/proc/cpuinfo``: :func:`cpu_model_in`), else
    what Python knows."""
    try:
        return cpu_model_in(Path("/proc/cpuinfo").read_text())
    except (OSError, ValueError):
        pass  # no /proc (not Linux) or no model name in it: Python's own names below
    import platform  # here alone: 1.4 ms of every check's start-up where /proc is read

    return platform.processor() or platform.machine() or "unknown"


def cpu_model_in(cpuinfo: str) -> str:
    """The first processor's ``model name`` in ``cpuinfo`` (the text of ``/proc/cpuinfo``),
    with its ``cpu family`` and ``model`` numbers where the file gives them: a virtual
    machine may name only the vendor's line ("AMD EPYC"), and two generations of it, whose
    caches and speeds differ, are then told apart by the numbers alone (family 25 model 1 is
    AMD's Zen 3, model 17 its Zen 4). A ``ValueError`` where no model name is given."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block ends at its blank line
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if not fields.get("model name"):
        raise ValueError("no model name in the CPU's description")
    numbers = [f"{key} {fields[key]}" for key in ("cpu family", "model") if fields.get(key)]
    return fields["model name"] + (f" ({', '.join(numbers)})" if numbers else "")


def machine_key_of(cpu: str, blas: list[str], numpy_version: str) -> str:
    """The key of a machine's file: the CPU (:func:`cpu_model`), the BLAS libraries, NumPy's
    version and how the limits are timed (``CALIBRATION``)."""
    return " | ".join([cpu, *blas, f"numpy {numpy_version}", f"calibration {CALIBRATION}"])


def thresholds_file(key: str) -> Path:
    """Where the limits of the machine of ``key`` (:func:`machine_key_of`) are kept."""
    import hashlib  # for training's calibration, not for check: 3 ms of its start-up

    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"{_FILE_PREFIX}{digest}.json"


def kept_limits(path: Path) -> dict | None:
    """The limits kept at ``path`` by name (:data:`LIMIT_NAMES`, and the file's ``key``), or
    None where it holds none that calibration could have written: no file, or one damaged or
    edited (not JSON, nested past Python's recursion limit, a value of another type,
    ``1e400``, a limit not among the candidates, a cache size below one byte)."""
    import json  # only where a machine's file is there to read

    try:
        data = json.loads(path.read_text())
        limits = {name: data[name] for name in LIMIT_NAMES}
        key = data.get("key")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    if type(limits["chunk_bytes"]) is not int or limits["chunk_bytes"] < 1 \
            or not all(_among(limits[name], candidates)
                       for name, _, candidates in CALIBRATION_TIMERS):
        return None
    return {**limits, "key": key}


def _among(value, candidates) -> bool:
    """Whether ``value`` read from a file is one of ``candidates`` (ints; not a float or a
    bool that compares equal to one)."""
    return type(value) is int and value in candidates


def calibrates_on_first_use() -> bool:
    """Whether a process that runs a convolution here will time the limits first
    (:func:`cnnspec.engine.calibrate.thresholds`): calibration is on and no file holds limits
    for this CPU, this NumPy and this way of timing. Said without loading NumPy: its
    version is read from its installed distribution's name, and the BLAS library, the key's
    one other part, is not compared (a NumPy wheel carries its own); where the version cannot
    be read, it times them (so the memory counted is never too little)."""
    if calibration_off():
        return False
    version = _installed_numpy_version()
    if version is None:
        return True
    head, tail = f"{cpu_model()} | ", machine_key_of("", [], version)
    for path in cache_dir().glob(f"{_FILE_PREFIX}*.json"):
        kept = kept_limits(path)
        key = kept and kept["key"]
        if isinstance(key, str) and key.startswith(head) and key.endswith(tail):
            return False
    return True


def _installed_numpy_version() -> str | None:
    """NumPy's version as the folder of its installed distribution names it
    (``numpy-2.4.6.dist-info`` beside the package), without importing it (which takes longer
    than a check); None where there is no such folder (NumPy not installed, or installed in
    a way that leaves none)."""
    spec = find_spec("numpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    site = Path(next(iter(spec.submodule_search_locations))).parent
    found = sorted(site.glob("numpy-*.dist-info"))
    return found[0].name[len("numpy-"):-len(".dist-info")] if len(found) == 1 else None
