"""Learning-rate schedules, as PyTorch's schedulers (and Caffe's ``inv``), and a linear warmup
that multiplies any of them.

A schedule is a function ``(base_lr, clock, **args) -> lr`` whose keyword arguments are the
ones the IR's schedule object holds (cnnspec/ir/training_catalogue.py declares them);
:data:`SCHEDULES` maps the IR's names to them. The :class:`Clock` says where the run stands: the
epoch (from 0), the step within it, and the validation loss of each finished epoch. Most
schedules change the lr per epoch; ``poly`` and ``inv`` per step, counted over the whole run
from 0 as Caffe's ``iter``. Each is a closed form of the clock (``plateau`` replays the
validation losses), so a resumed run needs no scheduler state.
"""
from __future__ import annotations

import math
from dataclasses import replace

from cnnspec.records import record


@record(frozen=True)
class Clock:
    """Where a run stands when it asks for a learning rate: ``epoch`` (from 0) of ``epochs``,
    ``batch`` (from 0) of the epoch's ``batches`` steps, and ``val_losses``, the validation loss
    of each finished epoch (None where there was no validation)."""

    epoch: int
    epochs: int
    batch: int = 0
    batches: int = 1
    val_losses: tuple = ()

    @property
    def iteration(self) -> int:
        """Steps taken before this one, over the whole run."""
        return self.epoch * self.batches + self.batch

    @property
    def iterations(self) -> int:
        """Steps in the whole run."""
        return self.epochs * self.batches

    def at(self, batch: int) -> Clock:
        return replace(self, batch=batch)


def constant(base_lr: float, clock: Clock) -> float:
    """``base_lr`` throughout."""
    return float(base_lr)


def step(base_lr: float, clock: Clock, step_size: int, gamma: float) -> float:
    """``base_lr * gamma ** floor(epoch / step_size)`` (PyTorch's ``StepLR``)."""
    assert step_size >= 1, step_size  # the checker validates the settings
    return float(base_lr) * float(gamma) ** (clock.epoch // int(step_size))


def multistep(base_lr: float, clock: Clock, milestones: list[int], gamma: float) -> float:
    """``base_lr * gamma ** (the number of milestones <= epoch)`` (PyTorch's ``MultiStepLR``,
    Caffe's ``multistep`` counted in epochs)."""
    passed = sum(1 for milestone in milestones if milestone <= clock.epoch)
    return float(base_lr) * float(gamma) ** passed


def exp(base_lr: float, clock: Clock, gamma: float) -> float:
    """``base_lr * gamma ** epoch`` (PyTorch's ``ExponentialLR``)."""
    return float(base_lr) * float(gamma) ** clock.epoch


def cosine(base_lr: float, clock: Clock, min_lr: float) -> float:
    """``min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2``
    (``CosineAnnealingLR`` with ``T_max = epochs`` and ``eta_min = min_lr``; Loshchilov & Hutter
    2017 without restarts). The last epoch, ``epochs - 1``, is one step short of ``min_lr``, as
    in PyTorch."""
    min_lr = float(min_lr)
    return min_lr + (float(base_lr) - min_lr) * (
        1 + math.cos(math.pi * clock.epoch / clock.epochs)) / 2


def poly(base_lr: float, clock: Clock, power: float) -> float:
    """``base_lr * (1 - iteration / iterations) ** power``, per step over the whole run
    (Caffe's ``poly`` with ``max_iter`` the run's steps; PyTorch's ``PolynomialLR`` with
    ``total_iters`` the run's steps, stepped after each batch)."""
    return float(base_lr) * (1.0 - clock.iteration / clock.iterations) ** float(power)


def inv(base_lr: float, clock: Clock, gamma: float, power: float) -> float:
    """``base_lr * (1 + gamma * iteration) ** -power``, per step (Caffe's ``inv``, the
    policy of its MNIST LeNet solver)."""
    return float(base_lr) * (1.0 + float(gamma) * clock.iteration) ** -float(power)


def plateau(base_lr: float, clock: Clock, factor: float, patience: int, threshold: float,
            cooldown: int, min_lr: float) -> float:
    """PyTorch's ``ReduceLROnPlateau`` (mode ``min``, relative threshold) on the validation
    loss of each finished epoch: a loss below ``best * (1 - threshold)`` is the new best;
    after more than ``patience`` epochs without one, the lr is multiplied by ``factor`` (not
    below ``min_lr``; a change under 1e-8 is skipped, as PyTorch's ``eps``) and ``cooldown``
    epochs pass before bad epochs count again. Replayed from the losses, so it keeps no
    state."""
    lr, best, bad, cooling = float(base_lr), math.inf, 0, 0
    for loss in clock.val_losses[:clock.epoch]:
        assert loss is not None, "plateau needs a validation loss"  # the checker says so
        if loss < best * (1.0 - threshold):
            best, bad = loss, 0
        else:
            bad += 1
        if cooling > 0:
            cooling, bad = cooling - 1, 0
        if bad > patience:
            reduced = max(lr * factor, float(min_lr))
            if lr - reduced > 1e-8:
                lr = reduced
            cooling, bad = int(cooldown), 0
    return lr


SCHEDULES = {"constant": constant, "step": step, "multistep": multistep, "exp": exp,
             "cosine": cosine, "poly": poly, "inv": inv, "plateau": plateau}


def warmup_factor(warmup: int, clock: Clock) -> float:
    """``min(1, (iteration + 1) / (warmup * batches))``: the lr grows linearly, step by step,
    over the first ``warmup`` epochs, reaching the schedule's lr at the last step of them
    (PyTorch's ``LinearLR`` with ``start_factor = 1 / T`` and ``total_iters = T - 1`` for
    ``T = warmup * batches`` steps, stepped after each batch). 1 without warmup."""
    steps = warmup * clock.batches
    return 1.0 if clock.iteration + 1 >= steps else (clock.iteration + 1) / steps


def lr_at(schedule: dict, base_lr: float, clock: Clock, warmup: int = 0) -> float:
    """The learning rate of the step at ``clock``, for an IR ``training.schedule`` object
    (every argument written out), times the warmup factor of ``warmup`` epochs."""
    name = schedule.get("name")
    assert name in SCHEDULES, f"unknown schedule {name!r}"  # the checker knows only these
    args = {key: value for key, value in schedule.items() if key != "name"}
    return SCHEDULES[name](base_lr, clock, **args) * warmup_factor(warmup, clock)
