"""Syntax errors in the user's terms.

Lark reports an LALR failure as the token it could not use and the terminals it expected
(``NAME``, ``__ANON_3``, ``$END``). Here that becomes "expected a name, a number or '['" and
"unexpected end of file". Common mistakes are recognised from a catalogue of known-bad
snippets (matched by parser state and token, as Lark's ``match_examples`` does) and get a
friendlier message and a hint; the catalogue doubles as test data (tests/test_syntax_errors.py).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from functools import lru_cache

from cnnspec.errors import Mend, Span, SpecError, SpecErrors, hinted, listed, literal, shell_word
from cnnspec.ir.datasets import DATASETS, canonical_name
from cnnspec.ir.training_catalogue import (
    KEY_ALIASES,
    KEYS,
    TORCH_FIRST_ARGUMENTS,
    foreign_entry,
)
from cnnspec.lang.arithmetic import FUNCTIONS, number_text, value_of_text
from cnnspec.lang.ast import token_span
from cnnspec.lang.grammar import terminal_pattern
from cnnspec.lang.standalone import (
    Lark,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)
from cnnspec.patterns import LazyPattern
from cnnspec.sourcefile import source_lines

# Terminal names as a user would call them.
READABLE = {
    "NAME": "a name",
    "DASHED": "a name",  # a value such as fashion-mnist
    "SIGNED_NUMBER": "a number",
    "DIMS": "a size such as 3x3",
    "STRING": 'a quoted string such as "data.npz"',
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "$VALUE_END": "the end of the value",  # $END of a value given on the command line
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
}


class FriendlyError:
    """One class of common mistake: a message, a hint, and snippets that make it.

    ``after``: the word the failing token follows, for a mistake that fails in the same parser
    state as another and differs only in that word (`train {` and `relu {` in a repeat block
    are both a name and an unexpected '{').
    ``labelled``: for a statement that takes no label but was given one, the statement's first
    word after the label; `c1: repeat 3 {` fails where `c1: conv 8 {` would, and the label, not
    the '{', is the mistake, so the caret goes under it.
    ``statement``: the first word of the failing line, for a mistake that fails in the same
    parser state as one in another statement (`default he_normal` and a train block's `lr`
    alone both end a line after a name).
    ``fix``: for a mistake the line itself shows the fix of, the failing line rewritten (from
    the line and the 1-based column of the failing token; None where the line shows none);
    the hint then starts with it."""

    def __init__(self, message: str, hint: str, examples: list[str],
                 after: str | None = None, labelled: str | None = None,
                 fix: Callable[[str, int], str | None] | None = None,
                 statement: str | None = None) -> None:
        self.message = message
        self.hint = hint
        self.examples = examples
        self.after = after
        self.labelled = labelled
        self.fix = fix
        self.statement = statement

    def hint_for(self, exc: UnexpectedInput, text: str) -> str:
        """The hint for ``exc``: the rewritten line first, where the entry has a ``fix``."""
        fixed = self.rewrite_for(exc, text)
        return self.hint if fixed is None else f"write `{fixed}`; {self.hint}"

    def rewrite_for(self, exc: UnexpectedInput, text: str) -> str | None:
        """The line the hint tells to write in place of the failing one (None: it tells none),
        which is checked in the spec's place (:func:`cnnspec.check.load.rewrite_checked`)."""
        line = _failing_line(exc, text)
        if self.fix is None or line is None:
            return None
        fixed = self.fix(line, exc.column)
        return None if fixed is None else fixed.strip()


def _without_comment(line: str) -> str:
    """``line`` without its trailing comment and the spaces before it: from the first '#'
    after the last '"' (a '#' in a string starts none). Found without a pattern tried from each
    character, which took minutes on a line of 100,000 spaces."""
    start = line.find("#", line.rfind('"') + 1)
    return line if start < 0 else line[:start].rstrip()


def _setting_without_equal(line: str, column: int) -> str:
    """A setting's ``line`` without its '=' (:func:`_without_equal`); a default's with each of
    its settings so, in the words a default takes (Keras' ``kernel_initializer=he_normal``:
    ``weight he_normal``, :func:`_options_without_equal`)."""
    kind = value_patterns().line_kind.match(line)
    if kind is not None and kind[1] == "default":
        return _options_without_equal(line, column)
    return _without_equal(line, column)


# What a `default` line says, for the hints of its mistakes.
DEFAULT_SAYS = ("`default weight INIT, bias INIT` sets the inits of every conv and dense layer "
                "that names none, e.g. `default weight he_normal, bias zeros`")


def _default_without_colon(line: str, column: int) -> str | None:
    """``default: weight he_normal`` without its ':' (:func:`_without_equal`); None where no
    `weight` or `bias` follows (``default: relu``, a layer given a keyword's name)."""
    part = line[column:].split(maxsplit=1)
    return _without_equal(line, column) if part and part[0] in ("weight", "bias") else None


def _weight_named(line: str, column: int) -> str:
    """A ``default`` line that gives an init alone (``default he_normal``) as the weight's:
    ``default weight he_normal``."""
    return re.sub(r"^(\s*default)\s+", r"\1 weight ", _without_comment(line), count=1).strip()


# A setting's value on its line: up to a comment, without the spaces around it. Written to
# pass a run of spaces once: a lazy `[^#]*?` before `\s*$` tried the rest of the line from
# every space, and a line of 100,000 spaces took minutes.
VALUE = r"(?P<value>(?:[^#\s](?:[^#]*[^#\s])?)?)"


# The quotes a name may be written in that the language never reads: Python's single quote
# and the curly quotes a word processor types; a string is in straight double quotes.
NAME_QUOTES = "'\u2018\u2019\u201c\u201d"


class ValuePatterns:
    """The patterns hints read a line's names, numbers and sizes by, made from the patterns of
    the grammar's terminals (``terminal(name)``, :func:`value_patterns`): a name is its
    ``NAME`` (a value's name may have dashes, its ``DASHED``), a number its ``SIGNED_NUMBER``,
    a size its ``DIMS``, so that a hint reads a word as the parser lexes it."""

    def __init__(self, terminal: Callable[[str], str]) -> None:
        number, size = f"(?:{terminal('SIGNED_NUMBER')})", f"(?:{terminal('DIMS')})"
        name = f"(?:{terminal('NAME')})"
        word = f"(?:{terminal('DASHED')}|{name})"
        # A name or a number in quotes, as Python and YAML may quote a value (`optimizer =
        # 'adam'`, `epochs: "2"`): the spec writes it bare; a string (a file name) keeps its
        # quotes.
        self.quoted_word = re.compile(rf"""(['"])({word}|{number})\1""")
        # A name in single quotes, as Python writes it: 'he_normal', 'fashion-mnist'; or in a
        # word processor's curly quotes, single or double (‘relu’, “fan_out”), which a name
        # copied from a document or a web page keeps.
        self.quoted_name = re.compile(rf"[{NAME_QUOTES}]({word})[{NAME_QUOTES}]")
        # The kind a layer's line names: its first word, after the layer's label.
        self.line_kind = re.compile(rf"\s*(?:{name}\s*:\s*)?({name})")
        # A line's label (`c1:`) and the word after it.
        self.label = re.compile(rf"\s*(?P<label>{name}\s*:)\s*(?P<word>{name}|)")
        # The first two words of a line, after its label if it has one (`c1: conv 8 3x3`:
        # conv), the second after a space or an '=' (`c1 conv 8 3x3`, `c1 = conv 8 3x3`: c1
        # and conv).
        self.first_words = re.compile(rf"\s*(?P<label>{name}\s*:\s*)?(?P<first>{name})"
                                      rf"(?:(?:\s*=\s*|\s+)(?P<second>{name}))?")
        # A training setting's line: the key, its value (:data:`VALUE`), a comment.
        self.setting_line = re.compile(
            rf"(?P<indent>\s*)(?P<key>{name})\s+{VALUE}\s*(#.*)?$")
        # The values a layer's line gives without an option word, right after its kind (`8
        # 3x3`).
        self.leading_values = re.compile(rf"(?:\s+(?:{size}|{number})(?=\s|$))*")
        # Numbers parted by commas, as a tuple without its brackets: 3, 3 or 1,28,28, or a
        # list's (`lr_mult 0.5, 1`), each whole: the 5 of 0.5 is none of them.
        self.comma_numbers = re.compile(rf"(?<![\w.]){number}(?:\s*,\s*{number})+")
        # A tuple of numbers as Python writes a size: (3, 3), (1, 28, 28).
        self.number_tuple = re.compile(rf"\(\s*{number}(?:\s*,\s*{number})+\s*,?\s*\)")
        # A number, and a number at the end of a text (before a '%': `dropout 50%`).
        self.number = re.compile(number)
        self.last_number = re.compile(rf"{number}$")
        # A size, 3x3 or 1x28x28.
        self.size = re.compile(size)


@lru_cache(maxsize=1)
def value_patterns() -> ValuePatterns:
    """The :class:`ValuePatterns` of the shipped grammar, made on first use: a spec that
    parses never needs them (:func:`cnnspec.lang.grammar.terminal_pattern`)."""
    return ValuePatterns(terminal_pattern)


def _bare_words(text: str) -> str:
    """``text`` with each name or number in quotes written bare."""
    return value_patterns().quoted_word.sub(r"\2", text)


def _without_equal(line: str, column: int) -> str:
    """``line`` without the '=' (or ':') at ``column`` and without a trailing comment: ``lr =
    0.1`` becomes ``lr 0.1``; a name or number in quotes is written bare (``optimizer =
    'adam'``: ``optimizer adam``). A value left out (``epochs:``) is written ``...``: the
    name alone is no line either."""
    fixed = f"{line[:column - 1].rstrip()} {line[column:].lstrip()}".strip()
    fixed = _without_comment(fixed)
    if not _without_comment(line[column:]).strip():
        fixed += " ..."
    return _bare_words(fixed)


