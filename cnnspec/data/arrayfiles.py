"""Reading ``.npy`` and ``.npz`` files that may be damaged or hostile, without trusting them.

``numpy.load`` allocates the array a header declares before it reads a byte of data, so a
150-byte file whose header says ``'shape': (1000000, 1000000)`` asks for terabytes. Here each
array's header is parsed first (``numpy.lib.format.read_magic`` and
``read_array_header_1_0``/``_2_0``), its size in bytes is compared with the bytes the file
can hold, and only then is the array allocated and filled. Object arrays (which would need
pickle) and structured dtypes are refused; so are ``.npz`` members that are not arrays or
that use a compression other than deflate, and a member stored twice. Every problem is a
:class:`DamagedArray` (a ``ValueError``) saying what is wrong; callers add the file's role
and a hint.

Deflate expands data at most 1032-fold (RFC 1951: one 258-byte match per two bits at best),
so a compressed member cannot honestly hold more than ``1032 x`` its compressed size; a
member declaring more is damaged, and that bound is what allocation is checked against.
"""
from __future__ import annotations

import math
import os
import tokenize
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from cnnspec.damage import archive_damage_as

MAX_DEFLATE_RATIO = 1032  # RFC 1951's best case: 258 bytes out of every 2 bits in
# The members a .npz may use: what np.savez and np.savez_compressed write.
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# An array's data is read in pieces of at most this many bytes: a zip member's readinto reads
# the whole request into a new bytes object and copies it over, so reading a checkpoint's
# weight in one request held it twice more (a 39 MiB weight's best.npz, read at the end of
# training beside the step's arrays, raised the run's peak from 197 to 236 MiB).
READ_PIECE_BYTES = 1 << 20


class DamagedArray(ValueError):
    """An array file that cannot be read as it is; the message says why."""


def read_npy(path: str | Path) -> np.ndarray:
    """The array of a ``.npy`` file (see the module docstring for what is checked)."""
    path = Path(path)
    with open(path, "rb") as f:
        return _read_array(f, os.path.getsize(path), path.name)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, by name (a member ``x.npy`` is ``x``)."""
    path = Path(path)
    file_size = os.path.getsize(path)
    arrays = {}
    with _archive_damage(), zipfile.ZipFile(path) as archive:
        _refuse_repeated_members(archive)
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename[:-4] if info.filename.endswith(".npy") else None
            if name is None:
                raise DamagedArray(f"member {info.filename!r} is not a .npy array")
            with archive.open(info) as member:
                arrays[name] = _read_array(member, _member_bound(info, file_size),
                                           info.filename)
    return arrays


def _archive_damage():
    """Damage to an archive's bytes, whichever way zipfile says it, as a DamagedArray."""
    return archive_damage_as(lambda reason: DamagedArray(f"the archive is damaged ({reason})"),
                             keep=(DamagedArray,))


def npz_member_shape(path: str | Path, name: str) -> tuple[int, ...] | None:
    """The shape member ``name`` of an ``.npz`` file declares in its header
    (:func:`npz_member_shapes`)."""
    return npz_member_shapes(path, [name])[name]


def npz_member_shapes(path: str | Path, names) -> dict[str, tuple[int, ...] | None]:
    """The shape each member of ``names`` of an ``.npz`` file declares in its header, read
    without its data (a command that describes a spec reads no more of its data file), the
    archive opened once; None for a member the file does not have. A file that cannot be
    read so is a :class:`DamagedArray`."""
    with _archive_damage(), zipfile.ZipFile(path) as archive:
        file_size = os.path.getsize(path)
        return {name: _declared_shape(archive, name, file_size) for name in names}


def _declared_shape(archive: zipfile.ZipFile, name: str, file_size: int
                    ) -> tuple[int, ...] | None:
    """The shape member ``name`` of ``archive`` declares in its header; None without one."""
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        return None
    _member_bound(info, file_size)
    with archive.open(info) as member:
        return _header(member, info.filename)[0]


def _refuse_repeated_members(archive: zipfile.ZipFile) -> None:
    """A name stored more than once (an archive added to with zipfile's mode "a", which
    warns and appends): NumPy, and a dict of the members, would keep the last copy and
    silently drop the others, when which one is meant cannot be told."""
    counts = Counter(info.filename for info in archive.infolist())
    for name, count in counts.items():
        if count > 1:
            raise DamagedArray(f"member {name!r} is stored {count} times; which copy is "
                               "meant cannot be told")


def _member_bound(info: zipfile.ZipInfo, file_size: int) -> int:
    """The most bytes a member can hold: its declared size, which must fit in the file."""
    if info.compress_type not in COMPRESSIONS:
        raise DamagedArray(f"member {info.filename!r} uses compression method "
                           f"{info.compress_type}; only stored and deflated members are read")
    packed = min(info.compress_size, file_size)
    most = packed if info.compress_type == zipfile.ZIP_STORED else packed * MAX_DEFLATE_RATIO
    if info.file_size > most:
        raise DamagedArray(f"member {info.filename!r} declares {info.file_size} bytes, more "
                           f"than its {packed} stored bytes can hold")
    return info.file_size


def _read_array(f, size: int, name: str) -> np.ndarray:
    """Read one ``.npy`` stream of ``size`` bytes from ``f``, checking before allocating."""
    shape, fortran_order, dtype = _header(f, name)
    if dtype.hasobject:
        raise DamagedArray(f"{name} holds Python objects, which would need pickle to load")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise DamagedArray(f"{name} has a structured dtype ({dtype}); plain arrays only")
    if any(n < 0 for n in shape):
        raise DamagedArray(f"{name} declares a negative size in its shape {shape}")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    available = size - f.tell()
    if nbytes > available:
        raise DamagedArray(f"{name} declares shape {shape} of {dtype} ({nbytes:,} bytes) but "
                           f"the file holds only {max(available, 0):,} bytes of data")
    array = np.empty(count, dtype)
    # Filled through a byte view: the buffer protocol has no format for every dtype
    # (memoryview refuses datetime64 and timedelta64), a uint8 view of the array has.
    view = memoryview(array.view(np.uint8)) if nbytes else memoryview(b"")
    filled = 0
    while filled < nbytes:
        got = f.readinto(view[filled:filled + READ_PIECE_BYTES])
        if not got:
            raise DamagedArray(f"{name} ends after {filled:,} of {nbytes:,} bytes of data")
        filled += got
    if f.read(1):  # also makes a zip member check its CRC
        raise DamagedArray(f"{name} has bytes after its data (shape {shape} of {dtype})")
    if fortran_order:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


def _header(f, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(f)
        if version == (2, 0):
            return npy_format.read_array_header_2_0(f)
    # NumPy parses the header's dict with tokenize and ast.literal_eval: a damaged one can
    # raise their errors (an unclosed bracket is a tokenize.TokenError) as well as its own.
    except (ValueError, SyntaxError, TypeError, KeyError, tokenize.TokenError, RecursionError,
            MemoryError, EOFError) as exc:
        raise DamagedArray(f"{name} is not a readable .npy array ({exc})") from None
    raise DamagedArray(f"{name} uses .npy format version {version[0]}.{version[1]}, which "
                       "holds structured dtypes; plain arrays only")
