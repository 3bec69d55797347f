"""``cnnspec train SPEC``: train a spec on its data into a run folder."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cnnspec
from cnnspec.cli import OPTION_NAMES, typed
from cnnspec.cli.arguments import (
    add_batch_size,
    add_data,
    add_data_dir,
    add_dtype,
    add_ignore,
    add_spec,
    first_given,
    int_from,
    new_folder,
    nonnegative_int,
    positive_float,
    positive_int,
    run_folder_in,
)
from cnnspec.cli.check import report
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import (
    EXIT_INTERRUPTED,
    InputError,
    RunError,
    counted,
    listed,
    rounded_text,
    shown_path,
)
from cnnspec.ir.training_catalogue import KEYS
from cnnspec.metrics import EPOCH, TRAIN_ACC, VAL_ACC, loss_text

LOADS_NUMPY = True
HELP = "train a spec on its dataset; writes a run folder (checkpoint, metrics, curves)"

EPILOG = """\
examples:
  cnnspec train specs/digits.cnn
  cnnspec train specs/x_detector.cnn --epochs 5 --seed 1 --out runs/x1
  cnnspec train --resume runs/x1          # continue after Ctrl-C
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_spec(parser, optional="with --resume")
    parser.add_argument("--epochs", type=positive_int, metavar="N",
                        help="override the spec's number of epochs")
    parser.add_argument("--lr", type=positive_float, metavar="LR",
                        help="override the spec's learning rate")
    add_batch_size(parser, "override the spec's batch size")
    parser.add_argument("--seed", type=nonnegative_int, metavar="S",
                        help="override the spec's seed (weights, data order, dropout)")
    add_data(parser, "the run trains on")
    cores = KEYS["cores"].arg
    parser.add_argument("--cores", type=int_from(int(cores.low), int(cores.high)), metavar="N",
                        help="override the spec's cores: how many parts a batch runs as, side "
                        f"by side ({KEYS['cores'].default} unless the spec says otherwise)")
    add_data_dir(parser, "with --resume the run's own")
    parser.add_argument("--out", type=new_folder, metavar="DIR",
                        help="the run folder (default runs/<spec-name>-<YYYYmmdd-HHMMSS>); "
                        "must not exist or be empty")
    parser.add_argument("--runs-dir", metavar="DIR", type=new_folder,
                        help="where default run folders go (default runs)")
    parser.add_argument("--weights-from", metavar="RUN", type=run_folder_in,
                        help="start from the trained weights of RUN (fine-tuning): every layer "
                        "the networks share (same name and shapes), or those of --layers")
    parser.add_argument("--layers", metavar="NAME,...",
                        help="with --weights-from: the layers to take, separated by commas")
    parser.add_argument("--freeze", action="store_true",
                        help="with --weights-from: freeze the layers taken (train the rest)")
    parser.add_argument("--resume", metavar="RUN", type=run_folder_in,
                        help="continue a run stopped early (Ctrl-C, a failed write) from its "
                        "last checkpoint, in its folder; with --epochs N, train a run on to N "
                        "epochs in all")
    add_dtype(parser, f"the precision of the model, its data and checkpoints (default "
              f"{DEFAULT_DTYPE}; float64 is slower and matches finite differences)",
              default=None)
    add_ignore(parser)
    parser.add_argument("--quiet", action="store_true",
                        help="no progress output and no suggested next commands; only the "
                        "result: the test figures and the run folder")
    parser.add_argument("--stats", type=positive_int, metavar="N",
                        help="record per-layer activation and gradient statistics every N "
                        "steps (stats.jsonl and stats.png in the run folder)")


