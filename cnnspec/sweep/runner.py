"""``cnnspec sweep``: train a spec over a grid of settings x seeds (x folds), on Dask.

The steps: read the ``--set`` options against the spec (:mod:`cnnspec.sweep.grid`), make and
check every cell (:mod:`cnnspec.sweep.cells`), skip the cells the sweep folder holds already,
hand the rest to an executor (:mod:`cnnspec.sweep.executor`: Dask, or this process), record
each result as it arrives (:mod:`cnnspec.sweep.results`), then summarise over seeds and folds.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import field
from functools import cached_property
from pathlib import Path

from cnnspec.check.load import read_spec
from cnnspec.dtypes import DEFAULT_DTYPE, given_dtype
from cnnspec.errors import (
    SettingError,
    WordedError,
    WordedInputError,
    literal,
    shortened,
)
from cnnspec.given import given_texts, keywords_checked, shown
from cnnspec.lab.variants import default_weight_layers, own_weight_layers, reach_text
from cnnspec.records import record
from cnnspec.sweep.cells import Cell, CellResult, Task, key_of, make_cells, run_cell
from cnnspec.sweep.concurrency import largest_process
from cnnspec.sweep.executor import DaskExecutor, default_workers
from cnnspec.sweep.grid import DTYPE, INIT, Axis, parse_set, swept_dtypes, swept_template
from cnnspec.sweep.plots import plot_accuracy_by_setting, plot_group_curves
from cnnspec.sweep.results import (
    SPEC_KEY,
    CellFolders,
    Group,
    Table,
    earlier_cells,
    filled_alone,
    prepare_folder,
    read_recorded,
    record_cell,
    results_document,
    runs_made_of,
    stops_said,
    tabulate,
    write_results,
)
from cnnspec.training import rundir
from cnnspec.training.settings import Settings, given_settings, setting_keyword_hint


@record
class Sweep:
    """A sweep's outcome: every cell with its result (``done``: its own, then those other
    sweeps of the spec recorded in its folder, ``earlier`` of them), how many trained now
    (``ran``; ``retested`` of them trained again, recorded before with the test accuracy of
    other weights than they keep) and how many of its own were in the folder already
    (``skipped``); ``left_out``: the folders of other sweeps' cells recorded so, which its
    table leaves out (:class:`CellsRun`)."""

    spec: str
    out: Path
    axes: list[Axis]
    seeds: int
    folds: int | None
    ir: dict  # the planned spec's (its first cell's), whose layers its description reads
    name: str = ""  # the model's (its `model` line, else the file's), as train names a run
    dtypes: tuple[str, ...] = (DEFAULT_DTYPE,)  # the dtypes its cells train in
    done: list[tuple[Cell, CellResult]] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0
    earlier: int = 0
    seconds: float = 0.0
    spec_key: str = ""  # the identity of the spec as written (cells.spec_key_of)
    retested: int = 0
    left_out: list[Path] = field(default_factory=list)

    @cached_property
    def table(self) -> Table:
        """What its report shows of ``done``, worked out once, when first read
        (:func:`~cnnspec.sweep.results.tabulate`)."""
        return tabulate(self.done)

    @cached_property
    def results(self) -> dict:
        """What results.json holds (:func:`~cnnspec.sweep.results.results_document`): made
        once, so the file and the command's JSON output are the one object."""
        return results_document(self.description(), self.table, self.left_out)

    @property
    def groups(self) -> list[Group]:
        return self.table.groups

    @property
    def columns(self) -> list[str]:
        """The settings the table shows (:func:`~cnnspec.sweep.results.columns`)."""
        return self.table.columns

    @property
    def spread(self) -> str:
        """What the +- of a group is over: ``"2 seeds"``, ``"1 seed x 5 folds"``; where the
        groups' runs differ (cells of other sweeps in its folder), what each kind is, for
        the rows differ in seeds or folds, not only in how many runs their column counts."""
        kinds = list(dict.fromkeys(group.made_of for group in self.groups))
        if len(kinds) > 1:
            return f"each row's runs ({', or '.join(kinds)}: the runs column counts them)"
        return kinds[0] if kinds else runs_made_of(range(self.seeds), {self.folds} - {None})

    @property
    def reach(self) -> str:
        """Which layers a swept ``init`` sets, where some layers keep their own, as compare
        says of its inits (:func:`cnnspec.lab.variants.reach_text`); empty where no init is
        swept, or it sets every layer with weights."""
        if INIT not in {axis.key for axis in self.axes}:
            return ""
        text = reach_text(default_weight_layers(self.ir), own_weight_layers(self.ir))
        return f"each {INIT} {text}" if text else ""

    @property
    def trained_in(self) -> tuple[str, ...]:
        """The dtypes the cells of its table trained in (its own and its folder's others)."""
        return dtypes_of([cell for cell, _ in self.done])

    def description(self) -> dict:
        return describe(self.spec, self.axes, self.seeds, self.folds, self.dtypes,
                        self.spec_key, self.ir)


