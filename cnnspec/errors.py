"""The error types every stage shares.

A user mistake is a :class:`SpecError`: a message in the user's terms, where it happened
(a :class:`Span` in a ``.cnn`` file, or a JSON path in a ``.json`` IR file) and a hint on how to
fix it. Stages that can find several mistakes collect them and raise one :class:`SpecErrors`.
Failures at run time that are not the spec's fault (a diverging loss, a bad data file, a failed
download) are :class:`RunError`. The CLI renders both; tracebacks are for bugs only.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import field

# The command line's exit codes, for the modules that name them with the errors they end.
from cnnspec.exitcodes import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE  # noqa: F401
from cnnspec.records import record

# A value quoted in a message (a string from a JSON IR, a number's digits) is cut to this many
# characters, so that a 10 MB string is not echoed whole.
MAX_QUOTED = 80
# A word of a message or hint longer than this (a token, a name or a value quoted whole) is cut
# to it: paths, the longest words a message means to quote, are quoted up to 200 characters.
MAX_WORD = 200
# A keyword of the IR's JSON Schema, which validators pass over: beside an enum, the hint for
# each value another library writes there (an init named as Keras names it); on an object, the
# hint for each field another library writes there (Keras' minval); an error gives it instead
# of a spelling guess. Written once, it is elsewhere a {"$ref": "#/..."} to that place. The
# schema is generated from the registries with it.
SCHEMA_HINTS = "x-hints"


def shortened(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def option_place(option: str, text: str) -> str:
    """Where an error about the command-line option ``option`` given ``text`` is, as the
    error's file: the option with its value, quoted once (``--set "lr=0.1"``,
    ``--init "he"``)."""
    return f'{option} "{shortened(text)}"'


def float_text(x: float) -> str:
    """``x`` in its shortest form that reads back exactly (Python's ``repr``), written as a
    spec writes numbers: ``1e39``, ``-2.5e-7``, ``0.01`` and ``3``, not ``1e+39``,
    ``-2.5e-07`` and ``3.0``. A whole number given as an int (a declared bound) is its
    digits."""
    if isinstance(x, int):
        return str(x)
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return _spec_exponent(repr(x))


def rounded_text(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, its exponent written as :func:`float_text`
    writes it: ``4.71e39``, ``4.5e-80``, ``0.0038``."""
    return _spec_exponent(f"{x:.{digits}g}")


def _spec_exponent(text: str) -> str:
    """A float's text with its exponent as a spec writes it (``e39``, ``e-7``)."""
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def count_text(n: int) -> str:
    """``61706`` -> ``61,706``: every count a message or picture shows, its thousands
    separated; large counts keep every digit (they are exact)."""
    return f"{int(n):,}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 layer``, ``16 layers``, ``1,437 images``, ``2 classes`` (``plural``, where adding
    's' would not do), for every message that counts things."""
    return f"{count_text(n)} {noun if n == 1 else plural or noun + 's'}"


def listed(words, conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``: the words of a sequence as a sentence lists them,
    the last two joined by ``conjunction`` (``a, b or c`` for the choices a message offers)."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def escaped_controls(text: str, keep: str = "\n") -> str:
    """``text`` with each control character (Unicode category Cc) but those in ``keep``
    written as its escape (``\\x1b``): a message quoting a file name, a string of a spec or a
    class name would otherwise hand the terminal the escape sequences it holds (colours,
    cursor moves, a retitled window), and a carriage return would overwrite the line."""
    return "".join(char if char in keep or unicodedata.category(char) != "Cc"
                   else repr(char)[1:-1] for char in text)


def long_words_shortened(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` with each run of more than ``limit`` non-space characters :func:`shortened`:
    for a message that quotes what the user wrote whole wherever it came from (a token of
    5,000 characters, an option's value), so the quote does not bury the message."""
    return re.sub(rf"\S{{{limit + 1},}}", lambda match: shortened(match.group(), limit), text)


# Longer names than this get no "did you mean": no name in cnnspec is near that long, and
# difflib indexes every character of the word it matches (seconds for a 10 MB string).
MAX_SUGGESTED_FROM = 100


