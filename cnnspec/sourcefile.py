"""Reading a spec file's text: the one function every reader of ``.cnn`` and ``.json`` files
calls (the parser, the IR loader, ``fmt``, the init variants, error rendering).

A spec is UTF-8 text. A leading byte-order mark (which some Windows editors write) is dropped,
so that line 1 column 1 is the first character the user sees, and a carriage return that ends a
line alone (the classic Mac OS line ending) becomes a line feed, as Python's universal newlines
read it: the grammar's line break is ``\n`` or ``\r\n``, and without this a file with CR line
endings would be one long comment. Bytes that are not UTF-8 are a
:class:`SpecError` located at the line and column where they start; text in UTF-16 (with or
without its byte-order mark) and a file holding a NUL byte, which no text does (a binary file),
are told as such rather than as a stray byte or an unexpected character; a file that cannot be
read at all is a :class:`RunError`. Each message's hint names the file as its reader calls it
(the spec, the prototxt being imported).
"""
from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from pathlib import Path

from cnnspec.errors import InputError, RunError, Span, SpecError, literal, shell_word, shown_path

# The largest spec file read: the largest spec written by hand, or exported from a network of
# a thousand layers, is a few MiB; a file beyond this is not a spec (a data set, a log, a
# checkpoint misnamed), and reading it whole would take its size in memory and more to parse.
MAX_SPEC_BYTES = 64 << 20
LONE_CR = re.compile(rb"\r(?!\n)")
SPEC_SUFFIXES = (".cnn", ".json")  # a spec in the language, or its IR
SPEC = "the spec"  # what a spec file is called in the hints

# The files `cnnspec import` reads, by suffix in any case (LENET.PROTOTXT is a prototxt too),
# read here by the importer and by the loader of specs, which tells such a file given in a
# spec's place to import it first. A Keras model's .json shares the IR's suffix: its contents
# tell them apart (KERAS_MODEL_KEYS).
CAFFE_SUFFIXES = (".prototxt", ".pbtxt")
KERAS_SUFFIXES = (".json", ".keras")
DARKNET_SUFFIXES = (".cfg",)
ONNX_SUFFIXES = (".onnx",)
# The keys at the top of a Keras model's JSON (model.to_json()), which no IR has.
KERAS_MODEL_KEYS = ("class_name", "config")
# The files import reads, as its refusals of other files name them.
IMPORTED_FILES = (f"Caffe {CAFFE_SUFFIXES[0]}, Keras {KERAS_SUFFIXES[0]} and "
                  f"{KERAS_SUFFIXES[1]}, Darknet {DARKNET_SUFFIXES[0]} and ONNX "
                  f"{ONNX_SUFFIXES[0]} files")
# Files a newcomer reaches for that hold weights or a whole saved model rather than the
# architecture as text: what each is, and what to give instead (a hint template:
# `{export_command}` is worded as the caller types it).
NOT_TEXT = ", not a model's architecture as text"
TO_JSON = ("in Keras: open('model.json', 'w').write(model.to_json()), then import "
           "model.json")


def _keras_saved(form: str) -> tuple[str, str]:
    return f"a Keras model saved with model.save() ({form}){NOT_TEXT}", TO_JSON


PYTORCH = ("a PyTorch file" + NOT_TEXT,
           (f"cnnspec imports {IMPORTED_FILES}; write a PyTorch network as a spec by hand "
            "(docs/language.md)"))
SAVED_MODELS = {
    ".h5": _keras_saved("HDF5"),
    ".hdf5": _keras_saved("HDF5"),
    ".caffemodel": ("Caffe's trained weights" + NOT_TEXT,
                    "import the model definition, a .prototxt"),
    ".pt": PYTORCH,
    ".pth": PYTORCH,
}


def import_first(path: str | Path) -> str:
    """The hint for a model of another framework given where a spec is read: the command that
    imports it as a spec, and the spec to give then (a template: ``{import_command:...}`` is
    worded as the caller types it)."""
    spec = Path(path).with_suffix(".cnn")
    return (f"import it as a spec first: `{{import_command:{literal(str(path))}}} -o "
            f"{literal(shell_word(str(spec)))}`, then use {literal(str(spec))}")


