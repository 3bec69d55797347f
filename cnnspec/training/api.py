"""Train a spec into a run folder, or continue an interrupted run.

The steps of a fresh run: load the spec, apply the command-line overrides and check it, load
the data and check that it fits the network, split off the validation set and fit the
preprocessing on the rest, compile the model, run the init steps (LSUV, where the composer
passes it); then (and only then, so a refused run leaves no folder) create the run folder, save
the spec, the preprocessing and the initial weights, train (:mod:`cnnspec.training.loop`),
evaluate on the test split, write the summary. A resumed run reads all of that back from the
folder instead. Statistics, curves and the like join through callbacks
(:mod:`cnnspec.training.callbacks`); ``cnnspec.train`` composes the usual ones.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cnnspec.atomic import NotWritten, write_text
from cnnspec.check import check
from cnnspec.check.load import read_spec
from cnnspec.check.model import CheckedSpec
from cnnspec.check.silence import lint_names
from cnnspec.data import Preprocessor
from cnnspec.data.augment import Augmenter, batch_rng
from cnnspec.dtypes import DEFAULT_DTYPE, UNRECORDED_DTYPE, WIDEST_DTYPE, given_dtype
from cnnspec.errors import SettingError, command_line, counted, literal, shell_word, shown_path
from cnnspec.given import given_callable, given_path, plain, shown
from cnnspec.ir.training_catalogue import OPTIMIZERS, value_text
from cnnspec.metrics import FIGURES, IMAGES_PER_S, SECONDS
from cnnspec.records import record
from cnnspec.seeding import streams
from cnnspec.training import rundir
from cnnspec.training.batches import kfold_split, validation_split
from cnnspec.training.callbacks import Callback, InitContext, InitStep, checked_callbacks
from cnnspec.training.compat import (
    RESUMED_RUN_DATA,
    check_data_fits,
    check_training_memory,
    check_training_split,
    file_data_warnings,
    load_spec_data,
)
from cnnspec.training.files import write_json, write_npz
from cnnspec.training.finetune import (
    WeightsFrom,
    chosen_layers,
    copy_weights,
    frozen_ir,
    given_weights_from,
    source_weights,
)
from cnnspec.training.loop import (
    Diverged,
    Interrupted,
    Session,
    Split,
    Stopped,
    fit,
    stopped_for,
)
from cnnspec.training.mults import training_optimizer
from cnnspec.training.progress import Display, make_display
from cnnspec.training.run import (
    Run,
    as_checked,
    checked_run_spec,
    compile_model,
    data_dtype,
    read_preprocessor,
    read_summary,
    run_fold,
)
from cnnspec.training.rundir import RunDir, create_run_dir, open_run_dir
from cnnspec.training.scoring import score
from cnnspec.training.settings import (
    OVERRIDABLE,
    Settings,
    effective_ir,
    given_settings,
    overridden_spec,
    recorded_data,
    recorded_ir,
)
from cnnspec.training.state import Position, load_checkpoint, load_weights
from cnnspec.version import __version__


@record
class Options:
    """How to run, as opposed to what to train (see :func:`train`)."""

    display: Display
    data_dir: str | None
    callbacks: Sequence[Callback]
    init_steps: Sequence[InitStep]
    dtype: str = DEFAULT_DTYPE
    start_weights: tuple[dict, list[str], WeightsFrom] | None = None  # fine-tuning
    fold: tuple[int, int] | None = None  # (fold, folds): k-fold cross-validation
    on_warnings: Callable[[list], None] | None = None  # see train
    ignore: frozenset[str] = frozenset()  # the lints whose warnings are left out


@record
class Prepared:
    """The data of a run, split and preprocessed; ``data_order`` drew the validation split."""

    train: Split
    val: Split | None
    test: Split
    preprocessor: object
    data_order: np.random.Generator


def train(spec, settings: Settings | None = None, run_dir=None, *, runs_dir="runs",
          data_dir=None, progress=None, callbacks: Sequence[Callback] = (),
          init_steps: Sequence[InitStep] = (), dtype: str = DEFAULT_DTYPE,
          weights_from: WeightsFrom | None = None,
          fold: tuple[int, int] | None = None,
          on_warnings: Callable[[list], None] | None = None, ignore=()) -> Run:
    """Train ``spec`` (a path to a ``.cnn``/``.json`` file, or a ``CheckedSpec``) into a new run
    folder; return the :class:`Run`, holding the weights the run keeps, as
    :func:`~cnnspec.training.run.load_run` opens them by default: its best epoch's by
    validation (``weights`` "best", ``weights_epoch`` that epoch) when it has one, else its
    last; ``summary["test_acc"]`` is theirs, ``summary["last_test_acc"]`` the last epoch's.

    ``settings`` (:class:`Settings`) changes the spec's epochs, lr, batch size, seed or data.
    ``run_dir`` is the run folder (default ``<runs_dir>/<name>-<YYYYmmdd-HHMMSS>``); it must not
    exist or be empty. ``data_dir`` caches downloaded datasets (default ``~/.cache/cnnspec``).
    ``progress`` is ``"bar"``, ``"lines"``, ``"none"``, a
    :class:`~cnnspec.training.progress.Display` or None (a bar on a terminal, lines otherwise).
    ``callbacks`` (:class:`~cnnspec.training.callbacks.Callback`) hear of the run as it goes;
    ``init_steps`` change the compiled weights on the training data before the first step (see
    :mod:`cnnspec.training.callbacks`). ``dtype`` is one of :data:`cnnspec.dtypes.DTYPES` (the
    model, its data and its checkpoints; a resumed run keeps its own). ``weights_from``
    (:class:`~cnnspec.training.finetune.WeightsFrom`) starts from another run's weights, for
    all the layers the networks share or the ones named, optionally frozen. ``fold``
    ``(i, k)`` validates on part ``i`` of ``k`` of the training split instead of ``val_split``
    (:func:`~cnnspec.training.batches.kfold_split`). ``on_warnings`` is called with check's
    warnings (``CheckedSpec.warnings``) for the spec as it will be trained, its
    overrides applied, before anything else runs (``cnnspec check`` sees the spec without
    them: a ``--cores`` the batch is too small to split into), and again with the warnings
    about a data file's data once it is read (a batch larger than all an npz file's images).
    ``ignore`` names the lints whose warnings are left out of those, as ``cnnspec.load``'s
    (a comma-separated text or an iterable of names, :func:`cnnspec.check.silence.lint_names`;
    a ``CheckedSpec`` keeps those it was checked with). This function draws no pictures and
    applies no LSUV by itself: ``cnnspec.train`` adds those.
    """
    dtype = given_dtype(dtype)
    overrides = given_settings(settings).overrides(dtype)
    weights_from = given_weights_from(weights_from)
    run_dir, runs_dir, data_dir = _given_folders(run_dir, runs_dir, data_dir)
    on_warnings = given_callable(on_warnings, "on_warnings", "(warnings)")
    fold = _given_fold(fold)
    ignore = lint_names(ignore) | (spec.ignored if isinstance(spec, CheckedSpec) else frozenset())
    options = Options(make_display(progress, False), data_dir, checked_callbacks(callbacks),
                      list(init_steps), dtype, fold=fold, on_warnings=on_warnings,
                      ignore=ignore)
    try:
        checked = checked_with_overrides(spec, overrides, dtype, ignore)
        if on_warnings is not None:
            on_warnings(list(checked.warnings))
        if weights_from is not None:
            checked = _start_from(checked, weights_from, options)
        return _fresh(checked, overrides, run_dir, runs_dir, options)
    finally:
        options.display.close()


def _given_folders(run_dir, runs_dir, data_dir) -> tuple:
    """``run_dir``, ``runs_dir`` and ``data_dir`` as paths (None where none is given); a
    value that is no path is a :class:`SettingError` naming it."""
    if run_dir is not None:
        run_dir = rundir.given_run_folder(run_dir, "run_dir")
    if runs_dir is not None:
        runs_dir = given_path(runs_dir, "runs_dir", "the folder of run folders", "runs")
    if data_dir is not None:
        data_dir = given_path(data_dir, "data_dir", "the folder datasets are cached in",
                              "~/.cache/cnnspec")
    return run_dir, runs_dir, data_dir


def _given_fold(fold) -> tuple[int, int] | None:
    """``fold`` ``(i, k)``: part ``i`` (from 0) of ``k`` (at least 2), or None."""
    if fold is None:
        return None
    pair = tuple(plain(part) for part in fold) if isinstance(fold, (tuple, list)) else ()
    if len(pair) == 2 and all(isinstance(p, int) and not isinstance(p, bool) for p in pair) \
            and 0 <= pair[0] < pair[1] and pair[1] >= 2:
        return pair
    raise SettingError(f"{{fold}} takes a pair (i, k), part i (from 0) of k parts (2 or more), "
                       f"not {shown(fold)}", hint="e.g. {fold:(0, 5)}", invalid=True)


def _start_from(checked, source: WeightsFrom, options: Options):
    """Choose the layers to copy from ``source`` (freezing them in the IR when asked) and keep
    their weights in ``options`` for after the init steps."""
    weights = source_weights(source)
    layers = chosen_layers(source, weights, compile_model(checked, 0).state_dict())
    options.start_weights = (weights, layers, source)
    if not source.freeze:
        return checked
    return check(dataclasses.replace(checked.spec, ir=frozen_ir(checked.ir, layers)),
                 dtype=options.dtype, ignore=options.ignore)


def resume(run_dir, settings: Settings | None = None, *, spec=None, data_dir=None,
           progress=None, callbacks: Sequence[Callback] = ()) -> Run:
    """Continue the run in ``run_dir`` from its last checkpoint, bitwise as if it had never
    stopped; return the :class:`Run`.

    A resumed run keeps its settings and network: ``settings`` and ``spec``, when given, must
    be the run's own (a check against continuing something else by mistake). ``data_dir``
    defaults to the one the run was started with; ``progress`` and ``callbacks`` as for
    :func:`train`.
    """
    # Held to the widest dtype's range: a resumed run's settings must be its own, which its
    # dtype held when it started (_check_same_settings compares them once the run is read).
    overrides = given_settings(settings).overrides(WIDEST_DTYPE)
    run_dir = rundir.given_run_folder(run_dir, "run_dir")
    _, _, data_dir = _given_folders(None, None, data_dir)
    options = Options(make_display(progress, False), data_dir, checked_callbacks(callbacks), [])
    try:
        return _resume(run_dir, spec, overrides, options)
    finally:
        options.display.close()


def checked_with_overrides(spec, overrides: dict, dtype: str = DEFAULT_DTYPE,
                           ignore=()) -> CheckedSpec:
    """``spec`` (a path or a ``CheckedSpec``) checked as it will be trained: with the
    command-line overrides in its training settings (``--data`` may make a spec fit, or not),
    its step's memory in ``dtype``, the warnings of the lints ``ignore`` names left out."""
    parsed = spec.spec if isinstance(spec, CheckedSpec) else read_spec(str(spec))
    return check(overridden_spec(parsed, overrides), dtype=dtype, ignore=ignore)


