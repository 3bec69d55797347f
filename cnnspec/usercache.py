"""The user's cache directory, and reading and writing files there safely.

cnnspec keeps things that are slow to make and cheap to make again in
``$XDG_CACHE_HOME/cnnspec`` (default ``~/.cache/cnnspec``): the built parser
(:mod:`cnnspec.lang.parser`) and the engine's thresholds (:mod:`cnnspec.engine.calibrate`).
Never in the installed package, which may be shared or read-only.

A cached parser is a pickle, and unpickling runs code, so :func:`open_own` hands back a file
only if it is a regular file owned by the current user that neither the group nor others may
write; the checks are made on the opened file itself (``fstat``), so the file cannot be swapped
between the check and the read. Files are written whole and renamed into place
(:func:`write_atomic`): a reader never sees half a file.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cnnspec``, or ``~/.cache/cnnspec`` (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnspec"


def trusted(info: os.stat_result) -> bool:
    """A regular file (or directory) owned by the current user, not writable by group or
    others."""
    getuid = getattr(os, "getuid", None)  # not on Windows, where these bits mean nothing
    owned = getuid is None or info.st_uid == getuid()
    kind_ok = stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)
    return owned and kind_ok and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def open_own(path: Path) -> BinaryIO | None:
    """``path`` opened for reading in binary if it is :func:`trusted` (checked on the open
    file, and in a directory that is trusted too); None if it is missing or not trusted."""
    try:
        if not trusted(os.stat(path.parent)):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    handle = os.fdopen(fd, "rb")
    if not trusted(os.fstat(fd)):
        handle.close()
        return None
    return handle


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) through a temporary file renamed into place;
    the directory is made (mode 0700) if missing. Raises OSError where that fails."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
