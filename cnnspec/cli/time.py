"""``cnnspec time SPEC [--batch-size N] [--iterations K] [--dtype D] [--calibrate]
[--format json]``: where a training step's time goes, layer by layer (as ``caffe time``).

The spec's model is compiled and trained on random inputs of its input shape in one thread
(:func:`cnnspec.engine.timing.time_step`); each layer's forward and backward milliseconds
(medians over the iterations), its GFLOP/s (FLOPs from the layer's shapes,
:func:`cnnspec.kinds.layer_flops`), its share of the step, the loss and the optimizer update,
against what one large matrix product in the same dtype reaches on one core of the machine.
With ``--calibrate``, the machine's convolution thresholds are measured again first and kept
(:func:`cnnspec.engine.conv_tuned.recalibrate`), and the step is timed with them.
"""
from __future__ import annotations

import os
import sys

from cnnspec.cli import terminal_width, typed
from cnnspec.cli.arguments import (
    add_batch_size,
    add_dtype,
    add_format,
    add_ignore,
    add_spec,
    positive_int,
)
from cnnspec.errors import counted

LOADS_NUMPY = True
HELP = "time a training step of a spec layer by layer: forward and backward ms, GFLOP/s, shares"


def add_arguments(parser) -> None:
    add_spec(parser)
    add_batch_size(parser, "images per step (default: the spec's batch size)")
    parser.add_argument("--iterations", type=positive_int, default=10, metavar="K",
                        help="timed steps; every figure is the median over them (default "
                        "%(default)s)")
    add_dtype(parser, "the precision the step computes in, as `train --dtype`")
    parser.add_argument("--calibrate", action="store_true",
                        help="first measure this machine's convolution thresholds again (best "
                        "on a quiet machine) and keep them in place of those its first use "
                        "kept, then time the step with them")
    add_format(parser)
    add_ignore(parser)


def run(args) -> int:
    # deferred: NumPy and the checker load when the command runs (`cnnspec --help` stays fast)
    import numpy as np

    from cnnspec import compile as compile_spec
    from cnnspec import load
    from cnnspec.check.memory import SMALLER_BATCH, Task, refuse_beyond_memory
    from cnnspec.engine.blas import blas_text
    from cnnspec.engine.calibrate import cpu_model, load_averages
    from cnnspec.engine.conv_tuned import recalibrate
    from cnnspec.engine.timing import time_step
    from cnnspec.kinds import layer_flops
    from cnnspec.lab.batch import gaussian_inputs, refuse_random_labels
    from cnnspec.training.mults import training_optimizer

    # Timed on random inputs at its own batch, not trained: what check says of training the
    # spec (its init, its data, its training step's memory) is pointed to, not repeated, so
    # that the table stays what is read; the timed step's memory is checked before anything
    # is allocated. The warnings of the lints --ignore names are not pointed to, and the
    # command pointed to carries the same --ignore, so that it shows just what was meant.
    checked = load(args.spec, for_training=False, dtype=args.dtype, ignore=args.ignore)
    refuse_random_labels(checked)
    from cnnspec.training.compat import unread_file_warnings

    if checked.warnings or unread_file_warnings(checked):
        ignored = f" --ignore {','.join(args.ignore)}" if args.ignore else ""
        print(f"note: `{typed('check', args.spec)}{ignored}` has warnings or errors about "
              "training this spec; the timing runs on random inputs without them",
              file=sys.stderr)
    training = checked.ir["training"]
    batch = args.batch_size or training["batch_size"]
    refuse_beyond_memory(checked, batch, args.dtype,
                         Task("timing a step", SMALLER_BATCH, reads_data=False,
                              whole=True, batch_setting="batch_size",
                              spec_batch=args.batch_size is None,
                              recalibrates=args.calibrate))
    calibrated = recalibrate() if args.calibrate else None
    model = compile_spec(checked, seed=0, dtype=args.dtype)
    x, y = gaussian_inputs(checked, batch, np.random.default_rng(0), model.dtype)
    optimizer = training_optimizer(training, model)  # lr_mult, decay_mult: as train steps
    infos = checked.by_name
    timing = time_step(model, x, y, optimizer, training["lr"], args.iterations,
                       flops_of=lambda name, need_dx: layer_flops(infos[name], need_dx))
    # The machine's state beside the figures, which depend on it: measured after the steps,
    # the load averages include them.
    about = {"model": checked.ir["name"], "cpu": cpu_model(), "cores": os.cpu_count(),
             "load_averages": load_averages(), "blas": blas_text(),
             "dtype": str(model.dtype), "optimizer": training["optimizer"]["name"]}
    if args.format == "json":
        report = {**about, **timing.as_dict(), "busy_note": busy_note(timing, about),
                  "columns": dict(COLUMNS), "conv_paths": conv_paths(timing)}
        if calibrated is not None:
            report["calibration"] = calibration_dict(calibrated)
        import json  # for --format json alone: `cnnspec --help` imports this module

        print(json.dumps(report, indent=2))
    else:
        if calibrated is not None:
            print(calibration_text(calibrated) + "\n")
        print(table(timing, about, terminal_width(sys.stdout)))
    return 0


