"""``cnnspec check SPEC...``: check specs and report every error and warning.

Errors and warnings go to stderr in the compiler format (``file:line:col: error: ...``), one
for each spot of the file (what holds alike for several copies of a repeat block is said once,
naming them, as is a warning said alike of layers written one after another); each spec that
passes gets one line ``SPEC: ok (N layers, P params)`` on stdout, with the number of warnings
printed, if any. Each warning ends with the name of the lint that
found it (``[gain-misfit]``, :mod:`cnnspec.check.lint_catalogue`): ``--ignore NAME`` leaves it
out, ``--explain NAME`` says what it means (``--explain`` alone lists them all). Exit code 0
when every spec is valid, 2 when one has a mistake (or is missing), else 1 when one could not
be read (a disk's error, no permission): every command's codes.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from cnnspec.cli import (
    OPTION_NAMES,
    collector_paused,
    print_run_error,
    print_spec_errors,
    run_error_code,
    typed,
)
from cnnspec.cli.arguments import (
    add_dtype,
    add_ignore,
    first_given,
    memory_size,
    path_text,
    run_folder_as_spec,
)
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import (
    EXIT_USAGE,
    InputError,
    RunError,
    SpecError,
    SpecErrors,
    count_text,
    counted,
)

HELP = "check specs (.cnn or .json IR): shapes, parameters, inits; report errors and warnings"


def add_arguments(parser) -> None:
    parser.add_argument("specs", nargs="*", metavar="SPEC", type=path_text,
                        help="a .cnn spec or .json IR file")
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings as errors (but those --ignore leaves out)")
    add_ignore(parser)
    parser.add_argument("--explain", nargs="?", const="", metavar="LINT",
                        help="say what the warnings of LINT mean and why they matter; without "
                        "LINT, list every lint with its summary")
    parser.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                        help="refuse a spec whose training process (its step, data, Python "
                             "and libraries) needs more than SIZE (e.g. 512M, 2G; default: "
                             "this machine's memory, or a lower limit on the process: "
                             "`ulimit -v`, a container's)")
    add_dtype(parser, "the precision `train --dtype` will train in: inits, layer values and "
              "training settings (an eps, an lr) are held to its range, memory counted in it")


def explained(name: str) -> str:
    """What ``check --explain NAME`` prints: the lint's name and summary, its explanation
    wrapped, and how to silence it; with ``name`` empty, every lint with its summary."""
    from cnnspec.check.lint_catalogue import BY_NAME, LINTS
    from cnnspec.check.silence import FILE_FORM, LINE_FORM, lint_names
    from cnnspec.diagnostics import WIDTH

    if not name:
        width = max(len(lint.name) for lint in LINTS)
        return "\n".join(f"{lint.name:<{width}}  {lint.summary}" for lint in LINTS)
    lint = BY_NAME[next(iter(lint_names([name])))]  # an unknown name: the closest one said
    return "\n\n".join([
        f"{lint.name}: {lint.summary}", textwrap.fill(lint.explanation, WIDTH),
        textwrap.fill(f"Silence it with `--ignore {lint.name}`, in one spec with "
                      f"`{FILE_FORM.written(lint.name)}`, or at one line of a spec with a "
                      f"trailing `{LINE_FORM.written(lint.name)}` on the line the warning points "
                      "at.", WIDTH, break_on_hyphens=False)])


def report(errors) -> int:
    """Print spec errors and warnings to stderr, rendered with the source line and a caret;
    how many were printed (a warning said alike of several layers, once)."""
    return print_spec_errors(errors, OPTION_NAMES)


def check_one(path: str, strict: bool, max_memory: int | None = None,
              dtype: str = DEFAULT_DTYPE, ignore=()) -> int:
    """Check one spec, print what was found; its exit code: 0 if it is valid, EXIT_USAGE for a
    mistake in it (or a missing file), EXIT_FAILURE for a file that could not be read."""
    # deferred: the checker (with the parser) loads when the command runs (`cnnspec --help` stays
    # fast)
    from cnnspec.check.load import load

    try:
        mistake = run_folder_as_spec(path)
        if mistake:
            raise InputError(mistake)
        checked = load(path, strict=strict, max_memory=max_memory, dtype=dtype, ignore=ignore)
    except SpecErrors as exc:
        report(exc.errors)
        return EXIT_USAGE
    except SpecError as exc:
        report([exc])
        return EXIT_USAGE
    except RunError as exc:
        print_run_error(*exc.worded(OPTION_NAMES))
        return run_error_code(exc)
    from cnnspec.training.compat import read_file_warnings

    # an npz file, read as train would read it: its arrays must fit the network, and its data
    # the memory (said in place of the checker's memory warning, which left the data out)
    warnings = read_file_warnings(checked, max_memory)
    try:
        warnings = warnings + check_data(checked, max_memory, strict, dtype)
    except SpecErrors as exc:
        report(warnings + exc.errors)
        return EXIT_USAGE
    n, warned = len(checked.layers), report(warnings)
    # said beside "ok", so that a reader of stdout alone knows the spec was not clean
    also = f"; {counted(warned, 'warning')}" if warned else ""
    print(f"{path}: ok ({counted(n, 'layer')}, {count_text(checked.total_params)} params{also})")
    return 0


def check_data(checked, max_memory: int | None, strict: bool = False,
               dtype: str = DEFAULT_DTYPE) -> list:
    """Raise :class:`SpecErrors` where ``train --dtype`` would refuse the spec's data file
    before training: unreadable, not fitting the network or the memory
    (:func:`cnnspec.training.compat.check_file_data`), or leaving a layer's LSUV init nothing
    to scale (the init run on the data in ``dtype``, as ``train`` runs it). Returns the
    warnings about the file's data (``strict``: raised as errors)."""
    from cnnspec.training.compat import check_file_data, data_setting_error

    dataset, warnings = check_file_data(checked, max_memory, strict)
    if dataset is None:
        return warnings
    from cnnspec.lab.lsuv import lsuv_init_step, uses_lsuv  # NumPy: loaded with the data

    if not uses_lsuv(checked.ir):
        return warnings
    from cnnspec.training.api import check_init_steps

    try:
        check_init_steps(checked, dataset, [lsuv_init_step], dtype)
    except RunError as exc:
        raise data_setting_error(checked, exc) from None
    return warnings


