"""The ``cnnspec`` command line: argument parsing, output and the one error boundary.

Each subcommand is a module in this package with ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``; the settings its messages name are worded as :data:`OPTION_NAMES`
says, one option per setting for every command. Modules import NumPy, the parser and friends
inside ``run`` so that ``cnnspec --help`` starts fast; one whose ``run`` loads NumPy says so
with ``LOADS_NUMPY = True``, and NumPy is loaded for it first (:mod:`cnnspec.cli.loading`:
refused where the memory this process may use cannot hold it, or it and matplotlib for one
that always draws a picture, which says so with ``DRAWS = True``). User mistakes
(:class:`SpecError`) exit 2, run-time failures (:class:`RunError`) exit 1; a traceback means
a bug.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import itertools
import os
import re
import shutil
import sys
from pathlib import Path

from cnnspec.collector import collector_paused
from cnnspec.errors import (
    EXIT_FAILURE,
    EXIT_USAGE,
    MAX_WORD,
    TRAIN_WITH,
    Command,
    Flag,
    InputError,
    Option,
    Phrase,
    RunError,
    SettingAsGiven,
    SpecError,
    SpecErrors,
    closest,
    escaped_controls,
    listed,
    long_words_shortened,
    out_of_memory,
    setting_as_named,
    shell_word,
    shortened,
    worded,
)
from cnnspec.exitcodes import interrupted
from cnnspec.init.catalogue import BUILT_IN_DEFAULTS
from cnnspec.training.interrupts import ctrl_c_watched, termination_as_interrupt
from cnnspec.version import __version__

# command name -> module in cnnspec.cli (in the order --help lists them)
COMMANDS = {
    "check": "check",
    "summary": "summary",
    "export": "export",
    "import": "import_",
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
    "sweep": "sweep",
    "time": "time",
}


def _command_modules(names) -> dict:
    return {name: importlib.import_module(f"cnnspec.cli.{COMMANDS[name]}") for name in names}


class _Parser(argparse.ArgumentParser):
    """argparse's parser with the values its usage errors quote cut short and their control
    characters escaped: argparse quotes a value whole (``invalid choice: 'aaa…'``, ``ignored
    explicit argument``, ``unrecognized arguments``), which for a value of thousands of
    characters buries the message. A word is cut at :data:`cnnspec.errors.MAX_WORD`, the
    length up to which a path is quoted whole: a spec's path in a deep folder is no longer
    than that, and it is what the user needs to read."""

    def error(self, message: str):
        super().error(long_words_shortened(escaped_controls(message), MAX_WORD))

    def _get_values(self, action, arg_strings):
        # `--output=--` gives the option the value '--': Python 3.11's argparse strips it as
        # the end of the options and hands the option an empty list (3.12 keeps it).
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)  # against its choices
            return value
        return super()._get_values(action, arg_strings)


@functools.cache
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of the command line, built once per process (each call of :func:`main` in
    one process, as the tests and the fuzz harness make, would otherwise rebuild it).

    With ``command``, the only subcommand it has is that one: a command line that starts with
    a command's name needs no other command's options or help, and importing every command's
    module and declaring every option is a tenth of a ``cnnspec check``. Without, it has them
    all, as ``cnnspec --help`` lists them."""
    parser = _Parser(
        prog="cnnspec",
        description="Write a convolutional network down as a spec; check, summarise, train "
        "and draw it, and see what its initialisation does to the signal.",
    )
    parser.add_argument("--version", action="version", version=f"cnnspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _command_modules([command] if command else COMMANDS).items():
        # No abbreviated options: `compare --data digitz` would be taken as --data-dir.
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP,
                             allow_abbrev=False)
        module.add_arguments(cmd)
        cmd.set_defaults(_command=name)
    return parser


class Typed(Command):
    """A command of this program as the user can type it again (:func:`invoked_as`):
    ``{resume_command:runs/x}`` reads ``.venv/bin/cnnspec train --resume runs/x`` where
    ``cnnspec`` is not on PATH (after ``make run``, the venv not activated)."""

    def __format__(self, argument: str) -> str:
        return format(Command(f"{invoked_as()} {self.words}".rstrip(), self.flags), argument)


