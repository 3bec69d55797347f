"""``cnnspec sweep SPEC --set KEY=V1,V2 ...``: train a grid of settings x seeds on Dask."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnspec.cli import OPTION_NAMES, typed
from cnnspec.cli.arguments import (
    add_batch_size,
    add_data_dir,
    add_dtype,
    add_format,
    add_ignore,
    add_keep_weights,
    add_spec,
    new_folder,
    positive_int,
)
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import EXIT_INTERRUPTED, EXIT_USAGE, counted, shown_path

LOADS_NUMPY = True
DRAWS = True  # its pictures: matplotlib beside NumPy
HELP = "train a spec over a grid of settings, seeds and folds, on Dask (locally or a cluster)"

EPILOG = """\
examples:
  cnnspec sweep specs/digits.cnn --set 'init=he_normal,glorot_uniform,normal(0, 0.01)' \\
      --set lr=0.1,0.01 --seeds 3 --epochs 5
  cnnspec sweep specs/digits.cnn --set conv1.filters=8,16 --folds 5 --out runs/cv
  cnnspec sweep specs/digits.cnn --set batch=32,128 --scheduler tcp://scheduler-host:8786
  cnnspec sweep specs/digits.cnn --set init=he_normal,lecun_normal --dtype float64

KEY is a training setting (lr, batch, optimizer, weight_decay, schedule, epochs, ...), init or
bias (the default weight or bias init), LAYER.OPTION (conv1.filters, conv2.kernel,
fc1.weight), or dtype (float32,float64: each cell trains in one, as train's --dtype); values
are written as in a spec, separated by commas. Running the same sweep into the same --out
again trains only the cells not recorded there yet. A sweep of the same spec over other
settings, seeds, folds, epochs or dtypes goes on in that --out too: it trains only its cells
not recorded there (a cell of identical settings is reused), and the table shows every cell
the folder holds, each setting in which they differ a column. A spec changed since (its
layers or its train block) is refused there: sweep a change with --set, or give another --out.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_spec(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2",
                        dest="sets", help="a setting and the values to sweep; repeat for "
                        "more settings (every combination trains)")
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="K",
                        help="train every cell with seeds 0..K-1 (default %(default)s)")
    parser.add_argument("--folds", type=at_least_two, metavar="K",
                        help="k-fold cross-validation over the training split: K trainings "
                        "per cell, each validating on one fold")
    parser.add_argument("--epochs", type=positive_int, metavar="N",
                        help="epochs per training (default: the spec's)")
    add_batch_size(parser, "batch size for every cell (default: the spec's; --set "
                   "batch=V1,V2 sweeps it)")
    parser.add_argument("--out", metavar="DIR", type=new_folder,
                        help="the sweep folder (default runs/sweep-<spec-name>-<time>); an "
                        "earlier sweep's folder is taken up where it stopped")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler, tcp://HOST:PORT (default: a local "
                        "cluster of worker processes)")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="worker processes of the local cluster (default: one per core, "
                        "at most one per training and as many as fit in memory)")
    add_dtype(parser, f"the precision every cell trains in, its data and weights, as `train "
              f"--dtype` (default {DEFAULT_DTYPE}; --set dtype=V1,V2 trains each cell in each)",
              default=None)
    add_keep_weights(parser, "each cell")
    add_format(parser)
    add_ignore(parser)
    add_data_dir(parser)


def at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("k-fold cross-validation needs at least 2 folds")
    return value