def run(args: argparse.Namespace) -> int:
    from cnnspec.training.loop import Interrupted  # NumPy: loaded when the command runs

    if args.spec is None and args.resume is None:
        raise InputError("nothing to train",
                         hint=f"give a spec ({typed('train', 'specs/digits.cnn')}) or a run to "
                         "continue (--resume RUN)")
    settings = cnnspec.Settings(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                seed=args.seed, data=args.data, cores=args.cores)
    options = {"data_dir": args.data_dir, "stats_every": args.stats,
               "progress": "none" if args.quiet else None}
    # how many of check's warnings for the run were printed before it trains (a warning said
    # alike of several layers, once)
    warned: list[int] = []

    def reported(warnings: list) -> None:
        warned.append(report(warnings))

    try:
        if args.resume is not None:
            _refuse_out_elsewhere(args.out, args.resume)
            _refuse_fresh_start_options(args)
            result = cnnspec.resume(args.resume, settings, spec=args.spec, **options)
        else:
            given = {key: getattr(args, key) for key in ("runs_dir", "dtype")
                     if getattr(args, key) is not None}  # else the library's defaults
            result = cnnspec.train(args.spec, settings, args.out, on_warnings=reported,
                                   ignore=args.ignore, weights_from=_weights_from(args),
                                   **given, **options)
    except Interrupted as exc:
        message, hint = exc.worded(OPTION_NAMES)
        print(f"cnnspec: {message}", file=sys.stderr)
        print(hint, file=sys.stderr)
        return EXIT_INTERRUPTED
    print(final_report(result, suggest_next=not args.quiet, warned=sum(warned)))
    return 0


def _weights_from(args: argparse.Namespace):
    if args.weights_from is None:
        if args.layers is not None or args.freeze:
            raise InputError("--layers and --freeze go with --weights-from RUN",
                           hint="name the run whose weights to start from")
        return None
    layers = None if args.layers is None else tuple(
        name.strip() for name in args.layers.split(",") if name.strip())
    if layers == ():  # an empty list would take no layer at all, silently
        raise InputError(f"--layers {args.layers!r} names no layer",
                         hint="name the layers to take, separated by commas (--layers "
                              "conv1,conv2), or drop --layers to take every shared layer")
    return cnnspec.WeightsFrom(args.weights_from, layers, args.freeze)


# Options that shape a new run, and so do nothing to a resumed one (which keeps its folder,
# dtype and weights): given with --resume, they would be silently ignored.
FRESH_START_OPTIONS = {"--weights-from": "weights_from", "--layers": "layers",
                       "--freeze": "freeze", "--dtype": "dtype", "--runs-dir": "runs_dir"}


def _refuse_fresh_start_options(args: argparse.Namespace) -> None:
    option = first_given(args, FRESH_START_OPTIONS)
    if option:
        raise InputError(f"{option} applies to a new run; --resume continues {args.resume} "
                         "with its own weights, dtype and folder",
                         hint=f"drop {option}, or start a new run with it instead of --resume")
    if args.ignore:  # check's warnings were said as the run started; a resumed run says none
        raise InputError("--ignore applies to a new run: --resume says no warnings of check",
                         hint="drop --ignore")


def _refuse_out_elsewhere(out, resume) -> None:
    """A run continues in its own folder: silently doing so would leave the user looking in
    ``--out``."""
    if out is not None and Path(out).resolve() != Path(resume).resolve():
        raise RunError(f"--out {out} cannot be used with --resume: a run continues in its own "
                       f"folder ({resume})",
                       hint=f"drop --out; to train again elsewhere, start a new run with "
                       f"--out {out}")


# Within this factor of 1/K the accuracy is what guessing one class gets: nothing was learned.
CHANCE_MARGIN = 1.2
# Fewer updates than this are too few to learn from, whatever the init and the lr.
FEW_STEPS = 20
# Fewer training images a class than this are too few to learn a class from (a val_split that
# holds out nearly everything).
FEW_IMAGES_PER_CLASS = 2