# How alike a wrong name must be to a known one to be offered as what was meant (difflib's
# ratio read both ways, the smaller): a letter or two wrong in a name of five or more
# (unifrom 0.86, dirak 0.8, lecun_norml 0.96). A name a letter away from a known one is
# offered however short, down to :data:`SHORT_WORD` letters (c3 for c1, 0.5).
CLOSE_SPELLING = 0.6
# Below this many characters a word's likeness says little: a letter in common scored 0.67
# against a name of two (`r` and `l` were offered lr) and two letters against one of four
# (`ta` data, `on` conv, `se` seed), and a letter changed is half the word (`lu`, `pr`, `tr`
# were offered lr). Such a word is offered only what keeps it (:func:`keeps_short_word`).
SHORT_WORD = 3


def closest(word: str, options, cutoff: float = CLOSE_SPELLING) -> str | None:
    """The option closest to ``word`` whose likeness to it is at least ``cutoff`` or which is
    a letter away from it (:func:`a_letter_apart`), or None; for a word shorter than
    :data:`SHORT_WORD`, the option :func:`keeps_short_word` alone says. The likeness is the
    smaller of difflib's two ratios, ``word`` against the option and the option against
    ``word``: difflib's matching blocks depend on the order, and read one way alone `nonsense`
    scored 0.67 against `ones`, a name it merely shares letters with (0.5 the other way)."""
    if len(word) > MAX_SUGGESTED_FROM:
        return None
    if len(word) < SHORT_WORD:
        return keeps_short_word(word, [str(option) for option in options])
    from difflib import SequenceMatcher  # only when a name is wrong

    def likeness(option: str) -> float:
        return min(SequenceMatcher(None, word, option).ratio(),
                   SequenceMatcher(None, option, word).ratio())

    scored = [(likeness(str(option)), option) for option in options]
    best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    if best[0] >= cutoff:
        return best[1]
    return next((option for _, option in sorted(scored, key=lambda pair: -pair[0])
                 if a_letter_apart(word, str(option))), None)


def keeps_short_word(word: str, options: list[str]) -> str | None:
    """The option a word of two characters is taken for, or None (for one character, always
    None): the one option of two words whose initials it is (`ce` cross_entropy, `wd`
    weight_decay); else one that keeps both its characters, with one added (`sd` sgd, `ad`
    add) or the two swapped (`rl` lr); else one that changes a digit of it alone, a numbered
    name's number (`c3` c1). A name it merely begins is a name cut short, which a caller that
    lists names offers (:func:`cnnspec.lang.suggest.did_you_mean`: `re` relu): `se` begins
    seed and step, and is neither."""
    if len(word) != 2 or word in options:
        return word if word in options else None
    initials = [option for option in options if option.count("_") == 1
                and "".join(part[:1] for part in option.split("_")) == word]
    kept = [option for option in options if len(option) == 3 and a_letter_apart(word, option)
            or option == word[::-1]]
    renumbered = [option for option in options if len(option) == 2 and option[0] == word[0]
                  and option[1] != word[1] and (option[1] + word[1]).isdigit()]
    if len(initials) == 1:
        return initials[0]
    return next(iter(kept + renumbered), None)


def a_letter_apart(word: str, option: str) -> bool:
    """Whether ``option`` is ``word`` with one letter changed, added, dropped, or two
    neighbours swapped (Damerau's single errors), in names of two letters or more."""
    if min(len(word), len(option)) < 2 or abs(len(word) - len(option)) > 1 or word == option:
        return False
    start = next((i for i, (a, b) in enumerate(zip(word, option)) if a != b),
                 min(len(word), len(option)))
    rest, other = word[start:], option[start:]
    return (rest[1:] == other[1:] or rest[1:] == other or rest == other[1:]
            or rest[:2] == other[1::-1] and rest[2:] == other[2:])


def folded(name: str) -> str:
    """A name as Keras reads it: lower case, no underscores (``HeNormal`` and ``he_normal``
    are ``henormal``)."""
    return name.replace("_", "").lower()


def foreign_hint(hints: dict[str, str], name) -> str | None:
    """The hint ``hints`` holds for ``name``, another library's word for one of ours: looked
    up in lower case (``Trunc_Normal_`` is ``trunc_normal_``), then folded as Keras folds its
    names (``he_Normal`` is ``henormal``); None where it holds none. A spec's resolver and a
    JSON IR's check both ask here, so a name gets the same answer in either."""
    word = str(name)
    return hints.get(word.lower()) or hints.get(folded(word))


