"""The training loop: epochs of shuffled mini-batches, validation, checkpoints, the best
epoch's weights, and the three ways a run can stop early (Ctrl-C, divergence, and the
``early_stop`` setting when the monitored validation metric stops improving).

A run diverges when its loss or output is no longer finite, or when the loss is finite but
blown up (:data:`BLOWUP_FACTOR`): sgd a little above its stable rate grows a mean squared
error geometrically, to 1e17 and beyond, and may end its epochs before reaching infinity.

One step is: forward the batch (training mode), the loss and its gradient, backward, the
gradients clipped (when the settings say so), then one optimizer update of the trainable
parameters at the step's learning rate (an epoch's metrics record its last step's). Between
two steps the model, the optimizer, the dropout generator and :class:`Position` together
describe the run completely; that is the only place the loop stops or saves, so a resumed run
repeats exactly what an uninterrupted one would have done.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnspec import metrics
from cnnspec.atomic import NotWritten
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.check.signal import bias_moments, summed_terms, weight_log_second_moment
from cnnspec.check.training import one_example_norms
from cnnspec.dtypes import FORMATS
from cnnspec.engine.losses import uninformed_loss
from cnnspec.engine.optim import clip_gradients
from cnnspec.engine.overflow import overflow_reported_by_caller
from cnnspec.engine.processes import WorkerLost
from cnnspec.engine.schedules import Clock, lr_at
from cnnspec.errors import WordedError, float_text, literal, out_of_memory, rounded_text
from cnnspec.ir.training_catalogue import (
    LOWER_IS_BETTER,
    TYPICAL_LR,
    far_above_typical,
    far_layer_rates,
    lr_mult_advice,
    whole_layer_decays,
    whole_weight_decay,
)
from cnnspec.kinds import is_weighted
from cnnspec.records import record
from cnnspec.training import rundir
from cnnspec.training.batches import batch_slices, epoch_order
from cnnspec.training.files import write_csv, write_jsonl, write_npz
from cnnspec.training.interrupts import deferred_interrupts, interrupts_held
from cnnspec.training.progress import Display
from cnnspec.training.rundir import RunDir
from cnnspec.training.scoring import predicted, score
from cnnspec.training.state import BEST_EPOCH_KEY, Position, save_checkpoint


class Interrupted(WordedError):
    """Training stopped on Ctrl-C after saving a checkpoint it can resume from."""


class Stopped(WordedError):
    """Training stopped in the middle of a step by a failure outside it (a worker process
    killed); the last checkpoint stays the point to resume from. ``reason``: the failure
    alone, for a caller whose run folder is not the user's (a sweep's cell)."""

    def __init__(self, message: str, hint: str, reason: str) -> None:
        super().__init__(message, hint)
        self.reason = reason


class Diverged(WordedError):
    """The loss or an activation became NaN or infinite, or the loss blew up while finite
    (:data:`BLOWUP_FACTOR`); its hint names the learning rate to
    try as the caller gives it (``--lr 0.05``, ``lr=0.05``). ``reason``: the failure alone,
    without the file it saved, for a caller whose run folder is not the user's (a sweep's
    cell, whose scratch folder is gone once it has trained)."""

    def __init__(self, message: str, hint: str, reason: str) -> None:
        super().__init__(message, hint)
        self.reason = reason


def diverged_files(path: Path | None) -> str:
    """Where a diverged training's weights and the batch that blew up are (``path``, its
    ``diverged.npz``), or that they were not kept (None)."""
    if path is None:
        return "the weights and the batch were not kept"
    return f"the weights and the batch are in {path}"


@record
class Split:
    """Preprocessed images ``x`` (N, C, H, W) in the run's dtype and labels ``y`` (N,) int64."""

    x: np.ndarray
    y: np.ndarray