def _fresh(checked, overrides: dict, out, runs_dir, options: Options) -> Run:
    # Everything that can fail before training starts (data, preprocessing, compiling, LSUV)
    # runs before the run folder is made: a refused run leaves nothing behind.
    ir = checked.ir
    training = ir["training"]
    if out is not None:
        rundir.refuse_occupied(out)
    dataset = _load_data(checked, training, options.data_dir, options, fold=options.fold)
    prepared = _prepare(training, dataset, None, options.dtype, options.fold)
    model = _training_model(checked, training, options.dtype)
    optimizer = training_optimizer(training, model)
    _run_init_steps(model, prepared, options.init_steps, options.display)
    if options.start_weights is not None:
        copy_weights(model, *options.start_weights[:2])
    recorded = recorded_ir(ir)
    summary = _start_summary(recorded, dataset, overrides, options.data_dir, checked.spec.path,
                             out, options.dtype)
    if options.start_weights is not None:
        _, layers, source = options.start_weights
        summary["weights_from"] = {"run": str(source.run), "layers": layers,
                                   "frozen": source.freeze}
    session = _session(checked, model, optimizer, training, prepared, None, options)
    position = Position()

    def fill(run: RunDir) -> None:
        session.run = run
        write_json(run.summary, summary)
        _write_spec_files(run, checked, recorded, overrides)
        write_json(run / rundir.PREPROCESS, prepared.preprocessor.to_dict())
        write_npz(run / rundir.INIT, model.state_dict())
        session.save(position)  # step 0: the last good point until the first epoch ends

    session.run = create_run_dir(ir["name"], out, runs_dir, fill)
    options.display.message(opening_line(checked, prepared, options.dtype, session.run.path))
    with rundir.trained_alone(session.run):
        return _train_and_finish(session, position, prepared, summary, options.callbacks)