@record(frozen=True)
class Span:
    """A place in a source file: 1-based line and column; ``end_column`` is exclusive."""

    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None


@record(frozen=True)
class Mend:
    """The text to write at ``span`` in place of what is there, so that the line reads as the
    error's hint says, and ``why`` (a few words: "PyTorch's nonlinearity= is gain= here")."""

    span: Span
    text: str
    why: str


@record
class SpecError(Exception):
    """One mistake in a spec.

    ``span`` points into the ``.cnn`` source; ``json_path`` (e.g. ``$.layers[3].kernel``) is used
    for ``.json`` IR input, where there are no lines to point at. ``severity`` is ``"error"`` or
    ``"warning"``; warnings are reported the same way but do not fail a check unless ``--strict``.
    ``copies``: the layers of a repeat block's copies the diagnostic holds for, in network order,
    where the checker said it once for them all (:mod:`cnnspec.check.copies`); else empty.
    """

    message: str
    span: Span | None = None
    hint: str | None = None
    json_path: str | None = None
    severity: str = "error"
    file: str | None = None
    # The hint as a template naming settings (see :class:`WordedError`), where it names one a
    # run was given (``--batch-size`` on the command line, ``batch_size=`` in the library);
    # ``hint`` is its library wording.
    hint_template: str | None = None
    copies: tuple[str, ...] = ()
    # The statement the hint tells to write in place of the one on the span's line (Caffe's
    # `conv1: Convolution 8 11`: `conv1: conv 8 11`, Keras' `Conv2D(8, 11)`), which is checked
    # there (:func:`cnnspec.check.load.rewrite_checked`); a line break in it for each line after the
    # span's that it replaces too (a Darknet section's key=value lines), so that later lines keep
    # their numbers.
    rewrite: str | None = None
    # The name of the lint that found a warning (:mod:`cnnspec.check.lint_catalogue`), set by
    # the catalogue (kept where ``--strict`` makes the warning an error); None for an error.
    lint: str | None = None
    # The layers a diagnostic is about (the layer :meth:`cnnspec.ir.spec.Spec.error` locates
    # it at; a warning of several layers, each), whose span may lie on another line than
    # theirs (an init a `default` line wrote for them): a `# cnnspec: ignore[NAME]` on each of
    # their lines silences it, as one on the span's line does (:mod:`cnnspec.check.silence`).
    about: tuple[str, ...] = ()
    # Where the hint's mend is one replacement within the line (another library's name for an
    # init or a parameter), that replacement: a line another error's hint wrote (``rewrite``)
    # and the checker refuses for this error is mended so and tried again
    # (:func:`cnnspec.check.load.rewrite_checked`), so that one hint writes the line that
    # reads, not the first of several.
    mend: Mend | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def worded_hint(self, names: dict) -> str | None:
        """The hint with each setting it names called as ``names`` says (a front end's)."""
        if self.hint_template is None:
            return self.hint
        return worded(self.hint_template, names)


def worded(template: str, names: dict) -> str:
    """A template naming settings (see :class:`WordedError`) with each setting called as
    ``names`` says (a front end's; one it leaves out, by its own name)."""
    return template.format_map(_Names(names))


def is_template(text) -> bool:
    """Whether ``text`` is a template :func:`worded` reads: a hint read back from a file
    (a sweep's cell) that damage made none would end the wording in Python's own error."""
    try:
        library_worded(text)
    except (TypeError, ValueError, LookupError, AttributeError):  # format_map's refusals
        return False
    return True


def library_worded(template: str) -> str:
    """A hint template (see :meth:`SpecError.worded_hint`) as the library words it: each
    setting it names as the parameter of that name."""
    return worded(template, LIBRARY_NAMES)


def reworded(template: str, names: dict) -> str:
    """``template`` (see :class:`WordedError`) with each field ``names`` has given the
    template text ``names[field](value)`` instead: where a setting was given another way
    (a sweep's ``{data:mnist}`` is its ``{sets:data=mnist}``)."""
    import string  # here, as shlex in Option.__format__: its Template compiles a pattern

    out = []
    for text, name, value, _ in string.Formatter().parse(template):
        out.append(literal(text))
        if name is not None:
            out.append(names[name](value) if name in names else
                       f"{{{name}{':' + value if value else ''}}}")
    return "".join(out)