def typed(words: str, argument="") -> str:
    """A command of this program as the user types it again here (:class:`Typed`):
    ``typed("eval", "my runs/x")`` reads ``.venv/bin/cnnspec eval 'my runs/x'`` where
    ``cnnspec`` is not on PATH."""
    return format(Typed(words), str(argument))


class TypedPhrase(Phrase):
    """A phrase that names a command of this program, worded as typed here (:func:`typed`):
    ``{trained_folder}`` reads ``the folder `.venv/bin/cnnspec train` printed ...`` where
    ``cnnspec`` is not on PATH."""

    def __init__(self, words: str, command: str) -> None:
        super().__init__(words)
        self.command = command

    def __format__(self, value: str) -> str:
        return self.words.format(command=typed(self.command))


# What the library calls a setting (a SettingError's fields) -> how this command line writes it.
OPTION_NAMES = {"epochs": Option("--epochs"), "lr": Option("--lr"),
                "batch_size": Option("--batch-size"), "seed": Option("--seed"),
                "data": Option("--data"), "cores": Option("--cores"), "run_dir": Option("--out"),
                "out": Option("--out"),
                "data_dir": Option("--data-dir"), "dtype": Option("--dtype"),
                "folds": Option("--folds"), "epoch_images": Option("--epoch-images"),
                "solver": Option("--solver"), "input_shape": Option("--input"),
                "sets": Option("--set"), "seeds": Option("--seeds"),
                "weights_from": Option("--weights-from"), "force": Flag("--force"),
                "stats_every": Option("--stats"), "scheduler": Option("--scheduler"),
                "runs_dir": Option("--runs-dir"),
                # load_run's which='last' (eval's and predict's; the best is their default)
                "which": Flag("--last"),
                "inits": Option("--init"), "jobs": Option("--jobs"),
                "workers": Option("--workers"), "keep_weights": Flag("--keep-weights"),
                "input_kind": Option("--input"), "layer": Option("--layer"),
                "channels": Option("--channels"),
                "rows": Option("--rows"), "grid": Option("--grid"),
                "compare_init": Flag("--compare-init"), "ir_json": Phrase("--format json"),
                "moved_npz": Phrase("eval's --data npz:NEW_PATH"),
                "data_run": TRAIN_WITH,  # as a command that trains is told: data_run()
                "trained_folder": TypedPhrase("the folder `{command}` printed at the end "
                                              "(runs/<name>-<time>)", "train"),
                "resume_command": Typed("train --resume"), "train_command": Typed("train"),
                "explain_command": Typed("summary", "--explain"),
                "program": Typed("")}
OPTION_NAMES["setting"] = setting_as_named(OPTION_NAMES)


def invoked_as() -> str:
    """How to type this command line again in the user's shell, for the commands it suggests:
    ``cnnspec`` when that name finds this program on PATH, else the path it was started by
    (``.venv/bin/cnnspec`` after ``make run``, with the venv not activated), else
    ``python -m cnnspec`` with this interpreter."""
    on_path = shutil.which("cnnspec")
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is None or started.name != "cnnspec":  # `python -m cnnspec`, or main() called
        return "cnnspec" if on_path else f"{_typed(Path(sys.executable))} -m cnnspec"
    if on_path and Path(on_path).resolve() == started.resolve():
        return "cnnspec"
    return _typed(started)


def _typed(path: Path) -> str:
    """``path`` as short as it can be typed from here: relative below the working folder,
    quoted as a shell needs it."""
    absolute = Path(os.path.abspath(path))  # not resolved: a venv's python is a symlink
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return shell_word(str(absolute))
    return shell_word(str(relative) if len(relative.parts) > 1 else f"./{relative}")


def run_error_code(exc: RunError) -> int:
    """The exit code of a command that ``exc`` ended: 2 for a mistake in what was asked (an
    input that is not what it should be, a setting that cannot be), else 1 (the run failed)."""
    invalid = isinstance(exc, InputError) or getattr(exc, "invalid", False)
    return EXIT_USAGE if invalid else EXIT_FAILURE


def terminal_width(stream) -> int | None:
    """The width a command wraps its messages to on ``stream``: 100 columns
    (:data:`cnnspec.diagnostics.WIDTH`), or the terminal's where it is narrower; None where
    ``stream`` is no terminal (a pipe, a file), where an editor or grep reads each message
    from its one line."""
    from cnnspec.diagnostics import WIDTH  # only for a message: --help stays fast

    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0  # a terminal that cannot say: the widest we fit
    return min(WIDTH, columns) if columns > 0 else WIDTH