def run(args: argparse.Namespace) -> int:
    # deferred: Dask and training (NumPy) load when the command runs
    from cnnspec.cli.check import report
    from cnnspec.sweep.concurrency import largest_process, refuse_beyond_memory
    from cnnspec.sweep.executor import (
        INSTALL_HINT,
        DaskExecutor,
        dask_available,
        default_workers,
    )
    from cnnspec.sweep.results import describe_cell, format_table
    from cnnspec.sweep.runner import plan, sweep, write_outputs
    from cnnspec.training.files import json_text
    from cnnspec.training.settings import Settings

    if args.workers and args.scheduler:
        print("cnnspec: error: --workers sizes the local cluster; a cluster at --scheduler "
              "has the workers started on it", file=sys.stderr)
        return EXIT_USAGE
    # The spec and the --set values are checked first: their mistakes are worth hearing
    # before the missing extra.
    settings = Settings(epochs=args.epochs, batch_size=args.batch_size)
    planned = plan(args.spec, args.sets, args.seeds, args.folds, settings, on_warnings=report,
                   dtype=args.dtype, ignore=args.ignore)
    if not dask_available():
        print(f"cnnspec: error: `{typed('sweep')}` runs on Dask distributed, which is not "
              f"installed\nhint: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_USAGE
    # Without --out the folder is named when the sweep starts (numbered if another sweep took
    # the name in the same second).
    out = Path(args.out) if args.out else None

    process = 0  # the memory of the heaviest cell's training, where they share this machine
    if args.scheduler is None:
        process = largest_process(planned.cells)
        if args.workers:
            refuse_beyond_memory(args.workers, process, "workers", args.spec)

    def executor(n: int):
        return DaskExecutor(args.scheduler,
                            workers=args.workers or default_workers(n, process))

    def started(running, n: int, where: Path) -> None:
        precision = f" in {args.dtype}" if args.dtype not in (None, DEFAULT_DTYPE) else ""
        print(f"training {counted(n, 'cell')}{precision} {running.description}",
              file=sys.stderr, flush=True)
        if running.dashboard:
            print(f"dashboard: {running.dashboard}", file=sys.stderr, flush=True)

    def swept(folder: Path | None):
        return sweep(args.spec, args.sets, seeds=args.seeds, folds=args.folds,
                     settings=settings, out=folder, planned=planned, dtype=args.dtype,
                     executor=executor, data_dir=args.data_dir,
                     keep_weights=args.keep_weights, on_start=started,
                     on_done=lambda cell, res: print(
                         describe_cell(cell.label, res, res.worded_hint(OPTION_NAMES)),
                         file=sys.stderr, flush=True))

    def reported(result) -> None:
        paths = write_outputs(result)
        # Flushed before the stderr lines: see init_report.run.
        # the JSON is results.json's text, as written
        text = (json_text(result.results) if args.format == "json"
                else format_table(result.groups, result.columns, result.out, result.spread,
                                  result.trained_in) + "\n"
                + (f"{result.reach}\n" if result.reach else ""))
        print(text, end="", flush=True)
        print("wrote " + ", ".join(shown_path(p) for p in paths), file=sys.stderr)

    return stopped_or_reported(swept, out, reported, "sweep", "cell")


def stopped_or_reported(trained, out: Path | None, reported, what: str, cell: str) -> int:
    """Train with ``trained(out)`` (a sweep's or a comparison's, of ``what`` and its ``cell``s)
    and print its outcome with ``reported``; the exit code. A Ctrl-C that leaves cells to
    train says which and how to train them; one after every cell had trained stops no
    training: the results are written (``trained`` again into its folder trains nothing) and
    the command ends as it would have, saying so. Once every cell has trained, a Ctrl-C waits
    for the results to be written."""
    from cnnspec.sweep.results import (
        SweepStopped,
        finished_message,
        recorded_message,
        stopped_message,
    )
    from cnnspec.training.interrupts import interrupts_held

    finishing = None  # the folder of cells all trained when a Ctrl-C came
    try:
        result = trained(out)
    except SweepStopped as stop:
        if stop.left:
            print(stopped_message(what, cell, stop, out is not None), file=sys.stderr)
            return EXIT_INTERRUPTED
        finishing = stop.out
    except KeyboardInterrupt:  # before its folder was taken up
        print(stopped_message(what, cell, None, out is not None), file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        with interrupts_held():  # delivered once the results are written, then ignored
            if finishing is not None:
                result = trained(finishing)  # its cells are recorded: it trains none
            else:
                recorded = recorded_message(result, what, cell)
                if recorded:
                    print(recorded, file=sys.stderr)
            reported(result)
    except KeyboardInterrupt:
        if finishing is None:
            finishing = result.out
    if finishing is not None:
        print(finished_message(what, cell, finishing), file=sys.stderr)
    return 0