# An option written as a keyword argument (`stride=2`, `activation='relu'`, `use_bias=False`,
# `kernel_size=(3, 3)`), outside brackets, with its value: quoted, in brackets (their inside
# blanked, :func:`_outer_level`), or a bare word or number. Its keyword is Python's, not a name
# of the grammar (:class:`ValuePatterns`), as are the keys of FOREIGN_SETTING and DOTTED_NAME.
KEYWORD_OPTION = LazyPattern(
    r"""\b([A-Za-z_]\w*)\s*=\s*(?:(['"])([\w-]*)\2|([(\[]\s*[)\]])|([\w.+-]+))?""")


def _options_without_equal(line: str, column: int) -> str:
    """``line`` with each option written as Python's keyword argument at its outer level
    rewritten as the layer's option (`stride=2` as `stride 2`, `padding='same'` as `padding
    same`, Keras' `strides=2` as `stride 2`, `kernel_initializer='he_normal'` as `weight
    he_normal`, `use_bias=False` as `nobias`, `activation=relu` as the activation's name
    alone: :func:`cnnspec.lang.foreign.keyword_written`); a keyword naming a value written
    without an option word (Keras' `kernel_size=(3, 3)`, `filters=8`) as that value in its
    place after the line's values, `3x3`, and left out where the line gives it already; the
    '=' inside brackets (he_normal(mode=fan_out)) kept, and a trailing comment dropped."""
    from cnnspec.lang.foreign import keyword_written, positional_field  # on a syntax error

    code = _without_comment(line)
    kind = value_patterns().line_kind.match(code)
    kind_name = kind and kind[1]
    pieces, end, in_place = [], 0, {}
    for match in KEYWORD_OPTION.finditer(_outer_level(code)):
        value = _keyword_value(match, code)
        before, end = code[end:match.start()], match.end()
        field = positional_field(kind_name, match[1])
        if field is not None:
            in_place.setdefault(field, value)  # given twice by keyword: the first kept
            pieces.append(before.rstrip())
            continue
        written = keyword_written(kind_name, match[1], value)
        pieces += [before if written else before.rstrip(), written]  # `use_bias=True`: gone
    return _values_in_place("".join(pieces) + code[end:], kind, in_place).strip()


def _outer_level(code: str) -> str:
    """``code`` with the inside of its brackets blanked, the outer brackets kept, so that
    only an '=' at the outer level matches and a bracketed value shows where it ends."""
    depth, outer = 0, []
    for char in code:
        opens, closes = char in "([", char in ")]"
        depth += opens
        outer.append(char if depth == 0 or depth == 1 and (opens or closes) else " ")
        depth -= closes
    return "".join(outer)


def _keyword_value(match: re.Match, code: str) -> str:
    """The value of a KEYWORD_OPTION ``match`` on ``code`` as a line writes it: out of its
    quotes, a size in brackets with 'x' (:func:`cnnspec.lang.foreign.size_written`)."""
    from cnnspec.lang.foreign import size_written

    if match[2]:
        return match[3]
    if match[4]:
        return size_written(code[match.start(4):match.end(4)])
    return match[5] or ""


def _values_in_place(text: str, kind: re.Match | None, in_place: dict[str, str]) -> str:
    """``text``, a layer's line, with the values ``in_place`` (field: value) written after
    the values the line gives without an option word, those it gives already left out
    (:func:`cnnspec.lang.foreign.values_in_place`)."""
    from cnnspec.lang.foreign import values_in_place

    if not in_place or kind is None:
        return text
    leading = value_patterns().leading_values.match(text, kind.end())
    values = values_in_place(kind[1], in_place, len(leading[0].split()))
    at = leading.end()
    return text[:at] + "".join(f" {value}" for value in values) + text[at:]


# A label before `repeat` (`c1: repeat 3 {`), as a layer is named: the parser reads a layer of
# kind `repeat`, and the checker meets that kind when no '{' follows. One wording for both.
REPEAT_LABEL = "a repeat block takes no label"
REPEAT_LABEL_HINT = ("name the block with `as` after its count, e.g. `repeat 3 as stage {`: its "
                     "layers are then called stage_<i>_<layer>")


def layer_written(first: str, second: str | None) -> tuple[str, str | None] | None:
    """(the kind as written, the label or None) when a train block's line whose first two
    words are ``first`` and ``second`` (None: no second word) is a layer: `dense 10`, or
    `fc dense 10` and `fc = dense 10`, a label written without its ':' (as Darknet's and
    Caffe's users name a layer before its type); None for a line that is no layer. A training
    key is never a label: its line is a setting, whatever its value."""
    from cnnspec.kinds import ALIASES, KINDS  # only for a line the train block cannot read

    def is_kind(word: str | None) -> bool:
        return word is not None and ALIASES.get(word, word) in KINDS

    if first in KEYS or first in KEY_ALIASES:
        return None
    if is_kind(second):
        return second, first
    return (first, None) if is_kind(first) else None


def layer_in_train(kind: str, opened: int | None,
                   label: str | None = None) -> tuple[str, str]:
    """(message, hint) for a layer written inside the train block (`conv 8 3x3`, `c1: dense
    10`, `dropout 0.5`, `c1 conv 8 3x3`): the parser fails on it, or reads it as an unknown
    setting, and either way the setting's wording (a stray value, "did you mean") leads away
    from the fix. The train block ``opened`` on that line (None when not known); ``label``:
    the layer's name where it was written without its ':'."""
    where = "above `train {`" if opened is None else f"above `train {{` (line {opened})"
    named = "" if label is None else f", with a ':' after its name (`{label}: {kind} ...`)"
    return (f"'{kind}' is a layer: layers go before the train block, not inside it",
            (f"move this line {where}, among the layers{named}; the train block holds "
             "training settings only, e.g. `epochs 10`"))


BLOCK_NOT_CLOSED = "a block ('{') is never closed"
# A size written as a tuple, in brackets (the catalogue) or without (_size_with_commas).
TUPLE_SIZE = "a size is written with 'x', not as a tuple"