def describe(spec: str, axes: list[Axis], seeds: int, folds: int | None,
             dtypes: tuple[str, ...], spec_key: str, ir: dict) -> dict:
    """What ``sweep.json`` and ``results.json`` say the sweep was: each swept setting's values
    as JSON carries them (:meth:`~cnnspec.sweep.grid.Axis.typed_values`: numbers as
    numbers, an init as written), for the spec whose IR (that of one of its cells) is
    ``ir``; ``dtypes``: what its cells train in; ``spec_key``: the identity of the spec as
    written (the folder holds its cells alone)."""
    return {"spec": str(spec), "settings": {a.key: a.typed_values(ir) for a in axes},
            "seeds": seeds, "folds": folds, "dtypes": list(dtypes), SPEC_KEY: spec_key}


def dtypes_of(cells: list[Cell]) -> tuple[str, ...]:
    """The dtypes ``cells`` train in, in the order they first come."""
    return tuple(dict.fromkeys(cell.dtype for cell in cells))


def default_out(name: str, kind: str = "sweep", runs_dir: str | Path = "runs") -> Path:
    """The folder of a sweep (or ``kind``) of the model ``name``, as train names a run's."""
    return Path(runs_dir) / f"{kind}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"


@record(frozen=True)
class SweepPlan:
    """What :func:`plan` made of :func:`sweep`'s arguments: the spec as given, the number of
    seeds and folds (checked), the axes of the ``--set`` options and every cell, each
    checked; all a sweep trains and says it was."""

    spec: str
    seeds: int
    folds: int | None
    axes: list[Axis]
    cells: list[Cell]


def plan(spec: str, sets: list[str] | str, seeds: int = 1, folds: int | None = None,
         settings: Settings | None = None,
         on_warnings: Callable[[list], None] | None = None,
         dtype: str | None = None, ignore=()) -> SweepPlan:
    """The axes of the ``--set`` options and every cell of the sweep, each checked; nothing
    trains. ``settings`` (epochs, lr, batch size, data) apply to every cell; ``on_warnings``
    hears the checks' warnings but those of the lints ``ignore`` names
    (:func:`cnnspec.sweep.cells.make_cells`); ``dtype`` is the one
    every cell trains in (default float32, :data:`~cnnspec.dtypes.DEFAULT_DTYPE`), unless
    ``sets`` sweeps it."""
    sets = setting_texts(sets)
    if dtype is not None:
        dtype = given_dtype(dtype)
    parsed = read_spec(spec, "spec")
    axes = [parse_set(option, parsed) for option in sets]
    again = [i for i, axis in enumerate(axes) if axis.key in {a.key for a in axes[:i]}]
    if again:  # a mistake in what was asked: named at the second setting, not the spec
        key = literal(shortened(axes[again[0]].spelt))
        first = next(axis for axis in axes if axis.key == axes[again[0]].key)
        other = literal(shortened(first.spelt))
        raise SettingError(f"{{sets:{literal(shortened(sets[again[0]]))}}}: {key} is given "
                           "more than once" + (f" ({other} is {key} too)" if other != key
                                               else ""), invalid=True,
                           hint=f"give all its values in one, separated by commas: "
                                f"{{sets:{key}=V1,V2}}")
    given = given_settings(settings)
    _refuse_given_and_swept(axes, {key: getattr(given, key) for key in given.named}
                            | ({DTYPE: dtype} if dtype is not None else {}))
    dtype = dtype or DEFAULT_DTYPE
    for each in swept_dtypes(axes, dtype):  # held by every dtype a cell trains in
        overrides = given.overrides(each)
    cells = make_cells(parsed, axes, seeds, folds, overrides, on_warnings, by_sets=True,
                       dtype=dtype, ignore=ignore)
    # The counts as make_cells checked them: each seed 0..seeds-1 has cells, every cell the
    # same number of folds.
    folds = cells[0].fold[1] if cells[0].fold else None
    return SweepPlan(spec, 1 + max(cell.seed for cell in cells), folds, axes, cells)


