"""``cnnspec init-report SPEC``: what each layer does to the signal right after initialisation."""
from __future__ import annotations

import argparse
import sys

from cnnspec.cli.arguments import new_folder, nonnegative_int, output_file, positive_int, spec_file

HELP = "per-layer activation and gradient statistics of the freshly initialised network"

EPILOG = """\
columns (per layer, over the whole batch):
  act mean, act std   mean and std of the layer's output
  std/input           act std over the input's std (He et al. 2015: a good init keeps it
                      from shrinking or growing exponentially with depth)
  dead                share of a ReLU's outputs that are exactly zero
  w std, w std exp.   the weights' std as drawn, and as the init's formula says
  grad std            std of d loss / d output (the signal on the way back)
  w grad std          std of d loss / d weight
  same filters        YES when all filters and their gradients are identical: SGD can never
                      make them differ (constant init)

examples:
  cnnspec init-report specs/he2015_plain30.cnn --input gaussian --batch 4 \\
      --init he_normal --init glorot_normal --init "normal(0, 0.01)" -o depth.png
  cnnspec init-report specs/digits.cnn --format json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("spec", metavar="SPEC", type=spec_file, help="a .cnn spec or .json IR file")
    parser.add_argument("--init", action="append", metavar="NAME", dest="inits",
                        help="replace the model-wide default weight init, in the spec language "
                        "(he_normal, glorot_uniform, \"normal(0, 0.01)\", lsuv, ...); repeat "
                        "to compare several; default: the spec as written")
    parser.add_argument("--input", choices=("data", "gaussian"), default="data",
                        help="the batch: training images of the spec's dataset, preprocessed "
                        "(default), or unit Gaussian noise")
    parser.add_argument("--batch", type=positive_int, default=64, metavar="N",
                        help="batch size (default 64)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, metavar="S",
                        help="seed of the weights and the batch (default 0)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="output format (default table)")
    parser.add_argument("-o", "--output", type=output_file(".png"), metavar="FILE.png",
                        help="also draw activation and gradient std against depth")
    parser.add_argument("--data-dir", metavar="DIR", type=new_folder,
                        help="where downloaded datasets are cached")


def run(args: argparse.Namespace) -> int:
    # deferred: the lab (NumPy) loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.cli.check import report as report_warnings
    from cnnspec.lab.report import format_json, format_table, init_report, plot

    report = init_report(args.spec, args.inits, input_kind=args.input, batch_size=args.batch,
                         seed=args.seed, data_dir=args.data_dir)
    # Flushed before the stderr line below: on a shared pipe a block-buffered stdout would
    # otherwise hold back the table's last newline and run the two lines together.
    print(format_json(report) if args.format == "json" else format_table(report), flush=True)
    report_warnings(report.warnings)
    if args.output:
        print(f"wrote {plot(report, args.output)}", file=sys.stderr)
    return 0
