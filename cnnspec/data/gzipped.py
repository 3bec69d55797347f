"""Whether a file is gzip-compressed, told by its first two bytes (RFC 1952, section 2.3.1:
ID1 = 0x1f, ID2 = 0x8b), never by its name: a dataset file placed by hand may be stored plain
under its published ``.gz`` name, or compressed under the name without it."""
from __future__ import annotations

from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(data: bytes) -> bool:
    """Whether ``data`` starts as a gzip stream does."""
    return data[:len(GZIP_MAGIC)] == GZIP_MAGIC


def file_is_gzip(path: Path) -> bool:
    """Whether the file ``path`` starts as a gzip stream does (OSError where it cannot be
    read)."""
    with open(path, "rb") as file:
        return is_gzip(file.read(len(GZIP_MAGIC)))
