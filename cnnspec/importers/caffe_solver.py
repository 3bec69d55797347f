"""Caffe solvers (``solver.prototxt``) read into a spec's train block.

Caffe counts iterations (batches); cnnspec's ``inv`` and ``poly`` schedules count steps too and
carry over exactly, while ``step``, ``multistep``, ``exp`` and the run's length (``max_iter``)
count epochs here, converted with the images one epoch trains on (``epoch_images``). The
tables are in docs/importing.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cnnspec.importers.prototxt import Message, error_at, parse_prototxt
from cnnspec.importers.spec_writer import Setting, number_text


@dataclass
class Solver:
    """The train block's lines from a solver, and notes on what did not carry over."""

    settings: list[Setting]
    notes: list[str]


BATCH_NOTE = "Caffe's images per iteration (the Data layer's batch_size, or the input's N)"
POLICIES = ("fixed", "step", "multistep", "exp", "inv", "poly")
# Solver fields that concern Caffe's own running (testing, logging, snapshots, devices).
SOLVER_IGNORED = ("net", "train_net", "test_net", "test_iter", "test_interval", "display",
                  "average_loss", "snapshot", "snapshot_prefix", "snapshot_diff",
                  "snapshot_format", "snapshot_after_train", "solver_mode", "device_id",
                  "test_initialization", "test_compute_loss", "debug_info", "layer_wise_reduce")


# Fields a solver has and a model definition never does: a file with one is a solver.
SOLVER_ONLY = ("net", "train_net", "base_lr", "lr_policy", "max_iter")


def refuse_solver_as_net(msg: Message, path: str | None) -> None:
    """Stop when the file given as the model definition is its solver (``cnnspec import
    lenet_solver.prototxt``): each of its fields would otherwise be an unsupported net field,
    "remove it". The hint names the net the solver trains, when it says."""
    mark = next((e for e in msg.entries if e.name in SOLVER_ONLY), None)
    if mark is None or any(e.name in ("layer", "layers") for e in msg.entries):
        return
    net = next((e.value.value for e in msg.entries if e.name in ("net", "train_net")
                and getattr(e.value, "kind", None) == "string"), "NET.prototxt")
    raise error_at("this is a Caffe solver, not a model definition", mark.span,
                   f"import the net it trains and give the solver beside it: cnnspec import "
                   f"{net} --solver {path or 'SOLVER.prototxt'}", path)


