"""Checkpoints: the weights, plus everything else an exact resume needs, in one file.

``checkpoint.npz`` holds the model's ``state_dict()`` (``<layer>.weight``, ``<layer>.bias``,
batchnorm ``running_mean``/``running_var``, PyTorch layouts), so other tools can read it as is,
and bookkeeping under keys starting with ``_`` (never weights): ``_step``, the optimizer's
state (momentum buffers, Adam moments and step count) under ``_optimizer/...``, and the
position in training (:class:`Position`) and the dropout generator's state as JSON strings
(``_position``, ``_dropout_rng``). Nested dictionaries are flattened with ``/`` between keys,
because layer names already contain dots.

One file, written to a temporary file and renamed into place, is one atomic unit: a process
killed at any moment leaves either the previous checkpoint or the new one, whole. Runs written
before this layout kept the optimizer state and the position in a second file, ``state.npz``,
next to a checkpoint recording only ``_step``; they are still read (both files must then be
from the same step), and their next save moves them to the one-file layout.
"""
from __future__ import annotations

import json
import reprlib
from dataclasses import asdict, field

import numpy as np

from cnnspec import metrics
from cnnspec.errors import RunError
from cnnspec.metrics import MAY_OVERFLOW
from cnnspec.records import record
from cnnspec.training.files import NUMBER, beyond_float, non_finite_at, read_npz, write_npz
from cnnspec.training.rundir import RunDir

SEP = "/"
STEP_KEY = "_step"  # keys starting with "_" are bookkeeping, not weights
BEST_EPOCH_KEY = "_epoch"  # in best.npz: the epoch (from 1) whose weights it holds
OPTIMIZER_KEY = "_optimizer"
POSITION_KEY = "_position"
DROPOUT_KEY = "_dropout_rng"


def flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dicts of arrays and scalars -> one flat dict of arrays, keys joined by ``/``."""
    flat: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if not value:
                flat[name + SEP] = np.zeros(0)  # keeps an empty dict (no step taken yet)
            flat.update(flatten(value, name + SEP))
        elif value is None:
            flat[name + SEP + "None"] = np.zeros(0)
        else:
            flat[name] = np.asarray(value)
    return flat


def unflatten(flat: dict[str, np.ndarray]) -> dict:
    """The inverse of :func:`flatten`; 0-d arrays come back as Python scalars."""
    tree: dict = {}
    for name, value in flat.items():
        parts = name.split(SEP)
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        leaf = parts[-1]
        if leaf == "":
            continue
        if leaf == "None" and value.size == 0 and len(parts) > 1:
            parent = tree
            for part in parts[:-2]:
                parent = parent[part]
            parent[parts[-2]] = None
            continue
        node[leaf] = value.item() if value.ndim == 0 else value
    return tree


@record
class Position:
    """Where training stands, at a clean point between two steps.

    ``epoch`` is the epoch in progress (0-based) and ``batch`` the next batch of it to run;
    the sums accumulate that epoch's training loss (weighted by batch size) and correct
    predictions so far, so the epoch's metrics come out the same whether or not it was
    interrupted. ``metrics`` holds the rows of the finished epochs. Times are in seconds:
    ``epoch_seconds`` the wall time of the epoch so far, ``step_seconds`` the part spent in
    training steps (for images per second). ``best_epoch`` (from 1; 0 before any) and
    ``best_value`` are the best epoch so far by the ``monitor`` setting (its weights are in
    ``best.npz``), ``bad_epochs`` the epochs since then; ``stopped_early`` is set when
    ``early_stop`` ended the run. ``first_loss`` is the loss of the run's first step (None
    before it), which a blown-up loss is measured against
    (:data:`cnnspec.training.loop.BLOWUP_FACTOR`).
    """

    epoch: int = 0
    batch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    epoch_seconds: float = 0.0
    step_seconds: float = 0.0
    finished: bool = False
    metrics: list = field(default_factory=list)
    best_epoch: int = 0
    best_value: float | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    first_loss: float | None = None

    def next_epoch(self) -> None:
        """Move to the start of the following epoch."""
        self.epoch, self.batch = self.epoch + 1, 0
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        self.epoch_seconds = self.step_seconds = 0.0


# The types each Position field must have in a saved checkpoint.
POSITION_REQUIRED = ("epoch", "batch", "step")
POSITION_TYPES = {
    "epoch": (int,), "batch": (int,), "step": (int,), "loss_sum": NUMBER, "correct": (int,),
    "seen": (int,), "epoch_seconds": NUMBER, "step_seconds": NUMBER, "finished": (bool,),
    "metrics": (list,), "best_epoch": (int,), "best_value": (*NUMBER, type(None)),
    "bad_epochs": (int,), "stopped_early": (bool,), "first_loss": (*NUMBER, type(None)),
}
# The types of each column of a metrics row (``Position.metrics``, one row per epoch): the
# loop reads them back on resume (the plateau schedule the validation losses, the summary the
# seconds), so a row of other types is damage, said before the run goes on.
METRICS_ROW_TYPES = {
    metrics.EPOCH: (int,), metrics.TRAIN_LOSS: NUMBER, metrics.TRAIN_ACC: NUMBER,
    metrics.VAL_LOSS: (*NUMBER, type(None)), metrics.VAL_ACC: (*NUMBER, type(None)),
    metrics.LR: NUMBER, metrics.SECONDS: NUMBER, metrics.IMAGES_PER_S: NUMBER,
}
# The largest count a checkpoint saves: ``_step`` is written as an int64 array.
LARGEST_COUNT = int(np.iinfo(np.int64).max)


def generator_state(rng: np.random.Generator | None) -> dict | None:
    return None if rng is None else rng.bit_generator.state


def set_generator_state(rng: np.random.Generator | None, state: dict | None) -> None:
    if rng is not None and state is not None:
        rng.bit_generator.state = state


def save_checkpoint(run: RunDir, model, optimizer, position: Position,
                    dropout_rng: np.random.Generator | None) -> None:
    """Write ``checkpoint.npz``: the weights and the state of training, as one file."""
    arrays = model.state_arrays()  # written as they are: copies would hold them twice
    arrays[STEP_KEY] = np.asarray(position.step)
    arrays.update(flatten({OPTIMIZER_KEY: optimizer.state_arrays()}))
    # Python's JSON, NaN and Infinity included: a metrics row's overflowed validation loss
    # (metrics.MAY_OVERFLOW) comes back as the same float, so a resumed run replays the
    # plateau schedule as an uninterrupted one; _position refuses one anywhere else.
    arrays[POSITION_KEY] = np.asarray(json.dumps(asdict(position), allow_nan=True))
    # PCG64 states are 128-bit integers: JSON keeps them exact, a NumPy array would not.
    arrays[DROPOUT_KEY] = np.asarray(json.dumps(generator_state(dropout_rng)))
    write_npz(run.checkpoint, arrays)
    if run.state.exists():  # a run from before the one-file layout: its state moved in
        run.state.unlink()


def weights_only(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weight entries of a checkpoint, without the ``_``-prefixed bookkeeping."""
    return {key: value for key, value in arrays.items() if not key.startswith("_")}


