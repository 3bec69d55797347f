"""How many columns a convolution's chunk of im2col columns may have, and how large a matrix
it keeps whole: plain numbers, without NumPy, so that ``check``'s memory estimate reads the bound the engine keeps
(:mod:`cnnspec.engine.calibrate` times the candidates and picks one;
:mod:`cnnspec.engine.conv_tuned` chunks a batch by it)."""

COLUMN_CANDIDATES = (512, 1024, 2048, 4096, 8192)  # the column limits calibration times
# The most bytes a chunk's im2col matrix holds, whatever L2 cache size a CPU reports: the
# calibrated byte limit is one core's L2 cache, 1 MB on AMD's Zen 4 and Intel's Skylake to
# Ice Lake server cores, 2 MB on Sapphire Rapids (and the fallback where none is reported).
MAX_CHUNK_BYTES = 2 * 2 ** 20
# A thin layer has fewer im2col rows (C*kh*kw) than this: a first layer on one to three
# channels (LeNet's 25 rows, an RGB input's 27). Only thin layers keep their im2col matrix
# for the weight gradient (KEEP_BYTES): their columns are a slow copy of short runs, and
# others' are built again in cache (batch-last blocks, wide columns) for less than reading a
# kept matrix back; thin layers also stay on im2col rather than batch-last blocks
# (cnnspec.engine.conv_tuned, BLOCKED_IMAGES).
THIN_ROWS = 32

# Up to this many bytes a thin layer's whole im2col matrix is kept from the forward pass for the
# weight gradient (16 MB: LeNet's layers at up to 128 images a thread in float32); larger ones
# are built again chunk by chunk. A constant, not calibrated: memory, not speed, bounds it,
# and the gain shows only under two threads. Training step, 2 threads, best of 5 alternating
# blocks, ms (AMD EPYC, Zen 4, OpenBLAS 0.3.31), never kept / 16 MB / always:
#   LeNet-5 batch 64   7.43 / 6.74 / 6.94     LeNet-5 batch 256  18.9 / 16.0 / 17.4
#   vgg_small batch 64  92.8 / 96.2 / 96.2  (its matrices exceed 16 MB: no change but noise)
# With one thread the three were within noise (LeNet-5 64: 6.15 / 6.29 / 5.97).
KEEP_BYTES = 2 ** 24


def chunk_columns_bound(columns_per_image: int, images: int, rows: int,
                        itemsize: int = 4) -> int:
    """The most columns one chunk of a batch of ``images`` images, ``columns_per_image`` each,
    of a matrix of ``rows`` rows of ``itemsize``-byte values can have on any machine: a chunk
    is the whole batch, or one image, or at most as many images as both the largest column
    limit and MAX_CHUNK_BYTES hold."""
    by_bytes = MAX_CHUNK_BYTES // (max(rows, 1) * itemsize)
    return min(images * columns_per_image,
               max(columns_per_image, min(by_bytes, max(COLUMN_CANDIDATES))))
