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

from cnnspec.errors import SpecError

SCHEDULES = ("constant", "step", "cosine")
_PATH = "$.training.schedule"


def lr_at(schedule: dict, base_lr: float, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (0-based) of a run of ``epochs`` epochs."""
    name = schedule.get("name")
    if name == "constant":
        return float(base_lr)
    if name == "step":
        step_size = int(schedule["step_size"])
        if step_size < 1:
            raise SpecError(f"step_size must be >= 1, not {step_size}",
                            json_path=f"{_PATH}.step_size", hint="the lr drops every step_size "
                                                                 "epochs")
        return float(base_lr) * float(schedule["gamma"]) ** (epoch // step_size)
    if name == "cosine":
        min_lr = float(schedule.get("min_lr", 0.0))
        return min_lr + (float(base_lr) - min_lr) * (1 + math.cos(math.pi * epoch / epochs)) / 2
    raise SpecError(f"unknown schedule {name!r}", json_path=f"{_PATH}.name",
                    hint="schedule is one of " + ", ".join(SCHEDULES))
