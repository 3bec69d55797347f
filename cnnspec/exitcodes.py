"""The command line's exit codes (README's table), one for each kind of ending (0 is success),
and the one line that ends an interrupted command.

A module that imports nothing of its own, so that the command's entry point
(:mod:`cnnspec.__main__`) can end a Ctrl-C that comes while the command line's modules are
being imported as every command ends one.
"""
from __future__ import annotations

import sys

EXIT_FAILURE = 1  # a RunError: the run failed (diverged, bad data, a failed download)
EXIT_USAGE = 2  # a mistake in what was asked: a SpecError, an InputError, a usage error
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM: 128 + SIGINT's number, as shells say


def interrupted() -> int:
    """Say that the command was interrupted; its exit code."""
    print("cnnspec: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED
