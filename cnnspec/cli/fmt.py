"""``cnnspec fmt SPEC... [--check]``: rewrite specs in canonical layout."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnspec.cli import OPTION_NAMES, print_run_error, print_spec_errors, typed
from cnnspec.cli.arguments import path_text
from cnnspec.errors import (
    EXIT_FAILURE,
    EXIT_USAGE,
    InputError,
    RunError,
    SpecError,
    SpecErrors,
    shown_path,
)

HELP = "rewrite .cnn specs in canonical layout (comments kept); --check only reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", type=path_text,
                        help=".cnn files to format")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 and name the files that would change")


def _read(path: Path) -> str:
    """The text of the .cnn spec at ``path``. An IR file is told that fmt formats the
    language alone; any other file is refused with check's error for it, from the one reader
    that tells what a file is (:func:`cnnspec.check.load.read_spec`: a file that is no spec,
    a Caffe or Keras model, a spec under another suffix, a missing file)."""
    suffix = path.suffix.lower()  # NET.CNN is a spec too
    if suffix == ".json":
        raise InputError(f"{path} is an IR file; fmt formats .cnn specs",
                         hint=f"`{typed('export')} SPEC.cnn` writes IR JSON in its one layout")
    from cnnspec.sourcefile import SPEC_SUFFIXES, read_spec_text

    if suffix not in SPEC_SUFFIXES:
        from cnnspec.check.load import read_spec

        read_spec(path)  # refuses every other suffix, as check says

    return read_spec_text(path)  # a byte-order mark is dropped, and so stays dropped


def _format_one(name: str, check: bool) -> bool:
    """Format one spec (or, with ``check``, only compare); True if its layout changes."""
    # deferred: the parser loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.lang import format_source

    path = Path(name)
    text = _read(path)
    formatted = _with_line_ends_of(text, format_source(text, path=name))
    if formatted == text:
        return False
    _refuse_unreadable_result(name, formatted)
    if check:
        print(f"would reformat {shown_path(name)}", file=sys.stderr)
    else:
        # atomically, keeping the file's permissions, through a symbolic link to it
        from cnnspec.atomic import write_text

        write_text(path, formatted)
        # at once: a later file's error must not hide it
        print(f"reformatted {shown_path(name)}")
    return True


def _with_line_ends_of(text: str, formatted: str) -> str:
    """``formatted`` ending its lines as ``text``'s first line ends: CRLF kept, as black,
    ruff and rustfmt keep it. The layout is of the lines, not of how they end, and a spec
    checked out on Windows (git's autocrlf) would otherwise never pass ``fmt --check``."""
    first = text.find("\n")
    if first > 0 and text[first - 1] == "\r":
        return formatted.replace("\n", "\r\n")
    return formatted


def _refuse_unreadable_result(name: str, formatted: str) -> None:
    """Stop before writing a layout that cnnspec would not read back: a spec just under the
    size limit can grow past it (a newline added at its end, spaces around operators)."""
    from cnnspec import sourcefile

    size = len(formatted.encode("utf-8"))
    if size > sourcefile.MAX_SPEC_BYTES:
        raise RunError(f"{name} in canonical layout would be {size:,} bytes, more than the "
                       f"{sourcefile.MAX_SPEC_BYTES >> 20} MiB a spec file may be; it is left "
                       "as it is", hint=sourcefile.TOO_LARGE_HINT)


def run(args: argparse.Namespace) -> int:
    """Every file is handled even if an earlier one has an error (reported, then exit 2 for a
    spec mistake or a missing file, 1 for a file that cannot be read or written)."""
    changed = spec_errors = run_errors = 0
    for name in args.specs:
        try:
            changed += _format_one(name, args.check)
        except (SpecError, SpecErrors) as exc:
            spec_errors += 1
            print_spec_errors(exc.errors if isinstance(exc, SpecErrors) else [exc],
                              OPTION_NAMES)
        except RunError as exc:
            # a missing spec is a mistake in what was asked, as a spec error is (2); one that
            # cannot be read, a failure of the run (1), as in every command
            spec_errors += isinstance(exc, InputError)
            run_errors += not isinstance(exc, InputError)
            print_run_error(*exc.worded(OPTION_NAMES))
    if spec_errors:
        return EXIT_USAGE
    return EXIT_FAILURE if run_errors or (args.check and changed) else 0