# What a recalibration's report says of it, in text and JSON alike.
CALIBRATION_NOTE = ("measured on one BLAS thread, as a first use measures; a quiet machine "
                    "measures best (other programs' load can make a poorer limit look "
                    "fastest). Runs before and after this may differ in the last bits of "
                    "their values: the limits set the order of a convolution's sums, which "
                    "is why they are kept")
# The limits of the machine's file, in the order and the words the text report gives them.
LIMIT_NAMES = {"chunk_columns": "column limit", "winograd_bytes": "Winograd chunk limit",
               "block_bytes": "block limit",
               "chunk_bytes": "chunk bytes (the L2 cache, read)"}


def calibration_dict(done) -> dict:
    """A recalibration (:class:`cnnspec.engine.calibrate.Recalibration`) as JSON: the file,
    the limits it held before (null: none) and those measured now."""
    return {"path": str(done.path), "old": done.old.as_dict() if done.old else None,
            "new": done.new.as_dict(), "note": CALIBRATION_NOTE}


def calibration_text(done) -> str:
    """A recalibration as text: each limit old -> new, the file, the note."""
    from cnnspec.check.memory import bytes_text

    def shown(name: str, value: int) -> str:
        return f"{value} columns" if name == "chunk_columns" else bytes_text(value)

    width = max(map(len, LIMIT_NAMES.values())) + 2
    rows = ["calibrated the convolution thresholds (before -> now):"]
    for name, words in LIMIT_NAMES.items():
        before = shown(name, getattr(done.old, name)) if done.old else "none kept"
        rows.append(f"  {words:<{width}}{before} -> {shown(name, getattr(done.new, name))}")
    rows += [f"kept in {done.path}", f"note: {CALIBRATION_NOTE}"]
    return "\n".join(rows)


# What each column of the table measures, said below it (and in JSON as "columns"): a
# rate means little without how its operations are counted and what it is set beside.
COLUMNS = (
    ("forward ms, backward ms", "the layer's passes, the median over the timed steps"),
    ("GFLOP/s", ("billions of floating-point operations a second over both passes, the "
     "operations counted from the layer's shapes (a multiply-add is 2; a conv or dense "
     "layer's backward is up to two products the size of its forward, the weights' and the "
     "input's gradients), so a Winograd conv, which does fewer than it is counted, can pass "
     "the peak; a conv or dense layer near the peak keeps the core's arithmetic busy, while "
     "an activation, pool, norm or dropout does a few operations a value and waits on "
     "memory: a rate far below the peak is theirs by nature, and their share says what they "
     "cost")),
    ("share", "of the sum of the parts"),
)


def columns_text() -> str:
    """The table's columns and what each measures, on one line."""
    return "columns: " + "; ".join(f"{name}: {meaning}" for name, meaning in COLUMNS)


