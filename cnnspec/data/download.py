"""Downloading a file from a list of mirrors, verified by SHA-256, never leaving a partial file.

The bytes go to a hidden temporary file in the destination folder while their SHA-256 is
computed; only a file whose digest matches is renamed into place (``os.replace`` is atomic on
one file system). A failure at any point -- no connection, an HTTP error, a wrong digest --
removes the temporary file and moves on to the next mirror; when every mirror has failed, a
:class:`RunError` lists what went wrong with each.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from cnnspec.errors import RunError

CHUNK = 1 << 16
TIMEOUT_SECONDS = 30


def sha256_of(path: Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stream_to(url: str, out, timeout: float) -> str:
    """Copy ``url`` into the open file ``out``; returns the SHA-256 of what was written."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        for chunk in iter(lambda: response.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _try_mirror(url: str, target: Path, sha256: str, timeout: float) -> str | None:
    """Download ``url`` to ``target``; None on success, else what went wrong."""
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream_to(url, out, timeout)
        if digest != sha256:
            return f"{url}: SHA-256 mismatch (got {digest[:12]}..., expected {sha256[:12]}...)"
        os.replace(temp, target)
        return None
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return f"{url}: {exc.reason}"
    except (OSError, ValueError) as exc:  # timeouts, broken connections, malformed URLs
        return f"{url}: {exc}"
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def download(filename: str, sha256: str, mirrors: list[str], folder: Path,
             timeout: float = TIMEOUT_SECONDS, hint: str | None = None) -> Path:
    """``folder/filename`` fetched from the first mirror (a base URL) that serves it intact.

    ``hint`` is passed on with the :class:`RunError` raised when no mirror works.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    problems = []
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        problem = _try_mirror(url + filename, target, sha256, timeout)
        if problem is None:
            return target
        problems.append(problem)
    reasons = "; ".join(problems) or "no mirror configured"
    raise RunError(f"could not download {filename}: {reasons}", hint=hint)
