"""``cnnspec summary SPEC``: every layer's window, output shape, parameters and exact init."""
from __future__ import annotations

from cnnspec.cli import OPTION_NAMES
from cnnspec.cli.arguments import add_dtype, add_format, add_ignore, add_spec
from cnnspec.cli.check import report
from cnnspec.errors import SpecErrors

HELP = ("summarise a spec: per layer its window, output shape, params and init (formula, scale, "
        "fans); totals")


def add_arguments(parser) -> None:
    add_spec(parser)
    add_format(parser)
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings as errors (but those --ignore leaves out)")
    add_ignore(parser)
    parser.add_argument("--explain", action="store_true",
                        help="say in full how the Signal column is estimated")
    add_dtype(parser, "the precision `train --dtype` will train in: memory counted in it, "
              "inits held to its range")


def run(args) -> int:
    # deferred: the checker (with the parser) loads when the command runs (`cnnspec --help` stays
    # fast)
    from cnnspec.check.checker import as_error
    from cnnspec.check.load import load
    from cnnspec.check.summary import summary_dict, summary_table

    # A spec too large to train here is summarised (its memory said in a warning): the
    # summary is where its memory error sends the user.
    checked = load(args.spec, strict=args.strict, for_training=False, dtype=args.dtype,
                   ignore=args.ignore)
    from cnnspec.training.compat import unread_file_warnings

    missing = unread_file_warnings(checked)
    if args.strict and missing:
        raise SpecErrors([as_error(w) for w in missing])
    report(checked.warnings + missing)
    if args.format == "json":
        import json  # for --format json alone: `cnnspec --help` imports this module

        print(json.dumps(summary_dict(checked), indent=2))
    else:
        print(summary_table(checked, OPTION_NAMES, explain=args.explain))
    return 0