def opening_line(checked: CheckedSpec, prepared: Prepared, dtype: str, path) -> str:
    """What a fresh run trains, said before its first epoch (as Keras' fit and Caffe's solver
    do): the network, the data's splits, the optimizer with its arguments, the schedule, the
    batch, the epochs, the dtype, and the run folder."""
    training = checked.ir["training"]
    optimizer = training["optimizer"]
    val = f", {len(prepared.val.y):,} validation" if prepared.val is not None else ""
    return (f"training {checked.ir['name']} ({checked.total_params:,} parameters) on "
            f"{training['data'].get('name')}: {len(prepared.train.y):,} training{val} and "
            f"{len(prepared.test.y):,} test images; "
            f"{OPTIMIZERS[optimizer['name']].written(optimizer)}, lr "
            f"{value_text(training['lr'])}, schedule {training['schedule']['name']}, batch "
            f"{training['batch_size']}, {counted(training['epochs'], 'epoch')}, {dtype}; "
            f"run folder {shown_path(path)}")


def _resume(path: Path, spec, overrides: dict, options: Options) -> Run:
    run = open_run_dir(path)
    with rundir.trained_alone(run):
        return _resume_alone(run, spec, overrides, options)


def _resume_alone(run: RunDir, spec, overrides: dict, options: Options) -> Run:
    summary = read_summary(run)
    if summary.get("status") == "diverged":
        # Training is deterministic: from its last checkpoint it would diverge again, at the
        # same step, and a resumed run cannot change its learning rate.
        saved = run / rundir.SPEC_CNN
        saved = saved if saved.is_file() else run.spec_json  # trained from a .json IR
        raise SettingError(f"run {run.path} diverged; resumed, it would diverge again the same "
                           "way", hint=f"start a new run with a lower learning rate: "
                           f"`{{train_command:{literal(str(saved))}}}` with {{lr}}")
    if summary.get("stopped_early"):
        # Resumed, the same epochs without improvement would stop it again at once.
        path = literal(str(run.path))
        raise SettingError(
            f"run {path} stopped early at epoch {summary['stopped_early']}: its "
            f"{summary.get('monitor')} had stopped improving",
            hint=f"evaluate it (`{{eval_command:{path}}}` uses its best epoch, "
            f"{summary.get('best_epoch')}), or start a new run with a larger early_stop")
    dtype = summary.get("dtype", UNRECORDED_DTYPE)
    checked = checked_run_spec(run, dtype, for_training=True)  # its step in its own dtype
    planned = checked.ir["training"]["epochs"]
    more = overrides.get("epochs", planned) > planned
    if more:  # extend the run: the rest of its settings must still be its own
        checked = _with_epochs(checked, overrides["epochs"], dtype)
    training = checked.ir["training"]
    _check_same_settings(training, overrides, finished=summary.get("status") == "finished")
    if spec is not None:
        _check_same_network(as_checked(spec, dtype), checked, run)
    data_dir = options.data_dir if options.data_dir is not None else summary.get("data_dir")
    # in the dtype it was loaded in when the run started: a float64 run from before its data
    # was loaded in float64 goes on, bitwise, on the float32 images it trained on so far
    summary["data_dtype"] = data_dtype(summary)
    # A sweep's k-fold cell validates on its fold: resumed on val_split instead, it would
    # train on its validation images and pick its best epoch on others.
    fold = run_fold(summary, run)
    # before the data is held to the network: a changed file that no longer fits it would be
    # told to fit the spec (give the output 3 units), a run's spec no one edits
    _check_same_data(summary, training["data"], run)
    dataset = _load_data(checked, training, data_dir, options, summary["data_dtype"], fold,
                         RESUMED_RUN_DATA)
    preprocessor = read_preprocessor(run)
    prepared = _prepare(training, dataset, preprocessor, dtype, fold)
    model = _training_model(checked, training, dtype)
    optimizer = training_optimizer(training, model)
    session = _session(checked, model, optimizer, training, prepared, run, options)
    position = load_checkpoint(run, model, optimizer, session.dropout_rng)
    if more:  # every refusal is behind: the run folder may now say so
        write_json(run.spec_json, recorded_ir(checked.ir))
        position.finished = False
        # "command" started the run with fewer epochs: each extension says how it went on
        extension = command_line("cnnspec train --resume", run.path)
        summary.setdefault("extended", []).append({
            "from_epochs": planned, "to_epochs": training["epochs"],
            "command": f"{extension} --epochs {training['epochs']}"})
        summary.setdefault("overrides", {})["epochs"] = training["epochs"]
    if position.finished and summary.get("status") == "finished":
        # a finished run extends: the hint says how, with twice its epochs for an example
        path, epochs = literal(str(run.path)), training["epochs"]
        raise SettingError(f"run {path} already finished its {counted(epochs, 'epoch')}",
                           hint=f"evaluate it (`{{eval_command:{path}}}`), or train it on to more "
                           f"epochs in all by adding {{epochs:{2 * epochs}}} to "
                           f"`{{resume_command:{path}}}`")
    if position.finished:  # stopped after its last epoch, before its test figures or pictures
        options.display.message(f"finishing {run.path}: trained to its last epoch "
                                f"({training['epochs']}); scoring the test split and drawing "
                                "the curves")
    elif more:
        options.display.message(_extending(run.path, planned, training, position))
    else:
        options.display.message(f"resuming {run.path} at epoch {position.epoch + 1}, "
                                f"step {position.step}")
    summary["resumed"] = summary.get("resumed", 0) + 1
    return _train_and_finish(session, position, prepared, summary, options.callbacks)


