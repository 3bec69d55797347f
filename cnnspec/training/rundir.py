"""The run directory: where a training run keeps everything needed to look back or continue.

Layout (``runs/<spec-name>-<YYYYmmdd-HHMMSS>/`` unless ``--out`` says otherwise)::

    spec.cnn          the spec as given (spec.json only, when a .json IR was given)
    spec.json         the resolved IR
    preprocess.json   the preprocessing fitted on the training split
    init.npz          the weights at step 0 (after LSUV where used)
    checkpoint.npz    the latest weights: <layer>.weight, <layer>.bias, batchnorm buffers
    best.npz          with a validation split: the weights of the best epoch so far by the
                      training setting `monitor` (and _epoch, that epoch, from 1)
    state.npz         what resuming needs besides weights: optimizer, position, RNG states
    metrics.jsonl     one object per finished epoch
    metrics.csv       the same, as a table for spreadsheets, pandas or gnuplot (no dependency,
                      rewritten with each epoch, as a TensorBoard event log would need one)
    summary.json      settings, status and (when finished) the test figures
    curves.png        loss and accuracy per epoch
    diverged.npz      only after divergence: the weights and the batch that blew up
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from cnnspec.errors import RunError, SettingError, literal

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


@dataclass(frozen=True)
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
    """``<runs_dir>/<spec-name>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... if that exists."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = Path(runs_dir) / f"{spec_name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def create_run_dir(spec_name: str, out: str | Path | None, runs_dir: str | Path) -> RunDir:
    """A new, empty run folder. An existing non-empty ``out`` is refused rather than mixed
    into: its checkpoint and metrics would no longer describe one run."""
    path = Path(out) if out is not None else default_run_path(spec_name, runs_dir)
    refuse_occupied(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingError(literal(f"cannot create run folder {path}: {exc}"),
                           hint="choose a writable place with {run_dir}") from exc
    return RunDir(path)


def refuse_occupied(path: str | Path) -> None:
    """Raise :class:`RunError` if ``path`` exists and is not an empty folder. Called before a
    run's data is loaded too, so that a taken ``--out`` is said at once."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
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



def open_run_dir(path: str | Path) -> RunDir:
    """An existing run folder; it must hold at least the resolved spec and a checkpoint."""
    path = Path(path)
    if path.is_file():  # most often the spec itself, given where its run belongs
        raise RunError(f"{path} is a file, not a run folder",
                       hint=f"train it first (cnnspec train {path}) and pass the run folder "
                       "that prints at the end (runs/<name>-<time>)")
    if not path.is_dir():
        raise RunError(f"run folder {path} does not exist",
                       hint="pass the folder `cnnspec train` printed at the end "
                       "(runs/<name>-<time>)")
    for name in (SPEC_JSON, CHECKPOINT):
        if not (path / name).is_file():
            raise RunError(f"{path} is not a run folder: {name} is missing",
                           hint="pass the folder `cnnspec train` printed at the end "
                           "(runs/<name>-<time>)")
    return RunDir(path)