def print_spec_errors(errors, names: dict | None = None, text: str | None = None) -> int:
    """Spec errors and warnings as every command prints them to stderr: each with its source
    line (from its file, or ``text``) and a caret, its hint's settings called as ``names``
    says, wrapped to :func:`terminal_width`; a warning said alike of layers one after another,
    once for them all (:func:`cnnspec.check.copies.grouped`). Returns how many it printed."""
    from cnnspec.diagnostics import format_errors  # only on an error: --help stays fast

    errors = list(errors)
    if sum(error.severity == "warning" for error in errors) > 1:
        from cnnspec.check.copies import grouped  # the checker's words: loaded with it

        errors = grouped(errors, text)
    for shown in format_errors(errors, text, names=names, width=terminal_width(sys.stderr)):
        print(shown, file=sys.stderr)
    return len(errors)


def print_run_error(message: str, hint: str | None) -> None:
    """A failure that is not a spec's mistake, as every command prints it: ``cnnspec: error:``
    and its hint, control characters escaped (:func:`cnnspec.errors.escaped_controls`)."""
    print(f"cnnspec: error: {escaped_controls(message)}", file=sys.stderr)
    if hint:
        print(f"hint: {escaped_controls(hint)}", file=sys.stderr)


def print_note(template: str | None) -> None:
    """A note of the library (a :class:`~cnnspec.errors.WordedError` template), as every
    command prints one to stderr: ``note:`` and its text, the commands and settings it names
    worded as typed here; nothing for None."""
    if template is not None:
        print(f"note: {escaped_controls(worded(template, OPTION_NAMES))}", file=sys.stderr)


def _named_command(argv: list[str]) -> str | None:
    """The command a command line starts with (``check`` of ``check a.cnn``), or None (it
    starts with an option such as ``--help``, or is empty)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


# Peers' words for a command (Keras' fit and plot_model, Caffe's draw_net and test, the verbs
# tutorials use), with the command that does it here: closeness alone read `fit` as fmt.
PEER_COMMANDS = {"fit": "train", "run": "train", "learn": "train", "plot": "diagram",
                 "plot_model": "diagram", "draw": "diagram", "draw_net": "diagram",
                 "visualize": "diagram", "visualise": "diagram", "show": "diagram",
                 "evaluate": "eval", "test": "eval", "score": "eval", "infer": "predict",
                 "classify": "predict", "validate": "check", "lint": "check", "verify": "check",
                 "describe": "summary", "info": "summary", "inspect": "summary",
                 "format": "fmt", "convert": "export", "benchmark": "time", "bench": "time",
                 "profile": "time", "init": "init-report", "grid": "sweep", "tune": "sweep"}


# The options cnnspec takes before a command.
TOP_OPTIONS = ("--help", "--version")


def _unknown_command(argv: list[str]) -> str | None:
    """The error for a mistyped command (``cnnspec chek``), with the closest one, or None; a
    peer's word for a command (``fit``) names the command that does it here."""
    if argv and argv[0].startswith("--") and argv[0] not in TOP_OPTIONS:
        close = closest(argv[0].lstrip("-"), {o.lstrip("-"): o for o in TOP_OPTIONS})
        return (f"unknown option '{shortened(argv[0], 40)}'\nhint: "
                + (f"did you mean '--{close}'? " if close else "")
                + "cnnspec takes --help and --version before a command, whose own options "
                f"follow it (`{invoked_as()} COMMAND --help`)")
    first = next((word for word in argv if not word.startswith("-")), None)
    if first is None or first in COMMANDS or argv[0] != first:
        return None
    peer = PEER_COMMANDS.get(first.lower().replace("-", "_"))
    close = closest(first, COMMANDS)
    program = invoked_as()
    later = next((word for word in argv[1:] if word in COMMANDS), None)
    import shlex  # here, for this message alone (cnnspec.errors.Option says why)

    suggestion = (f"the command comes first: `{program} {later} {shlex.quote(first)}`; "
                  if later else f"`{first}` is `{program} {peer}` here; " if peer
                  else f"did you mean '{close}'? " if close else "")
    return (f"unknown command '{shortened(first, 40)}'\n"
            f"hint: {suggestion}commands: {', '.join(COMMANDS)}; `{program} --help` says what "
            "each does")