# Each example must fail to parse at the point the message describes; tests check that every
# example is recognised as its own class.
CATALOGUE: list[FriendlyError] = [
    FriendlyError(
        "'=' is only used inside parentheses",
        "options follow their name with a space, e.g. `stride 2`, `pad same`; "
        "'=' names an argument inside (...), e.g. he_normal(mode=fan_out)",
        ["input 1x8x8\nconv 8 3x3 stride=2\n", "input 1x8x8\nconv 8 3x3 pad = same\n"],
        fix=_options_without_equal,
    ),
    # a training setting (or a default) as Python, YAML's flow style or an .ini file write it:
    # the layers' hint above (`stride 2`) was beside the point there
    FriendlyError(
        "a setting is written without '='",
        "a setting's value follows its name after a space; '=' names an argument inside "
        "(...), e.g. optimizer sgd(momentum=0.9)",
        ["train {\n  lr=0.1\n}\n", "input 1x8x8\ntrain {\n  epochs = 5\n}\n",
         "input 1x8x8\ndefault weight=he_normal\n"],
        fix=_setting_without_equal,
    ),
    # YAML's `key: value`: in a train block a colon is never right (a layer's label is)
    FriendlyError(
        "a setting is written without ':'",
        "a setting's value follows its name after a space; ':' names a layer, e.g. "
        "`c1: conv 16 3x3`",
        ["train {\n  data: digits\n}\n", "input 1x8x8\ntrain {\n  epochs: 5\n}\n"],
        fix=_without_equal,
    ),
    FriendlyError(
        "a '(' is never closed",
        "close the argument list with ')' before the end of the line",
        ["input 1x8x8\nconv 8 3x3 weight he_normal(mode=fan_in\n",
         "input 1x8x8\nconv 8 3x3 weight normal(0, 0.1\ndense 10\n"],
    ),
    FriendlyError(
        "a '[' is never closed",
        "a kernel literal needs as many ']' as '[': [[1, 0], [0, 1]]",
        ["input 1x8x8\nconv 8 3x3 weight [[1,0,1],[0,1,0],[1,0,1]\n",
         "input 1x8x8\nconv 8 3x3 weight [1, 2\n"],
    ),
    FriendlyError(
        "sizes are written without spaces around 'x'",
        "write 3x3 or 1x28x28 (no spaces), or a single number for a square size",
        ["input 1 x 28 x 28\n", "input 1 x 8x8\n"],
    ),
    FriendlyError(
        TUPLE_SIZE,
        "write 3x3 or 1x28x28 (no spaces, no parentheses), e.g. `conv 16 3x3` or "
        "`input 1x28x28`; '(' opens the arguments of a name, as in he_normal(mode=fan_out)",
        ["input 1x8x8\nconv 8 (3, 3)\n", "input (28, 28)\n", "input 1x8x8\nmaxpool 2 (2)\n",
         "input 1x8x8\nconv 8 3x3 (1, 1)\n"],
    ),
    # the caret goes under the '{' left open (syntax_error), as for '(' and '[': the end of
    # the file, where the parser notices, says nothing of which block it was
    FriendlyError(
        BLOCK_NOT_CLOSED,
        "end the block with '}' on a line of its own after its last line",
        ["input 1x8x8\ntrain {\n  lr 0.1\n", "input 1x8x8\nrepeat 3 as b {\n  conv 8 3x3\n",
         "input 1x8x8\ntrain {\n  lr 0.1\n  epochs 2\n",
         "input 1x8x8\nrepeat 3 as b {\n  conv 8 3x3\n  conv 8 3x3\n"],
    ),
    FriendlyError(
        "a repeat block's '{' goes on the line of `repeat`",
        "write `repeat 3 {` (or `repeat 3 as NAME {`), the layers on the lines below it and "
        "'}' on a line of its own",
        ["input 1x8x8\nrepeat 3\n{\n", "input 1x8x8\nrepeat 3 as b\n  conv 8 3x3\n",
         "input 1x8x8\nrepeat 2 as a {\n  repeat 3 as b\n"],
    ),
    FriendlyError(
        "'repeat' needs a count",
        "say how many times the block repeats, e.g. `repeat 3 {` or `repeat 3 as stage {`",
        ["input 1x8x8\nrepeat {\n", "input 1x8x8\nrepeat as b {\n"],
    ),
    FriendlyError(
        "a layer name must be followed by a layer",
        "write `name: kind ...`, e.g. `conv1: conv 16 3x3`",
        ["input 1x8x8\nc1:\n", "input 1x8x8\nc1: : conv 8 3x3\n"],
    ),
    FriendlyError(
        "inputs after '<-' are layer names separated by commas",
        "e.g. `sum: add <- a, b` or `c: conv 8 3x3 <- input`",
        ["input 1x8x8\nc: conv 8 3x3 <-\n", "input 1x8x8\nc: conv 8 3x3 <- 3\n",
         "input 1x8x8\nc: conv 8 3x3 <- a b\n"],
    ),
    FriendlyError(
        "a repeat block holds layers and repeat blocks only",
        "the train block goes at the top level",
        ["input 1x8x8\nrepeat 2 {\n  train {\n", "input 1x8x8\nrepeat 2 as b {\n  train {\n",
         "input 1x8x8\nrepeat 2 as a {\n  repeat 2 as b {\n    train {\n"],
        after="train",
    ),
    FriendlyError(
        REPEAT_LABEL, REPEAT_LABEL_HINT,
        ["input 1x8x8\nc1: repeat 3 {\n", "input 1x8x8\nc1: repeat 3 as b {\n",
         "input 1x8x8\nrepeat 2 as a {\n  c1: repeat 3 {\n",
         "input 1x8x8\nrepeat 2 {\n  c1: repeat 3 as b {\n"],
        labelled="repeat",
    ),
    FriendlyError(
        "'{' only opens a `repeat` or `train` block",
        "write `repeat N as NAME {` or `train {`",
        ["input 1x8x8\nconv 8 3x3 {\n", "input 1x8x8\nrepeat 2 as b {\n  relu {\n",
         "input 1x8x8\nrepeat 2 {\n  relu {\n", "input 1x8x8\nrepeat 2 as b {\n  r1: relu {\n"],
    ),
    # `train:` and indented settings below it, as YAML and Python write a section: the train
    # block is meant, not a layer, and fails where a layer named `train` does
    FriendlyError(
        "'train' opens the block of training settings with '{', not ':'",
        "write `train {`, one setting a line (e.g. `epochs 10`), and '}' on a line of its own; "
        "a layer needs another name, e.g. `logits: dense 10`",
        ["input 1x8x8\ntrain:\n  epochs 10\n", "input 1x8x8\nconv 8 3\ntrain:\n",
         "input 1x8x8\ntrain: dense 10\n"],
        after="train",
    ),
    # YAML's `default: weight he_normal`: the statement, more often than a layer so named
    FriendlyError(
        "'default' is written without ':'",
        f"{DEFAULT_SAYS}; a layer needs another name, e.g. `logits: dense 10`",
        ["input 1x8x8\ndefault: weight he_normal\n", "input 1x8x8\ndefault: relu\n"],
        after="default", fix=_default_without_colon,
    ),
    FriendlyError(
        "a keyword cannot name a layer",
        "model, input, default, output, repeat and train start statements; "
        "pick another name, e.g. `logits: dense 10`",
        ["input 1x8x8\noutput: dense 10\n", "input 1x8x8\ninput: conv 8 3\n",
         "model: conv 8 3\n", "input 1x8x8\nmodel: conv 8 3\n",
         "input 1x8x8\nrepeat: relu\n"],
    ),
    # an init alone after `default` (Keras' and PyTorch's one init for a model)
    FriendlyError(
        "'default' names what it sets: weight or bias",
        DEFAULT_SAYS,
        ["input 1x8x8\ndefault he_normal\n", "input 1x8x8\ndefault zeros\nconv 8 3\n",
         "input 1x8x8\ndefault he_normal(mode=fan_out)\n",
         "input 1x8x8\ndefault zeros, bias zeros\n"],
        fix=_weight_named, statement="default",
    ),
    FriendlyError(
        "'=' after the first word of a line: a layer is named with ':', and a value follows "
        "a space",
        "e.g. `conv1: conv 16 3x3` or `dropout 0.5`",
        ["input 1x8x8\nc1 = conv 8 3x3\n", "input 1x8x8\nfc = dense 10\n"],
    ),
    FriendlyError(
        "training settings are written one to a line, without commas",
        "e.g. `epochs 10` and `lr 0.1` on lines of their own inside train { }",
        ["input 1x8x8\ntrain {\n  epochs 10,\n}\n",
         "input 1x8x8\ntrain {\n  optimizer sgd, adam\n}\n",
         "input 1x8x8\ntrain {\n  data digits,\n}\n"],
    ),
    FriendlyError(
        "'model' needs a name",
        "e.g. `model lenet5`",
        ["model\ninput 1x8x8\n", "model 5\n"],
    ),
]


def _readable(name: str, parser_terminals: dict) -> str:
    if name in READABLE:
        return READABLE[name]
    terminal = parser_terminals.get(name)
    if terminal is not None and terminal.pattern.type == "str":
        return f"'{terminal.pattern.value}'"
    return name


def _expected_list(expected: set[str], parser_terminals: dict) -> str:
    return listed(sorted({_readable(name, parser_terminals) for name in expected}), "or")


def _end(start: str) -> str:
    """What the parser ran out of: a spec file, or one value given on the command line."""
    return "file" if start == "start" else "the value"


def _found(exc: UnexpectedInput, start: str) -> str:
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            return f"unexpected end of {_end(start)}"
        if token.type == "_NL":
            return "unexpected end of line"
        return f"unexpected '{token.value}'"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {exc.char!r}"
    return f"unexpected end of {_end(start)}"


def _span(exc: UnexpectedInput, text: str) -> Span:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    at_end = isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    if at_end or line in (None, -1):
        # Point just past the last character of the file.
        lines = source_lines(text) or [""]
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        return Span(len(lines), len(lines[-1]) + 1)
    token = getattr(exc, "token", None)
    if token is not None and getattr(token, "end_column", None) and token.type != "_NL":
        return Span(line, column, token.end_line, token.end_column)
    return Span(line, column)


def _failure_kind(exc: UnexpectedInput) -> str | None:
    """The token type a parse failed on (None when the lexer found no token at all)."""
    token = getattr(exc, "token", None)
    return token.type if token is not None else None


def _failure_state(exc: UnexpectedInput) -> object | None:
    """The LALR state a parse failed in (None when the lexer stopped before the parser).

    The state alone, not Lark's ``ParserState`` (whose equality also compares the depth of the
    parser's stack): a layer with a ``name:`` holds one more entry on the stack than the same
    layer without, and ``c1: conv 8 (3, 3)`` is the same mistake as ``conv 8 (3, 3)``."""
    state = getattr(exc, "state", None)
    return None if state is None else state.position


def _failing_line(exc: UnexpectedInput, text: str) -> str | None:
    """The line of ``text`` the parse failed on, or None where ``exc`` names no line of it
    (an error at the end of the file)."""
    lines = source_lines(text)
    line = getattr(exc, "line", None)
    return lines[line - 1] if line is not None and 0 < line <= len(lines) else None


def _word_before(exc: UnexpectedInput, text: str) -> str | None:
    """The last word on the failing line before the spot the parse failed at."""
    line, column = _failing_line(exc, text), getattr(exc, "column", None)
    if line is None or column is None:
        return None
    words = line[:column - 1].split()
    return words[-1] if words else None


def _labelled_word(exc: UnexpectedInput, text: str) -> str | None:
    label = _label(exc, text)
    return None if label is None else label[1]


def _label(exc: UnexpectedInput, text: str) -> tuple[Span, str] | None:
    """The failing line's label (``c1:``) and the word after it (``repeat``), or None for a
    line without a label."""
    line = _failing_line(exc, text)
    match = None if line is None else value_patterns().label.match(line)
    if match is None:
        return None
    start, end = match.span("label")
    return Span(exc.line, start + 1, exc.line, end + 1), match["word"]


def _first_word(exc: UnexpectedInput, text: str) -> str | None:
    """The first word of the line ``exc`` fails on (``default``); None where there is none."""
    words = (_failing_line(exc, text) or "").split(maxsplit=1)
    return words[0] if words else None


@lru_cache(maxsize=1)
def _catalogue_failures(lark: Lark) -> list[tuple[FriendlyError, object, str | None]]:
    """Where each catalogue example fails with ``lark``: (entry, parser state, token type)."""
    failures = []
    for entry in CATALOGUE:
        for snippet in entry.examples:
            try:
                lark.parse(snippet, start="start")
            except UnexpectedInput as exc:
                failures.append((entry, _failure_state(exc), _failure_kind(exc)))
    return failures


def _friendly_class(exc: UnexpectedInput, lark: Lark, text: str) -> FriendlyError | None:
    """The catalogue entry whose examples fail in the same parser state on the same kind of
    token (after the entry's word and in a labelled statement of the entry's kind, if it names
    them). This is the idea of Lark's
    ``UnexpectedInput.match_examples``, kept stricter: that method falls back to any example
    failing in the same state whatever the token, which gives "'=' is only used inside
    parentheses" for a stray ')'."""
    state = _failure_state(exc)
    if state is None:
        return None
    kind = _failure_kind(exc)
    for entry, other_state, other_kind in _catalogue_failures(lark):
        if other_state == state and other_kind == kind and (
                entry.after is None or entry.after == _word_before(exc, text)) and (
                entry.labelled is None or entry.labelled == _labelled_word(exc, text)) and (
                entry.statement is None or entry.statement == _first_word(exc, text)):
            return entry
    return None


def _plain_message(exc: UnexpectedInput, lark: Lark, start: str) -> str:
    """"unexpected X: expected one of ..." with the terminals named as a user would."""
    message = _found(exc, start)
    # `accepts` is what the parser could take here; `expected` what the lexer could (wider).
    expected = getattr(exc, "accepts", None) or getattr(exc, "expected", None)
    if isinstance(exc, (UnexpectedToken, UnexpectedEOF)) and expected:
        terminals = {t.name: t for t in lark.terminals}
        expected = set(expected)
        if start != "start":  # one value: it has no lines, and its end is no file's
            expected = {"$VALUE_END" if name in ("$END", "_NL") else name for name in expected}
        message += f": expected {_expected_list(expected, terminals)}"
    return message


