"""A finished (or interrupted) training run, opened from its folder."""
from __future__ import annotations

import json
import math
import reprlib
from dataclasses import field, replace
from pathlib import Path

import numpy as np

from cnnspec.check.checker import check, refuse
from cnnspec.check.load import read_spec
from cnnspec.check.model import CheckedSpec
from cnnspec.check.training import scores_needed
from cnnspec.compiler import compile_spec
from cnnspec.data import Preprocessor
from cnnspec.data.images import input_batch
from cnnspec.diagnostics import format_error
from cnnspec.dtypes import DEFAULT_DTYPE, DTYPES, UNRECORDED_DATA_DTYPE, UNRECORDED_DTYPE
from cnnspec.engine.overflow import overflow_reported_by_caller
from cnnspec.errors import (
    InputError,
    RunError,
    SpecError,
    SpecErrors,
    WordedError,
    counted,
    literal,
)
from cnnspec.given import given_choice
from cnnspec.ir.spec import Spec
from cnnspec.records import record
from cnnspec.training import rundir
from cnnspec.training.files import NUMBER, beyond_float, intact_jsonl, non_finite_at, read_json
from cnnspec.training.rundir import RunDir, open_run_dir
from cnnspec.training.state import (
    BEST_EPOCH_KEY,
    load_weights,
    saved_metrics,
    steps_into_epoch,
)

WHICH = ("best", "last")  # the weights load_run can open