@record
class Session:
    """Everything the loop works with. ``training`` is the effective IR ``training`` block."""

    checked: CheckedSpec
    model: object
    optimizer: object
    training: dict
    train: Split
    val: Split | None
    run: RunDir
    display: Display
    data_order: np.random.Generator
    dropout_rng: np.random.Generator | None = None
    on_step: Callable[[int, object], None] | None = None
    # (batch, epoch, index of the batch in the epoch) -> the batch augmented; a function of
    # those alone (no state), so a resumed run augments as an uninterrupted one does.
    augment: Callable[[np.ndarray, int, int], np.ndarray] | None = None
    # Where the checkpoint stands (a copy): what a stopped run's summary reports.
    saved: Position | None = None

    def save(self, position: Position) -> None:
        with interrupts_held():  # a checkpoint torn by Ctrl-C could not be resumed
            write_jsonl(self.run.metrics, position.metrics)
            write_csv(self.run / rundir.METRICS_CSV, position.metrics)
            save_checkpoint(self.run, self.model, self.optimizer, position, self.dropout_rng)
        self.saved = copy.deepcopy(position)


def learning_rate(training: dict, clock: Clock) -> float:
    """The learning rate of the step at ``clock``: the schedule's, warmup included."""
    return float(lr_at(training["schedule"], training["lr"], clock, training["warmup"]))


def fit(session: Session, position: Position) -> bool:
    """Train from ``position`` to the last epoch, saving a checkpoint after each epoch.

    Stops before the last epoch when ``early_stop`` says so (``position.stopped_early``).
    Raises :class:`Interrupted` (after saving) on Ctrl-C or a ``KeyboardInterrupt`` raised by
    ``on_step``, and :class:`Diverged` when the loss stops being finite or blows up
    (:func:`blowup_limit`). Returns whether
    Ctrl-C was pressed after the last step (while the last epoch was validated and saved):
    every epoch is then trained and saved, and the caller stops before what comes next.
    """
    session.saved = copy.deepcopy(position)  # fresh or resumed, it is the checkpoint's
    uninformed = _uninformed_loss(session)
    with deferred_interrupts() as flag:
        try:
            while position.epoch < session.training["epochs"] and not position.stopped_early:
                _run_epoch(session, position, flag, uninformed)
            position.finished = True
            session.save(position)
        except KeyboardInterrupt:
            # Arrived inside a step (a second Ctrl-C): the model may be half updated, so
            # nothing is saved and the last checkpoint stays the point to resume from.
            session.display.close()
            raise Interrupted(
                literal(f"training interrupted in the middle of a step; the last checkpoint in "
                        f"{session.run.path} is kept"),
                hint=f"continue with: {{resume_command:{literal(str(session.run.path))}}}"
            ) from None
        except WorkerLost as lost:
            # The same: the step is lost, the checkpoint before it stays.
            session.display.close()
            raise Stopped(
                literal(f"{lost.message}; the last checkpoint in {session.run.path} is kept"),
                hint=literal(f"{lost.hint}; ") + "continue with: "
                f"{{resume_command:{literal(str(session.run.path))}}}",
                reason=lost.message) from None
        except (NotWritten, MemoryError) as failed:
            # A full disk or a folder made read-only: the file is as it was; memory run out:
            # the step is lost as a Ctrl-C's is. Either way the last checkpoint is whole and
            # stays the point to resume from once there is room.
            session.display.close()
            raise stopped_for(failed, f"the last checkpoint in {session.run.path} is kept",
                              "continue", session.run.path) from None
        return flag.requested


def stopped_for(failed: NotWritten | MemoryError, kept: str, verb: str, run: Path) -> Stopped:
    """The run stopped because a file could not be written (``failed`` a NotWritten) or
    memory ran out (a MemoryError); ``kept`` says what of it is safe, ``verb`` what resuming
    it does (continue, finish)."""
    if isinstance(failed, MemoryError):
        reason = out_of_memory(failed).message
        advice = "free some memory (close other programs that use much of it)"
    else:
        reason, advice = failed.message, "free some space or make the folder writable"
    return Stopped(literal(f"{reason}; {kept}"),
                   hint=f"{advice}, then {verb} it with: {{resume_command:{literal(str(run))}}}",
                   reason=reason)


