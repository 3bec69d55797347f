"""The run directory: where a training run keeps everything needed to look back or continue.

Layout (``runs/<spec-name>-<YYYYmmdd-HHMMSS>/`` unless ``--out`` says otherwise)::

    spec.cnn          the spec as given, command-line overrides written into its train block
                      (spec.json only, when a .json IR was given)
    spec.json         the resolved IR
    preprocess.json   the preprocessing fitted on the training split
    init.npz          the weights at step 0 (after LSUV where used)
    checkpoint.npz    the latest weights: <layer>.weight, <layer>.bias, batchnorm buffers, and
                      (under _-prefixed keys) what resuming needs besides: optimizer state,
                      position, RNG states -- one file, so a checkpoint is one atomic unit
    best.npz          with a validation split: the weights of the best epoch so far by the
                      training setting `monitor` (and _epoch, that epoch, from 1)
    state.npz         only in runs from before the one-file checkpoint: the optimizer state,
                      position and RNG states (read on resume, removed by the next save)
    metrics.jsonl     one object per finished epoch
    metrics.csv       the same, as a table for spreadsheets, pandas or gnuplot (no dependency,
                      rewritten with each epoch, as a TensorBoard event log would need one)
    summary.json      settings, status and (when finished) the test figures
    curves.png        loss and accuracy per epoch
    diverged.npz      only after divergence: the weights and the batch that blew up
"""
from __future__ import annotations

import itertools
import json
import os
import re
import reprlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from cnnspec.atomic import (
    TEMP_SUFFIX,
    NotWritten,
    file_in_the_way,
    remove_stale_temporaries,
    usual_permissions,
)
from cnnspec.errors import (
    RunError,
    SettingError,
    WordedError,
    WordedInputError,
    literal,
)
from cnnspec.given import given_path
from cnnspec.records import record

SPEC_CNN = "spec.cnn"
SPEC_JSON = "spec.json"
PREPROCESS = "preprocess.json"
INIT = "init.npz"
CHECKPOINT = "checkpoint.npz"
BEST = "best.npz"
STATE = "state.npz"
METRICS = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
SUMMARY = "summary.json"
CURVES = "curves.png"
DIVERGED = "diverged.npz"
# Beside the cells of a sweep (cnnspec.sweep), in the folder that holds them: what it swept.
SWEEP_JSON = "sweep.json"
RUN_FILES = (SPEC_CNN, SPEC_JSON, PREPROCESS, INIT, CHECKPOINT, BEST, STATE, METRICS,
             METRICS_CSV, SUMMARY, CURVES, DIVERGED)
# A run folder being set up, beside its target: .cnnspec-run.<pid>.<random>.tmp
STAGING_PREFIX = ".cnnspec-run."
STAGING_NAME = re.compile(r"^\.cnnspec-run\.(?P<pid>\d+)\.[^.]+\.tmp$")


@record(frozen=True)
class RunDir:
    """Paths of the files of one run folder."""

    path: Path

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def spec_json(self) -> Path:
        return self.path / SPEC_JSON

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def state(self) -> Path:
        return self.path / STATE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY


def default_run_path(spec_name: str, runs_dir: str | Path, now: float | None = None) -> Path:
    """``<runs_dir>/<spec-name>-<YYYYmmdd-HHMMSS>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return Path(runs_dir) / f"{spec_name}-{stamp}"


def numbered(base: Path):
    """``base``, then ``base-2``, ``base-3``...: the names to try for a new folder."""
    yield base
    for n in itertools.count(2):
        yield base.with_name(f"{base.name}-{n}")


def new_folder(path: str | Path) -> Path:
    """Create a new folder named ``path`` (and its parents) for one writer only: a name
    another process took first gets the next free suffix (``-2``, ``-3``...). ``os.mkdir`` is
    atomic, so of two processes asking for the same name at once exactly one gets it."""
    path = Path(path)
    for candidate in numbered(path):
        try:
            candidate.parent.mkdir(parents=True, exist_ok=True)
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"cannot create folder {path}: {exc.strerror}",
                           hint="choose a writable place with a shorter name") from None
    raise AssertionError("unreachable")


def create_run_dir(spec_name: str, out: str | Path | None, runs_dir: str | Path,
                   fill: Callable[[RunDir], None]) -> RunDir:
    """A new run folder holding what ``fill(run)`` writes into it, made visible only once
    ``fill`` is done: the files are written into a hidden temporary folder beside the target,
    then renamed into place in one step. A run folder therefore always holds a complete
    start (spec, preprocessing, summary, step-0 checkpoint), whatever stops the process, and
    two processes never share one: ``os.rename`` onto an existing folder fails unless it is
    empty, so of two asking for the same ``out`` exactly one gets it. With no ``out`` the
    folder is ``<runs_dir>/<spec-name>-<time>``, with ``-2``, ``-3``... when taken; an
    existing non-empty ``out`` is refused rather than mixed into (its checkpoint and metrics
    would no longer describe one run). A temporary folder left by a killed process is removed
    the next time a run is created beside it."""
    path = Path(out) if out is not None else default_run_path(spec_name, runs_dir)
    made = []
    try:
        made = _make_folders(path.parent)
        remove_stale_temporaries(path.parent, STAGING_NAME)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}.",
                                        suffix=TEMP_SUFFIX, dir=path.parent))
        staging.chmod(usual_permissions(folder=True))  # the run folder it becomes
    except OSError as exc:
        _remove_empty(made)
        _refuse_file_in_the_way(out if out is not None else runs_dir, path.parent,
                                "run_dir" if out is not None else "runs_dir")
        raise SettingError(literal(f"cannot create run folder {path}: {exc.strerror}"),
                           hint="choose a writable place with {run_dir}") from None
    try:
        fill(RunDir(staging))
        return RunDir(_move_into_place(staging, path, number=out is None))
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(made)
        if isinstance(exc, NotWritten) and exc.path.is_relative_to(staging):
            # The hidden folder is gone and means nothing to the user: name the run folder.
            raise SettingError(
                literal(f"cannot create run folder {path}: cannot write "
                        f"{exc.path.relative_to(staging)}: {exc.reason}"),
                hint="free some space or choose a writable place with {run_dir} (nothing "
                "was created)") from None
        raise


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, innermost first."""
    missing = [folder, *folder.parents]
    missing = list(itertools.takewhile(lambda f: not f.exists(), missing))
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _refuse_file_in_the_way(given: str | Path, folder: Path, setting: str) -> None:
    """A :class:`SettingError` naming ``setting`` (``run_dir`` or ``runs_dir``, whose value was
    ``given``) when a file stands where ``folder`` or one of its parents should be a folder
    (mkdir says only "File exists" or "Not a directory")."""
    blocking = file_in_the_way(folder)
    if blocking is None:
        return
    inside = "" if blocking == Path(given) else f": {blocking}"
    raise SettingError(f"{{{setting}}} {literal(str(given))}{literal(inside)} is a file, not a "
                       "folder", hint=f"choose a folder for {{{setting}}}", invalid=True)


