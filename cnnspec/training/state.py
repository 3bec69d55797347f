"""Checkpoints: the weights, plus everything else an exact resume needs.

``checkpoint.npz`` holds the model's ``state_dict()`` (``<layer>.weight``, ``<layer>.bias``,
batchnorm ``running_mean``/``running_var``, PyTorch layouts), so other tools can read it as is,
plus one bookkeeping key, ``_step`` (keys starting with ``_`` are never weights).
``state.npz`` holds the rest: the optimizer's state (momentum buffers, Adam moments and step
count) under ``optimizer/...``, the position in training (:class:`Position`) and the dropout
generator's state as JSON strings. Nested dictionaries are flattened with ``/`` between keys,
because layer names already contain dots.

Both files record the step count (``_step``, and the position's ``step``): the files
are written one after the other, so a process killed between the two writes leaves them
disagreeing, and a resume then refuses rather than continuing from a mix of two points.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from cnnspec.errors import RunError
from cnnspec.training.files import read_npz, write_npz
from cnnspec.training.rundir import RunDir

SEP = "/"
STEP_KEY = "_step"  # keys starting with "_" are bookkeeping, not weights
BEST_EPOCH_KEY = "_epoch"  # in best.npz: the epoch (from 1) whose weights it holds


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


@dataclass
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
    ``early_stop`` ended the run.
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

    def next_epoch(self) -> None:
        """Move to the start of the following epoch."""
        self.epoch, self.batch = self.epoch + 1, 0
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        self.epoch_seconds = self.step_seconds = 0.0


def generator_state(rng: np.random.Generator | None) -> dict | None:
    return None if rng is None else rng.bit_generator.state


def set_generator_state(rng: np.random.Generator | None, state: dict | None) -> None:
    if rng is not None and state is not None:
        rng.bit_generator.state = state


def save_checkpoint(run: RunDir, model, optimizer, position: Position,
                    dropout_rng: np.random.Generator | None) -> None:
    """Write ``checkpoint.npz`` (weights) then ``state.npz`` (everything else)."""
    weights = dict(model.state_dict())
    weights[STEP_KEY] = np.asarray(position.step)
    write_npz(run.checkpoint, weights)
    arrays = flatten({"optimizer": optimizer.state_dict()})
    arrays["position"] = np.asarray(json.dumps(asdict(position)))
    # PCG64 states are 128-bit integers: JSON keeps them exact, a NumPy array would not.
    arrays["dropout_rng"] = np.asarray(json.dumps(generator_state(dropout_rng)))
    write_npz(run.state, arrays)


def weights_only(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weight entries of a checkpoint, without the ``_``-prefixed bookkeeping."""
    return {key: value for key, value in arrays.items() if not key.startswith("_")}


def load_weights(run: RunDir, model, name: str | None = None) -> dict[str, np.ndarray]:
    """Load ``checkpoint.npz`` (or another weights file of the run) into ``model``; returns
    every array of the file (its ``_``-prefixed bookkeeping too)."""
    path = run.checkpoint if name is None else run / name
    arrays = read_npz(path, what="checkpoint")
    weights = weights_only(arrays)
    state = model.state_dict()
    expected = set(state)
    missing, extra = expected - set(weights), set(weights) - expected
    if missing or extra:
        raise RunError(
            f"checkpoint {path} does not fit the run's spec "
            f"(missing {sorted(missing)[:4]}, unexpected {sorted(extra)[:4]})",
            hint="the checkpoint was written for a different network; train again")
    for key, value in state.items():
        if np.shape(weights[key]) != np.shape(value):
            raise RunError(
                f"checkpoint {path}: {key} has shape {tuple(np.shape(weights[key]))}, "
                f"the spec needs {tuple(np.shape(value))}",
                hint="the checkpoint was written for a different network; train again")
    model.load_state_dict(weights)
    return arrays


def load_state(run: RunDir, optimizer, dropout_rng: np.random.Generator | None) -> Position:
    """Restore the optimizer and the dropout generator from ``state.npz``; return the position."""
    arrays = read_npz(run.state, what="training state")
    try:
        position = Position(**json.loads(str(arrays.pop("position"))))
        rng_state = json.loads(str(arrays.pop("dropout_rng")))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"training state {run.state} is incomplete: {exc}",
                       hint="this run cannot be resumed; train again") from exc
    saved_step = read_npz(run.checkpoint).get(STEP_KEY)
    if saved_step is None or int(saved_step) != position.step:
        raise RunError(f"{run.checkpoint} and {run.state} were saved at different steps",
                       hint="the run was stopped while saving; it cannot be resumed exactly, "
                       "train again")
    optimizer.load_state_dict(unflatten(arrays).get("optimizer", {}))
    set_generator_state(dropout_rng, rng_state)
    return position
