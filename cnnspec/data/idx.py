"""Reading IDX files, the format of MNIST and Fashion-MNIST (LeCun et al. 1998).

An IDX file is a big-endian header followed by the raw array: two zero bytes, a type code
(0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions, then one uint32 per dimension. Image files are 3-D ``(N, rows,
cols)`` unsigned bytes (magic number 0x00000803 = 2051), label files 1-D ``(N,)`` (0x00000801 =
2049). Files may be gzip-compressed (as published) or raw, whatever their names say: the
first bytes tell (:mod:`cnnspec.data.gzipped`). Any deviation -- a wrong magic
number, a truncated file, trailing bytes -- is a :class:`RunError` naming the file.
"""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from cnnspec.data.gzipped import is_gzip
from cnnspec.errors import RunError

# IDX type code -> big-endian NumPy dtype
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGES_MAGIC = 0x0803
LABELS_MAGIC = 0x0801
_REPLACE = "delete the file so it is downloaded again, or replace it with a good copy"


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic bytes."""
    try:
        data = Path(path).read_bytes()
        if is_gzip(data):
            data = gzip.decompress(data)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise RunError(f"{path} is a damaged gzip file ({exc})",
                       hint="delete it so it is downloaded again, or replace it by hand") from None
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}") from None
    return data


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """The array stored in IDX bytes ``data``; ``source`` names the file in messages."""
    if len(data) < 4:
        raise RunError(f"{source} is truncated: {len(data)} bytes, shorter than an IDX header",
                       hint=_REPLACE)
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_TYPES or ndim == 0:
        magic = struct.unpack(">I", data[:4])[0]
        raise RunError(f"{source} is not an IDX file: magic number 0x{magic:08X}",
                       hint=_REPLACE)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RunError(f"{source} is truncated inside its header", hint=_REPLACE)
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_TYPES[type_code])
    # Python's integers: up to 255 dimensions of up to 2^32 - 1 overflow int64 (wrapping to
    # a size the file may have, such as 0 for 2^31 x 2^31 x 4)
    expected = math.prod(dims) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise RunError(f"{source} is truncated: its header promises {expected} bytes of data "
                       f"for shape {dims}, the file has {found}", hint=_REPLACE)
    if found > expected:
        raise RunError(f"{source} has {found - expected} bytes after the data its header "
                       f"describes (shape {dims})", hint=_REPLACE)
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def read_idx(path: Path, magic: int | None = None) -> np.ndarray:
    """The array in IDX file ``path`` (gzip or raw); ``magic`` is the expected magic number."""
    data = read_bytes(path)
    if magic is not None and len(data) >= 4:
        found = struct.unpack(">I", data[:4])[0]
        if found != magic:
            raise RunError(f"{path} has magic number 0x{found:08X}, expected 0x{magic:08X} "
                           f"({'images' if magic == IMAGES_MAGIC else 'labels'})",
                           hint=_REPLACE + "; check that images and labels are not swapped")
    return parse_idx(data, str(path))


def read_images_and_labels(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 1, rows, cols)`` uint8 and labels ``(N,)`` uint8 of one split."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise RunError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                       f"{len(labels)} labels", hint="the two files must come from the same "
                       "split of the same dataset; " + _REPLACE)
    return images[:, None], labels