def _refuse_given_and_swept(axes: list[Axis], given: dict) -> None:
    """Refuse a setting given for every cell (``given``, by key: ``--batch-size 8``,
    ``--dtype float64``) that ``axes`` also sweep (``--set batch=16,32``): the swept values
    would win, and the one given be ignored."""
    swept = next((axis for axis in axes if axis.key in given), None)
    if swept is None:
        return
    value = literal(shortened(str(given[swept.key])))
    values = literal(shortened(f"{swept.spelt}={','.join(swept.texts)}"))
    raise SettingError(f"{{{swept.key}:{value}}} and {{sets:{values}}} both give the cells' "
                       f"{literal(swept.spelt)}", invalid=True,
                       hint=f"give one of them: {{sets:{values}}} trains a cell with each")


def setting_texts(sets) -> list[str]:
    """The ``sets`` of :func:`sweep` as a list of ``KEY=V1,V2`` texts: one text alone is one
    setting (``"lr=0.1,0.01"``, not its characters); anything but texts is refused, naming
    the parameter."""
    return given_texts(sets, "sets", "lr=0.1,0.01", what="KEY=VALUE[,VALUE...] texts")


def executor_for(executor, n: int, todo: list[Cell]):
    """The executor ``n`` cells (``todo``) train on: ``executor`` itself when it is one (it has
    ``results``, as :class:`~cnnspec.sweep.executor.LocalExecutor` has), what it returns when
    it is a callable from the number of cells to one, and a local Dask cluster of a worker per
    core (no more than fit in memory) when it is None; anything else is refused."""
    if executor is None:
        return DaskExecutor(workers=default_workers(n, largest_process(todo)))
    executor = checked_executor(executor)
    return executor if hasattr(executor, "results") else executor(n)


def checked_executor(executor):
    """``executor`` when :func:`executor_for` can use it (None too); else a
    :class:`SettingError` naming it."""
    if executor is None or hasattr(executor, "results") or callable(executor):
        return executor
    raise SettingError(f"{{executor}} takes an executor or a callable from the number of cells "
                       f"to one, not {shown(executor)}", invalid=True,
                       hint="e.g. executor=LocalExecutor(1) (cnnspec.sweep.executor) trains in "
                            "this process")


def recorded_before(cells: list[Cell], ran: int) -> int:
    """How many of ``cells`` their folder held already, of which :func:`run_cells` trained
    ``ran``: counted by key, as it trains them (two values written two ways, lr=0.1,1e-1,
    make one cell, trained once, which a fresh folder did not hold already)."""
    return len({cell.key for cell in cells}) - ran


@record
class CellsRun:
    """What :func:`run_cells` did: every cell with its result (``done``), how many trained
    now (``ran``), of which ``retested`` were recorded before with the test accuracy of other
    weights than they keep; the cells other sweeps (or comparisons) of the spec recorded in
    the folder (``earlier``), which its table shows too, and the folders of such cells whose
    test accuracy is of other weights (``left_out`` of the table: see
    :func:`~cnnspec.training.run.tests_other_weights`)."""

    done: list[tuple[Cell, CellResult]]
    ran: int
    earlier: list[tuple[Cell, CellResult]]
    retested: int = 0
    left_out: list[Path] = field(default_factory=list)


