"""``cnnspec init-report SPEC``: what each layer does to the signal right after initialisation."""
from __future__ import annotations

import argparse
import sys

from cnnspec.cli import OPTION_NAMES, terminal_width
from cnnspec.cli.arguments import (
    add_batch_size,
    add_data,
    add_data_dir,
    add_dtype,
    add_format,
    add_ignore,
    add_inits,
    add_output,
    add_spec,
    first_given,
    nonnegative_int,
    output_file,
    positive_int,
    refuse_writing_over_inputs,
    sizes,
)
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import InputError, counted, shown_path
from cnnspec.lab.defaults import BATCH_SIZE, MEASURED_GRID, ROWS

# The Jacobian at a few inputs of the batch: each costs a backward pass per output unit.
JACOBIAN_INPUTS = 4
# Work above this many FLOPs gets a hint naming the options that shrink it: at the 10-50
# GFLOP/s a core computes these float64 passes at, it is from half a minute to minutes.
LARGE_FLOPS = 10 ** 12

LOADS_NUMPY = True
HELP = ("per-layer activation and gradient statistics of the freshly initialised network; "
        "with --phase its order/chaos phase diagram, with --jacobian its Jacobian's singular "
        "values")

EPILOG = """\
two tables per init (per layer, over the whole batch; --format json has every column in one):
the signal through every layer
  act mean, act std   mean and std of the layer's output
  std/input           act std over the input's std (He et al. 2015: a good init keeps it
                      from shrinking or growing exponentially with depth)
  dead                share of a ReLU's outputs that are exactly zero
  grad std            std of d loss / d output (the signal on the way back), per value: a
                      larger map spreads a gradient over more values, so the line below
                      the tables also gives its norm per input, and -o's picture draws it
then the weights of each layer that has them
  fan_in, fan_out     the fans the init's formula reads: a conv's C/G*kh*kw and F*kh*kw
                      (C input channels, F filters, G groups), a transposed conv's F/G*kh*kw
                      and C*kh*kw, a dense layer's inputs and units
  w std, w std exp.   the weights' std as drawn, and as the init's formula says from the
                      fans (he_normal: sqrt(2 / fan_in); glorot: sqrt(2 / (fan_in + fan_out)))
  w bound exp.        the bound the formula gives: a of U(-a, a) (glorot_uniform:
                      sqrt(6 / (fan_in + fan_out))), or the half-width of a truncated
                      normal's cut about its mean; - for a normal
  w grad std          std of d loss / d weight
  same filters        YES when all filters start identical and stay so: SGD can never make
                      them differ (a constant or a kernel the same for every filter, read by
                      layers that weigh its channels alike, or weights that never change,
                      an output layer's too, or frozen copies of one kernel); 16 of 32 when
                      only some do (identity's all-zero filters beyond the input's channels,
                      which a ReLU passes no gradient); no when none do; as check works it
                      out and warns of it

examples:
  cnnspec init-report specs/he2015_plain30.cnn --input gaussian --batch-size 4 \\
      --init he_normal --init glorot_normal --init "normal(0, 0.01)" -o depth.png
  cnnspec init-report specs/digits.cnn --format json

--phase (mean-field theory, Poole et al. 2016; Schoenholz et al. 2017; docs/critical-init.md):
  the order/chaos phase diagram of the spec's hidden nonlinearity over (sigma_w, sigma_b),
  weights N(0, sigma_w^2 / fan_in), biases N(0, sigma_b^2): the depth scale xi_c, the critical
  line chi_1 = 1, where each named init sits, and chi_1 and the correlation of two inputs
  measured on the network itself at a grid of points.
  cnnspec init-report specs/deep_tanh200.cnn --phase -o phase.png

--jacobian (Xiao et al. 2018; Pennington et al. 2017): singular values of the Jacobian of a
  layer's output (default: the last feature map) with respect to the input, per --init.
  It first says the forward and backward passes and FLOPs it will run (fewer with --rows,
  --batch-size 1, fewer --init or an earlier --layer), then shows them run. This one is 136 GFLOP:
  cnnspec init-report specs/deep_tanh200.cnn --jacobian --init "delta_orthogonal(gain=1)" \\
      --init glorot_normal --init he_normal -o jacobian.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_spec(parser)
    add_inits(parser, "replace the model-wide default weight init, in the spec language "
              "(he_normal, glorot_uniform, \"normal(0, 0.01)\", lsuv, ...); repeat to compare "
              "several; default: the spec as written")
    parser.add_argument("--input", choices=("data", "gaussian"), default="data",
                        help="the batch: training images of the spec's dataset (or --data's), "
                        "preprocessed (default), or unit Gaussian noise")
    add_data(parser, "the batch is drawn from (with --input data)")
    add_batch_size(parser, f"batch size (default {BATCH_SIZE}; --jacobian is taken at its "
                   f"first {JACOBIAN_INPUTS} inputs at most)", default=BATCH_SIZE)
    parser.add_argument("--seed", type=nonnegative_int, default=0, metavar="S",
                        help="seed of the weights and the batch (default 0)")
    add_format(parser)
    add_output(parser, output_file(".png"), "also draw a picture: activation std and "
               "gradient norm per input against depth; with --phase the phase diagram, with "
               "--jacobian the singular values per init", metavar="FILE.png")
    add_data_dir(parser)
    add_dtype(parser, "the precision the statistics are measured in, as `train --dtype` "
              "trains: in float32 a signal below about 1e-38 reads as 0 (a deep net's "
              "vanishing one), in float64 down to about 1e-308 (default float32; --phase and "
              "--jacobian always compute in float64 and take no --dtype)", default=None)
    add_ignore(parser)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--phase", action="store_true",
                      help="the order/chaos phase diagram of the network (mean-field theory "
                      "and measurement) instead of the per-layer statistics")
    what.add_argument("--jacobian", action="store_true",
                      help="the singular values of the input-output Jacobian per init instead "
                      "of the per-layer statistics")
    parser.add_argument("--grid", type=sizes(2, 2, "two whole numbers >= 2 as WxB, e.g. 8x5"),
                        metavar="WxB",
                        help="--phase: measured points, sigma_w x sigma_b (default "
                        f"{MEASURED_GRID[0]}x{MEASURED_GRID[1]})")
    parser.add_argument("--layer", metavar="NAME",
                        help="--jacobian: the layer whose output ends the Jacobian (default: "
                        "the last layer with a feature map, else the last hidden layer)")
    parser.add_argument("--rows", type=positive_int, metavar="K",
                        help="--jacobian: exact up to K output units, else estimated from K "
                        "random orthonormal output directions: the mean sigma^2 unbiased, the "
                        f"quantiles approximate (default {ROWS})")


# The options of each mode (mode's flag -> option -> its attribute): given without the mode
# they would be ignored, and the user left believing they took effect.
MODE_OPTIONS = {"--phase": {"--grid": "grid"},
                "--jacobian": {"--rows": "rows", "--layer": "layer"}}


def refuse_options_without_their_mode(args: argparse.Namespace) -> None:
    for mode, options in MODE_OPTIONS.items():
        option = None if getattr(args, mode.lstrip("-")) else first_given(args, options)
        if option:
            raise InputError(f"{option} goes with {mode}, which was not given",
                             hint=f"add {mode}, or drop {option}")
    if args.data and (args.phase or args.input == "gaussian"):
        given = "--phase" if args.phase else "--input gaussian"
        raise InputError(f"--data goes with a batch of the data: {given} measures on noise",
                         hint=f"drop --data, or drop {given}")
    mode = "--phase" if args.phase else "--jacobian" if args.jacobian else None
    if mode and args.dtype:
        raise InputError(f"--dtype goes with the per-layer statistics: {mode} computes in "
                         "float64", hint=f"drop --dtype, or drop {mode}")
    if mode and args.ignore:
        raise InputError(f"--ignore goes with the per-layer statistics: {mode} prints no "
                         "warnings of check", hint=f"drop --ignore, or drop {mode}")


def run(args: argparse.Namespace) -> int:
    refuse_options_without_their_mode(args)
    refuse_writing_over_inputs([("-o", args.output)], [("the spec", args.spec)])
    if args.phase:
        return run_phase(args)
    if args.jacobian:
        return run_jacobian(args)
    # deferred: the lab (NumPy) loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.cli.check import report as report_warnings
    from cnnspec.lab.report import format_json, format_table, init_report, plot

    report = init_report(args.spec, args.inits, input_kind=args.input, batch_size=args.batch_size,
                         seed=args.seed, data_dir=args.data_dir,
                         dtype=args.dtype or DEFAULT_DTYPE, ignore=args.ignore, data=args.data)
    # Flushed before the stderr line below: on a shared pipe a block-buffered stdout would
    # otherwise hold back the table's last newline and run the two lines together.
    print(format_json(report) if args.format == "json"
          else format_table(report, terminal_width(sys.stdout)), flush=True)
    report_warnings(report.warnings)
    if args.output:
        print(f"wrote {shown_path(plot(report, args.output))}", file=sys.stderr)
    return 0


def run_phase(args: argparse.Namespace) -> int:
    from cnnspec.lab.critical_plots import plot_phase
    from cnnspec.lab.jsonout import dumps
    from cnnspec.lab.phase import format_phase, phase_report

    shown = PassesShown("phase", phase_work_lines)
    try:
        report = phase_report(args.spec, args.inits, grid=args.grid or MEASURED_GRID,
                              seed=args.seed, start=shown.start, advance=shown.advance)
    finally:
        shown.close()
    print(dumps(report.to_dict()) if args.format == "json" else format_phase(report), flush=True)
    if args.output:
        print(f"wrote {shown_path(plot_phase(report, args.output))}", file=sys.stderr)
    return 0


def flops_text(n: int) -> str:
    """``n`` FLOPs in the largest unit it makes at least one of (``17.2 TFLOP``)."""
    for unit, size in (("TFLOP", 10 ** 12), ("GFLOP", 10 ** 9), ("MFLOP", 10 ** 6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:,} FLOP"


def jacobian_work_text(work) -> str:
    """What ``--jacobian`` will compute (a :class:`cnnspec.lab.jacobian.JacobianWork`), said
    before it starts."""
    return (f"jacobian: {counted(work.variants, 'init')} x {counted(work.inputs, 'input')} x "
            f"{counted(work.directions, 'output direction')} = {work.passes:,} forward and "
            f"backward passes through {counted(work.layers, 'layer')}, about "
            f"{flops_text(work.flops)} in float64")


def jacobian_work_lines(work) -> list[str]:
    """What ``--jacobian`` will compute, and the options that shrink it when it is large."""
    hint = jacobian_work_hint(work)
    return [jacobian_work_text(work), *([hint] if hint else [])]


def phase_work_lines(work) -> list[str]:
    """What ``--phase`` will measure (a :class:`cnnspec.lab.phase.PhaseWork`), said before it
    starts, and the option that shrinks it when it is large."""
    lines = [(f"phase: {counted(work.points, 'grid point')} x {counted(work.inputs, 'input')} "
              f"= {work.passes:,} forward passes through {counted(work.layers, 'layer')}, "
              f"about {flops_text(work.flops)} in float64, and the theory beside each point")]
    if work.flops >= LARGE_FLOPS:
        # as the option is written, sigma_w x sigma_b
        lines.append(f"hint: this may take minutes; for less, a coarser --grid (now "
                     f"{work.grid[0]}x{work.grid[1]})")
    return lines


def jacobian_work_hint(work) -> str | None:
    """The options that shrink ``work``, when it is large (None otherwise)."""
    if work.flops < LARGE_FLOPS:
        return None
    return (f"hint: this may take minutes; for less, fewer --rows (now "
            f"{work.directions}: an estimate from fewer output directions), --batch-size 1 (one "
            f"input, now {work.inputs}), fewer --init (now {work.variants}), or --layer NAME "
            "to end the Jacobian at an earlier layer")


class PassesShown:
    """A measurement's work (``--jacobian``'s, ``--phase``'s: anything with ``passes``) said
    before it starts, in the ``lines`` its mode gives it, and its passes shown as they run, on
    ``stream`` (stderr): a bar named ``name`` on a terminal, else a line at each tenth done,
    as `train` shows its steps."""

    def __init__(self, name: str, lines, stream=None) -> None:
        self.name, self.lines = name, lines
        self.stream = stream or sys.stderr
        self.bar = None
        self.total = self.done = 0

    def start(self, work) -> None:
        for line in self.lines(work):
            print(line, file=self.stream, flush=True)
        self.total = work.passes
        if self.stream.isatty():
            from cnnspec.training.progress import terminal_bar

            self.bar = terminal_bar(work.passes, self.name, "pass", self.stream)

    def advance(self, passes: int) -> None:
        tenth = 10 * self.done // self.total
        self.done += passes
        if self.bar is not None:
            self.bar.update(passes)
        elif 10 * self.done // self.total > tenth:
            print(f"{self.name}: {self.done:,}/{self.total:,} passes "
                  f"({self.done / self.total:.0%})", file=self.stream, flush=True)

    def close(self) -> None:
        """Release the terminal, after the work or a Ctrl-C."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_jacobian(args: argparse.Namespace) -> int:
    from cnnspec.lab.critical_plots import plot_jacobian
    from cnnspec.lab.jacobian import format_jacobian, jacobian_report
    from cnnspec.lab.jsonout import dumps

    shown = PassesShown("jacobian", jacobian_work_lines)
    try:
        report = jacobian_report(args.spec, args.inits, layer=args.layer,
                                 rows=args.rows or ROWS,
                                 inputs=min(args.batch_size, JACOBIAN_INPUTS),
                                 input_kind=args.input, seed=args.seed, data_dir=args.data_dir,
                                 start=shown.start, advance=shown.advance, data=args.data)
    finally:
        shown.close()
    print(dumps(report.to_dict(OPTION_NAMES)) if args.format == "json"
          else format_jacobian(report, OPTION_NAMES), flush=True)
    if args.output:
        print(f"wrote {shown_path(plot_jacobian(report, args.output))}", file=sys.stderr)
    return 0