def checked_weights(arrays: dict[str, np.ndarray], path, what: str = "checkpoint"
                    ) -> dict[str, np.ndarray]:
    """The weight entries of ``what`` ``path`` (a file of weights cnnspec wrote), each checked
    to hold finite floating point numbers: cnnspec writes nothing else, so an integer,
    boolean, complex or text array is a damaged file, not something to cast; training never
    saves a NaN or an infinity, which diverged.npz keeps apart, and evaluating one would print
    NaN probabilities as if they were a result."""
    weights = weights_only(arrays)
    for key, value in weights.items():
        if value.dtype.kind != "f":
            raise RunError(f"{what} {path}: {key} has dtype {value.dtype}, not the floating "
                           "point numbers cnnspec writes", hint="the file is damaged; train again")
        _check_finite(value, f"{what} {path}: {key}", "the file is damaged; train again")
    return weights


def _check_finite(value: np.ndarray, what: str, hint: str) -> None:
    """Training saves no NaN or infinity (diverged.npz keeps a blown-up step apart): one in a
    saved array is damage, which would otherwise come back as a NaN result or a divergence
    blamed on the learning rate."""
    if value.dtype.kind == "f" and not _all_finite(value):
        raise RunError(f"{what} holds NaN or infinite values", hint=hint)


def _all_finite(value: np.ndarray) -> bool:
    """Whether every number of floating point ``value`` is finite, by its least and its
    largest: a NaN anywhere makes both NaN, an infinity is one of them. Two reductions
    allocate nothing the array's size, where ``np.isfinite(value).all()`` made a boolean of
    every weight (a quarter of a float32 checkpoint's size) while reading it."""
    return value.size == 0 or bool(np.isfinite(value.min()) and np.isfinite(value.max()))