def _unknown_option(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Stop with the command's usage and the closest option when ``argv`` (a command line
    that starts with a command's name) has an option the command does not take: found before
    argparse reads the line, which would take ``--fromat json`` as a mistake about the spec
    file ``json``, or report ``--strcit`` as the top-level command's. Options are written in
    full: a prefix of one is another's mistake (``compare --data`` is no ``--data-dir``)."""
    command = command_parser(parser, argv[0])
    options = option_names(command)
    shown = shown_options(command)  # what advice may name
    taking_values = {name for action in command._actions if action.nargs != 0
                     for name in action.option_strings}
    for index, (previous, word) in enumerate(itertools.pairwise(argv)):
        if word == "--":
            return
        if previous in taking_values and _reads_as_option(word):  # `--lr -1e5`, `--grid -1x2`
            command.error(f"argument {previous}: the value {shortened(word, 40)} starts with "
                          f"'-' and reads as an option; write {previous}={shortened(word, 40)}")
        name = word.split("=", 1)[0]
        if (name in options or name[:2] in options  # -oFILE is -o FILE
                or not (name.startswith("--") or _is_short_option(name))):
            continue  # positionals, negative numbers, and the command's own options
        if not name.startswith("--"):
            advice = _short_option_advice(name, shown)
            if previous in taking_values:  # `--format -inf`: a value that reads as an option
                advice += (f"; or, as the value of {previous}, write "
                           f"{previous}={shortened(word, 40)}")
        else:
            spellings = suggested_spellings(command)
            close = closest(name.lstrip("-"), spellings)
            close = close and spellings[close]
            value = (word.split("=", 1)[1] if "=" in word
                     else argv[index + 2] if index + 2 < len(argv) else None)
            # a training setting first: `init-report --data` is no '--data-dir' (the folder
            # downloads are kept in)
            advice = (_training_setting_advice(name, shown, value)
                      or _hidden_spelling_advice(name, argv[0])
                      or _other_commands_advice(name, argv[0])
                      or (f"did you mean '{close}'?" if close else None)
                      or _device_advice(name, shown))
        command.error(f"unknown option '{shortened(name, 40)}'"
                      + (f"; {advice}" if advice else "")
                      + f" (`{invoked_as()} {argv[0]} --help` lists its options)")


def _other_commands_advice(name: str, command: str) -> str | None:
    """Which commands take the option ``name`` that ``command`` does not (``compare
    --folds``: sweep), read from their parsers; None where no command takes it."""
    every = build_parser()  # only on a mistake: every command's parser
    takers = [other for other in COMMANDS if other != command
              and name in shown_options(command_parser(every, other))]
    if not takers:
        return None
    return (f"{name} is an option of {listed(takers)}, which {command} does not take"
            + _own_init_advice(name, command))


def _hidden_spelling_advice(name: str, command: str) -> str | None:
    """For an option ``name`` other commands still read as a hidden spelling (help SUPPRESS)
    of a setting ``command`` takes under its shown one (``diagram --out``: export's once-taken
    ``--out``, diagram's ``-o/--output``): that one; else None."""
    every = build_parser()  # only on a mistake: every command's parser
    settings = {action.dest for other in COMMANDS
                for action in command_parser(every, other)._actions
                if name in action.option_strings and action.help == argparse.SUPPRESS}
    own = [action for action in command_parser(every, command)._actions
           if action.dest in settings and action.help != argparse.SUPPRESS]
    return f"did you mean '{'/'.join(own[0].option_strings)}'?" if own else None


def _own_init_advice(name: str, command: str) -> str:
    """For ``--init`` given to a command that reads a spec but tries no inits (``train
    --init he_normal``, as a Keras user passes kernel_initializer): where the spec itself
    says its init; else nothing."""
    reads_spec = any(action.dest in ("spec", "specs") for action in
                     command_parser(build_parser(command), command)._actions)
    if name != OPTION_NAMES["inits"].flag or not reads_spec:
        return ""
    weight = BUILT_IN_DEFAULTS["weight"]
    return (f"; a spec's own init is written in it: `default weight {weight}` for every "
            f"layer, or `weight {weight}` on a layer's line")


def option_names(command: argparse.ArgumentParser) -> list[str]:
    """The options a command's parser takes (``--data``, ``-o``, ``--help``)."""
    return [name for action in command._actions for name in action.option_strings]


def shown_options(command: argparse.ArgumentParser) -> list[str]:
    """The options of :func:`option_names` that the command's help lists: a once-taken
    spelling (``--out`` for ``-o/--output``) is still read, never suggested."""
    return [name for action in command._actions if action.help != argparse.SUPPRESS
            for name in action.option_strings]


def suggested_spellings(command: argparse.ArgumentParser) -> dict[str, str]:
    """Each option of ``command`` without its dashes (which every long option shares, and
    would make any two close), mapped to the spelling a suggestion names: its own where the
    help lists it, else (a once-taken ``--batch``) the listed one of its setting
    (``--batch-size``)."""
    listed_as = {action.dest: max(action.option_strings, key=len)
                 for action in command._actions
                 if action.help != argparse.SUPPRESS and action.option_strings}
    return {name.lstrip("-"): name if action.help != argparse.SUPPRESS else listed_as[action.dest]
            for action in command._actions for name in action.option_strings
            if action.help != argparse.SUPPRESS or action.dest in listed_as}


def typed_names(parser: argparse.ArgumentParser, argv: list[str]) -> dict:
    """:data:`OPTION_NAMES` with each setting that ``argv`` (a command line that starts with a
    command's name) gives by a once-taken spelling (``--batch 8``) named as typed there, so
    that a message echoes the user's own words, not the spelling the help lists."""
    command = command_parser(parser, argv[0])
    words = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    given = {word.split("=", 1)[0] for word in words}
    spellings = suggested_spellings(command)
    names = dict(OPTION_NAMES)
    for action in command._actions:
        typed_as = next((name for name in action.option_strings if name in given), None)
        if action.help != argparse.SUPPRESS or typed_as is None:
            continue
        listed_as = spellings.get(typed_as.lstrip("-"))
        key = next((key for key, name in OPTION_NAMES.items()
                    if type(name) is Option and name.flag == listed_as), None)
        if key is not None:
            names[key] = Option(typed_as)
    names["data_run"] = data_run(argv[0], "--data" in option_names(command))
    names["setting"] = setting_as_given(argv[0], command, names)
    return names


def setting_as_given(name: str, command: argparse.ArgumentParser,
                     names: dict) -> SettingAsGiven:
    """How the command ``name`` (its parser ``command``) words a training setting its input
    held where it does not belong (``--data 'digits(lr=0.1)'``): as its own option for the
    setting (``names``: ``--lr 0.1``), or as its ``--set`` (``--set lr=0.1``), read from its
    parser; where it takes neither, that it takes none and what to do (a command that takes
    no ``--epochs`` trains nothing, and has no use for a learning rate)."""
    options = option_names(command)
    sets = OPTION_NAMES["sets"]

    def word(key: str, written: str, text: str) -> str:
        option = names.get(key)
        if isinstance(option, Option) and option.flag in options:
            return format(option, text)
        if sets.flag in options:  # which takes every spelling of a key: the one written
            return format(sets, f"{written}={text}")
        if not isinstance(option, Option):
            return (f"no {written} ({name} has no option for it: write `{written} {text}` in "
                    "the spec's train block)")
        trains = OPTION_NAMES["epochs"].flag in options
        return (f"no {written} ({name} {'' if trains else 'trains nothing: it '}takes no "
                f"{option.flag})")

    return SettingAsGiven(word)


# The commands that train the spec on the data a command line gives them.
TRAINING_COMMANDS = ("train", "compare")


def data_run(name: str, takes_data: bool) -> Phrase:
    """How a hint offering other data (``{data_run} {data:mnist}``) names the command to give
    it to, for the command ``name`` that was refused: ``train with`` where it trains, or where
    it takes no ``--data`` (check sends the user to train); else the command itself (``run
    init-report with``), whose own flag the user is giving."""
    if name in TRAINING_COMMANDS or not takes_data:
        return TRAIN_WITH
    return Phrase(f"run {name} with")


def commands_taking(option: str) -> list[str]:
    """The commands, in their order, that take ``option`` (``--ignore``): for the docs that
    list them."""
    parser = build_parser()
    return [name for name in COMMANDS if option in option_names(command_parser(parser, name))]


def command_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of the command ``name`` inside the command line's ``parser``."""
    commands = next(action for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction))
    return commands.choices[name]


