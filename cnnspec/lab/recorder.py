"""``cnnspec train --stats N``: the per-layer statistics of ``init-report``, every N steps of
training, into the run folder (fastai's ActivationStats idea, for any spec).

The trainer calls :meth:`StatsRecorder.on_step` after each optimisation step. Keeping every
layer's output costs memory, so the model records only during the steps that are measured: after
step ``s`` the recorder switches ``model.record`` on when step ``s + 1`` is one to measure, and
off again once it has read it. Step 0 is the batch before the first update, when the init alone
shapes the signal. Each measured step appends one JSON line to ``stats.jsonl``::

    {"step": 10, "layers": [{"name": "conv1", "kind": "conv", "act_std": ..., ...}, ...]}

with the fields of :class:`cnnspec.lab.stats.LayerStats`. The weights seen are those after the
step's update; the activations and gradients those of the step's own forward and backward pass.
"""
from __future__ import annotations

from pathlib import Path

STATS_FILE = "stats.jsonl"
STATS_PLOT = "stats.png"


class StatsRecorder:
    """Write per-layer statistics every ``every`` steps to ``<run_dir>/stats.jsonl``."""

    def __init__(self, run_dir: str | Path, every: int) -> None:
        if every < 1:
            raise ValueError(f"the statistics interval must be at least 1 step, got {every}")
        self.path = Path(run_dir) / STATS_FILE
        self.plot_path = Path(run_dir) / STATS_PLOT
        self.every = every
        self.records = 0

    def wants(self, step: int) -> bool:
        """Whether step ``step`` (counted from 0) is measured."""
        return step % self.every == 0

    def start(self, model, step: int = 0) -> None:
        """Before the first step to run (``step``; not 0 when a run is resumed)."""
        model.record = self.wants(step)

    def on_step(self, step: int, model) -> None:
        """After step ``step``: write its statistics if it was measured, and arm the next."""
        if self.wants(step) and getattr(model, "record", False):
            self._write(step, model)
        model.record = self.wants(step + 1)

    def finish(self, model=None) -> Path | None:
        """Stop recording and draw ``stats.png``; returns its path (None if nothing recorded)."""
        from cnnspec.lab.plots import plot_training_stats

        if model is not None:
            model.record = False
        records = read_stats(self.path)
        if not records:
            return None
        return plot_training_stats(records, self.plot_path, title="per-layer statistics")

    def _write(self, step: int, model) -> None:
        from cnnspec.lab.jsonout import dumps
        from cnnspec.lab.probe import collect
        # The model does not keep its input, so act_ratio is left out (None) here.
        rows = [row.to_dict() for row in collect(model, input_std=None)]
        with self.path.open("a", encoding="utf-8") as f:
            f.write(dumps({"step": step, "layers": rows}, indent=None) + "\n")
        self.records += 1


def read_stats(path: str | Path) -> list[dict]:
    """The records of a ``stats.jsonl`` file ([] when there is none)."""
    import json

    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
