"""Telling a damaged file from a disk that failed, for the readers of files that other
programs wrote: zip archives (a ``.npz`` of arrays, a ``.keras`` model) and pictures.

A file's damage is the file's, and its reader reports it with what the file is; a disk or
system that fails (EIO, EACCES) is the system's, and stays an ``OSError`` where its reader
tells the two apart. Python's readers raise neither in one way. :mod:`zipfile` has no one exception
for bytes it cannot make sense of: a damaged directory is a ``BadZipFile``, but a member whose
compressed stream is damaged raises its decompressor's own error (``zlib.error``,
``lzma.LZMAError``, or bz2's ``OSError`` without an errno), a stream cut short ``EOFError``,
an offset pointing before the file's start a ``ValueError`` in memory and an ``OSError``
(EINVAL) on disk, a name flagged UTF-8 that is not ``UnicodeDecodeError``, an unknown
compression or zip version ``NotImplementedError``, and an encrypted member
``RuntimeError``. Pillow says the same with an ``OSError`` of no errno (a truncated PNG),
EINVAL (an offset before the start), ``SyntaxError`` (a broken PNG chunk) or ``ValueError``
(a PPM header that is no number).
"""
from __future__ import annotations

import errno
import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# What zipfile (and the decompressors it drives) raise for bytes that are not a sound archive.
ARCHIVE_DAMAGE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError,
                  NotImplementedError, RuntimeError, ValueError)

# What Pillow raises for a picture's bytes it cannot decode, by its documentation (opening:
# UnidentifiedImageError, an OSError; ValueError, TypeError) and as its format plugins fail
# on damaged headers and data (SyntaxError, EOFError, struct.error, IndexError, KeyError,
# ZeroDivisionError).
PICTURE_DAMAGE = (OSError, SyntaxError, ValueError, TypeError, EOFError, struct.error,
                  IndexError, KeyError, ZeroDivisionError)


def system_failure(exc: BaseException) -> bool:
    """Whether ``exc``, raised while reading a file, says the system could not read it (an
    ``OSError`` naming a system error) rather than that its bytes are damaged."""
    return isinstance(exc, OSError) and exc.errno not in (None, errno.EINVAL)


def reason(exc: BaseException) -> str:
    """What ``exc`` says of the damage (zipfile's ``EOFError`` of a cut member says nothing)."""
    return str(exc) or ("a member ends early" if isinstance(exc, EOFError)
                        else type(exc).__name__)


@contextmanager
def archive_damage_as(error: Callable[[str], Exception],
                      keep: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Within the block, which reads a zip archive, damage to its bytes is raised as
    ``error(reason)`` (:func:`reason`); exceptions of the types ``keep`` (the reader's own
    errors, which may be ValueErrors too), system failures and every other exception pass
    unchanged."""
    try:
        yield
    except keep:
        raise
    except (OSError, *ARCHIVE_DAMAGE) as exc:
        if system_failure(exc):
            raise
        raise error(reason(exc)) from None