def syntax_error(exc: UnexpectedInput, lark: Lark, text: str, path: str | None, start: str,
                 open_brackets: list | None = None) -> SpecError | SpecErrors:
    """The :class:`SpecError` for one syntax error of the parser ``lark`` (which also sorts the
    catalogue's examples); a pasted Keras or PyTorch model's, one for each of its layers
    (:class:`SpecErrors`). ``open_brackets`` are the '(' and '[' tokens still open where the
    parser stopped."""
    span = _span(exc, text)
    foreign = _foreign_line(exc, text, path) if start == "start" else None
    if foreign is not None:  # before the quotes: Python's strings may be in single quotes
        return foreign
    shape = _shape_tuple(exc, text, path) if start == "start" else None
    if shape is not None:  # before the catalogue's tuple: it writes the input line whole
        return shape
    other = _other_format(exc, text, path) if start == "start" else None
    if other is not None:  # before the catalogue: `layer {` opens no block of ours
        return other
    layer = _layer_in_train(exc, text, path) if start == "start" else None
    if layer is not None:  # before the catalogue: `c1: conv 8 3x3` is no setting with a ':'
        return layer
    foreign = _foreign_setting(exc, text, path) if start == "start" else None
    if foreign is not None:  # before the catalogue: `base_lr: 0.01` is no `lr` with a ':'
        return foreign
    setting = _setting_outside_train(exc, text, path) if start == "start" else None
    if setting is not None:  # before the catalogue: `steps=400` names no layer with an '='
        return setting
    shared = _settings_sharing_a_line(exc, text, path) if start == "start" else None
    if shared is not None:  # before the catalogue: its ':' or ',' wording mends one of them
        return shared
    bracketed = _list_without_brackets(exc, text, path) if start == "start" else None
    if bracketed is not None:  # before the catalogue: these commas are no two settings' line
        return bracketed
    tupled = _foreign_tuple(exc, text, path) if start == "start" else None
    if tupled is not None:
        return tupled
    merged = _bare_merge_inputs(exc, text, path) if start == "start" else None
    if merged is not None:  # before the grammar's list: brackets or an arrow are what it needs
        return merged
    run_on = _number_run_on(exc, text, path)
    if run_on is not None:
        return run_on
    problem = (_quote_problem(exc, text)
               or (_size_with_commas(exc, text) if start == "start" else None)
               or (_tuple_in_call(exc, text) if start == "start" else None)
               or _stray_character(exc, text))
    if problem is not None:
        message, hint, *rewrite = problem
        return SpecError(message, span=span, hint=hint, file=path,
                         rewrite=rewrite[0] if rewrite else None)
    unclosed = open_brackets[-1] if open_brackets else None
    friendly = _friendly_class(exc, lark, text) if start == "start" else None
    if friendly is not None:
        if unclosed is not None and "never closed" in friendly.message:
            span = Span(unclosed.line, unclosed.column, unclosed.end_line, unclosed.end_column)
        if friendly.labelled is not None:
            span = _label(exc, text)[0]
        if friendly.message == BLOCK_NOT_CLOSED:
            brace = _open_braces(exc)
            span = token_span(brace[-1][1]) if brace else span
        return SpecError(friendly.message, span=span, hint=friendly.hint_for(exc, text),
                         file=path, rewrite=friendly.rewrite_for(exc, text))
    hint, mend = _arithmetic_hint(exc, text) or _dataset_path_hint(exc, text), None
    if hint is None:
        hint, mend = _dotted_name_problem(exc, text) or (None, None)
    return SpecError(_plain_message(exc, lark, start), span=span,
                     hint=hint or _plain_hint(exc, start, unclosed), file=path, mend=mend)


def _shape_tuple(exc: UnexpectedInput, text: str, path: str | None) -> SpecError | None:
    """The error for an image's shape written as a tuple on a line of its own (Keras'
    ``input_shape=(28, 28, 1)``, ``input (28, 28, 1)``), whose hint writes the input line;
    None for another line."""
    from cnnspec.lang.foreign import shape_tuple_line  # only on a syntax error
    from cnnspec.shapes import CHANNELS_ORDER

    line = _failing_line(exc, text)
    found = None if line is None or _open_braces(exc) else shape_tuple_line(line)
    if found is None:
        return None
    word, written, turned = found
    order = f"; {CHANNELS_ORDER}" if turned else ""
    message, hint = (f"Keras' {word} is the spec's input line", f"write `{written}`{order}") \
        if word else (TUPLE_SIZE, f"write `{written}`: {SIZE_FORM}{order}")
    code = line.split("#", 1)[0].rstrip()
    start = len(code) - len(code.lstrip())
    return SpecError(message, span=Span(exc.line, start + 1, exc.line, len(code) + 1),
                     hint=hint, file=path, rewrite=written)


def _open_braces(exc: UnexpectedInput) -> list[tuple[object, object]]:
    """The blocks open where the parse stopped, outermost first: (the keyword token that
    opened each, `train` or `repeat`, and its '{' token). A closed block is a subtree of the
    parser's stack by then, so every '{' token still on it is open."""
    state = getattr(exc, "state", None)
    stack = [] if state is None else state.value_stack
    opened, keyword = [], None
    for item in stack:
        kind = getattr(item, "type", None)
        if kind in ("TRAIN", "REPEAT"):
            keyword = item
        elif kind == "LBRACE" and keyword is not None:
            opened.append((keyword, item))
    return opened


def _layer_in_train(exc: UnexpectedInput, text: str, path: str | None) -> SpecError | None:
    """The error for a layer written inside the train block, at its line; None for a failing
    line that is no layer or not in the train block."""
    blocks = _open_braces(exc)
    line = _failing_line(exc, text)
    match = None if line is None else value_patterns().first_words.match(line)
    if not blocks or blocks[-1][0].type != "TRAIN" or match is None:
        return None
    # after a label and its ':' the first word is the kind: `c1: fc dense` is no label twice
    layer = layer_written(match["first"], None if match["label"] else match["second"])
    if layer is None:
        return None
    kind, label = layer
    message, hint = layer_in_train(kind, blocks[-1][0].line, label)
    first = len(line) - len(line.lstrip()) + 1
    return SpecError(message, span=Span(exc.line, first, exc.line, len(line.rstrip()) + 1),
                     hint=hint, file=path)


def _list_without_brackets(exc: UnexpectedInput, text: str,
                           path: str | None) -> SpecError | None:
    """The error for a list written without its brackets (`augment crop(2), flip`) for a key
    that takes a list; None for any other comma (`epochs 10, lr 0.1` is two settings)."""
    blocks = _open_braces(exc)
    line = _failing_line(exc, text)
    match = None if line is None else value_patterns().setting_line.match(line)
    if _failure_kind(exc) != "COMMA" or not blocks or blocks[-1][0].type != "TRAIN" or \
            match is None:
        key = None
    else:
        key = KEYS.get(KEY_ALIASES.get(match["key"], match["key"]))
    items = match["value"].rstrip(",").rstrip() if match else ""
    # two words apart with no comma between, outside parentheses: another setting follows
    # on the line (`augment flip, lr 0.1`), which brackets would not mend
    if key is None or not key.takes_list or re.search(r"\w\s+\w", re.sub(r"\([^()]*\)", "", items)):
        return None
    return SpecError(f"the values of '{match['key']}' are a list, written in brackets",
                     span=Span(exc.line, match.start("value") + 1, exc.line,
                               match.end("value") + 1),
                     hint=f"write `{match['key']} [{items}]`", file=path)


# A word at the outer level of a train block's line (a key, or a value: a name, a number),
# between what parts settings (a comma, a ';', spaces, YAML's ':', Python's '=').
SETTING_WORD = LazyPattern(r"[^\s,;:=]+")


def _blanked(line: str) -> str:
    """``line`` with what its quotes, parentheses and brackets hold blanked out, nested ones
    too (PyTorch's `SGD(model.parameters(), lr=0.1)` is one setting)."""
    while True:
        blanked = re.sub(r'"[^"]*"|\([^()]*\)|\[[^\[\]]*\]', lambda m: "_" * len(m[0]), line)
        if blanked == line:
            return line
        line = blanked


def _setting_starts(line: str) -> list[int]:
    """Where each training setting on ``line`` starts: a key of the catalogue (or an alias) at
    the start of the line's settings or after a value, outside parentheses, brackets and
    quotes (`optimizer sgd(momentum=0.9)` is one setting; `data digits epochs 2` two)."""
    outer = _blanked(line)
    starts, value_due = [], False
    for match in SETTING_WORD.finditer(outer):
        # a key straight after a key is the first one's value: `monitor loss`
        if (match[0] in KEYS or match[0] in KEY_ALIASES) and not value_due:
            starts.append(match.start())
            value_due = True
        else:
            value_due = False
    return starts


def _settings_sharing_a_line(exc: UnexpectedInput, text: str,
                             path: str | None) -> SpecError | None:
    """The error for two or more training settings written on one line (`data digits epochs
    2`, `train { data: digits, epochs: 2 }`, `lr=0.1; epochs=3`), whatever separates them:
    each setting rewritten on a line of its own; None for a line with one setting or none.
    The wording for one setting's ':' or ',' (the catalogue) would mend one and leave the
    rest."""
    blocks = _open_braces(exc)
    line = _failing_line(exc, text)
    if not blocks or blocks[-1][0].type != "TRAIN" or line is None:
        return None
    body = _without_comment(line)
    opening = re.match(r"\s*train\s*\{", body)
    offset = opening.end() if opening else 0
    body = re.sub(r"\}\s*$", "", body[offset:])
    starts = _setting_starts(body)
    if len(starts) < 2:
        return None
    pieces = [body[start:end] for start, end in zip(starts, [*starts[1:], len(body)])]
    settings = [_setting_text(piece) for piece in pieces]
    column = offset + starts[1] + 1
    return SpecError("training settings are written one to a line",
                     span=Span(exc.line, column, exc.line, offset + len(body.rstrip()) + 1),
                     hint=f"write {listed([f'`{setting}`' for setting in settings])} on "
                     "lines of their own inside train { }", file=path)


