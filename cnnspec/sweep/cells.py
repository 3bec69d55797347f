"""The cells of a sweep: one training each, identified by what it trains.

A cell is the spec with one value of every swept setting (its *group*), one run seed and, under
k-fold cross-validation, one fold, trained in one dtype. Its identity is a hash of its resolved
IR (which holds the seed), its fold and its dtype, so the same cell has the same folder in every
sweep that meets it: that is what lets a sweep resume, and what keeps a cell from being recorded
twice.

:func:`run_cell` is the body of a task: it trains the cell in a temporary folder on whatever
machine runs it and returns the metrics and summary (and, when asked, the weights) as plain
data; the client writes the sweep folder (:mod:`cnnspec.sweep.results`).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import field, replace
from pathlib import Path

from cnnspec.check import check
from cnnspec.check.lint_catalogue import as_written
from cnnspec.check.model import CheckedSpec
from cnnspec.check.silence import Silences, lint_names
from cnnspec.check.training import training_split_errors
from cnnspec.dtypes import DEFAULT_DTYPE, UNRECORDED_DTYPE, widest
from cnnspec.errors import (
    LIBRARY_NAMES,
    InputError,
    RunError,
    SpecError,
    SpecErrors,
    WordedInputError,
    as_templates,
    command_line,
    first_error,
    hint_fields,
    literal,
    worded,
)
from cnnspec.ir.datasets import training_count
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import refuse_count
from cnnspec.lab.lsuv import lsuv_init_step
from cnnspec.metrics import EPOCH, VAL_ACC
from cnnspec.records import record
from cnnspec.sweep.grid import (
    DTYPE,
    Axis,
    apply,
    cell_dtype,
    check_value,
    held_value,
    swept_dtypes,
    swept_hint,
    swept_spec,
)
from cnnspec.training import rundir
from cnnspec.training.api import train
from cnnspec.training.compat import load_spec_data, read_fitting_data
from cnnspec.training.files import read_json, read_jsonl
from cnnspec.training.loop import Diverged, Interrupted, Stopped
from cnnspec.training.run import tested_epoch
from cnnspec.training.settings import overridden_spec, recorded_ir

HASH_CHARS = 10
# In the `cell` of a cell's summary.json: its settings as its sweep's --set gave them (its
# label's texts), beside "settings", typed; a summary without it (written by an earlier
# cnnspec) gave them as texts under "settings".
GIVEN = "given"
# With --keep-weights: what `cnnspec eval` and `load_run` need besides spec.json and summary.
WEIGHT_FILES = (rundir.PREPROCESS, rundir.CHECKPOINT, rundir.BEST)
# What a cell keeps with --keep-weights: those, its initial weights (`filters --compare-init`
# draws them beside the trained ones) and a diverged training's weights and batch.
KEPT_FILES = (*WEIGHT_FILES, rundir.INIT, rundir.DIVERGED)


@record
class Cell:
    """One training of a sweep. ``settings`` is ``(key, value text)`` per swept setting, in
    the order of the ``--set`` options; ``fold`` is ``(i, k)`` under k-fold
    cross-validation; ``dtype`` is the one it trains in, its data loaded in it as
    ``train --dtype`` loads a run's."""

    settings: tuple[tuple[str, str], ...]
    seed: int
    ir: dict
    fold: tuple[int, int] | None = None
    # the memory of a process training it, as check counts it (its settings' check found it)
    process: int = field(default=0, compare=False)
    dtype: str = DEFAULT_DTYPE
    # the identity of the spec, as written, that the cell varies (spec_key_of); "" for a cell
    # read back from a folder, whose spec its sweep.json names
    spec_key: str = field(default="", compare=False)
    key: str = field(init=False)

    def __post_init__(self) -> None:
        identity = {"ir": self.ir, "fold": self.fold}
        # A float32 cell keeps the key cells had before they had a dtype: the folders of
        # earlier sweeps are found again.
        if self.dtype != UNRECORDED_DTYPE:
            identity["dtype"] = self.dtype
        self.key = hashed(identity)

    @property
    def group(self) -> str:
        """The label of the cell's settings, shared by its seeds and folds."""
        return group_label(self.settings)

    @property
    def label(self) -> str:
        text = f"{self.group}, seed {self.seed}"
        return text if self.fold is None else f"{text}, fold {self.fold[0] + 1}/{self.fold[1]}"

    @property
    def folder(self) -> str:
        """``<readable label>-<hash>``: the label for people, the hash for identity."""
        words = [slug(f"{k}={v}") for k, v in self.settings] or ["spec"]
        if self.dtype != DEFAULT_DTYPE and "dtype" not in dict(self.settings):
            words.append(self.dtype)  # given to the whole sweep: the hash alone told it
        words.append(f"seed{self.seed}")
        if self.fold is not None:
            words.append(f"fold{self.fold[0] + 1}of{self.fold[1]}")
        # Capped so that a long value (a kernel literal is an --init too) still makes a name the
        # file system takes; the hash alone tells cells apart.
        readable = "_".join(words)[:LABEL_CHARS].rstrip("_.-")
        return f"{readable}-{self.key}"

    def command(self, folder: Path) -> str | None:
        """The command line that trains this cell again alone, recorded in ``folder``: train
        of its ``spec.json``, the resolved IR that holds its settings and seed, in its dtype;
        None for a k-fold cell, whose fold a sweep alone trains."""
        if self.fold is not None:
            return None
        words = "cnnspec train" if self.dtype == DEFAULT_DTYPE else \
            f"cnnspec train --dtype {self.dtype}"
        return command_line(words, Path(folder) / rundir.SPEC_JSON)

    def setting(self, key: str):
        """The value of the setting ``key`` the cell trains with, as JSON carries it: its
        dtype's name, else as its IR holds it (:func:`~cnnspec.sweep.grid.held_value`: a
        number, true or false, an init as written)."""
        return self.dtype if key == DTYPE else held_value(self.ir, key)

    def fields(self) -> dict:
        """What the cell's summary.json says of it: its settings typed (:meth:`setting`),
        and as its sweep gave them (:data:`GIVEN`), the texts of its label and folder."""
        return {"key": self.key, "settings": {key: self.setting(key) for key, _ in self.settings},
                GIVEN: dict(self.settings), "seed": self.seed,
                "fold": None if self.fold is None else self.fold[0] + 1,
                "folds": None if self.fold is None else self.fold[1]}