def hinted(template: str) -> dict:
    """A :class:`SpecError`'s hint fields from a hint template that names settings or
    commands (``{check_command:PATH}``), worded as the library words them until a front end
    words them its way (:meth:`SpecError.worded_hint`): ``SpecError(message, **hinted(t))``."""
    return {"hint": library_worded(template), "hint_template": template}


def hint_fields(error: SpecError) -> dict:
    """``error``'s hint fields as they are, for another error about the same mistake (said at
    another place, or with more before it): ``SpecError(message, **hint_fields(error))``."""
    return {"hint": error.hint, "hint_template": error.hint_template}


def run_setting_error(message: str, setting: str, hint: str | None = None,
                      severity: str = "error", file: str | None = None,
                      hint_template: str | None = None) -> SpecError:
    """A :class:`SpecError` about a training setting a run was given rather than the spec's
    text (so not located in the file): its hint (``hint``, or ``hint_template`` where it names
    settings too) says so, naming the setting as the caller gave it
    (:meth:`SpecError.worded_hint`)."""
    said = f"{{{setting}}} is this run's setting, not the spec's"
    given = hint_template if hint_template is not None else literal(hint) if hint else None
    template = f"{given}; {said}" if given else said
    return SpecError(message, hint=library_worded(template), severity=severity, file=file,
                     hint_template=template)