def table(timing, about: dict, width: int | None = None) -> str:
    """The report as text: one row per layer, then the loss, the update and the totals, and
    what the columns mean (wrapped to ``width``; None: on one line, as through a pipe)."""
    from cnnspec.diagnostics import wrapped
    from cnnspec.engine.calibrate import load_text

    head = (f"{about['model']}: batch {timing.batch}, {about['dtype']}, "
            f"{about['optimizer']}, {timing.threads} thread, median of "
            f"{counted(timing.iterations, 'step')}; CPU: {about['cpu']}, "
            f"{counted(about['cores'] or 1, 'core')}, load {load_text(about['load_averages'])} "
            f"(1, 5, 15 min); BLAS: {about['blas']}")
    names = [layer.name + (f" (+{', '.join(layer.fused)})" if layer.fused else "")
             for layer in timing.layers]
    kinds = [layer.kind + (f" ({layer.method})" if layer.method else "")
             for layer in timing.layers]
    # Columns as wide as their longest entry, so a fused row's name never runs into its kind.
    name_width = max([len("layer"), *map(len, names)]) + 2
    kind_width = max([len("kind"), *map(len, kinds)]) + 2
    label_width = name_width + kind_width
    rows = [head, "",
            (f"{'layer':<{name_width}}{'kind':<{kind_width}}{'forward ms':>11}"
             f"{'backward ms':>12}{'GFLOP/s':>9}{'share':>8}")]
    for layer, name, kind in zip(timing.layers, names, kinds):
        # a reshape does no arithmetic: no rate to give
        rate = f"{layer.gflops:.1f}" if layer.forward_flops + layer.backward_flops else "-"
        rows.append(f"{name:<{name_width}}{kind:<{kind_width}}{layer.forward * 1e3:>11.3f}"
                    f"{layer.backward * 1e3:>12.3f}{rate:>9}"
                    f"{timing.share(layer.seconds):>8.1%}")
    rows.append(f"{'loss':<{label_width}}{timing.loss * 1e3:>11.3f}{'':>21}"
                f"{timing.share(timing.loss):>8.1%}")
    rows.append(f"{'update':<{label_width}}{'':>11}{timing.update * 1e3:>12.3f}{'':>9}"
                f"{timing.share(timing.update):>8.1%}")
    # The loss runs after the forward pass, the update after the backward: their columns.
    forward = (sum(layer.forward for layer in timing.layers) + timing.loss) * 1e3
    backward = (sum(layer.backward for layer in timing.layers) + timing.update) * 1e3
    rows += ["", (f"{'total (sum of the parts)':<{label_width}}{forward:>11.3f}{backward:>12.3f}"
                  f"   = {timing.total * 1e3:.3f} ms"),
             (f"a whole step, unclocked (median): {timing.step * 1e3:.3f} ms, "
              f"{_rate(timing.batch / timing.step)} images/s")]
    busy = busy_note(timing, about)
    if busy:
        rows += wrapped(f"note: {busy}", width, 2)
    if timing.peak_gflops is not None:
        from cnnspec.engine.timing import PEAK_SIZE

        rows.append(f"peak for comparison: one {PEAK_SIZE}x{PEAK_SIZE} {about['dtype']} "
                    f"matrix product, one thread: {timing.peak_gflops:.1f} GFLOP/s")
    rows += wrapped(columns_text(), width, 2)
    if not timing.finite:
        rows += wrapped("note: the values overflowed: after the timed steps the weights hold "
                        "NaN or infinity, and arithmetic on those can take other times than a "
                        f"healthy step's; `{typed('init-report')} SPEC` shows where the signal "
                        "grows", width, 2)
    return "\n".join(rows + _method_legend(timing, width))


def busy_note(timing, about: dict) -> str | None:
    """What it means that the sum of the parts and the whole step differ by more than they do
    on a quiet machine (:data:`cnnspec.engine.timing.AGREEMENT`), in text and JSON alike;
    None where they agree. Other processes' work lands in whole steps in bursts that the
    parts' medians leave out, so the whole comes out slower; images/s is the whole's."""
    from cnnspec.engine.calibrate import load_text
    from cnnspec.engine.timing import AGREEMENT

    if timing.parts_agree:
        return None
    low, high = AGREEMENT
    ratio = timing.parts_over_step
    # the whole is slower under load; a whole faster than its parts has no such reading
    slower = (f"a whole step took {1 / ratio:.1f}x the sum of its parts, and images/s, read "
              "from the whole step, is lower than this machine gives when quiet"
              if ratio < 1 else f"the sum of the parts is {ratio:.1f}x a whole step")
    return (f"{slower}: outside the {low:g}x-{high:g}x they agree within when nothing else "
            f"runs, so the machine was busy (load {load_text(about['load_averages'])} on "
            f"{counted(about['cores'] or 1, 'core')}) and other programs' work is in these "
            "figures; time again when the load is below the cores")


def _rate(per_second: float) -> str:
    """Images per second: whole above 100, else 3 significant digits (a step of seconds at
    batch 2 is 0.553 images/s, not "1" or "0")."""
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.3g}"


def conv_paths(timing) -> dict[str, str]:
    """What each convolution path the layers took means, in the order they first appear."""
    from cnnspec.engine.conv_tuned import METHODS

    return {layer.method: METHODS[layer.method] for layer in timing.layers
            if layer.method in METHODS}


def _method_legend(timing, width: int | None = None) -> list[str]:
    """What the convolution paths in the kind column mean, for those the table shows, each
    wrapped to ``width`` (None: on its one line)."""
    from cnnspec.diagnostics import wrapped

    shown = conv_paths(timing)
    if not shown:
        return []
    return ["", "conv paths (the kind column's brackets):",
            *(line for name, meaning in shown.items()
              for line in wrapped(f"  {name}: {meaning}", width, 4))]
