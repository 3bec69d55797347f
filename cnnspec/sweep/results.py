"""The sweep folder: one folder per cell, written by the client, and the results over cells.

Layout::

    sweep.json                 what was swept last (spec, settings, seeds, folds, dtypes), by
                               which command (sweep, compare), and the identity of the spec
                               as written (spec_key): the folder holds that spec's cells
                               alone, of any sweeps (comparisons) of it
    <label>-<hash>/            one per cell (cnnspec.sweep.cells.Cell.folder)
        spec.json              the cell's resolved IR
        metrics.jsonl          one object per finished epoch
        summary.json           the run summary, with the cell's settings (typed, and as
                               given: cells.GIVEN), seed and fold and
                               the command that trains it again alone (but a k-fold cell);
                               a diverged cell's with what to try (HINT_TEMPLATE)
        preprocess.json, checkpoint.npz, best.npz    with --keep-weights
        diverged.npz           with --keep-weights, of a training that diverged
    results.json, results.csv  per group: mean +- std over seeds and folds; per cell; of
                               every cell the folder holds, a setting that differs
                               between them a column (:func:`columns`), its values
                               typed (:func:`setting_value`; the CSV's text reads back
                               to them: training.files.csv_text)
    accuracy.png, curves.png   validation accuracy against each swept setting; curves

A cell folder is written under a temporary name and renamed into place, so it is either
complete or absent: a cell whose folder holds its spec, metrics and summary is finished (one
that lost any of them is trained again into it), and a result that arrives twice (a task
retried after its worker died) is recorded once.
"""
from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import field, replace
from pathlib import Path

from cnnspec.atomic import NotWritten, write_bytes
from cnnspec.dtypes import DEFAULT_DTYPE, DTYPES, UNRECORDED_DTYPE
from cnnspec.errors import RunError, WordedError, counted, is_template, literal
from cnnspec.given import given_path
from cnnspec.metrics import ACCURACIES
from cnnspec.records import record
from cnnspec.sweep.cells import (
    GIVEN,
    HASH_CHARS,
    WEIGHT_FILES,
    Cell,
    CellResult,
    group_label,
    key_of,
)
from cnnspec.sweep.grid import (
    DTYPE,
    SWEPT_INIT_FIELDS,
    setting_key,
    training_text,
    written_value,
)
from cnnspec.training import rundir
from cnnspec.training.files import (
    beyond_float,
    read_json,
    read_jsonl,
    write_csv,
    write_json,
    write_jsonl,
)
from cnnspec.training.interrupts import interrupts_held
from cnnspec.training.loop import diverged_files
from cnnspec.training.run import summary_problem, tested_epoch, tests_other_weights

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
# In a diverged cell's summary.json beside its "message": what to try, a template naming
# settings as training words them (WordedError's), worded for each sweep that reports the cell.
HINT_TEMPLATE = "hint_template"


# What to do about a sweep's (or a comparison's) folder that cannot be its: its `out`, as
# the caller gives it (a SettingError template: --out on the command line).
ANOTHER_OUT = "give another folder as {out}"


def prepare_folder(out: Path, automatic: bool = False) -> Path:
    """Create the sweep folder, or take up a sweep's folder again, and return it; a folder
    with anything else in it is refused (its files would mix with the cells). An
    ``automatic`` name another sweep took in the same second gets the next free suffix
    (``-2``), created with an exclusive mkdir so two sweeps never share a folder. Its
    description is written by :func:`filled_alone`. An ``out`` that is no path is a
    :class:`~cnnspec.errors.SettingError` naming it."""
    out = given_path(out, "out", "a sweep folder", "runs/sweep-digits")
    if automatic:
        out = rundir.new_folder(out)
    if out.exists() and not out.is_dir():
        raise WordedError(literal(f"{out} exists and is not a folder"), hint=ANOTHER_OUT)
    if out.is_dir() and any(out.iterdir()) and not (out / rundir.SWEEP_JSON).is_file():
        raise WordedError(literal(f"{out} already exists and is not empty"),
                          hint=f"{ANOTHER_OUT}, or delete the folder first")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder of the path should be, no permission
        raise WordedError(literal(f"cannot create the folder {out}: {exc.strerror or exc}"),
                          hint=ANOTHER_OUT) from None
    return out


@contextmanager
def filled_alone(out: Path, description: dict, command: str) -> Iterator[None]:
    """Within the block this process alone fills ``out`` (a folder of :func:`prepare_folder`),
    whose description (``sweep.json``) it writes first. Two sweeps (or comparisons) into one
    folder would each train every cell neither had recorded yet; the second, refused, must
    not have rewritten the first's description either."""
    with rundir.held_alone(out, f"{command} folder {literal(str(out))} is being filled by "
                           f"another {command}", hint=f"wait for it to end: the same {command} "
                           "run again then trains only the cells it has not recorded"):
        _refuse_another_spec(out, description, command)
        write_json(out / rundir.SWEEP_JSON, {**description, "command": command})
        yield