def run_cells(cells: list[Cell], out: Path, executor=None, *,
              data_dir: str | None = None, keep_weights: bool = False,
              on_done: Callable[[Cell, CellResult], None] | None = None,
              on_start: Callable[[object, int], None] | None = None, command: str = "sweep",
              hint_of: Callable[[str], str] | None = None) -> CellsRun:
    """Train the cells ``out`` (a folder :func:`prepare_folder` made) does not hold finished
    yet (:meth:`~cnnspec.sweep.results.CellFolders.left_to_train`: a cell recorded before
    its test accuracy was of the weights it keeps trains again) on ``executor`` (a callable
    returning the executor for a number of tasks; default a local Dask cluster) and record
    them; return the :class:`CellsRun`: every cell with its result, in the order of
    ``cells``, and the cells other sweeps (or comparisons) of the spec recorded in ``out``
    (:func:`~cnnspec.sweep.results.earlier_cells`).
    ``on_start(executor, n)`` hears where ``n`` cells are about to train, ``on_done`` of each
    result as it arrives, its hint after a divergence worded by ``hint_of`` (a template as
    the caller is given settings: a sweep's ``{sets:lr=0.05}``). A cell that could not train
    (its data, say) is not recorded; the sweep goes on and then raises :class:`RunError`
    naming it (:func:`cells_failed`; the ``command`` that trains them, ``sweep`` or
    ``compare``, is what to run again)."""
    folders = CellFolders(out)  # listed once: each record notes its folder there
    # Two cells with one IR (a value written two ways) are one training.
    todo = folders.left_to_train(cells, keep_weights)
    old = {key_of(folder.name) for folder in folders.tested_other_weights()}
    results: dict[str, CellResult] = {}
    failed: list[tuple[Cell, CellResult]] = []
    if todo:
        with executor_for(executor, len(todo), todo) as running:
            if on_start:
                on_start(running, len(todo))
            tasks = [Task(cell, data_dir, keep_weights) for cell in todo]
            try:
                for task, result in running.results(run_cell, tasks):
                    if result.failed:
                        failed.append((task.cell, _worded_for(result, hint_of)))
                        continue
                    # its hint as training words it (below)
                    record_cell(out, task.cell, result, folders)
                    results[task.cell.key] = _worded_for(result, hint_of)
                    if on_done:
                        on_done(task.cell, result)
            except KeyboardInterrupt:
                _record_finished(running, out, folders)
                raise
    if failed:
        raise cells_failed(failed, len(todo), out, command)
    for cell in cells:  # those recorded before, each read once
        if cell.key not in results:
            results[cell.key] = _worded_for(
                read_recorded(folders.recorded(cell.key), cell, folders), hint_of)
    done = [(cell, results[cell.key]) for cell in cells]
    earlier = earlier_cells(folders, cells)
    return CellsRun(done, len(todo), earlier, sum(cell.key in old for cell in todo),
                    folders.tested_other_weights())


def _record_finished(running, out: Path, folders: CellFolders) -> None:
    """Record the cells ``running`` (an executor stopped by a Ctrl-C) finished but had not
    handed over yet (its ``finished()``, where it has one) in ``out``, whose cell folders
    are ``folders``: stopped, it would drop them, and their trainings would be done again."""
    for task, result in getattr(running, "finished", tuple)():
        if not result.failed:
            record_cell(out, task.cell, result, folders)


def _worded_for(result: CellResult, hint_of: Callable[[str], str] | None) -> CellResult:
    """``result`` with its hints naming settings as the caller gives them (``hint_of``). A
    cell is recorded with its hint as training words it: the same cell brought back by
    another sweep into the folder, given other settings, is worded for that one."""
    if hint_of is not None:
        result.hint_template = result.hint_template and hint_of(result.hint_template)
        result.failed_hint = result.failed_hint and hint_of(result.failed_hint)
    return result


def cells_failed(failed: list[tuple[Cell, CellResult]], tried: int, out: Path,
                 command: str = "sweep") -> WordedError:
    """What a sweep says of the cells that could not train, of the ``tried`` that it trained.
    When every one failed for one cause (data that cannot be downloaded, say), that cause
    once, with its hint: the same sweep run again would fail the same way (an
    :class:`InputError` where it is a mistake in what was asked, a missing data file). Else
    the first
    failure, and that the cells which trained are recorded in ``out`` for the same
    ``command`` run again to retry the rest."""
    causes = {(result.failed, result.failed_hint, result.failed_asked) for _, result in failed}
    if len(failed) == tried and len(causes) == 1:
        message, hint, asked = causes.pop()
        every = "the cell" if tried == 1 else f"all {tried} cells"
        return (WordedInputError if asked else WordedError)(
            literal(f"{every} could not train: {message}"), hint)
    cell, result = failed[0]
    if len(failed) < tried:
        hint = literal(f"the other cells are recorded in {out}; run the same {command} again to "
                       "retry the rest")
    else:
        hint = (f"{result.failed_hint + '; ' if result.failed_hint else ''}no cell trained, each "
                f"failed its own way (this is the first): run the same {command} again once they "
                "are fixed")
    return WordedError(literal(f"{len(failed)} of {tried} cells could not train; {cell.label}: "
                               f"{result.failed}"), hint=hint)


# sweep(epochs=1) is pointed to settings=cnnspec.Settings(epochs=1)
@keywords_checked("sweep", lambda key, value, takes: setting_keyword_hint(
    key, value, takes, via="settings=cnnspec.Settings"))