def _setting_text(piece: str) -> str:
    """One setting as a line of the train block writes it: `epochs: 2,` becomes `epochs 2`;
    a name or number in quotes (ValuePatterns.quoted_word) is written bare, as
    _without_equal writes it."""
    key, rest = re.match(r"([A-Za-z_]\w*)\s*[:=]?\s*(.*)", piece.strip()).groups()
    value = rest.rstrip(" ,;")
    quoted = value_patterns().quoted_word.fullmatch(value)
    value = quoted[2] if quoted else value
    return f"{key} {value}" if value else f"{key} ..."


# A Caffe prototxt's block (`layer {`, `convolution_param {`; V1's `layers {`), and a field of
# one with a string value (`name: "LeNet"`, `type: "Convolution"`).
CAFFE_BLOCK = LazyPattern(r"\s*(layers?|\w+_param)\s*\{")
CAFFE_FIELD = LazyPattern(r'\s*\w+\s*:\s*"')


def _other_format(exc: UnexpectedInput, text: str, path: str | None) -> SpecError | None:
    """The error for a Darknet section (``[convolutional]`` and its ``key=value`` lines) or a
    Caffe prototxt written where the spec's lines go: what it is, and the spec's line for the
    section or the command that imports the prototxt; None for any other line."""
    # only on a syntax error
    from cnnspec.lang.foreign import darknet_answer, darknet_extent, darknet_section

    line = _failing_line(exc, text)
    if line is None:
        return None
    start = len(line) - len(line.lstrip()) + 1
    span = Span(exc.line, start, exc.line, len(line.split("#", 1)[0].rstrip()) + 1)
    section = darknet_section(source_lines(text)[exc.line - 1:])
    if section is not None:
        hint, suggested = darknet_answer(*section)
        # the section's key=value lines go with it, as blank lines that keep the numbers after
        extent = darknet_extent(source_lines(text)[exc.line - 1:])
        return SpecError(f"'[{section[0]}]' is a Darknet section header, not a cnnspec line",
                         span=span, hint=hint, file=path,
                         rewrite=None if suggested is None else
                         suggested + "\n" * (extent - 1))
    caffe = CAFFE_BLOCK.match(line) or CAFFE_FIELD.match(line) and any(
        CAFFE_BLOCK.match(other) for other in source_lines(text))
    if not caffe:
        return None
    # the spec the import writes replaces this file, which holds the prototxt
    stem, force = ("NET", "") if path is None else (
        re.sub(r"\.cnn$", "", path.replace("\\", "/").rsplit("/", 1)[-1]), " --force")
    # the command as the program was started (`.venv/bin/cnnspec import ...`)
    prototxt, spec = (literal(f"{stem}.{suffix}") for suffix in ("prototxt", "cnn"))
    return SpecError("this is a Caffe model definition (prototxt), not a cnnspec spec",
                     span=span, file=path,
                     **hinted(f"cnnspec imports it: save it as {prototxt} and run "
                              f"`{{import_command:{prototxt}}} -o {shell_word(spec)}{force}` "
                              "(docs/importing.md), which writes each layer as a spec's line, "
                              "e.g. `conv1: conv 20 5x5`"))


# A setting as Caffe's solver (`base_lr: 0.01`, `lr_policy: "step"`) and Darknet's [net]
# section (`steps=400,450`) write it: the key, a ':' or '=', the value, a comment.
FOREIGN_SETTING = LazyPattern(rf"\s*(?P<key>[A-Za-z_]\w*)\s*(?P<sep>[:=])?\s*{VALUE}\s*(#.*)?$")


def _foreign_setting(exc: UnexpectedInput, text: str, path: str | None) -> SpecError | None:
    """The error for a line of the train block that is another library's setting or an
    argument written as a setting, whatever stopped the parser on it (a ':', an '=', a comma
    between values): what it is here, at its key; None for any other line."""
    from cnnspec.lang.unknown_setting import setting_hint, unknown_setting

    blocks = _open_braces(exc)
    line = _failing_line(exc, text)
    match = None if line is None else FOREIGN_SETTING.match(line)
    if not blocks or blocks[-1][0].type != "TRAIN" or match is None \
            or match["key"] in KEYS or match["key"] in KEY_ALIASES:
        return None
    value = _setting_value(match)
    if setting_hint(match["key"], value) is None:
        return None
    error = unknown_setting(match["key"], Span(exc.line, match.start("key") + 1, exc.line,
                                               match.end("key") + 1), value)
    error.file = path
    return error


def _setting_value(match: re.Match) -> str | None:
    """The value of a :data:`FOREIGN_SETTING` line as a hint's line writes it: without the
    quotes Caffe writes its words in; None for a list (`400,450`), which no line is written
    with."""
    value = match["value"].strip("\"'")
    plain = r"[\w.+-]+"  # or PyTorch's tuple of them, `(0.9, 0.999)`
    return value if re.fullmatch(rf"{plain}|\(\s*{plain}(\s*,\s*{plain})+\s*\)", value) else None


def _setting_outside_train(exc: UnexpectedInput, text: str,
                           path: str | None) -> SpecError | None:
    """The error for a training setting written among the layers as another library writes
    it (Caffe's ``base_lr: 0.01``, Darknet's ``steps=400,450``) or ours with a ':' or an '='
    (``epochs: 5``), which the parser stopped on at its ':' or '=' or at the value after it:
    told to move into the train block; None for any other line (a labelled layer that failed
    further on, whatever its label)."""
    from cnnspec.lang.unknown_setting import outside_train

    blocks = _open_braces(exc)
    line = _failing_line(exc, text)
    match = None if line is None else FOREIGN_SETTING.match(line)
    if blocks and blocks[-1][0].type == "TRAIN" or match is None \
            or getattr(exc, "column", None) is None \
            or exc.column - 1 not in (match.start("sep"), match.start("value")):
        return None
    error = outside_train(match["key"], Span(exc.line, match.start("key") + 1, exc.line,
                                             match.end("key") + 1), _setting_value(match))
    if error is not None:
        error.file = path
    return error


# A training setting's call cut short at an argument's '(': `optimizer adam(eps=1e-8, betas=`.
TUPLE_ARGUMENT = LazyPattern(r"\s*(?P<key>\w+)\s+(?P<call>\w+)\((?:[^()]*,)?\s*"
                            r"(?P<arg>\w+)\s*=\s*$")


def _foreign_tuple(exc: UnexpectedInput, text: str, path: str | None) -> SpecError | None:
    """The error for another library's tuple-valued argument of a training setting's call
    (PyTorch's ``adam(betas=(0.9, 0.999))``), which the language reads no tuple of: at the
    argument, with its values given to the arguments they are here; None for any other '('."""
    line = _failing_line(exc, text)
    if _failure_kind(exc) != "LPAR" or line is None:
        return None
    match = TUPLE_ARGUMENT.match(line[:exc.column - 1])
    key = None if match is None else KEYS.get(KEY_ALIASES.get(match["key"], match["key"]))
    entry = None if key is None or key.catalogue is None else key.catalogue.get(match["call"])
    foreign = None if entry is None else entry.foreign_arg(match["arg"])
    if foreign is None:
        return None
    values = re.match(r"\(([^()]*)\)", line[exc.column - 1:])
    written = None if values is None else [v.strip() for v in values[1].split(",")]
    return SpecError(f"{key.words} {entry.name} has no parameter '{foreign.name}'",
                     span=Span(exc.line, match.start("arg") + 1, exc.line, match.end("arg") + 1),
                     hint=foreign.hint(entry, written), file=path)


def _foreign_line(exc: UnexpectedInput, text: str,
                  path: str | None) -> SpecError | SpecErrors | None:
    """The error for a Keras or PyTorch layer written as Python (``nn.Conv2d(1, 16, 3)``),
    with the caret under the class it calls, and the error of each such layer on the lines
    after it (:func:`_following_layers`), or another layer's call with names in Python's
    quotes (:func:`_quoted_layer`); None for a line that is no such call."""
    # only when a line fails to parse: a spec that parses never needs it
    from cnnspec.lang.foreign import (
        FORWARD_MESSAGE,
        LOOP_HINT,
        LOOPS,
        PYTHON_CODE_HINT,
        foreign_hint,
        forward_hint,
        forward_line,
        names_a_layer,
        python_call,
        python_code,
        translated_line,
    )

    line = _failing_line(exc, text)
    if line is None:
        return None
    forward = forward_line(line)  # before a call: self.pool(F.relu(x)) is two steps, not one
    if forward is not None:
        first, end = forward.columns
        return SpecError(FORWARD_MESSAGE, span=Span(exc.line, first + 1, exc.line, end + 1),
                         hint=forward_hint(forward), file=path)
    # `Conv2D(8, 3, padding='same') <- a`: the call, then the spec's inputs it reads
    code, arrow, after = line.rpartition("<-")
    inputs = TAKEN_INPUTS.fullmatch(after) if arrow else None
    call = python_call(line if inputs is None else code)
    hint = None if call is None else foreign_hint(call)
    quoted = _quoted_layer(line, exc.line, path) if hint is None and call is not None \
        and names_a_layer(call.name) else None
    if quoted is not None:
        return quoted
    if hint is None:
        what = python_code(line)
        if what is None:
            return None
        start = len(line) - len(line.lstrip()) + 1
        return SpecError(f"this is Python code ({what}), not a cnnspec line",
                         span=Span(exc.line, start, exc.line, len(line.rstrip()) + 1),
                         file=path,
                         **hinted(literal(LOOP_HINT) if what in LOOPS else PYTHON_CODE_HINT))
    following = _following_layers(text, exc.line, path)
    # a model pasted whole: one line tried in its place says little, the others failing there
    rewrite = None if following else translated_line(call)
    error = _call_error(call, hint, exc.line, path, rewrite)
    error = error if inputs is None else taking_inputs(error, inputs["inputs"])
    return SpecErrors([error, *following]) if following else error