def load_weights(run: RunDir, model, name: str | None = None) -> dict[str, np.ndarray]:
    """Load ``checkpoint.npz`` (or another weights file of the run) into ``model``; returns
    every array of the file (its ``_``-prefixed bookkeeping too)."""
    path = run.checkpoint if name is None else run / name
    arrays = read_npz(path, what="checkpoint")
    put_weights(model, checked_weights(arrays, path), path)
    return arrays


def put_weights(model, weights: dict[str, np.ndarray], path) -> None:
    """Load ``weights`` (read from ``path``) into ``model`` after checking that they fit it:
    the same names and shapes."""
    hint = "the checkpoint was written for a different network; train again"
    state = model.state_arrays()
    expected = set(state)
    missing, extra = expected - set(weights), set(weights) - expected
    if missing or extra:
        raise RunError(
            f"checkpoint {path} does not fit the run's spec "
            f"(missing {sorted(missing)[:4]}, unexpected {sorted(extra)[:4]})", hint=hint)
    for key, value in state.items():
        if np.shape(weights[key]) != np.shape(value):
            raise RunError(
                f"checkpoint {path}: {key} has shape {tuple(np.shape(weights[key]))}, "
                f"the spec needs {tuple(np.shape(value))}", hint=hint)
    model.load_state_dict(weights)


def load_checkpoint(run: RunDir, model, optimizer,
                    dropout_rng: np.random.Generator | None) -> Position:
    """Restore a run's last checkpoint into ``model``, ``optimizer`` and the dropout
    generator; return the position. Reads the one-file layout and the older two-file one."""
    arrays = load_weights(run, model)
    if POSITION_KEY in arrays:
        state, source = arrays, run.checkpoint
        keys = (POSITION_KEY, DROPOUT_KEY, OPTIMIZER_KEY)
    elif run.state.is_file():  # before the one-file layout: the rest is in state.npz
        state, source = read_npz(run.state, what="training state"), run.state
        keys = ("position", "dropout_rng", "optimizer")
    else:  # neither layout: the checkpoint lost its training state
        raise RunError(f"checkpoint {run.checkpoint} has weights but no training state "
                       f"({POSITION_KEY!r})", hint="the file is damaged; this run cannot be "
                       "resumed, but eval and predict can use its weights; train again to go on")
    position, rng_state = _position(state, source, keys)
    if source == run.state and _step(arrays) != position.step:
        raise RunError(f"{run.checkpoint} and {run.state} were saved at different steps",
                       hint="the run was stopped while saving; it cannot be resumed exactly, "
                       "train again")
    saved = unflatten({key: value for key, value in state.items()
                       if key.startswith(keys[2] + SEP)}).get(keys[2], {})
    optimizer.load_state_dict(saved)
    _check_optimizer_state(optimizer.state, model.params(), source)
    try:
        set_generator_state(dropout_rng, rng_state)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"training state in {source}: the dropout generator's state is "
                       f"damaged: {exc!r}",
                       hint="this run cannot be resumed; train again") from None
    return position


def _check_optimizer_state(state: dict, params: dict, source) -> None:
    """Every saved optimizer array belongs to a parameter and, except the per-parameter step
    counts (scalars, integers), has its shape and holds finite floating point numbers."""
    hint = "this run cannot be resumed; train again"
    for kind, arrays in state.items():
        for name, value in arrays.items():
            want = () if kind == "step" else np.shape(params.get(name, ()))
            kinds = "fiu" if kind == "step" else "f"
            if name not in params or value.shape != want or value.dtype.kind not in kinds:
                raise RunError(f"training state in {source}: optimizer {kind} of {name!r} "
                               f"({value.dtype} {value.shape}) does not fit the model",
                               hint=hint)
            _check_finite(value, f"training state in {source}: optimizer {kind} of {name!r}",
                          hint)