def _command_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``argv`` (a command line that starts with a command's name) read by that command's own
    parser, so that every mistake is reported with the command's usage and name, not the
    top-level ``cnnspec`` one's. Positionals split by options (``check a.cnn --strict
    b.cnn``, ``predict RUN a.png --top 2 b.png``) are read together, as they read when
    written together; argparse alone took the second group for an unrecognised argument of
    the top-level command."""
    command = command_parser(parser, argv[0])
    # before argparse, which answers `diagram a.cnn a.png` with -o missing, not the a.png
    # that means it
    misplaced = _misplaced_value(command, argv)
    if misplaced is not None:
        extra, advice = misplaced
        _too_many(command, argv, extra, _setting_value_advice(argv, extra) or advice)
    args, extras = command.parse_known_args(argv[1:])
    if extras:
        args, extras = command.parse_known_intermixed_args(argv[1:])
    if extras:
        _too_many(command, argv, extras[0], _setting_value_advice(argv, extras[0]))
    return args


def _too_many(command: argparse.ArgumentParser, argv: list[str], extra: str,
              advice: str) -> None:
    """Stop at ``extra``, an argument past the command's own, with ``advice`` (what it
    likely is, "" where nothing is known)."""
    takes = " ".join(action.metavar or action.dest for action in command._actions
                     if not action.option_strings)
    command.error(f"one argument too many: {shortened(extra, MAX_WORD)!r} (`cnnspec "
                  f"{argv[0]}` takes {takes or 'no argument but its options'})" + advice)


def _misplaced_value(command: argparse.ArgumentParser,
                     argv: list[str]) -> tuple[str, str] | None:
    """The first argument past the command's own that is the value of an option written
    without it, with the advice to write it so: one of an option's choices (``export a.cnn
    onnx``: --format onnx), a file the output option takes where none is given (``diagram
    a.cnn a.png``: -o a.png), or, the command's one option given once for each value, such
    a value (``compare a.cnn he_normal glorot_normal``: --init he_normal); None where there
    is none, or the line is read otherwise (an option of several values, ``--``)."""
    extras = _positional_extras(command, argv[1:])
    if not extras:
        return None
    given = set(argv[1:])
    options = [action for action in command._actions if action.option_strings]
    for action in options:
        if action.choices is not None and extras[0] in action.choices:
            return extras[0], f"; write {action.option_strings[-1]} {extras[0]}"
    for action in options:
        if "-o" in action.option_strings and not given & set(action.option_strings) \
                and _takes(action, extras[0]):
            return extras[0], f"; an output file is given with -o: write -o {extras[0]}"
    # given once for each value (--init); not --ignore's list, which takes its names with
    # commas in one value, and is no likely reading of a stray word
    repeated = [action for action in options if type(action) is argparse._AppendAction]
    if len(repeated) == 1:
        flag = repeated[0].option_strings[-1]
        import shlex  # here, for this message alone

        written = " ".join(f"{flag} {shlex.quote(extra)}" for extra in extras)
        return extras[0], f"; if it is a {flag} value, give each with {flag}: {written}"
    return None


def _positional_extras(command: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The words of a command line (after the command's name) past those its positional
    arguments take, read as argparse reads them: an option of one value takes the word after
    it; [] where the line holds ``--`` or an option of another number of values."""
    takes_value = {name: action.nargs is None for action in command._actions
                   for name in action.option_strings if action.nargs != 0}
    if not all(takes_value.values()) or "--" in words:
        return []
    positionals, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-") and len(word) > 1 and not ARGPARSE_NEGATIVE.match(word):
            skip = "=" not in word and takes_value.get(word, False)
        else:
            positionals.append(word)
    slots = [action.nargs for action in command._actions if not action.option_strings]
    if any(nargs in ("+", "*", argparse.REMAINDER) for nargs in slots):
        return []
    return positionals[len(slots):]


