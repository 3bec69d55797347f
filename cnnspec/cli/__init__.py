"""The ``cnnspec`` command line: argument parsing, output and the one error boundary.

Each subcommand is a module in this package with ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules import NumPy, Lark and friends inside ``run`` so that
``cnnspec --help`` starts fast. User mistakes (:class:`SpecError`) exit 2, run-time failures
(:class:`RunError`) exit 1; a traceback means a bug.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from cnnspec.errors import Command, Option, RunError, SpecError, SpecErrors, WordedError
from cnnspec.version import __version__

# command name -> module in cnnspec.cli (in the order --help lists them)
COMMANDS = {
    "check": "check",
    "summary": "summary",
    "export": "export",
    "fmt": "fmt",
    "train": "train",
    "eval": "eval",
    "predict": "predict",
    "data": "data",
    "diagram": "diagram",
    "filters": "filters",
    "features": "features",
    "init-report": "init_report",
    "compare": "compare",
    "time": "time",
}


def _command_modules() -> dict:
    return {name: importlib.import_module(f"cnnspec.cli.{module}")
            for name, module in COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnspec",
        description="Write a convolutional network down as a spec; check, summarise, train "
        "and draw it, and see what its initialisation does to the signal.",
    )
    parser.add_argument("--version", action="version", version=f"cnnspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _command_modules().items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


# What the library calls a setting (a SettingError's fields) -> how this command line writes it.
OPTION_NAMES = {"epochs": Option("--epochs"), "lr": Option("--lr"),
                "batch_size": Option("--batch-size"), "seed": Option("--seed"),
                "data": Option("--data"), "run_dir": Option("--out"),
                "data_dir": Option("--data-dir"), "dtype": Option("--dtype"),
                "weights_from": Option("--weights-from"),
                "resume_command": Command("cnnspec train --resume"),
                "train_command": Command("cnnspec train")}


def _print_run_error(message: str, hint: str | None) -> None:
    print(f"cnnspec: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return args._run(args)
    except (SpecError, SpecErrors) as exc:
        from cnnspec.diagnostics import format_error  # only on an error: --help stays fast

        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        for err in errors:
            print(format_error(err), file=sys.stderr)
        return 2
    except WordedError as exc:
        message, hint = exc.worded(OPTION_NAMES)
        _print_run_error(message, hint)
        return 2 if getattr(exc, "invalid", False) else 1
    except RunError as exc:
        _print_run_error(exc.message, exc.hint)
        return 1
    except KeyboardInterrupt:
        print("cnnspec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped early (`cnnspec eval RUN | head`): not a failure to report.
        # Point stdout at /dev/null so the flush at exit does not raise the same error again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a command killed by SIGPIPE (128 + 13)


if __name__ == "__main__":
    sys.exit(main())
