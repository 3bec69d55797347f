"""``python -m cnnspec`` and the ``cnnspec`` command (:func:`run`, its entry point).

Ctrl-C is the command's to end, from its first instant to its last: :func:`run` imports the
command line's modules itself (a hundredth of a second, during which a Ctrl-C would otherwise
end the process with a traceback from the import), and once the command is done, a Ctrl-C is
ignored while the process exits (the interpreter runs its exit handlers, such as stopping the
worker processes a command started, which a ``KeyboardInterrupt`` cut short with a traceback
of its own, "Exception ignored in atexit callback"): what the command did is done, its
output written and flushed, and its exit code stands. Before this module runs, while Python
itself starts, a Ctrl-C is Python's.
"""
import gc
import signal
import sys

from cnnspec.collector import collector_paused
from cnnspec.exitcodes import interrupted


def run() -> int:
    code = None
    try:
        with collector_paused():  # the command line's modules, alive to the end
            from cnnspec.cli import main

        code = main()
        _ignore_ctrl_c()
        _no_final_collection()
    except SystemExit:  # argparse's, after --help or --version: the command is as done
        _no_final_collection()
        raise
    except KeyboardInterrupt:
        _ignore_ctrl_c()
        # A Ctrl-C between the command's end and here comes too late to interrupt it.
        return interrupted() if code is None else code
    return code


def _no_final_collection() -> None:
    """The command is over: the objects it made are left out of the cycle collection Python
    runs as it exits, a walk over every one of them (docs/measurements.md counts what it
    cost). What they hold is written by now. An object in a reference cycle then never has its
    ``__del__`` run, so what must happen at exit (worker processes stopped, temporary folders
    removed) is an exit handler (``atexit``, ``weakref.finalize``), which this leaves as it
    is."""
    gc.freeze()


def _ignore_ctrl_c() -> None:
    """The command is over: a Ctrl-C from now on changes nothing it did."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(run())