def _call_error(call, hint: str, number: int, path: str | None,
                rewrite: str | None = None) -> SpecError:
    """The error of a Keras or PyTorch layer ``call`` on line ``number``, with the caret under
    the class it calls and ``hint`` (:func:`~cnnspec.lang.foreign.foreign_hint`)."""
    from cnnspec.lang.foreign import foreign_message

    first, end = call.columns
    return SpecError(foreign_message(call), span=Span(number, first + 1, number, end + 1),
                     hint=hint, file=path, rewrite=rewrite)


def taking_inputs(error: SpecError, taken: str) -> SpecError:
    """``error`` whose line to write in place of the user's (``error.rewrite``) takes the
    user's ``<- taken`` as the user's line does, both where the hint quotes it and where the
    line is checked in the spec's place: the refusal said of it reads those inputs."""
    if error.rewrite is None or not taken:
        return error
    line = f"{error.rewrite} <- {taken}"
    hint = None if error.hint is None else error.hint.replace(f"`{error.rewrite}`", f"`{line}`")
    return dataclasses.replace(error, rewrite=line, hint=hint)


def _quoted_layer(line: str, number: int, path: str | None) -> SpecError | None:
    """The error of the layer's line ``line`` (line ``number``) that calls its kind with
    names in Python's quotes (Caffe's ``Convolution(num_output=8, name='c1')``, Keras'
    ``Activation(float('nan'))``), as the layer's check gives it with the quotes left out:
    the layer's hint at once, not the quotes' first and the layer's on the next check. None
    where that line has no error before its first quote (the quotes' hint says the rest), or
    no name in quotes."""
    from cnnspec.lang.foreign import line_error

    unquoted = _unquoted(line)
    if unquoted == _without_comment(line).rstrip():
        return None  # no name in quotes: checking it again would come back here, forever
    error = line_error(unquoted)
    first_quote = re.search(f"[{NAME_QUOTES}]", line).start() + 1
    span = None if error is None else error.span
    if span is None or span.line != 1 or span.end_line not in (None, 1) \
            or (span.end_column or span.column) > first_quote:
        return None  # its columns past a quote are the unquoted line's, not the user's
    return dataclasses.replace(error, span=dataclasses.replace(span, line=number,
                                                               end_line=number), file=path)


def _unquoted(line: str) -> str:
    """``line`` with its names in single quotes written bare, as the language writes names
    (Python's and YAML's `'he_normal'`), and without its comment."""
    return value_patterns().quoted_name.sub(r"\1", _without_comment(line)).rstrip()


# The inputs a layer's line ends by naming after its '<-', `a, b`, and a comment after them.
TAKEN_INPUTS = LazyPattern(r"\s*(?P<inputs>\w+(?:\s*,\s*\w+)*)\s*(?:#.*)?")


# Python layers read on after a failing one: a model pasted whole is answered whole, each
# layer's line at its place with its hint, not a check and an edit a line.
FOLLOWING_LAYERS = 30


def _following_layers(text: str, line_number: int, path: str | None) -> list[SpecError]:
    """The error of each Keras or PyTorch layer call on the lines after ``line_number``, to
    the end of the file, up to :data:`FOLLOWING_LAYERS`, each as that line's own syntax error
    would be (:func:`_call_error`). A pasted model mixes in lines already written as cnnspec
    (`flatten`) and Python that is no layer (a container a spec needs no line for,
    ``model.compile``), which are skipped, as blank and comment lines are."""
    from cnnspec.lang.foreign import CONTAINERS, PASS_THROUGH, foreign_hint, python_call

    found = []
    for number, line in enumerate(source_lines(text)[line_number:], start=line_number + 1):
        call = python_call(line)
        hint = None if call is None or call.name in CONTAINERS + PASS_THROUGH \
            else foreign_hint(call)
        if hint is not None:
            found.append(_call_error(call, hint, number, path))
        if len(found) == FOLLOWING_LAYERS:
            break
    return found


# A size with a capital X (3X3): the lexer reads the number 3 and then a name, X3.
CAPITAL_X_MESSAGE = "sizes are written with a lowercase x"


def capital_x_hint(number: str, word: str) -> str | None:
    """The hint for the name ``word`` read right after the digits ``number`` where it is the
    rest of a size written with a capital X (``3`` and ``X3``), else None."""
    if not word.startswith("X") or not value_patterns().size.fullmatch(number + word.lower()):
        return None
    return f"write {number}{word.lower()}: sizes use a lowercase x, as in 3x3 or 1x28x28"


# A number with '_' between groups of its digits, as Python writes it (1_000): the lexer reads
# the number 1 and then a name, _000. An exponent without its digits (1e, 1e-) reads as 1
# and the name e.
DIGIT_GROUPS_MESSAGE = "numbers are written without '_' between their digits"
EXPONENT_MESSAGE = "an exponent is written with its digits"


# A number or size as a user may write it, which the lexer cuts into a number and a name
# touching it: from a digit (or a sign or '.' before one) that starts no part of a name, on
# through letters, digits, '_' and '.', and a sign right after an 'e' (1_0e-2 is the
# lexer's 1, _0e and -2).
NUMBER_RUN = LazyPattern(r"(?<![\w.])[+-]?\.?[0-9][\w.]*(?:(?<=[eE])[+-][\w.]*)?")


def number_run_on(written: str) -> tuple[str, str] | None:
    """(message, hint) where ``written``, a run of :data:`NUMBER_RUN`, is a size written with a
    capital X (``3X3``), a number or size with '_' between its digits (``1_000``, ``1_0e-2``,
    ``1e_5``, ``1_0x8x8``) or a number whose exponent has no digits (``1e``, ``1_0e-``,
    ``1.e``), all of which the lexer reads as a number and a name touching it; else None (a
    run the lexer reads whole, or one that is no number mistyped, such as ``3x3relu``). Each
    is read by the grammar's own SIGNED_NUMBER and DIMS (:func:`value_patterns`)."""
    patterns = value_patterns()
    lexed = patterns.size.match(written) or patterns.number.match(written)
    if lexed is None or lexed.end() == len(written):
        return None
    hint = capital_x_hint(lexed[0], written[lexed.end():])
    if hint is not None:
        return CAPITAL_X_MESSAGE, hint
    joined = written.replace("_", "")
    if patterns.number.fullmatch(joined) or patterns.size.fullmatch(joined):
        return DIGIT_GROUPS_MESSAGE, f"write {joined}"
    cut = re.fullmatch(r"(.*?)\.?[eE][+-]?", joined)
    if cut and "e" not in cut[1].lower() and patterns.number.fullmatch(cut[1]):
        base = cut[1]
        return EXPONENT_MESSAGE, (f"{base}e3 is {base} x 10^3, {base}e-3 is {base} x "
                                  f"10^-3; or write {base} alone")
    return None


def _number_run_on(exc: UnexpectedInput, text: str, path: str | None) -> SpecError | None:
    """The error, under the whole number, where the parse failed inside a number or size the
    lexer cut short (:func:`number_run_on`: ``input 1X28X28``, ``epochs 1_000``, ``normal(std=
    1_0e-2)``, ``lr 1e-``), else None."""
    line, column = _failing_line(exc, text), getattr(exc, "column", None)
    if line is None or not isinstance(column, int):
        return None
    for run in NUMBER_RUN.finditer(line):
        if run.start() < column - 1 < run.end():
            found = number_run_on(run[0])
            if found is None:
                return None
            message, hint = found
            return SpecError(message, span=Span(exc.line, run.start() + 1, exc.line,
                                                run.end() + 1), hint=hint, file=path)
    return None


SIZE_FORM = "sizes are written with 'x' and no spaces, 3x3 or 1x28x28"


def _size_with_commas(exc: UnexpectedInput, text: str) -> tuple[str, str] | None:
    """(message, hint) for numbers parted by commas on a layer's or the input's line: a size
    written as a tuple without brackets (``conv 8 3, 3``, ``input 1, 28, 28``) or values as a
    Python call lists them (``conv 16, 3``); the hint is the line with each run written as its
    field takes it, ``3x3`` or ``16 3``. None for any other comma, such as the one between a
    merge layer's bare inputs (``add a, b``) or in a train block."""
    from cnnspec.kinds import ALIASES, KINDS  # only on a syntax error

    line = _failing_line(exc, text)
    match = None if line is None else value_patterns().first_words.match(line)
    blocks = _open_braces(exc)
    if _failure_kind(exc) != "COMMA" or match is None or blocks and \
            blocks[-1][0].type == "TRAIN":
        return None
    kind = KINDS.get(ALIASES.get(match["first"], match["first"]))
    if match["first"] != "input" and (kind is None or kind.merge):
        return None
    code = line.split("#", 1)[0].rstrip()
    failing, fixed, end = None, "", match.end("first")
    patterns = value_patterns()
    for numbers in patterns.comma_numbers.finditer(code, match.end("first")):
        values = patterns.number.findall(numbers[0])
        before = code[match.end("first"):numbers.start()]
        form = "size" if kind is None or _size_field(kind, before) else \
            "list" if _field_type(kind, before) in LIST_TYPES else "values"
        written = {"size": "x".join(values), "list": f"[{', '.join(values)}]"}
        fixed += code[end:numbers.start()] + written.get(form, " ".join(values))
        end = numbers.end()
        if numbers.start() < exc.column <= numbers.end():
            failing = form
    if failing is None:
        return None
    fixed = (code[:match.end("first")] + fixed + code[end:]).strip()
    if failing == "size":
        return TUPLE_SIZE, f"write `{fixed}`: {SIZE_FORM}"
    if failing == "list":  # `lr_mult 1, 2`: the option's list, in brackets
        return ("a list of values is written in brackets", f"write `{fixed}`")
    return ("a layer's values are parted by spaces, not commas", f"write `{fixed}`")