def _extending(path, planned: int, training: dict, position) -> str:
    """What a run extended to more epochs says as it goes on: the epochs it had and has, and
    that a schedule other than a constant one now plans the longer run (a cosine schedule's
    rate rises again: it runs over the new total from here)."""
    schedule = training["schedule"]["name"]
    plans = "" if schedule == "constant" else (
        f" (its {schedule} schedule now spans all {training['epochs']}: the learning rate "
        f"follows the longer plan from here, so the run differs from one planned for "
        f"{training['epochs']} from the start)")
    return (f"extending {path} from {counted(planned, 'epoch')} to {training['epochs']} in "
            f"all{plans}: resuming at epoch {position.epoch + 1}, step {position.step}")


def _with_epochs(checked, epochs: int, dtype: str):
    """``checked`` planned for ``epochs`` in all (its memory in the run's ``dtype``). The
    learning-rate schedule then runs over the new total from the next epoch (a cosine
    schedule's rate rises again to where the longer plan would have it)."""
    ir = effective_ir(checked.ir, {"epochs": epochs})
    return check(dataclasses.replace(checked.spec, ir=ir), dtype=dtype)


def _check_same_settings(training: dict, overrides: dict, finished: bool = False) -> None:
    """Refuse a setting of a resumed run other than its own (``finished``: the run trained
    all its epochs, so only more of them would go on)."""
    for key, value in overrides.items():
        if key == "data":  # the same file, named from here as the run recorded it
            value = recorded_data(value)
        if training.get(key) != value:
            given, kept = _setting(value), _setting(training.get(key))
            if given == kept:  # same dataset, other parameters: show them
                given, kept = _setting(value, full=True), _setting(training.get(key), full=True)
            if key == "epochs":  # more epochs than the run's would have extended it
                finish = "" if finished else f"drop {{epochs}} to finish its {kept}, "
                raise SettingError(
                    f"{{epochs}} {given} is fewer than the run's {counted(kept, 'epoch')}",
                    hint=f"a resumed run cannot undo what it trained: {finish}give more "
                    f"than {kept} to extend it ({{epochs:{2 * training[key]}}}), or start a "
                    "new run")
            raise SettingError(
                f"{{{key}}} {given} differs from the run's {key} {kept}",
                hint=f"a resumed run keeps its settings (so it ends as the uninterrupted run "
                f"would have); drop {{{key}}}, or start a new run")


