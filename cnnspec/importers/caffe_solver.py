"""Caffe solvers (``solver.prototxt``) read into a spec's train block.

Caffe counts iterations (batches); cnnspec's ``inv`` and ``poly`` schedules count steps too and
carry over exactly, while ``step``, ``multistep``, ``exp`` and the run's length (``max_iter``)
count epochs here, converted with the images one epoch trains on (``epoch_images``). The
tables are in docs/importing.md.
"""
from __future__ import annotations

from pathlib import Path

from cnnspec.errors import (
    SpecError,
    SpecErrors,
    count_text,
    counted,
    hinted,
    library_worded,
    literal,
    shell_word,
)
from cnnspec.importers.prototxt import Message, error_at, parse_prototxt
from cnnspec.importers.spec_writer import Setting
from cnnspec.ir.steps import MOST_STEPS, steps_per_epoch
from cnnspec.ir.training_catalogue import CAFFE_POLICIES
from cnnspec.kinds.text import exact_number_text
from cnnspec.records import record


@record
class Solver:
    """The train block's lines from a solver, and notes on what did not carry over."""

    settings: list[Setting]
    notes: list[str]


# Where a net says how many images Caffe's iteration takes, as the batch setting's comment
# names it.
BATCH_FROM_DATA = "the Data layer's batch_size"
BATCH_FROM_INPUT = "the input's N"


def batch_note(source: str = "") -> str:
    """The batch setting's comment: Caffe's images per iteration, and where the net gives
    them (``source``: :data:`BATCH_FROM_DATA` or :data:`BATCH_FROM_INPUT`; "" unsaid)."""
    return "Caffe's images per iteration" + (f" ({source})" if source else "")


POLICIES = tuple(caffe for caffe, _ in CAFFE_POLICIES)
# Caffe's solver types -> cnnspec's optimizer: its name, the arguments it reads from the
# solver {argument: (Caffe's field, Caffe's default)} and those it sets (Nesterov is SGD's
# flag here). Looked up in upper case, as Caffe's solver_type enum is written.
SOLVER_TYPES = {
    "SGD": ("sgd", {"momentum": ("momentum", 0.0)}, {}),
    "Nesterov": ("sgd", {"momentum": ("momentum", 0.0)}, {"nesterov": "true"}),
    "Adam": ("adam", {"beta1": ("momentum", 0.0), "beta2": ("momentum2", 0.999),
                      "eps": ("delta", 1e-8)}, {}),
    "RMSProp": ("rmsprop", {"alpha": ("rms_decay", 0.99), "eps": ("delta", 1e-8)}, {}),
    "AdaGrad": ("adagrad", {"eps": ("delta", 1e-8)}, {}),
}
_SOLVER_TYPES = {caffe.upper(): caffe for caffe in SOLVER_TYPES}
# Caffe's solver fields that are one train setting each here, as its name there.
SOLVER_SETTINGS = {"base_lr": "lr", "weight_decay": "weight_decay", "max_iter": "epochs",
                   "clip_gradients": "clip_norm", "random_seed": "seed"}
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
    solver = literal(shell_word(path or "SOLVER.prototxt"))
    net = literal(shell_word(_net_found(net, path)))
    raise SpecError("this is a Caffe solver, not a model definition", span=mark.span, file=path,
                    **hinted("import the net it trains and give the solver beside it: "
                             f"{{import_command:{net}}} --solver {solver}"))


def _net_found(net: str, solver: str | None) -> str:
    """The path of the ``net`` a solver names, as a command run here can give it: as
    written (Caffe reads it from the folder it runs in, its root:
    ``examples/mnist/lenet_train_test.prototxt``), or, where no such file is here but one is
    beside the solver (a model's files copied together), that one."""
    if solver is None or Path(net).is_file():
        return net
    folder = Path(solver).parent
    beside = next((found for found in (folder / net, folder / Path(net).name)
                   if found.is_file()), None)
    return net if beside is None else str(beside)