# A layer's line in call form, up to its '(': `conv(`, `c1: conv(`.
CALL_HEAD = LazyPattern(r"\s*(?:[\w.-]+\s*:\s*)?(?P<kind>\w+)\(")
# How many times a call's hint is written again from the next error it would get.
CALL_MENDS = 4


def _tuple_in_call(exc: UnexpectedInput, text: str) -> tuple[str, str] | None:
    """(message, hint) for a size written as a tuple of numbers in a layer's call form
    (``conv(16, kernel_size=(3, 3), padding="same")``): the hint is the call with each tuple
    written as a size, mended further where what the line would get next says how (Keras'
    keyword names, a word in quotes), :func:`_mended_call`. None for any other '(', such as
    one around an argument's word (``he_normal(mode=(fan_out))``) or an init's call."""
    from cnnspec.kinds import ALIASES, KINDS  # only on a syntax error

    line = _failing_line(exc, text)
    head = None if line is None else CALL_HEAD.match(line)
    if _failure_kind(exc) != "LPAR" or head is None \
            or ALIASES.get(head["kind"], head["kind"]) not in KINDS \
            or not value_patterns().number_tuple.match(line, exc.column - 1) \
            or _depth(line[:exc.column - 1]) != 1:
        return None
    code = line.split("#", 1)[0].strip()
    # the call's own arguments only: an init's call inside it (normal((0, 1))) is no size
    patterns = value_patterns()
    sized = patterns.number_tuple.sub(lambda m: "x".join(patterns.number.findall(m[0]))
                                      if _depth(code[:m.start()]) == 1 else m[0], code)
    return TUPLE_SIZE, f"write `{_mended_call(sized)}`: {SIZE_FORM}"


def _depth(code: str) -> int:
    """How many '(' are open at the end of ``code``."""
    return code.count("(") - code.count(")")


def _mended_call(line: str) -> str:
    """``line``, a layer's call, as the errors it gets in turn write it (Keras'
    ``kernel_size=3x3``: ``kernel=3x3``) and with its words' quotes taken off
    (``padding="same"``: ``padding=same``), until it reads; as far as that goes where it
    never does."""
    from cnnspec.lang.foreign import line_error  # only on a syntax error

    for _ in range(CALL_MENDS):
        error = line_error(line)
        if error is None:
            break
        mended = error.rewrite or _bare_words(line)
        if mended == line:
            break
        line = mended
    return line


def _field_type(kind, before: str) -> str | None:
    """The type of the field whose option is the last of the words ``before`` (what follows
    a layer's kind on its line, up to a value), or None where they end in no option."""
    words = before.split()
    return next((field.type for field in kind.fields if words and words[-1] in field.option),
                None)


def _size_field(kind, before: str) -> bool:
    """Whether the value a layer of ``kind`` has after the words ``before`` (what follows its
    kind on the line) is a size: the value of an option that takes one (``stride``), or a
    positional value that is one (conv's second, a pool's first)."""
    option = _field_type(kind, before)
    if option is not None:
        return option in SIZE_TYPES
    words = before.split()
    if any(word in field.option for field in kind.fields for word in words):
        return False
    return len(words) < len(kind.positional) and \
        kind.field_map[kind.positional[len(words)]].type in SIZE_TYPES


# The field types written as a size (3x3): a kernel or window, a padding, an output padding.
SIZE_TYPES = ("pair", "padding", "margin")
# The field types whose values are written as a list in brackets: Caffe's multipliers of the
# weight's and the bias's rate (`lr_mult [1, 2]`).
LIST_TYPES = ("mults",)


def _stray_character(exc: UnexpectedInput, text: str) -> tuple[str, str] | None:
    """(message, hint) where the lexer stopped at a character other languages write and this
    one does not: a ';' ending a statement, as C and Caffe's layers do, or a '%' after a
    number (``dropout 50%``), which a spec writes as the fraction; else None."""
    if not isinstance(exc, UnexpectedCharacters) or exc.char not in ";%":
        return None
    line = _failing_line(exc, text) or ""
    before, after = line[:exc.column - 1], line[exc.column:]
    if exc.char == ";":
        if after.split("#", 1)[0].strip():
            return ("statements are written one to a line, not parted by ';'",
                    "put each statement on a line of its own")
        return ("a line ends without ';'", f"write `{before.strip()}`")
    percent = value_patterns().last_number.search(before)
    if percent is None:
        return None
    fraction = number_text(float(percent[0]) / 100)
    fixed = (before[:percent.start()] + fraction + after).split("#", 1)[0].strip()
    return ("a percentage is written as a fraction",
            f"write `{fixed}`: {percent[0]}% is {fraction}")


def _dataset_path_hint(exc: UnexpectedInput, text: str) -> str | None:
    """For ``data npz:train.npz``, the ``--data`` form written in a spec: the call that
    names the file there (``npz("train.npz")``), for a dataset that reads a file."""
    token, line = getattr(exc, "token", None), _failing_line(exc, text)
    if token is None or token.type != "COLON" or line is None:
        return None
    name = _word_before(exc, text)
    kind = DATASETS.get(canonical_name(name))
    arg = None if kind is None else next((a for a in kind.args if a.kind == "path"), None)
    if arg is None:
        return None
    path = _path_written(line[exc.column:]) or "data/train.npz"
    return (f'in a spec a file path is a string in double quotes: write {name}("{path}") '
            f"(`{name}:PATH` is the form of the command line's --data)")


def _path_written(rest: str) -> str:
    """The path at the start of ``rest`` (what follows ``npz:``): its first word, or the
    whole of a quoted one (``"my data.npz"``, as a shell needs it); "" for none."""
    written = rest.split("#", 1)[0].strip()
    if written.startswith('"'):
        return written[1:].split('"', 1)[0]
    return written.split()[0] if written else ""


def _quote_problem(exc: UnexpectedInput, text: str) -> tuple[str, ...] | None:
    """(message, hint) where the lexer stopped at a quote that starts no string: a '"' the
    rest of its line never closes (a string cannot span lines), or a "'" (a name in single
    quotes is written bare; a string goes in double quotes, and the line with its names bare
    comes third, to be checked in the spec's place: `kaiming_normal(nonlinearity='relu')`
    is refused once bare too, and says how it is written); else None."""
    if not isinstance(exc, UnexpectedCharacters) or exc.char not in NAME_QUOTES + '"':
        return None
    line = _failing_line(exc, text) or ""
    rest = line[exc.column:]
    if exc.char in NAME_QUOTES and value_patterns().quoted_name.match(exc.char + rest):
        # Python's and YAML's quoted names (`optimizer 'adam'`, `weight 'he_normal'`): told
        # to use double quotes, the next check refused the string where a name goes
        unquoted = _unquoted(line).strip()
        return ("a name is written without quotes",
                (f"write `{unquoted}`; only a string, such as a file's path, is quoted, in "
                 "double quotes: data npz(\"train.npz\")"), unquoted)
    if exc.char in NAME_QUOTES:
        return ("strings are written in double quotes" if exc.char == "'" else
                f"strings are written in straight double quotes, not {exc.char}",
                "write \"...\" where a string goes, e.g. data npz(\"train.npz\")")
    if '"' not in rest:
        return ("a string is never closed",
                "end it with '\"' on the same line: a string cannot span lines")
    return None


CLOSING = {"(": ")", "[": "]"}

# What the parser reads, for errors no catalogue entry recognises.
STATEMENT_FORMS = "each line is one statement, e.g. `input 1x28x28` or `c1: conv 16 3x3 relu`"
INIT_FORMS = ("an initializer is a name (he_normal), a call (normal(0, 0.01)) or a kernel "
              "literal ([[1, 0], [0, 1]])")


def _arithmetic_hint(exc: UnexpectedInput, text: str) -> str | None:
    """For arithmetic where a number goes (``lr 1/100``, ``normal(0, np.sqrt(2 / 9))``),
    which a spec does not compute: the number to write instead (a path's '/' inside a call is
    another mistake, hinted elsewhere)."""
    if not isinstance(exc, UnexpectedCharacters) or exc.char not in "/*+-.(":
        return None
    line = _failing_line(exc, text)
    if line is None:
        return None
    expression = _operand_around(line, exc.column - 1)
    value = None if expression is None else value_of_text(expression)
    if value is None:
        return None
    return f"a spec holds numbers, not arithmetic: write {number_text(value)} for {expression}"


def _operand_around(line: str, column: int) -> str | None:
    """The text of the value the character at ``column`` of ``line`` sits in: from after the
    '(', ',', '=' or space-led setting word before it to the ',' or ')' that closes it at its
    own depth (or the line's end, before a comment)."""
    line = line.split("#", 1)[0]
    depth, start = 0, column
    while start > 0:
        char = line[start - 1]
        if char == ")":
            depth += 1
        elif char == "(" and depth:
            depth -= 1
        elif depth == 0 and (char in "(,=" or char == " " and _after_a_word(line, start - 1)):
            break
        start -= 1
    depth, end = 0, column
    while end < len(line):
        char = line[end]
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            break
        end += 1
    while start > 0 and line[start - 1] == "(" and end < len(line) and line[end] == ")":
        # inside a function the hint computes (sqrt(2/9)): the whole call is the value
        call = re.search(r"[\w.]+$", line[:start - 1])
        if call is None or call[0].rsplit(".", 1)[-1] not in FUNCTIONS:
            break
        start, end = call.start(), end + 1
    found = line[start:end].strip()
    return found or None


def _after_a_word(line: str, space: int) -> bool:
    """Whether the space at ``space`` follows a setting's or layer's word (``lr 1/100``), not
    an operator (``1e-2 * 5``)."""
    before = line[:space].rstrip()
    return bool(before) and (before[-1].isalpha() or before[-1] == "_")


def merge_inputs_hint(kind: str, names: list[str], label: str = "") -> str:
    """How a merge layer (add, concat, ...) names its inputs, shown with ``names``."""
    bracketed, arrowed = merge_forms(kind, names, label)
    return f"the layers {kind} takes go in brackets, `{bracketed}`, or after an arrow, `{arrowed}`"


