"""``cnnspec export SPEC``: the fully resolved IR as JSON (every default explicit, repeats
expanded, no source positions). The result is accepted by every command in place of the spec."""
from __future__ import annotations

from cnnspec.cli.arguments import spec_file

HELP = "print a spec's IR as JSON (every default explicit); any command accepts the result"


def add_arguments(parser) -> None:
    parser.add_argument("spec", metavar="SPEC", type=spec_file, help="a .cnn spec or .json IR file")
    parser.add_argument("--no-check", action="store_true",
                        help="export even if shape checks fail (the IR is still validated)")


def run(args) -> int:
    # deferred: the checker, Lark and jsonschema load when it runs (`cnnspec --help` stays fast)
    from cnnspec.check import check
    from cnnspec.check.load import read_spec
    from cnnspec.ir.io import to_json, validate

    spec = read_spec(args.spec)
    validate(spec.ir, spec.path)
    if not args.no_check:
        check(spec)
    print(to_json(spec.ir))
    return 0
