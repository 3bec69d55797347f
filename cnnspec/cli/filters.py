"""``cnnspec filters RUN -o FILE.png``: the kernels of one conv layer of a trained run."""
from __future__ import annotations

from cnnspec.cli.arguments import add_output, add_run, output_file, refuse_writing_over_inputs
from cnnspec.errors import shown_path

LOADS_NUMPY = True
DRAWS = True  # its pictures: matplotlib beside NumPy
HELP = "draw the kernels of a conv layer of a trained run as a grid of tiles"


def add_arguments(parser) -> None:
    add_run(parser)
    add_output(parser, output_file(".png"), "where to write the PNG", metavar="FILE.png",
               required=True)
    parser.add_argument("--layer", metavar="NAME",
                        help="the conv layer to draw (default: the first conv layer); several "
                             "layers with kernels of one size (kh x kw), comma-separated, share "
                             "one grid (their input channels averaged, or side by side where "
                             "they read as many)")
    parser.add_argument("--compare-init", action="store_true",
                        help="draw each filter's initial kernel (from init.npz) beside the "
                             "learned one")
    parser.add_argument("--channels", choices=("average", "side"), default=None,
                        help="a filter has a kernel per input channel: draw their mean or "
                             "draw them side by side (default: the mean; side by side for "
                             "1x1 kernels, whose mean would show only a sign)")


def run(args) -> int:
    # deferred: NumPy loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.cli import print_note
    from cnnspec.render.run_pictures import filters_picture, frozen_default_note
    from cnnspec.training.run import load_run

    refuse_writing_over_inputs([("-o", args.output)], [("the run", args.run)])
    loaded = load_run(args.run, which_taken=False)  # no --last
    print_note(loaded.metrics_note)
    out = filters_picture(loaded, args.output, layer=args.layer,
                          compare_init=args.compare_init, channels=args.channels)
    print(f"wrote {shown_path(out)}")
    print_note(frozen_default_note(loaded.spec) if args.layer is None else None)
    return 0