@record
class Run:
    """A run folder and what it holds, with the model's weights loaded.

    ``metrics`` is one dict per finished epoch (as in ``metrics.jsonl``); ``summary`` is
    ``summary.json``; ``preprocessor`` transforms raw images ``(N, C, H, W)`` in [0, 1] the way
    training did; ``classes[i]`` names output ``i``. ``weights`` says which weights the model
    holds: ``"best"`` (``best.npz``, the best epoch by the ``monitor`` setting, which is
    ``weights_epoch``) or ``"last"`` (``checkpoint.npz``, the last saved). ``metrics_note``
    (a :class:`~cnnspec.errors.WordedError` template) says that ``metrics.jsonl`` is damaged,
    where ``metrics`` were read from instead and how to mend the file; None where it reads.
    """

    path: Path
    spec: CheckedSpec
    model: object
    metrics: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    preprocessor: object = None
    classes: list[str] = field(default_factory=list)
    weights: str = "last"
    weights_epoch: int | None = None
    # "last" weights saved within an epoch (a run stopped by Ctrl-C): its steps done so far
    steps_into_epoch: int = 0
    metrics_note: str | None = None

    @property
    def training(self) -> dict:
        """The effective training settings (the spec's, with the run's overrides)."""
        return self.spec.ir["training"]

    @property
    def input_dtype(self) -> str:
        """The dtype the run's images are read in, by every path that loads them for it
        (:meth:`predict`, ``cnnspec predict`` and ``features``, evaluation): its data's
        (:func:`data_dtype`), so that it reads an image as its training did."""
        return data_dtype(self.summary)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """Raw images (N, C, H, W) in [0, 1] as the model takes them: preprocessed as in
        training, in the model's dtype."""
        return self.preprocessor.apply(images, self.model.dtype)

    def weights_text(self) -> str:
        """Which weights the model holds, as eval, filters and features say it: ``best epoch
        7 of 10 by val_loss`` or ``last epoch (10 of 10)``; the epochs counted are those
        trained so far."""
        done = len(self.metrics)
        if self.weights == "best":
            monitor = self.summary.get("monitor") or self.training["monitor"]
            stopped = self.summary.get("stopped_early")
            why = f", stopped early at epoch {stopped}" if stopped else ""
            return f"best epoch {self.weights_epoch} of {done} by {monitor}{why}"
        if self.steps_into_epoch:  # saved within an epoch (stopped by Ctrl-C)
            return (f"last checkpoint, {counted(self.steps_into_epoch, 'step')} into epoch "
                    f"{done + 1} (after {counted(done, 'finished epoch')})")
        if done == 0:
            return "the initial weights (no epoch finished)"
        return f"last epoch ({done} of {done})"

    def unusable_scores(self, what: str, values: str = "scores") -> RunError:
        """The error for NaN or infinite ``values`` (its scores, or a layer's feature maps) on
        ``what``: the weights are finite (the reader checks) and so are the inputs, so the
        run's preprocessing overflowed or its weights are damaged in a way no one array shows
        (a negative running variance, weights whose products overflow). Printed or drawn,
        such values would pass for a result."""
        return RunError(f"the run's network gives NaN or infinite {values} for {what}",
                        hint=f"its preprocessing record {self.path / rundir.PREPROCESS} or "
                        "weights may be damaged; train again")

    def predict(self, images) -> np.ndarray:
        """(N, K) class probabilities (float64) for raw images (N, C, H, W) in [0, 1] (or
        one image (C, H, W), one row), preprocessed as in training and run through the model
        in eval mode; ``classes[k]`` names column k. ``images`` is read as ``cnnspec
        predict`` reads a ``.npy`` array (:func:`cnnspec.data.images.input_batch`: any
        array-like, integers 0..255 divided by 255); NaN, infinite or out-of-range values
        and a shape the model does not take are an :class:`InputError`."""
        # a float64 run's k/255 is not rounded to float32 first
        x = input_batch(images, tuple(self.spec.input_shape), dtype=self.input_dtype)
        if not len(x):  # no image: no row (the engine takes at least one)
            return np.zeros((0, len(self.classes)))
        self.model.eval()
        # Damaged weights can overflow into NaN scores: callers report them (unusable_scores)
        # rather than NumPy's warnings.
        with overflow_reported_by_caller():
            return self._probabilities(self.model.forward(self.prepare(x)))

    def _probabilities(self, out: np.ndarray) -> np.ndarray:
        # A softmax output layer already gives probabilities and a log_softmax one their logs;
        # otherwise the outputs are logits.
        kind = self.spec.by_name[self.spec.ir["output"]].kind
        if kind == "softmax":
            return out.astype(np.float64)
        if kind == "log_softmax":
            return np.exp(out.astype(np.float64))
        if out.shape[1] == 1:  # one logit for 2 classes (the bce loss): [1 - p, p]
            p = 0.5 * (1 + np.tanh(0.5 * out[:, 0].astype(np.float64)))
            return np.stack([1 - p, p], axis=1)
        return softmax(out)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) scores, computed in float64 after subtracting the max."""
    z = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_run(path, which: str = "best", *, which_taken: bool = True) -> Run:
    """Open a run folder: its resolved spec, metrics, summary and weights: with ``which``
    ``"best"`` those of its best epoch (``best.npz``) when it has one (a run with a validation
    split), else the last checkpoint's; with ``"last"`` the last checkpoint's.
    ``which_taken``: whether the caller can be given ``which`` (filters, features and export
    open a run's default weights alone), which a hint then names (:func:`best_epoch`)."""
    which = given_choice(which, "which", WHICH, "last")
    run = open_run_dir(rundir.given_run_folder(path, "path"))
    try:
        summary, unreadable = read_summary(run), None
    except RunError as exc:  # said after the spec and the checkpoint are checked, as before
        summary, unreadable = {}, exc
    dtype = summary.get("dtype", UNRECORDED_DTYPE)
    checked = checked_run_spec(run, dtype)
    model = compile_model(checked, checked.ir["training"]["seed"], dtype)
    into = 0
    if which == "best" and (run / rundir.BEST).is_file():
        epoch = best_epoch(load_weights(run, model, rundir.BEST), run / rundir.BEST,
                           which_taken)
    else:
        into = steps_into_epoch(load_weights(run, model))
        which, epoch = "last", None
    model.eval()
    if unreadable is not None:
        raise unreadable
    if which == "last":
        epoch = summary.get("epochs_done")
    metrics, metrics_note = read_metrics(run, summary)
    return Run(
        path=run.path,
        spec=checked,
        model=model,
        metrics=metrics,
        summary=summary,
        preprocessor=read_preprocessor(run),
        classes=run_classes(summary, checked, run.summary),
        weights=which,
        weights_epoch=epoch,
        steps_into_epoch=into,
        metrics_note=metrics_note,
    )


def read_metrics(run: RunDir, summary: dict) -> tuple[list[dict], str | None]:
    """The run's metrics rows (``metrics.jsonl``) and None; where that file is damaged, the
    rows of its checkpoint (the same rows), else those of the file before its damage, and
    a note (a :class:`~cnnspec.errors.WordedError` template) saying so and how to mend it.
    Evaluating, predicting or exporting needs the weights: damaged metrics lose no work."""
    rows, damage = intact_jsonl(run.metrics)
    if damage is None:
        return rows, None
    saved = saved_metrics(run)
    if saved is not None:
        rows, read = saved, f"its rows were read from {run.checkpoint}"
    else:
        read = f"{counted(len(rows), 'row')} read from before the damage"
    return rows, (literal(f"{rundir.METRICS} is damaged ({damage.message}); {read}; ")
                  + _metrics_mend(run, summary))


def _metrics_mend(run: RunDir, summary: dict) -> str:
    """How a damaged ``metrics.jsonl`` of ``run`` is mended (a WordedError template): a run
    that can go on writes it again from its checkpoint when resumed (training saves it with
    each checkpoint); a finished one has its rows in ``metrics.csv`` too."""
    path = literal(str(run.path))
    if summary.get("status") in ("interrupted", "running") and not summary.get("stopped_early"):
        return f"`{{resume_command:{path}}}` writes it again"
    return literal(f"{run / rundir.METRICS_CSV} holds the same rows")


def read_preprocessor(run: RunDir) -> Preprocessor:
    """The run's preprocessing record (``preprocess.json``); a damaged one is a
    :class:`RunError` naming the file."""
    path = run / rundir.PREPROCESS
    record = read_json(path, what="preprocessing record")
    try:
        return Preprocessor.from_dict(record)
    except RunError as exc:
        raise RunError(f"{path}: {exc.message}", hint=exc.hint) from None


# A damaged spec.json may hold hundreds of errors (every field of a wrong type): the first few
# say what happened to the file.
SHOWN_ERRORS = 3


def run_spec(run: RunDir) -> Spec:
    """The run's resolved spec, read and validated from its ``spec.json``. cnnspec wrote the
    file after checking it, so a spec.json that is not valid IR is a damaged run folder (a
    :class:`RunError`, exit 1, as for the run's other files), not a mistake in what was asked."""
    try:
        return read_spec(run.spec_json)
    except (SpecError, SpecErrors, InputError) as exc:  # InputError: larger than any spec
        raise _damaged_spec(run, exc) from None


def checked_run_spec(run: RunDir, dtype: str | None = None, for_training: bool = False
                     ) -> CheckedSpec:
    """:func:`run_spec`, checked for ``dtype`` (default: the run's own, :func:`run_dtype`;
    ``for_training``: that its training step in ``dtype`` fits this machine). A spec that
    checked when the run was trained and no longer does is damage, except a training step
    beyond this machine's memory: that is the request's (the run was trained elsewhere), left
    for the CLI to answer as a spec error."""
    spec = run_spec(run)
    dtype = run_dtype(run) if dtype is None else dtype
    try:
        return check(spec, dtype=dtype, for_training=for_training)
    except SpecErrors as exc:
        if for_training and _checks_for_use(spec, dtype):
            raise
        raise _damaged_spec(run, exc) from None


def run_dtype(run: RunDir) -> str:
    """The dtype ``run`` was trained in, from its summary: float32 for a run from before the
    setting, or whose summary cannot be read (a damage said where the summary is used)."""
    try:
        return read_summary(run).get("dtype", UNRECORDED_DTYPE)
    except RunError:
        return UNRECORDED_DTYPE


def data_dtype(summary: dict) -> str:
    """The dtype a run's images were loaded in, from its ``summary``: its model's dtype since
    that is recorded (``data_dtype``), float32 before (a float64 run then loaded float32 images
    and widened them: read so again, resumed, it trains on the values it trained on)."""
    return summary.get("data_dtype", UNRECORDED_DATA_DTYPE)


def _checks_for_use(spec: Spec, dtype: str) -> bool:
    try:
        refuse(spec, dtype)
    except SpecErrors:
        return False
    return True


def _damaged_spec(run: RunDir, exc: SpecError | SpecErrors | InputError) -> RunError:
    """The :class:`RunError` for a run's ``spec.json`` that ``exc`` refused: its first errors,
    located in the file, without their hints (which would suggest editing the spec)."""
    if isinstance(exc, InputError):
        errors, shown = [], [exc.message]
    else:
        errors = [e for e in (exc.errors if isinstance(exc, SpecErrors) else [exc])
                  if e.severity == "error"]
        shown = [format_error(replace(e, hint=None, file=e.file or str(run.spec_json)))
                 for e in errors[:SHOWN_ERRORS]]
    if len(errors) > SHOWN_ERRORS:
        shown.append(f"... and {len(errors) - SHOWN_ERRORS} more")
    source = run / rundir.SPEC_CNN
    again = (f" (`{{train_command:{literal(str(source))}}}`: the spec the run was trained "
             "from)") if source.is_file() else ""
    return WordedError(literal(f"run spec {run.spec_json} is damaged:\n" + "\n".join(shown)),
                       hint=f"the file is damaged; train again{again}")


def as_checked(spec, dtype: str = DEFAULT_DTYPE) -> CheckedSpec:
    """``spec`` itself if checked already, else the spec loaded and checked from that path
    (for weights in ``dtype``), to be used, not trained: a training process that would not fit
    this machine is no error (a run trained elsewhere is evaluated here)."""
    if isinstance(spec, CheckedSpec):
        return spec
    return check(read_spec(str(spec)), dtype=dtype, for_training=False)


# The types of the summary.json fields a run is opened or resumed with (a missing field is
# fine: older runs lack some); anything else is a damaged file, said before it is used.
SUMMARY_TYPES = {
    "status": (str,), "dtype": (str,), "data_dtype": (str,), "data_dir": (str, type(None)),
    "classes": (list,), "resumed": (int,), "overrides": (dict,), "extended": (list,),
    "epochs_done": (int,), "steps": (int,), "wall_seconds": NUMBER, "train_seconds": NUMBER,
    "stopped_early": (int, type(None)), "best_epoch": (int,), "monitor": (str,),
    "best_value": (*NUMBER, type(None)), "test_acc": NUMBER, "test_loss": (*NUMBER, type(None)),
    "test_examples": (int,), "train_examples": (int,), "diverged": (bool,), "command": (str,),
    # test_acc and test_loss are of the kept weights, epoch test_epoch's, and last_test_* of
    # the last epoch's; a run from before test_epoch was recorded has the last epoch's alone
    "test_epoch": (int,), "last_test_acc": NUMBER, "last_test_loss": (*NUMBER, type(None)),
    # the data setting the run trained on (its last report names it) and, for an npz file,
    # the digest a resume compares the file with (absent from runs of other data)
    "data": (dict,), "data_digest": (str,),
}
# The least each count or epoch number of summary.json can be (epochs count from 1); below
# it the file is damaged, and a negative epoch would name none of the run's.
SUMMARY_LEAST = {"resumed": 0, "epochs_done": 0, "steps": 0, "stopped_early": 1,
                 "best_epoch": 1, "test_epoch": 1, "test_examples": 0, "train_examples": 1}
# Written into every summary from the start of a run (the first checkpoint comes after it),
# by every version of cnnspec train: a summary without them is damaged, not old.
SUMMARY_REQUIRED = ("classes",)


def _damaged_summary(message: str) -> WordedError:
    """The error for a ``summary.json`` that is not what training writes (``message``)."""
    return WordedError(literal(message), hint="the file is damaged; a run folder written by "
                       "`{train_command}` has the original")


def read_summary(run: RunDir) -> dict:
    """``summary.json`` of ``run``, its fields' types checked (see :data:`SUMMARY_TYPES`)."""
    summary = read_json(run.summary, what="run summary")
    if not isinstance(summary, dict):
        raise _damaged_summary(f"run summary {run.summary} holds {type(summary).__name__} "
                               f"{reprlib.repr(summary)}, not an object of the run's figures")
    problem = summary_problem(summary)
    if problem:
        raise _damaged_summary(f"run summary {run.summary}: {problem}")
    missing = [key for key in SUMMARY_REQUIRED if key not in summary]
    if missing:
        raise _damaged_summary(f"run summary {run.summary} has no {missing[0]!r}")
    return summary


def summary_problem(summary: dict) -> str | None:
    """What is wrong with the fields of the object a ``summary.json`` holds (``"'steps' is
    -1, below 0"``); None when each is what training writes (see :data:`SUMMARY_TYPES`). A
    sweep's cell summary is a run's summary too."""
    non_finite = non_finite_at(summary)
    if non_finite:  # shown later, it would pass for a figure; summed on resume, spread
        where, value = non_finite
        return f"{where!r} is {json.dumps(value)}, not a finite number"
    for key, kinds in SUMMARY_TYPES.items():
        if key not in summary:
            continue
        value = summary[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return (f"{key!r} is {reprlib.repr(value)}, not "
                    f"{' or '.join(_type_name(k) for k in kinds)}")
        if key in SUMMARY_LEAST and value is not None and value < SUMMARY_LEAST[key]:
            return f"{key!r} is {value}, below {SUMMARY_LEAST[key]}"
        if float in kinds and beyond_float(value):  # summed on resume, shown with decimals
            return f"{key!r} is {reprlib.repr(value)}, beyond a float's range"
    for key in ("dtype", "data_dtype"):
        if summary.get(key, DEFAULT_DTYPE) not in DTYPES:
            return (f"{key!r} is {reprlib.repr(summary[key])}, not one of "
                    f"{', '.join(DTYPES)}")
    if not all(isinstance(name, str) for name in summary.get("classes", [])):
        return "'classes' must be a list of names"
    return None


def tested_epoch(summary: dict) -> int | None:
    """The epoch whose weights ``summary``'s ``test_acc`` scores, those the run keeps: its
    ``test_epoch``. A summary written before test_epoch was scored the last epoch's weights,
    which are the kept ones where no earlier epoch validated best (no ``best_epoch``, or the
    last): then that epoch. None without a ``test_acc`` (a diverged run) or where an earlier
    epoch's weights are kept: see :func:`tests_other_weights`."""
    if "test_acc" not in summary:
        return None
    if "test_epoch" in summary:
        return summary["test_epoch"]
    last = summary.get("epochs_done")
    return last if (summary.get("best_epoch") or last) == last else None


def tests_other_weights(summary: dict) -> bool:
    """Whether ``summary`` was written before a run's test figures were of the weights it
    keeps, and its ``test_acc`` is of other ones: the last epoch's, where an earlier epoch
    validated best and best.npz holds that epoch's. Averaged with the test accuracies of
    runs recorded since, it would mix two measures."""
    return "test_acc" in summary and tested_epoch(summary) is None


def run_fold(summary: dict, run: RunDir) -> tuple[int, int] | None:
    """The k-fold split a run was trained on, ``(fold, folds)`` with ``fold`` 0-based, from
    the ``cell`` a sweep's ``--keep-weights`` records (``fold`` counted from 1 there); None for
    a run trained on its ``val_split``. Resumed, the run must validate on the same images."""
    cell = summary.get("cell")
    if cell is None or isinstance(cell, dict) and cell.get("folds") is None:
        return None
    fold, folds = (cell.get("fold"), cell.get("folds")) if isinstance(cell, dict) else (0, 0)
    whole = all(isinstance(n, int) and not isinstance(n, bool) for n in (fold, folds))
    if not whole or not 1 <= fold <= folds or folds < 2:
        raise WordedError(literal(f"run summary {run.summary}: 'cell' is {reprlib.repr(cell)}, "
                                  "not a sweep cell's fold (fold 1..folds of at least 2 folds)"),
                          hint="the file is damaged; a run folder written by `{sweep_command} "
                               "--keep-weights` has the original")
    return fold - 1, folds


def run_classes(summary: dict, checked: CheckedSpec, path) -> list[str]:
    """The class names of a run's outputs, distinct and as many as the model's scores are
    for (one per score, or two for the bce loss's one logit): a summary that names more,
    fewer or the same twice would put a probability under another class's name, or drop
    one; the run is damaged."""
    classes, outputs = list(summary["classes"]), math.prod(checked.output_shape)
    fits = scores_needed(checked.ir["training"]["loss"], len(classes)) == outputs
    if not fits or len(set(classes)) != len(classes):
        raise RunError(f"{path}: 'classes' names {len(classes)} classes ({len(set(classes))} "
                       f"distinct), but the model gives {counted(outputs, 'score')} for them",
                       hint="the run's files may be damaged; train again")
    return classes


def best_epoch(arrays: dict, path, which_taken: bool = True) -> int:
    """The epoch (from 1) whose weights ``best.npz`` (at ``path``) holds, from its
    ``_epoch``; a damaged one is told to use the last checkpoint's weights as the caller can:
    by ``which`` where it is given it (``which_taken``), else by moving the file away (a run
    without best.npz opens with the last checkpoint's)."""
    value = arrays.get(BEST_EPOCH_KEY)
    if value is None or value.shape != () or value.dtype.kind not in "iu" or value < 1:
        last = ("use {which:last} for the last checkpoint's weights" if which_taken else
                "move it out of the run folder to use the last checkpoint's weights")
        raise WordedError(literal(f"{path}: '{BEST_EPOCH_KEY}' is missing or not an epoch "
                                  "number (from 1)"),
                          hint=f"the file is damaged; {last}, or train again")
    return int(value)


def _type_name(kind: type) -> str:
    return {type(None): "null", str: "a string", int: "an integer", float: "a number",
            list: "a list", dict: "an object", bool: "true/false"}[kind]


def compile_model(checked: CheckedSpec, seed: int, dtype: str = DEFAULT_DTYPE):
    """The model of ``checked`` in ``dtype`` with the initial weights of ``seed``."""
    return compile_spec(checked, seed=seed, dtype=dtype)