# A finite loss above this many times both the run's first one and that of an output that
# knows nothing of its input (every score equal: ln K under cross-entropy, 1/K under mse)
# counts as divergence. Training starts near the second (an init that keeps the output's
# scale) and goes down; 1e4 times it is cross-entropy logits thousands apart, every softmax
# saturated, or mse outputs about 100 times the targets' scale: no recovery a user would wait
# for, and far above the noise of one batch's loss. Measured from the first loss too, an init
# far too large is judged by how far it climbs, not where it starts: adam brings mse outputs
# that start 100 away from their targets (a first loss 1e5 times 1/K) back down. Trained at
# their own settings, the specs in specs/ stay below 30 times the second (x_detector's spikes
# reach 28, the rest 3.1; digits, lenet5, resnet_small and separable for their first 400 steps).
BLOWUP_FACTOR = 1e4


def _uninformed_loss(session: Session) -> float:
    """The loss of an output that knows nothing (:func:`cnnspec.engine.losses.uninformed_loss`)
    on the training labels, with the run's loss settings (class weights, label smoothing)."""
    model = session.model
    return uninformed_loss(model.loss_name, session.train.y, session.checked.output_shape[-1],
                           **model.loss_args)


def blowup_reference(uninformed: float, first_loss: float | None, step: int) -> float:
    """The loss a blown-up one is :data:`BLOWUP_FACTOR` times above, at the run's ``step``
    (from 0): the larger of the loss of an output that knows nothing (``uninformed``) and the
    run's first. Before the first step, infinite: only a loss that is not finite stops that
    one. In a run resumed from a checkpoint written before the first loss was kept (None past
    step 0), ``uninformed`` alone: the first loss after the resume is no first loss of the
    run, and where the run had climbed before the resume it would raise the bar by as much."""
    if first_loss is None:
        return math.inf if step == 0 else uninformed
    return max(uninformed, first_loss)


def _run_epoch(session: Session, position: Position, flag, uninformed: float) -> None:
    model, training = session.model, session.training
    order = epoch_order(session.data_order, position.epoch, len(session.train.y))
    slices = batch_slices(len(order), training["batch_size"],
                          drop_lone=bool(one_example_norms(session.checked.layers)))
    clock = Clock(position.epoch, training["epochs"], batches=len(slices),
                  val_losses=tuple(row[metrics.VAL_LOSS] for row in position.metrics))
    session.display.start_epoch(position.epoch + 1, training["epochs"], len(slices),
                                position.batch)
    model.train()
    started = time.perf_counter() - position.epoch_seconds
    for i in range(position.batch, len(slices)):
        index = order[slices[i]]
        x, y = session.train.x[index], session.train.y[index]
        if session.augment is not None:
            x = session.augment(x, position.epoch, i)
        t0 = time.perf_counter()
        lr = learning_rate(training, clock.at(i))
        reference = blowup_reference(uninformed, position.first_loss, position.step)
        loss, correct = _step(session, x, y, lr, BLOWUP_FACTOR * reference)
        if correct is None:
            _diverged(session, position, x, y, lr, loss, uninformed)
        if position.step == 0:  # a resumed run's first step after the resume is not it
            position.first_loss = loss
        position.step_seconds += time.perf_counter() - t0
        position.batch = i + 1
        position.loss_sum += loss * len(y)
        position.correct += correct
        position.seen += len(y)
        session.display.step(position.loss_sum / position.seen, position.correct / position.seen)
        position.epoch_seconds = time.perf_counter() - started
        _between_steps(session, position, flag)
    _end_epoch(session, position, learning_rate(training, clock.at(len(slices) - 1)), started)


def _step(session: Session, x: np.ndarray, y: np.ndarray, lr: float, limit: float):
    """One SGD step on the batch; ``(loss, correct)``, or ``(loss, None)`` if the loss or the
    network's output is not finite or the loss is above ``limit`` (nothing is updated then,
    so the weights kept are those that gave that loss)."""
    model = session.model
    # Divergence is detected here (a non-finite output, a loss not finite or above the limit)
    # and after the update (a non-finite weight: an lr of 1e300 overflows float32) and
    # reported once.
    with overflow_reported_by_caller():
        # the backward pass runs with the forward (a split batch's parts meet once a step):
        # a diverged step's gradients are made, and dropped here
        loss, out = model.loss_and_grads(x, y)
        loss = float(loss)
        if not loss <= limit or not np.all(np.isfinite(out)):  # a NaN loss fails <= too
            return loss, None
        params, grads = model.params(), model.grads()
        names = [name for name in model.trainable_names if name in grads]
        grads = clip_gradients({n: grads[n] for n in names}, session.training["clip_norm"],
                               session.training["clip_value"])
        session.optimizer.step({n: params[n] for n in names}, grads, lr)
    return loss, int(np.count_nonzero(predicted(out) == y))