def _setting(value, full: bool = False) -> str:
    """A training setting as the user writes it: a dataset by its --data name, not as a dict
    (``full``: with its parameters, as in a spec, e.g. ``shapes(size=16, count=4000)``)."""
    if not (isinstance(value, dict) and "name" in value):
        return str(value)
    if value["name"] == "npz":
        return f"npz:{value.get('path')}"
    params = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
    return f"{value['name']}({params})" if full and params else str(value["name"])


def _check_same_network(given, stored, run: RunDir) -> None:
    if given.ir["layers"] != stored.ir["layers"] or given.ir["input"] != stored.ir["input"]:
        raise SettingError(f"the spec given is not the network trained in {run.path}",
                           hint=f"resume with `{{resume_command:{literal(str(run.path))}}}` "
                           "alone; it uses the spec saved in the run")


def _load_data(checked, training: dict, data_dir, options: Options,
               dtype: str | None = None, fold: tuple[int, int] | None = None,
               hint: str | None = None):
    """The data of the run (of k-fold's ``fold``, where given), loaded in ``dtype`` and held
    to what check holds the data the spec declares to: it fits the network, an epoch has a
    step, a process training on it the memory. ``hint``: what a data file's error adds
    (:func:`cnnspec.training.compat.load_spec_data`)."""
    # An earlier training in this process (a sweep's or compare's cells train one after
    # another in one) leaves its model, optimizer and data in reference cycles (a model and
    # its DataParallel refer to each other) until the cyclic collector runs: freed now, before
    # this one allocates, the process holds one training at a time, as check counts it.
    gc.collect()
    dataset = load_spec_data(checked, data_dir, hint=hint, dtype=dtype)
    check_data_fits(checked, dataset.input_shape, dataset.classes, dataset.name)
    check_training_split(checked, dataset, fold)
    check_training_memory(checked, dataset,
                          any(getattr(callback, "records_steps", False)
                              for callback in options.callbacks))
    warnings = file_data_warnings(checked, dataset)
    if warnings and options.on_warnings is not None:
        options.on_warnings(warnings)
    return dataset