def _refuse_another_spec(out: Path, description: dict, command: str) -> None:
    """A folder holds the sweeps (or the comparisons) of one spec: another spec file's, the
    same file changed since (its layers, inputs or training block), or another command's,
    would rewrite its results and pictures with cells that answer another question beside
    the first's. The same spec swept again, over any settings, seeds or folds, goes on in it
    (the cells it holds are not trained again, and its table shows them all). A description
    written before it named its command, or the spec's identity, is taken as this one's."""
    held = read_description(out)
    if held is None:
        return
    held_command = held.get("command", command)
    held_spec, spec = Path(held["spec"]).name, Path(description["spec"]).name
    held_noun = _NOUNS.get(held_command, held_command)
    if held_spec == spec and held_command == command:
        if held.get(SPEC_KEY, description[SPEC_KEY]) == description[SPEC_KEY]:
            return
        raise WordedError(f"{literal(str(out))} holds {held_noun}s of {literal(spec)} as it "
                          "was written before: the spec has changed since",
                          hint=f"give this {command} another folder as {{out}}, or undo the "
                               f"change to go on in {literal(str(out))}"
                               f"{_CHANGE_HINTS[command]}")
    other = f"not of {literal(spec)}" if held_command == command else f"not a {_NOUNS[command]}"
    raise WordedError(f"{literal(str(out))} holds a {held_noun} of {literal(held_spec)}, "
                      f"{other}",
                      hint=f"give this {command} another folder as {{out}}, or delete "
                           f"{literal(str(out))} to start afresh (a {held_noun} of "
                           f"{literal(held_spec)} goes on in it)")


# In sweep.json: the identity of the spec as written (cnnspec.sweep.cells.spec_key_of).
SPEC_KEY = "spec_key"
# How to try a change of the spec in the folder of its sweeps (comparisons) instead.
_CHANGE_HINTS = {"sweep": "; a setting to try goes in as {sets:KEY=V1,V2}, a layer's option "
                          "too ({sets:conv1.filters=8,16})",
                 "compare": "; the settings to try go in as {epochs}, {lr} or {batch_size}"}


def read_description(out: Path) -> dict | None:
    """The description (``sweep.json``) of the sweep folder ``out``, None where it has none;
    one that cannot be read or holds no description is a :class:`RunError` saying what is
    wrong with it: taken as no description, another spec's sweep would mix its cells with
    the folder's."""
    path = Path(out) / rundir.SWEEP_JSON
    if not path.exists():
        return None
    hint = (f"repair or delete {path}: a sweep (or comparison) of the spec of the cells in "
            f"{out} then goes on there and writes it again; every cell recorded there is kept")
    try:
        held = read_json(path, what="sweep description")
    except RunError as exc:
        raise RunError(exc.message, hint=hint) from None
    problem = _description_problem(held)
    if problem:
        raise RunError(f"sweep description {path} is damaged: {problem}", hint=hint)
    return held


def _description_problem(held) -> str | None:
    """What is wrong with ``held``, read from a ``sweep.json``; None when it is a
    description."""
    if not isinstance(held, dict):
        return f"it holds {type(held).__name__}, not an object"
    if not isinstance(held.get("spec"), str):
        return "its 'spec' is no file name"
    if held.get("command", "sweep") not in _NOUNS:
        return f"its 'command' is none of {', '.join(_NOUNS)}"
    if not isinstance(held.get(SPEC_KEY, ""), str):
        return f"its {SPEC_KEY!r} is no text"
    return None


_NOUNS = {"sweep": "sweep", "compare": "comparison"}  # the commands, as a folder holds them


# The files that make a cell folder a record of its cell: one without any of them (its
# metrics deleted, half copied) records nothing, and its cell is trained again into it.
RECORD_FILES = (rundir.SPEC_JSON, rundir.METRICS, rundir.SUMMARY)
# What a cell folder lacks whose summary was written before a run's test accuracy was of the
# weights it keeps, where that was of other weights (training.run.tests_other_weights): its
# figures are no record of the cell as a table averages it, and its cell is trained again.
KEPT_TEST_ACC = "test accuracy of the weights it keeps"