# What --explain, which checks nothing, would leave unused (option -> its attribute).
CHECKING_OPTIONS = {"--strict": "strict", "--max-memory": "max_memory"}


def refuse_checking_beside_explain(args) -> None:
    """--explain prints what a lint means and checks nothing: a spec or a checking option
    given beside it would be ignored, the user left believing the spec passed
    (`check --explain gain-misfit net.cnn` printed the text alone, exit 0)."""
    from cnnspec.sourcefile import SPEC_SUFFIXES

    alone = "give --explain alone, with a lint's name or none"
    # `check --explain net.cnn`: argparse gives --explain the spec as its LINT
    spec = next(iter(args.specs), None) or (
        args.explain if Path(args.explain).suffix.lower() in SPEC_SUFFIXES else None)
    if spec:
        raise InputError(f"--explain says what a lint means and checks no spec; the spec "
                         f"{spec} would be left unused",
                         hint=f"check it as `{typed('check', spec)}`, and {alone}")
    option = first_given(args, CHECKING_OPTIONS) or ("--ignore" if args.ignore else None)
    if option:
        raise InputError(f"--explain says what a lint means and checks no spec; {option} "
                         "would be left unused", hint=f"{option} goes with a spec to check; "
                         f"{alone}")


def run(args) -> int:
    """Every spec is checked even if an earlier one fails; a mistake (2) outranks a file that
    could not be read (1)."""
    if args.explain is not None:
        refuse_checking_beside_explain(args)
        print(explained(args.explain))
        return 0
    if not args.specs:
        raise InputError("nothing to check",
                         hint=f"give a spec ({typed('check', 'specs/digits.cnn')}), or "
                         "--explain to list the warnings check gives")
    codes = [0]
    for path in args.specs:
        with collector_paused():
            codes.append(check_one(path, args.strict, args.max_memory, args.dtype,
                                   args.ignore))
    return max(codes)
