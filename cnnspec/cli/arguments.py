"""Argument types shared by the commands: numbers checked where they are read, so a bad value
is an argparse usage error (exit 2) naming the option, not a failure deep in a run."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from cnnspec.cli import OPTION_NAMES, typed
from cnnspec.dtypes import DEFAULT_DTYPE, DTYPES
from cnnspec.errors import InputError, command_line, shortened
from cnnspec.ir.limits import short_number, too_large_int
from cnnspec.sourcefile import is_special, not_a_regular_file, spec_with_suffix
from cnnspec.usercache import CACHE_DIR_TEXT


def _number(text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {shortened(text)!r}"
                                         f"{_number_mended(text)}") from None


def _number_mended(text: str) -> str:
    """What a spec would say of ``text``, a number mistyped as :func:`cnnspec.lang.
    syntax_errors.number_run_on` knows them (``1e``, ``1.e-``), as the end of an option's
    error: `` (an exponent is written with its digits: 1e3 is ...)``; "" for any other."""
    from cnnspec.lang.syntax_errors import NUMBER_RUN, number_run_on  # on a bad value only

    run = NUMBER_RUN.fullmatch(text.strip())
    found = number_run_on(run[0]) if run else None
    return "" if found is None else f" ({found[0]}: {found[1]})"


def _within_limit(value: int) -> int:
    """``value`` if within the IR's limit on whole numbers: a count (epochs, a batch,
    iterations, seeds, an index) is an IR number or goes where one goes, and beyond the limit
    it would overflow an int32 index or run a loop for ages."""
    too_large = too_large_int(value)
    if too_large:
        raise argparse.ArgumentTypeError(too_large)
    return value


def whole_number(text: str) -> int:
    """The type of an option that takes any whole number within the IR's limit (an index that
    may count from the end)."""
    return _within_limit(_number(text, int))


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {short_number(value)}")
    return _within_limit(value)


def int_from(low: int, high: int):
    """The type of an option that takes a whole number from ``low`` to ``high``."""

    def read(text: str) -> int:
        value = _number(text, int)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be from {low} to {high}, got {short_number(value)}")
        return value

    return read


def nonnegative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {short_number(value)}")
    return _within_limit(value)


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def fraction(text: str) -> float:
    value = _number(text, float)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


MEMORY_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def sizes(count: int, low: int, expected: str):
    """The type of an option of ``count`` whole numbers joined by ``x`` (``1x28x28``), each
    at least ``low``; ``expected`` says what to write, with an example."""

    def read(text: str) -> tuple[int, ...]:
        parts = text.lower().split("x")
        if len(parts) != count or not all(p.strip().isdecimal() and int(p) >= low for p in parts):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {shortened(text)!r}")
        return tuple(_within_limit(int(p)) for p in parts)

    return read


def memory_size(text: str) -> int:
    """Bytes written as ``512M``, ``2G``, ``1.5GiB`` or a plain number of bytes."""
    number = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = number[-1:] if number[-1:] in MEMORY_UNITS and number[-1:] else ""
    try:
        value = float(number[: len(number) - len(unit)]) * MEMORY_UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M or 2G, got {text!r}") \
            from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive size, got {text!r}")
    if not unit and value < MEMORY_UNITS["M"]:  # bytes: `--max-memory 5` meant 5G or 5M
        raise argparse.ArgumentTypeError(
            f"{text!r} would be {int(value):,} bytes, less than any training process: write the "
            f"unit, such as {text}M or {text}G")
    return int(value)


# Limits of the file systems cnnspec runs on (Linux, macOS, Windows): a file or folder name of
# at most 255 bytes, a path of at most 4,096.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def path_text(text: str) -> str:
    """A path the operating system can take: no NUL byte, names and the whole within the
    limits, so a mistyped path is a usage error here rather than a failure mid-run."""
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot hold a NUL byte")
    if not text:
        raise argparse.ArgumentTypeError("the path is empty")
    encoded = os.fsencode(text)
    if len(encoded) > MAX_PATH_BYTES:
        raise argparse.ArgumentTypeError(f"the path is {len(encoded):,} bytes long, more than "
                                         f"{MAX_PATH_BYTES:,}")
    for name in Path(text).parts:
        if len(os.fsencode(name)) > MAX_NAME_BYTES:
            raise argparse.ArgumentTypeError(
                f"the name {shortened(name, 40)!r} is {len(os.fsencode(name))} bytes long; a "
                f"file or folder name holds at most {MAX_NAME_BYTES}")
    return text


def output_file(*suffixes: str):
    """The type of an ``-o FILE`` option: a path ending in one of ``suffixes`` (``".png"``)
    in a folder that exists. Every command refuses a missing folder the same way, before any
    work is done, rather than creating folders the user may have mistyped."""

    def read(text: str) -> str:
        path = Path(path_text(text))
        # Path("out.png/") is Path("out.png"): the file would be written where a folder was meant.
        if text[-1] in (os.sep, os.altsep or os.sep):
            raise argparse.ArgumentTypeError(
                f"{shortened(text, 60)} ends in '{text[-1]}', which names a folder; name a file")
        if suffixes and path.name.lower() in suffixes:  # a hidden name such as .png: no suffix
            raise argparse.ArgumentTypeError(
                f"{shortened(text, 60)!r} is only an extension: name the file before it, "
                f"e.g. out{path.name}")
        if suffixes and path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                f"{shortened(text, 60)!r} must end in {' or '.join(suffixes)} (the file's "
                "format)")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"the folder {shortened(str(path.parent), 60)} does not exist; create it first "
                f"({command_line('mkdir -p', path.parent)})")
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{shortened(text, 60)} is a folder; name a file")
        if is_special(path):
            raise argparse.ArgumentTypeError(not_a_regular_file(
                shortened(text, 200), "name a file to write, not a device or a pipe").message)
        return text

    return read


def new_folder(text: str) -> str:
    """The type of a folder that is created when needed (``--out``, ``--runs-dir``,
    ``--data-dir``): a path the system can take, that is not an existing file nor under one
    (where creating it fails with a bare "Not a directory")."""
    path = Path(path_text(text))
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                where = "is" if place == path else f"is under {shortened(str(place), 60)}, which is"
                raise argparse.ArgumentTypeError(
                    f"{shortened(text, 60)} {where} a file, not a folder; name a folder")
            break
    return text


def add_data_dir(parser: argparse.ArgumentParser, run_default: str = "") -> None:
    """``--data-dir DIR``, declared once for every command that loads data. ``run_default``
    says when a run's own folder (kept in its summary) comes before the user's cache."""
    default = f"{run_default}, else {CACHE_DIR_TEXT}" if run_default else CACHE_DIR_TEXT
    parser.add_argument("--data-dir", metavar="DIR", type=new_folder,
                        help=f"where downloaded datasets are cached (default {default})")


def add_batch_size(parser: argparse.ArgumentParser, what: str, default: int | None = None
                   ) -> None:
    """``--batch-size N``, declared once for every command that takes a batch size (train,
    compare, init-report, time), so that one spelling works everywhere; ``what`` says what the
    batch is in this command and its default. ``--batch``, which init-report and time once
    took, is still read (:func:`add_with_old_spelling`)."""
    add_with_old_spelling(parser, ["--batch-size"], "--batch", dest="batch_size",
                          type=positive_int, default=default, metavar="N", help=what)


def add_output(parser: argparse.ArgumentParser, kind, what: str, metavar: str = "FILE",
               required: bool = False, default: str | None = None,
               once_out: bool = False) -> None:
    """``-o FILE``, long name ``--output``, declared once for every command that writes a file
    it is given, so that one spelling works everywhere (``--out DIR`` is a folder: the run's,
    the sweep's); ``kind`` is its type (:func:`output_file`), ``what`` its help. With
    ``once_out``, ``--out``, which export and import once took, is still read
    (:func:`add_with_old_spelling`)."""
    names = ["-o", "--output"]
    option = {"dest": "output", "type": kind, "metavar": metavar, "default": default,
              "help": what}
    if once_out:
        add_with_old_spelling(parser, names, "--out", required=required, **option)
    else:
        parser.add_argument(*names, required=required, **option)


def add_with_old_spelling(parser: argparse.ArgumentParser, names: list[str], old: str,
                          required: bool = False, **option) -> None:
    """The option ``names`` (``option``: its dest, type, default, metavar and help) listed in
    the help, and ``old``, a spelling a command once took, still read to the same dest: as an
    option of its own, so that a mistake in its value names it as typed, and left out of the
    help, which names one spelling. ``required``: one of the two must be given."""
    # one or the other: given both, the last would win without a word
    either = parser.add_mutually_exclusive_group(required=required)
    either.add_argument(*names, **option)
    either.add_argument(old, **{**option, "help": argparse.SUPPRESS})


def add_data(parser: argparse.ArgumentParser, use: str) -> None:
    """``--data DATA``, declared once for every command that takes a spec's data (train,
    compare, init-report): the dataset ``use`` says what of (the run trains on, every variant
    trains on, the batch is drawn from), in place of the spec's, written as the spec's
    ``data`` setting is."""
    from cnnspec.data.names import valid_forms

    parser.add_argument("--data", metavar="DATA",
                        help=f"the dataset {use} in place of the spec's, written as its `data` "
                        f"setting is: {valid_forms()}, with arguments as in a spec: "
                        "\"shapes(size=8, classes=[x, o])\"")


def add_keep_weights(parser: argparse.ArgumentParser, each: str) -> None:
    """``--keep-weights``, declared once for the commands that train many runs (sweep,
    compare); ``each`` names one of them (a cell, a variant's run)."""
    parser.add_argument("--keep-weights", action="store_true",
                        help=f"keep {each}'s weights (checkpoint.npz, best.npz; a diverged "
                        "run's diverged.npz), for eval, filters and features")


def add_dtype(parser: argparse.ArgumentParser, what: str,
              default: str | None = DEFAULT_DTYPE) -> None:
    """``--dtype``, declared once for every command whose figures depend on the precision the
    model computes in; ``what`` says what it sets in this command (``default`` None: the
    command's own, said in ``what``)."""
    shown = f" (default {default})" if default else ""
    parser.add_argument("--dtype", choices=DTYPES, default=default, help=what + shown)


def add_inits(parser: argparse.ArgumentParser, what: str) -> None:
    """``--init NAME``, repeatable, declared once for the commands that set a spec's
    model-wide default weight init to several in turn (compare, init-report); ``what`` says
    what each does in this command and its default."""
    parser.add_argument("--init", action="append", metavar="NAME", dest="inits", help=what)


def add_spec(parser: argparse.ArgumentParser, optional: str = "") -> None:
    """The SPEC argument of a command that reads a spec; ``optional`` says when it may be left
    out (``"with --resume"``)."""
    parser.add_argument("spec", metavar="SPEC", type=spec_file, nargs="?" if optional else None,
                        help="a .cnn spec or .json IR file"
                        + (f" (optional {optional})" if optional else ""))


def add_run(parser: argparse.ArgumentParser) -> None:
    """The RUN argument of a command that reads a trained run."""
    parser.add_argument("run", metavar="RUN", type=run_folder_in,
                        help="a run folder written by `cnnspec train`")


def add_weights_and_format(parser: argparse.ArgumentParser) -> None:
    """``--last`` and ``--format`` of a command that reports what a run's weights make of
    data (``eval``, ``predict``); :func:`weights_chosen` reads ``--last``."""
    parser.add_argument("--last", action="store_true",
                        help="use the last checkpoint instead of the best epoch's weights "
                        "(best.npz, chosen on the validation split by the spec's monitor, "
                        "when the run validated)")
    add_format(parser)


def _lint_list(text: str) -> list[str]:
    """The type of ``--ignore``: lint names separated by commas, each one the catalogue holds
    (:func:`cnnspec.check.silence.lint_names`)."""
    from cnnspec.check.silence import lint_names  # the lints' catalogue: only when given
    from cnnspec.errors import SettingError

    try:
        return sorted(lint_names(text))
    except SettingError as exc:
        message, hint = exc.worded(OPTION_NAMES)
        raise argparse.ArgumentTypeError(f"{message}; {hint}") from None


def add_ignore(parser: argparse.ArgumentParser) -> None:
    """``--ignore LINT[,LINT]``, declared once for every command that prints check's
    warnings: the warnings of those lints are left out."""
    parser.add_argument("--ignore", type=_lint_list, action="extend", default=[],
                        metavar="LINT[,LINT]",
                        help="leave out the warnings of these lints (their names end each "
                        "warning, in brackets; `cnnspec check --explain` lists them)")


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format``, declared once for every command that reports: readable text, or JSON with
    the same content. ``table`` is taken as ``text``: the reports that are tables were asked
    for by that word, the others by ``text``, and a user should not have to know which."""
    parser.add_argument("--format", choices=("text", "table", "json"), default="text",
                        help="readable text (the default; `table` is the same) or JSON with the "
                        "same content")


def weights_chosen(args: argparse.Namespace) -> str:
    """The weights ``--last`` asks for, as ``load_run`` takes them: ``"last"`` or ``"best"``."""
    return "last" if args.last else "best"


def weights_line(loaded) -> str:
    """The line eval and predict begin their text with: the weights of the run they use
    (:meth:`~cnnspec.training.run.Run.weights_text`), and ``--last`` where it takes others
    (not where the best epoch is the last of a finished run: the same weights)."""
    summary = loaded.summary
    same = summary.get("status") == "finished" and loaded.weights_epoch == summary.get(
        "epochs_done")
    last = " (--last for the last)" if loaded.weights == "best" and not same else ""
    return f"weights: {loaded.weights_text()}{last}"


def spec_file(text: str) -> str:
    """The type of a SPEC argument: an existing file (a folder is refused by name; a run
    folder, given for the network it trained, with the path of the spec it keeps)."""
    mistake = run_folder_as_spec(text)
    if mistake:
        raise argparse.ArgumentTypeError(mistake)
    return _existing_spec(text)


def run_folder_as_spec(text: str) -> str | None:
    """What is wrong when ``text``, named where a spec is read, is a run folder (given for the
    network it trained, as ``export`` takes one): the spec file it keeps; else None."""
    path = Path(path_text(text))
    if not path.is_dir():
        return None
    from cnnspec.training.rundir import SPEC_CNN  # NumPy: only for this mistake
    if not (path / SPEC_CNN).is_file():
        return None
    return (f"{shortened(text, 200)} is a run folder, not a spec file; its spec is "
            f"{shortened(str(path / SPEC_CNN), 200)}")


def spec_or_run(text: str) -> str:
    """The type of a SPEC|RUN argument: an existing spec file, or a run folder (one with a
    ``summary.json`` or a checkpoint)."""
    path = Path(path_text(text))
    if not path.is_dir():
        return _existing_spec(text)
    from cnnspec.training.rundir import CHECKPOINT, SUMMARY  # NumPy: only for a folder

    # a folder is a run folder by its checkpoint, or the summary written with it
    if not any((path / name).is_file() for name in (SUMMARY, CHECKPOINT)):
        raise argparse.ArgumentTypeError(f"{shortened(text, 200)} is a directory, not a spec "
                                         f"file or a run folder (it has no {SUMMARY})")
    return text


# What an INPUT file may be, as predict and features read it (cnnspec.data.images.load_image).
PICTURE_INPUT = "converted and resized to the model's input; dark-on-light pictures inverted"
ARRAY_INPUT = "(C, H, W) or (H, W) of the model's size"


def input_file(text: str) -> str:
    """The type of an INPUT argument (an image or array, a model to import): an existing
    regular file (a device such as /dev/zero would be read forever)."""
    text = _existing(text, folder=False)
    if is_special(text):
        raise argparse.ArgumentTypeError(not_a_regular_file(
            shortened(text, 200), "name a file saved on disk").message)
    return text


def run_folder_in(text: str) -> str:
    """The type of a RUN argument: an existing folder."""
    return _existing(text, folder=True)


def _existing_spec(text: str) -> str:
    """``text`` if it names an existing spec file; a name given without its suffix (``a``
    for ``a.cnn``, as a model is named) is told the file that has it."""
    try:
        return _existing(text, folder=False)
    except argparse.ArgumentTypeError as exc:
        named = spec_with_suffix(path_text(text))
        if named is None:
            raise
        raise argparse.ArgumentTypeError(f"{exc}; did you mean {shortened(named, 200)}?"
                                         ) from None


def _existing(text: str, folder: bool) -> str:
    """``text`` if it names an existing file (or folder); the same words for the same mistake
    whichever command it is given to, exit code 2."""
    path = Path(path_text(text))
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such {'folder' if folder else 'file'}: "
                                         f"{shortened(text, 200)}")
    if folder and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{shortened(text, 200)} is a file, not a run "
                                         f"folder{_what_a_run_is(path)}")
    if not folder and path.is_dir():
        raise argparse.ArgumentTypeError(f"{shortened(text, 200)} is a directory, not a file")
    return text


def _what_a_run_is(path: Path) -> str:
    """For a file given as a run: a spec, which trains into a run folder first, or a file of
    a run folder (its ``best.npz``), which stands for the folder; else nothing."""
    from cnnspec.sourcefile import SPEC_SUFFIXES
    from cnnspec.training.rundir import SPEC_JSON  # NumPy: only for this mistake

    named = shortened(str(path), 200)
    if path.suffix.lower() in SPEC_SUFFIXES:
        return (f"; train the spec first ({typed('train', named)}) and give "
                "the run folder it writes")
    if (path.parent / SPEC_JSON).is_file():
        return f"; give the run folder that holds it, {shortened(str(path.parent), 200)}"
    return ""


def first_given(args: argparse.Namespace, options: dict[str, str]) -> str | None:
    """The first of ``options`` (option -> its attribute, default None or False) given on
    the command line, or None: for refusing options that would otherwise be ignored."""
    return next((option for option, attribute in options.items()
                 if getattr(args, attribute) not in (None, False)), None)


def refuse_writing_over_inputs(outputs, inputs) -> None:
    """Stop before any work when a file the command would write is one it reads
    (``cnnspec export model.json -o model.json``): the write would destroy the input, perhaps
    half-way. A mistake in what was asked: exit 2, naming both.

    ``outputs`` are ``(option, path)`` pairs (``("-o", "model.py")``), or ``(option, path,
    what, written)`` for a file written beside the option's (``("-o", "model.py", "its
    weights", "model.npz")``). ``inputs`` are ``(what, path)`` pairs (``("the spec",
    "a.cnn")``); a run folder stands for the files cnnspec writes in it. Files are compared
    by identity (:func:`os.path.samefile`: the same device and inode), so ``./a.cnn``, a
    symbolic link and a hard link are all caught."""
    for option, given, *beside in outputs:
        written = beside[1] if beside else given
        if not given or given == "-" or not os.path.isfile(written):
            continue  # a file that does not exist yet is none of the inputs
        for what, place, path in _input_files(inputs):
            if os.path.samefile(written, path):
                named = f"{what} {shortened(str(place), 200)}"
                where = named if path == place else f"{shortened(path, 200)}, a file of {named}"
                also = f" {beside[0]}" if beside else ""
                raise InputError(f"{option} {shortened(str(given), 200)} would write{also} "
                                 f"over {where}, which this command reads",
                                 hint="give -o another file")


def _input_files(inputs):
    """``(what, place, path)`` for each file of ``inputs`` that exists: a file is itself, a
    run folder each of the run's files."""
    for what, place in inputs:
        if not place:
            continue
        if os.path.isdir(place):
            from cnnspec.training.rundir import RUN_FILES  # NumPy: only for a run folder

            paths = [os.path.join(place, name) for name in RUN_FILES]
        else:
            paths = [place]
        yield from ((what, place, path) for path in paths if os.path.isfile(path))