def is_keras_model(document) -> bool:
    """Whether ``document``, a JSON file's contents, is a Keras model as ``model.to_json()``
    writes it: an object with :data:`KERAS_MODEL_KEYS` at its top."""
    return isinstance(document, dict) and "class_name" in document \
        and isinstance(document.get("config"), (dict, list))


def read_spec_text(path: str | Path, what: str = SPEC) -> str:
    """The text of the spec file at ``path``, without a byte-order mark. Only a regular file
    of at most :data:`MAX_SPEC_BYTES` is read: a device (``/dev/zero``), a pipe or a huge
    file is refused first, by what it is and how large. ``what`` names the file in the hint
    of an error about its bytes ("save the spec as UTF-8")."""
    try:
        # Measured before it is opened: opening a pipe no one writes to waits forever.
        measured = os.stat(path)
        _refuse_unreadable_kind(path, measured)
        with open(path, "rb") as handle:
            # Asked for its measured size, not the limit: read(n) sets n bytes aside first,
            # 64 MiB for a spec of a few KiB (an allocation a `ulimit -v` may refuse).
            data = handle.read(measured.st_size + 1)
            if len(data) > measured.st_size:  # grew after it was measured
                data += handle.read(MAX_SPEC_BYTES + 1 - len(data))
    except FileNotFoundError:
        raise missing_file(path, spec=what == SPEC) from None
    except IsADirectoryError:
        raise not_a_file(path) from None
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}",
                       hint="check that the file exists and that you may read it") from None
    return spec_text_of(data, path, what)


def spec_text_of(data: bytes, path: str | Path, what: str = SPEC) -> str:
    """The text of a spec's bytes ``data`` read from ``path`` (a file, or a member of an
    archive): the checks and decoding of :func:`read_spec_text` after the reading."""
    if len(data) > MAX_SPEC_BYTES:  # grew after it was measured
        raise too_large(path, len(data))
    data = _unified(data)
    not_text = _not_text(data, str(path), what)
    if not_text is not None:
        raise not_text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, exc.start, str(path), what) from None


def _refuse_unreadable_kind(path: str | Path, info: os.stat_result) -> None:
    """Refuse a file (``info``: its status) that is not a regular one, or is larger than a
    spec can be."""
    if stat.S_ISDIR(info.st_mode):
        raise not_a_file(path)
    if not stat.S_ISREG(info.st_mode):
        raise not_a_regular_file(path, "name a .cnn spec or a .json IR file saved on disk")
    if info.st_size > MAX_SPEC_BYTES:
        raise too_large(path, info.st_size)


def not_a_regular_file(path: str | Path, hint: str) -> InputError:
    """The error for a device, a pipe or a socket named where a file on disk is read or
    written: reading ``/dev/zero`` never ends, opening a pipe waits for a writer, and writing
    by rename (:func:`cnnspec.atomic.write_bytes`) would replace ``/dev/null``."""
    return InputError(f"{path} is not a regular file (a device, a pipe or a socket)", hint=hint)