def solver_settings(text: str, path: str | None, batch: int | None,
                    epoch_images: int | None, batch_from: str = "") -> Solver:
    """The train block's settings from a Caffe solver. ``batch`` is the images per iteration
    (the train Data layer's batch_size, or an Input's N: ``batch_from`` says which, in the
    words of :func:`batch_note`), ``epoch_images`` the images one epoch trains on; without it,
    what Caffe counts in iterations cannot become epochs."""
    msg = parse_prototxt(text, path)
    _refuse_net_as_solver(msg, path)
    # the steps of the spec's epoch (a lone last image a batch norm cannot take is not known
    # to be left out before the net is checked: Caffe's nets rarely normalise 1x1 maps)
    per_epoch = steps_per_epoch(epoch_images, batch) if epoch_images and batch else None
    iterations = _Iterations(msg, path, batch, epoch_images, per_epoch)
    # Each part is read on after another's mistake, so that every mistake in the file is
    # reported at once (a misspelt base_lr beside a stepsize that cannot become epochs).
    errors: list[SpecError] = []

    def read(part, *args) -> list[Setting]:
        try:
            return part(msg, *args)
        except SpecError as exc:
            errors.append(exc)
            return []

    settings = [*read(lambda msg: [_optimizer(msg, path)]), *read(_rate_and_decay, path),
                *read(_schedule, path, iterations)]
    if batch:
        settings.append(Setting("batch", str(batch), batch_note(batch_from)))
    notes = []
    max_iter = read(lambda msg: [msg.scalar("max_iter", "count")])
    max_iter = max_iter[0] if max_iter else None
    if max_iter is not None and per_epoch is None:
        notes.append(f"max_iter {max_iter} not carried over: give --epoch-images to convert it "
                     "to epochs")
    elif max_iter is not None:
        epochs = max(1, round(max_iter / per_epoch))
        iterations_text = f"{counted(per_epoch, 'iteration')} per epoch"
        settings.append(Setting(SOLVER_SETTINGS["max_iter"], str(epochs),
                                f"Caffe's max_iter {max_iter}, {iterations_text}"))
        if max_iter > MOST_STEPS:
            notes.append(_endless_note(max_iter, epochs, iterations_text))
    settings += read(_clip_and_seed)
    errors += _the_rest(msg, path)
    if errors:  # in the order of the file
        raise SpecErrors(sorted(errors, key=lambda e: (e.span.line, e.span.column) if e.span
                                else (0, 0)))
    return Solver(settings, notes)


def _endless_note(max_iter: int, epochs: int, iterations_text: str) -> str:
    """What the importer made of a ``max_iter`` above :data:`~cnnspec.ir.steps.MOST_STEPS`:
    Caffe's solvers write 2^31 - 1 to train until stopped, which cnnspec does not do."""
    return (f"max_iter {count_text(max_iter)} became epochs {count_text(epochs)} "
            f"({iterations_text}), more steps than any run takes: a max_iter that large "
            "most likely means \"until stopped\"; write the epochs the run should take "
            "(check warns of these)")


def _where(msg: Message, name: str):
    """The span of the field ``name``, or the solver's where it is not written."""
    entry = msg.one(name)
    return entry.span if entry else msg.span


# How to give the images one epoch trains on, worded as the caller gives it (the command
# line's --epoch-images N, the library's epoch_images=N: SpecError.worded_hint).
EPOCH_IMAGES_HINT = ("give the images one epoch trains on: {epoch_images:N} (MNIST with "
                     "val_split 0.1: 54000)")
# Where the net says its batch, and how to say it. An Input's first dim of 1 is not taken for
# one: a deploy net's Input holds one image, not the batch the solver trained with.
BATCH_HINT = ("write the batch Caffe trains with as the input's first dim, e.g. an Input "
              "layer's input_param { shape { dim: 64 dim: 1 dim: 28 dim: 28 } } (a first dim "
              "of 1 is read as one image, not a training batch), or as a Data layer's "
              "batch_size")


@record(frozen=True)
class _Iterations:
    """How Caffe's iterations become cnnspec's epochs: ``per_epoch`` iterations make one (None
    without the images one epoch trains on, ``epoch_images``, or without the net's
    ``batch``)."""

    msg: Message
    path: str | None
    batch: int | None
    epoch_images: int | None
    per_epoch: int | None

    def needed_by(self, name: str) -> int:
        """``per_epoch``, which the field ``name`` needs; without it, an error there saying
        what is missing: the epoch's images, the net's batch, or both."""
        if self.per_epoch is not None:
            return self.per_epoch
        message = f"Caffe counts {name} in iterations, cnnspec in epochs"
        if self.batch is None:
            message += ", and the net does not say how many images an iteration takes"
        hints = ([] if self.epoch_images else [EPOCH_IMAGES_HINT]) + \
            ([] if self.batch else [literal(BATCH_HINT)])
        template = "; ".join(hints)
        raise SpecError(message, span=_where(self.msg, name), hint=library_worded(template),
                        file=self.path, hint_template=template)


def _refuse_net_as_solver(msg: Message, path: str | None) -> None:
    """A model definition given twice, or in the solver's place."""
    layer = next((e for e in msg.entries if e.name in ("layer", "layers")), None)
    if layer is not None:
        raise error_at("this is a model definition, not a Caffe solver", layer.span,
                       "--solver takes the file with base_lr, lr_policy and max_iter that "
                       "trains the net", path)


def _rate_and_decay(msg: Message, path: str | None) -> list[Setting]:
    """``lr`` and ``weight_decay`` (L2 only, as cnnspec's)."""
    settings = []
    if msg.one("base_lr") is not None:
        settings.append(Setting(SOLVER_SETTINGS["base_lr"],
                                exact_number_text(msg.scalar("base_lr", "number"))))
    if msg.scalar("regularization_type", "string", "L2") != "L2":
        raise error_at("L1 weight decay is not supported", _where(msg, "regularization_type"),
                       "cnnspec's weight_decay is L2", path)
    if msg.one("weight_decay") is not None:
        settings.append(Setting(SOLVER_SETTINGS["weight_decay"],
                                exact_number_text(msg.scalar("weight_decay", "number"))))
    return settings