def hashed(identity) -> str:
    """The first :data:`HASH_CHARS` hex digits of the SHA-256 of ``identity`` as sorted JSON."""
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def spec_key_of(spec: Spec) -> str:
    """The identity of ``spec`` as written (its resolved IR, before a sweep's settings or a
    run's options change it): the spec a sweep folder's cells vary."""
    return hashed({"spec": recorded_ir(spec.ir)})


def key_of(folder: str) -> str:
    """The cell key of a cell folder's name (what follows its last ``-``)."""
    return folder.rpartition("-")[2]


def group_label(settings: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings) or "spec"


# The readable part of a cell folder's name, at most (the hash follows it).
LABEL_CHARS = 100


def slug(label: str) -> str:
    """A folder-safe name: ``init=normal(0, 0.01)`` -> ``init=normal_0_0.01``; never ``.``
    or ``..``."""
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", label).strip("_.") or "cell"


def make_cells(spec: Spec, axes: list[Axis], seeds: int = 1, folds: int | None = None,
               overrides: dict | None = None,
               on_warnings: Callable[[list[SpecError]], None] | None = None,
               by_sets: bool = False, dtype: str = DEFAULT_DTYPE, ignore=()) -> list[Cell]:
    """Every cell of the grid (each value of each axis, in order) x seeds ``0..seeds-1`` x
    folds, each checked before anything trains (the spec itself first). ``overrides`` (training
    key -> IR value, e.g. ``{"epochs": 1}``) apply to every cell. Each cell trains in
    ``dtype``, or in its value of a ``dtype`` axis, and is checked in it (its memory counted in
    it); the spec and each other value alone are checked in the widest dtype the cells train
    in, so that what only a narrower one cannot hold is said with that dtype. A value that
    fails the check alone is reported against its ``--set``; a combination that fails, against
    the cell's label. ``on_warnings``, if given, is called once with the checks' warnings: the
    spec's own, then each a value (or a combination) adds to them, said to be its (``with
    init=zeros:``), as ``train`` prints the warnings of the spec it trains, but those of the
    lints ``ignore`` names (:func:`~cnnspec.check.silence.lint_names`). ``by_sets``: the
    caller is given training settings by ``--set`` alone (a sweep, not compare's options),
    which the hints of the errors then name (:func:`~cnnspec.sweep.grid.swept_hint`); an
    init comparison takes every setting a hint names by the option train takes it by
    (``--epochs``, ``--data``), and keeps the hints as they are
    (:func:`~cnnspec.errors.hint_fields`)."""
    seeds = refuse_count("seeds", seeds, 1,
                         "e.g. {seeds:3} trains every cell with seeds 0, 1 and 2")
    silenced = Silences(lint_names(ignore))
    if folds is not None:
        folds = refuse_count("folds", folds, 2, "e.g. {folds:5} for 5-fold cross-validation")
    # The spec must check on its own first (its mistakes located in its file); the --set
    # values then vary a valid spec.
    spec_key = spec_key_of(spec)
    base = overridden_spec(spec, overrides or {})
    keys = [axis.spelt for axis in axes]  # a swept dtype is named by its --set
    hint_of = (lambda error: swept_hint(error, base.overridden, keys)) if by_sets \
        else hint_fields
    alone = widest(swept_dtypes(axes, dtype))
    # each data file read once, as check reads it (the spec's own only where no --set
    # replaces it: no cell would train on it)
    loaded = {}
    data_swept = any(axis.key == "data" for axis in axes)
    own = list(_checked_spec(base, hint_of, alone, None if data_swept else loaded).warnings)
    by_value = {}
    for a, axis in enumerate(axes):
        for index in range(len(axis.values)):
            in_dtype = cell_dtype([axis], (index,), alone)
            read = loaded if axis.key == "data" else None
            by_value[a, index] = as_written(check_value(
                base, axis, index,
                lambda spec, d=in_dtype, r=read: _checked_with_data(spec, d, r)).warnings, own)
    refuse_too_many_cells(axes, seeds, folds)
    images_of = {}  # a data set's training images, counted once for every cell of its folds
    cells = []
    got = []  # every warning some cell gets
    checked_cells = []  # (the settings of each combination, its warnings)
    for combination in itertools.product(*(range(len(axis.values)) for axis in axes)):
        ir = base.ir
        for axis, index in zip(axes, combination):
            ir = apply(ir, axis.key, axis.values[index])
        settings = tuple((axis.key, axis.texts[i]) for axis, i in zip(axes, combination))
        in_dtype = cell_dtype(axes, combination, dtype)
        checked = _check_group(swept_spec(base, ir, [axis.key for axis in axes]), settings,
                               hint_of, in_dtype, loaded)
        found = as_written(checked.warnings, own)
        got += [warning for warning in found if warning not in got]
        checked_cells.append((settings, found))
        refuse_unfit_folds(checked, settings, folds, hint_of, images_of)
        for seed in range(seeds):
            seeded = recorded_ir(ir)  # a copy, its data file found from any folder
            seeded["training"]["seed"] = seed
            for fold in ([None] if folds is None else [(i, folds) for i in range(folds)]):
                cells.append(Cell(settings, seed, seeded, fold, checked.step_memory.process,
                                  in_dtype, spec_key))
    # The spec's own warnings and a value's are said where a cell gets them: a swept setting
    # whose every value differs from the spec's (--set lr=5) leaves the spec's lr to no cell.
    warnings = [warning for warning in own if warning in got]
    said = list(own)
    for (a, index), found in by_value.items():
        # a value's warning that not every cell with the value gets needs another setting
        # too (--set conv1.weight=...): said below, with the settings it needs
        with_value = [found_in for settings, found_in in checked_cells
                      if settings[a] == (axes[a].key, axes[a].texts[index])]
        held = [w for w in found if all(w in found_in for found_in in with_value)]
        warnings += _added(held, own, axes[a].value_text(index))
        said += held
    for warning in got:
        if warning not in said:
            warnings += _added([warning], own, _warned_label(warning, checked_cells))
            said.append(warning)
    warnings = silenced.kept(warnings)
    if warnings and on_warnings is not None:
        on_warnings([replace(warning, **hint_of(warning)) for warning in warnings])
    return cells