def _between_steps(session: Session, position: Position, flag) -> None:
    """The clean point: run the step hook with the index of the step just taken (counted
    from 0), then stop here if Ctrl-C was pressed."""
    position.step += 1
    try:
        if session.on_step is not None:
            session.on_step(position.step - 1, session.model)
        if flag.requested:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        session.display.close()
        session.save(position)
        raise Interrupted(
            literal(f"training interrupted in epoch {position.epoch + 1} after step "
                    f"{position.step}; checkpoint saved in {session.run.path}"),
            hint=f"continue with: {{resume_command:{literal(str(session.run.path))}}}") from None


def _end_epoch(session: Session, position: Position, lr: float, started: float) -> None:
    # At the training batch, not score's larger default: check's figure of the training
    # process, a step at that batch, then holds for its evaluations too (cifar10_vgg at batch
    # 64: a worker's half of a 256-image forward pass took 100 MB, the step's part 41).
    val = (score(session.model, session.val.x, session.val.y, session.training["batch_size"])
           if session.val else None)
    seconds = time.perf_counter() - started
    row = {
        metrics.EPOCH: position.epoch + 1,
        metrics.TRAIN_LOSS: position.loss_sum / max(position.seen, 1),
        metrics.TRAIN_ACC: position.correct / max(position.seen, 1),
        metrics.VAL_LOSS: val.loss if val else None,
        metrics.VAL_ACC: val.accuracy if val else None,
        metrics.LR: lr,
        metrics.SECONDS: seconds,
        metrics.IMAGES_PER_S: position.seen / max(position.step_seconds, 1e-9),
    }
    position.metrics.append(row)
    _track_best(session, position, row)
    position.next_epoch()
    session.save(position)
    session.display.end_epoch(row, session.training["epochs"])


def improves(value: float, best: float | None, monitor: str, min_delta: float) -> bool:
    """Whether an epoch's ``monitor`` figure ``value`` beats ``best`` (None: no epoch yet) by
    more than ``min_delta``, as Keras's ``EarlyStopping`` compares them."""
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if LOWER_IS_BETTER[monitor] else value > best + min_delta


def _track_best(session: Session, position: Position, row: dict) -> None:
    """After an epoch with validation: keep its weights in ``best.npz`` when it is the best so
    far by ``monitor``, else count it as one more epoch without improvement (the count and
    the best figure are in ``position``, so a resumed run judges as an uninterrupted one)."""
    training = session.training
    value = row[training["monitor"]]
    if value is None:
        return  # no validation split
    if improves(value, position.best_value, training["monitor"], training["min_delta"]):
        position.best_epoch, position.best_value, position.bad_epochs = row[metrics.EPOCH], value, 0
        with interrupts_held():
            write_npz(session.run / rundir.BEST, {**session.model.state_arrays(),
                                                   BEST_EPOCH_KEY: np.asarray(row[metrics.EPOCH])})
    else:
        position.bad_epochs += 1
    patience = training["early_stop"]
    position.stopped_early = (patience > 0 and position.bad_epochs >= patience
                              and row[metrics.EPOCH] < training["epochs"])


