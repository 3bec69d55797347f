"""Learning-rate schedules, per epoch (epochs count from 0), as PyTorch's schedulers.

Closed forms, so a resumed run needs no scheduler state:

- ``constant``: ``base_lr``;
- ``step``: ``base_lr * gamma ** floor(epoch / step_size)`` (``StepLR``);
- ``cosine``: ``min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2``
  (``CosineAnnealingLR`` with ``T_max = epochs`` and ``eta_min = min_lr``; Loshchilov & Hutter
  2017 without restarts). The last epoch, ``epochs - 1``, is one step short of ``min_lr``, as
  in PyTorch.
"""
from __future__ import annotations

import math


def lr_at(schedule: dict, base_lr: float, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (0-based) of a run of ``epochs`` epochs."""
    name = schedule.get("name")
    if name == "constant":
        return float(base_lr)
    if name == "step":
        step_size = int(schedule["step_size"])
        assert step_size >= 1, step_size  # the checker validates the settings
        return float(base_lr) * float(schedule["gamma"]) ** (epoch // step_size)
    if name == "cosine":
        min_lr = float(schedule.get("min_lr", 0.0))
        return min_lr + (float(base_lr) - min_lr) * (1 + math.cos(math.pi * epoch / epochs)) / 2
    raise AssertionError(f"unknown schedule {name!r}")  # the checker knows only these