def _write_spec_files(run: RunDir, checked, ir: dict, overrides: dict) -> None:
    """``spec.json`` (the resolved IR) and, for a ``.cnn`` spec, ``spec.cnn``: its text with
    the command-line overrides written into its ``train`` block, so that training it again
    repeats the run."""
    text = checked.spec.text
    if text is not None:
        from cnnspec.lang.rewrite import NotWritable, with_training  # Lark: for .cnn specs

        try:
            text = with_training(text, {key: ir["training"][key] for key in overrides},
                                 checked.spec.path)
        except NotWritable as exc:  # left as given; spec.json has the settings
            text = f"# trained with {', '.join(overrides)} overridden ({exc}): see spec.json\n" \
                + text
        write_text(run / rundir.SPEC_CNN, text)
    write_json(run.spec_json, ir)


def _prepare(training: dict, dataset, preprocessor, dtype: str,
             fold: tuple[int, int] | None = None) -> Prepared:
    """Split off the validation set (first draw of the ``data_order`` stream; fold ``i`` of
    ``k`` when ``fold`` is ``(i, k)``), fit the preprocessing on what is left for training
    (unless given) and apply it everywhere, in ``dtype``."""
    data_order = streams(training["seed"])["data_order"]
    n = len(dataset.y_train)
    train_idx, val_idx = (validation_split(n, training["val_split"], data_order) if fold is None
                          else kfold_split(n, fold[1], fold[0], data_order))
    if preprocessor is None:
        preprocessor = Preprocessor.fit(training["preprocess"], dataset.x_train, train_idx)

    def split(x, y, owned: bool = True):
        """The images ``x`` preprocessed (where they are, when ``owned``: a copy taken by
        index) and their labels ``y``."""
        return Split(preprocessor.apply(x, dtype, in_place=owned),
                     np.asarray(y, dtype=np.int64))

    val = split(dataset.x_train[val_idx], dataset.y_train[val_idx]) if len(val_idx) else None
    return Prepared(
        train=split(dataset.x_train[train_idx], dataset.y_train[train_idx]),
        val=val,
        test=split(dataset.x_test, dataset.y_test, owned=False),
        preprocessor=preprocessor,
        data_order=data_order,
    )


def _run_init_steps(model, prepared: Prepared, init_steps: Sequence[InitStep],
                    display: Display) -> None:
    """The init steps (LSUV) of a fresh run, on its preprocessed training split."""
    context = InitContext(model, prepared.train.x, prepared.data_order, display)
    for init_step in init_steps:
        init_step(context)


def check_init_steps(checked: CheckedSpec, dataset, init_steps: Sequence[InitStep],
                     dtype: str) -> None:
    """What a fresh run in ``dtype`` does with its data before its first step, done and
    dropped: split and preprocess ``dataset`` as :func:`train` does, compile the model in
    ``dtype``, run ``init_steps`` on it. ``check --dtype`` calls this for a data file whose
    images it reads, so that an init step ``train --dtype`` would refuse on them (LSUV on
    images of one value throughout: no signal to scale) is refused by ``check``; its
    :class:`RunError` is raised as it is."""
    training = checked.ir["training"]
    prepared = _prepare(training, dataset, None, dtype)
    model = compile_model(checked, training["seed"], dtype)  # no worker processes
    _run_init_steps(model, prepared, init_steps, make_display("none", False))


def _training_model(checked, training: dict, dtype: str):
    """The model to train, its batch's worker processes started (cnnspec.engine.processes):
    forked now, with the data loaded (which they share unchanged) but before the optimizer's
    state and the steps' arrays exist, they keep no copies of those."""
    model = compile_model(checked, training["seed"], dtype)
    model.start_parts(training["batch_size"])
    return model


def _session(checked, model, optimizer, training, prepared: Prepared, run: RunDir,
             options: Options) -> Session:
    callbacks = options.callbacks

    def every_step(step: int, model) -> None:
        for callback in callbacks:
            callback.on_step(step, model)

    return Session(checked=checked, model=model, optimizer=optimizer, training=training,
                   train=prepared.train, val=prepared.val, run=run, display=options.display,
                   data_order=prepared.data_order, dropout_rng=_dropout_rng(model),
                   on_step=every_step if callbacks else None,
                   augment=_augment(training, prepared.preprocessor))


def _augment(training: dict, preprocessor):
    """The training batches' augmentation (None for none): the ``augment`` transforms, their
    random draws from the seed's ``augment`` stream, per epoch and batch."""
    if not training["augment"]:
        return None
    augmenter = Augmenter.for_preprocessor(training["augment"], preprocessor)
    stream = streams(training["seed"])["augment"]

    def augment(x, epoch: int, batch: int):
        return augmenter(x, batch_rng(stream, epoch, batch))

    return augment