class CellFolders:
    """The cell folders of the sweep folder ``out`` (not the hidden ones being written),
    listed once: each with the first of :data:`RECORD_FILES` it lacks, or
    :data:`KEPT_TEST_ACC` (None: it records its cell), and by cell key; the summary of each
    that has one, read once (:meth:`summary`). :func:`record` notes the folders it writes and
    removes, so that a sweep lists its folder once, not once for every cell it records."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        # in the order of their names; the folders recorded since at the end
        self.lacking: dict[Path, str | None] = {}
        self._of_key: dict[str, list[Path]] = {}
        self._summaries: dict[Path, object] = {}
        for folder in sorted(self.out.iterdir()) if self.out.is_dir() else []:
            if not folder.name.startswith(".") and folder.is_dir():
                self._add(folder, next((name for name in RECORD_FILES
                                        if not (folder / name).is_file()), None))
                if self.lacking[folder] is None and self._tests_other_weights(folder):
                    self.lacking[folder] = KEPT_TEST_ACC

    def _tests_other_weights(self, folder: Path) -> bool:
        """Whether the summary of ``folder`` holds the figures a table reads, of other
        weights than its cell keeps; one that cannot be read, or is damaged, is said so by
        its reader (:func:`read_recorded`)."""
        try:
            summary = self.summary(folder)
        except RunError:
            return False
        return _summary_problem(summary) is None and tests_other_weights(summary)

    def summary(self, folder: Path):
        """The ``summary.json`` of ``folder`` as read, the first time it is asked for."""
        if folder not in self._summaries:
            self._summaries[folder] = read_json(folder / rundir.SUMMARY, what="cell summary")
        return self._summaries[folder]

    def tested_other_weights(self) -> list[Path]:
        """The folders whose summaries test other weights than their cells keep
        (:data:`KEPT_TEST_ACC`)."""
        return [folder for folder, lacks in self.lacking.items() if lacks == KEPT_TEST_ACC]

    def _add(self, folder: Path, lacks: str | None) -> None:
        self.lacking[folder] = lacks
        self._of_key.setdefault(key_of(folder.name), []).append(folder)

    def of_key(self, key: str) -> list[Path]:
        """Every folder of the cell ``key``, complete or not."""
        return list(self._of_key.get(key, ()))

    def recorded(self, key: str) -> Path | None:
        """The folder that records the cell ``key``, None where none does. A cell is found
        by its key alone: the same IR given under another label (an init written two ways)
        is the same cell."""
        return next((folder for folder in reversed(self._of_key.get(key, ()))
                     if self.lacking[folder] is None), None)

    def by_key(self) -> dict[str, Path]:
        """Cell key -> folder of every cell the folder records."""
        return {key_of(folder.name): folder for folder, lacks in self.lacking.items()
                if lacks is None}

    def left_to_train(self, cells: list[Cell], keep_weights: bool = False) -> list[Cell]:
        """The cells of ``cells`` not recorded finished, each key once: with
        ``keep_weights``, one recorded without its weights trains again, to keep them."""
        unique = {cell.key: cell for cell in cells}
        return [cell for key, cell in unique.items()
                if (folder := self.recorded(key)) is None
                or keep_weights and not kept_weights(folder)]

    def wrote(self, folder: Path, removed: list[Path]) -> None:
        """Note that :func:`record` wrote the cell folder ``folder`` and removed ``removed``."""
        for gone in removed:
            del self.lacking[gone]
            self._of_key[key_of(gone.name)].remove(gone)
        self._summaries.pop(folder, None)  # its summary is the one written now
        if folder in self.lacking:
            self.lacking[folder] = None
        else:
            self._add(folder, None)


def kept_weights(folder: Path) -> bool:
    """Whether a recorded cell's folder holds the files ``--keep-weights`` keeps."""
    return any((Path(folder) / name).is_file() for name in WEIGHT_FILES)


def record_cell(out: Path, cell: Cell, result: CellResult,
                folders: CellFolders | None = None) -> bool:
    """Write the folder of a finished cell (atomically: a temp folder renamed into place)
    and name it in ``result.folder``; False when it was recorded already. ``folders``: the
    cell folders of ``out`` as a sweep listed them (every record into it notes its own);
    by default listed now. A cell recorded without its weights is replaced by one that
    brings them (``--keep-weights`` given to a sweep that had run without it): the same
    training, now with its weights. A Ctrl-C (or SIGTERM) while it writes acts once the
    folder is in place: the cell has trained, and cut short, its training would be lost."""
    with interrupts_held():
        return _record(Path(out), cell, result,
                       CellFolders(out) if folders is None else folders)


def _record(out: Path, cell: Cell, result: CellResult, folders: CellFolders) -> bool:
    final = out / cell.folder
    existing = folders.recorded(cell.key)
    replaced = existing is not None and bool(result.files) and not kept_weights(existing)
    # a folder of the cell's without one of RECORD_FILES records nothing (its summary or
    # metrics deleted, its files half copied): kept, it would leave the cell to be trained
    # again every time; one of another name (the cell's value written another way) would
    # stay beside it, incomplete
    unrecorded = existing is None and final.is_dir()
    incomplete = [] if existing is not None else [
        folder for folder in folders.of_key(cell.key) if folder != final]
    if existing is not None and not replaced or final.exists() and not final.is_dir():
        result.folder = (existing or final).name
        return False
    if replaced:
        final = existing
    result.folder = final.name
    if result.diverged and result.error is not None:  # where its files are now, if anywhere
        kept = final / rundir.DIVERGED if rundir.DIVERGED in result.files else None
        result.error = f"{result.error}; {diverged_files(kept)}"
        result.summary = {**result.summary, "message": result.error,
                          HINT_TEMPLATE: result.hint_template}
    command = cell.command(final)
    result.summary = {**result.summary, **({"command": command} if command else {})}
    tmp = out / f".{cell.folder}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        write_json(tmp / rundir.SPEC_JSON, cell.ir)
        write_jsonl(tmp / rundir.METRICS, result.metrics)
        for name, data in result.files.items():
            write_bytes(tmp / name, data)
        write_json(tmp / rundir.SUMMARY, result.summary)
        if replaced or unrecorded:
            _replace(final, tmp)
        else:
            os.rename(tmp, final)
    except BaseException as exc:  # Ctrl-C too: no half-written folder is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and final.exists():  # recorded meanwhile by another client
            return False
        if isinstance(exc, (OSError, NotWritten)):  # a full disk, a read-only folder
            # Named as the folder it would have been: the hidden one is gone.
            reason = exc.reason if isinstance(exc, NotWritten) else exc.strerror or str(exc)
            raise RunError(f"cannot record cell {cell.label} in {final}: {reason}",
                           hint=f"free some space or make {out} writable, then run the same "
                           "sweep again: the cells recorded so far are kept") from None
        raise
    for folder in incomplete:
        shutil.rmtree(folder, ignore_errors=True)
    folders.wrote(final, incomplete)
    return True


