"""``cnnspec train --stats N``: the per-layer statistics of ``init-report``, every N steps of
training, into the run folder (fastai's ActivationStats idea, for any spec).

A training callback (:class:`cnnspec.training.callbacks.Callback`): the trainer calls
:meth:`StatsRecorder.on_step` after each optimisation step. Keeping every
layer's output costs memory, so the model records only during the steps that are measured: after
step ``s`` the recorder switches ``model.record`` on when step ``s + 1`` is one to measure, and
off again once it has read it. Step 0 is the batch before the first update, when the init alone
shapes the signal. Each measured step appends one JSON line to ``stats.jsonl``::

    {"step": 10, "layers": [{"name": "conv1", "kind": "conv", "act_std": ..., ...}, ...]}

with the fields of :class:`cnnspec.lab.stats.LayerStats`. The weights seen are those after the
step's update; the activations and gradients those of the step's own forward and backward pass.

An epoch's short last batch is not measured; the step after it is, in its place. The loss is
the batch's mean, so each value's gradient scales as 1 / (batch size): 13 images where the
others hold 64 drew a fivefold spike in every layer's gradient std, a step like any other.
"""
from __future__ import annotations

import json
from pathlib import Path

from cnnspec.ir.training_catalogue import refuse_count
from cnnspec.lab import model_access
from cnnspec.lab.jsonout import dumps
from cnnspec.lab.plots import plot_training_stats
from cnnspec.lab.probe import collect, lasting_alike
from cnnspec.render.curves import run_title
from cnnspec.training.callbacks import Callback

STATS_FILE = "stats.jsonl"
STATS_PLOT = "stats.png"


class StatsRecorder(Callback):
    """Write per-layer statistics every ``every`` steps to ``<run folder>/stats.jsonl`` and
    draw them into ``stats.png`` when training stops."""

    records_steps = True

    def __init__(self, every: int) -> None:
        # `every` is the library's stats_every=, the command line's --stats
        self.every = refuse_count("stats_every", every, 1,
                                  "e.g. {stats_every:50} records statistics every 50 steps")
        self.path: Path | None = None
        self.records = 0
        self.lasting: dict[str, int] = {}  # lasting_alike of the model's spec
        self.batch = 0  # the largest batch measured: a smaller one is an epoch's last
        self.deferred = False  # a step to measure fell on a short batch: measure the next

    def wants(self, step: int) -> bool:
        """Whether step ``step`` (counted from 0) is measured."""
        return step % self.every == 0

    def on_start(self, model, step: int, run_dir: Path) -> None:
        """Before the first step to run (``step``; not 0 when a run is resumed)."""
        self.path = Path(run_dir) / STATS_FILE
        # a fact of the spec, not of the weights: once per run, not at each recording
        self.lasting = lasting_alike(model_access.checked_of(model))
        self.batch, self.deferred = 0, False
        model.record = self.wants(step)

    def on_step(self, step: int, model) -> None:
        """After step ``step``: write its statistics if it was measured (or put them off to
        the next step where its batch was a short one), and arm the next."""
        if (self.wants(step) or self.deferred) and getattr(model, "record", False):
            batch = model_access.recorded_batch(model)
            self.deferred = batch < self.batch
            if not self.deferred:
                self.batch = batch
                self._write(step, model)
        model.record = self.deferred or self.wants(step + 1)

    def on_stop(self, model) -> None:
        """Stop recording and draw ``stats.png`` (when anything was recorded)."""
        model.record = False
        records = read_stats(self.path)
        if records:
            name = model.checked.spec.name if model.checked is not None else None
            plot_training_stats(records, self.path.with_name(STATS_PLOT),
                                title=run_title(self.path.parent, name, "per-layer statistics"))

    def _write(self, step: int, model) -> None:
        # The model does not keep its input, so act_ratio is left out (None) here.
        rows = [row.to_dict() for row in collect(model, None, self.lasting)]
        with self.path.open("a", encoding="utf-8") as f:
            f.write(dumps({"step": step, "layers": rows}, indent=None) + "\n")
        self.records += 1


def read_stats(path: str | Path) -> list[dict]:
    """The records of a ``stats.jsonl`` file ([] when there is none)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
