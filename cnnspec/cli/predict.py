"""``cnnspec predict RUN INPUT...``: class probabilities for images and arrays."""
from __future__ import annotations

import argparse

from cnnspec.cli import print_note
from cnnspec.cli.arguments import (
    ARRAY_INPUT,
    PICTURE_INPUT,
    add_run,
    add_weights_and_format,
    input_file,
    positive_int,
    weights_chosen,
    weights_line,
)

LOADS_NUMPY = True
HELP = "class probabilities of a trained run for PNG/JPEG images or .npy arrays"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run(parser)
    parser.add_argument("inputs", metavar="INPUT", nargs="+", type=input_file,
                        help=f"PNG/JPEG images ({PICTURE_INPUT}) or .npy arrays {ARRAY_INPUT}, "
                        "or a batch of them (N, C, H, W), values in [0, 1] or 0..255")
    parser.add_argument("--top", type=positive_int, default=3, metavar="K",
                        help="how many of the likeliest classes to list (default %(default)s)")
    add_weights_and_format(parser)


def run(args: argparse.Namespace) -> int:
    # deferred: training (NumPy) loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.training.predict import format_predictions, predict
    from cnnspec.training.run import load_run

    loaded = load_run(args.run, weights_chosen(args))
    print_note(loaded.metrics_note)
    results = predict(loaded, args.inputs, top=args.top)
    if args.format == "json":
        import json  # for --format json alone: `cnnspec --help` imports this module

        print(json.dumps(results, indent=2))
    else:
        print(weights_line(loaded))
        print(format_predictions(results))
    return 0
