"""Downloading a file from a list of mirrors, verified by SHA-256, never leaving a partial file.

The bytes go to a hidden temporary file in the destination folder while their SHA-256 is
computed; only a file whose digest matches is renamed into place (``os.replace`` is atomic on
one file system). A failure at any point -- no connection, an HTTP error, a response cut off
mid-body, a wrong digest, a mirror slower than its deadline -- removes the temporary file and
moves on to the next mirror; when every mirror has failed, a :class:`RunError` lists what went
wrong with each. Where the file's size is known (the published one), a response longer than it
fails as soon as it passes it: a mirror serving an endless stream, or another, larger file under
the name, would otherwise fill the disk until the deadline.

Two clocks bound a mirror: ``timeout`` is how long one read may wait for a byte (a silent
server), ``deadline`` how long the whole file may take (a server trickling a byte at a time
never lets a single read time out). Reads return what has arrived (``read1``), so the
deadline is checked at least once per ``timeout``.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cnnspec.data.gzipped import file_is_gzip
from cnnspec.errors import (
    MAX_WORD,
    RunError,
    SettingError,
    literal,
    long_words_shortened,
    shortened,
)

CHUNK = 1 << 16
TIMEOUT_SECONDS = 30
# The largest download (CIFAR-10, 163 MiB) takes 10 minutes at 280 kB/s.
DEADLINE_SECONDS = 600


def sha256_of(path: Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stream_to(url: str, out, timeout: float, deadline: float, size: int | None) -> str:
    """Copy ``url`` into the open file ``out`` before ``time.monotonic()`` reaches
    ``deadline``, and no more than ``size`` bytes where it is known; returns the SHA-256 of
    what was written."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        try:
            for chunk in iter(lambda: response.read1(CHUNK), b""):
                if size is not None and out.tell() + len(chunk) > size:
                    raise ValueError(f"the response is longer than the file's published "
                                     f"{size:,} bytes")
                digest.update(chunk)
                out.write(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not complete by the deadline ({out.tell():,} bytes "
                                       "so far)")
        except http.client.IncompleteRead:  # a chunked body that ended mid-chunk
            raise ConnectionError(f"the response was cut off after {out.tell():,} bytes") \
                from None
        if response.length:  # a body shorter than its Content-Length
            raise ConnectionError(f"the response was cut off after {out.tell():,} bytes "
                                  f"({response.length:,} missing)")
    return digest.hexdigest()


def _try_mirror(url: str, target: Path, sha256: str, timeout: float,
                seconds: float, size: int | None) -> str | None:
    """Download ``url`` to ``target`` within ``seconds`` (at most ``size`` bytes where it is
    known); None on success, else what went wrong (without the URL)."""
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream_to(url, out, timeout, time.monotonic() + seconds, size)
        if digest != sha256:
            return f"SHA-256 mismatch (got {digest[:12]}..., expected {sha256[:12]}...)"
        os.replace(temp, target)
        return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # timeouts, broken connections, malformed URLs or responses
        return str(exc or type(exc).__name__)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def download(filename: str, sha256: str, mirrors: list[str], folder: Path,
             timeout: float = TIMEOUT_SECONDS, hint: str | None = None,
             deadline: float = DEADLINE_SECONDS, size: int | None = None) -> Path:
    """``folder/filename`` fetched from the first mirror (a base URL) that serves it intact.

    ``timeout`` bounds each wait for data and ``deadline`` each mirror's whole transfer, in
    seconds, and ``size`` (the file's bytes, where known) what a mirror may send; ``hint`` is
    passed on with the :class:`RunError` raised when no mirror works.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    problems = []
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        problem = _try_mirror(url + filename, target, sha256, timeout, deadline, size)
        if problem is None:
            return target
        # The mirrors may come from an environment variable, of any length: the URL (and
        # the URL again in some reasons) is quoted no longer than a path is.
        problems.append(f"{shortened(url + filename, MAX_WORD)}: "
                        f"{long_words_shortened(problem, MAX_WORD)}")
    reasons = "; ".join(problems) or "no mirror configured"
    raise RunError(f"could not download {filename}: {reasons}", hint=hint)


def local_or_download(filename: str, folder: Path, mirrors: list[str], sha256: str,
                      timeout: float, hint: str, size: int | None = None) -> Path:
    """The path of one dataset file: a verified ``.gz``, a copy stored plain (under the
    published name or the name without ``.gz``: its first bytes tell, and its reader validates
    it), or a fresh download of at most ``size`` bytes where known (``hint``: what to do when
    every mirror fails).
    A data folder that cannot be used (unreadable, not a folder, a name too long) is a
    :class:`SettingError` naming it."""
    try:
        return _local_or_download(filename, folder, mirrors, sha256, timeout, hint, size)
    except OSError as exc:
        # A name too long for the file system (an environment variable's value, say) is no
        # real path to show whole; any other is.
        shown = shortened(str(folder), MAX_WORD) if exc.errno == errno.ENAMETOOLONG \
            else str(folder)
        raise SettingError(literal(f"cannot use the data folder {shown}: "
                                   f"{exc.strerror or exc}"),
                           hint="give a folder that can be read and written with {data_dir}"
                           ) from None


def _local_or_download(filename: str, folder: Path, mirrors: list[str], sha256: str,
                       timeout: float, hint: str, size: int | None) -> Path:
    gz, raw = folder / filename, folder / filename.removesuffix(".gz")
    if gz.is_file() and not file_is_gzip(gz):
        return gz  # stored plain under the published name: its reader validates it
    if gz.is_file():
        found = sha256_of(gz)
        if found != sha256:
            raise RunError(f"{gz} does not match its published SHA-256 "
                           f"(found {found[:12]}..., expected {sha256[:12]}...)",
                           hint="delete it and run again to download a fresh copy")
        return gz
    if raw.is_file():
        return raw
    return download(filename, sha256, mirrors, folder, timeout=timeout, hint=hint, size=size)