def _takes(action: argparse.Action, word: str) -> bool:
    """Whether ``action``'s type reads ``word`` (an output file's extension and folder)."""
    try:
        action.type(word)
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return False
    return True


# Options whose value is a setting and its value joined by '=' (`--set lr=0.1,0.01`).
SETTING_OPTIONS = ("--set",)


def _setting_value_advice(argv: list[str], extra: str) -> str:
    """Where the argument too many is the value of a setting written apart from it (``--set
    lr 0.1``): the option written as it reads; else nothing."""
    for option, setting, value in zip(argv, argv[1:], argv[2:]):
        if option in SETTING_OPTIONS and "=" not in setting and value == extra:
            return f"; write {option} {shortened(setting, 40)}={shortened(value, 40)}"
    return ""


# What argparse reads as a negative number rather than an option (its own pattern): a value
# such as -1e5 or -1x2 does not match, and argparse answered "expected one argument".
ARGPARSE_NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")


def _reads_as_option(word: str) -> bool:
    """Whether ``word``, a value that starts with '-' and a digit or '.', is one argparse takes
    for an option."""
    return (len(word) >= 2 and word[0] == "-" and (word[1].isdigit() or word[1] == ".")
            and not ARGPARSE_NEGATIVE.match(word))


def _is_short_option(word: str) -> bool:
    """Whether ``word`` reads as a short option (``-o``, ``-e5``), not a value such as ``-1``
    or ``-0.5`` or a lone ``-``."""
    return len(word) >= 2 and word[0] == "-" and word[1].isalpha()