def merge_forms(kind: str, names: list[str], label: str = "", options: str = "") -> tuple[str, str]:
    """A merge layer's line written with its inputs ``names`` in brackets, and after an
    arrow; ``options`` (`relu`) after the brackets, before the arrow."""
    head = f"{label}: {kind}" if label else kind
    inputs = ", ".join(names)
    tail = f" {options}" if options else ""
    return f"{head}({inputs}){tail}", f"{head}{tail} <- {inputs}"


# A merge layer whose inputs are written as bare words (`s: add a, b`), as a sentence would.
# Each name after the first follows a separator, so that no run of letters can be split two
# ways (the pattern stays linear in the line's length: nested optional separators backtracked
# exponentially on a long word).
BARE_INPUTS = LazyPattern(r"^\s*(?:(\w+)\s*:\s*)?(\w+)((?:\s*,\s*\w+|\s+\w+)+)\s*,?\s*(#.*)?$")


def _bare_merge_inputs(exc: UnexpectedInput, text: str, path: str | None) -> SpecError | None:
    """The error for a merge layer whose inputs are written as bare words parted by commas
    (`s: add a, b`), the caret under them, the hint how to write them; else None. The
    grammar's own message named the ',' and every token it could take there."""
    from cnnspec.kinds import ALIASES, KINDS  # only on a syntax error

    match = BARE_INPUTS.match(_failing_line(exc, text) or "")
    if match is None or "," not in match.group(3):
        return None
    label, kind = match.group(1) or "", ALIASES.get(match.group(2), match.group(2))
    if kind not in KINDS or not KINDS[kind].merge:
        return None
    # the names parted by commas; a word after them with no comma is the layer's own (`relu`)
    inputs = COMMA_NAMES.match(match.group(3))
    first = match.start(3) + inputs.start(1) + 1
    options = " ".join(match.group(3)[inputs.end():].split()).rstrip(",").rstrip()
    forms = merge_forms(match.group(2), re.findall(r"\w+", inputs[1]), label, options)
    return SpecError(f"the layers {match.group(2)} merges are named in brackets or after "
                     "'<-'", span=Span(exc.line, first, exc.line, first + len(inputs[1])),
                     hint="write `{}`, or `{}`".format(*forms), file=path)


# The run of names parted by commas that starts a merge layer's bare inputs (BARE_INPUTS' third
# group): `a, b` of ` a, b relu`.
COMMA_NAMES = LazyPattern(r"\s*(\w+(?:\s*,\s*\w+)*)")


# A name with its module's path, as Python writes it: nn.init.kaiming_normal_,
# tf.keras.initializers.HeNormal(), with its arguments if it has them.
DOTTED_NAME = LazyPattern(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?P<args>\([^()]*\))?")


# A call opened just before a dotted word, its first argument: PyTorch's tensor argument,
# kaiming_normal_(m.weight, ...).
TORCH_TENSOR = LazyPattern(r"[A-Za-z_]\w*\(\s*$")
# A positional argument after another (not a keyword's value): where a tensor given out of
# its place stands, `kaiming_normal_(mode='fan_out', m.weight)`.
AFTER_ARGUMENT = LazyPattern(r",\s*$")

# A call's name and its '(', or a ')': the brackets of a line's calls.
CALL_BRACKETS = LazyPattern(r"(\w*)\(|\)")


def _open_call(before: str) -> str | None:
    """The name of the innermost call still open at the end of ``before`` (a line up to a
    word), "" for a bare '(', None outside every call."""
    names = []
    for bracket in CALL_BRACKETS.finditer(before):
        if bracket[0] != ")":
            names.append(bracket[1])
        elif names:
            names.pop()
    return names[-1] if names else None


def _init_name(name: str) -> bool:
    """Whether ``name`` names one of the initializers, as PyTorch writes it or as here."""
    from cnnspec.init.catalogue import ALIASES, INIT_NAMES

    return name.removesuffix("_") in INIT_NAMES or name.removesuffix("_") in ALIASES


def _dotted_name_problem(exc: UnexpectedInput, text: str) -> tuple[str, Mend | None] | None:
    """For a '.' inside a Python path (`weight nn.init.kaiming_normal_`): the hint and its
    mend, the name alone, PyTorch's trailing '_' and Keras' CamelCase taken off where that
    names one of the initializers (kaiming_normal), a Keras variance scaling as the importer
    writes it (:func:`cnnspec.init.keras.written`); PyTorch's tensor argument of an init
    (`kaiming_normal_(m.weight, ...)`) left out; None for any other error."""
    from cnnspec.init import keras  # only on a syntax error
    from cnnspec.init.catalogue import (
        ALIASES,
        INIT_NAMES,
        TORCH_ELSEWHERE,
        TORCH_TENSOR_ARGUMENT,
    )
    from cnnspec.lang.torch_calls import torch_init_call

    if not isinstance(exc, UnexpectedCharacters) or exc.char != ".":
        return None
    line = _failing_line(exc, text) or ""
    found = next((m for m in DOTTED_NAME.finditer(line)
                  if m.start() < exc.column <= m.end()), None)
    if found is None:
        return None
    before = line[:found.start()]
    call = _open_call(before)
    if call is not None and _init_name(call) and (TORCH_TENSOR.search(before)
                                                  or AFTER_ARGUMENT.search(before)):
        left_out = _argument_left_out(line, found)  # kaiming_normal_(m.weight)
        return (f"leave `{found[0]}` out: {TORCH_TENSOR_ARGUMENT}",
                None if left_out is None else Mend(Span(exc.line, left_out.start + 1, exc.line,
                                                        left_out.stop + 1), "",
                                                   TORCH_TENSOR_ARGUMENT))
    # among a call's arguments a dotted word is a file's name, npz(train.npz) (its own hint),
    # but a call in an init's is a Python function's: gain=nn.init.calculate_gain('relu')
    if call is not None and TORCH_TENSOR.search(before) \
            and foreign_entry("optimizer", call) is not None:  # SGD(model.parameters(), ...)
        left_out = _argument_left_out(line, found)
        why = TORCH_FIRST_ARGUMENTS["optimizer"]
        return (f"leave `{found[0]}` out: {why}",
                None if left_out is None else Mend(Span(exc.line, left_out.start + 1, exc.line,
                                                        left_out.stop + 1), "",
                                                   f"`{found[0]}` left out"))
    called = line[found.end():].lstrip().startswith("(") or found["args"]
    if call is not None and not (_init_name(call) and called):
        return None
    last = found[0][:found.start("args") - found.start()] if found["args"] else found[0]
    name = last.rpartition(".")[2]
    if name in TORCH_ELSEWHERE:  # the name without its '_' is another draw here
        return TORCH_ELSEWHERE[name], None
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.rstrip("_")).lower()
    # Keras' (and JAX's) he_normal is cut at 2 std: the variance_scaling the importer writes,
    # whose settings say all that HeNormal(seed=...) could
    scaled = keras.written(name)
    known = scaled or (snake if snake in INIT_NAMES or snake in ALIASES else name)
    args = "" if scaled or re.fullmatch(r"\(\s*\)", found["args"] or "()") else found["args"]
    said = "a name is written without its module's path"
    # PyTorch's whole call, where no argument of it runs on past the match (a call within)
    torch = None if scaled or called and not found["args"] else \
        torch_init_call(name, found["args"] or "")
    written, why = (known + args, said) if torch is None else (torch.text,
                                                              f"{said}; {torch.why}")
    return (f"{said}: write `{written}` in place of `{found[0]}`"
            + (f" ({'; '.join(torch.reasons)})" if torch is not None and torch.reasons else ""),
            Mend(Span(exc.line, found.start() + 1, exc.line, found.end() + 1), written, why))


def _argument_left_out(line: str, found: re.Match) -> range | None:
    """The columns (0-based) of ``line`` to take out with the argument of a call that
    ``found`` is: ``m.weight, `` of ``f(m.weight, a=1)``, ``(m.weight)`` of ``f(m.weight)``,
    ``, m.weight`` of ``f(a=1, m.weight)``; None where something else follows it."""
    after = line[found.end():]
    comma = re.match(r"\s*,\s*", after)
    if comma:
        return range(found.start(), found.end() + comma.end())
    closing = re.match(r"\s*\)", after)
    if not closing:
        return None
    before = re.search(r",\s*$", line[:found.start()])
    if before:  # the last of several: the comma before it goes with it
        return range(before.start(), found.end())
    return range(line.rindex("(", 0, found.start()), found.end() + closing.end())


def _plain_hint(exc: UnexpectedInput, start: str, unclosed) -> str:
    """A hint for a syntax error outside the catalogue: what is open, what was cut short, or
    what a statement looks like."""
    if isinstance(exc, UnexpectedCharacters):
        if exc.char in "×✕✖":  # a size copied from a paper: 1×28×28
            return "sizes are written with the letter x: 3x3, 1x28x28"
        if exc.char == "+":  # `s: c1 + c2`, a residual sum as PyTorch's forward writes it
            return "layers are summed with `add`, e.g. `s: add(c1, c2)` (joined with `concat`)"
        if exc.char in "/\\." and unclosed is not None and unclosed.value == "(":
            # `npz(data/train.npz)`: a path written bare among a call's arguments
            return ('a file path is a string in double quotes, e.g. npz("data/train.npz") '
                    "(on the command line also --data npz:data/train.npz)")
        return "names are letters, digits and '_'; comments start with '#'"
    if unclosed is not None and start != "start":  # a value on the command line: one line
        return (f"the '{unclosed.value}' at character {unclosed.column} is still open: close "
                f"it with '{CLOSING[unclosed.value]}'")
    if unclosed is not None:
        return (f"the '{unclosed.value}' on line {unclosed.line}, column {unclosed.column} is "
                "still open here")
    forms = INIT_FORMS if start == "init_expr" else STATEMENT_FORMS
    kind = _failure_kind(exc)
    if kind in (None, "$END"):
        return ("the text" if start == "start" else "the value") + \
            " ends in the middle of a statement; " + forms
    if kind == "_NL":
        return "the line ends before the statement is complete; " + forms
    return f"remove the stray '{exc.token.value}' or check what comes before it; " + forms
