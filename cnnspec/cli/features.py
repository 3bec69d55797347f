"""``cnnspec features RUN INPUT -o FILE.png``: one input and the feature map each conv layer
of a trained run makes of it."""
from __future__ import annotations

from pathlib import Path

from cnnspec.cli import print_note, typed
from cnnspec.cli.arguments import (
    ARRAY_INPUT,
    PICTURE_INPUT,
    add_output,
    add_run,
    input_file,
    nonnegative_int,
    output_file,
    refuse_writing_over_inputs,
)
from cnnspec.errors import InputError, shown_path

LOADS_NUMPY = True
DRAWS = True  # its pictures: matplotlib beside NumPy
HELP = "draw an input image and the feature maps every conv layer makes of it"


def add_arguments(parser) -> None:
    add_run(parser)
    parser.add_argument("input", metavar="INPUT", nargs="?", type=input_file,
                        help=f"a PNG/JPEG image ({PICTURE_INPUT}) or a .npy array "
                             f"{ARRAY_INPUT}, values in [0, 1] or 0..255; or use --index")
    parser.add_argument("--index", type=nonnegative_int, metavar="N",
                        help="use image N of the run's test split instead of a file")
    add_output(parser, output_file(".png"), "where to write the PNG", metavar="FILE.png",
               required=True)


def run(args) -> int:
    if (args.input is None) == (args.index is None):
        raise InputError("give either an INPUT file or --index N, not both and not neither",
                         hint=f"e.g. {typed('features')} RUN digit.png -o features.png, or "
                              f"{typed('features')} RUN --index 0 -o features.png")
    refuse_writing_over_inputs([("-o", args.output)], [("the run", args.run),
                                                       ("the input", args.input)])

    # deferred: NumPy loads when the command runs (`cnnspec --help` stays fast)
    import numpy as np

    from cnnspec.data import load_image
    from cnnspec.render.run_pictures import features_picture, test_split_image
    from cnnspec.training.run import load_run

    loaded = load_run(args.run, which_taken=False)  # no --last
    print_note(loaded.metrics_note)
    if args.index is not None:
        image, caption = test_split_image(loaded, args.index)
    else:
        image, note = load_image(args.input, tuple(loaded.spec.input_shape),
                                 dtype=loaded.input_dtype)
        image = np.asarray(image, dtype=np.float64)
        caption = Path(args.input).name + (f" ({note})" if note else "")
    out = features_picture(loaded, image, args.output, caption=caption)
    print(f"wrote {shown_path(out)}")
    return 0