def sweep(spec: str, sets: list[str] = (), *, seeds: int = 1, folds: int | None = None,
          settings: Settings | None = None, out: str | Path | None = None, executor=None,
          data_dir: str | None = None, keep_weights: bool = False,
          on_done: Callable[[Cell, CellResult], None] | None = None,
          on_start: Callable[[object, int, Path], None] | None = None,
          planned: SweepPlan | None = None,
          on_warnings: Callable[[list], None] | None = None,
          dtype: str | None = None, ignore=()) -> Sweep:
    """Train ``spec`` for every combination of the values of ``sets`` (each a ``--set``
    text, ``["lr=0.1,0.01", "batch=32,64"]``; one text alone is one setting), with seeds
    ``0..seeds-1`` and, with ``folds``, k-fold cross-validation; record every cell in
    ``out`` and return the :class:`Sweep`.

    Every cell is checked before any trains. Cells ``out`` holds already (by the hash of
    their IR) are not trained again. ``executor`` is an executor (:mod:`cnnspec.sweep.executor`)
    or a callable from the number of cells to train to one, by default a Dask ``LocalCluster``
    with a worker per core; ``settings`` change every cell's epochs, lr, batch size or data.
    ``on_start(executor, n, folder)`` hears where ``n`` cells are about to train and the
    folder they are recorded in (without ``out``, a new folder under ``runs/``). ``planned``:
    what :func:`plan` made of these arguments, where the caller has it already (then the
    spec, ``sets``, ``seeds``, ``folds``, ``on_warnings``, ``dtype`` and ``ignore`` are the
    plan's). ``on_warnings`` is called, before anything trains, with check's warnings of the
    spec and those each setting adds (``with lr=1.0: ...``), as ``train``'s ``on_warnings``
    is, but those of the lints ``ignore`` names.
    ``dtype`` is the one every cell trains in, as ``train``'s (default float32), unless
    ``sets`` sweeps it (``"dtype=float32,float64"``).

    A Ctrl-C (or SIGTERM) once the folder is made raises
    :class:`~cnnspec.sweep.results.SweepStopped`, which says the cells left to train; with
    none left, the same call again into its folder trains nothing and returns the sweep.
    """
    checked_executor(executor)  # before anything is made
    settings = given_settings(settings)
    planned = planned or plan(spec, sets, seeds, folds, settings, on_warnings, dtype, ignore)
    axes, cells = planned.axes, planned.cells
    name = cells[0].ir["name"]
    folder = prepare_folder(out if out is not None else default_out(name), automatic=out is None)
    dtypes, spec_key = dtypes_of(cells), cells[0].spec_key
    started = time.perf_counter()
    # Named as given; the rest as --set gives them. Only their names are read here: plan held
    # their values to the dtypes the cells train in.
    given = settings.named
    with stops_said(folder, cells, keep_weights), \
            filled_alone(folder, describe(planned.spec, axes, planned.seeds, planned.folds,
                                          dtypes, spec_key, cells[0].ir), "sweep"):
        ran = run_cells(  # its earlier cells: other sweeps' of the spec, the table's too
            cells, folder, executor, data_dir=data_dir, keep_weights=keep_weights,
            on_done=on_done,
            on_start=on_start and (lambda running, n: on_start(running, n, folder)),
            hint_of=lambda template: swept_template(template, given, [a.spelt for a in axes]))
    return Sweep(str(planned.spec), folder, axes, planned.seeds, planned.folds, cells[0].ir,
                 name, dtypes,
                 done=ran.done + ran.earlier,
                 ran=ran.ran, skipped=recorded_before(cells, ran.ran),
                 earlier=len(ran.earlier), seconds=time.perf_counter() - started,
                 spec_key=spec_key, retested=ran.retested, left_out=ran.left_out)


def write_outputs(result: Sweep) -> list[Path]:
    """results.json, results.csv and the pictures (accuracy against each swept setting, when
    a setting was swept; the curves of each group, when an epoch finished)."""
    table = result.table
    paths = list(write_results(result.out, result.results))
    accuracy, curves = result.out / ACCURACY_PNG, result.out / rundir.CURVES
    # A picture this sweep does not draw (its folder's cells differ in no setting) is taken
    # away, not left from an earlier sweep: its cells would be drawn apart the table's groups.
    if table.columns:
        paths.append(plot_accuracy_by_setting(
            table.groups, list(table.values.items()), accuracy,
            title=f"{result.name}: sweep, validation accuracy by setting"))
    else:
        accuracy.unlink(missing_ok=True)
    if any(r.metrics for _, r in result.done):
        paths.append(plot_group_curves(table.groups, curves, title=f"{result.name}: sweep"))
    else:
        curves.unlink(missing_ok=True)
    return paths



ACCURACY_PNG = "accuracy.png"  # a sweep's validation accuracy against each swept setting