def _diverged(session: Session, position: Position, x: np.ndarray, y: np.ndarray,
              lr: float, loss: float, uninformed: float) -> None:
    """Save the weights and the batch that blew up, find the first layer that did, and stop.
    ``loss``: the step's, not finite or blown up (:func:`blowup_reference` of ``uninformed``,
    the loss of an output that knows nothing, and the run's first).

    ``checkpoint.npz`` is left as it was: the last good point (an epoch end, or step 0).
    """
    session.display.close()
    model = session.model
    write_npz(session.run / rundir.DIVERGED,
              {**model.state_dict(), "_batch_x": x, "_batch_y": y,
               "_step": np.asarray(position.step)})
    where, info = first_blowup(session.checked, model, x)
    finite = info is None and math.isfinite(loss)  # nothing overflowed: the loss blew up
    layer_init = init_to_blame(session.checked, info)
    hint = (decay_advice(session.checked.ir["training"], lr) or lr_mult_hint(session.checked, lr)
            or layer_decay_hint(session.checked, lr)
            or overflowing_bias_hint(session.checked, info))
    if hint is not None:
        hint = literal(hint)
    else:  # the learning rate, and the init of the layer that blew up
        hint = f"lower the learning rate (it was {float_text(lr)}; {lower_lr_advice(lr)})"
        if layer_init is not None:
            init = layer_init.weight_init
            smaller = literal(f"start '{layer_init.name}' with smaller weights (its init is "
                              f"{init.name}, {init.short})")
            # an init that grows the signal is said first: it blows up whatever the rate
            hint = (f"{smaller}, or {hint}" if _log_gain(layer_init) > math.log(GROWING_GAIN)
                    else f"{hint}, or {smaller}")
        if finite and not session.training["clip_norm"]:
            hint += literal(", or clip the gradients (`clip_norm 1` in the train block)")
    what = (blowup_text(loss, uninformed, position.first_loss) if finite
            else f"{where} became NaN or infinite")
    reason = f"training diverged in epoch {position.epoch + 1} at step {position.step + 1}: {what}"
    raise Diverged(literal(f"{reason}; {diverged_files(session.run / rundir.DIVERGED)}"),
                   hint=hint, reason=reason)


def blowup_text(loss: float, uninformed: float, first_loss: float | None) -> str:
    """What a finite loss that blew up is: how far above the larger of ``uninformed`` (the loss
    of an output that knows nothing) and the run's ``first_loss`` (None: not known,
    :func:`blowup_reference`) it went."""
    if first_loss is not None and first_loss > uninformed:
        reference = f"its first, {rounded_text(first_loss)}"
    else:
        reference = (f"{rounded_text(uninformed)}, the loss of an output that knows nothing "
                     "(every score equal)")
    return (f"the loss reached {rounded_text(loss)}, more than {rounded_text(BLOWUP_FACTOR, 1)} "
            f"times {reference}")


def overflowing_bias_hint(checked: CheckedSpec, info: LayerInfo | None) -> str | None:
    """What to try after a divergence where biases of a conv/dense layer at or before ``info``
    (up to the last if None) start beyond the square root of the dtype's largest number: a
    layer after them reads them, its weights' first update is lr times them times its output
    gradient, and its next output, their product, overflows at any learning rate. None where
    no bias is that large."""
    limit = FORMATS[checked.dtype].largest_root
    for layer in checked.layers:
        mean, variance = bias_moments(layer) if is_weighted(layer.kind) else (0.0, 0.0)
        if not math.sqrt(mean * mean + variance) <= limit:  # NaN and inf too
            return (f"start the biases of '{layer.name}' at 0 (zeros) or small (their init is "
                    f"{layer.bias_init.short}): beyond the square root of "
                    f"{checked.dtype}'s largest number, they overflow what reads them at any "
                    "learning rate")
        if info is not None and layer.name == info.name:
            break
    return None


def lr_mult_hint(checked: CheckedSpec, lr: float) -> str | None:
    """What to try after a divergence at ``lr`` (itself not far above the rates that train)
    when layers' ``lr_mult`` take the rate of one of their parameters far above them
    (:func:`cnnspec.ir.training_catalogue.far_above_typical`); None when none does."""
    if far_above_typical(lr):
        return None  # the learning rate itself is to lower first
    far = list(far_layer_rates(checked.ir["layers"], lr))
    if not far:
        return None
    names = ", ".join(f"'{name}'" for name in far)
    return (f"lower the lr_mult of {names}: at lr {float_text(lr)} it takes the layer's "
            f"learning rate far above those that train; {lr_mult_advice(lr)}")


def layer_decay_hint(checked: CheckedSpec, lr: float) -> str | None:
    """What to try after a divergence at ``lr`` when layers' ``decay_mult`` (with their
    ``lr_mult``) make a step's decay alone take the whole of a parameter away
    (:func:`cnnspec.ir.training_catalogue.whole_layer_decays`); None when none does."""
    training = checked.ir["training"]
    found = whole_layer_decays(checked.ir["layers"], training, lr)
    if not found:
        return None
    names = ", ".join(f"'{name}'" for name in found)
    return (f"lower the decay_mult of {names}: at lr {float_text(lr)} each step's decay alone "
            f"subtracts {rounded_text(max(max(d.values()) for d in found.values()))} times "
            "each weight from it, the whole weight or more; lr x lr_mult x weight_decay x "
            "decay_mult should be well below 1")