def _replace(final: Path, tmp: Path) -> None:
    """Put the folder ``tmp`` in the place of ``final``: ``final`` set aside first and put
    back if ``tmp`` cannot take its place, removed once it has."""
    aside = final.with_name(f".{final.name}.{os.getpid()}.old")
    os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def read_recorded(folder: Path, cell: Cell, folders: CellFolders) -> CellResult:
    """The result of a cell recorded earlier in ``folder`` (a resumed sweep reports it with
    the rest); a summary or metrics file whose figures are not the numbers a training writes
    (or whose metrics hold other epochs than its summary says), or a spec that is not the
    cell's IR, is a :class:`RunError` naming the folder to delete: its table and curves would
    read them as numbers, and another sweep into the folder would refuse the cell. Its
    summary is read through ``folders``, the listing of its sweep folder."""
    ir, summary = _spec_and_summary(folder, _trained_again_hint(folder), folders)
    return _recorded_result(folder, cell, summary, _spec_problem(ir, cell))


def _trained_again_hint(folder: Path) -> str:
    return (f"delete the folder {folder}: the same command run again into its folder trains "
            "that cell again")


def _spec_and_summary(folder: Path, hint: str, folders: CellFolders) -> tuple:
    """The ``spec.json`` and ``summary.json`` (read once, by ``folders``) of the cell folder
    ``folder``, as read; one that cannot be read is a :class:`RunError` naming it, with
    ``hint``."""
    try:
        return (read_json(folder / rundir.SPEC_JSON, what="cell spec"),
                folders.summary(folder))
    except RunError as exc:
        raise RunError(exc.message, hint=hint) from None


def _recorded_result(folder: Path, cell: Cell, summary,
                     spec_problem: tuple[str, str] | None = None) -> CellResult:
    """The result of ``cell``, recorded in ``folder`` whose ``summary.json`` holds
    ``summary`` (read already, as its ``spec.json``, whose ``spec_problem`` the caller
    found): its metrics are read, and its figures checked (:func:`read_recorded`)."""
    hint = _trained_again_hint(folder)
    try:
        metrics = read_jsonl(folder / rundir.METRICS)
    except RunError as exc:
        raise RunError(exc.message, hint=hint) from None
    problem = spec_problem or _summary_problem(summary) or _metrics_problem(metrics, summary)
    if problem:
        file, what = problem
        raise RunError(f"cell {_FILE_NOUNS[file]} {folder / file} is damaged: {what}",
                       hint=hint)
    return CellResult(cell.key, metrics, summary, bool(summary.get("diverged")),
                      summary.get("message"), folder=folder.name,
                      hint_template=summary.get(HINT_TEMPLATE))


_FILE_NOUNS = {rundir.SPEC_JSON: "spec", rundir.SUMMARY: "summary", rundir.METRICS: "metrics"}


def _spec_problem(ir, cell: Cell) -> tuple[str, str] | None:
    """The file and what is wrong with a cell's ``spec.json`` as read; None when it is the
    IR ``cell`` trains (its key is the IR's hash)."""
    if isinstance(ir, dict) and replace(cell, ir=ir).key == cell.key:
        return None
    return rundir.SPEC_JSON, "it is not the IR of the cell its folder records"


