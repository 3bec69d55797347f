"""The datasets downloaded on first use, fetched and cached: :func:`load_download` (which
``load_dataset`` calls for each of them) reads each one's entry in the registry of downloads,
:data:`cnnspec.downloaded.DOWNLOADS` (its files with their published SHA-256, the mirrors,
the environment variable that replaces them, the module that reads its files), which the
IR's dataset registry (:mod:`cnnspec.ir.datasets`) reads too.

Where the files come from: each dataset has a list of base URLs tried in order (the
maintainers' own host first where it still serves the files), overridable with its
environment variable (one or more base URLs separated by spaces or commas) or the ``mirrors``
argument. Every downloaded file must match its published SHA-256 (the digests TensorFlow
Datasets and torchvision record for these files); a mismatch is treated like a failed
download.

Where they are kept: ``<root>/<dataset>/`` where ``root`` is ``data_dir`` if given, else
``$XDG_CACHE_HOME/cnnspec`` or ``~/.cache/cnnspec``. Files already there are used without a
network: a gzip-compressed file under the published name is checked against its SHA-256; a
file stored plain (placed by hand, under that name or the name without ``.gz``) is used as it
is and validated by its reader, which tells compressed from plain by the first bytes.

No NumPy and no network code is imported here until a dataset is loaded.
"""
from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from cnnspec.downloaded import DOWNLOADS, Download
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.usercache import cache_dir


def cache_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$XDG_CACHE_HOME/cnnspec``, else ``~/.cache/cnnspec``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return cache_dir()


def mirror_list(source: Download, mirrors: list[str] | None = None) -> list[str]:
    """Base URLs to try: the argument, else the environment variable, else the built-in list."""
    if mirrors is not None:
        return list(mirrors)
    from_env = os.environ.get(source.mirror_env, "").strip()
    if from_env:
        return [url for url in re.split(r"[\s,]+", from_env) if url]
    return list(source.mirrors)


def load_download(name: str, data_dir: str | os.PathLike | None = None,
                  mirrors: list[str] | None = None, checksums: dict | None = None,
                  timeout: float | None = None, dtype: str = DEFAULT_DTYPE):
    """The dataset ``name`` of :data:`DOWNLOADS`, its files from the cache or downloaded into
    it, read by its reader with the images in ``dtype``.

    ``mirrors`` (base URLs) and ``checksums`` (file name -> SHA-256) replace the built-in ones,
    e.g. to use a local copy of the files served over HTTP (a file whose checksum is replaced
    is another file: its published size does not bound it); ``timeout`` (seconds a read may
    wait) replaces :data:`cnnspec.data.download.TIMEOUT_SECONDS`.
    """
    from cnnspec.data.download import TIMEOUT_SECONDS, local_or_download

    source = DOWNLOADS[name]
    folder = cache_root(data_dir) / source.name
    urls = mirror_list(source, mirrors)
    digests = {**source.sha256, **(checksums or {})}
    paths = {filename: local_or_download(filename, folder, urls, digests[filename],
                                         TIMEOUT_SECONDS if timeout is None else timeout,
                                         _by_hand_hint(source, folder),
                                         None if filename in (checksums or {})
                                         else source.sizes[filename])
             for filename in source.sha256}
    reader = importlib.import_module(f"cnnspec.data.{source.reader}")
    return reader.read_files(source, paths, dtype)


def _by_hand_hint(source: Download, folder: Path) -> str:
    """What to do when every mirror of ``source`` fails: another mirror, or its files by hand."""
    files = ", ".join(source.sha256)
    what = (f"the {len(source.sha256)} files ({files})" if len(source.sha256) > 1
            else f"{files}")
    return (f"retry later and check the network connection (or set {source.mirror_env} to "
            f"another mirror); or download {what} yourself and place "
            f"{'them' if len(source.sha256) > 1 else 'it'} in {folder}")