def is_special(path: str | Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder (following links)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


TOO_LARGE_HINT = "a spec is a page or two of text: check that this is the file you meant"


def too_large(path: str | Path, size: int) -> InputError:
    return InputError(f"{path} is {size:,} bytes, more than the {MAX_SPEC_BYTES >> 20} MiB a "
                      "spec file may be", hint=TOO_LARGE_HINT)


def missing_file(path: str | Path, spec: bool = True) -> InputError:
    """The error for a file that does not exist; for a ``spec``, a name given without its
    suffix (``mynet`` for ``mynet.cnn``, as a model is named) is told the file that has it."""
    named = spec_with_suffix(path) if spec else None
    return InputError(f"no such file: {path}",
                      hint=f"did you mean {named}?" if named else
                      "check the path and the file name")


def spec_with_suffix(path: str | Path) -> str | None:
    """The spec file ``path`` names without its suffix (``a.cnn`` for ``a``), when ``path``
    does not exist and that file does; else None."""
    path = Path(path)
    if not path.name or path.exists():
        return None
    return next((str(named) for named in (path.with_name(path.name + suffix)
                                          for suffix in SPEC_SUFFIXES) if named.is_file()),
                None)


def not_a_file(path: str | Path) -> InputError:
    return InputError(f"{path} is a directory, not a spec file",
                      hint="name a .cnn spec or a .json IR file")


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of a spec's text as the parser numbers them: line N of a span is item N - 1.

    The text is split at ``"\n"`` alone, the line break of the grammar and of Lark's line
    counter, and not at the other separators :meth:`str.splitlines` also splits at (U+2028,
    U+0085, ``\v``, ``\f``, ``\x1c``-``\x1e``), which a comment or a string may hold: split there
    too, every line after one would be shown, or rewritten, a line off. Without ``keepends``
    a line's ending (``\n`` or ``\r\n``) is dropped; as with :meth:`str.splitlines`, a final
    line break starts no empty line."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]  # the last piece has no line break after it
    if not lines[-1]:
        lines.pop()
    if keepends:
        return lines
    return [line.removesuffix("\n").removesuffix("\r") for line in lines]


def lenient_text(path: str | Path) -> str | None:
    """The file's text for showing a line of it under an error: undecodable bytes replaced,
    None if it cannot be read (an error's file may be an option with its value, which names
    no file and may hold a NUL, which no path does)."""
    try:
        data = Path(path).read_bytes()
    except (OSError, ValueError):
        return None
    return _unified(data).decode("utf-8", errors="replace")


def _unified(data: bytes) -> bytes:
    """A spec file's bytes without a byte-order mark, each lone CR a LF (in UTF-8 no byte of
    a multi-byte character is 0x0D, so this is safe before decoding)."""
    return LONE_CR.sub(b"\n", data.removeprefix(codecs.BOM_UTF8))


def _save_as_utf8(what: str) -> str:
    return f"save {what} as UTF-8 (most editors offer it under 'encoding')"


def _not_utf8(data: bytes, start: int, path: str, what: str) -> SpecError:
    """The error for the undecodable byte at offset ``start``, at its line and column; or,
    when most of the file's start is no text in any encoding, for a binary file."""
    if _looks_binary(data[:WIDE_SAMPLE]):
        return _binary(path, what)
    return SpecError(f"the file is not UTF-8 text: byte 0x{data[start]:02X} cannot be decoded",
                     span=_byte_span(data, start), hint=_save_as_utf8(what), file=path)


def _byte_span(data: bytes, offset: int) -> Span:
    """The span of the byte at ``offset``, where every byte before it is UTF-8."""
    before = data[:offset].decode("utf-8")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return Span(line, column, line, column + 1)


# The byte-order marks of UTF-32 before UTF-16's: UTF-32 LE's starts with UTF-16 LE's.
WIDE_BOMS = {codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32",
             codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16"}
WIDE_SAMPLE = 512  # the bytes looked at for UTF-16 without a byte-order mark


def _not_text(data: bytes, path: str, what: str) -> SpecError | None:
    """The error for a file (``data``: its bytes, a UTF-8 byte-order mark dropped) that is no
    UTF-8 text at all, or None: text in UTF-16 or UTF-32 (Windows' "Unicode", PowerShell 5's
    ``>``), in which a UTF-8 reader finds an undecodable byte or a NUL at the first
    character, and a file holding a NUL byte (a binary file, a damaged one), located at that
    byte where what comes before it is text."""
    for bom, encoding in WIDE_BOMS.items():
        if data.startswith(bom):
            return SpecError(f"the file is {encoding} text (it starts with {encoding}'s "
                             "byte-order mark), not UTF-8", hint=_save_as_utf8(what),
                             file=path)
    nul = data.find(b"\0")
    if nul < 0:
        return None
    if _looks_utf16(data[:WIDE_SAMPLE]):
        return SpecError("the file is UTF-16 text (a NUL byte beside each letter), not UTF-8",
                         hint=_save_as_utf8(what), file=path)
    if _looks_binary(data[:WIDE_SAMPLE]):
        return _binary(path, what, "it holds NUL bytes (0x00)")  # no line to point at
    try:
        span = _byte_span(data, nul)
    except UnicodeDecodeError:
        span = None
    return _binary(path, what, "it holds a NUL byte (0x00)", span)


def _binary(path: str, what: str, why: str = "many of its first bytes are control "
            "characters, which text does not hold", span: Span | None = None) -> SpecError:
    return SpecError(f"the file is not text: {why}", span=span,
                     hint=f"is it {what}? This file is binary, or damaged", file=path)


# Bytes no text holds, in UTF-8 or any 8-bit encoding built on ASCII: NUL and the other ASCII
# control characters but tab, line feed, vertical tab, form feed and carriage return; DEL.
CONTROL_BYTES = frozenset(range(0x20)) - frozenset(b"\t\n\v\f\r") | {0x7F}
# Random bytes hold them at 28 in 256 (11%), text at none: a twentieth tells the two apart.
CONTROL_SHARE = 1 / 20


def _looks_binary(sample: bytes) -> bool:
    """Whether ``sample`` is no text: more than :data:`CONTROL_SHARE` of its bytes, and more
    than one, are :data:`CONTROL_BYTES` (one stray byte in a short text is damage to locate).
    Bytes that are not UTF-8 are no evidence: a spec in another 8-bit encoding is mostly such
    bytes where it is written in Greek (ISO-8859-7) or Russian (KOI8-R), and is text, to be
    saved as UTF-8."""
    controls = sum(byte in CONTROL_BYTES for byte in sample)
    return controls > max(1, len(sample) * CONTROL_SHARE)


def _looks_utf16(sample: bytes) -> bool:
    """Whether ``sample`` reads as UTF-16 text without a byte-order mark: in one of the two
    byte positions (which depends on the byte order) most bytes are NUL, as the high byte of
    every ASCII character is, and in the other almost none."""
    zeros = [half.count(0) / max(1, len(half)) for half in (sample[0::2], sample[1::2])]
    return len(sample) >= 2 and max(zeros) >= 0.5 and min(zeros) <= 0.1


def located(path: str) -> Path:
    """Where a file the user named by ``path`` is read from: ``~`` is the home folder, and a
    relative path is read from the folder the command runs in (a spec in another folder does
    not change it), its ``..`` steps taken (so one file named two ways is one path). ``~user``
    of no user stays as written, as a shell leaves it."""
    place = os.path.expanduser(path)
    try:
        return Path(os.path.abspath(place))
    except OSError:  # the folder the command runs in was deleted
        return Path(place)


# Why a file is not found where its name is longer than the file systems allow (ENAMETOOLONG).
NAME_TOO_LONG = " (its name is too long for the file system)"


def absence(place: Path, there=Path.exists) -> str | None:
    """Why nothing is at ``place`` as ``there`` looks (``Path.exists``, ``Path.is_file``): a
    reason for :func:`not_found`, "" or :data:`NAME_TOO_LONG` for a name the system cannot
    look up (which pathlib raises, not answers); None when something is there."""
    try:
        return None if there(place) else ""
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        return NAME_TOO_LONG


def not_found(what: str, path: str, why: str = "") -> str:
    """The message for a file the user named that is not there (``why``: a reason, said after
    "not found"): ``path`` as it was written, and where it was looked for where that is not the
    same (:func:`located`), each with its control characters escaped (a line feed too: a name
    is one line)."""
    place = str(located(path))
    where = "" if place == path else f" (looked for at {shown_path(place)})"
    return f"{what} not found{why}: {shown_path(path)}{where}"


def check_path_hint(path: str) -> str:
    """"check the path", and for a relative one the folder it is read from (the one the
    command runs in, which a spec in another folder does not change)."""
    if Path(os.path.expanduser(path)).is_absolute():
        return "check the path"
    return "check the path (a relative one is read from the folder the command runs in)"


