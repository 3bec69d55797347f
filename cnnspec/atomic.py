"""Writing a file atomically: into a temporary file beside it, then moved over it.

:func:`os.replace` is atomic on POSIX and Windows: a crash or Ctrl-C mid-write leaves either
the old file or the new one, never half of one. A process killed mid-write (SIGKILL, power
loss) leaves its temporary file behind; the name says whose it was
(``.<target>.<pid>.<random>.tmp``), and :func:`remove_stale_temporaries` deletes those whose
writer is no longer running. Every command that writes a file the user named (a run's files, an
imported spec, a diagram, an export) writes it here. Nothing here loads NumPy: a command line
naming a run folder reads the folder's names (:mod:`cnnspec.training.rundir`) before it may
load NumPy (:mod:`cnnspec.cli.loading`).
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Collection
from pathlib import Path

from cnnspec.errors import RunError, SettingError, literal
from cnnspec.given import given_flag
from cnnspec.sourcefile import is_special, not_a_regular_file

TEMP_SUFFIX = ".tmp"
# The names temp_prefix and mkstemp give: .<name>.<pid>.<random>.tmp (files from before the pid
# was part of the name have none).
TEMP_NAME = re.compile(r"^\.(?P<target>.+?)\.(?:(?P<pid>\d+)\.)?[^.]+\.tmp$")


def file_in_the_way(folder: Path) -> Path | None:
    """The first of ``folder`` and its parents that exists and is not a folder (a file where a
    folder should be), or None: what mkdir leaves unsaid ("File exists", "Not a
    directory")."""
    return next((f for f in (folder, *folder.parents) if f.exists() and not f.is_dir()), None)


def temp_prefix(name: str) -> str:
    """The start of a temporary name for ``name`` written by this process."""
    return f".{name}.{os.getpid()}."


def atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temp file beside ``path``, then move it into place
    (never over a device or a pipe, which the move would replace). A folder that cannot be
    written to (read-only, full, gone) is a :class:`NotWritten`; ``path`` is then as it was.

    The file gets the permissions of the one it replaces, or those ``open`` gives a new file
    (0666 less the umask), not the temp file's 0600, which would hide run folders and exports
    from the rest of a group. A symbolic link is written through, as a shell's ``>`` does:
    replaced, the link would be gone and the file it names left as it was."""
    path = Path(path)
    if is_special(path):
        raise not_a_regular_file(path, "name a file to write, not a device or a pipe")
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=TEMP_SUFFIX,
                                   dir=path.parent)
    except OSError as exc:
        raise _not_written(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, _permissions(path))
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # Also on KeyboardInterrupt: never leave the temp file behind.
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _not_written(path, exc) from None
        raise


def _permissions(path: Path) -> int:
    """The permission bits a file written at ``path`` gets (see :func:`atomic_write`)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:  # a new file
        return usual_permissions()


def usual_permissions(folder: bool = False) -> int:
    """What ``open`` gives a new file, 0666 less the umask, or ``mkdir`` a new folder (0777
    less it): the permissions of what is written through a temporary file or folder, which
    ``tempfile`` makes private (0600, 0700)."""
    return (0o777 if folder else 0o666) & ~_umask()


@functools.cache
def _umask() -> int:
    """The process's umask: read by setting it, so once, and put back at once."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class NotWritten(RunError):
    """A file that could not be written (``path``, for ``reason``: a read-only folder, a full
    disk); what was there before is as it was."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}",
                         hint="check that its folder is writable and its disk has space "
                         "(nothing was changed there)")
        self.path, self.reason = Path(path), reason


def _not_written(path: Path, exc: OSError) -> NotWritten:
    return NotWritten(path, exc.strerror or str(exc))


def refuse_overwriting(paths, force: bool = False) -> None:
    """Stop before anything is written when a file a command would write exists, unless
    ``force``: a spec edited by hand, or weights exported from a run since deleted, are lost
    to a name given twice. ``paths`` holds every file the command writes, each a path or a
    ``(path, what)`` pair for a file named after another (``("m.npz", "the weights written
    beside m.py")``), so that all are checked before the first is written. A mistake in what
    was asked (exit 2 on the command line): the user adds ``--force`` or names another file.
    A ``force`` that is no bool is a :class:`SettingError` (``force="no"`` would be true)."""
    if given_flag(force, "force"):
        return
    for path in paths:
        path, what = path if isinstance(path, tuple) else (path, None)
        if os.path.lexists(path):  # a dangling symbolic link too: writing goes through it
            also = f" ({what})" if what else ""
            raise SettingError(literal(f"{path} exists{also}"), invalid=True,
                               hint="choose another name, or overwrite it with {force:True}")


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, atomically."""
    atomic_write(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically."""
    write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: Path, pattern: re.Pattern = TEMP_NAME,
                             targets: Collection[str] | None = None) -> list[Path]:
    """Delete the entries of ``folder`` whose name matches ``pattern`` (by default: temporary
    files of :func:`cnnspec.atomic.atomic_write`, of writes to one of ``targets``) and whose
    writer (the ``pid`` in the name; a name without one is from before pids were recorded) is
    no longer running, killed mid-write; returns what was removed. Best effort: what cannot be
    removed (a read-only folder) stays."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or _alive(match["pid"]):
            continue
        if targets is not None and match["target"] not in targets:
            continue
        try:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            removed.append(entry)
        except OSError:
            pass  # gone already (another process cleaned it) or not ours to remove: leave it
    return removed


def _alive(pid: str | None) -> bool:
    """Whether process ``pid`` is running (None, a name without a pid: no)."""
    if pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (OverflowError, OSError):  # PermissionError among them
        return True  # someone else's process (or no way to tell): leave its files alone
    return True