def _dropout_rng(model) -> np.random.Generator | None:
    """The model's dropout generator (every dropout layer shares the ``dropout`` stream); its
    state is part of an exact resume."""
    for node in model.nodes:
        rng = getattr(node.layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            return rng
    return None


def _versions() -> dict:
    return {"cnnspec": __version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _command(spec_path, overrides: dict, out, dtype: str) -> str:
    """The ``cnnspec train`` command line that repeats this run, in its ``dtype`` (into ``out``
    when one was given; that folder must then be moved away or deleted first)."""
    words = ["cnnspec", "train", shell_word(str(spec_path)) if spec_path else "SPEC"]
    for key in OVERRIDABLE:
        if key not in overrides:
            continue
        value = overrides[key]
        if key == "data":
            from cnnspec.lang.rewrite import call_text  # how a spec and --data write it

            value = f"npz:{value['path']}" if value.get("name") == "npz" else call_text(value)
        words += ["--" + key.replace("_", "-"), shell_word(str(value))]
    if dtype != DEFAULT_DTYPE:
        words += ["--dtype", dtype]
    if out is not None:
        words += ["--out", shell_word(str(out))]
    return " ".join(words)


def _data_digest(data: dict) -> str:
    """The digest of an npz data setting's file (:func:`cnnspec.data.npz.file_digest`)."""
    from cnnspec.data.npz import file_digest  # NumPy: a run's start and resume only

    return file_digest(data["path"])


def _check_same_data(summary: dict, data: dict, run: RunDir) -> None:
    """A resumed run goes on with the data it started on: refused where its spec's data
    (``data``, what it would load) is another set or file than the one its summary recorded
    at the start (one of the two files edited since), or where its npz file has changed at
    its place (its digest, recorded at the start; a run from before it was recorded goes
    on). A dataset's parameters are held to the network when it loads."""
    started = summary.get("data")
    if started is not None and _setting(started) != _setting(data):
        raise SettingError(
            f"the run's {rundir.SPEC_JSON} trains on {literal(_setting(data))}, but run "
            f"{literal(str(run.path))} started on {literal(_setting(started))} (its "
            f"{rundir.SUMMARY})", hint="one of the two files was changed since: put back the "
            "one that was, or train a new run")
    recorded = summary.get("data_digest")
    if recorded is None or data.get("name") != "npz" or not Path(data["path"]).is_file() \
            or _data_digest(data) == recorded:
        return  # no digest, or no file to take one of (loading the data says what is there)
    path = literal(str(data["path"]))
    raise SettingError(f"the data file {path} has changed since run {literal(str(run.path))} "
                       "started on it; resumed, the run would go on on other data",
                       hint="put the file it started on back in its place, or train a new run "
                       "on the file as it is now")


def _start_summary(ir: dict, dataset, overrides: dict, data_dir, spec_path, out,
                   dtype: str) -> dict:
    return {
        "spec": ir["name"],
        "status": "running",
        "seed": ir["training"]["seed"],
        "data": ir["training"]["data"],
        "data_description": dataset.description,
        # an npz file can change at its place; the built-in and downloaded data cannot
        **({"data_digest": _data_digest(ir["training"]["data"])}
           if ir["training"]["data"]["name"] == "npz" else {}),
        "data_dir": None if data_dir is None else str(data_dir),
        "data_dtype": dataset.x_train.dtype.name,  # see run.data_dtype
        "classes": list(dataset.classes),
        "overrides": {key: overrides[key] for key in OVERRIDABLE if key in overrides},
        "command": _command(spec_path, overrides, out, dtype),
        "dtype": dtype,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": _versions(),
        "diverged": False,
    }


def _train_and_finish(session: Session, position: Position, prepared: Prepared,
                      summary: dict, callbacks: Sequence[Callback]) -> Run:
    run = session.run
    write_json(run.summary, summary)
    started = time.perf_counter()
    try:
        for callback in callbacks:
            callback.on_start(session.model, position.step, run.path)
        try:
            stop_requested = fit(session, position)
        finally:
            for callback in callbacks:
                callback.on_stop(session.model)
    except (Interrupted, Stopped, Diverged) as exc:
        summary["status"] = "diverged" if isinstance(exc, Diverged) else "interrupted"
        summary["diverged"] = isinstance(exc, Diverged)
        summary["message"] = exc.message
        # A diverged run is reported at the step that blew up, a stopped one where it can
        # resume from: the last checkpoint, which a write that failed did not replace.
        _close_summary(summary, position if isinstance(exc, Diverged) else session.saved,
                       started, session.training["monitor"])
        _write_summary_if_possible(run, summary)
        try:
            _end(callbacks, session, position.metrics)
        except KeyboardInterrupt:
            pass  # Ctrl-C again (while drawing, say): skip the rest, keep the resume message
        except NotWritten:
            pass  # the pictures need the room that was missing: the run's error says so
        raise
    try:
        if stop_requested:
            raise KeyboardInterrupt  # pressed while the last epoch was validated
        summary.update(_test_figures(session, prepared.test, position),
                       test_examples=len(prepared.test.y),
                       train_examples=len(prepared.train.y))
        _close_summary(summary, position, started, session.training["monitor"])
        write_json(run.summary, summary)
        _end(callbacks, session, position.metrics)
        summary["status"] = "finished"
        write_json(run.summary, summary)
    except KeyboardInterrupt:
        # Finished only at the end of the block: stopped before (Ctrl-C while drawing), it stays
        # "running" and a resume completes the test figures and the pictures.
        session.display.close()
        raise Interrupted(
            literal(f"interrupted after the last epoch, before the test figures and pictures; "
                    f"every epoch is saved in {run.path}"),
            hint=f"finish it with: {{resume_command:{literal(str(run.path))}}}") from None
    except (NotWritten, MemoryError) as failed:
        session.display.close()
        stopped = stopped_for(failed, f"every epoch is saved in {run.path}", "finish", run.path)
        summary.update(status="interrupted", message=stopped.reason)
        _write_summary_if_possible(run, summary)
        raise stopped from None
    session.model.eval()  # the run's model is for using, as load_run's is
    # the weights whose test figures the summary holds, as load_run(run.path) opens them
    return Run(path=run.path, spec=session.checked, model=session.model,
               metrics=list(position.metrics), summary=summary,
               preprocessor=prepared.preprocessor, classes=list(summary["classes"]),
               weights="best" if position.best_epoch else "last",
               weights_epoch=summary["test_epoch"])


def _test_figures(session: Session, test: Split, position: Position) -> dict:
    """The test split's figures of the weights the run keeps (``test_acc``, ``test_loss``,
    of epoch ``test_epoch``): its best epoch's (best.npz) when it has one, as eval, predict
    and export open it, else its last; and of the last epoch's weights (``last_test_acc``,
    ``last_test_loss``), scored once more only when they are other weights. The model is
    left holding the kept weights, which the run returned holds (the last stay in
    checkpoint.npz, where a resume reads them)."""
    batch = session.training["batch_size"]  # as validation: see loop._end_epoch
    last = score(session.model, test.x, test.y, batch)
    epochs = len(position.metrics)
    kept, epoch = last, position.best_epoch or epochs
    if epoch != epochs:
        # best.npz's weights are read in the room the gradients held (check counts the
        # weights once more at a run's end, cnnspec.check.memory.ending_bytes)
        session.model.forget_gradients()
        load_weights(session.run, session.model, rundir.BEST)
        kept = score(session.model, test.x, test.y, batch)
    return {"test_acc": kept.accuracy, "test_loss": kept.loss, "test_epoch": epoch,
            "last_test_acc": last.accuracy, "last_test_loss": last.loss}


def _write_summary_if_possible(run: RunDir, summary: dict) -> None:
    """Write how the run ended, unless its folder still cannot be written to (the disk is
    full): summary.json then says "running", which resumes as "interrupted" does."""
    with contextlib.suppress(NotWritten):
        write_json(run.summary, summary)


def _close_summary(summary: dict, position: Position, started: float, monitor: str) -> None:
    """The summary's figures of the run so far: ``best_epoch`` (with ``monitor`` and
    ``best_value``) once an epoch was validated, ``stopped_early`` the epoch after which
    ``early_stop`` ended the run (None when it did not)."""
    rows = position.metrics
    summary["epochs_done"] = len(rows)
    summary["steps"] = position.step
    summary["wall_seconds"] = summary.get("wall_seconds", 0.0) + time.perf_counter() - started
    summary["train_seconds"] = sum(row[SECONDS] for row in rows)
    summary["images_per_s"] = (sum(row[IMAGES_PER_S] for row in rows) / len(rows)
                               if rows else None)
    if rows:
        for key in FIGURES:
            summary[f"final_{key}"] = rows[-1][key]
    if position.best_epoch:
        summary.update(best_epoch=position.best_epoch, monitor=monitor,
                       best_value=position.best_value)
    summary["stopped_early"] = position.epoch if position.stopped_early else None
    summary["ended"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _end(callbacks: Sequence[Callback], session: Session, metrics: list[dict]) -> None:
    for callback in callbacks:
        callback.on_end(metrics, session.run.path, session.display)