def _warned_label(warning: SpecError, checked_cells: list) -> str:
    """The settings that bring ``warning``, as a label: those every combination of
    ``checked_cells`` (its settings, its warnings) that gets it shares and some that does not
    get it lacks. A setting every combination shares (a --set of one value) says nothing of the
    warning, and one the warned share alone is not all it needs (init=he_normal warning only
    together with conv1.weight=normal(std=0.0001)). Where the warned share nothing the others
    lack (a1 with b1, a2 with b2, but not a1 with b2), each warned combination is named."""
    warned = [settings for settings, found in checked_cells if warning in found]
    others = [settings for settings, found in checked_cells if warning not in found]
    shared = [setting for setting in warned[0] if all(setting in s for s in warned)]
    if not others:
        return group_label(tuple(shared))
    telling = tuple(setting for setting in shared if any(setting not in s for s in others))
    if telling:
        return group_label(telling)
    return " or ".join(group_label(tuple(settings)) for settings in warned)


def _added(found: list[SpecError], known: list[SpecError], label: str) -> list[SpecError]:
    """The warnings of ``found`` not among ``known``, each said to come with ``label``: the
    spec's line under the caret does not show the setting that brought it."""
    return [replace(w, message=f"with {label}: {w.message}")
            for w in found if w not in known]