def _schedule(msg: Message, path: str | None, iterations: _Iterations) -> list[Setting]:
    """The ``schedule`` of Caffe's ``lr_policy`` (none for ``fixed``): ``inv`` and ``poly``
    per step as Caffe's, the others in epochs."""
    policy = msg.scalar("lr_policy", "string", "fixed")
    if policy not in POLICIES:
        raise error_at(f"the lr_policy '{policy}' is not supported", _where(msg, "lr_policy"),
                       "cnnspec's schedules cover " + ", ".join(POLICIES), path)
    gamma_value = msg.scalar("gamma", "number") or 0
    gamma = exact_number_text(gamma_value)
    power = exact_number_text(msg.scalar("power", "number") or 0)
    if policy == "inv":
        return [Setting("schedule", f"inv(gamma={gamma}, power={power})",
                        "per step, as Caffe's iterations")]
    if policy == "poly":
        return [Setting("schedule", f"poly(power={power})",
                        "per step, down to 0 at the end of the run (Caffe: max_iter)")]
    if policy == "step":
        steps = msg.scalar("stepsize", "count", 1)
        per = iterations.needed_by("stepsize")
        return [Setting("schedule", f"step(step_size={max(1, round(steps / per))}, "
                        f"gamma={gamma})", f"Caffe's stepsize {steps} iterations of {per} per "
                        "epoch")]
    if policy == "multistep":
        values = msg.scalars("stepvalue", "count")
        per = iterations.needed_by("stepvalue")
        milestones = sorted({max(1, round(v / per)) for v in values})
        return [Setting("schedule", f"multistep(milestones=[{', '.join(map(str, milestones))}]"
                        f", gamma={gamma})",
                        f"Caffe's stepvalues {values} iterations, {per} per epoch")]
    if policy == "exp":
        per = iterations.needed_by("lr_policy")
        return [Setting("schedule", f"exp(gamma={exact_number_text(gamma_value ** per)})",
                        f"Caffe's gamma {gamma} per iteration, {per} iterations per epoch")]
    return []


def _clip_and_seed(msg: Message) -> list[Setting]:
    """``clip_norm`` and ``seed``, where the solver sets them (Caffe's -1: unset)."""
    settings = []
    clip = msg.scalar("clip_gradients", "number", -1)
    if clip > 0:
        settings.append(Setting(SOLVER_SETTINGS["clip_gradients"], exact_number_text(clip),
                                "Caffe's clip_gradients"))
    seed = msg.scalar("random_seed", "int", -1)
    if seed >= 0:
        settings.append(Setting(SOLVER_SETTINGS["random_seed"], str(seed)))
    return settings


def _the_rest(msg: Message, path: str | None) -> list[SpecError]:
    """Gradient accumulation, and every field no reader asked for (those of Caffe's own
    running, those read with another aside, and those a part stopped before by its own
    mistake): a misspelling of one it reads named as such."""
    errors = []
    try:
        if msg.scalar("iter_size", "count", 1) != 1:
            errors.append(error_at("iter_size (gradient accumulation) is not supported",
                                   _where(msg, "iter_size"),
                                   "multiply batch_size by iter_size instead", path))
    except SpecError as exc:
        errors.append(exc)
    for name in SOLVER_IGNORED + ("type", "solver_type", "momentum", "momentum2", "delta",
                                  "rms_decay", "weight_decay", "gamma", "power", "stepsize",
                                  "stepvalue"):
        msg.all(name)
    for entry in msg.unused():
        meant = msg.meant(entry)
        errors.append(msg.misspelt(entry, meant, "in the solver") if meant is not None else
                      error_at(f"the solver field '{entry.name}' is not supported", entry.span,
                               "remove it", path))
    return errors


def _optimizer(msg: Message, path: str | None) -> Setting:
    kind = msg.scalar("type", "string")
    if kind is None and msg.one("solver_type") is not None:
        kind = msg.scalar("solver_type", "enum")
    kind = (kind or "SGD").upper()
    if kind not in _SOLVER_TYPES:
        entry = msg.one("type") or msg.one("solver_type")
        raise error_at(f"the solver type '{kind}' is not supported", entry.value.span,
                       "cnnspec's optimizers: " + ", ".join(SOLVER_TYPES), path)
    name, read, fixed = SOLVER_TYPES[_SOLVER_TYPES[kind]]
    args = [f"{arg}={exact_number_text(msg.scalar(field, 'number', default))}"
            for arg, (field, default) in read.items()]
    args += [f"{arg}={value}" for arg, value in fixed.items()]
    return Setting("optimizer", f"{name}({', '.join(args)})")
