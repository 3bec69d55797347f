"""Learning-rate schedules, per epoch (epochs count from 0), as PyTorch's schedulers.

Closed forms, so a resumed run needs no scheduler state. Each schedule is a function
``(base_lr, epoch, epochs, **args) -> lr`` whose keyword arguments are the ones the IR's
schedule object holds (cnnspec/ir/training_catalogue.py declares them); :data:`SCHEDULES` maps
the IR's names to them.
"""
from __future__ import annotations

import math


def constant(base_lr: float, epoch: int, epochs: int) -> float:
    """``base_lr`` throughout."""
    return float(base_lr)


def step(base_lr: float, epoch: int, epochs: int, step_size: int, gamma: float) -> float:
    """``base_lr * gamma ** floor(epoch / step_size)`` (PyTorch's ``StepLR``)."""
    assert step_size >= 1, step_size  # the checker validates the settings
    return float(base_lr) * float(gamma) ** (epoch // int(step_size))


def cosine(base_lr: float, epoch: int, epochs: int, min_lr: float) -> float:
    """``min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2``
    (``CosineAnnealingLR`` with ``T_max = epochs`` and ``eta_min = min_lr``; Loshchilov & Hutter
    2017 without restarts). The last epoch, ``epochs - 1``, is one step short of ``min_lr``, as
    in PyTorch."""
    min_lr = float(min_lr)
    return min_lr + (float(base_lr) - min_lr) * (1 + math.cos(math.pi * epoch / epochs)) / 2


SCHEDULES = {"constant": constant, "step": step, "cosine": cosine}


def lr_at(schedule: dict, base_lr: float, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (0-based) of a run of ``epochs`` epochs, for an IR
    ``training.schedule`` object (every argument written out)."""
    name = schedule.get("name")
    assert name in SCHEDULES, f"unknown schedule {name!r}"  # the checker knows only these
    args = {key: value for key, value in schedule.items() if key != "name"}
    return SCHEDULES[name](base_lr, epoch, epochs, **args)