# The most trainings one sweep plans: past it, the plan alone (every cell's IR, checked) takes
# minutes and gigabytes before anything trains, and the grid is almost surely a mistyped count.
MAX_CELLS = 10_000


def refuse_too_many_cells(axes: list[Axis], seeds: int, folds: int | None) -> None:
    """Refuse a grid of more than :data:`MAX_CELLS` trainings, counted before any is made."""
    counts = [len(axis.values) for axis in axes] + [seeds] + ([folds] if folds else [])
    total = math.prod(counts)
    if total > MAX_CELLS:
        factors = " x ".join(f"{count:,}" for count in counts)
        raise WordedInputError(f"{factors} = {total:,} trainings (values x seeds x folds) are "
                               f"more than the {MAX_CELLS:,} one run plans",
                               hint="fewer values, seeds or folds; a larger sweep is several "
                                    "sweeps into the same {out}")


def refuse_unfit_folds(checked: CheckedSpec, settings, folds: int | None, hint_of,
                       images_of: dict) -> None:
    """Refuse the k-fold cells of ``checked`` (the spec of one combination of ``settings``)
    whose training images cannot be split as ``train`` splits them
    (:func:`~cnnspec.check.training.training_split_errors` of fold 1, which validates on the
    most images and so trains on the fewest): ``train`` would refuse each once the sweep had
    started. Said of the cell's ``settings``, their hint fields ``hint_of(error)``.
    ``images_of`` keeps the training images of each data set counted
    (:func:`_training_images`)."""
    if not folds:
        return
    images = _training_images(checked, images_of)
    errors = training_split_errors(checked.spec, checked.layers, images, fold=(0, folds))
    if errors:
        said = f"{group_label(settings)}: " if settings else ""
        raise SpecErrors([replace(error, message=said + error.message, **hint_of(error))
                          for error in errors])


def _training_images(checked: CheckedSpec, images_of: dict) -> int:
    """How many images the training split of ``checked``'s data holds: known before loading
    (:func:`~cnnspec.ir.datasets.training_count`), else (an npz file) counted from its
    labels (:func:`~cnnspec.data.npz.training_image_count`), once for each data set
    (``images_of``); a file whose labels cannot tell is loaded, as ``check`` loads it, to
    say why."""
    from cnnspec.data.npz import training_image_count  # NumPy: only for a data file

    data = checked.ir["training"]["data"]
    known = training_count(data)
    if known is not None:
        return known
    key = json.dumps(data, sort_keys=True)
    if key not in images_of:
        images_of[key] = training_image_count(data["path"])
        if images_of[key] is None:
            images_of[key] = len(load_spec_data(checked).y_train)
    return images_of[key]


def _checked_with_data(spec: Spec, dtype: str, loaded: dict | None) -> CheckedSpec:
    """``spec`` checked in ``dtype`` and, with ``loaded``, its data file read as ``check``
    reads it: ``train`` refuses a file that is missing, unreadable, or of arrays that are no
    images and labels or do not fit the network (:func:`load_spec_data`), which the cells met
    only once the sweep had started, each on its worker, and said without the spec's line.
    ``loaded`` keeps each data set read, by its setting (other datasets are known to the
    checker without reading)."""
    checked = check(spec, dtype=dtype)
    if loaded is not None:
        read_fitting_data(checked, loaded)
    return checked


def _checked_spec(spec: Spec, hint_of, dtype: str, loaded: dict | None):
    """The checked ``spec`` a grid varies, in ``dtype``, its data file read with ``loaded``
    (:func:`_checked_with_data`); its mistakes located in its file, their hint fields
    ``hint_of(error)``."""
    try:
        return _checked_with_data(spec, dtype, loaded)
    except (SpecError, SpecErrors) as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        raise SpecErrors([replace(error, **hint_of(error)) for error in errors]) from None


def _check_group(spec: Spec, settings, hint_of, dtype: str, loaded: dict):
    """The checked ``spec`` of one combination of ``settings``, in ``dtype``, its data file
    read with ``loaded`` (:func:`_checked_with_data`); its mistake, if any, reported against
    their label, its hint fields ``hint_of(error)``."""
    try:
        return _checked_with_data(spec, dtype, loaded)
    except (SpecError, SpecErrors) as exc:
        first = first_error(exc)
        raise SpecError(f"{group_label(settings)}: {first.message}", file=spec.path,
                        **hint_of(first)) from None


