"""``cnnspec import SOURCE [-o SPEC.cnn]``: a Caffe model definition, a Keras model JSON, a
Darknet network or an ONNX model as a cnnspec spec (:mod:`cnnspec.importers`)."""
from __future__ import annotations

import argparse
import sys

from cnnspec.cli import print_spec_errors
from cnnspec.cli.arguments import (
    add_ignore,
    add_output,
    input_file,
    output_file,
    refuse_writing_over_inputs,
    sizes,
)
from cnnspec.errors import counted, shown_path

HELP = ("import a Caffe .prototxt (with its solver), a Keras model .json or .keras, a "
        "Darknet .cfg or an ONNX model (its architecture, not its weights) as a .cnn spec")


def spec_output(text: str) -> str:
    """The type of ``-o``: ``-`` (standard output) or a ``.cnn`` file in a folder that
    exists."""
    return text if text == "-" else output_file(".cnn")(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cnnspec.cli.arguments import positive_int

    parser.add_argument("source", metavar="SOURCE", type=input_file,
                        help="a Caffe model definition (.prototxt), a Keras model saved "
                        "with model.to_json() (.json) or model.save() (.keras), a Darknet "
                        "network (.cfg), or an ONNX model (.onnx, as torch.onnx.export "
                        "writes it; needs pip install 'cnnspec[onnx]')")
    add_output(parser, spec_output, "the spec file to write; - (the default) prints it",
               metavar="SPEC.cnn", default="-", once_out=True)
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--solver", metavar="SOLVER.prototxt", type=input_file,
                        help="Caffe: the solver, read into the train block")
    parser.add_argument("--input", type=sizes(3, 1, "CxHxW, e.g. 1x28x28"), metavar="CxHxW",
                        help="Caffe: the images' shape, for a Data layer that reads it from "
                        "its database")
    parser.add_argument("--epoch-images", type=positive_int, metavar="N",
                        help="Caffe: the images one epoch trains on, to turn the solver's "
                        "iterations into epochs (MNIST with val_split 0.1: 54000)")
    add_ignore(parser)


# Where the warnings of a spec printed to stdout are located (`<stdout>:9:16`).
STDOUT = "<stdout>"


def _warn(imported, written, ignore: list[str]) -> None:
    """Print the imported spec's check warnings but those of the lints ``ignore`` names,
    located in ``written`` (the spec file it was written to; None: the text went to stdout,
    which they name, as a compiler names its standard input: the importer's own name for
    the text, imported.cnn, is no file to open)."""
    import dataclasses

    from cnnspec.check.silence import Silences

    warnings = Silences(frozenset(ignore)).kept(imported.checked.warnings)
    place = STDOUT if written is None else str(written)
    warnings = [dataclasses.replace(warning, file=place) for warning in warnings]
    print_spec_errors(warnings, text=imported.text)


def _notes(imported) -> None:
    """Say on stderr what the importer noted in the spec's header (a max_iter that became
    more epochs than any run takes, a layer left out): read in the file alone, it went
    unseen."""
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    # deferred: the parser and the checker load when the command runs (`cnnspec --help` stays fast)
    from cnnspec.importers import import_file, write_spec

    refuse_writing_over_inputs([("-o", args.output)], [("the model", args.source),
                                                    ("the solver", args.solver)])
    imported = import_file(args.source, solver=args.solver, input_shape=args.input,
                           epoch_images=args.epoch_images)
    if args.output == "-":
        _warn(imported, None, args.ignore)
        _notes(imported)
        sys.stdout.write(imported.text)
        return 0
    write_spec(imported, args.output, force=args.force)
    # located in the file written, which the user can open
    _warn(imported, args.output, args.ignore)
    _notes(imported)
    checked = imported.checked
    print(f"wrote {shown_path(args.output)}: {counted(len(checked.layers), 'layer')}, "
          f"{checked.total_params:,} parameters", file=sys.stderr)
    return 0