def solver_settings(text: str, path: str | None, batch: int | None,
                    epoch_images: int | None) -> Solver:
    """The train block's settings from a Caffe solver. ``batch`` is the images per iteration
    (the train Data layer's batch_size, or an Input's N), ``epoch_images`` the images one epoch trains on;
    without it, what Caffe counts in iterations cannot become epochs."""
    msg = parse_prototxt(text, path)
    layer = next((e for e in msg.entries if e.name in ("layer", "layers")), None)
    if layer is not None:  # the model definition given twice, or in the solver's place
        raise error_at("this is a model definition, not a Caffe solver", layer.span,
                       "--solver takes the file with base_lr, lr_policy and max_iter that "
                       "trains the net", path)
    settings, notes = [], []
    ipe = math.ceil(epoch_images / batch) if epoch_images and batch else None

    def where(name):
        entry = msg.one(name)
        return entry.span if entry else msg.span

    def need_epochs(name: str) -> int:
        if ipe is None:
            raise error_at(f"Caffe counts {name} in iterations, cnnspec in epochs", where(name),
                       "give the images one epoch trains on: --epoch-images N (MNIST with "
                       "val_split 0.1: 54000)" + ("" if batch else ", and a Data layer's "
                       "batch_size"), path)
        return ipe

    settings.append(_optimizer(msg, path))
    if msg.one("base_lr") is not None:
        settings.append(Setting("lr", number_text(msg.scalar("base_lr", "number"))))
    if msg.scalar("regularization_type", "string", "L2") != "L2":
        raise error_at("L1 weight decay is not supported", where("regularization_type"),
                   "cnnspec's weight_decay is L2", path)
    if msg.one("weight_decay") is not None:
        settings.append(Setting("weight_decay",
                                number_text(msg.scalar("weight_decay", "number"))))
    policy = msg.scalar("lr_policy", "string", "fixed")
    if policy not in POLICIES:
        raise error_at(f"the lr_policy '{policy}' is not supported", where("lr_policy"),
                   "cnnspec's schedules cover " + ", ".join(POLICIES), path)
    gamma = msg.scalar("gamma", "number")
    power = msg.scalar("power", "number")
    if policy == "inv":
        settings.append(Setting("schedule", f"inv(gamma={number_text(gamma or 0)}, "
                                f"power={number_text(power or 0)})",
                                "per step, as Caffe's iterations"))
    elif policy == "poly":
        settings.append(Setting("schedule", f"poly(power={number_text(power or 0)})",
                                "per step, down to 0 at the end of the run (Caffe: max_iter)"))
    elif policy == "step":
        steps = msg.scalar("stepsize", "count", 1)
        epochs = max(1, round(steps / need_epochs("stepsize")))
        settings.append(Setting("schedule", f"step(step_size={epochs}, gamma="
                                f"{number_text(gamma or 0)})",
                                f"Caffe's stepsize {steps} iterations of {ipe} per epoch"))
    elif policy == "multistep":
        values = msg.scalars("stepvalue", "count")
        per = need_epochs("stepvalue")
        milestones = sorted({max(1, round(v / per)) for v in values})
        settings.append(Setting("schedule", f"multistep(milestones=[{', '.join(map(str, milestones))}], "
                                f"gamma={number_text(gamma or 0)})",
                                f"Caffe's stepvalues {values} iterations, {per} per epoch"))
    elif policy == "exp":
        per = need_epochs("lr_policy")
        settings.append(Setting("schedule", f"exp(gamma={number_text((gamma or 0) ** per)})",
                                f"Caffe's gamma {number_text(gamma or 0)} per iteration, "
                                f"{per} iterations per epoch"))
    if batch:
        settings.append(Setting("batch", str(batch), BATCH_NOTE))
    max_iter = msg.scalar("max_iter", "count")
    if max_iter is not None:
        if ipe is None:
            notes.append(f"max_iter {max_iter} not carried over: give --epoch-images to "
                         "convert it to epochs")
        else:
            settings.append(Setting("epochs", str(max(1, round(max_iter / ipe))),
                                    f"Caffe's max_iter {max_iter}, {ipe} iterations per epoch"))
    clip = msg.scalar("clip_gradients", "number", -1)
    if clip > 0:
        settings.append(Setting("clip_norm", number_text(clip), "Caffe's clip_gradients"))
    seed = msg.scalar("random_seed", "int", -1)
    if seed >= 0:
        settings.append(Setting("seed", str(seed)))
    if msg.scalar("iter_size", "count", 1) != 1:
        raise error_at("iter_size (gradient accumulation) is not supported", where("iter_size"),
                   "multiply batch_size by iter_size instead", path)
    for name in SOLVER_IGNORED + ("type", "solver_type", "momentum2", "delta", "rms_decay",
                                  "gamma", "power", "stepsize", "stepvalue"):
        msg.all(name)
    unused = msg.unused()
    if unused:
        raise error_at(f"the solver field '{unused[0].name}' is not supported", unused[0].span,
                   "remove it", path)
    return Solver([s for s in settings if s is not None], notes)


def _optimizer(msg: Message, path: str | None) -> Setting:
    kind = msg.scalar("type", "string")
    if kind is None and msg.one("solver_type") is not None:
        kind = msg.scalar("solver_type", "enum")
    kind = (kind or "SGD").upper()
    momentum = msg.scalar("momentum", "number", 0.0)
    delta = msg.scalar("delta", "number", 1e-8)
    if kind in ("SGD", "NESTEROV"):
        args = f"momentum={number_text(momentum)}"
        return Setting("optimizer", f"sgd({args}{', nesterov=true' if kind == 'NESTEROV' else ''})")
    if kind == "ADAM":
        return Setting("optimizer", f"adam(beta1={number_text(momentum)}, beta2="
                       f"{number_text(msg.scalar('momentum2', 'number', 0.999))}, "
                       f"eps={number_text(delta)})")
    if kind == "RMSPROP":
        return Setting("optimizer", f"rmsprop(alpha="
                       f"{number_text(msg.scalar('rms_decay', 'number', 0.99))}, "
                       f"eps={number_text(delta)})")
    if kind == "ADAGRAD":
        return Setting("optimizer", f"adagrad(eps={number_text(delta)})")
    entry = msg.one("type") or msg.one("solver_type")
    raise error_at(f"the solver type '{kind}' is not supported", entry.value.span,
               "cnnspec's optimizers: SGD, Nesterov, Adam, RMSProp, AdaGrad", path)