def _short_option_advice(name: str, options: list[str]) -> str:
    """For a short option the command does not take (``train -o``, ``-e 5``): the long
    options that start with its letter, which is what such a letter abbreviates elsewhere
    (``-o`` for an output, ``-e`` for epochs); argparse alone reports it as the top-level
    command's unrecognised argument, with no word of the command's own options."""
    letter = name[1]
    starting = [option for option in options
                if option.startswith("--") and option[2:3] == letter]
    if len(starting) == 1:
        return f"did you mean '{starting[0]}'?"
    if starting:
        return f"options starting with '{letter}': {', '.join(starting)}"
    return "this command's options are written in full"


def _training_setting_advice(name: str, options: list[str], value: str | None) -> str | None:
    """Where the setting an unknown option names is written, when it names one, in any case:
    ours (``--weight-decay``, or given to a command that does not take it, ``check --data
    mnist``: train's, with ``value``, the word after the option), another library's name for
    one (Caffe's ``--base-lr``: ``--lr``; ``--max-iter``: ``--epochs``), or an argument of an
    optimizer or schedule (PyTorch's ``--momentum``): the option that sets it where the
    command has one, else the spec's train block's line; else None. Read from the catalogue
    of training settings and the language's answer to an unknown setting, which the train
    block gives too."""
    # only on a mistake
    from cnnspec.ir.training_catalogue import FOREIGN_KEY_NAMES, KEY_ALIASES, KEYS
    from cnnspec.lang.unknown_setting import setting_hint

    word = name.lstrip("-").replace("-", "_").lower()
    key = KEY_ALIASES.get(word, word)
    if _taken_flag(key, options):
        return f"did you mean '{_taken_flag(key, options)}'?"
    if key in KEYS:
        written = KEYS[key].written  # as specs write it: `batch`, not `batch_size`
        return (f"'{written}' is a training setting: write it in the spec's train block, "
                f"`train {{ {written} ... }}`{_vary(key, options)}"
                f"{_train_option_advice(key, value)}")
    given = None if value is None or value.startswith("--") else value
    foreign = FOREIGN_KEY_NAMES.get(word, ())
    if any(_taken_flag(f.key, options) for f in foreign):
        return "; or ".join(f.hint(given, flag=_taken_flag(f.key, options)) for f in foreign)
    meant = setting_hint(word, given)
    if meant is None:
        return None
    vary = _vary(foreign[0].key, options) if len(foreign) == 1 and foreign[0].key else ""
    return f"it is set in the spec's train block, `train {{ ... }}`: {meant}{vary}"


def _taken_flag(key: str | None, options: list[str]) -> str | None:
    """The option of the command (one of ``options``) that sets the training setting
    ``key``, or None where the command takes none."""
    option = OPTION_NAMES.get(key)
    return option.flag if isinstance(option, Option) and option.flag in options else None


def _vary(key: str, options: list[str]) -> str:
    """For a command that sweeps settings: how it varies ``key``; else nothing."""
    return f", or vary it with --set {key}=V1,V2" if "--set" in options else ""