def chance_note(summary: dict, path, warned: int = 0, epoch: dict | None = None,
                held: list[str] | tuple = ()) -> list[str]:
    """A line for the run in ``path`` when its test accuracy is no better than guessing (a
    learning rate so large the ReLUs died, or an init that passes no signal), else nothing:
    10% on digits would otherwise read like a result. ``warned``: how many of check's warnings
    were printed before training, which may then name the cause. ``epoch``: the metrics of
    the epoch whose weights were tested; where its training accuracy shows the network
    learned, evaluation is what failed (:func:`_evaluation_note`), of which ``held``, the
    batch norms whose running statistics check says stay near their start
    (:func:`cnnspec.check.lints.batchnorm_start`), is the likeliest cause."""
    from cnnspec.training import rundir  # kept out of --help's start-up

    classes = len(summary.get("classes") or ())
    if classes < 2 or summary["test_acc"] > CHANCE_MARGIN / classes:
        return []
    spec = Path(path) / rundir.SPEC_CNN
    if not spec.is_file():  # trained from a .json IR
        spec = Path(path) / rundir.SPEC_JSON
    chance = (f"note: that is no better than guessing among {classes} classes "
              f"({rounded_text(100 / classes)}%)")
    guessing = f"{chance}: the network learned nothing"
    steps, images = summary.get("steps"), summary.get("train_examples")
    if isinstance(images, int) and images < FEW_IMAGES_PER_CLASS * classes:
        # val_split 0.999 leaves an image or two: no number of steps learns from those
        return [(f"{guessing} from {counted(images, 'training image')}, too few to learn "
                 f"{classes} classes from: hold out less to validate (val_split), or train on "
                 "more data")]
    if isinstance(steps, int) and steps < FEW_STEPS:  # a batch of all the images, one epoch
        smaller = "" if images == 1 else ", or with a smaller batch (an epoch is one step a batch)"
        return [(f"{guessing} in {counted(steps, 'step')}, too few to learn from: train more "
                 f"epochs{smaller}")]
    if epoch and epoch.get(TRAIN_ACC) is not None and epoch[TRAIN_ACC] >= _learned(classes):
        return [_evaluation_note(chance, epoch, held, warned)]
    # the init first: a warning about it (identical filters, a vanishing signal) printed
    # before training is the likelier cause than the learning rate
    report = f"`{typed('init-report', spec)}`"
    if warned:
        said = "warning printed before training names" if warned == 1 else \
            f"{warned} warnings printed before training name"
        return [(f"{guessing}. The {said} what may be the cause; {report} shows what the "
                 "init does to the signal")]
    return [(f"{guessing}. See what the init does to the signal with {report}, or try a lower "
            "--lr")]


# Training accuracy this many times the chance margin (or halfway from guessing to every image
# right, for few classes) shows the network learned from its training images.
TRAIN_LEARNED = 2


def _learned(classes: int) -> float:
    """The training accuracy over ``classes`` classes that shows the network learned
    (:data:`TRAIN_LEARNED`): 24% of 10 classes, 75% of 2."""
    return min(TRAIN_LEARNED * CHANCE_MARGIN / classes, (1 + 1 / classes) / 2)


def _evaluation_note(chance: str, epoch: dict, held: list[str] | tuple, warned: int) -> str:
    """The note for a run that learned its training images (``epoch``'s training accuracy)
    but evaluates at chance: what differs between training and evaluation, the running
    statistics of the batch norms ``held`` first, which check warned of where ``warned``."""
    val = epoch.get(VAL_ACC)
    val_text = "" if val is None else f", validation {rounded_text(100 * val)}%"
    note = (f"{chance}, though training classed {rounded_text(100 * epoch[TRAIN_ACC])}% of "
            f"its images right{val_text}: the network learned, but what it learned does not "
            "hold at evaluation. ")
    if held:
        where = " printed before training" if warned else ""
        verb = "normalises" if len(held) == 1 else "normalise"
        note += (f"Likeliest here: {listed([f'{name!r}' for name in held])} {verb} at "
                 "evaluation by running statistics still near their start (mean 0, variance "
                 f"1), as check's warning{where} says, where training normalised by each "
                 "batch's. Other usual causes: ")
    else:
        note += ("The usual causes: batch norm's running statistics, which evaluation "
                 "normalises by, far from the batches' (check warns of a momentum "
                 "too small for the run); ")
    return note + ("validation or test images of other classes than training's; or "
                   "overfitting, a network that memorised a few training images")


