"""``cnnspec compare SPEC --init A --init B``: train each init variant and compare them."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnspec.cli import OPTION_NAMES
from cnnspec.cli.arguments import (
    add_batch_size,
    add_data,
    add_data_dir,
    add_dtype,
    add_format,
    add_ignore,
    add_inits,
    add_keep_weights,
    add_output,
    add_spec,
    fraction,
    new_folder,
    output_file,
    positive_float,
    positive_int,
    refuse_writing_over_inputs,
)
from cnnspec.errors import shown_path

LOADS_NUMPY = True
DRAWS = True  # its pictures: matplotlib beside NumPy
HELP = "train a spec under several weight inits (and seeds) and compare accuracy and curves"

EPILOG = """\
examples:
  cnnspec compare specs/digits.cnn --init he_normal --init "normal(0, 0.01)" --epochs 5
  cnnspec compare specs/plain30.cnn --init he_normal --init glorot_uniform --init lsuv \\
      --seeds 3 --jobs 2 -o curves.png
  cnnspec compare specs/digits.cnn --init he_normal --init "normal(0, 0.01)" --dtype float64
"""


def accuracy_fraction(text: str) -> float:
    """``--target``: a fraction in (0, 1]; a percentage such as 90 is named as the mistake."""
    try:
        return fraction(text)
    except argparse.ArgumentTypeError as exc:
        value = float(text) if text.replace(".", "", 1).isdigit() else None
        if value is not None and 1.0 < value <= 100.0:
            raise argparse.ArgumentTypeError(
                f"{exc}; accuracies are fractions: write {value / 100:g} for {value:g}%"
            ) from None
        raise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_spec(parser)
    add_inits(parser, "a model-wide default weight init to try, in the spec language; repeat "
              "for each variant (default: the spec as written)")
    parser.add_argument("--epochs", type=positive_int, metavar="N",
                        help="epochs per training (default: the spec's)")
    parser.add_argument("--lr", type=positive_float, metavar="LR",
                        help="learning rate for every variant (default: the spec's)")
    add_batch_size(parser, "batch size for every variant (default: the spec's)")
    add_data(parser, "every variant trains on")
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="K",
                        help="train each variant with seeds 0..K-1 (default %(default)s)")
    parser.add_argument("--jobs", type=positive_int, metavar="J",
                        help="trainings run in parallel processes (default: 2 where there are "
                        "two trainings or more, two cores and memory for two, else 1)")
    parser.add_argument("--target", type=accuracy_fraction, default=0.9, metavar="ACC",
                        help="validation accuracy whose first epoch is reported (default "
                        "%(default)s)")
    parser.add_argument("--out", type=new_folder, metavar="DIR",
                        help="folder for the run folders (default runs/compare-<spec-name>-"
                        "<time>); a folder an earlier comparison of the spec wrote is taken up: "
                        "only the runs it lacks train, and the table shows its runs too")
    add_output(parser, output_file(".png"), "learning curves of all variants (default "
               "<out>/curves.png)", metavar="FILE.png")
    add_dtype(parser, "the precision every variant trains in, its data and weights, as "
              "`train --dtype`")
    add_keep_weights(parser, "each variant's run")
    add_format(parser)
    add_ignore(parser)
    add_data_dir(parser)


def run(args: argparse.Namespace) -> int:
    # deferred: training (NumPy) loads when the command runs (`cnnspec --help` stays fast)
    from functools import cache

    from cnnspec.cli.check import report
    from cnnspec.cli.sweep import stopped_or_reported
    from cnnspec.lab.jsonout import dumps
    from cnnspec.sweep.compare import (
        compare,
        describe_result,
        format_table,
        plan_comparison,
        plot,
    )

    refuse_writing_over_inputs([("-o", args.output)], [("the spec", args.spec)])

    # Planned once, by the first comparison (a Ctrl-C as the spec is checked stops it before
    # any run trained): one finished after a Ctrl-C does not say the checks' warnings again.
    @cache
    def planned():
        return plan_comparison(args.spec, args.inits, epochs=args.epochs, seeds=args.seeds,
                               lr=args.lr, batch_size=args.batch_size, data=args.data,
                               on_warnings=report,
                               dtype=args.dtype, ignore=args.ignore)

    def compared(folder: Path | None):
        return compare(args.spec, args.inits, epochs=args.epochs, seeds=args.seeds,
                       jobs=args.jobs, out=folder, target=args.target,
                       data_dir=args.data_dir, lr=args.lr, batch_size=args.batch_size,
                       data=args.data,
                       on_done=lambda result: print(
                           describe_result(result, OPTION_NAMES), file=sys.stderr,
                           flush=True),
                       dtype=args.dtype, keep_weights=args.keep_weights, planned=planned())

    def reported(comparison) -> None:
        curves = plot(comparison, args.output)
        # Flushed before the stderr line: see init_report.run.
        text = (dumps(comparison.to_dict(OPTION_NAMES)) if args.format == "json"
                else format_table(comparison))
        print(text, flush=True)
        print(f"wrote {shown_path(curves)}", file=sys.stderr)

    return stopped_or_reported(compared, args.out, reported, "comparison", "run")