@record
class SpecErrors(Exception):
    """Several spec errors found in one pass, reported together."""

    errors: list[SpecError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("; ".join(e.message for e in self.errors))


def first_error(exc: SpecError | SpecErrors) -> SpecError:
    """The error a report of one line gives: ``exc`` itself, or the first of several."""
    return exc.errors[0] if isinstance(exc, SpecErrors) else exc


class RunError(Exception):
    """A failure while running (training, loading data, writing files) that is not a bug.

    ``hint`` says what the user can do about it. The CLI prints it and exits with code 1.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def worded(self, names: dict) -> tuple[str, str | None]:
        """``(message, hint)`` as a front end calling with ``names`` words them (see
        :class:`WordedError`); this error names no setting and suggests no command."""
        return self.message, self.hint


def out_of_memory(exc: MemoryError) -> RunError:
    """What running out of memory (``exc``, NumPy's "Unable to allocate 32.0 MiB for an array
    with shape ..." or Python's bare MemoryError) says to the user. The checker's memory
    estimate is measured against the memory this process may use, so this is the rest:
    other programs taking the memory meanwhile, or an estimate that fell short."""
    detail = str(exc).strip()
    detail = detail[:1].lower() + detail[1:]
    return WordedError(f"out of memory{': ' + literal(detail) if detail else ''}",
                       hint="close other programs that use much memory, or make the batch or "
                            "the network smaller (`{summary_command}` shows what a step needs)")


class InputError(RunError):
    """A file named as a command's input that is missing, is a directory, or is not a spec:
    a mistake in what was asked (exit code 2 on the command line), not a failure of the run."""


class LimitError(RunError):
    """A limit on this process's memory too low for the libraries a command loads before it
    does anything: what was asked cannot run here, refused as ``check`` refuses a spec under
    the same limit (exit code 2 on the command line)."""

    invalid = True  # read by the command line's exit code


class WordedError(RunError):
    """A :class:`RunError` that names settings or suggests commands, worded for whoever called.

    ``message`` and ``hint`` are templates in which ``{name}`` fields stand for settings
    (``"{epochs} must be at least 1"``) and ``{resume_command:PATH}`` for a command with its
    argument (any ``{<command>_command}``: ``{eval_command:PATH}``, ``{summary_command}``).
    The library words them as its own parameters and functions
    (:data:`LIBRARY_NAMES`); :meth:`worded` words them as a front end calls them (the CLI:
    ``--epochs``, ``cnnspec train --resume PATH``).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.template, self.hint_template = message, hint
        message, hint = self.worded(LIBRARY_NAMES)
        super().__init__(message, hint)

    def worded(self, names: dict) -> tuple[str, str | None]:
        """``(message, hint)`` with each setting called ``names.get(setting, setting)`` (a
        :class:`Call` or :class:`Command` for a command that takes an argument)."""
        fields = _Names(names)
        hint = self.hint_template.format_map(fields) if self.hint_template else None
        return self.template.format_map(fields), hint


def as_templates(exc: RunError) -> tuple[str, str | None]:
    """``exc``'s message and hint as :class:`WordedError` templates: a WordedError's own, else
    their texts with their braces naming no setting."""
    if isinstance(exc, WordedError):
        return exc.template, exc.hint_template
    return literal(exc.message), literal(exc.hint) if exc.hint else None


class WordedInputError(WordedError, InputError):
    """An :class:`InputError` whose hint suggests commands (:class:`WordedError`)."""


class SettingError(WordedError):
    """A setting passed to the library (``Settings(epochs=0)``, ``run_dir=``) that cannot apply.
    ``invalid``: the value itself is wrong (a usage mistake, exit 2 on the command line) rather
    than at odds with the run it is applied to (exit 1)."""

    def __init__(self, message: str, hint: str | None = None, invalid: bool = False) -> None:
        super().__init__(message, hint)
        self.invalid = invalid


def literal(text: str) -> str:
    """``text`` inside a :class:`SettingError` template: its braces name no setting."""
    return text.replace("{", "{{").replace("}", "}}")


class Keyword:
    """How the library words a setting: ``{epochs}`` reads ``epochs``, ``{epochs:10}`` reads
    ``epochs=10``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, value: str) -> str:
        return f"{self.name}={value}" if value else self.name


class Quoted(Keyword):
    """How the library words a setting whose value is a text: ``{dtype:float64}`` reads
    ``dtype='float64'`` (a command line's ``--dtype float64``)."""

    def __format__(self, value: str) -> str:
        return f"{self.name}={value!r}" if value else self.name


class Listed(Keyword):
    """How the library words a setting that is a list of texts, one item of it:
    ``{sets:lr=0.1}`` reads ``sets=['lr=0.1']`` (a command line repeats an :class:`Option`
    for each, ``--set lr=0.1``)."""

    def __format__(self, value: str) -> str:
        return f"{self.name}=[{value!r}]" if value else self.name


class Option:
    """How a command line words it: ``{epochs}`` reads ``--epochs``, ``{epochs:10}`` reads
    ``--epochs 10``; a value a shell would split is quoted (``--data 'shapes(size=16)'``)."""

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def __format__(self, value: str) -> str:
        # imported here, for messages that give an option a value: shlex compiles a pattern
        # as it loads, a cost to every command's start-up (docs/measurements.md)
        import shlex

        return f"{self.flag} {shlex.quote(value)}" if value else self.flag


class Flag(Option):
    """How a command line words a setting it turns on by its name alone: ``{force:True}``
    reads ``--force`` (the library's ``force=True``)."""

    def __format__(self, value: str) -> str:
        return self.flag


class SettingAsGiven:
    """How a front end words a training setting a value it was given holds where it does not
    belong (``digits(lr=0.1)``, :class:`cnnspec.lang.training.SettingsInCall`), named with its
    value in one field: ``{setting:lr=0.1}``, or ``{setting:batch_size:batch=8}`` where it was
    written by another spelling of its key. ``word(key, written, text)`` words it as the caller
    can give it: the library's keyword ``lr=0.1`` (its key's own name: no keyword has
    another); a command line's option where the command takes one for it (``--lr 0.1``), its
    ``--set`` as written (``--set batch=8``), and where it takes none, what to do instead."""

    def __init__(self, word) -> None:
        self.word = word

    def __format__(self, value: str) -> str:
        named, _, text = value.partition("=")
        key, _, written = named.partition(":")
        return self.word(key, written or key, text)


def setting_as_named(names: dict) -> SettingAsGiven:
    """:class:`SettingAsGiven` wording each setting as ``names`` names its key wherever it is
    given (the library's keywords)."""
    return SettingAsGiven(lambda key, written, text: format(_Names(names)[key], text))


class Paired(Keyword):
    """How the library words a setting that is a pair of counts, given as a command line
    writes it: ``{grid:8x6}`` reads ``grid=(8, 6)`` (a command line's ``--grid 8x6``)."""

    def __format__(self, value: str) -> str:
        return f"{self.name}=({', '.join(value.split('x'))})" if value else self.name


class Phrase:
    """A front end's words for a way of doing something that takes no value: ``{ir_json}``
    reads ``cnnspec.ir.io.to_json(spec.ir)`` to the library, ``--format json`` to export."""

    def __init__(self, words: str) -> None:
        self.words = words

    def __format__(self, value: str) -> str:
        return self.words


class Call:
    """How the library words a command in a hint: ``{resume_command:runs/x}`` reads
    ``cnnspec.resume('runs/x')``; with ``keywords``, the arguments a command line's flags
    are (``{explain_command:a.cnn}``: ``cnnspec.summary('a.cnn', explain=True)``)."""

    def __init__(self, function: str, keywords: str = "") -> None:
        self.function = function
        self.keywords = keywords

    def __format__(self, argument: str) -> str:
        if not self.keywords:
            # without an argument, the function itself (`a run folder written by cnnspec.train`)
            return f"{self.function}({argument!r})" if argument else self.function
        # without one, the argument left to the caller: ``cnnspec.summary(..., explain=True)``
        return f"{self.function}({repr(argument) if argument else '...'}, {self.keywords})"


def command_line(words: str, argument) -> str:
    """A command a message suggests: ``words`` and then ``argument`` quoted as a shell needs
    it (``cnnspec eval 'my runs/x'``, :func:`shell_word`), so that the command can be pasted."""
    return f"{words} {shell_word(str(argument))}"


def shell_word(text: str) -> str:
    """``text`` quoted as a POSIX shell reads it back as one word; one that holds control
    characters in the ``$'...'`` quoting of bash, zsh and ksh, each written as its escape
    (``$'runs/a\\x1bb'``): the pasted command names the same file, and the terminal is handed
    no escape sequence."""
    import shlex  # here, as in Option.__format__

    if text == escaped_controls(text, keep=""):
        return shlex.quote(text)
    quoted = "".join(f"\\{char}" if char in "\\'" else escaped_controls(char, keep="")
                     for char in text)
    return f"$'{quoted}'"


def shown_path(path) -> str:
    """A file's path as a message prints it: its control characters escaped (a line feed
    too: a name is one line), so that a name cannot recolour or rewrite the terminal."""
    return escaped_controls(str(path), keep="")


class Command:
    """How a command line words it: ``{resume_command:runs/x}`` reads
    ``cnnspec train --resume runs/x`` (:func:`command_line`); with ``flags``, those after its
    argument (``{explain_command:a.cnn}``: ``cnnspec summary a.cnn --explain``)."""

    def __init__(self, words: str, flags: str = "") -> None:
        self.words = words
        self.flags = flags

    def then(self, words: str) -> Command:
        """This command with ``words`` after it: the program's ``eval`` command."""
        return type(self)(f"{self.words} {words}".strip(), self.flags)

    def __format__(self, argument: str) -> str:
        command = command_line(self.words, argument) if argument else self.words
        return f"{command} {self.flags}".rstrip()


# The run a hint offering other data gives it to (`{data_run} {data:mnist}`): a training run,
# but where another command that takes the data was refused (cnnspec.cli.data_run).
TRAIN_WITH = Phrase("train with")
# How the library words the settings whose name is not a parameter's: the commands a hint
# suggests. "program" names the program whose commands the other `*_command` fields are.
LIBRARY_NAMES = {"resume_command": Call("cnnspec.resume"), "train_command": Call("cnnspec.train"),
                 "explain_command": Call("cnnspec.summary", "explain=True"),
                 "sets": Listed("sets"), "inits": Listed("inits"), "dtype": Quoted("dtype"),
                 "data": Quoted("data"), "which": Quoted("which"),
                 "input_kind": Quoted("input_kind"), "channels": Quoted("channels"),
                 "grid": Paired("grid"),
                 "ir_json": Phrase("cnnspec.ir.io.to_json(spec.ir)"),
                 "trained_folder": Phrase("the folder cnnspec.train returned (its run.path)"),
                 # where a run's npz file is given the place it has moved to
                 "moved_npz": Phrase("evaluate's data='npz:NEW_PATH'"),
                 "data_run": TRAIN_WITH,
                 "program": Command("cnnspec")}
LIBRARY_NAMES["setting"] = setting_as_named(LIBRARY_NAMES)

COMMAND_FIELD = "_command"


class _Names(dict):
    def __missing__(self, key: str) -> Keyword | Command:
        if key.endswith(COMMAND_FIELD):
            # A command of the program that no table words otherwise: `{init_report_command:S}`
            # reads `cnnspec init-report S` to the library, as typed again on a command line.
            return self["program"].then(key.removesuffix(COMMAND_FIELD).replace("_", "-"))
        return Keyword(key)