def _position(state: dict, source, keys: tuple[str, str, str]) -> tuple[Position, dict | None]:
    """The :class:`Position` and the dropout generator's state, checked field by field."""
    damaged = "this run cannot be resumed; train again"
    try:
        fields = json.loads(str(state[keys[0]]))
        rng_state = json.loads(str(state[keys[1]]))
        position = Position(**fields)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise RunError(f"training state in {source} is incomplete: {exc!r}",
                       hint=damaged) from None
    for name, kind in POSITION_TYPES.items():
        problem = _field_problem(getattr(position, name), kind)
        if problem:
            raise RunError(f"training state in {source}: position field {name!r} is "
                           f"{problem}", hint=damaged)
    overflowed = _non_finite_figure(position.metrics)
    if overflowed:
        where, value = overflowed
        raise RunError(f"training state in {source}: position field 'metrics{where}' is "
                       f"{json.dumps(value)}, not a finite number", hint=damaged)
    problem = _metrics_problem(position.metrics)
    if problem:
        raise RunError(f"training state in {source}: position field {problem}", hint=damaged)
    # Every position ever saved has these: without them the defaults would restart the run
    # at epoch 0 over its trained weights, as if nothing were wrong.
    missing = [name for name in POSITION_REQUIRED if name not in fields]
    if missing:
        raise RunError(f"training state in {source}: the position has no {missing[0]!r}",
                       hint=damaged)
    if not (rng_state is None or isinstance(rng_state, dict)):
        raise RunError(f"training state in {source}: the dropout generator's state is "
                       f"{reprlib.repr(rng_state)}", hint=damaged)
    return position, rng_state


def _field_problem(value, kind: tuple) -> str | None:
    """What is wrong with ``value`` of a saved position, whose type must be one of ``kind``
    (``"-1, below 0"``); None when it is what training saves."""
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kind):
        return reprlib.repr(value)
    if kind == (int,) and value < 0:  # counts and indices: a negative one is damage
        return f"{value}, below 0"
    if kind == (int,) and value > LARGEST_COUNT:  # no run counts this far; unsaveable
        return f"{reprlib.repr(value)}, above {LARGEST_COUNT}"
    # Training saves no NaN or infinity; resumed, one would be summed into the epoch's
    # loss and time, or beat no epoch as the best.
    if float in kind and non_finite_at(value):
        return f"{json.dumps(value)}, not a finite number"
    # JSON's ints have no bound: one past a float's range (a first loss of 1e400 written
    # out in digits) overflowed where the loop sums or scales it, a traceback
    if float in kind and beyond_float(value):
        return f"{reprlib.repr(value)}, beyond a float's range"
    return None


def _metrics_problem(rows: list) -> str | None:
    """Where and how a saved position's metrics rows are not what training writes
    (``'metrics[0]' has no 'epoch'``); None when each row is an object of
    :data:`METRICS_ROW_TYPES`' columns. NaN and infinities are :func:`_non_finite_figure`'s."""
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            return (f"'metrics[{index}]' is {reprlib.repr(row)}, not an object of an epoch's "
                    "figures")
        for column, kind in METRICS_ROW_TYPES.items():
            if column not in row:
                return f"'metrics[{index}]' has no {column!r}"
            value = row[column]
            if non_finite_at(value):
                continue  # _non_finite_figure's to judge: a validation loss may overflow
            problem = _field_problem(value, kind)
            if problem:
                return f"'metrics[{index}].{column}' is {problem}"
    return None


def _non_finite_figure(rows: list) -> tuple[str, float] | None:
    """Where the metrics rows of a saved position hold a NaN or an infinity training never
    records (``[0].train_loss``), and the value; None when each one is finite or a column of
    :data:`cnnspec.metrics.MAY_OVERFLOW`."""
    for index, row in enumerate(rows):
        kept = ({key: value for key, value in row.items() if key not in MAY_OVERFLOW}
                if isinstance(row, dict) else row)
        found = non_finite_at(kept, f"[{index}]")
        if found:
            return found
    return None


def saved_metrics(run: RunDir) -> list[dict] | None:
    """The metrics rows of the run's last checkpoint (its position's: the rows the loop
    writes to metrics.jsonl with each checkpoint, and writes there again when the run
    resumes), or None where the checkpoint records no readable rows (a run from before the
    one-file layout keeps them in state.npz, read by a resume alone)."""
    try:
        rows = json.loads(str(read_npz(run.checkpoint)[POSITION_KEY])).get("metrics")
    except (RunError, KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return None
    if not isinstance(rows, list) or _metrics_problem(rows) or _non_finite_figure(rows):
        return None
    return rows


def steps_into_epoch(arrays: dict) -> int:
    """How many steps of an unfinished epoch a checkpoint's weights (``arrays``, as
    :func:`load_weights` returns them) hold: its position's ``batch``, 0 at an epoch's end
    (or where it records no readable position: eval needs only the weights)."""
    try:
        batch = json.loads(str(arrays[POSITION_KEY])).get("batch", 0)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return 0
    return batch if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0 else 0


def _step(arrays: dict) -> int | None:
    """The checkpoint's ``_step``, or None when it has none or it is not an integer."""
    value = arrays.get(STEP_KEY)
    if value is None or value.shape != () or value.dtype.kind not in "iu":
        return None
    return int(value)