# The commands that open a run's best epoch's weights (best.npz) by default.
BEST_USED_BY = "eval, predict, export, filters and features"


def best_lines(summary: dict, training: dict) -> list[str]:
    """Where the run stopped and which epoch validated best (kept in best.npz, which
    :data:`BEST_USED_BY` use), when it had a validation split."""
    lines = []
    if summary.get("stopped_early"):
        lines.append(f"stopped early at epoch {summary['stopped_early']} of "
                     f"{training['epochs']}: {summary['monitor']} did not improve for "
                     f"{counted(training['early_stop'], 'epoch')} "
                     f"(early_stop {training['early_stop']})")
    if summary.get("best_epoch"):
        line = (f"best epoch {summary['best_epoch']} by {summary['monitor']} "
                f"({loss_text(summary['best_value'])})")
        kept = f"kept in best.npz: {BEST_USED_BY} use it"
        if summary["best_epoch"] == summary.get("epochs_done"):
            lines.append(f"{line}, the last, {kept}")
        else:
            # export, filters and features take no --last: said to them, it is refused
            lines.append(f"{line}, {kept} (eval --last and predict --last the last epoch's "
                         "weights)")
    return lines


def _tested_epoch(result) -> dict | None:
    """The metrics of the epoch whose weights the run's test figures are of."""
    tested = result.summary.get("test_epoch")
    rows = [row for row in result.metrics if row.get(EPOCH) == tested] or result.metrics[-1:]
    return rows[0] if rows else None


def _held_statistics(result) -> list[str]:
    """The batch norms of the run whose running statistics stay near their start over its
    steps, as check warns (:func:`cnnspec.check.lints.held_statistics`)."""
    from cnnspec.check.lints import held_statistics  # kept out of --help's start-up

    return [info.name for info in held_statistics(result.spec.spec, result.spec.layers)[1]]


def accuracy_text(summary: dict) -> str:
    """The test accuracy and loss of the weights the run keeps, and the last epoch's beside
    them when those are other weights (a best epoch before the last), each loss beside its own
    accuracy (a run recorded before the last epoch's loss was kept has its accuracy alone)."""
    text = f"test accuracy {100 * summary['test_acc']:.2f}%, loss {loss_text(summary['test_loss'])}"
    if summary["test_epoch"] == summary["epochs_done"]:
        return text
    last = f"last epoch {100 * summary['last_test_acc']:.2f}%"
    if summary.get("last_test_loss") is not None:
        last += f", loss {loss_text(summary['last_test_loss'])}"
    return (f"{text} (best weights, epoch {summary['test_epoch']} by {summary['monitor']}); "
            f"{last}")


def final_report(result, suggest_next: bool, warned: int = 0) -> str:
    """The last lines of ``cnnspec train``: the test figures, the folder, and (unless
    ``suggest_next`` is off, as with --quiet) the commands to try next; ``warned``: how many
    warnings were printed before training (:func:`chance_note`)."""
    summary = result.summary
    path = result.path
    # the data named, as eval names it: a spec without a train block trains on digits,
    # which nothing else the command prints says
    accuracy = (f"{accuracy_text(summary)}; "
                f"{counted(summary['test_examples'], 'test image')} "
                f"of {summary['data'].get('name')}; "
                f"trained in {summary['train_seconds']:.1f}s")
    lines = [accuracy, *chance_note(summary, path, warned, _tested_epoch(result),
                                    _held_statistics(result)),
             *best_lines(summary, result.training)]
    lines.append(f"run folder: {shown_path(path)}")
    if not suggest_next:
        return "\n".join(lines)
    from cnnspec.render.run_pictures import conv_layers

    lines += ["next:", f"  {typed('eval', path)}", f"  {typed('predict', path)} IMAGE.png"]
    # filters draws a conv layer's kernels, and refuses a network without one
    if conv_layers(result.spec):
        lines.append(f"  {typed('filters', path)} -o filters.png")
    return "\n".join(lines)
