"""How other parts of cnnspec take part in a training run without training importing them.

Training is the lowest of the three packages that work on whole runs: the lab and render sit
above it and join a run in two ways, given to :func:`cnnspec.training.api.train` by whoever
composes the run (the ``cnnspec.train`` facade, ``cnnspec compare``):

- an **init step** changes the freshly compiled weights before the first step, on training
  data (LSUV, :mod:`cnnspec.lab.lsuv`); a resumed run keeps the weights it saved instead;
- a **callback** hears of the run as it goes (the ``--stats`` recorder of
  :mod:`cnnspec.lab.recorder`, the curves of :mod:`cnnspec.render.curves`).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnspec.errors import SettingError
from cnnspec.given import given_callable, shown
from cnnspec.records import record
from cnnspec.training.batches import epoch_order
from cnnspec.training.progress import Display


class Callback:
    """Hooks into a training run, called in the order the callbacks were given. Each hook here
    does nothing; a callback overrides the ones it needs."""

    # Whether the callback records steps (model.record), which keeps every layer's output and
    # gradient: the trainer counts that memory before it starts (check does not know of it).
    records_steps = False

    def on_start(self, model, step: int, run_dir: Path) -> None:
        """Before the first step this call trains (``step``: not 0 when a run is resumed)."""

    def on_step(self, step: int, model) -> None:
        """After optimizer step ``step`` (counted from 0). A ``KeyboardInterrupt`` raised here
        stops training as Ctrl-C does: at this clean point, with a checkpoint saved."""

    def on_stop(self, model) -> None:
        """The loop has stopped: finished, interrupted, diverged or failed."""

    def on_end(self, metrics: list[dict], run_dir: Path, display: Display) -> None:
        """After the run's summary is written, for a finished, interrupted or diverged run;
        ``metrics`` holds one record per finished epoch. In an interrupted or diverged run a
        ``KeyboardInterrupt`` here (Ctrl-C again) is ignored."""


# What a training run calls on each of its callbacks.
HOOKS = ("on_start", "on_step", "on_stop", "on_end")


def checked_callbacks(callbacks) -> list[Callback]:
    """``callbacks`` as a list, each of them checked to have every hook (:class:`Callback`
    has them all), before anything of a run is made: else a :class:`SettingError` naming
    ``callbacks`` (an object without ``on_start`` failed as the run began, leaving its folder
    "running")."""
    items = None if isinstance(callbacks, (str, bytes)) else _listed(callbacks)
    wrong = callbacks if items is None else next(
        (c for c in items if not all(callable(getattr(c, hook, None)) for hook in HOOKS)), None)
    if items is None or wrong is not None:
        what = "a list of Callback objects" if items is None else "Callback objects"
        raise SettingError(f"{{callbacks}} takes {what} (cnnspec.training.callbacks), not "
                           f"{shown(wrong)}", invalid=True,
                           hint="subclass Callback and override the hooks you need, or give a "
                                "function of (step, model) as on_step=")
    return items


def _listed(values) -> list | None:
    try:
        return list(values)
    except TypeError:
        return None


class StepHook(Callback):
    """A plain function ``hook(step, model)`` called after every step, as a callback."""

    def __init__(self, hook: Callable[[int, object], None]) -> None:
        self.hook = given_callable(hook, "on_step", "(step, model)")

    def on_step(self, step: int, model) -> None:
        self.hook(step, model)


@record
class InitContext:
    """What an init step works with: the compiled model of a fresh run, its preprocessed
    training split, the ``data_order`` stream, and the run's display."""

    model: object
    x_train: np.ndarray
    data_order: np.random.Generator
    display: Display

    def first_batch(self, n: int) -> np.ndarray:
        """The first ``n`` training images in the order of the first epoch."""
        order = epoch_order(self.data_order, 0, len(self.x_train))
        return self.x_train[order[:n]]


InitStep = Callable[[InitContext], None]
