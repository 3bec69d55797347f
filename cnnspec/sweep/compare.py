"""``cnnspec compare``: train one spec under several inits and several seeds, side by side.

This is the comparison practitioners make by hand: the same network, the same data in the same
order, only the init differs. Seed ``k`` of every variant trains with the same run seed, so the
dataset, the validation split and the batch order are identical across variants (they come from
their own streams, :mod:`cnnspec.seeding`); the init draws differ because the init does.

It is the sweep over ``init`` alone (``cnnspec sweep SPEC --set init=A,B``): the same cells,
the same sweep folder (one folder per cell, a rerun finishes what is missing), trained in this
process or, with ``jobs > 1``, in local processes, so it needs no Dask. What it adds is its
own table: epochs to a target accuracy, divergences, the curves of each variant.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, field
from pathlib import Path

from cnnspec.check.load import read_spec
from cnnspec.dtypes import DEFAULT_DTYPE, given_dtype
from cnnspec.engine.splitting import usable_cores
from cnnspec.errors import LIBRARY_NAMES, SettingError, SpecError, literal, shortened, worded
from cnnspec.given import given_texts, keywords_checked, plain, shown
from cnnspec.ir.training_catalogue import refuse_count
from cnnspec.lab.plots import plot_learning_curves
from cnnspec.lab.variants import (
    SPEC_LABEL,
    default_weight_layers,
    init_option_error,
    init_place,
    own_weight_layers,
    reach_text,
    spec_label,
)
from cnnspec.metrics import EPOCH, VAL_ACC
from cnnspec.records import record
from cnnspec.sweep.cells import Cell, CellResult, kept_val_acc, make_cells
from cnnspec.sweep.concurrency import largest_process, refuse_beyond_memory, trainings_that_fit
from cnnspec.sweep.executor import LocalExecutor
from cnnspec.sweep.grid import DTYPE, INIT, Axis, value_reader
from cnnspec.sweep.results import (
    ACCURACY_HEADERS,
    LEFT_OUT_KEY,
    REPORTED_DOTS,
    REPORTED_EPOCH,
    TEST_WEIGHTS_NOTE,
    columns,
    curve_label,
    describe_cell,
    diverged_text,
    filled_alone,
    folder_name,
    layout,
    left_out_folders,
    mean_std,
    percent,
    prepare_folder,
    reported_epochs,
    shown_settings,
    stops_said,
    typed_settings,
)
from cnnspec.sweep.runner import default_out, describe, recorded_before, run_cells
from cnnspec.training import rundir
from cnnspec.training.run import tested_epoch
from cnnspec.training.settings import Settings, setting_keyword_hint

DEFAULT_TARGET = 0.9


@record
class JobResult:
    """What one training left: per-epoch metrics, the test accuracy of the weights it keeps
    (those of epoch ``test_epoch``, which is None for a run without a test_acc, one that
    diverged, and for one recorded before the test figures were of the kept weights, whose
    test_acc may be another epoch's: :func:`~cnnspec.training.run.tested_epoch`), and whether
    the loss diverged (NaN, inf, or blown up) — then ``error`` holds the trainer's message.
    ``out`` is its folder's path (its JSON gives it relative to the --out folder:
    :meth:`to_dict`)."""

    label: str
    seed: int
    metrics: list[dict]
    test_acc: float | None
    diverged: bool
    error: str | None = None
    out: str | None = None
    test_epoch: int | None = None
    # After a divergence, what to try: a template naming settings (CellResult's), worded for
    # the caller by worded_hint; its JSON is the worded "hint" (to_dict)
    hint_template: str | None = field(default=None, repr=False)

    def worded_hint(self, names: dict = LIBRARY_NAMES) -> str | None:
        """What to try after a divergence, each setting named as ``names`` calls it (a front
        end's: ``--lr 0.1``; by default the library's, ``lr=0.1``); None when it did not
        diverge."""
        return None if self.hint_template is None else worded(self.hint_template, names)

    @property
    def val_acc(self) -> float | None:
        """The validation accuracy of the weights the run keeps, as its test_acc is theirs
        (None without a validation split or when it diverged)."""
        return None if self.diverged else kept_val_acc(self.metrics, self.test_epoch)

    def to_dict(self, names: dict = LIBRARY_NAMES) -> dict:
        """The run as compare's JSON holds it: its folder ``out`` relative to the --out
        folder, as the sweep's results.json names a cell's (:func:`folder_name`), and its
        hint worded by ``names``."""
        out = asdict(self)
        del out["hint_template"]
        return {**out, "out": None if self.out is None else folder_name(self.out),
                "hint": self.worded_hint(names)}


@record
class VariantSummary:
    """One row of the comparison table: a variant over all its seeds; ``settings``: its
    values of the settings the runs differ in (its init, and its epochs where others
    trained other epochs), as JSON carries them (typed, as a sweep's results.json)."""

    label: str
    seeds: int
    val_acc_mean: float
    val_acc_std: float | None  # None for one seed's value
    test_acc_mean: float
    test_acc_std: float | None
    epochs_to_target: float | None  # mean over the seeds that reached the target
    reached: int  # seeds that reached the target
    diverged: int  # seeds that diverged
    runs: list[JobResult] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


def variant_label(init: str | None) -> str:
    """The ``init`` setting's text of a variant (None: the spec as written), which names its
    cells and their folders."""
    return SPEC_LABEL if init is None else init


def shown_init(cell: Cell, text: str) -> str:
    """An ``init`` setting's text as compare's tables and pictures show it: the spec as
    written by the init its layers start from (:func:`cnnspec.lab.variants.spec_label`)."""
    return spec_label(cell.ir) if text == SPEC_LABEL else text


def init_axis(spec, inits: list[str | None]) -> Axis:
    """The ``init`` axis of the variants (None: the spec as written); a mistake in one names
    its ``--init``."""
    places = [str(spec.path) if init is None else init_place(init) for init in inits]
    values = [None if init is None else _init_read(spec, init, place)
              for init, place in zip(inits, places)]
    return Axis(INIT, tuple(variant_label(init) for init in inits), tuple(values), tuple(places))


def _init_read(spec, init: str, place: str) -> dict:
    """The IR init of the ``--init`` text ``init`` for ``spec``, given at ``place``."""
    reader = value_reader(INIT, spec.ir, place)
    try:
        return reader(init)
    except SpecError as exc:
        raise init_option_error(exc, init) from None


def job_result(cell: Cell, result: CellResult, out: Path, label: str | None = None
               ) -> JobResult:
    """``cell``'s run as the comparison reports it, under ``label`` (by default its init's)."""
    return JobResult(label or shown_init(cell, dict(cell.settings)[INIT]), cell.seed,
                     result.metrics, result.test_acc, result.diverged, result.error,
                     str(out / result.folder), tested_epoch(result.summary),
                     result.hint_template)


def variant_of(cell: Cell, keys: list[str]) -> str:
    """The label of ``cell``'s variant among runs that differ in the settings ``keys``
    (:func:`~cnnspec.sweep.results.columns`): its init, then any other setting it differs
    in (``he_normal, epochs=2``)."""
    return ", ".join(shown_init(cell, value) if key == INIT else f"{key}={value}"
                     for key, value in shown_settings(cell, keys).items())


def describe_result(result: JobResult, names: dict = LIBRARY_NAMES) -> str:
    """One line on a finished training, for progress output; after a divergence, its hint
    worded by ``names`` on a line of its own, as a sweep's."""
    return describe_cell(f"{result.label}, seed {result.seed}", result,
                         result.worded_hint(names))


def default_jobs(n_jobs: int, process: int = 0) -> int:
    """Two processes when there are two cores and two jobs to share them, and memory for two
    trainings of ``process`` bytes each at once (check counts one); else one."""
    return max(1, min(2, usable_cores(), n_jobs, trainings_that_fit(process)))


def epochs_to_reach(metrics: list[dict], target: float) -> int | None:
    """The first epoch whose validation accuracy is at least ``target`` (None if none is)."""
    for index, row in enumerate(metrics):
        acc = row.get(VAL_ACC)
        if acc is not None and acc >= target:
            return int(row.get(EPOCH, index + 1))
    return None


def summarize(label: str, runs: list[JobResult], target: float,
              settings: dict | None = None) -> VariantSummary:
    """The table row of one variant: validation and test accuracy of the weights each run
    keeps, over the seeds whose training finished (a diverged run has none; it is counted
    under ``diverged``), the first epoch at ``target`` validation accuracy, divergences;
    ``settings``, its values of the settings the runs differ in, typed."""
    finished = [r for r in runs if not r.diverged]
    val = [r.val_acc for r in finished if r.val_acc is not None]
    test = [r.test_acc for r in finished if r.test_acc is not None]
    reached = [e for e in (epochs_to_reach(r.metrics, target) for r in runs) if e is not None]
    val_mean, val_std = mean_std(val)
    test_mean, test_std = mean_std(test)
    return VariantSummary(
        label=label, seeds=len(runs), val_acc_mean=val_mean, val_acc_std=val_std,
        test_acc_mean=test_mean, test_acc_std=test_std,
        epochs_to_target=sum(reached) / len(reached) if reached else None,
        reached=len(reached), diverged=sum(r.diverged for r in runs), runs=runs,
        settings=settings or {})


@record
class Comparison:
    spec: str
    target: float
    out: Path
    variants: list[VariantSummary]
    seconds: float
    name: str = ""  # the model's, as train names a run
    dtype: str = DEFAULT_DTYPE  # what every training was in
    ran: int = 0  # the runs this call trained
    skipped: int = 0  # and those its folder held already (a comparison run again into it)
    earlier: int = 0  # runs of other comparisons of the spec in its folder, in its table too
    columns: list[str] = field(default_factory=lambda: [INIT])  # the settings runs differ in
    # runs trained again, and other comparisons' left out of the table, recorded with the
    # test accuracy of other weights than they keep (runner.CellsRun)
    retested: int = 0
    left_out: list[Path] = field(default_factory=list)
    # The layers the inits compared set the weight init of (None: the spec as written alone),
    # and those with weights that keep their own (ComparisonPlan's).
    sets: list[str] | None = None
    keeps: list[str] = field(default_factory=list)

    @property
    def reach(self) -> str:
        """Which layers the inits compared set, where some layers keep their own
        (:func:`cnnspec.lab.variants.reach_text`, as init-report heads a variant's table);
        empty where they set every layer with weights."""
        text = reach_text(self.sets, self.keeps)
        return f"each init {text}" if text else ""

    def curves(self) -> dict[str, list[list[dict]]]:
        """Per variant, the per-epoch metrics of each seed (for the learning-curve plot); the
        label says how many seeds diverged (their curves stop where they blew up)."""
        return {curve_label(v.label, v.diverged, v.seeds): [r.metrics for r in v.runs]
                for v in self.variants}

    def reported(self) -> dict[str, list[int]]:
        """Per variant, labelled as in :meth:`curves`, the epochs its row reports."""
        return {curve_label(v.label, v.diverged, v.seeds):
                reported_epochs(r.test_epoch for r in v.runs) for v in self.variants}

    def to_dict(self, names: dict = LIBRARY_NAMES) -> dict:
        """The comparison as JSON holds it: each run's folder and those of the runs left out
        of its table (:data:`~cnnspec.sweep.results.LEFT_OUT_KEY`) relative to its --out
        folder; a diverged run's hint worded by ``names`` (see :meth:`JobResult.worded_hint`).
        ``seconds`` is this call's wall time: ``trained`` says how many runs it trained in it,
        ``reused`` how many of the table's its folder held already, which took no training (a
        comparison run again into it)."""
        return {"spec": self.spec, "target": self.target, "seconds": self.seconds,
                "trained": self.ran, "reused": self.skipped + self.earlier,
                "dtype": self.dtype,
                **({} if self.sets is None else {"init_sets": self.sets,
                                                 "init_keeps": self.keeps}),
                "variants": [{**asdict(v), "runs": [r.to_dict(names) for r in v.runs]}
                             for v in self.variants],
                LEFT_OUT_KEY: left_out_folders(self.left_out)}


@record(frozen=True)
class ComparisonPlan:
    """What :func:`plan_comparison` made of :func:`compare`'s arguments: the spec as given,
    the number of seeds (checked), the ``init`` axis of the variants and every run, each
    checked; all a comparison trains and says it was."""

    spec: str
    seeds: int
    axes: list[Axis]
    cells: list[Cell]
    # the layers a default weight init sets and those that keep their own (None, []: the
    # spec as written alone is compared)
    sets: list[str] | None = None
    keeps: list[str] = field(default_factory=list)


def plan_comparison(spec: str, inits: list[str | None], epochs: int | None = None,
                    seeds: int = 1, lr: float | None = None, batch_size: int | None = None,
                    on_warnings: Callable[[list], None] | None = None,
                    dtype: str = DEFAULT_DTYPE, data: str | dict | None = None,
                    ignore=()) -> ComparisonPlan:
    """Every run of the comparison, each checked; nothing trains. The arguments are
    :func:`compare`'s; ``on_warnings`` hears the checks' warnings but those of the lints
    ``ignore`` names (:func:`cnnspec.sweep.cells.make_cells`)."""
    seeds = refuse_count("seeds", seeds, 1, "e.g. {seeds:3} trains every variant with seeds 0, "
                         "1 and 2")
    variants = given_texts(inits, "inits", "he_normal", spec_as_written=True) or [None]
    dtype = given_dtype(dtype)
    again = [v for i, v in enumerate(variants) if v in variants[:i]]
    if again:  # a mistake in what was asked: named as the caller gave it, not at the spec
        # (None, the spec as written, is no text to quote: the library's alone)
        given = "{inits} gives None, the spec as written," if again[0] is None else \
            f"{{inits:{literal(shortened(again[0]))}}} is given"
        raise SettingError(f"{given} more than once",
                           hint="name each init variant once; use {seeds:K} for repeated runs",
                           invalid=True)
    parsed = read_spec(spec, "spec")
    axis = init_axis(parsed, variants)
    overrides = Settings(epochs=epochs, lr=lr, batch_size=batch_size,
                         data=data).overrides(dtype)
    cells = make_cells(parsed, [axis], seeds, None, overrides, on_warnings, dtype=dtype,
                       ignore=ignore)
    if all(variant is None for variant in variants):
        return ComparisonPlan(str(spec), seeds, [axis], cells)
    return ComparisonPlan(str(spec), seeds, [axis], cells, default_weight_layers(parsed.ir),
                          own_weight_layers(parsed.ir))


@keywords_checked("compare", setting_keyword_hint)  # compare(learning_rate=0.1): lr=0.1
def compare(spec: str, inits: list[str | None], epochs: int | None = None, seeds: int = 1,
            jobs: int | None = None, out: str | Path | None = None,
            target: float = DEFAULT_TARGET, data_dir: str | None = None,
            lr: float | None = None, batch_size: int | None = None,
            on_done: Callable[[JobResult], None] | None = None, executor=None,
            on_start: Callable[[object, int, Path], None] | None = None,
            on_warnings: Callable[[list], None] | None = None,
            dtype: str = DEFAULT_DTYPE, keep_weights: bool = False,
            planned: ComparisonPlan | None = None, data: str | dict | None = None,
            ignore=()) -> Comparison:
    """Train ``spec`` once per init variant and seed; returns the summarised comparison.

    ``epochs``, ``lr``, ``batch_size`` and ``data`` (as :class:`cnnspec.Settings` takes it:
    ``"shapes"``, ``"npz:PATH"`` or an IR data object) override the spec's training settings
    for every variant; ``jobs`` trainings run at once in local processes (default
    :func:`default_jobs`), or ``executor`` (as for :func:`cnnspec.sweep.runner.sweep`) says
    where they run; ``target`` is the validation accuracy whose first epoch the table
    reports; ``on_done`` hears of each training as it finishes, ``on_start(executor, n,
    folder)`` where ``n`` trainings are about to start and the folder they are recorded in,
    ``on_warnings`` check's warnings of the spec and those each init adds (``with --init
    "zeros": ...``), before anything trains, but those of the lints ``ignore`` names (as
    ``cnnspec.load``'s). ``dtype`` is the one every training is in, as
    ``train``'s (:data:`cnnspec.dtypes.DTYPES`). With ``keep_weights`` each run keeps its
    weights, as a sweep's cell does, for ``eval``, ``filters`` and ``features`` (a run
    recorded without them trains again). ``planned``: what :func:`plan_comparison` made of
    these arguments, where the caller has it already: the comparison is the plan's, so
    ``spec``, ``inits``, ``epochs``, ``seeds``, ``lr``, ``batch_size``, ``data``, ``dtype``
    and ``ignore`` are not read (the spec is not read or checked again), and ``on_warnings``
    is not called.

    Every variant is checked before any training starts, so a typo in the last ``--init``
    fails at once rather than after the first variants trained. A Ctrl-C (or SIGTERM) once
    the folder is made raises :class:`~cnnspec.sweep.results.SweepStopped`, as a sweep's.
    """
    target = _given_target(target)
    if jobs is not None:
        jobs = refuse_count("jobs", jobs, 1, "e.g. {jobs:2} trains two variants at once")
    plan = planned or plan_comparison(spec, inits, epochs, seeds, lr, batch_size, on_warnings,
                                      dtype, data, ignore)
    cells = plan.cells
    name, dtype = cells[0].ir["name"], cells[0].dtype
    process = largest_process(cells)
    if jobs is not None and executor is None:
        refuse_beyond_memory(jobs, process, "jobs", plan.spec)
    folder = prepare_folder(out if out is not None else default_out(name, "compare"),
                            automatic=out is None)
    started = time.perf_counter()
    description = describe(plan.spec, plan.axes, plan.seeds, None, (dtype,),
                           cells[0].spec_key, cells[0].ir)
    with stops_said(folder, cells, keep_weights), filled_alone(folder, description, "compare"):
        ran = run_cells(  # its earlier cells: other comparisons' of the spec, shown too
            cells, folder,
            executor or (lambda n: LocalExecutor(jobs or default_jobs(n, process))),
            data_dir=data_dir, keep_weights=keep_weights,
            on_done=(lambda cell, result: on_done(job_result(cell, result, folder)))
            if on_done else None,
            on_start=on_start and (lambda running, n: on_start(running, n, folder)),
            command="compare")
    seconds = time.perf_counter() - started
    done = ran.done + ran.earlier
    keys = columns(done)
    results = [job_result(cell, result, folder, variant_of(cell, keys))
               for cell, result in done]
    settings = {r.label: typed_settings(cell, keys) for r, (cell, _) in zip(results, done)}
    rows = [summarize(label, [r for r in results if r.label == label], target, settings[label])
            for label in settings]
    return Comparison(plan.spec, target, folder, rows, seconds, name, dtype, ran.ran,
                      recorded_before(cells, ran.ran), len(ran.earlier), keys, ran.retested,
                      ran.left_out, plan.sets, plan.keeps)


# ---- output -------------------------------------------------------------------------------

def _given_target(target) -> float:
    """``target``, the validation accuracy whose first epoch is reported: a fraction in
    (0, 1], as ``--target`` takes it."""
    value = plain(target)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise SettingError(f"{{target}} must be an accuracy above 0 and at most 1, not "
                           f"{shown(target)}", hint="e.g. {target:0.9} for 90%", invalid=True)
    return float(value)


# What the column of epochs to the target gives, in the words of :func:`_reach`.
REACH_NOTE = ("the first epoch whose validation accuracy reaches it, the mean over the runs "
              "that do, and in brackets how many of the variant's runs do (2/3: two of three)")


def _reach(v: VariantSummary) -> str:
    """Epochs to the target accuracy (their mean over the seeds that reached it) and how many
    seeds did."""
    if v.epochs_to_target is None:
        return f"never (0/{v.seeds})"
    epochs = f"{v.epochs_to_target:.0f}" if v.seeds == 1 else f"{v.epochs_to_target:.1f}"
    return f"{epochs} ({v.reached}/{v.seeds})"


def format_table(comparison: Comparison) -> str:
    """The comparison table: one row per variant, accuracies in percent (mean +- std over
    the seeds when there are several)."""
    target = f"epochs to {100 * comparison.target:g}%"
    header = ["init", *ACCURACY_HEADERS, target, "diverged"]
    rows = []
    for v in comparison.variants:
        rows.append([v.label, percent(v.val_acc_mean, v.val_acc_std),
                     percent(v.test_acc_mean, v.test_acc_std), _reach(v),
                     diverged_text(v.diverged, v.seeds)])
    lines = layout(header, rows)
    if comparison.reach:
        lines.append(comparison.reach)
    counts = {v.seeds for v in comparison.variants}
    seeds = counts.pop() if len(counts) == 1 else None  # None: earlier runs had other seeds
    # float32 is every training's unless said (or a column shows it): the line names another
    trained = "" if comparison.dtype == DEFAULT_DTYPE or DTYPE in comparison.columns \
        else f"trained in {comparison.dtype}; "
    tail = (f"{TEST_WEIGHTS_NOTE}; {target}: {REACH_NOTE}; {trained}runs in "
            f"{comparison.out}")
    if seeds is None:
        lines.append(f"(accuracies: mean +- std over each variant's seeds that did not "
                     f"diverge; {tail})")
    elif seeds == 1:
        lines.append(f"(1 seed per variant; {tail})")
    else:
        lines.append(f"({seeds} seeds per variant; accuracies: mean +- std over the seeds "
                     f"that did not diverge; {tail})")
    return "\n".join(lines)


def plot(comparison: Comparison, out_png=None) -> Path:
    """The learning curves of every variant, drawn to ``out_png`` (default: ``curves.png`` in
    the comparison's folder, beside its run folders)."""
    if out_png is None:
        out_png = Path(comparison.out) / rundir.CURVES
    return plot_learning_curves(comparison.curves(), out_png,
                                title=f"{comparison.name}: inits compared"
                                + (f" ({comparison.reach})" if comparison.reach else ""),
                                marked=(REPORTED_DOTS, REPORTED_EPOCH, comparison.reported()))
