"""``cnnspec data SPEC [-o FILE.png] [--per-class K]``: a few training images of each class,
as loaded and as the spec's ``augment`` setting changes them."""
from __future__ import annotations

from cnnspec.cli.arguments import (
    add_data_dir,
    add_output,
    add_spec,
    output_file,
    positive_int,
    refuse_writing_over_inputs,
)
from cnnspec.errors import shown_path

LOADS_NUMPY = True
DRAWS = True  # its pictures: matplotlib beside NumPy
HELP = "draw training images of each class of a spec's data, as loaded and augmented"


def add_arguments(parser) -> None:
    add_spec(parser)
    add_output(parser, output_file(".png"), "where to write the PNG (default: named after "
               "the spec's file, digits-data.png for specs/digits.cnn)", metavar="FILE.png")
    parser.add_argument("--per-class", type=positive_int, default=6, metavar="K",
                        help="images of each class (default %(default)s, at most 16)")
    add_data_dir(parser)


def run(args) -> int:
    # deferred: NumPy and Matplotlib load when the command runs (`cnnspec --help` stays fast)
    from pathlib import Path

    from cnnspec.render.augment_grid import augment_picture

    output = args.output or f"{Path(args.spec).stem}-data.png"
    refuse_writing_over_inputs([("-o" if args.output else "the picture's default name",
                                 output)], [("the spec", args.spec)])
    out = augment_picture(args.spec, output, per_class=args.per_class,
                          data_dir=args.data_dir)
    print(f"wrote {shown_path(out)}")
    return 0