def kept_val_acc(metrics: list[dict], test_epoch: int | None) -> float | None:
    """The validation accuracy of epoch ``test_epoch``, whose weights the run keeps and its
    summary's test_acc scores (its best epoch's by ``monitor``, else its last:
    :func:`~cnnspec.training.run.tested_epoch`); the last epoch's where it is None. None
    without metrics or a validation split."""
    if test_epoch is None:
        return metrics[-1].get(VAL_ACC) if metrics else None
    for index, row in enumerate(metrics):
        if row.get(EPOCH, index + 1) == test_epoch:
            return row.get(VAL_ACC)
    return None


@record
class CellResult:
    """What a cell's training left: per-epoch metrics, the run summary, whether it diverged
    (then ``error`` holds the trainer's message, once recorded naming the files the cell's
    folder keeps, and ``hint_template`` what to try), the bytes of the weight files (with
    ``keep_weights``), or ``failed``: why it could not train (nothing to record), and
    ``failed_hint``, what to do about it, where the failure said (a template naming settings
    as ``hint_template`` is), and ``failed_asked``,
    whether it was a mistake in what was asked (a missing data file) rather than a failure
    of the run."""

    key: str
    metrics: list[dict]
    summary: dict
    diverged: bool = False
    error: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    failed: str | None = None
    failed_hint: str | None = None
    failed_asked: bool = False
    folder: str | None = None  # where the client recorded it, in the sweep folder
    # A diverged training's hint, a template naming settings as the cell's caller gives them
    # (WordedError's: {lr:0.05}, which a sweep rewords as {sets:lr=0.05})
    hint_template: str | None = None

    def worded_hint(self, names: dict = LIBRARY_NAMES) -> str | None:
        """What to try after a divergence, each setting named as ``names`` calls it (a front
        end's; by default the library's parameters); None when it did not diverge."""
        return None if self.hint_template is None else worded(self.hint_template, names)

    @property
    def val_acc(self) -> float | None:
        """The validation accuracy of the weights the run keeps (None without a validation
        split or when the training diverged): see :func:`kept_val_acc`."""
        return None if self.diverged else kept_val_acc(self.metrics,
                                                       tested_epoch(self.summary))

    @property
    def test_acc(self) -> float | None:
        return None if self.diverged else self.summary.get("test_acc")


@record(frozen=True)
class Task:
    """What a worker needs to train a cell: plain data, no file shared with the client."""

    cell: Cell
    data_dir: str | None = None
    keep_weights: bool = False


def run_cell(task: Task) -> CellResult:
    """Train one cell in a temporary folder and return what it left (the body of a task)."""
    cell = task.cell
    scratch = Path(tempfile.mkdtemp(prefix=f"cnnspec-{cell.key}-"))
    out = scratch / "run"
    try:
        try:
            checked = check(Spec(cell.ir), dtype=cell.dtype)
            train(checked, run_dir=out, progress="none", data_dir=task.data_dir,
                  init_steps=[lsuv_init_step], dtype=cell.dtype, fold=cell.fold)
            diverged, error, hint = False, None, None
        except Diverged as exc:  # what it saved is in the scratch folder: see record
            diverged, error, hint = True, exc.reason, exc.hint_template
        except Interrupted:
            raise KeyboardInterrupt from None  # Ctrl-C in this process: stop the sweep
        except Stopped as exc:  # its checkpoint is in the scratch folder, deleted below
            return CellResult(cell.key, [], {}, failed=exc.reason)  # its hint: resume that
        except (RunError, SpecError, SpecErrors) as exc:
            error = first_error(exc) if isinstance(exc, SpecErrors) else exc
            asked = isinstance(exc, (InputError, SpecError, SpecErrors)) \
                or getattr(exc, "invalid", False)
            return CellResult(cell.key, [], {}, failed=str(getattr(exc, "message", exc)),
                              failed_hint=_hint_template(error), failed_asked=asked)
        summary = dict(read_json(out / rundir.SUMMARY, what="run summary"), cell=cell.fields())
        summary.pop("command", None)  # it names the scratch folder: record_cell() names the cell's
        files = ({name: (out / name).read_bytes() for name in KEPT_FILES
                    if (out / name).is_file()} if task.keep_weights else {})
        return CellResult(cell.key, read_jsonl(out / rundir.METRICS), summary,
                          diverged or bool(summary.get("diverged")), error, files,
                          hint_template=hint)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _hint_template(error: RunError | SpecError) -> str | None:
    """``error``'s hint as a template naming settings (see :class:`WordedError`): worded by
    the caller, not in the library's words it was raised with."""
    if isinstance(error, RunError):
        return as_templates(error)[1]
    return error.hint_template if error.hint_template is not None else \
        literal(error.hint) if error.hint else None