def _remove_empty(folders: list[Path]) -> None:
    """Remove those of ``folders`` (innermost first) that are still empty: what a run that
    could not be set up created is not left behind (another run's files keep theirs)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (another run uses it), so neither are its parents


def _move_into_place(staging: Path, path: Path, number: bool) -> Path:
    """Rename ``staging`` to ``path`` (with a numbered name when ``number`` and it is taken)."""
    for candidate in (numbered(path) if number else (path,)):
        if number and candidate.exists():
            continue
        try:
            os.rename(staging, candidate)  # replaces only an empty folder, atomically
            return candidate
        except OSError as exc:
            if number and candidate.exists():
                continue  # taken between the check and the rename
            if candidate.exists():
                _refuse_file_in_the_way(path, path, "run_dir")  # made meanwhile
                raise SettingError(literal(f"run folder {path} already exists and is not "
                                           "empty"), hint=_occupied_hint(path)) from None
            raise SettingError(literal(f"cannot create run folder {path}: {exc.strerror}"),
                               hint="choose a writable place with {run_dir}") from None
    raise AssertionError("unreachable")


def refuse_occupied(path: str | Path) -> None:
    """Raise :class:`SettingError` if ``path`` exists and is not an empty folder (invalid when
    it, or a folder it lies in, is a file). Called before a run's data is loaded too, so that a
    taken ``--out`` is said at once."""
    path = Path(path)
    try:
        # A file is no folder to fill: "not empty" would send the user looking inside it.
        _refuse_file_in_the_way(path, path, "run_dir")
        occupied = path.exists() and any(path.iterdir())
    except OSError as exc:  # a name too long for the file system, a folder not readable
        raise SettingError(literal(f"cannot use run folder {reprlib.repr(str(path))}: "
                                   f"{exc.strerror}"),
                           hint="choose a writable place with a shorter name with {run_dir}"
                           ) from None
    if occupied:
        raise SettingError(literal(f"run folder {path} already exists and is not empty"),
                           hint=_occupied_hint(path))


def _occupied_hint(path: Path) -> str:
    """What to do about an existing run folder (a :class:`SettingError` template): only an
    unfinished run can be continued."""
    try:
        status = json.loads((path / SUMMARY).read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        status = None  # not a run folder (or a torn one): nothing to continue
    if status in ("running", "interrupted"):
        return (f"continue it with `{{resume_command:{literal(str(path))}}}`, pick another "
                "{run_dir}, or delete the folder first")
    what = "a finished run" if status == "finished" else "files"
    return f"it holds {what}: pick another {{run_dir}}, or delete the folder first"



# What to give where a run folder is wanted (a WordedError template): the folder training
# wrote, as the caller heard of it (the command line printed it, the library returned it).
PASS_RUN_FOLDER = "pass {trained_folder}"


def _runs_inside_hint(path: Path) -> str:
    """The hint for a folder that is not a run folder: the run folders it holds, when it is
    the folder of runs itself (``runs``, given for ``runs/digits-<time>``); a template naming
    settings (:class:`WordedError`)."""
    runs = sorted(child.name for child in path.iterdir()
                  if not child.name.startswith(".") and (child / SPEC_JSON).is_file()
                  and (child / CHECKPOINT).is_file())  # a sweep's cell keeps none by default
    if not runs and (path / SWEEP_JSON).is_file():
        command = _filled_by(path)
        return (f"it is a {command}'s folder, whose {_TRAININGS[command]} kept no weights (only "
                f"{{keep_weights:True}} keeps them): {_keep_weights(command)}")
    if not runs:
        return PASS_RUN_FOLDER
    listed = ", ".join(str(path / name) for name in runs[-3:])
    more = f" (the last 3 of {len(runs)})" if len(runs) > 3 else ""
    return literal(f"it holds run folders: pass one of them, e.g. {listed}{more}")


# The folder descriptors this process holds locked (held_alone): runs it trains, sweeps it runs.
_HELD_LOCKS: set[int] = set()


def _release_in_child() -> None:
    """In a forked child (the engine's workers): the locks are the parent's. A descriptor
    a child keeps would hold the lock past the training that took it."""
    for fd in _HELD_LOCKS:
        with suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_release_in_child)


@contextmanager
def trained_alone(run: RunDir) -> Iterator[None]:
    """Within the block this process alone trains ``run``: a second training of the folder
    (``train --resume`` in another terminal, a scheduler retrying) would write the same
    checkpoint, metrics and summary from two processes, each undoing the other's epochs."""
    with held_alone(run.path, f"run {literal(str(run.path))} is being trained by another "
                    "process", hint="wait for it to end, or stop it (Ctrl-C where it runs) "
                    "and resume it then"):
        yield


@contextmanager
def held_alone(folder: Path, busy: str, hint: str) -> Iterator[None]:
    """Within the block this process alone holds ``folder``; where another holds it, a
    RunError saying ``busy`` with ``hint``. An advisory lock (``flock``) on the folder
    itself, which the system releases when the process ends however it ends (SIGKILL too),
    so a killed process never leaves a folder locked. Where there is no ``flock`` (Windows)
    or the file system refuses it, the block runs unguarded."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)  # a folder is locked through a descriptor read-only
    except OSError as exc:
        raise RunError(f"cannot lock {literal(str(folder))}: {exc.strerror}",
                       hint="give yourself read permission on the folder (chmod u+rwx "
                       f"{literal(str(folder))}), or choose another") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(busy, hint=hint) from None
        except OSError:
            pass  # a file system without locks: nothing to hold
        _HELD_LOCKS.add(fd)
        yield
    finally:
        _HELD_LOCKS.discard(fd)
        os.close(fd)


# What the trainings of the commands that fill a folder with them are called.
_TRAININGS = {"sweep": "cells", "compare": "runs"}


def _filled_by(folder: Path) -> str:
    """The command that filled a sweep's ``folder``, as its ``sweep.json`` records it:
    ``compare`` or ``sweep`` (also for a file that cannot be read: the more general)."""
    # here, not above: the run files' module loads NumPy, which naming a run folder need not
    from cnnspec.training.files import read_json

    try:
        held = read_json(folder / SWEEP_JSON, what="sweep description")
    except RunError:  # damaged: the hint still has a command
        return "sweep"
    command = held.get("command") if isinstance(held, dict) else None
    return command if command in _TRAININGS else "sweep"


def _keep_weights(command: str) -> str:
    """What the runs of a ``command`` (sweep, compare) that kept no weights need (a template:
    --keep-weights, keep_weights=True)."""
    return (f"run the same {command} again with {{keep_weights:True}}, and it trains the "
            f"{_TRAININGS[command]} again to keep them")


def _no_checkpoint_hint(path: Path) -> str:
    """What to do about a folder with a spec but no weights (a :class:`WordedError`
    template): a sweep's cell or a compare's run keeps them only with ``--keep-weights``,
    which the same command run again with it adds."""
    if (path.parent / SWEEP_JSON).is_file():
        command = _filled_by(path.parent)
        what = "a compare's run" if command == "compare" else "a sweep's cell"
        return (f"{what} keeps its weights only with {{keep_weights:True}}: "
                f"{_keep_weights(command)}")
    return PASS_RUN_FOLDER


def given_run_folder(value, parameter: str) -> Path:
    """``value`` as the path of a run folder; a value that is no path is a
    :class:`SettingError` naming ``parameter``."""
    return given_path(value, parameter, "a run folder", "runs/digits-20250101-120000")


def open_run_dir(path: str | Path) -> RunDir:
    """An existing run folder; it must hold at least the resolved spec and a checkpoint."""
    path = Path(path)
    if path.is_file():  # most often the spec itself, given where its run belongs
        named = literal(str(path))
        raise WordedError(f"{named} is a file, not a run folder",
                          hint=f"train it first ({{train_command:{named}}}) and pass the run "
                          "folder it writes (runs/<name>-<time>)")
    if not path.is_dir():
        raise WordedError(literal(f"run folder {path} does not exist"), hint=PASS_RUN_FOLDER)
    if not (path / SPEC_JSON).is_file():
        # A mistake in what was asked (exit 2), most often the folder that holds the runs
        raise WordedInputError(literal(f"{path} is not a run folder: {SPEC_JSON} is missing"),
                               hint=_runs_inside_hint(path))
    if not (path / CHECKPOINT).is_file():
        raise WordedError(literal(f"{path} is not a run folder: {CHECKPOINT} is missing"),
                          hint=_no_checkpoint_hint(path))
    # half-written files of a process killed mid-write
    remove_stale_temporaries(path, targets=RUN_FILES)
    return RunDir(path)
