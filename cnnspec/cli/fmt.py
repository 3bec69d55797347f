"""``cnnspec fmt SPEC... [--check]``: rewrite specs in canonical layout."""
from __future__ import annotations

import argparse

HELP = "rewrite .cnn specs in canonical layout (comments kept); --check only reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", help=".cnn files to format")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 and name the files that would change")


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    import tempfile
    from pathlib import Path

    from cnnspec.errors import RunError
    from cnnspec.lang import format_source

    changed = []
    for name in args.specs:
        path = Path(name)
        if path.suffix == ".json":
            raise RunError(f"{name} is an IR file; fmt formats .cnn specs",
                           hint="`cnnspec export SPEC.cnn` writes IR JSON in its one layout")
        try:
            text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is dropped
        except (OSError, UnicodeDecodeError) as exc:
            raise RunError(f"cannot read {name}: {exc}", hint="check the path") from None
        formatted = format_source(text, path=name)
        if formatted == text:
            continue
        changed.append(name)
        if not args.check:
            # Write beside the file and rename over it, so an interrupted run never leaves
            # half a spec behind.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                os.chmod(tmp, path.stat().st_mode & 0o7777)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(formatted)
                os.replace(tmp, path)
            except OSError as exc:
                Path(tmp).unlink(missing_ok=True)
                raise RunError(f"cannot write {name}: {exc}") from None
    verb = "would reformat" if args.check else "reformatted"
    for name in changed:
        print(f"{verb} {name}", file=sys.stderr if args.check else sys.stdout)
    if args.check and changed:
        return 1
    return 0