def lower_lr_advice(lr: float) -> str:
    """What to try after a divergence at ``lr``: a tenth of it, or for a rate far above any
    that trains (``lr 1e6``), the top of the usual range; a hint template naming the learning
    rate as the run is given it (``{lr:0.05}``: ``--lr 0.05``, ``lr=0.05``)."""
    low, high = TYPICAL_LR
    if not far_above_typical(lr):
        return f"try {{lr:{rounded_text(lr / 10, 6)}}}"
    return (f"try {{lr:{float_text(high)}}}: learning rates are usually between "
            f"{float_text(low)} and {float_text(high)}")


def decay_advice(training: dict, lr: float) -> str | None:
    """What to try after a divergence whose cause is the weight decay: a step's decay alone
    takes the whole weight away or more at ``lr``
    (:func:`cnnspec.ir.training_catalogue.whole_weight_decay`), whatever the learning rate is
    otherwise; None when it is not."""
    decay = whole_weight_decay(training, lr)
    if decay is None:
        return None
    return (f"lower weight_decay (it was {float_text(training['weight_decay'])}: at lr "
            f"{float_text(lr)} each step's decay alone subtracts {rounded_text(decay)} times "
            "each weight from it, the whole weight or more; lr x weight_decay should be well "
            "below 1)")


def first_blowup(checked: CheckedSpec, model, x: np.ndarray) -> tuple[str, LayerInfo | None]:
    """Where non-finite numbers first appear: in a layer's weights, else in the first layer
    (in network order) whose output on ``x`` is not finite, else in the loss."""
    params = model.params()
    for info in checked.layers:
        for suffix in ("weight", "bias"):
            value = params.get(f"{info.name}.{suffix}")
            if value is not None and not np.all(np.isfinite(value)):
                return f"the {suffix} of layer '{info.name}' ({info.kind})", info
    was_recording = getattr(model, "record", False)
    model.record = True
    try:
        with overflow_reported_by_caller():
            model.forward(x)
        activations = dict(model.activations)
    finally:
        model.record = was_recording
    for info in checked.layers:
        out = activations.get(info.name)
        if out is not None and not np.all(np.isfinite(out)):
            return f"the output of layer '{info.name}' ({info.kind})", info
    return "the loss", None


def init_to_blame(checked: CheckedSpec, info: LayerInfo | None) -> LayerInfo | None:
    """The conv/dense layer at or before ``info`` (up to the last one if ``info`` is None)
    whose weight init scale is worth reconsidering: the one whose init multiplies the
    signal's second moment most (``fan_in * E[w^2]``, :mod:`cnnspec.check.signal`), where a
    layer's init grows it; else the last. A conv of weights N(0, 1e30) makes the dense layer
    after it overflow: that dense layer's own init is not the cause."""
    candidates = []
    for layer in checked.layers:
        if is_weighted(layer.kind) and layer.weight_init is not None:
            candidates.append(layer)
        if info is not None and layer.name == info.name:
            break
    if not candidates:
        return None
    gains = [_log_gain(layer) for layer in candidates]
    largest = max(gains)
    if largest > math.log(GROWING_GAIN):
        return candidates[len(gains) - 1 - gains[::-1].index(largest)]  # the last of equals
    return candidates[-1]


# A layer whose init multiplies the signal's second moment by more than this grows it: He et
# al.'s init keeps fan_in * E[w^2] = 2 before a ReLU, which halves it again.
GROWING_GAIN = 4.0


def _log_gain(layer: LayerInfo) -> float:
    """``log(fan_in * E[w^2])`` of a conv/dense layer's init; -inf where the data decides it
    (LSUV) or the weights are all 0."""
    log_moment = weight_log_second_moment(layer)
    return -math.inf if log_moment is None else math.log(summed_terms(layer)) + log_moment