def _train_option_advice(key: str, value: str | None) -> str:
    """For a training setting ``key`` that ``train`` takes as an option (``--data``,
    ``--epochs``) but the command given it does not: the train command that takes it, typed
    as the program was started, with ``value`` where train's option takes it, else a
    placeholder (``--batch-size BATCH`` for a batch of 0, which train would refuse in turn);
    else nothing."""
    # only on a mistake
    from cnnspec.ir.training_catalogue import KEYS

    option = OPTION_NAMES.get(key)
    train = command_parser(build_parser("train"), "train")
    action = next((action for action in train._actions
                   if option is not None and option.flag in action.option_strings), None)
    if action is None:
        return ""
    # the word after the option is another option (`check a.cnn --data --strict`): no value
    taken = (value is not None and not value.startswith("-")
             and (action.type is None or _takes(action, value))
             and (action.choices is None or value in action.choices))
    given = value if taken else KEYS[key].written.upper()
    return (f", or give it to train: "
            f"`{format(OPTION_NAMES['train_command'], 'SPEC')} {format(option, given)}`")


# PyTorch's, Keras' and Lightning's words for where a model runs.
DEVICE_WORDS = {"device", "gpu", "gpus", "cuda", "mps", "cpu", "accelerator", "devices"}


def _device_advice(name: str, options: list[str]) -> str | None:
    """For an option that chooses a device (``--device cuda``, ``--gpu``): that the engine is
    NumPy's, on the CPU, and what sets its parallelism where the command has it; else None."""
    if name.lstrip("-").replace("-", "_") not in DEVICE_WORDS:
        return None
    cores = ("; --cores N sets how many parts a batch runs as, side by side"
             if "--cores" in options else "")
    return f"cnnspec runs on the CPU, with NumPy: there is no device to choose{cores}"


def main(argv: list[str] | None = None) -> int:
    with ctrl_c_watched() as ctrl_c:
        try:
            code = _main(sys.argv[1:] if argv is None else list(argv))
        except KeyboardInterrupt:
            # Caught here, not only around the command's run: a Ctrl-C in the first tenth of
            # a second, while the commands' modules load for the parser, is the same one line.
            return interrupted()
        except Exception:
            if not ctrl_c.seen:
                raise  # a bug: its traceback is wanted
            # What a Ctrl-C became where it could not raise as itself (an ImportError of a
            # C extension it interrupted): the command was interrupted.
            return interrupted()
    # A Ctrl-C that Python could only swallow (it came while a finalizer ran) ends the
    # command as one anywhere else would have, though the command went on to its end.
    return interrupted() if ctrl_c.swallowed else code


def _main(argv: list[str]) -> int:
    unknown = _unknown_command(argv)
    if unknown:
        print(f"cnnspec: error: {escaped_controls(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    command = _named_command(argv)
    with collector_paused():
        parser = build_parser(command)
        if command:
            _unknown_option(parser, argv)
            args = _command_arguments(parser, argv)
        else:
            args = parser.parse_args(argv)
        if not getattr(args, "_command", None):
            parser.print_help()
            return EXIT_USAGE
        # imported with the parser: its run is looked up now, not when the parser was built
        module = importlib.import_module(f"cnnspec.cli.{COMMANDS[args._command]}")

    def names() -> dict:  # the options as typed: read only when an error is told
        return typed_names(parser, argv) if command else OPTION_NAMES

    try:
        with termination_as_interrupt():
            if getattr(module, "LOADS_NUMPY", False):
                from cnnspec.cli.loading import numpy_loaded

                numpy_loaded(args._command, getattr(module, "DRAWS", False))
            return module.run(args)
    except (SpecError, SpecErrors) as exc:
        print_spec_errors(exc.errors if isinstance(exc, SpecErrors) else [exc], names())
        return EXIT_USAGE
    except RunError as exc:
        print_run_error(*exc.worded(names()))
        return run_error_code(exc)
    except MemoryError as exc:  # where no command said more (training says where it stopped)
        print_run_error(*out_of_memory(exc).worded(names()))
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader stopped early (`cnnspec eval RUN | head`): not a failure to report.
        # Point stdout at /dev/null so the flush at exit does not raise the same error again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a command killed by SIGPIPE (128 + 13)


if __name__ == "__main__":
    sys.exit(main())