def _is_figure(value, key: str = "") -> bool:
    """Whether a recorded figure is a finite number or null (a figure not measured: no
    validation split; a loss that was not finite, which training records as null); one of
    ``key`` :data:`~cnnspec.metrics.ACCURACIES` (or ``test_acc``) a share, in [0, 1]."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)) or beyond_float(value):
        return False
    return math.isfinite(value) and (key not in _SHARES or 0 <= value <= 1)


_SHARES = (*ACCURACIES, "test_acc")  # the figures that are shares of the images classed right


def _summary_problem(summary) -> tuple[str, str] | None:
    """The file and what is wrong with a cell's ``summary.json`` as read; None when it holds
    the figures a sweep reads."""
    if not isinstance(summary, dict):
        return rundir.SUMMARY, "it holds no object of the cell's figures"
    hint = summary.get(HINT_TEMPLATE)
    if not (hint is None or is_template(hint)):
        return rundir.SUMMARY, f"{HINT_TEMPLATE!r} is no hint"
    if not _is_figure(summary.get("test_acc"), "test_acc"):
        return rundir.SUMMARY, "its 'test_acc' is no accuracy"
    if not isinstance(summary.get("diverged", False), bool):
        return rundir.SUMMARY, "its 'diverged' is neither true nor false"
    if not isinstance(summary.get("message", ""), (str, type(None))):
        return rundir.SUMMARY, "its 'message' is no text"
    problem = summary_problem(summary)  # as any run's summary is read
    return None if problem is None else (rundir.SUMMARY, problem)


def _metrics_problem(metrics: list[dict], summary: dict) -> tuple[str, str] | None:
    """The file and what is wrong with a cell's metrics rows; None when every figure is a
    finite number (an accuracy a share) and there is a row for each epoch its ``summary``
    says it trained (a summary written before it said so is taken at its word)."""
    for number, row in enumerate(metrics, start=1):
        wrong = [key for key, value in row.items() if not _is_figure(value, key)]
        if wrong:
            what = "accuracy" if wrong[0] in _SHARES else "number"
            return rundir.METRICS, f"row {number}'s {wrong[0]!r} is no {what}"
    epochs = summary.get("epochs_done", len(metrics))
    if epochs != len(metrics):
        return rundir.METRICS, (f"it holds {counted(len(metrics), 'epoch')}, its summary says "
                                f"{epochs}")
    return None


def earlier_cells(folders: CellFolders, cells: list[Cell]) -> list[tuple[Cell, CellResult]]:
    """Every cell the sweep folder of ``folders`` holds that is none of ``cells`` (recorded
    by other sweeps, or comparisons, of its spec), with its result, in the order of their
    folders: a sweep's table shows every cell its folder holds. Such a cell's folder without
    one of its files is a :class:`RunError` naming it, not left out of the table unsaid:
    this sweep cannot train it again."""
    keys = {cell.key for cell in cells}
    for folder, lacks in folders.lacking.items():
        if lacks in RECORD_FILES and key_of(folder.name) not in keys \
                and _named_as_cell(folder.name):
            raise _damaged_earlier(folder, f"cell folder {folder} is damaged: it has no "
                                           f"{lacks}")
    return [recorded_cell(folder, folders) for key, folder in folders.by_key().items()
            if key not in keys]


def _named_as_cell(name: str) -> bool:
    """Whether a folder's ``name`` ends in a cell's key (:meth:`Cell.folder`)."""
    key = key_of(name)
    return key != name and len(key) == HASH_CHARS and all(c in "0123456789abcdef" for c in key)


def _damaged_earlier(folder: Path, message: str) -> RunError:
    """The error ``message`` for the folder of another sweep's cell that cannot be read
    back."""
    return RunError(message, hint=_earlier_hint(folder))


def _earlier_hint(folder: Path) -> str:
    return (f"delete the folder {folder}: the sweep (or comparison) that trained it trains it "
            "again into its folder")


def recorded_cell(folder: Path, folders: CellFolders) -> tuple[Cell, CellResult]:
    """The cell recorded in ``folder`` and its result, made again from its ``spec.json`` and
    the settings, seed, fold and dtype its ``summary.json`` records; a folder whose files say
    no such cell (or another cell than its name's), or cannot be read, is a
    :class:`RunError` naming it. Its summary is read through ``folders``, the listing of its
    sweep folder."""
    # its error names the file
    ir, summary = _spec_and_summary(folder, _earlier_hint(folder), folders)
    fields = summary.get("cell") if isinstance(summary, dict) else None
    problem = _fields_problem(fields)
    if problem is None:
        dtype = summary.get("dtype", UNRECORDED_DTYPE)
        fold = None if fields["fold"] is None else (fields["fold"] - 1, fields["folds"])
        # named as a sweep names them now: an earlier one kept `batch` as it was spelt
        settings = tuple((setting_key(key), text) for key, text in _given(fields).items())
        cell = Cell(settings, fields["seed"], ir, fold,
                    dtype=dtype if dtype in DTYPES else UNRECORDED_DTYPE)
        if not isinstance(ir, dict) or cell.key != key_of(folder.name):
            problem = f"its {rundir.SPEC_JSON} is not the IR of the cell its name says"
    if problem:
        raise _damaged_earlier(folder, f"cell folder {folder} is damaged: {problem}")
    return cell, _recorded_result(folder, cell, summary)  # its spec.json is the cell's IR


def _fields_problem(fields) -> str | None:
    """What is wrong with the ``cell`` object of a cell's ``summary.json`` (see
    :meth:`Cell.fields`); None when it says a cell."""
    def count(value, least):
        return isinstance(value, int) and not isinstance(value, bool) and value >= least

    if not isinstance(fields, dict):
        return "its summary names no cell"
    given = _given(fields)
    if not isinstance(given, dict) or not all(isinstance(value, str) for value in given.values()):
        return "its summary's cell settings are no texts"
    if not count(fields.get("seed"), 0):
        return "its summary's cell seed is no count"
    folds, fold = fields.get("folds"), fields.get("fold")
    if not (folds is None and fold is None
            or count(folds, 2) and count(fold, 1) and fold <= folds):
        return "its summary's cell fold is not one of its folds"
    return None


def _given(fields: dict):
    """The settings of a cell's summary (its ``cell`` object, ``fields``) as its sweep gave
    them: under :data:`~cnnspec.sweep.cells.GIVEN`, or, written by an earlier cnnspec,
    under "settings" (typed there now)."""
    return fields.get(GIVEN, fields.get("settings"))


# A setting a cell's sweep did not give, which it took from the spec as written (an init, a
# layer's option), shown as this in a column other cells give where its IR does not say it.
AS_WRITTEN = "as written"
# ... and after the value its IR holds, where it does: ``he_normal (spec)``.
FROM_SPEC = "(spec)"
FOLDS = "folds"  # the column of the cells' k-fold cross-validation, where they differ in it


def columns(done: list[tuple[Cell, CellResult]]) -> list[str]:
    """The settings the table of ``done`` shows as columns: every one a cell's ``--set``
    gave, in the order first given, then any other in which the cells differ (a training
    setting another sweep gave to all its cells, as ``--epochs``; the dtype; the folds).
    One sweep alone shows its swept settings."""
    swept = list(dict.fromkeys(key for cell, _ in done for key, _ in cell.settings))
    training = dict.fromkeys(key for cell, _ in done for key in cell.ir["training"])
    others = [key for key in [*training, DTYPE, FOLDS]
              if key not in swept and key != "seed"]  # the seeds are each group's runs
    return swept + [key for key in others
                    if len({shown_value(cell, key) for cell, _ in done}) > 1]


def shown_value(cell: Cell, key: str) -> str:
    """The value of setting ``key`` the ``cell`` trained with, as its column shows it: as
    its ``--set`` gave it, else as its IR holds it: a training setting's value, and the
    spec's default init or a layer's option marked :data:`FROM_SPEC` (:data:`AS_WRITTEN`
    where the IR does not say it)."""
    given = dict(cell.settings)
    if key in given:
        return given[key]
    if key == DTYPE:
        return cell.dtype
    if key == FOLDS:
        return "none" if cell.fold is None else str(cell.fold[1])
    if key in SWEPT_INIT_FIELDS or "." in key:
        written = written_value(cell.ir, key)
        return AS_WRITTEN if written is None else f"{written} {FROM_SPEC}"
    value = cell.ir["training"].get(setting_key(key))
    return AS_WRITTEN if value is None else training_text(value)


def shown_settings(cell: Cell, keys: list[str]) -> dict[str, str]:
    """The values of the settings ``keys`` (:func:`columns`) that ``cell`` trained with."""
    return {key: shown_value(cell, key) for key in keys}


def setting_value(cell: Cell, key: str):
    """The value of setting ``key`` the ``cell`` trained with, as results.json carries it:
    typed as its IR holds it (:meth:`Cell.setting`: a number, true or false, an init or
    optimizer as written), the folds' count (None for none); None where its IR does not
    say it (the table's :data:`AS_WRITTEN`)."""
    if key == FOLDS:
        return None if cell.fold is None else cell.fold[1]
    return cell.setting(key)


def typed_settings(cell: Cell, keys: list[str]) -> dict:
    """The values of the settings ``keys`` that ``cell`` trained with, as results.json
    carries them (:func:`setting_value`)."""
    return {key: setting_value(cell, key) for key in keys}


def recorded_message(result, what: str, cell: str) -> str | None:
    """What a ``what`` ("sweep", "comparison") of ``cell``s ("cell", "run") run again into
    its folder says (``result``, a sweep's or a comparison's: its ``out``, ``skipped``,
    ``ran``, ``earlier``, ``retested`` and ``left_out``): the cells it found recorded there
    and those it trained, those it trained again because their test accuracy was of other
    weights than they keep (recorded by an earlier cnnspec), the ones other sweeps
    (comparisons) recorded there, which its table shows too, and those of them it leaves
    out, named with what to do; None where it found none (a first run says nothing of
    it)."""
    folder, skipped = result.out, result.skipped
    lines = []
    if skipped:
        lines.append(f"{counted(skipped, cell)} {'was' if skipped == 1 else 'were'} recorded "
                     f"in {folder} already; trained {result.ran}")
    if result.retested:
        lines.append(f"trained again {counted(result.retested, cell)} recorded in {folder} "
                     f"with {_LAST_EPOCH_ACC}")
    if result.earlier:
        lines.append(f"the table also shows {counted(result.earlier, cell)} recorded there "
                     "before with other settings")
    if result.left_out:
        lines.append(_left_out_message(result.left_out, what, cell, folder))
    return "\n".join(lines) or None


# How a cell recorded by cnnspec before its test accuracy was of the weights it keeps is told.
_LAST_EPOCH_ACC = ("the last epoch's test acc, not the kept weights' (recorded by an earlier "
                   "cnnspec)")


# The key under which a sweep's results.json and compare's JSON list the folders of the runs
# they leave out of their table: another sweep's (comparison's) recorded by an earlier cnnspec
# with the last epoch's test acc where they keep an earlier epoch's weights, which the
# message below names on stderr. Each is given relative to the --out folder, as a line of
# results.json names its cell's folder (left_out_folders).
LEFT_OUT_KEY = "left_out_older_runs"


def folder_name(folder: str | Path) -> str:
    """A run's folder as the JSON of its sweep (comparison) names it: relative to the --out
    folder it was recorded in, its name (a run's folder is one of its own there), so that the
    JSON still names it when the --out folder is moved or read from elsewhere."""
    return Path(folder).name


def left_out_folders(left_out: list[Path]) -> list[str]:
    """The folders of the runs ``left_out`` of a table as :data:`LEFT_OUT_KEY` lists them
    (:func:`folder_name`)."""
    return [folder_name(path) for path in left_out]


def _left_out_message(left_out: list[Path], what: str, cell: str, folder: Path) -> str:
    """What a ``what`` says of the cells of another one in its ``folder`` that it leaves out
    of its table (their folders ``left_out``) and what to do about them."""
    names = ", ".join(path.name for path in left_out[:LEFT_NAMED])
    if len(left_out) > LEFT_NAMED:
        names += f" and {len(left_out) - LEFT_NAMED} more"
    return (f"left out of the table: {counted(len(left_out), cell)} of another {what} "
            f"recorded in {folder} with {_LAST_EPOCH_ACC}: {names}\n"
            f"hint: run that {what} again into {folder} to train them again, or delete their "
            "folders")


class SweepStopped(KeyboardInterrupt):
    """A sweep (or comparison) stopped by Ctrl-C or SIGTERM once its folder ``out`` was
    taken up: of its ``cells`` (how many distinct ones), ``left`` are those ``out`` does not
    hold finished. With none left every cell had trained: the same call again into ``out``
    trains nothing and returns the results. A ``KeyboardInterrupt``, as the Ctrl-C was."""

    def __init__(self, out: Path, cells: int, left: list[Cell]) -> None:
        super().__init__(f"stopped with {len(left)} of {cells} cells left to train in {out}")
        self.out, self.cells, self.left = Path(out), cells, left


@contextmanager
def stops_said(out: Path, cells: list[Cell], keep_weights: bool = False) -> Iterator[None]:
    """Within the block, a Ctrl-C (a ``KeyboardInterrupt``) becomes a :class:`SweepStopped`
    saying which of ``cells`` are left to train in ``out`` (:meth:`CellFolders.left_to_train`)."""
    try:
        yield
    except SweepStopped:
        raise
    except KeyboardInterrupt:
        raise SweepStopped(out, len({cell.key for cell in cells}),
                           CellFolders(out).left_to_train(cells, keep_weights)) from None


# How many of the cells a stopped sweep left to train its message names; "and N more" after.
LEFT_NAMED = 4


def stopped_message(what: str, cell: str, stop: SweepStopped | None, named: bool) -> str:
    """What to tell a user whose Ctrl-C stopped a ``what`` ("sweep", "comparison") of
    ``cell``s ("cell", "run") with some left to train (``stop``; None when it stopped before
    its folder was taken up; ``named``: the folder was chosen with ``--out``): how many its
    folder holds, which are left, and how to train them (the same command skips the
    others)."""
    if stop is None:
        return f"cnnspec: {what} stopped before any of its {cell}s trained"
    again = "the same command again" if named else \
        f"the same command again with --out {stop.out}"
    held, left = stop.cells - len(stop.left), len(stop.left)
    labels = "; ".join(each.label for each in stop.left[:LEFT_NAMED])
    if left > LEFT_NAMED:
        labels += f"; and {left - LEFT_NAMED} more"
    return (f"cnnspec: {what} stopped; {held} of its {counted(stop.cells, cell)} "
            f"{'is' if held == 1 else 'are'} recorded in {stop.out}, {left} "
            f"{'is' if left == 1 else 'are'} left to train: {labels}\n"
            f"hint: run {again} to train the rest")


def finished_message(what: str, cell: str, out: Path) -> str:
    """What a ``what`` ("sweep", "comparison") of ``cell``s ("cell", "run") says, after its
    results, of a Ctrl-C that came once every cell had trained: it stopped no training."""
    return (f"cnnspec: stopped after every {cell} of the {what} had trained: its results are "
            f"written in {out}")


def describe_cell(label: str, result, hint: str | None = None) -> str:
    """One line on a finished training (a :class:`CellResult` or anything with its
    ``val_acc``, ``test_acc``, ``diverged`` and ``error``), for progress output; after a
    divergence, ``hint`` (what to try, worded for the caller) on a line of its own."""
    if result.diverged:
        # The trainer's message says when and in which layer; its tail (where the weights
        # were saved) would make the line too long for progress output.
        line = f"{label}: {(result.error or 'diverged').split('; ')[0]}"
        return f"{line}\nhint: {hint}" if hint else line
    val = result.val_acc  # of the weights whose test_acc follows
    text = f"{label}: " + (f"val acc {100 * val:.1f}%" if val is not None
                           else "no validation split")
    return text + (f", test acc {100 * result.test_acc:.1f}%"
                   if result.test_acc is not None else "")


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and population std; NaN for no values; the std None for one value, which has no
    spread to measure (JSON's null, where 0.0 would read as runs that agreed)."""
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


@record
class Group:
    """One row of the results: a setting of every swept key, over its seeds and folds; its
    ``settings`` as the table shows them, ``typed`` as results.json carries them."""

    label: str
    settings: dict
    cells: list[tuple[Cell, CellResult]] = field(default_factory=list)
    typed: dict = field(default_factory=dict)

    @property
    def val_acc(self) -> tuple[float, float]:
        return mean_std([r.val_acc for _, r in self.cells if r.val_acc is not None])

    @property
    def test_acc(self) -> tuple[float, float]:
        return mean_std([r.test_acc for _, r in self.cells if r.test_acc is not None])

    @property
    def diverged(self) -> int:
        return sum(r.diverged for _, r in self.cells)

    def curves(self) -> list[list[dict]]:
        return [r.metrics for _, r in self.cells]

    @property
    def made_of(self) -> str:
        """What the row's runs are: ``"2 seeds"``, ``"1 seed x 2 folds"``."""
        return runs_made_of({cell.seed for cell, _ in self.cells},
                            {cell.fold[1] for cell, _ in self.cells if cell.fold is not None})

    @property
    def reported(self) -> list[int]:
        """The epochs the row's accuracies are of (:func:`reported_epochs`)."""
        return reported_epochs(tested_epoch(r.summary) for _, r in self.cells)

    def to_dict(self) -> dict:
        (val, val_std), (test, test_std) = self.val_acc, self.test_acc
        return {"label": self.label, "settings": self.typed, "runs": len(self.cells),
                "val_acc_mean": val, "val_acc_std": val_std, "test_acc_mean": test,
                "test_acc_std": test_std, "diverged": self.diverged,
                "cells": [r.folder for _, r in self.cells]}


@record
class Table:
    """What the report of the cells ``done`` shows, worked out once (:func:`tabulate`): the
    settings that are its :func:`columns`, each cell's values of them (``settings``, in the
    order of ``done``, as the table shows them; ``typed``, as results.json carries them), the
    groups, best validation accuracy first (groups without one last), and each column's
    values in the order the cells first give them (``values``). The table, results.json and
    results.csv and the pictures all read it."""

    done: list[tuple[Cell, CellResult]]
    columns: list[str]
    settings: list[dict[str, str]]
    typed: list[dict]
    groups: list[Group]
    values: dict[str, list[str]]


def tabulate(done: list[tuple[Cell, CellResult]]) -> Table:
    """The :class:`Table` of ``done``: the cells by group (their values of the columns)."""
    keys = columns(done)
    settings = [shown_settings(cell, keys) for cell, _ in done]
    typed = [typed_settings(cell, keys) for cell, _ in done]
    by_label: dict[str, Group] = {}  # in the order of their first cells
    for (cell, result), shown, values in zip(done, settings, typed):
        label = group_label(tuple(shown.items()))
        by_label.setdefault(label, Group(label, shown, typed=values)).cells.append((cell, result))
    rows = sorted(by_label.values(), key=_best_first)
    values = {key: list(dict.fromkeys(g.settings[key] for g in by_label.values()))
              for key in keys}
    return Table(done, keys, settings, typed, rows, values)


def _best_first(group: Group) -> float:
    """The order of ``group`` in a table: best mean validation accuracy first, none last."""
    mean = group.val_acc[0]  # worked out once: a mean over the group's cells
    return math.inf if math.isnan(mean) else -mean


def cell_row(cell: Cell, result: CellResult, settings: dict) -> dict:
    """One line of results.csv: the cell's values of the columns (``settings``, typed as
    results.json carries them), its seed, fold, dtype and figures."""
    return {**settings, "seed": cell.seed,
            "fold": None if cell.fold is None else cell.fold[0] + 1, "dtype": cell.dtype,
            "val_acc": result.val_acc, "test_acc": result.test_acc,
            "epochs": len(result.metrics),
            "test_epoch": tested_epoch(result.summary),
            "diverged": result.diverged,
            "folder": result.folder}


def results_document(description: dict, table: Table, left_out: list[Path]) -> dict:
    """What results.json holds of ``table``: the sweep's ``description``, its groups, a line
    per cell (the rows of results.csv) and the folders of the cells ``left_out`` of it
    (:data:`LEFT_OUT_KEY`, :func:`left_out_folders`)."""
    lines = [cell_row(cell, result, settings)
             for (cell, result), settings in zip(table.done, table.typed)]
    return {**description, "groups": [g.to_dict() for g in table.groups], "cells": lines,
            LEFT_OUT_KEY: left_out_folders(left_out)}


def write_results(out: Path, document: dict) -> tuple[Path, Path]:
    """results.json (``document``, as :func:`results_document` makes it) and results.csv (its
    line per cell)."""
    out = Path(out)
    write_json(out / RESULTS_JSON, document)
    write_csv(out / RESULTS_CSV, document["cells"])
    return out / RESULTS_JSON, out / RESULTS_CSV


# Which weights the accuracy columns are of, said under each table: those eval and export
# open (a run's summary records their test_acc, and of which epoch: the validation accuracy
# is that epoch's), not the last epoch's where it validated best earlier.
TEST_WEIGHTS_NOTE = ("val and test acc: of the weights each run keeps, its best epoch's where "
                     "it validated")
# The epoch the tables' accuracies are of, named in their header, and what the dots on the
# learning curves drawn beside them mark: the curves run on past it to the last epoch.
REPORTED_EPOCH = "best epoch"
ACCURACY_HEADERS = (f"val acc % ({REPORTED_EPOCH})", f"test acc % ({REPORTED_EPOCH})")
REPORTED_DOTS = f"dots: the epoch whose accuracies the table reports (each run's {REPORTED_EPOCH})"


def runs_made_of(seeds, folds) -> str:
    """What the runs of a row are, of its ``seeds`` and the fold counts ``folds`` (none
    without cross-validation): ``"2 seeds"``, ``"1 seed x 5 folds"``."""
    made = counted(len(seeds), "seed")
    return made if not folds else f"{made} x {counted(max(folds), 'fold')}"


def reported_epochs(epochs) -> list[int]:
    """The epochs a table row reports of its runs, each run's (None: it reports none, having
    diverged), each once in order: where the curves' dots go."""
    return sorted(set(epochs) - {None})


def percent(mean: float, std: float | None) -> str:
    """An accuracy in percent; mean +- std when there are several runs to spread over."""
    if math.isnan(mean):
        return "-"
    return f"{100 * mean:5.1f}" if std is None else f"{100 * mean:5.1f} +- {100 * std:4.1f}"


def diverged_text(diverged: int, runs: int) -> str:
    return "no" if diverged == 0 else f"yes ({diverged}/{runs})"


def curve_label(label: str, diverged: int, runs: int) -> str:
    """A group's name in a legend; its curves that stop early say why."""
    return label if not diverged else f"{label} ({diverged}/{runs} diverged)"


def layout(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def format_table(rows: list[Group], keys: list[str], out: Path, spread: str,
                 dtypes: tuple[str, ...] = (DEFAULT_DTYPE,)) -> str:
    """The results table, best validation accuracy first; ``spread`` says what the +- is
    over (``"3 seeds"``, ``"5 folds"``); ``dtypes``: what the cells trained in, said under
    the table when it is one other than float32 and no column shows it."""
    header = [*(keys or ["spec"]), *ACCURACY_HEADERS, "diverged", "runs"]
    lines = []
    for g in rows:
        values = [g.settings[k] for k in keys] if keys else ["as written"]
        runs = len(g.cells)
        lines.append([*values, percent(*g.val_acc), percent(*g.test_acc),
                      diverged_text(g.diverged, runs), str(runs)])
    # one run a group has no spread to show, and its row shows none (compare says the same)
    note = (f"{spread} per group" if all(len(g.cells) == 1 for g in rows)
            else f"accuracies: mean +- std over {spread}")
    if dtypes != (DEFAULT_DTYPE,) and DTYPE not in keys:
        note += f"; trained in {', '.join(dtypes)}"
    return "\n".join([*layout(header, lines), f"({note}; {TEST_WEIGHTS_NOTE}; cells in {out})"])
